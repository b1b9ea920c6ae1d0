"""Which columns of a design a model can estimate: the one identifiability check of the bundle.

Used by the conditional logit (groups: the matched sets, whose conditional likelihood
only sees contrasts within a set), the Cox model (groups: the strata of the baseline
hazard, or none), the mixed model (no groups: the intercept absorbs a column's mean)
and the risk and interaction models built on the conditional logit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Relative size below which a centred column, or its distance to the span of other columns, counts as zero.
#: The quantities compared are sums of 1e3-1e6 terms accurate to about 1e-13 relative, so 1e-10 separates
#: true rank loss from rounding noise with a wide margin (and the answer does not depend on the BLAS kernel).
ALIAS_RTOL = 1e-10


def non_identifiable_terms(
    X: pd.DataFrame | np.ndarray,
    groups: np.ndarray | pd.Series | None = None,
    rtol: float = ALIAS_RTOL,
    *,
    names: Sequence[str] | None = None,
    within: str = "group",
) -> dict[str, str]:
    """Columns of a design that carry no information of their own, checked in column order.

    For models whose intercept (a linear or mixed model), baseline hazard (a Cox model,
    stratified by ``groups``) or matched set (a conditional logit, ``groups`` = the sets)
    absorbs a column's mean, only the centred columns inform the coefficients.  A column
    is not identifiable when, centred on its mean within ``groups`` (one group when
    None), it is zero (it does not vary; a group of one row centres to zero, so a
    matched set without controls informs nothing, with no special case), or when it is a
    linear combination of the identifiable columns before it (aliased, as R reports a
    coefficient ``NA``).  Put the columns whose loss matters most last: a covariate
    aliased with an exposure is kept and the exposure is reported, so an adjusted
    estimate is never silently less adjusted.

    Parameters
    ----------
    X : DataFrame or array of shape (n, p)
        The design, without an intercept column.
    groups : array-like, optional
        Group of each row (the matched sets of a conditional logit, the strata of a
        stratified Cox model).
    rtol : float
        Relative tolerance (:data:`ALIAS_RTOL`) on the centred column's largest value
        (relative to the column's scale) and on the squared sine of its angle to the
        span of the kept columns.
    names : sequence of str, optional
        Column names of an array (``X.columns`` for a DataFrame; ``x0, x1, ...`` by default).
    within : str
        What a group is, for the message (``"matched set"``, ``"stratum"``).

    Returns
    -------
    dict of str to str
        Column -> ``"does not vary"`` (no groups), ``"constant within every <within>"``
        (groups) or ``"aliased with <columns>"``, in column order; empty when every
        column is identifiable.
    """
    if isinstance(X, pd.DataFrame):
        names = list(X.columns) if names is None else list(names)
        values = X.to_numpy(dtype=float)
    else:
        values = np.asarray(X, dtype=float)
        if values.ndim == 1:
            values = values[:, None]
        names = list(names) if names is not None else [f"x{i}" for i in range(values.shape[1])]
    n, p = values.shape
    if groups is None:
        centred = values - values.mean(axis=0) if n else values
    else:
        keys = pd.Series(np.asarray(groups)).factorize()[0]
        means = pd.DataFrame(values).groupby(keys).transform("mean").to_numpy()
        centred = values - means
    constant = "does not vary" if groups is None else f"constant within every {within}"
    scale = np.maximum(np.abs(values).max(axis=0), 1.0) if n else np.ones(p)
    spread = np.abs(centred).max(axis=0) if n else np.zeros(p)
    gram = centred.T @ centred
    norms = np.sqrt(np.clip(np.diag(gram), 0.0, None))
    out: dict[str, str] = {}
    kept: list[int] = []
    for j, name in enumerate(names):
        if spread[j] <= rtol * scale[j] or norms[j] == 0:
            out[name] = constant
            continue
        if kept:
            # Squared sine of the angle between column j and the span of the kept columns,
            # from the Gram matrix of the unit-scaled centred columns.
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
