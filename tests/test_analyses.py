"""The study specification and the analyses layer: validation, the registry, resuming, a second specification.

The analyses' numbers are tested where their models are (and byte-identity with the
committed results by ``make reproduce``); here: that a specification is read and refused
as documented, that every results file has exactly one analysis, that a run resumes, and
that a specification other than the committed one runs end to end from the command line
with no code change.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
import yaml

from alsmeds import analyses, paths
from alsmeds.analyses import registry as registry_module
from alsmeds.analyses import run as run_module
from alsmeds.analyses.spec import SCHEMA_FILE, STUDY_SPEC_FILE, SpecError, StudySpec, read_spec, schema_text
from alsmeds.data.write import write_json_atomic, write_registry
from alsmeds.derive.exposure import DEFAULT_RULES
from alsmeds.pipeline.cli import main
from alsmeds.simulate import generate
from alsmeds.study import Study

EXAMPLES = sorted((paths.ROOT / "studies" / "examples").glob("*.yaml"))
#: Results files that no analysis writes: the generated index, and the stored simulation study (alsmeds simstudy).
#: Stored replicates of the simulation studies (their command writes them; analyses read them).
NOT_FROM_ANALYSES = {
    "README.md",
    "simstudy_estimates.csv.gz",
    "calibration_coverage_estimates.csv.gz",
    "simstudy_mechanisms_estimates.csv.gz",
}


# ------------------------------------------------------------------ the specification


def test_the_committed_specification_is_the_study_the_code_defaults_to():
    spec = read_spec()
    assert spec.rules == DEFAULT_RULES
    defaults = StudySpec(name=spec.name, title=spec.title, reference=spec.reference)
    assert spec == defaults  # the YAML spells out every default, so reading it changes nothing


def test_the_published_schema_is_the_schema_of_the_code_and_validates_every_specification():
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), "run: alsmeds study schema"
    schema = json.loads(schema_text())
    for path in [STUDY_SPEC_FILE, *EXAMPLES]:
        jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "x", "title": "y", "exposure": {"lag_yers": 2}}, schema)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name: x\ntitle: y\nexposure:\n  lag_yers: 2\n", "exposure.lag_yers: Extra inputs are not permitted"),
        ("name: x\ntitle: y\nexposure:\n  min_dispensings: 0\n", "exposure.min_dispensings"),
        ("name: x\ntitle: y\nexposure:\n  window_edges_years: [5, 1]\n", "window edges must satisfy"),
        ("name: x\ntitle: y\nrisk_models:\n  comparisons: [cousins]\n", "risk_models.comparisons.0"),
        ("name: x\ntitle: y\nrisk_models:\n  drug_classes: []\n", "risk_models.drug_classes"),
        ("name: x\ntitle: y\nanalyses: [risk_modles]\n", "analyses: unknown ['risk_modles']"),
        ("name: x\ntitle: y\ncodelists:\n  drug_classes: '2019-01'\n", "codelists.drug_classes: version '2019-01'"),
        ("title: y\n", "name: Field required"),
        ("- a list\n", "a specification is a mapping"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_a_bad_specification_is_refused_naming_the_file_and_the_field(tmp_path, text, says):
    path = tmp_path / "study.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as err:
        read_spec(path)
    assert str(path) in str(err.value) and says in str(err.value)


def test_a_missing_specification_is_refused(tmp_path):
    with pytest.raises(SpecError, match="cannot read"):
        read_spec(tmp_path / "nowhere.yaml")


def test_the_fingerprint_follows_every_field():
    spec = read_spec()
    assert spec.fingerprint() == read_spec().fingerprint()
    changed = spec.model_copy(update={"exposure": spec.exposure.model_copy(update={"lag_years": 2})})
    assert changed.fingerprint() != spec.fingerprint() and changed.rules.lag_years == 2


# ------------------------------------------------------------------ the registry


def test_every_results_file_is_written_by_exactly_one_analysis():
    outputs = [f for item in analyses.ANALYSES.values() for f in item.outputs]
    assert len(outputs) == len(set(outputs)), "two analyses declare the same file"
    committed = {p.name for p in paths.COMMITTED_RESULTS_DIR.iterdir() if p.is_file()} - NOT_FROM_ANALYSES
    assert committed == set(outputs), (
        f"committed but written by no analysis: {sorted(committed - set(outputs))}; "
        f"declared but not committed: {sorted(set(outputs) - committed)}"
    )


def test_needs_come_first_and_are_added():
    order = analyses.ordered()
    assert order[:2] == ["cohort", "exposure"] and order[-1] in ("reproduction", "simstudy_summary")
    for item in analyses.ANALYSES.values():
        assert all(order.index(need) < order.index(item.name) for need in item.needs)
    last = order[-1]
    assert analyses.with_needs([last])[-1] == last
    assert set(analyses.ANALYSES[last].needs) <= set(analyses.with_needs([last]))
    with pytest.raises(KeyError, match="unknown analysis"):
        analyses.with_needs(["no_such_analysis"])


def test_needs_are_checked_and_ordered_whatever_the_declaration_order():
    def declared(*items):
        return {
            name: registry_module.Analysis(name, (f"{name}.csv",), needs, lambda ctx: [], "") for name, needs in items
        }

    assert registry_module.ordered(declared(("report", ("fit",)), ("fit", ()))) == ["fit", "report"]
    with pytest.raises(ValueError, match="no analysis declares"):
        registry_module.ordered(declared(("report", ("missing",))))
    with pytest.raises(ValueError, match="form a cycle"):
        registry_module.ordered(declared(("a", ("b",)), ("b", ("a",))))
    with pytest.raises(ValueError, match="declared twice"):
        registry_module.analysis("cohort", outputs=("x.csv",))(lambda ctx: [])


# ------------------------------------------------------------------ running and resuming


@pytest.fixture(scope="module")
def small_extract(tmp_path_factory) -> Path:
    """A small simulated extract without truth.json (about 100 cases)."""
    synthetic = generate(seed=21, scale=0.1)
    folder = tmp_path_factory.mktemp("small") / "extract"
    write_registry(folder, dict(synthetic.tables), synthetic.metadata)
    return folder


@pytest.fixture
def isolated_state(tmp_path, monkeypatch) -> Path:
    """Resume records in a temporary folder, not in build/."""
    state = tmp_path / "state"
    monkeypatch.setattr(run_module, "STATE_DIR", state)
    return state


def test_a_run_resumes_and_reruns_what_changed(small_extract, tmp_path, isolated_state):
    study = Study.from_extract(small_extract)
    out = tmp_path / "results"
    first = analyses.run_analyses(study, results_dir=out, only=["risk_models"], progress=False)
    assert first.ran == ["risk_models"] and {p.name for p in first.written} == {"risk_models.csv", "risk_models.json"}
    assert isolated_state.is_dir() and not any(p.name.startswith(".") for p in out.iterdir())
    again = analyses.run_analyses(study, results_dir=out, only=["risk_models"], progress=False)
    assert again.ran == [] and again.skipped == ["risk_models"]
    (out / "risk_models.json").unlink()  # a lost output is written again
    assert analyses.run_analyses(study, results_dir=out, only=["risk_models"], progress=False).ran == ["risk_models"]
    spec = read_spec()
    other = spec.model_copy(update={"risk_models": spec.risk_models.model_copy(update={"exposures": ("lagged",)})})
    rerun = analyses.run_analyses(study, other, results_dir=out, only=["risk_models"], progress=False)
    assert rerun.ran == ["risk_models"]
    assert set(pd.read_csv(out / "risk_models.csv")["exposure"]) == {"lagged"}
    full = analyses.run_analyses(study, results_dir=out, only=["risk_models"], resume=False, progress=False)
    assert full.ran == ["risk_models"]


def test_a_stopped_run_resumes_after_the_last_finished_analysis(small_extract, tmp_path, isolated_state, monkeypatch):
    study = Study.from_extract(small_extract)
    out = tmp_path / "results"
    broken = dict(analyses.ANALYSES)
    original = broken["risk_models"]

    def fails(ctx):
        raise RuntimeError("stopped")

    broken["risk_models"] = registry_module.Analysis(
        "risk_models", original.outputs, original.needs, fails, original.description
    )
    monkeypatch.setattr(run_module, "ANALYSES", broken)
    with pytest.raises(RuntimeError, match="stopped"):
        analyses.run_analyses(study, results_dir=out, only=["cohort", "risk_models"], progress=False)
    assert (out / "01_cohort.json").is_file() and not (out / "risk_models.csv").exists()
    monkeypatch.setattr(run_module, "ANALYSES", analyses.ANALYSES)
    resumed = analyses.run_analyses(study, results_dir=out, only=["cohort", "risk_models"], progress=False)
    assert resumed.skipped == ["cohort"] and resumed.ran == ["risk_models"]


def test_an_analysis_must_write_exactly_its_declared_files(small_extract, tmp_path, isolated_state, monkeypatch):
    study = Study.from_extract(small_extract)
    lazy = registry_module.Analysis("cohort", ("01_cohort.json",), (), lambda ctx: [], "writes nothing")
    monkeypatch.setattr(run_module, "ANALYSES", dict(analyses.ANALYSES, cohort=lazy))
    with pytest.raises(RuntimeError, match="did not write its declared outputs"):
        analyses.run_analyses(study, results_dir=tmp_path / "r", only=["cohort"], progress=False)


def test_a_notebook_loads_results_through_the_layer(small_extract, tmp_path, isolated_state):
    study = Study.from_extract(small_extract)
    loaded = analyses.StudyResults(study, tmp_path / "results")
    risk = loaded["risk_models.csv"]
    assert risk["estimable"].dtype == bool and (risk.loc[risk["estimable"], "reason"].isna()).all()
    assert isinstance(loaded["01_cohort.json"], dict)
    assert sorted(p.name for p in (tmp_path / "results").iterdir()) == [
        "01_cohort.json",
        "risk_models.csv",
        "risk_models.json",
    ]


# ------------------------------------------------------------------ a second specification, from the command line


def test_a_second_specification_runs_end_to_end_with_no_code_change(small_extract, tmp_path, isolated_state, capsys):
    spec_file = paths.ROOT / "studies" / "examples" / "lag2_three_dispensings.yaml"
    out = tmp_path / "lag2"
    code = main(
        ["study", "run", str(spec_file), "--data-dir", str(small_extract), "--results-dir", str(out), "--no-progress"]
    )
    assert code == 0, capsys.readouterr().err
    declared = {f for item in analyses.ANALYSES.values() for f in item.outputs}
    assert {p.name for p in out.iterdir()} == declared  # every results file, no notebook executed
    exposure = json.loads((out / "02_exposure.json").read_text())
    assert exposure["rules"]["min_dispensings"] == 3 and exposure["rules"]["lag_years"] == 2
    lags = pd.read_csv(out / "sensitivity_analyses.csv")
    assert set(lags.loc[lags["analysis"] == "exposure_lag", "lag_years"]) == {2, 3}
    # The same data under the committed study give other exposed counts: the specification was honoured.
    main_out = tmp_path / "main"
    assert (
        main(
            [
                "study",
                "run",
                "--data-dir",
                str(small_extract),
                "--results-dir",
                str(main_out),
                "--only",
                "risk_models",
                "--no-progress",
            ]
        )
        == 0
    )
    ours, theirs = pd.read_csv(out / "risk_models.csv"), pd.read_csv(main_out / "risk_models.csv")
    assert ours["exposed_cases"].sum() < theirs["exposed_cases"].sum()
    assert "ran " in capsys.readouterr().out


def test_a_specification_restricted_to_one_class_and_comparison(small_extract, tmp_path, isolated_state):
    spec = read_spec(paths.ROOT / "studies" / "examples" / "antidepressants_population.yaml")
    report = analyses.run_analyses(Study.from_extract(small_extract), spec, tmp_path / "r", progress=False)
    assert report.ran == list(spec.analyses)
    risk = pd.read_csv(tmp_path / "r" / "risk_models.csv")
    assert set(risk["drug_class"]) == {"antidepressants"} and set(risk["comparison"]) == {"population"}
    assert set(risk["exposure"]) == {"lagged"} and set(risk["adjustment"]) == {"adjusted"}
    sensitivity = pd.read_csv(tmp_path / "r" / "sensitivity_analyses.csv")
    assert set(sensitivity["drug_class"]) == {"antidepressants", "ppis"}


def test_the_command_line_refuses_a_bad_specification_and_the_committed_results(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntitle: y\nexposure: {lag_yers: 2}\n")
    assert main(["study", "run", str(bad), "--no-progress"]) == 2
    assert "exposure.lag_yers" in capsys.readouterr().err
    assert main(["study", "run", "--results-dir", str(paths.COMMITTED_RESULTS_DIR), "--no-progress"]) == 2
    assert "committed bundle" in capsys.readouterr().err
    assert main(["study", "run", "--only", "nothing", "--no-progress"]) == 2


def test_the_command_line_lists_analyses_and_checks_the_schema(capsys):
    assert main(["study", "list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in analyses.ANALYSES)
    assert main(["study", "schema", "--check"]) == 0


def test_the_results_readme_names_every_results_file_and_its_analysis():
    text = (paths.COMMITTED_RESULTS_DIR / "README.md").read_text(encoding="utf-8")
    for item in analyses.ANALYSES.values():
        for name in item.outputs:
            assert f"`{name}`" in text, f"results/README.md does not describe {name}"
        assert f"`{item.name}`" in text, f"results/README.md does not name the analysis {item.name}"
    assert "`simstudy_estimates.csv.gz`" in text


def test_an_analysis_reruns_when_a_declared_input_file_changes(small_extract, tmp_path, isolated_state, monkeypatch):
    stored = tmp_path / "stored.csv"
    stored.write_text("a\n1\n")
    calls = []

    def count(ctx):
        calls.append(1)
        return [write_json_atomic(ctx.results_dir / "x.json", {"n": len(calls)})]

    item = registry_module.Analysis("x", ("x.json",), (), count, "reads a stored file", lambda ctx: [stored])
    monkeypatch.setattr(run_module, "ANALYSES", {"x": item})
    study = Study.from_extract(small_extract)
    spec = read_spec()
    for _ in range(2):
        analyses.run_analyses(study, spec, tmp_path / "r", only=["x"], progress=False)
    assert len(calls) == 1
    stored.write_text("a\n2\n")  # a new stored study: the summary is stale
    assert analyses.run_analyses(study, spec, tmp_path / "r", only=["x"], progress=False).ran == ["x"]


def test_every_file_of_the_paper_map_is_written_by_an_analysis_of_the_study():
    from alsmeds.published import paper_map

    run = set(analyses.with_needs(read_spec().analyses))
    for entry in paper_map().itertuples():
        file_name = entry.results.split(":")[0]
        assert registry_module.producer_of(file_name).name in run, (entry.target, file_name)
