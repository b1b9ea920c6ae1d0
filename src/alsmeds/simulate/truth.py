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
from alsmeds.simulate.parameters import CLASSES, WINDOWS, SimulationParameters
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
        A copy of ``people`` with ``<class>_gt1`` (int8) per class.
    """
    out = people.copy()
    for k in CLASSES:
        out[f"{k}_gt1"] = lagged_use(people[f"first_use_{k}"].to_numpy(), people["index_date"].to_numpy(), lag_years)
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

    Returns a JSON-ready dict of ``{model: {term: {"log_or", "mc_se"}}}``.
    """
    people = simulate_study_population(params, seed, truth_scale, progress=progress, step_prefix="truth/")
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
