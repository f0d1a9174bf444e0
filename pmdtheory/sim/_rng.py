r"""Counter-based random numbers for Numba kernels.

Every random number in the simulators is a pure function of a key
``(seed, iteration, context, sample, stream)``: no generator state is carried
between calls, so a kernel that runs its outer loop in parallel draws exactly
the same numbers for any thread count and any scheduling.

The hash is SplitMix64's finaliser (Steele, Lea and Flood 2014), applied as a
chain over the key words; it passes BigCrush as a counter-based generator.

References
----------
G. L. Steele, D. Lea, C. H. Flood, "Fast splittable pseudorandom number
generators", OOPSLA 2014.
"""

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_M53 = 1.0 / 9007199254740992.0  # 2**-53

# stream identifiers: independent uses of the same (iteration, context, sample) key
STREAM_ACTION = 0
STREAM_REWARD = 1
STREAM_NORMAL = 2
STREAM_TRANSITION = 3


@njit(cache=True, inline="always")
def _mix64(z):
    # SplitMix64 finaliser; uint64 arithmetic wraps modulo 2**64 by design.
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def hash_key(seed, iteration, context, sample, stream):
    """64-bit hash of a 5-word key (all non-negative integers)."""
    h = _mix64(np.uint64(seed) + _GOLDEN)
    h = _mix64(h ^ (np.uint64(iteration) + _GOLDEN))
    h = _mix64(h ^ (np.uint64(context) + _GOLDEN))
    h = _mix64(h ^ (np.uint64(sample) + _GOLDEN))
    return _mix64(h ^ (np.uint64(stream) + _GOLDEN))


@njit(cache=True)
def uniform(seed, iteration, context, sample, stream):
    """Uniform float in [0, 1) with 53 random bits."""
    return np.float64(hash_key(seed, iteration, context, sample, stream) >> _S11) * _TWO_M53


@njit(cache=True)
def normal(seed, iteration, context, sample, stream):
    """Standard normal by Box-Muller from two hashed uniforms."""
    u1 = uniform(seed, iteration, context, 2 * sample, stream)
    u2 = uniform(seed, iteration, context, 2 * sample + 1, stream)
    # 1 - u1 lies in (0, 1], so the logarithm is finite.
    return np.sqrt(-2.0 * np.log(1.0 - u1)) * np.cos(2.0 * np.pi * u2)


def uniforms(seed, iteration, context, sample, stream=STREAM_ACTION):
    """Vectorised :func:`uniform` for numpy integer arrays (tests and references)."""
    key = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.uint64) for v in (seed, iteration, context, sample, stream))
    )
    with np.errstate(over="ignore"):

        def mix(z):
            z = (z ^ (z >> _S30)) * _M1
            z = (z ^ (z >> _S27)) * _M2
            return z ^ (z >> _S31)

        h = mix(key[0] + _GOLDEN)
        for word in key[1:]:
            h = mix(h ^ (word + _GOLDEN))
    return (h >> _S11).astype(np.float64) * _TWO_M53
