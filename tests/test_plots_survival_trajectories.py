"""Smoke tests of the figures of notebooks 05 and 06 (survival curves, Cox diagnostics, ALSFRS-R trajectories).

Each draws on small hand-made frames and checks what a reader relies on: users in their class's colour and
non-users grey, hazard ratios on the log-ratio axis, planted values magenta, y-limits that keep the data in view,
predicted trajectories that stay on the 0-48 scale, bias drawn with ±1.96 Monte Carlo SE, "not estimable" said,
and no figure wider than 12 inches.
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

from alsmeds.constants import CLASSES
from alsmeds.models.cox import fit_cox, scaled_schoenfeld, schoenfeld_diagnostics
from alsmeds.models.km import kaplan_meier_by_use
from alsmeds.plots import MAX_FIGURE_WIDTH, save_figure, use_style
from alsmeds.plots import trajectories as tplots
from alsmeds.plots.palette import (
    CLASS_COLOURS,
    NON_USER_COLOUR,
    PUBLISHED_COLOUR,
    SUMMARY_COLOUR,
    TRUTH_COLOUR,
)
from alsmeds.plots.survival import plot_hazard_ratios, plot_km_by_use, plot_schoenfeld, schoenfeld_limits


@pytest.fixture(autouse=True)
def _style():
    use_style()
    yield
    plt.close("all")


def _same(a, b) -> bool:
    return mcolors.to_hex(a) == mcolors.to_hex(b)


def _survival(n: int = 160, seed: int = 3, no_users_of: str | None = None) -> pd.DataFrame:
    """Survival data in the layout of build_survival_data: users of each class die faster."""
    rng = np.random.default_rng(seed)
    use = {f"use_{k}": (rng.random(n) < 0.3).astype(int) for k in CLASSES}
    if no_users_of:
        use[f"use_{no_users_of}"] = np.zeros(n, dtype=int)
    rate = 0.5 * np.exp(0.5 * use["use_anxiolytics"] + 0.3 * use["use_antidepressants"])
    t = rng.exponential(1 / rate)
    censor = rng.uniform(0.5, 6.0, n)
    return pd.DataFrame(
        {
            "time": np.minimum(t, censor),
            "event": (t <= censor).astype(int),
            "age": rng.normal(65, 10, n),
            "male": rng.integers(0, 2, n),
            "bulbar": rng.integers(0, 2, n),
            "diagnostic_delay_months": rng.gamma(4, 3, n),
            "alsfrs_baseline": rng.normal(36, 6, n).round(),
            **use,
        }
    )


# --------------------------------------------------------------------------- Kaplan-Meier


def test_km_panels_fit_12_inches_with_users_in_class_colours_and_non_users_grey(tmp_path):
    axes = plot_km_by_use(kaplan_meier_by_use(_survival()))
    fig = axes[0].figure
    assert fig.get_figwidth() <= MAX_FIGURE_WIDTH
    save_figure(fig, "km", tmp_path)  # refuses a figure wider than 12 in
    for ax, k in zip(axes, CLASSES, strict=True):
        colours = {
            line.get_label().split(" (")[0]: line.get_color() for line in ax.get_lines() if "n =" in line.get_label()
        }
        assert _same(colours["Users"], CLASS_COLOURS[k])
        assert _same(colours["Non-users"], NON_USER_COLOUR)
        assert ax.get_ylim()[0] <= 0 and ax.get_ylim()[1] >= 1
        assert any(t.get_text().startswith("Log-rank") for t in ax.texts)


def test_km_panel_of_a_class_without_users_says_why():
    axes = plot_km_by_use(kaplan_meier_by_use(_survival(no_users_of="hypnotics")))
    panel = axes[list(CLASSES).index("hypnotics")]
    labels = [line.get_label() for line in panel.get_lines()]
    assert not any(label.startswith("Users") for label in labels)
    assert any(t.get_text().startswith("No log-rank test") for t in panel.texts)


# --------------------------------------------------------------------------- Schoenfeld residuals


def test_schoenfeld_limits_cover_the_band_the_estimate_zero_and_the_central_residuals():
    resid = np.r_[np.full(80, -1.0), np.full(20, 5.0), 40.0]  # two bands and one outlier
    lo, hi = schoenfeld_limits(resid, band=[0.2, 0.9], beta=0.5)
    assert lo < -1.0 and hi > 5.0, "both residual bands in view"
    assert hi < 40.0, "an extreme point does not set the limits"
    lo, hi = schoenfeld_limits(np.array([]), band=[], beta=0.0)
    assert lo < 0 < hi


def test_schoenfeld_panels_show_both_residual_bands_and_say_what_they_ask():
    data = _survival(n=300)
    result = fit_cox(data, ["use_anxiolytics", "use_antidepressants"], adjustment=["male"])
    axes = plot_schoenfeld(
        schoenfeld_diagnostics(result, ["use_anxiolytics", "use_antidepressants", "male"]), max_years=5
    )
    fig = axes[0].figure
    assert fig.get_figwidth() <= MAX_FIGURE_WIDTH
    assert fig._suptitle is not None and fig._suptitle.get_text() == "Is the hazard ratio constant over time?"
    resid = scaled_schoenfeld(result)
    shown = resid["time"] <= 5
    for ax, term in zip(axes, ["use_anxiolytics", "use_antidepressants"], strict=False):
        y = resid.loc[shown, term]
        lo, hi = ax.get_ylim()
        assert lo <= y.quantile(0.025) and hi >= y.quantile(0.975), f"{term}: a residual band is cut off"
        users = y[y > result.params[term]]
        assert users.median() < hi, "the users' band is in view"
        band = next(c for c in ax.collections if c.get_label() == "pointwise 95% band")
        assert _same(band.get_facecolor()[0][:3], CLASS_COLOURS[term.removeprefix("use_")])
        assert "Schoenfeld" in ax.get_ylabel()
        assert "constant HR" in ax.get_title()


def test_schoenfeld_panel_of_a_term_not_estimated_says_why():
    data = _survival(no_users_of="hypnotics")
    result = fit_cox(data, ["use_anxiolytics", "use_hypnotics"], adjustment=[])
    assert "use_hypnotics" in result.not_estimable
    axes = plot_schoenfeld(schoenfeld_diagnostics(result, ["use_anxiolytics", "use_hypnotics"]))
    assert any("not estimable" in t.get_text() for t in axes[1].texts)


# --------------------------------------------------------------------------- hazard ratios


def _cox_rows() -> pd.DataFrame:
    rows = []
    for k, hr in zip(CLASSES, (1.6, 1.2, 1.5), strict=True):
        for model in ("per_class", "mutual"):
            rows.append(
                {
                    "model": model, "drug_class": k, "is_exposure": True, "hazard_ratio": hr,
                    "ci_lower": hr / 1.2, "ci_upper": hr * 1.2, "reason": "",
                    "implied_log_hr": np.log(hr * 1.05), "direct_log_hr": np.log(hr * 0.95),
                }
            )  # fmt: skip
    frame = pd.DataFrame(rows)
    hyp = (frame["drug_class"] == "hypnotics") & (frame["model"] == "mutual")
    frame.loc[hyp, ["hazard_ratio", "ci_lower", "ci_upper"]] = np.nan
    frame.loc[hyp, "reason"] = "no event among users"
    return frame


def test_hazard_ratios_on_the_log_ratio_axis_with_planted_magenta_and_published_black():
    published = {
        "anxiolytics": (1.52, 1.12, 2.05),
        "hypnotics": (1.23, None, None),
        "antidepressants": (1.72, 1.3, 2.29),
    }
    ax = plot_hazard_ratios(_cox_rows(), published)
    assert ax.get_xscale() == "log"
    lo, hi = ax.get_xlim()
    assert lo <= 1.6 / 1.2 and hi >= 2.29
    assert ax.figure.get_figwidth() <= MAX_FIGURE_WIDTH
    points = [c for c in ax.collections if isinstance(c, PathCollection) and len(c.get_offsets())]
    stars = [c for c in points if c.get_sizes()[0] >= 100]
    assert stars and all(_same(c.get_facecolor()[0][:3], TRUTH_COLOUR) for c in stars)
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    assert {"Cox estimate (95% CI)", "implied total effect (planted)", "published joint model (95% CI)"} <= legend
    squares = [line for line in ax.get_lines() if line.get_marker() == "s"]
    assert squares and all(_same(line.get_color(), PUBLISHED_COLOUR) for line in squares)
    assert any("not estimable: no event among users" in t.get_text() for t in ax.texts)


# --------------------------------------------------------------------------- ALSFRS-R trajectories


def _visits(n_patients: int = 60, seed: int = 2, users: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for pid in range(n_patients):
        used = int(users and pid % 3 == 0)
        b0, b1 = rng.normal(37, 5), rng.normal(-0.9 - 0.3 * used, 0.4)
        last = rng.uniform(3, 40)
        event = rng.choice(["death", "invasive_ventilation", "none"], p=[0.6, 0.1, 0.3])
        for m in np.arange(0, last, 3.0):
            rows.append({"person_id": pid, "months": m, "score": float(np.clip(round(b0 + b1 * m), 0, 48)),
                         "event": event, "antidepressants": used})  # fmt: skip
    return pd.DataFrame(rows)


def test_exposure_colours_are_the_class_colour_and_non_user_grey():
    assert tplots.exposure_colours("antidepressants") == {0: NON_USER_COLOUR, 1: CLASS_COLOURS["antidepressants"]}
    assert tplots.exposure_colours("not_a_class")[1] == SUMMARY_COLOUR


def test_spaghetti_facets_users_in_class_colour_non_users_grey(tmp_path):
    fig = tplots.plot_spaghetti(_visits(), exposure="antidepressants", n_per_group=10, seed=1)
    assert fig.get_figwidth() <= MAX_FIGURE_WIDTH
    save_figure(fig, "spaghetti", tmp_path)
    facets = [ax for ax in fig.axes if ax.get_title()]
    assert len(facets) == 2
    for ax, colour in zip(facets, (NON_USER_COLOUR, CLASS_COLOURS["antidepressants"]), strict=True):
        thin = [line for line in ax.get_lines() if line.get_linewidth() < 1.5]
        assert thin and all(_same(line.get_color(), colour) for line in thin)
        assert ax.get_ylim()[0] <= 0 and ax.get_ylim()[1] >= 48
    legend = {t.get_text() for t in fig.legends[0].get_texts()}
    assert "one patient" in legend and "last visit before death" in legend


def test_spaghetti_with_an_empty_group_says_so():
    fig = tplots.plot_spaghetti(_visits(users=False), exposure="antidepressants", n_per_group=5)
    users = [ax for ax in fig.axes if ax.get_title().startswith("prediagnostic")][0]
    assert any(t.get_text() == "no patients in this group" for t in users.texts)


class _StubResult:
    """The two methods plot_fitted_trajectories uses, with lines that run below 0 within the plotted months."""

    def group_slopes(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "drug_class": ["antidepressants"] * 3,
                "group": ["reference", "users", "difference"],
                "estimate": [-0.9, -1.2, -0.3],
                "estimable": [True, True, True],
                "reason": ["", "", ""],
            }
        )

    def predict_mean(self, months, exposures=None):
        months = np.asarray(months, dtype=float)
        slope = -1.2 if (exposures or {}).get("antidepressants") else -0.9
        mean = 36 + slope * months
        return pd.DataFrame({"months": months, "mean": mean, "ci_lower": mean - 2, "ci_upper": mean + 2})


def test_fitted_trajectories_stay_on_the_scale_and_show_the_planted_lines_on_top():
    ax = tplots.plot_fitted_trajectories(
        _StubResult(), _visits(), max_months=45, truth={0: (36.0, -0.9), 1: (36.0, -1.25)}
    )
    drawn = [line for line in ax.get_lines() if len(line.get_ydata()) > 20]
    for line in drawn:
        y = np.asarray(line.get_ydata(), dtype=float)
        assert np.nanmin(y) >= 0 and np.nanmax(y) <= 48, "a line left the 0-48 scale"
        assert np.isnan(y).any(), "the lines that fall below 0 within 45 months stop"
    planted = [line for line in drawn if _same(line.get_color(), TRUTH_COLOUR)]
    assert len(planted) == 2 and all(line.get_linestyle() == "--" for line in planted)
    others = [line for line in drawn if line not in planted]
    assert min(p.get_zorder() for p in planted) > max(o.get_zorder() for o in others)
    colours = {mcolors.to_hex(line.get_color()) for line in others}
    assert colours == {mcolors.to_hex(NON_USER_COLOUR), mcolors.to_hex(CLASS_COLOURS["antidepressants"])}
    for band in ax.collections:
        for path in band.get_paths():
            assert path.vertices[:, 1].min() >= 0 and path.vertices[:, 1].max() <= 48
    legend = {t.get_text() for t in ax.get_legend().get_texts()}
    assert "lines stop where they leave the 0-48 scale" in legend and "planted mean trajectory" in legend


def test_fitted_trajectories_legend_sits_below_the_axes_clear_of_the_planted_labels():
    fig, ax = plt.subplots(figsize=(8.5, 5.2))
    tplots.plot_fitted_trajectories(
        _StubResult(), _visits(), max_months=36, truth={0: (36.0, -0.9), 1: (36.0, -1.25)}, ax=ax
    )
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.y1 <= ax.get_window_extent(renderer).y0, "the legend is below the axes"
    labels = [t for t in ax.texts if t.get_text().startswith("planted, ")]
    assert sorted(t.get_text() for t in labels) == ["planted, non-users", "planted, users"]
    for text in labels:
        assert not text.get_window_extent(renderer).overlaps(legend), f"{text.get_text()!r} overlaps the legend"


def _scenario_bias(mc_se: float | None = 0.002) -> pd.DataFrame:
    rows = []
    for i, scenario in enumerate(("1 complete latent", "2 same, cut at follow-up", "4 observed scores")):
        for term, scale in (("months", 1.0), ("antidepressants:months", 0.5)):
            replicates = 1 if mc_se is None else 10
            se = np.nan if mc_se is None else mc_se
            rows.append(
                {"scenario": scenario, "term": term, "bias": scale * 0.01 * i, "mc_se": se, "replicates": replicates}
            )
    return pd.DataFrame(rows)


def test_dropout_bias_is_drawn_with_196_mcse_bars_around_zero(tmp_path):
    frame = _scenario_bias()
    fig = tplots.plot_dropout_bias(frame)
    assert fig.get_figwidth() <= MAX_FIGURE_WIDTH
    save_figure(fig, "bias", tmp_path)
    ax_ref, ax_diff = fig.axes[:2]
    for ax, term in ((ax_ref, "months"), (ax_diff, "antidepressants:months")):
        bias = frame.loc[frame["term"] == term, "bias"].to_numpy()
        lo, hi = ax.get_xlim()
        assert lo < 0 < hi and lo <= bias.min() - 1.96 * 0.002 and hi >= bias.max() + 1.96 * 0.002
        bars = [c for c in ax.collections if c.get_segments()]
        segments = bars[0].get_segments()
        widths = sorted(abs(s[1][0] - s[0][0]) for s in segments)
        assert widths == pytest.approx([2 * 1.959963984540054 * 0.002] * len(bias))
    assert _same(ax_diff.get_lines()[0].get_color(), CLASS_COLOURS["antidepressants"])
    assert "Monte Carlo SE" in fig.legends[0].get_texts()[0].get_text()


def test_dropout_bias_of_one_replicate_has_no_bars():
    fig = tplots.plot_dropout_bias(_scenario_bias(mc_se=None))
    segments = [s for c in fig.axes[0].collections for s in c.get_segments()]
    assert all(abs(s[1][0] - s[0][0]) == 0 for s in segments)
    assert "one replicate" in fig.legends[0].get_texts()[0].get_text()
