"""pmdtheory.sim (run, the argument checks, Monte-Carlo Q, the hash, sweeps): survivors of
`make mutation` (seed 0, and held-out seed 1).

Each test was checked to fail on the mutant named in its comment.
"""

import re
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from pmdtheory.sim import Bandit, PromptPopulation, TabularMDP, run

#: the module pmdtheory.sim.run (the package's attribute of that name is the function)
SIM_RUN = sys.modules["pmdtheory.sim.run"]
ENV = PromptPopulation.random(12, 6, seed=4)
TOL_MC_EXACT = 1e-13  # one deterministic path: sums of 80 terms in float64
#: a run's statistics against the same step taken by hand: 5.4e-15 measured (KL, 3 actions)
TOL_BY_HAND = 1e-13
#: the rms error of 30 Monte-Carlo estimates, in units of their sd: outside this band
#: with probability ~1e-4 for independent draws (chi-square, 30 degrees of freedom)
RMS_BAND = (0.5, 1.5)


def _frame(method, **kw):
    return run(ENV, method, iters=3, seed=1, **kw)


@pytest.mark.parametrize(
    ("method", "documented"),
    [
        # fit_steps 1 (TRL's num_iterations), k 16, tau 0.05, staleness 0
        ("mean_sampled", {"fit_steps": 1, "k": 16, "tau": 0.05, "staleness": 0}),
        # and GRPO's clip 0.2 and eps 1e-4 (TRL's)
        ("grpo", {"fit_steps": 1, "k": 16, "tau": 0.05, "clip": 0.2, "eps": 1e-4}),
    ],
)
def test_run_defaults_are_the_documented_ones(method, documented):
    # mutant: run's `fit_steps: int = 1` -> `2`
    pd.testing.assert_frame_equal(_frame(method), _frame(method, **documented))
    # and the options do matter, so the comparison can fail
    assert not _frame(method).equals(_frame(method, **{**documented, "fit_steps": 2}))


def test_monte_carlo_q_defaults_to_16_rollouts():
    # mutant: run's `n_rollouts: int = 16` -> `17`
    mdp = TabularMDP.random(4, 2, gamma=0.5, seed=0)
    got = run(mdp, "mean_sampled", iters=2, q="mc")
    pd.testing.assert_frame_equal(got, run(mdp, "mean_sampled", iters=2, q="mc", n_rollouts=16))
    assert not got.equals(run(mdp, "mean_sampled", iters=2, q="mc", n_rollouts=17))


def test_progress_bar_counts_every_iteration(capsys):
    # mutant: `bar.update(1)` -> `bar.update(0)` (the bar never moved)
    run(ENV, ["mean", "exact"], iters=3, seed=[0, 1], progress=True)
    err = capsys.readouterr().err
    assert "12/12" in err  # 2 methods x 2 seeds x 3 iterations


def test_a_ragged_array_is_refused_naming_the_argument():
    # mutant: `except Exception` -> a class nothing raises (numpy's own ValueError for the
    # ragged list then escapes without the argument's name)
    from pmdtheory.sim import Bandit

    with pytest.raises(ValueError, match="^R must be a numeric array"):
        Bandit([[1.0, 2.0], [3.0]])
    with pytest.raises(ValueError, match="^logits must be a numeric array"):
        PromptPopulation([[True, False]], logits=[[1.0, 0.0], [2.0]])


# ------------------------------------------------------------------ counter-based RNG

#: SplitMix64 seeded with 1234567: its first three outputs (the reference implementation's
#: published test vector, e.g. Rosetta Code "Pseudo-random numbers/Splitmix64")
SPLITMIX_1234567 = (6457827717110365317, 3203168211198807973, 9817491932198370423)
GOLDEN = 0x9E3779B97F4A7C15
MASK = 2**64 - 1


