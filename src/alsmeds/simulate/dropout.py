"""The latent ALSFRS-R truth of synthetic data, rebuilt to measure what informative dropout does to the mixed model.

The generator's answer key holds every patient's true intercept and slope; these
functions rebuild complete and observed-time latent trajectories (the data of the
dropout scenarios, :func:`scenario_frames`) to separate the bias of dropout (death or
ventilation end the visits of fast decliners) from the floor, ceiling and rounding of the
observed score.  They fit no model: the mixed model is fitted to each scenario by
:func:`alsmeds.estimands.dropout.dropout_scenarios`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES
from alsmeds.derive.alsfrs import ALSFRS_DATA_COLUMNS


def true_person_effects(people: pd.DataFrame) -> pd.DataFrame:
    """True ALSFRS-R intercept and slope of each case from ``truth_people.csv`` / ``SyntheticRegistry.people``.

    Returns
    -------
    DataFrame
        Indexed by ``person_id``: ``b0`` (points at diagnosis), ``b1`` (points/month).
    """
    cases = people[people["role"] == "case"]
    return pd.DataFrame(
        {"b0": cases["alsfrs_intercept"].to_numpy(), "b1": cases["alsfrs_slope_per_month"].to_numpy()},
        index=pd.Index(cases["person_id"].to_numpy(), name="person_id"),
    )


#: The planted lines unlike ALS that :func:`planted_trajectory_shares` counts.
UNLIKE_ALS = {
    "rising": "true score rises (slope above 0 points per month)",
    "rising_over_4_per_year": "true score rises by more than 4 points a year",
    "above_48_at_diagnosis": "true score at diagnosis above the maximum of 48",
}


def planted_trajectory_shares(people: pd.DataFrame) -> pd.DataFrame:
    """How many simulated cases have a planted ALSFRS-R line that real ALS rarely shows.

    The generator draws each case's intercept and slope from a bivariate normal (a random-
    slope model, not a model of ALS), so some lines rise or start above the scale's maximum.

    Parameters
    ----------
    people : DataFrame
        ``truth_people.csv`` (:attr:`alsmeds.Study.truth_people`).

    Returns
    -------
    DataFrame
        Indexed by the keys of :data:`UNLIKE_ALS`: ``label``, ``cases`` and ``share`` of
        the cases with a planted line; ``attrs["n"]`` is the number of those cases.
    """
    effects = true_person_effects(people).dropna()
    flags = {
        "rising": effects["b1"] > 0,
        "rising_over_4_per_year": effects["b1"] > 4 / 12,
        "above_48_at_diagnosis": effects["b0"] > 48,
    }
    frame = pd.DataFrame(
        {
            "label": [UNLIKE_ALS[k] for k in flags],
            "cases": [int(f.sum()) for f in flags.values()],
            "share": [float(f.mean()) if len(f) else float("nan") for f in flags.values()],
        },
        index=list(flags),
    )
    frame.attrs["n"] = len(effects)
    return frame


def _patients(data: pd.DataFrame) -> pd.DataFrame:
    keep = [
        c for c in ALSFRS_DATA_COLUMNS if c in data and c not in {"visit_date", "months", "score", "visit", "n_visits"}
    ]
    return data.groupby("person_id", sort=True)[[c for c in keep if c != "person_id"]].first().reset_index()


def latent_complete_trajectories(
    data: pd.DataFrame,
    effects: pd.DataFrame,
    *,
    horizon_months: float = 36.0,
    every_months: float = 3.0,
    residual_sd: float = 2.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Every patient of ``data`` seen to a fixed horizon, with no dropout and no floor or ceiling.

    Score = true intercept + true slope x months + normal noise (``residual_sd``), not
    rounded or clipped, at months 0, ``every_months``, ..., ``horizon_months``.  The
    mixed model is correctly specified for these data, so it must recover the
    planted slopes: the check of the estimator.  :func:`cut_at_follow_up` removes the
    visits after each patient's real end of follow-up from the same rows.

    Returns
    -------
    DataFrame
        In the format of :func:`build_alsfrs_data` (patients' covariates and follow-up copied).
    """
    patients = _patients(data)
    times = np.arange(0.0, horizon_months + 1e-9, every_months)
    out = patients.loc[np.repeat(patients.index.to_numpy(), len(times))].reset_index(drop=True)
    out["months"] = np.tile(times, len(patients))
    out["visit"] = np.tile(np.arange(len(times)), len(patients))
    out["n_visits"] = len(times)
    eff = effects.reindex(out["person_id"].to_numpy())
    rng = np.random.default_rng(seed)
    noise = residual_sd * rng.standard_normal(len(out))
    out["score"] = eff["b0"].to_numpy() + eff["b1"].to_numpy() * out["months"].to_numpy() + noise
    return out


