"""A synthetic data set with its complete truth: the generator's tables and planted truth, plus the implied sections.

:func:`alsmeds.simulate.generate` fits no model and leaves the implied sections of its
truth empty; :func:`synthetic_registry` adds them (:func:`alsmeds.estimands.implied.implied_truth`,
cached).  :func:`write_synthetic` writes such a data set (``alsmeds simulate``, the
committed ``data/synthetic``) and :func:`check_synthetic` regenerates one and compares
(``alsmeds simulate --check``).  The implied sections draw from their own random streams,
so adding them never changes a table, and a data set written here is byte-identical to
one the generator wrote when it still fitted the models itself.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alsmeds.estimands.implied import implied_truth
from alsmeds.precision import Comparison, compare_values
from alsmeds.simulate import TRUTH_FILE, SyntheticRegistry, generate
from alsmeds.simulate.parameters import SimulationParameters
from alsmeds.truth import read_truth


def with_implied_truth(registry: SyntheticRegistry, sections: Mapping[str, Any]) -> SyntheticRegistry:
    """The registry with the implied sections of its truth filled in (a new object; tables shared).

    Parameters
    ----------
    registry : SyntheticRegistry
        From :func:`alsmeds.simulate.generate`.
    sections : mapping
        From :func:`alsmeds.estimands.implied.implied_truth` (for the registry's parameters and seed).

    Returns
    -------
    SyntheticRegistry
        Same tables, metadata and people; ``truth["estimands"]`` with the sections in
        their places.
    """
    estimands = dict(registry.truth["estimands"])
    estimands.update(sections)
    truth = {**registry.truth, "estimands": estimands}
    return dataclasses.replace(registry, truth=truth)


def synthetic_registry(
    seed: int | None = None,
    scale: float | None = None,
    params: SimulationParameters | None = None,
    truth_scale: float | None = None,
    progress: bool = False,
    cox_truth_scale: float | None = None,
    *,
    cache: bool = True,
) -> SyntheticRegistry:
    """Simulate a data set (:func:`alsmeds.simulate.generate`) and add its implied estimands.

    Parameters
    ----------
    seed, scale, params, progress
        As for :func:`alsmeds.simulate.generate`.
    truth_scale, cox_truth_scale : float, optional
        Sizes of the truth samples (:func:`alsmeds.estimands.implied.resolve_scales`:
        default 100 and 50 times the paper's; 0 skips).
    cache : bool
        Read and write the implied estimands' cache (``build/cache/implied/``).

    Returns
    -------
    SyntheticRegistry
        The generator's registry, its truth complete.
    """
    registry = generate(seed=seed, scale=scale, params=params, progress=progress)
    sections = implied_truth(
        params,
        registry.truth["seed"],
        truth_scale,
        cox_truth_scale,
        progress=progress,
        cache=cache,
    )
    return with_implied_truth(registry, sections)


def write_synthetic(
    out_dir: str | Path | None = None,
    seed: int | None = None,
    scale: float | None = None,
    truth_scale: float | None = None,
    progress: bool = True,
    cox_truth_scale: float | None = None,
    *,
    cache: bool = True,
) -> Path:
    """Generate and write a synthetic registry atomically, with ``truth.json`` and ``MANIFEST.sha256``.

    Parameters
    ----------
    out_dir : path-like, optional
        Default ``data/synthetic``.
    seed, scale, truth_scale, progress, cox_truth_scale, cache
        As for :func:`synthetic_registry`.

    Returns
    -------
    pathlib.Path
        The folder written.
    """
    from alsmeds.paths import SYNTHETIC_DIR

    registry = synthetic_registry(
        seed=seed,
        scale=scale,
        truth_scale=truth_scale,
        progress=progress,
        cox_truth_scale=cox_truth_scale,
        cache=cache,
    )
    return registry.write(Path(out_dir) if out_dir is not None else SYNTHETIC_DIR)


@dataclass
class SyntheticCheck:
    """The outcome of :func:`check_synthetic`.

    Attributes
    ----------
    problems : list of str
        What does not regenerate: a table that is not byte-identical, a float of
        ``truth.json`` beyond tolerance, a changed or missing file.
    truth : alsmeds.precision.Comparison or None
        The comparison of ``truth.json`` with its regeneration (None when not reached).
    n_files : int
        Files compared.
    """

    problems: list[str]
    truth: Comparison | None = None
    n_files: int = 0

    @property
    def ok(self) -> bool:
        """True when everything regenerates."""
        return not self.problems


def check_synthetic(data_dir: str | Path | None = None, progress: bool = True) -> SyntheticCheck:
    """Regenerate a synthetic folder from its ``truth.json`` seed and scales and compare.

    The tables come from random streams and integer and date arithmetic, so they must
    regenerate byte-identically (checksums).  ``truth.json`` also holds estimands computed
    by fitting models (floating point, whose last digits depend on the BLAS kernel and
    thread count), so it is compared value by value: everything but floats exactly,
    floats within :data:`alsmeds.precision.RTOL` relative (two units of the last written
    digit) plus :data:`alsmeds.precision.ATOL`.  The estimands are computed afresh, not
    read from the cache.

    Parameters
    ----------
    data_dir : path-like, optional
        Default ``data/synthetic``.
    progress : bool
        Show the generator's progress bars.

    Returns
    -------
    SyntheticCheck
    """
    from alsmeds.data.write import MANIFEST_FILE, sha256_file, verify_manifest
    from alsmeds.paths import SYNTHETIC_DIR

    data_dir = Path(data_dir) if data_dir is not None else SYNTHETIC_DIR
    problems = verify_manifest(data_dir)
    if problems:
        return SyntheticCheck(problems)
    truth = read_truth(data_dir / TRUTH_FILE)
    truth_scale = truth.implied_sample.get("truth_scale", 0.0)
    cox_truth_scale = truth.implied_cox_sample.get("truth_scale", 0.0)
    committed = _manifest(data_dir / MANIFEST_FILE)
    truth_comparison = None
    with tempfile.TemporaryDirectory() as tmp:
        fresh = write_synthetic(
            Path(tmp) / "fresh",
            seed=truth.seed,
            scale=truth.scale,
            truth_scale=truth_scale,
            progress=progress,
            cox_truth_scale=cox_truth_scale,
            cache=False,
        )
        regenerated = _manifest(fresh / MANIFEST_FILE)
        for name in sorted(set(committed) | set(regenerated)):
            if name not in regenerated:
                problems.append(f"{name}: committed but not regenerated")
            elif name not in committed:
                problems.append(f"{name}: regenerated but not committed")
            elif name.endswith(".json"):
                comparison = compare_values(
                    json.loads((data_dir / name).read_text()), json.loads((fresh / name).read_text()), name
                )
                if name == TRUTH_FILE:
                    truth_comparison = comparison
                problems += [f"{d} (beyond tolerance)" for d in comparison.differences]
            elif committed[name] != regenerated[name] or sha256_file(fresh / name) != committed[name]:
                problems.append(f"{name}: regenerated file differs from the committed one (must be byte-identical)")
    return SyntheticCheck(problems, truth_comparison, len(committed))


def _manifest(path: Path) -> dict[str, str]:
    """File name -> checksum, from a ``MANIFEST.sha256``."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split("  ", 1)
            out[name] = digest
    return out


__all__ = [
    "SyntheticCheck",
    "check_synthetic",
    "synthetic_registry",
    "with_implied_truth",
    "write_synthetic",
]
