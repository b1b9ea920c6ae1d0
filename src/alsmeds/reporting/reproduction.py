"""The reproduction scorecard: every published target beside the planted truth and this bundle's estimate.

Reads the results files of the analyses (``results/``: no model is refitted) and the
published values (:mod:`alsmeds.published`), and gives one row per target
(:data:`REPRODUCTION_COLUMNS`) with a status by a documented rule; the analysis
``reproduction`` (:mod:`alsmeds.analyses.report`) writes them to ``reproduction.{csv,json}``:

* **Odds and hazard ratios** (the nine published estimates).  On the log scale, with the
  published SE taken from the published 95% CI (``(log upper - log lower) / (2 x 1.96)``)
  and ours from our CI, ``z = (log ours - log published) / sqrt(se_ours^2 + se_published^2)``
  (our SE alone when the published CI is not available).

  - *reproduced*: on the same side of 1 as the published estimate and ``|z| <= 1.96``
    (``z_limit`` of :func:`scorecard`);
  - *direction only*: on the same side of 1 but ``|z| > 1.96``;
  - *not reproduced*: on the other side of 1 (or exactly 1);
  - *not estimable*: no estimate (the reason is carried).

  The combined SE asks whether two *independent* estimates are compatible with one common value,
  the right question when a new data set replicates a published estimate.  It is looser than
  "our 95% CI covers the published value" (``published_in_ci``), which treats the published value
  as exact: two unbiased estimates of one value with equal SEs fall outside each other's CI about
  one time in six.  On synthetic data calibrated to the published values the published value is
  the generator's target, not an independent draw, so there the stricter readings are
  ``published_in_ci`` and the distance from the planted value (:func:`distance_from_planted`).

  ``ci_width_ratio`` is the width of our 95% CI over the published one on the log scale: near 1
  when the synthetic design carries the paper's information.

  Which interval is ours (``interval``): the model-based one for the odds ratios (the conditional
  logistic intervals cover 95% in the simulation study), the robust (sandwich) one for the joint
  model's hazard ratios, with the model-based one beside it (``model_ci_lower``, ``model_ci_upper``).
  The joint model reads whole ALSFRS-R points piled at the scale's ends as a censored normal
  outcome, which they are only approximately; the sandwich does not need the model to be right
  (:mod:`alsmeds.models.joint.sandwich`), and the simulation study measures both intervals' coverage.
* **Design counts and descriptives** (cases, controls, relatives; age, sex, ALSFRS-R at
  diagnosis, follow-up).  On synthetic data (a ``truth`` given) they are inputs of the generator
  or targets it was calibrated to (:data:`CALIBRATED_INPUTS`): their status is *calibrated input*,
  never *reproduced*, and ``note`` says whether the generator hit its input (a count equal, a
  descriptive within :data:`DESCRIPTIVE_TOLERANCE`).  On a real extract (no truth) they are
  findings: a count is *reproduced* when equal, a descriptive within
  :data:`DESCRIPTIVE_TOLERANCE` (10%; ``descriptive_tolerance`` of :func:`scorecard`) of the
  published value, else *not reproduced*.
* **Qualitative findings**: a rule per finding, stated in its ``rule`` (:func:`qualitative_verdicts`).
  A finding about a *difference* (stronger under 65, weaker for hypnotics in relatives) is judged
  by the interval of a ratio of odds ratios, never by a difference of point estimates or by one
  stratum's interval including 1; a finding of *no difference* (consistent in men and women,
  similar in relatives) can only be found not contradicted, and the intervals say how large a
  difference the data leave open.

What agreement means: the generator was calibrated so that its population estimands land near
the published odds ratios and its direct hazard ratios equal the published ones, so agreement of
the estimates tests the pipeline and the information in the design, not the biology.

Showing the report (notebook 08): :func:`split_report` reads the scorecard and the verdicts back
out of ``reproduction.csv``; ``show_*`` functions give each table for people
(:class:`alsmeds.reporting.display.Table`), :func:`explain_misses`, :func:`information_note`,
:func:`weakest_published_interval` and :func:`relatives_check` the sentences beside them, and
:func:`status_under_rules` the scorecard under another rule.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES
from alsmeds.formatting import fixed, format_p, format_ratio, signed
from alsmeds.labels import CLASS_NAMES, WINDOW_NAMES, label
from alsmeds.models.base import Z_975
from alsmeds.models.risk import main_estimates, select_estimates
from alsmeds.published import published_values
from alsmeds.reporting.display import Table, show_table
from alsmeds.reporting.evalue import evalue_table
from alsmeds.truth import Truth, as_truth, covers, distance_z

#: Relative distance within which a descriptive (age, sex, score, follow-up) counts as reproduced.
DESCRIPTIVE_TOLERANCE = 0.10

#: The statuses: three of agreement, one for the generator's own inputs, one for a missing estimate.
STATUSES = ("reproduced", "direction only", "not reproduced", "calibrated input", "not estimable")

#: Targets that are inputs of the synthetic data's generator or targets it was calibrated to: on
#: synthetic data their status is *calibrated input* (never *reproduced*), with how in ``note``.
CALIBRATED_INPUTS: dict[str, str] = {
    "count:cases": "design input (planted)",
    "count:population_controls": "design input (planted)",
    "count:siblings": "design input (planted)",
    "count:cases_with_siblings": "design input (planted)",
    "count:spouses": "design input (planted)",
    "cases:age_mean": "calibration target of the source population's age",
    "cases:age_sd": "calibration target of the source population's age",
    "cases:male_percent": "calibration target of the source population's sex ratio",
    "cases:alsfrs_at_diagnosis": "generator input (mean of the planted ALSFRS-R intercept)",
    "followup:median": "calibration target of the baseline hazard",
}

#: Columns of ``results/reproduction.csv`` and ``.json``.
REPRODUCTION_COLUMNS: dict[str, str] = {
    "target": "id of the published target (src/alsmeds/published_values.csv)",
    "kind": "odds_ratio, hazard_ratio, count or descriptive",
    "description": "what the target is",
    "label": "P published, D derived arithmetically from published values, A assumed",
    "published": "published value",
    "published_lower": "published 95% CI lower limit (interquartile range for follow-up); empty when not available",
    "published_upper": "published 95% CI upper limit (or upper quartile)",
    "planted": "the value planted in (or numerically implied by) the synthetic data; empty for a real extract",
    "estimate": "this bundle's estimate on the data the notebooks were run on",
    "ci_lower": "its 95% CI lower limit (lower quartile for follow-up)",
    "ci_upper": "its 95% CI upper limit (upper quartile for follow-up)",
    "interval": "which 95% CI ci_lower and ci_upper are (ratios only): model-based (inverse information) for the "
    "odds ratios, robust (sandwich, each patient a cluster) for the joint model's hazard ratios, valid when the model "
    "is misspecified; the simulation study measures the coverage of both (notebook 09)",
    "model_ci_lower": "the model-based 95% CI lower limit, beside the robust one (ratios only)",
    "model_ci_upper": "the model-based 95% CI upper limit (ratios only)",
    "ci_width_ratio": "width of our 95% CI over the published one, log scale (ratios only)",
    "z": "(log ours - log published) / combined SE (ratios only)",
    "published_in_ci": "true when the published value lies inside our 95% CI (ratios only): stricter than the status "
    "rule, which allows for the published value's own error",
    "status": "reproduced, direction only, not reproduced, calibrated input (a generator input or calibration "
    "target, synthetic data only) or not estimable (rules in alsmeds.reporting.reproduction)",
    "note": "the reason when not estimable; the source of the estimate; for a calibrated input, what kind and "
    "whether the generator hit it",
    "calibrated_estimate": "odds ratios: the estimate after empirical calibration with the panel of negative and "
    "positive controls (empirical_calibration.csv; not to be confused with the status 'calibrated input')",
    "calibrated_ci_lower": "its calibrated 95% CI lower limit",
    "calibrated_ci_upper": "its calibrated 95% CI upper limit",
    "calibrated_p": "calibrated p-value against the empirical null of the same comparison and term",
    "after_calibration": "raised, lowered or not shown after calibration (the calibrated CI above, below or "
    "including 1); 'diagnostics fail: ...' when the null's expected absolute systematic error is above its "
    "threshold (the calibrated numbers are then shown but not read); 'not calibrated: ...' with the reason",
    "diagnostics": "the comparison's study diagnostics: EASE against its threshold, minimum detectable OR "
    "(uncalibrated and calibrated) and covariate balance (largest SMD of Table 1)",
}

#: Why the published hazard ratios are not calibrated.
NOT_CALIBRATED_HAZARD = (
    "not calibrated: the panel's controls are exposures of the risk models, not of survival after diagnosis"
)

#: Columns of the qualitative verdicts.
VERDICT_COLUMNS = ["target", "description", "status", "rule", "evidence", "after_calibration"]


def _calibration_files(results_dir: Path) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """``empirical_calibration.csv`` and its diagnostics (``empirical_calibration.json``), or None."""
    estimates = _read_csv(results_dir, "empirical_calibration")
    payload = _read_json(results_dir, "empirical_calibration")
    diagnostics = pd.DataFrame(payload["diagnostics"]) if payload and payload.get("diagnostics") else None
    return estimates, diagnostics


def diagnostics_text(diagnostic: Mapping[str, Any]) -> str:
    """One comparison and term's study diagnostics in a line: EASE, minimum detectable OR, balance."""
    parts = []
    ease, threshold = diagnostic.get("ease"), diagnostic.get("ease_threshold")
    if ease is not None and np.isfinite(ease):
        parts.append(f"EASE {fixed(ease, 2)} ({'passes' if ease <= threshold else 'fails'} at {fixed(threshold, 2)})")
    else:
        parts.append(f"EASE not estimable ({diagnostic.get('reason') or 'no null'})")
    mdrr, mdrr_c = diagnostic.get("min_detectable_or"), diagnostic.get("min_detectable_or_calibrated")
    if mdrr is not None and np.isfinite(mdrr):
        parts.append(f"minimum detectable OR {fixed(mdrr, 2)} (calibrated {fixed(mdrr_c, 2)})")
    smd = diagnostic.get("balance_max_smd")
    if smd is not None and np.isfinite(smd):
        verdict = "passes" if diagnostic.get("balance_pass") else "fails"
        parts.append(
            f"balance {verdict} at {fixed(diagnostic['balance_threshold'], 2)}: largest SMD {fixed(smd, 2)} "
            f"({diagnostic['balance_variable']}, {diagnostic['balance_handled']})"
        )
    return "; ".join(parts)


