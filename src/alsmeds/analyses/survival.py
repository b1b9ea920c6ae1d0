"""Survival after diagnosis: the follow-up summary (``followup.json``) and the Cox models (``survival_cox.*``).

Both analyses work on the study's survival data (:attr:`alsmeds.Study.survival_data`: every
ALS case from its diagnosis date, the first of death or invasive ventilation as the event,
censoring at the end of follow-up or at emigration; the rules are those of
:func:`alsmeds.derive.survival_data.build_survival_data`).  Notebook 05 loads their files
(``StudyResults(study, results_dir)["survival_cox.csv"]``) and shows and explains them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alsmeds.analyses.context import AnalysisContext
from alsmeds.analyses.registry import analysis
from alsmeds.analyses.spec import StudySpec
from alsmeds.models.cox import CoxResult, cox_table, fit_cox_models
from alsmeds.models.km import followup_summary
from alsmeds.reporting.results import write_estimates
from alsmeds.reporting.survival_results import (
    FOLLOWUP_FILE,
    SURVIVAL_COX_COLUMNS,
    SURVIVAL_COX_FILE,
    add_implied,
    write_followup,
)
from alsmeds.study import Study


@analysis("followup", outputs=(FOLLOWUP_FILE,))
def followup(ctx: AnalysisContext) -> list[Path]:
    """Follow-up after diagnosis: counts, person-years, observed and potential (reverse Kaplan-Meier) follow-up.

    Writes ``followup.json`` (:func:`alsmeds.reporting.survival_results.write_followup`): the
    summary of :func:`alsmeds.models.km.followup_summary` (observed follow-up is the time to
    the event or censoring, the paper's measure; potential follow-up, by the reverse
    Kaplan-Meier method, is how long cases would have been followed without the event,
    assuming censoring independent of the event), the quartiles of follow-up the generator
    recorded for this sample (``truth.json`` ``this_sample``; null for a real extract) and
    the data set analysed.
    """
    study = ctx.study
    truth = study.planted_truth
    planted = truth.this_sample["followup_years_quartiles"] if truth is not None else None
    summary = followup_summary(study.survival_data)
    extra = {"planted_sample_followup_years": planted, "data_dir": study.source}
    return [write_followup(summary, ctx.results_dir, extra)]


def fit_study_cox_models(study: Study, spec: StudySpec, **kwargs: Any) -> list[CoxResult]:
    """The study's Cox models: one per class, then the three classes together, with the specification's covariates.

    Parameters
    ----------
    study : Study
        Its survival data are fitted.
    spec : StudySpec
        ``spec.survival.covariates`` is the adjustment set.
    **kwargs
        Further arguments of :func:`alsmeds.models.cox.fit_cox` (e.g. ``run_ph_test=False``).

    Returns
    -------
    list of CoxResult
        :func:`alsmeds.models.cox.fit_cox_models`: the per-class models in the order of the
        classes, the mutually adjusted model last.  Estimand of each exposure coefficient:
        the log hazard ratio of death or invasive ventilation for prediagnostic use,
        conditional on the covariates (a total effect of use after diagnosis), under
        proportional hazards and censoring independent of the event given the covariates.
    """
    return fit_cox_models(study.survival_data, adjustment=survival_covariates(spec), **kwargs)


def survival_covariates(spec: StudySpec) -> tuple[str, ...]:
    """The adjustment set of the Cox models a specification declares (``spec.survival.covariates``)."""
    return tuple(spec.survival.covariates)


@analysis("survival_cox", outputs=(f"{SURVIVAL_COX_FILE}.csv", f"{SURVIVAL_COX_FILE}.json"))
def survival_cox(ctx: AnalysisContext) -> list[Path]:
    """Cox models of death or invasive ventilation after diagnosis by prediagnostic use, beside their planted targets.

    Estimand: the hazard ratio of each class's prediagnostic use conditional on the
    specification's covariates (``spec.survival.covariates``), per class and with the
    three classes together, fitted by the bundle's Cox engine (Efron ties); model-based
    (inverse observed information) SEs and intervals, robust (Lin-Wei sandwich, one
    cluster per patient) SEs and intervals beside them (``robust_*`` columns), and the
    test of proportional hazards per term (R's ``cox.zph``)
    (:func:`alsmeds.models.cox.fit_cox_models`).  It is a total effect of use after
    diagnosis (through faster decline too), assuming proportional hazards and independent
    censoring.  For synthetic data the implied total effect of each exposure term (the
    same model fitted on a large sample of the planted joint model) and the planted direct
    effect are added (:func:`alsmeds.reporting.survival_results.add_implied`); empty for a
    real extract.  Writes ``survival_cox.csv`` and ``.json`` (columns
    :data:`alsmeds.reporting.survival_results.SURVIVAL_COX_COLUMNS`).
    """
    estimates = add_implied(cox_table(fit_study_cox_models(ctx.study, ctx.spec)), ctx.study.planted_truth)
    return write_estimates(estimates, ctx.results_dir, SURVIVAL_COX_FILE, SURVIVAL_COX_COLUMNS)


__all__ = ["fit_study_cox_models", "followup", "survival_covariates", "survival_cox"]