def _mix_reference(z):
    """SplitMix64's finaliser on Python ints (Steele, Lea and Flood 2014)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def test_the_hash_is_splitmix64():
    # mutants: a changed mixing constant (_M2 - 1): every statistical test still passes
    from pmdtheory.sim._rng import hash_key, uniform, uniforms

    assert [_mix_reference((1234567 + n * GOLDEN) & MASK) for n in (1, 2, 3)] == list(
        SPLITMIX_1234567
    )
    for key in [(0, 0, 0, 0, 0), (1234567, 3, 7, 11, 2), (2**63 - 1, 2**40, 5, 2**31, 3)]:
        h = _mix_reference((key[0] + GOLDEN) & MASK)
        for word in key[1:]:
            h = _mix_reference(h ^ ((word + GOLDEN) & MASK))
        assert int(hash_key(*key)) == h
        assert uniform(*key) == (h >> 11) * 2.0**-53 == uniforms(*key)


# ------------------------------------------------------------------ Monte-Carlo Q


def test_mc_q_follows_deterministic_transitions_exactly():
    # mutants: the transition row `cdf_p[s + A + a]` (another state-action's row), the action
    # draw `u + total` (past the policy's cdf). Deterministic moves and policy: every rollout
    # is the same path, so the estimate is exact up to the horizon's truncation.
    S, A, gamma = 3, 2, 0.5
    P = np.zeros((S, A, S))
    for s in range(S):
        for a in range(A):
            P[s, a, (s + a + 1) % S] = 1.0
    R = np.arange(S * A, dtype=float).reshape(S, A) ** 2
    mdp = TabularMDP(P, R, gamma)
    pi = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    q = mdp.mc_q(pi, n_rollouts=3, horizon=80, seed=1)
    np.testing.assert_allclose(q, mdp.evaluate(pi).q, rtol=TOL_MC_EXACT, atol=0)
    # a short horizon: exactly `horizon` rewards (mutant: the rollout stopped one step early)
    for horizon in (1, 2, 3):
        want = np.zeros((S, A))
        for s0 in range(S):
            for a0 in range(A):
                s, a = s0, a0
                for h in range(horizon):
                    want[s0, a0] += gamma**h * R[s, a]
                    s = (s + a + 1) % S
                    a = int(np.argmax(pi[s]))
        got = mdp.mc_q(pi, n_rollouts=2, horizon=horizon, seed=1)
        np.testing.assert_allclose(got, want, rtol=TOL_MC_EXACT, atol=0)


def test_mc_q_draws_are_independent_across_steps_and_state_actions():
    # mutants: the action draw's key `key - 1` (it reuses the previous step's number, so a
    # rollout repeats its first random action), the stream `ctx = s0 + A + a0` (two
    # state-actions share one stream). Every row of P and pi is the same, the reward is the
    # action (0 or 1) and the policy uniform: after the first step, the rewards are i.i.d.
    # Bernoulli(1/2), so Q(s, a) = a + gamma/(1 - gamma)/2, and an estimate's sd is
    # sqrt(sum_{h >= 1} gamma^2h / 4 / n).
    S, A, gamma, n, horizon = 15, 2, 0.9, 400, 100
    P = np.full((S, A, S), 1.0 / S)
    R = np.tile([0.0, 1.0], (S, 1))
    mdp = TabularMDP(P, R, gamma)
    err = mdp.mc_q(np.full((S, A), 0.5), n_rollouts=n, horizon=horizon, seed=2) - (
        R + gamma / (1 - gamma) / 2
    )
    h = np.arange(1, horizon)
    sd = np.sqrt(np.sum(gamma ** (2 * h)) / 4 / n)
    bias = gamma**horizon / (1 - gamma)  # truncation
    rms = np.sqrt(np.mean((err + bias / 2) ** 2))
    assert RMS_BAND[0] * sd < rms < RMS_BAND[1] * sd
    # 30 sums of 400 returns of 99 random bits each: equal errors mean a shared stream
    assert np.unique(err).size == S * A


# ------------------------------------------------------------------ sweep cells


def test_cell_ids_are_16_hex_digits_of_sha256():
    # mutant: `hexdigest()[:15]` (the documented id is 16 hex digits; a dataset written with
    # one length is not found again by the other)
    from pmdtheory.sim.sweeps import cell_id

    ids = {cell_id({"method": m, "tau": t}) for m in ("exact", "mean") for t in (0.1, 0.2)}
    assert len(ids) == 4
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)


def test_a_cell_id_is_the_sha256_of_its_parameters_version_and_format_1():
    # full run (session 11): `_FORMAT = 0`. The id recipe, written out: a folder saved by
    # this version is found again only if the recipe stays the same
    import hashlib
    import json

    from pmdtheory import __version__
    from pmdtheory.sim import _cells

    cell = {"env": "bandit", "method": "mean", "tau": 0.25}
    p = _cells._normalise(cell)
    text = json.dumps({"format": 1, "pmdtheory": __version__, **p}, sort_keys=True,
                      separators=(",", ":"))  # fmt: skip
    assert _cells.cell_id(cell) == hashlib.sha256(text.encode()).hexdigest()[:16]


def test_cell_ids_do_not_depend_on_the_order_of_params(monkeypatch):
    # full run (session 11): `json.dumps(sort_keys=False)`: the normalised parameters come
    # in PARAMS's order, so reordering PARAMS (a local edit) would change every id
    from pmdtheory.sim import _cells

    cell = {"env": "prompts", "method": "mean_sampled", "tau": 0.1, "k": 4, "seed": 3}
    want = _cells.cell_id(cell)
    monkeypatch.setattr(_cells, "PARAMS", dict(reversed(_cells.PARAMS.items())))
    assert _cells.cell_id(cell) == want


def test_grid_check_runs_each_configuration_for_zero_iterations(monkeypatch):
    # mutant: `run(envs[key], p["method"], 1, ...)` (the check would run an iteration, and a
    # cell that fails only while iterating would be refused up front, not reported)
    from pmdtheory.sim.sweeps import _check_cells, expand_grid

    calls = []
    real = SIM_RUN.run

    def spy(env, method, iters, seed, **kw):
        calls.append((iters, kw["diagnostics"]))
        return real(env, method, iters, seed, **kw)

    monkeypatch.setattr(SIM_RUN, "run", spy)
    grid = {"env": "prompts", "contexts": 10, "actions": 4, "method": ["exact", "mean_sampled"]}
    _check_cells(expand_grid({**grid, "tau": [0.05, 0.1], "k": 4, "iters": 3, "seed": "0-1"}))
    # one per configuration (seeds share one), none iterating, and (full run, session 11:
    # `diagnostics=True`) without the diagnostics, which only cost time in a check
    assert calls == [(0, False)] * 4


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_sweep_refuses_a_worker_count_below_one(tmp_path, bad):
    # mutant: `n_workers >= 0` (zero workers: the sweep would wait forever)
    from pmdtheory.sim.sweeps import _execute

    with pytest.raises(ValueError, match="^n_workers must be a positive integer"):
        _execute([], tmp_path / "out", n_workers=bad)


@pytest.mark.parametrize(
    ("value", "want"), [("", None), ("abc", None), ("0", None), ("-2", None), ("1", 1), ("3", 3)]
)
def test_sweep_numba_thread_share_is_read_only_when_a_positive_integer(monkeypatch, value, want):
    # mutant: `n.isdigit() or int(n) >= 1` (an empty or non-numeric value then raised, and
    # "0" asked Numba for 0 threads)
    import numba

    from pmdtheory.sim import sweeps

    calls = []
    monkeypatch.setattr(numba, "set_num_threads", calls.append)
    monkeypatch.setenv(sweeps._THREADS_ENV, value)
    sweeps._limit_numba_threads()
    assert calls == ([] if want is None else [min(want, numba.config.NUMBA_NUM_THREADS)])


def test_local_cluster_has_one_worker_when_the_core_count_is_unknown(monkeypatch):
    # mutant: `os.cpu_count() or 2` (os.cpu_count() may return None)
    import distributed

    from pmdtheory.sim import sweeps

    seen = {}
    monkeypatch.setattr(distributed, "LocalCluster", lambda **kw: seen.update(kw))
    monkeypatch.setattr(sweeps.os, "cpu_count", lambda: None)
    sweeps._local_cluster()
    assert (seen["n_workers"], seen["threads_per_worker"]) == (1, 1)
    monkeypatch.setattr(sweeps.os, "cpu_count", lambda: 6)
    sweeps._local_cluster()
    assert seen["n_workers"] == 6
    sweeps._local_cluster(2)
    assert seen["n_workers"] == 2


# ------------------------------------------------------------------ run's guards


def test_progress_bar_is_on_by_default_for_long_runs_only(monkeypatch, capsys):
    # mutant: the work `P * n * iters + len(methods) * len(seeds)` (a sum where the bar's
    # threshold needs the product: many seeds of a small problem are a long run too)
    P, n = ENV.shape
    work = P * n * 2 * 2 * 3  # iters 2, methods 2, seeds 3
    monkeypatch.setattr(SIM_RUN, "_PROGRESS_WORK", work - 1)
    run(ENV, ["mean", "exact"], iters=2, seed=[0, 1, 2])
    assert "12/12" in capsys.readouterr().err
    monkeypatch.setattr(SIM_RUN, "_PROGRESS_WORK", work)
    run(ENV, ["mean", "exact"], iters=2, seed=[0, 1, 2])
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("method", "kernel", "beta"),
    [("mean_sampled", "_sampled_step", None), ("kl_chi2", "_population_step", 0.5)],
)
def test_a_non_finite_step_names_tau_and_beta_only_for_kl_chi2(monkeypatch, method, kernel, beta):
    # mutant: `... if name != "kl_chi2"` (beta named for the methods that have none: the
    # message then failed to format, a TypeError instead of the ValueError)
    from pmdtheory.sim import _kernels as K

    real = getattr(K, kernel)

    def overflowing(*args):
        real(*args)
        args[-1][:, K.REWARD] = np.nan  # stats: as if the step had overflowed

    monkeypatch.setattr(K, kernel, overflowing)
    want = "tau (0.05) out of range: method " + repr(method)
    if beta is not None:
        want = f"beta ({beta:g}) and {want}"
    with pytest.raises(ValueError, match="^" + want.replace("(", r"\(").replace(")", r"\)")):
        run(ENV, method, iters=2, beta=beta)


def test_diagnostics_cover_every_context_up_to_2048():
    # mutant: DIAG_CONTEXTS = 2047 (documented: all contexts up to 2048, then every s-th)
    env = PromptPopulation.random(2048, 3, seed=0)
    sampled = run(env, "mean_sampled", iters=1, k=2)
    full = run(env, "mean_sampled", iters=1, k=2, diagnostics="full")
    pd.testing.assert_frame_equal(sampled, full)
    bigger = PromptPopulation.random(2049, 3, seed=0)
    a = run(bigger, "mean_sampled", iters=1, k=2)
    b = run(bigger, "mean_sampled", iters=1, k=2, diagnostics="full")
    assert not a.equals(b)  # from 2049 contexts on, every 2nd one


def test_strings_are_not_numbers():
    # mutant: `arr.dtype == object and not (numeric or bool)` (a string array then reached
    # the float conversion: "0.5" was silently read as a number)
    from pmdtheory.sim import Bandit

    with pytest.raises(ValueError, match="^R must be a numeric array, got dtype <U3"):
        Bandit([["0.5", "1.0"]])


def test_sweep_defaults_are_runs_defaults():
    # mutant: PARAMS' `"n_rollouts": (int, 15)` (a sweep cell left at its default would not
    # be the run a user gets from pmdtheory.sim.run with the same arguments)
    import inspect

    from pmdtheory.cli.simulate import _SIZES as CLI_SIZES
    from pmdtheory.sim import _cells

    run_params = inspect.signature(run).parameters
    shared = [n for n in _cells.PARAMS if n in run_params and n != "env"]  # env: a name here
    assert {"method", "iters", "seed", "tau", "k", "fit_steps", "n_rollouts"} <= set(shared)
    for name in shared:
        kind, default = _cells.PARAMS[name]
        if default is not None:
            assert default == run_params[name].default, name
    assert _cells._SIZES == CLI_SIZES  # the environments' default sizes, as in simulate


def test_sweep_error_lists_ten_failed_cells_and_counts_the_rest(tmp_path):
    # mutant: "... and {len(failed) + 10} more" (the count of unlisted cells)
    from pmdtheory.sim.sweeps import SweepError, expand_grid

    cells = expand_grid({"env": "bandit", "method": "exact", "seed": "0-12"})
    err = SweepError([(p, "ValueError: bad") for p in cells], tmp_path)
    lines = str(err).splitlines()
    assert lines[0] == f"13 cell(s) failed (the others are saved in {tmp_path}):"
    assert len(lines) == 12 and all(ln.endswith(": ValueError: bad") for ln in lines[1:11])
    assert lines[-1] == "  ... and 3 more"
    assert "more" not in str(SweepError([(p, "x") for p in cells[:10]], tmp_path))
    # full run (session 11): `len(failed) > 11` dropped the eleventh cell without a word
    assert str(SweepError([(p, "x") for p in cells[:11]], tmp_path)).endswith("... and 1 more")


def test_the_spread_message_says_over_eps_only_for_std_normalised_fits():
    # held-out (seed 2) mutant: `if not grpo_eps`, "(over eps)" on the wrong methods
    with pytest.raises(ValueError, match=r"rewards span up to 1e\+04 \(over eps\) and spread"):
        run(ENV, "grpo_sampled", iters=1, tau=1e-97)
    with pytest.raises(ValueError, match=r"rewards span up to 1 and spread/tau must be"):
        run(ENV, "mean_sampled", iters=1, tau=1e-101)


def test_bernoulli_rewards_span_0_to_1_whatever_their_means():
    # held-out (seed 2) mutant: Bernoulli noise's spread 1.0 -> 0.0; draws of 0 and 1 span 1
    # even where the success probabilities (0.2, 0.3) span 0.1
    from pmdtheory.sim import Bandit

    env = Bandit(np.array([[0.2, 0.3]]), noise="bernoulli")
    with pytest.raises(ValueError, match=r"tau must be >= 1e-100 for method 'mean'"):
        run(env, "mean", iters=1, tau=5e-101)


def test_mc_q_draws_the_next_action_and_the_state_after_it_independently():
    # held-out (seed 2) mutants: `key = (j * horizon + h) * 1` and `key + 2` for the action
    # draw; either way the action drawn at one step reuses the number that picks the state
    # after it. Here action 0 (probability 0.9) moves to state 0 or 1 with 1/2 each and
    # action 1 to state 1, and only state 0 pays: sharing the number lifts P(state 0) two
    # steps ahead from 0.9 / 2 to 0.5, a bias of 0.05 gamma^2 = 0.04.
    gamma, n = 0.9, 200_000
    P = np.zeros((2, 2, 2))
    P[:, 0] = [0.5, 0.5]
    P[:, 1] = [0.0, 1.0]
    R = np.array([[1.0, 1.0], [0.0, 0.0]])
    pi = np.array([[0.9, 0.1], [0.9, 0.1]])
    want = R.copy()  # Q truncated after 3 rewards: q_{h+1} = R + gamma P (pi . q_h)
    for _ in range(2):
        want = R + gamma * P @ np.sum(pi * want, axis=1)
    got = TabularMDP(P, R, gamma).mc_q(pi, n_rollouts=n, horizon=3, seed=3)
    sd = (1 + gamma + gamma**2) / 2 / np.sqrt(n)  # Popoviciu: returns within [0, 2.71]
    assert np.max(np.abs(got - want)) < 5 * sd  # 0.015; the shared numbers are 0.04 off


def test_mc_q_draws_a_state_and_the_action_taken_there_independently():
    # held-out (seed 7) mutant: `key * 1` for the action draw, the number that picked the
    # state just before it. Every action moves to state 0 or 1 with 1/2 each, the policy
    # takes action 0 or 1 with 1/2 each, and only (state 1, action 0) pays: the second
    # reward is 1 with probability 1/4, but never with the shared number (state 1 is drawn
    # by u >= 1/2, action 0 by u < 1/2).
    gamma, n = 0.9, 20_000
    P = np.full((2, 2, 2), 0.5)
    R = np.array([[0.0, 0.0], [1.0, 0.0]])
    pi = np.full((2, 2), 0.5)
    got = TabularMDP(P, R, gamma).mc_q(pi, n_rollouts=n, horizon=2, seed=5)
    sd = gamma * 0.5 / np.sqrt(n)  # a Bernoulli(1/4) times gamma: sd <= gamma / 2
    assert np.max(np.abs(got - (R + gamma / 4))) < 5 * sd  # 0.016; the mutant is 0.225 off


# ---- lines their mutation targets never reached (coverage, session 5)


def test_methods_repr_lists_the_names():
    from pmdtheory.sim.run import METHODS

    assert repr(METHODS) == f"METHODS({', '.join(METHODS)})"
    assert repr(METHODS).startswith("METHODS(exact, mean, kl_chi2, ")


def test_gaussian_noise_widens_the_reward_spread_tau_is_checked_against():
    from pmdtheory.sim import Bandit

    # rewards 1 apart, noise sd 1e90: spread 1 + 2 * 8.6 * 1e90 over tau = 1e-91 > 1e100
    loud = Bandit([[0.0, 1.0]], noise="gaussian", sigma=1e90)
    with pytest.raises(ValueError, match=r"^tau must be >= 1\.72e-09 for method 'mean_sampled'"):
        run(loud, "mean_sampled", 1, tau=1e-91)
    quiet = Bandit([[0.0, 1.0]], noise="gaussian", sigma=0.0)  # spread 1: tau = 1e-91 is fine
    assert len(run(quiet, "mean_sampled", 1, tau=1e-91)) == 2


def test_k_below_a_baselines_minimum_group_is_refused():
    import _toy_baseline as toy

    env = PromptPopulation.random(4, 6, seed=0)
    with toy.registered():
        with pytest.raises(ValueError, match=r"^k must be >= 2 for method 'mean_sampled' "
                           r"\(baseline 'toy_max'\), got 1$"):  # fmt: skip
            run(env, "mean_sampled", 1, k=1, baseline=toy.NAME)
        assert len(run(env, "mean_sampled", 1, k=2, baseline=toy.NAME)) == 2


@pytest.mark.parametrize(("x", "msg"), [
    (np.ones((2, 2), dtype=complex), r"^R must be real, got dtype complex128$"),
    (np.ones(3), r"^R must be a 2-d array, got ndim=1$"),
])  # fmt: skip
def test_arrays_must_be_real_with_the_asked_ndim(x, msg):
    from pmdtheory.sim import _check

    with pytest.raises(ValueError, match=msg):
        _check.array(x, "R", ndim=2)
    assert _check.array(np.ones((2, 2)), "R", ndim=2).dtype == np.float64


def test_grid_values_of_the_wrong_type_are_refused_by_name():
    from pmdtheory.sim.sweeps import expand_grid, parse_seeds

    with pytest.raises(ValueError, match=r"^seed must be a string like '0-99', got 3$"):
        parse_seeds(3)
    with pytest.raises(ValueError, match=r"^env must be a string, got 1$"):
        expand_grid({"env": 1})
    with pytest.raises(ValueError, match=r"^grid must be a dict or a list of dicts, got 'x'$"):
        expand_grid([{"env": "prompts"}, "x"])


def test_execute_refusals_and_stale_temp_files_need_no_cluster(tmp_path):
    from pmdtheory.sim.sweeps import _execute, cell_id, expand_grid

    cells = expand_grid({"env": "prompts", "contexts": 4, "actions": 3, "seed": "0-1"})
    with pytest.raises(ValueError, match="^errors must be 'raise' or 'report', got 'ignore'$"):
        _execute(cells, tmp_path / "o", errors="ignore")
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ValueError, match=f"^out must be a folder, got the file {afile}$"):
        _execute(cells, afile)
    # every cell already saved: nothing to run (no cluster starts), a stale temp file goes
    out = tmp_path / "done"
    out.mkdir()
    for c in cells:
        (out / f"{cell_id(c)}.parquet").write_bytes(b"")
    (out / ".abc.123.tmp").write_bytes(b"half")
    report = _execute(cells, out, scheduler="tcp://127.0.0.1:1")  # never contacted
    assert (report.n_cells, report.n_skipped, report.n_done) == (2, 2, 0)
    assert not list(out.glob(".*.tmp"))
    # full run (session 11): `mkdir(parents=False)`; the folder is created with its parents
    deep = tmp_path / "a" / "b"
    assert _execute([], deep).n_cells == 0 and deep.is_dir()


def test_a_stale_temp_file_another_client_removed_first_is_no_error(tmp_path, monkeypatch):
    # full run (session 11): `unlink(missing_ok=False)`. Two clients resuming one folder
    # both list its stale temp files; the one that comes second finds them gone
    from pathlib import Path

    from pmdtheory.sim.sweeps import _execute, cell_id, expand_grid

    (cell,) = expand_grid({"env": "prompts", "contexts": 4, "actions": 3, "seed": "0"})
    (tmp_path / f"{cell_id(cell)}.parquet").write_bytes(b"")
    glob = Path.glob

    def listed_then_gone(self, pattern):
        found = list(glob(self, pattern))
        if pattern == ".*.tmp":
            found.append(self / ".gone.1.tmp")  # the other client removed it meanwhile
        return iter(found)

    monkeypatch.setattr(Path, "glob", listed_then_gone)
    assert _execute([cell], tmp_path, scheduler="tcp://127.0.0.1:1").n_skipped == 1


def test_a_worker_preload_outside_the_main_thread_does_nothing():
    # full run (session 11): `except CosmicRayTestingException` for `except ValueError`:
    # signal.signal refuses to run outside the main thread, and the preload must not fail
    import signal
    import threading

    from pmdtheory.sim.sweeps import dask_setup

    before, errors = signal.getsignal(signal.SIGINT), []

    def setup():
        try:
            dask_setup(None)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=setup)
    t.start()
    t.join()
    assert errors == [] and signal.getsignal(signal.SIGINT) is before


def test_a_failed_write_leaves_no_temp_file(tmp_path):
    from pmdtheory.sim.sweeps import _write

    (tmp_path / "cid.parquet").mkdir()  # os.replace cannot put a file over a folder
    with pytest.raises(OSError):
        _write(tmp_path, "cid", b"data")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cid.parquet"]


def test_a_workers_cell_is_the_parquet_of_run_cell_or_an_error_line():
    # (--unreached, session 5: _cell_bytes and dask_setup run only in worker processes,
    # which coverage does not see; here they run in this one)
    import io
    import signal

    import pyarrow.parquet as pq

    from pmdtheory.sim.sweeps import _cell_bytes, dask_setup, expand_grid, run_cell

    (cell,) = expand_grid({"env": "prompts", "contexts": 4, "actions": 3, "seed": "0",
                           "iters": 2})  # fmt: skip
    status, payload = _cell_bytes(cell)
    assert status == "ok"
    got = pq.read_table(io.BytesIO(payload)).to_pandas()
    pd.testing.assert_frame_equal(got, run_cell(cell), check_exact=True, check_dtype=False)
    # full run (session 11): `preserve_index=True` added a column `__index_level_0__` that
    # other readers of the folder (pyarrow, polars, DuckDB) would show
    assert pq.read_schema(io.BytesIO(payload)).names == list(run_cell(cell).columns)
    status, payload = _cell_bytes({**cell, "tau": -1.0})
    assert status == "error" and payload.startswith("ValueError: tau must be > 0")
    before = signal.getsignal(signal.SIGINT)
    try:
        dask_setup(None)  # a worker ignores Ctrl-C: the client shuts it down
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_kl_chi2_step_that_is_not_a_distribution_is_refused(monkeypatch):
    # the guard behind the core (--unreached, session 5: never taken): a row that does not
    # sum to 1 stops the run with the arguments' names, not a wrong next iteration
    sim_run = sys.modules["pmdtheory.sim.run"]  # (pmdtheory.sim.run is also the function)
    monkeypatch.setattr(sim_run, "kl_chi2_update", lambda logpi, R, tau, beta, log: logpi + 1.0)
    env = PromptPopulation.random(4, 3, seed=0)
    msg = r"^beta \(0\.1\) and tau \(0\.05\) out of range: kl_chi2_update returned rows that"
    with pytest.raises(ValueError, match=msg):
        run(env, "kl_chi2", 2, tau=0.05, beta=0.1)


def test_sweep_takes_grid_and_out_by_position_or_name_and_the_options_by_name_only():
    # held-out (seed 5) mutant: `/` for `*` in sweep's signature made grid and out
    # positional-only and the options positional
    import inspect

    from pmdtheory.sim import sweep
    from pmdtheory.sim.sweeps import _execute

    # full run (session 11): the same `/` in `_execute`, which the CLI and tests call
    for fn, first in ((sweep, ("grid", "out")), (_execute, ("cells", "out"))):
        kinds = {n: p.kind for n, p in inspect.signature(fn).parameters.items()}
        assert [kinds.pop(n) for n in first] == [inspect.Parameter.POSITIONAL_OR_KEYWORD] * 2
        assert set(kinds.values()) == {inspect.Parameter.KEYWORD_ONLY}


@pytest.mark.parametrize("off, refused", [(1e-10, False), (1e-6, True)])
def test_kl_chi2_rows_must_sum_to_one_within_1e_9(monkeypatch, off, refused):
    # held-out (seed 7) mutant: _MASS_TOL 1e-9 -> 1 + 1e-9 let rows of any mass through; a
    # stand-in kl_chi2_update whose rows carry 1e-6 too much mass must be refused by name
    sim_run = sys.modules["pmdtheory.sim.run"]  # the module (the package exports run())
    real = sim_run.kl_chi2_update

    def heavy(logpi, r, tau, beta, **kw):
        return real(logpi, r, tau, beta, **kw) + np.log1p(off)

    monkeypatch.setattr(sim_run, "kl_chi2_update", heavy)
    env = PromptPopulation.random(4, 6, seed=0)
    if refused:
        with pytest.raises(ValueError, match=r"beta \(0.5\) and tau \(0.1\) out of range"):
            run(env, ["kl_chi2"], iters=1, tau=0.1, beta=0.5, progress=False)
    else:
        run(env, ["kl_chi2"], iters=1, tau=0.1, beta=0.5, progress=False)


def test_a_local_cluster_is_closed_when_its_client_cannot_start(monkeypatch):
    # held-out (seed 7) mutant: `except CosmicRayTestingException` for `except BaseException`
    # left the local Dask cluster (its worker processes) running when the client failed
    distributed = pytest.importorskip("distributed")
    import pmdtheory.sim.sweeps as sweeps

    closed = []

    class Cluster:
        def close(self):
            closed.append(True)

    def refuse(cluster):
        raise KeyboardInterrupt  # e.g. Ctrl-C while the client connects

    monkeypatch.setattr(sweeps, "_local_cluster", lambda n_workers: Cluster())
    monkeypatch.setattr(distributed, "Client", refuse)
    with pytest.raises(KeyboardInterrupt):
        sweeps._client(None, 1)
    assert closed == [True]


def test_run_accepts_every_seed_up_to_2_63_minus_1():
    # held-out (seed 8): `hi=2**62 - 1` refused half of the documented seed range
    env = Bandit([[0.2, 0.8]])
    top = run(env, "mean_sampled", iters=1, tau=0.1, k=2, seed=2**63 - 1)
    assert list(top.seed.unique()) == [2**63 - 1]
    with pytest.raises(ValueError, match="seed"):
        run(env, "mean_sampled", iters=1, tau=0.1, k=2, seed=2**63)


def test_the_random_streams_are_distinct():
    # full run (session 9): STREAM_NORMAL 2 -> 3, the transitions' stream: two uses of one
    # (iteration, context, sample) key must draw independent numbers
    from pmdtheory.sim import _rng

    streams = [v for k, v in vars(_rng).items() if k.startswith("STREAM_")]
    assert len(streams) == 4 and len(set(streams)) == 4


def test_one_context_is_allowed_and_a_one_cell_gridworld_is_named():
    # full run (session 11): `p[name] < 2` refused one prompt or one action; `size < 1` let
    # a 1 x 1 gridworld through to the environment's own check, with another message
    from pmdtheory.sim.sweeps import expand_grid

    (cell,) = expand_grid({"env": "prompts", "contexts": 1, "actions": 1})
    assert (cell["contexts"], cell["actions"]) == (1, 1)
    msg = "contexts, actions: a gridworld has size**2 contexts (size >= 2) and 4 actions, got 1, 4"
    with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
        expand_grid({"env": "gridworld", "contexts": 1, "actions": 4})
    # `size < 3`, `size <= 2`: the 2 x 2 gridworld the message allows
    (cell,) = expand_grid({"env": "gridworld", "contexts": 4, "actions": 4})
    assert cell["contexts"] == 4


# ---- a full run of tools/mutation.py over sim/_fit.py (session 13)

TOL_ROW = 1e-15  # one gradient step of a three-action row, against the same sums by hand


def _grpo_one_step(logpi, samp, y, A, lr, clip):
    """``_grpo_row``'s single step, and the same step by hand with every sample's gradient in."""
    from pmdtheory.sim._fit import _grpo_row

    n = logpi.size
    g, theta, p = np.empty(n), np.empty(n), np.empty(n)
    e0 = np.exp(logpi)
    _grpo_row(logpi, e0, samp, y, A, np.zeros(n), lr, 1, clip, g, theta, p)
    want = logpi.copy()
    for a, adv in zip(y, A):
        w = adv * np.exp(logpi[a] - samp[a])
        want += lr / y.size * w * (np.eye(n)[a] - e0)
    return theta, want - np.log(np.exp(want).sum())


@pytest.mark.parametrize("side", ["upper", "lower"])
def test_grpo_a_ratio_exactly_at_the_clip_bound_keeps_its_gradient(side):
    # mutants: `ratio > 1.0 + clip` -> `>=`, `ratio < 1.0 - clip` -> `<=`.
    # At rho = 1 +- eps exactly, TRL's min(rho A, clamp(rho) A) is a tie: torch's min
    # splits the gradient between two equal branches and clamp passes its bound, so the
    # sample's whole gradient counts (checked on torch below, where it is installed).
    logpi = np.log([0.5, 0.25, 0.25])  # sums to 1 exactly: log Z = 0 in the kernel
    samp = np.log([0.4, 0.3, 0.3])
    a = 0 if side == "upper" else 1
    rho = float(np.exp(logpi[a] - samp[a]))  # the kernel's ratio, bit for bit
    clip = rho - 1.0 if side == "upper" else 1.0 - rho  # exact (Sterbenz)
    assert (1.0 + clip if side == "upper" else 1.0 - clip) == rho
    A = np.array([1.0 if side == "upper" else -1.0])
    got, want = _grpo_one_step(logpi, samp, np.array([a]), A, 2.0, clip)
    assert np.max(np.abs(got - want)) <= TOL_ROW
    assert np.max(np.abs(got - logpi)) > 0.1  # the step did move the policy
    torch = pytest.importorskip("torch")
    r = torch.tensor(rho, dtype=torch.float64, requires_grad=True)
    At = torch.tensor(A[0], dtype=torch.float64)
    torch.min(r * At, torch.clamp(r, 1 - clip, 1 + clip) * At).backward()
    assert r.grad.item() == A[0]  # d/d rho of the unclipped branch: the full gradient


def test_an_mdp_checks_tau_against_the_spread_of_its_q_values():
    # mutant (session 17): `spread /= 0.0 - gamma` made an MDP's spread negative, so no tau
    # was too small. Q values of rewards in [min, max] span (max - min) / (1 - gamma)
    mdp = TabularMDP.random(12, 3, gamma=0.9, seed=0)
    spread = float(mdp.R.max() - mdp.R.min()) / (1 - 0.9)
    tau = 0.5 * spread / 1e100  # spread / tau = 2e100, over the 1e100 allowed
    with pytest.raises(
        ValueError, match=rf"^tau must be >= {spread / 1e100:.3g} for method 'exact'"
    ):
        run(mdp, "exact", 1, tau=tau)
    assert len(run(mdp, "exact", 1, tau=2 * spread / 1e100)) == 2


@pytest.mark.parametrize("method", ["grpo_sampled", "exact"])
@pytest.mark.parametrize("eps", [0.0, -0.5])
def test_a_grpo_eps_that_is_not_positive_is_refused(eps, method):
    # session 17: eps was checked twice (by run and per method); checked once now, for any
    # method. A mutant of that check (`lo= -1.0`) lets eps = 0 (a constant group's 0 / 0)
    env = PromptPopulation.random(4, 6, seed=0)
    with pytest.raises(ValueError, match=rf"^eps must be > 0\.0, got {eps}$"):
        run(env, method, 1, eps=eps)


def test_methods_counts_what_it_lists():
    # mutant (session 17): `len(BASELINES) * 1` left "grpo" out of len(METHODS)
    from pmdtheory.sim.run import METHODS

    assert len(METHODS) == len(list(METHODS))


def test_exact_q_on_an_mdp_draws_no_rollouts():
    # mutants (session 17): `mdp or q == "mc"` estimated Q by rollouts for q = "exact" too
    # (the frame then depended on the seed), and `q != "mc"` checked the rollout budget of an
    # exact run, refusing n_rollouts it never uses
    mdp = TabularMDP.random(12, 3, seed=0)
    runs = [run(mdp, "exact", 3, q="exact", seed=s, n_rollouts=10**8) for s in (0, 1)]
    cols = ["value", "subopt", "reward_mean", "kl_prev", "entropy"]
    np.testing.assert_array_equal(runs[0][cols].to_numpy(), runs[1][cols].to_numpy())


@pytest.mark.parametrize("method", ["mean_sampled", "grpo_sampled", "grpo"])
def test_k_zero_is_refused_as_k(method):
    # mutant (session 17): `lo= 0` let k = 0 samples per context through the k check
    env = PromptPopulation.random(4, 6, seed=0)
    with pytest.raises(ValueError, match=r"^k must be an integer >= 1, got 0$"):
        run(env, method, 1, k=0)


def test_the_diagnostics_log_partition_ignores_actions_off_the_support():
    # mutants (session 17): `ps[a] > -1.0` took a zero-probability action's reward as the
    # shift (every term then underflowed: log 0), `ps[a] >= 0.0` its term into the sum
    # (0 * exp(99 / 0.01) = NaN). Plain reference: the same sum over the support, in mpmath
    import mpmath as mp

    from pmdtheory.sim import _kernels as K

    ps, R, tau = np.array([0.0, 0.5, 0.5]), np.array([100.0, 0.0, 1.0]), 0.01
    logz, rbar = K._log_partition_w(ps, R, tau)
    with mp.workdps(30):
        expected = tau * mp.log(
            mp.mpf(0.5) * mp.exp(0 / mp.mpf(tau)) + 0.5 * mp.exp(1 / mp.mpf(tau))
        )
    assert logz == pytest.approx(float(expected), rel=1e-15) and rbar == 0.5


def test_population_statistics_ignore_actions_off_the_support():
    # mutant (session 17): `logpi_new[a] >= -math.inf` took a zero-probability action (a
    # logit of -inf) into the step's statistics: its KL term 0 * (-inf) was NaN and the run
    # was refused. It must match the bandit without that action, without a warning (session
    # 17: the initial entropy's 0 * -inf warned)
    # (held-out seed 25, session 18: `>= -math.inf` in the target errors' loop took it in
    # too, and PMD-mean's error there, -inf - (-inf), made them NaN)
    cols = ["reward_mean", "kl_prev", "entropy", "target_err_pos", "target_rmse_neg"]
    with_zero = Bandit([[1.0, 7.0, 0.5]], logits=[[0.0, -np.inf, 0.0]])
    without = Bandit([[1.0, 0.5]])
    for method in ("exact", "mean"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = run(with_zero, method, 3, tau=0.5)[cols].to_numpy()
        np.testing.assert_array_equal(got, run(without, method, 3, tau=0.5)[cols].to_numpy())


def test_a_draw_rounded_up_to_the_total_steps_back_to_the_support():
    # held-out (seed 22) mutant, session 17: `while c > 1` in the linear count stopped one
    # short and drew action 1, of probability 0, where only action 0 has mass
    from pmdtheory.sim import _kernels as K

    # (held-out seed 26, session 18: `c -= 2` stepped back two at a time, right only over an
    # even number of zero-probability actions: [0.5, 1, 1] drew action 0, [1, 1] action -1)
    cases = [([1.0, 1.0, 1.0], 0), ([0.25, 1.0, 1.0, 1.0], 1), ([0.5, 1.0], 1),
             ([0.5, 1.0, 1.0], 1), ([1.0, 1.0], 0)]  # fmt: skip
    for cdf, want in cases:
        cdf = np.array(cdf)
        assert K._count_below(cdf, cdf[-1]) == want
        assert K._search(cdf, cdf[-1]) == want


def test_a_single_context_is_stepped_and_measured():
    # held-out (seed 23) mutant, session 18: `n_blocks = (P * _BLOCK - 1) // _BLOCK` is P - 1
    # blocks, enough for every P >= 2 but none for one context: its policy and statistics
    # were never written. Two runs of one context compared with each other agreed; the
    # core's updates, applied by hand, do not.
    import pmdtheory as pmd

    r = np.array([1.0, 0.5, -0.25])
    env = Bandit([r])
    for method, update in (("exact", pmd.exact_update), ("mean", pmd.mean_update)):
        got = run(env, method, 2, tau=0.5)
        pi = np.full(3, 1 / 3)
        for it in (1, 2):
            new = update(pi, r, 0.5)
            row = got[got.iter == it].iloc[0]
            kl = np.sum(new * np.log(new / pi))
            want = [new @ r, kl]
            np.testing.assert_allclose([row.reward_mean, row.kl_prev], want, rtol=TOL_BY_HAND)
            pi = new


def test_a_bernoulli_reward_is_a_success_exactly_below_its_probability():
    # held-out (seed 25) mutant, session 18: `uniform(...) <= R[a]` made P(success) R + 2^-53
    # (and a probability of 0 could succeed). The draw is a success iff u < R: with R set to
    # the very uniform the kernel draws, it fails; one ulp above, it succeeds
    from pmdtheory.sim import _kernels as K
    from pmdtheory.sim._rng import STREAM_REWARD, uniforms

    seed, it, ctx = 3, 2, 5
    u = float(uniforms(seed, it, ctx, 0, STREAM_REWARD))
    for R, want in ((u, 0.0), (np.nextafter(u, 1.0), 1.0)):
        y, r = np.empty(1, np.int64), np.empty(1)
        K._sample_rewards(np.ones(1), np.array([R]), 1, 0.0, seed, it, ctx, np.empty(1), y, r)
        assert (y[0], r[0]) == (0, want)
