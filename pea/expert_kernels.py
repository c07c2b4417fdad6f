"""numba kernels of the expert-advice forecasters of the literature.

AdaHedge, Squint, BOA, ML-Poly, Fixed-share and anytime Hedge.  Each keeps the
log-weights ``a`` that :func:`xnas.pea.kernels._run_one` turns into its
mixture, and updates them once per round from the round's rewards ``r``, the
mixture ``u`` that was played and its reward ``rbar = u . r``.  The registry
entries in :mod:`xnas.pea.forecasters` document each update and its
guarantee; tests hold every kernel to an independent NumPy reference.

The papers state losses in ``[0, 1]``; the simulator plays rewards in
``[-L, L]``.  A reward ``R`` is the loss ``(L - R) / (2 L)`` up to an affine
map, so the instantaneous regret of expert ``k`` in loss units is
``rho_k = (R_k - u . R) / (2 L)`` in ``[-1, 1]``, and a learning rate tuned
for unit-range losses becomes ``eta / (2 L)`` on rewards.

Speed: between two events the rounds run in :func:`_expert_segment`, and the
per-expert loops use the branch-free exp/log of :mod:`xnas.pea.vecmath`, which
LLVM vectorises.  A round is one chain of dependent steps (mixture, reward,
update), so the steps are arranged to keep that chain short (see
docs/performance.md).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from xnas.pea.squint_evidence import squint_fast_ok, squint_log_evidence, squint_log_evidence_fast
from xnas.pea.vecmath import _exp_v, _log1p_v, _log_v, _dot4, _exp_shifted, _max4, _sum4

# Forecaster ids, continuing those of xnas.pea.kernels.
FC_ADAHEDGE = 7
FC_SQUINT = 8
FC_BOA = 9
FC_MLPOLY = 10
FC_FIXED_SHARE = 11
FC_HEDGE_ANYTIME = 12

# Rows of the per-expert state matrix ``st`` (shape (ST_ROWS, N)).
ST_ROWS = 4
# Entries of the scalar state ``sc``: AdaHedge's cumulative mixability gap, its
# current learning rate, and ln N.
SC_SIZE = 3

@njit(cache=True)
def _expert_init(fc_id, st, sc, logw0):
    """Initial state: BOA's learning rates start at 1/2, AdaHedge's at infinity;
    Fixed-share keeps its prior and its mixture in linear space."""
    for k in range(st.shape[0]):
        for i in range(st.shape[1]):
            st[k, i] = 0.0
    if fc_id == FC_BOA:
        for i in range(st.shape[1]):
            st[2, i] = 0.5
            st[3, i] = math.log(-logw0[i]) if logw0[i] < 0.0 else -np.inf
    if fc_id == FC_FIXED_SHARE:
        for i in range(st.shape[1]):
            st[0, i] = math.exp(logw0[i])
            st[1, i] = st[0, i]
    sc[0] = 0.0
    sc[1] = np.inf
    sc[2] = math.log(st.shape[1])


@njit(cache=True)
def _leaders(S, logw0, a):
    """The prior restricted to the experts with the largest cumulative reward."""
    best = -np.inf
    for i in range(S.shape[0]):
        if S[i] > best:
            best = S[i]
    for i in range(S.shape[0]):
        a[i] = logw0[i] if S[i] == best else -np.inf


_LN_HALF = math.log(0.5)
_FAST = {"cache": True, "fastmath": {"contract"}, "error_model": "numpy", "inline": "always"}


@njit(**_FAST)
def _adahedge_step(R, j, rbar, S, a, logw0, st, sc, w, s):
    """Add the round's mixability gap, then re-weight with eta = ln N / Delta.

    ``w = exp(a - max a)`` are the round's unnormalised weights and ``s`` their
    sum, so ``sum_i u_i exp(eta R_i - m) = sum_i w_i exp(eta R_i - m) / s``; the
    exponentials do not depend on the weights and need not wait for them.
    ``st[0]`` is scratch.
    """
    n = a.shape[0]
    eta = sc[1]
    if eta == np.inf:
        # FTL's mix loss is the best loss among the leaders it mixed
        mx = -np.inf
        for i in range(n):
            if w[i] > 0.0 and R[j, i] > mx:
                mx = R[j, i]
        delta = mx - rbar
    else:
        m = -np.inf
        for i in range(n):
            x = eta * R[j, i]
            m = x if (w[i] > 0.0) & (x > m) else m
        for i in range(n):
            x = eta * R[j, i] - m
            st[0, i] = w[i] * _exp_v(x if w[i] > 0.0 else -np.inf)
        # 1 / eta = Delta / ln N is known before the round: no division on the way
        delta = (m + (math.log(_sum4(st[0])) - math.log(s))) * (sc[0] / sc[2]) - rbar
    sc[0] += max(delta, 0.0)
    eta = sc[2] / sc[0] if sc[0] > 0.0 else np.inf
    sc[1] = eta
    if eta == np.inf:
        _leaders(S, logw0, a)
    else:
        for i in range(n):
            a[i] = logw0[i] + eta * S[i]


@njit(**_FAST)
def _fixed_share_logaddexp(a, lse, la, l1, logw0):
    """``a_i = log((1 - alpha) exp(a_i - lse) + alpha pi_i)`` in log space throughout."""
    for i in range(a.shape[0]):
        # logaddexp(x, y) = max + log1p(exp(-|x - y|)), -inf when both are
        x = l1 + (a[i] - lse)
        y = la + logw0[i]
        hi = x if x > y else y
        lo = y if x > y else x
        v = hi + _log1p_v(_exp_v(lo - hi))
        a[i] = v if hi > -np.inf else -np.inf


@njit(**_FAST)
def _fixed_share_step(eta, alpha, R, j, a, logw0, st, w):
    """Hedge step ``v ~ u exp(eta R)``, then ``u = (1 - alpha) v + alpha pi``.

    The mixture ``x = st[1]`` (unnormalised; ``st[0]`` is the prior) is carried
    in linear space, as the recursion is written, so that a round's critical
    path holds no exponential: ``exp(eta R)`` depends on the rewards alone.
    The log-weights ``a = ln x`` follow.  Should a weight fall below 1e-300,
    where the linear form loses digits, the round is redone in log space from
    ``a`` (:func:`_fixed_share_logaddexp`) and ``x`` re-derived from it.
    """
    n = a.shape[0]
    mr = -np.inf
    for i in range(n):
        x = eta * R[j, i]
        mr = x if x > mr else mr
    for i in range(n):
        w[i] = st[1, i] * _exp_v(eta * R[j, i] - mr)
    c = (1.0 - alpha) / _sum4(w)
    ntiny = 0
    for i in range(n):
        x = c * w[i] + alpha * st[0, i]
        st[1, i] = x
        ntiny += 1 if x < 1e-300 else 0
    if ntiny == 0:
        for i in range(n):
            a[i] = _log_v(st[1, i])
        return
    for i in range(n):
        a[i] += eta * R[j, i]
    m = _max4(a)
    for i in range(n):
        w[i] = _exp_v(a[i] - m)
    _fixed_share_logaddexp(a, m + _log_v(_sum4(w)), _log_v(alpha), _log1p_v(-alpha), logw0)
    m = _max4(a)
    for i in range(n):
        st[1, i] = _exp_v(a[i] - m)


@njit(**_FAST)
def _boa_step(inv, R, j, rbar, a, logw0, st):
    """Second-order excess losses, per-expert learning rates (Wintenberger 2017)."""
    for i in range(a.shape[0]):
        rho = (R[j, i] - rbar) * inv
        st[0, i] += rho - st[2, i] * rho * rho
        st[1, i] += rho * rho
        q = -logw0[i] / st[1, i]
        # eta = min(1/2, sqrt q); ln eta = (ln(-ln pi) - ln V) / 2 beside it, not after it
        small = (st[1, i] > 0.0) & (q < 0.25)
        e = math.sqrt(q) if small else 0.5
        le = 0.5 * (st[3, i] - _log_v(st[1, i])) if small else _LN_HALF
        st[2, i] = e
        a[i] = logw0[i] + le + e * st[0, i]


@njit(**_FAST)
def _mlpoly_step(inv, R, j, rbar, a, logw0, st):
    """Polynomial potential with per-expert rates 1 / (1 + V) (Gaillard et al. 2014)."""
    n = a.shape[0]
    npos = 0
    for i in range(n):
        rho = (R[j, i] - rbar) * inv
        st[0, i] += rho
        st[1, i] += rho * rho
        pos = st[0, i] > 0.0
        # two logarithms side by side rather than a division before one
        v = logw0[i] + (_log_v(st[0, i]) - _log1p_v(st[1, i]))
        a[i] = v if pos else -np.inf
        npos += 1 if pos else 0
    if npos == 0:
        for i in range(n):
            a[i] = logw0[i]


@njit(**_FAST)
def _squint_step(inv, R, j, rbar, a, logw0, st):
    """Squint's evidence for the uniform prior on eta (Koolen and van Erven 2015)."""
    for i in range(a.shape[0]):
        rho = (R[j, i] - rbar) * inv
        st[0, i] += rho
        st[1, i] += rho * rho
        ev = squint_log_evidence_fast(st[0, i], st[1, i])
        a[i] = logw0[i] + (ev if squint_fast_ok(st[0, i], st[1, i]) else np.nan)
    # the few experts outside the fast evidence's domain (marked nan), after
    # the vectorised loop
    for i in range(a.shape[0]):
        if np.isnan(a[i]):
            a[i] = logw0[i] + squint_log_evidence(st[0, i], st[1, i])


