"""Project paths, resolved from the package location rather than the working directory.

papermill runs a kernel in the caller's working directory while Jupyter and nbval use
the notebook's folder; every path in the bundle therefore comes from here.

Environment variables move the default output folders (the notebooks' ``figures_dir``
and ``results_dir`` when their parameters are left at None):

* ``ALSMEDS_FIGURES_DIR``: default ``figures/``;
* ``ALSMEDS_RESULTS_DIR``: default ``results/``.

The test suite sets both to folders under ``build/`` (``conftest.py`` at the project
root), so that executing the notebooks never rewrites the committed outputs.
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
#: Where the notebooks write figures by default (``ALSMEDS_FIGURES_DIR`` overrides).
FIGURES_DIR = _folder("ALSMEDS_FIGURES_DIR", ROOT / "figures")
#: Where the notebooks write machine-readable results by default (``ALSMEDS_RESULTS_DIR`` overrides).
RESULTS_DIR = _folder("ALSMEDS_RESULTS_DIR", ROOT / "results")
#: The committed outputs, whatever the overrides (what ``make reproduce`` compares with).
COMMITTED_FIGURES_DIR = ROOT / "figures"
COMMITTED_RESULTS_DIR = ROOT / "results"
NOTEBOOKS_DIR = ROOT / "notebooks"
BUILD_DIR = ROOT / "build"


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
