"""Joint-model frames of a synthetic registry with the generator's answer-key exposures, and the planted values.

For checking the estimator on :func:`alsmeds.simulate.generate` output only.  The frames are
built by the study's own rules (:func:`alsmeds.derive.alsfrs.build_alsfrs_data` and
:func:`alsmeds.derive.joint_data.build_joint_frames`: visits kept, follow-up, event, covariates),
with one change: the exposures come from the generator's answer key
(``SyntheticRegistry.people``: prediagnostic use of a class is
:func:`alsmeds.derive.exposure.ever_used` of the true window ``window_<class>``,
exactly the indicator the generator's hazard and slopes use, :mod:`alsmeds.simulate.prognosis`)
instead of being classified from the dispensings, so the check isolates the joint model from
exposure classification.  On the committed draw the two classifications agree for every case
(``tests/test_joint_prognosis.py``).  The analysis of an extract uses ``Study.joint_data``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alsmeds.constants import CATEGORY_CODES, CLASSES
from alsmeds.derive.alsfrs import build_alsfrs_data
from alsmeds.derive.exposure import ever_used
from alsmeds.derive.joint_data import JOINT_COVARIATES, build_joint_frames

#: The planted joint model's structure, as arguments of :class:`~.fitting.JointModel`.
PLANTED_MODEL: dict[str, Any] = {
    "id": "person_id",
    "time": "months",
    "y": "score",
    "level": ["antidepressants", *JOINT_COVARIATES],
    "slope": ["antidepressants"],
    "surv_time": "time_months",
    "event": "event",
    "surv": [*CLASSES, *JOINT_COVARIATES],
}


def answer_key_exposures(registry: Any) -> pd.DataFrame:
    """One row per ALS case with ``cat_<class>`` = 1 for true prediagnostic use (the answer key), else 0."""
    cases = registry.tables["als_cases"][["person_id"]].copy()
    people = registry.people.set_index("person_id")
    for k in CLASSES:
        codes = cases["person_id"].map(people[f"window_{k}"].map(CATEGORY_CODES))  # window name -> code
        cases[f"cat_{k}"] = ever_used(codes.to_numpy()).astype(np.int64)
    return cases.reset_index(drop=True)


def synthetic_joint_frames(registry: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Longitudinal and survival frames of the ALS cases of a :class:`~alsmeds.simulate.SyntheticRegistry`.

    Parameters
    ----------
    registry : SyntheticRegistry
        ``tables``, ``metadata`` and ``people`` (the answer key).

    Returns
    -------
    (DataFrame, DataFrame)
        ``long`` and ``surv`` of :class:`alsmeds.derive.joint_data.JointFrames` (columns
        :data:`~alsmeds.derive.joint_data.JOINT_LONG_COLUMNS` and
        :data:`~alsmeds.derive.joint_data.JOINT_SURV_COLUMNS`), with answer-key exposures.
    """
    frames = build_joint_frames(build_alsfrs_data(registry, answer_key_exposures(registry)))
    return frames.long, frames.surv


#: Association parameters of :class:`~.fitting.JointModel` per association structure.
ASSOCIATION_PARAMETERS: dict[str, tuple[str, ...]] = {
    "value": ("alpha",),
    "slope": ("alpha_slope",),
    "both": ("alpha", "alpha_slope"),
}


def planted_association(params: Any) -> str:
    """The association structure of the joint model that contains the planted one.

    Parameters
    ----------
    params : SimulationParameters

    Returns
    -------
    str
        ``params.prognosis.association_structure``, with ``"none"`` (no association planted) as ``"value"``:
        the usual model, whose ``alpha`` is then planted as 0.
    """
    structure = params.prognosis.association_structure
    return "value" if structure == "none" else structure


def planted_values(params: Any, association: str | None = None) -> pd.Series:
    """The planted value of every parameter of :data:`PLANTED_MODEL` (names as ``JointResult.params``).

    The generator's hazard is ``exp(log_baseline_hazard + g'w + association (m(t) - intercept_mean)
    + association_slope (m'(t) - slope_mean))`` per month: a Weibull baseline with shape 1
    (``log_shape = 0``) and ``log_scale = log_baseline_hazard - association * intercept_mean -
    association_slope * slope_mean`` (centring ``m`` and ``m'`` moves only the baseline).  Level effects
    of the covariates and of antidepressants are planted as zero; ``D`` comes from the intercept and
    slope SDs and their correlation.

    Parameters
    ----------
    params : SimulationParameters
    association : {"value", "slope", "both"}, optional
        The association structure of the model the values are for (``JointModel(association=...)``):
        ``"value"`` gives ``alpha``, ``"slope"`` ``alpha_slope``, ``"both"`` the two (a coefficient not
        planted is planted as 0; a structure that leaves out a planted coefficient is misspecified and has
        no planted values).  Default :func:`planted_association`: the planted structure, so
        ``alpha_slope`` appears when a slope association is planted.

    Returns
    -------
    Series
        Planted values by parameter name, plus ``sigma``, ``sd_intercept``, ``sd_slope``,
        ``corr_intercept_slope`` (on the latent scale: before rounding and clipping).
    """
    pr = params.prognosis
    association = planted_association(params) if association is None else association
    if association not in ASSOCIATION_PARAMETERS:
        raise ValueError(f"association must be one of {sorted(ASSOCIATION_PARAMETERS)}, not {association!r}")
    planted_association_values = {"alpha": pr.association, "alpha_slope": pr.association_slope}
    left_out = [
        n for n, v in planted_association_values.items() if v != 0 and n not in ASSOCIATION_PARAMETERS[association]
    ]
    if left_out:
        raise ValueError(f"association={association!r} leaves out the planted {', '.join(left_out)}")
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
        **{name: planted_association_values[name] for name in ASSOCIATION_PARAMETERS[association]},
        "baseline:log_scale": (
            pr.log_baseline_hazard - pr.association * pr.intercept_mean - pr.association_slope * pr.slope_mean
        ),
        "baseline:log_shape": 0.0,
        "sigma": pr.residual_sd,
        "sd_intercept": pr.intercept_sd,
        "sd_slope": pr.slope_sd,
        "corr_intercept_slope": rho,
    }
    return pd.Series(values, dtype=float)
