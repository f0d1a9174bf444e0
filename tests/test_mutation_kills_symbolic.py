"""pmdtheory.symbolic.check where survivors of `make mutation` showed the tests blind.

Each test was checked to fail on the mutant named in its comment (tools/mutation.py, seeds 0
and 1).
"""

from __future__ import annotations

import inspect
import re

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from _signatures import assert_keyword_only

from pmdtheory.symbolic import calculus, consequences, pmd
from pmdtheory.symbolic.check import (
    CORE,
    N_POINTS,
    NUMERIC,
    SYMBOLIC,
    ZERO_50,
    Recorder,
    check_sign,
    check_zero,
    rational_points,
)
from pmdtheory.symbolic.numeric import (
    DPS,
    _bracket_root,
    max_abs_diff,
    mp_exact,
    mp_mean,
    random_cases,
)
from pmdtheory.symbolic.solutions import w_rule

t = sp.Symbol("t", real=True)
NEAR_HALF = {t: (0.4, 0.6)}  # small denominators fit only 1/2 here: a zero of (t - 1/2)^2


@pytest.mark.parametrize("positive", [True, False])
def test_a_sign_check_fails_where_the_expression_is_zero(positive):
    # mutant: `num <= 0` for the negative check (a sampled zero passed as negative)
    square = (t - sp.Rational(1, 2)) ** 2  # sympy cannot decide: it may be 0
    expr = square if positive else -square
    check = check_sign("c", expr, NEAR_HALF, positive=positive, rng=np.random.default_rng(0))
    assert not check.passed and check.method == NUMERIC
    assert "at {t: 1/2}" in check.detail
    # away from the zero the same check passes
    away = {t: (0.6, 0.9)}
    assert check_sign("c", expr, away, positive=positive, rng=np.random.default_rng(0)).passed


