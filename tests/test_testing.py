"""Tests of pmdtheory.testing: the strategies draw what they promise, and the
checkers accept correct PMD-mean solutions and reject wrong ones."""

import numpy as np
import pytest
from hypothesis import given, settings
from scipy.optimize import brentq
from scipy.special import lambertw

from pmdtheory import exact_update, implicit_beta, kl_chi2_update, mean_update
from pmdtheory.testing import (
    assert_kkt,
    check_kl_chi2_equivalence,
    kkt_residual,
    pmd_problems,
    policies,
    rewards,
    taus,
)

SUM_TOL = 1e-12  # policies sum to 1
KKT_TOL = 1e-9  # KKT residual of a float64 PMD-mean solution
LAM_RTOL = 1e-6  # fitted multiplier vs the solver's, moderate tau
REF_TOL = 1e-9  # numpy reference vs pmdtheory
PERTURB = 1.05  # multiplier perturbation that must be caught
EXAMPLES = 40
REJECT_EXAMPLES = 15  # a wrong update is found within a few examples


def reference_mean_update(pi_t, r, tau):
    """Plain numpy/scipy PMD-mean (THEORY §4): x = W0(lam e^b)/lam, lam by Brent on log lam.

    Independent of pmdtheory's kernels; valid for moderate tau (exp(b) must not overflow).
    """
    b = (r - pi_t @ r) / tau
    if np.ptp(r) == 0:
        return pi_t.copy(), 0.0

    def x_of(lam):
        return lambertw(lam * np.exp(b)).real / lam

    def resid(e):
        return np.log(pi_t @ x_of(np.exp(e)))

    if resid(-200.0) <= 0:
        # rewards constant to rounding: lam is below float resolution; use the
        # large-tau asymptote lam = Var/(2 tau^2) (THEORY §4) and x = e^b.
        pi_new = pi_t * np.exp(b)
        return pi_new / pi_new.sum(), 0.5 * (pi_t @ b**2)
    lam = np.exp(brentq(resid, -200.0, 60.0, xtol=1e-15, rtol=1e-15))
    pi_new = pi_t * x_of(lam)
    return pi_new / pi_new.sum(), lam


def perturbed_multiplier(pi_t, r, tau):
    """A wrong 'PMD-mean': the multiplier scaled by PERTURB, then renormalised."""
    _, lam = reference_mean_update(pi_t, r, tau)
    b = (r - pi_t @ r) / tau
    if lam == 0:
        return pi_t.copy()
    lam = PERTURB * lam
    pi_new = pi_t * lambertw(lam * np.exp(b)).real / max(lam, 1e-300)
    return pi_new / pi_new.sum()


# ---------------------------------------------------------------- strategies


@settings(max_examples=EXAMPLES, deadline=None)
@given(pi=policies((2, 9), min_prob=1e-3))
def test_policies_are_distributions(pi):
    assert pi.dtype == np.float64 and 2 <= pi.size <= 9
    assert abs(pi.sum() - 1) < SUM_TOL
    assert pi.min() >= 1e-3 * (1 - 1e-9)


@settings(max_examples=EXAMPLES, deadline=None)
@given(logpi=policies(5, min_prob=0.0, log=True, allow_zero=True))
def test_log_policies_with_zeros(logpi):
    assert logpi.shape == (5,)
    assert np.all(logpi < np.inf) and np.any(np.isfinite(logpi))
    assert abs(np.exp(logpi).sum() - 1) < SUM_TOL


def test_allow_zero_draws_zeros():
    seen = []

    @settings(max_examples=60, deadline=None, database=None)
    @given(pi=policies(6, allow_zero=True))
    def inner(pi):
        seen.append(int(np.sum(pi == 0)))

    inner()
    assert max(seen) > 0 and min(seen) == 0  # zeros do occur, and not always


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    r=rewards((1, 6), low=-2.0, high=3.0),
    rb=rewards(4, kind="binary"),
    rd=rewards(3, low=0.0, high=1.0, kind="discrete"),
    tau=taus(1e-3, 1e3),
)
def test_rewards_and_taus_ranges(r, rb, rd, tau):
    assert 1 <= r.size <= 6 and np.all((r >= -2) & (r <= 3))
    assert rb.shape == (4,) and set(rb) <= {0.0, 1.0}
    assert set(rd) <= {0.0, 0.5, 1.0}
    assert 1e-3 <= tau <= 1e3


