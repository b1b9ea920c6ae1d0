"""The Cox model fitted by R ``survival::coxph`` (and ``survfit``): the reference for :mod:`alsmeds.models.cox`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.derive.cohort import case_exposures as case_exposures  # re-exported: one function for every case


def r_coxph(
    designs: Mapping[str, pd.DataFrame],
    *,
    eps: float | None = None,
    timing_runs: int = 0,
    survfit: Mapping[str, tuple[pd.DataFrame, str]] | None = None,
    conf_type: str = "log-log",
    rmean_tau: float | None = None,
    timeout: float = 300.0,
) -> dict[str, Any]:
    """Fit Cox models with R's ``survival::coxph(ties = "efron")`` and Kaplan-Meier curves with ``survfit``.

    One R session serves every model (R start-up with survival takes about 2 s).  See
    ``alsmeds/reference/R/coxph.R`` for the output format.

    Parameters
    ----------
    designs : mapping of str to DataFrame
        Model name -> frame with ``time``, ``event`` and the covariates (every other column).
    eps : float, optional
        ``coxph.control(eps=)`` (R's default 1e-9 when omitted).
    timing_runs : int
        Extra fits per model timed inside R (median seconds in ``timing``).
    survfit : mapping of str to (DataFrame, str), optional
        Curve name -> (frame with ``time``, ``event`` and the grouping column, its name).
    conf_type : str
        ``survfit(conf.type=)``.
    rmean_tau : float, optional
        Also report the restricted mean survival time up to ``rmean_tau`` and its SE.

    Returns
    -------
    dict
        ``models`` (name -> coefficients, se, loglik, n, nevent, iterations, timing),
        ``survfit`` (name -> group -> time, n_risk, n_event, surv, std_err, lower,
        upper at the event times; rmean and rmean_se with ``rmean_tau``),
        ``r_version``, ``survival_version``.
    """
    from alsmeds.reference.r import run_r_script

    inputs: dict[str, pd.DataFrame] = {}
    models = []
    for i, (name, design) in enumerate(designs.items()):
        stem = f"model{i}"
        covariates = [c for c in design.columns if c not in ("time", "event")]
        frame = design[["time", "event", *covariates]].copy()
        frame.columns = ["time", "event", *[f"x{j + 1}" for j in range(len(covariates))]]
        inputs[stem] = frame
        spec: dict[str, Any] = {
            "name": name,
            "data": stem,
            "covariates": list(frame.columns[2:]),
            "labels": covariates,
            "timing_runs": int(timing_runs),
        }
        if eps is not None:
            spec["eps"] = float(eps)
        models.append(spec)
    curves = []
    for i, (name, (frame, group)) in enumerate((survfit or {}).items()):
        stem = f"curve{i}"
        inputs[stem] = pd.DataFrame({"time": frame["time"], "event": frame["event"], "group": frame[group]})
        curve: dict[str, Any] = {"name": name, "data": stem, "conf_type": conf_type}
        if rmean_tau is not None:
            curve["rmean_tau"] = float(rmean_tau)
        curves.append(curve)
    out = run_r_script("coxph", inputs, {"models": models, "survfit": curves}, timeout=timeout)
    for spec in models:
        fit = out["models"][spec["name"]]
        rename = dict(zip(spec["covariates"], spec["labels"], strict=True))
        for key in ("coefficients", "se"):
            fit[key] = pd.Series({rename[k]: (np.nan if v is None else float(v)) for k, v in fit[key].items()})
    return out
