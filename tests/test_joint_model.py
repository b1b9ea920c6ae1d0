"""The joint longitudinal-survival model (:mod:`alsmeds.models.joint`).

* **Pieces against brute force**: the 15-point time rules against adaptive quadrature
  (``scipy.integrate.quad``); each patient's marginal likelihood against ``scipy.integrate.dblquad``
  over the random effects of an integrand written here from the raw visits; the linear mixed model
  alone against R ``nlme::lme`` (ML); the autograd gradient and Hessian against finite differences.
* **PBC anchor** (public data, ``tests/data/pbcseq.csv`` from R survival's ``pbcseq``, written by
  ``src/alsmeds/reference/R/pbc_data.R``): the model JM 1.5-2 fits in Rizopoulos' examples,
  ``lme(log(serBilir) ~ drug * year, random = ~ year | id)`` with
  ``jointModel(timeVar = "year", method = "weibull-PH-aGH")``.  JM stops slightly short of its optimum,
  so the test asks for a log-likelihood at least as high as JM's and estimates within 0.3 of JM's
  standard errors, not equality.
* **Planted truth** at 20 times the paper's sample: on latent scores (the generator's true
  trajectories plus fresh normal noise at the observed visits, with the observed event times: an
  exact draw from the planted joint model) every parameter within 3 SE of the truth; on the observed
  scores (rounded, clipped to 0-48) the direct log hazard ratios and the antidepressant slope
  difference within 3 SE, and the misspecification of the rest measured (see the test docstring).
  With the censored (Tobit) submodel at 0 and 48 the same observed scores give every parameter within
  3 SE but the residual SD (integer rounding; see the test docstring).  The censored submodel and
  the slope association are tested in ``tests/test_joint_censored.py``.
* **Quadrature**: estimates at 3, 5 and 7 nodes per random effect, on PBC and paper-scale synthetic
  data; JM's fixed-random-effect rule shown to fail at ALS scale (why the default differs).
* Results API, reported non-convergence, dynamic predictions against brute force.

The R-based checks use the ``needs_r`` fixture (``tests/conftest.py``, marker ``r``): skipped without R,
except under CI (``CI`` set), where a missing R fails.
"""

from __future__ import annotations

import time
from pathlib import Path

import autograd
import numpy as np
import pandas as pd
import pytest
from scipy import integrate, optimize, special

from alsmeds.constants import CLASSES
from alsmeds.models.base import Z_975
from alsmeds.models.joint import JOINT_RESULT_COLUMNS, JointModel, dynamic_survival, fit_mixed, joint_loglik
from alsmeds.models.joint.fitting import JM_SETTINGS, default_nodes
from alsmeds.models.joint.likelihood import Layout, PiecewiseBaseline, WeibullBaseline, joint_loglik_terms
from alsmeds.models.joint.prognosis import ALSFRS_BOUNDS
from alsmeds.models.joint.quadrature import random_effect_nodes, time_rule
from alsmeds.models.joint.synthetic import PLANTED_MODEL, planted_values, synthetic_joint_frames
from alsmeds.simulate import SimulationParameters, generate

PBC_CSV = Path(__file__).parent / "data" / "pbcseq.csv"
#: JM's pbc2: year = day / 365.24, years = futime / 365.24.
DAYS_PER_YEAR = 365.24
PBC_MODEL = {
    "id": "id",
    "time": "year",
    "y": "log_bili",
    "level": ["drug"],
    "slope": ["drug"],
    "surv_time": "years",
    "event": "death",
    "surv": ["drug"],
}
#: JM 1.5-2, weibull-PH-aGH (5 x 5 nodes: fewer than 2,000 rows): estimate and SE.
JM_ESTIMATES = {
    "long:Intercept": (0.5594, 0.0827),
    "long:drug": (-0.1334, 0.1162),
    "long:year": (0.1865, 0.0189),
    "long:drug:year": (-0.0038, 0.0255),
    "surv:drug": (0.0377, 0.1799),
    "alpha": (1.2396, 0.0931),
    "baseline:log_scale": (-4.4038, 0.2734),
    "baseline:log_shape": (0.0177, 0.0828),
}
JM_VARIANCE = {"sigma": 0.3471, "sd_intercept": 1.0003, "sd_slope": 0.1807, "corr_intercept_slope": 0.4244}
JM_LLF = -1918.529
#: JM prints the log-likelihood to 3 decimals.
JM_LLF_PRINTING = 0.005


# --------------------------------------------------------------------------- data


