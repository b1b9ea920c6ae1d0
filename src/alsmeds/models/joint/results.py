"""Results of a joint-model fit, in the vocabulary of statsmodels results objects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import pandas as pd

from alsmeds.models.base import EstimationResults, wald_frame
from alsmeds.models.joint.likelihood import Layout

#: Columns of :meth:`JointResult.to_frame`.
JOINT_RESULT_COLUMNS: dict[str, str] = {
    "term": "parameter name (long:<term>, log_sigma, log_chol_D.., surv:<covariate>, alpha and/or alpha_slope, "
    "baseline:<...>)",
    "component": "longitudinal, random_effects, survival, association or baseline",
    "estimate": "maximum-likelihood estimate",
    "se": "standard error from the inverse observed information (missing when it is not positive definite)",
    "z": "estimate / se",
    "p_value": "two-sided Wald p-value",
    "ci_lower": "lower Wald limit (normal quantile)",
    "ci_upper": "upper Wald limit",
    "hazard_ratio": "exp(estimate) for survival covariates, alpha (per unit of the current marker) and alpha_slope "
    "(per unit of its current slope); else missing",
    "hazard_ratio_lower": "exp(ci_lower) for the same rows",
    "hazard_ratio_upper": "exp(ci_upper) for the same rows",
    "robust_se": "robust (sandwich) standard error, each patient a cluster (missing when not computed)",
    "robust_ci_lower": "lower Wald limit with robust_se",
    "robust_ci_upper": "upper Wald limit with robust_se",
    "robust_p_value": "two-sided Wald p-value with robust_se",
    "robust_hazard_ratio_lower": "exp(robust_ci_lower) for the hazard-ratio rows",
    "robust_hazard_ratio_upper": "exp(robust_ci_upper) for the hazard-ratio rows",
}


def _component(name: str) -> str:
    if name.startswith("long:") or name == "log_sigma":
        return "longitudinal"
    if "chol_D" in name:
        return "random_effects"
    if name.startswith("surv:"):
        return "survival"
    if name in ("alpha", "alpha_slope"):
        return "association"
    return "baseline"


def _variance_transform(theta: Any, i: int) -> Any:
    """sigma, SD(b0), SD(b1), corr(b0, b1) and the entries of D from the parameter vector."""
    log_sigma, l00, l10, l11 = theta[i], theta[i + 1], theta[i + 2], theta[i + 3]
    L00, L11 = anp.exp(l00), anp.exp(l11)
    d00 = L00**2
    d01 = L00 * l10
    d11 = l10**2 + L11**2
    sd0, sd1 = anp.sqrt(d00), anp.sqrt(d11)
    return anp.array([anp.exp(log_sigma), sd0, sd1, d01 / (sd0 * sd1), d00, d01, d11])


@dataclass(frozen=True)
class JointResult(EstimationResults):
    """A fitted joint model (:class:`.fitting.JointModel`), in the vocabulary of :mod:`alsmeds.models.base`.

    ``params``, ``bse``, ``cov_params()`` (all missing when the observed information is
    not positive definite), ``conf_int()``, ``pvalues``, ``wald_table()`` and
    ``linear_combination()``; :meth:`to_frame` adds each parameter's component and
    hazard ratios for the survival rows only, :meth:`summary` the fit's diagnostics.

    Attributes
    ----------
    model : JointModel
    layout : Layout
        Parameter names and positions, the baseline hazard (with its knots).
    theta : ndarray
        The estimate as a plain vector (``params`` is the same with names).
    llf : float
        Maximised log-likelihood, with every constant (comparable with JM's and nlme's).
    n_obs, n_groups, n_events : int
        Measurements, patients, events.
    converged : bool
        Newton decrement within tolerance *and* positive-definite observed information.
    max_abs_gradient : float
        ``max |d llf / d theta_j|`` at the estimate.
    relative_gradient : float
        ``max_j |g_j| max(|theta_j|, 1) / max(|llf|, 1)``.
    newton_decrement : float
        ``g' I^-1 g`` at the estimate (half of it: the gain of one more Newton step).
    min_hessian_eigenvalue : float
        Smallest eigenvalue of the observed information ``-H`` (positive: positive definite).
    iterations : int
    message : str
    quadrature : dict
        Nodes per random effect, nodes in all, time points and rules.
    fit_seconds : float
        Wall time of the whole fit (data preparation, starting values, optimisation, Hessian).
    start : dict
        Log-likelihoods of the mixed model and of the two-stage survival fit, starting vector.
    warnings : tuple of str
    censoring : dict or None
        With the censored submodel: ``lower``, ``upper`` and the numbers of left- and
        right-censored visits (``n_left``, ``n_right``); None for the normal submodel.
    robust_cov : ndarray or None
        The sandwich covariance, each patient a cluster (:mod:`.sandwich`); None when not computed.
    """

    model: Any  # the fitted alsmeds.models.joint.fitting.JointModel (not imported: fitting imports this module)
    layout: Layout
    theta: np.ndarray
    cov: np.ndarray | None
    llf: float
    n_obs: int
    n_groups: int
    n_events: int
    converged: bool
    max_abs_gradient: float
    relative_gradient: float
    newton_decrement: float
    min_hessian_eigenvalue: float
    iterations: int
    message: str
    quadrature: dict[str, Any]
    fit_seconds: float
    start: dict[str, Any]
    warnings: tuple[str, ...] = ()
    censoring: dict[str, Any] | None = None
    robust_cov: np.ndarray | None = None

    #: Only the survival and association parameters are log hazard ratios, so the shared tables
    #: (``wald_table``) have no ratio columns; :meth:`to_frame` adds them for those rows.
    ratio_name = None

    # ----------------------------------------------------------------- statsmodels vocabulary

    @property
    def names(self) -> list[str]:
        return self.layout.names

    @property
    def params(self) -> pd.Series:
        """Estimates, named."""
        return pd.Series(self.theta, index=self.names, name="estimate")

    @property
    def hessian_positive_definite(self) -> bool:
        return bool(self.min_hessian_eigenvalue > 0)

    def cov_params(self) -> pd.DataFrame:
        """Inverse observed information (all missing when it is not positive definite)."""
        cov = self.cov if self.cov is not None else np.full((len(self.theta),) * 2, np.nan)
        return pd.DataFrame(cov, index=self.names, columns=self.names)

    @property
    def bse(self) -> pd.Series:
        """Standard errors (missing when the observed information is not positive definite)."""
        return pd.Series(np.sqrt(np.diag(self.cov_params().to_numpy())), index=self.names, name="se")

    @property
    def robust_bse(self) -> pd.Series:
        """Robust (sandwich, each patient a cluster) standard errors (:mod:`.sandwich`); missing when not computed."""
        cov = self.robust_cov if self.robust_cov is not None else np.full((len(self.theta),) * 2, np.nan)
        return pd.Series(np.sqrt(np.diag(cov)), index=self.names, name="robust_se")

    @property
    def df_model(self) -> int:
        """Number of estimated parameters."""
        return len(self.theta)

    @property
    def aic(self) -> float:
        return float(-2 * self.llf + 2 * self.df_model)

    @property
    def bic(self) -> float:
        """``-2 llf + k log(n_groups)``: patients, not measurements, as the sample size (as JM)."""
        return float(-2 * self.llf + self.df_model * np.log(self.n_groups))

    # ----------------------------------------------------------------- derived quantities

    def variance_components(self) -> pd.DataFrame:
        """Residual SD, random-effect SDs and correlation, and ``D``, with delta-method SEs.

        Returns
        -------
        DataFrame
            Index ``sigma, sd_intercept, sd_slope, corr_intercept_slope, D11, D21, D22``;
            columns ``estimate``, ``se``.
        """
        i = self.layout.p0 + self.layout.p1
        est = np.asarray(_variance_transform(self.theta, i))
        if self.cov is None:
            se = np.full(est.shape, np.nan)
        else:
            J = autograd.jacobian(lambda th: _variance_transform(th, i))(self.theta)
            se = np.sqrt(np.diag(J @ self.cov @ J.T))
        index = ["sigma", "sd_intercept", "sd_slope", "corr_intercept_slope", "D11", "D21", "D22"]
        return pd.DataFrame({"estimate": est, "se": se}, index=index)

    def to_frame(self, alpha: float = 0.05, exp: bool = True) -> pd.DataFrame:
        """One row per parameter: :data:`JOINT_RESULT_COLUMNS`.

        Parameters
        ----------
        alpha : float
            1 - confidence level.
        exp : bool
            Add hazard ratios with their limits for survival covariates, ``alpha`` and
            ``alpha_slope`` (missing for the other parameters, which are not log hazard ratios).
        """
        wald = wald_frame(self.params.to_numpy(), self.bse.to_numpy(), alpha=alpha, exp=exp, ratio_name="hazard_ratio")
        component = [_component(n) for n in self.names]
        if exp:
            not_hr = ~np.isin(component, ["survival", "association"])
            wald.loc[not_hr, ["hazard_ratio", "hazard_ratio_lower", "hazard_ratio_upper"]] = np.nan
        robust = wald_frame(
            self.params.to_numpy(), self.robust_bse.to_numpy(), alpha=alpha, exp=exp, ratio_name="hazard_ratio"
        )
        wald["robust_se"] = robust["se"].to_numpy()
        wald["robust_ci_lower"] = robust["ci_lower"].to_numpy()
        wald["robust_ci_upper"] = robust["ci_upper"].to_numpy()
        wald["robust_p_value"] = robust["p_value"].to_numpy()
        if exp:
            for side in ("lower", "upper"):
                wald[f"robust_hazard_ratio_{side}"] = robust[f"hazard_ratio_{side}"].to_numpy()
            wald.loc[not_hr, ["robust_hazard_ratio_lower", "robust_hazard_ratio_upper"]] = np.nan
        wald.insert(0, "component", component)
        wald.insert(0, "term", self.names)
        return wald

    def summary(self, digits: int = 4) -> str:
        """Plain text, stable across runs (no dates or timings)."""
        m = self.model
        frame = self.to_frame(exp=True)
        table = frame.set_index("term")[["estimate", "se", "z", "p_value", "ci_lower", "ci_upper", "hazard_ratio"]]
        table = table.rename(columns={"p_value": "p", "hazard_ratio": "HR"})
        vc = self.variance_components()
        baseline = self.layout.baseline
        if baseline.kind == "weibull":
            base_text = "Weibull, h0(t) = exp(log_scale) shape t^(shape - 1), shape = exp(log_shape)"
        else:
            base_text = "piecewise constant on " + ", ".join(baseline.interval_labels())
        q = self.quadrature
        linked = {"value": "current value", "slope": "current slope", "both": "current value and slope"}
        linked = linked[self.layout.association]
        submodel = "linear mixed model" if self.censoring is None else "censored (Tobit) linear mixed model"
        lines = [
            f"Joint model: {submodel} (random intercept and slope) + proportional hazards in the {linked}",
            f"marker: {m.y} over {m.time}   event: {m.event} at {m.surv_time}   baseline: {base_text}",
            f"measurements: {self.n_obs:,}   patients: {self.n_groups:,}   events: {self.n_events:,}",
            *(
                [
                    f"censored: {c['n_left']:,} at or below {c['lower']:g} (left), "
                    f"{c['n_right']:,} at or above {c['upper']:g} (right)"
                ]
                if (c := self.censoring) is not None
                else []
            ),
            f"log-likelihood: {self.llf:.4f}   AIC: {self.aic:.2f}   BIC: {self.bic:.2f}   parameters: {self.df_model}",
            f"quadrature: {q['nodes_per_random_effect']} x {q['nodes_per_random_effect']} "
            f"{q['random_effect_rule']}; time: "
            + (f"{q['time_points']}-point {q['time_rule']}" if q["time_points"] else q["time_rule"]),
            f"convergence: {'yes' if self.converged else 'NO'} ({self.message.split(': ', 1)[-1]}); "
            f"iterations {self.iterations}; "
            f"max |gradient| {self.max_abs_gradient:.2e}; smallest eigenvalue of the information "
            f"{self.min_hessian_eigenvalue:.3e}",
            "",
            table.to_string(float_format=lambda v: f"{v:.{digits}f}", na_rep=""),
            "",
            "Variance components (delta-method SEs)",
            vc.to_string(float_format=lambda v: f"{v:.{digits}f}"),
        ]
        if self.warnings:
            lines += ["", "Warnings"] + [f"  {w}" for w in self.warnings]
        return "\n".join(lines)
