"""Follow-up of every ALS case after diagnosis: the first event, the end of follow-up and the baseline window.

Both prognosis analyses, the survival data (:mod:`alsmeds.derive.survival_data`) and the
ALSFRS-R visit data (:mod:`alsmeds.derive.alsfrs`), take these rules from here and
nowhere else, so a case has the same event, the same end of follow-up and the same
score at diagnosis in both.

Rules
-----
* **Time origin**: the ALS diagnosis date (``als_cases.diagnosis_date``, the index date).
* **Event**: the first of death or invasive ventilation (:func:`first_events`).  Its
  date is the earliest of the ``outcomes`` rows (``death``, ``invasive_ventilation``)
  and ``persons.death_date`` (the Cause of Death Register, in case the outcomes table
  lacks a death).  Invasive ventilation followed by death therefore counts at the
  ventilation date; death is part of the composite event, not a competing risk.
* **A death and an invasive ventilation on the same day**: the event is invasive
  ventilation.  The outcome is ventilation-free survival, and a patient ventilated
  and dying on the same day was ventilated alive (a dead patient is not ventilated):
  the ventilation is what ended ventilation-free survival, and the death came after
  it, as when the two are days apart.  The time and the event indicator are the same
  either way; only ``status`` names the event, and it no longer depends on the order
  of the rows or on the alphabetical order of the event names.
* **End of follow-up** (:func:`follow_up`): the earliest of the event, emigration
  (``persons.emigration_date``) on or after the diagnosis date, and
  ``end_of_follow_up`` of ``extract.json`` (administrative censoring).  An event on the
  emigration date or on ``end_of_follow_up`` counts; an event after emigration or after
  the end of follow-up is not observed (the registers cannot be trusted to see it).
* **An emigration date before the diagnosis is ignored**: the case was diagnosed in
  the Swedish registers, so it lived in Sweden at diagnosis and had returned; the
  extract holds one emigration date per person and no return date.  Such a case is
  followed from diagnosis like any other, in both analyses (its ALSFRS-R visits are
  kept; before this rule was shared they were dropped as ``after_end_of_follow_up``).
* **Status**: ``death`` or ``invasive_ventilation`` (the event), ``emigration`` (censored
  at an emigration before ``end_of_follow_up``) or ``end_of_follow_up``.
* **Visits in follow-up** (:func:`visit_period`): an ALSFRS-R visit on or after the
  diagnosis date and on or before the end of follow-up; a visit on the day follow-up
  ends is kept (its score is taken as measured before the event).
* **Score at diagnosis** (the baseline ALSFRS-R, :func:`baseline_scores`): the score of
  the first visit in follow-up with a score within :data:`BASELINE_WINDOW_DAYS` (30)
  days after the diagnosis date, the diagnosis day and day 30 included; missing when
  there is none.  Same-day assessments are averaged first
  (:func:`alsmeds.derive.alsfrs.alsfrs_visits`).
* **Time scale**: whole days, converted by :func:`alsmeds.derive.dates.years_between`
  (days / 365.25) or :func:`~alsmeds.derive.dates.months_between` (days / 30.4375).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: A visit up to this many days after the diagnosis date can give the score at diagnosis (the baseline ALSFRS-R).
BASELINE_WINDOW_DAYS = 30

#: The prognostic events, in the order that breaks a same-day tie (first wins): invasive ventilation, then death.
EVENTS = ("invasive_ventilation", "death")

#: How follow-up can end (``status``).
STATUSES = ("death", "invasive_ventilation", "emigration", "end_of_follow_up")

#: Columns of :func:`follow_up`, with their meaning.
FOLLOW_UP_COLUMNS = {
    "person_id": "the ALS case",
    "diagnosis_date": "date of ALS diagnosis (time origin)",
    "event_date": "date of the observed event (death or invasive ventilation); missing when censored",
    "end_date": "date follow-up ended: the event, emigration or the end of follow-up",
    "event": "1 when follow-up ended with death or invasive ventilation, else 0",
    "status": "death, invasive_ventilation, emigration or end_of_follow_up: how follow-up ended",
}


def first_events(outcomes: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    """Per person, the date and kind of the first of death or invasive ventilation (module rules).

    Parameters
    ----------
    outcomes : DataFrame
        The ``outcomes`` table: ``person_id``, ``event`` (``death`` or
        ``invasive_ventilation``; other values are ignored), ``event_date``.
    persons : DataFrame
        ``person_id`` and ``death_date`` (missing for the living).

    Returns
    -------
    DataFrame
        Indexed by ``person_id`` (only persons with an event): ``event`` and
        ``event_date``, the earliest date of either source; on a same-day tie
        ``invasive_ventilation`` (:data:`EVENTS`).
    """
    rows = outcomes.loc[outcomes["event"].isin(EVENTS), ["person_id", "event", "event_date"]]
    deaths = persons.loc[persons["death_date"].notna(), ["person_id", "death_date"]]
    deaths = deaths.rename(columns={"death_date": "event_date"}).assign(event="death")
    events = pd.concat([rows, deaths[["person_id", "event", "event_date"]]], ignore_index=True)
    events["event_date"] = pd.to_datetime(events["event_date"])
    events["_priority"] = events["event"].map({e: i for i, e in enumerate(EVENTS)}).astype(np.int64)
    events = events.sort_values(["person_id", "event_date", "_priority"], kind="stable")
    first = events.drop_duplicates("person_id", keep="first").drop(columns="_priority")
    return first.set_index("person_id")[["event", "event_date"]]


def follow_up(
    cases: pd.DataFrame, persons: pd.DataFrame, outcomes: pd.DataFrame, end_of_follow_up: Any
) -> pd.DataFrame:
    """The end of follow-up of every case: its event or censoring date and how follow-up ended (module rules).

    Parameters
    ----------
    cases : DataFrame
        ``person_id`` and ``diagnosis_date``, one row per case.
    persons : DataFrame
        ``person_id``, ``death_date`` and ``emigration_date``.
    outcomes : DataFrame
        The ``outcomes`` table.
    end_of_follow_up : date
        The administrative end of follow-up (``extract.json``).

    Returns
    -------
    DataFrame
        One row per row of ``cases``, in its order, with the columns of
        :data:`FOLLOW_UP_COLUMNS`.
    """
    if end_of_follow_up is None or pd.isna(end_of_follow_up):
        raise ValueError("end_of_follow_up (extract.json) is required to end follow-up")
    ids = cases["person_id"].reset_index(drop=True)
    diagnosis = pd.to_datetime(cases["diagnosis_date"]).reset_index(drop=True)
    end = pd.Timestamp(end_of_follow_up)
    per_person = persons.set_index("person_id")
    first = first_events(outcomes, persons[["person_id", "death_date"]])
    event_date = pd.to_datetime(ids.map(first["event_date"]))
    event_kind = ids.map(first["event"])
    emigration = pd.to_datetime(ids.map(per_person["emigration_date"]))
    emigration = emigration.where(emigration >= diagnosis)  # before diagnosis: returned, ignored

    emigrated = (emigration < end).to_numpy()
    censor_date = emigration.where(emigrated, end)
    has_event = event_date.notna() & (event_date <= censor_date)
    end_date = event_date.where(has_event, censor_date)
    status = np.where(has_event, event_kind.fillna(""), np.where(emigrated, "emigration", "end_of_follow_up"))
    out = pd.DataFrame(
        {
            "person_id": ids.to_numpy(),
            "diagnosis_date": diagnosis.to_numpy(),
            "event_date": pd.to_datetime(event_date.where(has_event)).to_numpy(),
            "end_date": pd.to_datetime(end_date).to_numpy(),
            "event": has_event.astype(np.int64).to_numpy(),
            "status": status.astype(object),
        }
    )
    return out[list(FOLLOW_UP_COLUMNS)]


def case_follow_up(registry: Any) -> pd.DataFrame:
    """:func:`follow_up` of every ALS case of a register extract, sorted by ``person_id``.

    Parameters
    ----------
    registry : Registry or mapping
        ``als_cases``, ``persons`` and ``outcomes`` tables (indexable by name, or with a
        ``tables`` mapping) and ``metadata["end_of_follow_up"]``.

    Returns
    -------
    DataFrame
        Columns :data:`FOLLOW_UP_COLUMNS`.
    """
    tables = registry.tables if hasattr(registry, "tables") else registry
    metadata = getattr(registry, "metadata", None) or {}
    if "end_of_follow_up" not in metadata:
        raise ValueError("the register extract has no end_of_follow_up (extract.json): follow-up cannot be ended")
    cases = tables["als_cases"][["person_id", "diagnosis_date"]].sort_values("person_id", kind="stable")
    return follow_up(cases, tables["persons"], tables["outcomes"], metadata["end_of_follow_up"])


#: Labels of :func:`visit_period` (the first two are also the ALSFRS-R selection counts of dropped visits).
VISIT_PERIODS = ("before_diagnosis", "after_end_of_follow_up", "in_follow_up")


def visit_period(visit_date, diagnosis_date, end_date) -> np.ndarray:
    """Where a visit lies in its case's follow-up: ``before_diagnosis``, ``in_follow_up`` or ``after_end_of_follow_up``.

    A visit on the diagnosis date or on the day follow-up ends is in follow-up.

    Parameters
    ----------
    visit_date, diagnosis_date, end_date : array-like of dates
        Aligned; ``end_date`` from :func:`follow_up` (a missing end puts no upper bound).

    Returns
    -------
    numpy.ndarray of str
    """
    visit = np.asarray(visit_date, dtype="datetime64[D]")
    before = visit < np.asarray(diagnosis_date, dtype="datetime64[D]")
    end = np.asarray(end_date, dtype="datetime64[D]")
    after = ~np.isnat(end) & (visit > end)
    return np.where(before, "before_diagnosis", np.where(after, "after_end_of_follow_up", "in_follow_up"))


def in_baseline_window(day, window_days: int = BASELINE_WINDOW_DAYS) -> np.ndarray:
    """Whether a visit ``day`` days after diagnosis can give the score at diagnosis: ``0 <= day <= window_days``.

    Parameters
    ----------
    day : array-like of float
        Whole days from the diagnosis date to the visit.
    window_days : int
        :data:`BASELINE_WINDOW_DAYS` in the study.

    Returns
    -------
    numpy.ndarray of bool
    """
    day = np.asarray(day, dtype=float)
    return (day >= 0) & (day <= window_days)


def baseline_scores(visits: pd.DataFrame, window_days: int = BASELINE_WINDOW_DAYS) -> pd.DataFrame:
    """The score at diagnosis of each case: its first visit with a score within the baseline window (module rules).

    Parameters
    ----------
    visits : DataFrame
        One row per visit in follow-up (:func:`visit_period`; same-day assessments
        already averaged): ``person_id``, ``day`` (whole days since diagnosis) and
        ``score`` (missing allowed: such a visit is passed over).
    window_days : int
        Latest day after diagnosis that still counts (:data:`BASELINE_WINDOW_DAYS`).

    Returns
    -------
    DataFrame
        Indexed by ``person_id``: ``alsfrs_baseline`` (float) and ``alsfrs_baseline_day``
        (int); cases without such a visit are absent.
    """
    eligible = visits[in_baseline_window(visits["day"], window_days) & visits["score"].notna().to_numpy()]
    first = eligible.sort_values(["person_id", "day"], kind="stable").drop_duplicates("person_id")
    return pd.DataFrame(
        {
            "alsfrs_baseline": first["score"].astype(float).to_numpy(),
            "alsfrs_baseline_day": first["day"].to_numpy().astype(np.int64),
        },
        index=pd.Index(first["person_id"].to_numpy(), name="person_id"),
    )
