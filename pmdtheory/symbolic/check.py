r"""Records and check primitives behind :mod:`pmdtheory.symbolic`.

A derivation is a list of :class:`Check` objects, each one claim closed by one
of four methods, weakest last:

``symbolic``
    sympy reduces the claim to an identity (``simplify(lhs - rhs) == 0``) or
    decides the sign from the symbols' assumptions.
``exact substitution``
    sympy could not close the claim for free symbols, but it reduces to exactly
    0 at every one of many random rational points.
``numeric (50 digits)``
    at some random points the exact value is not reducible by sympy (e.g. it
    contains ``LambertW`` of a rational); there it is evaluated at 50 digits and
    must vanish (or have the claimed sign) to 1e-35. Sampling is not a proof,
    and the record says so.
``numeric core``
    the package's float64 implementation is compared with an mpmath evaluation
    of the symbolic solution at random points (tolerance 1e-10).

No check ever raises: an exception inside a check makes it fail, with the
message as its detail, so :func:`pmdtheory.symbolic.verify_all` always returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

SYMBOLIC = "symbolic"
EXACT = "exact substitution"
NUMERIC = "numeric (50 digits)"
CORE = "numeric core"
METHODS = (SYMBOLIC, EXACT, NUMERIC, CORE)

#: points used when sympy cannot close a claim for free symbols
N_POINTS = 24
#: a 50-digit value below this counts as zero
ZERO_50 = 1e-35
#: tolerance of every comparison with the float64 numeric core
CORE_TOL = 1e-10


@dataclass(frozen=True)
class Check:
    """One verified (or failed) step: the claim, how it was checked, the outcome.

    Attributes
    ----------
    claim : str
        What the step asserts, in LaTeX.
    method : str
        How it was closed, one of :data:`METHODS`: ``"symbolic"``,
        ``"exact substitution"``, ``"numeric (50 digits)"``, ``"numeric core"``.
    passed : bool
        Whether the claim held.
    detail : str
        What was done (e.g. ``"sympy.expand reduces it to 0"``, a maximum error), or
        why it failed.

    Examples
    --------
    >>> from pmdtheory.symbolic import Check, limits
    >>> Check("1 + 1 = 2", "symbolic", True, "sympy.expand reduces it to 0").passed
    True
    >>> step = limits().checks[0]
    >>> step.method, step.passed
    ('symbolic', True)
    """

    claim: str
    method: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Derivation:
    """The record of one derivation.

    Attributes
    ----------
    name : str
        Short identifier (the function name in :mod:`pmdtheory.symbolic`).
    title : str
        Human-readable title.
    statement : str
        The result, in LaTeX.
    expressions : Mapping[str, sympy.Basic]
        The sympy expressions involved (Lagrangians, gradients, solutions, series).
    checks : tuple of Check
        Every step, with its method and outcome.
    seconds : float
        Wall time of the derivation.

    Examples
    --------
    >>> from pmdtheory.symbolic import limits
    >>> d = limits()
    >>> d.name, d.verified, len(d.checks)
    ('limits', True, 7)
    >>> all(check.passed for check in d.checks)
    True
    >>> d.explanation  # doctest: +ELLIPSIS
    '7 steps: ... numeric core; all passed'
    """

    name: str
    title: str
    statement: str
    expressions: Mapping[str, sp.Basic]
    checks: tuple[Check, ...]
    seconds: float

    @property
    def verified(self) -> bool:
        """True iff there is at least one check and every check passed."""
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def explanation(self) -> str:
        """How the derivation was verified, counted by method."""
        parts = []
        for method in METHODS:
            n = sum(c.method == method for c in self.checks)
            if n:
                parts.append(f"{n} {method}")
        failed = sum(not c.passed for c in self.checks)
        tail = f"; {failed} FAILED" if failed else "; all passed"
        return f"{len(self.checks)} steps: " + ", ".join(parts) + tail


@dataclass
class Recorder:
    """Collects the checks of one derivation and times it."""

    name: str
    title: str
    statement: str
    seed: int  # the derivation's own (each takes ``seed=0`` by default)
    expressions: dict[str, sp.Basic] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    t0: float = field(default_factory=time.perf_counter)

    @property
    def rng(self) -> np.random.Generator:
        """A fresh generator per call site, seeded from the derivation name and seed."""
        return np.random.default_rng([self.seed, len(self.checks), *map(ord, self.name)])

    def zero(self, claim: str, expr, domain: Mapping[sp.Symbol, tuple], *, note: str = ""):
        """Check ``expr == 0`` identically on ``domain``; see :func:`check_zero`.

        ``note`` is appended to the detail (e.g. an identity used to prepare ``expr``).
        """

        def run():
            check = check_zero(claim, expr, domain, rng=self.rng)
            return Check(check.claim, check.method, check.passed, check.detail + note)

        return self._add(run, claim, SYMBOLIC)

    def sign(self, claim: str, expr, domain: Mapping[sp.Symbol, tuple], *, positive: bool):
        """Check the sign of ``expr`` on ``domain``; see :func:`check_sign`."""
        return self._add(
            lambda: check_sign(claim, expr, domain, positive=positive, rng=self.rng),
            claim,
            SYMBOLIC,
        )

    def true(self, claim: str, fn: Callable[[], tuple[bool, str]], *, method: str) -> bool:
        """Record a check computed by ``fn() -> (passed, detail)``."""
        return self._add(lambda: Check(claim, method, *fn()), claim, method)

    def core(self, claim: str, fn: Callable[[], tuple[float, str]], *, tol: float = CORE_TOL):
        """Compare with the numeric core: ``fn() -> (max_error, what)``, pass if <= tol."""

        def run():
            err, what = fn()
            ok = bool(np.isfinite(err) and err <= tol)
            return Check(claim, CORE, ok, f"max error {err:.2e} (tol {tol:.0e}) {what}")

        return self._add(run, claim, CORE)

    def _add(self, make: Callable[[], Check], claim: str, method: str) -> bool:
        try:
            check = make()
        except Exception as exc:  # a crashing check is a failed check, never a crash
            check = Check(claim, method, False, f"raised {type(exc).__name__}: {exc}")
        self.checks.append(check)
        return check.passed

    def finish(self) -> Derivation:
        """Freeze into a :class:`Derivation`."""
        return Derivation(
            self.name,
            self.title,
            self.statement,
            dict(self.expressions),
            tuple(self.checks),
            time.perf_counter() - self.t0,
        )


def rational_points(domain: Mapping[sp.Symbol, tuple], n: int, rng: np.random.Generator):
    """``n`` random substitutions ``{symbol: Rational}`` with values inside ``domain``.

    ``domain[s] = (lo, hi)`` with open ends; denominators are drawn from 2..60 so
    that the points are not special values.
    """
    points = []
    for _ in range(n):
        point = {}
        for s, (lo, hi) in domain.items():
            if not hi > lo:
                raise ValueError(f"domain of {s} is too narrow: {lo, hi}")
            den = int(rng.integers(2, 61))
            while True:  # grow the denominator until a numerator fits strictly inside
                lo_n, hi_n = int(np.floor(lo * den)) + 1, int(np.ceil(hi * den)) - 1
                if lo_n <= hi_n:
                    break
                den += 1
            point[s] = sp.Rational(int(rng.integers(lo_n, hi_n + 1)), den)
        points.append(point)
    return points


def _free_domain(expr: sp.Basic, domain: Mapping[sp.Symbol, tuple]) -> dict:
    """``domain`` restricted to the free symbols of ``expr`` (all of which it must hold)."""
    missing = expr.free_symbols - set(domain)
    if missing:
        raise ValueError(f"domain lacks the symbols {sorted(map(str, missing))}")
    return {s: domain[s] for s in sorted(expr.free_symbols, key=str)}


def check_zero(claim: str, expr, domain: Mapping[sp.Symbol, tuple], *, rng) -> Check:
    """Verify ``expr == 0`` for all symbol values in ``domain``.

    First ``sympy.expand``, then a refutation probe at two random points, then
    ``sympy.simplify``; if that does not give 0, exact substitution at
    :data:`N_POINTS` random rational points, falling back to a 50-digit
    evaluation at the points where sympy cannot reduce the exact value.
    """
    expr = sp.sympify(expr)
    if sp.expand(expr) == 0:  # cheap, and enough for polynomial identities
        return Check(claim, SYMBOLIC, True, "sympy.expand reduces it to 0")
    domain = _free_domain(expr, domain)
    # One point where the value is clearly nonzero refutes the identity; looking
    # first spares sympy.simplify, which can take minutes on a false identity.
    for point in rational_points(domain, 2, rng):
        probe = sp.N(expr.subs(point), 30)
        if probe.is_real and abs(probe) > 1e-20:
            return Check(claim, NUMERIC, False, f"{float(probe):.3e} != 0 at {point}")
    if sp.simplify(expr) == 0:
        return Check(claim, SYMBOLIC, True, "sympy.simplify reduces it to 0")
    n_exact = n_numeric = 0
    worst = 0.0
    for point in rational_points(domain, N_POINTS, rng):
        value = expr.subs(point)
        if sp.expand(value) == 0:
            n_exact += 1
            continue
        num = sp.N(value, 50)
        if not num.is_real:
            return Check(claim, NUMERIC, False, f"not real at {point}: {num}")
        worst = max(worst, abs(float(num)))
        if abs(num) > ZERO_50:
            return Check(claim, NUMERIC, False, f"{float(num):.3e} != 0 at {point}")
        n_numeric += 1
    if n_numeric == 0:
        return Check(claim, EXACT, True, f"0 exactly at {n_exact} random rational points")
    return Check(
        claim,
        NUMERIC,
        True,
        f"sympy cannot reduce it; |value| <= {worst:.1e} at {n_numeric} random rational points"
        f" (50 digits)"
        + (f", exactly 0 at {n_exact} more" if n_exact else "")
        + "; evidence, not a proof",
    )


def check_sign(claim: str, expr, domain, *, positive: bool, rng) -> Check:
    """Verify ``expr > 0`` (``positive=True``) or ``expr < 0`` on ``domain``.

    Symbolic if sympy decides it from the assumptions on the symbols; otherwise
    the sign is sampled at random rational points (50 digits), and the record
    says that this is evidence, not a proof.
    """
    expr = sp.sympify(expr)
    decided = sp.simplify(expr).is_positive if positive else sp.simplify(expr).is_negative
    word = "positive" if positive else "negative"
    if decided is True:
        return Check(claim, SYMBOLIC, True, f"sympy decides it is {word} from the assumptions")
    if decided is False:
        return Check(claim, SYMBOLIC, False, f"sympy decides it is not {word}")
    domain = _free_domain(expr, domain)
    for point in rational_points(domain, N_POINTS, rng):
        num = sp.N(expr.subs(point), 50)
        if not (num > 0 if positive else num < 0):
            return Check(claim, NUMERIC, False, f"value {num} at {point} is not {word}")
    return Check(
        claim,
        NUMERIC,
        True,
        f"sympy cannot decide; {word} at {N_POINTS} random rational points (50 digits); "
        "evidence, not a proof",
    )
