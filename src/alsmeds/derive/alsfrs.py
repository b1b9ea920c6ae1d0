"""The ALSFRS-R data: one row per kept registry visit of an ALS case, with exposures and follow-up.

ALSFRS-R (0-48, higher is better) is measured at registry visits about every 12 weeks
from diagnosis.  This module selects the visits an analysis of functional decline may
use, with the case's prediagnostic use of each class and covariates, and describes them
(visits per patient, time between visits, per-patient slopes).  The mixed model that
reads these data is :mod:`alsmeds.models.mixed`.

Rules for register data
-----------------------
* **Two assessments on the same day** (the validator accepts them with a counted
  warning) are averaged into one visit: :func:`alsfrs_visits` is the one place this
  happens, used both here and by the baseline ALSFRS-R of
  :mod:`alsmeds.derive.survival_data`.  The averaged total may be a half point; the
  number merged is counted in the visit selection (``same_day_assessments_merged``).
* **Follow-up and the score at diagnosis** follow the rules shared with the survival
  data (:mod:`alsmeds.derive.followup`): the first event (invasive ventilation on a
  same-day tie with death), the end of follow-up (an emigration before the diagnosis
  is ignored) and the 30-day window of the score at diagnosis
  (:func:`score_at_diagnosis`, the survival data's baseline ALSFRS-R).
* **Every ALS case belongs to the prognosis cohort**, including a case with no control
  at all (uninformative for the risk models, see :mod:`alsmeds.derive.analysis_table`) and a
  case whose only controls are siblings or a spouse.
* **Case exposures** come from :func:`alsmeds.derive.cohort.case_exposures` (also
  :func:`case_exposures` here and in :mod:`alsmeds.models.cox`: the same function), one
  row per case classified at its diagnosis date, never from the rows of one comparison.

Examples
--------
>>> from alsmeds import Study
>>> data = Study.synthetic().alsfrs_data      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES
from alsmeds.derive.cohort import case_exposures as case_exposures  # re-exported: one function for every case
from alsmeds.derive.dates import DAYS_PER_MONTH as DAYS_PER_MONTH  # re-exported: the unit of time of every model here
from alsmeds.derive.dates import age_in_years, days_between, months_between
from alsmeds.derive.exposure import ever_used
from alsmeds.derive.followup import BASELINE_WINDOW_DAYS, baseline_scores, case_follow_up, visit_period
from alsmeds.published import published_value

#: Published mean ALSFRS-R at diagnosis (Chourpiliadis et al. 2025; P), from :mod:`alsmeds.published`.
PUBLISHED_SCORE_AT_DIAGNOSIS = published_value("cases:alsfrs_at_diagnosis")


#: Age the age covariate is centred at (years).
REFERENCE_AGE = 65.0


#: Columns of :func:`build_alsfrs_data`: column -> meaning.
ALSFRS_DATA_COLUMNS: dict[str, str] = {
    "person_id": "the ALS case",
    "visit_date": "date of the registry visit",
    "diagnosis_date": "date of ALS diagnosis (the index date)",
    "months": "months since diagnosis at the visit (days / 30.4375)",
    "score": "ALSFRS-R total score, 0-48 (higher is better)",
    "visit": "0-based number of the visit among the patient's kept visits",
    "n_visits": "number of kept visits of the patient",
    **{k: f"1 if prediagnostic use of {k} (any qualifying use before diagnosis: cat_{k} != 0)" for k in CLASSES},
    "age": "age at diagnosis, years",
    "age_per_decade": "(age - 65) / 10",
    "male": "1 for men",
    "onset_site": "bulbar or spinal",
    "bulbar": "1 for bulbar onset",
    "event": "first of death or invasive_ventilation during follow-up, else none",
    "event_months": "months from diagnosis to that event (missing without an event)",
    "followup_months": "months from diagnosis to the end of follow-up (the event, emigration or the end of follow-up)",
}


def _tables(registry: Any) -> Mapping[str, pd.DataFrame]:
    return registry.tables if hasattr(registry, "tables") else registry


def alsfrs_visits(alsfrs: pd.DataFrame) -> pd.DataFrame:
    """One ALSFRS-R total per person and visit day: assessments on the same day are averaged.

    Real registry extracts can hold two assessments of one patient on one day (a
    re-assessment, a second clinic).  They measure the same state, so they are averaged
    into one visit rather than counted as two independent visits (which would give that
    day double weight in a mixed model) or resolved by an arbitrary choice.  Used by
    :func:`build_alsfrs_data` and by the baseline score of
    :func:`alsmeds.derive.survival_data.baseline_alsfrs`.

    The visits kept for the analyses, and the score at diagnosis, follow the shared
    follow-up rules of :mod:`alsmeds.derive.followup`.

    Parameters
    ----------
    alsfrs : DataFrame
        The ``alsfrs`` table: ``person_id``, ``visit_date``, ``alsfrs_r_total``.

    Returns
    -------
    DataFrame
        ``person_id``, ``visit_date``, ``alsfrs_r_total`` (float: the mean of the day's
        non-missing totals, missing when all are) and ``assessments`` (rows merged),
        sorted by person and date.
    """
    rows = alsfrs[["person_id", "visit_date", "alsfrs_r_total"]].copy()
    rows["visit_date"] = pd.to_datetime(rows["visit_date"])
    rows["alsfrs_r_total"] = rows["alsfrs_r_total"].astype(float)
    grouped = rows.groupby(["person_id", "visit_date"], sort=True)
    out = grouped.agg(alsfrs_r_total=("alsfrs_r_total", "mean"), assessments=("alsfrs_r_total", "size"))
    return out.reset_index()


def build_alsfrs_data(registry: Any, exposures: pd.DataFrame, classes: Sequence[str] = CLASSES) -> pd.DataFrame:
    """One row per kept ALSFRS-R visit, with exposures, covariates and follow-up of the case.

    Visits kept
    -----------
    0. Assessments of one patient on the same day are averaged into one visit
       (:func:`alsfrs_visits`; counted as ``same_day_assessments_merged``).
    1. Visits of ALS cases (``als_cases``) that have a row in ``exposures``; visits of
       other cases are dropped (counted as ``no_exposure_row``; none with
       :func:`case_exposures`, which covers every case).
    2. Visits on or after the diagnosis date (``before_diagnosis``; the input
       contract already forbids earlier visits).
    3. Visits on or before the end of follow-up (``after_end_of_follow_up``): the
       earliest of the first event (death or invasive ventilation, from ``outcomes`` and
       ``persons.death_date``; invasive ventilation on a same-day tie), emigration on or
       after the diagnosis date (an earlier emigration is ignored) and
       ``end_of_follow_up`` (``extract.json``), as in the survival data: both take it
       from :func:`alsmeds.derive.followup.follow_up`.  A visit on that day is kept: its
       score is taken as measured before the event.
    4. Visits with a missing total score are dropped (``missing_score``).

    The counts of dropped visits are in ``frame.attrs["selection"]``.

    Parameters
    ----------
    registry : alsmeds.data.registry.Registry or mapping
        A register extract (``tables`` with ``als_cases``, ``alsfrs``, ``outcomes`` and
        ``persons``; ``metadata`` with ``end_of_follow_up``).
    exposures : DataFrame
        One row per case with ``person_id`` and ``cat_<class>``: :func:`case_exposures`
        of the registry (every case, whatever its controls).
        Prediagnostic use of a class is ``cat_<class> != 0``
        (:func:`alsmeds.derive.exposure.ever_used`): at least two dispensings before
        diagnosis, the last year included (the paper's prognosis exposure).
    classes : sequence of str
        Drug classes to carry.

    Returns
    -------
    DataFrame
        Columns :data:`ALSFRS_DATA_COLUMNS`, sorted by ``person_id`` and ``months``.
    """
    tables = _tables(registry)
    if exposures["person_id"].duplicated().any():
        raise ValueError("exposures must have one row per person_id")
    missing = [f"cat_{k}" for k in classes if f"cat_{k}" not in exposures]
    if missing:
        raise ValueError(f"exposures lacks column(s) {missing}")

    cases = tables["als_cases"][["person_id", "diagnosis_date", "onset_site"]].copy()
    cases["diagnosis_date"] = pd.to_datetime(cases["diagnosis_date"])
    persons = tables["persons"].set_index("person_id")
    birth = cases["person_id"].map(persons["birth_date"])
    cases["age"] = age_in_years(birth, cases["diagnosis_date"])
    cases["male"] = (cases["person_id"].map(persons["sex"]) == "male").astype(np.int8)
    cases["bulbar"] = (cases["onset_site"] == "bulbar").astype(np.int8)
    cases["age_per_decade"] = (cases["age"] - REFERENCE_AGE) / 10

    followup = case_follow_up(registry).set_index("person_id")
    fu = followup.reindex(cases["person_id"])
    cases["event"] = np.where(fu["event"].to_numpy() == 1, fu["status"].to_numpy(), "none")
    cases["followup_end"] = fu["end_date"].to_numpy()
    cases["event_months"] = months_between(cases["diagnosis_date"], fu["event_date"])
    cases["followup_months"] = months_between(cases["diagnosis_date"], fu["end_date"])

    exp = exposures[["person_id"] + [f"cat_{k}" for k in classes]].copy()
    for k in classes:
        exp[k] = ever_used(exp.pop(f"cat_{k}").to_numpy())

    counts = {"visits_in_register": len(tables["alsfrs"])}
    visits = alsfrs_visits(tables["alsfrs"]).drop(columns="assessments")
    counts["same_day_assessments_merged"] = counts["visits_in_register"] - len(visits)
    visits = visits[visits["person_id"].isin(cases["person_id"])]
    counts["not_an_als_case"] = counts["visits_in_register"] - counts["same_day_assessments_merged"] - len(visits)
    has_exposure = visits["person_id"].isin(exp["person_id"])
    counts["no_exposure_row"] = int((~has_exposure).sum())
    visits = visits[has_exposure].merge(cases, on="person_id", how="left").merge(exp, on="person_id", how="left")
    period = visit_period(visits["visit_date"], visits["diagnosis_date"], visits["followup_end"])
    before = pd.Series(period == "before_diagnosis", index=visits.index)
    after = pd.Series(period == "after_end_of_follow_up", index=visits.index)
    no_score = visits["alsfrs_r_total"].isna()
    counts["before_diagnosis"] = int(before.sum())
    counts["after_end_of_follow_up"] = int((after & ~before).sum())
    counts["missing_score"] = int((no_score & ~before & ~after).sum())
    visits = visits[~before & ~after & ~no_score].copy()
    counts["visits_kept"] = len(visits)
    counts["patients_kept"] = int(visits["person_id"].nunique())
    counts["cases_without_kept_visits"] = int(exp["person_id"].isin(cases["person_id"]).sum()) - counts["patients_kept"]

    visits["months"] = months_between(visits["diagnosis_date"], visits["visit_date"])
    visits["score"] = visits["alsfrs_r_total"].astype(float)
    visits = visits.sort_values(["person_id", "visit_date"], kind="stable").reset_index(drop=True)
    visits["visit"] = visits.groupby("person_id").cumcount()
    visits["n_visits"] = visits.groupby("person_id")["visit"].transform("size")
    columns = [c for c in ALSFRS_DATA_COLUMNS if c not in CLASSES or c in classes]
    out = visits[columns].reset_index(drop=True)
    out.attrs["selection"] = counts
    return out


def score_at_diagnosis(data: pd.DataFrame, window_days: int = BASELINE_WINDOW_DAYS) -> pd.Series:
    """Score at diagnosis of each patient: the baseline ALSFRS-R of the survival data, from the kept visits.

    The rule is :func:`alsmeds.derive.followup.baseline_scores`: the first visit with a
    score within ``window_days`` (:data:`~alsmeds.derive.followup.BASELINE_WINDOW_DAYS`,
    30) days of diagnosis, the same rule and window as ``alsfrs_baseline`` of
    :func:`alsmeds.derive.survival_data.build_survival_data`.

    Parameters
    ----------
    data : DataFrame
        From :func:`build_alsfrs_data` (``person_id``, ``visit_date``, ``diagnosis_date``
        and ``score``; without dates, the day is recovered from ``months``).
    window_days : int
        Latest day after diagnosis that still counts.

    Returns
    -------
    Series
        Indexed by ``person_id``; patients without such a visit are absent.
    """
    if {"visit_date", "diagnosis_date"} <= set(data.columns):
        day = days_between(data["diagnosis_date"], data["visit_date"])
    else:
        day = np.rint(data["months"].to_numpy(dtype=float) * DAYS_PER_MONTH)
    visits = pd.DataFrame({"person_id": data["person_id"].to_numpy(), "day": day, "score": data["score"].to_numpy()})
    return baseline_scores(visits, window_days)["alsfrs_baseline"].rename("score")


def _between_visits_days(data: pd.DataFrame) -> pd.Series:
    gaps = data.groupby("person_id")["months"].diff().dropna()
    return gaps * DAYS_PER_MONTH


def describe_visits(data: pd.DataFrame, by: str | None = "antidepressants") -> pd.DataFrame:
    """Visits per patient, time between visits, follow-up and the score at diagnosis.

    Parameters
    ----------
    data : DataFrame
        From :func:`build_alsfrs_data`.
    by : str, optional
        A 0/1 exposure column: adds columns for non-users and users.

    Returns
    -------
    DataFrame
        One row per measure, one column per group (``all``, and ``non-users`` /
        ``users`` with ``by``).  The score at diagnosis is :func:`score_at_diagnosis`
        (first visit within :data:`~alsmeds.derive.followup.BASELINE_WINDOW_DAYS` days of
        diagnosis, the survival data's baseline rule); the published mean is
        :data:`PUBLISHED_SCORE_AT_DIAGNOSIS`.
    """
    groups = {"all": data}
    if by is not None:
        groups["non-users"] = data[data[by] == 0]
        groups["users"] = data[data[by] == 1]
    out = {}
    for name, d in groups.items():
        per_patient = d.groupby("person_id").agg(
            n=("visit", "size"), last=("months", "max"), event=("event", "first"), followup=("followup_months", "first")
        )
        gaps = _between_visits_days(d)
        at_dx = score_at_diagnosis(d)
        q = per_patient["n"].quantile([0.25, 0.5, 0.75]) if len(per_patient) else pd.Series([np.nan] * 3)
        g = gaps.quantile([0.25, 0.5, 0.75]) if len(gaps) else pd.Series([np.nan] * 3)
        out[name] = {
            "patients": len(per_patient),
            "visits": len(d),
            "visits per patient, mean": per_patient["n"].mean(),
            "visits per patient, median": q.iloc[1],
            "visits per patient, Q1": q.iloc[0],
            "visits per patient, Q3": q.iloc[2],
            "patients with one visit, %": 100 * (per_patient["n"] == 1).mean(),
            "days between visits, median": g.iloc[1],
            "days between visits, Q1": g.iloc[0],
            "days between visits, Q3": g.iloc[2],
            "months from diagnosis to last visit, median": per_patient["last"].median(),
            "months of follow-up, median": per_patient["followup"].median(),
            "death or invasive ventilation, %": 100 * (per_patient["event"] != "none").mean(),
            "patients with a visit at diagnosis": len(at_dx),
            "score at diagnosis, mean": at_dx.mean(),
            "score at diagnosis, SD": at_dx.std(),
            "score at diagnosis, published mean": PUBLISHED_SCORE_AT_DIAGNOSIS,
        }
    return pd.DataFrame(out)


def person_ols_slopes(data: pd.DataFrame, min_visits: int = 3) -> pd.DataFrame:
    """Each patient's own least-squares slope (points/month), for patients with ``min_visits`` visits or more.

    A descriptive of informative dropout: no pooling, no model for who leaves.

    Returns
    -------
    DataFrame
        ``person_id``, ``n_visits``, ``slope``, ``event``, ``followup_months`` and the
        exposure columns present in ``data``.
    """
    d = data[data["n_visits"] >= min_visits]
    t = d["months"] - d.groupby("person_id")["months"].transform("mean")
    y = d["score"] - d.groupby("person_id")["score"].transform("mean")
    parts = pd.DataFrame({"person_id": d["person_id"], "txy": t * y, "txx": t * t})
    sums = parts.groupby("person_id")[["txy", "txx"]].sum()
    keep = [c for c in ("n_visits", "event", "followup_months", *CLASSES) if c in d]
    first = d.groupby("person_id")[keep].first()
    out = first.assign(slope=sums["txy"] / sums["txx"]).reset_index()
    return out[["person_id", "n_visits", "slope"] + [c for c in keep if c != "n_visits"]]


def followup_groups(slopes: pd.DataFrame) -> dict[str, pd.Series]:
    """Patients of :func:`person_ols_slopes` grouped by how and when their follow-up ended.

    Returns
    -------
    dict of str to boolean Series
        ``event within 12 months``, ``event at 12-24 months``, ``event after 24 months``
        (death or invasive ventilation) and ``no event (censored)``.
    """
    event = slopes["event"] != "none"
    months = slopes["followup_months"]
    return {
        "event within 12 months": event & (months <= 12),
        "event at 12-24 months": event & (months > 12) & (months <= 24),
        "event after 24 months": event & (months > 24),
        "no event (censored)": ~event,
    }


def slopes_by_followup(slopes: pd.DataFrame) -> pd.DataFrame:
    """Number, mean and median of the patients' own slopes in each :func:`followup_groups` group.

    Returns
    -------
    DataFrame
        Index: the group; columns ``patients``, ``mean_slope``, ``median_slope`` (points/month).
    """
    rows = {
        name: {
            "patients": int(mask.sum()),
            "mean_slope": float(slopes.loc[mask, "slope"].mean()) if mask.any() else np.nan,
            "median_slope": float(slopes.loc[mask, "slope"].median()) if mask.any() else np.nan,
        }
        for name, mask in followup_groups(slopes).items()
    }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("follow-up")
