"""Registry of forecasters: XNAS and the optimizers it is compared with.

Every forecaster keeps a vector of logits ``a`` (log-weights) and predicts
with ``u = softmax(a)`` (``ftl`` and ``uniform`` excepted).  ``xnas`` is the
rule of :mod:`xnas.pea.rule`; the softmax-gradient forecasters descend
``d loss / d a_i = -u_i (R_i - u . R)`` (paper, equation 6), the gradient a
NAS optimizer sees on its architecture logits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

from xnas.pea import kernels as K
from xnas.pea.params import freeze_registry, lookup, resolve_params
from xnas.pea.rule import eta_star


@dataclass(frozen=True)
class Forecaster:
    """One forecaster.

    Attributes
    ----------
    name : str
        Registry key.
    kernel_id : int
        Id understood by :mod:`xnas.pea.kernels`.
    description : str
        One line for ``--help`` and tables.
    defaults : Mapping[str, float]
        Extra hyperparameters and their defaults.
    auto_eta : str
        How ``eta='auto'`` resolves: ``"theory"`` gives
        ``eta* = sqrt(2 ln N / (T L^2))``, ``"darts"`` DARTS's architecture
        learning rate 3e-4, ``"none"`` means the forecaster has no step size.
    """

    name: str
    kernel_id: int
    description: str
    defaults: Mapping[str, float] = field(default_factory=dict)
    auto_eta: str = "theory"

    def resolve_eta(self, eta: float | str, n_experts: int, T: int, L: float) -> float:
        """The learning rate for ``eta`` (a positive number or ``'auto'``)."""
        if isinstance(eta, str):
            if eta != "auto":
                raise ValueError(f"eta must be a positive number or 'auto', got {eta!r}")
            if self.auto_eta == "darts":
                return 3e-4
            return eta_star(n_experts, T, L)
        eta = float(eta)
        if not (eta > 0 and math.isfinite(eta)):
            raise ValueError(f"eta must be positive and finite, got {eta}")
        return eta

    def resolve(self, params: Mapping[str, float] | None) -> dict[str, float]:
        """Defaults overridden by ``params``; unknown keys raise ``ValueError``."""
        return resolve_params("forecaster", self.name, self.defaults, params)


FORECASTERS: Mapping[str, Forecaster] = freeze_registry(
    Forecaster(
        "xnas",
        K.FC_XNAS,
        "XNAS (Algorithm 1): clipping, exponentiated-gradient step, wipeout with relaxation zeta",
        {"clip": 1.0},
    ),
    Forecaster(
        "eg",
        K.FC_EG,
        "exponentiated gradient (Hedge) with clipping, without wipeout",
        {"clip": 1.0},
    ),
    Forecaster(
        "gd-softmax",
        K.FC_GD,
        "gradient descent on softmax logits, as DARTS (effective reward u_i (R_i - R_bar))",
        {"weight_decay": 0.0},
    ),
    Forecaster(
        "adam-softmax",
        K.FC_ADAM,
        "Adam on softmax logits with DARTS's betas (0.5, 0.999); eta 'auto' is DARTS's 3e-4",
        {"beta1": 0.5, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0},
        auto_eta="darts",
    ),
    Forecaster(
        "sgd-softmax",
        K.FC_SGD,
        "SGD with momentum and weight decay on softmax logits",
        {"momentum": 0.9, "weight_decay": 0.0},
    ),
    Forecaster(
        "ftl",
        K.FC_FTL,
        "follow the leader: all weight on the experts with the largest cumulative reward",
        auto_eta="none",
    ),
    Forecaster(
        "uniform",
        K.FC_UNIFORM,
        "the uniform mixture, never updated",
        auto_eta="none",
    ),
)


def get_forecaster(name: str) -> Forecaster:
    """Look a forecaster up by name; ``ValueError`` lists the choices."""
    return lookup(FORECASTERS, "forecaster", name)