@pytest.mark.parametrize(
    "fn, options",
    [
        (check_sign, ("positive", "rng")),
        (check_zero, ("rng",)),
        (Recorder.zero, ("note",)),
        (Recorder.sign, ("positive",)),
        (Recorder.true, ("method",)),
        (Recorder.core, ("tol",)),
    ],
)
def test_check_options_are_keyword_only(fn, options):
    # mutants: `*` -> `/` in check_sign and Recorder.true (the claim and expression
    # positional-only, the options positional)
    params = inspect.signature(fn).parameters
    for name in options:
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
    assert params["claim"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD


def test_a_value_exactly_at_the_zero_tolerance_counts_as_zero():
    # mutant: `if abs(num) >= ZERO_50:` in check_zero (a 50-digit value equal to the
    # tolerance refuted the claim, while the detail promises |value| <= the tolerance)
    at_tolerance = sp.Float(ZERO_50)  # exactly the float ZERO_50; sympy cannot reduce it
    check = check_zero("c", at_tolerance, {}, rng=np.random.default_rng(0))
    assert check.passed and check.method == NUMERIC
    assert check.detail == (  # (held-out seed 5: ", exactly 0 at 0 more" must not appear)
        "sympy cannot reduce it; |value| <= 1.0e-35 at 24 random rational points (50 digits)"
        "; evidence, not a proof"
    )
    # just above it, the claim is refuted
    above = sp.Float(ZERO_50) * (1 + sp.Rational(1, 10**12))
    assert not check_zero("c", above, {}, rng=np.random.default_rng(0)).passed


def test_a_numeric_zero_check_reports_its_largest_residual():
    # mutant: `worst = 1.0` in check_zero (every residual reported as 1.0e+00)
    expr = t - sp.LambertW(t * sp.exp(t))  # 0 for t > -1, beyond sympy.simplify
    check = check_zero("c", expr, {t: (0.5, 3.0)}, rng=np.random.default_rng(0))
    assert check.passed and check.method == NUMERIC
    worst = re.fullmatch(r"sympy cannot reduce it; \|value\| <= (\S+) at .*", check.detail)
    assert worst is not None, check.detail
    assert float(worst[1]) <= ZERO_50


class _LowestDraws:
    """A generator that always draws the lowest value it may: ``integers(lo, hi) == lo``."""

    def integers(self, low, high):
        return low


def test_rational_points_draw_denominators_from_two():
    # mutant: `den = int(rng.integers(1, 61))` in rational_points (denominator 1 allowed:
    # the lowest draws then give the integer 1, a special value, inside (0.2, 1.9))
    points = rational_points({t: (0.2, 1.9)}, 3, _LowestDraws())
    assert points == [{t: sp.Rational(1, 2)}] * 3
    # a domain too narrow for the halves grows the denominator (to 3 here: 1/3)
    assert rational_points({t: (0.3, 0.45)}, 1, _LowestDraws()) == [{t: sp.Rational(1, 3)}]


def test_a_failed_sign_check_reports_the_value_at_50_digits():
    # mutant: `num = sp.N(expr.subs(point), 51)` in check_sign (the value shown, and the
    # sign decided, at 51 digits, not the 50 the method's name says)
    check = check_sign("c", t - 1, {t: (0, 2)}, positive=True, rng=np.random.default_rng(0))
    assert not check.passed and check.method == NUMERIC
    found = re.fullmatch(r"value (\S+) at \{t: (\S+)\} is not positive", check.detail)
    assert found is not None, check.detail
    value, point = found[1], sp.Rational(found[2])
    assert value == str(sp.N(point - 1, 50))
    assert len(value.lstrip("-0.")) == 50  # 50 significant digits


def test_random_cases_draw_every_number_of_actions_in_the_range():
    # mutant: `n = int(rng.integers(n_range[0], n_range[1] * 1))` in random_cases (the
    # upper end of n_range, 8 actions by default, was never drawn)
    cases = list(random_cases(np.random.default_rng(0), 60))
    assert {len(pi_t) for pi_t, _, _ in cases} == set(range(2, 9))
    assert all(len(r) == len(pi_t) for pi_t, r, _ in cases)
    two_or_three = random_cases(np.random.default_rng(0), 30, n_range=(2, 3))
    assert {len(pi_t) for pi_t, _, _ in two_or_three} == {2, 3}


def test_a_root_residual_exactly_at_the_tolerance_is_rejected():
    # mutant: `if not abs(f(root)) <= mp.mpf(10) ** (5 - DPS):` in _bracket_root (a
    # residual equal to 10**(5 - DPS) was accepted; the docstring says "below")
    def step(x):  # changes sign at 0, and |step| is the tolerance everywhere
        tol = mp.mpf(10) ** (5 - DPS)
        return tol if x >= 0 else -tol

    with mp.workdps(DPS), pytest.raises(ArithmeticError, match="did not converge"):
        _bracket_root(step, -1.0, 1.0)
    # a little below the tolerance, the same root is accepted
    with mp.workdps(DPS):
        assert abs(_bracket_root(lambda x: step(x) * 0.999, -1.0, 1.0)) < 1e-6


def test_a_root_the_secant_cannot_polish_is_an_arithmetic_error():
    # held-out (seed 7) mutant: `verify=False` -> `True` in the secant polish: mpmath then
    # raises its own ValueError, and the documented ArithmeticError (the residual checked
    # by _bracket_root itself) is never reached. A continuous f with a ninth-root zero: the
    # secant steps diverge from the bisected bracket.
    def f(x):
        return mp.sign(x - mp.mpf("0.3")) * abs(x - mp.mpf("0.3")) ** (mp.mpf(1) / 9)

    with mp.workdps(DPS), pytest.raises(ArithmeticError, match="did not converge"):
        _bracket_root(f, -1.0, 1.0)


def test_mpmath_evaluations_run_at_30_digits():
    # mutant: `DPS = 31` (the module docstring promises 30 significant digits)
    third = mp_exact(lambda qa, rv, t, z: mp.mpf(1) / 3, np.array([0.5, 0.5]), np.zeros(2), 1.0)
    with mp.workdps(30):
        at_30 = mp.mpf(1) / 3
    with mp.workdps(31):
        at_31 = mp.mpf(1) / 3
    assert third == [at_30, at_30] and at_30 != at_31


def test_the_bracket_widens_twelve_times_before_giving_up():
    # mutant: `for _ in range( 13):` in _bracket_root (one more tripling: a sign change
    # out to 3**13 was found). The twelfth widening is checked too: [-1, 1] reaches 3**12
    # (it reached only 3**11 while the loop's else raised without looking at it)
    with mp.workdps(DPS):
        assert _bracket_root(lambda x: x - 3**12, -1.0, 1.0) == 3**12
        with pytest.raises(ArithmeticError, match="no sign change"):
            _bracket_root(lambda x: x - (3**12 + 1), -1.0, 1.0)


@pytest.mark.parametrize("root", [1, 3])
def test_a_root_on_the_bracket_end_is_found(root):
    # held-out (seed 5) mutant: `flo / fhi <= 0` for `flo * fhi <= 0` divides by zero when
    # the bracket ends on the root: [-1, 1] at once, and after one widening, [-3, 3]
    with mp.workdps(DPS):
        assert _bracket_root(lambda x: x - root, -1.0, 1.0) == root


@pytest.mark.parametrize("module", [pmd, consequences])
def test_every_symbol_domain_can_be_sampled(module):
    # mutant: `r3: (1, 1)` in consequences.DOMAIN (an empty interval: any check on r3 that
    # sympy.expand cannot close would fail with "domain of r3 is too narrow")
    points = rational_points(module.DOMAIN, 2, np.random.default_rng(0))
    for point in points:
        for symbol, value in point.items():
            lo, hi = module.DOMAIN[symbol]
            assert lo < value < hi, (symbol, value)


def test_w_rule_rewrites_log_w0_only():
    # mutants: `len(w.args) == 1` -> `!= 1`, `== 2`, `== 0` (the rule on the wrong branch,
    # or on none). log W0(z) = log z - W0(z) for z > 0; W_-1 is negative there, its log
    # is not real, and the rule must leave it alone.
    z = sp.symbols("z", positive=True)
    assert w_rule(sp.log(sp.LambertW(z))) == sp.log(z) - sp.LambertW(z)
    w_1 = sp.log(sp.LambertW(z, -1))
    assert w_rule(w_1) == w_1


def test_recorded_stationarity_is_solved_by_the_recorded_solution():
    # mutant: `sp.Eq(star, 0)` -> `sp.Eq(star, 1)` in the record of pmd_mean_regression
    d = pmd.pmd_mean_regression()
    eq, sol = d.expressions["stationarity"], d.expressions["solution"]
    for lam_v, b_v in [(0.7, 0.3), (2.0, -1.5), (0.1, 4.0)]:
        at = {pmd.lam: lam_v, pmd.b: b_v}
        assert abs(float((eq.lhs - eq.rhs).subs(pmd.x, sol).subs(at))) < 1e-12


def test_wrong_omega_derivative_fails_the_newton_slope_check_itself():
    # mutant: the slope check's failure branch returns True (other checks failed anyway)
    d = calculus.solver_calculus(omega_derivative=lambda w: w / (1 + w) ** 2)
    (slope,) = [c for c in d.checks if c.method == NUMERIC and "random points" in c.claim]
    assert not slope.passed and "relative error of g' formula" in slope.detail


def test_newton_slope_is_derived_over_every_action():
    # mutant: `l1:{N_ACTIONS - 1}` (one log-probability symbol: zip drops the other actions)
    g_prime = calculus.solver_calculus().expressions["g_prime"]
    names = {str(v) for v in g_prime.free_symbols}
    n = calculus.N_ACTIONS
    want = {f"{v}{i}" for v in "lb" for i in range(1, n + 1)}
    assert n >= 2 and want <= names


def test_every_derivation_takes_a_keyword_seed_defaulting_to_0():
    # mutant: solver_calculus's `seed: int = 0` -> `-1`; DERIVATIONS documents
    # ``derive(*, seed=0) -> Derivation`` for each one
    from pmdtheory.symbolic import DERIVATIONS

    for derive in DERIVATIONS:
        seed = inspect.signature(derive).parameters["seed"]
        assert (seed.kind, seed.default) == (inspect.Parameter.KEYWORD_ONLY, 0), derive.__name__


def _record(name, passed):
    from pmdtheory.symbolic.check import SYMBOLIC, Check, Derivation

    checks = tuple(Check(f"c_{i}", SYMBOLIC, ok, f"detail {i}") for i, ok in enumerate(passed))
    return Derivation(name, f"Title {name}", "x = x", {"e": sp.Integer(1)}, checks, 0.25)


def test_markdown_marks_and_numbers_every_step():
    # mutants: the step mark `"✅" if not c.passed`, steps numbered from 2,
    # total_seconds keyword-only -> positional (`/`)
    from pmdtheory.symbolic import to_markdown

    doc = to_markdown([_record("good", [True, True]), _record("bad", [True, False])])
    bad = doc.split("## 2. bad")[1]
    assert "1. ✅ $c_0$ — *symbolic*: detail 0" in bad
    assert "2. ❌ $c_1$ — *symbolic*: detail 1" in bad
    good = doc.split("## 1. good")[1].split("## 2.")[0]
    assert "1. ✅ $c_0$" in good and "2. ✅ $c_1$" in good and "❌" not in good
    assert "**1/2 derivations verified** in 0.5 s" in doc
    assert "in 3.0 s" in to_markdown([_record("good", [True])], total_seconds=3.0)
    kind = inspect.signature(to_markdown).parameters["total_seconds"].kind
    assert kind is inspect.Parameter.KEYWORD_ONLY


def test_derive_reports_its_own_wall_time(tmp_path, monkeypatch, capsys):
    # mutant: `total = time.perf_counter() + t0` (the clock's reading, not the elapsed time)
    import time

    import pmdtheory.symbolic as symbolic

    monkeypatch.setattr(symbolic, "DERIVATIONS", (lambda *, seed: _record("one", [True]),))
    out = tmp_path / "d.md"
    t0 = time.perf_counter()
    assert symbolic.main(["--out", str(out)]) == 0
    wall = time.perf_counter() - t0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("1/1 verified")]
    reported = float(line.split(" in ")[1].split(" s;")[0])
    assert 0 <= reported <= wall + 0.05  # printed at 0.1 s resolution
    assert f"in {reported:.1f} s" in out.read_text()


