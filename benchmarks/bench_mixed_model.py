"""Benchmark: the ALSFRS-R mixed model in statsmodels MixedLM against R ``nlme::lme``.

Paper-scale committed data (``data/synthetic``: 1,057 patients, 7,584 visits), the
model of notebook 06: random intercept and slope in months, REML, 11 fixed effects
(time, three exposures, three exposure x time, age, sex, onset site).  Prints

* the median of several in-process fits of :class:`alsmeds.models.mixed.AlsfrsMixedModel`
  (statsmodels MixedLM, BFGS with gtol 1e-6, time in years inside the optimiser), with
  the optimiser's function and gradient calls;
* the median of several fits of the same design timed inside one R session
  (``system.time`` around ``nlme::lme``), which leaves out R's start-up;
* the wall time of one whole reference call (CSV out, Rscript start-up, loading nlme,
  one fit, JSON back);
* the ratio, and the largest differences in fixed effects, SEs, variance components and
  log-likelihood.

Needs R with nlme and jsonlite (see :mod:`alsmeds.reference.r`).

Usage: ``python benchmarks/bench_mixed_model.py [--runs 5] [--r-runs 10]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from alsmeds.data.registry import read_registry
from alsmeds.derive.alsfrs import build_alsfrs_data
from alsmeds.derive.cohort import case_exposures
from alsmeds.models.mixed import AlsfrsMixedModel
from alsmeds.paths import SYNTHETIC_DIR
from alsmeds.reference import r_available
from alsmeds.reference.lme import r_lme


def timed(fn, runs: int):
    """Median seconds of ``runs`` calls, all the times, and the last result."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="in-process fits of AlsfrsMixedModel")
    parser.add_argument("--r-runs", type=int, default=10, help="fits timed inside R")
    args = parser.parse_args()
    if not r_available():
        sys.exit("bench_mixed_model.py: R with nlme and jsonlite is not available (see alsmeds.reference.r)")

    registry = read_registry(SYNTHETIC_DIR)
    data = build_alsfrs_data(registry, case_exposures(registry))
    model = AlsfrsMixedModel()

    ours_t, ours_all, ours = timed(lambda: model.fit(data), args.runs)
    reference = r_lme(data, model, timing_runs=args.r_runs)
    start = time.perf_counter()
    single = r_lme(data, model)
    wall = time.perf_counter() - start

    print(f"{reference.r_version}, nlme {reference.nlme_version}")
    print(f"visits {ours.n_obs:,}, patients {ours.n_groups:,}, fixed effects {len(ours.params)}")
    calls = f"{ours.optimizer['function_calls']} function + {ours.optimizer['gradient_calls']} gradient calls"
    print(
        f"statsmodels MixedLM (AlsfrsMixedModel)   median {ours_t:7.2f} s ({args.runs} runs, in process; "
        f"range {min(ours_all):.2f}-{max(ours_all):.2f} s; {calls})"
    )
    print(
        f"R nlme::lme REML                         median {reference.median_seconds:7.2f} s "
        f"({args.r_runs} runs inside R; ratio statsmodels / R {ours_t / reference.median_seconds:.1f}x)"
    )
    print(
        f"R one call, wall (start-up + 1 fit)             {wall:7.2f} s (ratio statsmodels / R call "
        f"{ours_t / wall:.1f}x)"
    )
    for label, fit in {"timed run": reference, "single call": single}.items():
        vc = np.abs(ours.variance_components() - fit.variance_components).max()
        print(
            f"max |difference| vs R {label:<11}: fixed {np.abs(ours.params - fit.params).max():.1e}, "
            f"se {np.abs(ours.bse - fit.bse).max():.1e}, variance components {vc:.1e}, "
            f"loglik {abs(ours.llf - fit.llf):.1e}"
        )


if __name__ == "__main__":
    main()
