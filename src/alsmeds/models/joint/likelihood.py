"""The joint log-likelihood: longitudinal, survival and random-effect parts on a quadrature grid.

Model (time-invariant covariates; ``t`` in the unit of the survival times)::

    y_ij = m_i(t_ij) + e_ij,        m_i(t) = a_i + c_i t + b0_i + b1_i t,     e_ij ~ N(0, sigma^2)
    (b0_i, b1_i) ~ N(0, D)
    h_i(t) = h0(t) exp(gamma' w_i + alpha m_i(t))                        (association "value")
    h_i(t) = h0(t) exp(gamma' w_i + alpha_slope m_i'(t))                 (association "slope")
    h_i(t) = h0(t) exp(gamma' w_i + alpha m_i(t) + alpha_slope m_i'(t))  (association "both")

with ``m_i'(t) = c_i + b1_i`` the slope of the patient's true trajectory (constant in time: the
trajectory is linear), as R JM's ``parameterization = "value"``, ``"slope"``, ``"both"``.  The log-likelihood of
patient ``i`` is

``log integral [prod_j p(y_ij | m_i(t_ij))] h_i(T_i)^delta_i exp(-int_0^T_i h_i(s) ds) N(b; 0, D) db``

with every Gaussian constant included (the quantity JM and ``nlme`` report).  In the normal
submodel ``p(y | m) = N(y; m, sigma^2)`` for every visit.  In the censored (Tobit) submodel
(:class:`.data.CensoredVisits`) ``y_ij`` is the latent score ``m_i(t_ij) + e_ij`` seen through the
bounds of the scale: a visit at or below the floor ``l`` contributes ``P(latent <= l) =
Phi((l - m_i(t_ij)) / sigma)``, one at or above the ceiling ``u`` contributes ``1 - Phi((u -
m_i(t_ij)) / sigma)``, and the others the normal density as before (:func:`measurement_terms`).
The integral over ``b`` uses the rule of :func:`.quadrature.random_effect_nodes`; it is evaluated for all patients
and nodes at once (arrays ``patients x slope nodes x intercept nodes``) and summed with a
log-sum-exp.  The cumulative hazard depends on ``b`` only through the slope, so it is computed on
``patients x slope nodes x time points``.

Centring (:func:`lines_at_nodes`).  Substituting ``(A, C) = (a_i + b0, c_i + b1)`` (Jacobian 1)
writes the same integral over the patient's own line: ``prod_j N(y_ij; A + C t_ij, sigma^2)``,
the hazard of ``A + C t`` and the prior ``N((A, C); (a_i, c_i), D)``.  With nodes fixed on
``(A, C)`` (``centring="subject"``, the default) the fixed effects enter only through the prior,
which is wide; with nodes fixed on ``b`` (``"random-effects"``, JM) the measurement term, which is
narrow for a patient with many visits, slides across the nodes as ``beta`` moves.  Both are the
same integral; they differ in the quadrature error at a given number of nodes, and through it in
the curvature (standard errors) of the approximate log-likelihood; see
:class:`~.fitting.JointModel`.

Baselines
---------
* :class:`WeibullBaseline` (JM's ``"weibull-PH"``): ``log h0(t) = log_scale + log_shape' + (shape - 1) log t``
  with ``shape = exp(log_shape')``, i.e. ``h0(t) = exp(log_scale) shape t^(shape - 1)``; the
  cumulative hazard by 15-point Gauss-Kronrod (or Gauss-Legendre) on ``[0, T_i^shape]`` after the
  substitution ``v = t^shape`` (or, as JM, on ``[0, T_i]`` in ``t``: ``substitution=False``).
* :class:`PiecewiseBaseline`: ``h0(t) = exp(xi_q)`` on interval ``q`` of ``[0, k_1), [k_1, k_2), ...,
  [k_{Q-1}, inf)``, internal knots at the ``1/Q, ..., (Q-1)/Q`` quantiles of the observed event times
  (JM's rule for its piecewise-constant baseline, ``Q = 7`` by default).  Because ``m_i(t)`` is
  linear in ``t``, the integral over each interval has the closed form
  ``exp(xi_q) exp(k lo) (exp(k len) - 1) / k`` with ``k = alpha (c_i + b1)``: no quadrature error.

With the slope association alone the hazard is ``h0(t)`` times a constant per patient, so the
cumulative hazard is ``exp(gamma'w + alpha_slope C) int_0^T h0`` in closed form (``cumulative``).

Parameter vector (names in :attr:`Layout.names`)::

    long:<level terms>, long:<slope terms>, log_sigma, log_chol_D11, chol_D21, log_chol_D22,
    surv:<covariates>, alpha and/or alpha_slope, baseline:<...>
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import autograd.numpy as anp
import numpy as np
from autograd.extend import defvjp, primitive
from autograd.scipy.special import logsumexp
from scipy import special

from alsmeds.models.joint.data import CensoredVisits, JointData, JointSpec
from alsmeds.models.joint.quadrature import RandomEffectNodes, time_grid, time_rule

LOG_2PI = float(np.log(2 * np.pi))
#: A numpy array or an autograd box wrapping one (every likelihood function is differentiated by autograd).
Array = Any
#: Precomputed arrays of a baseline for given upper limits (``Baseline.prepare``).
Arrays = dict[str, np.ndarray]
#: Association structures of the hazard with the marker (R JM's ``parameterization``).
ASSOCIATIONS = ("value", "slope", "both")


# --------------------------------------------------------------------------- differentiable pieces


@primitive
def log_ndtr(x: Array) -> Array:
    """``log Phi(x)``, the log standard normal CDF, accurate in both tails, differentiable twice (and more).

    The value is SciPy's ``scipy.special.log_ndtr`` (an asymptotic series below -20, ``log1p(-Phi(-x))``
    above 6).  Its derivative is the inverse Mills ratio :func:`inverse_mills`.
    """
    return special.log_ndtr(x)


@primitive
def inverse_mills(x: Array) -> Array:
    """``phi(x) / Phi(x)``, the derivative of :func:`log_ndtr`.

    For ``x < 0`` as ``sqrt(2 / pi) / erfcx(-x / sqrt2)``: with the scaled complementary error function
    ``erfcx(u) = exp(u^2) erfc(u)`` the ratio has no cancellation or overflow and tends to ``-x``
    (relative accuracy of a few units of rounding at ``x = -1e4``); for ``x >= 0`` as
    ``exp(log phi(x) - log Phi(x))``, which tends to ``phi(x)`` (down to the smallest subnormal
    numbers) in the right tail.  Its own derivative
    ``-lambda (x + lambda)`` (the Hessian of the censored likelihood) loses about ``x^2`` units of
    rounding to cancellation as ``x -> -inf`` (2e-12 relative at ``x = -100``): harmless, a standardised
    distance of 100 from a bound means a line hundreds of points beyond the scale.
    """
    x = np.asarray(x, dtype=float)
    left = np.minimum(x, 0.0)
    right = np.maximum(x, 0.0)
    return np.where(
        x < 0,
        np.sqrt(2 / np.pi) / special.erfcx(-left / np.sqrt(2)),
        np.exp(-0.5 * right**2 - 0.5 * LOG_2PI - special.log_ndtr(right)),
    )


# Written with autograd functions, so autograd differentiates them in turn.
defvjp(log_ndtr, lambda ans, x: lambda g: g * inverse_mills(x))
defvjp(inverse_mills, lambda ans, x: lambda g: -g * ans * (x + ans))


@primitive
def take_patients(x: Array, censored: CensoredVisits) -> Array:
    """``x[censored.patient]``: the rows of the censored visits' patients (a gather; its derivative sums back)."""
    return x[censored.patient]


