"""Exposure classification (alsmeds.derive.exposure) and the analysis table (alsmeds.derive.analysis_table).

Most tests build tiny registers by hand and state the expected classification by
hand, from the rules in the docstring of :mod:`alsmeds.derive.exposure`: exposed = at least
two dispensings of a class on distinct dates strictly before the index date; the
window is the timing of the second distinct date (0-1 y if on or after the date one
calendar year before the index date, 1-5 y if on or after five years before, else
>5 y); the lagged flag ``<class>_gt1`` is first qualifying use before the index date
minus one year.  The last test classifies a 10x simulated register and compares
every person with the generator's planted truth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsmeds.constants import CATEGORY_CODES, CLASSES, WINDOWS
from alsmeds.data.registry import Registry
from alsmeds.derive.analysis_table import ANALYSIS_TABLE_COLUMNS, build_analysis_table
from alsmeds.derive.dates import years_before
from alsmeds.derive.exposure import (
    WINDOW_EDGES_YEARS,
    ExposureRules,
    classify_exposures,
    psychiatric_history,
    window_codes,
)

KEY = ["person_id", "case_id"]
SUBCLASSES = (
    "benzodiazepine_anxiolytics",
    "benzodiazepine_hypnotics",
    "maois",
    "melatonin_agonists",
    "other_anxiolytics",
    "other_antidepressants",
    "other_hypnotics",
    "ssris",
    "tricyclic_antidepressants",
    "z_drugs",
)


# ----------------------------------------------------------------------------- helpers


def members(*rows: tuple) -> pd.DataFrame:
    """Set members from ``(person_id, case_id, index_date)`` tuples."""
    frame = pd.DataFrame(rows, columns=["person_id", "case_id", "index_date"])
    frame["index_date"] = pd.to_datetime(frame["index_date"])
    return frame.astype({"person_id": np.int64, "case_id": np.int64})


def dispensings(*rows: tuple) -> pd.DataFrame:
    """A dispensings table from ``(person_id, dispensing_date, atc)`` tuples (one package each)."""
    frame = pd.DataFrame(rows, columns=["person_id", "dispensing_date", "atc"])
    frame["dispensing_date"] = pd.to_datetime(frame["dispensing_date"])
    frame["packages"] = np.int64(1)
    return frame.astype({"person_id": np.int64})


def diagnoses(*rows: tuple) -> pd.DataFrame:
    """A diagnoses table from ``(person_id, diagnosis_date, icd10)`` tuples."""
    frame = pd.DataFrame(rows, columns=["person_id", "diagnosis_date", "icd10"])
    frame["diagnosis_date"] = pd.to_datetime(frame["diagnosis_date"])
    return frame.astype({"person_id": np.int64})


def classify(disp: pd.DataFrame, memb: pd.DataFrame, rules: ExposureRules | None = None) -> pd.DataFrame:
    """classify_exposures indexed by (person_id, case_id), after checking it keeps the members' order."""
    out = classify_exposures(disp, memb, rules) if rules is not None else classify_exposures(disp, memb)
    assert out[KEY].to_numpy().tolist() == memb[KEY].to_numpy().tolist()
    return out.set_index(KEY)


def one_person(dates: list[str], index_date: str, atc: str = "N05BA01", rules: ExposureRules | None = None):
    """Classification of person 1 (own set) with dispensings of ``atc`` on ``dates``."""
    out = classify(dispensings(*[(1, d, atc) for d in dates]), members((1, 1, index_date)), rules)
    return out.loc[(1, 1)]


def ts(value: str) -> pd.Timestamp:
    return pd.Timestamp(value)


# ----------------------------------------------------------------------------- the basic rule


