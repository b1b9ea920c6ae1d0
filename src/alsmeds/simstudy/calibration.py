"""The calibration check of issue 25: coverage of calibrated intervals of the panel's controls, by simulation.

ADEMP (``docs/simstudy.md``, *Calibration check (issue 25)*):

* **Aim.**  With systematic error planted, do calibrated 95% intervals cover the planted odds ratios about 95% of
  the time where uncalibrated ones do not?  Without it, how much width does calibration cost?
* **Data-generating mechanisms** (:data:`MECHANISMS`, :func:`mechanism_parameters`).  ``systematic_error``: the
  committed generator (:class:`alsmeds.simulate.parameters.SimulationParameters`): 35 negative controls (the PPIs
  with their own mechanism and 34 panel classes whose planted systematic error, the lagged exposure's log OR in the
  adjusted population comparison, is drawn once from ``N(0.15, 0.10^2)``) and three positive controls with planted
  ORs 1.5, 2 and 4 under the same kind of bias.  ``no_systematic_error``: the same generator with the panel's
  confounding switched off by parameters alone: ``PanelParameters(null_mean=0, null_sd=0,
  liability_loading=(0, 0), propensity_loading=(0, 0))``, under which the loading on the familial factor solves to
  0 as well (a class's use then depends on sex and age only, which the design matches on), and the PPIs' loading on
  the familial factor set to 0 (``NegativeControlParameters(per_familial_factor=0)``).  The panel's random draws
  are the same in number and order, so every class keeps its share of users; only the loadings change.  Replicate
  ``i`` of a mechanism draws its data with :func:`alsmeds.simstudy.runner.replicate_seed` ``(base, i)``, ``base``
  the mechanism's :data:`MECHANISMS` seed, at the paper's size (``scale=1``) by default.
* **Estimand.**  Each control's planted log odds ratio of lagged use (0 for a negative control).
* **Method.**  The study's own code: the data set is drawn with :meth:`alsmeds.Study.synthetic` (no implied
  estimands), the panel classified (:func:`alsmeds.derive.analysis_table.build_panel_table`) and every control
  fitted with the study's main model (:func:`alsmeds.analyses.calibration.fit_panel_controls`: one class, adjusted,
  lagged exposure, the specification's adjustment set) in the population comparison (and the sibling one when
  asked).  Each control is then calibrated as the study's analysis calibrates an estimate
  (:func:`alsmeds.analyses.calibration.calibrate_term`'s steps, :func:`calibrate_controls`) *leaving that control
  out*: the empirical null is fitted to the other negative controls and the systematic error model to the other
  negative and positive controls (for a negative control: 34 negatives and the three positives; for a positive
  control: the 35 negatives and the two other positives), as OHDSI's ``evaluateCiCalibration`` does by
  leave-one-out.  The control under evaluation is never in its own calibration fit, and the procedure is the
  analysis's, which calibrates a study estimate with the model of all the controls.  When the error model cannot
  be fitted, the null serves as error model (``calibrate_term``'s fallback, recorded in ``error_model``).  Beside
  it, each control's interval calibrated with the null of the other negative controls as error model
  (``null_calibrated``: the error taken as the same at every true effect; OHDSI's ``convertNullToErrorModel``).
* **Performance measures.**  Coverage of the uncalibrated (Wald) and of the calibrated 95% intervals, the width
  ratio, the rejection rates of the uncalibrated and calibrated p-values at 5% and the mean errors, per mechanism
  and group of controls, with Monte Carlo SEs over replicates that respect the clustering of controls within a
  replicate (:func:`alsmeds.analyses.calibration_check.calibration_performance`).

Each replicate is stored as one parquet file (``<out>/calibration/<mechanism>_seed-<base>_scale-<scale>/``), so a
rerun resumes; a failed replicate is stored as one ``failure`` row with its seed and error, never dropped.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsmeds import paths
from alsmeds.analyses.calibration_check import (
    CALIBRATION_REPLICATE_COLUMNS,
    COVERAGE_ESTIMATES_FILE,
    calibration_performance,
    read_coverage_estimates,
    replicate_mean,
)
from alsmeds.data.write import remove_stale_temporaries, write_json_atomic, write_parquet_atomic

from .runner import DEFAULT_OUT, replicate_path, replicate_seed, stored_replicates, write_compact

__all__ = [
    "COVERAGE_ESTIMATES_FILE",
    "MECHANISMS",
    "calibration_performance",
    "calibrate_controls",
    "collect_calibration",
    "main",
    "mechanism_parameters",
    "read_coverage_estimates",
    "replicate_mean",
    "run_calibration_replicate",
    "run_calibration_study",
]

#: The mechanisms of the check and the base seed of each one's replicates.
MECHANISMS = {"systematic_error": 20250625, "no_systematic_error": 20250626}
#: The exposure term checked: lagged use.
WINDOW = "gt1"
#: Default comparisons (the population comparison is where the panel's systematic error is planted).
DEFAULT_COMPARISONS = ("population",)
#: Column order of a replicate's frame.
COLUMNS = list(CALIBRATION_REPLICATE_COLUMNS)
_FLOAT_COLUMNS = [
    "scale",
    "true_or",
    "true_log_or",
    "estimate",
    "se",
    "discordant_sets",
    "uncalibrated_lower",
    "uncalibrated_upper",
    "uncalibrated_p",
    "calibrated_estimate",
    "calibrated_lower",
    "calibrated_upper",
    "calibrated_p",
    "null_mu",
    "null_tau",
    "n_negative_controls",
    "n_positive_controls",
    "uncalibrated_covered",
    "calibrated_covered",
    "uncalibrated_width",
    "calibrated_width",
    "width_ratio",
    "null_calibrated_lower",
    "null_calibrated_upper",
    "null_calibrated_covered",
    "null_width_ratio",
    "replicate_seconds",
]


def mechanism_parameters(mechanism: str) -> Any:
    """The planted parameters of a mechanism (module docstring).

    Parameters
    ----------
    mechanism : {"systematic_error", "no_systematic_error"}

    Returns
    -------
    alsmeds.simulate.parameters.SimulationParameters
    """
    from alsmeds.simulate.parameters import SimulationParameters

    params = SimulationParameters()
    if mechanism == "systematic_error":
        return params
    if mechanism == "no_systematic_error":
        panel = replace(
            params.panel,
            null_mean=0.0,
            null_sd=0.0,
            liability_loading=(0.0, 0.0),
            propensity_loading=(0.0, 0.0),
        )
        ppis = replace(params.negative_control, per_familial_factor=0.0)
        return replace(params, panel=panel, negative_control=ppis)
    raise ValueError(f"unknown mechanism {mechanism!r}; known: {sorted(MECHANISMS)}")


def calibrate_controls(
    controls: pd.DataFrame, comparison: str, window: str = WINDOW, sd_form: str = "linear"
) -> pd.DataFrame:
    """Uncalibrated and leave-one-out calibrated intervals of every control of one comparison and term.

    For each control, the calibration of :func:`alsmeds.analyses.calibration.calibrate_term` with that control
    left out of the controls: the empirical null (:func:`~alsmeds.models.calibration.fit_null`) of the other
    estimable negative controls with ``|log OR| <= log 100``, the calibrated p-value against it
    (:func:`~alsmeds.models.calibration.calibrate_p`), the systematic error model of the other negative and
    positive controls (:func:`~alsmeds.models.calibration.fit_systematic_error_model`; the null as error model
    when it cannot be fitted, as ``calibrate_term`` falls back) and the calibrated estimate and 95% interval
    (:func:`~alsmeds.models.calibration.calibrate_ci`).  The same steps as ``calibrate_term`` without its
    diagnostics (the leave-one-out p-values of the others, the null's profile intervals), which would cost
    twice as much again per control; ``tests/test_calibration_coverage.py`` checks that both give the same
    numbers.  Beside it, the interval calibrated with the null alone as error model
    (:func:`~alsmeds.models.calibration.null_to_error_model`: the error the same at every true effect).

    Parameters
    ----------
    controls : DataFrame
        :func:`alsmeds.analyses.calibration.fit_panel_controls` rows of this comparison and window.
    comparison, window : str
    sd_form : {"linear", "log_linear"}
        The systematic error model's SD (the specification's ``calibration.sd_form``).

    Returns
    -------
    DataFrame
        One row per control, in the order of ``controls``: the :data:`CALIBRATION_REPLICATE_COLUMNS` from
        ``comparison`` to ``null_width_ratio``.  A control is never in its own null or error model.
    """
    from alsmeds.analyses.calibration import ALPHA, MIN_NEGATIVE_CONTROLS
    from alsmeds.models.calibration import (
        MAX_ABS_LOG_RR,
        calibrate_ci,
        calibrate_p,
        error_model_or_null,
        fit_null,
        null_to_error_model,
        traditional_p,
    )

    usable = (
        controls["estimable"].astype(bool)
        & np.isfinite(controls["log_or"])
        & np.isfinite(controls["se"])
        & (controls["se"] > 0)
    )
    negative = usable & (controls["control_type"] == "negative_control") & (controls["log_or"].abs() <= MAX_ABS_LOG_RR)
    positive = usable & (controls["control_type"] == "positive_control")
    rows = []
    for i in controls.index:
        c = controls.loc[i]
        row: dict[str, Any] = dict.fromkeys(COLUMNS, np.nan)
        row.update(
            comparison=comparison,
            window=window,
            control=c["drug_class"],
            control_type=c["control_type"],
            true_log_or=float(c["true_log_or"]),
            true_or=float(math.exp(c["true_log_or"])),
            status="ok" if usable[i] else "not_estimable",
            reason=""
            if usable[i]
            else (c["reason"] if isinstance(c["reason"], str) and c["reason"] else "no estimate"),
            estimate=float(c["log_or"]),
            se=float(c["se"]),
            discordant_sets=float(c["discordant_sets"]),
            error_model="",
        )
        others = controls.index != i
        negatives = controls[negative & others]
        positives = controls[positive & others]
        row.update(n_negative_controls=float(len(negatives)), n_positive_controls=float(len(positives)))
        if not usable[i]:
            rows.append(row)
            continue
        y, s, truth = float(c["log_or"]), float(c["se"]), float(c["true_log_or"])
        lower, upper = float(np.log(c["ci_lower"])), float(np.log(c["ci_upper"]))
        row.update(
            uncalibrated_lower=lower,
            uncalibrated_upper=upper,
            uncalibrated_p=float(traditional_p(y, s)[0]),
            uncalibrated_covered=float(lower <= truth <= upper),
            uncalibrated_width=upper - lower,
        )
        if len(negatives) < MIN_NEGATIVE_CONTROLS:
            row.update(status="not_estimable", reason=f"{len(negatives)} estimable negative controls to calibrate")
            rows.append(row)
            continue
        null = fit_null(negatives["log_or"].to_numpy(), negatives["se"].to_numpy())
        both = pd.concat([negatives, positives])
        model, source, why = error_model_or_null(
            null, both["log_or"].to_numpy(), both["se"].to_numpy(), both["true_log_or"].to_numpy(), sd_form
        )
        if why:
            row["reason"] = why
        ci = calibrate_ci(model, y, s, ALPHA).iloc[0]
        nci = calibrate_ci(null_to_error_model(null), y, s, ALPHA).iloc[0]
        cal_lower, cal_upper = float(ci["ci_lower"]), float(ci["ci_upper"])
        n_lower, n_upper = float(nci["ci_lower"]), float(nci["ci_upper"])
        row.update(
            calibrated_estimate=float(ci["estimate"]),
            calibrated_lower=cal_lower,
            calibrated_upper=cal_upper,
            calibrated_p=float(calibrate_p(null, y, s)[0]),
            null_mu=float(null.mu),
            null_tau=float(null.tau),
            error_model=source,
            null_calibrated_lower=n_lower,
            null_calibrated_upper=n_upper,
        )
        # calibrate_ci gives no limit when no root lies in [-100, 100] (as the package): the flag stays empty.
        if math.isfinite(cal_lower) and math.isfinite(cal_upper):
            row.update(
                calibrated_covered=float(cal_lower <= truth <= cal_upper),
                calibrated_width=cal_upper - cal_lower,
                width_ratio=(cal_upper - cal_lower) / (upper - lower),
            )
        if math.isfinite(n_lower) and math.isfinite(n_upper):
            row.update(
                null_calibrated_covered=float(n_lower <= truth <= n_upper),
                null_width_ratio=(n_upper - n_lower) / (upper - lower),
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS).loc[:, "comparison":"null_width_ratio"]


def _finish(frame: pd.DataFrame, mechanism: str, rep: int, seed: int, scale: float, seconds: float) -> pd.DataFrame:
    frame = frame.copy()
    frame["mechanism"], frame["rep"], frame["seed"], frame["scale"] = mechanism, rep, seed, scale
    frame["replicate_seconds"] = seconds
    frame = frame.reindex(columns=COLUMNS)
    frame["rep"] = frame["rep"].astype("int64")
    frame["seed"] = frame["seed"].astype("int64")
    for column in _FLOAT_COLUMNS:
        frame[column] = frame[column].astype("float64")
    for column in ("mechanism", "comparison", "window", "control", "control_type", "status", "reason", "error_model"):
        frame[column] = frame[column].fillna("").astype(str)
    return frame


def run_calibration_replicate(
    rep: int,
    seed: int,
    scale: float = 1.0,
    mechanism: str = "systematic_error",
    comparisons: Sequence[str] = DEFAULT_COMPARISONS,
    spec: Any = None,
) -> pd.DataFrame:
    """One replicate of the calibration check: simulate, classify and fit the panel, calibrate each control.

    Parameters
    ----------
    rep : int
        Replicate number (stored, not used to draw).
    seed : int
        Seed of the synthetic data (:meth:`alsmeds.Study.synthetic`); the replicate is a function of ``seed``,
        ``scale``, ``mechanism`` and ``comparisons`` alone.
    scale : float
        Sample size as a multiple of the paper's 1,057 cases.
    mechanism : str
        A key of :data:`MECHANISMS`.
    comparisons : sequence of str
        Comparisons whose controls are fitted (``population``; ``sibling`` too costs about half as much again).
    spec : alsmeds.analyses.spec.StudySpec, optional
        The study specification whose exposure rules, adjustment sets and error model's SD form are used
        (default: the committed one, :func:`alsmeds.analyses.spec.read_spec`; a study reads it once and passes it,
        so that its replicates do not depend on the file while they run).

    Returns
    -------
    DataFrame
        :data:`CALIBRATION_REPLICATE_COLUMNS`: one row per comparison and control of the panel (38 per comparison),
        estimable or not.
    """
    from alsmeds.analyses.calibration import fit_panel_controls
    from alsmeds.analyses.risk import covariate_sets
    from alsmeds.analyses.spec import read_spec
    from alsmeds.derive.analysis_table import build_panel_table
    from alsmeds.derive.codelists import panel_codelist
    from alsmeds.study import Study

    start = time.perf_counter()
    spec = read_spec() if spec is None else spec
    params = mechanism_parameters(mechanism)
    study = Study.synthetic(seed=int(seed), scale=float(scale), rules=spec.rules, params=params, truth_scale=0)
    codes = panel_codelist()
    panel_table = build_panel_table(study.registry, study.rules, study.analysis_table, codes)
    frames = []
    for comparison in comparisons:
        controls = fit_panel_controls(panel_table, codes, (comparison,), ("lagged",), **covariate_sets(spec))
        controls = controls[controls["window"] == WINDOW]
        frames.append(calibrate_controls(controls, comparison, WINDOW, spec.calibration.sd_form))
    frame = pd.concat(frames, ignore_index=True)
    return _finish(frame, mechanism, rep, seed, scale, time.perf_counter() - start)


def failure_frame(mechanism: str, rep: int, seed: int, scale: float, error: BaseException) -> pd.DataFrame:
    """The record of a failed replicate: one ``failure`` row with its seed and the error (innermost frames)."""
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__)[-3:])
    reason = f"{type(error).__name__}: {error}\n{trace}"[:4000]
    row = dict.fromkeys(COLUMNS, np.nan)
    row.update(comparison="", window="", control="", control_type="", status="failure", reason=reason, error_model="")
    return _finish(pd.DataFrame([row], columns=COLUMNS), mechanism, rep, seed, scale, np.nan)


def safe_calibration_replicate(
    mechanism: str, rep: int, seed: int, scale: float, comparisons: Sequence[str], spec: Any = None
) -> tuple[int, pd.DataFrame]:
    """:func:`run_calibration_replicate`, with any exception turned into :func:`failure_frame` (never raises)."""
    try:
        frame = run_calibration_replicate(rep, seed, scale, mechanism, comparisons, spec)
    except Exception as exc:  # noqa: BLE001 - every failure is recorded with its seed, never dropped
        frame = failure_frame(mechanism, rep, seed, scale, exc)
    return rep, frame


def study_folder(out: str | Path, mechanism: str, scale: float) -> Path:
    """Folder of a mechanism's replicates: ``<out>/calibration/<mechanism>_seed-<base>_scale-<scale>``."""
    return Path(out) / "calibration" / f"{mechanism}_seed-{MECHANISMS[mechanism]}_scale-{float(scale):g}"


