"""Benchmark: how long the validator takes to reject a table file of bad bytes (issue 21).

Each case is a copy of the committed synthetic extract (``data/synthetic``) in a temporary
folder whose ``dispensings.csv`` is replaced, untimed, by:

* ``random binary``: random bytes (``--random-mib``, default 200 MiB), NUL bytes included,
  as a file overwritten by another or a damaged copy;
* ``random binary, no NUL``: the same with every NUL byte set to 0x01, so that the file
  is not caught by the early check for binary data and goes through the CSV scan and the
  UTF-8 check (``--no-nul-mib``, default 50 MiB);
* ``Latin-1, every row``: the committed dispensings repeated to ``--latin1-mib`` (default
  20 MiB) with a free-text column ``pharmacy`` holding a Swedish name with a Latin-1
  letter (``Malmö``, ``Göteborg``...) on every row: a register export saved as Latin-1;
* ``Latin-1, one row``: the same rows, UTF-8 but for one Latin-1 byte near the end;
* ``UTF-8 (accepted)``: the same rows in UTF-8, for scale: the time to read and validate
  the whole extract when nothing is wrong.

Timed: :func:`alsmeds.data.validate.validate_registry` on the folder (every table read and
checked; it raises :class:`~alsmeds.data.problems.RegistryValidationError` naming the rule),
median of ``--runs`` runs (``--large-runs`` for the 200 MiB file).

For comparison the script also times, once per size, the UTF-8 check that the validator
used before (one decoder call per bad byte sequence, each decoding the rest of the file:
quadratic in the file size) on the Latin-1 file cut to ``--previous-mib`` sizes (default
1, 2 and 4 MiB), beside the current check (:func:`alsmeds.data.read._utf8_problems`) on the
same bytes.

Usage: ``python benchmarks/bench_reject_bad_bytes.py [--runs 5] [--large-runs 3]
[--random-mib 200] [--no-nul-mib 50] [--latin1-mib 20] [--previous-mib 1 2 4]``
"""

from __future__ import annotations

import argparse
import codecs
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from timing import timed  # benchmarks/timing.py

from alsmeds.data import schema
from alsmeds.data.problems import RegistryValidationError
from alsmeds.data.read import _scan_csv, _utf8_problems
from alsmeds.data.validate import validate_registry

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"
MIB = 1 << 20
PHARMACIES = ("Malmö", "Göteborg", "Västerås", "Jönköping", "Umeå", "Linköping", "Norrköping", "Örebro")


def copy_extract(folder: Path) -> Path:
    """The committed synthetic tables and ``extract.json`` in ``folder``."""
    folder.mkdir(parents=True)
    for name in [f"{table}.csv" for table in schema.TABLES] + [schema.EXTRACT_METADATA_FILE]:
        shutil.copyfile(DATA / name, folder / name)
    return folder


def random_bytes(mib: float, nul: bool, seed: int = 21) -> bytes:
    """``mib`` MiB of random bytes; without NUL bytes when ``nul`` is False."""
    data = np.random.default_rng(seed).integers(0, 256, size=int(mib * MIB), dtype=np.uint8)
    if not nul:
        data[data == 0] = 1
    return data.tobytes()


def dispensings_text(mib: float) -> str:
    """The committed dispensings repeated to about ``mib`` MiB, with a column ``pharmacy`` (a Swedish place name)."""
    lines = (DATA / "dispensings.csv").read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], [line for line in lines[1:] if line]
    out = [header + ",pharmacy"]
    size, i = len(out[0]) + 1, 0
    while size < mib * MIB:
        line = f"{rows[i % len(rows)]},Apoteket {PHARMACIES[i % len(PHARMACIES)]}"
        out.append(line)
        size += len(line.encode("utf-8")) + 1
        i += 1
    return "\n".join(out) + "\n"


def reject(folder: Path) -> str:
    """Validate ``folder``; return the rule and the start of the first error (or 'accepted')."""
    try:
        validate_registry(folder)
    except RegistryValidationError as err:
        problem = err.problems[0]
        return f"{problem.rule}: {str(problem)[:150]}"
    return "accepted"


def previous_utf8_check(data: bytes) -> int:
    """The UTF-8 check the validator used before issue 21: one decoder call per error, on the rest of the file."""
    count, pos, view = 0, 0, memoryview(data)
    while pos < len(data):
        try:
            codecs.utf_8_decode(view[pos:], "strict", True)
            break
        except UnicodeDecodeError as err:
            count += 1
            pos = pos + max(err.end, err.start + 1)
    return count


def row(label: str, mib: float, runs: int, fn: Callable[[], object]) -> None:
    seconds, result = timed(fn, runs)
    print(f"{label:<26} {mib:>8.1f} {runs:>5} {seconds:>10.3f}   {result}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per case (default 5)")
    parser.add_argument("--large-runs", type=int, default=3, help="runs of the random-binary file (default 3)")
    parser.add_argument("--random-mib", type=float, default=200)
    parser.add_argument("--no-nul-mib", type=float, default=50)
    parser.add_argument("--latin1-mib", type=float, default=20)
    parser.add_argument("--previous-mib", type=float, nargs="*", default=[1, 2, 4])
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    print(f"{'case':<26} {'MiB':>8} {'runs':>5} {'median s':>10}   outcome")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        text = dispensings_text(args.latin1_mib)
        latin1 = text.encode("latin-1")
        utf8, place = text.encode("utf-8"), "Malmö".encode()
        at = utf8.rfind(place)  # the last Malmö in Latin-1, the rest in UTF-8
        one_bad = utf8[:at] + "Malmö".encode("latin-1") + utf8[at + len(place) :]
        cases = (
            ("random binary", args.random_mib, args.large_runs, random_bytes(args.random_mib, nul=True)),
            ("random binary, no NUL", args.no_nul_mib, args.runs, random_bytes(args.no_nul_mib, nul=False)),
            ("Latin-1, every row", len(latin1) / MIB, args.runs, latin1),
            ("Latin-1, one row", len(one_bad) / MIB, args.runs, one_bad),
            ("UTF-8 (accepted)", len(utf8) / MIB, args.runs, utf8),
        )
        for i, (label, mib, runs, data) in enumerate(cases):
            folder = copy_extract(root / f"case{i}")
            (folder / "dispensings.csv").write_bytes(data)
            row(label, mib, runs, lambda folder=folder: reject(folder))
            shutil.rmtree(folder)
        if args.previous_mib:
            print("\nthe UTF-8 check alone on the Latin-1 file cut to a size (bytes in hand, one run each):")
            print(f"{'check':<26} {'MiB':>8} {'runs':>5} {'median s':>10}   bad bytes found")
            for mib in args.previous_mib:
                data = latin1[: int(mib * MIB)]
                data = data[: data.rfind(b"\n") + 1]
                scan = _scan_csv(data, "dispensings", "dispensings.csv")
                row("current (one pass)", mib, 1, lambda scan=scan: _utf8_problems(scan)[0].message.split(" ")[0])
                started = time.perf_counter()
                found = previous_utf8_check(data)
                seconds = time.perf_counter() - started
                print(f"{'previous (per error)':<26} {mib:>8.1f} {1:>5} {seconds:>10.3f}   {found:,}", flush=True)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
