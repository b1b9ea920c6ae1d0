"""E-values against VanderWeele & Ding's worked example and the formula's own properties."""

from __future__ import annotations

import math

import pytest

from alsmeds.reporting.evalue import approximate_risk_ratio, evalue_of_ratio, evalues


def test_worked_example():
    """VanderWeele & Ding 2017: RR 3.9 (95% CI 1.8-8.7) gives E-values 7.26 and 3.00."""
    e = evalues(3.9, 1.8, 8.7)
    assert e["evalue_estimate"] == pytest.approx(7.26, abs=0.005)
    assert e["evalue_ci"] == pytest.approx(3.00, abs=0.005)


def test_protective_and_null():
    assert evalue_of_ratio(0.5) == pytest.approx(evalue_of_ratio(2.0))
    assert evalue_of_ratio(1.0) == 1.0
    assert evalues(0.5, 0.3, 0.8)["evalue_ci"] == pytest.approx(evalue_of_ratio(1 / 0.8))
    assert evalues(1.2, 0.9, 1.6)["evalue_ci"] == 1.0
    assert math.isnan(evalues(1.2)["evalue_ci"])


def test_common_outcome_approximations():
    assert approximate_risk_ratio(4.0, "odds_ratio", rare_outcome=False) == pytest.approx(2.0)
    assert approximate_risk_ratio(4.0, "odds_ratio") == 4.0
    hr = approximate_risk_ratio(1.72, "hazard_ratio", rare_outcome=False)
    assert hr == pytest.approx((1 - 0.5 ** math.sqrt(1.72)) / (1 - 0.5 ** math.sqrt(1 / 1.72)))
    assert 1 < hr < 1.72
    assert approximate_risk_ratio(1.0, "hazard_ratio", rare_outcome=False) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="measure must be"):
        approximate_risk_ratio(1.2, "rate_ratio")
    with pytest.raises(ValueError, match="positive"):
        evalue_of_ratio(0.0)


def test_evalue_table_of_the_published_targets():
    from alsmeds import paths
    from alsmeds.reporting.evalue import evalue_table
    from alsmeds.reporting.reproduction import scorecard

    table = evalue_table(scorecard(paths.COMMITTED_RESULTS_DIR)).set_index("target")
    assert len(table) == 9
    hyp = table.loc["risk:hypnotics:0_1"]
    assert hyp["published_evalue"] == pytest.approx(6.10 + math.sqrt(6.10 * 5.10))
    assert hyp["published_evalue_ci"] == pytest.approx(3.77 + math.sqrt(3.77 * 2.77))
    anx = table.loc["prognosis:anxiolytics"]
    rr = approximate_risk_ratio(1.52, "hazard_ratio", rare_outcome=False)
    assert not anx["rare_outcome"] and anx["published_evalue"] == pytest.approx(evalue_of_ratio(rr))
    assert math.isnan(table.loc["prognosis:hypnotics", "published_evalue_ci"])  # CI not published


def test_evalue_frame_adds_evalues_to_each_estimate_and_skips_what_was_not_estimated():
    import numpy as np
    import pandas as pd

    from alsmeds.reporting.evalue import EVALUE_COLUMNS, evalue_frame

    estimates = pd.DataFrame(
        {
            "drug_class": ["anxiolytics", "hypnotics", "antidepressants", "negative_control"],
            "odds_ratio": [3.9, 0.5, 1.2, np.nan],
            "ci_lower": [1.8, 0.3, 0.9, np.nan],
            "ci_upper": [8.7, 0.8, 1.6, np.nan],
            "estimable": [True, True, True, False],
        }
    )
    out = evalue_frame(estimates)
    assert list(out.columns) == list(estimates.columns) + EVALUE_COLUMNS
    assert out.loc[0, "evalue_estimate"] == pytest.approx(7.26, abs=0.005)
    assert out.loc[0, "evalue_ci"] == pytest.approx(3.00, abs=0.005)
    assert out.loc[1, "evalue_ci"] == pytest.approx(evalue_of_ratio(1 / 0.8))
    assert out.loc[2, "evalue_ci"] == 1.0, "an interval that includes 1 needs no confounding"
    assert out.loc[3, EVALUE_COLUMNS].isna().all()
    common = evalue_frame(estimates.iloc[:1], rare_outcome=False)
    assert common.loc[0, "rr"] == pytest.approx(math.sqrt(3.9))
    assert "evalue_ci" not in estimates.columns, "the input is not changed"