def pbc_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """JM's pbc2 from R survival's pbcseq: drug = 1 for D-penicillamine (trt 1), death = status 2."""
    raw = pd.read_csv(PBC_CSV)
    long = pd.DataFrame(
        {
            "id": raw["id"],
            "year": raw["day"] / DAYS_PER_YEAR,
            "log_bili": np.log(raw["bili"]),
            "drug": (raw["trt"] == 1).astype(float),
        }
    )
    first = raw.drop_duplicates("id", keep="first")
    surv = pd.DataFrame(
        {
            "id": first["id"].to_numpy(),
            "years": first["futime"].to_numpy() / DAYS_PER_YEAR,
            "death": (first["status"] == 2).astype(float).to_numpy(),
            "drug": (first["trt"] == 1).astype(float).to_numpy(),
        }
    )
    return long, surv


@pytest.fixture(scope="module")
def pbc():
    return pbc_frames()


@pytest.fixture(scope="module")
def pbc_fit(pbc):
    return JointModel(**PBC_MODEL).fit(*pbc)


@pytest.fixture(scope="module")
def pbc_fit_jm(pbc):
    """JM's own approximations (nodes on the random effects, no adaptive round, time rule in t), 5 nodes."""
    return JointModel(**PBC_MODEL, **JM_SETTINGS, n_nodes=5).fit(*pbc)


@pytest.fixture(scope="module")
def paper_frames():
    return synthetic_joint_frames(generate(seed=11, scale=1, truth_scale=0))


# --------------------------------------------------------------------------- brute force, written independently


def brute_force_log_integrand(par: pd.Series, t, y, x0, x1, w, T, delta):
    """``log[p(y | b) h(T | b)^delta exp(-H(T | b)) N(b; 0, D)]`` from the raw visits.

    ``H`` by 40-point Gauss-Jacobi quadrature with the weight ``s^(shape - 1)`` on ``[0, T]``: exact
    for the Weibull factor, so only the smooth ``exp(alpha m(s))`` is approximated (to rounding);
    an independent rule from the model's (Gauss-Kronrod in ``t^shape``).
    """
    beta0 = np.array([par["long:Intercept"], *[par[f"long:{c}"] for c in PBC_MODEL["level"]]])
    beta1 = np.array([par["long:year"], *[par[f"long:{c}:year"] for c in PBC_MODEL["slope"]]])
    gamma = np.array([par[f"surv:{c}"] for c in PBC_MODEL["surv"]])
    a, c = float(x0 @ beta0), float(x1 @ beta1)
    sigma = np.exp(par["log_sigma"])
    L = np.array([[np.exp(par["log_chol_D11"]), 0.0], [par["chol_D21"], np.exp(par["log_chol_D22"])]])
    D = L @ L.T
    Dinv = np.linalg.inv(D)
    log_det_D = np.log(np.linalg.det(D))
    scale, shape, alpha = np.exp(par["baseline:log_scale"]), np.exp(par["baseline:log_shape"]), par["alpha"]
    eta = float(w @ gamma)
    xj, wj = special.roots_jacobi(40, 0.0, shape - 1.0)  # weight (1 + x)^(shape - 1) on [-1, 1]
    s_nodes = T * (1 + xj) / 2
    jacobi = scale * shape * (T / 2) ** shape * wj

    def f(b0, b1):
        mu = a + b0 + (c + b1) * t
        long = np.sum(-0.5 * np.log(2 * np.pi * sigma**2) - (y - mu) ** 2 / (2 * sigma**2))
        b = np.array([b0, b1])
        prior = -np.log(2 * np.pi) - 0.5 * log_det_D - 0.5 * b @ Dinv @ b
        H = np.sum(jacobi * np.exp(eta + alpha * (a + b0 + (c + b1) * s_nodes)))
        log_h = np.log(scale * shape) + (shape - 1) * np.log(T) + eta + alpha * (a + b0 + (c + b1) * T)
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


# --------------------------------------------------------------------------- quadrature rules


@pytest.mark.parametrize(("rule", "degree"), [("gauss-kronrod", 22), ("gauss-legendre", 29)])
def test_time_rule_exact_for_polynomials(rule, degree):
    x, w = time_rule(rule)
    assert len(x) == 15 and np.all(np.diff(x) > 0)
    for k in range(degree + 1):
        exact = (1 - (-1) ** (k + 1)) / (k + 1)
        assert abs(np.sum(w * x**k) - exact) < 1e-14, (rule, k)
    # and not beyond: the next even degree is integrated inexactly
    k = degree + 1 if (degree + 1) % 2 == 0 else degree + 2
    assert abs(np.sum(w * x**k) - 2 / (k + 1)) > 1e-12


