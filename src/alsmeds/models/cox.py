"""Cox models of survival after ALS diagnosis by prediagnostic use, with proportional-hazards checks.

The model ``h(t | x) = h0(t) exp(b'x)`` is fitted by the bundle's own Cox engine,
:func:`alsmeds.models.cox_engine.fit_coxph` (Efron ties, Newton-Raphson to the maximum:
:data:`COXPH_FIT_OPTIONS`), to the survival data of :mod:`alsmeds.derive.survival_data`,
whose rules (event, censoring, baseline ALSFRS-R, exposure) are defined there.  R
``survival::coxph`` is the reference (:mod:`alsmeds.reference.coxph`): the study's fits
agree with ``coxph(..., robust = TRUE)`` to 1e-8 in coefficients, model-based and robust
SEs (``tests/test_survival.py``; within 3e-15 on the committed data).  lifelines'
``CoxPHFitter`` (:func:`fit_lifelines_cox`) is a second reference in the tests; lifelines
still draws the Kaplan-Meier curves (:mod:`alsmeds.models.km`).

Terms that cannot be estimated
------------------------------
* **A term that cannot be estimated** is left out of its Cox model and reported with
  ``estimable=False`` and the reason (:meth:`CoxResult.to_frame`): an exposure with no
  users, no non-users or no event in one of the two groups (the likelihood is then
  monotone and the hazard ratio infinite or zero), or one aliased with the covariates.
  A covariate that does not vary, or has no event at one of its two levels, is dropped
  from the adjustment set and reported the same way.  An exposure whose coefficient runs
  off to infinity in the fit (the engine's monotone-likelihood rule, ``converged=False``,
  or the separation rule :data:`alsmeds.models.base.MAX_ABS_LOG_RATIO`) is reported not
  estimable ("monotone likelihood"), the other terms as fitted.  A model that cannot be
  fitted at all (no events, no estimable exposure, data the engine refuses:
  :class:`~alsmeds.models.cox_engine.CoxDataError`, Newton-Raphson not converging, a
  covariate whose coefficient runs off to infinity: separation) has ``CoxResult.reason``
  set and every exposure row not estimable.  Kaplan-Meier curves,
  log-rank tests and restricted mean survival times leave out (or mark missing) a
  group without patients.

Estimands
---------
* Kaplan-Meier curves estimate the marginal survival function ``S(t) = P(T > t)`` of
  event-free survival in users and non-users, assuming censoring independent of the
  event time (within group); log-rank tests compare them without adjustment.
* The Cox model ``h(t | x) = h0(t) exp(b'x)`` with exposure, age, sex, onset site,
  diagnostic delay and baseline ALSFRS-R estimates a **total** conditional hazard ratio
  of prediagnostic use given those baseline covariates, under proportional hazards and
  independent censoring.  It includes every pathway from use to the event after
  diagnosis, notably a faster ALSFRS-R decline; the joint model's hazard ratio, given the
  current ALSFRS-R value, is a **direct** effect.  The total effect implied by the
  generator is computed numerically by :mod:`alsmeds.estimands.cox`.
* The Cox estimates use Efron's approximation for tied event days and the inverse
  observed information for standard errors (``se``, ``ci_lower``, ``ci_upper``), as R's
  ``survival::coxph``; Kaplan-Meier 95% bands use Greenwood's variance on the log(-log)
  scale (R's ``conf.type = "log-log"``).
* Beside them, the **robust** standard errors (``robust_se``, ``robust_ci_lower``,
  ``robust_ci_upper``, ``robust_p_value``): the Lin-Wei (1989) sandwich variance, each
  patient (one row) their own cluster, R's ``coxph(..., robust = TRUE)``.  The model is
  misspecified by construction (the Cox model omits the heterogeneity of ALSFRS-R
  trajectories that drives the hazard in the generator, and age breaks proportional
  hazards), and then the inverse information no longer estimates the variance of the
  estimate while the sandwich does (the simulation study finds the model-based SEs too
  small).  The estimate is the same; only its interval changes.

Proportional hazards
--------------------
:func:`ph_test` is R's ``cox.zph`` (survival >= 3.0): for each term, the score test of
adding ``g(t) x`` to the model at the fitted coefficients, ``g`` one minus the
Kaplan-Meier estimate (``transform = "km"``), centred
(:meth:`alsmeds.models.cox_engine.CoxFit.ph_test`).  It replaced lifelines'
``proportional_hazard_test``, which regresses the scaled Schoenfeld residuals on ``g(t)``
as ``cox.zph`` did before survival 3.0 (a correlation-type test with a variance
approximation): the statistics changed with the definition (on the committed data, model
with the three classes, age: 11.83 with lifelines, 14.09 now, as R's ``cox.zph``; the
other terms stay above p = 0.05) and agree with R's ``cox.zph`` to 1e-8.
:func:`scaled_schoenfeld` is ``cox.zph(fit)$y``, the scaled Schoenfeld residuals plus the
coefficient.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES
from alsmeds.derive.cohort import case_exposures as case_exposures  # re-exported: one function for every case
from alsmeds.models.base import EstimationResults, separated_terms, wald_frame
from alsmeds.models.cox_engine import CoxDataError, CoxFit, fit_coxph
from alsmeds.models.cox_engine import _runs_off as _runs_off  # the engine's rule for an infinite coefficient
from alsmeds.models.identifiability import non_identifiable_terms

#: Adjustment set of the Cox models (columns made by :func:`cox_design`).
ADJUSTMENT = ("age_per_10y", "male", "bulbar", "diagnostic_delay_months", "alsfrs_baseline")


#: Readable names of the model terms.
TERM_LABELS = {
    **{f"use_{k}": f"prediagnostic use of {k}" for k in CLASSES},
    "age_per_10y": "age at diagnosis, per 10 years",
    "age_65_plus": "age at diagnosis 65 or more",
    "age_band": "age band at diagnosis (<55, 55-64, 65-74, 75+)",
    "male": "male sex",
    "bulbar": "bulbar onset",
    "diagnostic_delay_months": "diagnostic delay, per month",
    "alsfrs_baseline": "ALSFRS-R at diagnosis, per point",
}


#: Settings of :func:`alsmeds.models.cox_engine.fit_coxph` for the study's models (its defaults, named here): R
#: ``coxph``'s convergence rule (relative change of the partial log-likelihood at most ``tol``) and, in addition, a
#: last Newton step below ``step_tol`` standard errors in every coordinate, so that the estimate is the maximiser
#: (on the committed data within 3e-15 of R's ``coxph`` with ``eps = 1e-12``, and 2.2e-10 of R's default fit, which
#: stops earlier); ``max_iter`` counts step halvings.
COXPH_FIT_OPTIONS = {"tol": 1e-9, "step_tol": 1e-9, "max_iter": 30}


#: Tight Newton-Raphson settings for lifelines' CoxPHFitter (:func:`fit_lifelines_cox`: the second reference of the
#: tests and the landmark Cox models of :mod:`alsmeds.models.joint.landmark`).  Its defaults (precision 1e-7 on the
#: step and on the Newton decrement, or a relative change of the log-likelihood below 1e-9) left coefficients 3e-7 to
#: 2e-6 from R's coxph on paper-scale data; with these (no log-likelihood rule, 1e-12 on the step and the decrement)
#: the largest difference is 2e-10 from R's default fit and 3e-14 from R with eps = 1e-12, at the cost of one or two
#: more iterations.  With precision 1e-10 the decrement rule still stopped one iteration early (3e-7).
LIFELINES_FIT_OPTIONS = {"precision": 1e-12, "r_precision": 0.0, "step_size": 0.95, "max_steps": 200}


def _short_reason(exc: BaseException) -> str:
    """The first sentence of an exception message (lifelines' messages go on with tips and links)."""
    text = str(exc).strip().split("\n")[0].split(". ")[0].rstrip(".")
    return text or type(exc).__name__


def cox_design(
    data: pd.DataFrame,
    exposures: Sequence[str],
    adjustment: Sequence[str] = ADJUSTMENT,
    strata: Sequence[str] = (),
) -> tuple[pd.DataFrame, int]:
    """Columns ``time``, ``event``, the model terms and any strata columns, complete cases only.

    Derived columns: ``age_per_10y`` = ``(age - 65) / 10``; ``age_65_plus`` = 1 from age
    65; ``age_band`` = 0 (<55), 1 (55-64), 2 (65-74), 3 (75+) years.  Other terms are
    columns of ``data`` as they are.

    Returns
    -------
    (DataFrame, int)
        The design and the number of cases dropped for a missing term.
    """
    age = data["age"].astype(float)
    derived = {
        "age_per_10y": (age - 65) / 10,
        "age_65_plus": (age >= 65).astype(float),
        "age_band": pd.Series(np.searchsorted([55.0, 65.0, 75.0], age.to_numpy(), side="right"), index=data.index)
        .astype(float)
        .where(age.notna()),
    }
    names = [*exposures, *adjustment, *strata]
    cols = {t: derived[t] if t in derived else data[t] for t in names}
    design = pd.DataFrame({"time": data["time"], "event": data["event"], **cols}).astype(float)
    complete = design.notna().all(axis=1)
    return design[complete].reset_index(drop=True), int((~complete).sum())


#: The robust (sandwich) columns of :meth:`CoxResult.to_frame`, after ``p_value``.
ROBUST_COLUMNS = ("robust_se", "robust_ci_lower", "robust_ci_upper", "robust_p_value")


@dataclass
class CoxResult(EstimationResults):
    """A fitted Cox model of death or invasive ventilation, in the vocabulary of :mod:`alsmeds.models.base`.

    ``cov_params()``, ``conf_int()``, ``pvalues``, ``wald_table()`` (with
    ``hazard_ratio``, ``hazard_ratio_lower``, ``hazard_ratio_upper``),
    ``linear_combination()`` and ``summary()`` come from
    :class:`~alsmeds.models.base.EstimationResults`; :meth:`to_frame` is the results
    layout.

    Attributes
    ----------
    model : str
        ``per_class`` (one class with the adjustment set) or ``mutual`` (all classes).
    exposures : list of str
        The exposure terms (``use_<class>``).
    params, bse : Series
        Log hazard ratios and standard errors (inverse observed information), by term.
    robust_bse : Series
        Robust (Lin-Wei sandwich) standard errors, each row (patient) its own cluster, as
        R's ``coxph(..., robust = TRUE)``; same terms as ``params`` (empty when not fitted).
        :meth:`robust_cov_params` and :meth:`robust_wald_table` use them; the results
        columns ``robust_*`` of :meth:`to_frame` come from them.
    loglik : float
        Partial log-likelihood (Efron) at the estimate.
    n, events, n_dropped : int
        Cases and events in the fit; cases dropped for a missing covariate.
    exposed, exposed_events : dict
        Users and events among users, per exposure term.
    ph_test : DataFrame
        Test of proportional hazards per term (``term``, ``chisq``, ``p_value``; R's
        ``cox.zph`` score test, 1 df, :func:`ph_test`), time transform ``ph_transform``.
    fitter : alsmeds.models.cox_engine.CoxFit
        The engine's fit (:func:`alsmeds.models.cox_engine.fit_coxph`, with the robust
        variance); it may hold an exposure left out as not estimable (monotone likelihood).
    design : DataFrame
        The complete-case design the model was fitted on (terms left out removed).
    warnings : list of str
        Warnings raised while fitting (numpy's, e.g. on overflow; none expected).
    not_estimable : dict of str to str
        Terms asked for but left out of the model (exposures and covariates), with the
        reason (see the module docstring).
    reason : str
        Why the model as a whole could not be fitted (empty when it was); ``fitter`` is
        then None and ``params`` empty.
    """

    model: str
    exposures: list[str]
    params: pd.Series
    bse: pd.Series
    loglik: float
    n: int
    events: int
    n_dropped: int
    exposed: dict[str, int]
    exposed_events: dict[str, int]
    ph_test: pd.DataFrame
    ph_transform: str
    fitter: Any = field(repr=False)
    design: pd.DataFrame = field(repr=False)
    warnings: list[str] = field(default_factory=list)
    not_estimable: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    robust_bse: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))

    ratio_name = "hazard_ratio"

    @property
    def label(self) -> str:
        """``per_class:<class>`` or ``mutual``."""
        return self.model if self.model == "mutual" else f"{self.model}:{self.exposures[0].removeprefix('use_')}"

    @property
    def estimable(self) -> bool:
        """True when the model was fitted (some of its terms may still be in :attr:`not_estimable`)."""
        return self.fitter is not None

    def _fitted_cov(self, var: np.ndarray | None) -> pd.DataFrame:
        if self.fitter is None or var is None:
            return pd.DataFrame(dtype=float)
        full = pd.DataFrame(var, index=list(self.fitter.names), columns=list(self.fitter.names))
        terms = list(self.params.index)
        return full.loc[terms, terms]

    def cov_params(self) -> pd.DataFrame:
        """Covariance of :attr:`params` (inverse observed information); empty when not fitted."""
        return self._fitted_cov(None if self.fitter is None else self.fitter.var)

    def robust_cov_params(self) -> pd.DataFrame:
        """Robust (Lin-Wei sandwich) covariance of :attr:`params` (R ``coxph(robust = TRUE)$var``); empty: no fit."""
        return self._fitted_cov(None if self.fitter is None else self.fitter.robust_var)

    def robust_wald_table(self, alpha: float = 0.05) -> pd.DataFrame:
        """:meth:`wald_table` with the robust standard errors :attr:`robust_bse` (hazard-ratio columns included)."""
        return wald_frame(self.params, self.robust_bse.reindex(self.params.index), alpha=alpha, exp=True,
                          ratio_name=self.ratio_name)  # fmt: skip

    def _describe(self) -> str:
        head = f"Cox model {self.label}: {self.n} cases, {self.events} events"
        if not self.estimable:
            return f"{head}; not estimable: {self.reason}"
        return f"{head}, partial log-likelihood {self.loglik:.3f}"

    def to_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """One row per term, with the columns of :data:`alsmeds.reporting.survival_results.SURVIVAL_COX_COLUMNS`.

        Exposures come first, in the order asked for, then the covariates; a term left
        out of the model has ``estimable=False``, its ``reason`` and missing estimates.
        ``ci_lower`` and ``ci_upper`` are the limits of the hazard ratio with the
        model-based SE (:meth:`wald_table`); ``robust_se``, ``robust_ci_lower``,
        ``robust_ci_upper`` and ``robust_p_value`` the same with the robust (sandwich) SE
        (:meth:`robust_wald_table`).
        """
        ph = self.ph_test.set_index("term")
        wald = self.wald_table(alpha)
        robust = self.robust_wald_table(alpha)
        terms = [*self.exposures, *[t for t in self.params.index if t not in self.exposures]]
        terms += [t for t in self.not_estimable if t not in terms]
        rows = []
        for t in terms:
            is_exposure = t in self.exposures
            row = {
                "model": self.model,
                "drug_class": t.removeprefix("use_") if is_exposure else "",
                "term": t,
                "term_label": TERM_LABELS.get(t, t),
                "is_exposure": bool(is_exposure),
                "n": self.n,
                "events": self.events,
                "exposed": self.exposed.get(t),
                "exposed_events": self.exposed_events.get(t),
            }
            if t in self.params.index:
                w = wald.loc[t]
                row.update(
                    log_hr=float(w["estimate"]),
                    se=float(w["se"]),
                    hazard_ratio=float(w["hazard_ratio"]),
                    ci_lower=float(w["hazard_ratio_lower"]),
                    ci_upper=float(w["hazard_ratio_upper"]),
                    p_value=float(w["p_value"]),
                    robust_se=float(robust.loc[t, "se"]),
                    robust_ci_lower=float(robust.loc[t, "hazard_ratio_lower"]),
                    robust_ci_upper=float(robust.loc[t, "hazard_ratio_upper"]),
                    robust_p_value=float(robust.loc[t, "p_value"]),
                    ph_chisq=float(ph.loc[t, "chisq"]) if t in ph.index else np.nan,
                    ph_p_value=float(ph.loc[t, "p_value"]) if t in ph.index else np.nan,
                    estimable=True,
                    reason="",
                )
            else:
                row.update(estimable=False, reason=self.not_estimable.get(t) or self.reason or "not in the model")
            rows.append(row)
        columns = [
            "model", "drug_class", "term", "term_label", "is_exposure", "log_hr", "se", "hazard_ratio", "ci_lower",
            "ci_upper", "p_value", *ROBUST_COLUMNS, "n", "events", "exposed", "exposed_events", "ph_chisq",
            "ph_p_value", "estimable", "reason",
        ]  # fmt: skip
        out = pd.DataFrame(rows, columns=columns)
        for col in ("exposed", "exposed_events"):
            out[col] = out[col].astype("Int64")
        floats = ("log_hr", "se", "hazard_ratio", "ci_lower", "ci_upper", "p_value", *ROBUST_COLUMNS, "ph_chisq")
        for col in (*floats, "ph_p_value"):
            out[col] = out[col].astype(float)
        out["estimable"] = out["estimable"].astype(bool)
        return out


