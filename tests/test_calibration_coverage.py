"""The calibration check of issue 25 (:mod:`alsmeds.simstudy.calibration`, :mod:`alsmeds.analyses.calibration_check`).

* A small run through the command line finishes, has the stored columns, and loses no row: every control of
  every replicate is present (estimated or marked not estimable), a failed replicate is one recorded row.
* The leave-one-out calibration of a control gives what the study's ``calibrate_term`` gives with that control
  left out of the controls, and never uses the control itself.
* The performance measures on a hand-made frame with known answers (clustered Monte Carlo SEs).
* The stored study (``results/calibration_coverage_estimates.csv.gz``; read, never rerun): with systematic error
  the uncalibrated intervals of the negative controls undercover by more than 3 Monte Carlo SEs; the calibrated
  ones should cover within 3 Monte Carlo SEs of 95% (the issue's criterion) and do not quite (93.8%: a strict
  ``xfail`` with the measured values), because each replicate plugs in a null estimated from 34 controls: with the
  realised null the same intervals cover 95%.  Without systematic error both cover within 3 Monte Carlo SEs of 95%
  and calibration widens the intervals by less than :data:`MAX_WIDTH_RATIO_NO_ERROR`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsmeds.analyses.calibration import calibrate_term
from alsmeds.analyses.calibration_check import (
    CALIBRATION_COVERAGE_COLUMNS,
    CALIBRATION_REPLICATE_COLUMNS,
    COVERAGE_ESTIMATES_FILE,
    NEGATIVE_GROUP,
    calibration_performance,
    read_coverage_estimates,
    replicate_mean,
    stored_coverage_file,
)
from alsmeds.derive.codelists import panel_codelist
from alsmeds.simstudy import calibration as cal
from alsmeds.simstudy.cli import main
from alsmeds.simstudy.runner import replicate_seed

#: Bound on the mean width ratio (calibrated / uncalibrated) of the negative controls without systematic error:
#: with 34 negative controls the null's mean is estimated with an SE of about 0.1 / sqrt(34) on the log scale,
#: which widens an interval of half-width 1.96 x 0.1 by a few percent; 1.15 leaves room for the error model's SD.
MAX_WIDTH_RATIO_NO_ERROR = 1.15


# -- a small run ----------------------------------------------------------------------------------------------


def test_small_run_keeps_every_control_and_records_failures(tmp_path: Path, monkeypatch, capsys):
    """Two replicates at a third of the paper's size, the second made to fail: 38 rows, then one failure row."""
    real = cal.run_calibration_replicate

    def flaky(rep, seed, scale=1.0, mechanism="systematic_error", comparisons=("population",), spec=None):
        if rep == 1:
            raise RuntimeError("planted failure")
        return real(rep, seed, scale, mechanism, comparisons, spec)

    monkeypatch.setattr(cal, "run_calibration_replicate", flaky)
    argv = ["calibration", "--reps", "2", "--scale", "0.3", "--workers", "1", "--mechanisms", "systematic_error"]
    assert main([*argv, "--out", str(tmp_path), "--results-dir", str(tmp_path), "--no-progress"]) == 0
    assert "replicate 1 failed: RuntimeError: planted failure" in capsys.readouterr().out
    rows = read_coverage_estimates(tmp_path / COVERAGE_ESTIMATES_FILE)
    assert list(rows.columns) == list(CALIBRATION_REPLICATE_COLUMNS)
    assert rows.groupby("rep")["seed"].first().tolist() == [
        replicate_seed(cal.MECHANISMS["systematic_error"], r) for r in (0, 1)
    ]

    codes = panel_codelist()
    first = rows[rows["rep"] == 0]
    assert sorted(first["control"]) == sorted(codes["group"]) and len(first) == len(codes) == 38
    assert set(first["status"]) <= {"ok", "not_estimable"}
    ok = first[first["status"] == "ok"]
    assert len(ok) >= 35
    assert ok[["estimate", "se", "calibrated_lower", "calibrated_upper", "null_calibrated_lower"]].notna().all().all()
    assert (ok["calibrated_lower"] <= ok["calibrated_estimate"]).all()
    assert (ok["calibrated_estimate"] <= ok["calibrated_upper"]).all()
    assert ok["uncalibrated_covered"].isin([0, 1]).all() and ok["calibrated_covered"].isin([0, 1]).all()
    # each control's calibration left it out: 34 other negatives for a negative, 2 other positives for a positive
    negatives = ok[ok["control_type"] == "negative_control"]
    positives = ok[ok["control_type"] == "positive_control"]
    assert (negatives["n_positive_controls"] == 3).all() and (positives["n_positive_controls"] == 2).all()
    assert (negatives["n_negative_controls"] <= 34).all()
    expected = {"synthetic_positive_or_1_5": 1.5, "synthetic_positive_or_2": 2.0, "synthetic_positive_or_4": 4.0}
    assert dict(zip(positives["control"], positives["true_or"].round(9), strict=True)) == expected

    failed = rows[rows["rep"] == 1]
    assert len(failed) == 1 and failed["status"].iloc[0] == "failure"
    assert failed["reason"].iloc[0].startswith("RuntimeError: planted failure")

    summary = calibration_performance(rows)
    assert list(summary.columns) == list(CALIBRATION_COVERAGE_COLUMNS)
    assert summary["group"].tolist()[0] == NEGATIVE_GROUP and len(summary) == 4
    assert (summary["n_failed"] == 1).all() and (summary["n_reps"] == 1).all()


