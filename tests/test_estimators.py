"""Sampled baselines and targets against a direct transcription of THEORY §3."""

import inspect

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pmdtheory.estimators import BASELINES, GRPO_EPS, advantages, baseline, targets

EST_RTOL = 1e-12
pytestmark = pytest.mark.filterwarnings("error")


def direct(r, kind, tau):
    """One group, formulas as written, with Python loops and no tricks."""
    k = len(r)
    out = []
    for i in range(k):
        others = [r[j] for j in range(k) if j != i]
        if kind in ("mean", "grpo"):
            out.append(sum(r) / k)
        elif kind == "loo_mean":
            out.append(sum(others) / (k - 1))
        elif kind == "partition":
            m = max(r)
            out.append(m + tau * np.log(sum(np.exp((x - m) / tau) for x in r) / k))
        else:
            m = max(others)
            out.append(m + tau * np.log(sum(np.exp((x - m) / tau) for x in others) / (k - 1)))
    return np.array(out)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(np.float64, st.integers(2, 12), elements=st.floats(-3, 3)),
    st.floats(0.01, 10),
    st.sampled_from(tuple(BASELINES)),
)
def test_matches_direct_formulas(r, tau, kind):
    ours = baseline(r, kind=kind, tau=tau)
    np.testing.assert_allclose(ours, direct(r, kind, tau), rtol=EST_RTOL, atol=EST_RTOL)
    adv = advantages(r, kind=kind, tau=tau)
    expect = r - direct(r, kind, tau)
    if kind == "grpo":
        expect = expect / (np.std(r, ddof=1) + GRPO_EPS)
    np.testing.assert_allclose(adv, expect, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(targets(r, kind=kind, tau=tau), adv / tau, rtol=1e-15)


def test_lone_success_loo_partition_is_exact():
    # THEORY §3: "group total minus own term" would give 0.816 here; the right value is 0.
    r = np.array([1.0, 0.0, 0.0, 0.0])
    b = baseline(r, kind="loo_partition", tau=0.01)
    assert b[0] == 0.0
    assert advantages(r, kind="loo_partition", tau=0.01)[0] == 1.0
    np.testing.assert_allclose(b[1:], 0.01 * np.log((np.exp(100) + 2) / 3), rtol=1e-14)


def test_tiny_tau_no_overflow_and_batch_axis():
    r = np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    b = baseline(r, kind="partition", tau=1e-4)
    assert np.all(np.isfinite(b)) and b[0, 0] == pytest.approx(1 - 1e-4 * np.log(2))
    per_group_tau = np.array([1e-4, 1.0])
    np.testing.assert_array_equal(
        baseline(r.T, kind="loo_partition", tau=per_group_tau, axis=0).T,
        baseline(r, kind="loo_partition", tau=per_group_tau),
    )
    assert baseline(r, kind="loo_partition", tau=per_group_tau)[1, 0] == 0.0
    np.testing.assert_array_equal(advantages(r, kind="grpo")[1], 0.0)  # constant group


def test_group_of_one_follows_verl():
    # verl's grpo and rloo (and OpenKimi) give a lone response baseline 0 (grpo: std 1);
    # the full-group baselines give it its own reward
    r = np.array([[0.7], [-2.0]])
    for kind in ("loo_mean", "loo_partition"):
        np.testing.assert_array_equal(advantages(r, kind=kind, tau=0.1), r)
    np.testing.assert_array_equal(advantages(r, kind="grpo", eps=1e-6), r / (1 + 1e-6))
    for kind in ("mean", "partition"):
        np.testing.assert_array_equal(advantages(r, kind=kind, tau=0.1), 0.0)


def test_grpo_default_eps_is_trls():
    # TRL's GRPOTrainer divides by std + 1e-4: 1.49970 for one success in four
    a = advantages([1.0, 0.0, 0.0, 0.0], kind="grpo")
    assert a[0] == pytest.approx(0.75 / (np.std([1, 0, 0, 0], ddof=1) + 1e-4), rel=1e-15)
    assert round(a[0], 5) == 1.4997


def test_bad_input():
    with pytest.raises(ValueError, match="^kind:"):
        baseline([1.0, 0.0], kind="median")
    with pytest.raises(ValueError, match="^r:"):
        baseline([np.nan, 1.0], kind="mean")
    with pytest.raises(ValueError, match="^r:"):
        baseline(np.zeros((2, 0)), kind="mean")
    with pytest.raises(ValueError, match="^tau:"):
        baseline([1.0, 0.0], kind="partition")
    with pytest.raises(ValueError, match="^tau:"):
        targets([1.0, 0.0], kind="mean", tau=0.0)
    with pytest.raises(ValueError, match="^tau:"):
        baseline([1.0, 0.0], kind="loo_partition", tau=-1.0)
    with pytest.raises(ValueError, match="^axis:"):
        baseline([1.0, 0.0], kind="mean", axis=2)


@pytest.mark.parametrize("eps", [0, 0.0, -1e-4, np.inf, np.nan, "1e-4", True, None, [1e-4]])
def test_grpo_eps_must_be_a_finite_positive_real(eps):
    # eps = 0 divides 0 by 0 on a constant group; a string or bool is not a number
    with pytest.raises(ValueError, match="^eps:"):
        advantages([1.0, 1.0, 0.0], kind="grpo", eps=eps)


def test_options_are_keyword_only():
    for fn in (baseline, advantages, targets):
        params = list(inspect.signature(fn).parameters.values())
        assert params[0].name == "r" and params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[1:]), fn.__name__


