r"""Mutation testing of pmdtheory with cosmic-ray: ``make mutation``.

Each module of the package (and the report code in ``paper_repro/``) is mutated one small
change at a time (``+``/``-``, ``*``/``/``, comparisons, numbers, ``not``, ``and``/``or``,
booleans, ``break``/``continue``, exceptions, zero-iteration loops) and the tests that cover
it are run against every mutant. A mutant is *killed* when a test fails or times out; a
*survivor* is a change that no test noticed. Survivors that change nothing observable are
listed, with the reason, in ``tools/mutation_allow.toml`` and do not count against the score.
Two kinds are equivalent by construction and need no entry: a mutant whose source reads as
the original, token for token with numbers compared by value (``9007199254740992.0 + 1``
rounds to itself, ``1e300 + 1`` prints as ``1e+300``), and ``cache=False`` in a Numba
decorator (the kernel compiles to the same code, only not from the on-disk cache).

Why cosmic-ray (measured on this code base): it rewrites the module file on disk for each
mutant, so Numba kernels are recompiled from the mutated source; mutmut 3 swaps functions
through Python trampolines, which ``@njit`` functions cannot call, so its kernel mutants were
all "incompetent". Each mutant runs with a fresh ``NUMBA_CACHE_DIR``, so no kernel compiled
from another mutant is reused. That folder starts as a copy of the kernels the unmutated
tests compiled, less those the mutant can change: the kernels of the mutated module and of
every module with kernels that imports from it, directly or not (a kernel reads those names
when it compiles, and Numba's cache checks only the kernel's own file). The copy saves the
compilation of the rest: bridge/loss.py 80 s -> 18 s a mutant, sim/_rng.py 66 s -> 39 s of
CPU.

The work happens in a temporary copy of the working tree: the checkout is never mutated,
even if the run is interrupted. Each module's tests are first run on the unmutated copy: if
they fail there, every mutant would look killed, so the module is reported as not run.

Usage::

    python tools/mutation.py                       # every module, a sample of 40 mutants each
    python tools/mutation.py --modules estimators _validate --sample 0   # all mutants
    python tools/mutation.py --seed 7              # another held-out sample
    python tools/mutation.py --modules check --sample 0 --shard 2/3   # a third of a full run
    python tools/mutation.py --unreached           # lines no target test runs (coverage.py)

Prints, per module, killed / (mutants - equivalent) and each survivor's diff. Exit status 1
when a module scores below its goal (``--goal``, 0.95 for the package, 0.90 for the report).

``--unreached`` runs each module's target tests once under coverage.py instead and lists
the lines none of them executes (Numba kernels, which coverage cannot trace, left out):
every mutant on such a line survives, so it is the cheap first look (minutes, against
hours for a full run). Exit status 1 when any module has such lines.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import tokenize
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ALLOW_FILE = REPO / "tools" / "mutation_allow.toml"

_LLM_SMOKE = "tests/test_llm_compare.py::test_smoke_every_method_two_steps"

#: tests shared by several modules
_SIM_RUN_TESTS = (
    "tests/test_sim_run.py",
    "tests/test_sim_grpo.py",
    "tests/test_mutation_kills_sim.py",
)
_SYMBOLIC_TESTS = ("tests/test_symbolic.py", "tests/test_mutation_kills_symbolic.py")

#: module (relative path) -> the test files that cover it
TARGETS: dict[str, tuple[str, ...]] = {
    "pmdtheory/_validate.py": (
        "tests/test_mutation_kills_validate.py",
        "tests/test_updates.py",
        "tests/test_estimators.py",
    ),
    "pmdtheory/special.py": ("tests/test_special.py", "tests/test_mutation_kills_special.py"),
    "pmdtheory/_omega.py": (
        "tests/test_special.py",
        "tests/test_mutation_kills_special.py",
        "tests/test_updates.py",
    ),
    "pmdtheory/_kernels.py": (
        "tests/test_updates.py",
        "tests/test_special.py",
        "tests/test_mutation_kills_updates.py",
    ),
    "pmdtheory/_kernels_exact.py": (
        "tests/test_mutation_kills_exact.py",
        "tests/test_updates.py",
    ),
    "pmdtheory/updates.py": (
        "tests/test_updates.py",
        "tests/test_mutation_kills_updates.py",
        "tests/test_fast_paths.py",
    ),
    "pmdtheory/_kernels_few.py": ("tests/test_fast_paths.py",),
    "pmdtheory/_kernels_many.py": ("tests/test_fast_paths.py",),
    "pmdtheory/_vecmath.py": ("tests/test_vecmath.py", "tests/test_fast_paths.py"),
    "pmdtheory/estimators.py": ("tests/test_estimators.py",),
    "pmdtheory/divergences.py": ("tests/test_divergences.py",),
    "pmdtheory/bridge/advantages.py": ("tests/test_bridge_advantages.py",),
    "pmdtheory/bridge/loss.py": ("tests/test_bridge_loss.py",),
    "pmdtheory/sim/_kernels.py": _SIM_RUN_TESTS,
    "pmdtheory/sim/run.py": _SIM_RUN_TESTS,
    "pmdtheory/sim/_fit.py": _SIM_RUN_TESTS,
    "pmdtheory/sim/mdp.py": ("tests/test_sim_mdp.py",),
    "pmdtheory/sim/envs.py": ("tests/test_sim_envs.py", "tests/test_mutation_kills_envs.py"),
    "pmdtheory/sim/_cells.py": ("tests/test_sweep.py", "tests/test_mutation_kills_sim.py"),
    "pmdtheory/sim/sweeps.py": ("tests/test_sweep.py", "tests/test_mutation_kills_sim.py"),
    "pmdtheory/sim/_mc.py": (
        "tests/test_sim_mdp.py",
        "tests/test_sim_run.py",
        "tests/test_mutation_kills_sim.py",
    ),
    "pmdtheory/sim/_rng.py": (
        "tests/test_sim_envs.py",
        "tests/test_sim_run.py",
        "tests/test_mutation_kills_sim.py",
    ),
    "pmdtheory/sim/_check.py": (
        "tests/test_sim_run.py",
        "tests/test_mutation_kills_sim.py",
    ),
    "pmdtheory/testing.py": ("tests/test_mutation_kills_testing.py", "tests/test_testing.py"),
    "pmdtheory/baselines.py": ("tests/test_baselines.py",),
    "pmdtheory/_repro.py": ("tests/test_repro_discovery.py", "tests/test_mutation_kills_repro.py"),
    "pmdtheory/cli/update.py": ("tests/test_cli.py", "tests/test_mutation_kills_cli.py"),
    "pmdtheory/cli/simulate.py": (
        "tests/test_sim_cli.py",
        "tests/test_cli.py",
        "tests/test_mutation_kills_simulate.py",
    ),
    "pmdtheory/cli/sweep.py": (
        "tests/test_mutation_kills_sweep_cli.py",
        "tests/test_sim_cli.py",
        "tests/test_cli.py",
    ),
    "pmdtheory/cli/_common.py": (
        "tests/test_cli.py",
        "tests/test_sim_cli.py",
        "tests/test_mutation_kills_cli.py",
    ),
    "pmdtheory/cli/derive.py": ("tests/test_cli.py",),
    "pmdtheory/cli/repro.py": ("tests/test_cli.py",),
    "pmdtheory/symbolic/__init__.py": _SYMBOLIC_TESTS,
    "pmdtheory/symbolic/solutions.py": _SYMBOLIC_TESTS,
    "pmdtheory/symbolic/pmd.py": _SYMBOLIC_TESTS,
    "pmdtheory/symbolic/check.py": _SYMBOLIC_TESTS,
    "pmdtheory/symbolic/calculus.py": _SYMBOLIC_TESTS,
    "pmdtheory/symbolic/consequences.py": _SYMBOLIC_TESTS,
    "pmdtheory/symbolic/numeric.py": _SYMBOLIC_TESTS,
    "pmdtheory/bridge/trl.py": ("tests/test_bridge_trl.py",),
    "pmdtheory/bridge/trl_options.py": ("tests/test_bridge_trl.py",),
    "pmdtheory/bridge/verl.py": ("tests/test_bridge_verl.py",),
    "pmdtheory/bridge/llm.py": ("tests/test_bridge_llm.py",),
    "pmdtheory/plotting.py": (
        "tests/test_plotting.py",
        "tests/test_mutation_kills_plotting.py",
        "tests/test_plotting_baseline.py",
    ),
    # test_paper_repro.py (3 min a run) is left out: a mutant only it would catch counts as a
    # survivor, so the score errs low
    "paper_repro/_claims.py": (
        "tests/test_mutation_kills_report.py",
        "tests/test_report_rules.py",
    ),
    "paper_repro/_claims_sampled.py": (
        "tests/test_mutation_kills_report.py",
        "tests/test_report_rules.py",
    ),
    "paper_repro/stability.py": (
        "tests/test_mutation_kills_stability.py",
        "tests/test_report_rules.py",
    ),
    # the LLM comparison's rules; its 80 s smoke run (real training) is left out here and
    # kept for llm_compare.py itself
    "paper_repro/_claims_llm.py": (
        "tests/test_llm_compare.py",
        f"--deselect={_LLM_SMOKE}",
    ),
    "paper_repro/llm_compare.py": ("tests/test_llm_compare.py",),
    "paper_repro/report.py": ("tests/test_report_render.py", "tests/test_repro_discovery.py"),
}
REPORT_PREFIX = "paper_repro/"

#: the operators we apply; cosmic-ray's others (e.g. ``+`` -> ``<<``) mostly make mutants
#: that crash on floats at once and only inflate the score
OPERATORS = (
    r"core/ReplaceBinaryOperator_(Add_Sub|Sub_Add|Mul_Div|Div_Mul|Add_Mul|Mul_Add|Pow_Mul)$",
    r"core/ReplaceComparisonOperator_(Lt_LtE|LtE_Lt|Gt_GtE|GtE_Gt|Eq_NotEq|NotEq_Eq|Lt_Gt|Gt_Lt)$",
    r"core/ReplaceUnaryOperator_(USub_UAdd|Delete_USub|Delete_Not)$",
    r"core/(NumberReplacer|AddNot|ReplaceTrueWithFalse|ReplaceFalseWithTrue)$",
    r"core/(ReplaceAndWithOr|ReplaceOrWithAnd|ReplaceBreakWithContinue|ExceptionReplacer)$",
    r"core/ZeroIterationForLoop$",
)


@dataclass
class Outcome:
    module: str
    killed: int = 0
    equivalent: int = 0
    incompetent: int = 0
    survivors: list[str] = field(default_factory=list)
    baseline_failed: bool = False

    @property
    def counted(self) -> int:
        return self.killed + len(self.survivors)

    @property
    def score(self) -> float:
        if self.baseline_failed:
            return 0.0
        return self.killed / self.counted if self.counted else 1.0


def _copy_tree(dst: Path) -> None:
    """Copy tracked and untracked-but-not-ignored files (the working tree as it is)."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for f in files:
        src = REPO / f
        if src.is_file():
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / f)