def test_mechanisms_switch_off_the_panels_confounding():
    """Without systematic error every panel class and the PPIs load on no confounder; the shares of users stay."""
    from alsmeds.simulate.panel import panel_classes

    with_error = panel_classes(cal.mechanism_parameters("systematic_error"))
    without = panel_classes(cal.mechanism_parameters("no_systematic_error"))
    for a, b in zip(with_error, without, strict=True):
        assert max(abs(v) for v in b.loadings.values()) < 1e-9, b.group
        assert a.user_share == b.user_share or (math.isnan(a.user_share) and math.isnan(b.user_share))
    assert max(abs(v) for v in with_error[1].loadings.values()) > 0.01
    with pytest.raises(ValueError, match="unknown mechanism"):
        cal.mechanism_parameters("other")


# -- the leave-one-out calibration is the study's ------------------------------------------------------------


def _hand_made_controls(seed: int = 3) -> pd.DataFrame:
    """35 negative controls with errors from N(0.15, 0.1^2) and SEs 0.08-0.2, and three positive controls."""
    rng = np.random.default_rng(seed)
    truth = np.r_[np.zeros(35), np.log([1.5, 2.0, 4.0])]
    se = rng.uniform(0.08, 0.2, truth.size)
    log_or = truth + rng.normal(0.15, 0.1, truth.size) + se * rng.standard_normal(truth.size)
    frame = pd.DataFrame(
        {
            "drug_class": [f"negative_{i}" for i in range(35)] + ["or_1_5", "or_2", "or_4"],
            "control_type": ["negative_control"] * 35 + ["positive_control"] * 3,
            "log_or": log_or,
            "se": se,
            "ci_lower": np.exp(log_or - 1.959963984540054 * se),
            "ci_upper": np.exp(log_or + 1.959963984540054 * se),
            "estimable": True,
            "reason": "",
            "discordant_sets": 100.0,
            "true_log_or": truth,
            "window": "gt1",
        }
    )
    frame.loc[4, ["log_or", "se", "ci_lower", "ci_upper", "estimable"]] = [np.nan, np.nan, np.nan, np.nan, False]
    frame.loc[4, "reason"] = "no exposed case"
    return frame


