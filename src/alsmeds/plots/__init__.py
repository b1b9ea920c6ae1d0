"""Figures of the bundle.  Every function draws on a Matplotlib axes and returns it."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import seaborn as sns

from alsmeds.data.write import temporary_sibling
from alsmeds.plots.palette import CLASS_COLOURS, ROLE_COLOURS, ROLE_MARKERS  # noqa: F401 - re-exported

#: The widest figure the notebooks draw (inches): at 100 dpi it fits a JupyterLab page.
MAX_FIGURE_WIDTH = 12.0


def use_style() -> None:
    """The bundle's one theme: seaborn's ``ticks`` style at notebook size, with the class colours first.

    Called once at the top of every notebook (and by the plotting tests), so every
    figure, whether drawn by seaborn or by Matplotlib directly, looks the same.
    """
    sns.set_theme(context="notebook", style="ticks", palette=list(CLASS_COLOURS.values()))
    plt.rcParams.update(
        {
            "figure.figsize": (9.0, 5.0),
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
    """Save a figure as ``<figures_dir>/<name>.png`` atomically (temporary file, then rename).

    A figure wider than :data:`MAX_FIGURE_WIDTH` is refused: it would be shrunk, and its
    text with it, in a notebook page.
    """
    if fig.get_figwidth() > MAX_FIGURE_WIDTH + 1e-9:
        raise ValueError(
            f"figure {name!r} is {fig.get_figwidth():g} in wide; at most {MAX_FIGURE_WIDTH:g} in reads in JupyterLab"
        )
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
