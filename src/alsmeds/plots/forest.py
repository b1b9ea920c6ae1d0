"""Forest plots of odds ratios: one row per class and window, one marker per group, a column of "OR (95% CI)".

Every ratio is drawn on the shared log-ratio axis (:func:`alsmeds.plots.axes.log_ratio_axis`)
and every colour comes from :mod:`alsmeds.plots.palette`: a comparison takes the colour of
its controls; when the groups have no colour of their own (age strata), each point takes
its class's colour and the groups are told apart by marker and fill
(:data:`~alsmeds.plots.palette.STRATUM_MARKERS`, :data:`~alsmeds.plots.palette.STRATUM_FILLED`).
Published estimates are black open squares, planted estimands magenta stars.

:func:`plot_age_strata` is the forest plot of notebook 04: odds ratios by the case's age
stratum (and pooled), each stratum told by its marker, with the interaction p-value under
each row label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import transforms
from matplotlib.lines import Line2D

from alsmeds.constants import CLASSES
from alsmeds.formatting import format_ratio
from alsmeds.labels import CLASS_NAMES, COMPARISON_NAMES, WINDOW_NAMES, label
from alsmeds.plots.axes import log_ratio_axis
from alsmeds.plots.palette import (
    CLASS_COLOURS,
    COMPARISON_COLOURS,
    NEUTRAL_COLOUR,
    PUBLISHED_COLOUR,
    PUBLISHED_MARKER,
    STRATUM_FILLED,
    STRATUM_MARKERS,
    SUMMARY_COLOUR,
    TRUTH_COLOUR,
    TRUTH_MARKER,
)
from alsmeds.reporting.risk_tables import age_strata, select_estimates

WINDOW_ORDER = ("gt1", "ever", "0_1", "1_5", "gt5")
#: Font size of the value column and of "not estimable" (points): readable at 12 in.
VALUE_FONTSIZE = 9
#: Markers of analysis variants (:func:`plot_variants`): the first (the main analysis) filled, the others open.
VARIANT_MARKERS = ("o", "s", "^", "v", "D")
#: Vertical spread of a row's groups (row units, either side of the row's centre), at most.
_SPREAD = 0.3
#: With a planted star beside each group's estimate: the star sits this share of the distance between two
#: groups' lines above its own estimate (closer to it than to the next group's), and the two are at least
#: this far apart (inches), so that neither marker hides the other.
_STAR_SHARE = 0.4
_STAR_CLEARANCE_IN = 0.11
#: ... and a row's estimates and stars span at most this much of a row, leaving the rows more apart than a
#: star from its estimate.
_ROW_SPAN = 0.66
#: Area of a planted star (points squared): about 9 points across.
_STAR_SIZE = 80


def _slot_offsets(slots: int, stars_beside: bool) -> tuple[np.ndarray, float]:
    """Vertical offsets of a row's slots (row units, top first) and the shift of a star above its estimate.

    Without stars beside the estimates the slots spread evenly over at most :data:`_SPREAD`
    either side of the row's centre (shift 0).  With them, each slot's estimate is followed
    by its star :data:`_STAR_SHARE` of a slot's distance above it, and the whole spans at
    most :data:`_ROW_SPAN` of the row, so that the top star is nearer its own estimate than
    the next row's.
    """
    if not stars_beside:
        spread = min(_SPREAD, 0.085 * slots)  # a row's groups stay closer to each other than to the next row's
        return (np.linspace(spread, -spread, slots) if slots > 1 else np.zeros(1)), 0.0
    step = min(_ROW_SPAN / (slots - 1 + _STAR_SHARE), _ROW_SPAN / 2)  # rows stay further apart than groups
    shift = _STAR_SHARE * step
    top = ((slots - 1) * step + shift) / 2
    return top - shift - step * np.arange(slots), shift


def _rows(estimates: pd.DataFrame) -> pd.DataFrame:
    """The (class, window) rows in the study's order (study classes, then any other class)."""
    class_order = {k: i for i, k in enumerate(CLASSES)}
    rows = estimates[["drug_class", "window"]].drop_duplicates()
    rows = rows.assign(
        class_order=rows["drug_class"].map(lambda k: class_order.get(k, len(CLASSES))),
        window_order=rows["window"].map(lambda w: WINDOW_ORDER.index(w) if w in WINDOW_ORDER else len(WINDOW_ORDER)),
    )
    return rows.sort_values(["class_order", "drug_class", "window_order"]).reset_index(drop=True)


