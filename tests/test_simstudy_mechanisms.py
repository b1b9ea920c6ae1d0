"""The simulation study's data-generating mechanisms (alsmeds.simstudy.mechanisms): parameters, runs, table, plot."""

from __future__ import annotations

from dataclasses import replace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from alsmeds.analyses.mechanisms import (
    MEASURES,
    MECHANISM_ESTIMATES_COLUMNS,
    MECHANISM_ESTIMATES_FILE,
    MECHANISM_PERFORMANCE_COLUMNS,
    mechanism_performance,
    read_mechanism_estimates,
    split_mechanism,
    stack_mechanism,
)
from alsmeds.plots.simstudy import plot_nested_loop
from alsmeds.simstudy import calibration
from alsmeds.simstudy.cli import main
from alsmeds.simstudy.estimands import estimand_table
from alsmeds.simstudy.mechanisms import (
    CALIBRATION_MECHANISMS,
    FACTORS,
    MECHANISMS,
    NON_INFORMATIVE_LOG_BASELINE_HAZARD,
    get_mechanism,
    mechanism_table,
    mechanism_truth,
    run_mechanism_study,
)
from alsmeds.simstudy.replicate import REPLICATE_COLUMNS
from alsmeds.simstudy.runner import collect, compact_frame, replicate_seed
from alsmeds.simulate import generate
from alsmeds.simulate.parameters import SimulationParameters


def _without(params: SimulationParameters, *paths: str) -> dict:
    """``params.to_dict()`` with the dotted ``paths`` removed (what a mechanism must leave alone)."""
    out = params.to_dict()
    for path in paths:
        section, name = path.split(".")
        out[section].pop(name)
    return out


def test_main_is_the_committed_generator():
    main_ = MECHANISMS["main"]
    assert main_.parameters() == SimulationParameters()
    assert (main_.scale, main_.seed) == (1.0, 20250605)  # the stored study's seed: its replicates
    assert mechanism_truth("main").seed == 20250605  # the committed truth.json
    for name in ("main", "small", "large"):
        assert MECHANISMS[name].committed_parameters


def test_each_mechanism_changes_what_it_documents():
    committed = SimulationParameters()
    no_familial = MECHANISMS["no_familial"].parameters()
    assert no_familial.risk.log_or_familial_factor == 0.0
    assert committed.risk.log_or_familial_factor == pytest.approx(0.30)  # the transformation is pure
    assert _without(no_familial, "risk.log_or_familial_factor") == _without(committed, "risk.log_or_familial_factor")

    no_dropout = MECHANISMS["no_dropout"].parameters()
    assert no_dropout.prognosis.association == 0.0 and no_dropout.prognosis.association_slope == 0.0
    assert no_dropout.prognosis.log_baseline_hazard == NON_INFORMATIVE_LOG_BASELINE_HAZARD
    changed = ("prognosis.association", "prognosis.log_baseline_hazard", "prognosis.association_structure")
    assert _without(no_dropout, *changed) == _without(committed, *changed)

    latent = MECHANISMS["latent_scores"].parameters()
    assert latent.prognosis.record_latent_scores and not committed.prognosis.record_latent_scores
    assert latent == replace(committed, prognosis=replace(committed.prognosis, record_latent_scores=True))

    both = MECHANISMS["no_familial_no_dropout"].parameters()
    assert both == replace(no_dropout, risk=no_familial.risk)
    assert MECHANISMS["no_dropout_latent_scores"].parameters() == replace(
        no_dropout, prognosis=replace(no_dropout.prognosis, record_latent_scores=True)
    )

    assert (MECHANISMS["small"].scale, MECHANISMS["large"].scale) == (0.5, 2.0)
    assert MECHANISMS["small"].parameters() == MECHANISMS["large"].parameters() == committed


def test_seeds_distinct_and_the_calibration_pair_by_reference():
    seeds = [m.seed for m in MECHANISMS.values()] + list(calibration.MECHANISMS.values())
    assert len(set(seeds)) == len(seeds)
    assert len(MECHANISMS) >= 6
    for name in CALIBRATION_MECHANISMS:
        m = get_mechanism(name)
        assert m.study == "calibration" and m.seed == calibration.MECHANISMS[name]
        assert m.parameters() == calibration.mechanism_parameters(name)
    table = mechanism_table()
    assert list(table.index) == [*MECHANISMS, *CALIBRATION_MECHANISMS]
    assert set(FACTORS) <= set(table.columns)
    assert table.loc["no_systematic_error", "negative-control systematic error"] == "absent"
    with pytest.raises(ValueError, match="unknown mechanism"):
        get_mechanism("nope")


