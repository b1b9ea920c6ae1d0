"""The report analyses (:mod:`alsmeds.analyses.report`) and what notebooks 08 and 09 call to show them.

* ``reproduction`` and ``simstudy_summary`` write files byte-identical to the committed
  ``results/`` (the reproduction from the committed files of the analyses it needs).
* The simulation study's estimands, performance measures and published percentiles moved to
  :mod:`alsmeds.reporting.simstudy` (below the analyses layer) and are the same functions under
  their old names in :mod:`alsmeds.simstudy`; the estimand table agrees with the copy that is
  re-exported by :mod:`alsmeds.simstudy.estimands`.
* The tables and sentences of notebooks 08 and 09 (:mod:`alsmeds.reporting.reproduction`,
  :mod:`alsmeds.reporting.simstudy`) and their figures, on the committed results and on
  constructed frames where a rule must be seen to act.
"""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from alsmeds import Study, paths  # noqa: E402
from alsmeds.analyses import ANALYSES, StudyResults, read_results_file, read_spec, run_analyses  # noqa: E402
from alsmeds.analyses.context import AnalysisContext  # noqa: E402
from alsmeds.analyses.report import REPRODUCTION_NEEDS, SIMSTUDY_OUTPUTS  # noqa: E402
from alsmeds.plots.reproduction import published_vs_ours_figure  # noqa: E402
from alsmeds.plots.simstudy import ZIP_PANELS, coverage_overview_figure, plot_selected_zips  # noqa: E402
from alsmeds.reporting import reproduction as rep  # noqa: E402
from alsmeds.reporting import simstudy as rs  # noqa: E402
from alsmeds.truth import read_truth  # noqa: E402

COMMITTED = paths.COMMITTED_RESULTS_DIR


@pytest.fixture(scope="module")
def study() -> Study:
    return Study.from_parameters()


@pytest.fixture(scope="module")
def truth():
    return read_truth(paths.SYNTHETIC_DIR / "truth.json")


@pytest.fixture(scope="module")
def replicates() -> pd.DataFrame:
    return rs.read_stored_replicates()


@pytest.fixture(scope="module")
def performance() -> pd.DataFrame:
    return read_results_file(COMMITTED / "simstudy_performance.csv")


@pytest.fixture(scope="module")
def report() -> pd.DataFrame:
    return read_results_file(COMMITTED / "reproduction.csv")


# -- the analyses -------------------------------------------------------------------------------------------------


def test_the_report_analyses_are_declared_after_what_they_need():
    names = list(ANALYSES)
    assert ANALYSES["reproduction"].needs == REPRODUCTION_NEEDS
    assert all(names.index(n) < names.index("reproduction") for n in REPRODUCTION_NEEDS)
    assert ANALYSES["simstudy_summary"].outputs == SIMSTUDY_OUTPUTS
    assert ANALYSES["simstudy_summary"].needs == ()


def test_every_file_the_scorecard_reads_is_written_by_a_need():
    read = {"01_cohort.json", "risk_models.csv", "interaction_tests.csv", "followup.json", "alsfrs_mixed_model.csv",
            "joint_model.csv"}  # fmt: skip
    written = {f for n in REPRODUCTION_NEEDS for f in ANALYSES[n].outputs}
    assert read <= written


def test_reproduction_is_byte_identical_to_the_committed_results(study, tmp_path):
    """From the committed files of its needs, the analysis writes the committed reproduction.{csv,json}."""
    for name in REPRODUCTION_NEEDS:
        for file in ANALYSES[name].outputs:
            shutil.copy(COMMITTED / file, tmp_path / file)
    written = ANALYSES["reproduction"].function(AnalysisContext(study, read_spec(), tmp_path))
    assert sorted(p.name for p in written) == ["reproduction.csv", "reproduction.json"]
    for file in ("reproduction.csv", "reproduction.json"):
        assert filecmp.cmp(tmp_path / file, COMMITTED / file, shallow=False), file


