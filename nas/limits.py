"""Upper bounds and memory estimates checked before any work starts (no torch needed).

A supernet of ``-C 100000`` or a network of 100 000 cells used to end in an
allocator error, or to run for minutes before failing; a learning rate of
``1e300`` failed deep inside torch ("value cannot be converted to type float").
These checks answer in one line, before data loading or model set-up.  The
memory estimate is deliberately rough (within a small factor of what torch
allocates): it exists to refuse sizes that are out by orders of magnitude.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from xnas.limits import LimitError, check_memory
from xnas.nas.spaces.darts.skeleton import reduction_layers

__all__ = [
    "FLOAT32_MAX",
    "MAX_CHANNELS",
    "MAX_LAYERS",
    "MAX_NODES",
    "HYPERPARAMETER_RANGES",
    "NetworkEstimate",
    "CellModel",
    "DARTS_CELLS",
    "NB201_CELLS",
    "check_float32",
    "check_hyperparameters",
    "check_network_size",
    "estimate_network",
]

FLOAT32_MAX = 3.4028234663852886e38
FLOAT32_TINY = 1.1754943508222875e-38
MAX_CHANNELS = 4096
"""Largest initial channel count ``C`` (the paper uses 16 to search, 36-50 to train)."""
MAX_LAYERS = 1000
"""Most cells of a network (the paper uses 8 to search, 20 to train)."""
MAX_NODES = 16
"""Most intermediate nodes per cell (the paper uses 4; edges grow as nodes squared)."""
WS_SAMPLES = 100
"""random-ws's default K: the cells it ranks with the shared weights at the end."""
MAX_WS_SAMPLES = 100_000
"""Most cells random-ws ranks at the end (each is scored on the whole validation half)."""

HYPERPARAMETER_RANGES: dict[str, tuple[float, float]] = {
    "lr": (0.0, 1e12),
    "lr_min": (0.0, 1e12),
    "weight_decay": (0.0, 1e6),
    "momentum": (0.0, 1.0),
    "grad_clip": (0.0, FLOAT32_MAX),
    "arch_lr": (0.0, 1e12),
    "arch_weight_decay": (0.0, 1e6),
    "eta_normal": (0.0, 1e12),
    "eta_reduce": (0.0, 1e12),
    "drop_path": (0.0, 1.0),
    "label_smoothing": (0.0, 1.0),
    "auxiliary_weight": (0.0, 1e6),
}
"""Accepted ``[low, high]`` of float hyperparameters.  The upper ends are far above
any useful value (a divergent run is the non-finite guard's business) but keep
every value, and its products in the optimizer, representable in float32."""


def check_float32(name: str, value: float, low: float = -FLOAT32_MAX, high: float = FLOAT32_MAX) -> float:
    """Return ``value`` as a float if it is finite, representable in float32 and in ``[low, high]``.

    A non-zero value smaller in magnitude than float32's smallest normal number
    is refused too: torch would silently round it (towards) zero.

    Raises
    ------
    LimitError
        One line naming ``name``.
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise LimitError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(x) or abs(x) > FLOAT32_MAX:
        raise LimitError(f"{name} must be a finite number that float32 can hold (|x| <= 3.4e38), got {value!r}")
    if x != 0.0 and abs(x) < FLOAT32_TINY:
        raise LimitError(f"{name} {value!r} is too small for float32 (use 0 or a value >= 1.2e-38)")
    if not low <= x <= high:
        raise LimitError(f"{name} must lie in [{low:g}, {high:g}], got {value!r}")
    return x


def check_hyperparameters(**values: Optional[float]) -> None:
    """Check float hyperparameters by their config field names; ``None`` values are skipped.

    Names listed in :data:`HYPERPARAMETER_RANGES` get their range, others only
    the float32 check.  Example: ``check_hyperparameters(lr=cfg.lr, weight_decay=cfg.weight_decay)``.

    Raises
    ------
    LimitError
        One line naming the first bad field.
    """
    for name, value in values.items():
        if value is None:
            continue
        low, high = HYPERPARAMETER_RANGES.get(name, (-FLOAT32_MAX, FLOAT32_MAX))
        check_float32(name, value, low, high)


@dataclass(frozen=True)
class NetworkEstimate:
    """Rough size of a network: parameters and training memory in bytes."""

    params: int
    param_bytes: int
    activation_bytes: int

    @property
    def total_bytes(self) -> int:
        """Parameters with gradients and optimizer state, plus the activations kept for backward."""
        return self.param_bytes + self.activation_bytes


@dataclass(frozen=True)
class CellModel:
    """How the cells of one search space grow, for :func:`estimate_network`.

    Attributes
    ----------
    inputs : int
        States every cell starts from: 2 in darts (the two previous cells), 1 in
        nb201; node ``i`` of a supernet cell has an edge from each of the
        ``inputs + i`` earlier states.
    concat : bool
        The cell's output concatenates all its nodes (darts: ``nodes x c``
        channels, and the next cell preprocesses them with 1x1 convolutions);
        False when it is the last node alone (nb201).
    keeps_all_edges : bool
        A trained cell keeps every edge (nb201) rather than 2 per node (darts).
    search_weights : float
        ``c^2`` weights of one supernet operation, averaged over the space's operations.
    train_weights : float
        ``c^2`` weights of one kept operation: darts the average, nb201 its largest
        (``nor_conv_3x3``, 9), so that the estimate errs on the large side.
    """

    inputs: int
    concat: bool
    keeps_all_edges: bool
    search_weights: float
    train_weights: float

    def edges(self, nodes: int, search: bool) -> int:
        """Edges of a cell of ``nodes`` nodes (supernet or trained)."""
        every = nodes * (2 * self.inputs + nodes - 1) // 2
        return every if search or self.keeps_all_edges else 2 * nodes


DARTS_CELLS = CellModel(inputs=2, concat=True, keeps_all_edges=False, search_weights=0.75, train_weights=0.75)
"""darts: the separable and dilated convolutions' 1x1 parts, 6 c^2 over 8 operations."""
NB201_CELLS = CellModel(inputs=1, concat=False, keeps_all_edges=True, search_weights=2.0, train_weights=9.0)
"""nb201: 3x3 and 1x1 convolutions, 10 c^2 over 5 operations; 6 edges of 3 nodes."""


