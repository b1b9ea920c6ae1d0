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

import asyncio
import contextlib
import copy
import gc
import logging
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import nbformat

from alsmeds import paths
from alsmeds.data.write import check_writable_folder, temporary_sibling, write_text_atomic

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
    "find_notebooks",
    "partial_copy_path",
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
#: Number of lines of the kernel's own error output the failure report quotes (a kernel that died).
REPORT_KERNEL_LINES = 8
#: What the name of a failed notebook's partially executed copy ends with (``02_beta.partial.ipynb``).
PARTIAL_SUFFIX = ".partial.ipynb"
#: The notebook parameters that name folders a notebook writes to; ``data_dir`` is its input.
OUTPUT_FOLDER_PARAMETERS = ("figures_dir", "results_dir")
#: Loggers of the notebook machinery, silenced while a Ctrl-C stops the kernel.
_EXECUTION_LOGGERS = ("papermill", "nbclient", "traitlets", "asyncio")


class NotebookSelectionError(ValueError):
    """Raised when the notebooks folder holds no notebooks, or ``only`` names one that does not exist."""


@dataclass(eq=False)
class NotebookRunError(Exception):
    """A notebook failed; carries what is needed to report where and why.

    Attributes
    ----------
    notebook : pathlib.Path
        The source notebook that failed.
    output_path : pathlib.Path or None
        The partially executed copy (:func:`partial_copy_path`), or None when none was
        saved (the kernel did not start).
    ename, evalue : str
        Exception class name and message raised in the notebook.
    cell_index : int or None
        Index of the failing cell in the *source* notebook (0-based, markdown cells
        included), or None when the failure is not tied to a cell (kernel died, ...).
    exec_count : int or None
        The ``In [n]`` execution count of the failing cell.
    source : str
        Source of the failing cell.
    kernel_log : str
        The last lines the kernel process wrote to its own stderr (why a kernel died).
    """

    notebook: Path
    output_path: Path | None
    ename: str
    evalue: str
    cell_index: int | None = None
    exec_count: int | None = None
    source: str = ""
    kernel_log: str = ""

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
        for i, line in enumerate(self.kernel_log.splitlines()[-REPORT_KERNEL_LINES:]):
            lines.append(f"  {'kernel:' if i == 0 else '':<9} | {line}")
        if self.output_path is not None:
            lines.append(f"  partially executed notebook: {self.output_path}")
        else:
            lines.append("  no partially executed copy was saved")
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
        Notebooks matching :data:`NOTEBOOK_PATTERN`, sorted by name; the partially
        executed copies of failed notebooks (``NN_name.partial.ipynb``) are not notebooks.
    """
    return sorted(
        p for p in Path(notebooks_dir).glob(NOTEBOOK_PATTERN) if p.is_file() and not p.name.endswith(PARTIAL_SUFFIX)
    )


def find_notebooks(notebooks_dir: Path | str = paths.NOTEBOOKS_DIR) -> list[Path]:
    """The notebooks of a folder that a run executes; a folder without any is a mistake.

    Parameters
    ----------
    notebooks_dir : path-like
        Folder holding ``NN_name.ipynb`` notebooks.

    Returns
    -------
    list of pathlib.Path
        As :func:`discover_notebooks`, never empty.

    Raises
    ------
    NotebookSelectionError
        If the folder does not exist or holds no notebook matching :data:`NOTEBOOK_PATTERN`.
    """
    folder = Path(notebooks_dir)
    if not folder.is_dir():
        raise NotebookSelectionError(f"no such notebooks folder: {folder}")
    notebooks = discover_notebooks(folder)
    if not notebooks:
        raise NotebookSelectionError(f"no notebooks matching {NOTEBOOK_PATTERN} in {folder}")
    return notebooks


def partial_copy_path(output_path: Path | str) -> Path:
    """Where the partially executed copy of a failed notebook is kept: ``NN_name.partial.ipynb``.

    An executed notebook appears under its own name only once it ran to the end, so a
    notebook under its final name is always complete.
    """
    output_path = Path(output_path)
    return output_path.with_name(output_path.stem + PARTIAL_SUFFIX)


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
        data_dir = synthetic_data_dir(seed, scale)  # the folder the run simulates its data into, named for its label
    if inplace:
        figures_dir = figures_dir or paths.COMMITTED_FIGURES_DIR
        results_dir = results_dir or paths.COMMITTED_RESULTS_DIR
    figures, results = paths.output_folders(figures_dir, results_dir, data_dir=data_dir, seed=seed, scale=scale)
    run = paths.RUNS_DIR / paths.run_label(data_dir, seed, scale)
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


def _kernel_manager_class(kernel_stderr: IO[bytes] | None = None) -> type:
    """Return a kernel manager whose kernel writes its own stderr to ``kernel_stderr``.

    The kernel process's stderr holds its log (not the cells' output, which goes into the
    notebook): start-up warnings, and the tracebacks of a kernel torn down by Ctrl-C.  It
    goes to a file, quoted in the failure report of a kernel that died, instead of the
    terminal.  The transport is encrypted when possible (jupyter_client >= 8.10 with
    CurveZMQ), which also spares ipykernel >= 7.4's warning about plain TCP.
    """
    import zmq
    from jupyter_client.manager import AsyncKernelManager

    encrypt = bool(AsyncKernelManager.class_traits().get("transport_encryption")) and zmq.has("curve")

    class _QuietKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            if encrypt:
                kwargs.setdefault("transport_encryption", "auto")
            super().__init__(**kwargs)

        async def start_kernel(self, **kw: Any) -> None:  # the launch arguments reach subprocess.Popen
            if kernel_stderr is not None:
                kw.setdefault("stderr", kernel_stderr)
            await super().start_kernel(**kw)

    return _QuietKernelManager


def _read_tail(stream: IO[bytes], limit: int = 20_000) -> str:
    """The end of what a kernel wrote to its stderr file."""
    try:
        stream.flush()
        size = stream.seek(0, os.SEEK_END)
        stream.seek(max(0, size - limit))
        return stream.read().decode("utf-8", errors="replace").strip()
    except (OSError, ValueError):
        return ""


def _settle_pending_tasks() -> None:
    """Cancel and collect the tasks an interrupted notebook client left in its event loop.

    Otherwise asyncio reports them when they are garbage-collected, at exit ("Task exception
    was never retrieved ... DeadKernelError"): a task that failed while papermill stopped the
    kernel is still referenced by the interrupt's traceback, so its exception is marked as
    seen here.
    """
    try:
        from jupyter_core.utils import ensure_event_loop

        loop = ensure_event_loop()
        if loop.is_running() or loop.is_closed():
            return
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        gc.collect()
        for obj in gc.get_objects():
            if isinstance(obj, asyncio.Future) and obj.get_loop() is loop and obj.done() and not obj.cancelled():
                obj.exception()
    except Exception:  # noqa: BLE001 - best effort on the way out of an interrupt
        pass


@contextlib.contextmanager
def _quiet_interrupt() -> Iterator[None]:
    """Make Ctrl-C during a notebook end without the notebook machinery's tracebacks.

    papermill stops the kernel when a KeyboardInterrupt reaches it; meanwhile nbclient and
    asyncio log a dead kernel and an abandoned task.  A SIGINT handler (in the main
    thread, where the default one is installed) silences those loggers from the moment of
    the interrupt, and the abandoned tasks are settled before they are restored.  The
    kernel's own messages go to its stderr file (:func:`_kernel_manager_class`).
    """
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    loggers = [logging.getLogger(name) for name in _EXECUTION_LOGGERS]
    disabled = [logger.disabled for logger in loggers]

    def on_interrupt(signum: int, frame: Any) -> None:
        for logger in loggers:
            logger.disabled = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    except KeyboardInterrupt:
        for logger in loggers:
            logger.disabled = True
        _settle_pending_tasks()
        raise
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for logger, was_disabled in zip(loggers, disabled, strict=True):
            logger.disabled = was_disabled


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
        Where the executed notebook is written, atomically, once it ran to the end.  While
        it runs, papermill saves it after each cell under a hidden temporary name; when it
        fails, that copy is kept as :func:`partial_copy_path` (``NN_name.partial.ipynb``),
        and an interrupted run removes it.
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
        If the notebook raises, or execution fails otherwise (a kernel that died, a full
        disk, ...).
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook = Path(notebook).resolve()
    output_path = Path(output_path).resolve()
    output_path.parent.mkdir(parents=True, exist_ok=True)
    injected = filter_parameters(parameters, declared_parameters(notebook))
    running = temporary_sibling(output_path, ".ipynb")  # papermill rewrites it after every cell
    try:
        with tempfile.TemporaryFile() as kernel_stderr, _quiet_interrupt():
            try:
                executed = papermill.execute_notebook(
                    str(notebook),
                    str(running),
                    parameters=injected,
                    kernel_name=kernel_name,
                    cwd=str(cwd if cwd is not None else notebook.parent),
                    progress_bar=False,
                    log_output=False,
                    kernel_manager_class=_kernel_manager_class(kernel_stderr),
                )
            except PapermillExecutionError as exc:
                raise NotebookRunError(
                    notebook=notebook,
                    output_path=_keep_partial_copy(running, output_path),
                    ename=str(exc.ename),
                    evalue=str(exc.evalue),
                    cell_index=_source_cell_index(notebook, exc.cell_index, exc.source),
                    exec_count=exc.exec_count,
                    source=exc.source,
                ) from exc
            except Exception as exc:  # kernel death, timeout, missing kernel, a full disk, ...
                raise NotebookRunError(
                    notebook=notebook,
                    output_path=_keep_partial_copy(running, output_path),
                    ename=type(exc).__name__,
                    evalue=str(exc),
                    kernel_log=_read_tail(kernel_stderr),
                ) from exc
        executed.metadata.setdefault("papermill", {})["output_path"] = str(output_path)
        try:
            write_text_atomic(output_path, nbformat.writes(executed) + "\n")
        except OSError as exc:  # a full disk: the copy papermill saved is kept
            raise NotebookRunError(
                notebook=notebook,
                output_path=_keep_partial_copy(running, output_path),
                ename=type(exc).__name__,
                evalue=str(exc),
            ) from exc
        partial_copy_path(output_path).unlink(missing_ok=True)  # an earlier failure's copy is history
    finally:
        running.unlink(missing_ok=True)
    return injected


def _keep_partial_copy(running: Path, output_path: Path) -> Path | None:
    """Keep the copy papermill saved while a notebook ran, under a name that says it is partial."""
    partial = partial_copy_path(output_path)
    try:
        os.replace(running, partial)
    except OSError:  # never written (the kernel did not start), or the folder went away
        return None
    return partial


def _written_folders(
    notebooks_dir: Path | str, output_dir: Path | str, parameters: Mapping[str, Any] | None, *, inplace: bool
) -> set[Path]:
    """The folders the notebooks of a run write into (never ``data_dir``, their input)."""
    given = dict(parameters or {})
    defaults = {"figures_dir": paths.FIGURES_DIR, "results_dir": paths.RESULTS_DIR}
    folders = {Path(output_dir)} | {Path(given.get(key) or defaults[key]) for key in OUTPUT_FOLDER_PARAMETERS}
    if inplace:
        folders.add(Path(notebooks_dir))
    return folders


def remove_interrupted_writes(
    notebooks_dir: Path | str,
    output_dir: Path | str,
    parameters: Mapping[str, Any] | None = None,
    *,
    inplace: bool = False,
) -> list[Path]:
    """Clear what interrupted earlier runs left in the folders a run writes to.

    A kernel that is killed mid-write leaves a hidden temporary file or folder (see
    :func:`alsmeds.data.write.remove_stale_temporaries`); the next run removes them from the
    folders it writes to: the executed notebooks' folder, the figure and result folders
    (given, or else the defaults), the simulated-data cache, and the notebooks folder
    only with ``inplace``.  A run never writes into its input: the ``data_dir`` it reads
    is not touched, and a folder that cannot be cleaned (read-only) is left as it is.

    Parameters
    ----------
    notebooks_dir, output_dir : path-like
        The source notebooks and the executed copies.
    parameters : mapping, optional
        The run's notebook parameters (:func:`standard_parameters`).
    inplace : bool
        Whether the run writes the notebooks back into ``notebooks_dir``.

    Returns
    -------
    list of pathlib.Path
        What was removed.
    """
    from alsmeds.data.write import remove_stale_temporaries

    folders = _written_folders(notebooks_dir, output_dir, parameters, inplace=inplace) | {paths.BUILD_DIR / "data"}
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
        If the folder holds no notebooks (:func:`find_notebooks`) or ``only`` names an
        unknown one; raised before anything runs.
    alsmeds.data.write.OutputFolderError
        If a folder the run writes to is a file or cannot be written (read-only); also
        raised before anything runs.
    NotebookRunError
        At the first notebook that fails; later notebooks are not run.
    """
    from tqdm.auto import tqdm

    notebooks_dir = Path(notebooks_dir).resolve()
    output_dir = Path(output_dir).resolve()
    selected = select_notebooks(find_notebooks(notebooks_dir), only)
    for folder in sorted(_written_folders(notebooks_dir, output_dir, parameters, inplace=inplace)):
        check_writable_folder(folder)
    remove_interrupted_writes(notebooks_dir, output_dir, parameters, inplace=inplace)
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
