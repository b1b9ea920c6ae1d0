"""A simulation study summarised: its estimands, each estimator's performance, the published values among the draws.

A simulation study (:mod:`alsmeds.simstudy`: ``alsmeds simstudy`` runs it and stores its
replicates in ``results/simstudy_estimates.csv.gz``) is judged here, by functions that read
and never fit a model, so that the analyses layer can write its summary
(:func:`alsmeds.analyses.report.simstudy_summary`) and notebook 09 can show it:

* **Estimands** (:func:`estimand_table`; Morris, White & Crowther 2019: the "E" of ADEMP),
  read from a ``truth.json``:

  - *implied* (``exact`` false): what the estimator converges to under the generator, which
    is not a parameter of it.  The generator's estimands layer fits the same model to
    ``truth_scale`` times the paper's sample and records the estimate and its Monte Carlo SE
    (``mc_se``): the risk models of every comparison
    (``estimands.implied[<comparison>_per_class | <comparison>_mutual_<exposure>
    [_under_65 | _65_plus]][term].log_or``; the sibling and spouse conditional odds ratios
    differ from the planted within-family ones because they pool the age groups and are
    non-collapsible) and the Cox models of prediagnostic use (total effects, through the
    faster decline of users: ``estimands.implied_cox[<model>][<class>].log_hr``);
  - *planted* (``exact`` true, ``mc_se`` 0): parameters of the generator that the model
    contains: the joint model's direct log hazard ratios of use, of age per decade, male sex
    and bulbar onset, the association ``alpha``, the non-user slope and the slope differences
    of users (antidepressants ``difference``, other classes 0); the ALSFRS-R mixed model's
    same slopes.

  Estimators without an estimand (crude models, covariates, intercepts) are stored in the
  replicates but not judged.
* **Performance measures** (:func:`performance_measures`; Morris, White & Crowther 2019,
  Table 6).  For one estimator, with ``n`` replicates that gave an estimate ``t_i`` with
  model standard error ``s_i`` of an estimand ``theta``:

  - bias: ``mean(t) - theta``; MCSE ``EmpSE / sqrt(n)``;
  - empirical SE (EmpSE): ``sd(t)`` (``n - 1`` divisor); MCSE ``EmpSE / sqrt(2 (n - 1))``;
  - model SE (ModSE): ``sqrt(mean(s^2))``; MCSE ``sqrt(var(s^2) / (4 n ModSE^2))``;
  - relative error of ModSE: ``100 (ModSE / EmpSE - 1)`` percent; MCSE
    ``100 (ModSE / EmpSE) sqrt(var(s^2) / (4 n ModSE^4) + 1 / (2 (n - 1)))``;
  - coverage: ``C = mean(|t - theta| <= z s)``; MCSE ``sqrt(C (1 - C) / n)``;
  - bias-eliminated coverage: ``mean(|t - mean(t)| <= z s)``; MCSE likewise;
  - power (rejection rate): ``P = mean(|t| > z s)``; MCSE ``sqrt(P (1 - P) / n)``;

  with ``z`` the 97.5% normal quantile (:data:`alsmeds.constants.Z_975`): the Wald intervals
  and tests of the models.  Power is the share of replicates whose 95% interval excludes 0,
  whatever the estimand: where the estimand is 0 it is the type I error.  An implied estimand
  has its own Monte Carlo error (``estimand_mc_se``); it is added to the bias's MCSE in
  ``bias_total_se`` before judging whether the bias is distinguishable from 0.  Assumptions:
  the replicates are independent draws of one mechanism (independent seeds), and a replicate
  whose estimate or SE is missing or not finite is left out of that estimator's measures.
* **The published values among the draws** (:func:`published_percentiles`): the percentile
  of each published odds or hazard ratio among the replicate estimates of the same estimator.
* **Tables for people** (:func:`family_performance`, :func:`flagged_estimators`,
  :func:`published_among_draws`, :func:`draw_among_replicates`, :func:`replicate_timings`,
  :func:`fewer_replicates`): what notebook 09 shows, each from the files above.

The functions and the column lists were in :mod:`alsmeds.simstudy.performance`,
:mod:`alsmeds.simstudy.estimands` and :mod:`alsmeds.simstudy.runner` (which still export
them); they moved here, below the analyses layer, so that an analysis can write the summary.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsmeds import paths
from alsmeds import truth as _truth
from alsmeds.constants import CLASSES, Z_975
from alsmeds.formatting import fixed, percent, signed
from alsmeds.published import published_values
from alsmeds.reporting.display import Table, show_table
from alsmeds.reporting.reproduction import ratio_target_name
from alsmeds.reporting.results import write_estimates
from alsmeds.truth import Truth, as_truth, covers

#: Name of the compacted replicate file in a results folder (written by ``alsmeds simstudy``).
ESTIMATES_FILE = "simstudy_estimates.csv.gz"

#: Columns that identify an estimator, one estimate per replicate (one definition: the simulation study imports it).
ESTIMATOR_KEYS = ["family", "comparison", "model", "exposure", "stratum", "term"]

#: Text columns of the replicate file (missing read as an empty string).
_TEXT_COLUMNS = ("family", "comparison", "model", "exposure", "stratum", "term", "reason")

#: Readable name of each estimator family.
FAMILY_NAMES = {
    "risk": "risk: conditional logistic",
    "cox": "Cox",
    "mixed": "ALSFRS-R mixed model",
    "joint": "joint model",
}


# -- estimands ----------------------------------------------------------------------------------------------------

#: Columns of :func:`estimand_table`.
ESTIMAND_COLUMNS = [*ESTIMATOR_KEYS, "estimand", "estimand_mc_se", "exact", "source"]

#: Age strata of the risk models -> suffix of the implied estimand's key.
STRATUM_SUFFIX = {"all": "", "<65": "_under_65", "65+": "_65_plus"}


def read_truth(path: str | Path | None = None) -> Truth:
    """The committed planted truth (``data/synthetic/truth.json`` unless ``path`` is given).

    Read by :func:`alsmeds.truth.read_truth`, the one reader of ``truth.json``.
    """
    return _truth.read_truth(Path(path) if path is not None else paths.SYNTHETIC_DIR / "truth.json")


def estimands_truth_file(data_dir: str | Path | None = None) -> Path:
    """The ``truth.json`` that holds a simulation study's estimands, for a study of ``data_dir``.

    The data folder's own ``truth.json`` when it has one (synthetic data); otherwise (a real
    extract, or no folder) the committed ``data/synthetic/truth.json``: the generator's
    estimands, which are those of the stored study (it draws from the committed parameters).
    """
    own = Path(data_dir) / "truth.json" if data_dir is not None else None
    return own if own is not None and own.is_file() else paths.SYNTHETIC_DIR / "truth.json"


def _implied_risk(truth: Truth) -> list[dict[str, Any]]:
    rows = []
    for key in truth.implied_models:
        terms = truth.implied_terms(key)
        comparison, rest = key.split("_", 1)
        stratum = "all"
        for label, suffix in STRATUM_SUFFIX.items():
            if suffix and rest.endswith(suffix):
                stratum, rest = label, rest.removesuffix(suffix)
        if rest == "per_class":
            model = "per_class"
        else:
            model, exposure_of_key = rest.rsplit("_", 1)
        for term, value in terms.items():
            exposure = exposure_of_key if model == "mutual" else ("lagged" if term.endswith("_gt1") else "windows")
            rows.append(
                {
                    "family": "risk",
                    "comparison": comparison,
                    "model": model,
                    "exposure": exposure,
                    "stratum": stratum,
                    "term": term,
                    "estimand": value.value,
                    "estimand_mc_se": value.mc_se,
                    "exact": False,
                    "source": f"estimands.implied.{key}.{term}",
                }
            )
    return rows


#: Suffix of the Cox estimators whose intervals use the robust (Lin-Wei sandwich) SE (:func:`with_robust_estimators`).
ROBUST_SUFFIX = "_robust"
#: Families whose replicates store a robust SE beside each estimate (``diagnostic`` rows ``robust_se:<term>``).
ROBUST_FAMILIES = ("cox", "joint")


def _implied_cox(truth: Truth) -> list[dict[str, Any]]:
    rows = []
    for model in ("per_class", "mutual", f"per_class{ROBUST_SUFFIX}", f"mutual{ROBUST_SUFFIX}"):
        for k, value in truth.implied_cox_terms(model.removesuffix(ROBUST_SUFFIX)).items():
            rows.append(
                {
                    "family": "cox",
                    "comparison": "",
                    "model": model,
                    "exposure": "ever",
                    "stratum": "all",
                    "term": f"use_{k}",
                    "estimand": value.value,
                    "estimand_mc_se": value.mc_se,
                    "exact": False,
                    "source": f"estimands.implied_cox.{model}.{k}",
                }
            )
    return rows


def _planted(truth: Truth) -> list[dict[str, Any]]:
    slope_terms: dict[str, tuple[float, str]] = {
        "months": (
            truth.alsfrs_slope_per_month("non_users_of_antidepressants"),
            "estimands.prognosis.alsfrs_slope_per_month.non_users",
        ),
    }
    for k in CLASSES:
        if k == "antidepressants":
            slope_terms[f"{k}:months"] = (
                truth.alsfrs_slope_per_month("difference"),
                "estimands.prognosis.alsfrs_slope_per_month.difference",
            )
        else:  # the generator plants no slope difference for the other classes
            slope_terms[f"{k}:months"] = (0.0, f"parameters.prognosis (no slope_{k}: 0)")
    joint: dict[str, tuple[float, str]] = {f"long:{t}": v for t, v in slope_terms.items()}
    for k, value in truth.planted_log_hr_direct_by_class.items():
        joint[f"surv:{k}"] = (value, f"estimands.prognosis.joint_model_log_hr_direct.{k}")
    planted_log_hr = (
        ("age_per_decade", "log_hr_per_decade_of_age"),
        ("male", "log_hr_male"),
        ("bulbar", "log_hr_bulbar"),
    )
    for term, name in planted_log_hr:
        joint[f"surv:{term}"] = (truth.prognosis_parameter(name), f"parameters.prognosis.{name}")
    joint["alpha"] = (truth.association_per_alsfrs_point, "estimands.prognosis.association_per_alsfrs_point")
    rows = []
    for family, model, terms in (
        ("mixed", "random_intercept_slope", slope_terms),
        ("joint", "joint_model", joint),
        ("joint", "joint_model_normal", joint),
        ("joint", f"joint_model{ROBUST_SUFFIX}", joint),
        ("joint", f"joint_model_normal{ROBUST_SUFFIX}", joint),
    ):
        for term, (value, source) in terms.items():
            rows.append(
                {
                    "family": family,
                    "comparison": "",
                    "model": model,
                    "exposure": "ever",
                    "stratum": "all",
                    "term": term,
                    "estimand": float(value),
                    "estimand_mc_se": 0.0,
                    "exact": True,
                    "source": source,
                }
            )
    return rows


def estimand_table(truth: Truth | Mapping[str, Any] | None = None) -> pd.DataFrame:
    """One row per estimator with an estimand (see the module docstring).

    Parameters
    ----------
    truth : Truth or dict, optional
        A ``truth.json`` (:class:`alsmeds.truth.Truth` or its parsed dict); default the committed
        one (computed at large ``truth_scale``).

    Returns
    -------
    pandas.DataFrame
        :data:`ESTIMAND_COLUMNS`; ``estimand`` on the estimator's scale (log OR, log HR,
        points per month, log HR per point), ``estimand_mc_se`` its own Monte Carlo SE.
    """
    truth = read_truth() if truth is None else as_truth(truth)
    rows = _implied_risk(truth) + _implied_cox(truth) + _planted(truth)
    return pd.DataFrame(rows, columns=ESTIMAND_COLUMNS)


# -- performance measures ------------------------------------------------------------------------------------------

#: Nominal coverage of the Wald intervals.
NOMINAL = 0.95

#: Columns of :func:`performance_measures`, with their meaning (the JSON schema of results/simstudy_performance).
PERFORMANCE_COLUMNS = {
    "family": "risk (conditional logistic), cox, mixed (ALSFRS-R mixed model) or joint (joint model)",
    "comparison": "population, sibling or spouse controls (risk models)",
    "model": "per_class / mutual (risk, Cox); the mixed or joint model",
    "exposure": "lagged or windows (risk); ever (prediagnostic use)",
    "stratum": "all, or the case's age stratum <65 / 65+",
    "term": "model term",
    "estimand": "the estimand on the estimator's scale (log OR, log HR, points/month, log HR per point)",
    "estimand_mc_se": "Monte Carlo SE of an implied estimand (0 for a planted parameter)",
    "exact": "true: a planted parameter; false: implied by the generator (estimated at large scale)",
    "source": "where the estimand is in truth.json",
    "n_reps": "replicates that ran (failed replicates excluded)",
    "n_estimable": "replicates with an estimate and a finite SE (the measures below use these)",
    "mean_estimate": "mean of the estimates",
    "bias": "mean estimate minus estimand",
    "bias_mcse": "Monte Carlo SE of the bias",
    "bias_total_se": "sqrt(bias_mcse^2 + estimand_mc_se^2): the uncertainty of the bias",
    "empse": "empirical SE: SD of the estimates",
    "empse_mcse": "Monte Carlo SE of the empirical SE",
    "modse": "model SE: root mean squared model SE",
    "modse_mcse": "Monte Carlo SE of the model SE",
    "relerr_modse": "relative error of the model SE, percent: 100 (modse / empse - 1)",
    "relerr_modse_mcse": "Monte Carlo SE of relerr_modse (percent)",
    "coverage": "share of 95% Wald intervals that contain the estimand",
    "coverage_mcse": "Monte Carlo SE of the coverage",
    "be_coverage": "bias-eliminated coverage: share of intervals that contain the mean estimate",
    "be_coverage_mcse": "Monte Carlo SE of the bias-eliminated coverage",
    "power": "share of 95% intervals that exclude 0 (two-sided Wald test at 5%)",
    "power_mcse": "Monte Carlo SE of the power",
    "bias_over_empse": "bias / empse",
    "coverage_ok": "coverage within 2 Monte Carlo SE (at the nominal 95%) of 95%",
    "bias_ok": "|bias| below 10% of the empirical SE, or within 2 bias_total_se of 0",
}


def _measures(t: np.ndarray, s: np.ndarray, theta: float, estimand_mc_se: float = 0.0) -> dict[str, float]:
    n = len(t)
    out: dict[str, float] = {"n_estimable": n}
    if n == 0:
        return out
    mean = float(np.mean(t))
    s2 = s**2
    modse = float(np.sqrt(np.mean(s2)))
    half = Z_975 * s
    coverage = float(np.mean(covers(t - half, t + half, theta)))
    be_coverage = float(np.mean(covers(t - half, t + half, mean)))
    power = float(np.mean(np.abs(t) > half))
    out.update(
        {
            "mean_estimate": mean,
            "bias": mean - theta,
            "modse": modse,
            "coverage": coverage,
            "coverage_mcse": float(np.sqrt(coverage * (1 - coverage) / n)),
            "be_coverage": be_coverage,
            "be_coverage_mcse": float(np.sqrt(be_coverage * (1 - be_coverage) / n)),
            "power": power,
            "power_mcse": float(np.sqrt(power * (1 - power) / n)),
        }
    )
    if n < 2:  # no spread from one replicate: the SE-based measures stay missing
        return out
    empse = float(np.std(t, ddof=1))
    var_s2 = float(np.var(s2, ddof=1))
    out.update(
        {
            "bias_mcse": empse / np.sqrt(n),
            "bias_total_se": float(np.hypot(empse / np.sqrt(n), estimand_mc_se)),
            "empse": empse,
            "empse_mcse": empse / np.sqrt(2 * (n - 1)),
            "modse_mcse": float(np.sqrt(var_s2 / (4 * n * modse**2))) if modse > 0 else np.nan,
            "relerr_modse": 100 * (modse / empse - 1) if empse > 0 else np.nan,
            "relerr_modse_mcse": 100 * (modse / empse) * float(np.sqrt(var_s2 / (4 * n * modse**4) + 1 / (2 * (n - 1))))
            if empse > 0 and modse > 0
            else np.nan,
        }
    )
    return out


#: How many Monte Carlo SEs (at the nominal coverage) a coverage may lie from it and still pass.
COVERAGE_LIMIT = 2.0


def coverage_distance(coverage: Any, n: Any) -> Any:
    """(coverage - 95%) in Monte Carlo SEs at the nominal 95%, ``sqrt(0.95 x 0.05 / n)``: the criterion's scale."""
    return (coverage - NOMINAL) / np.sqrt(NOMINAL * (1 - NOMINAL) / n)


