"""From two data frames to the per-patient arrays the joint likelihood works on.

The longitudinal submodel's mean is linear in time with time-invariant covariates,

``m_i(t) = x_i(t)' beta = a_i + c_i t``,  ``a_i = X0_i' beta_level``,  ``c_i = X1_i' beta_slope``,

where ``X0_i`` (the level design: an intercept and the level covariates) and ``X1_i`` (the slope
design: 1 for the main effect of time and the covariates interacted with time) are one row per
patient.  The longitudinal likelihood of patient ``i`` at given ``(A, C) = (a_i + b0, c_i + b1)``
needs only six sums over the visits: the number of visits and the sums of ``r``, ``r^2``, ``t``,
``t^2`` and ``r t`` with ``r = y - ybar_i`` (centring at the patient's mean keeps the expansion of
the residual sum of squares free of cancellation).  Nothing in the likelihood loops over visits.

Censored visits (:class:`CensoredVisits`).  For a bounded score (the ALSFRS-R: 0 to 48) the
censored (Tobit) submodel reads a visit at the floor or the ceiling as "the latent score is at or
below the floor" or "at or above the ceiling".  Those visits are kept apart (patient, time, bound
and side, one entry per visit: they are few), and the six sums above are then taken over the
uncensored visits only (:attr:`CensoredVisits.uncensored`); the sums of :class:`JointData` itself
stay those of all visits (the normal mixed model that gives the starting values).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import sparse


@dataclass(frozen=True)
class JointSpec:
    """Column names of the two input frames.

    Attributes
    ----------
    id : str
        Patient identifier, in both frames.
    time : str
        Time of a measurement (longitudinal frame), in the unit of ``surv_time``.
    y : str
        The marker.
    level : tuple of str
        Time-invariant covariates of the marker's level (constant within a patient).  The
        intercept is always included and named ``Intercept``.
    slope : tuple of str
        Time-invariant covariates interacted with time (the main effect of time is always
        included and named after ``time``; an interaction is named ``<covariate>:<time>``).
    surv_time : str
        Event or censoring time (survival frame, one row per patient), same unit as ``time``.
    event : str
        1 for an event at ``surv_time``, 0 for censoring.
    surv : tuple of str
        Baseline covariates of the hazard (survival frame).
    """

    id: str
    time: str
    y: str
    level: tuple[str, ...]
    slope: tuple[str, ...]
    surv_time: str
    event: str
    surv: tuple[str, ...]

    @property
    def level_names(self) -> list[str]:
        return ["Intercept", *self.level]

    @property
    def slope_names(self) -> list[str]:
        return [self.time, *(f"{c}:{self.time}" for c in self.slope)]


@dataclass(frozen=True)
class VisitSums:
    """Per-patient sums over a set of visits (``r = y - ybar``), as :func:`visit_sums` returns them.

    Attributes
    ----------
    n_visits, ybar, S_r, S_rr, S_t, S_tt, S_rt : ndarray, shape (n,)
    """

    n_visits: np.ndarray
    ybar: np.ndarray
    S_r: np.ndarray
    S_rr: np.ndarray
    S_t: np.ndarray
    S_tt: np.ndarray
    S_rt: np.ndarray

    def subset(self, rows: np.ndarray) -> VisitSums:
        """The patients at positions ``rows``."""
        return VisitSums(**{k: getattr(self, k)[rows] for k in self.__dataclass_fields__})


@dataclass(frozen=True)
class CensoredVisits:
    """The visits at or beyond a bound of the scale, and the sums of the others (censored submodel).

    A visit with ``y <= lower`` is left-censored at ``lower`` (its likelihood is
    ``Phi((lower - m_i(t)) / sigma)``), one with ``y >= upper`` right-censored at ``upper``
    (``1 - Phi((upper - m_i(t)) / sigma) = Phi((m_i(t) - upper) / sigma)``).  Both are written
    ``Phi(sign (bound - m_i(t)) / sigma)`` with ``sign`` +1 (left) or -1 (right).

    Attributes
    ----------
    patient : ndarray of int, shape (k,)
        Patient position of each censored visit.
    t : ndarray, shape (k,)
        Its time.
    bound : ndarray, shape (k,)
        The bound it is censored at.
    sign : ndarray, shape (k,)
        +1 for left-censored, -1 for right-censored.
    uncensored : VisitSums
        The per-patient sums of the uncensored visits (the closed-form normal terms).
    lower, upper : float
        The bounds (``-inf`` / ``inf`` for a side without one).
    n_groups : int
        Number of patients.
    """

    patient: np.ndarray
    t: np.ndarray
    bound: np.ndarray
    sign: np.ndarray
    uncensored: VisitSums
    lower: float
    upper: float
    n_groups: int

    @property
    def n_left(self) -> int:
        return int(np.sum(self.sign > 0))

    @property
    def n_right(self) -> int:
        return int(np.sum(self.sign < 0))

    @property
    def size(self) -> int:
        return int(self.patient.shape[0])

    @cached_property
    def indicator(self) -> sparse.csr_matrix:
        """Sparse ``n x k`` matrix with a 1 where visit ``j`` belongs to patient ``i`` (sums visits into patients)."""
        k = self.size
        return sparse.csr_matrix((np.ones(k), (self.patient, np.arange(k))), shape=(self.n_groups, k))

    def subset(self, rows: np.ndarray) -> CensoredVisits:
        """The patients at positions ``rows`` (in that order) and their censored visits."""
        rows = np.asarray(rows)
        new = np.full(self.n_groups, -1)
        new[rows] = np.arange(rows.shape[0])
        keep = new[self.patient] >= 0
        order = np.argsort(new[self.patient][keep], kind="stable")
        pick = np.flatnonzero(keep)[order]
        return CensoredVisits(
            patient=new[self.patient[pick]],
            t=self.t[pick],
            bound=self.bound[pick],
            sign=self.sign[pick],
            uncensored=self.uncensored.subset(rows),
            lower=self.lower,
            upper=self.upper,
            n_groups=int(rows.shape[0]),
        )


def censor_visits(
    codes: np.ndarray, n: int, t: np.ndarray, y: np.ndarray, bounds: tuple[float | None, float | None]
) -> CensoredVisits:
    """Split visits into censored ones (``y <= lower``, ``y >= upper``) and the sums of the rest.

    Parameters
    ----------
    codes : array of int, shape (m,)
        Patient position of each visit.
    n : int
        Number of patients.
    t, y : arrays, shape (m,)
    bounds : (float or None, float or None)
        Floor and ceiling of the scale (None: no bound on that side).

    Returns
    -------
    CensoredVisits
    """
    lower = -np.inf if bounds[0] is None else float(bounds[0])
    upper = np.inf if bounds[1] is None else float(bounds[1])
    if not lower < upper:
        raise ValueError(f"the lower bound {lower} must be below the upper bound {upper}")
    left = y <= lower
    right = y >= upper
    censored = left | right
    which = np.flatnonzero(censored)
    order = which[np.argsort(codes[which], kind="stable")]  # grouped by patient, visits in input order
    sums = visit_sums(codes[~censored], n, t[~censored], y[~censored])
    return CensoredVisits(
        patient=np.asarray(codes[order], dtype=np.int64),
        t=np.asarray(t[order], dtype=float),
        bound=np.where(left[order], lower, upper).astype(float),
        sign=np.where(left[order], 1.0, -1.0),
        uncensored=VisitSums(**sums),
        lower=lower,
        upper=upper,
        n_groups=int(n),
    )


@dataclass(frozen=True)
class JointData:
    """Per-patient arrays of a joint model, patients sorted by id.

    Attributes
    ----------
    ids : ndarray, shape (n,)
    X0, X1 : ndarray, shape (n, p0) and (n, p1)
        Level and slope designs.
    W : ndarray, shape (n, pw)
        Survival covariates.
    T, delta : ndarray, shape (n,)
        Event or censoring time and event indicator.
    n_visits, ybar, S_r, S_rr, S_t, S_tt, S_rt : ndarray, shape (n,)
        Per-patient sums over the visits (``r = y - ybar``).
    n_obs : int
        Visits in all.
    censored : CensoredVisits or None
        The censored submodel's split of the visits (None: every visit is a normal measurement).
    """

    ids: np.ndarray
    X0: np.ndarray
    X1: np.ndarray
    W: np.ndarray
    T: np.ndarray
    delta: np.ndarray
    n_visits: np.ndarray
    ybar: np.ndarray
    S_r: np.ndarray
    S_rr: np.ndarray
    S_t: np.ndarray
    S_tt: np.ndarray
    S_rt: np.ndarray
    n_obs: int
    censored: CensoredVisits | None = None

    @property
    def n_groups(self) -> int:
        return int(self.ids.shape[0])

    @property
    def n_events(self) -> int:
        return int(self.delta.sum())

    def subset(self, rows: np.ndarray) -> JointData:
        """The patients at positions ``rows``."""
        rows = np.asarray(rows)
        fields = {k: getattr(self, k)[rows] for k in self.__dataclass_fields__ if k not in ("n_obs", "censored")}
        censored = None if self.censored is None else self.censored.subset(rows)
        return JointData(**fields, n_obs=int(fields["n_visits"].sum()), censored=censored)

    @property
    def normal_sums(self) -> JointData | VisitSums:
        """The sums of the visits that enter the likelihood as normal measurements (all, or the uncensored)."""
        return self if self.censored is None else self.censored.uncensored


def _numeric(frame: pd.DataFrame, columns: Sequence[str], what: str) -> np.ndarray:
    missing = [c for c in columns if c not in frame]
    if missing:
        raise ValueError(f"{what} frame lacks column(s) {missing}")
    values = frame[list(columns)].to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        cols = [c for c, b in zip(columns, bad.any(axis=0), strict=True) if b]
        raise ValueError(f"{what} frame has missing or non-finite values in {cols}")
    return values


def visit_sums(codes: np.ndarray, n: int, t: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Per-patient sums of the visits: count, mean of ``y`` and the centred sums (see the module notes).

    Parameters
    ----------
    codes : array of int, shape (m,)
        Patient position of each visit.
    n : int
        Number of patients.
    t, y : arrays, shape (m,)

    Returns
    -------
    dict of str to ndarray, shape (n,)
        ``n_visits, ybar, S_r, S_rr, S_t, S_tt, S_rt``.
    """
    count = np.bincount(codes, minlength=n).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ybar = np.where(count > 0, np.bincount(codes, weights=y, minlength=n) / np.maximum(count, 1), 0.0)
    r = y - ybar[codes]
    return {
        "n_visits": count,
        "ybar": ybar,
        "S_r": np.bincount(codes, weights=r, minlength=n),
        "S_rr": np.bincount(codes, weights=r * r, minlength=n),
        "S_t": np.bincount(codes, weights=t, minlength=n),
        "S_tt": np.bincount(codes, weights=t * t, minlength=n),
        "S_rt": np.bincount(codes, weights=r * t, minlength=n),
    }


