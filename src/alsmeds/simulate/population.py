"""Person-level simulation: the matched sets with their latent traits and true exposures.

The data-generating mechanism
-----------------------------
A source population of families is described by a familial factor ``U`` (standard
normal, identical for full siblings), each person's psychiatric liability, covariates
and use of the three drug classes before an index date (:func:`draw_traits`).  ALS
is rare, with odds ``exp(const + eta)`` (see :class:`~.parameters.RiskParameters`).

Cases are drawn from the population *tilted* by ``exp(eta)``, which is what a rare
disease does to the people who get it: the familial factor and sex enter ``eta``
additively, so they are drawn directly from their tilted laws (a normal shifted by
``gamma``; a re-weighted Bernoulli), and the remaining terms by rejection sampling
with acceptance probability ``exp(eta_rest - bound)``.  Population controls are drawn
from the untilted population with the case's sex, birth year and index date
(incidence-density sampling, under which the conditional odds ratio estimates the
rate ratio).  Siblings share the case's familial factor and family birth-cohort
centre; spouses share it partly.  Because the case and its siblings are exchangeable
draws given the family, a sibling comparison recovers ``beta`` exactly, while a
population comparison that cannot condition on ``U`` estimates a different,
confounded quantity, which :mod:`.truth` computes numerically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

from alsmeds.constants import DAYS_PER_YEAR
from alsmeds.simulate.draws import first_use as _first_use
from alsmeds.simulate.draws import rng_for
from alsmeds.simulate.panel import draw_panel
from alsmeds.simulate.parameters import CATEGORY_CODES, CLASSES, WINDOWS, SimulationParameters

EDUCATION = ("compulsory", "upper_secondary", "post_secondary")
COUNTRIES = ("sweden", "other_nordic", "other")
CIVIL = ("married", "unmarried", "divorced", "widowed")
PROPOSAL_BATCH = 50_000


@dataclass
class Traits:
    """Latent and observed traits of a batch of people (arrays of equal length)."""

    age: np.ndarray
    male: np.ndarray
    familial: np.ndarray
    index_date: np.ndarray  # datetime64[D]
    liability: np.ndarray
    psych_history: np.ndarray
    education: np.ndarray  # codes into EDUCATION
    country: np.ndarray  # codes into COUNTRIES
    civil: np.ndarray  # codes into CIVIL
    category: dict[str, np.ndarray]  # CATEGORY_CODES per class
    first_use: dict[str, np.ndarray]  # datetime64[D], NaT for never
    propensity: np.ndarray  # the prescribing propensity S the classes share (UseParameters)


def _truncated_normal(rng: np.random.Generator, mean, sd, lower, upper, size=None) -> np.ndarray:
    """Inverse-CDF draws from normals truncated to ``[lower, upper]``."""
    a = (np.asarray(lower) - mean) / sd
    b = (np.asarray(upper) - mean) / sd
    u = rng.random(size if size is not None else np.broadcast(a, b).shape)
    pa, pb = special.ndtr(a), special.ndtr(b)
    return mean + sd * special.ndtri(pa + u * (pb - pa))


def draw_traits(
    rng: np.random.Generator,
    params: SimulationParameters,
    age: np.ndarray,
    male: np.ndarray,
    familial: np.ndarray,
    index_date: np.ndarray,
) -> Traits:
    """Draw psychiatric liability, covariates and drug use for people of given age, sex, U and index date."""
    n = age.shape[0]
    fam, use, pop = params.family, params.use, params.population
    female = ~male
    r = fam.familial_share_of_liability
    liability = r * familial + np.sqrt(1 - r**2) * rng.standard_normal(n)
    psych_logit = fam.psych_history_intercept + fam.psych_history_per_liability * liability
    psych_logit = psych_logit + fam.psych_history_female * female
    psych_history = rng.random(n) < special.expit(psych_logit)

    birth_year = index_date.astype("datetime64[Y]").astype(np.int64) + 1970 - age
    edu_latent = pop.education_trend_per_decade * (birth_year - 1950) / 10 + rng.standard_normal(n)
    education = np.searchsorted(np.asarray(pop.education_cutpoints), edu_latent)
    country = np.searchsorted(np.cumsum(pop.country_of_birth_shares)[:-1], rng.random(n))
    civil = np.searchsorted(np.cumsum(pop.civil_status_shares)[:-1], rng.random(n))

    shared = rng.standard_normal(n)
    rho = use.shared_propensity_share
    category: dict[str, np.ndarray] = {}
    first_use: dict[str, np.ndarray] = {}
    for k in CLASSES:
        latent = (
            use.intercept[k]
            + use.per_liability[k] * liability
            + use.per_familial_factor[k] * familial
            + use.female[k] * female
            + use.per_decade_of_age[k] * (age - 65) / 10
            + np.sqrt(rho) * shared
            + np.sqrt(1 - rho) * rng.standard_normal(n)
        )
        category[k], first_use[k] = _first_use(rng, params, latent > 0, index_date)
    return Traits(
        age=age,
        male=male,
        familial=familial,
        index_date=index_date,
        liability=liability,
        psych_history=psych_history,
        education=education,
        country=country,
        civil=civil,
        category=category,
        first_use=first_use,
        propensity=shared,
    )


def draw_negative_control(
    rng: np.random.Generator, params: SimulationParameters, people: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Planted use of the negative-control exposure (:class:`~.parameters.NegativeControlParameters`).

    Use depends on each person's familial factor, age and sex only and has no effect on
    ALS, so it may be drawn after the matched sets: given ``U``, age and sex it has the
    same law for cases and controls, which is what a null effect implies.

    Parameters
    ----------
    rng : numpy.random.Generator
        Its own stream (``rng_for(seed, "negative_control")``), so no other draw moves.
    params : SimulationParameters
    people : DataFrame
        ``age``, ``male``, ``familial``, ``index_date`` per person.

    Returns
    -------
    tuple of numpy.ndarray
        Window code (:data:`~.parameters.CATEGORY_CODES`) and date of first qualifying use (NaT: never).

    Raises
    ------
    ValueError
        When ``params.negative_control.log_or_als`` is not 0 (this mechanism holds under the null only).
    """
    nc = params.negative_control
    if nc.log_or_als != 0:
        raise ValueError(
            "the negative control is drawn after the cases were sampled, which is valid only for a null effect "
            f"(log_or_als = 0), not {nc.log_or_als}"
        )
    n = len(people)
    age = people["age"].to_numpy(dtype=float)
    female = ~people["male"].to_numpy(dtype=bool)
    latent = (
        nc.intercept
        + nc.per_familial_factor * people["familial"].to_numpy(dtype=float)
        + nc.female * female
        + nc.per_decade_of_age * (age - 65) / 10
        + rng.standard_normal(n)
    )
    return _first_use(rng, params, latent > 0, people["index_date"].to_numpy().astype("datetime64[D]"))


