"""Accuracy of predicted risks (:mod:`alsmeds.models.accuracy`) and the dynamic-prediction comparison
(:mod:`alsmeds.models.joint.landmark`): properties without R, agreement with ``riskRegression::Score``.

The R checks use the ``needs_r`` fixture (marker ``r``) and riskRegression (``.ci/run`` installs
``r-cran-riskregression``): skipped without them, failed under CI.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from alsmeds.derive.joint_data import JointFrames
from alsmeds.models.accuracy import (
    brier_score,
    calibration_table,
    censoring_weights,
    constant_risk_brier,
    contrast_risks,
    kaplan_meier_risk,
    score_risks,
    time_dependent_auc,
)
from alsmeds.models.joint.landmark import (
    ACCURACY_CALIBRATION_COLUMNS,
    ACCURACY_COLUMNS,
    ACCURACY_CONTRAST_COLUMNS,
    LandmarkCox,
    breslow_cumhazard,
    joint_risks,
    landmark_frame,
    prediction_accuracy,
)
from alsmeds.models.joint.prediction import dynamic_survival

#: Agreement required with riskRegression (relative).
RTOL = 1e-6


def _data(n: int, seed: int, ties: bool = False, censoring: float = 4.0):
    """Exponential event times with a covariate, exponential censoring; times rounded to halves with ``ties``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    T = rng.exponential(np.exp(-x)) * 3
    C = rng.exponential(censoring, size=n)
    time = np.minimum(T, C)
    event = (T <= C).astype(int)
    if ties:
        time = np.ceil(time * 2) / 2
    risk = 1 / (1 + np.exp(-x))
    return time, event, (np.round(risk, 1) if ties else risk), rng


# --- properties without R --------------------------------------------------------------------


def test_censoring_weights_are_prodlims_reverse_kaplan_meier_with_ties():
    """prodlim (reverse = TRUE) on these ten rows: G = 0.875, 0.5833, 0.3889, 0.1944 at times 1-4 (printed in R)."""
    time = np.array([1, 1, 1, 2, 2, 2, 3, 3, 4, 5], dtype=float)
    event = np.array([1, 0, 1, 0, 0, 1, 1, 0, 0, 1])
    cw = censoring_weights(time, event, horizon=2.5)
    g = [0.875, 0.875 * 4 / 6, 0.875 * 4 / 6 * 2 / 3, 0.875 * 4 / 6 * 2 / 3 / 2]
    np.testing.assert_allclose(cw.survival, [*g, g[-1]])
    expected_before = [1, 1, 1, 0.875, 0.875, 0.875, 7 / 12, 7 / 12, 7 / 18, 7 / 36]
    np.testing.assert_allclose(cw.g_before, expected_before)
    assert cw.g_horizon == pytest.approx(7 / 12)
    assert cw.case.tolist() == [True, False, True, False, False, True] + [False] * 4
    assert cw.control.tolist() == [False] * 6 + [True] * 4


@pytest.mark.parametrize("ties", [False, True])
def test_ipcw_masses_are_the_kaplan_meier_risk(ties):
    """With censorings after tied events, sum_cases W / n = 1 - KM(tau) and sum_controls W / n = KM(tau) exactly."""
    time, event, _, _ = _data(300, 1, ties)
    for tau in (0.5, 1.0, 2.0):
        cw = censoring_weights(time, event, tau)
        km_risk, _ = kaplan_meier_risk(time, event, tau)
        assert cw.weight[cw.case].sum() / time.size == pytest.approx(km_risk, abs=1e-12)
        assert cw.weight[cw.control].sum() / time.size == pytest.approx(1 - km_risk, abs=1e-12)


def test_kaplan_meier_risk_is_lifelines():
    from lifelines import KaplanMeierFitter

    time, event, _, _ = _data(200, 2, ties=True)
    km = KaplanMeierFitter().fit(time, event)
    risk, se = kaplan_meier_risk(time, event, 1.3)
    assert risk == pytest.approx(1 - float(km.survival_function_at_times(1.3).iloc[0]), abs=1e-12)
    # Greenwood: lifelines' variance of S at the last event time at or before 1.3
    variance = km._cumulative_sq_.loc[:1.3].iloc[-1] * (1 - risk) ** 2
    assert se == pytest.approx(np.sqrt(variance), rel=1e-10)


