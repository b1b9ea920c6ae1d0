"""The censored (Tobit) longitudinal submodel and the slope association of the joint model (issue 24).

* **Censored likelihood against brute force**: the measurement part (closed-form normal terms of
  the uncensored visits plus ``log Phi`` of the censored ones, computed only for them) equals a
  per-visit computation with ``scipy.stats.norm`` for every patient of the paper-scale synthetic
  data, at random parameters, at every node, for both centrings; each patient's marginal likelihood
  equals ``dblquad`` over the random effects of an integrand written here from the raw visits;
  autograd's gradient and Hessian equal finite differences; ``log_ndtr`` and its first two
  derivatives are accurate far in both tails.
* **Nesting**: with bounds no visit reaches, the censored model is the normal model.
* **Planted truth** at 20 times the paper's size on the observed (rounded, clipped) scores: the
  censored model recovers every parameter within 3 SE where the normal model misses the
  association (slow).
* **Association structures**: slope and both recover a planted slope association on data
  simulated here; value, slope and both fit and converge on the PBC data; dynamic predictions
  with the censored submodel and both associations equal brute force.
"""

from __future__ import annotations

import autograd
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, special, stats
from test_joint_model import PBC_MODEL, pbc_frames  # tests/ is on the path

from alsmeds.models.joint import JointModel, dynamic_survival, fit_mixed
from alsmeds.models.joint.data import censor_visits
from alsmeds.models.joint.likelihood import (
    Layout,
    joint_loglik,
    joint_loglik_terms,
    lines_at_nodes,
    log_ndtr,
    make_baseline,
    measurement_terms,
    prior_terms,
    random_effect_posterior,
    survival_terms,
)
from alsmeds.models.joint.prognosis import ALSFRS_BOUNDS, AlsJointModel
from alsmeds.models.joint.quadrature import random_effect_nodes
from alsmeds.models.joint.synthetic import PLANTED_MODEL, synthetic_joint_frames
from alsmeds.simulate import generate

CENSORED = {"outcome": "censored", "bounds": ALSFRS_BOUNDS}


@pytest.fixture(scope="module")
def paper():
    """Paper-scale synthetic ALS frames (observed scores: rounded, clipped to 0-48)."""
    return synthetic_joint_frames(generate(seed=11, scale=1, truth_scale=0))


@pytest.fixture(scope="module")
def pbc():
    return pbc_frames()


def _check_optimum(result):
    assert result.converged, result.message
    assert result.min_hessian_eigenvalue > 0
    assert result.newton_decrement / 2 <= 1e-12 * abs(result.llf)
    assert result.relative_gradient < 1e-8
    assert np.all(np.isfinite(result.bse))


def _random_theta(layout: Layout, data, rng: np.random.Generator) -> np.ndarray:
    """The mixed model's estimate, random survival parameters and noise: a point away from any optimum."""
    mixed = fit_mixed(data)
    base = layout.baseline.start(data.T, data.delta)
    assoc = {"value": [-0.05], "slope": [-0.8], "both": [-0.05, -0.8]}[layout.association]
    theta = np.concatenate([mixed.theta, 0.1 * rng.standard_normal(layout.pw), assoc, base])
    return theta + 0.02 * rng.standard_normal(theta.size) * np.maximum(1.0, np.abs(theta))


def _nodes(data, mixed, layout, q, centring):
    p0 = layout.p0
    line = np.column_stack([data.X0 @ mixed.theta[:p0], data.X1 @ mixed.theta[p0 : p0 + layout.p1]])
    centre = mixed.eb_mean + (line if centring == "subject" else 0)
    return random_effect_nodes(centre, mixed.eb_cov, q, centring=centring)


# --------------------------------------------------------------------------- log Phi


