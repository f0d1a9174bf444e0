"""Tests of pmdtheory.symbolic: every derivation verifies, the methods are reported
honestly, the document is written, and wrong claims are reported as failed."""

import sys

import numpy as np
import pytest
import sympy as sp

import pmdtheory.symbolic as symbolic
from pmdtheory.symbolic import (
    DERIVATIONS,
    exact_pmd,
    jensen_gap,
    kl_chi2_equivalence,
    limits,
    pmd_mean_regression,
    solver_calculus,
    to_markdown,
    verify_all,
)
from pmdtheory.symbolic.check import (
    CORE,
    EXACT,
    METHODS,
    NUMERIC,
    SYMBOLIC,
    Recorder,
    check_sign,
    check_zero,
    rational_points,
)

N_DERIVATIONS = 8  # the issue asks for at least these eight
SYMBOLIC_SHARE = 0.6  # most steps must be closed by sympy itself, not sampled

x, y = sp.symbols("x y", positive=True)
t = sp.Symbol("t", real=True)
DOMAIN = {x: (0.1, 5), y: (0.1, 5), t: (-3, 3)}


@pytest.fixture(scope="module")
def records():
    return verify_all()


def _rng():
    return np.random.default_rng(0)


# ---------------------------------------------------------------- verify_all


def test_every_derivation_verified(records):
    assert len(records) == len(DERIVATIONS) >= N_DERIVATIONS
    failed = {d.name: [c for c in d.checks if not c.passed] for d in records if not d.verified}
    assert not failed, failed  # the 60 s budget: benchmarks/bench_symbolic.py


def test_records_are_complete_and_honest(records):
    names = [d.name for d in records]
    assert len(set(names)) == len(names)
    n_symbolic = n_total = 0
    for d in records:
        assert d.statement and d.title and d.expressions and d.checks
        assert all(isinstance(e, sp.Basic) for e in d.expressions.values())
        assert any(c.method == CORE for c in d.checks), f"{d.name}: no numeric-core cross-check"
        for c in d.checks:
            assert c.method in METHODS and c.detail
            if c.method == NUMERIC:
                assert "evidence" in c.detail or "digits" in c.detail
        n_symbolic += sum(c.method == SYMBOLIC for c in d.checks)
        n_total += len(d.checks)
        assert d.explanation.startswith(f"{len(d.checks)} steps")
    assert n_symbolic / n_total > SYMBOLIC_SHARE


def test_seed_changes_points_not_outcome():
    assert limits(seed=3).verified
    assert jensen_gap(seed=2).verified  # once drew from an interval with no fitting numerator


# ---------------------------------------------------------------- wrong claims fail


def _failed_methods(record):
    return {c.method for c in record.checks if not c.passed}


def test_wrong_beta_fails_symbolically_and_numerically():
    rec = kl_chi2_equivalence(beta_claim=lambda tau, lam: 2 * tau * lam)
    assert not rec.verified
    failed = _failed_methods(rec)
    assert CORE in failed and failed & {SYMBOLIC, EXACT, NUMERIC}


def test_perturbed_multiplier_fails():
    def perturbed(lam, b):
        lam2 = lam * sp.Rational(21, 20)
        return sp.LambertW(lam2 * sp.exp(b)) / lam2

    rec = pmd_mean_regression(solution=perturbed)
    assert not rec.verified
    failed = _failed_methods(rec)
    assert CORE in failed and failed & {SYMBOLIC, EXACT, NUMERIC}


def test_wrong_exact_solution_and_wrong_omega_derivative_fail():
    rec = exact_pmd(solution=lambda q, r, tau, z: q * sp.exp(2 * r / tau) / z)
    assert not rec.verified and CORE in _failed_methods(rec)
    rec = solver_calculus(omega_derivative=lambda w: w / (1 + w) ** 2)
    assert not rec.verified


# ---------------------------------------------------------------- check primitives


