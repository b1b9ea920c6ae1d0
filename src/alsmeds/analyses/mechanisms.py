"""The simulation study under several data-generating mechanisms: which estimator breaks under which assumption.

The stored replicates (``results/simstudy_mechanisms_estimates.csv.gz``, written by
``python -m alsmeds.simstudy --mechanism all``, never by an analysis; the mechanisms are defined in
:mod:`alsmeds.simstudy.mechanisms` and ``docs/simstudy.md`` *Several mechanisms (ADEMP plan)* gives the
plan) hold, stacked, each mechanism's replicate estimates (rows of the simulation study's replicate frame,
:data:`alsmeds.simstudy.replicate.REPLICATE_COLUMNS`, record ``replicate``) and the estimand of each of its
estimators (record ``estimand``: computed once per mechanism from that mechanism's parameters by the
estimands layer, :func:`alsmeds.simstudy.mechanisms.mechanism_truth`).  The file is self-contained, so this
module reads it and computes the performance measures of every estimator under every mechanism with the
simulation study's own functions (:func:`alsmeds.reporting.simstudy.performance_measures`; Morris, White &
Crowther 2019), stacked long: one row per mechanism, estimator and measure, with its Monte Carlo SE
(:func:`mechanism_performance`).  The analysis ``simstudy_mechanisms`` writes them.

Assumptions: within a mechanism the replicates are independent draws (independent seeds); the mechanisms'
base seeds differ, so the mechanisms are independent of each other too (a difference between two
mechanisms has Monte Carlo SE ``sqrt(se_1^2 + se_2^2)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from alsmeds import paths
from alsmeds.analyses.context import AnalysisContext
from alsmeds.analyses.registry import analysis
from alsmeds.reporting.results import write_estimates
from alsmeds.reporting.simstudy import ESTIMAND_COLUMNS, ESTIMATOR_KEYS, performance_measures

#: The stored replicates of the mechanisms (``python -m alsmeds.simstudy --mechanism all --results-dir results``).
MECHANISM_ESTIMATES_FILE = "simstudy_mechanisms_estimates.csv.gz"

#: Columns of the stored file, with their meaning.
MECHANISM_ESTIMATES_COLUMNS = {
    "mechanism": "data-generating mechanism (alsmeds.simstudy.mechanisms.MECHANISMS)",
    "scale": "sample size of its replicates, a multiple of the paper's 1,057 cases",
    "record": "replicate: a row of a replicate's frame; estimand: the estimand of one estimator under the mechanism",
    "rep": "replicate number, 0-based (-1 for an estimand)",
    "seed": "integer seed of the replicate's data (runner.replicate_seed of the mechanism's base seed; -1 for an "
    "estimand)",
    "family": "risk, cox, mixed, joint; diagnostic, timing, failure (replicates only)",
    "comparison": "population, sibling or spouse controls (risk models)",
    "model": "per_class or mutual (risk, Cox); the mixed or joint model's name",
    "exposure": "lagged or windows (risk); ever (prognosis)",
    "stratum": "all, or the case's age stratum <65 / 65+",
    "term": "model term; a diagnostic's or a timing's name",
    "estimate": "estimate on the model's scale; an estimand's value (record estimand)",
    "se": "model-based standard error; an implied estimand's own Monte Carlo SE (0 for a planted one)",
    "estimable": "false when the term could not be estimated; for an estimand: true when planted (exact)",
    "reason": "why not estimable, or a failed replicate's error; for an estimand: where it is in the truth",
    "info": "discordant matched sets (risk), exposed events (Cox)",
}

#: The measures of :func:`mechanism_performance` -> the column of their Monte Carlo SE in
#: :func:`~alsmeds.reporting.simstudy.performance_measures` (``bias_over_empse``: ``bias_mcse / empse``).
MEASURES = {
    "bias": "bias_mcse",
    "bias_over_empse": None,
    "empse": "empse_mcse",
    "modse": "modse_mcse",
    "relerr_modse": "relerr_modse_mcse",
    "coverage": "coverage_mcse",
    "be_coverage": "be_coverage_mcse",
    "power": "power_mcse",
}

#: Columns of :func:`mechanism_performance` (``results/simstudy_mechanisms.{csv,json}``), with their meaning.
MECHANISM_PERFORMANCE_COLUMNS = {
    "mechanism": "data-generating mechanism",
    "estimator": "the estimator's keys joined by '/': family/comparison/model/exposure/stratum/term (empty omitted)",
    "family": "risk (conditional logistic), cox, mixed (ALSFRS-R mixed model) or joint (joint model)",
    "comparison": "population, sibling or spouse controls (risk models)",
    "model": "per_class / mutual (risk, Cox); the mixed or joint model",
    "exposure": "lagged or windows (risk); ever (prognosis)",
    "stratum": "all, or the case's age stratum <65 / 65+",
    "term": "model term",
    "estimand": "the estimand under this mechanism, on the estimator's scale",
    "n_reps": "replicates of the mechanism that ran (failed ones excluded)",
    "n_estimable": "replicates with an estimate and a finite SE",
    "measure": "bias, bias_over_empse (bias in empirical SE units), empse, modse, relerr_modse (percent), coverage, "
    "be_coverage (bias-eliminated), power (share of intervals excluding 0)",
    "value": "the measure (Morris, White & Crowther 2019; alsmeds.reporting.simstudy.performance_measures)",
    "mcse": "its Monte Carlo SE (bias_over_empse: bias_mcse / empse, the estimand's own error left out)",
}


def stored_mechanisms_file() -> Path:
    """The stored replicates of the mechanisms: the committed ``results/simstudy_mechanisms_estimates.csv.gz``."""
    return paths.COMMITTED_RESULTS_DIR / MECHANISM_ESTIMATES_FILE


def read_mechanism_estimates(path: str | Path | None = None) -> pd.DataFrame:
    """Read the stored replicates of the mechanisms (default :func:`stored_mechanisms_file`).

    Text columns are read as text (missing as ``""``), ``estimable`` as a boolean.

    Raises
    ------
    FileNotFoundError
        When the file is missing (``python -m alsmeds.simstudy --mechanism all --results-dir results`` writes it).
    """
    path = Path(path) if path is not None else stored_mechanisms_file()
    if not path.is_file():
        raise FileNotFoundError(
            f"no stored mechanisms study {paths.display_path(path)}: run `python -m alsmeds.simstudy --mechanism all`"
        )
    text = ("mechanism", "record", "family", "comparison", "model", "exposure", "stratum", "term", "reason")
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={c: str for c in text})
    for c in text:
        frame[c] = frame[c].fillna("")
    frame["estimable"] = frame["estimable"].astype(str).str.lower().isin(["true", "1"])
    return frame[list(MECHANISM_ESTIMATES_COLUMNS)]


def estimand_records(estimands: pd.DataFrame, mechanism: str, scale: float) -> pd.DataFrame:
    """An estimand table (:func:`~alsmeds.reporting.simstudy.estimand_table`) as rows of the stored file.

    Parameters
    ----------
    estimands : DataFrame
        :data:`~alsmeds.reporting.simstudy.ESTIMAND_COLUMNS`.
    mechanism : str
    scale : float

    Returns
    -------
    DataFrame
        :data:`MECHANISM_ESTIMATES_COLUMNS`, record ``estimand`` (see their meaning).
    """
    out = estimands[ESTIMATOR_KEYS].copy()
    out.insert(0, "seed", -1)
    out.insert(0, "rep", -1)
    out.insert(0, "record", "estimand")
    out.insert(0, "scale", float(scale))
    out.insert(0, "mechanism", mechanism)
    out["estimate"] = estimands["estimand"].astype(float).to_numpy()
    out["se"] = estimands["estimand_mc_se"].astype(float).to_numpy()
    out["estimable"] = estimands["exact"].astype(bool).to_numpy()
    out["reason"] = estimands["source"].astype(str).to_numpy()
    out["info"] = np.nan
    return out[list(MECHANISM_ESTIMATES_COLUMNS)]


def stack_mechanism(replicates: pd.DataFrame, estimands: pd.DataFrame, mechanism: str, scale: float) -> pd.DataFrame:
    """One mechanism's rows of the stored file: its estimands, then its replicate rows.

    Parameters
    ----------
    replicates : DataFrame
        Replicate rows (:data:`alsmeds.simstudy.replicate.REPLICATE_COLUMNS`).
    estimands : DataFrame
        Its estimand table.
    mechanism : str
    scale : float

    Returns
    -------
    DataFrame
        :data:`MECHANISM_ESTIMATES_COLUMNS`.
    """
    reps = replicates.copy()
    reps.insert(0, "record", "replicate")
    reps.insert(0, "scale", float(scale))
    reps.insert(0, "mechanism", mechanism)
    both = pd.concat([estimand_records(estimands, mechanism, scale), reps[list(MECHANISM_ESTIMATES_COLUMNS)]])
    return both.reset_index(drop=True)


def split_mechanism(stacked: pd.DataFrame, mechanism: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One mechanism's replicate rows and its estimand table, from the stored file.

    Returns
    -------
    (replicates, estimands) : tuple of DataFrame
        The replicate rows (``rep`` ... ``info``) and :data:`~alsmeds.reporting.simstudy.ESTIMAND_COLUMNS`.
    """
    rows = stacked[stacked["mechanism"] == mechanism]
    replicates = rows[rows["record"] == "replicate"].drop(columns=["mechanism", "scale", "record"])
    est = rows[rows["record"] == "estimand"]
    estimands = est[ESTIMATOR_KEYS].assign(
        estimand=est["estimate"].astype(float),
        estimand_mc_se=est["se"].astype(float),
        exact=est["estimable"].astype(bool),
        source=est["reason"],
    )
    return replicates.reset_index(drop=True), estimands[ESTIMAND_COLUMNS].reset_index(drop=True)


