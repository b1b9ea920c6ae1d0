"""Several data-generating mechanisms of the simulation study: one planted assumption varied at a time.

The simulation study of :mod:`alsmeds.simstudy.runner` draws every replicate from the committed
generator.  Here each **mechanism** is a named, documented, pure transformation of the planted
parameters (:class:`alsmeds.simulate.parameters.SimulationParameters`, by :func:`dataclasses.replace`)
and a sample size, so that a journal club sees which estimator breaks under which assumption
(``docs/simstudy.md``, *Several mechanisms (ADEMP plan)*).  The factors and their levels:

=====================================  =================  ===============================================
factor                                 levels             parameter(s)
=====================================  =================  ===============================================
familial confounding                   on / off           ``risk.log_or_familial_factor`` 0.30 / 0
informative dropout                    on / off           ``prognosis.association`` -0.07 / 0 (with
                                                          ``log_baseline_hazard`` -4.55 / -3.6)
ALSFRS-R scores                        clipped / latent   ``prognosis.record_latent_scores`` False / True
negative-control systematic error      present / absent   :mod:`alsmeds.simstudy.calibration`
sample size                            0.5 / 1 / 2        ``scale`` (multiple of the paper's 1,057 cases)
=====================================  =================  ===============================================

The mechanisms of the main replicate (:data:`MECHANISMS`, run by :func:`run_mechanism_replicate`,
which fits every model of :func:`alsmeds.simstudy.replicate.fit_replicate_models`):

* ``main``: the committed parameters at the paper's size (its base seed is the stored study's,
  20250605, so its replicates are those of ``alsmeds simstudy --reps N``).
* ``no_familial``: the familial factor ``U`` no longer raises ALS risk
  (``risk.log_or_familial_factor = 0``; the project's own example of the switch,
  :meth:`alsmeds.Study.synthetic`).  ``U`` still drives use and is shared by siblings, but it is no
  longer a common cause of use and ALS: the population and spouse comparisons lose their familial
  confounding, so their implied estimands move towards the planted within-family ones; the negative
  control's confounded odds ratio goes to 1 as well.  The panel's planted systematic error, solved for
  the committed case shift of ``U``, shrinks (the panel is not fitted here).
* ``no_dropout``: death and ventilation no longer depend on the ALSFRS-R trajectory
  (``prognosis.association = 0``): the end of the visits is independent of each patient's intercept and
  slope given the covariates, so dropout is ignorable for the mixed model (missing at random).  Without
  the trajectory in the hazard the event times are exponential, so ``log_baseline_hazard`` is moved from
  -4.55 to -3.6, which keeps the share of cases with an event by the end of follow-up (80.6% against
  80.5% at 3 times the paper's size, seed 7; median follow-up 1.0 instead of 1.3 years).  Planted
  estimands: the slopes are unchanged; the joint model's ``alpha`` is 0; the Cox total effects equal the
  direct ones (their implied estimands are recomputed).
* ``latent_scores``: the ALSFRS-R total recorded as the latent score, the true line plus the same noise,
  neither rounded nor clipped to 0-48 (``prognosis.record_latent_scores = True``; the same random draws,
  so only the recording changes).  No estimand changes; the bias the clipping gives the joint and mixed
  models should go.
* ``small`` and ``large``: the committed parameters at half and twice the paper's size (``scale`` 0.5
  and 2); the estimands are ``main``'s.
* ``no_familial_no_dropout``: both switches together.
* ``no_dropout_latent_scores``: dropout off and latent scores together.  Without informative dropout the
  patients live long enough for their line to reach the scale's floor, and the clipping at 0 then biases
  the slopes (the pilot run found it): this combination separates the two.

The pair of mechanisms with and without planted systematic error of the negative controls is the
calibration check's (:data:`alsmeds.simstudy.calibration.MECHANISMS`,
:func:`alsmeds.simstudy.calibration.mechanism_parameters`): its replicates fit the panel of controls,
not the main models, and its estimands are the controls' planted odds ratios, so it is run by
``python -m alsmeds.simstudy calibration`` and listed here by reference (:data:`CALIBRATION_MECHANISMS`,
:func:`mechanism_table`), not re-implemented.  (Under the main replicate the two give identical
estimates: the switch changes only the panel's and the PPIs' dispensings, which no main model reads.)

Estimands of a mechanism (:func:`mechanism_truth`): the committed ``data/synthetic/truth.json`` when the
mechanism's parameters are the committed ones (``main``, ``small``, ``large``); otherwise the truth of the
mechanism's own parameters at the committed seed, with its implied sections computed by the estimands
layer at its usual truth scale (:func:`alsmeds.estimands.synthetic.synthetic_registry`: risk models at 100
times the paper's sample, Cox models at 50 times) and cached in ``build/cache/implied/`` under a key of the
parameters (``SimulationParameters.to_dict``), the seed, the scales and the code: computed once per
mechanism, never per replicate.

Seeds: replicate ``i`` of a mechanism draws its data with :func:`alsmeds.simstudy.runner.replicate_seed`
``(seed, i)``, ``seed`` the mechanism's own base seed (:attr:`Mechanism.seed`, distinct for every
mechanism, and from the calibration check's 20250625 and 20250626), so the mechanisms' replicates are
independent.  A mechanism's replicates are stored in ``build/simstudy/<mechanism>/seed-<seed>_scale-<scale>/``
(:func:`run_mechanism_study`, through :func:`alsmeds.simstudy.runner.run_study`).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.simulate.parameters import SimulationParameters

#: Log baseline hazard (per month) of the mechanisms without informative dropout: keeps the share of cases
#: with an event of the committed generator (A: 80.6% against 80.5%, 3 times the paper's size, seed 7).
NON_INFORMATIVE_LOG_BASELINE_HAZARD = -3.6


# -- the transformations -------------------------------------------------------------------------------------------


def committed(params: SimulationParameters) -> SimulationParameters:
    """The parameters unchanged (the committed generator)."""
    return params


def without_familial_confounding(params: SimulationParameters) -> SimulationParameters:
    """The familial factor has no effect on ALS risk (``risk.log_or_familial_factor = 0``).

    Parameters
    ----------
    params : SimulationParameters

    Returns
    -------
    SimulationParameters
        A new object; ``U`` still drives use (``use.per_familial_factor``) but is no longer a confounder.
    """
    return replace(params, risk=replace(params.risk, log_or_familial_factor=0.0))


def without_informative_dropout(params: SimulationParameters) -> SimulationParameters:
    """The hazard of death or ventilation no longer depends on the ALSFRS-R trajectory.

    ``prognosis.association = 0`` (and ``association_slope = 0``, its default) and
    ``prognosis.log_baseline_hazard =`` :data:`NON_INFORMATIVE_LOG_BASELINE_HAZARD`, so that about as many
    cases have an event.

    Parameters
    ----------
    params : SimulationParameters

    Returns
    -------
    SimulationParameters
    """
    prognosis = replace(
        params.prognosis,
        association=0.0,
        association_slope=0.0,
        log_baseline_hazard=NON_INFORMATIVE_LOG_BASELINE_HAZARD,
    )
    return replace(params, prognosis=prognosis)


def with_latent_scores(params: SimulationParameters) -> SimulationParameters:
    """ALSFRS-R recorded without rounding or clipping (``prognosis.record_latent_scores = True``).

    Parameters
    ----------
    params : SimulationParameters

    Returns
    -------
    SimulationParameters
    """
    return replace(params, prognosis=replace(params.prognosis, record_latent_scores=True))


def _compose(*steps: Callable[[SimulationParameters], SimulationParameters]):
    def transform(params: SimulationParameters) -> SimulationParameters:
        for step in steps:
            params = step(params)
        return params

    return transform


# -- the registry --------------------------------------------------------------------------------------------------

#: The factors of the mechanisms, in the nested-loop plot's order (first: the outermost loop), and their levels
#: (first: the committed generator's).
FACTORS: dict[str, tuple[str, ...]] = {
    "familial confounding": ("on", "off"),
    "informative dropout": ("on", "off"),
    "ALSFRS-R scores": ("clipped", "latent"),
    "negative-control systematic error": ("present", "absent"),
    "sample size": ("0.5", "1", "2"),
}

_COMMITTED_LEVELS = {
    "familial confounding": "on",
    "informative dropout": "on",
    "ALSFRS-R scores": "clipped",
    "negative-control systematic error": "present",
}


@dataclass(frozen=True)
class Mechanism:
    """A data-generating mechanism: a pure transformation of the committed parameters and a sample size.

    Attributes
    ----------
    name : str
        Its name (the folder and the ``mechanism`` column of the stored estimates).
    description : str
        What it is, in a sentence.
    assumption : str
        The planted assumption it changes (empty for ``main``).
    changes : dict of str to object
        The parameters it sets (``"risk.log_or_familial_factor": 0.0``; ``scale``).
    transform : callable
        ``SimulationParameters -> SimulationParameters``, pure (:func:`dataclasses.replace`).
    scale : float
        Sample size of a replicate, a multiple of the paper's 1,057 cases.
    seed : int
        Base seed of its replicates (:func:`alsmeds.simstudy.runner.replicate_seed`).
    levels : dict of str to str
        Its level of each factor of :data:`FACTORS`.
    study : str
        ``"main"``: replicates of :func:`run_mechanism_replicate` (every model of the study);
        ``"calibration"``: the calibration check's (:mod:`alsmeds.simstudy.calibration`).
    """

    name: str
    description: str
    assumption: str
    changes: Mapping[str, Any]
    transform: Callable[[SimulationParameters], SimulationParameters]
    scale: float = 1.0
    seed: int = 20250605
    levels: Mapping[str, str] = field(default_factory=dict)
    study: str = "main"

    def parameters(self, base: SimulationParameters | None = None) -> SimulationParameters:
        """The mechanism's planted parameters: :attr:`transform` of ``base`` (default the committed ones)."""
        return self.transform(base if base is not None else SimulationParameters())

    @property
    def committed_parameters(self) -> bool:
        """Whether its parameters are the committed ones (its estimands are the committed ``truth.json``'s)."""
        return self.parameters() == SimulationParameters()


