"""Execute the bundle's notebooks in order with papermill.

The notebooks in ``notebooks/`` are named ``NN_name.ipynb`` and run in that order.
Each one declares its parameters in a cell tagged ``parameters``; the runner passes a
notebook only the parameters it declares, so one command line serves every notebook.
A run with a ``seed`` or ``scale`` simulates that data set once, into ``build/data/``
(:mod:`alsmeds.pipeline.datasets`), and every notebook reads it.
A user's run writes its executed copies, figures and results under ``build/runs/<data>/``
(:func:`run_folders`); only ``inplace=True`` (the maintainers' ``make refresh``) writes the
committed ``figures/`` and ``results/`` and cleans the executed notebooks of papermill's
run-specific metadata and writes them back into the notebooks folder, to refresh the
committed outputs without churning the diffs.

Examples
--------
>>> from alsmeds.pipeline.runner import run_notebooks, standard_parameters
>>> results = run_notebooks(only=["01"], parameters=standard_parameters(seed=1))  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from alsmeds import paths
from alsmeds.data.write import write_text_atomic

__all__ = [
    "NOTEBOOK_PATTERN",
    "NotebookRunError",
    "NotebookSelectionError",
    "RunResult",
    "clean_executed_notebook",
    "declared_parameters",
    "discover_notebooks",
    "execute_notebook",
    "filter_parameters",
    "remove_interrupted_writes",
    "run_notebooks",
    "select_notebooks",
    "standard_parameters",
]

#: Glob of the notebooks the runner executes, in lexical (= numeric) order.
NOTEBOOK_PATTERN = "[0-9][0-9]_*.ipynb"
#: Kernel every notebook runs in (the venv's own ipykernel spec, see engineering notes).
KERNEL_NAME = "python3"
#: Tags papermill puts on cells it adds.
INJECTED_TAG = "injected-parameters"
ERROR_MARKER_TAG = "papermill-error-cell-tag"
#: Number of source lines the failure report quotes.
REPORT_SOURCE_LINES = 6


class NotebookSelectionError(ValueError):
    """Raised when ``only`` names a notebook that does not exist."""


@dataclass(eq=False)
class NotebookRunError(Exception):
    """A notebook failed; carries what is needed to report where and why.

    Attributes
    ----------
    notebook : pathlib.Path
        The source notebook that failed.
    output_path : pathlib.Path
        The partially executed notebook papermill left behind.
    ename, evalue : str
        Exception class name and message raised in the notebook.
    cell_index : int or None
        Index of the failing cell in the *source* notebook (0-based, markdown cells
        included), or None when the failure is not tied to a cell (kernel died, ...).
    exec_count : int or None
        The ``In [n]`` execution count of the failing cell.
    source : str
        Source of the failing cell.
    """

    notebook: Path
    output_path: Path
    ename: str
    evalue: str
    cell_index: int | None = None
    exec_count: int | None = None
    source: str = ""

    def __post_init__(self) -> None:
        super().__init__(self.report())

    def __str__(self) -> str:
        return self.report()

    def report(self) -> str:
        """Return a readable, multi-line description of the failure.

        Returns
        -------
        str
            Notebook, cell (index, execution count and first source lines), the
            exception, and the path of the partially executed notebook.
        """
        lines = [f"notebook failed: {self.notebook.name}"]
        if self.cell_index is not None:
            count = f" (In [{self.exec_count}])" if self.exec_count is not None else ""
            lines.append(f"  cell:     index {self.cell_index}{count}")
            src = self.source.splitlines() or [""]
            for i, line in enumerate(src[:REPORT_SOURCE_LINES]):
                lines.append(f"  {'source:' if i == 0 else '':<9} | {line}")
            if len(src) > REPORT_SOURCE_LINES:
                lines.append(f"  {'':<9} | ... ({len(src) - REPORT_SOURCE_LINES} more lines)")
        lines.append(f"  error:    {self.ename}: {self.evalue}")
        lines.append(f"  partially executed notebook: {self.output_path}")
        return "\n".join(lines)


@dataclass
class RunResult:
    """One successfully executed notebook.

    Attributes
    ----------
    notebook : pathlib.Path
        Source notebook.
    output_path : pathlib.Path
        Executed copy (in the output folder).
    parameters : dict
        Parameters injected into the notebook.
    seconds : float
        Wall-clock execution time.
    inplace_path : pathlib.Path or None
        Where the cleaned notebook was written back, with ``inplace=True``.
    """

    notebook: Path
    output_path: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    inplace_path: Path | None = None


def discover_notebooks(notebooks_dir: Path | str = paths.NOTEBOOKS_DIR) -> list[Path]:
    """List the numbered notebooks of a folder in execution order.

    Parameters
    ----------
    notebooks_dir : path-like
        Folder holding ``NN_name.ipynb`` notebooks.

    Returns
    -------
    list of pathlib.Path
        Notebooks matching :data:`NOTEBOOK_PATTERN`, sorted by name.
    """
    return sorted(p for p in Path(notebooks_dir).glob(NOTEBOOK_PATTERN) if p.is_file())


def _matches(notebook: Path, key: str) -> bool:
    name = Path(key).name
    if name.endswith(".ipynb"):
        return notebook.name == name
    return notebook.stem == name or notebook.name[:2] == name


def select_notebooks(notebooks: Sequence[Path], only: Iterable[str] | None = None) -> list[Path]:
    """Keep the notebooks named in ``only``, in execution order.

    Parameters
    ----------
    notebooks : sequence of pathlib.Path
        Candidates, as returned by :func:`discover_notebooks`.
    only : iterable of str, optional
        Each item is a two-digit number (``"03"``), a stem (``"03_risk_models"``), a
        file name (``"03_risk_models.ipynb"``) or a path ending in one. None or empty
        keeps every notebook.

    Returns
    -------
    list of pathlib.Path
        The selected notebooks, in the order of ``notebooks``, without duplicates.

    Raises
    ------
    NotebookSelectionError
        If an item matches no notebook.
    """
    keys = [str(k) for k in (only or [])]
    if not keys:
        return list(notebooks)
    unknown = [k for k in keys if not any(_matches(nb, k) for nb in notebooks)]
    if unknown:
        available = ", ".join(nb.name for nb in notebooks) or "none"
        raise NotebookSelectionError(f"no notebook matches {', '.join(unknown)} (available: {available})")
    return [nb for nb in notebooks if any(_matches(nb, k) for k in keys)]


def declared_parameters(notebook: Path | str) -> dict[str, dict[str, Any]]:
    """Return the parameters declared by a notebook's ``parameters`` cell.

    Parameters
    ----------
    notebook : path-like
        Notebook to inspect.

    Returns
    -------
    dict
        ``papermill.inspect_notebook`` output: name -> {name, inferred_type_name,
        default, help}. Empty if the notebook has no cell tagged ``parameters``.
    """
    import papermill

    return papermill.inspect_notebook(str(notebook))


def filter_parameters(parameters: Mapping[str, Any] | None, declared: Iterable[str]) -> dict[str, Any]:
    """Keep the parameters a notebook declares, dropping None values.

    Parameters
    ----------
    parameters : mapping, optional
        Candidate parameters.
    declared : iterable of str
        Names declared by the notebook.

    Returns
    -------
    dict
        The subset of ``parameters`` whose names are declared and whose values are not None.
    """
    names = set(declared)
    return {k: v for k, v in (parameters or {}).items() if k in names and v is not None}


def standard_parameters(
    data_dir: Path | str | None = None,
    figures_dir: Path | str | None = None,
    results_dir: Path | str | None = None,
    seed: int | None = None,
    scale: float | None = None,
) -> dict[str, Any]:
    """Build the bundle's standard notebook parameters from command-line values.

    Folders become absolute path strings (resolved against the current directory),
    since the kernel runs in the notebooks folder. None values are left out, so the
    notebooks keep their own defaults.

    Parameters
    ----------
    data_dir, figures_dir, results_dir : path-like, optional
        Input data, figure and result folders.
    seed : int, optional
        Random seed.
    scale : float, optional
        Sample-size scale of the simulated registry.

    Returns
    -------
    dict
        Parameters with non-None values.
    """
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "figures_dir": figures_dir,
        "results_dir": results_dir,
        "seed": seed,
        "scale": scale,
    }
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        out[key] = str(Path(value).resolve()) if key.endswith("_dir") else value
    return out


@dataclass(frozen=True)
class RunFolders:
    """Where one run of the notebooks writes: executed notebooks, figures and results."""

    notebooks: Path
    figures: Path
    results: Path

    def describe(self) -> str:
        """One line naming the three folders (relative to the project root when inside it)."""
        return (
            f"executed notebooks in {paths.display_path(self.notebooks)}, figures in "
            f"{paths.display_path(self.figures)}, results in {paths.display_path(self.results)}"
        )


def run_folders(
    *,
    data_dir: Path | str | None = None,
    seed: int | None = None,
    scale: float | None = None,
    output_dir: Path | str | None = None,
    figures_dir: Path | str | None = None,
    results_dir: Path | str | None = None,
    inplace: bool = False,
) -> RunFolders:
    """The folders of a run: a user's run writes under ``build/runs/<data>/``, never into the committed bundle.

    Folders given explicitly are used as they are.  ``inplace`` (the maintainers'
    ``make refresh``) writes figures and results into the committed ``figures/`` and
    ``results/``; every other run writes under ``build/runs/<label>/`` (``synthetic`` for
    the committed data, ``seed-<seed>_scale-<scale>`` for a simulated data set, as its data
    folder in ``build/data/`` is named, ``extract-<folder>`` for an extract; see
    :func:`alsmeds.paths.run_label`), unless ``ALSMEDS_FIGURES_DIR`` /
    ``ALSMEDS_RESULTS_DIR`` move them.

    Returns
    -------
    RunFolders
    """
    from alsmeds.pipeline.datasets import synthetic_data_dir

    if (seed is not None or scale is not None) and data_dir is None:
        label = synthetic_data_dir(seed, scale).name  # the folder the run simulates its data into
    else:
        label = paths.run_label(data_dir, seed, scale)
    run = paths.RUNS_DIR / label
    if inplace:
        figures = Path(figures_dir) if figures_dir else paths.COMMITTED_FIGURES_DIR
        results = Path(results_dir) if results_dir else paths.COMMITTED_RESULTS_DIR
    else:
        moved_figures, moved_results = os.environ.get("ALSMEDS_FIGURES_DIR"), os.environ.get("ALSMEDS_RESULTS_DIR")
        figures = Path(figures_dir or moved_figures or run / "figures")
        results = Path(results_dir or moved_results or run / "results")
    notebooks = Path(output_dir) if output_dir else run / "notebooks"
    return RunFolders(notebooks=notebooks.resolve(), figures=figures.resolve(), results=results.resolve())


def clean_executed_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip papermill's run-specific additions from an executed notebook.

    Removes the ``injected-parameters`` cell and papermill's error-marker cells, the
    notebook-level ``metadata.papermill`` (paths, parameters, timestamps), the per-cell
    ``metadata.papermill`` and ``metadata.execution`` timings, and the empty ``tags``
    lists papermill adds. Outputs and execution counts are kept, so the result is what
    a committed notebook should hold.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        Notebook as returned or written by ``papermill.execute_notebook``.

    Returns
    -------
    nbformat.NotebookNode
        A cleaned deep copy; ``nb`` is not modified.
    """
    out = copy.deepcopy(nb)
    out.metadata.pop("papermill", None)
    cells = []
    for cell in out.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if INJECTED_TAG in tags or ERROR_MARKER_TAG in tags:
            continue
        meta = cell.setdefault("metadata", nbformat.NotebookNode())
        meta.pop("papermill", None)
        meta.pop("execution", None)
        if "tags" in meta and not meta["tags"]:
            del meta["tags"]
        cells.append(cell)
    out.cells = cells
    return out


