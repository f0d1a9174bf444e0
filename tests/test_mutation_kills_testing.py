"""pmdtheory.testing's strategies: survivors of `make mutation`.

Each test was checked to fail on the mutant named in its comment (tools/mutation.py, seed 0).
"""

import inspect
import re

import numpy as np
import pytest
from _signatures import assert_keyword_only
from hypothesis import find, given, settings

import pmdtheory.testing
from pmdtheory import exact_update, mean_update
from pmdtheory.testing import (
    KKTReport,
    assert_kkt,
    check_kl_chi2_equivalence,
    kkt_residual,
    pmd_problems,
    policies,
    rewards,
    taus,
)

#: assert_kkt's default atol, the bound its rules are tested at
KKT_ATOL = 1e-8


def test_taus_spread_over_the_whole_log_range():
    # mutant: `log_lo + u + (log_hi - log_lo)` (every draw clipped to max_tau)
    logs = np.log10(_draws(taus(1e-3, 1e3)))
    assert logs.min() >= -3 and logs.max() <= 3
    assert (logs < -1).any() and (logs > 1).any() and (np.abs(logs) < 1).any()


def test_checker_rules_on_the_kkt_residual_on_its_own():
    # mutant: `rep.support or rep.residual <= kkt_atol` (a kept support excuses any residual).
    # A PMD-mean step off by 1e-3 relative passes a loose rtol = 1e-2 comparison with
    # kl_chi2_update but not the KKT conditions at the default kkt_atol = 1e-7.
    def perturbed(pi_t, r, tau):
        p = mean_update(pi_t, r, tau)
        p = p * (1 + 1e-3 * np.arange(p.size) / p.size)
        return p / p.sum()

    with pytest.raises(AssertionError, match="KKT residual too large"):
        check_kl_chi2_equivalence(perturbed, rtol=1e-2, max_examples=10, shrink=False)


def test_binary_rewards_draw_both_values_and_default_taus_stay_in_range():
    # held-out (seed 1) mutants: binary `sampled_from([1.0, 1.0])`; taus' default max 101
    seen_r, seen_tau = [], []

    @settings(max_examples=100, derandomize=True, database=None)
    @given(r=rewards((2, 5), kind="binary"), tau=taus())
    def collect(r, tau):
        seen_r.extend(np.asarray(r).tolist())
        seen_tau.append(tau)

    collect()
    assert set(seen_r) == {0.0, 1.0}
    assert 1e-2 <= min(seen_tau) and max(seen_tau) <= 1e2


def test_policies_refuse_a_negative_min_prob():
    # held-out (seed 2) mutant: `-1 <= min_prob` lets a negative floor through
    with pytest.raises(ValueError, match="min_prob"):
        policies(3, min_prob=-0.1)


def test_two_action_policies_can_have_a_zero():
    # held-out (seed 2) mutant: `n > 2` never puts a zero into a two-action policy
    pi = find(policies(2, allow_zero=True), lambda p: bool((p == 0).any()))
    assert sorted(pi.tolist()) == [0.0, 1.0]


def test_pmd_problems_defaults_are_those_of_the_strategies_it_combines():
    # held-out (seed 2) mutant: pmd_problems' `low` default -1.0 -> -2.0; its docstring says
    # "Parameters as in policies, rewards and taus"
    own = inspect.signature(pmd_problems).parameters
    for part in (policies, rewards, taus):
        for name, param in inspect.signature(part).parameters.items():
            if name in own and param.default is not inspect.Parameter.empty:
                assert own[name].default == param.default, (part.__name__, name)


def test_an_action_off_the_support_leaves_the_kkt_residual_as_it_is():
    # held-out (seed 2) mutant: the residual's scale 1 + max|b| over the support takes 1
    # for actions off it, so adding one halves the residual of a row with small |b|
    pi_t, r, tau = np.array([0.5, 0.5]), np.array([0.1, 0.0]), 1.0
    pi_new = mean_update(pi_t, r, tau) + np.array([1e-3, -1e-3])  # off the KKT point
    two = kkt_residual(pi_t, r, tau, pi_new)
    three = kkt_residual(np.append(pi_t, 0.0), np.append(r, 5.0), tau, np.append(pi_new, 0.0))
    assert two.residual > 1e-4
    assert three.residual == pytest.approx(two.residual, rel=1e-12)