def fit_lifelines_cox(
    design: pd.DataFrame, fit_options: Mapping[str, Any] | None = None, strata: Sequence[str] = ()
) -> tuple[Any, list[str]]:
    """Fit ``lifelines.CoxPHFitter`` (Efron ties, no penalty) on a design from :func:`cox_design`.

    Not the study's fit any more (:func:`fit_cox` uses :func:`alsmeds.models.cox_engine.fit_coxph`):
    the second reference of the tests, and the fitter of the landmark Cox models
    (:mod:`alsmeds.models.joint.landmark`).  Every warning raised while fitting (lifelines'
    ``ConvergenceWarning`` on a failed or doubtful Newton-Raphson, numpy's on overflow) is
    recorded, not shown: the caller gets the messages and decides.

    Returns
    -------
    (lifelines.CoxPHFitter, list of str)
        The fitted model and the warning messages.
    """
    from lifelines import CoxPHFitter

    cph = CoxPHFitter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cph.fit(
            design,
            duration_col="time",
            event_col="event",
            show_progress=False,
            strata=list(strata) or None,
            fit_options=dict(LIFELINES_FIT_OPTIONS if fit_options is None else fit_options),
        )
    return cph, [f"{w.category.__name__}: {w.message}" for w in caught]


def fit_engine_cox(
    design: pd.DataFrame, strata: Sequence[str] = (), fit_options: Mapping[str, Any] | None = None
) -> tuple[CoxFit, list[str]]:
    """Fit :func:`alsmeds.models.cox_engine.fit_coxph` (Efron ties, robust variance) to a :func:`cox_design` frame.

    The covariates are the columns of ``design`` other than ``time``, ``event`` and the
    ``strata`` columns (one baseline hazard per combination of their values).  The robust
    variance takes each row as its own cluster (one row per patient): R's ``coxph(...,
    robust = TRUE)``.  Warnings raised while fitting (numpy's, none expected) are recorded,
    not shown.

    Parameters
    ----------
    design : DataFrame
    strata : sequence of str
    fit_options : mapping, optional
        Keyword arguments of ``fit_coxph`` (default :data:`COXPH_FIT_OPTIONS`).

    Returns
    -------
    (CoxFit, list of str)
        The fit (``converged`` False with a ``message`` on a monotone likelihood or when
        the iterations ran out) and the warning messages.

    Raises
    ------
    alsmeds.models.cox_engine.CoxDataError
        Data the engine cannot fit (no events, a covariate without information).
    """
    strata = list(strata)
    names = [c for c in design.columns if c not in ("time", "event", *strata)]
    if not strata:
        groups = None
    elif len(strata) == 1:
        groups = design[strata[0]].to_numpy()
    else:
        groups = design.groupby(strata, sort=True).ngroup().to_numpy()
    options = {**COXPH_FIT_OPTIONS, **(fit_options or {})}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = fit_coxph(
            design["time"], design["event"], design[names], names=names, ties="efron", strata=groups, robust=True,
            **options,
        )  # fmt: skip
    return fit, [f"{w.category.__name__}: {w.message}" for w in caught]


