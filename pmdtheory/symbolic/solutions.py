r"""The closed-form solutions that several derivations share, and the Lambert W rule.

:func:`exact_solution` and :func:`mean_solution` are the default claims of
derivations 1 and 2 (:mod:`pmdtheory.symbolic.pmd`), reused by the limits, the
binary-reward closed forms (:mod:`pmdtheory.symbolic.consequences`) and the
solver's calculus (:mod:`pmdtheory.symbolic.calculus`); :func:`w_rule` is the one
identity of :math:`W_0` that sympy does not apply by itself, and
:func:`zero_after_w_rule` the check that uses it. See THEORY
§2 and §4.

Examples
--------
>>> import sympy as sp
>>> lam, b = sp.symbols("lambda b", positive=True)
>>> mean_solution(lam, b)
LambertW(lambda*exp(b))/lambda
>>> x = mean_solution(lam, b)
>>> sp.simplify(w_rule(sp.log(x) + lam * x - b))
0
"""

from __future__ import annotations

import sympy as sp

__all__ = ["W_NOTE", "exact_solution", "mean_solution", "w_rule", "zero_after_w_rule"]

#: appended to the detail of a check closed with :func:`w_rule`
W_NOTE = " (after rewriting log W0(z) = log z - W0(z), the log of W0(z) e^W0(z) = z)"


def exact_solution(q: sp.Basic, r_a: sp.Basic, tau: sp.Basic, z: sp.Basic) -> sp.Basic:
    r"""Exact PMD's new probability of one action, :math:`q\, e^{r_a/\tau} / Z`."""
    return q * sp.exp(r_a / tau) / z


def mean_solution(lam: sp.Basic, b: sp.Basic) -> sp.Basic:
    r"""PMD-mean's ratio :math:`x = W_0(\lambda e^b)/\lambda`, the root of
    :math:`\log x + \lambda x = b`."""
    return sp.LambertW(lam * sp.exp(b)) / lam


def w_rule(expr: sp.Basic) -> sp.Basic:
    r"""Rewrite ``log W(z)`` as ``log z - W(z)``: the log of :math:`W e^W = z`, valid for
    real z > 0 (there W > 0). sympy does not apply this identity by itself."""
    expr = sp.expand_log(expr)
    rule = {
        sp.log(w): sp.expand_log(sp.log(w.args[0])) - w
        for w in expr.atoms(sp.LambertW)
        if len(w.args) == 1
    }
    return sp.expand_log(expr.subs(rule))


def zero_after_w_rule(rec, claim: str, expr: sp.Basic, domain) -> None:
    """Record on ``rec`` (a :class:`~pmdtheory.symbolic.check.Recorder`) that ``expr``
    vanishes on ``domain`` once :func:`w_rule` is applied; the detail says so
    (:data:`W_NOTE`)."""
    rec.zero(claim, w_rule(expr), domain, note=W_NOTE)
