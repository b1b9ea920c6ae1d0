"""The reproduction scorecard: every published target beside the planted truth and this bundle's estimate.

Reads the results files the notebooks wrote (``results/``: no model is refitted) and the
published values (:mod:`alsmeds.published`), and gives one row per target
(:data:`REPRODUCTION_COLUMNS`) with a status by a documented rule:

* **Odds and hazard ratios** (the nine published estimates).  On the log scale, with the
  published SE taken from the published 95% CI (``(log upper - log lower) / (2 x 1.96)``)
  and ours from our CI, ``z = (log ours - log published) / sqrt(se_ours^2 + se_published^2)``
  (our SE alone when the published CI is not available).

  - *reproduced*: on the same side of 1 as the published estimate and ``|z| <= 1.96``
    (``z_limit`` of :func:`scorecard`);
  - *direction only*: on the same side of 1 but ``|z| > 1.96``;
  - *not reproduced*: on the other side of 1 (or exactly 1);
  - *not estimable*: no estimate (the reason is carried).

  ``ci_width_ratio`` is the width of our 95% CI over the published one on the log scale: near 1
  when the synthetic design carries the paper's information.
* **Counts** (cases, controls, relatives): *reproduced* when equal.
* **Descriptives** (age, sex, ALSFRS-R at diagnosis, follow-up): *reproduced* within
  :data:`DESCRIPTIVE_TOLERANCE` (10%; ``descriptive_tolerance`` of :func:`scorecard`) of the
  published value, else *not reproduced*.
* **Qualitative findings**: a rule per finding, stated in its ``rule`` (:func:`qualitative_verdicts`).

What agreement means: the generator was calibrated so that its population estimands land near
the published odds ratios and its direct hazard ratios equal the published ones, so agreement of
the estimates tests the pipeline and the information in the design, not the biology.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.constants import CLASSES
from alsmeds.formatting import fixed
from alsmeds.models.base import Z_975
from alsmeds.published import published_values

#: Relative distance within which a descriptive (age, sex, score, follow-up) counts as reproduced.
DESCRIPTIVE_TOLERANCE = 0.10

#: The statuses, in order of agreement.
STATUSES = ("reproduced", "direction only", "not reproduced", "not estimable")

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
    "ci_width_ratio": "width of our 95% CI over the published one, log scale (ratios only)",
    "z": "(log ours - log published) / combined SE (ratios only)",
    "status": "reproduced, direction only, not reproduced or not estimable (rules in alsmeds.reporting.reproduction)",
    "note": "the reason when not estimable; the source of the estimate",
}

#: Columns of the qualitative verdicts.
VERDICT_COLUMNS = ["target", "description", "status", "rule", "evidence"]


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
    """z, CI-width ratio and status of one ratio target (rules in the module docstring).

    ``z_limit`` is the largest ``|z|`` that still counts as *reproduced* (1.96 by the stated rule).
    """
    if estimate is None or not np.isfinite(estimate) or estimate <= 0:
        return {"z": np.nan, "ci_width_ratio": np.nan, "status": "not estimable"}
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
    return {"z": float(z), "ci_width_ratio": float(width), "status": status}


def _planted_ratio(target: pd.Series, truth: Mapping | None) -> float:
    if truth is None:
        return np.nan
    estimands = truth.get("estimands", {})
    if target["kind"] == "odds_ratio":
        term = f"{target['drug_class']}_{target['window']}"
        rows = [r for r in estimands.get("published_vs_implied", []) if r.get("term") == term]
        return float(rows[0]["implied_or"]) if rows else np.nan
    direct = estimands.get("prognosis", {}).get("joint_model_log_hr_direct", {})
    return float(np.exp(direct[target["drug_class"]])) if target["drug_class"] in direct else np.nan


def _ratio_estimate(target: pd.Series, results: dict[str, pd.DataFrame | None]) -> dict:
    if target["kind"] == "odds_ratio":
        risk = results["risk_models"]
        source = "results/risk_models.csv: population controls, one class per model, adjusted"
        if risk is None:
            return {"note": "no results/risk_models.csv (run notebook 03)"}
        sel = risk[
            (risk["comparison"] == "population")
            & (risk["model"] == "per_class")
            & (risk["adjustment"] == "adjusted")
            & (risk["drug_class"] == target["drug_class"])
            & (risk["window"] == target["window"])
        ]
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
    return {"estimate": r[columns[0]], "ci_lower": r[columns[1]], "ci_upper": r[columns[2]], "note": source}


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


def _planted_design(target: pd.Series, truth: Mapping | None) -> float:
    if truth is None:
        return np.nan
    design = truth.get("parameters", {}).get("design", {})
    planted = {
        "count:cases": design.get("n_cases"),
        "count:cases_with_siblings": design.get("n_cases_with_siblings"),
        "count:siblings": design.get("n_siblings"),
        "count:spouses": design.get("n_spouses"),
        "cases:alsfrs_at_diagnosis": truth.get("parameters", {}).get("prognosis", {}).get("intercept_mean"),
    }
    if "n_cases" in design:
        planted["count:population_controls"] = (
            design["n_cases"] * design["controls_per_case"] - design["n_cases_with_four_controls"]
        )
    value = planted.get(target["target"])
    return float(value) if value is not None else np.nan


def scorecard(
    results_dir: str | Path,
    truth: Mapping | None = None,
    *,
    z_limit: float = Z_975,
    descriptive_tolerance: float = DESCRIPTIVE_TOLERANCE,
) -> pd.DataFrame:
    """One row per quantitative published target (:data:`REPRODUCTION_COLUMNS`).

    Parameters
    ----------
    results_dir : path-like
        A results folder written by the notebooks (a missing file leaves its targets not estimable).
    truth : dict, optional
        ``truth.json`` of synthetic data (fills ``planted``).
    z_limit : float
        Largest ``|z|`` of a ratio that counts as *reproduced* (the stated rule: 1.96).
    descriptive_tolerance : float
        Relative distance within which a descriptive counts as *reproduced* (the stated rule: 0.10).

    Returns
    -------
    DataFrame
    """
    results_dir = Path(results_dir)
    results = {name: _read_csv(results_dir, name) for name in ("risk_models", "joint_model")}
    cohort, followup = _read_json(results_dir, "01_cohort"), _read_json(results_dir, "followup")
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
        else:
            found = _design_estimate(target, cohort, followup)
            row.update(found)
            row["planted"] = _planted_design(target, truth)
            value = found.get("estimate")
            if value is None or not np.isfinite(float(value)):
                row["status"] = "not estimable"
            elif target["kind"] == "count":
                row["status"] = "reproduced" if float(value) == float(target["published"]) else "not reproduced"
            else:
                close = abs(float(value) - float(target["published"])) <= descriptive_tolerance * abs(
                    target["published"]
                )
                row["status"] = "reproduced" if close else "not reproduced"
        rows.append(row)
    out = pd.DataFrame(rows).reindex(columns=list(REPRODUCTION_COLUMNS))
    for c in ("published", "published_lower", "published_upper", "planted", "estimate", "ci_lower", "ci_upper",
              "ci_width_ratio", "z"):  # fmt: skip
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    out["note"] = out["note"].fillna("")
    return out


def _rows(frame: pd.DataFrame | None, **equal: Any) -> pd.DataFrame:
    if frame is None:
        return pd.DataFrame()
    mask = np.ones(len(frame), dtype=bool)
    for column, value in equal.items():
        mask &= (frame[column] == value).to_numpy()
    return frame[mask]


def qualitative_verdicts(results_dir: str | Path) -> pd.DataFrame:
    """A verdict per published qualitative finding, each by its stated rule (columns :data:`VERDICT_COLUMNS`)."""
    results_dir = Path(results_dir)
    risk = _read_csv(results_dir, "risk_models")
    strata = _read_csv(results_dir, "effect_modification")
    tests = _read_csv(results_dir, "interaction_tests")
    joint = _read_csv(results_dir, "joint_model")
    mixed = _read_csv(results_dir, "alsfrs_mixed_model")
    described = published_values().set_index("target")["description"]
    verdicts = []

    def add(target: str, status: str, rule: str, evidence: str) -> None:
        verdicts.append({"target": target, "description": described.get(target, ""), "status": status,
                         "rule": rule, "evidence": evidence})  # fmt: skip

    # every window raised
    rule = "reproduced: every class x window OR (0-1, 1-5, >5 y; population, adjusted) above 1; direction only: most"
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
            "reproduced" if above == len(cells) else ("direction only" if above > len(cells) / 2 else "not reproduced")
        )
        add("finding:every_window_raised", status, rule,
            f"{above} of {len(cells)} ORs above 1 ({excluding} with a CI above 1)")  # fmt: skip

    # restricted to under 65
    rule = (
        "reproduced: for every class (>1 y), OR under 65 above the OR at 65+ and the 65+ CI includes 1; "
        "direction only: OR under 65 above the OR at 65+ for every class"
    )
    age = _rows(strata, comparison="population", model="per_class", adjustment="adjusted", stratified_by="age")
    age = age[(age["window"] == "gt1") & age["estimable"].astype(bool)] if len(age) else age
    pieces, larger, null_old = [], 0, 0
    classes = [k for k in CLASSES if len(age) and {"<65", "65+"} <= set(age.loc[age["drug_class"] == k, "stratum"])]
    for k in classes:
        young = age[(age["drug_class"] == k) & (age["stratum"] == "<65")].iloc[0]
        old = age[(age["drug_class"] == k) & (age["stratum"] == "65+")].iloc[0]
        larger += young["odds_ratio"] > old["odds_ratio"]
        null_old += old["ci_lower"] <= 1 <= old["ci_upper"]
        pieces.append(f"{k} {young['odds_ratio']:.2f} under 65 vs {old['odds_ratio']:.2f} (65+ CI "
                      f"{old['ci_lower']:.2f}-{old['ci_upper']:.2f})")  # fmt: skip
    if not classes:
        add("finding:under_65", "not estimable", rule, "no age-stratified estimates")
    else:
        status = (
            "reproduced" if larger == null_old == len(classes)
            else "direction only" if larger == len(classes) else "not reproduced"
        )  # fmt: skip
        add("finding:under_65", status, rule, "; ".join(pieces))

    # consistent in men and women
    rule = "reproduced: no Wald test of a sex interaction (>1 y, population, per class) with p < 0.05"
    sex = _rows(tests, comparison="population", model="per_class", stratified_by="sex")
    sex = sex[(sex["window"] == "gt1") & sex["estimable"].astype(bool)] if len(sex) else sex
    if len(sex) == 0:
        add("finding:men_and_women", "not estimable", rule, "no sex-interaction tests")
    else:
        low = sex[sex["wald_p"] < 0.05]
        ps = ", ".join(f"{r.drug_class} p = {r.wald_p:.2f}" for r in sex.itertuples())
        add("finding:men_and_women", "reproduced" if low.empty else "not reproduced", rule, ps)

    # relatives
    rule = (
        "reproduced: sibling and spouse ORs (>1 y, per class, adjusted) above 1 for anxiolytics and antidepressants, "
        "and the sibling OR of hypnotics below its population OR"
    )
    rel = _rows(risk, model="per_class", adjustment="adjusted")
    rel = rel[(rel["window"] == "gt1")] if len(rel) else rel

    def odds(comparison: str, k: str) -> float:
        if rel.empty:
            return np.nan
        sel = rel[(rel["comparison"] == comparison) & (rel["drug_class"] == k) & rel["estimable"].astype(bool)]
        return float(sel["odds_ratio"].iloc[0]) if len(sel) else np.nan

    needed = [odds(c, k) for c in ("sibling", "spouse") for k in ("anxiolytics", "antidepressants")]
    hyp_sib, hyp_pop = odds("sibling", "hypnotics"), odds("population", "hypnotics")
    if not np.all(np.isfinite([*needed, hyp_sib, hyp_pop])):
        add("finding:relatives", "not estimable", rule, "a sibling or spouse estimate is missing")
    else:
        similar = all(v > 1 for v in needed)
        weaker = hyp_sib < hyp_pop
        status = "reproduced" if similar and weaker else ("direction only" if similar or weaker else "not reproduced")
        add("finding:relatives", status, rule,
            "sibling/spouse ORs anxiolytics " + f"{needed[0]:.2f}/{needed[1]:.2f}, antidepressants "
            f"{needed[2]:.2f}/{needed[3]:.2f}; hypnotics sibling {hyp_sib:.2f} vs population "
            f"{hyp_pop:.2f}")  # fmt: skip

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


def distance_from_planted(card: pd.DataFrame) -> pd.DataFrame:
    """The ratio targets of a scorecard with ``z_vs_planted``: (log ours - log planted) / our SE (from our CI)."""
    ratios = card[card["kind"].isin(["odds_ratio", "hazard_ratio"])].copy()
    se = np.array([_se_from_ci(lo, hi) for lo, hi in zip(ratios["ci_lower"], ratios["ci_upper"], strict=True)])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios["z_vs_planted"] = (np.log(ratios["estimate"]) - np.log(ratios["planted"])) / se
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
