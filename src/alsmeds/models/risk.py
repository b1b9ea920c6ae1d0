"""Risk models: conditional logistic regression of ALS on prediagnostic drug use.

One stratum per matched set (the case and its population controls, siblings or
spouse).  The estimand of each coefficient is the odds ratio of ALS for the exposure
conditional on the matched set and the covariates in the model; under incidence-density
sampling it estimates the rate ratio.  Population sets are matched on sex and birth
year, so age and sex cancel; sibling and spouse sets are not, so the adjusted models
of relatives add age and sex.

Specifications
--------------
``exposure="lagged"``
    One indicator per class: first qualifying use more than 1 year (``lag_years``)
    before the index date (the study's main analysis, which ignores the year before
    diagnosis): the analysis table's ``<class>_gt1`` column as the derive layer made it.
``exposure="windows"``
    Three indicators per class: first qualifying use 0-1, 1-5, >5 years before the
    index date, against never used: the table's window codes ``cat_<class>``.
``exposure="ever"``
    One indicator per class: any qualifying use before the index date, the last year
    included (:func:`alsmeds.derive.exposure.ever_used` of ``cat_<class>``).

The exposures are the derive layer's (:mod:`alsmeds.derive.exposure`), coded by
:mod:`alsmeds.models.design` and never re-derived here, so the parameters of
:class:`~alsmeds.derive.exposure.ExposureRules` (``min_dispensings``, ``lag_years``,
window edges) change the regressors exactly as they change the analysis table.
``classes``
    One class (the paper's models) or all three (mutually adjusted; the planted
    truth's estimand).  Any class whose columns the table has can be modelled: the
    negative control (:data:`alsmeds.constants.NEGATIVE_CONTROL`) is fitted by the same
    function (:mod:`alsmeds.analyses.sensitivity`).
``adjustment="crude"`` or ``"adjusted"``
    Conditioned on the matching only, or adjusted for psychiatric history, education,
    country of birth and civil status (plus age and sex for relatives).

A term that cannot be estimated (no discordant set, no exposed case, no exposed
control among informative sets, separation) is reported with ``estimable=False`` and
the reason, never as an absurd number.

Rules for register data
-----------------------
* **A comparison with no matched sets** (an extract without siblings or spouses):
  every term of its models is reported not estimable, with the reason ("no matched
  set with sibling controls"); the other comparisons are fitted as usual.
* **A matched set with no control** (an ALS case with no control at all; the
  validator accepts it with a warning) contributes nothing to the conditional
  likelihood.  The analysis table already leaves such cases out
  (:mod:`alsmeds.derive.analysis_table`); a set of one row that reaches a model anyway is
  dropped before fitting and counted (``RiskModelResult.n_sets_without_controls``).
* **A covariate that cannot be estimated** (it never varies within a set, or is a
  linear combination of the other covariates: e.g. one education level absent from a
  small extract) is dropped from the adjustment set and listed in
  ``RiskModelResult.dropped_covariates``: it carries no information, so the exposure
  estimates do not change.  An **exposure** aliased with the covariates or with other
  exposures is reported not estimable instead ("not identifiable: aliased with ..."),
  never fitted with a silently smaller adjustment set.
* **A model the solver cannot fit** (:class:`alsmeds.models.clogit.ClogitError`:
  separation, a singular information matrix) reports each of its terms not estimable
  with the solver's message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES
from alsmeds.derive.cohort import COMPARISON_ROLES
from alsmeds.formatting import format_ratio
from alsmeds.models.base import Z_975, separated_terms
from alsmeds.models.clogit import ClogitError, fit_clogit
from alsmeds.models.design import (
    POPULATION_ADJUSTMENT,
    RELATIVE_ADJUSTMENT,
    covariate_matrix,
    ever_indicators,
    lagged_indicators,
    window_indicators,
)
from alsmeds.models.identifiability import non_identifiable_terms
from alsmeds.models.terms import split_term
from alsmeds.truth import covers, distance_z

#: The comparisons, in report order (:data:`alsmeds.derive.cohort.COMPARISON_ROLES`).
COMPARISONS = tuple(COMPARISON_ROLES)


@dataclass(frozen=True)
class RiskModelSpec:
    """One risk model: which comparison, exposure coding, classes and adjustment."""

    comparison: str = "population"
    exposure: str = "lagged"
    classes: tuple[str, ...] = CLASSES
    adjustment: str = "adjusted"
    #: Adjustment set with population controls (matched on age and sex).
    population_covariates: tuple[str, ...] = POPULATION_ADJUSTMENT
    #: Adjustment set with siblings and spouses (not matched on age and sex).
    relative_covariates: tuple[str, ...] = RELATIVE_ADJUSTMENT

    @property
    def label(self) -> str:
        return "/".join(self.record().values())

    def record(self) -> dict[str, str]:
        """The columns that name this model in every results row (comparison, exposure, model, adjustment)."""
        return {
            "comparison": self.comparison,
            "exposure": self.exposure,
            "model": "mutual" if len(self.classes) > 1 else "per_class",
            "adjustment": self.adjustment,
        }

    def covariates(self) -> tuple[str, ...]:
        if self.adjustment == "crude":
            return ()
        return self.population_covariates if self.comparison == "population" else self.relative_covariates


@dataclass
class RiskModelResult:
    """Estimates of one risk model, one row per exposure term (see :meth:`to_frame`).

    Attributes
    ----------
    spec : RiskModelSpec
    estimates : DataFrame
        One row per exposure term (:data:`RESULT_COLUMNS`).
    covariate_estimates : DataFrame
        Coefficients of the adjustment covariates kept in the model.
    n_sets, n_rows : int
        Matched sets with at least one control, and their rows.
    n_sets_without_controls : int
        Sets of a case alone, dropped before fitting (module docstring).
    dropped_covariates : dict of str to str
        Adjustment columns left out because the data cannot estimate them, with the reason.
    """

    spec: RiskModelSpec
    estimates: pd.DataFrame
    covariate_estimates: pd.DataFrame = field(default_factory=pd.DataFrame)
    n_sets: int = 0
    n_rows: int = 0
    n_sets_without_controls: int = 0
    dropped_covariates: dict[str, str] = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Estimates with the model's description in every row."""
        return self.estimates

    def summary(self) -> str:
        """Plain-text table of odds ratios with 95% CIs (stable text, no timings)."""
        rows = []
        for r in self.estimates.itertuples():
            est = format_ratio(r.odds_ratio, r.ci_lower, r.ci_upper) if r.estimable else f"n.e. ({r.reason})"
            rows.append(f"  {r.drug_class:<16} {r.window:<4} {est:<22} exposed {r.exposed_cases}/{r.exposed_controls}")
        return f"{self.spec.label}: {self.n_sets} sets, {self.n_rows} rows\n" + "\n".join(rows)


