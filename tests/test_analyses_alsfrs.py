"""The analysis ``alsfrs_mixed_model`` and what notebook 06 shows from it.

* **The analysis** writes its two declared files on a small synthetic study, from the fits
  notebook 06 shares (:func:`alsmeds.analyses.alsfrs.fit_mixed_models`): the main model's
  rows, then the random-effects comparison; a model that cannot be fitted gives one
  not-estimable row per term with the reason.
* **From the results file** (:mod:`alsmeds.reporting.alsfrs_results`): the fixed effects,
  variance components and slopes read back from ``alsfrs_mixed_model.csv`` equal those of
  the fitted model (the file keeps 8 significant digits), and every sentence and table of
  the notebook says why when a term or the whole model cannot be estimated.
* **Beside the planted truth**, the dropout scenarios' tables, the try-this variants.

Byte-identity with the committed ``results/alsfrs_mixed_model.*`` is checked by ``make
reproduce`` (and was checked by hand when the notebook's code moved here).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from alsmeds import paths
from alsmeds.analyses import AnalysisContext, read_results_file, read_spec, run_analyses
from alsmeds.analyses import run as run_module
from alsmeds.analyses.alsfrs import MixedModelFits, alsfrs_mixed_model, fit_mixed_models
from alsmeds.analyses.registry import ANALYSES
from alsmeds.data.registry import read_registry
from alsmeds.derive.alsfrs import build_alsfrs_data, describe_visits
from alsmeds.derive.cohort import case_exposures
from alsmeds.models.mixed import MIXED_MODEL_RESULT_COLUMNS, AlsfrsMixedModel, compare_random_effects
from alsmeds.reporting.alsfrs_results import (
    dropout_bias_frame,
    dropout_bias_text,
    dropout_target_text,
    fit_text,
    fixed_effects_frame,
    followup_slopes_text,
    main_model_rows,
    mixed_model_tables,
    planted_lines_text,
    planted_mean_lines,
    planted_slope_tables,
    planted_slopes_frame,
    planted_variance_text,
    random_effects_frame,
    random_effects_text,
    residual_text,
    results_file_text,
    selection_text,
    slope_tables,
    slope_variants,
    slopes_frame,
    slopes_text,
    variance_components,
    variance_components_frame,
    visits_text,
)
from alsmeds.study import Study
from alsmeds.truth import read_truth

#: Relative precision of a float read back from a results file (8 significant digits).
READ_BACK = 1e-7


# --------------------------------------------------------------------------- the analysis


@pytest.fixture(scope="module")
def study() -> Study:
    """A small synthetic study (about 100 cases) with its planted parameters, without the implied estimands."""
    return Study.synthetic(seed=3, scale=0.1, implied=False)


@pytest.fixture(scope="module")
def written(study, tmp_path_factory):
    """The analysis run on the small study: (report, results folder)."""
    out = tmp_path_factory.mktemp("alsfrs") / "results"
    state = tmp_path_factory.mktemp("state")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(run_module, "STATE_DIR", state)
        report = run_analyses(study, results_dir=out, only=["alsfrs_mixed_model"], progress=False)
    return report, out


def test_the_analysis_writes_its_declared_files(written):
    report, out = written
    assert report.ran == ["alsfrs_mixed_model"]
    declared = set(ANALYSES["alsfrs_mixed_model"].outputs)
    assert declared == {"alsfrs_mixed_model.csv", "alsfrs_mixed_model.json"}
    assert {p.name for p in report.written} == declared == {p.name for p in out.iterdir()}
    payload = json.loads((out / "alsfrs_mixed_model.json").read_text())
    assert payload["schema"] == MIXED_MODEL_RESULT_COLUMNS
    frame = read_results_file(out / "alsfrs_mixed_model.csv")
    assert list(frame.columns) == list(MIXED_MODEL_RESULT_COLUMNS)
    assert len(payload["estimates"]) == len(frame)


def test_the_file_holds_the_fits_the_notebook_shares(study, written):
    """The rows read back are the main model's rows, then the ML comparison, of :func:`fit_mixed_models`."""
    _, out = written
    fits = fit_mixed_models(study.alsfrs_data)
    assert fits.result is not None and fits.reason == "" and fits.converged
    expected = fits.estimates()
    frame = read_results_file(out / "alsfrs_mixed_model.csv")
    assert list(frame["term"]) == list(expected["term"])
    assert list(frame["kind"]) == list(expected["kind"])
    np.testing.assert_allclose(frame["estimate"], expected["estimate"].astype(float), rtol=READ_BACK)
    main = frame[frame["method"] == "REML"]
    assert len(main) == len(fits.result.to_frame())
    comparison = frame[frame["kind"] == "model_comparison"]
    assert set(comparison["model"]) == {"random_intercept", "random_intercept_slope"}
    lr = comparison[comparison["term"] == "lr_statistic_vs_random_intercept"]
    assert float(lr["estimate"].iloc[0]) == pytest.approx(fits.comparison["lr_statistic"].iloc[1], rel=READ_BACK)


