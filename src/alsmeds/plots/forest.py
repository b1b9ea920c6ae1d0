"""Forest plots of odds ratios."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES
from alsmeds.labels import CLASS_NAMES, WINDOW_NAMES
from alsmeds.plots.axes import log_ratio_axis
from alsmeds.plots.palette import COMPARISON_COLOURS, PUBLISHED_COLOUR, TRUTH_COLOUR

WINDOW_ORDER = ("gt1", "ever", "0_1", "1_5", "gt5")


def plot_forest(
    estimates: pd.DataFrame,
    published: pd.DataFrame | None = None,
    truth: pd.DataFrame | None = None,
    ax: plt.Axes | None = None,
    group_by: str = "comparison",
    colours: dict[str, str] | None = None,
    title: str | None = None,
    legend: bool = True,
) -> plt.Axes:
    """Odds ratios with 95% CIs, one row per class and window, one marker per group.

    Parameters
    ----------
    estimates : DataFrame
        Columns drug_class, window, odds_ratio, ci_lower, ci_upper, estimable and ``group_by``.
    published : DataFrame, optional
        drug_class, window, published_or, published_lower, published_upper: drawn as
        open diamonds with their CI.
    truth : DataFrame, optional
        drug_class, window, odds_ratio: the planted estimand, drawn as a star.
    group_by : str
        Column whose levels get a colour and a vertical offset (e.g. comparison, stratum).
    """
    colours = colours or COMPARISON_COLOURS
    groups = [g for g in colours if g in set(estimates[group_by])]
    rows = (
        estimates[["drug_class", "window"]]
        .drop_duplicates()
        .assign(class_order=lambda d: d["drug_class"].map({k: i for i, k in enumerate(CLASSES)}))
        .assign(
            window_order=lambda d: d["window"].map({w: i for i, w in enumerate(["gt1", "ever", "0_1", "1_5", "gt5"])})
        )
        .sort_values(["class_order", "window_order"])
    )
    n = len(rows)
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 0.55 * n + 1.5))
    extra = (published is not None) + (truth is not None)
    slots = len(groups) + extra
    offsets = np.linspace(0.22, -0.22, slots) if slots > 1 else np.zeros(1)
    y_of = {(r.drug_class, r.window): n - i for i, r in enumerate(rows.itertuples())}

    for j, g in enumerate(groups):
        sub = estimates[(estimates[group_by] == g) & estimates["estimable"].astype(bool)]
        y = np.array([y_of[(k, w)] for k, w in zip(sub["drug_class"], sub["window"], strict=True)]) + offsets[j]
        ax.errorbar(
            sub["odds_ratio"],
            y,
            xerr=[sub["odds_ratio"] - sub["ci_lower"], sub["ci_upper"] - sub["odds_ratio"]],
            fmt="o",
            color=colours[g],
            ecolor=colours[g],
            capsize=2,
            markersize=5,
            label=str(g),
        )
        missing = estimates[(estimates[group_by] == g) & ~estimates["estimable"].astype(bool)]
        for k, w in zip(missing["drug_class"], missing["window"], strict=True):
            ax.text(1.0, y_of[(k, w)] + offsets[j], "  not estimable", color=colours[g], fontsize=7, va="center")
    j = len(groups)
    if published is not None:
        pub = published[[(k, w) in y_of for k, w in zip(published["drug_class"], published["window"], strict=True)]]
        y = np.array([y_of[(k, w)] for k, w in zip(pub["drug_class"], pub["window"], strict=True)]) + offsets[j]
        ax.errorbar(
            pub["published_or"],
            y,
            xerr=[pub["published_or"] - pub["published_lower"], pub["published_upper"] - pub["published_or"]],
            fmt="D",
            color=PUBLISHED_COLOUR,
            markerfacecolor="white",
            capsize=2,
            markersize=6,
            label="published",
        )
        j += 1
    if truth is not None:
        tr = truth[[(k, w) in y_of for k, w in zip(truth["drug_class"], truth["window"], strict=True)]]
        y = np.array([y_of[(k, w)] for k, w in zip(tr["drug_class"], tr["window"], strict=True)]) + offsets[j]
        ax.scatter(
            tr["odds_ratio"],
            y,
            marker="*",
            s=90,
            color=TRUTH_COLOUR,
            edgecolor="black",
            linewidth=0.5,
            zorder=3,
            label="planted estimand",
        )

    drawn = [estimates["ci_lower"], estimates["ci_upper"], estimates["odds_ratio"]]
    if truth is not None:
        drawn.append(truth["odds_ratio"])
    if published is not None:
        drawn += [published["published_lower"], published["published_upper"]]
    log_ratio_axis(
        ax, np.concatenate([np.asarray(v, dtype=float) for v in drawn]), label="Odds ratio of ALS (log scale)"
    )
    ax.set_yticks(
        [y_of[(r.drug_class, r.window)] for r in rows.itertuples()],
        [f"{CLASS_NAMES[r.drug_class]}, {WINDOW_NAMES[r.window]}" for r in rows.itertuples()],
    )
    for i in range(1, len(CLASSES)):
        boundary = [y_of[(r.drug_class, r.window)] for r in rows.itertuples() if r.class_order == i]
        if boundary:
            ax.axhline(max(boundary) + 0.5, color="0.85", linewidth=0.8)
    if legend:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    if title:
        ax.set_title(title)
    return ax
