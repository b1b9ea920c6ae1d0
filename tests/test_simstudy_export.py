"""The simulation study in rsimsum's tidy layout, and rsimsum's measures against the bundle's.

* :mod:`alsmeds.simstudy.export` writes the committed replicates (``results/simstudy_estimates.csv.gz``)
  in the long layout of R's rsimsum and the INTEREST app: one row per replicate and estimator with
  ``i``, the estimator's keys, ``b``, ``se`` and ``true``;
* ``tests/data/rsimsum_reference.json`` holds rsimsum 0.13.0's ``simsum()`` measures of that file
  (``src/alsmeds/reference/R/rsimsum.R``; how to rerun it is at the top of the script and in
  ``tests/data/README.md``);
* the bundle's own measures (:func:`alsmeds.reporting.simstudy.performance_measures`, which write
  ``results/simstudy_performance.csv``) must be rsimsum's to 1e-10.  Measured (R 4.2.2, rsimsum
  0.13.0, the committed 1,000 replicates, 132 estimators with the robust-SE ones): at most 2.3e-14 absolute
  (``relerr_modse``, in percent) and 1.5e-13 relative (``bias``, of a bias near 0); the SEs and Monte Carlo
  SEs within 1.6e-15 relative.

The live rerun of rsimsum is skipped when rsimsum is not in ``build/R-lib``.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alsmeds import paths
from alsmeds.reporting.simstudy import (
    ESTIMATOR_KEYS,
    estimand_table,
    performance_measures,
    read_compact,
    read_stored_replicates,
    with_robust_estimators,
)
from alsmeds.simstudy.cli import main
from alsmeds.simstudy.export import (
    TIDY_COLUMNS,
    read_tidy_estimates,
    tidy_csv_text,
    tidy_estimates,
    write_tidy_estimates,
)

#: The committed study: 72 risk, 6 Cox and 6 Cox robust-SE, 4 mixed, 11 for each joint model and its robust SE.
N_ESTIMATORS = 72 + 6 + 6 + 4 + 4 * 11
N_REPLICATES = 1000

REPO = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "rsimsum_reference.json"
SCRIPT = REPO / "src" / "alsmeds" / "reference" / "R" / "rsimsum.R"

#: Agreement required between rsimsum and the bundle.
TOL = 1e-10

#: Bundle column -> rsimsum measure (est) or Monte Carlo SE (mcse), and how they are compared:
#: "abs" (|difference| <= TOL; measures near 0 or shares) or "rel" (|difference| <= TOL |rsimsum|; SEs).
PAIRS: dict[str, tuple[str, str, str]] = {
    "n_estimable": ("nsim", "est", "abs"),
    "mean_estimate": ("thetamean", "est", "abs"),
    "bias": ("bias", "est", "abs"),
    "bias_mcse": ("bias", "mcse", "rel"),
    "empse": ("empse", "est", "rel"),
    "empse_mcse": ("empse", "mcse", "rel"),
    "modse": ("modelse", "est", "rel"),
    "modse_mcse": ("modelse", "mcse", "rel"),
    "relerr_modse": ("relerror", "est", "abs"),
    "relerr_modse_mcse": ("relerror", "mcse", "rel"),
    "coverage": ("cover", "est", "abs"),
    "coverage_mcse": ("cover", "mcse", "rel"),
    "be_coverage": ("becover", "est", "abs"),
    "be_coverage_mcse": ("becover", "mcse", "rel"),
    "power": ("power", "est", "abs"),
    "power_mcse": ("power", "mcse", "rel"),
}


@cache
def stored_replicates() -> pd.DataFrame:
    return read_stored_replicates()


@cache
def stored_tidy() -> pd.DataFrame:
    return tidy_estimates(stored_replicates())


@cache
def bundle_performance() -> pd.DataFrame:
    """The bundle's measures of the committed study, as ``simstudy_summary`` computes them."""
    perf = performance_measures(stored_replicates(), estimand_table())
    return perf.assign(comparison=perf["comparison"].fillna(""))


def reference() -> dict[str, Any]:
    return json.loads(REFERENCE.read_text())