def after_calibration(lower: float, upper: float, diagnostic: Mapping[str, Any] | None) -> str:
    """What a calibrated 95% CI shows, or why it is not read (EASE above its threshold).

    ``raised after calibration`` (lower limit above 1), ``lowered after calibration`` (upper limit
    below 1), ``not shown after calibration`` (the CI includes 1); ``diagnostics fail: EASE ...``
    when the empirical null's expected absolute systematic error is above the threshold: OHDSI
    does not unblind such an estimate, and neither does this verdict.
    """
    if diagnostic is None:
        return "not calibrated: no diagnostics for this comparison and term"
    ease, threshold = diagnostic.get("ease"), diagnostic.get("ease_threshold")
    if ease is None or not np.isfinite(ease):
        return f"not calibrated: {diagnostic.get('reason') or 'no empirical null'}"
    if ease > threshold:
        return f"diagnostics fail: EASE {fixed(ease, 2)} above {fixed(threshold, 2)}"
    if not (np.isfinite(lower) and np.isfinite(upper)):
        return "not calibrated: no calibrated interval"
    if lower > 1:
        return "raised after calibration"
    if upper < 1:
        return "lowered after calibration"
    return "not shown after calibration"


#: Why the other qualitative findings are not judged after calibration.
NOT_CALIBRATED_FINDINGS = {
    "finding:under_65": "not calibrated: a ratio of odds ratios between strata of one comparison; the panel does "
    "not estimate the systematic error per stratum",
    "finding:men_and_women": "not calibrated: a ratio of odds ratios between strata of one comparison; the panel "
    "does not estimate the systematic error per stratum",
    "finding:relatives": "not calibrated: a ratio of two comparisons' estimates needs the joint distribution of "
    "their systematic errors, which the panel does not estimate",
    "finding:prognosis": NOT_CALIBRATED_HAZARD,
    "finding:decline": "not calibrated: the panel's controls are exposures of the risk models, not of the decline",
}


def _windows_after_calibration(results_dir: Path) -> str:
    """The every-window finding after calibration: the population windows' calibrated CIs, by EASE-passing terms."""
    estimates, diagnostics = _calibration_files(results_dir)
    if estimates is None or diagnostics is None:
        return "not calibrated: no results/empirical_calibration.csv"
    cells = estimates[(estimates["comparison"] == "population") & estimates["window"].isin(["0_1", "1_5", "gt5"])]
    cells = cells[np.isfinite(cells["calibrated_ci_lower"].astype(float))]
    if cells.empty:
        return "not calibrated: no calibrated window"
    readable, failing = [], []
    for window, group in cells.groupby("window", sort=True):
        found = diagnostics[(diagnostics["comparison"] == "population") & (diagnostics["window"] == window)]
        verdict = after_calibration(1.0, 1.0, found.iloc[0].to_dict() if len(found) else None)  # the gate only
        if verdict.startswith("diagnostics fail") or verdict.startswith("not calibrated"):
            failing.append(f"{WINDOW_NAMES.get(window, window)} ({verdict})")
        else:
            readable.append(group)
    parts = []
    if readable:
        read = pd.concat(readable)
        above = int((read["calibrated_ci_lower"] > 1).sum())
        parts.append(f"{above} of {len(read)} calibrated ORs with a CI above 1 in the windows whose diagnostics pass")
    if failing:
        parts.append("not read: " + ", ".join(failing))
    return "; ".join(parts)


def _calibrated_ratio(
    target: pd.Series, estimates: pd.DataFrame | None, diagnostics: pd.DataFrame | None
) -> dict[str, Any]:
    """The scorecard's calibration columns of one published ratio (see :data:`REPRODUCTION_COLUMNS`)."""
    if target["kind"] == "hazard_ratio":
        return {"after_calibration": NOT_CALIBRATED_HAZARD}
    if estimates is None or diagnostics is None:
        return {"after_calibration": "not calibrated: no results/empirical_calibration.csv"}
    row = estimates[estimates["published_target"] == target["target"]]
    if row.empty:
        return {"after_calibration": "not calibrated: no calibrated row for this target"}
    r = row.iloc[0]
    found = diagnostics[(diagnostics["comparison"] == r["comparison"]) & (diagnostics["window"] == r["window"])]
    diagnostic = found.iloc[0].to_dict() if len(found) else None
    return {
        "calibrated_estimate": r["calibrated_odds_ratio"],
        "calibrated_ci_lower": r["calibrated_ci_lower"],
        "calibrated_ci_upper": r["calibrated_ci_upper"],
        "calibrated_p": r["calibrated_p"],
        "after_calibration": after_calibration(r["calibrated_ci_lower"], r["calibrated_ci_upper"], diagnostic),
        "diagnostics": diagnostics_text(diagnostic) if diagnostic else "",
    }


def _read_csv(results_dir: Path, name: str) -> pd.DataFrame | None:
    path = results_dir / f"{name}.csv"
    return pd.read_csv(path, keep_default_na=True) if path.is_file() else None


def _read_json(results_dir: Path, name: str) -> dict | None:
    path = results_dir / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _se_from_ci(lower: float, upper: float) -> float:
    if lower is None or upper is None or not (np.isfinite(lower) and np.isfinite(upper)) or lower <= 0:
        return np.nan
    return (np.log(upper) - np.log(lower)) / (2 * Z_975)


