"""``pmdtheory sweep`` (pmdtheory/cli/sweep.py): survivors of `make mutation` that showed
untested behaviour. Fast: Dask never starts, ``_execute`` is replaced by a stub that
raises or returns a report (tests/test_sweep.py runs real sweeps through the CLI).

Each test was checked to fail on the mutant named in its comment (tools/mutation.py, seed 0).
"""

import pytest

from pmdtheory.cli import sweep as cli
from pmdtheory.sim import sweeps
from pmdtheory.sim.sweeps import SweepReport

# a valid grid of 3 cells that _check_cells builds in milliseconds
TINY = ["--env", "bandit", "--contexts", "2", "--actions", "3", "--methods", "exact",
        "--iters", "1", "--seeds", "0-2"]  # fmt: skip


def _stub_execute(monkeypatch, result=None, exc=None, failed=()):
    """Replace the Dask runner; record its arguments. ``failed``: cells to report via on_error."""
    calls = []

    def fake(cells, out, **kwargs):
        calls.append((cells, out, kwargs))
        for p in failed:
            kwargs["on_error"](p, "ValueError: bad cell")
        if exc is not None:
            raise exc
        return result

    monkeypatch.setattr(sweeps, "_execute", fake)
    return calls


def _stub_grid(monkeypatch):
    """Record the grid that the CLI builds and stop before anything runs."""
    grids = []

    def fake(grid):
        grids.append(grid)
        raise ValueError("stop here")

    monkeypatch.setattr(sweeps, "expand_grid", fake)
    return grids