def _allow_list() -> list[dict]:
    if not ALLOW_FILE.exists():
        return []
    return tomllib.loads(ALLOW_FILE.read_text())["equivalent"]


def _is_equivalent(module: str, diff: str, allow: list[dict]) -> bool:
    """An allow-list entry matches by module and the mutated line (+ side of the diff).

    An entry with a ``context`` line also needs that line among the diff's unchanged
    lines: for a mutant line that several places of the module can produce (``return 2``
    for each ``return 1``), of which only one is equivalent.
    """
    lines = diff.splitlines()
    added = [ln[1:].strip() for ln in lines if ln.startswith("+") and ln[1:2] != "+"]
    context = {ln[1:].strip() for ln in lines if ln.startswith(" ")}
    return any(
        a["module"] == module
        and any(a["mutant"].strip() == line for line in added)
        and ("context" not in a or a["context"].strip() in context)
        for a in allow
    )


def _changed_lines(diff: str) -> list[str]:
    """The removed (``-``) and added (``+``) lines of a unified diff, headers left out."""
    headers = ("+++", "---")
    return [ln for ln in diff.splitlines() if ln[:1] in ("+", "-") and ln[:3] not in headers]


def _tokens(line: str) -> list[tuple[int, object]] | None:
    """A source line's tokens, each number by its value (``1e300`` and ``1e+300`` are one
    token); None where the line does not tokenise on its own (an unclosed bracket)."""
    try:
        toks = list(tokenize.generate_tokens(io.StringIO(line.strip() + "\n").readline))
    except (tokenize.TokenError, SyntaxError):
        return None
    return [
        (t.type, ast.literal_eval(t.string) if t.type == tokenize.NUMBER else t.string)
        for t in toks
    ]


