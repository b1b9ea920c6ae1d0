"""Figures of survival after diagnosis: Kaplan-Meier curves with numbers at risk, and Schoenfeld residuals.

The figures draw results; they fit nothing.  The curves and log-rank tests come from
:func:`alsmeds.models.km.kaplan_meier_by_use`, the residuals and their spline trends from
:func:`alsmeds.models.cox.schoenfeld_diagnostics`, the hazard ratios from the results
table of :mod:`alsmeds.reporting.survival_results`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES
from alsmeds.formatting import fixed
from alsmeds.labels import CLASS_NAMES
from alsmeds.plots import MAX_FIGURE_WIDTH
from alsmeds.plots.axes import log_ratio_axis
from alsmeds.plots.palette import (
    CLASS_COLOURS,
    NEUTRAL_COLOUR,
    NON_USER_COLOUR,
    PUBLISHED_COLOUR,
    SUMMARY_COLOUR,
    TRUTH_COLOUR,
)

#: Vertical offset of an implied-total-effect star below its Cox estimate (rows are 1 apart), so both stay visible.
IMPLIED_ROW_OFFSET = 0.24
#: Label of the row of joint-model reference values (published HR, planted direct HR): not this bundle's estimate.
JOINT_REFERENCE_LABEL = "Joint model: published HR, planted direct"

#: Readable names of the two groups of a Kaplan-Meier panel (users in their class's colour, non-users grey).
GROUP_NAMES = {"non-users": "Non-users", "users": "Users"}


def _format_p(p: float) -> str:
    if not np.isfinite(p):
        return "p not available"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _not_estimable(ax: plt.Axes, text: str) -> None:
    """Write why a panel is empty in its middle."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=9, color="0.35", wrap=True)


def _at_risk_table(ax: plt.Axes, fits: dict, xticks: Sequence[float], colours: dict[str, str]) -> None:
    """Numbers at risk under the axis, via lifelines' ``add_at_risk_counts``, re-aligned for a multi-panel figure.

    lifelines writes each group's label into the first tick label, right-aligned, which
    runs into the neighbouring panel; here every count is centred under its tick and the
    group names are written once, left of the axis, in the curves' colours.
    """
    from lifelines.plotting import add_at_risk_counts

    before = set(ax.figure.axes)
    add_at_risk_counts(*fits.values(), ax=ax, fig=ax.figure, rows_to_show=["At risk"], xticks=list(xticks), ypos=-0.62)
    table_ax = next(a for a in ax.figure.axes if a not in before)
    fontsize = 9
    texts = []
    for label in table_ax.get_xticklabels():
        # lifelines' first label holds "At risk" and the group names; keep only the counts of each.
        counts = [line.split()[-1] for line in label.get_text().split("\n") if line.strip()]
        texts.append("\n".join(c for c in counts if c.isdigit()))
    table_ax.set_xticks(table_ax.get_xticks(), texts, ha="center", fontsize=fontsize, linespacing=1.2)
    # The table's row names, left of the axis, in the curves' colours.  Each name is a text of as many lines as the
    # counts (the others blank), anchored at the top of the first count label, so the lines match exactly.
    renderer = ax.figure.canvas.get_renderer()
    first = table_ax.get_xticklabels()[0]
    top = first.get_window_extent(renderer).y1
    _, top_axes = table_ax.transAxes.inverted().transform((0, top))
    anchor = {
        "xy": (0, top_axes),
        "xycoords": table_ax.transAxes,
        "textcoords": "offset points",
        "ha": "right",
        "va": "top",
        "fontsize": fontsize,
        "linespacing": 1.2,
        "annotation_clip": False,
    }
    names = list(fits)
    for i, name in enumerate(names):
        lines = [GROUP_NAMES.get(n, n) if j == i else " " for j, n in enumerate(names)]
        table_ax.annotate("\n".join(lines), xytext=(-16, 0), color=colours[name], **anchor)
    table_ax.annotate("At risk", xytext=(-16, 1), **{**anchor, "va": "bottom"}, fontweight="bold")


class KaplanMeierCurves(Protocol):
    """What :func:`plot_km_by_use` draws: :class:`alsmeds.models.km.KaplanMeierByUse`."""

    classes: tuple[str, ...]
    fits: dict[str, dict[str, Any]]
    n: dict[str, dict[str, int]]
    logrank: pd.DataFrame


