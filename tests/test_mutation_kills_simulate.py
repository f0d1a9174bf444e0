"""pmdtheory/cli/simulate.py: survivors of `make mutation` that showed untested behaviour.

Each test was checked to fail on the mutant named in its comment (tools/mutation.py, seed 0).
"""

import matplotlib
import numpy as np
import pandas as pd
import pytest

import pmdtheory.plotting
import pmdtheory.sim
from pmdtheory.cli.simulate import main, plot
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
        "pmdtheory simulate: error: --contexts: a 10000-state, 4-action MDP's transition tensor "
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
def test_plot_panels_reward_or_suboptimality_and_kl_steps(tmp_path, figures, env, col, scale):
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
    # the right panel: the KL step from iteration 1 on, with rounding noise (<= 1e-15) left
    # out (held-out seed 5 mutant: `kl < 1e-15` drew only the noise)
    ax1 = figures[0].axes[1]
    assert ax1.get_yscale() == "log"
    for line, method in zip(ax1.get_lines(), METHODS, strict=True):
        kl = df[df["method"] == method].groupby("iter")["kl_prev"].mean().iloc[1:]
        assert (kl > 1e-15).sum() >= 2
        np.testing.assert_allclose(line.get_xdata(), kl.index)
        np.testing.assert_allclose(line.get_ydata(), kl.where(kl > 1e-15).to_numpy())


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


# The tests below were checked against a cosmic-ray sample (seed 1) of the same module.


def _history(methods=METHODS, iters=3):
    """A small ``run``-shaped frame: the columns :func:`plot` reads, without a simulation."""
    rows = [
        {"method": m, "iter": t, "reward_mean": 0.5 + 0.1 * t, "subopt": 0.5**t,
         "kl_prev": 0.0 if t == 0 else 0.01 * (i + 1) / t}
        for i, m in enumerate(methods)
        for t in range(iters + 1)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_plot_mdp_is_keyword_only(tmp_path):
    # mutant: `def plot(df, path, /, mdp=False):`: mdp could be passed positionally (and df,
    # path could no longer be passed by keyword)
    matplotlib.use("Agg")
    from pmdtheory.cli.simulate import plot

    path = tmp_path / "kw.png"
    assert plot(df=_history(), path=path, mdp=True) == [path]
    assert path.stat().st_size > 1000
    with pytest.raises(TypeError):
        plot(_history(), tmp_path / "pos.png", True)
    assert not (tmp_path / "pos.png").exists()


@pytest.mark.parametrize("fmt", ["pdf", "svg", "png"])
def test_plot_pdf_has_no_creation_date_and_every_format_is_written(tmp_path, fmt):
    # mutant: `metadata={"CreationDate": None} if fmt != "pdf" else {}`: the PDF got a
    # creation date (not byte-stable across reruns), and the SVG writer refused the
    # CreationDate key (ValueError: unknown metadata key)
    matplotlib.use("Agg")
    from pmdtheory.cli.simulate import plot

    first, second = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
    assert plot(_history(), first) == [first]
    assert plot(_history(), second) == [second]
    data = first.read_bytes()
    assert len(data) > 1000
    if fmt == "pdf":
        assert data.startswith(b"%PDF") and b"/CreationDate" not in data
        assert data == second.read_bytes()


def test_gridworld_contexts_limit_is_64_squared(tmp_path, capsys, monkeypatch):
    # mutant: `... and args.contexts > 64*2:`: a gridworld with more than 128 contexts (here
    # 200, and the largest allowed, 4096 = a 64 x 64 grid) was refused
    sizes, gridworld = [], pmdtheory.sim.TabularMDP.gridworld

    def small_gridworld(size, **kwargs):  # record the requested side, build a small grid
        sizes.append(size)
        return gridworld(min(size, 3), **kwargs)

    monkeypatch.setattr(pmdtheory.sim.TabularMDP, "gridworld", small_gridworld)
    out = tmp_path / "g.csv"
    for contexts in ("200", "4096"):
        argv = ["--env", "gridworld", "--contexts", contexts, "--methods", "exact"]
        assert main(argv + ["--iters", "1", "--out", str(out)]) == 0, contexts
        assert capsys.readouterr().err == ""
        assert len(pd.read_csv(out)) == 2
    assert sizes == [14, 64]  # round(sqrt(contexts)) states a side
    err = _refused(tmp_path, capsys, ["--env", "gridworld", "--contexts", "4097"])
    assert (
        err
        == "pmdtheory simulate: error: --contexts must be <= 4096 for --env gridworld, got 4097\n"
    )
    assert sizes == [14, 64]


def test_default_sizes_are_those_the_help_states(tmp_path, capsys, monkeypatch):
    # mutant: `_SIZES = {"prompts": (1001, 64), ...}`: without --contexts the environment
    # was not the documented default size ("gridworld": (26, 4) is equivalent: 26 states
    # round to the same 5 x 5 grid, allow-listed)
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--contexts CONTEXTS prompts / contexts / states (default 1000, 1000, 20, 25)" in (
        help_text
    )
    assert "--actions ACTIONS responses / actions per context (default 64, 10, 4)" in help_text

    envs, run = [], pmdtheory.sim.run

    def recording(env, *args, **kwargs):
        envs.append(env)
        return run(env, *args, **kwargs)

    monkeypatch.setattr(pmdtheory.sim, "run", recording)
    out = tmp_path / "d.csv"
    for env in ("prompts", "bandit", "mdp", "gridworld"):
        argv = ["--env", env, "--methods", "exact", "--iters", "0", "--out", str(out)]
        assert main(argv) == 0, env
    assert capsys.readouterr().err == ""
    # the gridworld's 25 states are a 5 x 5 grid, 4 actions (the moves)
    assert [e.shape for e in envs] == [(1000, 64), (1000, 10), (20, 4), (25, 4)]


