"""Accuracy scores of predicted risks by R ``riskRegression::Score``: the reference for :mod:`alsmeds.models.accuracy`.

Needs the R package riskRegression besides the packages :func:`alsmeds.reference.r_available`
checks (Debian: ``apt-get install -y --no-install-recommends r-cran-riskregression``).
"""

from __future__ import annotations

import functools
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alsmeds.reference.r import RSCRIPT_OPTIONS, RNotAvailableError, _rscript, r_available, run_r_script

#: How to install riskRegression on Debian or Ubuntu.
RISKREGRESSION_INSTALL = "apt-get install -y --no-install-recommends r-cran-riskregression"


@functools.cache
def riskregression_available() -> bool:
    """Tell whether R (:func:`alsmeds.reference.r_available`) and riskRegression load (computed once per process)."""
    rscript = _rscript()
    if rscript is None or not r_available():
        return False
    code = 'quit(status = if (requireNamespace("riskRegression", quietly = TRUE)) 0L else 1L)'
    try:
        proc = subprocess.run(
            [rscript, *RSCRIPT_OPTIONS, "-e", code], capture_output=True, text=True, timeout=120, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0


@dataclass(frozen=True)
class RScore:
    """``riskRegression::Score`` of several models' risks at one or more horizons.

    Attributes
    ----------
    scores : DataFrame
        One row per model and horizon: ``model``, ``horizon``, ``auc``, ``auc_se``, ``brier``,
        ``brier_se`` (the null model, when asked for, as ``Null model`` with a Brier score only).
    contrasts : DataFrame
        One row per pair of models and horizon: ``model``, ``reference``, ``horizon``,
        ``auc_difference``, ``auc_difference_se``, ``brier_difference``, ``brier_difference_se``
        (``model - reference``, paired standard errors).
    n : int
    horizons : list of float
    warnings : list of str
    r_version, riskregression_version, prodlim_version : str
    """

    scores: pd.DataFrame
    contrasts: pd.DataFrame
    n: int
    horizons: list[float]
    warnings: list[str]
    r_version: str
    riskregression_version: str
    prodlim_version: str


def _number(value: object) -> float:
    return float("nan") if value is None else float(value)  # type: ignore[arg-type]


def r_score(
    time: np.ndarray,
    event: np.ndarray,
    risks: Mapping[str, np.ndarray],
    horizon: float | Sequence[float],
    *,
    conservative: bool = False,
    null_model: bool = True,
    timeout: float = 300.0,
) -> RScore:
    """Score predicted risks with ``riskRegression::Score`` (AUC and Brier, Kaplan-Meier censoring weights).

    ``Score(risks, formula = Hist(time, status) ~ 1, times = horizon, metrics = c("auc", "brier"),
    cens.model = "km", se.fit = TRUE, conservative = conservative)``: see
    ``alsmeds/reference/R/score.R``.  The counterpart of :func:`alsmeds.models.accuracy.score_risks`
    and :func:`alsmeds.models.accuracy.contrast_risks`.  One R session (a few seconds to start)
    serves every horizon.

    Parameters
    ----------
    time, event : arrays, shape (n,)
        Observed time and event indicator (0/1).
    risks : mapping of str to array, shape (n,) or (n, number of horizons)
        Model name -> predicted risk of an event by each horizon (one column: the same risks
        scored at every horizon, a check of the estimators rather than of a model).
    horizon : float or sequence of float
    conservative : bool
        Standard errors without the censoring term.
    null_model : bool
        Also score the Kaplan-Meier null model.
    timeout : float
        Seconds before R is killed.

    Returns
    -------
    RScore

    Raises
    ------
    RNotAvailableError
        When R or riskRegression is missing.
    """
    if not riskregression_available():
        raise RNotAvailableError(f"R with riskRegression is not available ({RISKREGRESSION_INSTALL})")
    horizons = [float(h) for h in np.atleast_1d(np.asarray(horizon, dtype=float))]
    n = len(np.asarray(time))
    columns: dict[str, np.ndarray] = {}
    models, label = [], {}
    for i, (name, values) in enumerate(risks.items()):
        r = np.asarray(values, dtype=float).reshape(n, -1)
        if r.shape[1] not in (1, len(horizons)):
            raise ValueError(f"{name}: {r.shape[1]} risk columns for {len(horizons)} horizons")
        stems = [f"m{i + 1}_{j + 1}" for j in range(r.shape[1])]
        columns.update({c: r[:, j] for j, c in enumerate(stems)})
        models.append({"name": f"m{i + 1}", "columns": stems})
        label[f"m{i + 1}"] = name
    frame = pd.DataFrame({"time": np.asarray(time, dtype=float), "status": np.asarray(event, dtype=int), **columns})
    args = {"models": models, "horizon": horizons, "conservative": conservative, "null_model": null_model}
    out = run_r_script("score", {"data": frame}, args, timeout=timeout)

    scores: dict[tuple[str, float], dict[str, float]] = {}
    for metric in ("auc", "brier"):
        for r in out.get(metric) or []:
            key = (label.get(r["model"], r["model"]), _number(r["horizon"]))
            scores.setdefault(key, {})[metric] = _number(r["estimate"])
            scores[key][f"{metric}_se"] = _number(r["se"])
    pairs: dict[tuple[str, str, float], dict[str, float]] = {}
    for metric in ("auc", "brier"):
        for c in out.get(f"{metric}_contrasts") or []:
            key = (label[c["model"]], label[c["reference"]], _number(c["horizon"]))
            pairs.setdefault(key, {})[f"{metric}_difference"] = _number(c["estimate"])
            pairs[key][f"{metric}_difference_se"] = _number(c["se"])
    score_columns = ["model", "horizon", "auc", "auc_se", "brier", "brier_se"]
    contrast_columns = ["model", "reference", "horizon", "auc_difference", "auc_difference_se"]
    contrast_columns += ["brier_difference", "brier_difference_se"]
    return RScore(
        scores=pd.DataFrame(
            [{"model": m, "horizon": h, **values} for (m, h), values in scores.items()], columns=score_columns
        ),
        contrasts=pd.DataFrame(
            [{"model": m, "reference": r, "horizon": h, **values} for (m, r, h), values in pairs.items()],
            columns=contrast_columns,
        ),
        n=int(out["n"]),
        horizons=[_number(h) for h in np.atleast_1d(out["horizon"])],
        warnings=list(out.get("warnings") or []),
        r_version=str(out["r_version"]),
        riskregression_version=str(out["riskRegression_version"]),
        prodlim_version=str(out["prodlim_version"]),
    )