def test_the_checker_draws_100_problems_by_default():
    # held-out (seed 2) mutant: the default max_examples 100 -> 99 (the docstring says 100)
    calls = []

    def counted(pi_t, r, tau):
        calls.append(tau)
        return mean_update(pi_t, r, tau)

    check_kl_chi2_equivalence(counted)
    assert len(calls) == 100


def _summing_to(total):
    """A PMD-mean step whose float64 sum is exactly ``total`` (its largest entry adjusted)."""

    def update(pi_t, r, tau):
        p = mean_update(pi_t, r, tau)
        i = int(np.argmax(p))
        p[i] += total - p.sum()
        while p.sum() != total:
            p[i] = np.nextafter(p[i], np.inf if p.sum() < total else -np.inf)
        return p

    return update


def test_the_sum_rule_holds_at_its_bound_and_fails_past_it():
    # held-out (seed 5) mutant: `abs(sum - 1) <= max(atol, 1e-12)` -> `<`: a policy off by
    # exactly atol is documented to pass. atol = 2**-20 is a float the sums reach exactly; a
    # loose kkt_atol keeps the KKT rule (tested on its own above) out of the way.
    atol = 2.0**-20
    kw = dict(n_actions=2, atol=atol, kkt_atol=1e-3, max_examples=10, shrink=False)
    check_kl_chi2_equivalence(_summing_to(1 + atol), **kw)
    with pytest.raises(AssertionError, match="sums to"):
        check_kl_chi2_equivalence(_summing_to(np.nextafter(1 + atol, 2.0)), **kw)


@pytest.mark.parametrize("name", ["rtol", "atol", "kkt_atol"])
def test_negative_or_nan_tolerances_are_refused_by_name(name):
    # (coverage, session 5: no test of this module reached the refusal)
    for bad in (-1e-12, float("nan")):
        with pytest.raises(ValueError, match=f"^{name}: must be >= 0, got "):
            check_kl_chi2_equivalence(mean_update, **{name: bad})


def test_several_distinct_failures_are_listed_in_one_assertion_error():
    # (--unreached, session 5: hypothesis's ExceptionGroup was reached by no test)
    def two_bugs(pi_t, r, tau):
        p = mean_update(pi_t, r, tau)
        return p[:1] if p.size == 2 else np.full(p.size, np.nan)  # wrong shape / NaN

    with pytest.raises(AssertionError, match=r"^2 distinct failures:\n- AssertionError: ") as err:
        check_kl_chi2_equivalence(two_bugs, max_examples=50)
    assert "shape (1,) != (2,)" in str(err.value) and "invalid policy [nan" in str(err.value)


def _plain_kkt_residual(pi_t, r, tau, pi_new):
    """The documented residual written out for a full-support row: b = (r - rbar)/tau,
    s = log(pi_new/pi_t) - b, lam fitted by least squares of s ~ -lam x, and
    max|s + lam x| / (1 + max|b|)."""
    b = (r - pi_t @ r) / tau
    x = pi_new / pi_t
    s = np.log(x) - b
    lam = -(s @ x) / (x @ x)
    return np.max(np.abs(s + lam * x)) / (1 + np.max(np.abs(b)))


def test_the_kkt_residual_is_divided_by_one_plus_the_largest_b():
    # held-out (seed 7) mutant: `/ scale` -> `* scale`; with |b| ~ 20 (the docstring's
    # example) the two differ 400-fold. Checked against the definition written out above.
    pi_t, r, tau = np.array([0.01, 0.99]), np.array([1.0, 0.0]), 0.05
    for pi_new in (exact_update(pi_t, r, tau), np.array([0.3, 0.7])):
        got = kkt_residual(pi_t, r, tau, pi_new).residual
        assert got == pytest.approx(_plain_kkt_residual(pi_t, r, tau, pi_new), rel=1e-12)


