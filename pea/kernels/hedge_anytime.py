"""Hedge with the anytime learning rate (Cesa-Bianchi and Lugosi 2006, Theorem 2.3), in lanes.

``u_t ~ pi exp(eta_t S_{t-1})`` with ``eta_t = sqrt(8 ln N / t) / (2 L)`` on
the cumulative rewards ``S``.  Guarantee: ``Regret_T <= 2L (sqrt(2 T ln N) +
sqrt(ln N / 8))`` (checked by ``xnas-sim validate``).
"""

from __future__ import annotations

import math

from numba import njit

from xnas.pea.kernels.jit import FAST, INLINE
from xnas.pea.kernels.lanes import _mix_lanes
from xnas.pea.kernels.layout import SC_LN_N, WD_PRIOR


def bound(T: int, n: int, L: float, **_) -> float:
    """``s (2 sqrt(T ln N / 2) + sqrt(ln N / 8))``, ``s = 2 L``."""
    s = 2.0 * L
    return s * (2.0 * math.sqrt(T * math.log(n) / 2.0) + math.sqrt(math.log(n) / 8.0))


BOUND_TEXT = "s (2 sqrt(T ln N / 2) + sqrt(ln N / 8))"


@njit(**INLINE)
def _hedge_step(t, inv, S, a, sc, wd):
    """``eta_t = sqrt(8 ln N / (t + 1)) / (2 L)`` on the cumulative rewards."""
    et = math.sqrt(8.0 * sc[SC_LN_N, 0] / (t + 1)) * inv
    P = wd[WD_PRIOR]
    for k in range(a.shape[0]):
        a[k] = P[k] + et * S[k]


@njit(**FAST)
def init(G, logw0, a, st, sc, wd):
    """Nothing beyond the lanes' common start."""


@njit(**FAST)
def step(eta, L, alpha, t, R, j, S, a, st, sc, wd, ln, G):
    """The log-weights after round ``t`` (1-based)."""
    inv = 1.0 / (2.0 * L)
    _hedge_step(t, inv, S, a, sc, wd)


@njit(**FAST)
def segment(R, j0, j1, t, eta, L, alpha, G, a, S, st, sc, wd, ln):
    """Rounds ``j0 .. j1-1`` of ``R``, ``t`` rounds played before: mix, account, step."""
    inv = 1.0 / (2.0 * L)
    for j in range(j0, j1):
        _mix_lanes(a, S, R, j, G, wd, ln)
        _hedge_step(t + j - j0 + 1, inv, S, a, sc, wd)
