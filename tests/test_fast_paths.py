"""PMD-mean's fast paths on float64 probabilities against the log-space kernel and mpmath.

The few-distinct-rewards path (``pmdtheory/_kernels_few.py``: the root solved on the
reward classes) and the vectorised many-rewards path (``pmdtheory/_kernels_many.py``).
Kept apart from tests/test_updates.py so that ``make mutation`` runs these kernels'
mutants against a short file.
"""

from __future__ import annotations

import _mp_reference as ref
import mpmath as mp
import numpy as np
import pytest
from test_updates import LAM_RTOL, LOGP_RTOL, log_err

import pmdtheory as pmd

# ------------------------------------------- the few-distinct-rewards fast path
FAST_PATH_RTOL = 1e-12  # class-mass solve vs the log-space solve, probabilities
LAM_PATH_RTOL = 1e-11  # the fast paths' lam vs the log-space solve's


def _assert_matches_log_path(pi, r, tau, rtol, *, atol=0.0, lam_rtol=None):
    """``mean_update``'s answer on float64 probabilities (the fast paths) against the checked
    log-space path's, within ``rtol`` (0: bit for bit); its lam too with ``lam_rtol``.
    Returns the fast answer."""
    from pmdtheory.updates import _mean_checked

    fast, lam = pmd.mean_update(pi, r, tau, return_lambda=True)
    slow, lam_slow = _mean_checked(pi, r, tau, -1, False)
    np.testing.assert_allclose(fast, slow, rtol=rtol, atol=atol)
    if lam_rtol is not None:
        np.testing.assert_allclose(lam, lam_slow, rtol=lam_rtol)
    return fast


@pytest.mark.parametrize("levels", [2, 3, 4, 8])
@pytest.mark.parametrize("tau", [1e-3, 0.05, 1.0, 30.0])
def test_few_distinct_rewards_agree_with_the_log_space_solve(levels, tau):
    rng = np.random.default_rng(levels)
    pi = rng.dirichlet(np.full(64, 0.5), size=200)
    pi[::5, :3] = 0.0  # zeros on some rows: their rewards must not matter
    pi /= pi.sum(-1, keepdims=True)
    r = rng.choice(rng.normal(size=levels), size=(200, 64))
    assert np.all(_statuses(pi, r, tau) == 0)  # every row solved on its classes
    fast = _assert_matches_log_path(
        pi, r, tau, FAST_PATH_RTOL, atol=1e-300, lam_rtol=LAM_PATH_RTOL
    )
    assert np.all(fast[::5, :3] == 0.0)


def test_fast_path_rows_get_the_same_bits_alone_in_a_batch_and_along_any_axis():
    rng = np.random.default_rng(3)
    pi = rng.dirichlet(np.ones(16), size=(3, 5))
    r = rng.integers(0, 2, size=(3, 5, 16)).astype(float)
    r[1, 2] = rng.normal(size=16)  # a row with many distinct rewards: the vectorised path
    tau = np.array([0.01, 0.1, 1.0])[:, None]
    out, lam = pmd.mean_update(pi, r, tau, return_lambda=True)
    for i in range(3):
        for j in range(5):
            one, lam_one = pmd.mean_update(pi[i, j], r[i, j], float(tau[i, 0]), return_lambda=True)
            np.testing.assert_array_equal(out[i, j], one)
            assert lam[i, j] == lam_one
            # integer rewards are the same rewards
            if (i, j) != (1, 2):
                ints = pmd.mean_update(pi[i, j], r[i, j].astype(int), float(tau[i, 0]))
                np.testing.assert_array_equal(ints, one)
    moved = pmd.mean_update(np.moveaxis(pi, -1, 1), np.moveaxis(r, -1, 1), tau, axis=1)
    np.testing.assert_array_equal(np.moveaxis(moved, 1, -1), out)
    np.testing.assert_array_equal(pmd.implicit_beta(pi, r, tau), tau * lam)