def test_one_dispensing_is_not_exposure_and_two_on_distinct_dates_are():
    disp = dispensings(
        (1, "2018-01-10", "N05BA01"),
        (2, "2018-01-10", "N05BA01"),
        (2, "2019-09-01", "N05BA01"),
    )
    out = classify(disp, members((1, 1, "2020-06-15"), (2, 1, "2020-06-15")))
    assert out.loc[(1, 1), "window_anxiolytics"] == "never"
    assert out.loc[(1, 1), "cat_anxiolytics"] == CATEGORY_CODES["never"]
    assert pd.isna(out.loc[(1, 1), "first_qualifying_anxiolytics"])
    assert out.loc[(1, 1), "anxiolytics_gt1"] == 0
    # The second distinct date (2019-09-01) is within the year before 2020-06-15.
    assert out.loc[(2, 1), "window_anxiolytics"] == "0_1"
    assert out.loc[(2, 1), "cat_anxiolytics"] == CATEGORY_CODES["0_1"]
    assert out.loc[(2, 1), "first_qualifying_anxiolytics"] == ts("2019-09-01")
    assert out.loc[(2, 1), "anxiolytics_gt1"] == 0


def test_two_dispensings_on_the_same_date_count_once():
    assert one_person(["2016-03-01", "2016-03-01"], "2020-06-15")["window_anxiolytics"] == "never"
    # Two different substances of one class on one day are still one date.
    disp = dispensings((1, "2016-03-01", "N05BA01"), (1, "2016-03-01", "N05BA12"))
    assert classify(disp, members((1, 1, "2020-06-15"))).loc[(1, 1), "window_anxiolytics"] == "never"
    # A third dispensing on another date makes that date the second distinct one.
    row = one_person(["2016-03-01", "2016-03-01", "2019-01-20"], "2020-06-15")
    assert row["window_anxiolytics"] == "1_5"
    assert row["first_qualifying_anxiolytics"] == ts("2019-01-20")
    assert row["anxiolytics_gt1"] == 1


def test_a_second_dispensing_on_the_index_date_does_not_count():
    row = one_person(["2019-12-01", "2020-06-15"], "2020-06-15")
    assert row["window_anxiolytics"] == "never"
    assert pd.isna(row["first_qualifying_anxiolytics"])
    # ... nor does one after it; the day before does.
    assert one_person(["2019-12-01", "2020-06-16"], "2020-06-15")["window_anxiolytics"] == "never"
    row = one_person(["2019-12-01", "2020-06-14"], "2020-06-15")
    assert row["window_anxiolytics"] == "0_1"
    assert row["first_qualifying_anxiolytics"] == ts("2020-06-14")


def test_the_window_is_the_timing_of_the_second_date_not_the_first():
    # First dispensing 8 years before, second 3 years before: 1-5 years.
    row = one_person(["2012-05-01", "2017-05-01", "2019-12-01"], "2020-06-15")
    assert row["window_anxiolytics"] == "1_5"
    assert row["first_qualifying_anxiolytics"] == ts("2017-05-01")


@pytest.mark.parametrize(
    ("second", "window", "lagged"),
    [
        ("2020-06-14", "0_1", 0),
        ("2019-06-15", "0_1", 0),  # exactly one year before: 0-1 years, not lagged exposure
        ("2019-06-14", "1_5", 1),
        ("2015-06-15", "1_5", 1),  # exactly five years before: 1-5 years
        ("2015-06-14", "gt5", 1),
        ("2006-01-02", "gt5", 1),
    ],
)
def test_window_boundaries_at_exactly_one_and_five_years(second, window, lagged):
    row = one_person(["2006-01-01", second], "2020-06-15")
    assert row["window_anxiolytics"] == window
    assert row["cat_anxiolytics"] == CATEGORY_CODES[window]
    assert row["anxiolytics_gt1"] == lagged
    assert row["first_qualifying_anxiolytics"] == ts(second)


def test_window_codes_is_the_one_window_rule():
    """On the edge day 1 (5) calendar years before: window 0-1 (1-5); a day earlier: 1-5 (>5); NaT: never."""
    index = np.array(["2020-02-29"] * 5, dtype="datetime64[D]")
    dates = np.array(["2019-02-28", "2019-02-27", "2015-02-28", "2015-02-27", "NaT"], dtype="datetime64[D]")
    expected = [CATEGORY_CODES[w] for w in ("0_1", "1_5", "1_5", "gt5", "never")]
    assert window_codes(dates, index).tolist() == expected
    assert WINDOW_EDGES_YEARS == ExposureRules().window_edges_years == (1, 5)
    # The generator calls the same function for its true dates of first use (study classes and panel).
    import alsmeds.simulate.draws as draws
    import alsmeds.simulate.panel as panel

    assert draws.window_codes is window_codes
    assert panel.window_codes is window_codes


