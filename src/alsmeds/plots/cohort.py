"""Figures of the study population: flow, demographics by role, matched-set structure."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import FancyBboxPatch

from alsmeds.constants import DAYS_PER_YEAR
from alsmeds.plots.palette import ROLE_COLOURS, ROLE_MARKERS
from alsmeds.reporting.describe import ROLE_LABELS, ROLE_ORDER, set_composition


def _box(ax, x, y, text, colour, width=0.28, height=0.16):
    patch = FancyBboxPatch(
        (x - width / 2, y - height / 2),
        width,
        height,
        boxstyle="round,pad=0.01,rounding_size=0.02",
        linewidth=1.5,
        edgecolor=colour,
        facecolor=colour + "18",
    )
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=10)


def plot_study_flow(counts: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """The study flow: cases and the three control groups attached to them.

    Parameters
    ----------
    counts : DataFrame
        From :func:`alsmeds.reporting.describe.role_counts` (columns people, matched_sets).
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.2))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.axis("off")
    n = counts["people"]
    sets = counts["matched_sets"]
    _box(
        ax,
        0.5,
        0.82,
        f"ALS cases diagnosed 2015-2023\nMND Quality Registry\nn = {n['case']:,}",
        ROLE_COLOURS["case"],
        width=0.34,
    )
    targets = [
        (
            0.17,
            "population_control",
            f"Population controls\nsame sex and birth year,\nALS-free at index\nn = {n['population_control']:,}",
        ),
        (0.5, "sibling", f"Full siblings\nof {sets['sibling']:,} cases\nn = {n['sibling']:,}"),
        (0.83, "spouse", f"Spouses\nof {sets['spouse']:,} cases\nn = {n['spouse']:,}"),
    ]
    for x, role, text in targets:
        _box(ax, x, 0.3, text, ROLE_COLOURS[role], height=0.3)
        ax.annotate(
            "", xy=(x, 0.46), xytext=(0.5, 0.73), arrowprops={"arrowstyle": "->", "color": "0.35", "linewidth": 1.2}
        )
    ax.text(
        0.5,
        0.02,
        "Exposure assessed in the Prescribed Drug Register before each case's diagnosis (index) date",
        ha="center",
        fontsize=9,
        color="0.3",
    )
    ax.set_title("Who is compared with whom")
    return ax


