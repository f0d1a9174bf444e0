"""CI's hypothesis profile draws the same examples whatever modules are imported.

``conftest.py`` freezes hypothesis's pool of local-module constants under CI. Each test
here runs a derandomized property in a fresh interpreter twice, once after importing a
local module full of float literals, and compares the examples drawn.
"""

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parent

_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{tests!r}, {tmp!r}]
    import conftest  # noqa: F401  (loads the CI profile when CI is set)
    if sys.argv[1] == "import":
        import many_constants  # noqa: F401
    from hypothesis import given, settings, strategies as st

    seen = []

    @settings(derandomize=True, max_examples=200, database=None)
    @given(st.floats(0, 1e6))
    def draw(x):
        seen.append(x)

    draw()
    print(repr(seen))
    """
)


def _draws(tmp_path: Path, *, ci: bool, imported: bool) -> list[float]:
    """The examples a derandomized property draws, in a fresh interpreter."""
    (tmp_path / "many_constants.py").write_text(
        "VALUES = [" + ", ".join(f"{k}.{k}25" for k in range(1, 40)) + "]\n"
    )
    script = tmp_path / "draw.py"
    script.write_text(_SCRIPT.format(tests=str(TESTS), tmp=str(tmp_path)))
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci:
        env["CI"] = "true"
    out = subprocess.run(
        [sys.executable, str(script), "import" if imported else "plain"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    ).stdout
    return ast.literal_eval(out)


def test_ci_profile_draws_do_not_depend_on_imported_modules(tmp_path):
    plain = _draws(tmp_path, ci=True, imported=False)
    after_import = _draws(tmp_path, ci=True, imported=True)
    assert len(plain) == 200
    assert plain == after_import


def test_without_the_ci_profile_the_same_import_changes_the_draws(tmp_path):
    """The control: the check above can fail, because the import does matter unfrozen."""
    plain = _draws(tmp_path, ci=False, imported=False)
    after_import = _draws(tmp_path, ci=False, imported=True)
    assert plain != after_import
    assert any(x in after_import for x in (1.125, 2.225, 3.325))