def test_years_before_a_leap_day_is_28_february():
    index = np.array(["2020-02-29", "2024-02-29", "2021-03-01"], dtype="datetime64[D]")
    assert (
        years_before(index, 1).tolist()
        == np.array(["2019-02-28", "2023-02-28", "2020-03-01"], "datetime64[D]").tolist()
    )
    assert years_before(index[:1], 4)[0] == np.datetime64("2016-02-29")
    assert years_before(index[:1], 5)[0] == np.datetime64("2015-02-28")


@pytest.mark.parametrize(
    ("index_date", "second", "window", "lagged"),
    [
        ("2020-02-29", "2019-02-28", "0_1", 0),  # one year before 2020-02-29 is 2019-02-28
        ("2020-02-29", "2019-02-27", "1_5", 1),
        ("2020-02-29", "2015-02-28", "1_5", 1),  # five years before is 2015-02-28
        ("2020-02-29", "2015-02-27", "gt5", 1),
        ("2021-03-01", "2020-02-29", "1_5", 1),  # one year before 2021-03-01 is 2020-03-01
        ("2021-03-01", "2020-03-01", "0_1", 0),
        ("2021-02-28", "2020-02-29", "0_1", 0),  # one year before 2021-02-28 is 2020-02-28
    ],
)
def test_leap_days(index_date, second, window, lagged):
    row = one_person(["2006-01-01", second], index_date, atc="N06AB04")
    assert row["window_antidepressants"] == window
    assert row["antidepressants_gt1"] == lagged


# ----------------------------------------------------------------------------- classes, codes and people


def test_two_classes_for_one_person_are_classified_separately():
    disp = dispensings(
        (1, "2008-02-01", "N05BA01"),
        (1, "2009-02-01", "N05BA01"),  # anxiolytics: >5 years
        (1, "2017-01-01", "N06AB04"),
        (1, "2018-01-01", "N06AX11"),  # antidepressants (two substances): 1-5 years
        (1, "2019-12-24", "N05CF01"),  # hypnotics: one dispensing only
    )
    row = classify(disp, members((1, 1, "2020-06-15"))).loc[(1, 1)]
    assert row["window_anxiolytics"] == "gt5"
    assert row["first_qualifying_anxiolytics"] == ts("2009-02-01")
    assert row["window_antidepressants"] == "1_5"
    assert row["first_qualifying_antidepressants"] == ts("2018-01-01")
    assert row["window_hypnotics"] == "never"
    assert (row["anxiolytics_gt1"], row["antidepressants_gt1"], row["hypnotics_gt1"]) == (1, 1, 0)
    # Subclass flags need two dates of the same subclass: SSRI and "other" once each.
    assert row["sub_benzodiazepine_anxiolytics"] == 1
    assert row["sub_ssris"] == 0 and row["sub_other_antidepressants"] == 0
    assert row["sub_z_drugs"] == 0


def test_a_person_without_dispensings_is_never_exposed():
    disp = dispensings((1, "2018-01-01", "N05BA01"), (1, "2019-01-01", "N05BA01"))
    out = classify(disp, members((1, 1, "2020-06-15"), (2, 1, "2020-06-15")))
    row = out.loc[(2, 1)]
    for k in CLASSES:
        assert row[f"window_{k}"] == "never"
        assert row[f"cat_{k}"] == 0
        assert row[f"{k}_gt1"] == 0
        assert pd.isna(row[f"first_qualifying_{k}"])
    assert all(row[f"sub_{s}"] == 0 for s in SUBCLASSES)


def test_an_empty_dispensings_table_gives_nobody_exposed():
    disp = dispensings((1, "2018-01-01", "N05BA01")).iloc[:0]
    memb = members((1, 1, "2020-06-15"), (2, 1, "2020-06-15"))
    for rules in (ExposureRules(), ExposureRules(definition="use_in_window")):
        out = classify(disp, memb, rules)
        assert (out[[f"window_{k}" for k in CLASSES]] == "never").all().all()
        assert (out[[f"sub_{s}" for s in SUBCLASSES]] == 0).all().all()
        if rules.definition == "use_in_window":
            assert (out[[f"{k}_in_{w}" for k in CLASSES for w in WINDOWS]] == 0).all().all()


