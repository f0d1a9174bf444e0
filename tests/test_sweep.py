"""Sweeps on Dask (pmdtheory.sim.sweep and ``pmdtheory sweep``): grid validation, cell
identity, one cell = one slice of :func:`pmdtheory.sim.run`, and the failure modes that
matter -- Ctrl-C then resume (bit-for-bit equal to an uninterrupted sweep), a worker
killed mid-cell, a cell that raises.

One LocalCluster (2 single-threaded worker processes) serves the whole module; the
interrupt test starts its own 1-worker cluster in a subprocess, as a user would.
Budget: about 30-45 s on 2 cores.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pmdtheory.cli.sweep import main as cli_main
from pmdtheory.sim import Bandit, PromptPopulation, TabularMDP, load_sweep, run, sweep
from pmdtheory.sim.sweeps import (
    PARAMS,
    SweepError,
    _cell_bytes,
    _execute,
    _local_cluster,
    cell_id,
    expand_grid,
    parse_seeds,
    run_cell,
)

REPO = Path(__file__).resolve().parents[1]
INTERRUPT_AFTER = 3  # cells saved before the SIGINT
WAIT_S = 120.0  # at most this long for a subprocess (a loaded 2-core machine is slow)

# 2 tau x (exact + mean_sampled) x 5 seeds = 20 cells of ~0.1 s each
GRID = {
    "env": "prompts",
    "contexts": 100,
    "actions": 8,
    "method": ["exact", "mean_sampled"],
    "tau": [0.05, 0.1],
    "k": 4,
    "seed": "0-4",
    "iters": 20,
}
CLI_ARGS = ["--env", "prompts", "--contexts", "100", "--actions", "8",
            "--methods", "exact,mean_sampled", "--tau", "0.05,0.1", "--k", "4",
            "--seeds", "0-4", "--iters", "20"]  # fmt: skip
N_CELLS = 20


@pytest.fixture(scope="module")
def scheduler():
    """Address of one local cluster shared by the module (start-up costs seconds)."""
    cluster = _local_cluster(2)
    yield cluster.scheduler_address
    cluster.close()


@pytest.fixture(scope="module")
def reference(scheduler, tmp_path_factory):
    """The uninterrupted sweep of GRID."""
    out = tmp_path_factory.mktemp("reference")
    report = sweep(GRID, out, scheduler=scheduler, progress=False)
    assert (report.n_cells, report.n_done, report.n_skipped) == (N_CELLS, N_CELLS, 0)
    return load_sweep(out)


def assert_identical(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Same columns, dtypes and values, bit for bit (NaN equal to NaN)."""
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    ha = pd.util.hash_pandas_object(a, index=True).to_numpy()
    hb = pd.util.hash_pandas_object(b, index=True).to_numpy()
    assert np.array_equal(ha, hb)


# ----------------------------------------------------------------- grid and identity


def test_parse_seeds():
    assert parse_seeds("0-99") == list(range(100))
    assert parse_seeds("3") == [3]
    assert parse_seeds(" 0-2, 10 ,20-21") == [0, 1, 2, 10, 20, 21]
    for bad in ("", "a", "5-2", "-1", "1-", "0-3,2", "1.5"):
        with pytest.raises(ValueError, match="seed"):
            parse_seeds(bad)


def test_expand_grid_product_defaults_and_irrelevant_parameters():
    cells = expand_grid(GRID)
    assert len(cells) == N_CELLS and all(set(c) == set(PARAMS) for c in cells)
    exact = [c for c in cells if c["method"] == "exact"]
    # k does not apply to exact PMD: missing, so k=4 and k=8 give the same cell
    assert all(c["k"] is None and c["fit_steps"] is None for c in exact)
    assert len(expand_grid({**GRID, "k": [4, 8]})) == 10 + 20
    assert all(c["gamma"] is None for c in cells)  # not an MDP
    # defaults are filled in: an explicit default is the same cell
    assert cell_id({"method": "mean"}) == cell_id({"method": "mean", "tau": 0.05, "iters": 50})
    assert cell_id({"tau": 1}) == cell_id({"tau": 1.0})
    assert cell_id({"tau": 0.05}) != cell_id({"tau": 0.0500001})
    # a list of grids joins their products, without duplicates
    joined = expand_grid([GRID, {**GRID, "seed": "4-5"}])
    assert len(joined) == N_CELLS + 4
    mdp = expand_grid({"env": "mdp", "method": "exact", "q": "exact", "n_rollouts": [4, 8]})
    assert len(mdp) == 1 and mdp[0]["gamma"] == 0.9 and mdp[0]["n_rollouts"] is None


