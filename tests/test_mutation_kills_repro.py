"""The figure-script runner pmdtheory._repro: survivors of `make mutation` that showed
untested behaviour.

Each test was checked to fail on the mutant named in its comment (tools/mutation.py, seeds 0
and 1). A run uses a toy folder of at most one figure script (a few lines of the standard
library) and ``report.py``, run as real subprocesses, so it costs one or two short
interpreter starts.
"""

from __future__ import annotations

import os
import time
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
# SIG_DFL first: under nohup (a background run) SIGHUP is inherited as ignored
SIGHUP_SELF = "signal.signal(signal.SIGHUP, signal.SIG_DFL); os.kill(os.getpid(), signal.SIGHUP)"


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


# a figure script whose budgets write different files: data/quick.csv with --quick,
# data/full.csv without
MODAL = """
import sys
from pathlib import Path

REPRO = {
    "default": True,
    "budget_s": {"quick": 1, "full": 2},
    "outputs": {"quick": ["data/quick.csv"], "full": ["data/full.csv"]},
    "claims": {},
}

out = Path(sys.argv[sys.argv.index("--out") + 1])
(out / "data").mkdir(parents=True, exist_ok=True)
(out / "data" / ("quick.csv" if "--quick" in sys.argv else "full.csv")).write_text("x\\n1\\n")
"""


class _Clock:
    """Stands in for the `time` module of _repro: perf_counter advances by `step` a call."""

    def __init__(self, step: float):
        self.now, self.step = 1000.0, step
        self.time = _repro.time.time  # the outputs' freshness check keeps the real clock

    def perf_counter(self) -> float:
        self.now += self.step
        return self.now


def _run_modal(tmp_path, monkeypatch, capsys, *, quick: bool, step: float):
    """Run the one MODAL script (no report) on a clock on which it takes `step` s.

    Returns the exit status, the printed lines and the timings CSV.
    """
    scripts, out = tmp_path / "scripts", tmp_path / "out"
    scripts.mkdir()
    (scripts / "modal.py").write_text(MODAL)
    monkeypatch.setattr(_repro, "time", _Clock(step))
    argv = ["--scripts", str(scripts), "--out", str(out), "--no-report"]
    rc = _repro.main(argv + (["--quick"] if quick else []))
    lines = capsys.readouterr().out.splitlines()
    return rc, lines, (out / "data" / "repro_timings.csv").read_text()


def test_a_script_is_timed_from_its_start_to_its_end(tmp_path, monkeypatch, capsys):
    # mutant: `time.perf_counter() + t0` in _run (the clock's reading plus the start
    # time, e.g. 2001.0 s, reported for a run of 0.5 s)
    rc, lines, timings = _run_modal(tmp_path, monkeypatch, capsys, quick=False, step=0.5)
    assert rc == 0
    assert lines[1] == "[1/1] modal ... ok (0.5 s)"
    assert timings.splitlines()[1:] == ["modal,full,0.5,ok"]


@pytest.mark.parametrize(
    "quick, step, over",
    [
        (False, 1.5, ""),  # 1.5 s of a 2 s budget
        (False, 2.0, ""),  # exactly the budget is not over it
        (False, 2.5, ", over its 2 s budget"),
        (True, 0.5, ""),
        (True, 1.5, ", over its 1 s budget"),
    ],
)
def test_the_over_budget_remark_appears_exactly_when_over(
    tmp_path, monkeypatch, capsys, quick, step, over
):
    # mutant: `if dt < script.budget_s[mode]` for the remark (it flagged the runs within
    # their budget and not those over it)
    rc, lines, _ = _run_modal(tmp_path, monkeypatch, capsys, quick=quick, step=step)
    assert rc == 0  # over budget is remarked on, never a failure
    assert lines[1] == f"[1/1] modal ... ok ({step:.1f} s{over})"


