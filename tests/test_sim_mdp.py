"""Tests for pmdtheory.sim.mdp and PMD on tabular MDPs (THEORY §7)."""

import itertools

import numpy as np
import pytest

from pmdtheory import exact_update, mean_update
from pmdtheory.sim import PromptPopulation, TabularMDP, run
from pmdtheory.sim import mdp as mdp_module

TOL_EVAL = 1e-10  # linear solve against a 2000-term Neumann series (gamma^2000 ~ 0)
TOL_OPT = 1e-9  # optimal values against brute force over deterministic policies
MC_SIGMAS = 5.0  # Monte-Carlo Q tolerance, in (upper bounds of) standard errors
MC_REPLAY_ATOL = 1e-12  # mc_q against a plain replay of its draws: the same sums
TOL_RATE = 0.01  # fitted asymptotic rate against exp(-gap/tau), relative
TOL_LINEAR = 0.02  # max residual of log(subopt) around the fitted line
TOL_GAIN = 1e-12  # PMD-mean's per-step gain may exceed exact PMD's by rounding only
TOL_QE = 1e-10  # optimal values against QuantEcon's DiscreteDP policy iteration
HALF = np.full((2, 2, 2), 0.5)


@pytest.fixture(scope="module")
def mdp():
    return TabularMDP.random(15, 3, gamma=0.9, seed=0)


def test_evaluate_matches_neumann_series(mdp):
    rng = np.random.default_rng(1)
    pi = rng.dirichlet(np.ones(3), size=15)
    v, q = mdp.evaluate(pi)
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)
    r_pi = (pi * mdp.R).sum(axis=1)
    v_ref = np.zeros(15)
    term = r_pi.copy()
    for _ in range(2000):  # v = sum_t gamma^t P_pi^t r_pi
        v_ref += term
        term = mdp.gamma * P_pi @ term
    np.testing.assert_allclose(v, v_ref, atol=TOL_EVAL, rtol=0)
    np.testing.assert_allclose((pi * q).sum(axis=1), v, atol=TOL_EVAL, rtol=0)
    np.testing.assert_allclose(q, mdp.R + mdp.gamma * mdp.P @ v_ref, atol=TOL_EVAL, rtol=0)
    assert mdp.value(pi) == pytest.approx(mdp.rho @ v_ref, abs=TOL_EVAL)


def test_solve_matches_brute_force():
    small = TabularMDP.random(5, 3, gamma=0.8, branching=2, seed=7)
    best = np.full(5, -np.inf)
    for sigma in itertools.product(range(3), repeat=5):
        best = np.maximum(best, small.evaluate(np.eye(3)[list(sigma)]).v)
    res = small.solve()
    assert res.converged
    np.testing.assert_allclose(res.v, best, atol=TOL_OPT, rtol=0)
    np.testing.assert_allclose(res.q.max(axis=1), res.v, atol=TOL_OPT, rtol=0)
    np.testing.assert_allclose(small.evaluate(np.eye(3)[res.policy]).v, best, atol=TOL_OPT)


@pytest.mark.parametrize(
    "S, A, gamma, seed",
    [(10, 3, 0.9999, 0), (30, 5, 0.99, 1), (12, 4, 0.0, 2), (8, 2, 0.999999, 3), (1, 1, 0.5, 4)],
)
def test_solve_equals_quantecon_policy_iteration(S, A, gamma, seed):
    """Issue 12/17: exact policy iteration, any gamma < 1 (value iteration crashed at
    0.9999); same values (1e-10) and policy as QuantEcon's DiscreteDP."""
    DiscreteDP = pytest.importorskip("quantecon.markov").DiscreteDP
    mdp = TabularMDP.random(S, A, gamma=gamma, branching=min(S, 3), seed=seed)
    res = mdp.solve()
    qe = DiscreteDP(mdp.R, mdp.P, gamma).solve("policy_iteration")
    assert res.converged
    np.testing.assert_allclose(res.v, qe.v, atol=TOL_QE * max(1.0, np.abs(qe.v).max()), rtol=0)
    np.testing.assert_array_equal(res.policy, qe.sigma)
    # the same start (greedy for v0 = max_a R) and the same steps: the same count
    assert res.num_iter == qe.num_iter
    # Bellman optimality: greedy in its own Q, and v = max_a Q
    np.testing.assert_allclose(res.q.max(axis=1), res.v, atol=TOL_QE * (1 + np.abs(res.v).max()))