def test_empty_list_option_is_refused(capsys, tmp_path):
    # mutant: `if not not items:` (_grid): a list of only commas must be refused by name
    assert cli.main(["--tau", ", ,", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["pmdtheory sweep: error: --tau: expected a comma-separated list, got ', ,'"]


def test_valid_list_option_is_not_refused_as_empty(monkeypatch, capsys, tmp_path):
    # mutant: `if not not items:` (_grid): "0.1, 0.2" is a non-empty list
    grids = _stub_grid(monkeypatch)
    assert cli.main(["--tau", "0.1, 0.2", "--out", str(tmp_path / "x")]) == 2
    assert grids == [{"tau": [0.1, 0.2]}]
    assert "stop here" in capsys.readouterr().err


def test_help_starts_with_the_first_docstring_line(capsys):
    # mutant: `description=__doc__.split("\n")[1]` (_parser): the help lost its description
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps to the terminal width
    first = " ".join(cli.__doc__.split("\n")[0].replace("``", "").split())
    assert first.startswith("pmdtheory sweep: a grid of simulator runs")
    assert first in text and "``" not in text


@pytest.mark.parametrize(
    "argv, grid",
    [
        (["--tau", "0.1,0.2"], {"tau": [0.1, 0.2]}),
        (["--k", "4,8"], {"k": [4, 8]}),
        (
            ["--env", "bandit", "--methods", "exact,mean"],
            {"env": ["bandit"], "method": ["exact", "mean"]},
        ),
        (
            ["--contexts", "5", "--env-seed", "3", "--seeds", "0-4"],
            {"contexts": [5], "env_seed": [3], "seed": "0-4"},
        ),
    ],
)
def test_list_options_are_parsed_with_their_types(argv, grid, monkeypatch, tmp_path):
    # mutant: `kind = PARAMS[name][-1]` (_grid): values were converted with the default
    # value (not callable: TypeError) instead of the type of pmdtheory.sim.sweeps.PARAMS
    grids = _stub_grid(monkeypatch)
    assert cli.main([*argv, "--out", str(tmp_path / "x")]) == 2
    assert grids == [grid]
    for name, values in grids[0].items():
        if name != "seed":
            assert all(type(v) is sweeps.PARAMS[name][0] for v in values)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--k", "4.5"], "--k: expected comma-separated ints, got '4.5'"),
        (["--tau", "0.1,x"], "--tau: expected comma-separated floats, got '0.1,x'"),
    ],
)
def test_bad_list_value_names_option_and_type(argv, message, capsys, tmp_path):
    # mutant: `kind = PARAMS[name][-1]` (_grid): the error named no type (or escaped as TypeError)
    assert cli.main([*argv, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"pmdtheory sweep: error: {message}"]


def test_interrupt_before_anything_is_saved(monkeypatch, capsys, tmp_path):
    # mutants: `... if out.is_dir() else 1` and `return 131` / `return 129` (KeyboardInterrupt)
    _stub_execute(monkeypatch, exc=KeyboardInterrupt())
    out = tmp_path / "missing"
    assert cli.main([*TINY, "--out", str(out)]) == 130
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().splitlines() == [
        f"pmdtheory sweep: interrupted; 0 finished cells are saved in {out}, "
        "rerun the same command to resume"
    ]


def test_interrupt_counts_the_saved_cells(monkeypatch, capsys, tmp_path):
    # mutants: `return 131` / `return 129` (KeyboardInterrupt); the count is that of *.parquet
    _stub_execute(monkeypatch, exc=KeyboardInterrupt())
    out = tmp_path / "out"
    out.mkdir()
    for name in ("a.parquet", "b.parquet", ".c.123.tmp", "notes.txt"):
        (out / name).touch()
    assert cli.main([*TINY, "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert f"interrupted; 2 finished cells are saved in {out}," in err


@pytest.mark.parametrize(
    "exc, extra, message",
    [
        # mutant: `return 3` in `except ValueError`
        (ValueError("grid is odd"), [], "pmdtheory sweep: error: grid is odd"),
        # mutants: `return 3` / `return 1` in `except OSError`
        (OSError("disk full"), [], "pmdtheory sweep: error: --out {out}: disk full"),
        (
            OSError("refused"),
            ["--scheduler", "tcp://h:8786"],
            "pmdtheory sweep: error: --scheduler tcp://h:8786: refused",
        ),
        # mutant: `return 3` in `except ImportError` (as when dask is missing; not a survivor)
        (
            ImportError("No module named 'distributed'"),
            [],
            "pmdtheory sweep: error: No module named 'distributed'; "
            "install with pip install 'pmdtheory[sweep]'",
        ),
    ],
)
def test_errors_are_one_line_with_exit_code_2(exc, extra, message, monkeypatch, capsys, tmp_path):
    _stub_execute(monkeypatch, exc=exc)
    out = tmp_path / "out"
    assert cli.main([*TINY, *extra, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip().splitlines() == [message.format(out=out)]


def test_failed_cells_exit_1(monkeypatch, capsys, tmp_path):
    # mutant: `return 2` for failed cells (the last lines of main)
    out = tmp_path / "out"
    bad = {"env": "bandit", "seed": 1, "beta": None}
    # 3 run + 2 failed: full run (session 8), `n_done * len(failed)` also made 4 of 2 and 2
    report = SweepReport(out, 6, n_skipped=1, n_done=3, failed=[(bad, "x"), (bad, "y")])
    calls = _stub_execute(monkeypatch, result=report, failed=[bad])
    assert cli.main([*TINY, "--out", str(out), "--no-progress", "--workers", "2"]) == 1
    captured = capsys.readouterr()
    assert captured.out.strip().splitlines() == [
        f"6 cells in {out}: 3 run now, 1 already done, 2 failed"
    ]
    assert captured.err.strip().splitlines() == [
        "pmdtheory sweep: cell failed: env=bandit seed=1: ValueError: bad cell",
        "pmdtheory sweep: 2 of 5 cells failed (listed above); rerun to retry them",
    ]
    [(cells, got_out, kwargs)] = calls
    assert len(cells) == 3 and [p["seed"] for p in cells] == [0, 1, 2]
    assert str(got_out) == str(out)
    assert kwargs["progress"] is False and kwargs["n_workers"] == 2
    assert kwargs["errors"] == "report" and kwargs["scheduler"] is None


def test_no_failed_cells_exit_0(monkeypatch, capsys, tmp_path):
    # mutant: the final `return 1` instead of `return 0`: with none failed the exit code is 0
    out = tmp_path / "out"
    calls = _stub_execute(monkeypatch, result=SweepReport(out, 3, n_skipped=3))
    assert cli.main([*TINY, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip().splitlines() == [
        f"3 cells in {out}: 0 run now, 3 already done, 0 failed"
    ]
    assert captured.err == ""
    assert calls[0][2]["progress"] is None and calls[0][2]["n_workers"] is None


def test_parser_errors_and_a_worker_count_below_one_are_one_line(tmp_path, capsys):
    # (coverage, session 5: neither path was reached by a test)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--bogus"])
    assert exit_.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("pmdtheory sweep: error: ")
    argv = ["--env", "prompts", "--contexts", "4", "--actions", "3", "--seeds", "0",
            "--iters", "1", "--workers", "0", "--out", str(tmp_path / "o")]  # fmt: skip
    assert cli.main(argv) == 2
    assert capsys.readouterr().err == "pmdtheory sweep: error: --workers must be >= 1, got 0\n"


def test_out_is_required(monkeypatch, capsys):
    # held-out (seed 8): `required=False` let a sweep start with no folder for its cells
    calls = _stub_execute(monkeypatch)
    with pytest.raises(SystemExit) as info:
        cli.main(TINY)
    assert info.value.code == 2 and not calls
    assert capsys.readouterr().err == (
        "pmdtheory sweep: error: the following arguments are required: --out\n"
    )


def test_one_worker_is_a_valid_worker_count(monkeypatch, tmp_path):
    # full run (session 8): `args.workers < 2` refused --workers 1
    out = tmp_path / "out"
    calls = _stub_execute(monkeypatch, result=SweepReport(out, 3, n_skipped=3))
    assert cli.main([*TINY, "--out", str(out), "--workers", "1"]) == 0
    assert calls[0][2]["n_workers"] == 1
