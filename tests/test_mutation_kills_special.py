"""Edges of pmdtheory.special that survivors of `make mutation` showed untested.

Each test states the behaviour the docstrings promise; each was checked to fail on the mutant
named in its comment (tools/mutation.py, seed 0, all mutants of special.py).
"""

import mpmath as mp
import numpy as np
import pytest
from _mp_reference import omega as mp_omega
from test_special import OMEGA_RTOL  # correct code is correctly rounded above 1e12

from pmdtheory import lambertw0, logsumexp, wright_omega

EPS = np.finfo(float).eps
W0_BRANCH_ATOL = 1e-7  # as in test_special.py: W0 is sqrt-singular at -1/e
BRANCH_VALUE_ATOL = 1e-15  # W0(-1/e) = -1: the series at p = 0 gives it to rounding
W0_BRANCH_CONDITION = 2.0  # |W - W*| <= 2 eps / p near -1/e, p = sqrt(2(ez + 1))
W0_SERIES_CONDITION = 1.0  # the same where the series is returned as is (p < 1e-3)


def test_lambertw0_accepts_the_last_value_of_its_branch_slack():
    # mutant: `arr <= branch * (1 + 8 eps)` refuses the documented slack's end point
    # and `7 eps` / `9 eps`: the slack is 8 eps relative, no more, no less
    z = -np.exp(-1.0) * (1 + 8 * EPS)
    assert lambertw0(z) == pytest.approx(-1.0, abs=W0_BRANCH_ATOL)
    with pytest.raises(ValueError, match="z: must be >= -1/e"):
        lambertw0(np.nextafter(z, -np.inf))


def test_logsumexp_of_one_entry_is_that_entry():
    # mutant: `arr.shape[axis] == 1` treats a length-one axis as empty
    assert logsumexp([3.5]) == 3.5
    assert logsumexp([[1.0], [-2.0]], axis=1).tolist() == [1.0, -2.0]


def test_logsumexp_empty_axis_error_names_a():
    # mutant: `arr.shape[axis] == -1` lets numpy fail later with its own message
    with pytest.raises(ValueError, match="a: the axis -1 is empty"):
        logsumexp(np.empty((0,)))
    with pytest.raises(ValueError, match="a: the axis 1 is empty"):
        logsumexp(np.empty((2, 0)), axis=1)


def test_logsumexp_returns_a_python_float_for_a_0d_result():
    # mutant: `np.ndim(out) == -1` returns a 0-d ndarray
    out = logsumexp([0.0, 0.0])
    assert type(out) is float
    assert out == pytest.approx(np.log(2.0), rel=1e-15)


def test_logsumexp_drops_the_axis_by_default():
    # mutant: `keepdims=True` as default
    assert logsumexp(np.zeros((2, 3))).shape == (2,)
    assert logsumexp(np.zeros((2, 3)), keepdims=True).shape == (2, 1)


def test_logsumexp_axis_equal_to_ndim_is_out_of_range():
    # mutant: `axis <= arr.ndim` lets axis = ndim through to an IndexError
    with pytest.raises(ValueError, match="axis: 1 is out of range"):
        logsumexp([1.0, 2.0], axis=1)
    with pytest.raises(ValueError, match="axis: -2 is out of range"):
        logsumexp([1.0, 2.0], axis=-2)


@pytest.mark.parametrize("axis", [1.5, "0", True, None])
def test_logsumexp_axis_must_be_an_integer(axis):
    # mutant: `not isinstance(...) and isinstance(axis, bool)` lets non-integers through
    with pytest.raises(ValueError, match="axis: must be an integer"):
        logsumexp([1.0, 2.0], axis=axis)


def test_logsumexp_of_a_0d_input_names_a():
    # mutant: `arr.ndim == -1` lets a 0-d input fail later on its axis instead
    with pytest.raises(ValueError, match="a: must have at least one dimension"):
        logsumexp(3.0)


def test_logsumexp_signature_axis_keyword_only_a_by_name():
    # mutant: `(a, /, axis=..., keepdims=...)` makes axis positional and a positional-only
    assert logsumexp(a=[0.0, -np.inf]) == 0.0
    with pytest.raises(TypeError):
        logsumexp([0.0], 0)


def test_lambertw0_at_the_branch_point_is_minus_one_to_rounding():
    # _omega.py mutant: `p2 = 2.0 + (e z + 1)` skips the branch-point series, and Halley's
    # iteration, slow at the double root, stops 2e-9 away from -1 (the doctest's -1.0)
    assert lambertw0(-np.exp(-1.0)) == pytest.approx(-1.0, abs=BRANCH_VALUE_ATOL)


