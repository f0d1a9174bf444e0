"""pmdtheory.updates (and the log-partition kernel) where survivors of `make mutation` showed
the tests blind.

Each test was checked to fail on the mutant named in its comment (tools/mutation.py, seed 0).
"""

from __future__ import annotations

import inspect

import mpmath as mp
import numpy as np
import pytest

import pmdtheory as pmd

FMAX = float(np.finfo(np.float64).max)
SERIES_RTOL = 1e-12  # implicit_beta's underflow series vs its closed form in mpmath
LAM_RTOL = 1e-9  # as in test_updates.py


def test_log_partition_ignores_actions_off_the_support():
    # mutant (_kernels._log_partition_row): an action with pi = 0 gets b = +inf, not -inf
    tau = 0.5
    expected = tau * np.log(0.5 + 0.5 * np.e**2)  # tau log E exp(r / tau), r = [0, 1]
    with_zero = pmd.log_partition([0.0, 0.5, 0.5], [100.0, 0.0, 1.0], tau)
    np.testing.assert_allclose(with_zero, expected, rtol=1e-15)
    assert with_zero == pmd.log_partition([0.5, 0.5], [0.0, 1.0], tau)


GAP_RTOL = 1e-11  # tau log E e^(r/tau) - rbar vs mpmath at large tau (measured: 3.7e-13)


def test_log_partition_keeps_the_gap_above_the_mean_with_an_action_off_the_support():
    # mutant (session 17): `not b[a] > -math.inf` in the largest |b| sent every row with a
    # zero to the shifted sum, where the gap above rbar = 0 (5e-5) lost 2.2e-9 of itself.
    # The expm1 sum keeps it to eps |b| / gap ~ 4e-12 (the terms cancel: E b = 0)
    tau = 1e4
    with mp.workdps(30):
        expected = float(tau * mp.log(mp.cosh(1 / mp.mpf(tau))))  # pi = [.5, .5], r = [-1, 1]
    got = pmd.log_partition([0.0, 0.5, 0.5], [7.0, -1.0, 1.0], tau)
    assert got == pmd.log_partition([0.5, 0.5], [-1.0, 1.0], tau)
    np.testing.assert_allclose(got, expected, rtol=GAP_RTOL)


def test_log_partition_ignores_a_large_reward_off_the_support_at_tiny_tau():
    # mutant (session 16): `logpi[a] >= -math.inf` in the shifted sum took the action with
    # pi = 0 in: (1e300 - 1) / tau overflows to inf there, and -inf + inf = NaN
    tau = 1e-10
    with_zero = pmd.log_partition([0.0, 0.5, 0.5], [1e300, 0.0, 1.0], tau)
    assert with_zero == pmd.log_partition([0.5, 0.5], [0.0, 1.0], tau)
    np.testing.assert_allclose(with_zero, 1.0 + tau * np.log(0.5), rtol=1e-15)


def test_implicit_beta_where_lam_underflows_comes_from_the_series():
    # mutants (updates.implicit_beta): `np.sum(w + e**3, -1)` in the series, and the
    # series never used (`use = ... < -0.9999999999`): beta came back 1e150 too large, or 0
    pi, r, tau = [0.3, 0.7], [1.0, 0.0], 1e300  # lam ~ Var(r) / (2 tau^2) = 1e-601: 0.0
    with mp.workdps(30):
        rbar = mp.mpf(0.3)
        d = [mp.mpf(1) - rbar, -rbar]
        expected = sum(w * x * x for w, x in zip((mp.mpf(0.3), mp.mpf(0.7)), d, strict=True))
        expected = float(expected / (2 * mp.mpf(tau)))  # E d^2 / (2 tau); the cubic term ~1e-601
    beta = pmd.implicit_beta(pi, r, tau)
    assert beta > 0
    np.testing.assert_allclose(beta, expected, rtol=SERIES_RTOL)


