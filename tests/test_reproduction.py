"""The published values file and the reproduction scorecard (notebook 08).

* Every published value the package uses comes from ``src/alsmeds/published_values.csv``; the
  generator's design counts and planted prognosis effects read it.
* The status rules of :mod:`alsmeds.reporting.reproduction` on hand-made cases (each rule can fail),
  and the scorecard and verdicts on the committed results, on a results folder with files missing,
  and on altered results that flip a verdict.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from alsmeds import paths
from alsmeds.models.base import Z_975
from alsmeds.published import (
    PUBLISHED_FOLLOWUP_YEARS,
    PUBLISHED_PROGNOSIS,
    PUBLISHED_RISK,
    published_value,
    published_values,
)
from alsmeds.reporting.reproduction import (
    CALIBRATED_INPUTS,
    REPRODUCTION_COLUMNS,
    STATUSES,
    qualitative_verdicts,
    ratio_status,
    relative_ratios,
    replicate_correlations,
    scorecard,
)
from alsmeds.simulate.parameters import SimulationParameters


@pytest.fixture(scope="module")
def truth():
    return json.loads((paths.SYNTHETIC_DIR / "truth.json").read_text())


def test_published_values_file():
    values = published_values()
    assert not values["target"].duplicated().any()
    assert set(values["label"]) <= {"P", "D", "A"}
    ratios = values[values["kind"].isin(["odds_ratio", "hazard_ratio"])]
    assert len(ratios) == 9  # the nine published estimates
    assert (ratios["published_lower"].isna() == ratios["published_upper"].isna()).all()
    with_ci = ratios.dropna(subset=["published_lower"])
    assert (
        (with_ci["published_lower"] < with_ci["published"]) & (with_ci["published"] < with_ci["published_upper"])
    ).all()
    assert PUBLISHED_RISK[("hypnotics", "0_1")] == (6.10, 3.77, 9.88)
    assert PUBLISHED_PROGNOSIS["hypnotics"] == (1.23, None, None)
    assert PUBLISHED_FOLLOWUP_YEARS == {"median": 1.33, "q1": 0.64, "q3": 2.37}
    with pytest.raises(KeyError, match="no published target"):
        published_value("count:unicorns")


def test_generator_reads_the_published_values():
    p = SimulationParameters()
    assert p.design.n_cases == published_value("count:cases")
    assert p.design.n_cases * p.design.controls_per_case - p.design.n_cases_with_four_controls == published_value(
        "count:population_controls"
    )
    assert p.design.n_siblings == published_value("count:siblings")
    assert p.prognosis.intercept_mean == published_value("cases:alsfrs_at_diagnosis")
    assert {k: round(float(np.exp(v)), 6) for k, v in p.prognosis.log_hr_use.items()} == {
        k: v[0] for k, v in PUBLISHED_PROGNOSIS.items()
    }


@pytest.mark.parametrize(
    ("estimate", "lower", "upper", "published", "pub_lower", "pub_upper", "status"),
    [
        (1.40, 1.20, 1.63, 1.34, 1.12, 1.60, "reproduced"),
        (2.60, 2.20, 3.07, 1.34, 1.12, 1.60, "direction only"),
        (0.90, 0.75, 1.08, 1.34, 1.12, 1.60, "not reproduced"),
        (1.00, 0.80, 1.25, 1.34, 1.12, 1.60, "not reproduced"),
        (np.nan, np.nan, np.nan, 1.34, 1.12, 1.60, "not estimable"),
        (1.24, 1.05, 1.47, 1.23, None, None, "reproduced"),
        (1.80, 1.60, 2.02, 1.23, None, None, "direction only"),
    ],
)
def test_ratio_status_rules(estimate, lower, upper, published, pub_lower, pub_upper, status):
    result = ratio_status(estimate, lower, upper, published, pub_lower, pub_upper)
    assert result["status"] == status
    if status != "not estimable":
        se_ours = (np.log(upper) - np.log(lower)) / (2 * Z_975)
        se_pub = 0.0 if pub_lower is None else (np.log(pub_upper) - np.log(pub_lower)) / (2 * Z_975)
        expected = (np.log(estimate) - np.log(published)) / np.hypot(se_ours, se_pub)
        assert result["z"] == pytest.approx(expected)


def test_scorecard_on_the_committed_results(truth):
    card = scorecard(paths.COMMITTED_RESULTS_DIR, truth)
    assert list(card.columns) == list(REPRODUCTION_COLUMNS)
    assert len(card) == len(published_values()[published_values()["kind"] != "qualitative"])
    assert set(card["status"]) <= set(STATUSES)
    counts = card[card["kind"] == "count"]
    assert (counts["estimate"] == counts["published"]).all() and (counts["status"] == "calibrated input").all()
    ratios = card[card["kind"].isin(["odds_ratio", "hazard_ratio"])]
    assert ratios["estimate"].notna().all() and ratios["planted"].notna().all()
    risk = pd.read_csv(paths.COMMITTED_RESULTS_DIR / "risk_models.csv")
    adjusted = risk[(risk["comparison"] == "population") & (risk["model"] == "per_class")]
    adjusted = adjusted[adjusted["adjustment"] == "adjusted"]
    row = adjusted[(adjusted["drug_class"] == "hypnotics") & (adjusted["window"] == "0_1")].iloc[0]
    mine = card.set_index("target").loc["risk:hypnotics:0_1"]
    assert mine["estimate"] == row["odds_ratio"] and mine["ci_lower"] == row["ci_lower"]
    assert mine["planted"] == pytest.approx(6.2797)
    prognosis = card.set_index("target").loc["prognosis:antidepressants"]
    assert prognosis["planted"] == pytest.approx(1.72)


def test_scorecard_thresholds_move_the_statuses(truth):
    """The status rules' thresholds are parameters: a stricter z limit or tolerance demotes, the default reproduces."""
    default = scorecard(paths.COMMITTED_RESULTS_DIR, truth).set_index("target")
    strict = scorecard(paths.COMMITTED_RESULTS_DIR, truth, z_limit=0.0, descriptive_tolerance=0.0).set_index("target")
    ratios = default.index[default["kind"].isin(["odds_ratio", "hazard_ratio"])]
    assert (strict.loc[ratios, "status"] == "direction only").all()  # every ratio on the published side of 1
    assert (strict.loc[ratios, "z"] == default.loc[ratios, "z"]).all()  # z itself does not depend on the rule
    descriptive = default.index[default["kind"] == "descriptive"]
    exact = default.loc[descriptive, "estimate"] == default.loc[descriptive, "published"]
    assert (strict.loc[descriptive, "status"] == "calibrated input").all()  # inputs stay inputs under any rule
    assert strict.loc[descriptive[~exact], "note"].str.contains("outside the 0% tolerance").all() and (~exact).any()
    real = scorecard(paths.COMMITTED_RESULTS_DIR, None, descriptive_tolerance=0.0).set_index("target")
    assert (real.loc[descriptive[~exact], "status"] == "not reproduced").all()  # on a real extract, findings
    assert (strict.loc[default["kind"] == "count", "status"] == default.loc[default["kind"] == "count", "status"]).all()
    assert ratio_status(1.40, 1.20, 1.63, 1.34, 1.12, 1.60, z_limit=0.1)["status"] == "direction only"