@primitive
def sum_into_patients(values: Array, censored: CensoredVisits) -> Array:
    """Sum per-visit ``values`` (k, ...) into their patients (n, ...) with the sparse indicator matrix."""
    rest = values.shape[1:]
    flat = np.reshape(values, (values.shape[0], -1))
    return np.reshape(censored.indicator @ flat, (censored.n_groups, *rest))


# Each is the other's derivative (both linear), so autograd differentiates them to any order.
defvjp(take_patients, lambda ans, x, censored: lambda g: sum_into_patients(g, censored))
defvjp(sum_into_patients, lambda ans, values, censored: lambda g: take_patients(g, censored))


# --------------------------------------------------------------------------- baselines


@dataclass(frozen=True)
class WeibullBaseline:
    """Weibull baseline hazard ``h0(t) = exp(log_scale) shape t^(shape - 1)``, ``shape = exp(log_shape)``.

    Parameters
    ----------
    rule : {"gauss-kronrod", "gauss-legendre"}
        15-point rule for the cumulative hazard.
    substitution : bool
        Apply the rule in ``v = t^shape`` (default) rather than in ``t`` (as JM does).  With
        ``m(t)`` linear, ``int_0^T h0(t) exp(k t) dt = exp(log_scale) int_0^(T^shape) exp(k v^(1/shape)) dv``:
        the factor ``t^(shape - 1)``, whose derivative is infinite at 0 unless the shape is 1, is
        absorbed, and the rule's error drops from about 4e-5 to 3e-8 (relative) at shape 1.02 and
        from 3e-3 to 4e-8 at shape 0.74 (measured against adaptive quadrature in the tests).
    """

    rule: str = "gauss-kronrod"
    substitution: bool = True
    kind: str = field(default="weibull", init=False)

    def names(self) -> list[str]:
        return ["baseline:log_scale", "baseline:log_shape"]

    def prepare(self, upper: np.ndarray) -> dict[str, np.ndarray]:
        """Arrays for integrals over ``[0, upper_i]`` and the hazard at ``upper_i``."""
        upper = np.asarray(upper, dtype=float)
        grid = time_grid(upper, self.rule)
        x, w = time_rule(self.rule)
        return {
            "s": grid.s[:, None, :],
            "log_s": grid.log_s[:, None, :],
            "log_w": grid.log_w[:, None, :],
            "upper": upper,
            "log_upper": np.log(upper),
            "log_u": np.log((x + 1) / 2)[None, None, :],
            "half_w": (w / 2)[None, None, :],
        }

    def start(self, T: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """Exponential fit (shape 1): log of events per unit of follow-up."""
        return np.array([np.log(max(delta.sum(), 0.5) / T.sum()), 0.0])

    def log_h0_upper(self, par: Array, arrays: Arrays) -> Array:
        """``log h0(upper_i)``, shape (n,)."""
        return par[0] + par[1] + (anp.exp(par[1]) - 1) * arrays["log_upper"]

    def integral(self, par: Array, arrays: Arrays, k: Array) -> Array:
        """``int_0^upper h0(s) exp(k s) ds`` for ``k`` of shape (n, q, 1); returns (n, q, 1)."""
        if self.substitution:
            shape = anp.exp(par[1])
            s = arrays["upper"][:, None, None] * anp.exp(arrays["log_u"] / shape)  # (n, 1, L)
            inner = anp.sum(arrays["half_w"] * anp.exp(k * s), axis=2, keepdims=True)
            return anp.exp(par[0] + shape * arrays["log_upper"])[:, None, None] * inner
        log_terms = arrays["log_w"] + par[0] + par[1] + (anp.exp(par[1]) - 1) * arrays["log_s"] + k * arrays["s"]
        return anp.sum(anp.exp(log_terms), axis=2, keepdims=True)

    def cumulative(self, par: Array, arrays: Arrays) -> Array:
        """``int_0^upper h0(s) ds = exp(log_scale) upper^shape`` in closed form, shape (n,)."""
        return anp.exp(par[0] + anp.exp(par[1]) * arrays["log_upper"])


def _phi(x: Array) -> Array:
    """``(exp(x) - 1) / x`` with its limit 1 at 0 (autograd-safe in both branches)."""
    small = anp.abs(x) < 1e-6
    safe = anp.where(small, 1.0, x)
    return anp.where(small, 1.0 + x / 2 + x**2 / 6, anp.expm1(safe) / safe)


@dataclass(frozen=True)
class PiecewiseBaseline:
    """Piecewise-constant baseline hazard ``h0(t) = exp(xi_q)`` between fixed knots.

    Parameters
    ----------
    knots : tuple of float
        Internal knots ``0 < k_1 < ... < k_{Q-1}``; the last interval is open.  Use
        :meth:`at_event_quantiles` for JM's placement.
    """

    knots: tuple[float, ...]
    kind: str = field(default="piecewise", init=False)

    @classmethod
    def at_event_quantiles(cls, T: np.ndarray, delta: np.ndarray, n_intervals: int = 7) -> PiecewiseBaseline:
        """Internal knots at the ``j / n_intervals`` quantiles (``j = 1..n_intervals-1``) of the observed event times.

        Parameters
        ----------
        T, delta : arrays
            Survival times and event indicators.
        n_intervals : int
            Number of intervals ``Q`` (default 7: JM's six internal knots).
        """
        events = np.asarray(T, dtype=float)[np.asarray(delta) == 1]
        if events.size < n_intervals:
            raise ValueError(f"{events.size} events cannot support {n_intervals} baseline intervals")
        probs = np.arange(1, n_intervals) / n_intervals
        knots = np.unique(np.quantile(events, probs))
        return cls(knots=tuple(float(k) for k in knots))

    @property
    def edges(self) -> np.ndarray:
        return np.concatenate([[0.0], self.knots, [np.inf]])

    def names(self) -> list[str]:
        return [f"baseline:log_h0_{q + 1}" for q in range(len(self.knots) + 1)]

    def interval_labels(self, digits: int = 4) -> list[str]:
        e = self.edges
        return [f"[{e[q]:.{digits}g}, {e[q + 1]:.{digits}g})" for q in range(len(e) - 1)]

    def prepare(self, upper: np.ndarray) -> dict[str, np.ndarray]:
        upper = np.asarray(upper, dtype=float)
        e = self.edges
        lo = np.minimum(e[None, :-1], upper[:, None])
        hi = np.minimum(e[None, 1:], upper[:, None])
        which = np.clip(np.searchsorted(e, upper, side="right") - 1, 0, len(e) - 2)
        onehot = np.zeros((upper.shape[0], len(e) - 1))
        onehot[np.arange(upper.shape[0]), which] = 1.0
        return {"lo": lo[:, None, :], "length": (hi - lo)[:, None, :], "onehot": onehot}

    def start(self, T: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """Log of events per unit of follow-up in each interval (pooled rate where an interval has no event)."""
        arrays = self.prepare(T)
        exposure = arrays["length"][:, 0, :].sum(axis=0)
        events = (arrays["onehot"] * np.asarray(delta)[:, None]).sum(axis=0)
        pooled = max(float(np.sum(delta)), 0.5) / float(np.sum(T))
        rate = np.where((events > 0) & (exposure > 0), events / np.maximum(exposure, 1e-300), pooled)
        return np.log(rate)

    def log_h0_upper(self, par: Array, arrays: Arrays) -> Array:
        """``log h0(upper_i)``, shape (n,)."""
        return anp.dot(arrays["onehot"], par)

    def integral(self, par: Array, arrays: Arrays, k: Array) -> Array:
        """``int_0^upper h0(s) exp(k s) ds`` in closed form per interval; returns (n, q, 1)."""
        lo, length = arrays["lo"], arrays["length"]
        terms = anp.exp(par + k * lo) * length * _phi(k * length)
        return anp.sum(terms, axis=2, keepdims=True)

    def cumulative(self, par: Array, arrays: Arrays) -> Array:
        """``int_0^upper h0(s) ds = sum_q exp(xi_q) length_q``, shape (n,)."""
        return anp.dot(arrays["length"][:, 0, :], anp.exp(par))


Baseline = WeibullBaseline | PiecewiseBaseline


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Layout:
    """Positions and names of the parameters in the vector ``theta``.

    Attributes
    ----------
    spec : JointSpec
    baseline : Baseline
    association : {"value", "slope", "both"}
        Which features of the true trajectory enter the hazard: ``alpha`` (current value),
        ``alpha_slope`` (current slope) or both, in that order.
    """

    spec: JointSpec
    baseline: Baseline
    association: str = "value"

    def __post_init__(self) -> None:
        if self.association not in ASSOCIATIONS:
            raise ValueError(f"association must be one of {ASSOCIATIONS}, not {self.association!r}")

    @property
    def p0(self) -> int:
        return len(self.spec.level) + 1

    @property
    def p1(self) -> int:
        return len(self.spec.slope) + 1

    @property
    def pw(self) -> int:
        return len(self.spec.surv)

    @property
    def n_long(self) -> int:
        """Parameters of the linear mixed model (fixed effects, log_sigma, three of D)."""
        return self.p0 + self.p1 + 4

    @property
    def association_names(self) -> list[str]:
        """``["alpha"]``, ``["alpha_slope"]`` or ``["alpha", "alpha_slope"]``."""
        return {"value": ["alpha"], "slope": ["alpha_slope"], "both": ["alpha", "alpha_slope"]}[self.association]

    @property
    def n_association(self) -> int:
        return len(self.association_names)

    @property
    def names(self) -> list[str]:
        s = self.spec
        return (
            [f"long:{n}" for n in s.level_names]
            + [f"long:{n}" for n in s.slope_names]
            + ["log_sigma", "log_chol_D11", "chol_D21", "log_chol_D22"]
            + [f"surv:{c}" for c in s.surv]
            + self.association_names
            + self.baseline.names()
        )

    @property
    def size(self) -> int:
        return len(self.names)

    def split(self, theta: Array) -> dict[str, Array]:
        """Named pieces of ``theta`` (autograd-friendly slices); ``alpha`` or ``alpha_slope`` is None when absent."""
        p0, p1, pw = self.p0, self.p1, self.pw
        i = p0 + p1
        j = i + 4
        out = {
            "beta0": theta[:p0],
            "beta1": theta[p0:i],
            "log_sigma": theta[i],
            "l00": theta[i + 1],
            "l10": theta[i + 2],
            "l11": theta[i + 3],
            "gamma": theta[j : j + pw],
            **self.split_survival(theta[j + pw :], with_covariates=False),
        }
        return out

    def split_survival(self, surv_theta: Array, *, with_covariates: bool = True) -> dict[str, Array]:
        """``gamma`` (if ``with_covariates``), ``alpha``, ``alpha_slope`` (None when absent) and ``baseline``.

        ``surv_theta`` is the survival part of ``theta`` (covariates, association, baseline), or only
        its association and baseline part when ``with_covariates`` is False.
        """
        pw = self.pw if with_covariates else 0
        out = {"gamma": surv_theta[:pw]} if with_covariates else {}
        k = pw
        out["alpha"] = None
        out["alpha_slope"] = None
        for name in self.association_names:
            out[name] = surv_theta[k]
            k += 1
        out["baseline"] = surv_theta[k:]
        return out

    def survival_slice(self) -> slice:
        """Positions of the survival parameters (covariates, alpha, baseline)."""
        return slice(self.n_long, self.size)


# --------------------------------------------------------------------------- likelihood pieces


def longitudinal_terms(log_sigma: Array, data: Any, A: Array, C: Array) -> Array:
    """``log prod_j N(y_ij; A + C t_ij, sigma^2)`` for lines ``(A, C)`` broadcast against (n, 1, 1).

    ``data`` holds the per-patient visit sums (a :class:`.data.JointData` or :class:`.data.VisitSums`).
    """
    n = data.n_visits[:, None, None]
    dA = A - data.ybar[:, None, None]
    rss = (
        data.S_rr[:, None, None]
        - 2 * dA * data.S_r[:, None, None]
        - 2 * C * data.S_rt[:, None, None]
        + n * dA**2
        + 2 * dA * C * data.S_t[:, None, None]
        + C**2 * data.S_tt[:, None, None]
    )
    return -0.5 * n * LOG_2PI - n * log_sigma - 0.5 * rss * anp.exp(-2 * log_sigma)


def censored_terms(log_sigma: Array, censored: CensoredVisits, A: Array, C: Array) -> Array:
    """``sum_j log Phi(sign_j (bound_j - A - C t_j) / sigma)`` over each patient's censored visits.

    ``A`` and ``C`` are the patients' lines at the nodes (any shapes broadcasting to (n, ...)); the
    terms are computed for the censored visits only (one row per visit, at every node) and summed
    into their patients; a patient without a censored visit gets 0.  Returns (n, ...) like
    ``A + C``, or the scalar 0 when no visit is censored.
    """
    if censored.size == 0:
        return 0.0
    t = censored.t.reshape((-1,) + (1,) * (anp.ndim(A) - 1))
    m = take_patients(A, censored) + take_patients(C, censored) * t
    sign_bound = (censored.sign * censored.bound).reshape(t.shape)
    z = (sign_bound - censored.sign.reshape(t.shape) * m) * anp.exp(-log_sigma)
    return sum_into_patients(log_ndtr(z), censored)


def measurement_terms(log_sigma: Array, data: JointData, A: Array, C: Array) -> Array:
    """``log p(y_i | A, C)``: the normal terms of every (uncensored) visit plus, if any, the censored terms."""
    if data.censored is None:
        return longitudinal_terms(log_sigma, data, A, C)
    out = longitudinal_terms(log_sigma, data.censored.uncensored, A, C)
    return out + censored_terms(log_sigma, data.censored, A, C)


def prior_terms(l00: Array, l10: Array, l11: Array, b0: Array, b1: Array) -> Array:
    """``log N(b; 0, D)`` with ``D = L L'`` (log-Cholesky parameters)."""
    v0 = b0 * anp.exp(-l00)
    v1 = (b1 - l10 * v0) * anp.exp(-l11)
    return -LOG_2PI - l00 - l11 - 0.5 * (v0**2 + v1**2)


def survival_terms(
    gamma: Array,
    alpha: Array | None,
    base_par: Array,
    baseline: Baseline,
    arrays: Arrays,
    W: np.ndarray,
    delta: np.ndarray,
    upper: np.ndarray,
    A: Array,
    C: Array,
    alpha_slope: Array | None = None,
) -> Array:
    """``delta log h(T | A, C) - int_0^T h(s | A, C) ds`` for marker lines ``m(t) = A + C t``.

    ``A`` (n, q, q) and ``C`` (n, q, 1) are the patient's intercept and slope at the nodes;
    ``arrays`` come from ``baseline.prepare(upper)``.  The log hazard has ``alpha m(t)`` (current
    value; ``alpha`` None: absent) and ``alpha_slope m'(t) = alpha_slope C`` (current slope;
    ``alpha_slope`` None: absent).  Returns the shape of ``A`` (with the slope association alone,
    which does not involve ``A``, the shape of ``C``, broadcastable to it).
    """
    eta = anp.dot(W, gamma)[:, None, None] if W.shape[1] else 0.0
    if alpha_slope is None:  # the current value alone
        log_h = baseline.log_h0_upper(base_par, arrays)[:, None, None] + eta + alpha * (A + C * upper[:, None, None])
        integral = baseline.integral(base_par, arrays, alpha * C)
        cumulative = anp.exp(eta + alpha * A) * integral
        return delta[:, None, None] * log_h - cumulative
    slope = alpha_slope * C
    log_h0 = baseline.log_h0_upper(base_par, arrays)[:, None, None]
    if alpha is None:  # the current slope alone: h(t) = h0(t) exp(eta + alpha_slope C), constant factor
        log_h = log_h0 + eta + slope
        cumulative = anp.exp(eta + slope) * baseline.cumulative(base_par, arrays)[:, None, None]
        return delta[:, None, None] * log_h - cumulative
    log_h = log_h0 + eta + alpha * (A + C * upper[:, None, None]) + slope
    integral = baseline.integral(base_par, arrays, alpha * C)
    cumulative = anp.exp(eta + alpha * A + slope) * integral
    return delta[:, None, None] * log_h - cumulative


def lines_at_nodes(p: dict[str, Array], data: JointData, nodes: RandomEffectNodes) -> tuple[Array, Array, Array, Array]:
    """The patient's intercept and slope ``(A, C)`` and random effects ``(b0, b1)`` at the nodes.

    With ``centring="subject"`` the nodes are fixed values of ``(A, C)`` and ``b = (A - a_i, C - c_i)``
    moves with ``beta``; with ``"random-effects"`` (JM's rule) the nodes are fixed values of ``b`` and
    ``(A, C) = (a_i + b0, c_i + b1)`` moves with ``beta``.
    """
    a = anp.dot(data.X0, p["beta0"])[:, None, None]
    c = anp.dot(data.X1, p["beta1"])[:, None, None]
    if nodes.centring == "subject":
        A, C = nodes.level, nodes.slope
        return A, C, A - a, C - c
    b0, b1 = nodes.level, nodes.slope
    return a + b0, c + b1, b0, b1


def node_terms(theta: Array, layout: Layout, data: JointData, nodes: RandomEffectNodes, arrays: Arrays) -> Array:
    """Log of the integrand at every node (without the quadrature weight), shape (n, q, q)."""
    p = layout.split(theta)
    A, C, b0, b1 = lines_at_nodes(p, data, nodes)
    out = measurement_terms(p["log_sigma"], data, A, C)
    out = out + prior_terms(p["l00"], p["l10"], p["l11"], b0, b1)
    out = out + survival_terms(
        p["gamma"],
        p["alpha"],
        p["baseline"],
        layout.baseline,
        arrays,
        data.W,
        data.delta,
        data.T,
        A,
        C,
        alpha_slope=p["alpha_slope"],
    )
    return out


def joint_loglik_terms(
    theta: Array, layout: Layout, data: JointData, nodes: RandomEffectNodes, arrays: Arrays
) -> Array:
    """Per-patient joint log-likelihood, shape (n,).

    Parameters
    ----------
    theta : array
        Parameters in the order of ``layout.names``.
    layout : Layout
    data : JointData
    nodes : RandomEffectNodes
        Quadrature over the random effects.
    arrays : dict
        ``layout.baseline.prepare(data.T)``.
    """
    total = node_terms(theta, layout, data, nodes, arrays) + nodes.log_weight
    n = data.n_groups
    return logsumexp(anp.reshape(total, (n, -1)), axis=1)


def joint_loglik(theta: Array, layout: Layout, data: JointData, nodes: RandomEffectNodes, arrays: Arrays) -> Array:
    """Joint log-likelihood summed over patients."""
    return anp.sum(joint_loglik_terms(theta, layout, data, nodes, arrays))


def survival_plugin_loglik(
    surv_theta: Array, layout: Layout, data: JointData, line: np.ndarray, arrays: Arrays
) -> Array:
    """Survival log-likelihood with a predicted marker trajectory ``line_i[0] + line_i[1] t`` plugged in.

    The two-stage fit that gives the joint model its survival starting values: ``surv_theta`` is
    ``gamma``, the association parameters and the baseline; ``line`` (n, 2) the mixed model's
    predicted intercept and slope of every patient.
    """
    s = layout.split_survival(surv_theta)
    A = line[:, 0][:, None, None]
    C = line[:, 1][:, None, None]
    terms = survival_terms(
        s["gamma"],
        s["alpha"],
        s["baseline"],
        layout.baseline,
        arrays,
        data.W,
        data.delta,
        data.T,
        A,
        C,
        alpha_slope=s["alpha_slope"],
    )
    return anp.sum(terms)


def make_baseline(
    kind: str,
    data: JointData,
    *,
    rule: str = "gauss-kronrod",
    substitution: bool = True,
    n_intervals: int = 7,
    knots: Sequence[float] | None = None,
) -> Baseline:
    """A baseline hazard of the given kind for these data (``"weibull"`` or ``"piecewise"``)."""
    if kind == "weibull":
        return WeibullBaseline(rule=rule, substitution=substitution)
    if kind == "piecewise":
        if knots is not None:
            return PiecewiseBaseline(knots=tuple(float(k) for k in knots))
        return PiecewiseBaseline.at_event_quantiles(data.T, data.delta, n_intervals)
    raise ValueError(f"unknown baseline {kind!r}: 'weibull' or 'piecewise'")


# --------------------------------------------------------------------------- posterior of the random effects


def log_integrand(b: Array, theta: Array, layout: Layout, data: JointData, arrays: Arrays) -> Array:
    """Log of the joint integrand of every patient at one point ``b_i`` each, shape (n,).

    ``log p(y_i | b_i) + log N(b_i; 0, D) + delta_i log h_i(T_i | b_i) - int_0^T_i h_i(s | b_i) ds``
    for random effects ``b`` of shape (n, 2): as a function of ``b_i`` this is the log of the
    (unnormalised) posterior of the random effects of patient ``i`` given all their data, censored
    visits included.  It is strictly concave in ``b_i`` (a concave quadratic, a linear term, minus a
    sum of exponentials of linear functions, and for censored visits ``log Phi`` of linear
    functions, which is concave), so Newton's method finds its mode.
    """
    p = layout.split(theta)
    b0 = b[:, 0][:, None, None]
    b1 = b[:, 1][:, None, None]
    A = anp.dot(data.X0, p["beta0"])[:, None, None] + b0
    C = anp.dot(data.X1, p["beta1"])[:, None, None] + b1
    out = measurement_terms(p["log_sigma"], data, A, C)
    out = out + prior_terms(p["l00"], p["l10"], p["l11"], b0, b1)
    out = out + survival_terms(
        p["gamma"],
        p["alpha"],
        p["baseline"],
        layout.baseline,
        arrays,
        data.W,
        data.delta,
        data.T,
        A,
        C,
        alpha_slope=p["alpha_slope"],
    )
    return out[:, 0, 0]


def random_effect_posterior(
    theta, layout: Layout, data: JointData, arrays, start: np.ndarray, *, max_iter: int = 50, tol: float = 1e-10
) -> tuple[np.ndarray, np.ndarray, int]:
    """Mode and inverse curvature of every patient's random-effect posterior, by vectorised Newton steps.

    Parameters
    ----------
    theta : array
        Parameters at which the posterior is taken.
    layout, data, arrays
        As for :func:`joint_loglik`.
    start : array, shape (n, 2)
        Starting points (e.g. the mixed model's empirical-Bayes means).
    max_iter : int
    tol : float
        Stop when every patient's Newton step is below ``tol`` (relative to ``1 + |b|``).

    Returns
    -------
    (ndarray (n, 2), ndarray (n, 2, 2), int)
        Modes, ``(-Hessian)^-1`` at the modes, Newton iterations.
    """
    import autograd

    theta = np.asarray(theta, dtype=float)
    f = lambda b: log_integrand(b, theta, layout, data, arrays)  # noqa: E731
    grad = autograd.grad(lambda b: anp.sum(f(b)))
    row0 = autograd.grad(lambda b: anp.sum(grad(b)[:, 0]))
    row1 = autograd.grad(lambda b: anp.sum(grad(b)[:, 1]))

    def curvature(b):
        H = np.stack([row0(b), row1(b)], axis=1)  # (n, 2, 2): H[i, k, :] = d2 f_i / db_k db
        return -(H + np.swapaxes(H, 1, 2)) / 2

    b = np.array(start, dtype=float)
    value = f(b)
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007
        g = grad(b)
        info = curvature(b)
        det = info[:, 0, 0] * info[:, 1, 1] - info[:, 0, 1] ** 2
        step = np.column_stack(
            [
                (info[:, 1, 1] * g[:, 0] - info[:, 0, 1] * g[:, 1]) / det,
                (info[:, 0, 0] * g[:, 1] - info[:, 0, 1] * g[:, 0]) / det,
            ]
        )
        shrink = np.ones(b.shape[0])
        for _ in range(30):  # per-patient step halving (the objective is concave: a decrease means overshoot)
            trial = b + shrink[:, None] * step
            new = f(trial)
            bad = ~(new >= value - 1e-12 * np.maximum(1.0, np.abs(value)))
            if not bad.any():
                break
            shrink = np.where(bad, shrink / 2, shrink)
        b, value = trial, np.where(np.isfinite(new), new, value)
        if np.all(np.abs(shrink[:, None] * step) <= tol * (1 + np.abs(b))):
            break
    info = curvature(b)
    det = info[:, 0, 0] * info[:, 1, 1] - info[:, 0, 1] ** 2
    cov = np.empty_like(info)
    cov[:, 0, 0], cov[:, 1, 1] = info[:, 1, 1] / det, info[:, 0, 0] / det
    cov[:, 0, 1] = cov[:, 1, 0] = -info[:, 0, 1] / det
    return b, cov, iterations
