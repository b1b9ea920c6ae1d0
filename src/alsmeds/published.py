"""Published estimates of Chourpiliadis et al., JAMA Netw Open 2025;8(6):e2514437 (the reproduction targets).

Only values quoted by the abstract or secondary coverage are here; the full tables were
not available.  Odds ratios are adjusted, with population controls.
"""

from __future__ import annotations

import pandas as pd

#: (class, window) -> (OR, lower, upper); window "gt1" is the lagged exposure (>1 year).
PUBLISHED_RISK = {
    ("anxiolytics", "gt1"): (1.34, 1.12, 1.60),
    ("hypnotics", "gt1"): (1.21, 1.02, 1.43),
    ("antidepressants", "gt1"): (1.26, 1.06, 1.49),
    ("hypnotics", "0_1"): (6.10, 3.77, 9.88),
    ("anxiolytics", "1_5"): (1.60, 1.15, 2.23),
    ("antidepressants", "gt5"): (1.21, 1.02, 1.44),
}

#: Joint-model hazard ratios of death or invasive ventilation (CI of hypnotics not published).
PUBLISHED_PROGNOSIS = {
    "anxiolytics": (1.52, 1.12, 2.05),
    "antidepressants": (1.72, 1.30, 2.29),
    "hypnotics": (1.23, None, None),
}

#: Follow-up of the cases after diagnosis, years: median and interquartile range.
PUBLISHED_FOLLOWUP_YEARS = {"median": 1.33, "q1": 0.64, "q3": 2.37}


def published_risk_frame() -> pd.DataFrame:
    """The published odds ratios as a frame: drug_class, window, published_or, published_lower, published_upper."""
    return pd.DataFrame(
        [
            {"drug_class": k, "window": w, "published_or": v[0], "published_lower": v[1], "published_upper": v[2]}
            for (k, w), v in PUBLISHED_RISK.items()
        ]
    )
