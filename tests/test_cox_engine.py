"""The Cox engine (:mod:`alsmeds.models.cox_engine`) against R ``survival::coxph`` and lifelines.

* R (one session, :func:`alsmeds.reference.coxph.r_coxph`): coefficients, model and robust
  standard errors, both log-likelihoods, Schoenfeld residuals and ``cox.zph`` statistics agree
  to 1e-8 (relative; absolute 1e-10 for values near zero) for Efron and Breslow ties, day
  times with ties, month times with heavy ties, strata, clusters and robust variance, on
  simulated data of 1,000 rows and on survival's ``pbcseq`` baselines (``tests/data/pbcseq.csv``).
  These tests use the ``needs_r`` fixture (``tests/conftest.py``, marker ``r``).
* Exact properties: every cluster copied k times (Breslow: same estimate, naive SE / sqrt(k),
  same clustered robust SE); planted log hazard ratios recovered at 20,000 rows.
* lifelines ``CoxPHFitter`` (Efron, no strata) as a second reference.
* Clear errors for data the model cannot fit, and a flag for an infinite estimate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsmeds.models.cox_engine import CoxDataError, fit_coxph, prepare_cox_data
from alsmeds.reference.coxph import CoxphSpec, r_coxph

#: Agreement with R: relative, with an absolute floor for values near zero.
RTOL, ATOL = 1e-8, 1e-10
#: coxph.control(eps=) of the reference fits.  At R's default (1e-9) coxph stops one Newton step early
#: here: its coefficients are then about 1e-8 from the maximum (the log-likelihood 1e-12 relative), which
#: fit_coxph's extra check on the Newton step does not allow; at 1e-12 the two agree to about 1e-14.
R_EPS = 1e-12
#: Planted log hazard ratios of the simulated data.
BETA = np.array([0.5, -0.4, 0.3, 0.2, -0.1, 0.0])
NAMES = ["exposed", "female", "spinal_onset", "age10", "delay", "alsfrs"]
#: cox.zph transforms compared with R.
TRANSFORMS = ("km", "identity", "rank", "log")


def simulate(n: int, seed: int, *, beta: np.ndarray = BETA, shape: float = 1.4) -> pd.DataFrame:
    """Weibull proportional-hazards data in days (paper-like: about 70% events within three years)."""
    rng = np.random.default_rng(seed)
    X = np.column_stack(
        [
            rng.integers(0, 2, n),
            rng.integers(0, 2, n),
            rng.integers(0, 2, n),
            rng.normal(6.5, 1.0, n),
            rng.gamma(2.0, 0.5, n),
            rng.normal(0.0, 1.0, n),
        ]
    ).astype(float)
    eta = (X - X.mean(axis=0)) @ beta
    # S(t | x) = exp(-(t / scale)^shape exp(eta)): t = scale * (E / exp(eta))^(1/shape), E ~ Exp(1)
    event_days = 500.0 * (rng.exponential(size=n) * np.exp(-eta)) ** (1.0 / shape)
    censor_days = rng.uniform(200.0, 1500.0, n)
    days = np.ceil(np.minimum(event_days, censor_days))
    frame = pd.DataFrame(X, columns=NAMES)
    frame.insert(0, "event", (event_days <= censor_days).astype(int))
    frame.insert(0, "time", days)
    frame["months"] = np.ceil(days / 30.4375)
    frame["region"] = rng.integers(0, 3, n)
    frame["family"] = np.repeat(np.arange(n), rng.integers(1, 4, n))[:n]
    return frame


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    return simulate(1000, seed=20261207)


@pytest.fixture(scope="module")
def pbc() -> pd.DataFrame:
    """Baseline visit of each pbcseq patient: death (status 2) vs censoring/transplant, treatment, log bilirubin."""
    rows = pd.read_csv(Path(__file__).parent / "data" / "pbcseq.csv")
    base = rows[rows["day"] == 0].sort_values("id")
    return pd.DataFrame(
        {
            "time": base["futime"].to_numpy(float),
            "event": (base["status"] == 2).astype(int).to_numpy(),
            "trt": (base["trt"] == 1).astype(float).to_numpy(),
            "log_bili": np.log(base["bili"].to_numpy(float)),
            "id": base["id"].to_numpy(),
        }
    )


def _design(frame: pd.DataFrame, time: str = "time", extra: tuple[str, ...] = ()) -> pd.DataFrame:
    return pd.concat([frame[[time, "event"]].set_axis(["time", "event"], axis=1), frame[NAMES + list(extra)]], axis=1)


#: name -> (data, time column, fit_coxph options, also Schoenfeld and cox.zph)
def _cases(sim: pd.DataFrame, pbc: pd.DataFrame) -> dict[str, tuple[pd.DataFrame, dict, bool]]:
    days, months = _design(sim, "time", ("region", "family")), _design(sim, "months", ("region", "family"))
    return {
        "days-efron": (days, {}, True),
        "days-breslow": (days, {"ties": "breslow"}, True),
        "months-efron": (months, {}, True),
        "months-breslow": (months, {"ties": "breslow"}, True),
        "months-efron-strata": (months, {"strata": "region"}, True),
        "months-breslow-strata": (months, {"ties": "breslow", "strata": "region"}, True),
        "months-efron-cluster": (months, {"cluster": "family"}, False),
        "months-breslow-strata-cluster": (months, {"ties": "breslow", "strata": "region", "cluster": "family"}, False),
        "days-efron-robust": (days, {"robust": True}, False),
        "pbc-efron-robust": (pbc, {"robust": True}, True),
    }


@pytest.fixture(scope="module")
def cases(sim, pbc):
    return _cases(sim, pbc)


def _columns(frame: pd.DataFrame, options: dict) -> list[str]:
    skip = {"time", "event", "id", "region", "family"}
    return [c for c in frame.columns if c not in skip]


def _ours(frame: pd.DataFrame, options: dict):
    kwargs = {k: v for k, v in options.items() if k in ("ties", "robust")}
    for key in ("strata", "cluster"):
        if key in options:
            kwargs[key] = frame[options[key]].to_numpy()
    return fit_coxph(frame["time"], frame["event"], frame[_columns(frame, options)], **kwargs)


@pytest.fixture(scope="module")
def r_fits(needs_r, cases):
    specs = {}
    for name, (frame, options, residuals) in cases.items():
        cols = ["time", "event", *_columns(frame, options)]
        cols += [options[k] for k in ("strata", "cluster") if k in options]
        specs[name] = CoxphSpec(
            frame[cols],
            ties=options.get("ties", "efron"),
            strata=options.get("strata"),
            cluster=options.get("cluster"),
            robust=bool(options.get("robust", False)),
            schoenfeld=residuals,
            zph=TRANSFORMS if residuals else (),
        )
    return r_coxph(specs, eps=R_EPS)


@pytest.fixture(scope="module")
def our_fits(cases):
    return {name: _ours(frame, options) for name, (frame, options, _) in cases.items()}


def test_simulated_data_are_paper_like_with_heavy_ties(sim):
    assert len(sim) == 1000 and 0.5 < sim["event"].mean() < 0.9
    event_days = sim.loc[sim["event"] == 1, "time"]
    event_months = sim.loc[sim["event"] == 1, "months"]
    assert event_days.duplicated().sum() > 100  # tied days
    assert event_months.value_counts().max() >= 20  # heavy ties: 20+ events in one month


@pytest.mark.parametrize(
    "name",
    [
        "days-efron",
        "days-breslow",
        "months-efron",
        "months-breslow",
        "months-efron-strata",
        "months-breslow-strata",
        "months-efron-cluster",
        "months-breslow-strata-cluster",
        "days-efron-robust",
        "pbc-efron-robust",
    ],
)
def test_agrees_with_r_coxph(name, r_fits, our_fits):
    ref, ours = r_fits["models"][name], our_fits[name]
    assert ref["warnings"] == [] and ours.converged, ours.message
    assert (ours.n, ours.n_events) == (ref["n"], ref["nevent"])
    names = list(ours.names)
    np.testing.assert_allclose(ours.coef, ref["coefficients"][names], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(ours.loglik, ref["loglik"], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(ours.loglik_null, ref["loglik_null"], rtol=RTOL, atol=ATOL)
    if "robust_se" in ref:
        np.testing.assert_allclose(ours.se, ref["naive_se"][names], rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(ours.robust_se, ref["robust_se"][names], rtol=RTOL, atol=ATOL)
        # the robust and model SEs differ: comparing both is not the same comparison twice
        assert np.max(np.abs(ours.robust_se / ours.se - 1)) > 1e-3
    else:
        assert ours.robust_se is None
        np.testing.assert_allclose(ours.se, ref["se"][names], rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", ["days-efron", "months-efron", "months-breslow-strata", "pbc-efron-robust"])
def test_schoenfeld_residuals_and_cox_zph_agree_with_r(name, r_fits, our_fits):
    ref, ours = r_fits["models"][name], our_fits[name]
    names = list(ours.names)
    sch = ref["schoenfeld"]
    np.testing.assert_array_equal(ours.event_order, sch["row"].to_numpy())
    np.testing.assert_array_equal(ours.event_times, sch["time"].to_numpy())
    np.testing.assert_allclose(ours.schoenfeld_residuals(), sch[names].to_numpy(), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(ours.scaled_schoenfeld(), ref["zph_y"]["km"][names].to_numpy(), rtol=RTOL, atol=ATOL)
    for transform in TRANSFORMS:
        table = ref["zph"][transform]
        test = ours.ph_test(transform)
        assert list(test.names) == [*names, "GLOBAL"] == list(table.index)
        np.testing.assert_allclose(test.chisq, table["chisq"], rtol=RTOL, atol=ATOL, err_msg=transform)
        np.testing.assert_array_equal(test.df, table["df"])
        np.testing.assert_allclose(test.p_value, table["p"], rtol=1e-6, atol=1e-12, err_msg=transform)


def test_score_residuals_sum_to_the_score_and_give_the_robust_variance(our_fits):
    fit = our_fits["months-efron-cluster"]
    resid = fit.score_residuals()
    np.testing.assert_allclose(resid.sum(axis=0), fit.score, atol=1e-8)
    assert np.max(np.abs(fit.score)) < 1e-8  # the maximum
    family = fit.data.cluster[np.argsort(fit.data.order)]
    by_family = pd.DataFrame(fit.dfbeta()).groupby(family).sum().to_numpy()
    np.testing.assert_allclose(by_family.T @ by_family, fit.robust_var, rtol=1e-12, atol=1e-15)


def _replicate(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    return pd.concat([frame] * k, ignore_index=True)


def test_replicated_clusters_breslow_exact(sim):
    """Copy every family k times: with Breslow ties the partial likelihood is k times the original's (up to a
    constant), so the estimate is identical, the naive SE shrinks by exactly sqrt(k), and the robust SE
    clustered by the original family is unchanged (each copy has the original's score residual)."""
    k = 4
    frame = sim[["months", "event", *NAMES, "family"]].rename(columns={"months": "time"})
    big = _replicate(frame, k)
    one = fit_coxph(frame["time"], frame["event"], frame[NAMES], ties="breslow", cluster=frame["family"])
    many = fit_coxph(big["time"], big["event"], big[NAMES], ties="breslow", cluster=big["family"])
    np.testing.assert_allclose(many.coef, one.coef, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(many.se * np.sqrt(k), one.se, rtol=1e-8)
    np.testing.assert_allclose(many.robust_se, one.robust_se, rtol=1e-8)
    # without the cluster, the robust SE treats copies as independent and shrinks like the naive one
    rows = fit_coxph(big["time"], big["event"], big[NAMES], ties="breslow", robust=True)
    assert np.all(rows.robust_se < 0.6 * one.robust_se)


def test_replicated_clusters_efron_approximate(sim):
    """With Efron ties the copies of one event become tied events, whose Efron terms differ from the original's
    (k tied copies of one death are not k separate deaths), so the identities hold only approximately."""
    k = 4
    frame = sim[["time", "event", *NAMES, "family"]]
    big = _replicate(frame, k)
    one = fit_coxph(frame["time"], frame["event"], frame[NAMES], cluster=frame["family"])
    many = fit_coxph(big["time"], big["event"], big[NAMES], cluster=big["family"])
    assert np.max(np.abs(many.coef - one.coef) / one.se) < 0.05
    np.testing.assert_allclose(many.se * np.sqrt(k), one.se, rtol=0.02)
    np.testing.assert_allclose(many.robust_se, one.robust_se, rtol=0.02)
    assert np.max(np.abs(many.coef - one.coef)) > 1e-6  # not exact: the Breslow test above is the exact one


def test_recovers_planted_log_hazard_ratios():
    frame = simulate(20_000, seed=7)
    fit = fit_coxph(frame["time"], frame["event"], frame[NAMES])
    assert fit.converged and fit.n_events > 10_000
    z = (fit.coef - BETA) / fit.se
    assert np.all(np.abs(z) < 3), dict(zip(NAMES, z.round(2), strict=True))
    assert np.all(fit.se < 0.03)  # power: a 3-SE band narrower than 0.1 on every log hazard ratio
    # Strata of no consequence (the baseline is the same in each): the same truth, and convergence although
    # near the maximum a Newton step changes a log-likelihood of -1e5 by less than its rounding error.
    stratified = fit_coxph(frame["time"], frame["event"], frame[NAMES], strata=frame["region"])
    assert stratified.converged, stratified.message
    assert np.all(np.abs((stratified.coef - BETA) / stratified.se) < 3)


def test_agrees_with_lifelines(sim):
    from lifelines import CoxPHFitter

    from alsmeds.models.cox import LIFELINES_FIT_OPTIONS

    frame = sim[["time", "event", *NAMES]]
    cph = CoxPHFitter().fit(frame, "time", "event", fit_options=dict(LIFELINES_FIT_OPTIONS))
    fit = fit_coxph(frame["time"], frame["event"], frame[NAMES])
    np.testing.assert_allclose(fit.coef, cph.params_[NAMES], rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.se, cph.standard_errors_[NAMES], rtol=1e-6)
    assert fit.loglik == pytest.approx(cph.log_likelihood_, rel=1e-9)


def test_no_events_is_a_clear_error(sim):
    with pytest.raises(CoxDataError, match="no events"):
        fit_coxph(sim["time"], np.zeros(len(sim)), sim[NAMES])
    assert issubclass(CoxDataError, ValueError)


def test_constant_column_is_named(sim):
    X = sim[NAMES].assign(constant=1.0)
    with pytest.raises(ValueError, match=r"'constant' does not vary"):
        fit_coxph(sim["time"], sim["event"], X)


def test_column_constant_within_strata_is_named(sim):
    X = sim[NAMES].assign(region_effect=sim["region"] * 2.0)
    with pytest.raises(ValueError, match=r"'region_effect' constant within every stratum"):
        fit_coxph(sim["time"], sim["event"], X, strata=sim["region"])


def test_aliased_column_is_named(sim):
    X = sim[NAMES].assign(combination=sim["exposed"] - 2 * sim["age10"])
    with pytest.raises(ValueError, match=r"'combination' aliased with exposed, age10"):
        fit_coxph(sim["time"], sim["event"], X)


def test_bad_inputs_are_clear_errors(sim):
    with pytest.raises(ValueError, match="event must be 0/1"):
        fit_coxph(sim["time"], sim["event"] * 2, sim[NAMES])
    with pytest.raises(ValueError, match="time has missing"):
        fit_coxph(sim["time"].where(sim.index > 0), sim["event"], sim[NAMES])
    with pytest.raises(ValueError, match="ties must be"):
        fit_coxph(sim["time"], sim["event"], sim[NAMES], ties="exact")  # type: ignore[arg-type]


def test_monotone_likelihood_is_flagged_not_returned_as_converged(sim):
    """A covariate 1 exactly for the rows that have an event before everyone else in its risk sets:
    the likelihood rises for ever with its coefficient (R warns 'Loglik converged before variable')."""
    frame = sim[["time", "event", *NAMES]].copy()
    first = frame["time"] <= frame.loc[frame["event"] == 1, "time"].quantile(0.2)
    frame["separating"] = (first & (frame["event"] == 1)).astype(float)
    fit = fit_coxph(frame["time"], frame["event"], frame[[*NAMES, "separating"]])
    assert not fit.converged
    assert "separating" in fit.message and "infinite" in fit.message
    assert fit.coef[-1] > 5
    regular = fit_coxph(frame["time"], frame["event"], frame[NAMES])
    assert regular.converged and regular.message == ""


def test_iteration_limit_is_reported(sim):
    fit = fit_coxph(sim["time"], sim["event"], sim[NAMES], max_iter=1)
    assert not fit.converged and "did not converge in 1 iterations" in fit.message


def test_prepared_data_are_reusable_and_input_order_does_not_matter(sim):
    data = prepare_cox_data(sim["months"], sim["event"], sim[NAMES], strata=sim["region"])
    first = fit_coxph(None, None, None, data=data)
    shuffled = sim.sample(frac=1.0, random_state=3)
    again = fit_coxph(shuffled["months"], shuffled["event"], shuffled[NAMES], strata=shuffled["region"])
    np.testing.assert_allclose(again.coef, first.coef, rtol=1e-10)
    np.testing.assert_allclose(again.se, first.se, rtol=1e-10)
    assert fit_coxph(None, None, None, data=data).coef.tolist() == first.coef.tolist()
