"""Survival after diagnosis: data rules, agreement with R, and recovery of the implied Cox estimands.

* Hand-made registries check each rule of :func:`alsmeds.derive.survival_data.build_survival_data`
  (event, censoring at the end of follow-up and at emigration, ventilation before death,
  baseline ALSFRS-R) and the small helpers (quantiles, RMST).
* On the committed data, the study's Cox fits (the bundle's engine,
  :mod:`alsmeds.models.cox_engine`) must agree with R ``survival::coxph(..., robust = TRUE)``
  (Efron ties) to 1e-8 in coefficients, model-based and robust (sandwich) standard errors
  and the partial log-likelihood, their proportional-hazards tests and scaled Schoenfeld
  residuals with R ``cox.zph`` to 1e-8, and the Kaplan-Meier estimates with R ``survfit`` to
  1e-8.  Without R the module's R tests are skipped, except under CI (``CI`` set), where a
  missing R is a broken install and must fail.  lifelines' ``CoxPHFitter`` is a second
  reference, without R: coefficients within 1e-6.
* At 20 times the paper's sample (register rows -> analysis table -> survival data), the
  Cox log hazard ratios must lie within 3 standard errors (estimate SE and Monte Carlo SE
  combined) of the total effects implied by the planted joint model
  (:mod:`alsmeds.estimands.cox`), and the observed follow-up must match the
  published one.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from alsmeds.constants import CLASSES
from alsmeds.data.registry import Registry, read_registry
from alsmeds.derive.cohort import case_exposures
from alsmeds.derive.survival_data import SURVIVAL_DATA_COLUMNS, build_survival_data
from alsmeds.models.base import Z_975
from alsmeds.models.cox import (
    ADJUSTMENT,
    TERM_LABELS,
    cox_design,
    cox_table,
    fit_cox,
    fit_cox_models,
    scaled_schoenfeld,
)
from alsmeds.models.km import (
    followup_summary,
    km_by_use,
    km_survival_at_event_times,
    logrank_by_use,
    median_survival,
    rmst,
    rmst_by_use,
)
from alsmeds.paths import SYNTHETIC_DIR
from alsmeds.published import PUBLISHED_FOLLOWUP_YEARS
from alsmeds.reference.coxph import CoxphSpec, r_coxph

#: Agreement with R coxph (coefficients, model-based and robust SEs, log-likelihood, cox.zph) and survfit.
COX_ATOL = 1e-8
KM_ATOL = 1e-8
#: Agreement with lifelines' CoxPHFitter (tight Newton settings), the second reference.
LIFELINES_ATOL = 1e-6
#: Large-scale recovery: data scale, data seed, scale and seed of the implied estimands.
LARGE_SCALE = 20
LARGE_SEED = 2027
TRUTH_SCALE = 40
TRUTH_SEED = 4242


# ----------------------------------------------------------------------------------------------------------------
# Hand-made registries
# ----------------------------------------------------------------------------------------------------------------

END = date(2023, 12, 31)
D = pd.Timestamp


def _registry(cases: list[dict], outcomes: list[tuple], visits: list[tuple]) -> Registry:
    """A minimal registry: one dict per case (id, diagnosis, optional death, emigration, sex, birth, onset, delay)."""
    persons = pd.DataFrame(
        {
            "person_id": [c["id"] for c in cases],
            "birth_date": [D(c.get("birth", "1950-01-01")) for c in cases],
            "sex": [c.get("sex", "male") for c in cases],
            "death_date": pd.to_datetime([c.get("death") for c in cases]),
            "emigration_date": pd.to_datetime([c.get("emigration") for c in cases]),
        }
    )
    als = pd.DataFrame(
        {
            "person_id": [c["id"] for c in cases],
            "diagnosis_date": [D(c["diagnosis"]) for c in cases],
            "onset_site": [c.get("onset", "spinal") for c in cases],
            "diagnostic_delay_months": [c.get("delay", 10.0) for c in cases],
        }
    )
    out = pd.DataFrame(outcomes, columns=["person_id", "event", "event_date"])
    out["event_date"] = pd.to_datetime(out["event_date"])
    alsfrs = pd.DataFrame(visits, columns=["person_id", "visit_date", "alsfrs_r_total"])
    alsfrs["visit_date"] = pd.to_datetime(alsfrs["visit_date"])
    tables = {"persons": persons, "als_cases": als, "outcomes": out, "alsfrs": alsfrs}
    return Registry(tables=tables, metadata={"end_of_follow_up": END}, data_dir=SYNTHETIC_DIR)


def _exposures(ids, codes=None) -> pd.DataFrame:
    codes = codes or {}
    return pd.DataFrame({"person_id": ids, **{f"cat_{k}": [codes.get((i, k), 0) for i in ids] for k in CLASSES}})


def _years(a: str, b: str | date) -> float:
    return (D(b) - D(a)).days / 365.25


@pytest.fixture(scope="module")
def hand_made() -> pd.DataFrame:
    cases = [
        {"id": 1, "diagnosis": "2020-01-10", "death": "2021-03-01", "birth": "1955-01-10", "sex": "female"},
        {"id": 2, "diagnosis": "2022-05-01"},  # no event: censored at the end of follow-up
        # death after emigration: censored at emigration
        {"id": 3, "diagnosis": "2019-02-01", "emigration": "2020-02-01", "death": "2020-08-01"},
        {"id": 4, "diagnosis": "2018-06-15", "death": "2019-09-01"},  # ventilated 2019-01-20, died later
        {"id": 5, "diagnosis": "2023-03-01", "onset": "bulbar"},  # ventilation recorded after the end of follow-up
        {"id": 6, "diagnosis": "2017-01-01", "emigration": "2018-01-01", "death": "2018-01-01"},  # event on that day
        {"id": 7, "diagnosis": "2016-04-01", "emigration": "2010-05-05"},  # emigrated and returned before diagnosis
        {"id": 8, "diagnosis": "2021-07-07", "death": "2022-01-01"},  # death only in the persons table
        {"id": 9, "diagnosis": "2020-10-10"},  # died on the diagnosis day, in outcomes only
    ]
    outcomes = [
        (1, "death", "2021-03-01"),
        (3, "death", "2020-08-01"),
        (4, "invasive_ventilation", "2019-01-20"),
        (4, "death", "2019-09-01"),
        (5, "invasive_ventilation", "2024-02-01"),
        (6, "death", "2018-01-01"),
        (9, "death", "2020-10-10"),
    ]
    visits = [
        (1, "2020-01-10", 40),  # on the diagnosis date ...
        (1, "2020-01-20", 30),  # ... wins over a later visit
        (2, "2022-05-21", 35),  # day 20: first within 30 days
        (2, "2022-08-01", 30),
        (3, "2019-03-04", 33),  # day 31: too late, baseline missing
        (4, "2018-07-15", 28),  # day 30: still baseline
        (5, "2023-03-01", 44),
        (6, "2017-01-01", 41),
        (7, "2016-04-01", 39),
        (8, "2021-07-07", 37),
        (9, "2020-10-10", 20),
    ]
    codes = {(1, "anxiolytics"): 3, (2, "hypnotics"): 1, (4, "antidepressants"): 2}
    return build_survival_data(_registry(cases, outcomes, visits), _exposures(list(range(1, 10)), codes))


def test_event_before_end_of_follow_up(hand_made):
    row = hand_made.set_index("person_id").loc[1]
    assert row["event"] == 1 and row["status"] == "death"
    assert row["time"] == pytest.approx(_years("2020-01-10", "2021-03-01"), abs=1e-12)
    assert row["end_date"] == D("2021-03-01")
    assert row["age"] == pytest.approx(_years("1955-01-10", "2020-01-10"))
    assert row["male"] == 0


def test_censoring_at_end_of_follow_up(hand_made):
    data = hand_made.set_index("person_id")
    for pid, diagnosis in ((2, "2022-05-01"), (7, "2016-04-01")):
        row = data.loc[pid]
        assert row["event"] == 0 and row["status"] == "end_of_follow_up"
        assert row["time"] == pytest.approx(_years(diagnosis, END), abs=1e-12)
    # An event after the end of follow-up is not seen.
    row = data.loc[5]
    assert row["event"] == 0 and row["status"] == "end_of_follow_up"
    assert row["time"] == pytest.approx(_years("2023-03-01", END), abs=1e-12)


def test_emigration_censoring(hand_made):
    data = hand_made.set_index("person_id")
    row = data.loc[3]
    assert row["event"] == 0 and row["status"] == "emigration"
    assert row["time"] == pytest.approx(_years("2019-02-01", "2020-02-01"), abs=1e-12)
    # An event on the day of emigration counts.
    row = data.loc[6]
    assert row["event"] == 1 and row["status"] == "death"
    assert row["time"] == pytest.approx(_years("2017-01-01", "2018-01-01"), abs=1e-12)


def test_ventilation_then_death_counts_the_ventilation(hand_made):
    row = hand_made.set_index("person_id").loc[4]
    assert row["event"] == 1 and row["status"] == "invasive_ventilation"
    assert row["end_date"] == D("2019-01-20")
    assert row["time"] == pytest.approx(_years("2018-06-15", "2019-01-20"), abs=1e-12)


def test_death_from_either_source_and_on_the_diagnosis_day(hand_made):
    data = hand_made.set_index("person_id")
    assert data.loc[8, "status"] == "death" and data.loc[8, "time"] == pytest.approx(_years("2021-07-07", "2022-01-01"))
    assert data.loc[9, "event"] == 1 and data.loc[9, "time"] == 0.0


def test_baseline_alsfrs_rule(hand_made):
    data = hand_made.set_index("person_id")
    assert data.loc[1, "alsfrs_baseline"] == 40 and data.loc[1, "alsfrs_baseline_day"] == 0
    assert data.loc[2, "alsfrs_baseline"] == 35 and data.loc[2, "alsfrs_baseline_day"] == 20
    assert np.isnan(data.loc[3, "alsfrs_baseline"]) and pd.isna(data.loc[3, "alsfrs_baseline_day"])
    assert data.loc[4, "alsfrs_baseline"] == 28 and data.loc[4, "alsfrs_baseline_day"] == 30


def test_covariates_and_exposure(hand_made):
    data = hand_made.set_index("person_id")
    assert data.loc[5, "bulbar"] == 1 and data.loc[5, "onset_site"] == "bulbar" and data.loc[1, "bulbar"] == 0
    # Any qualifying use before diagnosis, whatever the window.
    assert data.loc[1, "use_anxiolytics"] == 1 and data.loc[1, "cat_anxiolytics"] == 3
    assert data.loc[2, "use_hypnotics"] == 1 and data.loc[4, "use_antidepressants"] == 1
    assert int(data[[f"use_{k}" for k in CLASSES]].to_numpy().sum()) == 3
    assert list(hand_made.columns) == list(SURVIVAL_DATA_COLUMNS)
    # The Cox design drops the case with no baseline ALSFRS-R.
    design, dropped = cox_design(hand_made, ["use_anxiolytics"])
    assert dropped == 1 and len(design) == len(hand_made) - 1


def test_missing_exposure_is_an_error():
    registry = _registry([{"id": 1, "diagnosis": "2020-01-01"}], [], [])
    with pytest.raises(ValueError, match="without exposure"):
        build_survival_data(registry, _exposures([2]))


def test_case_exposures_are_one_function_for_every_case_and_the_table_is_refused(paper_table):
    registry = read_registry(SYNTHETIC_DIR)
    exposures = case_exposures(registry)
    assert len(exposures) == len(registry["als_cases"]) and exposures["person_id"].is_unique
    # Equal to the case rows of every comparison of the analysis table (assessed at the same index date).
    cats = [f"cat_{k}" for k in CLASSES]
    for _, rows in paper_table[paper_table["case"] == 1].groupby("comparison"):
        merged = rows[["person_id", *cats]].merge(exposures, on="person_id", suffixes=("", "_all"))
        assert len(merged) == len(rows)
        for c in cats:
            assert (merged[c] == merged[f"{c}_all"]).all()
    with pytest.raises(ValueError, match="case_exposures"):
        build_survival_data(registry, paper_table)


def test_same_day_assessments_are_averaged_for_the_baseline():
    cases = [{"id": 1, "diagnosis": "2020-01-10"}, {"id": 2, "diagnosis": "2020-01-10"}]
    visits = [
        (1, "2020-01-10", 40),
        (1, "2020-01-10", 37),  # same day: averaged to 38.5
        (1, "2020-04-10", 30),
        (2, "2020-01-15", 35),
        (2, "2020-01-15", 35),
    ]
    data = build_survival_data(_registry(cases, [], visits), _exposures([1, 2])).set_index("person_id")
    assert data.loc[1, "alsfrs_baseline"] == 38.5 and data.loc[1, "alsfrs_baseline_day"] == 0
    assert data.loc[2, "alsfrs_baseline"] == 35.0 and data.loc[2, "alsfrs_baseline_day"] == 5


def _toy_survival(n: int = 60, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "time": rng.exponential(2.0, n),
            "event": (rng.random(n) < 0.7).astype(int),
            "status": "death",
            "age": rng.normal(65, 10, n),
            "male": rng.integers(0, 2, n),
            "bulbar": rng.integers(0, 2, n),
            "diagnostic_delay_months": rng.gamma(3.0, 4.0, n),
            "alsfrs_baseline": rng.normal(37, 6, n).round(),
        }
    )
    for k in CLASSES:
        data[f"use_{k}"] = rng.integers(0, 2, n)
    return data


def test_cox_reports_terms_it_cannot_estimate_and_fits_the_rest():
    data = _toy_survival()
    data["use_hypnotics"] = 0  # nobody used hypnotics
    data["bulbar"] = 1  # everyone had bulbar onset
    users = data["use_antidepressants"] == 1
    data.loc[users, "event"] = 0  # no event among antidepressant users: monotone likelihood
    fits = fit_cox_models(data)
    table = cox_table(fits)
    per_class = table[(table["model"] == "per_class") & table["is_exposure"]].set_index("term")
    assert per_class.loc["use_anxiolytics", "estimable"]
    assert np.isfinite(per_class.loc["use_anxiolytics", "hazard_ratio"])
    row = per_class.loc["use_hypnotics"]
    assert not row["estimable"] and row["reason"] == "no users of hypnotics" and np.isnan(row["hazard_ratio"])
    assert per_class.loc["use_antidepressants", "reason"].startswith("no event among users")
    mutual = table[table["model"] == "mutual"].set_index("term")
    assert mutual.loc["use_anxiolytics", "estimable"] and not mutual.loc["use_hypnotics", "estimable"]
    assert mutual.loc["bulbar", "reason"] == "bulbar is the same for every case"
    assert fits[-1].estimable and "bulbar" not in fits[-1].params.index and fits[-1].warnings == []


def test_cox_model_without_events_or_estimable_exposure_is_reported_with_its_reason():
    data = _toy_survival()
    no_events = fit_cox(data.assign(event=0), ["use_anxiolytics"])
    assert not no_events.estimable and no_events.reason == "no events"
    frame = no_events.to_frame()
    assert frame["term"].tolist()[0] == "use_anxiolytics" and not frame["estimable"].any()
    with pytest.raises(ValueError, match="no events"):
        scaled_schoenfeld(no_events)
    nobody = fit_cox(data.assign(use_anxiolytics=0), ["use_anxiolytics"])
    assert nobody.reason == "no exposure term can be estimated"
    assert nobody.to_frame().set_index("term").loc["use_anxiolytics", "reason"] == "no users of anxiolytics"


def test_cox_model_without_any_baseline_score_names_the_missing_covariate_not_the_exposures():
    """An extract without ALSFRS-R visits: every case lacks the baseline score (issue 21).

    The reason of every term is the missing covariate, not "no users" (there are users)."""
    data = _toy_survival().assign(alsfrs_baseline=np.nan)
    assert (data["use_anxiolytics"] == 1).sum() > 0
    fits = fit_cox_models(data)
    for fit in fits:
        assert not fit.estimable and fit.n == 0
        assert fit.reason.startswith("no case has ALSFRS-R at diagnosis (missing for all 60 cases)"), fit.reason
        reasons = set(fit.to_frame()["reason"])
        assert reasons == {fit.reason}, reasons
    without = fit_cox(data, ["use_anxiolytics"], [t for t in ADJUSTMENT if t != "alsfrs_baseline"])
    assert without.estimable and "use_anxiolytics" in without.params.index
    partly = _toy_survival()
    partly.loc[:29, "alsfrs_baseline"] = np.nan
    partly.loc[30:, "diagnostic_delay_months"] = np.nan
    reason = fit_cox(partly, ["use_anxiolytics"]).reason
    assert reason == "no case has complete data; missing: diagnostic delay (30 cases), ALSFRS-R at diagnosis (30 cases)"


def test_cox_exposure_aliased_with_a_covariate_is_reported_not_the_covariate_dropped():
    data = _toy_survival()
    data["use_anxiolytics"] = data["male"]
    fit = fit_cox(data, ["use_anxiolytics"])
    assert fit.not_estimable == {"use_anxiolytics": "aliased with male"} and fit.reason


def test_cox_model_with_a_separating_covariate_is_not_estimable():
    data = _toy_survival()
    data.loc[data["male"] == 1, "event"] = 0  # no man has an event ...
    data.loc[data["male"] == 1, "time"] = data["time"].max() + 1  # ... and every man outlives every event
    fit = fit_cox(data.assign(male=data["male"]), ["use_anxiolytics"])
    assert fit.not_estimable["male"].startswith("no event among male = 1")
    assert fit.estimable and "male" not in fit.params.index


def _monotone_in(data: pd.DataFrame, column: str) -> pd.DataFrame:
    """Those with ``column`` = 1 have the first events, the others only once none of them is at risk.

    Every event then has the largest ``column`` of its risk set: the partial likelihood is monotone in its
    coefficient.  The counting rules cannot see it (both groups have events): only the fit can.
    """
    data = data.sort_values("time").reset_index(drop=True).assign(event=1)
    data[column] = (data.index <= len(data) // 3).astype(int)
    return data


def test_cox_exposure_whose_coefficient_runs_off_is_reported_not_estimable_and_the_rest_fitted():
    fit = fit_cox(_monotone_in(_toy_survival(), "use_anxiolytics"), ["use_anxiolytics"], adjustment=["male"])
    assert not fit.fitter.converged and fit.fitter.message.startswith("monotone likelihood")
    assert fit.not_estimable == {"use_anxiolytics": "monotone likelihood: the hazard ratio is not finite"}
    assert fit.estimable and list(fit.params.index) == ["male"] and list(fit.robust_bse.index) == ["male"]
    row = fit.to_frame().set_index("term").loc["use_anxiolytics"]
    assert not row["estimable"] and np.isnan(row["robust_se"]) and row["reason"].startswith("monotone likelihood")
    assert list(scaled_schoenfeld(fit).columns) == ["time", "male"]


def test_cox_model_whose_covariate_coefficient_runs_off_is_not_estimable_and_says_so():
    fit = fit_cox(_monotone_in(_toy_survival(), "bulbar"), ["use_anxiolytics"], adjustment=["male", "bulbar"])
    assert not fit.estimable and fit.reason == "separation: the coefficient of bulbar is not finite"
    assert set(fit.to_frame()["reason"]) == {fit.reason}


def test_cox_model_that_does_not_converge_or_that_the_engine_refuses_has_a_reason(monkeypatch):
    import alsmeds.models.cox as cox
    from alsmeds.models.cox_engine import CoxDataError

    data = _toy_survival()
    short = fit_cox(data, ["use_anxiolytics"], fit_options={"max_iter": 1})
    assert not short.estimable and short.reason == "the Cox model did not converge (did not converge in 1 iterations)"

    def refuse(*args, **kwargs):
        raise CoxDataError("the information matrix is singular: a covariate carries no information. More text")

    monkeypatch.setattr(cox, "fit_coxph", refuse)
    refused = fit_cox(data, ["use_anxiolytics"])
    assert not refused.estimable and refused.reason == (
        "the Cox model cannot be fitted: the information matrix is singular: a covariate carries no information"
    )


def test_logrank_and_rmst_without_users():
    data = _toy_survival().assign(use_hypnotics=0)
    logrank = logrank_by_use(data).set_index("drug_class")
    assert np.isnan(logrank.loc["hypnotics", "p_value"])
    assert logrank.loc["hypnotics", "reason"] == "no users of hypnotics"
    assert logrank.loc["anxiolytics", "reason"] == "" and np.isfinite(logrank.loc["anxiolytics", "chisq"])
    rmst = rmst_by_use(data, tau=3.0).set_index("drug_class")
    assert np.isnan(rmst.loc["hypnotics", "rmst_users"]) and np.isfinite(rmst.loc["hypnotics", "rmst_non_users"])
    medians = median_survival(data)
    assert set(medians.loc[medians["drug_class"] == "hypnotics", "group"]) == {"non-users"}


def test_followup_summary_and_reverse_km():
    data = pd.DataFrame({"time": [1.0, 2.0, 3.0, 4.0, 5.0], "event": [1, 0, 1, 0, 0], "status": ["death"] + ["x"] * 4})
    fu = followup_summary(data)
    assert fu["observed_followup_years"] == {"median": 3.0, "q1": 2.0, "q3": 4.0}
    # Reverse Kaplan-Meier: "events" at 2, 4, 5 (n at risk 4, 2, 1): S = 3/4, 3/8, 0.  The q-th quantile is the
    # first time S <= 1 - q, an exact 0.75 included.
    assert fu["potential_followup_years_reverse_km"] == {"median": 4.0, "q1": 2.0, "q3": 5.0}
    assert fu["events"] == 2 and fu["person_years"] == 15.0


def test_rmst_by_hand():
    # Events at 1 (n 4) and 3 (n 2); censored at 2 and 4.  S = 1, 0.75 from 1, 0.375 from 3.
    time, event = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 0, 1, 0])
    value, se = rmst(time, event, tau=4.0)
    assert value == pytest.approx(1 + 0.75 * 2 + 0.375 * 1)
    a1, a3 = 0.75 * 2 + 0.375, 0.375  # areas from each event time to tau
    assert se == pytest.approx(np.sqrt(a1**2 * 1 / (4 * 3) + a3**2 * 1 / (2 * 1)))


# ----------------------------------------------------------------------------------------------------------------
# The committed data: agreement with R, and the follow-up
# ----------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def committed():
    registry = read_registry(SYNTHETIC_DIR)
    return build_survival_data(registry, case_exposures(registry))


@pytest.fixture(scope="module")
def committed_fits(committed):
    return fit_cox_models(committed)


def test_followup_matches_the_generator_and_the_paper(committed, committed_truth):
    fu = followup_summary(committed)["observed_followup_years"]
    planted = committed_truth["this_sample"]["followup_years_quartiles"]
    np.testing.assert_allclose([fu["q1"], fu["median"], fu["q3"]], planted, atol=1e-7)
    # Paper scale: 3 sampling SDs of each quartile at n = 1,057 (0.025, 0.045, 0.085 years, measured on 20
    # paper-size parts of a 20x sample) plus 0.10 year for the generator's calibration to the published values.
    published = PUBLISHED_FOLLOWUP_YEARS
    assert abs(fu["q1"] - published["q1"]) < 3 * 0.025 + 0.10
    assert abs(fu["median"] - published["median"]) < 3 * 0.045 + 0.10
    assert abs(fu["q3"] - published["q3"]) < 3 * 0.085 + 0.10


def test_cox_fits_are_clean(committed_fits):
    for fit in committed_fits:
        assert fit.warnings == []
        assert fit.n == 1057 and fit.n_dropped == 0
        frame = fit.to_frame()
        assert list(frame.columns) == [c for c in _cox_columns() if c in frame.columns]
        assert np.all(frame["ci_lower"] < frame["hazard_ratio"]) and np.all(frame["hazard_ratio"] < frame["ci_upper"])
        # The shared vocabulary (alsmeds.models.base): the results rows are the model's Wald table.
        wald = fit.wald_table()
        rows = frame.set_index("term").loc[wald.index]
        for ours, shared in (("log_hr", "estimate"), ("hazard_ratio", "hazard_ratio"),
                             ("ci_lower", "hazard_ratio_lower"), ("ci_upper", "hazard_ratio_upper")):  # fmt: skip
            np.testing.assert_array_equal(rows[ours].to_numpy(), wald[shared].to_numpy())
        np.testing.assert_allclose(np.sqrt(np.diag(fit.cov_params())), fit.bse.to_numpy(), rtol=1e-12)
        # The robust columns: the robust Wald table, from the sandwich covariance; the estimate is the same.
        robust = fit.robust_wald_table()
        for ours, shared in (("robust_se", "se"), ("robust_ci_lower", "hazard_ratio_lower"),
                             ("robust_ci_upper", "hazard_ratio_upper"), ("robust_p_value", "p_value")):  # fmt: skip
            np.testing.assert_array_equal(rows[ours].to_numpy(), robust[shared].to_numpy())
        np.testing.assert_allclose(np.sqrt(np.diag(fit.robust_cov_params())), fit.robust_bse.to_numpy(), rtol=1e-12)
        assert list(fit.robust_bse.index) == list(fit.params.index) and (fit.robust_bse > 0).all()
        assert np.all(frame["robust_ci_lower"] < frame["hazard_ratio"])
        assert np.all(frame["hazard_ratio"] < frame["robust_ci_upper"])
        assert fit.fitter.converged and fit.summary().startswith(f"Cox model {fit.label}: 1057 cases")
    mutual = committed_fits[-1]
    assert set(mutual.ph_test["term"]) == set(mutual.params.index)


def _cox_columns():
    from alsmeds.reporting.survival_results import SURVIVAL_COX_COLUMNS

    return list(SURVIVAL_COX_COLUMNS)


@pytest.fixture(scope="module")
def r_reference(committed, committed_fits):
    """R's coxph (robust = TRUE, eps = 1e-12, cox.zph) of every committed model, and survfit by use."""
    groups = {k: (committed, f"use_{k}") for k in CLASSES}
    models = {f.label: CoxphSpec(f.design, robust=True, zph=("km",)) for f in committed_fits}
    return r_coxph(models, eps=1e-12, survfit=groups, rmean_tau=3.0)