def _levels(scale: float = 1.0, **changed: str) -> dict[str, str]:
    levels = dict(_COMMITTED_LEVELS)
    levels.update({k.replace("_", " "): v for k, v in changed.items()})
    levels["sample size"] = f"{scale:g}"
    return levels


def _mechanism(name, description, assumption, changes, transform, seed, scale=1.0, **levels) -> Mechanism:
    named = {"familial": "familial confounding", "dropout": "informative dropout", "scores": "ALSFRS-R scores"}
    full = _levels(scale, **{named[k]: v for k, v in levels.items()})
    return Mechanism(name, description, assumption, dict(changes), transform, scale, seed, full)


#: The mechanisms of the main replicate, by name (module docstring).
MECHANISMS: dict[str, Mechanism] = {
    m.name: m
    for m in (
        _mechanism(
            "main",
            "the committed generator at the paper's size",
            "",
            {},
            committed,
            20250605,
        ),
        _mechanism(
            "no_familial",
            "familial confounding off: the familial factor does not raise ALS risk",
            "familial confounding (the familial factor causes both use and ALS)",
            {"risk.log_or_familial_factor": 0.0},
            without_familial_confounding,
            20250611,
            familial="off",
        ),
        _mechanism(
            "no_dropout",
            "informative dropout off: death and ventilation independent of the ALSFRS-R trajectory",
            "informative dropout (fast decliners die early)",
            {"prognosis.association": 0.0, "prognosis.log_baseline_hazard": NON_INFORMATIVE_LOG_BASELINE_HAZARD},
            without_informative_dropout,
            20250612,
            dropout="off",
        ),
        _mechanism(
            "latent_scores",
            "ALSFRS-R recorded as the latent score: not rounded, not clipped to 0-48",
            "scores rounded and clipped to 0-48",
            {"prognosis.record_latent_scores": True},
            with_latent_scores,
            20250613,
            scores="latent",
        ),
        _mechanism(
            "small",
            "the committed generator at half the paper's size",
            "sample size",
            {"scale": 0.5},
            committed,
            20250614,
            0.5,
        ),
        _mechanism(
            "large",
            "the committed generator at twice the paper's size",
            "sample size",
            {"scale": 2.0},
            committed,
            20250615,
            2.0,
        ),
        _mechanism(
            "no_familial_no_dropout",
            "familial confounding and informative dropout both off",
            "familial confounding and informative dropout",
            {
                "risk.log_or_familial_factor": 0.0,
                "prognosis.association": 0.0,
                "prognosis.log_baseline_hazard": NON_INFORMATIVE_LOG_BASELINE_HAZARD,
            },
            _compose(without_familial_confounding, without_informative_dropout),
            20250616,
            familial="off",
            dropout="off",
        ),
        _mechanism(
            "no_dropout_latent_scores",
            "informative dropout off and ALSFRS-R recorded as the latent score",
            "informative dropout and scores rounded and clipped to 0-48",
            {
                "prognosis.association": 0.0,
                "prognosis.log_baseline_hazard": NON_INFORMATIVE_LOG_BASELINE_HAZARD,
                "prognosis.record_latent_scores": True,
            },
            _compose(without_informative_dropout, with_latent_scores),
            20250617,
            dropout="off",
            scores="latent",
        ),
    )
}


