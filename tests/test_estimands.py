"""The estimands layer (issue 23): the generator fits no model; the implied estimands are a separate, cached step.

* :func:`alsmeds.simulate.generate` and ``Study.synthetic(implied=False)`` import and
  call no model-fitting code (checked on the module graph of a fresh interpreter, and by
  making every fit raise).
* :func:`alsmeds.estimands.implied.implied_truth` returns the same values computed
  afresh or read from its cache, and its key moves with the inputs and with the code the
  computation runs, not with other code.
* :func:`alsmeds.estimands.synthetic.synthetic_registry` is the generator's registry with
  the implied sections filled in, tables untouched.

That ``data/synthetic`` regenerates byte-identically through the new path is
``tests/test_simulate.py::test_committed_synthetic_data_regenerate``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import alsmeds
from alsmeds.estimands import implied as implied_module
from alsmeds.estimands.cache import cache_key, cached_json, code_version, module_closure
from alsmeds.estimands.implied import ESTIMAND_MODULES, implied_truth
from alsmeds.estimands.synthetic import synthetic_registry, with_implied_truth
from alsmeds.simulate import generate
from alsmeds.simulate.parameters import SimulationParameters
from alsmeds.simulate.truth import IMPLIED_SECTIONS, empty_implied_truth

SEED = 3
SMALL = 0.05


def test_generate_and_study_without_implied_import_no_model_code():
    """In a fresh interpreter, simulating (also through Study) loads neither the models nor the estimands layer."""
    script = (
        "import sys\n"
        "from alsmeds.simulate import generate\n"
        "from alsmeds import Study\n"
        f"generate(seed={SEED}, scale={SMALL})\n"
        f"Study.synthetic(seed={SEED}, scale={SMALL}, implied=False)\n"
        "loaded = sorted(m for m in sys.modules if m.startswith(('alsmeds.models', 'alsmeds.estimands',\n"
        "    'statsmodels', 'lifelines')))\n"
        "print(','.join(loaded))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"model code loaded: {proc.stdout.strip()}"


@pytest.fixture
def no_fits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every model fit (and the implied step itself) raises."""
    from alsmeds.estimands import cox, dropout, risk
    from alsmeds.models import clogit, mixed
    from alsmeds.models import cox as cox_model

    def refuse(*args, **kwargs):
        raise AssertionError("a model was fitted")

    for module, name in [
        (clogit, "fit_clogit"),
        (cox_model, "fit_cox"),
        (risk, "fit_clogit"),
        (cox, "fit_cox"),
        (implied_module, "compute_implied_truth"),
    ]:
        monkeypatch.setattr(module, name, refuse)
    monkeypatch.setattr(mixed.AlsfrsMixedModel, "fit", refuse)
    monkeypatch.setattr(dropout.AlsfrsMixedModel, "fit", refuse)


def test_generate_and_study_without_implied_call_no_fit(no_fits: None):
    registry = generate(seed=SEED, scale=SMALL)
    assert {k: registry.truth["estimands"][k] for k in IMPLIED_SECTIONS} == empty_implied_truth()
    assert registry.truth["this_sample"]["counts_by_role"]["case"] > 0  # descriptives are the generator's

    from alsmeds import Study

    for study in (
        Study.synthetic(seed=SEED, scale=SMALL, implied=False),
        Study.synthetic(seed=SEED, scale=SMALL, truth_scale=0),  # 0 skips, as before
    ):
        assert study.planted_truth.implied_models == []
        assert not study.planted_truth.has_implied_cox
        assert study.planted_truth.seed == SEED


def test_generate_refuses_to_compute_estimands():
    with pytest.raises(ValueError, match="fits no model"):
        generate(seed=SEED, scale=SMALL, truth_scale=1)
    with pytest.raises(ValueError, match="fits no model"):
        generate(seed=SEED, scale=SMALL, cox_truth_scale=1)


