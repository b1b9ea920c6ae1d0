"""Benchmark: the joint longitudinal-survival model (:mod:`alsmeds.models.joint`), fit with standard errors.

Part 1, paper scale (``generate(seed=20250605, scale=1)``: 1,057 cases, about 7,400 ALSFRS-R
visits), the planted model of :data:`alsmeds.models.joint.synthetic.PLANTED_MODEL` (20 parameters,
Weibull baseline): median wall time of several in-process fits with standard errors, for 3 and 5
Gauss-Hermite nodes per random effect, with the default quadrature (nodes on the patient's own line,
one adaptive round) and with JM's approximations (``JM_SETTINGS``); iterations and log-likelihood
beside.  The ratio is to JM 1.5-2's Weibull fits at ALS scale measured on this machine kind (11 s
with 3 nodes, 23 s with 5, as recorded in ``benchmarks/README.md``): those ran elsewhere,
so the ratio is indicative, not a same-script comparison.

Part 2, growth with the sample: at 1x, 5x and 20x the paper's cases, a preparation process generates
the frames and pickles them (not timed); each timed run is a fresh process that unpickles them and
times one fit (3 nodes, the default for more than 2,000 visits).  Prints the median time, the
process's peak RSS (``ru_maxrss``) with the RSS after loading the frames beside it (the difference is
the fit's own memory), and the time per 1,000 patients relative to 1x (linear growth keeps it near 1).

Part 3, the censored (Tobit) submodel and the association structures (issue 24), at paper scale on
the same data: median wall time of several in-process fits with standard errors for
``outcome="normal"`` and ``"censored"`` (bounds 0 and 48: the visits at 0 and 48 censored) with
``association="value"``, ``"slope"`` and ``"both"``, at 3 and 5 nodes (default quadrature); iterations,
log-likelihood and the number of censored visits beside.

Usage: ``python benchmarks/bench_joint_model.py [--runs 5] [--scale-runs 3] [--scales 1 5 20] [--parts 1 2 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import timed  # benchmarks/timing.py

from alsmeds.models.joint import JointModel
from alsmeds.models.joint.fitting import JM_SETTINGS
from alsmeds.models.joint.synthetic import PLANTED_MODEL, synthetic_joint_frames
from alsmeds.simulate import DEFAULT_SEED, generate

#: JM 1.5-2 Weibull fit times at ALS scale on this machine kind (engineering notes), seconds.
JM_SECONDS = {3: 11.0, 5: 23.0}

PREPARE = r"""
import pickle, sys
from alsmeds.models.joint.synthetic import synthetic_joint_frames
from alsmeds.simulate import generate
with open(sys.argv[2], "wb") as fh:
    pickle.dump(synthetic_joint_frames(generate(seed=1, scale=float(sys.argv[1]), truth_scale=0)), fh)
"""

CHILD = r"""
import json, pickle, resource, sys, time
from alsmeds.models.joint import JointModel
from alsmeds.models.joint.synthetic import PLANTED_MODEL
with open(sys.argv[1], "rb") as fh:
    long, surv = pickle.load(fh)
nodes = int(sys.argv[2])
before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start = time.perf_counter()
result = JointModel(**PLANTED_MODEL, n_nodes=nodes).fit(long, surv)
seconds = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "before_mb": before_mb, "patients": result.n_groups,
                  "visits": result.n_obs, "iterations": result.iterations, "converged": result.converged}))
