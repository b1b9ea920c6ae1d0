"""A user's run never rewrites the committed bundle: only ``make refresh`` writes notebooks/, results/, figures/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alsmeds import paths
from alsmeds.pipeline.runner import run_folders

ROOT = paths.ROOT
COMMITTED = ["notebooks", "results", "figures", "data"]


def _without_overrides(monkeypatch) -> None:
    monkeypatch.delenv("ALSMEDS_FIGURES_DIR", raising=False)
    monkeypatch.delenv("ALSMEDS_RESULTS_DIR", raising=False)


def test_a_run_writes_under_build_runs_named_by_its_data(monkeypatch, tmp_path):
    _without_overrides(monkeypatch)
    committed = run_folders()
    assert committed.figures == (paths.RUNS_DIR / "synthetic" / "figures").resolve()
    assert committed.results == (paths.RUNS_DIR / "synthetic" / "results").resolve()
    assert committed.notebooks == (paths.RUNS_DIR / "synthetic" / "notebooks").resolve()
    seeded = run_folders(seed=7)
    assert seeded.results.parent.name == "seed-7_scale-1" and seeded.figures.parent == seeded.results.parent
    assert run_folders(seed=7, scale=0.5).results.parent.name == "seed-7_scale-0.5"
    extract = run_folders(data_dir=tmp_path / "my_extract")
    assert extract.results.parent.name == "extract-my_extract"
    for folders in (committed, seeded, extract):
        for folder in (folders.notebooks, folders.figures, folders.results):
            assert folder.is_relative_to(paths.BUILD_DIR.resolve())


def test_only_the_maintainers_refresh_and_explicit_folders_name_the_committed_outputs(monkeypatch, tmp_path):
    _without_overrides(monkeypatch)
    refresh = run_folders(inplace=True)
    assert refresh.figures == paths.COMMITTED_FIGURES_DIR.resolve()
    assert refresh.results == paths.COMMITTED_RESULTS_DIR.resolve()
    explicit = run_folders(seed=7, figures_dir=tmp_path / "f", results_dir=tmp_path / "r", output_dir=tmp_path / "n")
    assert (explicit.figures, explicit.results, explicit.notebooks) == (tmp_path / "f", tmp_path / "r", tmp_path / "n")
    monkeypatch.setenv("ALSMEDS_RESULTS_DIR", str(tmp_path / "moved"))
    assert run_folders(seed=7).results == (tmp_path / "moved").resolve()


def test_a_notebook_left_at_its_defaults_writes_under_build(monkeypatch):
    _without_overrides(monkeypatch)
    figures, results = paths.output_folders(None, None)
    assert figures == paths.RUNS_DIR / "synthetic" / "figures" and results == paths.RUNS_DIR / "synthetic" / "results"
    figures, results = paths.output_folders(None, None, seed=7)
    assert results.parent.name == "seed-7_scale-default"
    assert paths.is_committed_data(paths.SYNTHETIC_DIR) and not paths.is_committed_data(seed=20250605)


def _status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "--", *COMMITTED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs the git checkout")
@pytest.mark.slow
@pytest.mark.notebooks
def test_a_run_with_another_seed_leaves_the_committed_bundle_untouched():
    """Issue 21: ``alsmeds run --only 01 --seed 7`` overwrote tracked figures and results."""
    before = _status()
    label = "seed-7_scale-0.05"
    shutil.rmtree(paths.RUNS_DIR / label, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALSMEDS_")}
    done = subprocess.run(
        [sys.executable, "-m", "alsmeds", "run", "--only", "01", "--seed", "7", "--scale", "0.05", "--no-progress"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert _status() == before
    run = paths.RUNS_DIR / label
    assert (run / "results" / "01_cohort.json").is_file() and (run / "figures" / "01_study_flow.png").is_file()
    assert (run / "notebooks" / "01_synthetic_cohort.ipynb").is_file()
    where = f"build/runs/{label}"
    assert where in done.stderr.splitlines()[0] and where in done.stdout  # said at the start and at the end
    written = Path(run / "results" / "01_cohort.json").read_text()
    assert "seed-7_scale-0.05" in written  # the data this run analysed, not the committed draw
