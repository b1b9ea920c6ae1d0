"""The reproduction figures: the nine published estimates beside this bundle's and the planted values.

* :func:`plot_published_vs_ours` -- per published ratio, the published estimate above ours, risk
  and prognosis in two panels; :func:`published_vs_ours_figure` draws it on the figure notebook 08
  saves.
* :func:`plot_study_summary` -- one slide of the whole study: the design in a strip and the nine
  estimates on one shared log-ratio axis (notebook 08).

Both read a scorecard (:func:`alsmeds.reporting.reproduction.scorecard`) and draw each target's
row with the same helper, in three lanes so that nothing hides anything: published = black open
square (top), ours = a dot in the class's colour (middle), planted = magenta star (bottom); a
target without an estimate says so.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from alsmeds.plots.axes import log_ratio_axis
from alsmeds.plots.palette import (
    CLASS_COLOURS,
    COMPARISON_COLOURS,
    PUBLISHED_COLOUR,
    PUBLISHED_MARKER,
    ROLE_COLOURS,
    SUMMARY_COLOUR,
    TRUTH_COLOUR,
    TRUTH_MARKER,
)
from alsmeds.reporting.reproduction import ratio_target_name, target_parts

#: Status -> text after a target's label (nothing when reproduced).
STATUS_TEXT = {"reproduced": "", "direction only": "  (direction only)", "not reproduced": "  (not reproduced)"}
#: The two panels of ratios: scorecard kind -> title.
RATIO_KINDS = {
    "odds_ratio": "Risk of ALS: adjusted odds ratios (population controls)",
    "hazard_ratio": "Prognosis: joint-model hazard ratios of death or invasive ventilation",
}


def target_label(row: pd.Series, status: bool = False) -> str:
    """:func:`ratio_target_name` of a scorecard row; ``status`` adds any status but reproduced."""
    text = ratio_target_name(row["target"])
    return text + (STATUS_TEXT.get(str(row.get("status")), f"  ({row.get('status')})") if status else "")


def _finite(value: object) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except (TypeError, ValueError):
        return False


def _draw_target(ax: plt.Axes, r: pd.Series, y: float, gap: float, markersize: float, fontsize: float) -> list[float]:
    """Published (at ``y + gap``), ours (at ``y``) and the planted value (at ``y - gap``) of one ratio target.

    Three lanes, so that a planted star never hides the estimate it should sit beside.  Returns
    the values drawn.
    """
    drug, _ = target_parts(r["target"])
    colour = CLASS_COLOURS.get(drug, SUMMARY_COLOUR)
    values: list[float] = []
    low, high = r["published_lower"], r["published_upper"]
    err = [[r["published"] - low], [high - r["published"]]] if _finite(low) and _finite(high) else None
    ax.errorbar(r["published"], y + gap, xerr=err, fmt=PUBLISHED_MARKER, color=PUBLISHED_COLOUR,
                markerfacecolor="white", capsize=3, markersize=markersize, elinewidth=1.5)  # fmt: skip
    values += [v for v in (r["published"], low, high) if _finite(v)]
    if _finite(r["estimate"]) and float(r["estimate"]) > 0:
        lo, hi = r["ci_lower"], r["ci_upper"]
        err = [[r["estimate"] - lo], [hi - r["estimate"]]] if _finite(lo) and _finite(hi) else None
        ax.errorbar(r["estimate"], y, xerr=err, fmt="o", color=colour, capsize=3, markersize=markersize,
                    elinewidth=1.8)  # fmt: skip
        values += [v for v in (r["estimate"], lo, hi) if _finite(v)]
    else:
        note = str(r.get("note") or "").removeprefix("not estimable: ")
        ax.text(1.0, y, f"  not estimable{': ' + note if note else ''}", fontsize=fontsize - 1, va="center",
                color=colour)  # fmt: skip
    if _finite(r.get("planted", np.nan)):
        ax.scatter(r["planted"], y - gap, marker=TRUTH_MARKER, s=markersize**2 * 3.0, color=TRUTH_COLOUR,
                   edgecolor="white", linewidth=0.6, zorder=5)  # fmt: skip
        values.append(float(r["planted"]))
    return values


def _legend_handles(planted: bool, markersize: float) -> list[Line2D]:
    handles = [
        Line2D([], [], marker=PUBLISHED_MARKER, color=PUBLISHED_COLOUR, markerfacecolor="white",
               markersize=markersize, label="published (95% CI)"),
        Line2D([], [], marker="o", color=SUMMARY_COLOUR, markersize=markersize,
               label="this bundle (95% CI; colour: drug class)"),
    ]  # fmt: skip
    if planted:
        handles.append(Line2D([], [], marker=TRUTH_MARKER, linestyle="", color=TRUTH_COLOUR,
                              markersize=markersize * 1.7, label="planted in the synthetic data"))  # fmt: skip
    return handles


def plot_published_vs_ours(card: pd.DataFrame, axes: np.ndarray | None = None) -> np.ndarray:
    """Per published ratio, the published estimate (square) above ours (dot), 95% CIs; planted values (stars) below.

    Parameters
    ----------
    card : DataFrame
        :func:`alsmeds.reporting.reproduction.scorecard` (rows of kind ``odds_ratio`` and ``hazard_ratio``).
    axes : array of two Axes, optional
        Risk (odds ratios) and prognosis (hazard ratios).

    Returns
    -------
    array of Axes
    """
    if axes is None:
        sizes = [max(1, int((card["kind"] == k).sum())) for k in RATIO_KINDS]
        _, axes = plt.subplots(2, 1, figsize=(9.0, 0.75 * sum(sizes) + 2.2), height_ratios=sizes)
    drew_planted = False
    for ax, (kind, title) in zip(axes, RATIO_KINDS.items(), strict=True):
        rows = card[card["kind"] == kind].reset_index(drop=True)
        labels, ticks, values = [], [], []
        for i, r in rows.iterrows():
            y = -float(i)
            values += _draw_target(ax, r, y, gap=0.26, markersize=6, fontsize=10)
            drew_planted |= _finite(r.get("planted", np.nan))
            labels.append(target_label(r, status=True))
            ticks.append(y)
        log_ratio_axis(ax, values, always=(0.9, 2.5))
        ax.set_yticks(ticks, labels)
        for tick, (_, r) in zip(ax.get_yticklabels(), rows.iterrows(), strict=True):
            tick.set_color(CLASS_COLOURS.get(target_parts(r["target"])[0], SUMMARY_COLOUR))
        ax.set_ylim(min(ticks, default=0) - 0.6, 0.6)
        ax.set_title(title, loc="left")
    axes[-1].legend(handles=_legend_handles(drew_planted, 6), loc="upper center", bbox_to_anchor=(0.5, -0.25),
                    ncols=3, fontsize=9)  # fmt: skip
    axes[-1].set_xlabel("odds ratio or hazard ratio (log scale)")
    return axes


def published_vs_ours_figure(card: pd.DataFrame, figsize: tuple[float, float] = (9.5, 8.0)) -> plt.Figure:
    """:func:`plot_published_vs_ours` on a figure of its own: risk above prognosis, panels as tall as their rows.

    Parameters
    ----------
    card : DataFrame
        :func:`alsmeds.reporting.reproduction.scorecard` (or the scorecard rows of
        ``results/reproduction.csv``, :func:`alsmeds.reporting.reproduction.split_report`).
    figsize : (float, float)
        Inches.

    Returns
    -------
    Figure
        Laid out (``tight_layout``), ready for :func:`alsmeds.plots.save_figure`.
    """
    sizes = [max(1, int((card["kind"] == k).sum())) for k in RATIO_KINDS]
    fig, axes = plt.subplots(2, 1, figsize=figsize, height_ratios=sizes)
    plot_published_vs_ours(card, axes=axes)
    fig.tight_layout()
    return fig


def _count(card: pd.DataFrame, target: str) -> str:
    """Our value of a count target, formatted (the published one when ours is missing; '' when neither)."""
    rows = card[card["target"] == target]
    if rows.empty:
        return ""
    r = rows.iloc[0]
    for column in ("estimate", "published"):
        if _finite(r.get(column)):
            return f"{float(r[column]):,.0f}"
    return ""


def _box(ax: plt.Axes, x: float, y: float, text: str, edge: str, fontsize: float, weight: str = "normal") -> None:
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, fontweight=weight, transform=ax.transAxes,
            bbox={"boxstyle": "round,pad=0.45", "facecolor": "white", "edgecolor": edge, "linewidth": 2.2})  # fmt: skip


def _design_strip(ax: plt.Axes, card: pd.DataFrame, fontsize: float) -> None:
    """The study design in one row of boxes: the cases, their three comparisons (risk) and the cohort (prognosis)."""
    ax.set_axis_off()

    def n(target: str, what: str) -> str:
        value = _count(card, target)
        return f"{value} {what}" if value else what

    _box(ax, 0.08, 0.45, f"{n('count:cases', 'ALS cases')}\nSwedish registers", ROLE_COLOURS["case"], fontsize, "bold")
    ax.text(0.22, 0.98, "RISK: matched case-control", transform=ax.transAxes, fontsize=fontsize, fontweight="bold",
            va="top", ha="left")  # fmt: skip
    comparisons = [
        ("population", n("count:population_controls", "population controls"), "matched on age, sex"),
        ("sibling", n("count:siblings", "full siblings"), "shared family"),
        ("spouse", n("count:spouses", "spouses"), "shared household"),
    ]
    for i, (comparison, what, why) in enumerate(comparisons):
        _box(ax, 0.305 + 0.165 * i, 0.45, f"{what}\n{why}", COMPARISON_COLOURS[comparison], fontsize - 1)
    ax.annotate("", xy=(0.215, 0.45), xytext=(0.158, 0.45), xycoords="axes fraction",
                arrowprops={"arrowstyle": "->", "color": SUMMARY_COLOUR, "linewidth": 1.5})  # fmt: skip
    ax.text(0.73, 0.98, "PROGNOSIS: cohort of cases", transform=ax.transAxes, fontsize=fontsize, fontweight="bold",
            va="top", ha="left")  # fmt: skip
    _box(ax, 0.86, 0.45, "the cases from diagnosis: ALSFRS-R\n+ death or ventilation (joint model)", SUMMARY_COLOUR,
         fontsize - 1)  # fmt: skip
    ax.text(0.5, 0.0, "exposure: use of anxiolytics, hypnotics & sedatives or antidepressants before diagnosis "
            "(at least two dispensings)", transform=ax.transAxes, ha="center", va="bottom", fontsize=fontsize - 2,
            color=SUMMARY_COLOUR)  # fmt: skip


def plot_study_summary(
    card: pd.DataFrame, figsize: tuple[float, float] = (12.0, 6.75), fontsize: float = 13.0
) -> plt.Figure:
    """One projectable slide of the study: the design in a strip, the nine estimates on one log-ratio axis.

    Top: the cases and their three comparisons (population, sibling, spouse controls; the risk
    analysis, matched case-control) and the cohort of cases (the prognosis analysis), with the
    counts of the scorecard.  Below: every published odds and hazard ratio (black open square)
    beside this bundle's (dot in the class's colour) and, when the data are synthetic, the
    planted value (magenta star), risk and prognosis on one shared log-ratio axis; the numbers
    are written at the right.  A target without an estimate says "not estimable".

    Parameters
    ----------
    card : DataFrame
        :func:`alsmeds.reporting.reproduction.scorecard` (``planted`` may be all missing: a real extract).
    figsize : (float, float)
        Inches; 16:9 by default, at most 12 wide (:data:`alsmeds.plots.MAX_FIGURE_WIDTH`).
    fontsize : float
        Base font size (points): large enough to read from the back of a room.

    Returns
    -------
    Figure
    """
    fig = plt.figure(figsize=figsize)
    grid = fig.add_gridspec(2, 1, height_ratios=[1.25, 4.6], hspace=0.08, left=0.3, right=0.8, top=0.98, bottom=0.1)
    strip = fig.add_subplot(grid[0])
    strip.set_position([0.02, strip.get_position().y0, 0.96, strip.get_position().height])
    _design_strip(strip, card, fontsize - 1)
    ax = fig.add_subplot(grid[1])
    values: list[float] = []
    ticks, labels, colours = [], [], []
    y, drew_planted = 0.0, False
    for kind, title in RATIO_KINDS.items():
        rows = card[card["kind"] == kind]
        if rows.empty:
            continue
        ax.text(-0.02, y + 0.05, title.split(":")[0], transform=ax.get_yaxis_transform(), ha="right", va="center",
                fontsize=fontsize, fontweight="bold")  # fmt: skip
        y -= 1
        for _, r in rows.iterrows():
            values += _draw_target(ax, r, y, gap=0.27, markersize=7, fontsize=fontsize)
            drew_planted |= _finite(r.get("planted", np.nan))
            ticks.append(y)
            labels.append(target_label(r))
            colours.append(CLASS_COLOURS.get(target_parts(r["target"])[0], SUMMARY_COLOUR))
            ours = f"{float(r['estimate']):.2f}" if _finite(r["estimate"]) else "n.e."
            ax.text(1.03, y, f"{float(r['published']):.2f}", transform=ax.get_yaxis_transform(), va="center",
                    fontsize=fontsize - 1, color=PUBLISHED_COLOUR)  # fmt: skip
            ax.text(1.16, y, ours, transform=ax.get_yaxis_transform(), va="center", fontsize=fontsize - 1,
                    color=colours[-1], fontweight="bold")  # fmt: skip
            y -= 1
        y -= 0.3
    ax.text(1.03, 0.05, "paper", transform=ax.get_yaxis_transform(), va="center", fontsize=fontsize - 1,
            fontweight="bold")  # fmt: skip
    ax.text(1.16, 0.05, "ours", transform=ax.get_yaxis_transform(), va="center", fontsize=fontsize - 1,
            fontweight="bold")  # fmt: skip
    log_ratio_axis(ax, values, always=(0.9, 2.5), max_ticks=8)
    ax.tick_params(labelsize=fontsize - 1)
    ax.set_yticks(ticks, labels)
    for tick, colour in zip(ax.get_yticklabels(), colours, strict=True):
        tick.set_color(colour)
    ax.set_ylim(y + 0.6, 0.6)
    ax.set_xlabel("odds ratio (risk) or hazard ratio (prognosis), log scale", fontsize=fontsize)
    ax.legend(handles=_legend_handles(drew_planted, 8), loc="upper center", bbox_to_anchor=(0.35, -0.13), ncols=3,
              fontsize=fontsize - 2, handletextpad=0.3, columnspacing=1.2)  # fmt: skip
    return fig
