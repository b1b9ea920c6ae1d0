"""The joint model's results beside their references, and the material of notebook 07's tables and figures.

Notebook 07 loads ``joint_model.csv`` and notebook 05's ``survival_cox.csv`` (the analyses
:func:`alsmeds.analyses.joint.joint_model` and ``survival_cox`` write them) and shows them with:

* :func:`selection_text` and :func:`planted_lines_text` -- who is in the joint model, and how
  many synthetic patients were planted a line unlike ALS.
* :func:`hazard_ratio_estimates` -- hazard ratios of prediagnostic use from the results files:
  the joint model, the two-stage model and notebook 05's Cox model (adjusted for the ALSFRS-R
  at diagnosis, not for the trajectory after it), one row per class and source (the forest
  plot); :func:`prognosis_estimates` is the same from fitted models.
* :func:`beside_references` and :func:`direct_and_total_text` -- the joint model's direct
  hazard ratios beside the Cox total effect, the published joint-model estimate and the
  planted direct effect.
* :func:`association_text` -- ``alpha`` read for a clinician.
* :func:`against_planted` -- the joint model against the planted values (the same estimators over the
  simulation study's replicates: :mod:`alsmeds.reporting.interval_coverage`).
* :func:`two_stage_rows` -- the two-stage fit as rows of the results file.
* :func:`example_patients`, :func:`dynamic_curves` and :func:`prediction_panels` -- two
  patients whose predicted survival is updated visit by visit.
* :func:`read_cox_total` and :func:`cox_total_rows` -- notebook 05's Cox estimates (not refitted).
* :func:`association_contrast`, :func:`contrast_text` and :func:`readable_contrast` -- alpha
  of the joint and two-stage models side by side, on every visit and on the first two.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES
from alsmeds.formatting import percent, signed
from alsmeds.models.base import wald_frame
from alsmeds.models.joint.checks import VisitContrast
from alsmeds.models.joint.prediction import dynamic_survival
from alsmeds.models.joint.prognosis import JOINT_MODEL_RESULT_COLUMNS, AlsJointResult
from alsmeds.models.joint.two_stage import PREDICTED_SCORE, TwoStageResult
from alsmeds.reporting.survival_results import SURVIVAL_COX_FILE
from alsmeds.simulate.dropout import planted_trajectory_shares
from alsmeds.truth import Truth, distance_z

_FOREST_COLUMNS = [
    "drug_class",
    "source",
    "log_hr",
    "se",
    "hazard_ratio",
    "ci_lower",
    "ci_upper",
    "estimable",
    "reason",
]


def prognosis_estimates(
    joint: AlsJointResult | None,
    two_stage: TwoStageResult | None,
    cox: pd.DataFrame | None,
    joint_reason: str = "",
    classes: Sequence[str] = CLASSES,
) -> pd.DataFrame:
    """Hazard ratios of prediagnostic use by source, for the forest plot.

    Parameters
    ----------
    joint : AlsJointResult or None
        The joint model (None when it could not be fitted: ``joint_reason`` says why).
    two_stage : TwoStageResult or None
    cox : DataFrame or None
        Rows of the Cox model with the three classes together
        (:meth:`alsmeds.models.cox.CoxResult.to_frame` of the ``mutual`` model).
    joint_reason : str
        Why the joint (and two-stage) model could not be fitted.

    Returns
    -------
    DataFrame
        One row per class and source (``joint``, ``two_stage``, ``cox``): ``log_hr``, ``se``,
        ``hazard_ratio``, ``ci_lower``, ``ci_upper`` (limits of the HR), ``estimable``, ``reason``.
    """
    rows: list[dict[str, Any]] = []
    if joint is not None:
        for r in joint.hazard_ratios().to_dict("records"):
            rows.append({**r, "source": "joint"})
    else:
        rows += [{"drug_class": k, "source": "joint", "estimable": False, "reason": joint_reason} for k in classes]
    if two_stage is not None:
        wald = two_stage.wald_table(exp=True)
        for k in classes:
            if k in wald.index:
                w = wald.loc[k]
                rows.append(
                    {
                        "drug_class": k,
                        "source": "two_stage",
                        "log_hr": w["estimate"],
                        "se": w["se"],
                        "hazard_ratio": w["hazard_ratio"],
                        "ci_lower": w["hazard_ratio_lower"],
                        "ci_upper": w["hazard_ratio_upper"],
                        "estimable": True,
                        "reason": "",
                    }
                )
            else:
                why = two_stage.not_estimable.get(f"surv:{k}", "not in the model")
                rows.append({"drug_class": k, "source": "two_stage", "estimable": False, "reason": why})
    elif joint_reason:
        rows += [{"drug_class": k, "source": "two_stage", "estimable": False, "reason": joint_reason} for k in classes]
    if cox is not None:
        for r in cox[cox["drug_class"].isin(classes)].to_dict("records"):
            rows.append(
                {
                    "drug_class": r["drug_class"],
                    "source": "cox",
                    "log_hr": r["log_hr"],
                    "se": r["se"],
                    "hazard_ratio": r["hazard_ratio"],
                    "ci_lower": r["ci_lower"],
                    "ci_upper": r["ci_upper"],
                    "estimable": bool(r["estimable"]),
                    "reason": r["reason"],
                }
            )
    out = pd.DataFrame(rows).reindex(columns=_FOREST_COLUMNS)
    out["estimable"] = out["estimable"].astype(bool)
    out["reason"] = out["reason"].fillna("")
    return out


def beside_references(
    estimates: pd.DataFrame,
    published: Mapping[str, tuple[float, float | None, float | None]],
    planted_direct: Mapping[str, float] | None = None,
    implied_total: Mapping[str, float] | None = None,
    *,
    truth: Truth | None = None,
) -> pd.DataFrame:
    """Per class: the joint model's direct HR, the Cox total HR, the published HR and the planted values.

    Parameters
    ----------
    estimates : DataFrame
        :func:`prognosis_estimates`.
    published : mapping
        class -> (HR, lower, upper).
    planted_direct : mapping, optional
        class -> planted direct log hazard ratio (synthetic data).
    implied_total : mapping, optional
        class -> the log hazard ratio the Cox model estimates under the planted model
        (``truth.json``: ``estimands.implied_cox.mutual``).
    truth : Truth, optional
        The planted truth of synthetic data: ``planted_direct`` and ``implied_total`` are read
        from it (:func:`planted_references`) unless given.

    Returns
    -------
    DataFrame
        Indexed by class: ``joint HR``, ``joint 95% CI``, ``Cox HR (total)``, ``published HR``,
        ``published 95% CI`` ("not available to us" when our sources do not give it); with the
        truth ``implied total HR``, ``planted direct HR`` and ``z (joint - planted)`` =
        :func:`alsmeds.truth.distance_z` (the planted direct effect is exact: Monte Carlo SE 0).
    """

    if truth is not None:
        planted, implied = planted_references(truth)
        planted_direct = planted if planted_direct is None else planted_direct
        implied_total = implied if implied_total is None else implied_total

    def ci(r: pd.Series) -> str:
        return f"{r['ci_lower']:.2f}-{r['ci_upper']:.2f}" if r["estimable"] else r["reason"]

    by = {s: estimates[estimates["source"] == s].set_index("drug_class") for s in ("joint", "cox")}
    rows = []
    for k in [c for c in CLASSES if c in by["joint"].index]:
        j = by["joint"].loc[k]
        row = {"drug_class": k, "joint HR": j["hazard_ratio"], "joint 95% CI": ci(j)}
        if k in by["cox"].index:
            row["Cox HR (total)"] = by["cox"].loc[k, "hazard_ratio"]
        pub = published.get(k)
        row["published HR"] = pub[0] if pub else np.nan
        row["published 95% CI"] = f"{pub[1]:.2f}-{pub[2]:.2f}" if pub and pub[1] is not None else "not available to us"
        if implied_total is not None and k in implied_total:
            row["implied total HR"] = float(np.exp(implied_total[k]))
        if planted_direct is not None and k in planted_direct:
            row["planted direct HR"] = float(np.exp(planted_direct[k]))
            estimable = j["estimable"]
            row["z (joint - planted)"] = distance_z(j["log_hr"], j["se"], planted_direct[k]) if estimable else np.nan
        rows.append(row)
    return pd.DataFrame(rows).set_index("drug_class")


def two_stage_rows(result: TwoStageResult, alpha: float = 0.05) -> pd.DataFrame:
    """The two-stage fit as rows of :data:`alsmeds.models.joint.prognosis.JOINT_MODEL_RESULT_COLUMNS`."""
    wald = result.wald_table(alpha=alpha, exp=True)
    out = pd.DataFrame(
        {
            "model": "two_stage_cox",
            "component": ["association" if t == PREDICTED_SCORE else "survival" for t in wald.index],
            "term": ["alpha" if t == PREDICTED_SCORE else t for t in wald.index],
            "drug_class": [t if t in CLASSES else "" for t in wald.index],
            **{c: wald[c].to_numpy() for c in ("estimate", "se", "ci_lower", "ci_upper", "p_value")},
            "hazard_ratio": wald["hazard_ratio"].to_numpy(),
            "hazard_ratio_lower": wald["hazard_ratio_lower"].to_numpy(),
            "hazard_ratio_upper": wald["hazard_ratio_upper"].to_numpy(),
            "unit": ["log hazard ratio per point" if t == PREDICTED_SCORE else "log hazard ratio" for t in wald.index],
            "n_patients": result.n_patients,
            "n_events": result.n_events,
            "estimable": True,
            "reason": "",
        }
    )
    return out.reindex(columns=list(JOINT_MODEL_RESULT_COLUMNS))


def example_patients(long: pd.DataFrame, surv: pd.DataFrame, exposure: str = "antidepressants") -> list[Any]:
    """Two patients for dynamic predictions: a user of ``exposure`` who had the event and a non-user, both followed.

    Chosen deterministically: among patients with at least four visits, the user with an event
    whose score fell most per month, and a slowly declining non-user: the one whose slope is
    nearest the upper quartile of the non-users' slopes (preferring one without an event; each
    patient's slope is the least-squares line through their visits).  Not the non-user whose
    score fell least: the synthetic generator's normal random slopes let some patients improve
    or stay at the ceiling of 48 for years, which is not the course of ALS.  A patient of the
    other group replaces a missing one.  Returns fewer than two when fewer patients have four
    visits.
    """
    counts = long.groupby("person_id").size()
    followed = counts[counts >= 4].index
    if len(followed) == 0:
        return []
    rows = long[long["person_id"].isin(followed)]
    drop = rows.groupby("person_id").apply(
        lambda d: np.polyfit(d["months"], d["score"], 1)[0] if d["months"].nunique() > 1 else 0.0, include_groups=False
    )
    info = surv.set_index("person_id").loc[drop.index].assign(slope=drop)
    users = info[(info[exposure] == 1) & (info["event"] == 1)] if exposure in info else info.iloc[:0]
    fast = (users if len(users) else info).sort_values(["slope"], kind="stable").index[0]
    others = info[(info.get(exposure, 0) == 0)].drop(index=fast, errors="ignore")
    others = others if len(others) else info.drop(index=fast)
    if others.empty:
        return [fast]
    distance = (others["slope"] - others["slope"].quantile(0.75)).abs()
    slow = others.assign(distance=distance).sort_values(["event", "distance"], kind="stable").index[0]
    return [fast, slow]


def dynamic_curves(
    result: AlsJointResult,
    visits: pd.DataFrame,
    landmarks: Sequence[float],
    horizon_months: float = 24.0,
    points: int = 49,
) -> dict[float, pd.DataFrame]:
    """A patient's predicted event-free survival from each landmark on, using the visits up to it.

    Parameters
    ----------
    result : AlsJointResult
    visits : DataFrame
        The patient's rows of the longitudinal frame.
    landmarks : sequence of float
        Months since diagnosis at which the prediction is updated (visits after a landmark are not used).
    horizon_months : float
        Length of each curve.
    points : int
        Points per curve.

    Returns
    -------
    dict of float to DataFrame
        Landmark -> ``time``, ``survival`` (:func:`alsmeds.models.joint.dynamic_survival`).
    """
    return {
        float(s): dynamic_survival(result.fit, visits, float(s), np.linspace(s, s + horizon_months, points))
        for s in landmarks
    }


def read_cox_total(results_dir: Path | str, n_cases: int) -> tuple[pd.DataFrame | None, str]:
    """The three-class Cox model of notebook 05 (a total effect), read from ``results/survival_cox.csv``.

    Parameters
    ----------
    results_dir : path-like
        The folder notebook 05 wrote.
    n_cases : int
        Cases of the data at hand: a file about other data (another count) is not used.

    Returns
    -------
    (DataFrame or None, str)
        The exposure rows of the ``mutual`` model (``drug_class``, ``log_hr``, ``se``, ``hazard_ratio``,
        ``ci_lower``, ``ci_upper``, ``estimable``, ``reason``), or None with the reason it is not available.
    """
    path = Path(results_dir) / f"{SURVIVAL_COX_FILE}.csv"
    if not path.is_file():
        return None, f"no {path.name} in {results_dir}: run notebook 05 first"
    return cox_total_rows(pd.read_csv(path), n_cases)


def cox_total_rows(cox: pd.DataFrame, n_cases: int | None = None) -> tuple[pd.DataFrame | None, str]:
    """The exposure rows of the three-class Cox model (``model = mutual``) of ``survival_cox.csv``.

    Parameters
    ----------
    cox : DataFrame
        ``survival_cox.csv`` as read (:func:`alsmeds.analyses.context.read_results_file` or
        ``pd.read_csv``).
    n_cases : int, optional
        Cases of the data at hand: a file about other data (another count) is not used.

    Returns
    -------
    (DataFrame or None, str)
        ``drug_class``, ``log_hr``, ``se``, ``hazard_ratio``, ``ci_lower``, ``ci_upper``,
        ``estimable``, ``reason`` (empty for an estimable term) and the file's other columns;
        or None with the reason they are not available.  Estimand: the hazard ratio of use
        adjusted for the ALSFRS-R at diagnosis but not for the decline after it (a total effect).
    """
    rows = cox[(cox["model"] == "mutual") & cox["is_exposure"].astype(bool)].copy()
    if rows.empty:
        return None, f"{SURVIVAL_COX_FILE}.csv has no exposure term of the three-class model"
    if n_cases is not None and int(rows["n"].iloc[0]) != int(n_cases):
        return None, f"{SURVIVAL_COX_FILE}.csv describes other data (not {n_cases:,} cases): rerun notebook 05"
    rows["estimable"] = rows["estimable"].astype(bool)
    rows["reason"] = rows["reason"].fillna("")
    return rows.reset_index(drop=True), ""


def association_contrast(fits: Mapping[str, tuple[AlsJointResult, TwoStageResult, int]]) -> pd.DataFrame:
    """``alpha`` of the joint model and of the two-stage model, per data set, with Wald CIs.

    Parameters
    ----------
    fits : mapping
        Data label -> (joint fit, two-stage fit, visits used).

    Returns
    -------
    DataFrame
        ``data``, ``method`` (joint, two_stage), ``visits``, ``estimate``, ``se``, ``ci_lower``, ``ci_upper``.
    """
    rows = []
    for label, (joint, two_stage, visits) in fits.items():
        for method, estimate, se in (
            ("joint", joint.params["alpha"], joint.bse["alpha"]),
            ("two_stage", two_stage.params[PREDICTED_SCORE], two_stage.bse[PREDICTED_SCORE]),
        ):
            rows.append({"data": label, "method": method, "visits": visits, "estimate": estimate, "se": se})
    out = pd.DataFrame(rows, columns=["data", "method", "visits", "estimate", "se"])
    wald = wald_frame(out["estimate"], out["se"])
    return out.assign(ci_lower=wald["ci_lower"].to_numpy(), ci_upper=wald["ci_upper"].to_numpy())


# --------------------------------------------------------------------------- notebook 07, from the results files

#: Source labels of :func:`association_contrast`'s ``method`` column, as a table shows them.
METHOD_LABELS = {"joint": "joint model", "two_stage": "two-stage Cox"}


def selection_text(selection: Mapping[str, int]) -> str:
    """How the joint model's patients were selected (:attr:`JointFrames.selection`), one count per line."""
    return "\n".join(f"{name:38} {count:>7,}" for name, count in selection.items())