def with_robust_estimators(estimates: pd.DataFrame) -> pd.DataFrame:
    """The replicates with the robust-SE intervals of the Cox and joint models as estimators of their own.

    A replicate stores each Cox exposure term and each joint-model term once (``family`` cox or joint, the
    model-based SE) and its robust (sandwich: Lin-Wei for Cox, each patient a cluster for the joint model) SE as
    a ``diagnostic`` row ``robust_se:<term>`` of the same model
    (:func:`alsmeds.simstudy.replicate.fit_replicate_models`).  The robust interval is a second estimator: the
    same estimate with the sandwich SE, named ``<model>_robust`` (:data:`ROBUST_SUFFIX`), whose estimand is the
    model's (:func:`estimand_table`).  Returned appended to ``estimates`` (unchanged when it has no such rows or
    already holds them); a term without a finite robust SE keeps a missing SE and so counts out.
    """
    if estimates["model"].astype(str).str.endswith(ROBUST_SUFFIX).any():
        return estimates
    fitted = estimates[estimates["family"].isin(ROBUST_FAMILIES)]
    diagnostics = estimates[
        (estimates["family"] == "diagnostic") & estimates["term"].astype(str).str.startswith("robust_se:")
    ]
    if fitted.empty or diagnostics.empty:
        return estimates
    robust_se = diagnostics.assign(term=diagnostics["term"].str.removeprefix("robust_se:"))[
        ["rep", "model", "term", "estimate"]
    ].rename(columns={"estimate": "robust_se"})
    robust = fitted.merge(robust_se, on=["rep", "model", "term"], how="left", validate="one_to_one")
    robust["se"] = robust.pop("robust_se")
    robust["model"] = robust["model"].astype(str) + ROBUST_SUFFIX
    return pd.concat([estimates, robust[estimates.columns]], ignore_index=True)


