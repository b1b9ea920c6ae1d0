"""ALSFRS-R decline after diagnosis: the linear mixed model, ``alsfrs_mixed_model.csv`` and ``.json``.

Estimand: the mean rate of decline of the ALSFRS-R total score (points per month) of
patients who used none of the three classes before diagnosis, and the difference in that
rate for users of each class (the ``<class>:months`` fixed effects), from a linear mixed
model with a random intercept and slope per patient fitted by REML
(:class:`alsmeds.models.mixed.AlsfrsMixedModel`; every case, classified at diagnosis,
:attr:`alsmeds.Study.alsfrs_data`).  Beside it, the same fixed effects with a random
intercept only, both by maximum likelihood, and the likelihood-ratio test of "no random
slope" (:func:`alsmeds.models.mixed.compare_random_effects`).

Assumptions: a linear decline, normal random effects and errors, and visits missing at
random given the observed scores.  Death and invasive ventilation end the visits of the
fastest decliners first, so dropout is informative and the slopes are biased towards
flatter decline (notebook 06 measures how much on synthetic data; notebook 07 fits the
joint model).  When the model cannot be fitted (too few patients or visits) the results
file holds one not-estimable row per term with the reason
(:func:`alsmeds.models.mixed.not_estimable_rows`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from alsmeds.analyses.context import AnalysisContext
from alsmeds.analyses.registry import analysis
from alsmeds.models.mixed import (
    MIXED_MODEL_RESULT_COLUMNS,
    AlsfrsMixedModel,
    AlsfrsMixedResult,
    MixedModelError,
    compare_random_effects,
    not_estimable_rows,
    random_effects_comparison_rows,
)
from alsmeds.reporting.results import write_estimates

__all__ = ["MixedModelFits", "alsfrs_mixed_model", "fit_mixed_models"]


@dataclass(frozen=True)
class MixedModelFits:
    """The ALSFRS-R mixed model fitted to one study's visits, with its random-effects comparison.

    Attributes
    ----------
    result : AlsfrsMixedResult or None
        The main model (random intercept and slope, REML); None when it cannot be fitted.
    reason : str
        Why the main model cannot be fitted (:class:`~alsmeds.models.mixed.MixedModelError`); empty otherwise.
    comparison : DataFrame
        :func:`~alsmeds.models.mixed.compare_random_effects`: random intercept only against
        random intercept and slope, by maximum likelihood (a model that fails is a
        not-estimable row).
    n_obs, n_patients : int
        Visits and patients of the data.
    """

    result: AlsfrsMixedResult | None
    reason: str
    comparison: pd.DataFrame
    n_obs: int
    n_patients: int

    @property
    def converged(self) -> bool:
        """Whether the main model was fitted and its optimiser converged (not in the results file)."""
        return self.result is not None and bool(self.result.converged)

    def estimates(self) -> pd.DataFrame:
        """Every estimate in the layout of :data:`~alsmeds.models.mixed.MIXED_MODEL_RESULT_COLUMNS`.

        The main model's fixed effects, slopes by group, variance components and fit
        statistics, then the model-comparison rows; or, when the main model cannot be
        fitted, one not-estimable row per term with the reason.
        """
        if self.result is None:
            return not_estimable_rows(self.reason, n_obs=self.n_obs, n_patients=self.n_patients)
        rows = random_effects_comparison_rows(self.comparison, self.result.n_obs, self.result.n_groups)
        return pd.concat([self.result.to_frame(), rows], ignore_index=True)


def fit_mixed_models(data: pd.DataFrame, model: AlsfrsMixedModel | None = None) -> MixedModelFits:
    """Fit the ALSFRS-R mixed model and its random-intercept comparison; a model that cannot be fitted says why.

    Parameters
    ----------
    data : DataFrame
        ALSFRS-R visits (:attr:`alsmeds.Study.alsfrs_data`).
    model : AlsfrsMixedModel, optional
        Default: the study's model (random intercept and slope, REML, every class, the
        default covariates).

    Returns
    -------
    MixedModelFits
        Never raises :class:`~alsmeds.models.mixed.MixedModelError`: the reason is kept.
    """
    model = model if model is not None else AlsfrsMixedModel()
    try:
        result, reason = model.fit(data), ""
    except MixedModelError as exc:  # too few patients or visits, no visit after diagnosis, ...
        result, reason = None, str(exc)
    return MixedModelFits(
        result=result,
        reason=reason,
        comparison=compare_random_effects(data, model),
        n_obs=len(data),
        n_patients=int(data["person_id"].nunique()),
    )


@analysis("alsfrs_mixed_model", outputs=("alsfrs_mixed_model.csv", "alsfrs_mixed_model.json"))
def alsfrs_mixed_model(ctx: AnalysisContext) -> list[Path]:
    """ALSFRS-R slopes by prediagnostic use: the linear mixed model and its random-effects comparison.

    Writes ``alsfrs_mixed_model.csv`` and ``.json`` (:func:`fit_mixed_models`,
    :meth:`MixedModelFits.estimates`); the estimand and assumptions are in the module docstring.
    """
    fits = fit_mixed_models(ctx.study.alsfrs_data)
    return write_estimates(fits.estimates(), ctx.results_dir, "alsfrs_mixed_model", MIXED_MODEL_RESULT_COLUMNS)