def planted_lines_text(truth_people: pd.DataFrame | None) -> str:
    """How many cases the generator planted an ALSFRS-R line unlike ALS (rising, or above 48 at diagnosis).

    Parameters
    ----------
    truth_people : DataFrame or None
        ``truth_people.csv`` (:attr:`alsmeds.Study.truth_people`); None for a real extract.

    Returns
    -------
    str
        The counts and shares of :func:`alsmeds.simulate.dropout.planted_trajectory_shares`,
        or why there is nothing to count.
    """
    if truth_people is None:
        return "a real extract has no planted lines: nothing to count"
    shares = planted_trajectory_shares(truth_people)
    lines = [f"cases with a planted line: {shares.attrs['n']:,}"]
    lines += [f"{r.label:50} {r.cases:>5,} ({percent(r.share, 1)})" for r in shares.itertuples()]
    return "\n".join(lines)


def _results_rows(results: pd.DataFrame) -> pd.DataFrame:
    """``joint_model.csv`` as read, with empty text cells as empty strings (not missing)."""
    return results.assign(drug_class=results["drug_class"].fillna(""), reason=results["reason"].fillna(""))


def hazard_ratio_estimates(
    joint_results: pd.DataFrame, cox: pd.DataFrame | None = None, classes: Sequence[str] = CLASSES
) -> pd.DataFrame:
    """Hazard ratios of prediagnostic use by source, read from the results files (for the forest plot).

    Parameters
    ----------
    joint_results : DataFrame
        ``joint_model.csv``: the joint model's rows (``model = joint_model``) and the
        two-stage rows (``two_stage_cox``), or the not-estimable rows of a model that could
        not be fitted.
    cox : DataFrame, optional
        :func:`cox_total_rows` of ``survival_cox.csv`` (the Cox model with the three classes).
    classes : sequence of str

    Returns
    -------
    DataFrame
        As :func:`prognosis_estimates`: one row per class and source (``joint``: the direct
        effect at the same current ALSFRS-R; ``two_stage``: the same with the predicted score
        taken as known; ``cox``: the total effect), ``log_hr``, ``se``, ``hazard_ratio``,
        ``ci_lower``, ``ci_upper`` (limits of the HR), ``estimable``, ``reason``.  A class the
        two-stage model left out has the joint model's reason (both leave out the same terms).
    """
    rows = _results_rows(joint_results)
    survival = rows[(rows["component"] == "survival") & rows["drug_class"].isin(classes)]
    by = {m: survival[survival["model"] == m].set_index("drug_class") for m in ("joint_model", "two_stage_cox")}
    out: list[dict[str, Any]] = []
    for source, model in (("joint", "joint_model"), ("two_stage", "two_stage_cox")):
        for k in classes:
            if k in by[model].index and bool(by[model].loc[k, "estimable"]):
                r = by[model].loc[k]
                out.append(
                    {
                        "drug_class": k,
                        "source": source,
                        "log_hr": r["estimate"],
                        "se": r["se"],
                        "hazard_ratio": r["hazard_ratio"],
                        "ci_lower": r["hazard_ratio_lower"],
                        "ci_upper": r["hazard_ratio_upper"],
                        "estimable": True,
                        "reason": "",
                    }
                )
            else:
                joint_row = by["joint_model"].loc[k] if k in by["joint_model"].index else None
                why = joint_row["reason"] if joint_row is not None and joint_row["reason"] else "not in the model"
                out.append({"drug_class": k, "source": source, "estimable": False, "reason": why})
    estimates = pd.DataFrame(out)
    if cox is not None:
        cox_rows = cox[cox["drug_class"].isin(classes)].assign(source="cox", reason=lambda d: d["reason"].fillna(""))
        estimates = pd.concat([estimates, cox_rows], ignore_index=True)
    estimates = estimates.reindex(columns=_FOREST_COLUMNS)
    estimates["estimable"] = estimates["estimable"].astype(bool)
    estimates["reason"] = estimates["reason"].fillna("")
    return estimates


