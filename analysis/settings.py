"""Forecaster settings the figures compare: DARTS's architecture optimizer and the theory's rate.

``adam-softmax`` runs as DARTS's architecture optimizer (lr 3e-4, betas
(0.5, 0.999), weight decay 1e-3), ``sgd-softmax`` with momentum 0.9, and the
other forecasters at the theory's ``eta* = sqrt(2 ln N / T)`` (L = 1).
"""

from __future__ import annotations

from xnas.pea.rule import eta_star

DARTS_LR = 3e-4
DARTS_ADAM = {"beta1": 0.5, "beta2": 0.999, "weight_decay": 1e-3}
SGD_MOMENTUM = 0.9


def comparison_settings(forecaster: str, n_experts: int, T: int) -> tuple[float, dict]:
    """The learning rate and extra parameters a figure gives ``forecaster`` for ``T`` rounds."""
    if forecaster == "adam-softmax":
        return DARTS_LR, dict(DARTS_ADAM)
    if forecaster == "sgd-softmax":
        return eta_star(n_experts, T), {"momentum": SGD_MOMENTUM}
    return eta_star(n_experts, T), {}
