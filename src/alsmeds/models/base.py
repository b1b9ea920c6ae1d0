"""One results vocabulary for every model of the bundle, and the one Wald interval.

Every fitted model (conditional logit, Cox, mixed, joint) answers the same questions in
the same words, in the spirit of statsmodels' results objects:

* ``params`` and ``bse``: estimates and standard errors (pandas Series, named terms);
* ``cov_params()``: their covariance matrix (DataFrame);
* ``conf_int(alpha)``: Wald limits ``params -/+ z_{1-alpha/2} bse`` (DataFrame, columns
  ``lower`` and ``upper``);
* ``pvalues``: two-sided Wald p-values;
* ``to_frame(alpha, exp)``: one row per term with ``estimate``, ``se``, ``z``, ``p``,
  ``ci_lower``, ``ci_upper`` and, with ``exp=True``, ``ratio``, ``ratio_lower``,
  ``ratio_upper`` (odds or hazard ratios: the exponentiated estimate and limits);
* ``summary()``: stable plain text (no dates, no timings).

:func:`wald_frame` is the only place where a Wald interval or p-value is computed, and
:data:`Z_975` the only normal quantile constant.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

#: The 97.5% quantile of the standard normal (95% Wald intervals).
Z_975 = float(stats.norm.ppf(0.975))


def z_quantile(alpha: float = 0.05) -> float:
    """The ``1 - alpha/2`` quantile of the standard normal (``Z_975`` for ``alpha = 0.05``)."""
    return Z_975 if alpha == 0.05 else float(stats.norm.ppf(1 - alpha / 2))


def wald_frame(
    estimate: Sequence[float] | np.ndarray | pd.Series,
    se: Sequence[float] | np.ndarray | pd.Series,
    index: Sequence[str] | pd.Index | None = None,
    alpha: float = 0.05,
    exp: bool = False,
) -> pd.DataFrame:
    """Wald statistics of estimates with standard errors.

    Parameters
    ----------
    estimate, se : array-like
        Estimates (on the linear-predictor scale: log odds or log hazard ratios, slopes)
        and their standard errors.
    index : sequence of str, optional
        Term names (the index of ``estimate`` when it is a Series).
    alpha : float
        1 - confidence level.
    exp : bool
        Add the exponentiated estimate and limits (``ratio``, ``ratio_lower``,
        ``ratio_upper``).

    Returns
    -------
    pandas.DataFrame
        Columns ``estimate, se, z, p, ci_lower, ci_upper`` (and the ratio columns).

    Notes
    -----
    Assumes the estimator is approximately normal with the given standard error; the
    interval is symmetric on the estimate's scale (so asymmetric for ratios).
    """
    if index is None and isinstance(estimate, pd.Series):
        index = estimate.index
    b = np.asarray(estimate, dtype=float)
    s = np.asarray(se, dtype=float)
    z = z_quantile(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = b / s
    out = pd.DataFrame(
        {
            "estimate": b,
            "se": s,
            "z": stat,
            "p": 2 * stats.norm.sf(np.abs(stat)),
            "ci_lower": b - z * s,
            "ci_upper": b + z * s,
        },
        index=index,
    )
    if exp:
        out["ratio"] = np.exp(b)
        out["ratio_lower"] = np.exp(out["ci_lower"])
        out["ratio_upper"] = np.exp(out["ci_upper"])
    return out


class EstimationResults:
    """The shared vocabulary of fitted models (see the module docstring).

    Subclasses provide ``params`` (Series), ``bse`` (Series) and ``_cov`` (DataFrame or
    None), and ``_describe()``: the header line of :meth:`summary`.  ``ratio_name``
    names what an exponentiated coefficient is (``"odds_ratio"``, ``"hazard_ratio"``).
    """

    params: pd.Series
    bse: pd.Series
    ratio_name: str = "ratio"

    def cov_params(self) -> pd.DataFrame:
        """Covariance matrix of :attr:`params` (inverse observed information)."""
        cov = getattr(self, "cov", None)
        if cov is None:
            raise NotImplementedError(f"{type(self).__name__} keeps no covariance matrix")
        return cov

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided Wald p-values."""
        return wald_frame(self.params, self.bse)["p"]

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald confidence limits of :attr:`params` (columns ``lower``, ``upper``)."""
        frame = wald_frame(self.params, self.bse, alpha=alpha)
        return frame[["ci_lower", "ci_upper"]].set_axis(["lower", "upper"], axis=1)

    def to_frame(self, alpha: float = 0.05, exp: bool = False) -> pd.DataFrame:
        """One row per term: estimate, se, z, p, CI, and with ``exp=True`` the ratio and its CI."""
        return wald_frame(self.params, self.bse, alpha=alpha, exp=exp)

    def _describe(self) -> str:
        return type(self).__name__

    def summary(self, alpha: float = 0.05, exp: bool = True, decimals: int = 3) -> str:
        """Plain, stable text: a header line, then the table of :meth:`to_frame` (no dates or timings)."""
        frame = self.to_frame(alpha, exp=exp).round(decimals) + 0.0  # + 0.0: no signed zeros
        return self._describe() + "\n" + frame.to_string()