def test_fast_path_hands_invalid_rows_to_the_checked_path():
    good = [0.5, 0.5]
    with pytest.raises(ValueError, match="pi_t"):
        pmd.mean_update([good, [0.7, 0.7]], [[1.0, 0.0], [1.0, 0.0]], 0.1)
    with pytest.raises(ValueError, match="pi_t"):
        pmd.mean_update([good, [-0.1, 1.1]], [[1.0, 0.0], [1.0, 0.0]], 0.1)
    # an infinite reward, also where the row would be constant or it is off the support
    # (mutant, session 15: `abs(r) <= inf` in the scan returned such rows unchanged)
    for bad in (np.nan, np.inf, -np.inf):
        for p, r in (([0.5, 0.5], [bad, 0.0]), ([0.5, 0.5], [bad, bad]), ([0.0, 1.0], [bad, 0.0])):
            with pytest.raises(ValueError, match="^r: must be finite"):
                pmd.mean_update([good, p], [[1.0, 0.0], r], 0.1)
    with pytest.raises(ValueError, match="tau"):
        pmd.mean_update([good, good], [[1.0, 0.0], [1.0, 0.0]], [0.1, -1.0])
    # a class mass below 1e-300 goes the log-space way, and is still right
    p = np.array([1e-310, 1 - 1e-310])
    logp = pmd.mean_update(np.log(p), [1.0, 0.0], 1e-3, log=True)
    np.testing.assert_allclose(pmd.mean_update(p, [1.0, 0.0], 1e-3), np.exp(logp), rtol=1e-12)


def test_valid_rows_get_the_kernels_bits_and_constant_rows_lam_zero():
    # _kernels_few mutants (session 15): `INVALID = 0`, DONE's value, made every solved row
    # look invalid, and `INVALID = 2`, GENERAL's, did so for every batch with a row the log
    # path takes: the whole batch went to the checked log path (right to 1e-12, but slow
    # and not these bits); `return DONE, -1.0` for a row constant on its support broke
    # mean_update's promise of lam exactly 0 there; `support == 1` took a row with one
    # action on its support for invalid
    rng = np.random.default_rng(11)
    pi = rng.dirichlet(np.ones(12), size=30)
    r = rng.integers(0, 3, size=pi.shape).astype(float)
    r[::3] = 2.0  # constant rows
    pi[1::3, :4] = 0.0  # constant on the support, other rewards off it
    pi /= pi.sum(-1, keepdims=True)
    r[1::3, 4:] = 1.0
    pi[3] = np.eye(12)[5]  # one action on the support: constant, and valid
    r[-1] = rng.normal(size=12)  # many rewards at a large tau: lam < 1e-3, the log path's
    tau = np.full(30, 0.3)
    tau[-1] = 1e4
    constant = np.zeros(30, dtype=bool)
    constant[::3] = constant[1::3] = True
    out, lam, status = _few_kernel(pi, r, tau)
    assert np.all(status[:-1] == 0) and status[-1] == 2  # DONE, and GENERAL for the last
    fast, fast_lam = pmd.mean_update(pi, r, tau, return_lambda=True)
    np.testing.assert_array_equal(fast[:-1], out[:-1])
    np.testing.assert_array_equal(fast_lam[:-1], lam[:-1])
    assert np.all(fast_lam[constant] == 0.0) and np.all(fast_lam[~constant] > 0.0)
    np.testing.assert_array_equal(fast[constant], pi[constant])


@pytest.mark.parametrize("mass", [1e-301, 1e-305, 1e-312, 1e-318])
def test_a_class_mass_below_1e300_goes_the_log_way(mass):
    # such a row is the log path's, so it gets that path's bits (mutant, session 15:
    # `mass[j] + inv < _TINY_MASS` never sent it on; solved on its classes, it came out up
    # to 1.7e-12 off the log-space solve, against FAST_PATH_RTOL = 1e-12)
    rng = np.random.default_rng(13)
    pi = rng.dirichlet(np.ones(12), size=40)
    pi[:, 0] = mass
    pi[:, 1:] *= (1.0 - mass) / pi[:, 1:].sum(-1, keepdims=True)
    r = rng.integers(0, 4, size=pi.shape).astype(float)
    r[:, 0] = 4.0  # the tiny action is a class of its own
    tau = 10.0 ** rng.uniform(-4, 4, size=40)
    _assert_matches_log_path(pi, r, tau, rtol=0.0)  # bit for bit


