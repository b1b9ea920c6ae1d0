"""Run a study's analyses in dependency order, resumably, with progress.

:func:`run_analyses` is what ``alsmeds study run SPEC --data-dir X --results-dir Y`` and
``alsmeds run`` (before the notebooks) call; :func:`results` is what a notebook calls to
load the results it shows, running first whatever is missing or out of date.

Resuming.  Each run records, per analysis, a key of everything its files depend on: the
specification (:meth:`StudySpec.fingerprint`), the data (the folder's files, or the
seed and scale of data simulated in memory) and the package's code
(:func:`alsmeds.fingerprint.code_fingerprint`).  The record is a build artefact
(``build/cache/analyses/``), never a file of the results folder.  An analysis whose
outputs all exist and whose key is unchanged is skipped; one that ran again makes every
analysis that needs it run again.  A run stopped half-way resumes at the first analysis
that did not finish (each file is written atomically, so none is half-written).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from alsmeds import paths
from alsmeds.analyses.context import AnalysisContext, read_results_file
from alsmeds.analyses.registry import ANALYSES, with_needs
from alsmeds.analyses.spec import StudySpec, read_spec
from alsmeds.data.write import write_json_atomic
from alsmeds.fingerprint import code_fingerprint, folder_fingerprint
from alsmeds.study import Study

#: Where the records of finished analyses live (a build artefact).
STATE_DIR = paths.BUILD_DIR / "cache" / "analyses"


@dataclass
class RunReport:
    """What a run did: analyses run and skipped, files written, seconds per analysis."""

    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def data_key(study: Study) -> str:
    """What the results depend on in the data: the folder's content, or the simulation's seed and scale."""
    if study.data_dir is not None:
        return folder_fingerprint(study.data_dir)
    planted = json.dumps(study.planted_parameters, sort_keys=True, default=str)  # no implied estimand computed
    return hashlib.sha256(f"{study.source}|{planted}".encode()).hexdigest()


def _with_inputs(key: str, inputs: Iterable[Path]) -> str:
    """The run's key extended by the content of an analysis's extra input files (a missing file counts too)."""
    digest = hashlib.sha256(key.encode())
    for path in inputs:
        path = Path(path)
        digest.update(str(path.resolve()).encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b"missing")
    return digest.hexdigest()


def _state_file(results_dir: Path) -> Path:
    key = hashlib.sha256(str(results_dir.resolve()).encode()).hexdigest()[:16]
    return STATE_DIR / f"{key}.json"


def _read_state(results_dir: Path) -> dict[str, str]:
    path = _state_file(results_dir)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def run_analyses(
    study: Study,
    spec: StudySpec | None = None,
    results_dir: str | Path | None = None,
    only: Iterable[str] | None = None,
    resume: bool = True,
    progress: bool = True,
) -> RunReport:
    """Run the analyses of a specification on a study's data, writing every results file.

    Parameters
    ----------
    study : Study
        The data; it is re-read under the specification's exposure rules when they differ.
    spec : StudySpec, optional
        Default: the committed study (:func:`alsmeds.analyses.spec.read_spec`).
    results_dir : path-like, optional
        Default: this data set's run folder under ``build/runs/`` (never the committed
        ``results/`` unless asked for explicitly).
    only : iterable of str, optional
        These analyses and their needs; default: the specification's ``analyses`` (all).
    resume : bool
        Skip analyses whose outputs are current (module docstring); False runs all.
    progress : bool
        A progress bar on stderr.

    Returns
    -------
    RunReport
    """
    spec = spec if spec is not None else read_spec()
    if study.rules != spec.rules:
        study = study.with_rules(spec.rules)
    if results_dir is None:
        _, results_dir = paths.output_folders(None, None, data_dir=study.data_dir)
    results_dir = Path(results_dir)
    names = with_needs(only if only is not None else spec.analyses, ANALYSES)
    key = hashlib.sha256(f"{spec.fingerprint()}|{data_key(study)}|{code_fingerprint()}".encode()).hexdigest()
    state = _read_state(results_dir) if resume else {}
    ctx = AnalysisContext(study, spec, results_dir)
    report = RunReport()
    rerun: set[str] = set()
    from tqdm import tqdm  # the plain bar: tqdm.auto warns on stderr in a kernel without ipywidgets

    bar = tqdm(names, desc="analyses", unit="analysis", disable=not progress, file=sys.stderr, leave=False)
    for name in bar:
        item = ANALYSES[name]
        own_key = _with_inputs(key, item.inputs(ctx)) if item.inputs is not None else key
        current = state.get(name) == own_key and all((results_dir / f).is_file() for f in item.outputs)
        if current and not rerun.intersection(item.needs):
            report.skipped.append(name)
            continue
        bar.set_postfix_str(name)
        started = time.perf_counter()
        written = [Path(p) for p in item.function(ctx)]
        report.seconds[name] = time.perf_counter() - started
        missing = [f for f in item.outputs if not (results_dir / f).is_file()]
        if missing:
            raise RuntimeError(f"analysis {name!r} did not write its declared outputs {missing}")
        undeclared = sorted({p.name for p in written} - set(item.outputs))
        if undeclared:
            raise RuntimeError(f"analysis {name!r} wrote undeclared files {undeclared}")
        report.ran.append(name)
        report.written += written
        rerun.add(name)
        state[name] = own_key
        write_json_atomic(_state_file(results_dir), state)  # a stopped run resumes after the last finished
    bar.close()
    return report


def results(
    study: Study,
    file_name: str,
    results_dir: str | Path | None = None,
    spec: StudySpec | None = None,
    progress: bool = False,
) -> pd.DataFrame | dict[str, Any]:
    """A results file of a study, as a notebook shows it: run (or resume) its analysis first, then read it.

    Parameters
    ----------
    study : Study
    file_name : str
        e.g. ``"risk_models.csv"`` or ``"followup.json"``.
    results_dir : path-like, optional
        As :func:`run_analyses`.
    spec : StudySpec, optional
        Default: the committed study.

    Returns
    -------
    DataFrame or dict
        :func:`alsmeds.analyses.context.read_results_file`.
    """
    from alsmeds.analyses.registry import producer_of

    spec = spec if spec is not None else read_spec()
    if results_dir is None:
        _, results_dir = paths.output_folders(None, None, data_dir=study.data_dir)
    run_analyses(study, spec, results_dir, only=[producer_of(file_name).name], progress=progress)
    return read_results_file(Path(results_dir) / file_name)


class StudyResults:
    """The results files of one study and folder, loaded on demand (what a notebook holds).

    ``StudyResults(study, results_dir)["risk_models.csv"]`` runs (or resumes) the analysis
    that writes the file, then reads it (:func:`results`); each file is read once.

    Parameters
    ----------
    study : Study
    results_dir : path-like
    spec : StudySpec, optional
        Default: the committed study.
    """

    def __init__(self, study: Study, results_dir: str | Path, spec: StudySpec | None = None) -> None:
        self.study = study
        self.results_dir = Path(results_dir)
        self.spec = spec if spec is not None else read_spec()
        self._loaded: dict[str, Any] = {}

    def __getitem__(self, file_name: str) -> pd.DataFrame | dict[str, Any]:
        if file_name not in self._loaded:
            self._loaded[file_name] = results(self.study, file_name, self.results_dir, self.spec)
        return self._loaded[file_name]

    def __repr__(self) -> str:
        return f"StudyResults({self.spec.name}; {paths.display_path(self.results_dir)})"
