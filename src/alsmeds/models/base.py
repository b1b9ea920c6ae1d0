"""One results vocabulary for every model of the bundle, the one Wald interval, and the separation rule.

Every fitted model (conditional logit, Cox, mixed, joint) answers the same questions in
the same words, in the spirit of statsmodels' results objects:

* ``params`` and ``bse``: estimates and standard errors (pandas Series, named terms);
* ``cov_params()``: their covariance matrix (DataFrame);
* ``conf_int(alpha)``: Wald limits ``params -/+ z_{1-alpha/2} bse`` (DataFrame, columns
  ``lower`` and ``upper``);
* ``pvalues``: two-sided Wald p-values;
* ``wald_table(alpha, exp)``: one row per term (index: the term) with the columns of
  :func:`wald_frame`: ``estimate``, ``se``, ``z``, ``p_value``, ``ci_lower``,
  ``ci_upper`` and, with ``exp=True`` (the default of ratio models), the exponentiated
  estimate and limits named after what they are (``ratio_name``: ``odds_ratio``,
  ``odds_ratio_lower``, ``odds_ratio_upper``; ``hazard_ratio``, ...);
* ``linear_combination(weights, alpha)``: the same row for ``sum_j w_j params_j``;
* ``to_frame(alpha)``: the model's own results layout (the columns it writes to
  ``results/``); :meth:`EstimationResults.wald_table` when it has none;
* ``summary()``: stable plain text (no dates, no timings).

:func:`wald_frame` is the only place where a Wald interval or p-value is computed,
:data:`Z_975` the only normal quantile constant (:func:`z_quantile` for other levels;
:data:`Z_DETECTABLE_80` its sum with the 80% power quantile),
and :data:`MAX_ABS_LOG_RATIO` the one separation rule of the ratio models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

# The normal quantiles are defined once in the foundation and re-exported here.
from alsmeds.constants import Z_975, Z_DETECTABLE_80  # noqa: F401

#: The separation rule of the ratio models (conditional logit, Cox).  A 0/1 term whose
#: log odds or log hazard ratio exceeds 10 in absolute value (a ratio above 22,000 or
#: below 1/22,000) is not an estimate from register data but the signature of a
#: monotone likelihood: every case (or no case) exposed within the informative matched
#: sets, or every user (or no user) having the event.  The likelihood then has no
#: maximum, the iterations stop wherever the convergence tolerance happens to be met,
#: and the "standard error" is meaningless, so the term is reported not estimable
#: instead.  The largest |log ratio| of the committed results is 2.6 (a window of a
#: small comparison); a separated term's Newton iterates run to 30 and beyond before the
#: convergence tolerance stops them, so 10 separates the two with a wide margin.  The
#: rule is for terms whose unit is "exposed or not" (or a few units of a covariate): a
#: covariate in tiny units could legitimately pass it, which is why the solver itself
#: (:mod:`alsmeds.models.clogit`) applies only a looser divergence guard.
MAX_ABS_LOG_RATIO = 10.0


def z_quantile(alpha: float = 0.05) -> float:
    """The ``1 - alpha/2`` quantile of the standard normal (``Z_975`` for ``alpha = 0.05``)."""
    return Z_975 if alpha == 0.05 else float(stats.norm.ppf(1 - alpha / 2))


def separated_terms(params: pd.Series, terms: Iterable[str] | None = None) -> list[str]:
    """The terms (of ``terms``, default all) whose |log ratio| breaks the separation rule :data:`MAX_ABS_LOG_RATIO`."""
    names = params.index if terms is None else [t for t in terms if t in params.index]
    return [t for t in names if abs(float(params[t])) > MAX_ABS_LOG_RATIO]


def wald_frame(
    estimate: Sequence[float] | np.ndarray | pd.Series,
    se: Sequence[float] | np.ndarray | pd.Series,
    index: Sequence[str] | pd.Index | None = None,
    alpha: float = 0.05,
    exp: bool = False,
    ratio_name: str = "ratio",
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
        Add the exponentiated estimate and limits (columns ``<ratio_name>``,
        ``<ratio_name>_lower``, ``<ratio_name>_upper``).
    ratio_name : str
        What an exponentiated estimate is: ``"odds_ratio"``, ``"hazard_ratio"``.

    Returns
    -------
    pandas.DataFrame
        Columns ``estimate, se, z, p_value, ci_lower, ci_upper`` (and the ratio columns).

    Notes
    -----
    Assumes the estimator is approximately normal with the given standard error; the
    interval is symmetric on the estimate's scale (so asymmetric for ratios).  ``z``
    and ``p_value`` are missing when the standard error is not positive (missing or
    zero); an exponentiated limit that overflows is ``inf``.
    """
    if index is None and isinstance(estimate, pd.Series):
        index = estimate.index
    b = np.atleast_1d(np.asarray(estimate, dtype=float))
    s = np.atleast_1d(np.asarray(se, dtype=float))
    z = z_quantile(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(s > 0, b / np.where(s > 0, s, 1.0), np.nan)
    lower, upper = b - z * s, b + z * s
    out = pd.DataFrame(
        {
            "estimate": b,
            "se": s,
            "z": stat,
            "p_value": 2 * stats.norm.sf(np.abs(stat)),
            "ci_lower": lower,
            "ci_upper": upper,
        },
        index=index,
    )
    if exp:
        with np.errstate(over="ignore"):  # a huge SE of a small extract: an infinite upper limit
            out[ratio_name] = np.exp(b)
            out[f"{ratio_name}_lower"] = np.exp(lower)
            out[f"{ratio_name}_upper"] = np.exp(upper)
    return out


class EstimationResults:
    """The shared vocabulary of fitted models (see the module docstring).

    Subclasses provide ``params`` and ``bse`` (Series) and either a ``cov`` attribute
    (DataFrame) or their own :meth:`cov_params`; optionally ``_describe()`` (the header
    line of :meth:`summary`) and :meth:`to_frame` (their results layout).
    ``ratio_name`` names what an exponentiated coefficient is (``"odds_ratio"``,
    ``"hazard_ratio"``); None for a linear model, whose tables have no ratio columns.
    """

    params: pd.Series
    bse: pd.Series
    ratio_name: str | None = None

    def cov_params(self) -> pd.DataFrame:
        """Covariance matrix of :attr:`params` (inverse observed information)."""
        cov = getattr(self, "cov", None)
        if cov is None:
            raise NotImplementedError(f"{type(self).__name__} keeps no covariance matrix")
        return cov

    def _exp(self, exp: bool | None) -> bool:
        if exp is None:
            return self.ratio_name is not None
        if exp and self.ratio_name is None:
            raise ValueError(f"{type(self).__name__} is a linear model: its coefficients have no ratio scale")
        return bool(exp)

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided Wald p-values."""
        return wald_frame(self.params, self.bse)["p_value"]

    def conf_int(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wald confidence limits of :attr:`params` (columns ``lower``, ``upper``)."""
        frame = wald_frame(self.params, self.bse, alpha=alpha)
        return frame[["ci_lower", "ci_upper"]].set_axis(["lower", "upper"], axis=1)

    def wald_table(self, alpha: float = 0.05, exp: bool | None = None) -> pd.DataFrame:
        """One row per term (:func:`wald_frame`); ``exp`` defaults to True for ratio models."""
        exp = self._exp(exp)
        return wald_frame(self.params, self.bse, alpha=alpha, exp=exp, ratio_name=self.ratio_name or "ratio")

    def linear_combination(
        self, weights: Mapping[str, float], alpha: float = 0.05, exp: bool | None = None
    ) -> pd.Series:
        """Wald statistics of ``sum_j w_j params_j`` (one row of :func:`wald_frame`, as a Series).

        Parameters
        ----------
        weights : mapping of term to weight
            Terms not named have weight 0.
        alpha : float
        exp : bool, optional
            Add the ratio columns (default: for ratio models).

        Raises
        ------
        KeyError
            For a term not in :attr:`params`.
        """
        params = self.params
        w = pd.Series(0.0, index=params.index)
        for name, value in weights.items():
            if name not in w.index:
                raise KeyError(f"no term {name!r} in the model")
            w[name] = value
        cov = self.cov_params().loc[params.index, params.index]
        estimate = float(w @ params)
        se = float(np.sqrt(w @ cov @ w))
        exp = self._exp(exp)
        return wald_frame([estimate], [se], alpha=alpha, exp=exp, ratio_name=self.ratio_name or "ratio").iloc[0]

    def to_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """The model's results layout; here :meth:`wald_table` (subclasses with a results file override it)."""
        return self.wald_table(alpha)

    def _describe(self) -> str:
        return type(self).__name__

    def summary(self, alpha: float = 0.05, decimals: int = 3) -> str:
        """Plain, stable text: a header line, then :meth:`wald_table` (no dates or timings)."""
        frame = self.wald_table(alpha).round(decimals) + 0.0  # + 0.0: no signed zeros
        return self._describe() + "\n" + frame.to_string()
