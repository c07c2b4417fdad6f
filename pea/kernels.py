"""numba kernels of the simulator.

Kernels take arrays and scalars only; the public API in :mod:`xnas.pea.simulate`
validates input and calls them.  Leaf kernels are compiled with ``cache=True``.

Everything is computed in log-weights.  The mixture of one round is
``u_i = exp(a_i - m) / sum_j exp(a_j - m)`` with ``m`` the largest alive
log-weight, evaluated with a branch-free exponential (:func:`_exp_weights`)
that LLVM vectorises; it agrees with ``numpy.exp`` to a few ulp.

The XNAS update below is the rule of :mod:`xnas.pea.rule` (clip, exponentiated
step, wipeout threshold, wipeout factor); tests hold the kernel to it round by
round.
"""

from __future__ import annotations

import math

import sys
import types

import numpy as np
from numba import njit, prange

from xnas.pea.expert_kernels import (FC_ADAHEDGE, FC_BOA, FC_FIXED_SHARE, FC_HEDGE_ANYTIME,  # noqa: F401
                                     FC_MLPOLY, FC_SQUINT, SC_SIZE, ST_ROWS, _expert_init, _expert_step)
from xnas.pea.shifting import _shift_best, _shift_block, _shift_init, _shift_round


def _boot_numba_without_blas_probe() -> None:
    """Import numba's array-math registry without its BLAS probe.

    The first compile or cache load of any kernel imports
    ``numba.np.arraymath``, which probes for BLAS by importing the whole of
    ``scipy.linalg`` (0.3 s, a third of ``xnas-sim regret``'s run time).  Our
    kernels call no BLAS routine, so the probe is answered by a placeholder
    module that is removed again at once; numba looks for the real one when it
    compiles code that needs BLAS, and ``scipy.linalg`` imports normally later.
    """
    name = "scipy.linalg.cython_blas"
    if "numba.np.arraymath" in sys.modules or name in sys.modules:
        return
    placeholder = types.ModuleType(name)
    sys.modules[name] = placeholder
    try:
        import numba.np.arraymath  # noqa: F401
    finally:
        if sys.modules.get(name) is placeholder:
            del sys.modules[name]


_boot_numba_without_blas_probe()

# Forecaster ids (see xnas.pea.forecasters for the registry).
FC_XNAS = 0
FC_EG = 1
FC_GD = 2
FC_ADAM = 3
FC_SGD = 4
FC_FTL = 5
FC_UNIFORM = 6

# Environment ids (see xnas.pea.environments for the registry).
ENV_ADVERSARIAL = 0
ENV_STOCHASTIC = 1
ENV_LATE_BLOOMER = 2
ENV_SWITCHING = 3
ENV_CONVEX = 4
ENV_REPLAY = 5

# Layout of the forecaster parameter vector.
FP_ETA = 0
FP_L = 1
FP_ZETA = 2
FP_CLIP = 3
FP_BETA1 = 4
FP_BETA2 = 5
FP_EPS = 6
FP_WD = 7
FP_MOMENTUM = 8
FP_ALPHA = 9
FP_SHIFTS = 10  # switches of the shifting-regret comparator; -1: not computed
FP_SIZE = 11

# Layout of the per-run scalar outputs.
OUT_FC_REWARD = 0  # sum_t u_{t-1} . R_t (raw rewards)
OUT_FC_LOSS = 1  # forecaster's cumulative true loss (convex) or linear loss
OUT_LOG_GAMMA = 2  # ln gamma_T
OUT_ALIVE = 3  # alive experts at the end
OUT_SHIFT = 4  # best reward of a sequence with at most FP_SHIFTS switches
OUT_SIZE = 5

# Rounds between re-derivations of the cached linear weights from the
# log-weights (bounds the drift of repeated multiplication and rescales).
SYNC_EVERY = 1024
# Rounds of rewards an environment generates per call.
BLOCK = 256

_SM_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_SM_M1 = np.uint64(0xBF58476D1CE4E5B9)
_SM_M2 = np.uint64(0x94D049BB133111EB)
_U30 = np.uint64(30)
_U27 = np.uint64(27)
_U31 = np.uint64(31)
_U11 = np.uint64(11)
_U1 = np.uint64(1)
_INV53 = 1.0 / 9007199254740992.0


# --------------------------------------------------------------------- RNG
@njit(cache=True)
def _mix64(z):
    z = (z ^ (z >> _U30)) * _SM_M1
    z = (z ^ (z >> _U27)) * _SM_M2
    return z ^ (z >> _U31)


