"""ML-Poly (Gaillard, Stoltz and van Erven 2014), in lanes.

Polynomial potential (p = 2) with per-expert learning rates:
``u_{t+1,k} ~ pi_k eta_tk (R_tk)_+`` with ``R_tk = sum_{s<=t} rho_sk`` and
``eta_tk = 1 / (1 + sum_{s<=t} rho_sk^2)``; the prior while no regret is
positive.  Its bound (their Theorem 3) holds up to lower-order terms and is
not checked.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from xnas.pea.kernels.jit import FAST, INLINE, IR_INLINE
from xnas.pea.kernels.lanes import _lane_max, _mix_lanes, _spread
from xnas.pea.kernels.layout import LN_RBAR, LN_X, ST_SUM, ST_VAR, WD_B, WD_PRIOR, WD_X
from xnas.pea.kernels.vecmath import _log_v


@njit(**FAST)
def init(G, logw0, a, st, sc, wd):
    """Nothing beyond the lanes' common start."""


@njit(**INLINE)
def _mlpoly_expert(k, rho, a, st, P):
    """``w ~ pi R_+ / (1 + V)``.  Returns 1 where the regret is positive, else 0."""
    st[ST_SUM, k] += rho
    st[ST_VAR, k] += rho * rho
    pos = st[ST_SUM, k] > 0.0
    v = P[k] + _log_v(st[ST_SUM, k] / (1.0 + st[ST_VAR, k]))
    a[k] = v if pos else -np.inf
    return 1.0 if pos else 0.0


@njit(**INLINE)
def _mlpoly_step(inv, R, j, a, st, wd, ln, G):
    """:func:`_mlpoly_expert` on every expert; a lane with no positive regret
    falls back to its prior."""
    P = wd[WD_PRIOR]
    x = wd[WD_X]
    if G == 1:
        rb = ln[LN_RBAR, 0]
        for k in range(a.shape[0]):
            x[k] = _mlpoly_expert(k, (R[j, k] - rb) * inv, a, st, P)
    else:
        b = wd[WD_B]
        _spread(ln[LN_RBAR], G, b)
        for k in range(a.shape[0]):
            x[k] = _mlpoly_expert(k, (R[j, k] - b[k]) * inv, a, st, P)
    _lane_max(x, G, ln[LN_X])
    for g in range(G):
        if ln[LN_X, g] == 0.0:
            for i in range(a.shape[0] // G):
                a[i * G + g] = P[i * G + g]


@njit(**FAST)
def step(eta, L, alpha, t, R, j, S, a, st, sc, wd, ln, G):
    """The log-weights after round ``t``, whose rewards are ``R[j]``."""
    inv = 1.0 / (2.0 * L)
    _mlpoly_step(inv, R, j, a, st, wd, ln, G)


@njit(**FAST)
def segment(R, j0, j1, t, eta, L, alpha, G, a, S, st, sc, wd, ln):
    """Rounds ``j0 .. j1-1`` of ``R``: mix, account, step."""
    inv = 1.0 / (2.0 * L)
    for j in range(j0, j1):
        _mix_lanes(a, S, R, j, G, wd, ln)
        _mlpoly_step(inv, R, j, a, st, wd, ln, G)