def test_random_cases_keep_a_floor_and_span_the_default_tau_range():
    # mutants: `w = exponential * 1e-3` (no floor: entries down to ~1e-5 / n), the default
    # tau_range (1e-2, 99) instead of (1e-2, 1e2)
    cases = list(random_cases(np.random.default_rng(0), 20_000))
    floor = min(float(pi.min()) * pi.size for pi, _, _ in cases)
    assert floor > 1e-4  # entries >= ~1e-3 / n (documented), with room for a large sum
    taus = np.array([t for _, _, t in cases])
    assert taus.min() >= 1e-2 and taus.max() <= 1e2
    assert taus.min() < 1.01e-2 and taus.max() > 99.5  # log-uniform over the whole range


def test_bracket_root_accepts_a_root_at_an_end():
    # mutant: `flo * fhi < 0` (an end at a root is not a sign change: the bracket widened
    # past both roots of (x - 1)(x - 3) and found none)
    root = _bracket_root(lambda x: (x - 1) * (x - 3), 1.0, 2.0)
    assert abs(root - 1) < 1e-20


def test_mp_mean_refuses_rewards_of_another_length():
    # a reward list one short is refused, not truncated (by strict zips: the mutant
    # `zip(q, r, strict=False)` of the first one is equivalent, the next one refuses it)
    from pmdtheory.symbolic.numeric import mp_mean
    from pmdtheory.symbolic.solutions import mean_solution

    x_fn = lambda lam_, b_: mean_solution(lam_, b_)  # noqa: E731
    with pytest.raises(ValueError):
        mp_mean(x_fn, np.array([0.5, 0.5]), np.array([1.0]), 0.5)