def test_the_kkt_residual_refuses_a_zero_tau_by_name():
    # held-out (seed 7) mutant: tau's check `strict=True` -> `False` lets tau = 0 through,
    # and b = (r - rbar) / 0 makes the residual inf instead of an error naming tau
    with pytest.raises(ValueError, match="^tau: must be > 0"):
        kkt_residual([0.5, 0.5], [1.0, 0.0], 0.0, [0.5, 0.5])


def test_a_policy_on_the_first_action_alone_can_be_drawn():
    # held-out (seed 7) mutant: the action kept on the support is drawn from 1..n-1, not
    # 0..n-1, so a policy with all its mass on action 0 is never drawn
    pi = find(policies(3, allow_zero=True), lambda p: p.size > 1 and p[0] == 1.0)
    assert pi[0] == 1.0 and np.all(pi[1:] == 0)


def test_a_negative_probability_is_an_invalid_policy():
    # held-out (seed 7) mutant: `p_new >= 0` -> `>= -1` in the checker; a step that moves
    # 0.1 of mass below zero (still summing to 1) must be reported as an invalid policy,
    # not later as a KKT failure
    def negative(pi_t, r, tau):
        return np.array([-0.1, 1.1])  # sums to 1 within 2.3e-16

    with pytest.raises(AssertionError, match="invalid policy"):
        check_kl_chi2_equivalence(negative, n_actions=2, max_examples=5, shrink=False)


@pytest.mark.parametrize("bad", [0.0, -1e-3, float("nan"), float("inf")])
def test_taus_refuses_a_min_tau_that_is_not_positive_and_finite(bad):
    # held-out (seed 8): `min_tau >= 0` let min_tau = 0 through (a log-uniform draw from 0)
    with pytest.raises(ValueError, match="min_tau: must be finite and > 0"):
        taus(min_tau=bad)


# --- a full run of tools/mutation.py (session 12) ----------------------------------------


def _draws(strategy, n=100):
    """The values ``strategy`` gives in ``n`` derandomized hypothesis examples."""
    seen = []

    @settings(max_examples=n, derandomize=True, database=None)
    @given(value=strategy)
    def collect(value):
        seen.append(value)

    collect()
    return seen


def test_taus_accepts_a_single_temperature():
    # mutant: `max_tau > min_tau` refused min_tau == max_tau, which the message allows (">=")
    assert set(_draws(taus(0.5, 0.5), n=10)) == {0.5}


def test_taus_puts_no_pile_of_draws_at_either_end():
    # mutants: u drawn from [-1, 1] or [0, 2]: every u outside [0, 1] is clipped to an end,
    # so 65 of 100 draws sat at min_tau, or 39 at max_tau. Unmutated about 20 sit at min_tau
    # (hypothesis favours u = 0) and 1 at max_tau.
    drawn = np.array(_draws(taus(1e-3, 1e3)))
    for end in (1e-3, 1e3):
        assert np.isclose(drawn, end, rtol=1e-12, atol=0).sum() <= 30, end


@pytest.mark.parametrize("name", ["rtol", "atol", "kkt_atol", "max_examples"])
def test_the_checker_accepts_tolerances_of_zero_and_a_single_example(name, monkeypatch):
    # mutants: `not val > 0` refused a tolerance of 0, `max_examples >= 2` refused 1, both
    # documented as allowed (">= 0", "an int >= 1"). Drawing problems comes after the checks.
    class Reached(Exception):
        pass

    def reached(*args, **kwargs):
        raise Reached

    monkeypatch.setattr(pmdtheory.testing, "pmd_problems", reached)
    with pytest.raises(Reached):
        check_kl_chi2_equivalence(mean_update, **{name: 1 if name == "max_examples" else 0.0})


def test_one_example_means_one_call():
    # the same mutant `max_examples >= 2`, end to end
    calls = []

    def counted(pi_t, r, tau):
        calls.append(tau)
        return mean_update(pi_t, r, tau)

    check_kl_chi2_equivalence(counted, max_examples=1)
    assert len(calls) == 1


