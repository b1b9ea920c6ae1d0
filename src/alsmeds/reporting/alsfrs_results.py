"""What notebook 06 shows of ALSFRS-R decline: tables and sentences from the mixed model's results file.

The estimates are those of ``results/alsfrs_mixed_model.csv`` (written by
:func:`alsmeds.analyses.alsfrs.alsfrs_mixed_model`, read with
:func:`alsmeds.analyses.read_results_file`: rows in the layout of
:data:`alsmeds.models.mixed.MIXED_MODEL_RESULT_COLUMNS`).  The main model is the rows with
``model == "random_intercept_slope"`` and ``method == "REML"``: a linear mixed model of the
ALSFRS-R total with a random intercept and slope per patient, whose ``months`` fixed
effect is the mean slope (points per month) of patients who used none of the classes
and whose ``<class>:months`` effects are the slope differences of users.  Every function
here takes that frame (as written, or as read back: a missing ``reason`` may be an empty
string or missing) and formats it; none fits the main model again.

Also here: the comparisons of the estimates with the planted truth of synthetic data
(:class:`alsmeds.truth.Truth`; a real extract has none and the functions say so), the
sentences under the descriptive tables (visits, the patients' own slopes by how
follow-up ended, the dropout scenarios) and the try-this table of model variants.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from alsmeds.formatting import fixed, format_p, percent, signed
from alsmeds.models.mixed import (
    VARIANCE_COMPONENT_LABELS,
    AlsfrsMixedModel,
    MixedModelError,
    fixed_effect_label,
)
from alsmeds.reporting.display import Table, show_table
from alsmeds.simulate.dropout import planted_trajectory_shares
from alsmeds.truth import Truth, covers

__all__ = [
    "DROPOUT_TERMS",
    "dropout_bias_frame",
    "dropout_bias_text",
    "dropout_target_text",
    "fit_text",
    "fixed_effects_frame",
    "followup_slopes_text",
    "main_model_rows",
    "mixed_model_tables",
    "planted_lines_text",
    "planted_mean_lines",
    "planted_slope_tables",
    "planted_slopes_frame",
    "planted_variance_text",
    "random_effects_frame",
    "random_effects_text",
    "residual_text",
    "results_file_text",
    "selection_text",
    "slope_tables",
    "slope_variants",
    "slopes_frame",
    "slopes_text",
    "variance_components",
    "variance_components_frame",
    "visits_text",
]

#: The main model's name and method in the results file.
MAIN_MODEL = ("random_intercept_slope", "REML")
#: Slope terms of the dropout scenarios notebook 06 reads, with their names in the text.
DROPOUT_TERMS = {"months": "reference slope", "antidepressants:months": "antidepressant difference"}
#: Readable headers of the random-effects comparison (:func:`random_effects_frame`).
_COMPARISON_HEADERS = {
    "log_likelihood": "log-likelihood",
    "n_params": "parameters",
    "aic": "AIC",
    "bic": "BIC",
    "residual_sd": "residual SD",
}
_COMPARISON_MODELS = {
    "random_intercept": "random intercept only",
    "random_intercept_slope": "random intercept and slope",
}
_NO_MODEL = "the mixed model cannot be fitted to these data"


# --------------------------------------------------------------------------- the visits


def selection_text(data: pd.DataFrame) -> str:
    """The counts of the visit selection (``data.attrs["selection"]``), one aligned line each.

    Parameters
    ----------
    data : DataFrame
        ALSFRS-R visits (:attr:`alsmeds.Study.alsfrs_data`), whose ``attrs["selection"]``
        counts the visits read, merged, dropped by each rule and kept.
    """
    return "\n".join(f"{name:28} {count:>7,}" for name, count in data.attrs.get("selection", {}).items())


def visits_text(visits: pd.DataFrame, exposure: str = "antidepressants") -> str:
    """Two sentences under the visits table: visits, their spacing, the score at diagnosis, follow-up by use.

    Parameters
    ----------
    visits : DataFrame
        :func:`alsmeds.derive.alsfrs.describe_visits` with ``by=exposure`` (columns ``all``,
        ``non-users``, ``users``).
    exposure : str
        The class that splits the columns (named in the text).
    """
    v = visits["all"]
    lines = [
        f"{v['visits per patient, mean']:.1f} visits per patient on average, a median of "
        f"{v['days between visits, median']:.0f} days apart; score at diagnosis {v['score at diagnosis, mean']:.1f} "
        f"(published {v['score at diagnosis, published mean']})"
    ]
    if "users" in visits and visits.loc["patients", "users"] and visits.loc["patients", "non-users"]:
        followup = visits.loc["months of follow-up, median"]
        lines.append(
            f"median follow-up {followup['non-users']:.1f} months for non-users and {followup['users']:.1f} for users "
            f"of {exposure}"
        )
    else:
        lines.append(f"no comparison of {exposure.removesuffix('s')} users and non-users: one group is empty")
    return "\n".join(lines)


def planted_lines_text(people: pd.DataFrame | None, data: pd.DataFrame) -> str:
    """How many planted lines are unlike ALS (synthetic data), and the largest rise between recorded visits.

    Parameters
    ----------
    people : DataFrame or None
        The generator's answer key (``truth_people.csv``, :attr:`alsmeds.Study.truth_people`);
        None for a real extract, which has no true lines (the text says so).
    data : DataFrame
        ALSFRS-R visits: the largest rise from a patient's first to last recorded score.
    """
    if people is None:
        return "a real extract: no generator and no true lines"
    unlike_als = planted_trajectory_shares(people)  # each case's true intercept and slope
    lines = [
        f"true slope above zero (the patient improves): {percent(unlike_als.loc['rising', 'share'], 1)} of "
        f"{unlike_als.attrs['n']:,} simulated patients; true score at diagnosis above 48: "
        f"{percent(unlike_als.loc['above_48_at_diagnosis', 'share'], 1)}"
    ]
    ends = data.sort_values(["person_id", "months"]).groupby("person_id")["score"].agg(["first", "last"])
    if len(ends):
        rise = ends["last"] - ends["first"]
        riser = ends.loc[rise.idxmax()]
        lines.append(
            f"largest rise from a patient's first to last recorded visit: {int(rise.max())} points "
            f"({int(riser['first'])} to {int(riser['last'])})"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- the main model


def main_model_rows(estimates: pd.DataFrame, kind: str | None = None) -> pd.DataFrame:
    """The rows of the main model (random intercept and slope, REML), optionally of one ``kind``.

    Parameters
    ----------
    estimates : DataFrame
        The mixed model's results (``alsfrs_mixed_model.csv``).
    kind : str, optional
        ``fixed_effect``, ``slope``, ``variance_component`` or ``fit_statistic``.

    Returns
    -------
    DataFrame
        A copy; ``reason`` as text (empty when estimable), ``estimable`` as bool.
    """
    rows = estimates[(estimates["model"] == MAIN_MODEL[0]) & (estimates["method"] == MAIN_MODEL[1])]
    if kind is not None:
        rows = rows[rows["kind"] == kind]
    rows = rows.copy()
    rows["reason"] = rows["reason"].fillna("").astype(str)
    rows["estimable"] = rows["estimable"].astype(bool)
    return rows


def _fitted(estimates: pd.DataFrame) -> bool:
    """Whether the main model was fitted (not every row not estimable)."""
    return bool(main_model_rows(estimates)["estimable"].any())


def _failure_reason(estimates: pd.DataFrame) -> str:
    reasons = main_model_rows(estimates)["reason"]
    return str(reasons.iloc[0]) if len(reasons) else "no rows of the main model"


def fit_text(estimates: pd.DataFrame, converged: bool) -> str:
    """What was fitted: visits, patients and convergence, the terms left out; or why nothing could be.

    Parameters
    ----------
    estimates : DataFrame
        The mixed model's results.
    converged : bool
        Whether the optimiser converged (``AlsfrsMixedResult.converged``: not in the results file).
    """
    if not _fitted(estimates):
        return f"{_NO_MODEL}: {_failure_reason(estimates)}"
    rows = main_model_rows(estimates)
    lines = [
        f"REML fit on {int(rows['n_obs'].iloc[0]):,} visits of {int(rows['n_patients'].iloc[0]):,} patients; "
        f"converged: {'yes' if converged else 'NO'}"
    ]
    left_out = rows[(rows["kind"] == "fixed_effect") & ~rows["estimable"]]
    lines += [f"not estimable, left out: {r.term} ({r.reason})" for r in left_out.itertuples()]
    return "\n".join(lines)


def fixed_effects_frame(estimates: pd.DataFrame) -> pd.DataFrame:
    """The estimated fixed effects for people: readable names, Wald CIs and a formatted p-value.

    Returns
    -------
    DataFrame
        Indexed by :func:`~alsmeds.models.mixed.fixed_effect_label` ("fixed effect"):
        ``estimate``, ``se``, ``ci_lower``, ``ci_upper``, ``p_value`` (text,
        :func:`~alsmeds.formatting.format_p`) and ``unit``; the model's order.
    """
    rows = main_model_rows(estimates, "fixed_effect")
    rows = rows[rows["estimable"]]
    out = rows[["estimate", "se", "ci_lower", "ci_upper", "p_value", "unit"]].copy()
    out["p_value"] = out["p_value"].map(format_p)
    out.index = pd.Index([fixed_effect_label(t) for t in rows["term"]], name="fixed effect")
    return out


def variance_components(estimates: pd.DataFrame) -> pd.Series:
    """The main model's variance components by name (``intercept_sd``, ``slope_sd``, ``correlation``, ...)."""
    rows = main_model_rows(estimates, "variance_component")
    return pd.Series(rows["estimate"].to_numpy(dtype=float), index=rows["term"].to_list())


