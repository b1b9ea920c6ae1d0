"""Every analysis and every notebook runs on register extracts other than the committed one.

The notebooks are taught on the committed synthetic data, but the bundle promises that
they run on any extract in the input contract.  Three small foreign extracts, built from
the generator and then altered the way real extracts differ, are run through every
analysis of the committed specification (:func:`alsmeds.analyses.run_analyses`, seconds
each), every output going to pytest's ``tmp_path``:

* **without truth** (scale 0.08, seed 7): ``truth.json`` and ``truth_people.csv`` are not
  written, so the extract looks like a real one and every comparison with a planted
  truth must be skipped (notebook 05 must not simulate its Cox estimand).  It also holds
  what real registers contain and the validator accepts with a warning: two cases with
  no control at all, two cases whose only controls are siblings, and three ALSFRS-R
  assessments on the same day as another one of the same patient.
* **population controls only, hypnotics never used** (scale 0.08, seed 11): every
  sibling and spouse row is removed from ``study_population`` (with the persons and
  their rows), and every dispensing of N05C and of the negative control A02BC; so two
  comparisons have no sets and two classes have no users, and every model reports
  those cells as not estimable.
* **ten cases** (scale 0.01, seed 5: 11 cases): most models cannot be estimated, every
  analysis must still run to the end and say why.

The notebooks, which load those results and draw them, are executed once with papermill
(:func:`alsmeds.pipeline.runner.run_notebooks`) on an extract that combines the hard
cases: about 20 cases, no truth, population controls only, hypnotics and the negative
control never dispensed (:func:`notebook_extract`).  Until the analyses layer existed, the
nine notebooks ran on each of the three extracts (27 executions, about three minutes).

Below the notebook runs, unit tests check the analysis-side rules for such data on
in-memory registries (no validator involved): a case with no control is in no
comparison but in the prognosis cohort, case exposures do not depend on the controls,
same-day assessments are averaged.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from alsmeds import paths
from alsmeds.analyses import ANALYSES, run_analyses
from alsmeds.constants import CLASSES, NEGATIVE_CONTROL
from alsmeds.data.registry import Registry, read_registry
from alsmeds.data.write import write_registry
from alsmeds.derive.alsfrs import build_alsfrs_data
from alsmeds.derive.analysis_table import build_analysis_table
from alsmeds.derive.cohort import case_exposures, comparison_summary, uninformative_cases
from alsmeds.derive.survival_data import build_survival_data
from alsmeds.models.risk import RiskModelSpec, fit_risk_model, fit_standard_models
from alsmeds.pipeline.runner import discover_notebooks, run_notebooks, standard_parameters
from alsmeds.simulate import generate
from alsmeds.study import Study

#: Cases altered in the extract without truth (by rank of person id among the cases).
ALONE, SIBLINGS_ONLY, SAME_DAY = 2, 2, 3


def _write(folder: Path, tables: dict[str, pd.DataFrame], metadata: dict) -> Path:
    """Write the tables and extract.json only: no truth.json, no truth_people.csv."""
    write_registry(folder, tables, metadata)
    assert not (folder / "truth.json").exists() and not (folder / "truth_people.csv").exists()
    return folder


def _keep_members(tables: dict[str, pd.DataFrame], study_population: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Replace study_population and drop the persons (and their rows) no longer in it."""
    out = dict(tables, study_population=study_population)
    keep = set(study_population["person_id"])
    for name in ("persons", "dispensings", "diagnoses"):
        out[name] = tables[name][tables[name]["person_id"].isin(keep)]
    return out


def without_truth_extract(folder: Path, seed: int = 7, scale: float = 0.08) -> Path:
    """A simulated extract without its truth, with cases alone, sibling-only cases and same-day visits."""
    synthetic = generate(seed=seed, scale=scale, truth_scale=0)
    tables = {k: v.copy() for k, v in synthetic.tables.items()}
    sp = tables["study_population"]
    cases = np.sort(sp.loc[sp["role"] == "case", "person_id"].to_numpy())
    alone = cases[:ALONE]
    with_siblings = np.sort(sp.loc[sp["role"] == "sibling", "case_id"].unique())
    siblings_only = [c for c in with_siblings if c not in alone][:SIBLINGS_ONLY]
    drop = (sp["case_id"].isin(alone) & (sp["role"] != "case")) | (
        sp["case_id"].isin(siblings_only) & sp["role"].isin(["population_control", "spouse"])
    )
    tables = _keep_members(tables, sp[~drop])
    visits = tables["alsfrs"]
    repeat = visits.groupby("person_id").head(1).head(SAME_DAY).copy()
    repeat["alsfrs_r_total"] = (repeat["alsfrs_r_total"] - 1).clip(lower=0)  # a second assessment, one point lower
    tables["alsfrs"] = pd.concat([visits, repeat]).sort_values(["person_id", "visit_date"], kind="stable")
    return _write(folder, tables, synthetic.metadata)


