"""Figures of ALSFRS-R trajectories: spaghetti plots, fitted mean trajectories, residual checks, dropout.

Users of a class are drawn in the class's colour, non-users in :data:`~alsmeds.plots.palette.NON_USER_COLOUR`
(:func:`exposure_colours`), planted values in magenta (:data:`~alsmeds.plots.palette.TRUTH_COLOUR`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.patheffects as path_effects
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import transforms
from matplotlib.lines import Line2D
from scipy import stats

from alsmeds.constants import Z_975
from alsmeds.plots.palette import (
    CLASS_COLOURS,
    EVENT_COLOURS,
    NEUTRAL_COLOUR,
    NON_USER_COLOUR,
    SUMMARY_COLOUR,
    TRUTH_COLOUR,
)

#: Markers of the end of a patient's visits.
EVENT_MARKERS = {
    "death": ("X", EVENT_COLOURS["death"]),
    "invasive_ventilation": ("^", EVENT_COLOURS["invasive_ventilation"]),
}
EVENT_LABELS = {"death": "death", "invasive_ventilation": "invasive ventilation"}
#: The ALSFRS-R scale: 0 (no function) to 48 (normal).
SCALE_FLOOR, SCALE_CEILING = 0.0, 48.0
#: A dark outline that keeps a summary line visible over the thin lines of its own colour.
_OUTLINE = [path_effects.Stroke(linewidth=4.6, foreground=SUMMARY_COLOUR), path_effects.Normal()]


def exposure_colours(exposure: str) -> dict[int, str]:
    """Colours of non-users (0) and users (1) of a drug class: light grey and the class's colour.

    A column that is not a drug class (an ad hoc 0/1 split) draws its users in
    :data:`~alsmeds.plots.palette.SUMMARY_COLOUR`.
    """
    return {0: NON_USER_COLOUR, 1: CLASS_COLOURS.get(exposure, SUMMARY_COLOUR)}


def _group_labels(exposure: str) -> dict[int, str]:
    return {0: f"no prediagnostic {exposure}", 1: f"prediagnostic {exposure}"}


def binned_means(data: pd.DataFrame, bin_months: float = 3.0, max_months: float = 48.0) -> pd.DataFrame:
    """Observed mean score by time bin (patients still seen in that bin).

    Returns
    -------
    DataFrame
        ``bin_mid`` (months), ``mean``, ``patients`` (distinct patients seen in the bin).
    """
    d = data[data["months"] < max_months]
    bins = np.floor(d["months"] / bin_months).astype(int)
    g = d.groupby(bins)
    return pd.DataFrame(
        {
            "bin_mid": (g["months"].size().index.to_numpy() + 0.5) * bin_months,
            "mean": g["score"].mean().to_numpy(),
            "patients": g["person_id"].nunique().to_numpy(),
        }
    )


def plot_spaghetti(
    data: pd.DataFrame,
    exposure: str = "antidepressants",
    n_per_group: int = 40,
    seed: int = 0,
    bin_months: float = 3.0,
    max_months: float = 48.0,
    height: float = 4.0,
) -> plt.Figure:
    """Individual trajectories by prediagnostic use, the observed mean, and where follow-up ended.

    A seaborn facet per group (non-users, users of ``exposure``).  Each draws
    ``n_per_group`` randomly chosen patients (thin lines), marks the last visit of those
    whose follow-up ended in death or invasive ventilation, and draws the mean observed
    score per ``bin_months`` window over *all* patients of the group (thick line, outlined).
    Under each facet a strip counts the patients still seen in each window: the mean is
    taken over fewer and fewer, and different, patients.  Users are drawn in the class's
    colour, non-users in grey (:func:`exposure_colours`); a group without patients says so.

    Parameters
    ----------
    data : DataFrame
        From :func:`alsmeds.derive.alsfrs.build_alsfrs_data`.
    exposure : str
        The 0/1 exposure column that splits the facets.
    n_per_group : int
        Patients drawn per facet.
    seed : int
        Seed of the draw.
    bin_months, max_months : float
        Width of the windows of the observed mean; right end of the time axis.
    height : float
        Height of a facet in inches (two facets, at most 12 in wide in all).

    Returns
    -------
    matplotlib.figure.Figure
    """
    rng = np.random.default_rng(seed)
    labels = _group_labels(exposure)
    colours = exposure_colours(exposure)
    drawn, groups = [], {}
    for group in (0, 1):
        d = data[data[exposure] == group]
        ids = np.sort(d["person_id"].unique())
        chosen = rng.choice(ids, size=min(n_per_group, len(ids)), replace=False) if len(ids) else ids
        groups[group] = (d, ids, chosen)
        drawn.append(d[d["person_id"].isin(chosen)].assign(group=labels[group]))
    sample = pd.concat(drawn, ignore_index=True)
    order = [labels[0], labels[1]]
    grid = sns.FacetGrid(
        sample, col="group", col_order=order, height=height, aspect=min(1.35, 5.6 / height), sharey=True, despine=True
    )
    for group, ax in zip((0, 1), grid.axes.ravel(), strict=True):
        d, ids, chosen = groups[group]
        colour = colours[group]
        sub = sample[sample["group"] == labels[group]]
        if len(sub):
            sns.lineplot(
                data=sub,
                x="months",
                y="score",
                units="person_id",
                estimator=None,
                color=colour,
                alpha=0.45,
                linewidth=0.9,
                ax=ax,
            )
            last = sub.sort_values(["person_id", "months"]).groupby("person_id").tail(1)
            for event, (marker, mcolour) in EVENT_MARKERS.items():
                ends = last[last["event"] == event]
                ax.scatter(ends["months"], ends["score"], marker=marker, color=mcolour, s=30, zorder=3, linewidths=0)
        means = binned_means(d, bin_months, max_months)
        if len(means):
            ax.plot(
                means["bin_mid"], means["mean"], color=colour, lw=3, marker="o", ms=4, zorder=4, path_effects=_OUTLINE
            )
        else:
            ax.text(
                0.5,
                0.5,
                "no patients in this group",
                transform=ax.transAxes,
                ha="center",
                va="center",
                fontsize=10,
                color=SUMMARY_COLOUR,
            )
        ended = d.groupby("person_id")["event"].first()
        share = 100 * (ended != "none").sum() / max(len(ids), 1)
        ax.set_title(
            f"{labels[group]}\n{len(ids):,} patients ({share:.0f}% died or ventilated), {len(chosen)} drawn",
            fontsize=11,
        )
        ax.set_xlim(-1, max_months)
        ax.set_ylim(SCALE_FLOOR - 1, SCALE_CEILING + 1)
        ax.set_xlabel("")
        ax.tick_params(labelbottom=False)
        strip = ax.inset_axes((0.0, -0.36, 1.0, 0.27), sharex=ax)
        strip.bar(
            means["bin_mid"],
            means["patients"],
            width=bin_months * 0.85,
            color=colour,
            alpha=0.8,
            edgecolor=SUMMARY_COLOUR,
            linewidth=0.4,
        )
        strip.set_xlabel("months since diagnosis")
        strip.set_ylabel("patients\nseen" if group == 0 else "", fontsize=9)
        strip.tick_params(labelsize=9)
        sns.despine(ax=strip)
    grid.axes.ravel()[0].set_ylabel("ALSFRS-R total (0-48)")
    fig = grid.figure
    handles = [
        Line2D([], [], color=SUMMARY_COLOUR, lw=0.9, alpha=0.6, label="one patient"),
        Line2D(
            [],
            [],
            color=NON_USER_COLOUR,
            lw=3,
            marker="o",
            ms=4,
            path_effects=_OUTLINE,
            label=f"observed mean per {bin_months:g} months",
        ),
        *[
            Line2D([], [], marker=m, color=c, ls="none", ms=6, label=f"last visit before {EVENT_LABELS[e]}")
            for e, (m, c) in EVENT_MARKERS.items()
        ],
    ]
    fig.subplots_adjust(bottom=0.40, top=0.88, wspace=0.12)
    fig.legend(handles=handles, loc="lower center", ncol=4, bbox_to_anchor=(0.5, 0.0), fontsize=9)
    return fig


def plot_fitted_trajectories(
    result,
    data: pd.DataFrame | None = None,
    exposure: str = "antidepressants",
    max_months: float = 36.0,
    truth: Mapping[int, tuple[float, float]] | None = None,
    bin_months: float = 3.0,
    ax: plt.Axes | None = None,
) -> plt.Axes:
    """Model-based mean trajectories of non-users and users, with 95% bands, on the 0-48 scale.

    A straight line leaves the scale: past the month where the predicted mean (or the
    planted line) falls below 0 or rises above 48 it is not drawn, and the band is
    clipped to 0-48; the legend, below the axes, says so.  Users are drawn in the class's
    colour, non-users in grey, the planted lines dashed magenta on top, each labelled.

    Parameters
    ----------
    result : alsmeds.models.mixed.AlsfrsMixedResult
    data : DataFrame, optional
        Visit data: adds the observed means per time window (patients still seen).
    exposure : str
        The class compared; the other classes are set to non-use and the covariates to
        their mean over patients.
    max_months : float
        Right end of the time axis.
    truth : mapping, optional
        ``{0: (intercept, slope), 1: (intercept, slope)}``: planted mean lines.
    bin_months : float
        Width of the windows of the observed means.
    ax : Axes, optional

    Returns
    -------
    Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 5.2))
    months = np.linspace(0, max_months, 145)
    labels = _group_labels(exposure)
    colours = exposure_colours(exposure)
    slopes = result.group_slopes().set_index(["drug_class", "group"])
    left_scale = False
    for group in (0, 1):
        colour = colours[group]
        key = (exposure, "users" if group else "reference")
        if key not in slopes.index or not bool(slopes.loc[key, "estimable"]):
            why = slopes.loc[key, "reason"] if key in slopes.index else f"{exposure} is not in the model"
            ax.plot([], [], color=colour, lw=2.5, label=f"{labels[group]}: not estimable ({why})")
            continue
        pred = result.predict_mean(months, exposures={exposure: float(group)})
        inside = pred["mean"].between(SCALE_FLOOR, SCALE_CEILING).to_numpy()
        left_scale |= not inside.all()
        slope = slopes.loc[key, "estimate"]
        ax.plot(
            pred["months"],
            pred["mean"].where(inside),
            color=colour,
            lw=2.5,
            label=f"{labels[group]}: {slope:.2f} points/month",
        )
        ax.fill_between(
            pred["months"],
            pred["ci_lower"].clip(SCALE_FLOOR, SCALE_CEILING),
            pred["ci_upper"].clip(SCALE_FLOOR, SCALE_CEILING),
            where=inside,
            color=colour,
            alpha=0.25,
            lw=0,
        )
        if data is not None:
            means = binned_means(data[data[exposure] == group], bin_months, max_months)
            ax.plot(
                means["bin_mid"],
                means["mean"],
                ls="none",
                marker="o",
                ms=6,
                color=colour,
                alpha=0.9,
                markerfacecolor="white",
                markeredgewidth=1.5,
            )
    if truth is not None:
        for group, (b0, b1) in truth.items():
            line = b0 + b1 * months
            shown = np.where((line >= SCALE_FLOOR) & (line <= SCALE_CEILING), line, np.nan)
            left_scale |= bool(np.isnan(shown).any())
            ax.plot(months, shown, color=TRUTH_COLOUR, ls="--", lw=1.8, zorder=5)
            at = int(np.argmin(np.abs(months - 0.55 * max_months)))
            if np.isfinite(shown[at]):
                ax.annotate(
                    f"planted, {'users' if group else 'non-users'}",
                    (months[at], shown[at]),
                    xytext=(8, -14) if group else (8, 8),
                    textcoords="offset points",
                    ha="left",
                    color=TRUTH_COLOUR,
                    fontsize=9,
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.0},
                    zorder=6,
                )
    extra = []
    if data is not None:
        extra.append(
            Line2D(
                [],
                [],
                ls="none",
                marker="o",
                color=SUMMARY_COLOUR,
                markerfacecolor="white",
                label="observed mean (patients still seen)",
            )
        )
    if truth is not None:
        extra.append(Line2D([], [], color=TRUTH_COLOUR, ls="--", lw=1.8, label="planted mean trajectory"))
    if left_scale:
        extra.append(Line2D([], [], ls="none", label="lines stop where they leave the 0-48 scale"))
    handles, _ = ax.get_legend_handles_labels()
    # Below the axes: inside, it would cover the lines it explains and the planted lines' labels.
    below = transforms.offset_copy(ax.transAxes, fig=ax.figure, y=-0.45, units="inches")
    ax.legend(
        handles=handles + extra, loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=below, ncol=2, fontsize=9
    )
    ax.set_xlabel("months since diagnosis")
    ax.set_ylabel("ALSFRS-R total (0-48)")
    ax.set_xlim(0, max_months)
    ax.set_ylim(SCALE_FLOOR - 1, SCALE_CEILING + 1)
    ax.set_title("Mixed-model mean trajectories with 95% bands")
    return ax


