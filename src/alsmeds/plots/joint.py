"""Figures of the joint model: hazard ratios beside their references, dynamic predictions, the two-stage contrast."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from alsmeds.constants import CLASSES, Z_975
from alsmeds.labels import CLASS_LABELS
from alsmeds.plots.axes import log_ratio_axis
from alsmeds.plots.palette import (
    CLASS_COLOURS,
    EVENT_COLOURS,
    NEUTRAL_COLOUR,
    NON_USER_COLOUR,
    PUBLISHED_COLOUR,
    PUBLISHED_MARKER,
    SUMMARY_COLOUR,
    TRUTH_COLOUR,
    TRUTH_MARKER,
)

#: Marker of each kind of estimate in :func:`plot_prognosis_forest` (the published square is the paper's).
SOURCE_MARKERS = {"joint": "o", "two_stage": "^", "cox": "v"}
#: Line style of each kind of estimate's interval: sources are told apart by marker and line, not colour.
SOURCE_LINESTYLES = {"joint": "-", "two_stage": "--", "cox": ":"}
#: Line styles of successive landmarks in :func:`plot_dynamic_predictions`.
LANDMARK_LINESTYLES = ("-", "--", "-.", ":")
#: Height, in rows, above an estimate at which its planted value's star is drawn: beside the estimate, not on it.
TRUTH_ROW_OFFSET = 0.36
#: Row label of each kind of estimate.
SOURCE_LABELS = {
    "joint": "Joint model (direct effect)",
    "two_stage": "Two-stage Cox (predicted ALSFRS-R)",
    "cox": "Cox of notebook 05 (total effect)",
}


def plot_prognosis_forest(
    estimates: pd.DataFrame,
    published: Mapping[str, tuple[float, float | None, float | None]] | None = None,
    planted_direct: Mapping[str, float] | None = None,
    *,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Hazard ratios of prediagnostic use from the joint model beside the Cox and two-stage models and the paper.

    Per class (in the class's colour), one row per kind of estimate (``source``: joint, two_stage,
    cox; told apart by marker and line style, :data:`SOURCE_MARKERS`, :data:`SOURCE_LINESTYLES`;
    95% CIs, or the reason when not estimable), then the published joint-model HR (black open
    square, with its CI when available to us); the planted direct HR of synthetic data is a magenta
    star just above the joint-model row (:data:`TRUTH_ROW_OFFSET`), so that an estimate on the
    planted value stays visible beside it.

    Parameters
    ----------
    estimates : DataFrame
        ``drug_class``, ``source``, ``hazard_ratio``, ``ci_lower``, ``ci_upper`` (of the HR),
        ``estimable``, ``reason``.
    published : mapping, optional
        class -> (HR, lower, upper) (:data:`alsmeds.published.PUBLISHED_PROGNOSIS`).
    planted_direct : mapping, optional
        class -> planted direct hazard ratio (synthetic data only).
    ax : Axes, optional

    Returns
    -------
    Axes
    """
    classes = [k for k in CLASSES if k in set(estimates["drug_class"])]
    sources = [s for s in SOURCE_LABELS if s in set(estimates["source"])]
    if ax is None:
        _, ax = plt.subplots(figsize=(9.0, (len(sources) + 1.7) * 0.42 * len(classes) + 1.2))
    labels, ypos, drawn, shown = [], [], [], set()
    y = 0.0
    for k in classes:
        colour = CLASS_COLOURS.get(k, SUMMARY_COLOUR)
        ax.text(
            0.0,
            y + 0.8,
            CLASS_LABELS.get(k, k),
            transform=ax.get_yaxis_transform(),
            ha="left",
            fontweight="bold",
            color=colour,
        )
        for source in sources:
            sel = estimates[(estimates["drug_class"] == k) & (estimates["source"] == source)]
            if sel.empty:
                continue
            r = sel.iloc[0]
            if bool(r.get("estimable", True)) and np.isfinite(r["hazard_ratio"]):
                bars = ax.errorbar(
                    r["hazard_ratio"],
                    y,
                    xerr=[[r["hazard_ratio"] - r["ci_lower"]], [r["ci_upper"] - r["hazard_ratio"]]],
                    fmt=SOURCE_MARKERS[source],
                    color=colour,
                    markerfacecolor=colour if source == "joint" else "white",
                    capsize=3,
                    markersize=7,
                    elinewidth=1.6,
                )
                bars[2][0].set_linestyle(SOURCE_LINESTYLES[source])
                drawn += [r["ci_lower"], r["ci_upper"]]
            else:
                ax.text(
                    1.0,
                    y,
                    f"  not estimable: {r.get('reason') or 'no estimate'}",
                    fontsize=9,
                    va="center",
                    color=colour,
                )
            if source == "joint" and planted_direct and np.isfinite(planted_direct.get(k, np.nan)):
                ax.scatter(
                    planted_direct[k],
                    y + TRUTH_ROW_OFFSET,
                    marker=TRUTH_MARKER,
                    s=130,
                    color=TRUTH_COLOUR,
                    edgecolor="white",
                    zorder=5,
                )
                drawn.append(planted_direct[k])
                shown.add("planted")
            labels.append(SOURCE_LABELS[source])
            ypos.append(y)
            y -= 1
        if published and k in published:
            hr, lo, hi = published[k]
            err = None if lo is None or hi is None else [[hr - lo], [hi - hr]]
            ax.errorbar(
                hr,
                y,
                xerr=err,
                fmt=PUBLISHED_MARKER,
                color=PUBLISHED_COLOUR,
                markerfacecolor="white",
                capsize=3,
                markersize=7,
            )
            drawn += [v for v in (hr, lo, hi) if v is not None]
            labels.append("Published joint model" + ("" if err is not None else " (CI not available to us)"))
            ypos.append(y)
            y -= 1
        y -= 0.9
    log_ratio_axis(ax, drawn, always=(0.8, 2.6))
    ax.set_yticks(ypos, labels)
    ax.set_ylim(y + 0.5, 1.4)
    ax.set_xlabel("hazard ratio of death or invasive ventilation, users vs non-users (log scale)")
    handles = [
        Line2D([], [], marker=PUBLISHED_MARKER, color=PUBLISHED_COLOUR, markerfacecolor="white", label="published")
    ]
    if "planted" in shown:
        handles.append(
            Line2D(
                [],
                [],
                marker=TRUTH_MARKER,
                linestyle="",
                color=TRUTH_COLOUR,
                markersize=11,
                label="planted direct effect (synthetic data; star above the joint-model row)",
            )
        )
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncols=len(handles), fontsize=9)
    return ax


