"""Input checks of pmdtheory._validate that survivors of `make mutation` showed untested.

Each test was checked to fail on the mutant named in its comment (tools/mutation.py, seed 0).
"""

import dataclasses
import re

import numpy as np
import pytest
from _signatures import assert_keyword_only

from pmdtheory import _validate, kl_chi2_update, log_partition
from pmdtheory._validate import (
    SUM_RTOL,
    batch_param,
    check_spread,
    choice,
    float_array,
    float_eps,
    integer,
    log_policy,
    policy_rows,
    positive,
    probability,
    real,
    sum_tolerance,
)

EPS32 = float(np.finfo(np.float32).eps)
ROUNDING_ATOL = 4 * np.finfo(np.float64).eps  # a probability's last bits


def _float32_policy(n: int, excess: float) -> np.ndarray:
    """A float32 policy of n actions whose float64 sum is 1 + excess (to float32 rounding)."""
    pi = np.full(n, 1.0 / n, dtype=np.float32)
    pi[0] = np.float32(1.0 - float(np.sum(pi[1:], dtype=np.float64)) + excess)
    return pi


def test_float32_sum_tolerance_is_n_plus_4_eps():
    # mutant: `(n * 4) * eps` (four times too loose for many actions)
    n = 16
    tol = SUM_RTOL + (n + 4) * EPS32  # the documented tolerance, for a float32 policy
    inside, outside = _float32_policy(n, 0.8 * tol), _float32_policy(n, 1.5 * tol)
    assert abs(float(np.sum(inside, dtype=np.float64)) - 1) < tol
    assert abs(float(np.sum(outside, dtype=np.float64)) - 1) > tol
    rows = policy_rows(inside, None, axis=-1, log=False)
    assert abs(float(np.sum(np.exp(rows.logpi))) - 1) < 1e-15  # renormalised in float64
    with pytest.raises(ValueError, match="pi_t: probabilities must sum to 1"):
        policy_rows(outside, None, axis=-1, log=False)
    assert sum_tolerance(n, EPS32) == pytest.approx(tol, rel=1e-15)


def test_spread_overflow_is_caught_with_a_large_tau():
    # held-out (seed 1) mutant: `2.0 + big / tau` as the fast path's bound. With tau = 1e10
    # the ratio spread / tau is small, but the spread itself overflows float64 and must be
    # refused (naming r), not passed on to the kernels.
    rows = policy_rows([0.5, 0.5], [1.7e308, -1.7e308], axis=-1, log=False)
    with pytest.raises(ValueError, match=r"r: max\(r\) - min\(r\) on the support overflows"):
        check_spread(rows, np.array([1e10]))
    check_spread(policy_rows([0.5, 0.5], [8e307, -8e307], axis=-1, log=False), np.array([1e10]))


@pytest.mark.parametrize("value", ["abc", None, [1.0, 2.0], np.ones(2)])
def test_positive_names_the_argument_for_whatever_does_not_convert(value):
    # held-out (seed 2) mutant: ValueError dropped from the caught conversion errors, so
    # float("abc")'s own message, without the argument's name, reached the caller
    with pytest.raises(ValueError, match="^tau must be a real number"):
        positive(value, "tau")


def test_spread_over_tau_is_refused_past_a_quarter_of_the_float64_range():
    # held-out (seed 5) mutant: a margin of 5 for the documented 4 (max / 5 for max / 4)
    # refused ratios the kernels handle: at spread / tau = max / 4.5 KL-chi2 still answers
    # (all mass on the best action); past max / 4 the error names tau
    big = np.finfo(np.float64).max
    rows = policy_rows([0.5, 0.5], [0.0, 1e308], axis=-1, log=False)
    check_spread(rows, np.array([4.5 * (1e308 / big)]))
    got = kl_chi2_update([0.5, 0.5], [0.0, 1e308], 4.5 * (1e308 / big), 0.1)
    np.testing.assert_allclose(got, [0.0, 1.0], rtol=0, atol=ROUNDING_ATOL)
    with pytest.raises(ValueError, match=r"^tau: \(max\(r\) - min\(r\)\) / tau overflows"):
        check_spread(rows, np.array([3.99 * (1e308 / big)]))


@pytest.mark.parametrize("value", [True, False, "1.0", None, 1j])
def test_real_refuses_bools_and_non_reals_by_name(value):
    # held-out (seed 5) mutant: `isinstance(value, bool) and not isinstance(value, Real)`
    # (never true) let True through as 1.0 and "1.0" through float(); numbers stay numbers
    with pytest.raises(ValueError, match="^lr must be a real number"):
        real(value, "lr")
    assert real(np.float32(0.5), "lr") == 0.5 and real(3, "lr") == 3.0


