"""The analysis ``joint_model`` and what notebook 07 shows from it.

* **The analysis** writes its declared files (the joint model's rows, then the two-stage rows),
  from one fit per study that notebook 07 shares (:func:`alsmeds.analyses.joint.joint_fits`);
  a model that cannot be fitted gives one not-estimable row per class with the reason.
* **From the results files**: the hazard ratios, ``alpha`` and the comparison with the planted
  values read from ``joint_model.csv`` equal those of the fitted models (the file keeps 8
  significant digits), and the Cox rows are notebook 05's.
* **Checks by refitting** (:mod:`alsmeds.models.joint.checks`): quadrature nodes, baseline
  hazard, the first two visits; on a small study, so they run in seconds.

Byte-identity with the committed ``results/joint_model.*`` is checked by ``make reproduce``
(and was checked by hand when the notebook's code moved here).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alsmeds import paths
from alsmeds.analyses import read_results_file, run_analyses
from alsmeds.analyses import run as run_module
from alsmeds.analyses.joint import JointFits, fit_joint_models, joint_fits
from alsmeds.constants import CLASSES
from alsmeds.derive.joint_data import JointFrames
from alsmeds.models.joint.checks import (
    ALL_VISITS,
    FIRST_TWO_VISITS,
    baseline_check,
    first_visits,
    followup_after_last_visit,
    hazard_terms,
    quadrature_check,
    visit_contrast,
)
from alsmeds.models.joint.prognosis import JOINT_MODEL_RESULT_COLUMNS
from alsmeds.models.joint.two_stage import PREDICTED_SCORE
from alsmeds.plots.joint import panel_colour, plot_dynamic_predictions
from alsmeds.plots.palette import CLASS_COLOURS, NON_USER_COLOUR, SUMMARY_COLOUR
from alsmeds.reporting.joint_results import (
    against_planted,
    association_contrast,
    association_text,
    beside_references,
    contrast_text,
    cox_total_rows,
    direct_and_total_text,
    hazard_ratio_estimates,
    joint_parameters,
    planted_alpha,
    planted_direct_hazard_ratios,
    planted_joint_targets,
    planted_lines_text,
    prediction_panels,
    prognosis_estimates,
    readable_contrast,
    selection_text,
)
from alsmeds.study import Study

#: Relative precision of a float read back from a results file (8 significant digits).
READ_BACK = 1e-7


@pytest.fixture(scope="module")
def study() -> Study:
    """A small synthetic study (about 210 cases) with its planted parameters, without the implied estimands."""
    return Study.synthetic(seed=3, scale=0.2, implied=False)


@pytest.fixture(scope="module")
def written(study, tmp_path_factory):
    """The analysis run on the small study: (report, results folder)."""
    out = tmp_path_factory.mktemp("joint") / "results"
    state = tmp_path_factory.mktemp("state")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(run_module, "STATE_DIR", state)
        report = run_analyses(study, results_dir=out, only=["joint_model"], progress=False)
    return report, out


@pytest.fixture(scope="module")
def rows(written) -> pd.DataFrame:
    return read_results_file(written[1] / "joint_model.csv")


# --------------------------------------------------------------------------- the analysis


def test_the_analysis_writes_its_declared_files_from_the_shared_fit(study, written, rows):
    report, out = written
    assert report.ran == ["joint_model"]
    assert sorted(p.name for p in report.written) == ["joint_model.csv", "joint_model.json"]
    assert list(rows.columns) == list(JOINT_MODEL_RESULT_COLUMNS)
    assert list(rows["model"].drop_duplicates()) == ["joint_model", "two_stage_cox"]
    fits = joint_fits(study)
    assert joint_fits(study) is fits, "one fit per study, shared with the notebook"
    expected = fits.to_frame()
    assert len(rows) == len(expected)
    np.testing.assert_allclose(rows["estimate"], expected["estimate"], rtol=READ_BACK)
    alpha = rows[(rows["model"] == "two_stage_cox") & (rows["term"] == "alpha")]
    assert alpha["estimate"].iloc[0] == pytest.approx(fits.two_stage.params[PREDICTED_SCORE], rel=READ_BACK)


def test_a_model_that_cannot_be_fitted_gives_one_row_per_class_with_the_reason(study):
    frames = study.joint_data
    few = frames.surv["person_id"].iloc[:10]
    small = JointFrames(
        frames.long[frames.long["person_id"].isin(few)], frames.surv[frames.surv["person_id"].isin(few)]
    )
    fits = fit_joint_models(small)
    assert fits.joint is None and fits.two_stage is None and "patients for" in fits.reason
    table = fits.to_frame()
    assert list(table.columns) == list(JOINT_MODEL_RESULT_COLUMNS)
    assert list(table["drug_class"]) == list(CLASSES) and not table["estimable"].any()
    assert (table["reason"] == fits.reason).all() and (table["n_patients"] == 10).all()
    assert fits.summary() == f"the joint model cannot be fitted to these data: {fits.reason}"
    # and every table of the notebook reports instead of failing
    estimates = hazard_ratio_estimates(table)
    assert set(estimates["source"]) == {"joint", "two_stage"} and (estimates["reason"] == fits.reason).all()
    assert association_text(table) == f"alpha: not estimable ({fits.reason})"
    assert against_planted(table, study.planted_truth) is None
    assert prediction_panels(fits.joint, small.long, small.surv) == []
    why = f"baseline hazards not compared: the joint model cannot be fitted ({fits.reason})"
    assert baseline_check(small, fits.joint, fits.reason) == (None, why)
    contrast = visit_contrast(small, fits.joint, fits.two_stage, fits.reason)
    assert contrast.fits == {} and contrast_text(contrast) == f"{ALL_VISITS}: not estimable ({fits.reason})"
    assert association_contrast(contrast.fits).empty


# --------------------------------------------------------------------------- from the results files


def test_hazard_ratios_from_the_results_file_are_those_of_the_fits(study, rows):
    fits = joint_fits(study)
    from_file = hazard_ratio_estimates(rows)
    from_fits = prognosis_estimates(fits.joint, fits.two_stage, None)
    assert list(from_file["source"]) == list(from_fits["source"])
    assert list(from_file["drug_class"]) == list(from_fits["drug_class"])
    for column in ("log_hr", "se", "hazard_ratio", "ci_lower", "ci_upper"):
        np.testing.assert_allclose(from_file[column], from_fits[column], rtol=READ_BACK)
    assert from_file["estimable"].all() and (from_file["reason"] == "").all()


def test_a_class_left_out_keeps_its_reason_in_both_sources(rows):
    """Hypnotics made not estimable in the file: the joint and two-stage rows both carry the joint model's reason."""
    altered = rows.astype({"reason": object})
    hyp = (altered["drug_class"] == "hypnotics") & (altered["component"] == "survival")
    altered.loc[hyp & (altered["model"] == "joint_model"), ["estimable", "reason"]] = [False, "no users of hypnotics"]
    altered = altered[~(hyp & (altered["model"] == "two_stage_cox"))]
    estimates = hazard_ratio_estimates(altered).set_index(["source", "drug_class"])
    for source in ("joint", "two_stage"):
        assert not estimates.loc[(source, "hypnotics"), "estimable"]
        assert estimates.loc[(source, "hypnotics"), "reason"] == "no users of hypnotics"
        assert estimates.loc[(source, "anxiolytics"), "estimable"]


