"""Descriptive summaries of the study population (counts, demographics, matched sets, truth).

Two kinds of functions:

* frames and sentences computed from the data: :func:`members`, :func:`role_counts`,
  :func:`demographics_by_role`, :func:`set_composition`, :func:`composition_sentence`,
  :func:`truth_table`, :func:`published_table`;
* what notebook 01 shows, one call per cell: the tables of the extract
  (:func:`table_overview`), what the validator accepted (:func:`show_accepted`), the
  results of the ``cohort`` analysis (``01_cohort.json``) read back by role
  (:func:`by_role`, :func:`show_role_counts`, :func:`show_demographics`), the planted truth
  (:func:`show_truth_table`, :func:`show_published_table`, :func:`rising_slopes_sentence`)
  and two draws of the generator side by side (:func:`another_seed`,
  :func:`role_counts_side_by_side`, :func:`composition_sentences`).  Where there is nothing
  to show (a real extract has no planted truth), they return a :class:`Note` that says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES, WINDOW_LABELS, WINDOWS
from alsmeds.data.problems import warnings_frame
from alsmeds.formatting import fixed, format_p, format_ratio, percent, rounded  # noqa: F401 (one definition, re-exported)
from alsmeds.models.terms import split_term
from alsmeds.reporting.display import Table, show_table
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


# ---------------------------------------------------------------------------- what notebook 01 shows

#: Columns of :func:`role_counts` and :func:`demographics_by_role`, in display order, with their headers.
ROLE_COUNT_COLUMNS = {"people": "People", "matched_sets": "Matched sets"}
DEMOGRAPHIC_COLUMNS = {
    "n": "People",
    "age_mean": "Age, mean",
    "age_sd": "Age, SD",
    "age_q25": "Age, 25th pct",
    "age_median": "Age, median",
    "age_q75": "Age, 75th pct",
    "male_percent": "Men (%)",
    "under_65_percent": "Under 65 (%)",
}


class Note(str):
    """A sentence a notebook shows as plain text (no quotes): what a cell says instead of a table it cannot show."""

    def __repr__(self) -> str:
        return str(self)


def table_overview(tables: Mapping[str, pd.DataFrame]) -> str:
    """One line per table of an extract: its name, number of rows and columns.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        ``Study.tables`` (the validated register extract).

    Returns
    -------
    str
        ``"<name>: <rows> rows; columns: <a>, <b>, ..."`` lines, in the extract's order.
    """
    return "\n".join(
        f"{name}: {len(t):,} rows; columns: {', '.join(map(str, t.columns))}" for name, t in tables.items()
    )


def show_accepted(warnings: Iterable[Any]) -> Table | Note:
    """What the validator accepted with a documented rule, as a table, or a note that nothing needed one.

    Parameters
    ----------
    warnings : iterable of alsmeds.data.problems.Problem
        ``Study.warnings``.

    Returns
    -------
    Table or Note
        Table, column, rule, rows concerned and the first file lines of each warning
        (:func:`alsmeds.data.problems.warnings_frame`).
    """
    accepted = warnings_frame(list(warnings))
    if accepted.empty:
        return Note("no warnings: nothing in this extract needed a documented rule to be accepted")
    columns = ["table", "column", "rule", "rows", "first_lines"]
    return show_table(accepted[columns], index=False, caption="Accepted with a documented rule")


def by_role(records: Iterable[Mapping[str, Any]], columns: Iterable[str] | None = None) -> pd.DataFrame:
    """Records of a results file (one per role, with a ``role`` key) as a frame indexed by role, cases first.

    ``01_cohort.json`` stores :func:`role_counts` and :func:`demographics_by_role` as
    records (``counts``, ``demographics``); this reads them back.

    Parameters
    ----------
    records : iterable of mapping
        One record per role.
    columns : iterable of str, optional
        Columns to keep, in this order (a JSON file keeps its keys sorted); default all.

    Returns
    -------
    DataFrame
        Index ``role`` in :data:`ROLE_ORDER` (roles absent from the records left out).
    """
    frame = pd.DataFrame(list(records))
    if frame.empty:
        return pd.DataFrame(columns=list(columns or ())).rename_axis("role")
    order = [r for r in ROLE_ORDER if r in set(frame["role"])] + [r for r in frame["role"] if r not in ROLE_ORDER]
    frame = frame.set_index("role").loc[order]
    return frame[list(columns)] if columns is not None else frame


def show_role_counts(counts: pd.DataFrame) -> Table:
    """:func:`role_counts` (or its records read back with :func:`by_role`) as a captioned table.

    Parameters
    ----------
    counts : DataFrame
        Index role; columns ``people`` and ``matched_sets`` (any order, others ignored).

    Returns
    -------
    Table
        "People and matched sets by role", roles and headers by their names.
    """
    return show_table(
        counts[list(ROLE_COUNT_COLUMNS)], caption="People and matched sets by role", columns=ROLE_COUNT_COLUMNS
    )


def show_demographics(demographics: pd.DataFrame, digits: int = 1) -> Table:
    """:func:`demographics_by_role` (or its records read back with :func:`by_role`) as a captioned table.

    Parameters
    ----------
    demographics : DataFrame
        Index role; the columns of :data:`DEMOGRAPHIC_COLUMNS` (any order).
    digits : int
        Decimals of ages and percentages.

    Returns
    -------
    Table
        "Age at the index date and sex by role", headers of :data:`DEMOGRAPHIC_COLUMNS`.
    """
    return show_table(
        demographics[list(DEMOGRAPHIC_COLUMNS)],
        digits=digits,
        caption="Age at the index date and sex by role",
        columns=DEMOGRAPHIC_COLUMNS,
    )


def show_truth_table(truth: Truth | Mapping[str, Any] | None) -> Table | Note:
    """:func:`truth_table` as a captioned table, or a note for an extract without a planted truth.

    Parameters
    ----------
    truth : Truth, dict or None
        ``Study.truth`` or ``Study.planted_truth``; None for a real extract.

    Returns
    -------
    Table or Note
    """
    if as_truth(truth) is None:
        return Note(
            "no planted truth: this extract has no truth.json (a real register extract), so there is no truth table"
        )
    return show_table(
        truth_table(truth).rename_axis(["drug_class", "window"]),
        caption="Planted odds ratios by class and window of first use",
    )


def show_published_table(truth: Truth | Mapping[str, Any] | None) -> Table | Note:
    """:func:`published_table` as a captioned table, or a note for an extract without a planted truth.

    Parameters
    ----------
    truth : Truth, dict or None
        ``Study.truth`` or ``Study.planted_truth``; None for a real extract.

    Returns
    -------
    Table or Note
    """
    if as_truth(truth) is None:
        return Note(
            "no planted truth: the published odds ratios are in alsmeds.published (notebook 03 compares with them)"
        )
    return show_table(
        published_table(truth).rename_axis(["drug_class", "window"]),
        caption="Published odds ratios beside the planted population OR of the same one-class model",
    )


def rising_slopes_sentence(truth_people: pd.DataFrame | None) -> str:
    """The share of simulated cases whose true ALSFRS-R line rises, from the generator's answer key.

    Parameters
    ----------
    truth_people : DataFrame or None
        ``truth_people.csv`` (``Study.truth_people``); None for a real extract.

    Returns
    -------
    str
        The share of :func:`alsmeds.simulate.dropout.planted_trajectory_shares` ``"rising"``
        (one decimal) and the number of cases with a planted line.
    """
    if truth_people is None:
        return "no planted truth: a real extract has no true trajectories"
    from alsmeds.simulate.dropout import planted_trajectory_shares

    shares = planted_trajectory_shares(truth_people)
    return (
        "simulated cases whose true ALSFRS-R slope is above zero (they improve): "
        f"{percent(shares.loc['rising', 'share'], 1)} of {shares.attrs['n']:,}"
    )


def another_seed(truth: Truth | Mapping[str, Any] | None) -> int:
    """A seed of the generator other than the data's own: the data's seed plus one.

    For an extract without a planted truth (a real extract), the committed data's seed
    plus one (:data:`alsmeds.simulate.DEFAULT_SEED`), so a real extract is set beside a
    simulated draw.

    Parameters
    ----------
    truth : Truth, dict or None
        The data's planted truth (``Study.planted_truth``), which records its seed.

    Returns
    -------
    int
    """
    from alsmeds.simulate import DEFAULT_SEED

    truth = as_truth(truth)
    return (truth.seed if truth is not None else DEFAULT_SEED) + 1


def role_counts_side_by_side(drawn: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """:func:`role_counts` of several data sets side by side (columns: data set, then people and matched sets).

    Parameters
    ----------
    drawn : mapping of str to DataFrame
        Name -> :func:`members` of a data set.

    Returns
    -------
    DataFrame
        Index role; columns (name, ``people``) and (name, ``matched_sets``) per data set.
    """
    return pd.concat({name: role_counts(m) for name, m in drawn.items()}, axis=1)


def composition_sentences(drawn: Mapping[str, pd.DataFrame]) -> str:
    """:func:`composition_sentence` of several data sets, one line each, prefixed with the data set's name.

    Parameters
    ----------
    drawn : mapping of str to DataFrame
        Name -> :func:`members` of a data set.

    Returns
    -------
    str
        ``"<name>: <sentence>"``, one line per data set.
    """
    return "\n".join(f"{name}: {composition_sentence(set_composition(m))}" for name, m in drawn.items())
