"""numba kernels of the synthetic environments: per-run constants and per-round rewards.

See :mod:`xnas.pea.environments` for the registry; ids below are its
``kernel_id`` values.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from xnas.pea.kernels.rng import _U1, _gauss, _next_u64, _randint, _uniform

# Environment ids (see xnas.pea.environments for the registry).
ENV_ADVERSARIAL = 0
ENV_STOCHASTIC = 1
ENV_LATE_BLOOMER = 2
ENV_SWITCHING = 3
ENV_CONVEX = 4
ENV_REPLAY = 5

# Rounds of rewards an environment generates per call.
BLOCK = 256


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


@njit(cache=True, forceinline=True)
def _bit_reward(bits, i, L):
    """Bit ``i`` of ``bits`` as the reward ``(2 b - 1) L``, branch-free (the
    bit goes through int64: that conversion is one instruction)."""
    return (2.0 * np.float64(np.int64((bits >> np.uint64(i)) & _U1)) - 1.0) * L


@njit(cache=True)
def _adversarial_block(state, buf, nb, L):
    """``nb`` rounds of i.i.d. +-L rewards: one random bit per expert."""
    n = buf.shape[1]
    for j in range(nb):
        i0 = 0
        while i0 < n:
            bits = _next_u64(state)
            m = min(64, n - i0)
            for i in range(m):
                buf[j, i0 + i] = _bit_reward(bits, i, L)
            i0 += m


@njit(cache=True)
def _adversarial_lanes(state, R, nb, L):
    """:func:`_adversarial_block` for ``G`` lanes at once, straight into their
    columns of ``R`` (``R[j, i G + g]``, as :mod:`xnas.pea.kernels.lanes` lays them
    out): each lane draws its words from its own stream in the same order, and
    a lane's bit ``i`` lands beside the other lanes' (one vector store)."""
    G = state.shape[0]
    if G == 1:
        _adversarial_block(state[0], R, nb, L)
        return
    n = R.shape[1] // G
    words = np.empty(G, np.uint64)
    for j in range(nb):
        row = R[j]
        i0 = 0
        while i0 < n:
            m = min(64, n - i0)
            for g in range(G):
                words[g] = _next_u64(state[g])
            for i in range(m):
                # a slice, so that the stores are known to be consecutive (vectorised)
                out = row[(i0 + i) * G:(i0 + i + 1) * G]
                for g in range(G):
                    out[g] = _bit_reward(words[g], i, L)
            i0 += m
