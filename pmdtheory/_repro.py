"""``pmdtheory repro``: regenerate the paper figures and the claims report.

The figure scripts are found, not listed: every ``*.py`` file of the scripts folder
(``paper_repro/`` of the checkout the package runs from, or ``--scripts DIR``) other
than the helpers (``_*.py``) and ``report.py`` is a figure script, and declares itself
with one module-level literal, read here with :mod:`ast` without running the file::

    REPRO = {
        "default": True,  # run by plain `pmdtheory repro` (False: only with --only)
        "budget_s": {"quick": 5, "full": 20},  # seconds on a 2-core machine, per budget
        "outputs": ["simplex.png", "simplex.pdf", "data/simplex.csv"],  # under --out
        "claims": {"_claims.claim_equivalence": 5},  # claim function -> its first number
    }

The script's name is its file name (``--only NAME``). ``outputs`` may instead map
``"quick"`` and ``"full"`` to two lists when the budgets write different files. A
``claims`` entry names a function of a module in the scripts folder that returns one
:class:`Claim` or a list of them, and the number the report gives its first claim;
scripts that feed the same function declare the same number. :func:`discover` raises
``ValueError`` naming the file and the key for a broken declaration.

The runner runs the declared scripts one by one (cheapest full budget first) as
subprocesses of the current interpreter, prints progress and timings, checks that each
wrote its declared outputs, merges the timings into ``<out>/data/repro_timings.csv``
and finally runs ``report.py`` of the scripts folder, which writes
``paper_repro/REPORT.md`` (or ``<out>/REPORT.md`` when ``--out`` is not the default
``figures/`` folder next to the scripts folder).
"""

from __future__ import annotations

import argparse
import ast
import csv
import importlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pmdtheory

__all__ = ["Script", "claim_functions", "discover", "main", "repo_root"]

#: the report generator of the scripts folder: run last, never a figure script
REPORT = "report.py"
#: the one name a figure script declares itself under
DECLARATION = "REPRO"
MODES = ("quick", "full")
_KEYS = {"default", "budget_s", "outputs", "claims"}
_CLAIM_REF = re.compile(r"[A-Za-z_]\w*\.[A-Za-z_]\w*")
_TAIL = 3000  # characters of a failing script's output to show
_MTIME_SLACK_S = 2.0  # file-system clocks may round a fresh file's time down


@dataclass(frozen=True)
class Script:
    """One figure script's declaration (see the module docstring)."""

    name: str
    path: Path
    default: bool
    budget_s: dict[str, float]  # "quick" and "full"
    outputs: dict[str, tuple[str, ...]]  # per budget, paths under --out
    claims: dict[str, int]  # "module.function" -> number of its first claim in the report


def repo_root() -> Path:
    """The checkout the package runs from (the package's parent folder)."""
    return Path(pmdtheory.__file__).resolve().parents[1]