def test_class_rows_off_the_vectorised_regime_are_normalised_by_their_sum():
    # large tau (lam < 1e-3): the classes go to the log-space kernel inside the fast path,
    # and x / sum(p) must divide by a sum that is 1 only to the 1e-8 tolerance (mutant:
    # `math.exp(lx[j]) / inv`, off by sum(p)^2 = 1 + 1e-8); and at tiny tau, where the
    # classes' b leave the vectorised solver's range too (mutant, session 15: `w = mass /
    # inv`, weights off by the same factor)
    rng = np.random.default_rng(4)
    pi = rng.dirichlet(np.ones(16), size=20) * (1.0 + 5e-9)
    r = rng.integers(0, 3, size=pi.shape).astype(float)
    for tau in (100.0, 1e-4):
        assert np.all(_statuses(pi, r, tau) == 0)
        _assert_matches_log_path(pi, r, tau, FAST_PATH_RTOL)  # the log path renormalises first


def test_rows_whose_support_starts_past_the_probe_find_their_own_classes():
    # the probe sees no action on the support (the first 30 are 0); the class search
    # must then start empty, not from a value the previous row left behind (mutant:
    # `k = 1` before the search: class 0 took the last row's reward, with mass 0, and
    # sent every such row to the log path)
    rng = np.random.default_rng(6)
    pi = np.zeros((6, 40))
    pi[:, 30:] = rng.dirichlet(np.ones(10), size=6)
    r = rng.integers(0, 2, size=pi.shape) + 5.0 * (np.arange(6) % 2)[:, None]  # {0,1}, {5,6}
    assert np.all(_statuses(pi, r, 0.1) == 0)
    _assert_matches_log_path(pi, r, 0.1, FAST_PATH_RTOL)


def test_a_row_with_many_rewards_found_by_the_search_centres_on_its_own_reward():
    # mutants (session 15): `vals[-1]` for `vals[0]` where the class search finds more than
    # 8 rewards, or in the solve on a row's classes: a slot the probe did not fill this row,
    # still holding the previous row's reward (1e12 here), centred the rewards on it and
    # lost their spread to rounding
    rng = np.random.default_rng(12)
    pi = rng.dirichlet(np.ones(40), size=4)
    pi[1::2, :30] = 0.0  # no action on the support within the probe: the search finds them
    pi /= pi.sum(-1, keepdims=True)
    r = rng.normal(size=pi.shape)
    r[::2] += 1e12  # rows the probe sends on at once, leaving their rewards behind
    r[3] = rng.choice(rng.normal(size=3), size=40)  # and one solved on its three classes
    assert np.all(_statuses(pi, r, 0.1) == 0)
    _assert_matches_log_path(pi, r, 0.1, FAST_PATH_RTOL)


def test_rewards_off_the_support_change_no_bit():
    # held-out (seed 5) mutant: `p[a] >= 0.0` in the probe counted the zeros' rewards, so a
    # binary row whose first 10 actions have pi = 0 and 10 distinct rewards went to the
    # vectorised solver instead of its two classes (answers 1e-16 apart, lam too)
    rng = np.random.default_rng(3)
    pi = np.zeros((20, 40))
    pi[:, 10:] = rng.dirichlet(np.ones(30), size=20)
    r = np.zeros_like(pi)
    r[:, 10:] = rng.integers(0, 2, size=(20, 30))
    r_off = r.copy()
    r_off[:, :10] = 10.0 + np.arange(10)
    (a, lam_a), (b, lam_b) = (pmd.mean_update(pi, x, 0.1, return_lambda=True) for x in (r, r_off))
    assert np.array_equal(a, b) and np.array_equal(lam_a, lam_b)


# ------------------------------------------- the many-distinct-rewards (vectorised) path
MANY_PATH_RTOL = 1e-12  # vectorised solve vs the log-space solve, probabilities


def _few_kernel(pi, r, tau):
    """The fast kernel's ``(out, lam, status)`` for the rows of ``pi, r`` (status 0: solved
    there, 2: handed to the log path); ``tau`` a scalar or one per row."""
    from pmdtheory import _kernels_few

    rows = pi.shape[0]
    out, lam, status = np.empty_like(pi), np.empty(rows), np.empty(rows, dtype=np.int8)
    taus = np.ascontiguousarray(np.broadcast_to(np.asarray(tau, dtype=float), rows))
    _kernels_few._few_batch(pi, r, taus, 1e-8, out, lam, status)
    return out, lam, status