def prepare_joint_data(
    long: pd.DataFrame,
    surv: pd.DataFrame,
    spec: JointSpec,
    bounds: tuple[float | None, float | None] | None = None,
) -> JointData:
    """Check the two frames and reduce them to per-patient arrays.

    Parameters
    ----------
    long : DataFrame
        One row per measurement: ``spec.id``, ``spec.time``, ``spec.y``, the level and slope
        covariates (constant within a patient).
    surv : DataFrame
        One row per patient: ``spec.id``, ``spec.surv_time`` (> 0), ``spec.event`` (0/1) and the
        survival covariates.
    spec : JointSpec
    bounds : (float or None, float or None), optional
        Floor and ceiling of the marker for the censored submodel: visits at or below the floor
        and at or above the ceiling are kept apart as censored (:func:`censor_visits`).  None
        (default): every visit is a normal measurement.

    Returns
    -------
    JointData

    Raises
    ------
    ValueError
        Missing columns or values, a patient in one frame but not the other, a patient with two
        survival rows, a covariate that changes within a patient, a measurement after the
        patient's event or censoring time, a non-positive survival time, an event not 0/1.
    """
    if surv[spec.id].duplicated().any():
        raise ValueError(f"the survival frame must have one row per {spec.id}")
    s = surv.sort_values(spec.id, kind="stable").reset_index(drop=True)
    ids = s[spec.id].to_numpy()
    long_ids = pd.unique(long[spec.id])
    extra = np.setdiff1d(long_ids, ids)
    if extra.size:
        raise ValueError(f"{extra.size} patient(s) with measurements have no survival row (e.g. {extra[0]!r})")
    codes = pd.Index(ids).get_indexer(long[spec.id])
    n = ids.shape[0]
    without = np.setdiff1d(np.arange(n), codes)
    if without.size:
        raise ValueError(f"{without.size} patient(s) have no measurement (e.g. {ids[without[0]]!r})")

    T = _numeric(s, [spec.surv_time], "survival")[:, 0]
    delta = _numeric(s, [spec.event], "survival")[:, 0]
    if np.any(T <= 0):
        raise ValueError(f"{spec.surv_time} must be positive for every patient")
    if not np.all(np.isin(delta, (0.0, 1.0))):
        raise ValueError(f"{spec.event} must be 0 or 1")
    W = _numeric(s, spec.surv, "survival") if spec.surv else np.zeros((n, 0))

    t = _numeric(long, [spec.time], "longitudinal")[:, 0]
    y = _numeric(long, [spec.y], "longitudinal")[:, 0]
    if np.any(t < 0):
        raise ValueError(f"{spec.time} must not be negative")
    if np.any(t > T[codes] * (1 + 1e-12)):
        raise ValueError(f"a measurement lies after its patient's {spec.surv_time}")
    covs = list(dict.fromkeys([*spec.level, *spec.slope]))
    per_patient = {}
    if covs:
        values = pd.DataFrame(_numeric(long, covs, "longitudinal"), columns=covs)
        values["_code"] = codes
        grouped = values.groupby("_code", sort=True)
        varying = [c for c in covs if (grouped[c].nunique() > 1).any()]
        if varying:
            raise ValueError(f"covariate(s) {varying} change within a patient; they must be time-invariant")
        first = grouped[covs].first()
        per_patient = {c: first[c].to_numpy() for c in covs}
    ones = np.ones(n)
    X0 = np.column_stack([ones, *(per_patient[c] for c in spec.level)])
    X1 = np.column_stack([ones, *(per_patient[c] for c in spec.slope)])
    sums = visit_sums(codes, n, t, y)
    censored = None if bounds is None else censor_visits(codes, n, t, y, bounds)
    return JointData(ids=ids, X0=X0, X1=X1, W=W, T=T, delta=delta, **sums, n_obs=int(len(long)), censored=censored)