def test_codes_are_normalised_and_codes_outside_the_lists_are_ignored():
    disp = dispensings(
        (1, "2019-01-01", " n05ba01"),
        (1, "2019-02-01", "N05BA01 "),  # anxiolytics, written two ways
        (2, "2019-01-01", "N05BA01"),
        (2, "2019-02-01", "C10AA01"),  # a statin: not in any list
        (3, "2019-01-01", "C10AA01"),
        (3, "2019-02-01", "C10AA01"),
        (4, "2019-01-01", "n05cf01"),
        (4, "2019-02-01", "N05CF02"),  # z-drugs (hypnotics)
        (5, "2019-01-01", "N06AB04"),
        (5, "2019-02-01", "N06AB06"),  # SSRIs (antidepressants)
    )
    out = classify(disp, members(*[(p, 10, "2020-06-15") for p in range(1, 6)]))
    assert out.loc[(1, 10), "window_anxiolytics"] == "1_5"
    assert out.loc[(1, 10), "sub_benzodiazepine_anxiolytics"] == 1
    assert out.loc[(2, 10), "window_anxiolytics"] == "never"
    assert (out.loc[(3, 10), [f"window_{k}" for k in CLASSES]] == "never").all()
    assert (out.loc[(3, 10), [f"sub_{s}" for s in SUBCLASSES]] == 0).all()
    assert out.loc[(4, 10), "window_hypnotics"] == "1_5"
    assert out.loc[(4, 10), "sub_z_drugs"] == 1
    assert out.loc[(4, 10), "sub_benzodiazepine_hypnotics"] == 0
    assert out.loc[(5, 10), "window_antidepressants"] == "1_5"
    assert out.loc[(5, 10), "sub_ssris"] == 1
    assert out.loc[(5, 10), "window_anxiolytics"] == "never"
    flagged = out[[f"sub_{s}" for s in SUBCLASSES]].sum()
    assert flagged[flagged > 0].to_dict() == {"sub_benzodiazepine_anxiolytics": 1, "sub_z_drugs": 1, "sub_ssris": 1}


def test_the_same_person_in_two_sets_is_classified_per_set():
    disp = dispensings((7, "2017-01-01", "N06AB04"), (7, "2017-06-01", "N06AB04"))
    memb = members((7, 1, "2020-06-15"), (7, 2, "2018-03-01"), (7, 3, "2017-06-01"))
    out = classify(disp, memb)
    assert out.loc[(7, 1), "window_antidepressants"] == "1_5"  # 2017-06-01 < 2019-06-15
    assert out.loc[(7, 1), "antidepressants_gt1"] == 1
    assert out.loc[(7, 2), "window_antidepressants"] == "0_1"  # 2017-06-01 >= 2017-03-01
    assert out.loc[(7, 2), "antidepressants_gt1"] == 0
    assert out.loc[(7, 3), "window_antidepressants"] == "never"  # the second date is that set's index date
    assert out.loc[(7, 1), "first_qualifying_antidepressants"] == ts("2017-06-01")
    assert out.loc[(7, 2), "first_qualifying_antidepressants"] == ts("2017-06-01")
    assert pd.isna(out.loc[(7, 3), "first_qualifying_antidepressants"])


def test_a_relative_is_assessed_at_the_case_index_date():
    # The sibling (2) dispensed the same drug on the same dates as the case (1); both are
    # assessed at the case's index date 2020-06-15, so the use on 2020-07-01 never counts.
    disp = dispensings(
        (1, "2020-03-01", "N05CD02"),
        (1, "2020-07-01", "N05CD02"),
        (2, "2020-03-01", "N05CD02"),
        (2, "2020-07-01", "N05CD02"),
        (2, "2020-01-01", "N05CD02"),
    )
    out = classify(disp, members((1, 1, "2020-06-15"), (2, 1, "2020-06-15")))
    assert out.loc[(1, 1), "window_hypnotics"] == "never"
    assert out.loc[(2, 1), "window_hypnotics"] == "0_1"
    assert out.loc[(2, 1), "first_qualifying_hypnotics"] == ts("2020-03-01")
    assert out.loc[(2, 1), "sub_benzodiazepine_hypnotics"] == 1


