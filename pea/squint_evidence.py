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
def _one_minus_mills(y, ex):
    """``1 - sqrt(pi) y erfcx(y)`` for ``y >= 0`` given ``ex = erfcx(y)``, without
    cancellation for large ``y``."""
    if y < _ASYMPTOTIC:
        return 1.0 - _SQRT_PI * y * ex
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
