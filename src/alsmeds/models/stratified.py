"""Stratified risk models and tests of effect modification (age group, sex).

Population controls share the case's sex and birth year, so for the population
comparison a stratum is a property of the whole matched set: strata are defined by
the **case** (its age at the index date or its sex) and sets stay whole.

Siblings and spouses are *not* matched on age or sex.  Splitting their sets by the
case's sex would select sets on which member is the case (the outcome) and bias the
conditional likelihood: in a brother-sister pair, "the case is the man" is not a
property of the pair.  For relatives, effect modification is therefore estimated with
exposure x (the member's **own** age group or sex) interaction terms in whole sets,
which keeps the conditional likelihood valid; their stratum-specific odds ratios come
from that interaction model.

Two complementary analyses:

* :func:`fit_stratified` refits each risk model within each stratum (covariate
  effects free to differ): stratum-specific odds ratios, the usual forest plot.
* :func:`interaction_tests` fits one model with exposure x stratum interaction terms
  (covariate effects common): the ratio of odds ratios between strata, a Wald test per
  term, and a likelihood-ratio test per class (all of the class's interaction terms).
  "Significant in one stratum but not the other" is not evidence of a difference;
  these tests are.

Cells that cannot be estimated
------------------------------
A stratum without matched sets (no case aged 65 or more in a small extract), a
comparison without sets (no siblings), or a term with no discordant set, exposed case
or exposed control *within a stratum* is reported with ``estimable=False`` and the
reason (e.g. "no exposed case in stratum <65"), as in :mod:`alsmeds.models.risk`; the
other terms are still estimated.  Covariates the data cannot estimate are dropped from
the interaction model (:func:`alsmeds.models.identifiability.non_identifiable_terms`, exposures
checked last so that they are reported, not the covariates dropped).  Solver failures
(:class:`alsmeds.models.clogit.ClogitError`) make the affected model's terms not
estimable with the solver's message; a failed reduced model leaves only its
likelihood-ratio test missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from alsmeds.constants import CLASSES
from alsmeds.models.clogit import ClogitError, fit_clogit
from alsmeds.models.design import covariate_matrix, drop_constant_within_sets
from alsmeds.models.identifiability import non_identifiable_terms
from alsmeds.models.risk import (
    COMPARISONS,
    RiskModelSpec,
    comparison_rows,
    counts_reason,
    exposure_matrix,
    fit_risk_model,
    informative_rows,
    term_counts,
)
from alsmeds.models.terms import split_term

STRATIFIERS = ("age", "sex")


def stratum_of_set(rows: pd.DataFrame, by: str = "age", age_cutoff: float = 65.0) -> pd.Series:
    """Stratum label of every row, taken from the case of its matched set.

    ``by="age"``: ``"<{cutoff}"`` or ``"{cutoff}+"`` by the case's age at the index date;
    ``by="sex"``: ``"men"`` or ``"women"`` by the case's sex.
    """
    cases = rows[rows["case"] == 1].set_index("set_id")
    if by == "age":
        young = rows["set_id"].map(cases["age"]) < age_cutoff
        return pd.Series(np.where(young, f"<{age_cutoff:g}", f"{age_cutoff:g}+"), index=rows.index)
    if by == "sex":
        male = rows["set_id"].map(cases["male"]) == 1
        return pd.Series(np.where(male, "men", "women"), index=rows.index)
    raise ValueError(f"unknown stratifier {by!r}; expected one of {STRATIFIERS}")


def stratum_of_member(rows: pd.DataFrame, by: str = "age", age_cutoff: float = 65.0) -> pd.Series:
    """Stratum label of every row from the member's own age at the index date or sex."""
    if by == "age":
        young = rows["age"] < age_cutoff
        return pd.Series(np.where(young, f"<{age_cutoff:g}", f"{age_cutoff:g}+"), index=rows.index)
    if by == "sex":
        return pd.Series(np.where(rows["male"] == 1, "men", "women"), index=rows.index)
    raise ValueError(f"unknown stratifier {by!r}; expected one of {STRATIFIERS}")


