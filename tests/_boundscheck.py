"""Run a script with Numba's bounds checks on (tests of kernels that index arrays)."""

import os
import subprocess
import sys


def assert_runs_bounds_checked(script: str, cache_dir) -> None:
    """Run ``script`` in a fresh interpreter with ``NUMBA_BOUNDSCHECK=1`` and a fresh Numba
    cache (the flag changes the compiled code); it must print ``ok`` and exit 0.

    Numba does not check bounds by default: a kernel that reads or writes one entry past
    an array does so silently. With the flag, that is an IndexError.
    """
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(cache_dir)}
    res = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]
