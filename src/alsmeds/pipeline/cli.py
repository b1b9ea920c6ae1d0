"""Command line of the bundle: ``alsmeds`` or ``python -m alsmeds``.

Subcommands
-----------
simulate
    Write the synthetic registry (``--check``: verify the committed copy regenerates
    byte-identically).
validate
    Check a registry folder against the schema and print a summary.
run
    Execute the numbered notebooks in order with papermill.
compare
    Compare fresh results with reference results, floats within rounding tolerance.
site
    Build the static HTML site of the executed notebooks (Jupyter Book, offline).

Exit codes: 0 success, 1 a failed check or notebook (or a write that failed: a full disk,
an output that cannot be written), 2 invalid usage or invalid data, 130 interrupted (Ctrl-C).
A plain mistake (an option out of range, an output folder that is a file or read-only, a
notebooks folder without notebooks) is found before any long work starts and reported in
one line on stderr, never as a traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from alsmeds import __version__, paths

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
#: The shell's convention for a process ended by SIGINT (128 + 2).
EXIT_INTERRUPTED = 130


def _silence(stream) -> None:
    """Point a stream's descriptor at /dev/null, so the interpreter's final flush cannot fail again.

    The recipe of the Python documentation ("Note on SIGPIPE") for a reader that has gone.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # a stream without a descriptor
        pass


def _settle(stream) -> None:
    """Flush a stream; if that fails (a full disk, a closed pipe), silence it so that exit cannot fail again."""
    try:
        stream.flush()
    except (OSError, ValueError):
        _silence(stream)