#: The study's main model: population controls, the lagged exposure (first qualifying use more
#: than a year before the index date), one class per model, adjusted.
MAIN_MODEL: Mapping[str, str] = MappingProxyType(
    {"comparison": "population", "exposure": "lagged", "model": "per_class", "adjustment": "adjusted"}
)


def select_estimates(frame: pd.DataFrame, **where: Any) -> pd.DataFrame:
    """The rows of a results frame whose columns equal the given values.

    Parameters
    ----------
    frame : DataFrame
        Estimates in the results vocabulary (``comparison``, ``exposure``, ``model``, ...).
    **where
        Column -> value.  A list, tuple or set keeps rows equal to any of its values; None
        keeps every row (no condition on that column).

    Returns
    -------
    DataFrame
        The selected rows, in their order, with their index.

    Raises
    ------
    KeyError
        When a condition names a column the frame does not have.
    """
    keep = pd.Series(True, index=frame.index)
    for column, value in where.items():
        if value is None:
            continue
        if column not in frame.columns:
            raise KeyError(f"no column {column!r} to select on; columns: {list(frame.columns)}")
        if isinstance(value, (list, tuple, set, frozenset)):
            keep &= frame[column].isin(list(value))
        else:
            keep &= frame[column] == value
    return frame[keep]