def plot_forest(
    estimates: pd.DataFrame,
    published: pd.DataFrame | None = None,
    truth: pd.DataFrame | None = None,
    ax: plt.Axes | None = None,
    group_by: str = "comparison",
    colours: Mapping[str, str] | None = None,
    title: str | None = None,
    legend: bool = True,
    markers: Mapping[str, str] | None = None,
    filled: Mapping[str, bool] | None = None,
    group_labels: Mapping[str, str] | None = None,
    values: bool = True,
    row_notes: Mapping[tuple[str, str], str] | None = None,
) -> plt.Axes:
    """Odds ratios with 95% CIs, one row per class and window, one marker per group, values at the right.

    Parameters
    ----------
    estimates : DataFrame
        Columns drug_class, window, odds_ratio, ci_lower, ci_upper, estimable and ``group_by``.
    published : DataFrame, optional
        drug_class, window, published_or, published_lower, published_upper: drawn as black
        open squares with their CI.
    truth : DataFrame, optional
        drug_class, window, odds_ratio: the planted estimand, drawn as a magenta star.  With a
        ``group_by`` column each star sits just above its group's estimate (e.g. the estimand
        of each comparison), nearer to it than to any other group's, so that neither hides
        the other; otherwise on a line of its own.
    ax : Axes, optional
        Drawn on a new figure (height from the number of rows) when None.
    group_by : str
        Column whose levels are drawn side by side in each row (e.g. comparison, stratum).
    colours : mapping, optional
        Group -> colour; the groups drawn, in this order.  Default
        :data:`~alsmeds.plots.palette.COMPARISON_COLOURS`.  Ignored when ``markers`` is given.
    title : str, optional
    legend : bool
        A legend below the axes (group markers, published, planted).
    markers : mapping, optional
        Group -> marker, the groups drawn in this order: every point then takes its
        **class's** colour (:data:`~alsmeds.plots.palette.CLASS_COLOURS`) and the groups are
        told apart by marker and ``filled`` (age strata).
    filled : mapping, optional
        Group -> whether its marker is filled (default filled).
    group_labels : mapping, optional
        Group -> legend entry (default: readable comparison names, else the group itself).
    values : bool
        Write "OR (95% CI)" of every drawn estimate (and published value) at the right of
        its row, in its colour; "not estimable" for a term that could not be estimated.
    row_notes : mapping, optional
        (drug_class, window) -> a second line of the row's label (e.g. an interaction p-value).

    Returns
    -------
    Axes
    """
    created = ax is None
    by_class = markers is not None
    order = dict(markers) if by_class else dict(colours or COMPARISON_COLOURS)
    present = set(estimates[group_by])
    groups = [g for g in order if g in present]
    filled = filled or {}
    names = {**COMPARISON_NAMES, **(group_labels or {})}
    truth_by_group = truth is not None and group_by in truth.columns

    rows = _rows(estimates)
    n = len(rows)
    slots = len(groups) + (published is not None) + (truth is not None and not truth_by_group)
    offsets, star_shift = _slot_offsets(slots, stars_beside=truth_by_group)
    if ax is None:
        row_height = max(0.55, 0.21 * slots)
        if truth_by_group:  # room for a star just above each estimate, clear of both markers
            row_height = max(row_height, _STAR_CLEARANCE_IN / star_shift)
        _, ax = plt.subplots(figsize=(10.0, row_height * n + 1.8))
    y_of = {(r.drug_class, r.window): float(n - i) for i, r in enumerate(rows.itertuples())}
    value_x = transforms.blended_transform_factory(ax.transAxes, ax.transData)
    estimable = estimates["estimable"].astype(bool)

    def colour_of(group: str, drug_class: str) -> str:
        if by_class:
            return CLASS_COLOURS.get(drug_class, NEUTRAL_COLOUR)
        return order[group]

    def write(y: float, text: str, colour: str) -> None:
        if values:
            ax.text(1.02, y, text, transform=value_x, color=colour, fontsize=VALUE_FONTSIZE, va="center", clip_on=False)

    handles: list[Line2D] = []
    for j, g in enumerate(groups):
        marker = order[g] if by_class else "o"
        is_filled = filled.get(g, True)
        in_group = estimates[group_by] == g
        for r in estimates[in_group].itertuples():
            y = y_of[(r.drug_class, r.window)] + offsets[j]
            colour = colour_of(g, r.drug_class)
            if not bool(r.estimable):
                write(y, "not estimable", colour)
                continue
            ax.errorbar(
                r.odds_ratio,
                y,
                xerr=[[r.odds_ratio - r.ci_lower], [r.ci_upper - r.odds_ratio]],
                fmt=marker,
                color=colour,
                ecolor=colour,
                markerfacecolor=colour if is_filled else "white",
                markeredgecolor=colour,
                capsize=2,
                markersize=6,
            )
            write(y, format_ratio(r.odds_ratio, r.ci_lower, r.ci_upper), colour)
        key = SUMMARY_COLOUR if by_class else order[g]
        handles.append(
            Line2D(
                [],
                [],
                marker=marker,
                linestyle="-",
                color=key,
                markerfacecolor=key if is_filled else "white",
                markeredgecolor=key,
                label=names.get(g, str(g)),
            )
        )
    j = len(groups)
    if published is not None:
        pub = published[[(k, w) in y_of for k, w in zip(published["drug_class"], published["window"], strict=True)]]
        for r in pub.itertuples():
            y = y_of[(r.drug_class, r.window)] + offsets[j]
            ax.errorbar(
                r.published_or,
                y,
                xerr=[[r.published_or - r.published_lower], [r.published_upper - r.published_or]],
                fmt=PUBLISHED_MARKER,
                color=PUBLISHED_COLOUR,
                markerfacecolor="white",
                capsize=2,
                markersize=6,
            )
            write(y, format_ratio(r.published_or, r.published_lower, r.published_upper), PUBLISHED_COLOUR)
        handles.append(
            Line2D([], [], marker=PUBLISHED_MARKER, color=PUBLISHED_COLOUR, markerfacecolor="white", label="published")
        )
        j += 1
    if truth is not None:
        tr = truth[[(k, w) in y_of for k, w in zip(truth["drug_class"], truth["window"], strict=True)]]
        if truth_by_group:  # just above its group's estimate, so that neither hides the other
            tr = tr[tr[group_by].isin(groups)]
            shift = np.array([offsets[groups.index(g)] + star_shift for g in tr[group_by]])
        else:
            shift = np.full(len(tr), offsets[j])
        y = np.array([y_of[(k, w)] for k, w in zip(tr["drug_class"], tr["window"], strict=True)]) + shift
        ax.scatter(
            tr["odds_ratio"],
            y,
            marker=TRUTH_MARKER,
            s=_STAR_SIZE,
            color=TRUTH_COLOUR,
            edgecolor="black",
            linewidth=0.5,
            zorder=3,
        )
        handles.append(
            Line2D(
                [],
                [],
                marker=TRUTH_MARKER,
                linestyle="none",
                color=TRUTH_COLOUR,
                markeredgecolor="black",
                markersize=11,
                label="planted estimand" + (" (just above its group's estimate)" if truth_by_group else ""),
            )
        )

    drawn = [estimates.loc[estimable, c] for c in ("ci_lower", "ci_upper", "odds_ratio")]
    if truth is not None:
        drawn.append(truth["odds_ratio"])
    if published is not None:
        drawn += [published["published_lower"], published["published_upper"]]
    log_ratio_axis(
        ax, np.concatenate([np.asarray(v, dtype=float) for v in drawn]), label="Odds ratio of ALS (log scale)"
    )
    ax.set_ylim(0.5, n + 0.5)
    notes = row_notes or {}
    ticks = [y_of[(r.drug_class, r.window)] for r in rows.itertuples()]
    tick_labels = []
    for r in rows.itertuples():
        text = f"{label(CLASS_NAMES, r.drug_class)}, {label(WINDOW_NAMES, r.window)}"
        note = notes.get((r.drug_class, r.window))
        tick_labels.append(f"{text}\n{note}" if note else text)
    ax.set_yticks(ticks, tick_labels)
    for i in range(1, int(rows["class_order"].max()) + 1 if n else 0):
        boundary = [y_of[(r.drug_class, r.window)] for r in rows.itertuples() if r.class_order == i]
        if boundary:
            ax.axhline(max(boundary) + 0.5, color="0.85", linewidth=0.8)
    if values and n:
        ax.text(
            1.02,
            1.0,
            "OR (95% CI)",
            transform=ax.transAxes,
            fontsize=VALUE_FONTSIZE,
            fontweight="bold",
            va="bottom",
            clip_on=False,
        )
    if legend and handles:
        below = transforms.offset_copy(ax.transAxes, fig=ax.figure, y=-0.5, units="inches")
        ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            bbox_transform=below,
            ncol=min(len(handles), 4),
            fontsize=VALUE_FONTSIZE,
        )
    if title:
        ax.set_title(title, pad=14 if values else 6)
    if created:
        ax.figure.tight_layout()
    return ax