@pytest.mark.r
@pytest.mark.usefixtures("needs_r")
def test_cox_agrees_with_r_coxph(committed_fits, r_reference):
    """Coefficients, model-based and robust SEs, log-likelihood, cox.zph and its residuals: R's to 1e-8."""
    for fit in committed_fits:
        ref = r_reference["models"][fit.label]
        assert ref["warnings"] == [] and ref["n"] == fit.n and ref["nevent"] == fit.events
        terms = fit.params.index
        np.testing.assert_allclose(fit.params, ref["coefficients"][terms], rtol=0, atol=COX_ATOL, err_msg=fit.label)
        np.testing.assert_allclose(fit.bse, ref["naive_se"][terms], rtol=0, atol=COX_ATOL, err_msg=fit.label)
        np.testing.assert_allclose(fit.robust_bse, ref["robust_se"][terms], rtol=0, atol=COX_ATOL, err_msg=fit.label)
        assert fit.loglik == pytest.approx(ref["loglik"], abs=COX_ATOL)
        # The results columns carry them (model-based and robust).
        frame = fit.to_frame().set_index("term").loc[terms]
        np.testing.assert_allclose(frame["se"], ref["naive_se"][terms], rtol=0, atol=COX_ATOL)
        np.testing.assert_allclose(frame["robust_se"], ref["robust_se"][terms], rtol=0, atol=COX_ATOL)
        # The proportional-hazards test is R's cox.zph (survival >= 3.0), not lifelines' older test.
        zph = r_reference["models"][fit.label]["zph"]["km"]
        ph = fit.ph_test.set_index("term")
        np.testing.assert_allclose(ph["chisq"], zph.loc[ph.index, "chisq"], rtol=COX_ATOL, atol=COX_ATOL)
        np.testing.assert_allclose(ph["p_value"], zph.loc[ph.index, "p"], rtol=COX_ATOL, atol=COX_ATOL)
        y = r_reference["models"][fit.label]["zph_y"]["km"]
        np.testing.assert_allclose(scaled_schoenfeld(fit)[terms], y[terms], rtol=0, atol=COX_ATOL)


