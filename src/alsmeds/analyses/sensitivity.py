"""Sensitivity analyses of the risk models: a negative-control exposure, the exposure lag, a lagged covariate.

Each function fits the study's conditional logistic models
(:func:`alsmeds.models.risk.fit_risk_model`) on analysis tables the derive layer builds
(:func:`alsmeds.derive.analysis_table.build_analysis_table`), and returns rows in the
risk models' results vocabulary (:data:`alsmeds.models.risk.RESULT_COLUMNS`).  Nothing
here re-derives a study rule: a sensitivity analysis is a change of
:class:`~alsmeds.derive.exposure.ExposureRules` or of the class modelled, and every rule
keeps its one definition in :mod:`alsmeds.derive`.  Nothing is written here (the analysis
:func:`alsmeds.analyses.risk.sensitivity_analyses` writes the results file).  Every fitting
function takes the adjustment sets of the specification as keyword arguments
(``population_covariates``, ``relative_covariates`` of
:class:`~alsmeds.models.risk.RiskModelSpec`; default the study's).

Negative-control exposure
-------------------------
Proton-pump inhibitors (:data:`alsmeds.constants.NEGATIVE_CONTROL`, ATC A02BC) are
classified by exactly the study's rules (rule of two, windows, lag) from their own code
list and modelled exactly like a study class (:func:`fit_negative_control_models`: per
class, lagged and windows, crude and adjusted, population, sibling and spouse controls).
The estimand of each coefficient is, as for a study class, the odds ratio of ALS for the
exposure conditional on the matched set and the covariates.  A drug that cannot cause
ALS has a causal odds ratio of 1, so an estimate away from 1 measures the bias of the
design: confounding that the matching and covariates leave (for population controls,
familial factors that sibling sets hold fixed), and selection or measurement artefacts.
The assumption that makes the contrast informative is that the negative control shares
the study classes' sources of bias (here: the familial factor ``U``) but not their
effect.  In the synthetic data the planted effect is exactly 0 and use depends on ``U``
(:class:`alsmeds.simulate.parameters.NegativeControlParameters`), so a population odds
ratio above 1 with a sibling odds ratio near 1 is what residual familial confounding looks
like; :func:`negative_control_vs_truth` puts the estimates beside the planted null and
the confounded estimand each comparison targets (``truth.json``).

Lag of the exposure
-------------------
:func:`fit_lag_sensitivity` refits the main lagged exposure (first qualifying use more
than ``lag_years`` before the index date; :attr:`ExposureRules.lag_years`) under lags 1
(the study's) and 2: the estimand is the conditional odds ratio of ALS for first use
more than ``lag_years`` before diagnosis.  A longer lag removes more prodromal
prescribing (reverse causation) at the price of fewer exposed people.

Lagged psychiatric-history covariate
------------------------------------
The adjusted models condition on psychiatric history, counted strictly before the index
date, while the exposure ignores the last year.  A psychiatric diagnosis in that
prodromal year may itself follow from ALS; adjusting for it conditions on a consequence
of the outcome's process and may adjust away part of the association.
:func:`fit_psychiatric_history_lag_sensitivity` refits the adjusted main models with the
covariate counted before ``index_date - psychiatric_history_lag_years``
(:attr:`ExposureRules.psychiatric_history_lag_years`; 0 is the study's rule).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES, NEGATIVE_CONTROL
from alsmeds.data.registry import Registry
from alsmeds.derive.analysis_table import build_analysis_table
from alsmeds.derive.exposure import DEFAULT_RULES, ExposureRules
from alsmeds.models.risk import COMPARISONS, RESULT_COLUMNS, RiskModelSpec, fit_risk_model
from alsmeds.truth import Truth, as_truth, distance_z

#: Columns of the rule-sensitivity frames: the two rule parameters varied, then the results vocabulary.
RULE_COLUMNS = ["lag_years", "psychiatric_history_lag_years"]
#: Columns :func:`negative_control_vs_truth` adds to the estimates.
TRUTH_COLUMNS = ["planted_log_or", "implied_log_or", "implied_mc_se", "implied_or", "z_null", "z_implied"]


def negative_control_specs(
    comparisons: Sequence[str] = COMPARISONS, **covariates: tuple[str, ...]
) -> list[RiskModelSpec]:
    """The negative control's models: per class, lagged and windows, crude and adjusted, per comparison.

    The same models as a study class's in :func:`alsmeds.models.risk.standard_specs`
    (the mutually adjusted models are left out: the negative control is not one of the
    classes the study adjusts for each other).
    """
    return [
        RiskModelSpec(comparison, exposure, (NEGATIVE_CONTROL,), adjustment, **covariates)
        for comparison in comparisons
        for exposure in ("lagged", "windows")
        for adjustment in ("crude", "adjusted")
    ]


def fit_negative_control_models(
    table: pd.DataFrame, comparisons: Sequence[str] = COMPARISONS, **covariates: tuple[str, ...]
) -> pd.DataFrame:
    """Fit the negative-control exposure exactly like a study class (see the module docstring).

    Parameters
    ----------
    table : DataFrame
        The analysis table, with the negative control's columns ``cat_ppis`` and
        ``ppis_gt1`` (:data:`alsmeds.derive.analysis_table.NEGATIVE_CONTROL_COLUMNS`).
    comparisons : sequence of str
        Population, sibling and spouse controls by default.

    Returns
    -------
    DataFrame
        :data:`alsmeds.models.risk.RESULT_COLUMNS`, one row per term of
        :func:`negative_control_specs`: ``drug_class`` is ``"ppis"``, ``window`` is
        ``gt1`` (lagged) or ``0_1``/``1_5``/``gt5``.  A term that cannot be estimated (an
        extract where nobody used the class, a comparison without sets) has
        ``estimable=False`` and the reason, as for a study class.
    """
    frames = [fit_risk_model(table, spec).to_frame() for spec in negative_control_specs(comparisons, **covariates)]
    return pd.concat(frames, ignore_index=True)[RESULT_COLUMNS]


def negative_control_truth(truth: Truth | Mapping | None) -> pd.DataFrame:
    """The negative control's planted null and implied estimands of ``truth.json``, one row per term.

    Parameters
    ----------
    truth : Truth, dict or None
        The planted truth (``Study.planted_truth`` or ``Study.truth``); None (a real extract) or a truth without a
        negative control gives an empty frame.

    Returns
    -------
    DataFrame
        ``comparison``, ``adjustment``, ``window``, ``planted_log_or`` (0: no effect),
        ``implied_log_or`` and ``implied_mc_se`` (the confounded log odds ratio of the
        per-class model on planted use in a large sample, and its Monte Carlo SE),
        ``implied_or``.
    """
    columns = ["comparison", "adjustment", "window", "planted_log_or", "implied_log_or", "implied_mc_se", "implied_or"]
    truth = as_truth(truth)
    rows = []
    by_comparison = truth.negative_control_comparisons if truth is not None else {}
    for comparison, adjustments in by_comparison.items():
        for adjustment in adjustments:
            for term, value in truth.negative_control_implied(comparison, adjustment).items():
                rows.append(
                    {
                        "comparison": comparison,
                        "adjustment": adjustment,
                        "window": term[len(truth.negative_control_class) + 1 :],
                        "planted_log_or": truth.negative_control_planted_log_or,
                        "implied_log_or": value.value,
                        "implied_mc_se": value.mc_se,
                        "implied_or": float(np.exp(value.value)),
                    }
                )
    return pd.DataFrame(rows, columns=columns)


def negative_control_vs_truth(estimates: pd.DataFrame, truth: Truth | Mapping | None) -> pd.DataFrame:
    """The negative control's estimates beside its planted null and the estimand each comparison targets.

    Parameters
    ----------
    estimates : DataFrame
        From :func:`fit_negative_control_models`.
    truth : Truth, dict or None
        ``Study.planted_truth`` or ``Study.truth``; None for a real extract (the truth columns are then NaN, and
        ``z_null`` still tests the estimate against the null a negative control should show).

    Returns
    -------
    DataFrame
        The estimates with :data:`TRUTH_COLUMNS`: ``planted_log_or`` (0), ``implied_log_or``,
        ``implied_mc_se``, ``implied_or``, ``z_null = log_or / se`` (distance from no
        association, in standard errors) and ``z_implied = (log_or - implied_log_or) /
        sqrt(se^2 + implied_mc_se^2)`` (distance from the comparison's confounded estimand);
        both are :func:`alsmeds.truth.distance_z`.
    """
    key = ["comparison", "adjustment", "window"]
    merged = estimates.merge(negative_control_truth(truth), on=key, how="left")
    truth_values = ["planted_log_or", "implied_log_or", "implied_mc_se", "implied_or"]
    merged[truth_values] = merged[truth_values].astype(float)  # all NaN without a truth
    merged["z_null"] = distance_z(merged["log_or"], merged["se"], 0.0)
    merged["z_implied"] = distance_z(merged["log_or"], merged["se"], merged["implied_log_or"], merged["implied_mc_se"])
    return merged[RESULT_COLUMNS + TRUTH_COLUMNS]


def fit_main_models(
    table: pd.DataFrame,
    rules: ExposureRules = DEFAULT_RULES,
    comparisons: Sequence[str] = COMPARISONS,
    include_negative_control: bool = True,
    classes: Sequence[str] = CLASSES,
    **covariates: tuple[str, ...],
) -> pd.DataFrame:
    """The main analysis under one set of rules: per class, lagged exposure, adjusted, per comparison.

    Parameters
    ----------
    table : DataFrame
        The analysis table built with ``rules``.
    rules : ExposureRules
        The rules the table was built with (recorded in the rows, not applied here).
    comparisons : sequence of str
    include_negative_control : bool
        Add the negative control's model.

    Returns
    -------
    DataFrame
        :data:`RULE_COLUMNS` (from ``rules``) and :data:`alsmeds.models.risk.RESULT_COLUMNS`.
    """
    classes = (*classes, NEGATIVE_CONTROL) if include_negative_control else tuple(classes)
    frames = [
        fit_risk_model(table, RiskModelSpec(comparison, "lagged", (k,), "adjusted", **covariates)).to_frame()
        for comparison in comparisons
        for k in classes
    ]
    out = pd.concat(frames, ignore_index=True)[RESULT_COLUMNS]
    out.insert(0, "psychiatric_history_lag_years", int(rules.psychiatric_history_lag_years))
    out.insert(0, "lag_years", int(rules.lag_years))
    return out


def _rule_sensitivity(
    registry: Registry,
    variants: Sequence[ExposureRules],
    comparisons: Sequence[str],
    include_negative_control: bool,
    classes: Sequence[str] = CLASSES,
    **covariates: tuple[str, ...],
) -> pd.DataFrame:
    frames = [
        fit_main_models(
            build_analysis_table(registry, rules), rules, comparisons, include_negative_control, classes, **covariates
        )
        for rules in variants
    ]
    return pd.concat(frames, ignore_index=True)


def fit_lag_sensitivity(
    registry: Registry,
    rules: ExposureRules = DEFAULT_RULES,
    lags: Sequence[int] = (1, 2),
    comparisons: Sequence[str] = COMPARISONS,
    include_negative_control: bool = True,
    classes: Sequence[str] = CLASSES,
    **covariates: tuple[str, ...],
) -> pd.DataFrame:
    """The main lagged exposure under several lags, side by side (see the module docstring).

    The estimand for lag ``L``: the conditional odds ratio of ALS for first qualifying
    use more than ``L`` calendar years before the index date
    (:func:`alsmeds.derive.exposure.lagged_use`), against no such use (later starters
    count as unexposed), adjusted as in the main analysis.  Assumes, as the main analysis
    does, that prescribing more than ``L`` years before diagnosis is not prompted by the
    disease.

    Parameters
    ----------
    registry : Registry
        A validated extract (``Study.registry``).
    rules : ExposureRules
        The other rules (``Study.rules``); only ``lag_years`` is varied.
    lags : sequence of int
        Lags in whole calendar years; 1 is the study's.
    comparisons : sequence of str
    include_negative_control : bool
        Add the negative control's model.

    Returns
    -------
    DataFrame
        ``lag_years``, ``psychiatric_history_lag_years`` and
        :data:`alsmeds.models.risk.RESULT_COLUMNS`; per lag, comparison and class one
        row (term ``<class>_gt1``, the column's name whatever the lag).
    """
    return _rule_sensitivity(
        registry,
        [replace(rules, lag_years=int(lag)) for lag in lags],
        comparisons,
        include_negative_control,
        classes,
        **covariates,
    )


def fit_psychiatric_history_lag_sensitivity(
    registry: Registry,
    rules: ExposureRules = DEFAULT_RULES,
    psychiatric_history_lags: Sequence[int] = (0, 1),
    comparisons: Sequence[str] = COMPARISONS,
    include_negative_control: bool = True,
    classes: Sequence[str] = CLASSES,
    **covariates: tuple[str, ...],
) -> pd.DataFrame:
    """The adjusted main models with psychiatric history counted before ``index_date - lag`` (module docstring).

    The exposure is the main one (``rules.lag_years``); the covariate ``psych_history``
    counts diagnoses strictly before the date ``psychiatric_history_lag_years`` calendar
    years before the index date (:func:`alsmeds.derive.exposure.psychiatric_history`).
    With 1 (the exposure's lag) the adjustment no longer uses a diagnosis of the possibly
    prodromal year; the estimand is then the odds ratio conditional on psychiatric
    history up to a year before diagnosis.

    Parameters
    ----------
    registry : Registry
        A validated extract (``Study.registry``).
    rules : ExposureRules
        The other rules; only ``psychiatric_history_lag_years`` is varied.
    psychiatric_history_lags : sequence of int
        0 is the study's rule.
    comparisons : sequence of str
    include_negative_control : bool

    Returns
    -------
    DataFrame
        ``lag_years``, ``psychiatric_history_lag_years`` and
        :data:`alsmeds.models.risk.RESULT_COLUMNS`.
    """
    variants = [replace(rules, psychiatric_history_lag_years=int(lag)) for lag in psychiatric_history_lags]
    return _rule_sensitivity(registry, variants, comparisons, include_negative_control, classes, **covariates)


__all__ = [
    "RULE_COLUMNS",
    "TRUTH_COLUMNS",
    "fit_lag_sensitivity",
    "fit_main_models",
    "fit_negative_control_models",
    "fit_psychiatric_history_lag_sensitivity",
    "negative_control_specs",
    "negative_control_truth",
    "negative_control_vs_truth",
]


def empty_estimates() -> pd.DataFrame:
    """No rows, the risk models' columns: an analysis a specification switched off."""
    return pd.DataFrame(columns=RESULT_COLUMNS)


#: The analyses :func:`stack_sensitivity_analyses` labels, in its ``analysis`` column.
ANALYSES = ("negative_control", "exposure_lag", "psychiatric_history_lag")


def stack_sensitivity_analyses(
    negative_control: pd.DataFrame,
    lags: pd.DataFrame,
    psychiatric_history_lags: pd.DataFrame,
    rules: ExposureRules = DEFAULT_RULES,
) -> pd.DataFrame:
    """The three sensitivity analyses in one frame, for ``results/sensitivity_analyses.{csv,json}``.

    Parameters
    ----------
    negative_control : DataFrame
        :func:`fit_negative_control_models` (fitted under ``rules``).
    lags : DataFrame
        :func:`fit_lag_sensitivity`.
    psychiatric_history_lags : DataFrame
        :func:`fit_psychiatric_history_lag_sensitivity`.
    rules : ExposureRules
        The rules the negative control was fitted under (its two rule columns).

    Returns
    -------
    DataFrame
        ``analysis`` (one of :data:`ANALYSES`), then :data:`RULE_COLUMNS`, then
        :data:`alsmeds.models.risk.RESULT_COLUMNS`; the rows of each input unchanged.
    """
    negative = negative_control[RESULT_COLUMNS].assign(
        lag_years=rules.lag_years, psychiatric_history_lag_years=rules.psychiatric_history_lag_years
    )
    parts = [
        negative.assign(analysis="negative_control"),
        lags.assign(analysis="exposure_lag"),
        psychiatric_history_lags.assign(analysis="psychiatric_history_lag"),
    ]
    return pd.concat([p[["analysis", *RULE_COLUMNS, *RESULT_COLUMNS]] for p in parts], ignore_index=True)
