"""numba kernels of the expert-advice forecasters of the literature, in lanes.

AdaHedge, Squint, BOA, ML-Poly, Fixed-share and anytime Hedge.  Each keeps the
log-weights ``a`` whose softmax is its mixture, and updates them once per
round from the round's rewards, the mixture that was played and its reward.
The registry entries in :mod:`xnas.pea.forecasters` document each update and
its guarantee; tests hold every kernel to an independent NumPy reference.

Every kernel here works on ``G`` runs at once, laid out as in
:mod:`xnas.pea.kernels.lanes` (entry ``k = i G + g`` of a per-expert array is expert
``i`` of lane ``g``); :mod:`xnas.pea.kernels.lane_run` plays the seeds of a Monte
Carlo run in lanes, and the convex environment, whose rewards depend on the
mixture, calls :func:`_expert_step` round by round with one lane.  Per-expert
state: ``st`` (``ST_ROWS`` rows of ``n G``); per-lane state: ``sc``
(``SC_SIZE`` rows of ``G``).

The papers state losses in ``[0, 1]``; the simulator plays rewards in
``[-L, L]``.  A reward ``R`` is the loss ``(L - R) / (2 L)`` up to an affine
map, so the instantaneous regret of expert ``k`` in loss units is
``rho_k = (R_k - u . R) / (2 L)`` in ``[-1, 1]``, and a learning rate tuned
for unit-range losses becomes ``eta / (2 L)`` on rewards.

Speed: the per-expert loops use the branch-free exp/log of
:mod:`xnas.pea.kernels.vecmath`, so they vectorise across experts and lanes; the rare
cases that need a branch (AdaHedge before its first mixability gap, a
Fixed-share weight below 1e-300) are redone lane by lane after the vectorised
loop.  The loops over the rounds
between two events are in :mod:`xnas.pea.kernels.expert_segments`; Squint's steps are
in :mod:`xnas.pea.kernels.squint`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from xnas.pea.kernels.lanes import (LN_M, LN_RBAR, LN_S, LN_X, WD_B, WD_PI, WD_PRIOR, WD_W, WD_X, _lane_max, _lane_sum,
                            _spread)
from xnas.pea.kernels.squint import _squint_step
from xnas.pea.kernels.vecmath import _exp_v, _log1p_v, _log_v, _max4, _sum4

# Forecaster ids, continuing those of xnas.pea.kernels.
FC_ADAHEDGE = 7
FC_SQUINT = 8
FC_BOA = 9
FC_MLPOLY = 10
FC_FIXED_SHARE = 11
FC_HEDGE_ANYTIME = 12

# Rows of the per-expert state ``st`` (each of n G entries).
ST_ROWS = 4
# Rows of the per-lane state ``sc``: AdaHedge's cumulative mixability gap, its
# current learning rate, and ln N.
SC_SIZE = 3

_LN_HALF = math.log(0.5)
# Kernels called from the segment loops are inlined by LLVM (``forceinline``):
# numba's own inlining (``inline="always"``) types every copy anew and tripled
# the compile time.  BOA's step keeps numba's inlining, without which LLVM
# leaves its loop scalar (half the speed).
_FAST = {"cache": True, "fastmath": {"contract"}, "error_model": "numpy", "forceinline": True}
_IR_INLINE = {"cache": True, "fastmath": {"contract"}, "error_model": "numpy", "inline": "always"}


@njit(cache=True)
def _expert_init(fc_id, G, logw0, a, st, sc, wd):
    """Initial state of ``G`` lanes: the log prior in ``a`` and ``wd[WD_PRIOR]``,
    the prior in ``wd[WD_PI]``;
    BOA's learning rates start at 1/2, AdaHedge's at infinity; Fixed-share
    keeps its prior and its mixture in linear space."""
    n = logw0.shape[0]
    for i in range(n):
        for g in range(G):
            k = i * G + g
            a[k] = logw0[i]
            wd[WD_PRIOR, k] = logw0[i]
            wd[WD_PI, k] = math.exp(logw0[i])
            for r in range(st.shape[0]):
                st[r, k] = 0.0
            if fc_id == FC_BOA:
                st[2, k] = 0.5
                st[3, k] = math.log(-logw0[i]) if logw0[i] < 0.0 else -np.inf
            if fc_id == FC_FIXED_SHARE:
                st[0, k] = math.exp(logw0[i])
                st[1, k] = st[0, k]
    for g in range(G):
        sc[0, g] = 0.0
        sc[1, g] = np.inf
        sc[2, g] = math.log(n)


@njit(**_FAST)
def _ftl_gap(R, j, w, rbar, g, G):
    """FTL's mix loss is the best reward among the leaders it mixed (lane ``g``)."""
    mx = -np.inf
    for i in range(w.shape[0] // G):
        k = i * G + g
        if w[k] > 0.0 and R[j, k] > mx:
            mx = R[j, k]
    return mx - rbar


@njit(**_FAST)
def _leaders(S, prior, a, g, G):
    """Lane ``g``: the prior restricted to the experts with the largest cumulative reward."""
    n = S.shape[0] // G
    best = -np.inf
    for i in range(n):
        best = max(best, S[i * G + g])
    for i in range(n):
        k = i * G + g
        a[k] = prior[k] if S[k] == best else -np.inf


@njit(**_FAST)
def _hedge_step(t, inv, S, a, sc, wd):
    """``eta_t = sqrt(8 ln N / (t + 1)) / (2 L)`` on the cumulative rewards."""
    et = math.sqrt(8.0 * sc[2, 0] / (t + 1)) * inv
    P = wd[WD_PRIOR]
    for k in range(a.shape[0]):
        a[k] = P[k] + et * S[k]


@njit(**_FAST)
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
        eta = sc[1, 0]
        for k in range(nG):
            x[k] = _masked_product(eta, R[j, k], w[k])
        m = _max4(x)
        ln[LN_M, 0] = m
        for k in range(nG):
            x[k] = w[k] * _exp_v(x[k] - m)
        ln[LN_X, 0] = _sum4(x)
    else:
        b = wd[WD_B]
        _spread(sc[1], G, b)
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
        ln[LN_X, g] = mixed * (sc[0, g] / sc[2, g]) - ln[LN_RBAR, g]
    for g in range(G):
        if sc[1, g] == np.inf:
            ln[LN_X, g] = _ftl_gap(R, j, w, ln[LN_RBAR, g], g, G)
    for g in range(G):
        sc[0, g] += max(ln[LN_X, g], 0.0)
        sc[1, g] = sc[2, g] / sc[0, g] if sc[0, g] > 0.0 else np.inf
    if G == 1:
        eta = sc[1, 0]
        for k in range(nG):
            a[k] = P[k] + eta * S[k]
    else:
        b = wd[WD_B]
        _spread(sc[1], G, b)
        for k in range(nG):
            a[k] = P[k] + b[k] * S[k]
    for g in range(G):
        if sc[1, g] == np.inf:
            _leaders(S, P, a, g, G)


@njit(**_FAST)
def _masked_product(eta, r, w):
    """``eta r`` for an expert in the mixture (``w > 0``), ``-inf`` for the others."""
    y = eta * r
    return y if w > 0.0 else -np.inf


@njit(**_FAST)
def _fixed_share_in_logs(eta, alpha, R, j, a, st, prior, g, G):
    """Lane ``g``'s Fixed-share round in log space from the old ``a``, for weights
    below 1e-300 where the linear form loses digits; re-derives ``st[1]``."""
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
        st[1, k] = _exp_v(a[k] - m)


@njit(**_FAST)
def _fixed_share_step(eta, alpha, R, j, a, st, wd, ln, G):
    """Hedge step ``v ~ u exp(eta R)``, then ``u = (1 - alpha) v + alpha pi``.

    The mixture ``x = st[1]`` (unnormalised; ``st[0]`` is the prior) is carried
    in linear space, as the recursion is written, so that a round's critical
    path holds no exponential: ``exp(eta R)`` depends on the rewards alone.
    The log-weights ``a = ln x`` follow.  A lane with a weight below 1e-300 is
    redone in log space (:func:`_fixed_share_in_logs`).
    """
    nG = a.shape[0]
    w = wd[WD_W]
    x = st[1]
    for k in range(nG):
        w[k] = eta * R[j, k]
    if G == 1:
        mr = _max4(w)
        for k in range(nG):
            w[k] = x[k] * _exp_v(eta * R[j, k] - mr)
        c = (1.0 - alpha) / _sum4(w)
        for k in range(nG):
            w[k] = _fixed_share_mix(c, w[k], alpha, st[0, k], x, k)
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
        w[k] = _fixed_share_mix(b[k], w[k], alpha, st[0, k], x, k)
    _lane_max(w, G, ln[LN_M])
    _spread(ln[LN_M], G, b)
    for k in range(nG):
        a[k] = _log_v(x[k]) if b[k] == 0.0 else a[k]
    for g in range(G):
        if ln[LN_M, g] > 0.0:
            _fixed_share_in_logs(eta, alpha, R, j, a, st, wd[WD_PRIOR], g, G)


@njit(**_FAST)
def _fixed_share_mix(c, v, alpha, prior, x, k):
    """``x[k] = c v + alpha pi_k``; returns 1 where that falls below 1e-300, else 0."""
    y = c * v + alpha * prior
    x[k] = y
    return 1.0 if y < 1e-300 else 0.0


@njit(**_IR_INLINE)
def _boa_expert(k, rho, a, st, P):
    """Second-order excess losses, per-expert learning rates (Wintenberger 2017)."""
    st[0, k] += rho - st[2, k] * rho * rho
    st[1, k] += rho * rho
    q = -P[k] / st[1, k]
    # eta = min(1/2, sqrt q); ln eta = (ln(-ln pi) - ln V) / 2 beside it, not after it
    small = (st[1, k] > 0.0) & (q < 0.25)
    e = math.sqrt(q) if small else 0.5
    le = 0.5 * (st[3, k] - _log_v(st[1, k])) if small else _LN_HALF
    st[2, k] = e
    a[k] = P[k] + le + e * st[0, k]


@njit(**_FAST)
def _mlpoly_expert(k, rho, a, st, P):
    """Polynomial potential with per-expert rates 1 / (1 + V) (Gaillard et al. 2014):
    ``w ~ pi R_+ / (1 + V)``.  Returns 1 where the regret is positive, else 0."""
    st[0, k] += rho
    st[1, k] += rho * rho
    pos = st[0, k] > 0.0
    v = P[k] + _log_v(st[0, k] / (1.0 + st[1, k]))
    a[k] = v if pos else -np.inf
    return 1.0 if pos else 0.0


@njit(**_IR_INLINE)
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


@njit(**_FAST)
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


@njit(**_IR_INLINE)
def _rho_step(fc_id, inv, R, j, a, st, wd, ln, G):
    """BOA, ML-Poly and Squint: steps on the instantaneous regrets ``rho``."""
    if fc_id == FC_BOA:
        _boa_step(inv, R, j, a, st, wd, ln, G)
    elif fc_id == FC_MLPOLY:
        _mlpoly_step(inv, R, j, a, st, wd, ln, G)
    else:
        _squint_step(inv, R, j, a, st, wd, ln, G)


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def _expert_step(fc_id, eta, L, alpha, t, R, j, S, a, st, sc, wd, ln, G):
    """Update the log-weights ``a`` after round ``t`` (1-based), whose rewards are
    ``R[j]``.  ``wd[WD_W] = exp(a - max a)``, ``ln[LN_S]`` (its sum) and
    ``ln[LN_RBAR]`` (the mixture's reward) describe the round's mixture; ``S``
    already holds the cumulative rewards through round ``t``.
    """
    inv = 1.0 / (2.0 * L)
    if fc_id == FC_HEDGE_ANYTIME:
        _hedge_step(t, inv, S, a, sc, wd)
    elif fc_id == FC_FIXED_SHARE:
        _fixed_share_step(eta, alpha, R, j, a, st, wd, ln, G)
    elif fc_id == FC_ADAHEDGE:
        _adahedge_step(R, j, S, a, sc, wd, ln, G)
    else:
        _rho_step(fc_id, inv, R, j, a, st, wd, ln, G)
