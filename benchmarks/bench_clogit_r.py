"""Benchmark: our one-case-per-set conditional logit against R ``survival::clogit``.

Paper-scale population comparison simulated with seed 1: 1,057 matched sets, 6,338
rows, the nine mutually adjusted window indicators and eight covariate columns, on
the true exposure categories (the design of ``bench_clogit.py``).  Prints

* the median of several in-process fits of :func:`alsmeds.models.clogit.fit_clogit`;
* the median of several fits timed inside one R session (``system.time``), which
  leaves out R's start-up, for ``method="exact"`` (the test's reference) and
  ``"breslow"`` (the same likelihood with one case per set);
* the wall time of one whole reference call (CSV out, Rscript start-up, loading
  survival, one fit, JSON back), which is what a test pays per R session;
* the ratios and the largest differences in coefficients, SEs and log-likelihood.

Needs R with survival and jsonlite (see :mod:`alsmeds.reference.r`).

Usage: ``python benchmarks/bench_clogit_r.py [--runs 20] [--r-runs 20]``
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd
from timing import timed  # benchmarks/timing.py

from alsmeds.models.clogit import fit_clogit
from alsmeds.models.design import POPULATION_ADJUSTMENT, covariate_matrix, window_indicators
from alsmeds.reference import ClogitSpec, r_available, r_clogit, r_clogit_many
from alsmeds.simulate import SimulationParameters
from alsmeds.simulate.population import simulate_study_population
from alsmeds.simulate.truth import comparison_sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="in-process fits of fit_clogit")
    parser.add_argument("--r-runs", type=int, default=20, help="fits timed inside R, per method")
    args = parser.parse_args()
    if not r_available():
        sys.exit("bench_clogit_r.py: R with survival and jsonlite is not available (see alsmeds.reference.r)")

    people = comparison_sets(simulate_study_population(SimulationParameters(), seed=1, scale=1), "population")
    X = pd.concat([window_indicators(people), covariate_matrix(people, POPULATION_ADJUSTMENT)], axis=1)
    case = (people["role"] == "case").to_numpy()
    strata = people["set_id"].to_numpy()

    ours_t, ours = timed(lambda: fit_clogit(X, case, strata), args.runs)
    r_fits = r_clogit_many(
        {m: ClogitSpec(X, case, strata, method=m, timing_runs=args.r_runs) for m in ("exact", "breslow")}
    )
    start = time.perf_counter()
    single = r_clogit(X, case, strata)
    wall = time.perf_counter() - start

    exact = r_fits["exact"]
    print(f"{exact.r_version}, survival {exact.survival_version}")
    print(f"rows {len(X):,}, sets {len(np.unique(strata)):,}, covariates {X.shape[1]}")
    print(f"alsmeds fit_clogit                 median {ours_t * 1000:8.1f} ms ({args.runs} runs, in process)")
    for method, fit in r_fits.items():
        print(
            f"R survival::clogit {method:<8}        median {fit.median_seconds * 1000:8.1f} ms "
            f"({args.r_runs} runs inside R; ratio R / alsmeds {fit.median_seconds / ours_t:.1f}x)"
        )
    print(f"R one call, wall (start-up + 1 fit)        {wall * 1000:8.1f} ms (ratio {wall / ours_t:.0f}x)")
    for method, fit in {**r_fits, "single call": single}.items():
        print(
            f"max |difference| vs R {method:<11}: coef {np.abs(ours.params - fit.params).max():.1e}, "
            f"se {np.abs(ours.bse - fit.bse).max():.1e}, loglik {abs(ours.loglik - fit.loglik):.1e}"
        )


if __name__ == "__main__":
    main()