def ratio_status(
    estimate: float,
    lower: float,
    upper: float,
    published: float,
    pub_lower: Any,
    pub_upper: Any,
    z_limit: float = Z_975,
) -> dict:
    """z, CI-width ratio, whether our CI covers the published value, and status of one ratio target.

    Rules in the module docstring.  ``z_limit`` is the largest ``|z|`` that still counts as
    *reproduced* (1.96 by the stated rule).

    Returns
    -------
    dict
        ``z``, ``ci_width_ratio``, ``published_in_ci`` (bool; missing without our CI) and ``status``.
    """
    if estimate is None or not np.isfinite(estimate) or estimate <= 0:
        return {"z": np.nan, "ci_width_ratio": np.nan, "published_in_ci": None, "status": "not estimable"}
    covered = covers(lower, upper, published) if np.isfinite(lower) and np.isfinite(upper) else None
    se_ours = _se_from_ci(lower, upper)
    pub_lower = np.nan if pub_lower is None or pd.isna(pub_lower) else float(pub_lower)
    pub_upper = np.nan if pub_upper is None or pd.isna(pub_upper) else float(pub_upper)
    se_pub = _se_from_ci(pub_lower, pub_upper)
    combined = np.sqrt(se_ours**2 + (se_pub**2 if np.isfinite(se_pub) else 0.0))
    z = (np.log(estimate) - np.log(published)) / combined if combined > 0 else np.nan
    same_side = np.sign(np.log(estimate)) == np.sign(np.log(published)) and estimate != 1
    if not same_side:
        status = "not reproduced"
    elif np.isfinite(z) and abs(z) <= z_limit:
        status = "reproduced"
    else:
        status = "direction only"
    width = se_ours / se_pub if np.isfinite(se_pub) and se_pub > 0 else np.nan
    return {"z": float(z), "ci_width_ratio": float(width), "published_in_ci": covered, "status": status}


def _planted_ratio(target: pd.Series, truth: Truth | None) -> float:
    if truth is None:
        return np.nan
    if target["kind"] == "odds_ratio":
        term = f"{target['drug_class']}_{target['window']}"
        rows = [r for r in truth.published_vs_implied if r.get("term") == term]
        return float(rows[0]["implied_or"]) if rows else np.nan
    direct = truth.planted_log_hr_direct_by_class if "prognosis" in truth.estimands else {}
    return float(np.exp(direct[target["drug_class"]])) if target["drug_class"] in direct else np.nan


def _ratio_estimate(target: pd.Series, results: dict[str, pd.DataFrame | None]) -> dict:
    if target["kind"] == "odds_ratio":
        risk = results["risk_models"]
        source = "results/risk_models.csv: population controls, one class per model, adjusted"
        if risk is None:
            return {"note": "no results/risk_models.csv (run notebook 03)"}
        sel = main_estimates(risk, exposure=None, drug_class=target["drug_class"], window=target["window"])
        columns = ("odds_ratio", "ci_lower", "ci_upper")
    else:
        joint = results["joint_model"]
        source = "results/joint_model.csv: joint model, direct hazard ratio"
        if joint is None:
            return {"note": "no results/joint_model.csv (run notebook 07)"}
        sel = joint[
            (joint["model"] == "joint_model")
            & (joint["component"] == "survival")
            & (joint["term"] == target["drug_class"])
        ]
        columns = ("hazard_ratio", "hazard_ratio_lower", "hazard_ratio_upper")
    if sel.empty:
        return {"note": f"{source}: no row"}
    r = sel.iloc[0]
    if not bool(r["estimable"]):
        return {"note": f"not estimable: {r['reason']}"}
    found = {
        "estimate": r[columns[0]],
        "ci_lower": r[columns[1]],
        "ci_upper": r[columns[2]],
        "interval": "model-based",
        "model_ci_lower": r[columns[1]],
        "model_ci_upper": r[columns[2]],
        "note": source,
    }
    robust = [r.get(f"robust_hazard_ratio_{side}", np.nan) for side in ("lower", "upper")]
    if target["kind"] == "hazard_ratio" and np.all(np.isfinite(pd.to_numeric(pd.Series(robust), errors="coerce"))):
        # The joint model's sandwich interval leads: valid when the model is misspecified (module docstring).
        found.update(ci_lower=robust[0], ci_upper=robust[1], interval="robust (sandwich)")
    return found


def _design_estimate(target: pd.Series, cohort: dict | None, followup: dict | None) -> dict:
    name = target["target"]
    if name.startswith("count:") or name.startswith("cases:") and name != "cases:alsfrs_at_diagnosis":
        if cohort is None:
            return {"note": "no results/01_cohort.json (run notebook 01)"}
        counts = {r["role"]: r for r in cohort.get("counts", [])}
        cases = next((r for r in cohort.get("demographics", []) if r["role"] == "case"), None)
        value = {
            "count:cases": counts.get("case", {}).get("people"),
            "count:population_controls": counts.get("population_control", {}).get("people"),
            "count:siblings": counts.get("sibling", {}).get("people"),
            "count:cases_with_siblings": counts.get("sibling", {}).get("matched_sets"),
            "count:spouses": counts.get("spouse", {}).get("people"),
            "cases:age_mean": cases and cases.get("age_mean"),
            "cases:age_sd": cases and cases.get("age_sd"),
            "cases:male_percent": cases and cases.get("male_percent"),
        }[name]
        return {"estimate": value, "note": "results/01_cohort.json"}
    if followup is None:
        return {"note": "no results/followup.json (run notebook 05)"}
    fu = followup.get("followup", {})
    if name == "cases:alsfrs_at_diagnosis":
        return {"estimate": (fu.get("alsfrs_at_diagnosis") or {}).get("mean"), "note": "results/followup.json"}
    observed = fu.get("observed_followup_years", {})
    return {
        "estimate": observed.get("median"),
        "ci_lower": observed.get("q1"),
        "ci_upper": observed.get("q3"),
        "note": "results/followup.json (median and quartiles)",
    }


def _planted_design(target: pd.Series, truth: Truth | None) -> float:
    if truth is None:
        return np.nan
    design = truth.parameters.get("design", {})
    planted = {
        "count:cases": design.get("n_cases"),
        "count:cases_with_siblings": design.get("n_cases_with_siblings"),
        "count:siblings": design.get("n_siblings"),
        "count:spouses": design.get("n_spouses"),
        "cases:alsfrs_at_diagnosis": truth.parameters.get("prognosis", {}).get("intercept_mean"),
    }
    if "n_cases" in design:
        planted["count:population_controls"] = (
            design["n_cases"] * design["controls_per_case"] - design["n_cases_with_four_controls"]
        )
    value = planted.get(target["target"])
    return float(value) if value is not None else np.nan


def _design_status(target: pd.Series, value: Any, synthetic: bool, tolerance: float) -> dict:
    """Status of a count or descriptive target (module docstring); on synthetic data, what kind of input it is."""
    if value is None or not np.isfinite(float(value)):
        return {"status": "not estimable"}
    published = float(target["published"])
    if target["kind"] == "count":
        agrees = float(value) == published
        how = "equal to the published value" if agrees else "not equal to the published value"
    else:
        distance = abs(float(value) - published) / abs(published)
        agrees = distance <= tolerance
        within = "within" if agrees else "outside"
        how = f"{fixed(100 * distance, 1)}% from the published value ({within} the {tolerance:.0%} tolerance)"
    if synthetic and target["target"] in CALIBRATED_INPUTS:
        return {"status": "calibrated input", "input_note": f"{CALIBRATED_INPUTS[target['target']]}: {how}"}
    return {"status": "reproduced" if agrees else "not reproduced"}


