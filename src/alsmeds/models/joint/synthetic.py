"""Joint-model frames of a synthetic registry and the planted values they should recover.

For checking the estimator on :func:`alsmeds.simulate.generate` output only: the exposures come
from the generator's answer key (``SyntheticRegistry.people``: prediagnostic use of a class is
``window_<class> != "never"``, exactly the indicator the generator's hazard and slopes use,
:mod:`alsmeds.simulate.prognosis`), so the check isolates the joint model from exposure
classification.  The analysis of a register extract builds its frames elsewhere.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES

#: Days per month (365.25 / 12): the generator's unit of time for the prognosis model.
DAYS_PER_MONTH = 365.25 / 12
#: Age the age covariate is centred at (years), as in the planted hazard.
REFERENCE_AGE = 65.0

#: The planted joint model's structure, as arguments of :class:`~.fitting.JointModel`.
PLANTED_MODEL: dict[str, Any] = {
    "id": "person_id",
    "time": "months",
    "y": "score",
    "level": ["antidepressants", "age_per_decade", "male", "bulbar"],
    "slope": ["antidepressants"],
    "surv_time": "time_months",
    "event": "event",
    "surv": [*CLASSES, "age_per_decade", "male", "bulbar"],
}


def synthetic_joint_frames(registry: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Longitudinal and survival frames of the ALS cases of a :class:`~alsmeds.simulate.SyntheticRegistry`.

    Parameters
    ----------
    registry : SyntheticRegistry
        ``tables`` (``als_cases``, ``persons``, ``alsfrs``, ``outcomes``), ``metadata``
        (``end_of_follow_up``) and ``people`` (the answer key).

    Returns
    -------
    (DataFrame, DataFrame)
        ``long``: one row per ALSFRS-R visit (``person_id``, ``months`` since diagnosis, ``score``
        and the covariates); ``surv``: one row per case (``person_id``, ``time_months`` to the first
        of death or invasive ventilation or to censoring at emigration or the end of follow-up,
        ``event`` 0/1, ``anxiolytics``, ``hypnotics``, ``antidepressants`` (prediagnostic use),
        ``age_per_decade`` ((age - 65) / 10), ``male``, ``bulbar``).
    """
    tables = registry.tables
    cases = tables["als_cases"][["person_id", "diagnosis_date", "onset_site"]].copy()
    cases["diagnosis_date"] = pd.to_datetime(cases["diagnosis_date"])
    persons = tables["persons"].set_index("person_id")
    birth = pd.to_datetime(cases["person_id"].map(persons["birth_date"]))
    cases["age_per_decade"] = ((cases["diagnosis_date"] - birth).dt.days / 365.25 - REFERENCE_AGE) / 10
    cases["male"] = (cases["person_id"].map(persons["sex"]) == "male").astype(float)
    cases["bulbar"] = (cases["onset_site"] == "bulbar").astype(float)
    people = registry.people.set_index("person_id")
    for k in CLASSES:
        cases[k] = (cases["person_id"].map(people[f"window_{k}"]) != "never").astype(float)

    outcomes = tables["outcomes"].assign(event_date=lambda d: pd.to_datetime(d["event_date"]))
    first = outcomes.groupby("person_id")["event_date"].min()
    event_date = cases["person_id"].map(first)
    emigration = pd.to_datetime(cases["person_id"].map(persons["emigration_date"]))
    end = pd.Timestamp(registry.metadata["end_of_follow_up"])
    censor = emigration.where(emigration.notna() & (emigration < end), end)
    has_event = event_date.notna() & (event_date <= censor)
    stop = event_date.where(has_event, censor)
    cases["time_months"] = (stop - cases["diagnosis_date"]).dt.days / DAYS_PER_MONTH
    cases["event"] = has_event.astype(float)

    visits = tables["alsfrs"][["person_id", "visit_date", "alsfrs_r_total"]].copy()
    visits = visits.merge(cases, on="person_id", how="inner")
    visits["months"] = (pd.to_datetime(visits["visit_date"]) - visits["diagnosis_date"]).dt.days / DAYS_PER_MONTH
    visits["score"] = visits["alsfrs_r_total"].astype(float)
    visits = visits[visits["months"] <= visits["time_months"]]
    covariates = [*CLASSES, "age_per_decade", "male", "bulbar"]
    long = visits[["person_id", "months", "score", *covariates]].sort_values(["person_id", "months"], kind="stable")
    surv = cases[["person_id", "time_months", "event", *covariates]].sort_values("person_id", kind="stable")
    return long.reset_index(drop=True), surv.reset_index(drop=True)


def planted_values(params: Any) -> pd.Series:
    """The planted value of every parameter of :data:`PLANTED_MODEL` (names as ``JointResult.params``).

    The generator's hazard is ``exp(log_baseline_hazard + g'w + association (m(t) - intercept_mean))``
    per month: a Weibull baseline with shape 1 (``log_shape = 0``) and
    ``log_scale = log_baseline_hazard - association * intercept_mean`` (centring ``m`` moves only the
    baseline).  Level effects of the covariates and of antidepressants are planted as zero; ``D``
    comes from the intercept and slope SDs and their correlation.

    Parameters
    ----------
    params : SimulationParameters

    Returns
    -------
    Series
        Planted values by parameter name, plus ``sigma``, ``sd_intercept``, ``sd_slope``,
        ``corr_intercept_slope`` (on the latent scale: before rounding and clipping).
    """
    pr = params.prognosis
    rho = pr.intercept_slope_correlation
    L00 = pr.intercept_sd
    L10 = rho * pr.slope_sd
    L11 = pr.slope_sd * np.sqrt(1 - rho**2)
    values = {
        "long:Intercept": pr.intercept_mean,
        "long:antidepressants": 0.0,
        "long:age_per_decade": 0.0,
        "long:male": 0.0,
        "long:bulbar": 0.0,
        "long:months": pr.slope_mean,
        "long:antidepressants:months": pr.slope_antidepressants,
        "log_sigma": np.log(pr.residual_sd),
        "log_chol_D11": np.log(L00),
        "chol_D21": L10,
        "log_chol_D22": np.log(L11),
        **{f"surv:{k}": pr.log_hr_use[k] for k in CLASSES},
        "surv:age_per_decade": pr.log_hr_per_decade_of_age,
        "surv:male": pr.log_hr_male,
        "surv:bulbar": pr.log_hr_bulbar,
        "alpha": pr.association,
        "baseline:log_scale": pr.log_baseline_hazard - pr.association * pr.intercept_mean,
        "baseline:log_shape": 0.0,
        "sigma": pr.residual_sd,
        "sd_intercept": pr.intercept_sd,
        "sd_slope": pr.slope_sd,
        "corr_intercept_slope": rho,
    }
    return pd.Series(values, dtype=float)
