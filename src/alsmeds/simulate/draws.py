"""Random streams and first-use dates, shared by the population and the panel of control drugs.

One definition each: :func:`rng_for` (an independent stream per named step) and
:func:`first_use` (the window and date of a user's first qualifying use).
"""

from __future__ import annotations

import zlib

import numpy as np

from alsmeds.derive.exposure import window_codes
from alsmeds.simulate.parameters import SimulationParameters


def rng_for(seed: int, step: str) -> np.random.Generator:
    """An independent random stream for one named step of the simulation.

    Streams are keyed by the step's name (not by order), so adding a step never
    shifts the numbers another step draws.
    """
    key = zlib.crc32(step.encode("utf-8"))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=seed, spawn_key=(key,))))


def first_use(
    rng: np.random.Generator, params: SimulationParameters, user: np.ndarray, index_date: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Window code and date of first qualifying use of the users of one class (NaT and 0 for non-users).

    A user's first qualifying use falls in the first months of the register (prevalent
    users, share :attr:`~.parameters.UseParameters.prevalent_share`) or uniformly over the
    rest of the look-back before the index date.
    """
    n = user.shape[0]
    register_start = np.datetime64(params.design.register_start, "D")
    prevalent = rng.random(n) < params.use.prevalent_share
    earliest = register_start + np.timedelta64(60, "D")
    span = (index_date - earliest).astype(np.int64)  # days available for incident first use
    incident_day = earliest + np.floor(rng.random(n) * span).astype("timedelta64[D]")
    prevalent_day = register_start + rng.integers(30, 241, n).astype("timedelta64[D]")
    first = np.where(prevalent, prevalent_day, incident_day)
    first = np.where(user, first, np.datetime64("NaT"))
    return window_codes(first, index_date), first  # the study's windows (derive.exposure.WINDOW_EDGES_YEARS)
