"""The coverage notes beside printed intervals (:mod:`alsmeds.reporting.interval_coverage`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alsmeds.reporting.display import Table
from alsmeds.reporting.interval_coverage import (
    COVERAGE_COLUMNS,
    coverage_verdict,
    interval_coverage,
    read_performance,
    show_interval_coverage,
)


def _performance(rows):
    keys = ["family", "comparison", "model", "exposure", "stratum", "term"]
    frame = pd.DataFrame(rows, columns=[*keys, "coverage", "coverage_mcse", "n_estimable"])
    return frame.fillna({"comparison": ""}).assign(bias_over_empse=0.1, relerr_modse=-5.0)


@pytest.mark.parametrize(
    ("coverage", "n", "verdict"),
    [
        (0.95, 1000, "covers 95%"),
        (0.937, 1000, "covers 95%"),  # 1.9 MC SEs below (MC SE at 95%: 0.69 points)
        (0.92, 1000, "below 95% by 4.4 MC SEs"),
        (0.97, 1000, "above 95% by 2.9 MC SEs"),
        (0.92, 250, "below 95% by 2.2 MC SEs"),  # the same coverage, 4 times fewer replicates
        (np.nan, 1000, "not measured"),
        (0.9, 0, "not measured"),
    ],
)
def test_verdict_by_the_nominal_monte_carlo_se(coverage, n, verdict):
    assert coverage_verdict(coverage, n) == verdict


def test_selection_and_robust_intervals():
    perf = _performance(
        [
            ("cox", "", "mutual", "ever", "all", "use_hypnotics", 0.90, 0.0095, 1000),
            ("cox", "", "mutual_robust", "ever", "all", "use_hypnotics", 0.949, 0.007, 1000),
            ("risk", "population", "per_class", "lagged", "all", "hypnotics_gt1", 0.95, 0.007, 1000),
        ]
    )
    table = interval_coverage(perf, family="cox")
    assert list(table.columns) == list(COVERAGE_COLUMNS)
    assert table["interval"].tolist() == ["model-based", "robust (sandwich)"]
    assert table["estimator"].tolist() == ["mutual ever use_hypnotics"] * 2  # the suffix is the interval column's
    assert table["verdict"].tolist() == ["below 95% by 7.3 MC SEs", "covers 95%"]
    assert interval_coverage(perf, family="risk", term=("hypnotics_gt1", "x"))["estimator"].tolist() == [
        "population per_class lagged hypnotics_gt1"
    ]
    assert interval_coverage(pd.DataFrame(), family="cox").empty


def test_shown_from_the_stored_study(tmp_path):
    assert "no stored simulation study" in show_interval_coverage("x", results_dir=tmp_path, family="cox")
    shown = show_interval_coverage("the Cox intervals", family="cox")
    assert isinstance(shown, Table)
    stored = read_performance()
    cox = stored[stored["family"] == "cox"]
    covered = int(cox["coverage_ok"].astype(str).str.lower().eq("true").sum())
    assert f"{covered} of {len(cox)} cover 95% within 2 Monte Carlo SEs" in shown.caption
    outside = show_interval_coverage("the odds ratios", only_outside=True, family="risk")
    assert "those outside" in outside.caption or outside.endswith("none outside")


def test_scorecard_coverage_follows_the_scorecard():
    """Odds ratios (model-based), then per hazard ratio the sandwich interval the scorecard prints and the model one."""
    from alsmeds.reporting.interval_coverage import scorecard_coverage

    rows = [("risk", "population", "per_class", "lagged", "all", "anxiolytics_gt1", 0.95, 0.007, 1000)]
    rows += [
        ("joint", "", model, "ever", "all", "surv:anxiolytics", 0.93, 0.008, 1000)
        for model in ("joint_model", "joint_model_robust")
    ]
    table = scorecard_coverage(_performance(rows))
    assert table["target"].tolist() == ["Anxiolytics, >1 y (lagged)", "Anxiolytics", "Anxiolytics"]
    assert table["interval"].tolist() == ["model-based", "robust (sandwich)", "model-based"]
    assert table["verdict"].tolist() == ["covers 95%", "below 95% by 2.9 MC SEs", "below 95% by 2.9 MC SEs"]
