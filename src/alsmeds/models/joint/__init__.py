"""Joint model of a longitudinal marker and a time to event, fitted by maximum likelihood.

A shared-parameter joint model (Rizopoulos 2012; the model JM fits with
``method = "weibull-PH-aGH"``): a linear mixed model with random intercept and slope for the marker,
and a proportional-hazards model whose hazard depends on baseline covariates and on the current
true value of the marker.  See :class:`JointModel` for the estimand and assumptions.

Modules: :mod:`.data` (frames to per-patient arrays), :mod:`.quadrature` (Gauss-Hermite and
Gauss-Kronrod rules), :mod:`.mixed` (the linear mixed model alone: starting values and quadrature
centres), :mod:`.likelihood` (the joint log-likelihood, written with autograd.numpy), :mod:`.optimise`
(trust-region Newton with checked convergence), :mod:`.fitting` (:class:`JointModel`),
:mod:`.results` (:class:`JointResult`), :mod:`.prediction` (dynamic survival predictions).

Examples
--------
>>> model = JointModel(id="id", time="year", y="log_bili", level=["drug"], slope=["drug"],
...                    surv_time="years", event="death", surv=["drug"])          # doctest: +SKIP
>>> result = model.fit(long, surv)                                               # doctest: +SKIP
>>> print(result.summary())                                                      # doctest: +SKIP
"""

from alsmeds.models.joint.data import JointData, JointSpec, prepare_joint_data
from alsmeds.models.joint.fitting import JM_SETTINGS, JointModel, default_nodes, fit_joint_model
from alsmeds.models.joint.likelihood import Layout, PiecewiseBaseline, WeibullBaseline, joint_loglik, joint_loglik_terms
from alsmeds.models.joint.mixed import MixedFit, fit_mixed
from alsmeds.models.joint.prediction import dynamic_survival
from alsmeds.models.joint.results import JOINT_RESULT_COLUMNS, JointResult

__all__ = [
    "JM_SETTINGS",
    "JOINT_RESULT_COLUMNS",
    "JointData",
    "JointModel",
    "JointResult",
    "JointSpec",
    "Layout",
    "MixedFit",
    "PiecewiseBaseline",
    "WeibullBaseline",
    "default_nodes",
    "dynamic_survival",
    "fit_joint_model",
    "fit_mixed",
    "joint_loglik",
    "joint_loglik_terms",
    "prepare_joint_data",
]