def test_cox_agrees_with_lifelines_the_second_reference(committed_fits):
    """lifelines' CoxPHFitter (tight Newton settings) on the same designs: the same fits, without R."""
    from alsmeds.models.cox import fit_lifelines_cox

    for fit in committed_fits:
        cph, caught = fit_lifelines_cox(fit.design)
        assert caught == []
        terms = fit.params.index
        np.testing.assert_allclose(fit.params, cph.params_[terms], rtol=0, atol=LIFELINES_ATOL, err_msg=fit.label)
        np.testing.assert_allclose(fit.bse, cph.standard_errors_[terms], rtol=LIFELINES_ATOL, err_msg=fit.label)
        assert fit.loglik == pytest.approx(cph.log_likelihood_, abs=LIFELINES_ATOL)


@pytest.mark.r
@pytest.mark.usefixtures("needs_r")
def test_kaplan_meier_agrees_with_r_survfit(committed, r_reference):
    for k in CLASSES:
        fits = km_by_use(committed, k)
        for group, name in ((0, "non-users"), (1, "users")):
            ours = km_survival_at_event_times(fits[name])
            ref = r_reference["survfit"][k][str(group)]
            np.testing.assert_array_equal(ours["time"], np.asarray(ref["time"], dtype=float))
            np.testing.assert_array_equal(ours["n_risk"], ref["n_risk"])
            np.testing.assert_array_equal(ours["n_event"], ref["n_event"])
            np.testing.assert_allclose(ours["surv"], np.asarray(ref["surv"], dtype=float), rtol=0, atol=KM_ATOL)
            # The log(-log) bands too, where R defines them (not where S = 0).
            lower = np.asarray([np.nan if v is None else v for v in ref["lower"]], dtype=float)
            ok = np.isfinite(lower)
            np.testing.assert_allclose(ours["lower"][ok], lower[ok], rtol=0, atol=KM_ATOL)
        rmst = rmst_by_use(committed, tau=3.0, classes=[k]).iloc[0]
        for group, col in ((0, "non_users"), (1, "users")):
            ref = r_reference["survfit"][k][str(group)]
            assert rmst[f"rmst_{col}"] == pytest.approx(ref["rmean"], abs=KM_ATOL)
            assert rmst[f"se_{col}"] == pytest.approx(ref["rmean_se"], abs=KM_ATOL)


