"""alsmeds.Study, the public face: pure (never writes into the project), memoised, rules reach every frame."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import alsmeds
from alsmeds import paths
from alsmeds.data.write import write_registry
from alsmeds.derive.alsfrs import build_alsfrs_data
from alsmeds.derive.analysis_table import build_analysis_table
from alsmeds.derive.cohort import case_exposures
from alsmeds.derive.exposure import DEFAULT_RULES, ExposureRules
from alsmeds.derive.survival_data import build_survival_data
from alsmeds.simulate import DEFAULT_SEED, TRUE_PEOPLE_FILE, TRUTH_FILE, generate
from alsmeds.study import Study

DERIVED = ("case_exposures", "analysis_table", "survival_data", "alsfrs_data")
#: Folders of the project whose files a study may not change, and those it has no say over.
IGNORED_PARTS = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints"}


def _project_files() -> dict[Path, int]:
    """Modification time of every file of the project (outside version control and caches of tools)."""
    out = {}
    for root, dirs, files in os.walk(paths.ROOT):
        dirs[:] = [d for d in dirs if d not in IGNORED_PARTS]
        rel = Path(root).relative_to(paths.ROOT)
        if rel.parts[:2] == ("build", "test"):  # other tests' outputs (conftest.py)
            dirs[:] = []
            continue
        for name in files:
            path = Path(root) / name
            try:
                out[path] = path.stat().st_mtime_ns
            except FileNotFoundError:  # pragma: no cover - removed meanwhile by something else
                pass
    return out


def _build_everything(study: Study) -> None:
    for name in DERIVED:
        getattr(study, name)
    study.truth, study.truth_people, study.warnings, study.source, study.tables  # noqa: B018


@pytest.fixture(scope="module")
def committed() -> Study:
    return Study.synthetic()


@pytest.fixture(scope="module")
def small_extract(tmp_path_factory) -> Path:
    """A small simulated extract written without its truth, as a real extract comes."""
    synthetic = generate(seed=7, scale=0.05, truth_scale=0)
    folder = tmp_path_factory.mktemp("extract") / "extract"
    write_registry(folder, synthetic.tables, synthetic.metadata)
    return folder


def test_alsmeds_exports_study_without_importing_it_eagerly():
    assert alsmeds.Study is Study
    code = "import sys, alsmeds; print('alsmeds.study' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_file_names_are_the_generators():
    from alsmeds import study

    assert (study.TRUTH_FILE, study.TRUE_PEOPLE_FILE) == (TRUTH_FILE, TRUE_PEOPLE_FILE)


def test_synthetic_defaults_read_the_committed_data(committed):
    assert committed.data_dir == paths.SYNTHETIC_DIR.resolve()
    assert committed.source == "data/synthetic"
    assert committed.is_synthetic and committed.truth["seed"] == DEFAULT_SEED
    assert committed.rules == DEFAULT_RULES
    assert committed.truth_people is not None and len(committed.truth_people) == len(committed.tables["persons"])
    assert committed.warnings is committed.registry.warnings
    assert Study.synthetic(seed=DEFAULT_SEED, scale=1).data_dir == committed.data_dir


def test_synthetic_with_planted_parameters_simulates_them():
    """Other planted parameters are always simulated, even at the committed seed and scale, and reach the truth."""
    from dataclasses import replace

    from alsmeds.simulate.parameters import SimulationParameters

    planted = SimulationParameters()
    off = replace(planted, risk=replace(planted.risk, log_or_familial_factor=0.0))
    study = Study.synthetic(scale=0.05, params=off, truth_scale=0)
    assert study.data_dir is None and "own planted parameters" in study.source
    assert study.truth["parameters"]["risk"]["log_or_familial_factor"] == 0.0
    assert Study.synthetic(scale=0.05, truth_scale=0).truth["parameters"]["risk"]["log_or_familial_factor"] != 0.0
    assert Study.synthetic(params=planted, truth_scale=0).data_dir is None, "the committed data are not read"


def test_study_is_pure_no_file_of_the_project_changes():
    before = _project_files()
    study = Study.synthetic()
    _build_everything(study)
    _build_everything(study.with_rules(min_dispensings=3))
    _build_everything(Study.synthetic(seed=3, scale=0.05, truth_scale=0))  # simulated: a temporary folder elsewhere
    after = _project_files()
    changed = set(after) ^ set(before) | {p for p in before if before[p] != after.get(p)}
    assert not changed, sorted(str(p) for p in changed)


def test_study_is_memoised(committed):
    for name in DERIVED:
        first = getattr(committed, name)
        assert isinstance(first, pd.DataFrame)
        assert getattr(committed, name) is first, name


def test_frames_are_the_derive_functions_with_the_studys_rules(committed):
    pd.testing.assert_frame_equal(committed.analysis_table, build_analysis_table(committed.registry, DEFAULT_RULES))
    exposures = case_exposures(committed.registry, DEFAULT_RULES)
    pd.testing.assert_frame_equal(committed.case_exposures, exposures)
    pd.testing.assert_frame_equal(committed.survival_data, build_survival_data(committed.registry, exposures))
    pd.testing.assert_frame_equal(committed.alsfrs_data, build_alsfrs_data(committed.registry, exposures))


def test_from_extract_without_truth(small_extract):
    study = Study.from_extract(small_extract)
    assert study.truth is None and study.truth_people is None and not study.is_synthetic
    assert study.data_dir == small_extract.resolve() and study.source == str(small_extract.resolve())
    assert study.case_exposures["person_id"].tolist() == sorted(study.tables["als_cases"]["person_id"])
    assert len(study.survival_data) == len(study.tables["als_cases"])
    assert set(study.analysis_table["comparison"]) <= {"population", "sibling", "spouse"}
    assert len(study.alsfrs_data) > 0
    assert "Study(" in repr(study) and "synthetic=False" in repr(study)


def test_rules_reach_the_analysis_table(committed):
    three = Study.from_extract(paths.SYNTHETIC_DIR, rules=ExposureRules(min_dispensings=3))
    assert three.rules.min_dispensings == 3
    for column in ("anxiolytics_gt1", "hypnotics_gt1", "antidepressants_gt1"):
        users_two, users_three = committed.analysis_table[column], three.analysis_table[column]
        assert users_three.sum() < users_two.sum(), column
        assert not (users_three.astype(bool) & ~users_two.astype(bool)).any(), column  # 3 dispensings imply 2
    # ... and the prognosis frames, through the case exposures
    assert three.survival_data["use_antidepressants"].sum() < committed.survival_data["use_antidepressants"].sum()
    same = committed.with_rules(min_dispensings=3)
    pd.testing.assert_frame_equal(same.analysis_table, three.analysis_table)
    assert same.registry is committed.registry and committed.rules == DEFAULT_RULES


def test_rules_must_be_exposure_rules():
    with pytest.raises(TypeError, match="ExposureRules"):
        Study.from_extract(paths.SYNTHETIC_DIR, rules={"min_dispensings": 3})


def test_simulated_in_memory_reads_back_like_an_extract(tmp_path):
    study = Study.synthetic(seed=3, scale=0.05, truth_scale=0)
    assert study.data_dir is None and study.source == "synthetic data simulated in memory (seed 3, scale 0.05)"
    assert study.truth["seed"] == 3 and study.truth["scale"] == 0.05 and study.truth_people is not None
    folder = generate(seed=3, scale=0.05, truth_scale=0).write(tmp_path / "written")
    written = Study.from_extract(folder)
    for name in written.tables:
        pd.testing.assert_frame_equal(study.tables[name], written.tables[name], check_names=True)
    pd.testing.assert_frame_equal(study.analysis_table, written.analysis_table)
    assert study.truth == written.truth


def test_from_parameters(small_extract):
    assert Study.from_parameters().data_dir == paths.SYNTHETIC_DIR.resolve()
    assert Study.from_parameters(data_dir=paths.SYNTHETIC_DIR, seed=DEFAULT_SEED).data_dir == paths.SYNTHETIC_DIR
    assert Study.from_parameters(data_dir=small_extract).truth is None
    with pytest.raises(ValueError, match="seed and scale apply only to synthetic data"):
        Study.from_parameters(data_dir=small_extract, seed=1)


def test_committed_truth_holds_the_cox_estimands(committed):
    implied = committed.truth["estimands"]["implied_cox"]
    assert set(implied["per_class"]) == set(implied["mutual"]) == {"anxiolytics", "hypnotics", "antidepressants"}
    assert implied["_truth_sample"]["truth_scale"] == 50 and implied["_truth_sample"]["warnings"] == []


def test_implied_estimands_are_computed_on_first_use_of_the_truth(monkeypatch):
    """Simulated data come at once; the implied estimands only when the truth is asked for (then once)."""
    from alsmeds.estimands import implied

    calls = []

    def fake_implied_truth(params, seed, truth_scale, progress=False, **kwargs):
        calls.append(seed)
        return {"implied": {"population_per_class": {"anxiolytics_gt1": {"log_or": 0.25, "se": 0.01}}}}

    monkeypatch.setattr(implied, "implied_truth", fake_implied_truth)
    study = Study.synthetic(seed=13, scale=0.05)
    assert study.is_synthetic and study.planted_parameters["seed"] == 13 and calls == []
    other_rules = study.with_rules(min_dispensings=3)
    assert len(study.analysis_table) and calls == []  # the frames need no estimand
    assert study.planted_truth.implied_log_or("population_per_class", "anxiolytics_gt1").value == 0.25
    assert study.truth["estimands"]["implied"]["population_per_class"]["anxiolytics_gt1"]["log_or"] == 0.25
    assert calls == [13]  # once, however often the truth is read
    assert other_rules.planted_truth.implied_log_or("population_per_class", "anxiolytics_gt1").value == 0.25
    without = Study.synthetic(seed=13, scale=0.05, implied=False)
    assert without.planted_truth.implied_models == [] or not without.planted_truth.implied_models
    assert calls == [13, 13]  # the study under other rules completed its own copy; implied=False never calls