@pytest.mark.parametrize("arrays", [False, True])
def test_implicit_beta_series_ignores_rewards_off_the_support(arrays):
    # held-out (seed 5) mutant: `w >= 0` in the series' deviations d = r - rbar counted the
    # action with pi = 0; its reward 1e195 (>= 1e-10 tau) then kept the series from being
    # used, and beta came back 0 (tau lam, lam underflowed)
    pi, r = [0.5, 0.5, 0.0], [0.0, 1.0, 1e195]
    if arrays:
        pi, r = np.array(pi), np.array(r)
    beta = pmd.implicit_beta(pi, r, 1e200)  # E d^2 / (2 tau) on the support: 1.25e-201
    assert beta == pmd.implicit_beta([0.5, 0.5], [0.0, 1.0], 1e200)
    np.testing.assert_allclose(beta, 0.25 / 2e200, rtol=SERIES_RTOL)


@pytest.mark.parametrize(
    "fn",
    [pmd.exact_update, pmd.mean_update, pmd.kl_chi2_update, pmd.implicit_beta, pmd.log_partition],
)
def test_updates_take_the_arrays_by_position_or_name_and_the_options_by_name_only(fn):
    # mutants: `*` -> `/` in the signatures of mean_update and kl_chi2_update (the arrays
    # positional-only, axis and log positional)
    params = inspect.signature(fn).parameters
    arrays = ["pi_t", "r", "tau"] + (["beta"] if fn is pmd.kl_chi2_update else [])
    for name in arrays:
        assert params[name].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, name
    for name in ("axis", "log"):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
    pi, r = np.array([0.25, 0.75]), np.array([1.0, 0.0])
    extra = {"beta": 0.1} if fn is pmd.kl_chi2_update else {}
    by_name = fn(pi_t=pi, r=r, tau=0.5, **extra)
    by_position = fn(pi, r, 0.5, *extra.values())
    np.testing.assert_array_equal(by_name, by_position)
    with pytest.raises(TypeError):
        fn(pi, r, 0.5, *extra.values(), -1)  # axis only by name


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.int8, np.bool_])
def test_rewards_of_any_real_dtype_give_the_float64_answer(dtype):
    # mutant (updates._fast_args): `r.dtype == np.float64` sends other dtypes to the
    # float64-only fast kernels (a Numba typing error for float16 and bool)
    rng = np.random.default_rng(1)
    pi = rng.dirichlet(np.ones(6), size=4)
    r = rng.integers(0, 2, size=(4, 6)).astype(dtype)
    r64 = r.astype(np.float64)
    for fn in (pmd.exact_update, pmd.mean_update):
        np.testing.assert_allclose(fn(pi, r, 0.3), fn(pi, r64, 0.3), rtol=1e-14, atol=0)


def test_a_bool_axis_is_refused_on_the_probability_fast_path():
    # mutant (updates._mean_fast): `not isinstance(axis, bool) or ...` let axis=True through
    # as axis 1 (and sent every integer axis to the slow path)
    pi, r = np.array([[0.5, 0.5]]), np.array([[1.0, 0.0]])
    for fn in (pmd.mean_update, pmd.implicit_beta):
        with pytest.raises(ValueError, match="axis: must be an integer, got True"):
            fn(pi, r, 0.1, axis=True)


def test_binary_update_refuses_tau_exactly_where_one_over_tau_overflows_the_reward_gap():
    # mutant (updates.binary_update): `2.0 / tau_flat < max / 4` refused taus that work;
    # held-out (seed 2): `max / 5` too
    ok = 1.01 * 4.0 / FMAX  # 1/tau just below max/4: x_pos and lam finite
    out = pmd.binary_update(0.5, ok)
    assert out.p_new == 1.0 and np.isfinite(out.lam) and np.isfinite(out.x_pos)
    with pytest.raises(ValueError, match="tau: 1 / tau overflows float64"):
        pmd.binary_update(0.5, 0.9 * 4.0 / FMAX)


@pytest.mark.parametrize("tau", [0.0, -0.5, -2.0, np.inf, np.nan])
def test_the_array_fast_path_refuses_a_tau_that_is_not_positive_and_finite(tau):
    # mutants (updates._fast_args, held-out seed 1): `0.0 <= tau` and `-1.0 < tau` let
    # float64 arrays reach the fast kernel with tau = 0 (NaN out) or negative tau
    pi, r = np.array([0.3, 0.7]), np.array([1.0, 0.0])
    for fn in (pmd.exact_update, pmd.mean_update):
        with pytest.raises(ValueError, match="tau"):
            fn(pi, r, tau)