"""


def paper_scale(runs: int) -> None:
    long, surv = synthetic_joint_frames(generate(seed=DEFAULT_SEED, scale=1, truth_scale=0))
    print(f"paper scale: {surv.shape[0]:,} patients, {long.shape[0]:,} visits, {int(surv['event'].sum()):,} events")
    print(
        f"{'quadrature':<22} {'nodes':>5} {'median s':>9} {'min-max s':>12} {'iterations':>10} {'log-likelihood':>15}"
        f" {'max |grad|':>10} {'JM s':>5} {'JM / ours':>9}"
    )
    for label, settings in (("default", {}), ("JM_SETTINGS", JM_SETTINGS)):
        for nodes in (3, 5):
            model = JointModel(**PLANTED_MODEL, n_nodes=nodes, **settings)
            times = []

            def fit(model=model, times=times):
                result = model.fit(long, surv)
                times.append(result.fit_seconds)
                return result

            median, result = timed(fit, runs)
            assert result.converged, result.message
            print(
                f"{label:<22} {nodes:>5} {median:>9.2f} {min(times):>5.2f}-{max(times):<6.2f} {result.iterations:>10}"
                f" {result.llf:>15.4f} {result.max_abs_gradient:>10.1e} {JM_SECONDS[nodes]:>5.0f}"
                f" {JM_SECONDS[nodes] / median:>8.1f}x",
                flush=True,
            )


def growth(scales: list[float], runs: int) -> None:
    print()
    print(
        f"{'scale':>6} {'patients':>9} {'visits':>9} {'runs':>5} {'median s':>9} {'min-max s':>12} {'iterations':>10}"
        f" {'peak RSS MB':>12} {'RSS loaded MB':>14} {'s per 1k patients':>18} {'vs 1x':>6}"
    )
    base = None
    for scale in scales:
        results = []
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "frames.pkl"
            subprocess.run([sys.executable, "-c", PREPARE, str(scale), str(path)], check=True)
            for _ in range(runs):
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, str(path), "3"], check=True, capture_output=True, text=True
                )
                results.append(json.loads(out.stdout.strip().splitlines()[-1]))
        assert all(r["converged"] for r in results)
        seconds = [r["seconds"] for r in results]
        median = statistics.median(seconds)
        per_k = median / (results[0]["patients"] / 1000)
        base = base or per_k
        print(
            f"{scale:>6g} {results[0]['patients']:>9,} {results[0]['visits']:>9,} {runs:>5} {median:>9.2f}"
            f" {min(seconds):>5.2f}-{max(seconds):<6.2f} {results[0]['iterations']:>10}"
            f" {max(r['peak_mb'] for r in results):>12.0f} {max(r['before_mb'] for r in results):>14.0f}"
            f" {per_k:>18.3f} {per_k / base:>6.2f}",
            flush=True,
        )


def censored_and_associations(runs: int) -> None:
    """Part 3: the censored submodel and the association structures at paper scale."""
    long, surv = synthetic_joint_frames(generate(seed=DEFAULT_SEED, scale=1, truth_scale=0))
    at_bounds = int(((long["score"] <= 0) | (long["score"] >= 48)).sum())
    print()
    print(f"censored submodel: {at_bounds:,} of {long.shape[0]:,} visits at 0 or 48")
    print(
        f"{'outcome':<9} {'association':<11} {'nodes':>5} {'median s':>9} {'min-max s':>12} {'iterations':>10}"
        f" {'log-likelihood':>15} {'max |grad|':>10} {'alpha':>9} {'alpha_slope':>11}"
    )
    for outcome in ("normal", "censored"):
        bounds = {"bounds": (0.0, 48.0)} if outcome == "censored" else {}
        for association in ("value", "slope", "both"):
            for nodes in (3, 5):
                model = JointModel(**PLANTED_MODEL, n_nodes=nodes, outcome=outcome, association=association, **bounds)
                times = []

                def fit(model=model, times=times):
                    result = model.fit(long, surv)
                    times.append(result.fit_seconds)
                    return result

                median, result = timed(fit, runs)
                assert result.converged, result.message
                alpha = result.params.get("alpha", float("nan"))
                alpha_slope = result.params.get("alpha_slope", float("nan"))
                print(
                    f"{outcome:<9} {association:<11} {nodes:>5} {median:>9.2f} {min(times):>5.2f}-{max(times):<6.2f}"
                    f" {result.iterations:>10} {result.llf:>15.4f} {result.max_abs_gradient:>10.1e}"
                    f" {alpha:>9.4f} {alpha_slope:>11.4f}",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="in-process fits per setting at paper scale")
    parser.add_argument("--scale-runs", type=int, default=3, help="fresh-process fits per scale")
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 5, 20])
    parser.add_argument("--parts", type=int, nargs="+", default=[1, 2, 3], help="which parts to run (1, 2, 3)")
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    if 1 in args.parts:
        paper_scale(args.runs)
    if 2 in args.parts:
        growth(args.scales, args.scale_runs)
    if 3 in args.parts:
        censored_and_associations(args.runs)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