def plot_km_by_use(
    km: KaplanMeierCurves,
    *,
    axes: Sequence[plt.Axes] | None = None,
    max_years: float = 6.0,
    at_risk: bool = True,
) -> np.ndarray:
    """Kaplan-Meier curves of survival free of death or invasive ventilation, users against non-users.

    One panel per class, each with 95% confidence bands (Greenwood, log(-log)), the
    medians marked, the unadjusted log-rank p-value, and the numbers at risk under the
    axis (lifelines ``add_at_risk_counts``).

    Parameters
    ----------
    km : KaplanMeierByUse
        The fitted curves and log-rank tests of each class
        (:func:`alsmeds.models.km.kaplan_meier_by_use`); one panel per class.
    axes : sequence of Axes, optional
        Axes to draw on (default: a new figure with one row of panels).
    max_years : float
        Right end of the time axis.
    at_risk : bool
        Add the numbers-at-risk table.

    Returns
    -------
    numpy.ndarray of Axes
    """
    classes = km.classes
    if axes is None:
        # At most 12 in wide (alsmeds.plots.MAX_FIGURE_WIDTH): 4 in per panel up to three classes.
        width = min(MAX_FIGURE_WIDTH, 4.0 * len(classes))
        fig, axes = plt.subplots(1, len(classes), figsize=(width, 5.4), sharey=True)
        fig.subplots_adjust(bottom=0.30, wspace=0.45, left=0.09, right=0.98, top=0.90)
    axes = np.atleast_1d(np.asarray(axes, dtype=object))
    tests = km.logrank.set_index("drug_class")
    xticks = np.arange(0, max_years + 1e-9, 1.0)
    for ax, k in zip(axes, classes, strict=True):
        fits = km.fits[k]
        colours = {"non-users": NON_USER_COLOUR, "users": CLASS_COLOURS.get(k, SUMMARY_COLOUR)}
        for name, kmf in fits.items():
            n = km.n[k][name]
            sf = kmf.survival_function_.iloc[:, 0]
            ci = kmf.confidence_interval_survival_function_
            ax.step(
                sf.index,
                sf.to_numpy(),
                where="post",
                color=colours[name],
                linewidth=2,
                label=f"{GROUP_NAMES[name]} (n = {n:,})",
            )
            ax.fill_between(
                ci.index, ci.iloc[:, 0], ci.iloc[:, 1], step="post", color=colours[name], alpha=0.18, linewidth=0
            )
            median = float(kmf.median_survival_time_)
            if np.isfinite(median) and median <= max_years:
                ax.plot([median, median], [0, 0.5], color=colours[name], linewidth=0.9, linestyle=":")
        ax.axhline(0.5, color="0.75", linewidth=0.8, linestyle=":", zorder=0)
        ax.set_xlim(0, max_years)
        ax.set_ylim(0, 1.02)
        ax.set_xticks(xticks)
        ax.set_yticks(np.linspace(0, 1, 6), [f"{v:.0%}" for v in np.linspace(0, 1, 6)])
        ax.set_title(CLASS_NAMES.get(k, k))
        ax.set_xlabel("Years since diagnosis")
        row = tests.loc[k]
        ax.text(
            0.97,
            0.97,
            f"Log-rank {_format_p(row['p_value'])}" if not row.get("reason") else f"No log-rank test: {row['reason']}",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=9,
        )
        if fits:
            ax.legend(loc="upper right", bbox_to_anchor=(1.0, 0.92), fontsize=9, handlelength=1.2)
        ax.grid(axis="y", color="0.92", linewidth=0.8)
        if at_risk and fits:
            _at_risk_table(ax, fits, xticks, colours)
    axes[0].set_ylabel("Free of death or invasive ventilation")
    return axes