def test_log_policies_within_the_sum_tolerance_come_back_normalised():
    # mutant (_kernels._mean_row, held-out seed 1): `logpi + c + lx` for `logpi - c + lx`
    # (c = logsumexp(logpi), 5e-9 here, so the policy summed to 1 + 1e-8)
    logpi = np.log(np.array([0.3, 0.7]) * (1.0 + 5e-9))
    out = pmd.mean_update(logpi, [1.0, 0.3], 0.5, log=True)
    assert abs(np.exp(out).sum() - 1.0) < 1e-15
    expected = pmd.mean_update(np.log([0.3, 0.7]), [1.0, 0.3], 0.5, log=True)
    np.testing.assert_allclose(out, expected, rtol=1e-14, atol=1e-15)


def test_float64_probabilities_get_the_fast_kernels_rows_bit_for_bit():
    # mutant (updates._mean_fast, held-out seed 1): `(t2 < 0) & ...` sent every row to the
    # checked log path (right to 1e-12, but not the fast kernel's answer, and slow)
    from pmdtheory import _kernels_few

    rng = np.random.default_rng(8)
    pi = rng.dirichlet(np.ones(32), size=50)
    r = rng.normal(size=(50, 32))
    tau = 0.2
    out, lam, status = np.empty_like(pi), np.empty(50), np.empty(50, dtype=np.int8)
    _kernels_few._few_batch(pi, r, np.full(50, tau), 1e-8, out, lam, status)
    assert np.all(status == 0)
    fast, fast_lam = pmd.mean_update(pi, r, tau, return_lambda=True)
    np.testing.assert_array_equal(fast, out)
    np.testing.assert_array_equal(fast_lam, lam)


# ---- lines its mutation targets never reached (coverage, session 5)


def test_an_unconverged_root_is_refused_naming_its_row():
    from pmdtheory.updates import _require_converged

    _require_converged(np.array([True, True]), "PMD-mean")
    with pytest.raises(ValueError, match="^tau: the KL-chi2 root could not be resolved in "
                       "float64 on row 1 "):  # fmt: skip
        _require_converged(np.array([True, False, False]), "KL-chi2")


def test_any_layout_gets_the_contiguous_answer_bit_for_bit():
    # strided, transposed (the actions on axis 0) and nested lists of the same rows; exact
    # PMD's fast path took only C-ordered arrays with the actions last, and every other
    # layout went the log way, 1 ulp off (found by coverage, session 5)
    rng = np.random.default_rng(5)
    pi = rng.dirichlet(np.ones(4), size=6)
    r = rng.normal(size=(6, 4))
    strided = np.repeat(pi, 2, axis=0)[::2], np.repeat(r, 2, axis=0)[::2]
    assert not strided[0].flags.c_contiguous
    for fn in (pmd.exact_update, pmd.mean_update):
        want = fn(pi, r, 0.3)
        np.testing.assert_array_equal(fn(*strided, 0.3), want)
        np.testing.assert_array_equal(fn(pi.T, r.T, 0.3, axis=0), want.T)
        np.testing.assert_array_equal(fn(pi.tolist(), r.tolist(), 0.3), want)


def test_a_ragged_policy_is_refused_by_name():
    for fn in (pmd.mean_update, pmd.exact_update, pmd.implicit_beta):
        with pytest.raises(ValueError, match="^pi_t: cannot be converted to a float array"):
            fn([[0.5, 0.5], [1.0]], [[1.0, 0.0], [1.0]], 0.1)


def test_a_ragged_tau_is_refused_by_name():
    # mutant (session 17): `except (CosmicRayTestingException, TypeError)` around the fast
    # path's np.asarray(tau) let numpy's inhomogeneous-shape error out, naming no argument
    for fn in (pmd.mean_update, pmd.exact_update):
        with pytest.raises(ValueError, match="^tau: cannot be converted to a float array"):
            fn(np.full((2, 2), 0.5), np.zeros((2, 2)), [[1.0, 2.0], [3.0]])


class _NoArray:
    """A tau whose conversion to an array raises TypeError."""

    def __array__(self, dtype=None, copy=None):
        raise TypeError("no array here")


