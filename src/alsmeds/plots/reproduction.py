"""The reproduction figure: the nine published estimates beside this bundle's, and the planted values."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from alsmeds.plots.axes import log_ratio_axis
from alsmeds.plots.palette import CLASS_COLOURS, NEUTRAL_COLOUR, PUBLISHED_COLOUR, TRUTH_COLOUR

#: Window labels of the published odds ratios.
WINDOW_TEXT = {"gt1": ">1 y", "0_1": "0-1 y", "1_5": "1-5 y", "gt5": ">5 y", "ever": "any use"}
#: Status -> marker fill of our estimate.
STATUS_TEXT = {"reproduced": "", "direction only": "  (direction only)", "not reproduced": "  (not reproduced)"}


def plot_published_vs_ours(card: pd.DataFrame, axes: np.ndarray | None = None) -> np.ndarray:
    """Per published ratio, the published estimate (square) above ours (dot), with 95% CIs; planted values as diamonds.

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
    panels = [("odds_ratio", "Risk of ALS: adjusted odds ratios"), ("hazard_ratio", "Prognosis: hazard ratios")]
    if axes is None:
        sizes = [max(1, int((card["kind"] == k).sum())) for k, _ in panels]
        _, axes = plt.subplots(2, 1, figsize=(9.0, 0.75 * sum(sizes) + 2.2), height_ratios=sizes)
    drew_planted = False
    for ax, (kind, title) in zip(axes, panels, strict=True):
        rows = card[card["kind"] == kind].reset_index(drop=True)
        labels, ticks, values = [], [], []
        for i, r in rows.iterrows():
            y = -float(i)
            colour = CLASS_COLOURS.get(str(r["target"]).split(":")[1], NEUTRAL_COLOUR)
            low, high = r["published_lower"], r["published_upper"]
            err = [[r["published"] - low], [high - r["published"]]] if np.isfinite(low) and np.isfinite(high) else None
            ax.errorbar(r["published"], y + 0.18, xerr=err, fmt="s", color=PUBLISHED_COLOUR, markerfacecolor="white",
                        capsize=3, markersize=6)  # fmt: skip
            values += [v for v in (r["published"], low, high) if np.isfinite(v)]
            if np.isfinite(r["estimate"]):
                err = [[r["estimate"] - r["ci_lower"]], [r["ci_upper"] - r["estimate"]]]
                ax.errorbar(r["estimate"], y - 0.18, xerr=err, fmt="o", color=colour, capsize=3, markersize=6)
                values += [r["estimate"], r["ci_lower"], r["ci_upper"]]
            else:
                ax.text(1.0, y - 0.18, f"  not estimable: {r['note']}", fontsize=8, va="center")
            if np.isfinite(r.get("planted", np.nan)):
                ax.scatter(r["planted"], y - 0.18, marker="D", s=45, facecolor="white", edgecolor=TRUTH_COLOUR,
                           linewidth=1.8, zorder=5)  # fmt: skip
                drew_planted = True
            name = str(r["target"]).split(":")[1]
            window = WINDOW_TEXT.get(str(r["target"]).split(":")[-1], "") if kind == "odds_ratio" else ""
            labels.append(f"{name} {window}".strip() + STATUS_TEXT.get(str(r["status"]), ""))
            ticks.append(y)
        log_ratio_axis(ax, values, always=(0.9, 2.5))
        ax.set_yticks(ticks, labels)
        ax.set_ylim(min(ticks, default=0) - 0.6, 0.6)
        ax.set_title(title, loc="left")
    handles = [
        Line2D([], [], marker="s", color=PUBLISHED_COLOUR, markerfacecolor="white", label="published (95% CI)"),
        Line2D([], [], marker="o", color=NEUTRAL_COLOUR, label="this bundle (95% CI)"),
    ]
    if drew_planted:
        handles.append(Line2D([], [], marker="D", linestyle="", markerfacecolor="white", markeredgecolor=TRUTH_COLOUR,
                              markeredgewidth=1.8, label="planted in the synthetic data"))  # fmt: skip
    axes[-1].legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncols=3, fontsize=9)
    axes[-1].set_xlabel("ratio (log scale)")
    return axes