def _changes_nothing(diff: str) -> bool:
    r"""Whether a mutant changes no token of the source: its diff has no changed line (the
    mutated source reads as the original: cosmic-ray's ``NumberReplacer`` adds 1 to
    ``9007199254740992.0``, which rounds back to itself), or its one changed line differs
    only in how a number is written (``1e300`` + 1 rounds to ``1e300``, printed ``1e+300``).
    Such a mutant is equivalent by construction.

    >>> _changes_nothing("@@ -1 +1 @@\n-if x < 1e300:\n+if x < 1e+300:\n")
    True
    >>> _changes_nothing("@@ -1 +1 @@\n-if x < 1e300:\n+if x < 1e+301:\n")
    False
    """
    lines = _changed_lines(diff)
    if not lines:
        return True
    if len(lines) != 2 or lines[0][0] != "-" or lines[1][0] != "+":
        return False
    before, after = _tokens(lines[0][1:]), _tokens(lines[1][1:])
    # type too: 1 == 1.0 == True, but an int and a float are different numbers to numpy
    same = before is not None and after is not None and len(before) == len(after)
    return same and all(
        a == b and type(a[1]) is type(b[1]) for a, b in zip(before, after, strict=True)
    )


def _only_numba_cache(diff: str) -> bool:
    """Whether the only change is ``cache=True`` -> ``cache=False`` in a Numba decorator:
    that only skips Numba's on-disk cache, and the kernel compiles from the same source to
    the same code. Equivalent by construction, like :func:`_changes_nothing`."""
    lines = _changed_lines(diff)
    if len(lines) != 2 or lines[0][0] != "-" or lines[1][0] != "+":
        return False
    before, after = lines[0][1:].strip(), lines[1][1:].strip()
    return (
        before.startswith(("@njit(", "@jit("))
        and after == before.replace("cache=True", "cache=False", 1) != before
    )