def panel_colour(panel: Mapping[str, object]) -> str:
    """The colour of a patient's group in :func:`plot_dynamic_predictions`.

    ``colour`` when given; else, with ``exposure`` and ``user``, the class colour for a user
    and the non-user grey; else the summary colour.
    """
    if panel.get("colour"):
        return str(panel["colour"])
    if "exposure" in panel and "user" in panel:
        return CLASS_COLOURS.get(str(panel["exposure"]), SUMMARY_COLOUR) if panel["user"] else NON_USER_COLOUR
    return SUMMARY_COLOUR


def plot_dynamic_predictions(
    patients: Sequence[Mapping[str, object]], horizon_months: float = 24.0, axes: np.ndarray | None = None
) -> np.ndarray:
    """Each patient's visits and the survival curve predicted from each visit on (one column per patient).

    Parameters
    ----------
    patients : sequence of mappings
        ``title`` (str), ``visits`` (DataFrame: ``months``, ``score``), ``end`` (months of the end of
        follow-up), ``status`` (how it ended), ``curves`` (mapping landmark month -> DataFrame
        ``time``, ``survival`` and optionally ``lower``, ``upper``), and optionally the
        patient's group: ``colour``, or ``exposure`` and ``user`` (:func:`panel_colour`: the
        class colour for a user, the non-user grey; default the summary colour), as
        :func:`alsmeds.reporting.joint_results.prediction_panels` returns them.  Successive
        landmarks are told apart by line style (:data:`LANDMARK_LINESTYLES`).
    horizon_months : float
        How far ahead each curve is drawn.
    axes : array of Axes, optional
        Shape (2, len(patients)).

    Returns
    -------
    array of Axes
    """
    n = len(patients)
    if axes is None:
        _, axes = plt.subplots(2, n, figsize=(4.8 * n, 6.6), sharex="col", height_ratios=[1, 1.2], squeeze=False)
    for j, p in enumerate(patients):
        top, bottom = axes[0, j], axes[1, j]
        visits = p["visits"]
        curves = p["curves"]
        colour = panel_colour(p)
        landmarks = sorted(curves)
        styles = {s: LANDMARK_LINESTYLES[i % len(LANDMARK_LINESTYLES)] for i, s in enumerate(landmarks)}
        top.plot(visits["months"], visits["score"], "o-", color=colour, markersize=5, linewidth=1)
        for s in landmarks:
            top.axvline(s, color=NEUTRAL_COLOUR, linewidth=1.2, linestyle=styles[s])
        end, status = float(p["end"]), str(p["status"])
        marker = {"death": "X", "invasive_ventilation": "^"}.get(status)
        if marker:
            top.scatter([end], [visits["score"].iloc[-1]], marker=marker, s=90, color=EVENT_COLOURS[status], zorder=5)
        top.set_title(str(p["title"]), fontsize=11)
        top.set_ylabel("ALSFRS-R")
        top.set_ylim(-1, 49)
        for s in landmarks:
            c = curves[s]
            bottom.plot(
                c["time"], c["survival"], color=colour, linestyle=styles[s], linewidth=2, label=f"month {s:.0f}"
            )
            if "lower" in c:
                bottom.fill_between(c["time"], c["lower"], c["upper"], color=colour, alpha=0.12, linewidth=0)
        bottom.axvline(end, color=EVENT_COLOURS.get(status, SUMMARY_COLOUR), linewidth=1.2, linestyle="--")
        bottom.text(end, 1.02, f" {status.replace('_', ' ')}" if marker else " censored", fontsize=9, va="bottom")
        bottom.set_ylim(0, 1.08)
        bottom.set_xlim(0, max(end, max(landmarks) + horizon_months) * 1.02)
        bottom.set_xlabel("months since diagnosis")
        bottom.set_ylabel("P(event-free | data so far)")
        bottom.legend(
            fontsize=9,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.2),
            ncols=len(landmarks),
            title="prediction from",
            title_fontsize=9,
            handlelength=2.6,
        )
    return axes