def test_mp_mean_without_a_lambda_to_check_returns_the_policy_and_lambda():
    # (--unreached, session 6: every derivation passes lam_check) the two-value form is
    # PMD-mean's policy and multiplier, as mean_update computes them
    from pmdtheory import mean_update
    from pmdtheory.symbolic.numeric import mp_mean
    from pmdtheory.symbolic.solutions import mean_solution

    pi_t, r, tau = np.array([0.25, 0.75]), np.array([1.0, 0.0]), 0.5
    out = mp_mean(lambda lam_, b_: mean_solution(lam_, b_), pi_t, r, tau)
    pi_new, lam = mean_update(pi_t, r, tau, return_lambda=True)
    assert len(out) == 2
    np.testing.assert_allclose([float(v) for v in out[0]], pi_new, rtol=1e-13)
    assert float(out[1]) == pytest.approx(lam, rel=1e-12)


def test_markdown_summary_rows_and_long_latex(monkeypatch):
    # mutants: summary rows numbered from 0, `len(tex) < MAX_LATEX` (short expressions
    # omitted, long ones printed)
    import pmdtheory.symbolic as symbolic
    from pmdtheory.symbolic.check import SYMBOLIC, Check, Derivation

    n = symbolic.MAX_LATEX
    exprs = {"at": sp.Symbol("x" * n), "over": sp.Symbol("y" * (n + 1)), "short": sp.Integer(2)}
    assert [len(sp.latex(e)) for e in exprs.values()] == [n, n + 1, 1]
    rec = Derivation("d", "T", "s", exprs, (Check("c", SYMBOLIC, True, "ok"),), 0.5)
    doc = symbolic.to_markdown([rec, _record("bad", [False])])
    assert "| 1 | T (`d`) | ✅ verified |" in doc
    assert "| 2 | Title bad (`bad`) | ❌ FAILED |" in doc
    assert f"- `at`: $\\displaystyle {'x' * n}$" in doc
    assert f"- `over`: ({n + 1} characters of LaTeX, omitted)" in doc
    assert "- `short`: $\\displaystyle 2$" in doc


def test_derive_prints_a_mark_per_derivation(tmp_path, monkeypatch, capsys):
    # mutant: `"✓" if not record.verified` on the console
    import pmdtheory.symbolic as symbolic

    # held-out (seed 2) mutant: `if not not c.passed` lists the passed checks as failed
    records = (
        lambda *, seed: _record("good", [True]),
        lambda *, seed: _record("bad", [True, False]),
    )
    monkeypatch.setattr(symbolic, "DERIVATIONS", records)
    assert symbolic.main(["--out", str(tmp_path / "d.md")]) == 1
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert lines[0].startswith("1. ✓ ") and "good" in lines[0]
    assert lines[1].startswith("2. ✗ FAILED") and "bad" in lines[1]
    assert out.err.splitlines() == ["     failed: c_1 [symbolic] detail 1"]


def test_the_solver_calculus_proofs_are_recorded_as_proofs():
    # held-out (seed 2) mutant: the weights t_a lose `positive=True`, and sympy can no longer
    # decide that g' < 0; the step would be sampled evidence, not a proof
    d = calculus.solver_calculus()
    assert [c.method for c in d.checks] == [SYMBOLIC] * 8 + [CORE, NUMERIC]
    assert all(c.passed for c in d.checks)


def test_the_log_partition_core_check_reaches_the_small_taus_it_states(monkeypatch):
    # held-out (seed 2) mutant: the comparison draws tau from (1.001, 1e3), not the stated
    # 1e-3..1e3, so a log_partition wrong only below tau = 1 would pass it
    real = calculus.log_partition

    def wrong_below_one(pi_t, r, tau, **kw):
        return real(pi_t, r, tau, **kw) + (1e-6 if tau < 1 else 0.0)

    monkeypatch.setattr(calculus, "log_partition", wrong_below_one)
    (step,) = [c for c in calculus.jensen_gap().checks if c.method == CORE]
    assert "tau 1e-3..1e3" in step.detail and not step.passed


def test_random_cases_draw_rewards_over_the_whole_default_range():
    # held-out (seed 2) mutant: the default r_range (-1, 1) -> (-1, 0), no positive rewards
    r = np.concatenate([r for _, r, _ in random_cases(np.random.default_rng(0), 200)])
    assert r.min() >= -1.0 and r.max() <= 1.0
    assert r.min() < -0.95 and r.max() > 0.95


def test_verify_all_uses_the_seed_of_pmdtheory_derive(tmp_path, monkeypatch):
    # held-out (seed 2) mutant: verify_all's default seed 0 -> 1; its records would then
    # differ from the ones `pmdtheory derive` writes (its --seed defaults to 0)
    import pmdtheory.symbolic as symbolic

    seeds = []

    def derive(*, seed):
        seeds.append(seed)
        return _record("one", [True])

    monkeypatch.setattr(symbolic, "DERIVATIONS", (derive,))
    symbolic.verify_all()
    assert symbolic.main(["--out", str(tmp_path / "d.md")]) == 0
    assert seeds[0] == seeds[1]


def test_the_refutation_probe_looks_at_two_points():
    # held-out (seed 2) mutant: three probe points instead of the documented two; the
    # later random points then differ. An identity sympy.simplify proves draws the probe
    # points only.
    rng, twin = np.random.default_rng(8), np.random.default_rng(8)
    check = check_zero("c", sp.sin(t) ** 2 + sp.cos(t) ** 2 - 1, NEAR_HALF, rng=rng)
    assert (check.method, check.passed) == (SYMBOLIC, True) and "simplify" in check.detail
    rational_points(NEAR_HALF, 2, twin)
    assert rng.random() == twin.random()


