"""Calendar arithmetic shared by the generator and the analysis.

Dates are handled as ``datetime64[D]`` arrays.  "k years before a date" is calendar
subtraction (``2020-03-15`` minus 1 year is ``2019-03-15``); from a leap day it
falls back to 28 February, as :class:`pandas.DateOffset` does.

Durations in years and months
-----------------------------
Every age, follow-up time and look-back of the analysis is a number of whole days
divided by :data:`DAYS_PER_YEAR` (365.25, the mean Julian year) or
:data:`DAYS_PER_MONTH` (365.25 / 12): :func:`years_between` and
:func:`months_between` are the one place this is written (:func:`age_in_years` is
:func:`years_between` from the birth date).
"""

from __future__ import annotations

import numpy as np

# Defined once in the foundation (figures, which may not import derive, use them too); re-exported here.
from alsmeds.constants import DAYS_PER_MONTH as DAYS_PER_MONTH
from alsmeds.constants import DAYS_PER_YEAR as DAYS_PER_YEAR


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


def days_between(start, end) -> np.ndarray:
    """Whole days from ``start`` to ``end`` (float; NaN where either date is missing).

    Parameters
    ----------
    start, end : array-like of dates
        Anything numpy converts to ``datetime64[D]`` (a pandas Series of timestamps,
        ``datetime64`` arrays, ``date`` objects); times of day are dropped.

    Returns
    -------
    numpy.ndarray of float
    """
    start = np.asarray(start, dtype="datetime64[D]")
    end = np.asarray(end, dtype="datetime64[D]")
    diff = end - start
    missing = np.isnat(diff)
    days = np.where(missing, 0, diff.astype(np.int64)).astype(float)
    return np.where(missing, np.nan, days)


def years_between(start, end) -> np.ndarray:
    """Years from ``start`` to ``end``: whole days / :data:`DAYS_PER_YEAR` (NaN where a date is missing).

    Parameters
    ----------
    start, end : array-like of dates

    Returns
    -------
    numpy.ndarray of float
    """
    return days_between(start, end) / DAYS_PER_YEAR


def months_between(start, end) -> np.ndarray:
    """Months from ``start`` to ``end``: whole days / :data:`DAYS_PER_MONTH` (NaN where a date is missing).

    Parameters
    ----------
    start, end : array-like of dates

    Returns
    -------
    numpy.ndarray of float
    """
    return days_between(start, end) / DAYS_PER_MONTH


def age_in_years(birth, at) -> np.ndarray:
    """Exact age in years at a date: :func:`years_between` the birth date and ``at`` (days / 365.25).

    Parameters
    ----------
    birth, at : array-like of dates

    Returns
    -------
    numpy.ndarray of float
    """
    return years_between(birth, at)
