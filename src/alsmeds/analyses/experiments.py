"""Analyses a notebook runs in memory and never writes: variants of the specification and experiments.

The results files are written by the declared analyses (:mod:`alsmeds.analyses.risk`) from the
study specification.  A reader who changes a notebook's parameter (notebook 04's
``age_cutoff`` or ``exclude_last_year``) or follows a "try this" cell asks for something the
specification does not declare: the functions below compute it on the spot, with the
specification's other choices (classes, comparisons, adjustment sets), and return frames in
the results vocabulary.  Nothing here writes a file.

* :func:`subgroup_analyses`: the subgroup analyses at the notebook's cut-off and exposure
  (the results files when they are the specification's);
* :func:`windows_by_age`: the mutually adjusted windows fitted in each age stratum;
* :func:`age_cutoff_experiment`: the age interaction at several cut-offs;
* :func:`lag_experiment`: the main lagged exposure under several lags;
* :func:`familial_factor_experiment`: the same design simulated with and without the planted
  familial factor's effect on ALS, and the hypnotics association fitted in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pandas as pd

from alsmeds.analyses.risk import covariate_sets
from alsmeds.analyses.run import StudyResults
from alsmeds.analyses.sensitivity import fit_lag_sensitivity
from alsmeds.analyses.spec import StudySpec, read_spec
from alsmeds.models.risk import RiskModelSpec, fit_risk_model
from alsmeds.models.stratified import effect_modification, fit_stratified, interaction_tests
from alsmeds.reporting.risk_tables import cases_by_age
from alsmeds.study import Study

#: The exposure codings of the subgroup analyses: the lagged exposure (the study's) or any use before the index date.
SUBGROUP_EXPOSURES = ("lagged", "ever")


def subgroup_analyses(
    results: StudyResults, age_cutoff: float | None = None, exposure: str | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The subgroup analyses (stratified estimates and interaction tests) at a cut-off and exposure coding.

    Parameters
    ----------
    results : StudyResults
        The study, its specification and its results folder.
    age_cutoff : float, optional
        Age at the index date splitting the strata; default the specification's.
    exposure : {"lagged", "ever"}, optional
        Default the specification's.

    Returns
    -------
    (estimates, tests) : tuple of DataFrame
        When both equal the specification's: the results files ``effect_modification.csv`` and
        ``interaction_tests.csv`` (run or resumed by their analysis).  Otherwise the same
        analyses (:func:`alsmeds.models.stratified.effect_modification`, with the
        specification's comparisons, stratifiers, classes and adjustment sets) computed in
        memory and not written: the results folder keeps the specification's.  Estimands: the
        odds ratio of each class within each stratum, and the ratio of the stratum odds ratios
        (:mod:`alsmeds.models.stratified`).
    """
    spec = results.spec
    em = spec.effect_modification
    age_cutoff = em.age_cutoff if age_cutoff is None else float(age_cutoff)
    exposure = em.exposure if exposure is None else exposure
    if exposure not in SUBGROUP_EXPOSURES:
        raise ValueError(f"exposure must be one of {SUBGROUP_EXPOSURES}, not {exposure!r}")
    if age_cutoff == em.age_cutoff and exposure == em.exposure:
        return results["effect_modification.csv"], results["interaction_tests.csv"]
    study = results.study if results.study.rules == spec.rules else results.study.with_rules(spec.rules)
    return effect_modification(
        study.analysis_table,
        exposure=exposure,
        age_cutoff=age_cutoff,
        comparisons=tuple(spec.risk_models.comparisons),
        stratifiers=tuple(em.stratifiers),
        classes=tuple(spec.risk_models.drug_classes),
        **covariate_sets(spec),
    )


def windows_by_age(study: Study, age_cutoff: float, spec: StudySpec | None = None) -> pd.DataFrame:
    """The classes together (mutually adjusted windows), fitted separately in each age stratum of population sets.

    Estimand: the odds ratio of ALS for first use 0-1, 1-5 and >5 years before the index date
    against never, conditional on the matched set, the other classes and the adjustment set,
    within the sets whose case is younger (older) than ``age_cutoff``
    (:func:`alsmeds.models.stratified.fit_stratified`; the strata keep matched sets whole).

    Returns
    -------
    DataFrame
        The estimates of both strata with ``stratum`` and ``stratified_by``.
    """
    spec = spec if spec is not None else read_spec()
    model = RiskModelSpec(
        "population", "windows", tuple(spec.risk_models.drug_classes), "adjusted", **covariate_sets(spec)
    )
    return fit_stratified(study.analysis_table, model, by="age", age_cutoff=age_cutoff)


