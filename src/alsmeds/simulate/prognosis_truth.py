"""The Cox model's estimand implied by the planted joint model, computed numerically.

The generator plants a shared-parameter joint model (:mod:`.prognosis`): the hazard of
death or invasive ventilation depends on prediagnostic use *given the current true
ALSFRS-R* (the direct log hazard ratios ``log_hr_use``), and antidepressant users also
decline faster.  A Cox model adjusted only for covariates at diagnosis
(:func:`alsmeds.models.cox.fit_cox`) estimates something else:

* a **total** effect, which adds the pathway through faster decline (larger for
  antidepressants);
* a conditional hazard ratio that is **non-collapsible** over the unmodelled random
  intercepts and slopes of the ALSFRS-R: omitted heterogeneity makes the population
  hazard ratio drift towards 1 over follow-up (frailty selection), so even a class with
  no effect on decline has a Cox estimand different from its direct effect;
* for the per-class models, the effects of the *other*, correlated classes.

None of these has a closed form, so the estimand is computed as ``truth.json``'s risk
estimands are (:mod:`.truth`): the same generator simulates ``truth_scale`` times the
paper's cases on its own random streams (``prognosis_truth/...``), with the study's
administrative censoring only (no emigration of cases), and the same Cox model is fitted
on the true covariates.  The model's standard error at that size is the Monte Carlo
standard error of the estimand.

The generator records these estimands in ``truth.json`` (``estimands["implied_cox"]``,
:func:`alsmeds.simulate.generate`), computed with the data set's own parameters and seed
at :data:`DEFAULT_PROGNOSIS_TRUTH_SCALE` (50) times the paper's cases: about 4 s on two
cores (a tenth of the risk estimands' cost at their scale of 100), with a Monte Carlo
standard error of about 0.012 on the log hazard ratio, against a standard error of about
0.1 for the paper-sized estimate it is compared with.  ``simulate --check`` regenerates
them at the recorded scale.  Notebook 05 reads them from ``truth.json``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES, DAYS_PER_YEAR
from alsmeds.derive.exposure import ever_used
from alsmeds.simulate.parameters import SimulationParameters
from alsmeds.simulate.population import rng_for, simulate_study_population
from alsmeds.simulate.prognosis import simulate_prognosis

#: Default size of the truth sample, in multiples of the paper's 1,057 cases (MC SE of the log HR about
#: 0.085 / sqrt(scale): 0.012 at 50), also the scale the generator records in truth.json.
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
    people = simulate_study_population(params, seed, truth_scale, step_prefix=STEP_PREFIX)
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


def implied_cox_estimands(
    params: SimulationParameters | None = None,
    seed: int | None = None,
    truth_scale: float = DEFAULT_PROGNOSIS_TRUTH_SCALE,
    classes: Sequence[str] = CLASSES,
    baseline: str = "observed",
) -> dict:
    """Log hazard ratios the adjusted Cox models estimate under the planted joint model, with Monte Carlo SEs.

    Fits the models of :func:`alsmeds.models.cox.fit_cox_models` (one per class, and the
    three classes together), adjusted for age, sex, onset site, diagnostic delay and
    baseline ALSFRS-R, on :func:`simulate_survival_truth_sample`.

    Parameters
    ----------
    params, seed, truth_scale, baseline
        See :func:`simulate_survival_truth_sample`.  Runtime is about 0.2 s per unit
        of ``truth_scale``.
    classes : sequence of str
        Classes of the per-class models (the mutual model has them all).

    Returns
    -------
    dict
        JSON-ready: ``per_class`` and ``mutual``, each ``{class: {"log_hr", "mc_se"}}``;
        ``direct`` (the planted joint-model log HRs); ``_truth_sample`` (seed, scale,
        cases, events, baseline, the warnings raised by the fits (none expected), note).
    """
    from alsmeds.models.cox import fit_cox

    params = params or SimulationParameters()
    data = simulate_survival_truth_sample(params, seed, truth_scale, baseline)
    out: dict[str, dict] = {"per_class": {}, "mutual": {}}
    caught: list[str] = []
    for k in classes:
        res = fit_cox(data, [f"use_{k}"], run_ph_test=False)
        caught += res.warnings
        term = f"use_{k}"
        out["per_class"][k] = {"log_hr": float(res.params[term]), "mc_se": float(res.bse[term])}
    res = fit_cox(data, [f"use_{k}" for k in CLASSES], run_ph_test=False)
    caught += res.warnings
    for k in CLASSES:
        out["mutual"][k] = {"log_hr": float(res.params[f"use_{k}"]), "mc_se": float(res.bse[f"use_{k}"])}
    out["direct"] = {k: float(params.prognosis.log_hr_use[k]) for k in CLASSES}
    from alsmeds.simulate import DEFAULT_SEED

    out["_truth_sample"] = {
        "seed": DEFAULT_SEED if seed is None else int(seed),
        "truth_scale": float(truth_scale),
        "n_cases": int(len(data)),
        "events": int(data["event"].sum()),
        "baseline": baseline,
        "warnings": caught,
        "note": "log_hr: adjusted Cox estimate on truth_scale x the paper's cases with true covariates; "
        "mc_se: its standard error",
    }
    return out


def implied_cox_frame(estimands: dict) -> pd.DataFrame:
    """The estimands of :func:`implied_cox_estimands` as a tidy frame.

    Returns
    -------
    DataFrame
        model (per_class / mutual), drug_class, log_hr, mc_se, hazard_ratio, direct_log_hr, direct_hazard_ratio.
    """
    rows = []
    for model in ("per_class", "mutual"):
        for k, v in estimands[model].items():
            rows.append(
                {
                    "model": model,
                    "drug_class": k,
                    "log_hr": v["log_hr"],
                    "mc_se": v["mc_se"],
                    "hazard_ratio": float(np.exp(v["log_hr"])),
                    "direct_log_hr": estimands["direct"][k],
                    "direct_hazard_ratio": float(np.exp(estimands["direct"][k])),
                }
            )
    return pd.DataFrame(rows)


__all__ = [
    "DEFAULT_PROGNOSIS_TRUTH_SCALE",
    "implied_cox_estimands",
    "implied_cox_frame",
    "simulate_survival_truth_sample",
]
