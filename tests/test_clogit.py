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
    assert list(frame.columns) == [
        "estimate", "se", "z", "p_value", "ci_lower", "ci_upper", "odds_ratio", "odds_ratio_lower", "odds_ratio_upper"
    ]  # fmt: skip
    assert list(frame.index) == ["a", "b", "c"]
    assert (frame["odds_ratio_lower"] < frame["odds_ratio"]).all()
    assert (frame["odds_ratio"] < frame["odds_ratio_upper"]).all()


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


def test_constant_and_aliased_covariates_are_named_before_fitting():
    from alsmeds.models.clogit import NotIdentifiableError
    from alsmeds.models.identifiability import non_identifiable_terms

    X, case, strata = _matched_sets(np.random.default_rng(10), 300, np.array([0.3, 0.2, 0.1]))
    between = (strata % 4).astype(float)  # varies between sets only
    aliased = X[:, 0] + 2 * X[:, 2]
    design = np.column_stack([X, between, aliased])
    names = ["a", "b", "c", "between_sets", "a_plus_2c"]
    reasons = non_identifiable_terms(design, strata, names=names, within="matched set")
    assert reasons == {"between_sets": "constant within every matched set", "a_plus_2c": "aliased with a, c"}
    with pytest.raises(NotIdentifiableError) as info:
        fit_clogit(design, case, strata, names=names)
    assert info.value.reasons == reasons
    assert "between_sets" in str(info.value) and "a_plus_2c" in str(info.value)


def test_a_covariate_that_varies_only_in_sets_without_controls_is_not_identifiable():
    X, case, strata = _matched_sets(np.random.default_rng(11), 100, np.array([0.3, 0.2, 0.1]))
    # Append 20 sets of a lone case whose covariate is 1; everywhere else it is 0.
    lone = np.arange(1000, 1020)
    X2 = np.vstack([np.column_stack([X, np.zeros(len(X))]), np.column_stack([np.zeros((20, 3)), np.ones(20)])])
    with pytest.raises(ClogitError, match="x3"):
        fit_clogit(X2, np.r_[case, np.ones(20, bool)], np.r_[strata, lone])


def test_estimate_does_not_depend_on_the_order_of_summation_at_scale():
    """At 1e5-size log-likelihoods, rounding used to decide whether the last Newton step was kept."""
    rng = np.random.default_rng(12)
    X, case, strata = _matched_sets(rng, 30_000, np.array([0.25, 0.15, -0.1]))
    reference = fit_clogit(X, case, strata)
    assert abs(reference.loglik) > 3e4
    for seed in range(3):
        perm = np.random.default_rng(100 + seed).permutation(strata.size)
        other = fit_clogit(X[perm], case[perm], strata[perm])
        # Within rounding of the optimum: far below one unit of the 8th significant digit.
        np.testing.assert_allclose(other.params.to_numpy(), reference.params.to_numpy(), rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(other.bse.to_numpy(), reference.bse.to_numpy(), rtol=1e-11)


def test_fit_stops_at_the_optimum():
    X, case, strata = _matched_sets(np.random.default_rng(13), 2000, np.array([0.4, 0.7, -0.3]))
    res = fit_clogit(X, case, strata)
    assert res.converged and np.isfinite(res.bse).all()
    # Moving any coefficient by a small fraction of its SE lowers the log-likelihood.
    for j in range(3):
        for sign in (-1, 1):
            moved = res.params.to_numpy().copy()
            moved[j] += sign * 1e-3 * res.bse.iloc[j]
            assert _loglik(X, case, strata, moved) < res.loglik


def _loglik(X, case, strata, beta):
    eta = X @ beta
    total = 0.0
    for s in np.unique(strata):
        m = strata == s
        total += eta[m & case].sum() - np.log(np.exp(eta[m]).sum())
    return total


def test_quasi_separation_never_returns_a_nan_standard_error():
    X, case, strata = _matched_sets(np.random.default_rng(14), 300, np.zeros(3))
    X[:, 1] = 0.0
    X[case, 1] = 1.0  # every case exposed, no control: the coefficient runs to infinity
    X[np.flatnonzero(~case)[:3], 1] = 0.0
    with pytest.raises(ClogitError):
        fit_clogit(X, case, strata)
