"""The risk analyses (``risk_models``, ``sensitivity_analyses``, ``effect_modification``) and the in-memory experiments.

Notebooks 03 and 04 write no results file: they load ``risk_models.csv``, ``sensitivity_analyses.csv``,
``effect_modification.csv`` and ``interaction_tests.csv`` through :class:`alsmeds.analyses.StudyResults`;
a parameter changed by the reader or a "try this" cell is computed in memory by
:mod:`alsmeds.analyses.experiments` and written nowhere.  Byte-identity with the committed ``results/``
is checked by ``make reproduce``; here, on a small synthetic study, that the analyses write exactly their
declared files with the specification's models, and that the experiments write nothing.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from alsmeds import analyses
from alsmeds.analyses import experiments
from alsmeds.analyses import run as run_module
from alsmeds.analyses.sensitivity import ANALYSES as SENSITIVITY_ANALYSES
from alsmeds.constants import CLASSES, NEGATIVE_CONTROL
from alsmeds.models.risk import COMPARISONS, RESULT_COLUMNS, fit_standard_models
from alsmeds.precision import compare_frames
from alsmeds.study import Study

ANALYSED = ("risk_models", "sensitivity_analyses", "effect_modification")


@pytest.fixture(scope="module")
def small_study() -> Study:
    """About 200 ALS cases with their planted truth (no implied estimands: not needed here)."""
    return Study.synthetic(seed=3, scale=0.2, truth_scale=0)


@pytest.fixture(scope="module")
def analysed(small_study, tmp_path_factory) -> tuple[analyses.RunReport, Path, Path]:
    """The three analyses run once into a temporary folder, with their resume records kept out of build/."""
    root = tmp_path_factory.mktemp("risk")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run_module, "STATE_DIR", root / "state")
        patch.setattr(run_module, "code_fingerprint", lambda: "fixed")  # the records hold while the code is edited
        report = analyses.run_analyses(
            small_study, results_dir=root / "results", only=list(ANALYSED), resume=False, progress=False
        )
    return report, root / "results", root / "state"


def _read(out: Path, name: str) -> pd.DataFrame:
    return analyses.read_results_file(out / name)


def test_the_analyses_write_exactly_their_declared_files(analysed):
    report, out, _ = analysed
    assert report.ran == list(ANALYSED)
    declared = {f for name in ANALYSED for f in analyses.ANALYSES[name].outputs}
    assert {p.name for p in out.iterdir()} == declared
    assert {p.name for p in report.written} == declared


def test_risk_models_file_holds_every_model_of_table_2(small_study, analysed):
    _, out, _ = analysed
    written = _read(out, "risk_models.csv")
    expected = fit_standard_models(small_study.analysis_table)
    assert list(written.columns) == RESULT_COLUMNS
    assert compare_frames(expected.drop(columns="reason"), written.drop(columns="reason")).ok
    assert set(written["comparison"]) == set(COMPARISONS) and set(written["drug_class"]) == set(CLASSES)
    assert written.groupby(["comparison", "exposure", "model", "adjustment"]).ngroups == 18


def test_sensitivity_file_holds_the_three_analyses(analysed):
    _, out, _ = analysed
    written = _read(out, "sensitivity_analyses.csv")
    assert list(dict.fromkeys(written["analysis"])) == list(SENSITIVITY_ANALYSES)
    negative = written[written["analysis"] == "negative_control"]
    assert set(negative["drug_class"]) == {NEGATIVE_CONTROL} and set(negative["comparison"]) == set(COMPARISONS)
    lags = written[written["analysis"] == "exposure_lag"]
    assert sorted(set(lags["lag_years"])) == [1, 2] and set(lags["comparison"]) == {"population"}
    psych = written[written["analysis"] == "psychiatric_history_lag"]
    assert set(psych["psychiatric_history_lag_years"]) == {1} and set(psych["lag_years"]) == {1}


def test_effect_modification_files_hold_strata_and_tests_of_both_stratifiers(analysed):
    _, out, _ = analysed
    estimates = _read(out, "effect_modification.csv")
    tests = _read(out, "interaction_tests.csv")
    assert set(estimates["stratum"]) == {"all", "<65", "65+", "women", "men"}
    assert set(tests["stratified_by"]) == {"age", "sex"} and len(tests) == 2 * len(COMPARISONS) * len(CLASSES)
    assert set(tests["window"]) == {"gt1"}  # the specification's exposure: lagged


def test_a_specification_with_fewer_comparisons_and_classes_writes_only_those(small_study, tmp_path, monkeypatch):
    monkeypatch.setattr(run_module, "STATE_DIR", tmp_path / "state")
    spec = analyses.read_spec()
    raw = spec.model_dump(mode="json")
    raw["risk_models"].update(comparisons=["population"], drug_classes=["hypnotics"], exposures=["lagged"])
    narrow = analyses.StudySpec.model_validate(raw)
    analyses.run_analyses(small_study, narrow, tmp_path / "results", only=["risk_models"], progress=False)
    written = _read(tmp_path / "results", "risk_models.csv")
    assert set(written["comparison"]) == {"population"} and set(written["drug_class"]) == {"hypnotics"}
    assert set(written["exposure"]) == {"lagged"} and set(written["model"]) == {"per_class"}


# --------------------------------------------------------------------------- experiments: computed, never written


def test_subgroup_analyses_load_the_files_at_the_specification_and_compute_other_values(analysed, small_study):
    _, out, state = analysed
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(run_module, "STATE_DIR", state)
        patch.setattr(run_module, "code_fingerprint", lambda: "fixed")
        results = analyses.StudyResults(small_study, out)
        before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
        estimates, tests = experiments.subgroup_analyses(results)
        assert estimates.equals(_read(out, "effect_modification.csv")) and tests.equals(
            _read(out, "interaction_tests.csv")
        )
        at_70, tests_70 = experiments.subgroup_analyses(results, age_cutoff=70, exposure="ever")
        assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # nothing written, nothing rerun
    assert {"<70", "70+"} <= set(at_70["stratum"]) and set(tests_70["window"]) == {"ever"}
    with pytest.raises(ValueError, match="exposure must be one of"):
        experiments.subgroup_analyses(results, exposure="windows")


def test_windows_by_age_and_the_cutoff_experiment(small_study):
    windows = experiments.windows_by_age(small_study, 65)
    assert set(windows["stratum"]) == {"<65", "65+"} and set(windows["model"]) == {"mutual"}
    assert set(windows["window"]) == {"0_1", "1_5", "gt5"}
    cutoffs = experiments.age_cutoff_experiment(small_study, (65, 70))
    assert list(cutoffs["cut-off"]) == [65] * 3 + [70] * 3 and list(cutoffs["drug_class"]) == list(CLASSES) * 2
    under = cutoffs.groupby("cut-off")["cases under"].first()
    assert under[65] <= under[70]  # every case under 65 is under 70


def test_lag_experiment_fits_the_main_model_under_each_lag(small_study):
    by_lag = experiments.lag_experiment(small_study, (1, 3))
    assert list(by_lag["lag_years"]) == [1] * 3 + [3] * 3
    assert set(by_lag["drug_class"]) == set(CLASSES) and set(by_lag["comparison"]) == {"population"}
    exposed = by_lag.set_index(["lag_years", "drug_class"])["exposed_cases"]
    assert all(exposed[(3, k)] <= exposed[(1, k)] for k in CLASSES)


def test_familial_factor_experiment_fits_both_simulations():
    fits = experiments.familial_factor_experiment(seed=3, scale=0.2)
    assert list(fits.columns) == ["familial factor", *RESULT_COLUMNS]
    assert list(fits["familial factor"]) == ["on", "on", "off", "off"]
    assert list(fits["comparison"]) == ["population", "sibling"] * 2 and set(fits["drug_class"]) == {"hypnotics"}
    on, off = fits.iloc[0], fits.iloc[2]
    assert on["log_or"] != off["log_or"]  # the switched parameter changes the data
