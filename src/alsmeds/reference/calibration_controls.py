"""The fixed control estimates of the empirical-calibration reference, and OHDSI's R package run on them.

Two committed files in ``tests/data/`` come from here:

* ``calibration_controls.csv`` (:func:`make_controls`, :func:`write_controls`): control estimates drawn once
  from a planted systematic error model with seed :data:`SEED`, rounded to 6 decimals, one row per estimate:

  ========== ==========================================================================================
  column     meaning
  ========== ==========================================================================================
  set        ``planted`` (30 negative and 30 positive controls, mu = 0.1, tau = 0.15), ``unbiased``
             (30 negative controls without systematic error, mu = tau = 0), ``study`` (the estimates
             to calibrate; fixed numbers, not drawn)
  kind       ``negative``, ``positive`` or ``estimate``
  name       ``nc01``..., ``pc1.5_01``..., or the estimate's label
  true_log_rr  the true log relative risk (0 for a negative control, log 1.5, log 2, log 4 for the
             positive controls; empty for a study estimate)
  log_rr, se_log_rr  the estimate and its standard error (log scale)
  ========== ==========================================================================================

  The planted mechanism (the systematic error model of Schuemie et al. 2018 in the form that
  EmpiricalCalibration fits by default): a control of true log relative risk ``x`` has a systematic error
  drawn from ``N(mu + (b - 1) x, (tau + d |x|)^2)``, i.e. the estimate has mean ``mu + b x`` (:data:`PLANTED`:
  ``b = 0.9``, an estimator biased towards the null, and ``d = 0.05``), and the estimate adds sampling error
  ``N(0, se^2)`` with ``se`` uniform on :data:`SE_RANGE`.  There are 10 positive controls per true effect
  (relative risk 1.5, 2 and 4), not one: with a single positive control per effect size the four-parameter
  error model is barely identified (its SD slope would rest on three points).

* ``empirical_calibration_reference.json`` (:func:`run_reference`, :func:`write_reference`): the numbers of
  OHDSI's EmpiricalCalibration (``reference/R/empirical_calibration.R``) on those controls, from the package
  installed in the private library :data:`R_LIBRARY` (``build/R-lib``; it is not packaged by Debian)::

      # once: the package source (github OHDSI/EmpiricalCalibration, commit EMPIRICAL_CALIBRATION_COMMIT) in SRC
      R CMD INSTALL -l build/R-lib SRC
      .venv/bin/python -m alsmeds.reference.calibration_controls            # rewrites the CSV (identical)
      .venv/bin/python -m alsmeds.reference.calibration_controls --reference  # runs R, rewrites the JSON

Python's counterpart is :mod:`alsmeds.models.calibration`; ``tests/test_calibration.py`` holds it against both.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.paths import BUILD_DIR, ROOT

#: Seed of the draw (issue 25).
SEED = 25
#: The planted systematic error model of the ``planted`` set: estimate mean ``mu + mean_slope * x``,
#: systematic-error SD ``tau + sd_slope * |x|`` at true log relative risk ``x``.
PLANTED = {"mu": 0.1, "tau": 0.15, "mean_slope": 0.9, "sd_slope": 0.05}
#: Negative controls per set, positive controls per true effect size.
N_NEGATIVE = 30
N_PER_POSITIVE = 10
#: True relative risks of the positive controls.
POSITIVE_TRUE_RR = (1.5, 2.0, 4.0)
#: Standard errors of the control estimates are drawn uniformly from this range.
SE_RANGE = (0.05, 0.30)
#: The study estimates to calibrate: name -> (log RR, SE).  Fixed numbers spanning no effect, a small effect
#: as precise as the study's population comparison, protective and large effects.
STUDY_ESTIMATES: dict[str, tuple[float, float]] = {
    "null_precise": (0.0, 0.05),
    "or_1.21": (0.19062, 0.08),
    "or_1.5": (0.405465, 0.2),
    "or_0.8": (-0.223144, 0.1),
    "or_2.5_imprecise": (0.916291, 0.35),
    "or_1.1_precise": (0.09531, 0.03),
}
#: Decimals of the drawn log RR and SE in the CSV (both sides read the same text).
DECIMALS = 6

#: The committed files.
CONTROLS_CSV = ROOT / "tests" / "data" / "calibration_controls.csv"
REFERENCE_JSON = ROOT / "tests" / "data" / "empirical_calibration_reference.json"
#: The private R library holding EmpiricalCalibration.
R_LIBRARY = BUILD_DIR / "R-lib"
#: The package's source the reference was computed with (github OHDSI/EmpiricalCalibration, version 3.1.4).
EMPIRICAL_CALIBRATION_COMMIT = "03d4747fd805e92744d0bcaf603f4c2d0b13370b"
#: Seed and length of the package's MCMC null (``fitMcmcNull``), stored for information only.
MCMC_SEED = 25
MCMC_ITERATIONS = 100_000


def make_controls(seed: int = SEED) -> pd.DataFrame:
    """Draw the control estimates (see the module docstring); the same frame for the same seed.

    Parameters
    ----------
    seed : int

    Returns
    -------
    pandas.DataFrame
        Columns ``set, kind, name, true_log_rr, log_rr, se_log_rr``.
    """
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []

    def draw(set_name: str, kind: str, name: str, x: float, mu: float, slope: float, tau: float, d: float) -> None:
        se = rng.uniform(*SE_RANGE)
        systematic = rng.normal(mu + (slope - 1.0) * x, tau + d * abs(x)) if tau + d * abs(x) > 0 else mu
        estimate = x + systematic + rng.normal(0.0, se)
        rows.append(
            {
                "set": set_name,
                "kind": kind,
                "name": name,
                "true_log_rr": x,
                "log_rr": round(float(estimate), DECIMALS),
                "se_log_rr": round(float(se), DECIMALS),
            }
        )

    p = PLANTED
    for i in range(N_NEGATIVE):
        draw("planted", "negative", f"nc{i + 1:02d}", 0.0, p["mu"], p["mean_slope"], p["tau"], p["sd_slope"])
    for rr in POSITIVE_TRUE_RR:
        for i in range(N_PER_POSITIVE):
            x = float(np.log(rr))
            draw("planted", "positive", f"pc{rr:g}_{i + 1:02d}", x, p["mu"], p["mean_slope"], p["tau"], p["sd_slope"])
    for i in range(N_NEGATIVE):
        draw("unbiased", "negative", f"nc{i + 1:02d}", 0.0, 0.0, 1.0, 0.0, 0.0)
    for name, (log_rr, se) in STUDY_ESTIMATES.items():
        rows.append(
            {"set": "study", "kind": "estimate", "name": name, "true_log_rr": np.nan, "log_rr": log_rr, "se_log_rr": se}
        )
    return pd.DataFrame(rows, columns=["set", "kind", "name", "true_log_rr", "log_rr", "se_log_rr"])


def write_controls(path: Path = CONTROLS_CSV, seed: int = SEED) -> Path:
    """Write :func:`make_controls` as CSV (each float as its shortest round-trip text: exact when read back)."""
    make_controls(seed).to_csv(path, index=False, lineterminator="\n")
    return path


def read_controls(path: Path = CONTROLS_CSV) -> pd.DataFrame:
    """Read the committed controls (floats parsed exactly: ``float_precision="round_trip"``)."""
    return pd.read_csv(path, float_precision="round_trip", keep_default_na=False, na_values={"true_log_rr": [""]})


def package_available(library: Path = R_LIBRARY) -> bool:
    """Tell whether EmpiricalCalibration is installed in the private R library (its DESCRIPTION is there)."""
    return (Path(library) / "EmpiricalCalibration" / "DESCRIPTION").is_file()


def run_reference(
    controls: pd.DataFrame | None = None,
    *,
    library: Path = R_LIBRARY,
    mcmc_seed: int = MCMC_SEED,
    mcmc_iterations: int = MCMC_ITERATIONS,
    estimate_sets: Sequence[str] = ("study",),
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Run ``reference/R/empirical_calibration.R`` (OHDSI's EmpiricalCalibration) on the controls.

    Parameters
    ----------
    controls : DataFrame, optional
        As :func:`read_controls` (default: the committed CSV).
    library : Path
        The R library holding EmpiricalCalibration (:data:`R_LIBRARY`).
    mcmc_seed, mcmc_iterations : int
        ``set.seed`` and ``iter`` of ``fitMcmcNull``.
    estimate_sets : sequence of str
        The sets whose rows are the estimates to calibrate.
    timeout : float
        Seconds for the R run.

    Returns
    -------
    dict
        The JSON the script writes (see the script's header for its layout).
    """
    from alsmeds.reference.r import run_r_script

    frame = read_controls() if controls is None else controls
    args = {
        "library": str(Path(library).resolve()),
        "mcmc_seed": int(mcmc_seed),
        "mcmc_iterations": int(mcmc_iterations),
        "estimate_sets": list(estimate_sets),
        "source_commit": EMPIRICAL_CALIBRATION_COMMIT,
    }
    return run_r_script("empirical_calibration", {"controls": frame}, args, timeout=timeout)


def write_reference(path: Path = REFERENCE_JSON) -> Path:
    """Run :func:`run_reference` on the committed controls and write its JSON (sorted keys, indented)."""
    out = run_reference()
    path.write_text(json.dumps(out, indent=1, sort_keys=True, allow_nan=False) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: rewrite the CSV, or with ``--reference`` run R and rewrite the reference JSON."""
    parser = argparse.ArgumentParser(prog="python -m alsmeds.reference.calibration_controls", description=__doc__)
    parser.add_argument("--reference", action="store_true", help="run EmpiricalCalibration and write the JSON")
    options = parser.parse_args(argv)
    if options.reference:
        print(f"wrote {write_reference()}")
    else:
        print(f"wrote {write_controls()}")


if __name__ == "__main__":
    main()