def test_gridworld_optimum():
    g = TabularMDP.gridworld(4, gamma=0.9, slip=0.0)
    res = g.solve()
    assert res.v[-1] == pytest.approx(1 / (1 - 0.9), abs=TOL_OPT)  # absorbing goal pays 1
    # deterministic moves: the start is 6 steps from the goal
    assert res.v[0] == pytest.approx(0.9**6 / (1 - 0.9), abs=TOL_OPT)
    assert res.policy[14] == 3 and res.policy[11] == 1  # right / down into the goal
    np.testing.assert_allclose(g.P.sum(axis=2), 1.0)


def test_mc_q_replays_in_plain_python_from_its_documented_keys(mdp):
    """Every draw is a hash of (seed, iteration, state-action, rollout step): a plain loop
    over the same keys gives the same estimate. Full run (session 9): the state-action key
    `s0 * A + a0` -> `s0 * A - a0` drew other, equally random numbers, which no statistical
    test can tell apart."""
    from pmdtheory.sim._rng import STREAM_TRANSITION, uniform

    S, A = mdp.R.shape
    pi = np.random.default_rng(0).dirichlet(np.ones(A), size=S)
    n, horizon, seed, it = 2, 3, 7, 4
    got = mdp.mc_q(pi, n_rollouts=n, horizon=horizon, seed=seed, iteration=it)
    cdf_p, cdf_pi = np.cumsum(mdp.P, axis=2), np.cumsum(pi, axis=1)

    def draw(cdf, ctx, key):  # the first index whose cumulative probability exceeds u
        u = uniform(seed, it, ctx, key, STREAM_TRANSITION) * cdf[-1]
        return min(int(np.searchsorted(cdf, u, side="right")), len(cdf) - 1)

    want = np.empty((S, A))
    for s0 in range(S):
        for a0 in range(A):
            total = 0.0
            for j in range(n):
                s, a, ret, disc = s0, a0, 0.0, 1.0
                for h in range(horizon):
                    ret += disc * mdp.R[s, a]
                    disc *= mdp.gamma
                    if h < horizon - 1:
                        key = 2 * (j * horizon + h)
                        s = draw(cdf_p[s, a], s0 * A + a0, key)
                        a = draw(cdf_pi[s], s0 * A + a0, key + 1)
                total += ret
            want[s0, a0] = total / n
    np.testing.assert_allclose(got, want, rtol=0, atol=MC_REPLAY_ATOL)


def test_mc_q_within_sampling_error(mdp):
    pi = np.full((15, 3), 1 / 3)
    n, horizon = 400, 200
    q_mc = mdp.mc_q(pi, n_rollouts=n, horizon=horizon, seed=3)
    q = mdp.evaluate(pi).q
    # rewards in [0, 1]: a return lies in [0, 1/(1-gamma)], so its sd is at most
    # half that range (Popoviciu); truncation after H steps biases by <= gamma^H/(1-gamma).
    sd_max = 0.5 / (1 - mdp.gamma)
    bias = mdp.gamma**horizon / (1 - mdp.gamma)
    err = np.abs(q_mc - q)
    assert err.max() <= MC_SIGMAS * sd_max / np.sqrt(n) + bias
    # and the estimate is not trivially exact: errors look like sampling noise
    assert 0 < np.sqrt(np.mean(err**2)) < sd_max / np.sqrt(n)
    np.testing.assert_array_equal(q_mc, mdp.mc_q(pi, n_rollouts=n, horizon=horizon, seed=3))