def modifier_level(comparison: str) -> str:
    """``"set"`` (the case's stratum) for population controls, ``"member"`` (own stratum) for relatives."""
    return "set" if comparison == "population" else "member"


def stratum_levels(by: str, age_cutoff: float = 65.0) -> tuple[str, str]:
    """(reference, other) stratum labels; the interaction terms describe ``other`` vs ``reference``."""
    return (f"{age_cutoff:g}+", f"<{age_cutoff:g}") if by == "age" else ("women", "men")


def fit_stratified(table: pd.DataFrame, spec: RiskModelSpec, by: str = "age", age_cutoff: float = 65.0) -> pd.DataFrame:
    """Fit ``spec`` separately in each stratum of whole matched sets (population comparison only).

    Returns the estimates with ``stratum`` and ``stratified_by``.  Relatives are not
    matched on age and sex; use :func:`interaction_tests` for them (see the module notes).
    """
    if modifier_level(spec.comparison) != "set":
        raise ValueError(
            f"splitting {spec.comparison} sets by the case's {by} selects on the outcome; "
            "use interaction_tests(), which interacts exposure with each member's own stratum"
        )
    rows = comparison_rows(table, spec.comparison)
    strata = stratum_of_set(rows, by, age_cutoff)
    frames = []
    for level in stratum_levels(by, age_cutoff):
        part = rows[strata == level]
        est = fit_risk_model(part, spec).to_frame()
        if part.empty:
            est["reason"] = f"no matched set in stratum {level}"
        frames.append(est.assign(stratum=level, stratified_by=by))
    return pd.concat(frames, ignore_index=True)


