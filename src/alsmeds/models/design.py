"""Design matrices for the risk models.

An analysis frame holds one row per person and matched set, with the exposure
category of each class coded as in :data:`alsmeds.simulate.parameters.CATEGORY_CODES`
(``cat_<class>``: 0 never, 1 first qualifying use 0-1 y, 2 1-5 y, 3 >5 y before the
index date) and the covariates ``psych_history``, ``education``, ``country``,
``civil``, ``age`` and ``male``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..constants import CATEGORY_CODES, CLASSES, WINDOWS

#: Reference level first; the others become indicator columns.
COVARIATE_LEVELS = {
    "education": ("compulsory", "upper_secondary", "post_secondary"),
    "country": ("sweden", "other_nordic", "other"),
    "civil": ("married", "unmarried", "divorced", "widowed"),
}
#: Adjustment set of the population comparison (matched on age and sex).
POPULATION_ADJUSTMENT = ("psych_history", "education", "country", "civil")
#: Adjustment set of relative comparisons, which are not matched on age or sex.
RELATIVE_ADJUSTMENT = POPULATION_ADJUSTMENT + ("age_decades", "male")


def window_indicators(frame: pd.DataFrame, classes: Sequence[str] = CLASSES) -> pd.DataFrame:
    """One 0/1 column ``<class>_<window>`` per class and window (reference: never used)."""
    out = {}
    for k in classes:
        codes = frame[f"cat_{k}"].to_numpy()
        for w in WINDOWS:
            out[f"{k}_{w}"] = (codes == CATEGORY_CODES[w]).astype(float)
    return pd.DataFrame(out, index=frame.index)


def lagged_indicators(frame: pd.DataFrame, classes: Sequence[str] = CLASSES) -> pd.DataFrame:
    """One 0/1 column ``<class>_gt1`` per class: first qualifying use more than 1 year before the index date.

    Users whose first qualifying use falls in the last year count as unexposed, as in
    the study's main analysis that excludes the year before diagnosis.
    """
    lagged = {CATEGORY_CODES["1_5"], CATEGORY_CODES["gt5"]}
    return pd.DataFrame(
        {f"{k}_gt1": np.isin(frame[f"cat_{k}"].to_numpy(), list(lagged)).astype(float) for k in classes},
        index=frame.index,
    )


def ever_indicators(frame: pd.DataFrame, classes: Sequence[str] = CLASSES) -> pd.DataFrame:
    """One 0/1 column ``<class>_ever`` per class: any qualifying use before the index date, the last year included.

    The sensitivity analysis to the lagged exposure: it keeps prodromal prescriptions.
    """
    never = CATEGORY_CODES["never"]
    return pd.DataFrame(
        {f"{k}_ever": (frame[f"cat_{k}"].to_numpy() != never).astype(float) for k in classes}, index=frame.index
    )


def covariate_matrix(frame: pd.DataFrame, adjustment: Sequence[str]) -> pd.DataFrame:
    """Indicator and numeric columns of an adjustment set (reference levels dropped)."""
    out = {}
    for name in adjustment:
        if name in COVARIATE_LEVELS:
            values = frame[name].to_numpy()
            for level in COVARIATE_LEVELS[name][1:]:
                out[f"{name}_{level}"] = (values == level).astype(float)
        elif name == "age_decades":
            out[name] = frame["age"].to_numpy(dtype=float) / 10
        else:
            out[name] = frame[name].to_numpy(dtype=float)
    return pd.DataFrame(out, index=frame.index)


def drop_constant_within_sets(X: pd.DataFrame, strata: np.ndarray) -> pd.DataFrame:
    """Drop columns that never vary within a matched set (they carry no information)."""
    grouped = X.groupby(np.asarray(strata))
    varies = ((grouped.max() - grouped.min()) > 0).any(axis=0)
    return X.loc[:, varies.to_numpy()]
