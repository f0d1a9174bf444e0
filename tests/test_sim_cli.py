"""Tests for ``pmdtheory simulate`` (pmdtheory.cli.simulate)."""

import pandas as pd
import pytest

import pmdtheory.sim
from pmdtheory.cli.simulate import main
from pmdtheory.sim import COLUMNS


def _one_line(err):
    return err.count("\n") == 1 and "Traceback" not in err and err.startswith("pmdtheory")


@pytest.fixture
def no_simulation(monkeypatch):
    """Make any simulation fail loudly: output checks must come before the work."""

    def boom(*args, **kwargs):
        raise AssertionError("the simulation ran before the arguments were checked")

    monkeypatch.setattr(pmdtheory.sim, "run", boom)


def test_simulate_writes_csv_and_plot(tmp_path, capsys):
    out, fig = tmp_path / "res.csv", tmp_path / "res.png"
    argv = ["--env", "prompts", "--methods", "exact,mean,part_sampled,mean_sampled"]
    argv += ["--iters", "4", "--contexts", "60", "--actions", "8", "--seed", "0,1"]
    argv += ["--out", str(out), "--plot", str(fig)]
    assert main(argv) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == 4 * 2 * 5  # methods x seeds x (iters + 1)
    assert set(df["seed"]) == {0, 1}
    assert fig.stat().st_size > 1000
    final = df[df["iter"] == 4].groupby("method")["reward_mean"].mean()
    # exact PMD is the most aggressive population step on binary rewards (THEORY §6)
    assert final["exact"] >= final["mean"] > df["reward_mean"].iloc[0]
    assert "wrote" in capsys.readouterr().out


def test_simulate_mdp(tmp_path):
    out = tmp_path / "mdp.csv"
    argv = ["--env", "mdp", "--contexts", "8", "--actions", "3", "--methods", "exact,mean"]
    assert main(argv + ["--iters", "5", "--out", str(out), "--plot", str(tmp_path / "m.pdf")]) == 0
    df = pd.read_csv(out)
    assert df.groupby("method")["subopt"].apply(lambda s: s.is_monotonic_decreasing).all()


@pytest.mark.parametrize(
    "argv, text",
    [
        (["--methods", "exact,bogus"], "method"),
        (["--tau", "0"], "tau"),
        (["--seed", "a"], "--seed"),
        (["--plot", "x.gif"], "--plot"),
        (["--env", "mdp", "--contexts", "0"], "--contexts"),
        (["--methods", "grpo", "--eps", "0"], "eps"),
        (["--methods", "grpo", "--tau", "1e-320"], "tau"),
        (["--env", "prompts", "--actions", "1"], "--actions"),
        (["--staleness", "-1", "--methods", "mean_sampled"], "staleness"),
    ],
)
def test_bad_arguments_one_line_exit_2(tmp_path, capsys, argv, text):
    if "--contexts" not in argv:
        argv = argv + ["--contexts", "5"]
    try:
        code = main(argv + ["--iters", "1", "--out", str(tmp_path / "x.csv")])
    except SystemExit as exc:  # argparse's own check of a flag
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and text in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--iters", "x", "--out", "a.csv"], ["--env", "moon"], []])
def test_argparse_errors_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


@pytest.mark.parametrize(
    "argv",
    [["--contexts", "-5"], ["--iters", "-1"], ["--k", "0"], ["--tau", "nan"], ["--seed", ","]],
)
def test_bad_numbers_fail_before_work(tmp_path, capsys, no_simulation, argv):
    try:
        code = main(argv + ["--out", str(tmp_path / "x.csv")])
    except SystemExit as exc:
        code = exc.code
    assert code == 2 and _one_line(capsys.readouterr().err)


def test_unwritable_outputs_fail_before_work(tmp_path, capsys, no_simulation):
    """Issue 12: --out below a file, --out a folder, --plot unwritable: one line, exit 2,
    and no simulation (the fixture fails the test if one starts)."""
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    ok = str(tmp_path / "ok.csv")
    cases = [
        (["--out", str(blocker / "res.csv")], "--out"),
        (["--out", str(tmp_path)], "--out"),
        (["--out", ok, "--plot", str(blocker / "fig.png")], "--plot"),
        (["--out", ok, "--plot", str(tmp_path / "dir.png" / "")], "--plot"),
    ]
    (tmp_path / "dir.png").mkdir()
    for argv, flag in cases:
        assert main(argv + ["--contexts", "5", "--iters", "1"]) == 2, argv
        err = capsys.readouterr().err
        assert _one_line(err) and flag in err, err
    assert not (tmp_path / "ok.csv").exists()  # the check leaves no empty file behind


@pytest.mark.parametrize(
    "exc, code", [(KeyboardInterrupt, 130), (OSError, 2), (ValueError, 2), (SystemError, 1)]
)
def test_interrupts_and_errors_are_one_line(tmp_path, capsys, monkeypatch, exc, code):
    def fail(*args, **kwargs):
        raise exc("disk full") if exc is not KeyboardInterrupt else exc()

    monkeypatch.setattr(pmdtheory.sim, "run", fail)
    assert main(["--contexts", "5", "--iters", "1", "--out", str(tmp_path / "x.csv")]) == code
    assert _one_line(capsys.readouterr().err)


def test_simulate_grpo_methods(tmp_path):
    out = tmp_path / "g.csv"
    argv = ["--methods", "grpo,grpo_regression", "--contexts", "30", "--actions", "6"]
    assert main(argv + ["--iters", "3", "--fit-steps", "2", "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert set(df["method"]) == {"grpo", "grpo_regression"}