def test_a_tau_that_cannot_become_an_array_is_refused_by_name():
    # mutant (session 17): `except (ValueError, CosmicRayTestingException)` around the fast
    # path's np.asarray(tau) let its TypeError out
    for fn in (pmd.mean_update, pmd.exact_update, pmd.implicit_beta):
        with pytest.raises(ValueError, match="^tau: cannot be converted to a float array"):
            fn(np.full((2, 2), 0.5), np.zeros((2, 2)), _NoArray())


def test_float64_arrays_with_a_bad_axis_are_refused_by_name():
    # (tools/mutation.py --unreached, session 5: the fast path's own axis checks hand these
    # to the checked path, which names the argument)
    pi, r = np.full((2, 2), 0.5), np.zeros((2, 2))
    for fn in (pmd.exact_update, pmd.mean_update):
        with pytest.raises(ValueError, match="^axis: must be an integer, got True$"):
            fn(pi, r, 0.1, axis=True)
        with pytest.raises(ValueError, match="^axis: 2 is out of range"):
            fn(pi, r, 0.1, axis=2)


@pytest.mark.parametrize("tau", [1e11, 1e15, 1e100])
def test_lambda_at_very_large_tau_is_the_small_b_series(tau):
    # held-out (seed 7) mutant in _kernels.py: `m3 += w b b b` -> `w b + b b`. Below
    # max|b| = 1e-10 lam is the series m2/2 + m3/6; the policy moves by ~b and hides a wrong
    # lam (its error is below the policy's rounding), so lam itself is checked against
    # mpmath. Three rewards with an asymmetric spread: m3 != 0. The log path (the _kernels
    # solver; probabilities with few rewards take _kernels_few's own series).
    import _mp_reference as ref

    pi, r = np.array([0.2, 0.3, 0.5]), np.array([1.0, 0.0, 0.25])
    _, lam = pmd.mean_update(np.log(pi), r, tau, log=True, return_lambda=True)
    with mp.workdps(300):  # b ~ 1/tau: the reference needs the digits of b^2 at 1e-200
        _, lam_ref = ref.mean(pi, r, tau)
    assert abs(lam - float(lam_ref)) <= LAM_RTOL * float(lam_ref)


def test_the_kernel_normalises_a_constant_reward_row():
    # held-out (seed 8): `logpi[a] + c` in _prepare (kl_chi2's constant-reward path)
    # doubled the 5e-9 error of a log policy within the sum tolerance instead of removing
    # it. The row kernels write a normalised row (the simulators call _mean_row directly);
    # the public functions then return a constant-reward policy as given, bit for bit
    from pmdtheory._kernels import _kl_chi2_row, _mean_row

    logpi = np.log([0.2, 0.3, 0.5]) + 5e-9
    r = np.full(3, 0.7)
    out, out2 = np.empty(3), np.empty(3)
    assert _mean_row(logpi, r, 0.1, out) == 0.0
    assert _kl_chi2_row(logpi, r, 0.1, 2.0, out2)
    for row in (out, out2):
        np.testing.assert_allclose(row, np.log([0.2, 0.3, 0.5]), rtol=0, atol=4e-16)
    for got in (pmd.mean_update(logpi, r, 0.1, log=True),
                pmd.kl_chi2_update(logpi, r, 0.1, 2.0, log=True)):  # fmt: skip
        np.testing.assert_array_equal(got, logpi)


def test_implicit_beta_of_constant_rewards_is_exactly_zero():
    # mutant (session 17): `(lam > -1)` in implicit_beta's underflow test sent constant rows
    # (lam = 0) to its series, where the mean reward's rounding (d ~ 1e-17) gave beta ~ 1e-27
    rng = np.random.default_rng(0)
    pi = rng.dirichlet(np.ones(5), size=200)
    r = np.repeat(rng.normal(size=(200, 1)), 5, axis=1)
    for tau in (1e-4, 1e4):
        assert not np.any(pmd.implicit_beta(pi, r, tau))
        assert not np.any(pmd.implicit_beta(np.log(pi), r, tau, log=True))


