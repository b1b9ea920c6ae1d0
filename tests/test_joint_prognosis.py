"""The study's joint model (notebook 07): its frames, its terms, its results and the two-stage contrast.

The estimator itself (likelihood, quadrature, JM anchor on the PBC data, planted truth at 20 times
the paper's size with the generator's answer key) is tested in ``tests/test_joint_model.py``.  Here:

* **Frames** (:mod:`alsmeds.derive.joint_data`): one follow-up rule with the survival data of
  notebook 05, the exposures of the ALSFRS-R data; on the committed data they equal the answer-key
  frames the estimator was checked on; cases without visits and zero-day follow-up are counted.
* **Terms** the data cannot estimate are left out with their reason; a model that cannot be fitted
  raises :class:`JointModelError`.
* **Two-stage contrast**: the time-varying Cox fit agrees with statsmodels ``PHReg`` on the same
  counting-process rows; at 5 times the paper's size with two visits per patient its association is
  attenuated against the planted value while the joint model recovers it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alsmeds import Study
from alsmeds.constants import CLASSES
from alsmeds.derive.dates import DAYS_PER_MONTH
from alsmeds.derive.joint_data import (
    JOINT_LONG_COLUMNS,
    JOINT_SURV_COLUMNS,
    ZERO_FOLLOW_UP_MONTHS,
    JointFrames,
    build_joint_frames,
)
from alsmeds.models.base import Z_975
from alsmeds.models.joint.mixed import fit_mixed
from alsmeds.models.joint.prognosis import (
    JOINT_MODEL_RESULT_COLUMNS,
    AlsJointModel,
    JointModelError,
    not_estimable_rows,
)
from alsmeds.models.joint.two_stage import PREDICTED_SCORE, fit_two_stage, predicted_score_intervals
from alsmeds.reporting.joint_results import (
    beside_references,
    dynamic_curves,
    example_patients,
    prognosis_estimates,
    two_stage_rows,
)


@pytest.fixture(scope="module")
def study():
    return Study.synthetic()


@pytest.fixture(scope="module")
def frames(study):
    return study.joint_data


@pytest.fixture(scope="module")
def fit(frames):
    return AlsJointModel().fit(frames)


# --------------------------------------------------------------------------- frames


def test_frames_columns_and_one_row_per_patient(frames):
    assert list(frames.long.columns) == list(JOINT_LONG_COLUMNS)
    assert list(frames.surv.columns) == list(JOINT_SURV_COLUMNS)
    assert not frames.surv["person_id"].duplicated().any()
    assert set(frames.long["person_id"]) == set(frames.surv["person_id"])
    assert frames.selection == {
        "cases": 1057,
        "cases_without_visits": 0,
        "zero_day_follow_up_set_to_half_a_day": 0,
        "patients": 1057,
        "visits": 7584,
        "events": frames.n_events,
    }


def test_frames_follow_the_survival_data_of_notebook_05(study, frames):
    """Follow-up, event and exposure come from the one definition the Cox models use."""
    sd = study.survival_data.set_index("person_id").loc[frames.surv["person_id"]]
    np.testing.assert_allclose(frames.surv["time_months"].to_numpy(), sd["time"].to_numpy() * 12, rtol=1e-12)
    np.testing.assert_array_equal(frames.surv["event"].to_numpy(), sd["event"].to_numpy())
    for k in CLASSES:
        np.testing.assert_array_equal(frames.surv[k].to_numpy(), sd[f"use_{k}"].to_numpy())
    last_visit = frames.long.groupby("person_id")["months"].max()
    assert (
        last_visit.to_numpy() <= frames.surv.set_index("person_id").loc[last_visit.index, "time_months"] + 1e-9
    ).all()


def test_frames_equal_the_answer_key_frames_the_estimator_was_checked_on(frames):
    """On the committed draw the study's classification equals the generator's answer key for every case."""
    from alsmeds.models.joint.synthetic import synthetic_joint_frames
    from alsmeds.simulate import generate

    registry = generate(seed=Study.synthetic().truth["seed"], scale=1.0, truth_scale=0)
    long, surv = synthetic_joint_frames(registry)
    np.testing.assert_array_equal(surv["person_id"].to_numpy(), frames.surv["person_id"].to_numpy())
    np.testing.assert_allclose(surv["time_months"].to_numpy(), frames.surv["time_months"].to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(surv["event"].to_numpy(), frames.surv["event"].to_numpy())
    for k in CLASSES:
        np.testing.assert_array_equal(surv[k].to_numpy(), frames.surv[k].to_numpy())
    np.testing.assert_allclose(long["score"].to_numpy(), frames.long["score"].to_numpy())


def test_cases_without_visits_and_zero_day_follow_up_are_counted(study):
    data = study.alsfrs_data.copy()
    dropped = data["person_id"].drop_duplicates().iloc[:3]
    data = data[~data["person_id"].isin(dropped)]
    zero = data["person_id"].drop_duplicates().iloc[:2]
    rows = data["person_id"].isin(zero)
    data = data[~rows | (data["visit"] == 0)]
    data.loc[data["person_id"].isin(zero), ["months", "followup_months"]] = 0.0
    built = build_joint_frames(data, n_cases=1057)
    assert built.selection["cases_without_visits"] == 3
    assert built.selection["zero_day_follow_up_set_to_half_a_day"] == 2
    assert built.selection["patients"] == 1054
    half_day = built.surv.set_index("person_id").loc[zero, "time_months"]
    np.testing.assert_allclose(half_day.to_numpy(), 0.5 / DAYS_PER_MONTH)
    assert ZERO_FOLLOW_UP_MONTHS == pytest.approx(0.5 / DAYS_PER_MONTH)
    assert not set(dropped) & set(built.surv["person_id"])


# --------------------------------------------------------------------------- fit and results


def test_fit_converges_with_checked_optimum(fit):
    assert fit.fit.converged and fit.fit.hessian_positive_definite
    assert fit.fit.relative_gradient < 1e-6
    assert fit.fit.quadrature["nodes_per_random_effect"] == 5
    assert not fit.not_estimable


def test_study_model_is_the_general_model_with_the_study_terms(frames, fit):
    """The wrapper adds nothing to the estimator: the general JointModel with the same terms gives the same fit."""
    general = AlsJointModel().joint_model().fit(frames.long, frames.surv)
    pd.testing.assert_series_equal(general.params, fit.params, rtol=1e-10)


def test_results_schema_and_hazard_ratios(fit):
    table = fit.to_frame()
    assert list(table.columns) == list(JOINT_MODEL_RESULT_COLUMNS)
    survival = table[(table["component"] == "survival") & table["drug_class"].isin(CLASSES)]
    assert list(survival["term"]) == list(CLASSES)
    hr = fit.hazard_ratios().set_index("drug_class")
    np.testing.assert_allclose(hr["hazard_ratio"], np.exp(fit.params[[f"surv:{k}" for k in CLASSES]]).to_numpy())
    np.testing.assert_allclose(hr["ci_lower"], np.exp(hr["log_hr"] - Z_975 * hr["se"]))
    alpha = fit.association()
    assert alpha["hr_per_point_lower"] == pytest.approx(np.exp(-fit.params["alpha"]))
    stats = table[table["component"] == "fit_statistic"].set_index("term")["estimate"]
    assert stats["aic"] == pytest.approx(-2 * stats["log_likelihood"] + 2 * stats["n_params"])
    assert set(table["unit"].dropna()) >= {"points", "points/month", "log hazard ratio"}


def test_two_stage_rows_share_the_schema(frames):
    rows = two_stage_rows(fit_two_stage(frames))
    assert list(rows.columns) == list(JOINT_MODEL_RESULT_COLUMNS)
    assert rows.loc[rows["component"] == "association", "term"].tolist() == ["alpha"]


def test_not_estimable_class_is_left_out_with_its_reason(frames):
    long, surv = frames.long.copy(), frames.surv.copy()
    long["hypnotics"] = 0.0
    surv["hypnotics"] = 0.0
    nobody = JointFrames(long=long, surv=surv, selection=frames.selection)
    result = AlsJointModel(n_nodes=3).fit(nobody)
    assert set(result.not_estimable) == {"long:hypnotics", "long:hypnotics:months", "surv:hypnotics"}
    assert all(why.startswith("no users of hypnotics") for why in result.not_estimable.values())
    hr = result.hazard_ratios().set_index("drug_class")
    assert not hr.loc["hypnotics", "estimable"] and hr.loc["anxiolytics", "estimable"]
    rows = result.to_frame()
    missing = rows[~rows["estimable"]]
    assert set(missing["term"]) == {"hypnotics", "hypnotics:months"}
    assert (missing["drug_class"] == "hypnotics").all()


def test_users_without_an_event_lose_only_their_hazard_ratio(frames):
    surv = frames.surv.copy()
    users = surv["anxiolytics"] == 1
    surv.loc[users, "event"] = 0
    surv.loc[users, "status"] = "none"
    reduced, reasons = AlsJointModel().estimable_model(JointFrames(frames.long, surv, frames.selection))
    assert reasons == {"surv:anxiolytics": "no event among users: the hazard ratio is not finite"}
    assert "anxiolytics" in reduced.exposures and "anxiolytics" not in reduced.survival_terms


def test_a_model_that_cannot_be_fitted_says_why(frames):
    few = frames.surv["person_id"].iloc[:10]
    small = JointFrames(
        frames.long[frames.long["person_id"].isin(few)], frames.surv[frames.surv["person_id"].isin(few)]
    )
    with pytest.raises(JointModelError, match=r"10 patients for \d+ parameters"):
        AlsJointModel().fit(small)
    no_event = frames.surv.assign(event=0)
    with pytest.raises(JointModelError, match="no death or invasive ventilation"):
        AlsJointModel().fit(JointFrames(frames.long, no_event))
    rows = not_estimable_rows("why", 1, 1, 0)
    assert list(rows.columns) == list(JOINT_MODEL_RESULT_COLUMNS) and (rows["reason"] == "why").all()


def test_forest_table_and_references(fit, frames):
    estimates = prognosis_estimates(fit, None, None)
    assert set(estimates["source"]) == {"joint"} and estimates["estimable"].all()
    failed = prognosis_estimates(None, None, None, joint_reason="too few")
    assert set(failed["source"]) == {"joint", "two_stage"} and (failed["reason"] == "too few").all()
    table = beside_references(estimates, {"antidepressants": (1.72, 1.30, 2.29)}, {"antidepressants": 0.5})
    row = table.loc["antidepressants"]
    assert row["published HR"] == 1.72 and row["planted direct HR"] == pytest.approx(np.exp(0.5))
    j = estimates.set_index("drug_class").loc["antidepressants"]
    assert row["z (joint - planted)"] == pytest.approx((j["log_hr"] - 0.5) / j["se"])


def test_dynamic_curves_update_with_the_visits(fit, frames):
    fast, slow = example_patients(frames.long, frames.surv)
    rows_fast, _ = frames.patient(fast)
    curves = dynamic_curves(fit, rows_fast, [0.0, float(rows_fast["months"].iloc[3])], horizon_months=12)
    first, later = curves.values()
    assert first["survival"].iloc[0] == pytest.approx(1.0) and later["survival"].iloc[0] == pytest.approx(1.0)
    assert np.all(np.diff(first["survival"]) <= 1e-12)
    # the fast decliner's twelve-month prognosis worsens once three more low scores are known
    assert later["survival"].iloc[-1] < first["survival"].iloc[-1]


# --------------------------------------------------------------------------- two stages


def test_counting_process_rows_cover_follow_up_exactly(frames):
    model = AlsJointModel()
    data = model.joint_model().prepare(frames.long, frames.surv)
    mixed = fit_mixed(data)
    p0, p1 = data.X0.shape[1], data.X1.shape[1]
    rows = predicted_score_intervals(frames, mixed, data.X0 @ mixed.theta[:p0], data.X1 @ mixed.theta[p0 : p0 + p1])
    length = (rows["stop"] - rows["start"]).groupby(rows["person_id"]).sum()
    np.testing.assert_allclose(length.to_numpy(), frames.surv.set_index("person_id").loc[length.index, "time_months"])
    assert (rows["stop"] > rows["start"]).all()
    assert rows.groupby("person_id")["event"].sum().to_numpy().tolist() == frames.surv["event"].tolist()
    last = rows.groupby("person_id").tail(1)
    assert last["event"].sum() == frames.n_events


def test_two_stage_cox_agrees_with_statsmodels_phreg(frames):
    """lifelines' CoxTimeVaryingFitter against statsmodels' PHReg with delayed entry, Efron ties, same rows."""
    from statsmodels.duration.hazard_regression import PHReg

    model = AlsJointModel()
    result = fit_two_stage(frames, model)
    data = model.joint_model().prepare(frames.long, frames.surv)
    mixed = fit_mixed(data)
    p0, p1 = data.X0.shape[1], data.X1.shape[1]
    rows = predicted_score_intervals(frames, mixed, data.X0 @ mixed.theta[:p0], data.X1 @ mixed.theta[p0 : p0 + p1])
    terms = [*model.survival_terms, PREDICTED_SCORE]
    ph = PHReg(
        rows["stop"].to_numpy(),
        rows[terms].to_numpy(),
        status=rows["event"].to_numpy(),
        entry=rows["start"].to_numpy(),
        ties="efron",
    ).fit()
    np.testing.assert_allclose(result.params.to_numpy(), ph.params, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result.bse.to_numpy(), ph.bse, rtol=1e-4)


@pytest.mark.slow
def test_two_stage_is_attenuated_where_the_joint_model_is_not():
    """Two visits per patient, 5 times the paper's size: the two-stage alpha shrinks towards 0, the joint one does not.

    Measured (seed 11): planted alpha -0.07; joint model -0.0661 (SE 0.0021, z = 1.9); two-stage
    -0.0503 (SE 0.0014), 72% of the planted value.  With every visit (the committed data) the two
    agree to 0.0003, because each patient's line is then well determined.
    """
    study = Study.synthetic(seed=11, scale=5, truth_scale=0)
    frames = study.joint_data
    sparse = JointFrames(frames.long.groupby("person_id").head(2).reset_index(drop=True), frames.surv, frames.selection)
    planted = study.truth["estimands"]["prognosis"]["association_per_alsfrs_point"]
    joint = AlsJointModel().fit(sparse)
    two_stage = fit_two_stage(sparse)
    z_joint = (joint.params["alpha"] - planted) / joint.bse["alpha"]
    z_two = (two_stage.params[PREDICTED_SCORE] - planted) / two_stage.bse[PREDICTED_SCORE]
    assert abs(z_joint) < 3
    assert z_two > 5  # towards zero (alpha < 0)
    assert two_stage.params[PREDICTED_SCORE] / planted < 0.85


def test_cox_total_is_read_not_refitted(tmp_path, study):
    from alsmeds import paths
    from alsmeds.reporting.joint_results import read_cox_total

    rows, why = read_cox_total(paths.COMMITTED_RESULTS_DIR, len(study.survival_data))
    assert why == "" and list(rows["drug_class"]) == list(CLASSES) and rows["estimable"].all()
    assert read_cox_total(paths.COMMITTED_RESULTS_DIR, 10)[0] is None  # a file about other data is not used
    missing, why = read_cox_total(tmp_path, 1057)
    assert missing is None and "run notebook 05" in why


def test_association_contrast_rows(fit, frames):
    from alsmeds.reporting.joint_results import association_contrast

    stage = fit_two_stage(frames)
    table = association_contrast({"all": (fit, stage, len(frames.long))})
    assert list(table["method"]) == ["joint", "two_stage"]
    assert table["estimate"].tolist() == [fit.params["alpha"], stage.params[PREDICTED_SCORE]]
    np.testing.assert_allclose(table["ci_upper"] - table["estimate"], Z_975 * table["se"])


def test_two_visit_contrast_on_the_committed_data(fit, frames):
    """Notebook 07's contrast: with every visit the two approaches agree; with two the two-stage alpha shrinks more.

    Measured on the committed data: the two-stage alpha is 100% of the joint model's with every visit
    and 75% with the first two, where 86% of the follow-up lies after the last visit used (8% with all).
    """
    from alsmeds.models.joint.checks import ALL_VISITS, FIRST_TWO_VISITS, visit_contrast
    from alsmeds.reporting.joint_results import association_contrast, contrast_text

    contrast = visit_contrast(frames, fit, fit_two_stage(frames))
    assert list(contrast.fits) == [ALL_VISITS, FIRST_TWO_VISITS] and contrast.reasons == {}
    ratio = association_contrast(contrast.fits).set_index(["data", "method"])["estimate"]
    share = {d: ratio[(d, "two_stage")] / ratio[(d, "joint")] for d in contrast.fits}
    assert share[ALL_VISITS] == pytest.approx(1.0, abs=0.02) and share[FIRST_TWO_VISITS] < 0.85
    assert contrast.after_last_visit[FIRST_TWO_VISITS] > 0.5 > 0.15 > contrast.after_last_visit[ALL_VISITS]
    lines = contrast_text(contrast).splitlines()
    assert lines[-1] == f"{FIRST_TWO_VISITS}: the two-stage alpha is {share[FIRST_TWO_VISITS]:.0%} of the joint model's"
