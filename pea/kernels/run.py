"""The run loop of the simulator: one run, many runs, the mixtures and XNAS's wipeout.

Kernels take arrays and scalars only; the public API in :mod:`xnas.pea.simulate`
validates input and :mod:`xnas.pea.compiled` calls them.  The package's
modules, by concern (docs/architecture.md draws the whole):

* :mod:`xnas.pea.kernels.layout`: every forecaster id and the arrays' layouts;
* :mod:`xnas.pea.kernels.jit`: numba's options;
* :mod:`xnas.pea.kernels.rng`: the splitmix64 stream of each run;
* :mod:`xnas.pea.kernels.env`: the synthetic environments;
* :mod:`xnas.pea.kernels.eg`: the exponentiated step of ``xnas`` and ``eg``;
* one module per forecaster of the literature (``adahedge``, ``squint``,
  ``boa``, ``mlpoly``, ``fixed_share``, ``hedge_anytime``), registered in
  :mod:`xnas.pea.kernels.families`; they play several seeds side by side
  (:mod:`xnas.pea.kernels.lanes`), run by :mod:`xnas.pea.kernels.lane_run`;
* :mod:`xnas.pea.kernels.vecmath`: the vectorisable exp/log those forecasters use;
* :mod:`xnas.pea.kernels.squint_evidence`: Squint's evidence (branch-free parts and the closed form);
* :mod:`xnas.pea.kernels.shifting`: the shifting-regret dynamic programme;
* this module: the run loop of one seed (:func:`_run_one`), the mixtures of the other forecasters and the wipeout.

The forecaster id ``fc_id`` of both run loops (this one and
:func:`xnas.pea.kernels.lane_run._run_expert_lanes`) is a compile-time
literal: each forecaster gets a loop of its own, and compiles nothing of the
others.  :mod:`xnas.pea.compiled` calls them seed by seed (or lane group by
lane group), in threads: they release the GIL.

Everything is computed in log-weights.  The XNAS update below is the rule of
:mod:`xnas.pea.rule` (clip, exponentiated step, wipeout threshold, wipeout
factor); tests hold the kernel to it round by round.

numba's cache keys a compiled kernel on its own source file only, while a
kernel carries the compiled code of the kernels it calls from other modules:
:mod:`xnas.pea.cache_stamps` stamps each kernel module's cache with the
contents of the modules it calls as well.
"""

from __future__ import annotations

import math
import sys
import types

import numpy as np
from numba import njit

from xnas.pea.kernels.eg import _eg_segment, _eg_segment_pm, _eg_step, _logsumexp, _max, _weights_from_logits
from xnas.pea.kernels.env import BLOCK, ENV_ADVERSARIAL, ENV_CONVEX, ENV_REPLAY, ENV_SWITCHING, _adversarial_block, \
    _env_rewards, _env_setup
from xnas.pea.kernels.families import family_init, family_mixture, family_round, in_lanes
from xnas.pea.kernels.jit import LOOP, PLAIN
from xnas.pea.kernels.lanes import _init_lanes
from xnas.pea.kernels.layout import (FC_ADAM, FC_EG, FC_FTL, FC_GD, FC_SGD, FC_UNIFORM, FC_XNAS, FP_ALPHA, FP_BETA1,
                                     FP_BETA2, FP_CLIP, FP_EPS, FP_ETA, FP_L, FP_MOMENTUM, FP_SHIFTS, FP_WD, FP_ZETA,
                                     LN_ROWS, OUT_ALIVE, OUT_FC_LOSS, OUT_FC_REWARD, OUT_LOG_GAMMA,
                                     OUT_SHIFT, SC_SIZE, ST_ROWS, WD_ROWS)
from xnas.pea.kernels.rng import _seed_state
from xnas.pea.kernels.shifting import _shift_best, _shift_block, _shift_init, _shift_round



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

# Rounds between re-derivations of the cached linear weights from the
# log-weights (bounds the drift of repeated multiplication and rescales).
SYNC_EVERY = 1024


@njit(**PLAIN)
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
    elif in_lanes(fc_id):
        family_mixture(fc_id, a, tmp, out)
        return
    else:
        _weights_from_logits(a, tmp)
    s = 0.0
    for i in range(n):
        s += tmp[i]
    for i in range(n):
        out[i] = tmp[i] / s


@njit(**PLAIN)
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


@njit(**LOOP)
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

    The function is long because it is the hot loop: the rounds, the
    environment's blocks and the events between segments share the run's
    state in local variables, and splitting the loop would pass a dozen
    arrays through every call (the leaf work is already in the modules
    listed at the top).
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
    is_expert = in_lanes(fc_id)
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
    # the literature's forecasters keep their state as one lane (see xnas.pea.kernels.lanes)
    st = np.zeros((ST_ROWS, n))
    sc = np.zeros((SC_SIZE, 1))
    work = np.zeros((WD_ROWS, n))
    ln = np.zeros((LN_ROWS, 1))
    _init_lanes(1, logw0, a, st, sc, work)
    family_init(fc_id, 1, logw0, a, st, sc, work)
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
    # counters start as int64, not as the literal 0: numba would compile the callees for both
    si = np.int64(0)
    K = samples.shape[0]

    t = np.int64(0)
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
        j = np.int64(0)
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
                    fc_reward += _eg_segment_pm(block, j, j + stop, a, w, S, eta, L)
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
                elif is_expert:
                    # _run_many_lanes plays the other environments in lanes (xnas.pea.kernels.lane_run)
                    if convex:
                        family_round(fc_id, eta, L, alpha, t, buf, np.int64(0), S, a, st, sc, work, ln, rbar)
                    else:
                        family_round(fc_id, eta, L, alpha, t, block, j - 1, S, a, st, sc, work, ln, rbar)

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
