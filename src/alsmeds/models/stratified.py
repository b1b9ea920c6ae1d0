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
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..constants import CLASSES
from .clogit import ClogitError, fit_clogit
from .design import covariate_matrix, drop_constant_within_sets
from .risk import RiskModelSpec, comparison_rows, exposure_matrix, fit_risk_model

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
        est = fit_risk_model(rows[strata == level], spec).to_frame()
        frames.append(est.assign(stratum=level, stratified_by=by))
    return pd.concat(frames, ignore_index=True)


def interaction_design(
    table: pd.DataFrame, spec: RiskModelSpec, by: str = "age", age_cutoff: float = 65.0
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Design of the exposure x stratum interaction model: (X, case, strata).

    Columns: the exposure terms (effects in the reference stratum), the same terms with
    suffix ``:other`` (multiplied by the indicator of the other stratum: the case's for
    population sets, each member's own for relatives) and the covariates that vary
    within some set.
    """
    rows = comparison_rows(table, spec.comparison)
    _, other = stratum_levels(by, age_cutoff)
    level = modifier_level(spec.comparison)
    labels = stratum_of_set(rows, by, age_cutoff) if level == "set" else stratum_of_member(rows, by, age_cutoff)
    in_other = (labels == other).to_numpy().astype(float)
    X_exp = exposure_matrix(rows, spec)
    X_int = X_exp.mul(in_other, axis=0).add_suffix(":other")
    case = rows["case"].to_numpy().astype(bool)
    strata = rows["set_id"].to_numpy()
    X_cov = covariate_matrix(rows, spec.covariates())
    if len(X_cov.columns):
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
    X_exp = exposure_matrix(comparison_rows(table, spec.comparison), spec)
    X_int = full_X[[c + ":other" for c in X_exp.columns]]
    reference, other = stratum_levels(by, age_cutoff)
    level = modifier_level(spec.comparison)
    z = stats.norm.ppf(1 - alpha / 2)
    try:
        full = fit_clogit(full_X, case, strata)
    except ClogitError as exc:
        failed = []
        for term in X_exp.columns:
            drug_class = next(k for k in CLASSES if term.startswith(k + "_"))
            failed.append(
                {
                    "drug_class": drug_class,
                    "window": term[len(drug_class) + 1 :],
                    "term": term,
                    "estimable": False,
                    "reason": f"interaction model not estimable: {exc}",
                }
            )
        return pd.DataFrame(failed).assign(comparison=spec.comparison, stratified_by=by, modifier_level=level)

    lr = {}
    for k in spec.classes:
        dropped = [c for c in X_int.columns if c.startswith(k + "_")]
        reduced = fit_clogit(full_X.drop(columns=dropped), case, strata)
        statistic = 2 * (full.loglik - reduced.loglik)
        lr[k] = (statistic, len(dropped), float(stats.chi2.sf(statistic, len(dropped))))

    records = []
    for term in X_exp.columns:
        inter = term + ":other"
        b, g = full.params[term], full.params[inter]
        var_b, var_g, cov_bg = full.cov.loc[term, term], full.cov.loc[inter, inter], full.cov.loc[term, inter]
        se_b, se_g, se_sum = np.sqrt(var_b), np.sqrt(var_g), np.sqrt(var_b + var_g + 2 * cov_bg)
        drug_class = next(k for k in CLASSES if term.startswith(k + "_"))
        statistic, df, p = lr[drug_class]
        records.append(
            {
                "comparison": spec.comparison,
                "exposure": spec.exposure,
                "model": "mutual" if len(spec.classes) > 1 else "per_class",
                "adjustment": spec.adjustment,
                "stratified_by": by,
                "modifier_level": level,
                "reference_stratum": reference,
                "other_stratum": other,
                "drug_class": drug_class,
                "window": term[len(drug_class) + 1 :],
                "or_reference": float(np.exp(b)),
                "or_reference_lower": float(np.exp(b - z * se_b)),
                "or_reference_upper": float(np.exp(b + z * se_b)),
                "or_other": float(np.exp(b + g)),
                "or_other_lower": float(np.exp(b + g - z * se_sum)),
                "or_other_upper": float(np.exp(b + g + z * se_sum)),
                "log_ratio_of_ors": float(g),
                "se_log_ratio": float(se_g),
                "ratio_of_ors": float(np.exp(g)),
                "ratio_lower": float(np.exp(g - z * se_g)),
                "ratio_upper": float(np.exp(g + z * se_g)),
                "wald_p": float(2 * stats.norm.sf(abs(g / se_g))),
                "lr_statistic": float(statistic),
                "lr_df": int(df),
                "lr_p": p,
                "estimable": True,
                "reason": "",
            }
        )
    return pd.DataFrame.from_records(records)


def effect_modification(
    table: pd.DataFrame,
    exposure: str = "lagged",
    age_cutoff: float = 65.0,
    comparisons: tuple[str, ...] = ("population", "sibling", "spouse"),
    stratifiers: tuple[str, ...] = STRATIFIERS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All per-class stratified fits and interaction tests of the study's subgroup analyses.

    For every comparison, stratifier and class (one class per model, adjusted), the
    pooled estimate, the stratum-specific estimates and the interaction test.

    Returns
    -------
    (estimates, tests) : tuple of DataFrame
        ``estimates`` stacks pooled (``stratum="all"``) and stratum rows;
        ``tests`` holds one row per term (see :func:`interaction_tests`).
    """
    estimates, tests = [], []
    for comparison in comparisons:
        for k in CLASSES:
            spec = RiskModelSpec(comparison, exposure, (k,), "adjusted")
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