def test_scorecard_without_truth_or_files(tmp_path):
    for name in ("risk_models.csv", "01_cohort.json"):
        shutil.copy(paths.COMMITTED_RESULTS_DIR / name, tmp_path / name)
    card = scorecard(tmp_path, None).set_index("target")
    assert card["planted"].isna().all()
    assert card.loc["risk:anxiolytics:gt1", "status"] != "not estimable"
    assert card.loc["prognosis:anxiolytics", "status"] == "not estimable"
    assert "notebook 07" in card.loc["prognosis:anxiolytics", "note"]
    assert card.loc["followup:median", "status"] == "not estimable"
    verdicts = qualitative_verdicts(tmp_path).set_index("target")["status"]
    assert verdicts["finding:every_window_raised"] != "not estimable"
    assert (verdicts.drop(["finding:every_window_raised", "finding:relatives"]) == "not estimable").all()


def test_verdicts_follow_their_rules(tmp_path):
    for p in paths.COMMITTED_RESULTS_DIR.glob("*.csv"):
        shutil.copy(p, tmp_path / p.name)
    before = qualitative_verdicts(tmp_path).set_index("target")["status"]
    assert set(before) <= set(STATUSES)
    mixed = pd.read_csv(tmp_path / "alsfrs_mixed_model.csv")
    slope = (mixed["term"] == "antidepressants:months") & (mixed["kind"] == "fixed_effect")
    mixed.loc[slope, ["estimate", "ci_lower", "ci_upper"]] = [0.1, -0.05, 0.25]
    mixed.to_csv(tmp_path / "alsfrs_mixed_model.csv", index=False)
    after = qualitative_verdicts(tmp_path).set_index("target")["status"]
    assert after["finding:decline"] == "not reproduced"


