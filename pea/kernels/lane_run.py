"""The run loop of the expert-advice forecasters: several seeds in lanes, one thread.

:func:`_run_expert_lanes` plays the seeds it is given side by side
(:mod:`xnas.pea.kernels.lanes`) against any environment but the convex one, whose
rewards depend on each run's mixture (those runs go round by round through
:func:`xnas.pea.kernels.run._run_one`).  Each lane draws its environment from its
own seed's stream in the order :func:`xnas.pea.kernels.run._run_one` would, so a
seed meets the same rewards whichever forecaster plays it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from xnas.pea.kernels.env import (BLOCK, ENV_ADVERSARIAL, ENV_REPLAY, ENV_SWITCHING, _adversarial_lanes, _env_rewards,
                                  _env_setup)
from xnas.pea.kernels.families import family_init, family_segment
from xnas.pea.kernels.jit import LOOP, PLAIN
from xnas.pea.kernels.lanes import _init_lanes
from xnas.pea.kernels.layout import (LN_FC, LN_ROWS, OUT_ALIVE, OUT_FC_LOSS, OUT_FC_REWARD, OUT_LOG_GAMMA, OUT_SHIFT,
                                     SC_SIZE, ST_ROWS, WD_ROWS)
from xnas.pea.kernels.rng import _seed_state
from xnas.pea.kernels.shifting import _shift_best, _shift_block, _shift_init
from xnas.pea.kernels.vecmath import _softmax_v


@njit(**PLAIN)
def _lane_rewards(env_id, ep, t, nb, T, replay, state, env_vec, env_int, env_mat, target, buf, R, dp, shifts):
    """Rounds ``t+1 .. t+nb`` of every lane into ``R[:nb]`` (lanes side by side),
    and into each lane's shifting-regret programme."""
    G = state.shape[0]
    n = buf.shape[2]
    if env_id == ENV_ADVERSARIAL:
        _adversarial_lanes(state, R, nb, ep[0])
        if shifts >= 0:
            for g in range(G):
                _shift_block(R[:nb, g::G], nb, dp[g])
        return
    dummy = np.zeros(1)
    losses = np.zeros(n + 1)
    fvec = np.zeros((n, 1))
    for g in range(G):
        if env_id == ENV_REPLAY:
            block = replay[t:t + nb]
        else:
            block = buf[g]
            for j in range(nb):
                _env_rewards(env_id, ep, t + j + 1, T, state[g], env_vec[g], env_int[g], env_mat[g],
                             target[g], dummy, block[j], fvec, dummy, dummy, losses)
        if shifts >= 0:
            _shift_block(block, nb, dp[g])
        for j in range(nb):
            for i in range(n):
                R[j, i * G + g] = block[j, i]


@njit(**PLAIN)
def _record_lanes(G, alive, a, S, ln, si, traj_regret, traj_true_regret, traj_alive, traj_u):
    """The sampled round ``si`` of every lane: regret and mixture."""
    n = a.shape[0] // G
    ag = np.empty(n)
    tmp = np.empty(n)
    for g in range(G):
        best = -np.inf
        for i in range(n):
            ag[i] = a[i * G + g]
            best = max(best, S[i * G + g])
        traj_regret[g, si] = best - ln[LN_FC, g]
        traj_true_regret[g, si] = best - ln[LN_FC, g]
        traj_alive[g, si] = alive
        _softmax_v(ag, tmp, traj_u[g, si])


@njit(**LOOP)
def _run_expert_lanes(fc_id, G, eta, L, alpha, shifts, env_id, ep, replay, logw0, T, seeds, samples,
                      scal, exp_reward, exp_loss, wipe_round, final_u,
                      traj_regret, traj_true_regret, traj_alive, traj_lgamma, traj_u):
    """Play ``T`` rounds of expert forecaster ``fc_id`` for the ``G`` seeds of ``seeds``
    at once, one lane each (``G`` is the literal 1 in a lone run's loop, a
    run-time count otherwise); outputs as :func:`xnas.pea.kernels.run._run_one`'s,
    with a leading axis over the seeds.  There is no wipeout: ``ln gamma`` is
    0, no expert is wiped and the alive count is the prior's support.
    """
    n = logw0.shape[0]
    state = np.empty((G, 1), np.uint64)
    kseg = np.int64(ep[1]) + 1 if env_id == ENV_SWITCHING else 1
    env_vec = np.zeros((G, n))
    env_int = np.zeros((G, max(n, kseg)), np.int64)
    env_mat = np.zeros((G, n, 1))
    target = np.zeros((G, 1))
    dp = np.empty((G, max(shifts, 0) + 1, n))
    for g in range(G):
        _seed_state(seeds[g], state[g])
        _shift_init(dp[g])
        _env_setup(env_id, ep, n, state[g], env_vec[g], env_int[g], env_mat[g], target[g])
    a = np.empty(n * G)
    S = np.zeros(n * G)
    st = np.zeros((ST_ROWS, n * G))
    sc = np.zeros((SC_SIZE, G))
    wd = np.zeros((WD_ROWS, n * G))
    ln = np.zeros((LN_ROWS, G))
    _init_lanes(G, logw0, a, st, sc, wd)
    family_init(fc_id, G, logw0, a, st, sc, wd)
    # counters start as int64, not as the literal 0: numba would compile the callees for both
    alive = np.int64(0)
    for i in range(n):
        alive += 1 if logw0[i] > -np.inf else 0
    buf = np.zeros((G, BLOCK, n))
    R = np.zeros((BLOCK, n * G))
    si = np.int64(0)
    K = samples.shape[0]
    t = np.int64(0)
    while t < T:
        nb = min(BLOCK, T - t)
        _lane_rewards(env_id, ep, t, nb, T, replay, state, env_vec, env_int, env_mat, target, buf, R, dp, shifts)
        j = np.int64(0)
        while j < nb:
            stop = nb - j
            if si < K:
                stop = min(stop, samples[si] - t)
            family_segment(fc_id, R, j, j + stop, t, eta, L, alpha, G, a, S, st, sc, wd, ln)
            j += stop
            t += stop
            if si < K and t == samples[si]:
                _record_lanes(G, alive, a, S, ln, si, traj_regret, traj_true_regret, traj_alive, traj_u)
                si += 1
    tmp = np.empty(n)
    ag = np.empty(n)
    for g in range(G):
        for i in range(n):
            ag[i] = a[i * G + g]
            exp_reward[g, i] = S[i * G + g]
            exp_loss[g, i] = -S[i * G + g]
            wipe_round[g, i] = 0
        _softmax_v(ag, tmp, final_u[g])
        for k in range(K):
            traj_lgamma[g, k] = 0.0
        scal[g, OUT_FC_REWARD] = ln[LN_FC, g]
        scal[g, OUT_FC_LOSS] = -ln[LN_FC, g]
        scal[g, OUT_LOG_GAMMA] = 0.0
        scal[g, OUT_ALIVE] = alive
        scal[g, OUT_SHIFT] = _shift_best(dp[g]) if shifts >= 0 else 0.0
