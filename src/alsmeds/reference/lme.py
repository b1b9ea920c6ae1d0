"""The ALSFRS-R mixed model fitted by R ``nlme::lme``: the reference for :mod:`alsmeds.models.mixed`.

nlme computes the same profiled likelihood as :mod:`alsmeds.models.lmm`, but maximises it with
``nlminb`` on finite-difference gradients, whose own tolerances ``lmeControl(tolerance=)`` does not
reach: with a random slope its variance parameters stop about 1e-6 (relative) short of the
maximum, so its fixed effects and variance components can differ from the exact maximum by a few
1e-6 (its log-likelihood by about 1e-9).  ``tests/test_lmm.py`` therefore also compares at nlme's own
variance components, where the two agree to rounding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alsmeds.derive.cohort import case_exposures as case_exposures  # re-exported: one function for every case
from alsmeds.models.mixed import AlsfrsMixedModel


@dataclass(frozen=True)
class RLmeResult:
    """An ``nlme::lme`` fit read back from R (names as in :class:`AlsfrsMixedResult`)."""

    params: pd.Series
    bse: pd.Series
    variance_components: pd.Series
    llf: float
    n_obs: int
    n_groups: int
    warnings: list[str]
    median_seconds: float | None
    r_version: str
    nlme_version: str


def r_lme(
    data: pd.DataFrame,
    model: AlsfrsMixedModel | None = None,
    *,
    timing_runs: int = 0,
    tolerance: float = 1e-10,
    timeout: float = 600.0,
) -> RLmeResult:
    """Fit the same model with R ``nlme::lme`` (``src/alsmeds/reference/R/lme.R``).

    ``lme(score ~ <design>, random = ~ months | person_id, method = "REML")`` on the
    design of ``model`` in months; needs R with nlme and jsonlite
    (:func:`alsmeds.reference.r_available` checks R itself).

    Parameters
    ----------
    timing_runs : int
        Fit that many more times inside R and report the median seconds.
    tolerance : float
        ``lmeControl(tolerance =, msTol =)``.
    """
    from alsmeds.reference import run_r_script

    model = model or AlsfrsMixedModel()
    d = data.sort_values(["person_id", "months"], kind="stable").reset_index(drop=True)
    X = model.design(d).drop(columns="Intercept")
    frame = pd.concat([d[["person_id"]], d[["score"]].astype(float), X], axis=1)
    args = {
        "response": "score",
        "fixed": list(X.columns),
        "time": "months",
        "group": "person_id",
        "random_slope": model.random_slope,
        "method": "REML" if model.reml else "ML",
        "tolerance": tolerance,
        "timing_runs": int(timing_runs),
    }
    out = run_r_script("lme", {"data": frame}, args, timeout=timeout)

    def series(values: Mapping[str, Any]) -> pd.Series:
        s = pd.Series({("Intercept" if k == "(Intercept)" else k): v for k, v in values.items()}, dtype=float)
        return s

    vc = pd.Series({k: (np.nan if v is None else float(v)) for k, v in out["variance_components"].items()})
    if not model.random_slope:
        vc = vc.drop(["slope_sd", "correlation"])
    timing = out.get("timing")
    return RLmeResult(
        params=series(out["fixed"]),
        bse=series(out["se"]),
        variance_components=vc[
            ["intercept_sd", *(["slope_sd", "correlation"] if model.random_slope else []), "residual_sd"]
        ],
        llf=float(out["loglik"]),
        n_obs=int(out["n_obs"]),
        n_groups=int(out["n_groups"]),
        warnings=list(out.get("warnings") or []),
        median_seconds=None if not timing else float(timing["median_seconds"]),
        r_version=str(out["r_version"]),
        nlme_version=str(out["nlme_version"]),
    )