def ph_test(fit: CoxFit, time_transform: str = "km") -> pd.DataFrame:
    """Test of proportional hazards per term: R's ``cox.zph(fit, transform = time_transform)`` (survival >= 3.0).

    For each term, the score test, at the fitted coefficients, of adding ``g(t) x`` to the
    model, ``g`` the transformed event time centred on its mean over the events (``"km"``:
    one minus the Kaplan-Meier estimate, ``cox.zph``'s default; ``"rank"``, ``"identity"``,
    ``"log"``); a slope in ``g(t)`` means the log hazard ratio changes with time
    (:meth:`alsmeds.models.cox_engine.CoxFit.ph_test`).  This is not the test lifelines'
    ``proportional_hazard_test`` computes (and this function computed before the bundle's
    engine): lifelines regresses the scaled Schoenfeld residuals on ``g(t)`` with the
    variance approximation of ``cox.zph`` before survival 3.0, so the statistics differ;
    the reference is R's current ``cox.zph``.

    Parameters
    ----------
    fit : alsmeds.models.cox_engine.CoxFit
        The fitted model (:attr:`CoxResult.fitter`).
    time_transform : str

    Returns
    -------
    DataFrame
        term, chisq (1 df), p_value; one row per term of the fit, in the model's order
        (``cox.zph``'s ``GLOBAL`` row is left out).
    """
    test = fit.ph_test(time_transform)
    p = len(fit.names)
    return pd.DataFrame(
        {
            "term": list(test.names[:p]),
            "chisq": np.asarray(test.chisq[:p], dtype=float),
            "p_value": np.asarray(test.p_value[:p], dtype=float),
        }
    )


