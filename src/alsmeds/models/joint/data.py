"""From two data frames to the per-patient arrays the joint likelihood works on.

The longitudinal submodel's mean is linear in time with time-invariant covariates,

``m_i(t) = x_i(t)' beta = a_i + c_i t``,  ``a_i = X0_i' beta_level``,  ``c_i = X1_i' beta_slope``,

where ``X0_i`` (the level design: an intercept and the level covariates) and ``X1_i`` (the slope
design: 1 for the main effect of time and the covariates interacted with time) are one row per
patient.  The longitudinal likelihood of patient ``i`` at given ``(A, C) = (a_i + b0, c_i + b1)``
needs only six sums over the visits: the number of visits and the sums of ``r``, ``r^2``, ``t``,
``t^2`` and ``r t`` with ``r = y - ybar_i`` (centring at the patient's mean keeps the expansion of
the residual sum of squares free of cancellation).  Nothing in the likelihood loops over visits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


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

    @property
    def n_groups(self) -> int:
        return int(self.ids.shape[0])

    @property
    def n_events(self) -> int:
        return int(self.delta.sum())

    def subset(self, rows: np.ndarray) -> JointData:
        """The patients at positions ``rows``."""
        rows = np.asarray(rows)
        fields = {k: getattr(self, k)[rows] for k in self.__dataclass_fields__ if k != "n_obs"}
        return JointData(**fields, n_obs=int(fields["n_visits"].sum()))


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


def prepare_joint_data(long: pd.DataFrame, surv: pd.DataFrame, spec: JointSpec) -> JointData:
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
    return JointData(ids=ids, X0=X0, X1=X1, W=W, T=T, delta=delta, **sums, n_obs=int(len(long)))