def _declaration(path: Path) -> dict | None:
    """The literal assigned to ``REPRO`` at the top level of `path`, None if none."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise ValueError(f"{path}: cannot read its {DECLARATION} declaration: {exc}") from None
    found = None
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == DECLARATION for t in targets):
            if found is not None:
                raise ValueError(f"{path}: {DECLARATION} is assigned twice")
            try:
                found = ast.literal_eval(value)
            except ValueError:
                raise ValueError(
                    f"{path}: {DECLARATION} must be a literal dict (it is read without running "
                    f"the script), not {ast.unparse(value)[:60]!r}"
                ) from None
    return found


def _paths(where: str, value) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError(f"{where} must be a non-empty list of paths under --out")
    for p in value:
        if not isinstance(p, str) or not p or Path(p).is_absolute() or ".." in Path(p).parts:
            raise ValueError(f"{where}: {p!r} is not a relative path under --out")
    return tuple(value)


def _script(path: Path, decl) -> Script:
    """Check one declaration; a ValueError names the file and the key."""
    where = f"{path}: {DECLARATION}"
    if not isinstance(decl, dict):
        raise ValueError(f"{where} must be a dict, not {type(decl).__name__}")
    if decl.keys() != _KEYS:
        missing, extra = sorted(_KEYS - decl.keys()), sorted(decl.keys() - _KEYS)
        raise ValueError(f"{where}: missing keys {missing}, unknown keys {extra}")
    if not isinstance(decl["default"], bool):
        raise ValueError(f"{where}['default'] must be True or False")
    budget = decl["budget_s"]
    ok = isinstance(budget, dict) and budget.keys() == set(MODES)
    if not ok or not all(
        isinstance(budget[m], int | float) and not isinstance(budget[m], bool) and budget[m] > 0
        for m in MODES
    ):
        raise ValueError(
            f"{where}['budget_s'] must be {{'quick': seconds, 'full': seconds}} with "
            f"positive numbers, not {budget!r}"
        )
    if budget["quick"] > budget["full"]:
        raise ValueError(f"{where}['budget_s']: quick ({budget['quick']}) > full")
    outputs = decl["outputs"]
    if isinstance(outputs, dict):
        if outputs.keys() != set(MODES):
            raise ValueError(f"{where}['outputs'] as a dict needs exactly the keys {MODES}")
        outs = {m: _paths(f"{where}['outputs'][{m!r}]", outputs[m]) for m in MODES}
    else:
        outs = dict.fromkeys(MODES, _paths(f"{where}['outputs']", outputs))
    claims = decl["claims"]
    if not isinstance(claims, dict):
        raise ValueError(f"{where}['claims'] must be a dict {{'module.function': number}}")
    for ref, first in claims.items():
        if not isinstance(ref, str) or not _CLAIM_REF.fullmatch(ref):
            raise ValueError(f"{where}['claims']: {ref!r} is not 'module.function'")
        if not isinstance(first, int) or isinstance(first, bool) or first < 1:
            raise ValueError(f"{where}['claims'][{ref!r}] must be a claim number >= 1")
    return Script(
        name=path.stem,
        path=path,
        default=decl["default"],
        budget_s={m: float(budget[m]) for m in MODES},
        outputs=outs,
        claims=dict(claims),
    )


def discover(folder: Path) -> list[Script]:
    """The figure scripts of `folder`, read from their declarations without running them.

    Parameters
    ----------
    folder : Path
        The scripts folder (``paper_repro/``). Every ``*.py`` in it but the helpers
        (``_*.py``) and ``report.py`` must declare ``REPRO``.

    Returns
    -------
    list of Script
        Default scripts first, then the others (run only with ``--only``); within each,
        cheapest full budget first, then by name.

    Raises
    ------
    ValueError
        Naming the file (and the key): a missing, unreadable or broken declaration, or
        two scripts giving one claim function different numbers.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "toy.py").write_text(
    ...     'REPRO = {"default": True, "budget_s": {"quick": 1, "full": 2}, '
    ...     '"outputs": ["data/toy.csv"], "claims": {"_claims.claim_toy": 28}}'
    ... )
    >>> [(s.name, s.budget_s["full"], s.claims) for s in discover(folder)]
    [('toy', 2.0, {'_claims.claim_toy': 28})]
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"scripts folder {folder} does not exist")
    scripts = []
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_") or path.name == REPORT:
            continue
        decl = _declaration(path)
        if decl is None:
            raise ValueError(
                f"{path}: no {DECLARATION} declaration (a figure script declares its budget, "
                f"outputs and claims; a helper's name starts with _)"
            )
        scripts.append(_script(path, decl))
    firsts: dict[str, tuple[int, str]] = {}
    for s in scripts:
        for ref, first in s.claims.items():
            seen = firsts.setdefault(ref, (first, s.name))
            if seen[0] != first:
                raise ValueError(
                    f"{s.path}: {DECLARATION}['claims'] numbers {ref} {first}, but "
                    f"{seen[1]}.py numbers it {seen[0]}"
                )
    return sorted(scripts, key=lambda s: (not s.default, s.budget_s["full"], s.name))


def claim_functions(scripts: list[Script]) -> list[tuple[int, str, Callable]]:
    """(first number, ``module.function``, function) of every declared claim, in order.

    The modules are imported from the scripts' folder (put first on ``sys.path``); a
    module or function that does not exist raises ``ValueError`` naming the script.
    """
    refs: dict[str, tuple[int, Script]] = {}
    for s in scripts:
        for ref, first in s.claims.items():
            refs.setdefault(ref, (first, s))
    out = []
    for ref, (first, s) in sorted(refs.items(), key=lambda kv: (kv[1][0], kv[0])):
        module, name = ref.split(".")
        folder = str(s.path.parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        try:
            fn = getattr(importlib.import_module(module), name)
        except ModuleNotFoundError as exc:
            raise ValueError(f"{s.path}: claim {ref}: no module {exc.name!r}") from None
        except AttributeError:
            raise ValueError(f"{s.path}: claim {ref}: {module} has no {name!r}") from None
        if not callable(fn):
            raise ValueError(f"{s.path}: claim {ref} is not a function")
        out.append((first, ref, fn))
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pmdtheory repro",
        description="Regenerate the paper figures (paper_repro/*.py) and paper_repro/REPORT.md.",
    )
    p.add_argument(
        "--only",
        nargs="+",
        action="extend",
        metavar="NAME",
        help="run only these scripts (also those not run by default: see --list)",
    )
    p.add_argument("--quick", action="store_true", help="small budgets (smoke run, < 2 min)")
    p.add_argument("--out", type=Path, default=None, help="figure folder (default: figures/)")
    p.add_argument(
        "--scripts",
        type=Path,
        default=None,
        metavar="DIR",
        help="folder of the figure scripts (default: paper_repro/ of this checkout)",
    )
    p.add_argument("--list", action="store_true", help="list the scripts and their budgets")
    p.add_argument("--no-report", action="store_true", help="skip the report")
    return p


