"""Risk of ALS: Table 2's conditional logistic models, their sensitivity analyses and the subgroup analyses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alsmeds.analyses import sensitivity
from alsmeds.analyses.context import AnalysisContext
from alsmeds.analyses.registry import analysis
from alsmeds.analyses.spec import StudySpec
from alsmeds.models.risk import fit_standard_models
from alsmeds.models.stratified import effect_modification
from alsmeds.reporting.results import (
    INTERACTION_COLUMNS,
    RISK_MODEL_COLUMNS,
    SENSITIVITY_COLUMNS,
    STRATIFIED_COLUMNS,
    write_estimates,
)


def covariate_sets(spec: StudySpec) -> dict[str, tuple[str, ...]]:
    """The adjustment sets of the risk models (``RiskModelSpec`` fields) a specification declares."""
    return {
        "population_covariates": tuple(spec.risk_models.population_covariates),
        "relative_covariates": tuple(spec.risk_models.relative_covariates),
    }


def risk_model_options(spec: StudySpec) -> dict[str, Any]:
    """Everything :func:`alsmeds.models.risk.fit_standard_models` takes from a specification."""
    rm = spec.risk_models
    return {
        "comparisons": tuple(rm.comparisons),
        "classes": tuple(rm.drug_classes),
        "exposures": tuple(rm.exposures),
        "adjustments": tuple(rm.adjustments),
        "mutually_adjusted": rm.mutually_adjusted,
        **covariate_sets(spec),
    }


@analysis("risk_models", outputs=("risk_models.csv", "risk_models.json"))
def risk_models(ctx: AnalysisContext) -> list[Path]:
    """Table 2: odds ratios of ALS by prediagnostic use, per comparison, exposure coding and adjustment.

    Estimand: the odds ratio conditional on the matched set (and the adjustment set),
    from conditional logistic regression (:func:`alsmeds.models.risk.fit_standard_models`).
    """
    estimates = fit_standard_models(ctx.study.analysis_table, **risk_model_options(ctx.spec))
    return write_estimates(estimates, ctx.results_dir, "risk_models", RISK_MODEL_COLUMNS)


@analysis("sensitivity_analyses", outputs=("sensitivity_analyses.csv", "sensitivity_analyses.json"))
def sensitivity_analyses(ctx: AnalysisContext) -> list[Path]:
    """The negative-control exposure, the exposure lag and the lagged psychiatric-history covariate.

    See :mod:`alsmeds.analyses.sensitivity` for the estimands.  The negative control is
    fitted in every comparison of the risk models; the two rule variations in
    ``spec.sensitivity.comparisons``.
    """
    spec, study = ctx.spec, ctx.study
    covariates = covariate_sets(spec)
    comparisons = tuple(spec.sensitivity.comparisons)
    negative = (
        sensitivity.fit_negative_control_models(study.analysis_table, tuple(spec.risk_models.comparisons), **covariates)
        if spec.sensitivity.negative_control
        else sensitivity.empty_estimates()
    )
    options = {
        "include_negative_control": spec.sensitivity.negative_control,
        "comparisons": comparisons,
        "classes": tuple(spec.risk_models.drug_classes),
        **covariates,
    }
    lags = sensitivity.fit_lag_sensitivity(study.registry, study.rules, spec.sensitivity.exposure_lags, **options)
    psych = sensitivity.fit_psychiatric_history_lag_sensitivity(
        study.registry, study.rules, spec.sensitivity.psychiatric_history_lags, **options
    )
    stacked = sensitivity.stack_sensitivity_analyses(negative, lags, psych, study.rules)
    return write_estimates(stacked, ctx.results_dir, "sensitivity_analyses", SENSITIVITY_COLUMNS)


@analysis(
    "effect_modification",
    outputs=("effect_modification.csv", "effect_modification.json", "interaction_tests.csv", "interaction_tests.json"),
)
def effect_modification_analysis(ctx: AnalysisContext) -> list[Path]:
    """Subgroup analyses: per-class odds ratios by the case's age group and sex, with interaction tests.

    :func:`alsmeds.models.stratified.effect_modification` with the specification's
    stratifiers, age cut-off and exposure coding.
    """
    spec = ctx.spec
    em = spec.effect_modification
    estimates, tests = effect_modification(
        ctx.study.analysis_table,
        exposure=em.exposure,
        age_cutoff=em.age_cutoff,
        comparisons=tuple(spec.risk_models.comparisons),
        stratifiers=tuple(em.stratifiers),
        classes=tuple(spec.risk_models.drug_classes),
        **covariate_sets(spec),
    )
    written = write_estimates(estimates, ctx.results_dir, "effect_modification", STRATIFIED_COLUMNS)
    return written + write_estimates(tests, ctx.results_dir, "interaction_tests", INTERACTION_COLUMNS)
