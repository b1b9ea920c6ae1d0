"""One replicate of the simulation study: simulate a data set, fit every model, keep estimates and SEs.

A replicate is a pure function of its seed and scale: :func:`run_replicate` draws a synthetic
extract with :func:`alsmeds.Study.synthetic` (``truth_scale=0``: the numerical estimands are
not recomputed, they come from the committed ``truth.json``), classifies exposure, fits

* the risk models of Table 2 (:func:`alsmeds.models.risk.fit_standard_models`, adjusted rows:
  population, sibling and spouse controls; lagged and by window; one class per model and the
  three classes together),
* the age strata of the population comparison (:func:`alsmeds.models.stratified.fit_stratified`:
  each class lagged, and the three classes by window),
* the Cox models of prediagnostic use (:func:`alsmeds.models.cox.fit_cox_models`),
* the ALSFRS-R mixed model (:class:`alsmeds.models.mixed.AlsfrsMixedModel`),
* the joint model of the study specification (``joint_model``: the ALSFRS-R censored at the scale's ends) and
  the paper's normal-outcome joint model beside it (``joint_model_normal``; :func:`default_joint_models`),

and returns one long frame of estimates on the scale the model is estimated on (log odds
ratios, log hazard ratios, points per month), with standard errors, beside fit diagnostics
and the wall time of each step.  It never writes: the runner stores the frame.

A model that cannot be fitted to a replicate's data (:class:`~alsmeds.models.mixed.MixedModelError`,
:class:`~alsmeds.models.joint.prognosis.JointModelError`) gives a row that says so
(``estimable`` false, ``reason``); any other exception fails the whole replicate, which is
then recorded as one ``failure`` row with its seed and the error (:func:`safe_replicate`).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES

#: Columns of a replicate's frame, in order.
REPLICATE_COLUMNS = [
    "rep",
    "seed",
    "family",
    "comparison",
    "model",
    "exposure",
    "stratum",
    "term",
    "estimate",
    "se",
    "estimable",
    "reason",
    "info",
]

#: The columns that identify an estimator (one estimate per replicate) are
#: :data:`alsmeds.reporting.simstudy.ESTIMATOR_KEYS`, defined once there.

#: Families of rows that hold estimates (the others: ``diagnostic``, ``timing``, ``failure``).
ESTIMATE_FAMILIES = ("risk", "cox", "mixed", "joint")

#: Meaning of the replicate columns (written as the schema of the compacted file's documentation).
REPLICATE_SCHEMA = {
    "rep": "replicate number, 0-based",
    "seed": "integer seed of the replicate's synthetic data (alsmeds.simulate.generate)",
    "family": "risk (conditional logistic), cox, mixed (ALSFRS-R mixed model), joint (joint model); "
    "diagnostic (fit diagnostics and counts), timing (seconds per step), failure (the replicate failed)",
    "comparison": "population, sibling or spouse controls (risk models); empty otherwise",
    "model": "per_class or mutual (risk, Cox); the mixed or joint model's name",
    "exposure": "lagged or windows (risk); ever (prediagnostic use: Cox, mixed, joint)",
    "stratum": "all, or the case's age stratum <65 / 65+ (risk models)",
    "term": "model term (risk: <class>_<window>; Cox: use_<class>; joint: long:/surv: prefixed, alpha); a "
    "diagnostic's name (e.g. robust_se:<term>: the Cox or joint model term's robust, sandwich, SE)",
    "estimate": "estimate on the model's scale (log OR, log HR, points, points per month); value of a diagnostic",
    "se": "standard error of the estimate (model-based)",
    "estimable": "false when the term could not be estimated in this replicate",
    "reason": "why not (empty when estimable); the error of a failed replicate",
    "info": "information behind the estimate: discordant matched sets (risk), exposed events (Cox)",
}


def _rows(records: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records, columns=REPLICATE_COLUMNS[2:]) if records else None
    if frame is None:
        frame = pd.DataFrame(columns=REPLICATE_COLUMNS[2:])
    return frame


def _risk_rows(estimates: pd.DataFrame, stratum_column: str | None = None) -> list[dict[str, Any]]:
    adjusted = estimates[estimates["adjustment"] == "adjusted"]
    out = []
    for r in adjusted.itertuples(index=False):
        out.append(
            {
                "family": "risk",
                "comparison": r.comparison,
                "model": r.model,
                "exposure": r.exposure,
                "stratum": getattr(r, stratum_column) if stratum_column else "all",
                "term": r.term,
                "estimate": float(r.log_or),
                "se": float(r.se),
                "estimable": bool(r.estimable),
                "reason": r.reason if isinstance(r.reason, str) else "",
                "info": float(r.discordant_sets),
            }
        )
    return out


def _diagnostic(term: str, value: float, model: str = "") -> dict[str, Any]:
    return {
        "family": "diagnostic",
        "comparison": "",
        "model": model,
        "exposure": "",
        "stratum": "",
        "term": term,
        "estimate": float(value),
        "se": np.nan,
        "estimable": True,
        "reason": "",
        "info": np.nan,
    }


def _not_fitted(family: str, model: str, terms: list[str], reason: str) -> list[dict[str, Any]]:
    return [
        {
            "family": family,
            "comparison": "",
            "model": model,
            "exposure": "ever",
            "stratum": "all",
            "term": t,
            "estimate": np.nan,
            "se": np.nan,
            "estimable": False,
            "reason": reason,
            "info": np.nan,
        }
        for t in terms
    ]


def fit_replicate_models(
    study: Any, timings: dict[str, float] | None = None, joint_models: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Fit every model of the simulation study to one :class:`alsmeds.Study`.

    Parameters
    ----------
    study : alsmeds.Study
        A data set (synthetic or not); its frames are built here on first use.
    timings : dict, optional
        Filled with the wall time of each step in seconds (``analysis_table``, ``risk``,
        ``risk_age``, ``survival_data``, ``cox``, ``alsfrs_data``, ``mixed``, ``joint``).
    joint_models : mapping of str to AlsJointModel, optional
        The joint models to fit, by the name their rows carry in ``model``.  Default
        (:func:`default_joint_models`): the study specification's model as ``joint_model`` (the one
        the notebooks and the scorecard report) and, when that one is not already the normal-outcome
        model, the paper's normal-outcome model with the same association as ``joint_model_normal``.

    Returns
    -------
    pandas.DataFrame
        :data:`REPLICATE_COLUMNS` without ``rep`` and ``seed``: estimates and diagnostics.
    """
    from alsmeds.models.cox import cox_table, fit_cox_models
    from alsmeds.models.mixed import AlsfrsMixedModel, MixedModelError
    from alsmeds.models.risk import RiskModelSpec, fit_standard_models
    from alsmeds.models.stratified import fit_stratified

    timings = {} if timings is None else timings
    records: list[dict[str, Any]] = []
    clock = [time.perf_counter()]

    def lap(step: str) -> None:
        now = time.perf_counter()
        timings[step] = now - clock[0]
        clock[0] = now

    table = study.analysis_table
    lap("analysis_table")
    records += _risk_rows(fit_standard_models(table))
    lap("risk")
    specs = [RiskModelSpec("population", "lagged", (k,), "adjusted") for k in CLASSES]
    specs.append(RiskModelSpec("population", "windows", CLASSES, "adjusted"))
    for spec in specs:
        records += _risk_rows(fit_stratified(table, spec, by="age"), stratum_column="stratum")
    lap("risk_age")

    survival = study.survival_data
    lap("survival_data")
    fits = fit_cox_models(survival)
    cox = cox_table(fits)
    for r in cox[cox["is_exposure"]].itertuples(index=False):
        records.append(
            {
                "family": "cox",
                "comparison": "",
                "model": r.model,
                "exposure": "ever",
                "stratum": "all",
                "term": r.term,
                "estimate": float(r.log_hr),
                "se": float(r.se),
                "estimable": bool(r.estimable),
                "reason": r.reason if isinstance(r.reason, str) else "",
                "info": float(r.exposed_events),
            }
        )
        # The robust (sandwich) SE beside the model-based one: a diagnostic row, not a second estimator.
        records.append(_diagnostic(f"robust_se:{r.term}", float(r.robust_se), r.model))
    records.append(_diagnostic("warnings", sum(len(f.warnings) for f in fits), "cox"))
    records.append(_diagnostic("events", int(survival["event"].sum()), "cox"))
    lap("cox")

    visits = study.alsfrs_data
    lap("alsfrs_data")
    try:
        mixed = AlsfrsMixedModel().fit(visits)
    except MixedModelError as exc:
        terms = ["months", *[f"{k}:months" for k in CLASSES]]
        records += _not_fitted("mixed", "random_intercept_slope", terms, str(exc))
        records.append(_diagnostic("converged", 0, "random_intercept_slope"))
    else:
        frame = mixed.to_frame()
        for r in frame[frame["kind"] == "fixed_effect"].itertuples(index=False):
            records.append(
                {
                    "family": "mixed",
                    "comparison": "",
                    "model": r.model,
                    "exposure": "ever",
                    "stratum": "all",
                    "term": r.term,
                    "estimate": float(r.estimate),
                    "se": float(r.se),
                    "estimable": bool(r.estimable),
                    "reason": r.reason if isinstance(r.reason, str) else "",
                    "info": np.nan,
                }
            )
        records.append(_diagnostic("converged", int(mixed.converged), r.model))
        records.append(_diagnostic("on_boundary", int(mixed.on_boundary), r.model))
        for name, value in mixed.variance_components().items():
            records.append(_diagnostic(f"vc:{name}", value, r.model))
        records.append(_diagnostic("visits", mixed.n_obs, r.model))
    lap("mixed")

    frames = study.joint_data
    for name, model in _joint_models(joint_models).items():
        records += _joint_rows(name, model, frames)
    lap("joint")
    return _rows(records)


