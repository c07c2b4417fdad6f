"""Squint's evidence for the uniform prior on the learning rate (Koolen and van Erven 2015).

``ln int_0^{1/2} eta exp(eta R - eta^2 V) d eta``, in closed form with the
exponentially scaled complementary error function, or by Gauss-Legendre
quadrature where the closed form cancels.  Used by
:mod:`xnas.pea.expert_kernels`; tests hold it to adaptive quadrature.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from xnas.pea.vecmath import _exp_v, _log_v

# Below this cumulative squared regret the closed form of Squint's evidence
# cancels badly; a 24-point Gauss-Legendre rule on [0, 1/2] is exact there
# to rounding (the integrand is then close to eta exp(eta R)).
SQUINT_SMALL_V = 1e-2
_GL_X, _GL_W = np.polynomial.legendre.leggauss(24)
_GL_ETA = (_GL_X + 1.0) / 4.0
_GL_WT = _GL_W / 4.0
_SQRT_PI = math.sqrt(math.pi)
# Beyond this ``1 - sqrt(pi) y erfcx(y)`` is taken from its asymptotic series.
_ASYMPTOTIC = 26.0
# erfcx(x) = f(t) / (1 + 2 x) with t = (x - K) / (x + K) in [-1, 1) for x >= 0.
# f is analytic on [-1, 1] (at t = 1, i.e. x = inf, in powers of 1/x, with
# f(1) = 2 / sqrt(pi)), so its Chebyshev series converges geometrically; these
# are its degree-24 Chebyshev interpolation coefficients at K = 3.75, derived
# with numpy.polynomial.chebyshev.chebinterpolate from scipy.special.erfcx
# (tests/test_pea_experts.py re-derives them).  Relative error <= 1e-14 on
# [0, inf) (the test holds it to scipy on [0, 1e6]).
_ERFCX_K = 3.75
_ERFCX_C = np.array([
    1.1775789345674017, -0.0045900545806463544, -0.08424913336651788,
    0.05920993999819193, -0.026658668435305812, 0.009074997670705274,
    -0.002413163540417584, 0.0004907758365258647, -6.916973302497766e-05,
    4.139027986066876e-06, 7.740383069631572e-07, -2.188640103840577e-07,
    1.0764999602043848e-08, 4.521959837679274e-09, -7.754395676025565e-10,
    -6.318082071035641e-11, 2.868865170883396e-11, 1.9466564548838148e-13,
    -9.646230299621116e-13, 3.2537874696720314e-14, 3.3448684315321155e-14,
    -2.060863503958067e-15, -2.9357300558555923e-15, 8.578019195793518e-17,
    -2.1716667446980215e-15,
])


# G(t) = (1 + 2 y^2) (1 - sqrt(pi) y erfcx(y)) in the same t = (y - K) / (y + K):
# the Gaussian half-line integral for a <= 0 without the cancellation of its
# two terms (G(1) = 1).  Degree-24 Chebyshev interpolant, derived with
# chebinterpolate from 50-digit mpmath values; relative error <= 1e-14.
_G_C = np.array([
    0.9046749464456587, 0.11547551328908251, 0.015617314942779507,
    -0.07615297107553587, 0.06486773907182976, -0.03497908172714597,
    0.01388165224476243, -0.004200923469387722, 0.0009507182820657171,
    -0.0001448523432916424, 8.237323046269976e-06, 2.293393813053908e-06,
    -6.242980225574355e-07, 2.4430601329247815e-08, 1.628443268514008e-08,
    -2.609172051338311e-09, -2.9970701392455434e-10, 1.1533526933442313e-10,
    3.0926201698964676e-12, -4.465942587017341e-12, 7.009767493386553e-14,
    1.740846278690405e-13, -7.777902615125548e-15, -7.258322349653298e-15,
    -1.358242385554785e-15,
])
# The fast evidence drops e^c and erfc(-b) terms: valid where they are below
# 1e-18 of the result (c < -130 with |R| < 1e12, V < 1e24, V >= SQUINT_SMALL_V).
_FAST_C = -130.0


@njit(cache=True, fastmath={"contract"}, error_model="numpy", forceinline=True)
def _clenshaw(c, t):
    """``sum_k c[k] T_k(t)`` by Clenshaw's recurrence."""
    t2 = 2.0 * t
    b1 = 0.0
    b2 = 0.0
    for k in range(c.shape[0] - 1, 0, -1):
        b0 = c[k] + t2 * b1 - b2
        b2 = b1
        b1 = b0
    return c[0] + t * b1 - b2


