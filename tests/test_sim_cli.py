"""Tests for ``pmdtheory simulate`` (pmdtheory.sim.cli)."""

import pandas as pd
import pytest

from pmdtheory.sim import COLUMNS
from pmdtheory.sim.cli import main


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
        (["--env", "mdp", "--contexts", "0"], "n_states"),
        (["--staleness", "-1", "--methods", "mean_sampled"], "staleness"),
    ],
)
def test_bad_arguments_one_line_exit_2(tmp_path, capsys, argv, text):
    if "--contexts" not in argv:
        argv = argv + ["--contexts", "5"]
    assert main(argv + ["--iters", "1", "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and text in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [["--iters", "x", "--out", "a.csv"], ["--env", "moon"], []])
def test_argparse_errors_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1
