"""Synthetic Swedish-register-shaped data with a documented planted truth.

>>> from alsmeds.simulate import generate
>>> registry = generate(seed=2025, scale=1.0)          # doctest: +SKIP
>>> registry.tables["dispensings"].head()              # doctest: +SKIP

:func:`generate` returns the tables of the input data contract
(:mod:`alsmeds.data.schema`), the study metadata and the planted truth;
:meth:`SyntheticRegistry.write` writes them atomically with a checksum manifest.  The
mechanism is described in :mod:`.population` (risk), :mod:`.prognosis` (ALSFRS-R and
survival), :mod:`.panel` (the panel of controls of empirical calibration) and :mod:`.render`
(register rows); every parameter is in :mod:`.parameters`.

The generator fits no model (about a second at the paper's size).  Its truth holds the
parameters and, under ``estimands``: the planted within-family log odds ratios
(``within_family_log_or``) and ``prognosis``, the planted direct effects and ALSFRS-R
slopes, and ``panel``, the panel's planted odds ratios, loadings and null
(:func:`.panel.panel_truth`); beside them ``this_sample``, the sample's descriptives.  The
five implied sections (``implied``, ``published_vs_implied``, ``implied_cox``,
``negative_control``, ``panel_implied``: what the study's models converge to under the
mechanism) are left empty: they are
computed by fitting the models to large samples of this generator, in the layer above
(:func:`alsmeds.estimands.implied.implied_truth`, cached).
:func:`alsmeds.estimands.synthetic.write_synthetic` writes a data set with both, as
``data/synthetic`` holds it, and :func:`alsmeds.estimands.synthetic.check_synthetic`
regenerates one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from alsmeds.constants import DAYS_PER_YEAR
from alsmeds.precision import round_floats
from alsmeds.published import PUBLISHED_FOLLOWUP_YEARS, published_value
from alsmeds.simulate.panel import panel_classes, panel_truth
from alsmeds.simulate.parameters import CLASSES, NEGATIVE_CONTROL, WINDOW_LABELS, SimulationParameters
from alsmeds.simulate.population import rng_for, scaled_design, simulate_study_population
from alsmeds.simulate.prognosis import simulate_prognosis
from alsmeds.simulate.render import (
    add_negative_control_dispensings,
    add_panel_dispensings,
    render_diagnoses,
    render_dispensings,
)
from alsmeds.simulate.truth import DEFAULT_TRUTH_SCALE, empty_implied_truth, structural_truth

DEFAULT_SEED = 20250605
TRUTH_FILE = "truth.json"
TRUE_PEOPLE_FILE = "truth_people.csv"


@dataclass
class SyntheticRegistry:
    """A generated data set: the contract tables, their metadata, and the truth."""

    tables: dict[str, pd.DataFrame]
    metadata: dict[str, str]
    truth: dict
    people: pd.DataFrame

    def write(self, out_dir: str | Path) -> Path:
        """Write atomically to ``out_dir`` (:func:`alsmeds.data.write.write_registry`), with ``truth.json``."""
        from alsmeds.data.write import write_registry

        extra = {TRUTH_FILE: self.truth}
        return write_registry(
            out_dir, self.tables, self.metadata, extra_json=extra, extra_tables={TRUE_PEOPLE_FILE: self.people}
        )


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm  # the plain bar: tqdm.auto warns on stderr in a kernel without ipywidgets

    return tqdm(total=total, desc=desc, unit="case", disable=not enabled, leave=False)


def generate(
    seed: int | None = None,
    scale: float | None = None,
    params: SimulationParameters | None = None,
    truth_scale: float | None = None,
    progress: bool = False,
    cox_truth_scale: float | None = None,
) -> SyntheticRegistry:
    """Simulate the study's registers with a planted truth; no model is fitted.

    Parameters
    ----------
    seed : int, optional
        Master seed (default :data:`DEFAULT_SEED`).  Each step draws from its own
        named sub-stream (:func:`.population.rng_for`).
    scale : float, optional
        Multiplies every count of the design (default 1: 1,057 cases, 5,281
        population controls, 1,418 siblings of 709 cases, 871 spouses).
    params : SimulationParameters, optional
        Planted parameters (default: the documented, calibrated defaults).
    truth_scale, cox_truth_scale : float, optional
        Accepted for callers that skip the numerical estimands (None or 0 only): the
        generator computes none.  A positive value raises :class:`ValueError`; the
        implied estimands are :func:`alsmeds.estimands.implied.implied_truth`'s, and
        :func:`alsmeds.estimands.synthetic.synthetic_registry` adds them.
    progress : bool
        Show a progress bar.

    Returns
    -------
    SyntheticRegistry
        The tables, their metadata, the answer key (``people``) and the truth, whose
        implied sections (:data:`.truth.IMPLIED_SECTIONS`) are empty.
    """
    for name, value in (("truth_scale", truth_scale), ("cox_truth_scale", cox_truth_scale)):
        if value is not None and float(value) != 0:
            raise ValueError(
                f"generate() fits no model: {name}={value!r} asks for implied estimands; "
                "use alsmeds.estimands.synthetic.synthetic_registry (or implied_truth) instead"
            )
    seed = DEFAULT_SEED if seed is None else int(seed)
    scale = 1.0 if scale is None else float(scale)
    params = params or SimulationParameters()
    counts = scaled_design(params, scale)

    with _progress(counts["n_cases"], "simulating cases", progress) as bar:
        people = simulate_study_population(params, seed, scale, progress=bar)
    people = _assign_ids(people, rng_for(seed, "person_ids"))
    people = _vital_events_of_controls(people, params, rng_for(seed, "vital_events"))

    cases = people[people["role"] == "case"].reset_index(drop=True)
    prognosis = simulate_prognosis(rng_for(seed, "prognosis"), params, cases)
    per_case = prognosis["cases"]
    death_of_case = pd.Series(per_case["death_date"].to_numpy(), index=cases["person_id"].to_numpy())
    is_case = people["role"] == "case"
    people.loc[is_case, "death_date"] = people.loc[is_case, "person_id"].map(death_of_case).to_numpy()

    tables = {
        "persons": _persons(people),
        "study_population": _study_population(people),
        "als_cases": pd.DataFrame(
            {
                "person_id": cases["person_id"],
                "diagnosis_date": cases["index_date"],
                "onset_site": per_case["onset_site"],
                "diagnostic_delay_months": per_case["diagnostic_delay_months"],
            }
        ).sort_values("person_id", kind="stable"),
        "dispensings": _panel_dispensings(
            seed,
            params,
            people,
            add_negative_control_dispensings(
                rng_for(seed, "negative_control_dispensings"),
                params,
                people,
                render_dispensings(rng_for(seed, "dispensings"), params, people),
            ),
        ),
        "diagnoses": render_diagnoses(rng_for(seed, "diagnoses"), params, people),
        "alsfrs": _alsfrs(cases, prognosis["visits"]),
        "outcomes": _outcomes(cases, per_case),
    }
    tables = {name: frame.reset_index(drop=True) for name, frame in tables.items()}
    d = params.design
    metadata = {
        "register_start": d.register_start.isoformat(),
        "recruitment_start": d.recruitment_start.isoformat(),
        "recruitment_end": d.recruitment_end.isoformat(),
        "end_of_follow_up": d.end_of_follow_up.isoformat(),
    }

    implied = empty_implied_truth()
    truth = {
        "description": (
            "Planted truth of the synthetic registry. log_or values are natural-log odds ratios; "
            "see src/alsmeds/simulate/parameters.py and data/README.md for the meaning of each."
        ),
        "seed": seed,
        "scale": scale,
        "design_counts": counts,
        "parameters": params.to_dict(),
        # The implied sections stay empty (the generator fits no model); their place is kept, so that
        # alsmeds.estimands.synthetic fills them in the order truth.json has always had.
        "estimands": {
            "within_family_log_or": structural_truth(params),
            "implied": implied["implied"],
            "published_vs_implied": implied["published_vs_implied"],
            "prognosis": _prognosis_truth(params),
            "implied_cox": implied["implied_cox"],
            "negative_control": implied["negative_control"],
            "panel": panel_truth(params),
            "panel_implied": implied["panel_implied"],
        },
        "this_sample": _sample_summary(people, per_case, prognosis["visits"]),
    }
    # As written to truth.json: plain JSON, floats to the bundle's significant digits.
    truth = round_floats(json.loads(json.dumps(truth)))
    people_out = people.drop(columns=["death_date", "emigration_date"]).copy()
    people_out = people_out.merge(per_case[["set_id", "b0", "b1", "onset_site"]], on="set_id", how="left")
    people_out.loc[people_out["role"] != "case", ["b0", "b1", "onset_site"]] = np.nan
    return SyntheticRegistry(tables=tables, metadata=metadata, truth=truth, people=_true_people(people_out))


def _panel_dispensings(
    seed: int, params: SimulationParameters, people: pd.DataFrame, dispensings: pd.DataFrame
) -> pd.DataFrame:
    """The dispensings with the panel's rows added (:func:`.render.add_panel_dispensings`); unchanged without it."""
    if not params.panel.enabled:
        return dispensings
    prefixes = {k.group: k.atc_prefix for k in panel_classes(params) if k.drawn}
    rngs = {group: rng_for(seed, f"panel_dispensings/{group}") for group in prefixes}
    return add_panel_dispensings(rngs, params, people, dispensings, prefixes)