def fit_cox(
    data: pd.DataFrame,
    exposures: Sequence[str],
    adjustment: Sequence[str] = ADJUSTMENT,
    *,
    model: str | None = None,
    strata: Sequence[str] = (),
    ph_transform: str = "km",
    run_ph_test: bool = True,
    fit_options: Mapping[str, Any] | None = None,
) -> CoxResult:
    """Fit an adjusted Cox model of death or invasive ventilation after diagnosis.

    Estimand: the conditional hazard ratio of prediagnostic use given the adjustment
    set, a *total* effect of use through every pathway after diagnosis (see the
    module docstring), assuming proportional hazards and independent censoring.
    Fitted by :func:`fit_engine_cox` (Efron ties), with model-based and robust
    (sandwich, one cluster per patient) standard errors.

    Parameters
    ----------
    data : DataFrame
        Survival data (:func:`build_survival_data`).
    exposures : sequence of str
        Exposure terms, e.g. ``["use_antidepressants"]``.
    adjustment : sequence of str
        Adjustment terms (default :data:`ADJUSTMENT`: age per 10 years, male sex,
        bulbar onset, diagnostic delay in months, baseline ALSFRS-R).
    model : str, optional
        Label (default ``per_class`` for one exposure, ``mutual`` for several).
    strata : sequence of str
        Stratify the baseline hazard by these columns (e.g. ``["age_65_plus"]``), a
        remedy when a covariate breaks proportional hazards: each stratum gets its own
        baseline hazard and the covariate no longer needs a hazard ratio.
    ph_transform : str
        Time transform of the proportional-hazards test.
    run_ph_test : bool
        Compute the test of proportional hazards (:func:`ph_test`; skip for speed).
    fit_options : mapping, optional
        Options of :func:`alsmeds.models.cox_engine.fit_coxph` (``tol``, ``step_tol``,
        ``max_iter``) replacing those of :data:`COXPH_FIT_OPTIONS`.

    Returns
    -------
    CoxResult
        Terms the data cannot estimate are left out and listed in ``not_estimable``
        with the reason; when the model cannot be fitted at all, ``reason`` says why
        (see the module docstring).
    """
    exposures = list(exposures)
    design, dropped = cox_design(data, exposures, adjustment, strata)
    events = design["event"].to_numpy() == 1
    exposed = {t: int((design[t] == 1).sum()) for t in exposures}
    exposed_events = {t: int(((design[t] == 1) & events).sum()) for t in exposures}
    # With no complete case the per-term checks would see empty columns and invent reasons
    # ("no users of ..."): the one true reason is the missing data, named below.
    not_estimable = estimability_of_cox_terms(design, exposures, adjustment, strata) if len(design) else {}
    kept = [t for t in [*exposures, *adjustment] if t not in not_estimable]
    design = design.drop(columns=[t for t in not_estimable if t in design.columns])
    empty_ph = pd.DataFrame(columns=["term", "chisq", "p_value"])
    result = CoxResult(
        model=model or ("per_class" if len(exposures) == 1 else "mutual"),
        exposures=exposures,
        params=pd.Series(dtype=float),
        bse=pd.Series(dtype=float),
        loglik=float("nan"),
        n=int(len(design)),
        events=int(events.sum()),
        n_dropped=dropped,
        exposed=exposed,
        exposed_events=exposed_events,
        ph_test=empty_ph,
        ph_transform=ph_transform,
        fitter=None,
        design=design,
        not_estimable=not_estimable,
    )
    if len(design) == 0:
        result.reason = no_complete_case_reason(data, [*exposures, *adjustment, *strata])
    elif not events.any():
        result.reason = "no events"
    elif not any(t in kept for t in exposures):
        result.reason = "no exposure term can be estimated"
    if result.reason:
        return result
    try:
        fit, caught = fit_engine_cox(design, strata, fit_options)
    except CoxDataError as exc:  # a covariate without information (singular information matrix), bad values
        result.reason = f"the Cox model cannot be fitted: {_short_reason(exc)}"
        return result
    result.warnings = caught
    names = list(fit.names)
    params = pd.Series(fit.coef, index=names, dtype=float)
    bse = pd.Series(fit.se, index=names, dtype=float)
    robust_bse = pd.Series(fit.robust_se, index=names, dtype=float)
    monotone = not fit.converged and fit.message.startswith("monotone likelihood")
    if not fit.converged and not monotone:  # iterations ran out, or no step increased the likelihood (overflow)
        result.reason = f"the Cox model did not converge ({fit.message})"
        return result
    if not (np.all(np.isfinite(params)) and np.all(np.isfinite(bse)) and np.all(np.isfinite(robust_bse))):
        result.reason = "the Cox model gave non-finite estimates"
        return result
    runs_off: list[str] = []
    if monotone:
        # The coefficients the engine flagged: its rule, on the Newton step it stopped before.
        tol = float({**COXPH_FIT_OPTIONS, **(fit_options or {})}["tol"])
        step = np.linalg.solve(fit.info, fit.score)
        runs_off = [names[j] for j in np.flatnonzero(_runs_off(step, fit.coef, tol))]
        if not runs_off:
            result.reason = f"the Cox model did not converge ({fit.message})"
            return result
    # The engine's monotone-likelihood rule, then the separation rule of alsmeds.models.base.MAX_ABS_LOG_RATIO.
    separated = list(dict.fromkeys([*runs_off, *separated_terms(params)]))
    covariates = [t for t in separated if t not in exposures]
    if covariates:
        result.reason = f"separation: the coefficient of {', '.join(covariates)} is not finite"
        return result
    for t in separated:
        result.not_estimable[t] = "monotone likelihood: the hazard ratio is not finite"
    keep = [t for t in names if t not in result.not_estimable]
    result.params, result.bse, result.robust_bse = params[keep], bse[keep], robust_bse[keep]
    result.loglik = float(fit.loglik)
    result.fitter = fit
    if run_ph_test:
        try:
            result.ph_test = ph_test(fit, ph_transform)
        except (np.linalg.LinAlgError, ValueError) as exc:  # a singular information of the extended model
            result.warnings.append(f"proportional-hazards test failed: {_short_reason(exc)}")
    return result