@dataclass
class CalibrationRun:
    """What :func:`run_calibration_study` did for one mechanism (folders, computed, reused and failed replicates)."""

    mechanism: str
    folder: Path
    reps: int
    computed: list[int] = field(default_factory=list)
    reused: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    seconds: float = 0.0


def _results(
    tasks: list[tuple[int, int]], mechanism: str, scale: float, comparisons: Sequence[str], workers: int, spec: Any
) -> Iterator[tuple[int, pd.DataFrame]]:
    if workers <= 1:
        for rep, seed in tasks:
            yield safe_calibration_replicate(mechanism, rep, seed, scale, comparisons, spec)
        return
    from joblib import Parallel, delayed, parallel_config

    calls = (
        delayed(safe_calibration_replicate)(mechanism, rep, seed, scale, tuple(comparisons), spec)
        for rep, seed in tasks
    )
    with parallel_config(backend="loky", n_jobs=workers):
        yield from Parallel(return_as="generator_unordered", batch_size=1)(calls)


def _failed(path: Path) -> str | None:
    frame = pd.read_parquet(path, columns=["status", "reason"])
    failures = frame[frame["status"] == "failure"]
    return (failures["reason"].iloc[0].splitlines() or ["failed"])[0] if len(failures) else None


def run_calibration_study(
    reps: int,
    mechanism: str,
    scale: float = 1.0,
    workers: int = 1,
    out: str | Path | None = None,
    comparisons: Sequence[str] = DEFAULT_COMPARISONS,
    progress: bool = True,
    retry_failed: bool = False,
) -> CalibrationRun:
    """Run (or resume) ``reps`` replicates of one mechanism, one stored parquet file each.

    Parameters
    ----------
    reps : int
        Replicates 0 to ``reps - 1``; replicate ``i`` uses ``replicate_seed(MECHANISMS[mechanism], i)``.
    mechanism : str
        A key of :data:`MECHANISMS`.
    scale : float
        Sample size of each replicate as a multiple of the paper's.
    workers : int
        Worker processes (joblib's loky backend); 1 runs in this process.
    out : path-like, optional
        Root of study folders (default ``build/simstudy``); see :func:`study_folder`.
    comparisons : sequence of str
        Comparisons fitted; recorded in the folder's ``study.json`` (a rerun with others is refused).
    progress : bool
        Show a progress bar (tqdm).
    retry_failed : bool
        Recompute replicates stored as failures.

    Returns
    -------
    CalibrationRun

    Notes
    -----
    The committed study specification is read once here and passed to every replicate.
    """
    from tqdm.auto import tqdm

    from alsmeds.analyses.spec import read_spec

    if mechanism not in MECHANISMS:
        raise ValueError(f"unknown mechanism {mechanism!r}; known: {sorted(MECHANISMS)}")
    start = time.perf_counter()
    folder = study_folder(out if out is not None else DEFAULT_OUT, mechanism, scale)
    folder.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(folder)
    meta = {
        "mechanism": mechanism,
        "seed": MECHANISMS[mechanism],
        "scale": float(scale),
        "comparisons": list(comparisons),
        "seed_rule": "SeedSequence(seed).spawn(reps)[i].generate_state(1)[0]",
    }
    meta_file = folder / "study.json"
    if meta_file.exists():
        import json

        stored_meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if stored_meta.get("comparisons") != meta["comparisons"]:
            raise ValueError(
                f"{paths.display_path(folder)} holds comparisons {stored_meta.get('comparisons')}, "
                f"not {meta['comparisons']}: use another --out"
            )
    else:
        write_json_atomic(meta_file, meta)
    stored = stored_replicates(folder)
    run = CalibrationRun(mechanism=mechanism, folder=folder, reps=reps)
    todo = []
    for rep in range(reps):
        path = stored.get(rep)
        if path is not None and not (retry_failed and _failed(path)):
            run.reused.append(rep)
        else:
            todo.append((rep, replicate_seed(MECHANISMS[mechanism], rep)))
    bar = tqdm(total=reps, initial=len(run.reused), desc=f"calibration {mechanism}", unit="rep", disable=not progress)
    try:
        for rep, frame in _results(todo, mechanism, scale, comparisons, workers, read_spec() if todo else None):
            write_parquet_atomic(replicate_path(folder, rep), frame)
            run.computed.append(rep)
            bar.update(1)
    finally:
        bar.close()
    for rep in range(reps):
        path = replicate_path(folder, rep)
        error = _failed(path) if path.exists() else None
        if error is not None:
            run.failed[rep] = error
    run.computed.sort()
    run.seconds = time.perf_counter() - start
    return run