@njit(cache=True)
def _seed_state(seed, state):
    # Hash the seed so that neighbouring seeds start far apart in the stream.
    state[0] = _mix64(np.uint64(seed) + _SM_GAMMA)


@njit(cache=True)
def _next_u64(state):
    """splitmix64: a counter and a mixer; one call per 64 random bits."""
    s = state[0] + _SM_GAMMA
    state[0] = s
    return _mix64(s)


@njit(cache=True)
def _uniform(state):
    return np.float64(_next_u64(state) >> _U11) * _INV53


@njit(cache=True)
def _gauss(state):
    # Box-Muller; 1 - U avoids log(0).
    u1 = 1.0 - _uniform(state)
    u2 = _uniform(state)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True)
def _randint(state, n):
    return np.int64(_uniform(state) * n)


# --------------------------------------------------------------- exponentials
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


# --------------------------------------------------------- environments
@njit(cache=True)
def _env_setup(env_id, ep, n, state, env_vec, env_int, env_mat, target):
    """Draw the per-run constants of an environment (means, leaders, centres)."""
    L = ep[0]
    if env_id == ENV_STOCHASTIC:
        best = _randint(state, n) if ep[3] < 0 else np.int64(ep[3])
        env_int[0] = best
        for i in range(n):
            env_vec[i] = -0.5 * ep[1] * L
        env_vec[best] = 0.5 * ep[1] * L
    elif env_id == ENV_LATE_BLOOMER:
        best = _randint(state, n) if ep[5] < 0 else np.int64(ep[5])
        env_int[0] = best
        j = 0
        for i in range(n):
            if i == best:
                env_vec[i] = 0.0
                continue
            # the others spread evenly over [-0.2 L, 0.2 L]
            env_vec[i] = (-0.2 + 0.4 * j / max(n - 2, 1)) * L
            j += 1
    elif env_id == ENV_SWITCHING:
        k = np.int64(ep[1])
        prev = -1
        for s in range(k + 1):
            lead = _randint(state, n)
            while lead == prev:
                lead = _randint(state, n)
            env_int[s] = lead
            prev = lead
    elif env_id == ENV_CONVEX:
        for i in range(n):
            _unit_ball_point(state, env_mat[i], 0.9)
        _unit_ball_point(state, target, 0.9)


@njit(cache=True)
def _unit_ball_point(state, out, radius):
    d = out.shape[0]
    norm = 0.0
    for j in range(d):
        out[j] = _gauss(state)
        norm += out[j] * out[j]
    norm = math.sqrt(norm)
    scale = radius * (_uniform(state) ** (1.0 / d)) / max(norm, 1e-300)
    for j in range(d):
        out[j] *= scale


@njit(cache=True)
def _project_unit(v):
    norm = 0.0
    for j in range(v.shape[0]):
        norm += v[j] * v[j]
    if norm > 1.0:
        s = 1.0 / math.sqrt(norm)
        for j in range(v.shape[0]):
            v[j] *= s


@njit(cache=True)
def _clip(x, lo, hi):
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