@pytest.mark.parametrize("method", ["exact", "mean"])
def test_linear_convergence_rate(mdp, method):
    r"""Near the optimum, pi_{t+1}(a|s)/pi_{t+1}(a*|s) = pi_t(a|s)/pi_t(a*|s) exp(-gap/tau)
    with gap = Q*(s,a*) - Q*(s,a); so the suboptimality shrinks geometrically with
    rate exp(-gap_min/tau): linear convergence, faster for smaller tau. PMD-mean
    has the same asymptotics (its lam -> 0 as the policy becomes deterministic)."""
    sol = mdp.solve()
    gap = sol.q.max(axis=1, keepdims=True) - sol.q
    gap_min = gap[gap > 1e-9].min()
    rates = []
    for tau in (0.5, 0.25):
        df = run(mdp, method, iters=200, tau=tau)
        subopt = df["subopt"].to_numpy()
        assert np.all(np.diff(subopt) <= 1e-12)  # policy improvement: monotone
        t = np.arange(100, 201)
        slope, icept = np.polyfit(t, np.log(subopt[t]), 1)
        resid = np.log(subopt[t]) - (slope * t + icept)
        assert np.abs(resid).max() < TOL_LINEAR
        rates.append(np.exp(slope))
        assert rates[-1] == pytest.approx(np.exp(-gap_min / tau), rel=TOL_RATE)
    assert rates[1] < rates[0] < 1


def test_mdp_population_paths_and_gains(mdp):
    """run() on an MDP equals per-state core updates with Q from exact evaluation;
    along PMD-mean's path, each state's one-step gain E_{pi'}[Q] - V is at least 0
    and never above exact PMD's from the same policy (THEORY §6)."""
    tau, iters = 0.3, 25
    df, per = run(mdp, "mean", iters=iters, tau=tau, per_prompt=True)
    logpi = mdp.logpi0.copy()
    for t in range(iters + 1):
        v, q = mdp.evaluate(np.exp(logpi))
        got = per[per["iter"] == t]["reward"].to_numpy()
        np.testing.assert_allclose(got, v, atol=1e-10, rtol=0)
        gain_mean = (np.exp(mean_update(logpi, q, tau, log=True)) * q).sum(axis=1) - v
        gain_exact = (np.exp(exact_update(logpi, q, tau, log=True)) * q).sum(axis=1) - v
        assert np.all(gain_mean >= -TOL_GAIN)
        assert np.all(gain_mean <= gain_exact + TOL_GAIN)
        logpi = mean_update(logpi, q, tau, log=True)
    assert df["subopt"].iloc[-1] < 1e-2 * df["subopt"].iloc[0]


@pytest.mark.parametrize("tau", [0.02, 0.2, 2.0])
def test_prompt_population_gain_never_above_exact(tau):
    """Binary-reward prompts: per prompt and step, PMD-mean gains no more success
    probability than exact PMD would from the same policy."""
    env = PromptPopulation.random(400, 16, seed=2)
    _, per = run(env, "mean", iters=6, tau=tau, per_prompt=True)
    logpi = env.logpi0.copy()
    for t in range(6):
        p_next = per[per["iter"] == t + 1]["reward"].to_numpy()
        p_exact = (np.exp(exact_update(logpi, env.R, tau, log=True)) * env.R).sum(axis=1)
        assert np.all(p_next <= p_exact + TOL_GAIN)
        logpi = mean_update(logpi, env.R, tau, log=True)


@pytest.mark.parametrize(
    "kw, name",
    [
        ({"P": np.ones((2, 2, 3)), "R": np.zeros((2, 2)), "gamma": 0.9}, "P"),
        ({"P": np.full((2, 2, 2), 0.5), "R": np.zeros((2, 3)), "gamma": 0.9}, "R"),
        ({"P": np.full((2, 2, 2), 0.5), "R": np.zeros((2, 2)), "gamma": 1.0}, "gamma"),
        (
            {"P": np.full((2, 2, 2), 0.5), "R": np.zeros((2, 2)), "gamma": 0.5, "rho": [1, 1]},
            "rho",
        ),
    ],
)
def test_bad_mdp_raises(kw, name):
    with pytest.raises(ValueError, match=f"^{name} "):
        TabularMDP(**kw)


