"""The panel of negative and positive controls (issue 25): code list, generator, truth and derived exposures.

* the code list is well formed: at least 30 negative controls with a rationale and a source, the PPIs first,
  three synthetic positive controls in the reserved ``Z99`` range, codes the validator accepts;
* the generator adds the panel without moving anything else: every study table byte-identical with the panel
  on and off, the dispensings only gaining rows of the panel's codes (also for the committed data);
* the planted strengths give the planted null, and the truth records it; the implied (numerical) null of the
  committed truth lies near the planted one;
* the derive layer classifies the panel by the study's rules and recovers the planted use exactly.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from alsmeds.constants import CLASS_ATC, NEGATIVE_CONTROL, NEGATIVE_CONTROL_ATC
from alsmeds.data.registry import read_registry
from alsmeds.data.schema import ATC_PATTERN
from alsmeds.derive.analysis_table import build_analysis_table, build_panel_table, panel_table_columns
from alsmeds.derive.codelists import codelist_versions, panel_codelist
from alsmeds.paths import SYNTHETIC_DIR
from alsmeds.simulate import generate
from alsmeds.simulate.panel import panel_classes, panel_truth, planted_log_or
from alsmeds.simulate.parameters import OTHER_ATC, PANEL_PATHS, SimulationParameters
from alsmeds.simulate.render import panel_substances

SEED = 41
SCALE = 0.5


def _off(params: SimulationParameters) -> SimulationParameters:
    return replace(params, panel=replace(params.panel, enabled=False))


@pytest.fixture(scope="module")
def on_and_off():
    params = SimulationParameters()
    return generate(seed=SEED, scale=SCALE, params=params), generate(seed=SEED, scale=SCALE, params=_off(params))


# ------------------------------------------------------------------ the code list


def test_the_code_list_is_well_formed():
    codes = panel_codelist()
    negatives = codes[codes["level"] == "negative_control"]
    positives = codes[codes["level"] == "positive_control"]
    assert len(negatives) >= 30 and len(positives) == 3
    assert (codes["group"].iloc[0], codes["atc_prefix"].iloc[0]) == (NEGATIVE_CONTROL, NEGATIVE_CONTROL_ATC)
    for column in ("description", "rationale", "source", "version"):
        assert (codes[column].str.strip().str.len() > 10).all() or column == "version", column
    assert codes["version"].nunique() == 1 and codelist_versions()["negative_control_panel"] == codes["version"][0]
    assert (negatives["true_or"] == 1.0).all()
    assert sorted(positives["true_or"]) == [1.5, 2.0, 4.0]
    assert positives["atc_prefix"].str.startswith("Z99").all()  # no ATC anatomical group: reserved for synthetics
    assert (
        positives["description"].str.contains("SYNTHETIC").all() and positives["group"].str.contains("synthetic").all()
    )
    assert not negatives["atc_prefix"].str.startswith("Z").any()
    for prefix in codes["atc_prefix"]:
        assert not any(prefix.startswith(p) for p in CLASS_ATC.values()), prefix  # no study class
        for code in panel_substances(prefix):
            assert re.fullmatch(ATC_PATTERN, code), code  # the validator's ATC rule accepts the rendered codes
    # The generator's noise dispensings fall in no drawn class (only omeprazole, a PPI, as before).
    noisy = [c for c in OTHER_ATC if any(c.startswith(p) for p in codes["atc_prefix"])]
    assert noisy == ["A02BC01"]


def test_the_code_list_refuses_an_overlapping_prefix(monkeypatch):
    import alsmeds.derive.codelists as codelists

    original = codelists.load_codelist

    def patched(name):
        frame = original(name)
        if name == "negative_control_panel":
            frame.loc[1, "atc_prefix"] = "N05BA"  # inside the study's anxiolytics
        return frame

    monkeypatch.setattr(codelists, "load_codelist", patched)
    with pytest.raises(ValueError, match="overlaps"):
        panel_codelist()


# ------------------------------------------------------------------ the generator


def test_the_study_tables_are_byte_identical_with_the_panel_on(on_and_off):
    on, off = on_and_off
    assert set(on.tables) == set(off.tables)
    for name in on.tables:
        if name != "dispensings":
            pd.testing.assert_frame_equal(on.tables[name], off.tables[name], check_exact=True)
    pd.testing.assert_frame_equal(on.people, off.people, check_exact=True)  # the answer key too
    prefixes = tuple(k.atc_prefix for k in panel_classes(SimulationParameters()) if k.drawn)
    new = on.tables["dispensings"]["atc"].str.startswith(prefixes)
    assert new.sum() > 0
    kept = on.tables["dispensings"][~new.to_numpy()].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, off.tables["dispensings"], check_exact=True)  # same rows, same order
    assert off.truth["estimands"]["panel"] == {} and "classes" in on.truth["estimands"]["panel"]
    without = {k: v for k, v in on.truth["estimands"].items() if k != "panel"}
    assert without == {k: v for k, v in off.truth["estimands"].items() if k != "panel"}
    parameters = {k: v for k, v in on.truth["parameters"].items() if k != "panel"}
    assert parameters == {k: v for k, v in off.truth["parameters"].items() if k != "panel"}
    assert on.truth["this_sample"] == off.truth["this_sample"]


def test_the_committed_dispensings_gain_only_the_panel_rows():
    committed = pd.read_csv(SYNTHETIC_DIR / "dispensings.csv", dtype=str, keep_default_na=False)
    prefixes = tuple(k.atc_prefix for k in panel_classes(SimulationParameters()) if k.drawn)
    panel_rows = committed["atc"].str.startswith(prefixes).to_numpy()
    off = generate(params=_off(SimulationParameters()))
    with_panel = generate()
    assert len(committed) == len(with_panel.tables["dispensings"])
    kept = committed[~panel_rows].reset_index(drop=True)
    assert len(kept) == len(off.tables["dispensings"])
    assert kept["atc"].tolist() == off.tables["dispensings"]["atc"].tolist()
    assert kept["person_id"].astype(int).tolist() == off.tables["dispensings"]["person_id"].tolist()


def test_the_strengths_give_the_planted_null():
    params = SimulationParameters()
    classes = panel_classes(params)
    assert classes[0].group == NEGATIVE_CONTROL and not classes[0].drawn
    drawn = [k for k in classes if k.drawn]
    errors = np.array([k.planted_systematic_error for k in drawn])
    panel = params.panel
    # 37 draws of N(0.15, 0.10^2): their mean and SD are within 3 standard errors of the planted ones.
    assert abs(errors.mean() - panel.null_mean) < 3 * panel.null_sd / math.sqrt(errors.size)
    assert abs(errors.std() - panel.null_sd) < 3 * panel.null_sd / math.sqrt(2 * errors.size)
    for k in drawn:
        assert set(k.bias_components) == set(PANEL_PATHS)
        assert math.isclose(sum(k.bias_components.values()), k.planted_systematic_error, abs_tol=1e-12)
        assert 0.03 <= k.user_share <= 0.25
    positives = {k.group: k.log_or_als for k in classes if k.level == "positive_control"}
    assert {g: round(math.exp(v), 6) for g, v in positives.items()} == {
        "synthetic_positive_or_1_5": 1.5,
        "synthetic_positive_or_2": 2.0,
        "synthetic_positive_or_4": 4.0,
    }
    assert panel_classes(params) == classes  # drawn from the parameters, not from a data seed
    assert abs(planted_log_or(0.1, 0.0)) < 1e-12 and planted_log_or(0.1, 0.2) > 0


def test_the_truth_records_the_panel(committed_truth):
    params = SimulationParameters()
    assert committed_truth["parameters"]["panel"]["null_mean"] == params.panel.null_mean
    planted = committed_truth["estimands"]["panel"]
    assert planted == panel_truth_as_written(params)
    assert set(planted["classes"]) == set(panel_codelist()["group"])  # (truth.json sorts its keys)
    assert planted["classes"]["synthetic_positive_or_4"]["planted_or"] == 4.0
    assert planted["planted_null"]["mean"] == 0.15 and planted["planted_null"]["sd"] == 0.1
    implied = committed_truth["estimands"]["panel_implied"]
    assert set(implied["implied"]) == {"population", "sibling", "spouse"}
    null = implied["null"]["population"]["gt1"]
    assert null["n_controls"] == 35
    # The linearisation the strengths were solved with lands the realised (numerical) null near the planted one.
    assert abs(null["mean"] - 0.15) < 0.03 and abs(null["sd"] - 0.10) < 0.03
    # The sibling comparison holds U fixed: its null is near 0; the spouse comparison lies between.
    sibling, spouse = implied["null"]["sibling"]["gt1"]["mean"], implied["null"]["spouse"]["gt1"]["mean"]
    assert abs(sibling) < 0.05 and sibling < spouse < null["mean"]
    # A positive control's estimand is its planted log odds ratio plus a systematic error of the panel's size.
    for group in ("synthetic_positive_or_1_5", "synthetic_positive_or_2", "synthetic_positive_or_4"):
        error = implied["implied"]["sibling"][group][f"{group}_gt1"]["log_or"] - implied["planted_log_or"][group]
        assert abs(error) < 0.2, (group, error)


def panel_truth_as_written(params: SimulationParameters) -> dict:
    import json

    from alsmeds.precision import round_floats

    return round_floats(json.loads(json.dumps(panel_truth(params))))


# ------------------------------------------------------------------ derive


def test_the_panel_is_classified_by_the_study_rules_and_recovers_the_planted_use(on_and_off, tmp_path):
    on, _ = on_and_off
    registry = read_registry(on.write(tmp_path / "data"))
    table = build_analysis_table(registry)
    panel = build_panel_table(registry, table=table)
    assert list(panel.columns) == list(panel_table_columns())
    assert len(panel) == len(table)
    assert (
        panel[["comparison", "set_id", "person_id"]].to_numpy()
        == table[["comparison", "set_id", "person_id"]].to_numpy()
    ).all()
    # The PPIs: the same definition gives the analysis table's columns.
    assert (panel["cat_ppis"].to_numpy() == table["cat_ppis"].to_numpy()).all()
    assert (panel["ppis_gt1"].to_numpy() == table["ppis_gt1"].to_numpy()).all()
    # Every drawn class: the window of first qualifying use is exactly the planted one (no noise code falls in it).
    planted = _planted_panel(on, SimulationParameters())
    merged = panel.merge(planted, on="person_id", suffixes=("", "_planted"))
    for k in panel_classes(SimulationParameters()):
        if k.drawn:
            assert (merged[f"cat_{k.group}"] == merged[f"cat_{k.group}_planted"]).all(), k.group
            assert ((merged[f"{k.group}_gt1"] == 1) <= (merged[f"cat_{k.group}"] >= 2)).all()


def _planted_panel(registry, params: SimulationParameters) -> pd.DataFrame:
    """The planted panel of a generated registry (same seed and scale), by person id."""
    from alsmeds.simulate import _assign_ids
    from alsmeds.simulate.population import rng_for, simulate_study_population

    people = _assign_ids(simulate_study_population(params, SEED, SCALE), rng_for(SEED, "person_ids"))
    columns = [f"cat_{k.group}" for k in panel_classes(params) if k.drawn]
    return people[["person_id", *columns]].rename(columns={c: f"{c}_planted" for c in columns})


def test_a_register_without_the_panel_codes_has_every_class_never(on_and_off, tmp_path):
    _, off = on_and_off
    registry = read_registry(off.write(tmp_path / "data"))
    panel = build_panel_table(registry)
    drawn = [k.group for k in panel_classes(SimulationParameters()) if k.drawn]
    assert (panel[[f"cat_{g}" for g in drawn]].to_numpy() == 0).all()
    assert (panel[[f"{g}_gt1" for g in drawn]].to_numpy() == 0).all()
