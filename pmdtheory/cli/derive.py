"""``pmdtheory derive``: every sympy derivation, checked, written as Markdown.

The command itself is :func:`pmdtheory.symbolic.main` (public API of the symbolic
package); sympy is imported only when the subcommand runs.
"""

from __future__ import annotations

NAME = "derive"
HELP = "verify every derivation with sympy, write Markdown"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``pmdtheory derive``; returns the exit code."""
    from pmdtheory import symbolic

    return symbolic.main(argv)