def performance_measures(
    estimates: pd.DataFrame,
    estimands: pd.DataFrame,
    keys: Sequence[str] = ("family", "comparison", "model", "exposure", "stratum", "term"),
) -> pd.DataFrame:
    """Performance of every estimator that has an estimand (see the module docstring).

    Parameters
    ----------
    estimates : pandas.DataFrame
        One row per replicate and estimator: ``keys``, ``rep``, ``estimate``, ``se`` and
        ``estimable`` (rows of other families are ignored).  A replicate counts for an
        estimator when ``estimable`` is true and both ``estimate`` and ``se`` are finite.
    estimands : pandas.DataFrame
        ``keys``, ``estimand``, ``estimand_mc_se`` and optionally ``exact`` and ``source``
        (:func:`estimand_table`).
    keys : sequence of str
        Columns that identify an estimator.

    Returns
    -------
    pandas.DataFrame
        One row per estimand, in the order of ``estimands``; columns
        :data:`PERFORMANCE_COLUMNS` (those of the inputs that exist).
    """
    keys = list(keys)
    estimates = with_robust_estimators(estimates)
    # replicates that ran: every rep that is not a failure
    reps_run = estimates.loc[estimates["family"] != "failure", "rep"].nunique()
    usable = estimates[
        estimates["estimable"].astype(bool) & np.isfinite(estimates["estimate"]) & np.isfinite(estimates["se"])
    ]
    groups = {k: g for k, g in usable.groupby(keys, sort=False, dropna=False)}
    rows = []
    for e in estimands.to_dict(orient="records"):
        key = tuple(e[k] for k in keys)
        g = groups.get(key)
        t = g["estimate"].to_numpy(float) if g is not None else np.empty(0)
        s = g["se"].to_numpy(float) if g is not None else np.empty(0)
        mc = float(e.get("estimand_mc_se", 0.0) or 0.0)
        row = {**e, "n_reps": reps_run, **_measures(t, s, float(e["estimand"]), mc)}
        rows.append(row)
    out = pd.DataFrame(rows)
    columns = list(PERFORMANCE_COLUMNS)
    for c in columns:
        if c not in out.columns:
            out[c] = np.nan
    out["bias_over_empse"] = out["bias"] / out["empse"]
    n = out["n_estimable"].astype(float)
    out["coverage_ok"] = coverage_distance(out["coverage"], n).abs() <= COVERAGE_LIMIT
    out["bias_ok"] = (out["bias_over_empse"].abs() < 0.1) | (out["bias"].abs() <= 2 * out["bias_total_se"])
    return out[columns]