def test_zero_at_every_rational_point_is_reported_as_exact_substitution():
    # held-out (seed 2) mutant: `n_numeric == -1` reported an all-exact check as numeric
    # evidence ("|value| <= -1.0e+00 at 0 points"). sqrt(t^2) - t is not 0 for real t
    # (simplify leaves |t| - t), but it is 0 at every point of (0.4, 0.6)
    from pmdtheory.symbolic.check import EXACT, N_POINTS

    check = check_zero("c", sp.sqrt(t**2) - t, NEAR_HALF, rng=np.random.default_rng(0))
    assert (check.method, check.passed) == (EXACT, True)
    assert check.detail == f"0 exactly at {N_POINTS} random rational points"


def test_the_large_tau_core_check_uses_rewards_that_vary(monkeypatch):
    # held-out (seed 2) mutant: the comparison drew constant rewards (r_range (1, 1)), for
    # which every series term is 0; a log_partition without the mu_3 / (6 tau^2) term
    # must fail it
    def without_mu3(pi_t, r, tau, **kw):
        dev = r - pi_t @ r
        return pi_t @ r + (pi_t @ dev**2) / (2 * tau)

    monkeypatch.setattr(consequences, "log_partition", without_mu3)
    (step,) = [c for c in consequences.large_tau().checks if c.method == CORE]
    assert "r in [0,1]" in step.detail and not step.passed


def test_the_recorded_binary_system_is_solved_by_binary_update():
    # held-out (seed 2) mutant: the normalisation `p x+ + (0 - p) x- = 1` in the recorded
    # system (the report prints it); binary_update's (x+, x-, lam) must solve every equation
    from pmdtheory import binary_update

    c = consequences
    system = c.binary_rewards().expressions["system"]
    for p_, tau_ in ((0.01, 0.05), (0.3, 1.0), (0.8, 4.0)):
        out = binary_update(p_, tau_)
        at = {c.x_pos: out.x_pos, c.x_neg: out.x_neg, c.lam: out.lam, c.p: p_, c.tau: tau_}
        for eq in system:
            assert abs(float((eq.lhs - eq.rhs).subs(at))) < 1e-9, (p_, tau_, eq)


def test_a_sampled_check_counts_its_exact_zeros_and_the_probe_refutes_first():
    # held-out (seed 5) mutants: `if not n_exact` (the count of exact zeros shown only when
    # there are none) and `not probe.is_real` in the refutation probe (a clearly nonzero
    # value went on to sympy.simplify and other points: refuted, but not at the probe's)
    tiny = sp.Float(ZERO_50) * (t - sp.Rational(1, 2))  # exactly 0 at t = 1/2 only
    check = check_zero("c", tiny, NEAR_HALF, rng=np.random.default_rng(0))
    assert check.passed and check.method == NUMERIC
    assert re.search(r" \(50 digits\), exactly 0 at [1-9]\d* more; evidence", check.detail)
    probe = rational_points(NEAR_HALF, 2, np.random.default_rng(0))
    bad = check_zero("c", t, NEAR_HALF, rng=np.random.default_rng(0))
    assert not bad.passed and bad.detail.endswith(f" != 0 at {probe[0]}")


def test_large_tau_zeroth_order_steps_check_the_mean_deviation(monkeypatch):
    # held-out (seed 5) mutant: `coeffs[0] ** 2 + coeffs[ 0] ** 2` dropped the eps^1
    # coefficient E[r - rbar] from "[tau^0] (tau log Z - rbar) = 0" (G(0) = 0 holds for any
    # rbar). With rbar shifted, that step (and the normalisation's O(eps^2) step, built
    # the same way) must fail, not only the later ones.
    true_moments = consequences._moments

    def shifted(qs, rs):
        rbar, var, mu3 = true_moments(qs, rs)
        return rbar + sp.Rational(1, 8), var, mu3

    monkeypatch.setattr(consequences, "_moments", shifted)
    _assert_the_zeroth_order_steps_fail()


def _assert_the_zeroth_order_steps_fail():
    """large_tau's [tau^0] and O(eps^2) steps fail, for both distributions."""
    d = consequences.large_tau()
    for marker in (r"[\tau^0]", r"= O(\epsilon^2)"):
        steps = [c for c in d.checks if marker in c.claim]
        assert len(steps) == 2 and not any(c.passed for c in steps), marker


def test_a_zero_check_that_turns_complex_is_refuted():
    # (--unreached, session 5: reached by no test) sqrt(t - 1) is imaginary on (0.4, 0.6)
    check = check_zero("c", sp.sqrt(t - 1), NEAR_HALF, rng=np.random.default_rng(0))
    assert not check.passed and check.method == NUMERIC and check.detail.startswith("not real at")


def test_the_binary_core_check_refuses_log_x_neg_above_minus_p_over_tau(monkeypatch):
    # (--unreached, session 6: correct code never takes this failure branch) a stand-in
    # binary_update whose log x_- is -p/tau exactly passes the bound; one ulp above fails
    from pmdtheory import binary_update

    def with_log_x_neg(shift):
        def stand_in(p, tau, **kw):
            out = binary_update(p, tau, **kw)
            bound = -p / tau
            return out._replace(log_x_neg=np.nextafter(bound, np.inf) if shift else bound)

        return stand_in

    for shift, ok in ((False, True), (True, False)):
        monkeypatch.setattr(consequences, "binary_update", with_log_x_neg(shift))
        steps = [c for c in consequences.binary_rewards().checks if c.method == CORE]
        failed = [c for c in steps if not c.passed]
        if ok:
            assert not failed, failed
        else:
            (bad,) = failed
            assert bad.detail.endswith("log x_neg > -p/tau at p=0.01, tau=0.02"), bad.detail


