"""Figures of the exposure classification: ATC levels, dispensing timelines, windows, prevalence, look-back.

The figures draw what the derive layer made and never re-run a definition: the class
dispensings (:func:`alsmeds.derive.exposure.class_dispensings`), the analysis table's
classification, and the exposure rules that made it (:class:`alsmeds.derive.exposure.ExposureRules`)
are passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import to_rgb
from matplotlib.patches import FancyBboxPatch

from alsmeds.constants import CLASSES, DAYS_PER_YEAR, WINDOW_LABELS
from alsmeds.labels import CLASS_LABELS, CLASS_NAMES
from alsmeds.plots.palette import (
    CLASS_COLOURS,
    NEUTRAL_COLOUR,
    ROLE_COLOURS,
    WINDOW_COLOURS,
)
from alsmeds.reporting.describe import ROLE_LABELS

WINDOW_TEXT = {"0_1": "0-1 y", "1_5": "1-5 y", "gt5": ">5 y"}
DEFAULT_REGISTER_START = "2005-07-01"


class WindowRules(Protocol):
    """The parts of :class:`alsmeds.derive.exposure.ExposureRules` a figure draws (windows, rule of two)."""

    @property
    def window_edges_years(self) -> tuple[int, int]:
        """Years before the index date that separate the 0-1, 1-5 and >5 year windows."""
        ...

    @property
    def min_dispensings(self) -> int:
        """Distinct dispensing dates that make a user."""
        ...


def _class_dispensings_only(dispensings: pd.DataFrame) -> pd.DataFrame:
    """Check that ``dispensings`` are the derive layer's class dispensings (a ``group`` column)."""
    if "group" not in dispensings.columns:
        raise ValueError(
            "pass the class dispensings (alsmeds.derive.exposure.class_dispensings), not the raw dispensings table"
        )
    return dispensings


def _node(ax: plt.Axes, x: float, y: float, code: str, text: str, colour: str, bold: bool = False) -> None:
    width, height = 0.17, 0.115
    patch = FancyBboxPatch(
        (x - width / 2, y - height / 2),
        width,
        height,
        boxstyle="round,pad=0.005,rounding_size=0.015",
        linewidth=2.2 if bold else 1.2,
        edgecolor=colour,
        facecolor=colour + ("33" if bold else "12"),
    )
    ax.add_patch(patch)
    ax.text(x, y + 0.022, code, ha="center", va="center", fontsize=10, fontweight="bold")
    ax.text(x, y - 0.025, text, ha="center", va="center", fontsize=9)