def interaction_design(
    table: pd.DataFrame, spec: RiskModelSpec, by: str = "age", age_cutoff: float = 65.0
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Design of the exposure x stratum interaction model: (X, case, strata).

    Columns: the exposure terms (effects in the reference stratum), the same terms with
    suffix ``:other`` (multiplied by the indicator of the other stratum: the case's for
    population sets, each member's own for relatives) and the covariates that vary
    within some set.  Sets without a control are left out
    (:func:`alsmeds.models.risk.informative_rows`).
    """
    rows, _ = informative_rows(comparison_rows(table, spec.comparison))
    _, other = stratum_levels(by, age_cutoff)
    level = modifier_level(spec.comparison)
    labels = stratum_of_set(rows, by, age_cutoff) if level == "set" else stratum_of_member(rows, by, age_cutoff)
    in_other = (labels == other).to_numpy().astype(float)
    X_exp = exposure_matrix(rows, spec)
    X_int = X_exp.mul(in_other, axis=0).add_suffix(":other")
    case = rows["case"].to_numpy().astype(bool)
    strata = rows["set_id"].to_numpy()
    X_cov = covariate_matrix(rows, spec.covariates())
    if len(X_cov.columns) and len(rows):
        X_cov = drop_constant_within_sets(X_cov, strata)  # e.g. civil status, shared by spouses
    return pd.concat([X_exp, X_int, X_cov], axis=1), case, strata


def interaction_tests(
    table: pd.DataFrame, spec: RiskModelSpec, by: str = "age", age_cutoff: float = 65.0, alpha: float = 0.05
) -> pd.DataFrame:
    """Exposure x stratum interaction model: stratum-specific ORs, ratio of ORs, Wald and LR tests.

    Parameters
    ----------
    table : DataFrame
        The analysis table.
    spec : RiskModelSpec
        The model whose exposure terms are interacted with the stratum.
    by : {"age", "sex"}
    age_cutoff : float
        The stratum is the case's for the population comparison and each member's own
        for relatives (:func:`modifier_level`).

    Returns
    -------
    DataFrame
        One row per exposure term: ``or_reference`` / ``or_other`` with CIs (the
        stratum-specific ORs from the interaction model), ``ratio_of_ors`` with CI,
        ``wald_p`` (interaction coefficient = 0) and ``lr_p`` (likelihood-ratio test of
        all interaction terms of the term's class, ``lr_df`` degrees of freedom).

    Notes
    -----
    Estimand of ``ratio_of_ors``: the ratio of the conditional odds ratios of the
    ``other`` to the ``reference`` stratum, assuming covariate effects common to both.
    """
    full_X, case, strata = interaction_design(table, spec, by, age_cutoff)
    rows, _ = informative_rows(comparison_rows(table, spec.comparison))
    X_exp = exposure_matrix(rows, spec)
    terms = list(X_exp.columns)
    reference, other = stratum_levels(by, age_cutoff)
    level = modifier_level(spec.comparison)

    # Why a term cannot be estimated: counts within each stratum, then identifiability.
    reasons: dict[str, str | None] = {}
    if rows.empty:
        reasons = {t: f"no matched set with {spec.comparison} controls" for t in terms}
    else:
        in_other = full_X[[t + ":other" for t in terms]].to_numpy() != 0
        exposed = X_exp.to_numpy() != 0
        for j, term in enumerate(terms):
            reasons[term] = None
            for label, mask in ((reference, exposed[:, j] & ~in_other[:, j]), (other, in_other[:, j])):
                part = pd.DataFrame({term: mask.astype(float)}, index=rows.index)
                why = counts_reason(term_counts(part, case, strata).loc[term])
                if why:
                    reasons[term] = f"{why} in stratum {label}"
                    break
    covariates = [c for c in full_X.columns if c not in terms and not c.endswith(":other")]
    kept = [t for t in terms if reasons[t] is None]
    if kept:
        order = covariates + [c for t in kept for c in (t, t + ":other")]
        for column, why in non_identifiable_terms(full_X[order], strata, within="matched set").items():
            term = column.removesuffix(":other")
            if term in reasons:
                reasons[term] = reasons[term] or f"not identifiable: {column} {why}"
            else:
                covariates.remove(column)
        kept = [t for t in terms if reasons[t] is None]
    X = full_X[kept + [t + ":other" for t in kept] + covariates]

    full = None
    if kept:
        try:
            full = fit_clogit(X, case, strata)
        except ClogitError as exc:
            reasons.update({t: f"interaction model not estimable: {exc}" for t in kept})

    lr: dict[str, tuple[float, int, float]] = {}
    if full is not None:
        for k in spec.classes:
            dropped = [t + ":other" for t in kept if split_term(t)[0] == k]
            if not dropped:
                continue
            try:
                reduced = fit_clogit(X.drop(columns=dropped), case, strata)
            except ClogitError:
                continue
            statistic = 2 * (full.loglik - reduced.loglik)
            lr[k] = (statistic, len(dropped), float(stats.chi2.sf(statistic, len(dropped))))

    records = []
    for term in terms:
        drug_class, window = split_term(term)
        rec = {
            **spec.record(),
            "stratified_by": by,
            "modifier_level": level,
            "reference_stratum": reference,
            "other_stratum": other,
            "drug_class": drug_class,
            "window": window,
        }
        if full is None or reasons[term] is not None:
            records.append({**rec, "estimable": False, "reason": reasons[term] or "not estimable"})
            continue
        inter = term + ":other"
        # Reference stratum: b; other stratum: b + g; their ratio: g (the interaction).
        in_reference = full.linear_combination({term: 1.0}, alpha, exp=True)
        in_other = full.linear_combination({term: 1.0, inter: 1.0}, alpha, exp=True)
        ratio = full.linear_combination({inter: 1.0}, alpha, exp=True)
        statistic, df, p = lr.get(drug_class, (np.nan, 0, np.nan))
        records.append(
            {
                **rec,
                "or_reference": float(in_reference["odds_ratio"]),
                "or_reference_lower": float(in_reference["odds_ratio_lower"]),
                "or_reference_upper": float(in_reference["odds_ratio_upper"]),
                "or_other": float(in_other["odds_ratio"]),
                "or_other_lower": float(in_other["odds_ratio_lower"]),
                "or_other_upper": float(in_other["odds_ratio_upper"]),
                "log_ratio_of_ors": float(ratio["estimate"]),
                "se_log_ratio": float(ratio["se"]),
                "ratio_of_ors": float(ratio["odds_ratio"]),
                "ratio_lower": float(ratio["odds_ratio_lower"]),
                "ratio_upper": float(ratio["odds_ratio_upper"]),
                "wald_p": float(ratio["p_value"]),
                "lr_statistic": float(statistic),
                "lr_df": int(df),
                "lr_p": p,
                "estimable": True,
                "reason": "",
            }
        )
    return pd.DataFrame.from_records(records, columns=INTERACTION_TEST_COLUMNS)


#: Columns of :func:`interaction_tests` (documented in :data:`alsmeds.reporting.results.INTERACTION_COLUMNS`).
INTERACTION_TEST_COLUMNS = [
    "comparison",
    "exposure",
    "model",
    "adjustment",
    "stratified_by",
    "modifier_level",
    "reference_stratum",
    "other_stratum",
    "drug_class",
    "window",
    "or_reference",
    "or_reference_lower",
    "or_reference_upper",
    "or_other",
    "or_other_lower",
    "or_other_upper",
    "log_ratio_of_ors",
    "se_log_ratio",
    "ratio_of_ors",
    "ratio_lower",
    "ratio_upper",
    "wald_p",
    "lr_statistic",
    "lr_df",
    "lr_p",
    "estimable",
    "reason",
]


def effect_modification(
    table: pd.DataFrame,
    exposure: str = "lagged",
    age_cutoff: float = 65.0,
    comparisons: tuple[str, ...] = COMPARISONS,
    stratifiers: tuple[str, ...] = STRATIFIERS,
    classes: tuple[str, ...] = CLASSES,
    **covariates: tuple[str, ...],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All per-class stratified fits and interaction tests of the study's subgroup analyses.

    For every comparison, stratifier and class (one class per model, adjusted), the
    pooled estimate, the stratum-specific estimates and the interaction test.
    ``covariates`` (``population_covariates``, ``relative_covariates``) go to
    :class:`~alsmeds.models.risk.RiskModelSpec`.

    Returns
    -------
    (estimates, tests) : tuple of DataFrame
        ``estimates`` stacks pooled (``stratum="all"``) and stratum rows;
        ``tests`` holds one row per term (see :func:`interaction_tests`).
    """
    estimates, tests = [], []
    for comparison in comparisons:
        for k in classes:
            spec = RiskModelSpec(comparison, exposure, (k,), "adjusted", **covariates)
            pooled = fit_risk_model(table, spec).to_frame()
            for by in stratifiers:
                test = interaction_tests(table, spec, by, age_cutoff)
                tests.append(test)
                estimates.append(pooled.assign(stratum="all", stratified_by=by))
                if modifier_level(comparison) == "set":
                    estimates.append(fit_stratified(table, spec, by, age_cutoff))
                else:
                    estimates.append(_strata_from_interaction(pooled, test))
    return pd.concat(estimates, ignore_index=True), pd.concat(tests, ignore_index=True)


def _strata_from_interaction(pooled: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """Stratum rows in the estimates layout, from an interaction model's stratum-specific ORs."""
    rows = []
    for (_, p), (_, t) in zip(pooled.iterrows(), test.iterrows(), strict=True):
        for side in ("reference", "other"):
            rec = p.to_dict()
            rec["stratum"] = t.get(f"{side}_stratum")
            rec["stratified_by"] = t.get("stratified_by")
            # Counts of the pooled model do not describe a stratum.
            rec.update(exposed_cases=np.nan, exposed_controls=np.nan, discordant_sets=np.nan)
            if bool(t.get("estimable", False)):
                rec.update(
                    odds_ratio=t[f"or_{side}"],
                    ci_lower=t[f"or_{side}_lower"],
                    ci_upper=t[f"or_{side}_upper"],
                    log_or=float(np.log(t[f"or_{side}"])),
                    se=np.nan,
                    p_value=np.nan,
                    estimable=True,
                    reason="",
                )
            else:
                rec.update(
                    odds_ratio=np.nan,
                    ci_lower=np.nan,
                    ci_upper=np.nan,
                    log_or=np.nan,
                    se=np.nan,
                    p_value=np.nan,
                    estimable=False,
                    reason=t.get("reason", ""),
                )
            rows.append(rec)
    return pd.DataFrame(rows)
