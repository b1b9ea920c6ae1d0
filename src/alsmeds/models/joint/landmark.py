"""Dynamic predictions at landmark times: the joint model against a landmark Cox model, scored for accuracy.

At a landmark time ``s`` (months since diagnosis) both models predict, for every patient still
event-free and uncensored at ``s`` with at least one ALSFRS-R visit by ``s``, the risk of death or
invasive ventilation in the next ``w`` months,

``r_i(s, w) = P(T_i <= s + w | T_i > s, visits and covariates up to s)``,

and :mod:`alsmeds.models.accuracy` scores the risks against what happened (time-dependent AUC,
Brier score, calibration; Kaplan-Meier censoring weights, so censoring is assumed independent of
the event time and of the risks).

* **Joint model** (:func:`joint_risks`): ``1 - pi_i(s + w | s)`` from
  :func:`alsmeds.models.joint.prediction.dynamic_survival`, the survival conditional on the
  visits up to ``s`` (posterior of the random effects given those visits and survival to ``s``).
* **Landmark Cox model** (:class:`LandmarkCox`; van Houwelingen 2007): among the same patients,
  a Cox model of the time from ``s`` on the **last observed ALSFRS-R** at or before ``s`` and the
  joint model's baseline covariates and exposures (prediagnostic use of each class, age per decade
  above 65, sex, bulbar onset), with follow-up **administratively censored at ``s + w``** (so
  proportional hazards is assumed only within the prediction window, and one model is fitted per
  landmark and horizon); the predicted risk is ``1 - exp(-H0(w) exp(b'x))`` with the Breslow
  baseline cumulative hazard ``H0``.  Assumed: proportional hazards in the window, a log-linear
  effect of the last score, the last score a sufficient summary of the history (no slope by
  default, see :class:`LandmarkCox`), censoring independent given the covariates.

**In-sample evaluation.**  :func:`prediction_accuracy` scores both models on the patients they
were fitted to: the joint model is fitted to every patient's whole follow-up (including the
events after ``s`` it then predicts), the landmark Cox model to the patients at risk at ``s``.
That is what JM's ``aucJM`` and ``prederrJM`` do, and it is optimistic (more so for the model with
more parameters).  :func:`split_sample_accuracy` fits both models to a random part of the
patients and scores them on the rest.

References
----------
van Houwelingen HC. Dynamic prediction by landmarking in event history analysis. Scand J Stat
2007;34:70-85.
Rizopoulos D. Dynamic predictions and prospective accuracy in joint models for longitudinal and
time-to-event data. Biometrics 2011;67:819-829.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES
from alsmeds.derive.joint_data import JOINT_COVARIATES, JointFrames
from alsmeds.models.accuracy import (
    CALIBRATION_COLUMNS,
    CONTRAST_COLUMNS,
    calibration_table,
    contrast_risks,
    score_risks,
)
from alsmeds.models.base import separated_terms
from alsmeds.models.cox import estimability_of_cox_terms, fit_lifelines_cox
from alsmeds.models.joint.prediction import dynamic_risks
from alsmeds.models.joint.results import JointResult

#: The two models scored, in the order of the results.
MODELS = ("joint", "landmark_cox")

#: Columns of :attr:`PredictionAccuracy.scores`.
ACCURACY_COLUMNS: dict[str, str] = {
    "model": "joint (the joint model's dynamic prediction) or landmark_cox (the landmark Cox model)",
    "landmark": "s: months since diagnosis at which the risk is predicted from the visits up to s",
    "horizon": "w: the risk is of death or invasive ventilation in (s, s + w] months",
    "n_at_risk": "patients event-free and uncensored at s with a visit by s (the patients scored)",
    "events_in_window": "deaths or invasive ventilations in (s, s + w]",
    "censored_in_window": "patients censored in (s, s + w] (IPCW weight 0)",
    "auc": "IPCW time-dependent AUC at s + w (cumulative cases, dynamic controls; Kaplan-Meier censoring weights)",
    "auc_se": "influence-function standard error of auc (as riskRegression::Score)",
    "brier": "IPCW Brier score at s + w",
    "brier_se": "influence-function standard error of brier",
    "brier_null": "Brier score of the null model (everyone given the Kaplan-Meier risk of the patients at risk)",
    "ipa": "index of prediction accuracy, 1 - brier / brier_null",
    "observed_risk": "Kaplan-Meier risk of an event in (s, s + w] among the patients at risk",
    "mean_risk": "mean predicted risk; observed_risk - mean_risk is the calibration in the large",
    "reason": "why the model gives no risks at this landmark and horizon (empty when it does)",
}

#: Columns of :attr:`PredictionAccuracy.contrasts`: the joint model against the landmark Cox model.
ACCURACY_CONTRAST_COLUMNS: dict[str, str] = {
    "landmark": ACCURACY_COLUMNS["landmark"],
    "horizon": ACCURACY_COLUMNS["horizon"],
    **{c: d for c, d in CONTRAST_COLUMNS.items() if c != "horizon"},
}

#: Columns of :attr:`PredictionAccuracy.calibration`.
ACCURACY_CALIBRATION_COLUMNS: dict[str, str] = {
    "model": ACCURACY_COLUMNS["model"],
    "landmark": ACCURACY_COLUMNS["landmark"],
    "horizon": ACCURACY_COLUMNS["horizon"],
    **CALIBRATION_COLUMNS,
}


def landmark_frame(frames: JointFrames, landmark: float) -> pd.DataFrame:
    """The patients at risk at ``landmark`` and their history up to it, one row each.

    Parameters
    ----------
    frames : JointFrames
        :attr:`alsmeds.Study.joint_data`.
    landmark : float
        ``s``, months since diagnosis.

    Returns
    -------
    DataFrame
        Patients with ``time_months > s`` (event-free and uncensored at ``s``) and at least one visit
        at ``months <= s``: ``person_id``, ``time`` (months from ``s`` to the end of follow-up),
        ``event``, ``last_score`` (the last ALSFRS-R at or before ``s``; the mean of same-day
        visits is already in the frame), ``last_visit`` (its months since diagnosis),
        ``visits`` (visits by ``s``), ``slope`` (least-squares ALSFRS-R slope over the visits by
        ``s``, points per month; missing with one visit time), and the survival frame's covariates.
    """
    s = float(landmark)
    surv = frames.surv[frames.surv["time_months"] > s]
    visits = frames.long[(frames.long["months"] <= s) & frames.long["person_id"].isin(surv["person_id"])]
    visits = visits.sort_values(["person_id", "months"], kind="stable")
    grouped = visits.groupby("person_id", sort=True)
    t, y = visits["months"], visits["score"]
    tc = t - grouped["months"].transform("mean")
    yc = y - grouped["score"].transform("mean")
    sxy = (tc * yc).groupby(visits["person_id"]).sum()
    sxx = (tc * tc).groupby(visits["person_id"]).sum()
    history = pd.DataFrame(
        {
            "last_score": grouped["score"].last(),
            "last_visit": grouped["months"].last(),
            "visits": grouped.size(),
            "slope": (sxy / sxx).where(sxx > 0),
        }
    )
    rows = surv.merge(history, left_on="person_id", right_index=True, how="inner")
    covariates = [c for c in surv.columns if c not in ("person_id", "time_months", "event", "status")]
    out = pd.DataFrame(
        {
            "person_id": rows["person_id"].to_numpy(),
            "time": rows["time_months"].to_numpy(dtype=float) - s,
            "event": rows["event"].to_numpy(dtype=int),
            **{c: rows[c].to_numpy() for c in ["last_score", "last_visit", "visits", "slope"]},
            **{c: rows[c].to_numpy(dtype=float) for c in covariates},
        }
    )
    out["visits"] = out["visits"].astype(int)
    return out.sort_values("person_id", kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class LandmarkCoxResult:
    """A fitted :class:`LandmarkCox` model.

    Attributes
    ----------
    model : LandmarkCox
    params, bse : Series
        Log hazard ratios (per unit of each term; per ALSFRS-R point for ``last_score``) and
        standard errors (inverse observed information, lifelines, Efron ties).
    means : Series
        Means of the terms in the fitted data (the linear predictor is centred at them).
    baseline_cumhazard : float
        Breslow ``H0(w)`` at the centred linear predictor.
    n, events : int
        Patients and events in the window in the fit.
    not_estimable : dict of str to str
        Terms left out and why (:func:`alsmeds.models.cox.estimability_of_cox_terms`).
    slope_fill : float or None
        With ``slope=True``: the median slope given to patients with one visit time.
    reason : str
        Why the model could not be fitted ("" when it was); :meth:`predict_risk` then gives NaN.
    warnings : list of str
    """

    model: LandmarkCox
    params: pd.Series
    bse: pd.Series
    means: pd.Series
    baseline_cumhazard: float
    n: int
    events: int
    not_estimable: dict[str, str] = field(default_factory=dict)
    slope_fill: float | None = None
    reason: str = ""
    warnings: list[str] = field(default_factory=list)

    def predict_risk(self, rows: pd.DataFrame) -> np.ndarray:
        """``P(T <= s + w | T > s, history)`` for rows of :func:`landmark_frame`.

        ``1 - exp(-H0(w) exp(b'(x - xbar)))``; NaN for every row when the model was not fitted.
        """
        if self.reason:
            return np.full(len(rows), np.nan)
        X = self.model.design(rows, self.slope_fill)[list(self.params.index)]
        lp = (X - self.means).to_numpy(dtype=float) @ self.params.to_numpy(dtype=float)
        return -np.expm1(-self.baseline_cumhazard * np.exp(lp))

    def to_frame(self) -> pd.DataFrame:
        """One row per term: ``term``, ``log_hr``, ``se``, ``hazard_ratio``, ``estimable``, ``reason``."""
        rows = [
            {
                "term": t,
                "log_hr": float(self.params[t]),
                "se": float(self.bse[t]),
                "hazard_ratio": float(np.exp(self.params[t])),
                "estimable": True,
                "reason": "",
            }
            for t in self.params.index
        ]
        rows += [{"term": t, "estimable": False, "reason": why} for t, why in self.not_estimable.items()]
        out = pd.DataFrame(rows, columns=["term", "log_hr", "se", "hazard_ratio", "estimable", "reason"])
        out.insert(0, "landmark", self.model.landmark)
        out.insert(1, "horizon", self.model.horizon)
        return out


@dataclass(frozen=True)
class LandmarkCox:
    """A landmark Cox model: risk of death or invasive ventilation in ``(s, s + w]`` from the history up to ``s``.

    Estimand and assumptions: see the module docstring.  The time scale is months since ``s``;
    follow-up beyond ``s + w`` is censored at ``s + w`` (``administrative_censoring``), so the
    model describes the window only; the ALSFRS-R enters as the last observed score at or before
    ``s`` (measurement error and the time since that visit ignored).

    Parameters
    ----------
    landmark : float
        ``s``, months since diagnosis.
    horizon : float
        ``w``, months.
    covariates : sequence of str
        Baseline covariates and exposures (default: prediagnostic use of the three classes, age
        per decade above 65, male sex, bulbar onset: those of the joint model's hazard).
    slope : bool
        Also adjust for the least-squares ALSFRS-R slope over the visits by ``s`` (default False:
        the joint model's hazard depends on the current value of the score only, and the last
        score is its landmark counterpart; a slope from two or three visits a few months apart is
        noisy).  Patients with a single visit time get the median slope of the others.
    administrative_censoring : bool
        Censor follow-up at ``s + w`` (default True).
    """

    landmark: float
    horizon: float
    covariates: tuple[str, ...] = (*CLASSES, *JOINT_COVARIATES)
    slope: bool = False
    administrative_censoring: bool = True

    @property
    def terms(self) -> list[str]:
        return ["last_score", *(["slope"] if self.slope else []), *self.covariates]

    def design(self, rows: pd.DataFrame, slope_fill: float | None = None) -> pd.DataFrame:
        """The model's terms for rows of :func:`landmark_frame` (slope filled with ``slope_fill``)."""
        X = pd.DataFrame({t: rows[t].to_numpy(dtype=float) for t in self.terms}, index=rows.index)
        if self.slope:
            X["slope"] = X["slope"].fillna(slope_fill if slope_fill is not None else 0.0)
        return X

    def fit(self, frames: JointFrames) -> LandmarkCoxResult:
        """Fit to the patients at risk at ``s`` in the joint frames (:func:`landmark_frame`)."""
        return self.fit_rows(landmark_frame(frames, self.landmark))

    def fit_rows(self, rows: pd.DataFrame) -> LandmarkCoxResult:
        """Fit to rows of :func:`landmark_frame` (at this landmark).

        Returns
        -------
        LandmarkCoxResult
            Terms the data cannot estimate are left out (``not_estimable``); a model that cannot
            be fitted at all has ``reason`` set.
        """
        w = float(self.horizon)
        time = rows["time"].to_numpy(dtype=float)
        event = rows["event"].to_numpy(dtype=float)
        if self.administrative_censoring:
            event = np.where(time <= w, event, 0.0)
            time = np.minimum(time, w)
        fill = float(rows["slope"].median()) if self.slope and rows["slope"].notna().any() else None
        X = self.design(rows, fill).reset_index(drop=True)
        design = pd.concat([pd.DataFrame({"time": time, "event": event}), X], axis=1)
        empty = pd.Series(dtype=float)
        base: dict[str, Any] = {
            "model": self,
            "params": empty,
            "bse": empty,
            "means": empty,
            "baseline_cumhazard": float("nan"),
            "n": len(design),
            "events": int(((time <= w) & (event == 1)).sum()),
            "slope_fill": fill,
        }
        if len(design) == 0 or not event.any():
            return LandmarkCoxResult(**base, reason="no events in the window" if len(design) else "no patients")
        exposures = [t for t in self.terms if t in CLASSES]
        adjustment = [t for t in self.terms if t not in CLASSES]
        not_estimable = estimability_of_cox_terms(design, exposures, adjustment)
        kept = [t for t in self.terms if t not in not_estimable]
        if not kept:
            return LandmarkCoxResult(**base, not_estimable=not_estimable, reason="no term can be estimated")
        try:
            cph, caught = fit_lifelines_cox(design[["time", "event", *kept]])
        except Exception as exc:  # lifelines' ConvergenceError, LinAlgError on degenerate data
            reason = f"the Cox model did not converge: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            return LandmarkCoxResult(**base, not_estimable=not_estimable, reason=reason)
        params = cph.params_.astype(float).rename(None)[kept]
        bse = cph.standard_errors_.astype(float).rename(None)[kept]
        separated = separated_terms(params)
        if separated or any("failed to converge" in c for c in caught):
            return LandmarkCoxResult(
                **base,
                not_estimable=not_estimable,
                reason=f"separation or non-convergence ({', '.join(separated) or 'Newton-Raphson failed'})",
                warnings=caught,
            )
        means = design[kept].mean()
        lp = (design[kept] - means).to_numpy() @ params.to_numpy()
        base["baseline_cumhazard"] = breslow_cumhazard(time, event, np.exp(lp), w)
        base.update(params=params, bse=bse, means=means)
        return LandmarkCoxResult(**base, not_estimable=not_estimable, warnings=caught)


def breslow_cumhazard(time: np.ndarray, event: np.ndarray, risk_score: np.ndarray, at: float) -> float:
    """Breslow's baseline cumulative hazard at ``at``: ``sum_{event times u <= at} d(u) / sum_{time >= u} exp(lp)``."""
    order = np.argsort(time, kind="stable")
    t, d, r = time[order], event[order], risk_score[order]
    unique, index = np.unique(t, return_inverse=True)
    deaths = np.bincount(index, weights=d, minlength=unique.size)
    score_at = np.bincount(index, weights=r, minlength=unique.size)
    at_risk = np.cumsum(score_at[::-1])[::-1]
    keep = (unique <= at) & (deaths > 0)
    return float(np.sum(deaths[keep] / at_risk[keep]))


def _joint_result(joint_fit: Any) -> JointResult:
    """The :class:`JointResult` of an ``AlsJointResult``, a ``JointFits`` (its joint model) or a ``JointResult``."""
    if isinstance(joint_fit, JointResult):
        return joint_fit
    if isinstance(getattr(joint_fit, "fit", None), JointResult):
        return joint_fit.fit
    if hasattr(joint_fit, "joint") and hasattr(joint_fit, "frames"):
        if joint_fit.joint is None:
            raise ValueError(f"the joint model was not fitted: {getattr(joint_fit, 'reason', '')}")
        return joint_fit.joint.fit
    raise TypeError(f"not a joint-model fit: {type(joint_fit).__name__}")


def joint_risks(
    joint_fit: Any,
    frames: JointFrames,
    landmark: float,
    horizons: Sequence[float],
    person_ids: Sequence[Any] | None = None,
    *,
    n_nodes: int = 15,
) -> pd.DataFrame:
    """The joint model's risk of an event in ``(s, s + w]`` given the visits up to ``s``, per patient and horizon.

    ``1 - P(T > s + w | T > s, y(s))`` (:func:`alsmeds.models.joint.prediction.dynamic_risks`, the
    batched form of ``dynamic_survival``: at the estimate, random effects integrated by adaptive
    Gauss-Hermite quadrature).

    Parameters
    ----------
    joint_fit : AlsJointResult, JointFits or JointResult
        The fitted joint model.
    frames : JointFrames
        Visits and covariates of the patients (the visits after ``s`` are not used).
    landmark : float
        ``s``.
    horizons : sequence of float
        ``w`` values.
    person_ids : sequence, optional
        Patients (default: those of :func:`landmark_frame`).
    n_nodes : int
        Quadrature nodes per random effect.

    Returns
    -------
    DataFrame
        ``person_id``, ``horizon``, ``risk``.
    """
    fit = _joint_result(joint_fit)
    s = float(landmark)
    if person_ids is None:
        person_ids = landmark_frame(frames, s)["person_id"].to_numpy()
    key = fit.layout.spec.id
    surv = frames.surv.set_index(key).loc[list(person_ids)].reset_index()
    risks = dynamic_risks(fit, frames.long, surv, s, horizons, n_nodes=n_nodes)  # all patients in one pass
    risks = risks.rename(columns={key: "person_id"})
    order = {pid: i for i, pid in enumerate(person_ids)}
    risks = risks.assign(_o=risks["person_id"].map(order)).sort_values(["_o", "horizon"], kind="stable")
    return risks.drop(columns="_o").reset_index(drop=True)[["person_id", "horizon", "risk"]]


@dataclass(frozen=True)
class PredictionAccuracy:
    """Accuracy of the two models' dynamic predictions (:func:`prediction_accuracy`).

    Attributes
    ----------
    scores : DataFrame
        One row per model, landmark and horizon: :data:`ACCURACY_COLUMNS`.
    calibration : DataFrame
        Observed against predicted risk by risk group: :data:`ACCURACY_CALIBRATION_COLUMNS`.
    contrasts : DataFrame
        The joint model minus the landmark Cox model (AUC and Brier differences with paired
        standard errors), per landmark and horizon: :data:`ACCURACY_CONTRAST_COLUMNS`.
    risks : DataFrame
        The risks scored: ``landmark``, ``horizon``, ``person_id``, ``time`` (months from ``s``),
        ``event`` and one column per model.
    landmark_models : dict of (float, float) to LandmarkCoxResult
        The landmark Cox fits by ``(s, w)``.
    in_sample : bool
        True when the models were scored on the patients they were fitted to.
    """

    scores: pd.DataFrame
    calibration: pd.DataFrame
    contrasts: pd.DataFrame
    risks: pd.DataFrame
    landmark_models: dict[tuple[float, float], LandmarkCoxResult]
    in_sample: bool = True


def _accuracy(
    train: JointFrames,
    test: JointFrames,
    joint_fit: Any,
    landmarks: Sequence[float],
    horizons: Sequence[float],
    *,
    covariates: Sequence[str] | None,
    slope: bool,
    groups: int,
    conservative: bool,
    in_sample: bool,
) -> PredictionAccuracy:
    fit = _joint_result(joint_fit)
    covariates = tuple(fit.layout.spec.surv if covariates is None else covariates)
    score_rows, calibration_rows, contrast_rows, risk_rows = [], [], [], []
    cox_fits: dict[tuple[float, float], LandmarkCoxResult] = {}
    for s in landmarks:
        s = float(s)
        rows = landmark_frame(test, s)
        train_rows = rows if in_sample else landmark_frame(train, s)
        joint = joint_risks(fit, test, s, horizons, rows["person_id"].to_numpy()) if len(rows) else None
        for w in horizons:
            w = float(w)
            cox = LandmarkCox(s, w, covariates=covariates, slope=slope).fit_rows(train_rows)
            cox_fits[(s, w)] = cox
            risks = {
                "joint": (
                    joint[joint["horizon"] == w]["risk"].to_numpy() if joint is not None else np.empty(0, dtype=float)
                ),
                "landmark_cox": cox.predict_risk(rows),
            }
            reasons = {"joint": "", "landmark_cox": cox.reason}
            time, event = rows["time"].to_numpy(dtype=float), rows["event"].to_numpy(dtype=int)
            risk_rows.append(
                pd.DataFrame(
                    {"landmark": s, "horizon": w, "person_id": rows["person_id"], "time": time, "event": event, **risks}
                )
            )
            scorable = {m: r for m, r in risks.items() if len(r) and np.all(np.isfinite(r))}
            table = score_risks(time, event, scorable, w, conservative=conservative) if scorable and len(rows) else None
            if len(scorable) == len(MODELS) and len(rows):
                pair = {m: scorable[m] for m in reversed(MODELS)}  # joint - landmark_cox
                contrast_rows.append(contrast_risks(time, event, pair, w, conservative=conservative).assign(landmark=s))
            for m in MODELS:
                if table is not None and m in scorable:
                    row = table[table["model"] == m].iloc[0].to_dict()
                    cal = calibration_table(time, event, risks[m], w, groups=groups)
                    calibration_rows.append(cal.assign(model=m, landmark=s, horizon=w))
                else:
                    row = {"model": m, "n": len(rows)}
                    reasons[m] = reasons[m] or ("no patients at risk" if not len(rows) else "no risks")
                row.update(
                    landmark=s,
                    horizon=w,
                    n_at_risk=len(rows),
                    events_in_window=int(((time <= w) & (event == 1)).sum()),
                    censored_in_window=int(((time <= w) & (event == 0)).sum()),
                    reason=reasons[m],
                )
                score_rows.append(row)
    scores = pd.DataFrame(score_rows).reindex(columns=list(ACCURACY_COLUMNS))
    calibration = (
        pd.concat(calibration_rows, ignore_index=True).reindex(columns=list(ACCURACY_CALIBRATION_COLUMNS))
        if calibration_rows
        else pd.DataFrame(columns=list(ACCURACY_CALIBRATION_COLUMNS))
    )
    contrasts = (
        pd.concat(contrast_rows, ignore_index=True).reindex(columns=list(ACCURACY_CONTRAST_COLUMNS))
        if contrast_rows
        else pd.DataFrame(columns=list(ACCURACY_CONTRAST_COLUMNS))
    )
    return PredictionAccuracy(
        scores=scores,
        calibration=calibration,
        contrasts=contrasts,
        risks=pd.concat(risk_rows, ignore_index=True) if risk_rows else pd.DataFrame(),
        landmark_models=cox_fits,
        in_sample=in_sample,
    )


def prediction_accuracy(
    frames: JointFrames,
    joint_fit: Any,
    landmarks: Sequence[float] = (6, 12),
    horizons: Sequence[float] = (6, 12),
    *,
    covariates: Sequence[str] | None = None,
    slope: bool = False,
    groups: int = 10,
    conservative: bool = False,
) -> PredictionAccuracy:
    """Accuracy of the joint model's and a landmark Cox model's dynamic predictions, in sample.

    At each landmark ``s`` and horizon ``w``, for the patients event-free and uncensored at ``s``
    with a visit by ``s`` (:func:`landmark_frame`), the risk of death or invasive ventilation in
    ``(s, s + w]`` from the joint model (:func:`joint_risks`) and from a landmark Cox model fitted
    to these patients (:class:`LandmarkCox`, administrative censoring at ``s + w``) is scored by the
    IPCW time-dependent AUC and Brier score with influence-function standard errors
    (:func:`alsmeds.models.accuracy.score_risks`, riskRegression's estimators with Kaplan-Meier
    censoring weights: censoring assumed independent of the event time and the risks) and by
    calibration in risk groups (:func:`alsmeds.models.accuracy.calibration_table`).

    **In sample**: the joint model ``joint_fit`` was fitted to these patients' whole follow-up and
    the landmark Cox model is fitted to the patients it scores (as JM's ``aucJM``), so the scores
    are optimistic; :func:`split_sample_accuracy` scores on patients left out of both fits.  The
    standard errors treat the risks as fixed (the models' estimation uncertainty is not in them).

    Parameters
    ----------
    frames : JointFrames
        :attr:`alsmeds.Study.joint_data`, the frames the joint model was fitted to.
    joint_fit : AlsJointResult, JointFits or JointResult
        E.g. ``alsmeds.analyses.joint.joint_fits(study).joint``.
    landmarks : sequence of float
        ``s`` values, months since diagnosis.
    horizons : sequence of float
        ``w`` values, months.
    covariates : sequence of str, optional
        Baseline terms of the landmark Cox model besides the last ALSFRS-R (default: the joint
        model's hazard covariates as fitted, ``joint_fit``'s ``layout.spec.surv``).
    slope : bool
        Add the ALSFRS-R slope to the landmark Cox model (:class:`LandmarkCox`).
    groups : int
        Risk groups of the calibration table (deciles by default).
    conservative : bool
        Standard errors without the censoring term.

    Returns
    -------
    PredictionAccuracy
        ``scores`` (one row per model, landmark and horizon: :data:`ACCURACY_COLUMNS`),
        ``calibration``, ``contrasts`` (joint minus landmark Cox), ``risks`` and the landmark Cox fits.
    """
    return _accuracy(
        frames,
        frames,
        joint_fit,
        landmarks,
        horizons,
        covariates=covariates,
        slope=slope,
        groups=groups,
        conservative=conservative,
        in_sample=True,
    )


def subset_frames(frames: JointFrames, person_ids: Sequence[Any]) -> JointFrames:
    """The joint frames of some patients (selection counts recomputed for them)."""
    keep = set(person_ids)
    surv = frames.surv[frames.surv["person_id"].isin(keep)].reset_index(drop=True)
    long = frames.long[frames.long["person_id"].isin(keep)].reset_index(drop=True)
    selection = {"patients": len(surv), "visits": len(long), "events": int(surv["event"].sum())}
    return JointFrames(long=long, surv=surv, selection=selection, classes=frames.classes)


def split_sample_accuracy(
    frames: JointFrames,
    model: Any = None,
    landmarks: Sequence[float] = (6, 12),
    horizons: Sequence[float] = (6, 12),
    *,
    test_fraction: float = 0.5,
    seed: int = 0,
    covariates: Sequence[str] | None = None,
    slope: bool = False,
    groups: int = 10,
    conservative: bool = False,
) -> PredictionAccuracy:
    """:func:`prediction_accuracy` out of sample: both models fitted to some patients, scored on the others.

    The patients are split at random (``test_fraction`` of them, rounded, to the test part;
    ``seed``); the joint model (``model``, default :class:`alsmeds.models.joint.prognosis.AlsJointModel`)
    is fitted to the training patients' frames and the landmark Cox models to the training
    patients at risk at each landmark; the scores are those of the test patients at risk.  Less
    optimistic than the in-sample scores, noisier (half the patients), and one split only.

    Raises
    ------
    alsmeds.models.joint.prognosis.JointModelError
        When the joint model cannot be fitted to the training patients.
    """
    from alsmeds.models.joint.prognosis import AlsJointModel

    ids = frames.surv["person_id"].to_numpy()
    rng = np.random.default_rng(seed)
    test_ids = rng.permutation(ids)[: int(round(test_fraction * len(ids)))]
    train = subset_frames(frames, sorted(set(ids) - set(test_ids)))
    test = subset_frames(frames, sorted(test_ids))
    joint = (model if model is not None else AlsJointModel()).fit(train)
    return _accuracy(
        train,
        test,
        joint,
        landmarks,
        horizons,
        covariates=covariates,
        slope=slope,
        groups=groups,
        conservative=conservative,
        in_sample=False,
    )