def _calibration_mechanism(name: str) -> Mechanism:
    from . import calibration

    present = name == "systematic_error"
    levels = dict(_levels(1.0))
    levels["negative-control systematic error"] = "present" if present else "absent"
    return Mechanism(
        name=name,
        description=(
            "calibration check: the committed generator (planted systematic error of the negative controls)"
            if present
            else "calibration check: the panel's and the PPIs' confounding switched off"
        ),
        assumption="" if present else "systematic error of the negative controls",
        changes={}
        if present
        else {"panel": "null_mean=0, null_sd=0, loadings 0", "negative_control.per_familial_factor": 0.0},
        transform=partial(_calibration_parameters, name),
        scale=1.0,
        seed=calibration.MECHANISMS[name],
        levels=levels,
        study="calibration",
    )


def _calibration_parameters(name: str, params: SimulationParameters) -> SimulationParameters:
    """The calibration check's parameters of ``name`` (it defines them from the committed ones only)."""
    from .calibration import mechanism_parameters

    if params != SimulationParameters():
        raise ValueError("the calibration check's mechanisms are defined from the committed parameters only")
    return mechanism_parameters(name)


#: The calibration check's two mechanisms (:data:`alsmeds.simstudy.calibration.MECHANISMS`), by reference.
CALIBRATION_MECHANISMS = ("systematic_error", "no_systematic_error")


