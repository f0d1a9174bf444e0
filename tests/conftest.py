"""Shared test configuration.

Under CI (``CI`` set, as ``.ci/run`` is invoked) hypothesis draws a fixed sequence
of examples, so a submission's result does not depend on the luck of one run; local
runs keep exploring new examples (and remember failures in .hypothesis/).
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
