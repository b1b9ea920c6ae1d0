"""How a number is printed for people: one path for tables, notebook text and figure labels.

A value whose true size is zero up to rounding (a residual mean of ``-1e-17``, a bias of
``-0.0004`` shown with two decimals) takes its sign from the last bits of a sum, and so from
the BLAS kernel of the machine: the same notebook printed ``-0.00`` under OpenBLAS' Haswell
and Zen kernels and ``0.00`` under SkylakeX.  Every function here rounds first and then
drops the sign of a rounded zero, so a number looks the same on every machine whenever its
rounded value does.

Functions
---------
rounded
    Numbers (a float, a Series or a DataFrame's float columns) rounded with no negative zero.
fixed
    ``"0.35"``: a fixed number of decimals, never ``"-0.00"``.
signed
    ``"+1.3"``, ``"-0.4"``, ``"0.0"``: an explicit sign, except on a rounded zero.
percent
    ``"12.5%"`` from a share (0.125), never ``"-0.0%"``.
format_p
    A p-value: ``"<0.001"``, three decimals below 0.01, two above.
format_ratio
    An odds or hazard ratio with its 95% CI, ``"1.25 (1.04-1.49)"``, or ``"not estimable"``.

Notes
-----
Foundation module: it imports nothing of the package, so every layer may use it
(``tests/test_presentation.py`` feeds each function ``-1e-17``, ``-0.0004`` and ``-0.0``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["fixed", "format_p", "format_ratio", "percent", "rounded", "signed"]


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def rounded(values: Any, decimals: int = 2) -> Any:
    """Numbers rounded to ``decimals`` with no negative zero.

    Rounding ``-0.0004`` to two decimals gives ``-0.0``; adding ``0.0`` turns ``-0.0`` into
    ``0.0`` and leaves every other value as it is.

    Parameters
    ----------
    values : float, Series or DataFrame
        Non-float columns of a DataFrame (and a non-float Series) are returned as they are.
    decimals : int
        Decimals to keep.

    Returns
    -------
    float, Series or DataFrame
        The same kind of object, rounded.
    """
    if isinstance(values, pd.DataFrame):
        out = values.copy()
        for col in out.columns:
            if pd.api.types.is_float_dtype(out[col]):
                out[col] = out[col].round(decimals) + 0.0
        return out
    if isinstance(values, pd.Series):
        return values.round(decimals) + 0.0 if pd.api.types.is_float_dtype(values) else values
    return round(float(values), decimals) + 0.0


def fixed(value: float, decimals: int = 2, missing: str = "") -> str:
    """A number with ``decimals`` decimals and never a negative zero (``-0.004`` -> ``"0.00"``).

    Parameters
    ----------
    value : float
    decimals : int
    missing : str
        The text of a missing value (default empty); an infinite one prints as ``inf``.
    """
    if not _finite(value):
        return missing if value is None or np.isnan(float(value)) else f"{float(value)}"
    return f"{rounded(value, decimals):.{decimals}f}"


def signed(value: float, decimals: int = 1, missing: str = "") -> str:
    """A number with an explicit sign (``"+1.3"``, ``"-0.4"``), and ``"0.0"`` for a rounded zero.

    For a distance in standard errors, a bias or a difference, where the sign carries
    meaning: a rounded zero has none, so it is shown without one.
    """
    if not _finite(value):
        return missing
    value = rounded(value, decimals)
    return f"{value:.{decimals}f}" if value == 0 else f"{value:+.{decimals}f}"


def percent(share: float, decimals: int = 0, missing: str = "") -> str:
    """A share as a percentage (``0.125`` -> ``"12.5%"`` with one decimal), never ``"-0%"``."""
    if not _finite(share):
        return missing
    return f"{fixed(100 * float(share), decimals)}%"


def format_p(p: float) -> str:
    """A p-value as stable text: ``<0.001``, three decimals below 0.01, else two; ``n.a.`` when missing."""
    if not _finite(p):
        return "n.a."
    if p < 0.001:
        return "<0.001"
    return fixed(p, 3) if p < 0.01 else fixed(p, 2)


def format_ratio(estimate: float, lower: float, upper: float, reason: str = "", decimals: int = 2) -> str:
    """An odds or hazard ratio with its 95% CI, as tables and figures print it: ``"1.25 (1.04-1.49)"``.

    Parameters
    ----------
    estimate, lower, upper : float
        The ratio and its confidence limits.
    reason : str
        Why the ratio is missing, if it is: ``"not estimable: <reason>"``.
    decimals : int
        Decimals of the three numbers.

    Returns
    -------
    str
        ``"not estimable"`` (with the reason when given) when the ratio is missing.
    """
    if not _finite(estimate):
        return f"not estimable: {reason}" if reason else "not estimable"
    return f"{fixed(estimate, decimals)} ({fixed(lower, decimals)}-{fixed(upper, decimals)})"


def is_float(value: object) -> bool:
    """True for a Python or numpy float (not a bool or an integer): what tables format with decimals."""
    return isinstance(value, (float, np.floating)) and not isinstance(value, bool)
