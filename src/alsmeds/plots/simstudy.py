"""Figures of the simulation study (notebook 09): zip plots, coverage overview, estimate distributions.

The functions take the frames of :mod:`alsmeds.simstudy` (replicate estimates with ``estimate``
and ``se`` on the model's scale, performance measures, published percentiles) and never compute
an estimate.  Colours come from :mod:`alsmeds.plots.palette`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.lines import Line2D

from alsmeds.constants import Z_975
from alsmeds.plots.axes import log_ratio_axis
from alsmeds.plots.palette import (
    INTERVAL_COVERS_COLOUR,
    INTERVAL_MISSES_COLOUR,
    NEUTRAL_COLOUR,
    PUBLISHED_COLOUR,
    PUBLISHED_MARKER,
    SUMMARY_COLOUR,
    TRUTH_COLOUR,
    TRUTH_MARKER,
)
from alsmeds.reporting.reproduction import ratio_target_name
from alsmeds.reporting.simstudy import ESTIMATOR_KEYS, FAMILY_NAMES
from alsmeds.truth import covers

#: Colour of intervals that cover the estimand / that miss it (zip plot).
COVER_COLOUR, MISS_COLOUR = INTERVAL_COVERS_COLOUR, INTERVAL_MISSES_COLOUR

#: Marker of each estimator family in the coverage overview (families are not drug classes: no class colours).
FAMILY_MARKERS = {"risk": "o", "cox": "s", "mixed": "^", "joint": "D"}
#: The estimators of notebook 09's zip plots: their keys (:data:`alsmeds.reporting.simstudy.ESTIMATOR_KEYS`) and title.
#: The population odds ratios of anxiolytics (>1 y; 1-5 y, the committed draw's far estimate), a sibling comparison,
#: the antidepressants' Cox (total) and joint-model (direct) log hazard ratios, alpha of the study's (censored) joint
#: model and of the paper's normal-outcome one, and the mixed model's ALSFRS-R slopes.
ZIP_PANELS: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("risk", "population", "per_class", "lagged", "all", "anxiolytics_gt1", "Anxiolytics >1 y, population (log OR)"),
    ("risk", "population", "per_class", "windows", "all", "anxiolytics_1_5", "Anxiolytics 1-5 y, population (log OR)"),
    ("risk", "sibling", "mutual", "windows", "all", "anxiolytics_0_1", "Anxiolytics 0-1 y, siblings (log OR)"),
    ("cox", "", "mutual", "ever", "all", "use_antidepressants", "Antidepressants, Cox total (log HR)"),
    ("joint", "", "joint_model", "ever", "all", "surv:antidepressants", "Antidepressants, joint direct (log HR)"),
    ("joint", "", "joint_model", "ever", "all", "alpha", "Joint alpha, censored outcome (per point)"),
    ("joint", "", "joint_model_normal", "ever", "all", "alpha", "Joint alpha, normal outcome (per point)"),
    ("mixed", "", "random_intercept_slope", "ever", "all", "antidepressants:months", "Mixed: AD slope difference"),
    ("mixed", "", "random_intercept_slope", "ever", "all", "months", "Mixed: non-user slope"),
)


def ordinal(n: int) -> str:
    """An English ordinal number: ``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``-``13th``, ``21st``, ``101st``.

    Parameters
    ----------
    n : int
        A whole number (a rounded percentile, a rank).

    Returns
    -------
    str
        ``n`` with its suffix: ``th`` after 11, 12 and 13 (and 111, 112, ...), else ``st``, ``nd``
        or ``rd`` after a last digit 1, 2 or 3, else ``th``.

    Examples
    --------
    >>> [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 41, 53)]
    ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '22nd', '23rd', '41st', '53rd']
    >>> [ordinal(n) for n in (100, 101, 111, 112, 113, 121)]
    ['100th', '101st', '111th', '112th', '113th', '121st']
    """
    n = int(n)
    suffix = "th" if abs(n) % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(abs(n) % 10, "th")
    return f"{n}{suffix}"


def plot_zip(
    estimate: np.ndarray | pd.Series,
    se: np.ndarray | pd.Series,
    estimand: float,
    ax: plt.Axes | None = None,
    title: str = "",
    nominal: float = 0.95,
) -> plt.Axes:
    """Zip plot of one estimator (Morris, White & Crowther 2019, Figure 3).

    Each replicate's 95% Wald interval (``estimate -/+ z se``) is a horizontal line, drawn at
    the fractional centile of ``|estimate - estimand| / se``: intervals that cover the estimand
    fill the bottom, those that miss it the top.  Coverage is where the colours meet; the
    dashed line is the nominal 95% and the band around it its Monte Carlo 95% range.

    Parameters
    ----------
    estimate, se : array-like
        Replicate estimates and model SEs (non-finite pairs are dropped).
    estimand : float
        The true value (vertical line).
    ax : matplotlib.axes.Axes, optional
    title : str
    nominal : float

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = ax or plt.subplots(figsize=(4.0, 4.0))[1]
    t, s = np.asarray(estimate, float), np.asarray(se, float)
    keep = np.isfinite(t) & np.isfinite(s)
    t, s = t[keep], s[keep]
    n = len(t)
    if n == 0:
        ax.text(0.5, 0.5, "no estimates", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title)
        return ax
    z = np.abs(t - estimand) / s
    order = np.argsort(z, kind="stable")
    centile = np.empty(n)
    centile[order] = (np.arange(n) + 0.5) / n * 100
    covered_by = covers(t - Z_975 * s, t + Z_975 * s, estimand)
    for covered, colour in ((True, COVER_COLOUR), (False, MISS_COLOUR)):
        m = covered_by == covered
        ax.hlines(centile[m], t[m] - Z_975 * s[m], t[m] + Z_975 * s[m], colors=colour, linewidth=0.9)
    ax.axvline(estimand, color=TRUTH_COLOUR, linewidth=2, zorder=3)
    ax.scatter([estimand], [100], marker=TRUTH_MARKER, s=120, color=TRUTH_COLOUR, clip_on=False, zorder=4)
    mcse = np.sqrt(nominal * (1 - nominal) / n) * 100
    ax.axhspan(nominal * 100 - Z_975 * mcse, nominal * 100 + Z_975 * mcse, color=NEUTRAL_COLOUR, alpha=0.15, lw=0)
    ax.axhline(nominal * 100, color=NEUTRAL_COLOUR, linestyle="--", linewidth=1)
    ax.set_ylim(0, 100)
    ax.set_ylabel("centile of |z|")
    ax.set_title(
        f"{title}\ncoverage {covered_by.mean():.1%} of {n}" if title else f"coverage {covered_by.mean():.1%} of {n}",
        fontsize=10,
    )
    return ax


