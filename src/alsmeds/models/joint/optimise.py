"""Newton-type maximisation with exact derivatives and convergence that is checked, not assumed.

:func:`maximise` runs SciPy's ``trust-exact`` (a trust-region Newton method that solves the
subproblem with the exact Hessian, so it also copes with indefinite Hessians far from the optimum)
on ``-loglik``, with gradient and Hessian from autograd.  It stops on the **Newton decrement**
``lambda^2 = g' (-H)^-1 g``: half of it is the increase of the log-likelihood that one more Newton
step would bring, and at the optimum ``lambda^2`` is the squared length of the remaining step in
standard-error units.  It is a relative criterion in the sense that matters (it does not depend on
the parametrisation or on the size of the log-likelihood, unlike an absolute tolerance on the
function value or the gradient).  The fit is reported as converged only when, at the final point,

* the observed information ``-H`` is positive definite (smallest eigenvalue above ``PD_RTOL`` times
  the largest: a smaller positive value is rounding noise around a singular matrix), and
* ``lambda^2 / 2 <= tol * max(1, |loglik|)``.

Once the criterion is met, one final full Newton step is taken (as the bundle's conditional logit
does) and the diagnostics are recomputed there.

Otherwise ``converged`` is False and ``message`` says which condition failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import autograd
import numpy as np
from scipy import optimize

#: The observed information counts as positive definite when its smallest eigenvalue exceeds this
#: multiple of its largest (below that, a positive value is rounding noise around a singular matrix).
PD_RTOL = 1e-12
#: Default tolerance on half the Newton decrement, relative to max(1, |loglik|).
DEFAULT_TOL = 1e-12


@dataclass(frozen=True)
class MaximiseResult:
    """Outcome of :func:`maximise`.

    Attributes
    ----------
    x : ndarray
        The final point.
    llf : float
        Log-likelihood there.
    gradient, hessian : ndarray
        Exact gradient and Hessian of the log-likelihood at ``x``.
    min_eigenvalue : float
        Smallest eigenvalue of the observed information ``-hessian`` (> 0: positive definite).
    decrement : float
        ``g' (-H)^-1 g`` (NaN when ``-H`` is not positive definite).
    max_abs_gradient : float
        ``max_j |g_j|``, in log-likelihood units per parameter unit.
    relative_gradient : float
        ``max_j |g_j| max(|x_j|, 1) / max(|llf|, 1)`` (Dennis and Schnabel's relative gradient).
    iterations : int
        Trust-region iterations plus any polishing Newton steps.
    converged : bool
    message : str
    """

    x: np.ndarray
    llf: float
    gradient: np.ndarray
    hessian: np.ndarray
    min_eigenvalue: float
    decrement: float
    max_abs_gradient: float
    relative_gradient: float
    iterations: int
    converged: bool
    message: str


class _Cached:
    """Value, gradient and Hessian of a function, each computed once per point."""

    def __init__(self, fun: Callable[[np.ndarray], float]):
        self.fun = fun
        self._grad = autograd.grad(fun)
        self._hess = autograd.hessian(fun)
        self._store: dict[tuple[str, bytes], object] = {}

    def _get(self, kind: str, x: np.ndarray, compute: Callable[[np.ndarray], object]):
        key = (kind, np.asarray(x, dtype=float).tobytes())
        if key not in self._store:
            if len(self._store) > 30:
                self._store.clear()
            self._store[key] = compute(np.array(x, dtype=float))
        return self._store[key]

    def value(self, x):
        return float(self._get("f", x, self.fun))

    def grad(self, x):
        return np.asarray(self._get("g", x, self._grad), dtype=float)

    def hess(self, x):
        return np.asarray(self._get("h", x, self._hess), dtype=float)


def _diagnose(cache: _Cached, x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, float, float]:
    """Log-likelihood, gradient, Hessian, smallest eigenvalue of the information (0 when it is not
    positive definite beyond rounding) and the Newton decrement (NaN then)."""
    llf = cache.value(x)
    g = cache.grad(x)
    H = cache.hess(x)
    info = -(H + H.T) / 2
    if not (np.isfinite(llf) and np.all(np.isfinite(g)) and np.all(np.isfinite(info))):
        return llf, g, H, float("nan"), float("nan")
    eig = np.linalg.eigvalsh(info)
    min_eig = float(eig.min())
    decrement = float("nan")
    if min_eig > PD_RTOL * max(float(np.abs(eig).max()), 1e-300):
        try:
            decrement = float(g @ np.linalg.solve(info, g))
        except np.linalg.LinAlgError:
            decrement = float("nan")
    elif min_eig > 0:
        min_eig = 0.0  # positive only by rounding: singular
    return llf, g, H, min_eig, decrement


def maximise(
    loglik: Callable[[np.ndarray], float],
    x0: np.ndarray,
    *,
    tol: float = DEFAULT_TOL,
    maxiter: int = 200,
    polish_steps: int = 8,
    final_step: bool = True,
) -> MaximiseResult:
    """Maximise ``loglik`` (written with ``autograd.numpy``) from ``x0``.

    Parameters
    ----------
    loglik : callable
        Log-likelihood of a parameter vector; must be differentiable twice by autograd.
    x0 : array
        Start.
    tol : float
        Stop when half the Newton decrement is at most ``tol * max(1, |loglik|)``.
    maxiter : int
        Trust-region iterations.
    polish_steps : int
        Damped Newton steps tried after the trust-region run when the criterion is not yet met.
    final_step : bool
        Once converged, take one more full Newton step (kept unless the log-likelihood falls by more
        than rounding), so that the reported gradient is at rounding level; the Hessian and every
        diagnostic are then evaluated at that final point.

    Returns
    -------
    MaximiseResult
    """
    cache = _Cached(loglik)

    def negative(x):
        v = cache.value(x)
        return -v if np.isfinite(v) else np.inf

    def done(x) -> bool:
        llf, _, _, _, dec = _diagnose(cache, x)
        return bool(np.isfinite(dec) and dec / 2 <= tol * max(1.0, abs(llf)))

    x = np.array(x0, dtype=float)
    iterations = 0
    if not np.isfinite(cache.value(x)):
        raise FloatingPointError("the log-likelihood is not finite at the starting values")
    if not done(x):

        def callback(intermediate_result):
            if done(intermediate_result.x):
                raise StopIteration

        res = optimize.minimize(
            negative,
            x,
            jac=lambda v: -cache.grad(v),
            hess=lambda v: -cache.hess(v),
            method="trust-exact",
            callback=callback,
            options={"gtol": 1e-300, "maxiter": maxiter},
        )
        x = np.array(res.x, dtype=float)
        iterations = int(res.nit)

    # Polish: damped Newton steps while the decrement criterion is not met (rarely needed).
    for _ in range(polish_steps):
        if done(x):
            break
        llf, g, H, _, dec = _diagnose(cache, x)
        if not np.isfinite(dec):
            break
        step = np.linalg.solve(-(H + H.T) / 2, g)
        for shrink in (1.0, 0.5, 0.25, 0.125):
            trial = x + shrink * step
            value = cache.value(trial)
            if np.isfinite(value) and value >= llf - 1e-12 * max(1.0, abs(llf)):
                x = trial
                break
        else:
            break
        iterations += 1

    llf, g, H, min_eig, dec = _diagnose(cache, x)
    if final_step and np.isfinite(dec) and dec / 2 <= tol * max(1.0, abs(llf)):
        # One final full Newton step from the converged point (quadratic convergence: the gradient
        # drops to rounding level), kept unless the log-likelihood falls by more than rounding.
        trial = x + np.linalg.solve(-(H + H.T) / 2, g)
        value = cache.value(trial)
        if np.isfinite(value) and value >= llf - 1e-12 * max(1.0, abs(llf)):
            x = trial
            iterations += 1
            llf, g, H, min_eig, dec = _diagnose(cache, x)
    pd_ok = bool(np.isfinite(dec))
    small = bool(np.isfinite(dec) and dec / 2 <= tol * max(1.0, abs(llf)))
    converged = pd_ok and small
    if converged:
        message = "converged: Newton decrement within tolerance, observed information positive definite"
    elif not pd_ok:
        message = (
            f"NOT converged: the observed information is not positive definite (smallest eigenvalue {min_eig:.3g})"
        )
    else:
        message = f"NOT converged: half the Newton decrement is {dec / 2:.3g} (tolerance {tol:g} x max(1, |llf|))"
    rel = float(np.max(np.abs(g) * np.maximum(np.abs(x), 1.0)) / max(abs(llf), 1.0)) if g.size else 0.0
    return MaximiseResult(
        x=x,
        llf=llf,
        gradient=g,
        hessian=H,
        min_eigenvalue=min_eig,
        decrement=dec,
        max_abs_gradient=float(np.max(np.abs(g))) if g.size else 0.0,
        relative_gradient=rel,
        iterations=iterations,
        converged=converged,
        message=message,
    )
