"""Fitting the joint model by maximum likelihood: starting values, quadrature, optimisation, standard errors."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alsmeds.models.joint.data import JointData, JointSpec, prepare_joint_data
from alsmeds.models.joint.likelihood import (
    ASSOCIATIONS,
    Layout,
    joint_loglik,
    joint_loglik_terms,
    make_baseline,
    random_effect_posterior,
    survival_plugin_loglik,
)
from alsmeds.models.joint.mixed import MixedFit, fit_mixed
from alsmeds.models.joint.optimise import DEFAULT_TOL, maximise
from alsmeds.models.joint.quadrature import CENTRINGS, TIME_RULES, random_effect_nodes
from alsmeds.models.joint.results import JointResult
from alsmeds.models.joint.sandwich import patient_scores, sandwich_covariance

#: Convergence tolerance of the starting fits and of the fits before the last adaptive round.
START_TOL = 1e-7
#: The approximations JM 1.5-2 makes (``method = "weibull-PH-aGH"``), for like-for-like comparisons:
#: nodes fixed on the mixed model's empirical-Bayes random effects, no adaptive round, the time rule in t.
JM_SETTINGS: dict[str, object] = {"centring": "random-effects", "adapt": 0, "substitution": False}
#: JM's rule for the nodes per random effect of its pseudo-adaptive quadrature: 5 below this many
#: longitudinal rows, 3 from there on.
JM_NODE_RULE_ROWS = 2000
#: Longitudinal submodels: every visit a normal measurement, or visits at the bounds censored (Tobit).
OUTCOMES = ("normal", "censored")


def _rule_text(centring: str, adapt: int) -> str:
    what = "the patient's own intercept and slope" if centring == "subject" else "the random effects"
    if adapt == 0:
        return f"pseudo-adaptive Gauss-Hermite over {what} (mixed model's empirical-Bayes centres and scales)"
    return (
        f"adaptive Gauss-Hermite over {what} (centres and scales: joint posterior modes and curvatures, "
        f"{adapt} round{'s' if adapt > 1 else ''})"
    )


def _censoring(data: JointData) -> dict[str, float | int] | None:
    """Bounds and numbers of censored visits of the censored submodel (None for the normal one)."""
    c = data.censored
    if c is None:
        return None
    return {"lower": c.lower, "upper": c.upper, "n_left": c.n_left, "n_right": c.n_right}


def default_nodes(n_obs: int) -> int:
    """Nodes per random effect by JM's rule: 5 with fewer than 2,000 measurements, else 3."""
    return 5 if n_obs < JM_NODE_RULE_ROWS else 3


