"""Benchmark: the bundle's Cox engine (``alsmeds.models.cox_engine.fit_coxph``) against R ``survival::coxph``.

The mutually adjusted Cox model of notebook 05 (three prediagnostic-use indicators, age, sex,
onset site, diagnostic delay, baseline ALSFRS-R: 8 covariates, Efron ties; time in years from
day counts, so events tie on days), built with :func:`alsmeds.models.cox.cox_design` from

* paper scale: the committed synthetic data (1,057 cases);
* 20 x: ``Study.synthetic(seed=1, scale=20, truth_scale=0)`` (not timed).

For each, the median of several in-process fits (after one untimed warm-up fit) of

* ``fit_coxph`` with model-based SEs, and with the robust variance clustered on artificial
  clusters of two consecutive patients (``cluster=``: score residuals, dfbeta, sums by cluster);
* ``coxph(..., ties = "efron")`` and ``coxph(... + cluster(pair))``, timed inside one R session
  (``system.time``, no R start-up), in the same run;
* lifelines ``CoxPHFitter`` (the study's tight settings, ``LIFELINES_FIT_OPTIONS``), without and
  with ``cluster_col`` (lifelines' sandwich ignores ties);

and the ratios to R, and the largest differences from R in coefficients, SEs and log-likelihood
(R at its default ``eps = 1e-9`` stops up to one Newton step short; ``tests/test_cox_engine.py``
compares with R at ``eps = 1e-12``).

Needs R with survival and jsonlite (see :mod:`alsmeds.reference.r`).

Usage: ``python benchmarks/bench_cox_engine.py [--runs 20] [--r-runs 20] [--scale-runs 5] [--scale-r-runs 3]``
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pandas as pd
from timing import timed  # benchmarks/timing.py

from alsmeds.constants import CLASSES
from alsmeds.data.registry import read_registry
from alsmeds.derive.cohort import case_exposures
from alsmeds.derive.survival_data import build_survival_data
from alsmeds.models.cox import LIFELINES_FIT_OPTIONS, cox_design
from alsmeds.models.cox_engine import fit_coxph
from alsmeds.paths import SYNTHETIC_DIR
from alsmeds.reference import r_available
from alsmeds.reference.coxph import CoxphSpec, r_coxph
from alsmeds.study import Study


def measure(label: str, design: pd.DataFrame, runs: int, r_runs: int, lifelines_runs: int) -> None:
    from lifelines import CoxPHFitter

    covariates = [c for c in design.columns if c not in ("time", "event")]
    time, event, X = design["time"].to_numpy(), design["event"].to_numpy(), design[covariates]
    pair = np.arange(len(design)) // 2
    clustered = design.assign(pair=pair)

    fit_coxph(time, event, X)  # warm-up
    ours_t, ours = timed(lambda: fit_coxph(time, event, X), runs)
    ours_cl_t, ours_cl = timed(lambda: fit_coxph(time, event, X, cluster=pair), runs)

    ref = r_coxph({"plain": design, "cluster": CoxphSpec(clustered, cluster="pair")}, timing_runs=r_runs)
    r_plain, r_cl = ref["models"]["plain"], ref["models"]["cluster"]
    r_t, r_cl_t = float(r_plain["timing"]["median_seconds"]), float(r_cl["timing"]["median_seconds"])

    options = dict(LIFELINES_FIT_OPTIONS)
    CoxPHFitter().fit(design, "time", "event", fit_options=options)  # warm-up (imports, autograd)
    ll_t, _ = timed(lambda: CoxPHFitter().fit(design, "time", "event", fit_options=options), lifelines_runs)
    ll_cl_t, _ = timed(
        lambda: CoxPHFitter().fit(clustered, "time", "event", cluster_col="pair", fit_options=options),
        lifelines_runs,
    )

    n_events = int(design["event"].sum())
    tied = int(design.loc[design["event"] == 1, "time"].duplicated().sum())
    print(
        f"\n{label}: {len(design):,} cases, {n_events:,} events ({tied:,} tied with an earlier one), "
        f"{len(covariates)} covariates"
    )
    print(f"{ref['r_version']}, survival {ref['survival_version']}, load average {os.getloadavg()[0]:.1f}")
    rows = [
        ("fit_coxph, model SEs", ours_t, r_t, f"{runs} runs, {ours.iterations} iterations"),
        ('R coxph(ties = "efron"), inside R', r_t, r_t, f"{r_runs} runs, {r_plain['iterations']} iterations"),
        ("lifelines CoxPHFitter", ll_t, r_t, f"{lifelines_runs} runs"),
        ("fit_coxph, cluster= (robust SEs)", ours_cl_t, r_cl_t, f"{runs} runs"),
        ("R coxph + cluster(pair), inside R", r_cl_t, r_cl_t, f"{r_runs} runs"),
        ("lifelines CoxPHFitter, cluster_col", ll_cl_t, r_cl_t, f"{lifelines_runs} runs"),
    ]
    for name, seconds, reference, note in rows:
        print(f"  {name:<38} median {seconds * 1000:9.2f} ms   ratio to R {seconds / reference:6.2f}   ({note})")
    names = list(ours.names)
    print(
        f"  largest |ours - R|: coef {np.max(np.abs(ours.coef - r_plain['coefficients'][names])):.1e}, "
        f"SE {np.max(np.abs(ours.se - r_plain['se'][names])):.1e}, "
        f"robust SE {np.max(np.abs(ours_cl.robust_se - r_cl['robust_se'][names])):.1e}, "
        f"loglik {abs(ours.loglik - r_plain['loglik']):.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="in-process fits at paper scale")
    parser.add_argument("--r-runs", type=int, default=20, help="fits timed inside R at paper scale")
    parser.add_argument("--scale-runs", type=int, default=5, help="in-process fits at 20x")
    parser.add_argument("--scale-r-runs", type=int, default=3, help="fits timed inside R at 20x")
    parser.add_argument("--no-scale", action="store_true", help="paper scale only")
    args = parser.parse_args()
    if not r_available():
        sys.exit("bench_cox_engine.py: R with survival and jsonlite is not available (see alsmeds.reference.r)")
    exposures = [f"use_{k}" for k in CLASSES]

    registry = read_registry(SYNTHETIC_DIR)
    paper, _ = cox_design(build_survival_data(registry, case_exposures(registry)), exposures)
    measure("paper scale (committed data)", paper, args.runs, args.r_runs, max(3, args.runs // 4))
    if not args.no_scale:
        large, _ = cox_design(Study.synthetic(seed=1, scale=20, truth_scale=0).survival_data, exposures)
        measure("20 x (Study.synthetic(seed=1, scale=20))", large, args.scale_runs, args.scale_r_runs, 3)


if __name__ == "__main__":
    main()