def schoenfeld_limits(
    residuals: np.ndarray, band: Sequence[float] = (), beta: float = 0.0, central: float = 0.95
) -> tuple[float, float]:
    """y-limits of a residual panel: the trend's band, the estimate, zero and the residuals' central range.

    For a 0/1 covariate the points form two bands (users above, non-users below); the
    central ``central`` share of the residuals (2.5th to 97.5th percentile by default)
    covers both, so neither band is cut off, while a few extreme points may be.

    Parameters
    ----------
    residuals : array
        The points drawn (scaled Schoenfeld residuals plus the coefficient).
    band : sequence of float
        Lower and upper limits of the trend's band (every value drawn).
    beta : float
        The Cox estimate (a dashed line).
    central : float
        Share of the residuals kept inside the limits.

    Returns
    -------
    (float, float)
    """
    values = [beta, 0.0, *np.asarray(band, dtype=float).ravel()]
    finite = np.asarray(residuals, dtype=float)
    finite = finite[np.isfinite(finite)]
    if finite.size:
        tail = (1 - central) / 2
        values += list(np.quantile(finite, [tail, 1 - tail]))
    values = [v for v in values if np.isfinite(v)]
    lo, hi = min(values), max(values)
    pad = 0.06 * (hi - lo) if hi > lo else 1.0
    return lo - pad, hi + pad


class SchoenfeldTrends(Protocol):
    """What :func:`plot_schoenfeld` draws: :class:`alsmeds.models.cox.SchoenfeldDiagnostics`."""

    terms: list[str]
    labels: dict[str, str]
    time: np.ndarray
    residuals: pd.DataFrame
    beta: dict[str, float]
    trends: dict[str, pd.DataFrame]
    not_estimable: dict[str, str]
    ph_test: pd.DataFrame


