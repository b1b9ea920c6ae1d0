"""The joint model's robust (sandwich) covariance, each patient a cluster (:mod:`alsmeds.models.joint.sandwich`).

Three checks: the central-difference scores equal autograd's exact per-patient Jacobian (so the sandwich is the
one its formula defines, to 1e-6); under a correctly specified model the sandwich agrees with the inverse observed
information (information matrix equality); and where the model is wrong in a way the sandwich is built for (the
residuals of rounded and clipped scores are not normal) it departs from it.
"""

from __future__ import annotations

from dataclasses import replace

import autograd
import numpy as np
import pytest
from test_joint_model import PBC_MODEL, pbc_frames

from alsmeds.models.joint import JointModel
from alsmeds.models.joint import sandwich as sandwich_module
from alsmeds.models.joint.synthetic import PLANTED_MODEL, synthetic_joint_frames
from alsmeds.simulate import SimulationParameters, generate


def test_scores_of_a_known_function():
    """Central differences of a per-observation Poisson log-likelihood against the closed-form scores."""
    rng = np.random.default_rng(3)
    x = np.column_stack([np.ones(50), rng.standard_normal(50)])
    y = rng.poisson(np.exp(x @ [0.2, 0.5]))
    theta = np.array([0.1, 0.4])

    def terms(th):
        eta = x @ th
        return y * eta - np.exp(eta)

    exact = (y - np.exp(x @ theta))[:, None] * x
    # truncation error h^2 f''' / 6 with h = 1e-4 (1 + |theta|): about 1e-8 here
    assert np.allclose(sandwich_module.patient_scores(terms, theta), exact, rtol=1e-6, atol=1e-8)
    bread = np.linalg.inv((np.exp(x @ theta)[:, None] * x).T @ x)
    cov = sandwich_module.sandwich_covariance(exact, bread)
    assert np.allclose(cov, bread @ (exact.T @ exact) @ bread) and np.allclose(cov, cov.T)


def test_finite_difference_scores_match_autograd_on_pbc(monkeypatch):
    """The fitted sandwich with central-difference scores against the same fit with autograd's exact Jacobian."""
    long, surv = pbc_frames()
    fit = JointModel(**PBC_MODEL).fit(long, surv)

    def exact_scores(terms, theta, step=None):
        return autograd.jacobian(terms)(np.asarray(theta, dtype=float))

    monkeypatch.setattr("alsmeds.models.joint.fitting.patient_scores", exact_scores)
    exact = JointModel(**PBC_MODEL).fit(long, surv)
    assert np.allclose(fit.theta, exact.theta, rtol=0, atol=0)
    relative = np.abs(fit.robust_bse / exact.robust_bse - 1)
    assert relative.max() < 1e-6, relative.sort_values().tail(3)
    assert np.all(np.isfinite(fit.robust_bse))


@pytest.fixture(scope="module")
def latent_frames():
    """Twice the paper's size, ALSFRS-R recorded as the latent score (the planted normal model is then right)."""
    params = SimulationParameters()
    params = replace(params, prognosis=replace(params.prognosis, record_latent_scores=True))
    return synthetic_joint_frames(generate(seed=11, scale=2, truth_scale=0, params=params))


def test_sandwich_agrees_with_the_information_when_the_model_is_right(latent_frames):
    """Information matrix equality: robust / model SE within 12% for every parameter (about 2,100 patients).

    Measured on seed 11: 0.94-1.01.  The ratio of two SE estimates of about 2,100 clusters scatters by a few
    percent; a sandwich that left out the cross-products of the longitudinal and survival scores, or scaled
    the meat wrongly, would fall outside.
    """
    fit = JointModel(**PLANTED_MODEL).fit(*latent_frames)
    ratio = fit.robust_bse / fit.bse
    assert ratio.between(0.88, 1.12).all(), ratio.round(3).to_dict()


def test_sandwich_departs_where_the_residuals_are_not_normal():
    """Rounded and clipped scores under the normal model: the residual SD's sandwich SE is far from the model's.

    The normal likelihood's SE of ``log_sigma`` assumes normal residuals (kurtosis 3); scores rounded to whole
    points and piled at 48 have other moments, which only the sandwich sees (ratio 1.8 on the committed draw's
    generator at the paper's size, seed 123456).
    """
    frames = synthetic_joint_frames(generate(seed=11, scale=1, truth_scale=0))
    fit = JointModel(**PLANTED_MODEL).fit(*frames)
    assert fit.robust_bse["log_sigma"] / fit.bse["log_sigma"] > 1.3
