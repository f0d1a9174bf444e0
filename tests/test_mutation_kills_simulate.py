"""pmdtheory/cli/simulate.py: survivors of `make mutation` that showed untested behaviour.

Each test was checked to fail on the mutant named in its comment (tools/mutation.py, seed 0).
"""

import matplotlib
import numpy as np
import pandas as pd
import pytest

import pmdtheory.plotting
import pmdtheory.sim
from pmdtheory.cli.simulate import main
from pmdtheory.plotting import method_style


def _refused(tmp_path, capsys, argv):
    """Run ``main(argv)`` where the arguments must be refused before any simulation."""
    code = main(argv + ["--iters", "1", "--out", str(tmp_path / "x.csv")])
    captured = capsys.readouterr()
    assert code == 2 and captured.out == "" and not (tmp_path / "x.csv").exists()
    return captured.err


def test_too_large_mdp_message_states_two_gib(tmp_path, capsys, monkeypatch):
    # mutant: `f"take more than {_MDP_BYTES / 2*30:.0f} GiB"` (and `/ 1**30`): the
    # message stated 32212254720 GiB (or 2147483648 GiB) instead of _MDP_BYTES = 2 GiB
    monkeypatch.setattr(pmdtheory.sim, "run", None)  # never reached
    err = _refused(tmp_path, capsys, ["--env", "mdp", "--contexts", "10000"])
    assert err == (
        "pmdtheory simulate: error: --contexts: a 10000-state MDP's transition tensor "
        "(S x A x S) would take more than 2 GiB\n"
    )


def test_final_values_printed_are_those_of_the_last_iteration(tmp_path, capsys):
    # mutant: `last = df[df["iter"] != df["iter"].max()].groupby("method", sort=False)`:
    # the summary printed the mean over all earlier iterations instead of the final one
    out = tmp_path / "res.csv"
    argv = ["--env", "prompts", "--methods", "exact,mean", "--contexts", "40"]
    argv += ["--actions", "6", "--iters", "3", "--seed", "0,1", "--out", str(out)]
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    df = pd.read_csv(out)
    final = df[df["iter"] == 3].groupby("method", sort=False)["reward_mean"].mean()
    assert lines[0] == f"wrote {out} ({len(df)} rows); final reward_mean:"
    assert lines[1:] == [f"  {name:<16} {value:.6g}" for name, value in final.items()]
    # the final values differ from the earlier ones, so the check has teeth
    assert not np.allclose(final, df[df["iter"] < 3].groupby("method")["reward_mean"].mean())


METHODS = ("exact", "mean")


@pytest.fixture
def figures(monkeypatch):
    """Record the figures that :func:`pmdtheory.plotting.figure` creates."""
    made, figure = [], pmdtheory.plotting.figure

    def recording(*args, **kwargs):
        fig, axes = figure(*args, **kwargs)
        made.append(fig)
        return fig, axes

    monkeypatch.setattr(pmdtheory.plotting, "figure", recording)
    return made


@pytest.mark.parametrize(
    "env, col, scale", [("mdp", "subopt", "log"), ("prompts", "reward_mean", "linear")]
)
def test_plot_left_panel_mdp_suboptimality_on_log_scale(tmp_path, figures, env, col, scale):
    # mutant: `if not mdp:` (plot): MDPs got a linear plot of reward_mean, and the other
    # environments a log plot of subopt
    matplotlib.use("Agg")
    out, fig = tmp_path / "res.csv", tmp_path / "res.png"
    argv = ["--env", env, "--methods", ",".join(METHODS), "--contexts", "8", "--actions", "3"]
    assert main(argv + ["--iters", "4", "--out", str(out), "--plot", str(fig)]) == 0
    assert fig.stat().st_size > 1000 and len(figures) == 1
    ax0 = figures[0].axes[0]
    assert ax0.get_yscale() == scale
    assert ax0.get_ylabel() == ("suboptimality" if env == "mdp" else "mean reward")
    df = pd.read_csv(out)
    lines = ax0.get_lines()
    assert [line.get_label() for line in lines] == [method_style(m)["label"] for m in METHODS]
    for line, method in zip(lines, METHODS, strict=True):
        expected = df[df["method"] == method].groupby("iter")[col].mean()
        np.testing.assert_allclose(line.get_xdata(), expected.index)
        np.testing.assert_allclose(line.get_ydata(), expected.to_numpy())


def test_contexts_limit_applies_to_gridworld_only(tmp_path, capsys):
    # mutant: `if args.env == "gridworld" and args.contexts is not None or args.contexts > 64**2:`
    # refused every gridworld given --contexts, and --env prompts with more than 4096
    # contexts (and raised TypeError when --contexts was omitted)
    out = tmp_path / "p.csv"
    argv = ["--env", "prompts", "--contexts", "5000", "--actions", "2", "--methods", "exact"]
    assert main(argv + ["--iters", "1", "--out", str(out)]) == 0
    assert len(pd.read_csv(out)) == 2
    argv = ["--env", "gridworld", "--contexts", "9", "--methods", "exact", "--iters", "1"]
    assert main(argv + ["--out", str(out)]) == 0
    assert capsys.readouterr().err == ""
    err = _refused(tmp_path, capsys, ["--env", "gridworld", "--contexts", "5000"])
    assert (
        err
        == "pmdtheory simulate: error: --contexts must be <= 4096 for --env gridworld, got 5000\n"
    )


def test_mdp_size_limit_counts_s_squared_times_a(tmp_path, capsys):
    # mutant: `... (args.contexts or 20) ** 3 * (args.actions or 4) * 8 > _MDP_BYTES`:
    # a 700-state, 1-action MDP (700^2 * 8 bytes, 4 MB) was refused as if it took 700^3 * 8
    out = tmp_path / "m.csv"
    argv = ["--env", "mdp", "--contexts", "700", "--actions", "1", "--methods", "exact"]
    assert main(argv + ["--iters", "1", "--out", str(out)]) == 0
    assert capsys.readouterr().err == ""
    assert len(pd.read_csv(out)) == 2