def _present(tmp: Path, module: str, tests: tuple[str, ...]) -> list[str]:
    """The pytest arguments that apply in ``tmp``: an option (``--deselect=...``) passes
    through; a test file is run if it exists. A package module's own doctests are run
    too (``make doctest`` runs them all): its examples are claims a mutant can break."""
    own = ("--doctest-modules", module) if module.startswith("pmdtheory/") else ()
    return [t for t in (*tests, *own) if t.startswith("--") or (tmp / t).exists()]


def _tail(run: subprocess.CompletedProcess) -> str:
    """The last lines of a test run's output: pytest's summary of what failed."""
    return "\n".join(run.stdout.strip().splitlines()[-5:])


def _test_env(tmp: Path) -> dict[str, str]:
    """The environment of every test run: the copy in ``tmp`` first on the path, offline."""
    return dict(os.environ, CI="true", MPLBACKEND="Agg", HF_HUB_OFFLINE="1", PYTHONPATH=str(tmp))


def _package_imports(path: Path, root: Path) -> set[str]:
    """The package modules (paths relative to ``root``) whose names ``path`` binds as its
    globals with ``from X import name``, relative or absolute: ``X/name.py`` where ``name``
    is a submodule, else ``X.py`` or ``X/__init__.py``, as far as they exist as files. An
    import inside a function binds a local, which no kernel of ``path`` reads."""
    import ast

    def module_level(body):
        for node in body:
            yield node
            if isinstance(node, ast.If | ast.Try | ast.With):
                for block in ("body", "orelse", "finalbody", "handlers"):
                    yield from module_level(getattr(node, block, []))
            elif isinstance(node, ast.ExceptHandler):
                yield from module_level(node.body)

    base = path.relative_to(root).parent
    found: set[str] = set()
    for node in module_level(ast.parse(path.read_text()).body):
        if not isinstance(node, ast.ImportFrom):
            continue
        folder = Path(*base.parts[: len(base.parts) - node.level + 1]) if node.level else Path()
        x = folder.joinpath(*(node.module or "").split("."))
        for alias in node.names:
            for candidate in (x / f"{alias.name}.py", x.with_suffix(".py"), x / "__init__.py"):
                if (root / candidate).is_file():
                    found.add(candidate.as_posix())
                    break
    return found


