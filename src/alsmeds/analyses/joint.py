"""The joint model of ALSFRS-R decline and death or invasive ventilation: ``joint_model.csv`` and ``.json``.

Notebook 07 loads the file (``StudyResults(study, results_dir)["joint_model.csv"]``) and
shows and explains it; for what the file cannot hold (the fit's summary, dynamic
predictions, refits that check the fit) it calls :func:`joint_fits`, which fits once per
study and process, so the notebook and the analysis share one fit.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from alsmeds.analyses.context import AnalysisContext
from alsmeds.analyses.registry import analysis
from alsmeds.derive.joint_data import JointFrames
from alsmeds.models.joint.prognosis import (
    JOINT_MODEL_RESULT_COLUMNS,
    AlsJointModel,
    AlsJointResult,
    JointModelError,
    not_estimable_rows,
)
from alsmeds.models.joint.two_stage import TwoStageResult, fit_two_stage
from alsmeds.reporting.joint_results import two_stage_rows
from alsmeds.reporting.results import write_estimates
from alsmeds.study import Study

#: Name of the results files (``joint_model.csv`` and ``.json``).
JOINT_MODEL_FILE = "joint_model"


@dataclass(frozen=True)
class JointFits:
    """The joint model and the two-stage model fitted to one study's frames.

    Attributes
    ----------
    frames : JointFrames
        The visits and the survival rows fitted (:attr:`alsmeds.Study.joint_data`).
    joint : AlsJointResult or None
        The joint model (None when it cannot be fitted: ``reason`` says why).
    two_stage : TwoStageResult or None
        The two-stage model with the same terms (fitted only when the joint model was).
    reason : str
        Why the joint model cannot be fitted ("" when it was).
    """

    frames: JointFrames
    joint: AlsJointResult | None
    two_stage: TwoStageResult | None
    reason: str = ""

    def to_frame(self) -> pd.DataFrame:
        """The rows of ``joint_model.csv``: both fits, or one not-estimable row per class with the reason.

        Returns
        -------
        DataFrame
            Columns :data:`alsmeds.models.joint.prognosis.JOINT_MODEL_RESULT_COLUMNS`: the joint
            model's rows (``model = joint_model``: submodels, association, baseline, variance
            components, fit statistics) followed by the two-stage rows (``two_stage_cox``).
        """
        if self.joint is not None and self.two_stage is not None:
            return pd.concat([self.joint.to_frame(), two_stage_rows(self.two_stage)], ignore_index=True)
        frames = self.frames
        return not_estimable_rows(
            self.reason,
            n_obs=len(frames.long),
            n_patients=frames.n_patients,
            n_events=frames.n_events,
            classes=frames.classes,
        )

    def summary(self) -> str:
        """The joint model's summary (:meth:`AlsJointResult.summary`), or why it cannot be fitted."""
        if self.joint is None:
            return f"the joint model cannot be fitted to these data: {self.reason}"
        return self.joint.summary()


def fit_joint_models(frames: JointFrames, model: AlsJointModel | None = None) -> JointFits:
    """Fit the joint model and, when it can be fitted, the two-stage model with the same terms.

    Parameters
    ----------
    frames : JointFrames
        :attr:`alsmeds.Study.joint_data`.
    model : AlsJointModel, optional
        Default: the study's model (Weibull baseline, 5 quadrature nodes per random effect).

    Returns
    -------
    JointFits
        Estimands: the direct log hazard ratio of prediagnostic use of each class (users
        against non-users with the same current true ALSFRS-R and covariates), the
        association ``alpha`` per point of the current true score and the ALSFRS-R fixed
        effects (:mod:`alsmeds.models.joint.prognosis`), under a linear decline with normal
        random intercept and slope, proportional hazards in the current value and visits and
        censoring non-informative given the random effects; the two-stage model
        (:func:`alsmeds.models.joint.two_stage.fit_two_stage`) estimates the same hazard with
        the mixed model's predicted score taken as known.  A model that cannot be fitted
        (:class:`JointModelError`) is reported with its reason, never raised.
    """
    model = model if model is not None else AlsJointModel()
    try:
        joint = model.fit(frames)
    except JointModelError as exc:  # too few patients or events
        return JointFits(frames, None, None, str(exc))
    return JointFits(frames, joint, fit_two_stage(frames, model))


_FITS: weakref.WeakKeyDictionary[Study, JointFits] = weakref.WeakKeyDictionary()


def joint_fits(study: Study) -> JointFits:
    """The study's joint and two-stage fits (:func:`fit_joint_models` of ``study.joint_data``), fitted once.

    Cached per study object for as long as it lives, so the analysis :func:`joint_model` and
    notebook 07 (its summary, dynamic predictions and checks) share one fit of tens of seconds.
    """
    if study not in _FITS:
        _FITS[study] = fit_joint_models(study.joint_data)
    return _FITS[study]


@analysis("joint_model", outputs=(f"{JOINT_MODEL_FILE}.csv", f"{JOINT_MODEL_FILE}.json"))
def joint_model(ctx: AnalysisContext) -> list[Path]:
    """The joint model of ALSFRS-R and death or invasive ventilation, and the two-stage model beside it.

    Writes ``joint_model.csv`` and ``.json`` (:meth:`JointFits.to_frame`, columns
    :data:`alsmeds.models.joint.prognosis.JOINT_MODEL_RESULT_COLUMNS`).  Estimands and
    assumptions: :func:`fit_joint_models`.  The hazard ratios of use are direct effects (at
    the same current ALSFRS-R), unlike the total effects of the Cox models (``survival_cox``).
    """
    rows = joint_fits(ctx.study).to_frame()
    return write_estimates(rows, ctx.results_dir, JOINT_MODEL_FILE, JOINT_MODEL_RESULT_COLUMNS)
