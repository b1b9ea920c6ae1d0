"""The analysis ``empirical_calibration`` (issue 25): its files, its diagnostics, and recovery of the planted null.

* On a small synthetic study, on an extract without truth and on an extract without the panel's codes the
  analysis writes its four declared files with the schema's columns; the diagnostics are computed (the null
  with its standard errors, EASE against the threshold, the leave-one-out false-positive rate, the error model).
* The committed results agree with the committed truth (the fitted null within three standard errors of the
  panel's realised null).
* At 20 times the paper's size (slow) the fitted empirical null of the population comparison recovers the
  planted null: its mean and SD within three of their standard errors of the realised null and of the planted
  distribution.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsmeds import analyses, paths
from alsmeds.analyses import read_spec, run_analyses
from alsmeds.analyses import run as run_module
from alsmeds.analyses.calibration import calibrate_term, fit_panel_controls, true_log_or
from alsmeds.data.write import write_registry
from alsmeds.derive.analysis_table import build_panel_table
from alsmeds.derive.codelists import panel_codelist
from alsmeds.models.calibration import fit_null
from alsmeds.reporting.calibration_results import (
    CALIBRATION_CONTROL_COLUMNS,
    CALIBRATION_DIAGNOSTIC_COLUMNS,
    EMPIRICAL_CALIBRATION_COLUMNS,
)
from alsmeds.simulate import generate
from alsmeds.study import Study

OUTPUTS = analyses.ANALYSES["empirical_calibration"].outputs
WINDOWS = ("gt1", "0_1", "1_5", "gt5")
COMPARISONS = ("population", "sibling", "spouse")


@pytest.fixture
def isolated_state(tmp_path, monkeypatch) -> Path:
    """Resume records in a temporary folder, not in build/."""
    state = tmp_path / "state"
    monkeypatch.setattr(run_module, "STATE_DIR", state)
    return state


def _run(study: Study, folder: Path) -> dict:
    report = run_analyses(study, read_spec(), folder, only=["empirical_calibration"], progress=False)
    assert report.ran == ["risk_models", "empirical_calibration"]
    for name in OUTPUTS:
        assert (folder / name).is_file(), name
    controls = pd.read_csv(folder / "calibration_controls.csv")
    estimates = pd.read_csv(folder / "empirical_calibration.csv")
    payload = json.loads((folder / "empirical_calibration.json").read_text())
    assert list(controls.columns) == list(CALIBRATION_CONTROL_COLUMNS)
    assert list(estimates.columns) == list(EMPIRICAL_CALIBRATION_COLUMNS)
    assert payload["schema"] == EMPIRICAL_CALIBRATION_COLUMNS
    assert payload["diagnostics_schema"] == CALIBRATION_DIAGNOSTIC_COLUMNS
    assert "exchangeable" in payload["assumptions"]
    diagnostics = pd.DataFrame(payload["diagnostics"])
    assert list(diagnostics.columns) == sorted(CALIBRATION_DIAGNOSTIC_COLUMNS)  # JSON keys are sorted
    assert len(diagnostics) == len(COMPARISONS) * len(WINDOWS)
    # One row per comparison, class and term of the main model; the six published odds ratios named.
    assert len(estimates) == len(COMPARISONS) * 3 * len(WINDOWS)
    assert sorted(estimates["published_target"].dropna()) == sorted(
        ["risk:anxiolytics:gt1", "risk:hypnotics:gt1", "risk:antidepressants:gt1"]
        + ["risk:hypnotics:0_1", "risk:anxiolytics:1_5", "risk:antidepressants:gt5"]
    )
    # Every control in every comparison and term.
    assert len(controls) == len(panel_codelist()) * len(COMPARISONS) * len(WINDOWS)
    return {"controls": controls, "estimates": estimates, "diagnostics": diagnostics, "payload": payload}


@pytest.fixture(scope="module")
def small_synthetic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calibration") / "results"
    state = tmp_path_factory.mktemp("state")
    original = run_module.STATE_DIR
    run_module.STATE_DIR = state
    try:
        return _run(Study.synthetic(seed=3, scale=0.2, implied=False), folder)
    finally:
        run_module.STATE_DIR = original


def test_the_analysis_writes_its_files_on_a_small_synthetic_study(small_synthetic):
    diagnostics = small_synthetic["diagnostics"].set_index(["comparison", "window"])
    main = diagnostics.loc[("population", "gt1")]
    assert main["n_negative_controls"] >= 30 and main["n_positive_controls"] == 3
    assert main["error_model"] == "negative_and_positive_controls"
    assert np.isfinite(main[["null_mu", "null_mu_se", "ease", "loo_false_positive_rate"]].astype(float)).all()
    assert main["null_mu_lower"] <= main["null_mu"] <= main["null_mu_upper"]
    assert main["null_tau_lower"] <= main["null_tau"] <= main["null_tau_upper"]
    assert main["ease_pass"] == (main["ease"] <= main["ease_threshold"]) and main["ease_threshold"] == 0.25
    assert 0 <= main["loo_false_positive_rate"] <= 1
    assert main["min_detectable_or_calibrated"] >= main["min_detectable_or"] > 1
    # In the 0-1 year window the positive controls are true nulls: no slope to fit, the null alone is used.
    assert (diagnostics.xs("0_1", level="window")["error_model"] == "negative_controls_only").all()
    # Without the implied estimands (implied=False) the truth columns stay empty; the planted null is written.
    assert small_synthetic["diagnostics"]["implied_null_mean"].isna().all()
    assert small_synthetic["controls"]["implied_log_or"].isna().all()
    assert small_synthetic["payload"]["planted_null"]["mean"] == 0.15


def test_calibrated_estimates_are_coherent(small_synthetic):
    estimates = small_synthetic["estimates"]
    done = estimates[estimates["calibrated_odds_ratio"].notna()]
    assert len(done) >= 30
    assert (done["calibrated_ci_lower"] <= done["calibrated_odds_ratio"]).all()
    assert (done["calibrated_odds_ratio"] <= done["calibrated_ci_upper"]).all()
    assert (
        (done["calibrated_p_lower"] <= done["calibrated_p"]) & (done["calibrated_p"] <= done["calibrated_p_upper"])
    ).all()
    # The calibrated interval adds the systematic error's SD to the sampling error, so it is mostly wider than the
    # Wald interval on the log scale (an error model whose mean slope exceeds 1 can narrow some).
    width = np.log(done["ci_upper"] / done["ci_lower"])
    calibrated = np.log(done["calibrated_ci_upper"] / done["calibrated_ci_lower"])
    assert (calibrated >= width - 1e-9).mean() > 0.75
    controls = small_synthetic["controls"]
    in_null = controls[controls["in_null"]]
    assert (in_null["control_type"] == "negative_control").all() and in_null["loo_calibrated_p"].notna().all()
    positives = controls[controls["control_type"] == "positive_control"]
    assert set(np.round(np.exp(positives.loc[positives["window"] == "gt1", "true_log_or"]), 6)) == {1.5, 2.0, 4.0}
    assert (positives.loc[positives["window"] == "0_1", "true_log_or"] == 0).all()


def test_the_analysis_runs_on_an_extract_without_truth(tmp_path, isolated_state):
    synthetic = generate(seed=21, scale=0.2)
    folder = write_registry(tmp_path / "extract", dict(synthetic.tables), synthetic.metadata)
    out = _run(Study.from_extract(folder), tmp_path / "results")
    assert "planted_null" not in out["payload"]
    assert out["controls"]["implied_log_or"].isna().all()
    assert out["diagnostics"]["null_mu_z"].isna().all()
    assert out["estimates"]["calibrated_p"].notna().sum() > 0


def test_an_extract_without_the_panel_codes_is_reported_not_calibrated(tmp_path, isolated_state):
    synthetic = generate(seed=21, scale=0.1)
    tables = dict(synthetic.tables)
    prefixes = tuple(p for p in panel_codelist()["atc_prefix"] if p != "A02BC")
    tables["dispensings"] = tables["dispensings"][~tables["dispensings"]["atc"].str.startswith(prefixes)]
    folder = write_registry(tmp_path / "extract", tables, synthetic.metadata)
    out = _run(Study.from_extract(folder), tmp_path / "results")
    assert out["diagnostics"]["reason"].str.contains("estimable negative controls").all()
    assert out["estimates"]["calibrated_p"].isna().all() and out["estimates"]["calibrated_odds_ratio"].isna().all()
    assert out["estimates"]["min_detectable_or"].notna().any()  # the uncalibrated power is still reported
    controls = out["controls"]
    assert not controls.loc[controls["drug_class"] != "ppis", "estimable"].any()


def test_true_log_or_of_each_kind_of_control():
    assert true_log_or("negative_control", 1.0, "gt1") == 0.0
    assert true_log_or("positive_control", 4.0, "gt1") == pytest.approx(math.log(4.0))
    assert true_log_or("positive_control", 4.0, "gt5") == pytest.approx(math.log(4.0))
    assert true_log_or("positive_control", 4.0, "0_1") == 0.0


def test_calibrate_term_recovers_a_null_of_simulated_controls():
    rng = np.random.default_rng(25)
    n = 400
    se = rng.uniform(0.05, 0.2, n)
    truth = np.where(np.arange(n) < 300, 0.0, math.log(2.0))
    log_or = truth + 0.1 + 0.15 * rng.standard_normal(n) + se * rng.standard_normal(n)
    controls = pd.DataFrame(
        {
            "log_or": log_or,
            "se": se,
            "estimable": True,
            "control_type": np.where(truth == 0, "negative_control", "positive_control"),
            "true_log_or": truth,
        }
    )
    estimates = pd.DataFrame({"log_or": [0.1, 0.8], "se": [0.1, 0.1], "estimable": [True, True]})
    diagnostic, out, loo = calibrate_term(controls, estimates, "population", "gt1")
    assert abs(diagnostic["null_mu"] - 0.1) < 3 * diagnostic["null_mu_se"]
    assert abs(diagnostic["null_tau"] - 0.15) < 3 * diagnostic["null_tau_se"]
    assert abs(diagnostic["error_mean_slope"] - 1.0) < 0.2
    assert out.loc[0, "calibrated_p"] > 0.5 and out.loc[1, "calibrated_p"] < 0.01
    assert loo.notna().sum() == 300 and abs(diagnostic["loo_false_positive_rate"] - 0.05) < 0.05


def test_the_committed_results_agree_with_the_committed_truth():
    results = paths.COMMITTED_RESULTS_DIR
    payload = json.loads((results / "empirical_calibration.json").read_text())
    diagnostics = pd.DataFrame(payload["diagnostics"]).set_index(["comparison", "window"])
    for comparison in COMPARISONS:
        row = diagnostics.loc[(comparison, "gt1")]
        assert row["n_negative_controls"] >= 30
        assert abs(row["null_mu_z"]) < 3, (comparison, row["null_mu_z"])
    assert payload["planted_null"]["mean"] == 0.15
    estimates = pd.read_csv(results / "empirical_calibration.csv")
    assert estimates["published_target"].notna().sum() == 6


# ------------------------------------------------------------------ recovery at large scale


@pytest.mark.slow
def test_the_fitted_null_recovers_the_planted_null_at_20_times_the_paper(committed_truth):
    study = Study.synthetic(seed=31, scale=20, implied=False)
    codes = panel_codelist()
    panel = build_panel_table(study.registry, study.rules, study.analysis_table, codes)
    controls = fit_panel_controls(panel, codes, ["population"], ["lagged"])
    negatives = controls[(controls["control_type"] == "negative_control") & controls["estimable"]]
    assert len(negatives) == 35
    null = fit_null(negatives["log_or"], negatives["se"])
    realised = committed_truth["estimands"]["panel_implied"]["null"]["population"]["gt1"]
    planted = committed_truth["estimands"]["panel"]["planted_null"]
    for target_mean, target_sd in ((realised["mean"], realised["sd"]), (planted["mean"], planted["sd"])):
        assert abs(null.mu - target_mean) < 3 * null.bse["mu"], (null.mu, null.bse["mu"], target_mean)
        assert abs(null.tau - target_sd) < 3 * null.bse["tau"], (null.tau, null.bse["tau"], target_sd)


def test_balance_diagnostics_name_the_worst_variable_and_how_the_model_handles_it():
    from alsmeds.analyses.calibration import balance_diagnostics

    smd = pd.DataFrame(
        {
            "Population controls": [0.0, 0.001, 0.05, 0.12],
            "Full siblings": [0.3, 0.02, 0.01, 0.02],
            "Spouses": [0.02, 0.19, 0.01, 0.02],
        },  # fmt: skip
        index=pd.Index(["age", "sex", "education", "lookback_years"], name="variable"),
    )
    out = balance_diagnostics(
        smd, ("population", "sibling", "spouse"), 0.1,
        population_covariates=("education",), relative_covariates=("male", "education"),
    ).set_index("comparison")  # fmt: skip
    assert out.loc["population", "balance_variable"] == "lookback_years"
    assert out.loc["population", "balance_handled"] == "neither" and not out.loc["population", "balance_pass"]
    assert out.loc["sibling", "balance_variable"] == "age" and out.loc["sibling", "balance_handled"] == "neither"
    assert out.loc["spouse", "balance_variable"] == "sex" and out.loc["spouse", "balance_handled"] == "adjusted"
    assert out.loc["spouse", "balance_max_smd"] == pytest.approx(0.19)
    matched = balance_diagnostics(smd.drop(index="lookback_years"), ("population",), 0.1)
    assert matched.loc[0, "balance_variable"] == "education" and bool(matched.loc[0, "balance_pass"])
    smd.loc["age", "Population controls"] = 0.5
    assert balance_diagnostics(smd, ("population",), 0.1).loc[0, "balance_handled"] == "matched"
    no_controls = balance_diagnostics(smd.drop(columns="Spouses"), ("spouse",), 0.1)
    assert no_controls.loc[0, "balance_handled"] == "" and "balance_max_smd" not in no_controls
