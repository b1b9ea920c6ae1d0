"""The joint model's two frames: the ALSFRS-R visits and one survival row per patient, on one time scale.

A joint model of ALSFRS-R and death or invasive ventilation (:mod:`alsmeds.models.joint`)
reads a *longitudinal* frame (one row per visit) and a *survival* frame (one row per
patient) that must describe the same patients on the same clock.  Both are cut from
:func:`alsmeds.derive.alsfrs.build_alsfrs_data`, whose rules (visits kept, same-day
assessments averaged, follow-up and its end, case exposures classified at diagnosis,
covariates) are defined there and in :mod:`alsmeds.derive.followup`; this module adds
only what the joint model needs on top.

Rules
-----
* **Time** is months since diagnosis (days / 30.4375) in both frames: a visit's
  ``months`` and the patient's follow-up ``time_months`` (the ALSFRS-R data's
  ``followup_months``: to the first of death or invasive ventilation, emigration or the
  end of follow-up).
* **Event**: 1 when follow-up ended with death or invasive ventilation (the first
  event), else 0, as in the survival data of notebook 05.
* **Patients**: the ALS cases with at least one kept ALSFRS-R visit.  A case without a
  visit in follow-up tells the joint model nothing about its trajectory; the shared
  random effects would have to be integrated over their prior alone, which JM (the
  reference implementation) does not allow either.  Such cases are left out and
  counted (``cases_without_visits``); they remain in the Cox models of notebook 05.
* **Follow-up of zero days** (the event or the end of follow-up on the day of
  diagnosis, possible in a register) is set to half a day: the survival submodel needs
  a positive time, and half a day is the usual convention for an event within the day.
  Counted (``zero_day_follow_up_set_to_half_a_day``).
* **Covariates** are time-invariant (prediagnostic use of each class, age per decade
  above 65, sex, onset site) and identical in the two frames.

Examples
--------
>>> from alsmeds import Study
>>> frames = Study.synthetic().joint_data            # doctest: +SKIP
>>> frames.long.head(); frames.surv.head(); frames.selection   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES
from alsmeds.derive.dates import DAYS_PER_MONTH

#: Follow-up given to a patient whose follow-up ended on the day of diagnosis (months: half a day).
ZERO_FOLLOW_UP_MONTHS = 0.5 / DAYS_PER_MONTH

#: Time-invariant covariates carried by both frames, besides the exposures.
JOINT_COVARIATES = ("age_per_decade", "male", "bulbar")

#: Columns of the longitudinal frame.
JOINT_LONG_COLUMNS: dict[str, str] = {
    "person_id": "the ALS case",
    "months": "months since diagnosis at the visit",
    "score": "ALSFRS-R total (0-48; a same-day average may be a half point)",
    **{k: f"1 if prediagnostic use of {k}" for k in CLASSES},
    "age_per_decade": "(age at diagnosis - 65) / 10",
    "male": "1 for men",
    "bulbar": "1 for bulbar onset",
}

#: Columns of the survival frame.
JOINT_SURV_COLUMNS: dict[str, str] = {
    "person_id": "the ALS case",
    "time_months": "months from diagnosis to the end of follow-up (zero days counted as half a day)",
    "event": "1 when follow-up ended with death or invasive ventilation, else 0",
    "status": "death, invasive_ventilation or none: how follow-up ended",
    **{k: f"1 if prediagnostic use of {k}" for k in CLASSES},
    "age_per_decade": "(age at diagnosis - 65) / 10",
    "male": "1 for men",
    "bulbar": "1 for bulbar onset",
}


@dataclass(frozen=True)
class JointFrames:
    """The joint model's longitudinal and survival frames of one study, and how they were selected.

    Attributes
    ----------
    long : DataFrame
        One row per kept ALSFRS-R visit (:data:`JOINT_LONG_COLUMNS`), sorted by patient and time.
    surv : DataFrame
        One row per patient with a visit (:data:`JOINT_SURV_COLUMNS`), sorted by patient.
    selection : dict of str to int
        ``cases``, ``cases_without_visits`` (left out), ``zero_day_follow_up_set_to_half_a_day``,
        ``patients``, ``visits``, ``events``.
    classes : tuple of str
        The exposure columns carried.
    """

    long: pd.DataFrame
    surv: pd.DataFrame
    selection: dict[str, int] = field(default_factory=dict)
    classes: tuple[str, ...] = CLASSES

    @property
    def n_patients(self) -> int:
        return len(self.surv)

    @property
    def n_events(self) -> int:
        return int(self.surv["event"].sum())

    def patient(self, person_id: object) -> tuple[pd.DataFrame, pd.Series]:
        """The visits and the survival row of one patient."""
        rows = self.long[self.long["person_id"] == person_id]
        match = self.surv[self.surv["person_id"] == person_id]
        if match.empty:
            raise KeyError(f"person_id {person_id!r} is not in the joint model's data")
        return rows, match.iloc[0]


def build_joint_frames(
    alsfrs_data: pd.DataFrame, n_cases: int | None = None, classes: Sequence[str] = CLASSES
) -> JointFrames:
    """The joint model's frames, cut from the ALSFRS-R data (rules in the module docstring).

    Parameters
    ----------
    alsfrs_data : DataFrame
        :func:`alsmeds.derive.alsfrs.build_alsfrs_data` (one row per kept visit, with
        ``followup_months``, ``event`` and the covariates of every patient).
    n_cases : int, optional
        Number of ALS cases in the extract, for the count of cases without visits; default
        from ``alsfrs_data.attrs["selection"]``.
    classes : sequence of str
        Exposure columns to carry.

    Returns
    -------
    JointFrames
    """
    classes = tuple(classes)
    covariates = [*classes, *JOINT_COVARIATES]
    data = alsfrs_data.sort_values(["person_id", "months"], kind="stable")
    per_patient = data.groupby("person_id", sort=True).first()
    time = per_patient["followup_months"].to_numpy(dtype=float)
    zero = time <= 0
    surv = pd.DataFrame(
        {
            "person_id": per_patient.index.to_numpy(),
            "time_months": np.where(zero, ZERO_FOLLOW_UP_MONTHS, time),
            "event": (per_patient["event"] != "none").astype(np.int64).to_numpy(),
            "status": per_patient["event"].to_numpy(),
            **{c: per_patient[c].to_numpy(dtype=float) for c in covariates},
        }
    )
    long = data[["person_id", "months", "score", *covariates]].astype(
        {c: float for c in ["months", "score", *covariates]}
    )
    selected = alsfrs_data.attrs.get("selection", {})
    without = int(selected.get("cases_without_kept_visits", 0))
    if n_cases is not None:
        without = int(n_cases) - len(surv)
    selection = {
        "cases": len(surv) + without,
        "cases_without_visits": without,
        "zero_day_follow_up_set_to_half_a_day": int(zero.sum()),
        "patients": len(surv),
        "visits": len(long),
        "events": int(surv["event"].sum()),
    }
    return JointFrames(long=long.reset_index(drop=True), surv=surv, selection=selection, classes=classes)