def no_complete_case_reason(data: pd.DataFrame, terms: Sequence[str]) -> str:
    """Why a Cox design has no complete case: the terms missing for every case, or for some.

    Parameters
    ----------
    data : DataFrame
        One row per case, as given to :func:`fit_cox_model`.
    terms : sequence of str
        The model's exposure, adjustment and strata terms.

    Returns
    -------
    str
        For example ``"no case has ALSFRS-R at diagnosis (missing for all 1,057 cases);
        fit the model without this term"``; or, when no term is missing for every case,
        the terms that are missing for some.
    """
    if len(data) == 0:
        return "no cases"
    columns = {t: ("age" if t in ("age_per_10y", "age_65_plus", "age_band") else t) for t in terms}
    missing = {t: int(data[c].isna().sum()) for t, c in columns.items() if c in data.columns}
    everywhere = [t for t, n in missing.items() if n == len(data)]
    if everywhere:
        named = ", ".join(TERM_LABELS.get(t, t).split(",")[0] for t in everywhere)
        return (
            f"no case has {named} (missing for all {len(data):,} cases); "
            f"fit the model without {'this term' if len(everywhere) == 1 else 'these terms'}"
        )
    partly = [f"{TERM_LABELS.get(t, t).split(',')[0]} ({n:,} cases)" for t, n in missing.items() if n]
    return "no case has complete data; missing: " + ", ".join(partly)


