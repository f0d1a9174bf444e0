"""Assertions shared by the simulator tests: a Numba step against its numpy reference."""

import numpy as np

from pmdtheory.sim import _kernels as K


def assert_step_matches(out, pi_out, stats, want, reward, kl, ent, atol):
    """New log-policy (``-inf`` in the same places), probabilities and the reward, KL and
    entropy columns of ``stats`` equal the reference's to ``atol``."""
    assert np.array_equal(np.isinf(out), np.isinf(want))
    fin = np.isfinite(want)
    np.testing.assert_allclose(out[fin], want[fin], atol=atol, rtol=0)
    np.testing.assert_allclose(pi_out, np.exp(want), atol=atol, rtol=0)
    np.testing.assert_allclose(stats[:, K.REWARD], reward, atol=atol, rtol=0)
    np.testing.assert_allclose(stats[:, K.KL], kl, atol=atol, rtol=0)
    np.testing.assert_allclose(stats[:, K.ENTROPY], ent, atol=atol, rtol=0)
