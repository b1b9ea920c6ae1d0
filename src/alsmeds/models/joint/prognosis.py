"""The study's joint model: ALSFRS-R decline and death or invasive ventilation, by prediagnostic use.

The paper's prognosis estimates (hazard ratios 1.52 for anxiolytics, 1.72 for
antidepressants, 1.23 for hypnotics and sedatives) come from a joint model of the
ALSFRS-R and the time to death or invasive ventilation.  :class:`AlsJointModel` is that
model on the frames of :mod:`alsmeds.derive.joint_data`:

* **Longitudinal submodel** (the mixed model of notebook 06, fitted by maximum
  likelihood jointly with the hazard): ``score_ij = m_i(t_ij) + e_ij`` with
  ``m_i(t) = b0 + b1 t + sum_k (g_k E_ik + d_k E_ik t) + c'w_i + u0_i + u1_i t``, ``t`` in
  months since diagnosis, ``E_ik`` prediagnostic use of class ``k``, ``w_i`` age per
  decade above 65, sex and bulbar onset, ``(u0_i, u1_i) ~ N(0, D)``.
* **Survival submodel**: ``h_i(t) = h0(t) exp(sum_k beta_k E_ik + eta'w_i + alpha m_i(t))``,
  a Weibull baseline by default (piecewise constant on request).

``exp(beta_k)`` is the **direct** hazard ratio of prediagnostic use of ``k``: users against
non-users *with the same current true ALSFRS-R* (and covariates).  The Cox models of
notebook 05 estimate a **total** effect, which also includes the path through a faster
decline (``d_k``) and a lower score.  ``alpha`` is the log hazard ratio per ALSFRS-R point
of the current true score, so ``exp(-alpha)`` multiplies the hazard per point *lost*.
Assumptions: those of :class:`alsmeds.models.joint.JointModel` (linear decline with
normal random effects, proportional hazards in the current value, visits and censoring
non-informative given the random effects).  By default (``outcome="normal"``) the floor and
ceiling of the 0-48 scale are not modelled (see ``tests/test_joint_model.py`` for what that
costs); ``outcome="censored"`` reads a score of 0 as "latent score below 0.5" and one of 48
as "at or above 47.5" (:data:`ALSFRS_BOUNDS`: the integer score read as a rounded latent score; a
Tobit submodel: the latent score continues the patient's line beyond the bounds and is normal
around it; :class:`~alsmeds.models.joint.JointModel`).  ``association``
chooses what of the true trajectory enters the hazard: its current value (``alpha``, default),
its current slope (``alpha_slope``, log hazard ratio per ALSFRS-R point per month of decline
rate) or both; with the slope alone, ``exp(beta_k)`` is the direct hazard ratio given the
current *slope*, not the current score.

Terms that cannot be estimated
------------------------------
Left out of the model and reported with the reason (``estimable=False`` rows of
:meth:`AlsJointResult.to_frame` and :meth:`AlsJointResult.hazard_ratios`):

* an exposure nobody (or everybody) among the patients used: all its terms;
* a slope difference whose users have no visit after diagnosis;
* a direct hazard ratio of an exposure without an event among its users or its
  non-users (the likelihood is monotone in it); the exposure's ALSFRS-R terms stay;
* a covariate that is the same for every patient (both submodels), or a 0/1 covariate
  without an event at one of its values (the survival submodel);
* a column aliased with others (:func:`alsmeds.models.identifiability.non_identifiable_terms`,
  covariates before exposures, so an exposure aliased with a covariate is reported).

When the model as a whole cannot be fitted (no event, no visit after diagnosis, no
patient with two visits, fewer patients than parameters, an optimiser that does not
converge or an observed information that is not positive definite),
:class:`JointModelError` says why and :func:`not_estimable_rows` gives the result rows.

Examples
--------
>>> from alsmeds import Study
>>> result = AlsJointModel().fit(Study.synthetic().joint_data)     # doctest: +SKIP
>>> result.hazard_ratios()                                         # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES
from alsmeds.derive.joint_data import JOINT_COVARIATES, JointFrames
from alsmeds.models.base import EstimationResults
from alsmeds.models.identifiability import non_identifiable_terms
from alsmeds.models.joint.fitting import OUTCOMES, JointModel
from alsmeds.models.joint.likelihood import ASSOCIATIONS
from alsmeds.models.joint.mixed import MixedFit
from alsmeds.models.joint.results import JointResult

#: Censoring points of the ALSFRS-R total score in the censored submodel.  The score is an integer
#: from 0 to 48; read as a latent score rounded to the nearest point and clipped to the scale, a
#: recorded 0 means a latent score below 0.5 and a recorded 48 one at or above 47.5, so those are
#: the points at which the latent score is censored (not 0 and 48, which would place a floor or
#: ceiling visit half a point beyond where the rounding puts it).  Rounding inside the scale stays
#: measurement error: it adds 1/12 to the residual variance (Sheppard), which the residual SD
#: estimates.  At 20 times the paper's size, censoring at 0 and 48 put the residual SD 8.3 SE above
#: the latent one; censoring at 0.5 and 47.5 left it within 2 SE of ``sqrt(sigma^2 + 1/12)``
#: (``tests/test_joint_model.py``).
ALSFRS_BOUNDS: tuple[float, float] = (0.5, 47.5)

#: The robust (sandwich) columns of the joint-model results.
ROBUST_RESULT_COLUMNS = (
    "robust_se",
    "robust_ci_lower",
    "robust_ci_upper",
    "robust_p_value",
    "robust_hazard_ratio_lower",
    "robust_hazard_ratio_upper",
)

#: Columns of the joint-model results (``results/joint_model.csv`` and ``.json``).
JOINT_MODEL_RESULT_COLUMNS: dict[str, str] = {
    "model": "joint_model (Weibull baseline) or joint_model_piecewise",
    "component": "survival (direct log hazard ratios), association (alpha), longitudinal (ALSFRS-R fixed effects), "
    "baseline (Weibull or piecewise hazard), variance_component or fit_statistic",
    "term": "parameter: a covariate or exposure of the hazard, alpha, a fixed effect of the ALSFRS-R "
    "(<class>:months = slope difference), a baseline parameter, a variance component or a fit statistic",
    "drug_class": "anxiolytics, hypnotics or antidepressants for exposure terms; empty otherwise",
    "estimate": "maximum-likelihood estimate in the unit of the row (log hazard ratio, points, points/month, ...)",
    "se": "standard error from the inverse observed information (delta method for variance components)",
    "ci_lower": "lower 95% Wald limit of the estimate",
    "ci_upper": "upper 95% Wald limit of the estimate",
    "p_value": "two-sided Wald p-value",
    "hazard_ratio": "exp(estimate) for survival and association rows (per ALSFRS-R point for alpha); else empty",
    "hazard_ratio_lower": "exp(ci_lower) for the same rows",
    "hazard_ratio_upper": "exp(ci_upper) for the same rows",
    "robust_se": "robust (sandwich) standard error, each patient a cluster: valid when the model is misspecified "
    "(alsmeds.models.joint.sandwich); empty for variance components and fit statistics",
    "robust_ci_lower": "lower 95% Wald limit of the estimate with robust_se",
    "robust_ci_upper": "upper 95% Wald limit of the estimate with robust_se",
    "robust_p_value": "two-sided Wald p-value with robust_se",
    "robust_hazard_ratio_lower": "exp(robust_ci_lower) for survival and association rows",
    "robust_hazard_ratio_upper": "exp(robust_ci_upper) for survival and association rows",
    "unit": "log hazard ratio, points, points/month or empty",
    "n_obs": "ALSFRS-R visits in the model",
    "n_patients": "patients in the model",
    "n_events": "deaths or invasive ventilations in the model",
    "estimable": "false for a term the data cannot estimate (left out of the model) or a model that failed",
    "reason": "why a row is not estimable (empty otherwise)",
}


class JointModelError(ValueError):
    """The joint model cannot be fitted to these data; the message says why."""


def _class_of(term: str, classes: Sequence[str]) -> str:
    parts = term.split(":")
    return next((k for k in classes if k in parts), "")


@dataclass(frozen=True)
class AlsJointModel:
    """The study's joint model of ALSFRS-R and death or invasive ventilation (see the module docstring).

    Parameters
    ----------
    exposures : tuple of str
        Classes whose prediagnostic use enters both submodels (mutually adjusted).
    slope_exposures, survival_exposures : tuple of str, optional
        Classes with a slope difference, and with a direct hazard ratio (default: ``exposures``).
    covariates : tuple of str
        Covariates of the ALSFRS-R level and of the hazard.
    survival_covariates : tuple of str, optional
        Covariates of the hazard (default: ``covariates``).
    baseline : {"weibull", "piecewise"}
        Baseline hazard (Weibull by default: the planted hazard is constant, and a Weibull
        nests it; the piecewise-constant alternative has seven intervals with knots at
        event-time quantiles, as JM).
    n_nodes : int
        Gauss-Hermite nodes per random effect (default 5, not JM's rule of 3 from 2,000 visits
        on).  With the normal submodel on the committed data 3, 5 and 7 nodes give the same
        estimates to four digits, but with two visits per patient (synthetic data, 5 times the
        paper's size) 3 nodes moved alpha by 4 standard errors from the 5- and 7-node fits, which
        agree within half a standard error.  The censored submodel converges more slowly in the
        nodes (:class:`~alsmeds.models.joint.JointModel`): on the committed data 3, 5 and 7 nodes
        are within 0.11, 0.05 and 0.02 SE of 9 nodes (the intercept SD moves most), at about 1.4
        times the fitting time per step of nodes; 5 keeps the node error a twentieth of an SE at
        the paper's size (grow it with the sample).  Notebook 07 shows the check on the data at hand.
    adapt : int
        Adaptive rounds of the quadrature (:class:`alsmeds.models.joint.JointModel`).
    outcome : {"normal", "censored"}
        ALSFRS-R as a normal measurement (default) or censored at the scale's floor and ceiling
        (``bounds``).
    association : {"value", "slope", "both"}
        Current true score (``alpha``, default), its current slope (``alpha_slope``) or both in the hazard.
    bounds : (float, float)
        Censoring points of the score for ``outcome="censored"`` (default :data:`ALSFRS_BOUNDS`, 0.5 and 47.5).
    """

    exposures: tuple[str, ...] = CLASSES
    slope_exposures: tuple[str, ...] | None = None
    survival_exposures: tuple[str, ...] | None = None
    covariates: tuple[str, ...] = JOINT_COVARIATES
    survival_covariates: tuple[str, ...] | None = None
    baseline: str = "weibull"
    n_nodes: int = 5
    adapt: int = 1
    outcome: str = "normal"
    association: str = "value"
    bounds: tuple[float, float] = ALSFRS_BOUNDS

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {OUTCOMES}, not {self.outcome!r}")
        if self.association not in ASSOCIATIONS:
            raise ValueError(f"association must be one of {ASSOCIATIONS}, not {self.association!r}")

    @property
    def name(self) -> str:
        """``joint_model``, with ``_<baseline>``, ``_censored`` and ``_<association>`` for non-default choices."""
        parts = ["joint_model"]
        if self.baseline != "weibull":
            parts.append(self.baseline)
        if self.outcome != "normal":
            parts.append(self.outcome)
        if self.association != "value":
            parts.append(self.association)
        return "_".join(parts)

    @property
    def slope_terms(self) -> tuple[str, ...]:
        return tuple(self.exposures if self.slope_exposures is None else self.slope_exposures)

    @property
    def survival_terms(self) -> tuple[str, ...]:
        exposures = self.exposures if self.survival_exposures is None else self.survival_exposures
        covariates = self.covariates if self.survival_covariates is None else self.survival_covariates
        return (*exposures, *covariates)

    def joint_model(self) -> JointModel:
        """The general :class:`~alsmeds.models.joint.JointModel` of this specification."""
        return JointModel(
            id="person_id",
            time="months",
            y="score",
            surv_time="time_months",
            event="event",
            level=[*self.exposures, *self.covariates],
            slope=list(self.slope_terms),
            surv=list(self.survival_terms),
            baseline=self.baseline,
            n_nodes=self.n_nodes,
            adapt=self.adapt,
            outcome=self.outcome,
            bounds=tuple(self.bounds) if self.outcome == "censored" else None,
            association=self.association,
        )

    def n_params(self) -> int:
        """Number of parameters of the model."""
        baseline = 2 if self.baseline == "weibull" else 7
        return (
            1
            + len(self.exposures)
            + len(self.covariates)
            + 1
            + len(self.slope_terms)
            + 4
            + len(self.survival_terms)
            + (2 if self.association == "both" else 1)
            + baseline
        )

    def estimable_model(self, frames: JointFrames) -> tuple[AlsJointModel, dict[str, str]]:
        """The model reduced to what these data can estimate, and the reason for each term left out.

        Returns
        -------
        (AlsJointModel, dict of str to str)
            The reduced model and result term (``long:<term>``, ``surv:<term>``) -> reason.

        Raises
        ------
        JointModelError
            When the model as a whole cannot be fitted (see the module docstring).
        """
        long, surv = frames.long, frames.surv
        if surv.empty:
            raise JointModelError("no patient with an ALSFRS-R visit")
        if not surv["event"].any():
            raise JointModelError("no death or invasive ventilation: the hazard cannot be estimated")
        if not (long["months"] > 0).any():
            raise JointModelError("no visit after diagnosis: no decline to estimate")
        if not (long.groupby("person_id").size() >= 2).any():
            raise JointModelError("no patient has two visits: a random slope cannot be estimated")
        events = surv["event"].to_numpy() == 1
        patients = surv.set_index("person_id")
        reasons: dict[str, str] = {}

        for k in self.exposures:
            users = int(surv[k].sum())
            if users in (0, len(surv)):
                why = f"no {'users' if users == 0 else 'non-users'} of {k} among the patients with visits"
                reasons.update({f"long:{k}": why, f"long:{k}:months": why, f"surv:{k}": why})
        for k in self.slope_terms:
            if f"long:{k}:months" not in reasons and not ((long[k] == 1) & (long["months"] > 0)).any():
                reasons[f"long:{k}:months"] = f"no visit after diagnosis among users of {k}"
        for c in self.covariates:
            if surv[c].nunique(dropna=False) < 2:
                why = f"{c} is the same for every patient"
                reasons.update({f"long:{c}": why, f"surv:{c}": why})
        for t in self.survival_terms:
            values = surv[t].to_numpy()
            if f"surv:{t}" in reasons or not np.isin(values, (0.0, 1.0)).all():
                continue
            exposure = t in self.exposures
            for level, group in (
                (1, "users" if exposure else f"{t} = 1"),
                (0, "non-users" if exposure else f"{t} = 0"),
            ):
                if not events[values == level].any():
                    reasons[f"surv:{t}"] = f"no event among {group}: the hazard ratio is not finite"
                    break

        level = [c for c in [*self.covariates, *self.exposures] if f"long:{c}" not in reasons]
        reasons.update({f"long:{t}": why for t, why in non_identifiable_terms(patients[level]).items()})
        slope = [k for k in self.slope_terms if f"long:{k}:months" not in reasons]
        if slope:
            per_visit = long[slope].mul(long["months"], axis=0).assign(months=long["months"])
            aliased = non_identifiable_terms(per_visit[["months", *slope]])
            if "months" in aliased:
                raise JointModelError(f"time since diagnosis is not identifiable ({aliased['months']})")
            reasons.update({f"long:{t}:months": why for t, why in aliased.items()})
        hazard = [t for t in [*self._survival_covariates(), *self._survival_exposures()] if f"surv:{t}" not in reasons]
        reasons.update({f"surv:{t}": why for t, why in non_identifiable_terms(patients[hazard]).items()})

        reduced = replace(
            self,
            exposures=tuple(k for k in self.exposures if f"long:{k}" not in reasons),
            slope_exposures=tuple(k for k in self.slope_terms if f"long:{k}:months" not in reasons),
            survival_exposures=tuple(k for k in self._survival_exposures() if f"surv:{k}" not in reasons),
            covariates=tuple(c for c in self.covariates if f"long:{c}" not in reasons),
            survival_covariates=tuple(c for c in self._survival_covariates() if f"surv:{c}" not in reasons),
        )
        if len(surv) <= reduced.n_params():
            raise JointModelError(f"{len(surv)} patients for {reduced.n_params()} parameters")
        order = [f"long:{t}" for t in [*self.exposures, *self.covariates]]
        order += [f"long:{k}:months" for k in self.slope_terms] + [f"surv:{t}" for t in self.survival_terms]
        return reduced, {t: reasons[t] for t in order if t in reasons}

    def _survival_exposures(self) -> tuple[str, ...]:
        return tuple(self.exposures if self.survival_exposures is None else self.survival_exposures)

    def _survival_covariates(self) -> tuple[str, ...]:
        return tuple(self.covariates if self.survival_covariates is None else self.survival_covariates)

    def fit(self, frames: JointFrames, *, start: MixedFit | None = None) -> AlsJointResult:
        """Fit the joint model to :func:`alsmeds.derive.joint_data.build_joint_frames` output.

        Terms the data cannot estimate are left out first (:meth:`estimable_model`).

        Returns
        -------
        AlsJointResult

        Raises
        ------
        JointModelError
            When the model cannot be fitted, or the fit does not converge to a maximum with
            a positive-definite observed information, with the reason.
        """
        reduced, reasons = self.estimable_model(frames)
        try:
            fit = reduced.joint_model().fit(frames.long, frames.surv, start=start)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError, ZeroDivisionError) as exc:
            raise JointModelError(f"the optimiser failed: {str(exc).split('. ')[0]}") from exc
        if not fit.converged:
            raise JointModelError(f"the joint model did not converge ({fit.message})")
        if fit.cov is None or not np.all(np.isfinite(fit.bse.to_numpy())):
            raise JointModelError("the observed information is not positive definite at the estimate")
        return AlsJointResult(fit=fit, requested=self, not_estimable=reasons, selection=dict(frames.selection))


@dataclass(frozen=True)
class AlsJointResult(EstimationResults):
    """A fitted :class:`AlsJointModel`: the general :class:`~alsmeds.models.joint.JointResult` with the study's terms.

    Attributes
    ----------
    fit : JointResult
        The fit (``summary()``, ``variance_components()``, convergence diagnostics).
    requested : AlsJointModel
        The model asked for (before terms were left out).
    not_estimable : dict of str to str
        Term -> reason, for terms left out.
    selection : dict
        How the patients were selected (:class:`alsmeds.derive.joint_data.JointFrames`).
    """

    fit: JointResult
    requested: AlsJointModel
    not_estimable: dict[str, str] = field(default_factory=dict)
    selection: dict[str, int] = field(default_factory=dict)

    ratio_name = "hazard_ratio"

    @property
    def params(self) -> pd.Series:
        return self.fit.params

    @property
    def bse(self) -> pd.Series:
        return self.fit.bse

    @property
    def robust_bse(self) -> pd.Series:
        """Sandwich standard errors, each patient a cluster (:mod:`alsmeds.models.joint.sandwich`)."""
        return self.fit.robust_bse

    def cov_params(self) -> pd.DataFrame:
        return self.fit.cov_params()

    @property
    def llf(self) -> float:
        return self.fit.llf

    @property
    def aic(self) -> float:
        return self.fit.aic

    @property
    def bic(self) -> float:
        return self.fit.bic

    def _describe(self) -> str:
        return "Joint model of ALSFRS-R and death or invasive ventilation"

    def hazard_ratios(self, alpha: float = 0.05) -> pd.DataFrame:
        """The direct hazard ratio of prediagnostic use of every requested class.

        Returns
        -------
        DataFrame
            One row per class: ``drug_class``, ``log_hr``, ``se``, ``hazard_ratio``, ``ci_lower``,
            ``ci_upper`` (of the hazard ratio), ``p_value``, ``estimable``, ``reason``.
        """
        table = self.fit.to_frame(alpha=alpha).set_index("term")
        rows = []
        for k in self.requested._survival_exposures():
            term = f"surv:{k}"
            if term in table.index:
                r = table.loc[term]
                rows.append(
                    {
                        "drug_class": k,
                        "log_hr": r["estimate"],
                        "se": r["se"],
                        "hazard_ratio": r["hazard_ratio"],
                        "ci_lower": r["hazard_ratio_lower"],
                        "ci_upper": r["hazard_ratio_upper"],
                        "p_value": r["p_value"],
                        "estimable": True,
                        "reason": "",
                    }
                )
            else:
                rows.append({"drug_class": k, "estimable": False, "reason": self.not_estimable.get(term, "")})
        columns = [
            "drug_class",
            "log_hr",
            "se",
            "hazard_ratio",
            "ci_lower",
            "ci_upper",
            "p_value",
            "estimable",
            "reason",
        ]
        return pd.DataFrame(rows).reindex(columns=columns)

    def association(self, alpha: float = 0.05) -> pd.Series:
        """``alpha`` (log HR per ALSFRS-R point of the current true score), its CI, and the HR per point lost.

        With ``association="slope"`` or ``"both"`` also ``alpha_slope`` (log HR per point per month of
        the current slope), its SE and CI (``alpha_slope_se``, ``alpha_slope_ci_lower``,
        ``alpha_slope_ci_upper``) and the HR of a decline faster by one point per month,
        ``exp(-alpha_slope)`` (``hr_per_point_per_month_faster``); with the slope alone there are no
        ``alpha`` entries.
        """
        table = self.fit.to_frame(alpha=alpha).set_index("term")
        out: dict[str, float] = {}
        if "alpha" in table.index:
            r = table.loc["alpha"]
            out.update(
                {
                    "alpha": r["estimate"],
                    "se": r["se"],
                    "ci_lower": r["ci_lower"],
                    "ci_upper": r["ci_upper"],
                    "hr_per_point_lower": float(np.exp(-r["estimate"])),
                    "hr_per_point_lower_ci_lower": float(np.exp(-r["ci_upper"])),
                    "hr_per_point_lower_ci_upper": float(np.exp(-r["ci_lower"])),
                }
            )
        if "alpha_slope" in table.index:
            r = table.loc["alpha_slope"]
            out.update(
                {
                    "alpha_slope": r["estimate"],
                    "alpha_slope_se": r["se"],
                    "alpha_slope_ci_lower": r["ci_lower"],
                    "alpha_slope_ci_upper": r["ci_upper"],
                    "hr_per_point_per_month_faster": float(np.exp(-r["estimate"])),
                    "hr_per_point_per_month_faster_ci_lower": float(np.exp(-r["ci_upper"])),
                    "hr_per_point_per_month_faster_ci_upper": float(np.exp(-r["ci_lower"])),
                }
            )
        return pd.Series(out)

    def to_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Every estimate as rows of :data:`JOINT_MODEL_RESULT_COLUMNS` (the results file)."""
        classes = self.requested.exposures
        table = self.fit.to_frame(alpha=alpha)
        table = table[table["component"] != "random_effects"]
        units = {"survival": "log hazard ratio", "association": "log hazard ratio per point"}
        slope_unit = "log hazard ratio per point/month"
        rows = pd.DataFrame(
            {
                "component": table["component"].to_numpy(),
                "term": [t.split(":", 1)[1] if t.startswith(("long:", "surv:")) else t for t in table["term"]],
                "drug_class": [_class_of(t, classes) for t in table["term"]],
                **{c: table[c].to_numpy() for c in ("estimate", "se", "ci_lower", "ci_upper", "p_value")},
                **{c: table[c].to_numpy() for c in ("hazard_ratio", "hazard_ratio_lower", "hazard_ratio_upper")},
                **{c: table[c].to_numpy() for c in ROBUST_RESULT_COLUMNS},
            }
        )
        rows["unit"] = [
            units.get(c, "points/month" if t.endswith("months") else ("points" if c == "longitudinal" else ""))
            for c, t in zip(rows["component"], rows["term"], strict=True)
        ]
        rows.loc[rows["term"] == "log_sigma", "unit"] = "log points"
        rows.loc[rows["term"] == "alpha_slope", "unit"] = slope_unit
        rows["estimable"] = True
        rows["reason"] = ""
        missing = pd.DataFrame(
            [
                {
                    "component": "longitudinal" if t.startswith("long:") else "survival",
                    "term": t.split(":", 1)[1],
                    "drug_class": _class_of(t, classes),
                    "estimable": False,
                    "reason": why,
                }
                for t, why in self.not_estimable.items()
            ]
        )
        vc = self.fit.variance_components().loc[["sigma", "sd_intercept", "sd_slope", "corr_intercept_slope"]]
        variance = pd.DataFrame(
            {
                "component": "variance_component",
                "term": ["residual_sd", "intercept_sd", "slope_sd", "correlation"],
                "estimate": vc["estimate"].to_numpy(),
                "se": vc["se"].to_numpy(),
                "unit": ["points", "points", "points/month", ""],
                "estimable": True,
                "reason": "",
            }
        )
        stats_rows = pd.DataFrame(
            {
                "component": "fit_statistic",
                "term": ["log_likelihood", "aic", "bic", "n_params"],
                "estimate": [self.llf, self.aic, self.bic, float(self.fit.df_model)],
                "estimable": True,
                "reason": "",
            }
        )
        parts = [p for p in (rows, missing, variance, stats_rows) if not p.empty]
        out = pd.concat(parts, ignore_index=True)
        out.insert(0, "model", self.requested.name)
        out["n_obs"] = self.fit.n_obs
        out["n_patients"] = self.fit.n_groups
        out["n_events"] = self.fit.n_events
        return out.reindex(columns=list(JOINT_MODEL_RESULT_COLUMNS))

    def summary(self, alpha: float = 0.05, decimals: int = 4) -> str:
        """The fit's summary, with the terms left out and why."""
        text = self.fit.summary(digits=decimals)
        if self.not_estimable:
            text += "\n\nLeft out (not estimable)\n" + "\n".join(
                f"  {t}: {why}" for t, why in self.not_estimable.items()
            )
        return text


def not_estimable_rows(
    reason: str,
    n_obs: int,
    n_patients: int,
    n_events: int,
    classes: Sequence[str] = CLASSES,
    model: str = "joint_model",
) -> pd.DataFrame:
    """Result rows of a joint model that cannot be fitted: one not-estimable row per direct hazard ratio."""
    out = pd.DataFrame(
        {
            "model": model,
            "component": "survival",
            "term": list(classes),
            "drug_class": list(classes),
            "n_obs": n_obs,
            "n_patients": n_patients,
            "n_events": n_events,
            "estimable": False,
            "reason": reason,
        }
    )
    return out.reindex(columns=list(JOINT_MODEL_RESULT_COLUMNS))