def test_the_implied_truth_round_trips_through_its_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    params = SimulationParameters()
    cold = implied_truth(params, SEED, truth_scale=1, cox_truth_scale=1, cache_dir=tmp_path)
    files = list(tmp_path.glob("*.json"))
    assert len(files) == 1
    stored = json.loads(files[0].read_text())
    assert stored["value"] == cold and stored["inputs"]["seed"] == SEED
    assert set(cold) == set(IMPLIED_SECTIONS)
    assert cold["implied"]["_truth_sample"]["truth_scale"] == 1
    assert cold["implied_cox"]["_truth_sample"]["seed"] == SEED
    assert cold["negative_control"]["implied"] and cold["published_vs_implied"]

    fresh = implied_truth(params, SEED, truth_scale=1, cox_truth_scale=1, cache=False)
    assert fresh == cold  # the same values computed afresh (same streams, same fits)

    def refuse(*args, **kwargs):
        raise AssertionError("computed again instead of read from the cache")

    monkeypatch.setattr(implied_module, "compute_implied_truth", refuse)
    warm = implied_truth(params, SEED, truth_scale=1, cox_truth_scale=1, cache_dir=tmp_path)
    assert warm == cold
    assert json.dumps(warm) == json.dumps(cold)  # same keys in the same order too


def test_zero_scales_compute_and_cache_nothing(tmp_path: Path, no_fits: None):
    assert implied_truth(SimulationParameters(), SEED, truth_scale=0, cache_dir=tmp_path) == empty_implied_truth()
    assert not list(tmp_path.iterdir())


def test_an_unreadable_cache_file_is_computed_again(tmp_path: Path):
    calls = []

    def compute():
        calls.append(1)
        return {"x": 1.0 / 3}

    assert cached_json(tmp_path, "k", compute) == {"x": 0.33333333}  # the bundle's 8 significant digits
    (tmp_path / "k.json").write_text("{not json")
    assert cached_json(tmp_path, "k", compute) == {"x": 0.33333333}
    assert cached_json(tmp_path, "k", compute) == {"x": 0.33333333}
    assert len(calls) == 2


def test_the_cache_key_follows_inputs_and_the_code_the_estimands_run(tmp_path: Path):
    inputs = {"parameters": SimulationParameters().to_dict(), "seed": SEED, "truth_scale": 1.0}
    key = cache_key(inputs, ESTIMAND_MODULES)
    assert key == cache_key(dict(inputs), ESTIMAND_MODULES)
    assert key != cache_key({**inputs, "seed": SEED + 1}, ESTIMAND_MODULES)

    closure = {p.relative_to(Path(alsmeds.__file__).parent).as_posix() for p in module_closure(ESTIMAND_MODULES)}
    assert {"estimands/risk.py", "estimands/cox.py", "models/clogit.py", "models/cox.py", "simulate/population.py"} <= (
        closure
    )
    assert not any(p.startswith(("plots/", "reporting/", "pipeline/", "analyses/")) for p in closure)
    assert "study.py" not in closure

    copy = tmp_path / "alsmeds"
    shutil.copytree(Path(alsmeds.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    version = code_version(ESTIMAND_MODULES, copy)
    assert version == code_version(ESTIMAND_MODULES)  # paths are relative to the package
    (copy / "plots" / "palette.py").write_text("# not run by the estimands\n", encoding="utf-8")
    assert code_version(ESTIMAND_MODULES, copy) == version
    with open(copy / "models" / "clogit.py", "a", encoding="utf-8") as fh:
        fh.write("\n# an edit of a fitted model\n")
    assert code_version(ESTIMAND_MODULES, copy) != version


def test_synthetic_registry_is_the_generator_with_the_implied_sections(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(implied_module, "IMPLIED_CACHE_DIR", tmp_path)
    plain = generate(seed=SEED, scale=SMALL)
    full = synthetic_registry(seed=SEED, scale=SMALL, truth_scale=0, cox_truth_scale=1)
    assert list(full.truth["estimands"]) == list(plain.truth["estimands"])  # same places, same order
    assert full.truth["estimands"]["implied_cox"]["_truth_sample"]["truth_scale"] == 1
    assert full.truth["estimands"]["implied"] == {}
    for name, table in plain.tables.items():
        assert full.tables[name].equals(table), name
    assert {k: v for k, v in full.truth.items() if k != "estimands"} == {
        k: v for k, v in plain.truth.items() if k != "estimands"
    }
    again = with_implied_truth(plain, empty_implied_truth())
    assert again.truth == plain.truth and again is not plain