def default_joint_models(spec: Any = None) -> dict[str, Any]:
    """The joint models a replicate fits: the specification's as ``joint_model``, the normal-outcome one beside it.

    ``joint_model`` is :func:`alsmeds.analyses.joint.study_model` (the committed specification: the ALSFRS-R
    censored at the scale's ends, current-value association), so the replicates measure the estimator whose
    intervals notebook 07 and the scorecard print.  ``joint_model_normal`` is the same model with a normal outcome
    (the paper's JM fit, which takes the scores at 0 and 48 as exact): kept because it shows what the floor and
    ceiling do; left out when the specification's model is already normal.
    """
    from alsmeds.analyses.joint import study_model

    models = {"joint_model": study_model(spec)}
    if models["joint_model"].outcome != "normal":
        models["joint_model_normal"] = study_model(spec, outcome="normal")
    return models


def _joint_models(joint_models: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return default_joint_models() if joint_models is None else joint_models


def _joint_rows(name: str, model: Any, frames: Any) -> list[dict[str, Any]]:
    """Estimates, SEs and fit diagnostics of one joint model, or non-estimable rows with the reason."""
    from alsmeds.models.joint.prognosis import JointModelError

    try:
        joint = model.fit(frames)
    except JointModelError as exc:
        terms = ["alpha", "long:months", *[f"surv:{k}" for k in CLASSES], *[f"long:{k}:months" for k in CLASSES]]
        return [*_not_fitted("joint", name, terms, str(exc)), _diagnostic("converged", 0, name)]
    records = [
        {
            "family": "joint",
            "comparison": "",
            "model": name,
            "exposure": "ever",
            "stratum": "all",
            "term": term,
            "estimate": float(value),
            "se": float(joint.bse[term]),
            "estimable": True,
            "reason": "",
            "info": np.nan,
        }
        for term, value in joint.params.items()
    ]
    for term, reason in joint.not_estimable.items():
        records += _not_fitted("joint", name, [term], reason)
    # The sandwich SE beside the model-based one (as the Cox models'): a diagnostic row, not a second estimator.
    records += [_diagnostic(f"robust_se:{term}", float(se), name) for term, se in joint.robust_bse.items()]
    fit = joint.fit
    records.append(_diagnostic("converged", int(fit.converged), name))
    records.append(_diagnostic("iterations", fit.iterations, name))
    records.append(_diagnostic("max_abs_gradient", fit.max_abs_gradient, name))
    records.append(_diagnostic("events", fit.n_events, name))
    return records


def run_replicate(rep: int, seed: int, scale: float) -> pd.DataFrame:
    """Simulate one data set and fit every model (see the module docstring).

    Parameters
    ----------
    rep : int
        Replicate number (stored, not used to draw).
    seed : int
        Seed of :func:`alsmeds.simulate.generate`; the replicate is a function of ``seed`` and
        ``scale`` alone.
    scale : float
        Sample size as a multiple of the paper's 1,057 cases.

    Returns
    -------
    pandas.DataFrame
        :data:`REPLICATE_COLUMNS`; ``timing`` rows hold the seconds of each step
        (``simulate`` included), ``diagnostic`` rows the fit diagnostics.
    """
    from alsmeds.study import Study

    start = time.perf_counter()
    study = Study.synthetic(seed=int(seed), scale=float(scale), truth_scale=0)
    return replicate_frame(study, rep, seed, simulate_seconds=time.perf_counter() - start)


def replicate_frame(study: Any, rep: int, seed: int, simulate_seconds: float) -> pd.DataFrame:
    """Fit every model to one simulated study and return the replicate's frame (:data:`REPLICATE_COLUMNS`).

    The models of :func:`fit_replicate_models`, a ``diagnostic`` row with the number of cases and ``timing`` rows
    (``simulate``: ``simulate_seconds``, then each fit).  Shared by :func:`run_replicate` and the mechanisms'
    replicates (:func:`alsmeds.simstudy.mechanisms.run_mechanism_replicate`), which simulate differently.
    """
    timings: dict[str, float] = {"simulate": float(simulate_seconds)}
    frame = fit_replicate_models(study, timings)
    n_cases = len(study.registry.tables["als_cases"])
    extra = [_diagnostic("n_cases", n_cases)]
    extra += [{**_diagnostic(step, seconds), "family": "timing"} for step, seconds in timings.items()]
    frame = pd.concat([frame, _rows(extra)], ignore_index=True)
    return _finish(frame, rep, seed)


def _finish(frame: pd.DataFrame, rep: int, seed: int) -> pd.DataFrame:
    frame.insert(0, "seed", np.int64(seed))
    frame.insert(0, "rep", np.int64(rep))
    frame["seed"] = frame["seed"].astype("int64")
    frame["rep"] = frame["rep"].astype("int64")
    for column in ("estimate", "se", "info"):
        frame[column] = frame[column].astype("float64")
    frame["estimable"] = frame["estimable"].astype(bool)
    for column in ("family", "comparison", "model", "exposure", "stratum", "term", "reason"):
        frame[column] = frame[column].fillna("").astype(str)
    return frame[REPLICATE_COLUMNS]


def failure_frame(rep: int, seed: int, error: BaseException) -> pd.DataFrame:
    """The record of a failed replicate: one ``failure`` row with the seed and the error.

    ``reason`` holds ``"<ExceptionType>: <message>"`` followed by the innermost frames of the
    traceback, so the failure can be reproduced with ``run_replicate(rep, seed, scale)``.
    """
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__)[-3:])
    reason = f"{type(error).__name__}: {error}\n{trace}"[:4000]
    row = _diagnostic("error", np.nan)
    row.update({"family": "failure", "estimable": False, "reason": reason})
    return _finish(_rows([row]), rep, seed)


def safe_replicate(
    rep: int, seed: int, scale: float, replicate: Callable[[int, int, float], pd.DataFrame] = run_replicate
) -> tuple[int, int, pd.DataFrame]:
    """Run ``replicate`` and turn any exception into :func:`failure_frame` (never raises but for interrupts).

    Returns
    -------
    (rep, seed, frame) : tuple
    """
    try:
        frame = replicate(rep, seed, scale)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded with its seed, never dropped
        frame = failure_frame(rep, seed, exc)
    return rep, seed, frame