def test_a_model_that_cannot_be_fitted_writes_why(tmp_path):
    """Visits at diagnosis only: every row not estimable, with the fitter's reason; no comparison rows."""
    registry = read_registry(paths.SYNTHETIC_DIR)
    data = build_alsfrs_data(registry, case_exposures(registry))
    at_diagnosis = data[data["visit"] == 0]
    fits = fit_mixed_models(at_diagnosis)
    assert fits.result is None and "no visit after diagnosis" in fits.reason and not fits.converged
    assert not fits.comparison["estimable"].any()
    ctx = AnalysisContext(SimpleNamespace(alsfrs_data=at_diagnosis), read_spec(), tmp_path)
    written = alsfrs_mixed_model(ctx)
    assert {p.name for p in written} == set(ANALYSES["alsfrs_mixed_model"].outputs)
    frame = read_results_file(tmp_path / "alsfrs_mixed_model.csv")
    assert not frame["estimable"].any() and (frame["reason"] == fits.reason).all()
    assert set(frame["kind"]) == {"fixed_effect"}
    assert (frame["n_obs"] == len(at_diagnosis)).all()
    # What the notebook shows of it: the reason, and no table.
    assert fit_text(frame, fits.converged) == f"the mixed model cannot be fitted to these data: {fits.reason}"
    assert slopes_text(frame).startswith("no slopes: the mixed model cannot be fitted")
    assert mixed_model_tables(frame) == [] and slope_tables(frame) == []
    assert planted_variance_text(frame, read_truth(paths.SYNTHETIC_DIR / "truth.json")).endswith("skipped")
    assert planted_slope_tables(frame, read_truth(paths.SYNTHETIC_DIR / "truth.json")) == []
    assert "no visit after diagnosis" in random_effects_text(fits.comparison)


# --------------------------------------------------------------------------- read back from the committed file


@pytest.fixture(scope="module")
def paper_data() -> pd.DataFrame:
    registry = read_registry(paths.SYNTHETIC_DIR)
    return build_alsfrs_data(registry, case_exposures(registry))


@pytest.fixture(scope="module")
def paper_fits(paper_data) -> MixedModelFits:
    return fit_mixed_models(paper_data)


@pytest.fixture(scope="module")
def committed() -> pd.DataFrame:
    """``results/alsfrs_mixed_model.csv`` as a notebook reads it (empty reasons missing)."""
    return read_results_file(paths.COMMITTED_RESULTS_DIR / "alsfrs_mixed_model.csv")


def test_tables_read_back_equal_those_of_the_fitted_model(committed, paper_fits):
    result = paper_fits.result
    fixed = fixed_effects_frame(committed)
    expected = result.fixed_effects_table()
    assert list(fixed.index) == list(expected.index) and fixed.index.name == "fixed effect"
    for column in ("estimate", "se", "ci_lower", "ci_upper"):
        np.testing.assert_allclose(fixed[column], expected[column], rtol=READ_BACK, atol=1e-12)
    assert list(fixed["unit"]) == list(expected["unit"])
    assert fixed.loc["slope of non-users of every class", "p_value"] == "<0.001"  # text, as the table shows it
    vc = variance_components_frame(committed)
    expected_vc = result.variance_components_table()
    assert list(vc.index) == list(expected_vc.index) and list(vc["unit"]) == list(expected_vc["unit"])
    np.testing.assert_allclose(vc["estimate"], expected_vc["estimate"], rtol=READ_BACK)
    slopes = slopes_frame(committed)
    expected_slopes = result.group_slopes()
    assert list(slopes["group"]) == list(expected_slopes["group"])
    np.testing.assert_allclose(slopes["estimate"], expected_slopes["estimate"], rtol=READ_BACK)
    assert slopes["estimable"].all() and (slopes["reason"] == "").all()
    assert len(main_model_rows(committed, "fixed_effect")) == len(result.params)
    tables = mixed_model_tables(committed) + slope_tables(committed)
    assert [t.caption.split(" (")[0].split(",")[0] for t in tables] == [
        "Fixed effects",
        "Variance components",
        "Slopes by prediagnostic use",
    ]


