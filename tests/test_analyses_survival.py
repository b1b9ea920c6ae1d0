"""The survival analyses (alsmeds.analyses.survival): ``followup.json`` and ``survival_cox.{csv,json}``.

* On the committed data the two analyses write the committed results byte for byte (the code
  moved out of notebook 05 without changing a number).
* On a small simulated study they write their declared outputs, with the schema of
  :mod:`alsmeds.reporting.survival_results`, the specification's covariates, and every term
  that cannot be estimated said so with its reason.
* On an extract without ``truth.json`` (and of ten cases) the planted columns stay empty.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsmeds import Study
from alsmeds.analyses import ANALYSES, read_results_file, read_spec, run_analyses
from alsmeds.analyses.survival import fit_study_cox_models, survival_covariates
from alsmeds.data.write import write_registry
from alsmeds.models.cox import ADJUSTMENT
from alsmeds.paths import COMMITTED_RESULTS_DIR
from alsmeds.reporting.survival_results import FOLLOWUP_FIELDS, SURVIVAL_COX_COLUMNS

SURVIVAL_FILES = ("followup.json", "survival_cox.csv", "survival_cox.json")


def _run(study: Study, results_dir: Path, spec=None) -> list[str]:
    report = run_analyses(study, spec, results_dir, only=["followup", "survival_cox"], resume=False, progress=False)
    return report.ran


def test_the_analyses_are_declared_with_their_outputs():
    assert ANALYSES["followup"].outputs == ("followup.json",)
    assert ANALYSES["survival_cox"].outputs == ("survival_cox.csv", "survival_cox.json")
    assert ANALYSES["followup"].needs == () and ANALYSES["survival_cox"].needs == ()


def test_committed_results_are_reproduced_byte_for_byte(tmp_path):
    assert _run(Study.from_parameters(), tmp_path) == ["followup", "survival_cox"]
    for name in SURVIVAL_FILES:
        assert (tmp_path / name).read_bytes() == (COMMITTED_RESULTS_DIR / name).read_bytes(), name


def test_the_covariates_are_the_specifications():
    spec = read_spec()
    assert survival_covariates(spec) == tuple(spec.survival.covariates) == ADJUSTMENT
    fewer = spec.model_copy(update={"survival": spec.survival.model_copy(update={"covariates": ("age_per_10y",)})})
    fits = fit_study_cox_models(Study.from_parameters(), fewer, run_ph_test=False)
    assert [list(f.params.index)[-1] for f in fits] == ["age_per_10y"] * len(fits)


@pytest.fixture(scope="module")
def small_study() -> Study:
    """About 211 simulated cases, with the planted truth but without its implied estimands (fast)."""
    return Study.synthetic(seed=3, scale=0.2, truth_scale=0)


def test_a_small_study_writes_its_declared_outputs(small_study, tmp_path):
    assert _run(small_study, tmp_path) == ["followup", "survival_cox"]
    followup = json.loads((tmp_path / "followup.json").read_text())
    assert followup["schema"] == FOLLOWUP_FIELDS and set(followup["followup"]) == set(FOLLOWUP_FIELDS)
    n_cases = len(small_study.survival_data)
    assert followup["followup"]["n_cases"] == n_cases
    planted = small_study.planted_truth.this_sample["followup_years_quartiles"]
    np.testing.assert_allclose(followup["followup"]["planted_sample_followup_years"], planted, rtol=1e-7)
    cox = read_results_file(tmp_path / "survival_cox.csv")
    assert list(cox.columns) == list(SURVIVAL_COX_COLUMNS)
    assert json.loads((tmp_path / "survival_cox.json").read_text())["schema"] == SURVIVAL_COX_COLUMNS
    exposures = cox[cox["is_exposure"]]
    assert len(exposures) == 6 and set(cox["model"]) == {"per_class", "mutual"}
    assert (cox["estimable"] | cox["reason"].notna()).all()  # a missing estimate always says why
    assert set(cox.loc[cox["estimable"], "n"]) <= {n_cases}
    assert cox["implied_log_hr"].isna().all()  # truth_scale=0: no implied estimands were computed
    assert exposures["direct_log_hr"].isna().all()


def _extract_without_truth(folder: Path, seed: int, scale: float) -> Path:
    from alsmeds.simulate import generate

    synthetic = generate(seed=seed, scale=scale, truth_scale=0)
    write_registry(folder, synthetic.tables, synthetic.metadata)
    assert not (folder / "truth.json").exists()
    return folder


@pytest.mark.parametrize(("seed", "scale"), [(3, 0.2), (5, 0.01)], ids=["small", "ten_cases"])
def test_an_extract_without_truth_leaves_the_planted_columns_empty(tmp_path, seed, scale):
    study = Study.from_extract(_extract_without_truth(tmp_path / "extract", seed, scale))
    assert study.planted_truth is None
    assert _run(study, tmp_path / "results") == ["followup", "survival_cox"]
    followup = read_results_file(tmp_path / "results" / "followup.json")["followup"]
    assert followup["planted_sample_followup_years"] is None and followup["n_cases"] == len(study.survival_data)
    cox = read_results_file(tmp_path / "results" / "survival_cox.csv")
    assert cox[["implied_log_hr", "implied_mc_se", "direct_log_hr"]].isna().all().all()
    assert (cox["estimable"] | cox["reason"].notna()).all()
    if scale < 0.05:  # eleven cases: most terms cannot be estimated, and say why
        assert (~cox["estimable"]).any()
        assert isinstance(cox.loc[~cox["estimable"], "reason"].iloc[0], str)


def test_the_notebook_loads_the_files_it_shows(small_study, tmp_path):
    from alsmeds.analyses import StudyResults

    results = StudyResults(small_study, tmp_path)
    cox = results["survival_cox.csv"]
    assert isinstance(cox, pd.DataFrame) and (tmp_path / "survival_cox.json").is_file()
    assert results["followup.json"]["followup"]["n_cases"] == len(small_study.survival_data)
