"""The planted truth and the estimands it implies.

Two kinds of truth are recorded in ``truth.json``:

* **Structural** parameters, planted directly: the within-family conditional log
  odds ratios ``beta`` per class, window and age group (what a mutually adjusted
  sibling comparison with an exposure x age-group interaction estimates), the
  ALSFRS-R slopes and the joint-model hazard ratios.
* **Implied estimands** of comparisons that cannot condition on the familial factor
  (population and spouse controls) or that pool over age groups.  They have no closed
  form (odds ratios are non-collapsible and the familial factor confounds), so they
  are computed numerically: the same generator simulates ``truth_scale`` times the
  paper's sample on its own random stream and the same conditional logistic model is
  fitted on the true exposures.  Their Monte Carlo standard error is recorded beside
  them so that tests can allow for it.
* The **negative control** (proton-pump inhibitors): its planted null (log odds ratio 0)
  and the confounded estimand of each comparison, from the same large sample
  (:func:`negative_control_estimands`).

True exposures
--------------
The generator draws each person's true date of first qualifying use
(``first_use_<class>``) and window code (``cat_<class>``, the windows of
:func:`alsmeds.derive.exposure.window_category`).  The lagged exposure of the truth
models is the study's definition applied to the true date
(:func:`true_lagged_exposures`, by :func:`alsmeds.derive.exposure.lagged_use` with the
study's one-year lag), the column ``<class>_gt1`` the analysis table has; the design
(:mod:`alsmeds.models.design`) then codes it exactly as for the register data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsmeds.derive.cohort import COMPARISON_ROLES
from alsmeds.derive.exposure import DEFAULT_RULES, lagged_use
from alsmeds.models.clogit import fit_clogit
from alsmeds.models.design import (
    POPULATION_ADJUSTMENT,
    RELATIVE_ADJUSTMENT,
    covariate_matrix,
    drop_constant_within_sets,
    lagged_indicators,
    window_indicators,
)
from alsmeds.published import PUBLISHED_RISK
from alsmeds.simulate.parameters import CLASSES, NEGATIVE_CONTROL, WINDOWS, SimulationParameters
from alsmeds.simulate.population import simulate_study_population


def true_lagged_exposures(people: pd.DataFrame, lag_years: int = DEFAULT_RULES.lag_years) -> pd.DataFrame:
    """The true lagged exposure ``<class>_gt1`` of every simulated person, by the study's definition.

    Applies :func:`alsmeds.derive.exposure.lagged_use` (the definition the analysis
    table uses) to the generator's true date of first qualifying use.

    Parameters
    ----------
    people : DataFrame
        From :func:`alsmeds.simulate.population.simulate_study_population`
        (``index_date`` and ``first_use_<class>``).
    lag_years : int
        The lag (the study's: 1 year).

    Returns
    -------
    DataFrame
        A copy of ``people`` with ``<class>_gt1`` (int8) per class, and for the negative
        control when ``people`` has its ``first_use_<class>``.
    """
    out = people.copy()
    for k in (*CLASSES, NEGATIVE_CONTROL):
        if f"first_use_{k}" in people:
            out[f"{k}_gt1"] = lagged_use(
                people[f"first_use_{k}"].to_numpy(), people["index_date"].to_numpy(), lag_years
            )
    return out


def comparison_sets(people: pd.DataFrame, comparison: str) -> pd.DataFrame:
    """Rows of one comparison, with the true lagged exposures: the cases with their controls of that comparison.

    Parameters
    ----------
    people : DataFrame
        From :func:`alsmeds.simulate.population.simulate_study_population`.
    comparison : {"population", "sibling", "spouse"}
        The controls' role is :data:`alsmeds.derive.cohort.COMPARISON_ROLES` ``[comparison]``.

    Returns
    -------
    DataFrame
        The rows of the sets with at least one such control, with ``<class>_gt1``
        (:func:`true_lagged_exposures`).
    """
    role = COMPARISON_ROLES[comparison]
    rows = people[(people["role"] == "case") | (people["role"] == role)]
    has_control = rows.loc[rows["role"] == role, "set_id"].unique()
    return true_lagged_exposures(rows[rows["set_id"].isin(has_control)])


def fit_truth_model(
    rows: pd.DataFrame,
    exposure: str,
    adjustment: Sequence[str],
    classes: Sequence[str] = CLASSES,
    interaction_with_young: bool = False,
):
    """Fit one conditional logistic model on the true exposures.

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
    """
    X = window_indicators(rows, classes) if exposure == "windows" else lagged_indicators(rows, classes)
    if interaction_with_young:
        young = (rows["age"].to_numpy() < 65).astype(float)
        X = pd.concat([X, X.mul(young, axis=0).add_suffix(":young")], axis=1)
    X = pd.concat([X, covariate_matrix(rows, adjustment)], axis=1)
    X = drop_constant_within_sets(X, rows["set_id"].to_numpy())
    return fit_clogit(X, (rows["role"] == "case").to_numpy(), rows["set_id"].to_numpy())


def _estimates(result, terms: Sequence[str]) -> dict[str, dict[str, float]]:
    return {t: {"log_or": float(result.params[t]), "mc_se": float(result.bse[t])} for t in terms}


def implied_estimands(params: SimulationParameters, seed: int, truth_scale: float, progress=None) -> dict:
    """Compute the population, sibling-pooled, spouse and age-stratified estimands numerically.

    Returns a JSON-ready dict of ``{model: {term: {"log_or", "mc_se"}}}``
    (:func:`truth_estimands` returns it with the negative control's estimands, from the
    same sample).
    """
    return truth_estimands(params, seed, truth_scale, progress)[0]


def truth_estimands(params: SimulationParameters, seed: int, truth_scale: float, progress=None) -> tuple[dict, dict]:
    """The study classes' implied estimands and the negative control's, from one simulated sample.

    Parameters
    ----------
    params : SimulationParameters
    seed : int
    truth_scale : float
        Sample size in multiples of the paper's (the study population on its own
        random streams, ``truth/...``).
    progress : tqdm-like, optional

    Returns
    -------
    tuple of dict
        :func:`implied_estimands`'s dict, and :func:`negative_control_estimands`'s.
    """
    people = simulate_study_population(params, seed, truth_scale, progress=progress, step_prefix="truth/")
    return _implied(params, people, truth_scale), negative_control_estimands(params, people)


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


def structural_truth(params: SimulationParameters) -> dict:
    """The planted within-family log odds ratios, per class, window and age group."""
    r = params.risk
    return {
        f"{k}_{w}": {
            "log_or_under_65": float(r.log_or_young[k][w]),
            "log_or_65_plus": float(r.log_or_old[k][w]),
        }
        for k in CLASSES
        for w in WINDOWS
    }


def published_comparison(estimands: dict) -> list[dict]:
    """Published odds ratios beside the implied population per-class estimands."""
    rows = []
    for (k, w), (or_, lo, hi) in PUBLISHED_RISK.items():
        term = f"{k}_{w}"
        implied = estimands["population_per_class"][term]["log_or"]
        rows.append(
            {
                "term": term,
                "published_or": or_,
                "published_lower": lo,
                "published_upper": hi,
                "implied_or": round(float(np.exp(implied)), 4),
            }
        )
    return rows
