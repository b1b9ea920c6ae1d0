"""The risk models' implied estimands: the study's conditional logistic models fitted to a large generator sample.

Estimands
---------
* **Implied estimands** (:func:`implied_estimands`) of the comparisons that cannot
  condition on the familial factor ``U`` (population and spouse controls) or that pool
  over age groups: the conditional log odds ratio of ALS for each exposure term that the
  study's model (:func:`alsmeds.models.clogit.fit_clogit` on the designs of
  :mod:`alsmeds.models.design`, population or relative adjustment, mutually adjusted or
  per class, windows or lagged exposure, overall and by the case's age group) converges
  to under the planted mechanism.  The sibling estimand pooled over age groups is one too.
* The **negative control's** estimands (:func:`negative_control_estimands`): its planted
  null and the confounded log odds ratio each comparison targets.
* The **panel of controls'** estimands (:func:`panel_estimands`, issue 25): for every class
  of :mod:`alsmeds.simulate.panel` and comparison, the log odds ratio of the study's main
  model (one class, adjusted; lagged and windows), whose difference from the planted log
  odds ratio is the class's *systematic error*, and the realised null of the negative
  controls (mean and SD of their systematic errors), what empirical calibration estimates.

Neither has a closed form (odds ratios are non-collapsible and ``U`` confounds), so each
is computed numerically: :func:`alsmeds.simulate.truth.simulate_truth_sample` simulates
``truth_scale`` times the paper's sample with the data's parameters and seed on its own
random streams (``truth/...``), and the same model is fitted on the true exposures
(:func:`fit_truth_model`).  The fit's standard error at that size is the estimand's Monte
Carlo standard error (``mc_se``), recorded beside it so that comparisons allow for it.

Assumptions: the model's estimand is what it converges to as the sample grows with the
design fixed (matched sets of the paper's composition), and the truth sample is large
enough (100 times the paper's by default) that its Monte Carlo error is small against the
standard error of a paper-sized estimate.  The true exposure is the study's definition
applied to the true dates of first use, so misclassification by the register is not in the
estimand.

About 30 s at 100 times the paper's sample; :func:`alsmeds.estimands.implied.implied_truth`
caches the result.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsmeds.derive.cohort import COMPARISON_ROLES
from alsmeds.models.clogit import ClogitError, ClogitResult, fit_clogit
from alsmeds.models.design import (
    POPULATION_ADJUSTMENT,
    RELATIVE_ADJUSTMENT,
    covariate_matrix,
    drop_constant_within_sets,
    lagged_indicators,
    window_indicators,
)
from alsmeds.simulate.panel import panel_classes
from alsmeds.simulate.parameters import CLASSES, WINDOWS, SimulationParameters
from alsmeds.simulate.truth import comparison_sets, simulate_truth_sample


def fit_truth_model(
    rows: pd.DataFrame,
    exposure: str,
    adjustment: Sequence[str],
    classes: Sequence[str] = CLASSES,
    interaction_with_young: bool = False,
) -> ClogitResult:
    """Fit one conditional logistic model on the true exposures.

    The estimand of each coefficient is the conditional log odds ratio of ALS within
    the matched set; on a large truth sample the estimate is the comparison's implied
    estimand and its standard error the Monte Carlo error.

    Parameters
    ----------
    rows : DataFrame
        Members of matched sets (see :func:`comparison_sets`).
    exposure : {"windows", "lagged"}
        Window indicators of the true ``cat_<class>``, or the true lagged exposure
        ``<class>_gt1`` (:func:`true_lagged_exposures`), coded by
        :mod:`alsmeds.models.design` as for the analysis table.
    adjustment : sequence of str
        Covariates (see :mod:`alsmeds.models.design`).
    classes : sequence of str
        Classes in the model (all three: mutually adjusted).
    interaction_with_young : bool
        Add exposure x (own age < 65) terms, named ``<term>:young``.

    Returns
    -------
    ClogitResult
        The fit (:func:`alsmeds.models.clogit.fit_clogit`); terms constant within every set are dropped.
    """
    X = window_indicators(rows, classes) if exposure == "windows" else lagged_indicators(rows, classes)
    if interaction_with_young:
        young = (rows["age"].to_numpy() < 65).astype(float)
        X = pd.concat([X, X.mul(young, axis=0).add_suffix(":young")], axis=1)
    X = pd.concat([X, covariate_matrix(rows, adjustment)], axis=1)
    X = drop_constant_within_sets(X, rows["set_id"].to_numpy())
    return fit_clogit(X, (rows["role"] == "case").to_numpy(), rows["set_id"].to_numpy())


def _estimates(result: ClogitResult, terms: Sequence[str]) -> dict[str, dict[str, float]]:
    return {t: {"log_or": float(result.params[t]), "mc_se": float(result.bse[t])} for t in terms}


def implied_estimands(params: SimulationParameters, seed: int, truth_scale: float, progress=None) -> dict:
    """Compute the population, sibling-pooled, spouse and age-stratified estimands numerically.

    Parameters
    ----------
    params, seed, truth_scale, progress
        See :func:`truth_estimands`.

    Returns
    -------
    dict
        JSON-ready ``{model: {term: {"log_or", "mc_se"}}}`` and ``_truth_sample``
        (:func:`truth_estimands` returns it with the negative control's estimands, from the
        same sample).
    """
    return truth_estimands(params, seed, truth_scale, progress)[0]


def truth_estimands(
    params: SimulationParameters, seed: int, truth_scale: float, progress=None
) -> tuple[dict, dict, dict]:
    """The study classes' implied estimands, the negative control's and the panel's, from one simulated sample.

    Parameters
    ----------
    params : SimulationParameters
        Planted parameters.
    seed : int
        Master seed of the data set.
    truth_scale : float
        Sample size in multiples of the paper's (the study population on its own
        random streams, ``truth/...``: :func:`alsmeds.simulate.truth.simulate_truth_sample`).
    progress : tqdm-like, optional
        Updated with the number of cases simulated.

    Returns
    -------
    tuple of dict
        :func:`implied_estimands`'s dict, :func:`negative_control_estimands`'s and
        :func:`panel_estimands`'s (empty when the panel is off).
    """
    people = simulate_truth_sample(params, seed, truth_scale, progress=progress)
    return (
        _implied(params, people, truth_scale),
        negative_control_estimands(params, people),
        panel_estimands(params, people),
    )


#: Share of the truth sample's matched sets the panel's estimands are fitted on: 228 fits (38 classes, 3 comparisons,
#: lagged and windows) on the whole 100-times sample would take about five minutes; on the first 40% of the sets
#: (sets are independent draws) about two, with Monte Carlo SEs near 0.02 for the lagged exposure.
PANEL_TRUTH_SHARE = 0.4


def _panel_fit(rows: pd.DataFrame, exposure: str, adjustment: Sequence[str], group: str) -> dict:
    """One class's per-class model on the truth sample; a term it cannot estimate is None (a small sample)."""
    terms = [f"{group}_gt1"] if exposure == "lagged" else [f"{group}_{w}" for w in WINDOWS]
    try:
        result = fit_truth_model(rows, exposure, adjustment, classes=[group])
    except ClogitError:
        return {t: None for t in terms}
    return {
        t: ({"log_or": float(result.params[t]), "mc_se": float(result.bse[t])} if t in result.params.index else None)
        for t in terms
    }


