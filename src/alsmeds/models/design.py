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
    """Drop columns that never vary within a matched set (they carry no information)."""
    grouped = X.groupby(np.asarray(strata))
    varies = ((grouped.max() - grouped.min()) > 0).any(axis=0)
    return X.loc[:, varies.to_numpy()]


#: Relative size below which a centred column, or its distance to the span of other columns, counts as zero.
ALIAS_RTOL = 1e-10


def non_identifiable_terms(
    X: pd.DataFrame, groups: np.ndarray | pd.Series | None = None, rtol: float = ALIAS_RTOL
) -> dict[str, str]:
    """Columns of a design that carry no information of their own, checked in column order.

    For models whose intercept (a linear or mixed model) or baseline hazard (a Cox model,
    stratified by ``groups``) absorbs a column's mean, only the centred columns inform the
    coefficients.  A column is not identifiable when, centred on its mean within
    ``groups`` (one group when None), it is zero (it does not vary), or when it is a
    linear combination of the identifiable columns before it (aliased).  Put the columns
    whose loss matters most last: a covariate aliased with an exposure is kept and the
    exposure is reported, so an adjusted estimate is never silently less adjusted.

    Parameters
    ----------
    X : DataFrame
        The design, without an intercept column.
    groups : array-like, optional
        Stratum of each row (e.g. the strata of a stratified Cox model).
    rtol : float
        Relative tolerance (:data:`ALIAS_RTOL`) on the centred column's largest value
        (relative to the column's scale) and on the squared sine of its angle to the
        span of the kept columns.

    Returns
    -------
    dict of str to str
        Column -> ``"does not vary"`` or ``"aliased with <columns>"``; empty when every
        column is identifiable.
    """
    values = X.to_numpy(dtype=float)
    if groups is None:
        centred = values - values.mean(axis=0) if len(values) else values
    else:
        keys = pd.Series(np.asarray(groups)).factorize()[0]
        means = pd.DataFrame(values).groupby(keys).transform("mean").to_numpy()
        centred = values - means
    scale = np.maximum(np.abs(values).max(axis=0), 1.0) if len(values) else np.ones(X.shape[1])
    spread = np.abs(centred).max(axis=0) if len(values) else np.zeros(X.shape[1])
    gram = centred.T @ centred
    norms = np.sqrt(np.clip(np.diag(gram), 0.0, None))
    names = list(X.columns)
    out: dict[str, str] = {}
    kept: list[int] = []
    for j, name in enumerate(names):
        if spread[j] <= rtol * scale[j] or norms[j] == 0:
            out[name] = "does not vary"
            continue
        if kept:
            idx = kept + [j]
            corr = gram[np.ix_(idx, idx)] / np.outer(norms[idx], norms[idx])
            coef = np.linalg.solve(corr[:-1, :-1], corr[:-1, -1])
            residual = float(corr[-1, -1] - corr[:-1, -1] @ coef)
            if residual <= rtol:
                partners = [names[k] for k, c in zip(kept, coef, strict=True) if abs(c) > 1e-6]
                out[name] = "aliased with " + (", ".join(partners) or "earlier columns")
                continue
        kept.append(j)
    return out
