"""Shared fixtures: the committed data's truth and analysis table, and a large simulated analysis table."""

from __future__ import annotations

import json

import pytest

from alsmeds.data.registry import read_registry
from alsmeds.derive.analysis_table import build_analysis_table
from alsmeds.paths import SYNTHETIC_DIR

#: Scale of the recovery tests (20 x the paper's 1,057 cases).
LARGE_SCALE = 20


@pytest.fixture(scope="session")
def committed_truth():
    return json.loads((SYNTHETIC_DIR / "truth.json").read_text())


@pytest.fixture(scope="session")
def paper_table():
    """The analysis table of the committed synthetic data."""
    return build_analysis_table(read_registry(SYNTHETIC_DIR))


@pytest.fixture(scope="session")
def large_table(tmp_path_factory):
    """Analysis table built from register rows of a 20x simulation (simulate -> write -> read -> classify)."""
    from alsmeds.simulate import generate

    folder = tmp_path_factory.mktemp("large") / "registry"
    generate(seed=23, scale=LARGE_SCALE, truth_scale=0).write(folder)
    return build_analysis_table(read_registry(folder))