def scorecard(
    results_dir: str | Path,
    truth: Truth | Mapping | None = None,
    *,
    z_limit: float = Z_975,
    descriptive_tolerance: float = DESCRIPTIVE_TOLERANCE,
) -> pd.DataFrame:
    """One row per quantitative published target (:data:`REPRODUCTION_COLUMNS`).

    Parameters
    ----------
    results_dir : path-like
        A results folder written by the notebooks (a missing file leaves its targets not estimable).
    truth : Truth or dict, optional
        ``truth.json`` of synthetic data (:class:`alsmeds.truth.Truth` or its parsed dict; fills
        ``planted``; given, the design counts and
        descriptives are *calibrated input*, not findings).
    z_limit : float
        Largest ``|z|`` of a ratio that counts as *reproduced* (the stated rule: 1.96).
    descriptive_tolerance : float
        Relative distance within which a descriptive counts as *reproduced* on a real extract, or
        as hit by the generator on synthetic data (the stated rule: 0.10).

    Returns
    -------
    DataFrame
    """
    results_dir = Path(results_dir)
    truth = as_truth(truth)
    results = {name: _read_csv(results_dir, name) for name in ("risk_models", "joint_model")}
    cohort, followup = _read_json(results_dir, "01_cohort"), _read_json(results_dir, "followup")
    calibrated, diagnostics = _calibration_files(results_dir)
    rows = []
    for _, target in published_values().iterrows():
        if target["kind"] == "qualitative":
            continue
        row = {c: target.get(c) for c in ("target", "kind", "description", "label", "published")}
        row.update(published_lower=target["published_lower"], published_upper=target["published_upper"])
        if target["kind"] in ("odds_ratio", "hazard_ratio"):
            found = _ratio_estimate(target, results)
            row.update(found)
            row["planted"] = _planted_ratio(target, truth)
            row.update(
                ratio_status(
                    found.get("estimate", np.nan),
                    found.get("ci_lower", np.nan),
                    found.get("ci_upper", np.nan),
                    float(target["published"]),
                    target["published_lower"],
                    target["published_upper"],
                    z_limit=z_limit,
                )
            )
            row.update(_calibrated_ratio(target, calibrated, diagnostics))
        else:
            found = _design_estimate(target, cohort, followup)
            row.update(found)
            row["planted"] = _planted_design(target, truth)
            row.update(_design_status(target, found.get("estimate"), truth is not None, descriptive_tolerance))
            if row.get("input_note"):
                row["note"] = f"{row.pop('input_note')}; {row['note']}"
        rows.append(row)
    out = pd.DataFrame(rows).reindex(columns=list(REPRODUCTION_COLUMNS))
    out["published_in_ci"] = out["published_in_ci"].astype("boolean")
    for c in ("published", "published_lower", "published_upper", "planted", "estimate", "ci_lower", "ci_upper",
              "model_ci_lower", "model_ci_upper", "ci_width_ratio", "z", "calibrated_estimate", "calibrated_ci_lower",
              "calibrated_ci_upper", "calibrated_p"):  # fmt: skip
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    for c in ("note", "after_calibration", "diagnostics", "interval"):
        out[c] = out[c].fillna("")
    return out


def _rows(frame: pd.DataFrame | None, **equal: Any) -> pd.DataFrame:
    return pd.DataFrame() if frame is None else select_estimates(frame, **equal)


def _interaction_ratio(row: Any, other: str) -> tuple[float, float, float]:
    """Ratio of ORs (with its 95% CI) of an interaction-test row, ``other`` stratum over the other one."""
    ratio = (row.ratio_of_ors, row.ratio_lower, row.ratio_upper)
    if row.other_stratum == other:
        return ratio
    return (1 / ratio[0], 1 / ratio[2], 1 / ratio[1])


def _stratum_or(row: Any, stratum: str) -> tuple[float, float, float]:
    """OR (with its 95% CI) of one stratum of an interaction-test row."""
    if row.reference_stratum == stratum:
        return (row.or_reference, row.or_reference_lower, row.or_reference_upper)
    return (row.or_other, row.or_other_lower, row.or_other_upper)


#: Columns of :func:`relative_ratios`.
RELATIVE_RATIO_COLUMNS = [
    "drug_class", "comparison", "or_relative", "or_population", "log_ratio", "se_log_ratio", "ratio", "ratio_lower",
    "ratio_upper", "estimable",
]  # fmt: skip


def relative_ratios(risk: pd.DataFrame | None, correlation: float = 0.0) -> pd.DataFrame:
    """Ratio of odds ratios, sibling or spouse comparison over the population comparison, with a 95% CI.

    Per class, the adjusted one-class-per-model OR of exposure more than a year before diagnosis
    (``window == "gt1"``).  On the log scale the ratio is ``log OR_relative - log OR_population``
    with ``SE = sqrt(se_r^2 + se_p^2 - 2 correlation se_r se_p)``.  The results files hold no
    covariance between the comparisons, so ``correlation = 0`` (the stated rule) treats them as
    independent samples.  They are not: the same cases enter the population, sibling and spouse
    comparisons, so the two estimates are positively correlated and the independent SE is too
    large (the interval too wide: a difference is harder to show, a similarity easier to leave
    uncontradicted).  A positive ``correlation`` (for example the one the simulation study finds,
    :func:`replicate_correlations`) gives the interval under that assumption.

    Parameters
    ----------
    risk : DataFrame or None
        ``results/risk_models.csv``.
    correlation : float
        Assumed correlation of the two log odds ratios.

    Returns
    -------
    DataFrame
        Columns :data:`RELATIVE_RATIO_COLUMNS`, one row per class and relative comparison (empty
        without risk models); ``estimable`` false when an estimate is missing.
    """
    if risk is None or risk.empty:
        return pd.DataFrame(columns=RELATIVE_RATIO_COLUMNS)
    main = main_estimates(risk, comparison=None, exposure=None, window="gt1")
    rows = []
    for k in CLASSES:
        pop = main[(main["comparison"] == "population") & (main["drug_class"] == k)]
        for comparison in ("sibling", "spouse"):
            rel = main[(main["comparison"] == comparison) & (main["drug_class"] == k)]
            row: dict[str, Any] = {"drug_class": k, "comparison": comparison}
            values = [*pop[["log_or", "se"]].to_numpy().ravel(), *rel[["log_or", "se"]].to_numpy().ravel()]
            usable = (
                len(pop) and len(rel) and bool(pop["estimable"].iloc[0]) and bool(rel["estimable"].iloc[0])
                and np.isfinite(np.asarray(values, dtype=float)).all()
            )  # fmt: skip
            if not usable:
                rows.append({**row, "estimable": False})
                continue
            se_r, se_p = float(rel["se"].iloc[0]), float(pop["se"].iloc[0])
            log_ratio = float(rel["log_or"].iloc[0]) - float(pop["log_or"].iloc[0])
            se = float(np.sqrt(se_r**2 + se_p**2 - 2 * correlation * se_r * se_p))
            rows.append({
                **row, "or_relative": float(rel["odds_ratio"].iloc[0]),
                "or_population": float(pop["odds_ratio"].iloc[0]), "log_ratio": log_ratio, "se_log_ratio": se,
                "ratio": float(np.exp(log_ratio)), "ratio_lower": float(np.exp(log_ratio - Z_975 * se)),
                "ratio_upper": float(np.exp(log_ratio + Z_975 * se)), "estimable": True,
            })  # fmt: skip
    out = pd.DataFrame(rows).reindex(columns=RELATIVE_RATIO_COLUMNS)
    out["estimable"] = out["estimable"].astype(bool)
    return out


def replicate_correlations(estimates: pd.DataFrame) -> pd.DataFrame:
    """Across simulation-study replicates, how the relative comparisons' log ORs move with the population one.

    Parameters
    ----------
    estimates : DataFrame
        ``results/simstudy_estimates.csv.gz`` (:mod:`alsmeds.simstudy`): one row per replicate and
        estimator.

    Returns
    -------
    DataFrame
        Per class and relative comparison (``>1 y``, per class, lagged): ``correlation`` of the
        two log ORs across replicates, ``sd_difference`` (SD of their difference) and
        ``independent_se`` (root mean square of ``sqrt(se_r^2 + se_p^2)``), and their ratio
        ``sd_over_independent_se`` (below 1: the independent SE overstates the SE of the ratio).
    """
    sel = estimates[
        (estimates["family"] == "risk") & (estimates["model"] == "per_class") & (estimates["exposure"] == "lagged")
        & (estimates["stratum"] == "all") & estimates["estimable"].astype(bool)
    ]  # fmt: skip
    rows = []
    for k in CLASSES:
        term = sel[sel["term"] == f"{k}_gt1"]
        est = term.pivot_table(index="rep", columns="comparison", values="estimate")
        se = term.pivot_table(index="rep", columns="comparison", values="se")
        for comparison in ("sibling", "spouse"):
            if not {comparison, "population"} <= set(est.columns):
                continue
            both = est[[comparison, "population"]].dropna()
            diff = both[comparison] - both["population"]
            variances = se.loc[both.index, comparison] ** 2 + se.loc[both.index, "population"] ** 2
            independent = float(np.sqrt(variances.mean()))
            rows.append({
                "drug_class": k, "comparison": comparison, "replicates": len(both),
                "correlation": float(both[comparison].corr(both["population"])), "sd_difference": float(diff.std()),
                "independent_se": independent, "sd_over_independent_se": float(diff.std()) / independent,
            })  # fmt: skip
    return pd.DataFrame(rows)