# ----------------------------------------------------------------------------------------------------------------
# Large scale: recovery of the implied total effects
# ----------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def large_data():
    """Survival data from the register rows of a 20x simulation (simulate -> tables -> case exposures -> survival)."""
    from alsmeds.simulate import generate

    synthetic = generate(seed=LARGE_SEED, scale=LARGE_SCALE, truth_scale=0)
    metadata = {k: date.fromisoformat(v) for k, v in synthetic.metadata.items()}
    registry = Registry(tables=synthetic.tables, metadata=metadata, data_dir=SYNTHETIC_DIR)
    return build_survival_data(registry, case_exposures(registry))


@pytest.fixture(scope="module")
def implied():
    from alsmeds.estimands.cox import implied_cox_estimands

    return implied_cox_estimands(seed=TRUTH_SEED, truth_scale=TRUTH_SCALE)


@pytest.mark.slow
def test_cox_recovers_the_implied_total_effects(large_data, implied):
    assert implied["_truth_sample"]["warnings"] == []
    fits = fit_cox_models(large_data, run_ph_test=False)
    z_scores = {}
    for fit in fits:
        assert fit.warnings == []
        for term in fit.exposures:
            k = term.removeprefix("use_")
            target = implied[fit.model][k]
            z = (fit.params[term] - target["log_hr"]) / np.hypot(fit.bse[term], target["mc_se"])
            z_scores[f"{fit.model}:{k}"] = float(z)
    assert all(abs(z) < 3 for z in z_scores.values()), z_scores


