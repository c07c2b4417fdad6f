"""Branch-free ``exp``, ``log`` and ``log1p`` that LLVM vectorises inside loops over experts,
and the short reductions (max, sum, dot, softmax) of the forecasters' rounds.

This numba build has no SVML, so ``math.exp`` in a loop is one scalar libm call
per element (about 7 ns each).  The functions here are written with selects
and integer bit manipulation only, so that a loop over experts calling them
compiles to SIMD code.  They are deterministic (the same input gives the same
bits on a given build) and within 1 ulp of NumPy over the whole double range,
subnormals and special values included (tested).  Kernels that inline them use
``error_model="numpy"``: Python's check for a division by zero would put a
branch in the loop and stop the vectoriser.

* ``exp``: ``x = k ln 2 + r`` with ``|r| <= ln 2 / 2`` (Cody-Waite, ``ln 2`` in
  two parts), ``e^r`` by its Taylor series to degree 13 (truncation below
  ``1e-17``) in Estrin's scheme (in the forecasters' rounds the latency of one
  exponential, not the throughput, sets the pace), and ``2^k`` assembled in the
  exponent bits, in two factors so that subnormal results and ``k = 1024``
  come out right.
* ``log``: ``x = 2^e m`` with ``m`` in ``[sqrt(1/2), sqrt 2)``, ``f = m - 1``,
  ``s = f / (2 + f)``; then ``ln m = 2 atanh s = f - f^2/2 + s (f^2/2 + R(s^2))``
  (the identity ``2 s = f - f^2/2 + s f^2/2``), where ``R`` is the tail
  ``2 (s^2/3 + s^4/5 + ...)``, so that the rounding of the small terms is
  attenuated against ``f``.
* ``log1p``: ``log(1 + y)`` corrected by ``(y - ((1 + y) - 1)) / (1 + y)``.

The reductions run in four interleaved chains combined pairwise, a fixed
order: a round of a forecaster is one chain of dependent steps (mix, account,
update), so its latency, not the throughput, sets the pace.
"""

from __future__ import annotations

import math
from decimal import Decimal, getcontext

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from xnas.pea.kernels.jit import FAST, INLINE


