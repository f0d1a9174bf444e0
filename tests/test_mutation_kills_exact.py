"""Exact PMD's kernels (pmdtheory/_kernels_exact.py): survivors of `make mutation`.

Each test was checked to fail on the mutant named in its comment (tools/mutation.py, seed 0).
"""

import numpy as np
import pytest

from pmdtheory import exact_update
from pmdtheory._kernels_exact import _exact_prob_batch
from pmdtheory._validate import SUM_RTOL

OFF_SUPPORT_ATOL = 1e-13  # rounding of a shift by the best reward on the support


def _status(p, r, tau, tol=SUM_RTOL):
    p, r = np.atleast_2d(p), np.atleast_2d(r)
    out, status = np.empty_like(p), np.full(p.shape[0], -1, dtype=np.int8)
    _exact_prob_batch(p, r, tau, tol, out, status)
    return status.tolist(), out


def test_rewards_off_the_support_do_not_shift_the_log_path():
    # mutant: `logpi[a] >= -inf` takes the maximum reward over every action, also those
    # with pi = 0; a large reward there then shifts every term down by (r_off - r_best)/tau,
    # costing 1e6 eps here and NaN once the shift overflows; and `logpi[a] >= -inf` in the
    # next loop: -inf + (r_off - r_best)/tau is NaN once that ratio overflows to +inf
    logpi = np.array([np.log(0.5), np.log(0.5), -np.inf])
    want = np.array([-1000.0, 0.0, -np.inf])  # log(0.5 e^0 / (0.5 + 0.5 e^1000)), ...
    for r_off in (2000.0, 1e306):
        got = exact_update(logpi, [0.0, 1.0, r_off], 1e-3, log=True)
        assert got[2] == -np.inf
        np.testing.assert_allclose(got[:2], want[:2], rtol=0, atol=OFF_SUPPORT_ATOL)


def test_an_invalid_row_is_reported_with_its_index_in_the_batch():
    # held-out (seed 1) mutant: the fast path's `return 1` (invalid row) -> `return 2` (tiny
    # normaliser): the row is then re-solved alone and the error names row 0, not row 2
    p = np.full((3, 2), 0.5)
    r = np.zeros((3, 2))
    r[2] = [1.7e308, -1.7e308]  # its spread overflows float64
    with pytest.raises(ValueError, match=r"overflows float64 \(row 2:"):
        exact_update(p, r, 0.1)


FAST_PATH_RTOL = 1e-14  # one exp and one division per entry, against a plain numpy copy


def test_the_fast_path_solves_valid_rows_itself():
    # held-out (seed 2) mutants that send valid rows off the fast path: the finite-reward
    # check negated, `0.0 <= pa` -> `1.0 <= pa`, a constant row's `return 0` -> `return 1`
    # (each to the checked path), and _NORMAL = 1.0 (every row "lost digits": the log path).
    # The answers barely change; the status (documented: 0 = done here) does.
    rng = np.random.default_rng(20)
    p = rng.dirichlet(np.ones(6), size=40)
    p[:5, 0] = 0.0  # rows with an action off the support
    p /= p.sum(axis=1, keepdims=True)
    r = rng.normal(size=p.shape)
    r[7] = 0.25  # constant rewards: the policy comes back bit for bit
    tau = 0.3
    status, out = _status(p, r, tau)
    assert status == [0] * p.shape[0]
    assert np.array_equal(out[7], p[7])
    w = p * np.exp((r - r.max(axis=1, keepdims=True)) / tau)
    np.testing.assert_allclose(out, w / w.sum(axis=1, keepdims=True), rtol=FAST_PATH_RTOL)


def test_the_fast_path_hands_a_vanishing_normaliser_to_the_log_path():
    # the status 2 branch: the best action's own weight, 1e-300, is all of z < 1e-280
    assert _status([1e-300, 1.0 - 1e-300], [1.0, 0.0], 1e-3)[0] == [2]