def test_min_dispensings_three():
    rules = ExposureRules(min_dispensings=3)
    assert one_person(["2010-01-01", "2011-01-01"], "2020-06-15", rules=rules)["window_anxiolytics"] == "never"
    same_day = one_person(["2010-01-01", "2011-01-01", "2011-01-01"], "2020-06-15", rules=rules)
    assert same_day["window_anxiolytics"] == "never"
    row = one_person(["2010-01-01", "2011-01-01", "2019-07-01", "2020-01-01"], "2020-06-15", rules=rules)
    assert row["window_anxiolytics"] == "0_1"
    assert row["first_qualifying_anxiolytics"] == ts("2019-07-01")
    assert row["anxiolytics_gt1"] == 0
    assert row["sub_benzodiazepine_anxiolytics"] == 1
    # The default rule places the same person by the second date.
    assert one_person(["2010-01-01", "2011-01-01", "2019-07-01"], "2020-06-15")["window_anxiolytics"] == "gt5"


def test_use_in_window_flags_every_window_with_two_dates():
    disp = dispensings(
        # person 1: two dates >5 y, one date 1-5 y, two dates 0-1 y
        (1, "2010-01-01", "N05BA01"),
        (1, "2011-01-01", "N05BA01"),
        (1, "2017-01-01", "N05BA01"),
        (1, "2019-08-01", "N05BA01"),
        (1, "2020-01-01", "N05BA01"),
        # person 2: one date 1-5 y and one 0-1 y: exposed by first use, in no window
        (2, "2018-01-01", "N06AB04"),
        (2, "2020-01-01", "N06AB04"),
    )
    memb = members((1, 1, "2020-06-15"), (2, 1, "2020-06-15"))
    out = classify(disp, memb, ExposureRules(definition="use_in_window"))
    assert out.loc[(1, 1), "window_anxiolytics"] == "gt5"  # the first-use columns are still there
    flags = {w: out.loc[(1, 1), f"anxiolytics_in_{w}"] for w in WINDOWS}
    assert flags == {"0_1": 1, "1_5": 0, "gt5": 1}
    assert out.loc[(2, 1), "window_antidepressants"] == "0_1"
    assert [out.loc[(2, 1), f"antidepressants_in_{w}"] for w in WINDOWS] == [0, 0, 0]
    assert out[[f"hypnotics_in_{w}" for w in WINDOWS]].eq(0).all().all()
    # Boundary: the date exactly one year before the index date is in 0-1 y.
    row = one_person(["2019-06-15", "2020-01-01"], "2020-06-15", rules=ExposureRules(definition="use_in_window"))
    assert [row[f"anxiolytics_in_{w}"] for w in WINDOWS] == [1, 0, 0]
    # The default definition has no such columns.
    assert not [c for c in classify(disp, memb).columns if "_in_" in c]


# ----------------------------------------------------------------------------- psychiatric history


def test_psychiatric_history_before_the_index_date():
    diag = diagnoses(
        (1, "2015-01-01", "F32.1"),  # depression, dotted
        (2, "2015-01-01", "F321"),  # depression, undotted
        (3, "2020-06-15", "F41.1"),  # on the index date: no
        (3, "2021-01-01", "F32"),  # after: no
        (4, "2015-01-01", "I10"),  # not psychiatric
        (5, "2019-01-01", "G47.0"),  # sleep (organic), not F: no psychiatric history
        (6, "2019-01-01", " f51.0"),  # sleep (nonorganic), lower case with a space
        (6, "2018-01-01", "F41.1"),  # anxiety
        (7, "2019-01-01", "F60.3"),  # F chapter, in no named group
    )
    memb = members(*[(p, 100, "2020-06-15") for p in range(1, 9)])
    out = psychiatric_history(diag, memb)
    assert out[KEY].to_numpy().tolist() == memb[KEY].to_numpy().tolist()
    out = out.set_index("person_id")
    assert out["psych_history"].to_dict() == {1: 1, 2: 1, 3: 0, 4: 0, 5: 0, 6: 1, 7: 1, 8: 0}
    assert out["psych_depression"].to_dict() == {1: 1, 2: 1, 3: 0, 4: 0, 5: 0, 6: 0, 7: 0, 8: 0}
    assert out["psych_sleep"].to_dict() == {1: 0, 2: 0, 3: 0, 4: 0, 5: 1, 6: 1, 7: 0, 8: 0}
    assert out["psych_anxiety"].to_dict() == {1: 0, 2: 0, 3: 0, 4: 0, 5: 0, 6: 1, 7: 0, 8: 0}
    assert out[["psych_psychotic", "psych_stress", "psych_substance_use"]].eq(0).all().all()


