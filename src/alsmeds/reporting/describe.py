"""Descriptive summaries of the study population (counts, demographics, matched sets, truth)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES, WINDOW_LABELS, WINDOWS
from alsmeds.formatting import fixed, format_p, format_ratio, rounded  # noqa: F401 (one definition, re-exported)
from alsmeds.models.terms import split_term
from alsmeds.truth import Truth, as_truth

ROLE_ORDER = ("case", "population_control", "sibling", "spouse")
ROLE_LABELS = {
    "case": "ALS cases",
    "population_control": "Population controls",
    "sibling": "Full siblings",
    "spouse": "Spouses",
}


def members(set_members: pd.DataFrame) -> pd.DataFrame:
    """Every member of every matched set, its role an ordered category (cases first) for tables and figures.

    Parameters
    ----------
    set_members : DataFrame
        :func:`alsmeds.derive.cohort.set_members` (``Study.members``): one row per person
        and set, with ``sex``, ``age`` at the index date and the other covariates.

    Returns
    -------
    DataFrame
        The same rows, ``role`` ordered case, population control, sibling, spouse.
    """
    out = set_members.copy()
    out["role"] = pd.Categorical(out["role"], categories=ROLE_ORDER, ordered=True)
    return out


def role_counts(members_frame: pd.DataFrame) -> pd.DataFrame:
    """People and matched sets per role (a set counts for a role when it has a member of it)."""
    grouped = members_frame.groupby("role", observed=False)
    return pd.DataFrame(
        {
            "people": grouped["person_id"].nunique(),
            "matched_sets": grouped["case_id"].nunique(),
        }
    ).rename_axis("role")


def demographics_by_role(members_frame: pd.DataFrame) -> pd.DataFrame:
    """Age at the index date (mean, SD, quartiles) and share of men, per role."""
    grouped = members_frame.groupby("role", observed=False)
    return pd.DataFrame(
        {
            "n": grouped.size(),
            "age_mean": grouped["age"].mean(),
            "age_sd": grouped["age"].std(),
            "age_q25": grouped["age"].quantile(0.25),
            "age_median": grouped["age"].median(),
            "age_q75": grouped["age"].quantile(0.75),
            "male_percent": grouped["sex"].apply(lambda s: 100 * (s == "male").mean()),
            "under_65_percent": grouped["age"].apply(lambda a: 100 * (a < 65).mean()),
        }
    )


def composition_sentence(composition: pd.DataFrame) -> str:
    """One sentence on how complete the matched sets of :func:`set_composition` are.

    Counts the sets with the most population controls any set has, with fewer and with
    none; the share of cases with at least one full sibling and with a spouse; and the
    cases with no control at all (uninformative for the risk models).
    """
    n = len(composition)
    if n == 0:
        return "no matched sets"
    pc = composition["population_controls"]
    most = int(pc.max())
    alone = int(((pc == 0) & (composition["siblings"] == 0) & ~composition["has_spouse"]).sum())
    parts = [
        f"{n:,} matched sets: {int((pc == most).sum()):,} with {most} population controls, "
        f"{int(((pc > 0) & (pc < most)).sum()):,} with fewer and {int((pc == 0).sum()):,} with none",
        f"{(composition['siblings'] > 0).mean():.0%} of the cases have at least one full sibling in the set "
        f"and {composition['has_spouse'].mean():.0%} a spouse",
        f"{alone:,} case{'s have' if alone != 1 else ' has'} no control at all",
    ]
    return "; ".join(parts) + "."


def set_composition(members_frame: pd.DataFrame) -> pd.DataFrame:
    """One row per matched set: how many population controls and siblings, and whether a spouse."""
    counts = pd.crosstab(members_frame["case_id"], members_frame["role"]).reindex(columns=ROLE_ORDER, fill_value=0)
    return pd.DataFrame(
        {
            "population_controls": counts["population_control"],
            "siblings": counts["sibling"],
            "has_spouse": counts["spouse"] > 0,
        }
    )


def _require_truth(truth: Truth | Mapping[str, Any] | None) -> Truth:
    truth = as_truth(truth)
    if truth is None:
        raise ValueError("no planted truth: this extract has no truth.json (a real register extract)")
    return truth


def truth_table(truth: Truth | Mapping[str, Any]) -> pd.DataFrame:
    """The planted odds ratios beside the estimands they imply, one row per class and window.

    Columns: within-family ORs by age group (planted), and the odds ratios a
    population, sibling and spouse comparison estimates on true exposures
    (computed numerically by the generator), mutually adjusted for the other classes.

    Raises
    ------
    ValueError
        When ``truth`` is None (an extract without ``truth.json``).
    """
    truth = _require_truth(truth)
    rows = []
    for k in CLASSES:
        for w in WINDOWS:
            term = f"{k}_{w}"
            rows.append(
                {
                    "class": k,
                    "window": WINDOW_LABELS[w],
                    "planted OR <65": np.exp(truth.within_family_log_or(term, "under_65")),
                    "planted OR 65+": np.exp(truth.within_family_log_or(term, "65_plus")),
                    **{
                        f"{comparison} OR": np.exp(truth.implied_log_or(f"{comparison}_mutual_windows", term).value)
                        for comparison in ("population", "sibling", "spouse")
                    },
                }
            )
    return pd.DataFrame(rows).set_index(["class", "window"])


def published_table(truth: Truth | Mapping[str, Any]) -> pd.DataFrame:
    """The six published odds ratios beside the population estimand planted for them.

    Raises
    ------
    ValueError
        When ``truth`` is None (an extract without ``truth.json``).
    """
    truth = _require_truth(truth)
    frame = pd.DataFrame(truth.published_vs_implied)
    frame[["class", "window"]] = [split_term(term) for term in frame["term"]]
    frame["window"] = frame["window"].map({**WINDOW_LABELS, "gt1": ">1 y (last year excluded)"})
    frame["published 95% CI"] = frame.apply(lambda r: f"{r.published_lower:.2f}-{r.published_upper:.2f}", axis=1)
    return frame.set_index(["class", "window"])[["published_or", "published 95% CI", "implied_or"]].rename(
        columns={"published_or": "published OR", "implied_or": "planted population OR"}
    )


def implied_estimand_table(truth: Truth | Mapping[str, Any], model: str) -> pd.DataFrame:
    """A numerically computed estimand of ``truth.json`` as drug_class, window, log_or, mc_se, odds_ratio.

    ``model`` is a key of :attr:`alsmeds.truth.Truth.implied_models`, e.g. ``"population_mutual_windows"``
    or ``"population_per_class"``.  Raises ``ValueError`` when ``truth`` is None.  (The
    estimands are computed by :func:`alsmeds.estimands.risk.implied_estimands`; this
    only reads them back.)
    """
    truth = _require_truth(truth)
    rows = []
    for term, value in truth.implied_terms(model).items():
        drug_class, window = split_term(term)
        rows.append(
            {
                "drug_class": drug_class,
                "window": window,
                "log_or": value.value,
                "mc_se": value.mc_se,
                "odds_ratio": float(np.exp(value.value)),
            }
        )
    return pd.DataFrame(rows)
