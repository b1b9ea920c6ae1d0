"""The Cox model fitted by R ``survival::coxph`` (and ``survfit``): the reference for :mod:`alsmeds.models.cox`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.derive.cohort import case_exposures as case_exposures  # re-exported: one function for every case


@dataclass(frozen=True)
class CoxphSpec:
    """One Cox model for :func:`r_coxph` with more than the default options.

    Attributes
    ----------
    design : DataFrame
        ``time``, ``event``, the covariates (every other column) and the ``strata`` and
        ``cluster`` columns when named.
    ties : str
        ``"efron"`` (default) or ``"breslow"``.
    strata : str, optional
        Column of ``design`` holding the strata (``strata()`` term; not a covariate).
    cluster : str, optional
        Column of ``design`` holding the clusters (``cluster()`` term: robust variance).
    robust : bool
        ``coxph(robust = TRUE)``: robust variance, each row its own cluster without ``cluster``.
    schoenfeld : bool
        Also return ``residuals(fit, "schoenfeld")``.
    zph : sequence of str
        ``cox.zph`` transforms to report (``"km"``, ``"identity"``, ``"rank"``, ``"log"``).
    """

    design: pd.DataFrame
    ties: str = "efron"
    strata: str | None = None
    cluster: str | None = None
    robust: bool = False
    schoenfeld: bool = False
    zph: Sequence[str] = ()


def r_coxph(
    designs: Mapping[str, pd.DataFrame | CoxphSpec],
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
    designs : mapping of str to DataFrame or CoxphSpec
        Model name -> frame with ``time``, ``event`` and the covariates (every other column),
        fitted with Efron ties, or a :class:`CoxphSpec` for other ties, strata, clusters,
        the robust variance, Schoenfeld residuals or ``cox.zph``.
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
        ``models`` (name -> coefficients, se, loglik, n, nevent, iterations, timing; Series
        ``robust_se`` and ``naive_se`` with a robust or clustered :class:`CoxphSpec`; with
        ``schoenfeld``, a DataFrame ``schoenfeld`` (the covariates, and ``row``, the 0-based
        row of each event in ``design``, and ``time``) in R's order; with ``zph``, a dict
        ``zph`` of transform -> DataFrame (index the covariates and ``GLOBAL``; columns
        ``chisq``, ``df``, ``p``) and a dict ``zph_y`` of transform -> DataFrame of
        ``cox.zph``'s scaled Schoenfeld residuals ``y``),
        ``survfit`` (name -> group -> time, n_risk, n_event, surv, std_err, lower,
        upper at the event times; rmean and rmean_se with ``rmean_tau``),
        ``r_version``, ``survival_version``.
    """
    from alsmeds.reference.r import run_r_script

    inputs: dict[str, pd.DataFrame] = {}
    models = []
    for i, (name, given) in enumerate(designs.items()):
        model = given if isinstance(given, CoxphSpec) else CoxphSpec(given)
        design = model.design
        stem = f"model{i}"
        extra = [c for c in (model.strata, model.cluster) if c is not None]
        covariates = [c for c in design.columns if c not in ("time", "event", *extra)]
        frame = design[["time", "event", *covariates]].copy()
        frame.columns = ["time", "event", *[f"x{j + 1}" for j in range(len(covariates))]]
        spec: dict[str, Any] = {
            "name": name,
            "data": stem,
            "covariates": list(frame.columns[2:]),
            "labels": covariates,
            "timing_runs": int(timing_runs),
        }
        if model.ties != "efron":
            spec["ties"] = model.ties
        for key, column in (("strata", model.strata), ("cluster", model.cluster)):
            if column is not None:
                frame[key] = design[column].to_numpy()
                spec[key] = key
        if model.robust:
            spec["robust"] = True
        if model.schoenfeld:
            spec["schoenfeld"] = True
        if model.zph:
            spec["zph"] = list(model.zph)
        inputs[stem] = frame
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
        for key in ("coefficients", "se", "robust_se", "naive_se"):
            if key in fit:
                fit[key] = pd.Series({rename[k]: (np.nan if v is None else float(v)) for k, v in fit[key].items()})
        if "schoenfeld" in fit:
            sch = fit["schoenfeld"]
            frame = _columns(sch["residuals"], rename)
            frame.insert(0, "time", np.asarray(sch["time"], dtype=float))
            frame.insert(0, "row", np.asarray(sch["row"], dtype=int))
            fit["schoenfeld"] = frame
        if "zph" in fit:
            tables, ys = {}, {}
            for transform, z in fit["zph"].items():
                terms = {k: rename.get(k, k) for k in z["chisq"]}
                tables[transform] = pd.DataFrame(
                    {col: [_number(z[col][k]) for k in terms] for col in ("chisq", "df", "p")},
                    index=list(terms.values()),
                )
                ys[transform] = _columns(z["y"], rename)
            fit["zph"], fit["zph_y"] = tables, ys
    return out


def _number(value: Any) -> float:
    return np.nan if value is None else float(value)


def _columns(columns: Mapping[str, Any], rename: Mapping[str, str]) -> pd.DataFrame:
    """A JSON object of covariate -> values (R names x1, x2, ...) as a DataFrame with the design's names."""
    return pd.DataFrame(
        {rename[k]: np.array([_number(v) for v in np.atleast_1d(values)], dtype=float) for k, values in columns.items()}
    )
