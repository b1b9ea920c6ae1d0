"""The one-case-per-set conditional logit against statsmodels and against planted values."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.discrete.conditional_models import ConditionalLogit

from alsmeds.models.clogit import ClogitError, fit_clogit


def _matched_sets(rng, n_sets, beta, sizes=(2, 3, 4, 5, 6)):
    size = rng.choice(sizes, n_sets)
    strata = np.repeat(np.arange(n_sets), size)
    X = np.column_stack([rng.normal(size=strata.size), rng.random(strata.size) < 0.3, rng.normal(size=strata.size)])
    eta = X @ beta
    case = np.zeros(strata.size, dtype=bool)
    start = 0
    for s in size:
        p = np.exp(eta[start : start + s] - eta[start : start + s].max())
        case[start + rng.choice(s, p=p / p.sum())] = True
        start += s
    return X, case, strata


def test_agrees_with_statsmodels_conditional_logit():
    rng = np.random.default_rng(3)
    X, case, strata = _matched_sets(rng, 800, np.array([0.4, 0.7, -0.3]))
    ours = fit_clogit(X, case, strata)
    ref = ConditionalLogit(case.astype(float), X, groups=strata).fit(method="newton", disp=0)
    np.testing.assert_allclose(ours.params.to_numpy(), ref.params, atol=1e-8)
    np.testing.assert_allclose(ours.bse.to_numpy(), ref.bse, atol=1e-8)
    assert ours.loglik == pytest.approx(ref.llf, abs=1e-8)


def test_recovers_planted_log_odds_ratios_within_three_standard_errors():
    beta = np.array([0.4, 0.7, -0.3])
    X, case, strata = _matched_sets(np.random.default_rng(4), 5000, beta)
    res = fit_clogit(X, case, strata, names=["a", "b", "c"])
    assert (np.abs(res.params.to_numpy() - beta) < 3 * res.bse.to_numpy()).all()
    frame = res.to_frame()
    assert list(frame.columns) == ["coef", "se", "z", "p", "or", "or_lower", "or_upper"]
    assert (frame["or_lower"] < frame["or"]).all() and (frame["or"] < frame["or_upper"]).all()


def test_row_order_does_not_matter():
    X, case, strata = _matched_sets(np.random.default_rng(5), 300, np.array([0.2, 0.5, 0.1]))
    perm = np.random.default_rng(6).permutation(strata.size)
    a = fit_clogit(X, case, strata)
    b = fit_clogit(X[perm], case[perm], strata[perm])
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), atol=1e-12)


def test_set_with_two_cases_is_rejected():
    X, case, strata = _matched_sets(np.random.default_rng(7), 50, np.zeros(3))
    case[1] = case[0] = True
    with pytest.raises(ClogitError, match="exactly one case"):
        fit_clogit(X, case, strata)


def test_separation_is_reported_not_returned_as_a_number():
    X, case, strata = _matched_sets(np.random.default_rng(8), 200, np.zeros(3))
    X[:, 1] = case.astype(float)  # exposure perfectly predicts case status
    with pytest.raises(ClogitError):
        fit_clogit(X, case, strata)


def test_covariate_constant_within_every_set_is_rejected():
    X, case, strata = _matched_sets(np.random.default_rng(9), 200, np.zeros(3))
    X[:, 2] = strata % 3  # varies between sets only
    with pytest.raises(ClogitError, match="singular"):
        fit_clogit(X, case, strata)