def exposure_log_odds(params: SimulationParameters, traits: Traits) -> np.ndarray:
    """Sum of the planted window effects, by each person's own age group."""
    risk = params.risk
    young = traits.age < risk.age_cutoff
    out = np.zeros(traits.age.shape[0])
    for k in CLASSES:
        for w in WINDOWS:
            hit = traits.category[k] == CATEGORY_CODES[w]
            out += hit * np.where(young, risk.log_or_young[k][w], risk.log_or_old[k][w])
    return out


def covariate_log_odds(params: SimulationParameters, traits: Traits) -> np.ndarray:
    """Planted covariate terms of ``eta`` other than sex and the familial factor."""
    risk = params.risk
    edu = np.array([risk.log_or_education[e] for e in EDUCATION])
    cob = np.array([risk.log_or_country_of_birth[c] for c in COUNTRIES])
    return (
        risk.log_or_psych_history * traits.psych_history
        + edu[traits.education]
        + cob[traits.country]
        + risk.log_or_per_decade_of_age * (traits.age - 65) / 10
    )


def _acceptance_bound(params: SimulationParameters) -> float:
    risk, pop = params.risk, params.population
    bound = 0.0
    for k in CLASSES:
        bound += max(0.0, *risk.log_or_young[k].values(), *risk.log_or_old[k].values())
    bound += max(0.0, risk.log_or_psych_history)
    bound += max(risk.log_or_education.values()) + max(risk.log_or_country_of_birth.values())
    a = risk.log_or_per_decade_of_age
    bound += max(a * (pop.max_age - 65) / 10, a * (pop.min_age - 65) / 10)
    return bound


def _uniform_dates(rng: np.random.Generator, start, end, n: int) -> np.ndarray:
    start = np.datetime64(start, "D")
    span = int((np.datetime64(end, "D") - start).astype(np.int64)) + 1
    return start + rng.integers(0, span, n).astype("timedelta64[D]")


def _whole_days(age: np.ndarray) -> np.ndarray:
    """Round ages to whole days so that birth date, index date and age agree exactly."""
    return np.round(age * DAYS_PER_YEAR) / DAYS_PER_YEAR


def _member_age(rng, params, centre):
    pop = params.population
    return _whole_days(_truncated_normal(rng, centre, pop.sibling_age_sd, pop.min_age, pop.max_age))