@pytest.mark.parametrize("quick", [True, False], ids=["quick", "full"])
def test_quick_selects_the_quick_budget_and_outputs(tmp_path, monkeypatch, capsys, quick):
    # mutant: `mode = "quick" if not args.quick else "full"` (--quick ran the scripts
    # quick but held them to the full budget and outputs, and the reverse)
    mode, budget = ("quick", 1) if quick else ("full", 2)
    rc, lines, timings = _run_modal(tmp_path, monkeypatch, capsys, quick=quick, step=0.5)
    assert rc == 0
    out = (tmp_path / "out").resolve()
    assert lines[0] == f"pmdtheory repro ({mode}): 1 script(s), budget {budget} s -> {out}"
    assert lines[1] == "[1/1] modal ... ok (0.5 s)"
    assert timings.splitlines()[1:] == [f"modal,{mode},0.5,ok"]


def test_list_totals_the_default_scripts_only(tmp_path, capsys):
    # held-out (seed 2) mutant: `if not default:` printed the total under the optional
    # scripts (and summed their budgets) instead of under the default ones
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    for name, default, quick, full in (("a", True, 1, 2), ("b", True, 3, 4), ("c", False, 5, 6)):
        (scripts / f"{name}.py").write_text(
            MODAL.replace('"default": True', f'"default": {default}').replace(
                '{"quick": 1, "full": 2}', f'{{"quick": {quick}, "full": {full}}}'
            )
        )
    assert _repro.main(["--scripts", str(scripts), "--list"]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [line[0] for line in lines] == ["default:", "a", "b", "total", "optional", "c"]
    assert lines[3] == ["total", "budget", "4", "s", "quick,", "6", "s", "full"]


def test_a_second_run_into_the_same_out_folder_works(tmp_path, capsys):
    # held-out (seed 5) mutant: `mkdir(..., exist_ok=False)` refused an --out that a
    # previous run had made ("cannot write to ..."), the usual way to rerun
    from test_repro_discovery import _toy

    scripts = tmp_path / "scripts"
    scripts.mkdir()
    _toy(scripts, "toy")
    argv = ["--scripts", str(scripts), "--out", str(tmp_path / "o"), "--no-report", "--quick"]
    assert _repro.main(argv) == 0
    assert _repro.main(argv) == 0, capsys.readouterr().err
    assert (tmp_path / "o" / "data" / "toy.csv").is_file()


def test_timings_are_recorded_to_the_hundredth_of_a_second(tmp_path, monkeypatch, capsys):
    # held-out (seed 7) mutant: `round(dt, 3)`; the committed repro_timings.csv keeps
    # hundredths (its diffs stay small when a rerun moves a script by a millisecond)
    rc, _, timings = _run_modal(tmp_path, monkeypatch, capsys, quick=False, step=0.1234)
    assert rc == 0 and timings.splitlines()[1:] == ["modal,full,0.12,ok"]


def test_a_failing_script_shows_the_last_3000_characters_of_its_output(tmp_path, capsys):
    # held-out (seed 8): `_TAIL = 3001`; the runner shows the end of a failing script's
    # output (stdout then stderr), its last _TAIL = 3,000 characters
    scripts, out = tmp_path / "scripts", tmp_path / "out"
    scripts.mkdir()
    body = MODAL.split("out = Path")[0]  # the declaration only
    (scripts / "loud.py").write_text(
        body + "print(''.join(chr(65 + i % 26) for i in range(5000)))\nraise SystemExit(3)\n"
    )
    argv = ["--scripts", str(scripts), "--out", str(out), "--no-report"]
    assert _repro.main(argv) == 1
    err = capsys.readouterr().err
    output = "".join(chr(65 + i % 26) for i in range(5000)) + "\n"
    assert output[-3000:] + "\n" in err and output[-3001:] not in err


# ---------------------------------------------- full run of pmdtheory/_repro.py (session 8)


def _script(outputs: tuple[str, ...]) -> _repro.Script:
    return _repro.Script("toy", Path("toy.py"), True, {"quick": 1.0, "full": 2.0},
                         {"quick": outputs, "full": outputs}, {})  # fmt: skip


def test_an_output_older_than_the_run_by_the_slack_exactly_counts_as_written(tmp_path):
    # mutants: `st_mtime <= since - _MTIME_SLACK_S` (the bound itself counted as stale) and
    # `_MTIME_SLACK_S = 3.0` (a file 2.5 s older than the run counted as written)
    import os

    since = 1000.0
    (tmp_path / "edge.csv").write_text("x\n")
    os.utime(tmp_path / "edge.csv", (since - 2.0, since - 2.0))
    (tmp_path / "stale.csv").write_text("x\n")
    os.utime(tmp_path / "stale.csv", (since - 2.5, since - 2.5))
    got = _repro._not_written(_script(("edge.csv", "stale.csv", "none.csv")), "quick",
                              tmp_path, since)  # fmt: skip
    assert got == ["stale.csv", "none.csv"]


def test_the_timings_csv_gets_its_folders(tmp_path):
    # mutant: `path.parent.mkdir(parents=False, ...)`: a --out whose parent folder does not
    # exist yet failed when the timings were written
    path = tmp_path / "new" / "data" / "repro_timings.csv"
    _repro._write_timings(path, [{"script": "a", "mode": "quick", "seconds": 1.0,
                                  "status": "ok"}], ["a"])  # fmt: skip
    assert path.read_text().splitlines() == ["script,mode,seconds,status", "a,quick,1.0,ok"]


def test_a_long_non_literal_declaration_is_quoted_to_60_characters(tmp_path):
    # mutant: `ast.unparse(value)[:61]`
    decl = "dict(" + ", ".join(f"k{i}={i}" for i in range(30)) + ")"
    (tmp_path / "toy.py").write_text(f"REPRO = {decl}\n")
    with pytest.raises(ValueError, match="must be a literal dict") as err:
        _repro.discover(tmp_path)
    assert str(err.value).endswith(f"not {decl[:60]!r}")


def test_claim_modules_are_imported_from_the_scripts_folder_first(tmp_path, monkeypatch):
    # mutants: `sys.path.insert(1, folder)` (a module of the same name earlier on sys.path
    # won) and `if not folder not in sys.path` (the folder was never added)
    import sys

    scripts, other = tmp_path / "scripts", tmp_path / "other"
    scripts.mkdir()
    other.mkdir()
    (scripts / "_toy_shadowed.py").write_text("def claims():\n    return 'scripts'\n")
    (other / "_toy_shadowed.py").write_text("def elsewhere():\n    pass\n")
    (scripts / "toy.py").write_text(
        'REPRO = {"default": True, "budget_s": {"quick": 1, "full": 2}, '
        '"outputs": ["data/toy.csv"], "claims": {"_toy_shadowed.claims": 1}}\n'
    )
    monkeypatch.setattr(sys, "path", [str(other), *sys.path])
    monkeypatch.delitem(sys.modules, "_toy_shadowed", raising=False)
    try:
        ((first, ref, fn),) = _repro.claim_functions(_repro.discover(scripts))
        assert (first, ref, fn()) == (1, "_toy_shadowed.claims", "scripts")
        assert sys.path[0] == str(scripts)
    finally:
        sys.modules.pop("_toy_shadowed", None)


# a figure script that waits, up to 60 s, for the test to create `go` before writing its CSV
WAITER = (
    'REPRO = {"default": True, "budget_s": {"quick": 1, "full": 2}, '
    '"outputs": ["data/toy.csv"], "claims": {}}\n'
    "import sys, time\nfrom pathlib import Path\n"
    "out, go = Path(sys.argv[sys.argv.index('--out') + 1]), Path(__file__).with_name('go')\n"
    "t0 = time.time()\n"
    "while not go.exists() and time.time() - t0 < 60:\n    time.sleep(0.05)\n"
    "(out / 'data' / 'toy.csv').write_text('x\\n')\n"
)


def _shown_while_waiting(go: Path, argv: list[str], line: bytes) -> bytes:
    """Run the runner through a plain pipe; the bytes it wrote by the time `line` came out
    (or 30 s passed), while a script waits for the file `go`."""
    import select
    import subprocess
    import sys

    code = "import sys; from pmdtheory import _repro; sys.exit(_repro.main(sys.argv[1:]))"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # a plain pipe
    proc = subprocess.Popen([sys.executable, "-c", code, *argv], stdout=subprocess.PIPE, env=env)
    seen, deadline = b"", time.monotonic() + 30
    try:
        while line not in seen and time.monotonic() < deadline:
            if select.select([proc.stdout], [], [], 0.5)[0]:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                seen += chunk
    finally:
        go.touch()
        rest, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, seen + rest
    return seen


def test_each_scripts_progress_line_shows_while_it_runs(tmp_path):
    # mutant: `print(f"[{i}/{len(names)}] {name} ...", end=" ", flush=False)`: through a pipe
    # (a log, CI) the line waited in the buffer until the script had finished
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "toy.py").write_text(WAITER)
    argv = ["--scripts", str(scripts), "--out", str(tmp_path / "out"), "--no-report"]
    assert b"[1/1] toy ..." in _shown_while_waiting(scripts / "go", argv, b"[1/1] toy ...")


