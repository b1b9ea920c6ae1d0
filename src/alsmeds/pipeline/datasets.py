"""The data set of a notebook run: a simulated data set is materialised once per run, under ``build/data/``.

A notebook finds its data with :meth:`alsmeds.Study.from_parameters` (``data_dir``,
``seed``, ``scale``), which never writes into the project: a seed or scale other than
the committed data's is simulated in memory, with its planted truth, about 35 s at the
paper's size (almost all of it the truth's numerical estimands).  Paying that in every
notebook of a run would add minutes, so ``alsmeds run --seed N [--scale X]``
(:func:`alsmeds.pipeline.runner.run_notebooks`) first writes the data set to
``build/data/seed-<seed>_scale-<scale>/`` (:func:`materialise_synthetic`) and passes that
folder to every notebook as ``data_dir``; its ``truth.json`` records the seed and scale,
so ``Study.from_parameters`` reads it as it reads any extract.

The folder is a build artefact and is reused by a later run only when the record next to
it (``seed-<seed>_scale-<scale>.source.json``) holds the same seed, scale and code version
(:func:`alsmeds.fingerprint.code_fingerprint`) and its checksums verify; otherwise it is
simulated again.  The committed data (``data/synthetic``) are never written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from alsmeds import paths
from alsmeds.truth import Truth, read_truth

#: Where runs keep the data sets they simulate.
BUILD_DATA_DIR = paths.BUILD_DIR / "data"
TRUTH_FILE = "truth.json"

__all__ = ["BUILD_DATA_DIR", "materialise_synthetic", "prepare_run_parameters", "synthetic_data_dir"]


def _seed_and_scale(seed: int | None, scale: float | None) -> tuple[int, float]:
    from alsmeds.simulate import DEFAULT_SEED

    return (DEFAULT_SEED if seed is None else int(seed)), (1.0 if scale is None else float(scale))


def synthetic_data_dir(seed: int | None = None, scale: float | None = None) -> Path:
    """The build folder of a simulated data set: ``build/data/seed-<seed>_scale-<scale>``."""
    seed, scale = _seed_and_scale(seed, scale)
    return BUILD_DATA_DIR / f"seed-{seed}_scale-{scale:g}"


def _source_record_path(folder: Path) -> Path:
    return folder.with_name(folder.name + ".source.json")


def _source_record(seed: int, scale: float) -> dict[str, Any]:
    from alsmeds import __version__
    from alsmeds.fingerprint import code_fingerprint

    return {"seed": seed, "scale": scale, "alsmeds_version": __version__, "code_fingerprint": code_fingerprint()}


def _reusable(folder: Path, record: dict[str, Any]) -> bool:
    from alsmeds.data.write import verify_manifest

    source = _source_record_path(folder)
    if not (folder.is_dir() and source.is_file()):
        return False
    try:
        if json.loads(source.read_text(encoding="utf-8")) != record:
            return False
    except (OSError, ValueError):
        return False
    return not verify_manifest(folder)


def materialise_synthetic(seed: int | None = None, scale: float | None = None, progress: bool = True) -> Path:
    """Write the synthetic data set of a seed and scale to its build folder, unless it is already there.

    Parameters
    ----------
    seed, scale : optional
        As for :func:`alsmeds.simulate.generate` (None: its defaults).
    progress : bool
        Show the generator's progress bars.

    Returns
    -------
    pathlib.Path
        :func:`synthetic_data_dir` of the seed and scale, with ``truth.json``.
    """
    from alsmeds.data.write import write_json_atomic
    from alsmeds.estimands.synthetic import write_synthetic

    seed, scale = _seed_and_scale(seed, scale)
    folder = synthetic_data_dir(seed, scale)
    record = _source_record(seed, scale)
    if _reusable(folder, record):
        return folder
    source = _source_record_path(folder)
    source.unlink(missing_ok=True)  # no record may vouch for a folder being replaced
    folder.parent.mkdir(parents=True, exist_ok=True)
    write_synthetic(folder, seed=seed, scale=scale, progress=progress)
    write_json_atomic(source, record)
    return folder


def _truth_of(folder: Path) -> Truth | None:
    path = folder / TRUTH_FILE
    return read_truth(path) if path.is_file() else None


def prepare_run_parameters(parameters: Mapping[str, Any] | None, progress: bool = True) -> dict[str, Any]:
    """The notebook parameters of a run, with a simulated data set materialised once for all notebooks.

    With a ``seed`` or ``scale``, and either no ``data_dir`` or a synthetic ``data_dir``
    (one with ``truth.json``) of another seed or scale, the data set is written by
    :func:`materialise_synthetic` and ``data_dir`` set to its folder (``seed`` and
    ``scale`` are kept, so each notebook still says what it was asked for).  Anything
    else is returned unchanged: without a seed or scale the notebooks read ``data_dir``
    or the committed data, and a real extract with a seed is the notebooks' error to
    report (:meth:`alsmeds.Study.from_parameters`).

    Parameters
    ----------
    parameters : mapping, optional
        Candidate notebook parameters (:func:`alsmeds.pipeline.runner.standard_parameters`).
    progress : bool
        Show the generator's progress bars.

    Returns
    -------
    dict
    """
    out = dict(parameters or {})
    seed, scale = out.get("seed"), out.get("scale")
    if seed is None and scale is None:
        return out
    from alsmeds.study import matches_parameters

    data_dir = out.get("data_dir")
    truth = _truth_of(Path(data_dir) if data_dir is not None else paths.SYNTHETIC_DIR)
    if (data_dir is not None and truth is None) or matches_parameters(truth, seed, scale):
        return out
    out["data_dir"] = str(materialise_synthetic(seed, scale, progress=progress))
    return out
