"""Figures of ALSFRS-R trajectories: spaghetti plots, fitted mean trajectories, residual checks, dropout."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from scipy import stats

from alsmeds.plots.palette import EVENT_COLOURS, NEUTRAL_COLOUR, NON_USER_COLOUR, SUMMARY_COLOUR

#: Colours of non-users (0) and users (1) of a drug class.
EXPOSURE_COLOURS = {0: NON_USER_COLOUR, 1: SUMMARY_COLOUR}
#: Markers of the end of a patient's visits.
EVENT_MARKERS = {
    "death": ("X", EVENT_COLOURS["death"]),
    "invasive_ventilation": ("^", EVENT_COLOURS["invasive_ventilation"]),
}
EVENT_LABELS = {"death": "death", "invasive_ventilation": "invasive ventilation"}


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
    fig: plt.Figure | None = None,
) -> plt.Figure:
    """Individual trajectories by prediagnostic use, the observed mean, and where follow-up ended.

    Each upper panel draws ``n_per_group`` randomly chosen patients (thin lines), marks
    the last visit of those whose follow-up ended in death or invasive ventilation,
    and draws the mean observed score per ``bin_months`` window over *all* patients of
    the group (thick line).  Each lower panel counts the patients still seen in each
    window: the mean is taken over fewer and fewer, and different, patients.

    Parameters
    ----------
    data : DataFrame
        From :func:`alsmeds.derive.alsfrs.build_alsfrs_data`.
    exposure : str
        The 0/1 exposure column that splits the panels.
    """
    if fig is None:
        fig = plt.figure(figsize=(12, 6.2))
    grid = fig.add_gridspec(2, 2, height_ratios=[3.2, 1], hspace=0.08, wspace=0.08)
    rng = np.random.default_rng(seed)
    labels = _group_labels(exposure)
    top_axes, bottom_axes = [], []
    for col, group in enumerate((0, 1)):
        ax = fig.add_subplot(grid[0, col], sharey=top_axes[0] if top_axes else None)
        bottom = fig.add_subplot(grid[1, col], sharex=ax, sharey=bottom_axes[0] if bottom_axes else None)
        top_axes.append(ax)
        bottom_axes.append(bottom)
        d = data[data[exposure] == group]
        ids = np.sort(d["person_id"].unique())
        chosen = rng.choice(ids, size=min(n_per_group, len(ids)), replace=False) if len(ids) else ids
        colour = EXPOSURE_COLOURS[group]
        sample = d[d["person_id"].isin(chosen)]
        for _, person in sample.groupby("person_id"):
            ax.plot(person["months"], person["score"], color=colour, alpha=0.35, lw=0.9)
            last = person.iloc[-1]
            if last["event"] in EVENT_MARKERS:
                marker, mcolour = EVENT_MARKERS[last["event"]]
                ax.plot(last["months"], last["score"], marker=marker, color=mcolour, ms=6, ls="none", zorder=3)
        means = binned_means(d, bin_months, max_months)
        ax.plot(means["bin_mid"], means["mean"], color=colour, lw=3, marker="o", ms=4, zorder=4)
        n_events = d.groupby("person_id")["event"].first().value_counts()
        share = 100 * (n_events.drop("none", errors="ignore").sum() / max(len(ids), 1))
        ax.set_title(
            f"{labels[group]}\n{len(ids):,} patients ({share:.0f}% died or ventilated), {len(chosen)} drawn",
            fontsize=11,
        )
        ax.set_xlim(-1, max_months)
        ax.set_ylim(-1, 49)
        ax.tick_params(labelbottom=False)
        if col == 0:
            ax.set_ylabel("ALSFRS-R total (0-48)")
        else:
            ax.tick_params(labelleft=False)
        bottom.bar(means["bin_mid"], means["patients"], width=bin_months * 0.85, color=colour, alpha=0.6)
        bottom.set_xlabel("months since diagnosis")
        if col == 0:
            bottom.set_ylabel("patients seen")
        else:
            bottom.tick_params(labelleft=False)
    handles = [
        Line2D([], [], color="grey", lw=0.9, alpha=0.6, label="one patient"),
        Line2D([], [], color="grey", lw=3, marker="o", ms=4, label=f"observed mean per {bin_months:g} months"),
        *[
            Line2D([], [], marker=m, color=c, ls="none", ms=6, label=f"last visit before {EVENT_LABELS[e]}")
            for e, (m, c) in EVENT_MARKERS.items()
        ],
    ]
    fig.legend(handles=handles, loc="lower center", ncol=4, bbox_to_anchor=(0.5, 0.0), fontsize=9)
    fig.subplots_adjust(bottom=0.16)
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
    """Model-based mean trajectories of non-users and users, with 95% bands.

    Parameters
    ----------
    result : alsmeds.models.mixed.AlsfrsMixedResult
    data : DataFrame, optional
        Visit data: adds the observed means per time window (patients still seen).
    exposure : str
        The class compared; the other classes are set to non-use and the covariates to
        their mean over patients.
    truth : mapping, optional
        ``{0: (intercept, slope), 1: (intercept, slope)}``: planted mean lines, dashed.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 5))
    months = np.linspace(0, max_months, 61)
    labels = _group_labels(exposure)
    slopes = result.group_slopes().set_index(["drug_class", "group"])
    for group in (0, 1):
        colour = EXPOSURE_COLOURS[group]
        key = (exposure, "users" if group else "reference")
        if key not in slopes.index or not bool(slopes.loc[key, "estimable"]):
            why = slopes.loc[key, "reason"] if key in slopes.index else f"{exposure} is not in the model"
            ax.plot([], [], color=colour, lw=2.5, label=f"{labels[group]}: not estimable ({why})")
            continue
        pred = result.predict_mean(months, exposures={exposure: float(group)})
        slope = slopes.loc[key, "estimate"]
        ax.plot(pred["months"], pred["mean"], color=colour, lw=2.5, label=f"{labels[group]}: {slope:.2f} points/month")
        ax.fill_between(pred["months"], pred["ci_lower"], pred["ci_upper"], color=colour, alpha=0.2, lw=0)
        if data is not None:
            means = binned_means(data[data[exposure] == group], bin_months, max_months)
            ax.plot(
                means["bin_mid"],
                means["mean"],
                ls="none",
                marker="o",
                ms=5,
                color=colour,
                alpha=0.8,
                markerfacecolor="white",
            )
        if truth is not None and group in truth:
            b0, b1 = truth[group]
            ax.plot(months, b0 + b1 * months, color=colour, ls="--", lw=1.3)
    extra = (
        [
            Line2D(
                [],
                [],
                ls="none",
                marker="o",
                color="grey",
                markerfacecolor="white",
                label="observed mean (patients still seen)",
            )
        ]
        if data is not None
        else []
    )
    if truth is not None:
        extra.append(Line2D([], [], color="grey", ls="--", label="planted mean trajectory"))
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles=handles + extra, loc="lower left", fontsize=9)
    ax.set_xlabel("months since diagnosis")
    ax.set_ylabel("ALSFRS-R total")
    ax.set_xlim(0, max_months)
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
    for edge, label in ((0, "floor"), (48, "ceiling")):
        ax.axvline(edge, color=EVENT_COLOURS["invasive_ventilation"], lw=1, ls="--")
        ax.text(edge, ax.get_ylim()[1], f" {label}", color=EVENT_COLOURS["invasive_ventilation"], fontsize=8, va="top")
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