def plot_residuals(result, fig: plt.Figure | None = None, seed: int = 0, max_points: int = 4000) -> plt.Figure:
    """Four checks of the mixed model: residuals against fitted values and time, and two normal QQ plots.

    The conditional residuals (score minus the patient's own fitted line) should scatter
    evenly around zero; the straight edges in the first panel are the 0-48 limits of
    the score.  The QQ plots compare the shape of the residuals and of the patients'
    predicted slopes (BLUPs), each scaled by its own SD, with the normal distribution
    the model assumes (conditional residuals and BLUPs are shrunk, so their SDs are
    smaller than the model's sigma and random-slope SD).
    """
    if fig is None:
        fig = plt.figure(figsize=(11, 8))
    axes = fig.subplots(2, 2)
    r = result.residuals()
    rng = np.random.default_rng(seed)
    shown = r.iloc[np.sort(rng.choice(len(r), size=min(max_points, len(r)), replace=False))]
    ax = axes[0, 0]
    ax.scatter(shown["fitted"], shown["residual"], s=5, alpha=0.3, color=NEUTRAL_COLOUR, lw=0)
    _binned_line(ax, r["fitted"], r["residual"], bins=20)
    ax.axhline(0, color="black", lw=0.8)
    for edge, label in ((SCALE_FLOOR, "floor"), (SCALE_CEILING, "ceiling")):
        ax.axvline(edge, color=SUMMARY_COLOUR, lw=1, ls="--")
        ax.text(edge, ax.get_ylim()[1], f" {label}", color=SUMMARY_COLOUR, fontsize=9, va="top")
    ax.set_xlabel("fitted value (patient's own line)")
    ax.set_ylabel("residual (points)")
    ax.set_title("Residuals vs fitted")
    ax = axes[0, 1]
    ax.scatter(shown["months"], shown["residual"], s=5, alpha=0.3, color=NEUTRAL_COLOUR, lw=0)
    _binned_line(ax, r["months"], r["residual"], bins=np.arange(0, r["months"].max() + 3, 3))
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel("months since diagnosis")
    ax.set_ylabel("residual (points)")
    ax.set_title("Residuals vs time")
    resid = r["residual"].to_numpy()
    _qq(axes[1, 0], (resid - resid.mean()) / resid.std(), "residuals", rng, max_points)
    re = result.random_effects
    if re.shape[1] > 1:
        slopes = re["months"].to_numpy()
        _qq(axes[1, 1], slopes / slopes.std(), "patients' predicted slopes (BLUP)", rng, max_points)
    else:
        intercepts = re["Intercept"].to_numpy()
        _qq(axes[1, 1], intercepts / intercepts.std(), "patients' predicted intercepts (BLUP)", rng, max_points)
    line = Line2D([], [], color=SUMMARY_COLOUR, lw=2, label="mean residual per bin")
    fig.legend(handles=[line], loc="upper center", ncol=1, fontsize=9, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


def _binned_line(ax: plt.Axes, x: pd.Series, y: pd.Series, bins) -> None:
    cut = pd.cut(x, bins=bins)
    g = pd.DataFrame({"x": x, "y": y, "bin": cut}).groupby("bin", observed=True)
    means = g.agg(x=("x", "mean"), y=("y", "mean"), n=("y", "size"))
    means = means[means["n"] >= 20]
    ax.plot(means["x"], means["y"], color=SUMMARY_COLOUR, lw=2)


def _qq(ax: plt.Axes, values: np.ndarray, title: str, rng: np.random.Generator, max_points: int) -> None:
    values = np.sort(values)
    n = len(values)
    theoretical = stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n)
    keep = np.sort(rng.choice(n, size=min(max_points, n), replace=False))
    ax.scatter(theoretical[keep], values[keep], s=6, alpha=0.4, color=NEUTRAL_COLOUR, lw=0)
    lim = max(np.abs(theoretical).max(), 1)
    ax.plot([-lim, lim], [-lim, lim], color=SUMMARY_COLOUR, lw=1.2)
    ax.set_xlabel("normal quantile")
    ax.set_ylabel("observed quantile (in SDs)")
    ax.set_title(f"Normal QQ: {title}")


