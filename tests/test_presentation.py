"""The shared presentation layer: the log-ratio axis, the palette, readable labels and HTML tables."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from alsmeds import formatting, labels
from alsmeds.plots import MAX_FIGURE_WIDTH, palette, save_figure, use_style
from alsmeds.plots.axes import log_ratio_axis, ratio_limits
from alsmeds.reporting.display import readable_frame, show_table


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_ratio_limits_cover_every_finite_value_and_the_usual_range():
    lo, hi = ratio_limits([1.2, 3.7, np.nan, np.inf, -1.0, 0.0, None])
    assert lo <= 0.8 and hi >= 3.7
    lo, hi = ratio_limits([0.001, 500.0])
    assert (lo, hi) == (0.1, 60.0), "an interval of a tiny extract is capped"


@pytest.mark.parametrize("axis", ["x", "y"])
def test_log_ratio_axis_is_log_scaled_with_plain_ticks_and_a_null_line(axis):
    fig, ax = plt.subplots()
    lo, hi = log_ratio_axis(ax, [0.6, 1.4, 6.2], axis=axis, label="Odds ratio")
    scale = ax.get_xscale() if axis == "x" else ax.get_yscale()
    ticks = ax.get_xticks() if axis == "x" else ax.get_yticks()
    labels_ = [t.get_text() for t in (ax.get_xticklabels() if axis == "x" else ax.get_yticklabels())]
    assert scale == "log"
    assert lo < 0.6 and hi > 6.2
    assert 1 in list(ticks) and "1" in labels_
    assert all(text.replace(".", "").isdigit() for text in labels_), f"plain numbers, not powers: {labels_}"
    assert all(lo <= t <= hi for t in ticks)
    lines = [line for line in ax.get_lines() if (line.get_xdata() if axis == "x" else line.get_ydata())[0] == 1.0]
    assert lines, "a reference line at 1"
    assert (ax.get_xlabel() if axis == "x" else ax.get_ylabel()) == "Odds ratio"


def test_log_ratio_axis_thins_crowded_ticks_but_keeps_one():
    fig, ax = plt.subplots()
    log_ratio_axis(ax, [0.11, 49.0], max_ticks=5)
    ticks = list(ax.get_xticks())
    assert len(ticks) <= 5 and 1 in ticks


def test_log_ratio_axis_rejects_an_unknown_axis():
    fig, ax = plt.subplots()
    with pytest.raises(ValueError, match="axis"):
        log_ratio_axis(ax, [1.0], axis="z")


def test_every_colour_has_one_meaning():
    """No colour of a class or a role is reused for any other meaning in the palette."""
    meaning_of: dict[str, str] = {}
    groups = {
        "role": palette.ROLE_COLOURS,
        "class": palette.CLASS_COLOURS,
        "event": palette.EVENT_COLOURS,
        "reference": {"published": palette.PUBLISHED_COLOUR, "truth": palette.TRUTH_COLOUR},
        "other": {
            "non_user": palette.NON_USER_COLOUR,
            "neutral": palette.NEUTRAL_COLOUR,
            "summary": palette.SUMMARY_COLOUR,
        },
    }
    for group, colours in groups.items():
        for name, colour in colours.items():
            key = colour.lower()
            if key in meaning_of and group in ("role", "class"):
                pytest.fail(f"{group} {name} shares {colour} with {meaning_of[key]}")
            if key in meaning_of and meaning_of[key].split(":")[0] in ("role", "class"):
                pytest.fail(f"{group} {name} reuses {colour} of {meaning_of[key]}")
            meaning_of.setdefault(key, f"{group}:{name}")
    assert palette.COMPARISON_COLOURS["sibling"] == palette.ROLE_COLOURS["sibling"]


def test_save_figure_refuses_a_figure_too_wide_for_a_notebook(tmp_path):
    use_style()
    fig = plt.figure(figsize=(MAX_FIGURE_WIDTH + 1, 4))
    with pytest.raises(ValueError, match="wide"):
        save_figure(fig, "too_wide", tmp_path)
    assert not list(tmp_path.iterdir()), "nothing half-written"
    fig = plt.figure(figsize=(MAX_FIGURE_WIDTH, 4))
    assert save_figure(fig, "fits", tmp_path).is_file()


def test_labels_translate_codes_and_make_unknown_codes_legible():
    assert labels.label(labels.WINDOW_LONG_NAMES, "gt1").startswith("first use >1 year")
    assert labels.label(labels.CLASS_NAMES, "proton_pump_inhibitors") == "proton pump inhibitors"


def _table2_like() -> pd.DataFrame:
    index = pd.MultiIndex.from_tuples(
        [("anxiolytics", "gt1"), ("anxiolytics", "0_1"), ("hypnotics", "gt5")], names=["drug_class", "window"]
    )
    return pd.DataFrame(
        {"crude": ["1.50 (1.2-1.9)", "2.1 (1.1-4.0)", "n.e."], "odds_ratio": [1.5, 2.123, np.nan]}, index=index
    )


def test_readable_frame_replaces_codes_in_index_columns_and_headers():
    out = readable_frame(_table2_like())
    assert list(out.index.names) == ["Drug class", "Exposure"]
    assert out.index.get_level_values(0)[0] == "Anxiolytics"
    assert out.index.get_level_values(1)[0] == "first use >1 year before (lagged)"
    assert list(out.columns) == ["Crude OR (95% CI)", "OR"]
    flat = readable_frame(pd.DataFrame({"comparison": ["sibling"], "window": ["1_5"], "estimable": [False]}))
    assert flat.iloc[0].tolist() == ["Siblings", "first use 1-5 years before", False]


def test_show_table_is_deterministic_html_with_a_caption_and_readable_text():
    table = show_table(_table2_like(), caption="Table 2 <population>", digits=2)
    html = table._repr_html_()
    assert html == show_table(_table2_like(), caption="Table 2 <population>")._repr_html_()
    assert "<caption>Table 2 &lt;population&gt;</caption>" in html
    assert "2.12" in html and "2.123" not in html
    assert "gt1" not in html and "nan" not in html.lower().replace("n.e.", "")
    text = repr(table)
    assert text.splitlines()[0] == "Table 2 <population>" and "Anxiolytics" in text


def test_format_ratio_is_the_one_printed_form_of_a_ratio_and_its_interval():
    assert formatting.format_ratio(1.2468, 1.0443, 1.4865) == "1.25 (1.04-1.49)"
    assert formatting.format_ratio(float("nan"), float("nan"), float("nan")) == "not estimable"


NEAR_ZERO = (-1e-17, -0.0004, -0.0, 0.0, 1e-17)


@pytest.mark.parametrize("value", NEAR_ZERO)
def test_a_number_that_rounds_to_zero_prints_without_a_sign_on_every_path(value):
    """The BLAS kernel decides the sign of a sum that is zero up to rounding: no printed form may show it."""
    assert formatting.fixed(value) == "0.00"
    assert formatting.fixed(value, 1) == "0.0"
    assert formatting.signed(value, 1) == "0.0"
    assert formatting.signed(value, 3) == "0.000"  # -0.0004 rounds to a zero: no sign
    assert formatting.percent(value) == "0%"
    assert formatting.rounded(value, 2) == 0.0 and str(formatting.rounded(value, 2)) == "0.0"
    frame = pd.DataFrame({"bias": [value], "z": [value]}, index=["term"])
    table = show_table(frame, digits=2)
    assert "-0" not in repr(table) and "-0" not in table._repr_html_()
    assert "0.00" in repr(table)
    assert formatting.format_ratio(1.0 + value, 1.0 + value, 1.0 + value) == "1.00 (1.00-1.00)"
    rounded_frame = formatting.rounded(frame, 2)
    assert not np.signbit(rounded_frame.to_numpy()).any()


def test_signed_numbers_keep_their_sign_when_it_carries_meaning():
    assert formatting.signed(0.26, 1) == "+0.3" and formatting.signed(-0.26, 1) == "-0.3"
    assert formatting.signed(-0.0004, 3) == "0.000" and formatting.signed(-0.0006, 3) == "-0.001"
    assert formatting.fixed(-0.006) == "-0.01" and formatting.fixed(float("nan")) == ""
    assert formatting.fixed(float("inf")) == "inf" and formatting.fixed(None, missing="n.a.") == "n.a."
    assert formatting.percent(0.125, 1) == "12.5%" and formatting.format_p(0.0004) == "<0.001"


@pytest.mark.parametrize(
    ("name", "ratio", "lower", "upper"),
    [
        ("risk_models", "odds_ratio", "ci_lower", "ci_upper"),
        ("effect_modification", "odds_ratio", "ci_lower", "ci_upper"),
        ("sensitivity_analyses", "odds_ratio", "ci_lower", "ci_upper"),
        ("survival_cox", "hazard_ratio", "ci_lower", "ci_upper"),
        ("joint_model", "hazard_ratio", "hazard_ratio_lower", "hazard_ratio_upper"),
    ],
)
def test_every_ratio_interval_drawn_on_the_log_scale_is_symmetric_there(name, ratio, lower, upper):
    """The figures draw ratios on one log axis: a Wald interval of a log ratio is symmetric on it (issue 22)."""
    from alsmeds.paths import COMMITTED_RESULTS_DIR

    frame = pd.read_csv(COMMITTED_RESULTS_DIR / f"{name}.csv")
    shown = frame[frame[ratio].notna() & frame[lower].notna()]
    assert len(shown) > 0
    below = np.log(shown[ratio]) - np.log(shown[lower])
    above = np.log(shown[upper]) - np.log(shown[ratio])
    np.testing.assert_allclose(below, above, rtol=1e-5, atol=1e-7)