def estimability_of_cox_terms(
    design: pd.DataFrame, exposures: Sequence[str], adjustment: Sequence[str], strata: Sequence[str] = ()
) -> dict[str, str]:
    """The terms of a Cox design that cannot be estimated, with the reason (module docstring, rules).

    A 0/1 term needs patients at both values and an event at both (else the partial
    likelihood is monotone); then no term may be a linear combination of the others
    within the strata (:func:`alsmeds.models.identifiability.non_identifiable_terms`, covariates
    checked before exposures, so that an exposure aliased with a covariate is reported).

    Returns
    -------
    dict of str to str
        Term -> reason, exposures and covariates alike.
    """
    reasons: dict[str, str] = {}
    events = design["event"].to_numpy() == 1
    for t in [*exposures, *adjustment]:
        values = design[t].to_numpy()
        label = t.removeprefix("use_")
        if np.unique(values).size < 2:
            reasons[t] = (
                f"no users of {label}"
                if t in exposures and not values.any()
                else (f"no non-users of {label}" if t in exposures else f"{t} is the same for every case")
            )
        elif np.isin(values, (0.0, 1.0)).all():
            group = "users" if t in exposures else f"{t} = 1"
            other = "non-users" if t in exposures else f"{t} = 0"
            if not events[values == 1].any():
                reasons[t] = f"no event among {group}: the hazard ratio is not finite"
            elif not events[values == 0].any():
                reasons[t] = f"no event among {other}: the hazard ratio is not finite"
    candidates = [t for t in [*adjustment, *exposures] if t not in reasons]
    if candidates and len(design):
        groups = design[list(strata)].astype(str).agg("|".join, axis=1).to_numpy() if strata else None
        reasons.update(non_identifiable_terms(design[candidates], groups, within="stratum"))
    return {t: reasons[t] for t in [*exposures, *adjustment] if t in reasons}