@pytest.mark.parametrize(
    "kw, name",
    [
        ({"P": np.zeros((0, 2, 0)), "R": np.zeros((0, 2)), "gamma": 0.9}, "P"),
        ({"P": np.zeros((2, 0, 2)), "R": np.zeros((2, 0)), "gamma": 0.9}, "P"),
        ({"P": HALF, "R": np.zeros((2, 2)), "gamma": "0.9"}, "gamma"),
        ({"P": HALF, "R": np.zeros((2, 2)), "gamma": np.nan}, "gamma"),
        ({"P": HALF * np.nan, "R": np.zeros((2, 2)), "gamma": 0.9}, "P"),
        ({"P": "abc", "R": np.zeros((2, 2)), "gamma": 0.9}, "P"),
        ({"P": HALF, "R": np.zeros((2, 2)), "gamma": 0.5, "rho": [np.nan, 1]}, "rho"),
        # a negative entry in rows that still sum to 1; rows summing to 1.5 or 1 + 1e-6
        ({"P": HALF + [1.0, -1.0], "R": np.zeros((2, 2)), "gamma": 0.9}, "P"),
        ({"P": HALF * 1.5, "R": np.zeros((2, 2)), "gamma": 0.9}, "P"),
        ({"P": HALF * (1 + 1e-6), "R": np.zeros((2, 2)), "gamma": 0.9}, "P"),
        ({"P": HALF, "R": [[0.0, np.inf], [0.0, 0.0]], "gamma": 0.9}, "R"),
        ({"P": HALF, "R": np.zeros((2, 2)), "gamma": 0.5, "rho": [1.5, -0.5]}, "rho"),
    ],
)
def test_more_bad_mdps_raise(kw, name):
    with pytest.raises(ValueError, match=f"^{name} "):
        TabularMDP(**kw)


def test_bad_mdp_arguments_raise(mdp):
    with pytest.raises(ValueError, match="^pi "):
        mdp.evaluate(np.ones((2, 2)))
    with pytest.raises(ValueError, match="^n_rollouts "):
        mdp.mc_q(np.full((15, 3), 1 / 3), n_rollouts=0)
    with pytest.raises(ValueError, match="^n_states "):
        TabularMDP.random(0, 2)
    with pytest.raises(ValueError, match="^branching "):
        TabularMDP.random(3, 2, branching=4)
    with pytest.raises(ValueError, match="^slip "):
        TabularMDP.gridworld(3, slip=2.0)
    with pytest.raises(ValueError, match="^pi "):
        mdp.evaluate(np.full((15, 3), 0.5))  # rows do not sum to 1
    with pytest.raises(ValueError, match="^pi "):
        mdp.mc_q(np.full((15, 3), np.nan))
    with pytest.raises(ValueError, match="^horizon "):
        mdp.mc_q(np.full((15, 3), 1 / 3), horizon=10**9)
    with pytest.raises(ValueError, match="^max_iter "):
        mdp.solve(max_iter=0)


def test_gridworld_transitions_match_a_plain_transcription():
    """Every cell and action against moves written out by hand: up, down, left, right,
    walls keep the agent in place, a slip picks one of the four uniformly."""
    size, slip = 3, 0.2
    g = TabularMDP.gridworld(size, gamma=0.5, slip=slip)

    def neighbour(i, j, a):
        if a == 0:
            i = max(i - 1, 0)
        elif a == 1:
            i = min(i + 1, size - 1)
        elif a == 2:
            j = max(j - 1, 0)
        else:
            j = min(j + 1, size - 1)
        return i * size + j

    want = np.zeros((9, 4, 9))
    for i in range(size):
        for j in range(size):
            s = i * size + j
            for a in range(4):
                if s == 8:
                    want[s, a, s] = 1.0
                    continue
                want[s, a, neighbour(i, j, a)] += 1 - slip
                for m in range(4):
                    want[s, a, neighbour(i, j, m)] += slip / 4
    np.testing.assert_allclose(g.P, want, rtol=0, atol=1e-15)
    assert g.R[8].tolist() == [1.0] * 4 and not g.R[:8].any()
    assert g.rho.tolist() == [1.0] + [0.0] * 8


