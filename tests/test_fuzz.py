"""Fuzz the core against mpmath: the right answer or a ValueError naming an argument.

A small budget of tests/fuzz_core.py (derandomized under CI, see conftest.py);
``make fuzz`` runs the same properties with 300 examples each (FUZZ_N=... for more).
"""

import pytest
from fuzz_core import fuzz_tests

FUZZ_EXAMPLES = 12  # per property: ~20-40 s in all on 2 busy cores


@pytest.mark.parametrize("test", fuzz_tests(FUZZ_EXAMPLES), ids=lambda t: t.__name__)
def test_fuzz(test):
    test()