def age_cutoff_experiment(
    study: Study, cutoffs: Sequence[float], exposure: str = "lagged", spec: StudySpec | None = None
) -> pd.DataFrame:
    """The age interaction of the population comparison, one class per model, at each of several cut-offs.

    Returns
    -------
    DataFrame
        The rows of :func:`alsmeds.models.stratified.interaction_tests` (one per cut-off and class)
        with ``cut-off`` and ``cases under`` (population cases younger than the cut-off).
    """
    spec = spec if spec is not None else read_spec()
    rows = []
    for cutoff in cutoffs:
        under, _ = cases_by_age(study.analysis_table, cutoff)
        for k in spec.risk_models.drug_classes:
            model = RiskModelSpec("population", exposure, (k,), "adjusted", **covariate_sets(spec))
            test = interaction_tests(study.analysis_table, model, by="age", age_cutoff=cutoff)
            rows.append(test.assign(**{"cut-off": cutoff, "cases under": under}))
    return pd.concat(rows, ignore_index=True)


def lag_experiment(study: Study, lags: Sequence[int], spec: StudySpec | None = None) -> pd.DataFrame:
    """The main lagged exposure (population controls, adjusted, one class per model) under several lags.

    :func:`alsmeds.analyses.sensitivity.fit_lag_sensitivity` without the negative control: for lag
    ``L`` the estimand is the odds ratio of ALS for first qualifying use more than ``L`` years
    before the index date.
    """
    spec = spec if spec is not None else read_spec()
    return fit_lag_sensitivity(
        study.registry,
        study.rules,
        lags=tuple(lags),
        comparisons=("population",),
        include_negative_control=False,
        classes=tuple(spec.risk_models.drug_classes),
        **covariate_sets(spec),
    )


def familial_factor_experiment(
    seed: int = 7,
    scale: float | None = None,
    drug_class: str = "hypnotics",
    comparisons: Sequence[str] = ("population", "sibling"),
    spec: StudySpec | None = None,
) -> pd.DataFrame:
    """Simulate the design twice, with the planted familial factor's effect on ALS and without it, and fit both.

    The generator's familial factor raises both the use of the study classes (hypnotics most)
    and the risk of ALS, so it confounds the population comparison; siblings share it.  With
    ``log_or_familial_factor`` set to 0 the factor still drives use but no longer ALS: the
    population estimate should fall towards the sibling one.  The truth's numerical estimands
    are not computed (``truth_scale=0``), so each simulation takes about a second.

    Parameters
    ----------
    seed : int
        Seed of both simulations (the same draws apart from the switched parameter).
    scale : float, optional
        Sample size as a multiple of the paper's; default the paper's.
    drug_class : str
        The class fitted (the lagged exposure, adjusted, one class per model).
    comparisons : sequence of str
    spec : StudySpec, optional
        Adjustment sets; default the committed study's.

    Returns
    -------
    DataFrame
        ``familial factor`` ("on", "off"), then :data:`alsmeds.models.risk.RESULT_COLUMNS`, one row
        per simulation and comparison.
    """
    from alsmeds.simulate.parameters import SimulationParameters

    spec = spec if spec is not None else read_spec()
    planted = SimulationParameters()
    switched_off = replace(planted, risk=replace(planted.risk, log_or_familial_factor=0.0))
    frames = []
    for name, params in (("on", planted), ("off", switched_off)):
        study = Study.synthetic(seed=seed, scale=scale, params=params, truth_scale=0)
        for comparison in comparisons:
            model = RiskModelSpec(comparison, "lagged", (drug_class,), "adjusted", **covariate_sets(spec))
            frames.append(fit_risk_model(study.analysis_table, model).to_frame().assign(**{"familial factor": name}))
    out = pd.concat(frames, ignore_index=True)
    return out[["familial factor", *out.columns.drop("familial factor")]]


__all__ = [
    "SUBGROUP_EXPOSURES",
    "age_cutoff_experiment",
    "familial_factor_experiment",
    "lag_experiment",
    "subgroup_analyses",
    "windows_by_age",
]
