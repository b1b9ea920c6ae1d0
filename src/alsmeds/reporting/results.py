"""Machine-readable results: estimates written as CSV and JSON (records plus a column schema), atomically."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from alsmeds.data.write import write_csv_atomic, write_json_atomic
from alsmeds.precision import CSV_FLOAT_FORMAT

#: Meaning of the columns of risk-model estimates (results/risk_models.csv and .json).
RISK_MODEL_COLUMNS = {
    "comparison": "population, sibling or spouse controls",
    "exposure": "lagged (first qualifying use >1 year before index), windows (0-1, 1-5, >5 years vs never) or "
    "ever (any qualifying use before index, last year included)",
    "model": "per_class (one class per model, as published) or mutual (three classes together)",
    "adjustment": "crude (matching only) or adjusted (psychiatric history, education, country of birth, civil "
    "status; plus age and sex for relatives)",
    "drug_class": "anxiolytics (N05B), hypnotics (N05C) or antidepressants (N06A)",
    "window": "gt1, 0_1, 1_5, gt5 or ever",
    "term": "model term",
    "log_or": "log odds ratio, conditional on the matched set",
    "se": "standard error of log_or (inverse observed information)",
    "odds_ratio": "exp(log_or)",
    "ci_lower": "lower 95% Wald limit of the odds ratio",
    "ci_upper": "upper 95% Wald limit of the odds ratio",
    "p_value": "two-sided Wald p-value",
    "exposed_cases": "cases exposed in the model's sets",
    "exposed_controls": "controls exposed in the model's sets",
    "discordant_sets": "matched sets in which exposure differs between members (the informative sets)",
    "estimable": "false when the term could not be estimated",
    "reason": "why a term is not estimable (empty when estimable)",
}

#: Columns of the sensitivity analyses (results/sensitivity_analyses.*), before :data:`RISK_MODEL_COLUMNS`.
SENSITIVITY_COLUMNS = {
    "analysis": "negative_control (proton-pump inhibitors, a planted null, modelled like a study class), "
    "exposure_lag (main lagged exposure under lag_years 1 and 2) or psychiatric_history_lag (the adjusted "
    "main models with psychiatric history counted only before index minus psychiatric_history_lag_years)",
    "lag_years": "years before the index date the lagged exposure ignores (1 in the study)",
    "psychiatric_history_lag_years": "years before the index date the psychiatric-history covariate ignores (0 in "
    "the study)",
    **RISK_MODEL_COLUMNS,
    "drug_class": "anxiolytics (N05B), hypnotics (N05C), antidepressants (N06A) or ppis (A02BC, negative control)",
}


def _records(frame: pd.DataFrame) -> list[dict]:
    clean = frame.astype(object).where(frame.notna(), None)
    out = []
    for rec in clean.to_dict(orient="records"):
        out.append({k: (v.item() if isinstance(v, np.generic) else v) for k, v in rec.items()})
    return out


def write_estimates(frame: pd.DataFrame, results_dir: str | Path, name: str, schema: dict[str, str]) -> list[Path]:
    """Write ``<name>.csv`` and ``<name>.json`` (``{"schema": ..., "estimates": [...]}``) atomically.

    Floats are written with :data:`alsmeds.precision.SIGNIFICANT_DIGITS` significant digits
    in both files, so a rerun on the same machine leaves them byte-identical.
    """
    results_dir = Path(results_dir)
    csv_path = write_csv_atomic(results_dir / f"{name}.csv", frame, float_format=CSV_FLOAT_FORMAT)
    payload = json.loads(json.dumps({"schema": schema, "estimates": _records(frame)}, default=str))
    json_path = write_json_atomic(results_dir / f"{name}.json", payload)
    return [csv_path, json_path]


#: Extra columns of stratified estimates (results/effect_modification.*), besides :data:`RISK_MODEL_COLUMNS`.
STRATIFIED_COLUMNS = {
    **RISK_MODEL_COLUMNS,
    "stratum": "all (pooled), <65 / 65+ by the case's age at index, or men / women by the case's sex",
    "stratified_by": "age or sex",
}

#: Columns of interaction tests (results/interaction_tests.*).
INTERACTION_COLUMNS = {
    "comparison": "population, sibling or spouse controls",
    "exposure": "lagged, windows or ever",
    "model": "per_class or mutual",
    "adjustment": "crude or adjusted",
    "stratified_by": "age or sex",
    "reference_stratum": "stratum of the main-effect coefficient (65+ or women)",
    "other_stratum": "stratum of the interaction (<65 or men)",
    "drug_class": "drug class",
    "window": "exposure window",
    "or_reference": "odds ratio in the reference stratum (interaction model)",
    "or_reference_lower": "lower 95% limit",
    "or_reference_upper": "upper 95% limit",
    "or_other": "odds ratio in the other stratum (interaction model)",
    "or_other_lower": "lower 95% limit",
    "or_other_upper": "upper 95% limit",
    "log_ratio_of_ors": "interaction coefficient: log(OR other / OR reference)",
    "se_log_ratio": "its standard error",
    "ratio_of_ors": "OR other / OR reference",
    "ratio_lower": "lower 95% limit of the ratio",
    "ratio_upper": "upper 95% limit of the ratio",
    "wald_p": "Wald test of no interaction for this term",
    "lr_statistic": "likelihood-ratio statistic for all interaction terms of the class",
    "lr_df": "its degrees of freedom",
    "lr_p": "likelihood-ratio p-value",
    "estimable": "false when the interaction model could not be fitted",
    "reason": "why not",
}
