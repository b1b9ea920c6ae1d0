"""One definition of every study rule: the prognosis analyses agree case by case, and exposure rules reach the models.

* A hand-made registry holds the cases on which the two prognosis data sets used to
  disagree: a death and an invasive ventilation on the same day, an emigration before
  the diagnosis, a case whose only controls are siblings, and first visits 30 and 31
  days after diagnosis (plus a first visit without a score and a visit after the
  event).  The survival data (:func:`build_survival_data`) and the ALSFRS-R data
  (:func:`build_alsfrs_data`) must give each case the same event, end of follow-up,
  score at diagnosis and exposures, all taken from :mod:`alsmeds.derive.followup`
  and :mod:`alsmeds.derive.exposure`, and the values the rules state.
* ``ExposureRules(lag_years=2)`` and ``min_dispensings=3`` must change the risk
  model's regressor exactly as they change the analysis table: the fitted model's
  exposed cases and controls equal the table's.
* The generator's truth uses the same definitions on the true dates of first use.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsmeds.constants import CATEGORY_CODES, CLASSES, WINDOWS
from alsmeds.data.registry import Registry, read_registry
from alsmeds.derive import followup
from alsmeds.derive.alsfrs import build_alsfrs_data, describe_visits, score_at_diagnosis
from alsmeds.derive.analysis_table import build_analysis_table
from alsmeds.derive.cohort import COMPARISON_ROLES, case_exposures
from alsmeds.derive.dates import age_in_years, months_between, years_between
from alsmeds.derive.exposure import DEFAULT_RULES, ExposureRules, ever_used, lagged_use, window_category
from alsmeds.derive.survival_data import build_survival_data
from alsmeds.models.risk import COMPARISONS, RiskModelSpec, exposure_matrix, fit_risk_model
from alsmeds.paths import SYNTHETIC_DIR
from alsmeds.simulate import SimulationParameters
from alsmeds.simulate.population import simulate_study_population
from alsmeds.simulate.truth import comparison_sets

END = date(2023, 12, 31)
D = pd.Timestamp


# ----------------------------------------------------------------------------------------------------------------
# A hand-made registry
# ----------------------------------------------------------------------------------------------------------------

#: case -> (diagnosis date, what it exercises)
CASES = {
    1: ("2020-01-10", "death and invasive ventilation on the same day (death listed first)"),
    2: ("2019-05-01", "emigrated in 2010, before the diagnosis; no event"),
    3: ("2021-02-01", "only sibling controls; first visit 30 days after diagnosis"),
    4: ("2022-01-01", "first visit 31 days after diagnosis"),
    5: ("2020-03-01", "first visit without a score, the next with one on day 20"),
    6: ("2020-06-01", "invasive ventilation on day 10, the only visit on day 20"),
}


def _registry() -> Registry:
    sp = pd.DataFrame(
        [
            (1, 1, "case"),
            (11, 1, "population_control"),
            (12, 1, "population_control"),
            (2, 2, "case"),
            (21, 2, "population_control"),
            (3, 3, "case"),
            (31, 3, "sibling"),
            (32, 3, "sibling"),
            (4, 4, "case"),
            (41, 4, "population_control"),
            (5, 5, "case"),
            (51, 5, "spouse"),
            (6, 6, "case"),
            (61, 6, "population_control"),
        ],
        columns=["person_id", "case_id", "role"],
    )
    sp["index_date"] = pd.to_datetime(sp["case_id"].map({k: v[0] for k, v in CASES.items()}))
    ids = sorted(sp["person_id"].unique())
    persons = pd.DataFrame(
        {
            "person_id": ids,
            "birth_date": pd.to_datetime(["1955-01-10" if i < 10 else "1957-06-01" for i in ids]),
            "sex": ["male" if i % 2 else "female" for i in ids],
            "education": "compulsory",
            "country_of_birth": "sweden",
            "civil_status": "married",
            "death_date": pd.to_datetime(["2021-03-01" if i == 1 else None for i in ids]),
            "emigration_date": pd.to_datetime(["2010-05-05" if i == 2 else None for i in ids]),
        }
    )
    als = pd.DataFrame(
        {
            "person_id": list(CASES),
            "diagnosis_date": pd.to_datetime([v[0] for v in CASES.values()]),
            "onset_site": "spinal",
            "diagnostic_delay_months": 10.0,
        }
    )
    outcomes = pd.DataFrame(
        [
            (1, "death", "2021-03-01"),
            (1, "invasive_ventilation", "2021-03-01"),
            (6, "invasive_ventilation", "2020-06-11"),
            (6, "death", "2020-09-01"),
        ],
        columns=["person_id", "event", "event_date"],
    )
    outcomes["event_date"] = pd.to_datetime(outcomes["event_date"])
    visits = pd.DataFrame(
        [
            (1, "2020-01-10", 40),
            (1, "2020-04-10", 35),
            (1, "2021-03-01", 25),  # on the event day: kept
            (2, "2019-05-01", 42),
            (2, "2019-08-01", 40),
            (3, "2021-03-03", 38),  # day 30
            (3, "2021-06-01", 36),
            (4, "2022-02-01", 33),  # day 31
            (4, "2022-05-01", 30),
            (5, "2020-03-01", None),  # no score
            (5, "2020-03-21", 39),  # day 20
            (6, "2020-06-21", 30),  # after the ventilation
        ],
        columns=["person_id", "visit_date", "alsfrs_r_total"],
    )
    visits["visit_date"] = pd.to_datetime(visits["visit_date"])
    visits["alsfrs_r_total"] = visits["alsfrs_r_total"].astype("Int64")
    disp = pd.DataFrame(
        [
            (1, "2012-01-01", "N05BA01"),
            (1, "2013-01-01", "N05BA01"),  # case 1: anxiolytics > 5 y
            (2, "2019-01-01", "N05CF01"),
            (2, "2019-02-01", "N05CF01"),  # case 2: hypnotics 0-1 y
            (3, "2017-01-01", "N06AB04"),
            (3, "2017-06-01", "N06AB04"),  # case 3: antidepressants 1-5 y
            (31, "2015-01-01", "N06AB04"),
            (31, "2015-02-01", "N06AB04"),  # its sibling: > 5 y
            (11, "2019-06-01", "N05BA01"),
            (11, "2019-07-01", "N05BA01"),  # a population control: 0-1 y
        ],
        columns=["person_id", "dispensing_date", "atc"],
    )
    disp["dispensing_date"] = pd.to_datetime(disp["dispensing_date"])
    disp["packages"] = np.int64(1)
    diagnoses = pd.DataFrame({"person_id": [11], "diagnosis_date": pd.to_datetime(["2010-01-01"]), "icd10": ["F32.1"]})
    tables = {
        "persons": persons,
        "study_population": sp,
        "als_cases": als,
        "outcomes": outcomes,
        "alsfrs": visits,
        "dispensings": disp,
        "diagnoses": diagnoses,
    }
    metadata = {"register_start": date(2005, 7, 1), "end_of_follow_up": END}
    return Registry(tables=tables, metadata=metadata, data_dir=Path("."))


@pytest.fixture(scope="module")
def hand_made():
    registry = _registry()
    exposures = case_exposures(registry)
    survival = build_survival_data(registry, exposures).set_index("person_id")
    alsfrs = build_alsfrs_data(registry, exposures)
    return registry, exposures, survival, alsfrs


def _months(a: str, b: str | date) -> float:
    return (D(b) - D(a)).days / (365.25 / 12)


def test_the_same_event_and_end_of_follow_up_in_both_prognosis_data_sets(hand_made):
    _, _, survival, alsfrs = hand_made
    patients = alsfrs.groupby("person_id").first()
    assert sorted(patients.index) == [1, 2, 3, 4, 5]  # case 6 has no visit in follow-up
    for pid, row in patients.iterrows():
        s = survival.loc[pid]
        assert row["event"] == (s["status"] if s["event"] else "none"), pid
        expected = months_between(np.array([s["diagnosis_date"]]), np.array([s["end_date"]]))[0]
        assert row["followup_months"] == expected, pid
        if s["event"]:
            assert row["event_months"] == expected, pid
        else:
            assert np.isnan(row["event_months"]), pid
    # The shared definition is what both report.
    fu = followup.case_follow_up(hand_made[0]).set_index("person_id")
    for column in ("end_date", "event", "status"):
        assert (fu[column] == survival.loc[fu.index, column]).all(), column


def test_a_same_day_death_and_ventilation_is_invasive_ventilation(hand_made):
    _, _, survival, alsfrs = hand_made
    s = survival.loc[1]
    assert s["event"] == 1 and s["status"] == "invasive_ventilation" and s["end_date"] == D("2021-03-01")
    first = alsfrs[alsfrs["person_id"] == 1].iloc[0]
    assert first["event"] == "invasive_ventilation"
    assert first["event_months"] == pytest.approx(_months("2020-01-10", "2021-03-01"), abs=1e-12)
    # The visit on the event day is kept.
    assert alsfrs.loc[alsfrs["person_id"] == 1, "visit_date"].max() == D("2021-03-01")
    # Whatever the order of the rows, and when the death is only in the persons table.
    registry = _registry()
    for outcomes in (
        registry["outcomes"].iloc[::-1],
        registry["outcomes"][registry["outcomes"]["event"] != "death"],
    ):
        events = followup.first_events(outcomes, registry["persons"][["person_id", "death_date"]])
        assert events.loc[1, "event"] == "invasive_ventilation" and events.loc[1, "event_date"] == D("2021-03-01")
    assert followup.EVENTS[0] == "invasive_ventilation"


def test_an_emigration_before_diagnosis_is_ignored_in_both(hand_made):
    _, _, survival, alsfrs = hand_made
    s = survival.loc[2]
    assert s["event"] == 0 and s["status"] == "end_of_follow_up" and s["end_date"] == D(END)
    assert s["time"] == pytest.approx((D(END) - D("2019-05-01")).days / 365.25, abs=1e-12)
    visits = alsfrs[alsfrs["person_id"] == 2]
    assert visits["visit_date"].dt.strftime("%Y-%m-%d").tolist() == ["2019-05-01", "2019-08-01"]
    assert visits["event"].tolist() == ["none", "none"]
    assert visits["followup_months"].iloc[0] == pytest.approx(_months("2019-05-01", END), abs=1e-12)
    # Only the visit after the ventilation of case 6 is dropped for follow-up.
    assert alsfrs.attrs["selection"]["after_end_of_follow_up"] == 1
    assert alsfrs.attrs["selection"]["missing_score"] == 1


def test_the_same_score_at_diagnosis_in_both(hand_made):
    _, _, survival, alsfrs = hand_made
    at_dx = score_at_diagnosis(alsfrs)
    expected = {1: (40.0, 0), 2: (42.0, 0), 3: (38.0, 30), 5: (39.0, 20)}  # 4: day 31; 6: visit after the event
    assert at_dx.to_dict() == {pid: score for pid, (score, _) in expected.items()}
    for pid in CASES:
        if pid in expected:
            score, day = expected[pid]
            assert survival.loc[pid, "alsfrs_baseline"] == score and survival.loc[pid, "alsfrs_baseline_day"] == day
        else:
            assert np.isnan(survival.loc[pid, "alsfrs_baseline"]) and pid not in at_dx.index
    assert followup.BASELINE_WINDOW_DAYS == 30
    table = describe_visits(alsfrs, by=None)
    assert table.loc["patients with a visit at diagnosis", "all"] == 4
    assert table.loc["score at diagnosis, mean", "all"] == pytest.approx((40 + 42 + 38 + 39) / 4)


def test_the_same_exposures_in_both_and_in_the_analysis_table(hand_made):
    registry, exposures, survival, alsfrs = hand_made
    table = build_analysis_table(registry)
    case_rows = table[table["case"] == 1]
    assert set(case_rows.loc[case_rows["person_id"] == 3, "comparison"]) == {"sibling"}
    patients = alsfrs.groupby("person_id").first()
    exp = exposures.set_index("person_id")
    for k in CLASSES:
        assert (survival[f"use_{k}"] == ever_used(exp.loc[survival.index, f"cat_{k}"])).all(), k
        assert (patients[k] == survival.loc[patients.index, f"use_{k}"]).all(), k
        for _, row in case_rows.iterrows():
            pid = row["person_id"]
            assert row[f"cat_{k}"] == exp.loc[pid, f"cat_{k}"] == survival.loc[pid, f"cat_{k}"], (pid, k)
            assert row[f"{k}_gt1"] == exp.loc[pid, f"{k}_gt1"], (pid, k)
    codes = {pid: tuple(int(exp.loc[pid, f"cat_{k}"]) for k in CLASSES) for pid in (1, 2, 3)}
    assert codes == {1: (3, 0, 0), 2: (0, 1, 0), 3: (0, 0, 2)}
    assert survival.loc[3, "use_antidepressants"] == 1 and patients.loc[3, "antidepressants"] == 1
    assert exp.loc[3, "antidepressants_gt1"] == 1 and exp.loc[2, "hypnotics_gt1"] == 0


def test_ages_and_times_use_the_one_conversion(hand_made):
    registry, _, survival, alsfrs = hand_made
    expected_age = (D("2020-01-10") - D("1955-01-10")).days / 365.25
    assert survival.loc[1, "age"] == expected_age
    assert alsfrs.loc[alsfrs["person_id"] == 1, "age"].iloc[0] == expected_age
    table = build_analysis_table(registry)
    assert table.loc[table["person_id"] == 1, "age"].iloc[0] == expected_age
    assert age_in_years(np.array(["1955-01-10"], "datetime64[D]"), np.array(["2020-01-10"], "datetime64[D]"))[0] == (
        expected_age
    )
    both = years_between(pd.to_datetime(pd.Series(["2020-01-01", None])), pd.to_datetime(pd.Series(["2021-01-01"] * 2)))
    assert both[0] == 366 / 365.25 and np.isnan(both[1])


# ----------------------------------------------------------------------------------------------------------------
# Exposure rules reach the risk models
# ----------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tables_by_rules(paper_table):
    registry = read_registry(SYNTHETIC_DIR)
    return {
        "default": paper_table,
        "lag_years=2": build_analysis_table(registry, ExposureRules(lag_years=2)),
        "min_dispensings=3": build_analysis_table(registry, ExposureRules(min_dispensings=3)),
    }


def _table_counts(rows: pd.DataFrame, column: pd.Series) -> tuple[int, int]:
    case = rows["case"].to_numpy() == 1
    values = column.to_numpy() != 0
    return int((values & case).sum()), int((values & ~case).sum())


@pytest.mark.parametrize("comparison", COMPARISONS)
def test_lag_and_dispensing_rules_change_the_lagged_regressor_as_they_change_the_table(tables_by_rules, comparison):
    counts = {}
    for name, table in tables_by_rules.items():
        rows = table[table["comparison"] == comparison]
        for k in CLASSES:
            spec = RiskModelSpec(comparison, "lagged", (k,), "crude")
            pd.testing.assert_series_equal(
                exposure_matrix(rows, spec)[f"{k}_gt1"], rows[f"{k}_gt1"].astype(float), check_names=False
            )
            est = fit_risk_model(table, spec).to_frame().iloc[0]
            expected = _table_counts(rows, rows[f"{k}_gt1"])
            assert (est["exposed_cases"], est["exposed_controls"]) == expected, (name, k)
            counts[name, k] = expected
    for k in CLASSES:
        # A longer lag and a stricter rule both make fewer lagged users.
        assert sum(counts["lag_years=2", k]) < sum(counts["default", k]), k
        assert sum(counts["min_dispensings=3", k]) < sum(counts["default", k]), k


def test_a_two_year_lag_is_not_the_windows_rebuilt(tables_by_rules):
    table = tables_by_rules["lag_years=2"]
    lagged_by_window = np.isin(table["cat_anxiolytics"], [CATEGORY_CODES["1_5"], CATEGORY_CODES["gt5"]])
    assert int(table["anxiolytics_gt1"].sum()) == 1401 and int(lagged_by_window.sum()) == 1495
    rows = table[table["comparison"] == "population"]
    X = exposure_matrix(rows, RiskModelSpec("population", "lagged", ("anxiolytics",), "crude"))
    assert int(X["anxiolytics_gt1"].sum()) == int(rows["anxiolytics_gt1"].sum())
    # With the study's rules the lagged exposure is "window 1-5 or > 5 years".
    default = tables_by_rules["default"]
    for k in CLASSES:
        by_window = np.isin(default[f"cat_{k}"], [CATEGORY_CODES["1_5"], CATEGORY_CODES["gt5"]])
        assert (default[f"{k}_gt1"].to_numpy() == by_window).all(), k


@pytest.mark.parametrize("exposure", ["windows", "ever"])
def test_dispensing_rule_changes_window_and_ever_regressors_as_it_changes_the_table(tables_by_rules, exposure):
    for name in ("default", "min_dispensings=3"):
        table = tables_by_rules[name]
        rows = table[table["comparison"] == "population"]
        for k in CLASSES:
            est = fit_risk_model(table, RiskModelSpec("population", exposure, (k,), "crude")).to_frame()
            for r in est.itertuples():
                cat = rows[f"cat_{k}"]
                column = cat == CATEGORY_CODES[r.window] if exposure == "windows" else pd.Series(ever_used(cat))
                assert (r.exposed_cases, r.exposed_controls) == _table_counts(rows, column), (name, k, r.window)
    assert set(WINDOWS) == {w for w in CATEGORY_CODES if w != "never"}


def test_out_of_step_exposure_columns_are_refused(paper_table):
    rows = paper_table[paper_table["comparison"] == "population"].copy()
    spec = RiskModelSpec("population", "lagged", ("hypnotics",), "crude")
    with pytest.raises(ValueError, match="hypnotics_gt1"):
        exposure_matrix(rows.drop(columns="hypnotics_gt1"), spec)
    rows.loc[rows["hypnotics_gt1"] == 1, "cat_hypnotics"] = 0
    with pytest.raises(ValueError, match="out of step"):
        exposure_matrix(rows, spec)


# ----------------------------------------------------------------------------------------------------------------
# The generator's truth uses the same definitions
# ----------------------------------------------------------------------------------------------------------------


def test_true_exposures_follow_the_study_definitions():
    people = simulate_study_population(SimulationParameters(), seed=7, scale=0.3)
    for k in CLASSES:
        first, index = people[f"first_use_{k}"], people["index_date"]
        assert (window_category(first, index, DEFAULT_RULES) == people[f"cat_{k}"].to_numpy()).all(), k
    for comparison in COMPARISON_ROLES:
        rows = comparison_sets(people, comparison)
        assert set(rows["role"]) == {"case", COMPARISON_ROLES[comparison]}
        for k in CLASSES:
            lagged = lagged_use(rows[f"first_use_{k}"], rows["index_date"], DEFAULT_RULES.lag_years)
            assert (rows[f"{k}_gt1"].to_numpy() == lagged).all(), (comparison, k)