@njit(**_FAST)
def _expert_step(fc_id, eta, L, alpha, t, R, j, rbar, S, a, logw0, st, sc, w, s):
    """Update the log-weights ``a`` after round ``t`` (1-based), whose rewards are
    ``R[j]``.  ``w = exp(a - max a)`` and ``s = sum w`` are the round's
    unnormalised mixture (``w`` is scratch afterwards).  ``S`` already holds the
    cumulative rewards through round ``t``.
    """
    n = a.shape[0]
    inv = 1.0 / (2.0 * L)
    if fc_id == FC_HEDGE_ANYTIME:
        et = math.sqrt(8.0 * sc[2] / (t + 1)) * inv
        for i in range(n):
            a[i] = logw0[i] + et * S[i]
    elif fc_id == FC_FIXED_SHARE:
        _fixed_share_step(eta, alpha, R, j, a, logw0, st, w)
    elif fc_id == FC_ADAHEDGE:
        _adahedge_step(R, j, rbar, S, a, logw0, st, sc, w, s)
    elif fc_id == FC_SQUINT:
        _squint_step(inv, R, j, rbar, a, logw0, st)
    elif fc_id == FC_BOA:
        _boa_step(inv, R, j, rbar, a, logw0, st)
    elif fc_id == FC_MLPOLY:
        _mlpoly_step(inv, R, j, rbar, a, logw0, st)


