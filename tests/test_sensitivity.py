"""Sensitivity analyses: the negative-control exposure (planted null), the exposure lag, a lagged covariate."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from alsmeds.analyses.sensitivity import (
    RULE_COLUMNS,
    TRUTH_COLUMNS,
    fit_lag_sensitivity,
    fit_main_models,
    fit_negative_control_models,
    fit_psychiatric_history_lag_sensitivity,
    negative_control_vs_truth,
)
from alsmeds.constants import CLASSES, NEGATIVE_CONTROL, NEGATIVE_CONTROL_ATC
from alsmeds.data.registry import read_registry
from alsmeds.derive.analysis_table import ANALYSIS_TABLE_COLUMNS, NEGATIVE_CONTROL_COLUMNS, build_analysis_table
from alsmeds.derive.codelists import class_codelist, negative_control_codelist
from alsmeds.derive.dates import years_before
from alsmeds.derive.exposure import DEFAULT_RULES, ExposureRules, classify_exposures, psychiatric_history
from alsmeds.models.risk import RESULT_COLUMNS
from alsmeds.paths import COMMITTED_RESULTS_DIR, SYNTHETIC_DIR
from alsmeds.precision import floats_close
from alsmeds.simulate import generate
from alsmeds.simulate.parameters import SimulationParameters
from alsmeds.simulate.population import draw_negative_control

NC = NEGATIVE_CONTROL


@pytest.fixture(scope="module")
def registry():
    return read_registry(SYNTHETIC_DIR)


def _members(index_date: str, n: int = 1) -> pd.DataFrame:
    return pd.DataFrame(
        {"person_id": np.arange(1, n + 1), "case_id": np.arange(1, n + 1), "index_date": pd.Timestamp(index_date)}
    )


def _dispensings(rows: list[tuple[int, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": [r[0] for r in rows],
            "dispensing_date": pd.to_datetime([r[1] for r in rows]),
            "atc": [r[2] for r in rows],
            "packages": 1,
        }
    )


def _without_negative_control(registry):
    disp = registry["dispensings"]
    kept = disp[~disp["atc"].str.startswith(NEGATIVE_CONTROL_ATC)].reset_index(drop=True)
    return dataclasses.replace(registry, tables={**registry.tables, "dispensings": kept})


# ---------------------------------------------------------------- the class and its code list


def test_negative_control_has_one_definition_outside_the_study_classes():
    codes = negative_control_codelist()
    assert list(codes["group"]) == [NC] and list(codes["atc_prefix"]) == [NEGATIVE_CONTROL_ATC]
    assert NC not in CLASSES
    assert set(class_codelist("class")["group"]) == set(CLASSES)
    assert SimulationParameters().negative_control.drug_class == NC


def test_negative_control_is_classified_by_the_rule_of_two():
    """Two distinct dates before the index date make a user; one date, a same-day pair or the index date do not."""
    members = _members("2020-06-15", 5)
    disp = _dispensings(
        [
            (1, "2012-01-10", "A02BC01"),
            (1, "2012-03-01", "A02BC05"),  # user: second distinct date 2012-03-01 (>5 y)
            (2, "2019-09-01", "A02BC02"),  # a single dispensing
            (3, "2018-01-01", "A02BC01"),
            (3, "2018-01-01", "A02BC01"),  # two on one day count once
            (4, "2019-01-01", "A02BC01"),
            (4, "2020-06-15", "A02BC01"),  # the index date does not count
            (5, "2019-08-01", "A02BC03"),
            (5, "2020-01-01", "A02BC01"),  # user 0-1 y: not lagged
        ]
    )
    out = classify_exposures(disp, members).set_index("person_id")
    assert out[f"cat_{NC}"].tolist() == [3, 0, 0, 0, 1]
    assert out[f"{NC}_gt1"].tolist() == [1, 0, 0, 0, 0]
    assert out.loc[1, f"first_qualifying_{NC}"] == pd.Timestamp("2012-03-01")
    assert out[[f"cat_{k}" for k in CLASSES]].eq(0).all().all()  # no study class counts a PPI


def test_study_class_columns_do_not_depend_on_the_negative_control(registry):
    with_nc = build_analysis_table(registry)
    without = build_analysis_table(_without_negative_control(registry))
    study_columns = [c for c in with_nc.columns if c not in NEGATIVE_CONTROL_COLUMNS]
    assert list(with_nc.columns[: len(ANALYSIS_TABLE_COLUMNS)]) == list(ANALYSIS_TABLE_COLUMNS)
    assert list(with_nc.columns[-len(NEGATIVE_CONTROL_COLUMNS) :]) == list(NEGATIVE_CONTROL_COLUMNS)
    pd.testing.assert_frame_equal(with_nc[study_columns], without[study_columns])
    assert with_nc[f"{NC}_gt1"].sum() > 0 and without[f"{NC}_gt1"].sum() == 0


def test_planted_use_is_confounded_by_the_familial_factor_and_prevalent(registry):
    """Planted use: 10-20% of population controls by the rule of two, more often with a higher U."""
    table = build_analysis_table(registry)
    controls = table[(table["comparison"] == "population") & (table["case"] == 0)]
    share = (controls[f"cat_{NC}"] > 0).mean()
    assert 0.10 <= share <= 0.20, share
    people = pd.read_csv(SYNTHETIC_DIR / "truth_people.csv")
    user = people[f"window_{NC}"] != "never"
    diff = people.loc[user, "familial_factor"].mean() - people.loc[~user, "familial_factor"].mean()
    se = math.sqrt(
        people.loc[user, "familial_factor"].var() / user.sum()
        + people.loc[~user, "familial_factor"].var() / (~user).sum()
    )
    assert diff > 5 * se


def test_a_non_null_negative_control_is_refused():
    params = SimulationParameters()
    params = dataclasses.replace(params, negative_control=dataclasses.replace(params.negative_control, log_or_als=0.2))
    people = pd.DataFrame(
        {"age": [60.0], "male": [True], "familial": [0.0], "index_date": [np.datetime64("2020-01-01")]}
    )
    with pytest.raises(ValueError, match="null"):
        draw_negative_control(np.random.default_rng(1), params, people)


def test_the_negative_control_has_its_own_random_stream():
    """Changing the negative control's parameters changes its own rows only, not one row of another table."""
    base = generate(seed=11, scale=0.2, truth_scale=0)
    params = SimulationParameters()
    params = dataclasses.replace(
        params, negative_control=dataclasses.replace(params.negative_control, intercept=-0.3, per_familial_factor=0.0)
    )
    other = generate(seed=11, scale=0.2, params=params, truth_scale=0)
    for name, frame in base.tables.items():
        if name != "dispensings":
            pd.testing.assert_frame_equal(frame, other.tables[name])

    # Every row that is not a PPI is unchanged, in order; planted PPI rows follow the new parameters.
    a, b = base.tables["dispensings"], other.tables["dispensings"]
    ppi_a, ppi_b = a["atc"].str.startswith("A02BC"), b["atc"].str.startswith("A02BC")
    pd.testing.assert_frame_equal(a[~ppi_a].reset_index(drop=True), b[~ppi_b].reset_index(drop=True))
    assert ppi_b.sum() > ppi_a.sum()  # a higher intercept plants more users
    study_cols = [c for c in base.people.columns if not c.endswith(f"_{NC}")]
    pd.testing.assert_frame_equal(base.people[study_cols], other.people[study_cols])


