"""Benchmark: the ALSFRS-R mixed model (:mod:`alsmeds.models.lmm`) against R ``nlme::lme``.

The model of notebook 06: random intercept and slope in months, REML, 11 fixed effects (time,
three exposures, three exposure x time, age, sex, onset site).

Part 1, paper scale (committed data ``data/synthetic``: 1,057 patients, 7,584 visits).  Prints

* the median of several in-process fits of :class:`alsmeds.models.mixed.AlsfrsMixedModel`
  (the whole call: sorting, identifiability checks, design, per-patient sums, Newton fit,
  BLUPs) and of :func:`alsmeds.models.lmm.fit_lmm` alone on sums built once, after one
  untimed warm-up fit;
* the median of several fits of the same design timed inside one R session
  (``system.time`` around ``nlme::lme``, which leaves out R's start-up and nlme's loading);
* the wall time of one whole reference call (CSV out, Rscript start-up, loading nlme, one
  fit, JSON back);
* the ratios, and the largest relative differences from nlme in fixed effects, SEs, variance
  components and log-likelihood.

Part 2, growth with the sample: data simulated at 1x, 5x and 20x the paper's cases
(``Study.synthetic(seed=1, scale=s, truth_scale=0)``, not timed); at each scale the median of
several in-process ``AlsfrsMixedModel().fit`` calls and of several ``nlme::lme`` fits timed
inside R on the same data, their ratio, and seconds per 1,000 patients relative to 1x.

Needs R with nlme and jsonlite (see :mod:`alsmeds.reference.r`).

Usage: ``python benchmarks/bench_mixed_model.py [--runs 10] [--r-runs 10] [--scales 1 5 20]
[--scale-runs 5] [--scale-r-runs 3]``
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from timing import timed  # benchmarks/timing.py

from alsmeds import Study
from alsmeds.data.registry import read_registry
from alsmeds.derive.alsfrs import build_alsfrs_data
from alsmeds.derive.cohort import case_exposures
from alsmeds.models.lmm import LmmSums, fit_lmm
from alsmeds.models.mixed import AlsfrsMixedModel
from alsmeds.paths import SYNTHETIC_DIR
from alsmeds.reference import r_available
from alsmeds.reference.lme import r_lme


def rel(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def paper_scale(runs: int, r_runs: int) -> None:
    registry = read_registry(SYNTHETIC_DIR)
    data = build_alsfrs_data(registry, case_exposures(registry))
    model = AlsfrsMixedModel()
    model.fit(data)  # warm-up (imports, first autograd trace)
    ours_t, ours = timed(lambda: model.fit(data), runs)
    d = data.sort_values(["person_id", "months"], kind="stable").reset_index(drop=True)
    sums = LmmSums.from_visits(d["score"], model.design(d), d["person_id"], d["months"], time_name="months")
    core_t, _ = timed(lambda: fit_lmm(sums), runs)
    reference = r_lme(data, model, timing_runs=r_runs)
    start = time.perf_counter()
    r_lme(data, model)
    wall = time.perf_counter() - start
    r_t = reference.median_seconds

    print(f"{reference.r_version}, nlme {reference.nlme_version}")
    print(f"visits {ours.n_obs:,}, patients {ours.n_groups:,}, fixed effects {len(ours.params)}")
    print(f"AlsfrsMixedModel().fit (whole call)   median {ours_t * 1e3:8.1f} ms ({runs} runs; "
          f"{ours.optimizer['iterations']} Newton iterations)  ratio to R {ours_t / r_t:.2f}")  # fmt: skip
    print(f"fit_lmm on prebuilt sums              median {core_t * 1e3:8.1f} ms ({runs} runs)"
          f"  ratio to R {core_t / r_t:.2f}")  # fmt: skip
    print(f"R nlme::lme REML, inside R            median {r_t * 1e3:8.1f} ms ({r_runs} runs)  ratio 1")
    print(f"R one whole call, wall (start-up + 1 fit)   {wall * 1e3:8.1f} ms")
    print(
        f"max relative difference vs nlme: fixed {rel(ours.params, reference.params):.1e}, "
        f"se {rel(ours.bse, reference.bse):.1e}, variance components "
        f"{rel(ours.variance_components(), reference.variance_components):.1e}, "
        f"loglik {abs(ours.llf - reference.llf) / abs(reference.llf):.1e} (ours - nlme: {ours.llf - reference.llf:.2e})"
    )


def growth(scales: list[float], runs: int, r_runs: int) -> None:
    print()
    print("| scale | patients | visits | ours median s | nlme median s (inside R) | ratio | ours per patient vs 1x |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    base = None
    model = AlsfrsMixedModel()
    for scale in scales:
        data = Study.synthetic(seed=1, scale=scale, truth_scale=0).alsfrs_data
        model.fit(data)  # warm-up
        ours_t, ours = timed(lambda data=data: model.fit(data), runs)
        reference = r_lme(data, model, timing_runs=r_runs, timeout=3600.0)
        per_k = ours_t / ours.n_groups * 1000
        base = per_k if base is None else base
        print(
            f"| {scale:g} | {ours.n_groups:,} | {ours.n_obs:,} | {ours_t:.3f} | {reference.median_seconds:.3f} | "
            f"{ours_t / reference.median_seconds:.2f} | {per_k / base:.2f} |",
            flush=True,
        )
        worst = max(abs(ours.llf - reference.llf) / abs(reference.llf), rel(ours.bse, reference.bse))
        print(f"  (scale {scale:g}: loglik ours - nlme {ours.llf - reference.llf:.2e}; "
              f"max relative difference in loglik and SEs {worst:.1e})", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="in-process fits at paper scale")
    parser.add_argument("--r-runs", type=int, default=10, help="fits timed inside R at paper scale")
    parser.add_argument("--scales", type=float, nargs="*", default=[1, 5, 20], help="sample sizes for growth")
    parser.add_argument("--scale-runs", type=int, default=5, help="in-process fits per scale")
    parser.add_argument("--scale-r-runs", type=int, default=3, help="fits timed inside R per scale")
    args = parser.parse_args()
    if not r_available():
        sys.exit("bench_mixed_model.py: R with nlme and jsonlite is not available (see alsmeds.reference.r)")
    paper_scale(args.runs, args.r_runs)
    if args.scales:
        growth(args.scales, args.scale_runs, args.scale_r_runs)


if __name__ == "__main__":
    main()
