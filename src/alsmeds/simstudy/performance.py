"""Performance measures of a simulation study, with Monte Carlo standard errors.

Following Morris, White & Crowther, "Using simulation studies to evaluate statistical
methods", Stat Med 2019;38:2074-2102 (Table 6).  For one estimator, with ``n`` replicates
that gave an estimate ``t_i`` with model standard error ``s_i`` of an estimand ``theta``:

* bias: ``mean(t) - theta``; MCSE ``EmpSE / sqrt(n)``;
* empirical SE (EmpSE): ``sd(t)`` (``n - 1`` divisor); MCSE ``EmpSE / sqrt(2 (n - 1))``;
* model SE (ModSE): ``sqrt(mean(s^2))``; MCSE ``sqrt(var(s^2) / (4 n ModSE^2))``;
* relative error of ModSE: ``100 (ModSE / EmpSE - 1)`` percent; MCSE
  ``100 (ModSE / EmpSE) sqrt(var(s^2) / (4 n ModSE^4) + 1 / (2 (n - 1)))``;
* coverage: ``C = mean(|t - theta| <= z s)``; MCSE ``sqrt(C (1 - C) / n)``;
* bias-eliminated coverage: ``mean(|t - mean(t)| <= z s)``; MCSE likewise;
* power (rejection rate): ``P = mean(|t| > z s)``; MCSE ``sqrt(P (1 - P) / n)``;

with ``z`` the 97.5% normal quantile (:data:`alsmeds.models.base.Z_975`): the Wald intervals
and tests of the models.  Power is the share of replicates whose 95% interval excludes 0 (a
null hypothesis of no effect), whatever the estimand: where the estimand is 0 it is the type
I error.

An implied estimand has its own Monte Carlo error (``estimand_mc_se``, from the generator's
large-sample fit); :func:`performance_measures` adds it to the bias's MCSE in ``bias_total_se``
before judging whether the bias is distinguishable from 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from alsmeds.models.base import Z_975
from alsmeds.truth import covers

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
        (:func:`alsmeds.simstudy.estimands.estimand_table`).
    keys : sequence of str
        Columns that identify an estimator.

    Returns
    -------
    pandas.DataFrame
        One row per estimand, in the order of ``estimands``; columns
        :data:`PERFORMANCE_COLUMNS` (those of the inputs that exist).
    """
    keys = list(keys)
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
    nominal_mcse = np.sqrt(NOMINAL * (1 - NOMINAL) / n)
    out["coverage_ok"] = (out["coverage"] - NOMINAL).abs() <= 2 * nominal_mcse
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
        :func:`alsmeds.simstudy.estimands.estimand_table`.

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
        if p.kind == "odds_ratio":
            key = {
                "family": "risk",
                "comparison": p.comparison,
                "model": "per_class",
                "exposure": "lagged" if p.window == "gt1" else "windows",
                "stratum": "all",
                "term": f"{p.drug_class}_{p.window}",
            }
        else:
            key = {
                "family": "joint",
                "model": "joint_model",
                "stratum": "all",
                "term": f"surv:{p.drug_class}",
                "exposure": "ever",
            }
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