def test_perfect_constant_and_reversed_risks():
    time, event, _, _ = _data(250, 3)
    tau = 1.0
    perfect = -time  # every case (time <= tau) has a higher risk than every control (time > tau)
    assert time_dependent_auc(time, event, perfect, tau).estimate == pytest.approx(1.0, abs=1e-14)
    assert time_dependent_auc(time, event, time, tau).estimate == pytest.approx(0.0, abs=1e-14)
    constant = time_dependent_auc(time, event, np.full(time.size, 0.3), tau)
    assert constant.estimate == pytest.approx(0.5, abs=1e-14)
    assert constant.se == pytest.approx(0.0, abs=1e-12)
    # the AUC depends on the ranking only
    risk = stats.norm.cdf(np.random.default_rng(0).normal(size=time.size) - time)
    a = time_dependent_auc(time, event, risk, tau)
    b = time_dependent_auc(time, event, np.log(risk), tau)
    assert a.estimate == pytest.approx(b.estimate, abs=1e-14) and a.se == pytest.approx(b.se, rel=1e-12)


@pytest.mark.parametrize("ties", [False, True])
def test_brier_of_a_constant_risk_is_the_ipcw_variance_formula(ties):
    """Brier(p) = F (1 - F) + (p - F)^2 with F the Kaplan-Meier risk: the null model p = F gives F (1 - F)."""
    time, event, _, _ = _data(300, 4, ties)
    tau = 1.2
    F, _ = kaplan_meier_risk(time, event, tau)
    for p in (0.0, 0.2, F, 0.7, 1.0):
        score = brier_score(time, event, np.full(time.size, p), tau).estimate
        assert score == pytest.approx(F * (1 - F) + (p - F) ** 2, abs=1e-12)
        assert score == pytest.approx(constant_risk_brier(time, event, p, tau), abs=1e-14)
    null = score_risks(time, event, {"m": np.full(time.size, 0.5)}, tau)
    assert null["brier_null"].iloc[0] == pytest.approx(F * (1 - F), abs=1e-12)


def test_without_censoring_the_scores_are_the_plain_ones():
    """No censoring: AUC is Mann-Whitney's statistic, the Brier score the mean squared error, its SE the plain one."""
    rng = np.random.default_rng(5)
    time = rng.exponential(size=200)
    event = np.ones(200, dtype=int)
    risk = np.round(stats.norm.cdf(rng.normal(size=200) - time), 2)  # ties in the risk
    tau = 0.8
    status = (time <= tau).astype(float)
    auc = time_dependent_auc(time, event, risk, tau).estimate
    cases, controls = risk[status == 1], risk[status == 0]
    mann_whitney = stats.mannwhitneyu(cases, controls).statistic / (cases.size * controls.size)
    assert auc == pytest.approx(mann_whitney, abs=1e-14)
    brier = brier_score(time, event, risk, tau)
    squared = (status - risk) ** 2
    assert brier.estimate == pytest.approx(squared.mean(), abs=1e-14)
    assert brier.se == pytest.approx(squared.std(ddof=1) / np.sqrt(200), rel=1e-12)


def test_influence_functions_have_mean_zero_and_the_contrast_is_paired():
    time, event, risk, rng = _data(200, 6, ties=True)
    other = rng.uniform(size=time.size)
    for score in (time_dependent_auc(time, event, risk, 1.0), brier_score(time, event, risk, 1.0)):
        assert abs(score.influence.mean()) < 1e-12
    c = contrast_risks(time, event, {"a": risk, "b": other}, 1.0).iloc[0]
    a, b = time_dependent_auc(time, event, risk, 1.0), time_dependent_auc(time, event, other, 1.0)
    assert c["auc_difference"] == pytest.approx(b.estimate - a.estimate)
    assert c["auc_difference_se"] == pytest.approx(np.std(b.influence - a.influence, ddof=1) / np.sqrt(200))
    # the same model against itself: no difference, no variance
    same = contrast_risks(time, event, {"a": risk, "b": risk}, 1.0).iloc[0]
    assert same["auc_difference"] == 0 and same["auc_difference_se"] == 0