def panel_estimands(params: SimulationParameters, people: pd.DataFrame) -> dict:
    """The panel's implied estimands: each class's main model in each comparison, and the realised null.

    The estimand of a class is what the study's per-class adjusted conditional logistic model
    (:func:`fit_truth_model`, lagged exposure and windows) converges to on the planted use of a
    large sample; its *systematic error* is that minus the planted log odds ratio (0 for a
    negative control, ``log 1.5``, ``log 2``, ``log 4`` for the synthetic positive controls).  The
    realised null of a comparison and term is the mean and SD (ddof 0) of the negative controls'
    systematic errors: the distribution empirical calibration's null (``N(mu, tau^2)``,
    :func:`alsmeds.models.calibration.fit_null`) estimates, up to the finite panel.  These are of
    planted use (as the negative control's): register misclassification is not in them.

    Parameters
    ----------
    params : SimulationParameters
    people : DataFrame
        A large sample with the panel's columns (:func:`alsmeds.simulate.panel.draw_panel`); the
        fits use its first :data:`PANEL_TRUTH_SHARE` of matched sets (by ``set_id``).

    Returns
    -------
    dict
        JSON-ready, empty when the panel is off or not in ``people``: ``planted_log_or[group]``,
        ``implied[comparison][group][term] = {"log_or", "mc_se"}`` (None when not estimable) for the
        terms ``<group>_gt1``, ``_0_1``, ``_1_5``, ``_gt5``; ``null[comparison][window] = {"mean",
        "sd", "n_controls"}`` over the negative controls (window ``gt1``, ``0_1``, ``1_5``, ``gt5``);
        ``n_people`` (of the sets fitted); ``note``.
    """
    if not params.panel.enabled:
        return {}
    classes = panel_classes(params)
    if any(f"first_use_{k.group}" not in people for k in classes):
        return {}
    n_sets = int(people["set_id"].max()) + 1
    people = people[people["set_id"] < max(1, round(PANEL_TRUTH_SHARE * n_sets))]
    planted = {k.group: float(k.log_or_als) for k in classes}
    negatives = [k.group for k in classes if k.level == "negative_control"]
    implied: dict[str, dict] = {}
    null: dict[str, dict] = {}
    for comparison in COMPARISON_ROLES:
        rows = comparison_sets(people, comparison)
        adjustment = POPULATION_ADJUSTMENT if comparison == "population" else RELATIVE_ADJUSTMENT
        implied[comparison] = {
            g: {**_panel_fit(rows, "lagged", adjustment, g), **_panel_fit(rows, "windows", adjustment, g)}
            for g in planted
        }
        null[comparison] = {}
        for window in ("gt1", *WINDOWS):
            errors = [
                implied[comparison][g][f"{g}_{window}"]["log_or"] - planted[g]
                for g in negatives
                if implied[comparison][g][f"{g}_{window}"] is not None
            ]
            null[comparison][window] = {
                "mean": float(np.mean(errors)) if errors else None,
                "sd": float(np.std(errors)) if errors else None,
                "n_controls": len(errors),
            }
    return {
        "planted_log_or": planted,
        "implied": implied,
        "null": null,
        "n_people": int(len(people)),
        "note": (
            f"implied: the per-class adjusted model's log OR on planted use in the first {PANEL_TRUTH_SHARE:.0%} "
            "of the matched sets of the truth sample of estimands['implied']; mc_se: its standard error; "
            "systematic error = implied log_or - planted_log_or; null: mean and SD (ddof 0) of the negative "
            "controls' systematic errors per comparison and window (gt1: lagged exposure)"
        ),
    }