def test_implicit_beta_is_tau_times_lam_wherever_lam_is_normal():
    # held-out (seed 8): `lost = (lam < 1.0) ...` sent every lam below 1 to the underflow
    # series; beta is then no longer tau * lam to the last bit (1,924 of 2,775 random rows)
    rng = np.random.default_rng(3)
    for _ in range(300):
        p, r = rng.dirichlet(np.ones(4)), rng.standard_normal(4)
        tau = 10.0 ** rng.uniform(-2, 100)
        lam = pmd.mean_update(p, r, tau, return_lambda=True)[1]
        assert lam > 1e-280
        assert pmd.implicit_beta(p, r, tau) == tau * lam


def test_implicit_beta_series_keeps_its_cubic_term():
    # held-out (seed 8): `e**4` for `e**3` in the underflow series. The cubic term matters
    # where lam underflows through a tiny weight on a not-so-tiny b (1e-270 on b = 5e-11):
    # E b^3 / 6 is then 1.7e-11 of E b^2 / 2. Reference: lam solved exactly in mpmath
    # (400 digits: sum_a w_a W(lam e^b_a) / lam = 1)
    pi, r, tau = [1e-270, 1 - 1e-270], [1.0, 0.0], 2e10
    with mp.workdps(400):
        w = [mp.mpf(1e-270), 1 - mp.mpf(1e-270)]
        b = [(mp.mpf(x) - w[0]) / tau for x in r]
        m2 = sum(wi * bi**2 for wi, bi in zip(w, b, strict=True))

        def excess(lam):
            return sum(wi * mp.lambertw(lam * mp.exp(bi)).real / lam
                       for wi, bi in zip(w, b, strict=True)) - 1  # fmt: skip

        expected = float(tau * mp.findroot(excess, m2 / 2))
    assert pmd.mean_update(pi, r, tau, return_lambda=True)[1] < 1e-280  # the series' case
    np.testing.assert_allclose(pmd.implicit_beta(pi, r, tau), expected, rtol=SERIES_RTOL)
    assert abs(expected / (0.5 * tau * float(m2)) - 1) > 10 * SERIES_RTOL  # cubic visible


# Rows where one action holds a mass far below the rest, at tau = 1e-30: the KL-chi2 root s
# is then of order 1/tau and polished in the coordinates of the action with the largest new
# probability (tools/mutation.py, seed 11 sample of _kernels.py).
_TINY_TAU_ROWS = [  # pi, r, beta
    ([1.9095034115559892e-228, 1.0], [1000000.1357336144, 999999.9764064332],
     7.857583959533522e-25),
    ([1.3727729356556176e-111, 0.7735924519321842, 0.2264075480678159],
     [1.3959804443622061, -0.2659660935689544, -0.9169892810877353], 2.3441454262276984e-33),
    ([3.1686029219028217e-103, 0.5217824643669365, 0.036501174944585275, 0.06800690444704062,
      0.37370945624143753],
     [206.67859855165764, 129.0173882234532, 14.521567807905244, -234.30120282825814,
      -57.0720785023684], 3.428794326044574e-36),
]  # fmt: skip
TINY_TAU_ATOL = 1e-12  # log-probabilities vs mpmath (measured: 2.2e-16)
TINY_TAU_RTOL = 1e-14  # the log-probabilities of order -1/tau


@pytest.mark.parametrize("pi, r, beta", _TINY_TAU_ROWS)
def test_kl_chi2_at_tiny_tau_polishes_from_the_action_that_takes_the_mass(pi, r, beta):
    # mutant (session 16): `_finish(..., 1.0, log_kappa, out)` before the polish took s (of
    # order 1e30 here) off every log-probability it ranks: they all rounded alike, the first
    # action (the one of mass 1e-228) was taken as the reference, and these rows were
    # refused as unconverged
    import _mp_reference as ref

    tau = 1e-30
    got = pmd.kl_chi2_update(np.log(pi), r, tau, beta, log=True)
    with mp.workdps(80):  # b ~ 1/tau: s + b needs 30 digits more than float64's
        expected = [float(x) for x in ref.kl_chi2(pi, r, tau, beta)]
    np.testing.assert_allclose(got, expected, rtol=TINY_TAU_RTOL, atol=TINY_TAU_ATOL)


