"""Every colour and marker of the bundle's figures, defined once: one colour, one meaning.

A drug class has one colour in every figure (timelines, prevalence, Kaplan-Meier
curves, hazard ratios, ALSFRS-R trajectories), and so has a role in a matched set
(case, population control, sibling, spouse); a comparison (population, sibling,
spouse) takes the colour of its controls.  No colour of a class or a role is reused for
anything else: reference values (published estimates, planted truth), the comparison
group of users (non-users), neutral points, summaries and events have their own.  What
has no colour of its own (age strata, model variants) is told apart by markers and line
styles, in the colour of what it describes.
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
#: A comparison (its controls' role) -> colour.
COMPARISON_COLOURS = {
    "population": ROLE_COLOURS["population_control"],
    "sibling": ROLE_COLOURS["sibling"],
    "spouse": ROLE_COLOURS["spouse"],
}
#: Drug class -> colour (users of the class).  The negative-control class (a drug with no
#: planted effect, notebook 03) has its own.
CLASS_COLOURS = {
    "anxiolytics": "#e08214",
    "hypnotics": "#8073ac",
    "antidepressants": "#35978f",
    "ppis": "#8c6d31",  # the negative control, alsmeds.constants.NEGATIVE_CONTROL
}
#: The comparison group of a class's users: non-users.
NON_USER_COLOUR = "#a6a6a6"
#: Background shading of the exposure windows before the index date.
WINDOW_COLOURS = {"0_1": "#fcbba1", "1_5": "#c6dbef", "gt5": "#e5e5e5"}
#: A published estimate (Chourpiliadis et al. 2025): black, open square.
PUBLISHED_COLOUR = "#000000"
PUBLISHED_MARKER = "s"
#: A planted (true) value of the synthetic data: magenta star.
TRUTH_COLOUR = "#c51b7d"
TRUTH_MARKER = "*"
#: Age strata (notebook 04) are told apart by marker and fill, in the class's colour.
STRATUM_MARKERS = {"young": "o", "old": "s", "pooled": "D"}
STRATUM_FILLED = {"young": True, "old": False, "pooled": True}
#: Neutral points (residuals, single observations) and the summary line drawn over them.
NEUTRAL_COLOUR = "#bdbdbd"
SUMMARY_COLOUR = "#252525"
#: A replicate's 95% interval that covers the estimand / misses it (zip plots, notebook 09).
INTERVAL_COVERS_COLOUR = "#92c5de"
INTERVAL_MISSES_COLOUR = "#d6604d"
#: Events that end a patient's follow-up.
EVENT_COLOURS = {"death": "#252525", "invasive_ventilation": "#e6ab02"}