def test_derive_creates_every_missing_folder_of_out(tmp_path, monkeypatch):
    # full run (session 9): `mkdir(parents=True)` -> `parents=False` (a test's --out had
    # one missing folder only)
    import pmdtheory.symbolic as symbolic

    monkeypatch.setattr(symbolic, "DERIVATIONS", (lambda *, seed: _record("one", [True]),))
    out = tmp_path / "new" / "deeper" / "d.md"
    assert symbolic.main(["--out", str(out)]) == 0
    assert out.read_text().startswith("# PMD theory")


# --- a full run of tools/mutation.py (session 12) ----------------------------------------


class _HighestDraws:
    """A generator that always draws the highest value it may: ``integers(lo, hi) == hi - 1``."""

    def integers(self, low, high):
        return high - 1


def test_rational_points_reach_the_largest_numerator_inside_the_domain():
    # mutant: `ceil(hi * den) - 2`: the largest numerator strictly inside was never drawn
    # (denominator 60: 59/60 in (0, 1), 26/60 in (0.3, 0.45))
    assert rational_points({t: (0, 1)}, 1, _HighestDraws()) == [{t: sp.Rational(59, 60)}]
    assert rational_points({t: (0.3, 0.45)}, 1, _HighestDraws()) == [{t: sp.Rational(13, 30)}]


def test_a_sign_sympy_refutes_is_a_symbolic_failure():
    # mutant: `if decided is True` for `is False`: a sign sympy decides is wrong went on to
    # be sampled and was reported as a numeric failure
    x = sp.Symbol("x", positive=True)
    for positive, expr in ((True, -x), (False, x)):
        check = check_sign("c", expr, {x: (0, 1)}, positive=positive, rng=np.random.default_rng(0))
        word = "positive" if positive else "negative"
        assert (check.method, check.passed) == (SYMBOLIC, False)
        assert check.detail == f"sympy decides it is not {word}"


def test_the_explanation_counts_the_steps_of_each_method():
    # mutant: `c.method != method` counted every other method's steps
    from pmdtheory.symbolic.check import EXACT, Check, Derivation

    methods = [SYMBOLIC, SYMBOLIC, SYMBOLIC, EXACT, CORE]
    checks = tuple(Check(f"c_{i}", m, i != 4, "d") for i, m in enumerate(methods))
    d = Derivation("d", "D", "x = x", {}, checks, 0.1)
    assert d.explanation == "5 steps: 3 symbolic, 1 exact substitution, 1 numeric core; 1 FAILED"


def test_a_polynomial_identity_is_closed_by_expand_and_a_constant_is_not_zero():
    # mutant: `sp.expand(expr) == 1`: a claim whose difference is the constant 1 passed as
    # "reduces to 0", and a true polynomial identity fell through to the slower methods
    x = sp.Symbol("x", real=True)
    rng = np.random.default_rng(0)
    check = check_zero("c", (x + 1) ** 2 - x**2 - 2 * x - 1, {x: (0, 1)}, rng=rng)
    assert (check.method, check.passed, check.detail) == (
        SYMBOLIC,
        True,
        "sympy.expand reduces it to 0",
    )
    assert not check_zero("c", (x + 1) ** 2 - x**2 - 2 * x, {x: (0, 1)}, rng=rng).passed


def test_a_derivation_records_the_seconds_it_took(monkeypatch):
    # mutant: `time.perf_counter() + self.t0`: the seconds were twice the clock's reading
    from pmdtheory.symbolic import check

    monkeypatch.setattr(check.time, "perf_counter", lambda: 102.5)
    rec = Recorder("n", "T", "x = x", seed=0, t0=100.0)  # started at 100 s on the clock
    assert rec.finish().seconds == 2.5


def test_a_narrow_domain_takes_the_first_denominator_that_fits():
    # mutant: `den += 2` skipped odd denominators from 2 on: (0.15, 0.22) holds no half,
    # third or quarter, and 1/5 is the first fit (the mutant went on to 1/6)
    assert rational_points({t: (0.15, 0.22)}, 1, _LowestDraws()) == [{t: sp.Rational(1, 5)}]


def test_a_core_comparison_passes_at_exactly_its_tolerance():
    # mutant: `err < tol`; the docstring says pass if <= tol
    rec = Recorder("n", "T", "x = x", seed=0)
    assert rec.core("at", lambda: (1e-10, "x"), tol=1e-10)
    assert not rec.core("past", lambda: (np.nextafter(1e-10, 1), "x"), tol=1e-10)
    assert [c.passed for c in rec.checks] == [True, False]


def test_checks_and_derivations_are_frozen():
    # mutant: `@dataclass(frozen=False)` on Derivation: a report's record could be edited
    # after the fact (a failed check's outcome, its timing)
    import dataclasses

    from pmdtheory.symbolic.check import Check, Derivation

    check = Check("c", SYMBOLIC, True, "d")
    derivation = Derivation("d", "D", "x = x", {}, (check,), 0.1)
    for record, name in ((check, "passed"), (derivation, "checks")):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(record, name, None)


# --- session 13: check.py's shard 2/3 and numeric.py's shard 1/2 (full runs, sharded) ---


