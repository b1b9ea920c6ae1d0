"""The public face of the package: one :class:`Study` holds a register extract and every frame derived from it.

>>> from alsmeds import Study
>>> study = Study.synthetic()                  # the committed synthetic data (data/synthetic)  # doctest: +SKIP
>>> study.analysis_table                       # built once, on first use                     # doctest: +SKIP
>>> Study.from_extract("/path/to/extract", rules=ExposureRules(min_dispensings=3))  # doctest: +SKIP

A study is **pure**: it reads its data when it is created and never writes into the
project (no result file; the one cache is that of the implied estimands of simulated
data, ``build/cache/implied/``, a build artefact, written by :meth:`Study.synthetic`
unless ``implied=False`` or ``truth_scale=0``).  Every derived frame is a
:func:`functools.cached_property`, built on first use by the one function of
:mod:`alsmeds.derive` that defines it, with the study's exposure rules, and the same
object is returned on every later use:

================  ===================================================================
property          built by
================  ===================================================================
case_exposures    :func:`alsmeds.derive.cohort.case_exposures` (every ALS case)
analysis_table    :func:`alsmeds.derive.analysis_table.build_analysis_table`
survival_data     :func:`alsmeds.derive.survival_data.build_survival_data`
alsfrs_data       :func:`alsmeds.derive.alsfrs.build_alsfrs_data`
joint_data        :func:`alsmeds.derive.joint_data.build_joint_frames`
================  ===================================================================

The frames are shared, not copied: change a copy (``frame.copy()``), not the frame itself.
At the paper's sample size the analysis table builds in about 0.3 s, so nothing is cached
on disk.

Where the data come from
------------------------
* :meth:`Study.synthetic` with no arguments (or the committed seed and scale) reads
  the committed synthetic data, ``data/synthetic``.
* :meth:`Study.synthetic` with another seed or scale simulates that data set in memory
  (:func:`alsmeds.simulate.generate`, with its planted truth), writes it to a temporary
  folder outside the project and reads it back through :func:`alsmeds.data.registry.read_registry`,
  so it is validated and typed exactly as an extract is; the folder is removed at once.
  The tables take about 0.5 s at the paper's size (generation 0.15 s, writing and
  reading back 0.3 s); the generator fits no model.  The truth's implied estimands
  (:func:`alsmeds.estimands.implied.implied_truth`: the risk models at 100 times the
  paper's sample, :mod:`alsmeds.estimands.risk`, and the Cox models at 50 times,
  :mod:`alsmeds.estimands.cox`) take about 35 s the first time and are then read from
  ``build/cache/implied/``; ``implied=False`` skips them.  ``alsmeds run --seed N``
  simulates a data set once per run into ``build/data/`` (:mod:`alsmeds.pipeline.datasets`)
  and gives every notebook that folder.
* :meth:`Study.from_extract` reads and validates a folder in the input data contract
  (``data/README.md``).  The planted truth is read when the folder has a
  ``truth.json`` (synthetic data); a real extract has none and ``truth`` is None.
* :meth:`Study.from_parameters` chooses between the two from a notebook's parameters.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from alsmeds import paths
from alsmeds.data.problems import Problem
from alsmeds.data.registry import Registry, read_registry
from alsmeds.derive.exposure import DEFAULT_RULES, ExposureRules
from alsmeds.truth import Truth, as_truth, read_truth

if TYPE_CHECKING:  # reading an extract never imports the simulator
    from alsmeds.simulate.parameters import SimulationParameters

#: The generator's file names (:data:`alsmeds.simulate.TRUTH_FILE`, :data:`alsmeds.simulate.TRUE_PEOPLE_FILE`),
#: repeated here so that reading an extract does not import the simulator (tests/test_study.py checks them).
TRUTH_FILE = "truth.json"
TRUE_PEOPLE_FILE = "truth_people.csv"

__all__ = ["Study"]


def _read_truth(folder: Path) -> tuple[Truth | None, pd.DataFrame | None]:
    truth_path, people_path = folder / TRUTH_FILE, folder / TRUE_PEOPLE_FILE
    truth = read_truth(truth_path) if truth_path.is_file() else None
    people = pd.read_csv(people_path) if truth is not None and people_path.is_file() else None
    return truth, people


def matches_parameters(truth: Truth | Mapping[str, Any] | None, seed: int | None, scale: float | None) -> bool:
    """Whether the data set of this ``truth.json`` (None: a real extract) is the one a seed and scale ask for.

    None asks for anything; a real extract matches only when neither is given.
    """
    truth = as_truth(truth)
    if truth is None:
        return seed is None and scale is None
    return (seed is None or truth.seed == int(seed)) and (scale is None or truth.scale == float(scale))


class Study:
    """A register extract, its planted truth if any, the exposure rules, and the frames derived from them.

    Create one with :meth:`synthetic`, :meth:`from_extract` or :meth:`from_parameters`
    (see the module docstring), not with the constructor.

    Attributes
    ----------
    registry : alsmeds.data.registry.Registry
        The validated, typed tables and study dates.
    truth : dict or None
        The planted truth (``truth.json``) of synthetic data as its parsed dict; None for a
        real extract.  :attr:`planted_truth` is the same truth typed (:class:`alsmeds.truth.Truth`).
    truth_people : DataFrame or None
        The answer key of synthetic data (``truth_people.csv``: true exposure windows,
        familial factor, ALSFRS-R intercept and slope per person); None without it.
    rules : alsmeds.derive.exposure.ExposureRules
        The exposure definition every derived frame uses.
    data_dir : pathlib.Path or None
        The folder read; None for synthetic data simulated in memory.
    source : str
        What the data are, for display and result files: the folder relative to the
        project root (``data/synthetic``), or ``synthetic data simulated in memory (seed
        ..., scale ...)``.
    """

    def __init__(
        self,
        registry: Registry,
        truth: Truth | Mapping[str, Any] | None = None,
        truth_people: pd.DataFrame | None = None,
        rules: ExposureRules = DEFAULT_RULES,
        data_dir: Path | None = None,
        source: str | None = None,
        complete_truth: Callable[[], Truth | Mapping[str, Any]] | None = None,
    ) -> None:
        if not isinstance(rules, ExposureRules):
            raise TypeError(f"rules must be an ExposureRules, not {type(rules).__name__}")
        self._registry = registry
        self._truth = as_truth(truth)
        self._truth_people = truth_people
        self._rules = rules
        self._data_dir = None if data_dir is None else Path(data_dir)
        self._source = source if source is not None else str(paths.display_path(registry.data_dir))
        # Simulated data: the truth with its implied estimands, computed (or read from the cache) on first use.
        self._complete_truth = complete_truth

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_extract(cls, path: str | Path, rules: ExposureRules = DEFAULT_RULES) -> Study:
        """Read and validate a register extract folder (and its planted truth, when it has one).

        Parameters
        ----------
        path : path-like
            A folder in the input data contract (``data/README.md``).
        rules : ExposureRules
            The exposure definition (default: the study's).

        Returns
        -------
        Study

        Raises
        ------
        alsmeds.data.problems.RegistryValidationError
            When the folder breaks the data contract (every problem listed).
        """
        folder = Path(path).resolve()
        registry = read_registry(folder)
        truth, people = _read_truth(folder)
        return cls(registry, truth, people, rules, data_dir=folder)

    @classmethod
    def synthetic(
        cls,
        seed: int | None = None,
        scale: float | None = None,
        rules: ExposureRules = DEFAULT_RULES,
        progress: bool = False,
        truth_scale: float | None = None,
        params: SimulationParameters | None = None,
        implied: bool = True,
    ) -> Study:
        """The synthetic data set of a seed and scale (and, optionally, other planted parameters), with its truth.

        Parameters
        ----------
        seed : int, optional
            Master seed of the generator; None: the committed data's (20250605).
        scale : float, optional
            Sample size as a multiple of the paper's; None: the committed data's (1).
        rules : ExposureRules
            The exposure definition (default: the study's).
        progress : bool
            Show the generator's progress bars (when it runs).
        truth_scale : float, optional
            Sample size of the truth's numerical estimands when the data are simulated
            (:func:`alsmeds.estimands.implied.implied_truth`; None: its default, 100 times
            the paper's sample, about 35 s the first time, then read from the cache in
            ``build/cache/implied/``; 0 skips them, as ``implied=False`` does).
            Not used when the committed data are read.
        params : alsmeds.simulate.parameters.SimulationParameters, optional
            Planted parameters other than the committed ones, e.g. the familial factor
            switched off: ``replace(p, risk=replace(p.risk, log_or_familial_factor=0.0))``
            with ``p = SimulationParameters()``.  Given, the data are always simulated.
        implied : bool
            Add the implied estimands to the truth of simulated data (default), on first
            use of :attr:`truth` or :attr:`planted_truth` (so a notebook that never asks
            for them never waits for them).  False fits no model, ever; the data come in
            about a second at the paper's size either way: the planted
            parameters and the sample's descriptives are there, but
            ``planted_truth.implied_models`` and ``planted_truth.has_implied_cox`` are
            empty and the notebooks' comparisons with them fail.  Not used when the
            committed data are read (their truth is complete).

        Returns
        -------
        Study
            Read from ``data/synthetic`` when the seed and scale are the committed ones and
            no ``params`` are given; otherwise simulated in memory (see the module docstring).
        """
        committed_truth, _ = _read_truth(paths.SYNTHETIC_DIR)
        if params is None and committed_truth is not None and matches_parameters(committed_truth, seed, scale):
            return cls.from_extract(paths.SYNTHETIC_DIR, rules)
        from alsmeds.simulate import DEFAULT_SEED, generate

        seed = DEFAULT_SEED if seed is None else int(seed)
        scale = 1.0 if scale is None else float(scale)
        generated = generate(seed=seed, scale=scale, params=params, progress=progress)
        with tempfile.TemporaryDirectory(prefix="alsmeds-synthetic-") as tmp:
            folder = generated.write(Path(tmp) / "data")
            registry = read_registry(folder)
            truth, people = _read_truth(folder)
        complete = None
        if implied and truth_scale != 0:

            def complete() -> Truth:
                """The models fitted to the generator's truth samples (cached); imported only now."""
                from alsmeds.data.write import json_text
                from alsmeds.estimands.implied import implied_truth
                from alsmeds.estimands.synthetic import with_implied_truth

                sections = implied_truth(params, seed, truth_scale, progress=progress)
                full = with_implied_truth(generated, sections).truth
                return Truth.from_dict(json.loads(json_text(full)))  # exactly as truth.json would hold it

        planted = "" if params is None else ", own planted parameters"
        source = f"synthetic data simulated in memory (seed {seed}, scale {scale:g}{planted})"
        return cls(registry, truth, people, rules, data_dir=None, source=source, complete_truth=complete)

    @classmethod
    def from_parameters(
        cls,
        data_dir: str | Path | None = None,
        seed: int | None = None,
        scale: float | None = None,
        rules: ExposureRules = DEFAULT_RULES,
    ) -> Study:
        """The study a notebook's parameters ask for.

        Parameters
        ----------
        data_dir : path-like, optional
            A folder in the input data contract; None: synthetic data.
        seed, scale : optional
            Synthetic data of this seed and scale (see :meth:`synthetic`).
        rules : ExposureRules
            The exposure definition (default: the study's).

        Returns
        -------
        Study
            * no ``data_dir``: :meth:`synthetic` with ``seed`` and ``scale``;
            * a ``data_dir`` whose ``truth.json`` records this seed and scale (or none
              was asked for), or a real extract with neither asked for:
              :meth:`from_extract` of that folder;
            * a synthetic ``data_dir`` of another seed or scale: :meth:`synthetic`.

        Raises
        ------
        ValueError
            With a ``seed`` or ``scale`` and a ``data_dir`` that is a real extract (no
            ``truth.json``): only synthetic data have a seed and a scale.
        """
        if data_dir is None:
            return cls.synthetic(seed, scale, rules)
        folder = Path(data_dir)
        truth_path = folder / TRUTH_FILE
        truth = read_truth(truth_path) if truth_path.is_file() else None
        if matches_parameters(truth, seed, scale):
            return cls.from_extract(folder, rules)
        if truth is None:
            raise ValueError(
                f"{folder} is a register extract without {TRUTH_FILE}; seed and scale apply only to synthetic "
                "data: leave them at None, or leave data_dir at None to simulate"
            )
        return cls.synthetic(seed, scale, rules)

    def with_rules(self, rules: ExposureRules | None = None, **changes: Any) -> Study:
        """The same data under other exposure rules (a new study: its frames are built afresh).

        Parameters
        ----------
        rules : ExposureRules, optional
            The new rules; default the study's rules with ``changes`` applied.
        **changes
            Fields of :class:`~alsmeds.derive.exposure.ExposureRules` to change,
            e.g. ``min_dispensings=3``.

        Returns
        -------
        Study
        """
        rules = replace(rules if rules is not None else self._rules, **changes)
        return Study(
            self._registry,
            self._truth,
            self._truth_people,
            rules,
            self._data_dir,
            self._source,
            complete_truth=self._complete_truth,
        )

    # ------------------------------------------------------------------ the data

    @property
    def registry(self) -> Registry:
        """The validated, typed register extract."""
        return self._registry

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables of the extract, by name (``registry.tables``)."""
        return self._registry.tables

    @property
    def metadata(self) -> dict[str, Any]:
        """The study dates of ``extract.json`` (``registry.metadata``)."""
        return self._registry.metadata

    @property
    def warnings(self) -> list[Problem]:
        """What the validator accepted with a counted warning (``registry.warnings``)."""
        return self._registry.warnings

    @property
    def truth(self) -> dict | None:
        """The planted truth (``truth.json``) as its parsed dict, or None for a real extract.

        The same truth typed, with named estimands: :attr:`planted_truth`.
        """
        truth = self._full_truth()
        return None if truth is None else truth.raw  # type: ignore[return-value]

    @property
    def planted_truth(self) -> Truth | None:
        """The planted truth, typed (:class:`alsmeds.truth.Truth`: named estimands), or None for a real extract."""
        return self._full_truth()

    @property
    def planted_parameters(self) -> Mapping[str, Any] | None:
        """The generator's planted parameters, seed and scale (no implied estimand is computed), or None."""
        if self._truth is None:
            return None
        return {"seed": self._truth.seed, "scale": self._truth.scale, "parameters": self._truth.parameters}

    def _full_truth(self) -> Truth | None:
        """The truth, completed with the implied estimands on first use for data simulated in memory."""
        if self._complete_truth is not None:
            self._truth = as_truth(self._complete_truth())
            self._complete_truth = None
        return self._truth

    @property
    def truth_people(self) -> pd.DataFrame | None:
        """The answer key per person (``truth_people.csv``), or None."""
        return self._truth_people

    @property
    def is_synthetic(self) -> bool:
        """True when the data carry a planted truth."""
        return self._truth is not None

    @property
    def rules(self) -> ExposureRules:
        """The exposure definition of every derived frame."""
        return self._rules

    @property
    def data_dir(self) -> Path | None:
        """The folder read (None for data simulated in memory); for display use :attr:`source`."""
        return self._data_dir

    @property
    def source(self) -> str:
        """What the data are, for display: the folder relative to the project root, or how they were simulated."""
        return self._source

    def __repr__(self) -> str:
        cases = len(self._registry.tables.get("als_cases", ()))
        return f"Study({self._source}; {cases:,} ALS cases; synthetic={self.is_synthetic}; rules={self._rules})"

    # ------------------------------------------------------------------ derived frames

    @cached_property
    def members(self) -> pd.DataFrame:
        """Members of every matched set, covariates at the index date (:func:`~alsmeds.derive.cohort.set_members`)."""
        from alsmeds.derive.cohort import set_members

        return set_members(self._registry)

    @cached_property
    def case_exposures(self) -> pd.DataFrame:
        """Exposure of every ALS case at its diagnosis date (:func:`alsmeds.derive.cohort.case_exposures`)."""
        from alsmeds.derive.cohort import case_exposures

        return case_exposures(self._registry, self._rules)

    @cached_property
    def analysis_table(self) -> pd.DataFrame:
        """One row per person and comparison (:func:`alsmeds.derive.analysis_table.build_analysis_table`)."""
        from alsmeds.derive.analysis_table import build_analysis_table

        return build_analysis_table(self._registry, self._rules)

    @cached_property
    def survival_data(self) -> pd.DataFrame:
        """One row per ALS case from diagnosis (:func:`alsmeds.derive.survival_data.build_survival_data`)."""
        from alsmeds.derive.survival_data import build_survival_data

        return build_survival_data(self._registry, self.case_exposures)

    @cached_property
    def alsfrs_data(self) -> pd.DataFrame:
        """One row per kept ALSFRS-R visit (:func:`alsmeds.derive.alsfrs.build_alsfrs_data`)."""
        from alsmeds.derive.alsfrs import build_alsfrs_data

        return build_alsfrs_data(self._registry, self.case_exposures)

    @cached_property
    def joint_data(self) -> Any:
        """The joint model's visit and survival frames (:func:`alsmeds.derive.joint_data.build_joint_frames`)."""
        from alsmeds.derive.joint_data import build_joint_frames

        return build_joint_frames(self.alsfrs_data, n_cases=len(self._registry.tables["als_cases"]))