def fit_cox_models(data: pd.DataFrame, classes: Sequence[str] = CLASSES, **kwargs: Any) -> list[CoxResult]:
    """The per-class models (one class at a time, as the paper) and the mutually adjusted model.

    Keyword arguments go to :func:`fit_cox`.
    """
    results = [fit_cox(data, [f"use_{k}"], model="per_class", **kwargs) for k in classes]
    results.append(fit_cox(data, [f"use_{k}" for k in classes], model="mutual", **kwargs))
    return results


def cox_table(results: Sequence[CoxResult]) -> pd.DataFrame:
    """Stack :meth:`CoxResult.to_frame` of several models."""
    return pd.concat([r.to_frame() for r in results], ignore_index=True)


def scaled_schoenfeld(result: CoxResult) -> pd.DataFrame:
    """Scaled Schoenfeld residuals plus the coefficient: pointwise estimates of ``beta(t)`` at each event time.

    Under proportional hazards they scatter around the constant ``beta`` (Grambsch &
    Therneau 1994).  They are R's ``cox.zph(fit)$y`` (the residuals scaled by the
    information per event, plus ``beta``;
    :meth:`alsmeds.models.cox_engine.CoxFit.scaled_schoenfeld`).

    Returns
    -------
    DataFrame
        ``time`` and one column per term of :attr:`CoxResult.params`, one row per event,
        by time (tied events in R's order: stratum, then row of the design).

    Raises
    ------
    ValueError
        When the model could not be fitted (``result.reason``).
    """
    if result.fitter is None:
        raise ValueError(f"no fitted model: {result.reason}")
    fit = result.fitter
    out = pd.DataFrame(fit.scaled_schoenfeld(), columns=list(fit.names))[list(result.params.index)]
    out.insert(0, "time", fit.event_times)
    return out.sort_values("time", kind="stable").reset_index(drop=True)