def _imports_closure(module: str, root: Path) -> set[str]:
    """``module`` and every package module it imports from, directly or through others."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        mod = todo.pop()
        if mod not in seen:
            seen.add(mod)
            todo.extend(_package_imports(root / mod, root) - seen)
    return seen


def stale_kernels(module: str, root: Path = REPO) -> set[str]:
    """The modules whose Numba kernels a mutant of ``module`` can change: each module with
    an ``@njit`` function (in the package, its tests or the report scripts) that is
    ``module`` or imports from it, directly or through other modules. A kernel reads those
    functions and constants when it compiles, and Numba's cache checks only the kernel's
    own file, so their cached kernels would be stale. Every other module's kernels compile
    the same for every mutant and can be reused.

    >>> sorted(stale_kernels("pmdtheory/sim/_rng.py"))
    ['pmdtheory/sim/_kernels.py', 'pmdtheory/sim/_mc.py', 'pmdtheory/sim/_rng.py']
    >>> stale_kernels("pmdtheory/bridge/loss.py")
    set()
    """
    files = (f for d in ("pmdtheory", "tests", "paper_repro") for f in (root / d).rglob("*.py"))
    jitted = (f.relative_to(root).as_posix() for f in files)
    return {k for k in jitted if _jit_lines(root / k) and module in _imports_closure(k, root)}


def numba_cache_folder(source: Path) -> str:
    """The folder of ``NUMBA_CACHE_DIR`` that holds the cached kernels of ``source``, named
    as Numba names it: the source's folder name and the SHA-1 of its absolute path."""
    folder = os.path.dirname(os.path.abspath(source))
    return f"{os.path.basename(folder)}_{hashlib.sha1(folder.encode()).hexdigest()}"


def _drop_kernels(cache: Path, modules: set[str], root: Path) -> int:
    """Delete the cached kernels of ``modules`` (paths relative to ``root``) from the Numba
    cache folder ``cache``; returns how many files went."""
    gone = 0
    for mod in modules:
        for f in (cache / numba_cache_folder(root / mod)).glob(f"{Path(mod).stem}.*"):
            f.unlink()
            gone += 1
    return gone