@settings(max_examples=EXAMPLES, deadline=None)
@given(problem=pmd_problems((2, 6), kind="binary", min_tau=0.05, max_tau=5.0))
def test_pmd_problems_consistent(problem):
    pi_t, r, tau = problem
    assert pi_t.shape == r.shape and 0.05 <= tau <= 5.0
    mean_update(pi_t, r, tau)  # a valid input for the core


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: policies(4, min_prob=0.3), "min_prob"),
        (lambda: policies((3, 1)), "n_actions"),
        (lambda: policies(0), "n_actions"),
        (lambda: rewards(3, kind="gaussian"), "kind"),
        (lambda: rewards(3, low=1.0, high=1.0), "high"),
        (lambda: taus(-1.0, 1.0), "min_tau"),
        (lambda: taus(1.0, 0.5), "max_tau"),
        (lambda: check_kl_chi2_equivalence(mean_update, max_examples=0), "max_examples"),
        (lambda: assert_kkt([0.5, 0.5], [0, 1], 1.0, [0.5, 0.5], atol=0), "atol"),
        (lambda: kkt_residual([0.5, 0.5], [0, 1], 1.0, [1.0]), "pi_new"),
        (lambda: kkt_residual([0.5, 0.5], [0, 1], -1.0, [0.5, 0.5]), "tau"),
    ],
)
def test_bad_arguments_name_themselves(make, name):
    with pytest.raises(ValueError, match=name):
        make()


# ---------------------------------------------------------------- KKT


@settings(max_examples=EXAMPLES, deadline=None)
@given(problem=pmd_problems((2, 8), min_prob=1e-4, min_tau=0.05, max_tau=20.0))
def test_kkt_accepts_mean_update_and_fits_lambda(problem):
    pi_t, r, tau = problem
    pi_new, lam = mean_update(pi_t, r, tau, return_lambda=True)
    rep = assert_kkt(pi_t, r, tau, pi_new, atol=KKT_TOL)
    assert rep.lam == pytest.approx(lam, rel=LAM_RTOL, abs=1e-12)
    assert rep.beta == pytest.approx(implicit_beta(pi_t, r, tau), rel=LAM_RTOL, abs=1e-12)


def test_kkt_rejects_exact_and_perturbed_and_unnormalised():
    pi_t, r, tau = np.array([0.2, 0.3, 0.5]), np.array([1.0, 0.0, 0.5]), 0.1
    for wrong in (exact_update(pi_t, r, tau), perturbed_multiplier(pi_t, r, tau)):
        with pytest.raises(AssertionError, match="not a PMD-mean solution"):
            assert_kkt(pi_t, r, tau, wrong)
    rep = kkt_residual(pi_t, r, tau, 1.01 * mean_update(pi_t, r, tau))
    assert rep.normalisation == pytest.approx(0.01)
    with pytest.raises(AssertionError):
        assert_kkt(pi_t, r, tau, 1.01 * mean_update(pi_t, r, tau))


def test_kkt_batch_axis_log_and_zero_support():
    rng = np.random.default_rng(0)
    pi_t = rng.dirichlet(np.ones(5), size=(3, 2))
    pi_t[0, 1, 2] = 0.0
    pi_t /= pi_t.sum(-1, keepdims=True)
    r = rng.uniform(size=(3, 2, 5))
    tau = np.array([[0.1, 1.0], [0.3, 3.0], [0.05, 0.5]])
    pi_new = mean_update(pi_t, r, tau)
    rep = assert_kkt(
        np.moveaxis(pi_t, -1, 0),
        np.moveaxis(r, -1, 0),
        tau,
        np.moveaxis(pi_new, -1, 0),
        axis=0,
        atol=KKT_TOL,
    )
    assert rep.lam.shape == (3, 2)
    with np.errstate(divide="ignore"):
        assert_kkt(np.log(pi_t), r, tau, np.log(pi_new), log=True, atol=KKT_TOL)
    moved = pi_new.copy()
    moved[0, 1, 2], moved[0, 1, 0] = 1e-3, moved[0, 1, 0] - 1e-3  # mass outside the support
    assert not kkt_residual(pi_t, r, tau, moved).support


def test_kkt_tiny_tau_underflow():
    # at tau = 1e-3 the last action's new probability underflows to 0 in float64
    pi_t, r, tau = np.full(4, 0.25), np.array([0.0, 0.0, 0.0, -1.0]), 1e-3
    pi_new = mean_update(pi_t, r, tau)
    assert pi_new[-1] == 0.0
    assert_kkt(pi_t, r, tau, pi_new, atol=KKT_TOL)
    log_new = mean_update(np.log(pi_t), r, tau, log=True)
    assert np.isfinite(log_new[-1])
    assert_kkt(np.log(pi_t), r, tau, log_new, log=True, atol=KKT_TOL)
    log_new[-1] += 1.0  # in log space nothing is left out
    with pytest.raises(AssertionError):
        assert_kkt(np.log(pi_t), r, tau, log_new - np.log(np.exp(log_new).sum()), log=True)