def _statuses(pi, r, tau):
    """The fast kernel's status per row (0: solved there, 2: handed to the log path)."""
    return _few_kernel(pi, r, tau)[2]


@pytest.mark.parametrize("tau", [0.01, 0.05, 1.0, 5.0])
@pytest.mark.parametrize("alpha", [0.05, 1.0])
def test_many_distinct_rewards_agree_with_the_log_space_solve(tau, alpha):
    rng = np.random.default_rng(int(100 * alpha) + int(1e3 * tau))
    pi = rng.dirichlet(np.full(64, alpha), size=300)
    pi[::7, 10:13] = 0.0  # zeros: their rewards must not matter
    pi /= pi.sum(-1, keepdims=True)
    r = rng.normal(size=(300, 64)) * rng.choice([0.3, 1.0, 3.0], size=(300, 1))
    status = _statuses(pi, r, tau)
    assert np.mean(status == 0) > 0.3  # the vectorised path is what is tested here
    fast = _assert_matches_log_path(
        pi, r, tau, MANY_PATH_RTOL, atol=1e-300, lam_rtol=LAM_PATH_RTOL
    )
    assert np.all(fast[::7, 10:13] == 0.0)


@pytest.mark.parametrize("tau", [1e-3, 3e-3, 1e-2])
def test_binary_rows_with_most_mass_on_success_at_small_tau(tau):
    # seed-21 mutant, session 18: the bracket's lower end from E[b^2; b <= 0] instead of
    # E[b^2; b > 0] left it above the root: pi = [0.994, 0.006], r = [1, 0], tau = 0.003 came
    # back as [0.21, 3e-147] (126 rows of the kernel grid's tested domain differed)
    p = np.array([0.5, 0.9, 0.994, 0.9999])
    pi = np.stack([p, 1.0 - p], axis=1)
    r = np.tile([1.0, 0.0], (len(p), 1))
    assert np.all(_statuses(pi, r, tau) == 0)
    _assert_matches_log_path(pi, r, tau, FAST_PATH_RTOL, atol=1e-300, lam_rtol=LAM_PATH_RTOL)


def test_many_path_rows_are_normalised_by_their_sum():
    # a row summing to 1 + 5e-9 (inside the 1e-8 tolerance) is the normalised row: seed-21
    # mutant, session 18: F = log(s_sum / inv) - s shifted the root by log(sum(p)^2) = 1e-8
    rng = np.random.default_rng(9)
    pi = rng.dirichlet(np.ones(64), size=100) * (1.0 + 5e-9)
    r = rng.normal(size=pi.shape)
    assert np.all(_statuses(pi, r, 0.05) == 0)
    _assert_matches_log_path(pi, r, 0.05, MANY_PATH_RTOL, atol=1e-300, lam_rtol=LAM_PATH_RTOL)


START_SERIES_C = 0.5  # documented O(b^5) series: |lam0 / lam - 1| <= C max|b|^3 (measured 0.43)
START_LARGE_B_LOG = 0.1  # E b+ for b ~ 100: |log(lam0 / lam)| (measured 0.066)


@pytest.mark.parametrize("tau, regime", [(10.0, "series"), (30.0, "series"), (0.01, "large")])
def test_the_first_lam_is_close_where_the_docstring_says(tau, regime):
    from pmdtheory._kernels_many import _centre, _lam_start

    rng = np.random.default_rng(int(tau * 100))
    for _ in range(200):
        n = int(rng.integers(2, 65))
        p = rng.dirichlet(np.full(n, float(rng.choice([0.3, 1.0, 3.0]))))
        r = rng.normal(size=n)
        _, lam = pmd.mean_update(p, r, tau, return_lambda=True)
        b = np.empty(n)
        m2, _, m3, m4, pos_b, b_top, b_min, _ = _centre(p, r, 1.0 / p.sum(), tau, r[0], b)
        lam0 = _lam_start(m2, m3, m4, pos_b)
        if regime == "series":
            b_max = max(abs(b_top), abs(b_min))
            assert abs(lam0 / lam - 1) <= START_SERIES_C * b_max**3, (n, tau)
        else:
            assert abs(np.log(lam0 / lam)) <= START_LARGE_B_LOG, (n, tau)


