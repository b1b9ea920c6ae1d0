"""Project paths, resolved from the package location rather than the working directory.

papermill runs a kernel in the caller's working directory while Jupyter and nbval use
the notebook's folder; every path in the bundle therefore comes from here.

A user's run never rewrites the committed bundle: only the maintainers' ``make refresh``
(``alsmeds run --inplace``) writes ``notebooks/``, ``results/`` and ``figures/``.  A notebook
whose ``figures_dir`` and ``results_dir`` parameters are left at None writes under
``build/runs/<data>/`` (:func:`output_folders`), where ``<data>`` names the data set
(:func:`run_label`: ``synthetic`` for the committed data, ``seed-7_scale-1`` for a
simulated one, ``extract-<folder>`` for a register extract).

Environment variables move those defaults:

* ``ALSMEDS_FIGURES_DIR``: figures;
* ``ALSMEDS_RESULTS_DIR``: machine-readable results.

The test suite sets both to folders under ``build/test/`` (``conftest.py`` at the project
root).
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """Return the bundle's root folder (the one holding ``pyproject.toml``).

    ``ALSMEDS_ROOT`` overrides it, for an installed package used outside the bundle.
    """
    override = os.environ.get("ALSMEDS_ROOT")
    if override:
        return Path(override).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "notebooks").is_dir():
            return parent
    return Path.cwd().resolve()


def _folder(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value).resolve() if value else default


ROOT = project_root()
DATA_DIR = ROOT / "data"
SYNTHETIC_DIR = DATA_DIR / "synthetic"
NOTEBOOKS_DIR = ROOT / "notebooks"
BUILD_DIR = ROOT / "build"
#: Where runs of the notebooks write, one folder per data set (:func:`output_folders`).
RUNS_DIR = BUILD_DIR / "runs"
#: The committed outputs, written only by ``make refresh`` (what ``make reproduce`` compares with).
COMMITTED_FIGURES_DIR = ROOT / "figures"
COMMITTED_RESULTS_DIR = ROOT / "results"
#: Where the notebooks write figures of the committed data by default (``ALSMEDS_FIGURES_DIR`` overrides).
FIGURES_DIR = _folder("ALSMEDS_FIGURES_DIR", RUNS_DIR / "synthetic" / "figures")
#: Where they write machine-readable results of the committed data (``ALSMEDS_RESULTS_DIR`` overrides).
RESULTS_DIR = _folder("ALSMEDS_RESULTS_DIR", RUNS_DIR / "synthetic" / "results")


def is_committed_data(data_dir: str | Path | None = None, seed: int | None = None, scale: float | None = None) -> bool:
    """True when a notebook's parameters name the committed synthetic data (``data/synthetic``)."""
    if seed is not None or scale is not None:
        return False
    return data_dir is None or Path(data_dir).resolve() == SYNTHETIC_DIR.resolve()


def run_label(data_dir: str | Path | None = None, seed: int | None = None, scale: float | None = None) -> str:
    """The name of a run's output folder under ``build/runs/``: which data set the run analysed.

    ``synthetic`` for the committed data; the folder's own name for a data set a run
    simulated into ``build/data/`` (``seed-7_scale-1``); ``seed-<seed>_scale-<scale>`` for
    a seed or scale simulated in memory (``default`` for one left at None); and
    ``extract-<folder name>`` for any other folder (a register extract).
    """
    if is_committed_data(data_dir, seed, scale):
        return "synthetic"
    if data_dir is not None:
        folder = Path(data_dir).resolve()
        if folder.parent == (BUILD_DIR / "data").resolve():
            return folder.name
        return f"extract-{folder.name or 'root'}"
    seed_text = "default" if seed is None else str(int(seed))
    scale_text = "default" if scale is None else f"{float(scale):g}"
    return f"seed-{seed_text}_scale-{scale_text}"


def output_folders(
    figures_dir: str | Path | None = None,
    results_dir: str | Path | None = None,
    *,
    data_dir: str | Path | None = None,
    seed: int | None = None,
    scale: float | None = None,
) -> tuple[Path, Path]:
    """The figure and results folders a notebook writes into.

    A folder given explicitly wins; then ``ALSMEDS_FIGURES_DIR`` / ``ALSMEDS_RESULTS_DIR``;
    otherwise ``build/runs/<run_label>/figures`` and ``.../results``.  The committed
    ``figures/`` and ``results/`` are never a default: only ``make refresh`` names them.

    Parameters
    ----------
    figures_dir, results_dir : path-like, optional
        The notebook's parameters.
    data_dir, seed, scale : optional
        The notebook's data parameters, which name the run's folder.

    Returns
    -------
    (Path, Path)
        Figures folder, results folder.
    """
    run = RUNS_DIR / run_label(data_dir, seed, scale)
    figures = Path(figures_dir) if figures_dir else _folder("ALSMEDS_FIGURES_DIR", run / "figures")
    results = Path(results_dir) if results_dir else _folder("ALSMEDS_RESULTS_DIR", run / "results")
    return figures, results


def display_path(path: str | Path) -> Path:
    """A path relative to the project root when it lies inside it (stable text for notebooks and logs)."""
    path = Path(path).resolve()
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


#: Where the notebooks' "try this" cells write (a build artefact, never the committed outputs).
TRY_THIS_DIR = BUILD_DIR / "try-this"


def try_this_dir(notebook: str) -> Path:
    """The folder a notebook's "try this" cells write into: ``build/try-this/<notebook>/``.

    A "try this" cell reruns a step with another switch (``min_dispensings=3``, a
    2-year lag, another seed...) so a reader can compare; its results and figures go
    here, so that playing never overwrites ``results/`` or ``figures/``.  The folder is
    created by whatever writes into it (:func:`alsmeds.plots.save_figure`,
    :func:`alsmeds.reporting.results.write_estimates`).

    Parameters
    ----------
    notebook : str
        The notebook's number, e.g. ``"03"``.
    """
    return TRY_THIS_DIR / str(notebook)