def spline_trend(x: np.ndarray, y: np.ndarray, df: int) -> pd.DataFrame:
    """Least-squares natural cubic regression spline of ``y`` on ``x``, with a pointwise 95% band.

    The basis is formulaic's ``cr(x, df=df)`` (the natural cubic regression spline of
    mgcv, as in patsy, from which formulaic took it: the same basis to the bit); formulaic
    comes with lifelines and statsmodels, so no further dependency.  ``cr()`` without
    constraints spans the constant, so the intercept is left out (else the basis is
    rank-deficient).

    Parameters
    ----------
    x, y : array
        Abscissae and values, one per point.
    df : int
        Degrees of freedom of the spline (columns of the basis).

    Returns
    -------
    DataFrame
        ``mean``, ``lower``, ``upper`` of the fitted trend at each ``x``, in the order of ``x``.
    """
    import statsmodels.api as sm
    from formulaic import model_matrix

    basis = np.asarray(model_matrix(f"cr(x, df={df}) - 1", pd.DataFrame({"x": np.asarray(x, dtype=float)})))
    fit = sm.OLS(np.asarray(y, dtype=float), basis).fit()
    pred = fit.get_prediction(basis).summary_frame(alpha=0.05)
    return pd.DataFrame(
        {
            "mean": pred["mean"].to_numpy(),
            "lower": pred["mean_ci_lower"].to_numpy(),
            "upper": pred["mean_ci_upper"].to_numpy(),
        }
    )


@dataclass(frozen=True)
class SchoenfeldDiagnostics:
    """Scaled Schoenfeld residuals of a Cox model and their trends over time: what a figure of ``beta(t)`` draws.

    Attributes
    ----------
    terms : list of str
        The terms asked for, in drawing order.
    labels : dict of str to str
        Readable name of each term (:data:`TERM_LABELS`).
    time : numpy.ndarray
        Event times (years since diagnosis), ascending; empty when the model was not fitted.
    residuals : DataFrame
        :func:`scaled_schoenfeld` (``time`` and one column per fitted term), one row per event.
    beta : dict of str to float
        The Cox estimate of each fitted term among ``terms``.
    trends : dict of str to DataFrame
        Term -> :func:`spline_trend` of its residuals on the rank of the event time
        (``mean``, ``lower``, ``upper`` at each event time); a term is missing when there
        are too few events (at most ``2 * df``) for a trend.
    not_estimable : dict of str to str
        Term -> why it has no residuals (not estimable, model not fitted, not in the model).
    ph_test : DataFrame
        The model's test of a constant hazard ratio (:attr:`CoxResult.ph_test`).
    df : int
        Degrees of freedom of the spline trends.
    """

    terms: list[str]
    labels: dict[str, str]
    time: np.ndarray
    residuals: pd.DataFrame
    beta: dict[str, float]
    trends: dict[str, pd.DataFrame]
    not_estimable: dict[str, str]
    ph_test: pd.DataFrame
    df: int


def schoenfeld_diagnostics(result: CoxResult, terms: Sequence[str] | None = None, df: int = 4) -> SchoenfeldDiagnostics:
    """Is the hazard ratio constant over time?  Scaled Schoenfeld residuals and a spline trend of each term.

    Each residual plus the coefficient is a noisy estimate of ``beta(t)`` at its event
    time (Grambsch & Therneau 1994).  As in R's ``plot(cox.zph(fit))``, a natural cubic
    regression spline (``df`` degrees of freedom, :func:`spline_trend`) on the rank of the
    event time shows the trend, with a pointwise 95% band; under proportional hazards it
    stays flat at the Cox estimate.  The trend needs a few events per degree of freedom
    (more than ``2 * df`` events).

    Parameters
    ----------
    result : CoxResult
        A fitted model (:func:`fit_cox`).
    terms : sequence of str, optional
        Terms to diagnose (default: the exposures).
    df : int
        Degrees of freedom of the spline.

    Returns
    -------
    SchoenfeldDiagnostics
        What :func:`alsmeds.plots.survival.plot_schoenfeld` draws.

    Raises
    ------
    ValueError
        Without terms.
    """
    terms = list(terms or result.exposures)
    if not terms:
        raise ValueError("no terms to draw")
    resid = scaled_schoenfeld(result) if result.estimable else pd.DataFrame({"time": []})
    time = resid["time"].to_numpy()
    rank = pd.Series(time).rank(method="average").to_numpy() / max(len(time), 1)
    fitted = [t for t in terms if t in resid.columns]
    trends = {t: spline_trend(rank, resid[t].to_numpy(), df) for t in fitted} if len(time) > 2 * df else {}
    return SchoenfeldDiagnostics(
        terms=terms,
        labels={t: TERM_LABELS.get(t, t) for t in terms},
        time=time,
        residuals=resid,
        beta={t: float(result.params[t]) for t in fitted},
        trends=trends,
        not_estimable={
            t: result.not_estimable.get(t) or result.reason or "not in the model" for t in terms if t not in fitted
        },
        ph_test=result.ph_test,
        df=df,
    )
