"""pmdtheory.symbolic.check where survivors of `make mutation` showed the tests blind.

Each test was checked to fail on the mutant named in its comment (tools/mutation.py, seed 0).
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import sympy as sp

from pmdtheory.symbolic.check import NUMERIC, Recorder, check_sign, check_zero

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