def test_sentences_read_back_from_the_committed_file(committed, paper_fits):
    result = paper_fits.result
    assert fit_text(committed, result.converged) == (
        f"REML fit on {result.n_obs:,} visits of {result.n_groups:,} patients; converged: yes"
    )
    vc = result.variance_components()
    differences = result.group_slopes().query("group == 'difference'")["estimate"].abs()
    lines = slopes_text(committed).splitlines()
    assert lines[0].startswith(f"between-patient SD of the intercept {vc['intercept_sd']:.1f} points")
    assert lines[1] == (
        f"the slope SD between patients is {vc['slope_sd'] / differences.max():.1f} times the largest "
        f"slope difference between groups ({differences.max():.2f} points/month)"
    )
    text = results_file_text(committed)
    assert text.startswith(f"{len(committed)} rows: alsfrs_mixed_model.csv, alsfrs_mixed_model.json")
    assert "model_comparison" in text and "variance_component" in text
    np.testing.assert_allclose(variance_components(committed), vc, rtol=READ_BACK)


def test_terms_not_estimable_are_named_with_their_reason(paper_data):
    """Nobody used hypnotics: the level and slope terms are left out, and the hypnotics slopes say why."""
    ids = np.sort(paper_data["person_id"].unique())[:300]
    data = paper_data[paper_data["person_id"].isin(ids)].assign(hypnotics=0)
    fits = fit_mixed_models(data)
    estimates = fits.estimates()
    text = fit_text(estimates, fits.converged).splitlines()
    assert text[1:] == [
        f"not estimable, left out: {t} ({fits.result.not_estimable[t]})" for t in ("hypnotics", "hypnotics:months")
    ]
    assert slopes_text(estimates).startswith("hypnotics: slope difference not estimable (no users of hypnotics")
    shown = slopes_frame(estimates)
    assert set(shown.loc[shown["drug_class"] == "hypnotics", "group"]) == {"reference"}
    assert "hypnotics" not in fixed_effects_frame(estimates).index.str.lower().str.cat()


# --------------------------------------------------------------------------- the planted truth


def test_slopes_beside_the_planted_values(committed):
    truth = read_truth(paths.SYNTHETIC_DIR / "truth.json")
    beside = planted_slopes_frame(committed, truth)
    assert list(beside.index) == ["reference", "users", "difference"] and beside.index.name == "slope of"
    assert list(beside["planted"]) == [
        truth.alsfrs_slope_per_month(g) for g in ("non_users_of_antidepressants", "antidepressant_users", "difference")
    ]
    inside = (beside["ci_lower"] <= beside["planted"]) & (beside["planted"] <= beside["ci_upper"])
    assert list(beside["inside 95% CI"]) == list(inside)
    tables = planted_slope_tables(committed, truth)
    assert len(tables) == 2 and list(tables[1].frame["planted"]) == [0.0, 0.0]
    lines = planted_mean_lines(truth)
    assert lines == {
        0: (truth.alsfrs_intercept_mean, truth.alsfrs_slope_per_month("non_users_of_antidepressants")),
        1: (truth.alsfrs_intercept_mean, truth.alsfrs_slope_per_month("antidepressant_users")),
    }
    assert planted_mean_lines(None) is None
    text = planted_variance_text(committed, truth)
    assert f"({truth.prognosis_parameter('slope_sd')})" in text
    assert planted_variance_text(committed, None) == "no planted truth (or no model): comparison skipped"
    assert planted_slope_tables(committed, None) == []


def test_planted_lines_and_a_real_extract(paper_data):
    people = pd.read_csv(paths.SYNTHETIC_DIR / "truth_people.csv")
    lines = planted_lines_text(people, paper_data).splitlines()
    assert lines[0].startswith("true slope above zero (the patient improves): ")
    assert f"of {(people['role'] == 'case').sum():,} simulated patients" in lines[0]
    ends = paper_data.sort_values(["person_id", "months"]).groupby("person_id")["score"].agg(["first", "last"])
    assert f"{int((ends['last'] - ends['first']).max())} points" in lines[1]
    assert planted_lines_text(None, paper_data) == "a real extract: no generator and no true lines"


# --------------------------------------------------------------------------- descriptive sentences


def test_selection_and_visits_sentences(paper_data):
    assert selection_text(paper_data).splitlines()[0] == (
        f"{'visits_in_register':28} {paper_data.attrs['selection']['visits_in_register']:>7,}"
    )
    visits = describe_visits(paper_data, by="antidepressants")
    first, second = visits_text(visits).splitlines()
    assert first.startswith(f"{visits.loc['visits per patient, mean', 'all']:.1f} visits per patient on average")
    assert second.startswith("median follow-up") and second.endswith("for users of antidepressants")
    nobody = describe_visits(paper_data.assign(antidepressants=0), by="antidepressants")
    assert visits_text(nobody).endswith("no comparison of antidepressant users and non-users: one group is empty")