def plot_age_by_role(members: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Distribution of age at the index date per role (violins with quartiles)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    data = [members.loc[members["role"] == r, "age"].dropna().to_numpy() for r in ROLE_ORDER]
    present = [i for i, values in enumerate(data) if len(values) > 1]  # a violin needs two values
    if present:
        parts = ax.violinplot(
            [data[i] for i in present], positions=[i + 1 for i in present], showextrema=False, widths=0.8
        )
        for body, i in zip(parts["bodies"], present, strict=True):
            body.set_facecolor(ROLE_COLOURS[ROLE_ORDER[i]])
            body.set_edgecolor(ROLE_COLOURS[ROLE_ORDER[i]])
            body.set_alpha(0.45)
    for i, values in enumerate(data, start=1):
        if len(values) == 0:
            ax.text(i, 65, "none", ha="center", va="center", color="0.4", fontsize=9)
            continue
        q1, med, q3 = np.percentile(values, [25, 50, 75])
        ax.vlines(i, q1, q3, color="black", linewidth=3)
        ax.scatter([i], [med], color="white", zorder=3, s=18, edgecolor="black")
    ax.axhline(65, color="0.5", linestyle="--", linewidth=1)
    ax.text(4.45, 65.5, "65", color="0.4", fontsize=9)
    ax.set_xticks(range(1, len(ROLE_ORDER) + 1), [ROLE_LABELS[r].replace(" ", "\n") for r in ROLE_ORDER])
    ax.set_ylabel("Age at index date (years)")
    ax.set_title("Age at the index date")
    return ax


def plot_sex_by_role(members: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Share of men (filled) and women (open) per role (stacked horizontal bars)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    share = members.groupby("role", observed=False)["sex"].apply(lambda s: 100 * (s == "male").mean())
    y = np.arange(len(ROLE_ORDER))[::-1]
    men = share.reindex(ROLE_ORDER).to_numpy()
    colours = [ROLE_COLOURS[r] for r in ROLE_ORDER]
    ax.barh(y, men, color=colours, edgecolor=colours, alpha=0.85)
    # Women as open bars in the role's colour, as the open markers of the set gallery.
    ax.barh(y, 100 - men, left=men, color="white", edgecolor=colours, linewidth=1.2)
    for yi, m in zip(y, men, strict=True):
        if np.isnan(m):
            ax.text(50, yi, "none in this extract", ha="center", va="center", color="0.3", fontsize=9)
        else:
            ax.text(m / 2, yi, f"{m:.0f}% men", ha="center", va="center", color="white", fontsize=9)
    ax.set_yticks(y, [ROLE_LABELS[r] for r in ROLE_ORDER])
    ax.set_xlim(0, 100)
    ax.set_xlabel("Percent (filled: men, open: women)")
    ax.set_title("Sex by role")
    return ax


def plot_age_sex_by_role(members: pd.DataFrame) -> plt.Figure:
    """Age (violins) and sex (bars) of each role side by side, 11 inches wide.

    Parameters
    ----------
    members : DataFrame
        From :func:`alsmeds.reporting.describe.members` (role, age, sex).

    Returns
    -------
    matplotlib Figure
        Two axes: :func:`plot_age_by_role` and :func:`plot_sex_by_role`.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1.3, 1], "wspace": 0.45})
    plot_age_by_role(members, ax=axes[0])
    plot_sex_by_role(members, ax=axes[1])
    return fig


def plot_set_composition(composition: pd.DataFrame, ax: plt.Axes | None = None, max_siblings: int = 5) -> plt.Axes:
    """Which relatives each matched set holds: sets by number of full siblings, split by a spouse control.

    Every set has its case and (up to) the same number of population controls, so a panel of
    population controls per set says almost nothing; their count goes into a line under the
    title instead (sets with the most population controls any set has, with fewer, with
    none).  The bars show what varies between sets: how many full siblings (0, 1, ...,
    ``max_siblings`` or more) and, within each bar, whether the set has a spouse control
    (filled in the spouse colour) or not (open).  Sets with no sibling take no part in the
    sibling comparison; sets without a spouse none in the spouse comparison.

    Parameters
    ----------
    composition : DataFrame
        From :func:`alsmeds.reporting.describe.set_composition` (columns population_controls,
        siblings, has_spouse; one row per matched set).
    ax : matplotlib Axes, optional
    max_siblings : int
        Sets with at least this many siblings share the last bar (labelled ``5+``).

    Returns
    -------
    matplotlib Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.2))
    siblings = composition["siblings"].clip(upper=max_siblings).astype(int)
    table = pd.crosstab(siblings, composition["has_spouse"].astype(bool)).reindex(
        index=range(max_siblings + 1), columns=[True, False], fill_value=0
    )
    x = np.arange(len(table))
    spouse_colour = ROLE_COLOURS["spouse"]
    ax.bar(x, table[True], color=spouse_colour, edgecolor=spouse_colour, label="with a spouse control")
    ax.bar(
        x,
        table[False],
        bottom=table[True],
        color="white",
        edgecolor=spouse_colour,
        linewidth=1.2,
        label="no spouse control",
    )
    total = table.sum(axis=1)
    for xi, n in zip(x, total, strict=True):
        ax.text(xi, n, f"{n:,}", ha="center", va="bottom", fontsize=9)
    ticks = [str(i) for i in table.index]
    ticks[-1] = f"{max_siblings}+"
    ticks[0] = "0\n(not in the sibling\ncomparison)"
    ax.set_xticks(x, ticks)
    ax.set_xlabel("Full siblings in the matched set (sibling controls)")
    ax.set_ylabel("Matched sets")
    ax.set_ylim(0, max(float(total.max()), 1.0) * 1.15)
    ax.legend(loc="upper right", title=f"{len(composition):,} matched sets", title_fontsize=9, fontsize=9)
    pc = composition["population_controls"]
    most = int(pc.max()) if len(pc) else 0
    fewer = int(((pc > 0) & (pc < most)).sum())
    ax.set_title("Relatives in each matched set", loc="left", pad=20)
    ax.text(
        0.0,
        1.0,
        f"Population controls: {int((pc == most).sum()):,} sets with {most}, {fewer:,} with fewer, "
        f"{int((pc == 0).sum()):,} with none",
        transform=ax.transAxes,
        ha="left",
        va="bottom",
        fontsize=9,
        color=ROLE_COLOURS["population_control"],
    )
    return ax


