"""Calendar arithmetic shared by the generator and the exposure classification.

Dates are handled as ``datetime64[D]`` arrays.  "k years before a date" is calendar
subtraction (``2020-03-15`` minus 1 year is ``2019-03-15``); from a leap day it
falls back to 28 February, as :class:`pandas.DateOffset` does.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd


def to_days(values) -> np.ndarray:
    """Convert dates (strings, ``date``, datetime64, Series) to ``datetime64[D]``."""
    if isinstance(values, date):
        return np.datetime64(values, "D")
    return pd.to_datetime(pd.Series(values)).to_numpy().astype("datetime64[D]")


def years_before(dates: np.ndarray, years: int) -> np.ndarray:
    """The same calendar day ``years`` years earlier (29 February maps to 28 February).

    Parameters
    ----------
    dates : array of datetime64[D]
    years : int

    Returns
    -------
    numpy.ndarray of datetime64[D]
    """
    dates = np.asarray(dates, dtype="datetime64[D]")
    months = dates.astype("datetime64[M]")
    day_of_month = (dates - months).astype(np.int64)  # 0-based
    target_month = months - np.timedelta64(12 * years, "M")
    next_month = target_month + np.timedelta64(1, "M")
    month_length = (next_month.astype("datetime64[D]") - target_month.astype("datetime64[D]")).astype(np.int64)
    day = np.minimum(day_of_month, month_length - 1)
    return target_month.astype("datetime64[D]") + day.astype("timedelta64[D]")


def age_in_years(birth: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Exact age in years (days / 365.25) at a date."""
    return (np.asarray(at, "datetime64[D]") - np.asarray(birth, "datetime64[D]")).astype(np.int64) / 365.25