def test_psychiatric_history_per_set():
    diag = diagnoses((1, "2018-01-01", "F33.1"))
    out = psychiatric_history(diag, members((1, 10, "2020-06-15"), (1, 20, "2017-06-15"))).set_index(KEY)
    assert out.loc[(1, 10), "psych_depression"] == 1 and out.loc[(1, 10), "psych_history"] == 1
    assert out.loc[(1, 20), "psych_depression"] == 0 and out.loc[(1, 20), "psych_history"] == 0


# ----------------------------------------------------------------------------- the analysis table


def tiny_registry() -> Registry:
    """Four sets: case 1 with every kind of control, case 2 (population controls only; person 12 is
    a control of sets 1 and 2), case 3 with a sibling and a spouse only, case 4 without controls."""
    sp = pd.DataFrame(
        [
            (1, 1, "case", "2020-06-15"),
            (11, 1, "population_control", "2020-06-15"),
            (12, 1, "population_control", "2020-06-15"),
            (13, 1, "sibling", "2020-06-15"),
            (14, 1, "spouse", "2020-06-15"),
            (2, 2, "case", "2018-03-01"),
            (21, 2, "population_control", "2018-03-01"),
            (12, 2, "population_control", "2018-03-01"),
            (3, 3, "case", "2019-01-10"),
            (31, 3, "sibling", "2019-01-10"),
            (32, 3, "spouse", "2019-01-10"),
            (4, 4, "case", "2021-01-01"),
        ],
        columns=["person_id", "case_id", "role", "index_date"],
    )
    sp["index_date"] = pd.to_datetime(sp["index_date"])
    births = {1: "1960-06-15", 11: "1950-01-01", 12: "1960-01-01", 13: "1962-01-01", 14: "1958-01-01"}
    births |= {2: "1948-03-01", 21: "1948-05-01", 3: "1959-01-10", 31: "1961-01-01", 32: "1960-01-01"}
    births |= {4: "1970-01-01"}
    ids = sorted(births)
    persons = pd.DataFrame(
        {
            "person_id": ids,
            "birth_date": pd.to_datetime([births[i] for i in ids]),
            "sex": ["male" if i in (1, 11, 12, 13, 31) else "female" for i in ids],
            "education": ["post_secondary" if i == 1 else "compulsory" for i in ids],
            "country_of_birth": ["other_nordic" if i == 12 else "sweden" for i in ids],
            "civil_status": ["married" if i in (1, 14, 3, 32) else "unmarried" for i in ids],
            "death_date": pd.NaT,
            "emigration_date": pd.NaT,
        }
    )
    disp = dispensings(
        (12, "2017-01-01", "N06AB04"),
        (12, "2017-06-01", "N06AB04"),  # 1-5 y in set 1, 0-1 y in set 2
        (13, "2020-06-01", "N05CF01"),
        (13, "2020-06-10", "N05CF01"),  # sibling: 0-1 y
        (1, "2012-01-01", "N05BA01"),
        (1, "2013-01-01", "N05BA01"),  # case 1: anxiolytics >5 y
        (3, "2018-01-01", "N06AX11"),
        (3, "2019-01-10", "N06AX11"),  # case 3: second date on the index date, never
    )
    diag = diagnoses((11, "2010-01-01", "F32.1"), (1, "2020-06-15", "G12.2"), (32, "2018-05-01", "G47.3"))
    return Registry(
        tables={"persons": persons, "study_population": sp, "dispensings": disp, "diagnoses": diag},
        metadata={"register_start": pd.Timestamp("2005-07-01").date()},
        data_dir=Path("."),
    )


@pytest.fixture(scope="module")
def tiny_table() -> pd.DataFrame:
    return build_analysis_table(tiny_registry())


