"""Render simulated people as register tables in the input data contract.

Each person's true exposure category is written out as dispensing rows that the
study's rule (at least two dispensings on distinct dates before the index date;
the category is the timing of the second one) classifies back to exactly that
category, together with rows that must *not* count: single dispensings, two
dispensings on the same day, use that starts after the index date, and drugs
outside the three classes.  The negative control (proton-pump inhibitors) is rendered
the same way, from its own random stream, and its rows are added to the others
(:func:`add_negative_control_dispensings`); so are the classes of the panel of controls
(:func:`add_panel_dispensings`, one stream per class).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from alsmeds.simulate.parameters import CLASSES, OTHER_ATC, SUBSTANCES, SimulationParameters

PSYCHIATRIC_ICD10 = ("F321", "F329", "F331", "F412", "F419", "F411", "F432", "F431", "F510", "F102", "F200", "F600")
OTHER_ICD10 = ("I109", "E119", "J459", "M179", "K219")


def _pick(rng: np.random.Generator, shares: dict[str, float], n: int) -> np.ndarray:
    codes = np.asarray(list(shares))
    cum = np.cumsum(np.asarray(list(shares.values()), dtype=float))
    return codes[np.searchsorted(cum / cum[-1], rng.random(n), side="right").clip(max=len(codes) - 1)]


def _uniform_between(rng: np.random.Generator, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """A uniform day in ``[start, end]`` (inclusive; ``end >= start``)."""
    span = (end - start).astype(np.int64) + 1
    return start + np.floor(rng.random(start.shape[0]) * span).astype("timedelta64[D]")


def observation_end(params: SimulationParameters, people: pd.DataFrame) -> np.ndarray:
    """Last day a person can appear in a register: death, emigration or end of follow-up."""
    end = np.datetime64(params.design.end_of_follow_up, "D")
    out = np.full(len(people), end)
    for col in ("death_date", "emigration_date"):
        values = people[col].to_numpy().astype("datetime64[D]")
        out = np.where(~np.isnat(values) & (values < out), values, out)
    return out


def _adder(rng: np.random.Generator, people: pd.DataFrame, parts: list, substances: dict | None = None):
    """A function that appends dispensing rows of a class (or, with None, of other drugs) to ``parts``.

    ``substances`` maps a class to its substance codes and shares (default :data:`SUBSTANCES`).
    """
    pid = people["person_id"].to_numpy()
    table = SUBSTANCES if substances is None else substances

    def add(person_rows: np.ndarray, dates: np.ndarray, klass: str | None):
        if person_rows.size == 0:
            return
        atc = _pick(rng, table[klass] if klass else OTHER_ATC, person_rows.size)
        packages = 1 + rng.poisson(0.5, person_rows.size)
        parts.append(
            pd.DataFrame({"person_id": pid[person_rows], "dispensing_date": dates, "atc": atc, "packages": packages})
        )

    return add


def _render_class(rng: np.random.Generator, params: SimulationParameters, people: pd.DataFrame, k: str, add) -> None:
    """Rows of one class: users' first, qualifying and further dispensings; non-users' near-misses and later use."""
    use = params.use
    register_start = np.datetime64(params.design.register_start, "D")
    index = people["index_date"].to_numpy().astype("datetime64[D]")
    last = observation_end(params, people)
    first = people[f"first_use_{k}"].to_numpy().astype("datetime64[D]")
    user = ~np.isnat(first)
    rows = np.flatnonzero(user)
    qualifying = first[rows]
    # First dispensing 7-180 days before the qualifying one, never before the register start.
    room = (qualifying - register_start).astype(np.int64)
    gap = np.minimum(rng.integers(7, 181, rows.size), room)
    add(rows, qualifying - gap.astype("timedelta64[D]"), k)
    add(rows, qualifying, k)
    # Further dispensings at roughly regular intervals; they may continue past the index date.
    n_further = rng.poisson(use.mean_further_dispensings, rows.size)
    rep = np.repeat(rows, n_further)
    step = np.maximum(1, np.round(rng.gamma(4.0, use.mean_days_between_dispensings / 4, rep.size)))
    cum = pd.Series(step).groupby(np.repeat(np.arange(rows.size), n_further)).cumsum().to_numpy()
    dates = np.repeat(qualifying, n_further) + cum.astype(np.int64).astype("timedelta64[D]")
    ok = dates <= last[rep]
    add(rep[ok], dates[ok], k)

    # Near-misses among non-users: one dispensing, or two on the same day, before the index date.
    never = np.flatnonzero(~user)
    draw = rng.random(never.size)
    single = never[draw < use.near_miss_single]
    add(single, _uniform_between(rng, np.full(single.size, register_start), index[single] - 1), k)
    same_day = never[(draw >= use.near_miss_single) & (draw < use.near_miss_single + use.near_miss_same_day)]
    day = _uniform_between(rng, np.full(same_day.size, register_start), index[same_day] - 1)
    add(same_day, day, k)
    add(same_day, day, k)
    # Initiation after the index date (must not count as prediagnostic use).
    later = never[(rng.random(never.size) < 0.03) & (last[never] > index[never] + 30)]
    start = _uniform_between(rng, index[later], last[later] - 30)
    add(later, start, k)
    add(later, start + rng.integers(1, 31, later.size).astype("timedelta64[D]"), k)


def _sorted(parts: list) -> pd.DataFrame:
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["person_id", "dispensing_date", "atc"], kind="stable").reset_index(drop=True)


def render_dispensings(rng: np.random.Generator, params: SimulationParameters, people: pd.DataFrame) -> pd.DataFrame:
    """Dispensing rows of the three study classes and of other drugs for every person (see the module docstring)."""
    register_start = np.datetime64(params.design.register_start, "D")
    last = observation_end(params, people)
    parts: list = []
    add = _adder(rng, people, parts)
    for k in CLASSES:
        _render_class(rng, params, people, k, add)

    # Other drugs, outside every study class's code list (A02BC01 counts towards the negative control).
    n_other = rng.poisson(1.0, len(people))
    rows = np.repeat(np.arange(len(people)), n_other)
    add(rows, _uniform_between(rng, np.full(rows.size, register_start), last[rows]), None)
    return _sorted(parts)


def add_negative_control_dispensings(
    rng: np.random.Generator, params: SimulationParameters, people: pd.DataFrame, dispensings: pd.DataFrame
) -> pd.DataFrame:
    """The dispensings with the negative control's rows added, rendered as a study class's are.

    Parameters
    ----------
    rng : numpy.random.Generator
        Its own stream (``rng_for(seed, "negative_control_dispensings")``).
    params : SimulationParameters
    people : DataFrame
        With ``first_use_<negative control>`` (:func:`.population.draw_negative_control`).
    dispensings : DataFrame
        From :func:`render_dispensings`.

    Returns
    -------
    DataFrame
        Every row of ``dispensings``, in the same relative order, and the new rows, sorted
        by person, date and ATC code (stable: a new row follows an old row with the same key).
    """
    parts: list = [dispensings]
    _render_class(rng, params, people, params.negative_control.drug_class, _adder(rng, people, parts))
    return _sorted(parts)


def panel_substances(atc_prefix: str) -> dict[str, float]:
    """Substance codes of a class of the panel: its 5-character ATC prefix completed by ``01`` (60%) and ``02`` (40%).

    The codes are ATC-shaped (:data:`alsmeds.data.schema.ATC_PATTERN`) and fall under the class's prefix;
    they need not name a real substance (the positive controls' ``Z99..`` are made up).
    """
    prefix = atc_prefix.strip().upper()
    if len(prefix) != 5:
        raise ValueError(f"a panel class's ATC prefix has 5 characters (chemical subgroup), not {prefix!r}")
    return {f"{prefix}01": 0.6, f"{prefix}02": 0.4}


def add_panel_dispensings(
    rngs: dict[str, np.random.Generator],
    params: SimulationParameters,
    people: pd.DataFrame,
    dispensings: pd.DataFrame,
    prefixes: dict[str, str],
) -> pd.DataFrame:
    """The dispensings with the rows of the panel's drawn classes added, each rendered as a study class's.

    Parameters
    ----------
    rngs : dict of str to numpy.random.Generator
        One stream per class (``rng_for(seed, "panel_dispensings/<group>")``).
    params : SimulationParameters
    people : DataFrame
        With ``first_use_<group>`` per class (:func:`.panel.draw_panel`).
    dispensings : DataFrame
        The other rows.
    prefixes : dict of str to str
        Class -> ATC prefix (:func:`panel_substances`), in the order rendered.

    Returns
    -------
    DataFrame
        Every row of ``dispensings`` in the same relative order and the new rows, sorted by person,
        date and ATC code (stable).
    """
    # Users' further dispensings at the panel's rate (PanelParameters.mean_further_dispensings); all else as a class's.
    rendered = replace(params, use=replace(params.use, mean_further_dispensings=params.panel.mean_further_dispensings))
    parts: list = [dispensings]
    for group, prefix in prefixes.items():
        rng = rngs[group]
        _render_class(rng, rendered, people, group, _adder(rng, people, parts, {group: panel_substances(prefix)}))
    return _sorted(parts)


def render_diagnoses(rng: np.random.Generator, params: SimulationParameters, people: pd.DataFrame) -> pd.DataFrame:
    """National Patient Register rows: psychiatric history before the index date, and noise."""
    npr_start = np.datetime64("1997-01-01", "D")
    index = people["index_date"].to_numpy().astype("datetime64[D]")
    birth = people["birth_date"].to_numpy().astype("datetime64[D]")
    last = observation_end(params, people)
    earliest = np.maximum(npr_start, birth + np.timedelta64(18 * 365, "D"))
    pid = people["person_id"].to_numpy()
    parts = []

    history = np.flatnonzero(people["psych_history"].to_numpy())
    n_dx = 1 + rng.poisson(0.8, history.size)
    rows = np.repeat(history, n_dx)
    dates = _uniform_between(rng, earliest[rows], index[rows] - 1)
    parts.append((rows, dates, np.asarray(PSYCHIATRIC_ICD10)[rng.integers(0, len(PSYCHIATRIC_ICD10), rows.size)]))

    # A first psychiatric diagnosis after the index date does not make a history.
    none = np.flatnonzero(~people["psych_history"].to_numpy() & (last > index + 1))
    after = none[rng.random(none.size) < 0.04]
    dates = _uniform_between(rng, index[after] + 1, last[after])
    parts.append((after, dates, np.asarray(PSYCHIATRIC_ICD10)[rng.integers(0, len(PSYCHIATRIC_ICD10), after.size)]))

    n_other = rng.poisson(0.6, len(people))
    rows = np.repeat(np.arange(len(people)), n_other)
    dates = _uniform_between(rng, earliest[rows], last[rows])
    parts.append((rows, dates, np.asarray(OTHER_ICD10)[rng.integers(0, len(OTHER_ICD10), rows.size)]))

    cases = np.flatnonzero(people["role"].to_numpy() == "case")
    parts.append((cases, index[cases], np.full(cases.size, "G122")))

    out = pd.concat(
        [pd.DataFrame({"person_id": pid[r], "diagnosis_date": d, "icd10": c}) for r, d, c in parts],
        ignore_index=True,
    )
    return out.sort_values(["person_id", "diagnosis_date", "icd10"], kind="stable").reset_index(drop=True)
