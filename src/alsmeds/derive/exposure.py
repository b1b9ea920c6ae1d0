"""Exposure classification: from dispensing rows to the study's exposure variables.

Rules (Chourpiliadis et al. 2025, with the choices this bundle documents)
--------------------------------------------------------------------------
* **Exposed to a class** = at least ``min_dispensings`` (default 2) dispensings of
  that class on *distinct dates strictly before* the index date.  Two dispensings on
  one day count once; a dispensing on the index date does not count (published rule;
  the distinct-date and strictly-before details are this bundle's choice).
* **Window** = the timing of the *first qualifying use*, the date of the
  ``min_dispensings``-th distinct dispensing date: 0-1 years (on or after the date one
  calendar year before the index date), 1-5 years (on or after five years before),
  or more than 5 years before the index date.  Categories are mutually exclusive.
  One definition, :func:`window_codes` with the edges :data:`WINDOW_EDGES_YEARS`, which
  the generator calls for its true dates of first use.
  Why: the paper does not say how people were placed in windows; its confidence
  intervals imply small 0-1 and 1-5 year groups and most users in >5 years, which
  is what first-use timing gives (a long-term user counts once, in the window where
  use began).  The alternative, ``definition="use_in_window"``, flags every window
  in which a person has ``min_dispensings`` distinct dispensing dates (not exclusive).
* **Lagged exposure** ``<class>_gt1`` (the main analysis, which ignores the year
  before diagnosis): first qualifying use strictly before the date ``lag_years``
  (default 1) calendar years before the index date, i.e. ``min_dispensings`` distinct
  dates before that date (:func:`lagged_use`).  The column keeps the name ``_gt1``
  whatever ``lag_years`` is; with the default rules it equals "window 1-5 or >5 years".
  The risk models use this column of the analysis table as it is
  (:func:`alsmeds.models.design.lagged_indicators`), so every rule reaches them.
* **Ever use** (prediagnostic use): any qualifying use before the index date, the
  last year included, i.e. ``cat_<class> != 0`` (:func:`ever_used`): the exposure of
  the prognosis analyses (``use_<class>`` of the survival data, ``<class>`` of the
  ALSFRS-R data) and of the risk models' ``exposure="ever"``.
* **Look-back** starts at the Prescribed Drug Register's first day (2005-07-01); for an
  index date in 2015 the ">5 years" window spans only about 4.5 years, and use that
  began before July 2005 first shows in the register in 2005.
* Calendar arithmetic: "one year before 2020-02-29" is 2019-02-28
  (:func:`alsmeds.derive.dates.years_before`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from alsmeds.constants import CATEGORY_CODES, CLASSES, NEGATIVE_CONTROL, WINDOW_LABELS, WINDOWS
from alsmeds.derive.codelists import (
    class_codelist,
    match_prefixes,
    negative_control_codelist,
    normalise_codes,
    panel_codelist,
    psychiatric_codelist,
)
from alsmeds.derive.dates import years_before, years_between

#: Window boundaries of the study, whole calendar years before the index date: windows 0-1, 1-5 and >5 years
#: (:data:`alsmeds.constants.WINDOWS`).  The default of :attr:`ExposureRules.window_edges_years` and of
#: :func:`window_codes`, which the generator (:mod:`alsmeds.simulate.population`) calls too.
WINDOW_EDGES_YEARS: tuple[int, int] = (1, 5)


@dataclass(frozen=True)
class ExposureRules:
    """Parameters of the exposure definition.

    Attributes
    ----------
    min_dispensings : int
        Dispensings on distinct dates needed to count as exposed (default 2).
    window_edges_years : tuple of int
        Window boundaries in whole calendar years before the index date (1, 5).
    lag_years : int
        The lagged main exposure ignores this many years before the index date (1).
    definition : {"first_use", "use_in_window"}
        Mutually exclusive windows by first qualifying use, or non-exclusive use in each window.
    psychiatric_history_lag_years : int
        The covariate psychiatric history counts diagnoses strictly before the date this many
        calendar years before the index date (default 0: strictly before the index date, the
        study's rule).  A sensitivity analysis (1, the exposure's lag): a diagnosis in the
        prodromal year, which may follow from ALS, then no longer adjusts away part of the
        lagged exposure's association (:func:`psychiatric_history`).
    """

    min_dispensings: int = 2
    window_edges_years: tuple[int, int] = WINDOW_EDGES_YEARS
    lag_years: int = 1
    definition: Literal["first_use", "use_in_window"] = "first_use"
    psychiatric_history_lag_years: int = 0


#: The study's definition (2 dispensings; windows 0-1, 1-5, >5 years; 1-year lag).
DEFAULT_RULES = ExposureRules()


def class_dispensings(
    dispensings: pd.DataFrame, level: str = "class", codes: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Dispensings of the study's drug classes (or subclasses), with a ``group`` column.

    Codes are matched by prefix after normalisation; rows of other drugs are dropped.
    ``codes`` (columns ``atc_prefix`` and ``group``, e.g. the panel of controls,
    :func:`alsmeds.derive.codelists.panel_codelist`) replaces the level of ``atc_classes.csv``.
    """
    codes = class_codelist(level) if codes is None else codes
    group = match_prefixes(normalise_codes(dispensings["atc"]), codes["atc_prefix"], codes["group"])
    out = dispensings.loc[group.notna().to_numpy(), ["person_id", "dispensing_date"]].copy()
    out["group"] = group[group.notna()].to_numpy()
    return out


