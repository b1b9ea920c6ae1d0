"""Table 1, exposure prevalence and what notebook 02 shows, on the committed data and on small frames."""

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
    from alsmeds.derive.thresholds import users_by_threshold
    from alsmeds.paths import SYNTHETIC_DIR
    from alsmeds.reporting.table1 import prevalence_sentence, smd_sentence, threshold_sentence, threshold_shares

    registry = read_registry(SYNTHETIC_DIR)
    thresholds = threshold_shares(users_by_threshold(registry["dispensings"], set_members(registry)))
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


# ---------------------------------------------------------------------------- what notebook 02 shows


def test_ever_use_is_any_window_of_first_use(paper_table):
    """ "ever before index" counts the people with a window code other than never (the models' ever indicator)."""
    prev = exposure_prevalence(paper_table).set_index(["drug_class", "window", "role"])
    rows = one_row_per_person(paper_table)
    for k in ("anxiolytics", "hypnotics", "antidepressants"):
        expected = (rows[f"cat_{k}"] != 0).groupby(rows["role"]).sum()
        got = prev.xs((k, "ever"), level=["drug_class", "window"])["exposed"]
        assert got.to_dict() == {r: int(n) for r, n in expected.items()}


def test_threshold_shares_are_percentages_of_the_counts():
    from alsmeds.reporting.table1 import show_thresholds, threshold_shares

    users = pd.DataFrame(
        [
            {"drug_class": k, "role": r, "threshold": t, "people": p, "users": u}
            for t, share in ((1, 4), (2, 2), (3, 1))
            for k in ("anxiolytics", "hypnotics", "antidepressants")
            for r, p, u in (("case", 10, share), ("population_control", 50, share * 2))
        ]
    )
    shares = threshold_shares(users)
    assert shares.index.names == ["class", "role"]
    assert shares.columns.tolist() == [
        "people",
        ">= 1 dispensing (%)",
        ">= 2 dispensings (%)",
        ">= 3 dispensings (%)",
    ]
    assert shares.loc[("hypnotics", "ALS cases")].tolist() == [10, 40.0, 20.0, 10.0]
    assert shares.loc[("hypnotics", "Population controls"), ">= 2 dispensings (%)"] == 8.0
    shown = show_thresholds(shares)
    assert shown.caption == "People with at least 1, 2 or 3 dispensings on distinct dates before the index date"
    assert "Hypnotics & sedatives" in repr(shown)


def test_dispensing_breakdown_counts_rows_by_class():
    from alsmeds.reporting.table1 import dispensing_breakdown

    dispensings = pd.DataFrame({"atc": ["N05BA04", "N05CF01", "N05CF01", "C10AA01"]})
    in_class = pd.DataFrame({"group": ["anxiolytics", "hypnotics", "hypnotics"]})
    assert dispensing_breakdown(dispensings, in_class).splitlines() == [
        "dispensing rows: 4",
        "  of the three classes: 3",
        "    anxiolytics           1",
        "    hypnotics             2",
        "    antidepressants       0",
        "  other drugs (ignored): 1",
    ]


def test_show_comparisons_reads_the_exposure_summary_in_display_order(paper_table):
    from alsmeds.derive.cohort import comparison_summary
    from alsmeds.reporting.table1 import show_comparisons

    summary = comparison_summary(paper_table)
    records = [dict(sorted(r.items())) for r in summary.reset_index().to_dict(orient="records")]  # JSON: sorted keys
    shown = show_comparisons({"analysis_table": {"by_comparison": records, "columns": paper_table.shape[1]}})
    assert shown.frame.columns.tolist() == ["sets", "rows", "cases", "controls"]
    assert shown.frame.to_numpy().tolist() == summary.to_numpy().tolist()
    assert shown.caption.endswith(f"({paper_table.shape[1]} columns; one row per person per comparison)")


def test_example_classification_reads_the_window_and_the_lag(paper_table):
    from alsmeds.reporting.table1 import example_classification, show_example_people

    rows = one_row_per_person(paper_table)
    case = rows[(rows["role"] == "case") & (rows["window_hypnotics"] == "0_1")].iloc[0]
    never = rows[(rows[["window_anxiolytics", "window_hypnotics", "window_antidepressants"]] == "never").all(axis=1)]
    ids = [int(case["person_id"]), int(never["person_id"].iloc[0])]
    frame = example_classification(paper_table, ids)
    assert frame.index.tolist() == ids and frame.columns[0] == "role"
    assert frame.loc[ids[0], "Hypnotics & sedatives"] == "0-1 y, not lagged"
    assert set(frame.loc[ids[1]].iloc[1:]) == {"never"}
    assert "ALS cases" in repr(show_example_people(paper_table, ids))


def test_show_agreement_reads_records_or_says_the_check_is_skipped():
    from alsmeds.reporting.describe import Note
    from alsmeds.reporting.table1 import show_agreement

    assert show_agreement(None) == "no planted truth (a real extract): check skipped"
    assert isinstance(show_agreement(None), Note)
    records = [
        {"date_agrees": 1.0, "drug_class": k, "people": 10, "unmatched": 0, "window_agrees": w}
        for k, w in (("anxiolytics", 1.0), ("hypnotics", 0.9), ("antidepressants", 1.0))
    ]
    shown = show_agreement(records)
    assert shown.frame.columns.tolist() == ["people", "window_agrees", "date_agrees", "unmatched"]
    assert shown.caption.endswith("for 90.00% of people in every class")


def test_show_codelist_leaves_out_the_provenance_columns():
    from alsmeds.derive.codelists import load_codelist
    from alsmeds.reporting.table1 import show_codelist

    shown = show_codelist(load_codelist("atc_classes"), caption="ATC code list (atc_classes.csv)")
    assert shown.frame.columns.tolist() == ["group", "level", "atc_prefix", "description"]
    assert not shown.index and shown.caption == "ATC code list (atc_classes.csv)"


def test_show_prevalence_reads_the_results_file(paper_table, tmp_path):
    from alsmeds.analyses import read_results_file
    from alsmeds.reporting.table1 import prevalence_wide, show_prevalence

    write_table1(baseline_table(paper_table), tmp_path)
    loaded = read_results_file(tmp_path / "exposure_prevalence.csv")
    assert set(loaded["window"]) == {"0_1", "1_5", "gt5", "gt1", "ever"}  # codes stay text
    shown = show_prevalence(loaded)
    assert shown.frame.to_numpy().tolist() == prevalence_wide(exposure_prevalence(paper_table)).to_numpy().tolist()
    assert shown.caption == "People with qualifying use by window of first use, n (%)"