# ---------------------------------------------------------------- models


def test_negative_control_models_in_the_results_vocabulary(paper_table, committed_truth):
    est = fit_negative_control_models(paper_table)
    assert list(est.columns) == RESULT_COLUMNS
    assert set(est["drug_class"]) == {NC}
    assert len(est) == 3 * 2 * 4  # comparisons x adjustments x (gt1 + three windows)
    assert est["estimable"].all()
    beside = negative_control_vs_truth(est, committed_truth)
    assert list(beside.columns) == RESULT_COLUMNS + TRUTH_COLUMNS
    assert (beside["planted_log_or"] == 0).all() and beside["implied_log_or"].notna().all()
    # Without truth (a real extract) the truth columns are empty, the null test remains.
    real = negative_control_vs_truth(est, None)
    assert real["implied_log_or"].isna().all() and real["z_null"].notna().all()


def test_committed_truth_records_the_planted_null_and_the_confounded_estimands(committed_truth):
    nc = committed_truth["estimands"]["negative_control"]
    assert nc["drug_class"] == NC and nc["planted_log_or"] == 0
    implied = nc["implied"]
    pop, sib, spouse = (implied[c]["adjusted"][f"{NC}_gt1"] for c in ("population", "sibling", "spouse"))
    # Confounding by U: population controls target an OR above 1, siblings (same U) 1, spouses in between.
    assert pop["log_or"] > 0.15 and pop["log_or"] / pop["mc_se"] > 10
    assert abs(sib["log_or"]) < 3 * sib["mc_se"]
    assert sib["log_or"] + 3 * sib["mc_se"] < spouse["log_or"] < pop["log_or"] - 3 * pop["mc_se"]


