"""The console script: `pmdtheory update`, error handling, and a lazy import."""

import subprocess
import sys

import pytest

from pmdtheory.cli import main


def test_update_prints_the_issue_example(capsys):
    assert main(["update", "--pi", "0.01,0.99", "--r", "1,0", "--tau", "0.05"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()]
    assert rows[1][:3] == ["0", "1", "0.01"]
    assert float(rows[1][3]) == pytest.approx(0.9999998, abs=5e-8)
    assert float(rows[1][4]) == pytest.approx(0.379, abs=5e-4)
    assert "beta_t" in out and "lambda" in out


@pytest.mark.parametrize("tau", ["1e-160", "1e-200"])
def test_update_tiny_tau_is_answered(tau, capsys):
    # issue 12: printed nan and exited 0; now the right answer (mpmath-checked in
    # tests/test_updates.py): the success action takes all the mass, beta_t -> p (1 - p) = 0.0099
    assert main(["update", "--pi", "0.01,0.99", "--r", "1,0", "--tau", tau]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines()]
    assert [float(x) for x in rows[1][3:5]] == [1.0, 1.0]
    assert [float(x) for x in rows[2][3:5]] == [0.0, 0.0]
    assert "nan" not in out
    beta = next(line for line in out.splitlines() if line.startswith("beta_t"))
    assert float(beta.split()[3]) == pytest.approx(0.0099, rel=1e-3)


@pytest.mark.parametrize(
    "argv",
    [
        ["update", "--pi", "0.5,0.6", "--r", "1,0", "--tau", "0.1"],
        ["update", "--pi", "0.5,0.5", "--r", "1,0", "--tau", "-1"],
        ["update", "--pi", "0.5,0.5", "--r", "1", "--tau", "0.1"],
        ["update", "--pi", "x", "--r", "1", "--tau", "0.1"],
        ["update", "--pi", "0.5,0.5"],
        ["frobnicate"],
        # issue 12: a tau whose 1/tau overflows float64 (1e-200 and 1e-160 printed nan before;
        # the core now answers them: test_update_tiny_tau_is_answered)
        ["update", "--pi", "0.01,0.99", "--r", "1,0", "--tau", "5e-324"],
        ["update", "--pi", "0.5,0.5", "--r", "1,0", "--tau", "nan"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("pmdtheory: error:") and "\n" not in err and "Traceback" not in err


def test_module_entry_point_and_lazy_import():
    # What keeps the import fast; its time, a ratio to `import numba`, is in
    # benchmarks/bench_core.py (a wall-clock budget here failed CI on a loaded machine)
    code = (
        "import sys, pmdtheory; "
        "heavy = [m for m in ('torch', 'sympy', 'pandas', 'matplotlib') if m in sys.modules]; "
        "print(heavy, len(pmdtheory._kernels._mean_batch.overloads))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] 0"  # no heavy module, no kernel compiled at import
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pmdtheory",
            "update",
            "--pi",
            "0.5,0.5",
            "--r",
            "1,0",
            "--tau",
            "1",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0 and "PMD-mean" in run.stdout


@pytest.mark.parametrize(
    "exc, code", [(KeyboardInterrupt, 130), (OSError, 2), (ValueError, 2), (RuntimeError, 1)]
)
def test_subcommand_errors_and_interrupts_are_one_line(monkeypatch, capsys, exc, code):
    """Whatever a delegated subcommand raises of these, the console script prints one
    line: exit 2 for errors, 130 for Ctrl-C."""
    import pmdtheory._repro

    def fail(argv):
        raise exc("no space left") if exc is not KeyboardInterrupt else exc()

    monkeypatch.setattr(pmdtheory._repro, "main", fail)
    assert main(["repro", "--quick"]) == code
    err = capsys.readouterr().err
    assert err.startswith("pmdtheory: ") and err.count("\n") == 1 and "Traceback" not in err


HEAVY = ("sympy", "pandas", "matplotlib", "torch", "pmdtheory.sim", "pmdtheory.plotting")


@pytest.mark.parametrize(
    "module, absent",
    [
        # the console script and its registry: every subcommand imports its heavy parts late
        ("pmdtheory.cli", HEAVY),
        # the simulators never import plotting (the simulate subcommand's plot lives in cli/)
        ("pmdtheory.sim", ("matplotlib", "pmdtheory.plotting", "pmdtheory.cli", "torch")),
    ],
)
def test_layers_import_nothing_heavy(module, absent):
    code = f"import sys, {module}; print([m for m in {absent!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_subcommand_is_one_module_in_the_registry(monkeypatch, capsys):
    """What the registry promises a new subcommand: listed by --help, dispatched with
    its own arguments, its errors made one line by the console script."""
    import types

    import pmdtheory.cli as cli

    calls = []

    def toy_main(argv):
        calls.append(argv)
        if argv == ["--fail"]:
            raise ValueError("--fail: toy failure")
        return 0

    toy = types.SimpleNamespace(NAME="toy", HELP="a toy subcommand", main=toy_main)
    monkeypatch.setattr(cli, "SUBCOMMANDS", (*cli.SUBCOMMANDS, toy))
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "a toy subcommand" in capsys.readouterr().out
    assert main(["toy", "--x", "1"]) == 0 and calls == [["--x", "1"]]
    assert main(["toy", "--fail"]) == 2
    assert capsys.readouterr().err == "pmdtheory: error: --fail: toy failure\n"
    names = [c.NAME for c in cli.SUBCOMMANDS]
    assert names[:4] == ["update", "derive", "simulate", "repro"]
