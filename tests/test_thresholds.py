"""The rule of two under other thresholds (:mod:`alsmeds.derive.thresholds`) on the committed data."""

from __future__ import annotations

import pytest

from alsmeds.constants import CLASSES
from alsmeds.data.registry import read_registry
from alsmeds.derive.cohort import set_members
from alsmeds.derive.thresholds import THRESHOLD_COLUMNS, users_by_threshold
from alsmeds.paths import SYNTHETIC_DIR
from alsmeds.reporting.table1 import one_row_per_person


@pytest.fixture(scope="module")
def counted():
    registry = read_registry(SYNTHETIC_DIR)
    members = set_members(registry)
    return users_by_threshold(registry["dispensings"], members), members


def test_one_row_per_threshold_class_and_role(counted):
    users, members = counted
    assert users.columns.tolist() == list(THRESHOLD_COLUMNS)
    assert len(users) == 3 * len(CLASSES) * 2
    people = members.groupby("role").size()
    assert (users["people"] == users["role"].map(people)).all()


def test_fewer_users_the_more_dispensings_are_required(counted):
    users, _ = counted
    wide = users.pivot_table(index=["drug_class", "role"], columns="threshold", values="users")
    assert (wide[1] >= wide[2]).all() and (wide[2] >= wide[3]).all() and (wide[1] > wide[2]).any()


def test_the_study_threshold_counts_the_users_of_the_analysis_table(counted, paper_table):
    """At two dispensings the users are the people the analysis table places in a window."""
    users, _ = counted
    rows = one_row_per_person(paper_table)
    at_two = users[users["threshold"] == 2].set_index(["drug_class", "role"])["users"]
    for k in CLASSES:
        for role in ("case", "population_control"):
            in_role = rows[rows["role"] == role]
            assert at_two[(k, role)] == int((in_role[f"window_{k}"] != "never").sum())
