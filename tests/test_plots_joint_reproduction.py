"""Smoke tests of the figures of notebooks 07-09 (joint model, reproduction report, simulation study).

Each draws on small hand-made frames and checks what a reader relies on: odds and hazard ratios
on the log-ratio axis with every drawn value inside its limits, published = black open square,
planted = magenta star (and no star without a planted value; beside its estimate, not on it), a
target or class without an estimate says "not estimable", no legend over the data, correct English
ordinals, no figure wider than 12 inches, readable labels instead of codes.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.colors as mcolors
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection

from alsmeds.plots import MAX_FIGURE_WIDTH, save_figure, use_style
from alsmeds.plots import joint as jplots
from alsmeds.plots import simstudy as splots
from alsmeds.plots.palette import (
    CLASS_COLOURS,
    INTERVAL_COVERS_COLOUR,
    INTERVAL_MISSES_COLOUR,
    PUBLISHED_COLOUR,
    ROLE_COLOURS,
    SUMMARY_COLOUR,
    TRUTH_COLOUR,
    TRUTH_MARKER,
)
from alsmeds.plots.reproduction import plot_published_vs_ours, plot_study_summary, ratio_target_name


@pytest.fixture(autouse=True)
def _style():
    use_style()
    yield
    plt.close("all")


def _card(planted: bool = True) -> pd.DataFrame:
    """A small scorecard: two odds ratios, two hazard ratios (one not estimable, one without a published CI), counts."""
    nan = np.nan
    rows = [
        ("risk:anxiolytics:gt1", "odds_ratio", 1.34, 1.12, 1.60, 1.34, 1.47, 1.23, 1.75, "reproduced", ""),
        ("risk:hypnotics:0_1", "odds_ratio", 6.10, 3.77, 9.88, 6.28, 12.5, 7.0, 22.0, "direction only", ""),
        ("prognosis:anxiolytics", "hazard_ratio", 1.52, 1.12, 2.05, 1.52, 1.50, 1.26, 1.80, "reproduced", ""),
        ("prognosis:hypnotics", "hazard_ratio", 1.23, nan, nan, 1.23, nan, nan, nan, "not estimable",
         "not estimable: no event among users"),
        ("count:cases", "count", 1057, nan, nan, 1057, 1057, nan, nan, "reproduced", ""),
        ("count:siblings", "count", 1418, nan, nan, 1418, nan, nan, nan, "not estimable", ""),
    ]  # fmt: skip
    columns = ["target", "kind", "published", "published_lower", "published_upper", "planted", "estimate",
               "ci_lower", "ci_upper", "status", "note"]  # fmt: skip
    card = pd.DataFrame(rows, columns=columns)
    if not planted:
        card["planted"] = np.nan
    return card


def _texts(fig: plt.Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _star_points(ax: plt.Axes) -> np.ndarray:
    """(x, y) of every magenta point drawn by scatter on ``ax``."""
    found = [
        np.asarray(c.get_offsets(), float)
        for c in ax.collections
        if isinstance(c, PathCollection)
        and len(c.get_offsets())
        and len(c.get_facecolor())
        and mcolors.same_color(c.get_facecolor()[0], TRUTH_COLOUR)
    ]
    return np.concatenate(found) if found else np.empty((0, 2))


def _star_offsets(ax: plt.Axes) -> np.ndarray:
    """x of every magenta point drawn by scatter on ``ax``."""
    return _star_points(ax)[:, 0]


def _marker_points(ax: plt.Axes, markers: set[str]) -> np.ndarray:
    """(x, y) of every line point drawn with one of ``markers`` (the estimates of a forest plot)."""
    found = [np.column_stack([line.get_xdata(), line.get_ydata()]) for line in ax.lines if line.get_marker() in markers]
    return np.concatenate(found).astype(float) if found else np.empty((0, 2))


def _inside(ax: plt.Axes, values) -> bool:
    lo, hi = ax.get_xlim()
    return all(lo <= v <= hi for v in values if np.isfinite(v))


def _forest_axis(fig: plt.Figure) -> plt.Axes:
    return next(ax for ax in fig.axes if ax.get_xscale() == "log")


@pytest.mark.parametrize("planted", [True, False])
def test_study_summary_is_one_slide_with_every_estimate_on_a_log_axis(planted, tmp_path):
    card = _card(planted)
    fig = plot_study_summary(card)
    assert fig.get_figwidth() <= MAX_FIGURE_WIDTH
    assert 1.6 <= fig.get_figwidth() / fig.get_figheight() <= 1.9, "16:9-ish"
    ax = _forest_axis(fig)
    ratios = card[card["kind"].isin(["odds_ratio", "hazard_ratio"])]
    drawn = [*ratios["published"], *ratios["published_lower"], *ratios["published_upper"], *ratios["estimate"],
             *ratios["ci_lower"], *ratios["ci_upper"], *ratios["planted"]]  # fmt: skip
    assert _inside(ax, drawn)
    assert [t.get_text() for t in ax.get_yticklabels()] == [ratio_target_name(t) for t in ratios["target"]]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("published" in t for t in labels)
    assert any("planted" in t for t in labels) == planted
    assert len(_star_offsets(ax)) == (4 if planted else 0)  # the not-estimable target keeps its planted star
    texts = _texts(fig)
    assert any(t.startswith("  not estimable") and "no event among users" in t for t in texts)
    assert any("1,057 ALS cases" in t for t in texts), "design counts from the scorecard"
    assert any("full siblings" in t and "1,418" in t for t in texts), "a missing count falls back to the published"
    assert "n.e." in texts and "12.50" in texts
    assert save_figure(fig, "summary", tmp_path).is_file()


def test_study_summary_survives_a_scorecard_without_estimates():
    card = _card(planted=False).assign(estimate=np.nan, ci_lower=np.nan, ci_upper=np.nan, status="not estimable")
    fig = plot_study_summary(card)
    ax = _forest_axis(fig)
    assert sum("not estimable" in t for t in _texts(fig)) == 4
    assert _inside(ax, card.loc[card["kind"] != "count", "published"])


def test_published_vs_ours_panels_use_readable_labels_and_the_log_ratio_axis():
    card = _card()
    fig, axes = plt.subplots(2, 1, figsize=(9, 6))
    plot_published_vs_ours(card, axes=axes)
    for ax, kind in zip(axes, ["odds_ratio", "hazard_ratio"], strict=True):
        assert ax.get_xscale() == "log"
        rows = card[card["kind"] == kind]
        assert _inside(ax, [*rows["published"], *rows["estimate"], *rows["ci_upper"], *rows["planted"]])
        ticks = [t.get_text() for t in ax.get_yticklabels()]
        assert not any("gt1" in t or "0_1" in t for t in ticks)
    assert "Hypnotics & sedatives, 0-1 y  (direction only)" in [t.get_text() for t in axes[0].get_yticklabels()]
    assert any("not estimable" in t.get_text() for t in axes[1].texts)


def _lane_gaps(ax: plt.Axes) -> list[float]:
    """Vertical distance of every planted star from the nearest estimate dot (magenta scatter vs 'o' markers)."""
    stars = [
        y
        for c in ax.collections
        if isinstance(c, PathCollection)
        and len(c.get_offsets())
        and mcolors.same_color(c.get_facecolor()[0], TRUTH_COLOUR)
        for y in c.get_offsets()[:, 1]
    ]
    dots = [float(line.get_ydata()[0]) for line in ax.lines if line.get_marker() == "o" and len(line.get_ydata())]
    return [min(abs(y - d) for d in dots) for y in stars] if dots else []


def test_planted_stars_sit_beside_the_estimates_not_on_them():
    card = _card()
    fig, axes = plt.subplots(2, 1, figsize=(9, 6))
    plot_published_vs_ours(card, axes=axes)
    gaps = [g for ax in axes for g in _lane_gaps(ax)]
    assert gaps and min(gaps) >= 0.2, "a star drawn on top of an estimate hides it"
    summary = _forest_axis(plot_study_summary(card))
    assert min(_lane_gaps(summary)) >= 0.2


def _estimates() -> pd.DataFrame:
    rows = []
    for k, hr in (("anxiolytics", 1.5), ("hypnotics", 1.2)):
        for source, shift in (("joint", 1.0), ("two_stage", 0.97), ("cox", 1.05)):
            v = hr * shift
            rows.append({"drug_class": k, "source": source, "log_hr": np.log(v), "se": 0.1, "hazard_ratio": v,
                         "ci_lower": v / 1.2, "ci_upper": v * 1.2, "estimable": True, "reason": ""})  # fmt: skip
    rows.append({"drug_class": "antidepressants", "source": "joint", "hazard_ratio": np.nan, "ci_lower": np.nan,
                 "ci_upper": np.nan, "estimable": False, "reason": "no event among users"})  # fmt: skip
    return pd.DataFrame(rows)


def test_prognosis_forest_tells_sources_apart_by_marker_and_marks_the_planted_effect():
    published = {"anxiolytics": (1.52, 1.12, 2.05), "hypnotics": (1.23, None, None)}
    ax = jplots.plot_prognosis_forest(_estimates(), published, {"anxiolytics": 1.52, "hypnotics": 3.2})
    assert ax.get_xscale() == "log"
    assert _inside(ax, [1.5 * 1.05 * 1.2, 1.2 * 0.97 / 1.2, 2.05, 3.2]), "planted values are inside the axis"
    assert sorted(_star_offsets(ax)) == [1.52, 3.2]
    markers = {line.get_marker() for line in ax.lines if line.get_marker() not in ("None", None, "")}
    assert {"o", "^", "v", "s"} <= markers
    assert any("not estimable: no event among users" in t.get_text() for t in ax.texts)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "published",
        "planted direct effect (synthetic data; star above the joint-model row)",
    ]
    assert "Published joint model (CI not available to us)" in [t.get_text() for t in ax.get_yticklabels()]
    # source colours are the class's: no grey or role colour stands for a kind of estimate
    colours = {mcolors.to_hex(line.get_color()) for line in ax.lines if line.get_marker() in ("o", "^", "v")}
    assert colours <= {CLASS_COLOURS["anxiolytics"], CLASS_COLOURS["hypnotics"]}


def test_prognosis_forest_draws_the_star_beside_an_estimate_on_the_planted_value():
    """A joint-model estimate equal to its planted value stays visible: the star sits above its row, not on it."""
    estimates = _estimates()
    ax = jplots.plot_prognosis_forest(estimates, None, {"anxiolytics": 1.5, "hypnotics": 1.2})
    joint = _marker_points(ax, {jplots.SOURCE_MARKERS["joint"]})
    stars = _star_points(ax)
    assert len(stars) == len(joint) == 2
    for (sx, sy), (jx, jy) in zip(sorted(stars.tolist()), sorted(joint.tolist()), strict=True):
        assert sx == pytest.approx(jx), "same hazard ratio"
        assert sy - jy == pytest.approx(jplots.TRUTH_ROW_OFFSET), "the star just above the estimate's row"
    rows = sorted({y for _, y in _marker_points(ax, {"o", "^", "v", "s"}).tolist()})
    gaps = np.diff(rows)
    assert jplots.TRUTH_ROW_OFFSET < gaps.min() / 2, "closer to its own row than to the row above"


def test_prognosis_forest_without_truth_has_no_star():
    ax = jplots.plot_prognosis_forest(_estimates(), None, None)
    assert len(_star_offsets(ax)) == 0
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["published"]


def test_dynamic_predictions_tell_landmarks_apart_by_line_style_in_the_patients_colour():
    visits = pd.DataFrame({"months": [0.0, 3.0, 6.0, 9.0], "score": [40.0, 36.0, 30.0, 25.0]})
    curve = pd.DataFrame({"time": [0.0, 12.0], "survival": [1.0, 0.6]})
    patients = [
        {"title": "user", "visits": visits, "end": 10.0, "status": "death", "colour": CLASS_COLOURS["antidepressants"],
         "curves": {0.0: curve, 3.0: curve.assign(time=curve["time"] + 3), 6.0: curve.assign(time=curve["time"] + 6)}},
        {"title": "non-user", "visits": visits, "end": 12.0, "status": "censored", "curves": {0.0: curve}},
    ]  # fmt: skip
    axes = jplots.plot_dynamic_predictions(patients)
    assert axes.shape == (2, 2)
    assert axes[0, 0].figure.get_figwidth() <= MAX_FIGURE_WIDTH
    curves = [line for line in axes[1, 0].lines if line.get_label().startswith("month")]
    assert len({line.get_linestyle() for line in curves}) == 3
    assert {mcolors.to_hex(line.get_color()) for line in curves} == {CLASS_COLOURS["antidepressants"]}
    non_user = [line for line in axes[1, 1].lines if line.get_label().startswith("month")]
    assert mcolors.to_hex(non_user[0].get_color()) == SUMMARY_COLOUR
    assert any("censored" in t.get_text() for t in axes[1, 1].texts)
    # each legend sits outside the data: below its panel, not over a curve
    fig = axes[0, 0].figure
    renderer = fig.canvas.get_renderer()
    for ax in axes[1]:
        legend = ax.get_legend()
        assert legend is not None and legend.get_title().get_text() == "prediction from"
        assert legend.get_window_extent(renderer).y1 <= ax.get_window_extent(renderer).y0


def test_two_stage_contrast_marks_the_planted_alpha_with_stars():
    table = pd.DataFrame({"data": ["all", "all"], "method": ["joint", "two_stage"], "estimate": [-0.08, -0.06],
                          "ci_lower": [-0.09, -0.07], "ci_upper": [-0.07, -0.05]})  # fmt: skip
    ax = jplots.plot_two_stage_contrast(table, truth=-0.07)
    assert list(_star_offsets(ax)) == [-0.07, -0.07]
    rows = sorted(_marker_points(ax, {"o", "^"})[:, 1])
    assert sorted(_star_points(ax)[:, 1]) == pytest.approx([r + jplots.TRUTH_ROW_OFFSET for r in rows])
    ax = jplots.plot_two_stage_contrast(table)
    assert len(_star_offsets(ax)) == 0 and ax.get_legend() is None


@pytest.mark.parametrize(
    ("n", "text"),
    [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (10, "10th"), (11, "11th"), (12, "12th"), (13, "13th"),
     (21, "21st"), (22, "22nd"), (23, "23rd"), (41, "41st"), (42, "42nd"), (53, "53rd"), (60, "60th"),
     (100, "100th"), (101, "101st"), (111, "111th"), (112, "112th"), (113, "113th"), (0, "0th")],
)  # fmt: skip
def test_ordinal_suffixes_are_english(n, text):
    assert splots.ordinal(n) == text


def _replicates(n: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(1)
    est = np.log(1.3) + rng.normal(0, 0.1, n)
    replicates = pd.DataFrame({"family": "risk", "comparison": "population", "model": "per_class",
                               "exposure": "lagged", "stratum": "all", "term": "anxiolytics_gt1", "rep": range(n),
                               "estimate": est, "se": 0.1, "estimable": True})  # fmt: skip
    published = pd.DataFrame([
        {"target": "risk:anxiolytics:gt1", "family": "risk", "model": "per_class", "exposure": "lagged",
         "term": "anxiolytics_gt1", "published": 1.34, "published_lower": 1.12, "published_upper": 2.6,
         "estimand_ratio": 1.3, "published_percentile": 41.2},
        {"target": "prognosis:hypnotics", "family": "joint", "model": "joint_model", "exposure": "ever",
         "term": "surv:hypnotics", "published": 1.23, "published_lower": np.nan, "published_upper": np.nan,
         "estimand_ratio": 1.23, "published_percentile": np.nan},
    ])  # fmt: skip
    return replicates, published


def test_estimate_distributions_are_facets_on_the_log_ratio_axis():
    replicates, published = _replicates()
    fig = splots.plot_estimate_distributions(replicates, published)
    assert fig.get_figwidth() <= MAX_FIGURE_WIDTH
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 2
    first, second = visible
    assert first.get_xscale() == "log" and _inside(first, [1.0, 1.12, 2.6, 1.3, *np.exp(replicates["estimate"])])
    assert first.get_title().startswith("Anxiolytics, >1 y (lagged)")
    assert first.get_title().endswith("published value at the 41st percentile")
    assert len(first.patches) > 5, "a histogram of the replicates"
    assert list(_star_offsets(first)) == [1.3]
    assert any("no replicate estimates" in t.get_text() for t in second.texts)
    published_marks = [
        line
        for line in first.lines
        if line.get_marker() == "s" and mcolors.same_color(line.get_color(), PUBLISHED_COLOUR)
    ]
    assert published_marks and published_marks[0].get_markerfacecolor() == "white"


def test_zip_plot_colours_are_their_own():
    replicates, _ = _replicates(200)
    ax = splots.plot_zip(replicates["estimate"], replicates["se"], np.log(1.3))
    colours = {mcolors.to_hex(c.get_color()[0]) for c in ax.collections if hasattr(c, "get_segments")}
    assert INTERVAL_COVERS_COLOUR in colours and INTERVAL_MISSES_COLOUR in colours
    used = {INTERVAL_COVERS_COLOUR, INTERVAL_MISSES_COLOUR}
    assert not used & ({*CLASS_COLOURS.values(), *ROLE_COLOURS.values(), SUMMARY_COLOUR, TRUTH_COLOUR})
    assert len(_star_offsets(ax)) == 1 and ax.collections[-1].get_paths()  # the estimand's star
    assert TRUTH_MARKER == "*"


def test_coverage_overview_tells_families_apart_without_class_colours():
    performance = pd.DataFrame({"family": ["risk", "risk", "cox", "joint"], "coverage": [0.95, 0.93, 0.9, 0.2],
                                "coverage_mcse": 0.014, "n_estimable": 250})  # fmt: skip
    ax = splots.plot_coverage_overview(performance)
    drawn = [line for line in ax.lines if line.get_marker() in splots.FAMILY_MARKERS.values()]
    assert {line.get_marker() for line in drawn} == {"o", "s", "D"}
    assert not {mcolors.to_hex(line.get_color()) for line in drawn} & {*CLASS_COLOURS.values(), *ROLE_COLOURS.values()}
    assert ax.get_ylim()[0] <= 0.2


def test_table_beside_references_says_a_missing_published_ci_is_not_available_to_us():
    """The hypnotics' published 95% CI is not in our sources: the table says so, not that it was never published."""
    from alsmeds.reporting.joint_results import beside_references

    table = beside_references(_estimates(), {"anxiolytics": (1.52, 1.12, 2.05), "hypnotics": (1.23, None, None)})
    assert table.loc["anxiolytics", "published 95% CI"] == "1.12-2.05"
    assert table.loc["hypnotics", "published 95% CI"] == "not available to us"
    assert not table.astype(str).apply(lambda c: c.str.contains("not published")).any().any()