REAL_BOUNDS = [  # (value, keyword bounds, accepted, the message's tail when refused)
    (1.0, dict(lo=1.0), True, None),
    (1.0, dict(lo=1.0, lo_open=True), False, "must be > 1.0, got 1.0"),
    (0.5, dict(lo=1.0), False, "must be >= 1.0, got 0.5"),
    (2.0, dict(hi=2.0), True, None),
    (2.0, dict(hi=2.0, hi_open=True), False, "must be < 2.0, got 2.0"),
    (2.5, dict(hi=2.0), False, "must be <= 2.0, got 2.5"),
    (1.5, dict(lo=1.0, hi=2.0, lo_open=True, hi_open=True), True, None),
    (np.inf, {}, False, "must be finite, got inf"),
    (np.nan, {}, False, "must be finite, got nan"),
]


@pytest.mark.parametrize(("value", "bounds", "ok", "tail"), REAL_BOUNDS)
def test_real_bounds_and_open_ends(value, bounds, ok, tail):
    if ok:
        assert real(value, "x", **bounds) == value
    else:
        with pytest.raises(ValueError, match=f"^x {re.escape(tail)}$"):
            real(value, "x", **bounds)


INTEGER_CASES = [  # (value, bounds, the result or the message's tail)
    (3, {}, 3),
    (np.int64(3), dict(lo=3, hi=3), 3),
    (True, {}, "must be an integer, got True"),
    (3.0, {}, "must be an integer, got 3.0"),
    ("3", {}, "must be an integer, got '3'"),
    (2, dict(lo=3), "must be an integer >= 3, got 2"),
    (4, dict(hi=3), "must be an integer <= 3, got 4"),
]


@pytest.mark.parametrize(("value", "bounds", "want"), INTEGER_CASES)
def test_integer_refuses_bools_floats_and_out_of_range_by_name(value, bounds, want):
    if isinstance(want, int):
        got = integer(value, "n", **bounds)
        assert got == want and type(got) is int
    else:
        with pytest.raises(ValueError, match=f"^n {re.escape(want)}$"):
            integer(value, "n", **bounds)


@pytest.mark.parametrize(("value", "tail"), [(0.0, "0.0"), (-1.0, "-1.0"), (np.inf, "inf")])
def test_positive_refuses_zero_negative_and_infinite(value, tail):
    with pytest.raises(ValueError, match=f"^tau must be finite and > 0, got {tail}$"):
        positive(value, "tau")
    assert positive(np.float32(0.25), "tau") == 0.25 and positive("2", "tau") == 2.0


def test_probability_and_choice():
    np.testing.assert_array_equal(probability([0.0, 1.0]), [0.0, 1.0])
    for bad in ([-1e-300], [1.0 + 1e-15], [np.nan]):
        with pytest.raises(ValueError, match="^q: "):
            probability(bad, "q")
    assert choice("a", "mode", ("a", "b")) == "a"
    with pytest.raises(ValueError, match=r"^mode: must be one of 'a', 'b', got 'c'$"):
        choice("c", "mode", ("a", "b"))


# ---- lines no test of this module reached (coverage of its mutation targets, session 5)


def test_float_eps_of_a_dtype_numpy_does_not_know_is_zero():
    class Foreign:  # e.g. a torch tensor: its dtype is not a numpy dtype
        dtype = object()

    assert float_eps(Foreign()) == 0.0
    assert float_eps(np.ones(2, dtype=np.float32)) == EPS32
    assert float_eps(np.ones(2, dtype=np.float16)) == float(np.finfo(np.float16).eps)
    assert float_eps(np.ones(2)) == 0.0 and float_eps([1.0]) == 0.0


def test_a_ragged_input_is_refused_by_name():
    with pytest.raises(ValueError, match=r"^pi_t: cannot be converted to a float array \("):
        float_array([[1.0], [1.0, 2.0]], "pi_t")


@pytest.mark.parametrize("axis", [True, 1.0, "0"])
def test_axis_must_be_an_integer(axis):
    with pytest.raises(
        ValueError, match=f"^axis: must be an integer, got {re.escape(repr(axis))}$"
    ):
        policy_rows([0.5, 0.5], [1.0, 0.0], axis=axis, log=False)