def test_leave_one_out_calibration_is_calibrate_term_without_the_control():
    controls = _hand_made_controls()
    rows = cal.calibrate_controls(controls, "population")
    assert len(rows) == len(controls) and rows["control"].tolist() == controls["drug_class"].tolist()
    assert rows.loc[4, "status"] == "not_estimable" and rows.loc[4, "reason"] == "no exposed case"
    for i in [0, 7, 35, 36, 37]:
        _, out, _ = calibrate_term(controls.drop(index=i), controls.loc[[i]], "population", "gt1")
        row, ref = rows.loc[i], out.iloc[0]
        assert row["error_model"] == ref["error_model"] == "negative_and_positive_controls"
        assert row["calibrated_lower"] == pytest.approx(math.log(ref["calibrated_ci_lower"]), rel=1e-12)
        assert row["calibrated_upper"] == pytest.approx(math.log(ref["calibrated_ci_upper"]), rel=1e-12)
        assert row["calibrated_estimate"] == pytest.approx(ref["calibrated_log_or"], rel=1e-12)
        assert row["calibrated_p"] == pytest.approx(ref["calibrated_p"], rel=1e-12)
        assert row["n_negative_controls"] == ref["n_negative_controls"]
        assert row["n_positive_controls"] == ref["n_positive_controls"]
    # the control under evaluation is not in its own fit: moving it far away changes no other control's interval
    moved = controls.copy()
    moved.loc[0, ["log_or", "ci_lower", "ci_upper"]] = [3.0, math.exp(2.8), math.exp(3.2)]
    again = cal.calibrate_controls(moved, "population")
    assert again.loc[0, "calibrated_lower"] != rows.loc[0, "calibrated_lower"]
    own = rows.loc[0, ["null_mu", "null_tau"]].astype(float)
    assert np.allclose(again.loc[0, ["null_mu", "null_tau"]].astype(float), own)
    # the uncalibrated interval is the model's Wald interval
    ok = rows[rows["status"] == "ok"]
    assert np.allclose(ok["uncalibrated_upper"] - ok["estimate"], 1.959963984540054 * ok["se"])


# -- performance measures by hand -----------------------------------------------------------------------------


def _row(mechanism, rep, control, control_type, true_log_or, **values):
    row = dict.fromkeys(CALIBRATION_REPLICATE_COLUMNS, np.nan)
    row.update(
        mechanism=mechanism,
        rep=rep,
        seed=rep,
        comparison="population",
        window="gt1",
        control=control,
        control_type=control_type,
        true_or=math.exp(true_log_or),
        true_log_or=true_log_or,
        status="ok",
        reason="",
        error_model="negative_and_positive_controls",
    )
    row.update(values)
    return row