def get_mechanism(name: str) -> Mechanism:
    """A mechanism by name: one of :data:`MECHANISMS` or of :data:`CALIBRATION_MECHANISMS`.

    Raises
    ------
    ValueError
        For an unknown name.
    """
    if name in MECHANISMS:
        return MECHANISMS[name]
    if name in CALIBRATION_MECHANISMS:
        return _calibration_mechanism(name)
    raise ValueError(f"unknown mechanism {name!r}; known: {[*MECHANISMS, *CALIBRATION_MECHANISMS]}")


def mechanism_table(include_calibration: bool = True) -> pd.DataFrame:
    """Every mechanism with its description, changes, scale, seed and its level of each factor.

    Parameters
    ----------
    include_calibration : bool
        Also list the calibration check's two mechanisms (``study`` ``calibration``).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``mechanism``: ``study``, ``description``, ``assumption``, ``changes``, ``scale``,
        ``seed`` and one column per factor of :data:`FACTORS` (its level): the ``mechanisms`` argument of
        :func:`alsmeds.plots.simstudy.plot_nested_loop`.
    """
    names = [*MECHANISMS, *(CALIBRATION_MECHANISMS if include_calibration else ())]
    rows = []
    for name in names:
        m = get_mechanism(name)
        changes = ", ".join(f"{k} = {v}" for k, v in m.changes.items()) or "none"
        rows.append(
            {
                "mechanism": name,
                "study": m.study,
                "description": m.description,
                "assumption": m.assumption,
                "changes": changes,
                "scale": m.scale,
                "seed": m.seed,
                **{f: m.levels[f] for f in FACTORS},
            }
        )
    return pd.DataFrame(rows).set_index("mechanism")