def test_information_and_distance_from_planted(truth):
    from alsmeds.reporting.reproduction import distance_from_planted, information_table

    card = scorecard(paths.COMMITTED_RESULTS_DIR, truth)
    info = information_table(card)
    published_se = (np.log(1.60) - np.log(1.12)) / (2 * Z_975)
    assert info.loc["risk:anxiolytics:gt1", "published information"] == pytest.approx(1 / published_se**2)
    assert np.isnan(info.loc["prognosis:hypnotics", "published information"])
    np.testing.assert_allclose(info["ours / published"] ** -0.5, info["ci_width_ratio"], rtol=1e-12)
    z = distance_from_planted(card).set_index("target")["z_vs_planted"]
    row = card.set_index("target").loc["risk:hypnotics:0_1"]
    se = (np.log(row["ci_upper"]) - np.log(row["ci_lower"])) / (2 * Z_975)
    assert z["risk:hypnotics:0_1"] == pytest.approx((np.log(row["estimate"]) - np.log(row["planted"])) / se)


def test_verdicts_with_only_the_prognosis_results(tmp_path):
    """A folder holding only some results (notebook 08 run before 01-06) gives not-estimable verdicts, not an error."""
    for name in ("joint_model.csv", "followup.json"):
        shutil.copy(paths.COMMITTED_RESULTS_DIR / name, tmp_path / name)
    verdicts = qualitative_verdicts(tmp_path).set_index("target")["status"]
    assert verdicts["finding:prognosis"] == "reproduced"
    assert (verdicts.drop("finding:prognosis") == "not estimable").all()
    card = scorecard(tmp_path).set_index("target")
    assert card.loc["risk:anxiolytics:gt1", "status"] == "not estimable"


def test_generator_inputs_are_calibrated_inputs_never_reproduced(truth):
    """On synthetic data the counts and descriptives are the generator's inputs or calibration targets."""
    card = scorecard(paths.COMMITTED_RESULTS_DIR, truth).set_index("target")
    design = card[card["kind"].isin(["count", "descriptive"])]
    assert set(design.index) == set(CALIBRATED_INPUTS) and len(design) == 10
    assert (design["status"] == "calibrated input").all()
    assert design.loc["count:cases", "note"].startswith("design input (planted): equal to the published value")
    assert "within the 10% tolerance" in design.loc["followup:median", "note"]
    assert (card["status"] == "reproduced").sum() <= 9  # only the nine published estimates can be reproduced
    real = scorecard(paths.COMMITTED_RESULTS_DIR, None).set_index("target")  # a real extract: findings again
    assert (real.loc[design.index, "status"] == "reproduced").all()