def qualitative_verdicts(results_dir: str | Path, relatives_correlation: float = 0.0) -> pd.DataFrame:
    """A verdict per published qualitative finding, each by its stated rule (columns :data:`VERDICT_COLUMNS`).

    Parameters
    ----------
    results_dir : path-like
        A results folder written by the notebooks (a missing file leaves its findings not estimable).
    relatives_correlation : float
        Correlation assumed between the log odds ratio of a relative comparison and that of the
        population comparison, for the SE of their ratio (:func:`relative_ratios`); the stated rule
        uses 0, as if the comparisons were independent.

    Returns
    -------
    DataFrame
    """
    results_dir = Path(results_dir)
    risk = _read_csv(results_dir, "risk_models")
    tests = _read_csv(results_dir, "interaction_tests")
    joint = _read_csv(results_dir, "joint_model")
    mixed = _read_csv(results_dir, "alsfrs_mixed_model")
    described = published_values().set_index("target")["description"]
    verdicts = []

    def add(target: str, status: str, rule: str, evidence: str) -> None:
        verdicts.append({"target": target, "description": described.get(target, ""), "status": status,
                         "rule": rule, "evidence": evidence,
                         "after_calibration": NOT_CALIBRATED_FINDINGS.get(target, "")})  # fmt: skip

    # every window raised
    rule = (
        "reproduced: every class x window OR (0-1, 1-5, >5 y; population, adjusted) with a 95% CI above 1; direction "
        "only: every OR above 1, or most; not reproduced: most at or below 1. A point estimate above 1 whose CI "
        "includes 1 does not show a raised risk"
    )
    cells = _rows(risk, comparison="population", model="per_class", adjustment="adjusted")
    cells = (
        cells[cells["window"].isin(["0_1", "1_5", "gt5"]) & cells["estimable"].astype(bool)] if len(cells) else cells
    )
    if len(cells) == 0:
        add("finding:every_window_raised", "not estimable", rule, "no estimable window")
    else:
        above = int((cells["odds_ratio"] > 1).sum())
        excluding = int((cells["ci_lower"] > 1).sum())
        status = (
            "reproduced"
            if excluding == len(cells)
            else ("direction only" if above > len(cells) / 2 else "not reproduced")
        )
        add("finding:every_window_raised", status, rule,
            f"{above} of {len(cells)} ORs above 1 ({excluding} with a CI above 1)")  # fmt: skip
    verdicts[-1]["after_calibration"] = _windows_after_calibration(results_dir)

    # restricted to under 65: judged by the age interaction, not by one stratum's interval
    rule = (
        "reproduced: for every class (>1 y, population, per class), the ratio of ORs under 65 over 65+ above 1 with "
        "a 95% CI above 1 (the age interaction), and no 65+ OR with a CI above 1; direction only: every ratio above "
        "1; not reproduced: a ratio at or below 1. A 65+ CI that includes 1 is not evidence of no association at "
        "65+, so 'restricted to' can be contradicted (a 65+ CI above 1) but not shown"
    )
    age = _rows(tests, comparison="population", model="per_class", stratified_by="age")
    age = age[(age["window"] == "gt1") & age["estimable"].astype(bool)] if len(age) else age
    if len(age) == 0:
        add("finding:under_65", "not estimable", rule, "no age-interaction tests")
    else:
        ratios = [_interaction_ratio(r, "<65") for r in age.itertuples()]
        shown = sum(lo > 1 for _, lo, _ in ratios)
        above = sum(est > 1 for est, _, _ in ratios)
        old_raised = sum(_stratum_or(r, "65+")[1] > 1 for r in age.itertuples())
        status = (
            "reproduced" if shown == len(ratios) and not old_raised
            else "direction only" if above == len(ratios) else "not reproduced"
        )  # fmt: skip
        pieces = [
            f"{r.drug_class}: OR under 65 over 65+ {format_ratio(*ratio)}, p = {format_p(r.wald_p)} "
            f"(65+ OR {format_ratio(*_stratum_or(r, '65+'))})"
            for r, ratio in zip(age.itertuples(), ratios, strict=True)
        ]
        add("finding:under_65", status, rule, "; ".join(pieces))

    # consistent in men and women: a claim of no difference, which the data can only fail to contradict
    rule = (
        "reproduced: no class (>1 y, population, per class) with a 95% CI of the ratio of ORs men over women that "
        "excludes 1 (a sex difference not detected, which is not shown absent: the intervals say how large a "
        "difference the data leave open)"
    )
    sex = _rows(tests, comparison="population", model="per_class", stratified_by="sex")
    sex = sex[(sex["window"] == "gt1") & sex["estimable"].astype(bool)] if len(sex) else sex
    if len(sex) == 0:
        add("finding:men_and_women", "not estimable", rule, "no sex-interaction tests")
    else:
        ratios = [_interaction_ratio(r, "men") for r in sex.itertuples()]
        detected = any(lo > 1 or hi < 1 for _, lo, hi in ratios)
        pieces = [
            f"{r.drug_class}: OR men over women {format_ratio(*ratio)}, p = {format_p(r.wald_p)}"
            for r, ratio in zip(sex.itertuples(), ratios, strict=True)
        ]
        add("finding:men_and_women", "not reproduced" if detected else "reproduced", rule, "; ".join(pieces))

    # relatives: ratios of odds ratios, relative comparison over population comparison
    rule = (
        "ratio of ORs (>1 y, per class, adjusted) of the sibling and of the spouse comparison over the population "
        "comparison, 95% CI with SE sqrt(se_relative^2 + se_population^2 - 2 r se_relative se_population), "
        f"r = {fixed(relatives_correlation)} (0: as if independent, an approximation: the comparisons share the "
        "cases). Reproduced: both hypnotics ratios with a CI below 1 (weaker) and no anxiolytics or antidepressants "
        "ratio with a CI excluding 1 (similar: a difference not detected, not shown absent); direction only: "
        "neither part contradicted (no hypnotics CI above 1, no other CI excluding 1) but weaker not shown; "
        "not reproduced: either part contradicted"
    )
    found = relative_ratios(risk, relatives_correlation)
    if found.empty or not found["estimable"].all():
        add("finding:relatives", "not estimable", rule, "a sibling, spouse or population estimate is missing")
    else:
        hyp = found[found["drug_class"] == "hypnotics"]
        other = found[found["drug_class"] != "hypnotics"]
        weaker_shown = bool((hyp["ratio_upper"] < 1).all())
        weaker_contradicted = bool((hyp["ratio_lower"] > 1).any())
        similar_contradicted = bool(((other["ratio_lower"] > 1) | (other["ratio_upper"] < 1)).any())
        status = (
            "not reproduced" if weaker_contradicted or similar_contradicted
            else "reproduced" if weaker_shown else "direction only"
        )  # fmt: skip
        pieces = []
        for k in CLASSES:
            rows = found[found["drug_class"] == k].set_index("comparison")
            if rows.empty:
                continue
            ors = "/".join(fixed(rows.loc[c, "or_relative"]) for c in ("sibling", "spouse"))
            ratio_text = ", ".join(
                f"{c} {format_ratio(rows.loc[c, 'ratio'], rows.loc[c, 'ratio_lower'], rows.loc[c, 'ratio_upper'])}"
                for c in ("sibling", "spouse")
            )
            pieces.append(
                f"{k}: sibling/spouse ORs {ors}, population {fixed(rows['or_population'].iloc[0])}; "
                f"ratio to population {ratio_text}"
            )
        add("finding:relatives", status, rule, "; ".join(pieces))

    # prognosis
    rule = "reproduced: every joint-model HR above 1 with a CI above 1; direction only: every HR above 1"
    hr = _rows(joint, model="joint_model", component="survival")
    hr = hr[hr["term"].isin(CLASSES)] if len(hr) else hr
    if len(hr) == 0 or not hr["estimable"].astype(bool).all():
        add("finding:prognosis", "not estimable", rule, "the joint model was not fitted or a class was not estimable")
    else:
        above = bool((hr["hazard_ratio"] > 1).all())
        ci_above = bool((hr["hazard_ratio_lower"] > 1).all())
        status = "reproduced" if above and ci_above else ("direction only" if above else "not reproduced")
        add("finding:prognosis", status, rule,
            ", ".join(f"{r.term} {r.hazard_ratio:.2f} ({r.hazard_ratio_lower:.2f}-{r.hazard_ratio_upper:.2f})"
                      for r in hr.itertuples()))  # fmt: skip

    # decline
    rule = "reproduced: slope difference of antidepressant users below 0 with a CI below 0; direction only: below 0"
    slope = _rows(mixed, model="random_intercept_slope", kind="fixed_effect", term="antidepressants:months")
    if len(slope) == 0 or not bool(slope["estimable"].iloc[0]):
        add("finding:decline", "not estimable", rule, "no slope difference of antidepressant users")
    else:
        s = slope.iloc[0]
        status = "reproduced" if s["ci_upper"] < 0 else ("direction only" if s["estimate"] < 0 else "not reproduced")
        add("finding:decline", status, rule,
            f"{fixed(s['estimate'])} points/month ({fixed(s['ci_lower'])} to {fixed(s['ci_upper'])})")  # fmt: skip
    return pd.DataFrame(verdicts, columns=VERDICT_COLUMNS)


