"""The planted truth, and the large samples of the generator its implied estimands are computed on.

Two kinds of truth are recorded in ``truth.json``:

* **Structural** parameters, planted directly: the within-family conditional log
  odds ratios ``beta`` per class, window and age group (what a mutually adjusted
  sibling comparison with an exposure x age-group interaction estimates,
  :func:`structural_truth`), the ALSFRS-R slopes and the joint-model hazard ratios.
  The generator (:func:`alsmeds.simulate.generate`) writes these.
* **Implied estimands** of comparisons that cannot condition on the familial factor
  (population and spouse controls) or that pool over age groups, and the negative
  control's confounded estimands.  They have no closed form (odds ratios are
  non-collapsible and the familial factor confounds), so they are computed numerically
  by fitting the study's models to a large sample of the generator: the sample is
  simulated here (:func:`simulate_truth_sample`, ``truth_scale`` times the paper's on its
  own random streams ``truth/...``), the fits are in the layer above,
  :mod:`alsmeds.estimands.risk`.  The generator fits no model.

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

import numpy as np
import pandas as pd

from alsmeds.derive.cohort import COMPARISON_ROLES
from alsmeds.derive.exposure import DEFAULT_RULES, lagged_use
from alsmeds.published import PUBLISHED_RISK
from alsmeds.simulate.parameters import CLASSES, NEGATIVE_CONTROL, WINDOWS, SimulationParameters
from alsmeds.simulate.population import simulate_study_population

#: Default size of the risk estimands' truth sample, in multiples of the paper's sample.
DEFAULT_TRUTH_SCALE = 100.0
#: Prefix of the random streams of the truth sample (disjoint from the data's and the Cox truth's).
TRUTH_STEP_PREFIX = "truth/"
#: The sections of ``truth.json["estimands"]`` computed by fitting models to a truth sample
#: (:func:`alsmeds.estimands.implied.implied_truth`); the generator leaves them empty.
IMPLIED_SECTIONS = ("implied", "published_vs_implied", "implied_cox", "negative_control", "panel_implied")


def empty_implied_truth() -> dict:
    """The implied sections as the generator writes them: empty (:data:`IMPLIED_SECTIONS`).

    Returns
    -------
    dict
        ``implied``, ``implied_cox``, ``negative_control`` and ``panel_implied`` ``{}``;
        ``published_vs_implied`` ``[]``.
    """
    return {"implied": {}, "published_vs_implied": [], "implied_cox": {}, "negative_control": {}, "panel_implied": {}}


def simulate_truth_sample(params: SimulationParameters, seed: int, truth_scale: float, progress=None) -> pd.DataFrame:
    """Simulate the large study population the risk models' implied estimands are computed on.

    The same generator as the data (:func:`alsmeds.simulate.population.simulate_study_population`),
    with the same parameters and master seed, on its own random streams
    (:data:`TRUTH_STEP_PREFIX`), so that computing the estimands never changes a table.

    Parameters
    ----------
    params : SimulationParameters
        Planted parameters.
    seed : int
        Master seed of the data set.
    truth_scale : float
        Sample size in multiples of the paper's (:data:`DEFAULT_TRUTH_SCALE`: 100).
    progress : tqdm-like, optional
        Updated with the number of cases accepted.

    Returns
    -------
    DataFrame
        One row per person, as :func:`~alsmeds.simulate.population.simulate_study_population` returns.
    """
    return simulate_study_population(params, seed, truth_scale, progress=progress, step_prefix=TRUTH_STEP_PREFIX)


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
        control and each class of the panel (:mod:`alsmeds.simulate.panel`) whose
        ``first_use_<class>`` ``people`` has.
    """
    out = people.copy()
    others = [c[len("first_use_") :] for c in people.columns if c.startswith("first_use_")]
    for k in dict.fromkeys((*CLASSES, NEGATIVE_CONTROL, *others)):
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
