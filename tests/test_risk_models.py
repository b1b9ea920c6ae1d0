"""Risk models on the analysis table: not-estimable cells, agreement with the core fit, and planted-truth recovery.

The recovery tests run the whole pipeline from register rows (simulate -> write ->
read and validate -> classify exposures -> conditional logistic regression) at 20x the
paper's sample and compare with the truth in standard errors.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from alsmeds.constants import CLASSES, WINDOWS
from alsmeds.estimands.risk import fit_truth_model
from alsmeds.models.base import Z_975
from alsmeds.models.clogit import fit_clogit
from alsmeds.models.design import POPULATION_ADJUSTMENT, covariate_matrix, lagged_indicators
from alsmeds.models.risk import (
    RiskModelSpec,
    compare_with_published,
    fit_risk_model,
    fit_standard_models,
    standard_specs,
)
from alsmeds.simulate import SimulationParameters

TOLERANCE_SE = 3.0


def _toy_table(exposed_case: bool, exposed_control: bool, n_sets: int = 30) -> pd.DataFrame:
    """Sets of one case and two controls; anxiolytics exposure as asked, others random."""
    rng = np.random.default_rng(0)
    rows = []
    for s in range(n_sets):
        for member in range(3):
            case = member == 0
            cat_anx = 3 if (case and exposed_case) or (not case and exposed_control and member == 1 and s % 2) else 0
            rows.append(
                {
                    "comparison": "population",
                    "set_id": s,
                    "case": int(case),
                    "cat_anxiolytics": cat_anx,
                    "cat_hypnotics": int(rng.random() < 0.3) * 3,
                    "cat_antidepressants": int(rng.random() < 0.3) * 3,
                }
            )
    table = pd.DataFrame(rows)
    for k in CLASSES:  # first use more than 5 years before the index date: lagged users too
        table[f"{k}_gt1"] = (table[f"cat_{k}"] == 3).astype(np.int8)
    return table


def test_term_without_exposed_case_is_reported_not_estimable():
    table = _toy_table(exposed_case=False, exposed_control=True)
    res = fit_risk_model(table, RiskModelSpec("population", "lagged", ("anxiolytics",), "crude")).to_frame()
    row = res.iloc[0]
    assert not row["estimable"] and row["reason"] == "no exposed case" and np.isnan(row["odds_ratio"])


def test_term_without_exposed_control_is_reported_not_estimable():
    table = _toy_table(exposed_case=True, exposed_control=False)
    res = fit_risk_model(table, RiskModelSpec("population", "lagged", ("anxiolytics",), "crude")).to_frame()
    assert res.iloc[0]["reason"] == "no exposed control"


def test_term_without_any_exposure_has_no_discordant_set_and_other_terms_still_fit():
    table = _toy_table(exposed_case=False, exposed_control=False)
    res = fit_risk_model(table, RiskModelSpec("population", "lagged", CLASSES, "crude")).to_frame().set_index("term")
    assert res.loc["anxiolytics_gt1", "reason"] == "no discordant matched set"
    assert res.loc["hypnotics_gt1", "estimable"]


def test_fit_risk_model_is_the_conditional_logit_on_the_documented_design(paper_table):
    spec = RiskModelSpec("population", "lagged", ("hypnotics",), "adjusted")
    res = fit_risk_model(paper_table, spec).to_frame().iloc[0]
    rows = paper_table[paper_table["comparison"] == "population"]
    X = pd.concat([lagged_indicators(rows, ["hypnotics"]), covariate_matrix(rows, POPULATION_ADJUSTMENT)], axis=1)
    ref = fit_clogit(X, rows["case"].to_numpy().astype(bool), rows["set_id"].to_numpy())
    assert res["log_or"] == pytest.approx(ref.params["hypnotics_gt1"], abs=1e-12)
    assert res["se"] == pytest.approx(ref.bse["hypnotics_gt1"], abs=1e-12)
    assert res["ci_lower"] == pytest.approx(
        math.exp(ref.params["hypnotics_gt1"] - Z_975 * ref.bse["hypnotics_gt1"]), rel=1e-9
    )


def test_standard_models_cover_every_comparison_class_and_window(paper_table):
    est = fit_standard_models(paper_table)
    assert len(standard_specs()) == 3 * 2 * (2 * 3 + 1)
    windows = est[(est["exposure"] == "windows") & (est["model"] == "per_class")]
    assert set(windows["window"]) == set(WINDOWS)
    assert est["estimable"].all(), est.loc[~est["estimable"], ["comparison", "term", "reason"]]
    assert ((est["ci_lower"] < est["odds_ratio"]) & (est["odds_ratio"] < est["ci_upper"])).all()


def test_published_comparison_reports_six_targets(paper_table):
    cmp = compare_with_published(fit_standard_models(paper_table, ["population"]))
    assert len(cmp) == 6 and cmp["odds_ratio"].notna().all()
    # The planted population estimands sit near the published values, so most published ORs fall in our CIs.
    assert cmp["published_in_our_ci"].sum() >= 4


def _within(est, se, target, extra_se=0.0):
    return abs(est - target) <= TOLERANCE_SE * math.hypot(se, extra_se)


def test_population_pipeline_recovers_population_estimand(large_table, committed_truth):
    implied = committed_truth["estimands"]["implied"]
    res = fit_risk_model(large_table, RiskModelSpec("population", "windows", CLASSES, "adjusted")).to_frame()
    failures = []
    for r in res.itertuples():
        target = implied["population_mutual_windows"][r.term]
        if not _within(r.log_or, r.se, target["log_or"], target["mc_se"]):
            failures.append((r.term, r.log_or, r.se, target))
    assert not failures, failures
    for k in CLASSES:
        r = fit_risk_model(large_table, RiskModelSpec("population", "lagged", (k,), "adjusted")).to_frame().iloc[0]
        target = implied["population_per_class"][f"{k}_gt1"]
        assert _within(r.log_or, r.se, target["log_or"], target["mc_se"]), (k, r.log_or, r.se, target)


def test_spouse_pipeline_recovers_spouse_estimand(large_table, committed_truth):
    implied = committed_truth["estimands"]["implied"]
    res = fit_risk_model(large_table, RiskModelSpec("spouse", "windows", CLASSES, "adjusted")).to_frame()
    failures = [
        (r.term, r.log_or, r.se)
        for r in res.itertuples()
        if not _within(
            r.log_or,
            r.se,
            implied["spouse_mutual_windows"][r.term]["log_or"],
            implied["spouse_mutual_windows"][r.term]["mc_se"],
        )
    ]
    assert not failures, failures


def test_sibling_pipeline_recovers_planted_within_family_odds_ratios(large_table):
    """Siblings share the familial factor: with an age-group interaction the planted log ORs are the estimand."""
    from alsmeds.models.design import RELATIVE_ADJUSTMENT

    risk = SimulationParameters().risk
    rows = large_table[large_table["comparison"] == "sibling"]
    res = fit_truth_model(rows, "windows", RELATIVE_ADJUSTMENT, interaction_with_young=True)
    failures = []
    for k in CLASSES:
        for w in WINDOWS:
            old, inter = f"{k}_{w}", f"{k}_{w}:young"
            young = res.params[old] + res.params[inter]
            se_young = math.sqrt(res.cov.loc[old, old] + res.cov.loc[inter, inter] + 2 * res.cov.loc[old, inter])
            if not _within(res.params[old], res.bse[old], risk.log_or_old[k][w]):
                failures.append((old, "65+", res.params[old], res.bse[old]))
            if not _within(young, se_young, risk.log_or_young[k][w]):
                failures.append((old, "<65", young, se_young))
    assert not failures, failures


def test_table2_layout_has_crude_adjusted_and_counts(paper_table):
    from alsmeds.models.risk import table2

    out = table2(fit_standard_models(paper_table, ["population"]), "population")
    assert list(out.columns) == ["crude", "adjusted", "exposed cases/controls"]
    assert out.index.get_level_values("drug_class")[0] == "anxiolytics"
    assert out.index.get_level_values("window")[0] == "gt1"
    assert len(out) == 12


def test_compare_with_truth_computes_z_scores():
    from alsmeds.models.risk import compare_with_truth

    est = pd.DataFrame({"drug_class": ["hypnotics"], "window": ["gt1"], "log_or": [0.3], "se": [0.1]})
    truth = pd.DataFrame({"drug_class": ["hypnotics"], "window": ["gt1"], "log_or": [0.1]})
    out = compare_with_truth(est, truth).iloc[0]
    assert out["z"] == pytest.approx(2.0) and not out["ci_covers_truth"]
    # a numerical estimand: its Monte Carlo SE widens the distance's SE, hypot(0.1, 0.075) = 0.125
    out = compare_with_truth(est, truth.assign(mc_se=[0.075])).iloc[0]
    assert out["z"] == pytest.approx(1.6) and out["mc_se_truth"] == 0.075
    assert not out["ci_covers_truth"]  # the CI is ours alone: 0.3 -/+ 0.196 misses 0.1
    inside = compare_with_truth(est.assign(se=[0.2]), truth).iloc[0]
    assert inside["z"] == pytest.approx(1.0) and inside["ci_covers_truth"]


def test_discordance_expected_from_set_size_alone(paper_table):
    """Independent members: a set of two is discordant with probability p_case q_control + q_case p_control."""
    from alsmeds.models.risk import comparison_rows, discordance_by_set_size, informative_rows

    frame = discordance_by_set_size(paper_table).set_index(["comparison", "drug_class"])
    assert set(frame.index.get_level_values(0)) == {"population", "sibling", "spouse"}
    sets, _ = informative_rows(comparison_rows(paper_table, "spouse"))
    assert (sets.groupby("set_id").size() == 2).all()
    p_case = sets.loc[sets["case"] == 1, "hypnotics_gt1"].mean()
    p_control = sets.loc[sets["case"] == 0, "hypnotics_gt1"].mean()
    expected = 100 * (p_case * (1 - p_control) + (1 - p_case) * p_control)
    row = frame.loc[("spouse", "hypnotics")]
    assert row["discordant if independent (%)"] == pytest.approx(expected, rel=1e-12)
    exposed = sets.groupby("set_id")["hypnotics_gt1"].sum()
    assert row["discordant, observed (%)"] == pytest.approx(100 * (exposed == 1).mean(), rel=1e-12)
    assert row["people per set"] == 2 and row["sets"] == sets["set_id"].nunique()