def plot_set_composition_panels(drawn: Mapping[str, pd.DataFrame], width: float = 11.5) -> plt.Figure:
    """:func:`plot_set_composition` of several data sets side by side, each panel titled with its name.

    Parameters
    ----------
    drawn : mapping of str to DataFrame
        Panel title (e.g. ``"seed 20250606"``) -> the members of a data set
        (:func:`alsmeds.reporting.describe.members`); their compositions are
        :func:`alsmeds.reporting.describe.set_composition`.
    width : float
        Figure width in inches (4 inches high).

    Returns
    -------
    matplotlib Figure
        One axes per data set, in the mapping's order.
    """
    if not drawn:
        raise ValueError("no data set to draw")
    fig, axes = plt.subplots(1, len(drawn), figsize=(width, 4), squeeze=False)
    for ax, (name, members) in zip(axes[0], drawn.items(), strict=True):
        plot_set_composition(set_composition(members), ax=ax)
        ax.set_title(name, loc="left", pad=20)
    return fig


def plot_set_gallery(members: pd.DataFrame, n_sets: int = 8, ax: plt.Axes | None = None) -> plt.Axes:
    """A few matched sets drawn as rows: every member placed by age, marked by role.

    Sets are chosen deterministically (the first by case id with a sibling and a
    spouse, then others), to show how siblings and spouses differ from age- and
    sex-matched population controls.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 0.45 * n_sets + 1.2))
    roles_per_set = members.groupby("case_id")["role"].agg(lambda r: set(r))
    full = [c for c, r in roles_per_set.items() if {"sibling", "spouse"} <= r]
    partial = [c for c, r in roles_per_set.items() if not {"sibling", "spouse"} <= r]
    chosen = (full[: n_sets - n_sets // 4] + partial[: n_sets // 4])[:n_sets]
    # Cases above the line, population controls on it, relatives below: matched members overlap in age.
    offsets = {"case": 0.22, "population_control": 0.0, "sibling": -0.22, "spouse": -0.22}
    for row, case_id in enumerate(chosen):
        y = n_sets - row
        members_of_set = members[members["case_id"] == case_id]
        ax.hlines(y, members_of_set["age"].min(), members_of_set["age"].max(), color="0.85", zorder=1)
        for role in ROLE_ORDER:
            m = members_of_set[members_of_set["role"] == role]
            filled = (m["sex"] == "male").to_numpy()
            yy = y + offsets[role]
            ax.scatter(
                m.loc[filled, "age"],
                np.full(filled.sum(), yy),
                marker=ROLE_MARKERS[role],
                color=ROLE_COLOURS[role],
                s=55,
                zorder=3 if role == "case" else 2,
            )
            ax.scatter(
                m.loc[~filled, "age"],
                np.full((~filled).sum(), yy),
                marker=ROLE_MARKERS[role],
                facecolor="white",
                edgecolor=ROLE_COLOURS[role],
                s=55,
                linewidth=1.5,
                zorder=3 if role == "case" else 2,
            )
    handles = [
        plt.Line2D([], [], marker=ROLE_MARKERS[r], color=ROLE_COLOURS[r], linestyle="", label=ROLE_LABELS[r])
        for r in ROLE_ORDER
    ]
    handles.append(
        plt.Line2D([], [], marker="o", color="0.3", markerfacecolor="white", linestyle="", label="open marker = woman")
    )
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_yticks(range(1, len(chosen) + 1), [f"set {i}" for i in range(len(chosen), 0, -1)])
    ax.set_xlabel("Age at the index date (years)")
    ax.set_title("A few matched sets, member by member")
    return ax


def plot_index_dates(members: pd.DataFrame, register_start, ax: plt.Axes | None = None) -> plt.Axes:
    """Calendar spread of index dates, with the drug register's start and the look-back it allows."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.2))
    cases = members[members["role"] == "case"]
    years = cases["index_date"].dt.year + (cases["index_date"].dt.dayofyear - 1) / DAYS_PER_YEAR
    ax.hist(years, bins=np.arange(2015, 2024, 0.5), color=ROLE_COLOURS["case"], alpha=0.8)
    start = pd.Timestamp(register_start)
    lookback = (cases["index_date"] - start).dt.days / DAYS_PER_YEAR
    ax.set_xlabel("Calendar year of diagnosis (index date)")
    ax.set_ylabel("cases")
    ax.set_title(
        f"Index dates; drug register from {start.date()} gives "
        f"{lookback.min():.1f}-{lookback.max():.1f} years of look-back"
    )
    return ax