def negative_control_estimands(params: SimulationParameters, people: pd.DataFrame) -> dict:
    """The planted null of the negative control and the confounded odds ratio each comparison targets.

    The negative control has no effect on ALS (planted log odds ratio 0) but its use
    depends on the familial factor ``U``
    (:class:`~alsmeds.simulate.parameters.NegativeControlParameters`).  Its per-class
    model (one class, as for a study class: the lagged exposure and the windows, crude
    and adjusted) is fitted on the planted use of a large sample: the estimate is the
    comparison's estimand, the odds ratio that confounding by ``U`` (and, for crude
    models of relatives, age and sex) produces.  A sibling comparison holds ``U`` fixed
    and targets 1; population controls cannot and target more than 1; spouses share part
    of ``U``.  These estimands are of planted use: the ~2% of non-users whom sporadic noise
    dispensings make users by the rule of two (slightly more often cases) are not in them
    (:class:`~alsmeds.simulate.parameters.NegativeControlParameters`).

    Parameters
    ----------
    params : SimulationParameters
    people : DataFrame
        From :func:`alsmeds.simulate.population.simulate_study_population` (a large sample).

    Returns
    -------
    dict
        JSON-ready: ``drug_class``, ``planted_log_or`` (0) and
        ``implied[comparison][adjustment][term] = {"log_or", "mc_se"}`` for the terms
        ``<class>_gt1``, ``<class>_0_1``, ``<class>_1_5``, ``<class>_gt5``; ``n_people``.
    """
    k = params.negative_control.drug_class
    implied: dict[str, dict] = {}
    for comparison in COMPARISON_ROLES:
        rows = comparison_sets(people, comparison)
        adjusted = POPULATION_ADJUSTMENT if comparison == "population" else RELATIVE_ADJUSTMENT
        for label, adjustment in (("crude", ()), ("adjusted", adjusted)):
            lagged = fit_truth_model(rows, "lagged", adjustment, classes=[k])
            windows = fit_truth_model(rows, "windows", adjustment, classes=[k])
            implied.setdefault(comparison, {})[label] = {
                **_estimates(lagged, [f"{k}_gt1"]),
                **_estimates(windows, [f"{k}_{w}" for w in WINDOWS]),
            }
    return {
        "drug_class": k,
        "planted_log_or": float(params.negative_control.log_or_als),
        "implied": implied,
        "n_people": int(len(people)),
        "note": (
            "planted_log_or: the negative control's effect on ALS (none). implied: the per-class model's log OR "
            "on planted use at the truth sample (same sample as estimands['implied']), the confounded estimand "
            "of each comparison; mc_se: its standard error"
        ),
    }


