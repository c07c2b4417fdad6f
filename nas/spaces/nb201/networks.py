"""The NAS-Bench-201 skeleton, as a supernet (mixed edges, real wipeout) and as a discrete network.

Skeleton (``reference.md``): a 3x3 stem convolution to ``C`` with BN; three
stages of ``N`` cells at ``C``, ``2C`` and ``4C`` channels, joined by residual
blocks that halve the resolution (ReLU-conv3x3 stride 2-BN, ReLU-conv3x3-BN,
plus a shortcut of 2x2 average pooling and a 1x1 convolution); then BN, ReLU,
global average pooling and a linear classifier.

``layers`` counts the cells of all three stages (``3N``; the benchmark's
``N = 5`` is ``layers = 15``), as ``layers`` counts the cells of a DARTS
network. Every cell has the same architecture: in the supernet all ``3N``
cells share one ``(6, len(primitives))`` weight tensor, the ``"normal"`` entry
of the per-cell-type dicts the search passes around (there is no ``"reduce"``
entry), so the replications of the horizon are ``3N``.

The supernet's mixed edges are :class:`xnas.nas.spaces.darts.supernet.MixedEdge` built from
this space's operations (BN ``affine=False`` inside candidates), so wipeout is
the same real one: wiped operations leave the module, the forward pass and the
optimizer.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from xnas.nas.spaces.nb201.genotype import EDGES, NB201_PRIMITIVES, NODES, NB201Genotype
from xnas.nas.spaces.nb201.ops import NB201_OPERATIONS, get_nb201_operation
from xnas.nas.spaces.measure import count_macs_M, count_parameters_M
from xnas.nas.spaces.ops import drop_path
from xnas.nas.spaces.ops import Identity, ReLUConvBN, Zero, check_primitives
from xnas.nas.spaces.mixed_edge import MixedEdge, WipeoutCells, weights_array

__all__ = [
    "CELL_TYPES",
    "ResidualBlock",
    "NB201MixedEdge",
    "NB201SearchCell",
    "NB201SearchNetwork",
    "NB201Cell",
    "NB201Network",
    "build_nb201_network",
    "discretize_nb201",
    "nb201_network_size",
    "cells_per_stage",
]

CELL_TYPES: tuple[str] = ("normal",)
"""One cell type: every cell of the network shares one architecture."""


def cells_per_stage(layers: int) -> int:
    """``N`` for ``layers = 3N`` cells; ``ValueError`` unless ``layers`` is a positive multiple of 3."""
    if isinstance(layers, bool) or not isinstance(layers, (int, np.integer)) or layers < 3 or layers % 3:
        raise ValueError(f"a NAS-Bench-201 network has 3 stages of N cells: layers must be 3N >= 3, got {layers}")
    return int(layers) // 3


class ResidualBlock(nn.Module):
    """The residual block between stages: ``C_in`` to ``C_out`` channels at stride 2.

    The shortcut's pooling rounds up (``ceil_mode``) so that odd sizes (7x7 after
    two halvings of 28x28) give the same size on both paths; on even sizes this is
    the benchmark's 2x2 pooling.
    """

    def __init__(self, C_in: int, C_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(C_in, C_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(C_out, C_out, 3, 1, 1)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, stride=2, ceil_mode=True),
            nn.Conv2d(C_in, C_out, 1, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class _Skeleton(nn.Module):
    """Stem, three stages of cells joined by residual blocks, and the classifier."""

    def _build(self, in_channels: int, num_classes: int, C: int, layers: int, make_cell) -> None:
        n = cells_per_stage(layers)
        if C < 1:
            raise ValueError(f"channels must be at least 1, got {C}")
        if in_channels < 1 or num_classes < 2:
            raise ValueError(f"bad data shape: {in_channels} channels, {num_classes} classes")
        self.C, self.layers, self.num_classes = C, layers, num_classes
        self.stem = nn.Sequential(nn.Conv2d(in_channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C))
        body: list[nn.Module] = []
        c = C
        for stage in range(3):
            if stage:
                body.append(ResidualBlock(c, 2 * c))
                c *= 2
            body += [make_cell(c) for _ in range(n)]
        self.body = nn.ModuleList(body)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    @property
    def cells(self) -> list[nn.Module]:
        """The ``3N`` cells, in order (the residual blocks left out)."""
        return [m for m in self.body if not isinstance(m, ResidualBlock)]

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.global_pooling(self.lastact(x)).flatten(1))


def _cell_output(x: torch.Tensor, edge) -> torch.Tensor:
    """The cell's DAG on input ``x``: node ``j`` sums ``edge(row, node i)`` over ``i < j``, rows in
    :data:`EDGES` order; node 3 is the output.  Shared by the supernet cell and the discrete cell."""
    nodes, row = [x], 0
    for j in range(1, NODES + 1):
        total = None
        for i in range(j):
            y = edge(row, nodes[i])
            total = y if total is None else total + y
            row += 1
        nodes.append(total)
    return nodes[-1]


# ---------------------------------------------------------------------------------
# supernet
# ---------------------------------------------------------------------------------
class NB201MixedEdge(MixedEdge):
    """A :class:`MixedEdge` over this space's operations (stride 1, BN ``affine=False``).

    Only the construction differs; alive bookkeeping, wipeout and the forward
    pass (``none`` computed only when it is the last expert) are MixedEdge's.
    """

    def __init__(self, C: int, primitives: Sequence[str]) -> None:
        super().__init__(C, 1, primitives)

    def build_op(self, name: str, C: int, stride: int) -> nn.Module:
        return get_nb201_operation(name).build(C, stride, False)


class NB201SearchCell(nn.Module):
    """A supernet cell: node ``j`` sums a mixed edge from every earlier node; node 3 is the output."""

    def __init__(self, C: int, primitives: Sequence[str]) -> None:
        super().__init__()
        self.edges = nn.ModuleList(NB201MixedEdge(C, primitives) for _ in EDGES)

    def forward(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return _cell_output(x, lambda row, h: self.edges[row](h, u[row]))


class NB201SearchNetwork(WipeoutCells, _Skeleton):
    """The NAS-Bench-201 supernet, with the interface of :class:`xnas.nas.spaces.darts.supernet.SearchNetwork`.

    Parameters
    ----------
    in_channels, num_classes : int
        Image channels and classes.
    C : int
        Channels of the first stage (16 in the benchmark).
    layers : int
        Cells in all (``3N``; 15 in the benchmark).
    primitives : sequence of str
        The operations of every edge (a subset of the benchmark's five, in any order).

    ``forward(x, weights)`` reads ``weights["normal"]``, a ``(6, len(primitives))``
    tensor shared by every cell; the architecture weights are not part of the module.
    """

    cell_types = CELL_TYPES

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        C: int = 16,
        layers: int = 15,
        primitives: Sequence[str] = NB201_PRIMITIVES,
    ) -> None:
        super().__init__()
        primitives = check_primitives(primitives, NB201_OPERATIONS)
        self.primitives = primitives
        self._build(in_channels, num_classes, C, layers, lambda c: NB201SearchCell(c, primitives))

    @property
    def num_edges(self) -> int:
        """Forecasters per cell (6)."""
        return len(EDGES)

    def replications(self) -> dict[str, int]:
        """Cells sharing the one set of architecture weights: ``{"normal": 3N}``."""
        return {"normal": len(self.cells)}

    def arch_shape(self) -> tuple[int, int]:
        """``(6, N)``: the shape of the architecture weights."""
        return self.num_edges, len(self.primitives)

    def _cells_of(self, kind: str) -> list[nn.Module]:
        if kind not in CELL_TYPES:
            raise ValueError(f"unknown cell type {kind!r}; the nb201 space has only {', '.join(CELL_TYPES)}")
        return self.cells

    def forward(self, x: torch.Tensor, weights: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits for images ``x``, every cell mixing with ``weights["normal"]``."""
        u = weights["normal"]
        x = self.stem(x)
        for block in self.body:
            x = block(x) if isinstance(block, ResidualBlock) else block(x, u)
        return self._head(x)


# ---------------------------------------------------------------------------------
# discrete network
# ---------------------------------------------------------------------------------
class NB201Cell(nn.Module):
    """A discrete cell: edge ``e`` applies ``genotype.ops[e]`` (BN affine) to its input node."""

    def __init__(self, genotype: NB201Genotype, C: int) -> None:
        super().__init__()
        self.ops = nn.ModuleList(get_nb201_operation(op).build(C, 1, True) for op in genotype.ops)
        # Drop-path skips identities and zeros: dropping them regularises no computation.
        self.droppable = [not isinstance(op, (Identity, Zero)) for op in self.ops]

    def forward(self, x: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        drop = self.training and drop_prob > 0.0

        def edge(row: int, h: torch.Tensor) -> torch.Tensor:
            h = self.ops[row](h)
            return drop_path(h, drop_prob) if drop and self.droppable[row] else h

        return _cell_output(x, edge)


class NB201Network(_Skeleton):
    """The discrete NAS-Bench-201 network of a genotype.

    ``forward`` returns ``(logits, None)`` like the DARTS networks (there is no
    auxiliary head), so the training loop treats both alike; the trainer sets
    ``drop_path_prob`` (0 in the benchmark's recipe).
    """

    def __init__(self, genotype: NB201Genotype, C: int, num_classes: int, layers: int, in_channels: int = 3) -> None:
        super().__init__()
        if not isinstance(genotype, NB201Genotype):
            raise TypeError(f"expected an NB201Genotype, got {type(genotype).__name__}")
        self.genotype = genotype
        self.drop_path_prob = 0.0
        self._build(in_channels, num_classes, C, layers, lambda c: NB201Cell(genotype, c))

    def forward(self, x: torch.Tensor):
        x = self.stem(x)
        for block in self.body:
            x = block(x) if isinstance(block, ResidualBlock) else block(x, self.drop_path_prob)
        return self._head(x), None


def build_nb201_network(
    genotype: NB201Genotype,
    C: int,
    layers: int,
    num_classes: int,
    in_channels: int = 3,
    image_size: int = 32,
    auxiliary: bool = False,
    imagenet: bool = False,
) -> NB201Network:
    """Build the discrete network; the signature is :func:`xnas.nas.spaces.darts.network.build_network`'s.

    ``image_size`` is accepted for that symmetry (the network adapts to any
    size); ``auxiliary`` and ``imagenet`` have no NAS-Bench-201 meaning and are
    rejected with a one-line ``ValueError``.
    """
    if auxiliary:
        raise ValueError("the nb201 network has no auxiliary head (set auxiliary_weight=0)")
    if imagenet:
        raise ValueError("the nb201 space has no ImageNet network")
    return NB201Network(genotype, C, num_classes, layers, in_channels)


def discretize_nb201(
    weights,
    primitives: Sequence[str] = NB201_PRIMITIVES,
    log_weights=None,
) -> NB201Genotype:
    """The NAS-Bench-201 discretization: each edge keeps its strongest operation, ``none`` included.

    Parameters
    ----------
    weights : dict or array
        ``{"normal": (6, N)}`` mixing weights (wiped experts 0), or the array itself.
    primitives : sequence of str
        The operation names of the columns.
    log_weights : dict or array, optional
        Log-weights of the same shape (wiped experts at their wipe-time value or
        ``-inf``); they break ties of weight (XNAS's last round leaves every edge
        one-hot), before the earlier column wins.
    """
    primitives = tuple(primitives)
    shape = (len(EDGES), len(primitives))

    def as_array(value, what: str) -> np.ndarray:
        return weights_array(value["normal"] if isinstance(value, dict) else value, shape, what)

    w = as_array(weights, "weights")
    lw = np.zeros_like(w) if log_weights is None else as_array(log_weights, "log-weights")
    ops = []
    for row in range(len(EDGES)):
        best = min(range(len(primitives)), key=lambda c: (-w[row, c], -lw[row, c], c))
        ops.append(primitives[best])
    return NB201Genotype.from_ops(ops)


def nb201_network_size(
    genotype: NB201Genotype,
    C: int = 16,
    layers: int = 15,
    num_classes: int = 10,
    in_channels: int = 3,
    image_size: int = 32,
) -> dict[str, float]:
    """``{"params_M", "macs_M"}`` of the discrete network (convolutions and linear layers, one image).

    Counted by :func:`xnas.nas.spaces.darts.network.count_parameters_M` and
    :func:`xnas.nas.spaces.darts.network.count_macs_M`, the same counters as the DARTS networks.
    """
    model = build_nb201_network(genotype, C, layers, num_classes, in_channels, image_size)
    return {
        "params_M": count_parameters_M(model),
        "macs_M": count_macs_M(model, in_channels, image_size),
    }
