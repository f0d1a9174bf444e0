"""The ``pmdtheory`` console script (also ``python -m pmdtheory``).

Subcommands::

    pmdtheory update --pi 0.01,0.99 --r 1,0 --tau 0.05   one step, exact vs PMD-mean
    pmdtheory derive [--out figures/derivations.md]      sympy derivations, checked
    pmdtheory simulate --env prompts --methods ...       simulators -> CSV / plot
    pmdtheory repro [--only NAME ...] [--quick]          paper figures + REPORT.md
    pmdtheory sweep --env prompts --tau 0.01,0.05 ...    a grid on Dask, resumable

Bad arguments, and any ValueError or OSError, print one line on stderr and exit
with code 2 (never a traceback); Ctrl-C prints one line and exits with 130; an
unexpected exception (a bug) prints one line and exits with 1 (set
``PMDTHEORY_DEBUG=1`` to see its traceback).
"""

from __future__ import annotations

import sys

from pmdtheory.cli import derive, repro, simulate, sweep, update
from pmdtheory.cli._common import Parser, guarded, summary

#: Every subcommand, in the order ``pmdtheory --help`` lists them. Each is a module of
#: this package with ``NAME``, ``HELP`` and ``main(argv) -> int``, which imports its heavy
#: dependencies (sympy, pandas, matplotlib, the simulators) inside ``main``, so that
#: ``pmdtheory --help`` and ``pmdtheory update`` never pay for them. A new subcommand is
#: one module here plus its name in the import above and in this tuple.
SUBCOMMANDS = (update, derive, simulate, repro, sweep)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``pmdtheory`` console script; returns the exit code."""
    return guarded("pmdtheory", _main, argv)


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    commands = {command.NAME: command for command in SUBCOMMANDS}
    if argv and argv[0] in commands:
        return commands[argv[0]].main(argv[1:])
    # no subcommand first: the top-level parser gives --help, the one-line error for an
    # unknown command or option, and the help (exit 2) when nothing is given
    parser = Parser(prog="pmdtheory", description=summary(__doc__))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in SUBCOMMANDS:
        sub.add_parser(command.NAME, help=command.HELP, add_help=False)
    parser.parse_args(argv)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
