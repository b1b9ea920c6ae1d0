"""Published values of Chourpiliadis et al., JAMA Netw Open 2025;8(6):e2514437: the reproduction targets.

Every published number the bundle uses lives in one versioned data file,
``src/alsmeds/published_values.csv``, one row per target with its label and description;
code reads it through this module and hard-codes none.  Labels: ``P`` published (quoted by
the abstract or secondary coverage of it), ``D`` derived arithmetically from published
values, ``A`` an assumption of the bundle.  Only published values are in the file; the
full tables and supplement were not available, so several cells of the paper are missing
(six of the nine class x window odds ratios, the CI of the hypnotics hazard ratio).

Columns of the file: ``target`` (unique id), ``kind`` (odds_ratio, hazard_ratio, count,
descriptive, qualitative), ``analysis``, ``comparison``, ``drug_class``, ``window``,
``published``, ``published_lower``, ``published_upper`` (95% CI or interquartile range),
``unit``, ``label``, ``description``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import pandas as pd

#: The study, as cited in every report of the bundle.
CITATION = (
    "Chourpiliadis C, Lovik A, Ingre C, Press R, Samuelsson K, Valdimarsdottir U, Fang F. Use of Common Psychiatric "
    "Medications and Risk and Prognosis of Amyotrophic Lateral Sclerosis. JAMA Netw Open. 2025;8(6):e2514437. "
    "doi:10.1001/jamanetworkopen.2025.14437"
)

#: File name of the published values (package data).
PUBLISHED_VALUES_FILE = "published_values.csv"


@lru_cache(maxsize=1)
def _read() -> pd.DataFrame:
    text = resources.files("alsmeds").joinpath(PUBLISHED_VALUES_FILE).read_text(encoding="utf-8")
    from io import StringIO

    frame = pd.read_csv(StringIO(text), dtype={"target": str, "label": str}, keep_default_na=False, na_values=[""])
    if frame["target"].duplicated().any():
        raise ValueError(
            f"{PUBLISHED_VALUES_FILE}: duplicate target(s) {sorted(frame['target'][frame['target'].duplicated()])}"
        )
    return frame


def published_values() -> pd.DataFrame:
    """Every published target, one row each (a copy: change it freely)."""
    return _read().copy()


def _ci(row: pd.Series) -> tuple[float, float | None, float | None]:
    lower = None if pd.isna(row["published_lower"]) else float(row["published_lower"])
    upper = None if pd.isna(row["published_upper"]) else float(row["published_upper"])
    return float(row["published"]), lower, upper


def _risk() -> dict[tuple[str, str], tuple[float, float | None, float | None]]:
    rows = _read()[_read()["kind"] == "odds_ratio"]
    return {(r["drug_class"], r["window"]): _ci(r) for _, r in rows.iterrows()}


def _prognosis() -> dict[str, tuple[float, float | None, float | None]]:
    rows = _read()[_read()["kind"] == "hazard_ratio"]
    return {r["drug_class"]: _ci(r) for _, r in rows.iterrows()}


def published_value(target: str) -> float:
    """The published value of one target (e.g. ``"cases:alsfrs_at_diagnosis"``)."""
    rows = _read().set_index("target")
    if target not in rows.index:
        raise KeyError(f"no published target {target!r} in {PUBLISHED_VALUES_FILE}")
    return float(rows.loc[target, "published"])


#: (class, window) -> (OR, lower, upper): adjusted ORs, population controls; window "gt1" is the lagged exposure.
PUBLISHED_RISK = _risk()

#: class -> (HR, lower, upper): joint-model hazard ratios of death or invasive ventilation (None: CI not available).
PUBLISHED_PROGNOSIS = _prognosis()

#: Follow-up of the cases after diagnosis, years: median and interquartile range.
PUBLISHED_FOLLOWUP_YEARS = dict(
    zip(("median", "q1", "q3"), _ci(_read().set_index("target").loc["followup:median"]), strict=True)
)


def published_risk_frame() -> pd.DataFrame:
    """The published odds ratios as a frame: drug_class, window, published_or, published_lower, published_upper."""
    return pd.DataFrame(
        [
            {"drug_class": k, "window": w, "published_or": v[0], "published_lower": v[1], "published_upper": v[2]}
            for (k, w), v in PUBLISHED_RISK.items()
        ]
    )


#: File name of the map from each published target to where the bundle reproduces it (package data).
PAPER_MAP_FILE = "paper_map.csv"


def paper_map() -> pd.DataFrame:
    """Where the bundle reproduces each published target: notebook, section, results file and key, figure.

    One row per target of ``published_values.csv`` (the AEA/DCAS template's list of
    tables, figures and numbers and the programs that make them).

    Returns
    -------
    DataFrame
        Columns ``target``, ``notebook`` (file stem), ``section`` (its heading),
        ``results`` (file and selection) and ``figure`` (file name in ``figures/``), in the
        order of the published values.
    """
    from io import StringIO

    text = resources.files("alsmeds").joinpath(PAPER_MAP_FILE).read_text(encoding="utf-8")
    frame = pd.read_csv(StringIO(text), dtype=str, keep_default_na=False)
    order = {t: i for i, t in enumerate(published_values()["target"])}
    return frame.sort_values("target", key=lambda s: s.map(order)).reset_index(drop=True)