_LOG_KERNELS_SCRIPT = """
import numpy as np
import pmdtheory as pmd

for n in (1, 2, 3):
    logpi = np.log(np.full((4, n), 1.0 / n))  # ties for the most probable action
    r = (np.arange(4 * n, dtype=float) % 3).reshape(4, n)
    for tau in (0.1, 10.0):
        pmd.mean_update(logpi, r, tau, log=True)
        pmd.log_partition(logpi, r, tau, log=True)
        pmd.kl_chi2_update(logpi, r, tau, 1.0, log=True)
print("ok")
"""


def test_the_log_space_kernels_index_within_their_arrays(tmp_path):
    # mutant (session 16): `amax = 1` to start the search for the most probable action read
    # one entry past a one-action row (Numba does not check bounds; the answer came out
    # right, from whatever lay there)
    from _boundscheck import assert_runs_bounds_checked

    assert_runs_bounds_checked(_LOG_KERNELS_SCRIPT, tmp_path)


@pytest.mark.parametrize("tau", [1e-3, 0.1, 10.0, 1e4])
def test_the_log_path_solves_a_row_with_zeros_as_the_row_without_them(tau):
    # mutant (session 16): `w[a] >= 0.0` in PMD-mean's moments took in the actions off the
    # support: 0 * inf = NaN, and the row was refused
    rng = np.random.default_rng(16)
    pi = rng.dirichlet(np.ones(6), size=50)
    pi[:, :2] = 0.0
    pi /= pi.sum(-1, keepdims=True)
    r = rng.normal(size=pi.shape)
    with np.errstate(divide="ignore"):
        logpi = np.log(pi)
    full, lam = pmd.mean_update(logpi, r, tau, log=True, return_lambda=True)
    sub, lam_sub = pmd.mean_update(logpi[:, 2:], r[:, 2:], tau, log=True, return_lambda=True)
    np.testing.assert_array_equal(full[:, 2:], sub)
    np.testing.assert_array_equal(lam, lam_sub)
    assert np.all(full[:, :2] == -np.inf)


# KL-chi2 rows whose root float64 cannot resolve with this kernel: it refuses them
# (tools/mutation.py, seed 11 sample of _kernels.py; each was refused when written)
DOCUMENTED_LOGP_RTOL = 1e-11  # updates' documented accuracy, also outside the tested domain


def _assert_documented_accuracy(got, expected):
    """Log-probabilities within updates' documented 1e-11 max(1, |log p|) of a reference."""
    np.testing.assert_allclose(got, expected, rtol=DOCUMENTED_LOGP_RTOL, atol=DOCUMENTED_LOGP_RTOL)


_UNRESOLVED_ROWS = [  # pi, r, tau, beta
    ([0.9999999998157715, 1.8422848773808114e-10], [1.0, 4.0], 1.4899160792129196e-08,
     7.711088555983755e-10),
    ([9.835879018121565e-111, 1.0], [1.0, 0.0], 1e-30, 1.203736809810353e-36),
    ([3.2419435071149877e-280, 1.0], [1.0, 0.0], 1e-30, 3.7078941233072275e-27),
]  # fmt: skip


@pytest.mark.parametrize("pi, r, tau, beta", _UNRESOLVED_ROWS)
def test_kl_chi2_is_right_or_refused_where_float64_loses_the_root(pi, r, tau, beta):
    # mutant (session 16): `return -0` for `return -1` after the normalisation check returned
    # such a row, its probabilities summing to something other than 1. Outside the tested
    # domain (tau < 1e-4) the docstring promises the same accuracy or a ValueError
    import _mp_reference as ref

    try:
        got = pmd.kl_chi2_update(np.log(pi), r, tau, beta, log=True)
    except ValueError as err:
        assert str(err).startswith("tau: ")
        return
    with mp.workdps(80):
        expected = [float(x) for x in ref.kl_chi2(pi, r, tau, beta)]
    _assert_documented_accuracy(got, expected)