def test_targets_take_one_tau_per_group():
    r = np.array([[1.0, 0.0, 0.0, 0.0], [2.0, 0.0, 1.0, 1.0]])
    tau = np.array([0.5, 2.0])
    want = advantages(r, kind="mean") / tau[:, None]
    np.testing.assert_array_equal(targets(r, kind="mean", tau=tau), want)
    # along axis 0 the groups are the columns, one tau each
    np.testing.assert_array_equal(targets(r.T, kind="mean", tau=tau, axis=0), want.T)


def test_partition_baseline_keeps_relative_accuracy_when_tau_dwarfs_the_spread():
    # found by make fuzz: log(mean exp) rounds near 1 and kept only ~1e-16 absolute,
    # 2e-10 relative of a baseline of 5e-7; log1p(mean expm1) keeps it (mpmath, 40 digits)
    mp.mp.dps = 40
    for spread in (1e-6, 1e-9):
        ref = mp.log((1 + mp.exp(mp.mpf(spread))) / 2)
        got = baseline([0.0, spread], kind="partition", tau=1.0)[0]
        assert abs(got - ref) <= 1e-14 * abs(ref)


LARGE_TAU_ATOL = 1e-14  # relative to the reward scale: no tau * eps left


@pytest.mark.parametrize("r", [[0.0, 1.0], [0.0, 1.0, 0.5], [3.0, 3.0, -2.0, 1.0]])
def test_loo_partition_keeps_accuracy_where_tau_dwarfs_the_spread(r):
    # tau log(mean e) with the mean ~ 1 lost tau * eps absolute: 1 - 1.1e-12 for the
    # baseline 1 of r = [0, 1] at tau = 1e4 (found by make fuzz); log1p of the mean expm1
    tau = 1e4
    got = baseline(r, kind="loo_partition", tau=tau)
    with mp.workdps(50):
        for i, b in enumerate(got):
            others = [mp.mpf(v) for j, v in enumerate(r) if j != i]
            m = max(others)
            t = mp.mpf(tau)
            ref = m + t * mp.log(mp.fsum(mp.exp((v - m) / t) for v in others) / len(others))
            assert abs(b - ref) <= LARGE_TAU_ATOL * max(abs(v) for v in r)


@pytest.mark.parametrize("fn", [advantages, baseline])
def test_a_scalar_reward_is_refused_naming_r(fn):
    # held-out (seed 2) mutant: without the 0-d check a scalar reached np.moveaxis, and the
    # error named axis, not r
    with pytest.raises(ValueError, match="^r: must have at least one dimension"):
        fn(0.5, kind="mean")


@pytest.mark.parametrize("fn", [advantages, baseline])
@pytest.mark.parametrize("shape", [(0,), (3, 0)])
def test_an_empty_group_axis_is_refused_as_empty(fn, shape):
    # full run (session 8): `k == -1` for `k == 0` let an empty group through to the
    # group-size check, which says "needs groups of at least 1 responses, got 0"
    with pytest.raises(ValueError, match="^r: the group axis is empty$"):
        fn(np.empty(shape), kind="mean")


@pytest.mark.parametrize("fn", [advantages, baseline])
@pytest.mark.parametrize("kind", ["partition", "loo_partition"])
def test_a_zero_tau_is_refused_as_a_temperature(fn, kind):
    # full run (session 8): `batch_param(tau, ..., strict=False)` accepted tau = 0
    with pytest.raises(ValueError, match="^tau: must be > 0$"):
        fn([[1.0, 0.0, 0.5]], kind=kind, tau=0.0)
    with pytest.raises(ValueError, match="^tau: must be > 0$"):
        fn([[1.0, 0.0], [0.0, 1.0]], kind=kind, tau=[0.5, 0.0])


def test_groups_too_small_for_the_baseline_are_refused_by_name():
    # (coverage, session 5: no test of this module reached the refusal; the built-in
    # baselines take groups of 1, the toy one of tests/_toy_baseline.py needs 2)
    import _toy_baseline as toy

    with toy.registered():
        with pytest.raises(ValueError, match="^r: baseline 'toy_max' needs groups of at least 2 "
                           "responses, got 1$"):  # fmt: skip
            baseline([[1.0], [0.0]], kind=toy.NAME)
        assert baseline([[1.0, 0.0]], kind=toy.NAME).tolist() == [[1.0, 1.0]]