# -- estimands -----------------------------------------------------------------------------------------------------


def mechanism_truth(name: str, progress: bool = False) -> Any:
    """The truth whose estimands judge a mechanism's replicates (module docstring).

    Parameters
    ----------
    name : str
        A mechanism of :data:`MECHANISMS`.
    progress : bool
        Show a progress bar while implied estimands are computed (the first time only: then cached).

    Returns
    -------
    alsmeds.truth.Truth
        The committed ``data/synthetic/truth.json`` for the committed parameters; otherwise the truth of the
        mechanism's parameters at the committed seed, with its implied sections
        (:func:`alsmeds.estimands.implied.implied_truth`, cached under ``build/cache/implied/``).
    """
    import json

    from alsmeds.data.write import json_text
    from alsmeds.truth import Truth

    from .runner import read_truth

    mechanism = MECHANISMS[name]
    if mechanism.committed_parameters:
        return read_truth()
    from alsmeds.estimands.synthetic import synthetic_registry
    from alsmeds.simulate import DEFAULT_SEED

    registry = synthetic_registry(seed=DEFAULT_SEED, scale=1.0, params=mechanism.parameters(), progress=progress)
    return Truth.from_dict(json.loads(json_text(registry.truth)))


def mechanism_estimands(name: str, progress: bool = False) -> pd.DataFrame:
    """The estimand table of a mechanism: :func:`~.estimands.estimand_table` of :func:`mechanism_truth`."""
    from .estimands import estimand_table

    return estimand_table(mechanism_truth(name, progress=progress))


# -- one replicate -------------------------------------------------------------------------------------------------


def mechanism_study(seed: int, scale: float, params: SimulationParameters) -> Any:
    """The :class:`alsmeds.Study` of one replicate of a mechanism (no implied estimands).

    Through :meth:`alsmeds.Study.synthetic` (written, validated and read back as an extract), except when
    the scores are latent (``params.prognosis.record_latent_scores``), which the data contract (whole
    points, 0-48) refuses: the same data set with the scores rounded and clipped is read back, then its
    ``alsfrs`` table's totals are replaced by the generator's latent ones (same rows, same order).

    Parameters
    ----------
    seed : int
        Seed of :func:`alsmeds.simulate.generate`.
    scale : float
        Sample size, a multiple of the paper's.
    params : SimulationParameters
        The mechanism's parameters.

    Returns
    -------
    alsmeds.Study
    """
    from alsmeds.data.registry import read_registry
    from alsmeds.simulate import generate
    from alsmeds.study import Study, _read_truth

    if not params.prognosis.record_latent_scores:
        return Study.synthetic(seed=int(seed), scale=float(scale), params=params, truth_scale=0)
    generated = generate(seed=int(seed), scale=float(scale), params=params)
    latent = generated.tables["alsfrs"]
    recorded = latent.assign(
        alsfrs_r_total=np.clip(np.round(latent["alsfrs_r_total"].to_numpy(float)), 0, 48).astype(np.int64)
    )
    contract = replace(generated, tables={**generated.tables, "alsfrs": recorded})
    with tempfile.TemporaryDirectory(prefix="alsmeds-mechanism-") as tmp:
        folder = contract.write(Path(tmp) / "data")
        registry = read_registry(folder)
        truth, people = _read_truth(folder)
    table = registry.tables["alsfrs"]
    same = len(table) == len(latent) and np.array_equal(
        table["person_id"].to_numpy(np.int64), latent["person_id"].to_numpy(np.int64)
    )
    if not same:  # pragma: no cover - the reader keeps the rows in order
        raise RuntimeError("the alsfrs table read back is not in the generator's order")
    registry.tables["alsfrs"] = table.assign(alsfrs_r_total=latent["alsfrs_r_total"].to_numpy(float))
    source = f"synthetic data simulated in memory (seed {int(seed)}, scale {float(scale):g}, latent ALSFRS-R scores)"
    return Study(registry, truth, people, source=source)


