"""A small bridge to R: run a bundled R script on CSV inputs and read its JSON output.

R is the reference implementation the Python estimators are checked against (R
``survival`` is the standard the statsmodels and lifelines test suites use too).
rpy2 does not import against the R 4.2 of Debian 12, so nothing is embedded: each
call writes its inputs as CSV files into a temporary folder, runs

    Rscript <package>/reference/R/<script_name>.R <folder>

and reads ``<folder>/out.json`` back.  Floats go out with 17 significant digits
(``%.17g``) and the bundled scripts write them back the same way, so numbers cross
the bridge bit for bit.

Install R on Debian/Ubuntu with
``apt-get install -y --no-install-recommends r-base-core r-cran-survival r-cran-nlme r-cran-jsonlite``.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: R packages every bundled script needs.
REQUIRED_PACKAGES = ("survival", "nlme", "jsonlite")
#: Options for every Rscript call: no workspace, no site or user profile.
RSCRIPT_OPTIONS = ("--no-save", "--no-restore", "--no-site-file", "--no-init-file")
#: Default time limit of one script run, in seconds.
DEFAULT_TIMEOUT = 300.0
_SCRIPT_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


class RError(RuntimeError):
    """An R script failed; the message ends with R's standard error."""


class RNotAvailableError(RError):
    """Rscript is not on PATH or a required R package does not load."""


def _rscript() -> str | None:
    return shutil.which("Rscript")