def plot_zip_grid(
    estimates: pd.DataFrame,
    panels: Sequence[Mapping[str, object]],
    ncols: int = 3,
    panel_size: tuple[float, float] = (3.6, 3.4),
) -> plt.Figure:
    """Zip plots of several estimators side by side.

    Parameters
    ----------
    estimates : pandas.DataFrame
        Replicate estimates with ``estimate``, ``se``, ``estimable`` and the key columns.
    panels : sequence of mapping
        Per panel: ``key`` (mapping column -> value selecting the estimator's rows),
        ``estimand`` (float), ``title`` (str), optionally ``xlabel``.
    ncols : int
    panel_size : (width, height) in inches

    Returns
    -------
    matplotlib.figure.Figure
    """
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows), squeeze=False)
    for ax, panel in zip(axes.flat, panels, strict=False):
        rows = estimates[estimates["estimable"].astype(bool)]
        for column, value in dict(panel["key"]).items():
            rows = rows[rows[column] == value]
        plot_zip(rows["estimate"], rows["se"], float(panel["estimand"]), ax=ax, title=str(panel["title"]))
        ax.set_xlabel(str(panel.get("xlabel", "estimate and 95% CI")))
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    handles = [
        Line2D([], [], color=COVER_COLOUR, label="interval covers the truth"),
        Line2D([], [], color=MISS_COLOUR, label="interval misses it"),
        Line2D([], [], color=TRUTH_COLOUR, linewidth=2, marker=TRUTH_MARKER, markersize=10, label="estimand"),
        Line2D([], [], color=NEUTRAL_COLOUR, linestyle="--", label="95% (band: Monte Carlo 95% range)"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=4, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


def plot_selected_zips(
    estimates: pd.DataFrame,
    performance: pd.DataFrame,
    panels: Sequence[Sequence[str]] = ZIP_PANELS,
) -> plt.Figure:
    """Zip plots (:func:`plot_zip_grid`) of chosen estimators, each against its estimand in ``performance``.

    Parameters
    ----------
    estimates : pandas.DataFrame
        Replicate estimates (``estimate``, ``se``, ``estimable`` and the key columns).
    performance : pandas.DataFrame
        :func:`alsmeds.reporting.simstudy.performance_measures` or ``results/simstudy_performance.csv``
        (a missing comparison is read as ``""``): the estimand of each panel.
    panels : sequence of sequences
        Per panel the six estimator keys and a title (default :data:`ZIP_PANELS`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    keys = list(ESTIMATOR_KEYS)
    indexed = performance.assign(comparison=performance["comparison"].fillna("")).set_index(keys)
    chosen = [
        {"key": dict(zip(keys, p[:6], strict=True)), "estimand": indexed.loc[tuple(p[:6]), "estimand"], "title": p[6]}
        for p in panels
    ]
    return plot_zip_grid(estimates, chosen)


def plot_coverage_overview(performance: pd.DataFrame, ax: plt.Axes | None = None, nominal: float = 0.95) -> plt.Axes:
    """Coverage of every estimator with its Monte Carlo 95% interval, by family, against the nominal 95%.

    Parameters
    ----------
    performance : pandas.DataFrame
        :func:`alsmeds.simstudy.performance.performance_measures` (``family``, ``coverage``,
        ``coverage_mcse``, ``n_estimable``).
    ax : matplotlib.axes.Axes, optional
    nominal : float

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = ax or plt.subplots(figsize=(10, 3.6))[1]
    shown = performance[performance["n_estimable"] > 0].reset_index(drop=True)
    x = np.arange(len(shown))
    for family, rows in shown.groupby("family", sort=False):
        ax.errorbar(
            x[rows.index],
            rows["coverage"],
            yerr=Z_975 * rows["coverage_mcse"],
            fmt=FAMILY_MARKERS.get(str(family), "o"),
            ms=4,
            color=SUMMARY_COLOUR,
            ecolor=NEUTRAL_COLOUR,
            elinewidth=1,
            label=f"{FAMILY_NAMES.get(str(family), family)} ({len(rows)})",
        )
        if rows.index.min() > 0:
            ax.axvline(rows.index.min() - 0.5, color=NEUTRAL_COLOUR, linewidth=0.8, linestyle=":")
    n = float(shown["n_estimable"].median()) if len(shown) else 1.0
    band = Z_975 * np.sqrt(nominal * (1 - nominal) / n)
    ax.axhspan(nominal - band, nominal + band, color=NEUTRAL_COLOUR, alpha=0.2, lw=0)
    ax.axhline(nominal, color=SUMMARY_COLOUR, linestyle="--", linewidth=1)
    ax.set_xticks([])
    ax.set_xlim(-1, max(len(shown), 1))
    ax.set_xlabel("estimator (risk: comparison, model, window; then Cox, mixed and joint models)")
    ax.set_ylabel("coverage of the 95% CI")
    ax.legend(loc="lower left", ncol=4, fontsize=9)
    return ax


def coverage_overview_figure(performance: pd.DataFrame, figsize: tuple[float, float] = (11.0, 3.8)) -> plt.Figure:
    """:func:`plot_coverage_overview` on a figure of its own, titled (notebook 09)."""
    fig, ax = plt.subplots(figsize=figsize)
    plot_coverage_overview(performance, ax=ax)
    ax.set_title("Coverage of the 95% intervals, every estimator (bars: Monte Carlo 95% interval)")
    return fig


def _target_draws(estimates: pd.DataFrame, p: object) -> np.ndarray:
    """The replicates' ratios of the estimator behind one published target (a row of ``published``)."""
    usable = estimates[estimates["estimable"].astype(bool) & np.isfinite(estimates["estimate"])]
    m = (
        (usable["family"] == p.family)
        & (usable["model"] == p.model)
        & (usable["exposure"] == p.exposure)
        & (usable["term"] == p.term)
    )
    if p.family == "risk":
        m &= (usable["comparison"] == "population") & (usable["stratum"] == "all")
    return np.exp(usable.loc[m, "estimate"].to_numpy(float))


def plot_estimate_distributions(
    estimates: pd.DataFrame,
    published: pd.DataFrame,
    ncols: int = 3,
    panel_size: tuple[float, float] = (3.9, 2.8),
) -> plt.Figure:
    """The replicates' ratios of each published target, one panel each, with the estimand and the published value.

    Parameters
    ----------
    estimates : pandas.DataFrame
        Replicate estimates (log scale) with the key columns ``family``, ``model``,
        ``exposure``, ``term`` (and ``comparison``, ``stratum`` for the risk models).
    published : pandas.DataFrame
        :func:`alsmeds.simstudy.performance.published_percentiles`: one row per target with
        the estimator's keys, ``published`` (and its limits), ``estimand_ratio``,
        ``published_percentile`` and optionally a ``label`` (default: the target's readable name).
    ncols : int
        Panels per row.
    panel_size : (width, height) in inches
        At most 12 inches wide in all.

    Returns
    -------
    matplotlib.figure.Figure
        Per target a histogram of the replicate odds or hazard ratios (seaborn, neutral grey) on
        the shared log-ratio axis, the estimand (magenta line and star), the published ratio
        (black open square with its 95% CI) and its percentile among the replicates.
    """
    n = max(1, len(published))
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows), squeeze=False)
    for ax, p in zip(axes.flat, published.itertuples(index=False), strict=False):
        draws = _target_draws(estimates, p)
        if len(draws):
            sns.histplot(x=draws, bins=25, log_scale=True, color=NEUTRAL_COLOUR, edgecolor="white", ax=ax)
        else:
            ax.text(0.5, 0.5, "no replicate estimates", ha="center", va="center", transform=ax.transAxes)
        top = ax.get_ylim()[1] if len(draws) else 1.0
        ax.set_ylim(0, top * 1.35)
        references = [p.published, p.published_lower, p.published_upper, p.estimand_ratio]
        if pd.notna(p.estimand_ratio):
            ax.axvline(p.estimand_ratio, color=TRUTH_COLOUR, linewidth=1.8, zorder=4)
            ax.scatter([p.estimand_ratio], [top * 1.22], marker=TRUTH_MARKER, s=130, color=TRUTH_COLOUR, zorder=5)
        if pd.notna(p.published_lower) and pd.notna(p.published_upper):
            ax.hlines(top * 1.08, p.published_lower, p.published_upper, color=PUBLISHED_COLOUR, linewidth=1.5, zorder=5)
        ax.plot(p.published, top * 1.08, PUBLISHED_MARKER, color=PUBLISHED_COLOUR, markerfacecolor="white", ms=7,
                zorder=6)  # fmt: skip
        finite = [v for v in references if pd.notna(v)]
        if len(draws):
            finite += [float(np.quantile(draws, 0.005)), float(np.quantile(draws, 0.995))]
        log_ratio_axis(ax, finite, always=(1.0, 1.0), max_ticks=5)
        title = str(getattr(p, "label", "") or ratio_target_name(p.target))
        if pd.notna(p.published_percentile):
            title += f"\npublished value at the {ordinal(round(p.published_percentile))} percentile"
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("replicates")
        ax.set_xlabel("")
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    handles = [
        plt.Rectangle((0, 0), 1, 1, color=NEUTRAL_COLOUR, label="replicate estimates"),
        Line2D([], [], color=TRUTH_COLOUR, linewidth=1.8, marker=TRUTH_MARKER, markersize=10,
               label="estimand (planted / implied)"),
        Line2D([], [], color=PUBLISHED_COLOUR, marker=PUBLISHED_MARKER, markerfacecolor="white", linewidth=1.5,
               label="published (95% CI)"),
    ]  # fmt: skip
    fig.supxlabel("odds ratio (risk) or hazard ratio (prognosis), log scale", fontsize=11)
    fig.legend(handles=handles, loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.04), fontsize=10)
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    return fig


