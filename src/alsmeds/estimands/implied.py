"""The implied sections of a synthetic data set's truth, computed once per inputs and code version and cached.

:func:`alsmeds.simulate.generate` plants the truth and fits no model: its ``truth.json``
holds the planted parameters, the structural estimands and the sample's descriptives,
with the five implied sections empty.  :func:`implied_truth` computes those sections
for the same parameters and seed:

``implied``
    The risk models' implied estimands (:func:`alsmeds.estimands.risk.implied_estimands`),
    at ``truth_scale`` times the paper's sample.
``negative_control``
    The negative control's planted null and confounded estimands
    (:func:`alsmeds.estimands.risk.negative_control_estimands`), from the same sample.
``panel_implied``
    The panel of controls' estimands and realised null
    (:func:`alsmeds.estimands.risk.panel_estimands`), from the same sample.
``published_vs_implied``
    The published odds ratios beside the implied population per-class estimands
    (:func:`alsmeds.simulate.truth.published_comparison`).
``implied_cox``
    The Cox models' implied total-effect estimands
    (:func:`alsmeds.estimands.cox.implied_cox_estimands`), at ``cox_truth_scale`` times
    the paper's cases.

Each draws from its own random streams (``truth/...``, ``prognosis_truth/...``), so
computing them never changes a table, and the result is a deterministic function of the
parameters, the seed, the two scales and the code: it is cached in
``build/cache/implied/<key>.json`` (:mod:`alsmeds.estimands.cache`; about 35 s to compute
at the default scales, a few milliseconds to read).  :func:`alsmeds.estimands.synthetic.synthetic_registry`
puts generator and sections together, as ``alsmeds simulate`` writes them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alsmeds.estimands.cache import CACHE_ROOT, cache_key, cached_json
from alsmeds.simulate import DEFAULT_SEED
from alsmeds.simulate.parameters import SimulationParameters
from alsmeds.simulate.prognosis_truth import DEFAULT_PROGNOSIS_TRUTH_SCALE
from alsmeds.simulate.truth import DEFAULT_TRUTH_SCALE, IMPLIED_SECTIONS, empty_implied_truth

#: Where :func:`implied_truth` keeps its values.
IMPLIED_CACHE_DIR = CACHE_ROOT / "implied"
#: The modules whose code (with everything they import) is the code version of the cache key.
ESTIMAND_MODULES = ("alsmeds.estimands.implied",)


def resolve_scales(truth_scale: float | None = None, cox_truth_scale: float | None = None) -> tuple[float, float]:
    """The sizes of the two truth samples, in multiples of the paper's.

    Parameters
    ----------
    truth_scale : float, optional
        Risk estimands' sample; None: :data:`alsmeds.simulate.truth.DEFAULT_TRUTH_SCALE` (100).
    cox_truth_scale : float, optional
        Cox estimands' sample; None: the smaller of ``truth_scale`` and
        :data:`alsmeds.simulate.prognosis_truth.DEFAULT_PROGNOSIS_TRUTH_SCALE` (50), so
        ``truth_scale=0`` skips both.

    Returns
    -------
    (float, float)
        ``truth_scale``, ``cox_truth_scale``; 0 skips a section.
    """
    truth_scale = DEFAULT_TRUTH_SCALE if truth_scale is None else float(truth_scale)
    cox_truth_scale = (
        min(truth_scale, DEFAULT_PROGNOSIS_TRUTH_SCALE) if cox_truth_scale is None else float(cox_truth_scale)
    )
    return truth_scale, cox_truth_scale


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm  # the plain bar: tqdm.auto warns on stderr in a kernel without ipywidgets

    return tqdm(total=total, desc=desc, unit="case", disable=not enabled, leave=False)


def compute_implied_truth(
    params: SimulationParameters, seed: int, truth_scale: float, cox_truth_scale: float, progress: bool = False
) -> dict[str, Any]:
    """Compute the implied sections by fitting the models to the truth samples (no cache).

    Parameters
    ----------
    params : SimulationParameters
        Planted parameters.
    seed : int
        Master seed of the data set.
    truth_scale, cox_truth_scale : float
        Sizes of the risk and Cox truth samples (see :func:`resolve_scales`); 0 skips a section.
    progress : bool
        Show a progress bar while the risk truth sample is simulated.

    Returns
    -------
    dict
        The five :data:`IMPLIED_SECTIONS`, unrounded.
    """
    from alsmeds.estimands.cox import implied_cox_estimands
    from alsmeds.estimands.risk import truth_estimands
    from alsmeds.simulate.truth import published_comparison

    with _progress(round(params.design.n_cases * truth_scale), "computing estimands", progress) as bar:
        implied, negative_control, panel_implied = (
            truth_estimands(params, seed, truth_scale, progress=bar) if truth_scale > 0 else ({}, {}, {})
        )
    # The Cox model's total-effect estimands: same parameters and seed, own random streams (prognosis_truth/...).
    implied_cox = implied_cox_estimands(params, seed, float(cox_truth_scale)) if cox_truth_scale > 0 else {}
    return {
        "implied": implied,
        "published_vs_implied": published_comparison(implied) if implied else [],
        "implied_cox": implied_cox,
        "negative_control": negative_control,
        "panel_implied": panel_implied,
    }


def implied_truth(
    params: SimulationParameters | None = None,
    seed: int | None = None,
    truth_scale: float | None = None,
    cox_truth_scale: float | None = None,
    progress: bool = False,
    *,
    cache: bool = True,
    cache_dir: str | Path | None = None,
) -> dict[str, Any]:
    """The implied sections of ``truth.json["estimands"]`` for a data set's parameters and seed, cached on disk.

    Parameters
    ----------
    params : SimulationParameters, optional
        Planted parameters (default: the documented defaults).
    seed : int, optional
        Master seed of the data set (default :data:`alsmeds.simulate.DEFAULT_SEED`).
    truth_scale, cox_truth_scale : float, optional
        Sizes of the truth samples (:func:`resolve_scales`; defaults 100 and 50 times the
        paper's); 0 skips a section, and both 0 compute and cache nothing.
    progress : bool
        Show a progress bar when the estimands are computed.
    cache : bool
        Read and write ``build/cache/implied/`` (default); False computes afresh.
    cache_dir : path-like, optional
        Another cache folder (default :data:`IMPLIED_CACHE_DIR`).

    Returns
    -------
    dict
        ``implied``, ``published_vs_implied``, ``implied_cox``, ``negative_control`` and
        ``panel_implied`` as ``truth.json`` holds them (plain JSON, floats to 8 significant digits; empty
        when skipped).  Identical whether computed or read from the cache.
    """
    params = params or SimulationParameters()
    seed = DEFAULT_SEED if seed is None else int(seed)
    truth_scale, cox_truth_scale = resolve_scales(truth_scale, cox_truth_scale)
    if truth_scale <= 0 and cox_truth_scale <= 0:
        return empty_implied_truth()
    inputs = {
        "parameters": params.to_dict(),
        "seed": seed,
        "truth_scale": truth_scale,
        "cox_truth_scale": cox_truth_scale,
    }
    folder = Path(cache_dir) if cache_dir is not None else IMPLIED_CACHE_DIR
    key = cache_key(inputs, ESTIMAND_MODULES) if cache else ""
    return cached_json(
        folder,
        key,
        lambda: compute_implied_truth(params, seed, truth_scale, cox_truth_scale, progress),
        use_cache=cache,
        inputs=inputs,
    )


__all__ = [
    "ESTIMAND_MODULES",
    "IMPLIED_CACHE_DIR",
    "IMPLIED_SECTIONS",
    "compute_implied_truth",
    "empty_implied_truth",
    "implied_truth",
    "resolve_scales",
]