def estimator_label(frame: pd.DataFrame) -> pd.Series:
    """Each row's estimator keys joined by ``/`` (empty keys omitted): ``risk/population/per_class/lagged/all/..``."""
    parts = frame[ESTIMATOR_KEYS].astype(str)
    return parts.apply(lambda r: "/".join(v for v in r if v), axis=1)


def mechanism_performance(stacked: pd.DataFrame, mechanisms: Sequence[str] | None = None) -> pd.DataFrame:
    """Performance of every estimator under every mechanism, stacked long with Monte Carlo SEs.

    For each mechanism, :func:`~alsmeds.reporting.simstudy.performance_measures` of its replicates
    against its own estimands (the stored ``estimand`` records), then one row per measure of
    :data:`MEASURES`.

    Parameters
    ----------
    stacked : DataFrame
        The stored file (:func:`read_mechanism_estimates`).
    mechanisms : sequence of str, optional
        Which mechanisms, in this order (default: every one, in the file's order).

    Returns
    -------
    DataFrame
        :data:`MECHANISM_PERFORMANCE_COLUMNS`: mechanisms in order, estimators in their estimand table's
        order, measures in the order of :data:`MEASURES`.
    """
    names = list(dict.fromkeys(stacked["mechanism"])) if mechanisms is None else list(mechanisms)
    frames = []
    for m, name in enumerate(names):
        replicates, estimands = split_mechanism(stacked, name)
        perf = performance_measures(replicates, estimands).reset_index(drop=True)
        perf.insert(0, "estimator", estimator_label(perf).to_numpy() if len(perf) else [])
        perf.insert(0, "mechanism", name)
        for q, (measure, mcse) in enumerate(MEASURES.items()):
            se = perf["bias_mcse"] / perf["empse"] if mcse is None else perf[mcse]
            long = perf.assign(measure=measure, value=perf[measure].astype(float), mcse=se.astype(float))
            frames.append(long.assign(_m=m, _e=np.arange(len(perf)), _q=q))
    if not frames:
        return pd.DataFrame(columns=list(MECHANISM_PERFORMANCE_COLUMNS))
    out = pd.concat(frames, ignore_index=True).sort_values(["_m", "_e", "_q"], kind="stable")
    return out[list(MECHANISM_PERFORMANCE_COLUMNS)].reset_index(drop=True)