def rsimsum_frame(ref: dict[str, Any]) -> pd.DataFrame:
    """One row per estimator: its keys and ``<measure>`` / ``<measure>_mcse`` columns (NaN for null)."""
    rows = []
    for estimator in ref["estimators"]:
        row: dict[str, Any] = {k: estimator[k] for k in ESTIMATOR_KEYS}
        for measure, value in estimator["measures"].items():
            row[f"R_{measure}"] = np.nan if value["est"] is None else float(value["est"])
            row[f"R_{measure}_mcse"] = np.nan if value["mcse"] is None else float(value["mcse"])
        rows.append(row)
    return pd.DataFrame(rows)


def disagreements(performance: pd.DataFrame, rsimsum: pd.DataFrame, tol: float = TOL) -> dict[str, float]:
    """Largest disagreement per bundle column (absolute or relative, :data:`PAIRS`) above ``tol``.

    Also fails (KeyError / AssertionError) when the two do not hold the same estimators.
    """
    both = performance.merge(rsimsum, on=ESTIMATOR_KEYS, how="outer", validate="one_to_one", indicator=True)
    unmatched = both[both["_merge"] != "both"]
    assert unmatched.empty, unmatched[[*ESTIMATOR_KEYS, "_merge"]]
    worst = {}
    for column, (measure, kind, scale) in PAIRS.items():
        ours = both[column].to_numpy(float)
        theirs = both[f"R_{measure}" if kind == "est" else f"R_{measure}_mcse"].to_numpy(float)
        assert np.array_equal(np.isnan(ours), np.isnan(theirs)), column
        ok = ~np.isnan(ours)
        diff = np.abs(ours[ok] - theirs[ok])
        if scale == "rel":  # relative to rsimsum's value; a 0 (e.g. the MCSE of a coverage of 1) must be 0
            diff = np.divide(diff, np.abs(theirs[ok]), out=np.where(diff == 0, 0.0, np.inf), where=theirs[ok] != 0)
        if diff.size and diff.max() > tol:
            worst[column] = float(diff.max())
    return worst


# --------------------------------------------------------------------------- (a) the tidy layout


def test_tidy_layout_one_row_per_replicate_and_estimator():
    """Columns in order; every estimator with an estimand x every replicate, once; true = the estimand."""
    tidy, estimands, replicates = stored_tidy(), estimand_table(), stored_replicates()
    assert list(tidy.columns) == list(TIDY_COLUMNS)
    n_reps = replicates["rep"].nunique()
    assert len(tidy) == len(estimands) * n_reps == N_ESTIMATORS * N_REPLICATES
    assert not tidy.duplicated(["i", *ESTIMATOR_KEYS]).any()
    assert (tidy.groupby(ESTIMATOR_KEYS, sort=False).size() == n_reps).all()
    # rows in the order of the estimand table (that of results/simstudy_performance.csv), then i
    order = tidy[ESTIMATOR_KEYS].drop_duplicates()
    pd.testing.assert_frame_equal(order.reset_index(drop=True), estimands[ESTIMATOR_KEYS].astype(str))
    assert (tidy.groupby(ESTIMATOR_KEYS, sort=False)["i"].apply(lambda s: s.is_monotonic_increasing)).all()
    true = tidy.merge(estimands, on=ESTIMATOR_KEYS)
    assert (true["true"] == true["estimand"]).all()
    assert set(tidy["i"]) == set(replicates["rep"])
    assert tidy.set_index("i")["seed"].groupby(level=0).nunique().eq(1).all()