#: Columns of :func:`published_percentiles`, with their meaning (results/simstudy_published).
PUBLISHED_COLUMNS = {
    "target": "published target (alsmeds.published.published_values)",
    "description": "what was published",
    "family": "estimator family of the replicates compared (risk or joint)",
    "model": "estimator's model",
    "exposure": "estimator's exposure",
    "term": "estimator's term",
    "published": "published odds or hazard ratio",
    "published_lower": "published lower 95% limit",
    "published_upper": "published upper 95% limit",
    "estimand_ratio": "exp(estimand): the ratio the estimator targets under the generator",
    "n_estimable": "replicates with an estimate",
    "median_ratio": "median of the replicates' ratios",
    "ratio_p2_5": "2.5th percentile of the replicates' ratios",
    "ratio_p97_5": "97.5th percentile of the replicates' ratios",
    "published_percentile": "percent of replicate estimates below the published ratio (ties count half)",
    "two_sided_p": "2 min(percentile, 100 - percentile) / 100: how unusual the published value is among the draws",
    "mean_log_ci_width": "mean width of our 95% intervals on the log scale (2 z se)",
    "published_log_ci_width": "width of the published 95% interval on the log scale",
    "ci_width_ratio": "mean_log_ci_width / published_log_ci_width (1: our design as informative as the paper's)",
    "published_in_ci": "share of replicate intervals that contain the published ratio",
}