def test_cox_rows_are_the_three_class_model_of_notebook_05():
    cox = read_results_file(paths.COMMITTED_RESULTS_DIR / "survival_cox.csv")
    mutual, why = cox_total_rows(cox, 1057)
    assert why == "" and list(mutual["drug_class"]) == list(CLASSES) and (mutual["reason"] == "").all()
    assert cox_total_rows(cox, 10)[0] is None
    assert cox_total_rows(cox[cox["model"] != "mutual"])[1].endswith("no exposure term of the three-class model")
    joint = read_results_file(paths.COMMITTED_RESULTS_DIR / "joint_model.csv")
    estimates = hazard_ratio_estimates(joint, mutual)
    shown = estimates[estimates["source"] == "cox"].set_index("drug_class")
    np.testing.assert_allclose(shown["hazard_ratio"], mutual.set_index("drug_class")["hazard_ratio"])
    table = beside_references(estimates, {"anxiolytics": (1.52, 1.12, 2.05)})
    lines = direct_and_total_text(table).splitlines()
    assert [line.split(":")[0] for line in lines] == list(CLASSES)
    j, c = table.loc["anxiolytics", "joint HR"], table.loc["anxiolytics", "Cox HR (total)"]
    assert lines[0] == f"anxiolytics: direct {j:.2f} {'below' if j < c else 'at or above'} the Cox total {c:.2f}"
    nothing = "no class has both a joint-model and a Cox hazard ratio to compare"
    assert direct_and_total_text(table.drop(columns="Cox HR (total)")) == nothing
    assert direct_and_total_text(beside_references(hazard_ratio_estimates(joint.iloc[:0]), {})) == nothing