def test_a_probe_of_exactly_1e_20_does_not_refute_and_the_full_check_does():
    # mutant: the probe's `abs(probe) > 1e-20` -> `>=`. c sign(x) on (0, 1) is the double
    # 1e-20 at every point, exactly (30 digits hold its 53 bits): the two probes pass it
    # on, and the full check refutes it at its own first point, the third one drawn.
    x = sp.Symbol("x")
    c = sp.Rational(1e-20)
    draws = np.random.default_rng(0)
    probes = rational_points({x: (0, 1)}, 2, draws)
    first_full = rational_points({x: (0, 1)}, N_POINTS, draws)[0]
    assert first_full != probes[0]
    got = check_zero("c sign x = 0", c * sp.sign(x), {x: (0, 1)}, rng=np.random.default_rng(0))
    assert (got.method, got.passed) == (NUMERIC, False)
    assert got.detail == f"1.000e-20 != 0 at {first_full}"


def test_random_cases_reach_probabilities_below_a_hundredth():
    # mutant (numeric.py, shard 1/2): `exponential + 1e-3` -> `+ 1.001`: every weight is
    # then at least 1, and no policy of at most 8 actions gets near a corner (min ~0.06)
    cases = list(random_cases(np.random.default_rng(0), 200))
    smallest = min(pi.min() for pi, _, _ in cases)
    assert 0.0 < smallest < 1e-2


def test_the_bracket_widens_whatever_the_size_of_the_residuals():
    # mutant: `flo * fhi <= 0` -> `<= 1`: a bracket without a sign change whose residuals
    # multiply to at most 1 stopped widening and was refused. f = x - 1/2 on [0.6, 0.7]:
    # 0.1 * 0.2 = 0.02, and one widening to [0.5, 0.8] reaches the root
    with mp.workdps(DPS):
        root = _bracket_root(lambda x: x - mp.mpf(1) / 2, 0.6, 0.7)
        assert abs(root - mp.mpf(1) / 2) < mp.mpf(10) ** (5 - DPS)


def test_no_sign_change_after_the_last_widening_is_refused_however_small_the_residual():
    # mutant: the final `flo * fhi > 0` -> `> 1`: a residual that never changes sign but
    # multiplies to at most 1 went on to bisect a bracket without a root
    with mp.workdps(DPS), pytest.raises(ArithmeticError, match="no sign change"):
        _bracket_root(lambda x: mp.mpf(1) / 2, 0.0, 1.0)


def test_the_numeric_helpers_options_are_keyword_only():
    # mutant: `*` -> `/` in mp_mean (lam_check could then be passed by position)
    assert_keyword_only(mp_mean, ["x_fn", "pi_t", "r", "tau"])
    assert_keyword_only(random_cases, ["rng", "n_cases"])


def test_max_abs_diff_refuses_sequences_of_different_lengths():
    # mutant (shard 2/2): `strict=True` -> `False` compared the common prefix only, so a
    # solution missing an action could pass a cross-check
    assert max_abs_diff([1.0, 2.0], [mp.mpf(1), mp.mpf("2.5")]) == 0.5
    with pytest.raises(ValueError):
        max_abs_diff([1.0, 2.0], [mp.mpf(1)])


def test_the_stationarity_steps_number_the_actions_from_one():
    # mutant (session 17): `p_{a * 1}` numbered exact_pmd's N stationarity claims from 0
    claims = [c.claim for c in pmd.exact_pmd().checks]
    numbers = [m.group(1) for c in claims if (m := re.match(r"\\partial_\{p_(\d+)\}", c))]
    assert numbers == [str(a) for a in range(1, pmd.N_ACTIONS + 1)]


def test_the_exact_pmd_derivation_is_a_proof():
    # mutant (session 17): rewards declared non-real (`real=False`) kept sympy from expanding
    # the stationarity steps; they passed by exact substitution at random points instead
    methods = [c.method for c in pmd.exact_pmd().checks]
    assert methods == ["symbolic"] * (len(methods) - 1) + ["numeric core"]


def test_the_two_action_jensen_gap_is_a_proof():
    # mutant (session 17): tau and s without `positive=True`: sympy could no longer decide
    # h'' > 0, and the step passed as sampled evidence instead of a proof
    d = calculus.jensen_gap()
    assert [c.method for c in d.checks] == [SYMBOLIC] * 5 + [NUMERIC, CORE]
    assert all(c.passed for c in d.checks)


def test_the_omega_core_check_spans_the_range_it_states(monkeypatch):
    # mutants (session 17): the fixed points -700 and 1e5 (the ends the step's detail states)
    # moved to -701 or 99999, and the 200 random points all drawn at 40, or -700 turned into
    # a second 700: the check still passed on other points than it claimed
    seen = []
    real = calculus.wright_omega
    monkeypatch.setattr(calculus, "wright_omega", lambda y: seen.append(np.array(y)) or real(y))
    step = next(c for c in calculus.solver_calculus().checks if "wright_omega vs" in c.detail)
    (ys,) = seen
    lo, hi = map(float, re.search(r"y in \[(\S+), (\S+)\]", step.detail).groups())
    assert (ys.min(), ys.max()) == (lo, hi)
    assert f"at {ys.size} points" in step.detail
    assert np.unique(ys).size == ys.size  # distinct points


