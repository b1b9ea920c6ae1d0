"""Benchmark: time and peak memory of exposure classification (``build_analysis_table``) at 1x, 10x and 100x.

For each scale a preparation process generates the synthetic registry (``truth_scale=0``),
writes it, reads it back with :func:`alsmeds.data.registry.read_registry` (so the tables have the
dtypes of a real run) and pickles the :class:`~alsmeds.data.registry.Registry`.  Each timed run is a
fresh Python process that unpickles the registry and times only
:func:`alsmeds.derive.analysis_table.build_analysis_table`; peak RSS (``ru_maxrss``) is that
process's, and the RSS after loading the registry is printed beside it so the cost of the
classification itself can be read off.  Prints the median of several runs and the cost
per 1,000 dispensing rows relative to 1x: linear growth keeps that ratio near 1.

Usage: ``python benchmarks/bench_exposure.py [--runs 3] [--large-runs 1] [--scales 1 10 100]``
(``--large-runs`` applies to scales of 100 and more).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PREPARE = r"""
import pickle, sys, tempfile
from alsmeds.data.registry import read_registry
from alsmeds.simulate import generate
scale, out = float(sys.argv[1]), sys.argv[2]
with tempfile.TemporaryDirectory() as tmp:
    folder = generate(seed=1, scale=scale, truth_scale=0).write(tmp + "/registry")
    registry = read_registry(folder)
with open(out, "wb") as fh:
    pickle.dump(registry, fh, protocol=pickle.HIGHEST_PROTOCOL)
"""

CHILD = r"""
import json, pickle, resource, sys, time
from alsmeds.derive.analysis_table import build_analysis_table
with open(sys.argv[1], "rb") as fh:
    registry = pickle.load(fh)
loaded_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start = time.perf_counter()
table = build_analysis_table(registry)
seconds = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "loaded_mb": loaded_mb,
                  "dispensings": len(registry["dispensings"]), "members": len(registry["study_population"]),
                  "table_rows": len(table)}))
"""


def prepare(scale: float, folder: Path) -> Path:
    """Generate, write, read and pickle the registry of one scale (not timed)."""
    path = folder / f"registry_{scale:g}.pkl"
    subprocess.run([sys.executable, "-c", PREPARE, str(scale), str(path)], check=True)
    return path


def measure(path: Path, runs: int) -> dict:
    """Median time and largest peak RSS of ``runs`` fresh processes classifying the pickled registry."""
    results = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", CHILD, str(path)], check=True, capture_output=True, text=True)
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    seconds = [r["seconds"] for r in results]
    return {
        "runs": runs,
        "seconds": statistics.median(seconds),
        "min": min(seconds),
        "max": max(seconds),
        "peak_mb": max(r["peak_mb"] for r in results),
        "loaded_mb": max(r["loaded_mb"] for r in results),
        **{k: results[0][k] for k in ("dispensings", "members", "table_rows")},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per scale below 100x (default 3)")
    parser.add_argument("--large-runs", type=int, default=1, help="runs per scale of 100x or more (default 1)")
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 10, 100])
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    header = (
        f"{'scale':>6} {'set members':>12} {'dispensing rows':>16} {'table rows':>11} {'runs':>5} {'median s':>9}"
        f" {'min-max s':>13} {'peak RSS MB':>12} {'RSS loaded MB':>14} {'ms per 1k disp':>15} {'vs 1x':>6}"
    )
    print(header)
    base = None
    with tempfile.TemporaryDirectory() as tmp:
        for scale in args.scales:
            started = time.perf_counter()
            path = prepare(scale, Path(tmp))
            prepared = time.perf_counter() - started
            r = measure(path, args.large_runs if scale >= 100 else args.runs)
            path.unlink()
            per_k = 1000 * r["seconds"] / (r["dispensings"] / 1000)
            base = base or per_k
            print(
                f"{scale:>6g} {r['members']:>12,} {r['dispensings']:>16,} {r['table_rows']:>11,} {r['runs']:>5}"
                f" {r['seconds']:>9.2f} {r['min']:>6.2f}-{r['max']:<6.2f} {r['peak_mb']:>12.0f}"
                f" {r['loaded_mb']:>14.0f} {per_k:>15.3f} {per_k / base:>6.2f}"
                f"   (data prepared in {prepared:.0f} s, not timed)",
                flush=True,
            )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.large_runs == 1 and any(s >= 100 for s in args.scales):
        print("note: scales of 100x and more ran once (--large-runs 1); their 'median' is that single run")


if __name__ == "__main__":
    main()
