"""The causal diagram of the planted risk mechanism: boxes and arrows, each arrow a planted parameter.

The diagram is drawn from :class:`~alsmeds.simulate.parameters.SimulationParameters`: an
arrow is drawn only when the parameter that plants it is non-zero (:func:`planted_edges`),
so a parameter set with the familial factor's effect on ALS switched off draws no arrow
from the familial factor to ALS.  Every path of the generator's risk model
(:mod:`alsmeds.simulate.population`) is an arrow:

* the familial factor ``U`` (identical in full siblings, correlated with a spouse's) raises
  the psychiatric liability, the use of the study classes (hypnotics most), the use of the
  negative control (proton-pump inhibitors) and the risk of ALS;
* the psychiatric liability raises psychiatric diagnoses and the use of all three classes;
  a personal propensity shared by the classes correlates their use;
* age, sex, education and country of birth shift use, psychiatric history and ALS risk;
* use that began more than a year before the index date and psychiatric history raise ALS
  risk (the planted within-family odds ratios, long-term ones mostly under 65);
* use that began in the last year carries the planted prodromal odds ratio.  An odds ratio
  has no direction: the generator plants an association of first use in the 0-1 year
  window with ALS at all ages, which the diagram draws as what it stands for, prescriptions
  for the symptoms of the ALS that has begun but is not yet diagnosed.

The negative control has no arrow to ALS (its planted effect is exactly 0).  Arrows through
the familial factor are drawn in the siblings' colour (a sibling set holds ``U`` fixed, so
the sibling comparison removes them; a spouse set only partly), the prodromal arrow dashed
(the one-year lag removes it from the main exposure), the measured covariates' arrows grey
(matching and adjustment remove them; psychiatric history is one of them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import matplotlib.pyplot as plt
from matplotlib.lines import Line2D
from matplotlib.offsetbox import AnnotationBbox, HPacker, TextArea
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from alsmeds.constants import CLASSES, NEGATIVE_CONTROL
from alsmeds.plots.palette import (
    CLASS_COLOURS,
    COMPARISON_COLOURS,
    NEUTRAL_COLOUR,
    ROLE_COLOURS,
    SUMMARY_COLOUR,
)
from alsmeds.simulate.parameters import SimulationParameters

#: What removes an arrow's path from the main comparison -> (colour, line style, legend text).
PATH_STYLES = {
    "familial": (
        COMPARISON_COLOURS["sibling"],
        "-",
        "through the familial factor: constant within a sibling set, so the sibling comparison removes it "
        "(a spouse set only partly)",
    ),
    "prodrome": (
        ROLE_COLOURS["case"],
        "--",
        "prodromal prescribing: the one-year lag leaves it out of the main exposure",
    ),
    "covariate": (
        NEUTRAL_COLOUR,
        "-",
        "through measured covariates: matching (age and sex of population controls) and adjustment "
        "(psychiatric history, education, country of birth) remove them",
    ),
    "studied": (SUMMARY_COLOUR, "-", "the effect the study asks about, and the other planted paths"),
}


@dataclass(frozen=True)
class Node:
    """A box of the diagram: centre (x, y) in diagram units, its text and the colour of its edge."""

    x: float
    y: float
    text: str
    colour: str = SUMMARY_COLOUR
    width: float = 3.2
    height: float = 1.0


@dataclass(frozen=True)
class Edge:
    """An arrow from ``source`` to ``target``, planted when ``planted(params)`` is true.

    ``path`` names what removes it (a key of :data:`PATH_STYLES`); ``label`` is written
    beside it; ``directed`` False draws a dotted line without a head (a correlation);
    ``start`` and ``end`` pin an end of the arrow to a point (diagram units) instead of
    the edge of its box; ``rad`` bends it.
    """

    source: str
    target: str
    path: str
    planted: Callable[[SimulationParameters], bool]
    label: str = ""
    directed: bool = True
    rad: float = 0.0
    start: tuple[float, float] | None = None
    end: tuple[float, float] | None = None


def _any_nonzero(values) -> bool:
    return any(float(v) != 0 for v in values)


def _long_term(p: SimulationParameters) -> bool:
    r = p.risk
    return _any_nonzero(t[k][w] for t in (r.log_or_young, r.log_or_old) for k in CLASSES for w in ("1_5", "gt5"))


def _prodromal(p: SimulationParameters) -> bool:
    r = p.risk
    return _any_nonzero(t[k]["0_1"] for t in (r.log_or_young, r.log_or_old) for k in CLASSES)


def _covariates_on_als(p: SimulationParameters) -> bool:
    r = p.risk
    return _any_nonzero(
        [r.log_or_male, r.log_or_per_decade_of_age, *r.log_or_education.values(), *r.log_or_country_of_birth.values()]
    )


NODES = {
    "spouse_familial": Node(1.8, 8.0, "Spouse's familial factor", COMPARISON_COLOURS["spouse"], height=0.7),
    "familial": Node(1.8, 6.2, "Familial factor U\n(the same in full siblings)", COMPARISON_COLOURS["sibling"]),
    "liability": Node(1.8, 4.1, "Psychiatric liability"),
    "propensity": Node(1.8, 2.2, "Personal propensity\n(shared by the classes)"),
    "negative_control": Node(
        1.8, -0.4, "PPI use (negative control):\nno arrow to ALS", CLASS_COLOURS[NEGATIVE_CONTROL]
    ),
    "psych_history": Node(7.4, 5.6, "Psychiatric history\n(diagnoses before the index date)", width=4.6),
    "use": Node(7.0, 2.6, "", width=4.9, height=2.0),
    "covariates": Node(7.4, -0.4, "Age, sex, education,\ncountry of birth", NEUTRAL_COLOUR, width=4.6),
    "als": Node(12.6, 4.1, "ALS\n(begun before diagnosis:\nthe prodrome)", ROLE_COLOURS["case"], height=1.3),
    "diagnosis": Node(12.6, 6.9, "ALS diagnosis:\nthe case's index date", ROLE_COLOURS["case"]),
}
#: Heights of the two rows of the use box: first use more than a year before (the main exposure), in the last year.
USE_LONG_TERM_Y = 2.35
USE_LAST_YEAR_Y = 1.9
_USE_RIGHT = NODES["use"].x + NODES["use"].width / 2
_COVARIATE_LANE_X = 9.45  # right of the use box, under the psychiatric-history box

EDGES = (
    Edge(
        "familial",
        "spouse_familial",
        "familial",
        lambda p: p.family.spouse_correlation != 0,
        "correlated",
        directed=False,
    ),
    Edge("familial", "liability", "familial", lambda p: p.family.familial_share_of_liability != 0),
    Edge("familial", "use", "familial", lambda p: _any_nonzero(p.use.per_familial_factor.values()), "mostly hypnotics"),
    Edge(
        "familial",
        "negative_control",
        "familial",
        lambda p: p.negative_control.per_familial_factor != 0,
        rad=0.22,
        start=(0.5, 5.7),
        end=(0.5, 0.1),
    ),
    Edge("familial", "als", "familial", lambda p: p.risk.log_or_familial_factor != 0, rad=-0.18),
    Edge("liability", "psych_history", "studied", lambda p: p.family.psych_history_per_liability != 0),
    Edge("liability", "use", "studied", lambda p: _any_nonzero(p.use.per_liability.values())),
    Edge("propensity", "use", "studied", lambda p: p.use.shared_propensity_share > 0),
    Edge("psych_history", "als", "covariate", lambda p: p.risk.log_or_psych_history != 0),
    Edge("use", "als", "studied", _long_term, "mostly under 65", start=(_USE_RIGHT, USE_LONG_TERM_Y)),
    Edge(
        "als",
        "use",
        "prodrome",
        _prodromal,
        "prescriptions for\nthe first symptoms",
        rad=-0.3,
        start=(11.9, 3.45),
        end=(_USE_RIGHT, USE_LAST_YEAR_Y),
    ),
    Edge("als", "diagnosis", "studied", lambda p: True),
    Edge(
        "covariates",
        "use",
        "covariate",
        lambda p: _any_nonzero([*p.use.female.values(), *p.use.per_decade_of_age.values()]),
        start=(6.6, 0.1),
    ),
    Edge(
        "covariates",
        "psych_history",
        "covariate",
        lambda p: p.family.psych_history_female != 0,
        start=(_COVARIATE_LANE_X, 0.1),
        end=(_COVARIATE_LANE_X, 5.1),
    ),
    Edge("covariates", "als", "covariate", _covariates_on_als, rad=0.25, end=(13.4, 3.45)),
    Edge(
        "covariates",
        "negative_control",
        "covariate",
        lambda p: _any_nonzero([p.negative_control.female, p.negative_control.per_decade_of_age]),
    ),
    Edge("negative_control", "als", "studied", lambda p: p.negative_control.log_or_als != 0),
)


def planted_edges(params: SimulationParameters | None = None) -> list[Edge]:
    """The arrows of :data:`EDGES` whose planted parameter is non-zero under ``params`` (default: the defaults).

    Parameters
    ----------
    params : SimulationParameters, optional
        The generator's parameters (``SimulationParameters()`` when None).

    Returns
    -------
    list of Edge
    """
    params = params if params is not None else SimulationParameters()
    return [e for e in EDGES if e.planted(params)]


def _draw_box(ax: plt.Axes, node: Node) -> FancyBboxPatch:
    patch = FancyBboxPatch(
        (node.x - node.width / 2, node.y - node.height / 2),
        node.width,
        node.height,
        boxstyle="round,pad=0.02,rounding_size=0.15",
        linewidth=1.6,
        edgecolor=node.colour,
        facecolor=node.colour + "14",
        zorder=2,
    )
    ax.add_patch(patch)
    if node.text:
        ax.text(node.x, node.y, node.text, ha="center", va="center", fontsize=9.5, zorder=3)
    return patch


def _draw_use_box(ax: plt.Axes, node: Node) -> FancyBboxPatch:
    """The use box: the three classes in their colours, then its two rows by the time of first use."""
    patch = _draw_box(ax, node)
    top = node.y + node.height / 2
    ax.text(node.x, top - 0.28, "Use of", ha="center", va="center", fontsize=9.5, zorder=3)
    names = [TextArea(k, textprops={"color": CLASS_COLOURS[k], "fontsize": 9, "fontweight": "bold"}) for k in CLASSES]
    row = AnnotationBbox(HPacker(children=names, sep=8, pad=0), (node.x, top - 0.68), frameon=False, zorder=3)
    ax.add_artist(row)
    left, right = node.x - node.width / 2, node.x + node.width / 2
    middle = (USE_LONG_TERM_Y + USE_LAST_YEAR_Y) / 2
    ax.plot([left + 0.1, right - 0.1], [middle, middle], color="0.8", lw=0.8, zorder=3)
    ax.text(
        node.x,
        USE_LONG_TERM_Y,
        "first use >1 y before: the main exposure",
        ha="center",
        va="center",
        fontsize=8.5,
        zorder=3,
    )
    ax.text(node.x, USE_LAST_YEAR_Y, "first use in the last year", ha="center", va="center", fontsize=8.5, zorder=3)
    return patch


def plot_causal_diagram(params: SimulationParameters | None = None, ax: plt.Axes | None = None) -> plt.Axes:
    """The planted mechanism of ALS risk as a causal diagram (boxes and arrows; Matplotlib only).

    Parameters
    ----------
    params : SimulationParameters, optional
        The parameters whose planted paths are drawn (default: the documented defaults).
    ax : Axes, optional
        Drawn on a new 11.5 x 8 in figure when None.

    Returns
    -------
    Axes
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(11.5, 8.0))
    ax.set_xlim(-0.6, 14.4)
    ax.set_ylim(-1.1, 8.5)
    ax.set_aspect("equal")
    ax.axis("off")
    patches = {name: (_draw_use_box if name == "use" else _draw_box)(ax, node) for name, node in NODES.items()}

    edges = planted_edges(params)
    for edge in edges:
        colour, style, _ = PATH_STYLES[edge.path]
        source, target = NODES[edge.source], NODES[edge.target]
        start = edge.start or (source.x, source.y)
        end = edge.end or (target.x, target.y)
        arrow = FancyArrowPatch(
            start,
            end,
            patchA=None if edge.start else patches[edge.source],
            patchB=None if edge.end else patches[edge.target],
            arrowstyle="-|>" if edge.directed else "-",
            mutation_scale=14,
            connectionstyle=f"arc3,rad={edge.rad}",
            color=colour,
            linestyle=style if edge.directed else ":",
            linewidth=2.4 if (edge.source, edge.target) == ("use", "als") else 1.5,
            shrinkA=2,
            shrinkB=2,
            zorder=1,
        )
        ax.add_patch(arrow)
        if edge.label:
            mid = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
            ax.annotate(
                edge.label,
                mid,
                xytext=_LABEL_OFFSETS.get((edge.source, edge.target), (0, 8)),
                textcoords="offset points",
                ha="center",
                va="center",
                fontsize=8.5,
                color=colour,
                fontstyle="italic",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 0.5},
                zorder=4,
            )
    used = {e.path for e in edges}
    handles = [
        Line2D([], [], color=colour, linestyle=style, linewidth=1.8, label=text)
        for path, (colour, style, text) in PATH_STYLES.items()
        if path in used
    ]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.02), ncol=1, fontsize=9)
    ax.set_title("The planted mechanism of ALS risk: every arrow is a parameter of the generator")
    return ax


#: Where the label of an arrow sits, relative to the arrow's midpoint (points).
_LABEL_OFFSETS = {
    ("familial", "spouse_familial"): (34, 0),
    ("familial", "use"): (-14, -10),
    ("use", "als"): (-14, 14),
    ("als", "use"): (48, -34),
}
