"""Plain NumPy references for the literature's forecasters, written for the tests.

Independent of the kernels of :mod:`xnas.pea.kernels.families`: each forecaster is written from
its paper, per round, in loss units (losses ``(L - R) / (2 L)`` in ``[0, 1]``
where the paper asks for them).  Squint's evidence is integrated numerically
(``scipy.integrate.quad``) rather than taken from the closed form.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, special


def squint_log_evidence_quad(R, V):
    """``ln int_0^{1/2} eta exp(eta R - eta^2 V) d eta`` by adaptive quadrature."""
    # the exponent's maximum on [0, 1/2], factored out so that nothing overflows
    grid = np.linspace(0.0, 0.5, 2001)
    m = float(np.max(grid * R - grid**2 * V))
    val, _ = integrate.quad(lambda e: e * math.exp(e * R - e * e * V - m), 0.0, 0.5,
                            epsabs=0.0, epsrel=1e-13, limit=200)
    return m + math.log(val)


def _normalise(logw):
    logw = np.asarray(logw, float)
    return np.exp(logw - special.logsumexp(logw))


def run_expert_reference(name, R, L=1.0, eta=0.05, alpha=1e-3, log_u0=None):
    """Play forecaster ``name`` over rewards ``R`` (T, N); return the mixtures,
    the cumulative reward ``fc``, per-round ``regret`` and the final ``u``."""
    T, N = R.shape
    prior = np.full(N, 1.0 / N) if log_u0 is None else np.exp(log_u0)
    loss = (L - R) / (2 * L)            # unit-range losses
    u = prior.copy()
    cum_loss = np.zeros(N)
    gap_sum = 0.0                       # AdaHedge's Delta
    reg = np.zeros(N)                   # sum of instantaneous regrets in loss units
    sq = np.zeros(N)                    # their squares
    boa_sum = np.zeros(N)
    boa_eta = np.full(N, 0.5)
    fs = prior.copy()
    fc = 0.0
    S = np.zeros(N)
    mixtures = np.zeros((T, N))
    regret = np.zeros(T)
    for t in range(1, T + 1):
        mixtures[t - 1] = u
        fc += float(u @ R[t - 1])
        S += R[t - 1]
        regret[t - 1] = S.max() - fc
        lt = loss[t - 1]
        inst = float(u @ lt) - lt       # regret of each expert this round
        cum_loss += lt
        if name == "hedge-anytime":
            e = math.sqrt(8 * math.log(N) / (t + 1))
            u = prior * np.exp(-e * (cum_loss - cum_loss.min()))
        elif name == "fixed-share":
            v = fs * np.exp(eta * (R[t - 1] - R[t - 1].max()))
            v /= v.sum()
            fs = alpha * prior + (1 - alpha) * v
            u = fs
        elif name == "adahedge":
            # in the paper's loss units; the gap scales with the loss range
            if gap_sum == 0.0:
                mix = lt[u > 0].min()
            else:
                e = math.log(N) / gap_sum
                mix = -special.logsumexp(-e * lt[u > 0], b=u[u > 0]) / e
            gap_sum += max(float(u @ lt) - mix, 0.0)
            if gap_sum == 0.0:
                lead = cum_loss == cum_loss.min()
                u = np.where(lead, prior, 0.0)
            else:
                e = math.log(N) / gap_sum
                u = prior * np.exp(-e * (cum_loss - cum_loss.min()))
        elif name == "squint":
            reg += inst
            sq += inst**2
            u = _normalise(np.log(prior) + [squint_log_evidence_quad(r, v) for r, v in zip(reg, sq)])
        elif name == "boa":
            boa_sum += -inst + boa_eta * inst**2     # excess loss l = -inst
            sq += inst**2
            boa_eta = np.where(sq > 0, np.minimum(0.5, np.sqrt(-np.log(prior) / np.where(sq > 0, sq, 1))), 0.5)
            u = _normalise(np.log(prior) + np.log(boa_eta) - boa_eta * boa_sum)
        elif name == "mlpoly":
            reg += inst
            sq += inst**2
            w = prior * np.maximum(reg, 0.0) / (1 + sq)
            u = w / w.sum() if w.sum() > 0 else prior.copy()
        else:
            raise ValueError(name)
        u = u / u.sum()
    return {"u_trace": mixtures, "fc": fc, "regret": regret, "u": u, "S": S}


def best_switching_reward(R, m):
    """Largest total reward of a sequence of experts with at most ``m`` switches
    (plain dynamic programming over (round, switches used, expert))."""
    T, N = R.shape
    best = np.full((m + 1, N), -np.inf)
    best[0] = 0.0
    for t in range(T):
        new = np.empty_like(best)
        for j in range(m + 1):
            stay = best[j]
            move = best[j - 1].max() if j > 0 else -np.inf
            new[j] = np.maximum(stay, move) + R[t]
        best = new
    return float(best.max())