def test_performance_measures_by_hand():
    """Three replicates of two negative controls and one positive; a fourth failed; one control not estimable."""
    rows = []
    # per replicate: (uncalibrated covered, calibrated covered, width ratio, uncal p, cal p, estimate) per negative
    negatives = {
        0: [(1, 1, 1.2, 0.5, 0.6, 0.1), (0, 1, 1.4, 0.01, 0.2, 0.3)],
        1: [(0, 0, 1.0, 0.02, 0.03, 0.4), (0, 1, 1.6, 0.04, 0.5, 0.2)],
        2: [(1, 1, 1.1, 0.3, 0.9, 0.0), None],  # the second is not estimable in replicate 2
    }
    for rep, controls in negatives.items():
        for k, values in enumerate(controls):
            if values is None:
                rows.append(_row("m", rep, f"n{k}", "negative_control", 0.0, status="not_estimable", reason="x"))
                continue
            u, c, w, up, cp, est = values
            rows.append(
                _row(
                    "m",
                    rep,
                    f"n{k}",
                    "negative_control",
                    0.0,
                    uncalibrated_covered=u,
                    calibrated_covered=c,
                    null_calibrated_covered=c,
                    width_ratio=w,
                    null_width_ratio=w / 2,
                    uncalibrated_p=up,
                    calibrated_p=cp,
                    estimate=est,
                    calibrated_estimate=est - 0.1,
                )
            )
        rows.append(
            _row(
                "m",
                rep,
                "p2",
                "positive_control",
                math.log(2),
                uncalibrated_covered=float(rep != 1),
                calibrated_covered=1.0,
                null_calibrated_covered=1.0,
                width_ratio=2.0,
                null_width_ratio=1.0,
                uncalibrated_p=0.001,
                calibrated_p=0.2,
                estimate=math.log(2),
                calibrated_estimate=math.log(2),
            )
        )
    failure = _row("m", 3, "", "", 0.0, status="failure", reason="boom", comparison="", window="")
    failure.update(true_or=np.nan, true_log_or=np.nan)
    frame = pd.DataFrame([*rows, failure], columns=list(CALIBRATION_REPLICATE_COLUMNS))
    out = calibration_performance(frame).set_index("group")
    assert list(out.index) == [NEGATIVE_GROUP, "p2"]
    neg = out.loc[NEGATIVE_GROUP]
    assert neg["n_reps"] == 3 and neg["n_failed"] == 1 and neg["n_controls"] == 5 and neg["n_not_estimable"] == 1
    # per-replicate shares: uncalibrated 1/2, 0, 1; calibrated 1, 1/2, 1
    assert neg["uncalibrated_coverage"] == pytest.approx(0.5)
    assert neg["uncalibrated_coverage_mcse"] == pytest.approx(np.std([0.5, 0.0, 1.0], ddof=1) / math.sqrt(3))
    assert neg["calibrated_coverage"] == pytest.approx(2.5 / 3)
    assert neg["calibrated_coverage_mcse"] == pytest.approx(np.std([1.0, 0.5, 1.0], ddof=1) / math.sqrt(3))
    assert neg["coverage_difference"] == pytest.approx(2.5 / 3 - 0.5)
    assert neg["coverage_difference_mcse"] == pytest.approx(np.std([0.5, 0.5, 0.0], ddof=1) / math.sqrt(3))
    assert neg["width_ratio"] == pytest.approx(np.mean([1.3, 1.3, 1.1]))
    assert neg["width_ratio_mcse"] == pytest.approx(np.std([1.3, 1.3, 1.1], ddof=1) / math.sqrt(3))
    assert neg["null_width_ratio"] == pytest.approx(np.mean([1.3, 1.3, 1.1]) / 2)
    assert neg["uncalibrated_rejection"] == pytest.approx(np.mean([0.5, 1.0, 0.0]))
    assert neg["calibrated_rejection"] == pytest.approx(np.mean([0.0, 0.5, 0.0]))
    assert neg["uncalibrated_mean_error"] == pytest.approx(np.mean([0.2, 0.3, 0.0]))
    assert neg["calibrated_mean_error"] == pytest.approx(np.mean([0.2, 0.3, 0.0]) - 0.1)
    z = (neg["calibrated_coverage"] - 0.95) / neg["calibrated_coverage_mcse"]
    assert neg["calibrated_coverage_z"] == pytest.approx(z)
    pos = out.loc["p2"]
    assert pos["true_or"] == pytest.approx(2.0) and pos["n_reps"] == 3
    assert pos["uncalibrated_coverage"] == pytest.approx(2 / 3)
    assert pos["uncalibrated_coverage_mcse"] == pytest.approx(math.sqrt((2 / 3) * (1 / 3) / 2))  # binomial, n - 1
    assert pos["calibrated_coverage"] == 1.0 and pos["calibrated_coverage_mcse"] == 0.0
    assert np.isnan(pos["calibrated_coverage_z"])  # no spread: no z
    assert pos["uncalibrated_rejection"] == 1.0 and pos["calibrated_rejection"] == 0.0


def test_replicate_mean_ignores_missing_values_and_needs_two_replicates():
    values = pd.Series([1.0, np.nan, 0.0, 1.0])
    reps = pd.Series([0, 0, 1, 1])
    mean, mcse, n = replicate_mean(values, reps)
    assert (mean, n) == (0.75, 2) and mcse == pytest.approx(np.std([1.0, 0.5], ddof=1) / math.sqrt(2))
    assert np.isnan(replicate_mean(values[:2], reps[:2])[1])
    assert replicate_mean(pd.Series([np.nan]), pd.Series([0]))[2] == 0


# -- the stored study -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stored_rows() -> pd.DataFrame:
    path = stored_coverage_file()
    if not path.is_file():
        pytest.skip(f"no stored calibration check {path}")
    return read_coverage_estimates(path)


@pytest.fixture(scope="module")
def stored(stored_rows) -> pd.DataFrame:
    return calibration_performance(stored_rows).set_index(["mechanism", "group"])


