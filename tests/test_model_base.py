"""The shared results vocabulary (:mod:`alsmeds.models.base`), term names and the identifiability check."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from alsmeds.constants import CLASSES, WINDOWS
from alsmeds.models.base import MAX_ABS_LOG_RATIO, Z_975, Z_DETECTABLE_80, separated_terms, wald_frame, z_quantile
from alsmeds.models.clogit import fit_clogit
from alsmeds.models.identifiability import non_identifiable_terms
from alsmeds.models.terms import split_term


def test_the_normal_quantile():
    assert Z_975 == 1.959963984540054
    assert z_quantile() == Z_975 and z_quantile(0.05) == Z_975
    assert z_quantile(0.10) == pytest.approx(1.6448536269514722, rel=1e-15)


def test_the_minimal_detectable_effect_multiplier():
    """z_0.975 + z_0.80 (the textbook 1.96 + 0.84 = 2.8): a true log ratio this many SEs from 0 has 80% power."""
    assert Z_DETECTABLE_80 == pytest.approx(1.959964 + 0.841621, abs=1e-6)
    assert stats.norm.sf(Z_975 - Z_DETECTABLE_80) == pytest.approx(0.80, abs=1e-12)  # the upper tail's share


def test_wald_frame_by_hand():
    frame = wald_frame(pd.Series([0.5, -1.0], index=["a", "b"]), [0.25, 0.5], exp=True, ratio_name="odds_ratio")
    assert list(frame.columns) == [
        "estimate", "se", "z", "p_value", "ci_lower", "ci_upper", "odds_ratio", "odds_ratio_lower", "odds_ratio_upper"
    ]  # fmt: skip
    assert list(frame.index) == ["a", "b"]
    a = frame.loc["a"]
    assert a["z"] == 2.0 and a["p_value"] == pytest.approx(2 * stats.norm.sf(2.0), rel=1e-15)
    assert a["ci_lower"] == 0.5 - 1.959963984540054 * 0.25 and a["ci_upper"] == 0.5 + 1.959963984540054 * 0.25
    assert a["odds_ratio"] == math.exp(0.5) and a["odds_ratio_lower"] == math.exp(a["ci_lower"])
    assert frame.loc["b", "p_value"] == pytest.approx(0.04550026389635842, rel=1e-12)
    narrow = wald_frame([0.5], [0.25], alpha=0.10)
    assert narrow["ci_upper"].iloc[0] == pytest.approx(0.5 + 1.6448536269514722 * 0.25, rel=1e-15)
    assert "ratio" not in narrow


def test_wald_frame_edge_cases():
    frame = wald_frame([0.0, 1.0, 2.0], [0.0, np.nan, 500.0], exp=True)
    assert np.isnan(frame["z"].iloc[0]) and np.isnan(frame["p_value"].iloc[0])  # no statistic without an SE
    assert frame["ci_lower"].iloc[0] == frame["ci_upper"].iloc[0] == 0.0
    assert np.isnan(frame["p_value"].iloc[1])
    with np.errstate(over="raise"):
        huge = wald_frame([2.0], [500.0], exp=True)  # no overflow warning: an infinite upper limit
    assert huge["ratio_upper"].iloc[0] == np.inf and huge["ratio_lower"].iloc[0] == 0.0


def test_results_vocabulary_of_a_fit():
    rng = np.random.default_rng(1)
    strata = np.repeat(np.arange(400), 4)
    X = pd.DataFrame({"a": rng.normal(size=strata.size), "b": rng.random(strata.size) < 0.4})
    case = np.zeros(strata.size, dtype=bool)
    case[::4] = True
    fit = fit_clogit(X.astype(float), case, strata)
    table = fit.wald_table()
    pd.testing.assert_frame_equal(fit.to_frame(), table)
    pd.testing.assert_series_equal(fit.pvalues, table["p_value"])
    ci = fit.conf_int()
    assert list(ci.columns) == ["lower", "upper"]
    np.testing.assert_array_equal(ci["lower"].to_numpy(), table["ci_lower"].to_numpy())
    np.testing.assert_array_equal(np.sqrt(np.diag(fit.cov_params())), fit.bse.to_numpy())
    assert list(fit.wald_table(exp=False).columns) == ["estimate", "se", "z", "p_value", "ci_lower", "ci_upper"]
    # A linear combination: the same row as the term itself for weight 1, the covariance for a sum.
    one = fit.linear_combination({"a": 1.0})
    assert one["estimate"] == table.loc["a", "estimate"] and one["se"] == pytest.approx(table.loc["a", "se"])
    both = fit.linear_combination({"a": 1.0, "b": 1.0})
    cov = fit.cov_params()
    assert both["se"] == pytest.approx(math.sqrt(cov.loc["a", "a"] + cov.loc["b", "b"] + 2 * cov.loc["a", "b"]))
    assert both["odds_ratio"] == pytest.approx(math.exp(fit.params.sum()))
    with pytest.raises(KeyError, match="no term 'c'"):
        fit.linear_combination({"c": 1.0})
    text = fit.summary()
    assert text.startswith("Conditional logistic regression: 1600 rows, 400 matched sets")
    assert "odds_ratio" in text and "-0.000" not in text


def test_the_separation_rule():
    params = pd.Series({"a": 0.3, "b": -MAX_ABS_LOG_RATIO - 1e-9, "c": MAX_ABS_LOG_RATIO, "d": 31.0})
    assert separated_terms(params) == ["b", "d"]
    assert separated_terms(params, ["d", "a", "missing"]) == ["d"]


def test_split_term_reads_back_every_exposure_term():
    for k in CLASSES:
        for w in (*WINDOWS, "gt1", "ever"):
            assert split_term(f"{k}_{w}") == (k, w)
    assert split_term("hypnotics_1_5") == ("hypnotics", "1_5")
    for bad in ("age", "hypnotics", "hypnotics_", "sedatives_gt1"):
        with pytest.raises(ValueError, match="not an exposure term"):
            split_term(bad)
    assert split_term("x_gt1", classes=("x",)) == ("x", "gt1")


def test_identifiability_with_and_without_groups():
    rng = np.random.default_rng(2)
    groups = np.repeat(np.arange(50), 3)
    a, b = rng.normal(size=150), rng.normal(size=150)
    between = (groups % 5).astype(float)
    frame = pd.DataFrame({"a": a, "b": b, "between": between, "a_minus_b": a - b, "const": 2.0})
    assert non_identifiable_terms(frame) == {"a_minus_b": "aliased with a, b", "const": "does not vary"}
    within = non_identifiable_terms(frame, groups, within="stratum")
    assert within == {
        "between": "constant within every stratum",
        "a_minus_b": "aliased with a, b",
        "const": "constant within every stratum",
    }
    # An array with names gives the same answer; the default message names a group.
    assert non_identifiable_terms(frame.to_numpy(), groups, names=list(frame.columns))["between"] == (
        "constant within every group"
    )
    # A group of one row centres to zero: a column that varies only between lone rows is not identifiable.
    lone = np.r_[groups, [100, 101]]
    x = np.r_[np.zeros(150), [1.0, 2.0]]
    assert non_identifiable_terms(pd.DataFrame({"x": x}), lone) == {"x": "constant within every group"}
    assert non_identifiable_terms(pd.DataFrame({"x": x})) == {}
