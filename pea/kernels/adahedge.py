"""AdaHedge (de Rooij, van Erven, Gruenwald and Koolen 2014), in lanes.

Losses ``l = -R``.  Weights ``u_t ~ pi exp(eta_t S_{t-1})`` with ``eta_t = ln N
/ Delta_{t-1}`` (follow the leader over the leaders while ``Delta = 0``), the
mixability gap ``delta_t = h_t - m_t >= 0`` added to ``Delta`` each round.
Guarantee (their Theorem 6, the variance at most ``s^2 / 4``): ``Regret_T <=
s sqrt(T ln N) + s (4/3 ln N + 2)``, ``s = 2L`` (checked by ``xnas-sim validate``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from xnas.pea.kernels.jit import FAST, INLINE
from xnas.pea.kernels.lanes import _lane_max, _lane_sum, _mix_lanes, _spread
from xnas.pea.kernels.layout import (LN_M, LN_RBAR, LN_S, LN_X, SC_ETA, SC_GAP, SC_LN_N, WD_B, WD_PRIOR, WD_W,
                                     WD_X)
from xnas.pea.kernels.vecmath import _exp_v, _log_v, _max4, _sum4


def bound(T: int, n: int, L: float, **_) -> float:
    """AdaHedge's worst-case bound ``s sqrt(T ln N) + s (4/3 ln N + 2)``, ``s = 2 L``."""
    s = 2.0 * L
    return s * math.sqrt(T * math.log(n)) + s * (4.0 / 3.0 * math.log(n) + 2.0)


BOUND_TEXT = "s sqrt(T ln N) + s (4/3 ln N + 2)"


@njit(**FAST)
def init(G, logw0, a, st, sc, wd):
    """Nothing beyond the lanes' common start (eta = inf: FTL until the first gap)."""


@njit(**INLINE)
def _ftl_gap(R, j, w, rbar, g, G):
    """FTL's mix loss is the best reward among the leaders it mixed (lane ``g``)."""
    mx = -np.inf
    for i in range(w.shape[0] // G):
        k = i * G + g
        if w[k] > 0.0 and R[j, k] > mx:
            mx = R[j, k]
    return mx - rbar


@njit(**INLINE)
def _leaders(S, prior, a, g, G):
    """Lane ``g``: the prior restricted to the experts with the largest cumulative reward."""
    n = S.shape[0] // G
    best = -np.inf
    for i in range(n):
        best = max(best, S[i * G + g])
    for i in range(n):
        k = i * G + g
        a[k] = prior[k] if S[k] == best else -np.inf


@njit(**INLINE)
def _masked_product(eta, r, w):
    """``eta r`` for an expert in the mixture (``w > 0``), ``-inf`` for the others."""
    y = eta * r
    return y if w > 0.0 else -np.inf


@njit(**INLINE)
def _adahedge_step(R, j, S, a, sc, wd, ln, G):
    """Add the round's mixability gap, then re-weight with eta = ln N / Delta.

    ``w = wd[WD_W] = exp(a - max a)`` are the round's unnormalised weights and
    ``s = ln[LN_S]`` their sum, so ``sum_i u_i exp(eta R_i - m) = sum_i w_i
    exp(eta R_i - m) / s``; the exponentials do not wait for the weights.
    Lanes still at ``eta = inf`` (FTL) are redone after the vectorised loops.
    One lane keeps eta and the maximum in registers (as in :func:`_mix_lanes`).
    """
    nG = a.shape[0]
    w = wd[WD_W]
    x = wd[WD_X]
    P = wd[WD_PRIOR]
    if G == 1:
        eta = sc[SC_ETA, 0]
        for k in range(nG):
            x[k] = _masked_product(eta, R[j, k], w[k])
        m = _max4(x)
        ln[LN_M, 0] = m
        for k in range(nG):
            x[k] = w[k] * _exp_v(x[k] - m)
        ln[LN_X, 0] = _sum4(x)
    else:
        b = wd[WD_B]
        _spread(sc[SC_ETA], G, b)
        for k in range(nG):
            x[k] = _masked_product(b[k], R[j, k], w[k])
        _lane_max(x, G, ln[LN_M])
        _spread(ln[LN_M], G, b)
        for k in range(nG):
            x[k] = w[k] * _exp_v(x[k] - b[k])
        _lane_sum(x, G, ln[LN_X])
    # the gaps of all lanes in one vectorised loop, then FTL's few lanes
    for g in range(G):
        # 1 / eta = Delta / ln N is known before the round: no division on the way
        mixed = ln[LN_M, g] + (_log_v(ln[LN_X, g]) - _log_v(ln[LN_S, g]))
        ln[LN_X, g] = mixed * (sc[SC_GAP, g] / sc[SC_LN_N, g]) - ln[LN_RBAR, g]
    for g in range(G):
        if sc[SC_ETA, g] == np.inf:
            ln[LN_X, g] = _ftl_gap(R, j, w, ln[LN_RBAR, g], g, G)
    for g in range(G):
        sc[SC_GAP, g] += max(ln[LN_X, g], 0.0)
        sc[SC_ETA, g] = sc[SC_LN_N, g] / sc[SC_GAP, g] if sc[SC_GAP, g] > 0.0 else np.inf
    if G == 1:
        eta = sc[SC_ETA, 0]
        for k in range(nG):
            a[k] = P[k] + eta * S[k]
    else:
        b = wd[WD_B]
        _spread(sc[SC_ETA], G, b)
        for k in range(nG):
            a[k] = P[k] + b[k] * S[k]
    for g in range(G):
        if sc[SC_ETA, g] == np.inf:
            _leaders(S, P, a, g, G)


@njit(**FAST)
def step(eta, L, alpha, t, R, j, S, a, st, sc, wd, ln, G):
    """The log-weights after round ``t``, whose rewards are ``R[j]``."""
    _adahedge_step(R, j, S, a, sc, wd, ln, G)


@njit(**FAST)
def segment(R, j0, j1, t, eta, L, alpha, G, a, S, st, sc, wd, ln):
    """Rounds ``j0 .. j1-1`` of ``R``: mix, account, step."""
    for j in range(j0, j1):
        _mix_lanes(a, S, R, j, G, wd, ln)
        _adahedge_step(R, j, S, a, sc, wd, ln, G)