def test_kl_chi2_brackets_the_root_of_a_policy_summing_to_less_than_one():
    # mutant (session 17): `(logpi[a] + c) + b[a]` in the bracket's lower end, log kappa -
    # log E e^d, raised it by 2|c| (c = log sum pi, down to -1e-8: float64 policies are not
    # renormalised). The end is tight here, within 1e-13 of the root (kappa = e^-30, the mass
    # 29 below the best action: omega(y) = e^y there), and the row was refused
    import _mp_reference as ref

    pi = np.array([1e-30, 1.0 - 9e-9 - 1e-30])  # sums to 1 - 9e-9, within the 1e-8 tolerance
    r, tau, beta = np.array([29.0, 0.0]), 1.0, np.exp(-30.0)
    expected = [float(x) for x in ref.kl_chi2(pi, r, tau, beta)]
    for log in (False, True):
        got = pmd.kl_chi2_update(np.log(pi) if log else pi, r, tau, beta, log=log)
        got = got if log else np.log(got)
        _assert_documented_accuracy(got, expected)


# log-probabilities far below -745: every weight but one underflows (found by the grid that
# measured session 16's _kernels.py mutants; each row came back summing to e^2400 .. e^3900)
_UNDERFLOWED_ROWS = [  # logpi, r, tau
    ([-4630.886647698406, -760.724435127054, 0.0], [4.0, 3.0, 0.0], 6.631553617081618e-07),
    ([-3526.8977999608546, -789.5155529878143, 0.0],
     [1.2114674583750202, -0.2582436003607763, -1.1314716691290434], 0.0002734558646381308),
    ([-4494.554816684993, -768.2498268980456, 0.0],
     [1000000000000.6149, 1000000000000.3812, 1000000000000.0383], 4.820407941103832e-05),
]  # fmt: skip


@pytest.mark.parametrize("logpi, r, tau", _UNDERFLOWED_ROWS)
def test_pmd_mean_where_weights_underflow_is_right_or_refused(logpi, r, tau):
    # session 16: these rows came back as log-probabilities like [15.6, 3885.5, 0] (lam = 0)
    # without a word; the docstring promises the same accuracy or a ValueError out here.
    # They are refused now (the root is lam = 1.4e-162 for the first, [-4242.6, -372.7, 0]:
    # a search from the bracket's lower end, e^-4631, does not find it)
    import _mp_reference as ref

    try:
        out = pmd.mean_update(logpi, r, tau, log=True)
    except ValueError as err:
        assert str(err).startswith("tau: ")
        return
    with mp.workdps(400):  # lam ~ 1e-206: the reference stops at |F| < 10^(12 - digits)
        expected = [float(x) for x in ref.mean(logpi, r, tau, log=True)[0]]
    _assert_documented_accuracy(out, expected)


_SOLVED_UNDERFLOWED_ROWS = [  # logpi, r, tau: lam ~ 1e-164, solved since session 16's grid
    ([-1894.3491112546258, -764.1377978288486, 0.0], [2.0, 1.0, 0.0], 8.185442104551253e-05),
    ([-4383.606050750774, -755.717496905919, 0.0],
     [1000000.005504633, 999999.8384244032, 999999.2997490251], 0.00017373818040153233),
    ([-2491.90256030171, -762.8419707608942, 0.0],
     [1000002.55457789, 1000001.6559237116, 999998.5213454259], 0.0005520076737881647),
]  # fmt: skip


@pytest.mark.parametrize("logpi, r, tau", _SOLVED_UNDERFLOWED_ROWS)
def test_pmd_mean_solves_rows_whose_weights_underflow(logpi, r, tau):
    # mutant (session 16): `0.5 * (lo * hi)` for the midpoint start, taken where E b^2
    # underflows to 0, sent the search to an end of the bracket and these rows were refused
    import _mp_reference as ref

    out = pmd.mean_update(logpi, r, tau, log=True)
    with mp.workdps(400):  # lam ~ 1e-164: the reference stops at |F| < 10^(12 - digits)
        expected = [float(x) for x in ref.mean(logpi, r, tau, log=True)[0]]
    _assert_documented_accuracy(out, expected)