def planted_references(truth: Truth | None) -> tuple[dict[str, float] | None, dict[str, float] | None]:
    """The planted direct log hazard ratio of each class and the total one its Cox model estimates.

    Parameters
    ----------
    truth : Truth or None
        The planted truth (None for a real extract: both None).

    Returns
    -------
    (dict or None, dict or None)
        Class -> planted direct log HR (the joint model's estimand, exact); class -> implied
        total log HR of the three-class Cox model (``truth.json`` ``estimands.implied_cox.mutual``;
        None when not computed).
    """
    if truth is None:
        return None, None
    implied = {k: v.value for k, v in truth.implied_cox_terms("mutual").items()}
    return truth.planted_log_hr_direct_by_class, implied or None


def planted_direct_hazard_ratios(truth: Truth | None) -> dict[str, float] | None:
    """Class -> planted direct hazard ratio (for the forest plot's stars); None for a real extract."""
    planted, _ = planted_references(truth)
    return None if not planted else {k: float(np.exp(v)) for k, v in planted.items()}


def planted_alpha(truth: Truth | None) -> float | None:
    """The planted association per ALSFRS-R point (``alpha``); None for a real extract."""
    return None if truth is None else truth.association_per_alsfrs_point


def direct_and_total_text(table: pd.DataFrame) -> str:
    """Per class with both estimates, whether the joint model's direct HR lies below notebook 05's Cox total HR.

    Parameters
    ----------
    table : DataFrame
        :func:`beside_references` (``joint HR``, ``Cox HR (total)``).

    Returns
    -------
    str
        One line per class with both estimates (or a line saying there is none).  At the
        paper's size the CIs are wider than these differences: the order is a property of the
        draw, not of the model.
    """
    lines = []
    for k, r in table.iterrows():
        j, c = r["joint HR"], r.get("Cox HR (total)", np.nan)
        if np.isfinite(j) and np.isfinite(c):
            lines.append(f"{k}: direct {j:.2f} {'below' if j < c else 'at or above'} the Cox total {c:.2f}")
    return "\n".join(lines) or "no class has both a joint-model and a Cox hazard ratio to compare"


