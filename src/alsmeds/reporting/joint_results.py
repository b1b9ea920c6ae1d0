"""The joint model's results beside their references, and the material of notebook 07's figures.

* :func:`prognosis_estimates` -- hazard ratios of prediagnostic use from the joint model, the
  two-stage model and notebook 05's Cox model (adjusted for the ALSFRS-R at diagnosis, not for the
  trajectory after it), one row per class and source (the forest plot).
* :func:`beside_references` -- the joint model's direct hazard ratios beside the Cox total effect,
  the published joint-model estimate and the planted direct effect.
* :func:`two_stage_rows` -- the two-stage fit as rows of the results file.
* :func:`example_patients` and :func:`dynamic_curves` -- two patients whose predicted survival is
  updated visit by visit.
* :func:`read_cox_total` -- notebook 05's Cox estimates, read from its results file (not refitted).
* :func:`association_contrast` -- alpha of the joint and two-stage models side by side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES
from alsmeds.models.base import wald_frame
from alsmeds.models.joint.prediction import dynamic_survival
from alsmeds.models.joint.prognosis import JOINT_MODEL_RESULT_COLUMNS, AlsJointResult
from alsmeds.models.joint.two_stage import PREDICTED_SCORE, TwoStageResult
from alsmeds.reporting.survival_results import SURVIVAL_COX_FILE
from alsmeds.truth import distance_z

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

    Returns
    -------
    DataFrame
        Indexed by class: ``joint HR``, ``joint 95% CI``, ``Cox HR (total)``, ``published HR``,
        ``published 95% CI`` ("not available to us" when our sources do not give it); with the
        truth ``implied total HR``, ``planted direct HR`` and ``z (joint - planted)`` =
        :func:`alsmeds.truth.distance_z` (the planted direct effect is exact: Monte Carlo SE 0).
    """

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
    cox = pd.read_csv(path)
    rows = cox[(cox["model"] == "mutual") & cox["is_exposure"].astype(bool)].copy()
    if rows.empty or int(rows["n"].iloc[0]) != int(n_cases):
        return None, f"{path.name} describes other data (not {n_cases:,} cases): rerun notebook 05"
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