@njit(**_FAST)
def _mix_round(a, S, w, R, j):
    """The mixture's reward ``u . R[j]`` and ``s``, with ``w = exp(a - max a)``,
    ``s = sum w``; adds ``R[j]`` to the cumulative rewards ``S``."""
    s = _exp_shifted(a, w)
    rbar = _dot4(w, R, j) / s
    for i in range(a.shape[0]):
        S[i] += R[j, i]
    return rbar, s


# One segment loop per forecaster: a loop that inlines every forecaster's step
# runs short of registers and reloads its constants every round (2x slower).
_SEG = {"cache": True, "fastmath": {"contract"}, "error_model": "numpy"}


@njit(**_SEG)
def _segment_hedge(R, j0, j1, t, L, a, S, w, logw0, st, sc):
    fc = 0.0
    for j in range(j0, j1):
        rbar, s = _mix_round(a, S, w, R, j)
        fc += rbar
        _expert_step(FC_HEDGE_ANYTIME, 0.0, L, 0.0, t + j - j0 + 1, R, j, rbar, S, a, logw0, st, sc, w, s)
    return fc


@njit(**_SEG)
def _segment_fixed_share(R, j0, j1, eta, alpha, a, S, w, logw0, st):
    # the mixture is the linear one the step carries (see _fixed_share_step)
    n = a.shape[0]
    x = st[1]
    fc = 0.0
    for j in range(j0, j1):
        fc += _dot4(x, R, j) / _sum4(x)
        for i in range(n):
            S[i] += R[j, i]
        _fixed_share_step(eta, alpha, R, j, a, logw0, st, w)
    return fc


@njit(**_SEG)
def _segment_adahedge(R, j0, j1, a, S, w, logw0, st, sc):
    fc = 0.0
    for j in range(j0, j1):
        rbar, s = _mix_round(a, S, w, R, j)
        fc += rbar
        _adahedge_step(R, j, rbar, S, a, logw0, st, sc, w, s)
    return fc


@njit(**_SEG)
def _segment_rho(fc_id, R, j0, j1, L, a, S, w, logw0, st):
    """BOA, ML-Poly and Squint: steps on the instantaneous regrets ``rho``."""
    fc = 0.0
    inv = 1.0 / (2.0 * L)
    for j in range(j0, j1):
        rbar, s = _mix_round(a, S, w, R, j)
        fc += rbar
        if fc_id == FC_BOA:
            _boa_step(inv, R, j, rbar, a, logw0, st)
        elif fc_id == FC_MLPOLY:
            _mlpoly_step(inv, R, j, rbar, a, logw0, st)
        else:
            _squint_step(inv, R, j, rbar, a, logw0, st)
    return fc


@njit(**_SEG)
def _expert_segment(fc_id, block, j0, j1, t, eta, L, alpha, a, S, w, logw0, st, sc):
    """Rounds ``j0 .. j1-1`` of ``block`` with no event inside, ``t`` rounds played
    before: mix, account, step (:func:`_expert_step`).  Returns the forecaster's
    reward over them.

    The per-round path of :func:`xnas.pea.kernels._run_one` does the same for
    the convex environment, whose rewards depend on the mixture.
    """
    if fc_id == FC_HEDGE_ANYTIME:
        return _segment_hedge(block, j0, j1, t, L, a, S, w, logw0, st, sc)
    if fc_id == FC_FIXED_SHARE:
        return _segment_fixed_share(block, j0, j1, eta, alpha, a, S, w, logw0, st)
    if fc_id == FC_ADAHEDGE:
        return _segment_adahedge(block, j0, j1, a, S, w, logw0, st, sc)
    return _segment_rho(fc_id, block, j0, j1, L, a, S, w, logw0, st)
