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
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Forecaster ids, continuing those of xnas.pea.kernels.
FC_ADAHEDGE = 7
FC_SQUINT = 8
FC_BOA = 9
FC_MLPOLY = 10
FC_FIXED_SHARE = 11
FC_HEDGE_ANYTIME = 12

# Rows of the per-expert state matrix ``st`` (shape (ST_ROWS, N)).
ST_ROWS = 3
# Entries of the scalar state ``sc``: AdaHedge's cumulative mixability gap and
# its current learning rate.
SC_SIZE = 2

# Below this cumulative squared regret the closed form of Squint's evidence
# cancels badly; a 24-point Gauss-Legendre rule on [0, 1/2] is exact there
# to rounding (the integrand is then close to eta exp(eta R)).
SQUINT_SMALL_V = 1e-2
_GL_X, _GL_W = np.polynomial.legendre.leggauss(24)
_GL_ETA = (_GL_X + 1.0) / 4.0
_GL_WT = _GL_W / 4.0
_SQRT_PI = math.sqrt(math.pi)
# Beyond this the exponentially scaled erfc is taken from its asymptotic series.
_ASYMPTOTIC = 26.0


@njit(cache=True)
def _logaddexp(x, y):
    m = max(x, y)
    if m == -np.inf:
        return -np.inf
    return m + math.log1p(math.exp(-abs(x - y)))


@njit(cache=True)
def _erfcx(x):
    """``exp(x^2) erfc(x)`` for ``x >= 0`` (no overflow, no underflow)."""
    if x < _ASYMPTOTIC:
        # x^2 = h^2 + d with h^2 exact: exp(x * x) would carry x^2 ulp of error
        h = math.floor(x * 4096.0) / 4096.0
        return math.exp(h * h) * math.exp((x - h) * (x + h)) * math.erfc(x)
    z = 1.0 / (2.0 * x * x)
    s = 1.0 - z * (1.0 - 3.0 * z * (1.0 - 5.0 * z * (1.0 - 7.0 * z * (1.0 - 9.0 * z * (1.0 - 11.0 * z)))))
    return s / (x * _SQRT_PI)


@njit(cache=True)
def _one_minus_mills(y):
    """``1 - sqrt(pi) y erfcx(y)`` for ``y >= 0``, without cancellation for large ``y``."""
    if y < _ASYMPTOTIC:
        return 1.0 - _SQRT_PI * y * _erfcx(y)
    z = 1.0 / (2.0 * y * y)
    # 1 - sum_n (-1)^n (2n-1)!! z^n, the same series as _erfcx times sqrt(pi) y
    return z * (1.0 - 3.0 * z * (1.0 - 5.0 * z * (1.0 - 7.0 * z * (1.0 - 9.0 * z * (1.0 - 11.0 * z)))))


@njit(cache=True)
def squint_log_evidence(R, V):
    """``ln int_0^{1/2} eta exp(eta R - eta^2 V) d eta`` (Koolen and van Erven 2015, eq. 7).

    The closed form is ``(1 - e^{c} + sqrt(pi) a e^{a^2} (erf a - erf b)) / (2 V)``
    with ``a = R / (2 sqrt V)``, ``b = a - sqrt(V) / 2`` and ``c = a^2 - b^2 =
    R/2 - V/4``.  It is evaluated in log space in three regimes (``b >= 0``,
    ``a <= 0`` and between), with ``erfc`` scaled by ``exp(x^2)`` so that no
    term overflows, however large ``|R|`` and ``V`` grow.
    """
    if V < SQUINT_SMALL_V:
        m = -np.inf
        for j in range(_GL_ETA.shape[0]):
            e = _GL_ETA[j] * R - _GL_ETA[j] * _GL_ETA[j] * V
            if e > m:
                m = e
        s = 0.0
        for j in range(_GL_ETA.shape[0]):
            e = _GL_ETA[j] * R - _GL_ETA[j] * _GL_ETA[j] * V
            s += _GL_WT[j] * _GL_ETA[j] * math.exp(e - m)
        return m + math.log(s)
    sv = math.sqrt(V)
    a = R / (2.0 * sv)
    b = a - 0.5 * sv
    c = 0.5 * R - 0.25 * V
    lv = math.log(2.0 * V)
    if b >= 0.0:
        # both arguments positive: erf a - erf b = erfc b - erfc a, and c > 0
        # sqrt(pi) a erfcx(b) - 1 written without the cancellation of its two terms
        x = _SQRT_PI * 0.5 * sv * _erfcx(b) - _one_minus_mills(b) + math.exp(-c) * _one_minus_mills(a)
        return c + math.log(x) - lv
    if a <= 0.0:
        # both non-positive: erf a - erf b = erfc(-a) - erfc(-b), and c < 0
        # 1 - sqrt(pi) |a| erfcx(|b|) split into two positive terms (|b| = |a| + sqrt(V)/2)
        x = _one_minus_mills(-a) - math.exp(c) * (_one_minus_mills(-b) + _SQRT_PI * 0.5 * sv * _erfcx(-b))
        return math.log(x) - lv
    big = a * a + math.log(_SQRT_PI * a * (math.erf(a) + math.erf(-b)))
    m = max(big, max(c, 0.0))
    x = math.exp(big - m) + math.exp(-m) - math.exp(c - m)
    return m + math.log(x) - lv