def test_mc_q_accepts_the_whole_key_range(mdp):
    """seed and iteration are 64-bit keys: 0 to 2**63 - 1, and nothing beyond."""
    pi = np.full((15, 3), 1 / 3)
    top = 2**63 - 1
    q = mdp.mc_q(pi, n_rollouts=1, horizon=2, seed=top, iteration=top)
    assert q.shape == (15, 3) and np.isfinite(q).all()
    for key in ("seed", "iteration"):
        with pytest.raises(ValueError, match=f"^{key} "):
            mdp.mc_q(pi, n_rollouts=1, horizon=2, **{key: 2**63})
        with pytest.raises(ValueError, match=f"^{key} "):
            mdp.mc_q(pi, n_rollouts=1, horizon=2, **{key: -1})


def test_mc_q_default_horizon():
    """Default horizon: the first H with gamma**H < 1e-4 (88 at gamma 0.9), 1 at gamma 0."""
    mdp = TabularMDP.random(4, 2, gamma=0.9, seed=1)
    pi = np.full((4, 2), 0.5)
    h = int(np.ceil(np.log(1e-4) / np.log(0.9)))
    assert h == 88 and 0.9**h < 1e-4 <= 0.9 ** (h - 1)
    np.testing.assert_array_equal(
        mdp.mc_q(pi, n_rollouts=3, seed=2), mdp.mc_q(pi, n_rollouts=3, horizon=h, seed=2)
    )
    assert not np.array_equal(
        mdp.mc_q(pi, n_rollouts=3, seed=2), mdp.mc_q(pi, n_rollouts=3, horizon=h - 1, seed=2)
    )
    myopic = TabularMDP(mdp.P, mdp.R, 0.0)
    np.testing.assert_array_equal(myopic.mc_q(pi, n_rollouts=2), mdp.R)  # one step: R itself


def test_gridworld_defaults_and_rows_within_tolerance_are_renormalised():
    g = TabularMDP.gridworld()
    assert g.shape == (16, 4) and g.gamma == 0.9
    np.testing.assert_allclose(g.P[0, 0, 0], 0.9 + 0.1 / 4 * 2)  # up: wall; slip up/left
    # rows off by less than the 1e-9 tolerance are accepted and renormalised exactly
    m = TabularMDP(HALF * (1 + 1e-10), np.zeros((2, 2)), 0.5)
    np.testing.assert_array_equal(m.P, HALF)


def test_random_mdp_documented_defaults():
    a, b = TabularMDP.random(), TabularMDP.random(20, 4, gamma=0.9, branching=3, seed=0)
    np.testing.assert_array_equal(a.P, b.P)
    np.testing.assert_array_equal(a.R, b.R)
    assert a.gamma == 0.9 and int((a.P > 0).sum(axis=2).max()) == 3


def test_mc_q_work_limit_is_exactly_mc_max_steps():
    """One state, one action, one rollout: horizon 10**9 is the most work allowed (checked
    by the budget helper, not run), 10**9 + 1 is refused before any work."""
    one = TabularMDP(np.ones((1, 1, 1)), [[1.0]], 0.5)
    assert one._mc_budget(1, 10**9) == (1, 10**9)
    with pytest.raises(ValueError, match="^horizon "):
        one.mc_q([[1.0]], n_rollouts=1, horizon=10**9 + 1)
    # the work counts states times actions: two actions halve the horizon allowed
    two = TabularMDP(np.ones((1, 2, 1)), [[1.0, 0.0]], 0.5)
    assert two._mc_budget(1, 5 * 10**8) == (1, 5 * 10**8)
    with pytest.raises(ValueError, match="^horizon "):
        two._mc_budget(1, 5 * 10**8 + 1)


