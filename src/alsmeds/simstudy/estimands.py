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

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from alsmeds import paths
from alsmeds import truth as _truth
from alsmeds.constants import CLASSES
from alsmeds.truth import Truth, as_truth

from .replicate import ESTIMATOR_KEYS

#: Columns of :func:`estimand_table`.
ESTIMAND_COLUMNS = [*ESTIMATOR_KEYS, "estimand", "estimand_mc_se", "exact", "source"]

#: Age strata of the risk models -> suffix of the implied estimand's key.
STRATUM_SUFFIX = {"all": "", "<65": "_under_65", "65+": "_65_plus"}


def read_truth(path: str | Path | None = None) -> Truth:
    """The committed planted truth (``data/synthetic/truth.json`` unless ``path`` is given).

    Read by :func:`alsmeds.truth.read_truth`, the one reader of ``truth.json``.
    """
    return _truth.read_truth(Path(path) if path is not None else paths.SYNTHETIC_DIR / "truth.json")


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


def _implied_cox(truth: Truth) -> list[dict[str, Any]]:
    rows = []
    for model in ("per_class", "mutual"):
        for k, value in truth.implied_cox_terms(model).items():
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
