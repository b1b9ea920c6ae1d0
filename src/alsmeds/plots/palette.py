"""Every colour and marker of the bundle's figures, defined once.

A drug class has one colour in every figure (timelines, prevalence, Kaplan-Meier
curves, hazard ratios, ALSFRS-R trajectories), and so has a role in a matched set
(case, population control, sibling, spouse).  The class colours are chosen apart from
the role colours, so that a figure showing both never makes a class look like a role.
Reference values (published estimates, planted truth) have their own colours too.
"""

from __future__ import annotations

#: Role in a matched set -> colour.
ROLE_COLOURS = {
    "case": "#b2182b",
    "population_control": "#4d4d4d",
    "sibling": "#2166ac",
    "spouse": "#1b7837",
}
#: Role in a matched set -> marker.
ROLE_MARKERS = {"case": "o", "population_control": "s", "sibling": "^", "spouse": "D"}
#: Drug class -> colour (users of the class).
CLASS_COLOURS = {"anxiolytics": "#e08214", "hypnotics": "#8073ac", "antidepressants": "#35978f"}
#: Drug class -> label with its ATC code.
CLASS_LABELS = {
    "anxiolytics": "Anxiolytics (N05B)",
    "hypnotics": "Hypnotics and sedatives (N05C)",
    "antidepressants": "Antidepressants (N06A)",
}
#: The comparison group of a class's users: non-users.
NON_USER_COLOUR = "#4d4d4d"
#: Background shading of the exposure windows before the index date.
WINDOW_COLOURS = {"0_1": "#fcbba1", "1_5": "#c6dbef", "gt5": "#e5e5e5"}
#: A published estimate (Chourpiliadis et al. 2025).
PUBLISHED_COLOUR = "#d6604d"
#: A planted (true) value of the synthetic data.
TRUTH_COLOUR = "#fdb863"
#: Age strata: under the cut-off, and at or above it.
STRATUM_COLOURS = {"young": "#b2182b", "old": "#2166ac", "pooled": "#4d4d4d"}
#: Neutral points (residuals, single observations) and their summary line.
NEUTRAL_COLOUR = "#4d4d4d"
EMPHASIS_COLOUR = "#b2182b"
#: Events that end a patient's follow-up.
EVENT_COLOURS = {"death": "black", "invasive_ventilation": "#7b3294"}