def _mechanisms_inputs(ctx: AnalysisContext) -> list[Path]:
    """The stored replicates of the mechanisms (their content keys the analysis's cache)."""
    return [stored_mechanisms_file()]


@analysis(
    "simstudy_mechanisms",
    outputs=("simstudy_mechanisms.csv", "simstudy_mechanisms.json"),
    inputs=_mechanisms_inputs,
)
def simstudy_mechanisms(ctx: AnalysisContext) -> list[Path]:
    """The simulation study under several mechanisms: each estimator's performance under each.

    Reads the stored replicates and estimands of the mechanisms (the committed
    ``results/simstudy_mechanisms_estimates.csv.gz``, whatever the results folder:
    :func:`read_mechanism_estimates`) and writes ``simstudy_mechanisms.{csv,json}``
    (:data:`MECHANISM_PERFORMANCE_COLUMNS`: per mechanism, estimator and measure the value and its Monte
    Carlo SE: bias, bias in empirical SE units, empirical and model SE, relative error of the model SE,
    coverage, bias-eliminated coverage and power of the 95% Wald intervals; :func:`mechanism_performance`).
    Estimands: each mechanism's own (implied ones computed from its parameters, planted ones its
    parameters), stored beside its replicates.  Fits nothing.
    """
    performance = mechanism_performance(read_mechanism_estimates())
    return write_estimates(performance, ctx.results_dir, "simstudy_mechanisms", MECHANISM_PERFORMANCE_COLUMNS)