def test_standard_errors_match_the_spread_over_replicates():
    """The influence-function SEs (censoring term included) against the SD of the estimates over 300 samples."""
    auc, brier, auc_se, brier_se = [], [], [], []
    for seed in range(300):
        time, event, risk, _ = _data(200, 1000 + seed, censoring=3.0)
        a, b = time_dependent_auc(time, event, risk, 1.5), brier_score(time, event, risk, 1.5)
        auc.append(a.estimate), brier.append(b.estimate), auc_se.append(a.se), brier_se.append(b.se)
    # SD of an SD estimate from 300 replicates: about 4%; allow 15%
    assert np.mean(auc_se) == pytest.approx(np.std(auc, ddof=1), rel=0.15)
    assert np.mean(brier_se) == pytest.approx(np.std(brier, ddof=1), rel=0.15)


def test_no_case_or_no_control_gives_a_missing_auc():
    time = np.array([1.0, 2.0, 3.0, 4.0])
    event = np.array([0, 1, 1, 0])
    assert np.isnan(time_dependent_auc(time, event, np.arange(4.0), 0.5).estimate)  # no case by 0.5
    assert np.isnan(time_dependent_auc(time, event, np.arange(4.0), 10.0).estimate)  # no control beyond 10
    with pytest.raises(ValueError, match="0 .censored. or 1"):
        time_dependent_auc(time, np.array([0, 2, 1, 0]), np.arange(4.0), 1.0)
    with pytest.raises(ValueError, match="risks for"):
        brier_score(time, event, np.arange(3.0), 1.0)


def test_calibration_table_groups_and_kaplan_meier():
    from lifelines import KaplanMeierFitter

    time, event, risk, _ = _data(203, 7)
    table = calibration_table(time, event, risk, 1.0, groups=10)
    assert list(table.columns) == list(ACCURACY_CALIBRATION_COLUMNS)[3:]
    assert table["n"].sum() == 203 and table["n"].max() - table["n"].min() <= 1
    assert (table["risk_max"].to_numpy()[:-1] <= table["risk_min"].to_numpy()[1:]).all()
    order = np.argsort(risk, kind="stable")
    top = order[-table["n"].iloc[-1] :]
    km = KaplanMeierFitter().fit(time[top], event[top])
    assert table["observed_risk"].iloc[-1] == pytest.approx(1 - float(km.survival_function_at_times(1.0).iloc[0]))
    assert table["mean_risk"].iloc[-1] == pytest.approx(risk[top].mean())


# --- the landmark frames and the landmark Cox model ---------------------------------------------


def _tiny_frames() -> JointFrames:
    covariates = {"anxiolytics": 0.0, "hypnotics": 0.0, "antidepressants": 0.0, "age_per_decade": 0.0}
    covariates.update(male=0.0, bulbar=0.0)
    surv = pd.DataFrame(
        {
            "person_id": [1, 2, 3, 4],
            "time_months": [5.0, 20.0, 9.0, 30.0],
            "event": [1, 1, 0, 0],
            "status": ["death", "death", "none", "none"],
            **{c: [v] * 4 for c, v in covariates.items()},
        }
    )
    long = pd.DataFrame(
        {
            "person_id": [1, 1, 2, 2, 2, 3, 4],
            "months": [0.0, 4.0, 0.0, 3.0, 7.0, 0.0, 6.5],
            "score": [40.0, 35.0, 44.0, 41.0, 30.0, 38.0, 46.0],
            **{c: [v] * 7 for c, v in covariates.items()},
        }
    )
    return JointFrames(long=long, surv=surv)


def test_landmark_frame_keeps_the_patients_at_risk_with_a_visit():
    rows = landmark_frame(_tiny_frames(), 6.0)
    # 1 had its event before 6; 4 has no visit by 6
    assert rows["person_id"].tolist() == [2, 3]
    assert rows["time"].tolist() == [14.0, 3.0]
    assert rows["event"].tolist() == [1, 0]
    assert rows["last_score"].tolist() == [41.0, 38.0]
    assert rows["visits"].tolist() == [2, 1]
    assert rows.loc[0, "slope"] == pytest.approx(-1.0)
    assert np.isnan(rows.loc[1, "slope"])