#: Line styles and markers of the estimators of a nested-loop plot (estimators are not classes: no class colours).
NESTED_LOOP_STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1)), "v"), ((0, (1, 3)), "P"))
#: Reference value of each measure in a nested-loop plot (drawn as a dashed line).
NESTED_LOOP_REFERENCE = {"coverage": 0.95, "be_coverage": 0.95, "bias": 0.0, "bias_over_empse": 0.0,
                         "relerr_modse": 0.0}  # fmt: skip


def plot_nested_loop(
    performance: pd.DataFrame,
    measure: str,
    estimators: Sequence[str] | Mapping[str, str],
    mechanisms: pd.DataFrame,
    factor_levels: Mapping[str, Sequence[str]] | None = None,
    z: float = Z_975,
    figsize: tuple[float, float] = (10.0, 6.0),
) -> plt.Figure:
    """Nested-loop plot of one performance measure across data-generating mechanisms (Ruecker & Schwarzer 2014).

    The mechanisms are ordered lexicographically by their factors (the first factor the outermost loop, each
    factor's levels in the order given) along the x axis; each estimator's measure is a step function over
    them (one horizontal step per mechanism) with its Monte Carlo 95% interval (``value +- z mcse``) at the
    step's centre; below, the "nested loop" legend draws each factor's level as a step line of its own, so
    a jump of an estimator's line can be read off against the factor that changed (Ruecker G, Schwarzer G.
    Presenting simulation results in a nested loop plot. BMC Med Res Methodol 2014;14:129).  The mechanisms
    need not be a full factorial design: only those given (and present in ``performance``) are drawn.

    Parameters
    ----------
    performance : pandas.DataFrame
        Long performance table with ``mechanism``, ``estimator``, ``measure``, ``value`` and ``mcse``
        (:func:`alsmeds.analyses.mechanisms.mechanism_performance`, ``results/simstudy_mechanisms.csv``).
    measure : str
        The measure drawn (``coverage``, ``bias_over_empse``, ``relerr_modse``, ...).
    estimators : sequence of str, or mapping of str to str
        The estimators drawn (labels of the ``estimator`` column), or label -> name shown in the legend.
    mechanisms : pandas.DataFrame
        Indexed by mechanism; one column per factor holding the mechanism's level (e.g.
        ``alsmeds.simstudy.mechanisms.mechanism_table()[list(FACTORS)]``).
    factor_levels : mapping of str to sequence of str, optional
        Order of each factor's levels (e.g. :data:`alsmeds.simstudy.mechanisms.FACTORS`); default: the order
        of first appearance.  Factors with a single level among the mechanisms drawn are left out of the
        legend (they do not vary).
    z : float
        Multiplier of the Monte Carlo SE of the bars (default: the 97.5% normal quantile).
    figsize : (width, height) in inches

    Returns
    -------
    matplotlib.figure.Figure
        Two axes sharing x: the measure (top; a dashed reference line at 0.95 for coverage, 0 for a bias or a
        relative error) and the factor levels (bottom).
    """
    names = dict(estimators) if isinstance(estimators, Mapping) else {e: e for e in estimators}
    rows = performance[(performance["measure"] == measure) & performance["estimator"].isin(list(names))]
    present = [m for m in mechanisms.index if m in set(rows["mechanism"])]
    table = mechanisms.loc[present]
    levels = {
        f: list(factor_levels[f]) if factor_levels is not None and f in factor_levels else list(dict.fromkeys(table[f]))
        for f in table.columns
    }
    codes = pd.DataFrame({f: [levels[f].index(v) for v in table[f]] for f in table.columns}, index=table.index)
    order = codes.sort_values(list(codes.columns), kind="stable").index.tolist()
    n = len(order)
    edges = np.arange(n + 1)
    fig, (ax, legend_ax) = plt.subplots(
        2, 1, sharex=True, figsize=figsize, gridspec_kw={"height_ratios": [3.0, 1.6], "hspace": 0.05}
    )
    for i, (label, shown) in enumerate(names.items()):
        series = rows[rows["estimator"] == label].set_index("mechanism").reindex(order)
        values = series["value"].to_numpy(float)
        linestyle, marker = NESTED_LOOP_STYLES[i % len(NESTED_LOOP_STYLES)]
        ax.step(edges, np.append(values, values[-1:]), where="post", color=SUMMARY_COLOUR, linestyle=linestyle,
                linewidth=1.4, label=shown)  # fmt: skip
        ax.errorbar(edges[:-1] + 0.5, values, yerr=z * series["mcse"].to_numpy(float), fmt=marker, ms=4,
                    color=SUMMARY_COLOUR, ecolor=NEUTRAL_COLOUR, elinewidth=1)  # fmt: skip
    if measure in NESTED_LOOP_REFERENCE:
        ax.axhline(NESTED_LOOP_REFERENCE[measure], color=TRUTH_COLOUR, linestyle="--", linewidth=1)
    ax.set_ylabel(measure)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.01), ncol=2, fontsize=8, frameon=False)
    varying = [f for f in codes.columns if len(set(codes.loc[order, f])) > 1]
    for j, f in enumerate(varying):
        base = (len(varying) - 1 - j) * 1.5
        span = max(1, len(levels[f]) - 1)
        y = base + codes.loc[order, f].to_numpy(float) / span
        legend_ax.step(edges, np.append(y, y[-1:]), where="post", color=SUMMARY_COLOUR, linewidth=1.2)
        legend_ax.text(-0.1, base + 0.5, f"{f}\n({' / '.join(levels[f])})", ha="right", va="center", fontsize=8)
    legend_ax.set_yticks([])
    legend_ax.set_ylim(-0.4, max(1, len(varying)) * 1.5 - 0.1)
    legend_ax.set_xticks(edges[:-1] + 0.5)
    legend_ax.set_xticklabels(order, rotation=30, ha="right", fontsize=8)
    legend_ax.set_xlim(0, max(n, 1))
    legend_ax.set_xlabel("data-generating mechanism (nested loop of the factors below: low to high level)")
    return fig