def test_check_zero_methods():
    ok = check_zero("c", sp.log(x * y) - sp.log(x) - sp.log(y), DOMAIN, rng=_rng())
    assert ok.passed and ok.method == SYMBOLIC
    # W0(z) e^{W0(z)} = z: sympy cannot reduce it, so it is sampled at 50 digits
    w = sp.LambertW(x)
    sampled = check_zero("c", w * sp.exp(w) - x, DOMAIN, rng=_rng())
    assert sampled.passed and sampled.method == NUMERIC and "not a proof" in sampled.detail
    bad = check_zero("c", sp.LambertW(x) - x / 2, DOMAIN, rng=_rng())
    assert not bad.passed
    bad = check_zero("c", (x + y) ** 2 - x**2 - y**2, DOMAIN, rng=_rng())
    assert not bad.passed


def test_check_sign_methods():
    assert check_sign("c", x + y, DOMAIN, positive=True, rng=_rng()).method == SYMBOLIC
    assert not check_sign("c", -x, DOMAIN, positive=True, rng=_rng()).passed
    sampled = check_sign("c", sp.cos(t) + 1.5, DOMAIN, positive=True, rng=_rng())
    assert sampled.passed
    assert not check_sign("c", sp.sin(t), DOMAIN, positive=True, rng=_rng()).passed


def test_rational_points_inside_domain():
    for point in rational_points({x: (0.1, 5), t: (-3, 3), y: (0, 0.45)}, 200, _rng()):
        assert 0.1 < point[x] < 5 and -3 < point[t] < 3 and 0 < point[y] < 0.45
        assert point[x].is_Rational


def test_domain_errors_name_the_symbol():
    with pytest.raises(ValueError, match="domain lacks"):
        check_zero("c", sp.LambertW(x) - sp.Symbol("u"), DOMAIN, rng=_rng())
    with pytest.raises(ValueError, match="too narrow"):
        rational_points({x: (0.5, 0.5)}, 1, _rng())


def test_crashing_check_is_failed_not_raised():
    rec = Recorder("demo", "Demo", "0 = 0", seed=0)

    def boom():
        raise ZeroDivisionError("boom")

    assert rec.true("claim", boom, method=SYMBOLIC) is False
    assert rec.core("core", lambda: (float("nan"), "nan error")) is False
    record = rec.finish()
    assert not record.verified and "boom" in record.checks[0].detail
    assert not Recorder("empty", "Empty", "", seed=0).finish().verified


# ---------------------------------------------------------------- document and CLI


def test_markdown_document(records):
    doc = to_markdown(records)
    assert doc.count("\n## ") == len(records)
    assert doc.count("✅ verified") >= len(records) and "FAILED" not in doc
    for d in records:
        assert d.statement in doc and d.name in doc
    for method in (SYMBOLIC, NUMERIC, CORE):
        assert f"*{method}*" in doc


def test_main_writes_document_and_exit_codes(tmp_path, monkeypatch, capsys):
    out = tmp_path / "sub" / "derivations.md"
    monkeypatch.setattr(symbolic, "DERIVATIONS", (limits,))
    assert symbolic.main(["--out", str(out)]) == 0
    assert "limits" in out.read_text() and "1/1 verified" in capsys.readouterr().out

    def wrong(seed=0):
        return kl_chi2_equivalence(beta_claim=lambda tau, lam: 2 * tau * lam, seed=seed)

    monkeypatch.setattr(symbolic, "DERIVATIONS", (limits, wrong))
    assert symbolic.main(["--out", str(out), "--seed", "1"]) == 1
    captured = capsys.readouterr()
    assert "FAILED" in captured.out and "failed:" in captured.err
    assert "❌ FAILED" in out.read_text()


def test_core_and_testing_module_do_not_import_sympy():
    import subprocess

    code = "import sys, pmdtheory, pmdtheory.testing; print('sympy' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"
