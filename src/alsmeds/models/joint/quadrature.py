"""Quadrature rules of the joint model: Gauss-Hermite over the random effects, Gauss-Kronrod over time.

Random effects
--------------
The marginal likelihood of patient ``i`` integrates over the random intercept and slope
``b = (b0, b1)``.  With a positive-definite matrix ``Sigma_i`` and a centre ``bhat_i``,
substituting ``b = bhat_i + sqrt(2) B_i z`` (``B_i B_i' = Sigma_i``) gives

``integral g(b) db = 2 |det B_i| integral g(bhat_i + sqrt(2) B_i z) exp(|z|^2) exp(-|z|^2) dz``

and the inner integral is a product Gauss-Hermite rule (weight ``exp(-z^2)`` per dimension).
The rule is exact when ``g`` is a Gaussian density times a polynomial of low degree; it is
accurate with few nodes when ``bhat_i`` and ``Sigma_i`` are close to the mode and curvature of
``g``.  The joint model first takes them from the linear mixed model fitted alone (the
"pseudo-adaptive" rule of Rizopoulos 2012), then, by default, once more from every patient's joint
posterior at the first estimate (:class:`~.fitting.JointModel`, ``adapt``).  The nodes are fixed
values either of the random effects (JM) or of the patient's own intercept and slope ``(a_i + b0,
c_i + b1)`` (the default: ``centring``); the rule is the same, only what stays fixed when the
fixed effects move differs (see :mod:`.likelihood`).

``B_i`` is the *upper* triangular square root of ``Sigma_i``: then the slope node
``b1 = bhat1_i + sqrt(2) B_i[1, 1] z1`` depends only on the second coordinate, so a rule with
``q`` nodes per random effect has only ``q`` distinct slopes per patient, and the cumulative
hazard (the expensive integral over time, which depends on ``b`` only through the slope) is
evaluated ``q`` times instead of ``q^2``.  Any square root gives a valid rule; they differ at a
fixed number of nodes by the quadrature error only.

Time
----
The cumulative hazard ``int_0^T h(s) ds`` uses the 15-point Gauss-Kronrod rule (as JM does) or, on
request, the 15-point Gauss-Legendre rule; for the Weibull baseline by default in the variable
``v = t^shape`` (:class:`~.likelihood.WeibullBaseline`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Nodes and weights of the 15-point Kronrod extension of the 7-point Gauss-Legendre rule on [-1, 1]
# (Kronrod 1965; the values tabulated in QUADPACK's qk15, Piessens et al. 1983): non-negative nodes,
# the centre last.  The rule is exact for polynomials of degree 22 (checked in the tests).
_GK15_X = np.array(
    [
        0.991455371120812639206854697526329,
        0.949107912342758524526189684047851,
        0.864864423359769072789712788640926,
        0.741531185599394439863864773280788,
        0.586087235467691130294144845693013,
        0.405845151377397166906606412076961,
        0.207784955007898467600689403773245,
        0.0,
    ]
)
_GK15_W = np.array(
    [
        0.022935322010529224963732008058970,
        0.063092092629978553290700663189204,
        0.104790010322250183839876322541518,
        0.140653259715525918745189590510238,
        0.169004726639267902826583426598550,
        0.190350578064785409913256402421014,
        0.204432940075298892414161999234649,
        0.209482141084727828012999174891714,
    ]
)

#: What the random-effect nodes are values of (see :class:`RandomEffectNodes`).
CENTRINGS = ("subject", "random-effects")
#: Rules for the integral over time.
TIME_RULES = ("gauss-kronrod", "gauss-legendre")


def time_rule(rule: str = "gauss-kronrod") -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of a 15-point rule on ``[-1, 1]``.

    Parameters
    ----------
    rule : {"gauss-kronrod", "gauss-legendre"}

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        15 increasing nodes and their weights (summing to 2).
    """
    if rule == "gauss-kronrod":
        x = np.concatenate([-_GK15_X[:-1], _GK15_X[::-1]])
        w = np.concatenate([_GK15_W[:-1], _GK15_W[::-1]])
        order = np.argsort(x)
        return x[order], w[order]
    if rule == "gauss-legendre":
        return np.polynomial.legendre.leggauss(15)
    raise ValueError(f"unknown time rule {rule!r}; choose one of {TIME_RULES}")


@dataclass(frozen=True)
class TimeGrid:
    """Quadrature points over ``[0, T_i]`` for every patient.

    Attributes
    ----------
    s : ndarray, shape (n, L)
        Time points ``T_i (x_l + 1) / 2``.
    log_s : ndarray, shape (n, L)
    log_w : ndarray, shape (n, L)
        Log weights ``log(T_i w_l / 2)``.
    """

    s: np.ndarray
    log_s: np.ndarray
    log_w: np.ndarray


