"""Wright omega, Lambert W0 and log-sum-exp against 50-digit mpmath."""

import mpmath as mp
import numpy as np
import pytest
from _mp_reference import omega as mp_omega
from hypothesis import given
from hypothesis import strategies as st

from pmdtheory import lambertw0, logsumexp, wright_omega

OMEGA_RTOL = 2e-15  # ~4 ulp-ish, the bar on [-700, 1e6]
W0_RTOL = 1e-14  # away from the branch point
W0_BRANCH_ATOL = 1e-7  # W0 is sqrt-singular at -1/e: 1 ulp in z is ~1e-8 in W
LSE_RTOL = 1e-14


def rel_err(value, ref):
    return float(abs(mp.mpf(float(value)) - ref) / abs(ref))


def test_wright_omega_matches_mpmath_on_the_whole_range():
    ys = np.concatenate(
        [
            np.linspace(-700, -1, 300),
            np.linspace(-8, 8, 401),  # crosses every region switch (-6, -2, 1)
            np.geomspace(1, 1e6, 300),
            [-6 - 1e-12, -6 + 1e-12, -2 - 1e-12, -2 + 1e-12, 1 - 1e-12, 1 + 1e-12],
        ]
    )
    worst = max(rel_err(w, mp_omega(y)) for w, y in zip(wright_omega(ys), ys))
    assert worst < OMEGA_RTOL


def test_wright_omega_special_values_and_shape():
    assert wright_omega(0.0) == pytest.approx(0.5671432904097838, rel=1e-16)
    assert wright_omega(1.0) == 1.0
    assert wright_omega(np.inf) == np.inf
    assert wright_omega(-np.inf) == 0.0
    assert wright_omega(np.zeros((2, 3))).shape == (2, 3)
    assert isinstance(wright_omega(2.0), float)


@given(st.floats(-700, 1e6))
def test_wright_omega_defining_equation(y):
    w = wright_omega(y)
    assert w > 0
    # w + log w = y, up to the rounding of y itself
    assert abs(w + np.log(w) - y) <= 8e-16 * max(1.0, abs(y), w)


def test_wright_omega_rejects_nan():
    with pytest.raises(ValueError, match="^y:"):
        wright_omega([0.0, np.nan])


def test_lambertw0_against_mpmath():
    zs = np.concatenate(
        [
            -np.exp(-1) + np.geomspace(1e-3, 0.3678, 50),
            -np.geomspace(1e-300, 0.36, 60),
            np.geomspace(1e-300, 1e300, 120),
            [0.0, 1.0, np.e],
        ]
    )
    ws = lambertw0(zs)
    for w, z in zip(ws, zs):
        ref = mp.lambertw(mp.mpf(float(z)))
        if ref == 0:
            assert w == 0
        else:
            assert rel_err(w, ref) < W0_RTOL, z


def test_lambertw0_branch_point_and_domain():
    assert lambertw0(-np.exp(-1)) == pytest.approx(-1.0, abs=W0_BRANCH_ATOL)
    for z in -np.exp(-1) + np.array([1e-14, 1e-10, 1e-6]):
        assert abs(lambertw0(z) - float(mp.lambertw(mp.mpf(z)))) < W0_BRANCH_ATOL
    assert lambertw0(np.inf) == np.inf
    with pytest.raises(ValueError, match="^z:"):
        lambertw0(-0.5)
    with pytest.raises(ValueError, match="^z:"):
        lambertw0(np.nan)


def test_logsumexp():
    a = np.array([[1000.0, 1000.0, -np.inf], [-np.inf, -np.inf, -np.inf]])
    out = logsumexp(a)
    assert out[0] == pytest.approx(1000 + np.log(2), rel=LSE_RTOL)
    assert out[1] == -np.inf
    assert logsumexp(np.log([0.2, 0.3]), keepdims=True).shape == (1,)
    assert logsumexp([[0.0], [0.0]], axis=0) == pytest.approx([np.log(2)], rel=LSE_RTOL)
    with pytest.raises(ValueError, match="^a:"):
        logsumexp([np.nan, 1.0])
    with pytest.raises(ValueError, match="^a:"):
        logsumexp([np.inf, 1.0])
