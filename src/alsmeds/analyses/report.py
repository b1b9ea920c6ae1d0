"""The reports across analyses: the reproduction scorecard and the simulation study's summary.

* ``reproduction`` holds every published number beside the planted truth and this study's
  estimate, and every published qualitative finding beside its verdict, each by a stated rule
  (:mod:`alsmeds.reporting.reproduction`).  It reads the results files of the analyses it
  needs and fits nothing.
* ``simstudy_summary`` judges every estimator of the study by the stored simulation study
  (``results/simstudy_estimates.csv.gz``, written by ``alsmeds simstudy``, never by an
  analysis): bias, SEs, coverage and power against the estimands of a ``truth.json``, and
  where the published ratios sit among the replicates (:mod:`alsmeds.reporting.simstudy`).
"""

from __future__ import annotations

from pathlib import Path

from alsmeds.analyses.context import AnalysisContext
from alsmeds.analyses.registry import analysis
from alsmeds.reporting.reproduction import REPRODUCTION_COLUMNS, qualitative_verdicts, reproduction_report, scorecard
from alsmeds.reporting.results import write_estimates
from alsmeds.reporting.simstudy import (
    estimands_truth_file,
    read_stored_replicates,
    read_truth,
    stored_study_file,
    write_summary,
)

#: The analyses whose files the scorecard and the verdicts read (:func:`reproduction`).
REPRODUCTION_NEEDS = (
    "cohort",
    "risk_models",
    "effect_modification",
    "followup",
    "alsfrs_mixed_model",
    "joint_model",
    "empirical_calibration",
)


@analysis("reproduction", outputs=("reproduction.csv", "reproduction.json"), needs=REPRODUCTION_NEEDS)
def reproduction(ctx: AnalysisContext) -> list[Path]:
    """The reproduction scorecard: every published target and finding beside ours, with a status by a stated rule.

    Reads ``01_cohort.json``, ``risk_models.csv``, ``interaction_tests.csv``, ``followup.json``,
    ``alsfrs_mixed_model.csv``, ``joint_model.csv`` and ``empirical_calibration.{csv,json}`` (each
    published odds ratio after empirical calibration beside the uncalibrated one, with the study
    diagnostics that gate it: EASE, minimum detectable OR, balance) of the results folder, and the study's
    planted truth (None for a real extract).  Writes ``reproduction.{csv,json}``
    (:data:`~alsmeds.reporting.reproduction.REPRODUCTION_COLUMNS`): one row per quantitative
    published target (:func:`~alsmeds.reporting.reproduction.scorecard`, the stated rule:
    ``|z| <= 1.96`` combined SEs for a ratio, 10% for a descriptive; the generator's inputs
    *calibrated input* on synthetic data), then one row of kind ``qualitative`` per published
    finding (:func:`~alsmeds.reporting.reproduction.qualitative_verdicts`, the relatives'
    ratios with independent SEs).
    """
    card = scorecard(ctx.results_dir, ctx.study.planted_truth)
    report = reproduction_report(card, qualitative_verdicts(ctx.results_dir))
    return write_estimates(report, ctx.results_dir, "reproduction", REPRODUCTION_COLUMNS)


#: The files of :func:`simstudy_summary`.
SIMSTUDY_OUTPUTS = (
    "simstudy_performance.csv",
    "simstudy_performance.json",
    "simstudy_published.csv",
    "simstudy_published.json",
)


def _simstudy_inputs(ctx: AnalysisContext) -> list[Path]:
    """The stored replicates and the truth file whose estimands judge them."""
    return [stored_study_file(), estimands_truth_file(ctx.study.data_dir)]


@analysis("simstudy_summary", outputs=SIMSTUDY_OUTPUTS, inputs=_simstudy_inputs)
def simstudy_summary(ctx: AnalysisContext) -> list[Path]:
    """The simulation study's performance measures and the published ratios' place among its replicates.

    Reads the stored replicates (the committed ``results/simstudy_estimates.csv.gz``, whatever
    the results folder: :func:`~alsmeds.reporting.simstudy.read_stored_replicates`) and the
    estimands of the study's ``truth.json`` (its data folder's, else the committed one:
    :func:`~alsmeds.reporting.simstudy.estimands_truth_file`).  Writes
    ``simstudy_performance.{csv,json}`` (per estimator: bias, empirical and model SE, coverage,
    bias-eliminated coverage and power, each with its Monte Carlo SE; Morris, White & Crowther
    2019) and ``simstudy_published.{csv,json}`` (per published ratio: its percentile among the
    replicate estimates of the same estimator), :func:`~alsmeds.reporting.simstudy.write_summary`.
    Assumption: the stored replicates were drawn from the generator whose estimands the
    ``truth.json`` holds.
    """
    truth = read_truth(estimands_truth_file(ctx.study.data_dir))
    return write_summary(read_stored_replicates(), ctx.results_dir, truth)