def _run_module(tmp: Path, module: str, tests: tuple[str, ...], args) -> Outcome:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome, WorkResult

    tag = module.replace("/", "_").removesuffix(".py")
    cfg, db = tmp / f"{tag}.toml", tmp / f"{tag}.sqlite"
    tests_here = " ".join(_present(tmp, module, tests))
    # a Numba cache folder of its own per mutant, a copy of the kernels the unmutated tests
    # compiled less those the mutant can change (see the module docstring); -x: the first
    # failing test kills the mutant
    warm = tmp / f".numba-{tag}"
    pytest = f"{sys.executable} -m pytest -x -q -p no:cacheprovider {tests_here}"
    command = (
        f"bash -c 'export NUMBA_CACHE_DIR=$(mktemp -d); cp -R {warm}/. $NUMBA_CACHE_DIR; "
        f"{pytest}; s=$?; rm -rf $NUMBA_CACHE_DIR; exit $s'"
    )
    cfg.write_text(
        "[cosmic-ray]\n"
        f'module-path = "{module}"\n'
        f"timeout = {args.timeout}\n"
        "excluded-modules = []\n"
        f'test-command = "{command}"\n'
        '[cosmic-ray.distributor]\nname = "local"\n'
    )
    env = _test_env(tmp)
    # the tests must pass on the unmutated code, or every mutant would look killed; this run
    # also compiles the kernels into `warm`, from an empty folder
    shutil.rmtree(warm, ignore_errors=True)
    warm.mkdir()
    base = subprocess.run(
        pytest,
        shell=True,
        cwd=tmp,
        env=dict(env, NUMBA_CACHE_DIR=str(warm)),
        capture_output=True,
        text=True,
    )
    stale = stale_kernels(module, tmp)
    if _drop_kernels(warm, stale, tmp) == 0 and stale and base.returncode == 0:
        # kernels that a mutant can change were compiled by passing tests, yet none was
        # found: if Numba names its cache folders differently now, stale kernels would
        # hide mutants, so the run stops rather than guess
        raise RuntimeError(
            f"{module}: none of the cached kernels of {sorted(stale)} found in {warm}: "
            "either its tests compile none of them or Numba's cache layout changed"
        )
    if base.returncode != 0:
        print(
            f"== {module}: the tests fail on the unmutated code; not run\n{_tail(base)}",
            flush=True,
        )
        return Outcome(module, baseline_failed=True)
    cr = [sys.executable, "-m", "cosmic_ray.cli"]
    subprocess.run([*cr, "init", str(cfg), str(db)], cwd=tmp, env=env, check=True)

    import re

    keep = re.compile("|".join(f"(?:{o})" for o in OPERATORS))
    with use_db(str(db), WorkDB.Mode.open) as wdb:
        # job ids are random uuids: order by what the mutation is, so a seed picks one sample
        items = sorted(
            wdb.pending_work_items,
            key=lambda w: [(m.operator_name, m.occurrence, m.start_pos) for m in w.mutations],
        )
        wanted = [w for w in items if all(keep.match(m.operator_name) for m in w.mutations)]
        if args.sample:
            wanted = random.Random(args.seed).sample(wanted, min(args.sample, len(wanted)))
        wanted = _shard(wanted, args.shard)
        chosen = {w.job_id for w in wanted}
        skip = WorkResult(output="not sampled", worker_outcome=WorkerOutcome.SKIPPED)
        for w in items:
            if w.job_id not in chosen:
                wdb.set_result(w.job_id, skip)
    part = f" (shard {args.shard[0]}/{args.shard[1]})" if args.shard != (1, 1) else ""
    print(f"== {module}: {len(chosen)} mutants{part} against {tests_here}", flush=True)
    subprocess.run([*cr, "exec", str(cfg), str(db)], cwd=tmp, env=env, check=True)

    out, allow = Outcome(module), _allow_list()
    with use_db(str(db), WorkDB.Mode.open) as wdb:
        for item, result in wdb.completed_work_items:
            if item.job_id not in chosen:
                continue
            if result.worker_outcome != WorkerOutcome.NORMAL:
                out.incompetent += 1
            elif result.test_outcome == TestOutcome.SURVIVED:
                diff = result.diff or ""
                if (
                    _changes_nothing(diff)
                    or _only_numba_cache(diff)
                    or _is_equivalent(module, diff, allow)
                ):
                    out.equivalent += 1
                else:
                    out.survivors.append(result.diff or "")
            elif result.test_outcome == TestOutcome.INCOMPETENT:
                out.incompetent += 1
            else:
                out.killed += 1
    return out


def _shard(items: list, spec: tuple[int, int]) -> list:
    """Part ``k`` of ``n`` of ``items`` (``spec = (k, n)``, 1-based): every n-th item from the
    k-th on, so that n machines (or lanes) share one module's mutants and together run each
    once. ``(1, 1)`` is all of them.

    >>> [_shard(list("abcdefg"), (k, 3)) for k in (1, 2, 3)]
    [['a', 'd', 'g'], ['b', 'e'], ['c', 'f']]
    """
    k, n = spec
    return items[k - 1 :: n]


def _shard_spec(text: str) -> tuple[int, int]:
    """``"k/n"`` with ``1 <= k <= n``, for ``--shard``."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected k/n, e.g. 1/2, got {text!r}") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"need 1 <= k <= n, got {text!r}")
    return k, n


def _jit_lines(path: Path) -> set[int]:
    """Lines of the functions compiled by Numba (``@njit``/``@jit``): coverage cannot
    trace compiled code, so they would all look unreached."""
    import ast

    lines: set[int] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for dec in node.decorator_list:
                target = dec.func if isinstance(dec, ast.Call) else dec
                name = (
                    target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                )
                if name in ("njit", "jit", "vectorize", "guvectorize"):
                    lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    return lines


def _ranges(lines: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``"1-3, 7"``."""
    spans: list[list[int]] = []
    for n in lines:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


