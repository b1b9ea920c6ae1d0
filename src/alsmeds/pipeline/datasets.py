"""Finding and loading the study data a notebook runs on.

Every notebook starts with the same call::

    study = load_study_data(data_dir, seed, scale)

* With no arguments it reads the committed synthetic data (``data/synthetic``).
* With a ``seed`` or ``scale`` that differs from the committed data, it generates that
  data set once into ``build/data/seed-<seed>_scale-<scale>`` and reads it from there
  on, so every notebook of a run sees the same data (the committed folder is never
  overwritten).
* With ``data_dir`` pointing at a real register extract (no ``truth.json``), it
  validates and reads it; ``study.truth`` is then ``None`` and the notebooks skip
  their comparisons with the planted truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from alsmeds import paths
from alsmeds.data.registry import Registry, read_registry

TRUTH_FILE = "truth.json"


@dataclass(frozen=True)
class StudyData:
    """A validated register extract, with the planted truth when it is synthetic."""

    registry: Registry
    truth: dict | None
    data_dir: Path

    @property
    def tables(self):
        return self.registry.tables

    @property
    def is_synthetic(self) -> bool:
        return self.truth is not None


def _read_truth(data_dir: Path) -> dict | None:
    path = data_dir / TRUTH_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def _matches(truth: dict | None, seed: int | None, scale: float | None) -> bool:
    if truth is None:
        return seed is None and scale is None
    return (seed is None or int(truth["seed"]) == int(seed)) and (
        scale is None or float(truth["scale"]) == float(scale)
    )


def resolve_data_dir(data_dir: str | Path | None = None, seed: int | None = None, scale: float | None = None) -> Path:
    """The folder holding the data for these parameters (see the module docstring)."""
    folder = Path(data_dir).resolve() if data_dir else paths.SYNTHETIC_DIR
    if _matches(_read_truth(folder), seed, scale):
        return folder
    if folder == paths.SYNTHETIC_DIR.resolve() or (folder / TRUTH_FILE).is_file():
        from alsmeds.simulate import DEFAULT_SEED

        seed = DEFAULT_SEED if seed is None else int(seed)
        scale = 1.0 if scale is None else float(scale)
        return paths.BUILD_DIR / "data" / f"seed-{seed}_scale-{scale:g}"
    return folder


def load_study_data(
    data_dir: str | Path | None = None,
    seed: int | None = None,
    scale: float | None = None,
    progress: bool = False,
) -> StudyData:
    """Load (generating first, if needed) the data set for a notebook run.

    Parameters
    ----------
    data_dir : path-like, optional
        A folder in the input data contract; default the committed synthetic data.
    seed, scale : optional
        Simulate with this seed and scale instead of using the committed data.
    progress : bool
        Show progress while simulating.

    Returns
    -------
    StudyData

    Raises
    ------
    alsmeds.data.problems.RegistryValidationError
        When the folder breaks the input data contract.
    """
    folder = resolve_data_dir(data_dir, seed, scale)
    if (seed is not None or scale is not None) and not _matches(_read_truth(folder), seed, scale):
        from alsmeds.simulate import write_synthetic

        write_synthetic(folder, seed=seed, scale=scale, progress=progress)
    registry = read_registry(folder)
    return StudyData(registry=registry, truth=_read_truth(folder), data_dir=folder)