def test_a_huge_but_finite_spread_passes_without_tau():
    # log_partition checks the spread only (tau None): 2e300 is finite, so it is let through
    rows = policy_rows([0.5, 0.5], [1e300, -1e300], axis=-1, log=False)
    assert check_spread(rows, None) is None
    assert log_partition([0.5, 0.5], [1e300, -1e300], 1.0) == 1e300


def test_a_float64_policy_is_kept_as_given_within_the_sum_tolerance():
    # held-out (seed 8): `if eps >= 0` renormalised float64 policies too; only a coarser
    # dtype's policy is renormalised, a float64 one within 1e-8 is used (and returned) as is
    logpi = np.log([0.2, 0.3, 0.5]) + 5e-9
    rows = policy_rows(logpi, [1.0, 0.0, 0.5], axis=-1, log=True)
    np.testing.assert_array_equal(rows.logpi[0], logpi)
    pi = np.array([0.2, 0.3, 0.5 + 5e-9])
    rows = policy_rows(pi, [1.0, 0.0, 0.5], axis=-1, log=False)
    np.testing.assert_array_equal(rows.given[0], pi)


def test_a_batch_of_log_policies_is_checked_row_by_row():
    # held-out (seed 8): `np.max(logpi, axis=-0)` took the maximum down the batch: an action
    # off the support in every row then read as a row with no support
    logpi = np.log([[0.5, 0.5, 1.0], [0.3, 0.7, 1.0]])
    logpi[:, 2] = -np.inf
    rows = policy_rows(logpi, np.zeros((2, 3)), axis=-1, log=True)
    np.testing.assert_array_equal(rows.logpi, logpi)
    got = log_partition(logpi, [[1.0, 0.0, 5.0]] * 2, 0.5, log=True)
    want = 0.5 * np.log([0.5 * np.exp(2.0) + 0.5, 0.3 * np.exp(2.0) + 0.7])
    np.testing.assert_allclose(got, want, rtol=1e-15)


def test_an_overflowing_spread_names_the_first_such_row():
    # held-out (seed 8): `[-1]` named the last overflowing row instead of the first
    r = np.array([[0.0, 1.0], [-1e308, 1e308], [-1.5e308, 1.5e308]])
    with pytest.raises(ValueError, match=re.escape("(row 1: 1e+308 - -1e+308)")):
        check_spread(policy_rows(np.full((3, 2), 0.5), r, axis=-1, log=False), None)


# --- a full run of tools/mutation.py (session 12) ----------------------------------------


@pytest.mark.parametrize(
    ("fn", "positional"),
    [
        (policy_rows, ["pi_t", "r"]),
        (log_policy, ["pi", "name"]),
        (batch_param, ["value", "name", "batch_shape"]),
        (real, ["value", "name"]),
        (integer, ["value", "name"]),
    ],
)
def test_options_are_keyword_only(fn, positional):
    # mutants: `*` -> `/` in each of these let a caller pass the options by position, where
    # a swapped pair (`policy_rows(pi, r, False, -1)`: axis and log) would go unnoticed
    assert_keyword_only(fn, positional)


@pytest.mark.parametrize(("shape", "axis"), [((2,), 1), ((3, 2), 2), ((3, 2), -3)])
def test_an_axis_equal_to_ndim_is_out_of_range(shape, axis):
    # mutant: `-ndim <= axis <= ndim` took axis = ndim for axis 0
    with pytest.raises(ValueError, match=f"axis: {axis} is out of range"):
        policy_rows(np.full(shape, 0.5), None, axis=axis, log=False)


def test_the_float32_sum_tolerance_counts_actions_not_rows():
    # mutant: `sum_tolerance(pi.shape[-0], eps)` counted the rows of a batch: 64 rows of two
    # float32 actions got (64 + 4) eps instead of (2 + 4) eps
    tol = sum_tolerance(2, EPS32)
    batch = np.tile(_float32_policy(2, 3 * tol), (64, 1))
    assert abs(float(np.sum(batch[0], dtype=np.float64)) - 1) > 2 * tol
    with pytest.raises(ValueError, match="sum"):
        policy_rows(batch, None, axis=-1, log=False)
    inside = np.tile(_float32_policy(2, 0.5 * tol), (64, 1))
    assert policy_rows(inside, None, axis=-1, log=False).logpi.shape == (64, 2)


def test_a_row_of_zero_probabilities_is_named_a_row_without_support():
    # mutant: `np.max(pi, axis=-1) == -1` left the all-zero row to the sum check, whose
    # message ("sums to 0") hides the cause
    with pytest.raises(ValueError, match="pi_t: a row has no support"):
        policy_rows(np.array([[0.5, 0.5], [0.0, 0.0]]), None, axis=-1, log=False)


