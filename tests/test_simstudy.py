"""The simulation study (:mod:`alsmeds.simstudy`): runner, resume, failures, backends, performance measures.

* End to end through the command line's entry point: a few replicates at a third of the
  paper's size into a temporary folder; every estimand of the committed truth meets an estimate.
* Resume: stored replicates are reused, not recomputed; a failed replicate is stored with its
  seed and error and listed, and recomputed only when asked.
* Backends: the same seeds give the same estimates in process, in two loky worker processes
  and on a local Dask cluster (labels and counts exactly, floats within ``alsmeds.precision``).
* Performance measures (Morris, White & Crowther 2019) against values computed by hand.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsmeds.precision import RTOL
from alsmeds.simstudy.cli import main
from alsmeds.simstudy.estimands import estimand_table
from alsmeds.simstudy.performance import performance_measures, published_percentiles
from alsmeds.simstudy.replicate import REPLICATE_COLUMNS, _finish, _rows
from alsmeds.simstudy.runner import (
    ESTIMATES_FILE,
    collect,
    compact_frame,
    read_compact,
    replicate_path,
    replicate_seed,
    run_study,
    study_id,
    write_compact,
)

KEYS = ["family", "comparison", "model", "exposure", "stratum", "term"]


def test_replicate_seeds_are_the_spawned_children():
    children = np.random.SeedSequence(123).spawn(5)
    assert [replicate_seed(123, i) for i in range(5)] == [int(c.generate_state(1)[0]) for c in children]
    assert len({replicate_seed(123, i) for i in range(100)}) == 100
    assert replicate_seed(124, 0) != replicate_seed(123, 0)


def test_cli_end_to_end(tmp_path: Path, capsys):
    """Three replicates at scale 0.3 through ``main``; then a fourth resumes from the stored three."""
    out = tmp_path / "studies"
    assert (
        main(["--reps", "3", "--scale", "0.3", "--workers", "1", "--seed", "7", "--out", str(out), "--no-progress"])
        == 0
    )
    folder = out / study_id(7, 0.3)
    assert sorted(p.name for p in folder.glob("rep-*.parquet")) == [f"rep-0000{i}.parquet" for i in range(3)]
    replicates = collect(folder)
    assert list(replicates.columns) == REPLICATE_COLUMNS
    assert sorted(replicates["rep"].unique()) == [0, 1, 2]
    assert replicates.groupby("rep")["seed"].first().tolist() == [replicate_seed(7, i) for i in range(3)]
    assert not (replicates["family"] == "failure").any()
    timing = replicates[replicates["family"] == "timing"]
    assert set(timing["term"]) >= {"simulate", "risk", "cox", "mixed", "joint"} and (timing["estimate"] > 0).all()

    performance = pd.read_csv(folder / "simstudy_performance.csv")
    estimands = estimand_table()
    # 72 risk, 6 Cox and 6 Cox robust-SE, 4 mixed, 11 for each of the two joint models and their robust-SE intervals
    assert len(performance) == len(estimands) == 72 + 6 + 6 + 4 + 4 * 11
    assert (performance["n_estimable"] >= 1).all(), performance[performance["n_estimable"] < 1]
    published = pd.read_csv(folder / "simstudy_published.csv")
    assert len(published) == 9 and published["n_estimable"].eq(3).all()
    # the compacted file holds the stored rows, to 8 significant digits
    compact = read_compact(folder / ESTIMATES_FILE)
    assert len(compact) == len(compact_frame(replicates))
    est = replicates[replicates["family"] == "risk"]["estimate"].to_numpy()
    back = compact[compact["family"] == "risk"]["estimate"].to_numpy()
    assert np.allclose(back, est, rtol=RTOL, atol=0, equal_nan=True)

    stamps = {p: p.stat().st_mtime_ns for p in folder.glob("rep-*.parquet")}
    capsys.readouterr()
    assert main(["--reps", "4", "--scale", "0.3", "--seed", "7", "--out", str(out), "--no-progress"]) == 0
    assert "(1 computed, 3 reused, 0 failed)" in capsys.readouterr().out
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())
    assert replicate_path(folder, 3).exists()


def _fake(rep: int, seed: int, scale: float) -> pd.DataFrame:
    """A replicate without models: one estimate from the seed (fast), failing for replicate 1."""
    if rep == 1:
        raise RuntimeError(f"planted failure of replicate {rep}")
    row = {
        "family": "risk",
        "comparison": "population",
        "model": "per_class",
        "exposure": "lagged",
        "stratum": "all",
        "term": "x",
        "estimate": seed / 2**32,
        "se": 0.1,
        "estimable": True,
        "reason": "",
        "info": 1.0,
    }
    return _finish(_rows([row]), rep, seed)


def test_resume_reuses_and_failures_are_recorded(tmp_path: Path):
    first = run_study(2, scale=0.5, seed=3, out=tmp_path, progress=False, replicate=_fake)
    assert first.computed == [0, 1] and first.reused == []
    assert list(first.failed) == [1] and "planted failure of replicate 1" in first.failed[1]
    failure = pd.read_parquet(replicate_path(first.folder, 1))
    assert failure["family"].tolist() == ["failure"]
    assert failure["seed"].iloc[0] == replicate_seed(3, 1)
    assert failure["reason"].iloc[0].startswith("RuntimeError: planted failure of replicate 1")

    # a stored replicate is never recomputed, even if the replicate function now differs
    def must_not_run(rep: int, seed: int, scale: float) -> pd.DataFrame:
        assert rep == 2, f"replicate {rep} recomputed"
        return _fake(rep, seed, scale)

    second = run_study(3, scale=0.5, seed=3, out=tmp_path, progress=False, replicate=must_not_run)
    assert second.computed == [2] and second.reused == [0, 1] and list(second.failed) == [1]
    stacked = collect(second.folder)
    assert stacked.groupby("rep")["family"].first().tolist() == ["risk", "failure", "risk"]

    # on request, the failure is computed again (and here fails again: still recorded)
    third = run_study(3, scale=0.5, seed=3, out=tmp_path, progress=False, retry_failed=True, replicate=_fake)
    assert third.computed == [1] and list(third.failed) == [1]


def test_interrupted_study_keeps_what_was_stored(tmp_path: Path):
    """An interrupt stops the study; the replicates written before it stay and are reused."""

    def interrupting(rep: int, seed: int, scale: float) -> pd.DataFrame:
        if rep == 2:
            raise KeyboardInterrupt
        return _fake(0, seed, scale).assign(rep=rep)

    with pytest.raises(KeyboardInterrupt):
        run_study(4, seed=11, out=tmp_path, progress=False, replicate=interrupting)
    folder = tmp_path / study_id(11, 1.0)
    assert sorted(p.name for p in folder.glob("rep-*.parquet")) == ["rep-00000.parquet", "rep-00001.parquet"]
    assert not list(folder.glob(".*tmp*"))
    resumed = run_study(
        4, seed=11, out=tmp_path, progress=False, replicate=lambda r, s, x: _fake(0, s, x).assign(rep=r)
    )
    assert resumed.reused == [0, 1] and resumed.computed == [2, 3]


def test_compact_file_is_deterministic(tmp_path: Path):
    frame = pd.concat([_fake(0, 5, 1.0), _fake(2, 9, 1.0)], ignore_index=True)
    a, b = write_compact(frame, tmp_path / "a.csv.gz"), write_compact(frame, tmp_path / "b.csv.gz")
    assert a.read_bytes() == b.read_bytes()
    assert gzip.decompress(a.read_bytes()).decode().splitlines()[0] == ",".join(REPLICATE_COLUMNS)
    back = read_compact(a)
    assert back["estimable"].dtype == bool and back["term"].tolist() == ["x", "x"]


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["family"] != "timing"].sort_values(["rep", *KEYS]).reset_index(drop=True)


@pytest.mark.slow
def test_backends_give_the_same_estimates(tmp_path: Path):
    """In process, two loky workers and a local Dask cluster: the same replicates."""
    kwargs = {"reps": 2, "scale": 0.2, "seed": 99, "progress": False}
    reference = _comparable(collect(run_study(workers=1, out=tmp_path / "sequential", **kwargs).folder))
    runs = {"loky": _comparable(collect(run_study(workers=2, out=tmp_path / "loky", **kwargs).folder))}
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        runs["dask"] = _comparable(
            collect(run_study(scheduler=c.scheduler_address, out=tmp_path / "dask", **kwargs).folder)
        )
    exact = [c for c in REPLICATE_COLUMNS if c not in ("estimate", "se", "info")]
    for name, frame in runs.items():
        pd.testing.assert_frame_equal(frame[exact], reference[exact], obj=name)
        for c in ("estimate", "se", "info"):
            assert np.allclose(frame[c], reference[c], rtol=RTOL, atol=1e-12, equal_nan=True), (name, c)


# --------------------------------------------------------------------------------------- measures


def _table(estimates, ses, estimable=None, term="a"):
    n = len(estimates)
    return pd.DataFrame(
        {
            "rep": range(n),
            "family": "risk",
            "comparison": "population",
            "model": "m",
            "exposure": "e",
            "stratum": "all",
            "term": term,
            "estimate": estimates,
            "se": ses,
            "estimable": [True] * n if estimable is None else estimable,
        }
    )


def _estimand(value, term="a", mc_se=0.0):
    return pd.DataFrame(
        [
            {
                "family": "risk",
                "comparison": "population",
                "model": "m",
                "exposure": "e",
                "stratum": "all",
                "term": term,
                "estimand": value,
                "estimand_mc_se": mc_se,
                "exact": mc_se == 0,
                "source": "hand",
            }
        ]
    )


def test_performance_measures_by_hand():
    # estimates 1..4 with SE 1 of an estimand 2; a fifth replicate is not estimable, a sixth has no SE
    est = _table(
        [1.0, 2.0, 3.0, 4.0, 9.0, 5.0],
        [1.0, 1.0, 1.0, 1.0, 1.0, np.nan],
        estimable=[True, True, True, True, False, True],
    )
    p = performance_measures(est, _estimand(2.0)).iloc[0]
    sd = math.sqrt(5 / 3)  # SD of 1, 2, 3, 4
    assert p["n_reps"] == 6 and p["n_estimable"] == 4
    assert p["mean_estimate"] == pytest.approx(2.5) and p["bias"] == pytest.approx(0.5)
    assert p["empse"] == pytest.approx(sd) and p["bias_mcse"] == pytest.approx(sd / 2)
    assert p["empse_mcse"] == pytest.approx(sd / math.sqrt(6))
    assert p["modse"] == pytest.approx(1.0) and p["modse_mcse"] == pytest.approx(0.0)
    assert p["relerr_modse"] == pytest.approx(100 * (1 / sd - 1))
    assert p["relerr_modse_mcse"] == pytest.approx(100 / sd * math.sqrt(1 / 6))
    # |t - 2| <= 1.96 for 1, 2, 3 (not 4); |t - 2.5| <= 1.96 for all; |t| > 1.96 for 2, 3, 4
    assert p["coverage"] == pytest.approx(0.75) and p["coverage_mcse"] == pytest.approx(math.sqrt(0.75 * 0.25 / 4))
    assert p["be_coverage"] == 1.0 and p["be_coverage_mcse"] == 0.0
    assert p["power"] == pytest.approx(0.75)
    assert p["bias_over_empse"] == pytest.approx(0.5 / sd)


def test_model_se_is_the_root_mean_square_and_bias_counts_the_estimand_error():
    est = _table([0.0, 0.2], [1.0, 2.0])
    p = performance_measures(est, _estimand(0.0, mc_se=0.3)).iloc[0]
    assert p["modse"] == pytest.approx(math.sqrt(2.5))
    # var(s^2) = var(1, 4) = 4.5 (n - 1 divisor): MCSE sqrt(4.5 / (4 * 2 * 2.5))
    assert p["modse_mcse"] == pytest.approx(math.sqrt(4.5 / 20))
    assert p["bias_total_se"] == pytest.approx(math.hypot(p["empse"] / math.sqrt(2), 0.3))
    assert p["coverage"] == 1.0 and p["power"] == 0.0


def test_coverage_and_bias_flags():
    rng = np.random.default_rng(1)
    n = 400
    good = _table(rng.normal(0.5, 0.2, n), np.full(n, 0.2))
    bad = _table(rng.normal(0.7, 0.2, n), np.full(n, 0.1), term="b")  # biased and overconfident
    estimands = pd.concat([_estimand(0.5), _estimand(0.5, term="b")], ignore_index=True)
    p = performance_measures(pd.concat([good, bad]), estimands).set_index("term")
    assert bool(p.loc["a", "coverage_ok"]) and bool(p.loc["a", "bias_ok"])
    assert not p.loc["b", "coverage_ok"] and not p.loc["b", "bias_ok"]
    assert p.loc["b", "relerr_modse"] == pytest.approx(-50, abs=5)


def test_one_replicate_gives_coverage_but_no_spread():
    p = performance_measures(_table([0.5], [0.2]), _estimand(0.5)).iloc[0]
    assert p["n_estimable"] == 1 and p["coverage"] == 1.0 and p["bias"] == 0.0
    assert np.isnan(p["empse"]) and np.isnan(p["relerr_modse"]) and not p["bias_ok"]


def test_an_estimand_without_estimates_has_no_measures():
    p = performance_measures(_table([1.0], [1.0]), _estimand(0.0, term="other")).iloc[0]
    assert p["n_estimable"] == 0 and np.isnan(p["bias"]) and not p["coverage_ok"]


def test_published_percentile_and_interval_width():
    published = pd.DataFrame(
        [
            {
                "target": "risk:anxiolytics:gt1",
                "kind": "odds_ratio",
                "comparison": "population",
                "drug_class": "anxiolytics",
                "window": "gt1",
                "published": 1.0,
                "published_lower": math.exp(-0.25),
                "published_upper": math.exp(0.25),
                "description": "hand",
            }
        ]
    )
    logs = [-0.2, -0.1, 0.0, 0.1, 0.2]
    est = pd.DataFrame(
        {
            "rep": range(5),
            "family": "risk",
            "comparison": "population",
            "model": "per_class",
            "exposure": "lagged",
            "stratum": "all",
            "term": "anxiolytics_gt1",
            "estimate": logs,
            "se": [0.1, 0.1, 0.1, 0.1, 0.2],
            "estimable": True,
        }
    )
    estimands = pd.DataFrame(
        [
            {
                "family": "risk",
                "comparison": "population",
                "model": "per_class",
                "exposure": "lagged",
                "stratum": "all",
                "term": "anxiolytics_gt1",
                "estimand": 0.2,
                "estimand_mc_se": 0.0,
            }
        ]
    )
    row = published_percentiles(est, published, estimands).iloc[0]
    assert row["published_percentile"] == pytest.approx(50.0)  # two below, one tie (half), two above
    assert row["two_sided_p"] == pytest.approx(1.0)
    from alsmeds.models.base import Z_975

    assert row["mean_log_ci_width"] == pytest.approx(2 * Z_975 * 0.12)
    assert row["ci_width_ratio"] == pytest.approx(2 * Z_975 * 0.12 / 0.5)
    assert row["estimand_ratio"] == pytest.approx(math.exp(0.2))
    assert row["median_ratio"] == pytest.approx(1.0)
    assert row["published_in_ci"] == pytest.approx(0.8)  # -0.2 with SE 0.1 excludes 0
