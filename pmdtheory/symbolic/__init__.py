r"""Self-checking sympy derivations of the PMD theory (THEORY.md §2, §4, §5, §6).

Every step of the story "exact PMD -> PMD-mean (Lambert W) -> KL-chi^2 mirror
descent" is one function here that derives it with sympy, checks each step and
cross-checks the float64 numeric core against the symbolic solution evaluated
by mpmath (tolerance 1e-10 unless the check states another). Each returns a
:class:`Derivation` record with the statement (LaTeX), the sympy expressions,
every :class:`Check` with the method that closed it, ``verified`` and a short
``explanation``.

Methods, strongest first: ``symbolic`` (sympy proves the identity or sign),
``exact substitution`` (exactly 0 at many random rational points),
``numeric (50 digits)`` (sympy cannot reduce the exact value, e.g. ``LambertW`` of
a rational; evaluated at 50 digits: evidence, not proof), ``numeric core``
(the package's float64 functions against mpmath).

Derivations (claims in parentheses can be replaced to show that a wrong one fails):

1. :func:`exact_pmd` (``solution=``)
2. :func:`pmd_mean_regression` (``solution=``)
3. :func:`kl_chi2_equivalence` (``beta_claim=``)
4. :func:`limits`
5. :func:`large_tau`
6. :func:`binary_rewards`
7. :func:`solver_calculus` (``omega_derivative=``)
8. :func:`jensen_gap`

:func:`verify_all` runs all; :func:`main` is the ``pmdtheory derive`` command,
which writes them as a Markdown document. Never imported by the numeric core.

Modules: :mod:`~pmdtheory.symbolic.check` (records and check primitives),
:mod:`~pmdtheory.symbolic.numeric` (mpmath evaluation for the numeric-core checks),
:mod:`~pmdtheory.symbolic.solutions` (closed forms shared by several derivations),
:mod:`~pmdtheory.symbolic.pmd` (1-4), :mod:`~pmdtheory.symbolic.consequences`
(5-6), :mod:`~pmdtheory.symbolic.calculus` (7-8). A new derivation is a function
in the module of its group, listed in :data:`DERIVATIONS` and ``__all__`` here.

Examples
--------
>>> from pmdtheory.symbolic import kl_chi2_equivalence
>>> kl_chi2_equivalence().verified
True
>>> kl_chi2_equivalence(beta_claim=lambda tau, lam: 2 * tau * lam).verified
False
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import mpmath
import sympy as sp

from pmdtheory.symbolic.calculus import jensen_gap, solver_calculus
from pmdtheory.symbolic.check import Check, Derivation
from pmdtheory.symbolic.consequences import binary_rewards, large_tau
from pmdtheory.symbolic.pmd import exact_pmd, kl_chi2_equivalence, limits, pmd_mean_regression

__all__ = [
    "DERIVATIONS",
    "Check",
    "Derivation",
    "binary_rewards",
    "exact_pmd",
    "jensen_gap",
    "kl_chi2_equivalence",
    "large_tau",
    "limits",
    "main",
    "pmd_mean_regression",
    "solver_calculus",
    "to_markdown",
    "verify_all",
]

#: the derivations in document order, each ``derive(*, seed=0) -> Derivation``; run by
#: :func:`verify_all` and :func:`main`
DERIVATIONS: tuple[Callable[..., Derivation], ...] = (
    exact_pmd,
    pmd_mean_regression,
    kl_chi2_equivalence,
    limits,
    large_tau,
    binary_rewards,
    solver_calculus,
    jensen_gap,
)
#: expressions whose LaTeX is longer than this are summarised, not printed
MAX_LATEX = 600


def verify_all(*, seed: int = 0) -> list[Derivation]:
    """Run every derivation of :data:`DERIVATIONS` and return their records, in order.

    Parameters
    ----------
    seed : int
        Seed of the random points, passed to every derivation.

    Returns
    -------
    list of Derivation
        One record per derivation; no check raises (a crashing check is a failed
        one), so this always returns. ``tests/test_symbolic.py`` asserts that all
        eight are verified in under 60 s.

    Examples
    --------
    All eight take about 15-60 s (sympy), so the call is skipped here; the
    cheapest one alone is :func:`limits`.

    >>> from pmdtheory.symbolic import verify_all
    >>> records = verify_all()  # doctest: +SKIP
    >>> [(d.name, d.verified) for d in records]  # doctest: +SKIP
    [('exact_pmd', True), ('pmd_mean_regression', True), ('kl_chi2_equivalence', True),
     ('limits', True), ('large_tau', True), ('binary_rewards', True),
     ('solver_calculus', True), ('jensen_gap', True)]
    """
    return [derive(seed=seed) for derive in DERIVATIONS]


def _mark(ok: bool) -> str:
    return "✅ verified" if ok else "❌ FAILED"


def to_markdown(records: Sequence[Derivation], *, total_seconds: float | None = None) -> str:
    """Render records as a Markdown document (LaTeX math, one section per derivation).

    Parameters
    ----------
    records : sequence of Derivation
        The records to render, in order (e.g. from :func:`verify_all`).
    total_seconds : float, optional
        Total time to report; default the sum of the records' ``seconds``.

    Returns
    -------
    str
        A summary table, then per derivation its statement, every step with its
        mark, method and detail, and the expressions (LaTeX longer than
        :data:`MAX_LATEX` characters is summarised). Ends with a newline.

    Examples
    --------
    >>> from pmdtheory.symbolic import limits, to_markdown
    >>> doc = to_markdown([limits()])
    >>> doc.splitlines()[0]
    '# PMD theory: self-checking derivations'
    >>> [line for line in doc.splitlines() if line.startswith("## ")]
    ['## 1. limits']
    >>> "**1/1 derivations verified**" in doc, "FAILED" in doc
    (True, False)
    """
    n_ok = sum(d.verified for d in records)
    total = sum(d.seconds for d in records) if total_seconds is None else total_seconds
    lines = [
        "# PMD theory: self-checking derivations",
        "",
        "Generated by `pmdtheory derive` (module `pmdtheory.symbolic`); do not edit by hand.",
        f"sympy {sp.__version__}, mpmath {mpmath.__version__}. "
        f"**{n_ok}/{len(records)} derivations verified** in {total:.1f} s.",
        "",
        "How a step is verified, strongest first:",
        "",
        "- *symbolic*: sympy reduces the identity to 0 (or decides the sign from the",
        "  assumptions on the symbols);",
        "- *exact substitution*: exactly 0 at many random rational points;",
        "- *numeric (50 digits)*: sympy cannot reduce the exact value (e.g. `LambertW` of a",
        "  rational), so it is evaluated at 50 digits at random rational points:",
        "  evidence, not a proof;",
        "- *numeric core*: the package's float64 functions against the symbolic solution",
        "  evaluated by mpmath (tolerance 1e-10 unless stated).",
        "",
        "| # | derivation | result | steps | time |",
        "|---|---|---|---|---|",
    ]
    for i, d in enumerate(records, 1):
        lines.append(
            f"| {i} | {d.title} (`{d.name}`) | {_mark(d.verified)} "
            f"| {d.explanation} | {d.seconds:.2f} s |"
        )
    for i, d in enumerate(records, 1):
        lines += ["", f"## {i}. {d.name}", ""]
        lines += [f"**{d.title}** — {_mark(d.verified)} ({d.seconds:.2f} s; {d.explanation})."]
        lines += ["", "$$", d.statement, "$$", ""]
        lines += ["Steps:", ""]
        for j, c in enumerate(d.checks, 1):
            mark = "✅" if c.passed else "❌"
            lines.append(f"{j}. {mark} ${c.claim}$ — *{c.method}*: {c.detail}")
        lines += ["", "Expressions:", ""]
        for name, expr in d.expressions.items():
            tex = sp.latex(expr)
            if len(tex) > MAX_LATEX:
                lines.append(f"- `{name}`: ({len(tex)} characters of LaTeX, omitted)")
            else:
                lines.append(f"- `{name}`: $\\displaystyle {tex}$")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``pmdtheory derive [--out PATH] [--seed N]``: verify all, write Markdown.

    Prints one line per derivation (mark, name, time, steps; the claim, method and
    detail of each failed step go to stderr) and a summary line, then writes
    :func:`to_markdown` of all records to ``--out`` (default
    ``figures/derivations.md``), creating its folder.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 if every derivation is verified, 1 otherwise (both tested in
        ``tests/test_symbolic.py``).

    Examples
    --------
    The full run takes about 15-60 s (all eight derivations), so it is skipped
    here:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from pmdtheory.symbolic import main
    >>> out = Path(tempfile.mkdtemp()) / "derivations.md"
    >>> main(["--out", str(out)])  # doctest: +SKIP
    1. ✓         exact_pmd                ...
    ...
    8/8 verified in ... s; wrote .../derivations.md
    0

    The same command on the cheapest derivation alone (as the tests do, by
    patching :data:`DERIVATIONS`):

    >>> from unittest import mock
    >>> import pmdtheory.symbolic as symbolic
    >>> with mock.patch.object(symbolic, "DERIVATIONS", (symbolic.limits,)):
    ...     code = main(["--out", str(out), "--seed", "1"])  # doctest: +ELLIPSIS
    1. ✓         limits ... all passed
    1/1 verified in ... s; wrote .../derivations.md
    >>> code, out.read_text(encoding="utf-8").splitlines()[0]
    (0, '# PMD theory: self-checking derivations')
    """
    parser = argparse.ArgumentParser(
        prog="pmdtheory derive",
        description="Verify every derivation of the PMD theory with sympy and write them "
        "as a Markdown document.",
    )
    parser.add_argument("--out", type=Path, default=Path("figures/derivations.md"))
    parser.add_argument("--seed", type=int, default=0, help="seed of the random points")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    records = []
    for i, derive in enumerate(DERIVATIONS, 1):
        record = derive(seed=args.seed)
        records.append(record)
        mark = "✓" if record.verified else "✗ FAILED"
        print(f"{i}. {mark:9s} {record.name:22s} {record.seconds:6.2f} s  {record.explanation}")
        for c in record.checks:
            if not c.passed:
                print(f"     failed: {c.claim} [{c.method}] {c.detail}", file=sys.stderr)
    total = time.perf_counter() - t0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(to_markdown(records, total_seconds=total), encoding="utf-8")
    n_ok = sum(r.verified for r in records)
    print(f"{n_ok}/{len(records)} verified in {total:.1f} s; wrote {args.out}")
    return 0 if n_ok == len(records) else 1


if __name__ == "__main__":
    sys.exit(main())