def joint_parameters(joint_results: pd.DataFrame) -> pd.DataFrame:
    """The joint model's estimable parameters of ``joint_model.csv``, named as in the fit (``surv:``, ``long:``).

    Returns
    -------
    DataFrame
        Indexed by the fit's parameter name (``surv:<term>``, ``long:<term>``, ``alpha``,
        ``log_sigma``, ``baseline:<term>``): ``estimate``, ``se``.  Variance components and
        fit statistics are left out; empty when the model could not be fitted.
    """
    rows = _results_rows(joint_results)
    rows = rows[(rows["model"] == "joint_model") & rows["estimable"].astype(bool)]
    prefix = {"survival": "surv:", "longitudinal": "long:"}
    names, keep = [], []
    for i, r in rows.iterrows():
        if r["component"] in ("variance_component", "fit_statistic"):
            continue
        p = prefix.get(r["component"], "") if r["term"] != "log_sigma" else ""
        names.append(f"{p}{r['term']}")
        keep.append(i)
    return pd.DataFrame(rows.loc[keep, ["estimate", "se"]].to_numpy(), index=names, columns=["estimate", "se"])


def association_text(joint_results: pd.DataFrame) -> str:
    """``alpha`` of ``joint_model.csv``, the hazard ratio per ALSFRS-R point lost, and per ten points.

    Parameters
    ----------
    joint_results : DataFrame
        ``joint_model.csv``.

    Returns
    -------
    str
        ``alpha`` (log HR per point of the current true score) with its 95% Wald CI; the HR of
        one point lower, ``exp(-alpha)``, with its CI; and the HR of ten points lower,
        ``exp(-10 alpha)``, beside the months a typical non-user takes to lose ten points
        (``10 / -long:months``, the non-users' mean slope).  The reason when not estimable.
    """
    rows = _results_rows(joint_results)
    rows = rows[rows["model"] == "joint_model"]
    alpha = rows[(rows["component"] == "association") & rows["estimable"].astype(bool)]
    if alpha.empty:
        reasons = [r for r in rows["reason"] if r]
        return f"alpha: not estimable ({reasons[0] if reasons else 'no joint model'})"
    a = alpha.iloc[0]
    slope = -float(rows.loc[(rows["component"] == "longitudinal") & (rows["term"] == "months"), "estimate"].iloc[0])
    return "\n".join(
        [
            f"alpha = {a['estimate']:.4f} (95% CI {a['ci_lower']:.4f} to {a['ci_upper']:.4f}) per point",
            f"one ALSFRS-R point lower now multiplies the hazard by {np.exp(-a['estimate']):.3f} "
            f"({np.exp(-a['ci_upper']):.3f}-{np.exp(-a['ci_lower']):.3f})",
            f"ten points lower (about {10 / slope:.0f} months of a typical non-user's decline): "
            f"{np.exp(-10 * a['estimate']):.2f} times the hazard",
        ]
    )