@pytest.mark.parametrize("offset", [1e6, 1e12])
def test_many_path_centres_rewards_far_from_zero_without_losing_their_spread(offset):
    # only the spread of r matters (a common shift cancels in the centring): rewards of
    # 1e12 + U(0, 1) stay on the fast path and agree with the log path
    rng = np.random.default_rng(5)
    pi = rng.dirichlet(np.ones(64), size=100)
    r = offset + rng.uniform(0, 1, size=pi.shape)
    assert np.all(_statuses(pi, r, 0.05) == 0)
    _assert_matches_log_path(pi, r, 0.05, MANY_PATH_RTOL)


CENTRED_LOGP_RTOL = 2e-15  # measured: 6e-16 on ordinary rows (the documented bound is 1e-11)


@pytest.mark.parametrize("offset", [0.0, 1e3])
def test_many_path_centres_in_two_passes_to_rounding(offset):
    # held-out (seed 2) mutant: `r - r0 + shift` in the first pass; the second pass
    # re-centres b, but from a mean of 2 shift / tau, and the result loses digits: 5e-15
    # (1.4e-13 on other rows), inside the documented 1e-11 but 10-200 times the rounding
    # this path keeps
    rng = np.random.default_rng(3)
    pi = rng.dirichlet(np.ones(12), size=8)
    r = offset + rng.normal(size=pi.shape)
    assert np.all(_statuses(pi, r, 0.04) == 0)
    p = pmd.mean_update(pi, r, 0.04)
    for i in range(pi.shape[0]):
        assert log_err(np.log(p[i]), ref.mean(pi[i], r[i], 0.04)[0]) < CENTRED_LOGP_RTOL, i


@pytest.mark.parametrize(
    "r, tau",
    [
        (np.linspace(0, 1, 12), 0.05),  # the ordinary regime
        (np.linspace(0, 1, 12), 0.004),  # s + b far below 0: the split residual
        (np.r_[np.linspace(0, 1, 11), 60.0], 0.05),  # far start: u restarted, two Fritsch steps
        (np.linspace(-3, 3, 12) ** 3, 0.3),
    ],
)
def test_many_path_against_mpmath(r, tau):
    pi = np.linspace(1, 2, r.size) ** 3
    pi[1] = 0.0  # a zero probability is in the vectorised path's regime
    pi /= pi.sum()
    assert _statuses(pi[None], r[None], tau)[0] == 0  # taken by the vectorised path
    p, lam = pmd.mean_update(pi, r, tau, return_lambda=True)
    mean_ref, lam_ref = ref.mean(pi, r, tau)
    assert p[1] == 0.0
    with np.errstate(divide="ignore"):
        assert log_err(np.log(p), mean_ref) < LOGP_RTOL
    assert abs(lam - float(lam_ref)) <= LAM_RTOL * float(lam_ref)


@pytest.mark.parametrize(
    "case",
    ["tiny_probability", "small_multiplier", "huge_spread", "repeats_among_the_first"],
)
def test_rows_outside_the_vectorised_regime_go_the_log_way_and_stay_right(case):
    rng = np.random.default_rng(5)
    pi = rng.dirichlet(np.ones(16))
    r = rng.normal(size=16)
    tau = 0.1
    if case == "tiny_probability":
        pi[3] = 1e-295
    elif case == "small_multiplier":  # lam ~ Var(r) / (2 tau^2) < 1e-3
        tau = 100.0
    elif case == "huge_spread":  # s + b below -700
        r[0] = -200.0
        tau = 0.1
    else:  # repeats among the first rewards: found many by the search, solved vectorised
        r[:4] = 0.5
    pi /= pi.sum()
    expected = 0 if case == "repeats_among_the_first" else 2
    assert _statuses(pi[None], r[None], tau)[0] == expected
    p, lam = pmd.mean_update(pi, r, tau, return_lambda=True)
    logp = pmd.mean_update(np.log(pi), r, tau, log=True)
    np.testing.assert_allclose(p, np.exp(logp), rtol=MANY_PATH_RTOL)


