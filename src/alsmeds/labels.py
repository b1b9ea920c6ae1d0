"""Readable names of the bundle's codes, defined once for tables and figures.

Results files keep short codes (``gt1``, ``0_1``, ``population``); what a reader sees
(an HTML table in a notebook, a figure's tick labels) goes through :func:`label`, so
Table 2 says "first use more than 1 year before (lagged)" and not ``gt1``.
"""

from __future__ import annotations

from alsmeds.constants import WINDOW_LABELS

#: Drug class -> name.
CLASS_NAMES = {
    "anxiolytics": "Anxiolytics",
    "hypnotics": "Hypnotics & sedatives",
    "antidepressants": "Antidepressants",
    "ppis": "PPIs (negative control)",
}
#: Drug class -> name with its ATC group.
CLASS_LABELS = {
    "anxiolytics": "Anxiolytics (N05B)",
    "hypnotics": "Hypnotics and sedatives (N05C)",
    "antidepressants": "Antidepressants (N06A)",
}
#: Exposure window or definition -> name (short forms, for tick labels).
WINDOW_NAMES = {**WINDOW_LABELS, "gt1": ">1 y (lagged)", "ever": "any use before index"}
#: Exposure window or definition -> name (long forms, for tables).
WINDOW_LONG_NAMES = {
    "never": "never used",
    "gt1": "first use >1 year before (lagged)",
    "ever": "any use before the index date",
    "0_1": "first use 0-1 year before",
    "1_5": "first use 1-5 years before",
    "gt5": "first use >5 years before",
}
#: Comparison (the controls' role) -> name.
COMPARISON_NAMES = {"population": "Population controls", "sibling": "Siblings", "spouse": "Spouses"}
#: Role in a matched set -> name.
ROLE_NAMES = {
    "case": "ALS cases",
    "population_control": "Population controls",
    "sibling": "Full siblings",
    "spouse": "Spouses",
}
#: Model adjustment -> name.
ADJUSTMENT_NAMES = {"crude": "Crude", "adjusted": "Adjusted"}
#: Model variant (risk and Cox models) -> name.
MODEL_NAMES = {"per_class": "One class at a time", "mutual": "Three classes together"}
#: Result columns -> table headers.
COLUMN_NAMES = {
    "comparison": "Comparison",
    "drug_class": "Drug class",
    "window": "Exposure",
    "adjustment": "Adjustment",
    "odds_ratio": "OR",
    "hazard_ratio": "HR",
    "ci_lower": "95% CI lower",
    "ci_upper": "95% CI upper",
    "p_value": "p",
    "exposed_cases": "Exposed cases",
    "exposed_controls": "Exposed controls",
    "discordant_sets": "Discordant sets",
    "estimable": "Estimable",
    "reason": "Why not estimable",
    "crude": "Crude OR (95% CI)",
    "adjusted": "Adjusted OR (95% CI)",
    "exposed cases/controls": "Exposed cases / controls",
    "evalue_estimate": "E-value (estimate)",
    "evalue_ci": "E-value (CI limit nearer 1)",
}
#: Which vocabulary each coded column uses (:func:`readable_frame`).
VOCABULARIES = {
    "drug_class": CLASS_NAMES,
    "window": WINDOW_LONG_NAMES,
    "comparison": COMPARISON_NAMES,
    "adjustment": ADJUSTMENT_NAMES,
    "role": ROLE_NAMES,
}


def label(vocabulary: dict[str, str], code: object) -> str:
    """The readable name of ``code`` in ``vocabulary``; a code it does not know is shown with spaces for underscores.

    A class added by a user (or the negative-control class) still gets a legible name.
    """
    text = str(code)
    return vocabulary.get(text, text.replace("_", " "))
