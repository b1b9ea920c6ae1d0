"""The bundle's own Cox proportional-hazards engine, checked against R ``survival::coxph``.

Estimand
--------
``fit_coxph`` estimates the conditional log hazard ratio ``beta`` of the model

    lambda_s(t | x) = lambda_{0s}(t) exp(x' beta),

one unspecified baseline hazard ``lambda_{0s}`` per stratum ``s`` (one when there are no
strata): ``exp(beta_j)`` is the ratio of the hazards of two people in the same stratum
whose covariates differ by one unit in column ``j`` and agree otherwise, at every time
(proportional hazards).  Censoring must be independent of the event time given the
covariates (and stratum); rows are independent, or independent between the clusters
given with ``cluster`` (then only the robust variance is valid).

Method
------
The partial log-likelihood with Efron's or Breslow's handling of tied event times
(R ``coxph``'s two approximations, term for term) is maximised by Newton-Raphson with
step halving from ``beta = 0``.  Rows are sorted once by stratum and decreasing time; the
risk-set sums of every tied event time are then differences of cumulative sums, and the
Efron terms (one per event: the ``k``-th of ``d`` tied deaths down-weights the tied
deaths' sums by ``k/d``) are arrays of length ``n_events``, so nothing loops over
people or event times in Python.  The information matrix is assembled as
``X' diag(w) X - sum_terms m m'``, where ``w_i`` accumulates the inverse denominators of
the event times at which row ``i`` is at risk, which costs one ``n x p x p`` product per
iteration instead of ``p x p`` sums per event time.

Convergence follows ``coxph``: ``|1 - loglik_old / loglik_new| <= tol`` after a step
that did not need halving, and, in addition, the next Newton step is below ``step_tol``
standard errors in every coordinate (one more iteration at most, with Newton's
quadratic convergence), so that the estimate is the maximiser to well below its
standard error's rounding.  A coefficient that runs off to infinity (monotone
likelihood, e.g. a covariate that separates events from non-events within risk sets)
is detected with ``coxph``'s rule (the last Newton step is not small relative to the
coefficient) and reported as ``converged=False`` with a ``message``.

Variances: ``var`` is the inverse observed information; ``robust_var`` is the
Lin-Wei (1989) sandwich ``D'D``, ``D`` the dfbeta residuals (score residuals times
``var``) summed within clusters, as ``coxph(..., cluster=)`` or ``robust=TRUE``.

Residuals and the proportional-hazards test: :meth:`CoxFit.schoenfeld_residuals`
(R ``residuals(fit, "schoenfeld")``; for tied Efron deaths the covariate mean is the
average of the Efron-weighted means), :meth:`CoxFit.scaled_schoenfeld` and
:meth:`CoxFit.ph_test` (R ``cox.zph``, the score test of survival >= 3.0 for adding
``g(t) x`` terms).

The study's Cox models (:mod:`alsmeds.models.cox`) are fitted by this engine, the
bundle's own implementation with R as reference (``tests/test_cox_engine.py``).
Case weights are not supported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import special, stats
from scipy.linalg import LinAlgError, cho_factor, cho_solve

from alsmeds.models.identifiability import non_identifiable_terms

__all__ = ["PH_TRANSFORMS", "CoxData", "CoxDataError", "CoxFit", "PHTest", "fit_coxph", "prepare_cox_data"]

Ties = Literal["efron", "breslow"]
#: Transforms of time accepted by :meth:`CoxFit.ph_test` (as ``cox.zph(transform=)``).
PH_TRANSFORMS = ("km", "identity", "rank", "log")
#: Most step halvings within one Newton iteration.
MAX_HALVINGS = 30
#: Relative decrease of the log-likelihood that counts as rounding, not as a worse step (no halving).
ROUNDING = 1e-12


class CoxDataError(ValueError):
    """The data cannot be fitted by a Cox model (no events, a column without information, bad values)."""


@dataclass(frozen=True)
class PHTest:
    """Test of proportional hazards (R ``cox.zph``): one score test per covariate and a global one.

    Attributes
    ----------
    names : tuple of str
        The covariates, then ``"GLOBAL"``.
    chisq, df, p_value : ndarray, shape (p + 1,)
        Score statistic for adding ``g(t) x_j`` to the model at the fitted ``beta`` (all
        ``g(t) x`` terms for ``GLOBAL``), its degrees of freedom and upper-tail chi-square
        p-value.
    transform : str
        ``g``: ``"km"`` (one minus the pooled Kaplan-Meier estimate just before ``t``),
        ``"identity"``, ``"rank"`` or ``"log"``; centred on its mean over the events.
    """

    names: tuple[str, ...]
    chisq: np.ndarray
    df: np.ndarray
    p_value: np.ndarray
    transform: str

    def table(self) -> pd.DataFrame:
        """The test as a table (index: covariates and ``GLOBAL``; columns ``chisq``, ``df``, ``p``)."""
        return pd.DataFrame({"chisq": self.chisq, "df": self.df, "p": self.p_value}, index=list(self.names))


@dataclass(frozen=True, eq=False)
class CoxData:
    """Survival data sorted once for :func:`fit_coxph` (reusable across fits of the same rows).

    Rows are ordered by stratum, then by decreasing time.  ``groups`` are the runs of
    rows with equal stratum and time; ``terms`` are the Efron (or Breslow) terms of the
    partial likelihood, one per event.  Built by :func:`prepare_cox_data`.
    """

    names: tuple[str, ...]
    n: int
    n_events: int
    ties: str
    order: np.ndarray  # sorted position -> original row
    time: np.ndarray  # sorted
    event: np.ndarray  # sorted, bool
    X: np.ndarray  # sorted, centred columns, shape (n, p)
    x_mean: np.ndarray
    stratum: np.ndarray  # sorted stratum codes 0..S-1
    n_strata: int
    row_group: np.ndarray  # group of each sorted row
    group_start: np.ndarray  # first sorted row of each group
    group_end: np.ndarray  # last sorted row of each group (exclusive end)
    group_stratum_first: np.ndarray  # first group of each group's stratum
    group_stratum_end: np.ndarray  # first group of the next stratum, for each group
    event_groups: np.ndarray  # groups with at least one event
    event_rows: np.ndarray  # sorted rows of the events, grouped by group
    event_X: np.ndarray  # X[event_rows]
    event_X_sum: np.ndarray  # column sums of event_X
    event_starts: np.ndarray  # start of each event group within event_rows
    term_group: np.ndarray  # event group (index into event_groups) of each term
    term_frac: np.ndarray  # k/d (Efron) or 0 (Breslow) of each term
    deaths: np.ndarray  # number of events in each event group
    cluster: np.ndarray | None  # sorted cluster codes, or None
    n_clusters: int
    cluster_order: np.ndarray | None  # sorted rows ordered by cluster
    cluster_starts: np.ndarray | None  # start of each cluster in cluster_order


@dataclass(frozen=True, eq=False)
class CoxFit:
    """A fitted Cox model (:func:`fit_coxph`).

    Attributes
    ----------
    names : tuple of str
        Covariate names.
    coef : ndarray, shape (p,)
        Estimated conditional log hazard ratios.
    var, se : ndarray
        Model-based variance (inverse observed information at ``coef``) and standard errors.
    robust_var, robust_se : ndarray or None
        Robust (Lin-Wei sandwich) variance and standard errors, clustered by ``cluster``
        when given; None unless ``cluster`` was given or ``robust=True``.
    loglik_null, loglik : float
        Partial log-likelihood at ``beta = 0`` and at ``coef``.
    score, info : ndarray
        Score vector and observed information at ``coef``.
    score_test, wald_test, lr_test : tuple of (float, int, float)
        Chi-square statistic, degrees of freedom and p-value of ``beta = 0``: score test at
        zero (R ``fit$score``), model-based Wald test and likelihood-ratio test.
    n, n_events, n_clusters : int
    iterations : int
        Newton iterations (each evaluation of the likelihood after the start counts one,
        halvings included, as in R).
    converged : bool
        False when the iterations ran out or a coefficient appears infinite.
    message : str
        Why ``converged`` is False (empty otherwise).
    ties : str
    """

    names: tuple[str, ...]
    coef: np.ndarray
    var: np.ndarray
    se: np.ndarray
    robust_var: np.ndarray | None
    robust_se: np.ndarray | None
    loglik_null: float
    loglik: float
    score: np.ndarray
    info: np.ndarray
    score_test: tuple[float, int, float]
    wald_test: tuple[float, int, float]
    lr_test: tuple[float, int, float]
    n: int
    n_events: int
    n_clusters: int
    iterations: int
    converged: bool
    message: str
    ties: str
    data: CoxData = field(repr=False)

    @property
    def hazard_ratio(self) -> np.ndarray:
        """``exp(coef)``."""
        return np.exp(self.coef)

    def to_frame(self) -> pd.DataFrame:
        """Coefficients, standard errors (robust ones when computed) and hazard ratios as a table."""
        out = pd.DataFrame({"coef": self.coef, "se": self.se}, index=list(self.names))
        if self.robust_se is not None:
            out["robust_se"] = self.robust_se
        out["hazard_ratio"] = self.hazard_ratio
        return out

    # -- residuals -----------------------------------------------------------------------------------------------

    def _state(self) -> _State:
        return _evaluate(self.data, self.coef)

    @property
    def event_order(self) -> np.ndarray:
        """Original row index of each event, in the order of the residuals.

        R's order: by stratum, then time, then row (``order(strata, time)``).
        """
        return self.data.order[self.data.event_rows[self._event_permutation()]]

    def _event_permutation(self) -> np.ndarray:
        d = self.data
        rows = d.event_rows
        return np.lexsort((d.order[rows], d.time[rows], d.stratum[rows]))

    @property
    def event_times(self) -> np.ndarray:
        """Time of each event, in the order of the residuals."""
        d = self.data
        return d.time[d.event_rows[self._event_permutation()]]

    def schoenfeld_residuals(self) -> np.ndarray:
        """Unscaled Schoenfeld residuals, one row per event (R ``residuals(fit, "schoenfeld")``).

        ``x_i - xbar(t_i)``, ``xbar`` the risk-weighted mean of the risk set; for tied
        events under Efron's method the mean of the ``d`` Efron-weighted means.  Rows in
        the order of :attr:`event_order`.

        Returns
        -------
        ndarray, shape (n_events, p)
        """
        state = self._state()
        return _schoenfeld(self.data, state)[self._event_permutation()]

    def scaled_schoenfeld(self) -> np.ndarray:
        """Scaled Schoenfeld residuals as ``cox.zph(fit)$y``: ``beta + d V^{-1} r`` per event.

        ``V/d`` is the information per event (``d`` the events of the stratum, for the
        covariates that vary in it, as ``cox.zph`` counts them); a covariate that does not
        vary within an event's stratum gets NaN.  Rows in the order of :attr:`event_order`.
        Their smoothed plot against time estimates ``beta(t)`` (Grambsch & Therneau 1994).

        Returns
        -------
        ndarray, shape (n_events, p)
        """
        d = self.data
        perm = self._event_permutation()
        resid = _schoenfeld(d, self._state())[perm]
        strata_of_event = d.stratum[d.event_rows[perm]]
        used = _used_counts(d)
        wt = np.zeros((len(self.coef),) * 2)
        for row in used:
            wt += np.minimum.outer(row, row)
        vmean = self.info / np.where(wt == 0, 1.0, wt)
        out = np.full_like(resid, np.nan)
        for s in range(d.n_strata):
            cols = np.flatnonzero(used[s] > 0)
            rows = strata_of_event == s
            if cols.size == 0 or not rows.any():
                continue
            block = vmean[np.ix_(cols, cols)]
            out[np.ix_(rows, cols)] = np.linalg.solve(block, resid[np.ix_(rows, cols)].T).T
        return out + self.coef

    def ph_test(self, transform: str = "km") -> PHTest:
        """Test of proportional hazards, as R ``cox.zph(fit, transform=transform)`` (survival >= 3.0).

        The score test, at the fitted ``beta``, of adding ``g(t) x_j`` (per covariate) and
        all ``g(t) x`` (``GLOBAL``) to the model, with ``g`` the transformed time centred
        on its mean over the events: ``u = sum_events g(t_i) r_i`` (``r`` the Schoenfeld
        residuals), information from the ``2p x 2p`` information of the extended model.

        Parameters
        ----------
        transform : str
            ``"km"`` (default: one minus the Kaplan-Meier estimate of all rows just before
            ``t``), ``"identity"``, ``"rank"`` or ``"log"``.

        Returns
        -------
        PHTest
        """
        if transform not in PH_TRANSFORMS:
            raise ValueError(f"transform must be one of {PH_TRANSFORMS}, not {transform!r}")
        d = self.data
        state = self._state()
        g_row = _time_transform(d, transform)
        g_row = g_row - g_row[d.event].mean()
        g = g_row[d.group_end[d.event_groups] - 1]  # per event group: every row of a group has the same time
        resid = _schoenfeld(d, state)
        g_event = np.repeat(g, d.deaths)
        u = g_event @ resid
        p = len(self.coef)
        i11 = state.info
        i12 = _weighted_info(d, state, g)
        i22 = _weighted_info(d, state, g * g)
        imat = np.block([[i11, i12], [i12.T, i22]])
        chisq = np.empty(p + 1)
        for j in range(p):
            kk = np.r_[np.arange(p), p + j]
            uu = np.r_[np.zeros(p), u[j]]
            chisq[j] = uu @ np.linalg.solve(imat[np.ix_(kk, kk)], uu)
        uu = np.r_[np.zeros(p), u]
        chisq[p] = uu @ np.linalg.solve(imat, uu)
        df = np.r_[np.ones(p, dtype=int), p]
        return PHTest(
            names=(*self.names, "GLOBAL"),
            chisq=chisq,
            df=df,
            p_value=stats.chi2.sf(chisq, df),
            transform=transform,
        )

    def score_residuals(self) -> np.ndarray:
        """Score residuals, one row per input row in the input order (R ``residuals(fit, "score")``).

        Returns
        -------
        ndarray, shape (n, p)
        """
        out = np.empty_like(self.data.X)
        out[self.data.order] = _score_residuals(self.data, self._state())
        return out

    def dfbeta(self) -> np.ndarray:
        """Approximate change in ``coef`` when each row is left out (R ``residuals(fit, "dfbeta")``).

        Returns
        -------
        ndarray, shape (n, p)
        """
        return self.score_residuals() @ self.var


# -- data preparation ------------------------------------------------------------------------------------------------


def _as_design(X: Any, names: Sequence[str] | None) -> tuple[np.ndarray, tuple[str, ...]]:
    if isinstance(X, pd.DataFrame):
        labels = [str(c) for c in X.columns] if names is None else list(names)
        values = X.to_numpy(dtype=float)
    else:
        values = np.asarray(X, dtype=float)
        if values.ndim == 1:
            values = values[:, None]
        labels = list(names) if names is not None else [f"x{j + 1}" for j in range(values.shape[1])]
    if values.ndim != 2:
        raise CoxDataError(f"X must be two-dimensional, got shape {values.shape}")
    if len(labels) != values.shape[1]:
        raise CoxDataError(f"{len(labels)} names for {values.shape[1]} covariates")
    return values, tuple(labels)


def _codes(values: Any, n: int, what: str) -> tuple[np.ndarray, int]:
    arr = np.asarray(values)
    if arr.shape != (n,):
        raise CoxDataError(f"{what} must have one value per row ({n}), got shape {arr.shape}")
    if pd.isna(arr).any():
        raise CoxDataError(f"{what} has missing values")
    codes, uniques = pd.factorize(arr, sort=True)
    return codes.astype(np.intp), len(uniques)


def prepare_cox_data(
    time: Any,
    event: Any,
    X: Any,
    *,
    names: Sequence[str] | None = None,
    ties: Ties = "efron",
    strata: Any = None,
    cluster: Any = None,
) -> CoxData:
    """Check and sort survival data for :func:`fit_coxph` (done once; fits of the same rows may share it).

    Parameters
    ----------
    time : array-like, shape (n,)
        Follow-up time (event or censoring), finite.
    event : array-like of 0/1 or bool, shape (n,)
    X : DataFrame or array, shape (n, p)
        Covariates (no intercept: the baseline hazard absorbs it).
    names : sequence of str, optional
        Covariate names (``X.columns`` for a DataFrame, ``x1 ... xp`` otherwise).
    ties : {"efron", "breslow"}
    strata : array-like, shape (n,), optional
        Stratum of each row: a separate baseline hazard per stratum.
    cluster : array-like, shape (n,), optional
        Cluster of each row, for the robust variance.

    Returns
    -------
    CoxData

    Raises
    ------
    CoxDataError (a ValueError)
        No events, non-finite values, event values other than 0/1, a covariate without
        variation (within strata) or aliased with earlier columns.
    """
    if ties not in ("efron", "breslow"):
        raise CoxDataError(f"ties must be 'efron' or 'breslow', not {ties!r}")
    values, labels = _as_design(X, names)
    n, p = values.shape
    t = np.asarray(time, dtype=float)
    if t.shape != (n,):
        raise CoxDataError(f"time must have one value per row of X ({n}), got shape {t.shape}")
    e_raw = np.asarray(event)
    if e_raw.shape != (n,):
        raise CoxDataError(f"event must have one value per row of X ({n}), got shape {e_raw.shape}")
    e_num = e_raw.astype(float)
    if not np.isin(e_num, (0.0, 1.0)).all():
        raise CoxDataError("event must be 0/1 (or boolean)")
    e = e_num == 1.0
    if not np.isfinite(t).all():
        raise CoxDataError("time has missing or infinite values")
    if not np.isfinite(values).all():
        bad = [labels[j] for j in np.flatnonzero(~np.isfinite(values).all(axis=0))]
        raise CoxDataError(f"covariate(s) with missing or infinite values: {', '.join(bad)}")
    if p == 0:
        raise CoxDataError("no covariates")
    if not e.any():
        raise CoxDataError(f"no events among the {n} rows: the partial likelihood is empty")
    if strata is None:
        s_codes, n_strata = np.zeros(n, dtype=np.intp), 1
    else:
        s_codes, n_strata = _codes(strata, n, "strata")
    problems = non_identifiable_terms(values, None if strata is None else s_codes, names=labels, within="stratum")
    if problems:
        detail = "; ".join(f"column {k!r} {v}" for k, v in problems.items())
        raise CoxDataError(f"covariates not identifiable in the Cox model: {detail}")
    if cluster is None:
        c_codes, n_clusters = None, 0
    else:
        c_codes, n_clusters = _codes(cluster, n, "cluster")

    order = np.lexsort((-t, s_codes))
    ts, es, ss = t[order], e[order], s_codes[order]
    x_mean = values.mean(axis=0)
    xs = values[order] - x_mean
    new_group = np.r_[True, (ts[1:] != ts[:-1]) | (ss[1:] != ss[:-1])]
    starts = np.flatnonzero(new_group)
    ends = np.r_[starts[1:], n]
    row_group = np.cumsum(new_group) - 1
    group_stratum = ss[starts]
    first_group_of_stratum = np.searchsorted(group_stratum, np.arange(n_strata), side="left")
    end_group_of_stratum = np.searchsorted(group_stratum, np.arange(n_strata), side="right")
    deaths_per_group = np.add.reduceat(es.astype(np.intp), starts)
    event_groups = np.flatnonzero(deaths_per_group > 0)
    deaths = deaths_per_group[event_groups]
    event_rows = np.flatnonzero(es)  # grouped by group, as rows are sorted
    event_starts = np.r_[0, np.cumsum(deaths)[:-1]]
    term_group = np.repeat(np.arange(len(event_groups)), deaths)
    if ties == "efron":
        within = np.arange(len(term_group)) - np.repeat(event_starts, deaths)
        term_frac = within / np.repeat(deaths, deaths).astype(float)
    else:
        term_frac = np.zeros(len(term_group))
    cluster_sorted = cluster_order = cluster_starts = None
    if c_codes is not None:
        cluster_sorted = c_codes[order]
        cluster_order = np.argsort(cluster_sorted, kind="stable")
        cluster_starts = np.searchsorted(cluster_sorted[cluster_order], np.arange(n_clusters))
    return CoxData(
        names=labels,
        n=n,
        n_events=int(e.sum()),
        ties=ties,
        order=order,
        time=ts,
        event=es,
        X=xs,
        x_mean=x_mean,
        stratum=ss,
        n_strata=n_strata,
        row_group=row_group,
        group_start=starts,
        group_end=ends,
        group_stratum_first=first_group_of_stratum[group_stratum],
        group_stratum_end=end_group_of_stratum[group_stratum],
        event_groups=event_groups,
        event_rows=event_rows,
        event_X=xs[event_rows],
        event_X_sum=xs[event_rows].sum(axis=0),
        event_starts=event_starts,
        term_group=term_group,
        term_frac=term_frac,
        deaths=deaths,
        cluster=cluster_sorted,
        n_clusters=n_clusters,
        cluster_order=cluster_order,
        cluster_starts=cluster_starts,
    )


# -- likelihood --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _State:
    """The partial likelihood at one ``beta`` and the risk-set quantities its residuals need.

    Per event group ``g`` (``S`` risk-set sums, ``D`` sums over the tied events, of ``exp(eta)``
    and ``exp(eta) x``) and per-group sums over the group's tie terms ``k`` (``f_k`` = k/d for
    Efron, 0 for Breslow; ``den_k = S0 - f_k D0``): ``a = sum 1/den``, ``b = sum f/den``,
    ``c0 = sum 1/den^2``, ``c1 = sum f/den^2``, ``c2 = sum f^2/den^2``.  The term means
    ``m_k = (S1 - f_k D1) / den_k`` then sum to ``S1 a - D1 b`` and their outer products to
    ``S1 S1' c0 - (S1 D1' + D1 S1') c1 + D1 D1' c2``: no array of terms times covariates.
    """

    loglik: float
    score: np.ndarray
    info: np.ndarray
    risk: np.ndarray  # exp(eta - max eta), sorted rows
    s1: np.ndarray
    d1: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c0: np.ndarray
    c1: np.ndarray
    c2: np.ndarray


def _risk_set_sums(d: CoxData, values: np.ndarray) -> np.ndarray:
    """Sum of ``values`` (rows sorted) over the risk set of each event group (time >= t, same stratum)."""
    per_group = np.add.reduceat(values, d.group_start, axis=0)
    csum = np.concatenate([np.zeros((1, *values.shape[1:])), np.cumsum(per_group, axis=0)])
    g = d.event_groups
    return csum[g + 1] - csum[d.group_stratum_first[g]]


def _cumulative_by_row(d: CoxData, per_event_group: np.ndarray) -> np.ndarray:
    """For each sorted row, the sum of ``per_event_group`` over event groups of its stratum at or before its time."""
    n_groups = len(d.group_end)
    per_group = np.zeros((n_groups + 1, *per_event_group.shape[1:]))
    per_group[d.event_groups] = per_event_group
    # Groups run by stratum, time decreasing: "at or before my time" is my group and the later groups of my
    # stratum, a reverse cumulative sum less its value at the first group of the next stratum.
    rev = np.cumsum(per_group[::-1], axis=0)[::-1]
    return (rev[:-1] - rev[d.group_stratum_end])[d.row_group]


def _evaluate(d: CoxData, beta: np.ndarray) -> _State:
    X = d.X
    eta = X @ beta
    eta_max = eta.max()
    risk = np.exp(eta - eta_max)
    s0 = _risk_set_sums(d, risk)
    s1 = _risk_set_sums(d, risk[:, None] * X)
    risk_e = risk[d.event_rows]
    d0 = np.add.reduceat(risk_e, d.event_starts)
    d1 = np.add.reduceat(risk_e[:, None] * d.event_X, d.event_starts, axis=0)
    tg, f = d.term_group, d.term_frac
    n_eg = len(d.event_groups)
    den = s0[tg] - f * d0[tg]
    inv = 1.0 / den
    inv2 = inv * inv
    a = np.bincount(tg, weights=inv, minlength=n_eg)
    c0 = np.bincount(tg, weights=inv2, minlength=n_eg)
    if d.ties == "efron":
        b = np.bincount(tg, weights=f * inv, minlength=n_eg)
        c1 = np.bincount(tg, weights=f * inv2, minlength=n_eg)
        c2 = np.bincount(tg, weights=f * f * inv2, minlength=n_eg)
    else:
        b = c1 = c2 = np.zeros(n_eg)
    loglik = float(d.event_X_sum @ beta - d.n_events * eta_max - np.log(den).sum())
    score = d.event_X_sum - s1.T @ a + d1.T @ b
    state = _State(loglik=loglik, score=score, info=np.empty(0), risk=risk, s1=s1, d1=d1, a=a, b=b, c0=c0, c1=c1, c2=c2)
    return replace(state, info=_weighted_info(d, state, None))


def _weighted_info(d: CoxData, state: _State, g: np.ndarray | None) -> np.ndarray:
    """``sum_terms g_t (C_t / den_t - m_t m_t')`` (``g = 1`` when None): the information, or its g-weighted blocks.

    ``C_t`` is the risk-weighted sum of ``x x'`` of term t's risk set, so the first part is ``X' diag(w) X``
    with ``w_i`` the (g-weighted) ``1/den`` of the terms at which row ``i`` is at risk, less the ``f/den``
    share of tied events.
    """
    a, b, c0, c1, c2 = state.a, state.b, state.c0, state.c1, state.c2
    if g is not None:
        a, b, c0, c1, c2 = a * g, b * g, c0 * g, c1 * g, c2 * g
    risk = state.risk
    w = risk * _cumulative_by_row(d, a)
    er = d.event_rows
    w[er] -= risk[er] * np.repeat(b, d.deaths)
    X = d.X
    s1, d1 = state.s1, state.d1
    cross = (s1.T * c1) @ d1
    outer = (s1.T * c0) @ s1 - cross - cross.T + (d1.T * c2) @ d1
    return (X.T * w) @ X - outer


def _schoenfeld(d: CoxData, state: _State) -> np.ndarray:
    """Schoenfeld residuals of the events in sorted order (``d.event_rows``)."""
    mean = (state.s1 * state.a[:, None] - state.d1 * state.b[:, None]) / d.deaths[:, None]
    return d.event_X - np.repeat(mean, d.deaths, axis=0)


def _score_residuals(d: CoxData, state: _State) -> np.ndarray:
    """Score residuals in sorted row order (R's ``coxscore2``, vectorised).

    Row ``i`` collects ``-exp(eta_i) sum_k (x_i - m_k) / den_k`` over the terms ``k`` at which it is at
    risk, and, for an event, its Schoenfeld residual, with its own tie terms weighted ``1 - f_k``.
    """
    s1, d1, a, b, c0, c1, c2 = state.s1, state.d1, state.a, state.b, state.c0, state.c1, state.c2
    M = s1 * c0[:, None] - d1 * c1[:, None]
    Mw = s1 * (c0 - c1)[:, None] - d1 * (c1 - c2)[:, None]
    cH = _cumulative_by_row(d, a)
    cM = _cumulative_by_row(d, M)
    X, r = d.X, state.risk
    er = d.event_rows
    cH[er] -= np.repeat(b, d.deaths)  # own group: sum (1 - f) / den = a - b instead of a
    cM[er] += np.repeat(Mw - M, d.deaths, axis=0)
    resid = -r[:, None] * (X * cH[:, None] - cM)
    resid[er] += _schoenfeld(d, state)
    return resid


def _time_transform(d: CoxData, transform: str) -> np.ndarray:
    t = d.time
    if transform == "identity":
        return t.copy()
    if transform == "log":
        return np.log(t)
    if transform == "rank":
        return stats.rankdata(t)
    # km: 1 - S(t-) with S the Kaplan-Meier estimate of all rows (strata pooled), as cox.zph
    uniq, inv = np.unique(t, return_inverse=True)
    at_risk = len(t) - np.r_[0, np.cumsum(np.bincount(inv))[:-1]]
    events = np.bincount(inv, weights=d.event.astype(float))
    surv = np.cumprod(1.0 - events / at_risk)
    before = np.r_[1.0, surv[:-1]]
    return 1.0 - before[inv]


def _used_counts(d: CoxData) -> np.ndarray:
    """Events per stratum for each covariate that varies within the stratum, else 0 (``cox.zph``'s ``used``)."""
    p = d.X.shape[1]
    used = np.zeros((d.n_strata, p))
    for s in range(d.n_strata):
        rows = d.stratum == s
        if not rows.any():
            continue
        xs = d.X[rows]
        varies = (xs != xs[0]).any(axis=0)
        used[s] = np.where(varies, d.event[rows].sum(), 0)
    return used


# -- fitting -----------------------------------------------------------------------------------------------------------


def _chi2(stat: float, df: int) -> tuple[float, int, float]:
    return float(stat), int(df), float(special.chdtrc(df, stat))


def _solve(info: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, Any]:
    try:
        factor = cho_factor(info, lower=True, check_finite=False)
    except LinAlgError as exc:
        raise CoxDataError(
            "the information matrix is singular: a covariate carries no information about the event times"
        ) from exc
    return cho_solve(factor, rhs, check_finite=False), factor


def _runs_off(step: np.ndarray, beta: np.ndarray, tol: float) -> np.ndarray:
    """coxph's rule for an infinite coefficient, applied once the log-likelihood has converged.

    The Newton step is not small relative to the coefficient (relative to ``max(1, |coef|)`` here, so that a
    coefficient near zero is not flagged for a step of rounding size).
    """
    return (np.abs(step) > tol) & (np.abs(step) > np.sqrt(tol) * np.maximum(1.0, np.abs(beta)))


def fit_coxph(
    time: Any,
    event: Any,
    X: Any,
    *,
    names: Sequence[str] | None = None,
    ties: Ties = "efron",
    strata: Any = None,
    cluster: Any = None,
    robust: bool | None = None,
    tol: float = 1e-9,
    step_tol: float = 1e-9,
    max_iter: int = 30,
    data: CoxData | None = None,
) -> CoxFit:
    """Fit a Cox proportional-hazards model by maximum partial likelihood (as R ``survival::coxph``).

    Estimand: the conditional log hazard ratios ``beta`` of
    ``lambda_s(t | x) = lambda_{0s}(t) exp(x' beta)`` (one baseline hazard per stratum),
    under proportional hazards, independent censoring given the covariates and
    independent rows (or clusters, with ``cluster``).

    Parameters
    ----------
    time : array-like, shape (n,)
        Follow-up time.
    event : array-like of 0/1 or bool, shape (n,)
        1 for an event, 0 for censoring at ``time``.
    X : DataFrame or array, shape (n, p)
        Covariates, without an intercept.
    names : sequence of str, optional
        Covariate names (default ``X.columns`` or ``x1 ... xp``).
    ties : {"efron", "breslow"}
        Approximation of the partial likelihood at tied event times (``coxph(ties=)``).
    strata : array-like, shape (n,), optional
        Separate baseline hazard per stratum (``strata()`` in a ``coxph`` formula).
    cluster : array-like, shape (n,), optional
        Cluster identifiers: the robust variance sums the dfbeta residuals within clusters
        (``cluster()``); implies ``robust=True``.
    robust : bool, optional
        Compute the robust sandwich variance (each row its own cluster when ``cluster``
        is None).  Default: True with ``cluster``, False without.
    tol : float
        Relative change of the log-likelihood at convergence (``coxph.control(eps=)``).
    step_tol : float
        Largest remaining Newton step, in standard errors, at convergence.
    max_iter : int
        Most Newton iterations (halvings included).
    data : CoxData, optional
        Prepared data (:func:`prepare_cox_data`) to reuse instead of ``time, event, X,
        names, ties, strata, cluster``.

    Returns
    -------
    CoxFit
        ``converged`` is False, with a ``message``, when the iterations ran out or the
        likelihood is monotone in a coefficient (an infinite estimate).

    Raises
    ------
    CoxDataError (a ValueError)
        No events, bad values, a covariate that does not vary (within strata) or is
        aliased with earlier ones, or a singular information matrix.
    """
    if data is None:
        data = prepare_cox_data(time, event, X, names=names, ties=ties, strata=strata, cluster=cluster)
    d = data
    if robust is None:
        robust = d.cluster is not None
    p = d.X.shape[1]
    beta = np.zeros(p)
    state = _evaluate(d, beta)
    loglik_null = state.loglik
    step, factor = _solve(state.info, state.score)
    score_stat = float(state.score @ step)
    iterations, converged, monotone, message = 0, False, False, ""
    while iterations < max_iter:
        candidate = beta + step
        new = _evaluate(d, candidate)
        iterations += 1
        halvings = 0
        # Worse beyond rounding (a Newton step near the maximum changes the log-likelihood by less than its
        # rounding error, so a strict comparison would halve steps that are merely noise-level).
        floor = state.loglik - ROUNDING * abs(state.loglik)
        while not new.loglik >= floor and iterations < max_iter and halvings < MAX_HALVINGS:
            # Worse (or not finite): step halving, as coxph (each halving counts as an iteration).
            candidate = (beta + candidate) / 2
            new = _evaluate(d, candidate)
            iterations += 1
            halvings += 1
        if not new.loglik >= floor:
            message = "the log-likelihood did not increase along the Newton direction"
            break
        old_loglik = state.loglik
        beta, state = candidate, new
        step, factor = _solve(state.info, state.score)
        se = np.sqrt(np.diag(cho_solve(factor, np.eye(p), check_finite=False)))
        small_change = abs(1.0 - old_loglik / state.loglik) <= tol if state.loglik != 0 else True
        if halvings == 0 and small_change:
            if np.all(np.abs(step) <= step_tol * se):
                converged = True
                break
            if _runs_off(step, beta, tol).any():
                # coxph would stop here; the likelihood is flat while a coefficient keeps moving
                monotone = True
                break
    else:
        message = f"did not converge in {max_iter} iterations"
    var = cho_solve(factor, np.eye(p), check_finite=False)
    var = (var + var.T) / 2
    infinite = _runs_off(step, beta, tol)
    if (converged or monotone) and infinite.any():
        converged = False
        bad = ", ".join(d.names[j] for j in np.flatnonzero(infinite))
        message = (
            f"monotone likelihood: the log-likelihood converged before coefficient(s) {bad}, "
            "whose estimate(s) may be infinite (separation)"
        )
    robust_var = None
    if robust:
        # D'D with D the dfbeta residuals (score residuals U times var), summed by cluster: var (U'U) var.
        resid = _score_residuals(d, state)
        if d.cluster_order is not None:
            resid = np.add.reduceat(resid[d.cluster_order], d.cluster_starts, axis=0)
        robust_var = var @ (resid.T @ resid) @ var
        robust_var = (robust_var + robust_var.T) / 2
    se = np.sqrt(np.diag(var))
    n_clusters = d.n_clusters if d.cluster is not None else (d.n if robust else 0)
    return CoxFit(
        names=d.names,
        coef=beta,
        var=var,
        se=se,
        robust_var=robust_var,
        robust_se=None if robust_var is None else np.sqrt(np.diag(robust_var)),
        loglik_null=loglik_null,
        loglik=state.loglik,
        score=state.score,
        info=state.info,
        score_test=_chi2(score_stat, p),
        wald_test=_chi2(float(beta @ state.info @ beta), p),
        lr_test=_chi2(2.0 * (state.loglik - loglik_null), p),
        n=d.n,
        n_events=d.n_events,
        n_clusters=n_clusters,
        iterations=iterations,
        converged=converged,
        message=message,
        ties=d.ties,
        data=d,
    )
