"""KL and chi-square against direct formulas and mpmath."""

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pmdtheory import chi2, kl

DIV_RTOL = 1e-12
pytestmark = pytest.mark.filterwarnings("error")


def test_hand_computed():
    p, q = np.array([0.25, 0.75]), np.array([0.5, 0.5])
    assert kl(p, q) == pytest.approx(0.25 * np.log(0.5) + 0.75 * np.log(1.5), rel=DIV_RTOL)
    assert chi2(p, q) == pytest.approx((0.25**2 + 0.25**2) / 0.5, rel=DIV_RTOL)
    assert kl(p, p) == 0 and chi2(p, p) == 0


def test_zeros_and_infinities():
    assert kl([0.0, 1.0], [0.5, 0.5]) == pytest.approx(np.log(2), rel=DIV_RTOL)
    assert kl([0.5, 0.5], [0.0, 1.0]) == np.inf
    assert chi2([0.5, 0.5], [0.0, 1.0]) == np.inf
    assert chi2([0.0, 1.0], [0.5, 0.5]) == pytest.approx(1.0, rel=DIV_RTOL)
    # log inputs with a huge ratio: no overflow, p^2/q dominates
    logp, logq = np.log([0.5, 0.5]), np.array([np.log1p(-1e-300), np.log(1e-300)])
    assert chi2(logp, logq, log=True) == pytest.approx(0.25 / 1e-300, rel=1e-12)


@settings(max_examples=50, deadline=None)
@given(
    hnp.arrays(np.float64, 6, elements=st.floats(1e-6, 1)),
    hnp.arrays(np.float64, 6, elements=st.floats(1e-6, 1)),
)
def test_against_mpmath(a, b):
    p, q = a / a.sum(), b / b.sum()
    mp.mp.dps = 50
    P = [mp.mpf(float(x)) / sum(mp.mpf(float(y)) for y in p) for x in p]
    Q = [mp.mpf(float(x)) / sum(mp.mpf(float(y)) for y in q) for x in q]
    kl_ref = sum(x * mp.log(x / y) for x, y in zip(P, Q))
    chi_ref = sum((x - y) ** 2 / y for x, y in zip(P, Q))
    assert abs(kl(p, q) - float(kl_ref)) <= 1e-14 + DIV_RTOL * float(kl_ref)
    assert abs(chi2(p, q) - float(chi_ref)) <= 1e-14 + DIV_RTOL * float(chi_ref)
    assert kl(np.log(p), np.log(q), log=True) == pytest.approx(kl(p, q), rel=1e-10, abs=1e-14)
    assert chi2(p, q) >= 0 and kl(p, q) >= 0


def test_batch_and_axis():
    rng = np.random.default_rng(0)
    p, q = rng.dirichlet(np.ones(4), 3), rng.dirichlet(np.ones(4), 3)
    out = kl(p, q)
    assert out.shape == (3,)
    np.testing.assert_allclose(kl(p.T, q.T, axis=0), out, rtol=1e-15)
    np.testing.assert_allclose(chi2(p, q), [chi2(a, b) for a, b in zip(p, q)], rtol=1e-15)


def test_bad_input():
    with pytest.raises(ValueError, match="^p:"):
        kl([0.5, 0.6], [0.5, 0.5])
    with pytest.raises(ValueError, match="^q:"):
        chi2([0.5, 0.5], [np.nan, 1.0])
    with pytest.raises(ValueError, match="^q:"):
        kl([0.5, 0.5], [0.2, 0.3, 0.5])


def test_broadcast_one_reference_against_a_batch():
    rng = np.random.default_rng(3)
    p, q = rng.dirichlet(np.ones(4), 5), rng.dirichlet(np.ones(4))
    np.testing.assert_allclose(kl(p, q), [kl(row, q) for row in p], rtol=1e-15)
    np.testing.assert_allclose(chi2(q, p), [chi2(q, row) for row in p], rtol=1e-15)


def test_common_zeros_contribute_nothing():
    # an action outside both supports adds 0, not NaN (0 * log 0/0, 0^2/0)
    p, q = np.array([0.0, 0.25, 0.75]), np.array([0.0, 0.5, 0.5])
    assert chi2(p, q) == pytest.approx(chi2(p[1:], q[1:]), rel=DIV_RTOL)
    assert kl(p, q) == pytest.approx(kl(p[1:], q[1:]), rel=DIV_RTOL)
    assert chi2(q, q) == 0 and kl(q, q) == 0


def test_options_are_keyword_only():
    p = np.array([0.25, 0.75])
    with pytest.raises(TypeError):
        kl(p, p, -1)
    with pytest.raises(TypeError):
        chi2(p, p, -1)


def test_log_inputs_below_float64_against_a_zero_are_infinite():
    # found by make fuzz: p = e^-746 underflows in linear space but is > 0 in logs,
    # so KL(p || q) with q = 0 there is +inf, not 0 * inf = NaN
    logp, logq = np.array([0.0, -746.0]), np.array([0.0, -np.inf])
    assert kl(logp, logq, log=True) == np.inf
    assert chi2(logp, logq, log=True) == np.inf
