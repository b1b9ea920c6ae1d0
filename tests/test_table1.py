"""Table 1 and exposure prevalence on the committed data."""

from __future__ import annotations

import pandas as pd

from alsmeds.reporting.table1 import baseline_table, exposure_prevalence, one_row_per_person, write_table1


def test_one_row_per_person_and_set(paper_table):
    rows = one_row_per_person(paper_table)
    assert len(rows) == 8627
    assert rows["role"].value_counts().to_dict() == {
        "population_control": 5281,
        "sibling": 1418,
        "case": 1057,
        "spouse": 871,
    }


def test_matching_shows_as_zero_smd_for_age_and_sex(paper_table):
    smd = baseline_table(paper_table).smd
    assert smd.loc["age", "Population controls"] < 0.01
    assert smd.loc["sex", "Population controls"] < 0.01
    # Spouses are mostly of the other sex: a large standardized difference.
    assert smd.loc["sex", "Spouses"] > 0.1


def test_exposure_prevalence_counts_match_the_analysis_table(paper_table):
    prev = exposure_prevalence(paper_table)
    rows = one_row_per_person(paper_table)
    cases = rows[rows["role"] == "case"]
    expected = int((cases["cat_hypnotics"] == 1).sum())
    got = prev[(prev["drug_class"] == "hypnotics") & (prev["window"] == "0_1") & (prev["people"] == len(cases))]
    assert int(got["exposed"].iloc[0]) == expected
    assert (prev["percent"] == 100 * prev["exposed"] / prev["people"]).all()


def test_write_table1_writes_csv_and_html(paper_table, tmp_path):
    paths = write_table1(baseline_table(paper_table), tmp_path)
    names = {p.name for p in paths}
    assert {"table1.csv", "table1.html", "exposure_prevalence.csv"} <= names
    assert "Population controls" in pd.read_csv(tmp_path / "table1.csv").to_string()


def test_sentences_computed_from_the_tables(paper_table):
    from alsmeds.data.registry import read_registry
    from alsmeds.derive.cohort import set_members
    from alsmeds.paths import SYNTHETIC_DIR
    from alsmeds.reporting.table1 import prevalence_sentence, smd_sentence, threshold_sentence, users_by_threshold

    registry = read_registry(SYNTHETIC_DIR)
    thresholds = users_by_threshold(registry["dispensings"], set_members(registry))
    assert threshold_sentence(thresholds).startswith(
        "Of the people with at least one dispensing of a class, 22% to 30%"
    )
    prevalence = exposure_prevalence(paper_table)
    text = prevalence_sentence(prevalence)
    assert "in 9 of 9 class-window cells" in text and "(hypnotics, 0-1 y" in text
    # A class nobody used is left out of the count and named.
    unused = prevalence.assign(exposed=prevalence["exposed"].where(prevalence["drug_class"] != "hypnotics", 0))
    unused["percent"] = 100 * unused["exposed"] / unused["people"]
    assert "of 6 class-window cells with any use (nobody used hypnotics)" in prevalence_sentence(unused)
    assert prevalence_sentence(prevalence[prevalence["role"] == "case"]).startswith("No comparison")
    smd = baseline_table(paper_table).smd
    assert smd_sentence(smd) == (
        "Against population controls, no SMD above 0.1 (largest: civil, 0.09); "
        "against full siblings: country 0.11, civil 0.10; against spouses: sex 0.19."
    )


def test_exposure_prevalence_follows_the_use_in_window_definition():
    """Under use_in_window a long-term user counts in every window of use; lagged and ever rows do not move."""
    from alsmeds import Study
    from alsmeds.constants import CLASSES, WINDOWS
    from alsmeds.derive.exposure import ExposureRules

    study = Study.synthetic()
    in_window = study.with_rules(ExposureRules(definition="use_in_window")).analysis_table
    first = exposure_prevalence(study.analysis_table).set_index(["drug_class", "window", "role"])
    every = exposure_prevalence(in_window).set_index(["drug_class", "window", "role"])
    people = one_row_per_person(in_window)
    for k in CLASSES:
        for w in WINDOWS:
            expected = people.groupby("role", observed=True)[f"{k}_in_{w}"].sum()
            got = every.xs((k, w), level=["drug_class", "window"])["exposed"]
            assert got.to_dict() == {r: int(n) for r, n in expected.items() if r in got.index}
    assert (every.xs("gt1", level="window")["exposed"] == first.xs("gt1", level="window")["exposed"]).all()
    assert (every.xs("ever", level="window")["exposed"] == first.xs("ever", level="window")["exposed"]).all()
    assert every["exposed"].sum() > first["exposed"].sum(), "overlapping windows count long-term users again"