def test_beside_references_reads_the_planted_values_from_the_truth(study, rows):
    truth = study.planted_truth
    estimates = hazard_ratio_estimates(rows)
    table = beside_references(estimates, {}, truth=truth)
    planted = truth.planted_log_hr_direct_by_class
    np.testing.assert_allclose(table["planted direct HR"], [np.exp(planted[k]) for k in table.index])
    assert "implied total HR" not in table  # implied estimands not computed for this study
    assert planted_direct_hazard_ratios(truth) == {k: pytest.approx(np.exp(v)) for k, v in planted.items()}
    assert planted_direct_hazard_ratios(None) is None
    assert planted_alpha(truth) == truth.association_per_alsfrs_point and planted_alpha(None) is None


def test_association_text_is_alpha_of_the_file(study, rows):
    a = joint_fits(study).joint.association()
    slope = -joint_fits(study).joint.params["long:months"]
    lines = association_text(rows).splitlines()
    assert lines[0] == f"alpha = {a['alpha']:.4f} (95% CI {a['ci_lower']:.4f} to {a['ci_upper']:.4f}) per point"
    assert f"{a['hr_per_point_lower']:.3f} ({a['hr_per_point_lower_ci_lower']:.3f}-" in lines[1]
    assert lines[2].startswith(f"ten points lower (about {10 / slope:.0f} months")
    assert lines[2].endswith(f"{np.exp(-10 * a['alpha']):.2f} times the hazard")


def test_against_planted_uses_the_fits_parameter_names(study, rows):
    fit = joint_fits(study).joint
    params = joint_parameters(rows)
    assert set(params.index) <= set(fit.params.index)
    assert {"surv:anxiolytics", "long:months", "alpha", "log_sigma", "baseline:log_scale"} <= set(params.index)
    np.testing.assert_allclose(params["estimate"], fit.params[params.index], rtol=READ_BACK)
    check = against_planted(rows, study.planted_truth)
    targets = planted_joint_targets(study.planted_truth)
    assert list(check.index) == list(targets) and check.index.name is None
    np.testing.assert_allclose(check["z"], (check["estimate"] - check["planted"]) / check["se"])
    assert against_planted(rows, None) is None


def test_selection_and_planted_lines_are_printed_one_per_line(study):
    text = selection_text({"cases": 1057, "visits": 7584})
    assert text.splitlines() == [f"{'cases':38} {'1,057':>7}", f"{'visits':38} {'7,584':>7}"]
    lines = planted_lines_text(study.truth_people).splitlines()
    assert lines[0].startswith("cases with a planted line: ") and len(lines) == 4
    assert planted_lines_text(None) == "a real extract has no planted lines: nothing to count"


# --------------------------------------------------------------------------- dynamic predictions