@njit(cache=True, fastmath={"contract"}, error_model="numpy", forceinline=True)
def _cheb24(c, t):
    """``sum_{k<=24} c[k] T_k(t)`` with the ``T_k`` from products of lower ones
    (``T_{m+n} = 2 T_m T_n - T_{|m-n|}``): 6 dependent steps instead of
    Clenshaw's 24, since a round waits on this chain (the ``|T_k| <= 1`` keep
    the rounding at a few ulp)."""
    t1 = t
    t2 = 2.0 * t * t - 1.0
    t3 = 2.0 * t * t2 - t
    t4 = 2.0 * t2 * t2 - 1.0
    t5 = 2.0 * t2 * t3 - t
    t6 = 2.0 * t3 * t3 - 1.0
    t7 = 2.0 * t3 * t4 - t
    t8 = 2.0 * t4 * t4 - 1.0
    t9 = 2.0 * t8 * t1 - t7
    t10 = 2.0 * t8 * t2 - t6
    t11 = 2.0 * t8 * t3 - t5
    t12 = 2.0 * t8 * t4 - t4
    t13 = 2.0 * t8 * t5 - t3
    t14 = 2.0 * t8 * t6 - t2
    t15 = 2.0 * t8 * t7 - t1
    t16 = 2.0 * t8 * t8 - 1.0
    t17 = 2.0 * t16 * t1 - t15
    t18 = 2.0 * t16 * t2 - t14
    t19 = 2.0 * t16 * t3 - t13
    t20 = 2.0 * t16 * t4 - t12
    t21 = 2.0 * t16 * t5 - t11
    t22 = 2.0 * t16 * t6 - t10
    t23 = 2.0 * t16 * t7 - t9
    t24 = 2.0 * t16 * t8 - t8
    s0 = c[0] + c[1] * t1 + c[2] * t2 + c[3] * t3 + c[4] * t4 + c[5] * t5
    s1 = c[6] * t6 + c[7] * t7 + c[8] * t8 + c[9] * t9 + c[10] * t10 + c[11] * t11
    s2 = c[12] * t12 + c[13] * t13 + c[14] * t14 + c[15] * t15 + c[16] * t16 + c[17] * t17
    s3 = c[18] * t18 + c[19] * t19 + c[20] * t20 + c[21] * t21 + c[22] * t22 + c[23] * t23 + c[24] * t24
    return (s0 + s1) + (s2 + s3)


@njit(cache=True, fastmath={"contract"}, error_model="numpy", forceinline=True)
def _erfcx(x):
    """``exp(x^2) erfc(x)`` for ``x >= 0``, branch-free (vectorisable): a
    Chebyshev series in ``t = (x - K) / (x + K)``."""
    return _clenshaw(_ERFCX_C, (x - _ERFCX_K) / (x + _ERFCX_K)) / (1.0 + 2.0 * x)


@njit(cache=True, fastmath={"contract"}, error_model="numpy", forceinline=True)
def squint_fast_ok(R, V):
    """Whether :func:`squint_log_evidence_fast` holds at ``(R, V)`` (to 1e-18)."""
    sv = math.sqrt(V)
    b = R / (2.0 * sv) - 0.5 * sv
    # & rather than and: no branches, so that the caller's loop vectorises
    return ((V >= SQUINT_SMALL_V) & (V < 1e24) & (R > -1e12)
            & (0.5 * R - 0.25 * V < _FAST_C) & (b < -1.0))


@njit(cache=True, fastmath={"contract"}, error_model="numpy", forceinline=True)
def squint_log_evidence_fast(R, V):
    """Squint's log evidence where ``squint_fast_ok(R, V)``, branch-free (vectorisable).

    There ``e^c`` and ``erfc(-b)`` are negligible and the integral is the one
    over ``[0, inf)``: ``h(a) / (2 V)`` with ``h(a) = 1 + sqrt(pi) a erfcx(-a)``.
    With ``g(y) = 1 - sqrt(pi) y erfcx(y) = G(t) / (1 + 2 y^2)``, ``h(a) = g(-a)``
    for ``a <= 0`` and ``h(a) = g(a) + 2 sqrt(pi) a e^{a^2}`` for ``a > 0``
    (from ``erfcx(-a) = 2 e^{a^2} - erfcx(a)``): sums of positive terms, one
    Chebyshev series, one exp and one log.  Elsewhere the result is
    meaningless; :func:`squint_log_evidence` applies.
    """
    sv = math.sqrt(V)
    a = R / (2.0 * sv)
    y = abs(a)
    p = a if a > 0.0 else 0.0
    # g = G(t) / q with q = 1 + 2 y^2, brought under the one division by 2 V
    q = 1.0 + 2.0 * (y * y)
    gq = _cheb24(_G_C, (y - _ERFCX_K) / (y + _ERFCX_K))
    return p * p + _log_v((_exp_v(-(p * p)) * gq + (2.0 * _SQRT_PI * p) * q) / ((2.0 * V) * q))


@njit(cache=True)
def _one_minus_mills(y, ex):
    """``1 - sqrt(pi) y erfcx(y)`` for ``y >= 0`` given ``ex = erfcx(y)``, without
    cancellation for large ``y``."""
    if y < _ASYMPTOTIC:
        return 1.0 - _SQRT_PI * y * ex
    z = 1.0 / (2.0 * y * y)
    # 1 - sum_n (-1)^n (2n-1)!! z^n: the asymptotic series of erfcx times sqrt(pi) y
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
        eb = _erfcx(b)
        x = _SQRT_PI * 0.5 * sv * eb - _one_minus_mills(b, eb) + math.exp(-c) * _one_minus_mills(a, _erfcx(a))
        return c + math.log(x) - lv
    if a <= 0.0:
        # both non-positive: erf a - erf b = erfc(-a) - erfc(-b), and c < 0
        # 1 - sqrt(pi) |a| erfcx(|b|) split into two positive terms (|b| = |a| + sqrt(V)/2)
        x = _one_minus_mills(-a, _erfcx(-a))
        ec = math.exp(c)
        if ec > 0.0:
            # (once V is large, e^c underflows and the second term is exactly 0)
            eb = _erfcx(-b)
            x -= ec * (_one_minus_mills(-b, eb) + _SQRT_PI * 0.5 * sv * eb)
        return math.log(x) - lv
    big = a * a + math.log(_SQRT_PI * a * (math.erf(a) + math.erf(-b)))
    m = max(big, max(c, 0.0))
    x = math.exp(big - m) + math.exp(-m) - math.exp(c - m)
    return m + math.log(x) - lv