def test_simstudy_summary_is_byte_identical_to_the_committed_results(study, tmp_path):
    ran = run_analyses(study, results_dir=tmp_path, only=["simstudy_summary"], resume=False, progress=False)
    assert ran.ran == ["simstudy_summary"]
    for file in SIMSTUDY_OUTPUTS:
        assert filecmp.cmp(tmp_path / file, COMMITTED / file, shallow=False), file


def test_the_estimands_truth_is_the_data_s_own_else_the_committed_one(tmp_path):
    committed = paths.SYNTHETIC_DIR / "truth.json"
    assert rs.estimands_truth_file(None) == committed
    assert rs.estimands_truth_file(tmp_path) == committed  # a real extract: no truth.json
    (tmp_path / "truth.json").write_text("{}", encoding="utf-8")
    assert rs.estimands_truth_file(tmp_path) == tmp_path / "truth.json"


def test_the_stored_study_is_read_from_the_committed_results(tmp_path):
    assert rs.stored_study_file() == COMMITTED / rs.ESTIMATES_FILE
    with pytest.raises(FileNotFoundError, match="alsmeds simstudy"):
        rs.read_stored_replicates(tmp_path / rs.ESTIMATES_FILE)


def test_load_simulation_study_shows_the_analysis_files(study, tmp_path):
    from alsmeds.simstudy.runner import load_simulation_study

    sim = load_simulation_study(StudyResults(study, tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(SIMSTUDY_OUTPUTS)  # nothing else written
    pd.testing.assert_frame_equal(sim.performance, read_results_file(COMMITTED / "simstudy_performance.csv"))
    assert sim.truth_file == paths.SYNTHETIC_DIR / "truth.json"
    text = sim.describe()
    assert text.startswith("estimands: data/synthetic/truth.json\nthe stored study, simstudy_estimates.csv.gz: ")
    assert "1,000 replicates, 0 failed, 1,057 cases each; seeds 1,000 distinct" in text


def test_a_live_study_is_summarised_and_writes_no_results_file(study, replicates, tmp_path, monkeypatch):
    """``live_reps > 0``: the replicates of a study run now (here: the first stored ones), summarised in memory."""
    from alsmeds.simstudy import runner

    folder = tmp_path / "simstudy" / "seed-1_scale-0.3"
    monkeypatch.setattr(runner, "run_study", lambda reps, **kwargs: runner.StudyRun(folder=folder, reps=reps))
    monkeypatch.setattr(runner, "collect", lambda f, reps: replicates[replicates["rep"] < reps])
    sim = runner.load_simulation_study(StudyResults(study, tmp_path / "results"), live_reps=3, seed=1)
    assert not (tmp_path / "results").exists()
    assert sim.replicates["rep"].nunique() == 3 and sim.source.startswith("a live study in ")
    assert sim.performance["n_estimable"].max() == 3
    assert len(sim.published) == 9


# -- the moved functions ------------------------------------------------------------------------------------------


def test_the_moved_functions_keep_their_old_names():
    from alsmeds.simstudy import performance, runner

    assert performance.performance_measures is rs.performance_measures
    assert performance.published_percentiles is rs.published_percentiles
    assert performance.PERFORMANCE_COLUMNS is rs.PERFORMANCE_COLUMNS
    assert runner.read_compact is rs.read_compact
    assert runner.write_summary is rs.write_summary
    assert runner.ESTIMATES_FILE == rs.ESTIMATES_FILE


def test_the_estimand_table_is_defined_once():
    """``alsmeds.simstudy.estimands`` keeps its names for the one definition in reporting."""
    from alsmeds.simstudy import estimands

    assert estimands.estimand_table is rs.estimand_table and estimands.read_truth is rs.read_truth


def test_ratio_target_names_are_one_function():
    from alsmeds.plots import reproduction as plots

    assert plots.ratio_target_name is rep.ratio_target_name
    assert rep.ratio_target_name("risk:anxiolytics:gt1") == "Anxiolytics, >1 y (lagged)"
    assert rep.ratio_target_name("prognosis:hypnotics") == "Hypnotics & sedatives"
    assert rep.target_parts("prognosis:hypnotics") == ("hypnotics", "ever")


# -- notebook 08: the report read back ----------------------------------------------------------------------------


def test_split_report_gives_back_the_scorecard_and_the_verdicts(report, truth):
    card, verdicts = rep.split_report(report)
    expected_card = rep.scorecard(COMMITTED, truth)
    expected_verdicts = rep.qualitative_verdicts(COMMITTED)
    pd.testing.assert_frame_equal(verdicts, expected_verdicts)
    assert list(card.columns) == list(expected_card.columns)
    for column in ("target", "kind", "status", "note"):
        assert card[column].tolist() == expected_card[column].tolist(), column
    for column in ("published", "planted", "estimate", "ci_lower", "ci_upper", "z"):  # 8 significant digits
        np.testing.assert_allclose(card[column], expected_card[column], rtol=1e-7, equal_nan=True)
    assert card["published_in_ci"].dtype == "boolean"
    assert card["published_in_ci"].tolist() == expected_card["published_in_ci"].tolist()


def test_split_report_of_a_fresh_report_round_trips(truth):
    card, verdicts = rep.scorecard(COMMITTED, truth), rep.qualitative_verdicts(COMMITTED)
    again_card, again_verdicts = rep.split_report(rep.reproduction_report(card, verdicts))
    pd.testing.assert_frame_equal(again_verdicts, verdicts)
    pd.testing.assert_frame_equal(again_card, card)


def test_the_scorecard_table_says_yes_no_or_nothing_for_in_our_ci(report):
    card, _ = rep.split_report(report)
    shown = rep.show_scorecard(card).frame
    assert shown.columns[0] == "Published target" and shown.columns[-1] == "Status"
    ratios = card["kind"].isin(rep.RATIO_KINDS)
    assert set(shown.loc[ratios, "in our CI"]) <= {"yes", "no"}
    assert set(shown.loc[~ratios, "in our CI"]) == {""}


def _ratio(target: str, status: str, in_ci, z_vs_planted: float, **values) -> dict:
    row = {"target": target, "kind": "odds_ratio", "description": "", "status": status, "note": "a reason",
           "published_in_ci": in_ci, "z": 0.5, "published": 1.3, "planted": 1.3, "estimate": 1.4, "ci_lower": 1.1,
           "ci_upper": 1.8, "z_vs_planted": z_vs_planted}  # fmt: skip
    return {**row, **values}


def test_explain_misses_names_each_kind_of_miss_and_says_when_there_is_none():
    ratios = pd.DataFrame([
        _ratio("risk:anxiolytics:gt1", "reproduced", True, 0.2),
        _ratio("risk:hypnotics:gt1", "direction only", True, 0.2),
        _ratio("risk:anxiolytics:1_5", "reproduced", False, 0.2, ci_lower=1.35),
        _ratio("prognosis:antidepressants", "reproduced", True, -1.7),
    ])  # fmt: skip
    lines = rep.explain_misses(ratios).splitlines()
    assert lines[0] == "Hypnotics & sedatives, >1 y (lagged): direction only (a reason)"
    assert lines[1].startswith(
        "Anxiolytics, 1-5 y: reproduced by the combined-SE rule (z +0.5), but the published 1.30"
    )
    assert lines[2] == "Antidepressants: estimate 1.40 lies -1.7 SE from the planted 1.30"
    assert len(lines) == 3
    assert rep.explain_misses(ratios.iloc[:1]).startswith("every ratio reproduced")


def test_the_notes_of_notebook_08_on_the_committed_results(report):
    card, verdicts = rep.split_report(report)
    assert rep.weakest_published_interval(card).startswith("weakest published interval: Hypnotics & sedatives, >1 y")
    assert rep.information_note(card).startswith("prognosis: our data carry ")
    assert rep.show_verdicts(verdicts).frame.columns.tolist() == [
        "Published finding",
        "Verdict",
        "Evidence",
        "After calibration",
        "Rule",
    ]
    after = rep.show_after_calibration(card).frame
    assert len(after) == 9 and after.columns[-2:].tolist() == ["After calibration", "Diagnostics"]
    assert after["After calibration"].iloc[-1].startswith("not calibrated")  # a hazard ratio
    assert len(rep.show_evalues(card).frame) == 9
    assert rep.show_information(card).frame.index[0] == "Anxiolytics, >1 y (lagged)"
    assert rep.show_distances(rep.distance_from_planted(card)).frame.columns[-2] == "z vs planted"


def test_planted_effect_modification_needs_a_truth_with_the_implied_estimands(truth):
    assert rep.planted_effect_modification(None) == "no planted truth (a real extract)"
    lines = rep.planted_effect_modification(truth).splitlines()
    assert [line.split(":")[0] for line in lines] == ["planted anxiolytics", "planted hypnotics",
                                                       "planted antidepressants"]  # fmt: skip
    young = float(np.exp(truth.implied_log_or("population_per_class_under_65", "anxiolytics_gt1").value))
    assert f"OR under 65 {young:.2f}" in lines[0]


def test_relatives_check_with_and_without_a_simulation_study(truth, replicates):
    without = rep.relatives_check(COMMITTED, truth, None)
    assert without.table is None and without.correlation is None
    assert without.text.endswith(
        "no simulation study or no relative comparisons: the independent-samples interval only"
    )
    found = rep.relatives_check(COMMITTED, truth, replicates)
    expected = float(rep.replicate_correlations(replicates)["correlation"].min())
    assert found.correlation == pytest.approx(expected)
    assert "relatives verdict: " in found.text and len(found.table.frame) == 6
    assert found.table.frame.columns[-1] == f"ratio (r = {expected:.2f})"


def test_the_rule_comparison_counts_the_changed_statuses(truth):
    same = rep.status_under_rules(COMMITTED, truth, z_limit=1.96, descriptive_tolerance=0.10)
    assert (same["status (stated rule)"] == same.iloc[:, -1]).all()
    assert (
        rep.show_status_changes(same).caption == f"Targets whose status changes: 0 of {len(same)} under the other rule"
    )
    strict = rep.status_under_rules(COMMITTED, truth, z_limit=0.0, descriptive_tolerance=0.0)
    changed = int((strict["status (stated rule)"] != strict.iloc[:, -1]).sum())
    assert changed > 0 and len(rep.show_status_changes(strict).frame) == changed


def test_assumptions_text_lists_the_assumptions_and_the_published_values():
    text = rep.assumptions_text()
    assert text.splitlines()[: len(rep.ASSUMPTIONS)] == [f"- {a}" for a in rep.ASSUMPTIONS]
    assert "\n\npublished values used: " in text


# -- notebook 09: the simulation study shown ----------------------------------------------------------------------


def test_family_performance_counts_the_estimators_and_passes(performance):
    table = rs.family_performance(performance)
    assert list(table.index) == [rs.FAMILY_NAMES[f] for f in performance["family"].unique()]
    assert table["estimators"].sum() == len(performance)
    assert table["coverage_ok"].sum() == performance["coverage_ok"].sum()


def test_flagged_estimators_are_those_outside_a_criterion(performance):
    flagged = rs.flagged_estimators(performance)
    assert len(flagged) == int((~(performance["coverage_ok"] & performance["bias_ok"])).sum())
    assert list(flagged.columns) == rs.FLAGGED_COLUMNS
    assert "  " not in "".join(flagged["estimator"])
    alpha = flagged[flagged["estimator"].str.endswith(" alpha")]
    # no comparison: no double space; the normal-outcome model's alpha is flagged (clipping), the censored model's not
    assert alpha["estimator"].tolist() == [
        "joint joint_model_normal ever all alpha",
        "joint joint_model_normal_robust ever all alpha",
    ]
    assert (
        rs.show_flagged(performance).caption == f"{len(flagged)} of {len(performance)} estimators outside a criterion"
    )


def _replicates(estimates: list[float], family: str = "risk") -> pd.DataFrame:
    return pd.DataFrame({
        "rep": range(len(estimates)), "seed": range(len(estimates)), "family": family, "comparison": "population",
        "model": "per_class", "exposure": "windows", "stratum": "all", "term": "anxiolytics_1_5",
        "estimate": estimates, "se": 0.1, "estimable": True, "reason": "",
    })  # fmt: skip


def test_draw_among_replicates_counts_the_replicates_as_large_or_larger():
    risk = pd.DataFrame({"comparison": ["population"], "model": ["per_class"], "adjustment": ["adjusted"],
                         "term": ["anxiolytics_1_5"], "estimable": [True], "log_or": [np.log(2.0)]})  # fmt: skip
    draws = _replicates([np.log(v) for v in (1.0, 1.5, 2.0, 2.5)])
    assert rs.draw_among_replicates(risk, draws) == (
        "committed estimate OR 2.00: 50.0% of 4 replicates are as large or larger (median OR 1.73)"
    )
    assert "no estimate" in rs.draw_among_replicates(risk.assign(estimable=False), draws)


def test_replicate_timings_say_when_there_are_none(replicates):
    assert rs.replicate_timings(_replicates([0.1])) == "no timings stored"
    assert rs.replicate_timings(replicates).splitlines()[-1].startswith("total per replicate: ")


def test_fewer_replicates_widen_the_monte_carlo_errors(replicates, performance, truth):
    fewer = rs.fewer_replicates(replicates, performance, truth, 50)
    assert fewer.kept == 50 and fewer.expected_ratio == pytest.approx(np.sqrt(1000 / 50))
    assert set(fewer.subset["n_estimable"]) <= set(range(51))
    assert list(fewer.side.index) == list(rs.family_performance(performance).index)
    assert (fewer.side["coverage MCSE ratio"] > 1.5).all()
    assert rs.show_fewer_replicates(fewer).caption.startswith("Medians per family: all replicates vs the first 50")


def test_describe_replicates_counts_failures_and_seeds():
    frame = pd.concat([_replicates([0.1, 0.2]), _replicates([0.0], family="failure").assign(rep=2, seed=7)])
    assert rs.describe_replicates(frame) == "3 replicates, 1 failed, no case count; seeds 3 distinct"


# -- the figures --------------------------------------------------------------------------------------------------


def test_the_figures_of_notebooks_08_and_09(report, replicates, performance):
    card, _ = rep.split_report(report)
    fig = published_vs_ours_figure(card)
    assert len(fig.axes) == 2 and tuple(fig.get_size_inches()) == (9.5, 8.0)
    plt.close(fig)
    fig = coverage_overview_figure(performance)
    assert fig.axes[0].get_title().startswith("Coverage of the 95% intervals")
    plt.close(fig)
    fig = plot_selected_zips(replicates, performance)
    titles = [ax.get_title().split("\n")[0] for ax in fig.axes if ax.get_visible()]
    assert titles == [p[6] for p in ZIP_PANELS]
    plt.close(fig)


def test_notebooks_08_and_09_write_no_results_file():
    import nbformat

    for name in ("08_reproduction_report", "09_simulation_study"):
        nb = nbformat.read(Path(paths.ROOT) / "notebooks" / f"{name}.ipynb", as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        for call in ("write_estimates", "write_summary", "to_csv(", "COMMITTED_RESULTS_DIR / ESTIMATES_FILE"):
            assert call not in code, (name, call)