def population_only_extract(
    folder: Path, seed: int = 11, scale: float = 0.08, atc_classes: tuple[str, ...] = ("N05C", "A02BC")
) -> Path:
    """A simulated extract with population controls only and no dispensing of some classes.

    Hypnotics (a study class) and proton-pump inhibitors (the negative control), as in an extract
    that holds only the psychiatric drugs.
    """
    synthetic = generate(seed=seed, scale=scale, truth_scale=0)
    tables = {k: v.copy() for k, v in synthetic.tables.items()}
    sp = tables["study_population"]
    tables = _keep_members(tables, sp[sp["role"].isin(["case", "population_control"])])
    dispensings = tables["dispensings"]
    tables["dispensings"] = dispensings[~dispensings["atc"].astype(str).str.startswith(atc_classes)]
    return _write(folder, tables, synthetic.metadata)


def ten_case_extract(folder: Path, seed: int = 5, scale: float = 0.01) -> Path:
    """A simulated extract of about ten cases, without its truth."""
    synthetic = generate(seed=seed, scale=scale, truth_scale=0)
    return _write(folder, dict(synthetic.tables), synthetic.metadata)


EXTRACTS = {
    "without_truth": without_truth_extract,
    "population_only_no_hypnotics": population_only_extract,
    "ten_cases": ten_case_extract,
}


def _tracked_outputs() -> dict[Path, float]:
    """Modification time of every file in the committed results/ and figures/ folders."""
    return {
        p: p.stat().st_mtime_ns
        for folder in (paths.COMMITTED_RESULTS_DIR, paths.ROOT / "figures")
        if folder.is_dir()
        for p in folder.iterdir()
        if p.is_file()
    }


def _estimates(results: Path, name: str) -> pd.DataFrame:
    return pd.DataFrame.from_records(json.loads((results / f"{name}.json").read_text())["estimates"])


@pytest.fixture(scope="module", params=list(EXTRACTS))
def analysed(request, tmp_path_factory) -> tuple[str, Path, Path]:
    """Run every analysis of the committed specification on one foreign extract; return (name, data, output)."""
    name = request.param
    root = tmp_path_factory.mktemp(name)
    data = EXTRACTS[name](root / "extract")
    before = _tracked_outputs()
    report = run_analyses(Study.from_extract(data), results_dir=root / "results", resume=False, progress=False)
    assert report.ran == list(ANALYSES)
    assert _tracked_outputs() == before, "an analysis wrote into the tracked results/ or figures/"
    return name, data, root


def test_every_analysis_runs_and_reports_instead_of_failing(analysed):
    name, data, root = analysed
    results = root / "results"
    assert {p.name for p in results.iterdir()} == {f for item in ANALYSES.values() for f in item.outputs}
    risk = _estimates(results, "risk_models")
    assert (risk["estimable"] | (risk["reason"].str.len() > 0)).all()  # a missing estimate always says why
    cox = _estimates(results, "survival_cox")
    assert (cox["estimable"] | (cox["reason"].str.len() > 0)).all()
    assert cox["implied_log_hr"].isna().all()  # no truth: the implied estimand is never simulated
    assert json.loads((results / "followup.json").read_text())["followup"]["planted_sample_followup_years"] is None
    assert json.loads((results / "02_exposure.json").read_text())["truth_agreement"] is None
    mixed = _estimates(results, "alsfrs_mixed_model")
    assert (mixed["estimable"] | (mixed["reason"].str.len() > 0)).all()


def notebook_extract(folder: Path) -> Path:
    """The extract the notebooks are run on: small (about 20 cases), no truth, no relatives, hypnotics never used."""
    return population_only_extract(folder, seed=5, scale=0.02)


