"""Shared test configuration.

Under CI (``CI`` set, as ``.ci/run`` is invoked) hypothesis draws a fixed sequence
of examples, so a submission's result does not depend on the luck of one run; local
runs keep exploring new examples (and remember failures in .hypothesis/).

``derandomize`` alone does not fix the sequence. Hypothesis (6.131 on) mixes into its
draws literal constants it collects from every *local* module in ``sys.modules``
(``pmdtheory``, ``paper_repro``, ``tools``; test files excluded), so a test drew
different examples depending on which modules earlier tests had imported: alone and
in the full suite, or after a test was added elsewhere. Under CI that pool is frozen
empty (hypothesis's global constants remain), and a test's examples depend on the
test alone. ``tests/test_hypothesis_profile.py`` checks both halves.
"""

import os

from hypothesis import settings


def freeze_local_constants() -> bool:
    """Stop hypothesis from drawing constants of the local modules imported so far.

    Returns whether there was anything to freeze: ``False`` on a hypothesis without
    the pool (before 6.131), where draws do not depend on imports in the first place.
    """
    try:
        from hypothesis.internal.conjecture import providers
    except ImportError:  # pragma: no cover - hypothesis reorganised its internals
        return False
    if not hasattr(providers, "_get_local_constants"):  # pragma: no cover
        return False
    empty = providers._local_constants.__class__()
    providers._get_local_constants = lambda: empty
    return True


settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
    freeze_local_constants()
