"""The XNAS learning-rate calculator (paper, sections 3.1 and 3.2.2).

Each cell type ``c`` (normal, reduction) is its own set of forecasters whose
weights are shared by ``r_c`` replications, so it receives a different number of
reward feedbacks: ``T_c = d x E x r_c`` elementary rounds, with ``d`` the
validation examples per epoch and ``E`` the epochs.  The theory's learning rate is
``eta_c* = sqrt(2 ln N / (T_c L^2))`` (:func:`xnas.pea.rule.eta_star`).

For CIFAR-10 with the paper's settings (50 000 training images split 50/50, so
d = 25 000, seen in 260 full batches of 96, i.e. 24 960 per epoch; E = 50; 8 cells
of which 6 normal and 2 reduction; N = 8; L = 1) this gives eta_N* = 7.453e-4 and
eta_R* = 1.291e-3, the numbers of section 3.2.2 to two digits (7.5e-4 and 1.3e-3).
Counting all 25 000 examples instead gives 7.447e-4, i.e. 7.4e-4 to two digits.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from xnas.nas.spaces.darts.skeleton import cell_replications, reduction_layers
from xnas.pea.rule import check_reward_bound, eta_star

__all__ = [
    "LearningRates",
    "cell_replications",
    "learning_rates",
    "reduction_layers",
    "validation_size",
    "rounds_per_epoch",
]


@dataclass(frozen=True)
class LearningRates:
    """The theory's learning rates and the horizons they come from."""

    eta_normal: float
    eta_reduce: float
    horizon_normal: float
    horizon_reduce: float
    rounds_per_epoch: int
    epochs: int
    replications_normal: int
    replications_reduce: int
    experts: int
    L: float

    def to_dict(self) -> dict:
        """Plain dict (JSON-ready)."""
        return asdict(self)


def learning_rates(
    valid_size: int,
    epochs: int,
    replications_normal: int,
    replications_reduce: int,
    experts: int = 8,
    L: float = 1.0,
) -> LearningRates:
    """``eta_c* = sqrt(2 ln N / (T_c L^2))`` with ``T_c = d x E x r_c`` for both cell types.

    Parameters
    ----------
    valid_size : int
        ``d``, validation examples seen per epoch (elementary rounds per
        epoch and replication).
    epochs : int
        ``E``.
    replications_normal, replications_reduce : int
        ``r_N`` and ``r_R``.  A cell type with 0 replications gets ``nan``.
    experts : int
        ``N``, experts per forecaster.
    L : float
        Reward bound.

    Raises
    ------
    ValueError
        For non-positive sizes or epochs, an ``L`` outside
        :data:`xnas.pea.rule.REWARD_BOUND_RANGE`, negative replications, or ``N < 2``.
    """
    if valid_size < 1:
        raise ValueError(f"validation size must be at least 1, got {valid_size}")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if replications_normal < 0 or replications_reduce < 0 or replications_normal + replications_reduce < 1:
        raise ValueError(
            f"replications must be non-negative and not both 0, got {replications_normal}, {replications_reduce}"
        )
    if experts < 2:
        raise ValueError(f"need at least 2 experts, got {experts}")
    L = check_reward_bound(L)

    def eta(r: int) -> tuple[float, float]:
        if r == 0:
            return math.nan, 0.0
        horizon = float(valid_size) * epochs * r
        return eta_star(experts, horizon, L), horizon

    eta_n, t_n = eta(replications_normal)
    eta_r, t_r = eta(replications_reduce)
    return LearningRates(
        eta_normal=eta_n,
        eta_reduce=eta_r,
        horizon_normal=t_n,
        horizon_reduce=t_r,
        rounds_per_epoch=int(valid_size),
        epochs=int(epochs),
        replications_normal=int(replications_normal),
        replications_reduce=int(replications_reduce),
        experts=int(experts),
        L=float(L),
    )


def validation_size(train_size: int, split: float) -> int:
    """Validation examples of a search split: the train set minus its ``split`` share.

    ``split`` is the fraction used to train the network weights (0.5 in the
    paper), so ``d = train_size - floor(split * train_size)``.
    """
    if not 0.0 < split < 1.0:
        raise ValueError(f"split must lie strictly between 0 and 1, got {split}")
    if train_size < 2:
        raise ValueError(f"dataset size must be at least 2, got {train_size}")
    return train_size - int(math.floor(split * train_size))


def rounds_per_epoch(valid_size: int, batch_size: int, train_size: int | None = None) -> int:
    """Validation examples an epoch of the search really uses: whole batches only.

    The search drops the last incomplete batch of each epoch, so ``d`` counts
    ``floor(valid_size / batch_size) * batch_size`` examples (24 960 of CIFAR-10's
    25 000 with the paper's batch of 96).  ``batch_size = 1`` counts them all.
    An epoch alternates one weight step and one architecture step and ends with
    the shorter half, so with ``train_size`` (the network-weight half) given,
    the count is capped by its whole batches too.
    """
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    if valid_size < batch_size:
        raise ValueError(f"batch size {batch_size} exceeds the validation size {valid_size}")
    steps = valid_size // batch_size
    if train_size is not None:
        if train_size < batch_size:
            raise ValueError(f"batch size {batch_size} exceeds the training half {train_size}")
        steps = min(steps, train_size // batch_size)
    return steps * batch_size
