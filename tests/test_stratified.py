"""Age- and sex-stratified risk models and interaction tests."""

from __future__ import annotations

import math

import numpy as np
import pytest

from alsmeds.constants import CLASSES, WINDOWS
from alsmeds.models.risk import RiskModelSpec, comparison_rows
from alsmeds.models.stratified import fit_stratified, interaction_tests, stratum_of_set

TOLERANCE_SE = 3.0


def test_strata_keep_matched_sets_whole(paper_table):
    for by in ("age", "sex"):
        rows = comparison_rows(paper_table, "sibling")
        labels = stratum_of_set(rows, by)
        assert (labels.groupby(rows["set_id"]).nunique() == 1).all()
    rows = comparison_rows(paper_table, "population")
    under_60 = stratum_of_set(rows, "age", age_cutoff=60)
    assert set(under_60) == {"<60", "60+"}
    case_age = rows.loc[rows["case"] == 1].set_index("set_id")["age"]
    assert ((under_60 == "<60") == (rows["set_id"].map(case_age) < 60)).all()


def test_fully_interacted_crude_model_equals_separate_stratum_fits(paper_table):
    """Without covariates the interaction model factorises by stratum: its stratum ORs are the separate fits."""
    spec = RiskModelSpec("population", "windows", ("anxiolytics",), "crude")
    separate = fit_stratified(paper_table, spec, by="age").set_index(["stratum", "term"])
    joint = interaction_tests(paper_table, spec, by="age").set_index("window")
    for w in WINDOWS:
        term = f"anxiolytics_{w}"
        assert joint.loc[w, "or_reference"] == pytest.approx(separate.loc[("65+", term), "odds_ratio"], rel=1e-8)
        assert joint.loc[w, "or_other"] == pytest.approx(separate.loc[("<65", term), "odds_ratio"], rel=1e-8)
        ratio = separate.loc[("<65", term), "odds_ratio"] / separate.loc[("65+", term), "odds_ratio"]
        assert joint.loc[w, "ratio_of_ors"] == pytest.approx(ratio, rel=1e-8)


def test_interaction_tests_report_wald_and_likelihood_ratio(paper_table):
    res = interaction_tests(paper_table, RiskModelSpec("population", "lagged", ("hypnotics",), "adjusted"))
    row = res.iloc[0]
    assert row["lr_df"] == 1 and row["lr_statistic"] > 0
    # With one interaction term the LR and Wald tests agree to first order.
    assert row["lr_p"] == pytest.approx(row["wald_p"], abs=0.02)
    res = interaction_tests(paper_table, RiskModelSpec("population", "windows", ("hypnotics",), "adjusted"), by="sex")
    assert (res["lr_df"] == 3).all() and res["lr_p"].nunique() == 1


def _within(est, se, target, extra=0.0):
    return abs(est - target) <= TOLERANCE_SE * math.hypot(se, extra)


def test_large_scale_strata_recover_the_planted_age_specific_estimands(large_table, committed_truth):
    implied = committed_truth["estimands"]["implied"]
    failures = []
    for label, stratum in (("under_65", "<65"), ("65_plus", "65+")):
        est = fit_stratified(large_table, RiskModelSpec("population", "windows", CLASSES, "adjusted"))
        for r in est[est["stratum"] == stratum].itertuples():
            target = implied[f"population_mutual_windows_{label}"][r.term]
            if not _within(r.log_or, r.se, target["log_or"], target["mc_se"]):
                failures.append((stratum, r.term, r.log_or, r.se, target))
        for k in CLASSES:
            est = fit_stratified(large_table, RiskModelSpec("population", "lagged", (k,), "adjusted"))
            r = est[est["stratum"] == stratum].iloc[0]
            target = implied[f"population_per_class_{label}"][f"{k}_gt1"]
            if not _within(r["log_or"], r["se"], target["log_or"], target["mc_se"]):
                failures.append((stratum, k, r["log_or"], r["se"], target))
    assert not failures, failures


def test_large_scale_interaction_test_detects_the_planted_age_difference(large_table, committed_truth):
    implied = committed_truth["estimands"]["implied"]
    for k in CLASSES:
        res = interaction_tests(large_table, RiskModelSpec("population", "lagged", (k,), "adjusted")).iloc[0]
        young = implied["population_per_class_under_65"][f"{k}_gt1"]
        old = implied["population_per_class_65_plus"][f"{k}_gt1"]
        assert res["lr_p"] < 0.001, (k, res["lr_p"])
        # The interaction coefficient estimates the difference of the stratum estimands (covariate effects are
        # common in the interaction model and free in the stratified truth fits; at this scale that is negligible).
        mc_se = math.hypot(young["mc_se"], old["mc_se"])
        assert _within(res["log_ratio_of_ors"], res["se_log_ratio"], young["log_or"] - old["log_or"], mc_se), k