@pytest.mark.parametrize("log", [False, True])
def test_pmd_mean_with_a_mass_of_1e_299_where_lam_is_1e_148(log):
    # held-out mutant (session 16, seed 12): `u[a] > _TINY_U` in the scaled Halley step's
    # scale picked the bound for large u where u is tiny: the probability path returned
    # [0.71, 1.0] for this row (within the tested domain), the log path refused it
    import _mp_reference as ref

    pi, r = [1.257142676407261e-299, 1.0], [-27.17317194113327, -91.77867242815938]
    tau = 0.02711114178438181
    got, lam = pmd.mean_update(np.log(pi) if log else pi, r, tau, log=log, return_lambda=True)
    with mp.workdps(400):  # lam ~ 1e-148: the reference stops at |F| < 10^(12 - digits)
        expected, lam_ref = ref.mean(pi, r, tau)
    _assert_documented_accuracy(got if log else np.log(got), [float(x) for x in expected])
    np.testing.assert_allclose(lam, float(lam_ref), rtol=LAM_RTOL)


def test_exact_fast_path_rows_get_the_same_bits_alone_in_a_batch_and_with_integer_rewards():
    # mutant (session 17): `n = p2.shape[-0]` in _fast_args regrouped a batch into rows of
    # the batch's length; they failed the sum check and went to the checked path, whose
    # bits differ. Integer rewards went there too until session 17 (now converted, as for
    # PMD-mean: the same rewards, the same bits)
    rng = np.random.default_rng(1)
    pi = rng.dirichlet(np.ones(4), size=6)
    r = rng.integers(-2, 3, size=(6, 4))
    batch = pmd.exact_update(pi, r.astype(float), 0.3)
    alone = [pmd.exact_update(p, q, 0.3) for p, q in zip(pi, r.astype(float), strict=True)]
    np.testing.assert_array_equal(batch, alone)
    np.testing.assert_array_equal(pmd.exact_update(pi, r, 0.3), batch)


def test_kl_chi2_gives_a_constant_row_back_in_a_batch_with_beta_zero():
    # mutant (session 17): `_output(..., keep_constant=False)` where some beta is 0 (the option
    # is gone since) returned the constant row (beta = 0.5) as exp(log pi - c), 1.1e-16 off
    rng = np.random.default_rng(1)
    pi = rng.dirichlet(np.ones(4), size=2)
    r = np.array([[1.0, 0.0, 2.0, 0.5], [2.0, 2.0, 2.0, 2.0]])
    out = pmd.kl_chi2_update(pi, r, 0.3, [0.0, 0.5])
    np.testing.assert_array_equal(out[1], pi[1])
    np.testing.assert_array_equal(out[0], pmd.exact_update(pi[0], r[0], 0.3))


def test_implicit_beta_series_ignores_actions_off_the_support():
    # mutant (session 17): `np.where(w > 0, ..., 1.0)` gave the action off the support d = 1,
    # so max |d| / tau = 1e-10 no longer chose the series at tau = 1e10, and beta came from
    # tau * lam with lam = 1e-317 subnormal: 1.5e-7 off. Var / (2 tau) here, d^3 below 1e-300
    tau, d = 1e10, 8.9e-149
    beta = pmd.implicit_beta([0.0, 0.5, 0.5], [5.0, 0.0, d], tau)
    assert beta == pmd.implicit_beta([0.5, 0.5], [0.0, d], tau)
    np.testing.assert_allclose(beta, d * d / 4 / (2 * tau), rtol=LAM_RTOL)


def test_pmd_mean_brackets_a_root_on_the_series_lower_end():
    # held-out (seed 13) mutant, session 17: `series = 2.0 + ...` in _log_expm1mx raised the
    # exact lower end by log 2. Here it is tight: the mass sits at |b| = 1e-4 (lam = m2/2),
    # and an action of mass 1e-15 at b = -50 makes the cheap end 60 below the upper one, so
    # the exact end is used. lam came back twice too large, the log path was refused
    import _mp_reference as ref

    pi = np.array([0.5 - 5e-16, 0.5 - 5e-16, 1e-15])
    r, tau = np.array([1e-4, -1e-4, -50.0]), 1.0
    expected, lam_ref = ref.mean(pi, r, tau)
    expected = [float(v) for v in expected]
    for log in (False, True):
        out, lam = pmd.mean_update(np.log(pi) if log else pi, r, tau, log=log, return_lambda=True)
        np.testing.assert_allclose(lam, float(lam_ref), rtol=LAM_RTOL)
        got = out if log else np.log(out)
        _assert_documented_accuracy(got, expected)