def test_no_row_lost_against_the_stored_replicates():
    """Each stored row of an estimator with an estimand is in the export, with its exact estimate and SE or NA.

    The robust-SE estimators (``<model>_robust``) are derived from the stored rows: the estimate of the model's row
    with the SE of its ``robust_se:<term>`` diagnostic row (:func:`with_robust_estimators`).
    """
    tidy, replicates = stored_tidy(), with_robust_estimators(stored_replicates())
    judged = replicates.merge(estimand_table()[ESTIMATOR_KEYS], on=ESTIMATOR_KEYS)
    both = judged.merge(
        tidy, left_on=["rep", *ESTIMATOR_KEYS], right_on=["i", *ESTIMATOR_KEYS], how="outer", indicator=True
    )
    assert (both["_merge"] == "both").all(), both.loc[both["_merge"] != "both", ["rep", "i", *ESTIMATOR_KEYS]]
    assert len(both) == len(tidy)
    usable = both["estimable"] & np.isfinite(both["estimate"]) & np.isfinite(both["se_x"])
    assert (both.loc[usable, "b"] == both.loc[usable, "estimate"]).all()
    assert (both.loc[usable, "se_y"] == both.loc[usable, "se_x"]).all()
    assert (both.loc[usable, "reason_y"] == "").all()
    missing = both[~usable]
    assert missing["b"].isna().all() and missing["se_y"].isna().all()
    assert (missing["reason_y"] == missing["reason_x"]).all()  # the bundle's reason, e.g. "no exposed control"
    # the committed study: six non-estimable rows among the judged estimators, each with its reason (anxiolytics in
    # the last year before diagnosis: spouse sets without an exposed control, the under-65 stratum without a case)
    assert len(missing) == 6
    assert sorted(missing["reason_y"]) == ["no exposed case"] * 4 + ["no exposed control"] * 2


def test_failed_and_non_finite_rows_are_na_with_a_reason():
    """A failed replicate gives NA rows for every estimator; an infinite SE or a missing row, NA with the reason."""
    replicates = read_compact(paths.COMMITTED_RESULTS_DIR / "simstudy_estimates.csv.gz")
    replicates = replicates[replicates["rep"] < 3].copy()
    estimands = estimand_table()
    first = estimands.iloc[0]
    key = np.ones(len(replicates), dtype=bool)
    for k in ESTIMATOR_KEYS:
        key &= (replicates[k] == first[k]).to_numpy()
    replicates.loc[key & (replicates["rep"] == 0).to_numpy(), "se"] = np.inf
    second = estimands.iloc[1]
    drop = (replicates["rep"] == 1).to_numpy()
    for k in ESTIMATOR_KEYS:
        drop &= (replicates[k] == second[k]).to_numpy()
    replicates = replicates[~drop]
    failure = replicates[replicates["rep"] == 2].iloc[[0]].assign(
        family="failure", comparison="", model="", exposure="", stratum="", term="",
        estimate=np.nan, se=np.nan, estimable=False, reason="RuntimeError: boom\nTraceback ...",
    )  # fmt: skip
    replicates = pd.concat([replicates[replicates["rep"] != 2], failure], ignore_index=True)

    tidy = tidy_estimates(replicates, estimands)
    assert len(tidy) == 3 * len(estimands)
    failed = tidy[tidy["i"] == 2]
    assert failed["b"].isna().all() and failed["se"].isna().all()
    assert (failed["reason"] == "replicate failed: RuntimeError: boom").all()
    row = tidy[(tidy["i"] == 0) & (tidy["term"] == first["term"]) & (tidy["model"] == first["model"])]
    row = row[(row["exposure"] == first["exposure"]) & (row["stratum"] == first["stratum"])]
    assert len(row) == 1 and math.isnan(row["b"].iloc[0]) and row["reason"].iloc[0] == "estimate or SE not finite"
    lost = tidy[tidy["i"] == 1].merge(pd.DataFrame([second[ESTIMATOR_KEYS]]), on=ESTIMATOR_KEYS)
    assert len(lost) == 1 and lost["reason"].iloc[0] == "no row stored for this estimator"
    # the bundle leaves the same replicates out: n_estimable = the rows with b
    perf = performance_measures(replicates, estimands)
    counted = tidy.groupby(ESTIMATOR_KEYS, sort=False)["b"].count().to_numpy()
    assert (perf["n_estimable"].to_numpy() == counted).all()
    assert counted[0] == 1 and counted[1] == 1  # rep 0 (inf SE) and rep 1 (no row) left out; rep 2 failed