def test_log_ndtr_tails_and_derivatives():
    """Value and first two derivatives of ``log Phi`` from -1e4 to +38, against independent forms.

    Value: ``log Phi(x) = log(erfcx(-x / sqrt2) / 2) - x^2 / 2`` (left; no underflow) and
    ``log1p(-Phi(-x))`` (right).  First derivative: the Mills-ratio series
    ``1 / lambda(-z) = (1 - 1/z^2 + 3/z^4 - 15/z^6 + 105/z^8 - 945/z^10) / z`` for ``z >= 100``, and
    ``phi(x) / Phi(x)`` from ``scipy.stats.norm`` where both are representable.  Second derivative:
    ``-lambda (x + lambda)`` from the same in ``(-30, 30)``, central differences of the first beyond -30.
    """
    x = np.array([-1e4, -1e3, -100.0, -38.5, -20.0, -7.0, -1.0, 0.0, 0.5, 3.0, 7.0, 20.0, 38.0])
    with np.errstate(divide="ignore"):
        ref = np.where(x < 0, np.log(special.erfcx(-x / np.sqrt(2)) / 2) - x**2 / 2, np.log1p(-special.ndtr(-x)))
    np.testing.assert_allclose(log_ndtr(x), ref, rtol=1e-14, atol=0)
    d1 = autograd.elementwise_grad(log_ndtr)(x)
    d2 = autograd.elementwise_grad(autograd.elementwise_grad(log_ndtr))(x)
    assert np.all(np.isfinite(d1)) and np.all(np.isfinite(d2)) and np.all(d1 > 0) and np.all(d2 < 0)
    far = x <= -100
    z = -x[far]
    series = z / (1 - 1 / z**2 + 3 / z**4 - 15 / z**6 + 105 / z**8 - 945 / z**10)
    np.testing.assert_allclose(d1[far], series, rtol=1e-14)
    near = (x > -30) & (x < 30)
    direct = stats.norm.pdf(x[near]) / stats.norm.cdf(x[near])
    np.testing.assert_allclose(d1[near], direct, rtol=1e-13)
    assert 0 < d1[-1] < 1e-300  # phi(38), not 0
    np.testing.assert_allclose(d2[near], -direct * (x[near] + direct), rtol=1e-9)
    left = x <= -30  # there -lambda (x + lambda) cancels in any form: central differences of the first derivative
    step = 1e-3 * np.abs(x[left])
    grad = autograd.elementwise_grad(log_ndtr)
    fd = (grad(x[left] + step) - grad(x[left] - step)) / (2 * step)
    np.testing.assert_allclose(d2[left], fd, rtol=1e-6)  # ours loses about x^2 units of rounding
    # and equal to scipy.stats.norm.logcdf wherever that is accurate
    mid = np.linspace(-30, 8, 77)
    np.testing.assert_allclose(log_ndtr(mid), stats.norm.logcdf(mid), rtol=1e-13)


# --------------------------------------------------------------------------- likelihood against brute force


def brute_force_measurement(long: pd.DataFrame, data, log_sigma: float, A, C, bounds) -> np.ndarray:
    """Per-visit ``norm.logpdf`` / ``norm.logcdf`` / ``norm.logsf`` at every node, summed into patients."""
    spec = PLANTED_MODEL
    codes = pd.Index(data.ids).get_indexer(long[spec["id"]])
    t = long[spec["time"]].to_numpy(dtype=float)[:, None, None]
    y = long[spec["y"]].to_numpy(dtype=float)[:, None, None]
    A = np.broadcast_to(A, np.broadcast_shapes(np.shape(A), np.shape(C)))
    m = A[codes] + np.asarray(C)[codes] * t
    sigma = np.exp(log_sigma)
    lower, upper = bounds
    per_visit = np.where(
        y <= lower,
        stats.norm.logcdf(lower, loc=m, scale=sigma),
        np.where(y >= upper, stats.norm.logsf(upper, loc=m, scale=sigma), stats.norm.logpdf(y, loc=m, scale=sigma)),
    )
    out = np.zeros((data.n_groups, *per_visit.shape[1:]))
    np.add.at(out, codes, per_visit)
    return out