def variance_components_frame(estimates: pd.DataFrame) -> pd.DataFrame:
    """The variance components for people: readable names, ``estimate`` and ``unit``."""
    vc = variance_components(estimates)
    labels = [VARIANCE_COMPONENT_LABELS.get(k, (k, "")) for k in vc.index]
    return pd.DataFrame(
        {"estimate": vc.to_numpy(), "unit": [unit for _, unit in labels]},
        index=pd.Index([name for name, _ in labels], name="variance component"),
    )


def mixed_model_tables(estimates: pd.DataFrame) -> list[Table]:
    """The fixed effects and the variance components, as tables; none when the model could not be fitted."""
    if not _fitted(estimates):
        return []
    return [
        show_table(
            fixed_effects_frame(estimates),
            digits=3,
            caption="Fixed effects (reference patient: 65 years, woman, spinal onset, no class used)",
            columns={"estimate": "estimate", "se": "SE"},
        ),
        show_table(variance_components_frame(estimates), caption="Variance components", digits=2),
    ]


def slopes_frame(estimates: pd.DataFrame, estimable_only: bool = True) -> pd.DataFrame:
    """Mean slopes by prediagnostic use (points/month): reference, users and their difference, per class.

    Each is a linear combination of fixed effects (``months``, ``months + <class>:months``,
    ``<class>:months``) with its Wald CI.

    Returns
    -------
    DataFrame
        ``drug_class``, ``group`` (reference, users, difference), ``estimate``, ``se``,
        ``ci_lower``, ``ci_upper``, ``p_value``, ``estimable``, ``reason``; with
        ``estimable_only`` only the estimable rows.
    """
    rows = main_model_rows(estimates, "slope")
    if estimable_only:
        rows = rows[rows["estimable"]]
    columns = ["drug_class", "group", "estimate", "se", "ci_lower", "ci_upper", "p_value", "estimable", "reason"]
    return rows[columns].reset_index(drop=True)