def _distinct_dates_before(disp: pd.DataFrame, members: pd.DataFrame) -> pd.DataFrame:
    """Distinct (member, group, date) rows strictly before each member's index date, sorted."""
    rows = disp.merge(members[["person_id", "case_id", "index_date"]], on="person_id", how="inner")
    rows = rows[rows["dispensing_date"] < rows["index_date"]]
    rows = rows.drop_duplicates(["person_id", "case_id", "group", "dispensing_date"])
    return rows.sort_values(["person_id", "case_id", "group", "dispensing_date"], kind="stable")


def first_qualifying_dates(
    dispensings: pd.DataFrame,
    members: pd.DataFrame,
    rules: ExposureRules = DEFAULT_RULES,
    level: str = "class",
    codes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Date of first qualifying use per member of a matched set and group.

    Parameters
    ----------
    dispensings : DataFrame
        The ``dispensings`` table.
    members : DataFrame
        One row per set member: ``person_id``, ``case_id``, ``index_date``.
    rules : ExposureRules
    level : {"class", "subclass", "negative_control"}
    codes : DataFrame, optional
        Another code list (``atc_prefix``, ``group``) instead of ``level`` (:func:`class_dispensings`).

    Returns
    -------
    DataFrame
        Columns person_id, case_id, group, first_qualifying (the
        ``min_dispensings``-th distinct dispensing date before the index date),
        index_date.  Members who never qualify have no row.
    """
    rows = _distinct_dates_before(class_dispensings(dispensings, level, codes), members)
    nth = rows.groupby(["person_id", "case_id", "group"], sort=False).cumcount() + 1
    qualifying = rows[nth.to_numpy() == rules.min_dispensings]
    return qualifying.rename(columns={"dispensing_date": "first_qualifying"})[
        ["person_id", "case_id", "group", "first_qualifying", "index_date"]
    ].reset_index(drop=True)


def window_codes(dates, index_date, edges_years: tuple[int, int] = WINDOW_EDGES_YEARS) -> np.ndarray:
    """Window code of a date before the index date: the one definition of the study's windows.

    A date on or after the day ``near`` calendar years before the index date is in window
    0-1 years, else on or after ``far`` years before in 1-5 years, else in >5 years
    (:func:`alsmeds.derive.dates.years_before`; ``(near, far) = edges_years``).  The
    analysis applies it to the date of first qualifying use (:func:`window_category`) and
    to each dispensing date (:func:`use_in_windows`), the generator to its true date of
    first use (:mod:`alsmeds.simulate.population`).

    Parameters
    ----------
    dates : array-like of dates
        Missing (NaT) for "never".
    index_date : array-like of dates
        Same length as ``dates``.
    edges_years : tuple of int
        ``(near, far)`` whole calendar years before the index date (:data:`WINDOW_EDGES_YEARS`).

    Returns
    -------
    numpy.ndarray of int8
        :data:`alsmeds.constants.CATEGORY_CODES`: 0 never (missing date), 1 "0_1", 2 "1_5", 3 "gt5".
    """
    near, far = edges_years
    first = np.asarray(dates, dtype="datetime64[D]")
    index = np.asarray(index_date, dtype="datetime64[D]")
    near_date, far_date = years_before(index, near), years_before(index, far)
    code = np.full(first.shape[0], CATEGORY_CODES["never"], dtype=np.int8)
    known = ~np.isnat(first)
    code[known & (first < far_date)] = CATEGORY_CODES["gt5"]
    code[known & (first >= far_date) & (first < near_date)] = CATEGORY_CODES["1_5"]
    code[known & (first >= near_date)] = CATEGORY_CODES["0_1"]
    return code


def window_category(
    first_qualifying: pd.Series, index_date: pd.Series, rules: ExposureRules = DEFAULT_RULES
) -> np.ndarray:
    """Window code (:data:`alsmeds.constants.CATEGORY_CODES`) of first qualifying use before the index date.

    :func:`window_codes` with ``rules.window_edges_years``.

    Parameters
    ----------
    first_qualifying : Series of dates
        Date of first qualifying use, NaT for people who never qualify.
    index_date : Series of dates
    rules : ExposureRules

    Returns
    -------
    numpy.ndarray of int8
    """
    first = first_qualifying.to_numpy().astype("datetime64[D]")
    index = index_date.to_numpy().astype("datetime64[D]")
    return window_codes(first, index, rules.window_edges_years)


def lagged_use(first_qualifying, index_date, lag_years: int = DEFAULT_RULES.lag_years) -> np.ndarray:
    """The lagged exposure: first qualifying use strictly before ``lag_years`` calendar years before the index date.

    The one definition of ``<class>_gt1``: :func:`classify_exposures` applies it to the
    dates of first qualifying use found in the dispensings, and
    :mod:`alsmeds.simulate.truth` to the generator's true dates of first use.

    Parameters
    ----------
    first_qualifying : array-like of dates
        Date of first qualifying use (the ``min_dispensings``-th distinct dispensing
        date before the index date); missing (NaT) for people who never qualify.
    index_date : array-like of dates
    lag_years : int
        Years before the index date that the lagged exposure ignores
        (:attr:`ExposureRules.lag_years`, 1 in the study).

    Returns
    -------
    numpy.ndarray of int8
        1 when exposed, 0 otherwise (never qualifying included).
    """
    first = np.asarray(first_qualifying, dtype="datetime64[D]")
    cutoff = years_before(np.asarray(index_date, dtype="datetime64[D]"), lag_years)
    return (~np.isnat(first) & (first < cutoff)).astype(np.int8)


def ever_used(codes) -> np.ndarray:
    """Ever (prediagnostic) use: any qualifying use before the index date, the last year included.

    The one definition of the unlagged exposure: ``use_<class>`` of
    :func:`alsmeds.derive.survival_data.build_survival_data`, ``<class>`` of
    :func:`alsmeds.derive.alsfrs.build_alsfrs_data` and the risk models'
    ``exposure="ever"`` (:func:`alsmeds.models.design.ever_indicators`).

    Parameters
    ----------
    codes : array-like of int
        Window codes ``cat_<class>`` (:data:`alsmeds.constants.CATEGORY_CODES`; 0 never).

    Returns
    -------
    numpy.ndarray of int8
        1 for a window code other than "never", else 0.
    """
    return (np.asarray(codes) != CATEGORY_CODES["never"]).astype(np.int8)


def use_in_windows(
    dispensings: pd.DataFrame, members: pd.DataFrame, rules: ExposureRules = DEFAULT_RULES
) -> pd.DataFrame:
    """Alternative definition: ``min_dispensings`` distinct dispensing dates *within* each window.

    Returns one row per member with 0/1 columns ``<class>_in_<window>`` (not exclusive).
    """
    rows = _distinct_dates_before(class_dispensings(dispensings), members)
    index = rows["index_date"].to_numpy().astype("datetime64[D]")
    date = rows["dispensing_date"].to_numpy().astype("datetime64[D]")
    window = np.array(list(CATEGORY_CODES))[window_codes(date, index, rules.window_edges_years)]  # code -> name
    counts = rows.assign(window=window).groupby(["person_id", "case_id", "group", "window"]).size()
    hit = (counts >= rules.min_dispensings).astype(np.int8).rename("exposed").reset_index()
    hit["column"] = hit["group"] + "_in_" + hit["window"]
    wide = hit.pivot_table(index=["person_id", "case_id"], columns="column", values="exposed", fill_value=0)
    out = members[["person_id", "case_id"]].merge(wide.reset_index(), on=["person_id", "case_id"], how="left")
    for k in CLASSES:
        for w in WINDOWS:
            col = f"{k}_in_{w}"
            out[col] = out[col].fillna(0).astype(np.int8) if col in out else np.int8(0)
    return out[["person_id", "case_id"] + [f"{k}_in_{w}" for k in CLASSES for w in WINDOWS]]


def _class_columns(out: pd.DataFrame, k: str, rules: ExposureRules) -> pd.DataFrame:
    """Replace the first-qualifying-date column ``k`` (if any) of ``out`` by the class's exposure columns."""
    labels = np.array(list(WINDOW_LABELS))  # index = category code
    when = out[k] if k in out else pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    code = window_category(when, out["index_date"], rules)
    out[f"cat_{k}"] = code
    out[f"window_{k}"] = labels[code]
    out[f"{k}_gt1"] = lagged_use(when.to_numpy(), out["index_date"].to_numpy(), rules.lag_years)
    out[f"first_qualifying_{k}"] = when
    if k in out:
        out = out.drop(columns=k)
    return out


def classify_exposures(
    dispensings: pd.DataFrame, members: pd.DataFrame, rules: ExposureRules = DEFAULT_RULES
) -> pd.DataFrame:
    """Exposure variables per set member: window code, label, lagged flag and first qualifying date per class.

    Returns
    -------
    DataFrame
        One row per row of ``members`` (same order), with per class ``cat_<class>``
        (code), ``window_<class>`` (label), ``<class>_gt1`` (lagged exposure, 0/1),
        ``first_qualifying_<class>``: the window code by :func:`window_category`, the
        lagged flag by :func:`lagged_use` with ``rules.lag_years``; subclass ever-use flags ``sub_<subclass>``;
        with ``definition="use_in_window"`` also ``<class>_in_<window>``; and last, the same four
        columns for the negative-control exposure :data:`alsmeds.constants.NEGATIVE_CONTROL`
        (``cat_ppis``, ``window_ppis``, ``ppis_gt1``, ``first_qualifying_ppis``), classified
        by the same rules from its own code list (level ``negative_control``), so that the
        study classes' columns do not depend on it.
    """
    key = ["person_id", "case_id"]
    out = members[key + ["index_date"]].copy()
    first = first_qualifying_dates(dispensings, members, rules)
    wide = first.pivot(index=key, columns="group", values="first_qualifying")
    out = out.merge(wide.reset_index(), on=key, how="left")
    for k in CLASSES:
        out = _class_columns(out, k, rules)
    sub = first_qualifying_dates(dispensings, members, rules, level="subclass")
    sub_flags = sub.groupby(["person_id", "case_id", "group"]).size().unstack(fill_value=0).clip(upper=1)
    sub_flags = sub_flags.add_prefix("sub_")
    out = out.merge(sub_flags.reset_index(), on=key, how="left")
    for group in sorted(class_codelist("subclass")["group"].unique()):
        col = f"sub_{group}"
        out[col] = out[col].fillna(0).astype(np.int8) if col in out else np.int8(0)
    if rules.definition == "use_in_window":
        out = out.merge(use_in_windows(dispensings, members, rules), on=key, how="left")
    out = _negative_control_columns(out, dispensings, members, rules)
    return out.drop(columns="index_date")


def _negative_control_columns(
    out: pd.DataFrame, dispensings: pd.DataFrame, members: pd.DataFrame, rules: ExposureRules
) -> pd.DataFrame:
    """Append the negative control's exposure columns (same rules as a study class, own code list)."""
    negative_control_codelist()  # the code list agrees with constants.NEGATIVE_CONTROL
    key = ["person_id", "case_id"]
    first = first_qualifying_dates(dispensings, members, rules, level="negative_control")
    if len(first):  # nobody qualifies: the class is "never" for everyone
        dates = first.set_index(key)["first_qualifying"].rename(NEGATIVE_CONTROL)
        out = out.merge(dates.reset_index(), on=key, how="left")
    return _class_columns(out, NEGATIVE_CONTROL, rules)


def classify_panel_exposures(
    dispensings: pd.DataFrame,
    members: pd.DataFrame,
    rules: ExposureRules = DEFAULT_RULES,
    codes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The panel of controls of empirical calibration classified by the study's rules (issue 25).

    Each class of the panel (``negative_control_panel.csv``, :func:`alsmeds.derive.codelists.panel_codelist`)
    is classified exactly as a study class is (:func:`first_qualifying_dates`, :func:`window_category`,
    :func:`lagged_use`: rule of ``min_dispensings`` distinct dates, windows, lag), from its own ATC prefix.
    Only the two columns the risk models read are kept, the window code ``cat_<group>`` and the lagged
    exposure ``<group>_gt1``, so that 38 classes stay a small frame; the PPIs, the first control, get the
    same values as the analysis table's ``cat_ppis`` and ``ppis_gt1``.

    Parameters
    ----------
    dispensings : DataFrame
        The ``dispensings`` table.
    members : DataFrame
        One row per set member: ``person_id``, ``case_id``, ``index_date``.
    rules : ExposureRules
    codes : DataFrame, optional
        The panel's code list (default :func:`alsmeds.derive.codelists.panel_codelist`).

    Returns
    -------
    DataFrame
        ``person_id``, ``case_id`` and per class, in the code list's order, ``cat_<group>`` (int8,
        :data:`alsmeds.constants.CATEGORY_CODES`) and ``<group>_gt1`` (int8); one row per row of
        ``members``, in its order.  A class nobody uses is 0 throughout.
    """
    codes = panel_codelist() if codes is None else codes
    key = ["person_id", "case_id"]
    first = first_qualifying_dates(dispensings, members, rules, codes=codes)
    wide = first.pivot(index=key, columns="group", values="first_qualifying")
    dates = members[key + ["index_date"]].merge(wide.reset_index(), on=key, how="left")
    columns = {}
    for group in codes["group"]:
        when = dates[group] if group in dates else pd.Series(pd.NaT, index=dates.index, dtype="datetime64[ns]")
        columns[f"cat_{group}"] = window_category(when, dates["index_date"], rules)
        columns[f"{group}_gt1"] = lagged_use(when.to_numpy(), dates["index_date"].to_numpy(), rules.lag_years)
    return pd.concat([members[key].reset_index(drop=True), pd.DataFrame(columns)], axis=1)


def psychiatric_history(diagnoses: pd.DataFrame, members: pd.DataFrame, lag_years: int = 0) -> pd.DataFrame:
    """Psychiatric history before the index date, from ICD-10 and (before 1997) ICD-9 diagnoses.

    Returns one row per member with 0/1 columns ``psych_<group>`` for each group of
    ``icd10_psychiatric.csv`` and ``psych_history``: any psychiatric diagnosis strictly
    before the index date, ICD-10 F00-F99 or ICD-9 290-319 (one definition, two code
    versions: :func:`alsmeds.derive.codelists.psychiatric_codelist`).  The version is read from
    the code: ICD-10 codes begin with a letter, ICD-9 codes with a digit; ICD-9's E and
    V codes begin with a letter and are not psychiatric.

    Parameters
    ----------
    diagnoses : DataFrame
        The ``diagnoses`` table.
    members : DataFrame
        ``person_id``, ``case_id``, ``index_date``.
    lag_years : int
        Count only diagnoses strictly before the date ``lag_years`` calendar years before
        the index date (:func:`alsmeds.derive.dates.years_before`, the arithmetic of
        :func:`lagged_use`); 0 (the study's rule, :attr:`ExposureRules.psychiatric_history_lag_years`)
        is strictly before the index date itself.  With 1, a diagnosis in the year before
        diagnosis, the window the lagged exposure ignores as possibly prodromal, is not
        history either.
    """
    codes = psychiatric_codelist()
    normalised = normalise_codes(diagnoses["icd10"])
    key = ["person_id", "case_id"]
    out = members[key].copy()
    for group, frame in codes.groupby("group", sort=True):
        hit = match_prefixes(normalised, frame["prefix"], frame["group"]).notna().to_numpy()
        rows = diagnoses.loc[hit, ["person_id", "diagnosis_date"]].merge(members[key + ["index_date"]], on="person_id")
        cutoff = years_before(rows["index_date"].to_numpy(dtype="datetime64[D]"), lag_years)
        rows = rows[rows["diagnosis_date"].to_numpy(dtype="datetime64[D]") < cutoff].drop_duplicates(key)
        flag = out.merge(rows[key].assign(_hit=1), on=key, how="left")["_hit"].fillna(0).astype(np.int8)
        out[f"psych_{group}"] = flag.to_numpy()
    out["psych_history"] = out.pop("psych_any_psychiatric")
    return out


def lookback_years(members: pd.DataFrame, register_start) -> pd.Series:
    """Years of dispensing history before each member's index date (:func:`~alsmeds.derive.dates.years_between`).

    Parameters
    ----------
    members : DataFrame
        With ``index_date``.
    register_start : date
        First day of the Prescribed Drug Register (``extract.json``).

    Returns
    -------
    Series
        Aligned with ``members``.
    """
    start = np.datetime64(pd.Timestamp(register_start).date(), "D")
    return pd.Series(years_between(start, members["index_date"]), index=members.index)
