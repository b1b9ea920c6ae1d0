"""Command line of the simulation study: ``alsmeds simstudy`` (also ``python -m alsmeds.simstudy``).

::

    alsmeds simstudy --reps N --scale S --workers W [--scheduler ADDRESS] [--out DIR] [--seed SEED]
                     [--mechanism NAME|all] [--results-dir DIR] [--retry-failed] [--no-progress]

Runs (or resumes) the study of :func:`alsmeds.simstudy.runner.run_study` into
``<out>/<study-id>/``, then compacts the stored replicates into ``simstudy_estimates.csv.gz`` and
writes the performance tables (``simstudy_performance.{csv,json}``, ``simstudy_published.{csv,json}``)
into ``--results-dir`` (default: the study folder; the committed study was written with
``--results-dir results``).  With ``--mechanism NAME`` (or ``all``) it runs data-generating mechanisms of
:mod:`alsmeds.simstudy.mechanisms` instead, each into ``<out>/<mechanism>/<study-id>/``, and stacks every stored
mechanism into ``simstudy_mechanisms_estimates.csv.gz`` (:func:`alsmeds.simstudy.mechanisms.run_mechanisms_cli`).

``python -m alsmeds.simstudy calibration --reps N --workers W [--results-dir DIR]`` runs the calibration
check of issue 25 instead (:func:`alsmeds.simstudy.calibration.main`; ``docs/simstudy.md``).

``python -m alsmeds.simstudy export --format rsimsum OUT.csv [--estimates FILE]`` writes the stored
replicates in the tidy layout of R's rsimsum and the INTEREST app (:func:`alsmeds.simstudy.export.main`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from alsmeds import paths

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``simstudy`` options to a parser (for a subcommand of ``alsmeds``)."""
    from .runner import DEFAULT_OUT, DEFAULT_STUDY_SEED

    p.add_argument("--reps", type=int, required=True, metavar="N", help="number of replicates")
    p.add_argument(
        "--scale",
        type=float,
        default=None,
        metavar="S",
        help="sample size of a replicate as a multiple of the paper's 1,057 cases (default: 1; the mechanism's)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="W",
        help="worker processes on this machine (joblib loky; default 1: in this process)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run on an existing Dask cluster (tcp://host:8786) through joblib's dask backend",
    )
    p.add_argument(
        "--out",
        default=str(DEFAULT_OUT),
        metavar="DIR",
        help="root of study folders; the study goes to DIR/seed-SEED_scale-S (default: %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="SEED",
        help=f"master seed; replicate i uses SeedSequence(SEED).spawn(N)[i] (default: {DEFAULT_STUDY_SEED}; "
        "the mechanism's)",
    )
    p.add_argument(
        "--mechanism",
        default=None,
        metavar="NAME",
        help="run a data-generating mechanism of alsmeds.simstudy.mechanisms (or 'all') into DIR/NAME/..., "
        "and stack every stored mechanism into simstudy_mechanisms_estimates.csv.gz (default: the committed "
        "generator, as before)",
    )
    p.add_argument(
        "--results-dir",
        default=None,
        metavar="DIR",
        help="where to write simstudy_estimates.csv.gz and the performance tables (default: the study folder)",
    )
    p.add_argument("--retry-failed", action="store_true", help="recompute replicates stored as failures")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def build_parser() -> argparse.ArgumentParser:
    """The stand-alone parser (``python -m alsmeds.simstudy``)."""
    parser = argparse.ArgumentParser(
        prog="alsmeds simstudy",
        description="Simulation study (ADEMP) of the bundle's estimators: replicate synthetic data sets "
        "with independent seeds, fit every model, store one file per replicate (resumable), "
        "and summarise bias, empirical and model SE, coverage and power against the committed truth.",
    )
    return add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run the study an argument namespace describes (see :func:`add_arguments`); returns the exit code."""
    from .runner import (
        DEFAULT_STUDY_SEED,
        ESTIMATES_FILE,
        collect,
        compact_frame,
        read_compact,
        run_study,
        write_compact,
        write_summary,
    )

    if getattr(args, "mechanism", None):
        from .mechanisms import run_mechanisms_cli

        return run_mechanisms_cli(args)
    args.scale = 1.0 if args.scale is None else args.scale
    args.seed = DEFAULT_STUDY_SEED if args.seed is None else args.seed
    if args.reps < 1 or args.scale <= 0 or args.workers < 1:
        print("alsmeds simstudy: --reps and --workers must be at least 1 and --scale positive", file=sys.stderr)
        return EXIT_USAGE
    start = time.perf_counter()
    result = run_study(
        reps=args.reps,
        scale=args.scale,
        seed=args.seed,
        workers=args.workers,
        scheduler=args.scheduler,
        out=args.out,
        progress=not args.no_progress,
        retry_failed=args.retry_failed,
    )
    results_dir = Path(args.results_dir) if args.results_dir else result.folder
    compact = write_compact(compact_frame(collect(result.folder, args.reps)), results_dir / ESTIMATES_FILE)
    written = [compact, *write_summary(read_compact(compact), results_dir)]
    print(
        f"simstudy {result.folder.name}: {args.reps} replicates ({len(result.computed)} computed, "
        f"{len(result.reused)} reused, {len(result.failed)} failed) in {time.perf_counter() - start:.0f} s; "
        f"stored in {paths.display_path(result.folder)}"
    )
    for rep, error in sorted(result.failed.items()):
        print(f"  replicate {rep} failed: {error}")
    print("written: " + ", ".join(str(paths.display_path(p)) for p in written))
    return EXIT_FAILED if len(result.failed) == args.reps else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``alsmeds simstudy``.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name (default ``sys.argv[1:]``); a first argument
        ``calibration`` runs the calibration check (:func:`alsmeds.simstudy.calibration.main`),
        ``export`` writes the tidy layout of rsimsum (:func:`alsmeds.simstudy.export.main`).

    Returns
    -------
    int
        0 when the study is stored and summarised (failed replicates are listed), 1 when
        every replicate failed, 2 for a usage error, 130 when interrupted (what was stored
        stays: rerun the same command to resume).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["calibration"]:
        from .calibration import main as calibration_main

        return calibration_main(argv[1:])
    if argv[:1] == ["export"]:
        from .export import main as export_main

        return export_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("alsmeds simstudy: interrupted; the replicates stored so far are kept: rerun to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
