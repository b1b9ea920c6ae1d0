"""The analysis table: one row per person and comparison, ready for conditional logistic regression.

Each ALS case appears once in every comparison it has controls for: with its
population controls (``comparison="population"``), its full siblings (``"sibling"``)
and its spouse (``"spouse"``).  Exposure and covariates are assessed at the case's
index date for every member of the set.  :data:`ANALYSIS_TABLE_COLUMNS` documents
each column; the table is written to ``results/analysis_table.parquet``.

Rules for register data (what the analysis does with what the validator accepts)
--------------------------------------------------------------------------------
* **A case with no control at all** (no population control, sibling or spouse: the
  validator accepts it with a counted warning) carries no information for the risk
  models: a matched set of one case and no controls contributes a factor of 1 to the
  conditional likelihood.  It is left out of every comparison of the analysis table
  (a comparison holds only the sets with at least one control of its kind) and counted
  by :func:`uninformative_cases` and :func:`comparison_summary`.  It stays in the
  prognosis cohort: survival (:mod:`alsmeds.survival`) and ALSFRS-R trajectories
  (:mod:`alsmeds.trajectories`) are built from ``als_cases``, not from this table.
* **A comparison without any sets** (an extract with no siblings or spouses) is absent
  from the table; :func:`comparison_summary` shows it with zero sets, and the risk
  models report each of its terms as not estimable, with the reason.
* **Case exposures for the prognosis analyses** come from :func:`case_exposures`, one
  row for *every* ALS case, classified from its dispensings at its own diagnosis date.
  They never depend on which comparison a case has controls in (a case with only
  sibling controls, or none, is classified like any other).  Within the analysis
  table a case's exposure is the same in every comparison, since every member of a set
  is assessed at the case's index date, which equals its diagnosis date.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .codelists import class_codelist, load_codelist
from .constants import CLASSES
from .exposure import DEFAULT_RULES, ExposureRules, classify_exposures, lookback_years, psychiatric_history
from .io import Registry

COMPARISON_ROLES = {"population": "population_control", "sibling": "sibling", "spouse": "spouse"}

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


def _subclass_columns() -> dict[str, str]:
    groups = sorted(class_codelist("subclass")["group"].unique())
    return {f"sub_{g}": f"qualifying use of subclass {g} before the index date" for g in groups}


def set_members(registry: Registry) -> pd.DataFrame:
    """Study population members with covariates at the index date (one row per person and set)."""
    sp = registry["study_population"]
    persons = registry["persons"].set_index("person_id")
    out = sp.join(persons, on="person_id")
    out["age"] = (out["index_date"] - out["birth_date"]).dt.days / 365.25
    out["male"] = (out["sex"] == "male").astype(np.int8)
    return out.rename(columns={"country_of_birth": "country", "civil_status": "civil"})


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
    psych = psychiatric_history(registry["diagnoses"], members[key + ["index_date"]])
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
    table = table[columns + [c for c in table.columns if c.endswith(tuple(f"_in_{w}" for w in ("0_1", "1_5", "gt5")))]]
    order = {c: i for i, c in enumerate(COMPARISON_ROLES)}
    table = table.sort_values(
        ["comparison", "set_id", "case", "person_id"],
        key=lambda s: s.map(order) if s.name == "comparison" else s,
        ascending=[True, True, False, True],
        kind="stable",
    )
    return table.reset_index(drop=True)


def case_exposures(
    registry: Registry, rules: ExposureRules = DEFAULT_RULES, classes: tuple[str, ...] = CLASSES
) -> pd.DataFrame:
    """Exposure of every ALS case at its diagnosis date, whatever comparisons it has controls in.

    The one source of case exposures for the prognosis analyses (notebooks 05 and 06,
    :func:`alsmeds.survival.build_survival_data` and
    :func:`alsmeds.trajectories.build_alsfrs_data`).  Each case of ``als_cases`` is
    classified from its dispensings with the same rules as the analysis table
    (:func:`alsmeds.exposure.classify_exposures`) at its diagnosis date, which is the
    index date of its matched set; so the values equal the case rows of the analysis
    table, for the cases that are in it, and exist also for the cases that are not
    (no control at all, see the module docstring).

    Parameters
    ----------
    registry : Registry
        A register extract with ``als_cases`` and ``dispensings`` (anything indexable by
        table name will do).
    rules : ExposureRules
        The exposure definition (default: the study's).
    classes : tuple of str
        Drug classes to return.

    Returns
    -------
    DataFrame
        One row per ALS case, sorted by ``person_id``: ``person_id``, ``diagnosis_date``,
        and per class ``cat_<class>`` (window code of first qualifying use; 0 never),
        ``window_<class>`` (label) and ``<class>_gt1`` (lagged exposure).
    """
    cases = registry["als_cases"][["person_id", "diagnosis_date"]].sort_values("person_id", kind="stable")
    members = pd.DataFrame(
        {
            "person_id": cases["person_id"].to_numpy(),
            "case_id": cases["person_id"].to_numpy(),
            "index_date": pd.to_datetime(cases["diagnosis_date"]).to_numpy(),
        }
    )
    exposures = classify_exposures(registry["dispensings"], members, rules)
    columns = [c for k in classes for c in (f"cat_{k}", f"window_{k}", f"{k}_gt1")]
    out = exposures[["person_id", *columns]].copy()
    out.insert(1, "diagnosis_date", members["index_date"].to_numpy())
    return out.reset_index(drop=True)


def uninformative_cases(registry: Registry) -> pd.DataFrame:
    """ALS cases whose matched set has no control of any kind (population control, sibling or spouse).

    They are left out of the analysis table and the risk models (a set without controls
    carries no information about an odds ratio) but stay in the prognosis cohort.

    Returns
    -------
    DataFrame
        ``person_id`` and ``index_date`` of each such case, sorted by ``person_id``
        (empty for the synthetic data).
    """
    sp = registry["study_population"]
    with_controls = sp.loc[sp["role"] != "case", "case_id"].unique()
    cases = sp[(sp["role"] == "case") & ~sp["case_id"].isin(with_controls)]
    return cases[["person_id", "index_date"]].sort_values("person_id", kind="stable").reset_index(drop=True)


def comparison_summary(table: pd.DataFrame, registry: Registry | None = None) -> pd.DataFrame:
    """Matched sets, rows, cases and controls per comparison, every comparison listed (zero when absent).

    Parameters
    ----------
    table : DataFrame
        The analysis table.
    registry : Registry, optional
        With it, a last row ``no control (uninformative)`` counts the ALS cases with no
        control at all (:func:`uninformative_cases`), which are in no comparison.

    Returns
    -------
    DataFrame
        Index ``comparison``; columns ``sets``, ``rows``, ``cases``, ``controls`` (int).
    """
    rows = []
    for comparison in COMPARISON_ROLES:
        part = table[table["comparison"] == comparison]
        cases = int(part["case"].sum()) if len(part) else 0
        rows.append(
            {
                "comparison": comparison,
                "sets": int(part["set_id"].nunique()),
                "rows": int(len(part)),
                "cases": cases,
                "controls": int(len(part)) - cases,
            }
        )
    if registry is not None:
        n = len(uninformative_cases(registry))
        rows.append({"comparison": "no control (uninformative)", "sets": n, "rows": n, "cases": n, "controls": 0})
    return pd.DataFrame(rows).set_index("comparison")


def analysis_table_schema() -> pd.DataFrame:
    """The documented columns of the analysis table as a small DataFrame (column, meaning)."""
    described = {**ANALYSIS_TABLE_COLUMNS, **_subclass_columns()}
    return pd.DataFrame({"column": list(described), "meaning": list(described.values())})


def psychiatric_groups() -> list[str]:
    """ICD-10 groups of the psychiatric code list."""
    return sorted(load_codelist("icd10_psychiatric")["group"].unique())


ANALYSIS_TABLE_FILE = "analysis_table.parquet"
ANALYSIS_TABLE_SOURCE_FILE = "analysis_table.source.json"
#: The tables the analysis table is built from (its cache key covers them and extract.json).
ANALYSIS_INPUT_TABLES = ("persons", "study_population", "dispensings", "diagnoses")


def data_fingerprint(data_dir) -> str:
    """SHA-256 over the checksums of every table file and ``extract.json`` of a register folder."""
    import hashlib
    from pathlib import Path

    from .io import sha256_file

    digest = hashlib.sha256()
    for path in sorted(Path(data_dir).iterdir()):
        if path.suffix in (".csv", ".parquet") and path.stem in ANALYSIS_INPUT_TABLES or path.name == "extract.json":
            digest.update(f"{path.name} {sha256_file(path)}\n".encode())
    return digest.hexdigest()


def write_analysis_table(table: pd.DataFrame, registry: Registry, results_dir, rules: ExposureRules = DEFAULT_RULES):
    """Write the table and its source record (data fingerprint and rules) to ``results_dir``, atomically.

    The old source record is removed first, so a crash between the two writes never
    leaves a record that vouches for a table of other data.
    """
    from pathlib import Path

    from .io import write_json_atomic, write_parquet_atomic

    results_dir = Path(results_dir)
    (results_dir / ANALYSIS_TABLE_SOURCE_FILE).unlink(missing_ok=True)
    table_path = write_parquet_atomic(results_dir / ANALYSIS_TABLE_FILE, table)
    source_path = write_json_atomic(results_dir / ANALYSIS_TABLE_SOURCE_FILE, _source_record(registry, rules))
    return [table_path, source_path]


def _source_record(registry: Registry, rules: ExposureRules) -> dict:
    import json
    from dataclasses import asdict

    return json.loads(json.dumps({"data_fingerprint": data_fingerprint(registry.data_dir), "rules": asdict(rules)}))


def analysis_table_for(
    registry: Registry, results_dir, rules: ExposureRules = DEFAULT_RULES, rebuild: bool = False
) -> pd.DataFrame:
    """The analysis table of a registry: read from ``results_dir`` when it was built from the same data, else built.

    A table is reused only when ``analysis_table.source.json`` next to it records the
    same data fingerprint and exposure rules; otherwise (or with ``rebuild=True``) it is
    built and written with :func:`write_analysis_table`, so a notebook never fits models
    to a table of other data.
    """
    import json
    from pathlib import Path

    results_dir = Path(results_dir)
    table_path, source_path = results_dir / ANALYSIS_TABLE_FILE, results_dir / ANALYSIS_TABLE_SOURCE_FILE
    if (
        not rebuild
        and table_path.is_file()
        and source_path.is_file()
        and json.loads(source_path.read_text()) == _source_record(registry, rules)
    ):
        return pd.read_parquet(table_path)
    table = build_analysis_table(registry, rules)
    write_analysis_table(table, registry, results_dir, rules)
    return table