def slopes_text(estimates: pd.DataFrame) -> str:
    """The slopes not estimable, the variance components in words, and the slope SD beside the largest difference.

    The last line divides the between-patient SD of the slope by the largest absolute
    slope difference between users and non-users: when it is many times that
    difference, use explains little of why one patient declines faster than another.
    """
    if not _fitted(estimates):
        return f"no slopes: {_NO_MODEL} ({_failure_reason(estimates)})"
    slopes = slopes_frame(estimates, estimable_only=False)
    missing = slopes[~slopes["estimable"]].drop_duplicates("drug_class")
    lines = [f"{r.drug_class}: slope difference not estimable ({r.reason})" for r in missing.itertuples()]
    vc = variance_components(estimates)
    lines.append(
        f"between-patient SD of the intercept {vc['intercept_sd']:.1f} points, of the slope {vc['slope_sd']:.2f} "
        f"points/month (correlation {fixed(vc['correlation'])}); visit-to-visit SD {vc['residual_sd']:.1f} points"
    )
    shown = slopes[slopes["estimable"]]
    differences = shown.loc[shown["group"] == "difference", "estimate"].abs()
    if len(differences):
        lines.append(
            f"the slope SD between patients is {vc['slope_sd'] / differences.max():.1f} times the largest "
            f"slope difference between groups ({differences.max():.2f} points/month)"
        )
    return "\n".join(lines)


