"""The figure-script runner pmdtheory._repro: survivors of `make mutation` that showed
untested behaviour.

Each test was checked to fail on the mutant named in its comment (tools/mutation.py, seed 0).
The toy folders hold no figure script (nothing but ``report.py``, run as a real subprocess),
so each run costs one short interpreter start.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pmdtheory import _repro

DECL = (
    'REPRO = {{"default": True, "budget_s": {{"quick": 1, "full": 2}}, '
    '"outputs": ["data/{name}.csv"], "claims": {{"_toy_claims.shared": {first}}}}}\n'
)

# a report that writes its --output, then ends as `end` says (an exit status, a signal)
REPORT = """
import argparse, os, signal, sys
p = argparse.ArgumentParser()
p.add_argument("--figures")
p.add_argument("--output")
a = p.parse_args()
open(a.output, "w").write("# report\\n")
{end}
"""
SIGHUP_SELF = "os.kill(os.getpid(), signal.SIGHUP)"


def test_two_scripts_numbering_one_claim_differently_are_named(tmp_path):
    # mutant: `f"{seen[1]}.py numbers it {seen[-1]}"` (the script's name instead of its number)
    (tmp_path / "toy_a.py").write_text(DECL.format(name="toy_a", first=4))
    (tmp_path / "toy_b.py").write_text(DECL.format(name="toy_b", first=7))
    with pytest.raises(ValueError) as err:
        _repro.discover(tmp_path)
    assert str(err.value) == (
        f"{tmp_path / 'toy_b.py'}: REPRO['claims'] numbers _toy_claims.shared 7, "
        "but toy_a.py numbers it 4"
    )


def _report_only(tmp_path: Path, end: str) -> tuple[Path, Path]:
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "report.py").write_text(REPORT.format(end=end))
    return scripts, tmp_path / "out"


def test_a_report_that_succeeds_is_not_a_failure(tmp_path, capsys):
    # mutant: `if rc != -1:` after the report step (a successful report counted as failed)
    scripts, out = _report_only(tmp_path, "sys.exit(0)")
    assert _repro.main(["--scripts", str(scripts), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    report_line = captured.out.splitlines()[-1]
    assert report_line.startswith("report ... ok (")
    assert report_line.endswith(f" s) -> {out / 'REPORT.md'}")
    assert (out / "REPORT.md").read_text() == "# report\n"


@pytest.mark.parametrize(
    "end, rc",
    [
        ("sys.exit('report broke')", 1),
        # killed by SIGHUP: returncode -1, which the mutant took for success
        ("print('report broke', file=sys.stderr, flush=True); " + SIGHUP_SELF, -1),
    ],
    ids=["exit-1", "sighup"],
)
def test_a_report_that_fails_fails_the_run(tmp_path, capsys, end, rc):
    # mutant: `if rc != -1:` after the report step (a report killed by SIGHUP counted as ok)
    scripts, out = _report_only(tmp_path, end)
    assert _repro.main(["--scripts", str(scripts), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1].startswith(f"report ... failed (exit {rc}) (")
    err = [line for line in captured.err.splitlines() if line]  # the report's output, then ours
    assert err == ["report broke", "pmdtheory repro: failed: report"]
