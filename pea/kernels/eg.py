"""numba kernels of the exponentiated step shared by ``xnas`` and ``eg``.

The log-weights ``a`` and cached linear weights ``w = exp(a - c)`` are updated
together; between events the hot loop multiplies ``w`` by a short polynomial
(:func:`_exp_small`) instead of a full exponential.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, fastmath={"contract"}, inline="always")
def _exp_small(x):
    """``exp(x)`` for ``|x| <= 0.35``: Taylor series to degree 13 (error < 1e-17).

    A branch-free polynomial that LLVM vectorises; the XNAS step multiplies the
    cached linear weights by ``exp(eta R)`` with ``|eta R| <= eta L`` small.
    """
    q = 1.0 / 6227020800.0
    q = q * x + 1.0 / 479001600.0
    q = q * x + 1.0 / 39916800.0
    q = q * x + 1.0 / 3628800.0
    q = q * x + 1.0 / 362880.0
    q = q * x + 1.0 / 40320.0
    q = q * x + 1.0 / 5040.0
    q = q * x + 1.0 / 720.0
    q = q * x + 1.0 / 120.0
    q = q * x + 1.0 / 24.0
    q = q * x + 1.0 / 6.0
    q = q * x + 0.5
    q = q * x + 1.0
    q = q * x + 1.0
    return q


@njit(cache=True)
def exp_small(x):
    """Array version of :func:`_exp_small` for tests."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = _exp_small(x[i])
    return out


@njit(cache=True)
def _max(a):
    m = -np.inf
    for i in range(a.shape[0]):
        if a[i] > m:
            m = a[i]
    return m


@njit(cache=True)
def _weights_from_logits(a, w):
    """``w_i = exp(a_i - max a)``; wiped experts (``-inf``) get 0."""
    m = _max(a)
    for i in range(a.shape[0]):
        w[i] = math.exp(a[i] - m)


@njit(cache=True)
def _logsumexp(a):
    m = _max(a)
    if m == -np.inf:
        return -np.inf
    s = 0.0
    for i in range(a.shape[0]):
        s += math.exp(a[i] - m)
    return m + math.log(s)


@njit(cache=True, fastmath={"contract"}, inline="always")
def _eg_step(r, a, w, eta, L, poly, do_clip):
    """The exponentiated step of rule.py (steps 1-2) on log-weights ``a``,
    mirrored on the cached linear weights ``w``."""
    n = a.shape[0]
    if poly:
        for i in range(n):
            x = eta * min(max(r[i], -L), L)
            a[i] += x
            w[i] *= _exp_small(x)
    else:
        for i in range(n):
            x = eta * (min(max(r[i], -L), L) if do_clip else r[i])
            a[i] += x
        _weights_from_logits(a, w)


@njit(cache=True, fastmath={"contract"})
def _eg_segment(block, j0, j1, a, w, S, eta, L, poly, do_clip):
    """Rounds ``j0 .. j1-1`` of ``block`` for xnas/eg with no event inside:
    predict with ``w``, account, step.  Returns the forecaster's reward."""
    n = a.shape[0]
    fc = 0.0
    for j in range(j0, j1):
        r = block[j]
        s = 0.0
        acc = 0.0
        for i in range(n):
            s += w[i]
            acc += w[i] * r[i]
        fc += acc / s
        for i in range(n):
            S[i] += r[i]
        _eg_step(r, a, w, eta, L, poly, do_clip)
    return fc


@njit(cache=True, fastmath={"contract"})
def _eg_segment_pm(block, j0, j1, a, w, S, eta, L):
    """:func:`_eg_segment` for rewards that are all exactly ``+L`` or ``-L``
    (the adversarial environment, clipped, polynomial step).

    The step ``eta clip(R_i)`` then takes two values, ``xp = eta L`` and
    ``-xp``, and so does its exponential: ``ep = _exp_small(xp)`` and
    ``em = _exp_small(-xp)`` are computed once a segment, and every round
    selects instead of evaluating the polynomial per expert.

    Rounds go in pairs, in one pass over the experts: the second round's
    weight of expert ``i`` is formed from the first's on the way, so that the
    two rounds' sums over experts (each a chain of dependent additions, in
    the order of :func:`_eg_segment`) run side by side and every array is
    read and written once per pair.  Every
    sum, product and accumulation is the same floating-point operation on the
    same operands as in :func:`_eg_segment`, so the results are identical;
    the loops stay in one function because the interleaving is the point.
    """
    n = a.shape[0]
    xp = eta * L
    xm = -xp
    # compiled here, with this function's contraction flags, as in _eg_segment
    ep = _exp_small(xp)
    em = _exp_small(xm)
    fc = 0.0
    j = j0
    while j + 1 < j1:
        r = block[j]
        q = block[j + 1]
        s = 0.0
        acc = 0.0
        s2 = 0.0
        acc2 = 0.0
        for i in range(n):
            wi = w[i]
            ri = r[i]
            qi = q[i]
            pr = ri > 0.0
            pq = qi > 0.0
            w2 = wi * (ep if pr else em)
            s += wi
            acc += wi * ri
            s2 += w2
            acc2 += w2 * qi
            S[i] = (S[i] + ri) + qi
            a[i] = (a[i] + (xp if pr else xm)) + (xp if pq else xm)
            w[i] = w2 * (ep if pq else em)
        fc += acc / s
        fc += acc2 / s2
        j += 2
    if j < j1:
        # an odd round left: the general segment gives the same numbers
        fc += _eg_segment(block, j, j1, a, w, S, eta, L, True, True)
    return fc
