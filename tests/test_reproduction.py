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
from alsmeds.published import (
    PUBLISHED_FOLLOWUP_YEARS,
    PUBLISHED_PROGNOSIS,
    PUBLISHED_RISK,
    published_value,
    published_values,
)
from alsmeds.reporting.reproduction import (
    REPRODUCTION_COLUMNS,
    STATUSES,
    qualitative_verdicts,
    ratio_status,
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
        se_ours = (np.log(upper) - np.log(lower)) / (2 * 1.959963984540054)
        se_pub = 0.0 if pub_lower is None else (np.log(pub_upper) - np.log(pub_lower)) / (2 * 1.959963984540054)
        expected = (np.log(estimate) - np.log(published)) / np.hypot(se_ours, se_pub)
        assert result["z"] == pytest.approx(expected)


def test_scorecard_on_the_committed_results(truth):
    card = scorecard(paths.COMMITTED_RESULTS_DIR, truth)
    assert list(card.columns) == list(REPRODUCTION_COLUMNS)
    assert len(card) == len(published_values()[published_values()["kind"] != "qualitative"])
    assert set(card["status"]) <= set(STATUSES)
    counts = card[card["kind"] == "count"]
    assert (counts["estimate"] == counts["published"]).all() and (counts["status"] == "reproduced").all()
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
    assert (strict.loc[descriptive[~exact], "status"] == "not reproduced").all() and (~exact).any()
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
    strata = pd.read_csv(tmp_path / "effect_modification.csv")
    old = (strata["stratum"] == "65+") & (strata["stratified_by"] == "age")
    strata.loc[old, "ci_lower"] = 0.8  # every 65+ interval now includes 1
    strata.loc[old, "odds_ratio"] = 1.01
    strata.to_csv(tmp_path / "effect_modification.csv", index=False)
    mixed = pd.read_csv(tmp_path / "alsfrs_mixed_model.csv")
    slope = (mixed["term"] == "antidepressants:months") & (mixed["kind"] == "fixed_effect")
    mixed.loc[slope, ["estimate", "ci_lower", "ci_upper"]] = [0.1, -0.05, 0.25]
    mixed.to_csv(tmp_path / "alsfrs_mixed_model.csv", index=False)
    after = qualitative_verdicts(tmp_path).set_index("target")["status"]
    assert after["finding:under_65"] == "reproduced"
    assert after["finding:decline"] == "not reproduced"


def test_information_and_distance_from_planted(truth):
    from alsmeds.reporting.reproduction import distance_from_planted, information_table

    card = scorecard(paths.COMMITTED_RESULTS_DIR, truth)
    info = information_table(card)
    published_se = (np.log(1.60) - np.log(1.12)) / (2 * 1.959963984540054)
    assert info.loc["risk:anxiolytics:gt1", "published information"] == pytest.approx(1 / published_se**2)
    assert np.isnan(info.loc["prognosis:hypnotics", "published information"])
    np.testing.assert_allclose(info["ours / published"] ** -0.5, info["ci_width_ratio"], rtol=1e-12)
    z = distance_from_planted(card).set_index("target")["z_vs_planted"]
    row = card.set_index("target").loc["risk:hypnotics:0_1"]
    se = (np.log(row["ci_upper"]) - np.log(row["ci_lower"])) / (2 * 1.959963984540054)
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