@functools.cache
def r_available() -> bool:
    """Tell whether ``Rscript`` is on PATH and survival and jsonlite load.

    The answer is computed once per process (it starts R, about a second or two).

    Returns
    -------
    bool
    """
    rscript = _rscript()
    if rscript is None:
        return False
    packages = ", ".join(f'"{p}"' for p in REQUIRED_PACKAGES)
    code = (
        f"ok <- vapply(c({packages}), function(p) suppressPackageStartupMessages(requireNamespace(p, quietly = TRUE)),"
        " logical(1)); quit(status = if (all(ok)) 0L else 1L)"
    )
    try:
        proc = subprocess.run(
            [rscript, *RSCRIPT_OPTIONS, "-e", code], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


def script_path(script_name: str) -> Path:
    """Path of a bundled R script, ``alsmeds/reference/R/<script_name>.R``.

    Parameters
    ----------
    script_name : str
        File stem of the script, e.g. ``"clogit"``.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ValueError
        When the name is not a plain file stem or no such script is bundled.
    """
    if not _SCRIPT_NAME.match(script_name) or script_name.startswith("."):
        raise ValueError(f"not a plain R script name: {script_name!r}")
    path = Path(str(resources.files("alsmeds.reference") / "R" / f"{script_name}.R"))
    if not path.is_file():
        raise ValueError(f"no bundled R script {script_name!r} (looked for {path})")
    return path


def run_r_script(
    script_name: str,
    inputs: Mapping[str, pd.DataFrame],
    args: Mapping[str, Any] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict:
    """Run a bundled R script on data frames and return the JSON it writes.

    Parameters
    ----------
    script_name : str
        Stem of a script in ``alsmeds/reference/R/``.
    inputs : mapping of str to DataFrame
        Each frame is written to ``<tmpdir>/<name>.csv`` (no index, floats as ``%.17g``).
    args : mapping, optional
        JSON-serialisable arguments, written to ``<tmpdir>/args.json``.
    timeout : float
        Seconds before R is killed and :class:`RError` is raised.

    Returns
    -------
    dict
        The parsed ``<tmpdir>/out.json``.

    Raises
    ------
    RNotAvailableError
        When R or one of :data:`REQUIRED_PACKAGES` is missing.
    RError
        When R exits with an error, times out or writes no ``out.json``.
    """
    path = script_path(script_name)
    rscript = _rscript()
    if rscript is None or not r_available():
        raise RNotAvailableError(
            "R is not available: install r-base-core, r-cran-survival, r-cran-nlme and r-cran-jsonlite "
            "(apt-get install -y --no-install-recommends ...)"
        )
    for name in inputs:
        if not _SCRIPT_NAME.match(name) or name in {"args", "out"}:
            raise ValueError(f"input name {name!r} is not a plain file stem (and not 'args' or 'out')")
    with tempfile.TemporaryDirectory(prefix="alsmeds-r-") as tmp:
        folder = Path(tmp)
        for name, frame in inputs.items():
            frame.to_csv(folder / f"{name}.csv", index=False, float_format="%.17g")
        (folder / "args.json").write_text(json.dumps(dict(args or {}), allow_nan=False))
        command = [rscript, *RSCRIPT_OPTIONS, str(path), str(folder)]
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            raise RError(
                f"R script {script_name}.R timed out after {timeout:g} s; R stderr:\n{stderr[-4000:]}"
            ) from exc
        if proc.returncode != 0:
            raise RError(
                f"R script {script_name}.R failed (exit status {proc.returncode}); R stderr:\n{proc.stderr[-4000:]}"
            )
        out = folder / "out.json"
        if not out.is_file():
            raise RError(f"R script {script_name}.R wrote no out.json; R stderr:\n{proc.stderr[-4000:]}")
        return json.loads(out.read_text())


@dataclass(frozen=True)
class RClogitResult:
    """A ``survival::clogit`` fit read back from R.

    Attributes
    ----------
    params, bse : pandas.Series
        Coefficients and standard errors (``sqrt(diag(vcov(fit)))``), named as the
        columns of the design matrix.
    loglik : float
        Conditional log-likelihood at the estimate (``fit$loglik[2]``).
    n_obs, n_events, iterations : int
    method : str
    warnings : list of str
        Warnings R raised while fitting (e.g. non-convergence).
    median_seconds : float or None
        Median elapsed time of ``timing_runs`` repeated fits inside R (no R start-up).
    r_version, survival_version : str
    """

    params: pd.Series
    bse: pd.Series
    loglik: float
    n_obs: int
    n_events: int
    iterations: int
    method: str
    warnings: list[str]
    median_seconds: float | None
    r_version: str
    survival_version: str


@dataclass(frozen=True)
class ClogitSpec:
    """One model for :func:`r_clogit_many`.

    Attributes
    ----------
    X : DataFrame or array, shape (n, p)
    case : array-like of 0/1, shape (n,)
    strata : array-like, shape (n,)
    names : sequence of str, optional
        Covariate names (taken from ``X.columns`` for a DataFrame).
    method : str
        ``"exact"`` (default), ``"approximate"``, ``"efron"`` or ``"breslow"``.
    timing_runs : int
        Extra fits inside R to time (0: none).
    """

    X: pd.DataFrame | np.ndarray
    case: Any
    strata: Any
    names: Sequence[str] | None = None
    method: str = "exact"
    timing_runs: int = 0


def _clogit_frame(spec: ClogitSpec) -> tuple[pd.DataFrame, list[str]]:
    X = spec.X
    if isinstance(X, pd.DataFrame):
        names = list(X.columns) if spec.names is None else list(spec.names)
        values = X.to_numpy(dtype=float)
    else:
        values = np.asarray(X, dtype=float)
        values = values[:, None] if values.ndim == 1 else values
        names = list(spec.names) if spec.names is not None else [f"x{i}" for i in range(values.shape[1])]
    if len(names) != values.shape[1]:
        raise ValueError(f"{len(names)} names for {values.shape[1]} covariates")
    # Plain column names in R (x1, x2, ...): the formula never sees the original names.
    frame = pd.DataFrame(values, columns=[f"x{i + 1}" for i in range(values.shape[1])])
    frame.insert(0, "strata", np.asarray(spec.strata))
    frame.insert(0, "case", np.asarray(spec.case).astype(int))
    return frame, names


def _read_clogit(out: Mapping[str, Any], names: list[str], versions: Mapping[str, Any]) -> RClogitResult:
    def series(values: Mapping[str, Any]) -> pd.Series:
        numbers = [values[f"x{i + 1}"] for i in range(len(names))]
        return pd.Series([np.nan if v is None else float(v) for v in numbers], index=names, dtype=float)

    timing = out.get("timing")
    return RClogitResult(
        params=series(out["coefficients"]),
        bse=series(out["se"]),
        loglik=float(out["loglik"]),
        n_obs=int(out["n"]),
        n_events=int(out["nevent"]),
        iterations=int(out["iterations"]),
        method=str(out["method"]),
        warnings=list(out.get("warnings") or []),
        median_seconds=None if not timing else float(timing["median_seconds"]),
        r_version=str(versions["r_version"]),
        survival_version=str(versions["survival_version"]),
    )


def r_clogit_many(
    specs: Mapping[str, ClogitSpec], *, eps: float | None = None, timeout: float = DEFAULT_TIMEOUT
) -> dict[str, RClogitResult]:
    """Fit several conditional logistic models with ``survival::clogit`` in one R session.

    One R start-up (about 2 s, mostly loading survival's Matrix dependency) serves all
    models, which is what keeps a reference test of a dozen models fast.

    Parameters
    ----------
    specs : mapping of str to ClogitSpec
        Models by name.
    eps : float, optional
        ``coxph.control(eps=)``; survival's default (1e-9) when omitted.
    timeout : float
        Seconds for the whole R run.

    Returns
    -------
    dict of str to RClogitResult
    """
    inputs: dict[str, pd.DataFrame] = {}
    models, names = [], {}
    for i, (label, spec) in enumerate(specs.items()):
        frame, names[label] = _clogit_frame(spec)
        stem = f"data{i}"
        inputs[stem] = frame
        model: dict[str, Any] = {
            "name": label,
            "data": stem,
            "covariates": list(frame.columns[2:]),
            "method": spec.method,
            "timing_runs": int(spec.timing_runs),
        }
        if eps is not None:
            model["eps"] = float(eps)
        models.append(model)
    out = run_r_script("clogit", inputs, {"models": models}, timeout=timeout)
    return {label: _read_clogit(out["models"][label], names[label], out) for label in specs}


def r_clogit(
    X: pd.DataFrame | np.ndarray,
    case: Any,
    strata: Any,
    names: Sequence[str] | None = None,
    *,
    method: str = "exact",
    timing_runs: int = 0,
    eps: float | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> RClogitResult:
    """Fit ``survival::clogit(case ~ x1 + ... + strata(strata), method=method)`` in R.

    The R counterpart of :func:`alsmeds.models.clogit.fit_clogit`, with the same arguments.

    Parameters
    ----------
    X : DataFrame or array, shape (n, p)
        Covariates.
    case : array-like of 0/1, shape (n,)
    strata : array-like, shape (n,)
        Matched-set identifiers.
    names : sequence of str, optional
        Covariate names (taken from ``X.columns`` for a DataFrame).
    method : str
        ``"exact"`` (default), ``"approximate"``, ``"efron"`` or ``"breslow"``.  With one
        case per set the exact, Breslow and Efron partial likelihoods coincide.
    timing_runs : int
        Fit that many more times inside R and report the median elapsed seconds
        (``median_seconds``), excluding R's start-up.
    eps : float, optional
        ``coxph.control(eps=)``.
    timeout : float
        Seconds before R is killed.

    Returns
    -------
    RClogitResult
    """
    spec = ClogitSpec(X=X, case=case, strata=strata, names=names, method=method, timing_runs=timing_runs)
    frame, labels = _clogit_frame(spec)
    args: dict[str, Any] = {"covariates": list(frame.columns[2:]), "method": method, "timing_runs": int(timing_runs)}
    if eps is not None:
        args["eps"] = float(eps)
    out = run_r_script("clogit", {"data": frame}, args, timeout=timeout)
    return _read_clogit(out, labels, out)
