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

from alsmeds.models.base import Z_975
from alsmeds.plots.palette import NEUTRAL_COLOUR, PUBLISHED_COLOUR, SUMMARY_COLOUR, TRUTH_COLOUR

#: Colour of intervals that cover the estimand / that miss it (zip plot).
COVER_COLOUR, MISS_COLOUR = "#92c5de", SUMMARY_COLOUR

#: Colour of each estimator family in the coverage overview.
FAMILY_COLOURS = {"risk": "#2166ac", "cox": "#8073ac", "mixed": "#35978f", "joint": "#e08214"}


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
    covers = z <= Z_975
    for covered, colour in ((True, COVER_COLOUR), (False, MISS_COLOUR)):
        m = covers == covered
        ax.hlines(centile[m], t[m] - Z_975 * s[m], t[m] + Z_975 * s[m], colors=colour, linewidth=0.9)
    ax.axvline(estimand, color=TRUTH_COLOUR, linewidth=2, zorder=3)
    mcse = np.sqrt(nominal * (1 - nominal) / n) * 100
    ax.axhspan(nominal * 100 - 1.96 * mcse, nominal * 100 + 1.96 * mcse, color=NEUTRAL_COLOUR, alpha=0.15, lw=0)
    ax.axhline(nominal * 100, color=NEUTRAL_COLOUR, linestyle="--", linewidth=1)
    ax.set_ylim(0, 100)
    ax.set_ylabel("centile of |z|")
    ax.set_title(
        f"{title}\ncoverage {covers.mean():.1%} of {n}" if title else f"coverage {covers.mean():.1%} of {n}",
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
        Line2D([], [], color=TRUTH_COLOUR, linewidth=2, label="estimand"),
        Line2D([], [], color=NEUTRAL_COLOUR, linestyle="--", label="95% (band: Monte Carlo 95% range)"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=4, bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig


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
        colour = FAMILY_COLOURS.get(str(family), NEUTRAL_COLOUR)
        ax.errorbar(
            x[rows.index],
            rows["coverage"],
            yerr=1.96 * rows["coverage_mcse"],
            fmt="o",
            ms=3.5,
            color=colour,
            ecolor=colour,
            elinewidth=0.8,
            label=f"{family} ({len(rows)})",
        )
    n = float(shown["n_estimable"].median()) if len(shown) else 1.0
    band = 1.96 * np.sqrt(nominal * (1 - nominal) / n)
    ax.axhspan(nominal - band, nominal + band, color=NEUTRAL_COLOUR, alpha=0.12, lw=0)
    ax.axhline(nominal, color=NEUTRAL_COLOUR, linestyle="--", linewidth=1)
    ax.set_xticks([])
    ax.set_xlabel("estimator (risk: comparison, model, window; Cox; mixed; joint)")
    ax.set_ylabel("coverage of the 95% CI")
    ax.legend(loc="lower left", ncol=4, fontsize=8)
    return ax


def plot_estimate_distributions(
    estimates: pd.DataFrame,
    published: pd.DataFrame,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """The replicates' ratios of each published target, with the estimand and the published value.

    Parameters
    ----------
    estimates : pandas.DataFrame
        Replicate estimates (log scale) with the key columns ``family``, ``model``,
        ``exposure``, ``term`` (and ``comparison``, ``stratum`` for the risk models).
    published : pandas.DataFrame
        :func:`alsmeds.simstudy.performance.published_percentiles`: one row per target with
        the estimator's keys, ``published`` (and its limits), ``estimand_ratio``,
        ``published_percentile`` and a ``label``.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Violins of the replicate odds and hazard ratios on a log axis (seaborn), the estimand
        (line), the published ratio (diamond) with its 95% CI, and the published value's
        percentile among the replicates.
    """
    ax = ax or plt.subplots(figsize=(9, 0.75 * len(published) + 1.2))[1]
    rows = []
    usable = estimates[estimates["estimable"].astype(bool) & np.isfinite(estimates["estimate"])]
    for i, p in enumerate(published.itertuples(index=False)):
        m = (
            (usable["family"] == p.family)
            & (usable["model"] == p.model)
            & (usable["exposure"] == p.exposure)
            & (usable["term"] == p.term)
        )
        if p.family == "risk":
            m &= (usable["comparison"] == "population") & (usable["stratum"] == "all")
        rows.append(pd.DataFrame({"label": p.label, "ratio": np.exp(usable.loc[m, "estimate"]), "row": i}))
    data = pd.concat(rows, ignore_index=True)
    order = list(published["label"])
    sns.violinplot(
        data=data,
        x="ratio",
        y="label",
        order=order,
        log_scale=True,
        inner="quart",
        cut=0,
        color="#d1e5f0",
        linewidth=0.8,
        density_norm="width",
        ax=ax,
    )
    for i, p in enumerate(published.itertuples(index=False)):
        ax.vlines(p.estimand_ratio, i - 0.4, i + 0.4, color=TRUTH_COLOUR, linewidth=2.2, zorder=4)
        if pd.notna(p.published_lower) and pd.notna(p.published_upper):
            ax.hlines(i + 0.3, p.published_lower, p.published_upper, color=PUBLISHED_COLOUR, linewidth=1.4, zorder=4)
        ax.plot(p.published, i + 0.3, "D", color=PUBLISHED_COLOUR, ms=6, zorder=5)
        ax.annotate(
            f"{p.published_percentile:.0f}th pct",
            (1.01, i),
            xycoords=("axes fraction", "data"),
            va="center",
            fontsize=8,
            color=PUBLISHED_COLOUR,
        )
    ax.axvline(1.0, color=NEUTRAL_COLOUR, linewidth=0.8)
    ax.set_xlabel("odds ratio or hazard ratio (log scale)")
    ax.set_ylabel("")
    handles = [
        plt.Rectangle((0, 0), 1, 1, color="#d1e5f0", label="replicate estimates"),
        Line2D([], [], color=TRUTH_COLOUR, linewidth=2.2, label="estimand (planted / implied)"),
        Line2D([], [], color=PUBLISHED_COLOUR, marker="D", linewidth=1.4, label="published (95% CI)"),
    ]
    ax.legend(handles=handles, loc="lower right", fontsize=8)
    return ax
