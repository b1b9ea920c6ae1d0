"""Table 1 (baseline characteristics by role) and the prevalence of use per class and window.

Both tables are built from the analysis table (:func:`alsmeds.derive.analysis_table.build_analysis_table`)
after keeping **one row per person and matched set**: a case appears there once per
comparison it takes part in (population, sibling, spouse), and counting it three times
would weight cases with relatives more.  Everything is assessed at the case's index date.

* :func:`baseline_table` -- counts and percentages, means and standard deviations by role
  (ALS case, population control, full sibling, spouse), built with :class:`tableone.TableOne`,
  with the standardized mean differences (SMD) of every control group against the cases.
* :func:`exposure_prevalence` -- people with qualifying use (at least two dispensings on
  distinct dates) per drug class and window, by role, as n and percent.
* :func:`write_table1` -- both tables as ``table1.csv``, ``table1.html`` and
  ``exposure_prevalence.csv``, written atomically.
* :func:`classification_agreement` -- the exposure classification against the planted
  truth of a synthetic data set (``truth_people.csv``).
* :func:`threshold_shares` -- the share of people who would be users with one, two or
  three dispensings, from the counts of :func:`alsmeds.derive.thresholds.users_by_threshold`.
* :func:`threshold_sentence`, :func:`prevalence_sentence`, :func:`smd_sentence` -- what
  the tables show, as one sentence computed from them, so a notebook's narrative holds
  for whatever extract it runs on.
* ``show_*`` -- what notebook 02 shows, one call per cell: a code list (:func:`show_codelist`),
  the dispensings by class (:func:`dispensing_breakdown`), the threshold table (:func:`show_thresholds`), the
  analysis table by comparison and the truth agreement read back from ``02_exposure.json``
  (:func:`show_comparisons`, :func:`show_agreement`), the example people of the timeline
  figure (:func:`show_example_people`) and the prevalence table (:func:`show_prevalence`).

This module re-runs no study definition (``docs/architecture.md``): the analysis table,
the class dispensings and the threshold counts are derived by the caller and passed in;
"ever" use is the models' indicator (:func:`alsmeds.models.design.ever_indicators`).

About tableone's SMDs
---------------------
With ``groupby`` and ``smd=True``, tableone 0.9 computes an SMD for **every pair** of
groups (six pairs for four roles), in columns named ``SMD (a,b)``, and orders those
columns by iterating a Python ``set`` (so their order can change between runs).  For a
continuous variable the SMD is Cohen's d, ``(mean_b - mean_a) / sqrt((sd_a^2 + sd_b^2) / 2)``,
signed; for a categorical variable it is the multi-category SMD of Yang and Dalton
(2012), which is never negative.  This module keeps only the pairs *case vs a control
group*, reports them as **absolute** values (so that both kinds read the same way: 0 is
perfect balance, above 0.1 is the usual flag for imbalance), and fixes the column order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tableone import TableOne

from alsmeds.constants import CLASSES, WINDOW_LABELS, WINDOWS
from alsmeds.data.write import write_csv_atomic, write_text_atomic
from alsmeds.formatting import fixed
from alsmeds.labels import CLASS_NAMES, WINDOW_NAMES, label
from alsmeds.models.design import ever_indicators
from alsmeds.reporting.describe import ROLE_LABELS, ROLE_ORDER, Note
from alsmeds.reporting.display import Table, show_table

#: Control roles an SMD against the cases is reported for, in column order.
CONTROL_ROLES = ("population_control", "sibling", "spouse")

#: ICD-10 groups of psychiatric history shown under "any psychiatric diagnosis", with their labels.
PSYCH_GROUPS = {
    "psych_depression": "depression (F32-F34)",
    "psych_anxiety": "anxiety (F40-F41)",
    "psych_stress": "stress reaction (F43)",
    "psych_sleep": "sleep disorder (F51, G47)",
    "psych_substance_use": "substance use (F10, F11, F13)",
    "psych_psychotic": "psychotic disorder (F20, F25)",
}

#: Variables of Table 1 -> label (in row order).
BASELINE_VARIABLES = {
    "age": "Age at index date, years",
    "sex": "Sex",
    "education": "Education",
    "country": "Country of birth",
    "civil": "Civil status",
    "psych_history": "Psychiatric diagnosis before index (any F00-F99)",
    **{col: f"  {label}" for col, label in PSYCH_GROUPS.items()},
    "lookback_years": "Drug register look-back, years",
}
CONTINUOUS = ("age", "lookback_years")
#: Category order (and display labels) of the categorical variables.
CATEGORY_LABELS = {
    "sex": {"men": "men", "women": "women"},
    "education": {
        "compulsory": "compulsory",
        "upper_secondary": "upper secondary",
        "post_secondary": "post-secondary",
    },
    "country": {"sweden": "Sweden", "other_nordic": "other Nordic", "other": "other"},
    "civil": {"married": "married", "unmarried": "unmarried", "divorced": "divorced", "widowed": "widowed"},
}
#: 0/1 flags shown as one "yes" row.
BINARY = ("psych_history", *PSYCH_GROUPS)

#: Windows of :func:`exposure_prevalence`, in row order, with labels.
PREVALENCE_WINDOWS = {
    **{w: WINDOW_LABELS[w] for w in WINDOWS},
    "gt1": ">1 y (lagged)",
    "ever": "ever before index",
}


def one_row_per_person(analysis_table: pd.DataFrame) -> pd.DataFrame:
    """The analysis table with one row per person and matched set (first occurrence kept).

    A case is in the table once per comparison it takes part in; its covariates and
    exposures are the same in every copy, so the first is kept.
    """
    return analysis_table.drop_duplicates(["person_id", "set_id"], keep="first").reset_index(drop=True)


def _role_column(frame: pd.DataFrame) -> pd.Series:
    unknown = set(frame["role"].astype(str)) - set(ROLE_ORDER)
    if unknown:
        raise ValueError(f"unknown roles in the analysis table: {sorted(unknown)}")
    return pd.Categorical(frame["role"].astype(str), categories=ROLE_ORDER, ordered=True)


@dataclass(frozen=True)
class BaselineTable:
    """Table 1: baseline characteristics by role, with SMDs of each control group against the cases.

    Attributes
    ----------
    frame : DataFrame
        The formatted table: index (variable, value); one column per role present
        ("n (%)" or "mean (SD)" strings) and one ``SMD vs <controls>`` column per control
        group (absolute SMD, 3 decimals, on the first row of each variable).
    smd : DataFrame
        The absolute SMDs as numbers: index variable (the column name of the analysis
        table), one column per control role.
    prevalence : DataFrame
        :func:`exposure_prevalence` of the same rows.
    tableone : tableone.TableOne
        The underlying TableOne object (all pairwise SMDs, tableone's own layout).
    """

    frame: pd.DataFrame
    smd: pd.DataFrame
    prevalence: pd.DataFrame
    tableone: TableOne

    def to_frame(self) -> pd.DataFrame:
        """The formatted Table 1 (a copy of :attr:`frame`)."""
        return self.frame.copy()

    def to_html(self) -> str:
        """Table 1 as an HTML table."""
        return self.frame.to_html(na_rep="")

    def _repr_html_(self) -> str:
        return self.to_html()

    def __str__(self) -> str:
        return self.frame.to_string(na_rep="")

    __repr__ = __str__


def _prepare(rows: pd.DataFrame) -> pd.DataFrame:
    data = pd.DataFrame(index=rows.index)
    _role_column(rows)  # validates the roles
    data["role"] = rows["role"].astype(str).map(ROLE_LABELS)
    data["age"] = rows["age"].astype(float)
    data["lookback_years"] = rows["lookback_years"].astype(float)
    data["sex"] = np.where(rows["male"].astype(int) == 1, "men", "women")
    for col in ("education", "country", "civil"):
        labels = CATEGORY_LABELS[col]
        unknown = set(rows[col].dropna().astype(str)) - set(labels)
        if unknown:
            raise ValueError(f"unknown {col} values: {sorted(unknown)}")
        data[col] = rows[col].map(labels)
    for col in BINARY:
        flag = rows[col] if col in rows else pd.Series(0, index=rows.index)
        data[col] = np.where(flag.astype(int) == 1, "yes", "no")
    return data


def baseline_table(analysis_table: pd.DataFrame, decimals: int = 1) -> BaselineTable:
    """Table 1: baseline characteristics by role at the index date.

    Shows, per role (ALS cases, population controls, full siblings, spouses): the number
    of people; age and drug-register look-back as mean (SD); sex, education, country of
    birth and civil status as n (%); psychiatric history (any ICD-10 F diagnosis before the
    index date, and its groups) as n (%) with a diagnosis.  Next to them, the absolute
    standardized mean difference of each control group against the cases (see the module
    docstring for what tableone computes).  Population controls are matched on sex and
    birth year, so their SMDs for age and sex are near 0 by design; look-back is shared by
    everyone in a matched set.

    Parameters
    ----------
    analysis_table : DataFrame
        The analysis table; reduced to one row per person and matched set first.
    decimals : int
        Decimals of percentages, means and SDs.

    Returns
    -------
    BaselineTable
        With ``.to_frame()`` (the formatted table), ``.smd`` (numeric SMDs),
        ``.prevalence`` (:func:`exposure_prevalence`) and ``.tableone``.
    """
    rows = one_row_per_person(analysis_table)
    data = _prepare(rows)
    groups = [ROLE_LABELS[r] for r in ROLE_ORDER if ROLE_LABELS[r] in set(data["role"])]
    categorical = ["sex", "education", "country", "civil", *BINARY]
    order = {"role": groups, **{c: list(CATEGORY_LABELS[c].values()) for c in CATEGORY_LABELS}}
    order.update({c: ["yes", "no"] for c in BINARY})
    result = TableOne(
        data,
        columns=list(BASELINE_VARIABLES),
        categorical=categorical,
        continuous=list(CONTINUOUS),
        groupby="role",
        order=order,
        limit={c: 1 for c in BINARY},
        smd=len(groups) > 1,
        missing=False,
        overall=False,
        decimals=decimals,
        label_suffix=False,
    )
    table = result.tableone.copy()
    table.columns = [c[1] if isinstance(c, tuple) else c for c in table.columns]

    # Keep the case-vs-control SMDs (absolute, fixed order); drop control-vs-control pairs.
    case_label = ROLE_LABELS["case"]
    smd = pd.DataFrame(index=pd.Index(list(BASELINE_VARIABLES), name="variable"))
    for role in CONTROL_ROLES:
        col = f"SMD ({case_label},{ROLE_LABELS[role]})"
        if result.smd_table is not None and col in result.smd_table:
            smd[role] = result.smd_table[col].reindex(smd.index).astype(float).abs()
    smd_columns = {role: f"SMD vs {ROLE_LABELS[role].lower()}" for role in smd.columns}

    out = table[groups].copy()
    first_rows = ~table.index.get_level_values(0).duplicated()
    for role, name in smd_columns.items():
        values = table.index.get_level_values(0).map(lambda v, role=role: smd.at[v, role] if v in smd.index else np.nan)
        text = np.where(np.isnan(values.to_numpy(dtype=float)), "", [fixed(v, 3) for v in values])
        out[name] = np.where(first_rows, text, "")
    out.loc["n", list(smd_columns.values())] = ""

    # Readable row labels; unit suffixes where tableone's label_suffix would put them.
    suffix = {v: (", mean (SD)" if v in CONTINUOUS else ", n (%)") for v in BASELINE_VARIABLES}
    labels = {v: BASELINE_VARIABLES[v] + suffix[v] for v in BASELINE_VARIABLES}
    out.index = pd.MultiIndex.from_tuples(
        [(labels.get(var, var), "" if var in BINARY else value) for var, value in out.index],
        names=["variable", "value"],
    )
    out.columns.name = None
    return BaselineTable(
        frame=out,
        smd=smd.rename(columns=ROLE_LABELS),
        prevalence=exposure_prevalence(analysis_table),
        tableone=result,
    )


def exposure_prevalence(analysis_table: pd.DataFrame) -> pd.DataFrame:
    """People with qualifying use per drug class and window, by role (n and percent).

    Windows follow the table's exposure definition (:class:`alsmeds.derive.exposure.ExposureRules`):
    with the study's ``definition="first_use"``, first qualifying use 0-1, 1-5 or more than 5
    years before the index date (mutually exclusive); a table built with
    ``definition="use_in_window"`` carries ``<class>_in_<window>`` flags, and a window then
    counts everyone whose rule is met within it (a long-term user counts in every window of
    use).  The lagged main exposure (first qualifying use more than ``lag_years`` before) and
    ever (any qualifying use before the index date) do not depend on the definition.
    Qualifying use = at least ``min_dispensings`` dispensings on distinct dates.

    Parameters
    ----------
    analysis_table : DataFrame
        The analysis table; reduced to one row per person and matched set first.

    Returns
    -------
    DataFrame
        One row per class, window and role present: ``drug_class``, ``window`` (0_1, 1_5,
        gt5, gt1, ever), ``window_label``, ``role``, ``people`` (denominator), ``exposed``
        (n) and ``percent``.
    """
    rows = one_row_per_person(analysis_table)
    role = _role_column(rows)
    ever = ever_indicators(rows)
    out = []
    for k in CLASSES:
        in_window = all(f"{k}_in_{w}" in rows.columns for w in WINDOWS)
        flags = {
            w: rows[f"{k}_in_{w}"].astype(int).eq(1) if in_window else rows[f"window_{k}"].astype(str).eq(w)
            for w in WINDOWS
        }
        flags["gt1"] = rows[f"{k}_gt1"].astype(int).eq(1)
        flags["ever"] = ever[f"{k}_ever"].eq(1)
        for w, flag in flags.items():
            counts = pd.DataFrame({"role": role, "flag": flag.to_numpy()}).groupby("role", observed=True)["flag"]
            people, exposed = counts.size(), counts.sum()
            for r in people.index:
                out.append(
                    {
                        "drug_class": k,
                        "window": w,
                        "window_label": PREVALENCE_WINDOWS[w],
                        "role": str(r),
                        "people": int(people[r]),
                        "exposed": int(exposed[r]),
                        "percent": 100.0 * float(exposed[r]) / float(people[r]),
                    }
                )
    return pd.DataFrame(out)


def prevalence_wide(prevalence: pd.DataFrame, decimals: int = 1) -> pd.DataFrame:
    """:func:`exposure_prevalence` as a display table: rows class and window, columns roles, cells "n (%)"."""
    frame = prevalence.copy()
    frame["cell"] = [f"{n} ({p:.{decimals}f})" for n, p in zip(frame["exposed"], frame["percent"], strict=True)]
    wide = frame.pivot(index=["drug_class", "window_label"], columns="role", values="cell")
    roles = [r for r in ROLE_ORDER if r in wide.columns]
    rows = [(k, PREVALENCE_WINDOWS[w]) for k in CLASSES for w in PREVALENCE_WINDOWS]
    wide = wide.reindex(index=pd.MultiIndex.from_tuples(rows, names=["class", "window"]), columns=roles)
    wide.columns = [ROLE_LABELS[r] for r in roles]
    return wide


def write_table1(result: BaselineTable, results_dir: str | Path) -> list[Path]:
    """Write Table 1 and the exposure prevalence, atomically.

    Files: ``table1.csv`` (columns variable, value, one per role, SMD columns; the cells
    as displayed), ``table1.html`` (the same table, HTML) and ``exposure_prevalence.csv``
    (:func:`exposure_prevalence`, percent with 6 significant digits).

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    results_dir = Path(results_dir)
    frame = result.to_frame().reset_index()
    html = result.to_html() + "\n"
    return [
        write_csv_atomic(results_dir / "table1.csv", frame),
        write_text_atomic(results_dir / "table1.html", html),
        write_csv_atomic(results_dir / "exposure_prevalence.csv", result.prevalence),
    ]


def classification_agreement(analysis_table: pd.DataFrame, truth_people: pd.DataFrame) -> pd.DataFrame:
    """Agreement of the exposure classification with the planted truth, per class.

    Parameters
    ----------
    analysis_table : DataFrame
        The analysis table (one row per person and set is used).
    truth_people : DataFrame
        ``truth_people.csv`` of a synthetic data set: person_id, case_id,
        ``window_<class>`` and ``first_use_<class>`` (the true date of first qualifying use).

    Returns
    -------
    DataFrame
        One row per class: ``people`` compared, ``window_agrees`` and ``date_agrees``
        (share of people whose window, and whose first qualifying date, equal the truth),
        and ``unmatched`` (people in only one of the two tables).
    """
    rows = one_row_per_person(analysis_table)
    truth = truth_people.rename(columns={"case_id": "set_id"})
    merged = rows.merge(truth, on=["person_id", "set_id"], how="outer", suffixes=("", "_truth"), indicator=True)
    both = merged[merged["_merge"] == "both"]
    out = []
    for k in CLASSES:
        ours = pd.to_datetime(both[f"first_qualifying_{k}"])
        true = pd.to_datetime(both[f"first_use_{k}"])
        same_date = (ours == true) | (ours.isna() & true.isna())
        out.append(
            {
                "drug_class": k,
                "people": len(both),
                "window_agrees": float(
                    (both[f"window_{k}"].astype(str) == both[f"window_{k}_truth"].astype(str)).mean()
                ),
                "date_agrees": float(same_date.mean()),
                "unmatched": int((merged["_merge"] != "both").sum()),
            }
        )
    return pd.DataFrame(out).set_index("drug_class")


def threshold_shares(users: pd.DataFrame) -> pd.DataFrame:
    """How many people would count as users if one, two or three dispensings were required, in percent.

    For each drug class and role, the percentage of people with at least ``t`` dispensings
    of the class on distinct dates before the index date, for each threshold ``t``.  The
    study requires two (:data:`alsmeds.derive.exposure.DEFAULT_RULES`); the difference between the
    columns for 1 and 2 is the people with a single dispensing, who are *not* users.

    Parameters
    ----------
    users : DataFrame
        :func:`alsmeds.derive.thresholds.users_by_threshold`: drug_class, role, threshold,
        people, users.

    Returns
    -------
    DataFrame
        Index (class, role), roles as readable names (:data:`ROLE_LABELS`), classes in
        :data:`alsmeds.constants.CLASSES` order; columns ``people`` and
        ``>= t dispensings (%)`` per threshold (``>= 1 dispensing (%)`` for one).
    """
    roles = list(dict.fromkeys(users["role"]))
    index = pd.MultiIndex.from_tuples([(k, r) for k in CLASSES for r in roles], names=["class", "role"])
    by_cell = users.set_index(["drug_class", "role"])
    out = pd.DataFrame(index=index)
    first = users.drop_duplicates(["drug_class", "role"]).set_index(["drug_class", "role"])["people"]
    out["people"] = [int(first.get((k, r), 0)) for k, r in index]
    for t in dict.fromkeys(users["threshold"]):
        at = by_cell[by_cell["threshold"] == t]["users"]
        n = [int(at.get((k, r), 0)) for k, r in index]
        out[f">= {t} dispensing{'s' if t > 1 else ''} (%)"] = 100.0 * np.array(n) / out["people"].to_numpy()
    out.index = out.index.set_levels([ROLE_LABELS.get(r, r) for r in out.index.levels[1]], level=1)
    return out


def show_thresholds(thresholds: pd.DataFrame, digits: int = 1) -> Table:
    """:func:`threshold_shares` as a captioned table (classes and roles by their names).

    Parameters
    ----------
    thresholds : DataFrame
        :func:`threshold_shares`.
    digits : int
        Decimals of the percentages.

    Returns
    -------
    Table
        The caption names the thresholds of the columns.
    """
    counts = [int(n) for c in thresholds.columns for n in re.findall(r"^>= (\d+) ", c)]
    listed = ", ".join(map(str, counts[:-1])) + (f" or {counts[-1]}" if len(counts) > 1 else str(counts[-1]))
    return show_table(
        thresholds.rename_axis(["drug_class", "role"]),
        digits=digits,
        caption=f"People with at least {listed} dispensings on distinct dates before the index date",
    )


def threshold_sentence(thresholds: pd.DataFrame) -> str:
    """What requiring two (and three) dispensings does, from :func:`threshold_shares`.

    Returns
    -------
    str
        The range over classes and roles of the share of people with one dispensing or
        more who never fill a second one, and of those with two who never fill a third.
    """
    cols = [c for c in thresholds.columns if c.startswith(">=")]
    if len(cols) < 3:
        raise ValueError("needs the shares for 1, 2 and 3 dispensings")
    one, two, three = (thresholds[c].astype(float) for c in cols[:3])
    with np.errstate(divide="ignore", invalid="ignore"):
        lost_second = (1 - two / one).where(one > 0)
        lost_third = (1 - three / two).where(two > 0)
    if lost_second.isna().all():
        return "No one in these roles has a dispensing of the study's classes before the index date."
    text = (
        f"Of the people with at least one dispensing of a class, {lost_second.min():.0%} to {lost_second.max():.0%} "
        "(by class and role) never fill a second one"
    )
    if lost_third.notna().any():
        text += f"; of those with two, {lost_third.min():.0%} to {lost_third.max():.0%} never fill a third"
    empty = [f"{k} ({r})" for (k, r), v in one.items() if not v > 0]
    if empty:
        text += f". No dispensing at all: {', '.join(empty)}"
    return text + "."


def prevalence_sentence(prevalence: pd.DataFrame, control_role: str = "population_control") -> str:
    """Cases against one control group in :func:`exposure_prevalence`, per class and window, in one sentence.

    Counts the class-window cells (0-1, 1-5, >5 years) in which a larger share of cases
    than of controls first used the class (cells where nobody did are left out and their
    classes named), and names the largest crude ratio of shares.
    """
    windows = list(WINDOWS)
    sel = prevalence[prevalence["window"].isin(windows)]
    cases = sel[sel["role"] == "case"].set_index(["drug_class", "window"])["percent"]
    controls = sel[sel["role"] == control_role].set_index(["drug_class", "window"])["percent"]
    label = ROLE_LABELS.get(control_role, control_role).lower()
    if cases.empty or controls.empty:
        return f"No comparison of ALS cases with {label}: one of the groups is absent."
    both = pd.concat({"cases": cases, "controls": controls}, axis=1).dropna()
    used = (both["cases"] > 0) | (both["controls"] > 0)
    unused = [k for k in CLASSES if k in both.index.get_level_values(0) and not used.loc[k].any()]
    both = both[used]
    higher = int((both["cases"] > both["controls"]).sum())
    text = f"ALS cases first used a class more often than {label} in {higher} of {len(both)} class-window cells"
    if unused:
        text += f" with any use (nobody used {' or '.join(unused)})"
    ratio = (both["cases"] / both["controls"]).where(both["controls"] > 0)
    if ratio.notna().any():
        k, w = ratio.idxmax()
        text += (
            f"; the largest crude ratio is {ratio.max():.1f} ({k}, {WINDOW_LABELS[w]}: "
            f"{both.loc[(k, w), 'cases']:.1f}% against {both.loc[(k, w), 'controls']:.1f}%)"
        )
    return text + "."


def smd_sentence(smd: pd.DataFrame, flag: float = 0.1) -> str:
    """Which variables of Table 1 are imbalanced (absolute SMD above ``flag``) against each control group.

    Parameters
    ----------
    smd : DataFrame
        :attr:`BaselineTable.smd` (variables by control group).
    flag : float
        The usual threshold of imbalance.
    """
    parts = []
    for group in smd.columns:
        values = smd[group].dropna()
        if values.empty:
            continue
        over = values[values > flag].sort_values(ascending=False)
        if over.empty:
            parts.append(
                f"against {group.lower()}, no SMD above {flag:g} (largest: {values.idxmax()}, {values.max():.2f})"
            )
        else:
            listed = ", ".join(f"{v} {x:.2f}" for v, x in over.items())
            parts.append(f"against {group.lower()}: {listed}")
    if not parts:
        return "No control group to compare the cases with."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


# ---------------------------------------------------------------------------- what notebook 02 shows


#: Columns of a code list that say where it comes from (the file keeps them; a lesson's table leaves them out).
CODELIST_PROVENANCE = ("source", "version")


def show_codelist(codelist: pd.DataFrame, caption: str) -> Table:
    """A code list as a captioned table: its groups, prefixes and descriptions, without the provenance columns.

    Parameters
    ----------
    codelist : DataFrame
        :func:`alsmeds.derive.codelists.load_codelist` (e.g. ``"atc_classes"``).
    caption : str
        Shown above the table (e.g. the file's name).

    Returns
    -------
    Table
    """
    return show_table(
        codelist.drop(columns=[c for c in CODELIST_PROVENANCE if c in codelist]), index=False, caption=caption
    )


def dispensing_breakdown(dispensings: pd.DataFrame, in_class: pd.DataFrame) -> str:
    """How many dispensing rows belong to each study class and how many to other drugs, as aligned lines.

    Parameters
    ----------
    dispensings : DataFrame
        The ``dispensings`` table (every row of the extract).
    in_class : DataFrame
        Its rows of the study's classes, with a ``group`` column
        (:func:`alsmeds.derive.exposure.class_dispensings`).

    Returns
    -------
    str
        All rows, rows of the three classes (and of each), and the other drugs, which the
        exposure ignores.
    """
    lines = [f"dispensing rows: {len(dispensings):,}", f"  of the three classes: {len(in_class):,}"]
    lines += [f"    {k:<16} {(in_class['group'] == k).sum():>6,}" for k in CLASSES]
    lines.append(f"  other drugs (ignored): {len(dispensings) - len(in_class):,}")
    return "\n".join(lines)


def show_comparisons(exposure_summary: Mapping[str, Any]) -> Table:
    """The analysis table by comparison, as the ``exposure`` analysis recorded it in ``02_exposure.json``.

    Parameters
    ----------
    exposure_summary : mapping
        ``02_exposure.json`` read back: its ``analysis_table`` holds ``by_comparison``
        (:func:`alsmeds.derive.cohort.comparison_summary` as records) and ``columns``.

    Returns
    -------
    Table
        One row per comparison (and the cases without any control): sets, rows, cases and
        controls; the caption gives the table's number of columns.
    """
    summary = exposure_summary["analysis_table"]
    frame = pd.DataFrame(summary["by_comparison"]).set_index("comparison")[["sets", "rows", "cases", "controls"]]
    caption = f"The analysis table by comparison ({summary['columns']} columns; one row per person per comparison)"
    return show_table(frame, caption=caption)


def example_classification(analysis_table: pd.DataFrame, person_ids: Sequence[int]) -> pd.DataFrame:
    """How the analysis table classifies a few people: per class, the window of first use and the lagged exposure.

    Parameters
    ----------
    analysis_table : DataFrame
        The analysis table (``window_<class>``, ``<class>_gt1``); one row per person and set is used.
    person_ids : sequence of int
        E.g. :func:`alsmeds.plots.exposure.example_people`, in the order to show them.

    Returns
    -------
    DataFrame
        Index person_id; ``role`` and one column per class named by :data:`alsmeds.labels.CLASS_NAMES`:
        ``"never"`` or ``"<window>, lagged user"`` / ``"<window>, not lagged"``.
    """
    rows = one_row_per_person(analysis_table).set_index("person_id").loc[list(person_ids)]
    readable: dict[str, Any] = {"role": rows["role"]}
    for k in CLASSES:
        readable[CLASS_NAMES[k]] = [
            "never" if w == "never" else f"{label(WINDOW_NAMES, w)}, {'lagged user' if lagged else 'not lagged'}"
            for w, lagged in zip(rows[f"window_{k}"], rows[f"{k}_gt1"], strict=True)
        ]
    return pd.DataFrame(readable)


def show_example_people(analysis_table: pd.DataFrame, person_ids: Sequence[int]) -> Table:
    """:func:`example_classification` as a captioned table.

    Parameters
    ----------
    analysis_table : DataFrame
    person_ids : sequence of int

    Returns
    -------
    Table
    """
    return show_table(
        example_classification(analysis_table, person_ids),
        caption="The people of the figure: window of first use, and the lagged main exposure",
    )


def show_prevalence(prevalence: pd.DataFrame, decimals: int = 1) -> Table:
    """:func:`prevalence_wide` of :func:`exposure_prevalence` (or ``exposure_prevalence.csv``) as a captioned table.

    Parameters
    ----------
    prevalence : DataFrame
        :func:`exposure_prevalence`, or ``exposure_prevalence.csv`` read back.
    decimals : int
        Decimals of the percentages.

    Returns
    -------
    Table
        Rows class and window, columns roles, cells "n (%)".
    """
    return show_table(
        prevalence_wide(prevalence, decimals).rename_axis(["drug_class", "window"]),
        caption="People with qualifying use by window of first use, n (%)",
    )


def show_agreement(agreement: Sequence[Mapping[str, Any]] | pd.DataFrame | None, digits: int = 4) -> Table | Note:
    """The classification against the planted truth, or a note that a real extract has no answer key.

    Parameters
    ----------
    agreement : records, DataFrame or None
        ``truth_agreement`` of ``02_exposure.json`` (:func:`classification_agreement` as
        records), the frame itself, or None (no planted truth).
    digits : int
        Decimals of the shares.

    Returns
    -------
    Table or Note
        Per class: people compared, shares whose window and whose date of first qualifying
        use agree with the truth, people in only one of the two tables; the caption gives the
        lowest window agreement over the classes, in percent.
    """
    if agreement is None:
        return Note("no planted truth (a real extract): check skipped")
    frame = agreement if isinstance(agreement, pd.DataFrame) else pd.DataFrame(list(agreement)).set_index("drug_class")
    frame = frame[["people", "window_agrees", "date_agrees", "unmatched"]]
    caption = (
        "Classification against the planted truth (shares of people): the window agrees with the truth "
        f"for {100 * frame['window_agrees'].min():.2f}% of people in every class"
    )
    return show_table(frame, digits=digits, caption=caption)