def plot_slopes_by_followup(slopes: pd.DataFrame, ax: plt.Axes | None = None) -> plt.Axes:
    """Each patient's own least-squares slope by how their follow-up ended.

    Parameters
    ----------
    slopes : DataFrame
        From :func:`alsmeds.derive.alsfrs.person_ols_slopes`.
    """
    from alsmeds.derive.alsfrs import followup_groups

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    groups = followup_groups(slopes)
    values = [slopes.loc[mask, "slope"].to_numpy() for mask in groups.values()]
    labels = [f"{name}\n(n = {mask.sum():,})" for name, mask in groups.items()]
    box = ax.boxplot(values, showfliers=False, widths=0.55, patch_artist=True, medianprops={"color": "black"})
    for patch in box["boxes"]:
        patch.set_facecolor("#d1e5f0")
    ax.set_xticks(range(1, len(labels) + 1), labels, fontsize=9)
    for i, v in enumerate(values, start=1):
        if len(v):
            ax.plot(i, np.mean(v), marker="D", color=SUMMARY_COLOUR, ms=6)
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel("patient's own slope (points/month)")
    ax.set_title("Patients' own slopes by how their follow-up ended")
    ax.legend(handles=[Line2D([], [], marker="D", color=SUMMARY_COLOUR, ls="none", label="mean")], loc="lower right")
    return ax


def plot_slope_scenarios(
    estimates: pd.DataFrame,
    terms: Sequence[str] = ("months", "antidepressants:months"),
    titles: Mapping[str, str] | None = None,
    truth: Mapping[str, float] | None = None,
    sample: Mapping[str, float] | None = None,
    fig: plt.Figure | None = None,
) -> plt.Figure:
    """Estimates of slope terms under several data scenarios (rows), one panel per term.

    Parameters
    ----------
    estimates : DataFrame
        ``scenario``, ``term``, ``estimate``, ``ci_lower``, ``ci_upper``; scenarios are
        drawn top to bottom in order of appearance.
    truth, sample : mapping, optional
        Planted population values (solid line) and this sample's latent values (dotted).
    """
    if fig is None:
        fig = plt.figure(figsize=(11, 3.4))
    axes = fig.subplots(1, len(terms), sharey=True)
    axes = np.atleast_1d(axes)
    scenarios = list(dict.fromkeys(estimates["scenario"]))
    y = np.arange(len(scenarios))[::-1]
    for ax, term in zip(axes, terms, strict=True):
        e = estimates[estimates["term"] == term].set_index("scenario").loc[scenarios]
        ax.errorbar(
            e["estimate"],
            y,
            xerr=[e["estimate"] - e["ci_lower"], e["ci_upper"] - e["estimate"]],
            fmt="o",
            color=NON_USER_COLOUR,
            capsize=3,
        )
        if truth is not None and term in truth:
            ax.axvline(truth[term], color=SUMMARY_COLOUR, lw=1.5, label="planted value")
        if sample is not None and term in sample:
            ax.axvline(sample[term], color=SUMMARY_COLOUR, lw=1.2, ls=":", label="this sample's true slopes")
        ax.set_yticks(y, scenarios)
        ax.set_title((titles or {}).get(term, term), fontsize=11)
        ax.set_xlabel("points/month")
    handles, labels = axes[-1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, bbox_to_anchor=(0.5, 0.0))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig
