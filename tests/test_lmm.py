"""The linear mixed-model fitter :mod:`alsmeds.models.lmm`.

* Exactness without a reference: the profiled likelihood, BLUPs and conditional variances equal
  dense per-group Gaussian algebra; the autograd derivatives equal central differences.
* R ``nlme::lme`` on the paper-scale committed data (random intercept and slope, random intercept
  only; REML and ML): at nlme's own variance components our fixed effects, standard errors and
  log-likelihood equal nlme's to 1e-9 (the same formulas); at the optimum the log-likelihood and
  standard errors agree to 1e-6 and ours is the higher maximum.  Without R these are skipped,
  except under CI (``CI`` set), where a missing R fails.
* statsmodels ``MixedLM`` (the former engine, kept as a reference here only): the same checks,
  BLUPs and their conditional covariances included (300 patients; paper scale is ``slow``).
* Bad input: a patient with one visit, a zero slope variance (boundary), identical visit times,
  too few patients or visits, a rank-deficient design.
* The joint model's starting values (:func:`alsmeds.models.joint.mixed.fit_mixed`) are this fitter.
"""

from __future__ import annotations

import warnings

import autograd
import numpy as np
import pandas as pd
import pytest

from alsmeds import Study
from alsmeds.models.joint.data import JointSpec, prepare_joint_data
from alsmeds.models.joint.mixed import fit_mixed
from alsmeds.models.lmm import (
    BoundaryWarning,
    LmmError,
    LmmSums,
    fit_lmm,
    lmm_at,
    profiled_loglik,
    relative_theta,
)
from alsmeds.models.mixed import AlsfrsMixedModel, MixedModelError

#: Relative agreement required of two fits of the same model (fixed effects, SEs, variance
#: components, log-likelihood) at their optima.
RTOL_OPTIMUM = 1e-6
#: Relative agreement of two evaluations of the same formulas at the same variance parameters:
#: rounding of sums over 7,584 rows (about 1e-13) times the condition of X'V^-1X (about 1e3).
RTOL_SAME_THETA = 1e-9


def rel(a, b) -> float:
    """Largest relative difference of two arrays (b the reference)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def simulate(groups: int = 200, times=None, slope_sd: float = 0.5, seed: int = 1) -> pd.DataFrame:
    """Visits ``y = 40 + b0 + (-0.9 + b1 - 0.2 x) t + e`` (intercept SD 5, error SD 2), 2-6 per group."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(groups):
        t = np.sort(rng.uniform(0, 24, rng.integers(2, 7))) if times is None else np.asarray(times, float)
        b0, b1, x = rng.normal(0, 5), rng.normal(0, slope_sd), float(rng.integers(0, 2))
        y = 40 + b0 + (-0.9 + b1 - 0.2 * x) * t + rng.normal(0, 2, t.size)
        rows += [(g, tt, yy, x) for tt, yy in zip(t, y, strict=True)]
    return pd.DataFrame(rows, columns=["g", "t", "y", "x"])


def design(d: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"Intercept": 1.0, "t": d["t"], "x": d["x"], "x:t": d["x"] * d["t"]})


def sums_of(d: pd.DataFrame, random_slope: bool = True) -> LmmSums:
    return LmmSums.from_visits(d["y"], design(d), d["g"], d["t"] if random_slope else None, time_name="t")


@pytest.fixture(scope="module")
def paper() -> pd.DataFrame:
    data = Study.synthetic().alsfrs_data
    return data.sort_values(["person_id", "months"], kind="stable").reset_index(drop=True)


def paper_sums(d: pd.DataFrame, random_slope: bool = True) -> LmmSums:
    X = AlsfrsMixedModel().design(d)
    t = d["months"] if random_slope else None
    return LmmSums.from_visits(d["score"], X, d["person_id"], t, time_name="months")


# --------------------------------------------------------------------------- exactness


def dense_reference(d: pd.DataFrame, D: np.ndarray, sigma2: float, reml: bool, random_slope: bool = True):
    """GLS, Gaussian log-likelihood, BLUPs and conditional covariances with dense V_i per group."""
    X = design(d).to_numpy()
    p = X.shape[1]
    blocks = []
    for _, rows in d.groupby("g", sort=True):
        idx = rows.index.to_numpy()
        Z = np.column_stack([np.ones(len(idx)), rows["t"]])[:, : D.shape[0]]
        V = Z @ D @ Z.T + sigma2 * np.eye(len(idx))
        blocks.append((idx, Z, V))
    XVX = sum(X[i].T @ np.linalg.solve(V, X[i]) for i, _, V in blocks)
    XVy = sum(X[i].T @ np.linalg.solve(V, d["y"].to_numpy()[i]) for i, _, V in blocks)
    beta = np.linalg.solve(XVX, XVy)
    r = d["y"].to_numpy() - X @ beta
    ll = sum(-0.5 * (len(i) * np.log(2 * np.pi) + np.linalg.slogdet(V)[1] + r[i] @ np.linalg.solve(V, r[i]))
             for i, _, V in blocks)  # fmt: skip
    if reml:
        ll += 0.5 * p * np.log(2 * np.pi) - 0.5 * np.linalg.slogdet(XVX)[1]
    blup = np.array([D @ Z.T @ np.linalg.solve(V, r[i]) for i, Z, V in blocks])
    cond = np.array([np.linalg.inv(np.linalg.inv(D) + Z.T @ Z / sigma2) for _, Z, _ in blocks])
    return beta, np.linalg.inv(XVX), ll, blup, cond


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("random_slope", [True, False])
def test_profiled_likelihood_equals_dense_gaussian_algebra(reml, random_slope):
    """At the estimate, beta, (X'V^-1X)^-1, the log-likelihood, BLUPs and Var(b|y) equal dense algebra."""
    d = simulate(groups=40, seed=3)
    fit = fit_lmm(sums_of(d, random_slope), reml=reml)
    assert fit.converged and not fit.on_boundary
    beta, cov, ll, blup, cond = dense_reference(d, fit.cov_re.to_numpy(), fit.scale, reml, random_slope)
    assert rel(fit.params, beta) < 1e-10
    assert rel(fit.cov, cov) < 1e-10
    assert fit.llf == pytest.approx(ll, rel=1e-12)
    np.testing.assert_allclose(fit.random_effects.to_numpy(), blup, rtol=1e-9, atol=1e-12 * np.abs(blup).max())
    assert rel(fit.random_effects_cov, cond) < 1e-10
    # sigma^2 is profiled: RSS / (N - p) for REML, RSS / N for ML.
    m = len(d) - 4 if reml else len(d)
    X = design(d).to_numpy()
    Dr = fit.cov_re.to_numpy() / fit.scale
    rss = 0.0
    for _, rows in d.groupby("g", sort=True):
        Z = np.column_stack([np.ones(len(rows)), rows["t"]])[:, : Dr.shape[0]]
        r = rows["y"].to_numpy() - X[rows.index] @ fit.params.to_numpy()
        rss += r @ np.linalg.solve(np.eye(len(rows)) + Z @ Dr @ Z.T, r)
    assert fit.scale == pytest.approx(rss / m, rel=1e-10)


def test_derivatives_equal_central_differences():
    """autograd's gradient and Hessian of the profiled REML log-likelihood against central differences."""
    s = sums_of(simulate(groups=60, seed=4))
    theta = np.array([2.1, -0.01, 0.2])

    def f(th):
        return float(profiled_loglik(th, s, True))

    g = autograd.grad(profiled_loglik)(theta, s, True)
    H = autograd.hessian(profiled_loglik)(theta, s, True)
    h = 1e-5 * np.maximum(np.abs(theta), 1e-2)
    fd_g = np.array([(f(theta + e) - f(theta - e)) / (2 * e.sum()) for e in np.diag(h)])
    grad = autograd.grad(profiled_loglik)
    fd_H = np.column_stack([(grad(theta + e, s, True) - grad(theta - e, s, True)) / (2 * e.sum()) for e in np.diag(h)])
    np.testing.assert_allclose(g, fd_g, rtol=1e-6, atol=1e-6 * np.abs(g).max())
    np.testing.assert_allclose(H, fd_H, rtol=1e-6, atol=1e-6 * np.abs(H).max())


def test_paper_fit_converges_in_a_few_newton_steps(paper):
    fit = fit_lmm(paper_sums(paper))
    assert fit.converged and not fit.on_boundary and fit.warnings == []
    assert fit.iterations <= 10
    assert (fit.n_obs, fit.n_groups) == (7584, 1057)
    # The fit is the same through AlsfrsMixedModel (months; no terms dropped).
    alsfrs = AlsfrsMixedModel().fit(paper)
    np.testing.assert_array_equal(alsfrs.params.to_numpy(), fit.params.to_numpy())
    assert alsfrs.llf == fit.llf
    assert "profiled likelihood, exact Newton" in alsfrs.summary().splitlines()[0]


# --------------------------------------------------------------------------- R nlme::lme


def nlme_d(vc: pd.Series) -> np.ndarray:
    if "slope_sd" not in vc:
        return np.array([[vc["intercept_sd"] ** 2]])
    cov = vc["correlation"] * vc["intercept_sd"] * vc["slope_sd"]
    return np.array([[vc["intercept_sd"] ** 2, cov], [cov, vc["slope_sd"] ** 2]])


@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
@pytest.mark.parametrize("random_slope", [True, False], ids=["slope", "intercept"])
def test_agrees_with_nlme(needs_r, paper, random_slope, reml):
    """The same formulas as nlme, and a maximum at least as high.

    nlme maximises with ``nlminb`` on finite-difference gradients; ``lmeControl(tolerance=)`` does
    not reach nlminb's own tolerances, and its variance parameters stop about 1e-6 (relative) from
    the maximum: its log-likelihood at the committed data is about 1e-9 below ours (REML and ML,
    random slope).  So the comparison has two parts: (1) at nlme's variance components our profiled
    fixed effects, SEs, residual SD and log-likelihood equal nlme's to rounding (identical
    formulas, REML convention included); (2) at the two optima the log-likelihood and SEs agree to
    1e-6 and ours is not lower; the fixed effects and variance components differ by what nlme's
    stopping point allows (below 1e-5 of an SE and 1e-5 relative; 1e-6 with a random intercept
    only, where nlme's one-dimensional search is exact).
    """
    from alsmeds.reference.lme import r_lme

    s = paper_sums(paper, random_slope)
    ours = fit_lmm(s, reml=reml)
    ref = r_lme(paper, AlsfrsMixedModel(random_slope=random_slope, reml=reml))
    assert ref.warnings == [] and ours.converged
    assert (ref.n_obs, ref.n_groups) == (ours.n_obs, ours.n_groups)
    pd.testing.assert_index_equal(ref.params.index, ours.params.index)
    pd.testing.assert_index_equal(ref.variance_components.index, ours.variance_components().index)

    vc = ref.variance_components
    at = lmm_at(s, relative_theta(nlme_d(vc), vc["residual_sd"] ** 2), reml=reml)
    assert rel(at.params, ref.params) < RTOL_SAME_THETA
    assert rel(at.bse, ref.bse) < RTOL_SAME_THETA
    assert rel(at.variance_components(), vc) < RTOL_SAME_THETA
    assert at.llf == pytest.approx(ref.llf, rel=1e-12)

    assert ours.llf >= ref.llf - 1e-12 * abs(ref.llf)
    assert ours.llf == pytest.approx(ref.llf, rel=RTOL_OPTIMUM)
    assert rel(ours.bse, ref.bse) < RTOL_OPTIMUM
    if random_slope:
        assert float(np.max(np.abs(ours.params - ref.params) / ours.bse)) < 1e-5
        assert rel(ours.variance_components(), vc) < 1e-5
    else:
        assert rel(ours.params, ref.params) < RTOL_OPTIMUM
        assert rel(ours.variance_components(), vc) < RTOL_OPTIMUM