def test_policy_iteration_that_needs_more_steps_than_max_iter_is_refused():
    mdp = TabularMDP.random(20, 4, seed=3)
    steps = mdp.solve().num_iter
    assert steps == 4  # this MDP needs a few improvement steps
    assert mdp.solve(max_iter=steps).num_iter == steps
    with pytest.raises(ValueError, match=f"^max_iter: policy iteration did not stabilise in "
                       f"{steps - 1} steps$"):  # fmt: skip
        mdp.solve(max_iter=steps - 1)


@pytest.mark.parametrize("method", ["mean_sampled", "loo_partition_sampled"])
def test_sampled_methods_observe_q_values_without_noise(method):
    # held-out (seed 8): `noise_code = 1` drew Bernoulli(Q) rewards. Where the action
    # changes nothing (rewards and moves the same for both), every action has the same Q,
    # so noiseless samples have zero advantages and the uniform policy never moves
    P = np.full((3, 2, 3), 1.0 / 3.0)
    R = np.array([[0.05, 0.05], [0.02, 0.02], [0.0, 0.0]])  # Q in (0, 1): Bernoulli-able
    df = run(TabularMDP(P, R, gamma=0.9), method, iters=4, tau=0.1, k=4, seed=0)
    assert np.all(df.kl_prev.dropna() == 0.0)
    assert np.allclose(df.entropy, np.log(2.0), rtol=0, atol=1e-15)


# ---------------------------------- a full run of tools/mutation.py (session 11)


def _near_tie(eps: float, c: float) -> TabularMDP:
    """Three states, gamma = 1/2. In state 0, action 0 pays 1 and moves to state 2, which
    pays c forever (so action 0 is worth 1 + c); action 1 pays 0 and moves to state 1,
    which pays 1 + c + eps forever (worth 1 + c + eps from state 0, eps more). The start
    policy (greedy for v0 = max R) takes action 0."""
    P = np.zeros((3, 2, 3))
    P[0, 0, 2] = P[0, 1, 1] = P[1, :, 1] = P[2, :, 2] = 1.0
    R = np.array([[1.0, 0.0], [1.0 + c + eps] * 2, [c, c]])
    return TabularMDP(P, R, gamma=0.5)


@pytest.mark.parametrize(
    "c, below, above", [(1.0, 1e-12, 1e-11), (-1.0, 5e-13, 5e-12), (-1.0, 1e-12, 1.5e-12)]
)
def test_a_state_keeps_its_action_unless_another_is_better_by_more_than_rounding(c, below, above):
    # mutants: `1e-12 / (1 + |v|)`, `1e-12 (1 * |v|)` and `(0 + |v|)` for the documented
    # `1e-12 (1 + |v|)`, `(2 + |v|)`, and `>` for `>=`. In state 0, |v| = 1 + c: at |v| = 2
    # an action better by 1e-12 (above 1e-12 / 3, below 3e-12) is rounding; at v = 0, 5e-13
    # (below 1e-12, above 0) is, and so is exactly 1e-12 (every number here is exact), but
    # 1.5e-12 is not
    kept = _near_tie(below, c).solve(max_iter=1)  # max_iter = 1 is allowed and enough
    assert (kept.policy[0], kept.num_iter) == (0, 1)
    assert kept.v[0] == pytest.approx(1 + c, abs=1e-15)
    switched = _near_tie(above, c).solve()
    assert (switched.policy[0], switched.num_iter) == (1, 2)