@pytest.mark.parametrize("substitution", [True, False])
@pytest.mark.parametrize("log_shape", [-0.3, 0.0177, 0.4])
def test_weibull_cumulative_hazard_matches_quad(substitution, log_shape):
    """``int_0^T h0(s) exp(k s) ds`` by the 15-point rule against adaptive quadrature.

    In ``t^shape`` (default) the rule is accurate to 4e-6 even at shape 1.5 and to 1e-7 near 1; in
    ``t`` (JM) the ``t^(shape - 1)`` factor limits it to about 4e-5 at shape 1.02 and 3e-3 at 0.74.
    """
    T = np.array([0.3, 2.0, 9.5, 14.0, 100.0])
    k = np.array([-0.8, 0.1, 0.3, -0.05, 0.063])
    baseline = WeibullBaseline(substitution=substitution)
    par = np.array([-1.0, log_shape])
    ours = baseline.integral(par, baseline.prepare(T), k[:, None, None])[:, 0, 0]
    shape = np.exp(log_shape)
    ref = np.array(
        [
            integrate.quad(
                lambda s, i=i: np.exp(-1.0) * shape * s ** (shape - 1) * np.exp(k[i] * s),
                0,
                T[i],
                epsabs=0,
                epsrel=1e-13,
                limit=500,
            )[0]
            for i in range(len(T))
        ]
    )
    rel = np.max(np.abs(ours / ref - 1))
    if substitution:
        assert rel < (1e-7 if abs(log_shape) < 0.35 else 1e-5)
    else:
        assert rel < {-0.3: 5e-3, 0.0177: 1e-4, 0.4: 1e-4}[log_shape]


def test_piecewise_cumulative_hazard_matches_quad():
    knots = (0.5, 2.0, 7.0)
    baseline = PiecewiseBaseline(knots=knots)
    T = np.array([0.3, 0.5, 2.0, 6.9, 9.5, 14.0])
    k = np.array([-0.8, 0.0, 1e-9, 0.3, -0.05, 0.2])
    par = np.array([-1.0, -0.5, -2.0, 0.3])
    ours = baseline.integral(par, baseline.prepare(T), k[:, None, None])[:, 0, 0]

    def h0(s):
        return np.exp(par[np.searchsorted(knots, s, side="right")])

    ref = np.array(
        [
            integrate.quad(
                lambda s, i=i: h0(s) * np.exp(k[i] * s), 0, T[i], points=knots, epsabs=0, epsrel=1e-13, limit=200
            )[0]
            for i in range(len(T))
        ]
    )
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    # the hazard at T picks the right interval
    assert np.allclose(baseline.log_h0_upper(par, baseline.prepare(T)), np.log(h0(T)))


def test_piecewise_knots_at_event_quantiles():
    T = np.arange(1.0, 29.0)
    delta = np.ones_like(T)
    baseline = PiecewiseBaseline.at_event_quantiles(T, delta, n_intervals=7)
    assert len(baseline.knots) == 6
    np.testing.assert_allclose(baseline.knots, np.quantile(T, np.arange(1, 7) / 7))
    assert len(baseline.names()) == 7


# --------------------------------------------------------------------------- likelihood pieces


@pytest.mark.r
@pytest.mark.usefixtures("needs_r")
def test_mixed_model_alone_matches_nlme(pbc):
    """The closed-form ML mixed model (the starting values and quadrature centres) equals nlme::lme ML."""
    from alsmeds.reference import run_r_script

    long, surv = pbc
    model = JointModel(**PBC_MODEL)
    mixed = fit_mixed(model.prepare(long, surv))
    assert mixed.optimum.converged
    frame = long.assign(drug_year=long["drug"] * long["year"])
    out = run_r_script(
        "lme",
        {"data": frame},
        {"response": "log_bili", "fixed": ["drug", "year", "drug_year"], "time": "year", "group": "id", "method": "ML"},
    )
    ref = [out["fixed"][k] for k in ("(Intercept)", "drug", "year", "drug_year")]
    np.testing.assert_allclose(mixed.theta[:4], ref, atol=2e-5)
    vc = out["variance_components"]
    assert abs(mixed.sigma - vc["residual_sd"]) < 1e-5
    assert abs(np.sqrt(mixed.D[0, 0]) - vc["intercept_sd"]) < 1e-4
    assert abs(np.sqrt(mixed.D[1, 1]) - vc["slope_sd"]) < 1e-5
    assert abs(mixed.llf - out["loglik"]) < 1e-6


