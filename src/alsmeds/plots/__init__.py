"""Figures of the bundle.  Every function draws on a Matplotlib axes and returns it."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt

from alsmeds.data.write import temporary_sibling
from alsmeds.plots.palette import ROLE_COLOURS, ROLE_MARKERS  # noqa: F401 - re-exported


def use_style() -> None:
    """A clean, readable style for teaching figures."""
    plt.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titleweight": "bold",
            "axes.titlesize": 12,
            "axes.labelsize": 11,
            "font.size": 10,
            "legend.frameon": False,
        }
    )


def save_figure(fig: plt.Figure, name: str, figures_dir: str | Path) -> Path:
    """Save a figure as ``<figures_dir>/<name>.png`` atomically (temporary file, then rename)."""
    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    target = figures_dir / f"{name}.png"
    tmp = temporary_sibling(target, suffix=".png")
    try:
        fig.savefig(tmp, format="png", bbox_inches="tight", metadata={"Software": None})
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