def _describe_os_error(err: OSError) -> str:
    """One line for a failed file operation: what the system said, and on which file."""
    reason = err.strerror or str(err) or type(err).__name__
    return f"{reason}: {err.filename}" if err.filename is not None else reason


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (and exit code 2)."""

    def error(self, message: str):
        """Print ``<prog>: <message> (see <prog> --help)`` on stderr and exit with code 2."""
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _seed(text: str) -> int:
    """A ``--seed``: a non-negative integer (numpy's seeds are)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number of 0 or more, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number of 0 or more, not {text!r}")
    return value


def _scale(text: str) -> float:
    """A ``--scale``: a positive, finite multiple of the paper's sample size."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number greater than 0 (1 = the paper's size), not {text!r}")
    return value


class _OutputError(Exception):
    """The command's output could not be written (``> /dev/full``, a full disk): carries the OSError."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


class _GuardedOutput:
    """``sys.stdout`` as a command sees it: a write that fails (other than a closed pipe) is the output's failure.

    ``print`` to a full device fails in the command, where an OSError could be any file's;
    this tells :func:`main` it was the output's.
    """

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        """Write to the wrapped stream."""
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _OutputError(exc) from exc

    def flush(self) -> None:
        """Flush the wrapped stream."""
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise _OutputError(exc) from exc

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _print_quietly(text: str, stream) -> None:
    """Print and flush; if the reader has gone (a closed pipe), stop writing without a traceback.

    Raises
    ------
    _OutputError
        If the stream cannot be written otherwise (a full disk).
    """
    try:
        print(text, file=stream)
        stream.flush()
    except BrokenPipeError:
        _silence(stream)
    except OSError as exc:
        raise _OutputError(exc) from exc


def cmd_simulate(args: argparse.Namespace) -> int:
    """Write or verify the synthetic registry.

    Parameters
    ----------
    args : argparse.Namespace
        ``out``, ``seed``, ``scale`` and ``check``.

    Returns
    -------
    int
        Exit code.
    """
    from alsmeds.data.write import OutputFolderError, check_registry_target, remove_stale_temporaries
    from alsmeds.estimands import synthetic

    out = Path(args.out)
    if args.check:
        check = synthetic.check_synthetic(out)
        if not check.ok:
            print(f"synthetic data in {out} do not match their regeneration:", file=sys.stderr)
            for problem in check.problems:
                print(f"  - {problem}", file=sys.stderr)
            return EXIT_FAILED
        print(f"synthetic data verified: {check.n_files} files regenerate (tables byte-identical)")
        if check.truth is not None:
            print(f"  truth.json: {check.truth.summary()}")
        return EXIT_OK
    try:
        target = check_registry_target(out)  # before the minute of simulation, not after it
    except OutputFolderError as exc:
        print(f"alsmeds simulate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    remove_stale_temporaries(target.parent)  # what a killed simulate left beside its output
    try:
        synthetic.write_synthetic(out, seed=args.seed, scale=args.scale)
    except OSError as exc:  # a full disk: the write left the folder as it was
        reason = exc.strerror or str(exc)
        print(f"alsmeds simulate: could not write {out}: {reason}; {out} is as it was", file=sys.stderr)
        return EXIT_FAILED
    print(f"synthetic data written to {out}")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate a registry folder and print the report.

    Parameters
    ----------
    args : argparse.Namespace
        ``data_dir``.

    Returns
    -------
    int
        0 when valid, with the summary and any warnings on stdout (warnings alone never
        fail); 2 with the errors (and warnings) on stderr when not.  A closed output pipe
        (``alsmeds validate DIR | head -1``) ends the command quietly with the same code;
        an output that cannot be written (``> /dev/full``) with one line and code 1
        (:func:`main`).
    """
    from alsmeds.data import problems, validate

    try:
        report = validate.validate_registry(Path(args.data_dir))
    except problems.RegistryValidationError as exc:
        _print_quietly(str(exc), sys.stderr)
        return EXIT_USAGE
    _print_quietly(str(report), sys.stdout)
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    """Run the study's analyses, then execute the notebooks (:func:`alsmeds.pipeline.runner.run_notebooks`).

    Without ``--only``, on the project's notebooks, every results file is first written by
    the analyses layer (:func:`alsmeds.analyses.run_analyses`, the committed specification);
    the notebooks then load them.  With ``--only`` (or another notebooks folder), each
    notebook runs (or resumes) the analyses whose files it shows.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed ``run`` options.

    Returns
    -------
    int
        0 when every notebook ran, 1 at the first failure, 2 for an unknown ``--only``, a
        notebooks folder without notebooks, a ``--data-dir`` that is not a folder or an
        output folder that cannot be written (said before anything runs).
    """
    from alsmeds.data.write import OutputFolderError
    from alsmeds.pipeline import runner

    try:
        runner.select_notebooks(runner.find_notebooks(args.notebooks_dir), args.only)
    except runner.NotebookSelectionError as exc:
        print(f"alsmeds run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        print(f"alsmeds run: --data-dir {args.data_dir} is not a folder", file=sys.stderr)
        return EXIT_USAGE

    folders = runner.run_folders(
        data_dir=args.data_dir,
        seed=args.seed,
        scale=args.scale,
        output_dir=args.output_dir,
        figures_dir=args.figures_dir,
        results_dir=args.results_dir,
        inplace=args.inplace,
    )
    params = runner.standard_parameters(
        data_dir=args.data_dir,
        figures_dir=folders.figures,
        results_dir=folders.results,
        seed=args.seed,
        scale=args.scale,
    )
    notebooks_dir = Path(args.notebooks_dir)
    print(f"alsmeds run: {folders.describe()}", file=sys.stderr)
    if args.only is None and notebooks_dir.resolve() == paths.NOTEBOOKS_DIR.resolve():
        # The study's lessons: every results file first, by the analyses layer (resumable); the notebooks load them.
        from alsmeds.analyses import read_spec, run_analyses
        from alsmeds.study import Study

        spec = read_spec()
        study = Study.from_parameters(data_dir=args.data_dir, seed=args.seed, scale=args.scale, rules=spec.rules)
        report = run_analyses(study, spec, folders.results, progress=not args.no_progress)
        print(f"alsmeds run: {len(report.ran)} analyses run, {len(report.skipped)} current", file=sys.stderr)
    try:
        results = runner.run_notebooks(
            notebooks_dir,
            folders.notebooks,
            parameters=params,
            only=args.only,
            inplace=args.inplace,
            progress=not args.no_progress,
        )
    except (runner.NotebookSelectionError, OutputFolderError) as exc:
        print(f"alsmeds run: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except runner.NotebookRunError as exc:
        print(exc.report(), file=sys.stderr)
        return EXIT_FAILED
    total = sum(r.seconds for r in results)
    back = f"; notebooks also written back into {paths.display_path(notebooks_dir)}" if args.inplace else ""
    print(f"executed {len(results)} notebook(s) in {total:.0f} s: {folders.describe()}{back}")
    return EXIT_OK


def cmd_study(args: argparse.Namespace) -> int:
    """Run a study specification's analyses, list them, or write or check the specification's JSON Schema.

    Parameters
    ----------
    args : argparse.Namespace
        ``study_command`` (``run``, ``list`` or ``schema``) and its options.

    Returns
    -------
    int
        0 on success; 1 when an analysis fails or the schema file is out of date; 2 for a
        specification that does not validate, a ``--data-dir`` that is not a folder or an
        unknown ``--only`` (said before anything runs).
    """
    from alsmeds import analyses
    from alsmeds.analyses import spec as spec_module
    from alsmeds.data.write import write_text_atomic

    if args.study_command == "schema":
        text = spec_module.schema_text()
        target = Path(args.out)
        if args.check:
            current = target.read_text(encoding="utf-8") if target.is_file() else ""
            if current != text:
                print(f"{target} is out of date: run alsmeds study schema", file=sys.stderr)
                return EXIT_FAILED
            print(f"{target} is current")
            return EXIT_OK
        write_text_atomic(target, text)
        print(f"wrote {target}")
        return EXIT_OK
    if args.study_command == "list":
        for item in analyses.ANALYSES.values():
            needs = f"  (needs {', '.join(item.needs)})" if item.needs else ""
            print(f"{item.name}: {', '.join(item.outputs)}{needs}\n    {item.description}")
        return EXIT_OK
    try:
        spec = analyses.read_spec(args.spec)
        names = analyses.with_needs(args.only) if args.only else None
    except (analyses.SpecError, KeyError) as exc:
        print(f"alsmeds study run: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.data_dir is not None and not Path(args.data_dir).is_dir():
        print(f"alsmeds study run: --data-dir {args.data_dir} is not a folder", file=sys.stderr)
        return EXIT_USAGE
    from alsmeds.study import Study

    study = Study.from_parameters(data_dir=args.data_dir, rules=spec.rules)
    _, results_dir = paths.output_folders(None, args.results_dir, data_dir=args.data_dir)
    if results_dir.resolve() == paths.COMMITTED_RESULTS_DIR.resolve() and not args.inplace:
        print(
            "alsmeds study run: results/ is the committed bundle; pass --inplace (make refresh) to write it",
            file=sys.stderr,
        )
        return EXIT_USAGE
    print(f"alsmeds study run: {spec.name} on {study.source} -> {paths.display_path(results_dir)}", file=sys.stderr)
    report = analyses.run_analyses(
        study, spec, results_dir, only=names, resume=not args.no_resume, progress=not args.no_progress
    )
    timing = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in report.seconds.items())
    skipped = f"; {len(report.skipped)} current, skipped ({', '.join(report.skipped)})" if report.skipped else ""
    print(f"ran {len(report.ran)} analyses ({timing or 'none'}){skipped}; {len(report.written)} files written")
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare fresh results with reference results (see :func:`alsmeds.precision.compare_folders`).

    Parameters
    ----------
    args : argparse.Namespace
        ``fresh`` and ``reference`` folders.

    Returns
    -------
    int
        0 when every value agrees within tolerance, 1 otherwise, 2 for a missing folder.
    """
    from alsmeds.precision import compare_folders

    fresh, reference = Path(args.fresh), Path(args.reference)
    for folder in (fresh, reference):
        if not folder.is_dir():
            print(f"alsmeds compare: no such folder: {folder}", file=sys.stderr)
            return EXIT_USAGE
    comparison = compare_folders(reference, fresh)
    where = f"{paths.display_path(fresh)} against {paths.display_path(reference)}"
    if comparison.ok:
        print(f"results reproduced ({where}): {comparison.summary()}")
        return EXIT_OK
    print(f"results differ beyond tolerance ({where}):", file=sys.stderr)
    print(comparison.report(), file=sys.stderr)
    return EXIT_FAILED


def cmd_site(args: argparse.Namespace) -> int:
    """Build the static site of the executed notebooks (see :func:`alsmeds.pipeline.site.build_site`).

    Parameters
    ----------
    args : argparse.Namespace
        ``out``, ``notebooks_dir``, ``figures_dir``, ``results_dir``, ``mathjax`` and
        ``no_progress``.

    Returns
    -------
    int
        0 when the site was built, 1 when the build failed, 2 for missing inputs (no
        notebooks, no local MathJax) or an output folder that is not a site.
    """
    from alsmeds.pipeline import site

    try:
        build = site.build_site(
            args.out,
            notebooks_dir=args.notebooks_dir,
            figures_dir=args.figures_dir,
            results_dir=args.results_dir,
            mathjax_dir=args.mathjax,
            progress=not args.no_progress,
        )
    except site.SiteBuildFailed as exc:
        print(f"alsmeds site: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except site.SiteError as exc:
        print(f"alsmeds site: {exc}", file=sys.stderr)
        return EXIT_USAGE
    pages = len(build.notebooks) + 1
    warned = f", {len(build.warnings)} Sphinx warning(s)" if build.warnings else ""
    print(f"site built in {build.seconds:.0f} s ({pages} pages{warned}): open {build.out / 'index.html'}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """Return the ``alsmeds`` argument parser.

    Returns
    -------
    argparse.ArgumentParser
        Parser with the ``simulate``, ``validate``, ``run``, ``study``, ``compare`` and ``site`` subcommands.
    """
    parser = _OneLineParser(
        prog="alsmeds",
        description="Reproducibility bundle: psychiatric medications and ALS on simulated Swedish registers.",
    )
    parser.add_argument("--version", action="version", version=f"alsmeds {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("simulate", help="write (or --check) the synthetic registry")
    p.add_argument(
        "--out", default=str(paths.SYNTHETIC_DIR), metavar="DIR", help="output folder (default: %(default)s)"
    )
    p.add_argument("--seed", type=_seed, default=None, help="random seed, 0 or more (default: the simulator's own)")
    p.add_argument(
        "--scale", type=_scale, default=None, help="sample-size multiplier, > 0 (default: the simulator's own)"
    )
    p.add_argument(
        "--check", action="store_true", help="regenerate in a temporary folder and compare with DIR's MANIFEST.sha256"
    )
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("validate", help="check a registry folder against the schema")
    p.add_argument("data_dir", metavar="DATA_DIR", help="folder holding the registry tables")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("run", help="execute the numbered notebooks in order with papermill")
    p.add_argument("--data-dir", default=None, metavar="DIR", help="registry folder passed to the notebooks")
    p.add_argument("--seed", type=_seed, default=None, help="seed passed to notebooks that declare one")
    p.add_argument("--scale", type=_scale, default=None, help="scale passed to notebooks that declare one")
    p.add_argument(
        "--only",
        nargs="+",
        action="extend",
        default=None,
        metavar="NOTEBOOK",
        help="run only these notebooks: 03, 03_risk_models or 03_risk_models.ipynb",
    )
    p.add_argument(
        "--output-dir",
        default=None,
        metavar="DIR",
        help="folder for the executed notebooks (default: build/runs/<data>/notebooks)",
    )
    p.add_argument(
        "--figures-dir", default=None, metavar="DIR", help="figure folder (default: build/runs/<data>/figures)"
    )
    p.add_argument(
        "--results-dir", default=None, metavar="DIR", help="results folder (default: build/runs/<data>/results)"
    )
    p.add_argument(
        "--inplace",
        action="store_true",
        help="(maintainers, make refresh) write figures/ and results/ and the executed notebooks, cleaned of run "
        "metadata, back into the notebooks folder",
    )
    p.add_argument(
        "--notebooks-dir",
        default=str(paths.NOTEBOOKS_DIR),
        metavar="DIR",
        help="folder of NN_*.ipynb notebooks (default: %(default)s)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("study", help="run a study specification's analyses (every results file, no notebook)")
    study_sub = p.add_subparsers(dest="study_command", metavar="ACTION", required=True)
    q = study_sub.add_parser("run", help="run the analyses of SPEC in dependency order, resuming where they stopped")
    q.add_argument(
        "spec", nargs="?", default=None, metavar="SPEC", help="study specification, YAML (default: the committed study)"
    )
    q.add_argument("--data-dir", default=None, metavar="DIR", help="register extract (default: the committed data)")
    q.add_argument(
        "--results-dir", default=None, metavar="DIR", help="results folder (default: build/runs/<data>/results)"
    )
    q.add_argument("--only", nargs="+", default=None, metavar="ANALYSIS", help="these analyses and what they need")
    q.add_argument("--no-resume", action="store_true", help="run every analysis, even those whose files are current")
    q.add_argument("--inplace", action="store_true", help="(maintainers) allow --results-dir results/")
    q.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    q = study_sub.add_parser("list", help="the analyses, their results files and what each needs")
    q = study_sub.add_parser("schema", help="write (or --check) the JSON Schema of a study specification")
    q.add_argument("--out", default=str(paths.ROOT / "studies" / "study-spec.schema.json"), metavar="FILE")
    q.add_argument("--check", action="store_true", help="fail when FILE differs from the schema of the code")
    p.set_defaults(func=cmd_study)

    p = sub.add_parser(
        "compare",
        help="compare fresh results with reference results (floats within rounding tolerance)",
        description="Compare every JSON, CSV and Parquet file of REFERENCE with the same file in FRESH: "
        "labels, counts and dates exactly, floats within two units of their 8th significant digit.",
    )
    p.add_argument("fresh", metavar="FRESH", help="folder of fresh results (e.g. build/reproduce/results)")
    p.add_argument(
        "reference",
        metavar="REFERENCE",
        nargs="?",
        default=str(paths.COMMITTED_RESULTS_DIR),
        help="folder of reference results (default: %(default)s)",
    )
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "site",
        help="build the static HTML site of the executed notebooks",
        description="Build a static site (Jupyter Book 1.x, offline, nothing re-executed): an index with each "
        "notebook's question, the reproduction table and a figure gallery, then one page per notebook. "
        "Sources are generated in OUT-src beside OUT.",
    )
    p.add_argument(
        "--out",
        default=str(paths.BUILD_DIR / "site"),
        metavar="DIR",
        help="output folder, replaced as a whole (default: %(default)s)",
    )
    p.add_argument(
        "--notebooks-dir",
        default=str(paths.NOTEBOOKS_DIR),
        metavar="DIR",
        help="executed NN_*.ipynb notebooks to show (default: %(default)s)",
    )
    p.add_argument(
        "--figures-dir",
        default=str(paths.COMMITTED_FIGURES_DIR),
        metavar="DIR",
        help="figures for the gallery (default: %(default)s)",
    )
    p.add_argument(
        "--results-dir",
        default=str(paths.COMMITTED_RESULTS_DIR),
        metavar="DIR",
        help="folder holding reproduction.csv (default: %(default)s)",
    )
    p.add_argument(
        "--mathjax",
        default=None,
        metavar="DIR",
        help="MathJax 2 folder (default: $ALSMEDS_MATHJAX_DIR or Debian's /usr/share/javascript/mathjax)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the build's progress lines")
    p.set_defaults(func=cmd_site)

    from alsmeds.simstudy import cli as simstudy_cli

    p = sub.add_parser(
        "simstudy",
        help="simulation study: replicate data sets, every estimator, bias and coverage (ADEMP)",
        description="Simulate replicate data sets at a given scale, fit every model, store one file per "
        "replicate (resumable) and summarise bias, SEs, coverage and power (docs/simstudy.md).",
    )
    simstudy_cli.add_arguments(p)
    p.set_defaults(func=simstudy_cli.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit code.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["simstudy"] and argv[1:2] in (["calibration"], ["export"]):
        from alsmeds.simstudy import cli as simstudy_cli

        return simstudy_cli.main(argv[1:])  # the simulation study's own subcommands
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "simulate" and args.check and (args.seed is not None or args.scale is not None):
        parser.error("simulate --check regenerates with the recorded seed and scale; drop --seed/--scale")
    stdout = sys.stdout
    try:
        sys.stdout = _GuardedOutput(stdout)
        code = int(args.func(args))
        sys.stdout.flush()  # a full disk behind stdout shows here, not in the interpreter's exit
        return code
    except KeyboardInterrupt:
        # Ctrl-C: one line, not a traceback.  Atomic writes have already removed their
        # temporary files; anything a killed kernel left is cleared by the next run.
        print(f"alsmeds {args.command}: interrupted; nothing was half-written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of the output has gone (``alsmeds ... | head -1``): stop quietly.
        _silence(stdout)
        return EXIT_OK
    except _OutputError as exc:
        # ``alsmeds ... > /dev/full``: one line, and no second failure at exit.
        _silence(stdout)
        print(f"alsmeds {args.command}: cannot write the output: {_describe_os_error(exc.error)}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as exc:
        # A file that cannot be written (a full disk, a read-only folder): one line, not a
        # traceback.  Atomic writes leave their targets as they were.
        _settle(stdout)
        print(f"alsmeds {args.command}: {_describe_os_error(exc)}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        sys.stdout = stdout


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