@pytest.mark.parametrize("centring", ["subject", "random-effects"])
def test_censored_likelihood_matches_per_visit_brute_force(paper, centring):
    """Every patient, every node, random parameters: the measurement part and the joint log-likelihood.

    The per-patient joint log-likelihood is then the log-sum-exp of the brute-force measurement part,
    the prior and the survival part (both of which the normal model's tests check) over the nodes.
    """
    long, surv = paper
    model = JointModel(**PLANTED_MODEL, **CENSORED, centring=centring)
    data = model.prepare(long, surv)
    cens = data.censored
    assert cens.n_left == int((long["score"] <= 0).sum()) > 100
    assert cens.n_right == int((long["score"] >= 48).sum()) > 500
    assert cens.n_left + cens.n_right + cens.uncensored.n_visits.sum() == len(long)
    baseline = make_baseline("weibull", data)
    arrays = baseline.prepare(data.T)
    rng = np.random.default_rng(24)
    mixed = fit_mixed(data)
    for association in ("value", "both"):
        layout = Layout(spec=model.spec, baseline=baseline, association=association)
        theta = _random_theta(layout, data, rng)
        p = layout.split(theta)
        nodes = _nodes(data, mixed, layout, 3, centring)
        A, C, b0, b1 = lines_at_nodes(p, data, nodes)
        ours = np.asarray(measurement_terms(p["log_sigma"], data, A, C))
        brute = brute_force_measurement(long, data, p["log_sigma"], A, C, ALSFRS_BOUNDS)
        np.testing.assert_allclose(ours, brute, rtol=1e-11, atol=1e-9)
        rest = prior_terms(p["l00"], p["l10"], p["l11"], b0, b1) + survival_terms(
            p["gamma"],
            p["alpha"],
            p["baseline"],
            baseline,
            arrays,
            data.W,
            data.delta,
            data.T,
            A,
            C,
            alpha_slope=p["alpha_slope"],
        )
        total = (brute + rest + nodes.log_weight).reshape(data.n_groups, -1)
        expected = special.logsumexp(total, axis=1)
        got = np.asarray(joint_loglik_terms(theta, layout, data, nodes, arrays))
        np.testing.assert_allclose(got, expected, rtol=1e-11, atol=1e-8)


def brute_force_log_integrand(par: pd.Series, association, t, y, x0, x1, w, T, delta, bounds):
    """``log[p(y | b) h(T | b)^delta exp(-H(T | b)) N(b; 0, D)]`` of one patient from the raw visits.

    Visits at or beyond a bound by ``log Phi`` (``scipy.special.log_ndtr``, what ``scipy.stats.norm.logcdf``
    calls, without its per-call overhead), the others by the normal log density; ``H`` by 40-point
    Gauss-Jacobi quadrature with the weight ``s^(shape - 1)`` on ``[0, T]``.
    """
    spec = PLANTED_MODEL
    beta0 = np.array([par["long:Intercept"], *[par[f"long:{c}"] for c in spec["level"]]])
    beta1 = np.array([par["long:months"], *[par[f"long:{c}:months"] for c in spec["slope"]]])
    gamma = np.array([par[f"surv:{c}"] for c in spec["surv"]])
    a, c = float(x0 @ beta0), float(x1 @ beta1)
    sigma = np.exp(par["log_sigma"])
    L = np.array([[np.exp(par["log_chol_D11"]), 0.0], [par["chol_D21"], np.exp(par["log_chol_D22"])]])
    D = L @ L.T
    Dinv, log_det_D = np.linalg.inv(D), np.log(np.linalg.det(D))
    scale, shape = np.exp(par["baseline:log_scale"]), np.exp(par["baseline:log_shape"])
    alpha = par["alpha"] if association in ("value", "both") else 0.0
    alpha_s = par["alpha_slope"] if association in ("slope", "both") else 0.0
    eta = float(w @ gamma)
    xj, wj = special.roots_jacobi(40, 0.0, shape - 1.0)
    s_nodes = T * (1 + xj) / 2
    jacobi = scale * shape * (T / 2) ** shape * wj
    left, right = y <= bounds[0], y >= bounds[1]
    normal = ~(left | right)

    def f(b0, b1):
        A, C = a + b0, c + b1
        mu = A + C * t
        long = (
            np.sum(special.log_ndtr((bounds[0] - mu[left]) / sigma))
            + np.sum(special.log_ndtr((mu[right] - bounds[1]) / sigma))
            + np.sum(-0.5 * np.log(2 * np.pi * sigma**2) - (y[normal] - mu[normal]) ** 2 / (2 * sigma**2))
        )
        b = np.array([b0, b1])
        prior = -np.log(2 * np.pi) - 0.5 * log_det_D - 0.5 * b @ Dinv @ b
        H = np.sum(jacobi * np.exp(eta + alpha * (A + C * s_nodes) + alpha_s * C))
        log_h = np.log(scale * shape) + (shape - 1) * np.log(T) + eta + alpha * (A + C * T) + alpha_s * C
        return long + prior + delta * log_h - H

    return f