def test_tidy_file_is_deterministic_exact_and_the_reference_input(tmp_path: Path):
    """Same bytes twice and through the CLI; read back exactly; the bytes rsimsum_reference.json was made from."""
    a = write_tidy_estimates(tmp_path / "a.csv", stored_replicates())
    assert main(["export", "--format", "rsimsum", str(tmp_path / "b.csv")]) == 0
    assert a.read_bytes() == (tmp_path / "b.csv").read_bytes() == tidy_csv_text(stored_tidy()).encode()
    header = a.read_text().splitlines()[0]
    assert header == ",".join(TIDY_COLUMNS)
    back = read_tidy_estimates(a)
    pd.testing.assert_frame_equal(back, stored_tidy(), check_dtype=False)
    assert (back["b"].isna() == stored_tidy()["b"].isna()).all()
    assert "NA,NA" in a.read_text()  # a missing estimate as R writes and reads it
    ref = reference()
    assert ref["input"]["rows"] == len(stored_tidy())
    assert ref["input"]["md5"] == hashlib.md5(a.read_bytes()).hexdigest(), (
        "the tidy export differs from the file rsimsum_reference.json was made from: rerun "
        "src/alsmeds/reference/R/rsimsum.R (tests/data/README.md)"
    )


def test_unknown_format_is_a_usage_error(tmp_path: Path):
    with pytest.raises(SystemExit) as exc:
        main(["export", "--format", "stata", str(tmp_path / "x.csv")])
    assert exc.value.code == 2
    with pytest.raises(ValueError, match="unknown export format"):
        write_tidy_estimates(tmp_path / "x.csv", stored_replicates(), fmt="stata")


# --------------------------------------------------------------------------- (b) rsimsum's numbers


def test_reference_is_rsimsum_on_every_estimator():
    ref = reference()
    assert ref["versions"]["rsimsum"] == "0.13.0"
    assert ref["call"]["control"] == {"mcse": True, "level": 0.95, "na.rm": True}
    assert ref["call"]["ci.limits"] is None and ref["call"]["df"] is None and ref["call"]["methodvar"] is None
    assert ref["input"]["estimators"] == len(ref["estimators"]) == N_ESTIMATORS
    assert ref["input"]["replicates"] == N_REPLICATES


def test_bundle_measures_are_rsimsums():
    """Every measure and Monte Carlo SE of every estimator: the bundle's is rsimsum's to 1e-10."""
    assert disagreements(bundle_performance(), rsimsum_frame(reference())) == {}


def test_the_comparison_can_fail():
    """A change of 1e-9 (relative) in one rsimsum number, or a lost estimator, is caught."""
    rsimsum = rsimsum_frame(reference())
    changed = rsimsum.copy()
    changed.loc[5, "R_modelse_mcse"] *= 1 + 1e-9
    changed.loc[7, "R_cover"] += 1e-9
    assert set(disagreements(bundle_performance(), changed)) == {"modse_mcse", "coverage"}
    with pytest.raises(AssertionError):
        disagreements(bundle_performance(), rsimsum.drop(index=3))


def test_definitional_differences_are_the_stated_ones():
    """What rsimsum computes that the bundle does not, against the bundle's definitions (rsimsum.R's header).

    * bias_total_se = sqrt(bias_mcse^2 + estimand_mc_se^2): rsimsum's bias MCSE plus the implied estimand's own;
    * mse = bias^2 + (n - 1) / n EmpSE^2 (rsimsum's mean squared error);
    * se2mean = ModSE^2; rbias = bias / true where true is not 0 (rsimsum gives null where it is);
    * power: rsimsum counts |b| >= z se, the bundle |b| > z se; no estimate lies on the boundary, so
      the powers agree (checked in test_bundle_measures_are_rsimsums).
    """
    both = bundle_performance().merge(rsimsum_frame(reference()), on=ESTIMATOR_KEYS, validate="one_to_one")
    np.testing.assert_allclose(
        both["bias_total_se"], np.hypot(both["R_bias_mcse"], both["estimand_mc_se"]), rtol=TOL, atol=0
    )
    n = both["n_estimable"].astype(float)
    np.testing.assert_allclose(both["R_mse"], both["bias"] ** 2 + (n - 1) / n * both["empse"] ** 2, rtol=TOL, atol=0)
    np.testing.assert_allclose(both["R_se2mean"], both["modse"] ** 2, rtol=TOL, atol=0)
    nonzero = both["estimand"] != 0
    # the planted 0 slope differences of anxiolytics and hypnotics: mixed model, two joint models and their robust SEs
    assert (~nonzero).sum() == 2 * 5
    np.testing.assert_allclose(
        both.loc[nonzero, "R_rbias"], both.loc[nonzero, "bias"] / both.loc[nonzero, "estimand"], rtol=1e-9, atol=1e-13
    )
    assert both.loc[~nonzero, "R_rbias"].isna().all()
    # no estimate exactly on the power boundary (|b| = z se), where the two definitions would differ
    from alsmeds.constants import Z_975

    usable = stored_tidy().dropna(subset=["b"])
    assert not (np.abs(usable["b"]) == Z_975 * usable["se"]).any()


