"""Performance measures of a simulation study, with Monte Carlo standard errors (moved).

The measures (Morris, White & Crowther, "Using simulation studies to evaluate statistical
methods", Stat Med 2019;38:2074-2102, Table 6), the published values' percentiles among the
replicates and their column lists are in :mod:`alsmeds.reporting.simstudy`, below the analyses
layer, so that the analysis ``simstudy_summary`` (:mod:`alsmeds.analyses.report`) can write
them; this module re-exports them under their old names.
"""

from __future__ import annotations

from alsmeds.reporting.simstudy import (
    NOMINAL,
    PERFORMANCE_COLUMNS,
    PUBLISHED_COLUMNS,
    performance_measures,
    published_percentiles,
)

__all__ = ["NOMINAL", "PERFORMANCE_COLUMNS", "PUBLISHED_COLUMNS", "performance_measures", "published_percentiles"]
