"""Run a simulation study: replicates in parallel (joblib), one stored file each, resumable.

Layout of a study folder, ``<out>/<study-id>/`` with ``study-id = seed-<seed>_scale-<scale>``::

    study.json            the study's parameters (seed, scale) and the package version
    rep-00000.parquet     replicate 0: estimates, SEs, diagnostics, timings (or its failure)
    rep-00001.parquet     ...

Each replicate ``i`` draws its data with the integer seed :func:`replicate_seed` ``(seed, i)``,
the first 32-bit word of the ``i``-th child of ``numpy.random.SeedSequence(seed)`` (the same as
``SeedSequence(seed).spawn(n)[i]`` for every ``n > i``): independent streams, and a study of 500
replicates begins with the 200 of a study of 200.  Replicates run in worker processes and
return their frame; the parent process alone writes each file, atomically, as soon as its
replicate is done, so an interrupted study resumes from what is stored (a stored replicate is
never recomputed) and the same code runs on one machine (joblib's loky processes) or on a Dask
cluster (joblib's dask backend, ``scheduler="tcp://host:8786"``), where workers need no shared
file system.  A failed replicate is stored as a ``failure`` row with its seed and error.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from alsmeds import paths
from alsmeds.data.write import (
    remove_stale_temporaries,
    temporary_sibling,
    write_csv,
    write_json_atomic,
    write_parquet_atomic,
)
from alsmeds.precision import CSV_FLOAT_FORMAT
from alsmeds.reporting.simstudy import (  # noqa: F401  (read and summarised below the analyses layer; re-exported)
    ESTIMATES_FILE,
    estimand_table,
    estimands_truth_file,
    read_compact,
    read_stored_replicates,
    read_truth,
    summarise,
    write_summary,
)
from alsmeds.truth import Truth

if TYPE_CHECKING:
    from alsmeds.analyses import StudyResults

from .replicate import ESTIMATE_FAMILIES, REPLICATE_COLUMNS, run_replicate, safe_replicate

#: Default master seed of a study (the committed data's seed).
DEFAULT_STUDY_SEED = 20250605

#: Default root of study folders.
DEFAULT_OUT = paths.BUILD_DIR / "simstudy"


def replicate_seed(seed: int, rep: int) -> int:
    """Integer seed of replicate ``rep``: the first word of ``SeedSequence(seed).spawn(rep + 1)[rep]``."""
    child = np.random.SeedSequence(int(seed), spawn_key=(int(rep),))
    return int(child.generate_state(1, dtype=np.uint32)[0])


def study_id(seed: int, scale: float) -> str:
    """Folder name of a study: ``seed-<seed>_scale-<scale>``."""
    return f"seed-{int(seed)}_scale-{float(scale):g}"


def replicate_path(folder: Path, rep: int) -> Path:
    """Stored file of replicate ``rep``."""
    return Path(folder) / f"rep-{int(rep):05d}.parquet"


def stored_replicates(folder: str | Path) -> dict[int, Path]:
    """Replicate number -> stored file, for every ``rep-NNNNN.parquet`` of a study folder (reads nothing else)."""
    folder = Path(folder)
    found = {}
    if folder.is_dir():
        for p in folder.glob("rep-*.parquet"):
            stem = p.stem.removeprefix("rep-")
            if stem.isdigit():
                found[int(stem)] = p
    return found


def _failed(path: Path) -> bool:
    families = pd.read_parquet(path, columns=["family"])["family"]
    return bool((families == "failure").any())


@dataclass
class StudyRun:
    """What :func:`run_study` did.

    Attributes
    ----------
    folder : pathlib.Path
        The study folder.
    reps : int
        Replicates asked for.
    computed : list of int
        Replicates computed by this call.
    reused : list of int
        Replicates found stored and not recomputed.
    failed : dict of int to str
        Failed replicates among the ``reps`` (this call's and stored ones): rep -> error.
    """

    folder: Path
    reps: int
    computed: list[int] = field(default_factory=list)
    reused: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)


def _parallel_results(
    tasks: list[tuple[int, int]],
    scale: float,
    workers: int,
    scheduler: str | None,
    replicate: Callable[[int, int, float], pd.DataFrame],
) -> Iterator[tuple[int, int, pd.DataFrame]]:
    """Yield ``(rep, seed, frame)`` as replicates finish, on the requested backend."""
    from joblib import Parallel, delayed, parallel_config

    calls = (delayed(safe_replicate)(rep, seed, scale, replicate) for rep, seed in tasks)
    if scheduler:
        from distributed import Client

        with Client(scheduler), parallel_config(backend="dask"):
            yield from Parallel(n_jobs=-1, return_as="generator_unordered", batch_size=1)(calls)
        return
    if workers <= 1:
        for rep, seed in tasks:  # in process: the reference backend, no pickling
            yield safe_replicate(rep, seed, scale, replicate)
        return
    with parallel_config(backend="loky", n_jobs=workers):
        yield from Parallel(return_as="generator_unordered", batch_size=1)(calls)


def run_study(
    reps: int,
    scale: float | None = None,
    seed: int | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    out: str | Path | None = None,
    progress: bool = True,
    retry_failed: bool = False,
    replicate: Callable[[int, int, float], pd.DataFrame] = run_replicate,
    extra_meta: Mapping[str, str] | None = None,
) -> StudyRun:
    """Run (or resume) a study of ``reps`` replicates and store one file per replicate.

    Parameters
    ----------
    reps : int
        Number of replicates (0 to ``reps - 1``).
    scale : float, optional
        Sample size of each replicate as a multiple of the paper's 1,057 cases (default 1, or the
        mechanism's).
    seed : int, optional
        Master seed; replicate ``i`` uses :func:`replicate_seed` ``(seed, i)`` (default
        :data:`DEFAULT_STUDY_SEED`, or the mechanism's base seed).
    workers : int
        Worker processes on this machine (joblib's loky backend); 1 runs in this process.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``): run on that cluster through
        joblib's dask backend instead (``workers`` is then ignored).
    out : path-like, optional
        Root of study folders (default ``build/simstudy``); the study goes to
        ``<out>/<study_id(seed, scale)>``.
    progress : bool
        Show a progress bar (tqdm).
    retry_failed : bool
        Recompute replicates stored as failures (default: keep the record).
    replicate : callable
        ``(rep, seed, scale) -> frame`` (default :func:`~alsmeds.simstudy.replicate.run_replicate`);
        must be importable or picklable by the backend.
    extra_meta : mapping of str to str, optional
        More keys of the folder's ``study.json`` (e.g. the data-generating mechanism of
        :func:`alsmeds.simstudy.mechanisms.run_mechanism_study`), also shown in the progress bar.

    Returns
    -------
    StudyRun
    """
    from tqdm.auto import tqdm

    if reps < 0:
        raise ValueError(f"reps must be at least 0, not {reps}")
    root = Path(out if out is not None else DEFAULT_OUT)
    scale = 1.0 if scale is None else scale
    seed = DEFAULT_STUDY_SEED if seed is None else seed
    folder = root / study_id(seed, scale)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(folder)
    meta = {
        "seed": int(seed),
        "scale": float(scale),
        "seed_rule": "SeedSequence(seed).spawn(reps)[i].generate_state(1)[0]",
    }
    meta.update(extra_meta or {})
    if not (folder / "study.json").exists():
        write_json_atomic(folder / "study.json", meta)
    stored = stored_replicates(folder)
    run = StudyRun(folder=folder, reps=reps)
    todo = []
    for rep in range(reps):
        path = stored.get(rep)
        if path is not None and not (retry_failed and _failed(path)):
            run.reused.append(rep)
        else:
            todo.append((rep, replicate_seed(seed, rep)))
    name = " ".join([*(extra_meta or {}).values(), folder.name])
    bar = tqdm(total=reps, initial=len(run.reused), desc=f"simstudy {name}", unit="rep", disable=not progress)
    try:
        for rep, _seed, frame in _parallel_results(todo, scale, workers, scheduler, replicate):
            write_parquet_atomic(replicate_path(folder, rep), frame)
            run.computed.append(rep)
            bar.update(1)
    finally:
        bar.close()
    for rep in range(reps):
        path = replicate_path(folder, rep)
        if path.exists() and _failed(path):
            reason = pd.read_parquet(path, columns=["reason"])["reason"].iloc[0]
            run.failed[rep] = reason.splitlines()[0] if reason else "failed"
    run.computed.sort()
    return run


def collect(folder: str | Path, reps: int | None = None) -> pd.DataFrame:
    """Every stored replicate of a study folder, stacked in replicate order (reads only).

    Parameters
    ----------
    folder : path-like
    reps : int, optional
        Only replicates ``0 .. reps - 1``.

    Returns
    -------
    pandas.DataFrame
        :data:`~alsmeds.simstudy.replicate.REPLICATE_COLUMNS`.
    """
    stored = stored_replicates(folder)
    chosen = sorted(r for r in stored if reps is None or r < reps)
    if not chosen:
        return pd.DataFrame(columns=REPLICATE_COLUMNS)
    return pd.concat([pd.read_parquet(stored[r]) for r in chosen], ignore_index=True)[REPLICATE_COLUMNS]


def compact_frame(replicates: pd.DataFrame, timings: bool = True) -> pd.DataFrame:
    """The rows kept in the compacted file: estimates, diagnostics, failures (and timings)."""
    keep = set(ESTIMATE_FAMILIES) | {"diagnostic", "failure"} | ({"timing"} if timings else set())
    return replicates[replicates["family"].isin(keep)].reset_index(drop=True)


def write_compact(replicates: pd.DataFrame, path: str | Path) -> Path:
    """Write stacked replicates as gzip-compressed CSV (8 significant digits), atomically and deterministically.

    The gzip header carries no time stamp or file name, so the same rows give the same bytes.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    write_csv(replicates, text, float_format=CSV_FLOAT_FORMAT)
    payload = gzip.compress(text.getvalue().encode("utf-8"), compresslevel=9, mtime=0)
    tmp = temporary_sibling(path)
    try:
        with open(tmp, "xb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


@dataclass
class SimulationStudy:
    """A simulation study as notebook 09 shows it (:func:`load_simulation_study`).

    Attributes
    ----------
    replicates : pandas.DataFrame
        Stacked replicate estimates (:func:`read_compact`).
    performance, published : pandas.DataFrame
        :func:`~alsmeds.reporting.simstudy.performance_measures` and
        :func:`~alsmeds.reporting.simstudy.published_percentiles` of the replicates.
    truth : Truth
        The ``truth.json`` of the estimands.
    truth_file : pathlib.Path
        Where it was read.
    source : str
        Which study: the stored one, or a live one and its folder.
    """

    replicates: pd.DataFrame
    performance: pd.DataFrame
    published: pd.DataFrame
    truth: Truth
    truth_file: Path
    source: str

    def describe(self) -> str:
        """Where the estimands come from, which study and its replicates, and where its summary is."""
        from alsmeds.reporting.simstudy import describe_replicates

        return (
            f"estimands: {paths.display_path(self.truth_file)}\n{self.source}: {describe_replicates(self.replicates)}"
        )


def load_simulation_study(
    results: StudyResults,
    live_reps: int = 0,
    scale: float | None = None,
    seed: int | None = None,
    workers: int = 1,
) -> SimulationStudy:
    """The stored simulation study and its summary, or a live study run now (shown, never written).

    Parameters
    ----------
    results : alsmeds.analyses.StudyResults
        The study's results: the stored study's summary is its ``simstudy_performance.csv`` and
        ``simstudy_published.csv`` (the analysis ``simstudy_summary`` writes them); the study's
        data folder names the ``truth.json`` of the estimands
        (:func:`~alsmeds.reporting.simstudy.estimands_truth_file`).
    live_reps : int
        0: the stored study (:func:`~alsmeds.reporting.simstudy.read_stored_replicates`).  More:
        run (or resume) a study of that many replicates under ``build/simstudy/``
        (:func:`run_study`) and summarise it in memory; no results file is written.
    scale : float, optional
        A live study's sample size as a multiple of the paper's (default 0.3).
    seed : int, optional
        A live study's master seed (default :data:`DEFAULT_STUDY_SEED`).
    workers : int
        A live study's worker processes.

    Returns
    -------
    SimulationStudy
    """
    truth_file = estimands_truth_file(results.study.data_dir)
    truth = read_truth(truth_file)
    if live_reps > 0:
        run = run_study(
            live_reps, scale=scale or 0.3, seed=DEFAULT_STUDY_SEED if seed is None else seed, workers=workers
        )
        replicates = compact_frame(collect(run.folder, live_reps))
        performance, published = summarise(replicates, truth)
        source = f"a live study in {paths.display_path(run.folder)} (summarised here, not written)"
    else:
        replicates = read_stored_replicates()
        performance, published = results["simstudy_performance.csv"], results["simstudy_published.csv"]
        source = f"the stored study, {ESTIMATES_FILE}"
    return SimulationStudy(replicates, performance, published, truth, truth_file, source)
