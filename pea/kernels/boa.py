"""Bernstein online aggregation (Wintenberger 2017), in lanes.

Linearised excess loss ``l_k = -rho_k``.  ``u_{t+1,k} ~ pi_k eta_tk
exp(-eta_tk sum_{s<=t} (l_sk + eta_{s-1,k} l_sk^2))``, ``eta_tk = min(1/2,
sqrt(ln(1/pi_k) / sum_{s<=t} l_sk^2))``.  Its second-order bound (their
Theorem 3.3) holds up to log log factors and is not checked.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from xnas.pea.kernels.jit import FAST, IR_INLINE
from xnas.pea.kernels.lanes import _mix_lanes, _spread
from xnas.pea.kernels.layout import LN_RBAR, ST_BOA_ETA, ST_BOA_LNLN, ST_SUM, ST_VAR, WD_B, WD_PRIOR
from xnas.pea.kernels.vecmath import _log_v

_LN_HALF = math.log(0.5)


@njit(**FAST)
def init(G, logw0, a, st, sc, wd):
    """Learning rates start at 1/2; ``ln(-ln pi)`` once."""
    n = logw0.shape[0]
    for i in range(n):
        for g in range(G):
            k = i * G + g
            st[ST_BOA_ETA, k] = 0.5
            st[ST_BOA_LNLN, k] = math.log(-logw0[i]) if logw0[i] < 0.0 else -np.inf


@njit(**IR_INLINE)
def _boa_expert(k, rho, a, st, P):
    """Second-order excess losses, per-expert learning rates."""
    st[ST_SUM, k] += rho - st[ST_BOA_ETA, k] * rho * rho
    st[ST_VAR, k] += rho * rho
    q = -P[k] / st[ST_VAR, k]
    # eta = min(1/2, sqrt q); ln eta = (ln(-ln pi) - ln V) / 2 beside it, not after it
    small = (st[ST_VAR, k] > 0.0) & (q < 0.25)
    e = math.sqrt(q) if small else 0.5
    le = 0.5 * (st[ST_BOA_LNLN, k] - _log_v(st[ST_VAR, k])) if small else _LN_HALF
    st[ST_BOA_ETA, k] = e
    a[k] = P[k] + le + e * st[ST_SUM, k]


@njit(**IR_INLINE)
def _boa_step(inv, R, j, a, st, wd, ln, G):
    """:func:`_boa_expert` on every expert; ``rho = (R - rbar) / (2 L)``."""
    P = wd[WD_PRIOR]
    if G == 1:
        rb = ln[LN_RBAR, 0]
        for k in range(a.shape[0]):
            _boa_expert(k, (R[j, k] - rb) * inv, a, st, P)
    else:
        b = wd[WD_B]
        _spread(ln[LN_RBAR], G, b)
        for k in range(a.shape[0]):
            _boa_expert(k, (R[j, k] - b[k]) * inv, a, st, P)


@njit(**FAST)
def step(eta, L, alpha, t, R, j, S, a, st, sc, wd, ln, G):
    """The log-weights after round ``t``, whose rewards are ``R[j]``."""
    inv = 1.0 / (2.0 * L)
    _boa_step(inv, R, j, a, st, wd, ln, G)


@njit(**FAST)
def segment(R, j0, j1, t, eta, L, alpha, G, a, S, st, sc, wd, ln):
    """Rounds ``j0 .. j1-1`` of ``R``: mix, account, step (numba inlines the
    step: without it LLVM leaves the loop scalar)."""
    inv = 1.0 / (2.0 * L)
    for j in range(j0, j1):
        _mix_lanes(a, S, R, j, G, wd, ln)
        _boa_step(inv, R, j, a, st, wd, ln, G)