def planted_joint_targets(truth: Truth) -> dict[str, float]:
    """The planted values of the joint model's parameters, by the fit's parameter name.

    ``surv:<class>`` (direct log HRs), ``alpha``, ``long:months`` (the non-users' mean slope of
    antidepressants) and ``long:antidepressants:months`` (the users' slope difference).  Exact:
    planted parameters, no Monte Carlo error.
    """
    targets = {f"surv:{k}": v for k, v in truth.planted_log_hr_direct_by_class.items()}
    targets["alpha"] = truth.association_per_alsfrs_point
    targets["long:months"] = truth.alsfrs_slope_per_month("non_users_of_antidepressants")
    targets["long:antidepressants:months"] = truth.alsfrs_slope_per_month("difference")
    return targets


def against_planted(joint_results: pd.DataFrame, truth: Truth | None) -> pd.DataFrame | None:
    """The joint model's estimates of ``joint_model.csv`` against the planted values.

    Parameters
    ----------
    joint_results : DataFrame
        ``joint_model.csv``.
    truth : Truth or None

    Returns
    -------
    DataFrame or None
        Indexed by parameter (:func:`planted_joint_targets` the fit estimated): ``estimate``,
        ``se``, ``planted`` and ``z`` = :func:`alsmeds.truth.distance_z` (estimate minus planted
        in SEs).  None without a truth or a fitted model.  One data set scatters: ``|z|``
        beyond 2 one time in twenty under a correct model with correct SEs.
    """
    params = joint_parameters(joint_results)
    if truth is None or params.empty:
        return None
    targets = planted_joint_targets(truth)
    names = [t for t in targets if t in params.index]
    check = pd.DataFrame(
        {"estimate": params.loc[names, "estimate"], "se": params.loc[names, "se"], "planted": pd.Series(targets)[names]}
    )
    check["z"] = distance_z(check["estimate"], check["se"], check["planted"])
    return check