@pytest.mark.slow
def test_total_and_direct_effects_differ_as_planted(implied):
    """The Cox target is not the joint model's direct effect: larger for antidepressants (faster decline)."""
    direct, mutual = implied["direct"], implied["mutual"]
    ad = mutual["antidepressants"]
    assert ad["log_hr"] - direct["antidepressants"] > 5 * ad["mc_se"]
    # Anxiolytics act on the hazard only; omitted trajectory heterogeneity pulls the Cox target below the direct effect.
    anx = mutual["anxiolytics"]
    assert direct["anxiolytics"] - anx["log_hr"] > 3 * anx["mc_se"]


@pytest.mark.slow
def test_followup_at_large_scale_matches_the_published(large_data):
    """The generator is calibrated to the published follow-up: 0.64, 1.33, 2.37 years (quartiles)."""
    fu = followup_summary(large_data)
    observed = fu["observed_followup_years"]
    assert abs(observed["q1"] - 0.64) < 0.06
    assert abs(observed["median"] - 1.33) < 0.06
    assert abs(observed["q3"] - 2.37) < 0.16
    assert fu["censored_emigration"] == 0  # cases do not emigrate in the generator


def test_committed_numbers_of_notebook_05(committed, committed_fits):
    """The numbers notebook 05 shows rounded (covariate HRs, PH tests, age-stratified HRs), at full precision."""
    mutual = committed_fits[-1].to_frame().set_index("term")
    expected = {"use_anxiolytics": 1.5236, "age_per_10y": 1.5164, "bulbar": 1.4041, "alsfrs_baseline": 0.9312}
    for term, hr in expected.items():
        assert mutual.loc[term, "hazard_ratio"] == pytest.approx(hr, abs=5e-4)
    ph = committed_fits[-1].ph_test.set_index("term")
    # R's cox.zph (survival >= 3.0; test_cox_agrees_with_r_coxph): 14.09.  lifelines' older correlation-type test,
    # which the bundle used before its own engine, gave 11.83.
    assert ph.loc["age_per_10y", "p_value"] < 0.001 and ph.loc["age_per_10y", "chisq"] == pytest.approx(14.09, abs=0.01)
    assert (ph.drop(index="age_per_10y")["p_value"] > 0.05).all()  # only age breaks proportional hazards
    stratified = fit_cox(
        committed,
        [f"use_{k}" for k in CLASSES],
        adjustment=["male", "bulbar", "diagnostic_delay_months", "alsfrs_baseline"],
        strata=["age_band"],
    )
    assert stratified.warnings == [] and stratified.not_estimable == {}
    assert np.exp(stratified.params["use_anxiolytics"]) == pytest.approx(1.441, abs=5e-4)


