"""The two-stage approach a joint model replaces: mixed-model predictions in a time-varying Cox model.

Stage 1 fits the linear mixed model of the ALSFRS-R alone (maximum likelihood,
:func:`alsmeds.models.joint.mixed.fit_mixed`) and predicts every patient's current
score ``m_hat_i(t)``: the fixed part plus the patient's empirical-Bayes intercept and
slope.  Stage 2 fits a Cox model with ``m_hat_i(t)`` as a time-varying covariate
(lifelines' ``CoxTimeVaryingFitter``, Efron ties), beside prediagnostic use and the
covariates.

Why it is biased (Tsiatis and Davidian 2004; Rizopoulos 2012, section 5.1).  The
empirical-Bayes prediction is the conditional mean of the true score given the visits,
so its error is of Berkson type (independent of the prediction), which by itself does
not attenuate a linear association.  The attenuation comes from elsewhere: the
predicted line is extrapolated past each patient's last visit to the event (where it
is furthest from the truth and, for fast decliners, too high), patients with few
visits are shrunk hard towards the mean trajectory, and the stage-1 fit ignores the
informative dropout that the joint likelihood models (fast decliners leave early), so
its slopes are too flat.  The exposure hazard ratios, adjusted for an imperfect
measure of the current score, keep part of the path through the score (they lean
towards the total effect), and the stage-2 standard errors treat the predictions as
known.  The notebook shows the bias
against the planted truth; it is the reason the paper fitted a joint model.

Time is split into intervals of ``grid_months`` (half a month by default); the
predicted score of an interval is its value at the interval's midpoint (the score
moves about half a point in that time).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alsmeds.derive.joint_data import JointFrames
from alsmeds.models.base import EstimationResults
from alsmeds.models.joint.mixed import MixedFit, fit_mixed
from alsmeds.models.joint.prognosis import AlsJointModel

#: Width of the intervals the follow-up is split into (months).
GRID_MONTHS = 0.5
#: Name of the time-varying covariate: the stage-1 prediction of the current ALSFRS-R.
PREDICTED_SCORE = "alsfrs_predicted"


def predicted_score_intervals(
    frames: JointFrames, mixed: MixedFit, level: np.ndarray, slope: np.ndarray, grid_months: float = GRID_MONTHS
) -> pd.DataFrame:
    """Counting-process rows: every patient's follow-up cut into intervals with the predicted score.

    Parameters
    ----------
    frames : JointFrames
        The survival frame gives follow-up, event and covariates (sorted by person_id, as ``mixed``).
    mixed : MixedFit
        Stage 1 (its ``eb_mean``: empirical-Bayes intercept and slope deviations per patient).
    level, slope : array
        Each patient's fixed-effect intercept and slope (``X0 beta_level``, ``X1 beta_slope``).
    grid_months : float
        Interval width.

    Returns
    -------
    DataFrame
        ``person_id``, ``start``, ``stop``, ``event`` (on the last interval), the survival
        frame's covariates and :data:`PREDICTED_SCORE` at the interval's midpoint.
    """
    surv = frames.surv
    T = surv["time_months"].to_numpy(dtype=float)
    counts = np.maximum(np.ceil(T / grid_months - 1e-9).astype(np.int64), 1)
    row_patient = np.repeat(np.arange(len(T)), counts)
    first_row = np.repeat(np.cumsum(counts) - counts, counts)
    k = np.arange(counts.sum()) - first_row
    start = k * grid_months
    stop = np.minimum(start + grid_months, T[row_patient])
    last = k == counts[row_patient] - 1
    intercept = level + mixed.eb_mean[:, 0]
    rate = slope + mixed.eb_mean[:, 1]
    mid = (start + stop) / 2
    out = surv.iloc[row_patient].drop(columns=["time_months", "status"], errors="ignore").reset_index(drop=True)
    out["start"] = start
    out["stop"] = stop
    out["event"] = np.where(last, surv["event"].to_numpy()[row_patient], 0)
    out[PREDICTED_SCORE] = intercept[row_patient] + rate[row_patient] * mid
    return out


@dataclass(frozen=True)
class TwoStageResult(EstimationResults):
    """A two-stage fit: Cox log hazard ratios with the predicted current ALSFRS-R (see the module docstring).

    Attributes
    ----------
    params, bse : Series
        Log hazard ratios (exposures, covariates, :data:`PREDICTED_SCORE`: the association per point)
        and their standard errors (treating the predictions as known).
    cov : DataFrame
    llf : float
        Partial log-likelihood.
    n_intervals, n_patients, n_events : int
    not_estimable : dict
        Terms left out, as the joint model left them out.
    """

    params: pd.Series
    bse: pd.Series
    cov: pd.DataFrame
    llf: float
    n_intervals: int
    n_patients: int
    n_events: int
    not_estimable: dict[str, str] = field(default_factory=dict)

    ratio_name = "hazard_ratio"

    def _describe(self) -> str:
        return "Two-stage: mixed-model predicted ALSFRS-R in a time-varying Cox model"

    def to_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald table of the log hazard ratios (``term`` column first)."""
        return self.wald_table(alpha=alpha, exp=True).rename_axis("term").reset_index()


def fit_two_stage(
    frames: JointFrames, model: AlsJointModel | None = None, grid_months: float = GRID_MONTHS
) -> TwoStageResult:
    """Fit the two-stage model with the same terms as the joint model.

    Parameters
    ----------
    frames : JointFrames
    model : AlsJointModel, optional
        The joint model whose terms (after leaving out what cannot be estimated) both stages use.
    grid_months : float
        Width of the intervals of the time-varying covariate.

    Returns
    -------
    TwoStageResult

    Raises
    ------
    alsmeds.models.joint.prognosis.JointModelError
        When the model cannot be fitted (as for the joint model).
    """
    from lifelines import CoxTimeVaryingFitter

    model = model if model is not None else AlsJointModel()
    reduced, reasons = model.estimable_model(frames)
    jm = reduced.joint_model()
    data = jm.prepare(frames.long, frames.surv)
    mixed = fit_mixed(data)
    p0, p1 = data.X0.shape[1], data.X1.shape[1]
    level = data.X0 @ mixed.theta[:p0]
    slope = data.X1 @ mixed.theta[p0 : p0 + p1]
    rows = predicted_score_intervals(frames, mixed, level, slope, grid_months)
    terms = [*reduced.survival_terms, PREDICTED_SCORE]
    ctv = CoxTimeVaryingFitter()
    ctv.fit(
        rows[["person_id", "start", "stop", "event", *terms]],
        id_col="person_id",
        event_col="event",
        start_col="start",
        stop_col="stop",
        show_progress=False,
    )
    params = ctv.params_.reindex(terms).rename("estimate")
    bse = ctv.standard_errors_.reindex(terms).rename("se")
    cov = pd.DataFrame(ctv.variance_matrix_, index=ctv.params_.index, columns=ctv.params_.index).loc[terms, terms]
    return TwoStageResult(
        params=params,
        bse=bse,
        cov=cov,
        llf=float(ctv.log_likelihood_),
        n_intervals=len(rows),
        n_patients=len(frames.surv),
        n_events=int(frames.surv["event"].sum()),
        not_estimable=reasons,
    )