def prediction_panels(
    joint: AlsJointResult | None, long: pd.DataFrame, surv: pd.DataFrame, exposure: str = "antidepressants"
) -> list[dict[str, Any]]:
    """Two example patients' visits and their event-free survival predicted from successive landmarks.

    Parameters
    ----------
    joint : AlsJointResult or None
        The fitted joint model (None: no panel).
    long, surv : DataFrame
        The joint model's frames (:class:`alsmeds.derive.joint_data.JointFrames`).
    exposure : str
        The class whose user and non-user are shown (:func:`example_patients`).

    Returns
    -------
    list of dict
        Per patient, what :func:`alsmeds.plots.joint.plot_dynamic_predictions` draws: ``title``,
        ``visits``, ``end`` and ``status`` of follow-up, ``exposure`` and ``user`` (the colour of
        the patient's group) and ``curves`` (:func:`dynamic_curves` from diagnosis and from the
        third and fifth visits: each uses the visits up to its landmark and conditions on
        survival to it; parameter uncertainty left out).  Empty without a model or a patient
        with four visits.
    """
    if joint is None:
        return []
    panels = []
    for person_id in example_patients(long, surv, exposure):
        visits = long[long["person_id"] == person_id]
        row = surv[surv["person_id"] == person_id].iloc[0]
        last = len(visits) - 1
        landmarks = sorted(set(visits["months"].iloc[[0, min(2, last), min(4, last)]].round(6)))
        user = row.get(exposure, 0) == 1
        panels.append(
            {
                "title": f"patient {person_id} ({exposure.removesuffix('s')} {'user' if user else 'non-user'})",
                "visits": visits,
                "exposure": exposure,
                "user": bool(user),
                "end": row["time_months"],
                "status": row["status"],
                "curves": dynamic_curves(joint, visits, landmarks),
            }
        )
    return panels