@intrinsic
def _f2i(typingctx, x):
    """The bits of a float64 as an int64 (a bitcast, which LLVM vectorises)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _i2f(typingctx, x):
    """The float64 whose bits are the int64 ``x``."""
    if x != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


def _ln2_parts():
    """``ln 2`` as ``hi + lo`` with ``hi`` on 32 significant bits (so ``k hi`` is exact)."""
    getcontext().prec = 50
    ln2 = Decimal(2).ln()
    m, e = math.frexp(float(ln2))
    hi = math.ldexp(math.floor(m * 2.0**32) / 2.0**32, e)
    lo = float(ln2 - Decimal(hi))
    return hi, lo


_LN2_HI, _LN2_LO = _ln2_parts()
_LOG2E = 1.4426950408889634
# Adding 1.5 * 2^52 rounds to an integer and leaves it in the low mantissa bits.
_SHIFTER = 6755399441055744.0
_SHIFTER_BITS = 0x4338000000000000
# e^x is 0 below this (half the smallest subnormal) and inf above the other.
_EXP_LO = -746.0
_EXP_HI = 710.0
_MANT = 0x000FFFFFFFFFFFFF
_ONE_BITS = 0x3FF0000000000000
_HALF_BITS = 0x3FE0000000000000
# mantissa bits of sqrt 2: m at or above it is halved
_SQRT2_MANT = 0x6A09E667F3BCD
_TINY = 2.2250738585072014e-308
_TWO54 = 18014398509481984.0
# R(z) = 2 (z/3 + z^2/5 + ... + z^11/23), z = s^2 <= 0.0295: next term < 1e-19
_LOG_R = tuple(2.0 / (2 * k + 1) for k in range(1, 12))


@njit(**INLINE)
def _exp_v(x):
    """``exp(x)`` for any float64, branch-free (vectorisable); ``exp(-inf) = 0``."""
    xc = x if x > _EXP_LO else _EXP_LO
    xc = xc if xc < _EXP_HI else _EXP_HI
    kd = xc * _LOG2E + _SHIFTER
    k = _f2i(kd) - _SHIFTER_BITS
    kf = kd - _SHIFTER
    r = (xc - kf * _LN2_HI) - kf * _LN2_LO
    # e^r = 1 + (r + r^2 P(r)), P(r) = sum_k r^k / (k + 2)!, by Estrin's scheme
    # (depth 4 instead of 12 dependent steps); the large terms are added last
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    e0 = 1.0 / 2.0 + r * (1.0 / 6.0)
    e1 = 1.0 / 24.0 + r * (1.0 / 120.0)
    e2 = 1.0 / 720.0 + r * (1.0 / 5040.0)
    e3 = 1.0 / 40320.0 + r * (1.0 / 362880.0)
    e4 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0)
    e5 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0)
    f0 = e0 + r2 * e1
    f1 = e2 + r2 * e3
    f2 = e4 + r2 * e5
    p = (f0 + r4 * f1) + r8 * f2
    q = 1.0 + (r + r2 * p)
    # 2^k = 2^k1 2^k2, both normal for -1076 <= k <= 1024
    k1 = k >> 1
    s1 = _i2f((k1 + 1023) << 52)
    s2 = _i2f((k - k1 + 1023) << 52)
    y = (q * s1) * s2
    return y if x == x else x


@njit(**INLINE)
def _log_v(x):
    """``log(x)`` for any float64, branch-free (vectorisable): ``-inf`` at 0, nan below."""
    sub = x < _TINY
    xs = x * _TWO54 if sub else x
    bits = _f2i(xs)
    mant = bits & _MANT
    big = mant >= _SQRT2_MANT
    e = (bits >> 52) - 1023 - (54 if sub else 0) + (1 if big else 0)
    m = _i2f(mant | (_HALF_BITS if big else _ONE_BITS))
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    # R = z (2/3 + 2 z/5 + ... + 2 z^10/23) by Estrin's scheme
    z2 = z * z
    z4 = z2 * z2
    z8 = z4 * z4
    g0 = _LOG_R[0] + z * _LOG_R[1]
    g1 = _LOG_R[2] + z * _LOG_R[3]
    g2 = _LOG_R[4] + z * _LOG_R[5]
    g3 = _LOG_R[6] + z * _LOG_R[7]
    g4 = _LOG_R[8] + z * _LOG_R[9]
    h0 = g0 + z2 * g1
    h1 = g2 + z2 * g3
    h2 = g4 + z2 * _LOG_R[10]
    R = z * ((h0 + z4 * h1) + z8 * h2)
    hfsq = 0.5 * f * f
    ef = np.float64(e)
    # fdlibm's sum, with no sum of two products: LLVM may fuse either product
    # of such a sum, and not always the same one in a vector loop and its
    # scalar remainder, which would make a lane's bits depend on its place
    y = ef * _LN2_HI + ((f - (hfsq - s * (hfsq + R))) + ef * _LN2_LO)
    y = y if x < np.inf else x
    y = y if x > 0.0 else (-np.inf if x == 0.0 else np.nan)
    return y if x == x else x


@njit(**INLINE)
def _log1p_v(y):
    """``log(1 + y)`` for ``y > -1``, accurate also for tiny ``|y|`` (vectorisable)."""
    u = 1.0 + y
    c = (y - (u - 1.0)) / u
    lu = _log_v(u)
    return lu + c if (u > 0.0 and u < np.inf) else lu


@njit(**INLINE)
def _max4(a):
    """``max a`` in four interleaved chains (max is exact in any order)."""
    n = a.shape[0]
    m0 = -np.inf
    m1 = -np.inf
    m2 = -np.inf
    m3 = -np.inf
    i = 0
    while i + 4 <= n:
        m0 = a[i] if a[i] > m0 else m0
        m1 = a[i + 1] if a[i + 1] > m1 else m1
        m2 = a[i + 2] if a[i + 2] > m2 else m2
        m3 = a[i + 3] if a[i + 3] > m3 else m3
        i += 4
    while i < n:
        m0 = a[i] if a[i] > m0 else m0
        i += 1
    m0 = m1 if m1 > m0 else m0
    m2 = m3 if m3 > m2 else m2
    return m2 if m2 > m0 else m0


@njit(**INLINE)
def _sum4(w):
    """``sum w`` in four interleaved chains, combined pairwise (a fixed order)."""
    n = w.shape[0]
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    i = 0
    while i + 4 <= n:
        s0 += w[i]
        s1 += w[i + 1]
        s2 += w[i + 2]
        s3 += w[i + 3]
        i += 4
    while i < n:
        s0 += w[i]
        i += 1
    return (s0 + s1) + (s2 + s3)


@njit(**INLINE)
def _dot4(w, R, j):
    """``w . R[j]`` in four interleaved chains, combined pairwise."""
    n = w.shape[0]
    d0 = 0.0
    d1 = 0.0
    d2 = 0.0
    d3 = 0.0
    i = 0
    while i + 4 <= n:
        d0 += w[i] * R[j, i]
        d1 += w[i + 1] * R[j, i + 1]
        d2 += w[i + 2] * R[j, i + 2]
        d3 += w[i + 3] * R[j, i + 3]
        i += 4
    while i < n:
        d0 += w[i] * R[j, i]
        i += 1
    return (d0 + d1) + (d2 + d3)


@njit(**INLINE)
def _exp_shifted(a, w):
    """``w = exp(a - max a)``; returns ``sum w``."""
    n = a.shape[0]
    m = _max4(a)
    for i in range(n):
        w[i] = _exp_v(a[i] - m)
    return _sum4(w)


@njit(**INLINE)
def _softmax_v(a, w, u):
    """``u = exp(a - max a) / s``; ``w`` receives ``exp(a - max a)``; returns ``s``."""
    s = _exp_shifted(a, w)
    for i in range(a.shape[0]):
        u[i] = w[i] / s
    return s


@njit(**FAST)
def _elementwise(x, kind):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        if kind == 0:
            out[i] = _exp_v(x[i])
        elif kind == 1:
            out[i] = _log_v(x[i])
        else:
            out[i] = _log1p_v(x[i])
    return out


def exp_v(x):
    """:func:`_exp_v` over an array (for tests and benchmarks)."""
    return _elementwise(np.asarray(x, np.float64), 0)


def log_v(x):
    """:func:`_log_v` over an array (for tests and benchmarks)."""
    return _elementwise(np.asarray(x, np.float64), 1)


def log1p_v(x):
    """:func:`_log1p_v` over an array (for tests and benchmarks)."""
    return _elementwise(np.asarray(x, np.float64), 2)


@njit(**FAST)
def softmax_v(a, r):
    """:func:`_softmax_v` and :func:`_dot4` on one vector (for tests): ``(u, u . r)``."""
    w = np.empty_like(a)
    u = np.empty_like(a)
    R = r.reshape((1, r.shape[0]))
    s = _softmax_v(a, w, u)
    return u, _dot4(w, R, 0) / s