def slope_tables(estimates: pd.DataFrame) -> list[Table]:
    """The estimable slopes by prediagnostic use as a table; none when the model could not be fitted."""
    shown = slopes_frame(estimates)
    if shown.empty:
        return []
    table = shown[["drug_class", "group", "estimate", "se", "ci_lower", "ci_upper"]].assign(
        p=shown["p_value"].map(format_p)
    )
    return [
        show_table(
            table,
            caption="Slopes by prediagnostic use, points/month",
            index=False,
            columns={"se": "SE", "group": "slope of"},
        )
    ]


def results_file_text(estimates: pd.DataFrame, name: str = "alsfrs_mixed_model") -> str:
    """What the results file holds: its rows, its two files, and the rows by model, method and kind."""
    counts = estimates.groupby(["model", "method", "kind"]).size().to_string()
    return f"{len(estimates)} rows: {name}.csv, {name}.json\n{counts}"


# --------------------------------------------------------------------------- model checks


def residual_text(diagnostics: pd.Series) -> str:
    """The shares of visits at the scale's ceiling and floor (``AlsfrsMixedResult.residual_diagnostics``)."""
    return (
        f"visits at the ceiling (48): {diagnostics['share of visits at 48']:.0%}; "
        f"at the floor (0): {diagnostics['share of visits at 0']:.0%}"
    )


def random_effects_text(comparison: pd.DataFrame) -> str:
    """The verdict of the random-slope comparison: the models that failed, the LR test and AIC's preference.

    Parameters
    ----------
    comparison : DataFrame
        :func:`alsmeds.models.mixed.compare_random_effects` (random intercept first).  The
        LR statistic of "no random slope" is referred to the 50:50 mixture of chi-square(1)
        and chi-square(2) (its null distribution, the variance being on its boundary).
    """
    lines = [f"{r.model}: not estimable ({r.reason})" for r in comparison[~comparison["estimable"]].itertuples()]
    lr = comparison.iloc[1]
    if np.isfinite(lr["lr_statistic"]):
        p_text = "< 1e-16" if lr["p_mixture"] < 1e-16 else f"= {lr['p_mixture']:.1e}"
        prefers = "prefers" if lr["aic"] < comparison.iloc[0]["aic"] else "does not prefer"
        lines.append(
            f"LR statistic {lr['lr_statistic']:.1f} on 2 df; p (chi-square mixture) {p_text}; "
            f"AIC {prefers} random slopes"
        )
    elif not lines:
        lines.append("no likelihood-ratio test: a model could not be fitted")
    return "\n".join(lines)


def random_effects_frame(comparison: pd.DataFrame) -> pd.DataFrame:
    """The two models side by side for people: log-likelihood, parameters, AIC, BIC and residual SD."""
    columns = ["model", "log_likelihood", "n_params", "aic", "bic", "residual_sd"]
    out = comparison[columns].assign(model=comparison["model"].map(_COMPARISON_MODELS))
    return out.rename(columns=_COMPARISON_HEADERS)


def followup_slopes_text(by_followup: pd.DataFrame) -> str:
    """How many times as fast the patients with an event within a year fell as those without an event.

    Parameters
    ----------
    by_followup : DataFrame
        :func:`alsmeds.derive.alsfrs.slopes_by_followup` (the patients' own slopes).
    """
    early, censored = by_followup.loc["event within 12 months"], by_followup.loc["no event (censored)"]
    if early["patients"] and censored["patients"] and censored["mean_slope"] < 0:
        return (
            f"patients with an event within a year fell {early['mean_slope'] / censored['mean_slope']:.1f} times as "
            "fast as those without an event"
        )
    return "no ratio of slopes: no patient with an event within a year, or none without an event who declines"


# --------------------------------------------------------------------------- the dropout scenarios