# --------------------------------------------------------------------------- statsmodels MixedLM


def statsmodels_fit(d: pd.DataFrame, X: pd.DataFrame, groups: str, time: str | None, reml: bool):
    """statsmodels MixedLM (BFGS, gtol 1e-8, time in years inside the optimiser, as the former engine)."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    unit = np.array([12.0 if c == time or c.endswith(f":{time}") else 1.0 for c in X.columns])
    Z = np.ones((len(d), 1)) if time is None else np.column_stack([np.ones(len(d)), d[time] / 12.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = MixedLM(d["y" if "y" in d else "score"].to_numpy(), X.to_numpy() / unit, groups=d[groups].to_numpy(),
                      exog_re=Z).fit(reml=reml, method=["bfgs"], gtol=1e-8, maxiter=1000)  # fmt: skip
    re_unit = np.array([1.0, 12.0])[: Z.shape[1]]
    D = np.asarray(fit.cov_re) / np.outer(re_unit, re_unit)
    llf = fit.llf - (int((unit != 1).sum()) * np.log(12.0) if reml else 0.0)
    fe = np.asarray(fit.fe_params) / unit
    return fit, fe, D, llf, re_unit


def check_statsmodels(d, X, groups, time, reml, s):
    sm, fe, D, llf, re_unit = statsmodels_fit(d, X, groups, time, reml)
    ours = fit_lmm(s, reml=reml)
    # At statsmodels' variance components: fixed effects, log-likelihood, BLUPs and Var(b|y).
    at = lmm_at(s, relative_theta(D, sm.scale), reml=reml)
    assert rel(at.params, fe) < RTOL_SAME_THETA
    assert at.llf == pytest.approx(llf, rel=1e-12)
    blup = np.array([np.asarray(sm.random_effects[g]) for g in at.random_effects.index]) / re_unit
    np.testing.assert_allclose(at.random_effects.to_numpy(), blup, rtol=RTOL_SAME_THETA, atol=1e-12)
    cond = np.array([np.asarray(sm.random_effects_cov[g]) for g in at.random_effects.index])
    # statsmodels computes Var(b|y) as D - D Z'V^-1 Z D, which cancels digits (ours: (D^-1 + Z'Z/s2)^-1).
    np.testing.assert_allclose(at.random_effects_cov, cond / np.outer(re_unit, re_unit), rtol=1e-7)
    # At the two optima (statsmodels' BFGS with gtol 1e-8 gets within 1e-6).
    assert ours.llf >= llf - 1e-12 * abs(llf)
    assert ours.llf == pytest.approx(llf, rel=RTOL_OPTIMUM)
    assert rel(ours.params, fe) < RTOL_OPTIMUM
    sd = np.sqrt(np.diag(D))
    assert rel(np.sqrt(np.diag(ours.cov_re.to_numpy())), sd) < RTOL_OPTIMUM
    assert ours.scale == pytest.approx(sm.scale, rel=RTOL_OPTIMUM)
    return ours


@pytest.mark.parametrize("random_slope", [True, False], ids=["slope", "intercept"])
def test_agrees_with_statsmodels_on_300_patients(paper, random_slope):
    ids = np.sort(paper["person_id"].unique())[:300]
    d = paper[paper["person_id"].isin(ids)].reset_index(drop=True)
    X = AlsfrsMixedModel().design(d)
    s = LmmSums.from_visits(d["score"], X, d["person_id"], d["months"] if random_slope else None,
                            time_name="months")  # fmt: skip
    check_statsmodels(d, X, "person_id", "months" if random_slope else None, True, s)


@pytest.mark.slow
@pytest.mark.parametrize("reml", [True, False], ids=["REML", "ML"])
def test_agrees_with_statsmodels_at_paper_scale(paper, reml):
    """A few seconds per statsmodels fit."""
    X = AlsfrsMixedModel().design(paper)
    check_statsmodels(paper, X, "person_id", "months", reml, paper_sums(paper))


# --------------------------------------------------------------------------- bad input


def test_a_patient_with_one_visit_contributes():
    d = simulate(groups=80, seed=5)
    single = d.groupby("g").head(1).loc[lambda f: f["g"] < 30]  # patients 0-29 keep only their first visit
    d1 = pd.concat([single, d[d["g"] >= 30]]).reset_index(drop=True)
    fit = fit_lmm(sums_of(d1))
    without = fit_lmm(sums_of(d1[d1["g"] >= 30].reset_index(drop=True)))
    assert fit.converged and fit.n_groups == 80 and without.n_groups == 50
    assert fit.llf != without.llf and rel(fit.params, without.params) > 1e-6  # they count
    beta, _, ll, blup, cond = dense_reference(d1, fit.cov_re.to_numpy(), fit.scale, True)
    assert rel(fit.params, beta) < 1e-10 and fit.llf == pytest.approx(ll, rel=1e-12)
    np.testing.assert_allclose(fit.random_effects.to_numpy(), blup, rtol=1e-9, atol=1e-12 * np.abs(blup).max())
    assert rel(fit.random_effects_cov, cond) < 1e-10
    X = design(d1)
    check_statsmodels(d1, X, "g", "t", True, sums_of(d1))


def test_zero_slope_variance_gives_a_flagged_boundary_fit():
    """No random slope in the data: the maximum has a singular D, reported with a flag and a warning."""
    d = simulate(groups=200, slope_sd=0.0, seed=1)  # a seed whose REML maximum is on the boundary
    with pytest.warns(BoundaryWarning, match="singular at the estimate"):
        fit = fit_lmm(sums_of(d))
    assert fit.on_boundary and fit.converged
    assert fit.theta[2] == 0.0
    assert fit.warnings and "boundary" in fit.warnings[0]
    D = fit.cov_re.to_numpy()
    assert np.all(np.isfinite(D)) and np.all(np.isfinite(fit.params)) and np.all(np.isfinite(fit.bse))
    assert abs(np.linalg.det(D)) <= 1e-12 * D[0, 0] * D[1, 1]
    assert np.all(np.isfinite(fit.random_effects.to_numpy()))
    # A maximum: moving off the boundary in L22 (either sign: l depends on L22^2) lowers the likelihood,
    # and it is at least as high as the random-intercept model nested in it.
    s = sums_of(d)
    for eps in (1e-3, 1e-2):
        assert profiled_loglik(fit.theta + np.array([0, 0, eps]), s, True) < fit.llf
    assert fit.llf >= fit_lmm(sums_of(d, random_slope=False)).llf
    assert "D singular (boundary)" in fit.summary().splitlines()[0]


def as_alsfrs(d: pd.DataFrame) -> tuple[pd.DataFrame, AlsfrsMixedModel]:
    """Simulated visits as ALSFRS-R data, with the model of one exposure and one covariate."""
    data = pd.DataFrame(
        {
            "person_id": d["g"],
            "months": d["t"],
            "score": d["y"],
            "anxiolytics": d["x"],
            "age_per_decade": d["g"] % 7 - 3.0,
        }
    )
    return data, AlsfrsMixedModel(exposures=("anxiolytics",), covariates=("age_per_decade",))


def test_zero_slope_variance_through_alsfrs_model_is_recorded():
    data, model = as_alsfrs(simulate(groups=200, slope_sd=0.0, seed=1))
    result = model.fit(data)
    assert result.on_boundary and result.warnings and result.warnings[0].startswith("BoundaryWarning")
    assert "Warnings while fitting" in result.summary()


def test_identical_visit_times():
    """Everyone seen at the same times: fine with three visits or more; with two, the variances are confounded."""
    d = simulate(groups=150, times=[0, 3, 6, 12], seed=6)
    fit = fit_lmm(sums_of(d))
    assert fit.converged and not fit.on_boundary
    beta, _, ll, _, _ = dense_reference(d, fit.cov_re.to_numpy(), fit.scale, True)
    assert rel(fit.params, beta) < 1e-10 and fit.llf == pytest.approx(ll, rel=1e-12)
    check_statsmodels(d, design(d), "g", "t", True, sums_of(d))
    two = simulate(groups=150, times=[0, 6], seed=6)
    with pytest.raises(LmmError, match="not separately identified"):
        fit_lmm(sums_of(two))
    assert fit_lmm(sums_of(two, random_slope=False)).converged  # a random intercept is identified
    data, model = as_alsfrs(two)
    with pytest.raises(MixedModelError, match="not separately identified"):
        model.fit(data)


def test_too_few_patients_or_visits_and_bad_designs_say_why():
    d = simulate(groups=10, seed=7)
    with pytest.raises(LmmError, match="needs at least two"):
        sums_of(d[d["g"] == 0])
    tiny = d[d["g"] < 2].groupby("g").head(2).reset_index(drop=True)  # 4 rows, 4 fixed effects
    with pytest.raises(LmmError, match="rows for 4 fixed effects"):
        sums_of(tiny)
    with pytest.raises(LmmError, match="rank deficient"):
        LmmSums.from_visits(d["y"], design(d).assign(x2=2 * d["x"]), d["g"], d["t"])
    with pytest.raises(LmmError, match="non-finite"):
        LmmSums.from_visits(d["y"].where(d.index != 3), design(d), d["g"], d["t"])
    five = pd.concat([d[d["g"] == 0].head(3), d[d["g"] == 1].head(2)])  # 5 rows: 2 fixed + 4 variance parameters
    with pytest.raises(LmmError, match="5 rows for 2 fixed effects and 4 variance parameters"):
        fit_lmm(LmmSums.from_visits(five["y"], design(five)[["Intercept", "t"]], five["g"], five["t"]))


# --------------------------------------------------------------------------- the joint model's start


def test_joint_start_is_this_fitter():
    """fit_mixed (from the joint model's per-patient sums) equals fit_lmm on the visit rows, ML."""
    d = simulate(groups=120, seed=8)
    long = d.rename(columns={"g": "id"})
    surv = long.groupby("id", as_index=False).agg(T=("t", "max"), x=("x", "first"))
    surv["T"] += 1.0
    surv["event"] = (surv["id"] % 2).astype(float)
    spec = JointSpec(id="id", time="t", y="y", level=("x",), slope=("x",), surv_time="T", event="event", surv=("x",))
    mixed = fit_mixed(prepare_joint_data(long, surv, spec))
    direct = fit_lmm(sums_of(d), reml=False)
    assert mixed.optimum.converged and direct.converged
    # (Intercept, x) then (t, x:t) in the joint model's order.
    np.testing.assert_allclose(mixed.theta[:4], direct.params[["Intercept", "x", "t", "x:t"]], rtol=1e-9)
    np.testing.assert_allclose(mixed.D, direct.cov_re.to_numpy(), rtol=1e-8)
    assert mixed.sigma == pytest.approx(np.sqrt(direct.scale), rel=1e-9)
    assert mixed.llf == pytest.approx(direct.llf, rel=1e-12)
    np.testing.assert_allclose(mixed.eb_mean, direct.random_effects.to_numpy(), rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(mixed.eb_cov, direct.random_effects_cov, rtol=1e-8)
    L = np.linalg.cholesky(mixed.D)
    np.testing.assert_allclose(mixed.theta[-3:], [np.log(L[0, 0]), L[1, 0], np.log(L[1, 1])], rtol=1e-12)


def test_an_optimiser_stopped_early_says_so(paper):
    """An iteration limit reached is a result flagged not converged, with the reason, never a silent one."""
    fit = fit_lmm(paper_sums(paper), maxiter=1)
    assert not fit.converged and "maxiter" in fit.message and fit.warnings == [fit.message]
    result = AlsfrsMixedModel(maxiter=1).fit(paper)
    assert not result.converged and any("maxiter" in w for w in result.warnings)
    assert "converged: NO" in result.summary()
