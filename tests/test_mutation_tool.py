"""tools/mutation.py's helpers for ``--unreached`` (the mutation runs themselves take hours
and are not part of ``make test``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

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


def _one_line(before: str, after: str) -> str:
    return f"--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-{before}\n+{after}\n"


def test_a_number_written_another_way_is_equivalent():
    # session 12, _validate.py: NumberReplacer turned `bound < 1e300` into `bound < 1e+300`
    # (1e300 + 1 rounds to 1e300); the line changed, the float did not
    same = mutation._changes_nothing
    assert same(_one_line("    if bound < 1e300:  # fast", "    if bound < 1e+300:  # fast"))
    assert same(_one_line("x = 0x10", "x = 16"))
    assert not same(_one_line("if bound < 1e300:", "if bound < 1e+301:"))
    assert not same(_one_line("x = 1", "x = 1.0"))  # an int and a float: not the same number
    assert not same(_one_line("f(1e300,", "f(1e+300,"))  # an unclosed bracket: no verdict
    two = _one_line("x = 1", "x = 1.0").replace("+x = 1.0\n", "+x = 1\n+y = 2\n")
    assert not same(two)


def test_an_allow_list_entry_with_context_matches_that_place_only():
    # session 13, _kernels_exact.py: `return 1` -> `return 2` is equivalent after the
    # entry check and not after the sum check; both mutants read `return 2`
    def diff(guard):
        head = "--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n"
        return f"{head}     {guard}\n-        return 1\n+        return 2\n"

    first, second = diff("if not finite:"), diff("if not summed:")
    plain = [{"module": "m.py", "mutant": "return 2"}]
    placed = [{"module": "m.py", "mutant": "return 2", "context": "if not finite:"}]
    assert mutation._is_equivalent("m.py", first, plain)
    assert mutation._is_equivalent("m.py", second, plain)
    assert mutation._is_equivalent("m.py", first, placed)
    assert not mutation._is_equivalent("m.py", second, placed)
    assert not mutation._is_equivalent("other.py", first, placed)
    # the guard as the mutated line itself is not context
    changed_guard = "--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-if not finite:\n+return 2\n"
    assert not mutation._is_equivalent("m.py", changed_guard, placed)


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


def _tree(root, files):
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


KERNEL = "\n\n@njit(cache=True)\ndef f(x):\n    return x\n"


def test_stale_kernels_are_the_kernels_that_read_the_module(tmp_path):
    _tree(
        tmp_path / "pmdtheory",
        {
            "__init__.py": "from .plain import g\n",
            "kern.py": "from numba import njit\nfrom .consts import C\nfrom . import helper"
            + KERNEL,
            "consts.py": "from .more import D\nC = 2.0 * D\n",  # kern reads more.D through it
            "more.py": "D = 1.0\n",
            "helper.py": "H = 1\n",
            "sub/__init__.py": "",
            "sub/deep.py": "from numba import njit\nfrom pmdtheory.sub import low" + KERNEL,
            "sub/low.py": "from numba import njit\nfrom ..more import D" + KERNEL,
            "plain.py": "from .kern import f\n\ndef g(x):\n    return f(x)\n",  # a caller
            "late.py": "",  # imported inside a function of kern2: not kern2's global
            "kern2.py": "from numba import njit\ntry:\n    from .more import D\n"
            "except ImportError:\n    pass\n\ndef h():\n    from .late import X\n" + KERNEL,
        },
    )

    _tree(
        tmp_path / "tests",
        {"toy.py": "from numba import njit\nfrom pmdtheory import helper" + KERNEL},
    )

    def stale(m):
        return {
            s.removeprefix("pmdtheory/")
            for s in mutation.stale_kernels(f"pmdtheory/{m}", tmp_path)
        }

    assert stale("more.py") == {"kern.py", "kern2.py", "sub/low.py", "sub/deep.py"}
    assert stale("late.py") == set()
    assert stale("consts.py") == {"kern.py"}
    assert stale("helper.py") == {"kern.py", "tests/toy.py"}  # a test file's kernel too
    assert stale("kern.py") == {"kern.py"}  # its callers' code is not compiled
    assert stale("sub/low.py") == {"sub/low.py", "sub/deep.py"}
    assert stale("sub/__init__.py") == set()  # `from pmdtheory.sub import low` binds low only
    assert stale("plain.py") == stale("__init__.py") == set()


def test_the_package_kernels_that_a_mutant_can_make_stale():
    assert mutation.stale_kernels("pmdtheory/bridge/loss.py") == set()
    assert mutation.stale_kernels("pmdtheory/_validate.py") == set()
    assert mutation.stale_kernels("pmdtheory/sim/_mc.py") == {"pmdtheory/sim/_mc.py"}
    omega = mutation.stale_kernels("pmdtheory/_omega.py")
    for kernel in (
        "_omega.py",
        "_kernels.py",
        "_kernels_exact.py",
        "_kernels_many.py",
        "sim/_mc.py",
    ):
        assert f"pmdtheory/{kernel}" in omega, kernel


def test_the_numba_cache_folder_is_named_as_numba_names_it(tmp_path):
    from numba.core.caching import _CacheLocator

    for source in (REPO / "pmdtheory" / "_kernels.py", tmp_path / "a b" / "m.py"):
        assert mutation.numba_cache_folder(source) == _CacheLocator.get_suitable_cache_subpath(
            str(source)
        )


def test_only_the_stale_kernels_are_dropped_from_the_cache(tmp_path):
    root, cache = tmp_path / "src", tmp_path / "cache"
    _tree(root / "pmdtheory", {"k.py": "", "k2.py": "", "sim/k.py": ""})
    names = {
        "pmdtheory/k.py": ["k.f-4.py311.nbi", "k.f-4.py311.1.nbc", "k2.f-4.py311.nbi"],
        "pmdtheory/sim/k.py": ["k.g-9.py311.nbi"],
    }
    for mod, files in names.items():
        _tree(cache / mutation.numba_cache_folder(root / mod), {f: "" for f in files})
    assert mutation._drop_kernels(cache, {"pmdtheory/k.py"}, root) == 2
    left = sorted(f.name for f in cache.rglob("*.nb?"))
    assert left == ["k.g-9.py311.nbi", "k2.f-4.py311.nbi"]


def test_shards_split_a_run_into_disjoint_parts_that_cover_it():
    items = list(range(11))
    parts = [mutation._shard(items, (k, 3)) for k in (1, 2, 3)]
    assert sorted(sum(parts, [])) == items and [len(p) for p in parts] == [4, 4, 3]
    assert mutation._shard(items, (1, 1)) == items
    assert mutation._shard_spec("2/3") == (2, 3)
    for bad in ("0/2", "3/2", "1", "a/b"):
        with pytest.raises(argparse.ArgumentTypeError):
            mutation._shard_spec(bad)