@dataclass(frozen=True, kw_only=True)
class JointModel:
    """A shared-parameter joint model of a marker and a time to event (maximum likelihood).

    Estimand and assumptions
    ------------------------
    Longitudinal submodel: ``y_ij = m_i(t_ij) + e_ij`` with
    ``m_i(t) = X0_i' beta_level + t X1_i' beta_slope + b0_i + b1_i t``, ``(b0_i, b1_i) ~ N(0, D)``
    (``D`` unstructured 2 x 2) and independent ``e_ij ~ N(0, sigma^2)``; covariates are
    time-invariant.  Survival submodel: ``h_i(t) = h0(t) exp(gamma' w_i + alpha m_i(t))``, a
    proportional-hazards model in the *current true value* of the marker (``association="value"``).
    ``gamma`` are therefore **direct** log hazard ratios: the effect of ``w`` on the hazard given the
    current (error-free) marker value; ``alpha`` is the log hazard ratio per unit of the current
    marker.  With ``association="slope"`` the hazard is ``h0(t) exp(gamma' w_i + alpha_slope m_i'(t))``
    instead, ``m_i'(t) = X1_i' beta_slope + b1_i`` the current rate of change of the true marker (constant
    in time here), and ``alpha_slope`` the log hazard ratio per unit of the current slope (marker units
    per time unit); ``gamma`` is then the effect of ``w`` given the current slope.  ``"both"`` puts
    ``alpha m_i(t) + alpha_slope m_i'(t)`` in the hazard (R JM's ``parameterization``).  Assumed:
    measurements and censoring are non-informative given the random effects (missing at random
    given ``b_i``; dropout at the event is modelled, not ignored), the linear trajectory, normal
    random effects and errors, proportional hazards and the chosen baseline
    (Weibull or piecewise constant).

    Censored submodel (``outcome="censored"``, a Tobit mixed model): the marker is a scale with a
    floor and a ceiling (``bounds``; for the integer ALSFRS-R, 0.5 and 47.5: a recorded 0 is a rounded
    latent score below 0.5, a recorded 48 one at or above 47.5), and the latent score
    ``m_i(t_ij) + e_ij`` (normal around the patient's line, as above) is seen only within them: a
    visit at or below the floor is read as "latent score at or below the floor", one at or above
    the ceiling as "at or above the ceiling", with likelihood ``Phi((lower - m) / sigma)`` and
    ``1 - Phi((upper - m) / sigma)``.  The parameters keep their meaning for the *latent* score, which
    continues the line beyond the bounds: ``alpha`` is per unit of the current latent value, a slope is
    the latent decline.  Assumed besides the above: the bounds are the scale's floor and ceiling
    (a score at a bound says only that the latent score is beyond it) and nothing else distorts the
    scale (integer rounding is read as normal error: it adds about 1/12 to ``sigma^2``).

    Parameters
    ----------
    id, time, y : str
        Columns of the longitudinal frame: patient, measurement time, marker.
    level : sequence of str
        Time-invariant covariates of the marker's level (an intercept is always added).
    slope : sequence of str
        Time-invariant covariates interacted with time (the main effect of time is always added).
    surv_time, event : str
        Columns of the survival frame (one row per patient): time (same unit as ``time``, > 0)
        and event indicator (0/1).
    surv : sequence of str
        Baseline covariates of the hazard.
    baseline : {"weibull", "piecewise"}
        Weibull with JM's ``"weibull-PH"`` parametrisation (``log_scale``, ``log_shape``), or
        piecewise constant with knots at quantiles of the event times.
    n_nodes : int, optional
        Gauss-Hermite nodes per random effect; default JM's rule (5 below 2,000 measurements, else 3).
    centring : {"subject", "random-effects"}
        What the Gauss-Hermite nodes are fixed values of: the patient's own intercept and slope
        (default) or the random effects (JM).  See Notes.
    adapt : int
        Adaptive rounds: after a first fit, re-centre and re-scale the nodes on every patient's
        joint posterior of the random effects (mode and inverse curvature) at the estimate, and
        refit (default 1; 0 keeps the mixed model's empirical-Bayes centres, as JM).
    time_rule : {"gauss-kronrod", "gauss-legendre"}
        15-point rule for the Weibull cumulative hazard.
    substitution : bool
        Apply the time rule in ``t^shape`` (default) rather than in ``t`` (JM); see
        :class:`.likelihood.WeibullBaseline`.
    n_intervals : int
        Intervals of the piecewise-constant baseline (default 7: six internal knots, as JM).
    knots : sequence of float, optional
        Internal knots of the piecewise baseline (overrides ``n_intervals``).
    tol : float
        Convergence tolerance on half the Newton decrement, relative to ``max(1, |llf|)``.
    maxiter : int
        Trust-region iterations of the joint fit.
    outcome : {"normal", "censored"}
        The longitudinal submodel: every visit a normal measurement (default), or visits at or
        beyond ``bounds`` censored (Tobit; see above).
    bounds : (float or None, float or None), optional
        Floor and ceiling of the marker (e.g. ``(0.0, 48.0)`` for the ALSFRS-R; None on a side:
        no bound there).  Required with ``outcome="censored"``, ignored otherwise.
    association : {"value", "slope", "both"}
        What of the true trajectory enters the hazard: the current value (``alpha``, default), the
        current slope (``alpha_slope``) or both.
    robust : bool
        Also compute the sandwich covariance (step 7 below; default True).

    Notes
    -----
    The fit, step by step:

    1. The linear mixed model alone, by ML (:func:`.mixed.fit_mixed`): closed-form likelihood on
       per-patient sums, exact derivatives; gives ``beta``, ``D``, ``sigma`` and the
       empirical-Bayes means ``bhat_i`` and covariances ``Sigma_i`` of the random effects.
    2. The quadrature over the random effects: a product Gauss-Hermite rule centred at the mixed
       model's prediction and scaled by ``Sigma_i`` (Rizopoulos 2012's pseudo-adaptive rule).
    3. The survival submodel alone with the predicted trajectory ``m_hat_i(t)`` plugged in (two
       stages): starting values of ``gamma``, ``alpha`` (``alpha_slope``) and the baseline.  With
       the censored submodel the normal mixed model of step 1 (scores at the bounds read as measured
       there) gives the starting values, and the nodes of step 2 are instead centred and scaled on
       every patient's posterior under the censored model at those starting values (the normal
       model's posteriors are off for patients at the bounds; starting from them, one adaptive round
       was not enough where a fifth of the visits sit at 0).
    4. The joint log-likelihood (:mod:`.likelihood`) maximised by SciPy's trust-region Newton method
       ``trust-exact`` with gradient and Hessian from autograd (:func:`.optimise.maximise`).
    5. ``adapt`` times: the nodes re-centred and re-scaled on every patient's joint posterior of
       the random effects at the estimate (:func:`.likelihood.random_effect_posterior`, vectorised
       Newton steps on a strictly concave function), and step 4 repeated from the estimate.
    6. Standard errors from the inverse of the observed information (minus the autograd Hessian at
       the optimum).  When it is not positive definite the result says so, ``converged`` is False
       and the standard errors are missing.
    7. With ``robust`` (default): the sandwich covariance, each patient a cluster
       (:mod:`.sandwich`: ``I^-1 (sum_i U_i U_i') I^-1`` with each patient's score ``U_i`` by central
       differences of the per-patient log-likelihood, ``2 p`` likelihood evaluations), valid when the
       model is misspecified; ``JointResult.robust_bse``.

    **Why the nodes sit on the patient's own line.**  JM fixes the nodes on the random effects
    ``b_i``; then the integrand ``p(y_i | a_i + b0, c_i + b1)`` moves across the fixed nodes whenever
    ``beta`` moves.  For a patient followed long enough, that integrand is far narrower than the
    prior (an ALSFRS-R slope known to 0.012 points/month against a spread of 0.6), so a change of
    ``beta`` by a fraction of its standard error shifts it by a sizeable fraction of its width, and
    the second derivative of a 3-point rule in ``beta`` is then off by a factor that grows like one
    over the squared width.  On paper-scale synthetic ALS data JM's rule with 3 nodes gives a
    standard error of the mean slope of 0.0076 where the integral gives 0.0217 (and moves the slope
    by 0.6 SE).  Fixing the nodes on ``(A_i, C_i) = (a_i + b0, c_i + b1)`` instead leaves the
    narrow data term where it is; ``beta`` and ``D`` enter only through the wide prior
    ``N((A, C); (a_i, c_i), D)``, and 3 nodes agree with 11 to 4-5 significant digits.  The
    adaptive round matters where the event times carry much information about ``b_i`` beyond the
    measurements (the PBC data: 5 nodes then reproduce the 21-node log-likelihood to 1e-4).
    :data:`JM_SETTINGS` restores JM's approximations for comparisons.

    **Quadrature with the censored submodel.**  A patient with visits at a bound has a posterior
    shaped by ``Phi`` steps (every visit at 48: a truncated-normal-like intercept), which the product
    Gauss-Hermite rule integrates less well than the nearly Gaussian posteriors of the normal model.
    On the paper-scale synthetic data (17% of patients with a visit at 0 or 48) 3, 5 and 7 nodes per
    random effect moved the estimates by at most 0.11, 0.06 and 0.04 SE from 21 nodes (the intercept
    SD; ``tests/test_joint_censored.py``), against 0.001 SE for the normal model; the shift is a bias
    of fixed size, so it grows in SE units with the sample (about 4.5 times at 20 times the size).
    Choose ``n_nodes`` with that in mind (:class:`~.prognosis.AlsJointModel` uses 5).

    References
    ----------
    Rizopoulos D. Joint Models for Longitudinal and Time-to-Event Data, with Applications in R.
    Chapman & Hall/CRC, 2012.
    Rizopoulos D. Fast fitting of joint models for longitudinal and event time data using a
    pseudo-adaptive Gaussian quadrature rule. Comput Stat Data Anal 2012;56:491-501 (and Biometrics
    2012;68:1201 for the same rule).
    """

    id: str
    time: str
    y: str
    surv_time: str
    event: str
    level: Sequence[str] = ()
    slope: Sequence[str] = ()
    surv: Sequence[str] = ()
    baseline: str = "weibull"
    n_nodes: int | None = None
    centring: str = "subject"
    adapt: int = 1
    time_rule: str = "gauss-kronrod"
    substitution: bool = True
    n_intervals: int = 7
    knots: Sequence[float] | None = None
    tol: float = DEFAULT_TOL
    maxiter: int = 200
    outcome: str = "normal"
    bounds: tuple[float | None, float | None] | None = None
    association: str = "value"
    robust: bool = True

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {self.outcome!r}")
        if self.outcome == "censored":
            if self.bounds is None or len(self.bounds) != 2 or all(b is None for b in self.bounds):
                raise ValueError("outcome='censored' needs bounds=(lower, upper), e.g. (0.0, 48.0)")
            lo, hi = (-np.inf if b is None else float(b) for b in self.bounds)
            if not lo < hi:
                raise ValueError(f"bounds must be increasing, not {self.bounds}")
        if self.association not in ASSOCIATIONS:
            raise ValueError(f"association must be one of {ASSOCIATIONS}, not {self.association!r}")
        if self.baseline not in ("weibull", "piecewise"):
            raise ValueError(f"baseline must be 'weibull' or 'piecewise', not {self.baseline!r}")
        if self.time_rule not in TIME_RULES:
            raise ValueError(f"time_rule must be one of {TIME_RULES}")
        if self.centring not in CENTRINGS:
            raise ValueError(f"centring must be one of {CENTRINGS}")
        if self.adapt < 0:
            raise ValueError("adapt must be 0 or more")
        if self.n_nodes is not None and self.n_nodes < 1:
            raise ValueError("n_nodes must be at least 1")

    @property
    def spec(self) -> JointSpec:
        return JointSpec(
            id=self.id,
            time=self.time,
            y=self.y,
            level=tuple(self.level),
            slope=tuple(self.slope),
            surv_time=self.surv_time,
            event=self.event,
            surv=tuple(self.surv),
        )

    def prepare(self, long: pd.DataFrame, surv: pd.DataFrame) -> JointData:
        """The per-patient arrays of these frames (:func:`.data.prepare_joint_data`), censored visits apart."""
        bounds = self.bounds if self.outcome == "censored" else None
        return prepare_joint_data(long, surv, self.spec, bounds=bounds)

    def fit(self, long: pd.DataFrame, surv: pd.DataFrame, *, start: MixedFit | None = None) -> JointResult:
        """Fit the joint model.

        Parameters
        ----------
        long : DataFrame
            One row per measurement (columns ``id``, ``time``, ``y``, ``level``, ``slope``).
        surv : DataFrame
            One row per patient (columns ``id``, ``surv_time``, ``event``, ``surv``).
        start : MixedFit, optional
            A linear mixed model already fitted to these data (skips step 1).

        Returns
        -------
        JointResult
        """
        began = time.perf_counter()
        data = self.prepare(long, surv)
        return self.fit_data(data, start=start, began=began)

    def fit_data(self, data: JointData, *, start: MixedFit | None = None, began: float | None = None) -> JointResult:
        """Fit to prepared data (see :meth:`fit`)."""
        began = time.perf_counter() if began is None else began
        mixed = start if start is not None else fit_mixed(data)
        q = self.n_nodes if self.n_nodes is not None else default_nodes(data.n_obs)
        baseline = make_baseline(
            self.baseline,
            data,
            rule=self.time_rule,
            substitution=self.substitution,
            n_intervals=self.n_intervals,
            knots=self.knots,
        )
        if self.outcome == "censored" and data.censored is None:
            raise ValueError("outcome='censored' needs data prepared with bounds (JointModel.prepare)")
        if self.outcome == "normal" and data.censored is not None:
            raise ValueError("outcome='normal' needs data prepared without bounds")
        layout = Layout(spec=self.spec, baseline=baseline, association=self.association)
        arrays = baseline.prepare(data.T)
        p0, p1 = layout.p0, layout.p1
        # The mixed model's predicted line of every patient: fixed part + empirical-Bayes random effects.
        line = np.column_stack([data.X0 @ mixed.theta[:p0], data.X1 @ mixed.theta[p0 : p0 + p1]]) + mixed.eb_mean
        centre = line if self.centring == "subject" else mixed.eb_mean
        nodes = random_effect_nodes(centre, mixed.eb_cov, q, centring=self.centring)

        # Two-stage survival start: the predicted trajectory plugged in.  With the censored submodel the
        # normal mixed model (visits at the bounds read as measurements) gives the starting values.
        surv0 = np.concatenate([np.zeros(layout.pw + layout.n_association), baseline.start(data.T, data.delta)])
        stage2 = maximise(
            lambda s: survival_plugin_loglik(s, layout, data, line, arrays), surv0, tol=START_TOL, final_step=False
        )
        theta0 = np.concatenate([mixed.theta, stage2.x])
        mode = mixed.eb_mean
        if data.censored is not None and data.censored.size:
            # The normal mixed model reads a score at a bound as measured there, so its empirical-Bayes
            # posteriors are off for the patients at the bounds: centre and scale the first nodes on the
            # censored model's posteriors at the starting values instead.
            mode, post_cov, _ = random_effect_posterior(theta0, layout, data, arrays, mode)
            p = layout.split(theta0)
            fixed = np.column_stack([data.X0 @ p["beta0"], data.X1 @ p["beta1"]])
            centre = fixed + mode if self.centring == "subject" else mode
            nodes = random_effect_nodes(centre, post_cov, q, centring=self.centring)
        # Before an adaptive round the nodes only need an approximate optimum.
        optimum = maximise(
            lambda th: joint_loglik(th, layout, data, nodes, arrays),
            theta0,
            tol=max(self.tol, START_TOL) if self.adapt else self.tol,
            maxiter=self.maxiter,
            final_step=not self.adapt,
        )
        iterations = optimum.iterations
        # Adaptive rounds: re-centre and re-scale the nodes on every patient's joint posterior of the
        # random effects at the current estimate, and maximise again from there.
        posterior_iterations = []
        for round_ in range(self.adapt):
            mode, post_cov, its = random_effect_posterior(optimum.x, layout, data, arrays, mode)
            posterior_iterations.append(its)
            p = layout.split(optimum.x)
            fixed = np.column_stack([data.X0 @ p["beta0"], data.X1 @ p["beta1"]])
            centre = fixed + mode if self.centring == "subject" else mode
            nodes = random_effect_nodes(centre, post_cov, q, centring=self.centring)
            optimum = maximise(
                lambda th, nodes=nodes: joint_loglik(th, layout, data, nodes, arrays),
                optimum.x,
                tol=self.tol if round_ == self.adapt - 1 else max(self.tol, START_TOL),
                maxiter=self.maxiter,
                final_step=round_ == self.adapt - 1,
            )
            iterations += optimum.iterations
        fit_seconds = time.perf_counter() - began
        pd_ok = np.isfinite(optimum.decrement)  # positive definite beyond rounding (see optimise._diagnose)
        cov = np.linalg.inv(-(optimum.hessian + optimum.hessian.T) / 2) if pd_ok else None
        robust_cov = None
        if cov is not None and self.robust:
            scores = patient_scores(lambda th: joint_loglik_terms(th, layout, data, nodes, arrays), optimum.x)
            robust_cov = sandwich_covariance(scores, cov)
        warnings = []
        if not mixed.optimum.converged:
            warnings.append(f"linear mixed model (starting values): {mixed.optimum.message}")
        if not stage2.converged:
            warnings.append(f"two-stage survival model (starting values): {stage2.message}")
        return JointResult(
            model=self,
            layout=layout,
            theta=optimum.x,
            cov=cov,
            robust_cov=robust_cov,
            llf=optimum.llf,
            n_obs=data.n_obs,
            n_groups=data.n_groups,
            n_events=data.n_events,
            converged=optimum.converged,
            max_abs_gradient=optimum.max_abs_gradient,
            relative_gradient=optimum.relative_gradient,
            newton_decrement=optimum.decrement,
            min_hessian_eigenvalue=optimum.min_eigenvalue,
            iterations=iterations,
            message=optimum.message,
            quadrature={
                "nodes_per_random_effect": q,
                "random_effect_nodes": q * q,
                "time_points": 15 if self.baseline == "weibull" else None,
                "time_rule": (
                    f"{self.time_rule}{' in t^shape' if self.substitution else ''}"
                    if self.baseline == "weibull"
                    else "closed form per interval"
                ),
                "centring": self.centring,
                "adaptive_rounds": self.adapt,
                "random_effect_rule": _rule_text(self.centring, self.adapt),
            },
            fit_seconds=fit_seconds,
            start={"mixed_llf": mixed.llf, "two_stage_llf": stage2.llf, "theta0": theta0},
            warnings=tuple(warnings),
            censoring=_censoring(data),
        )


def fit_joint_model(long: pd.DataFrame, surv: pd.DataFrame, **model) -> JointResult:
    """``JointModel(**model).fit(long, surv)``: see :class:`JointModel` for the arguments."""
    return JointModel(**model).fit(long, surv)