def test_lambertw0_within_1e_3_of_the_branch_point_on_a_dense_grid():
    # _omega.py mutant (seed 5): `-1/3` -> `+1/3` in the branch-point series, which is
    # returned without Halley's polish for p = sqrt(2(ez + 1)) < 1e-3: its error 4e/3 dz
    # passes the sparse points of test_special.py (dz = 1e-14, 1e-10, 1e-6) but is 1e-7 to
    # 7e-7 for dz in (3e-8, 1.8e-7); correct code stays within 3e-9 over the whole grid.
    dz = np.geomspace(1e-16, 1e-3, 200)
    z = -np.exp(-1.0) + dz
    w = lambertw0(z)
    with mp.workdps(40):
        err = [
            abs(float(mp.mpf(float(a)) - mp.lambertw(mp.mpf(float(b))).real)) for a, b in zip(w, z)
        ]
    assert max(err) < W0_BRANCH_ATOL, dz[int(np.argmax(err))]


def _w0_error_in_eps_over_p(dz):
    """|W0(z) - W0*(z)| in units of eps/p at z = -1/e + dz, p = sqrt(2(ez + 1)): the float
    z's own rounding moves W by about eps/p there. W0* is mpmath's at 40 digits."""
    z = -np.exp(-1.0) + dz
    p = np.sqrt(2.0 * (np.e * z + 1.0))
    w = lambertw0(z)
    with mp.workdps(40):
        exact = np.array([float(mp.lambertw(mp.mpf(float(b))).real) for b in z])
    return np.abs(w - exact) * p / EPS


def test_lambertw0_near_the_branch_point_is_within_its_conditioning():
    # _omega.py mutant (seed 7): `p * (-43/540)` -> `p + (-43/540)` in the branch-point series
    # adds -43/540 p^3 to W, 7.6e-11 at p = sqrt(2(ez + 1)) = 1e-3, below W0_BRANCH_ATOL. The
    # float z's own rounding moves W by ~eps/p there; correct code stays within 0.6 eps/p
    # (measured, dz in [1e-16, 0.1]) and the mutant reaches 339 eps/p.
    dz = np.geomspace(1e-16, 1e-1, 300)
    ratio = _w0_error_in_eps_over_p(dz)
    assert ratio.max() <= W0_BRANCH_CONDITION, dz[int(np.argmax(ratio))]


def test_lambertw0_series_is_within_one_eps_over_p_just_below_its_cutoff():
    # _omega.py mutant (session 14): `11/72 + p (-43/540)` -> `11/72 - p (-43/540)` flips the
    # p^4 term of the branch-point series, an error of 0.16 p^4: at most 0.72 eps/p, so only
    # just below the cutoff p = 1e-3, where the series is returned without Halley's polish,
    # does it show. On dz in [1e-7, 1.839e-7] (p in [7.4e-4, 1e-3)) correct code stays within
    # 0.49 eps/p and the mutant reaches 1.19 (measured, 3000 points).
    dz = np.linspace(1.0e-7, 1.839e-7, 400)
    assert np.sqrt(2.0 * (np.e * (-np.exp(-1.0) + dz) + 1.0)).max() < 1e-3  # series region
    ratio = _w0_error_in_eps_over_p(dz)
    assert ratio.max() <= W0_SERIES_CONDITION, dz[int(np.argmax(ratio))]


def test_wright_omega_in_its_asymptotic_regime_matches_mpmath():
    # _omega.py mutant (session 15): `w = y - log(w)` -> `w = y + log(w)` in the passes
    # above y = 1e12 returns y + log y, off by 2 log y: 5.5e-11 relative (450,000 ulps) just
    # above the switch, below rounding past ~1e17, and the mpmath tests stopped at 1e6.
    # Correct code is within 0 ulps of mpmath on 5,000 points of [1e12, 1e20] (measured).
    ys = np.concatenate([np.geomspace(1e12, 1e20, 60), [np.nextafter(1e12, 2e12), 1.7e308]])
    w = wright_omega(ys)
    err = [abs(mp.mpf(float(a)) / mp_omega(float(y)) - 1) for a, y in zip(w, ys)]
    assert max(err) < OMEGA_RTOL, ys[int(np.argmax(err))]


def test_log_sum_exp_kernel_of_zeros_and_of_an_infinity():
    # _omega.py mutant (session 14): `m == -inf or m == inf` -> `m == inf or m == inf` in
    # `_lse_row`: a row of zero probabilities (every log -inf) gave exp(-inf - -inf) = NaN
    # instead of log 0 = -inf. No public caller passes such a row (policies sum to 1), but
    # the kernel's contract says -inf entries contribute nothing.
    from pmdtheory._omega import _lse_row

    inf = np.inf
    assert _lse_row(np.array([-inf, -inf])) == -inf
    assert _lse_row(np.array([-inf, inf, 0.0])) == inf
    assert _lse_row(np.array([-inf, 0.0, -inf])) == 0.0
    assert _lse_row(np.array([np.log(0.25)] * 4)) == pytest.approx(0.0, abs=1e-16)
