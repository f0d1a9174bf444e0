r"""Derivations 7-8: the calculus behind the numeric solver, and Jensen's gap.

See THEORY §2 and §4. Each function returns a
:class:`~pmdtheory.symbolic.check.Derivation`.
"""

from __future__ import annotations

from collections.abc import Callable

import mpmath as mp
import numpy as np
import sympy as sp

from pmdtheory import log_partition, mean_update, wright_omega
from pmdtheory.symbolic.check import NUMERIC, Derivation, Recorder
from pmdtheory.symbolic.numeric import DPS, N_CASES, random_cases
from pmdtheory.symbolic.solutions import w_rule, zero_after_w_rule

N_ACTIONS = 3
tau, s = sp.symbols("tau s", positive=True)  # q = 1/(1+s) ranges over (0, 1)
y, ell, d = sp.symbols("y ell d", real=True)
q, q1, q2 = sp.symbols("q q1 q2", positive=True)
rs = sp.symbols(f"r1:{N_ACTIONS + 1}", real=True)
bs = sp.symbols(f"b1:{N_ACTIONS + 1}", real=True)
logq = sp.symbols(f"l1:{N_ACTIONS + 1}", real=True)  # log pi_t(a)
ws = sp.symbols(f"w1:{N_ACTIONS + 1}", positive=True)  # omega values, > 0
ts = sp.symbols(f"t1:{N_ACTIONS + 1}", positive=True)  # weights of the candidate policy

DOMAIN = {tau: (0.05, 5), s: (0, 20), y: (-8, 8), ell: (-4, 4), d: (-5, 5), q: (0, 1)}
DOMAIN |= {q1: (0, 0.45), q2: (0, 0.45)} | {v: (-1, 1) for v in rs} | {v: (-4, 4) for v in bs}
DOMAIN |= {v: (-3, 0) for v in logq} | {v: (0, 5) for v in ws} | {v: (0, 5) for v in ts}


