"""The large survival sample the Cox models' implied estimands are computed on.

The generator plants a shared-parameter joint model (:mod:`.prognosis`): the hazard of
death or invasive ventilation depends on prediagnostic use *given the current true
ALSFRS-R* (the direct log hazard ratios ``log_hr_use``), and antidepressant users also
decline faster.  A Cox model adjusted only for covariates at diagnosis
(:func:`alsmeds.models.cox.fit_cox`) estimates something else: a total effect, a
conditional hazard ratio non-collapsible over the unmodelled random intercepts and slopes,
and, for the per-class models, the effects of the other, correlated classes
(:mod:`alsmeds.estimands.cox` states the estimand).  None has a closed form, so it is
computed numerically: :func:`simulate_survival_truth_sample` simulates ``truth_scale``
times the paper's cases with the data's parameters and seed on their own random streams
(``prognosis_truth/...``), with the study's administrative censoring only (no emigration
of cases), as survival data on the true covariates; the Cox fits on that sample are in
the layer above (:func:`alsmeds.estimands.cox.implied_cox_estimands`).  The generator
fits no model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES, DAYS_PER_YEAR
from alsmeds.derive.exposure import ever_used
from alsmeds.simulate.parameters import SimulationParameters
from alsmeds.simulate.population import rng_for, simulate_study_population
from alsmeds.simulate.prognosis import simulate_prognosis

#: Default size of the truth sample, in multiples of the paper's 1,057 cases (MC SE of the log HR about
#: 0.085 / sqrt(scale): 0.012 at 50), also the scale recorded in the committed truth.json.
DEFAULT_PROGNOSIS_TRUTH_SCALE = 50.0
#: Prefix of the random streams of this computation (disjoint from the data's and the risk truth's).
STEP_PREFIX = "prognosis_truth/"


def simulate_survival_truth_sample(
    params: SimulationParameters | None = None,
    seed: int | None = None,
    truth_scale: float = DEFAULT_PROGNOSIS_TRUTH_SCALE,
    baseline: str = "observed",
) -> pd.DataFrame:
    """Simulate a large set of cases as survival data on their true covariates.

    Parameters
    ----------
    params : SimulationParameters, optional
        Planted parameters (default: the documented defaults).
    seed : int, optional
        Master seed (default :data:`alsmeds.simulate.DEFAULT_SEED`).
    truth_scale : float
        Number of cases, in multiples of the paper's 1,057.
    baseline : {"observed", "true"}
        Baseline ALSFRS-R covariate: the simulated score of the visit at diagnosis (with
        measurement noise, rounded and clipped, as the data hold; the default, which is
        what the analysis adjusts for) or the true intercept ``b0``.

    Returns
    -------
    DataFrame
        The columns of :func:`alsmeds.derive.survival_data.build_survival_data` that the Cox model
        uses (time, event, age, male, bulbar, diagnostic_delay_months, alsfrs_baseline,
        ``cat_<class>``, ``use_<class>``), plus the true ``b0`` and ``b1``.
    """
    from alsmeds.simulate import DEFAULT_SEED

    params = params or SimulationParameters()
    seed = DEFAULT_SEED if seed is None else int(seed)
    people = simulate_study_population(params, seed, truth_scale, step_prefix=STEP_PREFIX, panel=False)
    cases = people[people["role"] == "case"].reset_index(drop=True)
    prognosis = simulate_prognosis(rng_for(seed, STEP_PREFIX + "prognosis"), params, cases)
    per_case, visits = prognosis["cases"], prognosis["visits"]

    index = cases["index_date"].to_numpy().astype("datetime64[D]")
    end = per_case["followup_end"].to_numpy().astype("datetime64[D]")
    days = (end - index).astype(np.int64)
    if baseline == "observed":
        first = visits[visits["months"] == 0].drop_duplicates("case_row").set_index("case_row")["alsfrs_r_total"]
        alsfrs = first.reindex(np.arange(len(cases))).to_numpy(dtype=float)
    elif baseline == "true":
        alsfrs = per_case["b0"].to_numpy(dtype=float)
    else:
        raise ValueError(f"baseline must be 'observed' or 'true', not {baseline!r}")
    out = pd.DataFrame(
        {
            "time": days / DAYS_PER_YEAR,
            "event": (per_case["event"].to_numpy() != "").astype(np.int64),
            "age": cases["age"].to_numpy(dtype=float),
            "male": cases["male"].astype(np.int64).to_numpy(),
            "bulbar": (per_case["onset_site"].to_numpy() == "bulbar").astype(np.int64),
            "diagnostic_delay_months": per_case["diagnostic_delay_months"].to_numpy(dtype=float),
            "alsfrs_baseline": alsfrs,
            "b0": per_case["b0"].to_numpy(),
            "b1": per_case["b1"].to_numpy(),
        }
    )
    for k in CLASSES:
        out[f"cat_{k}"] = cases[f"cat_{k}"].astype(np.int64).to_numpy()
        out[f"use_{k}"] = ever_used(out[f"cat_{k}"]).astype(np.int64)  # the study's definition
    return out


__all__ = [
    "DEFAULT_PROGNOSIS_TRUTH_SCALE",
    "STEP_PREFIX",
    "simulate_survival_truth_sample",
]
