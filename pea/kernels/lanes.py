"""Lanes: several runs of one forecaster played side by side in one thread.

A round of an expert-advice forecaster is one chain of dependent steps (mix,
account, update), and with a handful of experts the latency of that chain, not
the width of the SIMD unit, sets the pace of a single run.  Runs of different
seeds are independent, so ``G`` of them are interleaved: every per-expert
array holds ``n G`` entries, expert-major (entry ``k = i G + g`` is expert
``i`` of lane ``g``), and a loop over ``k`` advances all lanes at once and
vectorises whatever ``G`` is.

Each lane does exactly the arithmetic of a run on its own, in the same order
(the reductions over experts run in expert order within a lane), so a seed's
result does not depend on which lane it has or on how many lanes share its
thread; tests hold that bit for bit.

Workspaces: ``wd`` (``WD_ROWS`` rows of ``n G``) and ``ln`` (``LN_ROWS`` rows
of ``G``), rows named in :mod:`xnas.pea.kernels.layout`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from xnas.pea.kernels.jit import INLINE, PLAIN
from xnas.pea.kernels.layout import (LN_FC, LN_M, LN_RBAR, LN_S, SC_ETA, SC_GAP, SC_LN_N, WD_B, WD_PI, WD_PRIOR,
                                     WD_W)
from xnas.pea.kernels.vecmath import _dot4, _exp_v, _max4, _sum4


@njit(**INLINE)
def _lane_max(x, G, out):
    """``out[g] = max_i x[i G + g]``."""
    n = x.shape[0] // G
    for g in range(G):
        # as xnas.pea.kernels.vecmath._max4 does for one lane (which ignores nan)
        m0 = -np.inf
        m1 = -np.inf
        m2 = -np.inf
        m3 = -np.inf
        i = 0
        while i + 4 <= n:
            v0 = x[i * G + g]
            v1 = x[(i + 1) * G + g]
            v2 = x[(i + 2) * G + g]
            v3 = x[(i + 3) * G + g]
            m0 = v0 if v0 > m0 else m0
            m1 = v1 if v1 > m1 else m1
            m2 = v2 if v2 > m2 else m2
            m3 = v3 if v3 > m3 else m3
            i += 4
        while i < n:
            v0 = x[i * G + g]
            m0 = v0 if v0 > m0 else m0
            i += 1
        m0 = m1 if m1 > m0 else m0
        m2 = m3 if m3 > m2 else m2
        out[g] = m2 if m2 > m0 else m0


@njit(**INLINE)
def _lane_sum(x, G, out):
    """``out[g] = sum_i x[i G + g]``, in the order of :func:`xnas.pea.kernels.vecmath._sum4`
    (four interleaved chains combined pairwise)."""
    n = x.shape[0] // G
    for g in range(G):
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        i = 0
        while i + 4 <= n:
            s0 += x[i * G + g]
            s1 += x[(i + 1) * G + g]
            s2 += x[(i + 2) * G + g]
            s3 += x[(i + 3) * G + g]
            i += 4
        while i < n:
            s0 += x[i * G + g]
            i += 1
        out[g] = (s0 + s1) + (s2 + s3)


@njit(**INLINE)
def _lane_dot(x, R, j, G, out):
    """``out[g] = sum_i x[i G + g] R[j, i G + g]``, in the order of :func:`xnas.pea.kernels.vecmath._dot4`."""
    n = x.shape[0] // G
    for g in range(G):
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        i = 0
        while i + 4 <= n:
            s0 += x[i * G + g] * R[j, i * G + g]
            s1 += x[(i + 1) * G + g] * R[j, (i + 1) * G + g]
            s2 += x[(i + 2) * G + g] * R[j, (i + 2) * G + g]
            s3 += x[(i + 3) * G + g] * R[j, (i + 3) * G + g]
            i += 4
        while i < n:
            s0 += x[i * G + g] * R[j, i * G + g]
            i += 1
        out[g] = (s0 + s1) + (s2 + s3)


@njit(**INLINE)
def _spread(v, G, out):
    """``out[i G + g] = v[g]``: a lane value beside each of the lane's experts."""
    if G == 1:
        # one vectorised broadcast: later vector loads of ``out`` then find the
        # data in whole vector stores (scalar stores stall them)
        c = v[0]
        for k in range(out.shape[0]):
            out[k] = c
        return
    # (indices rather than a reshaped view: numba's reshape calls out of the loop, every round)
    for i in range(out.shape[0] // G):
        for g in range(G):
            out[i * G + g] = v[g]


@njit(**INLINE)
def _mix_lanes(a, S, R, j, G, wd, ln):
    """Play round ``j`` of ``R``: ``wd[WD_W] = exp(a - max a)``, then
    :func:`_play_mixture`.

    One lane keeps its maximum in a register rather than spread in memory: a
    lone run is latency-bound, and the same operations in the same order give
    the same bits."""
    w = wd[WD_W]
    if G == 1:
        m = _max4(a)
        for k in range(a.shape[0]):
            w[k] = _exp_v(a[k] - m)
    else:
        b = wd[WD_B]
        _lane_max(a, G, ln[LN_M])
        _spread(ln[LN_M], G, b)
        for k in range(a.shape[0]):
            w[k] = _exp_v(a[k] - b[k])
    _play_mixture(w, S, R, j, G, ln)


@njit(**INLINE)
def _play_mixture(w, S, R, j, G, ln):
    """Play the unnormalised mixture ``w`` in round ``j`` of ``R``: ``ln[LN_S]``
    its sum, ``ln[LN_RBAR]`` its reward (added to ``ln[LN_FC]``); adds the
    round's rewards to the cumulative rewards ``S``."""
    if G == 1:
        s = _sum4(w)
        rbar = _dot4(w, R, j) / s
        ln[LN_S, 0] = s
        ln[LN_RBAR, 0] = rbar
        ln[LN_FC, 0] += rbar
    else:
        _lane_sum(w, G, ln[LN_S])
        _lane_dot(w, R, j, G, ln[LN_RBAR])
        for g in range(G):
            ln[LN_RBAR, g] = ln[LN_RBAR, g] / ln[LN_S, g]
            ln[LN_FC, g] += ln[LN_RBAR, g]
    for k in range(w.shape[0]):
        S[k] += R[j, k]


@njit(**PLAIN)
def _init_lanes(G, logw0, a, st, sc, wd):
    """The common start of ``G`` lanes: the log prior in ``a`` and ``wd[WD_PRIOR]``,
    the prior in ``wd[WD_PI]``, a zero state, AdaHedge's rate at infinity and
    ln N; a forecaster's own start follows (``init`` of its module)."""
    n = logw0.shape[0]
    for i in range(n):
        for g in range(G):
            k = i * G + g
            a[k] = logw0[i]
            wd[WD_PRIOR, k] = logw0[i]
            wd[WD_PI, k] = math.exp(logw0[i])
            for r in range(st.shape[0]):
                st[r, k] = 0.0
    for g in range(G):
        sc[SC_GAP, g] = 0.0
        sc[SC_ETA, g] = np.inf
        sc[SC_LN_N, g] = math.log(n)
