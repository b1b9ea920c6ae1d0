"""Figures of the study population: flow, demographics by role, matched-set structure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import FancyBboxPatch

from alsmeds.plots.palette import ROLE_COLOURS, ROLE_MARKERS
from alsmeds.reporting.describe import ROLE_LABELS, ROLE_ORDER


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
    """Share of men and women per role (stacked horizontal bars)."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    share = members.groupby("role", observed=False)["sex"].apply(lambda s: 100 * (s == "male").mean())
    y = np.arange(len(ROLE_ORDER))[::-1]
    men = share.reindex(ROLE_ORDER).to_numpy()
    ax.barh(y, men, color=[ROLE_COLOURS[r] for r in ROLE_ORDER], alpha=0.85)
    ax.barh(y, 100 - men, left=men, color="0.85")
    for yi, m in zip(y, men, strict=True):
        if np.isnan(m):
            ax.text(50, yi, "none in this extract", ha="center", va="center", color="0.3", fontsize=9)
        else:
            ax.text(m / 2, yi, f"{m:.0f}% men", ha="center", va="center", color="white", fontsize=9)
    ax.set_yticks(y, [ROLE_LABELS[r] for r in ROLE_ORDER])
    ax.set_xlim(0, 100)
    ax.set_xlabel("Percent")
    ax.set_title("Sex by role")
    return ax


def plot_set_composition(composition: pd.DataFrame, axes: np.ndarray | None = None) -> np.ndarray:
    """Three small panels: population controls per set, siblings per set, spouse or not."""
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(10, 3), sharey=False)
    panels = [
        ("population_controls", "Population controls per case", ROLE_COLOURS["population_control"]),
        ("siblings", "Siblings per case", ROLE_COLOURS["sibling"]),
    ]
    for ax, (col, title, colour) in zip(axes[:2], panels, strict=True):
        counts = composition[col].value_counts().sort_index()
        ax.bar(counts.index.astype(int), counts.to_numpy(), color=colour, alpha=0.85)
        for x, v in counts.items():
            ax.text(x, v, f"{v:,}", ha="center", va="bottom", fontsize=8)
        ax.set_title(title)
        ax.set_xlabel("number")
        ax.set_xticks(counts.index.astype(int))
    spouse = composition["has_spouse"].value_counts().reindex([True, False], fill_value=0)
    axes[2].bar(["with spouse", "without"], spouse.to_numpy(), color=[ROLE_COLOURS["spouse"], "0.7"])
    for i, v in enumerate(spouse.to_numpy()):
        axes[2].text(i, v, f"{v:,}", ha="center", va="bottom", fontsize=8)
    axes[2].set_title("Spouse control")
    axes[0].set_ylabel("matched sets")
    return axes


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
    years = cases["index_date"].dt.year + (cases["index_date"].dt.dayofyear - 1) / 365.25
    ax.hist(years, bins=np.arange(2015, 2024, 0.5), color=ROLE_COLOURS["case"], alpha=0.8)
    start = pd.Timestamp(register_start)
    lookback = (cases["index_date"] - start).dt.days / 365.25
    ax.set_xlabel("Calendar year of diagnosis (index date)")
    ax.set_ylabel("cases")
    ax.set_title(
        f"Index dates; drug register from {start.date()} gives "
        f"{lookback.min():.1f}-{lookback.max():.1f} years of look-back"
    )
    return ax