@pytest.mark.parametrize("comparison", ["population", "sibling", "spouse"])
def test_no_planted_sex_difference_is_found_at_large_scale(large_table, comparison):
    """No sex difference is planted: the sex interaction must be near 0 in every comparison.

    For relatives this holds only because the interaction uses each member's own sex; splitting
    sibling or spouse sets by the case's sex selects on the outcome and manufactures a difference.
    """
    res = interaction_tests(large_table, RiskModelSpec(comparison, "lagged", CLASSES, "adjusted"), by="sex")
    assert (res["modifier_level"] == ("set" if comparison == "population" else "member")).all()
    assert (np.abs(res["log_ratio_of_ors"]) <= TOLERANCE_SE * res["se_log_ratio"]).all(), res


def test_sibling_interaction_with_own_age_recovers_the_planted_age_difference(large_table):
    """Siblings share the familial factor, so the own-age interaction targets the planted within-family difference."""
    from alsmeds.simulate import SimulationParameters

    risk = SimulationParameters().risk
    res = interaction_tests(large_table, RiskModelSpec("sibling", "windows", CLASSES, "adjusted"), by="age")
    failures = []
    for r in res.itertuples():
        planted = risk.log_or_young[r.drug_class][r.window] - risk.log_or_old[r.drug_class][r.window]
        if not _within(r.log_ratio_of_ors, r.se_log_ratio, planted):
            failures.append((r.drug_class, r.window, r.log_ratio_of_ors, r.se_log_ratio, planted))
    assert not failures, failures


def test_relative_sets_are_not_split_by_the_cases_stratum(paper_table):
    with pytest.raises(ValueError, match="selects on the outcome"):
        fit_stratified(paper_table, RiskModelSpec("sibling", "lagged", ("anxiolytics",), "adjusted"), by="sex")


def test_committed_interaction_tests_shown_in_notebook_04(paper_table):
    """Numbers notebook 04 shows to two decimals, at full precision."""
    res = interaction_tests(paper_table, RiskModelSpec("spouse", "lagged", ("hypnotics",), "adjusted"))
    row = res.iloc[0]
    assert row["estimable"] and row["ratio_of_ors"] == pytest.approx(2.041, abs=5e-4)
    assert row["wald_p"] == pytest.approx(0.0067, abs=5e-4)
    res = interaction_tests(paper_table, RiskModelSpec("population", "lagged", ("anxiolytics",), "adjusted"), by="sex")
    assert res.iloc[0]["ratio_of_ors"] == pytest.approx(1.347, abs=5e-4)


def test_a_stratum_or_comparison_without_sets_is_reported_not_estimable(paper_table):
    spec = RiskModelSpec("population", "lagged", ("hypnotics",), "adjusted")
    old_only = paper_table[(paper_table["comparison"] == "population") & (paper_table["case_age_group"] == "65+")]
    strata = fit_stratified(old_only, spec, by="age").set_index("stratum")
    assert not strata.loc["<65", "estimable"] and strata.loc["<65", "reason"] == "no matched set in stratum <65"
    assert strata.loc["65+", "estimable"]
    test = interaction_tests(old_only, spec, by="age").iloc[0]
    assert not test["estimable"] and test["reason"] == "no discordant matched set in stratum <65"
    siblings = interaction_tests(old_only, RiskModelSpec("sibling", "lagged", ("hypnotics",), "adjusted"))
    assert siblings.iloc[0]["reason"] == "no matched set with sibling controls"
    assert list(siblings.columns) == list(test.index)


def test_a_term_without_exposed_cases_in_one_stratum_is_reported_and_others_fitted(paper_table):
    rows = paper_table[paper_table["comparison"] == "population"].copy()
    young_cases = (rows["case"] == 1) & (rows["case_age_group"] == "<65")
    rows.loc[young_cases, ["cat_hypnotics", "hypnotics_gt1"]] = 0  # no young case used hypnotics
    spec = RiskModelSpec("population", "lagged", CLASSES, "adjusted")
    res = interaction_tests(rows, spec, by="age").set_index("drug_class")
    assert res.loc["hypnotics", "reason"] == "no exposed case in stratum <65"
    assert res.loc["anxiolytics", "estimable"] and res.loc["antidepressants", "estimable"]
    assert np.isfinite(res.loc["anxiolytics", "lr_p"])