def test_marginal_likelihood_matches_brute_force(pbc, pbc_fit):
    """Per-patient log-likelihood with 25 x 25 adaptive nodes equals dblquad over b to 1e-6.

    Three patients: an early death with two visits, a long censored follow-up, and a death after
    many visits; at the estimate and at a point away from it (where the nodes, fixed at the
    estimate's posteriors, are no longer centred on the integrand), for both centrings.
    """
    long, surv = pbc
    model = JointModel(**PBC_MODEL)
    data = model.prepare(long, surv)
    n_visits = data.n_visits
    pick = [
        int(np.flatnonzero((data.delta == 1) & (n_visits == 2))[0]),
        int(np.flatnonzero((data.delta == 0) & (n_visits >= 10))[0]),
        int(np.flatnonzero((data.delta == 1) & (n_visits >= 8))[0]),
    ]
    sub = data.subset(np.array(pick))
    layout = pbc_fit.layout
    arrays = layout.baseline.prepare(sub.T)
    mixed = fit_mixed(data)
    rng = np.random.default_rng(3)
    away = pbc_fit.theta + 0.5 * pbc_fit.bse.to_numpy() * rng.standard_normal(len(pbc_fit.theta))
    for theta in (pbc_fit.theta, away):
        par = pd.Series(theta, index=layout.names)
        brute = []
        for i in pick:
            rows = long[long["id"] == data.ids[i]]
            f = brute_force_log_integrand(
                par,
                rows["year"].to_numpy(),
                rows["log_bili"].to_numpy(),
                data.X0[i],
                data.X1[i],
                data.W[i],
                data.T[i],
                data.delta[i],
            )
            brute.append(brute_force_loglik(f))
        for centring in ("subject", "random-effects"):
            p0 = layout.p0
            line = np.column_stack([sub.X0 @ mixed.theta[:p0], sub.X1 @ mixed.theta[p0 : p0 + layout.p1]])
            centre = mixed.eb_mean[pick] + (line if centring == "subject" else 0)
            nodes = random_effect_nodes(centre, mixed.eb_cov[pick], 25, centring=centring)
            ours = np.asarray(joint_loglik_terms(theta, layout, sub, nodes, arrays))
            np.testing.assert_allclose(ours, brute, rtol=0, atol=1e-6)


def test_gradient_and_hessian_match_finite_differences(pbc):
    """autograd's gradient and Hessian against central differences at a random point (relative 1e-5)."""
    long, surv = pbc
    for baseline in ("weibull", "piecewise"):
        model = JointModel(**PBC_MODEL, baseline=baseline)
        data = model.prepare(long, surv)
        mixed = fit_mixed(data)
        from alsmeds.models.joint.likelihood import make_baseline

        base = make_baseline(baseline, data)
        layout = Layout(spec=model.spec, baseline=base)
        arrays = base.prepare(data.T)
        nodes = random_effect_nodes(mixed.eb_mean, mixed.eb_cov, 3)
        rng = np.random.default_rng(7)
        theta = np.concatenate(
            [mixed.theta, 0.1 * rng.standard_normal(layout.pw), [1.0], base.start(data.T, data.delta)]
        )
        theta = theta + 0.05 * rng.standard_normal(theta.size)

        def f(th, layout=layout, data=data, nodes=nodes, arrays=arrays):
            return joint_loglik(th, layout, data, nodes, arrays)

        g = autograd.grad(f)(theta)
        H = autograd.hessian(f)(theta)
        fd_g = np.empty_like(theta)
        fd_H = np.empty((theta.size, theta.size))
        for j in range(theta.size):
            h = 1e-5 * max(1.0, abs(theta[j]))
            e = np.zeros_like(theta)
            e[j] = h
            fd_g[j] = (f(theta + e) - f(theta - e)) / (2 * h)
            fd_H[:, j] = (autograd.grad(f)(theta + e) - autograd.grad(f)(theta - e)) / (2 * h)
        scale_g = max(1.0, np.max(np.abs(g)))
        assert np.max(np.abs(g - fd_g)) / scale_g < 1e-5, baseline
        assert np.max(np.abs(H - fd_H)) / np.max(np.abs(H)) < 1e-5, baseline
        assert np.allclose(H, H.T, rtol=0, atol=1e-8 * np.max(np.abs(H)))


# --------------------------------------------------------------------------- PBC anchor


def _check_optimum(result):
    assert result.converged, result.message
    assert result.min_hessian_eigenvalue > 0
    assert result.newton_decrement / 2 <= 1e-12 * abs(result.llf)
    assert result.relative_gradient < 1e-8
    assert np.all(np.isfinite(result.bse))


@pytest.mark.parametrize("settings", ["jm", "default"])
def test_pbc_matches_jm(settings, pbc_fit, pbc_fit_jm):
    """Log-likelihood at least JM's; estimates within 0.3 of JM's SEs; SEs within 2%; variance components."""
    result = pbc_fit_jm if settings == "jm" else pbc_fit
    _check_optimum(result)
    assert result.n_obs == 1945 and result.n_groups == 312 and result.n_events == 140
    assert result.quadrature["nodes_per_random_effect"] == 5  # JM's rule: fewer than 2,000 rows
    assert result.llf >= JM_LLF - JM_LLF_PRINTING
    assert result.llf < JM_LLF + 0.1  # the same quantity (constants included), not merely a higher number
    for name, (jm, jm_se) in JM_ESTIMATES.items():
        assert abs(result.params[name] - jm) <= 0.3 * jm_se, (name, result.params[name], jm)
        assert abs(result.bse[name] / jm_se - 1) < 0.02, (name, result.bse[name], jm_se)
    vc = result.variance_components()["estimate"]
    for name, jm in JM_VARIANCE.items():
        assert abs(vc[name] - jm) < 0.005, (name, vc[name], jm)