def _implied(params: SimulationParameters, people: pd.DataFrame, truth_scale: float) -> dict:
    out: dict[str, dict] = {}
    pop = comparison_sets(people, "population")
    window_terms = [f"{k}_{w}" for k in CLASSES for w in WINDOWS]

    res = fit_truth_model(pop, "windows", POPULATION_ADJUSTMENT)
    out["population_mutual_windows"] = _estimates(res, window_terms)
    res = fit_truth_model(pop, "lagged", POPULATION_ADJUSTMENT)
    out["population_mutual_lagged"] = _estimates(res, [f"{k}_gt1" for k in CLASSES])
    for k in CLASSES:
        res = fit_truth_model(pop, "lagged", POPULATION_ADJUSTMENT, classes=[k])
        out.setdefault("population_per_class", {}).update(_estimates(res, [f"{k}_gt1"]))
        res = fit_truth_model(pop, "windows", POPULATION_ADJUSTMENT, classes=[k])
        out["population_per_class"].update(_estimates(res, [f"{k}_{w}" for w in WINDOWS]))

    case_age = people.loc[people["role"] == "case"].set_index("set_id")["age"]
    young_set = pop["set_id"].map(case_age).to_numpy() < params.risk.age_cutoff
    for label, mask in (("under_65", young_set), ("65_plus", ~young_set)):
        stratum = pop[mask]
        res = fit_truth_model(stratum, "windows", POPULATION_ADJUSTMENT)
        out[f"population_mutual_windows_{label}"] = _estimates(res, window_terms)
        for k in CLASSES:
            res = fit_truth_model(stratum, "lagged", POPULATION_ADJUSTMENT, classes=[k])
            out.setdefault(f"population_per_class_{label}", {}).update(_estimates(res, [f"{k}_gt1"]))

    for comparison in [c for c in COMPARISON_ROLES if c != "population"]:
        rows = comparison_sets(people, comparison)
        res = fit_truth_model(rows, "windows", RELATIVE_ADJUSTMENT)
        out[f"{comparison}_mutual_windows"] = _estimates(res, window_terms)
        for k in CLASSES:
            res = fit_truth_model(rows, "lagged", RELATIVE_ADJUSTMENT, classes=[k])
            out.setdefault(f"{comparison}_per_class", {}).update(_estimates(res, [f"{k}_gt1"]))
    out["_truth_sample"] = {
        "truth_scale": truth_scale,
        "n_people": int(len(people)),
        "n_cases": int((people["role"] == "case").sum()),
        "note": "log_or: estimate on truth_scale x the paper's sample; mc_se: its standard error",
    }
    return out


__all__ = ["fit_truth_model", "implied_estimands", "negative_control_estimands", "panel_estimands", "truth_estimands"]