def plot_schoenfeld(
    diagnostics: SchoenfeldTrends,
    *,
    axes: Sequence[plt.Axes] | None = None,
    max_years: float | None = None,
) -> np.ndarray:
    """Is the hazard ratio constant over time?  Scaled Schoenfeld residuals against time, one panel per term.

    Each point is one event's scaled Schoenfeld residual plus the coefficient, a noisy
    estimate of ``beta(t)`` at that time (Grambsch & Therneau 1994).  As in R's
    ``plot(cox.zph(fit))``, a natural cubic regression spline on the rank of the event
    time shows the trend, with a pointwise 95% band; under proportional hazards it stays
    flat at the Cox estimate (dashed).  For a 0/1 covariate the points form two bands, one
    per value (users above, non-users below); the y-limits (:func:`schoenfeld_limits`)
    show the band of the trend and the central 95% of the points, so both bands are in
    view.  Each panel's title gives the test of the slope.  A term that was not estimated
    gets a panel that says why.

    Parameters
    ----------
    diagnostics : SchoenfeldDiagnostics
        Residuals, trends and tests of the terms to draw
        (:func:`alsmeds.models.cox.schoenfeld_diagnostics`); one panel per term.
    axes : sequence of Axes, optional
        One per term (default: a new figure, two panels per row, at most 12 in wide).
    max_years : float, optional
        Right end of the time axis (default: the last event).

    Returns
    -------
    numpy.ndarray of Axes
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    terms = list(diagnostics.terms)
    if not terms:
        raise ValueError("no terms to draw")
    own_figure = axes is None
    if axes is None:
        ncols = min(2, len(terms))
        nrows = int(np.ceil(len(terms) / ncols))
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(5.6 * ncols, 3.9 * nrows + 0.8), squeeze=False, layout="constrained"
        )
        for ax in axes.ravel()[len(terms) :]:
            ax.set_visible(False)
        fig.get_layout_engine().set(h_pad=0.12, w_pad=0.1)
        fig.suptitle("Is the hazard ratio constant over time?", fontsize=13, fontweight="bold")
    axes = np.asarray(axes, dtype=object).ravel()
    resid = diagnostics.residuals
    ph = diagnostics.ph_test.set_index("term") if len(diagnostics.ph_test) else None
    time = np.asarray(diagnostics.time)
    right = max_years or (float(time.max()) if len(time) else 1.0)
    shown = time <= right
    point_label = "one event: scaled Schoenfeld residual + β"
    for ax, term in zip(axes, terms, strict=False):
        label = diagnostics.labels.get(term, term)
        title = label[0].upper() + label[1:]
        if term not in resid.columns:
            why = diagnostics.not_estimable.get(term) or "not in the model"
            ax.set_title(title, fontsize=10.5)
            _not_estimable(ax, f"not estimable: {why}")
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        y = resid[term].to_numpy()
        beta = float(diagnostics.beta[term])
        cls = term.removeprefix("use_")
        colour = CLASS_COLOURS.get(cls, SUMMARY_COLOUR)
        ax.scatter(time, y, s=6, color=NEUTRAL_COLOUR, alpha=0.6, linewidths=0, rasterized=True, label=point_label)
        band: list[float] = []
        trend = diagnostics.trends.get(term)
        if trend is not None:  # a spline trend needs a few events per degree of freedom
            mean, lower, upper = (trend[c].to_numpy() for c in ("mean", "lower", "upper"))
            ax.fill_between(time, lower, upper, color=colour, alpha=0.2, linewidth=0, label="pointwise 95% band")
            ax.plot(time, mean, color=colour, linewidth=2.2, label="trend of β(t) (spline)")
            band = [*lower[shown], *upper[shown]]
        ax.axhline(beta, color="black", linestyle="--", linewidth=1.1, label="Cox estimate (constant β)")
        ax.text(
            0.98,
            0.97,
            f"β = {fixed(beta)} (HR {fixed(np.exp(beta))})",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=9,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.5},
        )
        ax.axhline(0, color=NEUTRAL_COLOUR, linewidth=0.8)
        ax.set_ylim(*schoenfeld_limits(y[shown], band, beta))
        ax.set_xlim(0, right)
        if ph is not None and term in ph.index:
            title += f"\ntest of a constant HR: χ² = {ph.loc[term, 'chisq']:.2f}, "
            title += _format_p(float(ph.loc[term, "p_value"]))
        ax.set_title(title, fontsize=10.5)
        ax.set_xlabel("Years since diagnosis")
        ax.set_ylabel("β(t), log hazard ratio\n(scaled Schoenfeld residual + β)", fontsize=10)
        if not own_figure:
            ax.legend(loc="upper left", fontsize=9, ncols=2, markerscale=3)
    if own_figure:
        handles = [
            Line2D([], [], marker="o", linestyle="", color=NEUTRAL_COLOUR, markersize=4, label=point_label),
            Patch(color=SUMMARY_COLOUR, alpha=0.2, label="pointwise 95% band"),
            Line2D([], [], color=SUMMARY_COLOUR, linewidth=2.2, label="trend of β(t) (spline)"),
            Line2D([], [], color="black", linestyle="--", linewidth=1.1, label="Cox estimate (constant β)"),
        ]
        axes[0].figure.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=9)
    return axes


def plot_hazard_ratios(
    cox: pd.DataFrame,
    published: dict[str, tuple[float, float | None, float | None]] | None = None,
    *,
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> plt.Axes:
    """Cox hazard ratios of prediagnostic use beside what they estimate and what the paper's joint model reported.

    Per class, three rows: the Cox model with that class alone, the Cox model with the
    three classes together (dots with 95% CIs; stars, just below each dot so that neither
    hides the other, mark the implied total effect under the planted model, when known), and
    a row of reference values for the joint model, labelled as such: the *published* HR with
    its CI (black open square) and the planted direct HR (magenta open diamond, when known).
    This bundle's own joint-model estimates come from notebook 07, after this figure; they
    are not drawn here.  Estimates are drawn in their class's colour, planted values in
    magenta (:data:`alsmeds.plots.palette.TRUTH_COLOUR`).

    Parameters
    ----------
    cox : DataFrame
        Exposure rows of :func:`alsmeds.reporting.survival_results.add_implied` (model, drug_class,
        hazard_ratio, ci_lower, ci_upper, implied_log_hr, direct_log_hr), e.g. ``survival_cox.csv``
        as read back (a missing ``reason`` is read as missing, not as an empty string).
    published : dict, optional
        class -> (HR, lower, upper) of the joint model
        (:data:`alsmeds.published.PUBLISHED_PROGNOSIS`); a missing CI is not drawn.
    ax : Axes, optional
    title : str, optional
        Title of the axes.

    Returns
    -------
    Axes
    """
    from matplotlib.lines import Line2D

    rows = cox[cox["is_exposure"].astype(bool)] if "is_exposure" in cox else cox
    classes = [k for k in CLASSES if k in set(rows["drug_class"])]
    if ax is None:
        _, ax = plt.subplots(figsize=(8.4, 1.45 * len(classes) + 1.0))
    labels, ypos, headers = [], [], []
    y = 0.0
    shown = set()
    drawn: list[float] = []
    for k in classes:
        colour = CLASS_COLOURS.get(k, SUMMARY_COLOUR)
        headers.append((y + 0.75, k, colour))
        for model, name in (("per_class", "Cox, this class alone"), ("mutual", "Cox, three classes together")):
            sel = rows[(rows["drug_class"] == k) & (rows["model"] == model)]
            if sel.empty:
                continue
            r = sel.iloc[0]
            if np.isfinite(r["hazard_ratio"]):
                ax.errorbar(
                    r["hazard_ratio"],
                    y,
                    xerr=[[r["hazard_ratio"] - r["ci_lower"]], [r["ci_upper"] - r["hazard_ratio"]]],
                    fmt="o",
                    color=colour,
                    capsize=3,
                    markersize=6,
                )
                shown.add("estimate")
                drawn += [r["ci_lower"], r["ci_upper"]]
            else:
                why = r.get("reason", "")
                why = why if isinstance(why, str) and why else "not estimable"
                ax.text(1.0, y, f"  not estimable: {why}", color=colour, fontsize=8, va="center")
            if "implied_log_hr" in r and np.isfinite(r["implied_log_hr"]):
                ax.scatter(
                    np.exp(r["implied_log_hr"]),
                    y - IMPLIED_ROW_OFFSET,
                    marker="*",
                    s=160,
                    color=TRUTH_COLOUR,
                    edgecolor="black",
                    linewidth=0.6,
                    zorder=4,
                )
                shown.add("implied")
            labels.append(name)
            ypos.append(y)
            y -= 1
        pub = (published or {}).get(k)
        direct = rows.loc[rows["drug_class"] == k, "direct_log_hr"] if "direct_log_hr" in rows else pd.Series([])
        has_direct = bool(len(direct)) and bool(np.isfinite(direct.iloc[0]))
        if pub is not None or has_direct:
            if pub is not None:
                hr, lo, hi = pub
                err = None if lo is None or hi is None else [[hr - lo], [hi - hr]]
                # Drawn a little above the row, so that a planted value equal to the published one stays visible.
                ax.errorbar(
                    hr,
                    y + 0.14,
                    xerr=err,
                    fmt="s",
                    color=PUBLISHED_COLOUR,
                    markerfacecolor="white",
                    capsize=3,
                    markersize=6,
                )
                shown.add("published")
            if has_direct:
                ax.scatter(
                    np.exp(direct.iloc[0]),
                    y - 0.14,
                    marker="D",
                    s=45,
                    facecolor="white",
                    edgecolor=TRUTH_COLOUR,
                    linewidth=1.4,
                    zorder=4,
                )
                shown.add("direct")
            labels.append(JOINT_REFERENCE_LABEL)
            ypos.append(y)
            y -= 1
        y -= 0.7
    # The usual range (0.8-3.2), widened for estimates of a small extract (within 0.1-30).
    log_ratio_axis(ax, drawn, always=(0.8, 3.2), label="Hazard ratio of death or invasive ventilation (log scale)")
    ax.set_yticks(ypos, labels, fontsize=9)
    ax.tick_params(axis="y", length=0)
    for hy, k, colour in headers:
        ax.text(
            -0.01,
            hy,
            CLASS_NAMES.get(k, k),
            transform=ax.get_yaxis_transform(),
            ha="right",
            va="center",
            fontsize=10,
            fontweight="bold",
            color=colour,
        )
    ax.set_ylim(y + 0.4, 1.2)
    ax.grid(axis="x", color="0.92", linewidth=0.8)
    handles = {
        "estimate": Line2D([], [], marker="o", color=SUMMARY_COLOUR, label="Cox estimate (95% CI)"),
        "implied": Line2D(
            [],
            [],
            marker="*",
            linestyle="",
            markersize=12,
            markerfacecolor=TRUTH_COLOUR,
            markeredgecolor="black",
            label="implied total effect (planted)",
        ),
        "published": Line2D(
            [], [], marker="s", color=PUBLISHED_COLOUR, markerfacecolor="white", label="published joint model (95% CI)"
        ),
        "direct": Line2D(
            [],
            [],
            marker="D",
            linestyle="",
            markerfacecolor="white",
            markeredgecolor=TRUTH_COLOUR,
            markeredgewidth=1.4,
            label="planted direct effect",
        ),
    }
    ax.legend(
        handles=[h for key, h in handles.items() if key in shown],
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8.5,
    )
    if title is not None:
        ax.set_title(title)
    return ax


__all__ = [
    "KaplanMeierCurves",
    "SchoenfeldTrends",
    "plot_hazard_ratios",
    "plot_km_by_use",
    "plot_schoenfeld",
    "schoenfeld_limits",
]