def test_pbc_jm_settings_reproduce_jm_closely(pbc_fit_jm):
    """With JM's approximations our optimum lies within 0.05 SE of JM's for the survival part."""
    for name in ("alpha", "surv:drug", "baseline:log_scale", "baseline:log_shape"):
        jm, jm_se = JM_ESTIMATES[name]
        assert abs(pbc_fit_jm.params[name] - jm) <= 0.05 * jm_se, name
    assert pbc_fit_jm.llf - JM_LLF < 0.02


@pytest.mark.r
@pytest.mark.usefixtures("needs_r")
def test_pbc_csv_is_what_pbc_data_r_writes(tmp_path):
    """tests/data/pbcseq.csv is R survival's pbcseq as pbc_data.R extracts it."""
    import json
    import shutil
    import subprocess

    from alsmeds.reference.r import RSCRIPT_OPTIONS, script_path

    rscript = shutil.which("Rscript")
    assert rscript is not None
    subprocess.run([rscript, *RSCRIPT_OPTIONS, str(script_path("pbc_data")), str(tmp_path)], check=True, timeout=120)
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["n_rows"] == 1945 and out["n_patients"] == 312
    fresh = pd.read_csv(tmp_path / "pbcseq.csv")
    committed = pd.read_csv(PBC_CSV)
    pd.testing.assert_frame_equal(fresh, committed)


# --------------------------------------------------------------------------- quadrature


def _node_table(long, surv, model_args, nodes=(3, 5, 7), **settings):
    fits = {q: JointModel(**model_args, n_nodes=q, **settings).fit(long, surv) for q in nodes}
    return fits


def test_quadrature_pbc_3_5_7_nodes(pbc):
    """PBC: 3, 5 and 7 nodes per random effect agree within 0.05 SE (5 and 7: 0.01 SE)."""
    fits = _node_table(*pbc, PBC_MODEL)
    for q, fit in fits.items():
        _check_optimum(fit)
        assert fit.quadrature["nodes_per_random_effect"] == q
    se = fits[7].bse
    for q in (3, 5):
        shift = np.max(np.abs(fits[q].params - fits[7].params) / se)
        assert shift < (0.05 if q == 3 else 0.01), (q, shift)
    assert abs(fits[5].llf - fits[7].llf) < 0.01
    assert abs(fits[3].llf - fits[7].llf) < 0.25


def test_quadrature_paper_scale_3_5_7_nodes(paper_frames):
    """Paper-scale synthetic ALS data: 3, 5 and 7 nodes agree within 0.001 SE and 0.001 log-likelihood units."""
    fits = _node_table(*paper_frames, PLANTED_MODEL)
    assert default_nodes(fits[3].n_obs) == 3
    se = fits[7].bse
    for q in (3, 5):
        _check_optimum(fits[q])
        assert np.max(np.abs(fits[q].params - fits[7].params) / se) < 1e-3, q
        assert np.max(np.abs(fits[q].bse / se - 1)) < 1e-3, q
        assert abs(fits[q].llf - fits[7].llf) < 1e-3


def test_jm_rule_fails_at_als_scale(paper_frames):
    """Why the default differs from JM: nodes fixed on the random effects misstate the slope's SE.

    With JM's rule and 3 nodes (JM's choice above 2,000 rows) the standard error of the mean
    ALSFRS-R slope is less than half of what the converged integral gives, and the slope moves by
    more than 0.3 SE; the default rule at 3 nodes agrees with 11 nodes.
    """
    long, surv = paper_frames
    jm = JointModel(**PLANTED_MODEL, **JM_SETTINGS, n_nodes=3).fit(long, surv)
    ours = JointModel(**PLANTED_MODEL, n_nodes=3).fit(long, surv)
    reference = JointModel(**PLANTED_MODEL, n_nodes=11).fit(long, surv)
    slope = "long:months"
    assert jm.bse[slope] < 0.5 * reference.bse[slope]
    assert abs(jm.params[slope] - reference.params[slope]) > 0.3 * reference.bse[slope]
    assert abs(ours.bse[slope] / reference.bse[slope] - 1) < 1e-3
    assert abs(ours.params[slope] - reference.params[slope]) < 1e-3 * reference.bse[slope]


# --------------------------------------------------------------------------- planted truth


LARGE_SCALE = 20


