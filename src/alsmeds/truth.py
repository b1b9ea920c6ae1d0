"""The planted truth of synthetic data (``truth.json``), read once, and the one comparison with it.

The generator (:func:`alsmeds.simulate.generate`) writes ``truth.json`` beside each synthetic
extract: the planted parameters, the seed and scale, and the estimands (what each model
estimates under the planted data-generating process).  Two kinds of estimand:

* **planted** (exact, Monte Carlo SE 0): a parameter of the generator that the model contains,
  e.g. the joint model's direct log hazard ratios (``estimands.prognosis.joint_model_log_hr_direct``);
* **implied** (numerical): what an estimator converges to under the generator when that is not a
  parameter of it (non-collapsible odds and hazard ratios, confounded comparisons).  The generator
  fits the same model to a large simulated sample and records the estimate and its Monte Carlo
  standard error: ``estimands.implied[<key>][<term>]`` (risk models, log odds ratios),
  ``estimands.implied_cox[<model>][<class>]`` (Cox models, log hazard ratios),
  ``estimands.negative_control.implied[<comparison>][<adjustment>][<term>]``.

:func:`read_truth` / :meth:`Truth.from_dict` is the one reader; :class:`Truth` names every
estimand through small typed accessors, so no caller navigates the raw dict.  The one comparison
of an estimate with an estimand is :func:`distance_z` (in standard errors that include the
estimand's Monte Carlo error) and :func:`covers` (a closed interval contains the value).

Foundation module: it imports nothing of the package.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Keys of the estimand blocks that hold metadata, not estimands (``_truth_sample``).
_META_PREFIX = "_"


@dataclass(frozen=True)
class Estimand:
    """One estimand: its value (a log odds or log hazard ratio, a slope, ...) and its Monte Carlo SE.

    Attributes
    ----------
    value : float
        The estimand, on the model's scale (log ratios for ratio models).
    mc_se : float
        Monte Carlo standard error of ``value``: 0 for a planted parameter (exact), the standard
        error of the large-sample fit for an implied (numerical) estimand.
    """

    value: float
    mc_se: float = 0.0

    @property
    def exact(self) -> bool:
        """True for a planted parameter (no Monte Carlo error)."""
        return self.mc_se == 0.0


def distance_z(estimate: Any, se: Any, estimand: Any, estimand_mc_se: Any = 0.0) -> Any:
    """Distance of an estimate from its estimand, in standard errors: ``(estimate - estimand) / hypot(se, mc_se)``.

    Parameters
    ----------
    estimate : float or array-like
        The estimate (e.g. a log odds ratio).
    se : float or array-like
        Its standard error.
    estimand : float or array-like
        The value the estimator targets, on the same scale.
    estimand_mc_se : float or array-like, default 0
        Monte Carlo standard error of an implied (numerical) estimand; 0 for a planted parameter.

    Returns
    -------
    float or array
        ``(estimate - estimand) / sqrt(se^2 + estimand_mc_se^2)``.  Assumes the estimate and the
        numerical estimand are independent and roughly normal, so their difference has variance
        ``se^2 + mc_se^2``; then the result is about standard normal when the estimator is unbiased
        for the estimand.  NaN where the SE is missing; a zero denominator gives +/- inf (or NaN).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (np.asarray(estimate, dtype=float) - np.asarray(estimand, dtype=float)) / np.hypot(
            np.asarray(se, dtype=float), np.asarray(estimand_mc_se, dtype=float)
        )
    if hasattr(estimate, "index") and hasattr(estimate, "to_numpy"):  # a pandas Series stays one
        return type(estimate)(out, index=estimate.index)
    return float(out) if np.ndim(out) == 0 else out


def covers(lower: Any, upper: Any, value: Any) -> Any:
    """Whether the closed interval ``[lower, upper]`` contains ``value``: ``lower <= value <= upper``.

    Parameters
    ----------
    lower, upper : float or array-like
        Interval bounds (e.g. a 95% Wald confidence interval), on the scale of ``value``.
    value : float or array-like
        The value to hold against the interval (an estimand, a published value).

    Returns
    -------
    bool or array of bool
        True where the interval contains the value, bounds included; False where any is NaN.
    """
    result = (lower <= value) & (value <= upper)
    return bool(result) if np.ndim(result) == 0 else result


def _estimand(value: Mapping[str, Any], key: str) -> Estimand:
    return Estimand(float(value[key]), float(value.get("mc_se", 0.0)))