def brute_force_loglik(f) -> float:
    """``log int int exp(f(b0, b1)) db1 db0`` by ``dblquad`` on a box of +-10 SD around the mode."""
    res = optimize.minimize(
        lambda b: -f(*b), np.zeros(2), method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-13}
    )
    mode, peak = res.x, -res.fun
    h = 1e-4
    H = np.empty((2, 2))
    for i in range(2):
        for j in range(2):
            ei, ej = np.eye(2)[i] * h, np.eye(2)[j] * h
            H[i, j] = (f(*(mode + ei + ej)) - f(*(mode + ei - ej)) - f(*(mode - ei + ej)) + f(*(mode - ei - ej))) / (
                4 * h * h
            )
    sd = np.sqrt(np.diag(np.linalg.inv(-H)))
    lo, hi = mode - 10 * sd, mode + 10 * sd
    value, _ = integrate.dblquad(
        lambda b1, b0: np.exp(f(b0, b1) - peak), lo[0], hi[0], lo[1], hi[1], epsabs=0, epsrel=1e-10
    )
    return float(np.log(value) + peak)


def _picked_patients(long, data) -> list[int]:
    """A patient with visits at 48 only, one with 48s and others, one at 0 after an event, one without bounds."""
    y = long.groupby("person_id")["score"]
    at48, at0, n = y.apply(lambda s: (s >= 48).sum()), y.apply(lambda s: (s <= 0).sum()), y.size()
    ids = list(data.ids)
    events = pd.Series(data.delta, index=ids)
    only48 = at48[(at48 == n) & (n >= 2)].index[0]
    some48 = at48[(at48 >= 2) & (at48 < n - 2)].index[0]
    zero = at0[(at0 >= 1) & (events.reindex(at0.index) == 1)].index[0]
    none = n[(at48 == 0) & (at0 == 0) & (n >= 5)].index[0]
    return [ids.index(p) for p in (only48, some48, zero, none)]


@pytest.mark.parametrize("association", ["value", "slope", "both"])
def test_censored_marginal_likelihood_matches_dblquad(paper, association):
    """Each patient's log-likelihood, 81 x 81 nodes on the posterior, equals dblquad over b to 1e-6 (both centrings).

    The patient whose every visit is at 48 has a posterior shaped by the step ``Phi((A + C t - 48) / sigma)``,
    far from Gaussian: 21 x 21 Gauss-Hermite nodes are 4e-4 off for them, 41 x 41 5e-6, 81 x 81 1e-8.
    """
    long, surv = paper
    model = JointModel(**PLANTED_MODEL, **CENSORED, association=association)
    data = model.prepare(long, surv)
    pick = _picked_patients(long, data)
    sub = data.subset(np.array(pick))
    baseline = make_baseline("weibull", sub)
    layout = Layout(spec=model.spec, baseline=baseline, association=association)
    arrays = baseline.prepare(sub.T)
    theta = _random_theta(layout, data, np.random.default_rng(5))
    par = pd.Series(theta, index=layout.names)
    brute = []
    for i in pick:
        rows = long[long["person_id"] == data.ids[i]]
        f = brute_force_log_integrand(
            par,
            association,
            rows["months"].to_numpy(),
            rows["score"].to_numpy(dtype=float),
            data.X0[i],
            data.X1[i],
            data.W[i],
            data.T[i],
            data.delta[i],
            ALSFRS_BOUNDS,
        )
        brute.append(brute_force_loglik(f))
    mode, cov, _ = random_effect_posterior(theta, layout, sub, arrays, np.zeros((len(pick), 2)))
    p = layout.split(theta)
    fixed = np.column_stack([sub.X0 @ p["beta0"], sub.X1 @ p["beta1"]])
    for centring in ("subject", "random-effects"):
        centre = mode + (fixed if centring == "subject" else 0)
        nodes = random_effect_nodes(centre, cov, 81, centring=centring)
        ours = np.asarray(joint_loglik_terms(theta, layout, sub, nodes, arrays))
        np.testing.assert_allclose(ours, brute, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("centring", "association"), [("subject", "both"), ("random-effects", "value"), ("random-effects", "slope")]
)
def test_censored_gradient_and_hessian_match_finite_differences(paper, centring, association):
    """autograd's gradient and Hessian of the censored likelihood against central differences (relative 1e-5)."""
    long, surv = paper
    model = JointModel(**PLANTED_MODEL, **CENSORED, centring=centring, association=association)
    full = model.prepare(long, surv)
    counts = np.bincount(full.censored.patient, minlength=full.n_groups)
    rows = np.concatenate([np.flatnonzero(counts > 0)[:80], np.flatnonzero(counts == 0)[:40]])
    data = full.subset(rows)
    assert data.censored.size > 80
    baseline = make_baseline("weibull", data)
    layout = Layout(spec=model.spec, baseline=baseline, association=association)
    arrays = baseline.prepare(data.T)
    mixed = fit_mixed(data)
    nodes = _nodes(data, mixed, layout, 3, centring)
    theta = _random_theta(layout, data, np.random.default_rng(9))

    def f(th):
        return joint_loglik(th, layout, data, nodes, arrays)

    g = autograd.grad(f)(theta)
    H = autograd.hessian(f)(theta)
    fd_g = np.empty_like(theta)
    fd_H = np.empty((theta.size, theta.size))
    grad = autograd.grad(f)
    for j in range(theta.size):
        h = 1e-5 * max(1.0, abs(theta[j]))
        e = np.zeros_like(theta)
        e[j] = h
        fd_g[j] = (f(theta + e) - f(theta - e)) / (2 * h)
        fd_H[:, j] = (grad(theta + e) - grad(theta - e)) / (2 * h)
    assert np.max(np.abs(g - fd_g)) / max(1.0, np.max(np.abs(g))) < 1e-5
    assert np.max(np.abs(H - fd_H)) / np.max(np.abs(H)) < 1e-5
    assert np.allclose(H, H.T, rtol=0, atol=1e-8 * np.max(np.abs(H)))


