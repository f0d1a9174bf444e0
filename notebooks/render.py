"""Render the teaching notebooks: execute each jupytext source and write the ``.ipynb`` beside it.

The percent-format ``.py`` files in this folder are the source of truth; the executed
``.ipynb`` copies (with their figures) are generated from them::

    python notebooks/render.py              # all notebooks
    python notebooks/render.py 01 03        # only those whose name contains "01" or "03"
    python notebooks/render.py --out-dir /tmp/nb

Each notebook runs in a fresh ``python3`` kernel, with the notebook folder as its
working directory, and the run time of each is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def sources(patterns: list[str] | None = None) -> list[Path]:
    """Return the notebook sources ``NN_*.py`` here, filtered by name substrings."""
    found = sorted(p for p in HERE.glob("[0-9][0-9]_*.py"))
    if patterns:
        found = [p for p in found if any(pat in p.stem for pat in patterns)]
    return found


def render(
    source: Path, *, out_dir: Path | None = None, timeout: int = 900, kernel_name: str = "python3"
) -> Path:
    """Execute one jupytext source in a kernel and write the executed ``.ipynb``.

    Parameters
    ----------
    source : Path
        A percent-format ``.py`` notebook.
    out_dir : Path, optional
        Folder for the ``.ipynb``; defaults to the folder of ``source``.
    timeout : int
        Seconds allowed per cell.
    kernel_name : str
        Jupyter kernel to run.

    Returns
    -------
    Path
        The written notebook.
    """
    source = Path(source).resolve()
    notebook = jupytext.read(source)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(source.parent)}},
    )
    # The Makefile exports MPLBACKEND=Agg for the test suite; the kernel (which inherits our
    # environment) must use the inline backend instead, or no figure reaches the notebook.
    backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    try:
        client.execute()
    finally:
        if backend is None:
            del os.environ["MPLBACKEND"]
        else:
            os.environ["MPLBACKEND"] = backend
    target = Path(out_dir or source.parent) / (source.stem + ".ipynb")
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    return target


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="substrings of notebook names (default: all)")
    parser.add_argument("--out-dir", type=Path, default=None, help="where to write .ipynb files")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed per cell")
    args = parser.parse_args(argv)
    chosen = sources(args.names)
    if not chosen:
        parser.error(f"no notebook matches {args.names}")
    for source in chosen:
        start = time.perf_counter()
        target = render(source, out_dir=args.out_dir, timeout=args.timeout)
        print(f"{source.name} -> {target}  ({time.perf_counter() - start:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