def test_published_in_ci_is_stricter_than_the_status_rule():
    """Reproduced by the combined-SE z while the published value lies outside our CI (anxiolytics 1-5 y's case)."""
    loose = ratio_status(2.20, 1.61, 3.01, 1.60, 1.15, 2.23)
    assert loose["status"] == "reproduced" and loose["published_in_ci"] is False and abs(loose["z"]) < Z_975
    assert ratio_status(1.40, 1.20, 1.63, 1.34, 1.12, 1.60)["published_in_ci"] is True
    assert ratio_status(np.nan, np.nan, np.nan, 1.34, 1.12, 1.60)["published_in_ci"] is None


def test_published_in_ci_on_the_committed_results(truth):
    card = scorecard(paths.COMMITTED_RESULTS_DIR, truth).set_index("target")
    ratios = card[card["kind"].isin(["odds_ratio", "hazard_ratio"])]
    expected = (ratios["ci_lower"] <= ratios["published"]) & (ratios["published"] <= ratios["ci_upper"])
    assert (ratios["published_in_ci"].astype(bool) == expected).all()
    assert card.loc["risk:anxiolytics:1_5", "status"] == "reproduced"
    assert not card.loc["risk:anxiolytics:1_5", "published_in_ci"]
    assert card.loc[card["kind"] == "count", "published_in_ci"].isna().all()


def _interaction_folder(tmp_path):
    for p in paths.COMMITTED_RESULTS_DIR.glob("*.csv"):
        shutil.copy(p, tmp_path / p.name)
    return pd.read_csv(tmp_path / "interaction_tests.csv")


def _age_rows(tests):
    return (
        (tests["comparison"] == "population") & (tests["model"] == "per_class") & (tests["stratified_by"] == "age")
        & (tests["window"] == "gt1")
    )  # fmt: skip


def test_under_65_is_judged_by_the_age_interaction_not_by_one_stratum(tmp_path):
    tests = _interaction_folder(tmp_path)
    age = _age_rows(tests)
    assert set(tests.loc[age, "other_stratum"]) == {"<65"}  # ratios are under 65 over 65+
    # Every 65+ interval includes 1 while the interaction intervals still include 1: the old rule's
    # "reproduced" (one stratum significant, the other not) must stay "direction only".
    tests.loc[age, ["or_reference", "or_reference_lower", "or_reference_upper"]] = [1.05, 0.8, 1.38]
    tests.to_csv(tmp_path / "interaction_tests.csv", index=False)
    verdict = qualitative_verdicts(tmp_path).set_index("target").loc["finding:under_65"]
    assert verdict["status"] == "direction only" and "over 65+" in verdict["evidence"]
    # The interaction shown for every class (ratio CIs above 1), no 65+ CI above 1: reproduced.
    tests.loc[age, ["ratio_of_ors", "ratio_lower", "ratio_upper", "wald_p"]] = [1.6, 1.1, 2.3, 0.01]
    tests.to_csv(tmp_path / "interaction_tests.csv", index=False)
    assert qualitative_verdicts(tmp_path).set_index("target").loc["finding:under_65", "status"] == "reproduced"
    # The same interaction, but one 65+ OR with a CI above 1: 'restricted to' contradicted.
    first = tests.index[age][0]
    tests.loc[first, ["or_reference", "or_reference_lower", "or_reference_upper"]] = [1.3, 1.05, 1.6]
    tests.to_csv(tmp_path / "interaction_tests.csv", index=False)
    assert qualitative_verdicts(tmp_path).set_index("target").loc["finding:under_65", "status"] == "direction only"
    # One ratio below 1: not reproduced.
    tests.loc[first, ["ratio_of_ors", "ratio_lower", "ratio_upper"]] = [0.9, 0.6, 1.35]
    tests.to_csv(tmp_path / "interaction_tests.csv", index=False)
    assert qualitative_verdicts(tmp_path).set_index("target").loc["finding:under_65", "status"] == "not reproduced"


