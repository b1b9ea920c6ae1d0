"""The ``cohort`` and ``exposure`` analyses on a small synthetic study: their files, and how notebooks 01-02 read them.

Notebooks 01 and 02 write no results file: they load ``01_cohort.json``, ``02_exposure.json``,
``exposure_prevalence.csv`` and ``analysis_table_schema.csv`` through :class:`alsmeds.analyses.StudyResults`
and show them with :mod:`alsmeds.reporting.describe` and :mod:`alsmeds.reporting.table1`.  Byte-identity with
the committed ``results/`` is checked by ``make reproduce``; here, that the analyses write exactly their
declared files, and that what the notebooks read back is what the frames hold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsmeds import analyses
from alsmeds.analyses import run as run_module
from alsmeds.derive.analysis_table import analysis_table_schema
from alsmeds.derive.cohort import comparison_summary
from alsmeds.reporting import describe
from alsmeds.reporting.table1 import baseline_table, exposure_prevalence, show_agreement, show_comparisons
from alsmeds.study import Study

ANALYSED = ("cohort", "exposure")


@pytest.fixture(scope="module")
def small_study() -> Study:
    """About 200 ALS cases with their planted truth (no implied estimands: not needed here)."""
    return Study.synthetic(seed=3, scale=0.2, truth_scale=0)


@pytest.fixture(scope="module")
def analysed(small_study, tmp_path_factory) -> tuple[analyses.RunReport, Path]:
    """The two analyses run once into a temporary folder, with their resume records kept out of build/."""
    root = tmp_path_factory.mktemp("cohort_exposure")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run_module, "STATE_DIR", root / "state")
        patch.setattr(run_module, "code_fingerprint", lambda: "fixed")  # the records hold while the code is edited
        report = analyses.run_analyses(
            small_study, results_dir=root / "results", only=list(ANALYSED), resume=False, progress=False
        )
    return report, root / "results"


def test_the_analyses_write_exactly_their_declared_files(analysed):
    report, out = analysed
    assert report.ran == list(ANALYSED)
    declared = {f for name in ANALYSED for f in analyses.ANALYSES[name].outputs}
    assert {p.name for p in out.iterdir()} == declared
    assert {p.name for p in report.written} == declared


def test_notebook_01_reads_back_the_counts_and_demographics_of_the_members(small_study, analysed):
    _, out = analysed
    summary = analyses.read_results_file(out / "01_cohort.json")
    members = describe.members(small_study.members)
    counts = describe.by_role(summary["counts"])
    assert list(counts.index) == list(describe.ROLE_ORDER)
    pd.testing.assert_frame_equal(
        counts[["people", "matched_sets"]], describe.role_counts(members).set_axis(counts.index), check_dtype=False
    )
    demographics = describe.by_role(summary["demographics"], columns=describe.DEMOGRAPHIC_COLUMNS)
    expected = describe.demographics_by_role(members).round(4)
    np.testing.assert_allclose(demographics.to_numpy(float), expected.to_numpy(float), equal_nan=True)
    shown = repr(describe.show_demographics(demographics))
    assert shown.startswith("Age at the index date and sex by role") and "Men (%)" in shown
    assert summary["accepted_with_warnings"] == []  # simulated data need no documented rule


def test_notebook_02_reads_back_the_analysis_table_prevalence_and_truth_agreement(small_study, analysed):
    _, out = analysed
    table = small_study.analysis_table
    summary = analyses.read_results_file(out / "02_exposure.json")
    assert summary["analysis_table"]["rows"] == len(table) and summary["analysis_table"]["columns"] == table.shape[1]
    shown = show_comparisons(summary)
    expected = comparison_summary(table, small_study.registry)
    assert shown.frame.to_numpy().tolist() == expected.to_numpy().tolist()
    assert f"({table.shape[1]} columns;" in shown.caption
    agreement = show_agreement(summary["truth_agreement"])
    assert (agreement.frame["window_agrees"] == 1.0).all() and "100.00% of people" in agreement.caption
    prevalence = analyses.read_results_file(out / "exposure_prevalence.csv")
    computed = exposure_prevalence(table)
    pd.testing.assert_frame_equal(prevalence.drop(columns="percent"), computed.drop(columns="percent"))
    np.testing.assert_allclose(prevalence["percent"], computed["percent"], rtol=1e-5)
    schema = analyses.read_results_file(out / "analysis_table_schema.csv")
    pd.testing.assert_frame_equal(schema, analysis_table_schema())


def test_table1_files_are_the_table_a_notebook_builds(small_study, analysed):
    _, out = analysed
    table1 = baseline_table(small_study.analysis_table)
    assert (out / "table1.html").read_text(encoding="utf-8") == table1.to_html() + "\n"
    written = pd.read_csv(out / "table1.csv", dtype=str, keep_default_na=False)
    assert written.columns.tolist() == ["variable", "value", *table1.frame.columns]
    assert len(written) == len(table1.frame)


def test_a_notebook_loading_the_files_runs_nothing_again(small_study, analysed, monkeypatch):
    _, out = analysed
    monkeypatch.setattr(run_module, "STATE_DIR", out.parent / "state")
    monkeypatch.setattr(run_module, "code_fingerprint", lambda: "fixed")
    loaded = analyses.StudyResults(small_study, out)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert loaded["02_exposure.json"]["rules"]["min_dispensings"] == small_study.rules.min_dispensings
    assert describe.by_role(loaded["01_cohort.json"]["counts"]).loc["case", "people"] == len(
        small_study.tables["als_cases"]
    )
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