class TargetsFailed(Exception):
    """The target tests fail on the unmutated code; the message is the end of their output."""


def _unreached(tmp: Path, module: str, tests: tuple[str, ...]) -> tuple[list[int], int]:
    """Lines of ``module`` that none of its target tests executes (coverage.py), Numba
    kernels left out, and the number of kernel lines; raises TargetsFailed if the tests
    fail. A mutant on such a line always survives."""
    import coverage

    data = tmp / f".coverage-{module.replace('/', '_')}"
    cmd = [sys.executable, "-m", "coverage", "run", f"--data-file={data}", f"--include={module}",
           "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]  # fmt: skip
    cmd += _present(tmp, module, tests)
    run = subprocess.run(cmd, cwd=tmp, env=_test_env(tmp), capture_output=True, text=True)
    if run.returncode != 0:
        raise TargetsFailed(_tail(run))
    cov = coverage.Coverage(data_file=str(data))
    cov.load()
    missing = cov.analysis2(str(tmp / module))[3]
    jit = _jit_lines(tmp / module)
    return [n for n in missing if n not in jit], len(jit)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--modules", nargs="*", help="module stems or paths (default: all)")
    p.add_argument("--sample", type=int, default=40, help="mutants per module, 0 = all")
    p.add_argument("--seed", type=int, default=0, help="seed of the mutant sample")
    p.add_argument(
        "--shard",
        type=_shard_spec,
        default=(1, 1),
        metavar="K/N",
        help="run part K of N of each module's mutants (every N-th from the K-th), so that "
        "N lanes share a full run; their scores add up",
    )
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant")
    p.add_argument("--goal", type=float, default=0.95, help="package goal (report: 0.90)")
    p.add_argument(
        "--unreached",
        action="store_true",
        help="instead of mutating, list each module's lines that its tests never execute "
        "(coverage.py; Numba kernels left out): every mutant there survives",
    )
    args = p.parse_args(argv)

    targets = TARGETS
    if args.modules:
        want = set(args.modules)
        targets = {m: t for m, t in TARGETS.items() if m in want or Path(m).stem in want}
        unknown = want - {m for m in targets} - {Path(m).stem for m in targets}
        if unknown:
            p.error(f"--modules: unknown {sorted(unknown)}; known: {sorted(TARGETS)}")

    results = []
    with tempfile.TemporaryDirectory(prefix="pmd-mutation-") as d:
        tmp = Path(d)
        _copy_tree(tmp)
        if args.unreached:
            bare = 0
            for module, tests in targets.items():
                try:
                    lines, n_jit = _unreached(tmp, module, tests)
                except TargetsFailed as e:
                    print(f"{module}: its tests fail on the unmutated code\n{e}", flush=True)
                    bare += 1
                    continue
                kernels = f" ({n_jit} lines of Numba kernels not traced)" if n_jit else ""
                if lines:
                    print(
                        f"{module}: {len(lines)} unreached: {_ranges(lines)}{kernels}", flush=True
                    )
                    bare += 1
                else:
                    print(f"{module}: every line reached{kernels}", flush=True)
            return 1 if bare else 0
        for module, tests in targets.items():
            results.append(_run_module(tmp, module, tests, args))

    failed = False
    print("\n| module | killed | equivalent | incompetent | score | goal |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        goal = 0.90 if r.module.startswith(REPORT_PREFIX) else args.goal
        ok = r.score >= goal
        failed |= not ok
        if r.baseline_failed:
            print(f"| {r.module} | tests fail unmutated | | | | {goal:.0%} FAIL |")
            continue
        print(
            f"| {r.module} | {r.killed}/{r.counted} | {r.equivalent} | {r.incompetent} "
            f"| {r.score:.1%} | {goal:.0%} {'PASS' if ok else 'FAIL'} |"
        )
    for r in results:
        for diff in r.survivors:
            print(f"\n-- survivor in {r.module}:\n{diff}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