def collect_calibration(folders: Sequence[Path], reps: int) -> pd.DataFrame:
    """The stored replicates ``0 .. reps - 1`` of each folder, stacked (mechanism, then replicate order)."""
    frames = []
    for folder in folders:
        stored = stored_replicates(folder)
        frames += [pd.read_parquet(stored[r]) for r in sorted(stored) if r < reps]
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)[COLUMNS]


# -- command line ------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m alsmeds.simstudy calibration``."""
    p = argparse.ArgumentParser(
        prog="alsmeds simstudy calibration",
        description="Calibration check (issue 25): coverage of calibrated and uncalibrated 95%% intervals of the "
        "panel's controls, with and without planted systematic error; one file per replicate (resumable), "
        f"stacked into {COVERAGE_ESTIMATES_FILE}.",
    )
    p.add_argument("--reps", type=int, required=True, metavar="N", help="replicates per mechanism")
    p.add_argument("--workers", type=int, default=1, metavar="W", help="worker processes (default 1: in process)")
    p.add_argument("--scale", type=float, default=1.0, metavar="S", help="sample size, multiple of the paper's")
    p.add_argument(
        "--mechanisms",
        nargs="+",
        default=list(MECHANISMS),
        choices=list(MECHANISMS),
        help="mechanisms to run (default: both)",
    )
    p.add_argument(
        "--comparisons",
        nargs="+",
        default=list(DEFAULT_COMPARISONS),
        choices=["population", "sibling"],
        help="comparisons whose controls are fitted (default: population)",
    )
    p.add_argument("--out", default=str(DEFAULT_OUT), metavar="DIR", help="root of study folders (%(default)s)")
    p.add_argument(
        "--results-dir",
        default=None,
        metavar="DIR",
        help=f"where to write {COVERAGE_ESTIMATES_FILE} (default: DIR/calibration of --out)",
    )
    p.add_argument("--retry-failed", action="store_true", help="recompute replicates stored as failures")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m alsmeds.simstudy calibration`` (exit codes as the simulation study's)."""
    args = build_parser().parse_args(argv)
    if args.reps < 1 or args.workers < 1 or args.scale <= 0:
        print(
            "alsmeds simstudy calibration: --reps and --workers must be at least 1, --scale positive", file=sys.stderr
        )
        return 2
    start = time.perf_counter()
    runs = []
    try:
        for mechanism in args.mechanisms:
            runs.append(
                run_calibration_study(
                    args.reps,
                    mechanism,
                    scale=args.scale,
                    workers=args.workers,
                    out=args.out,
                    comparisons=args.comparisons,
                    progress=not args.no_progress,
                    retry_failed=args.retry_failed,
                )
            )
    except KeyboardInterrupt:
        print("alsmeds simstudy calibration: interrupted; stored replicates are kept: rerun to resume", file=sys.stderr)
        return 130
    results_dir = Path(args.results_dir) if args.results_dir else Path(args.out) / "calibration"
    stacked = collect_calibration([r.folder for r in runs], args.reps)
    written = write_compact(stacked, results_dir / COVERAGE_ESTIMATES_FILE)
    for r in runs:
        print(
            f"calibration {r.mechanism}: {r.reps} replicates ({len(r.computed)} computed, {len(r.reused)} reused, "
            f"{len(r.failed)} failed) in {r.seconds:.0f} s; stored in {paths.display_path(r.folder)}"
        )
        for rep, error in sorted(r.failed.items()):
            print(f"  replicate {rep} failed: {error}")
    print(f"written: {paths.display_path(written)} ({time.perf_counter() - start:.0f} s)")
    summary = calibration_performance(read_coverage_estimates(written))
    with pd.option_context("display.width", 200, "display.max_columns", 12):
        print(
            summary[
                [
                    "mechanism",
                    "group",
                    "n_reps",
                    "uncalibrated_coverage",
                    "calibrated_coverage",
                    "null_calibrated_coverage",
                    "width_ratio",
                    "null_width_ratio",
                ]
            ].to_string(index=False, float_format=lambda v: f"{v:.3f}")
        )
    return 1 if all(len(r.failed) == r.reps for r in runs) else 0