def main_estimates(frame: pd.DataFrame, **changes: Any) -> pd.DataFrame:
    """The rows of the main model (:data:`MAIN_MODEL`), with any part of the selection changed.

    Parameters
    ----------
    frame : DataFrame
        Estimates in the results vocabulary.
    **changes
        Conditions that replace or add to :data:`MAIN_MODEL` (None drops one):
        ``main_estimates(estimates)`` is the main model against population controls,
        ``main_estimates(estimates, comparison=None)`` the main model of every comparison,
        ``main_estimates(sensitivity, analysis="negative_control")`` adds a condition.

    Returns
    -------
    DataFrame
        :func:`select_estimates` of the combined conditions.  Estimand of each row: the odds ratio
        of ALS for first use more than a year before the index date, conditional on the matched
        set and the adjustment set.
    """
    return select_estimates(frame, **{**MAIN_MODEL, **changes})


def comparison_rows(table: pd.DataFrame, comparison: str) -> pd.DataFrame:
    """Rows of one comparison of the analysis table."""
    if comparison not in COMPARISONS:
        raise ValueError(f"unknown comparison {comparison!r}; expected one of {COMPARISONS}")
    return table[table["comparison"] == comparison]


def exposure_matrix(rows: pd.DataFrame, spec: RiskModelSpec) -> pd.DataFrame:
    """Exposure indicators of a model: lagged (one per class), windows (three per class) or ever (any use).

    Parameters
    ----------
    rows : DataFrame
        Rows of the analysis table: ``<class>_gt1`` for ``"lagged"``, ``cat_<class>``
        for ``"windows"`` and ``"ever"`` (:mod:`alsmeds.models.design`).
    spec : RiskModelSpec

    Returns
    -------
    DataFrame
        One float column per term.
    """
    if spec.exposure == "lagged":
        return lagged_indicators(rows, spec.classes)
    if spec.exposure == "windows":
        return window_indicators(rows, spec.classes)
    if spec.exposure == "ever":
        return ever_indicators(rows, spec.classes)
    raise ValueError(f"unknown exposure coding {spec.exposure!r}; expected 'lagged', 'windows' or 'ever'")


def term_counts(X: pd.DataFrame, case: np.ndarray, strata: np.ndarray) -> pd.DataFrame:
    """Exposed cases and controls, and sets discordant for each term.

    Returns
    -------
    DataFrame
        Index: the columns of ``X``; ``exposed_cases``, ``exposed_controls``,
        ``discordant_sets`` and, among the discordant sets, ``exposed_cases_discordant``
        and ``exposed_controls_discordant``.
    """
    frame = X.assign(_case=case, _set=strata)
    grouped = frame.groupby("_set")
    spread = (grouped[list(X.columns)].max() - grouped[list(X.columns)].min()) > 0
    out = pd.DataFrame(
        {
            "exposed_cases": X[case].sum().astype(int),
            "exposed_controls": X[~case].sum().astype(int),
            "discordant_sets": spread.sum().astype(int),
        }
    )
    # Among discordant sets: is the case ever exposed, is a control ever exposed?
    disc = frame[frame["_set"].map(spread.any(axis=1)).fillna(False).to_numpy(dtype=bool)]
    out["exposed_cases_discordant"] = [int(((disc[c] > 0) & disc["_case"]).sum()) for c in X.columns]
    out["exposed_controls_discordant"] = [int(((disc[c] > 0) & ~disc["_case"]).sum()) for c in X.columns]
    return out


def counts_reason(counts: pd.Series) -> str | None:
    """Why a term cannot be estimated, from a row of :func:`term_counts` (None when it can)."""
    if counts["discordant_sets"] == 0:
        return "no discordant matched set"
    if counts["exposed_cases_discordant"] == 0:
        return "no exposed case"
    if counts["exposed_controls_discordant"] == 0:
        return "no exposed control"
    return None


