"""``fit_clogit`` against R ``survival::clogit`` on the paper-scale comparisons.

The same design matrices (built as :func:`alsmeds.estimands.risk.fit_truth_model` builds
them) go to both; coefficients, standard errors and the log-likelihood must agree to
1e-6.  One R session fits every model (R start-up with survival takes about 2 s).

Every test here uses the ``needs_r`` fixture (``tests/conftest.py``, marker ``r``): without R
the module is skipped, except under CI (``CI`` set, as CI services do and ``.ci/run`` does):
there R is installed by ``.ci/run``, and a missing R means a broken install, which must fail
rather than skip the reference checks silently.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from statsmodels.discrete.conditional_models import ConditionalLogit

from alsmeds.constants import CLASSES
from alsmeds.estimands.risk import fit_truth_model
from alsmeds.models.clogit import fit_clogit
from alsmeds.models.design import (
    POPULATION_ADJUSTMENT,
    RELATIVE_ADJUSTMENT,
    covariate_matrix,
    drop_constant_within_sets,
    lagged_indicators,
    window_indicators,
)
from alsmeds.reference import ClogitSpec, RError, r_clogit_many, run_r_script, script_path
from alsmeds.simulate import SimulationParameters
from alsmeds.simulate.population import simulate_study_population
from alsmeds.simulate.truth import comparison_sets

pytestmark = [pytest.mark.r, pytest.mark.usefixtures("needs_r")]

#: Agreement required on coefficients, standard errors and the log-likelihood (absolute).
ATOL = 1e-6
ADJUSTMENT = {"population": POPULATION_ADJUSTMENT, "sibling": RELATIVE_ADJUSTMENT, "spouse": RELATIVE_ADJUSTMENT}

#: name -> (comparison, exposure, classes, exposure x young interaction)
MODELS: dict[str, tuple[str, str, tuple[str, ...], bool]] = {}
for _comparison in ADJUSTMENT:
    MODELS[f"{_comparison}-mutual-windows"] = (_comparison, "windows", CLASSES, False)
    for _k in CLASSES:
        MODELS[f"{_comparison}-lagged-{_k}"] = (_comparison, "lagged", (_k,), False)
MODELS["sibling-mutual-windows-x-young"] = ("sibling", "windows", CLASSES, True)
#: Models also fitted with R's Efron and Breslow methods (same likelihood with one case per set).
METHOD_CHECK = "population-mutual-windows"
#: The model also fitted with statsmodels ConditionalLogit (about 1.5 s).
STATSMODELS_CHECK = "sibling-lagged-antidepressants"


def _design(
    rows: pd.DataFrame, exposure: str, adjustment: Sequence[str], classes: Sequence[str], interaction: bool
) -> pd.DataFrame:
    """The design matrix of :func:`fit_truth_model` (checked by ``test_design_is_fit_truth_models``)."""
    X = window_indicators(rows, classes) if exposure == "windows" else lagged_indicators(rows, classes)
    if interaction:
        young = (rows["age"].to_numpy() < 65).astype(float)
        X = pd.concat([X, X.mul(young, axis=0).add_suffix(":young")], axis=1)
    X = pd.concat([X, covariate_matrix(rows, adjustment)], axis=1)
    return drop_constant_within_sets(X, rows["set_id"].to_numpy())


@pytest.fixture(scope="module")
def comparisons() -> dict[str, pd.DataFrame]:
    people = simulate_study_population(SimulationParameters(), seed=1, scale=1)
    return {c: comparison_sets(people, c) for c in ADJUSTMENT}


@pytest.fixture(scope="module")
def specs(comparisons) -> dict[str, ClogitSpec]:
    out = {}
    for name, (comparison, exposure, classes, interaction) in MODELS.items():
        rows = comparisons[comparison]
        X = _design(rows, exposure, ADJUSTMENT[comparison], classes, interaction)
        out[name] = ClogitSpec(X, (rows["role"] == "case").to_numpy(), rows["set_id"].to_numpy())
    return out


@pytest.fixture(scope="module")
def r_fits(specs):
    """Every model, plus the method check, in one R session."""
    todo = dict(specs)
    for method in ("efron", "breslow"):
        base = specs[METHOD_CHECK]
        todo[f"{METHOD_CHECK}/{method}"] = ClogitSpec(base.X, base.case, base.strata, method=method)
    return r_clogit_many(todo)


def test_paper_scale_sets(comparisons):
    assert comparisons["population"]["set_id"].nunique() == 1057
    assert len(comparisons["population"]) == 6338


@pytest.mark.parametrize("name", list(MODELS))
def test_design_is_fit_truth_models(name, comparisons, specs):
    comparison, exposure, classes, interaction = MODELS[name]
    spec = specs[name]
    ours = fit_clogit(spec.X, spec.case, spec.strata)
    library = fit_truth_model(
        comparisons[comparison], exposure, ADJUSTMENT[comparison], classes=classes, interaction_with_young=interaction
    )
    assert list(library.params.index) == list(ours.params.index)
    np.testing.assert_allclose(library.params.to_numpy(), ours.params.to_numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", list(MODELS))
def test_fit_clogit_agrees_with_r_survival_clogit(name, specs, r_fits):
    spec = specs[name]
    ours = fit_clogit(spec.X, spec.case, spec.strata)
    ref = r_fits[name]
    assert ref.warnings == []
    assert ref.method == "exact"
    assert ref.n_obs == ours.n_obs and ref.n_events == ours.n_sets
    assert list(ref.params.index) == list(ours.params.index)
    np.testing.assert_allclose(ours.params.to_numpy(), ref.params.to_numpy(), rtol=0, atol=ATOL)
    np.testing.assert_allclose(ours.bse.to_numpy(), ref.bse.to_numpy(), rtol=0, atol=ATOL)
    assert ours.loglik == pytest.approx(ref.loglik, rel=0, abs=ATOL)


@pytest.mark.parametrize("method", ["efron", "breslow"])
def test_exact_breslow_and_efron_coincide_with_one_case_per_set(method, r_fits):
    exact, other = r_fits[METHOD_CHECK], r_fits[f"{METHOD_CHECK}/{method}"]
    assert other.method == method
    np.testing.assert_allclose(other.params.to_numpy(), exact.params.to_numpy(), rtol=0, atol=1e-8)
    np.testing.assert_allclose(other.bse.to_numpy(), exact.bse.to_numpy(), rtol=0, atol=1e-8)
    assert other.loglik == pytest.approx(exact.loglik, rel=0, abs=1e-8)


def test_statsmodels_newton_agrees_with_r_and_fit_clogit(specs, r_fits):
    spec = specs[STATSMODELS_CHECK]
    sm = ConditionalLogit(np.asarray(spec.case, dtype=float), spec.X.to_numpy(), groups=spec.strata).fit(
        method="newton", disp=0
    )
    ours = fit_clogit(spec.X, spec.case, spec.strata)
    ref = r_fits[STATSMODELS_CHECK]
    for other in (ours, ref):
        np.testing.assert_allclose(sm.params, other.params.to_numpy(), rtol=0, atol=ATOL)
        np.testing.assert_allclose(sm.bse, other.bse.to_numpy(), rtol=0, atol=ATOL)
        assert sm.llf == pytest.approx(other.loglik, rel=0, abs=ATOL)


def test_r_failure_raises_with_r_stderr():
    data = pd.DataFrame({"case": [1, 0], "strata": [1, 1], "x": [0.5, 1.5]})
    with pytest.raises(RError, match=r"column\(s\) not in data.csv: absent_column"):
        run_r_script("clogit", {"data": data}, {"covariates": ["absent_column"]})


def test_script_names_are_plain_stems():
    assert script_path("clogit").name == "clogit.R"
    for bad in ("../clogit", "clogit.R/..", "no_such_script"):
        with pytest.raises(ValueError):
            script_path(bad)


@pytest.mark.parametrize(
    ("comparison", "by"), [("population", "age"), ("population", "sex"), ("sibling", "age"), ("spouse", "sex")]
)
def test_interaction_model_agrees_with_r(comparison, by, paper_table):
    """The exposure x stratum interaction model of notebook 04, fitted by R survival::clogit on the same design."""
    from alsmeds.models.risk import RiskModelSpec
    from alsmeds.models.stratified import interaction_design
    from alsmeds.reference import r_clogit

    X, case, strata = interaction_design(paper_table, RiskModelSpec(comparison, "windows", CLASSES, "adjusted"), by)
    ours = fit_clogit(X, case, strata)
    ref = r_clogit(X, case, strata)
    assert np.abs(ours.params - ref.params[ours.params.index]).max() < 1e-6
    assert np.abs(ours.bse - ref.bse[ours.bse.index]).max() < 1e-6
    assert abs(ours.loglik - ref.loglik) < 1e-6
