"""Checks of a fitted joint model by refitting it: quadrature nodes, baseline hazard, sparse visits.

Notebook 07 shows each check beside the study's fit (:func:`alsmeds.analyses.joint.joint_fits`);
none of them is written to a results file.

* :func:`quadrature_check` -- the hazard terms and ``alpha`` refitted with other numbers of
  Gauss-Hermite nodes: a check of the numerical integral, not of the model.
* :func:`baseline_check` -- the same terms with a piecewise-constant baseline hazard instead
  of the Weibull one, and which baseline AIC prefers.
* :func:`first_visits` and :func:`visit_contrast` -- the joint and the two-stage models on
  every visit and on the first two visits of every patient, with the share of follow-up that
  lies after each patient's last visit used (how much of the predicted score is extrapolation).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from alsmeds.derive.joint_data import JointFrames
from alsmeds.models.joint.prognosis import AlsJointModel, AlsJointResult, JointModelError
from alsmeds.models.joint.two_stage import TwoStageResult, fit_two_stage

#: Label of the data of each fit of :func:`visit_contrast`.
ALL_VISITS = "all visits"
FIRST_TWO_VISITS = "first two visits"


def hazard_terms(params: pd.Series | pd.Index) -> list[str]:
    """The terms of the survival submodel (``surv:*``) and ``alpha``, in the fit's order."""
    index = params.index if isinstance(params, pd.Series) else params
    return [t for t in index if t.startswith("surv:") or t == "alpha"]


def first_visits(frames: JointFrames, n: int = 2) -> JointFrames:
    """The same patients and survival data with only the first ``n`` ALSFRS-R visits of each patient.

    What a registry with sparse follow-up would hold; ``selection`` is that of the full frames.
    """
    return replace(frames, long=frames.long.groupby("person_id").head(n).reset_index(drop=True))


def quadrature_check(
    frames: JointFrames, nodes: Sequence[int] = (3, 5, 7), fitted: AlsJointResult | None = None
) -> pd.DataFrame:
    """The survival terms and ``alpha`` refitted with each number of quadrature nodes per random effect.

    Parameters
    ----------
    frames : JointFrames
    nodes : sequence of int
        Gauss-Hermite nodes per random effect of each fit (the study's default is 5).
    fitted : AlsJointResult, optional
        A fit of these frames already made, reused for its number of nodes.

    Returns
    -------
    DataFrame
        Indexed by term: one column ``"<q> nodes"`` per fit, and ``largest change / SE``: the
        range of the estimates over the fits in standard errors of the reference fit (``fitted``,
        else the fit with the default number of nodes, else the last).  A change far below 1
        means the integral is accurate enough at the precision reported; it says nothing about
        whether the model is right.

    Raises
    ------
    JointModelError
        When a refit fails.
    """
    fits = {}
    model = fitted.requested if fitted is not None else AlsJointModel()  # the fitted model's outcome and link
    for q in nodes:
        reuse = fitted is not None and q == fitted.requested.n_nodes
        fits[q] = fitted if reuse else replace(model, n_nodes=q).fit(frames)
    table = pd.DataFrame({f"{q} nodes": fit.params[hazard_terms(fit.params)] for q, fit in fits.items()})
    default = AlsJointModel().n_nodes
    reference = fitted if fitted is not None else fits.get(default, fits[list(fits)[-1]])
    table["largest change / SE"] = (table.max(axis=1) - table.min(axis=1)) / reference.bse.reindex(table.index)
    return table