@pytest.mark.parametrize(
    ("grid", "match"),
    [
        ({"taus": 0.1}, "unknown parameter"),
        ({"method": "nope"}, "method must be one of"),
        ({"env": "atari"}, "env must be one of"),
        ({"k": 2.5, "method": "mean_sampled"}, "k must be an integer"),
        ({"tau": "0.1"}, "tau must be a number"),
        ({"tau": float("nan")}, "tau must be finite"),
        ({"seed": "0-x"}, "seed must look like"),
        ({"seed": -1}, "seed must be >= 0"),
        ({"tau": []}, "tau must list at least one value"),
        ({"contexts": 0}, "contexts must be >= 1"),
        ({"env": "gridworld", "contexts": 10}, "gridworld"),
        ([], "at least one dict"),
    ],
)
def test_bad_grids_are_named(grid, match):
    with pytest.raises(ValueError, match=match):
        expand_grid(grid)


def test_bad_grid_is_rejected_before_any_cluster(tmp_path):
    # the address leads nowhere: reaching it would be an OSError after a timeout
    nowhere = "tcp://127.0.0.1:9"
    with pytest.raises(ValueError, match=r"grid cell .*tau=-1.0.*tau must be > 0"):
        sweep({"tau": [0.1, -1.0]}, tmp_path / "x", scheduler=nowhere)
    k_msg = r"k must be an integer >= 1"
    with pytest.raises(ValueError, match=k_msg):
        sweep({"method": "loo_mean_sampled", "k": [0, 4]}, tmp_path / "x", scheduler=nowhere)
    assert not (tmp_path / "x").exists()


def test_cell_is_a_slice_of_run():
    """A cell reproduces its (method, seed) rows of one joint run() bit for bit."""
    env = PromptPopulation.random(100, 8, seed=0)
    joint = run(env, ["exact", "mean_sampled"], iters=5, seed=[0, 1], tau=0.1, k=4)
    cell = run_cell({**GRID, "method": "mean_sampled", "tau": 0.1, "seed": 1, "iters": 5})
    want = joint[(joint.method == "mean_sampled") & (joint.seed == 1)]
    cols = [c for c in want.columns if c not in ("method", "seed")]
    assert_identical(cell[cols], want[cols].reset_index(drop=True))
    assert (cell["seed"] == 1).all() and (cell["k"] == 4).all() and cell["lr"].isna().all()
    # the MDP path: subopt is filled in, gamma too
    mdp = run_cell({"env": "mdp", "contexts": 5, "actions": 3, "method": "mean", "iters": 3})
    ref = run(TabularMDP.random(5, 3, seed=0), "mean", iters=3)
    np.testing.assert_array_equal(mdp["subopt"].to_numpy(), ref["subopt"].to_numpy())
    assert (mdp["gamma"] == 0.9).all()


@pytest.mark.parametrize(
    ("cell", "env"),
    [
        ({"env": "bandit", "contexts": 6, "actions": 3, "env_seed": 2,
          "method": "loo_mean_sampled", "k": 3},
         lambda: Bandit.random(6, 3, noise="bernoulli", seed=2)),
        ({"env": "gridworld", "contexts": 9, "actions": 4, "gamma": 0.8, "method": "exact"},
         lambda: TabularMDP.gridworld(3, gamma=0.8)),
        ({"env": "mdp", "contexts": 4, "actions": 2, "method": "mean", "q": "mc",
          "n_rollouts": 3}, lambda: TabularMDP.random(4, 2, seed=0)),
        ({"env": "prompts", "contexts": 7, "actions": 5, "method": "kl_chi2", "beta": 0.5},
         lambda: PromptPopulation.random(7, 5, seed=0)),
    ],
)  # fmt: skip
def test_cell_builds_each_environment_as_documented(cell, env):
    got = run_cell({**cell, "iters": 3, "seed": 4})
    kwargs = {n: cell[n] for n in ("k", "q", "n_rollouts", "beta") if n in cell}
    want = run(env(), cell["method"], iters=3, seed=4, **kwargs)
    cols = [c for c in want.columns if c not in ("method", "seed")]
    assert_identical(got[cols], want[cols])