def test_policy_logits_span_the_documented_spread():
    # mutants: SPREAD 12 -> 11 or 13; the Notes say logits z in [-12, 12], so with
    # min_prob = 0 two actions' probabilities differ by at most e^24, and draws reach past e^22
    def log_ratio(pi):
        return float(np.log(pi.max() / pi.min()))

    ratios = [log_ratio(pi) for pi in _draws(policies((2, 8), min_prob=0.0), n=200)]
    assert max(ratios) <= 24 * (1 + 1e-12)
    found = find(policies((2, 8), min_prob=0.0), lambda pi: log_ratio(pi) > 22.5)
    assert 22.5 < log_ratio(found) <= 24 * (1 + 1e-12)


@pytest.mark.parametrize(
    ("fn", "positional"),
    [
        (policies, ["n_actions"]),
        (rewards, ["n_actions"]),
        (pmd_problems, ["n_actions"]),
        (kkt_residual, ["pi_t", "r", "tau", "pi_new"]),
        (assert_kkt, ["pi_t", "r", "tau", "pi_new"]),
        (check_kl_chi2_equivalence, ["update_fn"]),
    ],
)
def test_options_are_keyword_only(fn, positional):
    # mutants: `/` for `*` in each made the options positional (documented keyword-only)
    assert_keyword_only(fn, positional)


def test_discrete_rewards_take_low_high_and_their_midpoint():
    # mutant: the midpoint `(low * high) / 2`: -0.5 instead of 0 for the default [-1, 1]
    drawn = {x for r in _draws(rewards(3, kind="discrete")) for x in r.tolist()}
    assert drawn == {-1.0, 0.0, 1.0}
    drawn = {x for r in _draws(rewards(3, low=2.0, high=4.0, kind="discrete")) for x in r}
    assert drawn == {2.0, 3.0, 4.0}


def test_a_row_whose_every_probability_underflowed_has_no_stationarity_residual():
    # mutant: the scale's fill -1.0 for 0.0 made it 1 + (-1) = 0 on a row with no action
    # left after the underflow rule, and the residual 0 / 0 read as inf. Such a row is
    # left out of the stationarity residual, as documented; its normalisation (1) tells.
    rep = kkt_residual([0.5, 0.5], [1.0, 0.0], 1.0, [1e-320, 0.0])
    assert rep.residual == 0.0 and rep.normalisation == 1.0


def test_an_infinite_probability_is_an_invalid_policy():
    # mutant: `p_new <= np.inf` let it through to the sum rule ("sums to inf"), which
    # does not say what is wrong
    def infinite(pi_t, r, tau):
        return np.where(np.arange(pi_t.size) == 0, np.inf, 0.0)

    with pytest.raises(AssertionError, match="invalid policy"):
        check_kl_chi2_equivalence(infinite, n_actions=2, max_examples=5, shrink=False)


def test_assert_kkt_accepts_a_normalisation_error_of_exactly_atol():
    # mutant: `rep.normalisation < atol`; the docstring says within atol. Constant rewards
    # make the step pi_t itself; every action raised by e / 2 (exact in float64) is still
    # stationary (x is the same for both) and sums to exactly 1 + e
    e = 2.0**-20
    pi_t, r = np.array([0.5, 0.5]), np.array([0.0, 0.0])
    rep = assert_kkt(pi_t, r, 1.0, pi_t + e / 2, atol=e)
    assert rep.normalisation == e
    with pytest.raises(AssertionError, match="not a PMD-mean solution"):
        assert_kkt(pi_t, r, 1.0, pi_t + e, atol=e)


def test_the_checker_sum_rule_uses_its_default_atol():
    # mutant: the default atol 1e-9 -> 1.000000001 let a policy summing to 1 + 1e-6 pass
    # the sum rule (and fail later, under a message that does not say why)
    def heavy(pi_t, r, tau):
        return mean_update(pi_t, r, tau) * (1 + 1e-6)

    with pytest.raises(AssertionError, match="sums to"):
        check_kl_chi2_equivalence(heavy, max_examples=3, shrink=False)


