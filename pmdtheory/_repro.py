"""``pmdtheory repro``: regenerate the paper figures and the claims report.

Runs the scripts of ``paper_repro/`` (next to the installed package, so this needs
a source checkout) one by one as subprocesses of the current interpreter, prints
progress and timings, merges the timings into ``<out>/data/repro_timings.csv`` and
finally runs ``paper_repro/report.py``, which writes ``paper_repro/REPORT.md`` (or
``<out>/REPORT.md`` when ``--out`` is not the default ``figures/`` folder).

The LLM scripts (:data:`OPTIONAL`) are slow and run only when named with ``--only``.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import pmdtheory

__all__ = ["SCRIPTS", "OPTIONAL", "main", "repo_root"]

#: figure scripts run by default, in order (cheap ones first)
SCRIPTS = (
    "log_partition_gap",
    "simplex",
    "binary_log_ratios",
    "hard_prompts",
    "implicit_beta",
    "target_errors",
    "conservative",
    "convergence",
    "stability",
)
#: slow LLM scripts, run only with --only
OPTIONAL = ("llm_e2e", "trl_pmd", "llm_compare")
_TAIL = 3000  # characters of a failing script's output to show


def repo_root() -> Path:
    """The checkout that holds ``paper_repro/`` (the package's parent folder)."""
    return Path(pmdtheory.__file__).resolve().parents[1]


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
        help=f"run only these scripts; also accepts {', '.join(OPTIONAL)}",
    )
    p.add_argument("--quick", action="store_true", help="small budgets (smoke run, < 2 min)")
    p.add_argument("--out", type=Path, default=None, help="figure folder (default: figures/)")
    p.add_argument("--list", action="store_true", help="list the script names and exit")
    p.add_argument("--no-report", action="store_true", help="skip the report")
    return p


def _run(cmd: list[str], cwd: Path) -> tuple[int, float, str]:
    env = dict(os.environ, MPLBACKEND="Agg", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    return proc.returncode, time.perf_counter() - t0, proc.stdout + proc.stderr


def _write_timings(path: Path, timings: list[dict]) -> None:
    """Merge this run's timings into the CSV: rows of scripts not re-run are kept."""
    fields = ["script", "mode", "seconds", "status"]
    rows = {}
    if path.is_file():
        with open(path, newline="") as fh:
            rows = {r["script"]: r for r in csv.DictReader(fh) if r.keys() >= set(fields)}
    rows.update({t["script"]: t for t in timings})
    order = [n for n in SCRIPTS + OPTIONAL if n in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows[n] for n in order)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``pmdtheory repro``; returns the process exit status."""
    args = _parser().parse_args(argv)
    if args.list:
        print("default:", " ".join(SCRIPTS))
        print("optional (--only):", " ".join(OPTIONAL))
        return 0
    root = repo_root()
    folder = root / "paper_repro"
    if not folder.is_dir():
        print(f"pmdtheory repro: no paper_repro/ folder next to the package ({folder});"
              " run it from a source checkout (pip install -e .)", file=sys.stderr)  # fmt: skip
        return 2
    names = list(dict.fromkeys(args.only)) if args.only else list(SCRIPTS)
    unknown = [n for n in names if n not in SCRIPTS + OPTIONAL]
    if unknown:
        print(f"pmdtheory repro: unknown script(s) {unknown}; choose from "
              f"{', '.join(SCRIPTS + OPTIONAL)}", file=sys.stderr)  # fmt: skip
        return 2
    default_out = root / "figures"
    out = (args.out or default_out).resolve()
    try:  # before any script runs: the timings and figures go there
        (out / "data").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"pmdtheory repro: error: --out: cannot write to {out} ({exc.strerror or exc})",
              file=sys.stderr)  # fmt: skip
        return 2
    missing = [n for n in names if not (folder / f"{n}.py").is_file()]

    timings, failed = [], []
    t_all = time.perf_counter()
    mode = "quick" if args.quick else "full"
    print(f"pmdtheory repro ({mode}): {len(names)} script(s) -> {out}", flush=True)
    for i, name in enumerate(names, 1):
        print(f"[{i}/{len(names)}] {name} ...", end=" ", flush=True)
        if name in missing:
            print("missing (script not in this checkout)")
            failed.append(name)
            timings.append({"script": name, "mode": mode, "seconds": 0.0, "status": "missing"})
            continue
        cmd = [sys.executable, str(folder / f"{name}.py"), "--out", str(out)]
        if args.quick:
            cmd.append("--quick")
        rc, dt, output = _run(cmd, root)
        status = "ok" if rc == 0 else f"failed (exit {rc})"
        print(f"{status} ({dt:.1f} s)", flush=True)
        if rc != 0:
            failed.append(name)
            print(output[-_TAIL:], file=sys.stderr)
        timings.append({"script": name, "mode": mode, "seconds": round(dt, 2), "status": status})
    total = time.perf_counter() - t_all
    print(f"figures: {total:.1f} s in total", flush=True)

    _write_timings(out / "data" / "repro_timings.csv", timings)

    if not args.no_report:
        report = root / "paper_repro" / "REPORT.md" if out == default_out else out / "REPORT.md"
        cmd = [sys.executable, str(folder / "report.py"), "--figures", str(out)]
        cmd += ["--output", str(report)]
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