def test_followup_and_residual_sentences():
    by_followup = pd.DataFrame(
        {"patients": [10, 5, 5, 20], "mean_slope": [-1.5, -1.0, -0.8, -0.5], "median_slope": [-1.4, -1, -0.8, -0.4]},
        index=["event within 12 months", "event at 12-24 months", "event after 24 months", "no event (censored)"],
    )
    assert followup_slopes_text(by_followup) == (
        "patients with an event within a year fell 3.0 times as fast as those without an event"
    )
    empty = by_followup.assign(patients=[0, 5, 5, 20])
    assert followup_slopes_text(empty).startswith("no ratio of slopes")
    diagnostics = pd.Series({"share of visits at 48": 0.081, "share of visits at 0": 0.019})
    assert residual_text(diagnostics) == "visits at the ceiling (48): 8%; at the floor (0): 2%"


def test_random_effects_comparison_for_people(paper_data):
    ids = np.sort(paper_data["person_id"].unique())[:200]
    comparison = compare_random_effects(paper_data[paper_data["person_id"].isin(ids)])
    frame = random_effects_frame(comparison)
    assert list(frame.columns) == ["model", "log-likelihood", "parameters", "AIC", "BIC", "residual SD"]
    assert list(frame["model"]) == ["random intercept only", "random intercept and slope"]
    assert list(frame["parameters"]) == list(comparison["n_params"])
    text = random_effects_text(comparison)
    assert text.startswith(f"LR statistic {comparison['lr_statistic'].iloc[1]:.1f} on 2 df; p (chi-square mixture) ")
    assert text.endswith("AIC prefers random slopes")


# --------------------------------------------------------------------------- dropout scenarios


def _scenarios() -> pd.DataFrame:
    """Two scenarios (hand-made, in the layout of ``dropout_scenarios``) of the two slope terms."""
    rows = []
    for scenario, visits, shift in (("1 complete latent", 100, 0.0), ("2 same, cut at follow-up", 60, 0.02)):
        for term, target in (("months", -0.9), ("antidepressants:months", -0.2)):
            rows.append(
                {
                    "scenario": scenario,
                    "term": term,
                    "visits": visits,
                    "estimate": target + shift,
                    "se": 0.05,
                    "sample_value": target,
                    "replicates": 10,
                    "bias": shift + 0.001,
                    "mc_se": 0.002,
                }
            )
    return pd.DataFrame(rows)


def test_dropout_tables_and_sentences():
    scenarios = _scenarios()
    wide = dropout_bias_frame(scenarios)
    assert list(wide.columns) == [
        "visits",
        "reference slope: bias",
        "MC SE",
        "antidepressant difference: bias",
        "MC SE ",
    ]
    assert list(wide["visits"]) == [100, 60]
    assert wide.loc["2 same, cut at follow-up", "reference slope: bias"] == pytest.approx(0.021)
    assert dropout_target_text(scenarios) == (
        "this sample's true slopes (the target): months -0.900, antidepressants:months -0.200"
    )
    lines = dropout_bias_text(scenarios).splitlines()
    assert lines[0] == (
        "reference slope (this sample's true value -0.900): bias in Monte Carlo SEs by scenario, 1: +0.5, 2: +10.5"
    )
    assert lines[1] == (
        "    dropout alone (scenario 2) moves it by 2.3% of its true size; the observed scores (4) by 2.3%, "
        "0.42 times the SE of the estimate"
    )
    assert lines[2].startswith("antidepressant difference (this sample's true value -0.200)")


# --------------------------------------------------------------------------- try this


def test_slope_variants_side_by_side_and_a_variant_that_fails(paper_data):
    ids = np.sort(paper_data["person_id"].unique())[:200]
    data = paper_data[paper_data["person_id"].isin(ids)]
    variants = {
        "main": (AlsfrsMixedModel(), data),
        "at diagnosis only": (AlsfrsMixedModel(), data[data["visit"] == 0]),
    }
    side = slope_variants(variants, "antidepressants")
    assert list(side.index) == ["reference slope", "antidepressant users' slope", "difference", "visits"]
    slopes = AlsfrsMixedModel().fit(data).group_slopes().set_index(["drug_class", "group"])
    reference = slopes.loc[("antidepressants", "reference")]
    assert side.loc["reference slope", "main"] == f"{reference['estimate']:.2f} (SE {reference['se']:.3f})"
    assert side.loc["visits", "main"] == f"{len(data):,}"
    assert side["at diagnosis only"].str.startswith("not estimable (").all()
    nobody = slope_variants({"no users": (AlsfrsMixedModel(), data.assign(antidepressants=0))})
    assert nobody.loc["difference", "no users"].startswith("not estimable (no users of antidepressants")