def test_the_checker_draws_with_seed_0_by_default():
    # mutant: the default seed 0 -> 1: the documented default draws other problems
    def problems(**kw):
        seen = []

        def record(pi_t, r, tau):
            seen.append((pi_t.tolist(), r.tolist(), tau))
            return mean_update(pi_t, r, tau)

        check_kl_chi2_equivalence(record, max_examples=5, **kw)
        return seen

    assert problems() == problems(seed=0) != problems(seed=1)


@pytest.mark.parametrize(
    ("field", "at_bound", "past"),
    [
        ("residual", KKT_ATOL, np.nextafter(KKT_ATOL, 1)),
        ("lam", -KKT_ATOL, np.nextafter(-KKT_ATOL, -1)),
    ],
)
def test_assert_kkt_holds_the_residual_and_the_multiplier_to_atol_inclusive(
    field, at_bound, past, monkeypatch
):
    # mutant: `rep.residual < atol` (documented: within atol). An exact residual of atol is
    # hard to build, so kkt_residual's report is set; lam >= -atol is held to the same rule
    def report(value):
        rep = KKTReport(0.0, 0.0, True, 0.0, 0.0)._replace(**{field: value})
        monkeypatch.setattr(pmdtheory.testing, "kkt_residual", lambda *a, **k: rep)
        return rep

    args = ([0.5, 0.5], [1.0, 0.0], 1.0, [0.5, 0.5])
    rep = report(at_bound)
    assert assert_kkt(*args, atol=KKT_ATOL) is rep
    report(past)
    with pytest.raises(AssertionError, match="not a PMD-mean solution"):
        assert_kkt(*args, atol=KKT_ATOL)


@pytest.mark.parametrize("bad", [(2.5, 3), (2, 3.5), 2.5])
def test_a_non_integer_number_of_actions_is_refused(bad):
    # mutant: `int(lo) != lo and int(hi) != hi or ...` let one non-integer end through
    with pytest.raises(ValueError, match="n_actions: expected an int >= 1"):
        policies(bad)


def test_the_sum_rule_keeps_a_floor_of_1e_12_when_atol_is_0():
    # mutant: `max(atol, -0.999999999999)` dropped the floor: with atol = 0 a policy had to
    # sum to 1 exactly. 2**-40 (9.1e-13) is inside the floor, 2**-39 (1.8e-12) is not.
    kw = dict(n_actions=2, atol=0.0, max_examples=10, shrink=False)
    check_kl_chi2_equivalence(_summing_to(1 + 2.0**-40), **kw)
    with pytest.raises(AssertionError, match="sums to"):
        check_kl_chi2_equivalence(_summing_to(1 + 2.0**-39), **kw)


def test_the_multiplier_check_scales_atol_by_tau():
    # mutant: `atol / tau`; the docstring says atol scaled by tau. At tau = 0.01 and
    # atol = 1e-3, tau * lam may differ from beta_t by up to 1e-5 (not 0.1)
    def lam_off_by(delta):
        def update(pi_t, r, tau):
            new, lam = mean_update(pi_t, r, tau, return_lambda=True)
            return new, lam + delta / tau

        return update

    kw = dict(returns_lambda=True, rtol=0.0, atol=1e-3, min_tau=0.01, max_tau=0.01)
    kw |= dict(max_examples=5, shrink=False)
    check_kl_chi2_equivalence(lam_off_by(5e-6), **kw)
    with pytest.raises(AssertionError, match="tau \\* lam"):
        check_kl_chi2_equivalence(lam_off_by(1e-3), **kw)


def test_the_checker_draws_2_to_8_actions_and_temperatures_from_1e_2_to_1e2_by_default(
    monkeypatch,
):
    # mutants: the checker's defaults n_actions (2, 8) -> (2, 9) or (2, 7), min_tau 1e-2 ->
    # 1.01 and max_tau 1e2 -> 99 or 101 (pmd_problems' own defaults). What the checker asks
    # pmd_problems for is read, not the draws: which extremes hypothesis reaches in 100
    # examples depends on the suite run before (CI's derandomized profile reached 7, not 8)
    asked = {}

    def record(n_actions, **kw):
        asked.update(kw, n_actions=n_actions)
        return pmd_problems(n_actions, **kw)

    monkeypatch.setattr(pmdtheory.testing, "pmd_problems", record)
    check_kl_chi2_equivalence(mean_update, max_examples=1)
    assert (asked["n_actions"], asked["min_tau"], asked["max_tau"]) == ((2, 8), 1e-2, 1e2)