@dataclass(frozen=True)
class Truth:
    """The planted truth of one synthetic data set (``truth.json``), with typed accessors.

    Build it with :func:`read_truth` (a file) or :meth:`from_dict` (a parsed ``truth.json``).

    Attributes
    ----------
    seed : int
        Seed of the generator.
    scale : float
        Sample size in multiples of the paper's cases.
    parameters : mapping
        The planted parameters (``parameters``: ``design``, ``risk``, ``prognosis``, ...).
    estimands : mapping
        The estimand blocks (``estimands``); prefer the accessors.
    this_sample : mapping
        Descriptive values of this sample (follow-up quartiles, counts by role, ...).
    raw : mapping
        The parsed ``truth.json`` as read.
    """

    seed: int
    scale: float
    parameters: Mapping[str, Any] = field(repr=False)
    estimands: Mapping[str, Any] = field(repr=False)
    this_sample: Mapping[str, Any] = field(repr=False)
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Truth:
        """The truth of a parsed ``truth.json``."""
        return cls(
            seed=int(d["seed"]),
            scale=float(d["scale"]),
            parameters=d.get("parameters", {}),
            estimands=d.get("estimands", {}),
            this_sample=d.get("this_sample", {}),
            raw=d,
        )

    # --- risk models (log odds ratios) ---------------------------------------------------

    @property
    def implied_models(self) -> list[str]:
        """Keys of the risk models' implied estimands (e.g. ``population_mutual_windows``); empty if not computed."""
        return [k for k in (self.estimands.get("implied") or {}) if not k.startswith(_META_PREFIX)]

    def implied_terms(self, model: str) -> dict[str, Estimand]:
        """Term -> implied log odds ratio of one risk model (a key of :attr:`implied_models`)."""
        return {t: _estimand(v, "log_or") for t, v in self.estimands["implied"][model].items()}

    def implied_log_or(self, model: str, term: str) -> Estimand:
        """The implied log odds ratio of ``term`` (``<class>_<window>``) in ``model`` (e.g. ``sibling_per_class``)."""
        return _estimand(self.estimands["implied"][model][term], "log_or")

    @property
    def implied_sample(self) -> Mapping[str, Any]:
        """The large sample of the risk models' implied estimands (``truth_scale``, ``n_cases``, ...)."""
        return (self.estimands.get("implied") or {}).get("_truth_sample", {})

    def within_family_log_or(self, term: str, age_group: str) -> float:
        """The planted within-family log odds ratio of ``term`` in ``age_group`` (``under_65`` or ``65_plus``)."""
        return float(self.estimands["within_family_log_or"][term][f"log_or_{age_group}"])

    @property
    def within_family_terms(self) -> list[str]:
        """Terms with a planted within-family log odds ratio."""
        return list(self.estimands.get("within_family_log_or") or {})

    @property
    def published_vs_implied(self) -> list[dict[str, Any]]:
        """Published odds ratios beside the implied population ones (``term``, ``published_or``, ``implied_or``)."""
        return list(self.estimands.get("published_vs_implied") or [])

    # --- negative control ----------------------------------------------------------------

    @property
    def negative_control_class(self) -> str | None:
        """The negative-control exposure's class name; None without a negative control."""
        return (self.estimands.get("negative_control") or {}).get("drug_class")

    @property
    def negative_control_planted_log_or(self) -> float:
        """The negative control's planted effect on ALS (0: none)."""
        return float(self.estimands["negative_control"]["planted_log_or"])

    def negative_control_implied(self, comparison: str, adjustment: str) -> dict[str, Estimand]:
        """Term -> implied (confounded) log odds ratio of the negative control, per comparison and adjustment."""
        terms = self.estimands["negative_control"]["implied"][comparison][adjustment]
        return {t: _estimand(v, "log_or") for t, v in terms.items()}

    @property
    def negative_control_comparisons(self) -> dict[str, list[str]]:
        """Comparison -> adjustments with implied negative-control estimands; empty without them."""
        block = (self.estimands.get("negative_control") or {}).get("implied") or {}
        return {c: list(by) for c, by in block.items()}

    # --- panel of controls (empirical calibration) ----------------------------------------

    @property
    def panel_planted_null(self) -> dict[str, Any]:
        """The distribution the panel's systematic errors were drawn from (``mean``, ``sd``, ``drawn_mean``...); {}."""
        return dict((self.estimands.get("panel") or {}).get("planted_null") or {})

    @property
    def panel_planted_log_or(self) -> dict[str, float]:
        """Control -> its planted (causal) log odds ratio of lagged use (0: a negative control); {} without a panel."""
        block = (self.estimands.get("panel_implied") or {}).get("planted_log_or") or {}
        return {group: float(value) for group, value in block.items()}

    @property
    def panel_comparisons(self) -> list[str]:
        """Comparisons with implied estimands of the panel's controls; empty without them."""
        return list((self.estimands.get("panel_implied") or {}).get("implied") or {})

    def panel_implied(self, comparison: str) -> dict[str, dict[str, Estimand | None]]:
        """Control -> term (``<control>_<window>``) -> the main model's implied log odds ratio (None: not estimable)."""
        block = self.estimands["panel_implied"]["implied"][comparison]
        return {
            group: {t: None if v is None else _estimand(v, "log_or") for t, v in terms.items()}
            for group, terms in block.items()
        }

    def panel_implied_null(self, comparison: str) -> dict[str, dict[str, Any]]:
        """Window -> the realised null of the negative controls' implied errors (``mean``, ``sd``, ``n_controls``)."""
        return dict(((self.estimands.get("panel_implied") or {}).get("null") or {}).get(comparison) or {})

    # --- prognosis (Cox, joint and mixed models) -----------------------------------------

    @property
    def has_implied_cox(self) -> bool:
        """True when the Cox models' implied estimands were computed."""
        return bool(self.estimands.get("implied_cox"))

    def implied_cox(self, model: str, drug_class: str) -> Estimand:
        """The implied (total-effect) log hazard ratio of ``drug_class`` in Cox ``model`` (per_class, mutual)."""
        return _estimand(self.estimands["implied_cox"][model][drug_class], "log_hr")

    def implied_cox_terms(self, model: str) -> dict[str, Estimand]:
        """Class -> implied log hazard ratio of one Cox model; empty when not computed."""
        block = (self.estimands.get("implied_cox") or {}).get(model) or {}
        return {k: _estimand(v, "log_hr") for k, v in block.items()}

    @property
    def implied_cox_sample(self) -> Mapping[str, Any]:
        """The large sample of the Cox models' implied estimands (``n_cases``, ``truth_scale``, ...)."""
        return (self.estimands.get("implied_cox") or {}).get("_truth_sample", {})

    def planted_log_hr_direct(self, drug_class: str) -> float:
        """The planted direct log hazard ratio of ``drug_class`` (the joint model's estimand, exact)."""
        return float(self.estimands["prognosis"]["joint_model_log_hr_direct"][drug_class])

    @property
    def planted_log_hr_direct_by_class(self) -> dict[str, float]:
        """Class -> planted direct log hazard ratio."""
        return {k: float(v) for k, v in self.estimands["prognosis"]["joint_model_log_hr_direct"].items()}

    @property
    def association_per_alsfrs_point(self) -> float:
        """The planted association ``alpha``: log hazard ratio per ALSFRS-R point of the current true score."""
        return float(self.estimands["prognosis"]["association_per_alsfrs_point"])

    @property
    def association_per_alsfrs_slope(self) -> float:
        """The planted slope association ``alpha_slope``: log hazard ratio per ALSFRS-R point per month of the
        current true slope (``parameters.prognosis.association_slope``); 0 when a truth file predates it."""
        return float(self.parameters.get("prognosis", {}).get("association_slope", 0.0))

    @property
    def association_structure(self) -> str:
        """Which functions of the true ALSFRS-R the planted hazard depends on: ``"value"`` (current value),
        ``"slope"`` (current slope), ``"both"`` or ``"none"`` (``parameters.prognosis.association_structure``).

        A truth file that predates the slope association has none recorded: its structure follows from the
        current-value association (``"value"``, or ``"none"`` when it is 0).
        """
        recorded = self.parameters.get("prognosis", {}).get("association_structure")
        if recorded is not None:
            return str(recorded)
        alpha = (self.estimands.get("prognosis") or {}).get("association_per_alsfrs_point", 0.0)
        value, slope = float(alpha) != 0, self.association_per_alsfrs_slope != 0
        return {(True, True): "both", (True, False): "value", (False, True): "slope"}.get((value, slope), "none")

    def alsfrs_slope_per_month(self, group: str) -> float:
        """The planted mean ALSFRS-R slope per month of ``group`` (``non_users_of_antidepressants``,
        ``antidepressant_users``) or the slope ``difference`` of antidepressant users."""
        return float(self.estimands["prognosis"]["alsfrs_slope_per_month"][group])

    def prognosis_parameter(self, name: str) -> Any:
        """A planted prognosis parameter (``parameters.prognosis``), e.g. ``log_hr_male``, ``intercept_sd``."""
        return self.parameters["prognosis"][name]

    @property
    def alsfrs_intercept_mean(self) -> float:
        """The planted mean ALSFRS-R score at diagnosis."""
        return float(self.estimands["prognosis"]["alsfrs_intercept_mean"])


def read_truth(path: str | Path) -> Truth:
    """Read a ``truth.json`` file into a :class:`Truth`."""
    return Truth.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def as_truth(truth: Truth | Mapping[str, Any] | None) -> Truth | None:
    """A :class:`Truth` from a Truth, a parsed ``truth.json`` dict (``Study.truth``), or None (a real extract)."""
    if truth is None or isinstance(truth, Truth):
        return truth
    return Truth.from_dict(truth)


__all__ = ["Estimand", "Truth", "as_truth", "covers", "distance_z", "read_truth"]