def _kernel_manager_class() -> type | None:
    """Return a kernel manager that encrypts the kernel transport when possible.

    ipykernel >= 7.4 warns on stderr at every start when the transport is plain TCP;
    jupyter_client >= 8.10 can provision CurveZMQ keys instead. None keeps papermill's
    default manager when that is not available.
    """
    try:
        import zmq
        from jupyter_client.manager import AsyncKernelManager
    except ImportError:  # pragma: no cover - both come with papermill
        return None
    if not (AsyncKernelManager.class_traits().get("transport_encryption") and zmq.has("curve")):
        return None

    class _CurveKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            kwargs.setdefault("transport_encryption", "auto")
            super().__init__(**kwargs)

    return _CurveKernelManager


def _source_cell_index(notebook: Path, exec_index: int, source: str) -> int | None:
    """Map a cell index of the executed notebook back to the source notebook."""
    try:
        cells = nbformat.read(notebook, as_version=4).cells
    except Exception:  # pragma: no cover - the notebook was readable a moment ago
        return exec_index
    hits = [i for i, cell in enumerate(cells) if cell.source == source]
    if not hits:
        return None if source.startswith("# Parameters") else exec_index
    before = [i for i in hits if i <= exec_index]
    return before[-1] if before else hits[0]


def execute_notebook(
    notebook: Path | str,
    output_path: Path | str,
    parameters: Mapping[str, Any] | None = None,
    *,
    cwd: Path | str | None = None,
    kernel_name: str = KERNEL_NAME,
) -> dict[str, Any]:
    """Execute one notebook with papermill, passing only its declared parameters.

    Parameters
    ----------
    notebook : path-like
        Source notebook.
    output_path : path-like
        Where the executed notebook is written (also when execution fails).
    parameters : mapping, optional
        Candidate parameters; those the notebook does not declare are dropped.
    cwd : path-like, optional
        Kernel working directory; defaults to the notebook's folder, as in Jupyter and nbval.
    kernel_name : str
        Jupyter kernel to run.

    Returns
    -------
    dict
        The parameters actually injected.

    Raises
    ------
    NotebookRunError
        If the notebook raises, or execution fails otherwise.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook = Path(notebook).resolve()
    output_path = Path(output_path).resolve()
    output_path.parent.mkdir(parents=True, exist_ok=True)
    injected = filter_parameters(parameters, declared_parameters(notebook))
    extra: dict[str, Any] = {}
    manager = _kernel_manager_class()
    if manager is not None:
        extra["kernel_manager_class"] = manager
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output_path),
            parameters=injected,
            kernel_name=kernel_name,
            cwd=str(cwd if cwd is not None else notebook.parent),
            progress_bar=False,
            log_output=False,
            **extra,
        )
    except PapermillExecutionError as exc:
        raise NotebookRunError(
            notebook=notebook,
            output_path=output_path,
            ename=str(exc.ename),
            evalue=str(exc.evalue),
            cell_index=_source_cell_index(notebook, exc.cell_index, exc.source),
            exec_count=exc.exec_count,
            source=exc.source,
        ) from exc
    except Exception as exc:  # kernel death, timeout, missing kernel, unreadable notebook, ...
        raise NotebookRunError(
            notebook=notebook, output_path=output_path, ename=type(exc).__name__, evalue=str(exc)
        ) from exc
    return injected


def remove_interrupted_writes(
    notebooks_dir: Path | str, output_dir: Path | str, parameters: Mapping[str, Any] | None = None
) -> list[Path]:
    """Clear what interrupted earlier runs left in the folders a run writes to.

    A kernel that is killed mid-write leaves a hidden temporary file or folder (see
    :func:`alsmeds.data.write.remove_stale_temporaries`); the next run removes them from the
    notebooks and output folders, the default and given figure and result folders, and
    the simulated-data cache.

    Returns
    -------
    list of pathlib.Path
        What was removed.
    """
    from alsmeds.data.write import remove_stale_temporaries

    folders = {Path(notebooks_dir), Path(output_dir), paths.FIGURES_DIR, paths.RESULTS_DIR, paths.BUILD_DIR / "data"}
    folders |= {Path(v) for k, v in (parameters or {}).items() if k.endswith("_dir") and v is not None}
    removed: list[Path] = []
    for folder in sorted(folders):
        removed += remove_stale_temporaries(folder)
    return removed


def run_notebooks(
    notebooks_dir: Path | str = paths.NOTEBOOKS_DIR,
    output_dir: Path | str = paths.RUNS_DIR / "synthetic" / "notebooks",
    *,
    parameters: Mapping[str, Any] | None = None,
    only: Iterable[str] | None = None,
    inplace: bool = False,
    progress: bool = True,
    kernel_name: str = KERNEL_NAME,
) -> list[RunResult]:
    """Execute the numbered notebooks of a folder in order, stopping at the first failure.

    Parameters
    ----------
    notebooks_dir : path-like
        Folder of ``NN_name.ipynb`` notebooks; also the kernels' working directory.
    output_dir : path-like
        Folder receiving the executed notebooks (same file names).
    parameters : mapping, optional
        Candidate parameters (see :func:`standard_parameters`); each notebook receives
        only those its ``parameters`` cell declares.  With a ``seed`` or ``scale`` of
        synthetic data other than the committed, the data set is simulated once, before
        the first notebook, into ``build/data/`` and passed as ``data_dir``
        (:func:`alsmeds.pipeline.datasets.prepare_run_parameters`).
    only : iterable of str, optional
        Subset of notebooks to run (see :func:`select_notebooks`).
    inplace : bool
        Also write each executed notebook, cleaned by :func:`clean_executed_notebook`,
        back over its source in ``notebooks_dir``. A failing notebook's source is left
        untouched.
    progress : bool
        Show a tqdm progress bar across notebooks (on stderr).
    kernel_name : str
        Jupyter kernel to run.

    Returns
    -------
    list of RunResult
        One entry per executed notebook.

    Raises
    ------
    NotebookSelectionError
        If ``only`` names an unknown notebook.
    NotebookRunError
        At the first notebook that fails; later notebooks are not run.
    """
    from tqdm.auto import tqdm

    notebooks_dir = Path(notebooks_dir).resolve()
    output_dir = Path(output_dir).resolve()
    selected = select_notebooks(discover_notebooks(notebooks_dir), only)
    remove_interrupted_writes(notebooks_dir, output_dir, parameters)
    if selected:
        from alsmeds.pipeline.datasets import prepare_run_parameters

        parameters = prepare_run_parameters(parameters, progress=progress)
    results: list[RunResult] = []
    bar = tqdm(selected, unit="notebook", disable=not (progress and selected), dynamic_ncols=True)
    try:
        for notebook in bar:
            bar.set_description(notebook.name)
            out = output_dir / notebook.name
            start = time.perf_counter()
            injected = execute_notebook(notebook, out, parameters, cwd=notebooks_dir, kernel_name=kernel_name)
            result = RunResult(notebook, out, injected, time.perf_counter() - start)
            if inplace:
                cleaned = clean_executed_notebook(nbformat.read(out, as_version=4))
                write_text_atomic(notebook, nbformat.writes(cleaned) + "\n")
                result.inplace_path = notebook
            results.append(result)
    finally:
        bar.close()
    return results