def solver_calculus(
    *, omega_derivative: Callable[[sp.Basic], sp.Basic] | None = None, seed: int = 0
) -> Derivation:
    r"""Derivation 7: :math:`\omega'(y) = \omega/(1+\omega)` and the Newton slope :math:`g'(\ell)`.

    Parameters
    ----------
    omega_derivative : callable, optional
        ``omega_derivative(omega) -> sympy expr``, the claimed :math:`\omega'` in terms
        of :math:`\omega`; default :math:`\omega/(1+\omega)`. It must also accept an
        mpmath number (the Newton-slope check evaluates it at 30 digits).
    seed : int
        Seed of the random points.

    Returns
    -------
    Derivation
        10 steps: :math:`\omega'` by implicit differentiation and from
        :math:`W_0(e^y)`, :math:`\log x = b - \omega(\ell + b)` and
        :math:`\lambda x = \omega(\ell + b)`, :math:`e^{g} = \sum_a \pi_t(a) x_a`, the
        slope :math:`g'(\ell)` and its sign,
        ``wright_omega`` against mpmath's :math:`W_0(e^y)` for y in [-700, 1e5], and the
        slope formula against mpmath differentiation. A wrong ``omega_derivative``
        fails (``tests/test_symbolic.py``).

    Examples
    --------
    >>> from pmdtheory.symbolic import solver_calculus
    >>> d = solver_calculus()
    >>> d.name, d.verified, len(d.checks)
    ('solver_calculus', True, 10)
    >>> solver_calculus(omega_derivative=lambda w: w / (1 + w) ** 2).verified
    False
    """
    omega_derivative = omega_derivative or (lambda w: w / (1 + w))
    rec = Recorder(
        "solver_calculus",
        "The solver's calculus: Wright omega and the Newton step",
        r"\omega + \log\omega = y,\ \omega'(y) = \frac{\omega}{1+\omega};"
        r"\quad \log x = b - \omega(\ell + b),"
        r"\quad g'(\ell) = -\sum_a q(a)\frac{\omega_a}{1+\omega_a} < 0",
        seed,
    )
    om_f = sp.Function("omega")
    implicit = sp.solve(sp.diff(om_f(y) + sp.log(om_f(y)) - y, y), sp.Derivative(om_f(y), y))
    claim = omega_derivative(om_f(y))
    rec.expressions |= {"omega_prime": claim}
    rec.zero(
        r"\tfrac{d}{dy}(\omega + \log\omega = y) \Rightarrow \omega' = \text{claim}",
        (implicit[0] - claim).subs(om_f(y), ws[0]) if len(implicit) == 1 else sp.nan,
        DOMAIN,
    )
    om = sp.LambertW(sp.exp(y))
    zero_after_w_rule(
        rec,
        r"\omega(y) = W_0(e^y) \text{ satisfies } \omega + \log\omega = y",
        om + sp.log(om) - y,
        DOMAIN,
    )
    rec.zero(
        r"\tfrac{d}{dy} W_0(e^y) = \text{claim}", sp.diff(om, y) - omega_derivative(om), DOMAIN
    )
    lam = sp.exp(ell)
    w_ab = sp.LambertW(sp.exp(ell + bs[0]))
    x_claim = sp.LambertW(lam * sp.exp(bs[0])) / lam
    zero_after_w_rule(
        rec,
        r"\log\frac{W_0(\lambda e^b)}{\lambda} = b - \omega(\ell + b),\ \ell = \log\lambda",
        sp.log(x_claim) - (bs[0] - w_ab),
        DOMAIN,
    )
    rec.zero(r"\lambda x = \omega(\ell + b)", sp.powsimp(lam * x_claim) - w_ab, DOMAIN)

    omegas = [sp.LambertW(sp.exp(ell + bv)) for bv in bs]
    terms = [sp.exp(lv + bv - wv) for lv, bv, wv in zip(logq, bs, omegas, strict=True)]
    g = sp.log(sum(terms))
    # g is the log of the solver's normaliser sum_a pi_t(a) x_a: checked, since the derivative
    # step below holds for any l-free factor of the terms. Each pi_t(a) x_a is written as the
    # exp of its log with the W rule applied inside (sympy folds exp(log W) back to W).
    pi_x = [sp.exp(lv) * x_claim.subs(bs[0], bv) for lv, bv in zip(logq, bs, strict=True)]
    zero_after_w_rule(
        rec,
        r"e^{g(\ell)} = \sum_a \pi_t(a)\,x_a",
        sp.exp(g) - sum(sp.exp(w_rule(sp.expand_log(sp.log(t), force=True))) for t in pi_x),
        DOMAIN,
    )
    slope = -sum(t * omega_derivative(w) for t, w in zip(terms, omegas, strict=True)) / sum(terms)
    rec.expressions |= {"g": g, "g_prime": slope}
    rec.zero(
        r"g'(\ell) = -\sum_a q(a)\,\omega'_a,\ q \propto \pi_t e^{b - \omega}",
        sp.diff(g, ell) - slope,
        DOMAIN,
    )
    # the slope itself, its terms and omegas renamed to positive symbols (not a hand-typed
    # copy of it, which a typo could make pass on another expression)
    slope_tw = slope.xreplace(dict(zip(terms, ts, strict=True)))
    slope_tw = slope_tw.xreplace(dict(zip(omegas, ws, strict=True)))
    rec.sign(
        r"-\sum_a t_a \omega_a / ((1+\omega_a)\sum t) < 0 \ (g \text{ decreasing})",
        slope_tw,
        DOMAIN,
        positive=False,
    )

    def omega_core():
        rng = rec.rng
        ys = np.concatenate(
            [rng.uniform(-40, 40, 200), [-700.0, -30.0, 0.0, 1.0, 30.0, 700.0, 1e5]]
        )
        core = wright_omega(ys)
        with mp.workdps(DPS):
            ref = [mp.lambertw(mp.exp(mp.mpf(v))).real for v in ys]
            err = max(float(abs(c / w - 1)) for c, w in zip(core, ref, strict=True))
        return err, f"relative, wright_omega vs W_0(e^y) at {ys.size} points, y in [-700, 1e5]"

    def newton_slope():
        worst = 0.0
        with mp.workdps(DPS):
            for pi_t, r_, tau_ in random_cases(rec.rng, 10):
                lam_core = mean_update(pi_t, r_, tau_, return_lambda=True)[1]
                bv = (r_ - pi_t @ r_) / tau_
                lq = [mp.log(mp.mpf(float(v))) for v in pi_t]

                def g_mp(e, lq=lq, bv=bv):
                    return mp.log(
                        mp.fsum(
                            mp.exp(a + mp.mpf(b_) - mp.lambertw(mp.exp(e + mp.mpf(b_))).real)
                            for a, b_ in zip(lq, bv, strict=True)
                        )
                    )

                def slope_mp(e, lq=lq, bv=bv):
                    w = [mp.lambertw(mp.exp(e + mp.mpf(b_))).real for b_ in bv]
                    t = [mp.exp(a + mp.mpf(b_) - wv) for a, b_, wv in zip(lq, bv, w, strict=True)]
                    return -mp.fsum(
                        tv * omega_derivative(wv) for tv, wv in zip(t, w, strict=True)
                    ) / mp.fsum(t)

                e0 = mp.log(mp.mpf(float(lam_core)))
                worst = max(worst, float(abs(mp.diff(g_mp, e0) / slope_mp(e0) - 1)))
        if worst > 1e-20:
            return False, f"relative error of g' formula vs mpmath differentiation {worst:.2e}"
        return (
            True,
            f"g' formula = numerical derivative of g (30 digits, rel. error {worst:.1e})"
            " at 10 random ell",
        )

    rec.core(r"\texttt{wright\_omega} = W_0(e^y)", omega_core)
    rec.true(r"g'(\ell) \text{ formula at random points}", newton_slope, method=NUMERIC)
    return rec.finish()