def test_cell_id_is_stable_across_processes_and_import_is_light():
    """Another interpreter (other hash seed) gives the same ids; dask is not imported."""
    code = (
        "import sys, json; from pmdtheory.sim.sweeps import expand_grid, cell_id; "
        f"ids = [cell_id(c) for c in expand_grid({GRID!r})]; "
        "print(json.dumps([ids, any(m.split('.')[0] in ('dask', 'distributed') "
        "for m in sys.modules)]))"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345", PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=WAIT_S, check=True)  # fmt: skip
    ids, dask_imported = json.loads(out.stdout)
    assert ids == [cell_id(c) for c in expand_grid(GRID)]
    assert len(set(ids)) == N_CELLS
    assert dask_imported is False


# ---------------------------------------------------------------- running on the cluster


def test_reference_table_is_tidy_and_rerun_skips(reference, scheduler, tmp_path):
    assert len(reference) == N_CELLS * 21
    assert list(reference.columns[: len(PARAMS)]) == list(PARAMS)
    keys = [*PARAMS, "iter"]
    assert not reference.duplicated(keys).any()
    sampled = reference[reference.method == "mean_sampled"]
    assert sampled.groupby("seed").reward_mean.last().nunique() == 5  # seeds differ
    # a worker's cell (one Numba thread) equals the same cell here (all threads)
    one = {**GRID, "method": "mean_sampled", "tau": 0.1, "seed": 2}
    here = run_cell(one)
    there = sampled[(sampled.tau == 0.1) & (sampled.seed == 2)].reset_index(drop=True)
    assert_identical(there, here)
    # a second run of the same grid into the same folder runs nothing
    out = tmp_path / "again"
    sweep(GRID, out, scheduler=scheduler, progress=False)
    report = sweep(GRID, out, scheduler=scheduler, progress=False)
    assert (report.n_skipped, report.n_done) == (N_CELLS, 0)
    assert_identical(load_sweep(out), reference)
    # the comparison can fail: one changed bit is seen
    wrong = reference.copy()
    wrong.loc[7, "reward_mean"] = np.nextafter(wrong.loc[7, "reward_mean"], np.inf)
    with pytest.raises(AssertionError):
        assert_identical(wrong, reference)


def test_ctrl_c_then_resume_equals_uninterrupted(reference, scheduler, tmp_path):
    out = tmp_path / "interrupted"
    cmd = [sys.executable, "-m", "pmdtheory", "sweep", *CLI_ARGS, "--out", str(out),
           "--workers", "1"]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=str(REPO))
    # A process started in the background (nohup, `cmd &` in a script, CI runners) ignores
    # SIGINT, and a child inherits an ignored signal across exec: the sweep would then
    # rightly ignore the Ctrl-C and finish (exit 0). A terminal's process does not ignore it,
    # so the child starts with the default disposition.
    old = signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        # a new session: SIGINT goes to the whole process group, as Ctrl-C in a terminal does
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, old)
    t0 = time.monotonic()
    while len(list(out.glob("*.parquet"))) < INTERRUPT_AFTER:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < WAIT_S
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 130, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("pmdtheory sweep: interrupted;"), stderr
    assert "Traceback" not in stderr + stdout
    saved = len(list(out.glob("*.parquet")))
    assert INTERRUPT_AFTER <= saved < N_CELLS
    assert not list(out.glob(".*"))  # no temporary file left behind
    # resume with the same command, on the module's cluster
    assert cli_main([*CLI_ARGS, "--out", str(out), "--scheduler", scheduler,
                     "--no-progress"]) == 0  # fmt: skip
    assert_identical(load_sweep(out), reference)


def _kill_once(params, *, marker, target):
    """Cell function: SIGKILL this worker the first time it runs the target cell."""
    if cell_id(params) == target and not os.path.exists(marker):
        Path(marker).touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return _cell_bytes(params)


def _raise_for(params, *, target):
    """Cell function: the target cell raises ValueError inside the cell, as a bad run would."""
    if cell_id(params) == target:
        params = {**params, "tau": -1.0}
    return _cell_bytes(params)