def test_cox_estimates_beside_the_implied_total_effects():
    import json

    from alsmeds.paths import COMMITTED_RESULTS_DIR
    from alsmeds.reporting.survival_results import compare_with_implied

    results = pd.DataFrame(json.loads((COMMITTED_RESULTS_DIR / "survival_cox.json").read_text())["estimates"])
    shown = compare_with_implied(results)
    exposures = results[results["is_exposure"]].reset_index(drop=True)
    assert len(shown) == len(exposures) > 0
    difference = exposures["log_hr"] - exposures["implied_log_hr"]
    expected = difference / np.hypot(exposures["se"], exposures["implied_mc_se"])
    np.testing.assert_allclose(shown["z"], expected)
    np.testing.assert_allclose(shown["implied total"], np.exp(exposures["implied_log_hr"]))
    assert set(shown["published joint model"]) == {1.52, 1.72, 1.23}


# ----------------------------------------------------------------------------------------------------------------
# Robust (sandwich) SEs, the simulation study's verdict on the model SEs, the hazard-ratio figure (notebook 05)
# ----------------------------------------------------------------------------------------------------------------


def test_robust_standard_errors_keep_the_estimates_and_change_only_the_variance(committed, committed_fits):
    from alsmeds.reporting.survival_results import ROBUST_SE_COLUMNS, robust_standard_errors

    robust = robust_standard_errors(committed_fits)
    assert list(robust.columns) == ROBUST_SE_COLUMNS
    assert len(robust) == sum(len(f.exposures) for f in committed_fits)
    for fit in committed_fits:
        rows = robust[robust["model"] == fit.model].set_index("term").reindex(fit.exposures)
        np.testing.assert_allclose(np.log(rows["hazard_ratio"]), fit.params[fit.exposures], rtol=1e-12)
        np.testing.assert_allclose(rows["se"], fit.bse[fit.exposures], rtol=1e-12)
        np.testing.assert_allclose(rows["robust_se"], fit.robust_bse[fit.exposures], rtol=1e-12)
    assert (robust["robust_se"] > 0).all()
    np.testing.assert_allclose(robust["robust_over_model"], robust["robust_se"] / robust["se"])
    width = np.log(robust["robust_ci_upper"]) - np.log(robust["robust_ci_lower"])
    np.testing.assert_allclose(width, 2 * Z_975 * robust["robust_se"], rtol=1e-9)
    not_fitted = fit_cox(committed.iloc[:0], ["use_anxiolytics"])  # no cases: not fitted
    assert robust_standard_errors([not_fitted])["robust_se"].isna().all()


@pytest.mark.r
@pytest.mark.usefixtures("needs_r")
def test_robust_standard_errors_agree_with_r_despite_ties(committed_fits, r_reference):
    """The engine's sandwich handles Efron ties (lifelines' did not): on the committed data's tied days, R's to 1e-8."""
    from alsmeds.reporting.survival_results import robust_standard_errors

    robust = robust_standard_errors(committed_fits).set_index(["model", "term"])["robust_se"]
    tied = 0
    for fit in committed_fits:
        reference = r_reference["models"][fit.label]["robust_se"]
        for term in fit.exposures:
            assert robust[(fit.model, term)] == pytest.approx(reference[term], abs=COX_ATOL), (fit.label, term)
        event_days = fit.design.loc[fit.design["event"] == 1, "time"]
        tied = max(tied, int(event_days.duplicated(keep=False).sum()))
    assert tied > 100, "the check is only meaningful with many tied event days"


def test_cox_se_performance_reads_the_simulation_study(tmp_path):
    from alsmeds.paths import COMMITTED_RESULTS_DIR
    from alsmeds.reporting.survival_results import cox_se_performance

    perf = cox_se_performance(COMMITTED_RESULTS_DIR)
    assert len(perf) == 6 and set(perf["model"]) == {"per_class", "mutual"} and set(perf["drug_class"]) == set(CLASSES)
    # The simulation study's finding notebook 05 reports beside its intervals: model SEs too small, coverage below 95%.
    assert (perf["relerr_modse"] < 0).all() and (perf["coverage"] < 0.95).all()
    assert cox_se_performance(tmp_path).empty


def test_hazard_ratio_figure_labels_the_joint_row_as_reference_values_and_keeps_stars_off_the_dots():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.collections import PathCollection

    from alsmeds.plots.survival import IMPLIED_ROW_OFFSET, JOINT_REFERENCE_LABEL, plot_hazard_ratios
    from alsmeds.published import PUBLISHED_PROGNOSIS

    rows = []
    for k, hr in zip(CLASSES, (1.6, 1.2, 1.5), strict=True):
        for model in ("per_class", "mutual"):
            rows.append({"model": model, "drug_class": k, "is_exposure": True, "hazard_ratio": hr,
                         "ci_lower": hr / 1.2, "ci_upper": hr * 1.2, "reason": "", "implied_log_hr": np.log(hr),
                         "direct_log_hr": np.log(hr)})  # fmt: skip
    ax = plot_hazard_ratios(pd.DataFrame(rows), PUBLISHED_PROGNOSIS)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels.count(JOINT_REFERENCE_LABEL) == 3 and "published" in JOINT_REFERENCE_LABEL
    assert not any("notebook 07" in label for label in labels), "the row is not this bundle's joint model"
    dots = [float(line.get_ydata()[0]) for line in ax.lines if line.get_marker() == "o"]
    stars = [
        float(y)
        for c in ax.collections
        if isinstance(c, PathCollection) and len(c.get_offsets()) and c.get_sizes()[0] >= 100
        for y in c.get_offsets()[:, 1]
    ]
    assert len(stars) == len(dots) == 6
    for y in stars:
        assert min(abs(y - d) for d in dots) == pytest.approx(IMPLIED_ROW_OFFSET), "beside its dot, not on it"


# ----------------------------------------------------------------------------------------------------------------
# What notebook 05 shows (alsmeds.reporting.survival_results): the same tables from the results file as from the fits
# ----------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def committed_cox():
    """``survival_cox.csv`` as notebook 05 reads it (missing text and counts come back as NaN and floats)."""
    from alsmeds.analyses import read_results_file
    from alsmeds.paths import COMMITTED_RESULTS_DIR

    return read_results_file(COMMITTED_RESULTS_DIR / "survival_cox.csv")


