"""Figures of empirical calibration (notebook 10): the panel's estimates against the null, and calibrated intervals.

* :func:`plot_calibration_funnel` -- OHDSI's plot of the negative controls (estimate against its standard error):
  the region where a traditional test calls an estimate "significant" (outside ``0 +- 1.96 SE``) beside the
  region where the calibrated test does (outside the empirical null widened by the SE), with the positive
  controls at their true odds ratios;
* :func:`plot_calibrated_intervals` -- each main estimate's 95% CI before and after calibration.

Colours: :mod:`alsmeds.plots.palette` (a comparison's colour for its controls, the planted-truth colour for
true values, neutral grey for the traditional region).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from alsmeds.constants import Z_975
from alsmeds.labels import CLASS_LABELS, WINDOW_NAMES
from alsmeds.plots.axes import log_ratio_axis
from alsmeds.plots.palette import CLASS_COLOURS, COMPARISON_COLOURS, NEUTRAL_COLOUR, TRUTH_COLOUR, TRUTH_MARKER


def plot_calibration_funnel(
    controls: pd.DataFrame,
    diagnostic: Mapping[str, Any],
    comparison: str = "population",
    window: str = "gt1",
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """The panel's controls of one comparison and term: log odds ratio against standard error.

    Parameters
    ----------
    controls : DataFrame
        ``calibration_controls.csv``.
    diagnostic : mapping
        The comparison's and term's row of ``empirical_calibration.json`` ``diagnostics`` (``null_mu``, ``null_tau``).
    comparison, window : str
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        Negative controls as points (filled when the calibrated leave-one-out p is below 0.05), positive controls
        as open diamonds with their true odds ratio marked, the traditional "significant" region (grey dashed
        funnel: ``|log OR| > 1.96 SE``) and the calibrated one (shaded: outside ``mu +- 1.96 sqrt(tau^2 + SE^2)``).
    """
    rows = controls[(controls["comparison"] == comparison) & (controls["window"] == window)]
    rows = rows[rows["estimable"].astype(bool) & np.isfinite(rows["se"])]
    if ax is None:
        _, ax = plt.subplots(figsize=(7.0, 4.6))
    colour = COMPARISON_COLOURS.get(comparison, NEUTRAL_COLOUR)
    top = float(max(0.3, 1.1 * rows["se"].max())) if len(rows) else 0.3
    se = np.linspace(1e-3, top, 200)
    ax.plot(np.exp(Z_975 * se), se, color=NEUTRAL_COLOUR, ls="--", lw=1, label="traditional p < 0.05 outside")
    ax.plot(np.exp(-Z_975 * se), se, color=NEUTRAL_COLOUR, ls="--", lw=1)
    mu, tau = (np.nan if diagnostic.get(k) is None else float(diagnostic[k]) for k in ("null_mu", "null_tau"))
    if np.isfinite(mu) and np.isfinite(tau):
        half = Z_975 * np.sqrt(tau**2 + se**2)
        ax.fill_betweenx(se, np.exp(mu - half), np.exp(mu + half), color=colour, alpha=0.12, lw=0,
                         label="calibrated p >= 0.05 inside")  # fmt: skip
        ax.axvline(np.exp(mu), color=colour, lw=0.8, ls=":")
    negatives = rows[rows["control_type"] == "negative_control"]
    significant = negatives["loo_calibrated_p"] < 0.05
    ax.scatter(np.exp(negatives.loc[~significant, "log_or"]), negatives.loc[~significant, "se"], s=22,
               facecolors="none", edgecolors=colour, label="negative control")  # fmt: skip
    ax.scatter(np.exp(negatives.loc[significant, "log_or"]), negatives.loc[significant, "se"], s=22, color=colour,
               label="negative control, calibrated p < 0.05")  # fmt: skip
    positives = rows[rows["control_type"] == "positive_control"]
    ax.scatter(np.exp(positives["log_or"]), positives["se"], marker="D", s=30, facecolors="none",
               edgecolors=TRUTH_COLOUR, label="positive control")  # fmt: skip
    ax.scatter(np.exp(positives["true_log_or"]), positives["se"], marker=TRUTH_MARKER, s=60, color=TRUTH_COLOUR,
               label="its true odds ratio")  # fmt: skip
    values = [*np.exp(rows["log_or"]), *np.exp(positives["true_log_or"]), float(np.exp(Z_975 * top))]
    log_ratio_axis(ax, values, axis="x", label="odds ratio (log scale)")
    ax.set_ylim(top, 0)  # precise estimates at the top, as OHDSI draws it
    ax.set_ylabel("standard error of the log odds ratio")
    ax.set_title(f"Panel of controls: {comparison} comparison, {WINDOW_NAMES.get(window, window)}")
    ax.legend(loc="lower right", fontsize="small", frameon=False)
    return ax


def plot_calibrated_intervals(
    estimates: pd.DataFrame, comparison: str = "population", ax: plt.Axes | None = None
) -> plt.Axes:
    """Each main estimate of one comparison with its 95% CI before (open) and after (filled) calibration.

    Parameters
    ----------
    estimates : DataFrame
        ``empirical_calibration.csv``.
    comparison : str
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        One row per class and term, in the class's colour; the published targets marked with a dagger.
    """
    rows = estimates[estimates["comparison"] == comparison].reset_index(drop=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.0, 0.42 * max(len(rows), 1) + 1.2))
    y = np.arange(len(rows))[::-1].astype(float)
    for yi, r in zip(y, rows.itertuples(index=False), strict=True):
        c = CLASS_COLOURS.get(r.drug_class, NEUTRAL_COLOUR)
        ax.plot([r.ci_lower, r.ci_upper], [yi + 0.15] * 2, color=c, lw=1.2)
        ax.plot(r.odds_ratio, yi + 0.15, "o", mfc="white", mec=c)
        if np.isfinite(r.calibrated_odds_ratio):
            ax.plot([r.calibrated_ci_lower, r.calibrated_ci_upper], [yi - 0.15] * 2, color=c, lw=2.2)
            ax.plot(r.calibrated_odds_ratio, yi - 0.15, "o", color=c)
    labels = [
        f"{CLASS_LABELS.get(r.drug_class, r.drug_class)}, {WINDOW_NAMES.get(r.window, r.window)}"
        + (" \N{DAGGER}" if isinstance(r.published_target, str) and r.published_target else "")
        for r in rows.itertuples(index=False)
    ]
    ax.set_yticks(y, labels)
    values = [
        *rows["ci_lower"],
        *rows["ci_upper"],
        *rows["calibrated_ci_lower"].dropna(),
        *rows["calibrated_ci_upper"].dropna(),
    ]
    log_ratio_axis(ax, values, axis="x", label="odds ratio, 95% CI (open: uncalibrated; filled: calibrated)")
    ax.set_title(f"{comparison.capitalize()} comparison before and after calibration (\N{DAGGER}: published)")
    return ax