@njit(cache=True)
def _expert_init(fc_id, st, sc):
    """Initial state: BOA's learning rates start at 1/2, AdaHedge's at infinity."""
    for k in range(st.shape[0]):
        for i in range(st.shape[1]):
            st[k, i] = 0.0
    if fc_id == FC_BOA:
        for i in range(st.shape[1]):
            st[2, i] = 0.5
    sc[0] = 0.0
    sc[1] = np.inf


@njit(cache=True)
def _leaders(S, logw0, a):
    """The prior restricted to the experts with the largest cumulative reward."""
    best = -np.inf
    for i in range(S.shape[0]):
        if S[i] > best:
            best = S[i]
    for i in range(S.shape[0]):
        a[i] = logw0[i] if S[i] == best else -np.inf


@njit(cache=True)
def _adahedge_step(r, rbar, u, S, a, logw0, sc):
    """Add the round's mixability gap, then re-weight with eta = ln N / Delta."""
    n = a.shape[0]
    eta = sc[1]
    if eta == np.inf:
        # FTL's mix loss is the best loss among the leaders it mixed
        mx = -np.inf
        for i in range(n):
            if u[i] > 0.0 and r[i] > mx:
                mx = r[i]
        delta = mx - rbar
    else:
        m = -np.inf
        for i in range(n):
            if u[i] > 0.0 and eta * r[i] > m:
                m = eta * r[i]
        s = 0.0
        for i in range(n):
            if u[i] > 0.0:
                s += u[i] * math.exp(eta * r[i] - m)
        delta = (m + math.log(s)) / eta - rbar
    sc[0] += max(delta, 0.0)
    eta = math.log(n) / sc[0] if sc[0] > 0.0 else np.inf
    sc[1] = eta
    if eta == np.inf:
        _leaders(S, logw0, a)
    else:
        for i in range(n):
            a[i] = logw0[i] + eta * S[i]


@njit(cache=True)
def _expert_step(fc_id, eta, L, alpha, t, r, rbar, u, S, a, logw0, st, sc):
    """Update the log-weights ``a`` after round ``t`` (1-based).

    ``S`` already holds the cumulative rewards through round ``t``.
    """
    n = a.shape[0]
    inv = 1.0 / (2.0 * L)
    if fc_id == FC_HEDGE_ANYTIME:
        et = math.sqrt(8.0 * math.log(n) / (t + 1)) * inv
        for i in range(n):
            a[i] = logw0[i] + et * S[i]
    elif fc_id == FC_FIXED_SHARE:
        for i in range(n):
            a[i] += eta * r[i]
        m = -np.inf
        for i in range(n):
            if a[i] > m:
                m = a[i]
        s = 0.0
        for i in range(n):
            s += math.exp(a[i] - m)
        lse = m + math.log(s)
        la = math.log(alpha) if alpha > 0.0 else -np.inf
        l1 = math.log1p(-alpha) if alpha < 1.0 else -np.inf
        for i in range(n):
            a[i] = _logaddexp(l1 + (a[i] - lse), la + logw0[i])
    elif fc_id == FC_ADAHEDGE:
        _adahedge_step(r, rbar, u, S, a, logw0, sc)
    elif fc_id == FC_SQUINT:
        for i in range(n):
            rho = (r[i] - rbar) * inv
            st[0, i] += rho
            st[1, i] += rho * rho
            a[i] = logw0[i] + squint_log_evidence(st[0, i], st[1, i])
    elif fc_id == FC_BOA:
        for i in range(n):
            rho = (r[i] - rbar) * inv
            st[0, i] += rho - st[2, i] * rho * rho
            st[1, i] += rho * rho
            e = 0.5
            if st[1, i] > 0.0:
                e = min(0.5, math.sqrt(-logw0[i] / st[1, i]))
            st[2, i] = e
            a[i] = logw0[i] + math.log(e) + e * st[0, i]
    elif fc_id == FC_MLPOLY:
        any_pos = False
        for i in range(n):
            rho = (r[i] - rbar) * inv
            st[0, i] += rho
            st[1, i] += rho * rho
            if st[0, i] > 0.0:
                a[i] = logw0[i] + math.log(st[0, i]) - math.log1p(st[1, i])
                any_pos = True
            else:
                a[i] = -np.inf
        if not any_pos:
            for i in range(n):
                a[i] = logw0[i]