@pytest.mark.parametrize(("progress", "shown"), [(True, True), (False, False), (None, False)])
def test_progress_bar_shown_when_asked_else_only_on_a_terminal(
    scheduler, tmp_path, capsys, progress, shown
):
    """progress=True draws the bar even to a pipe; None (the default) only on a terminal,
    and pytest's captured stderr is not one."""
    cells = expand_grid({**GRID, "seed": "0-1", "method": "exact", "tau": 0.1})
    report = _execute(cells, tmp_path / "out", fn=_cell_bytes, scheduler=scheduler,
                      progress=progress)  # fmt: skip
    assert report.n_done == 2
    err = capsys.readouterr().err
    assert ("2/2" in err) is shown, err


def test_killed_worker_is_retried(reference, scheduler, tmp_path):
    from distributed import Client

    cells = expand_grid(GRID)
    marker = tmp_path / "killed"
    fn = functools.partial(_kill_once, marker=str(marker), target=cell_id(cells[5]))
    with Client(scheduler) as client:
        before = set(client.run(os.getpid).values())
    report = _execute(cells, tmp_path / "out", fn=fn, scheduler=scheduler, progress=False)
    assert marker.exists() and report.n_done == N_CELLS and not report.failed
    with Client(scheduler) as client:
        client.wait_for_workers(2, timeout=WAIT_S)
        after = set(client.run(os.getpid).values())
    assert before - after, "a worker process was replaced"
    assert_identical(load_sweep(tmp_path / "out"), reference)


def test_failing_cell_is_reported_and_the_others_finish(reference, scheduler, tmp_path):
    cells = expand_grid(GRID)
    bad = cells[3]
    fn = functools.partial(_raise_for, target=cell_id(bad))
    out = tmp_path / "out"
    seen = []
    report = _execute(cells, out, fn=fn, scheduler=scheduler, progress=False,
                      errors="report", on_error=lambda p, m: seen.append((p, m)))  # fmt: skip
    assert report.n_done == N_CELLS - 1 and len(report.failed) == 1 and seen == report.failed
    params, message = report.failed[0]
    assert params == bad and message.startswith("ValueError: tau must be > 0")
    got = load_sweep(out)
    others = ~((reference.method == bad["method"]) & (reference.tau == bad["tau"])
               & (reference.seed == bad["seed"]))  # fmt: skip
    assert_identical(got, reference[others].reset_index(drop=True))
    # errors="raise" (the default) names the failed cell after the others finished
    with pytest.raises(SweepError, match=rf"(?s)1 cell\(s\) failed.*seed={bad['seed']}") as info:
        _execute(cells, out, fn=fn, scheduler=scheduler, progress=False)
    assert info.value.failed[0][0] == bad


def _raise_in_the_worker(params):
    raise RuntimeError(f"lost seed {params['seed']}")


def test_a_task_that_raises_is_a_failed_cell_not_a_crash(scheduler, tmp_path):
    # held-out (seed 5) mutant: the except around fut.result() narrowed (KilledWorker and
    # the like then ended the sweep with a traceback, the other cells unsaved)
    cells = expand_grid({**GRID, "seed": "0-1", "method": "exact", "tau": 0.1})
    report = _execute(cells, tmp_path / "out", fn=_raise_in_the_worker, scheduler=scheduler,
                      progress=False, errors="report")  # fmt: skip
    assert report.n_done == 0 and len(report.failed) == 2
    assert sorted(m for _, m in report.failed) == ["RuntimeError: lost seed 0",
                                                   "RuntimeError: lost seed 1"]  # fmt: skip


def test_load_sweep_errors(tmp_path):
    with pytest.raises(ValueError, match="out must be an existing sweep folder"):
        load_sweep(tmp_path / "missing")
    with pytest.raises(ValueError, match="no finished cells"):
        load_sweep(tmp_path)


def test_cli_errors_are_one_line(capsys, tmp_path):
    out = str(tmp_path / "x")
    for argv, match in (
        (["--tau", "0.1,x"], "--tau: expected comma-separated floats"),
        (["--seeds", "9-1"], "seed range '9-1' is empty"),
        (["--methods", "exact,nope"], "method must be one of"),
        (["--workers", "0"], "--workers must be >= 1"),
    ):
        assert cli_main([*argv, "--out", out]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and match in err[0], err
    assert not Path(out).exists()
