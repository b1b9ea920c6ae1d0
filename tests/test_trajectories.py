"""ALSFRS-R visit data and the linear mixed model (:mod:`alsmeds.models.mixed`).

* :func:`build_alsfrs_data` on a hand-made registry: which visits are kept, months,
  exposures, covariates and follow-up.
* :class:`AlsfrsMixedModel` on the committed data: no warnings, deterministic,
  internally consistent, and equal to R ``nlme::lme`` to 1e-4 (fixed effects, standard
  errors, variance components, log-likelihood).  Without R these reference tests are
  skipped, except under CI (``CI`` set), where a missing R must fail.
* Planted truth at 2.5 times the paper's sample: the model recovers the planted slopes
  from complete latent trajectories, and informative dropout biases the reference
  slope in the expected direction (``test_slope_recovery_and_dropout_bias`` gives the
  sizes of the biases, measured at 5 times the paper's sample).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsmeds.constants import CLASSES
from alsmeds.data.registry import Registry, read_registry
from alsmeds.derive.alsfrs import (
    ALSFRS_DATA_COLUMNS,
    alsfrs_visits,
    build_alsfrs_data,
    describe_visits,
    person_ols_slopes,
    slopes_by_followup,
)
from alsmeds.derive.cohort import case_exposures
from alsmeds.estimands.dropout import dropout_scenarios
from alsmeds.models.base import Z_975
from alsmeds.models.mixed import (
    MIXED_MODEL_RESULT_COLUMNS,
    AlsfrsMixedModel,
    AlsfrsMixedResult,
    MixedModelError,
    boundary_lr_pvalue,
    compare_random_effects,
    fixed_effect_label,
    random_effects_comparison_rows,
)
from alsmeds.paths import SYNTHETIC_DIR
from alsmeds.reference.lme import RLmeResult, r_lme
from alsmeds.simulate.dropout import (
    DROPOUT_SCENARIOS,
    cut_at_follow_up,
    latent_at_observed_visits,
    latent_complete_trajectories,
    latent_slope_regression,
    rounded_and_clipped,
    true_person_effects,
)

#: Agreement with nlme::lme required on fixed effects, SEs, variance components, log-likelihood.
R_ATOL = 1e-4


# --------------------------------------------------------------------------- hand-made registry


def _d(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


@pytest.fixture()
def tiny_registry() -> Registry:
    """Five cases; every rule of build_alsfrs_data is exercised once.

    * 1: male, bulbar, born 1950-01-01, diagnosed 2020-01-01; invasive ventilation on
      2020-07-01, death on 2020-10-01.  Visits: 2019-12-01 (before diagnosis: dropped),
      2020-01-01, 2020-04-01, 2020-07-01 (on the event day: kept), 2020-09-01 (after it:
      dropped).
    * 2: female, spinal; no event.  Visits 2021-06-01 and 2024-01-15 (after the end of
      follow-up, 2023-12-31: dropped).
    * 3: emigrated 2022-03-01.  Visits 2022-01-01 and 2022-04-01 (after emigration:
      dropped); the death in the outcomes after emigration is not observed.
    * 4: no exposure row: both visits dropped.
    * 5: death only in the persons table (2021-05-01): a death event; the visit after it
      is dropped.  Its other visit has no score (dropped).
    """
    persons = pd.DataFrame(
        {
            "person_id": [1, 2, 3, 4, 5],
            "birth_date": pd.to_datetime(["1950-01-01", "1960-07-01", "1955-01-01", "1970-01-01", "1940-01-01"]),
            "sex": ["male", "female", "female", "male", "male"],
            "death_date": pd.to_datetime([None, None, None, None, "2021-05-01"]),
            "emigration_date": pd.to_datetime([None, None, "2022-03-01", None, None]),
        }
    )
    cases = pd.DataFrame(
        {
            "person_id": [1, 2, 3, 4, 5],
            "diagnosis_date": pd.to_datetime(["2020-01-01", "2021-06-01", "2022-01-01", "2020-01-01", "2021-01-01"]),
            "onset_site": ["bulbar", "spinal", "spinal", "spinal", "bulbar"],
            "diagnostic_delay_months": [10.0, 12.0, 8.0, 9.0, 11.0],
        }
    )
    alsfrs = pd.DataFrame(
        {
            "person_id": [1, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5],
            "visit_date": pd.to_datetime(
                [
                    "2019-12-01",
                    "2020-01-01",
                    "2020-04-01",
                    "2020-07-01",
                    "2020-09-01",
                    "2021-06-01",
                    "2024-01-15",
                    "2022-01-01",
                    "2022-04-01",
                    "2020-01-01",
                    "2020-04-01",
                    "2021-01-01",
                    "2021-03-01",
                    "2021-06-01",
                ]
            ),
            "alsfrs_r_total": pd.array([45, 40, 37, 33, 30, 44, 20, 38, 35, 41, 39, 30, None, 20], dtype="Int64"),
        }
    )
    outcomes = pd.DataFrame(
        {
            "person_id": [1, 1, 3],
            "event": ["death", "invasive_ventilation", "death"],
            "event_date": pd.to_datetime(["2020-10-01", "2020-07-01", "2022-06-01"]),
        }
    )
    metadata = {"end_of_follow_up": pd.Timestamp("2023-12-31").date()}
    tables = {"persons": persons, "als_cases": cases, "alsfrs": alsfrs, "outcomes": outcomes}
    return Registry(tables=tables, metadata=metadata, data_dir=Path("."))


@pytest.fixture()
def tiny_exposures() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": [1, 2, 3, 5],
            "cat_anxiolytics": [0, 3, 0, 1],
            "cat_hypnotics": [0, 0, 0, 0],
            "cat_antidepressants": [2, 0, 1, 0],
        }
    )


def test_build_alsfrs_data_keeps_the_documented_visits(tiny_registry, tiny_exposures):
    data = build_alsfrs_data(tiny_registry, tiny_exposures)
    assert list(data.columns) == list(ALSFRS_DATA_COLUMNS)
    kept = list(zip(data["person_id"], data["visit_date"].dt.strftime("%Y-%m-%d"), strict=True))
    assert kept == [
        (1, "2020-01-01"),
        (1, "2020-04-01"),
        (1, "2020-07-01"),
        (2, "2021-06-01"),
        (3, "2022-01-01"),
        (5, "2021-01-01"),
    ]
    assert data.attrs["selection"] == {
        "visits_in_register": 14,
        "same_day_assessments_merged": 0,
        "not_an_als_case": 0,
        "no_exposure_row": 2,
        "before_diagnosis": 1,
        "after_end_of_follow_up": 4,
        "missing_score": 1,
        "visits_kept": 6,
        "patients_kept": 4,
        "cases_without_kept_visits": 0,
    }


def test_build_alsfrs_data_columns(tiny_registry, tiny_exposures):
    data = build_alsfrs_data(tiny_registry, tiny_exposures).set_index(["person_id", "visit"])
    # months = days / (365.25 / 12): 2020-01-01 -> 2020-04-01 is 91 days.
    assert data.loc[(1, 1), "months"] == pytest.approx(91 / 30.4375, abs=1e-12)
    assert data.loc[(1, 0), "months"] == 0.0
    assert data.loc[(1, 2), "score"] == 33.0
    assert data.loc[(1, 0), "n_visits"] == 3
    # Prediagnostic use is any window (cat != 0).
    assert data.loc[(1, 0), ["anxiolytics", "hypnotics", "antidepressants"]].tolist() == [0, 0, 1]
    assert data.loc[(2, 0), ["anxiolytics", "hypnotics", "antidepressants"]].tolist() == [1, 0, 0]
    assert data.loc[(5, 0), "anxiolytics"] == 1
    assert data.loc[(1, 0), "age"] == pytest.approx((_d("2020-01-01") - _d("1950-01-01")).days / 365.25)
    assert data.loc[(1, 0), "age_per_decade"] == pytest.approx((data.loc[(1, 0), "age"] - 65) / 10)
    assert data.loc[(1, 0), "male"] == 1 and data.loc[(2, 0), "male"] == 0
    assert data.loc[(1, 0), "bulbar"] == 1 and data.loc[(2, 0), "bulbar"] == 0
    # The first event is invasive ventilation; death after it does not count.
    assert data.loc[(1, 0), "event"] == "invasive_ventilation"
    assert data.loc[(1, 0), "event_months"] == pytest.approx(182 / 30.4375)
    assert data.loc[(1, 0), "followup_months"] == pytest.approx(182 / 30.4375)
    # No event: followed to the end of follow-up.
    assert data.loc[(2, 0), "event"] == "none" and np.isnan(data.loc[(2, 0), "event_months"])
    assert data.loc[(2, 0), "followup_months"] == pytest.approx((_d("2023-12-31") - _d("2021-06-01")).days / 30.4375)
    # Emigration censors; the later death is not observed.
    assert data.loc[(3, 0), "event"] == "none"
    assert data.loc[(3, 0), "followup_months"] == pytest.approx(59 / 30.4375)
    # A death recorded only in persons is an event.
    assert data.loc[(5, 0), "event"] == "death"
    assert data.loc[(5, 0), "event_months"] == pytest.approx(120 / 30.4375)


def test_build_alsfrs_data_rejects_bad_exposures(tiny_registry, tiny_exposures):
    with pytest.raises(ValueError, match="one row per person_id"):
        build_alsfrs_data(tiny_registry, pd.concat([tiny_exposures, tiny_exposures]))
    with pytest.raises(ValueError, match="cat_hypnotics"):
        build_alsfrs_data(tiny_registry, tiny_exposures.drop(columns="cat_hypnotics"))


def test_same_day_assessments_are_averaged_into_one_visit(tiny_registry, tiny_exposures):
    alsfrs = tiny_registry.tables["alsfrs"]
    extra = pd.DataFrame(
        {
            "person_id": [1, 2],
            "visit_date": pd.to_datetime(["2020-04-01", "2021-06-01"]),
            "alsfrs_r_total": pd.array([36, 43], dtype="Int64"),
        }
    )
    tiny_registry.tables["alsfrs"] = pd.concat([alsfrs, extra], ignore_index=True)
    visits = alsfrs_visits(tiny_registry.tables["alsfrs"]).set_index(["person_id", "visit_date"])
    assert visits.loc[(1, _d("2020-04-01")), "alsfrs_r_total"] == 36.5  # (37 + 36) / 2
    assert visits.loc[(1, _d("2020-04-01")), "assessments"] == 2
    data = build_alsfrs_data(tiny_registry, tiny_exposures).set_index(["person_id", "visit"])
    assert data.loc[(1, 1), "score"] == 36.5 and data.loc[(2, 0), "score"] == 43.5
    assert data.loc[(1, 0), "n_visits"] == 3  # still three visits, one of them averaged
    selection = data.attrs["selection"]
    assert selection["visits_in_register"] == 16 and selection["same_day_assessments_merged"] == 2
    assert selection["visits_kept"] == 6
    dropped = sum(
        v
        for k, v in selection.items()
        if k not in {"visits_in_register", "visits_kept", "patients_kept", "cases_without_kept_visits"}
    )
    assert selection["visits_in_register"] - dropped == selection["visits_kept"]


def test_describe_visits_by_hand(tiny_registry, tiny_exposures):
    data = build_alsfrs_data(tiny_registry, tiny_exposures)
    table = describe_visits(data, by="antidepressants")
    assert table.loc["patients", "all"] == 4
    assert table.loc["visits", "all"] == 6
    assert table.loc["visits per patient, median", "all"] == 1.0
    assert table.loc["patients with one visit, %", "all"] == 75.0
    # Patient 1 (the only antidepressant user with several visits): gaps of 91 and 91 days.
    assert table.loc["days between visits, median", "users"] == pytest.approx(91.0)
    assert table.loc["score at diagnosis, mean", "all"] == pytest.approx((40 + 44 + 38 + 30) / 4)
    assert table.loc["score at diagnosis, mean", "users"] == pytest.approx((40 + 38) / 2)
    assert table.loc["score at diagnosis, published mean", "all"] == 36.1
    slopes = person_ols_slopes(data)
    assert slopes["person_id"].tolist() == [1]
    t = np.array([0, 91, 182]) / 30.4375
    assert slopes["slope"].iloc[0] == pytest.approx(np.polyfit(t, [40, 37, 33], 1)[0])


# --------------------------------------------------------------------------- committed data


@pytest.fixture(scope="module")
def paper_data() -> pd.DataFrame:
    registry = read_registry(SYNTHETIC_DIR)
    return build_alsfrs_data(registry, case_exposures(registry))


@pytest.fixture(scope="module")
def paper_fit(paper_data) -> AlsfrsMixedResult:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fit must not warn (ConvergenceWarning, ...)
        return AlsfrsMixedModel().fit(paper_data)


def test_committed_data_keeps_every_visit(paper_data):
    registry_visits = len(read_registry(SYNTHETIC_DIR)["alsfrs"])
    assert len(paper_data) == registry_visits == paper_data.attrs["selection"]["visits_kept"]
    assert paper_data["person_id"].nunique() == 1057
    assert (paper_data.loc[paper_data["visit"] == 0, "months"] == 0).all()
    assert (paper_data["months"] <= paper_data["followup_months"] + 1e-9).all()


def test_fit_is_consistent(paper_fit):
    result = paper_fit
    assert result.converged
    assert result.n_obs == 7584 and result.n_groups == 1057
    slopes = result.group_slopes().set_index(["drug_class", "group"])
    p, cov = result.params, result.cov_params()
    users = slopes.loc[("antidepressants", "users")]
    assert users["estimate"] == pytest.approx(p["months"] + p["antidepressants:months"], abs=1e-12)
    var = (
        cov.loc["months", "months"]
        + cov.loc["antidepressants:months", "antidepressants:months"]
        + 2 * cov.loc["months", "antidepressants:months"]
    )
    assert users["se"] == pytest.approx(np.sqrt(var), rel=1e-12)
    assert users["ci_upper"] - users["estimate"] == pytest.approx(Z_975 * users["se"], rel=1e-9)
    # The mean line at t = 0 for the reference profile is a linear combination of the fixed effects.
    typical = result.typical_covariates()
    line = result.predict_mean([0.0, 12.0])
    expected = p["Intercept"] + sum(p[c] * v for c, v in typical.items())
    assert line["mean"].iloc[0] == pytest.approx(expected, abs=1e-10)
    assert line["mean"].iloc[1] - line["mean"].iloc[0] == pytest.approx(12 * p["months"], abs=1e-10)
    # Residuals: conditional residuals average zero; BLUPs average (about) zero.
    resid = result.residuals()
    assert abs(resid["residual"].mean()) < 0.05
    assert abs(result.random_effects["months"].mean()) < 0.01
    frame = result.to_frame()
    assert list(frame.columns) == list(MIXED_MODEL_RESULT_COLUMNS)
    assert set(frame["kind"]) == {"fixed_effect", "slope", "variance_component", "fit_statistic"}
    assert "converged: yes" in result.summary()
    assert result.warnings == [] and result.not_estimable == {} and frame["estimable"].all()
    # The shared vocabulary (alsmeds.models.base): the fixed-effect rows of the results layout are its Wald table.
    wald = result.wald_table()
    assert list(wald.columns) == ["estimate", "se", "z", "p_value", "ci_lower", "ci_upper"]  # linear: no ratios
    fixed = frame[frame["kind"] == "fixed_effect"].set_index("term")
    for col in ("estimate", "se", "ci_lower", "ci_upper", "p_value"):
        np.testing.assert_allclose(fixed[col].to_numpy(), wald[col].to_numpy(), rtol=1e-12, atol=0)
    np.testing.assert_array_equal(result.pvalues.to_numpy(), wald["p_value"].to_numpy())
    assert (result.conf_int(0.10)["upper"] < wald["ci_upper"]).all()


def test_fit_is_deterministic_and_unit_free(paper_data):
    ids = np.sort(paper_data["person_id"].unique())[:250]
    small = paper_data[paper_data["person_id"].isin(ids)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = AlsfrsMixedModel().fit(small)
        b = AlsfrsMixedModel().fit(small.sample(frac=1.0, random_state=1))  # row order must not matter
        c = AlsfrsMixedModel(time_unit_months=6.0).fit(small)
    assert a.warnings == b.warnings == c.warnings == []
    pd.testing.assert_series_equal(a.params, b.params, check_exact=True)
    assert a.llf == b.llf
    # Another time unit inside the optimiser: the same optimum (to the optimiser's precision, far
    # below rounding of the written results), reported in months.
    np.testing.assert_allclose(a.params, c.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(a.bse, c.bse, rtol=1e-8)
    np.testing.assert_allclose(a.variance_components(), c.variance_components(), rtol=1e-8)
    np.testing.assert_allclose(a.random_effects, c.random_effects, rtol=1e-7, atol=1e-9)
    assert a.llf == pytest.approx(c.llf, rel=1e-12)


def test_random_slope_beats_random_intercept(paper_data):
    ids = np.sort(paper_data["person_id"].unique())[:400]
    small = paper_data[paper_data["person_id"].isin(ids)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        comparison = compare_random_effects(small).set_index("model")
    full, reduced = comparison.loc["random_intercept_slope"], comparison.loc["random_intercept"]
    assert comparison["converged"].all() and comparison["estimable"].all()
    assert full["n_params"] == reduced["n_params"] + 2
    assert full["lr_statistic"] == pytest.approx(2 * (full["log_likelihood"] - reduced["log_likelihood"]))
    assert full["aic"] < reduced["aic"]
    assert full["p_mixture"] <= full["p_chi2"] < 1e-6
    # The boundary mixture: half chi-square(1), half chi-square(2); smaller than the naive chi-square(2).
    assert boundary_lr_pvalue(3.0) == pytest.approx(0.5 * 0.08326451666355039 + 0.5 * 0.22313016014842982)
    assert boundary_lr_pvalue(5.99146) < 0.05 and boundary_lr_pvalue(0.0) == 1.0
    rows = random_effects_comparison_rows(comparison.reset_index(), 1, 1)
    assert list(rows.columns) == list(MIXED_MODEL_RESULT_COLUMNS)


def test_terms_the_data_cannot_estimate_are_reported_and_the_rest_fitted(paper_data):
    ids = np.sort(paper_data["person_id"].unique())[:300]
    small = paper_data[paper_data["person_id"].isin(ids)].copy()
    small["hypnotics"] = 0  # nobody used hypnotics
    small["male"] = 1  # everyone is a man
    small["antidepressants"] = small["anxiolytics"]  # aliased with anxiolytics
    result = AlsfrsMixedModel().fit(small)
    assert result.not_estimable == {
        "hypnotics": "no users of hypnotics among the patients with visits",
        "antidepressants": "aliased with anxiolytics",
        "hypnotics:months": "no users of hypnotics among the patients with visits",
        "antidepressants:months": "aliased with anxiolytics:months",
        "male": "male is the same for every patient",
    }
    assert list(result.params.index) == [
        "Intercept", "months", "anxiolytics", "anxiolytics:months", "age_per_decade", "bulbar"
    ]  # fmt: skip
    slopes = result.group_slopes().set_index(["drug_class", "group"])
    assert slopes.loc[("anxiolytics", "difference"), "estimable"]
    assert slopes.loc[("hypnotics", "reference"), "estimable"]  # the reference slope is always there
    row = slopes.loc[("hypnotics", "difference")]
    assert not row["estimable"] and np.isnan(row["estimate"]) and row["reason"].startswith("no users of hypnotics")
    frame = result.to_frame()
    assert list(frame.columns) == list(MIXED_MODEL_RESULT_COLUMNS)
    assert set(frame.loc[~frame["estimable"].astype(bool), "term"]) >= set(result.not_estimable)
    assert "Not estimable" in result.summary()
    line = result.predict_mean([0.0, 12.0], exposures={"anxiolytics": 1})
    assert np.isfinite(line["mean"]).all()


def test_a_model_that_cannot_be_fitted_says_why(paper_data):
    at_diagnosis = paper_data[paper_data["visit"] == 0]
    with pytest.raises(MixedModelError, match="no visit after diagnosis"):
        AlsfrsMixedModel().fit(at_diagnosis)
    one = paper_data[paper_data["person_id"] == paper_data["person_id"].iloc[0]]
    with pytest.raises(MixedModelError, match="needs several"):
        AlsfrsMixedModel().fit(one)
    few = paper_data[paper_data["person_id"].isin(np.sort(paper_data["person_id"].unique())[:2])]
    few = few[few["visit"] < 2]  # four visits
    with pytest.raises(MixedModelError, match="visits for"):
        AlsfrsMixedModel().fit(few)
    comparison = compare_random_effects(at_diagnosis)
    assert not comparison["estimable"].any() and comparison["lr_statistic"].isna().all()
    rows = random_effects_comparison_rows(comparison, 0, 0)
    assert not rows["estimable"].any() and rows["reason"].str.contains("no visit after diagnosis").all()


# --------------------------------------------------------------------------- R nlme::lme


def _assert_agrees(ours: AlsfrsMixedResult, ref: RLmeResult) -> None:
    assert ref.warnings == []
    assert (ref.n_obs, ref.n_groups) == (ours.n_obs, ours.n_groups)
    pd.testing.assert_index_equal(ref.params.index, ours.params.index)
    assert np.max(np.abs(ours.params - ref.params)) < R_ATOL
    assert np.max(np.abs(ours.bse - ref.bse)) < R_ATOL
    pd.testing.assert_index_equal(ref.variance_components.index, ours.variance_components().index)
    assert np.max(np.abs(ours.variance_components() - ref.variance_components)) < R_ATOL
    assert abs(ours.llf - ref.llf) < R_ATOL


def test_agrees_with_nlme_reml(needs_r, paper_data, paper_fit):
    """Random intercept and slope, REML: the main model of notebook 06."""
    _assert_agrees(paper_fit, r_lme(paper_data))


def test_agrees_with_nlme_ml_random_intercept(needs_r, paper_data):
    """Random intercept only, ML: the comparison model (another code path: k = 1, no REML term)."""
    model = AlsfrsMixedModel(random_slope=False, reml=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = model.fit(paper_data)
    _assert_agrees(ours, r_lme(paper_data, model))


# --------------------------------------------------------------------------- planted truth

#: 2.5 x the paper's sample (2,640 cases).  A fit takes well under a second at this size
#: (:mod:`alsmeds.models.lmm`); generating the data is most of the test's time.
TRUTH_SCALE = 2.5
TRUTH_SEED = 7


@pytest.mark.slow
def test_slope_recovery_and_dropout_bias():
    """The planted slopes, with and without informative dropout.

    Informative dropout: the hazard of death or ventilation rises as the true score falls,
    so fast decliners leave early.  Measured with this module's functions on five
    simulations at 5 x the paper's sample (seeds 1-5, 5,285 patients each; fits compared
    with the complete latent trajectories of the same patients):

    ============================  ================  =======================
    data                          reference slope   antidepressant difference
    ============================  ================  =======================
    planted                       -0.90             -0.25
    complete latent (36 months)   -0.001 (0.001)    -0.000 (0.003)
    same rows, cut at follow-up   +0.015 (0.002)    +0.009 (0.015)
    latent at observed visits     +0.018 (0.005)    +0.003 (0.018)
    observed scores               +0.035 (0.003)    +0.012 (0.011)
    ============================  ================  =======================

    (mean shift over the five seeds, SD across seeds in brackets; SEs of the estimates at
    this size 0.011 and 0.023).  Dropout flattens the reference slope by about 0.015
    points/month in every seed; the 0-48 floor and ceiling and rounding double that.  The
    antidepressant difference moves by about 0.01 (5%), less than half its SE at 5 x and
    within the Monte Carlo noise for dropout alone.

    So the test checks (1) recovery from complete latent trajectories (no dropout, no floor
    or ceiling: the model is correctly specified) within 3 SE of the planted values, and
    against this sample's own true slopes; (2) that dropout makes the reference slope
    shallower than the complete-data estimate of the same patients (common random numbers:
    the two data sets differ only in the visits after follow-up ended; at 5 x the shift was
    about 6 times its seed-to-seed SD, so about 4 times at this size).  The observed scores
    are not tested against the truth here: the reference slope's bias is known (+0.035,
    more than 3 SE from 10 x the paper's sample on), and the difference's (about +0.01) is
    too small to test at a size that fits in a minute; notebook 06 shows them beside the
    planted values.
    """
    from alsmeds.simulate import generate

    registry = generate(seed=TRUTH_SEED, scale=TRUTH_SCALE, truth_scale=0)
    planted = registry.truth["estimands"]["prognosis"]["alsfrs_slope_per_month"]
    cases = registry.people[registry.people["role"] == "case"]
    windows = {f"cat_{k}": (cases[f"window_{k}"] != "never").astype(int) for k in CLASSES}
    exposures = pd.DataFrame({"person_id": cases["person_id"], **windows})
    data = build_alsfrs_data(registry, exposures)
    effects = true_person_effects(registry.people)
    sample = latent_slope_regression(data, effects)
    model = AlsfrsMixedModel()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        complete_data = latent_complete_trajectories(data, effects, horizon_months=36, every_months=3, seed=1)
        complete = model.fit(complete_data)
        dropout = model.fit(cut_at_follow_up(complete_data))

    truth = {"months": planted["non_users_of_antidepressants"], "antidepressants:months": planted["difference"]}
    for term, value in truth.items():
        z = (complete.params[term] - value) / complete.bse[term]
        assert abs(z) < 3, f"{term}: {complete.params[term]:.4f} vs planted {value} (z = {z:.2f})"
        # Given the true slopes only the visit noise is left: the complete-data estimate tracks this
        # sample's true slopes far more closely than its SE (which includes their spread).
        assert abs(complete.params[term] - sample[term]) < complete.bse[term]
    for k in ("anxiolytics", "hypnotics"):  # no planted slope difference
        assert abs(complete.params[f"{k}:months"] / complete.bse[f"{k}:months"]) < 3

    bias = dropout.params["months"] - complete.params["months"]
    assert bias > 0, f"dropout should flatten the reference slope; shift {bias:.4f}"


def test_committed_numbers_of_notebook_06(paper_data, paper_fit):
    """The numbers notebook 06 shows at full precision (its checked cells round them or are not checked)."""
    slopes = paper_fit.group_slopes().set_index(["drug_class", "group"])
    assert slopes.loc[("antidepressants", "reference"), "estimate"] == pytest.approx(-0.9080, abs=5e-4)
    assert slopes.loc[("antidepressants", "difference"), "estimate"] == pytest.approx(-0.1520, abs=5e-4)
    assert slopes.loc[("antidepressants", "difference"), "se"] == pytest.approx(0.0523, abs=5e-4)
    vc = paper_fit.variance_components()
    assert vc["intercept_sd"] == pytest.approx(6.58, abs=0.005) and vc["slope_sd"] == pytest.approx(0.56, abs=0.005)
    assert vc["residual_sd"] == pytest.approx(2.12, abs=0.005)
    diagnostics = paper_fit.residual_diagnostics()
    assert "residual mean" not in diagnostics.index  # zero by construction: its sign is rounding noise
    assert abs(paper_fit.residuals()["residual"].mean()) < 1e-9
    assert diagnostics["share of visits at 48"] * len(paper_data) == pytest.approx(591)
    assert diagnostics["excess kurtosis"] == pytest.approx(0.645, abs=1e-3)
    comparison = compare_random_effects(paper_data).set_index("model")
    assert comparison["converged"].all()
    assert comparison.loc["random_intercept", "log_likelihood"] == pytest.approx(-25964.36, abs=0.05)
    assert comparison.loc["random_intercept_slope", "log_likelihood"] == pytest.approx(-19838.02, abs=0.05)
    assert comparison.loc["random_intercept_slope", "lr_statistic"] == pytest.approx(12252.67, abs=0.1)
    assert comparison.loc["random_intercept_slope", "aic"] == pytest.approx(39706.04, abs=0.1)
    # Dropout scenario 1 (complete latent trajectories) and this sample's true slopes.
    people = pd.read_csv(SYNTHETIC_DIR / "truth_people.csv")
    effects = true_person_effects(people)
    scenarios = dropout_scenarios(paper_data, people, observed=paper_fit).set_index(["scenario", "term"])
    assert list(scenarios.index.get_level_values("scenario").unique()) == list(DROPOUT_SCENARIOS)
    first = scenarios.loc[DROPOUT_SCENARIOS[0]]
    assert (first["visits"] == 13741).all()
    assert first.loc["months", "estimate"] == pytest.approx(-0.9255, abs=5e-4)
    assert first.loc["antidepressants:months", "estimate"] == pytest.approx(-0.1783, abs=5e-4)
    observed = scenarios.loc[DROPOUT_SCENARIOS[3]]  # the fit passed in, not refitted
    assert observed.loc["months", "estimate"] == paper_fit.params["months"]
    assert observed.loc["months", "visits"] == paper_fit.n_obs
    sample = latent_slope_regression(paper_data, effects)
    assert sample["months"] == pytest.approx(-0.9241, abs=5e-4)
    assert sample["antidepressants:months"] == pytest.approx(-0.1779, abs=5e-4)
    by_followup = slopes_by_followup(person_ols_slopes(paper_data))
    ratio = (
        by_followup.loc["event within 12 months", "mean_slope"] / by_followup.loc["no event (censored)", "mean_slope"]
    )
    assert 1.5 < ratio < 3.0  # "about twice as fast" in the notebook's text on the committed data


def test_dropout_scenarios_report_bias_against_the_sample_and_its_monte_carlo_error(paper_data):
    """Replicate 0 is the single-replicate result; the bias is the mean error over noise redraws, with its MC SE."""
    ids = np.sort(paper_data["person_id"].unique())[:250]
    small = paper_data[paper_data["person_id"].isin(ids)]
    people = pd.read_csv(SYNTHETIC_DIR / "truth_people.csv")
    observed = AlsfrsMixedModel().fit(small)
    one = dropout_scenarios(small, people, observed=observed).set_index(["scenario", "term"])
    three = dropout_scenarios(small, people, observed=observed, replicates=3).set_index(["scenario", "term"])
    pd.testing.assert_frame_equal(one[["visits", "estimate", "se"]], three[["visits", "estimate", "se"]])
    sample = latent_slope_regression(small, true_person_effects(people))  # the model's three slope terms
    for (scenario, term), row in one.iterrows():
        assert row["sample_value"] == pytest.approx(sample[term], abs=1e-12)
        assert row["bias"] == pytest.approx(row["estimate"] - sample[term], abs=1e-12), scenario
    assert one["mc_se"].isna().all() and (one["replicates"] == 1).all()
    assert (three["mc_se"] > 0).all() and (three["replicates"] == 3).all()
    assert not np.allclose(three["bias"], one["bias"]), "the replicates redraw the noise"
    with pytest.raises(ValueError, match="replicates"):
        dropout_scenarios(small, people, observed=observed, replicates=0)


def test_rounded_and_clipped_scores_are_whole_points_on_the_scale(paper_data):
    people = pd.read_csv(SYNTHETIC_DIR / "truth_people.csv")
    latent = latent_at_observed_visits(paper_data, true_person_effects(people), seed=3)
    recorded = rounded_and_clipped(latent)["score"]
    assert latent["score"].min() < 0 or latent["score"].max() > 48, "the latent line leaves the scale somewhere"
    assert recorded.between(0, 48).all() and (recorded == recorded.round()).all()
    inside = latent["score"].between(0.5, 47.5)
    assert (recorded[inside] - latent.loc[inside, "score"]).abs().max() <= 0.5


def test_summary_tables_name_every_fixed_effect_and_variance_component(paper_fit):
    fixed = paper_fit.fixed_effects_table()
    wald = paper_fit.wald_table()
    assert list(fixed["term"]) == list(wald.index)
    np.testing.assert_array_equal(fixed["estimate"].to_numpy(), wald["estimate"].to_numpy())
    np.testing.assert_array_equal(fixed["ci_upper"].to_numpy(), wald["ci_upper"].to_numpy())
    assert fixed.index.is_unique and not any("_" in name or name in wald.index for name in fixed.index)
    row = fixed.set_index("term").loc["antidepressants:months"]
    assert row["unit"] == "points/month"
    assert fixed_effect_label("antidepressants:months") == "Antidepressants users: slope difference"
    vc = paper_fit.variance_components_table()
    np.testing.assert_array_equal(vc["estimate"].to_numpy(), paper_fit.variance_components().to_numpy())
    assert list(vc["unit"]) == ["points", "points/month", "", "points"]


def test_planted_lines_unlike_als_are_counted_once_for_every_notebook():
    """Notebooks 01, 06 and 07 print these shares from one function (the committed draw: 67 of 1,057 rise)."""
    import pandas as pd

    from alsmeds.paths import SYNTHETIC_DIR
    from alsmeds.simulate.dropout import planted_trajectory_shares

    people = pd.read_csv(SYNTHETIC_DIR / "truth_people.csv")
    shares = planted_trajectory_shares(people)
    cases = people[people["role"] == "case"]
    assert shares.attrs["n"] == len(cases) == 1057
    assert shares.loc["rising", "cases"] == int((cases["alsfrs_slope_per_month"] > 0).sum()) == 67
    assert shares.loc["above_48_at_diagnosis", "cases"] == int((cases["alsfrs_intercept"] > 48).sum())
    assert shares.loc["rising", "share"] == pytest.approx(67 / 1057)
    assert shares.loc["rising_over_4_per_year", "cases"] <= shares.loc["rising", "cases"]
