"""Fixed-share (Herbster and Warmuth 1998), in lanes.

Hedge step ``v ~ u exp(eta R)``, then ``u = (1 - alpha) v + alpha pi``.
Guarantee against every sequence with ``m`` switches (Cesa-Bianchi and Lugosi
2006, section 5.2; Hoeffding on rewards of range 2L):
``Regret_T^(m) <= [ln N + m ln(N / alpha) + (T - m - 1) ln(1 / (1 - alpha))] / eta + eta T L^2 / 2``
(checked by ``xnas-sim validate``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from xnas.pea.kernels.jit import FAST, INLINE
from xnas.pea.kernels.lanes import _lane_dot, _lane_max, _lane_sum, _spread
from xnas.pea.kernels.layout import LN_FC, LN_M, LN_RBAR, LN_S, LN_X, ST_FS_MIX, ST_FS_PRIOR, WD_B, WD_PRIOR, WD_W
from xnas.pea.kernels.vecmath import _exp_v, _log1p_v, _log_v, _max4, _sum4


def bound(T: int, n: int, L: float, eta: float = 1.0, alpha: float = 0.0, m: int = 0) -> float:
    """Fixed-share's bound against every sequence with at most ``m`` switches."""
    m = min(m, T - 1)
    stay = (T - m - 1) * -math.log1p(-alpha) if alpha > 0 else 0.0
    switch = m * math.log(n / alpha) if m > 0 else 0.0
    return (math.log(n) + switch + stay) / eta + eta * T * L * L / 2.0


BOUND_SHIFTING = True  # against sequences of experts with m switches
BOUND_TEXT = "[ln N + m ln(N/alpha) + (T-m-1) ln(1/(1-alpha))] / eta + eta T L^2 / 2"


@njit(**FAST)
def init(G, logw0, a, st, sc, wd):
    """The prior and the mixture, in linear space."""
    n = logw0.shape[0]
    for i in range(n):
        for g in range(G):
            k = i * G + g
            st[ST_FS_PRIOR, k] = math.exp(logw0[i])
            st[ST_FS_MIX, k] = st[ST_FS_PRIOR, k]


@njit(**INLINE)
def _fixed_share_in_logs(eta, alpha, R, j, a, st, prior, g, G):
    """Lane ``g``'s Fixed-share round in log space from the old ``a``, for weights
    below 1e-300 where the linear form loses digits; re-derives ``st[ST_FS_MIX]``."""
    n = a.shape[0] // G
    m = -np.inf
    for i in range(n):
        k = i * G + g
        a[k] += eta * R[j, k]
        m = max(m, a[k])
    s = 0.0
    for i in range(n):
        s += _exp_v(a[i * G + g] - m)
    lse = m + _log_v(s)
    la = _log_v(alpha)
    l1 = _log1p_v(-alpha)
    m = -np.inf
    for i in range(n):
        k = i * G + g
        # logaddexp(x, y) = max + log1p(exp(-|x - y|)), -inf when both are
        x = l1 + (a[k] - lse)
        y = la + prior[k]
        hi = x if x > y else y
        lo = y if x > y else x
        a[k] = hi + _log1p_v(_exp_v(lo - hi)) if hi > -np.inf else -np.inf
        m = max(m, a[k])
    for i in range(n):
        k = i * G + g
        st[ST_FS_MIX, k] = _exp_v(a[k] - m)


@njit(**INLINE)
def _fixed_share_step(eta, alpha, R, j, a, st, wd, ln, G):
    """Hedge step ``v ~ u exp(eta R)``, then ``u = (1 - alpha) v + alpha pi``.

    The mixture ``x = st[ST_FS_MIX]`` (unnormalised) is carried in linear
    space, as the recursion is written, so that a round's critical path holds
    no exponential: ``exp(eta R)`` depends on the rewards alone.  The
    log-weights ``a = ln x`` follow.  A lane with a weight below 1e-300 is
    redone in log space (:func:`_fixed_share_in_logs`).
    """
    nG = a.shape[0]
    w = wd[WD_W]
    x = st[ST_FS_MIX]
    for k in range(nG):
        w[k] = eta * R[j, k]
    if G == 1:
        mr = _max4(w)
        for k in range(nG):
            w[k] = x[k] * _exp_v(eta * R[j, k] - mr)
        c = (1.0 - alpha) / _sum4(w)
        for k in range(nG):
            w[k] = _fixed_share_mix(c, w[k], alpha, st[ST_FS_PRIOR, k], x, k)
        tiny = _max4(w) > 0.0
        if not tiny:
            for k in range(nG):
                a[k] = _log_v(x[k])
        else:
            _fixed_share_in_logs(eta, alpha, R, j, a, st, wd[WD_PRIOR], 0, 1)
        return
    b = wd[WD_B]
    _lane_max(w, G, ln[LN_M])
    _spread(ln[LN_M], G, b)
    for k in range(nG):
        w[k] = x[k] * _exp_v(eta * R[j, k] - b[k])
    _lane_sum(w, G, ln[LN_X])
    for g in range(G):
        ln[LN_X, g] = (1.0 - alpha) / ln[LN_X, g]
    _spread(ln[LN_X], G, b)
    for k in range(nG):
        w[k] = _fixed_share_mix(b[k], w[k], alpha, st[ST_FS_PRIOR, k], x, k)
    _lane_max(w, G, ln[LN_M])
    _spread(ln[LN_M], G, b)
    for k in range(nG):
        a[k] = _log_v(x[k]) if b[k] == 0.0 else a[k]
    for g in range(G):
        if ln[LN_M, g] > 0.0:
            _fixed_share_in_logs(eta, alpha, R, j, a, st, wd[WD_PRIOR], g, G)


@njit(**INLINE)
def _fixed_share_mix(c, v, alpha, prior, x, k):
    """``x[k] = c v + alpha pi_k``; returns 1 where that falls below 1e-300, else 0."""
    y = c * v + alpha * prior
    x[k] = y
    return 1.0 if y < 1e-300 else 0.0


@njit(**FAST)
def step(eta, L, alpha, t, R, j, S, a, st, sc, wd, ln, G):
    """The log-weights after round ``t``, whose rewards are ``R[j]``."""
    _fixed_share_step(eta, alpha, R, j, a, st, wd, ln, G)


@njit(**FAST)
def segment(R, j0, j1, t, eta, L, alpha, G, a, S, st, sc, wd, ln):
    """Rounds ``j0 .. j1-1`` of ``R``: mix, account, step."""
    # the mixture is the linear one the step carries (see _fixed_share_step)
    x = st[ST_FS_MIX]
    for j in range(j0, j1):
        _lane_dot(x, R, j, G, ln[LN_RBAR])
        _lane_sum(x, G, ln[LN_S])
        for g in range(G):
            ln[LN_FC, g] += ln[LN_RBAR, g] / ln[LN_S, g]
        for k in range(a.shape[0]):
            S[k] += R[j, k]
        _fixed_share_step(eta, alpha, R, j, a, st, wd, ln, G)
