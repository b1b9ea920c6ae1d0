"""Linear mixed models of ALSFRS-R decline after diagnosis.

The question: do patients who used a psychiatric drug class before diagnosis lose
ALSFRS-R points faster afterwards?  The estimand is the difference in the mean
rate of decline (points per month) between users and non-users of a class, from a
linear mixed model with a random intercept and a random slope in time per patient
(Laird and Ware 1982):

``score_ij = x_ij' beta + b0_i + b1_i t_ij + e_ij``,  ``(b0_i, b1_i) ~ N(0, D)``,  ``e_ij ~ N(0, sigma^2)``

with ``t`` in months since diagnosis and ``x_ij`` holding time, prediagnostic use
of each class, use x time (the slope differences) and covariates (age, sex, onset
site).  The model assumes a linear decline, normal random effects and errors, and
visits missing at random: whether a visit happens may depend on the *observed*
scores, not on the patient's unobserved rate of decline.  Death and invasive
ventilation end the visits, and they are more likely in fast decliners (the
simulated hazard depends on the current true score), so dropout is informative and
the mixed model alone is biased; :func:`alsmeds.simulate.dropout.latent_complete_trajectories` and
:func:`alsmeds.simulate.dropout.latent_at_observed_visits` measure that bias on synthetic data, and notebook
07 fits the joint model the paper used.

The data and their rules (visits kept, same-day assessments, follow-up, case
exposures) are :mod:`alsmeds.derive.alsfrs`; the fitter is :mod:`alsmeds.models.lmm`
(profiled REML or ML, closed-form per-patient algebra, exact Newton); R ``nlme::lme`` is
the reference (:mod:`alsmeds.reference.lme`).

Terms that cannot be estimated
------------------------------
* **Terms that cannot be estimated** are dropped from the model and reported with the
  reason (``AlsfrsMixedResult.not_estimable``; ``estimable=False`` rows in
  :meth:`AlsfrsMixedResult.group_slopes` and :meth:`AlsfrsMixedResult.to_frame`): an
  exposure nobody (or everybody) used, a slope difference whose users have no visit
  after diagnosis, a covariate that is the same for everyone, a column aliased with
  others.  When the model as a whole cannot be fitted (too few patients or visits, no
  visit after diagnosis, a failing optimiser), :class:`MixedModelError` says why.

Main entry points
-----------------
* :class:`AlsfrsMixedModel` -- ``AlsfrsMixedModel().fit(data)`` returns an
  :class:`AlsfrsMixedResult` with ``summary()``, ``to_frame()``, ``group_slopes()``,
  ``predict_mean()``, ``residuals()``.
* :func:`compare_random_effects` -- random intercept and slope against random intercept only.

Examples
--------
>>> from alsmeds import Study
>>> result = AlsfrsMixedModel().fit(Study.synthetic().alsfrs_data)   # doctest: +SKIP
>>> print(result.summary())                                           # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import stats

from alsmeds.constants import CLASSES
from alsmeds.derive.cohort import case_exposures as case_exposures  # re-exported: one function for every case
from alsmeds.labels import CLASS_NAMES
from alsmeds.models.base import wald_frame
from alsmeds.models.identifiability import non_identifiable_terms
from alsmeds.models.lmm import DEFAULT_TOL, LinearMixedResults, LmmError, LmmSums, fit_lmm

#: Default covariates of the mixed model (columns of :func:`build_alsfrs_data`).
DEFAULT_COVARIATES = ("age_per_decade", "male", "bulbar")


#: Columns of the mixed-model results (``results/alsfrs_mixed_model.csv`` and ``.json``).
MIXED_MODEL_RESULT_COLUMNS: dict[str, str] = {
    "model": "random_intercept_slope (the main model) or random_intercept (the comparison model)",
    "method": "REML or ML (maximum likelihood, used for the model comparison)",
    "kind": "fixed_effect, slope (points/month per group), variance_component, fit_statistic or model_comparison",
    "term": "fixed-effect name (months = slope of the reference group; <class>:months = slope difference), "
    "slope group, variance component or statistic",
    "drug_class": "anxiolytics, hypnotics or antidepressants for exposure terms and slopes; empty otherwise",
    "group": "for slopes: reference (non-users of every class), users (of this class, non-users of the others) "
    "or difference (users minus reference); empty otherwise",
    "estimate": "estimate in the unit of the row",
    "se": "standard error: (X'V^-1 X)^-1 at the estimated variance components for fixed effects and slopes; "
    "empty for variance components and statistics",
    "ci_lower": "lower 95% Wald limit (normal quantile)",
    "ci_upper": "upper 95% Wald limit",
    "p_value": "two-sided Wald p-value; for model_comparison rows the likelihood-ratio p-value",
    "unit": "points, points/month, or empty",
    "n_obs": "visits in the model",
    "n_patients": "patients in the model",
    "estimable": "false for a term the data cannot estimate (left out of the model) or a model that failed",
    "reason": "why a row is not estimable (empty otherwise)",
}


#: Readable names of the covariates' fixed effects (see :func:`fixed_effect_label`).
COVARIATE_LABELS = {
    "Intercept": "score at diagnosis (reference patient)",
    "months": "slope of non-users of every class",
    "age_per_decade": "age, per decade above 65",
    "male": "male sex",
    "bulbar": "bulbar onset",
}
#: Readable names and units of the variance components (:meth:`AlsfrsMixedResult.variance_components_table`).
VARIANCE_COMPONENT_LABELS = {
    "intercept_sd": ("SD of the patients' intercepts", "points"),
    "slope_sd": ("SD of the patients' slopes", "points/month"),
    "correlation": ("correlation of intercept and slope", ""),
    "residual_sd": ("residual SD (visit to visit)", "points"),
}


def fixed_effect_label(term: str) -> str:
    """The readable name of a fixed effect: ``antidepressants:months`` -> "Antidepressants users: slope difference".

    The reference patient is a 65-year-old woman with spinal onset who used none of the
    classes; a class's level term shifts the score at diagnosis, its ``:months`` term the slope.
    """
    if term in COVARIATE_LABELS:
        return COVARIATE_LABELS[term]
    if term.endswith(":months"):
        k = term.removesuffix(":months")
        return f"{CLASS_NAMES.get(k, k)} users: slope difference"
    return f"{CLASS_NAMES.get(term, term)} users: level at diagnosis"


class MixedModelError(ValueError):
    """The mixed model cannot be fitted to these data; the message says why."""


def _short_reason(exc: BaseException) -> str:
    """The first sentence of an exception message, with its type when the message is empty."""
    text = str(exc).strip().split("\n")[0]
    text = text.split(". ")[0].rstrip(".")
    return text or type(exc).__name__


@dataclass(frozen=True)
class AlsfrsMixedModel:
    """A linear mixed model of the ALSFRS-R total score over months since diagnosis.

    ``score_ij = b_0 + b_t t_ij + sum_k (g_k E_ik + d_k E_ik t_ij) + c' w_i + u0_i + u1_i t_ij + e_ij``

    with ``E_ik`` prediagnostic use of class ``k``, ``w_i`` the covariates (age per
    decade above 65, male sex, bulbar onset by default; they shift the level, not
    the slope), ``(u0_i, u1_i)`` normal random effects with an unstructured 2 x 2
    covariance (``random_slope=False``: a random intercept only) and independent
    normal errors.  ``b_t`` is the mean slope (points per month) of patients who used
    none of the classes; ``d_k`` the slope difference of users of class ``k``.

    Parameters
    ----------
    exposures : sequence of str
        0/1 exposure columns (level terms).  All are fitted together (mutually adjusted).
    slope_exposures : sequence of str, optional
        Exposures interacted with time (slope differences); default: all ``exposures``.
    covariates : sequence of str
        Further level terms.
    random_slope : bool
        Random intercept and slope (default) or random intercept only.
    reml : bool
        Restricted maximum likelihood (default) or maximum likelihood.
    tol : float
        Convergence tolerance: half the Newton decrement at most ``tol * max(1, |llf|)``
        (see Notes).
    maxiter : int
        Iteration limit of the optimiser.
    time_unit_months : float
        Months per unit of time inside the optimiser (default 1: months; see Notes).

    Notes
    -----
    The fit is :func:`alsmeds.models.lmm.fit_lmm`, the same computation as R
    ``nlme::lme``: the fixed effects and the residual variance are profiled out of the
    REML (or ML) likelihood, which is maximised over the log-Cholesky factor of
    ``D / sigma^2`` from per-patient sums (2 x 2 algebra in closed form, vectorised over
    patients).  Settings:

    * **Optimiser**: Newton's method with the exact gradient and Hessian (autograd) and a
      backtracking line search; it stops when half the Newton decrement (the gain one
      more Newton step would bring) is at most ``tol`` = 1e-12 times ``max(1, |llf|)``,
      a criterion that does not depend on the units of the score or of time, and then
      takes one final full Newton step.  ``converged`` also requires the observed
      information of the variance parameters to be positive definite.
    * **Start**: method of moments from per-patient least-squares lines (four Newton
      steps, the last one the final full step, on the committed data).
    * **Boundary**: a random-slope variance that is zero given the intercept (``D``
      singular) is set to exactly zero, the rest maximised, and a warning recorded in
      ``warnings`` (:class:`alsmeds.models.lmm.BoundaryWarning`).
    * **Scaling**: ``time_unit_months`` changes the unit of time inside the optimiser;
      the model is equivariant under it, and estimates, standard errors, random effects
      and the log-likelihood are reported for months.  The REML log-likelihood depends
      on the units of the fixed-effect columns (through ``log det X'V^-1 X``): it is
      reported for months, as R ``nlme::lme`` reports it.
    * **Determinism**: no randomness is involved; rows are sorted by patient and time
      before fitting, so the same data give the same numbers on the same stack.

    Standard errors of the fixed effects are the usual model-based ``(X'V^-1 X)^-1``
    at the estimated variance components (as nlme, lme4 and SAS PROC MIXED report).
    Confidence intervals are Wald intervals with the normal quantile.

    References
    ----------
    Laird NM, Ware JH. Random-effects models for longitudinal data. Biometrics 1982;38:963-974.
    Verbeke G, Molenberghs G. Linear Mixed Models for Longitudinal Data. Springer, 2000.
    """

    exposures: tuple[str, ...] = CLASSES
    slope_exposures: tuple[str, ...] | None = None
    covariates: tuple[str, ...] = DEFAULT_COVARIATES
    random_slope: bool = True
    reml: bool = True
    tol: float = DEFAULT_TOL
    maxiter: int = 100
    time_unit_months: float = 1.0

    @property
    def slope_terms(self) -> tuple[str, ...]:
        """Exposures with a slope difference."""
        return tuple(self.exposures if self.slope_exposures is None else self.slope_exposures)

    @property
    def name(self) -> str:
        return "random_intercept_slope" if self.random_slope else "random_intercept"

    def design(self, data: pd.DataFrame) -> pd.DataFrame:
        """Fixed-effect design in months: Intercept, months, exposures, ``<k>:months``, covariates."""
        X = pd.DataFrame({"Intercept": 1.0, "months": data["months"].astype(float)}, index=data.index)
        for k in self.exposures:
            X[k] = data[k].astype(float)
        for k in self.slope_terms:
            X[f"{k}:months"] = data[k].astype(float) * X["months"]
        for c in self.covariates:
            X[c] = data[c].astype(float)
        return X

    def time_columns(self, columns: Sequence[str]) -> list[str]:
        """Fixed-effect columns that carry time (rescaled inside the optimiser)."""
        return [c for c in columns if c == "months" or c.endswith(":months")]

    def estimable_model(self, data: pd.DataFrame) -> tuple[AlsfrsMixedModel, dict[str, str]]:
        """The model reduced to the terms these data can estimate, and the reason for each term left out.

        Checked in this order: an exposure nobody or everybody used (its level and slope
        terms), a slope difference whose users have no visit after diagnosis, a covariate
        that is the same for every patient, then any column that is a linear combination
        of the columns before it (time, covariates, exposures, slope terms:
        :func:`alsmeds.models.identifiability.non_identifiable_terms`), so an exposure aliased with
        a covariate is reported rather than the covariate silently dropped.

        Returns
        -------
        (AlsfrsMixedModel, dict of str to str)
            The reduced model (``self`` when nothing is dropped) and term -> reason.

        Raises
        ------
        MixedModelError
            When the model as a whole cannot be fitted: no visits, fewer than two
            patients, no visit after diagnosis, no patient with two visits (random
            slope), or fewer visits than parameters.
        """
        if len(data) == 0:
            raise MixedModelError("no ALSFRS-R visits")
        patients = data.groupby("person_id", sort=True)
        if patients.ngroups < 2:
            raise MixedModelError(f"{patients.ngroups} patient with visits: a mixed model needs several")
        if not (data["months"] > 0).any():
            raise MixedModelError("no visit after diagnosis: no decline to estimate")
        if self.random_slope and not (patients.size() >= 2).any():
            raise MixedModelError("no patient has two visits: a random slope cannot be estimated")

        reasons: dict[str, str] = {}
        first = patients.first()
        for k in self.exposures:
            users = int(first[k].sum())
            if users == 0 or users == len(first):
                why = f"no {'users' if users == 0 else 'non-users'} of {k} among the patients with visits"
                reasons[k] = why
                reasons[f"{k}:months"] = why
        for k in self.slope_terms:
            term = f"{k}:months"
            if term not in reasons and not ((data[k] == 1) & (data["months"] > 0)).any():
                reasons[term] = f"no visit after diagnosis among users of {k}"
        for c in self.covariates:
            if first[c].nunique(dropna=False) < 2:
                reasons[c] = f"{c} is the same for every patient"

        X = self.design(data)
        slope_cols = [f"{k}:months" for k in self.slope_terms]
        order = ["months", *self.covariates, *self.exposures, *slope_cols]
        candidates = [c for c in order if c not in reasons]
        aliased = non_identifiable_terms(X[candidates])
        if "months" in aliased:
            raise MixedModelError(f"time since diagnosis is not identifiable ({aliased['months']})")
        reasons.update(aliased)
        for k in self.exposures:  # a level term that cannot be estimated takes its slope term with it
            if k in reasons and f"{k}:months" not in reasons and k in self.slope_terms:
                reasons[f"{k}:months"] = f"{k}: {reasons[k]}"
        if not reasons:
            n_params = X.shape[1] + (4 if self.random_slope else 2)
            if len(data) <= n_params:
                raise MixedModelError(f"{len(data)} visits for {n_params} parameters")
            return self, {}
        reduced = replace(
            self,
            exposures=tuple(k for k in self.exposures if k not in reasons),
            slope_exposures=tuple(k for k in self.slope_terms if f"{k}:months" not in reasons),
            covariates=tuple(c for c in self.covariates if c not in reasons),
        )
        n_params = reduced.design(data).shape[1] + (4 if self.random_slope else 2)
        if len(data) <= n_params:
            raise MixedModelError(f"{len(data)} visits for {n_params} parameters")
        return reduced, {t: reasons[t] for t in X.columns if t in reasons}

    def fit(self, data: pd.DataFrame) -> AlsfrsMixedResult:
        """Fit the model to visit data from :func:`build_alsfrs_data`.

        Terms these data cannot estimate are left out first (:meth:`estimable_model`)
        and reported in ``not_estimable``; warnings of the optimiser are recorded in
        ``warnings``, not shown.

        Returns
        -------
        AlsfrsMixedResult

        Raises
        ------
        MixedModelError
            When the model as a whole cannot be fitted, with the reason.
        """
        d = data.sort_values(["person_id", "months"], kind="stable").reset_index(drop=True)
        model, reasons = self.estimable_model(d)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = model._fit_sorted(d)
            except LmmError as exc:  # the data cannot identify the model: the fitter says why
                raise MixedModelError(str(exc)) from exc
            except (np.linalg.LinAlgError, ValueError, ZeroDivisionError, FloatingPointError) as exc:
                raise MixedModelError(f"the optimiser failed: {_short_reason(exc)}") from exc
        if not np.all(np.isfinite(result.params)) or not np.all(np.isfinite(result.cov.to_numpy())):
            raise MixedModelError("the fit produced non-finite estimates")
        result.requested = self
        result.not_estimable = reasons
        result.warnings = list(
            dict.fromkeys([*(f"{w.category.__name__}: {w.message}" for w in caught), *result.warnings])
        )
        return result

    def _fit_sorted(self, d: pd.DataFrame) -> AlsfrsMixedResult:
        """Fit on rows sorted by patient and time, every term estimable (see :meth:`fit`)."""
        X = self.design(d)
        names = list(X.columns)
        unit = np.where(np.isin(names, self.time_columns(names)), self.time_unit_months, 1.0)
        t = d["months"].to_numpy(dtype=float)
        sums = LmmSums.from_visits(
            d["score"].to_numpy(dtype=float),
            X.to_numpy() / unit,
            d["person_id"].to_numpy(),
            t / self.time_unit_months if self.random_slope else None,
            names=names,
            time_name="months",
        )
        fitted = fit_lmm(sums, reml=self.reml, tol=self.tol, maxiter=self.maxiter)
        # Back to months: the model is equivariant under the unit of time.
        re_names = list(sums.re_names)
        re_unit = np.array([1.0, self.time_unit_months])[: len(re_names)]
        llf = fitted.llf
        if self.reml:
            llf -= int((unit != 1.0).sum()) * np.log(self.time_unit_months)
        return AlsfrsMixedResult(
            model=self,
            params=fitted.params / unit,
            cov=fitted.cov / np.outer(unit, unit),
            cov_re=fitted.cov_re / np.outer(re_unit, re_unit),
            scale=fitted.scale,
            llf=float(llf),
            n_obs=fitted.n_obs,
            n_groups=fitted.n_groups,
            converged=fitted.converged,
            optimizer={
                "method": "Newton, exact derivatives, profiled likelihood (alsmeds.models.lmm)",
                "tol": self.tol,
                "iterations": fitted.iterations,
                "message": fitted.message,
                "time_unit_months": self.time_unit_months,
            },
            random_effects=(fitted.random_effects / re_unit).rename_axis("person_id"),
            random_effects_cov=fitted.random_effects_cov / np.outer(re_unit, re_unit)[None],
            on_boundary=fitted.on_boundary,
            _data=d[["person_id", "months", "score"] + [c for c in self._carry() if c in d]].copy(),
            _X=X,
            warnings=[] if fitted.converged else [fitted.message],
        )

    def _carry(self) -> list[str]:
        return list(dict.fromkeys([*self.exposures, *self.slope_terms, *self.covariates, "event", "visit"]))


@dataclass
class AlsfrsMixedResult(LinearMixedResults):
    """A fitted :class:`AlsfrsMixedModel` (time in months, scores in points).

    In the vocabulary of :mod:`alsmeds.models.base` for the fixed effects:
    ``cov_params()``, ``conf_int()``, ``pvalues``, ``wald_table()`` and ``summary()``
    (its own text); :meth:`to_frame` is the results layout.

    Attributes
    ----------
    model : AlsfrsMixedModel
    params : Series
        Fixed effects.  ``months`` is the mean slope (points/month) of non-users of
        every class; ``<class>:months`` the slope difference of users of that class.
    cov : DataFrame
        ``(X'V^-1 X)^-1`` (also ``cov_params()``).
    cov_re : DataFrame
        Covariance of the random intercept and slope (points^2, points^2/month, ...).
    scale : float
        Residual variance ``sigma^2``.
    llf : float
        REML (or ML) log-likelihood in the months parametrisation (as nlme reports it).
    n_obs, n_groups : int
    converged : bool
    optimizer : dict
        Method, tolerance, iterations and the optimiser's message.
    random_effects : DataFrame
        BLUPs of each patient's deviation from the mean intercept and slope.
    random_effects_cov : ndarray, shape (n_groups, k, k)
        Their conditional covariances given the patient's scores (fixed effects and
        variance components at their estimates), in the order of ``random_effects``.
    on_boundary : bool
        The random-effects covariance is singular at the estimate (see :mod:`alsmeds.models.lmm`).
    requested : AlsfrsMixedModel or None
        The model asked for; ``model`` is the one fitted, without the terms of
        ``not_estimable``.
    not_estimable : dict of str to str
        Fixed-effect terms of the requested model left out, with the reason.
    warnings : list of str
        Warnings raised while fitting, and the optimiser's message when it did not
        converge (none expected on the committed data).
    """

    model: AlsfrsMixedModel
    params: pd.Series
    cov: pd.DataFrame
    cov_re: pd.DataFrame
    scale: float
    llf: float
    n_obs: int
    n_groups: int
    converged: bool
    optimizer: dict
    random_effects: pd.DataFrame
    random_effects_cov: np.ndarray = field(repr=False)
    on_boundary: bool
    _data: pd.DataFrame = field(repr=False)
    _X: pd.DataFrame = field(repr=False)
    requested: AlsfrsMixedModel | None = None
    not_estimable: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def reml(self) -> bool:
        """Whether the fit is REML (the fitted model's setting)."""
        return self.model.reml

    def linear_combination(self, weights: Mapping[str, float], alpha: float = 0.05) -> pd.Series:
        """Estimate, SE, Wald CI and p-value of ``sum_j w_j beta_j`` (no ``z``: the results layout).

        Parameters
        ----------
        weights : mapping of fixed-effect name to weight
        alpha : float
            1 - confidence level.
        """
        row = super().linear_combination(weights, alpha)
        return row[["estimate", "se", "ci_lower", "ci_upper", "p_value"]]

    def group_slopes(self, alpha: float = 0.05) -> pd.DataFrame:
        """Mean slopes (points/month) by prediagnostic use, with Wald CIs (95% by default).

        For each class with a slope difference: the slope of the reference group
        (non-users of every class: ``months``), of users of the class who used no other
        class (``months + <class>:months``) and the difference (``<class>:months``).  The
        slope does not depend on the covariates (they shift the level only).

        Returns
        -------
        DataFrame
            ``drug_class``, ``group`` (reference, users, difference), ``estimate``, ``se``,
            ``ci_lower``, ``ci_upper``, ``p_value``, ``estimable`` and ``reason`` (a class
            whose slope difference is not estimable has missing users and difference rows).
        """
        rows = []
        requested = self.requested.slope_terms if self.requested is not None else self.model.slope_terms
        for k in requested:
            term = f"{k}:months"
            for group, weights in (
                ("reference", {"months": 1.0}),
                ("users", {"months": 1.0, term: 1.0}),
                ("difference", {term: 1.0}),
            ):
                if term in self.params.index or group == "reference":
                    est = {**self.linear_combination(weights, alpha).to_dict(), "estimable": True, "reason": ""}
                else:
                    est = {c: np.nan for c in ("estimate", "se", "ci_lower", "ci_upper", "p_value")}
                    est.update(estimable=False, reason=self.not_estimable.get(term, "not in the model"))
                rows.append({"drug_class": k, "group": group, **est})
        columns = ["drug_class", "group", "estimate", "se", "ci_lower", "ci_upper", "p_value", "estimable", "reason"]
        return pd.DataFrame(rows, columns=columns)

    def typical_covariates(self) -> dict[str, float]:
        """Mean of each covariate over patients (one value per patient)."""
        per_patient = self._data.groupby("person_id")[list(self.model.covariates)].first()
        return {c: float(per_patient[c].mean()) for c in self.model.covariates}

    def predict_mean(
        self,
        months: Sequence[float] | np.ndarray,
        exposures: Mapping[str, float] | None = None,
        covariates: Mapping[str, float] | None = None,
    ) -> pd.DataFrame:
        """Mean trajectory (fixed effects only) for one exposure profile, with a 95% band.

        Parameters
        ----------
        months : array-like
            Times since diagnosis.
        exposures : mapping, optional
            Exposure values (default 0 for every class).
        covariates : mapping, optional
            Covariate values (default :meth:`typical_covariates`).

        Returns
        -------
        DataFrame
            ``months``, ``mean``, ``se``, ``ci_lower``, ``ci_upper``.  The band covers the
            mean line, not individual patients.
        """
        months = np.asarray(months, dtype=float)
        exposures = {k: 0.0 for k in self.model.exposures} | dict(exposures or {})
        covariates = self.typical_covariates() | dict(covariates or {})
        frame = pd.DataFrame({"months": months, **exposures, **covariates})
        X = self.model.design(frame)[self.params.index].to_numpy()
        mean = X @ self.params.to_numpy()
        se = np.sqrt(np.einsum("ij,jk,ik->i", X, self.cov.to_numpy(), X))
        band = wald_frame(mean, se)
        return pd.DataFrame(
            {"months": months, "mean": mean, "se": se, "ci_lower": band["ci_lower"], "ci_upper": band["ci_upper"]}
        )

    def residuals(self) -> pd.DataFrame:
        """Per visit: fitted values and residuals.

        Returns
        -------
        DataFrame
            ``person_id``, ``months``, ``score``, ``fitted_marginal`` (x'beta),
            ``fitted`` (x'beta + z'b_i, with the BLUPs), ``residual`` (score - fitted,
            the conditional residual), ``standardized`` (residual / residual SD) and
            ``marginal_residual`` (score - fitted_marginal).
        """
        d = self._data
        marginal = self._X[self.params.index].to_numpy() @ self.params.to_numpy()
        re = self.random_effects.reindex(d["person_id"].to_numpy()).to_numpy()
        Z = np.column_stack([np.ones(len(d)), d["months"].to_numpy()])[:, : re.shape[1]]
        fitted = marginal + np.sum(Z * re, axis=1)
        out = d[["person_id", "months", "score"]].copy()
        out["fitted_marginal"] = marginal
        out["fitted"] = fitted
        out["residual"] = out["score"] - fitted
        out["standardized"] = out["residual"] / np.sqrt(self.scale)
        out["marginal_residual"] = out["score"] - marginal
        return out

    def residual_diagnostics(self) -> pd.Series:
        """Summaries of the conditional residuals and of the score's floor and ceiling.

        Returns
        -------
        Series
            SD of the residuals (their mean is zero by construction of the fit and is
            not shown: its sign would be rounding noise), skewness and excess kurtosis of the
            standardized residuals, share beyond +-2 and +-3 (normal: 4.6% and 0.27%),
            correlation of residuals with fitted values, share of visits at the
            ceiling (48) and floor (0), and the within-patient lag-1 correlation of the
            residuals.
        """
        r = self.residuals()
        z = r["standardized"]
        lag = r.groupby("person_id")["residual"].shift(1)
        both = lag.notna()
        return pd.Series(
            {
                "residual SD": float(r["residual"].std()),
                "skewness": float(stats.skew(z)),
                "excess kurtosis": float(stats.kurtosis(z)),
                "share |z| > 2": float((z.abs() > 2).mean()),
                "share |z| > 3": float((z.abs() > 3).mean()),
                "corr(residual, fitted)": float(np.corrcoef(r["residual"], r["fitted"])[0, 1]),
                "share of visits at 48": float((r["score"] >= 48).mean()),
                "share of visits at 0": float((r["score"] <= 0).mean()),
                "lag-1 correlation within patient": float(np.corrcoef(r.loc[both, "residual"], lag[both])[0, 1])
                if both.sum() > 2
                else np.nan,
            }
        )

    def to_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Every estimate as a tidy table (columns :data:`MIXED_MODEL_RESULT_COLUMNS`; 95% CIs by default)."""
        rows = []
        base = {"model": self.model.name, "method": self.method, "n_obs": self.n_obs, "n_patients": self.n_groups}
        for term in self.params.index:
            lc = self.linear_combination({term: 1.0}, alpha)
            drug = next((k for k in self.model.exposures if term in (k, f"{k}:months")), "")
            unit = "points/month" if term in self.model.time_columns([term]) else "points"
            rows.append(
                {
                    **base,
                    "kind": "fixed_effect",
                    "term": term,
                    "drug_class": drug,
                    "group": "",
                    **lc.to_dict(),
                    "unit": unit,
                    "estimable": True,
                    "reason": "",
                }
            )
        exposures = self.requested.exposures if self.requested is not None else self.model.exposures
        for term, why in self.not_estimable.items():
            drug = next((k for k in exposures if term in (k, f"{k}:months")), "")
            unit = "points/month" if term.endswith(":months") else "points"
            rows.append(
                {
                    **base,
                    "kind": "fixed_effect",
                    "term": term,
                    "drug_class": drug,
                    "group": "",
                    "unit": unit,
                    "estimable": False,
                    "reason": why,
                }
            )
        for rec in self.group_slopes(alpha).to_dict(orient="records"):
            rows.append({**base, "kind": "slope", "term": f"slope_{rec['group']}", "unit": "points/month", **rec})
        units = {"intercept_sd": "points", "slope_sd": "points/month", "correlation": "", "residual_sd": "points"}
        for name, value in self.variance_components().items():
            rows.append(
                {
                    **base,
                    "kind": "variance_component",
                    "term": name,
                    "drug_class": "",
                    "group": "",
                    "estimate": value,
                    "unit": units[name],
                    "estimable": True,
                    "reason": "",
                }
            )
        for name, value in (("log_likelihood", self.llf), ("aic", self.aic), ("bic", self.bic)):
            rows.append(
                {
                    **base,
                    "kind": "fit_statistic",
                    "term": name,
                    "drug_class": "",
                    "group": "",
                    "estimate": value,
                    "unit": "",
                    "estimable": True,
                    "reason": "",
                }
            )
        return pd.DataFrame(rows, columns=list(MIXED_MODEL_RESULT_COLUMNS))

    def fixed_effects_table(self, alpha: float = 0.05) -> pd.DataFrame:
        """The fixed effects as a table for people: readable names, units, Wald CIs (95% by default).

        Returns
        -------
        DataFrame
            Indexed by the readable name (:func:`fixed_effect_label`): ``term`` (the model's
            name), ``estimate``, ``se``, ``ci_lower``, ``ci_upper``, ``p_value``, ``unit``.
        """
        wald = self.wald_table(alpha)
        out = wald[["estimate", "se", "ci_lower", "ci_upper", "p_value"]].copy()
        out.insert(0, "term", list(wald.index))
        out["unit"] = ["points/month" if t in self.model.time_columns([t]) else "points" for t in wald.index]
        out.index = pd.Index([fixed_effect_label(t) for t in wald.index], name="fixed effect")
        return out

    def variance_components_table(self) -> pd.DataFrame:
        """The variance components as a table for people: readable names, ``estimate`` and ``unit``."""
        vc = self.variance_components()
        names = [VARIANCE_COMPONENT_LABELS.get(k, (k, ""))[0] for k in vc.index]
        units = [VARIANCE_COMPONENT_LABELS.get(k, (k, ""))[1] for k in vc.index]
        return pd.DataFrame(
            {"estimate": vc.to_numpy(), "unit": units}, index=pd.Index(names, name="variance component")
        )

    def summary(self) -> str:
        """A plain-text summary (no dates or timings, so it is stable across runs)."""
        vc = self.variance_components()
        wald = self.wald_table()
        fe = pd.DataFrame({"estimate": wald["estimate"], "SE": wald["se"]})
        fe["95% CI"] = [f"{lo:.3f} to {hi:.3f}" for lo, hi in zip(wald["ci_lower"], wald["ci_upper"], strict=True)]
        fe["p"] = [f"{p:.3g}" for p in wald["p_value"]]
        slopes = self.group_slopes()
        slopes["95% CI"] = [
            f"{lo:.3f} to {hi:.3f}" for lo, hi in zip(slopes["ci_lower"], slopes["ci_upper"], strict=True)
        ]
        re_text = "random intercept and slope in months" if self.model.random_slope else "random intercept"
        lines = [
            f"ALSFRS-R linear mixed model ({self.method}; profiled likelihood, exact Newton, {re_text}, by patient)",
            f"visits: {self.n_obs:,}   patients: {self.n_groups:,}   log-likelihood: {self.llf:.3f}   "
            f"converged: {'yes' if self.converged else 'NO'}",
            "",
            "Fixed effects (points; slopes in points/month)",
            fe.round(4).to_string(),
            "",
            "Slopes by prediagnostic use (points/month)",
            slopes[["drug_class", "group", "estimate", "se", "95% CI"]].round(4).to_string(index=False),
            "",
            "Variance components",
            "  " + "   ".join(f"{k} {v:.4f}" for k, v in vc.items()),
        ]
        if self.not_estimable:
            lines += ["", "Not estimable (left out of the model)"]
            lines += [f"  {term}: {why}" for term, why in self.not_estimable.items()]
        if self.warnings:
            lines += ["", "Warnings while fitting"] + [f"  {w}" for w in self.warnings]
        return "\n".join(lines)


def boundary_lr_pvalue(lr: float) -> float:
    """p-value of a likelihood-ratio test that a random slope (variance and covariance) is zero.

    Under the null the variance sits on the boundary of its range, and the statistic is
    distributed as the 50:50 mixture of chi-square(1) and chi-square(2) (Self and Liang
    1987; Stram and Lee 1994, for one random intercept plus one random slope).
    """
    lr = max(float(lr), 0.0)
    return float(0.5 * stats.chi2.sf(lr, 1) + 0.5 * stats.chi2.sf(lr, 2))


def compare_random_effects(data: pd.DataFrame, model: AlsfrsMixedModel | None = None) -> pd.DataFrame:
    """Random intercept and slope against random intercept only, by maximum likelihood.

    Both models have the same fixed effects, so REML likelihoods would be comparable
    too; ML is used so that the AIC values are also comparable with models whose
    fixed effects differ.  The likelihood-ratio test of "no random slope" (slope
    variance and covariance zero) sits on the boundary of the parameter space: its
    null distribution is the 50:50 mixture of chi-square(1) and chi-square(2) (Self
    and Liang 1987; Stram and Lee 1994), reported as ``p_mixture``; ``p_chi2`` is the
    naive chi-square(2) p-value, which is conservative.

    Returns
    -------
    DataFrame
        One row per model: ``model``, ``log_likelihood``, ``n_params``, ``aic``, ``bic``,
        ``residual_sd``, ``converged``, and, on the random-slope row, ``lr_statistic``,
        ``lr_df``, ``p_chi2``, ``p_mixture``; ``estimable`` and ``reason`` say when a
        model could not be fitted (its numbers and the test are then missing).
    """
    model = model or AlsfrsMixedModel()
    fits: dict[str, AlsfrsMixedResult | MixedModelError] = {}
    for random_slope in (False, True):
        variant = replace(model, reml=False, random_slope=random_slope)
        try:
            fits[variant.name] = variant.fit(data)
        except MixedModelError as exc:
            fits[variant.name] = exc
    rows = []
    for name, fit in fits.items():
        if isinstance(fit, MixedModelError):
            rows.append({"model": name, "estimable": False, "reason": str(fit)})
            continue
        rows.append(
            {
                "model": name,
                "log_likelihood": fit.llf,
                "n_params": fit.n_params,
                "aic": fit.aic,
                "bic": fit.bic,
                "residual_sd": float(np.sqrt(fit.scale)),
                "converged": fit.converged,
                "estimable": True,
                "reason": "",
            }
        )
    columns = ["model", "log_likelihood", "n_params", "aic", "bic", "residual_sd", "converged", "estimable", "reason"]
    out = pd.DataFrame(rows, columns=columns)
    reduced, full = fits["random_intercept"], fits["random_intercept_slope"]
    lr = np.nan
    if isinstance(reduced, AlsfrsMixedResult) and isinstance(full, AlsfrsMixedResult):
        lr = max(2 * (full.llf - reduced.llf), 0.0)
    out["lr_statistic"] = [np.nan, lr]
    out["lr_df"] = [np.nan, 2.0]
    out["p_chi2"] = [np.nan, float(stats.chi2.sf(lr, 2)) if np.isfinite(lr) else np.nan]
    out["p_mixture"] = [np.nan, boundary_lr_pvalue(lr) if np.isfinite(lr) else np.nan]
    return out


def not_estimable_rows(reason: str, n_obs: int, n_patients: int) -> pd.DataFrame:
    """The results rows of a mixed model that could not be fitted (:class:`MixedModelError`), with the reason.

    One ``fixed_effect`` row per term of the default model, ``estimable=False``, in the
    layout of :data:`MIXED_MODEL_RESULT_COLUMNS`, so the results file exists and says why
    it holds no estimates.
    """
    model = AlsfrsMixedModel()
    terms = ["Intercept", "months", *model.exposures, *[f"{k}:months" for k in model.slope_terms], *model.covariates]
    rows = [
        {
            "model": model.name,
            "method": "REML",
            "kind": "fixed_effect",
            "term": term,
            "drug_class": next((k for k in model.exposures if term in (k, f"{k}:months")), ""),
            "group": "",
            "unit": "points/month" if term.endswith("months") else "points",
            "n_obs": n_obs,
            "n_patients": n_patients,
            "estimable": False,
            "reason": reason,
        }
        for term in terms
    ]
    return pd.DataFrame(rows, columns=list(MIXED_MODEL_RESULT_COLUMNS))


def random_effects_comparison_rows(comparison: pd.DataFrame, n_obs: int, n_patients: int) -> pd.DataFrame:
    """:func:`compare_random_effects` as rows of :data:`MIXED_MODEL_RESULT_COLUMNS` (kind ``model_comparison``)."""
    rows = []
    for rec in comparison.to_dict(orient="records"):
        base = {
            "model": rec["model"],
            "method": "ML",
            "kind": "model_comparison",
            "drug_class": "",
            "group": "",
            "unit": "",
            "n_obs": n_obs,
            "n_patients": n_patients,
            "estimable": bool(rec.get("estimable", True)),
            "reason": rec.get("reason", "") or "",
        }
        for term in ("log_likelihood", "aic", "bic"):
            rows.append({**base, "term": term, "estimate": rec[term]})
        if np.isfinite(rec["lr_statistic"]):
            rows.append(
                {
                    **base,
                    "term": "lr_statistic_vs_random_intercept",
                    "estimate": rec["lr_statistic"],
                    "p_value": rec["p_mixture"],
                }
            )
    return pd.DataFrame(rows, columns=list(MIXED_MODEL_RESULT_COLUMNS))