def draw_cases(rng: np.random.Generator, params: SimulationParameters, n_cases: int, progress=None):
    """Draw ``n_cases`` ALS cases from the tilted population by rejection sampling.

    Returns the case traits and each case's family age centre.
    """
    pop, risk, design = params.population, params.risk, params.design
    bound = _acceptance_bound(params)
    odds_male = pop.male_share * np.exp(risk.log_or_male)
    tilted_male_share = odds_male / (odds_male + 1 - pop.male_share)
    kept: list[tuple[Traits, np.ndarray]] = []
    total = 0
    while total < n_cases:
        n = PROPOSAL_BATCH
        familial = rng.standard_normal(n) + risk.log_or_familial_factor
        male = rng.random(n) < tilted_male_share
        centre = _truncated_normal(rng, pop.family_age_mean, pop.family_age_sd, pop.min_age, pop.max_age, n)
        age = _member_age(rng, params, centre)
        index_date = _uniform_dates(rng, design.recruitment_start, design.recruitment_end, n)
        traits = draw_traits(rng, params, age, male, familial, index_date)
        eta_rest = exposure_log_odds(params, traits) + covariate_log_odds(params, traits)
        accept = rng.random(n) < np.exp(eta_rest - bound)
        idx = np.flatnonzero(accept)[: n_cases - total]
        kept.append((_subset(traits, idx), centre[idx]))
        total += idx.size
        if progress is not None:
            progress.update(idx.size)
    traits = _concat([t for t, _ in kept])
    centre = np.concatenate([c for _, c in kept])
    return traits, centre


def _subset(traits: Traits, idx: np.ndarray) -> Traits:
    return Traits(
        **{
            name: ({k: v[idx] for k, v in value.items()} if isinstance(value, dict) else value[idx])
            for name, value in vars(traits).items()
        }
    )


def _concat(parts: list[Traits]) -> Traits:
    first = parts[0]
    out = {}
    for name, value in vars(first).items():
        if isinstance(value, dict):
            out[name] = {k: np.concatenate([getattr(p, name)[k] for p in parts]) for k in value}
        else:
            out[name] = np.concatenate([getattr(p, name) for p in parts])
    return Traits(**out)


def _exact_counts(rng: np.random.Generator, n_units: int, n_with: int, n_items: int) -> np.ndarray:
    """Spread ``n_items`` (>= ``n_with``) over ``n_with`` random units, at least one each."""
    counts = np.zeros(n_units, dtype=np.int64)
    if n_with == 0:
        return counts
    chosen = rng.choice(n_units, size=n_with, replace=False)
    extra = rng.multinomial(n_items - n_with, np.full(n_with, 1 / n_with)) if n_items > n_with else 0
    counts[chosen] = 1 + extra
    return counts


def scaled_design(params: SimulationParameters, scale: float) -> dict[str, int]:
    """Counts of the design at a scale (1 = paper scale)."""
    d = params.design
    n_cases = max(1, round(d.n_cases * scale))
    return {
        "n_cases": n_cases,
        "n_cases_with_four_controls": min(n_cases, round(d.n_cases_with_four_controls * scale)),
        "n_cases_with_siblings": min(n_cases, round(d.n_cases_with_siblings * scale)),
        "n_siblings": round(d.n_siblings * scale),
        "n_spouses": min(n_cases, round(d.n_spouses * scale)),
    }