def test_a_product_at_the_smallest_normal_lost_nothing():
    # held-out (seed 5) mutant: `e < _NORMAL` -> `e <= _NORMAL` sends a row whose product is
    # exactly the smallest normal float (no digit lost) to the log path, with z < 1
    tiny = np.finfo(float).tiny
    status, out = _status([tiny, 1.0], [1.0, 0.0], 1.0)  # sums to 1 in float64
    assert status == [0]
    z = tiny + np.exp(-1.0)
    np.testing.assert_allclose(out[0], [tiny / z, np.exp(-1.0) / z], rtol=FAST_PATH_RTOL)


def test_rewards_off_the_support_change_no_bit_of_the_update():
    # held-out (seed 8): `if pa > -1.0` let zero-probability actions set the reward range;
    # a large reward there sent the row to the log path (answers 1e-13 off the fast path's)
    rng = np.random.default_rng(8)
    for _ in range(200):
        p = rng.dirichlet(np.ones(6))
        p[[1, 4]] = 0.0
        p /= p.sum()
        r = rng.standard_normal(6)
        want = exact_update(p, r, 0.05)
        r[[1, 4]] = rng.uniform(-1e3, 1e3, 2) * 10.0 ** rng.uniform(0, 300)
        np.testing.assert_array_equal(exact_update(p, r, 0.05), want)


# ---- a full run of tools/mutation.py (session 13)


def test_the_fast_path_takes_a_row_summing_to_exactly_one_plus_its_tolerance():
    # mutant: `abs(total - 1.0) <= tol` -> `< tol`. 2**-20 is a tolerance a float64 sum
    # reaches exactly (SUM_RTOL = 1e-8 is not, so the bound is probed with this one)
    tol = 2.0**-20
    assert _status([0.5, 0.5 + tol], [1.0, 0.0], 0.5, tol)[0] == [0]
    assert _status([0.5, 0.5 + 2 * tol], [1.0, 0.0], 0.5, tol)[0] == [1]


def test_a_normaliser_below_1e_280_goes_to_the_log_path_even_when_nothing_was_lost():
    # mutant: `z < 1e-280` -> `z < -1.0`. Both products here are normal floats (no digit
    # lost), but z = 1e-290 + 1e-295 is under the documented margin: status 2
    p, r, tau = [1e-290, 1.0 - 1e-290], [1.0, 0.0], 1.0 / (295 * np.log(10.0))
    status, out = _status(p, r, tau)
    assert out[0, 1] > np.finfo(float).tiny  # (before the division: 1e-295, normal)
    assert status == [2]
    got = exact_update(np.array(p), np.array(r), tau)  # solved on the log path
    np.testing.assert_allclose(got, [1 / (1 + 1e-5), 1e-5 / (1 + 1e-5)], rtol=1e-12)


@pytest.mark.parametrize("r_off", [np.inf, -np.inf])
def test_an_infinite_reward_off_the_support_is_refused_not_ignored(r_off):
    # mutant: `abs(r[a]) < math.inf` -> `<=`: the fast path then let an infinite reward
    # through where pi = 0 (0 * its weight is 0) and returned an answer; the rule is
    # "rewards, finite" everywhere, as on the checked path
    p, r = np.array([0.5, 0.5, 0.0]), np.array([1.0, 0.0, r_off])
    assert _status(p, r, 0.1)[0] == [1]
    with pytest.raises(ValueError, match="r: must be finite"):
        exact_update(p, r, 0.1)


def test_a_normaliser_of_exactly_1e_280_stays_on_the_fast_path():
    # mutant: `z < 1e-280` -> `z <= 1e-280`. The best action's weight is the double 1e-280
    # exactly (its reward is the row's maximum); the other, 1e-300, is normal (no digit
    # lost) and below half an ulp of 1e-280, so z is 1e-280 exactly
    p, r, tau = [1e-280, 1.0 - 1e-280], [1.0, 0.0], 1.0 / (300 * np.log(10.0))
    status, out = _status(p, r, tau)
    assert status == [0]
    np.testing.assert_allclose(out[0], [1 / (1 + 1e-20), 1e-20], rtol=1e-12)