def test_analysis_table_rows_per_comparison(tiny_table):
    t = tiny_table
    assert t.groupby("comparison").size().to_dict() == {"population": 6, "sibling": 4, "spouse": 4}
    assert list(t["comparison"].unique()) == ["population", "sibling", "spouse"]
    members_of = {c: sorted(map(tuple, g[["set_id", "person_id"]].to_numpy())) for c, g in t.groupby("comparison")}
    assert members_of["population"] == [(1, 1), (1, 11), (1, 12), (2, 2), (2, 12), (2, 21)]
    assert members_of["sibling"] == [(1, 1), (1, 13), (3, 3), (3, 31)]
    assert members_of["spouse"] == [(1, 1), (1, 14), (3, 3), (3, 32)]
    assert 4 not in set(t["set_id"])  # a case without controls is in no comparison
    # Each set is listed case first.
    firsts = t.groupby(["comparison", "set_id"], sort=False).head(1)
    assert (firsts["case"] == 1).all() and (firsts["person_id"] == firsts["set_id"]).all()


def test_analysis_table_case_flag_roles_and_set_ids(tiny_table):
    t = tiny_table
    assert ((t["case"] == 1) == (t["role"] == "case")).all()
    assert (t.loc[t["case"] == 1, "person_id"] == t.loc[t["case"] == 1, "set_id"]).all()
    assert t.groupby(["comparison", "set_id"])["case"].sum().eq(1).all()
    roles = t.groupby("comparison")["role"].agg(lambda s: sorted(set(s))).to_dict()
    assert roles == {
        "population": ["case", "population_control"],
        "sibling": ["case", "sibling"],
        "spouse": ["case", "spouse"],
    }
    assert (t.loc[t["set_id"] == 2, "index_date"] == ts("2018-03-01")).all()
    assert (t.loc[t["set_id"] == 1, "index_date"] == ts("2020-06-15")).all()


def test_analysis_table_covariates(tiny_table):
    t = tiny_table
    assert list(t.columns[: len(ANALYSIS_TABLE_COLUMNS)]) == list(ANALYSIS_TABLE_COLUMNS)
    pop = t[t["comparison"] == "population"].set_index(["set_id", "person_id"])
    assert pop.loc[(1, 1), "age"] == pytest.approx((ts("2020-06-15") - ts("1960-06-15")).days / 365.25)
    assert pop.loc[(1, 11), "age"] == pytest.approx((ts("2020-06-15") - ts("1950-01-01")).days / 365.25)
    assert pop.loc[(2, 12), "age"] == pytest.approx((ts("2018-03-01") - ts("1960-01-01")).days / 365.25)
    # Own age group; case age group from the case (60 in set 1, 70 in set 2).
    assert pop.loc[(1, 11), "age_group"] == "65+" and pop.loc[(1, 11), "case_age_group"] == "<65"
    assert pop.loc[(1, 12), "age_group"] == "<65" and pop.loc[(1, 12), "case_age_group"] == "<65"
    assert pop.loc[(2, 21), "age_group"] == "65+" and pop.loc[(2, 12), "case_age_group"] == "65+"
    assert (t.groupby(["comparison", "set_id"])["case_age_group"].nunique() == 1).all()
    assert (pop.loc[(1, 1), "male"], pop.loc[(2, 2), "male"], pop.loc[(1, 12), "male"]) == (1, 0, 1)
    assert t.loc[t["person_id"] == 14, "male"].tolist() == [0]
    assert pop.loc[(1, 1), "education"] == "post_secondary"
    assert pop.loc[(1, 12), "country"] == "other_nordic"
    assert pop.loc[(1, 1), "civil"] == "married" and pop.loc[(1, 11), "civil"] == "unmarried"
    expected_lookback = (ts("2020-06-15") - ts("2005-07-01")).days / 365.25
    assert pop.loc[(1, 11), "lookback_years"] == pytest.approx(expected_lookback)
    assert pop.loc[(1, 11), "psych_history"] == 1 and pop.loc[(1, 11), "psych_depression"] == 1
    assert pop.loc[(1, 1), "psych_history"] == 0  # G12.2 (ALS) on the index date
    spouse = t[(t["comparison"] == "spouse") & (t["person_id"] == 32)].iloc[0]
    assert spouse["psych_sleep"] == 1 and spouse["psych_history"] == 0