def plot_slopes_by_followup(
    slopes: pd.DataFrame, groups: Mapping[str, pd.Series], ax: plt.Axes | None = None
) -> plt.Axes:
    """Each patient's own least-squares slope by how their follow-up ended.

    Parameters
    ----------
    slopes : DataFrame
        From :func:`alsmeds.derive.alsfrs.person_ols_slopes`.
    groups : mapping of str to boolean Series
        One box per group, in this order: :func:`alsmeds.derive.alsfrs.followup_groups` of ``slopes``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 4.5))
    values = [slopes.loc[mask, "slope"].to_numpy() for mask in groups.values()]
    labels = [f"{name}\n(n = {mask.sum():,})" for name, mask in groups.items()]
    box = ax.boxplot(values, showfliers=False, widths=0.55, patch_artist=True, medianprops={"color": "black"})
    for patch in box["boxes"]:
        patch.set_facecolor(NEUTRAL_COLOUR)
    ax.set_xticks(range(1, len(labels) + 1), labels, fontsize=9)
    for i, v in enumerate(values, start=1):
        if len(v):
            ax.plot(i, np.mean(v), marker="D", color=SUMMARY_COLOUR, ms=6)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel("patient's own slope (points/month)")
    ax.set_title("Patients' own slopes by how their follow-up ended")
    ax.legend(handles=[Line2D([], [], marker="D", color=SUMMARY_COLOUR, ls="none", label="mean")], loc="lower right")
    return ax


def plot_dropout_bias(
    estimates: pd.DataFrame,
    terms: Sequence[str] = ("months", "antidepressants:months"),
    titles: Mapping[str, str] | None = None,
    fig: plt.Figure | None = None,
) -> plt.Figure:
    """Bias of slope terms under the dropout scenarios (rows), with ±1.96 Monte Carlo SE, one panel per term.

    The bias is the mean of estimate minus this sample's true slope over noise
    replicates (:func:`alsmeds.estimands.dropout.dropout_scenarios`); the error bars are
    ±1.96 Monte Carlo standard errors of that mean, i.e. how precisely the replicates
    pin the bias down, not confidence intervals of the estimates.  Zero (solid line) is
    no bias.  The reference slope is drawn in the non-users' grey, a class's slope
    difference in the class's colour.

    Parameters
    ----------
    estimates : DataFrame
        ``scenario``, ``term``, ``bias``, ``mc_se`` (missing with one replicate: no bars)
        and ``replicates``; scenarios are drawn top to bottom in order of appearance.
    terms : sequence of str
        One panel per term.
    titles : mapping, optional
        Panel titles by term.
    fig : Figure, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if fig is None:
        fig = plt.figure(figsize=(10.5, 1.0 + 0.55 * estimates["scenario"].nunique()), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(terms), sharey=True))
    scenarios = list(dict.fromkeys(estimates["scenario"]))
    y = np.arange(len(scenarios))[::-1]
    replicates = int(estimates["replicates"].max()) if "replicates" in estimates else 1
    for ax, term in zip(axes, terms, strict=True):
        e = estimates[estimates["term"] == term].set_index("scenario").reindex(scenarios)
        colour = CLASS_COLOURS.get(term.removesuffix(":months"), NON_USER_COLOUR)
        half = Z_975 * e["mc_se"].to_numpy(dtype=float)
        ax.errorbar(
            e["bias"],
            y,
            xerr=np.where(np.isfinite(half), half, 0.0),
            fmt="o",
            color=colour,
            markeredgecolor=SUMMARY_COLOUR,
            ecolor=SUMMARY_COLOUR,
            capsize=3,
            markersize=7,
        )
        ax.axvline(0, color=SUMMARY_COLOUR, lw=1.2)
        drawn = np.concatenate([e["bias"] - np.nan_to_num(half), e["bias"] + np.nan_to_num(half), [0.0]])
        drawn = drawn[np.isfinite(drawn)]
        span = max(np.ptp(drawn), 1e-3)
        ax.set_xlim(drawn.min() - 0.12 * span, drawn.max() + 0.12 * span)
        ax.set_yticks(y, scenarios)
        ax.set_title((titles or {}).get(term, term), fontsize=11)
        ax.grid(axis="x", color="0.92")
    fig.supxlabel("bias (points/month): estimate minus this sample's true slope", fontsize=11)
    bars = f"mean over {replicates} noise replicates, ±1.96 Monte Carlo SE" if replicates > 1 else "one replicate"
    handles = [
        Line2D([], [], marker="o", color=SUMMARY_COLOUR, markerfacecolor=NON_USER_COLOUR, label=f"bias ({bars})"),
        Line2D([], [], color=SUMMARY_COLOUR, lw=1.2, label="no bias"),
    ]
    fig.legend(handles=handles, loc="outside upper center", ncol=2, fontsize=9)
    return fig
