"""Display helpers of :mod:`alsmeds.reporting.describe`: stable text for nbval-checked cells, and the truth tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from alsmeds.reporting import describe


def test_rounded_and_fixed_never_show_a_negative_zero():
    assert str(describe.rounded(-1e-15, 3)) == "0.0" and math.copysign(1, describe.rounded(-1e-15, 3)) == 1
    frame = pd.DataFrame({"x": [-0.0004, 0.123456, -0.5], "label": ["a", "b", "c"]})
    text = describe.rounded(frame, 3).to_string()
    assert "-0.000" not in text and "0.123" in text and "-0.5" in text and "label" in text
    series = describe.rounded(pd.Series([-1e-12, 2.0]), 2)
    assert series.map(lambda v: math.copysign(1, v)).tolist() == [1.0, 1.0]
    assert describe.fixed(-0.004) == "0.00" and describe.fixed(-0.006) == "-0.01" and describe.fixed(0.35, 1) == "0.3"


def test_p_values_and_ratios_as_stable_text():
    assert describe.format_p(0.0004) == "<0.001" and describe.format_p(0.0067) == "0.007"
    assert describe.format_p(0.4204) == "0.42" and describe.format_p(np.nan) == "n.a."
    assert describe.format_ratio(1.5236, 1.2757, 1.8197) == "1.52 (1.28-1.82)"
    assert (
        describe.format_ratio(np.nan, np.nan, np.nan, "no users of hypnotics") == "not estimable: no users of hypnotics"
    )


def test_truth_tables_need_a_truth(committed_truth):
    for table in (describe.truth_table, describe.published_table):
        with pytest.raises(ValueError, match="no planted truth"):
            table(None)
    assert describe.truth_table(committed_truth).shape == (9, 5)
    with pytest.raises(ValueError, match="no planted truth"):
        describe.implied_estimand_table(None, "population_mutual_windows")


def test_composition_sentence_counts_cases_without_controls():
    composition = pd.DataFrame(
        {"population_controls": [5, 5, 4, 0], "siblings": [1, 0, 0, 0], "has_spouse": [True, False, True, False]}
    )
    text = describe.composition_sentence(composition)
    assert text.startswith("4 matched sets: 2 with 5 population controls, 1 with fewer and 1 with none")
    assert "25% of the cases have at least one full sibling" in text and "50% a spouse" in text
    assert text.endswith("1 case has no control at all.")