def cut_at_follow_up(complete: pd.DataFrame) -> pd.DataFrame:
    """The visits of :func:`latent_complete_trajectories` up to each patient's end of follow-up.

    Same patients, same times, same scores and noise; only the visits after death,
    invasive ventilation or censoring are gone.  Fitting both isolates what
    informative dropout does to the mixed model (common random numbers: the two fits
    differ in nothing else).
    """
    out = complete[complete["months"] <= complete["followup_months"] + 1e-9].copy()
    out["n_visits"] = out.groupby("person_id")["visit"].transform("size")
    return out.reset_index(drop=True)


def latent_at_observed_visits(
    data: pd.DataFrame, effects: pd.DataFrame, *, residual_sd: float = 2.0, seed: int = 0
) -> pd.DataFrame:
    """The observed visits (same patients, same times, same dropout) with latent scores.

    Score = true intercept + true slope x months + normal noise, not rounded or
    clipped: only the 0-48 floor and ceiling and the rounding separate them from the
    observed scores (the noise is drawn afresh).
    """
    out = data.copy()
    eff = effects.reindex(out["person_id"].to_numpy())
    rng = np.random.default_rng(seed)
    noise = residual_sd * rng.standard_normal(len(out))
    out["score"] = eff["b0"].to_numpy() + eff["b1"].to_numpy() * out["months"].to_numpy() + noise
    return out


def latent_slope_regression(data: pd.DataFrame, effects: pd.DataFrame, slope_exposures: Sequence[str] = CLASSES):
    """The sample's own slope estimand: least squares of the true slopes on the slope terms.

    Regressing each patient's true slope ``b1_i`` on an intercept and the exposures
    gives, for *these* patients, the reference-group slope and the slope differences a
    perfect longitudinal study would estimate.  It differs from the planted population
    values only by sampling (the true slopes' spread, 0.6 points/month, over the
    sample); comparing estimates with it removes that sampling error.

    Returns
    -------
    Series
        ``months`` and ``<class>:months``, in points/month.
    """
    patients = _patients(data).set_index("person_id")
    X = np.column_stack([np.ones(len(patients))] + [patients[k].to_numpy(float) for k in slope_exposures])
    b1 = effects["b1"].reindex(patients.index).to_numpy()
    coef, *_ = np.linalg.lstsq(X, b1, rcond=None)
    return pd.Series(coef, index=["months"] + [f"{k}:months" for k in slope_exposures])


#: The dropout scenarios, from the latent truth to what the registry shows.
DROPOUT_SCENARIOS = (
    "1 complete latent",
    "2 same, cut at follow-up",
    "3 latent at observed visits",
    "4 observed scores",
)

#: The ALSFRS-R scale's floor and ceiling.
SCORE_RANGE = (0.0, 48.0)


def rounded_and_clipped(latent: pd.DataFrame) -> pd.DataFrame:
    """Latent scores recorded as the registry (and the generator) records them: whole points within 0-48.

    ``score = clip(round(latent score), 0, 48)``, as :mod:`alsmeds.simulate.prognosis` makes
    the observed scores from the true line plus noise.
    """
    out = latent.copy()
    out["score"] = np.clip(np.round(out["score"].to_numpy(dtype=float)), *SCORE_RANGE)
    return out


def scenario_frames(
    data: pd.DataFrame, effects: pd.DataFrame, horizon_months: float, every_months: float, seed: int
) -> dict[str, pd.DataFrame]:
    """The data of the four dropout scenarios, from the latent truth to what the registry shows.

    Scenarios 1-3 (:data:`DROPOUT_SCENARIOS`) and a re-measured scenario 4 (the latent
    scores at the observed visits, rounded and clipped), with the measurement noise drawn
    from ``seed``.  :func:`alsmeds.estimands.dropout.dropout_scenarios` fits the mixed model
    to each.

    Parameters
    ----------
    data : DataFrame
        ALSFRS-R data (:func:`alsmeds.derive.alsfrs.build_alsfrs_data`).
    effects : DataFrame
        True intercepts and slopes (:func:`true_person_effects`).
    horizon_months, every_months : float
        Schedule of the complete latent trajectories.
    seed : int
        Seed of the measurement noise.

    Returns
    -------
    dict of str to DataFrame
        Scenario name -> its visits, in the format of ``data``.
    """
    complete = latent_complete_trajectories(
        data, effects, horizon_months=horizon_months, every_months=every_months, seed=seed
    )
    at_visits = latent_at_observed_visits(data, effects, seed=seed)
    return {
        DROPOUT_SCENARIOS[0]: complete,
        DROPOUT_SCENARIOS[1]: cut_at_follow_up(complete),
        DROPOUT_SCENARIOS[2]: at_visits,
        DROPOUT_SCENARIOS[3]: rounded_and_clipped(at_visits),
    }
