"""The Cox models' implied estimands under the planted joint model, computed numerically.

Estimand
--------
The log hazard ratio of death or invasive ventilation for prediagnostic use of a class
that the study's adjusted Cox model (:func:`alsmeds.models.cox.fit_cox`: adjusted for
age, sex, onset site, diagnostic delay and baseline ALSFRS-R; one model per class, and the
three classes together) converges to when the data come from the generator's
shared-parameter joint model (:mod:`alsmeds.simulate.prognosis`).  It is not the planted
direct effect ``log_hr_use`` (the hazard ratio given the current true ALSFRS-R):

* it is a **total** effect, which adds the pathway through faster decline (larger for
  antidepressants, whose users decline faster);
* the conditional hazard ratio is **non-collapsible** over the unmodelled random
  intercepts and slopes of the ALSFRS-R: omitted heterogeneity makes the population
  hazard ratio drift towards 1 over follow-up (frailty selection), so even a class with
  no effect on decline has a Cox estimand different from its direct effect;
* the per-class models also carry the effects of the *other*, correlated classes.

Computation and assumptions
---------------------------
No closed form exists, so the estimand is computed as the risk estimands are
(:mod:`alsmeds.estimands.risk`):
:func:`alsmeds.simulate.prognosis_truth.simulate_survival_truth_sample` simulates
``truth_scale`` times the paper's cases with the data's parameters and seed on their own
random streams (``prognosis_truth/...``), with administrative censoring only (no
emigration of cases), and the same Cox model is fitted on the true covariates; its
standard error at that size is the estimand's Monte Carlo standard error.  The default,
:data:`~alsmeds.simulate.prognosis_truth.DEFAULT_PROGNOSIS_TRUTH_SCALE` (50) times the
paper's cases, takes about 4 s on two cores and gives a Monte Carlo SE of about 0.012 on
the log hazard ratio, against an SE of about 0.1 for the paper-sized estimate it is
compared with.  ``truth.json`` records these estimands under ``estimands["implied_cox"]``
(:func:`alsmeds.estimands.implied.implied_truth`); notebook 05 reads them from there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES
from alsmeds.models.cox import fit_cox
from alsmeds.simulate import DEFAULT_SEED
from alsmeds.simulate.parameters import SimulationParameters
from alsmeds.simulate.prognosis_truth import DEFAULT_PROGNOSIS_TRUTH_SCALE, simulate_survival_truth_sample


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
    baseline ALSFRS-R, on
    :func:`alsmeds.simulate.prognosis_truth.simulate_survival_truth_sample`.

    Parameters
    ----------
    params, seed, truth_scale, baseline
        See :func:`~alsmeds.simulate.prognosis_truth.simulate_survival_truth_sample`.
        Runtime is about 0.2 s per unit of ``truth_scale``.
    classes : sequence of str
        Classes of the per-class models (the mutual model has them all).

    Returns
    -------
    dict
        JSON-ready: ``per_class`` and ``mutual``, each ``{class: {"log_hr", "mc_se"}}``;
        ``direct`` (the planted joint-model log HRs); ``_truth_sample`` (seed, scale,
        cases, events, baseline, the warnings raised by the fits (none expected), note).
    """
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


__all__ = ["implied_cox_estimands", "implied_cox_frame"]