def test_tables_from_the_results_file_equal_the_tables_from_the_fits(committed_cox, committed_fits, committed_truth):
    from alsmeds.reporting import survival_results as sr

    fitted = sr.add_implied(cox_table(committed_fits), committed_truth)
    assert committed_cox["reason"].isna().all()  # read back as missing: the tables must not print "nan"
    for build in (sr.cox_exposure_table, sr.model_terms_table, sr.implied_comparison_table):
        pd.testing.assert_frame_equal(build(committed_cox), build(fitted), check_dtype=False, atol=1e-6)
    for say in (sr.covariates_sentence, sr.ph_test_sentence):
        assert say(committed_cox) == say(fitted)
    shown = sr.cox_exposure_table(committed_cox)
    intervals = ["HR (95% CI, sandwich SE)", "HR (95% CI, model SE)"]
    assert list(shown.columns) == ["Model", "drug_class", *intervals, "users (events)", "patients", "events"]
    assert len(shown) == 2 * len(CLASSES)
    for column in intervals:
        assert not shown[column].str.contains("nan|not estimable").any()
    # a file written before the sandwich columns: the model-based interval alone
    old = sr.cox_exposure_table(committed_cox.drop(columns=["robust_se", "robust_ci_lower", "robust_ci_upper"]))
    assert "HR (95% CI, sandwich SE)" not in old and (old["HR (95% CI, model SE)"] == shown[intervals[1]]).all()
    assert shown["users (events)"].str.fullmatch(r"\d+ \(\d+\)").all()  # counts, not "205.0 (175.0)"


def test_covariates_and_ph_tests_of_the_model_with_the_three_classes(committed_cox, committed_fits):
    from alsmeds.reporting.survival_results import (
        covariates_sentence,
        model_terms_table,
        ph_test_sentence,
        ph_test_table,
    )

    lines = covariates_sentence(committed_cox).splitlines()
    assert lines[0] == "covariates whose 95% CI excludes 1:"
    assert [line.split(" the hazard")[0].strip() for line in lines[1:]] == [
        "age at diagnosis, per 10 years raises",
        "bulbar onset raises",
        "ALSFRS-R at diagnosis, per point lowers",
    ]
    terms = model_terms_table(committed_cox)
    assert len(terms) == len(committed_fits[-1].params) and terms["HR (95% CI)"].str.match(r"\d\.\d\d \(").all()
    ph = ph_test_table(committed_cox)
    reference = committed_fits[-1].ph_test
    assert list(ph["term"]) == [TERM_LABELS[t] for t in reference["term"]]
    np.testing.assert_allclose(ph["chi-square (1 df)"], reference["chisq"], rtol=1e-7)
    assert ph_test_sentence(committed_cox) == "proportional hazards rejected at 5% for: age at diagnosis, per 10 years"


def test_ph_test_sentence_says_why_there_is_no_test():
    from alsmeds.reporting.survival_results import ph_test_sentence, ph_test_table

    table = cox_table(fit_cox_models(_toy_survival().assign(event=0)))  # no events: no model is fitted
    assert ph_test_table(table).empty
    assert ph_test_sentence(table) == "no proportional-hazards test: no term of the model could be estimated"
    table = cox_table(fit_cox_models(_toy_survival().assign(alsfrs_baseline=np.nan)))  # one reason for every term
    assert ph_test_sentence(table).startswith("no proportional-hazards test: no case has ALSFRS-R at diagnosis")


def test_evalues_of_the_per_class_models_with_the_sandwich_limit(committed_cox, committed_fits):
    from alsmeds.reporting.evalue import evalue_frame
    from alsmeds.reporting.survival_results import cox_evalue_table, robust_standard_errors

    robust = robust_standard_errors(committed_fits)
    table = cox_evalue_table(committed_cox, robust)
    assert list(table["drug_class"]) == list(CLASSES)
    per_class = robust[robust["model"] == "per_class"]
    expected = evalue_frame(per_class, "hazard_ratio", False, ("hazard_ratio", "robust_ci_lower", "robust_ci_upper"))
    np.testing.assert_allclose(table["E-value (CI limit, sandwich SE)"], expected["evalue_ci"], rtol=1e-6)
    # Common outcome: the approximate risk ratio lies between 1 and the hazard ratio.
    assert ((table["approximate RR"] > 1) & (table["approximate RR"] < table["hazard_ratio"])).all()
    assert (table["evalue_estimate"] > table["evalue_ci"]).all()


def test_robust_se_table_and_the_simulation_study_beside_it(committed_fits):
    from alsmeds.paths import COMMITTED_RESULTS_DIR
    from alsmeds.reporting.survival_results import (
        cox_se_performance,
        robust_se_table,
        robust_standard_errors,
        se_performance_sentence,
        tied_events_sentence,
    )

    performance = cox_se_performance(COMMITTED_RESULTS_DIR)
    table = robust_se_table(robust_standard_errors(committed_fits), performance)
    assert len(table) == 2 * len(CLASSES)
    assert table["simulation: coverage"].str.fullmatch(r"\d+\.\d%").all()
    assert table["simulation: model SE vs empirical SE"].str.fullmatch(r"-\d+%").all()  # model SEs too small
    assert se_performance_sentence(performance).startswith(
        f"simulation study, {performance['n_reps'].min()} replicates"
    )
    assert se_performance_sentence(performance.iloc[:0]) == "no simulation study in results/ (run `alsmeds simstudy`)"
    empty = robust_se_table(robust_standard_errors(committed_fits), performance.iloc[:0])
    assert (empty["simulation: coverage"] == "").all()
    ties = pd.DataFrame({"time": [1.0, 1.0, 2.0, 3.0, 3.0], "event": [1, 1, 1, 1, 0]})
    assert tied_events_sentence(ties) == "events sharing their day with another event: 2 of 4"


def test_the_survival_data_described(hand_made):
    from alsmeds.reporting.survival_results import (
        EXAMPLE_COLUMNS,
        end_of_followup_counts,
        example_patients,
        followup_by_year,
        survival_data_summary,
    )

    assert survival_data_summary(hand_made) == (
        "baseline ALSFRS-R missing: 1 | taken on the diagnosis date: 6\n"
        "users: anxiolytics 1, hypnotics 1, antidepressants 1"
    )
    counts = end_of_followup_counts(hand_made)
    assert counts.index.name == "end of follow-up" and counts["cases"].sum() == len(hand_made)
    assert "invasive ventilation" in counts.index and "end of follow up" in counts.index
    examples = example_patients(hand_made)
    assert list(examples.columns) == EXAMPLE_COLUMNS
    assert list(examples["status"]) == ["death", "invasive ventilation", "end of follow up"]
    assert list(examples["person_id"]) == [1, 4, 2]
    by_year = followup_by_year(hand_made, END)
    row = by_year.loc[2022]  # case 2, diagnosed 2022-05-01, censored at the end of follow-up
    assert (row["cases"], row["events"], row["censored"]) == (1, 0, 1)
    assert row["longest possible follow-up, years"] == pytest.approx(_years("2022-05-01", END))
    assert by_year["cases"].sum() == len(hand_made)
    assert (by_year["events"] + by_year["censored"] == by_year["cases"]).all()