def test_analysis_table_exposures(tiny_table):
    t = tiny_table
    pop = t[t["comparison"] == "population"].set_index(["set_id", "person_id"])
    assert pop.loc[(1, 12), "window_antidepressants"] == "1_5"
    assert pop.loc[(2, 12), "window_antidepressants"] == "0_1"
    assert pop.loc[(1, 12), "antidepressants_gt1"] == 1 and pop.loc[(2, 12), "antidepressants_gt1"] == 0
    assert pop.loc[(1, 12), "sub_ssris"] == 1
    # Case 1 has the same exposure in every comparison it appears in.
    case1 = t[t["person_id"] == 1]
    assert len(case1) == 3 and (case1["window_anxiolytics"] == "gt5").all()
    assert (case1["cat_anxiolytics"] == CATEGORY_CODES["gt5"]).all()
    sib = t[(t["comparison"] == "sibling") & (t["person_id"] == 13)].iloc[0]
    assert sib["window_hypnotics"] == "0_1" and sib["sub_z_drugs"] == 1 and sib["hypnotics_gt1"] == 0
    case3 = t[t["person_id"] == 3]
    assert len(case3) == 2 and (case3["window_antidepressants"] == "never").all()


def test_analysis_table_with_use_in_window():
    t = build_analysis_table(tiny_registry(), ExposureRules(definition="use_in_window"))
    assert {f"{k}_in_{w}" for k in CLASSES for w in WINDOWS} <= set(t.columns)
    row = t[(t["comparison"] == "population") & (t["set_id"] == 2) & (t["person_id"] == 12)].iloc[0]
    assert [row[f"antidepressants_in_{w}"] for w in WINDOWS] == [0, 0, 0]  # one date in 1-5 y, one in 0-1 y
    row = t[(t["comparison"] == "population") & (t["set_id"] == 1) & (t["person_id"] == 12)].iloc[0]
    assert [row[f"antidepressants_in_{w}"] for w in WINDOWS] == [0, 1, 0]


# ----------------------------------------------------------------------------- against the simulated truth


@pytest.fixture(scope="module")
def simulated():
    """A 10x simulated register classified as generated, with the generator's per-person truth.

    The tables go straight into a :class:`Registry` (dates as ``datetime64[s]``, study dates
    as ISO strings) rather than through ``write`` and ``read_registry``, which would add
    about 8 s; the read path is exercised by ``large_table`` in ``conftest.py``.
    """
    from alsmeds.simulate import generate

    synthetic = generate(seed=31, scale=10, truth_scale=0)
    registry = Registry(tables=synthetic.tables, metadata=dict(synthetic.metadata), data_dir=Path("."))
    return build_analysis_table(registry), synthetic.people


def test_classification_recovers_the_planted_truth_for_every_person(simulated):
    table, people = simulated
    assert len(people) > 80_000
    found = table.drop_duplicates(["person_id", "set_id"]).rename(columns={"set_id": "case_id"})
    assert len(found) == len(people)
    merged = people.merge(found, on=KEY, how="left", suffixes=("_true", ""), validate="one_to_one", indicator=True)
    assert (merged["_merge"] == "both").all()
    for k in CLASSES:
        assert (merged[f"window_{k}"] == merged[f"window_{k}_true"]).all(), k
        first = pd.to_datetime(merged[f"first_qualifying_{k}"]).to_numpy().astype("datetime64[D]")
        true_first = pd.to_datetime(merged[f"first_use_{k}"]).to_numpy().astype("datetime64[D]")
        assert (np.isnat(first) == np.isnat(true_first)).all(), k
        assert (first[~np.isnat(first)] == true_first[~np.isnat(true_first)]).all(), k
        assert (merged[f"{k}_gt1"] == merged[f"window_{k}"].isin(["1_5", "gt5"])).all(), k
        # Every window occurs, so the comparison is not vacuous.
        assert set(merged[f"window_{k}"]) == {"never", *WINDOWS}, k
    assert (merged["psych_history"] == merged["psych_history_true"].astype(np.int8)).all()
