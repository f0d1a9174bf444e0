"""``pmdtheory repro``: regenerate the paper figures and REPORT.md (:mod:`pmdtheory._repro`)."""

from __future__ import annotations

NAME = "repro"
HELP = "regenerate the paper figures and REPORT.md"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``pmdtheory repro``; returns the exit code."""
    from pmdtheory import _repro

    return _repro.main(argv)