def test_option_defaults_are_those_of_sim_run():
    # held-out (seed 2) mutant: --k's default 16 -> 17; `pmdtheory simulate` without options
    # should run what pmdtheory.sim.run runs by default
    import inspect

    from pmdtheory.cli.simulate import _parser

    params = inspect.signature(pmdtheory.sim.run).parameters
    shared = [a for a in _parser()._actions if a.dest in params and a.dest != "env"]
    assert {a.dest for a in shared} >= {"iters", "seed", "tau", "k", "fit_steps", "clip"}
    for action in shared:
        default = action.default if action.dest != "seed" else int(action.default)
        assert default == params[action.dest].default, action.dest


def test_a_tau_that_is_not_a_number_is_one_line(capsys):
    # (coverage, session 5: reached by no test)
    with pytest.raises(SystemExit) as exit_:
        main(["--tau", "abc"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith("argument --tau: expected a number, got 'abc'")


def test_plot_gives_a_method_without_a_house_style_its_name_and_a_colour(tmp_path, figures):
    # (coverage, session 5) a method outside METHOD_STYLES takes the next spare colour
    matplotlib.use("Agg")
    df = pd.DataFrame([{"method": m, "iter": i, "reward_mean": 0.1 * i, "kl_prev": 0.01 / (i + 1)}
                       for m in ("exact", "custom_a", "custom_b") for i in range(3)])  # fmt: skip
    plot(df, tmp_path / "p.png")
    ax0 = figures[0].axes[0]
    lines = {line.get_label(): line for line in ax0.get_lines()}
    assert lines[method_style("exact")["label"]].get_color() == method_style("exact")["color"]
    assert (lines["custom_a"].get_color(), lines["custom_a"].get_linestyle()) == ("#000000", ":")
    assert (lines["custom_b"].get_color(), lines["custom_b"].get_linestyle()) == ("#009E73", "-.")


def test_help_describes_the_command_by_its_docstring_summary(capsys):
    # held-out (seed 7) mutant: the description from the docstring's last line (empty)
    with pytest.raises(SystemExit):
        main(["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "pmdtheory simulate: run the simulators from the shell, write a CSV and a plot" in (
        help_text
    )
    assert "``" not in help_text  # RST markup is not for a terminal


def test_mdp_size_check_counts_the_default_four_actions(tmp_path, capsys, monkeypatch):
    # held-out (seed 7) mutant: `(args.actions or 5)` sized a default MDP as 5 actions, not
    # the 4 it is built with; with the limit at exactly the 20 x 4 x 20 default tensor, the
    # default must be accepted (the real 2 GiB limit sits at ~8,000 states)
    import pmdtheory.cli.simulate as cli

    monkeypatch.setattr(cli, "_MDP_BYTES", 20**2 * 4 * 8)
    out = tmp_path / "m.csv"
    assert main(["--env", "mdp", "--methods", "exact", "--iters", "0", "--out", str(out)]) == 0
    assert capsys.readouterr().err == ""
    err = _refused(tmp_path, capsys, ["--env", "mdp", "--contexts", "21"])
    assert "--contexts: a 21-state, 4-action MDP" in err


def test_mdp_size_check_counts_the_default_20_states(tmp_path, capsys, monkeypatch):
    # full run (session 9): `(args.contexts or 20)` -> `19` sized a default MDP as 19
    # states; 671,089 actions are the fewest whose 20 x A x 20 float64 tensor exceeds 2 GiB
    # (19 states would take 1.8 GiB). The message named the state count "None".
    import pmdtheory.cli.simulate as cli

    monkeypatch.setattr(cli, "_env", lambda args: pytest.fail("the 2 GiB MDP was built"))
    err = _refused(tmp_path, capsys, ["--env", "mdp", "--actions", "671089"])
    assert "--contexts: a 20-state, 671089-action MDP's transition tensor" in err
    assert 20**2 * 671088 * 8 <= 2 * 2**30 < 20**2 * 671089 * 8


def test_plot_keeps_the_methods_order_and_leaves_out_kl_at_1e_15(tmp_path, figures):
    # full run (session 9): `groupby("method", sort=False)` -> `sort=True` drew the methods
    # alphabetically (every test's methods were in that order already), and `kl > 1e-15`
    # -> `>=` drew a KL of exactly 1e-15, which the plot documents as rounding noise
    matplotlib.use("Agg")
    kls = [0.0, 1e-15, 2e-15, 1e-3]
    df = pd.DataFrame([{"method": m, "iter": i, "reward_mean": 0.1 * i, "kl_prev": kl}
                       for m in ("mean", "exact") for i, kl in enumerate(kls)])  # fmt: skip
    plot(df, tmp_path / "p.png")
    ax0, ax1 = figures[0].axes
    want = [method_style(m)["label"] for m in ("mean", "exact")]
    assert [line.get_label() for line in ax0.get_lines()] == want
    for line in ax1.get_lines():
        np.testing.assert_array_equal(line.get_ydata(), [np.nan, 2e-15, 1e-3])


def test_plot_makes_every_missing_folder(tmp_path, figures):
    # full run (session 9): plot's `mkdir(parents=True)` -> `parents=False` (main checks
    # the path first and makes the folders, so only a direct call of plot can tell)
    matplotlib.use("Agg")
    df = pd.DataFrame([{"method": "exact", "iter": i, "reward_mean": 0.1 * i, "kl_prev": 0.1}
                       for i in range(3)])  # fmt: skip
    (path,) = plot(df, tmp_path / "new" / "deeper" / "p.png")
    assert path.stat().st_size > 1000


def test_an_os_error_without_strerror_is_quoted_whole(tmp_path, monkeypatch):
    # full run (session 9): `exc.strerror or exc` -> `and` printed "(None)" for an OSError
    # that carries only a message
    import pmdtheory.cli.simulate as cli

    def refuse(*args, **kwargs):
        raise OSError("quota exceeded")

    monkeypatch.setattr(cli, "open", refuse, raising=False)
    with pytest.raises(ValueError, match=r"^--out: cannot write .*x\.csv \(quota exceeded\)$"):
        cli._check_writable(tmp_path / "x.csv", "--out")


def test_the_write_check_keeps_an_existing_file_and_leaves_no_new_one(tmp_path):
    # full run (session 9): `if not existed:` -> `if existed:` removed the user's file
    # and left the new one behind
    import pmdtheory.cli.simulate as cli

    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    old.write_text("kept\n")
    cli._check_writable(old, "--out")
    cli._check_writable(new, "--out")
    assert old.read_text() == "kept\n" and not new.exists()


@pytest.mark.parametrize(("contexts", "side"), [(1, 2), (4, 2), (9, 3), (10, 3)])
def test_a_gridworld_is_the_square_nearest_contexts_and_at_least_2_by_2(contexts, side):
    # full run (session 9): `max(2, ...)` -> `max(1, ...)` or `max(3, ...)`
    import argparse

    import pmdtheory.cli.simulate as cli

    args = argparse.Namespace(env="gridworld", contexts=contexts, actions=None, env_seed=0)
    assert cli._env(args).P.shape == (side**2, 4, side**2)


def test_the_environment_seed_defaults_to_0():
    # full run (session 9): `--env-seed` default 0 -> 1
    import pmdtheory.cli.simulate as cli

    assert cli._parser().get_default("env_seed") == 0


def test_the_write_check_makes_every_missing_folder(tmp_path):
    # full run (session 9): `mkdir(parents=True)` -> `parents=False` in the check
    import pmdtheory.cli.simulate as cli

    cli._check_writable(tmp_path / "new" / "deeper" / "x.csv", "--out")
    assert (tmp_path / "new" / "deeper").is_dir()


def test_final_values_are_printed_in_the_order_of_methods(tmp_path, capsys):
    # full run (session 9): the summary's `groupby("method", sort=False)` -> `sort=True`
    # (the test above gives its methods in alphabetical order)
    out = tmp_path / "res.csv"
    argv = ["--env", "bandit", "--methods", "mean,exact", "--contexts", "8", "--actions", "3"]
    assert main(argv + ["--iters", "1", "--out", str(out)]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert names == ["mean", "exact"]