def test_policies_refuse_a_min_prob_of_1_over_n():
    # mutant: `min_prob <= 1 / hi`; the range is [0, 1/n): at 1/n every action gets exactly
    # min_prob and the logits do nothing
    with pytest.raises(ValueError, match=re.escape("min_prob: must lie in [0, 1/4)")):
        policies(4, min_prob=0.25)
    policies(4, min_prob=np.nextafter(0.25, 0))  # builds


def test_a_policy_on_the_last_action_alone_can_be_drawn():
    # mutant: the forced support index drawn from 0..n-2: a support of the last action alone
    # was never drawn
    pi = find(policies(3, allow_zero=True), lambda p: p[-1] == 1.0)
    assert pi.tolist() == [0.0, 0.0, 1.0]


def test_the_checker_accepts_a_kkt_residual_of_exactly_kkt_atol(monkeypatch):
    # mutant: `rep.residual < kkt_atol` (documented: within kkt_atol). kkt_residual's report
    # is set to the bound, as in the assert_kkt test above
    kkt_atol = 1e-7

    def patched(value):
        rep = KKTReport(value, 0.0, True, 0.0, 0.0)
        monkeypatch.setattr(pmdtheory.testing, "kkt_residual", lambda *a, **k: rep)

    kw = dict(kkt_atol=kkt_atol, max_examples=3, shrink=False)
    patched(kkt_atol)
    check_kl_chi2_equivalence(mean_update, **kw)
    patched(np.nextafter(kkt_atol, 1))
    with pytest.raises(AssertionError, match="KKT residual too large"):
        check_kl_chi2_equivalence(mean_update, **kw)


def test_policies_with_zeros_keep_some_support():
    # mutant: the forced support index set to False: with every drawn boolean False no
    # action was left, and the "policy" was all NaN (documented: never all actions zero)
    for pi in _draws(policies((2, 4), allow_zero=True), n=200):
        assert np.all(np.isfinite(pi)) and pi.sum() == pytest.approx(1, abs=1e-12), pi


def test_a_probability_of_exactly_the_smallest_normal_float_counts_in_the_residual():
    # mutant: `log_new <= LOG_TINY` also left out a probability of exactly 2.2e-308, which
    # the docstring keeps (only those *below* the normal range are left out)
    tiny = np.finfo(np.float64).tiny
    kept = kkt_residual([0.5, 0.5], [1.0, 0.0], 1.0, [1.0, tiny])
    left_out = kkt_residual([0.5, 0.5], [1.0, 0.0], 1.0, [1.0, tiny / 2])  # subnormal
    assert kept.residual > 0.1 and left_out.residual == 0.0


@pytest.mark.parametrize(("multiple", "passes"), [(1.0, True), (2.0, False)])
def test_the_multiplier_rule_is_inclusive_at_atol_times_tau(multiple, passes, monkeypatch):
    # mutants: `< rtol |beta_t| + atol tau` (documented: within) and `atol + tau`. beta_t is
    # set to 0 and kl_chi2_update to the update itself, so tau * lam is compared with the
    # bound alone: lam = atol gives exactly atol * tau, 2 atol is past it
    atol, tau = 2.0**-10, 0.5
    monkeypatch.setattr(pmdtheory.testing, "implicit_beta", lambda *a, **k: 0.0)
    monkeypatch.setattr(
        pmdtheory.testing, "kl_chi2_update", lambda p, r, t, b, **k: mean_update(p, r, t)
    )

    def update(pi_t, r, tau):
        return mean_update(pi_t, r, tau), multiple * atol

    kw = dict(returns_lambda=True, rtol=0.0, atol=atol, min_tau=tau, max_tau=tau)
    kw |= dict(max_examples=3, shrink=False)
    if passes:
        check_kl_chi2_equivalence(update, **kw)
    else:
        with pytest.raises(AssertionError, match="tau \\* lam"):
            check_kl_chi2_equivalence(update, **kw)
