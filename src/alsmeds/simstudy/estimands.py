"""The estimand of each estimator of the simulation study, read from the committed ``truth.json``.

Two kinds of estimand (Morris, White & Crowther 2019: the "E" of ADEMP):

* **implied** (``exact`` false): what the estimator converges to under the generator, which
  is not a parameter of it.  The generator fits the same model to ``truth_scale`` times the
  paper's sample and records the estimate and its Monte Carlo SE (``mc_se``):

  - risk models, every comparison (population, sibling, spouse; the sibling and spouse
    conditional odds ratios differ from the planted within-family ones because they pool
    the age groups of ``estimands.within_family_log_or`` and are non-collapsible):
    ``estimands.implied[<comparison>_per_class | <comparison>_mutual_<exposure>
    [_under_65 | _65_plus]][term].log_or``;
  - Cox models of prediagnostic use (total effects, through the faster decline of users):
    ``estimands.implied_cox[<model>][<class>].log_hr``.

* **planted** (``exact`` true, ``mc_se`` 0): parameters of the generator that the model
  contains:

  - joint model: the direct log hazard ratios of use
    (``estimands.prognosis.joint_model_log_hr_direct``), of age per decade, male sex and
    bulbar onset (``parameters.prognosis.log_hr_*``), the association ``alpha``
    (``association_per_alsfrs_point``), the non-user slope and the slope differences of
    users (antidepressants ``difference``, other classes 0);
  - ALSFRS-R mixed model: the same slopes (``months``, ``<class>:months``).

Estimators without an estimand (crude models, covariates of the risk and Cox models, the
intercepts) are stored in the replicates but not judged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from alsmeds import paths
from alsmeds.constants import CLASSES

from .replicate import ESTIMATOR_KEYS

#: Columns of :func:`estimand_table`.
ESTIMAND_COLUMNS = [*ESTIMATOR_KEYS, "estimand", "estimand_mc_se", "exact", "source"]

#: Age strata of the risk models -> suffix of the implied estimand's key.
STRATUM_SUFFIX = {"all": "", "<65": "_under_65", "65+": "_65_plus"}


def read_truth(path: str | Path | None = None) -> dict[str, Any]:
    """The committed planted truth (``data/synthetic/truth.json`` unless ``path`` is given)."""
    path = Path(path) if path is not None else paths.SYNTHETIC_DIR / "truth.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _implied_risk(truth: dict[str, Any]) -> list[dict[str, Any]]:
    implied = truth["estimands"].get("implied") or {}
    rows = []
    for key, terms in implied.items():
        if key.startswith("_"):
            continue
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
                    "estimand": float(value["log_or"]),
                    "estimand_mc_se": float(value["mc_se"]),
                    "exact": False,
                    "source": f"estimands.implied.{key}.{term}",
                }
            )
    return rows


def _implied_cox(truth: dict[str, Any]) -> list[dict[str, Any]]:
    implied = truth["estimands"].get("implied_cox") or {}
    rows = []
    for model in ("per_class", "mutual"):
        for k, value in (implied.get(model) or {}).items():
            rows.append(
                {
                    "family": "cox",
                    "comparison": "",
                    "model": model,
                    "exposure": "ever",
                    "stratum": "all",
                    "term": f"use_{k}",
                    "estimand": float(value["log_hr"]),
                    "estimand_mc_se": float(value["mc_se"]),
                    "exact": False,
                    "source": f"estimands.implied_cox.{model}.{k}",
                }
            )
    return rows


def _planted(truth: dict[str, Any]) -> list[dict[str, Any]]:
    prognosis = truth["estimands"]["prognosis"]
    parameters = truth["parameters"]["prognosis"]
    slopes = prognosis["alsfrs_slope_per_month"]
    slope_terms: dict[str, tuple[float, str]] = {
        "months": (slopes["non_users_of_antidepressants"], "estimands.prognosis.alsfrs_slope_per_month.non_users"),
    }
    for k in CLASSES:
        if k == "antidepressants":
            slope_terms[f"{k}:months"] = (slopes["difference"], "estimands.prognosis.alsfrs_slope_per_month.difference")
        else:  # the generator plants no slope difference for the other classes
            slope_terms[f"{k}:months"] = (0.0, f"parameters.prognosis (no slope_{k}: 0)")
    joint: dict[str, tuple[float, str]] = {f"long:{t}": v for t, v in slope_terms.items()}
    for k, value in prognosis["joint_model_log_hr_direct"].items():
        joint[f"surv:{k}"] = (value, f"estimands.prognosis.joint_model_log_hr_direct.{k}")
    joint["surv:age_per_decade"] = (
        parameters["log_hr_per_decade_of_age"],
        "parameters.prognosis.log_hr_per_decade_of_age",
    )
    joint["surv:male"] = (parameters["log_hr_male"], "parameters.prognosis.log_hr_male")
    joint["surv:bulbar"] = (parameters["log_hr_bulbar"], "parameters.prognosis.log_hr_bulbar")
    joint["alpha"] = (prognosis["association_per_alsfrs_point"], "estimands.prognosis.association_per_alsfrs_point")
    rows = []
    for family, model, terms in (
        ("mixed", "random_intercept_slope", slope_terms),
        ("joint", "joint_model", joint),
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


def estimand_table(truth: dict[str, Any] | None = None) -> pd.DataFrame:
    """One row per estimator with an estimand (see the module docstring).

    Parameters
    ----------
    truth : dict, optional
        A ``truth.json``; default the committed one (computed at large ``truth_scale``).

    Returns
    -------
    pandas.DataFrame
        :data:`ESTIMAND_COLUMNS`; ``estimand`` on the estimator's scale (log OR, log HR,
        points per month, log HR per point), ``estimand_mc_se`` its own Monte Carlo SE.
    """
    truth = read_truth() if truth is None else truth
    rows = _implied_risk(truth) + _implied_cox(truth) + _planted(truth)
    return pd.DataFrame(rows, columns=ESTIMAND_COLUMNS)
