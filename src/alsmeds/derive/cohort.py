"""The study's cohorts: matched sets and their comparisons, and the prognosis cohort of every ALS case.

Rules
-----
* **Comparisons and roles** (:data:`COMPARISON_ROLES`, the one definition): each ALS
  case is compared with its population controls (``comparison="population"``,
  role ``population_control``), its full siblings (``"sibling"``, role ``sibling``)
  and its spouse (``"spouse"``, role ``spouse``).  The analysis table
  (:mod:`alsmeds.derive.analysis_table`), the risk models
  (:data:`alsmeds.models.risk.COMPARISONS`) and the truth computation of the generator
  (:func:`alsmeds.simulate.truth.comparison_sets`) import it.
* **Covariates of a set member** (:func:`set_members`) are assessed at the case's
  index date: age in years by :func:`alsmeds.derive.dates.age_in_years`
  (days / 365.25), sex, education, country of birth, civil status.
* **A case with no control at all** (no population control, sibling or spouse: the
  validator accepts it with a counted warning) carries no information for the risk
  models and is in no comparison (:func:`uninformative_cases`,
  :func:`comparison_summary`).  It stays in the prognosis cohort: survival and
  ALSFRS-R data are built from ``als_cases``, not from the analysis table.
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

from alsmeds.constants import CLASSES
from alsmeds.data.registry import Registry
from alsmeds.derive.dates import age_in_years
from alsmeds.derive.exposure import (
    DEFAULT_RULES,
    ExposureRules,
    classify_exposures,
)

#: Comparison -> the role of its controls in ``study_population`` (the one map; the order is the report order).
COMPARISON_ROLES = {"population": "population_control", "sibling": "sibling", "spouse": "spouse"}


def set_members(registry: Registry) -> pd.DataFrame:
    """Study population members with covariates at the index date (one row per person and set).

    Parameters
    ----------
    registry : Registry
        With ``study_population`` and ``persons``.

    Returns
    -------
    DataFrame
        The rows of ``study_population`` joined with ``persons``, plus ``age`` (years at
        the index date, :func:`alsmeds.derive.dates.age_in_years`) and ``male`` (0/1);
        ``country_of_birth`` and ``civil_status`` renamed ``country`` and ``civil``.
    """
    sp = registry["study_population"]
    persons = registry["persons"].set_index("person_id")
    out = sp.join(persons, on="person_id")
    out["age"] = age_in_years(out["birth_date"], out["index_date"])
    out["male"] = (out["sex"] == "male").astype(np.int8)
    return out.rename(columns={"country_of_birth": "country", "civil_status": "civil"})


def case_exposures(
    registry: Registry, rules: ExposureRules = DEFAULT_RULES, classes: tuple[str, ...] = CLASSES
) -> pd.DataFrame:
    """Exposure of every ALS case at its diagnosis date, whatever comparisons it has controls in.

    The one source of case exposures for the prognosis analyses (notebooks 05 and 06,
    :func:`alsmeds.derive.survival_data.build_survival_data` and
    :func:`alsmeds.derive.alsfrs.build_alsfrs_data`).  Each case of ``als_cases`` is
    classified from its dispensings with the same rules as the analysis table
    (:func:`alsmeds.derive.exposure.classify_exposures`) at its diagnosis date, which is the
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