def test_breslow_baseline_and_risks_are_lifelines():
    """The landmark Cox model's risk 1 - exp(-H0(w) exp(lp)) against lifelines' predicted survival at w."""
    from lifelines import CoxPHFitter

    time, event, _, rng = _data(300, 8, ties=True)
    rows = pd.DataFrame(
        {
            "time": time,
            "event": event,
            "last_score": rng.normal(35, 6, size=300).round(),
            "age_per_decade": rng.normal(size=300),
        }
    )
    w = 1.5
    result = LandmarkCox(6.0, w, covariates=("age_per_decade",)).fit_rows(rows)
    assert result.reason == "" and result.n == 300
    design = pd.DataFrame(
        {
            "time": np.minimum(time, w),
            "event": np.where(time <= w, event, 0),
            "last_score": rows["last_score"],
            "age_per_decade": rows["age_per_decade"],
        }
    )
    cph = CoxPHFitter().fit(design, "time", "event")
    np.testing.assert_allclose(result.params.to_numpy(), cph.params_.to_numpy(), rtol=1e-6)
    expected = 1 - cph.predict_survival_function(design, times=[w]).to_numpy().ravel()
    np.testing.assert_allclose(result.predict_risk(rows), expected, rtol=1e-6)
    # the Breslow sum by hand at one time
    lp = np.exp((design[["last_score", "age_per_decade"]] - result.means).to_numpy() @ result.params.to_numpy())
    d, t = design["event"].to_numpy(), design["time"].to_numpy()
    by_hand = sum(d[i] / lp[t >= t[i]].sum() for i in range(300) if t[i] <= 0.7 and d[i] == 1)
    # tied event times: each of the d events at a time contributes 1 / (risk set sum): the same sum
    assert breslow_cumhazard(t, d.astype(float), lp, 0.7) == pytest.approx(by_hand, rel=1e-12)


def test_a_landmark_model_without_events_says_why():
    rows = landmark_frame(_tiny_frames(), 6.0).assign(event=0)
    result = LandmarkCox(6.0, 6.0).fit_rows(rows)
    assert result.reason == "no events in the window"
    assert np.isnan(result.predict_risk(rows)).all()


# --- the comparison on a small synthetic study ------------------------------------------------------


@pytest.fixture(scope="module")
def small_study():
    """A small synthetic study, its joint fit and the accuracy of both models at 6 and 12 months (about 30 s)."""
    from alsmeds import Study
    from alsmeds.analyses.joint import joint_fits

    study = Study.synthetic(seed=3, scale=0.3, implied=False)
    fits = joint_fits(study)
    assert fits.joint is not None, fits.reason
    return fits.frames, fits.joint, prediction_accuracy(fits.frames, fits.joint)


def test_prediction_accuracy_frame(small_study):
    frames, joint, accuracy = small_study
    scores = accuracy.scores
    assert list(scores.columns) == list(ACCURACY_COLUMNS)
    assert list(accuracy.calibration.columns) == list(ACCURACY_CALIBRATION_COLUMNS)
    assert list(accuracy.contrasts.columns) == list(ACCURACY_CONTRAST_COLUMNS)
    assert len(scores) == 8 and set(scores["model"]) == {"joint", "landmark_cox"}
    assert (scores["reason"] == "").all()
    for s in (6.0, 12.0):
        rows = landmark_frame(frames, s)
        at = scores[scores["landmark"] == s]
        assert (at["n_at_risk"] == len(rows)).all()
        for w in (6.0, 12.0):
            events = int(((rows["time"] <= w) & (rows["event"] == 1)).sum())
            assert (at[at["horizon"] == w]["events_in_window"] == events).all()
    assert scores["auc"].between(0.6, 1).all() and scores["brier"].between(0, 0.25).all()
    assert (scores["auc_se"] > 0).all() and (scores["brier_se"] > 0).all()
    risks = accuracy.risks
    assert risks[["joint", "landmark_cox"]].stack().between(0, 1).all()
    # a longer horizon, a larger risk, for every patient and both models
    wide = risks.pivot_table(index=["landmark", "person_id"], columns="horizon", values=["joint", "landmark_cox"])
    assert (wide["joint"][12.0] > wide["joint"][6.0]).all()
    assert (wide["landmark_cox"][12.0] >= wide["landmark_cox"][6.0]).all()
    calibration = accuracy.calibration
    sizes = calibration.groupby(["model", "landmark", "horizon"])["n"].sum()
    at_risk = scores.set_index(["model", "landmark", "horizon"])["n_at_risk"]
    assert (sizes == at_risk.loc[sizes.index]).all()
    assert len(accuracy.contrasts) == 4 and (accuracy.contrasts["model"] == "joint").all()