def dropout_target_text(scenario_estimates: pd.DataFrame, terms: Mapping[str, str] = DROPOUT_TERMS) -> str:
    """The target of the dropout scenarios: this sample's true slopes (``sample_value``), to three decimals."""
    target = scenario_estimates.drop_duplicates("term").set_index("term")["sample_value"]
    return "this sample's true slopes (the target): " + ", ".join(f"{t} {target[t]:.3f}" for t in terms)


def dropout_bias_frame(scenario_estimates: pd.DataFrame, terms: Mapping[str, str] = DROPOUT_TERMS) -> pd.DataFrame:
    """Bias and Monte Carlo SE of each slope term by scenario, with the visits each scenario's model sees.

    Parameters
    ----------
    scenario_estimates : DataFrame
        :func:`alsmeds.estimands.dropout.dropout_scenarios`: bias against this sample's true
        slopes over noise redraws, and its Monte Carlo SE.
    terms : mapping
        Slope terms shown, with their names in the headers.

    Returns
    -------
    DataFrame
        Indexed by scenario: ``visits``, then per term ``<name>: bias`` and its ``MC SE``.
    """
    wide = scenario_estimates.pivot(index="scenario", columns="term", values=["bias", "mc_se"])
    wide = wide[[(value, term) for term in terms for value in ("bias", "mc_se")]]
    # The MC SE headers are told apart by trailing spaces: each table shows the plain "MC SE".
    wide.columns = [
        f"{name}: bias" if value == "bias" else "MC SE" + " " * i
        for i, (term, name) in enumerate(terms.items())
        for value in ("bias", "mc_se")
    ]
    wide.insert(0, "visits", scenario_estimates.groupby("scenario")["visits"].first())
    return wide