@pytest.mark.slow
@pytest.mark.notebooks
def test_every_notebook_runs_on_a_small_extract_without_truth_relatives_or_one_class(tmp_path):
    """The lessons run on such data (the analyses' numbers are checked above, without notebooks)."""
    data = notebook_extract(tmp_path / "extract")
    before = _tracked_outputs()
    executed = run_notebooks(
        output_dir=tmp_path / "notebooks",
        parameters=standard_parameters(
            data_dir=data, figures_dir=tmp_path / "figures", results_dir=tmp_path / "results"
        ),
        progress=False,
    )
    assert [r.notebook.name for r in executed] == [nb.name for nb in discover_notebooks()]
    assert _tracked_outputs() == before, "a notebook wrote into the tracked results/ or figures/"
    for notebook in sorted((tmp_path / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(notebook, as_version=4)
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                assert out.get("output_type") != "error", (notebook.name, cell.source[:80])
                if out.get("output_type") == "stream" and out.get("name") == "stderr":
                    assert "Traceback" not in out["text"], (notebook.name, out["text"][:300])
    assert len(list((tmp_path / "figures").glob("*.png"))) > 10


def test_foreign_extract_results_say_what_could_not_be_estimated(analysed):
    name, data, root = analysed
    results = root / "results"
    registry = read_registry(data)
    risk = _estimates(results, "risk_models")
    cox = _estimates(results, "survival_cox")
    mixed = _estimates(results, "alsfrs_mixed_model")
    joint = _estimates(results, "joint_model")
    n_cases = len(registry["als_cases"])
    assert set(cox["n"].dropna()) <= {n_cases}  # every case is in the prognosis cohort
    if name == "without_truth":
        assert {w.rule for w in registry.warnings} == {"case_without_controls", "same_day_alsfrs"}
        table = build_analysis_table(registry)  # built by the notebooks, not stored (results/README.md)
        assert table.loc[table["comparison"] == "population", "set_id"].nunique() == n_cases - ALONE - SIBLINGS_ONLY
        assert set(uninformative_cases(registry)["person_id"]) == set(np.sort(registry["als_cases"]["person_id"])[:2])
        assert risk["estimable"].sum() > len(risk) / 2
        assert int(mixed["n_patients"].max()) == registry["alsfrs"]["person_id"].nunique()
    elif name == "population_only_no_hypnotics":
        relatives = risk[risk["comparison"].isin(["sibling", "spouse"])]
        assert not relatives["estimable"].any()
        assert set(relatives["reason"]) == {f"no matched set with {c} controls" for c in ("sibling", "spouse")}
        hypnotics = risk[(risk["comparison"] == "population") & (risk["drug_class"] == "hypnotics")]
        assert not hypnotics["estimable"].any()
        assert set(hypnotics["reason"]) == {"no discordant matched set"}
        others = risk[(risk["comparison"] == "population") & (risk["drug_class"] != "hypnotics")]
        assert others["estimable"].any()
        cox_hyp = cox[cox["term"] == "use_hypnotics"]
        assert not cox_hyp["estimable"].any() and set(cox_hyp["reason"]) == {"no users of hypnotics"}
        assert cox[cox["term"] == "use_anxiolytics"]["estimable"].all()
        slope = mixed[(mixed["term"] == "hypnotics:months") & (mixed["kind"] == "fixed_effect")]
        assert len(slope) == 1 and not slope["estimable"].iloc[0]
        assert slope["reason"].iloc[0].startswith("no users of hypnotics")
        hyp = joint[(joint["model"] == "joint_model") & (joint["drug_class"] == "hypnotics")]
        assert set(hyp["term"]) == {"hypnotics", "hypnotics:months"} and not hyp["estimable"].any()
        assert {r.split(" among")[0] for r in hyp["reason"]} == {"no users of hypnotics"}
        assert joint[(joint["model"] == "joint_model") & (joint["drug_class"] == "anxiolytics")]["estimable"].all()
        sensitivity = _estimates(results, "sensitivity_analyses")
        negative = sensitivity[sensitivity["drug_class"] == NEGATIVE_CONTROL]
        assert len(negative) and not negative["estimable"].any() and (negative["reason"].str.len() > 0).all()
        assert sensitivity[sensitivity["drug_class"] == "anxiolytics"]["estimable"].all()
    else:
        assert n_cases < 15
        assert (~risk["estimable"]).any()
        assert not joint["estimable"].any() and set(joint["drug_class"]) == set(CLASSES)
        assert joint["reason"].str.contains("patients for").all()


# --------------------------------------------------------------------------- analysis-side rules, in memory


@pytest.fixture(scope="module")
def altered() -> tuple[Registry, list[int], list[int]]:
    """The committed data with two cases stripped of every control and two left with siblings only."""
    registry = read_registry(paths.SYNTHETIC_DIR)
    sp = registry["study_population"]
    cases = np.sort(sp.loc[sp["role"] == "case", "person_id"].to_numpy())
    with_siblings = np.sort(sp.loc[sp["role"] == "sibling", "case_id"].unique())
    alone = [int(c) for c in cases[:2]]
    siblings_only = [int(c) for c in with_siblings if c not in alone][:2]
    drop = (sp["case_id"].isin(alone) & (sp["role"] != "case")) | (
        sp["case_id"].isin(siblings_only) & sp["role"].isin(["population_control", "spouse"])
    )
    tables = dict(registry.tables, study_population=sp[~drop].reset_index(drop=True))
    return Registry(tables=tables, metadata=registry.metadata, data_dir=registry.data_dir), alone, siblings_only


def test_a_case_without_controls_is_in_no_comparison_but_counted(altered, paper_table):
    registry, alone, siblings_only = altered
    table = build_analysis_table(registry)
    assert not table["set_id"].isin(alone).any()
    summary = comparison_summary(table, registry)
    assert summary.loc["no control (uninformative)", "cases"] == 2
    assert summary.loc["population", "sets"] == 1057 - 4
    assert set(table.loc[table["set_id"].isin(siblings_only), "comparison"]) == {"sibling"}
    assert uninformative_cases(registry)["person_id"].tolist() == alone
    # The sibling sets are those of the committed data without the cases left alone.
    sibling_sets = set(paper_table.loc[paper_table["comparison"] == "sibling", "set_id"]) - set(alone)
    assert set(table.loc[table["comparison"] == "sibling", "set_id"]) == sibling_sets
    spec = RiskModelSpec("sibling", "lagged", CLASSES, "adjusted")
    fit = fit_risk_model(table, spec)
    assert fit.n_sets == len(sibling_sets) and fit.n_sets_without_controls == 0 and fit.estimates["estimable"].all()


def test_sets_of_a_case_alone_are_dropped_before_fitting_and_counted(paper_table):
    rows = paper_table[paper_table["comparison"] == "population"]
    lone = rows[rows["case"] == 1].head(3).assign(set_id=lambda d: -d["set_id"])  # three sets of a case alone
    spec = RiskModelSpec("population", "lagged", ("hypnotics",), "adjusted")
    with_lone = fit_risk_model(pd.concat([rows, lone], ignore_index=True), spec)
    plain = fit_risk_model(rows, spec)
    assert with_lone.n_sets_without_controls == 3 and plain.n_sets_without_controls == 0
    assert with_lone.estimates["log_or"].iloc[0] == plain.estimates["log_or"].iloc[0]


def test_an_empty_comparison_reports_every_term_not_estimable(paper_table):
    estimates = fit_standard_models(paper_table[paper_table["comparison"] == "population"])
    relatives = estimates[estimates["comparison"] != "population"]
    assert len(relatives) and not relatives["estimable"].any()
    assert relatives["reason"].str.startswith("no matched set with").all()
    assert estimates.loc[estimates["comparison"] == "population", "estimable"].all()


def test_case_exposures_do_not_depend_on_the_controls(altered):
    registry, alone, siblings_only = altered
    exposures = case_exposures(registry)
    original = case_exposures(read_registry(paths.SYNTHETIC_DIR))
    pd.testing.assert_frame_equal(exposures, original)
    assert set(alone + siblings_only) <= set(exposures["person_id"])


def test_cases_without_controls_stay_in_the_prognosis_cohort(altered):
    registry, alone, siblings_only = altered
    exposures = case_exposures(registry)
    survival = build_survival_data(registry, exposures)
    assert len(survival) == 1057 and set(alone + siblings_only) <= set(survival["person_id"])
    visits = build_alsfrs_data(registry, exposures)
    assert set(alone + siblings_only) <= set(visits["person_id"])
    assert visits.attrs["selection"]["no_exposure_row"] == 0


def test_same_day_assessments_are_averaged_in_both_prognosis_analyses():
    registry = read_registry(paths.SYNTHETIC_DIR)
    alsfrs = registry["alsfrs"]
    first = alsfrs.sort_values(["person_id", "visit_date"]).groupby("person_id").head(1).head(2)
    repeat = first.assign(alsfrs_r_total=first["alsfrs_r_total"] - 3)
    tables = dict(registry.tables, alsfrs=pd.concat([alsfrs, repeat], ignore_index=True))
    doubled = Registry(tables=tables, metadata=registry.metadata, data_dir=registry.data_dir)
    exposures = case_exposures(doubled)
    survival = build_survival_data(doubled, exposures).set_index("person_id")
    visits = build_alsfrs_data(doubled, exposures)
    for pid, score in zip(first["person_id"], first["alsfrs_r_total"], strict=True):
        assert survival.loc[pid, "alsfrs_baseline"] == score - 1.5
        at_dx = visits[(visits["person_id"] == pid) & (visits["visit"] == 0)]
        assert at_dx["score"].tolist() == [score - 1.5]
    assert visits.attrs["selection"]["same_day_assessments_merged"] == 2
    assert len(visits) == len(alsfrs)