def test_joint_risks_are_the_dynamic_predictions(small_study):
    frames, joint, accuracy = small_study
    rows = landmark_frame(frames, 12.0)
    pid = rows["person_id"].iloc[3]
    curve = dynamic_survival(joint.fit, frames.long[frames.long["person_id"] == pid], 12.0, [18.0, 24.0])
    ours = accuracy.risks.query("landmark == 12 and person_id == @pid").set_index("horizon")["joint"]
    np.testing.assert_allclose(ours.loc[[6.0, 12.0]].to_numpy(), 1 - curve["survival"].to_numpy(), rtol=1e-12)
    again = joint_risks(joint, frames, 12.0, [6.0], [pid])
    assert again["risk"].iloc[0] == pytest.approx(ours.loc[6.0], rel=1e-12)


def test_reporting_tables(small_study):
    from alsmeds.reporting.accuracy_results import accuracy_table, accuracy_text, calibration_in_the_large

    _, _, accuracy = small_study
    table = accuracy_table(accuracy)
    assert len(table) == 4 and "AUC joint model" in table.columns and "Brier difference" in table.columns
    text = accuracy_text(accuracy)
    assert "in sample" in text and "landmark Cox model" in text
    citl = calibration_in_the_large(accuracy)
    assert np.allclose(citl["difference"], citl["observed_risk"] - citl["mean_risk"])


def test_calibration_file_text_and_figure(small_study):
    """The calibration sentence counts the groups whose predicted risk is outside the observed risk's interval."""
    import matplotlib.pyplot as plt

    from alsmeds.plots.joint import plot_prediction_calibration
    from alsmeds.reporting.accuracy_results import PREDICTION_CALIBRATION_COLUMNS, calibration_file_text

    _, _, accuracy = small_study
    calibration = accuracy.calibration.assign(reason="").reindex(columns=list(PREDICTION_CALIBRATION_COLUMNS))
    text = calibration_file_text(calibration)
    for model in ("joint", "landmark_cox"):
        mine = calibration[calibration["model"] == model]
        outside = int(((mine["observed_risk"] - mine["mean_risk"]).abs() > 1.959964 * mine["observed_se"]).sum())
        assert f"in {outside} of {len(mine)} risk groups" in text
    # a hand-made table: one group far off, one on the diagonal
    made = pd.DataFrame(
        {"model": "joint", "landmark": 6.0, "horizon": 12.0, "group": [1, 2], "n": 50, "events": [5, 20],
         "risk_min": 0.0, "risk_max": 1.0, "mean_risk": [0.10, 0.60], "observed_risk": [0.10, 0.40],
         "observed_se": [0.04, 0.05], "reason": ""}  # fmt: skip
    )
    assert calibration_file_text(made) == (
        "Joint model: the mean predicted risk lies outside the 95% interval of the observed risk in 1 of 2 risk "
        "groups; the largest gap is -20.0 percentage points (observed 40.0% against predicted 60.0%, group 2 from 6 "
        "months for the next 12)."
    )
    empty = pd.DataFrame({"model": ["joint"], "landmark": [6.0], "horizon": [6.0], "reason": ["too few events"]})
    empty = empty.reindex(columns=list(PREDICTION_CALIBRATION_COLUMNS))
    assert calibration_file_text(empty) == "no calibration table: too few events"
    fig = plot_prediction_calibration(calibration)
    assert len(fig.axes) == 4 and all(ax.get_aspect() == 1.0 for ax in fig.axes)
    plt.close(fig)
    fig = plot_prediction_calibration(empty)
    assert "too few events" in fig.axes[0].texts[0].get_text()
    plt.close(fig)


# --- agreement with riskRegression::Score -------------------------------------------------------------


@pytest.fixture(scope="module")
def needs_riskregression(needs_r):
    """riskRegression on top of :func:`needs_r` (skip without it, fail under CI)."""
    from alsmeds.reference.score import RISKREGRESSION_INSTALL, riskregression_available

    if riskregression_available():
        return
    if os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}:  # as conftest.IN_CI
        pytest.fail(f"CI is set but R's riskRegression does not load (.ci/run: {RISKREGRESSION_INSTALL})")
    pytest.skip(f"the riskRegression checks need R's riskRegression ({RISKREGRESSION_INSTALL})")


