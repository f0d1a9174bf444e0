"""tools/mutation.py's helpers for ``--unreached`` (the mutation runs themselves take hours
and are not part of ``make test``)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import mutation  # noqa: E402


def test_ranges_join_consecutive_lines():
    assert mutation._ranges([1, 2, 3, 7, 9, 10]) == "1-3, 7, 9-10"
    assert mutation._ranges([5]) == "5" and mutation._ranges([]) == ""


def test_jit_lines_are_the_numba_functions_only(tmp_path):
    src = tmp_path / "m.py"
    src.write_text(
        "import numba\nfrom numba import njit, prange\n\n"  # lines 1-3
        "@njit(cache=True)\ndef a(x):\n    return x\n\n"  # 4-7: a kernel
        "def b(x):\n    return x\n\n"  # 8-10: plain Python
        "@numba.jit\ndef c(x):\n    y = x\n    return y\n"  # 11-14: a kernel
    )
    # the bodies only: a decorator line runs in Python at import, and coverage sees it
    assert mutation._jit_lines(src) == {5, 6, 12, 13, 14}


def test_every_module_with_targets_exists_with_its_test_files():
    for module, tests in mutation.TARGETS.items():
        assert (REPO / module).is_file(), module
        for t in tests:
            assert t.startswith("--") or (REPO / t).is_file(), (module, t)


def test_a_package_module_is_also_tested_by_its_own_doctests():
    tests = ("tests/test_testing.py", "--deselect=x", "tests/missing.py")
    assert mutation._present(REPO, "pmdtheory/testing.py", tests) == [
        "tests/test_testing.py",
        "--deselect=x",
        "--doctest-modules",
        "pmdtheory/testing.py",
    ]
    # the report scripts are not doctested by `make doctest`: their targets stay as listed
    assert mutation._present(REPO, "paper_repro/_claims.py", tests) == list(tests[:2])


def test_a_diff_without_a_changed_line_is_equivalent():
    # seed 8: NumberReplacer turned 9007199254740992.0 into 9007199254740992.0 + 1, which
    # rounds to the same float and prints the same; cosmic-ray's diff is then empty
    assert mutation._changes_nothing("")
    assert mutation._changes_nothing("--- mutation diff ---\n")
    assert mutation._changes_nothing("--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n x = 1\n")
    changed = "--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
    assert not mutation._changes_nothing(changed)
    assert not mutation._changes_nothing(changed.replace("+x = 2\n", ""))  # a deleted line


def test_turning_off_numbas_cache_is_equivalent():
    def diff(before, after):
        return f"--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-{before}\n+{after}\n"

    njit = '@njit(cache=True, error_model="numpy")'
    assert mutation._only_numba_cache(diff(njit, njit.replace("True", "False")))
    assert mutation._only_numba_cache(diff("@njit(cache=True)", "@njit(cache=False)"))
    assert not mutation._only_numba_cache(diff(njit, '@njit(cache=True, error_model="python")'))
    assert not mutation._only_numba_cache(diff("x = dict(cache=True)", "x = dict(cache=False)"))
    assert not mutation._only_numba_cache(diff("@njit(cache=True)", "@njit(cache=False)")[:-20])
    with_blank = diff("@njit(cache=True)", "@njit(cache=False)") + "\n \n"  # blank context
    assert mutation._only_numba_cache(with_blank)


def test_compiled_modules_are_the_kernels_and_what_they_import(tmp_path):
    files = {
        "__init__.py": "from .plain import g\n",
        "kern.py": (
            "from numba import njit\nfrom .consts import C\nfrom pmdtheory.sub import deep\n"
            "from . import helper\nimport math\n\n@njit(cache=True)\ndef f(x):\n    return C * x\n"
        ),
        "consts.py": "from .more import D\nC = 2.0 * D\n",
        "more.py": "D = 1.0\n",
        "helper.py": "H = 1\n",
        "sub/__init__.py": "",
        "sub/deep.py": "E = 1\n",
        "plain.py": "from .kern import f\n\ndef g(x):\n    return f(x)\n",  # calls a kernel
        "other.py": "import numba\n",  # imports numba, compiles nothing
    }
    for name, text in files.items():
        (tmp_path / "pmdtheory" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pmdtheory" / name).write_text(text)
    # the kernel, and (transitively) every module it imports from; not its callers
    assert mutation.compiled_modules(tmp_path) == {
        f"pmdtheory/{m}" for m in ("kern.py", "consts.py", "more.py", "helper.py", "sub/deep.py")
    }


def test_the_package_kernels_start_from_an_empty_numba_cache():
    mods = mutation.compiled_modules()
    for kernel in ("_kernels.py", "_omega.py", "_vecmath.py", "baselines.py", "sim/_rng.py"):
        assert f"pmdtheory/{kernel}" in mods, kernel
    for plain in ("bridge/loss.py", "_validate.py", "updates.py", "symbolic/pmd.py"):
        assert f"pmdtheory/{plain}" not in mods, plain
