"""Closed-form quantities of the paper's analysis (section 3.1)."""

from __future__ import annotations

import numpy as np


def theorem1_bound(eta, T, L, log_gamma, log_u0_best):
    """Theorem 1: ``eta T L^2 / 2 + (1/eta) ln(1/u0) - (1/eta) ln gamma_T``.

    With uniform initial weights ``ln(1/u0) = ln N`` and this is equation (3)
    verbatim; with other initial weights the potential argument of the proof
    gives the initial weight of the expert compared against.

    Parameters
    ----------
    eta, T, L : float
        Learning rate, horizon and reward bound.
    log_gamma : float or ndarray
        ``ln gamma_T``, the measured aggregated wipeout factor.
    log_u0_best : float or ndarray
        Log of the initial (normalised) weight of the best expert.
    """
    return eta * T * L * L / 2.0 - np.asarray(log_u0_best) / eta - np.asarray(log_gamma) / eta


def eg_order_bound(T, n_experts, L):
    """``L sqrt(2 T ln N)``: the XNAS bound at ``eta*`` without wipeout (eq. 4)."""
    return L * np.sqrt(2.0 * np.asarray(T, dtype=float) * np.log(n_experts))


def gd_order_bound(T, n_experts, L):
    """``L sqrt(2 T N)``: the order of the gradient-descent bound quoted in section 3.1."""
    return L * np.sqrt(2.0 * np.asarray(T, dtype=float) * n_experts)


def normalized_entropy(weights, axis=-1):
    """Entropy of each weight vector divided by ``ln N`` (paper, Figure 2)."""
    w = np.asarray(weights, dtype=float)
    n = w.shape[axis]
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(w > 0, w * np.log(w), 0.0).sum(axis=axis)
    return h / np.log(n)
