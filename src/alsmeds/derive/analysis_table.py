"""The analysis table: one row per person and comparison, ready for conditional logistic regression.

Each ALS case appears once in every comparison it has controls for: with its
population controls (``comparison="population"``), its full siblings (``"sibling"``)
and its spouse (``"spouse"``).  Exposure (:mod:`alsmeds.derive.exposure`) and
covariates (:func:`alsmeds.derive.cohort.set_members`) are assessed at the case's index
date for every member of the set.  :data:`ANALYSIS_TABLE_COLUMNS` documents each
column (notebook 02 writes them to ``results/analysis_table_schema.csv``), and
:data:`NEGATIVE_CONTROL_COLUMNS` the negative-control exposure's, the last columns; the table is
built in memory (``Study.analysis_table``), never cached in ``results/``.

The panel of controls of empirical calibration (issue 25; 35 negative and 3 synthetic
positive controls) is a separate frame, :func:`build_panel_table`: the analysis table's
rows and covariates with two columns per class (:data:`panel_table_columns`), classified
by the same rules (:func:`alsmeds.derive.exposure.classify_panel_exposures`).  Seventy-six
more columns in the analysis table (150 with the window labels and dates) would be carried
by every frame and notebook that never reads them, so only the calibration analysis builds it.

Rules for register data
-----------------------
* **A case with no control at all** contributes a factor of 1 to the conditional
  likelihood: it is in no comparison of this table (a comparison holds only the sets
  with at least one control of its kind); :mod:`alsmeds.derive.cohort` counts it and
  keeps it in the prognosis cohort.
* **A comparison without any sets** (an extract with no siblings or spouses) is absent
  from the table; :func:`alsmeds.derive.cohort.comparison_summary` shows it with zero
  sets, and the risk models report each of its terms as not estimable, with the reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES, NEGATIVE_CONTROL
from alsmeds.data.registry import Registry
from alsmeds.derive.codelists import class_codelist, panel_codelist
from alsmeds.derive.cohort import COMPARISON_ROLES, set_members
from alsmeds.derive.exposure import (
    DEFAULT_RULES,
    ExposureRules,
    classify_exposures,
    classify_panel_exposures,
    lookback_years,
    psychiatric_history,
)

#: Column -> meaning, in the order of the table (per-class and per-group columns expanded).
ANALYSIS_TABLE_COLUMNS: dict[str, str] = {
    "comparison": "population, sibling or spouse: which controls the set holds",
    "set_id": "matched-set id = person_id of the case",
    "person_id": "the member",
    "role": "case, population_control, sibling or spouse",
    "case": "1 for the ALS case of the set, else 0",
    "index_date": "the case's diagnosis date; everything is assessed before it",
    "age": "age at the index date, years",
    "age_group": "<65 or 65+ by the member's own age at the index date",
    "case_age_group": "<65 or 65+ by the case's age (stratifies whole sets)",
    "male": "1 for men",
    "education": "compulsory, upper_secondary or post_secondary",
    "country": "country of birth: sweden, other_nordic or other",
    "civil": "civil status: married, unmarried, divorced or widowed",
    "lookback_years": "years of Prescribed Drug Register history before the index date",
    "psych_history": "any ICD-10 F-chapter diagnosis before the index date",
    **{
        f"psych_{g}": f"ICD-10 group '{g}' before the index date"
        for g in ("anxiety", "depression", "psychotic", "sleep", "stress", "substance_use")
    },
    **{f"cat_{k}": f"{k}: window code of first qualifying use (0 never, 1 0-1 y, 2 1-5 y, 3 >5 y)" for k in CLASSES},
    **{f"window_{k}": f"{k}: window label (never, 0_1, 1_5, gt5)" for k in CLASSES},
    **{
        f"{k}_gt1": f"{k}: first qualifying use more than 1 year before the index date (lagged main exposure)"
        for k in CLASSES
    },
    **{
        f"first_qualifying_{k}": f"{k}: date of the second distinct dispensing date before the index date"
        for k in CLASSES
    },
}


#: The negative-control exposure's columns (:data:`alsmeds.constants.NEGATIVE_CONTROL`), after every other column:
#: the same definitions as a study class's, from its own code list; no study model reads them.
NEGATIVE_CONTROL_COLUMNS: dict[str, str] = {
    f"cat_{NEGATIVE_CONTROL}": f"{NEGATIVE_CONTROL} (negative control): window code of first qualifying use "
    "(0 never, 1 0-1 y, 2 1-5 y, 3 >5 y)",
    f"window_{NEGATIVE_CONTROL}": f"{NEGATIVE_CONTROL} (negative control): window label (never, 0_1, 1_5, gt5)",
    f"{NEGATIVE_CONTROL}_gt1": f"{NEGATIVE_CONTROL} (negative control): first qualifying use more than 1 year "
    "before the index date (lagged exposure)",
    f"first_qualifying_{NEGATIVE_CONTROL}": f"{NEGATIVE_CONTROL} (negative control): date of the second distinct "
    "dispensing date before the index date",
}


def _subclass_columns() -> dict[str, str]:
    groups = sorted(class_codelist("subclass")["group"].unique())
    return {f"sub_{g}": f"qualifying use of subclass {g} before the index date" for g in groups}


def build_analysis_table(registry: Registry, rules: ExposureRules = DEFAULT_RULES) -> pd.DataFrame:
    """Build the analysis table (see the module docstring and :data:`ANALYSIS_TABLE_COLUMNS`).

    Parameters
    ----------
    registry : Registry
        A validated register extract.
    rules : ExposureRules
        The exposure definition.

    Returns
    -------
    DataFrame
    """
    members = set_members(registry)
    key = ["person_id", "case_id"]
    exposures = classify_exposures(registry["dispensings"], members[key + ["index_date"]], rules)
    psych = psychiatric_history(
        registry["diagnoses"], members[key + ["index_date"]], lag_years=rules.psychiatric_history_lag_years
    )
    base = members.merge(psych, on=key).merge(exposures, on=key)
    base["lookback_years"] = lookback_years(base, registry.metadata["register_start"])
    base["age_group"] = np.where(base["age"] < 65, "<65", "65+")
    case_age = base.loc[base["role"] == "case"].set_index("case_id")["age"]
    base["case_age_group"] = np.where(base["case_id"].map(case_age) < 65, "<65", "65+")
    base["case"] = (base["role"] == "case").astype(np.int8)
    base["set_id"] = base["case_id"]

    parts = []
    for comparison, role in COMPARISON_ROLES.items():
        sets_with_control = base.loc[base["role"] == role, "set_id"].unique()
        rows = base[base["set_id"].isin(sets_with_control) & base["role"].isin(["case", role])]
        parts.append(rows.assign(comparison=comparison))
    table = pd.concat(parts, ignore_index=True)
    columns = list(ANALYSIS_TABLE_COLUMNS) + list(_subclass_columns())
    for col in columns:
        if col.startswith("psych_") and col not in table:
            table[col] = np.int8(0)
    in_window = [c for c in table.columns if c.endswith(tuple(f"_in_{w}" for w in ("0_1", "1_5", "gt5")))]
    table = table[columns + in_window + list(NEGATIVE_CONTROL_COLUMNS)]
    order = {c: i for i, c in enumerate(COMPARISON_ROLES)}
    table = table.sort_values(
        ["comparison", "set_id", "case", "person_id"],
        key=lambda s: s.map(order) if s.name == "comparison" else s,
        ascending=[True, True, False, True],
        kind="stable",
    )
    return table.reset_index(drop=True)


#: The analysis table's columns the panel's frame keeps (:func:`build_panel_table`): the set, the member and the
#: covariates of the risk models, no study class's exposure.
PANEL_TABLE_BASE_COLUMNS = tuple(
    c
    for c in ANALYSIS_TABLE_COLUMNS
    if not c.startswith(("cat_", "window_", "first_qualifying_")) and not c.endswith("_gt1")
)


def panel_table_columns(codes: pd.DataFrame | None = None) -> dict[str, str]:
    """The columns of the panel's frame (:func:`build_panel_table`) and their meaning.

    Parameters
    ----------
    codes : DataFrame, optional
        The panel's code list (default :func:`alsmeds.derive.codelists.panel_codelist`).
    """
    codes = panel_codelist() if codes is None else codes
    out = {c: ANALYSIS_TABLE_COLUMNS[c] for c in PANEL_TABLE_BASE_COLUMNS}
    for group, level, prefix in zip(codes["group"], codes["level"], codes["atc_prefix"], strict=True):
        kind = level.replace("_", " ")
        out[f"cat_{group}"] = (
            f"{group} ({prefix}, {kind}): window code of first qualifying use (0 never, 1 0-1 y, 2 1-5 y, 3 >5 y)"
        )
        out[f"{group}_gt1"] = (
            f"{group} ({prefix}, {kind}): first qualifying use more than the lag before the index date"
        )
    return out


def build_panel_table(
    registry: Registry,
    rules: ExposureRules = DEFAULT_RULES,
    table: pd.DataFrame | None = None,
    codes: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The analysis table's rows and covariates with the panel of controls' exposures (module docstring).

    Parameters
    ----------
    registry : Registry
        A validated register extract.
    rules : ExposureRules
        The exposure definition (the study's rule of two, windows and lag: one definition).
    table : DataFrame, optional
        The analysis table built under ``rules`` (``Study.analysis_table``); built here when not given.
    codes : DataFrame, optional
        The panel's code list (default :func:`alsmeds.derive.codelists.panel_codelist`).

    Returns
    -------
    DataFrame
        One row per row of the analysis table, in its order: :data:`PANEL_TABLE_BASE_COLUMNS`, then per
        class ``cat_<group>`` and ``<group>_gt1`` (:func:`alsmeds.derive.exposure.classify_panel_exposures`).
        A real extract without the panel's codes has every class 0 ("never").
    """
    codes = panel_codelist() if codes is None else codes
    table = build_analysis_table(registry, rules) if table is None else table
    members = table[["person_id", "set_id", "index_date"]].rename(columns={"set_id": "case_id"})
    members = members.drop_duplicates(["person_id", "case_id"]).reset_index(drop=True)
    exposures = classify_panel_exposures(registry["dispensings"], members, rules, codes)
    keyed = table[list(PANEL_TABLE_BASE_COLUMNS)].assign(case_id=table["set_id"])
    out = keyed.merge(exposures, on=["person_id", "case_id"], how="left", validate="many_to_one")
    return out.drop(columns="case_id")


def analysis_table_schema() -> pd.DataFrame:
    """The documented columns of the analysis table as a small DataFrame (column, meaning)."""
    described = {**ANALYSIS_TABLE_COLUMNS, **_subclass_columns(), **NEGATIVE_CONTROL_COLUMNS}
    return pd.DataFrame({"column": list(described), "meaning": list(described.values())})