_BOUNDS_SCRIPT = """
import numpy as np, pmdtheory as pmd
rng = np.random.default_rng(0)
rows = []
for levels in (2, 4, 8, 9, 10, 12, 40):
    r = rng.choice(rng.normal(size=levels), size=(50, 40))
    r[:, :3] = r[:, :1]  # repeats among the first rewards: the search runs first
    rows.append(r)
r = np.concatenate(rows)
pi = rng.dirichlet(np.ones(40), size=len(r))
pi[::3, 5] = 0.0
pi /= pi.sum(-1, keepdims=True)
for tau in (0.01, 0.1, 1.0, 100.0):
    pmd.mean_update(pi, r, tau)
print("ok")
"""


def test_the_fast_kernels_index_within_their_arrays(tmp_path):
    # Numba does not check bounds: a search that outgrew its arrays (8 classes) or a
    # probe one entry too long wrote past them silently.
    from _boundscheck import assert_runs_bounds_checked

    assert_runs_bounds_checked(_BOUNDS_SCRIPT, tmp_path)


# The invariants the vectorised solver relies on: after each kind of pass u is omega(s + b)
# to a few ulps at every y (the Fritsch step's residual keeps its absolute accuracy, so no
# series is needed far below 0), and the start is within 1e-6 (documented; measured 2e-7).
FOLLOW_ULPS = 2.0
START_RTOL = 1e-6


def _omega_rows(y):
    from pmdtheory._omega import _omega_scalar

    return np.array([_omega_scalar(v) for v in y])


def _mp_omega_rows(y):
    """omega to rounding (the scalar path's is up to 7 ulps off)."""
    with mp.workdps(40):
        return np.array([float(ref.omega(mp.mpf(float(v)))) for v in y])


@pytest.mark.parametrize("step", [1e-3, -1e-3, 1e-5, -1e-6, 1e-9])
def test_follow_exact_keeps_u_exact_without_a_log(step):
    # the reference at y + step exactly (mpmath): y + step rounded to float64 would move
    # omega by ulp(|y|) relative, 1e-13 at y = -690
    from pmdtheory._kernels_many import _follow_exact

    y = np.concatenate([np.linspace(-700, -6, 40), np.linspace(-6, 30, 200), [1e3, 1e5]])
    with mp.workdps(40):  # u exact to rounding (the scalar omega is up to 7 ulps off)
        u = np.array([float(ref.omega(mp.mpf(v))) for v in y])
        expected = np.array([float(ref.omega(mp.mpf(v) + mp.mpf(step))) for v in y])
    q = 1.0 / (1.0 + u)
    _follow_exact(step, u, q, u[:0], u[:0], 1.0)  # no output
    np.testing.assert_allclose(u, expected, rtol=FOLLOW_ULPS * 2.2e-16, atol=0)
    # q = 1/(1 + u) is expanded to second order: (u d q)^3 <= 1e-9 relative; it only
    # feeds derivatives and the next predictor, which Newton's step corrects
    np.testing.assert_allclose(q, 1.0 / (1.0 + expected), rtol=1e-8)


@pytest.mark.parametrize("step, fritsch", [(0.1, 1), (-0.1, 1), (0.5, 2), (-0.5, 2)])
def test_follow_reaches_omega_after_its_steps(step, fritsch):
    from pmdtheory._kernels_many import _follow

    b = np.concatenate([np.linspace(-700, -6, 200), np.linspace(-6, 30, 2000), [1e3, 1e5]])
    s = 0.25
    u = _omega_rows(s - step + b)
    q = 1.0 / (1.0 + u)
    _follow(b, s, step, u, q, fritsch)
    np.testing.assert_allclose(u, _mp_omega_rows(s + b), rtol=FOLLOW_ULPS * 2.2e-16, atol=0)


def test_start_is_within_its_stated_accuracy():
    from pmdtheory._kernels_many import _start

    b = np.concatenate([np.linspace(-700, -6, 200), np.linspace(-6, 30, 4000), [1e3, 1e5]])
    u, q = np.empty_like(b), np.empty_like(b)
    _start(b, 0.25, u, q)
    expected = _mp_omega_rows(0.25 + b)
    np.testing.assert_allclose(u, expected, rtol=START_RTOL, atol=0)
    np.testing.assert_allclose(q, 1.0 / (1.0 + expected), rtol=START_RTOL)
