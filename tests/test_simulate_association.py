"""The generator's planted association structure (issue 24): current value, current slope, both or none.

The hazard of death or invasive ventilation is ``h0 exp(g'w + alpha (m(t) - intercept_mean) +
alpha_slope (m'(t) - slope_mean))``; the trajectory is linear, so ``m'(t) = b1`` is the patient's slope.

* **Default unchanged**: ``alpha_slope = 0`` writes the committed tables byte for byte.
* **Only the survival times change** when a slope association is planted: the latent lines and every
  draw are the same, and each event time is the one the same unit exponential gives under the new
  hazard (an exact relation, checked in closed form).
* **The hazard of the simulated times is the planted one**: a Cox model on the true slope recovers
  ``alpha_slope`` (slope-only truth, where it is correctly specified), and the exact likelihood of the
  planted parametric model recovers ``alpha`` and ``alpha_slope`` for every structure, within 3 SE.
* **The truth file says the structure**, and older truth files without it read with defaults.
* :func:`~alsmeds.simulate.prognosis.simulate_joint_recovery_data` is the joint model's planted-truth
  path: its observed frames are :func:`~alsmeds.models.joint.synthetic.synthetic_joint_frames`'; on its latent
  scores the joint model with both associations recovers every planted value (slow; skipped while
  ``JointModel`` has no ``association``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import autograd
import autograd.numpy as anp
import numpy as np
import pandas as pd
import pytest
from scipy import optimize

from alsmeds.constants import CLASSES, DAYS_PER_MONTH, DAYS_PER_YEAR
from alsmeds.models.joint.synthetic import planted_association, planted_values, synthetic_joint_frames
from alsmeds.paths import SYNTHETIC_DIR
from alsmeds.simulate import DEFAULT_SEED, generate
from alsmeds.simulate.parameters import SimulationParameters, association_structure
from alsmeds.simulate.population import rng_for, simulate_study_population
from alsmeds.simulate.prognosis import simulate_joint_recovery_data, simulate_prognosis
from alsmeds.simulate.prognosis_truth import simulate_survival_truth_sample
from alsmeds.truth import Truth, read_truth

#: Planted associations of each structure: (alpha per point, alpha_slope per point per month).
STRUCTURES = {"value": (-0.07, 0.0), "slope": (0.0, -0.5), "both": (-0.07, -0.5), "none": (0.0, 0.0)}
TOLERANCE_SE = 3.0


def with_association(value: float, slope: float) -> SimulationParameters:
    """The default parameters with the given current-value and current-slope associations."""
    params = SimulationParameters()
    prognosis = dataclasses.replace(params.prognosis, association=value, association_slope=slope)
    return dataclasses.replace(params, prognosis=prognosis)


# --------------------------------------------------------------------------- the default is unchanged


def test_default_plants_the_current_value_only():
    pr = SimulationParameters().prognosis
    assert pr.association_slope == 0.0 and pr.association == -0.07
    assert pr.association_structure == "value"
    assert SimulationParameters().to_dict()["prognosis"]["association_structure"] == "value"


def test_default_parameters_write_the_committed_tables_byte_for_byte(tmp_path):
    """The generator at the committed seed and scale, explicitly with alpha_slope = 0: every table as committed.

    (``tests/test_simulate.py::test_committed_synthetic_data_regenerate`` regenerates the whole folder,
    truth.json's implied estimands included.)
    """
    truth = read_truth(SYNTHETIC_DIR / "truth.json")
    assert (truth.seed, truth.scale) == (DEFAULT_SEED, 1.0)
    registry = generate(seed=truth.seed, scale=truth.scale, params=with_association(-0.07, 0.0))
    out = registry.write(tmp_path / "fresh")
    committed = {}
    for line in (SYNTHETIC_DIR / "MANIFEST.sha256").read_text().splitlines():
        digest, name = line.split("  ", 1)
        committed[name] = digest
    tables = sorted(name for name in committed if name != "truth.json")
    assert "alsfrs.csv" in tables and "outcomes.csv" in tables and "truth_people.csv" in tables
    for name in tables:
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == committed[name], name
    # The generator's part of truth.json (the implied sections are added by alsmeds.estimands) is the committed one.
    fresh = json.loads((out / "truth.json").read_text())
    assert fresh["parameters"] == truth.raw["parameters"]
    assert fresh["estimands"]["prognosis"] == truth.raw["estimands"]["prognosis"]


# --------------------------------------------------------------------------- only the survival times change


@pytest.fixture(scope="module")
def cases():
    people = simulate_study_population(SimulationParameters(), seed=5, scale=2)
    return people[people["role"] == "case"].reset_index(drop=True)


def test_a_slope_association_changes_only_the_survival_times(cases):
    """Same latent lines, onset and delay; each event time is the same unit exponential under the new hazard.

    Under ``log h(t) = lp + k t`` the generator sets ``H(T) = exp(lp) expm1(k T) / k = E``.  Adding the
    constant ``d = alpha_slope (b1 - slope_mean)`` to ``lp`` with the same ``E`` gives
    ``expm1(k T') = exp(-d) expm1(k T)``, ``k = alpha b1``: checked for every case, infinite times included.
    """
    base = with_association(-0.07, 0.0)
    slope = with_association(-0.07, -0.5)
    a = simulate_prognosis(rng_for(5, "prognosis"), base, cases)
    b = simulate_prognosis(rng_for(5, "prognosis"), slope, cases)
    for col in ("b0", "b1", "onset_site", "diagnostic_delay_months"):
        pd.testing.assert_series_equal(a["cases"][col], b["cases"][col])
    t0, t1 = a["cases"]["event_months"].to_numpy(), b["cases"]["event_months"].to_numpy()
    finite = np.isfinite(t0)
    assert finite.mean() > 0.9 and (t0 != t1)[finite].all()
    pr = slope.prognosis
    b1 = a["cases"]["b1"].to_numpy()
    d = pr.association_slope * (b1 - pr.slope_mean)
    k = pr.association * b1
    with np.errstate(invalid="ignore", divide="ignore"):
        inner = 1 + np.exp(-d) * np.expm1(k * t0)
        expected = np.where(inner > 0, np.log(np.where(inner > 0, inner, 1.0)) / k, np.inf)
    np.testing.assert_allclose(t1, expected, rtol=1e-9)
    assert np.isinf(t1).any() and np.isfinite(t1).mean() > 0.9


def test_registers_keep_the_latent_lines_and_the_scores_before_either_end():
    """At the register level: the answer key's lines and the scores of every visit before both ends are the same."""
    a = generate(seed=5, scale=1, params=with_association(-0.07, 0.0))
    b = generate(seed=5, scale=1, params=with_association(-0.07, -0.5))
    cols = ["person_id", "alsfrs_intercept", "alsfrs_slope_per_month"]
    pd.testing.assert_frame_equal(a.people[cols], b.people[cols])
    pd.testing.assert_frame_equal(a.tables["als_cases"], b.tables["als_cases"])
    assert not a.tables["outcomes"].equals(b.tables["outcomes"])
    visits = a.tables["alsfrs"].merge(b.tables["alsfrs"], on=["person_id", "visit_date"], suffixes=("_a", "_b"))
    assert len(visits) > 0.8 * max(len(a.tables["alsfrs"]), len(b.tables["alsfrs"]))
    assert (visits["alsfrs_r_total_a"] == visits["alsfrs_r_total_b"]).all()


# --------------------------------------------------------------------------- the hazard is the planted one


@pytest.fixture(scope="module")
def survival_samples():
    """20 x the paper's cases per structure, with their true covariates and lines (administrative censoring)."""
    return {
        name: simulate_survival_truth_sample(with_association(*values), seed=31, truth_scale=20, baseline="true")
        for name, values in STRUCTURES.items()
    }


def test_cox_on_the_true_slope_recovers_alpha_slope(survival_samples):
    """Slope-only truth: the hazard is proportional, ``h0 exp(g'w + alpha_slope b1)``; Cox on the true slope
    recovers ``alpha_slope`` and the direct effects within 3 SE."""
    from lifelines import CoxPHFitter

    data = survival_samples["slope"]
    pr = with_association(*STRUCTURES["slope"]).prognosis
    design = pd.DataFrame(
        {
            "time": data["time"],
            "event": data["event"],
            **{f"use_{k}": data[f"use_{k}"] for k in CLASSES},
            "age_per_decade": (data["age"] - 65) / 10,
            "male": data["male"],
            "bulbar": data["bulbar"],
            "b1": data["b1"],
        }
    )
    cph = CoxPHFitter().fit(design, duration_col="time", event_col="event")
    truth = {
        **{f"use_{k}": pr.log_hr_use[k] for k in CLASSES},
        "age_per_decade": pr.log_hr_per_decade_of_age,
        "male": pr.log_hr_male,
        "bulbar": pr.log_hr_bulbar,
        "b1": pr.association_slope,
    }
    z = (cph.params_ - pd.Series(truth)) / cph.standard_errors_
    assert (z.abs() < TOLERANCE_SE).all(), z
    assert cph.standard_errors_["b1"] < 0.05  # a sample large enough to tell -0.5 from 0 by far


def _negative_loglik(theta, x, b0, b1, time, event, intercept_mean, slope_mean):
    """Exact negative log-likelihood of the planted model.

    ``log h(t) = c + g'x + alpha (m(t) - intercept_mean) + alpha_s (b1 - slope_mean)``, ``m(t) = b0 + b1 t``.
    """
    c, g, alpha, alpha_slope = theta[0], theta[1:-2], theta[-2], theta[-1]
    lp = c + anp.dot(x, g) + alpha * (b0 - intercept_mean) + alpha_slope * (b1 - slope_mean)
    k = alpha * b1
    log_h = lp + k * time
    cumulative = anp.exp(lp) * anp.expm1(k * time) / k
    return -anp.sum(event * log_h - cumulative)


@pytest.mark.parametrize("structure", list(STRUCTURES))
def test_exact_likelihood_recovers_the_planted_association(structure, survival_samples):
    """For each structure the maximum-likelihood estimates of the planted parametric hazard (constant baseline,
    true lines) are within 3 SE of every planted value, ``alpha`` and ``alpha_slope`` included (0 where not
    planted); and the truth file names the structure."""
    params = with_association(*STRUCTURES[structure])
    pr = params.prognosis
    data = survival_samples[structure]
    x = np.column_stack(
        [data[f"use_{k}"] for k in CLASSES] + [(data["age"] - 65) / 10, data["male"], data["bulbar"]]
    ).astype(float)
    args = (
        x,
        data["b0"].to_numpy(),
        data["b1"].to_numpy(),
        data["time"].to_numpy() * DAYS_PER_YEAR / DAYS_PER_MONTH,
        data["event"].to_numpy().astype(float),
        pr.intercept_mean,
        pr.slope_mean,
    )
    start = np.r_[-4.0, np.zeros(x.shape[1]), -0.01, 0.01]  # alpha != 0: k = 0 is the limit, not a value

    def f(theta):
        return _negative_loglik(theta, *args)

    fit = optimize.minimize(f, start, jac=autograd.grad(f), hess=autograd.hessian(f), method="trust-exact")
    # At the optimum (trust-exact may stop on precision loss there, so the test asks the Newton decrement).
    hessian, gradient = autograd.hessian(f)(fit.x), autograd.grad(f)(fit.x)
    covariance = np.linalg.inv(hessian)
    assert np.all(np.linalg.eigvalsh(hessian) > 0)
    assert gradient @ covariance @ gradient < 1e-8, fit.message
    se = np.sqrt(np.diag(covariance))
    truth = np.r_[
        pr.log_baseline_hazard,
        [pr.log_hr_use[k] for k in CLASSES],
        pr.log_hr_per_decade_of_age,
        pr.log_hr_male,
        pr.log_hr_bulbar,
        pr.association,
        pr.association_slope,
    ]
    z = (fit.x - truth) / se
    assert np.all(np.abs(z) < TOLERANCE_SE), dict(
        zip(["c", *CLASSES, "age", "male", "bulbar", "a", "a_s"], z, strict=True)
    )
    assert se[-1] < 0.05 and se[-2] < 0.01  # precise enough to tell the structures apart
    assert generate(seed=31, scale=0.05, params=params).truth["parameters"]["prognosis"]["association_structure"] == (
        structure
    )


# --------------------------------------------------------------------------- the truth file says which


@pytest.mark.parametrize("structure", list(STRUCTURES))
def test_truth_file_records_the_structure(structure):
    value, slope = STRUCTURES[structure]
    params = with_association(value, slope)
    assert association_structure(value, slope) == params.prognosis.association_structure == structure
    truth = Truth.from_dict(generate(seed=3, scale=0.05, params=params).truth)
    assert truth.association_structure == structure
    assert truth.association_per_alsfrs_slope == slope
    assert truth.association_per_alsfrs_point == value
    assert truth.prognosis_parameter("association_slope") == slope


def test_committed_truth_says_value(committed_truth):
    prognosis = committed_truth["parameters"]["prognosis"]
    assert prognosis["association_structure"] == "value" and prognosis["association_slope"] == 0.0
    truth = Truth.from_dict(committed_truth)
    assert truth.association_structure == "value" and truth.association_per_alsfrs_slope == 0.0


def test_an_older_truth_file_reads_with_defaults(committed_truth):
    """A truth.json written before issue 24 has neither key: no slope association, the structure from alpha."""
    old = json.loads(json.dumps(committed_truth))
    for key in ("association_slope", "association_structure"):
        del old["parameters"]["prognosis"][key]
    truth = Truth.from_dict(old)
    assert truth.association_per_alsfrs_slope == 0.0 and truth.association_structure == "value"
    old["estimands"]["prognosis"]["association_per_alsfrs_point"] = 0.0
    assert Truth.from_dict(old).association_structure == "none"
    assert Truth.from_dict({"seed": 1, "scale": 1.0}).association_structure == "none"


def test_answer_key_names_the_planted_associations():
    """``alpha_slope`` joins the joint model's planted values when planted; the baseline absorbs both centrings."""
    default = planted_values(SimulationParameters())
    assert "alpha" in default and "alpha_slope" not in default
    assert planted_association(SimulationParameters()) == "value"
    for structure, names in {"value": {"alpha"}, "slope": {"alpha_slope"}, "both": {"alpha", "alpha_slope"}}.items():
        params = with_association(*STRUCTURES[structure])
        values = planted_values(params)
        assert planted_association(params) == structure
        assert {"alpha", "alpha_slope"} & set(values.index) == names
        pr = params.prognosis
        assert values["baseline:log_scale"] == pytest.approx(
            pr.log_baseline_hazard - pr.association * pr.intercept_mean - pr.association_slope * pr.slope_mean
        )
        if "alpha_slope" in names:
            assert values["alpha_slope"] == -0.5
    none = with_association(0.0, 0.0)
    assert planted_association(none) == "value" and planted_values(none)["alpha"] == 0.0
    both = planted_values(SimulationParameters(), association="both")
    assert both["alpha_slope"] == 0.0 and both["alpha"] == -0.07
    with pytest.raises(ValueError, match="leaves out the planted alpha_slope"):
        planted_values(with_association(-0.07, -0.5), association="value")
    with pytest.raises(ValueError, match="association must be one of"):
        planted_values(SimulationParameters(), association="current")


# --------------------------------------------------------------------------- recovery data at scale


def test_recovery_data_is_the_planted_truth_path():
    """Observed frames as synthetic_joint_frames cuts them (scores 0-48); latent scores are the true lines plus
    fresh N(0, residual_sd^2) noise, unclipped; the path tests/test_joint_model.py builds by hand."""
    params = with_association(-0.07, -0.5)
    data = simulate_joint_recovery_data(params, seed=29, scale=0.5, noise_rng=np.random.default_rng(2029))
    long, surv = synthetic_joint_frames(data.registry)
    pd.testing.assert_frame_equal(data.long, long)
    pd.testing.assert_frame_equal(data.surv, surv)
    assert data.long["score"].between(0, 48).all()
    assert data.registry.truth["parameters"]["prognosis"]["association_structure"] == "both"
    # By hand, as tests/test_joint_model.py's `large` fixture does.
    people = data.registry.people.set_index("person_id")
    b0 = long["person_id"].map(people["alsfrs_intercept"]).to_numpy()
    b1 = long["person_id"].map(people["alsfrs_slope_per_month"]).to_numpy()
    noise = np.random.default_rng(2029).standard_normal(len(long))
    expected = b0 + b1 * long["months"].to_numpy() + params.prognosis.residual_sd * noise
    np.testing.assert_array_equal(data.latent["score"].to_numpy(), expected)
    pd.testing.assert_frame_equal(data.latent.drop(columns="score"), long.drop(columns="score"))
    residual = data.latent["score"].to_numpy() - (b0 + b1 * long["months"].to_numpy())
    assert abs(residual.std() / params.prognosis.residual_sd - 1) < 0.02
    # The default noise stream is the seed's own and reproducible.
    again = simulate_joint_recovery_data(params, seed=29, scale=0.5)
    pd.testing.assert_frame_equal(again.latent, simulate_joint_recovery_data(params, seed=29, scale=0.5).latent)
    assert not np.array_equal(again.latent["score"], data.latent["score"])
    assert (again.latent["score"] > 48).any()  # not clipped: true intercepts above 48 exist


@pytest.mark.slow
def test_joint_model_recovers_a_planted_slope_association():
    """Latent scores of a "both" truth at 10 x the paper's cases: the joint model with ``association="both"``
    puts every parameter, ``alpha`` and ``alpha_slope`` included, within 3 SE of :func:`planted_values`."""
    from alsmeds.models.joint import JointModel
    from alsmeds.models.joint.synthetic import PLANTED_MODEL

    if "association" not in {f.name for f in dataclasses.fields(JointModel)}:
        pytest.skip("JointModel has no association structures yet")
    params = with_association(*STRUCTURES["both"])
    data = simulate_joint_recovery_data(params, seed=41, scale=10)
    result = JointModel(**PLANTED_MODEL, association=planted_association(params)).fit(data.latent, data.surv)
    assert result.converged
    frame = result.to_frame().set_index("term")
    truth = planted_values(params)
    assert {"alpha", "alpha_slope"} <= set(frame.index)
    z = (frame["estimate"] - truth.reindex(frame.index)) / frame["se"]
    assert z.notna().all() and (z.abs() < TOLERANCE_SE).all(), z[z.abs() >= TOLERANCE_SE]