def test_men_and_women_not_reproduced_when_a_sex_interaction_excludes_1(tmp_path):
    tests = _interaction_folder(tmp_path)
    assert qualitative_verdicts(tmp_path).set_index("target").loc["finding:men_and_women", "status"] == "reproduced"
    sex = (tests["comparison"] == "population") & (tests["stratified_by"] == "sex") & (tests["window"] == "gt1")
    first = tests.index[sex & (tests["model"] == "per_class")][0]
    tests.loc[first, ["ratio_of_ors", "ratio_lower", "ratio_upper", "wald_p"]] = [0.6, 0.42, 0.86, 0.005]
    tests.to_csv(tmp_path / "interaction_tests.csv", index=False)
    verdict = qualitative_verdicts(tmp_path).set_index("target").loc["finding:men_and_women"]
    assert verdict["status"] == "not reproduced" and "men over women" in verdict["evidence"]


def _risk(values: dict) -> pd.DataFrame:
    """Adjusted one-class-per-model rows (>1 y): (comparison, class) -> (OR, SE of the log OR)."""
    rows = [
        {"comparison": c, "model": "per_class", "adjustment": "adjusted", "window": "gt1", "drug_class": k,
         "log_or": np.log(o), "se": se, "odds_ratio": o, "ci_lower": o * np.exp(-Z_975 * se),
         "ci_upper": o * np.exp(Z_975 * se), "estimable": True}
        for (c, k), (o, se) in values.items()
    ]  # fmt: skip
    return pd.DataFrame(rows)


def _relatives(hyp_sibling=0.93, hyp_spouse=1.16, anx_sibling=1.28, se_relative=0.13):
    """The committed draw's pattern: sibling/spouse ORs per class distinct, so a swapped pair would show."""
    return {
        ("population", "anxiolytics"): (1.47, 0.09), ("sibling", "anxiolytics"): (anx_sibling, se_relative),
        ("spouse", "anxiolytics"): (1.47, se_relative), ("population", "hypnotics"): (1.25, 0.09),
        ("sibling", "hypnotics"): (hyp_sibling, se_relative), ("spouse", "hypnotics"): (hyp_spouse, se_relative),
        ("population", "antidepressants"): (1.37, 0.09), ("sibling", "antidepressants"): (1.15, se_relative),
        ("spouse", "antidepressants"): (1.12, se_relative),
    }  # fmt: skip


def _relatives_verdict(tmp_path, values, correlation=0.0):
    _risk(values).to_csv(tmp_path / "risk_models.csv", index=False)
    return (
        qualitative_verdicts(tmp_path, relatives_correlation=correlation).set_index("target").loc["finding:relatives"]
    )


def test_relatives_evidence_pairs_sibling_and_spouse_of_one_class(tmp_path):
    verdict = _relatives_verdict(tmp_path, _relatives())
    assert "anxiolytics: sibling/spouse ORs 1.28/1.47" in verdict["evidence"]
    assert "antidepressants: sibling/spouse ORs 1.15/1.12" in verdict["evidence"]
    assert "hypnotics: sibling/spouse ORs 0.93/1.16, population 1.25" in verdict["evidence"]


def test_relatives_judged_by_intervals_of_ratios_of_odds_ratios(tmp_path):
    # Hypnotics' sibling OR below its population OR, but the ratio's CI includes 1: weaker not shown.
    assert _relatives_verdict(tmp_path, _relatives())["status"] == "direction only"
    # Both hypnotics ratios with CIs below 1, the other classes' ratios including 1: reproduced.
    assert (
        _relatives_verdict(tmp_path, _relatives(hyp_sibling=0.7, hyp_spouse=0.72, se_relative=0.05))["status"]
        == "reproduced"
    )
    # The same pattern with an anxiolytics sibling ratio whose CI excludes 1: 'similar' contradicted.
    assert (
        _relatives_verdict(tmp_path, _relatives(hyp_sibling=0.7, hyp_spouse=0.72, anx_sibling=0.9, se_relative=0.05))[
            "status"
        ]
        == "not reproduced"
    )
    # A hypnotics ratio above 1 with its CI: 'weaker' contradicted.
    assert _relatives_verdict(tmp_path, _relatives(hyp_sibling=1.9, se_relative=0.05))["status"] == "not reproduced"