def contrast_text(contrast: VisitContrast) -> str:
    """What each data set of a :class:`~alsmeds.models.joint.checks.VisitContrast` shows, in words.

    Returns
    -------
    str
        Data that could not be fitted and why; per data set fitted, the share of follow-up
        after each patient's last visit used; with both data sets, the two-stage ``alpha`` as a
        percentage of the joint model's.
    """
    lines = [f"{label}: not estimable ({why})" for label, why in contrast.reasons.items()]
    for label in contrast.fits:
        share = percent(contrast.after_last_visit[label], 0)
        lines.append(f"{label}: {share} of the follow-up lies after the patient's last visit used")
    table = association_contrast(contrast.fits)
    if len(table) == 4:
        ratio = table.set_index(["data", "method"])["estimate"]
        for label in contrast.fits:
            share = ratio[(label, "two_stage")] / ratio[(label, "joint")]
            lines.append(f"{label}: the two-stage alpha is {share:.0%} of the joint model's")
    return "\n".join(lines)


def readable_contrast(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`association_contrast` with the methods named for people (:data:`METHOD_LABELS`)."""
    return table.assign(method=table["method"].map(METHOD_LABELS))


#: Columns of ``results/joint_model_variants.{csv,json}``: the joint model under each outcome and association.
JOINT_VARIANT_COLUMNS: dict[str, str] = {
    "outcome": "normal (the score taken as exact, as the paper's class of model) or censored (scores at 0 and 48 are "
    "censored observations of the latent score: Tobit)",
    "association": "value (the hazard depends on the current score), slope (on its current rate of change) or both",
    **JOINT_MODEL_RESULT_COLUMNS,
    "llf": "maximised log-likelihood of the model (all Gaussian constants included)",
    "n_params": "number of estimated parameters",
    "aic": "2 n_params - 2 llf; comparable between models of the same outcome only",
}


def variant_table(variants: pd.DataFrame, terms: Sequence[str]) -> pd.DataFrame:
    """Estimates (SE) of some terms, one column per model of ``joint_model_variants.csv``, and the fit's AIC.

    Parameters
    ----------
    variants : DataFrame
        ``joint_model_variants.csv``.
    terms : sequence of str
        Terms to show, the survival and longitudinal ones prefixed ``surv:`` and ``long:`` (e.g.
        ``"alpha"``, ``"alpha_slope"``, ``"surv:antidepressants"``, ``"long:antidepressants:months"``).

    Returns
    -------
    DataFrame
        Rows: the terms, then ``AIC``; columns: ``<outcome>, <association>``; cells
        ``estimate (SE)`` as text, empty where a model has no such term.
    """
    prefix = variants["component"].map({"survival": "surv:", "longitudinal": "long:"}).fillna("")
    keyed = variants.assign(term=prefix + variants["term"].astype(str))
    out = {}
    for (outcome, association), rows in keyed.groupby(["outcome", "association"], sort=False):
        by_term = rows.drop_duplicates("term").set_index("term")
        column = {}
        for term in terms:
            if term in by_term.index and bool(by_term.loc[term, "estimable"]):
                column[term] = f"{by_term.loc[term, 'estimate']:.3f} ({by_term.loc[term, 'se']:.3f})"
            else:
                column[term] = ""
        column["AIC"] = f"{rows['aic'].iloc[0]:.1f}" if np.isfinite(rows["aic"].iloc[0]) else "n.e."
        out[f"{outcome}, {association}"] = column
    return pd.DataFrame(out).rename_axis("term")


#: Terms of :func:`variant_table` in notebook 07: the two associations, the direct log HRs, the antidepressant slope.
VARIANT_TERMS = (
    "alpha",
    "alpha_slope",
    "surv:anxiolytics",
    "surv:hypnotics",
    "surv:antidepressants",
    "long:antidepressants:months",
)


def floor_effect_text(variants: pd.DataFrame, truth: Truth | None) -> str:
    """The association ``alpha`` of the normal and the censored model (value link), beside the planted value.

    The distance from the planted value is :func:`alsmeds.truth.distance_z` with the estimate's SE
    (a planted parameter has no Monte Carlo error).  Without a planted truth only the estimates.
    """
    lines = []
    for outcome in ("normal", "censored"):
        rows = variants[
            (variants["outcome"] == outcome) & (variants["association"] == "value") & (variants["term"] == "alpha")
        ]
        if rows.empty or not bool(rows["estimable"].iloc[0]):
            lines.append(f"{outcome}: alpha not estimable")
            continue
        estimate, se = float(rows["estimate"].iloc[0]), float(rows["se"].iloc[0])
        text = f"{outcome} outcome: alpha {estimate:.3f} (SE {se:.3f})"
        if truth is not None:
            planted = truth.association_per_alsfrs_point
            text += f", {signed(distance_z(estimate, se, planted), 1)} SE from the planted {planted:g}"
        lines.append(text)
    return "\n".join(lines)