def test_censored_visits_split_and_subset():
    """censor_visits: which visits, at which bound, grouped by patient; the sums of the others; subset remaps."""
    codes = np.array([0, 1, 0, 2, 1, 0, 2])
    t = np.arange(7.0)
    y = np.array([48.0, 3.0, 0.0, 20.0, 49.0, 47.0, -1.0])
    c = censor_visits(codes, 3, t, y, (0.0, 48.0))
    np.testing.assert_array_equal(c.patient, [0, 0, 1, 2])
    np.testing.assert_array_equal(c.t, [0.0, 2.0, 4.0, 6.0])
    np.testing.assert_array_equal(c.bound, [48.0, 0.0, 48.0, 0.0])
    np.testing.assert_array_equal(c.sign, [-1.0, 1.0, -1.0, 1.0])
    assert (c.n_left, c.n_right) == (2, 2)
    np.testing.assert_array_equal(c.uncensored.n_visits, [1, 1, 1])
    np.testing.assert_array_equal(c.uncensored.ybar, [47.0, 3.0, 20.0])
    np.testing.assert_array_equal(c.indicator.toarray(), [[1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    s = c.subset(np.array([2, 0]))
    np.testing.assert_array_equal(s.patient, [0, 1, 1])
    np.testing.assert_array_equal(s.bound, [0.0, 48.0, 0.0])
    np.testing.assert_array_equal(s.uncensored.ybar, [20.0, 47.0])
    one_sided = censor_visits(codes, 3, t, y, (None, 48.0))
    assert (one_sided.n_left, one_sided.n_right) == (0, 2) and one_sided.lower == -np.inf
    with pytest.raises(ValueError, match="below"):
        censor_visits(codes, 3, t, y, (48.0, 0.0))


# --------------------------------------------------------------------------- nesting and options


def test_bounds_nobody_reaches_give_the_normal_fit(pbc):
    """PBC log bilirubin lies within (-2.4, 3.8): censoring at -20 and 20 (or at 20 only) is the normal model."""
    long, surv = pbc
    assert long["log_bili"].between(-2.4, 3.8).all()
    normal = JointModel(**PBC_MODEL).fit(long, surv)
    for bounds in ((-20.0, 20.0), (None, 20.0)):
        censored = JointModel(**PBC_MODEL, outcome="censored", bounds=bounds).fit(long, surv)
        _check_optimum(censored)
        assert censored.censoring["n_left"] == 0 and censored.censoring["n_right"] == 0
        assert censored.llf == pytest.approx(normal.llf, rel=1e-13)
        np.testing.assert_allclose(censored.params, normal.params, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(censored.bse, normal.bse, rtol=1e-7)
        assert "censored (Tobit)" in censored.summary() and "censored (Tobit)" not in normal.summary()


def test_options_are_checked():
    with pytest.raises(ValueError, match="needs bounds"):
        JointModel(**PBC_MODEL, outcome="censored")
    with pytest.raises(ValueError, match="outcome"):
        JointModel(**PBC_MODEL, outcome="tobit")
    with pytest.raises(ValueError, match="association"):
        JointModel(**PBC_MODEL, association="area")
    with pytest.raises(ValueError, match="increasing"):
        JointModel(**PBC_MODEL, outcome="censored", bounds=(48.0, 0.0))
    with pytest.raises(ValueError, match="association"):
        AlsJointModel(association="area")


def test_censored_quadrature_nodes(paper):
    """Paper-scale censored fit: the quadrature error at 3 and 5 nodes per random effect, against 9.

    A patient with visits at a bound has a posterior shaped by ``Phi`` steps, far from Gaussian, so
    Gauss-Hermite converges more slowly than for the normal model (where 3 nodes agree with 7 within
    0.001 SE).  On this sample (172 of 1,057 patients with a visit at 0 or 48, 11 with every visit
    there), against 21 nodes: 3 nodes move the estimates by at most 0.11 SE (the intercept SD) and the
    log-likelihood by 1.8, 5 nodes by 0.06 SE and 0.8, 7 by 0.04 SE and 0.4 (a second adaptive round
    changes none of this).  The bounds below hold those sizes with room.
    """
    long, surv = paper
    fits = {q: JointModel(**PLANTED_MODEL, **CENSORED, n_nodes=q).fit(long, surv) for q in (3, 5, 9)}
    se = fits[9].bse
    shift = {q: np.max(np.abs(fits[q].params - fits[9].params) / se) for q in (3, 5)}
    for q in (3, 5, 9):
        _check_optimum(fits[q])
    assert shift[3] < 0.2 and shift[5] < 0.08, shift
    assert np.max(np.abs(fits[5].bse / se - 1)) < 0.01
    assert 0 < fits[9].llf - fits[5].llf < fits[9].llf - fits[3].llf < 3


# --------------------------------------------------------------------------- association structures


SLOPE_MODEL = {
    "id": "id",
    "time": "months",
    "y": "y",
    "level": ["w"],
    "slope": ["w"],
    "surv_time": "time",
    "event": "event",
    "surv": ["w"],
}


def simulate_association(n: int, seed: int, association: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """A small joint-model simulator with a planted value and/or slope association (exact event times).

    ``m_i(t) = 36 + 0.5 w + (-0.9 - 0.3 w) t + b0 + b1 t`` with ``SD(b0) = 6``, ``SD(b1) = 0.5``,
    correlation 0.3, ``sigma = 2``, visits every 3 months from 0; hazard
    ``exp(log_scale + 0.4 w + alpha m_i(t) + alpha_slope m_i'(t))`` per month (``alpha = -0.06``,
    ``alpha_slope = -1.0`` when present; a constant baseline, i.e. Weibull shape 1).  With the slope
    alone the hazard is constant per patient (exponential times); with the value the log hazard is
    linear in ``t`` and the cumulative hazard inverts in closed form (Gompertz).  Censoring uniform on
    24-60 months.  Returns the frames and the planted values under :class:`JointModel`'s names.
    """
    rng = np.random.default_rng(seed)
    alpha = -0.06 if association in ("value", "both") else 0.0
    alpha_s = -1.0 if association in ("slope", "both") else 0.0
    sd0, sd1, rho, sigma, gamma = 6.0, 0.5, 0.3, 2.0, 0.4
    # a typical patient (m = 36, m' = -0.9) has a hazard of 0.03 per month at diagnosis
    log_scale = np.log(0.03) - alpha * 36.0 - alpha_s * (-0.9)
    w = rng.binomial(1, 0.5, n).astype(float)
    z0, z1 = rng.standard_normal((2, n))
    A = 36.0 + 0.5 * w + sd0 * z0
    C = -0.9 - 0.3 * w + sd1 * (rho * z0 + np.sqrt(1 - rho**2) * z1)
    c = log_scale + gamma * w + alpha * A + alpha_s * C  # log hazard at t = 0
    k = alpha * C  # its change per month
    e = rng.exponential(size=n) * np.exp(-c)
    with np.errstate(invalid="ignore", divide="ignore"):
        inner = 1 + k * e
        gompertz = np.where(inner > 0, np.log(np.where(inner > 0, inner, 1.0)) / np.where(k == 0, 1.0, k), np.inf)
    T_event = np.where(k == 0, e, gompertz)
    censor = rng.uniform(24, 60, n)
    time_ = np.minimum(T_event, censor)
    event = (T_event <= censor).astype(float)
    rows = []
    for i in range(n):
        visits = np.arange(0.0, time_[i], 3.0)
        y = A[i] + C[i] * visits + sigma * rng.standard_normal(visits.size)
        rows.append(pd.DataFrame({"id": i, "months": visits, "y": y, "w": w[i]}))
    long = pd.concat(rows, ignore_index=True)
    surv = pd.DataFrame({"id": np.arange(n), "time": time_, "event": event, "w": w})
    L10, L11 = rho * sd1, sd1 * np.sqrt(1 - rho**2)
    truth = {
        "long:Intercept": 36.0,
        "long:w": 0.5,
        "long:months": -0.9,
        "long:w:months": -0.3,
        "log_sigma": np.log(sigma),
        "log_chol_D11": np.log(sd0),
        "chol_D21": L10,
        "log_chol_D22": np.log(L11),
        "surv:w": gamma,
        "baseline:log_scale": log_scale,
        "baseline:log_shape": 0.0,
    }
    if alpha:
        truth["alpha"] = alpha
    if alpha_s:
        truth["alpha_slope"] = alpha_s
    return long, surv, pd.Series(truth)


@pytest.mark.parametrize("association", ["slope", "both"])
def test_slope_association_recovered(association):
    """Data with a planted slope (or value and slope) association: every parameter within 3 SE.

    The value-only model fitted to the same data is worse by a likelihood-ratio statistic far above
    any chi-square quantile (the current value does not stand in for the slope).
    """
    long, surv, truth = simulate_association(2500, seed={"slope": 3, "both": 4}[association], association=association)
    result = JointModel(**SLOPE_MODEL, association=association).fit(long, surv)
    _check_optimum(result)
    assert set(result.params.index) == set(truth.index)
    z = (result.params - truth.reindex(result.params.index)) / result.bse
    assert (z.abs() < 3).all(), z
    assert result.to_frame().set_index("term").loc["alpha_slope", "component"] == "association"
    value_only = JointModel(**SLOPE_MODEL, association="value").fit(long, surv)
    assert 2 * (result.llf - value_only.llf) > 30


def test_pbc_value_slope_both_converge(pbc):
    """PBC (JM's pbc2): the three association structures fit, converge, and nest (both >= value, slope)."""
    fits = {a: JointModel(**PBC_MODEL, association=a).fit(*pbc) for a in ("value", "slope", "both")}
    for a, fit in fits.items():
        _check_optimum(fit)
        assert fit.max_abs_gradient < 1e-6, a
        assert fit.min_hessian_eigenvalue > 0
    assert "alpha" not in fits["slope"].params and "alpha_slope" in fits["slope"].params
    assert list(fits["both"].params.index[9:11]) == ["alpha", "alpha_slope"]
    assert fits["both"].llf >= max(fits["value"].llf, fits["slope"].llf) - 1e-6
    assert fits["slope"].df_model == fits["value"].df_model == fits["both"].df_model - 1
    frame = fits["both"].to_frame().set_index("term")
    assert frame.loc["alpha_slope", "hazard_ratio"] == pytest.approx(np.exp(frame.loc["alpha_slope", "estimate"]))
    assert "current value and slope" in fits["both"].summary()
    assert "current slope" in fits["slope"].summary()


@pytest.fixture(scope="module")
def paper_censored_both(paper):
    return JointModel(**PLANTED_MODEL, **CENSORED, association="both").fit(*paper)


def test_dynamic_survival_censored_both_matches_brute_force(paper, paper_censored_both):
    """P(T > u | T > s, y(s)) with censored visits in y(s) and both associations: the ratio of two dblquads."""
    long, _ = paper
    fit = paper_censored_both
    _check_optimum(fit)
    counts = long.groupby("person_id")["score"].agg(at48=lambda s: (s >= 48).sum(), n="size")
    pid = counts[(counts["at48"] >= 2) & (counts["n"] >= counts["at48"] + 3)].index[0]
    rows = long[long["person_id"] == pid]
    s = float(rows["months"].iloc[counts.loc[pid, "at48"] + 1]) + 0.5  # two visits at 48 and two below
    times = np.array([s, s + 3.0, s + 9.0])
    ours = dynamic_survival(fit, rows, s, times, n_nodes=41)
    assert ours["survival"].iloc[0] == pytest.approx(1.0, abs=1e-12)
    par = fit.params
    visible = rows[rows["months"] <= s]
    assert (visible["score"] >= 48).sum() >= 2 and (visible["score"] < 48).sum() >= 1
    x0 = np.array([1.0, *rows[PLANTED_MODEL["level"]].iloc[0]])
    x1 = np.array([1.0, *rows[PLANTED_MODEL["slope"]].iloc[0]])
    w = rows[PLANTED_MODEL["surv"]].iloc[0].to_numpy(dtype=float)
    logs = []
    for u in (s, s + 9.0):
        f = brute_force_log_integrand(
            par,
            "both",
            visible["months"].to_numpy(),
            visible["score"].to_numpy(dtype=float),
            x0,
            x1,
            w,
            u,
            0,
            ALSFRS_BOUNDS,
        )
        logs.append(brute_force_loglik(f))
    assert ours.set_index("time").loc[s + 9.0, "survival"] == pytest.approx(np.exp(logs[1] - logs[0]), abs=1e-6)


def test_als_joint_model_options(study_frames):
    """AlsJointModel passes outcome, bounds and association through; names, parameter counts, rows and units."""
    model = AlsJointModel(outcome="censored", association="both")
    assert model.name == "joint_model_censored_both"
    assert AlsJointModel().name == "joint_model" and AlsJointModel(association="slope").name == "joint_model_slope"
    general = model.joint_model()
    assert general.outcome == "censored" and general.bounds == (0.5, 47.5) and general.association == "both"
    assert AlsJointModel().joint_model().bounds is None
    result = model.fit(study_frames)
    assert result.fit.df_model == model.n_params()
    assert result.fit.censoring["n_right"] == int((study_frames.long["score"] >= 48).sum())
    rows = result.to_frame()
    association = rows[rows["component"] == "association"].set_index("term")
    assert list(association.index) == ["alpha", "alpha_slope"]
    assert association.loc["alpha_slope", "unit"] == "log hazard ratio per point/month"
    assert (rows["model"] == "joint_model_censored_both").all()
    a = result.association()
    assert a["alpha_slope"] == pytest.approx(result.params["alpha_slope"])
    assert a["hr_per_point_per_month_faster"] == pytest.approx(np.exp(-result.params["alpha_slope"]))
    slope_only = AlsJointModel(association="slope").fit(study_frames)
    assert "alpha" not in slope_only.association() and slope_only.fit.df_model == AlsJointModel().n_params()


@pytest.fixture(scope="module")
def study_frames():
    from alsmeds import Study

    return Study.synthetic().joint_data


@pytest.mark.slow
@pytest.mark.parametrize("structure", ["slope", "both"])
def test_generator_slope_association_recovered_on_observed_scores(structure):
    """The generator's planted slope association (``association_slope = -0.5``), observed scores, censored submodel.

    5 times the paper's cases (seed 43), scores rounded and clipped to 0-48.  With the slope alone
    (``association = 0``) nothing ties a low score to death, so patients live on at the floor: 21% of
    the visits are at 0 (4% at 48); with both, 3% and 7%.  The censored model with the planted
    structure puts every parameter within 3 SE of :func:`planted_values`, the residual SD against
    ``sqrt(2^2 + 1/12)`` (integer rounding adds about 1/12 to the error variance); the normal model
    misses by more than 10 SE with the slope alone (the residual SD by 200 SE, ``alpha_slope`` by 14) and
    more than 4 SE with both (the slope SD; ``alpha`` by 3.7).  Before the first
    nodes were centred on the censored model's posteriors, the slope-only fit had the residual SD 14 SE
    low (``fitting``).
    """
    import dataclasses

    from alsmeds.models.joint.synthetic import planted_values
    from alsmeds.simulate import SimulationParameters
    from alsmeds.simulate.prognosis import simulate_joint_recovery_data

    base = SimulationParameters()
    value = {"slope": 0.0, "both": base.prognosis.association}[structure]
    params = dataclasses.replace(
        base, prognosis=dataclasses.replace(base.prognosis, association=value, association_slope=-0.5)
    )
    data = simulate_joint_recovery_data(params, seed=43, scale=5)
    assert data.registry.truth["parameters"]["prognosis"]["association_structure"] == structure
    truth = planted_values(params)
    truth["log_sigma"] = np.log(np.sqrt(params.prognosis.residual_sd**2 + 1 / 12))
    fits = {
        outcome: JointModel(**PLANTED_MODEL, association=structure, **options).fit(data.long, data.surv)
        for outcome, options in (("censored", CENSORED), ("normal", {}))
    }
    z = {k: (f.params - truth.reindex(f.params.index)) / f.bse for k, f in fits.items()}
    _check_optimum(fits["censored"])
    assert z["censored"].notna().all() and (z["censored"].abs() < 3).all(), z["censored"][z["censored"].abs() >= 3]
    assert z["normal"].abs().max() > {"slope": 10, "both": 4}[structure]
