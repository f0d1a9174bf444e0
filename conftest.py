"""Root pytest configuration: what ``pytest --doctest-modules pmdtheory`` may import.

The doctests of a module whose optional extra is not installed are skipped (their
modules cannot be imported); with the ``dev``, ``torch`` and ``trl`` extras every
module is collected. The test suite's own configuration is ``tests/conftest.py``.
"""

import importlib.util


def _missing(module: str) -> bool:
    return importlib.util.find_spec(module) is None


collect_ignore_glob = []
if _missing("torch"):
    collect_ignore_glob.append("pmdtheory/bridge/*")
else:
    if _missing("transformers"):
        collect_ignore_glob.append("pmdtheory/bridge/llm.py")
    if _missing("trl"):
        collect_ignore_glob.append("pmdtheory/bridge/trl.py")
if _missing("hypothesis"):
    collect_ignore_glob.append("pmdtheory/testing.py")
