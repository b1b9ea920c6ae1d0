"""The rule of two under other thresholds: who would be a user with one, two or three dispensings.

The study counts a person as a user of a class from the second distinct dispensing date
before the index date (:class:`alsmeds.derive.exposure.ExposureRules`, ``min_dispensings=2``).
:func:`users_by_threshold` re-runs that one definition
(:func:`alsmeds.derive.exposure.first_qualifying_dates`) with other thresholds, so that a
lesson can show what the rule trades: the people with a single dispensing who are not users.
Shares and sentences are reporting's (:func:`alsmeds.reporting.table1.threshold_shares`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from alsmeds.constants import CLASSES
from alsmeds.derive.exposure import ExposureRules, first_qualifying_dates

#: Columns of :func:`users_by_threshold`.
THRESHOLD_COLUMNS = ("drug_class", "role", "threshold", "people", "users")


def users_by_threshold(
    dispensings: pd.DataFrame,
    members: pd.DataFrame,
    thresholds: Sequence[int] = (1, 2, 3),
    roles: Sequence[str] = ("case", "population_control"),
) -> pd.DataFrame:
    """People of each role, and how many of them would be users of each class at each threshold.

    A person is a user at threshold ``t`` when they have at least ``t`` dispensings of the
    class on distinct dates before the index date of their matched set
    (:func:`alsmeds.derive.exposure.first_qualifying_dates` with ``min_dispensings=t``).
    Everyone is counted once per matched set they belong to.

    Parameters
    ----------
    dispensings : DataFrame
        The ``dispensings`` table.
    members : DataFrame
        One row per person and matched set: person_id, case_id, index_date, role
        (:func:`alsmeds.derive.cohort.set_members`, ``Study.members``).
    thresholds : sequence of int
        Numbers of distinct dispensing dates.
    roles : sequence of str
        Roles counted.

    Returns
    -------
    DataFrame
        One row per threshold, class and role (in that nesting): ``drug_class``, ``role``,
        ``threshold``, ``people`` (members of the role) and ``users`` (of them, users at
        the threshold); all counts int.
    """
    key = ["person_id", "case_id"]
    members = members[members["role"].isin(roles)]
    people = members.groupby("role").size()
    rows = []
    for t in thresholds:
        hits = first_qualifying_dates(dispensings, members[key + ["index_date"]], ExposureRules(min_dispensings=t))
        counts = hits.merge(members[key + ["role"]], on=key).groupby(["group", "role"]).size()
        rows += [
            {
                "drug_class": k,
                "role": r,
                "threshold": int(t),
                "people": int(people.get(r, 0)),
                "users": int(counts.get((k, r), 0)),
            }
            for k in CLASSES
            for r in roles
        ]
    return pd.DataFrame(rows, columns=list(THRESHOLD_COLUMNS))