def test_followup_sentences_and_table():
    from alsmeds.reporting.survival_results import censoring_sentence, event_rate_sentence, followup_table

    data = pd.DataFrame(
        {"time": [1.0, 2.0, 3.0, 4.0, 5.0], "event": [1, 0, 1, 0, 0], "status": ["death", "emigration", "death"]
         + ["end_of_follow_up"] * 2}
    )  # fmt: skip
    fu = followup_summary(data)
    assert censoring_sentence(fu) == "censored: 3, of whom at the end of follow-up 2 and at emigration 1"
    assert event_rate_sentence(fu) == "2 events in 15 person-years (13.3 per 100 person-years)"
    table = followup_table(fu)
    assert list(table.columns) == ["median", "lower quartile", "upper quartile"]
    assert table.loc["observed (this data)"].tolist() == [3.0, 2.0, 4.0]
    assert table.loc["observed (published)", "median"] == PUBLISHED_FOLLOWUP_YEARS["median"]


def test_median_logrank_and_rmst_tables():
    from alsmeds.reporting.survival_results import logrank_table, median_survival_table, rmst_months

    data = _toy_survival()
    medians = median_survival(data)
    medians.loc[0, "median_upper"] = np.nan
    medians.loc[1, "median_years"] = np.nan
    text = median_survival_table(medians)["median (95% CI), years"]
    assert text[0].endswith("-not reached)") and text[1] == "not reached"
    assert "reason" not in logrank_table(logrank_by_use(data)).columns  # every test computed
    without = logrank_table(logrank_by_use(data.assign(use_hypnotics=0)))
    assert without.set_index("drug_class").loc["hypnotics", "reason"] == "no users of hypnotics"
    assert {"users", "non-users", "chi-square"} <= set(without.columns)
    rmst_years = rmst_by_use(data, tau=3.0)
    months = rmst_months(rmst_years)
    np.testing.assert_allclose(months["users minus non-users"], 12 * rmst_years["difference"])
    np.testing.assert_allclose(months["ci_lower"], 12 * rmst_years["ci_lower"])


def test_cox_fit_notes_name_warnings_and_models_not_fitted():
    from alsmeds.reporting.survival_results import cox_fit_notes

    data = _toy_survival()
    fits = fit_cox_models(data)
    assert cox_fit_notes(fits) == []
    failed = fit_cox(data.assign(event=0), ["use_anxiolytics"])
    assert cox_fit_notes([failed]) == []
    assert cox_fit_notes({"stratified": failed}, not_fitted=True) == ["stratified model not estimable: no events"]
    warned = fits[0]
    warned.warnings.append("Newton did not converge. Try another step size.\nDetails follow.")
    try:
        assert cox_fit_notes([warned]) == [f"warning ({warned.label}): Newton did not converge"]
    finally:
        warned.warnings.clear()


def test_age_handling_table_compares_the_results_with_the_stratified_fit(committed, committed_cox):
    from alsmeds.reporting.survival_results import age_handling_table

    stratified = fit_cox(
        committed,
        [f"use_{k}" for k in CLASSES],
        adjustment=["male", "bulbar", "diagnostic_delay_months", "alsfrs_baseline"],
        strata=["age_band"],
    )
    table = age_handling_table(committed_cox, stratified)
    assert list(table.index) == [TERM_LABELS[f"use_{k}"] for k in CLASSES] and table.index.name == "term"
    mutual = committed_cox[(committed_cox["model"] == "mutual") & committed_cox["is_exposure"]]
    np.testing.assert_allclose(table["adjusted for age (linear)"], mutual["hazard_ratio"])
    np.testing.assert_allclose(
        table["stratified by age band"], np.exp(stratified.params[[f"use_{k}" for k in CLASSES]])
    )


def test_implied_targets_are_shown_only_with_a_planted_truth(committed_cox, committed_truth):
    from alsmeds.reporting.survival_results import has_implied, implied_comparison_table, implied_sample_sentence
    from alsmeds.truth import as_truth

    assert has_implied(committed_cox)
    n = as_truth(committed_truth).implied_cox_sample["n_cases"]
    assert implied_sample_sentence(committed_cox, committed_truth).startswith(f"implied estimand from {n:,} simulated")
    real = committed_cox.assign(implied_log_hr=np.nan, implied_mc_se=np.nan, direct_log_hr=np.nan)
    assert not has_implied(real)
    for truth in (None, committed_truth):  # a real extract, or a truth the file does not carry
        assert implied_sample_sentence(real, truth).startswith("no planted truth")
    table = implied_comparison_table(committed_cox)
    assert list(table.columns[:3]) == ["Model", "drug_class", "Cox HR"]
    assert set(table["Model"]) == {"One class at a time", "Three classes together"}


def test_try_this_helpers():
    from alsmeds.reporting.survival_results import (
        baseline_score_by_use,
        per_class_cox_variants,
        prediagnostic_use_differs,
    )

    data = _toy_survival()
    lines = baseline_score_by_use(data).splitlines()
    mean = data.loc[data["use_anxiolytics"] == 1, "alsfrs_baseline"].mean()
    assert len(lines) == len(CLASSES) and lines[0].startswith(
        f"mean ALSFRS-R at diagnosis, anxiolytics: users {mean:.1f}"
    )
    assert not prediagnostic_use_differs(data, data.copy())
    assert prediagnostic_use_differs(data, data.assign(use_hypnotics=1 - data["use_hypnotics"]))
    without = [a for a in ADJUSTMENT if a != "alsfrs_baseline"]
    side = per_class_cox_variants({"all": (data, ADJUSTMENT), "nobody": (data.assign(use_hypnotics=0), without)})
    assert list(side.columns) == ["all", "nobody"] and list(side.index) == list(CLASSES)
    assert side.index.name == "drug_class"
    users = int(data["use_anxiolytics"].sum())
    assert side.loc["anxiolytics", "all"].endswith(f"; {users} users")
    assert side.loc["hypnotics", "nobody"] == "not estimable: no users of hypnotics; 0 users"


def test_hazard_ratio_figure_reads_the_results_file_and_takes_a_title(committed_cox):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from alsmeds.plots.survival import plot_hazard_ratios

    not_estimable = committed_cox.copy()
    not_estimable.loc[0, ["hazard_ratio", "ci_lower", "ci_upper"]] = np.nan  # reason read back as NaN
    ax = plot_hazard_ratios(not_estimable, title="A title")
    assert ax.get_title() == "A title"
    texts = [t.get_text() for t in ax.texts]
    assert "  not estimable: not estimable" in texts and not any("nan" in t for t in texts)
    plt.close(ax.figure)
