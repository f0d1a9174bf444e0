r"""mpmath evaluation of symbolic solutions, for the numeric-core cross-checks.

The derivations of :mod:`pmdtheory.symbolic` end in closed forms (``q e^{r/tau}/Z``,
``W_0(lam e^b)/lam``, ...). To compare them with the float64 numeric core they
are turned into mpmath functions with ``sympy.lambdify`` and evaluated at 30
significant digits; the PMD-mean multiplier is found here by a bracketing root
finder on the normalisation, an algorithm independent of the core's Newton step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import mpmath as mp
import numpy as np
import sympy as sp

#: working precision of every mpmath evaluation in this module
DPS = 30
#: random (pi_t, r, tau) cases per numeric-core cross-check
N_CASES = 25


def random_cases(
    rng: np.random.Generator,
    n_cases: int,
    *,
    n_range: tuple[int, int] = (2, 8),
    tau_range: tuple[float, float] = (1e-2, 1e2),
    r_range: tuple[float, float] = (-1.0, 1.0),
) -> Iterator[tuple[np.ndarray, np.ndarray, float]]:
    """Yield ``(pi_t, r, tau)``: random policies (each entry >= ~1e-3 / n), rewards
    uniform in ``r_range``, tau log-uniform in ``tau_range``."""
    for _ in range(n_cases):
        n = int(rng.integers(n_range[0], n_range[1] + 1))
        w = rng.exponential(size=n) + 1e-3
        pi_t = w / w.sum()
        r = rng.uniform(*r_range, size=n)
        tau = float(np.exp(rng.uniform(np.log(tau_range[0]), np.log(tau_range[1]))))
        yield pi_t, r, tau


def mp_function(args: tuple[sp.Symbol, ...], expr: sp.Basic) -> Callable:
    """``expr`` as an mpmath function of ``args``."""
    return sp.lambdify(args, expr, modules="mpmath")


def mp_exact(x_fn: Callable, pi_t: np.ndarray, r: np.ndarray, tau: float) -> list:
    """Exact-PMD policy from the per-action solution ``x_fn(pi_t_a, r_a, tau, Z)``,
    with ``Z = sum_a pi_t(a) exp(r(a)/tau)``, at :data:`DPS` digits."""
    with mp.workdps(DPS):
        q = [mp.mpf(float(v)) for v in pi_t]
        ra = [mp.mpf(float(v)) for v in r]
        t = mp.mpf(tau)
        z = mp.fsum(qa * mp.exp(rv / t) for qa, rv in zip(q, ra, strict=True))
        return [x_fn(qa, rv, t, z) for qa, rv in zip(q, ra, strict=True)]


def _bracket_root(f: Callable, lo: float, hi: float) -> mp.mpf:
    """Root of a continuous ``f``: widen ``[lo, hi]`` until the sign changes, bisect
    to width 1e-6 (robust), then polish with the secant method (fast near a simple
    root). The root is accepted only if ``|f|`` there is below ``10**(5 - DPS)``."""
    lo, hi = mp.mpf(lo), mp.mpf(hi)
    flo, fhi = f(lo), f(hi)
    for _ in range(12):  # each widening triples the bracket: 3**12 times its width at most
        if flo * fhi <= 0:
            break
        lo, hi = lo - (hi - lo), hi + (hi - lo)
        flo, fhi = f(lo), f(hi)
    if flo * fhi > 0:  # (checked after the last widening too)
        raise ArithmeticError("no sign change of the normalisation residual found")
    while hi - lo > 1e-6:
        mid = (lo + hi) / 2
        fmid = f(mid)
        if fmid * flo > 0:
            lo, flo = mid, fmid
        else:
            hi = mid
    root = mp.findroot(f, (lo, hi), solver="secant", verify=False)
    if not abs(f(root)) < mp.mpf(10) ** (5 - DPS):
        raise ArithmeticError(f"root finder did not converge: residual {f(root)}")
    return root


def mp_mean(x_fn: Callable, pi_t: np.ndarray, r: np.ndarray, tau: float, *, lam_check=None):
    r"""PMD-mean policy and multiplier from the per-action solution ``x_fn(lam, b)``.

    Solves :math:`\sum_a \pi_t(a)\, x(\lambda, b_a) = 1` for :math:`\ell = \log\lambda`
    (working on the log of the left side, which stays finite for tiny tau).

    Returns
    -------
    pi_new : list of mpf
    lam : mpf
    residual : mpf
        Only if ``lam_check`` is given: :math:`|\sum_a \pi_t(a) x(\lambda_c, b_a) - 1|`
        at ``lam_check``. This is how a float64 multiplier is judged: for large tau,
        lam is ill-conditioned (relative error ~ 1e-16 / lam) while the policy it
        produces is not.
    """
    with mp.workdps(DPS):
        q = [mp.mpf(float(v)) for v in pi_t]
        t = mp.mpf(tau)
        rbar = mp.fsum(qa * mp.mpf(float(v)) for qa, v in zip(q, r, strict=True))
        b = [(mp.mpf(float(v)) - rbar) / t for v in r]

        def total(lam):
            return mp.fsum(qa * x_fn(lam, ba) for qa, ba in zip(q, b, strict=True))

        ell = _bracket_root(lambda ell: mp.log(total(mp.exp(ell))), -60.0, 60.0)
        lam = mp.exp(ell)
        pi_new = [qa * x_fn(lam, ba) for qa, ba in zip(q, b, strict=True)]
        if lam_check is None:
            return pi_new, lam
        return pi_new, lam, abs(total(mp.mpf(float(lam_check))) - 1)


def max_abs_diff(a, b) -> float:
    """``max |a - b|`` of two sequences (numpy or mpmath entries), as a float."""
    return max(float(abs(mp.mpf(float(x)) - mp.mpf(y))) for x, y in zip(a, b, strict=True))
