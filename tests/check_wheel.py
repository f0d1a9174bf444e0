"""The wheel works outside the checkout: build, check, install into a clean venv, run.

``make wheel-test`` (and ``.ci/run``) runs this script; it is not collected by pytest
because it builds and installs (about a minute, most of it unpacking numpy, scipy,
numba and pandas from pip's cache). Steps, each of which exits 1 with a message
when it fails:

1. ``python -m build`` makes the sdist and, from it, the wheel (no build isolation:
   the running interpreter's setuptools, so nothing is downloaded);
2. ``twine check`` passes on both, and the wheel ships ``pmdtheory/py.typed`` and
   no ``tests/``, ``paper_repro/`` or ``notebooks/``;
3. a new venv gets the wheel with its core dependencies only (no extras);
4. there, from a folder outside the checkout: ``pmdtheory`` is imported from the
   venv (not the checkout) at the wheel's version, the README's quick-start Python
   block runs, ``pmdtheory update --pi 0.01,0.99 --r 1,0 --tau 0.05`` prints the
   PMD-mean probability 0.3794192, and ``pmdtheory repro`` exits 2 with a one-line
   message that it needs a source checkout.

Usage: ``python tests/check_wheel.py [--keep DIR]`` (``--keep`` leaves the build,
venv and logs in DIR instead of a temporary folder).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: what ``pmdtheory update --pi 0.01,0.99 --r 1,0 --tau 0.05`` must print (THEORY §6)
EXPECTED_UPDATE = ("0.3794192", "0.9999998")
#: paths the wheel must not contain: they belong to the checkout
FORBIDDEN_PREFIXES = ("tests/", "paper_repro/", "notebooks/", "benchmarks/", "docs/")


class CheckFailed(RuntimeError):
    pass


def _run(cmd: list[str], *, cwd: Path, env: dict | None = None, ok=(0,)) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode not in ok:
        raise CheckFailed(
            f"`{' '.join(map(str, cmd))}` exited {proc.returncode}:\n{proc.stdout}{proc.stderr}"
        )
    return proc.stdout + proc.stderr


def quickstart_block(readme: Path) -> str:
    """The first ```python block of the README (the quick start)."""
    match = re.search(r"```python\n(.*?)```", readme.read_text(), flags=re.S)
    if match is None:
        raise CheckFailed(f"no ```python block in {readme}")
    return match.group(1)


def check_wheel_contents(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    if "pmdtheory/py.typed" not in names:
        raise CheckFailed(f"{wheel.name} lacks pmdtheory/py.typed")
    stray = [n for n in names if n.startswith(FORBIDDEN_PREFIXES)]
    if stray:
        raise CheckFailed(f"{wheel.name} ships checkout files: {stray[:5]}")


def clean_env(venv: Path) -> dict:
    """The environment of a user's shell with only the venv active (no PYTHONPATH)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(MPLBACKEND="Agg", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=None, help="work folder to keep")
    args = parser.parse_args(argv)
    work = Path(args.keep or tempfile.mkdtemp(prefix="pmdtheory-wheel-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    t0 = time.perf_counter()
    steps = []

    def step(name: str, t_start: float) -> float:
        now = time.perf_counter()
        steps.append(f"{name} {now - t_start:.1f} s")
        print(f"  {steps[-1]}", flush=True)
        return now

    try:
        dist = work / "dist"
        shutil.rmtree(dist, ignore_errors=True)
        t = time.perf_counter()
        _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)],
             cwd=work)  # fmt: skip
        sdists, wheels = sorted(dist.glob("*.tar.gz")), sorted(dist.glob("*.whl"))
        if len(sdists) != 1 or len(wheels) != 1:
            raise CheckFailed(f"expected one sdist and one wheel in {dist}, got {list(dist)}")
        wheel = wheels[0]
        if f"-{version}-" not in wheel.name:
            raise CheckFailed(f"{wheel.name} is not version {version}")
        t = step("build", t)
        _run([sys.executable, "-m", "twine", "check", "--strict", *map(str, sdists + wheels)],
             cwd=work)  # fmt: skip
        check_wheel_contents(wheel)
        t = step("twine check + contents", t)

        venv = work / "venv"
        shutil.rmtree(venv, ignore_errors=True)
        _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=work)
        py = venv / "bin" / "python"
        # the running pip installs into the new venv: core dependencies, from pip's cache;
        # no byte-compiling of every installed file (sympy alone: minutes on 2 cores)
        pip = [sys.executable, "-m", "pip", "--python", str(py), "--disable-pip-version-check"]
        _run([*pip, "install", "--quiet", "--no-compile", str(wheel)], cwd=work)
        t = step("venv + install", t)

        env = clean_env(venv)
        outside = work / "outside"  # a folder with no checkout in sight
        outside.mkdir(exist_ok=True)
        where = _run([str(py), "-c", "import pmdtheory; print(pmdtheory.__file__, "
                      "pmdtheory.__version__)"], cwd=outside, env=env).split()  # fmt: skip
        if not Path(where[0]).is_relative_to(venv) or where[1] != version:
            raise CheckFailed(f"imported {where}, expected the venv's pmdtheory {version}")
        script = outside / "quickstart.py"
        script.write_text(quickstart_block(ROOT / "README.md"))
        _run([str(py), str(script)], cwd=outside, env=env)
        cli = venv / "bin" / "pmdtheory"
        out = _run([str(cli), "update", "--pi", "0.01,0.99", "--r", "1,0", "--tau", "0.05"],
                   cwd=outside, env=env)  # fmt: skip
        missing = [s for s in EXPECTED_UPDATE if s not in out]
        if missing:
            raise CheckFailed(f"`pmdtheory update` output lacks {missing}:\n{out}")
        proc = subprocess.run([str(cli), "repro", "--quick"], cwd=outside, env=env,
                              capture_output=True, text=True)  # fmt: skip
        lines = proc.stderr.strip().splitlines()
        if proc.returncode != 2 or len(lines) != 1 or "checkout" not in lines[0]:
            raise CheckFailed(
                f"`pmdtheory repro` from the wheel: exit {proc.returncode} (want 2), stderr "
                f"{proc.stderr!r} (want one line saying it needs a checkout)"
            )
        step("quick start + update + repro", t)
    except CheckFailed as exc:
        print(f"wheel test FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"wheel test passed ({wheel.name}, {time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