def plot_atc_hierarchy(ax: plt.Axes | None = None) -> plt.Axes:
    """The ATC hierarchy from anatomical group to substance, and where the three study classes sit.

    Shows the five ATC levels (N nervous system -> N05 psycholeptics -> N05B anxiolytics ->
    N05BA benzodiazepine derivatives -> N05BA04 oxazepam), with the study's three classes
    (N05B, N05C, N06A; third level) highlighted: a dispensing counts for a class when its
    7-character code starts with the class code.

    Parameters
    ----------
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 4.4))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    xs = [0.09, 0.29, 0.5, 0.71, 0.91]
    levels = [
        "1 anatomical\nmain group",
        "2 therapeutic\nsubgroup",
        "3 pharmacological\nsubgroup",
        "4 chemical\nsubgroup",
        "5 chemical\nsubstance",
    ]
    for x, level in zip(xs, levels, strict=True):
        ax.text(x, 0.97, level, ha="center", va="top", fontsize=9, color="0.35")
    grey = NEUTRAL_COLOUR
    anx, hyp, adp = (CLASS_COLOURS[k] for k in CLASSES)
    nodes = {
        "N": (xs[0], 0.5, "Nervous system", grey, False),
        "N05": (xs[1], 0.62, "Psycholeptics", grey, False),
        "N06": (xs[1], 0.2, "Psychoanaleptics", grey, False),
        "N05B": (xs[2], 0.72, "Anxiolytics", anx, True),
        "N05C": (xs[2], 0.48, "Hypnotics, sedatives", hyp, True),
        "N06A": (xs[2], 0.2, "Antidepressants", adp, True),
        "N05BA": (xs[3], 0.72, "Benzodiazepines", anx, False),
        "N05BA04": (xs[4], 0.72, "Oxazepam", anx, False),
        "N05CF": (xs[3], 0.48, "Z-drugs", hyp, False),
        "N05CF01": (xs[4], 0.48, "Zopiclone", hyp, False),
        "N06AB": (xs[3], 0.2, "SSRIs", adp, False),
        "N06AB04": (xs[4], 0.2, "Citalopram", adp, False),
    }
    edges = [
        ("N", "N05"),
        ("N", "N06"),
        ("N05", "N05B"),
        ("N05", "N05C"),
        ("N06", "N06A"),
        ("N05B", "N05BA"),
        ("N05BA", "N05BA04"),
        ("N05C", "N05CF"),
        ("N05CF", "N05CF01"),
        ("N06A", "N06AB"),
        ("N06AB", "N06AB04"),
    ]
    for a, b in edges:
        xa, ya = nodes[a][:2]
        xb, yb = nodes[b][:2]
        ax.annotate(
            "",
            xy=(xb - 0.087, yb),
            xytext=(xa + 0.087, ya),
            arrowprops={"arrowstyle": "-|>", "color": "0.55", "linewidth": 1, "shrinkA": 0, "shrinkB": 0},
        )
    for code, (x, y, text, colour, bold) in nodes.items():
        _node(ax, x, y, code, text, colour, bold)
    ax.add_patch(
        FancyBboxPatch(
            (xs[2] - 0.1, 0.1),
            0.2,
            0.72,
            boxstyle="round,pad=0.005,rounding_size=0.02",
            linewidth=1,
            linestyle="--",
            edgecolor="0.4",
            facecolor="none",
        )
    )
    ax.text(
        xs[2],
        0.04,
        "the study's three classes: a dispensing counts when its code starts with the class code",
        ha="center",
        va="center",
        fontsize=9,
        color="0.25",
    )
    ax.set_title("The ATC hierarchy: from 'nervous system' to one substance")
    return ax


def _members_of(members: pd.DataFrame, person_ids: Sequence[int]) -> pd.DataFrame:
    frame = members.copy()
    if "case_id" not in frame and "set_id" in frame:
        frame["case_id"] = frame["set_id"]
    frame = frame.drop_duplicates(["person_id", "case_id"])
    rows = []
    for pid in person_ids:
        hit = frame[frame["person_id"] == pid]
        if hit.empty:
            raise ValueError(f"person {pid} is not in members")
        rows.append(hit.iloc[0])
    return pd.DataFrame(rows).reset_index(drop=True)


def _years_before(dates: pd.Series, index_date: pd.Series) -> np.ndarray:
    return (index_date - dates).dt.days.to_numpy() / DAYS_PER_YEAR


def plot_exposure_timelines(
    dispensings: pd.DataFrame,
    members: pd.DataFrame,
    person_ids: Sequence[int],
    ax: plt.Axes | None = None,
    register_start=DEFAULT_REGISTER_START,
    *,
    rules: WindowRules,
    max_years: float | None = None,
) -> plt.Axes:
    """Dispensing timelines of a few people, with the windows and the resulting classification.

    One row per person, one lane per drug class; x is years before the person's index
    date (the case's diagnosis date; 0 at the right).  Every dispensing of a study class
    before the index date is a tick in the class colour; the first qualifying dispensing
    (the ``min_dispensings``-th distinct date, default the second) is circled; the 0-1,
    1-5 and >5 year windows are shaded; the time before the Prescribed Drug Register
    started is hatched.  The label above each row gives the person's classification.

    Parameters
    ----------
    dispensings : DataFrame
        Dispensings of the study classes (person_id, dispensing_date, group), as
        :func:`alsmeds.derive.exposure.class_dispensings` makes them from the
        ``dispensings`` table.
    members : DataFrame
        Rows of the analysis table (person_id, set_id, index_date, role, and the
        classification ``first_qualifying_<class>`` and ``cat_<class>`` made by the derive
        layer with ``rules``); the first row of each person is used.
    person_ids : sequence of int
        The people to draw, top to bottom.
    ax : matplotlib Axes, optional
    register_start : date-like
        First day of the drug register.
    rules : ExposureRules
        The exposure definition the classification used (``study.rules``): its windows
        and its number of dispensing dates.
    max_years : float, optional
        Left end of the x axis (default: the longest look-back shown).

    Returns
    -------
    matplotlib Axes
    """
    people = _members_of(members, person_ids)
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 1.25 * len(people) + 1))
    people["index_date"] = pd.to_datetime(people["index_date"])
    start = pd.Timestamp(register_start)
    lookback = _years_before(pd.Series(start, index=people.index), people["index_date"])
    far = float(max_years) if max_years is not None else float(np.ceil(lookback.max()))
    key = people[["person_id", "case_id", "index_date"]]

    disp = _class_dispensings_only(dispensings)
    disp = disp[disp["person_id"].isin(people["person_id"])]
    disp = disp.merge(key, on="person_id")
    disp = disp[disp["dispensing_date"] < disp["index_date"]]
    near, far_edge = rules.window_edges_years

    lane = 0.26
    n = len(people)
    for i, person in people.iterrows():
        y0 = n - 1 - i  # first person on top
        top, bottom = y0 + 1.5 * lane, y0 - 1.5 * lane
        spans = {"0_1": (0, near), "1_5": (near, far_edge), "gt5": (far_edge, far)}
        for w, (a, b) in spans.items():
            ax.fill_between([a, b], bottom, top, color=WINDOW_COLOURS[w], alpha=0.55, linewidth=0, zorder=0)
        ax.fill_between(
            [lookback[i], far], bottom, top, facecolor="white", hatch="///", edgecolor="0.75", linewidth=0, zorder=1
        )
        ax.plot([lookback[i]] * 2, [bottom, top], color="black", linewidth=1.5, zorder=2)
        labels = []
        for j, k in enumerate(CLASSES):
            y = y0 + (1 - j) * lane
            rows = disp[(disp["person_id"] == person["person_id"]) & (disp["group"] == k)]
            x = _years_before(rows["dispensing_date"], rows["index_date"])
            ax.scatter(x, np.full(x.shape, y), marker="|", s=160, linewidths=2, color=CLASS_COLOURS[k], zorder=3)
            # The classification is the analysis table's (derive layer); the figure only draws it.
            first_use = pd.to_datetime(pd.Series([person.get(f"first_qualifying_{k}")]))
            if first_use.notna().iloc[0]:
                xq = _years_before(first_use, pd.Series([person["index_date"]]))
                ax.scatter(xq, [y], s=150, facecolor="none", edgecolor="black", linewidth=1.6, zorder=4, marker="o")
                code = int(person[f"cat_{k}"])
                labels.append(f"{k} {WINDOW_LABELS[list(WINDOW_LABELS)[code]]}")
            elif len(rows):
                n_dates = rows["dispensing_date"].nunique()
                labels.append(f"{k} only {n_dates} dispensing date{'s' if n_dates > 1 else ''}: not a user")
        role = str(person.get("role", ""))
        who = ROLE_LABELS[role][:-1] if role in ROLE_LABELS else "person"
        text = "; ".join(labels) if labels else "no dispensing of the three classes: never user"
        ax.text(
            far,
            top + 0.05,
            f"{who} {person['person_id']}: {text}",
            ha="left",
            va="bottom",
            fontsize=9,
            color=ROLE_COLOURS.get(role, "black"),
            fontweight="bold",
        )
    for w, (a, b) in {"0_1": (0, near), "1_5": (near, far_edge), "gt5": (far_edge, far)}.items():
        ax.text((a + b) / 2, -0.72, WINDOW_TEXT[w], ha="center", va="center", fontsize=9, color="0.3")
    ax.set_xlim(far, -0.1)
    ax.set_ylim(-0.9, n - 1 + 0.75)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_xlabel("Years before the index date (diagnosis date of the case)")
    handles = [
        plt.Line2D(
            [],
            [],
            marker="|",
            linestyle="",
            markersize=12,
            markeredgewidth=2,
            color=CLASS_COLOURS[k],
            label=CLASS_NAMES[k],
        )
        for k in CLASSES
    ]
    handles += [
        plt.Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markersize=10,
            markerfacecolor="none",
            color="black",
            label=f"first qualifying (dispensing no. {rules.min_dispensings})",
        ),
        plt.Line2D([], [], color="black", linewidth=1.5, label="drug register starts"),
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("Dispensings before the index date, and how they are classified")
    return ax


def _prevalence_from(data: pd.DataFrame) -> pd.DataFrame:
    if {"drug_class", "window", "role", "percent"} <= set(data.columns):
        return data
    from alsmeds.reporting.table1 import exposure_prevalence

    return exposure_prevalence(data)


def _tint(colour: str, amount: float = 0.55) -> tuple[float, float, float]:
    """``colour`` mixed with white (``amount`` of white): the same hue, lighter."""
    rgb = np.array(to_rgb(colour))
    return tuple(rgb + (1.0 - rgb) * amount)


#: Windows of :func:`plot_prevalence_by_window`, in order, with their tick labels.
PREVALENCE_TICKS = {"0_1": "0-1 y", "1_5": "1-5 y", "gt5": ">5 y", "gt1": ">1 y\n(lagged)", "ever": "ever"}


def plot_prevalence_by_window(
    prevalence: pd.DataFrame,
    axes: Sequence[plt.Axes] | None = None,
    controls: str = "population_control",
    windows: Sequence[str] = ("0_1", "1_5", "gt5", "gt1"),
    ratios: bool = True,
) -> np.ndarray:
    """Prevalence of use (%) by window, ALS cases beside one control group, one panel per class (seaborn bars).

    Each panel is a class in its colour: ALS cases are filled bars, the controls lighter
    bars with an edge in the class colour (a class's colour means that class; the two
    groups are told apart by fill, and named in each panel's legend).  Windows by first
    qualifying use: 0-1, 1-5 and >5 years before the index date, and the lagged main
    exposure (>1 year).  Above each pair, the crude ratio of the two percentages (no
    matching, no adjustment); a ratio with no control user is not shown.

    Parameters
    ----------
    prevalence : DataFrame
        :func:`alsmeds.reporting.table1.exposure_prevalence` (drug_class, window, role,
        percent), or the analysis table (then computed).
    axes : sequence of matplotlib Axes, optional
        One per class of :data:`alsmeds.constants.CLASSES`; default a new 11 x 3.8 in figure.
    controls : str
        Control role compared with the cases (default population controls).
    windows : sequence of str
        Windows to show, left to right (codes of ``exposure_prevalence``).
    ratios : bool
        Write the crude case/control ratio above each pair.

    Returns
    -------
    numpy array of matplotlib Axes
    """
    prev = _prevalence_from(prevalence)
    if axes is None:
        _, axes = plt.subplots(1, len(CLASSES), figsize=(11, 3.8), sharey=True, gridspec_kw={"wspace": 0.08})
    axes = np.atleast_1d(np.asarray(axes, dtype=object))
    groups = {"case": ROLE_LABELS["case"], controls: ROLE_LABELS[controls]}
    data = prev[prev["role"].isin(list(groups)) & prev["window"].isin(list(windows))].copy()
    data["group"] = pd.Categorical(data["role"].map(groups), categories=list(groups.values()))
    data["window"] = pd.Categorical(data["window"], categories=list(windows))
    top = float(data["percent"].max()) if len(data) else 1.0
    for ax, k in zip(axes, CLASSES, strict=True):
        sub = data[data["drug_class"] == k]
        colour = CLASS_COLOURS[k]
        palette = dict(zip(groups.values(), [colour, _tint(colour)], strict=True))
        if len(sub):
            sns.barplot(
                data=sub,
                x="window",
                y="percent",
                hue="group",
                palette=palette,
                edgecolor=colour,
                linewidth=1.0,
                order=list(windows),
                hue_order=list(groups.values()),
                errorbar=None,
                saturation=1.0,
                ax=ax,
            )
        else:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center", fontsize=10)
        if ratios:
            wide = sub.pivot_table(index="window", columns="role", values="percent", observed=False)
            for i, w in enumerate(windows):
                case = wide["case"].get(w, np.nan) if "case" in wide else np.nan
                ctrl = wide[controls].get(w, np.nan) if controls in wide else np.nan
                if np.isfinite(case) and np.isfinite(ctrl) and ctrl > 0:
                    ax.text(
                        i,
                        max(case, ctrl) + 0.02 * top,
                        f"x{case / ctrl:.1f}",
                        ha="center",
                        va="bottom",
                        fontsize=9,
                        color="0.25",
                    )
        ax.set_xticks(range(len(windows)), [PREVALENCE_TICKS.get(w, w) for w in windows])
        ax.set_title(CLASS_LABELS[k], color=colour)
        ax.set_xlabel("")
        ax.set_ylabel("")
        legend = ax.get_legend()
        if legend is not None:
            legend.set_title(None)
            for text in legend.get_texts():
                text.set_fontsize(9)
        ax.grid(axis="y", color="0.92")
    axes[0].set_ylabel("People with qualifying use (%)")
    axes[0].set_ylim(0, top * 1.18 + 0.5)
    axes[len(axes) // 2].set_xlabel("Window of first qualifying use before the index date")
    return axes


def plot_prevalence_by_rule(
    prevalences: Mapping[str, pd.DataFrame],
    controls: str = "population_control",
    windows: Sequence[str] = ("0_1", "1_5", "gt5", "gt1"),
) -> plt.Figure:
    """Prevalence by window under several exposure rules: one row of :func:`plot_prevalence_by_window` per rule.

    Parameters
    ----------
    prevalences : mapping of str to DataFrame
        Row title (the rule, e.g. ``"study rule: 2 dispensings"``) -> a prevalence frame
        (:func:`alsmeds.reporting.table1.exposure_prevalence` of a table built with that rule).
        The rows share the y axis.
    controls, windows
        As in :func:`plot_prevalence_by_window`.

    Returns
    -------
    matplotlib Figure
        11 in wide, about 3 in per rule.
    """
    n = len(prevalences)
    if n == 0:
        raise ValueError("no prevalence frame to draw")
    fig, grid = plt.subplots(
        n,
        len(CLASSES),
        figsize=(11, 2.9 * n + 0.4),
        sharey=True,
        squeeze=False,
        gridspec_kw={"wspace": 0.08, "hspace": 0.55},
    )
    for row, (title, prev) in zip(grid, prevalences.items(), strict=True):
        plot_prevalence_by_window(prev, axes=row, controls=controls, windows=windows)
        row[0].set_ylabel(f"{title}\n% users", fontsize=10)
        for ax in row:
            ax.set_xlabel("")
        for ax in row[1:]:
            if ax.get_legend() is not None:
                ax.get_legend().remove()
    for row in grid[1:]:
        for ax in row:
            ax.set_title("")
    top = max(float(prev["percent"].max()) for prev in prevalences.values())
    grid[0, 0].set_ylim(0, top * 1.18 + 0.5)
    return fig


def plot_lookback(
    analysis_table: pd.DataFrame,
    ax: plt.Axes | None = None,
    register_start=DEFAULT_REGISTER_START,
    *,
    rules: WindowRules,
) -> plt.Axes:
    """Look-back available before each index date, and how it truncates the >5 year window.

    x is the index date (calendar time), y the years before it.  The 0-1 and 1-5 year
    windows are always complete; the >5 year window runs from 5 years before the index date
    back to the register start, so it spans about 4.5 years for an index date in January
    2015 and 13 years for one in mid-2023.  Ticks below 0 mark the index dates of the ALS cases.

    Parameters
    ----------
    analysis_table : DataFrame
        The analysis table (index_date, role, lookback_years).
    ax : matplotlib Axes, optional
    register_start : date-like
        First day of the drug register.
    rules : ExposureRules
        The exposure definition of the table (``study.rules``): its windows are drawn.

    Returns
    -------
    matplotlib Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.2))
    start = pd.Timestamp(register_start)
    cases = analysis_table[analysis_table["role"] == "case"].drop_duplicates(["person_id", "set_id"])
    idx = pd.to_datetime(cases["index_date"])
    lo, hi = idx.min(), idx.max()
    grid = pd.date_range(lo, hi, periods=200)
    x_grid = grid.year + (grid.dayofyear - 1) / DAYS_PER_YEAR
    lb = (grid - start).days.to_numpy() / DAYS_PER_YEAR
    near, far = rules.window_edges_years
    ax.fill_between(x_grid, 0, near, color=WINDOW_COLOURS["0_1"], alpha=0.8, linewidth=0, label="0-1 y window")
    ax.fill_between(x_grid, near, far, color=WINDOW_COLOURS["1_5"], alpha=0.8, linewidth=0, label="1-5 y window")
    ax.fill_between(x_grid, far, lb, color=WINDOW_COLOURS["gt5"], alpha=0.9, linewidth=0, label=">5 y window")
    ax.plot(x_grid, lb, color="black", linewidth=1.5, label=f"register start ({start.date()})")
    x_cases = (idx.dt.year + (idx.dt.dayofyear - 1) / DAYS_PER_YEAR).to_numpy()
    ax.vlines(x_cases, -0.9, -0.2, color=ROLE_COLOURS["case"], alpha=0.25, linewidth=0.6)
    ax.plot([], [], color=ROLE_COLOURS["case"], linewidth=1, label="index dates of ALS cases")
    for when, side in ((lo, "left"), (hi, "right")):
        years = (when - start).days / DAYS_PER_YEAR
        xw = when.year + (when.dayofyear - 1) / DAYS_PER_YEAR
        xa = xw + (0.12 if side == "left" else -0.12)
        ax.annotate("", xy=(xa, far), xytext=(xa, years), arrowprops={"arrowstyle": "<->", "color": "0.2"})
        ax.text(
            xa + (0.12 if side == "left" else -0.12),
            far + (years - far) / 2,
            f"index date {when.date()}:\n>5 y window spans {years - far:.1f} y",
            ha=side,
            va="center",
            fontsize=9,
        )
    ax.set_xlabel("Index date (calendar year)")
    ax.set_ylabel("Years before the index date")
    ax.set_ylim(-1.0, float(np.ceil(lb.max())) + 1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("How far back can we look? The >5 year window grows with the index date")
    return ax


def plot_first_use_timing(
    analysis_table: pd.DataFrame,
    drug_class: str,
    ax: plt.Axes | None = None,
    controls: str = "population_control",
    bin_years: float = 0.5,
    max_years: float = 8.0,
) -> plt.Axes:
    """Timing of first qualifying use before the index date, cases vs controls.

    For one class, the rate of *starting* qualifying use (people per 100 per year) in
    bins of years before the index date, for ALS cases and for the controls.  A rise
    among cases in the last year before diagnosis, and not among controls, is the
    footprint of prescriptions for prodromal symptoms (reverse causation).  The x axis
    stops at ``max_years`` (default 8), inside the shortest look-back (9.5 years), so that
    use which began before the register started (and shows up in its first months) does
    not appear as a spike of new users.

    Parameters
    ----------
    analysis_table : DataFrame
        The analysis table (``first_qualifying_<class>``, index_date, role).
    drug_class : str
        One of :data:`alsmeds.constants.CLASSES`.
    ax : matplotlib Axes, optional
    controls : str
        Control role (default population controls).
    bin_years, max_years : float
        Bin width and the oldest time shown, in years before the index date.

    Returns
    -------
    matplotlib Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.5))
    rows = analysis_table.drop_duplicates(["person_id", "set_id"])
    edges = np.arange(0, max_years + bin_years / 2, bin_years)
    for role in ("case", controls):
        sub = rows[rows["role"] == role]
        years = (
            pd.to_datetime(sub["index_date"]) - pd.to_datetime(sub[f"first_qualifying_{drug_class}"])
        ).dt.days.dropna() / DAYS_PER_YEAR
        counts, _ = np.histogram(years, bins=edges)
        rate = 100 * counts / len(sub) / bin_years
        ax.stairs(rate, edges, baseline=None, color=ROLE_COLOURS[role], linewidth=2, label=ROLE_LABELS[role])
    ax.axvspan(0, 1, color=WINDOW_COLOURS["0_1"], alpha=0.5, linewidth=0, zorder=0)
    ax.text(0.5, 0.015, "0-1 y", transform=ax.get_xaxis_transform(), ha="center", va="bottom", fontsize=9, color="0.3")
    ax.axhline(0, color="0.6", linewidth=0.8)  # also keeps 0 inside the autoscaled y range
    ax.set_xlim(max_years, 0)
    ax.set_xlabel("Years before the index date")
    ax.set_ylabel("started use per 100 per year")
    ax.set_title(CLASS_LABELS[drug_class], color=CLASS_COLOURS[drug_class])
    return ax


def plot_first_use_timing_panels(
    analysis_table: pd.DataFrame, controls: str = "population_control", **kwargs: float
) -> plt.Figure:
    """:func:`plot_first_use_timing` for every class side by side (shared y axis, one legend below), 11.5 in wide.

    Parameters
    ----------
    analysis_table : DataFrame
        The analysis table (``first_qualifying_<class>``, index_date, role).
    controls : str
        Control role (default population controls).
    **kwargs
        ``bin_years`` and ``max_years`` of :func:`plot_first_use_timing`.

    Returns
    -------
    matplotlib Figure
    """
    fig, axes = plt.subplots(1, len(CLASSES), figsize=(11.5, 3.6), sharey=True, gridspec_kw={"wspace": 0.12})
    for ax, k in zip(axes, CLASSES, strict=True):
        plot_first_use_timing(analysis_table, k, ax=ax, controls=controls, **kwargs)
    for ax in axes[1:]:
        ax.set_ylabel("")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="upper center", ncol=2, bbox_to_anchor=(0.5, -0.02))
    return fig


#: (class, window) of the example users :func:`example_people` picks, one case each.
EXAMPLE_USES = (("hypnotics", "0_1"), ("anxiolytics", "1_5"), ("antidepressants", "gt5"))


def example_people(
    analysis_table: pd.DataFrame,
    dispensings: pd.DataFrame,
    uses: Sequence[tuple[str, str]] = EXAMPLE_USES,
    margin_years: float = 0.25,
    *,
    rules: WindowRules,
) -> list[int]:
    """A deterministic choice of people for :func:`plot_exposure_timelines`.

    For each (class, window) of ``uses``, the ALS case with the lowest person id whose
    first qualifying use of the class falls in that window at least ``margin_years`` from
    the window's edges (so the picture is unambiguous); then the population control with
    the lowest person id who has dispensings of a study class but never qualifies (a single
    dispensing date: the rule of two at work).

    Parameters
    ----------
    analysis_table : DataFrame
        The analysis table (person_id, set_id, role, index_date, ``first_qualifying_<class>``,
        ``window_<class>``).
    dispensings : DataFrame
        Dispensings of the study classes (person_id, dispensing_date, group),
        :func:`alsmeds.derive.exposure.class_dispensings`.
    uses : sequence of (str, str)
        (class, window) of the example users.
    margin_years : float
        Least distance of the first qualifying use from its window's edges.
    rules : ExposureRules
        The exposure definition of the table (``study.rules``): its window edges.

    Returns
    -------
    list of int
        Person ids, in the order to draw them.
    """
    rows = analysis_table.drop_duplicates(["person_id", "set_id"]).sort_values("person_id", kind="stable")
    near, far = (float(e) for e in rules.window_edges_years)
    edges = {"0_1": (0.0, near), "1_5": (near, far), "gt5": (far, np.inf)}
    chosen: list[int] = []
    for k, w in uses:
        lo, hi = edges[w]
        years = _years_before(pd.to_datetime(rows[f"first_qualifying_{k}"]), pd.to_datetime(rows["index_date"]))
        ok = (rows["role"] == "case") & (rows[f"window_{k}"] == w) & (years > lo + margin_years)
        ok &= years < hi - margin_years
        ids = [int(p) for p in rows.loc[ok.to_numpy(), "person_id"] if int(p) not in chosen]
        if ids:
            chosen.append(ids[0])
    never = (rows[[f"window_{k}" for k in CLASSES]] == "never").all(axis=1) & (rows["role"] == "population_control")
    some = _class_dispensings_only(dispensings)
    some = some[some["person_id"].isin(rows.loc[never, "person_id"])]
    some = some.merge(rows[["person_id", "index_date"]], on="person_id")
    some = some[some["dispensing_date"] < some["index_date"]]
    if len(some):
        chosen.append(int(some["person_id"].min()))
    return chosen
