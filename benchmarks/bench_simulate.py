"""Benchmark: time and peak memory of generating the synthetic registry at 1x, 10x and 100x scale.

Each measurement runs in a fresh Python process (so peak RSS belongs to one run) and
generates the register tables and writes them as CSV (:func:`alsmeds.simulate.generate`,
which fits no model); the numerical estimands are timed separately at their default
scale (:func:`alsmeds.estimands.synthetic.synthetic_registry`, computed afresh, not read
from the cache).
Prints the median of several runs and the cost per case relative to 1x: linear
growth keeps that ratio near 1.

Usage: ``python benchmarks/bench_simulate.py [--runs 3] [--scales 1 10 100]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = r"""
import json, resource, sys, tempfile, time
from alsmeds.simulate import generate
scale, truth_scale = float(sys.argv[1]), float(sys.argv[2])
start = time.perf_counter()
if truth_scale > 0:
    from alsmeds.estimands.synthetic import synthetic_registry
    registry = synthetic_registry(seed=1, scale=scale, truth_scale=truth_scale, cache=False)
else:
    registry = generate(seed=1, scale=scale)
with tempfile.TemporaryDirectory() as tmp:
    registry.write(tmp + "/out")
seconds = time.perf_counter() - start
rows = sum(len(t) for t in registry.tables.values())
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "rows": rows,
                  "dispensings": len(registry.tables["dispensings"])}))
"""


def measure(scale: float, truth_scale: float, runs: int) -> dict:
    results = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(scale), str(truth_scale)], check=True, capture_output=True, text=True
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        "seconds": statistics.median(r["seconds"] for r in results),
        "peak_mb": max(r["peak_mb"] for r in results),
        "rows": results[0]["rows"],
        "dispensings": results[0]["dispensings"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 10, 100])
    args = parser.parse_args()
    print(f"{'scale':>6} {'cases':>8} {'rows':>11} {'median s':>9} {'peak MB':>8} {'s per 1k cases':>15} {'vs 1x':>6}")
    base = None
    for scale in args.scales:
        r = measure(scale, 0, args.runs)
        per_k = r["seconds"] / (1057 * scale / 1000)
        base = base or per_k
        print(
            f"{scale:>6g} {round(1057 * scale):>8,} {r['rows']:>11,} {r['seconds']:>9.2f} {r['peak_mb']:>8.0f}"
            f" {per_k:>15.3f} {per_k / base:>6.2f}"
        )
    r = measure(1, 100, args.runs)
    print(f"numerical estimands (truth_scale=100) + 1x data: median {r['seconds']:.1f} s, peak {r['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