def jensen_gap(*, seed: int = 0) -> Derivation:
    r"""Derivation 8: :math:`\tau\log Z_t \ge \bar r`, equality iff r is constant.

    Parameters
    ----------
    seed : int
        Seed of the random points.

    Returns
    -------
    Derivation
        7 steps: for two actions the gap is :math:`\tau h(d)` with :math:`h(0) = h'(0)
        = 0` and :math:`h'' > 0`; for three actions the gap's sign; and
        ``log_partition`` against mpmath, :math:`\ge \bar r`, and equal to r for
        constant r (tau from 1e-3 to 1e3).

    Examples
    --------
    >>> from pmdtheory.symbolic import jensen_gap
    >>> d = jensen_gap(seed=2)
    >>> d.name, d.verified, len(d.checks)
    ('jensen_gap', True, 7)
    """
    rec = Recorder(
        "jensen_gap",
        "Jensen's gap of the log-partition",
        r"\tau\log \mathbb{E}_{\pi_t}[e^{r/\tau}] \ge \mathbb{E}_{\pi_t}[r] = \bar r,"
        r"\ \text{equality iff } r \text{ is constant on the support}",
        seed,
    )
    r1, r2 = rs[0], rs[1]
    z2 = q * sp.exp(r1 / tau) + (1 - q) * sp.exp(r2 / tau)
    rbar2 = q * r1 + (1 - q) * r2
    h = sp.log(q * sp.exp(d) + 1 - q) - q * d
    h2 = sp.diff(h, d, 2)
    claim_h2 = q * (1 - q) * sp.exp(d) / (q * sp.exp(d) + 1 - q) ** 2
    rec.expressions |= {"h": h, "h_second": claim_h2}
    rec.zero(
        r"Z_t = e^{r_2/\tau}(q e^d + 1 - q),\ d = (r_1 - r_2)/\tau",
        z2 - sp.exp(r2 / tau) * (q * sp.exp((r1 - r2) / tau) + 1 - q),
        DOMAIN,
    )
    h_at = h.subs(d, (r1 - r2) / tau)
    rec.zero(
        r"\text{hence } \tau\log Z_t - \bar r = \tau(r_2/\tau + \log(q e^d + 1 - q)) - \bar r"
        r" = \tau\, h(d),\ h(d) = \log(q e^d + 1 - q) - q d",
        tau * (r2 / tau + sp.log(q * sp.exp((r1 - r2) / tau) + 1 - q)) - rbar2 - tau * h_at,
        DOMAIN,
    )
    rec.zero(r"h(0) = 0,\ h'(0) = 0", h.subs(d, 0) ** 2 + sp.diff(h, d).subs(d, 0) ** 2, DOMAIN)
    rec.zero(r"h''(d) = \frac{q(1-q)e^d}{(q e^d + 1 - q)^2}", h2 - claim_h2, DOMAIN)
    rec.sign(
        r"h'' > 0 \text{ for } 0 < q < 1\ (q = 1/(1+s)) \Rightarrow"
        r" h(d) = \int_0^d (d-t) h''(t)\,dt > 0,\ d \ne 0",
        claim_h2.subs(q, 1 / (1 + s)),
        DOMAIN,
        positive=True,
    )
    qs3 = (q1, q2, 1 - q1 - q2)
    gap3 = tau * sp.log(sum(a * sp.exp(c / tau) for a, c in zip(qs3, rs, strict=True))) - sum(
        a * c for a, c in zip(qs3, rs, strict=True)
    )
    rec.expressions["gap_3"] = gap3
    rec.sign(r"n = 3:\ \tau\log Z_t - \bar r > 0", gap3, DOMAIN, positive=True)

    def vs_core():
        err = 0.0
        for pi_t, r_, tau_ in random_cases(rec.rng, N_CASES, tau_range=(1e-3, 1e3)):
            got = log_partition(pi_t, r_, tau_)
            with mp.workdps(DPS):
                t = mp.mpf(tau_)
                ref = t * mp.log(
                    mp.fsum(
                        mp.mpf(float(a)) * mp.exp(mp.mpf(float(c)) / t)
                        for a, c in zip(pi_t, r_, strict=True)
                    )
                )
            if got < pi_t @ r_ - 1e-12:
                return np.inf, f"log_partition < rbar at tau={tau_}"
            err = max(err, float(abs(got - ref)))
        const = log_partition(pi_t, np.full_like(r_, 0.3), tau_)
        return max(
            err, abs(const - 0.3)
        ), f"log_partition vs mpmath, >= rbar, = r for constant r ({N_CASES} cases, tau 1e-3..1e3)"

    rec.core(r"\texttt{log\_partition} = \tau\log Z_t \ge \bar r", vs_core)
    return rec.finish()