def reproduction_report(card: pd.DataFrame, verdicts: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``results/reproduction.csv``: the scorecard, then one row per qualitative verdict.

    A verdict becomes a row of kind ``qualitative`` (label ``P``) with its status, and its
    evidence and rule in ``note`` (``"<evidence> | rule: <rule>"``); the columns it lacks stay
    missing, with the scorecard's types.

    Parameters
    ----------
    card : DataFrame
        :func:`scorecard`.
    verdicts : DataFrame
        :func:`qualitative_verdicts`.

    Returns
    -------
    DataFrame
        Columns :data:`REPRODUCTION_COLUMNS`.
    """
    found = verdicts.assign(kind="qualitative", label="P", note=verdicts["evidence"] + " | rule: " + verdicts["rule"])
    found = found.reindex(columns=list(REPRODUCTION_COLUMNS))
    found = found.astype({c: card[c].dtype for c in found.columns if c in card and found[c].isna().all()})
    return pd.concat([card.reindex(columns=list(REPRODUCTION_COLUMNS)), found], ignore_index=True)


def distance_from_planted(card: pd.DataFrame) -> pd.DataFrame:
    """The ratio targets of a scorecard with ``z_vs_planted``: (log ours - log planted) / our SE (from our CI)."""
    ratios = card[card["kind"].isin(["odds_ratio", "hazard_ratio"])].copy()
    se = np.array([_se_from_ci(lo, hi) for lo, hi in zip(ratios["ci_lower"], ratios["ci_upper"], strict=True)])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios["z_vs_planted"] = distance_z(np.log(ratios["estimate"]), se, np.log(ratios["planted"]))
    return ratios


def information_table(card: pd.DataFrame) -> pd.DataFrame:
    """The information (1 / SE^2 of the log ratio, read off the 95% CIs) behind each published ratio and ours.

    For a binary exposure in a Cox or conditional logistic model it is about
    ``events x p (1 - p)`` (``p`` the exposed share among the events), so the ratio
    ``ours / published`` says how many times the paper's information the synthetic design carries.

    Returns
    -------
    DataFrame
        Indexed by target: ``ci_width_ratio``, ``published information``, ``our information``,
        ``ours / published``.
    """
    ratios = card[card["kind"].isin(["odds_ratio", "hazard_ratio"])]

    def information(lower: pd.Series, upper: pd.Series) -> np.ndarray:
        se = np.array([_se_from_ci(lo, hi) for lo, hi in zip(lower, upper, strict=True)])
        return 1 / se**2

    out = pd.DataFrame(
        {
            "ci_width_ratio": ratios["ci_width_ratio"].to_numpy(),
            "published information": information(ratios["published_lower"], ratios["published_upper"]),
            "our information": information(ratios["ci_lower"], ratios["ci_upper"]),
        },
        index=pd.Index(ratios["target"], name="target"),
    )
    out["ours / published"] = out["our information"] / out["published information"]
    return out


# -- showing the report (notebook 08) ---------------------------------------------------------------------------

#: The kinds of scorecard rows that are odds or hazard ratios.
RATIO_KINDS = ("odds_ratio", "hazard_ratio")


def target_parts(target: str) -> tuple[str, str]:
    """(drug class, window) of a ratio target: ``risk:anxiolytics:gt1``, ``prognosis:hypnotics`` (window ``ever``)."""
    pieces = str(target).split(":")
    return (pieces[1] if len(pieces) > 1 else str(target)), (pieces[2] if len(pieces) > 2 else "ever")


def ratio_target_name(target: str) -> str:
    """Readable name of a published ratio target: ``Anxiolytics, >1 y (lagged)`` (risk), ``Anxiolytics`` (prognosis)."""
    drug, window = target_parts(target)
    name = label(CLASS_NAMES, drug)
    return f"{name}, {label(WINDOW_NAMES, window)}" if str(target).startswith("risk:") else name


def _nullable_bool(value: Any) -> Any:
    """True or False as written (a bool or its text), missing (``pd.NA``) for an empty cell."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return pd.NA
    return value in (True, "True", "true")


def split_report(report: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The scorecard and the verdicts of ``results/reproduction.csv``: the inverse of :func:`reproduction_report`.

    Parameters
    ----------
    report : DataFrame
        ``results/reproduction.csv`` as read back (:func:`alsmeds.analyses.read_results_file`)
        or :func:`reproduction_report`.

    Returns
    -------
    (card, verdicts) : tuple of DataFrame
        ``card``: the rows that are not of kind ``qualitative``, columns
        :data:`REPRODUCTION_COLUMNS` with the scorecard's types (``published_in_ci`` a nullable
        boolean, ``note`` text); ``verdicts``: one row per qualitative finding, columns
        :data:`VERDICT_COLUMNS`, the evidence and the rule split back out of ``note``.
    """
    report = report.reindex(columns=list(dict.fromkeys([*report.columns, *REPRODUCTION_COLUMNS])))  # older files
    qualitative = report["kind"] == "qualitative"
    card = report[~qualitative].reindex(columns=list(REPRODUCTION_COLUMNS)).reset_index(drop=True)
    card["published_in_ci"] = card["published_in_ci"].map(_nullable_bool).astype("boolean")
    card["note"] = card["note"].fillna("").astype(str)
    found = report[qualitative].reset_index(drop=True)
    parts = found["note"].fillna("").astype(str).str.split(" | rule: ", n=1, regex=False)
    verdicts = pd.DataFrame(
        {
            "target": found["target"],
            "description": found["description"].fillna(""),
            "status": found["status"],
            "rule": [p[1] if len(p) > 1 else "" for p in parts],
            "evidence": [p[0] for p in parts],
            "after_calibration": found["after_calibration"].fillna("").astype(str),
        },
        columns=VERDICT_COLUMNS,
    )
    for c in ("after_calibration", "diagnostics"):
        card[c] = card[c].fillna("").astype(str)
    return card, verdicts


def readable_targets(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with each target by its readable name: a ratio's :func:`ratio_target_name`, any other its description."""
    names = [
        ratio_target_name(t) if k in RATIO_KINDS else d
        for t, k, d in zip(frame["target"], frame["kind"], frame["description"], strict=True)
    ]
    return frame.assign(target=names)


def _yes_no(value: Any) -> str:
    """Whether our CI covers the published value, as text ('' when it does not apply)."""
    return "" if pd.isna(value) else ("yes" if value else "no")


def show_scorecard(card: pd.DataFrame) -> Table:
    """Every published number beside the planted value and ours, with the status (2 decimals).

    Columns: the published value and 95% CI, the planted value, ours and its 95% CI, which interval that is
    (``interval``: robust for the joint model's hazard ratios) and the model-based one beside a robust one, the
    CI width ratio, ``z`` and whether our CI covers the published value (``in our CI``).
    """
    model_ci = [
        f"{fixed(lo)}-{fixed(hi)}" if str(kind).startswith("robust") else ""
        for kind, lo, hi in zip(card["interval"], card["model_ci_lower"], card["model_ci_upper"], strict=True)
    ]
    shown = readable_targets(card).assign(in_ci=card["published_in_ci"].map(_yes_no), model_ci=model_ci)
    return show_table(
        shown[["target", "published", "published_lower", "published_upper", "planted", "estimate", "ci_lower",
               "ci_upper", "interval", "model_ci", "ci_width_ratio", "z", "in_ci", "status"]],
        caption="Every published number beside the planted value and ours",
        index=False,
        digits=2,
        columns={"target": "Published target", "published": "Published", "published_lower": "lower",
                 "published_upper": "upper", "planted": "Planted", "estimate": "Ours", "ci_lower": "lower ",
                 "ci_upper": "upper ", "interval": "our CI", "model_ci": "model-based CI",
                 "ci_width_ratio": "CI width ratio", "in_ci": "in our CI", "status": "Status"},
    )  # fmt: skip


#: Distance from the planted value (in our SEs) beyond which a ratio is named by :func:`explain_misses`.
FAR_FROM_PLANTED = 1.5


def explain_misses(ratios: pd.DataFrame, far: float = FAR_FROM_PLANTED) -> str:
    """One line per ratio that misses: not *reproduced*, outside our CI, or far from its planted value.

    A ratio is named when its status is not *reproduced*, when it is *reproduced* by the
    combined-SE rule but the published value lies outside our 95% CI, or when our estimate lies
    more than ``far`` of our SEs from the planted value (``z_vs_planted``).

    Parameters
    ----------
    ratios : DataFrame
        :func:`distance_from_planted`.
    far : float
        ``|z_vs_planted|`` beyond which a ratio is named (default 1.5 of our SEs).

    Returns
    -------
    str
        The lines, or a sentence saying that no ratio needs one.
    """
    lines = []
    for r in ratios.itertuples():
        if r.status != "reproduced":
            lines.append(f"{ratio_target_name(r.target)}: {r.status} ({r.note})")
        elif not pd.isna(r.published_in_ci) and not r.published_in_ci:
            lines.append(
                f"{ratio_target_name(r.target)}: reproduced by the combined-SE rule (z {signed(r.z)}), but the "
                f"published {fixed(r.published)} lies outside our 95% CI ({fixed(r.ci_lower)}-{fixed(r.ci_upper)})"
            )
    for r in ratios[ratios["z_vs_planted"].abs() > far].itertuples():
        lines.append(
            f"{ratio_target_name(r.target)}: estimate {fixed(r.estimate)} lies {signed(r.z_vs_planted)} SE from the "
            f"planted {fixed(r.planted)}"
        )
    if not lines:
        return f"every ratio reproduced, inside our CI and within {far:g} SE of its planted value"
    return "\n".join(lines)


def show_distances(ratios: pd.DataFrame) -> Table:
    """Distance of each ratio from the published value (``z``) and from the planted value (``z vs planted``)."""
    return show_table(
        readable_targets(ratios)[["target", "published", "planted", "estimate", "z", "z_vs_planted", "status"]],
        caption="Distance from the published value (z) and from the planted value (z vs planted)",
        index=False,
        digits=2,
        columns={"target": "Published target", "z_vs_planted": "z vs planted"},
    )


def ratio_evalues(card: pd.DataFrame) -> pd.DataFrame:
    """E-values of the published ratios and of ours (:func:`alsmeds.reporting.evalue.evalue_table`), by readable target.

    Columns of ``evalue_table`` with ``target`` replaced by :func:`ratio_target_name`, and the
    ``published`` and our ``estimate`` beside them.
    """
    ratios = card[card["kind"].isin(RATIO_KINDS)]
    return evalue_table(ratios).assign(
        target=[ratio_target_name(t) for t in ratios["target"]],
        published=ratios["published"].to_numpy(),
        estimate=ratios["estimate"].to_numpy(),
    )


def weakest_published_interval(card: pd.DataFrame) -> str:
    """The published ratio whose CI the weakest unmeasured confounder could move to 1 (smallest E-value of its CI)."""
    evalues = ratio_evalues(card)
    if not evalues["published_evalue_ci"].notna().any():
        return "no published interval"
    weakest = evalues.loc[evalues["published_evalue_ci"].idxmin()]
    return f"weakest published interval: {weakest['target']} (E-value of its CI {weakest['published_evalue_ci']:.2f})"


def show_evalues(card: pd.DataFrame) -> Table:
    """E-values of the published estimates and of ours, of the estimate and of the CI limit nearer 1 (2 decimals)."""
    return show_table(
        ratio_evalues(card)[["target", "published", "published_evalue", "published_evalue_ci", "estimate",
                             "our_evalue", "our_evalue_ci"]],
        caption="E-values of the published estimates and of ours",
        index=False,
        digits=2,
        columns={"target": "Published target", "published": "Published", "published_evalue": "E-value",
                 "published_evalue_ci": "E-value of CI", "estimate": "Ours", "our_evalue": "E-value ",
                 "our_evalue_ci": "E-value of CI "},
    )  # fmt: skip


def show_after_calibration(card: pd.DataFrame) -> Table:
    """The published ratios beside our estimate before and after empirical calibration, and the diagnostics.

    One row per published ratio: the published value, ours with its 95% CI, the calibrated one (odds ratios only:
    the panel's controls are exposures of the risk models), what the calibrated interval shows and the
    comparison's diagnostics (``after_calibration`` and ``diagnostics`` of :data:`REPRODUCTION_COLUMNS`).
    """
    ratios = readable_targets(card[card["kind"].isin(RATIO_KINDS)])
    frame = pd.DataFrame(
        {
            "target": ratios["target"],
            "published": ratios["published"],
            "ours": [format_ratio(e, lo, hi) for e, lo, hi in zip(ratios["estimate"], ratios["ci_lower"],
                                                                   ratios["ci_upper"], strict=True)],
            "calibrated": [
                format_ratio(e, lo, hi) if np.isfinite(e) else ""
                for e, lo, hi in zip(ratios["calibrated_estimate"], ratios["calibrated_ci_lower"],
                                     ratios["calibrated_ci_upper"], strict=True)
            ],
            "after_calibration": ratios["after_calibration"],
            "diagnostics": ratios["diagnostics"],
        }
    )  # fmt: skip
    return show_table(
        frame,
        caption="Published ratios, ours and ours after empirical calibration (95% CIs)",
        index=False,
        columns={"target": "Published target", "published": "Published", "ours": "Ours (95% CI)",
                 "calibrated": "Calibrated (95% CI)", "after_calibration": "After calibration",
                 "diagnostics": "Diagnostics"},
    )  # fmt: skip


def information_note(card: pd.DataFrame) -> str:
    """How many times the published hazard ratios' information our data carry (:func:`information_table`)."""
    info = information_table(card)
    prognosis = info[info.index.str.startswith("prognosis") & info["ours / published"].notna()]
    if prognosis.empty:
        return "prognosis: no hazard ratio with both a published and our interval"
    low, high = prognosis["ours / published"].min(), prognosis["ours / published"].max()
    return f"prognosis: our data carry {low:.1f}-{high:.1f} times the information of the published hazard ratios"


def show_information(card: pd.DataFrame) -> Table:
    """:func:`information_table` by readable target (2 decimals)."""
    return show_table(
        information_table(card).rename(index=ratio_target_name),
        caption="Information (1 / SE² of the log ratio) behind each ratio",
        digits=2,
        columns={"ci_width_ratio": "CI width ratio"},
    )


def show_verdicts(verdicts: pd.DataFrame) -> Table:
    """Each published finding, its verdict, the evidence, the verdict after calibration and the rule."""
    return show_table(
        verdicts[["description", "status", "evidence", "after_calibration", "rule"]],
        caption="Published findings and their verdicts",
        index=False,
        columns={
            "description": "Published finding",
            "status": "Verdict",
            "evidence": "Evidence",
            "after_calibration": "After calibration",
            "rule": "Rule",
        },  # fmt: skip
    )


#: The implied-estimand models behind :func:`planted_effect_modification` (one class per model, >1 y).
_MODIFICATION_MODELS = (
    "population_per_class",
    "population_per_class_under_65",
    "population_per_class_65_plus",
    "sibling_per_class",
    "spouse_per_class",
)


def planted_effect_modification(truth: Truth | Mapping | None) -> str:
    """The odds ratios the synthetic data imply by age group and by comparison, per class, one line each.

    Per class: the implied odds ratio of use more than a year before diagnosis (one class per
    model, population controls) under 65 and at 65+ with their ratio, and the implied sibling
    and spouse odds ratios over the population one (``truth.json`` ``estimands.implied``, the
    value each estimator converges to under the generator).

    Returns
    -------
    str
        The lines; a sentence when the data have no planted truth, or one without these estimands.
    """
    truth = as_truth(truth)
    if truth is None:
        return "no planted truth (a real extract)"
    if not set(_MODIFICATION_MODELS) <= set(truth.implied_models):
        return "the planted truth has no implied odds ratios by age group and comparison"

    def planted_or(model: str, k: str) -> float:
        return float(np.exp(truth.implied_log_or(model, f"{k}_gt1").value))

    lines = []
    for k in CLASSES:
        young, old = planted_or("population_per_class_under_65", k), planted_or("population_per_class_65_plus", k)
        pop = planted_or("population_per_class", k)
        lines.append(
            f"planted {k}: OR under 65 {fixed(young)}, 65+ {fixed(old)} (ratio {fixed(young / old)}); "
            f"sibling / population {fixed(planted_or('sibling_per_class', k) / pop)}, "
            f"spouse / population {fixed(planted_or('spouse_per_class', k) / pop)}"
        )
    return "\n".join(lines)


@dataclass
class RelativesCheck:
    """The relatives' verdict under the simulation study's correlation (:func:`relatives_check`).

    Attributes
    ----------
    text : str
        The planted odds ratios (:func:`planted_effect_modification`), the correlation of the
        relative and the population log odds ratios across the replicates, and the verdict with
        the independent SE and with that correlation; or why there is none.
    table : Table or None
        The ratios of odds ratios with both intervals (None without a correlation or estimates).
    correlation : float or None
        The smallest correlation across the replicates (the one the verdict uses).
    """

    text: str
    table: Table | None = None
    correlation: float | None = None


def relatives_check(
    results_dir: str | Path, truth: Truth | Mapping | None, replicates: pd.DataFrame | None
) -> RelativesCheck:
    """The sibling and spouse ratios of odds ratios with the independent SE and with the replicates' correlation.

    The stated rule treats the relative and the population log odds ratios as independent
    (:func:`relative_ratios`, ``correlation = 0``); they share their cases, so across the
    replicates of a simulation study (:func:`replicate_correlations`) they are positively
    correlated.  With the smallest correlation found, the interval of each ratio is computed
    again, and the relatives' verdict (:func:`qualitative_verdicts`, ``finding:relatives``)
    under it is set beside the stated one.  Assumption: the correlation of the generator's
    replicates holds for the data in ``results_dir`` (on a real extract it is borrowed).

    Parameters
    ----------
    results_dir : path-like
        A results folder with ``risk_models.csv`` (and the files of :func:`qualitative_verdicts`).
    truth : Truth or dict or None
        The planted truth, for the planted odds ratios (None: a real extract).
    replicates : DataFrame or None
        Stacked replicate estimates of a simulation study (None: no study).

    Returns
    -------
    RelativesCheck
    """
    results_dir = Path(results_dir)
    lines = [planted_effect_modification(truth)]
    correlations = replicate_correlations(replicates) if replicates is not None else pd.DataFrame()
    risk = _read_csv(results_dir, "risk_models")
    independent = relative_ratios(risk)
    if not (len(correlations) and len(independent) and independent["estimable"].all()):
        lines.append("no simulation study or no relative comparisons: the independent-samples interval only")
        return RelativesCheck("\n".join(lines))
    r = float(correlations["correlation"].min())
    lines.append(
        f"simulation study, {correlations['replicates'].min()} replicates: correlation of the relative and the "
        f"population log OR {fixed(correlations['correlation'].min())}-{fixed(correlations['correlation'].max())}; "
        f"SD of their difference {fixed(correlations['sd_over_independent_se'].min())}-"
        f"{fixed(correlations['sd_over_independent_se'].max())} times the independent-samples SE"
    )
    correlated = relative_ratios(risk, r)

    def verdict(correlation: float) -> str:
        found = qualitative_verdicts(results_dir, relatives_correlation=correlation).set_index("target")
        return str(found.loc["finding:relatives", "status"])

    lines.append(
        f"relatives verdict: {verdict(0.0)} (stated rule, independent SE); {verdict(r)} with the smallest "
        f"correlation above (r = {fixed(r)})"
    )

    def intervals(frame: pd.DataFrame) -> list[str]:
        return [format_ratio(a, b, c) for a, b, c in frame[["ratio", "ratio_lower", "ratio_upper"]].to_numpy()]

    shown = independent.assign(independent=intervals(independent), correlated=intervals(correlated))
    table = show_table(
        shown[["drug_class", "comparison", "or_relative", "or_population", "independent", "correlated"]],
        caption="Ratio of odds ratios, relative over population comparison (>1 y), 95% CI",
        index=False,
        digits=2,
        columns={"comparison": "comparison", "or_relative": "OR, relatives", "or_population": "OR, population",
                 "independent": "ratio (independent SE)", "correlated": f"ratio (r = {fixed(r)})"},
    )  # fmt: skip
    return RelativesCheck("\n".join(lines), table, r)


#: What the bundle assumes where the sources available to us are silent (notebook 08 lists them).
ASSUMPTIONS = (
    "exposure windows by the timing of the first qualifying use (second dispensing), mutually exclusive",
    "ATC groups N05B, N05C and N06A as the three classes (the paper's exact code list is not available)",
    "covariates: education, country of birth, civil status, psychiatric history (categories only were published)",
    "the joint model's form: linear mixed model with random intercept and slope, hazard linked to the current "
    "true ALSFRS-R, Weibull baseline",
    "ALSFRS-R visits about every 12 weeks; follow-up to 31 December 2023",
    "prediagnostic use for prognosis: any qualifying use before diagnosis",
)


def assumptions_text() -> str:
    """:data:`ASSUMPTIONS` as a list, then how many published values the bundle uses and how they are labelled."""
    values = published_values()
    labels = values["label"].value_counts()
    return "\n".join(f"- {item}" for item in ASSUMPTIONS) + (
        f"\n\npublished values used: {len(values)}, labelled " + ", ".join(f"{k}: {v}" for k, v in labels.items())
    )


def status_under_rules(
    results_dir: str | Path,
    truth: Truth | Mapping | None,
    *,
    z_limit: float,
    descriptive_tolerance: float,
) -> pd.DataFrame:
    """Each target's status under the stated rule and under another one, side by side.

    Parameters
    ----------
    results_dir : path-like
        A results folder (:func:`scorecard`).
    truth : Truth or dict or None
        The planted truth (None judges the design counts and descriptives as findings).
    z_limit, descriptive_tolerance : float
        The other rule (the stated one: 1.96 and 0.10).

    Returns
    -------
    DataFrame
        ``target`` (readable), ``published``, ``estimate``, ``z``, ``status (stated rule)`` and
        ``status (|z| <= <z_limit>, <tolerance>%)``.
    """
    stated = scorecard(results_dir, truth)
    other = scorecard(results_dir, truth, z_limit=z_limit, descriptive_tolerance=descriptive_tolerance)
    return readable_targets(stated)[["target", "published", "estimate", "z"]].assign(
        **{
            "status (stated rule)": stated["status"],
            f"status (|z| <= {z_limit:g}, {descriptive_tolerance:.0%})": other["status"],
        }
    )


def show_status_changes(side: pd.DataFrame) -> Table:
    """The targets of :func:`status_under_rules` whose status changes (all when none does), captioned with the count."""
    changed = side[side["status (stated rule)"] != side.iloc[:, -1]]
    return show_table(
        changed if len(changed) else side,
        caption=f"Targets whose status changes: {len(changed)} of {len(side)} under the other rule",
        index=False,
        digits=2,
        columns={"target": "Published target"},
    )
