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
from typing import Any

import pandas as pd

from alsmeds.analyses.context import AnalysisContext
from alsmeds.analyses.registry import analysis
from alsmeds.analyses.spec import StudySpec, read_spec
from alsmeds.derive.joint_data import JointFrames
from alsmeds.models.joint.landmark import prediction_accuracy
from alsmeds.models.joint.prognosis import (
    JOINT_MODEL_RESULT_COLUMNS,
    AlsJointModel,
    AlsJointResult,
    JointModelError,
    not_estimable_rows,
)
from alsmeds.models.joint.two_stage import TwoStageResult, fit_two_stage
from alsmeds.reporting.accuracy_results import (
    PREDICTION_ACCURACY_COLUMNS,
    PREDICTION_CALIBRATION_COLUMNS,
    accuracy_rows,
)
from alsmeds.reporting.joint_results import JOINT_VARIANT_COLUMNS, two_stage_rows
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


_FITS: weakref.WeakKeyDictionary[Study, dict[tuple[Any, ...], JointFits]] = weakref.WeakKeyDictionary()


def study_model(spec: StudySpec | None = None, **changes: str) -> AlsJointModel:
    """The study's joint model as the specification declares it (outcome, censoring, association), with ``changes``."""
    spec = spec if spec is not None else read_spec()
    declared = spec.joint_model
    options = {
        "outcome": declared.outcome,
        "bounds": tuple(declared.censoring_points),
        "association": declared.association,
        **changes,
    }
    return AlsJointModel(**options)


def joint_fits(study: Study, spec: StudySpec | None = None, **changes: str) -> JointFits:
    """The study's joint and two-stage fits (:func:`fit_joint_models` of ``study.joint_data``), fitted once.

    The model is the specification's (:func:`study_model`; default the committed study's:
    the censored outcome, the current-value association), or that with ``changes``
    (``outcome="normal"``, ``association="both"``...).  Cached per study object and model for
    as long as the study lives, so the analyses and notebook 07 (its summary, dynamic
    predictions and checks) share one fit of each model.
    """
    model = study_model(spec, **changes)
    key = (model.outcome, tuple(model.bounds), model.association)
    fits = _FITS.setdefault(study, {})
    if key not in fits:
        fits[key] = fit_joint_models(study.joint_data, model)
    return fits[key]


@analysis("joint_model", outputs=(f"{JOINT_MODEL_FILE}.csv", f"{JOINT_MODEL_FILE}.json"))
def joint_model(ctx: AnalysisContext) -> list[Path]:
    """The joint model of ALSFRS-R and death or invasive ventilation, and the two-stage model beside it.

    Writes ``joint_model.csv`` and ``.json`` (:meth:`JointFits.to_frame`, columns
    :data:`alsmeds.models.joint.prognosis.JOINT_MODEL_RESULT_COLUMNS`).  Estimands and
    assumptions: :func:`fit_joint_models`.  The hazard ratios of use are direct effects (at
    the same current ALSFRS-R), unlike the total effects of the Cox models (``survival_cox``).
    """
    rows = main_model_rows(joint_fits(ctx.study, ctx.spec).to_frame())
    jm = ctx.spec.joint_model
    schema = {
        **JOINT_MODEL_RESULT_COLUMNS,
        "model": f"joint_model: the study's joint model (outcome {jm.outcome}, association {jm.association}: the "
        "study specification's joint_model section); two_stage_cox: the two-stage shortcut with the same terms",
    }
    return write_estimates(rows, ctx.results_dir, JOINT_MODEL_FILE, schema)


def main_model_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The joint model's rows labelled ``joint_model`` whatever its outcome and association (the file says which)."""
    rows = rows.copy()
    rows.loc[rows["model"].astype(str).str.startswith("joint_model"), "model"] = "joint_model"
    return rows


#: The models of ``joint_model_variants.csv``: the paper-like normal outcome, and the censored outcome under each link.
VARIANTS = (("normal", "value"), ("censored", "value"), ("censored", "slope"), ("censored", "both"))