def test_nobody_using_the_negative_control_gives_not_estimable_rows(registry):
    table = build_analysis_table(_without_negative_control(registry))
    est = fit_negative_control_models(table)
    assert list(est.columns) == RESULT_COLUMNS
    assert not est["estimable"].any()
    assert (est["reason"] == "no discordant matched set").all()
    assert est["log_or"].isna().all()
    # An extract without siblings: that comparison's terms are not estimable, with the reason.
    no_sib = fit_negative_control_models(table[table["comparison"] != "sibling"])
    assert no_sib.loc[no_sib["comparison"] == "sibling", "reason"].str.startswith("no matched set").all()


@pytest.mark.slow
def test_negative_control_shows_residual_confounding_at_scale(large_table, committed_truth):
    """20x the paper: the sibling OR is within 3 SE of 1, the population OR within 3 SE of its estimand and above 1."""
    est = negative_control_vs_truth(fit_negative_control_models(large_table), committed_truth)
    lagged = est[(est["exposure"] == "lagged")].set_index(["comparison", "adjustment"])
    for adjustment in ("crude", "adjusted"):
        sib = lagged.loc[("sibling", adjustment)]
        assert abs(sib["z_null"]) < 3, sib
        pop = lagged.loc[("population", adjustment)]
        assert abs(pop["z_implied"]) < 3, pop
        assert pop["z_null"] > 5 and pop["ci_lower"] > 1, pop
        spouse = lagged.loc[("spouse", adjustment)]
        assert abs(spouse["z_implied"]) < 3, spouse


# ---------------------------------------------------------------- lag of the exposure


def test_lag_rule_flows_from_the_dispensings_to_the_models(registry):
    """A first qualifying use 1-2 years before the index date is exposed at lag 1, not at lag 2."""
    members = _members("2021-03-01", 3)
    disp = _dispensings(
        [
            (1, "2019-06-01", "N05BA01"),
            (1, "2019-07-01", "N05BA01"),  # 1.7 years before: exposed at lag 1 only
            (2, "2018-01-01", "N05BA01"),
            (2, "2018-02-01", "N05BA01"),  # 3.1 years before: both
            (3, "2020-05-01", "N05BA01"),
            (3, "2020-06-01", "N05BA01"),  # 0.75 years before: neither
        ]
    )
    lag1 = classify_exposures(disp, members, ExposureRules(lag_years=1))
    lag2 = classify_exposures(disp, members, ExposureRules(lag_years=2))
    assert lag1["anxiolytics_gt1"].tolist() == [1, 1, 0]
    assert lag2["anxiolytics_gt1"].tolist() == [0, 1, 0]
    # The edge: exactly two calendar years before is not "more than two years before".
    edge = _dispensings([(1, "2018-01-01", "N05BA01"), (1, "2019-03-01", "N05BA01")])
    assert classify_exposures(edge, members.iloc[:1], ExposureRules(lag_years=2))["anxiolytics_gt1"].tolist() == [0]

    # In the models: the exposed counts at each lag are those of the table built with that lag.
    result = fit_lag_sensitivity(registry, lags=(1, 2), comparisons=("population",))
    assert list(result.columns) == RULE_COLUMNS + RESULT_COLUMNS
    for lag in (1, 2):
        table = build_analysis_table(registry, ExposureRules(lag_years=lag))
        pop = table[table["comparison"] == "population"]
        rows = result[result["lag_years"] == lag].set_index("drug_class")
        for k in (*CLASSES, NC):
            assert rows.loc[k, "exposed_cases"] == pop.loc[pop["case"] == 1, f"{k}_gt1"].sum()
    first = build_analysis_table(registry)
    moved = first[
        (first["anxiolytics_gt1"] == 1)
        & (first["first_qualifying_anxiolytics"] >= pd.Series(years_before(first["index_date"].to_numpy(), 2)))
    ]
    assert len(moved) > 0  # some people are exposed at lag 1 and not at lag 2
    by_lag = result.set_index(["lag_years", "drug_class"])["exposed_cases"]
    assert all(by_lag.loc[(2, k)] <= by_lag.loc[(1, k)] for k in CLASSES)


