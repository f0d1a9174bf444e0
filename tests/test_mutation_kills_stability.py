"""paper_repro/stability.py: its grids and what its panels draw (survivors of `make mutation`).

The figure script's ``main`` is run in ``--quick`` mode with the simulator replaced by a
fast stand-in (the simulator has its own tests; this checks which rows reach which
panel) and ``finish`` replaced by a capture, so nothing is written. Each test was checked
to fail on the mutant named in its comment (tools/mutation.py, seed 0).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_report_rules import _load

st = _load("stability")


def test_tau_grids_as_documented():
    # mutant: TAUS = (-0.99, 0.02, ...). The docstring: {0, 1} rewards for tau from 0.01 to
    # 1; +-1 runs at tau compared with the {0, 1} runs at tau / 2; stale runs at two taus.
    taus = np.array(st.TAUS)
    assert taus[0] == 0.01 and taus[-1] == 1.0 and np.all(np.diff(taus) > 0)
    assert all(np.isclose(taus, t / 2).any() for t in st.TAUS_PM1)
    assert set(st.STALE_TAUS) <= set(st.TAUS)


CALLS: list[dict] = []  # (scale, tau, k, staleness) of every simulator call
FAKE_P0: list = []
ENVS: dict = {}  # the environment main built for each reward scale (last call)


def _fake_run(env, methods, *, iters, tau, k, seed, staleness, per_prompt, diagnostics,
              progress):  # fmt: skip
    """Frames shaped like pmdtheory.sim.run's (per_prompt=True): final reward p0 + a shift
    that depends on the method, tau, k and the staleness."""
    # the script reads per-prompt rows, no diagnostic columns, and prints no progress bars
    assert per_prompt is True and diagnostics is False and progress is False
    pm1 = type(env).__name__ == "Bandit"
    n_prompts, n_responses = env.R.shape
    CALLS.append({"scale": "pm1" if pm1 else "01", "tau": tau, "k": k, "staleness": staleness,
                  "iters": iters, "prompts": n_prompts, "responses": n_responses,
                  "seeds": tuple(seed)})  # fmt: skip
    ENVS["pm1" if pm1 else "01"] = env
    p0 = np.asarray(FAKE_P0)
    n, it = p0.size, np.arange(iters + 1)
    s_parts, pp_parts = [], []
    for mi, method in enumerate(methods):
        for sd in seed:
            s_parts.append(pd.DataFrame({"method": method, "seed": sd, "iter": it,
                                         "kl_prev": 0.01 * k * (1 + tau)}))  # fmt: skip
            p = np.clip(p0 + 0.01 * (mi + 1) - 0.001 * staleness + 0.02 * tau + 1e-4 * k, 0, 1)
            pp_parts.append(pd.DataFrame({"method": method, "seed": sd, "iter": iters,
                                          "context": np.arange(n),
                                          "reward": 2 * p - 1 if pm1 else p}))  # fmt: skip
    return pd.concat(s_parts, ignore_index=True), pd.concat(pp_parts, ignore_index=True)


def _main(argv):
    mp = pytest.MonkeyPatch()
    captured = {}
    env = st.PromptPopulation.random(1000 if "--quick" not in argv else 150, 32, seed=0)
    FAKE_P0[:] = list(env.p0)
    CALLS.clear()
    mp.setattr(st, "run", _fake_run)
    mp.setattr(st, "finish", lambda fig, df, name, args: captured.update(fig=fig, df=df))
    try:
        st.main(argv)
    finally:
        mp.undo()
    return captured["fig"], captured["df"], pd.DataFrame(CALLS)


@pytest.fixture(scope="module")
def quick_figure():
    return _main(["--quick"])


@pytest.fixture(scope="module")
def full_figure():
    return _main([])


@pytest.fixture(scope="module")
def full_calls(full_figure):
    return full_figure[2]


def test_quick_runs_are_points_of_the_full_figure(quick_figure, full_calls):
    # mutant: the full run's staleness grid (0, 1, 2, 4) -> (0, 1, 2, 3): the smoke run's
    # staleness 4 would not be a point of the paper figure
    key = ["scale", "tau", "k", "staleness"]
    full = set(map(tuple, full_calls[key].to_numpy().tolist()))
    quick = set(map(tuple, quick_figure[2][key].to_numpy().tolist()))
    assert quick <= full, quick - full


def test_on_policy_grid_runs_at_staleness_zero(full_calls):
    # mutant: the on-policy configurations run with staleness 1
    on = full_calls[full_calls.staleness == 0]
    for scale, taus in (("01", st.TAUS), ("pm1", st.TAUS_PM1)):
        got = set(map(tuple, on[on.scale == scale][["tau", "k"]].to_numpy().tolist()))
        assert got == {(t, k) for t in taus for k in st.KS}, scale
    stale = full_calls[full_calls.staleness > 0]
    assert set(stale.k) == {st.STALE_K} and set(stale.tau) == set(st.STALE_TAUS)


def test_ci_halfwidth_is_scipys_t_interval():
    # mutant: `t.ppf(...) + sd / sqrt(n)` instead of the product
    from scipy import stats

    x = np.array([0.1, 0.4, 0.35, 0.8, 0.2])
    lo, hi = stats.t.interval(0.95, x.size - 1, loc=x.mean(), scale=stats.sem(x))
    assert st.ci_halfwidth(x) == pytest.approx((hi - lo) / 2, rel=1e-12)
    with warnings.catch_warnings():  # mutant `x.size < 1`: NaN too, but numpy warns
        warnings.simplefilter("error")
        assert np.isnan(st.ci_halfwidth(np.array([0.3])))
    # two values, one degree of freedom: mutants `x.size <= 2` and `< 3` made it NaN
    assert st.ci_halfwidth(np.array([0.2, 0.4])) == pytest.approx(
        stats.t.ppf(0.975, 1) * 0.1, rel=1e-12
    )


def _xy(container):
    line = container.lines[0]
    return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)


def test_panels_a_and_b_plot_their_own_column(quick_figure):
    # mutant: `axes[0, -1]` for panel a (both columns drawn into panel b)
    fig, df, _ = quick_figure
    a, b = fig.axes[0], fig.axes[1]
    want = 2 * 2 * 2  # two k x two methods x ({0, 1} line, +-1 markers)
    assert len(a.containers) == want and len(b.containers) == want
    on = df[(df.staleness == 0) & (df.scale == "01")]
    for ax, col in ((a, "hard_frac_backwards"), (b, "final_success")):
        lines = [_xy(c) for c in ax.containers if len(_xy(c)[0]) > 1]
        means = on.groupby(["k", "method", "tau"])[col].mean().to_numpy()
        assert lines and all(np.isin(y, means).all() for _, y in lines), col


def test_panel_c_plots_the_stale_runs(quick_figure):
    # mutant: `df.scale != "01"` in panel c's selection (no stale run is +-1: empty lines)
    fig, df, _ = quick_figure
    c = fig.axes[2]
    assert len(c.containers) == 2 * 2  # two stale taus x two methods
    for cont in c.containers:
        x, y = _xy(cont)
        assert x.tolist() == [0, 4] and np.isfinite(y).all()  # the quick run's staleness


def test_panel_a_fraction_axis_starts_at_zero(quick_figure):
    # held-out (seed 1) mutant: the y limit meant for panel a set on panel c. A fraction of
    # prompts: panel a shows 0 just above its bottom edge
    fig, _, _ = quick_figure
    bottom = fig.axes[0].get_ylim()[0]
    assert -0.02 <= bottom <= 0.0, bottom


def test_pm1_runs_use_the_same_prompts_with_rewards_2r_minus_1(quick_figure):
    # held-out (seed 1) mutant: `Bandit(2.0 * env.R + 1.0, ...)` (rewards {1, 3}). The
    # docstring: the same prompts as a Bandit with R = 2 correct - 1
    env01, pm1 = ENVS["01"], ENVS["pm1"]
    np.testing.assert_array_equal(np.asarray(pm1.R), 2.0 * np.asarray(env01.R) - 1.0)
    assert set(np.unique(pm1.R)) <= {-1.0, 1.0}


def test_run_sizes_as_documented(quick_figure, full_calls):
    # held-out (seed 2) mutants: the full run's 30 iterations -> 31, and 32 responses per
    # prompt -> 31. The docstring: 32 responses each; 1000 prompts and 30 iterations
    # (--quick: 150 and 8)
    for calls, prompts, iters in ((full_calls, 1000, 30), (quick_figure[2], 150, 8)):
        assert set(calls.prompts) == {prompts} and set(calls.iters) == {iters}
        assert set(calls.responses) == {32}


def test_panels_a_and_c_carry_the_legends_in_one_size(quick_figure):
    # held-out (seed 2) mutants: panel a's legend drawn on panel c (a has none, c's own
    # replaces it), panel c's legend at 4.5 pt instead of panel a's 5.5
    fig, _, _ = quick_figure
    a, c = fig.axes[0].get_legend(), fig.axes[2].get_legend()
    assert a is not None and c is not None
    assert any("$k$" in t.get_text() for t in a.get_texts())  # panel a's k labels
    assert any(r"$\tau$" in t.get_text() for t in c.get_texts())  # panel c's tau labels
    sizes = {t.get_fontsize() for legend in (a, c) for t in legend.get_texts()}
    assert len(sizes) == 1


def test_its_claim_keeps_its_number_in_the_report():
    # held-out (seed 5) mutant: REPRO["claims"] = {"...claim_robust": 16}: the report's
    # numbering (1..N, each declared number checked against its place) then refuses it
    from test_repro_discovery import _load_report

    report = _load_report()
    claims = report.all_claims(report.Data())
    assert "robust" in claims[17 - 1].title


def test_worse_and_collapsed_are_strict_at_their_bounds():
    # held-out (seed 5) mutants: `f <= p0 (1 - WORSE_RTOL)` and `f[hard] <= 0.1 p0[hard]`: a
    # hard prompt exactly at either bound is neither worse nor collapsed ("final < ...")
    p0 = np.array([0.01, 0.015, 0.5])  # two hard prompts (p0 < HARD_P) and an easy one
    at_bounds = np.array([p0[0] * (1.0 - st.WORSE_RTOL), 0.1 * p0[1], 0.5])
    s = pd.DataFrame({"method": "m", "seed": 0, "iter": [0, 1], "kl_prev": [0.0, 0.1]})
    pp = pd.DataFrame({"method": "m", "seed": 0, "iter": 1, "context": [0, 1, 2],
                       "reward": at_bounds})  # fmt: skip
    (row,) = st.summarise(s, pp, p0, 1, scale="01", tau=0.1, k=4, staleness=0)
    assert row["hard_frac_backwards"] == 0.5  # only the second: 0.1 p0 is far below p0
    assert row["hard_frac_collapsed"] == 0.0
    assert row["hard_frac_backwards_notol"] == 1.0  # the old rule, final < p0: both
    pp["reward"] = p0  # unmoved: not worse by either rule (mutant `f[hard] <= p0[hard]`)
    (row,) = st.summarise(s, pp, p0, 1, scale="01", tau=0.1, k=4, staleness=0)
    assert row["hard_frac_backwards"] == row["hard_frac_backwards_notol"] == 0.0
    pp["reward"] = np.nextafter(at_bounds, 0.0)  # one ulp lower: both rules fire
    (row,) = st.summarise(s, pp, p0, 1, scale="01", tau=0.1, k=4, staleness=0)
    assert row["hard_frac_backwards"] == 1.0 and row["hard_frac_collapsed"] == 0.5


def test_panel_d_plots_the_update_size_per_k(quick_figure):
    # held-out (seed 7) mutant: `for method in []` in panel d (an empty panel)
    fig, df, _ = quick_figure
    d = fig.axes[3]
    assert len(d.containers) == 2 * 2  # two stale taus x two methods
    on = df[(df.staleness == 0) & (df.scale == "01")]
    means = on.groupby(["tau", "method", "k"]).kl_mean.mean().to_numpy()
    for cont in d.containers:
        x, y = _xy(cont)
        assert len(x) >= 1 and np.isin(y, means).all()


def test_every_error_bar_has_the_same_caps(quick_figure):
    # held-out (seed 7) mutant: `capsize=3` in one panel's error bars (the others: 2)
    fig = quick_figure[0]
    sizes = {
        cap.get_markersize() for ax in fig.axes for cont in ax.containers for cap in cont.lines[1]
    }
    assert len(sizes) == 1, sizes


def test_the_stale_runs_are_0_1_2_4_iterations_old(full_calls):
    # held-out (seed 8): `(-1, 1, 2, 4)`; the stand-in simulator accepted a staleness of -1
    # (the real one refuses it), and the on-policy grid already holds a staleness 0 run
    stale = full_calls[(full_calls.k == st.STALE_K) & full_calls.tau.isin(st.STALE_TAUS)]
    assert set(stale[stale.scale == "01"].staleness) == {0, 1, 2, 4}
    assert (full_calls.staleness >= 0).all()


def test_pm1_final_rewards_become_success_probabilities():
    # held-out (seed 8): `(f * 1.0) / 2.0`: the +-1 runs' expected final reward 2p - 1 must
    # be mapped back to p before it is compared with p0
    p0 = np.array([0.01, 0.015, 0.5])
    p = np.array([0.02, 0.012, 0.6])  # the first hard prompt improved, the second got worse
    s = pd.DataFrame({"method": "m", "seed": 0, "iter": [0, 1], "kl_prev": [np.nan, 0.1]})
    pp = pd.DataFrame({"method": "m", "seed": 0, "iter": 1, "context": [0, 1, 2],
                       "reward": 2.0 * p - 1.0})  # fmt: skip
    (row,) = st.summarise(s, pp, p0, 1, scale="pm1", tau=0.1, k=4, staleness=0)
    assert row["final_success"] == pytest.approx(p.mean(), rel=1e-15)
    assert row["hard_frac_backwards"] == 0.5 and row["hard_final_median"] == pytest.approx(0.016)


# --- session 10: a full run of the module (--sample 0) -------------------------------------


def test_summarise_averages_kl_over_the_steps_only():
    # mutants: `d.iter > 1` (the first step dropped: a mean of 0.3) and
    # `d.iter >= 0` (iteration 0, which has no previous policy, averaged in)
    s = pd.DataFrame({"method": "m", "seed": 0, "iter": [0, 1, 2], "kl_prev": [0.0, 0.1, 0.3]})
    pp = pd.DataFrame({"method": "m", "seed": 0, "iter": 2, "context": [0, 1],
                       "reward": [0.5, 0.5]})  # fmt: skip
    (row,) = st.summarise(s, pp, np.array([0.01, 0.5]), 2, scale="01", tau=0.1, k=4,
                          staleness=0)  # fmt: skip
    assert row["kl_mean"] == pytest.approx(0.2, rel=1e-15) and row["kl_max"] == 0.3


def _method(label):
    """The method a legend label names."""
    (method,) = [m for m in st.METHODS if label.startswith(st.LABEL[m])]
    return method


def _method_k(label):
    return _method(label), int(label.rsplit("=", 1)[1])


def test_panels_a_and_b_draw_each_line_from_its_own_method(quick_figure):
    # mutant: `on.method != method` (with two methods, each line draws the other's runs)
    fig, df, _ = quick_figure
    on = df[(df.staleness == 0) & (df.scale == "01")]
    for ax, col in ((fig.axes[0], "hard_frac_backwards"), (fig.axes[1], "final_success")):
        labelled = [c for c in ax.containers if not c.get_label().startswith("_")]
        assert len(labelled) == 2 * 2
        for cont in labelled:
            method, k = _method_k(cont.get_label())
            want = on[(on.method == method) & (on.k == k)].groupby("tau")[col].mean()
            x, y = _xy(cont)
            np.testing.assert_array_equal(x, want.index.to_numpy())
            np.testing.assert_array_equal(y, want.to_numpy())


def test_every_panel_is_labelled_and_tagged(quick_figure):
    # mutants: panel a's title or panel b's y label written on another panel (which then
    # overwrites it with its own), and `for ax, tag in []` (no panel letters)
    fig = quick_figure[0]
    for ax, tag in zip(fig.axes, "abcd", strict=True):
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel(), tag
        assert [t.get_text() for t in ax.texts] == [tag]
    assert "after 8 iterations" in fig.axes[0].get_title()  # --quick
    assert fig.axes[1].get_ylabel() == "final mean success"


def test_figure_size_and_marker_sizes(quick_figure):
    # mutants: panel_size (3.6, 2.7) -> (4.6, 2.7); the {0, 1} circles 3 -> 2 (panels a, b)
    # or -> 4 (panel d); the +-1 squares 6 -> 7. Circles of 3 pt, open squares of 6 pt that
    # ring them, and a legend entry for the squares drawn like them
    fig = quick_figure[0]
    np.testing.assert_array_equal(fig.get_size_inches(), [7.2, 5.4])
    sizes = {"o": set(), "s": set()}
    for ax in fig.axes:
        for line in ax.lines:
            if line.get_marker() in sizes:
                sizes[line.get_marker()].add(line.get_markersize())
    assert sizes == {"o": {3.0}, "s": {6.0}}, sizes
    legend = fig.axes[0].get_legend()
    (proxy,) = [h for h, t in zip(legend.legend_handles, legend.get_texts(), strict=True)
                if "pm1" in t.get_text()]  # fmt: skip
    assert proxy.get_marker() == "s" and proxy.get_markersize() == 6.0


def test_pm1_taus_lie_on_the_tau_axis():
    # mutant: TAUS_PM1 = (0.02, 0.1, 2.0): tau / 2 = 1 is in TAUS, but the +-1 points are
    # drawn at their own tau, which the {0, 1} grid (0.01 to 1) spans
    assert min(st.TAUS) <= min(st.TAUS_PM1) and max(st.TAUS_PM1) <= max(st.TAUS)


def test_panel_c_ticks_are_the_staleness_grid(full_figure):
    # mutant: the full run's stales (0, 1, 2, 4) -> (1, 1, 2, 4): the on-policy runs still
    # give panel c its staleness-0 point, but its ticks skip it
    fig = full_figure[0]
    c = fig.axes[2]
    for cont in c.containers:
        assert _xy(cont)[0].tolist() == [0, 1, 2, 4]
    assert c.get_xticks().tolist() == [0, 1, 2, 4]


def test_panel_d_draws_each_tau_and_method_from_its_own_runs(quick_figure):
    # mutant: `on.tau != tau` in panel d (each line averages the other taus' runs)
    fig, df, _ = quick_figure
    on = df[(df.staleness == 0) & (df.scale == "01")]
    pairs = [(tau, m) for tau in st.STALE_TAUS for m in st.METHODS]
    d = fig.axes[3]
    assert len(d.containers) == len(pairs)
    for cont, (tau, method) in zip(d.containers, pairs, strict=True):
        want = on[(on.tau == tau) & (on.method == method)].groupby("k").kl_mean.mean()
        x, y = _xy(cont)
        np.testing.assert_array_equal(x, want.index.to_numpy())
        np.testing.assert_array_equal(y, want.to_numpy())


def test_seeds_as_documented(quick_figure, full_calls):
    # mutants: N_SEEDS = 4 or 6, and `2 if not q else N_SEEDS` (the quick run with the full
    # run's seeds). The docstring: N_SEEDS = 5 seeds (--quick: 2), from --seed on
    assert set(full_calls.seeds) == {(0, 1, 2, 3, 4)}
    assert set(quick_figure[2].seeds) == {(0, 1)}


def test_hard_means_strictly_below_hard_p():
    # mutant: `p0 <= HARD_P`: "hard prompts (initial success probability below HARD_P)"
    p0 = np.array([st.HARD_P, 0.01, 0.5])
    s = pd.DataFrame({"method": "m", "seed": 0, "iter": [0, 1], "kl_prev": [np.nan, 0.1]})
    pp = pd.DataFrame({"method": "m", "seed": 0, "iter": 1, "context": [0, 1, 2],
                       "reward": p0 / 2})  # fmt: skip
    (row,) = st.summarise(s, pp, p0, 1, scale="01", tau=0.1, k=4, staleness=0)
    assert row["n_hard"] == 1 and row["hard_final_median"] == 0.005


def test_pm1_squares_draw_the_pm1_runs(quick_figure):
    # mutant: `d.scale != "pm1"` for the squares (the {0, 1} runs drawn twice)
    fig, df, _ = quick_figure
    pm1 = df[(df.staleness == 0) & (df.scale == "pm1")]
    for ax, col in ((fig.axes[0], "hard_frac_backwards"), (fig.axes[1], "final_success")):
        conts = ax.containers
        for line, square in zip(conts[::2], conts[1::2], strict=True):
            method, k = _method_k(line.get_label())
            want = pm1[(pm1.method == method) & (pm1.k == k)].groupby("tau")[col].mean()
            x, y = _xy(square)
            assert square.lines[0].get_marker() == "s"
            np.testing.assert_array_equal(x, want.index.to_numpy())
            np.testing.assert_array_equal(y, want.to_numpy())


def test_panel_c_draws_each_method_and_tau_from_its_own_runs(quick_figure):
    # mutants: `stale.tau != tau` and `stale.method != method` in panel c
    fig, df, _ = quick_figure
    stale = df[(df.k == st.STALE_K) & (df.scale == "01")]
    for cont in fig.axes[2].containers:
        label = cont.get_label()
        method, tau = _method(label), float(label.rsplit("=", 1)[1])
        want = stale[(stale.method == method) & (stale.tau == tau)].groupby("staleness")
        np.testing.assert_array_equal(_xy(cont)[1], want.final_success.mean().to_numpy())


def test_only_the_llm_scripts_are_left_out_of_a_plain_repro():
    # mutant: REPRO["default"] = False. The README: the slow LLM scripts llm_e2e, trl_pmd and
    # llm_compare run only when named
    from pmdtheory._repro import discover

    repo = Path(__file__).resolve().parents[1]
    text = " ".join((repo / "README.md").read_text().split())
    named = re.search(r"the slow LLM scripts `(\w+)`, `(\w+)` and `(\w+)` run only when named",
                      text)  # fmt: skip
    assert named is not None
    off = {s.name for s in discover(repo / "paper_repro") if not s.default}
    assert off == set(named.groups())
