"""The simulator's random numbers: splitmix64, one 64-bit counter per run.

Every run seeds its own stream from its seed alone (:func:`_seed_state`), so a
seed's results do not depend on the number of threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_SM_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_SM_M1 = np.uint64(0xBF58476D1CE4E5B9)
_SM_M2 = np.uint64(0x94D049BB133111EB)
_U30 = np.uint64(30)
_U27 = np.uint64(27)
_U31 = np.uint64(31)
_U11 = np.uint64(11)
_U1 = np.uint64(1)
_INV53 = 1.0 / 9007199254740992.0


@njit(cache=True)
def _mix64(z):
    z = (z ^ (z >> _U30)) * _SM_M1
    z = (z ^ (z >> _U27)) * _SM_M2
    return z ^ (z >> _U31)


@njit(cache=True)
def _seed_state(seed, state):
    # Hash the seed so that neighbouring seeds start far apart in the stream.
    state[0] = _mix64(np.uint64(seed) + _SM_GAMMA)


@njit(cache=True)
def _next_u64(state):
    """splitmix64: a counter and a mixer; one call per 64 random bits."""
    s = state[0] + _SM_GAMMA
    state[0] = s
    return _mix64(s)


@njit(cache=True)
def _uniform(state):
    return np.float64(_next_u64(state) >> _U11) * _INV53


@njit(cache=True)
def _gauss(state):
    # Box-Muller; 1 - U avoids log(0).
    u1 = 1.0 - _uniform(state)
    u2 = _uniform(state)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True)
def _randint(state, n):
    return np.int64(_uniform(state) * n)
