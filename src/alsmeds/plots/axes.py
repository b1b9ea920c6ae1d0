"""Axes shared by the bundle's figures: one log-ratio axis for every odds and hazard ratio."""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib.pyplot as plt
import numpy as np

#: Tick marks a ratio axis may show (those inside the drawn range are used).
RATIO_TICKS = (0.1, 0.2, 0.25, 0.5, 0.8, 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 8, 10, 16, 20, 32, 50)


def ratio_limits(
    values: Iterable[float],
    always: tuple[float, float] = (0.8, 2.5),
    bounds: tuple[float, float] = (0.1, 60.0),
    margin: float = 1.1,
) -> tuple[float, float]:
    """Limits of a log-ratio axis that show every finite positive value, ``always`` and a margin.

    Parameters
    ----------
    values : iterable of float
        Everything drawn on the axis (estimates, interval ends, reference values);
        non-finite and non-positive values are ignored (an interval of a term that could
        not be estimated draws nothing).
    always : (float, float)
        A range the axis always shows, so a tight set of estimates is not blown up.
    bounds : (float, float)
        The axis never extends beyond these (an interval of a tiny extract can be huge).
    margin : float
        Multiplicative room left and right of the extreme values.
    """
    finite = np.asarray([v for v in values if v is not None], dtype=float)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    lo = min([always[0], *finite]) / margin
    hi = max([always[1], *finite]) * margin
    return max(bounds[0], lo), min(bounds[1], hi)


def log_ratio_axis(
    ax: plt.Axes,
    values: Iterable[float],
    axis: str = "x",
    label: str | None = None,
    always: tuple[float, float] = (0.8, 2.5),
    reference: float | None = 1.0,
    max_ticks: int = 9,
) -> tuple[float, float]:
    """Make ``axis`` of ``ax`` a log-scale ratio axis with plain-number ticks and a line at the null.

    Odds ratios and hazard ratios are symmetric on the log scale (2 and 0.5 are equally
    far from 1), so every ratio in the bundle is drawn on this one axis: the same tick
    marks, written as plain numbers (0.5, 1, 2), no minor tick labels, and a grey line at
    ``reference`` (1, no association).

    Parameters
    ----------
    ax : matplotlib Axes
    values : iterable of float
        Everything drawn along the axis (see :func:`ratio_limits`).
    axis : {"x", "y"}
    label : str, optional
        Axis label, e.g. ``"Odds ratio of ALS (log scale)"``.
    always : (float, float)
        A range always shown.
    reference : float or None
        Where to draw the null line; None draws none.
    max_ticks : int
        At most this many tick marks (every other one is dropped until they fit).

    Returns
    -------
    (float, float)
        The limits set.
    """
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', not {axis!r}")
    lo, hi = ratio_limits(values, always=always)
    ticks = [t for t in RATIO_TICKS if lo <= t <= hi]
    while len(ticks) > max_ticks:
        keep = ticks[::2]
        if 1 in ticks and 1 not in keep:
            keep = ticks[1::2]
        ticks = keep
    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    (ax.set_xticks if axis == "x" else ax.set_yticks)(ticks, [f"{t:g}" for t in ticks])
    target.set_minor_formatter(plt.NullFormatter())
    (ax.set_xlim if axis == "x" else ax.set_ylim)(lo, hi)
    if reference is not None:
        (ax.axvline if axis == "x" else ax.axhline)(reference, color="0.55", linewidth=1, zorder=0)
    if label:
        (ax.set_xlabel if axis == "x" else ax.set_ylabel)(label)
    return lo, hi