def fit_risk_model(table: pd.DataFrame, spec: RiskModelSpec, alpha: float = 0.05) -> RiskModelResult:
    """Fit one conditional logistic model on the analysis table.

    Parameters
    ----------
    table : DataFrame
        The analysis table (:func:`alsmeds.derive.analysis_table.build_analysis_table`), or
        any frame with ``comparison``, ``set_id``, ``case``, ``cat_<class>``,
        ``<class>_gt1`` (for the lagged exposure) and the covariates.
    spec : RiskModelSpec
    alpha : float
        1 - confidence level of the Wald intervals.

    Returns
    -------
    RiskModelResult
    """
    rows, n_alone = informative_rows(comparison_rows(table, spec.comparison))
    case = rows["case"].to_numpy().astype(bool)
    strata = rows["set_id"].to_numpy()
    X_exp = exposure_matrix(rows, spec)
    X_cov = covariate_matrix(rows, spec.covariates())
    counts = term_counts(X_exp, case, strata)
    if rows.empty:
        reasons = {term: f"no matched set with {spec.comparison} controls" for term in X_exp.columns}
    else:
        reasons = {term: counts_reason(counts.loc[term]) for term in X_exp.columns}
    keep = [t for t, r in reasons.items() if r is None]
    cov_counts = term_counts(X_cov, case, strata) if len(X_cov.columns) else pd.DataFrame()
    cov_keep = [c for c in X_cov.columns if cov_counts.loc[c, "discordant_sets"] > 0]
    dropped = {c: "does not vary within any matched set" for c in X_cov.columns if c not in cov_keep}
    if keep:
        # Covariates first: an exposure aliased with a covariate is reported, not the covariate dropped.
        for term, why in non_identifiable_terms(
            pd.concat([X_cov[cov_keep], X_exp[keep]], axis=1), strata, within="matched set"
        ).items():
            if term in reasons:
                reasons[term] = f"not identifiable: {why}"
            else:
                dropped[term] = why
        keep = [t for t in keep if reasons[t] is None]
        cov_keep = [c for c in cov_keep if c not in dropped]
    X = pd.concat([X_exp[keep], X_cov[cov_keep]], axis=1)

    fit = None
    if keep:
        try:
            fit = fit_clogit(X, case, strata)
        except ClogitError as exc:
            reasons.update({t: f"model not estimable: {exc}" for t in keep})
    wald = fit.wald_table(alpha) if fit is not None else None
    records = []
    for term in X_exp.columns:
        drug_class, window = split_term(term, spec.classes)
        rec = {
            **spec.record(),
            "drug_class": drug_class,
            "window": window,
            "term": term,
            **counts.loc[term, ["exposed_cases", "exposed_controls", "discordant_sets"]].to_dict(),
        }
        if fit is not None and reasons[term] is None:
            if separated_terms(fit.params, [term]):  # the separation rule, alsmeds.models.base.MAX_ABS_LOG_RATIO
                reasons[term] = "separation (odds ratio not finite)"
            else:
                w = wald.loc[term]
                rec.update(
                    log_or=float(w["estimate"]),
                    se=float(w["se"]),
                    odds_ratio=float(w["odds_ratio"]),
                    ci_lower=float(w["odds_ratio_lower"]),
                    ci_upper=float(w["odds_ratio_upper"]),
                    p_value=float(w["p_value"]),
                )
        rec["estimable"] = reasons[term] is None
        rec["reason"] = reasons[term] or ""
        records.append(rec)
    estimates = pd.DataFrame.from_records(records)
    for col in ("log_or", "se", "odds_ratio", "ci_lower", "ci_upper", "p_value"):
        if col not in estimates:
            estimates[col] = np.nan
    cov_frame = fit.to_frame().loc[[c for c in cov_keep if fit is not None]] if fit is not None else pd.DataFrame()
    return RiskModelResult(
        spec=spec,
        estimates=estimates[RESULT_COLUMNS],
        covariate_estimates=cov_frame,
        n_sets=int(pd.unique(strata).size),
        n_rows=int(len(rows)),
        n_sets_without_controls=n_alone,
        dropped_covariates=dropped,
    )