def test_lag_one_reproduces_the_committed_main_estimates(registry):
    committed = pd.read_csv(COMMITTED_RESULTS_DIR / "risk_models.csv")
    main = committed[
        (committed["exposure"] == "lagged")
        & (committed["model"] == "per_class")
        & (committed["adjustment"] == "adjusted")
    ].set_index(["comparison", "drug_class"])
    ours = fit_lag_sensitivity(registry, lags=(1,))
    ours = ours[ours["drug_class"] != NC].set_index(["comparison", "drug_class"])
    assert len(ours) == len(main) == 9
    for key, row in ours.iterrows():
        for col in ("log_or", "se", "odds_ratio", "ci_lower", "ci_upper"):
            assert floats_close(row[col], main.loc[key, col]), (key, col, row[col], main.loc[key, col])
        assert row["exposed_cases"] == main.loc[key, "exposed_cases"]


# ---------------------------------------------------------------- lagged psychiatric history


def test_psychiatric_history_lag_counts_only_diagnoses_before_the_lagged_date():
    members = _members("2020-02-29", 4)
    diagnoses = pd.DataFrame(
        {
            "person_id": [1, 2, 3, 4],
            "diagnosis_date": pd.to_datetime(["2019-08-01", "2018-06-01", "2019-02-28", "2019-02-27"]),
            "icd10": ["F321", "F411", "F329", "F329"],
        }
    )
    lag0 = psychiatric_history(diagnoses, members).set_index("person_id")
    lag1 = psychiatric_history(diagnoses, members, lag_years=1).set_index("person_id")
    assert lag0["psych_history"].tolist() == [1, 1, 1, 1]
    # One year before 2020-02-29 is 2019-02-28 (years_before); "before" is strict.
    assert lag1["psych_history"].tolist() == [0, 1, 0, 1]
    assert lag1.loc[2, "psych_anxiety"] == 1 and lag1.loc[1, "psych_depression"] == 0


def test_psychiatric_history_lag_default_keeps_every_committed_result(registry, paper_table):
    assert DEFAULT_RULES.psychiatric_history_lag_years == 0
    lagged = build_analysis_table(registry, ExposureRules(psychiatric_history_lag_years=1))
    psych = [c for c in paper_table.columns if c.startswith("psych_")]
    others = [c for c in paper_table.columns if c not in psych]
    pd.testing.assert_frame_equal(lagged[others], paper_table[others])
    assert (lagged["psych_history"] <= paper_table["psych_history"]).all()
    assert (lagged["psych_history"] < paper_table["psych_history"]).any()

    result = fit_psychiatric_history_lag_sensitivity(registry)
    assert list(result.columns) == RULE_COLUMNS + RESULT_COLUMNS
    assert set(result["psychiatric_history_lag_years"]) == {0, 1}
    base = result[result["psychiatric_history_lag_years"] == 0].drop(columns=RULE_COLUMNS).reset_index(drop=True)
    main = fit_main_models(paper_table).drop(columns=RULE_COLUMNS)
    pd.testing.assert_frame_equal(base, main)
    lagged_rows = result[result["psychiatric_history_lag_years"] == 1]
    assert lagged_rows["estimable"].all()
    # Same exposure, another covariate: the exposed counts are those of the main models.
    assert (lagged_rows["exposed_cases"].to_numpy() == base["exposed_cases"].to_numpy()).all()


def test_stack_sensitivity_analyses_labels_each_analysis_and_keeps_its_rows():
    from alsmeds.analyses.sensitivity import ANALYSES, RULE_COLUMNS, stack_sensitivity_analyses
    from alsmeds.models.risk import RESULT_COLUMNS
    from alsmeds.reporting.results import SENSITIVITY_COLUMNS

    def rows(n: int, **extra) -> pd.DataFrame:
        frame = pd.DataFrame({c: [f"{c}{i}" for i in range(n)] for c in RESULT_COLUMNS})
        return frame.assign(**extra)

    stacked = stack_sensitivity_analyses(
        rows(2),
        rows(3, lag_years=[1, 2, 2], psychiatric_history_lag_years=0),
        rows(1, lag_years=1, psychiatric_history_lag_years=1),
        ExposureRules(lag_years=2),
    )
    assert list(stacked.columns) == ["analysis", *RULE_COLUMNS, *RESULT_COLUMNS] == list(SENSITIVITY_COLUMNS)
    assert stacked["analysis"].tolist() == [ANALYSES[0]] * 2 + [ANALYSES[1]] * 3 + [ANALYSES[2]]
    assert stacked["lag_years"].tolist() == [2, 2, 1, 2, 2, 1], (
        "the negative control carries the rules it was fitted under"
    )
    assert stacked["psychiatric_history_lag_years"].tolist() == [0, 0, 0, 0, 0, 1]