def plot_two_stage_contrast(table: pd.DataFrame, truth: float | None = None, ax: plt.Axes | None = None) -> plt.Axes:
    """``alpha`` (log HR per ALSFRS-R point) by method and data, with 95% CIs and the planted value.

    Parameters
    ----------
    table : DataFrame
        ``data`` (which visits), ``method`` (joint or two_stage), ``estimate``, ``ci_lower``, ``ci_upper``.
    truth : float, optional
        The planted association: a dotted vertical line, and a star just above each row
        (:data:`TRUTH_ROW_OFFSET` of the row spacing), beside the estimate rather than on it.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8.0, 0.55 * len(table) + 1.2))
    rows = table.reset_index(drop=True)
    y = -np.arange(len(rows), dtype=float)
    for yi, r in zip(y, rows.itertuples(), strict=True):
        source = "joint" if r.method == "joint" else "two_stage"
        bars = ax.errorbar(
            r.estimate,
            yi,
            xerr=[[r.estimate - r.ci_lower], [r.ci_upper - r.estimate]],
            fmt=SOURCE_MARKERS[source],
            color=SUMMARY_COLOUR,
            markerfacecolor=SUMMARY_COLOUR if source == "joint" else "white",
            capsize=3,
            markersize=7,
        )
        bars[2][0].set_linestyle(SOURCE_LINESTYLES[source])
    if truth is not None:
        ax.axvline(truth, color=TRUTH_COLOUR, linewidth=1, linestyle=":", zorder=0)
        ax.scatter(np.full(len(y), truth), y + TRUTH_ROW_OFFSET, marker=TRUTH_MARKER, s=110, color=TRUTH_COLOUR,
                   zorder=4, label=f"planted alpha ({truth:g})")  # fmt: skip
        ax.legend(loc="lower right", fontsize=9)
    ax.axvline(0, color="0.55", linewidth=1)
    ax.set_yticks(
        y, [f"{r.data}: {'joint model' if r.method == 'joint' else 'two-stage Cox'}" for r in rows.itertuples()]
    )
    ax.set_xlabel("alpha: log hazard ratio per ALSFRS-R point of the current score")
    return ax


#: Colour and marker of each model in the accuracy figure (the joint model as in the forest plot, the Cox model grey).
ACCURACY_STYLE = {"joint": (SUMMARY_COLOUR, "o", "joint model"), "landmark_cox": (NEUTRAL_COLOUR, "s", "landmark Cox")}


def plot_prediction_accuracy(accuracy: pd.DataFrame, z: float = Z_975) -> plt.Figure:
    """AUC and Brier score with 95% intervals, the joint model beside the landmark Cox model, per landmark and horizon.

    Parameters
    ----------
    accuracy : DataFrame
        ``results/prediction_accuracy.csv`` (the rows of models ``joint`` and ``landmark_cox``).
    z : float
        Normal quantile of the intervals (``alsmeds.constants.Z_975``).

    Returns
    -------
    matplotlib.figure.Figure
        Two panels: time-dependent AUC (higher is better; 0.5 is a coin) and Brier score (lower is
        better), one group of points per landmark and horizon.
    """
    rows = accuracy[accuracy["model"].isin(list(ACCURACY_STYLE))].dropna(subset=["auc"])
    cells = rows[["landmark", "horizon"]].drop_duplicates().sort_values(["landmark", "horizon"])
    labels = [f"from {s:g} mo,\nnext {w:g} mo" for s, w in cells.itertuples(index=False)]
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.2))
    for ax, score, better in ((axes[0], "auc", "higher is better"), (axes[1], "brier", "lower is better")):
        for shift, (model, (colour, marker, name)) in zip((-0.12, 0.12), ACCURACY_STYLE.items(), strict=True):
            mine = cells.merge(rows[rows["model"] == model], on=["landmark", "horizon"], how="left")
            x = np.arange(len(cells)) + shift
            ax.errorbar(x, mine[score], yerr=z * mine[f"{score}_se"], fmt=marker, color=colour, mec=colour,
                        capsize=3, label=name)  # fmt: skip
        ax.set_xticks(np.arange(len(cells)), labels)
        ax.set_title(f"{'Time-dependent AUC' if score == 'auc' else 'Brier score'} ({better})")
        ax.grid(axis="y", alpha=0.3)
    axes[0].axhline(0.5, color=NEUTRAL_COLOUR, lw=0.8, ls=":")
    axes[0].legend(loc="lower right", frameon=False)
    fig.suptitle("Dynamic predictions of death or invasive ventilation, 95% intervals (in sample)")
    fig.tight_layout()
    return fig


def plot_prediction_calibration(calibration: pd.DataFrame, z: float = Z_975) -> plt.Figure:
    """Observed against predicted risk in groups of patients, the joint model beside the landmark Cox model.

    Parameters
    ----------
    calibration : DataFrame
        ``results/prediction_calibration.csv`` (risk groups of models ``joint`` and ``landmark_cox``).
    z : float
        Normal quantile of the intervals around the observed (Kaplan-Meier) risks.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per landmark and horizon: each risk group's mean predicted risk (x) against its
        observed risk (y) with a 95% interval; points on the diagonal are calibrated.  A figure
        saying why when there is no table.
    """
    rows = calibration[calibration["model"].isin(list(ACCURACY_STYLE))].dropna(subset=["observed_risk", "mean_risk"])
    cells = rows[["landmark", "horizon"]].drop_duplicates().sort_values(["landmark", "horizon"])
    if cells.empty:
        fig, ax = plt.subplots(figsize=(6.0, 2.0))
        reasons = calibration["reason"].dropna().astype(str) if "reason" in calibration else pd.Series(dtype=str)
        ax.text(0.5, 0.5, "no calibration table: " + (reasons.iloc[0] if len(reasons) else "no risks scored"),
                ha="center", va="center", wrap=True)  # fmt: skip
        ax.set_axis_off()
        return fig
    fig, axes = plt.subplots(
        1, len(cells), figsize=(min(12.0, 2.9 * len(cells)), 3.6), squeeze=False, sharey=True, layout="constrained"
    )
    top = float(np.nanmax([rows["mean_risk"].max(), (rows["observed_risk"] + z * rows["observed_se"]).max()]))
    top = min(1.0, 1.05 * top)
    for ax, (s, w) in zip(axes[0], cells.itertuples(index=False), strict=True):
        for model, (colour, marker, name) in ACCURACY_STYLE.items():
            mine = rows[(rows["model"] == model) & (rows["landmark"] == s) & (rows["horizon"] == w)]
            ax.errorbar(mine["mean_risk"], mine["observed_risk"], yerr=z * mine["observed_se"], fmt=marker,
                        color=colour, mec=colour, ms=4, capsize=2, lw=0.8, label=name)  # fmt: skip
        ax.plot([0, top], [0, top], color=NEUTRAL_COLOUR, lw=0.8, ls=":")
        ax.set_xlim(0, top)
        ax.set_ylim(0, top)
        ax.set_aspect("equal")
        ax.set_title(f"from {s:g} months, next {w:g}")
        ax.set_xlabel("mean predicted risk")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("observed risk (Kaplan-Meier)")
    axes[0][0].legend(loc="upper left", frameon=False, fontsize="small")
    fig.suptitle("Calibration of the dynamic predictions by risk group, 95% intervals (in sample)")
    return fig
