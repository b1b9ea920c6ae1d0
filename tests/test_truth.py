"""The one reader of the planted truth and the one comparison with it (alsmeds.truth), by hand-worked values."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from alsmeds import paths
from alsmeds.truth import Estimand, Truth, as_truth, covers, distance_z, read_truth

TINY = {
    "seed": 7,
    "scale": 0.5,
    "parameters": {"prognosis": {"log_hr_male": 0.05}, "design": {"n_cases": 10}},
    "this_sample": {"events": 3},
    "estimands": {
        "within_family_log_or": {"hypnotics_0_1": {"log_or_under_65": 1.5, "log_or_65_plus": 1.25}},
        "implied": {
            "_truth_sample": {"truth_scale": 100.0},
            "population_per_class": {"hypnotics_gt1": {"log_or": 0.2, "mc_se": 0.01}},
        },
        "published_vs_implied": [{"term": "hypnotics_gt1", "published_or": 1.21, "implied_or": 1.2214}],
        "implied_cox": {
            "_truth_sample": {"truth_scale": 50.0, "n_cases": 100},
            "direct": {"hypnotics": 0.2},
            "mutual": {"hypnotics": {"log_hr": 0.25, "mc_se": 0.02}},
        },
        "prognosis": {
            "joint_model_log_hr_direct": {"hypnotics": 0.2},
            "association_per_alsfrs_point": -0.07,
            "alsfrs_slope_per_month": {"non_users_of_antidepressants": -0.9, "difference": -0.25},
            "alsfrs_intercept_mean": 36.1,
        },
        "negative_control": {
            "drug_class": "ppis",
            "planted_log_or": 0.0,
            "implied": {"sibling": {"adjusted": {"ppis_gt1": {"log_or": 0.006, "mc_se": 0.0127}}}},
        },
    },
}


def test_distance_z_hand_worked():
    # (0.5 - 0.2) / hypot(0.3, 0.4) = 0.3 / 0.5
    assert distance_z(0.5, 0.3, 0.2, 0.4) == pytest.approx(0.6)
    # an exact (planted) estimand: the estimate's SE alone, (0.3 - 0.1) / 0.1
    assert distance_z(0.3, 0.1, 0.1) == pytest.approx(2.0)
    assert distance_z(-0.1, 0.05, 0.0) == pytest.approx(-2.0)
    assert isinstance(distance_z(0.3, 0.1, 0.1), float)
    assert math.isnan(distance_z(0.3, float("nan"), 0.1))


def test_distance_z_on_columns_keeps_the_index():
    est = pd.Series([0.5, 0.3], index=[3, 8])
    z = distance_z(est, pd.Series([0.3, 0.1], index=[3, 8]), pd.Series([0.2, 0.1], index=[3, 8]), np.array([0.4, 0.0]))
    assert isinstance(z, pd.Series) and list(z.index) == [3, 8]
    assert z.tolist() == pytest.approx([0.6, 2.0])
    assert distance_z(np.array([1.0, 2.0]), 1.0, 0.0) == pytest.approx([1.0, 2.0])


def test_covers_is_a_closed_interval():
    assert covers(1.0, 2.0, 1.5)
    assert covers(1.0, 2.0, 1.0) and covers(1.0, 2.0, 2.0)  # bounds included
    assert not covers(1.0, 2.0, 2.0000001) and not covers(1.0, 2.0, 0.5)
    assert not covers(float("nan"), 2.0, 1.5)
    out = covers(np.array([0.0, 0.0, 1.0]), np.array([1.0, 1.0, 2.0]), np.array([1.0, 1.5, 0.5]))
    assert out.tolist() == [True, False, False]
    assert isinstance(covers(1.0, 2.0, 1.5), bool)


def test_truth_accessors_name_the_estimands():
    truth = Truth.from_dict(TINY)
    assert truth.seed == 7 and truth.scale == 0.5
    assert truth.implied_models == ["population_per_class"]
    assert truth.implied_log_or("population_per_class", "hypnotics_gt1") == Estimand(0.2, 0.01)
    assert truth.implied_terms("population_per_class") == {"hypnotics_gt1": Estimand(0.2, 0.01)}
    assert truth.implied_sample["truth_scale"] == 100.0
    assert truth.within_family_log_or("hypnotics_0_1", "65_plus") == 1.25
    assert truth.published_vs_implied[0]["implied_or"] == 1.2214
    assert truth.has_implied_cox and truth.implied_cox("mutual", "hypnotics") == Estimand(0.25, 0.02)
    assert truth.implied_cox_terms("per_class") == {}
    assert truth.implied_cox_sample["n_cases"] == 100
    assert truth.planted_log_hr_direct("hypnotics") == 0.2
    assert truth.association_per_alsfrs_point == -0.07
    assert truth.alsfrs_slope_per_month("difference") == -0.25
    assert truth.prognosis_parameter("log_hr_male") == 0.05
    assert truth.negative_control_class == "ppis" and truth.negative_control_planted_log_or == 0.0
    assert truth.negative_control_comparisons == {"sibling": ["adjusted"]}
    assert truth.negative_control_implied("sibling", "adjusted")["ppis_gt1"] == Estimand(0.006, 0.0127)
    assert Estimand(0.2).exact and not Estimand(0.2, 0.01).exact


def test_truth_is_frozen_and_as_truth_takes_either_form():
    truth = Truth.from_dict(TINY)
    with pytest.raises(AttributeError):
        truth.seed = 8  # type: ignore[misc]
    assert as_truth(None) is None and as_truth(truth) is truth
    assert as_truth(TINY) == truth and as_truth(TINY).raw is TINY


def test_without_numerical_estimands_the_accessors_are_empty():
    bare = Truth.from_dict({"seed": 1, "scale": 1.0, "estimands": {"implied": {}, "implied_cox": {}}})
    assert bare.implied_models == [] and not bare.has_implied_cox and bare.negative_control_class is None
    assert bare.negative_control_comparisons == {} and bare.implied_cox_terms("mutual") == {}


def test_read_truth_reads_the_committed_file():
    path = paths.SYNTHETIC_DIR / "truth.json"
    truth = read_truth(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert truth.raw == raw and truth.seed == raw["seed"]
    value = raw["estimands"]["implied"]["population_per_class"]["hypnotics_gt1"]
    assert truth.implied_log_or("population_per_class", "hypnotics_gt1") == Estimand(value["log_or"], value["mc_se"])


def test_panel_accessors():
    """The panel's planted null, planted effects, implied estimands (None where not estimable) and realised null."""
    panel = {
        "seed": 1,
        "scale": 1.0,
        "estimands": {
            "panel": {"planted_null": {"mean": 0.15, "sd": 0.1, "drawn_mean": 0.14}},
            "panel_implied": {
                "planted_log_or": {"statins": 0.0, "z99pa": 0.405},
                "implied": {
                    "population": {
                        "statins": {"statins_gt1": {"log_or": 0.12, "mc_se": 0.02}, "statins_0_1": None},
                        "z99pa": {"z99pa_gt1": {"log_or": 0.55, "mc_se": 0.03}},
                    }
                },
                "null": {"population": {"gt1": {"mean": 0.12, "sd": 0.0, "n_controls": 1}}},
            },
        },
    }
    truth = Truth.from_dict(panel)
    assert truth.panel_planted_null["mean"] == 0.15 and truth.panel_planted_null["drawn_mean"] == 0.14
    assert truth.panel_planted_log_or == {"statins": 0.0, "z99pa": 0.405}
    assert truth.panel_comparisons == ["population"]
    implied = truth.panel_implied("population")
    assert implied["statins"]["statins_gt1"] == Estimand(0.12, 0.02) and implied["statins"]["statins_0_1"] is None
    assert implied["z99pa"]["z99pa_gt1"].value == 0.55
    assert truth.panel_implied_null("population")["gt1"]["n_controls"] == 1
    assert truth.panel_implied_null("sibling") == {}
    bare = Truth.from_dict(TINY)
    assert bare.panel_planted_null == {} and bare.panel_planted_log_or == {} and bare.panel_comparisons == []