@njit(cache=True)
def _env_rewards(env_id, ep, t, T, state, env_vec, env_int, env_mat, target, u, r, fvec, yvec, pvec, losses):
    """Fill ``r`` with the rewards of round ``t`` (1-based).

    ``u`` is the forecaster's normalised mixture of this round: the convex
    environment needs the prediction ``p = sum u_i f_i`` to reveal its
    gradient.  For the convex environment ``losses[:n]`` receives the experts'
    true losses and ``losses[n]`` the forecaster's; other environments leave
    ``losses`` alone.
    """
    n = r.shape[0]
    L = ep[0]
    # adversarial and replay rewards come in blocks (see _run_one)
    if env_id == ENV_STOCHASTIC:
        noise = ep[2] * L
        for i in range(n):
            r[i] = _clip(env_vec[i] + noise * _gauss(state), -L, L)
    elif env_id == ENV_LATE_BLOOMER:
        warm = t <= ep[1] * T
        best = env_int[0]
        noise = ep[4] * L
        for i in range(n):
            if i == best:
                mean = ep[2] * L if warm else ep[3] * L
            else:
                mean = env_vec[i]
            r[i] = _clip(mean + noise * _gauss(state), -L, L)
    elif env_id == ENV_SWITCHING:
        k = np.int64(ep[1])
        seg = min(np.int64((t - 1) * (k + 1) // T), k)
        lead = env_int[seg]
        gap = ep[2] * L
        noise = ep[3] * L
        for i in range(n):
            mean = 0.5 * gap if i == lead else -0.5 * gap
            r[i] = _clip(mean + noise * _gauss(state), -L, L)
    elif env_id == ENV_CONVEX:
        d = target.shape[0]
        noise = ep[2]
        for j in range(d):
            yvec[j] = target[j] + noise * _gauss(state)
        _project_unit(yvec)
        for i in range(n):
            for j in range(d):
                fvec[i, j] = env_mat[i, j] + noise * _gauss(state)
            _project_unit(fvec[i])
        # loss(p) = (L/4) |p - y|^2 has gradient (L/2)(p - y); with |f|, |y| <= 1
        # every reward R_i = -grad . f_i lies in [-L, L].
        lp = 0.0
        for j in range(d):
            p = 0.0
            for i in range(n):
                p += u[i] * fvec[i, j]
            pvec[j] = p
            lp += (p - yvec[j]) * (p - yvec[j])
        losses[n] = 0.25 * L * lp
        for i in range(n):
            acc = 0.0
            li = 0.0
            for j in range(d):
                acc += 0.5 * L * (pvec[j] - yvec[j]) * fvec[i, j]
                li += (fvec[i, j] - yvec[j]) * (fvec[i, j] - yvec[j])
            r[i] = -acc
            losses[i] = 0.25 * L * li




# ------------------------------------------------------------ one run
@njit(cache=True)
def _adversarial_block(state, buf, nb, L):
    """``nb`` rounds of i.i.d. +-L rewards: one random bit per expert."""
    n = buf.shape[1]
    for j in range(nb):
        i0 = 0
        while i0 < n:
            bits = _next_u64(state)
            m = min(64, n - i0)
            # branch-free: bit b gives (2 b - 1) L
            for i in range(m):
                b = np.float64((bits >> np.uint64(i)) & _U1)
                buf[j, i0 + i] = (2.0 * b - 1.0) * L
            i0 += m


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
def _eg_segment_pm(block, j0, j1, a, w, S, xp):
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
        r = block[j]
        s = 0.0
        acc = 0.0
        for i in range(n):
            s += w[i]
            acc += w[i] * r[i]
        fc += acc / s
        for i in range(n):
            pos = r[i] > 0.0
            S[i] += r[i]
            a[i] += xp if pos else xm
            w[i] *= ep if pos else em
    return fc


@njit(cache=True)
def _mixture(fc_id, a, S, tmp, out):
    """The forecaster's normalised mixture ``u`` into ``out``."""
    n = a.shape[0]
    if fc_id == FC_FTL:
        best = _max(S)
        for i in range(n):
            tmp[i] = 1.0 if S[i] == best else 0.0
    elif fc_id == FC_UNIFORM:
        for i in range(n):
            tmp[i] = 1.0
    else:
        _weights_from_logits(a, tmp)
    s = 0.0
    for i in range(n):
        s += tmp[i]
    for i in range(n):
        out[i] = tmp[i] / s


@njit(cache=True)
def _wipeout(a, w, wipe_round, t, T, eta, L, zeta):
    """Step 3-4 of rule.py.  Returns (ln Gamma_t, experts wiped, slack), where
    slack is how far the laggard still is from the threshold."""
    n = a.shape[0]
    m = -np.inf
    lo = np.inf
    for i in range(n):
        if a[i] > m:
            m = a[i]
        if a[i] > -np.inf and a[i] < lo:
            lo = a[i]
    margin = 2.0 * eta * L * zeta * (T - t)
    thr = m - margin
    lgam = 0.0
    wiped = 0
    if lo < thr:
        before = _logsumexp(a)
        for i in range(n):
            if a[i] < thr and a[i] > -np.inf:
                a[i] = -np.inf
                w[i] = 0.0
                wipe_round[i] = t
                wiped += 1
        lgam = before - _logsumexp(a)
        lo = np.inf
        for i in range(n):
            if a[i] > -np.inf and a[i] < lo:
                lo = a[i]
    return lgam, wiped, margin - (m - lo)


@njit(cache=True)
def _run_one(fc_id, fp, env_id, ep, replay, logw0, T, seed, samples, d,
             scal, exp_reward, exp_loss, wipe_round, final_u,
             traj_regret, traj_true_regret, traj_alive, traj_lgamma, traj_u, trace):
    """Play ``T`` rounds of one forecaster against one environment.

    The forecaster's state is its vector of logits ``a`` (the log-weights for
    ``xnas`` and ``eg``); a wiped expert holds ``-inf``.  ``xnas`` and ``eg``
    also cache linear weights ``w = exp(a - c)`` that they update
    multiplicatively and re-derive from ``a`` every ``SYNC_EVERY`` rounds, so
    the hot loop needs one short polynomial per expert and round instead of a
    full exponential, and runs uninterrupted from one event (a possible
    wipeout, a sample of the trajectory, a re-derivation) to the next.
    ``trace`` (shape ``(T, N)`` or ``(0, N)``) receives ``a`` after every
    round when it is large enough; tests compare it with :mod:`xnas.pea.rule`.
    """
    n = logw0.shape[0]
    state = np.empty(1, np.uint64)
    _seed_state(seed, state)
    eta = fp[FP_ETA]
    L = fp[FP_L]
    zeta = fp[FP_ZETA]
    do_clip = fp[FP_CLIP] > 0.5
    beta1 = fp[FP_BETA1]
    beta2 = fp[FP_BETA2]
    eps = fp[FP_EPS]
    wd = fp[FP_WD]
    mom = fp[FP_MOMENTUM]
    alpha = fp[FP_ALPHA]
    record = trace.shape[0] >= T
    is_eg = fc_id == FC_XNAS or fc_id == FC_EG
    is_xnas = fc_id == FC_XNAS
    # The polynomial is exact to 1e-17 while |eta R| <= 0.35.
    poly = do_clip and eta * L <= 0.35
    convex = env_id == ENV_CONVEX
    # adversarial rewards are exactly +-L: two step values, two exponentials
    pm = poly and env_id == ENV_ADVERSARIAL

    a = logw0.copy()
    w = np.empty(n)
    u = np.empty(n)
    tmp = np.empty(n)
    m1 = np.zeros(n)
    m2 = np.zeros(n)
    S = np.zeros(n)
    Ltrue = np.zeros(n)
    losses = np.zeros(n + 1)
    env_vec = np.zeros(n)
    kseg = np.int64(ep[1]) + 1 if env_id == ENV_SWITCHING else 1
    env_int = np.zeros(max(n, kseg), np.int64)
    dd = d if convex else 1
    env_mat = np.zeros((n, dd))
    target = np.zeros(dd)
    fvec = np.zeros((n, dd))
    yvec = np.zeros(dd)
    pvec = np.zeros(dd)
    buf = np.zeros((BLOCK, n))
    st = np.zeros((ST_ROWS, n))
    sc = np.zeros(SC_SIZE)
    _expert_init(fc_id, st, sc)
    shifts = np.int64(fp[FP_SHIFTS])
    dp = np.empty((max(shifts, 0) + 1, n))
    _shift_init(dp)
    _env_setup(env_id, ep, n, state, env_vec, env_int, env_mat, target)

    for i in range(n):
        wipe_round[i] = 0
    _weights_from_logits(a, w)
    fc_reward = 0.0
    fc_loss = 0.0
    lgam = 0.0
    alive_n = 0
    for i in range(n):
        if a[i] > -np.inf:
            alive_n += 1
    b1t = 1.0
    b2t = 1.0
    # Between two rounds the gap leader - laggard grows by at most 2 eta L and
    # the wipeout margin shrinks by 2 eta L zeta, which bounds how soon the
    # next wipeout can come (with clipped rewards).
    closing = 2.0 * eta * L * (1.0 + zeta)
    next_check = 1
    si = 0
    K = samples.shape[0]

    t = 0
    while t < T:
        nb = min(BLOCK, T - t)
        if env_id == ENV_REPLAY:
            block = replay[t:t + nb]
        elif env_id == ENV_ADVERSARIAL:
            block = buf
            _adversarial_block(state, buf, nb, ep[0])
        elif convex:
            block = buf
        else:
            block = buf
            for j in range(nb):
                _env_rewards(env_id, ep, t + j + 1, T, state, env_vec, env_int, env_mat, target,
                             u, buf[j], fvec, yvec, pvec, losses)
        if shifts >= 0 and not convex:
            _shift_block(block, nb, dp)
        j = 0
        while j < nb:
            if is_eg and not convex:
                stop = nb - j
                if is_xnas:
                    stop = min(stop, next_check - t) if do_clip else 1
                if si < K:
                    stop = min(stop, samples[si] - t)
                stop = min(stop, SYNC_EVERY - t % SYNC_EVERY)
                if record:
                    stop = 1
                if pm:
                    fc_reward += _eg_segment_pm(block, j, j + stop, a, w, S, eta * L)
                else:
                    fc_reward += _eg_segment(block, j, j + stop, a, w, S, eta, L, poly, do_clip)
                j += stop
                t += stop
            else:
                t += 1
                r = block[j]
                j += 1
                # ---- predict: the mixture of this round
                if is_eg:
                    s = 0.0
                    for i in range(n):
                        s += w[i]
                    for i in range(n):
                        u[i] = w[i] / s
                else:
                    _mixture(fc_id, a, S, tmp, u)
                if convex:
                    r = buf[0]
                    _env_rewards(env_id, ep, t, T, state, env_vec, env_int, env_mat, target,
                                 u, r, fvec, yvec, pvec, losses)
                    fc_loss += losses[n]
                    if shifts >= 0:
                        _shift_round(dp, r)
                    for i in range(n):
                        Ltrue[i] += losses[i]
                rbar = 0.0
                for i in range(n):
                    rbar += u[i] * r[i]
                fc_reward += rbar
                for i in range(n):
                    S[i] += r[i]

                # ---- update
                if is_eg:
                    _eg_step(r, a, w, eta, L, poly, do_clip)
                elif fc_id == FC_GD or fc_id == FC_SGD or fc_id == FC_ADAM:
                    # d loss / d a_i = -u_i (R_i - sum_j u_j R_j)   (paper, eq. 6)
                    for i in range(n):
                        g = -u[i] * (r[i] - rbar) + wd * a[i]
                        if fc_id == FC_GD:
                            a[i] -= eta * g
                        elif fc_id == FC_SGD:
                            m1[i] = mom * m1[i] + g
                            a[i] -= eta * m1[i]
                        else:
                            m1[i] = beta1 * m1[i] + (1.0 - beta1) * g
                            m2[i] = beta2 * m2[i] + (1.0 - beta2) * g * g
                    if fc_id == FC_ADAM:
                        b1t *= beta1
                        b2t *= beta2
                        c1 = 1.0 - b1t
                        c2 = 1.0 - b2t
                        for i in range(n):
                            a[i] -= eta * (m1[i] / c1) / (math.sqrt(m2[i] / c2) + eps)
                elif fc_id >= FC_ADAHEDGE:
                    _expert_step(fc_id, eta, L, alpha, t, r, rbar, u, S, a, logw0, st, sc)

            # ---- events after round t
            if is_eg and t % SYNC_EVERY == 0:
                _weights_from_logits(a, w)
            if is_xnas and (t >= next_check or not do_clip):
                dl, wiped, slack = _wipeout(a, w, wipe_round, t, T, eta, L, zeta)
                lgam += dl
                alive_n -= wiped
                # one round early, to stay clear of rounding at the boundary
                next_check = t + max(np.int64(slack / closing), 1)
            if record:
                for i in range(n):
                    trace[t - 1, i] = a[i]
            if si < K and t == samples[si]:
                best_s = _max(S)
                traj_regret[si] = best_s - fc_reward
                if convex:
                    best_l = np.inf
                    for i in range(n):
                        if Ltrue[i] < best_l:
                            best_l = Ltrue[i]
                    traj_true_regret[si] = fc_loss - best_l
                else:
                    traj_true_regret[si] = best_s - fc_reward
                traj_alive[si] = alive_n
                traj_lgamma[si] = lgam
                _mixture(fc_id, a, S, u, traj_u[si])
                si += 1

    _mixture(fc_id, a, S, w, final_u)
    for i in range(n):
        exp_reward[i] = S[i]
        exp_loss[i] = Ltrue[i] if convex else -S[i]
    scal[OUT_FC_REWARD] = fc_reward
    scal[OUT_FC_LOSS] = fc_loss if convex else -fc_reward
    scal[OUT_LOG_GAMMA] = lgam
    scal[OUT_ALIVE] = alive_n
    scal[OUT_SHIFT] = _shift_best(dp) if shifts >= 0 else 0.0


@njit(cache=True, parallel=True)
def _run_many(fc_id, fp, env_id, ep, replay, logw0, T, seeds, samples, d,
              scal, exp_reward, exp_loss, wipe_round, final_u,
              traj_regret, traj_true_regret, traj_alive, traj_lgamma, traj_u):
    """Independent runs, one per seed, spread over threads.

    Every run owns its random stream (seeded from its seed alone), so a seed's
    result does not depend on the number of threads.
    """
    trace = np.zeros((0, logw0.shape[0]))
    for k in prange(seeds.shape[0]):
        _run_one(fc_id, fp, env_id, ep, replay, logw0, T, seeds[k], samples, d,
                 scal[k], exp_reward[k], exp_loss[k], wipe_round[k], final_u[k],
                 traj_regret[k], traj_true_regret[k], traj_alive[k], traj_lgamma[k], traj_u[k], trace)
