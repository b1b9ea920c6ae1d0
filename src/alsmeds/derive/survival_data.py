"""The survival data: one row per ALS case, from diagnosis to death or invasive ventilation.

The prognosis half of Chourpiliadis et al. (2025) asks whether people who used
anxiolytics, hypnotics or antidepressants *before* their ALS diagnosis reach death or
invasive ventilation sooner after it.  This module builds the frame the Kaplan-Meier,
log-rank and Cox analyses (:mod:`alsmeds.models.km`, :mod:`alsmeds.models.cox`) read;
it fits nothing.

Survival data rules (:func:`build_survival_data`)
-------------------------------------------------
The follow-up rules are shared with the ALSFRS-R data and defined once, in
:mod:`alsmeds.derive.followup`:

* **Time origin**: the ALS diagnosis date (``als_cases.diagnosis_date``, the index date).
* **Event**: the first of death or invasive ventilation, from the ``outcomes`` rows and
  ``persons.death_date``; invasive ventilation followed by death counts at the
  ventilation date, and on a same-day tie the event is invasive ventilation
  (:func:`alsmeds.derive.followup.first_events`, which says why).
* **Censoring**: at ``end_of_follow_up`` of ``extract.json`` (administrative), or at
  emigration (``persons.emigration_date``), whichever comes first, when no event
  happened on or before it.  An event *on* the emigration date counts; an event after
  emigration or after the end of follow-up does not.  An emigration date *before* the
  diagnosis is ignored: a person diagnosed in the Swedish registry has returned
  (:func:`alsmeds.derive.followup.follow_up`).
* **Time scale**: years, ``days / 365.25`` (:func:`alsmeds.derive.dates.years_between`).
  A case with an event or censoring on the diagnosis day has time 0 (kept; it
  contributes to the risk set at time 0 only).
* **Covariates at diagnosis**: age (years, from ``persons.birth_date``,
  :func:`alsmeds.derive.dates.age_in_years`), male sex, bulbar onset, diagnostic delay
  (months from first symptom), and the **baseline ALSFRS-R**: the score at diagnosis
  of :func:`alsmeds.derive.followup.baseline_scores`, i.e. of the first visit with a
  score on the diagnosis date or within
  :data:`~alsmeds.derive.followup.BASELINE_WINDOW_DAYS` (30) days after it, and not
  after the end of follow-up; missing when there is none (the Cox models then drop the
  case: a complete-case analysis, reported as ``n_dropped``).  It equals the first
  score of the case's ALSFRS-R data (:func:`alsmeds.derive.alsfrs.score_at_diagnosis`).
* **Exposure**: *prediagnostic use* of each class, ``use_<class>`` = any qualifying use
  (at least two dispensings on distinct dates) before the diagnosis date, whatever the
  window, i.e. ``cat_<class> != 0`` (:func:`alsmeds.derive.exposure.ever_used`).  This
  is the exposure of the paper's prognosis analysis and of the generator's planted hazard.

Rules for register data
-----------------------
* **Every ALS case is in the prognosis cohort**, including a case with no control at
  all (uninformative for the risk models and absent from the analysis table, see
  :mod:`alsmeds.derive.analysis_table`) and a case whose only controls are siblings or a spouse.
* **Case exposures** come from :func:`case_exposures`
  (:func:`alsmeds.derive.cohort.case_exposures`, the same function
  :mod:`alsmeds.models.mixed` uses): every case classified from its dispensings at its
  diagnosis date, never from the rows of one comparison of the analysis table.
* **Two ALSFRS-R assessments on the same day** are averaged into one visit
  (:func:`alsmeds.derive.alsfrs.alsfrs_visits`) before the baseline score is taken, so
  the baseline may be a half point.

Examples
--------
>>> from alsmeds import Study
>>> data = Study.synthetic().survival_data     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES
from alsmeds.derive.cohort import case_exposures as case_exposures  # re-exported: one function for every case
from alsmeds.derive.dates import DAYS_PER_YEAR as DAYS_PER_YEAR  # re-exported: the time scale
from alsmeds.derive.dates import age_in_years, days_between, years_between
from alsmeds.derive.exposure import ever_used
from alsmeds.derive.followup import BASELINE_WINDOW_DAYS as BASELINE_WINDOW_DAYS  # re-exported: the one window
from alsmeds.derive.followup import baseline_scores, case_follow_up, visit_period

#: Columns of :func:`build_survival_data`, with their meaning.
SURVIVAL_DATA_COLUMNS = {
    "person_id": "the ALS case",
    "diagnosis_date": "date of ALS diagnosis (time origin)",
    "end_date": "date follow-up ended: the event, emigration or the end of follow-up",
    "time": "years from diagnosis to end_date (days / 365.25)",
    "event": "1 when follow-up ended with death or invasive ventilation, else 0",
    "status": "death, invasive_ventilation, emigration or end_of_follow_up: how follow-up ended",
    "age": "age at diagnosis, years",
    "male": "1 for men",
    "onset_site": "bulbar or spinal",
    "bulbar": "1 for bulbar onset",
    "diagnostic_delay_months": "months from first symptom to diagnosis",
    "alsfrs_baseline": "ALSFRS-R total at diagnosis (visit on the diagnosis date or first within 30 days)",
    "alsfrs_baseline_day": "days from diagnosis to the baseline visit",
    **{f"cat_{k}": f"{k}: window code of first qualifying use (0 never, 1 0-1 y, 2 1-5 y, 3 >5 y)" for k in CLASSES},
    **{f"use_{k}": f"1 for any qualifying use of {k} before diagnosis (prediagnostic use)" for k in CLASSES},
}


def baseline_alsfrs(
    alsfrs: pd.DataFrame, followup: pd.DataFrame, window_days: int = BASELINE_WINDOW_DAYS
) -> pd.DataFrame:
    """The ALSFRS-R at diagnosis of each case (:func:`alsmeds.derive.followup.baseline_scores`).

    Assessments on the same day are averaged first (:func:`alsmeds.derive.alsfrs.alsfrs_visits`);
    of the visits in follow-up (:func:`alsmeds.derive.followup.visit_period`), the first
    with a score within ``window_days`` of diagnosis gives the baseline.

    Parameters
    ----------
    alsfrs : DataFrame
        person_id, visit_date, alsfrs_r_total.
    followup : DataFrame
        :func:`alsmeds.derive.followup.follow_up` of the cases (``person_id``,
        ``diagnosis_date``, ``end_date``).
    window_days : int
        Latest visit day after diagnosis that still counts as baseline.

    Returns
    -------
    DataFrame
        Indexed by person_id: ``alsfrs_baseline`` and ``alsfrs_baseline_day`` (days after
        diagnosis); persons without such a visit are absent.
    """
    from alsmeds.derive.alsfrs import alsfrs_visits

    cases = followup.set_index("person_id")
    visits = alsfrs_visits(alsfrs[alsfrs["person_id"].isin(cases.index)])
    diagnosis = visits["person_id"].map(cases["diagnosis_date"])
    period = visit_period(visits["visit_date"], diagnosis, visits["person_id"].map(cases["end_date"]))
    visits = visits.assign(day=days_between(diagnosis, visits["visit_date"]), score=visits["alsfrs_r_total"])
    return baseline_scores(visits[period == "in_follow_up"], window_days)


def build_survival_data(
    registry: Any,
    exposures: pd.DataFrame,
    *,
    classes: Sequence[str] = CLASSES,
    baseline_window_days: int = BASELINE_WINDOW_DAYS,
) -> pd.DataFrame:
    """One row per ALS case: time from diagnosis to death or invasive ventilation, with covariates and exposure.

    The rules (event, censoring at the end of follow-up or emigration, baseline
    ALSFRS-R, prediagnostic use) are given in the module docstring;
    :data:`SURVIVAL_DATA_COLUMNS` lists the columns.

    Parameters
    ----------
    registry : Registry
        A register extract with ``als_cases``, ``persons``, ``outcomes`` and ``alsfrs``
        tables and ``metadata["end_of_follow_up"]`` (anything indexable by table name
        with a ``metadata`` mapping will do).
    exposures : DataFrame
        ``person_id`` and ``cat_<class>`` for every case: :func:`case_exposures` of the
        registry.
    classes : sequence of str
        Drug classes to carry.
    baseline_window_days : int
        Latest day after diagnosis whose visit may give the baseline ALSFRS-R.

    Returns
    -------
    DataFrame
        Sorted by person_id.

    Raises
    ------
    ValueError
        When a case has no exposure row, or ``exposures`` is an analysis table (whose
        case rows depend on the comparisons a case has controls in).
    """
    if "comparison" in exposures.columns:
        raise ValueError(
            "exposures must be one row per case from case_exposures(registry), not the analysis table: "
            "a case with no control is not in the analysis table"
        )
    cases = registry["als_cases"][["person_id", "diagnosis_date", "onset_site", "diagnostic_delay_months"]]
    cases = cases.sort_values("person_id", kind="stable").reset_index(drop=True)
    persons = registry["persons"].set_index("person_id")
    missing = sorted(set(cases["person_id"]) - set(exposures["person_id"]))
    if missing:
        raise ValueError(f"{len(missing)} case(s) without exposure data, e.g. person_id {missing[:5]}")

    diagnosis = pd.to_datetime(cases["diagnosis_date"])
    followup = case_follow_up(registry)
    fu = followup.set_index("person_id").reindex(cases["person_id"])
    birth = cases["person_id"].map(persons["birth_date"])
    baseline = baseline_alsfrs(registry["alsfrs"], followup, baseline_window_days)
    out = pd.DataFrame(
        {
            "person_id": cases["person_id"].to_numpy(),
            "diagnosis_date": diagnosis.to_numpy(),
            "end_date": fu["end_date"].to_numpy(),
            "time": years_between(diagnosis, fu["end_date"]),
            "event": fu["event"].to_numpy(),
            "status": fu["status"].to_numpy(),
            "age": age_in_years(birth, diagnosis),
            "male": (cases["person_id"].map(persons["sex"]) == "male").astype(np.int64).to_numpy(),
            "onset_site": cases["onset_site"].to_numpy(),
            "bulbar": (cases["onset_site"] == "bulbar").astype(np.int64).to_numpy(),
            "diagnostic_delay_months": cases["diagnostic_delay_months"].astype(float).to_numpy(),
            "alsfrs_baseline": cases["person_id"].map(baseline["alsfrs_baseline"]).to_numpy(dtype=float),
            "alsfrs_baseline_day": cases["person_id"].map(baseline["alsfrs_baseline_day"]).astype("Int64").to_numpy(),
        }
    )
    exp = exposures.set_index("person_id")
    for k in classes:
        cat = out["person_id"].map(exp[f"cat_{k}"]).astype(np.int64)
        out[f"cat_{k}"] = cat.to_numpy()
        out[f"use_{k}"] = ever_used(cat).astype(np.int64)
    return out[[c for c in SURVIVAL_DATA_COLUMNS if c in out.columns]]