@pytest.fixture(scope="module")
def large():
    start = time.perf_counter()
    registry = generate(seed=29, scale=LARGE_SCALE, truth_scale=0)
    long, surv = synthetic_joint_frames(registry)
    people = registry.people.set_index("person_id")
    rng = np.random.default_rng(2029)
    latent = long.copy()
    b0 = latent["person_id"].map(people["alsfrs_intercept"]).to_numpy()
    b1 = latent["person_id"].map(people["alsfrs_slope_per_month"]).to_numpy()
    sd = SimulationParameters().prognosis.residual_sd
    latent["score"] = b0 + b1 * latent["months"].to_numpy() + sd * rng.standard_normal(len(latent))
    return {"registry": registry, "long": long, "latent": latent, "surv": surv, "seconds": time.perf_counter() - start}


@pytest.fixture(scope="module")
def large_fits(large):
    model = JointModel(**PLANTED_MODEL)
    return {
        "observed": model.fit(large["long"], large["surv"]),
        "latent": model.fit(large["latent"], large["surv"]),
    }


def _truth_table(result) -> pd.DataFrame:
    truth = planted_values(SimulationParameters())
    frame = result.to_frame().set_index("term")[["estimate", "se"]]
    vc = result.variance_components().loc[["sigma", "sd_intercept", "sd_slope", "corr_intercept_slope"]]
    frame = pd.concat([frame, vc])
    frame["truth"] = truth.reindex(frame.index)
    frame["z"] = (frame["estimate"] - frame["truth"]) / frame["se"]
    return frame


def test_planted_values_agree_with_truth_json(large):
    """The planted values used here are the generator's (truth.json), not a copy that could drift."""
    truth = large["registry"].truth["estimands"]["prognosis"]
    planted = planted_values(SimulationParameters())
    for k in CLASSES:
        assert planted[f"surv:{k}"] == pytest.approx(truth["joint_model_log_hr_direct"][k], abs=1e-7)
    assert planted["alpha"] == pytest.approx(truth["association_per_alsfrs_point"])
    slopes = truth["alsfrs_slope_per_month"]
    assert planted["long:months"] == pytest.approx(slopes["non_users_of_antidepressants"])
    assert planted["long:antidepressants:months"] == pytest.approx(slopes["difference"])


@pytest.mark.slow
def test_planted_truth_latent_scores(large, large_fits):
    """Correctly specified data (latent scores): every parameter within 3 SE of the planted value.

    The generator's event times depend on the true trajectories only, not on the measurement noise,
    so the true trajectories plus fresh N(0, 2^2) noise at the observed visits, with the observed
    event and censoring times, are an exact draw from the planted joint model.  20 x 1,057 cases.
    """
    result = large_fits["latent"]
    _check_optimum(result)
    assert result.n_groups == LARGE_SCALE * 1057
    table = _truth_table(result)
    assert table["truth"].notna().all()
    assert (table["z"].abs() < 3).all(), table[table["z"].abs() >= 3]


@pytest.mark.slow
def test_planted_truth_observed_scores(large_fits):
    """Observed scores (rounded, clipped to 0-48): direct effects recovered, the rest measurably misspecified.

    Within 3 SE of the truth: the six direct log hazard ratios (three drug classes, age, sex, onset)
    and the antidepressant slope difference.  Not within 3 SE, because the floor and ceiling are not
    in the model: 7% of visits sit at 48 (true intercepts above 48 flatten the first months) and 2.5%
    at 0.  Against the latent-score fit of the same patients, visits and events (seed 29): the mean
    slope flattened from -0.900 to -0.889 points/month (+2 SE), the mean intercept lowered by 0.3
    points (-3 SE), the residual SD inflated from 2.005 to 2.096 (+22 SE), the slope SD shrunk from
    0.597 to 0.555 (-13 SE), and alpha steepened from -0.0699 to -0.0789 (-12 SE), which moves the
    Weibull intercept (+6 SE).  The direct log hazard ratios move by at most 0.013 (age, 1.8 SE; the
    drug classes by at most 0.01, 0.5 SE).  The
    bounds below are the sizes of these biases with room, in the parameters' units, so a change in
    the generator or the estimator that moves them shows.
    """
    observed, latent = large_fits["observed"], large_fits["latent"]
    _check_optimum(observed)
    table = _truth_table(observed)
    direct = [f"surv:{k}" for k in (*CLASSES, "age_per_decade", "male", "bulbar")]
    assert (table.loc[direct, "z"].abs() < 3).all(), table.loc[direct]
    assert abs(table.loc["long:antidepressants:months", "z"]) < 3
    diff = observed.params - latent.params
    assert 0.0 < diff["long:months"] < 0.04
    assert -0.015 < diff["alpha"] < -0.004
    vc_o, vc_l = observed.variance_components()["estimate"], latent.variance_components()["estimate"]
    assert 0.03 < vc_o["sigma"] - vc_l["sigma"] < 0.15
    assert -0.08 < vc_o["sd_slope"] - vc_l["sd_slope"] < -0.02


