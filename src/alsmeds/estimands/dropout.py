"""The bias informative dropout gives the ALSFRS-R mixed model, measured on synthetic data against the latent truth.

Estimand
--------
For each dropout scenario (:data:`alsmeds.simulate.dropout.DROPOUT_SCENARIOS`, from the
complete latent trajectories to the observed scores) and each slope term of the mixed
model (:class:`alsmeds.models.mixed.AlsfrsMixedModel`), the bias of the estimate against
*this sample's own* true slopes (:func:`alsmeds.simulate.dropout.latent_slope_regression`:
the reference-group slope and the slope differences a perfect longitudinal study of
these patients would estimate), with its Monte Carlo standard error over redraws of the
measurement noise.

Assumptions: the patients, their true lines, their visit times and their follow-up are
fixed (the bias is conditional on them); only the measurement noise is redrawn, so the
Monte Carlo SE measures measurement noise only.  The scenarios' data are built in
:mod:`alsmeds.simulate.dropout` (:func:`~alsmeds.simulate.dropout.scenario_frames`);
this module fits the model to them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsmeds.models.mixed import AlsfrsMixedModel, AlsfrsMixedResult
from alsmeds.simulate.dropout import DROPOUT_SCENARIOS, latent_slope_regression, scenario_frames, true_person_effects


def dropout_scenarios(
    data: pd.DataFrame,
    people: pd.DataFrame,
    observed: AlsfrsMixedResult,
    terms: Sequence[str] = ("months", "antidepressants:months"),
    horizon_months: float = 36,
    every_months: float = 3,
    seed: int = 1,
    replicates: int = 1,
) -> pd.DataFrame:
    """The same mixed model fitted from complete latent trajectories down to the observed scores, with its bias.

    Each step adds one departure from the ideal: (1) every patient's true line seen every
    ``every_months`` up to ``horizon_months`` with fresh measurement noise; (2) the same,
    cut at each patient's end of follow-up (informative dropout); (3) the true line at
    the patient's actual visits; (4) the observed, rounded and clipped scores (the fit
    ``observed``).  Comparing the rows shows how much of the bias in the slopes comes
    from dropout and how much from the floor, ceiling and rounding of the score.

    **Bias and its Monte Carlo error.**  The target of every scenario is this sample's own
    true slopes (:func:`~alsmeds.simulate.dropout.latent_slope_regression` on the slope exposures of ``observed``'s
    model: the patients and their true lines are fixed).  Replicate ``r`` redraws the
    measurement noise (seed ``seed + r``) and refits scenarios 1-3; scenario 4 is the fit
    ``observed`` in replicate 0 and, in the others, the latent scores at the observed
    visits rounded and clipped to 0-48 as the generator records them
    (:func:`~alsmeds.simulate.dropout.rounded_and_clipped`).  ``bias`` is the mean over the replicates of estimate
    minus target, conditional on these patients and their follow-up, and ``mc_se`` its
    Monte Carlo standard error, SD / sqrt(replicates) (Morris, White & Crowther 2019);
    with one replicate it is missing.

    Parameters
    ----------
    data : DataFrame
        ALSFRS-R data (:func:`alsmeds.derive.alsfrs.build_alsfrs_data`).
    people : DataFrame
        The generator's answer key (``truth_people.csv``).
    observed : AlsfrsMixedResult
        The mixed model already fitted to ``data`` (not refitted).
    terms : sequence of str
        Fixed effects reported (slope terms: ``months``, ``<class>:months``).
    horizon_months, every_months : float
        Schedule of the complete latent trajectories.
    seed : int
        Seed of the measurement noise of the first replicate.
    replicates : int
        Noise replicates (each costs three or four fits, well under a second at the paper's size).

    Returns
    -------
    DataFrame
        One row per scenario and term: ``scenario``, ``term``, ``visits`` and the Wald
        columns of :meth:`AlsfrsMixedResult.linear_combination` (replicate 0), then
        ``sample_value`` (the target), ``replicates``, ``bias`` and ``mc_se``.
    """
    if replicates < 1:
        raise ValueError(f"replicates must be at least 1, not {replicates}")
    effects = true_person_effects(people)
    # The target of the model's terms: the true slopes regressed on the model's own slope exposures.
    target = latent_slope_regression(data, effects, observed.model.slope_terms)
    model = AlsfrsMixedModel()
    first: dict[str, AlsfrsMixedResult] = {}
    errors: dict[tuple[str, str], list[float]] = {(name, term): [] for name in DROPOUT_SCENARIOS for term in terms}
    for r in range(replicates):
        frames = scenario_frames(data, effects, horizon_months, every_months, seed + r)
        for name, frame in frames.items():
            fit = observed if (r == 0 and name == DROPOUT_SCENARIOS[3]) else model.fit(frame)
            if r == 0:
                first[name] = fit
            for term in terms:
                errors[(name, term)].append(float(fit.params[term]) - float(target.get(term, np.nan)))
    rows = []
    for name, fit in first.items():
        for term in terms:
            e = np.asarray(errors[(name, term)])
            rows.append(
                {
                    "scenario": name,
                    "term": term,
                    "visits": fit.n_obs,
                    **fit.linear_combination({term: 1.0}).to_dict(),
                    "sample_value": float(target.get(term, np.nan)),
                    "replicates": replicates,
                    "bias": float(e.mean()),
                    "mc_se": float(e.std(ddof=1) / np.sqrt(len(e))) if len(e) > 1 else np.nan,
                }
            )
    return pd.DataFrame(rows)


__all__ = ["dropout_scenarios"]
