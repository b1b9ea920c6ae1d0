"""Design matrices for the risk models.

An analysis frame holds one row per person and matched set, with the exposure
variables the derive layer made (:func:`alsmeds.derive.exposure.classify_exposures`)
and the covariates ``psych_history``, ``education``, ``country``, ``civil``, ``age``
and ``male``.  The design only *codes* those variables; it never re-derives a study
definition from another column, so every :class:`~alsmeds.derive.exposure.ExposureRules`
parameter reaches the models:

* windows: ``cat_<class>`` (:data:`alsmeds.constants.CATEGORY_CODES`: 0 never, 1 first
  qualifying use 0-1 y, 2 1-5 y, 3 >5 y before the index date) -> three indicators;
* lagged: the column ``<class>_gt1`` itself (first qualifying use more than
  ``lag_years`` before the index date, :func:`alsmeds.derive.exposure.lagged_use`);
* ever: :func:`alsmeds.derive.exposure.ever_used` of ``cat_<class>``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsmeds.constants import CATEGORY_CODES, CLASSES, WINDOWS
from alsmeds.derive.exposure import ever_used
from alsmeds.models.identifiability import non_identifiable_terms

#: Reference level first; the others become indicator columns.
COVARIATE_LEVELS = {
    "education": ("compulsory", "upper_secondary", "post_secondary"),
    "country": ("sweden", "other_nordic", "other"),
    "civil": ("married", "unmarried", "divorced", "widowed"),
}
#: Adjustment set of the population comparison (matched on age and sex).
POPULATION_ADJUSTMENT = ("psych_history", "education", "country", "civil")
#: Adjustment set of relative comparisons, which are not matched on age or sex.  ``age_decades`` is age at the
#: index date / 10, not centred (unlike ``age_per_decade`` of the prognosis frames and the Cox models'
#: ``age_per_10y``, both (age at diagnosis - 65) / 10): docs/architecture.md, known inconsistency.
RELATIVE_ADJUSTMENT = POPULATION_ADJUSTMENT + ("age_decades", "male")


def window_indicators(frame: pd.DataFrame, classes: Sequence[str] = CLASSES) -> pd.DataFrame:
    """One 0/1 column ``<class>_<window>`` per class and window, from the window codes ``cat_<class>``.

    Parameters
    ----------
    frame : DataFrame
        With ``cat_<class>`` (reference: 0, never used).
    classes : sequence of str

    Returns
    -------
    DataFrame
        Float columns ``<class>_0_1``, ``<class>_1_5``, ``<class>_gt5`` per class.
    """
    out = {}
    for k in classes:
        codes = frame[f"cat_{k}"].to_numpy()
        for w in WINDOWS:
            out[f"{k}_{w}"] = (codes == CATEGORY_CODES[w]).astype(float)
    return pd.DataFrame(out, index=frame.index)


def lagged_indicators(frame: pd.DataFrame, classes: Sequence[str] = CLASSES) -> pd.DataFrame:
    """The lagged exposure columns ``<class>_gt1`` of the frame, as floats (the study's main analysis).

    The column is taken as the derive layer made it
    (:func:`alsmeds.derive.exposure.lagged_use`: first qualifying use more than
    ``ExposureRules.lag_years`` before the index date, with ``min_dispensings``
    dispensings), never rebuilt from the window codes, so a different lag or number of
    dispensings changes the regressor exactly as it changes the table.

    Parameters
    ----------
    frame : DataFrame
        With ``<class>_gt1`` (0/1); with ``cat_<class>`` too, the two are checked to agree
        (a lagged user is a user).
    classes : sequence of str

    Returns
    -------
    DataFrame
        Float columns ``<class>_gt1``.

    Raises
    ------
    ValueError
        When a ``<class>_gt1`` column is missing, or is 1 on a row whose ``cat_<class>`` says never used.
    """
    out = {}
    for k in classes:
        column = f"{k}_gt1"
        if column not in frame:
            raise ValueError(
                f"the frame has no lagged exposure column {column!r}: build it with "
                "alsmeds.derive.exposure.classify_exposures (the analysis table has it)"
            )
        values = frame[column].to_numpy(dtype=float)
        if f"cat_{k}" in frame:
            stray = (values != 0) & (ever_used(frame[f"cat_{k}"].to_numpy()) == 0)
            if stray.any():
                raise ValueError(
                    f"{column} is 1 on {int(stray.sum())} row(s) whose cat_{k} is 0 (never used): "
                    "the exposure columns are out of step; derive them together (classify_exposures)"
                )
        out[column] = values
    return pd.DataFrame(out, index=frame.index)


def ever_indicators(frame: pd.DataFrame, classes: Sequence[str] = CLASSES) -> pd.DataFrame:
    """One 0/1 column ``<class>_ever`` per class: any qualifying use before the index date, the last year included.

    The sensitivity analysis to the lagged exposure: it keeps prodromal prescriptions.
    The definition is :func:`alsmeds.derive.exposure.ever_used` of ``cat_<class>``, the
    prognosis analyses' prediagnostic use.

    Parameters
    ----------
    frame : DataFrame
        With ``cat_<class>``.
    classes : sequence of str

    Returns
    -------
    DataFrame
        Float columns ``<class>_ever``.
    """
    return pd.DataFrame(
        {f"{k}_ever": ever_used(frame[f"cat_{k}"].to_numpy()).astype(float) for k in classes}, index=frame.index
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
    """Drop columns that carry no information within matched sets.

    The columns :func:`alsmeds.models.identifiability.non_identifiable_terms` names: those
    constant within every set, and those aliased with earlier columns.
    """
    dropped = non_identifiable_terms(X, np.asarray(strata), within="matched set")
    return X.drop(columns=list(dropped))
