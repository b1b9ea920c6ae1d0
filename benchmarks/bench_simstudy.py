"""Benchmark: the simulation study (:mod:`alsmeds.simstudy`), cost of a replicate and throughput.

Part 1, one replicate at the paper's size, by step: ``run_replicate`` in this process for
``--runs`` seeds (after one untimed warm-up replicate that imports and compiles everything);
the median wall time of each step (simulate, analysis table, risk models, age strata, survival
data, Cox, ALSFRS-R data, mixed model, joint model) from the replicate's own ``timing`` rows,
and of the whole replicate.

Part 2, throughput: ``run_study`` of ``--reps`` replicates into a temporary folder with 1
worker (in process) and with 2 loky worker processes (start-up of the workers included, as a
user meets it); replicates per minute and the speed-up of two workers over one.  The seeds of
the two runs are the same, and the script checks that their estimates agree.

Usage: ``python benchmarks/bench_simstudy.py [--runs 3] [--reps 8] [--scale 1]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from timing import timed  # benchmarks/timing.py

from alsmeds.simstudy.replicate import run_replicate
from alsmeds.simstudy.runner import collect, replicate_seed, run_study


def by_step(runs: int, scale: float) -> None:
    run_replicate(0, replicate_seed(1, 0), scale)  # warm-up: imports, first calls
    frames = []

    def one(i=[0]):  # noqa: B006 - a counter across calls
        i[0] += 1
        frame = run_replicate(i[0], replicate_seed(1, i[0]), scale)
        frames.append(frame)
        return frame

    median, _ = timed(one, runs)
    steps: dict[str, list[float]] = {}
    for frame in frames:
        for r in frame[frame["family"] == "timing"].itertuples():
            steps.setdefault(r.term, []).append(r.estimate)
    total = sum(statistics.median(v) for v in steps.values())
    print(f"one replicate at scale {scale:g}, median of {runs} (in process, after a warm-up):")
    print(f"{'step':<16} {'median s':>9} {'share':>6}")
    for step, values in steps.items():
        m = statistics.median(values)
        print(f"{step:<16} {m:>9.2f} {m / total:>6.0%}")
    print(f"{'sum of steps':<16} {total:>9.2f}\n{'whole call':<16} {median:>9.2f}", flush=True)


def throughput(reps: int, scale: float) -> None:
    rates = {}
    stacked = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            start = time.perf_counter()
            run = run_study(reps, scale=scale, seed=2, workers=workers, out=Path(tmp) / f"w{workers}", progress=False)
            seconds = time.perf_counter() - start
            rates[workers] = reps / seconds * 60
            frame = collect(run.folder)
            stacked[workers] = frame[frame["family"] != "timing"].sort_values(["rep", "family", "model", "term"])
            print(f"{workers} worker(s): {reps} replicates in {seconds:.1f} s = {rates[workers]:.1f} per minute",
                  flush=True)
    a, b = stacked[1]["estimate"].to_numpy(), stacked[2]["estimate"].to_numpy()
    assert np.allclose(a, b, rtol=2e-7, atol=1e-12, equal_nan=True), "1 and 2 workers disagree"
    print(f"speed-up of 2 workers over 1: {rates[2] / rates[1]:.2f}x (estimates identical within 2e-7)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="replicates timed by step (default 3)")
    parser.add_argument("--reps", type=int, default=8, help="replicates per throughput run (default 8)")
    parser.add_argument("--scale", type=float, default=1.0, help="replicate size, multiple of the paper's (default 1)")
    args = parser.parse_args()
    by_step(args.runs, args.scale)
    print()
    throughput(args.reps, args.scale)


if __name__ == "__main__":
    main()
