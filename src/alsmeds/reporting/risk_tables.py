"""Tables of the risk models (notebooks 03 and 04): selections, side-by-side layouts and comparisons.

Every function takes results frames as the analyses write them (``risk_models.csv``,
``sensitivity_analyses.csv``, ``effect_modification.csv``, ``interaction_tests.csv``, read by
:func:`alsmeds.analyses.read_results_file`; the in-memory frames of
:func:`alsmeds.models.risk.fit_standard_models` and :func:`alsmeds.models.stratified.effect_modification`
have the same columns) and, where a planted truth is compared, the typed
:class:`alsmeds.truth.Truth` (``Study.planted_truth``; None for a real extract).  Nothing is
fitted or written here: a table is a view of estimates that exist.

The selection rule is defined once, in :mod:`alsmeds.models.risk` (re-exported here).
:func:`select_estimates` keeps the rows whose columns
equal given values, and :data:`MAIN_MODEL` is the study's main model (population controls,
first use more than a year before the index date, one class per model, adjusted): the
estimates the paper leads with.  :func:`main_estimates` is that selection, with any part of
it changed or dropped (``main_estimates(estimates, comparison=None)``: the main model of
every comparison).

Estimands and assumptions shared by the tables below:

* every odds ratio is conditional on the matched set and the adjustment set
  (:mod:`alsmeds.models.risk`), with a 95% Wald interval on the log scale;
* a **ratio of two odds ratios** (:func:`ratio_of_ratios`) has the interval
  ``exp(log a - log b +/- z_0.975 sqrt(SE_a^2 + SE_b^2))``, which assumes the two estimates are
  independent: true of two studies (ours and the published one), not of two comparisons that
  share their cases (then positively correlated, so the interval is wider than the true one);
* a published standard error is recovered from its 95% CI as
  ``(log upper - log lower) / (2 z_0.975)`` (a symmetric Wald interval on the log scale).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alsmeds.constants import CLASSES, NEGATIVE_CONTROL, WINDOWS, Z_975, Z_DETECTABLE_80
from alsmeds.formatting import format_ratio, rounded
from alsmeds.labels import COMPARISON_NAMES, WINDOW_NAMES
from alsmeds.models.risk import (
    COMPARISONS,
    MAIN_MODEL,
    RESULT_COLUMNS,
    compare_with_published,
    compare_with_truth,
    main_estimates,
    select_estimates,
)
from alsmeds.models.stratified import stratum_levels
from alsmeds.reporting.describe import implied_estimand_table
from alsmeds.reporting.evalue import evalue_frame
from alsmeds.truth import Truth, as_truth, covers


def _estimable(frame: pd.DataFrame) -> pd.Series:
    """True where a term was estimated (a missing flag, as after a left merge, is False)."""
    return frame["estimable"].eq(True)


def _or_ci(frame: pd.DataFrame) -> list[str]:
    return [format_ratio(r.odds_ratio, r.ci_lower, r.ci_upper) for r in frame.itertuples()]


def ratio_of_ratios(
    log_a: Any, se_a: Any, log_b: Any, se_b: Any
) -> tuple[np.ndarray | float, np.ndarray | float, np.ndarray | float]:
    """The ratio of two odds ratios ``a / b`` and its 95% CI, the two estimates taken as independent.

    Parameters
    ----------
    log_a, se_a, log_b, se_b : float or array-like
        The two log odds ratios and their standard errors.

    Returns
    -------
    (ratio, lower, upper)
        ``exp(log_a - log_b)`` and ``exp(log_a - log_b -/+ Z_975 * hypot(se_a, se_b))``.  The
        interval assumes independence (module docstring): for estimates that share their cases
        it is wider than the true one.
    """
    m = np.asarray(log_a, dtype=float) - np.asarray(log_b, dtype=float)
    h = Z_975 * np.hypot(np.asarray(se_a, dtype=float), np.asarray(se_b, dtype=float))
    return np.exp(m), np.exp(m - h), np.exp(m + h)


def se_from_ci(lower: Any, upper: Any) -> Any:
    """Standard error of a log ratio from its 95% CI: ``(log upper - log lower) / (2 Z_975)``."""
    return np.log(np.asarray(upper, dtype=float) / np.asarray(lower, dtype=float)) / (2 * Z_975)


# --------------------------------------------------------------------------- notebook 03: the models


def example_matched_set(
    table: pd.DataFrame, prefer: str = "hypnotics", comparison: str = "population", classes: Sequence[str] = CLASSES
) -> pd.DataFrame:
    """One matched set as the model sees it: the first set whose case used a class before the lag.

    Parameters
    ----------
    table : DataFrame
        The analysis table (``Study.analysis_table``: ``<class>_gt1`` indicators, one row per
        member and comparison).
    prefer : str
        Among the sets whose case used any class more than a year before the index date, the
        first whose case used this class is shown (else the first such set).
    comparison : str
    classes : sequence of str

    Returns
    -------
    DataFrame
        ``set_id``, ``role``, ``case``, ``age``, ``male``, ``psych_history`` and the lagged
        indicators of every member of that set; no rows when no case used a class.
    """
    lagged = [f"{k}_gt1" for k in classes]
    shown = ["set_id", "role", "case", "age", "male", "psych_history", *lagged]
    rows = table[table["comparison"] == comparison]
    exposed = rows[(rows["case"] == 1) & (rows[lagged].sum(axis=1) > 0)]
    exposed = exposed.sort_values(f"{prefer}_gt1", ascending=False, kind="stable")
    if exposed.empty:
        return rows.iloc[0:0][shown]
    return rows[rows["set_id"] == exposed["set_id"].iloc[0]][shown]


def fit_overview(estimates: pd.DataFrame) -> str:
    """How many estimates and models there are, and which terms could not be estimated, and why.

    Returns
    -------
    str
        ``"<n> estimates from <m> models; not estimable: <k>"``, then (when ``k > 0``) the count of
        terms per comparison and reason.
    """
    models = estimates.groupby(["comparison", "exposure", "model", "adjustment"]).ngroups
    missing = estimates[~_estimable(estimates)]
    text = f"{len(estimates)} estimates from {models} models; not estimable: {len(missing)}"
    if len(missing):
        text += "\n" + missing.groupby(["comparison", "reason"]).size().rename("terms").to_string()
    return text


def published_beside_ours(estimates: pd.DataFrame) -> pd.DataFrame:
    """The six published odds ratios beside ours (adjusted, one class per model, population controls).

    Returns
    -------
    DataFrame
        ``drug_class``, ``window``, then the published OR and its limits and ours
        (:func:`alsmeds.models.risk.compare_with_published`) under readable headers.  Ours is
        missing where the term could not be estimated.
    """
    published = compare_with_published(estimates)
    names = {
        "published_or": "Published OR",
        "published_lower": "Published lower",
        "published_upper": "Published upper",
        "odds_ratio": "Our OR",
        "ci_lower": "Our lower",
        "ci_upper": "Our upper",
    }
    return published[["drug_class", "window", *names]].rename(columns=names)


def _published_ratios(estimates: pd.DataFrame) -> pd.DataFrame:
    published = compare_with_published(estimates)
    ratio, lower, upper = ratio_of_ratios(
        np.log(published["odds_ratio"]),
        se_from_ci(published["ci_lower"], published["ci_upper"]),
        np.log(published["published_or"]),
        se_from_ci(published["published_lower"], published["published_upper"]),
    )
    return published.assign(ratio=ratio, ratio_lower=lower, ratio_upper=upper)


def published_ratios(estimates: pd.DataFrame) -> pd.DataFrame:
    """Our odds ratio over the published one, with the 95% CI of the ratio, for each published target.

    Estimand: the ratio of the odds ratio of this data set to the published one.  The published
    SE is recovered from its CI (:func:`se_from_ci`) and the two studies are independent, so
    their variances add (:func:`ratio_of_ratios`).

    Returns
    -------
    DataFrame
        ``drug_class``, ``window``, ``"ratio (ours / published), 95% CI"`` (formatted; "not
        estimable" where our term could not be estimated).
    """
    r = _published_ratios(estimates)
    text = [format_ratio(m, lo, hi) for m, lo, hi in zip(r["ratio"], r["ratio_lower"], r["ratio_upper"], strict=True)]
    return pd.DataFrame(
        {"drug_class": r["drug_class"], "window": r["window"], "ratio (ours / published), 95% CI": text}
    )


def published_ratio_summary(estimates: pd.DataFrame) -> str:
    """How many ratio intervals of :func:`published_ratios` include 1, and how many targets are not estimable here."""
    r = _published_ratios(estimates)
    includes_one = int(covers(r["ratio_lower"], r["ratio_upper"], 1.0).sum())
    not_estimable = int((~_estimable(r)).sum())
    return f"ratio interval includes 1: {includes_one} of {len(r)}; not estimable here: {not_estimable}"


def _by_window(estimates: pd.DataFrame, comparison: str) -> pd.DataFrame:
    windows = main_estimates(estimates, comparison=comparison, exposure="windows")
    by_window = windows.pivot(index="drug_class", columns="window", values="odds_ratio")
    return by_window.reindex(index=list(CLASSES), columns=list(WINDOWS)).rename_axis(columns=None)


def windows_table(estimates: pd.DataFrame, comparison: str = "population") -> pd.DataFrame:
    """Adjusted odds ratios by window of first use (one class per model), and the 0-1 y / >5 y ratio.

    A 0-1 year odds ratio far above the >5 year one is the fingerprint of reverse causation
    (prescribing for the first symptoms of the disease).

    Returns
    -------
    DataFrame
        One row per class (index ``drug_class``): ``OR, <window>`` for each window and
        ``"0-1 y / >5 y"`` (the ratio of the two point estimates).
    """
    by_window = _by_window(estimates, comparison)
    by_window[f"{WINDOW_NAMES['0_1']} / {WINDOW_NAMES['gt5']}"] = by_window["0_1"] / by_window["gt5"]
    return by_window.rename(columns={w: f"OR, {WINDOW_NAMES[w]}" for w in WINDOWS})


def largest_prodromal(estimates: pd.DataFrame, comparison: str = "population") -> str:
    """The class with the largest 0-1 year odds ratio (adjusted, one class per model), as a sentence."""
    prodromal = _by_window(estimates, comparison)["0_1"].dropna()
    if prodromal.empty:
        return "no 0-1 year odds ratio could be estimated"
    return f"largest 0-1 year odds ratio: {prodromal.idxmax()}, {prodromal.max():.1f}"


def or_ci_pivot(
    frame: pd.DataFrame,
    index: str,
    columns: str,
    index_order: Sequence[str] | None = None,
    column_order: Sequence[str] | None = None,
    column_names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """ "OR (95% CI)" of each row of ``frame``, laid out ``index`` by ``columns``.

    Parameters
    ----------
    frame : DataFrame
        Estimates (``odds_ratio``, ``ci_lower``, ``ci_upper``), one per (index, columns) pair.
    index, columns : str
        Columns of ``frame`` that become the rows and the columns of the table.
    index_order, column_order : sequence of str, optional
        Rows and columns in this order (missing ones empty); default as they come.
    column_names : mapping, optional
        Column headers (e.g. :data:`alsmeds.labels.COMPARISON_NAMES`).
    """
    wide = frame.assign(or_ci=_or_ci(frame)).pivot(index=index, columns=columns, values="or_ci")
    if index_order is not None or column_order is not None:
        wide = wide.reindex(index=index_order, columns=column_order)
    return wide.rename_axis(columns=None).rename(columns=dict(column_names or {}))


def lagged_by_comparison(estimates: pd.DataFrame) -> pd.DataFrame:
    """The main model's OR (95% CI) of each class (rows) against each comparison's controls (columns).

    Estimand of each cell: the odds ratio of ALS for first use more than a year before the index
    date, adjusted, conditional on the matched set; for siblings within families, for spouses
    within couples.

    Returns
    -------
    DataFrame
        Index ``drug_class``; columns "Population controls", "Siblings", "Spouses" (formatted;
        "not estimable" where a comparison has no informative set).
    """
    lagged = main_estimates(estimates, comparison=None)
    return or_ci_pivot(lagged, "drug_class", "comparison", list(CLASSES), list(COMPARISONS), COMPARISON_NAMES)


def relative_ratios(estimates: pd.DataFrame) -> pd.DataFrame:
    """Ratio of each relative comparison's main odds ratio to the population one, with a 95% CI.

    Estimand: ``OR_relatives / OR_population`` of the main model.  The interval treats the two
    estimates as independent (:func:`ratio_of_ratios`); they share their cases and are
    positively correlated, so it is wider than the true one.

    Returns
    -------
    DataFrame
        Index ``drug_class``; one column ``"<Relatives> / population"`` per relative comparison
        with both estimates estimable (formatted ratio and CI); empty when there is none.
    """
    lagged = main_estimates(estimates, comparison=None)
    by = lagged[_estimable(lagged)].set_index(["drug_class", "comparison"])
    ratios: dict[str, dict[str, str]] = {}
    for k in CLASSES:
        for other in COMPARISONS[1:]:
            if (k, "population") in by.index and (k, other) in by.index:
                a, b = by.loc[(k, other)], by.loc[(k, "population")]
                ratio = ratio_of_ratios(a["log_or"], a["se"], b["log_or"], b["se"])
                ratios.setdefault(k, {})[f"{COMPARISON_NAMES[other]} / population"] = format_ratio(*ratio)
    return pd.DataFrame(ratios).T.rename_axis("drug_class")


def main_evalues(estimates: pd.DataFrame) -> pd.DataFrame:
    """E-values of the main model's estimates (population controls; the OR read as a risk ratio: ALS is rare).

    Assumes a rare outcome, so that the conditional odds ratio approximates a risk ratio
    (:mod:`alsmeds.reporting.evalue`).

    Returns
    -------
    DataFrame
        ``drug_class``, ``odds_ratio``, ``ci_lower``, ``ci_upper``, ``evalue_estimate`` and
        ``evalue_ci`` (the CI limit nearer 1; 1 when the interval includes 1).
    """
    columns = ["drug_class", "odds_ratio", "ci_lower", "ci_upper", "evalue_estimate", "evalue_ci"]
    return evalue_frame(main_estimates(estimates))[columns]


def minimal_detectable_or(estimates: pd.DataFrame) -> pd.DataFrame:
    """The minimal detectable odds ratio of each main estimate: ``exp(Z_DETECTABLE_80 * SE)``.

    With a standard error ``SE`` of the log odds ratio, a two-sided 5% Wald test detects a true
    log odds ratio of ``(z_0.975 + z_0.80) SE`` with 80% power (the normal approximation).

    Returns
    -------
    DataFrame
        ``drug_class``, ``SE of log OR``, ``discordant_sets``, ``Minimal detectable OR``.
    """
    main = main_estimates(estimates)
    detectable = np.exp(Z_DETECTABLE_80 * main["se"])
    power = main[["drug_class", "se", "discordant_sets"]].assign(minimal_detectable_or=detectable)
    return power.rename(columns={"se": "SE of log OR", "minimal_detectable_or": "Minimal detectable OR"})


# --------------------------------------------------------------------------- notebook 03: the planted truth


def planted_estimands(
    truth: Truth | Mapping[str, Any] | None, model: str = "mutual_windows", comparisons: Sequence[str] = COMPARISONS
) -> pd.DataFrame | None:
    """The implied estimands of one model of every comparison, stacked (what each comparison estimates).

    Parameters
    ----------
    truth : Truth, dict or None
        ``Study.planted_truth``; None for a real extract.
    model : str
        The model's key after the comparison in ``truth.json`` (``mutual_windows``, ``per_class``).
    comparisons : sequence of str

    Returns
    -------
    DataFrame or None
        :func:`alsmeds.reporting.describe.implied_estimand_table` of ``<comparison>_<model>`` with a
        ``comparison`` column, for the comparisons the truth has; None without a truth or
        without these estimands.
    """
    truth = as_truth(truth)
    if truth is None:
        return None
    keys = [(c, f"{c}_{model}") for c in comparisons if f"{c}_{model}" in truth.implied_models]
    if not keys:
        return None
    return pd.concat([implied_estimand_table(truth, key).assign(comparison=c) for c, key in keys])


def coverage_by_comparison(estimates: pd.DataFrame, planted: pd.DataFrame) -> pd.DataFrame:
    """How many planted estimands of the mutually adjusted windows lie inside our 95% CIs, per comparison.

    Parameters
    ----------
    estimates : DataFrame
        The risk models' estimates (the ``mutual`` ``windows`` rows are used).
    planted : DataFrame
        :func:`planted_estimands` of ``mutual_windows``.

    Returns
    -------
    DataFrame
        ``comparison``, ``terms`` (estimable terms with an estimand), ``inside 95% CI`` and
        ``mean z`` (the mean of :func:`alsmeds.truth.distance_z`, two decimals; about 0 when the
        estimator is unbiased for its comparison's estimand).  With a 95% CI about one term in
        twenty falls outside by chance.
    """
    mutual = select_estimates(estimates, model="mutual", exposure="windows")
    rows = []
    for comparison in COMPARISONS:
        ours = mutual[(mutual["comparison"] == comparison) & _estimable(mutual)]
        merged = compare_with_truth(ours, planted[planted["comparison"] == comparison])
        rows.append(
            {
                "comparison": comparison,
                "terms": len(merged),
                "inside 95% CI": int(merged["ci_covers_truth"].sum()),
                "mean z": rounded(merged["z"].mean(), 2) if len(merged) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def negative_control_table(negative: pd.DataFrame) -> pd.DataFrame:
    """The negative control's estimates, their distance from the null and, with a truth, from the implied estimand.

    Parameters
    ----------
    negative : DataFrame
        :func:`alsmeds.analyses.sensitivity.negative_control_vs_truth` of the rows to show.

    Returns
    -------
    DataFrame
        ``comparison``, OR and CI, ``z from the null (OR 1)`` and, when any implied estimand is
        known, ``Implied estimand (OR)`` and ``z from the implied estimand``.
    """
    has_implied = negative["implied_or"].notna().any()
    shown = ["comparison", "odds_ratio", "ci_lower", "ci_upper", "z_null"]
    shown += ["implied_or", "z_implied"] if has_implied else []
    names = {
        "z_null": "z from the null (OR 1)",
        "implied_or": "Implied estimand (OR)",
        "z_implied": "z from the implied estimand",
    }
    return negative[shown].rename(columns=names)


def implied_negative_control(negative: pd.DataFrame) -> pd.DataFrame | None:
    """The negative control's implied estimands as a ``truth`` frame of :func:`alsmeds.plots.forest.plot_forest`.

    Returns ``comparison``, ``drug_class``, ``window``, ``odds_ratio``; None when none is known.
    """
    implied = negative.assign(odds_ratio=negative["implied_or"])[["comparison", "drug_class", "window", "odds_ratio"]]
    implied = implied.dropna(subset=["odds_ratio"])
    return implied if len(implied) else None


def with_negative_control(estimates: pd.DataFrame, sensitivity: pd.DataFrame) -> pd.DataFrame:
    """The risk models' estimates and the negative control's (``sensitivity_analyses``), in one frame.

    Returns
    -------
    DataFrame
        :data:`alsmeds.models.risk.RESULT_COLUMNS`: the rows of ``estimates``, then the rows of
        the sensitivity analysis ``negative_control``.
    """
    negative = select_estimates(sensitivity, analysis="negative_control")[RESULT_COLUMNS]
    return pd.concat([estimates[RESULT_COLUMNS], negative], ignore_index=True)


def planted_sibling_removal(
    truth: Truth | Mapping[str, Any] | None, classes: Sequence[str] = CLASSES
) -> pd.DataFrame | None:
    """What the sibling comparison removes, planted: the lagged estimands of one-class models, by comparison.

    Estimand: the implied odds ratio of the lagged exposure (adjusted, one class per model) that
    population and sibling controls estimate under the generator, and their ratio (what holding
    the familial factor fixed removes), for the study classes and the negative control.

    Returns
    -------
    DataFrame or None
        Index ``drug_class`` (the classes, then the negative control): ``planted OR, population``,
        ``planted OR, siblings``, ``population / siblings``; None without a truth or without
        these estimands.
    """
    truth = as_truth(truth)
    needed = ("population_per_class", "sibling_per_class")
    if truth is None or not set(needed) <= set(truth.implied_models):
        return None
    planted = {}
    for comparison in ("population", "sibling"):
        table = implied_estimand_table(truth, f"{comparison}_per_class")
        log_or = table[table["window"] == "gt1"].set_index("drug_class")["log_or"]
        if "adjusted" in truth.negative_control_comparisons.get(comparison, []):
            terms = truth.negative_control_implied(comparison, "adjusted")
            if f"{NEGATIVE_CONTROL}_gt1" in terms:
                log_or[NEGATIVE_CONTROL] = terms[f"{NEGATIVE_CONTROL}_gt1"].value
        planted[comparison] = log_or
    removed = pd.DataFrame(
        {
            "planted OR, population": np.exp(planted["population"]),
            "planted OR, siblings": np.exp(planted["sibling"]),
            "population / siblings": np.exp(planted["population"] - planted["sibling"]),
        }
    )
    return removed.reindex([*classes, NEGATIVE_CONTROL]).rename_axis("drug_class")


# --------------------------------------------------------------------------- notebook 03: sensitivity analyses


def lag_variants(sensitivity: pd.DataFrame, main_lag: int, comparison: str = "population") -> pd.DataFrame:
    """The lag and lagged-covariate sensitivity analyses of one comparison, each row named by its analysis choice.

    Parameters
    ----------
    sensitivity : DataFrame
        ``sensitivity_analyses.csv`` (:func:`alsmeds.analyses.risk.sensitivity_analyses`).
    main_lag : int
        The study's lag (``Study.rules.lag_years``): its rows are named "main: <L>-year lag".
    comparison : str

    Returns
    -------
    DataFrame
        The rows of the ``exposure_lag`` analysis (by lag), then of the ``psychiatric_history_lag``
        analysis, with a ``variant`` column: "main: 1-year lag", "2-year lag", "psychiatric
        history also lagged 1 year".
    """
    rows = select_estimates(sensitivity, comparison=comparison)
    parts = []
    lags = select_estimates(rows, analysis="exposure_lag")
    for lag in dict.fromkeys(lags["lag_years"]):
        name = f"main: {lag}-year lag" if lag == main_lag else f"{lag}-year lag"
        parts.append(lags[lags["lag_years"] == lag].assign(variant=name))
    psych = select_estimates(rows, analysis="psychiatric_history_lag")
    for lag in dict.fromkeys(psych["psychiatric_history_lag_years"]):
        name = f"psychiatric history also lagged {lag} year{'' if lag == 1 else 's'}"
        parts.append(psych[psych["psychiatric_history_lag_years"] == lag].assign(variant=name))
    if not parts:
        return rows.iloc[0:0].assign(variant=pd.Series(dtype=object))
    return pd.concat(parts, ignore_index=True)


def exposed_cases_by_variant(variants: pd.DataFrame) -> pd.DataFrame:
    """Exposed cases of each class (rows, the negative control last) under each analysis choice (columns).

    Parameters
    ----------
    variants : DataFrame
        :func:`lag_variants`.

    Returns
    -------
    DataFrame
        Index ``drug_class``; one column per ``variant``, in their order.
    """
    wide = variants.pivot(index="drug_class", columns="variant", values="exposed_cases")
    order = list(dict.fromkeys(variants["variant"]))
    return wide.reindex(index=[*CLASSES, NEGATIVE_CONTROL], columns=order).rename_axis(columns=None)


def by_lag_table(by_lag: pd.DataFrame, classes: Sequence[str] = CLASSES) -> pd.DataFrame:
    """OR (95% CI) and exposed cases of each class under each lag, side by side.

    Parameters
    ----------
    by_lag : DataFrame
        :func:`alsmeds.analyses.sensitivity.fit_lag_sensitivity` of one comparison.

    Returns
    -------
    DataFrame
        Index ``drug_class``; per lag ``"<L>-year lag: OR (95% CI)"`` and ``"<L>-year lag: exposed cases"``.
    """
    side: dict[str, Any] = {}
    for lag, rows in by_lag.groupby("lag_years"):
        rows = rows.set_index("drug_class").reindex(list(classes))
        side[f"{lag}-year lag: OR (95% CI)"] = _or_ci(rows)
        side[f"{lag}-year lag: exposed cases"] = rows["exposed_cases"].to_numpy()
    return pd.DataFrame(side, index=pd.Index(list(classes), name="drug_class"))


def familial_factor_table(fits: pd.DataFrame) -> pd.DataFrame:
    """OR (95% CI) of the familial-factor experiment: one row per simulation, one column per comparison.

    Parameters
    ----------
    fits : DataFrame
        :func:`alsmeds.analyses.experiments.familial_factor_experiment` (``familial factor`` "on"
        or "off", then the risk models' columns).

    Returns
    -------
    DataFrame
        Rows "familial factor on" and "familial factor off"; columns the comparisons' names.
    """
    named = fits.assign(simulation="familial factor " + fits["familial factor"].astype(str))
    rows = [f"familial factor {state}" for state in dict.fromkeys(fits["familial factor"])]
    columns = [c for c in COMPARISONS if c in set(fits["comparison"])]
    return or_ci_pivot(named, "simulation", "comparison", rows, columns, COMPARISON_NAMES).rename_axis(index=None)


# --------------------------------------------------------------------------- notebook 04: subgroups


def age_strata(age_cutoff: float) -> tuple[str, str]:
    """The labels of the younger and the older stratum (``"<65"``, ``"65+"``), as the models name them."""
    old, young = stratum_levels("age", age_cutoff)
    return young, old


def cases_by_age(table: pd.DataFrame, age_cutoff: float) -> tuple[int, int]:
    """Cases of the population comparison younger than ``age_cutoff`` at the index date, and the others.

    Parameters
    ----------
    table : DataFrame
        The analysis table (``comparison``, ``case``, ``age`` at the index date).
    age_cutoff : float

    Returns
    -------
    (int, int)
        Cases under the cut-off, cases at or over it.
    """
    cases = table[(table["comparison"] == "population") & (table["case"] == 1)]
    return int((cases["age"] < age_cutoff).sum()), int((cases["age"] >= age_cutoff).sum())


def stratum_sizes(table: pd.DataFrame, age_cutoff: float, exposure: str) -> str:
    """The cases of the population comparison in each age stratum, and the exposure coding, as a sentence."""
    young, old = cases_by_age(table, age_cutoff)
    return f"cases under {age_cutoff}: {young}; {age_cutoff} or older: {old}; exposure: {exposure}"


def age_table(estimates: pd.DataFrame, age_cutoff: float) -> pd.DataFrame:
    """Odds ratios of every comparison and class: all ages, and each age stratum.

    Parameters
    ----------
    estimates : DataFrame
        ``effect_modification.csv`` (or :func:`alsmeds.models.stratified.effect_modification`).
    age_cutoff : float
        The cut-off the estimates were stratified at.

    Returns
    -------
    DataFrame
        Index (``comparison``, ``drug_class``); ``OR, all ages``, ``OR, aged <c``, ``OR, aged c+``.
        For population controls the strata hold whole sets (the case's age); for relatives the
        stratum ORs come from the interaction model (each member's own age).
    """
    young, old = age_strata(age_cutoff)
    age = select_estimates(estimates, stratified_by="age")
    summary = age.pivot(index=["comparison", "drug_class"], columns="stratum", values="odds_ratio")
    rows = pd.MultiIndex.from_product([COMPARISONS, CLASSES], names=["comparison", "drug_class"])
    names = {"all": "OR, all ages", young: f"OR, aged {young}", old: f"OR, aged {old}"}
    return summary.reindex(index=rows, columns=list(names)).rename_axis(columns=None).rename(columns=names)


def not_estimable_note(frame: pd.DataFrame, by: Sequence[str], **where: Any) -> str:
    """``"not estimable:"`` and the count of terms per ``by`` group that could not be estimated; "" when none.

    ``where`` selects the rows first (:func:`select_estimates`), e.g. ``stratified_by="age"``.
    """
    rows = select_estimates(frame, **where)
    missing = rows[~_estimable(rows)]
    if missing.empty:
        return ""
    return "not estimable:\n" + missing.groupby(list(by)).size().rename("terms").to_string()


def interaction_table(tests: pd.DataFrame, by: str, age_cutoff: float = 65.0) -> pd.DataFrame:
    """The estimable interaction tests of one stratifier, with readable headers.

    Parameters
    ----------
    tests : DataFrame
        ``interaction_tests.csv`` (:func:`alsmeds.models.stratified.interaction_tests`).
    by : {"age", "sex"}
    age_cutoff : float
        For the headers of the age strata.

    Returns
    -------
    DataFrame
        Age: the two stratum ORs of one model, their ratio (younger over older) with its CI, the
        Wald and likelihood-ratio p-values.  Sex: whose sex (the case's or each member's own),
        the ORs of women and men, their ratio and the Wald p-value.
    """
    shown = select_estimates(tests, stratified_by=by)
    shown = shown[_estimable(shown)]
    if by == "age":
        young, old = age_strata(age_cutoff)
        names = {
            "or_reference": f"OR {old}",
            "or_other": f"OR {young}",
            "ratio_of_ors": f"Ratio of ORs ({young}/{old})",
            "ratio_lower": "Ratio lower",
            "ratio_upper": "Ratio upper",
            "wald_p": "Wald p",
            "lr_p": "LR p",
        }
    else:
        names = {
            "modifier_level": "Sex of",
            "or_reference": "OR women",
            "or_other": "OR men",
            "ratio_of_ors": "Ratio of ORs (men/women)",
            "wald_p": "Wald p",
        }
    return shown[["comparison", "drug_class", *names]].rename(columns=names)


#: The sentence of :func:`interaction_summary` per stratifier: (p-value threshold, template).
_CHANCE_SENTENCES = {
    "age": (
        0.05,
        "{small} of {n} age-interaction tests have a Wald p-value below {threshold:g} "
        "(with no age difference at all about {expected:.1f} would by chance)",
    ),
    "sex": (
        0.10,
        "{small} of {n} sex-interaction p-values are below {threshold:.2f}; "
        "about {expected:.1f} would be by chance if men and women did not differ",
    ),
}


def interaction_summary(tests: pd.DataFrame, by: str) -> str:
    """The tests that could not be done, and how many Wald p-values are small beside how many chance gives.

    With no effect modification at all, a share ``threshold`` of independent tests falls below
    ``threshold`` by chance (0.05 for age, 0.10 for sex).

    Returns
    -------
    str
        One line ``"<comparison> <class>: not estimable (<reason>)"`` per test that could not be
        done, then the count sentence.
    """
    rows = select_estimates(tests, stratified_by=by)
    lines = [f"{r.comparison} {r.drug_class}: not estimable ({r.reason})" for r in rows[~_estimable(rows)].itertuples()]
    shown = rows[_estimable(rows)]
    threshold, template = _CHANCE_SENTENCES[by]
    small = int((shown["wald_p"] < threshold).sum())
    lines.append(template.format(small=small, n=len(shown), threshold=threshold, expected=threshold * len(shown)))
    return "\n".join(lines)


def _planted_age_cutoff(truth: Truth) -> float | None:
    cutoff = (truth.parameters.get("risk") or {}).get("age_cutoff")
    return None if cutoff is None else float(cutoff)


def age_interaction_power(
    tests: pd.DataFrame, truth: Truth | Mapping[str, Any] | None, age_cutoff: float
) -> pd.DataFrame | None:
    """The planted age difference of the population comparison and the power of this run's test to detect it.

    Estimand: the ratio of the implied odds ratios of the lagged exposure (one class per model,
    adjusted) under and over the planted age cut-off, population controls.  The power is that
    of a two-sided 5% Wald test with this run's standard error of the log ratio, under the
    normal approximation: ``Phi(|d|/SE - z) + Phi(-|d|/SE - z)``, ``z = Z_975``.

    Returns
    -------
    DataFrame or None
        ``drug_class``, ``planted ratio of ORs (<c/c+)``, ``SE of the log ratio, this run``,
        ``approximate power``; None without a truth, at a cut-off other than the planted one,
        or without an estimable lagged population test.
    """
    truth = as_truth(truth)
    young, old = age_strata(age_cutoff)
    needed = {"population_per_class_under_65", "population_per_class_65_plus"}
    if truth is None or _planted_age_cutoff(truth) != float(age_cutoff) or not needed <= set(truth.implied_models):
        return None
    population = select_estimates(tests, comparison="population", stratified_by="age", window="gt1")
    population = population[_estimable(population)]
    if population.empty:
        return None
    rows = []
    for r in population.itertuples():
        term = f"{r.drug_class}_gt1"
        planted = (
            truth.implied_log_or("population_per_class_under_65", term).value
            - truth.implied_log_or("population_per_class_65_plus", term).value
        )
        se = r.se_log_ratio
        power = stats.norm.cdf(abs(planted) / se - Z_975) + stats.norm.cdf(-abs(planted) / se - Z_975)
        rows.append(
            {
                "drug_class": r.drug_class,
                f"planted ratio of ORs ({young}/{old})": np.exp(planted),
                "SE of the log ratio, this run": se,
                "approximate power": power,
            }
        )
    return pd.DataFrame(rows)


def planted_age_strata(truth: Truth | Mapping[str, Any] | None, age_cutoff: float) -> pd.DataFrame | None:
    """The planted estimands of the mutually adjusted windows in each age stratum (population controls).

    Returns
    -------
    DataFrame or None
        :func:`alsmeds.reporting.describe.implied_estimand_table` of both strata with a
        ``stratum`` column (``"<65"``, ``"65+"``); None without a truth or at a cut-off other
        than the planted one.
    """
    truth = as_truth(truth)
    keys = {"population_mutual_windows_under_65", "population_mutual_windows_65_plus"}
    if truth is None or _planted_age_cutoff(truth) != float(age_cutoff) or not keys <= set(truth.implied_models):
        return None
    young, old = age_strata(age_cutoff)
    return pd.concat(
        [
            implied_estimand_table(truth, "population_mutual_windows_under_65").assign(stratum=young),
            implied_estimand_table(truth, "population_mutual_windows_65_plus").assign(stratum=old),
        ]
    )


def cutoff_table(tests: pd.DataFrame) -> pd.DataFrame:
    """The age interaction at several cut-offs (``cut-off`` and ``cases under`` columns added to the tests).

    Returns
    -------
    DataFrame
        ``cut-off``, ``cases under``, ``drug_class``, the OR (95% CI) under and at or over the
        cut-off, the ratio of ORs and the likelihood-ratio p-value.
    """
    return pd.DataFrame(
        {
            "cut-off": tests["cut-off"],
            "cases under": tests["cases under"],
            "drug_class": tests["drug_class"],
            "OR under (95% CI)": [
                format_ratio(r.or_other, r.or_other_lower, r.or_other_upper) for r in tests.itertuples()
            ],
            "OR at or over (95% CI)": [
                format_ratio(r.or_reference, r.or_reference_lower, r.or_reference_upper) for r in tests.itertuples()
            ],
            "ratio of ORs": tests["ratio_of_ors"],
            "LR p": tests["lr_p"],
        }
    ).reset_index(drop=True)


__all__ = [
    "MAIN_MODEL",
    "age_interaction_power",
    "age_strata",
    "age_table",
    "by_lag_table",
    "cases_by_age",
    "coverage_by_comparison",
    "cutoff_table",
    "example_matched_set",
    "exposed_cases_by_variant",
    "familial_factor_table",
    "fit_overview",
    "implied_negative_control",
    "interaction_summary",
    "interaction_table",
    "lag_variants",
    "lagged_by_comparison",
    "largest_prodromal",
    "main_estimates",
    "main_evalues",
    "minimal_detectable_or",
    "negative_control_table",
    "not_estimable_note",
    "or_ci_pivot",
    "planted_age_strata",
    "planted_estimands",
    "planted_sibling_removal",
    "published_beside_ours",
    "published_ratio_summary",
    "published_ratios",
    "ratio_of_ratios",
    "relative_ratios",
    "se_from_ci",
    "select_estimates",
    "stratum_sizes",
    "windows_table",
    "with_negative_control",
]