def test_relatives_correlation_narrows_the_interval_of_the_ratio(tmp_path):
    values = _relatives(hyp_sibling=1.05, hyp_spouse=1.05, anx_sibling=1.47, se_relative=0.09)
    values[("sibling", "antidepressants")] = values[("spouse", "antidepressants")] = (1.37, 0.09)
    assert _relatives_verdict(tmp_path, values)["status"] == "direction only"  # as if independent
    assert _relatives_verdict(tmp_path, values, correlation=0.6)["status"] == "reproduced"
    ratios = relative_ratios(_risk(values), 0.6).set_index(["drug_class", "comparison"])
    se = np.sqrt(0.09**2 + 0.09**2 - 2 * 0.6 * 0.09 * 0.09)
    assert ratios.loc[("hypnotics", "sibling"), "se_log_ratio"] == pytest.approx(se)
    assert ratios.loc[("hypnotics", "sibling"), "ratio"] == pytest.approx(1.05 / 1.25)
    assert relative_ratios(None).empty


def test_replicate_correlations_on_constructed_replicates():
    rng = np.random.default_rng(1)
    shared = rng.standard_normal(2000)
    rows = []
    for rep in range(2000):
        for comparison, noise in (("population", 0.0), ("sibling", 1.0), ("spouse", 1.0)):
            for k in ("anxiolytics", "hypnotics", "antidepressants"):
                est = shared[rep] + noise * rng.standard_normal()
                rows.append({"rep": rep, "family": "risk", "comparison": comparison, "model": "per_class",
                             "exposure": "lagged", "stratum": "all", "term": f"{k}_gt1", "estimate": est,
                             "se": 1.0 + noise, "estimable": True})  # fmt: skip
    found = replicate_correlations(pd.DataFrame(rows))
    assert len(found) == 6
    np.testing.assert_allclose(found["correlation"], 1 / np.sqrt(2), atol=0.05)
    np.testing.assert_allclose(found["independent_se"], np.sqrt(5.0))
    np.testing.assert_allclose(found["sd_over_independent_se"], 1 / np.sqrt(5.0), atol=0.05)


def test_reproduction_report_appends_the_verdicts_with_the_scorecard_types(truth):
    import warnings

    from alsmeds.reporting.reproduction import reproduction_report

    card = scorecard(paths.COMMITTED_RESULTS_DIR, truth)
    verdicts = qualitative_verdicts(paths.COMMITTED_RESULTS_DIR)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no pandas FutureWarning about all-NA columns in the notebook's output
        report = reproduction_report(card, verdicts)
    assert list(report.columns) == list(REPRODUCTION_COLUMNS) and len(report) == len(card) + len(verdicts)
    assert (report.dtypes == card.dtypes).all()
    found = report[report["kind"] == "qualitative"].set_index("target")
    assert (found["label"] == "P").all() and found["published_in_ci"].isna().all()
    rule = verdicts.set_index("target").loc["finding:relatives", "rule"]
    assert found.loc["finding:relatives", "note"].endswith(f" | rule: {rule}")


def test_every_window_raised_needs_every_interval_above_one(tmp_path):
    """A point estimate above 1 whose CI includes 1 does not show a raised risk (issue 22)."""
    risk = pd.read_csv(paths.COMMITTED_RESULTS_DIR / "risk_models.csv")
    cells = (
        (risk["comparison"] == "population")
        & (risk["model"] == "per_class")
        & (risk["adjustment"] == "adjusted")
        & risk["window"].isin(["0_1", "1_5", "gt5"])
    )
    risk.loc[cells, ["odds_ratio", "ci_lower", "ci_upper"]] = [1.5, 1.1, 2.0]  # every CI above 1
    risk.to_csv(tmp_path / "risk_models.csv", index=False)
    verdicts = qualitative_verdicts(tmp_path).set_index("target")
    assert verdicts.loc["finding:every_window_raised", "status"] == "reproduced"
    first = risk.index[cells][0]
    risk.loc[first, ["odds_ratio", "ci_lower", "ci_upper"]] = [1.3, 0.9, 1.9]  # above 1, CI includes 1
    risk.to_csv(tmp_path / "risk_models.csv", index=False)
    verdict = qualitative_verdicts(tmp_path).set_index("target").loc["finding:every_window_raised"]
    assert verdict["status"] == "direction only" and "with a CI above 1" in verdict["evidence"]