@analysis("joint_model_variants", outputs=("joint_model_variants.csv", "joint_model_variants.json"))
def joint_model_variants(ctx: AnalysisContext) -> list[Path]:
    """The joint model under each outcome and association: what the floor does, and which link fits best.

    One block of rows per model of :data:`VARIANTS`, in the results vocabulary of
    ``joint_model.csv`` (the joint model's rows only), with ``outcome``, ``association`` and the
    fit's ``llf``, ``n_params`` and ``aic`` (``2 k - 2 llf``; comparable between the three
    censored models, which share the data and the likelihood, not with the normal one, whose
    likelihood treats the scores at 0 and 48 as exact).  A model that cannot be fitted is one
    not-estimable row with its reason.
    """
    rows = []
    for outcome, association in VARIANTS:
        fits = joint_fits(ctx.study, ctx.spec, outcome=outcome, association=association)
        block = main_model_rows(fits.to_frame())
        block = block[block["model"] == "joint_model"].copy()
        fit = fits.joint.fit if fits.joint is not None else None
        n_params = len(fit.params) if fit is not None else 0
        block.insert(0, "association", association)
        block.insert(0, "outcome", outcome)
        block["llf"] = float(fit.llf) if fit is not None else float("nan")
        block["n_params"] = n_params
        block["aic"] = 2 * n_params - 2 * block["llf"]
        rows.append(block)
    out = pd.concat(rows, ignore_index=True)
    return write_estimates(out, ctx.results_dir, "joint_model_variants", JOINT_VARIANT_COLUMNS)


@analysis(
    "prediction_accuracy",
    outputs=(
        "prediction_accuracy.csv",
        "prediction_accuracy.json",
        "prediction_calibration.csv",
        "prediction_calibration.json",
    ),
)
def prediction_accuracy_analysis(ctx: AnalysisContext) -> list[Path]:
    """How accurate the dynamic predictions are: the joint model against a landmark Cox model.

    At each landmark ``s`` and horizon ``w`` of the specification, the risk of death or
    invasive ventilation in ``(s, s + w]`` of the patients event-free at ``s`` with a visit by
    ``s``, from the study's joint model (its dynamic prediction given the visits up to ``s``)
    and from a Cox model fitted at the landmark on the last observed ALSFRS-R and the joint
    model's covariates (:mod:`alsmeds.models.joint.landmark`), scored by the IPCW
    time-dependent AUC and Brier score with influence-function SEs
    (:mod:`alsmeds.models.accuracy`, as ``riskRegression::Score``), and the paired differences
    (``model = joint_minus_landmark_cox``): ``prediction_accuracy.{csv,json}``.  Calibration:
    the patients cut into the specification's ``calibration_groups`` groups of equal size by
    predicted risk, each group's mean predicted risk beside its Kaplan-Meier risk by the horizon
    (:func:`alsmeds.models.accuracy.calibration_table`; censoring independent of the event within
    a group): ``prediction_calibration.{csv,json}``.  In sample, as JM's ``aucJM``: both models are
    scored on the patients they were fitted to.  Without a joint model (too few patients or
    events) one row per landmark and horizon of each file says why.
    """
    spec = ctx.spec.joint_model
    fits = joint_fits(ctx.study, ctx.spec)
    if fits.joint is None:
        reasons = pd.DataFrame(
            [
                {"model": "joint", "landmark": s, "horizon": w, "reason": fits.reason}
                for s in spec.landmarks_months
                for w in spec.horizons_months
            ]
        )
        rows = reasons.reindex(columns=list(PREDICTION_ACCURACY_COLUMNS))
        calibration = reasons.reindex(columns=list(PREDICTION_CALIBRATION_COLUMNS))
    else:
        accuracy = prediction_accuracy(
            ctx.study.joint_data,
            fits,
            spec.landmarks_months,
            spec.horizons_months,
            groups=spec.calibration_groups,
        )
        rows = accuracy_rows(accuracy)
        calibration = accuracy.calibration.assign(reason="").reindex(columns=list(PREDICTION_CALIBRATION_COLUMNS))
    return [
        *write_estimates(rows, ctx.results_dir, "prediction_accuracy", PREDICTION_ACCURACY_COLUMNS),
        *write_estimates(calibration, ctx.results_dir, "prediction_calibration", PREDICTION_CALIBRATION_COLUMNS),
    ]
