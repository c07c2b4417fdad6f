"""Squint's steps (Koolen and van Erven 2015), in lanes (:mod:`xnas.pea.kernels.lanes`).

Squint weighs expert ``k`` by ``pi_k E_k``, its prior times its evidence, and
:func:`xnas.pea.squint_evidence.squint_evidence_parts` writes the evidence as
``E = f1 + e^{p2} f2`` with no exponential or logarithm of its own.  A mixture
needs its weights only up to a common factor, so the lanes' rounds play

    ``w_k = pi_k e^{-m} f1_k + e^{A_k - m} f2_k``,  ``A_k = ln pi_k + p2_k``,

with ``m`` the largest ``A`` of the lane: one exponential an expert, as
Hedge's, where the log-weights cost an exponential, a logarithm and then the
mixture's exponential.  Neither term overflows: ``pi_k e^{-m} <= e^{-p2_k}``,
and where the parts are used (``V >= 1``) ``f1 <= 1/2`` and ``|f2| < 2`` (the
tail, scaled by ``e^{-p2}``, comes off ``f2``: :func:`squint_tail`).  An expert outside the parts' domain carries ``A = ln pi + ln E``,
``f1 = 0``, ``f2 = 1``.  The log-weights ``a`` are written from the factors
at the end of each segment, for the events, and round by round in the convex
environment's loop (:func:`_squint_step`).

Workspace rows: ``WD_X`` holds ``A``, ``WD_F1`` and ``WD_F2`` the factors,
``WD_PI`` the prior; ``WD_W`` marks the experts that need a second look until
the round's mixture overwrites it, and ``WD_B``, ``WD_PACK_R`` and
``WD_PACK_V`` hold the leaders packed for their tails.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from xnas.pea.kernels.jit import FAST, INLINE
from xnas.pea.kernels.lanes import _lane_max, _play_mixture, _spread
from xnas.pea.kernels.layout import (LN_M, LN_RBAR, LN_X, ST_SUM, ST_VAR, WD_B, WD_F1, WD_F2, WD_PACK_R, WD_PACK_V,
                                     WD_PI, WD_PRIOR, WD_W, WD_X)
from xnas.pea.kernels.squint_evidence import KIND_CAREFUL, KIND_FAST, squint_evidence_parts, squint_log_evidence, squint_tail
from xnas.pea.kernels.vecmath import _exp_v, _log_v, _max4

# doubles in the widest vector register (AVX-512); more only pads a few tails
_VECTOR = 8


@njit(**INLINE)
def _squint_log_weights(a, wd):
    """``a = ln pi + ln E = A + ln(f2 + f1 e^{ln pi - A})`` from the factored
    weights (``f1 = 0``, ``f2 = 1`` where ``A`` holds the careful evidence).
    Taken from the rows, not recomputed from the state: the factors come from
    memory, so no product of theirs can be fused into a sum one way in a
    vector loop and another in its scalar remainder."""
    P = wd[WD_PRIOR]
    A = wd[WD_X]
    f1 = wd[WD_F1]
    f2 = wd[WD_F2]
    for k in range(a.shape[0]):
        d = P[k] - A[k]
        # d = -p2 <= 0 where f1 counts; a careful expert's d may be large (and f1 = 0)
        la = A[k] + _log_v(f2[k] + f1[k] * _exp_v(d if d < 0.0 else 0.0))
        # an expert without prior weight stays at -inf (d would be nan)
        a[k] = la if A[k] > -np.inf else -np.inf


@njit(**INLINE)
def _squint_step(inv, R, j, a, st, wd, ln, G):
    """The log-domain step (the convex environment's round-by-round loop):
    :func:`_squint_update`, then :func:`_squint_log_weights`."""
    _squint_update(inv, R, j, st, wd, ln, G)
    _squint_log_weights(a, wd)


@njit(**INLINE)
def _put_parts(k, R, V, P, A, f1, f2, mark):
    p2, x1, x2, kind = squint_evidence_parts(R, V)
    A[k] = P[k] + p2
    f1[k] = x1
    f2[k] = x2
    mark[k] = kind


@njit(**INLINE)
def _second_look(st, wd):
    """The marked experts: the careful evidence (rare after the first rounds),
    or the tail off ``f2``.  A lane's leader needs its tail round after round,
    so the tails are computed side by side, in whole vectors: the experts'
    states are packed into ``wd[WD_PACK_R]`` and ``wd[WD_PACK_V]`` (padded with
    a point whose result goes unused), their indices into ``wd[WD_B]``."""
    P = wd[WD_PRIOR]
    A = wd[WD_X]
    mark = wd[WD_W]
    idx = wd[WD_B]
    pr = wd[WD_PACK_R]
    pv = wd[WD_PACK_V]
    n = A.shape[0]
    c = 0
    for k in range(n):
        if mark[k] != KIND_FAST:
            if mark[k] == KIND_CAREFUL:
                A[k] = P[k] + squint_log_evidence(st[ST_SUM, k], st[ST_VAR, k])
                wd[WD_F1, k] = 0.0
                wd[WD_F2, k] = 1.0
            else:
                idx[c] = k
                pr[c] = st[ST_SUM, k]
                pv[c] = st[ST_VAR, k]
                c += 1
    if c == 0:
        return
    # a lone run's one or two leaders go as they are (padding them costs latency)
    top = c if c <= _VECTOR // 4 else min((c + _VECTOR - 1) // _VECTOR * _VECTOR, n)
    for i in range(c, top):
        pr[i] = 0.0
        pv[i] = 1.0
    for i in range(top):
        pr[i] = squint_tail(pr[i], pv[i])
    for i in range(c):
        wd[WD_F2, np.int64(idx[i])] -= pr[i]


@njit(**INLINE)
def _squint_start(st, wd):
    """Factored weights from the state, at the start of a segment."""
    P = wd[WD_PRIOR]
    for k in range(P.shape[0]):
        _put_parts(k, st[ST_SUM, k], st[ST_VAR, k], P, wd[WD_X], wd[WD_F1], wd[WD_F2], wd[WD_W])
    _second_look(st, wd)


@njit(**INLINE)
def _squint_update(inv, R, j, st, wd, ln, G):
    """Add round ``j``'s regrets to the state, then the factored weights."""
    P = wd[WD_PRIOR]
    b = wd[WD_B]
    _spread(ln[LN_RBAR], G, b)
    s0 = st[ST_SUM]
    s1 = st[ST_VAR]
    A = wd[WD_X]
    f1 = wd[WD_F1]
    f2 = wd[WD_F2]
    mark = wd[WD_W]
    for k in range(A.shape[0]):
        rho = (R[j, k] - b[k]) * inv
        s0[k] += rho
        s1[k] += rho * rho
        _put_parts(k, s0[k], s1[k], P, A, f1, f2, mark)
    _second_look(st, wd)


@njit(**INLINE)
def _squint_mix(S, R, j, G, wd, ln):
    """Play round ``j`` with the factored weights (one lane keeps ``m`` and
    ``e^{-m}`` in registers, as :func:`xnas.pea.kernels.lanes._mix_lanes` does).  The
    second term is added in a loop of its own: a sum of two products may be
    fused either way, and a lane's bits must not depend on its place."""
    A = wd[WD_X]
    f1 = wd[WD_F1]
    f2 = wd[WD_F2]
    pi = wd[WD_PI]
    w = wd[WD_W]
    # e^{-m} waits on m like the exponentials of the first loop, but not on them
    if G == 1:
        m = _max4(A)
        for k in range(A.shape[0]):
            w[k] = _exp_v(A[k] - m) * f2[k]
        em = _exp_v(-m)
        for k in range(A.shape[0]):
            w[k] += pi[k] * em * f1[k]
    else:
        b = wd[WD_B]
        _lane_max(A, G, ln[LN_M])
        _spread(ln[LN_M], G, b)
        for k in range(A.shape[0]):
            w[k] = _exp_v(A[k] - b[k]) * f2[k]
        for g in range(G):
            ln[LN_X, g] = _exp_v(-ln[LN_M, g])
        _spread(ln[LN_X], G, b)
        for k in range(A.shape[0]):
            w[k] += pi[k] * b[k] * f1[k]
    _play_mixture(w, S, R, j, G, ln)


@njit(**FAST)
def init(G, logw0, a, st, sc, wd):
    """Nothing beyond the lanes' common start."""


@njit(**FAST)
def step(eta, L, alpha, t, R, j, S, a, st, sc, wd, ln, G):
    """The log-weights after round ``t``, whose rewards are ``R[j]``."""
    inv = 1.0 / (2.0 * L)
    _squint_step(inv, R, j, a, st, wd, ln, G)


@njit(**FAST)
def segment(R, j0, j1, t, eta, L, alpha, G, a, S, st, sc, wd, ln):
    """Rounds ``j0 .. j1-1`` of ``R``: mix, account, step."""
    # factored weights within the segment, log-weights at its end
    inv = 1.0 / (2.0 * L)
    _squint_start(st, wd)
    for j in range(j0, j1):
        _squint_mix(S, R, j, G, wd, ln)
        _squint_update(inv, R, j, st, wd, ln, G)
    _squint_log_weights(a, wd)
