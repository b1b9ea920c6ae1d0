"""Forest plots: log-ratio axis, limits that hold every interval, the OR (95% CI) column, legends, width."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

from alsmeds.formatting import format_ratio
from alsmeds.plots import MAX_FIGURE_WIDTH, use_style
from alsmeds.plots.forest import (
    age_strata_style,
    interaction_notes,
    plot_age_strata,
    plot_forest,
    plot_truth_vs_estimates,
    plot_variants,
)
from alsmeds.plots.palette import CLASS_COLOURS, COMPARISON_COLOURS, STRATUM_FILLED, STRATUM_MARKERS, TRUTH_COLOUR


@pytest.fixture(autouse=True)
def _style_and_close():
    use_style()
    yield
    plt.close("all")


def _estimates(groups=("population", "sibling"), group_by="comparison") -> pd.DataFrame:
    rows = []
    for g_i, g in enumerate(groups):
        for k_i, k in enumerate(("anxiolytics", "hypnotics")):
            for w_i, w in enumerate(("0_1", "gt5")):
                or_ = 1.1 + 0.3 * k_i + 2.5 * (w == "0_1") + 0.1 * g_i
                rows.append(
                    {
                        group_by: g,
                        "drug_class": k,
                        "window": w,
                        "odds_ratio": or_,
                        "ci_lower": or_ / 1.5,
                        "ci_upper": or_ * 1.5 + 4 * (w_i == 0 and k_i == 1),
                        "estimable": True,
                    }
                )
    return pd.DataFrame(rows)


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def test_forest_draws_on_a_log_axis_that_holds_every_interval_and_writes_the_values():
    est = _estimates()
    ax = plot_forest(est)
    lo, hi = ax.get_xlim()
    assert ax.get_xscale() == "log"
    assert lo <= est["ci_lower"].min() and hi >= est["ci_upper"].max()
    texts = _texts(ax)
    assert "OR (95% CI)" in texts
    for r in est.itertuples():
        assert format_ratio(r.odds_ratio, r.ci_lower, r.ci_upper) in texts
    assert ax.figure.get_figwidth() <= MAX_FIGURE_WIDTH
    assert min(t.get_fontsize() for t in ax.texts) >= 9, "text readable at 12 in"


def test_forest_values_take_the_colour_of_their_group_and_the_legend_names_the_comparisons():
    ax = plot_forest(_estimates())
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["Population controls", "Siblings"]
    sibling_text = [t for t in ax.texts if t.get_text().startswith("1.20")]
    assert sibling_text and to_hex(sibling_text[0].get_color()) == COMPARISON_COLOURS["sibling"]


def test_a_term_that_cannot_be_estimated_is_written_not_drawn():
    est = _estimates()
    est.loc[0, ["odds_ratio", "ci_lower", "ci_upper"]] = np.nan
    est.loc[0, "estimable"] = False
    ax = plot_forest(est)
    assert "not estimable" in _texts(ax)
    assert np.isfinite(ax.get_xlim()).all()


def test_strata_take_the_class_colour_and_differ_by_marker_and_fill():
    est = _estimates(groups=("<65", "65+"), group_by="stratum")
    markers = {"<65": STRATUM_MARKERS["young"], "65+": STRATUM_MARKERS["old"]}
    filled = {"<65": STRATUM_FILLED["young"], "65+": STRATUM_FILLED["old"]}
    ax = plot_forest(est, group_by="stratum", markers=markers, filled=filled)
    points = [line for line in ax.get_lines() if line.get_marker() in markers.values() and len(line.get_xdata()) == 1]
    assert {to_hex(p.get_color()) for p in points} == {CLASS_COLOURS["anxiolytics"], CLASS_COLOURS["hypnotics"]}
    old = [p for p in points if p.get_marker() == STRATUM_MARKERS["old"]]
    assert old and all(p.get_markerfacecolor() == "white" for p in old), "65+ drawn open"
    legend = ax.get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["<65", "65+"]


def test_row_notes_add_the_interaction_p_value_to_the_row_label():
    tests = pd.DataFrame(
        {
            "drug_class": ["anxiolytics", "hypnotics"],
            "window": ["gt1", "gt1"],
            "lr_p": [0.1834, 0.0001],
            "estimable": [True, True],
        }
    )
    notes = interaction_notes(tests)
    assert notes == {("anxiolytics", "gt1"): "age × use: p = 0.18", ("hypnotics", "gt1"): "age × use: p < 0.01"}
    tests.loc[1, "estimable"] = False
    assert interaction_notes(tests)[("hypnotics", "gt1")] == "age × use: not estimable"
    est = _estimates().assign(window="gt1").drop_duplicates(["comparison", "drug_class"])
    ax = plot_forest(est, row_notes=notes)
    assert any("age × use: p = 0.18" in t.get_text() for t in ax.get_yticklabels())


@pytest.mark.parametrize("groups", [("population", "sibling"), ("population", "sibling", "spouse")])
def test_truth_stars_sit_just_above_their_groups_estimates_on_one_shared_axis(groups):
    est = _estimates(groups=groups)
    truth = est[["comparison", "drug_class", "window"]].assign(odds_ratio=est["odds_ratio"])  # on the estimates
    ax = plot_truth_vs_estimates(est, truth)
    stars = [c for c in ax.collections if len(c.get_facecolor()) and to_hex(c.get_facecolor()[0]) == TRUTH_COLOUR]
    assert stars and len(stars[0].get_offsets()) == len(truth)
    star_y = np.sort(np.asarray(stars[0].get_offsets())[:, 1])
    point_y = np.sort([line.get_ydata()[0] for line in ax.get_lines() if line.get_marker() == "o"])
    shift = star_y - point_y  # each star above its own estimate ...
    assert (shift > 0).all() and np.allclose(shift, shift[0])
    others = np.abs(star_y[:, None] - point_y[None, :])
    np.fill_diagonal(others, np.inf)
    assert (shift < others.min(axis=1)).all(), "... nearer to it than to any other estimate"
    # ... and far enough that neither marker hides the other (a star is about 9 points across, a dot 6)
    points_per_row_unit = ax.get_window_extent().height / (ax.get_ylim()[1] - ax.get_ylim()[0]) * 72 / ax.figure.dpi
    star_points = np.sqrt(stars[0].get_sizes()[0])
    assert shift[0] * points_per_row_unit >= 0.5 * (star_points + 6)
    assert "planted estimand (just above its group's estimate)" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert ax.figure.get_figwidth() <= MAX_FIGURE_WIDTH
    with pytest.raises(ValueError, match="comparison"):
        plot_truth_vs_estimates(est, truth.drop(columns="comparison"))


def test_planted_values_widen_the_axis():
    est = _estimates()
    truth = est[["comparison", "drug_class", "window"]].assign(odds_ratio=40.0)
    ax = plot_truth_vs_estimates(est, truth)
    assert ax.get_xlim()[1] >= 40.0, "limits include the planted values"


def test_variants_are_told_apart_by_marker_in_the_class_colour_main_filled():
    est = _estimates(groups=("main: 1-year lag", "2-year lag"), group_by="variant")
    est.loc[est["drug_class"] == "hypnotics", "drug_class"] = "ppis"  # the negative control has a colour too
    ax = plot_variants(est, order=["main: 1-year lag", "2-year lag"])
    points = [line for line in ax.get_lines() if line.get_marker() in ("o", "s") and len(line.get_xdata()) == 1]
    assert {to_hex(p.get_color()) for p in points} == {CLASS_COLOURS["anxiolytics"], CLASS_COLOURS["ppis"]}
    assert all((p.get_markerfacecolor() == "white") == (p.get_marker() == "s") for p in points), "main filled"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["main: 1-year lag", "2-year lag"]
    assert any("PPIs (negative control)" in t.get_text() for t in ax.get_yticklabels())
    with pytest.raises(ValueError, match="variants"):
        plot_variants(est, order=list("abcdef"))


def test_age_strata_style_names_the_strata_of_the_cutoff():
    markers, filled, labels = age_strata_style(70)
    assert list(markers) == ["pooled", "<70", "70+"]
    assert markers["<70"] == STRATUM_MARKERS["young"] and markers["70+"] == STRATUM_MARKERS["old"]
    assert filled["70+"] == STRATUM_FILLED["old"]
    assert labels == {"pooled": "all ages", "<70": "case aged <70", "70+": "case aged 70+"}


def test_plot_age_strata_draws_one_comparison_pooled_and_by_stratum_with_the_interaction_p():
    strata = _estimates(groups=("all", "<65", "65+"), group_by="stratum").assign(stratified_by="age")
    others = [
        strata.assign(comparison="population"),
        strata.assign(comparison="sibling", odds_ratio=30.0, ci_lower=20.0, ci_upper=40.0),  # not drawn
        strata.assign(comparison="population", stratified_by="sex", odds_ratio=50.0, ci_lower=40.0, ci_upper=60.0),
    ]
    estimates = pd.concat(others, ignore_index=True)
    tests = pd.DataFrame(
        {
            "comparison": ["population"] * 2 + ["sibling"] * 2,
            "stratified_by": "age",
            "drug_class": ["anxiolytics", "hypnotics"] * 2,
            "window": "0_1",
            "lr_p": [0.1834, 0.0001, 0.5, 0.5],
            "estimable": True,
        }
    )
    ax = plot_age_strata(estimates, 65, tests=tests)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["all ages", "case aged <65", "case aged 65+"]
    assert ax.get_xlim()[1] < 20, "only the population comparison's age strata are drawn"
    drawn = {line.get_marker() for line in ax.get_lines() if len(line.get_xdata()) == 1}  # and the caps "|"
    assert {STRATUM_MARKERS[s] for s in ("pooled", "young", "old")} <= drawn
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert any("age × use: p = 0.18" in t for t in labels) and any("age × use: p < 0.01" in t for t in labels)