def estimate_network(C: int, layers: int, nodes: int = 4, batch_size: int = 96, image_size: int = 32,
                     in_channels: int = 3, search: bool = True, n_ops: int = 8,
                     stem_stride: int = 1, cells: CellModel = DARTS_CELLS) -> NetworkEstimate:
    """Estimate the parameters and the training memory of a network of a space's cells.

    Per edge of width ``c`` a supernet holds about ``cells.search_weights x n_ops x c^2``
    weights and keeps about ``4 n_ops`` feature maps of ``batch x c x s x s`` floats
    for backward; a trained cell has one operation per kept edge.  Reduction
    cells (darts) or stage changes (nb201), at ``layers // 3`` and ``2 layers // 3``,
    double ``c`` and halve ``s``.  Parameters count four times (weight, gradient,
    momentum, a spare copy), four bytes each.
    ``stem_stride`` is 8 for the ImageNet network, whose stem takes 224 to 28 pixels.
    """
    reductions = set(reduction_layers(layers))
    c, s = int(C), max(1, math.ceil(int(image_size) / int(stem_stride)))
    c_prev = 3 * c
    params = in_channels * 9 * 3 * c
    maps = batch_size * 3 * c * s * s  # the stem
    per_op_maps = 4 if search else 5
    ops = n_ops if search else 1
    weights = cells.search_weights if search else cells.train_weights
    edges = cells.edges(nodes, search)
    for i in range(layers):
        if i in reductions:
            c, s = 2 * c, max(1, math.ceil(s / 2))
        params += edges * ops * (weights * c * c + 40 * c) + (2 * c_prev * c if cells.concat else 0)
        maps += batch_size * c * s * s * (edges * ops * per_op_maps + nodes + 2)
        c_prev = nodes * c
    params = int(params)
    return NetworkEstimate(params=params, param_bytes=16 * params, activation_bytes=int(4 * maps))


# The network estimate counts every activation a forward could keep; autograd frees
# many and the paper's own searches fit in an 11 GB GPU that the estimate slightly
# exceeds. Only sizes far beyond the memory are refused, never a run that may fit.
NETWORK_ESTIMATE_SLACK = 2.0


def check_network_size(C: int, layers: int, nodes: int = 4, batch_size: int = 96, image_size: int = 32,
                       in_channels: int = 3, search: bool = True, n_ops: int = 8,
                       available: Optional[int] = None, forward_only: bool = False,
                       stem_stride: int = 1, cells: CellModel = DARTS_CELLS) -> NetworkEstimate:
    """Check the upper bounds on ``C``, ``layers`` and ``nodes``, then the estimated memory.

    Call it before building a network: ``search`` for a supernet, ``search=False``
    for a trained (or counted) network; ``forward_only`` counts the parameters
    only, as ``xnas-nas params`` does (its single-image forward is small);
    ``stem_stride=8`` for the ImageNet network; ``cells`` the space's
    :class:`CellModel` (a space's ``cell_model``).

    Returns
    -------
    NetworkEstimate

    Raises
    ------
    LimitError
        One line naming the option to lower.
    """
    for name, value, high in (("channels (-C)", C, MAX_CHANNELS), ("layers (cells)", layers, MAX_LAYERS),
                              ("nodes", nodes, MAX_NODES)):
        if int(value) > high:
            raise LimitError(f"{name} must be at most {high}, got {value}")
    est = estimate_network(C, layers, nodes, batch_size, image_size, in_channels, search, n_ops, stem_stride, cells)
    kind = "the supernet" if search else "the network"
    need = est.param_bytes / 4 if forward_only else est.total_bytes
    check_memory(need, f"{kind} (C={C}, {layers} cells, {nodes} nodes, batch {batch_size}, {image_size}px, "
                       f"about {est.params / 1e6:.3g} M parameters)", available,
                 hint="lower -C, the cells, the nodes or the batch size", slack=NETWORK_ESTIMATE_SLACK)
    return est
