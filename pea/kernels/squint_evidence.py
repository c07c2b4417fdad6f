"""Squint's evidence for the uniform prior on the learning rate (Koolen and van Erven 2015).

``E = int_0^{1/2} eta exp(eta R - eta^2 V) d eta``, two ways:

* :func:`squint_evidence_parts` and :func:`squint_tail`: ``E = f1 + e^{p2} (f2
  - tail)`` from one series, branch-free, for the vectorised loops of
  :mod:`xnas.pea.kernels.squint` (every expert, every round);
* :func:`squint_log_evidence`: ``ln E`` in closed form with the exponentially
  scaled complementary error function, or by Gauss-Legendre quadrature where
  the closed form cancels; for the points the parts do not cover.

Tests hold both to adaptive quadrature, and the parts to 40-digit quadrature.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from xnas.pea.kernels.jit import INLINE
from xnas.pea.kernels.vecmath import _exp_v

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
# Where b < 0, the tail of the integral beyond eta = 1/2 is below 1e-18 of the
# evidence once c < -130 (with |R| < 1e12, V < 1e24, V >= SQUINT_SMALL_V).
_FAST_C = -130.0
# Kinds of point for squint_evidence_parts.
KIND_FAST = 0.0  # the parts are the evidence
KIND_TAIL = 1.0  # the parts less squint_tail are the evidence
KIND_CAREFUL = 2.0  # squint_log_evidence alone holds
# Below this V, subtracting the tail cancels more than squint_log_evidence does.
_TAIL_V = 1.0


# Both series in the monomial basis, for Estrin's scheme (24 multiply-adds, 5
# dependent steps; Clenshaw's recurrence takes 24).  Their monomial coefficients
# stay below 1.3 in size, so the change of basis costs under 1e-15.
_ERFCX_M = tuple(float(x) for x in np.polynomial.chebyshev.cheb2poly(_ERFCX_C))
_G_M = tuple(float(x) for x in np.polynomial.chebyshev.cheb2poly(_G_C))


@njit(**INLINE)
def _poly24(c, t):
    """``sum_{k<=24} c[k] t^k`` by Estrin's scheme."""
    t2 = t * t
    t4 = t2 * t2
    t8 = t4 * t4
    q0 = c[0] + t * c[1]
    q1 = c[2] + t * c[3]
    q2 = c[4] + t * c[5]
    q3 = c[6] + t * c[7]
    q4 = c[8] + t * c[9]
    q5 = c[10] + t * c[11]
    q6 = c[12] + t * c[13]
    q7 = c[14] + t * c[15]
    q8 = c[16] + t * c[17]
    q9 = c[18] + t * c[19]
    q10 = c[20] + t * c[21]
    q11 = c[22] + t * c[23]
    r0 = q0 + t2 * q1
    r1 = q2 + t2 * q3
    r2 = q4 + t2 * q5
    r3 = q6 + t2 * q7
    r4 = q8 + t2 * q9
    r5 = q10 + t2 * q11
    s0 = r0 + t4 * r1
    s1 = r2 + t4 * r3
    s2 = r4 + t4 * r5
    return (s0 + t8 * s1) + (t8 * t8) * (s2 + t8 * c[24])


@njit(**INLINE)
def _erfcx(x):
    """``exp(x^2) erfc(x)`` for ``x >= 0``, branch-free (vectorisable): a
    Chebyshev series in ``t = (x - K) / (x + K)``."""
    return _poly24(_ERFCX_M, (x - _ERFCX_K) / (x + _ERFCX_K)) / (1.0 + 2.0 * x)


@njit(**INLINE)
def squint_evidence_parts(R, V):
    """Squint's evidence as ``E = f1 + e^{p2} f2``, branch-free (vectorisable).

    Returns ``(p2, f1, f2, kind)``.  With ``a = R / (2 sqrt V)`` and ``b = a -
    sqrt(V) / 2``, the integral over ``[0, inf)`` is ``h(a) / (2 V)`` with
    ``h(a) = 1 + sqrt(pi) a erfcx(-a) = g(|a|) + 2 sqrt(pi) p e^{p^2}``, where
    ``p = max(a, 0)`` and ``g(y) = 1 - sqrt(pi) y erfcx(y) = G(t) / (1 + 2 y^2)``
    (from ``erfcx(-a) = 2 e^{a^2} - erfcx(a)``).  So ``f1 = G(t) / (2 V + R^2)``,
    ``f2 = sqrt(pi) p / V`` and ``p2 = p^2``: positive terms, one square root,
    one division and one series; the exponential is left to the caller.
    ``kind`` says where that is Squint's evidence: :data:`KIND_FAST` where the
    part beyond ``eta = 1/2`` is negligible, :data:`KIND_TAIL` where it must be
    taken off (:func:`squint_tail`), :data:`KIND_CAREFUL` where only
    :func:`squint_log_evidence` holds: ``b >= 0``, ``V < 1`` (but the fast
    points), ``V >= 1e24`` or ``R <= -1e12``.
    """
    sv = math.sqrt(V)
    ar = abs(R)
    # the three divisions (by sqrt V, by y + K in t, by 2 V + R^2) share one.
    # No sum of two products anywhere: LLVM may fuse either product, and not
    # always the same one in a vector loop and its scalar remainder, which
    # would make a lane's bits depend on its place (tests hold them equal).
    d1 = ar + (2.0 * _ERFCX_K) * sv
    d2 = R * R + (V + V)
    d = 1.0 / (sv * (d1 * d2))
    isv = (d1 * d2) * d
    t = (ar - (2.0 * _ERFCX_K) * sv) * (sv * d2) * d
    p = (R if R > 0.0 else 0.0) * (0.5 * isv)
    f1 = _poly24(_G_M, t) * (sv * d1 * d)
    f2 = (_SQRT_PI * p) * (isv * isv)
    # & rather than and: no branches, so that the caller's loop vectorises
    body = (V >= SQUINT_SMALL_V) & (V < 1e24) & (R > -1e12) & (R < V)
    fast = body & (0.5 * (R - 0.5 * V) < _FAST_C)
    kind = KIND_FAST if fast else (KIND_TAIL if body & (V >= _TAIL_V) else KIND_CAREFUL)
    return p * p, f1, f2, kind


@njit(**INLINE)
def squint_tail(R, V):
    """The part of the integral beyond ``eta = 1/2`` where ``b < 0``, times
    ``e^{-p2}``: to subtract from ``f2`` (:func:`squint_evidence_parts`).

    Substituting ``eta = 1/2 + s``, the part is ``e^c (1 + sqrt(pi) a
    erfcx(-b)) / (2 V)`` with ``c = R/2 - V/4``.  ``e^c`` alone overflows once
    ``c > 709`` (a leader with ``V/2 + 1420 < R < V``), but ``c - p2 = n^2 -
    b^2 <= 0`` with ``n = min(a, 0)``, so the scaled part never does.  The
    subtraction cancels most where ``V`` is small; from ``V = 1`` on
    (``KIND_TAIL``) the result stays within 2e-14 of 40-digit quadrature.
    """
    sv = math.sqrt(V)
    a = R / (2.0 * sv)
    w = 0.5 * sv - a
    n = a if a < 0.0 else 0.0
    # n^2 - w^2 as a product (a sum of two products fuses either way)
    return _exp_v((n - w) * (n + w)) * (1.0 + _SQRT_PI * a * _erfcx(w)) / (2.0 * V)


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