def _assign_ids(people: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Pseudonymous person ids in random order, so that ids reveal nothing about roles."""
    people = people.copy()
    people["person_id"] = (rng.permutation(len(people)) + 100001).astype(np.int64)
    case_ids = people.loc[people["role"] == "case"].set_index("set_id")["person_id"]
    people["case_id"] = people["set_id"].map(case_ids).astype(np.int64)
    return people


def _vital_events_of_controls(people: pd.DataFrame, params: SimulationParameters, rng) -> pd.DataFrame:
    """Deaths and emigrations of non-cases after the index date (controls are alive and resident at index)."""
    pop = params.population
    end = np.datetime64(params.design.end_of_follow_up, "D")
    index = people["index_date"].to_numpy().astype("datetime64[D]")
    out = {}
    for col, rate in (
        ("death_date", pop.control_death_rate_per_year),
        ("emigration_date", pop.control_emigration_rate_per_year),
    ):
        days = np.ceil(rng.exponential(DAYS_PER_YEAR / rate, len(people))).astype(np.int64)
        date = index + days.astype("timedelta64[D]")
        out[col] = np.where((date <= end) & (people["role"].to_numpy() != "case"), date, np.datetime64("NaT"))
    people = people.copy()
    people["death_date"] = out["death_date"]
    # A person who died cannot emigrate later.
    emig = out["emigration_date"]
    died_first = ~np.isnat(out["death_date"]) & ~np.isnat(emig) & (out["death_date"] <= emig)
    people["emigration_date"] = np.where(died_first, np.datetime64("NaT"), emig)
    return people


def _persons(people: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "person_id": people["person_id"],
            "birth_date": people["birth_date"],
            "sex": np.where(people["male"], "male", "female"),
            "education": people["education"],
            "country_of_birth": people["country"],
            "civil_status": people["civil"],
            "death_date": people["death_date"],
            "emigration_date": people["emigration_date"],
        }
    )
    return out.sort_values("person_id", kind="stable")


def _study_population(people: pd.DataFrame) -> pd.DataFrame:
    out = people[["person_id", "case_id", "role", "index_date"]]
    return out.sort_values(["case_id", "person_id"], kind="stable")


def _alsfrs(cases: pd.DataFrame, visits: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "person_id": cases["person_id"].to_numpy()[visits["case_row"].to_numpy()],
            "visit_date": visits["visit_date"],
            "alsfrs_r_total": visits["alsfrs_r_total"],
        }
    )
    return out.sort_values(["person_id", "visit_date"], kind="stable")


def _outcomes(cases: pd.DataFrame, per_case: pd.DataFrame) -> pd.DataFrame:
    has = per_case["event"].to_numpy() != ""
    first = pd.DataFrame(
        {
            "person_id": cases["person_id"][has],
            "event": per_case["event"][has],
            "event_date": per_case["event_date"][has],
        }
    )
    vent_death = (
        has & (per_case["event"].to_numpy() == "invasive_ventilation") & per_case["death_date"].notna().to_numpy()
    )
    later = pd.DataFrame(
        {
            "person_id": cases["person_id"][vent_death],
            "event": "death",
            "event_date": per_case["death_date"][vent_death],
        }
    )
    return pd.concat([first, later]).sort_values(["person_id", "event_date"], kind="stable")


def _prognosis_truth(params: SimulationParameters) -> dict:
    pr = params.prognosis
    return {
        "joint_model_log_hr_direct": {k: pr.log_hr_use[k] for k in CLASSES},
        "association_per_alsfrs_point": pr.association,
        "alsfrs_slope_per_month": {
            "non_users_of_antidepressants": pr.slope_mean,
            "antidepressant_users": pr.slope_mean + pr.slope_antidepressants,
            "difference": pr.slope_antidepressants,
        },
        "alsfrs_intercept_mean": pr.intercept_mean,
        "note": (
            "Direct effects: hazard ratios given the current true ALSFRS-R (the joint model's estimand). "
            "A Cox model without the trajectory estimates a total effect, larger for antidepressants, "
            "whose users also decline faster: estimands['implied_cox']."
        ),
    }


def _sample_summary(people: pd.DataFrame, per_case: pd.DataFrame, visits: pd.DataFrame) -> dict:
    cases = people[people["role"] == "case"]
    followup = (
        per_case["followup_end"].to_numpy().astype("datetime64[D]")
        - cases["index_date"].to_numpy().astype("datetime64[D]")
    ).astype(np.int64) / DAYS_PER_YEAR
    q = np.quantile(followup, [0.25, 0.5, 0.75])
    first_visit = visits[visits["months"] == 0]["alsfrs_r_total"]
    return {
        "counts_by_role": {str(k): int(v) for k, v in people["role"].value_counts().sort_index().items()},
        "case_age_mean": float(cases["age"].mean()),
        "case_age_sd": float(cases["age"].std()),
        "case_male_share": float(cases["male"].mean()),
        "followup_years_quartiles": [float(x) for x in q],
        "alsfrs_at_diagnosis_mean": float(first_visit.mean()),
        "events": {
            str(k): int(v) for k, v in per_case["event"].replace("", "none").value_counts().sort_index().items()
        },
        "published_targets": {
            "case_age_mean": published_value("cases:age_mean"),
            "case_age_sd": published_value("cases:age_sd"),
            "case_male_share": round(published_value("cases:male_percent") / 100, 6),
            "followup_years_quartiles": [
                PUBLISHED_FOLLOWUP_YEARS["q1"],
                PUBLISHED_FOLLOWUP_YEARS["median"],
                PUBLISHED_FOLLOWUP_YEARS["q3"],
            ],
            "alsfrs_at_diagnosis_mean": published_value("cases:alsfrs_at_diagnosis"),
        },
    }


def _true_people(people: pd.DataFrame) -> pd.DataFrame:
    """The answer key: one row per person with the latent truth (not part of the input contract)."""
    cols = ["person_id", "case_id", "role", "familial", "liability", "psych_history"]
    cols += [f"cat_{k}" for k in CLASSES] + [f"first_use_{k}" for k in CLASSES] + ["b0", "b1"]
    out = people[cols].copy()
    labels = dict(enumerate(WINDOW_LABELS))
    for k in CLASSES:
        out[f"window_{k}"] = out.pop(f"cat_{k}").map(labels)
    # The negative control's planted use, as the last columns.
    out[f"window_{NEGATIVE_CONTROL}"] = people[f"cat_{NEGATIVE_CONTROL}"].map(labels)
    out[f"first_use_{NEGATIVE_CONTROL}"] = people[f"first_use_{NEGATIVE_CONTROL}"]
    out = out.rename(
        columns={
            "familial": "familial_factor",
            "liability": "psychiatric_liability",
            "b0": "alsfrs_intercept",
            "b1": "alsfrs_slope_per_month",
        }
    )
    return out.sort_values("person_id", kind="stable").reset_index(drop=True)


__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_TRUTH_SCALE",
    "TRUE_PEOPLE_FILE",
    "TRUTH_FILE",
    "generate",
    "SyntheticRegistry",
    "SimulationParameters",
]