def run_mechanism_replicate(rep: int, seed: int, scale: float, mechanism: str = "main") -> pd.DataFrame:
    """One replicate of a mechanism: simulate with its parameters, fit every model of the study.

    As :func:`alsmeds.simstudy.replicate.run_replicate` (same models, same frame) with the mechanism's
    parameters (:func:`mechanism_study`); under ``main`` the two give the same estimates.

    Parameters
    ----------
    rep : int
        Replicate number (stored, not used to draw).
    seed : int
        Seed of the replicate's data.
    scale : float
        Sample size, a multiple of the paper's.
    mechanism : str
        A key of :data:`MECHANISMS`.

    Returns
    -------
    pandas.DataFrame
        :data:`alsmeds.simstudy.replicate.REPLICATE_COLUMNS`.
    """
    from .replicate import replicate_frame

    params = MECHANISMS[mechanism].parameters()
    start = time.perf_counter()
    study = mechanism_study(seed, scale, params)
    return replicate_frame(study, rep, seed, simulate_seconds=time.perf_counter() - start)


def mechanism_replicate(name: str) -> Callable[[int, int, float], pd.DataFrame]:
    """``(rep, seed, scale) -> frame`` of a mechanism, picklable (for :func:`alsmeds.simstudy.runner.run_study`)."""
    if name not in MECHANISMS:
        raise ValueError(f"unknown mechanism {name!r} of the main replicate; known: {list(MECHANISMS)}")
    return partial(run_mechanism_replicate, mechanism=name)


# -- running and stacking ------------------------------------------------------------------------------------------


def run_mechanism_study(
    name: str,
    reps: int,
    scale: float | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    **options: Any,
) -> Any:
    """Run (or resume) ``reps`` replicates of one mechanism (:func:`alsmeds.simstudy.runner.run_study`).

    The replicates draw from the mechanism's parameters (:func:`mechanism_replicate`), with its base seed and
    scale unless ``seed`` or ``scale`` is given, into ``<out>/<name>/<study_id(seed, scale)>`` (``out`` default
    ``build/simstudy``); ``options`` are :func:`~alsmeds.simstudy.runner.run_study`'s (workers, scheduler,
    progress, retry_failed).

    Returns
    -------
    alsmeds.simstudy.runner.StudyRun
    """
    from .runner import DEFAULT_OUT, run_study

    replicate = mechanism_replicate(name)  # checks the name
    mechanism = MECHANISMS[name]
    return run_study(
        reps,
        scale=mechanism.scale if scale is None else scale,
        seed=mechanism.seed if seed is None else seed,
        out=Path(out if out is not None else DEFAULT_OUT) / name,
        replicate=replicate,
        extra_meta={"mechanism": name},
        **options,
    )


def mechanism_folder(out: str | Path, name: str, seed: int | None = None, scale: float | None = None) -> Path:
    """Folder of a mechanism's replicates: ``<out>/<name>/seed-<seed>_scale-<scale>`` (default: its own seed, scale)."""
    from .runner import study_id

    m = MECHANISMS[name]
    return Path(out) / name / study_id(m.seed if seed is None else seed, m.scale if scale is None else scale)


def stack_mechanisms(folders: Mapping[str, tuple[Path, int | None]], progress: bool = False) -> pd.DataFrame:
    """The stored replicates of several mechanisms with their estimands, stacked as the stored file holds them.

    Parameters
    ----------
    folders : mapping of str to (path, int or None)
        Mechanism -> its study folder and the number of replicates to take (None: every stored one).
    progress : bool
        Show a progress bar while a mechanism's implied estimands are computed (the first time only).

    Returns
    -------
    pandas.DataFrame
        :data:`alsmeds.analyses.mechanisms.MECHANISM_ESTIMATES_COLUMNS`: per mechanism (in the order of
        ``folders``) its estimand records (:func:`mechanism_estimands`), then its stored replicates' estimates,
        diagnostics, failures and timings (:func:`alsmeds.simstudy.runner.compact_frame`).
    """
    import json

    from alsmeds.analyses.mechanisms import MECHANISM_ESTIMATES_COLUMNS, stack_mechanism

    from .runner import collect, compact_frame

    frames = []
    for name, (folder, reps) in folders.items():
        meta = Path(folder) / "study.json"
        scale = json.loads(meta.read_text(encoding="utf-8"))["scale"] if meta.is_file() else MECHANISMS[name].scale
        replicates = compact_frame(collect(folder, reps))
        frames.append(stack_mechanism(replicates, mechanism_estimands(name, progress), name, scale))
    if not frames:
        return pd.DataFrame(columns=list(MECHANISM_ESTIMATES_COLUMNS))
    return pd.concat(frames, ignore_index=True)