def dropout_bias_text(scenario_estimates: pd.DataFrame, terms: Mapping[str, str] = DROPOUT_TERMS) -> str:
    """Each term's bias in Monte Carlo SEs by scenario, and as a share of its true size and of the estimate's SE.

    Two lines per term: the bias of every scenario divided by its Monte Carlo SE (beyond
    about 2 in absolute value, the redraws tell it from zero); then the shift dropout
    alone gives (scenario 2) and the observed scores' bias (the last scenario), each as a
    share of this sample's true value, and the latter in standard errors of the estimate.
    """
    s = scenario_estimates.set_index(["scenario", "term"])
    order = list(dict.fromkeys(scenario_estimates["scenario"]))
    lines = []
    for term, name in terms.items():
        target = s.loc[(order[0], term), "sample_value"]
        z = [f"{k[0]}: {signed(s.loc[(k, term), 'bias'] / s.loc[(k, term), 'mc_se'], 1)}" for k in order]
        observed = s.loc[(order[-1], term)]
        lines.append(
            f"{name} (this sample's true value {fixed(target, 3)}): bias in Monte Carlo SEs by scenario, "
            + ", ".join(z)
        )
        lines.append(
            f"    dropout alone (scenario 2) moves it by {percent(abs(s.loc[(order[1], term), 'bias'] / target), 1)} "
            f"of its true size; the observed scores (4) by {percent(abs(observed['bias'] / target), 1)}, "
            f"{fixed(abs(observed['bias']) / observed['se'], 2)} times the SE of the estimate"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- the planted truth


def planted_mean_lines(truth: Truth | None) -> dict[int, tuple[float, float]] | None:
    """The planted mean trajectories of antidepressant non-users (0) and users (1): ``(intercept, slope)``.

    The intercept is the planted mean score at diagnosis, the slopes the planted mean
    slopes (points/month) of the two groups; None without a planted truth (a real extract).
    """
    if truth is None:
        return None
    b0 = truth.alsfrs_intercept_mean
    return {
        0: (b0, truth.alsfrs_slope_per_month("non_users_of_antidepressants")),
        1: (b0, truth.alsfrs_slope_per_month("antidepressant_users")),
    }


def planted_variance_text(estimates: pd.DataFrame, truth: Truth | None) -> str:
    """The estimated variance components beside their planted values (synthetic data).

    Without a planted truth, or without a fitted model, the text says the comparison is skipped.
    """
    if truth is None or not _fitted(estimates):
        return "no planted truth (or no model): comparison skipped"
    vc = variance_components(estimates)
    pr = truth.prognosis_parameter
    return (
        f"variance components, estimate (planted): intercept SD {vc['intercept_sd']:.2f} ({pr('intercept_sd')}), "
        f"slope SD {vc['slope_sd']:.2f} ({pr('slope_sd')}), correlation {fixed(vc['correlation'])} "
        f"({pr('intercept_slope_correlation')}), residual SD {vc['residual_sd']:.2f} ({pr('residual_sd')})"
    )


def planted_slopes_frame(estimates: pd.DataFrame, truth: Truth) -> pd.DataFrame:
    """Antidepressants: the estimated slopes of non-users, users and their difference beside the planted values.

    Returns
    -------
    DataFrame
        Indexed by the group ("slope of": reference, users, difference): ``estimate``,
        ``ci_lower``, ``ci_upper``, ``planted`` (points/month) and ``inside 95% CI``
        (:func:`alsmeds.truth.covers`, bounds included; False for a slope not estimable).
    """
    slopes = slopes_frame(estimates, estimable_only=False)
    ad = slopes[slopes["drug_class"] == "antidepressants"].set_index("group")
    planted = {"reference": "non_users_of_antidepressants", "users": "antidepressant_users", "difference": "difference"}
    beside = pd.DataFrame(
        {
            "estimate": ad["estimate"],
            "ci_lower": ad["ci_lower"],
            "ci_upper": ad["ci_upper"],
            "planted": [truth.alsfrs_slope_per_month(planted[g]) for g in ad.index],
        }
    )
    beside["inside 95% CI"] = covers(beside["ci_lower"], beside["ci_upper"], beside["planted"])
    return beside.rename_axis("slope of")


def planted_slope_tables(estimates: pd.DataFrame, truth: Truth | None) -> list[Table]:
    """The antidepressant slopes beside the planted values, and the other classes' differences beside none.

    The generator plants a slope difference for antidepressant users only; anxiolytic and
    hypnotic users decline like non-users (planted difference 0).  No table without a
    planted truth or a fitted model.
    """
    if truth is None or not _fitted(estimates):
        return []
    slopes = slopes_frame(estimates, estimable_only=False)
    others = slopes[(slopes["group"] == "difference") & (slopes["drug_class"] != "antidepressants")]
    return [
        show_table(
            planted_slopes_frame(estimates, truth),
            caption="Antidepressants: slopes (points/month) beside the planted values",
        ),
        show_table(
            others[["drug_class", "estimate", "ci_lower", "ci_upper"]].assign(planted=0.0),
            caption="Slope differences of anxiolytic and hypnotic users (planted: none)",
            index=False,
        ),
    ]


# --------------------------------------------------------------------------- try this


def slope_variants(
    variants: Mapping[str, tuple[AlsfrsMixedModel, pd.DataFrame]], drug_class: str = "antidepressants"
) -> pd.DataFrame:
    """One class's slopes under variants of the mixed model, side by side (the notebook's try-this).

    Parameters
    ----------
    variants : mapping of str to (AlsfrsMixedModel, DataFrame)
        Column name -> the model and the visits it is fitted to.
    drug_class : str
        The class whose reference slope, users' slope and difference are shown.

    Returns
    -------
    DataFrame
        One column per variant, rows ``reference slope``, ``<class> users' slope``,
        ``difference`` ("estimate (SE se)", points/month) and ``visits``; a variant that
        cannot be fitted, or whose slope is not estimable, says why in its cells.
    """
    groups = ("reference", "users", "difference")
    index = ["reference slope", f"{drug_class.removesuffix('s')} users' slope", "difference", "visits"]
    side = {}
    for name, (model, frame) in variants.items():
        try:
            fitted = model.fit(frame)
        except MixedModelError as exc:
            side[name] = [f"not estimable ({exc})"] * len(index)
            continue
        slopes = fitted.group_slopes()
        s = slopes[slopes["drug_class"] == drug_class].set_index("group")
        cells = [
            f"{s.loc[g, 'estimate']:.2f} (SE {s.loc[g, 'se']:.3f})"
            if g in s.index and s.loc[g, "estimable"]
            else f"not estimable ({s.loc[g, 'reason'] if g in s.index else f'{drug_class} not in the model'})"
            for g in groups
        ]
        side[name] = [*cells, f"{fitted.n_obs:,}"]
    return pd.DataFrame(side, index=index)
