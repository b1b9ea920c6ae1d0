"""Display helpers of :mod:`alsmeds.reporting.describe`: stable text for nbval-checked cells, and the truth tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from alsmeds.reporting import describe


def test_rounded_and_fixed_never_show_a_negative_zero():
    assert str(describe.rounded(-1e-15, 3)) == "0.0" and math.copysign(1, describe.rounded(-1e-15, 3)) == 1
    frame = pd.DataFrame({"x": [-0.0004, 0.123456, -0.5], "label": ["a", "b", "c"]})
    text = describe.rounded(frame, 3).to_string()
    assert "-0.000" not in text and "0.123" in text and "-0.5" in text and "label" in text
    series = describe.rounded(pd.Series([-1e-12, 2.0]), 2)
    assert series.map(lambda v: math.copysign(1, v)).tolist() == [1.0, 1.0]
    assert describe.fixed(-0.004) == "0.00" and describe.fixed(-0.006) == "-0.01" and describe.fixed(0.35, 1) == "0.3"


def test_p_values_and_ratios_as_stable_text():
    assert describe.format_p(0.0004) == "<0.001" and describe.format_p(0.0067) == "0.007"
    assert describe.format_p(0.4204) == "0.42" and describe.format_p(np.nan) == "n.a."
    assert describe.format_ratio(1.5236, 1.2757, 1.8197) == "1.52 (1.28-1.82)"
    assert (
        describe.format_ratio(np.nan, np.nan, np.nan, "no users of hypnotics") == "not estimable: no users of hypnotics"
    )


def test_truth_tables_need_a_truth(committed_truth):
    for table in (describe.truth_table, describe.published_table):
        with pytest.raises(ValueError, match="no planted truth"):
            table(None)
    assert describe.truth_table(committed_truth).shape == (9, 5)
    with pytest.raises(ValueError, match="no planted truth"):
        describe.implied_estimand_table(None, "population_mutual_windows")


def test_composition_sentence_counts_cases_without_controls():
    composition = pd.DataFrame(
        {"population_controls": [5, 5, 4, 0], "siblings": [1, 0, 0, 0], "has_spouse": [True, False, True, False]}
    )
    text = describe.composition_sentence(composition)
    assert text.startswith("4 matched sets: 2 with 5 population controls, 1 with fewer and 1 with none")
    assert "25% of the cases have at least one full sibling" in text and "50% a spouse" in text
    assert text.endswith("1 case has no control at all.")


# ---------------------------------------------------------------------------- what notebook 01 shows


def _members() -> pd.DataFrame:
    return describe.members(
        pd.DataFrame(
            {
                "person_id": [1, 2, 3, 4, 5, 6],
                "case_id": [1, 1, 1, 4, 4, 4],
                "role": ["case", "population_control", "sibling", "case", "population_control", "spouse"],
                "age": [60.0, 60.5, 63.0, 70.0, 70.2, 68.0],
                "sex": ["male", "male", "female", "female", "female", "male"],
            }
        )
    )


def test_a_note_shows_as_plain_text_without_quotes():
    note = describe.Note("no planted truth")
    assert repr(note) == "no planted truth" and note == "no planted truth"


def test_table_overview_lists_every_table_with_rows_and_columns():
    text = describe.table_overview({"persons": pd.DataFrame({"a": range(1234), "b": 0}), "empty": pd.DataFrame()})
    assert text.splitlines() == ["persons: 1,234 rows; columns: a, b", "empty: 0 rows; columns: "]


def test_show_accepted_lists_warnings_or_says_there_were_none():
    from alsmeds.data.problems import Problem

    assert isinstance(describe.show_accepted([]), describe.Note)
    warning = Problem("alsfrs", "person_id, visit_date", "same_day_alsfrs", rows=[0, 4], n_rows=2, file="alsfrs.csv")
    shown = describe.show_accepted([warning])
    assert shown.caption == "Accepted with a documented rule"
    assert shown.frame.columns.tolist() == ["table", "column", "rule", "rows", "first_lines"]
    assert shown.frame.iloc[0].tolist() == ["alsfrs", "person_id, visit_date", "same_day_alsfrs", 2, "2, 6"]


def test_by_role_reads_records_back_in_role_order_with_chosen_columns():
    members = _members()
    records = describe.role_counts(members).reset_index().to_dict(orient="records")[::-1]  # any order
    back = describe.by_role(records)
    assert list(back.index) == list(describe.ROLE_ORDER) and back.index.name == "role"
    assert back.loc["case", "people"] == 2 and back.loc["spouse", "matched_sets"] == 1
    sorted_keys = [dict(sorted(r.items())) for r in records]  # as a JSON file with sorted keys holds them
    assert describe.by_role(sorted_keys, columns=["people", "matched_sets"]).columns.tolist() == [
        "people",
        "matched_sets",
    ]
    assert describe.by_role([]).empty


def test_role_counts_and_demographics_show_with_readable_headers():
    members = _members()
    counts = repr(describe.show_role_counts(describe.role_counts(members)))
    assert counts.splitlines()[0] == "People and matched sets by role" and "Matched sets" in counts
    assert "ALS cases" in counts and "Spouses" in counts
    demographics = describe.demographics_by_role(members)
    shown = describe.show_demographics(demographics[list(describe.DEMOGRAPHIC_COLUMNS)[::-1]])  # column order restored
    assert list(shown.frame.columns) == list(describe.DEMOGRAPHIC_COLUMNS.values())
    assert "Age, mean" in repr(shown)


def test_truth_views_say_why_there_is_no_table_without_a_truth(committed_truth):
    for show in (describe.show_truth_table, describe.show_published_table):
        assert isinstance(show(None), describe.Note) and str(show(None)).startswith("no planted truth")
    assert describe.show_truth_table(committed_truth).caption == "Planted odds ratios by class and window of first use"
    assert describe.show_published_table(committed_truth).frame.shape == (6, 3)
    assert describe.rising_slopes_sentence(None) == "no planted truth: a real extract has no true trajectories"


def test_rising_slopes_sentence_counts_the_cases_with_a_rising_line():
    from alsmeds.paths import SYNTHETIC_DIR
    from alsmeds.simulate.dropout import planted_trajectory_shares

    people = pd.read_csv(SYNTHETIC_DIR / "truth_people.csv")
    shares = planted_trajectory_shares(people)
    text = describe.rising_slopes_sentence(people)
    assert text.startswith("simulated cases whose true ALSFRS-R slope is above zero (they improve): ")
    assert text.endswith(f"{describe.percent(shares.loc['rising', 'share'], 1)} of {shares.attrs['n']:,}")


def test_another_seed_is_never_the_data_s_own(committed_truth):
    from alsmeds.simulate import DEFAULT_SEED

    assert describe.another_seed(committed_truth) == committed_truth["seed"] + 1
    assert describe.another_seed(None) == DEFAULT_SEED + 1


def test_two_draws_side_by_side_and_one_sentence_each():
    drawn = {"one": _members(), "two": _members().iloc[:3]}
    side = describe.role_counts_side_by_side(drawn)
    assert side.columns.tolist() == [
        ("one", "people"),
        ("one", "matched_sets"),
        ("two", "people"),
        ("two", "matched_sets"),
    ]
    assert side.loc["spouse", ("two", "people")] == 0
    lines = describe.composition_sentences(drawn).splitlines()
    assert [line.split(":")[0] for line in lines] == ["one", "two"]
    assert lines[1] == "two: " + describe.composition_sentence(describe.set_composition(drawn["two"]))