def published_estimator_key(kind: str, comparison: str, drug_class: str, window: str) -> dict[str, str]:
    """The estimator of the simulation study that estimates a published ratio (the scorecard's).

    An odds ratio: the population comparison's adjusted model with one class, lagged exposure for ``gt1`` and the
    windows otherwise; a hazard ratio: the study's joint model's direct log hazard ratio (``joint_model``).
    """
    if kind == "odds_ratio":
        return {
            "family": "risk",
            "comparison": comparison,
            "model": "per_class",
            "exposure": "lagged" if window == "gt1" else "windows",
            "stratum": "all",
            "term": f"{drug_class}_{window}",
        }
    return {"family": "joint", "comparison": "", "model": "joint_model", "exposure": "ever", "stratum": "all",
            "term": f"surv:{drug_class}"}  # fmt: skip


def published_percentiles(estimates: pd.DataFrame, published: pd.DataFrame, estimands: pd.DataFrame) -> pd.DataFrame:
    """Where each published odds or hazard ratio sits among the replicate estimates of its estimator.

    Parameters
    ----------
    estimates : pandas.DataFrame
        Replicate estimates (log scale), as for :func:`performance_measures`.
    published : pandas.DataFrame
        :func:`alsmeds.published.published_values`; rows of kind ``odds_ratio`` are matched to
        the adjusted one-class-per-model population estimate of their window (``lagged`` for
        ``gt1``, ``windows`` otherwise), rows of kind ``hazard_ratio`` to the joint model's
        direct log hazard ratio ``surv:<class>`` (the published model).
    estimands : pandas.DataFrame
        :func:`estimand_table`.

    Returns
    -------
    pandas.DataFrame
        One row per published target, columns :data:`PUBLISHED_COLUMNS`.
    """
    usable = estimates[
        estimates["estimable"].astype(bool) & np.isfinite(estimates["estimate"]) & np.isfinite(estimates["se"])
    ]
    rows = []
    for p in published[published["kind"].isin(["odds_ratio", "hazard_ratio"])].itertuples(index=False):
        key = published_estimator_key(p.kind, p.comparison, p.drug_class, p.window)
        mask = np.ones(len(usable), dtype=bool)
        emask = np.ones(len(estimands), dtype=bool)
        for k, v in key.items():
            mask &= (usable[k] == v).to_numpy()
            emask &= (estimands[k] == v).to_numpy()
        t = usable.loc[mask, "estimate"].to_numpy(float)
        s = usable.loc[mask, "se"].to_numpy(float)
        estimand = estimands.loc[emask, "estimand"]
        log_pub = np.log(p.published)
        has_ci = pd.notna(p.published_lower) and pd.notna(p.published_upper)
        pub_width = np.log(p.published_upper) - np.log(p.published_lower) if has_ci else np.nan
        n = len(t)
        pct = 100 * (np.mean(t < log_pub) + 0.5 * np.mean(t == log_pub)) if n else np.nan
        width = float(np.mean(2 * Z_975 * s)) if n else np.nan
        rows.append(
            {
                "target": p.target,
                "description": p.description,
                "family": key["family"],
                "model": key["model"],
                "exposure": key["exposure"],
                "term": key["term"],
                "published": p.published,
                "published_lower": p.published_lower,
                "published_upper": p.published_upper,
                "estimand_ratio": float(np.exp(estimand.iloc[0])) if len(estimand) else np.nan,
                "n_estimable": n,
                "median_ratio": float(np.exp(np.median(t))) if n else np.nan,
                "ratio_p2_5": float(np.exp(np.percentile(t, 2.5))) if n else np.nan,
                "ratio_p97_5": float(np.exp(np.percentile(t, 97.5))) if n else np.nan,
                "published_percentile": pct,
                "two_sided_p": 2 * min(pct, 100 - pct) / 100 if n else np.nan,
                "mean_log_ci_width": width,
                "published_log_ci_width": pub_width,
                "ci_width_ratio": width / pub_width if has_ci else np.nan,
                "published_in_ci": float(np.mean(covers(t - Z_975 * s, t + Z_975 * s, log_pub))) if n else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=list(PUBLISHED_COLUMNS))


# -- the stored study and its summary ---------------------------------------------------------------------------


def stored_study_file() -> Path:
    """The stored simulation study: the committed ``results/simstudy_estimates.csv.gz`` (``alsmeds simstudy``)."""
    return paths.COMMITTED_RESULTS_DIR / ESTIMATES_FILE


def read_compact(path: str | Path) -> pd.DataFrame:
    """Read a compacted replicate file (:func:`alsmeds.simstudy.runner.write_compact`).

    Text columns are read as text (missing as ``""``), ``estimable`` as a boolean.
    """
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={c: str for c in _TEXT_COLUMNS})
    for c in _TEXT_COLUMNS:
        frame[c] = frame[c].fillna("")
    frame["estimable"] = frame["estimable"].astype(str).str.lower().isin(["true", "1"])
    return frame


