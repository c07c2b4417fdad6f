"""Shifting regret: regret against the best sequence of experts with at most m switches.

The best total reward of a sequence ``i_1, ..., i_T`` with at most ``m``
switches (rounds ``t`` with ``i_t != i_{t-1}``) is computed exactly by dynamic
programming over (switches used, current expert).  With ``B_t[j, i]`` the
best reward of a sequence that ends at expert ``i`` after round ``t`` having
switched ``j`` times,

    B_t[j, i] = R_t[i] + max(B_{t-1}[j, i], max_k B_{t-1}[j-1, k]),

and the answer is ``max_{j, i} B_T[j, i]``.  The inner maximum is taken once
per layer, so a round costs ``O(N m)`` and a run ``O(T N m)`` time and
``O(N m)`` memory.  ``m = 0`` gives the usual best expert in hindsight;
``m >= T - 1`` allows every sequence.  The simulator updates the table inside
its kernel (:mod:`xnas.pea.kernels.run`) as the rewards are drawn; the forecaster's
shifting regret is ``max B_T - sum_t u_t . R_t``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from xnas.pea.streams import check_rewards

__all__ = ["best_switching_reward"]


@njit(cache=True)
def _shift_init(dp):
    """No reward yet and no switch used: layer 0 at 0, the others unreachable."""
    for j in range(dp.shape[0]):
        for i in range(dp.shape[1]):
            dp[j, i] = 0.0 if j == 0 else -np.inf


@njit(cache=True)
def _shift_round(dp, r):
    """One round of the recursion, in place.  Layers go from the top down so
    that layer ``j - 1`` still holds the previous round when layer ``j`` reads it."""
    m = dp.shape[0] - 1
    n = dp.shape[1]
    for j in range(m, 0, -1):
        best = -np.inf
        for k in range(n):
            if dp[j - 1, k] > best:
                best = dp[j - 1, k]
        for i in range(n):
            dp[j, i] = max(dp[j, i], best) + r[i]
    for i in range(n):
        dp[0, i] += r[i]


@njit(cache=True)
def _shift_block(block, nb, dp):
    for j in range(nb):
        _shift_round(dp, block[j])


@njit(cache=True)
def _shift_best(dp):
    best = -np.inf
    for j in range(dp.shape[0]):
        for i in range(dp.shape[1]):
            if dp[j, i] > best:
                best = dp[j, i]
    return best


def best_switching_reward(rewards: np.ndarray, m: int) -> float:
    """Largest total reward of a sequence of experts with at most ``m`` switches.

    Parameters
    ----------
    rewards : ndarray (T, N)
        Rewards of every expert in every round.
    m : int
        Number of switches allowed, ``>= 0``.

    Returns
    -------
    float
        ``max over sequences (i_1..i_T) with at most m switches of sum_t R[t, i_t]``.
        A forecaster's shifting regret is this minus its cumulative reward.
    """

    R = check_rewards(rewards)
    m = int(m)
    if m < 0:
        raise ValueError(f"the number of switches must be non-negative, got {m}")
    dp = np.empty((min(m, R.shape[0] - 1) + 1, R.shape[1]))
    _shift_init(dp)
    _shift_block(R, R.shape[0], dp)
    return float(_shift_best(dp))