@pytest.mark.slow
def test_piecewise_baseline_on_planted_data(large, large_fits):
    """Piecewise-constant baseline on the latent-score data: the planted constant hazard and the same effects.

    The planted baseline is constant per month (Weibull shape 1, log scale -2.023 after centring
    the marker), so every interval's log hazard must be within 3 SE of it, and the effects must
    agree with the Weibull fit within 0.2 SE.
    """
    result = JointModel(**PLANTED_MODEL, baseline="piecewise").fit(large["latent"], large["surv"])
    _check_optimum(result)
    truth = planted_values(SimulationParameters())["baseline:log_scale"]
    base = result.to_frame().set_index("term").filter(like="baseline:", axis=0)
    assert len(base) == 7
    assert (((base["estimate"] - truth) / base["se"]).abs() < 3).all(), base
    weibull = large_fits["latent"]
    common = [n for n in weibull.params.index if not n.startswith("baseline:")]
    shift = (result.params[common] - weibull.params[common]).abs() / weibull.bse[common]
    assert (shift < 0.2).all(), shift.sort_values().tail()


@pytest.fixture(scope="module")
def large_censored_fit(large):
    """The censored (Tobit) submodel at the study's censoring points (0.5, 47.5) on the observed scores of ``large``."""
    start = time.perf_counter()
    result = JointModel(**PLANTED_MODEL, outcome="censored", bounds=ALSFRS_BOUNDS).fit(large["long"], large["surv"])
    return result, time.perf_counter() - start


@pytest.mark.slow
def test_planted_truth_observed_scores_censored(large_fits, large_censored_fit):
    """Observed scores (rounded, clipped to 0-48), censored submodel: the planted values, association included.

    The same 21,140 patients and 150,840 visits as :func:`test_planted_truth_observed_scores`, 7.4% of
    the visits at 48 and 2.5% at 0, censored where the rounding puts them (:data:`ALSFRS_BOUNDS`: a
    recorded 0 is a latent score below 0.5, a 48 one at or above 47.5).  The residual SD's estimand is
    then the latent SD with the rounding error inside the scale added, ``sqrt(sigma^2 + 1/12)``
    (Sheppard: 2.021 for the planted 2); every other parameter's is its planted value.  Measured (seed
    29): every z within 3 (the residual SD +1.9 against 2.021); the normal submodel's alpha is -12 SE
    off.  Censored at 0 and 48 instead, the residual SD was 2.038 (SE 0.005, +3.7 SE against 2.021):
    reading a 48 as "48 or more" places half a point of latent score in the residual.
    """
    censored, _ = large_censored_fit
    normal = large_fits["observed"]
    _check_optimum(censored)
    assert censored.censoring["n_right"] > 10_000 and censored.censoring["n_left"] > 3_000
    table = _truth_table(censored)
    rest = table.drop(["log_sigma", "sigma"])
    assert (rest["z"].abs() < 3).all(), rest[rest["z"].abs() >= 3]
    sheppard = np.sqrt(SimulationParameters().prognosis.residual_sd ** 2 + 1 / 12)
    sigma_se = table.loc["sigma", "estimate"] * censored.bse["log_sigma"]  # delta method from log sigma
    assert abs(table.loc["sigma", "estimate"] - sheppard) / sigma_se < 3, (table.loc["sigma"], sheppard)
    assert abs(_truth_table(normal).loc["alpha", "z"]) > 6  # the normal submodel misses the association
    assert abs(table.loc["alpha", "z"]) < 2


# --------------------------------------------------------------------------- results API