def test_a_float64_array_is_used_without_a_copy():
    # mutant: `astype(np.float64, copy=True)` copied every float64 input (the docstring says
    # it comes back as is)
    x = np.array([0.25, 0.75])
    assert float_array(x, "x") is x
    assert float_array(x[::-1], "x").base is x


def test_a_sum_error_quotes_the_first_bad_row():
    # mutant: `total[bad].flat[-1]` quoted the last row that fails the sum rule
    with pytest.raises(ValueError, match=re.escape("(found 1.1)")):
        policy_rows(np.array([[0.5, 0.5], [0.5, 0.6], [0.5, 0.7]]), None, axis=-1, log=False)


def test_an_overflowing_ratio_to_tau_names_the_first_such_row():
    # mutant: `np.flatnonzero(bad)[-1]` named the last row whose spread / tau overflows
    r = np.array([[0.0, 1.0], [0.0, 1e300], [0.0, 2e300]])
    rows = policy_rows(np.full((3, 2), 0.5), r, axis=-1, log=False)
    with pytest.raises(ValueError, match=re.escape("(row 1: 1e+300 / tau=1e-10)")):
        check_spread(rows, np.full(3, 1e-10))


def test_a_single_row_gives_a_python_float():
    # mutant: `shaped.ndim == -1` returned a 0-d array for an unbatched policy
    got = log_partition([0.5, 0.5], [1.0, 0.0], 1.0)
    assert type(got) is float
    assert got == pytest.approx(np.log((np.e + 1) / 2), rel=1e-15)


def test_the_spread_on_the_support_ignores_rewards_off_it():
    # mutant: `np.where(support, rows.r, np.inf)` for the best reward made it +inf wherever an
    # action is off the support. tau = 1e-300 takes the exact path (2 max|r| / tau >= 1e300);
    # there the spread on the support, 1 / 1e-300, is far from overflowing
    # (and `logpi >= -np.inf` for the support took the reward 1e10 off it: 1e10 / 1e-300 = inf)
    rows = policy_rows([0.5, 0.5, 0.0], [1.0, 0.0, 1e10], axis=-1, log=False)
    check_spread(rows, np.array([1e-300]))  # passes


def test_a_ratio_to_tau_of_exactly_a_quarter_of_the_largest_float_is_refused():
    # mutant: `ratio <= max / 4`; the rule (a margin of 4 below overflow) is strict
    quarter = np.finfo(np.float64).max / 4
    rows = policy_rows([0.5, 0.5], [quarter, 0.0], axis=-1, log=False)
    with pytest.raises(ValueError, match="overflows float64"):
        check_spread(rows, np.array([1.0]))
    rows = policy_rows([0.5, 0.5], [np.nextafter(quarter, 0), 0.0], axis=-1, log=False)
    check_spread(rows, np.array([1.0]))  # passes


def test_a_sum_of_exactly_the_tolerance_is_accepted(monkeypatch):
    # mutant: `np.abs(total - 1.0) < tol`; the docstring says within the tolerance. SUM_RTOL
    # is set to 2**-20, which a float64 sum reaches exactly; 2**-52 more is the next sum past it
    monkeypatch.setattr(_validate, "SUM_RTOL", 2.0**-20)
    pi = np.array([0.5, 0.5 + 2.0**-20])
    np.testing.assert_array_equal(policy_rows(pi, None, axis=-1, log=False).given[0], pi)
    with pytest.raises(ValueError, match="must sum to 1"):
        policy_rows(np.array([0.5, 0.5 + 2.0**-20 + 2.0**-52]), None, axis=-1, log=False)


def test_log_policy_takes_float64_by_default():
    # mutants: log_policy's default eps 0.0 -> -1.0 (documented: 0 for float64), which made
    # the tolerance negative and refused every policy, or 1.0, which accepted any sum
    logpi, pi = log_policy(np.array([0.25, 0.75]), "pi", log=False)
    np.testing.assert_array_equal(np.exp(logpi), [0.25, 0.75])
    with pytest.raises(ValueError, match="must sum to 1"):
        log_policy(np.array([0.25, 0.76]), "pi", log=False)


def test_rows_are_frozen():
    # mutant: `@dataclass(frozen=False)`: a caller could rebind a Rows' arrays after the checks
    rows = policy_rows([0.5, 0.5], [1.0, 0.0], axis=-1, log=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rows.r = np.zeros((1, 2))