def simulate_study_population(
    params: SimulationParameters,
    seed: int,
    scale: float = 1.0,
    progress=None,
    step_prefix: str = "",
    panel: bool | None = None,
) -> pd.DataFrame:
    """Simulate every member of every matched set, one row per person.

    Parameters
    ----------
    params : SimulationParameters
    seed : int
    scale : float
        Multiplies every count of the design (1 = the paper's 1,057 cases).
    progress : tqdm-like, optional
        Updated with the number of cases accepted.
    step_prefix : str
        Prefix of the random-stream names (the truth computation uses its own).
    panel : bool, optional
        Draw the panel of controls of empirical calibration (:mod:`.panel`); None:
        ``params.panel.enabled``.  Drawn last, on its own streams: no other column moves.

    Returns
    -------
    pandas.DataFrame
        Columns: set_id, role, age, male, familial, index_date, liability, propensity,
        psych_history, education, country, civil, birth_date, per class
        ``cat_<class>`` (code) and ``first_use_<class>`` (date), then the same two
        columns of the negative control (:func:`draw_negative_control`) and, with the
        panel, of each of its drawn classes (:func:`.panel.draw_panel`).
    """
    counts = scaled_design(params, scale)
    n_cases = counts["n_cases"]
    pop = params.population

    cases, centre = draw_cases(rng_for(seed, step_prefix + "cases"), params, n_cases, progress)
    case_birth = cases.index_date - np.round(cases.age * DAYS_PER_YEAR).astype("timedelta64[D]")
    frames = [_frame(cases, np.arange(n_cases), "case", case_birth)]

    # Population controls: same sex and birth year, the case's index date, untilted population.
    rng = rng_for(seed, step_prefix + "population_controls")
    n_controls = np.full(n_cases, params.design.controls_per_case)
    four = rng.choice(n_cases, size=counts["n_cases_with_four_controls"], replace=False)
    n_controls[four] -= 1
    set_c = np.repeat(np.arange(n_cases), n_controls)
    birth_year = case_birth[set_c].astype("datetime64[Y]")
    year_length = (birth_year + np.timedelta64(1, "Y")).astype("datetime64[D]") - birth_year.astype("datetime64[D]")
    birth_c = birth_year.astype("datetime64[D]") + np.floor(
        rng.random(set_c.size) * year_length.astype(np.int64)
    ).astype("timedelta64[D]")
    index_c = cases.index_date[set_c]
    age_c = (index_c - birth_c).astype(np.int64) / DAYS_PER_YEAR
    controls = draw_traits(rng, params, age_c, cases.male[set_c], rng.standard_normal(set_c.size), index_c)
    frames.append(_frame(controls, set_c, "population_control", birth_c))

    # Full siblings: the same familial factor and family age centre as the case.
    rng = rng_for(seed, step_prefix + "siblings")
    n_sib = _exact_counts(rng, n_cases, counts["n_cases_with_siblings"], counts["n_siblings"])
    set_s = np.repeat(np.arange(n_cases), n_sib)
    age_s = _member_age(rng, params, centre[set_s])
    male_s = rng.random(set_s.size) < pop.male_share
    index_s = cases.index_date[set_s]
    sibs = draw_traits(rng, params, age_s, male_s, cases.familial[set_s], index_s)
    frames.append(_frame(sibs, set_s, "sibling", index_s - np.round(age_s * DAYS_PER_YEAR).astype("timedelta64[D]")))

    # Spouses: opposite sex, familial factor correlated with the case's.
    rng = rng_for(seed, step_prefix + "spouses")
    set_p = np.sort(rng.choice(n_cases, size=counts["n_spouses"], replace=False))
    rho = params.family.spouse_correlation
    fam_p = rho * cases.familial[set_p] + np.sqrt(1 - rho**2) * rng.standard_normal(set_p.size)
    gap = pop.spouse_age_gap_mean + pop.spouse_age_gap_sd * rng.standard_normal(set_p.size)
    age_p = _whole_days(np.clip(cases.age[set_p] + np.where(cases.male[set_p], -gap, gap), pop.min_age, pop.max_age))
    index_p = cases.index_date[set_p]
    spouses = draw_traits(rng, params, age_p, ~cases.male[set_p], fam_p, index_p)
    # A couple shares its civil status (a spouse control is a current or former partner).
    spouses.civil = cases.civil[set_p].copy()
    frames.append(_frame(spouses, set_p, "spouse", index_p - np.round(age_p * DAYS_PER_YEAR).astype("timedelta64[D]")))

    out = pd.concat(frames, ignore_index=True)
    role_order = {"case": 0, "population_control": 1, "sibling": 2, "spouse": 3}
    out["_role"] = out["role"].map(role_order)
    out = out.sort_values(["set_id", "_role"], kind="stable").drop(columns="_role").reset_index(drop=True)
    # The negative control, last and on its own stream: no other column moves (NegativeControlParameters).
    nc = params.negative_control.drug_class
    out[f"cat_{nc}"], out[f"first_use_{nc}"] = draw_negative_control(
        rng_for(seed, step_prefix + "negative_control"), params, out
    )
    if params.panel.enabled if panel is None else panel:
        out = draw_panel(params, seed, out, step_prefix)
    return out


def _frame(traits: Traits, set_id: np.ndarray, role: str, birth_date: np.ndarray) -> pd.DataFrame:
    data = {
        "set_id": set_id.astype(np.int64),
        "role": role,
        "age": traits.age,
        "male": traits.male,
        "familial": traits.familial,
        "index_date": traits.index_date,
        "birth_date": birth_date.astype("datetime64[D]"),
        "liability": traits.liability,
        "propensity": traits.propensity,
        "psych_history": traits.psych_history,
        "education": np.asarray(EDUCATION)[traits.education],
        "country": np.asarray(COUNTRIES)[traits.country],
        "civil": np.asarray(CIVIL)[traits.civil],
    }
    for k in CLASSES:
        data[f"cat_{k}"] = traits.category[k]
        data[f"first_use_{k}"] = traits.first_use[k]
    frame = pd.DataFrame(data)
    return frame