def _assert_agree(ours: pd.DataFrame, theirs: pd.DataFrame, columns=("auc", "auc_se", "brier", "brier_se")):
    merged = ours.merge(theirs, on=["model", "horizon"], suffixes=("", "_r"), validate="one_to_one")
    assert len(merged) == len(ours)
    for _, row in merged.iterrows():
        for c in columns:
            a, b = float(row[c]), float(row[f"{c}_r"])
            if c.endswith("_se") and abs(b) < 1e-12:  # a constant risk: zero up to rounding in both
                assert abs(a) < 1e-12, (row["model"], c, a, b)
            else:
                assert a == pytest.approx(b, rel=RTOL), (row["model"], row["horizon"], c, a, b)


@pytest.mark.r
@pytest.mark.parametrize("ties", [False, True], ids=["continuous", "ties"])
@pytest.mark.parametrize("conservative", [False, True], ids=["ipcw-se", "conservative-se"])
def test_scores_agree_with_riskregression(needs_r, needs_riskregression, ties, conservative):
    """AUC, Brier, their SEs and paired differences on censored data, with ties in the times (a half grid) and risks."""
    from alsmeds.reference.score import r_score

    time, event, risk, rng = _data(180, 11, ties)
    risks = {"model": risk, "noise": rng.uniform(size=time.size), "constant": np.full(time.size, 0.3)}
    # horizons between the times, on an observed time (a tie with tau), late
    horizons = (0.75, 1.0, 2.5)
    theirs = r_score(time, event, risks, horizons, conservative=conservative)
    assert theirs.warnings == [] and theirs.horizons == list(horizons)
    ours = pd.concat([score_risks(time, event, risks, h, conservative=conservative) for h in horizons])
    _assert_agree(ours, theirs.scores[theirs.scores["model"] != "Null model"])
    null = theirs.scores[theirs.scores["model"] == "Null model"].set_index("horizon")["brier"]
    np.testing.assert_allclose(ours.groupby("horizon")["brier_null"].first(), null.loc[list(horizons)], rtol=RTOL)
    contrasts = pd.concat([contrast_risks(time, event, risks, h, conservative=conservative) for h in horizons])
    merged = contrasts.merge(theirs.contrasts, on=["model", "reference", "horizon"], suffixes=("", "_r"))
    assert len(merged) == 9
    for c in ("auc_difference", "auc_difference_se", "brier_difference", "brier_difference_se"):
        np.testing.assert_allclose(merged[c], merged[f"{c}_r"], rtol=RTOL, atol=1e-12)


@pytest.mark.r
def test_dynamic_prediction_scores_agree_with_riskregression(needs_r, needs_riskregression, small_study):
    """The very risks of the joint and landmark Cox models at every landmark and horizon, scored by riskRegression."""
    from alsmeds.reference.score import r_score

    _, _, accuracy = small_study
    for s, at in accuracy.risks.groupby("landmark"):
        wide = at.pivot(index="person_id", columns="horizon", values=["time", "event", "joint", "landmark_cox"])
        horizons = sorted(at["horizon"].unique())
        risks = {m: wide[m][horizons].to_numpy() for m in ("joint", "landmark_cox")}
        theirs = r_score(wide["time"][horizons[0]].to_numpy(), wide["event"][horizons[0]].to_numpy(), risks, horizons)
        ours = accuracy.scores[accuracy.scores["landmark"] == s]
        _assert_agree(ours[["model", "horizon", "auc", "auc_se", "brier", "brier_se"]], theirs.scores)
        contrasts = accuracy.contrasts[accuracy.contrasts["landmark"] == s].set_index("horizon")
        for _, r in theirs.contrasts.iterrows():  # landmark_cox - joint in R (later against earlier): the sign flips
            c = contrasts.loc[r["horizon"]]
            assert c["auc_difference"] == pytest.approx(-r["auc_difference"], rel=RTOL)
            assert c["auc_difference_se"] == pytest.approx(r["auc_difference_se"], rel=RTOL)
            assert c["brier_difference"] == pytest.approx(-r["brier_difference"], rel=RTOL)
            assert c["brier_difference_se"] == pytest.approx(r["brier_difference_se"], rel=RTOL)