@pytest.mark.parametrize("wrong", ["exact", "mean"])
def test_the_binary_paper_example_needs_both_of_its_numbers(monkeypatch, wrong):
    # mutant (session 17): `or` for `and` passed THEORY §6's example with one number wrong
    real = consequences.binary_update

    def off_by_a_hundredth(p, tau, method="mean"):
        out = real(p, tau, method=method)
        return out._replace(p_new=out.p_new + 0.01) if method == wrong else out

    monkeypatch.setattr(consequences, "binary_update", off_by_a_hundredth)
    step = next(c for c in consequences.binary_rewards().checks if "THEORY §6" in c.claim)
    assert not step.passed


def test_the_normalisation_step_checks_its_zeroth_order(monkeypatch):
    # mutant (session 17): `lower[1] ** 2 + lower[1] ** 2` dropped the eps^0 coefficient,
    # sum_a pi_t(a) - 1, from "sum pi_t x - 1 = O(eps^2)". Weights summing to 9/8, with the
    # mean taken over them normalised (so the eps^1 coefficient stays 0), must fail it
    q, q1, q2 = consequences.q, consequences.q1, consequences.q2
    r1, r2, r3 = consequences.r1, consequences.r2, consequences.r3
    over = sp.Rational(1, 8)
    dists = {2: ((q, 1 - q + over), (r1, r2)), 3: ((q1, q2, 1 - q1 - q2 + over), (r1, r2, r3))}
    true_moments = consequences._moments

    def normalised(qs, rs):
        total = sum(qs)
        return true_moments(tuple(a / total for a in qs), rs)

    monkeypatch.setattr(consequences, "DISTRIBUTIONS", dists)
    monkeypatch.setattr(consequences, "_moments", normalised)
    # (and `coeffs[ 1] ** 2 + coeffs[1] ** 2` dropped G(0) = log sum pi_t from the [tau^0] step)
    _assert_the_zeroth_order_steps_fail()


def test_the_three_action_jensen_gap_is_the_log_partition_minus_the_mean():
    # mutant (session 17): `a + sp.exp(c / tau)` for `a * ...` in gap_3 made the sign step
    # check another positive expression, not tau log Z_t - rbar
    d = calculus.jensen_gap()
    pi, r, tau = np.array([0.2, 0.3, 0.5]), np.array([1.0, -0.5, 0.25]), 0.7
    point = {calculus.q1: pi[0], calculus.q2: pi[1], calculus.tau: tau}
    point |= dict(zip(calculus.rs, r, strict=True))
    gap = float(d.expressions["gap_3"].subs(point))
    assert gap == pytest.approx(calculus.log_partition(pi, r, tau) - pi @ r, rel=1e-12)


def test_large_tau_records_the_gap_coefficients_of_tau_0_to_tau_minus_2():
    # mutant (session 17): `coeffs[ 0:]` recorded G(0) = 0 in front of them as well
    d = consequences.large_tau()
    for n, (qs, rs) in consequences.DISTRIBUTIONS.items():
        _, var, mu3 = consequences._moments(qs, rs)
        got = d.expressions[f"gap_coefficients_{n}"]
        assert len(got) == 3
        assert [sp.expand(a - b) for a, b in zip(got, (0, var / 2, mu3 / 6), strict=True)] == [
            0
        ] * 3


def test_the_two_action_jensen_steps_use_two_distinct_rewards(monkeypatch):
    # mutant (session 17): `r1, r2 = rs[0], rs[ 0]` made the two rewards one symbol: d = 0, and
    # the steps for Z_t and tau h(d) held trivially
    from pmdtheory.symbolic.check import Recorder

    seen = []
    real = Recorder.zero

    def spy(self, claim, expr, domain, **kw):
        seen.append(expr)
        return real(self, claim, expr, domain, **kw)

    monkeypatch.setattr(Recorder, "zero", spy)
    calculus.jensen_gap()
    rewards = {calculus.rs[0], calculus.rs[1]}
    assert all(rewards <= sp.sympify(e).free_symbols for e in seen[:2])


def test_the_log_partition_core_check_refuses_a_value_below_the_mean(monkeypatch):
    # mutant (session 17): `rbar - 1.000000000001` for `rbar - 1e-12`: a log_partition 5e-11
    # below the mean (Jensen says it is at or above) passed, being within the 1e-10 tolerance
    # of mpmath where the rewards barely vary
    pi, r = np.array([0.5, 0.5]), np.array([0.0, 1e-9])  # gap above the mean: 1.25e-19
    monkeypatch.setattr(calculus, "random_cases", lambda rng, n, **kw: [(pi, r, 1.0)] * n)
    real = calculus.log_partition

    def low(pi_t, r_, tau):
        return real(pi_t, r_, tau) - (5e-11 if np.ptp(r_) > 0 else 0.0)

    monkeypatch.setattr(calculus, "log_partition", low)
    step = calculus.jensen_gap().checks[-1]
    assert step.claim.startswith(r"\texttt{log\_partition}") and not step.passed
    assert step.detail.endswith("log_partition < rbar at tau=1.0")


def test_the_sign_step_checks_the_slope_itself():
    # held-out (seed 23) mutant, session 17: `t / w / (1 + w)` in a hand-typed copy of the
    # slope passed the sign step (another negative expression). The step now takes the slope
    # itself, so a wrong omega' that makes g increasing fails it
    d = calculus.solver_calculus(omega_derivative=lambda w: -w / (1 + w))
    step = next(c for c in d.checks if "g \\text{ decreasing}" in c.claim)
    assert not step.passed
    ok = next(c for c in calculus.solver_calculus().checks if c.claim == step.claim)
    assert ok.passed and ok.method == SYMBOLIC