def read_stored_replicates(path: str | Path | None = None) -> pd.DataFrame:
    """The stored study's replicates (default :func:`stored_study_file`, whatever folder a run writes its results to).

    Raises
    ------
    FileNotFoundError
        When the file is missing: ``alsmeds simstudy --reps 250 --results-dir results`` writes it.
    """
    path = Path(path) if path is not None else stored_study_file()
    if not path.is_file():
        raise FileNotFoundError(f"no stored simulation study {paths.display_path(path)}: run `alsmeds simstudy` first")
    return read_compact(path)


def summarise(replicates: pd.DataFrame, truth: Truth | Mapping | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Performance measures and published-value percentiles of stacked replicates (reads only).

    Parameters
    ----------
    replicates : pandas.DataFrame
        Stacked replicate estimates (:func:`read_compact`).
    truth : Truth or dict, optional
        The ``truth.json`` of the estimands (default the committed one).

    Returns
    -------
    (performance, published) : tuple of DataFrame
        :func:`performance_measures` against :func:`estimand_table` of ``truth``, and
        :func:`published_percentiles`.
    """
    estimands = estimand_table(truth)
    return (
        performance_measures(replicates, estimands),
        published_percentiles(replicates, published_values(), estimands),
    )


def write_summary(
    replicates: pd.DataFrame, results_dir: str | Path, truth: Truth | Mapping | None = None
) -> list[Path]:
    """Write the performance tables of stacked replicates into ``results_dir``.

    ``simstudy_performance.{csv,json}`` and ``simstudy_published.{csv,json}`` (records and a
    column schema, 8 significant digits; :func:`alsmeds.reporting.results.write_estimates`) of
    :func:`summarise`.
    """
    performance, published = summarise(replicates, truth)
    return write_estimates(performance, results_dir, "simstudy_performance", PERFORMANCE_COLUMNS) + write_estimates(
        published, results_dir, "simstudy_published", PUBLISHED_COLUMNS
    )


# -- tables for people (notebook 09) ----------------------------------------------------------------------------


def describe_replicates(replicates: pd.DataFrame) -> str:
    """Replicates, failures, cases per replicate and distinct seeds of a study, in one line.

    Examples
    --------
    ``"1,000 replicates, 0 failed, 1,057 cases each; seeds 1,000 distinct"`` (cases: the median of
    the replicates' ``n_cases`` diagnostic).
    """
    failed = int((replicates["family"] == "failure").sum())
    n_cases = replicates.loc[(replicates["family"] == "diagnostic") & (replicates["term"] == "n_cases"), "estimate"]
    cases = f"{int(n_cases.median()):,} cases each" if len(n_cases) else "no case count"
    return (
        f"{replicates['rep'].nunique():,} replicates, {failed:,} failed, {cases}; "
        f"seeds {replicates['seed'].nunique():,} distinct"
    )


def _keys(frame: pd.DataFrame) -> pd.DataFrame:
    """The estimator keys with a missing comparison as ``""`` (as a results file reads it back: missing)."""
    return frame.assign(comparison=frame["comparison"].fillna(""))


def family_performance(performance: pd.DataFrame) -> pd.DataFrame:
    """Per estimator family: estimators, replicates, how many pass each criterion, median coverage and model-SE error.

    Parameters
    ----------
    performance : DataFrame
        :func:`performance_measures` (or ``results/simstudy_performance.csv``).

    Returns
    -------
    DataFrame
        Indexed by the family's readable name (:data:`FAMILY_NAMES`): ``estimators``,
        ``replicates`` (the fewest estimable of its estimators), ``coverage_ok`` and ``bias_ok``
        (how many pass), ``median_coverage``, ``median_relerr_modse`` (percent).
    """
    by_family = performance.groupby("family", sort=False).agg(
        estimators=("term", "size"),
        replicates=("n_estimable", "min"),
        coverage_ok=("coverage_ok", "sum"),
        bias_ok=("bias_ok", "sum"),
        median_coverage=("coverage", "median"),
        median_relerr_modse=("relerr_modse", "median"),
    )
    return by_family.rename(index=FAMILY_NAMES)


def show_family_performance(performance: pd.DataFrame) -> Table:
    """:func:`family_performance` as a table for people (3 decimals)."""
    return show_table(
        family_performance(performance),
        caption="Performance by estimator family",
        digits=3,
        columns={
            "coverage_ok": "coverage OK",
            "bias_ok": "bias OK",
            "median_relerr_modse": "median rel. error of model SE (%)",
        },
    )


#: Columns of :func:`flagged_estimators`.
FLAGGED_COLUMNS = [
    "estimator", "estimand", "bias", "bias_total_se", "bias_over_empse", "relerr_modse", "relerr_modse_mcse",
    "coverage", "coverage_mcse", "be_coverage", "coverage_ok", "bias_ok",
]  # fmt: skip


def estimator_label(performance: pd.DataFrame) -> pd.Series:
    """One readable line per estimator: family, comparison, model, exposure, stratum and term, single-spaced."""
    keys = _keys(performance)
    label = keys["family"]
    for column in ESTIMATOR_KEYS[1:]:
        label = label + " " + keys[column].astype(str)
    return label.str.replace(r"\s+", " ", regex=True)


def flagged_estimators(performance: pd.DataFrame) -> pd.DataFrame:
    """The estimators outside a criterion (coverage or bias), columns :data:`FLAGGED_COLUMNS`.

    ``estimator`` is :func:`estimator_label`; the rows keep the order of ``performance``.
    """
    passed = performance["coverage_ok"].astype(bool) & performance["bias_ok"].astype(bool)
    return performance.assign(estimator=estimator_label(performance))[~passed][FLAGGED_COLUMNS]


def show_flagged(performance: pd.DataFrame) -> Table:
    """:func:`flagged_estimators`, captioned with how many of all the estimators they are (3 decimals)."""
    flagged = flagged_estimators(performance)
    return show_table(
        flagged, caption=f"{len(flagged)} of {len(performance)} estimators outside a criterion", index=False, digits=3
    )


def show_published_among_draws(published: pd.DataFrame) -> Table:
    """Each published ratio among the replicate estimates of its estimator (:func:`published_percentiles`)."""

    shown = published[
        ["target", "published", "estimand_ratio", "median_ratio", "ratio_p2_5", "ratio_p97_5",
         "published_percentile", "two_sided_p", "ci_width_ratio"]
    ]  # fmt: skip
    return show_table(
        shown.assign(target=shown["target"].map(ratio_target_name)),
        caption="The published ratios among the replicate estimates of the same estimator",
        index=False,
        digits=2,
        columns={
            "target": "Published target",
            "published": "Published",
            "estimand_ratio": "Estimand",
            "median_ratio": "Replicates: median",
            "ratio_p2_5": "2.5th pct",
            "ratio_p97_5": "97.5th pct",
            "published_percentile": "Published at pct",
            "two_sided_p": "two-sided p",
            "ci_width_ratio": "CI width ratio",
        },
    )


def draw_among_replicates(risk_models: pd.DataFrame, replicates: pd.DataFrame, term: str = "anxiolytics_1_5") -> str:
    """Where one data set's odds ratio sits among the replicates of the same estimator, in one sentence.

    The estimator: the adjusted one-class-per-model odds ratio of ``term`` against population
    controls (``risk_models.csv``), and the replicates' estimates of the same model (family
    ``risk``, stratum ``all``).  The share counts the replicates whose log odds ratio is at least
    the data set's (one-sided, upper).

    Parameters
    ----------
    risk_models : DataFrame
        ``results/risk_models.csv`` of the data set (e.g. the committed draw).
    replicates : DataFrame
        Stacked replicate estimates (:func:`read_compact`).
    term : str
        ``<class>_<window>``.

    Returns
    -------
    str
        The data set's OR, the share of replicates as large or larger and their median OR; or
        why it cannot be said.
    """
    ours = risk_models[
        (risk_models["comparison"] == "population") & (risk_models["model"] == "per_class")
        & (risk_models["adjustment"] == "adjusted") & (risk_models["term"] == term)
    ]  # fmt: skip
    draws = replicates[
        (replicates["family"] == "risk") & (replicates["comparison"] == "population")
        & (replicates["model"] == "per_class") & (replicates["stratum"] == "all") & (replicates["term"] == term)
        & replicates["estimable"].astype(bool)
    ]["estimate"]  # fmt: skip
    if ours.empty or not bool(ours["estimable"].iloc[0]) or not np.isfinite(ours["log_or"].iloc[0]) or draws.empty:
        return f"{term}: no estimate in the results or no replicate estimates"
    log_or = float(ours["log_or"].iloc[0])
    share = float((draws >= log_or).mean())
    return (
        f"committed estimate OR {np.exp(log_or):.2f}: {share:.1%} of {len(draws)} replicates are as large or larger "
        f"(median OR {np.exp(draws.median()):.2f})"
    )


def replicate_timings(replicates: pd.DataFrame) -> str:
    """Median wall time (s) of each step of a replicate, and of a whole replicate (machine-dependent)."""
    timing = replicates[replicates["family"] == "timing"]
    if timing.empty:
        return "no timings stored"
    steps = timing.groupby("term", sort=False)["estimate"].median()
    total = timing.groupby("rep")["estimate"].sum().median()
    return f"{steps.round(2).to_string()}\ntotal per replicate: {total:.1f} s"


@dataclass
class FewerReplicates:
    """The performance measures from the first replicates only, beside those from all (:func:`fewer_replicates`).

    Attributes
    ----------
    kept : int
        Replicates kept (the first, in the order they were run).
    subset : DataFrame
        :func:`performance_measures` of the kept replicates.
    side : DataFrame
        Per family (readable name): median bias and coverage MCSE, and the number of
        estimators flagged for coverage, with all replicates and with the kept ones, and the
        ratio of the coverage MCSEs.
    expected_ratio : float
        ``sqrt(all / kept)``: the ratio of Monte Carlo SEs expected from the numbers alone.
    """

    kept: int
    subset: pd.DataFrame
    side: pd.DataFrame
    expected_ratio: float


def fewer_replicates(
    replicates: pd.DataFrame, performance: pd.DataFrame, truth: Truth | Mapping | None, first: int
) -> FewerReplicates:
    """Recompute the performance measures from the first ``first`` replicates and set them beside all of them.

    Parameters
    ----------
    replicates : DataFrame
        Stacked replicate estimates.
    performance : DataFrame
        The measures of all replicates (:func:`performance_measures` or the results file).
    truth : Truth or dict or None
        The ``truth.json`` of the estimands (None: the committed one).
    first : int
        Replicates kept, in the order they were run (failed ones are skipped).

    Returns
    -------
    FewerReplicates
    """
    kept = sorted(replicates.loc[replicates["family"] != "failure", "rep"].unique())[:first]
    subset = performance_measures(replicates[replicates["rep"].isin(kept)], estimand_table(truth))
    n = len(kept)
    both = _keys(performance).merge(_keys(subset), on=ESTIMATOR_KEYS, suffixes=("", f" ({n})"))
    side = both.groupby("family", sort=False).agg(
        **{
            "bias MCSE (all)": ("bias_mcse", "median"),
            f"bias MCSE ({n})": (f"bias_mcse ({n})", "median"),
            "coverage MCSE (all)": ("coverage_mcse", "median"),
            f"coverage MCSE ({n})": (f"coverage_mcse ({n})", "median"),
            "flagged (all)": ("coverage_ok", lambda s: int((~s.astype(bool)).sum())),
            f"flagged ({n})": (f"coverage_ok ({n})", lambda s: int((~s.astype(bool)).sum())),
        }
    )
    side["coverage MCSE ratio"] = side[f"coverage MCSE ({n})"] / side["coverage MCSE (all)"]
    expected = float(np.sqrt(replicates["rep"].nunique() / max(n, 1)))
    return FewerReplicates(kept=n, subset=subset, side=side.rename(index=FAMILY_NAMES), expected_ratio=expected)


def show_fewer_replicates(fewer: FewerReplicates) -> Table:
    """:attr:`FewerReplicates.side` as a table for people (3 decimals)."""
    return show_table(
        fewer.side,
        caption=f"Medians per family: all replicates vs the first {fewer.kept}"
        " (flagged: coverage outside 2 MCSE of 95%)",
        digits=3,
    )


#: Estimators and measures shown across mechanisms in notebook 09: label -> (estimator, measure).
MECHANISM_ROWS: dict[str, tuple[str, str]] = {
    "joint model (normal outcome) alpha, coverage": ("joint/joint_model_normal/ever/all/alpha", "coverage"),
    "joint model (normal outcome) non-user slope, bias": ("joint/joint_model_normal/ever/all/long:months", "bias"),
    "mixed model non-user slope, bias": ("mixed/random_intercept_slope/ever/all/months", "bias"),
    "mixed model non-user slope, coverage": ("mixed/random_intercept_slope/ever/all/months", "coverage"),
    "joint model (normal outcome) antidepressants HR, model SE error (%)": (
        "joint/joint_model_normal/ever/all/surv:antidepressants",
        "relerr_modse",
    ),
    "Cox antidepressants (3 classes), model SE error (%)": ("cox/mutual/ever/all/use_antidepressants", "relerr_modse"),
    "Cox antidepressants (3 classes), coverage": ("cox/mutual/ever/all/use_antidepressants", "coverage"),
    "Cox antidepressants (3 classes), sandwich coverage": (
        "cox/mutual_robust/ever/all/use_antidepressants",
        "coverage",
    ),
    "population OR hypnotics >1 y, coverage": ("risk/population/per_class/lagged/all/hypnotics_gt1", "coverage"),
}


def mechanism_summary(performance: pd.DataFrame, rows: Mapping[str, tuple[str, str]] = MECHANISM_ROWS) -> pd.DataFrame:
    """Selected estimators' performance under each mechanism, as text with Monte Carlo SEs.

    Parameters
    ----------
    performance : DataFrame
        ``simstudy_mechanisms.csv`` (:func:`alsmeds.analyses.mechanisms.mechanism_performance`).
    rows : mapping of str to (str, str)
        Row label -> (estimator label, measure).

    Returns
    -------
    DataFrame
        One row per label, one column per mechanism (in the file's order): ``value (MC SE)``, coverage in percent,
        relative error of the model SE in percent points, a bias to 3 decimals; ``n.a.`` where the mechanism has
        no such estimator.
    """
    mechanisms = list(dict.fromkeys(performance["mechanism"]))
    indexed = performance.set_index(["mechanism", "estimator", "measure"])
    out = {}
    for label, (estimator, measure) in rows.items():
        cells = {}
        for mechanism in mechanisms:
            key = (mechanism, estimator, measure)
            if key not in indexed.index:
                cells[mechanism] = "n.a."
                continue
            value, mcse = float(indexed.loc[key, "value"]), float(indexed.loc[key, "mcse"])
            if measure in ("coverage", "be_coverage", "power"):
                cells[mechanism] = f"{percent(value, 1)} ({fixed(100 * mcse, 1)})"
            elif measure == "relerr_modse":
                cells[mechanism] = f"{signed(value, 1)} ({fixed(mcse, 1)})"
            else:
                cells[mechanism] = f"{signed(value, 3)} ({fixed(mcse, 3)})"
        out[label] = cells
    frame = pd.DataFrame.from_dict(out, orient="index")
    frame.index.name = "estimator, measure"
    return frame.reset_index()


def mechanism_replicates_text(performance: pd.DataFrame) -> str:
    """How many replicates each mechanism has, and the Monte Carlo SE that gives a 95% coverage."""
    reps = performance.groupby("mechanism", sort=False)["n_reps"].max()
    low, high = int(reps.min()), int(reps.max())
    count = f"{low}" if low == high else f"{low}-{high}"
    mcse = 100 * np.sqrt(0.95 * 0.05 / low)
    return (
        f"{len(reps)} mechanisms, {count} replicates each: a 95% coverage has a Monte Carlo SE of about "
        f"{fixed(mcse, 1)} points (the plan's target, 0.7 points, needs about 1,000: docs/simstudy.md)"
    )


def mechanism_lines(measure: str = "coverage") -> dict[str, str]:
    """The estimators of :data:`MECHANISM_ROWS` shown with ``measure``: estimator label -> short name for a legend."""
    return {e: label.removesuffix(f", {measure}") for label, (e, m) in MECHANISM_ROWS.items() if m == measure}