def run_mechanisms_cli(args: Any) -> int:
    """``alsmeds simstudy --mechanism NAME|all ...``: run mechanisms, then stack every stored one.

    Runs (or resumes) ``--reps`` replicates of each named mechanism (``all``: every one of
    :data:`MECHANISMS`, in order) with :func:`alsmeds.simstudy.runner.run_study` (``--workers``,
    ``--scheduler``, progress bar; its own seed and scale unless ``--seed`` or ``--scale`` is given), then
    writes ``simstudy_mechanisms_estimates.csv.gz`` into ``--results-dir`` (default ``--out``): the mechanisms
    run now (their first ``--reps`` replicates) and every other mechanism stored in its default folder under
    ``--out`` (all its stored replicates), each with its estimands (:func:`stack_mechanisms`).  The calibration
    check's mechanisms run with ``python -m alsmeds.simstudy calibration``.

    Parameters
    ----------
    args : argparse.Namespace
        :func:`alsmeds.simstudy.cli.add_arguments`'s options.

    Returns
    -------
    int
        0, 1 when every replicate of every mechanism failed, 2 for a usage error.
    """
    import sys

    from alsmeds import paths
    from alsmeds.analyses.mechanisms import MECHANISM_ESTIMATES_FILE

    from .runner import write_compact

    if args.mechanism == "all":
        names = list(MECHANISMS)
    elif args.mechanism in MECHANISMS:
        names = [args.mechanism]
    else:
        hint = " (the calibration check's: python -m alsmeds.simstudy calibration)"
        known = ", ".join([*MECHANISMS, "all"])
        calibration = args.mechanism in CALIBRATION_MECHANISMS
        print(
            f"alsmeds simstudy: unknown mechanism {args.mechanism!r}{hint if calibration else ''}; known: {known}",
            file=sys.stderr,
        )
        return 2
    if args.reps < 1 or args.workers < 1 or (args.scale is not None and args.scale <= 0):
        print("alsmeds simstudy: --reps and --workers must be at least 1 and --scale positive", file=sys.stderr)
        return 2
    folders: dict[str, tuple[Path, int | None]] = {}
    failed_all = True
    for name in names:
        start = time.perf_counter()
        run = run_mechanism_study(
            name,
            reps=args.reps,
            scale=args.scale,
            seed=args.seed,
            out=args.out,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=not args.no_progress,
            retry_failed=args.retry_failed,
        )
        folders[name] = (run.folder, args.reps)
        failed_all &= len(run.failed) == args.reps
        print(
            f"simstudy {name}: {args.reps} replicates ({len(run.computed)} computed, {len(run.reused)} reused, "
            f"{len(run.failed)} failed) in {time.perf_counter() - start:.0f} s; "
            f"stored in {paths.display_path(run.folder)}"
        )
        for rep, error in sorted(run.failed.items()):
            print(f"  replicate {rep} failed: {error}")
    for name in MECHANISMS:  # the others stored under --out in their default folders
        folder = mechanism_folder(args.out, name)
        if name not in folders and folder.is_dir():
            folders[name] = (folder, None)
    ordered = {name: folders[name] for name in MECHANISMS if name in folders}
    results_dir = Path(args.results_dir) if args.results_dir else Path(args.out)
    written = write_compact(
        stack_mechanisms(ordered, progress=not args.no_progress), results_dir / MECHANISM_ESTIMATES_FILE
    )
    print(f"written: {paths.display_path(written)} ({', '.join(ordered)})")
    return 1 if failed_all else 0