def test_evaluate_refuses_a_negative_probability_in_a_row_summing_to_1(mdp):
    # mutant: `not isfinite(pi).all() and (pi < 0).any()` let a finite negative entry through
    pi = np.full((15, 3), 1 / 3)
    pi[4] = [1.1, -0.1, 0.0]
    with pytest.raises(ValueError, match="^pi must be finite and non-negative$"):
        mdp.evaluate(pi)


def test_the_smallest_gridworld_is_2_by_2_and_an_mdp_has_no_observation_noise():
    # mutants: gridworld's `lo=3` (the side of 2 its docstring allows refused) and the
    # class's `sigma = 1.0` (its rewards are Q values, observed without noise)
    g = TabularMDP.gridworld(2)
    assert g.shape == (4, 4) and g.solve().converged
    with pytest.raises(ValueError, match="^size "):
        TabularMDP.gridworld(1)
    assert (g.noise, g.noise_code, g.sigma) == ("none", 0, 0.0)


def test_p_of_shape_s_a_s_prime_names_its_shape():
    # mutant: `P.shape[-1] != P.shape[2]` (always equal: a P from 2 states to 3 got through
    # to a later check with another message)
    with pytest.raises(ValueError, match=r"^P must have shape \(S, A, S\), got \(2, 2, 3\)$"):
        TabularMDP(np.full((2, 2, 3), 1 / 3), np.zeros((2, 2)), gamma=0.5)


