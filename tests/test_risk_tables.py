"""Tables of the risk models (reporting/risk_tables.py): the one selection rule, ratios of odds ratios, layouts.

Checked on small frames built here (exact arithmetic) and on the committed results files the
notebooks 03 and 04 load (``results/``), against the definitions written out in the tests.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from alsmeds.analyses import read_results_file
from alsmeds.constants import CLASSES, NEGATIVE_CONTROL, WINDOWS, Z_975, Z_DETECTABLE_80
from alsmeds.models.risk import COMPARISONS, compare_with_published, compare_with_truth
from alsmeds.paths import COMMITTED_RESULTS_DIR, SYNTHETIC_DIR
from alsmeds.reporting import risk_tables as rt
from alsmeds.reporting.describe import implied_estimand_table
from alsmeds.reporting.evalue import evalue_frame
from alsmeds.truth import Truth, read_truth


@pytest.fixture(scope="module")
def estimates() -> pd.DataFrame:
    return read_results_file(COMMITTED_RESULTS_DIR / "risk_models.csv")


@pytest.fixture(scope="module")
def sensitivity() -> pd.DataFrame:
    return read_results_file(COMMITTED_RESULTS_DIR / "sensitivity_analyses.csv")


@pytest.fixture(scope="module")
def subgroups() -> tuple[pd.DataFrame, pd.DataFrame]:
    return (
        read_results_file(COMMITTED_RESULTS_DIR / "effect_modification.csv"),
        read_results_file(COMMITTED_RESULTS_DIR / "interaction_tests.csv"),
    )


@pytest.fixture(scope="module")
def truth() -> Truth:
    return read_truth(SYNTHETIC_DIR / "truth.json")


def _not_estimable(frame: pd.DataFrame, rows: int, reason: str) -> pd.DataFrame:
    """A copy with its first ``rows`` terms not estimable for ``reason``."""
    broken = frame.assign(reason=frame["reason"].astype(object))
    broken.loc[broken.index[:rows], ["estimable", "reason"]] = [False, reason]
    return broken


def _by_hand(frame: pd.DataFrame, **where) -> pd.DataFrame:
    keep = np.ones(len(frame), dtype=bool)
    for column, value in where.items():
        keep &= (frame[column] == value).to_numpy()
    return frame[keep]


# --------------------------------------------------------------------------- selection


def test_select_estimates_keeps_equal_rows_any_of_a_list_and_ignores_none():
    frame = pd.DataFrame({"a": [1, 1, 2, 3], "b": ["x", "y", "x", "x"]})
    assert rt.select_estimates(frame, a=1).index.tolist() == [0, 1]
    assert rt.select_estimates(frame, a=[1, 3], b="x").index.tolist() == [0, 3]
    assert rt.select_estimates(frame, a=None, b="x").index.tolist() == [0, 2, 3]
    assert rt.select_estimates(frame).equals(frame)
    with pytest.raises(KeyError, match="no column 'c'"):
        rt.select_estimates(frame, c=1)


def test_the_main_model_is_population_lagged_per_class_adjusted(estimates):
    assert rt.MAIN_MODEL == {
        "comparison": "population",
        "exposure": "lagged",
        "model": "per_class",
        "adjustment": "adjusted",
    }
    main = rt.main_estimates(estimates)
    by_hand = _by_hand(estimates, comparison="population", exposure="lagged", model="per_class", adjustment="adjusted")
    assert main.equals(by_hand) and list(main["drug_class"]) == list(CLASSES)
    every = rt.main_estimates(estimates, comparison=None)
    assert list(dict.fromkeys(every["comparison"])) == list(COMPARISONS) and len(every) == 9
    windows = rt.main_estimates(estimates, exposure="windows", drug_class="hypnotics")
    assert list(windows["window"]) == list(WINDOWS)


# --------------------------------------------------------------------------- ratios of odds ratios


def test_ratio_of_ratios_adds_the_variances_of_independent_estimates():
    ratio, lower, upper = rt.ratio_of_ratios(math.log(2.0), 0.1, math.log(1.25), 0.2)
    half = Z_975 * math.sqrt(0.1**2 + 0.2**2)
    assert ratio == pytest.approx(1.6)
    assert lower == pytest.approx(1.6 * math.exp(-half)) and upper == pytest.approx(1.6 * math.exp(half))
    r, lo, hi = rt.ratio_of_ratios(np.log([1.0, 3.0]), [0.1, 0.1], np.log([1.0, 1.0]), [0.0, 0.1])
    assert r.tolist() == pytest.approx([1.0, 3.0]) and lo[0] < 1 < hi[0]


def test_se_from_a_symmetric_95_percent_interval():
    se = 0.15
    assert rt.se_from_ci(math.exp(-Z_975 * se), math.exp(Z_975 * se)) == pytest.approx(se)


def test_published_ratios_are_ours_over_the_published_with_both_standard_errors(estimates):
    published = compare_with_published(estimates)
    table = rt.published_ratios(estimates)
    assert len(table) == len(published) == 6
    first = published.iloc[0]
    se_ours = math.log(first["ci_upper"] / first["ci_lower"]) / (2 * Z_975)
    se_published = math.log(first["published_upper"] / first["published_lower"]) / (2 * Z_975)
    m = math.log(first["odds_ratio"] / first["published_or"])
    h = Z_975 * math.hypot(se_ours, se_published)
    assert table.iloc[0, 2] == f"{math.exp(m):.2f} ({math.exp(m - h):.2f}-{math.exp(m + h):.2f})"
    summary = rt.published_ratio_summary(estimates)
    assert summary.startswith("ratio interval includes 1: ") and summary.endswith("of 6; not estimable here: 0")


def test_published_ratio_summary_counts_what_is_not_estimable_here(estimates):
    missing = estimates.assign(estimable=False, odds_ratio=np.nan, ci_lower=np.nan, ci_upper=np.nan)
    assert rt.published_ratio_summary(missing) == "ratio interval includes 1: 0 of 6; not estimable here: 6"
    assert set(rt.published_ratios(missing).iloc[:, 2]) == {"not estimable"}


def test_relative_ratios_are_relatives_over_population_and_empty_without_relatives(estimates):
    ratios = rt.relative_ratios(estimates)
    assert list(ratios.index) == list(CLASSES)
    assert list(ratios.columns) == ["Siblings / population", "Spouses / population"]
    by = rt.main_estimates(estimates, comparison=None).set_index(["drug_class", "comparison"])
    a, b = by.loc[("hypnotics", "sibling")], by.loc[("hypnotics", "population")]
    expected = math.exp(a["log_or"] - b["log_or"])
    assert ratios.loc["hypnotics", "Siblings / population"].startswith(f"{expected:.2f} (")
    assert rt.relative_ratios(estimates[estimates["comparison"] == "population"]).empty


# --------------------------------------------------------------------------- notebook 03 tables


def test_fit_overview_counts_models_and_lists_reasons(estimates):
    assert rt.fit_overview(estimates).splitlines()[0].startswith(f"{len(estimates)} estimates from 18 models")
    broken = _not_estimable(estimates, 2, "no exposed case")
    lines = rt.fit_overview(broken).splitlines()
    assert lines[0].endswith("not estimable: 2") and "no exposed case" in lines[-1] and lines[-1].endswith("2")


def test_windows_table_and_the_prodromal_ratio(estimates):
    table = rt.windows_table(estimates)
    assert list(table.index) == list(CLASSES)
    assert list(table.columns) == ["OR, 0-1 y", "OR, 1-5 y", "OR, >5 y", "0-1 y / >5 y"]
    hyp = rt.main_estimates(estimates, exposure="windows", drug_class="hypnotics").set_index("window")["odds_ratio"]
    assert table.loc["hypnotics", "0-1 y / >5 y"] == pytest.approx(hyp["0_1"] / hyp["gt5"])
    largest = table["OR, 0-1 y"].idxmax()
    assert rt.largest_prodromal(estimates) == f"largest 0-1 year odds ratio: {largest}, {table['OR, 0-1 y'].max():.1f}"
    missing = estimates.assign(odds_ratio=np.nan)
    assert rt.largest_prodromal(missing) == "no 0-1 year odds ratio could be estimated"


def test_lagged_by_comparison_formats_each_comparison_in_columns(estimates):
    table = rt.lagged_by_comparison(estimates)
    assert list(table.index) == list(CLASSES)
    assert list(table.columns) == ["Population controls", "Siblings", "Spouses"]
    row = rt.main_estimates(estimates, drug_class="anxiolytics").iloc[0]
    assert table.loc["anxiolytics", "Population controls"] == (
        f"{row.odds_ratio:.2f} ({row.ci_lower:.2f}-{row.ci_upper:.2f})"
    )


def test_main_evalues_and_minimal_detectable_odds_ratios(estimates):
    main = rt.main_estimates(estimates)
    ev = rt.main_evalues(estimates)
    assert list(ev.columns) == ["drug_class", "odds_ratio", "ci_lower", "ci_upper", "evalue_estimate", "evalue_ci"]
    assert ev["evalue_estimate"].tolist() == evalue_frame(main)["evalue_estimate"].tolist()
    power = rt.minimal_detectable_or(estimates)
    assert power["Minimal detectable OR"].tolist() == pytest.approx(np.exp(Z_DETECTABLE_80 * main["se"]).tolist())
    assert list(power.columns) == ["drug_class", "SE of log OR", "discordant_sets", "Minimal detectable OR"]


def test_example_matched_set_is_a_whole_set_whose_case_used_the_preferred_class(paper_table):
    example = rt.example_matched_set(paper_table, prefer="hypnotics")
    assert example["set_id"].nunique() == 1 and example["case"].sum() == 1
    assert example.loc[example["case"] == 1, "hypnotics_gt1"].iloc[0] == 1
    whole = paper_table[
        (paper_table["comparison"] == "population") & (paper_table["set_id"] == example["set_id"].iloc[0])
    ]
    assert len(example) == len(whole)
    unexposed = paper_table.assign(**{f"{k}_gt1": 0 for k in CLASSES})
    assert rt.example_matched_set(unexposed).empty


# --------------------------------------------------------------------------- planted truth


def test_planted_estimands_stack_every_comparison_and_need_a_truth(truth):
    assert rt.planted_estimands(None) is None
    planted = rt.planted_estimands(truth, "mutual_windows")
    assert list(dict.fromkeys(planted["comparison"])) == list(COMPARISONS) and len(planted) == 27
    empty = Truth.from_dict({"seed": 1, "scale": 1.0, "estimands": {}})
    assert rt.planted_estimands(empty) is None


def test_coverage_by_comparison_is_compare_with_truth_per_comparison(estimates, truth):
    planted = rt.planted_estimands(truth, "mutual_windows")
    table = rt.coverage_by_comparison(estimates, planted).set_index("comparison")
    for comparison in COMPARISONS:
        ours = rt.select_estimates(estimates, model="mutual", exposure="windows", comparison=comparison)
        merged = compare_with_truth(ours, implied_estimand_table(truth, f"{comparison}_mutual_windows"))
        assert table.loc[comparison, "terms"] == len(merged) == 9
        assert table.loc[comparison, "inside 95% CI"] == merged["ci_covers_truth"].sum()
        assert table.loc[comparison, "mean z"] == pytest.approx(round(merged["z"].mean(), 2))


def test_planted_sibling_removal_is_the_ratio_of_the_two_implied_odds_ratios(truth):
    assert rt.planted_sibling_removal(None) is None
    removed = rt.planted_sibling_removal(truth)
    assert list(removed.index) == [*CLASSES, NEGATIVE_CONTROL]
    population = math.exp(truth.implied_log_or("population_per_class", "hypnotics_gt1").value)
    sibling = math.exp(truth.implied_log_or("sibling_per_class", "hypnotics_gt1").value)
    assert removed.loc["hypnotics"].tolist() == pytest.approx([population, sibling, population / sibling])
    ppi = truth.negative_control_implied("population", "adjusted")[f"{NEGATIVE_CONTROL}_gt1"].value
    assert removed.loc[NEGATIVE_CONTROL, "planted OR, population"] == pytest.approx(math.exp(ppi))


def test_negative_control_table_shows_the_implied_estimand_only_when_known(sensitivity, truth):
    from alsmeds.analyses.sensitivity import negative_control_vs_truth

    rows = rt.main_estimates(sensitivity, analysis="negative_control", comparison=None)
    with_truth = negative_control_vs_truth(rows, truth)
    assert list(rt.negative_control_table(with_truth).columns) == [
        "comparison",
        "odds_ratio",
        "ci_lower",
        "ci_upper",
        "z from the null (OR 1)",
        "Implied estimand (OR)",
        "z from the implied estimand",
    ]
    assert len(rt.implied_negative_control(with_truth)) == 3
    without = negative_control_vs_truth(rows, None)
    assert "Implied estimand (OR)" not in rt.negative_control_table(without).columns
    assert rt.implied_negative_control(without) is None


def test_with_negative_control_appends_the_negative_control_rows(estimates, sensitivity):
    both = rt.with_negative_control(estimates, sensitivity)
    assert len(both) == len(estimates) + (sensitivity["analysis"] == "negative_control").sum()
    main = rt.main_estimates(both, comparison=None)
    assert set(main["drug_class"]) == {*CLASSES, NEGATIVE_CONTROL} and len(main) == 12


# --------------------------------------------------------------------------- sensitivity analyses


def test_lag_variants_name_each_analysis_choice_main_first(sensitivity):
    variants = rt.lag_variants(sensitivity, main_lag=1)
    assert list(dict.fromkeys(variants["variant"])) == [
        "main: 1-year lag",
        "2-year lag",
        "psychiatric history also lagged 1 year",
    ]
    assert set(variants["comparison"]) == {"population"}
    cases = rt.exposed_cases_by_variant(variants)
    assert list(cases.index) == [*CLASSES, NEGATIVE_CONTROL] and list(cases.columns) == list(
        dict.fromkeys(variants["variant"])
    )
    assert (cases["2-year lag"] <= cases["main: 1-year lag"]).all()  # a longer lag only removes users
    assert rt.lag_variants(sensitivity.iloc[0:0], main_lag=1).empty


def test_by_lag_table_puts_the_lags_side_by_side():
    rows = [
        {"lag_years": lag, "drug_class": k, "odds_ratio": 1.5, "ci_lower": 1.0, "ci_upper": 2.25, "exposed_cases": 10}
        for lag in (1, 2)
        for k in CLASSES
    ]
    table = rt.by_lag_table(pd.DataFrame(rows))
    assert list(table.columns) == [
        "1-year lag: OR (95% CI)",
        "1-year lag: exposed cases",
        "2-year lag: OR (95% CI)",
        "2-year lag: exposed cases",
    ]
    assert table.loc["hypnotics", "2-year lag: OR (95% CI)"] == "1.50 (1.00-2.25)"


def test_familial_factor_table_rows_are_the_two_simulations():
    fits = pd.DataFrame(
        {
            "familial factor": ["on", "on", "off", "off"],
            "comparison": ["population", "sibling"] * 2,
            "odds_ratio": [1.3, 1.1, 1.0, 0.9],
            "ci_lower": [1.1, 0.9, 0.8, 0.7],
            "ci_upper": [1.5, 1.4, 1.2, 1.2],
        }
    )
    table = rt.familial_factor_table(fits)
    assert list(table.index) == ["familial factor on", "familial factor off"]
    assert list(table.columns) == ["Population controls", "Siblings"]
    assert table.loc["familial factor off", "Siblings"] == "0.90 (0.70-1.20)"


# --------------------------------------------------------------------------- notebook 04


def test_age_strata_and_cases_by_age(paper_table):
    assert rt.age_strata(65) == ("<65", "65+") and rt.age_strata(70.0) == ("<70", "70+")
    young, old = rt.cases_by_age(paper_table, 65)
    cases = paper_table[(paper_table["comparison"] == "population") & (paper_table["case"] == 1)]
    assert young + old == len(cases) and young == (cases["age"] < 65).sum()
    assert (
        rt.stratum_sizes(paper_table, 65, "lagged") == f"cases under 65: {young}; 65 or older: {old}; exposure: lagged"
    )


def test_age_table_lays_out_every_comparison_and_class(subgroups):
    estimates, _ = subgroups
    table = rt.age_table(estimates, 65)
    assert list(table.columns) == ["OR, all ages", "OR, aged <65", "OR, aged 65+"]
    assert len(table) == 9 and table.index.names == ["comparison", "drug_class"]
    row = _by_hand(estimates, comparison="population", drug_class="hypnotics", stratified_by="age", stratum="<65")
    assert table.loc[("population", "hypnotics"), "OR, aged <65"] == row["odds_ratio"].iloc[0]


def test_not_estimable_note_is_empty_when_everything_was_estimated(subgroups):
    estimates, _ = subgroups
    assert rt.not_estimable_note(estimates, ["comparison", "stratum", "reason"], stratified_by="age") == ""
    broken = _not_estimable(estimates, 1, "no exposed case")
    note = rt.not_estimable_note(broken, ["comparison", "reason"])
    assert note.startswith("not estimable:\n") and "no exposed case" in note


def test_interaction_tables_and_the_count_beside_chance(subgroups):
    _, tests = subgroups
    age = rt.interaction_table(tests, "age", 65)
    assert list(age.columns) == [
        "comparison",
        "drug_class",
        "OR 65+",
        "OR <65",
        "Ratio of ORs (<65/65+)",
        "Ratio lower",
        "Ratio upper",
        "Wald p",
        "LR p",
    ]
    sex = rt.interaction_table(tests, "sex")
    assert list(sex.columns)[2:] == ["Sex of", "OR women", "OR men", "Ratio of ORs (men/women)", "Wald p"]
    age_tests = _by_hand(tests, stratified_by="age")
    small = int((age_tests["wald_p"] < 0.05).sum())
    assert rt.interaction_summary(tests, "age") == (
        f"{small} of 9 age-interaction tests have a Wald p-value below 0.05 "
        f"(with no age difference at all about 0.5 would by chance)"
    )
    broken = _not_estimable(tests, 1, "no exposed case in stratum <65")
    lines = rt.interaction_summary(broken, broken.loc[broken.index[0], "stratified_by"]).splitlines()
    first = broken.iloc[0]
    assert lines[0] == f"{first.comparison} {first.drug_class}: not estimable (no exposed case in stratum <65)"
    assert " of 8 " in lines[1]


def test_age_interaction_power_follows_the_normal_approximation(subgroups, truth):
    _, tests = subgroups
    power = rt.age_interaction_power(tests, truth, 65)
    assert list(power["drug_class"]) == list(CLASSES)
    row = power.iloc[0]
    d = math.log(row["planted ratio of ORs (<65/65+)"])
    se = row["SE of the log ratio, this run"]
    expected = stats.norm.cdf(abs(d) / se - Z_975) + stats.norm.cdf(-abs(d) / se - Z_975)
    assert row["approximate power"] == pytest.approx(expected)
    assert rt.age_interaction_power(tests, None, 65) is None
    assert rt.age_interaction_power(tests, truth, 70) is None  # the truth is planted at 65
    assert rt.age_interaction_power(tests.assign(window="ever"), truth, 65) is None  # planted for the lagged exposure


def test_planted_age_strata_only_at_the_planted_cutoff(truth):
    strata = rt.planted_age_strata(truth, 65)
    assert set(strata["stratum"]) == {"<65", "65+"} and len(strata) == 18
    assert rt.planted_age_strata(truth, 70) is None and rt.planted_age_strata(None, 65) is None


def test_cutoff_table_formats_both_strata():
    tests = pd.DataFrame(
        {
            "cut-off": [65],
            "cases under": [400],
            "drug_class": ["anxiolytics"],
            "or_other": [1.7],
            "or_other_lower": [1.3],
            "or_other_upper": [2.3],
            "or_reference": [1.3],
            "or_reference_lower": [0.95],
            "or_reference_upper": [1.6],
            "ratio_of_ors": [1.31],
            "lr_p": [0.2],
        }
    )
    row = rt.cutoff_table(tests).iloc[0]
    assert row["OR under (95% CI)"] == "1.70 (1.30-2.30)" and row["OR at or over (95% CI)"] == "1.30 (0.95-1.60)"