def test_prediction_panels_are_a_user_and_a_non_user_in_their_group_colours(study):
    frames = study.joint_data
    panels = prediction_panels(joint_fits(study).joint, frames.long, frames.surv)
    assert [p["user"] for p in panels] == [True, False]
    assert panels[0]["title"].endswith("(antidepressant user)")
    assert [panel_colour(p) for p in panels] == [CLASS_COLOURS["antidepressants"], NON_USER_COLOUR]
    for p in panels:
        landmarks = sorted(p["curves"])
        assert landmarks[0] == p["visits"]["months"].iloc[0] and 1 <= len(landmarks) <= 3
        assert all(c["survival"].iloc[0] == pytest.approx(1.0) for c in p["curves"].values())
    axes = plot_dynamic_predictions(panels)
    assert axes.shape == (2, 2)
    assert panel_colour({"colour": "#123456", "exposure": "anxiolytics", "user": True}) == "#123456"
    assert panel_colour({}) == SUMMARY_COLOUR


# --------------------------------------------------------------------------- checks by refitting


def test_first_visits_keep_the_patients_and_their_follow_up(study):
    frames = study.joint_data
    two = first_visits(frames, 2)
    assert two.long.groupby("person_id").size().max() == 2
    assert two.surv is frames.surv and two.selection == frames.selection
    assert followup_after_last_visit(two.long, two.surv) > followup_after_last_visit(frames.long, frames.surv)
    none = followup_after_last_visit(frames.long.iloc[:0], frames.surv)
    assert none == pytest.approx(1.0), "without visits all follow-up is after the last one (diagnosis)"


def test_quadrature_check_reuses_the_fit_and_measures_the_change_in_its_ses(study):
    frames, fit = study.joint_data, joint_fits(study).joint
    table = quadrature_check(frames, nodes=(3, 5), fitted=fit)
    assert list(table.columns) == ["3 nodes", "5 nodes", "largest change / SE"]
    assert list(table.index) == hazard_terms(fit.params)
    pd.testing.assert_series_equal(table["5 nodes"], fit.params[table.index], check_names=False)
    spread = (table[["3 nodes", "5 nodes"]].max(axis=1) - table[["3 nodes", "5 nodes"]].min(axis=1)) / fit.bse
    np.testing.assert_allclose(table["largest change / SE"], spread[table.index])
    assert (table["largest change / SE"] < 0.5).all()


def test_baseline_check_compares_the_hazard_terms_in_weibull_ses(study):
    frames, fit = study.joint_data, joint_fits(study).joint
    table, verdict = baseline_check(frames, fit)
    assert list(table.index) == hazard_terms(fit.params)
    np.testing.assert_allclose(table["difference / SE"], (table["piecewise"] - table["Weibull"]) / fit.bse[table.index])
    assert verdict.startswith(f"AIC: Weibull {fit.aic:,.1f}, piecewise constant ") and verdict.endswith("preferred)")


def test_visit_contrast_reports_first_two_visits_it_cannot_fit(study):
    """At this small size two visits per patient do not determine a random slope: said, not raised.

    Both fits on the committed data: ``tests/test_joint_prognosis.py``.
    """
    fits: JointFits = joint_fits(study)
    contrast = visit_contrast(fits.frames, fits.joint, fits.two_stage)
    assert list(contrast.fits) == [ALL_VISITS] and list(contrast.reasons) == [FIRST_TWO_VISITS]
    assert contrast.fits[ALL_VISITS] == (fits.joint, fits.two_stage, len(fits.frames.long))
    lines = contrast_text(contrast).splitlines()
    assert lines[0] == f"{FIRST_TWO_VISITS}: not estimable ({contrast.reasons[FIRST_TWO_VISITS]})"
    assert lines[1].startswith(f"{ALL_VISITS}: ") and lines[1].endswith("after the patient's last visit used")
    assert len(lines) == 2  # no ratio without both data sets
    assert list(readable_contrast(association_contrast(contrast.fits))["method"]) == ["joint model", "two-stage Cox"]