def informative_rows(rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Rows of the matched sets that have at least one control, and the number of sets of a case alone.

    A set without controls contributes a factor of 1 to the conditional likelihood: it
    is dropped (and counted) rather than passed to the solver.
    """
    if rows.empty:
        return rows, 0
    size = rows.groupby("set_id")["set_id"].transform("size")
    alone = size.to_numpy() < 2
    return rows[~alone], int(rows.loc[alone, "set_id"].nunique())


RESULT_COLUMNS = [
    "comparison",
    "exposure",
    "model",
    "adjustment",
    "drug_class",
    "window",
    "term",
    "log_or",
    "se",
    "odds_ratio",
    "ci_lower",
    "ci_upper",
    "p_value",
    "exposed_cases",
    "exposed_controls",
    "discordant_sets",
    "estimable",
    "reason",
]


def standard_specs(
    comparisons: Sequence[str] = COMPARISONS,
    classes: Sequence[str] = CLASSES,
    exposures: Sequence[str] = ("lagged", "windows"),
    adjustments: Sequence[str] = ("crude", "adjusted"),
    mutually_adjusted: bool = True,
    **covariates: tuple[str, ...],
) -> list[RiskModelSpec]:
    """Every model of the study's Table 2 and its sensitivity analyses.

    Per class (one class per model): each exposure coding and adjustment; all classes
    together (when ``mutually_adjusted`` and more than one class): each exposure coding,
    adjusted.  The defaults are the study's (``studies/chourpiliadis2025.yaml``).

    Parameters
    ----------
    comparisons, classes, exposures, adjustments : sequence of str
    mutually_adjusted : bool
    **covariates
        ``population_covariates`` and ``relative_covariates`` of :class:`RiskModelSpec`.
    """
    specs = []
    for comparison in comparisons:
        for exposure in exposures:
            for adjustment in adjustments:
                specs += [RiskModelSpec(comparison, exposure, (k,), adjustment, **covariates) for k in classes]
            if mutually_adjusted and len(classes) > 1:
                specs.append(RiskModelSpec(comparison, exposure, tuple(classes), "adjusted", **covariates))
    return specs


def fit_standard_models(table: pd.DataFrame, comparisons: Sequence[str] = COMPARISONS, **options: Any) -> pd.DataFrame:
    """Fit :func:`standard_specs` (``options`` go to it) and stack their estimates into one frame."""
    frames = [fit_risk_model(table, spec).to_frame() for spec in standard_specs(comparisons, **options)]
    return pd.concat(frames, ignore_index=True)


def compare_with_published(estimates: pd.DataFrame) -> pd.DataFrame:
    """Our adjusted per-class population estimates beside the six published odds ratios.

    Adds ``published_in_our_ci`` (the published OR lies inside our 95% CI) and
    ``ours_in_published_ci`` (our OR lies inside the published 95% CI).
    """
    from alsmeds.published import published_risk_frame

    ours = main_estimates(estimates, exposure=None)  # the lagged and the window terms
    merged = published_risk_frame().merge(
        ours[["drug_class", "window", "odds_ratio", "ci_lower", "ci_upper", "estimable"]],
        on=["drug_class", "window"],
        how="left",
    )
    merged["published_in_our_ci"] = (merged["ci_lower"] <= merged["published_or"]) & (
        merged["published_or"] <= merged["ci_upper"]
    )
    merged["ours_in_published_ci"] = (merged["published_lower"] <= merged["odds_ratio"]) & (
        merged["odds_ratio"] <= merged["published_upper"]
    )
    return merged


def table2(estimates: pd.DataFrame, comparison: str = "population") -> pd.DataFrame:
    """The paper's Table 2 layout: crude and adjusted OR (95% CI) per class and window, with exposed counts.

    Per-class models only (one class per model, as published); "n.e." marks a term that
    could not be estimated.
    """
    sel = select_estimates(estimates, comparison=comparison, model="per_class").copy()
    sel["OR (95% CI)"] = [
        format_ratio(r.odds_ratio, r.ci_lower, r.ci_upper) if r.estimable else "n.e." for r in sel.itertuples()
    ]
    sel["exposed cases/controls"] = sel["exposed_cases"].astype(str) + "/" + sel["exposed_controls"].astype(str)
    wide = sel.pivot_table(index=["drug_class", "window"], columns="adjustment", values="OR (95% CI)", aggfunc="first")
    counts = sel[sel["adjustment"] == "adjusted"].set_index(["drug_class", "window"])["exposed cases/controls"]
    out = wide[["crude", "adjusted"]].join(counts)
    class_order = {k: i for i, k in enumerate(CLASSES)}
    window_order = {"gt1": 0, "ever": 1, "0_1": 2, "1_5": 3, "gt5": 4}
    return out.sort_index(key=lambda s: s.map(class_order if s.name == "drug_class" else window_order))


def compare_with_truth(estimates: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Each estimate beside its planted estimand: its distance z, and whether the 95% CI covers the estimand.

    Parameters
    ----------
    estimates : DataFrame
        Rows of one model (drug_class, window, log_or, se).
    truth : DataFrame
        drug_class, window, log_or of the estimand and, when numerical, its Monte Carlo SE ``mc_se``
        (e.g. :func:`alsmeds.reporting.describe.implied_estimand_table`; 0 when absent).

    Returns
    -------
    DataFrame
        The merged rows with ``log_or_truth``, ``mc_se_truth``, ``z`` =
        :func:`alsmeds.truth.distance_z` ``(log_or, se, log_or_truth, mc_se_truth)`` = (estimate -
        estimand) / sqrt(SE^2 + MC SE^2), and ``ci_covers_truth`` = :func:`alsmeds.truth.covers`
        (our 95% CI, bounds included, contains the estimand).
    """
    right = truth.assign(mc_se=truth["mc_se"] if "mc_se" in truth else 0.0)[["drug_class", "window", "log_or", "mc_se"]]
    merged = estimates.merge(
        right.rename(columns={"log_or": "log_or_truth", "mc_se": "mc_se_truth"}), on=["drug_class", "window"]
    )
    merged["z"] = distance_z(merged["log_or"], merged["se"], merged["log_or_truth"], merged["mc_se_truth"])
    half = Z_975 * merged["se"]  # the 95% Wald interval of the results (models.base.wald_frame), log scale
    merged["ci_covers_truth"] = covers(merged["log_or"] - half, merged["log_or"] + half, merged["log_or_truth"])
    return merged


def discordance_by_set_size(
    table: pd.DataFrame, comparisons: Sequence[str] = COMPARISONS, classes: Sequence[str] = CLASSES
) -> pd.DataFrame:
    """Share of matched sets discordant for the lagged exposure, observed and expected if members were independent.

    A conditional model learns only from sets whose members differ in exposure.  Under
    independence a set of size ``m`` is concordant with probability
    ``p_case * p_control**(m-1) + (1-p_case) * (1-p_control)**(m-1)`` (exposure
    prevalences among cases and controls), so smaller sets are concordant more often
    whatever the resemblance of their members; an observed share below the expected one
    is what resemblance (for example a familial factor) adds.

    Parameters
    ----------
    table : DataFrame
        The analysis table (``<class>_gt1`` columns).
    comparisons, classes : sequence of str
        Comparisons and drug classes to describe.

    Returns
    -------
    DataFrame
        One row per comparison and class: ``comparison``, ``drug_class``, ``sets``,
        ``people per set``, ``discordant, observed (%)``, ``discordant if independent (%)``.
    """
    rows = []
    for comparison in comparisons:
        sets, _ = informative_rows(comparison_rows(table, comparison))
        if sets.empty:
            continue
        size = sets.groupby("set_id").size()
        for k in classes:
            exposed = sets.groupby("set_id")[f"{k}_gt1"].sum()
            p_case = sets.loc[sets["case"] == 1, f"{k}_gt1"].mean()
            p_control = sets.loc[sets["case"] == 0, f"{k}_gt1"].mean()
            concordant = p_case * p_control ** (size - 1) + (1 - p_case) * (1 - p_control) ** (size - 1)
            rows.append(
                {
                    "comparison": comparison,
                    "drug_class": k,
                    "sets": len(size),
                    "people per set": size.mean(),
                    "discordant, observed (%)": 100 * ((exposed > 0) & (exposed < size)).mean(),
                    "discordant if independent (%)": 100 * (1 - concordant.mean()),
                }
            )
    return pd.DataFrame(rows)