def test_latent_switch_default_unchanged_and_in_the_cache_key():
    committed = SimulationParameters()
    assert "record_latent_scores" not in committed.to_dict()["prognosis"]  # truth.json as before the switch
    assert MECHANISMS["latent_scores"].parameters().to_dict()["prognosis"]["record_latent_scores"] is True
    observed = generate(seed=5, scale=0.1).tables["alsfrs"]
    latent = generate(seed=5, scale=0.1, params=MECHANISMS["latent_scores"].parameters()).tables["alsfrs"]
    scores = latent["alsfrs_r_total"].to_numpy(float)
    assert not np.allclose(scores, np.round(scores))  # not rounded
    assert (scores > 48).any()  # not clipped
    # the same draws: rounding and clipping the latent scores gives the register's
    assert np.array_equal(np.clip(np.round(scores), 0, 48).astype(np.int64), observed["alsfrs_r_total"].to_numpy())
    assert latent["person_id"].equals(observed["person_id"])


@pytest.fixture(scope="module")
def two_mechanisms(tmp_path_factory):
    """One replicate of ``main`` and of ``latent_scores`` at scale 0.2, stored in a temporary folder."""
    out = tmp_path_factory.mktemp("mechanisms")
    runs = {
        name: run_mechanism_study(name, 1, scale=0.2, out=out, progress=False) for name in ("main", "latent_scores")
    }
    return out, runs


def test_a_short_run_of_two_mechanisms(two_mechanisms):
    out, runs = two_mechanisms
    for name, run in runs.items():
        m = MECHANISMS[name]
        assert run.folder == out / name / f"seed-{m.seed}_scale-0.2"
        assert run.computed == [0] and not run.failed
        frame = collect(run.folder)
        assert list(frame.columns) == REPLICATE_COLUMNS
        assert frame["seed"].iloc[0] == replicate_seed(m.seed, 0)
        assert {"risk", "cox", "mixed", "joint", "diagnostic", "timing"} <= set(frame["family"])
        assert frame.loc[frame["term"] == "alpha", "estimable"].all()
    main_, latent = (collect(runs[n].folder) for n in ("main", "latent_scores"))
    assert not main_["seed"].equals(latent["seed"])  # own seeds


def test_the_command_line_stacks_a_mechanism_with_its_estimands(two_mechanisms):
    out, _ = two_mechanisms
    code = main(["--mechanism", "main", "--reps", "1", "--scale", "0.2", "--out", str(out), "--no-progress"])
    assert code == 0
    stacked = read_mechanism_estimates(out / MECHANISM_ESTIMATES_FILE)
    assert list(stacked.columns) == list(MECHANISM_ESTIMATES_COLUMNS)
    assert list(dict.fromkeys(stacked["mechanism"])) == ["main"]  # latent_scores ran at another scale: not stacked
    replicates, estimands = split_mechanism(stacked, "main")
    assert len(estimands) == len(estimand_table())
    assert replicates["rep"].unique().tolist() == [0]
    assert main(["--mechanism", "systematic_error", "--reps", "1", "--out", str(out), "--no-progress"]) == 2


def test_performance_table_shape(two_mechanisms):
    _, runs = two_mechanisms
    estimands = estimand_table()  # the committed truth's, for both (the latent scores change no estimand)
    stacked = pd.concat(
        [stack_mechanism(compact_frame(collect(r.folder)), estimands, name, 0.2) for name, r in runs.items()],
        ignore_index=True,
    )
    table = mechanism_performance(stacked)
    assert list(table.columns) == list(MECHANISM_PERFORMANCE_COLUMNS)
    assert len(table) == 2 * len(estimands) * len(MEASURES)
    assert table["mechanism"].unique().tolist() == ["main", "latent_scores"]
    assert table["measure"].iloc[: len(MEASURES)].tolist() == list(MEASURES)
    coverage = table[table["measure"] == "coverage"]
    assert coverage["value"].dropna().between(0, 1).all()
    assert (table["n_reps"] == 1).all()


def test_nested_loop_plot_draws():
    mechanisms = pd.DataFrame(
        {"familial": ["on", "off", "on", "off"], "dropout": ["on", "on", "off", "off"]},
        index=["main", "no_familial", "no_dropout", "both_off"],
    )
    rows = []
    for i, m in enumerate(mechanisms.index):
        for estimator in ("a", "b"):
            rows.append({"mechanism": m, "estimator": estimator, "measure": "coverage", "value": 0.9 + 0.01 * i,
                         "mcse": 0.01})  # fmt: skip
    performance = pd.DataFrame(rows)
    fig = plot_nested_loop(
        performance, "coverage", {"a": "estimator A", "b": "estimator B"}, mechanisms, {"familial": ("on", "off")}
    )
    top, legend = fig.axes
    assert len(top.get_lines()) >= 3  # two step lines and the 95% reference (error bars add their own)
    assert len(legend.get_lines()) == 2  # one step line per varying factor
    assert [t.get_text() for t in legend.get_xticklabels()] == ["main", "no_dropout", "no_familial", "both_off"]
    plt.close(fig)