def test_committed_performance_table_is_rsimsums_to_its_digits():
    """results/simstudy_performance.csv (8 significant digits) holds rsimsum's numbers to its rounding."""
    committed = pd.read_csv(paths.COMMITTED_RESULTS_DIR / "simstudy_performance.csv", keep_default_na=False,
                            na_values=[""], dtype={k: str for k in ESTIMATOR_KEYS})  # fmt: skip
    committed = committed.assign(**{k: committed[k].fillna("") for k in ESTIMATOR_KEYS})
    both = committed.merge(rsimsum_frame(reference()), on=ESTIMATOR_KEYS, validate="one_to_one")
    assert len(both) == N_ESTIMATORS
    for column, (measure, kind, _) in PAIRS.items():
        theirs = both[f"R_{measure}" if kind == "est" else f"R_{measure}_mcse"].to_numpy(float)
        np.testing.assert_allclose(both[column].to_numpy(float), theirs, rtol=1e-7, atol=1e-12, err_msg=column)


# --------------------------------------------------------------------------- (c) rsimsum itself


@pytest.mark.r
@pytest.mark.usefixtures("needs_r")
def test_script_reproduces_stored_rsimsum_numbers(tmp_path: Path):
    """rsimsum.R, re-run on a fresh tidy export, writes the stored numbers (rsimsum in build/R-lib).

    rsimsum is not packaged by Debian (and so not in CI): without it in the private library the
    test is skipped with the reason.  About 5 s.
    """
    from alsmeds.reference.r import RSCRIPT_OPTIONS

    if not (REPO / "build" / "R-lib" / "rsimsum").is_dir():
        pytest.skip(
            "rsimsum is not installed in build/R-lib: it is not packaged by Debian (and so not in CI); install its "
            "source (github ellessenne/rsimsum, tag 0.13.0; dependency r-cran-ggridges from Debian) with "
            "R CMD INSTALL -l build/R-lib <source>"
        )
    tidy = write_tidy_estimates(tmp_path / "simstudy_tidy.csv", stored_replicates())
    out = tmp_path / "rsimsum.json"
    subprocess.run(
        [shutil.which("Rscript"), *RSCRIPT_OPTIONS, str(SCRIPT), f"input={tidy}", f"out={out}"],
        check=True,
        timeout=300,
        capture_output=True,
    )
    live, stored = json.loads(out.read_text()), reference()
    assert live["input"] == stored["input"] and live["call"] == stored["call"]
    assert live["versions"]["rsimsum"] == stored["versions"]["rsimsum"]
    assert len(live["estimators"]) == len(stored["estimators"])
    for a, b in zip(live["estimators"], stored["estimators"], strict=True):
        assert {k: a[k] for k in ESTIMATOR_KEYS} == {k: b[k] for k in ESTIMATOR_KEYS}
        assert a["measures"].keys() == b["measures"].keys()
        for measure, value in a["measures"].items():
            for part in ("est", "mcse"):
                x, y = value[part], b["measures"][measure][part]
                assert (x is None) == (y is None), (a["term"], measure, part)
                if x is not None:
                    assert x == pytest.approx(y, rel=1e-12, abs=1e-15), (a["term"], measure, part)
    # and the bundle agrees with the live numbers as with the stored ones
    assert disagreements(bundle_performance(), rsimsum_frame(live)) == {}