def test_kkt_constant_rewards_zero_multiplier():
    pi_t = np.array([0.1, 0.6, 0.3])
    rep = assert_kkt(pi_t, np.full(3, 0.7), 0.2, pi_t)
    assert rep.lam == 0.0 and rep.residual == 0.0


# ---------------------------------------------------------------- equivalence checker


def test_reference_matches_pmdtheory():
    rng = np.random.default_rng(1)
    for _ in range(20):
        pi_t, r, tau = rng.dirichlet(np.ones(6)), rng.uniform(-1, 1, 6), 10 ** rng.uniform(-1, 1)
        pi_ref, lam_ref = reference_mean_update(pi_t, r, tau)
        pi_new, lam = mean_update(pi_t, r, tau, return_lambda=True)
        np.testing.assert_allclose(pi_new, pi_ref, atol=REF_TOL)
        assert lam == pytest.approx(lam_ref, rel=1e-7)


def test_checker_accepts_pmdtheory_and_an_independent_implementation():
    check_kl_chi2_equivalence(mean_update, max_examples=EXAMPLES)
    check_kl_chi2_equivalence(
        reference_mean_update,
        returns_lambda=True,
        min_tau=0.05,
        max_tau=20.0,
        max_examples=EXAMPLES,
    )


def test_checker_in_log_space():
    check_kl_chi2_equivalence(
        lambda lp, r, tau: mean_update(lp, r, tau, log=True),
        log=True,
        min_tau=1e-3,
        max_tau=1e3,
        max_examples=EXAMPLES,
    )
    with pytest.raises(AssertionError):
        check_kl_chi2_equivalence(
            lambda lp, r, tau: exact_update(lp, r, tau, log=True), log=True, shrink=False
        )


@pytest.mark.parametrize(
    "wrong",
    [
        perturbed_multiplier,
        lambda pi_t, r, tau: kl_chi2_update(pi_t, r, tau, 2 * implicit_beta(pi_t, r, tau)),
        exact_update,
        lambda pi_t, r, tau: mean_update(pi_t, r, 1.1 * tau),
    ],
    ids=["perturbed_lambda", "beta_2_tau_lam", "exact_pmd", "wrong_tau"],
)
def test_checker_rejects_wrong_updates(wrong):
    with pytest.raises(AssertionError):
        check_kl_chi2_equivalence(wrong, min_tau=0.05, max_tau=20.0, max_examples=REJECT_EXAMPLES)


def test_checker_rejects_wrong_lambda():
    def wrong_lam(pi_t, r, tau):
        pi_new, lam = mean_update(pi_t, r, tau, return_lambda=True)
        return pi_new, 2 * lam

    check_kl_chi2_equivalence(
        lambda *a: mean_update(*a, return_lambda=True), returns_lambda=True, max_examples=10
    )
    with pytest.raises(AssertionError, match="beta_t"):
        check_kl_chi2_equivalence(wrong_lam, returns_lambda=True, max_examples=REJECT_EXAMPLES)
    with pytest.raises(AssertionError):  # also without shrinking
        check_kl_chi2_equivalence(wrong_lam, returns_lambda=True, shrink=False)


@pytest.mark.slow
def test_checker_with_a_torch_implementation():
    torch = pytest.importorskip("torch")

    def torch_mean_update(pi_t, r, tau):
        # Newton on ell = log lam in float64 torch, omega(y) by Newton on w + log w = y
        pi, rr = torch.as_tensor(pi_t), torch.as_tensor(r)
        b = (rr - (pi * rr).sum()) / tau
        if float(b.abs().max()) == 0:
            return pi.numpy()

        def omega(y):
            w = torch.where(y > 1, y - torch.log(y.clamp(min=1)), torch.exp(y))
            for _ in range(60):
                w = w - (w + torch.log(w) - y) / (1 + 1 / w)
            return w

        ell = torch.log((pi * b * b).sum() / 2).clamp(min=-30)
        for _ in range(100):
            w = omega(ell + b)
            logq = torch.log(pi) + b - w
            g = torch.logsumexp(logq, 0)
            # stop once the normaliser holds to rounding: past that, g is rounding noise and
            # a Newton step g / (tiny slope) throws ell anywhere (rewards 3e-94 apart did)
            if abs(float(g)) <= 4e-16:
                break
            q = torch.exp(logq - g)
            ell = ell + g / (q * w / (1 + w)).sum()
        new = torch.exp(torch.log(pi) + b - omega(ell + b))
        return (new / new.sum()).numpy()

    check_kl_chi2_equivalence(torch_mean_update, min_tau=0.05, max_tau=20.0, max_examples=20)
