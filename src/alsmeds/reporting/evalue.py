"""E-values: how strong unmeasured confounding would have to be to explain an association away.

VanderWeele & Ding (Ann Intern Med 2017;167:268-274): for an observed risk ratio ``RR > 1``, the
E-value ``RR + sqrt(RR (RR - 1))`` is the minimum strength of association, on the risk-ratio
scale, that an unmeasured confounder would need with both the exposure and the outcome,
conditional on the measured covariates, to move the risk ratio to 1.  For ``RR < 1`` the
reciprocal is used.  The E-value of a confidence interval is that of the limit nearer the null,
and 1 when the interval includes the null.

Other effect measures are first approximated by a risk ratio (VanderWeele & Ding 2017, Table):

* **odds ratio**: ``RR ~ OR`` for a rare outcome (the ALS risk analyses: ALS is rare), else
  ``RR ~ sqrt(OR)``;
* **hazard ratio**: ``RR ~ HR`` for a rare outcome, else (outcome over 15% by the end of
  follow-up, as death or invasive ventilation after an ALS diagnosis)
  ``RR ~ (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1/HR))``.

Notebook 03 shows the E-values of the main lagged estimates (:func:`evalue_frame` of the main
model, :func:`alsmeds.reporting.risk_tables.main_evalues`); notebook 08 those of the published
targets (:func:`evalue_table`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

MEASURES = ("risk_ratio", "odds_ratio", "hazard_ratio")


def approximate_risk_ratio(estimate: float, measure: str = "risk_ratio", rare_outcome: bool = True) -> float:
    """The risk ratio an odds or hazard ratio approximates (module docstring).

    Raises
    ------
    ValueError
        For an unknown measure or a non-positive ratio.
    """
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, not {measure!r}")
    if not estimate > 0:
        raise ValueError(f"a ratio must be positive, not {estimate!r}")
    if measure == "risk_ratio" or rare_outcome:
        return float(estimate)
    if measure == "odds_ratio":
        return math.sqrt(estimate)
    return (1 - 0.5 ** math.sqrt(estimate)) / (1 - 0.5 ** math.sqrt(1 / estimate))


def evalue_of_ratio(rr: float) -> float:
    """E-value of a risk ratio: ``RR + sqrt(RR (RR - 1))`` for ``RR >= 1``, of ``1 / RR`` below 1."""
    if not rr > 0:
        raise ValueError(f"a risk ratio must be positive, not {rr!r}")
    rr = rr if rr >= 1 else 1 / rr
    return rr + math.sqrt(rr * (rr - 1))


def evalues(
    estimate: float,
    lower: float | None = None,
    upper: float | None = None,
    measure: str = "risk_ratio",
    rare_outcome: bool = True,
) -> pd.Series:
    """E-values of a point estimate and of its confidence interval.

    Parameters
    ----------
    estimate, lower, upper : float
        The ratio and its confidence limits (limits may be None or missing).
    measure : {"risk_ratio", "odds_ratio", "hazard_ratio"}
    rare_outcome : bool
        Whether the outcome is rare (under about 15%) by the end of follow-up.

    Returns
    -------
    Series
        ``rr`` (the approximated risk ratio), ``evalue_estimate`` and ``evalue_ci`` (the limit
        nearer 1; 1 when the interval includes 1; missing without limits).
    """
    rr = approximate_risk_ratio(estimate, measure, rare_outcome)
    out = {"rr": rr, "evalue_estimate": evalue_of_ratio(rr), "evalue_ci": np.nan}
    if lower is not None and upper is not None and np.isfinite(lower) and np.isfinite(upper):
        lo = approximate_risk_ratio(lower, measure, rare_outcome)
        hi = approximate_risk_ratio(upper, measure, rare_outcome)
        if lo <= 1 <= hi:
            out["evalue_ci"] = 1.0
        else:
            out["evalue_ci"] = evalue_of_ratio(lo if rr > 1 else hi)
    return pd.Series(out)


#: Columns :func:`evalue_frame` adds to the estimates.
EVALUE_COLUMNS = ["rr", "evalue_estimate", "evalue_ci"]


def evalue_frame(
    estimates: pd.DataFrame,
    measure: str = "odds_ratio",
    rare_outcome: bool = True,
    columns: tuple[str, str, str] = ("odds_ratio", "ci_lower", "ci_upper"),
) -> pd.DataFrame:
    """E-values of every row of a results frame (e.g. the risk models' estimates), added as columns.

    Parameters
    ----------
    estimates : DataFrame
        One estimate per row, with the ratio and its confidence limits in ``columns``; rows
        with ``estimable`` False (when the column exists) or a missing ratio get missing E-values.
    measure : {"risk_ratio", "odds_ratio", "hazard_ratio"}
    rare_outcome : bool
        Whether the outcome is rare by the end of follow-up (ALS: yes, so an odds ratio is
        read as a risk ratio).
    columns : (str, str, str)
        The estimate, lower and upper limit columns.

    Returns
    -------
    DataFrame
        A copy of ``estimates`` with :data:`EVALUE_COLUMNS` (see :func:`evalues`).
    """
    estimate, lower, upper = columns
    ok = estimates[estimate].notna() & (estimates[estimate] > 0)
    if "estimable" in estimates.columns:
        ok &= estimates["estimable"].astype(bool)
    out = estimates.copy()
    for column in EVALUE_COLUMNS:
        out[column] = np.nan
    for i in out.index[ok]:
        e = evalues(out.at[i, estimate], out.at[i, lower], out.at[i, upper], measure, rare_outcome)
        out.loc[i, EVALUE_COLUMNS] = e[EVALUE_COLUMNS].to_numpy(dtype=float)
    return out


def evalue_table(card: pd.DataFrame) -> pd.DataFrame:
    """E-values of the published ratios and of ours, one row per target of a reproduction scorecard.

    Odds ratios of ALS are treated as risk ratios (a rare outcome); hazard ratios of death or
    invasive ventilation, common after an ALS diagnosis, are converted by the common-outcome
    approximation (module docstring).

    Parameters
    ----------
    card : DataFrame
        :func:`alsmeds.reporting.reproduction.scorecard` (rows of kind ``odds_ratio`` and ``hazard_ratio``).

    Returns
    -------
    DataFrame
        ``target``, ``measure``, ``rare_outcome``, and for the published estimate and ours the
        E-value of the estimate and of the CI limit nearer 1.
    """
    rows = []
    for r in card[card["kind"].isin(["odds_ratio", "hazard_ratio"])].itertuples():
        rare = r.kind == "odds_ratio"
        published = evalues(r.published, r.published_lower, r.published_upper, r.kind, rare)
        row = {
            "target": r.target,
            "measure": r.kind,
            "rare_outcome": rare,
            "published_evalue": published["evalue_estimate"],
            "published_evalue_ci": published["evalue_ci"],
            "our_evalue": np.nan,
            "our_evalue_ci": np.nan,
        }
        if np.isfinite(r.estimate) and r.estimate > 0:
            ours = evalues(r.estimate, r.ci_lower, r.ci_upper, r.kind, rare)
            row.update(our_evalue=ours["evalue_estimate"], our_evalue_ci=ours["evalue_ci"])
        rows.append(row)
    return pd.DataFrame(rows)
