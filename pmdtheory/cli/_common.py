"""What every subcommand shares: the one-line argument errors and the exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr, exit code 2, no usage dump.

    ``name`` starts the error line (default: ``prog``), e.g. ``pmdtheory: error: ...``.
    """

    def __init__(self, *args, name: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.name = self.prog if name is None else name

    def error(self, message):
        print(f"{self.name}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def summary(doc: str | None) -> str:
    """The first line of a module docstring as ``--help`` shows it: without RST's double
    backticks, which argparse would print as they are.

    >>> summary("``pmdtheory sweep``: a grid of runs.\\n\\nMore.")
    'pmdtheory sweep: a grid of runs.'
    """
    return (doc or "").split("\n")[0].replace("``", "")


def guarded(name: str, run: Callable[..., int], *args, oom: str = "out of memory") -> int:
    """Return ``run(*args)``; what it raises becomes one line on stderr and an exit code.

    ``ValueError``/``OSError``: ``NAME: error: ...``, 2; ``MemoryError``: ``NAME: error:
    {oom}``, 2; Ctrl-C: ``NAME: interrupted``, 130; any other exception (a bug): ``NAME:
    internal error (...)``, 1, or the traceback when ``PMDTHEORY_DEBUG`` is set.
    """
    try:
        return run(*args)
    except (ValueError, OSError) as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{name}: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print(f"{name}: error: {oom}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: still one line (PMDTHEORY_DEBUG=1 shows the traceback)
        if os.environ.get("PMDTHEORY_DEBUG"):
            raise
        print(f"{name}: internal error ({type(exc).__name__}: {exc}); please report it, "
              "with PMDTHEORY_DEBUG=1 for the traceback", file=sys.stderr)  # fmt: skip
        return 1
