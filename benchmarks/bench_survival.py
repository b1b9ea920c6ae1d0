"""Benchmark: the paper-scale Cox model of notebook 05, lifelines against R ``survival::coxph``.

The committed synthetic data (1,057 cases, 853 events): survival data built from the
register rows (:func:`alsmeds.derive.survival_data.build_survival_data`) and the mutually adjusted
Cox model (three prediagnostic-use indicators, age, sex, onset site, diagnostic delay,
baseline ALSFRS-R: 8 covariates, Efron ties).  Prints

* the median of several in-process fits of lifelines ``CoxPHFitter`` with the bundle's
  tight convergence settings (:data:`alsmeds.models.cox.LIFELINES_FIT_OPTIONS`), with
  lifelines' defaults, and of the whole :func:`alsmeds.models.cox.fit_cox` (fit plus the
  scaled Schoenfeld test);
* the median of several ``coxph(..., ties = "efron")`` fits timed inside one R session
  (``system.time``), which leaves out R's start-up;
* the wall time of one whole reference call (CSV out, Rscript start-up, loading survival,
  one fit, JSON back);
* the ratios and the largest differences from R in coefficients and standard errors.

Needs R with survival and jsonlite (see :mod:`alsmeds.reference.r`).

Usage: ``python benchmarks/bench_survival.py [--runs 20] [--r-runs 20]``
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from timing import timed  # benchmarks/timing.py

from alsmeds.constants import CLASSES
from alsmeds.data.registry import read_registry
from alsmeds.derive.cohort import case_exposures
from alsmeds.derive.survival_data import build_survival_data
from alsmeds.models.cox import cox_design, fit_cox, fit_lifelines_cox
from alsmeds.paths import SYNTHETIC_DIR
from alsmeds.reference import r_available
from alsmeds.reference.coxph import r_coxph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="in-process fits per lifelines variant")
    parser.add_argument("--r-runs", type=int, default=20, help="fits timed inside R")
    args = parser.parse_args()
    if not r_available():
        sys.exit("bench_survival.py: R with survival and jsonlite is not available (see alsmeds.reference.r)")

    registry = read_registry(SYNTHETIC_DIR)
    data = build_survival_data(registry, case_exposures(registry))
    exposures = [f"use_{k}" for k in CLASSES]
    design, _ = cox_design(data, exposures)
    fit_lifelines_cox(design)  # warm-up: imports lifelines and autograd

    tight_t, (tight, _) = timed(lambda: fit_lifelines_cox(design), args.runs)
    default_t, (default, _) = timed(lambda: fit_lifelines_cox(design, fit_options={}), args.runs)
    full_t, _ = timed(lambda: fit_cox(data, exposures), max(1, args.runs // 2))
    ref = r_coxph({"mutual": design}, timing_runs=args.r_runs)
    start = time.perf_counter()
    r_coxph({"mutual": design})
    wall = time.perf_counter() - start

    fit = ref["models"]["mutual"]
    r_t = float(fit["timing"]["median_seconds"])
    print(f"{ref['r_version']}, survival {ref['survival_version']}")
    print(f"cases {len(design):,}, events {int(design['event'].sum()):,}, covariates {design.shape[1] - 2}")
    rows = [
        ("lifelines CoxPHFitter, LIFELINES_FIT_OPTIONS", tight_t, f"{args.runs} runs, in process"),
        ("lifelines CoxPHFitter, default options", default_t, f"{args.runs} runs, in process"),
        ("alsmeds.models.cox.fit_cox (fit + PH test)", full_t, f"{max(1, args.runs // 2)} runs, in process"),
        ('R coxph(ties = "efron"), inside R', r_t, f"{args.r_runs} runs inside one R session"),
        ("R one whole call (start-up + 1 fit), wall", wall, "once"),
    ]
    for name, seconds, note in rows:
        print(f"{name:<48} median {seconds * 1000:9.1f} ms   ratio to R {seconds / r_t:7.1f}x   ({note})")
    coef = fit["coefficients"].reindex(tight.params_.index)
    se = fit["se"].reindex(tight.params_.index)
    print(
        f"largest |coef - R|: tight {np.max(np.abs(tight.params_ - coef)):.1e}, "
        f"default {np.max(np.abs(default.params_ - coef)):.1e}; "
        f"largest |SE - R|: tight {np.max(np.abs(tight.standard_errors_ - se)):.1e}"
    )


if __name__ == "__main__":
    main()