def test_tabular_mdps_are_immutable_and_their_options_keyword_only():
    # mutants: `@dataclass(frozen=False)`, and `/` for `*` in gridworld's signature
    import dataclasses
    import inspect

    g = TabularMDP.gridworld(2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        g.gamma = 0.5
    params = inspect.signature(TabularMDP.gridworld).parameters
    assert params["size"].kind == inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert params["gamma"].kind == params["slip"].kind == inspect.Parameter.KEYWORD_ONLY
    # `/` for `*` in solve's signature made max_iter positional
    params = inspect.signature(TabularMDP.solve).parameters
    assert params["max_iter"].kind == inspect.Parameter.KEYWORD_ONLY


def test_size_and_count_bounds_of_the_constructors(monkeypatch):
    # mutants: gridworld's `hi=65` (a side of 65 is refused before 71 million transition
    # probabilities are built) and `hi=63`, `slip lo=-1.0`, random's `n_actions lo=0`,
    # `branching lo=0`, and the constructor's `gamma lo=-1.0`
    with pytest.raises(ValueError, match="^size must be an integer <= 64, got 65$"):
        TabularMDP.gridworld(65)
    with pytest.raises(ValueError, match="^slip must be "):
        TabularMDP.gridworld(3, slip=-0.1)
    with pytest.raises(ValueError, match="^gamma must be "):
        TabularMDP(HALF, np.zeros((2, 2)), gamma=-0.5)

    class Reached(Exception):
        pass

    def next_check(*args, **kwargs):
        raise Reached  # the side of 64 passed; building its 537 MB P is not needed here

    with monkeypatch.context() as mp, pytest.raises(Reached):
        mp.setattr(mdp_module._check, "real", next_check)
        TabularMDP.gridworld(64)
    with pytest.raises(ValueError, match="^n_actions must be an integer >= 1, got 0$"):
        TabularMDP.random(3, 0)
    with pytest.raises(ValueError, match="^branching must be an integer >= 1, got 0$"):
        TabularMDP.random(3, 2, branching=0)
    with pytest.raises(ValueError, match="^branching must be an integer <= 3, got 4$"):
        TabularMDP.random(3, 2, branching=4)
    assert int((TabularMDP.random(3, 2, branching=3).P > 0).sum(axis=2).min()) == 3


def test_mc_q_defaults_to_16_rollouts_seed_0_iteration_0(mdp):
    # mutants: `n_rollouts: int = 17` and `15`, `seed: int = 1`, `iteration: int = 1`
    pi = np.full((15, 3), 1 / 3)
    want = mdp.mc_q(pi, horizon=5, n_rollouts=16, seed=0, iteration=0)
    np.testing.assert_array_equal(mdp.mc_q(pi, horizon=5), want)


def test_mc_q_work_is_rollouts_times_steps_per_state_action():
    # mutant: `S * A / n_rollouts * horizon` (the test above uses one rollout)
    two = TabularMDP(np.ones((1, 2, 1)), [[1.0, 0.0]], 0.5)
    assert two._mc_budget(2, 25 * 10**7) == (2, 25 * 10**7)
    with pytest.raises(ValueError, match="^horizon is too long: 1 x 2 state-actions x 2 "):
        two._mc_budget(2, 25 * 10**7 + 1)


def test_a_policy_exactly_at_the_sum_tolerance_is_kept(mdp, monkeypatch):
    # mutant: `|total - 1| < _SUM_ATOL` ("rows summing to 1 (to 1e-9)"), the tolerance set
    # to this policy's own row-sum error
    pi = np.full((15, 3), 1 / 3)
    pi[2] *= 1 + 5e-10
    off = float(np.abs(pi.sum(axis=1) - 1.0).max())
    monkeypatch.setattr(mdp_module, "_SUM_ATOL", off)
    assert mdp._policy(pi).shape == (15, 3)


def test_a_policy_within_the_sum_tolerance_is_divided_by_its_row_sums(mdp):
    # mutant: `pi * total` for `pi / total`
    pi = np.full((15, 3), 1 / 3)
    pi[2] *= 1 + 5e-10
    got = mdp._policy(pi)
    np.testing.assert_array_equal(got, pi / pi.sum(axis=1, keepdims=True))


def test_r_of_the_wrong_shape_is_named_with_the_shape_p_asks_for():
    # mutant: the message quoted `P.shape[:3]`, the shape of P, as the shape R must have
    with pytest.raises(ValueError, match=r"^R must be finite with shape \(2, 2\), got \(2, 3\)$"):
        TabularMDP(HALF, np.zeros((2, 3)), gamma=0.5)


@pytest.mark.parametrize("S", [1, 7, 20, 49, 100])
def test_the_default_start_distribution_is_the_float_nearest_1_over_s(S):
    # mutant: `np.full(S, 1.0 * S)`, hidden by the renormalisation the default went through
    # (which also moved 1/S by up to 4 ulps: 20 copies of 0.05 do not sum to 1 exactly)
    rho = TabularMDP.random(S, 2, branching=1).rho
    assert rho.shape == (S,) and np.all(rho == 1.0 / S)
    given = TabularMDP(HALF, np.zeros((2, 2)), gamma=0.5, rho=[0.25, 0.75 + 4e-10]).rho
    np.testing.assert_array_equal(given, np.array([0.25, 0.75 + 4e-10]) / (1.0 + 4e-10))


def test_rho_exactly_at_the_sum_tolerance_is_kept(monkeypatch):
    # mutant: `|rho.sum() - 1| < _SUM_ATOL`, the tolerance set to this rho's own error
    rho = [0.25, 0.75 + 4e-10]
    monkeypatch.setattr(mdp_module, "_SUM_ATOL", abs(sum(rho) - 1.0))
    assert TabularMDP(HALF, np.zeros((2, 2)), gamma=0.5, rho=rho).rho.sum() == 1.0


def test_rho_of_the_wrong_length_is_refused_naming_the_state_count():
    # mutant: `rho.shape != (S,) and not isfinite(rho).all() or ...` let a finite rho over
    # 3 states through for a 2-state MDP
    with pytest.raises(ValueError, match="^rho must be a distribution over 2 states$"):
        TabularMDP(HALF, np.zeros((2, 2)), gamma=0.5, rho=[0.5, 0.5, 0.0])


def test_mc_q_refuses_a_horizon_of_0(mdp):
    # mutant: `horizon lo=0` (a rollout of zero steps was accepted)
    with pytest.raises(ValueError, match="^horizon must be an integer >= 1, got 0$"):
        mdp.mc_q(np.full((15, 3), 1 / 3), horizon=0)