def test_the_report_progress_line_shows_while_it_runs(tmp_path):
    # full run (session 8): `print("report ...", end=" ", flush=False)`
    go = tmp_path / "go"
    wait = f"import time\nwhile not os.path.exists({str(go)!r}):\n    time.sleep(0.05)\n"
    scripts, out = _report_only(tmp_path, wait)
    argv = ["--scripts", str(scripts), "--out", str(out)]
    assert b"report ..." in _shown_while_waiting(go, argv, b"report ...")


def test_the_total_is_the_time_the_scripts_took(tmp_path, capsys):
    # mutant: `total = time.perf_counter() + t_all` (seconds since an arbitrary origin)
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "toy.py").write_text(WAITER)
    (scripts / "go").touch()
    t0 = time.perf_counter()
    argv = ["--scripts", str(scripts), "--out", str(tmp_path / "out"), "--no-report"]
    assert _repro.main(argv) == 0
    wall = time.perf_counter() - t0
    line = [s for s in capsys.readouterr().out.splitlines() if s.startswith("figures: ")]
    total = float(line[0].removeprefix("figures: ").removesuffix(" s in total"))
    assert 0 <= total <= wall + 0.05  # printed to 0.1 s: a fast toy script shows 0.0


def test_a_failing_scripts_status_comes_before_its_output(tmp_path):
    # mutant: the status line printed with `flush=False`: with stdout and stderr in one
    # pipe (`2>&1 | tee log`), the script's output came out before the line naming it
    import subprocess
    import sys

    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "toy.py").write_text(WAITER.split("import sys")[0] + "raise SystemExit('boom')\n")
    code = "import sys; from pmdtheory import _repro; sys.exit(_repro.main(sys.argv[1:]))"
    argv = ["--scripts", str(scripts), "--out", str(tmp_path / "out"), "--no-report"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    res = subprocess.run([sys.executable, "-c", code, *argv], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=env, timeout=120)  # fmt: skip
    assert res.returncode == 1
    assert 0 <= res.stdout.index(b"failed (exit 1)") < res.stdout.index(b"boom"), res.stdout


def test_timings_of_scripts_not_rerun_are_kept(tmp_path):
    # mutant: `r.keys() > set(fields)`: a row with exactly the four columns was dropped
    path = tmp_path / "repro_timings.csv"
    path.write_text("script,mode,seconds,status\nold,full,3.5,ok\n")
    _repro._write_timings(path, [{"script": "new", "mode": "quick", "seconds": 1.0,
                                  "status": "ok"}], ["old", "new"])  # fmt: skip
    assert path.read_text().splitlines() == [
        "script,mode,seconds,status", "old,full,3.5,ok", "new,quick,1.0,ok"
    ]  # fmt: skip


def test_the_default_out_puts_the_report_beside_the_scripts(tmp_path, capsys):
    # mutant: `folder * "REPORT.md"`: only a run into the default --out (the checkout's
    # figures/) took that path, and no test ran one
    scripts, _ = _report_only(tmp_path, "sys.exit(0)")
    assert _repro.main(["--scripts", str(scripts)]) == 0
    assert (scripts / "REPORT.md").read_text() == "# report\n"
    assert (tmp_path / "figures" / "data" / "repro_timings.csv").is_file()
    assert not (tmp_path / "figures" / "REPORT.md").exists()
    assert capsys.readouterr().out.splitlines()[-1].endswith(f" s) -> {scripts / 'REPORT.md'}")


def test_the_repo_root_holds_the_package_and_the_scripts():
    # mutant: `.parents[2]` (the checkout's parent folder)
    root = _repro.repo_root()
    assert (root / "pmdtheory" / "_repro.py").is_file() and (root / "paper_repro").is_dir()


def test_a_script_declaration_cannot_be_changed_once_read():
    # mutant: `@dataclass(frozen=False)` on Script
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        _script(("a.csv",)).default = False