def test_results_api(pbc_fit):
    r = pbc_fit
    names = [
        "long:Intercept",
        "long:drug",
        "long:year",
        "long:drug:year",
        "log_sigma",
        "log_chol_D11",
        "chol_D21",
        "log_chol_D22",
        "surv:drug",
        "alpha",
        "baseline:log_scale",
        "baseline:log_shape",
    ]
    assert list(r.params.index) == names
    assert list(r.bse.index) == names
    cov = r.cov_params()
    assert cov.shape == (12, 12) and np.allclose(cov, cov.T)
    assert np.allclose(np.sqrt(np.diag(cov)), r.bse)
    ci = r.conf_int(0.05)
    assert np.allclose(ci["upper"] - r.params, Z_975 * r.bse)
    assert r.conf_int(0.1)["upper"].lt(ci["upper"]).all()
    assert r.aic == pytest.approx(-2 * r.llf + 2 * 12)
    assert r.bic == pytest.approx(-2 * r.llf + 12 * np.log(312))
    frame = r.to_frame(exp=True)
    assert list(frame.columns) == list(JOINT_RESULT_COLUMNS)
    row = frame.set_index("term").loc["surv:drug"]
    assert row["hazard_ratio"] == pytest.approx(np.exp(row["estimate"]))
    assert row["hazard_ratio_lower"] == pytest.approx(np.exp(row["ci_lower"]))
    assert row["hazard_ratio_upper"] == pytest.approx(np.exp(row["ci_upper"]))
    assert np.isnan(frame.set_index("term").loc["long:year", "hazard_ratio"])
    assert "hazard_ratio" not in r.to_frame(exp=False)
    wald = r.wald_table()  # the shared vocabulary: no ratio columns, as most parameters are not log hazard ratios
    assert list(wald.columns) == ["estimate", "se", "z", "p_value", "ci_lower", "ci_upper"]
    np.testing.assert_array_equal(r.pvalues.to_numpy(), frame["p_value"].to_numpy())
    np.testing.assert_array_equal(wald["ci_lower"].to_numpy(), frame["ci_lower"].to_numpy())
    assert r.quadrature["nodes_per_random_effect"] == 5 and r.quadrature["time_points"] == 15
    assert r.fit_seconds > 0 and r.iterations >= 1
    text = r.summary()
    assert "log-likelihood" in text and "alpha" in text and "convergence: yes" in text
    assert text == JointModel(**PBC_MODEL).fit(*pbc_frames()).summary()  # stable: no timings or dates


def test_not_positive_definite_is_reported(pbc):
    """A covariate that is zero for everyone: singular information, reported, never a NaN SE marked converged."""
    long, surv = pbc
    surv = surv.assign(nothing=0.0)
    result = JointModel(**{**PBC_MODEL, "surv": ["drug", "nothing"]}).fit(long, surv)
    assert not result.converged
    assert result.min_hessian_eigenvalue <= 0 or not np.isfinite(result.min_hessian_eigenvalue)
    assert "not positive definite" in result.message
    assert result.bse.isna().all()
    assert "convergence: NO" in result.summary()


def test_input_checks(pbc):
    long, surv = pbc
    model = JointModel(**PBC_MODEL)
    with pytest.raises(ValueError, match="no survival row"):
        model.fit(long, surv.iloc[1:])
    with pytest.raises(ValueError, match="no measurement"):
        model.fit(long[long["id"] != 1], surv)
    with pytest.raises(ValueError, match="change within a patient"):
        model.fit(long.assign(drug=np.arange(len(long)) % 2), surv)
    with pytest.raises(ValueError, match="after its patient"):
        model.fit(long.assign(year=long["year"] + 50), surv)
    with pytest.raises(ValueError, match="baseline"):
        JointModel(**PBC_MODEL, baseline="spline")


# --------------------------------------------------------------------------- dynamic predictions


def test_dynamic_survival_matches_brute_force(pbc, pbc_fit):
    """P(T > u | T > s, y(s)) equals the ratio of two dblquad integrals over b (1e-6)."""
    long, surv = pbc
    pid = 2
    rows = long[long["id"] == pid]
    s, times = 5.0, np.array([5.0, 6.0, 8.0, 10.0])
    ours = dynamic_survival(pbc_fit, rows, s, times)
    assert ours["survival"].iloc[0] == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(ours["survival"]) < 0)
    par = pbc_fit.params
    visible = rows[rows["year"] <= s]
    x0 = np.array([1.0, rows["drug"].iloc[0]])
    w = np.array([rows["drug"].iloc[0]])
    # log p(y | b) + log N(b) - H(u | b): the censored integrand at time u
    logs = []
    for u in (s, 8.0):
        f = brute_force_log_integrand(par, visible["year"].to_numpy(), visible["log_bili"].to_numpy(), x0, x0, w, u, 0)
        logs.append(brute_force_loglik(f))
    assert ours.set_index("time").loc[8.0, "survival"] == pytest.approx(np.exp(logs[1] - logs[0]), abs=1e-6)


def test_dynamic_survival_interval(pbc, pbc_fit):
    long, _ = pbc
    rows = long[long["id"] == 2]
    out = dynamic_survival(pbc_fit, rows, 5.0, [5.0, 7.0, 9.0], n_draws=30, seed=1)
    assert list(out.columns) == ["time", "survival", "median", "lower", "upper"]
    assert (out["lower"] <= out["median"]).all() and (out["median"] <= out["upper"]).all()
    assert (out["lower"].iloc[1:] < out["survival"].iloc[1:]).all()
    assert (out["survival"].iloc[1:] < out["upper"].iloc[1:]).all()
    with pytest.raises(ValueError, match="precede"):
        dynamic_survival(pbc_fit, rows, 5.0, [4.0])