def test_stored_study_is_complete(stored_rows):
    rows = stored_rows
    assert set(rows["mechanism"]) == set(cal.MECHANISMS)
    for mechanism, frame in rows.groupby("mechanism"):
        reps = sorted(frame["rep"].unique())
        assert reps == list(range(len(reps))) and len(reps) >= 100, mechanism
        seeds = frame.groupby("rep")["seed"].first()
        assert seeds.tolist() == [replicate_seed(cal.MECHANISMS[mechanism], r) for r in reps]
        done = frame[frame["status"] != "failure"]
        assert (done.groupby("rep")["control"].nunique() == 38).all()


def test_with_systematic_error_uncalibrated_intervals_undercover(stored):
    neg = stored.loc[("systematic_error", NEGATIVE_GROUP)]
    assert neg["n_reps"] >= 100
    assert neg["uncalibrated_coverage"] < 0.95 - 3 * neg["uncalibrated_coverage_mcse"]
    # calibration recovers most of the shortfall (62% -> 94% in the stored study)
    assert neg["calibrated_coverage"] - neg["uncalibrated_coverage"] > 10 * neg["coverage_difference_mcse"]


@pytest.mark.xfail(
    strict=True,
    reason="measured: calibrated coverage of the negative controls 93.8% (MC SE 0.2 points), 5.6 MC SEs below "
    "95%: each replicate's null is estimated from 34 controls and plugged in; its SD is too small on average "
    "(mean 0.085 against the realised 0.097) and varies between replicates; with the realised null the same "
    "intervals cover 95% (test_with_the_realised_null_calibrated_intervals_cover); docs/simstudy.md",
)
def test_with_systematic_error_calibrated_intervals_cover_95_percent(stored):
    """The issue's criterion, as stated: calibrated coverage within 3 Monte Carlo SEs of 95% (not met; see reason)."""
    neg = stored.loc[("systematic_error", NEGATIVE_GROUP)]
    assert abs(neg["calibrated_coverage"] - 0.95) <= 3 * neg["calibrated_coverage_mcse"]


def test_with_the_realised_null_calibrated_intervals_cover(stored_rows):
    """Why the calibrated intervals undercover a little: the estimated null, not the data or the calibration's form.

    The realised null of the fixed panel is the mean and SD of the 35 negative controls' mean errors over the
    replicates (their SD less the sampling part).  Intervals ``mu +/- 1.96 sqrt(tau^2 + se^2)`` with it cover 95%
    within Monte Carlo error, and the replicates' own leave-one-out null SD is smaller on average.
    """
    rows = stored_rows[(stored_rows["mechanism"] == "systematic_error") & (stored_rows["status"] == "ok")]
    neg = rows[rows["control_type"] == "negative_control"]
    n_reps = neg["rep"].nunique()
    per_control = neg.groupby("control")
    mu = per_control["estimate"].mean().mean()
    sampling = (per_control["se"].apply(lambda s: np.mean(s**2)) / n_reps).mean()
    tau = math.sqrt(per_control["estimate"].mean().var(ddof=0) - sampling)
    assert 0.08 < tau < 0.12 and 0.1 < mu < 0.2  # the planted null: N(0.15, 0.10^2)
    covered = (np.abs(neg["estimate"] - mu) <= 1.959963984540054 * np.sqrt(tau**2 + neg["se"] ** 2)).astype(float)
    coverage, mcse, _ = replicate_mean(covered, neg["rep"])
    assert abs(coverage - 0.95) <= 3 * mcse
    assert neg["null_tau"].mean() < tau - 0.005


def test_without_systematic_error_calibration_costs_little(stored):
    neg = stored.loc[("no_systematic_error", NEGATIVE_GROUP)]
    assert neg["n_reps"] >= 100
    assert abs(neg["uncalibrated_coverage"] - 0.95) <= 3 * neg["uncalibrated_coverage_mcse"]
    assert abs(neg["calibrated_coverage"] - 0.95) <= 3 * neg["calibrated_coverage_mcse"]
    assert neg["width_ratio"] < MAX_WIDTH_RATIO_NO_ERROR