def plot_truth_vs_estimates(
    estimates: pd.DataFrame,
    truth: pd.DataFrame,
    ax: plt.Axes | None = None,
    group_by: str = "comparison",
    title: str | None = None,
) -> plt.Axes:
    """Estimates of several comparisons beside the planted estimand of each, on one shared log-ratio axis.

    Parameters
    ----------
    estimates : DataFrame
        One model per group (e.g. the mutually adjusted windows of each comparison): drug_class,
        window, odds_ratio, ci_lower, ci_upper, estimable and ``group_by``.
    truth : DataFrame
        drug_class, window, odds_ratio and ``group_by``: each group's estimand, drawn as a star
        just above that group's estimate.
    ax : Axes, optional
    group_by : str
        Column of the groups (default comparison: coloured as its controls).
    title : str, optional

    Returns
    -------
    Axes
    """
    if group_by not in truth.columns:
        raise ValueError(f"truth needs a {group_by!r} column: each group has its own estimand")
    return plot_forest(estimates, truth=truth, ax=ax, group_by=group_by, title=title)


def plot_variants(
    estimates: pd.DataFrame,
    variant: str = "variant",
    order: Sequence[str] | None = None,
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> plt.Axes:
    """The same estimates under several analysis choices (a longer lag, a lagged covariate), side by side.

    Variants have no colour of their own: each point takes its class's colour and the variant is
    told by its marker (:data:`VARIANT_MARKERS`), the first variant (the main analysis) filled and
    the others open.

    Parameters
    ----------
    estimates : DataFrame
        drug_class, window, odds_ratio, ci_lower, ci_upper, estimable and ``variant`` (readable
        names: they are the legend).
    variant : str
        Column naming the analysis choice of each row.
    order : sequence of str, optional
        Variants in drawing order, the main analysis first; default their order of appearance.
    ax : Axes, optional
    title : str, optional

    Returns
    -------
    Axes
    """
    order = list(order) if order is not None else list(dict.fromkeys(estimates[variant]))
    if len(order) > len(VARIANT_MARKERS):
        raise ValueError(f"at most {len(VARIANT_MARKERS)} variants can be told apart, not {len(order)}")
    markers = {v: VARIANT_MARKERS[i] for i, v in enumerate(order)}
    filled = {v: i == 0 for i, v in enumerate(order)}
    return plot_forest(estimates, ax=ax, group_by=variant, markers=markers, filled=filled, title=title)


def interaction_notes(tests: pd.DataFrame, p_column: str = "lr_p", modifier: str = "age") -> dict[tuple[str, str], str]:
    """Row notes for :func:`plot_forest`: the interaction p-value of each (class, window).

    Parameters
    ----------
    tests : DataFrame
        Rows of :func:`alsmeds.models.stratified.interaction_tests` of one comparison and
        stratifier (drug_class, window, estimable and ``p_column``).
    p_column : {"lr_p", "wald_p"}
        The likelihood-ratio test of the class's interaction terms, or the term's Wald test.
    modifier : str
        What the exposure interacts with, for the note ("age" -> "age × use: p = 0.18").

    Returns
    -------
    dict
        (drug_class, window) -> note; "not estimable" where the test could not be done.
    """
    notes = {}
    for r in tests.itertuples():
        p = getattr(r, p_column)
        ok = bool(r.estimable) and np.isfinite(p)
        if not ok:
            notes[(r.drug_class, r.window)] = f"{modifier} × use: not estimable"
        else:
            notes[(r.drug_class, r.window)] = f"{modifier} × use: " + (f"p = {p:.2f}" if p >= 0.01 else "p < 0.01")
    return notes


def age_strata_style(age_cutoff: float) -> tuple[dict[str, str], dict[str, bool], dict[str, str]]:
    """Markers, fills and legend entries of the age strata (and the pooled estimate) at a cut-off.

    Strata have no colour of their own: each point keeps its class's colour and the stratum is
    told by :data:`~alsmeds.plots.palette.STRATUM_MARKERS` and
    :data:`~alsmeds.plots.palette.STRATUM_FILLED`.

    Returns
    -------
    (markers, filled, labels) : tuple of dict
        Keyed by ``"pooled"`` and the stratum labels (``"<65"``, ``"65+"``), in drawing order.
    """
    young, old = age_strata(age_cutoff)
    markers = {"pooled": STRATUM_MARKERS["pooled"], young: STRATUM_MARKERS["young"], old: STRATUM_MARKERS["old"]}
    filled = {"pooled": STRATUM_FILLED["pooled"], young: STRATUM_FILLED["young"], old: STRATUM_FILLED["old"]}
    labels = {"pooled": "all ages", young: f"case aged {young}", old: f"case aged {old}"}
    return markers, filled, labels


def plot_age_strata(
    estimates: pd.DataFrame,
    age_cutoff: float,
    tests: pd.DataFrame | None = None,
    truth: pd.DataFrame | None = None,
    comparison: str = "population",
    p_column: str = "lr_p",
    title: str | None = None,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Odds ratios of one comparison by the case's age stratum, pooled estimate included when present.

    Parameters
    ----------
    estimates : DataFrame
        Stratified estimates (``stratum``, ``stratified_by``, ``comparison`` and the columns of
        :func:`plot_forest`): ``effect_modification.csv`` or
        :func:`alsmeds.models.stratified.fit_stratified`.  The rows of ``comparison`` stratified
        by age are drawn; the pooled stratum ``"all"`` is drawn as ``"pooled"``.
    age_cutoff : float
        The cut-off the estimates were stratified at (names the strata).
    tests : DataFrame, optional
        Interaction tests (``interaction_tests.csv``): the ``p_column`` p-value of the age x use
        interaction of each row is written under its label (:func:`interaction_notes`).
    truth : DataFrame, optional
        Planted estimands with a ``stratum`` column: a star just above each stratum's estimate.
    comparison : str
    p_column : {"lr_p", "wald_p"}
    title : str, optional
    ax : Axes, optional

    Returns
    -------
    Axes
    """
    markers, filled, labels = age_strata_style(age_cutoff)
    rows = select_estimates(estimates, comparison=comparison, stratified_by="age")
    rows = rows.assign(stratum=rows["stratum"].replace({"all": "pooled"}))
    notes = None
    if tests is not None:
        notes = interaction_notes(select_estimates(tests, comparison=comparison, stratified_by="age"), p_column)
    return plot_forest(
        rows,
        truth=truth,
        ax=ax,
        group_by="stratum",
        markers=markers,
        filled=filled,
        group_labels=labels,
        row_notes=notes,
        title=title,
    )
