"""The synthetic registry: exact design counts, determinism, the contract, and planted-truth recovery.

Recovery tests fit conditional logistic regression on the *true* exposure categories
of a large simulated sample (20x the paper's) and compare with the planted truth in
standard errors: sibling comparisons against the planted within-family log odds
ratios (an exact, non-circular check), population comparisons against the
numerically computed population estimand, and, with the familial factor switched
off, population comparisons against the planted log odds ratios themselves.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from alsmeds.estimands.risk import fit_truth_model, implied_estimands
from alsmeds.models.design import POPULATION_ADJUSTMENT, RELATIVE_ADJUSTMENT
from alsmeds.paths import SYNTHETIC_DIR
from alsmeds.simulate import generate
from alsmeds.simulate.parameters import CATEGORY_CODES, CLASSES, WINDOWS, SimulationParameters
from alsmeds.simulate.population import simulate_study_population
from alsmeds.simulate.truth import comparison_sets

LARGE_SCALE = 20
SEED = 11
TOLERANCE_SE = 3.0
WINDOW_TERMS = [f"{k}_{w}" for k in CLASSES for w in WINDOWS]


@pytest.fixture(scope="module")
def paper_scale():
    return generate(seed=SEED, scale=1.0, truth_scale=0)


@pytest.fixture(scope="module")
def large_people():
    return simulate_study_population(SimulationParameters(), seed=SEED, scale=LARGE_SCALE)


def test_design_counts_match_the_paper(paper_scale):
    sp = paper_scale.tables["study_population"]
    counts = sp["role"].value_counts()
    assert counts["case"] == 1057
    assert counts["population_control"] == 5281
    assert counts["sibling"] == 1418
    assert counts["spouse"] == 871
    assert sp.loc[sp["role"] == "sibling", "case_id"].nunique() == 709
    per_set = sp[sp["role"] == "population_control"].groupby("case_id").size()
    assert (per_set == 5).sum() == 1053 and (per_set == 4).sum() == 4
    assert len(paper_scale.tables["persons"]) == 8627


def test_counts_scale_linearly():
    reg = generate(seed=SEED, scale=2.0, truth_scale=0)
    counts = reg.tables["study_population"]["role"].value_counts()
    assert counts.to_dict() == {
        "population_control": 2 * 5281,
        "case": 2 * 1057,
        "sibling": 2 * 1418,
        "spouse": 2 * 871,
    }


def test_population_controls_are_matched_on_sex_and_birth_year(paper_scale):
    sp, persons = paper_scale.tables["study_population"], paper_scale.tables["persons"].set_index("person_id")
    members = sp.join(persons[["sex", "birth_date"]], on="person_id")
    case = members[members["role"] == "case"].set_index("case_id")
    controls = members[members["role"] == "population_control"]
    assert (controls["sex"].to_numpy() == case.loc[controls["case_id"], "sex"].to_numpy()).all()
    birth_year = pd.to_datetime(controls["birth_date"]).dt.year.to_numpy()
    case_birth_year = pd.to_datetime(case.loc[controls["case_id"], "birth_date"]).dt.year.to_numpy()
    assert (birth_year == case_birth_year).all()
    # Everyone in a set shares the case's index date.
    assert (sp["index_date"].to_numpy() == case.loc[sp["case_id"], "index_date"].to_numpy()).all()


def test_same_seed_gives_identical_data_and_another_seed_does_not(paper_scale):
    again = generate(seed=SEED, scale=1.0, truth_scale=0)
    for name, frame in paper_scale.tables.items():
        pd.testing.assert_frame_equal(frame, again.tables[name])
    assert json.dumps(paper_scale.truth, sort_keys=True) == json.dumps(again.truth, sort_keys=True)
    other = generate(seed=SEED + 1, scale=1.0, truth_scale=0)
    assert not paper_scale.tables["dispensings"].equals(other.tables["dispensings"])


def test_every_table_passes_the_validator(paper_scale):
    from alsmeds.data.validate import validate_tables

    problems = validate_tables(paper_scale.tables, paper_scale.metadata)
    assert problems == [], "\n".join(str(p) for p in problems)


def test_no_dispensing_before_the_register_start(paper_scale):
    disp = paper_scale.tables["dispensings"]
    assert pd.to_datetime(disp["dispensing_date"]).min() >= pd.Timestamp("2005-07-01")


def test_rendered_dispensings_reproduce_the_true_exposure_categories(paper_scale):
    """Oracle for the rendering: second distinct dispensing date before the index date, by class."""
    disp = paper_scale.tables["dispensings"].copy()
    sp = paper_scale.tables["study_population"]
    disp = disp.merge(sp[["person_id", "index_date"]], on="person_id")
    disp = disp[pd.to_datetime(disp["dispensing_date"]) < pd.to_datetime(disp["index_date"])]
    truth = paper_scale.people.set_index("person_id")
    prefixes = {"anxiolytics": "N05B", "hypnotics": "N05C", "antidepressants": "N06A"}
    for k, prefix in prefixes.items():
        rows = disp[disp["atc"].str.startswith(prefix)].drop_duplicates(["person_id", "dispensing_date"])
        rows = rows.sort_values(["person_id", "dispensing_date"])
        second = rows.groupby("person_id")["dispensing_date"].nth(1)
        second = pd.Series(pd.to_datetime(second.to_numpy()), index=rows.loc[second.index, "person_id"].to_numpy())
        expected_first_use = pd.to_datetime(truth[f"first_use_{k}"])
        users = expected_first_use.dropna()
        assert set(second.index) == set(users.index)
        assert (second.loc[users.index].to_numpy() == users.to_numpy()).all()


def test_marginal_targets_of_the_cases():
    reg = generate(seed=SEED, scale=LARGE_SCALE / 4, truth_scale=0)
    sample = reg.truth["this_sample"]
    assert sample["case_age_mean"] == pytest.approx(67.5, abs=0.5)
    assert sample["case_age_sd"] == pytest.approx(11.5, abs=0.5)
    assert sample["case_male_share"] == pytest.approx(0.531, abs=0.02)
    assert sample["alsfrs_at_diagnosis_mean"] == pytest.approx(36.1, abs=0.5)
    q25, q50, q75 = sample["followup_years_quartiles"]
    assert q50 == pytest.approx(1.33, abs=0.1)
    assert q25 == pytest.approx(0.64, abs=0.1)
    assert q75 == pytest.approx(2.37, abs=0.2)


def test_alsfrs_visits_and_events_are_consistent(paper_scale):
    t = paper_scale.tables
    visits = t["alsfrs"].merge(t["als_cases"][["person_id", "diagnosis_date"]], on="person_id")
    assert (visits["visit_date"] >= visits["diagnosis_date"]).all()
    assert visits["alsfrs_r_total"].between(0, 48).all()
    gaps = visits.sort_values(["person_id", "visit_date"]).groupby("person_id")["visit_date"].diff().dt.days.dropna()
    assert 75 <= gaps.median() <= 95  # about every 12 weeks
    first_event = t["outcomes"].groupby("person_id")["event_date"].min()
    last_visit = visits.groupby("person_id")["visit_date"].max()
    both = first_event.index.intersection(last_visit.index)
    assert (last_visit.loc[both] <= first_event.loc[both]).all()


def _within(estimate: float, se: float, truth: float, extra_se: float = 0.0) -> bool:
    return abs(estimate - truth) <= TOLERANCE_SE * math.hypot(se, extra_se)


def test_sibling_comparison_recovers_the_planted_within_family_odds_ratios(large_people):
    """Exact estimand: siblings share the familial factor, so it cancels within the set."""
    params = SimulationParameters()
    rows = comparison_sets(large_people, "sibling")
    res = fit_truth_model(rows, "windows", RELATIVE_ADJUSTMENT, interaction_with_young=True)
    failures = []
    for k in CLASSES:
        for w in WINDOWS:
            old, inter = f"{k}_{w}", f"{k}_{w}:young"
            est_old, se_old = res.params[old], res.bse[old]
            est_young = res.params[old] + res.params[inter]
            se_young = math.sqrt(res.cov.loc[old, old] + res.cov.loc[inter, inter] + 2 * res.cov.loc[old, inter])
            if not _within(est_old, se_old, params.risk.log_or_old[k][w]):
                failures.append((old, "65+", est_old, se_old, params.risk.log_or_old[k][w]))
            if not _within(est_young, se_young, params.risk.log_or_young[k][w]):
                failures.append((old, "<65", est_young, se_young, params.risk.log_or_young[k][w]))
    assert not failures, failures
    # The covariates of the risk model are recovered too.
    assert _within(res.params["male"], res.bse["male"], params.risk.log_or_male)
    assert _within(res.params["age_decades"], res.bse["age_decades"], params.risk.log_or_per_decade_of_age)


def test_population_comparison_recovers_the_implied_population_estimand(large_people, committed_truth):
    implied = committed_truth["estimands"]["implied"]
    pop = comparison_sets(large_people, "population")
    res = fit_truth_model(pop, "windows", POPULATION_ADJUSTMENT)
    failures = []
    for term in WINDOW_TERMS:
        target = implied["population_mutual_windows"][term]
        if not _within(res.params[term], res.bse[term], target["log_or"], target["mc_se"]):
            failures.append((term, res.params[term], res.bse[term], target))
    assert not failures, failures
    for k in CLASSES:
        res = fit_truth_model(pop, "lagged", POPULATION_ADJUSTMENT, classes=[k])
        target = implied["population_per_class"][f"{k}_gt1"]
        assert _within(res.params[f"{k}_gt1"], res.bse[f"{k}_gt1"], target["log_or"], target["mc_se"]), k


def test_familial_confounding_separates_population_and_sibling_estimands_for_hypnotics(committed_truth):
    implied = committed_truth["estimands"]["implied"]
    pop = implied["population_per_class"]["hypnotics_gt1"]
    sib = implied["sibling_per_class"]["hypnotics_gt1"]
    assert pop["log_or"] - sib["log_or"] > 4 * math.hypot(pop["mc_se"], sib["mc_se"])


def test_effects_are_concentrated_under_65(committed_truth):
    implied = committed_truth["estimands"]["implied"]
    for k in CLASSES:
        young = implied["population_per_class_under_65"][f"{k}_gt1"]["log_or"]
        old = implied["population_per_class_65_plus"][f"{k}_gt1"]["log_or"]
        assert young > old + 0.15, k


def test_without_familial_factor_population_controls_recover_the_planted_odds_ratios():
    """Switch off the familial factor and age modification: the population estimand is then beta itself."""
    params = SimulationParameters()
    risk = dataclasses.replace(params.risk, log_or_familial_factor=0.0, log_or_young=params.risk.log_or_old)
    params = dataclasses.replace(params, risk=risk)
    people = simulate_study_population(params, seed=SEED + 5, scale=LARGE_SCALE)
    res = fit_truth_model(comparison_sets(people, "population"), "windows", POPULATION_ADJUSTMENT)
    failures = [
        (t, res.params[t], res.bse[t])
        for t in WINDOW_TERMS
        if not _within(res.params[t], res.bse[t], params.risk.log_or_old[t.split("_", 1)[0]][t.split("_", 1)[1]])
    ]
    assert not failures, failures


def test_implied_estimands_are_reproducible_and_close_to_published_values(committed_truth):
    """The committed truth was computed at a scale where Monte Carlo error is small."""
    implied = committed_truth["estimands"]["implied"]
    assert implied["_truth_sample"]["truth_scale"] >= 50
    for row in committed_truth["estimands"]["published_vs_implied"]:
        assert row["published_lower"] <= row["implied_or"] <= row["published_upper"], row


def test_truth_records_every_planted_parameter(committed_truth):
    params = SimulationParameters().to_dict()
    assert committed_truth["parameters"] == json.loads(json.dumps(params))
    assert set(committed_truth["estimands"]["within_family_log_or"]) == set(WINDOW_TERMS)


def test_small_truth_scale_matches_helper():
    est = implied_estimands(SimulationParameters(), seed=3, truth_scale=1)
    assert set(est["population_mutual_windows"]) == set(WINDOW_TERMS)
    assert all(np.isfinite(v["log_or"]) for v in est["population_mutual_windows"].values())


def test_exposure_category_codes_are_stable():
    assert CATEGORY_CODES == {"never": 0, "0_1": 1, "1_5": 2, "gt5": 3}


@pytest.mark.slow
def test_committed_synthetic_data_regenerate():
    """The committed data set is what the pinned generator makes from its recorded seed and scale.

    Tables byte-identical; the fitted estimands of truth.json within rounding tolerance.
    """
    from alsmeds.estimands.synthetic import check_synthetic

    check = check_synthetic(SYNTHETIC_DIR, progress=False)
    assert check.ok, check.problems
    assert check.truth is not None and check.truth.n_values > 100


def test_generator_records_the_cox_estimands_of_its_own_parameters_and_seed():
    """truth.json's implied Cox estimands are estimands.cox's, on the data's seed; the generator leaves them empty."""
    from alsmeds.estimands.cox import implied_cox_estimands
    from alsmeds.estimands.synthetic import synthetic_registry

    assert generate(seed=SEED, scale=0.05).truth["estimands"]["implied_cox"] == {}
    reg = synthetic_registry(seed=SEED, scale=0.05, truth_scale=0, cox_truth_scale=1, cache=False)
    recorded = reg.truth["estimands"]["implied_cox"]
    direct = implied_cox_estimands(SimulationParameters(), seed=SEED, truth_scale=1)
    assert recorded["_truth_sample"]["truth_scale"] == 1 and recorded["_truth_sample"]["seed"] == SEED
    for model in ("per_class", "mutual"):
        for k in CLASSES:
            assert math.isclose(recorded[model][k]["log_hr"], direct[model][k]["log_hr"], rel_tol=1e-7), (model, k)
    assert reg.truth["estimands"]["implied"] == {}  # the risk estimands stay skipped


def test_committed_cox_estimands_are_precise(committed_truth):
    """The committed Cox estimands were computed at 50x the paper's cases: Monte Carlo SE about 0.012."""
    implied = committed_truth["estimands"]["implied_cox"]
    assert implied["_truth_sample"]["truth_scale"] >= 50 and not implied["_truth_sample"]["warnings"]
    assert implied["direct"] == committed_truth["parameters"]["prognosis"]["log_hr_use"]
    for model in ("per_class", "mutual"):
        assert all(v["mc_se"] < 0.015 for v in implied[model].values()), model
