"""Project-wide pytest setup, loaded before the tests and the notebooks are collected.

nbval executes the notebooks with their default parameters, whose output folders are
``alsmeds.paths.FIGURES_DIR`` and ``RESULTS_DIR``.  Pointing them at ``build/test/`` keeps
the committed ``figures/`` and ``results/`` untouched by ``make test``: a test writes
into ``build/`` or a temporary folder, never into the tracked tree.  The variables are
set before anything imports :mod:`alsmeds`, and the notebook kernels inherit them, as they
inherit ``OPENBLAS_NUM_THREADS=1`` (below).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

_ROOT = Path(__file__).resolve().parent
# ALSMEDS_TEST_OUTPUTS moves it (a nested pytest run of the notebooks, tests/test_machine_independence.py).
_TEST_OUTPUTS = Path(os.environ.get("ALSMEDS_TEST_OUTPUTS") or _ROOT / "build" / "test")

if os.environ.get("PYTEST_XDIST_WORKER") is None:
    # A fresh folder per session: no output of an earlier run can stand in for this one's.
    shutil.rmtree(_TEST_OUTPUTS, ignore_errors=True)
# The tests and the notebook kernels run with one BLAS thread (set before numpy is imported): nbval then compares
# the committed outputs, executed by `make refresh` under the default threads, with a run under another summation
# order, so a checked number that depends on it (a signed zero, a last digit) fails (issue 21), at no extra cost.
# It also keeps two test workers from oversubscribing two cores.  Tests that compare thread settings set their own.
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["ALSMEDS_FIGURES_DIR"] = str(_TEST_OUTPUTS / "figures")
os.environ["ALSMEDS_RESULTS_DIR"] = str(_TEST_OUTPUTS / "results")
