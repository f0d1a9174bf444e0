"""paper_repro/stability.py: its grids and what its panels draw (survivors of `make mutation`).

The figure script's ``main`` is run in ``--quick`` mode with the simulator replaced by a
fast stand-in (the simulator has its own tests; this checks which rows reach which
panel) and ``finish`` replaced by a capture, so nothing is written. Each test was checked
to fail on the mutant named in its comment (tools/mutation.py, seed 0).
"""

from __future__ import annotations

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


def _fake_run(env, methods, *, iters, tau, k, seed, staleness, **_):
    """Frames shaped like pmdtheory.sim.run's (per_prompt=True): final reward p0 + a shift."""
    pm1 = type(env).__name__ == "Bandit"
    p0 = np.asarray(FAKE_P0)
    s_rows, pp_rows = [], []
    for mi, method in enumerate(methods):
        for sd in seed:
            for it in range(iters + 1):
                s_rows.append({"method": method, "seed": sd, "iter": it, "kl_prev": 0.01 * k})
            p = np.clip(p0 + 0.01 * (mi + 1) - 0.001 * staleness, 0, 1)
            for c, pc in enumerate(p):
                r = 2 * pc - 1 if pm1 else pc
                pp_rows.append({"method": method, "seed": sd, "iter": iters, "context": c,
                                "reward": r})  # fmt: skip
    return pd.DataFrame(s_rows), pd.DataFrame(pp_rows)


FAKE_P0: list = []


@pytest.fixture(scope="module")
def quick_figure():
    mp = pytest.MonkeyPatch()
    captured = {}
    env = st.PromptPopulation.random(150, 32, seed=0)
    FAKE_P0[:] = list(env.p0)
    mp.setattr(st, "run", _fake_run)
    mp.setattr(st, "finish", lambda fig, df, name, args: captured.update(fig=fig, df=df))
    try:
        st.main(["--quick"])
    finally:
        mp.undo()
    return captured["fig"], captured["df"]


def _xy(container):
    line = container.lines[0]
    return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)


def test_panels_a_and_b_plot_their_own_column(quick_figure):
    # mutant: `axes[0, -1]` for panel a (both columns drawn into panel b)
    fig, df = quick_figure
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
    fig, df = quick_figure
    c = fig.axes[2]
    assert len(c.containers) == 2 * 2  # two stale taus x two methods
    for cont in c.containers:
        x, y = _xy(cont)
        assert x.tolist() == [0, 4] and np.isfinite(y).all()  # the quick run's staleness