def _run(cmd: list[str], cwd: Path) -> tuple[int, float, str]:
    env = dict(os.environ, MPLBACKEND="Agg", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    return proc.returncode, time.perf_counter() - t0, proc.stdout + proc.stderr


def _write_timings(path: Path, timings: list[dict], order: list[str]) -> None:
    """Merge this run's timings into the CSV: rows of scripts not re-run are kept.

    Rows follow `order` (the runner's), then any others by name.
    """
    fields = ["script", "mode", "seconds", "status"]
    rows = {}
    if path.is_file():
        with open(path, newline="") as fh:
            rows = {r["script"]: r for r in csv.DictReader(fh) if r.keys() >= set(fields)}
    rows.update({t["script"]: t for t in timings})
    names = [n for n in order if n in rows] + sorted(set(rows) - set(order))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows[n] for n in names)


def _list(scripts: list[Script]) -> None:
    for default in (True, False):
        chosen = [s for s in scripts if s.default == default]
        print("default:" if default else "optional (--only):")
        for s in chosen:
            b = s.budget_s
            print(f"  {s.name:<20} budget {b['quick']:g} s quick, {b['full']:g} s full")
        if default:
            quick, full = (sum(s.budget_s[m] for s in chosen) for m in MODES)
            print(f"  {'total':<20} budget {quick:g} s quick, {full:g} s full")


def _not_written(script: Script, mode: str, out: Path, since: float) -> list[str]:
    """The declared outputs of `script` that this run did not write."""
    return [
        p
        for p in script.outputs[mode]
        if not (out / p).is_file() or (out / p).stat().st_mtime < since - _MTIME_SLACK_S
    ]


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``pmdtheory repro``; returns the process exit status."""
    args = _parser().parse_args(argv)
    folder = (args.scripts or repo_root() / "paper_repro").resolve()
    if not folder.is_dir():
        msg = (
            f"error: --scripts: no folder {folder}"
            if args.scripts is not None
            else f"no paper_repro/ folder next to the package ({folder}); run it from a "
            "source checkout (pip install -e .)"
        )
        print(f"pmdtheory repro: {msg}", file=sys.stderr)
        return 2
    try:
        scripts = discover(folder)
    except ValueError as exc:
        print(f"pmdtheory repro: error: {exc}", file=sys.stderr)
        return 2
    if args.list:
        _list(scripts)
        return 0
    by_name = {s.name: s for s in scripts}
    names = list(dict.fromkeys(args.only)) if args.only else [s.name for s in scripts if s.default]
    unknown = [n for n in names if n not in by_name]
    if unknown:
        print(f"pmdtheory repro: unknown script(s) {unknown}; choose from "
              f"{', '.join(by_name)}", file=sys.stderr)  # fmt: skip
        return 2
    report_script = folder / REPORT
    if not args.no_report and not report_script.is_file():
        print(f"pmdtheory repro: error: no {REPORT} in {folder} (or pass --no-report)",
              file=sys.stderr)  # fmt: skip
        return 2
    root = folder.parent
    default_out = root / "figures"
    out = (args.out or default_out).resolve()
    try:  # before any script runs: the timings and figures go there
        (out / "data").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"pmdtheory repro: error: --out: cannot write to {out} ({exc.strerror or exc})",
              file=sys.stderr)  # fmt: skip
        return 2

    timings, failed = [], []
    t_all = time.perf_counter()
    mode = "quick" if args.quick else "full"
    budget = sum(by_name[n].budget_s[mode] for n in names)
    print(f"pmdtheory repro ({mode}): {len(names)} script(s), budget {budget:g} s -> {out}",
          flush=True)  # fmt: skip
    for i, name in enumerate(names, 1):
        script = by_name[name]
        print(f"[{i}/{len(names)}] {name} ...", end=" ", flush=True)
        cmd = [sys.executable, str(script.path), "--out", str(out)]
        if args.quick:
            cmd.append("--quick")
        since = time.time()
        rc, dt, output = _run(cmd, root)
        missing = _not_written(script, mode, out, since) if rc == 0 else []
        status = "ok" if rc == 0 and not missing else f"failed (exit {rc})"
        if missing:
            status = f"failed (did not write {', '.join(missing)})"
        over = (
            f", over its {script.budget_s[mode]:g} s budget" if dt > script.budget_s[mode] else ""
        )
        print(f"{status} ({dt:.1f} s{over})", flush=True)
        if status != "ok":
            failed.append(name)
            print(output[-_TAIL:], file=sys.stderr)
        timings.append({"script": name, "mode": mode, "seconds": round(dt, 2), "status": status})
    total = time.perf_counter() - t_all
    print(f"figures: {total:.1f} s in total", flush=True)

    _write_timings(out / "data" / "repro_timings.csv", timings, [s.name for s in scripts])

    if not args.no_report:
        report = folder / "REPORT.md" if out == default_out else out / "REPORT.md"
        cmd = [sys.executable, str(report_script), "--figures", str(out), "--output", str(report)]
        print("report ...", end=" ", flush=True)
        rc, dt, output = _run(cmd, root)
        print(f"{'ok' if rc == 0 else f'failed (exit {rc})'} ({dt:.1f} s) -> {report}")
        if rc != 0:
            failed.append("report")
            print(output[-_TAIL:], file=sys.stderr)
    if failed:
        print(f"pmdtheory repro: failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