def baseline_check(
    frames: JointFrames, fitted: AlsJointResult | None, reason: str = ""
) -> tuple[pd.DataFrame | None, str]:
    """The survival terms and ``alpha`` with a Weibull and with a piecewise-constant baseline hazard.

    Parameters
    ----------
    frames : JointFrames
    fitted : AlsJointResult or None
        The Weibull fit of these frames (None when it cannot be fitted: nothing is refitted).
    reason : str
        Why the Weibull model cannot be fitted.

    Returns
    -------
    (DataFrame or None, str)
        Indexed by term: ``Weibull``, ``piecewise`` (seven intervals cut at event-time quantiles,
        as R's JM) and ``difference / SE`` (in SEs of the Weibull fit: far below 1 means the
        parametric choice did not drive the estimates); and the AIC of both fits with the
        baseline it prefers.  None and the reason when either model cannot be fitted.
    """
    if fitted is None:
        return None, f"baseline hazards not compared: the joint model cannot be fitted ({reason or 'no fit'})"
    try:
        piecewise = replace(fitted.requested, baseline="piecewise").fit(frames)  # the same model but the baseline
    except JointModelError as exc:
        return None, f"piecewise-constant baseline: not estimable ({exc})"
    names = hazard_terms(fitted.params)
    table = pd.DataFrame({"Weibull": fitted.params[names], "piecewise": piecewise.params.reindex(names)})
    table["difference / SE"] = (table["piecewise"] - table["Weibull"]) / fitted.bse[names]
    preferred = "Weibull" if fitted.aic < piecewise.aic else "piecewise constant"
    return table, f"AIC: Weibull {fitted.aic:,.1f}, piecewise constant {piecewise.aic:,.1f} ({preferred} preferred)"


def followup_after_last_visit(long: pd.DataFrame, surv: pd.DataFrame) -> float:
    """Share of the total follow-up that lies after each patient's last visit in ``long``.

    A patient without a visit in ``long`` counts from diagnosis.  With the two-stage approach
    the predicted score over that share of follow-up is extrapolated from the visits.
    """
    last = long.groupby("person_id")["months"].max().reindex(surv["person_id"]).fillna(0.0).to_numpy()
    time = surv["time_months"].to_numpy()
    return float(np.clip(time - last, 0, None).sum() / time.sum())


@dataclass(frozen=True)
class VisitContrast:
    """The joint and two-stage models on every visit and on the first two visits of every patient.

    Attributes
    ----------
    fits : dict
        Data label (:data:`ALL_VISITS`, :data:`FIRST_TWO_VISITS`) -> (joint fit, two-stage fit,
        visits used), for the data whose models could be fitted.
    after_last_visit : dict of str to float
        Data label -> :func:`followup_after_last_visit` of the visits used.
    reasons : dict of str to str
        Data label -> why its models could not be fitted.
    """

    fits: dict[str, tuple[AlsJointResult, TwoStageResult, int]] = field(default_factory=dict)
    after_last_visit: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)


def visit_contrast(
    frames: JointFrames,
    joint: AlsJointResult | None,
    two_stage: TwoStageResult | None,
    reason: str = "",
) -> VisitContrast:
    """Refit both models on the first two visits of every patient, beside the fits on every visit.

    Parameters
    ----------
    frames : JointFrames
        Every visit.
    joint, two_stage : fits of ``frames``, or None
        When None (the joint model cannot be fitted) nothing is refitted.
    reason : str
        Why the joint model cannot be fitted.

    Returns
    -------
    VisitContrast
        The survival data are the same in both; only the visits the models see differ.  The
        two-stage ``alpha`` is expected to move towards zero with two visits, where most of the
        follow-up lies after the last visit used, while the joint model's moves less.
    """
    if joint is None or two_stage is None:
        return VisitContrast(reasons={ALL_VISITS: reason or "the joint model was not fitted"})
    sparse = first_visits(frames, 2)
    contrast = VisitContrast(fits={ALL_VISITS: (joint, two_stage, len(frames.long))})
    try:
        model = joint.requested  # the fitted model's outcome and link
        contrast.fits[FIRST_TWO_VISITS] = (model.fit(sparse), fit_two_stage(sparse, model), len(sparse.long))
    except JointModelError as exc:
        contrast.reasons[FIRST_TWO_VISITS] = str(exc)
    for label, long in ((ALL_VISITS, frames.long), (FIRST_TWO_VISITS, sparse.long)):
        contrast.after_last_visit[label] = followup_after_last_visit(long, frames.surv)
    return contrast