def time_grid(upper: np.ndarray, rule: str = "gauss-kronrod") -> TimeGrid:
    """15-point quadrature on ``[0, upper_i]`` for each ``upper_i > 0``.

    Parameters
    ----------
    upper : array, shape (n,)
        Upper limits (event or censoring times), all positive.
    rule : {"gauss-kronrod", "gauss-legendre"}

    Returns
    -------
    TimeGrid
    """
    upper = np.asarray(upper, dtype=float)
    if np.any(~(upper > 0)):
        raise ValueError("every upper limit of the time integral must be positive")
    x, w = time_rule(rule)
    half = upper[:, None] / 2
    s = half * (x[None, :] + 1)
    return TimeGrid(s=s, log_s=np.log(s), log_w=np.log(half * w[None, :]))


@dataclass(frozen=True)
class RandomEffectNodes:
    """Gauss-Hermite nodes for a patient's intercept and slope, centred and scaled per patient.

    Attributes
    ----------
    level : ndarray, shape (n, q, q)
        Intercept nodes, indexed ``[patient, slope node, intercept node]``.
    slope : ndarray, shape (n, q, 1)
        Slope nodes (one per slope index: see the module notes).
    log_weight : ndarray, shape (n, q, q)
        ``log(w_j w_k) + z_j^2 + z_k^2 + log(2 |det B_i|)``: summing ``exp(log_weight + log g)``
        over the nodes approximates ``integral g(b) db``.
    n_nodes : int
        Nodes per random effect ``q``.
    centring : {"subject", "random-effects"}
        What the nodes are values of: the patient's own line ``(a_i + b0_i, c_i + b1_i)``
        (``"subject"``) or the random effects ``(b0_i, b1_i)`` (``"random-effects"``, JM's rule);
        see :mod:`.likelihood`.
    """

    level: np.ndarray
    slope: np.ndarray
    log_weight: np.ndarray
    n_nodes: int
    centring: str = "random-effects"


def upper_sqrt_2x2(cov: np.ndarray) -> np.ndarray:
    """Upper-triangular ``B`` with ``B B' = cov`` for a stack of 2 x 2 positive-definite matrices.

    Parameters
    ----------
    cov : array, shape (n, 2, 2)

    Returns
    -------
    numpy.ndarray, shape (n, 2, 2)
    """
    cov = np.asarray(cov, dtype=float)
    b11 = np.sqrt(cov[:, 1, 1])
    b01 = cov[:, 0, 1] / b11
    b00 = np.sqrt(cov[:, 0, 0] - b01**2)
    out = np.zeros_like(cov)
    out[:, 0, 0], out[:, 0, 1], out[:, 1, 1] = b00, b01, b11
    return out


def random_effect_nodes(
    centre: np.ndarray, cov: np.ndarray, n_nodes: int, centring: str = "random-effects"
) -> RandomEffectNodes:
    """Product Gauss-Hermite rule with ``n_nodes`` per random effect, centred and scaled per patient.

    Parameters
    ----------
    centre : array, shape (n, 2)
        ``bhat_i``: where the integrand of patient ``i`` is expected to peak.
    cov : array, shape (n, 2, 2)
        ``Sigma_i``: its expected spread (positive definite).
    n_nodes : int
        Nodes per random effect (1 gives the Laplace-type point evaluation at ``bhat_i``).
    centring : {"random-effects", "subject"}
        Recorded in the result: whether ``centre`` is a value of the random effects or of the
        patient's own intercept and slope.

    Returns
    -------
    RandomEffectNodes
    """
    if n_nodes < 1:
        raise ValueError("n_nodes must be at least 1")
    centre = np.asarray(centre, dtype=float)
    z, w = np.polynomial.hermite.hermgauss(n_nodes)
    B = upper_sqrt_2x2(cov)
    if not np.all(np.isfinite(B)) or np.any(B[:, 0, 0] <= 0) or np.any(B[:, 1, 1] <= 0):
        raise ValueError("the scaling matrices of the random-effect quadrature must be positive definite")
    root2 = np.sqrt(2.0)
    # b0[i, j, k] = bhat0 + sqrt2 (B00 z_k + B01 z_j);  b1[i, j] = bhat1 + sqrt2 B11 z_j
    b0 = (
        centre[:, 0, None, None]
        + root2 * B[:, 0, 0, None, None] * z[None, None, :]
        + root2 * B[:, 0, 1, None, None] * z[None, :, None]
    )
    b1 = centre[:, 1, None, None] + root2 * B[:, 1, 1, None, None] * z[None, :, None]
    log_w1 = np.log(w) + z**2
    log_det = np.log(2.0) + np.log(B[:, 0, 0]) + np.log(B[:, 1, 1])
    log_weight = log_det[:, None, None] + log_w1[None, :, None] + log_w1[None, None, :]
    if centring not in CENTRINGS:
        raise ValueError(f"centring must be one of {CENTRINGS}")
    return RandomEffectNodes(level=b0, slope=b1, log_weight=log_weight, n_nodes=int(n_nodes), centring=centring)