def test_after_calibration_reads_the_calibrated_interval_only_where_ease_passes():
    from alsmeds.reporting.reproduction import after_calibration, diagnostics_text

    passing = {"ease": 0.19, "ease_threshold": 0.25, "min_detectable_or": 1.29, "min_detectable_or_calibrated": 1.42,
               "balance_max_smd": 0.09, "balance_pass": True, "balance_threshold": 0.1, "balance_variable": "civil",
               "balance_handled": "adjusted"}  # fmt: skip
    assert after_calibration(1.05, 1.6, passing) == "raised after calibration"
    assert after_calibration(0.5, 0.95, passing) == "lowered after calibration"
    assert after_calibration(0.95, 1.56, passing) == "not shown after calibration"
    failing = {**passing, "ease": 0.54}
    assert after_calibration(1.3, 12.1, failing) == "diagnostics fail: EASE 0.54 above 0.25"
    assert after_calibration(1.3, 1.5, {"ease": np.nan, "reason": "fewer than 5 controls"}).startswith(
        "not calibrated: fewer than 5"
    )
    assert after_calibration(1.3, 1.5, None).startswith("not calibrated")
    text = diagnostics_text(passing)
    assert text == (
        "EASE 0.19 (passes at 0.25); minimum detectable OR 1.29 (calibrated 1.42); balance passes at 0.10: "
        "largest SMD 0.09 (civil, adjusted)"
    )
    assert diagnostics_text({**failing, "balance_max_smd": np.nan}).startswith("EASE 0.54 (fails at 0.25)")


def test_scorecard_and_verdicts_after_calibration(tmp_path):
    """The calibrated columns come from empirical_calibration.{csv,json}; hazard and stratum ratios say why not."""
    for p in [*paths.COMMITTED_RESULTS_DIR.glob("*.csv"), *paths.COMMITTED_RESULTS_DIR.glob("*.json")]:
        shutil.copy(p, tmp_path / p.name)
    card = scorecard(tmp_path, None).set_index("target")
    calibrated = pd.read_csv(tmp_path / "empirical_calibration.csv").set_index("published_target")
    row = calibrated.loc["risk:anxiolytics:gt1"]
    assert card.loc["risk:anxiolytics:gt1", "calibrated_estimate"] == pytest.approx(row["calibrated_odds_ratio"])
    assert card.loc["risk:anxiolytics:gt1", "calibrated_ci_lower"] == pytest.approx(row["calibrated_ci_lower"])
    assert card.loc["risk:anxiolytics:gt1", "diagnostics"].startswith("EASE")
    assert card.loc["prognosis:anxiolytics", "after_calibration"].startswith("not calibrated: the panel's controls")
    assert np.isnan(card.loc["prognosis:anxiolytics", "calibrated_estimate"])
    assert card.loc["count:cases", "after_calibration"] == ""
    verdicts = qualitative_verdicts(tmp_path).set_index("target")["after_calibration"]
    assert "calibrated ORs with a CI above 1" in verdicts["finding:every_window_raised"]
    assert verdicts["finding:under_65"].startswith("not calibrated")
    # without the calibration files: said, not raised
    (tmp_path / "empirical_calibration.csv").unlink()
    card = scorecard(tmp_path, None).set_index("target")
    assert (
        card.loc["risk:anxiolytics:gt1", "after_calibration"] == "not calibrated: no results/empirical_calibration.csv"
    )
    assert qualitative_verdicts(tmp_path).set_index("target").loc[
        "finding:every_window_raised", "after_calibration"
    ] == ("not calibrated: no results/empirical_calibration.csv")
