"""Plain NumPy references for the simulator's forecasters, written for the tests.

Independent of the package's kernels: every forecaster is a few lines of
per-round NumPy following the paper (Algorithm 1, equation 6) and the torch
optimizers' documented update formulas.
"""

from __future__ import annotations

import math

import numpy as np


def softmax(a):
    m = np.max(a)
    e = np.exp(a - m)
    return e / e.sum()


def logsumexp(a):
    m = np.max(a)
    return m + math.log(np.exp(a - m).sum())


EXPERT_NAMES = ("adahedge", "squint", "boa", "mlpoly", "fixed-share", "hedge-anytime")


def run_reference(name, R, eta=0.1, L=1.0, zeta=1.0, clip=True, log_u0=None,
                  beta1=0.5, beta2=0.999, eps=1e-8, weight_decay=0.0, momentum=0.9, alpha=1e-4):
    """Play forecaster ``name`` over the reward array ``R`` (T, N).

    Returns a dict with the per-round logits ``trace``, the forecaster's
    cumulative reward ``fc``, per-round regret ``regret``, the ``wipe`` round
    of each expert (0 = survived), ``log_gamma`` and the final mixture ``u``.
    The literature's forecasters are played by :mod:`pea_reference_experts`
    (they never wipe out; ``trace`` holds their log-mixtures).
    """
    T, N = R.shape
    if name in EXPERT_NAMES:
        from pea_reference_experts import run_expert_reference

        out = run_expert_reference(name, R, L=L, eta=eta, alpha=alpha, log_u0=log_u0)
        with np.errstate(divide="ignore"):
            out["trace"] = np.log(out["u_trace"])
        return {**out, "wipe": np.zeros(N, int), "log_gamma": 0.0}
    a = np.full(N, -math.log(N)) if log_u0 is None else np.array(log_u0, float)
    S = np.zeros(N)
    fc = 0.0
    m1 = np.zeros(N)
    m2 = np.zeros(N)
    wipe = np.zeros(N, int)
    lgam = 0.0
    trace = np.zeros((T, N))
    regret = np.zeros(T)

    def mixture():
        if name == "ftl":
            lead = (S == S.max()).astype(float)
            return lead / lead.sum()
        if name == "uniform":
            return np.full(N, 1.0 / N)
        return softmax(a)

    for t in range(1, T + 1):
        r = R[t - 1]
        u = mixture()
        rbar = float(u @ r)
        fc += rbar
        S += r
        if name in ("xnas", "eg"):
            step = np.clip(r, -L, L) if clip else r
            alive = np.isfinite(a)
            a = np.where(alive, a + eta * step, -np.inf)
            if name == "xnas":
                theta = a[alive].max() - 2 * eta * L * zeta * (T - t)
                out = alive & (a < theta)
                if out.any():
                    lgam += logsumexp(a[alive]) - logsumexp(a[alive & ~out])
                    a[out] = -np.inf
                    wipe[out] = t
        elif name in ("gd-softmax", "sgd-softmax", "adam-softmax"):
            g = -u * (r - rbar) + weight_decay * a
            if name == "gd-softmax":
                a = a - eta * g
            elif name == "sgd-softmax":
                m1 = momentum * m1 + g
                a = a - eta * m1
            else:
                m1 = beta1 * m1 + (1 - beta1) * g
                m2 = beta2 * m2 + (1 - beta2) * g * g
                mhat = m1 / (1 - beta1**t)
                vhat = m2 / (1 - beta2**t)
                a = a - eta * mhat / (np.sqrt(vhat) + eps)
        trace[t - 1] = a
        regret[t - 1] = S.max() - fc
    return {"trace": trace, "fc": fc, "regret": regret, "wipe": wipe, "log_gamma": lgam,
            "u": mixture(), "S": S}
