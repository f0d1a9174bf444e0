"""50-digit mpmath references for the core updates (THEORY §2, §4, §5).

Independent of pmdtheory: plain formulas, Newton/bisection at high precision.
"""

from __future__ import annotations

import mpmath as mp

mp.mp.dps = 50


def _tol():
    return mp.mpf(10) ** (12 - mp.mp.dps)  # |b| up to 1e7 costs 7 digits


def log_omega(y):
    """log of Wright omega at y: the root v of e^v + v = y (convex, Newton from the right)."""
    y = mp.mpf(y)
    v = mp.log(y) if y > 1 else y
    for _ in range(500):
        step = (mp.exp(v) + v - y) / (mp.exp(v) + 1)
        v -= step
        if abs(step) < _tol() * max(1, abs(v)):
            break
    return v


def omega(y):
    return mp.exp(log_omega(y))


def _setup(pi, r, tau, log=False):
    """``log``: ``pi`` holds log-probabilities (exact here even below float64's -745)."""
    pi = [mp.exp(mp.mpf(float(p))) if log else mp.mpf(float(p)) for p in pi]
    total = sum(pi)
    pi = [p / total for p in pi]
    r = [mp.mpf(float(x)) for x in r]
    tau = mp.mpf(float(tau))
    support = [i for i, p in enumerate(pi) if p > 0]
    rbar = sum(pi[i] * r[i] for i in support)
    b = {i: (r[i] - rbar) / tau for i in support}
    return pi, r, tau, support, b


def exact(pi, r, tau):
    """log pi_{t+1} of exact PMD."""
    pi, r, tau, support, _ = _setup(pi, r, tau)
    logz = mp.log(sum(pi[i] * mp.exp(r[i] / tau) for i in support))
    return [mp.log(pi[i]) + r[i] / tau - logz if i in support else -mp.inf for i in range(len(pi))]


def log_partition(pi, r, tau):
    pi, r, tau, support, _ = _setup(pi, r, tau)
    return tau * mp.log(sum(pi[i] * mp.exp(r[i] / tau) for i in support))


def _solve(g, start):
    """Root of a monotone g (value, derivative): bracket by doubling, then Newton
    with a bisection safeguard."""
    s = mp.mpf(start)
    val, der = g(s)
    toward = 1 if (val > 0) == (der < 0) else -1  # direction of the root
    step = mp.mpf(1)
    other = s
    while True:
        other = s + toward * step
        v2, d2 = g(other)
        if (v2 > 0) != (val > 0) or v2 == 0:
            break
        s, val, step = other, v2, 2 * step
    lo, hi = (s, other) if s < other else (other, s)
    for _ in range(2000):
        val, der = g(s)
        if abs(val) < _tol():  # g is a log-normaliser: this is its rounding floor
            return s
        if (val > 0) == (der < 0):
            lo = s
        else:
            hi = s
        new = s - val / der
        if abs(new - s) < _tol() * max(1, abs(s)):
            return new
        if not lo < new < hi:
            new = (lo + hi) / 2
        s = new
    raise RuntimeError("mpmath reference did not converge")


def mean(pi, r, tau, log=False):
    """(log pi_{t+1}, lam) of PMD-mean: log x = b - omega(log lam + b), E x = 1."""
    pi, r, tau, support, b = _setup(pi, r, tau, log)
    if len({r[i] for i in support}) == 1:
        return [mp.log(p) if p > 0 else -mp.inf for p in pi], mp.mpf(0)

    def g(ell):
        om = {i: omega(ell + b[i]) for i in support}
        q = {i: pi[i] * mp.exp(b[i] - om[i]) for i in support}
        total = sum(q.values())
        return mp.log(total), -sum(q[i] * om[i] / (1 + om[i]) for i in support) / total

    ell = _solve(g, 0)
    out = [
        mp.log(pi[i]) + b[i] - omega(ell + b[i]) if i in support else -mp.inf
        for i in range(len(pi))
    ]
    return out, mp.exp(ell)


def kl_chi2(pi, r, tau, beta):
    """log pi_beta: log x + (beta/tau) x = (r - nu)/tau with E x = 1."""
    pi, r, tau, support, b = _setup(pi, r, tau)
    kappa = mp.mpf(float(beta)) / tau

    def g(s):  # E_pi omega(s + b) = kappa, increasing in s
        om = {i: omega(s + b[i]) for i in support}
        total = sum(pi[i] * om[i] for i in support)
        return mp.log(total / kappa), sum(pi[i] * om[i] / (1 + om[i]) for i in support) / total

    s = _solve(g, mp.log(kappa))
    return [
        mp.log(pi[i]) + log_omega(s + b[i]) - mp.log(kappa) if i in support else -mp.inf
        for i in range(len(pi))
    ]
