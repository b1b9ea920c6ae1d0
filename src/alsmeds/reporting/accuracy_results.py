"""Accuracy of dynamic predictions, the joint model against a landmark Cox model: tables and text for people.

:func:`alsmeds.models.joint.landmark.prediction_accuracy` scores both models' risks of death or
invasive ventilation in ``(s, s + w]`` at landmark times ``s``; this module shows the result:

* :func:`accuracy_table` -- one row per landmark and horizon, the two models' AUC and Brier score
  with 95% Wald intervals (influence-function standard errors) side by side, and the paired
  difference;
* :func:`calibration_in_the_large` -- observed (Kaplan-Meier) against mean predicted risk;
* :func:`accuracy_text` -- the comparison in a few sentences, saying that it is in sample.

The columns of the results frames are described where they are made:
:data:`alsmeds.models.joint.landmark.ACCURACY_COLUMNS`, ``ACCURACY_CONTRAST_COLUMNS`` and
``ACCURACY_CALIBRATION_COLUMNS``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alsmeds.constants import Z_975
from alsmeds.formatting import fixed, format_p, percent, signed
from alsmeds.models.joint.landmark import ACCURACY_CALIBRATION_COLUMNS, ACCURACY_COLUMNS, MODELS, PredictionAccuracy

#: Readable names of the models.
MODEL_LABELS = {"joint": "joint model", "landmark_cox": "landmark Cox model"}


def _interval(estimate: float, se: float, decimals: int = 3) -> str:
    if not np.isfinite(estimate):
        return "n.a."
    if not np.isfinite(se):
        return fixed(estimate, decimals)
    lower, upper = estimate - Z_975 * se, estimate + Z_975 * se
    return f"{fixed(estimate, decimals)} ({fixed(lower, decimals)} to {fixed(upper, decimals)})"


def accuracy_table(accuracy: PredictionAccuracy, decimals: int = 3) -> pd.DataFrame:
    """The two models' AUC and Brier score per landmark and horizon, and their difference, as text.

    Parameters
    ----------
    accuracy : PredictionAccuracy
    decimals : int

    Returns
    -------
    DataFrame
        ``landmark``, ``horizon`` (months), ``at risk``, ``events``, ``AUC <model>`` and
        ``Brier <model>`` (estimate and 95% Wald interval) for each model, ``AUC difference`` and
        ``Brier difference`` (joint model minus landmark Cox model, paired interval and p-value).
    """
    scores = accuracy.scores.set_index(["landmark", "horizon", "model"])
    contrasts = accuracy.contrasts.set_index(["landmark", "horizon"])
    rows = []
    for (s, w), group in accuracy.scores.groupby(["landmark", "horizon"], sort=True):
        first = group.iloc[0]
        row = {
            "landmark": fixed(s, 0),
            "horizon": fixed(w, 0),
            "at risk": int(first["n_at_risk"]),
            "events": int(first["events_in_window"]),
        }
        for m in MODELS:
            r = scores.loc[(s, w, m)] if (s, w, m) in scores.index else None
            row[f"AUC {MODEL_LABELS[m]}"] = _interval(r["auc"], r["auc_se"], decimals) if r is not None else "n.a."
            row[f"Brier {MODEL_LABELS[m]}"] = (
                _interval(r["brier"], r["brier_se"], decimals) if r is not None else "n.a."
            )
        if (s, w) in contrasts.index:
            c = contrasts.loc[(s, w)]
            row["AUC difference"] = (
                f"{_interval(c['auc_difference'], c['auc_difference_se'], decimals)}, "
                f"p {format_p(c['auc_difference_p'])}"
            )
            row["Brier difference"] = (
                f"{_interval(c['brier_difference'], c['brier_difference_se'], decimals)}, "
                f"p {format_p(c['brier_difference_p'])}"
            )
        else:
            row["AUC difference"] = row["Brier difference"] = "n.a."
        rows.append(row)
    return pd.DataFrame(rows)


def calibration_in_the_large(accuracy: PredictionAccuracy) -> pd.DataFrame:
    """Observed (Kaplan-Meier) against mean predicted risk per model, landmark and horizon.

    Returns
    -------
    DataFrame
        ``model``, ``landmark``, ``horizon``, ``observed_risk``, ``mean_risk``, ``difference``
        (observed - predicted: positive when the model under-predicts) and ``ratio`` (observed /
        predicted).
    """
    out = accuracy.scores[["model", "landmark", "horizon", "observed_risk", "mean_risk"]].copy()
    out["difference"] = out["observed_risk"] - out["mean_risk"]
    out["ratio"] = out["observed_risk"] / out["mean_risk"]
    return out.reset_index(drop=True)


def accuracy_text(accuracy: PredictionAccuracy) -> str:
    """The comparison in words: AUC and Brier score of both models at every landmark and horizon.

    Returns
    -------
    str
        One paragraph per landmark and horizon, then what the numbers assume.
    """
    scores = accuracy.scores.set_index(["landmark", "horizon", "model"])
    contrasts = accuracy.contrasts.set_index(["landmark", "horizon"])
    lines = []
    for (s, w), group in accuracy.scores.groupby(["landmark", "horizon"], sort=True):
        first = group.iloc[0]
        head = (
            f"At {fixed(s, 0)} months after diagnosis, {int(first['n_at_risk'])} patients were at risk and "
            f"{int(first['events_in_window'])} died or began invasive ventilation within {fixed(w, 0)} months "
            f"(Kaplan-Meier risk {percent(first['observed_risk'], 1)})."
        )
        parts = []
        for m in MODELS:
            if (s, w, m) not in scores.index or not np.isfinite(scores.loc[(s, w, m), "auc"]):
                reason = scores.loc[(s, w, m), "reason"] if (s, w, m) in scores.index else ""
                parts.append(f"The {MODEL_LABELS[m]} gives no score ({reason or 'n.a.'}).")
                continue
            r = scores.loc[(s, w, m)]
            parts.append(
                f"The {MODEL_LABELS[m]}: AUC {_interval(r['auc'], r['auc_se'])}, "
                f"Brier score {_interval(r['brier'], r['brier_se'])}, mean predicted risk {percent(r['mean_risk'], 1)}."
            )
        if (s, w) in contrasts.index:
            c = contrasts.loc[(s, w)]
            parts.append(
                f"Joint minus landmark Cox: AUC {signed(c['auc_difference'], 3)} "
                f"(p {format_p(c['auc_difference_p'])}), Brier score {signed(c['brier_difference'], 3)} "
                f"(p {format_p(c['brier_difference_p'])})."
            )
        lines.append(" ".join([head, *parts]))
    sample = (
        "Both models were scored on the patients they were fitted to (in sample, as JM's aucJM), "
        "which flatters them, the model with more parameters more."
        if accuracy.in_sample
        else "Both models were fitted to other patients than those scored (split sample)."
    )
    lines.append(
        f"{sample} AUC and Brier score are inverse-probability-of-censoring weighted with Kaplan-Meier "
        "weights (censoring assumed independent of the event and of the risks), with influence-function "
        "standard errors that take the risks as fixed; intervals are 95% Wald intervals."
    )
    return "\n\n".join(lines)


__all__ = [
    "ACCURACY_COLUMNS",
    "MODEL_LABELS",
    "PREDICTION_CALIBRATION_COLUMNS",
    "accuracy_table",
    "accuracy_text",
    "calibration_file_text",
    "calibration_in_the_large",
]


#: Columns of ``results/prediction_accuracy.{csv,json}``: the two models' scores, then their paired differences.
PREDICTION_ACCURACY_COLUMNS: dict[str, str] = {
    **{k: v for k, v in ACCURACY_COLUMNS.items() if k != "model"},
    "model": "joint (the joint model's dynamic prediction), landmark_cox (a Cox model at the landmark on the last "
    "observed ALSFRS-R) or joint_minus_landmark_cox (the paired difference: auc and brier hold the differences, "
    "auc_se and brier_se their SEs)",
    "auc_p": "for the difference: two-sided Wald p-value of no difference in AUC (empty for a model's own row)",
    "brier_p": "for the difference: two-sided Wald p-value of no difference in Brier score",
}


#: Columns of ``results/prediction_calibration.{csv,json}``: the risk groups of each model, landmark and horizon.
PREDICTION_CALIBRATION_COLUMNS: dict[str, str] = {
    **ACCURACY_CALIBRATION_COLUMNS,
    "reason": "why there is no calibration table (no joint model); empty otherwise",
}


def accuracy_rows(accuracy: PredictionAccuracy) -> pd.DataFrame:
    """The scores and the paired differences of a :class:`PredictionAccuracy` in one frame (the results file).

    Rows of the two models as scored, then one row per landmark and horizon with
    ``model = "joint_minus_landmark_cox"`` whose ``auc``/``brier`` are the differences (joint
    minus landmark Cox, the same patients) with their paired SEs and Wald p-values.
    """
    scores = accuracy.scores.copy()
    contrasts = accuracy.contrasts
    diff = pd.DataFrame(
        {
            "model": "joint_minus_landmark_cox",
            "landmark": contrasts["landmark"],
            "horizon": contrasts["horizon"],
            "auc": contrasts["auc_difference"],
            "auc_se": contrasts["auc_difference_se"],
            "auc_p": contrasts["auc_difference_p"],
            "brier": contrasts["brier_difference"],
            "brier_se": contrasts["brier_difference_se"],
            "brier_p": contrasts["brier_difference_p"],
        }
    )
    out = pd.concat([scores, diff], ignore_index=True)
    return out.reindex(columns=list(PREDICTION_ACCURACY_COLUMNS))


def accuracy_file_table(accuracy: pd.DataFrame, decimals: int = 3) -> pd.DataFrame:
    """``results/prediction_accuracy.csv`` as a table for people: one row per landmark and horizon.

    Columns: each model's AUC and Brier score with 95% Wald intervals (influence-function SEs),
    and the paired differences (joint minus landmark Cox) with their p-values.  A landmark
    and horizon without scores (no joint model) shows the reason.
    """
    out = []
    for (s, w), rows in accuracy.groupby(["landmark", "horizon"], sort=True):
        by_model = rows.set_index("model")
        row = {"landmark (months)": f"{s:g}", "horizon (months)": f"{w:g}"}
        for model, label in MODEL_LABELS.items():
            r = by_model.loc[model] if model in by_model.index else None
            row[f"AUC, {label}"] = _interval(r["auc"], r["auc_se"], decimals) if r is not None else "n.a."
            row[f"Brier, {label}"] = _interval(r["brier"], r["brier_se"], decimals) if r is not None else "n.a."
        d = by_model.loc["joint_minus_landmark_cox"] if "joint_minus_landmark_cox" in by_model.index else None
        if d is not None and np.isfinite(d["auc"]):
            row["AUC difference (p)"] = f"{signed(d['auc'], decimals)} ({format_p(d['auc_p'])})"
            row["Brier difference (p)"] = f"{signed(d['brier'], decimals + 1)} ({format_p(d['brier_p'])})"
        else:
            reasons = rows["reason"].dropna().astype(str)
            row["AUC difference (p)"] = reasons.iloc[0] if len(reasons) else "n.a."
            row["Brier difference (p)"] = ""
        out.append(row)
    return pd.DataFrame(out)


def accuracy_file_text(accuracy: pd.DataFrame, alpha: float = 0.05) -> str:
    """What the accuracy file says in two sentences: where the joint model is better, by the paired tests."""
    diff = accuracy[accuracy["model"] == "joint_minus_landmark_cox"].dropna(subset=["auc"])
    if diff.empty:
        reasons = accuracy["reason"].dropna().astype(str)
        return "no scores: " + (reasons.iloc[0] if len(reasons) else "no joint model")
    better_auc = diff[(diff["auc"] > 0) & (diff["auc_p"] < alpha)]
    better_brier = diff[(diff["brier"] < 0) & (diff["brier_p"] < alpha)]
    worse = diff[((diff["auc"] < 0) & (diff["auc_p"] < alpha)) | ((diff["brier"] > 0) & (diff["brier_p"] < alpha))]

    def cells(frame: pd.DataFrame) -> str:
        return ", ".join(
            f"from {s:g} months for the next {w:g}" for s, w in zip(frame["landmark"], frame["horizon"], strict=True)
        )

    parts = [f"Of {len(diff)} landmark-horizon pairs, the joint model discriminates better (AUC, p < {alpha:g}) "
             f"in {len(better_auc)}" + (f" ({cells(better_auc)})" if len(better_auc) else "")
             + f" and predicts better (Brier) in {len(better_brier)}"
             + (f" ({cells(better_brier)})" if len(better_brier) else "") + "."]  # fmt: skip
    parts.append(
        f"The landmark Cox model is better in {len(worse)}; elsewhere the two are within their paired uncertainty."
    )
    return " ".join(parts)


def calibration_file_text(calibration: pd.DataFrame, z: float = Z_975) -> str:
    """What the calibration file says: per model, the risk groups whose observed risk is far from the predicted one.

    Parameters
    ----------
    calibration : DataFrame
        ``results/prediction_calibration.csv``.
    z : float
        Normal quantile of the intervals around the observed risks.

    Returns
    -------
    str
        One sentence per model: in how many risk groups (over every landmark and horizon) the
        mean predicted risk lies outside the 95% Wald interval of the observed (Kaplan-Meier)
        risk, and the largest gap between the two, with where it is.  About one group in twenty
        lies outside by chance when the predictions are calibrated; the groups of one landmark and
        horizon are independent, the landmarks and horizons are not (the same patients).  The
        reason when there is no table.
    """
    rows = calibration.dropna(subset=["observed_risk", "mean_risk"])
    if rows.empty:
        reasons = calibration["reason"].dropna().astype(str) if "reason" in calibration else pd.Series(dtype=str)
        reasons = reasons[reasons != ""]
        return "no calibration table: " + (reasons.iloc[0] if len(reasons) else "no risks were scored")
    sentences = []
    for model, label in MODEL_LABELS.items():
        mine = rows[rows["model"] == model]
        if mine.empty:
            continue
        gap = mine["observed_risk"] - mine["mean_risk"]
        outside = int((gap.abs() > z * mine["observed_se"]).sum())
        worst = mine.loc[gap.abs().idxmax()]
        sentences.append(
            f"{label[0].upper() + label[1:]}: the mean predicted risk lies outside the 95% interval of the observed "
            f"risk in {outside} of {len(mine)} risk groups; the largest gap is "
            f"{signed(100 * (worst['observed_risk'] - worst['mean_risk']), 1)} percentage points (observed "
            f"{percent(worst['observed_risk'], 1)} against predicted {percent(worst['mean_risk'], 1)}, group "
            f"{int(worst['group'])} from {worst['landmark']:g} months for the next {worst['horizon']:g})."
        )
    return " ".join(sentences)
