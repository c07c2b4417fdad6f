"""The DARTS search network (supernet) with real wipeout.

The search space of ``reference.md``: a stem (3x3 conv to ``3C`` + BN), ``layers``
cells with reduction cells at ``layers // 3`` and ``2 * layers // 3`` (channels
double there), global average pooling and a linear classifier.  A cell has two
inputs (the two previous cells, preprocessed by ReLU-1x1 conv-BN, or a factorized
reduce after a reduction cell) and ``steps`` intermediate nodes; node ``k`` sums
one *mixed edge* (a forecaster) from each of the ``2 + k`` earlier states, and the
cell output concatenates the intermediate nodes.  Inside the supernet every BN of
a candidate operation has ``affine=False`` and the pooling candidates are followed
by a BN with ``affine=False``.

The architecture weights are **not** part of this module: :meth:`SearchNetwork.forward`
receives the mixing coefficients ``u`` of each cell type (``(edges, N)`` tensors)
as inputs, so every cell of a type shares one set and the architecture optimizer
owns them (:mod:`xnas.nas.arch.optimizers`).  Network weights and architecture
weights are therefore disjoint parameter sets by construction, and the search
asserts it.

Real wipeout: :meth:`SearchNetwork.wipe` deletes the modules of wiped experts
from every cell of the type, so they are absent from forward and backward and
their parameters leave :meth:`parameters`; :func:`prune_optimizer` then drops
them from the network optimizer while keeping the moment buffers of the
survivors.  An edge with one expert left calls only that expert.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from xnas.nas.spaces.darts.genotypes import Genotype
from xnas.nas.spaces.darts.skeleton import reduction_layers
from xnas.nas.spaces.mixed_edge import MixedEdge, WipeoutCells, weights_array
from xnas.nas.spaces.ops import OPERATIONS, PRIMITIVES, FactorizedReduce, ReLUConvBN, check_primitives

__all__ = [
    "CELL_TYPES",
    "SearchCell",
    "SearchNetwork",
    "discretize",
    "edge_endpoints",
    "num_edges",
]

CELL_TYPES: tuple[str, str] = ("normal", "reduce")


def num_edges(steps: int) -> int:
    """Edges (forecasters) of a cell with ``steps`` intermediate nodes: ``sum_k (2 + k)``."""
    return sum(2 + k for k in range(steps))


def edge_endpoints(steps: int) -> list[tuple[int, int]]:
    """``(input state, node)`` of every edge, in the order of the architecture rows.

    States 0 and 1 are the cell inputs, ``2 + k`` the intermediate node ``k``.
    """
    return [(j, 2 + k) for k in range(steps) for j in range(2 + k)]


class SearchCell(nn.Module):
    """A normal or reduction cell of the supernet."""

    def __init__(
        self,
        steps: int,
        C_prev_prev: int,
        C_prev: int,
        C: int,
        reduction: bool,
        reduction_prev: bool,
        primitives: Sequence[str],
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.steps = steps
        if reduction_prev:
            self.pre0 = FactorizedReduce(C_prev_prev, C, affine=False)
        else:
            self.pre0 = ReLUConvBN(C_prev_prev, C, 1, 1, 0, affine=False)
        self.pre1 = ReLUConvBN(C_prev, C, 1, 1, 0, affine=False)
        self.edges = nn.ModuleList()
        for k in range(steps):
            for j in range(2 + k):
                stride = 2 if reduction and j < 2 else 1
                self.edges.append(MixedEdge(C, stride, primitives))

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        row = 0
        for _ in range(self.steps):
            node = None
            for h in states:
                y = self.edges[row](h, u[row])
                node = y if node is None else node + y
                row += 1
            states.append(node)
        return torch.cat(states[2:], dim=1)


class SearchNetwork(WipeoutCells, nn.Module):
    """The DARTS supernet.

    Parameters
    ----------
    in_channels : int
        Image channels.
    num_classes : int
        Classes of the classifier.
    C : int
        Initial channels (16 in the paper).
    layers : int
        Cells (8 in the paper; at least 3 so that both cell types exist).
    steps : int
        Intermediate nodes per cell (4).
    primitives : sequence of str
        The operation set (experts per edge), DARTS order by default.
    stem_multiplier : int
        The stem maps to ``stem_multiplier * C`` channels (3).
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        C: int = 16,
        layers: int = 8,
        steps: int = 4,
        primitives: Sequence[str] = PRIMITIVES,
        stem_multiplier: int = 3,
    ) -> None:
        super().__init__()
        primitives = check_primitives(primitives, OPERATIONS)
        if C < 2:
            raise ValueError(f"channels must be at least 2, got {C}")
        if layers < 3:
            raise ValueError(f"a search network needs at least 3 cells (normal and reduction), got {layers}")
        if steps < 1:
            raise ValueError(f"nodes per cell must be at least 1, got {steps}")
        if in_channels < 1 or num_classes < 2:
            raise ValueError(f"bad data shape: {in_channels} channels, {num_classes} classes")
        self.primitives = primitives
        self.C, self.layers, self.steps = C, layers, steps
        self.num_classes = num_classes
        C_curr = stem_multiplier * C
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, C_curr, 3, padding=1, bias=False),
            nn.BatchNorm2d(C_curr),
        )
        reductions = set(reduction_layers(layers))
        C_prev_prev, C_prev, C_curr = C_curr, C_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in reductions
            if reduction:
                C_curr *= 2
            cell = SearchCell(steps, C_prev_prev, C_prev, C_curr, reduction, reduction_prev, primitives)
            self.cells.append(cell)
            reduction_prev = reduction
            C_prev_prev, C_prev = C_prev, steps * C_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    # -- shape ---------------------------------------------------------
    @property
    def num_edges(self) -> int:
        """Forecasters per cell type."""
        return num_edges(self.steps)

    def replications(self) -> dict[str, int]:
        """How many cells of each type share one set of architecture weights."""
        r_reduce = sum(1 for c in self.cells if c.reduction)
        return {"normal": len(self.cells) - r_reduce, "reduce": r_reduce}

    def arch_shape(self) -> tuple[int, int]:
        """``(edges, N)``: the shape of each cell type's architecture weights."""
        return self.num_edges, len(self.primitives)

    def _cells_of(self, kind: str) -> list[SearchCell]:
        if kind not in CELL_TYPES:
            raise ValueError(f"unknown cell type {kind!r}; choose from {', '.join(CELL_TYPES)}")
        return [c for c in self.cells if c.reduction == (kind == "reduce")]

    # -- forward -------------------------------------------------------
    def forward(self, x: torch.Tensor, weights: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits for images ``x`` with mixing coefficients ``weights[kind]`` of shape ``(edges, N)``."""
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            u = weights["reduce" if cell.reduction else "normal"]
            s0, s1 = s1, cell(s0, s1, u)
        out = self.global_pooling(s1).flatten(1)
        return self.classifier(out)


def discretize(
    weights: dict[str, "np.ndarray | torch.Tensor"],
    primitives: Sequence[str],
    steps: int,
    log_weights: "dict[str, np.ndarray | torch.Tensor] | None" = None,
) -> Genotype:
    """The DARTS discretization of mixing weights into a :class:`Genotype`.

    For each intermediate node keep the 2 incoming edges with the largest
    strength (the largest weight among the edge's experts, ``none`` excluded),
    listed strongest first as DARTS does, and on each kept edge the strongest
    expert, ``none`` excluded.  The cell output concatenates every intermediate
    node.  Ties in either choice are broken by ``log_weights`` (see below),
    then by the earlier edge or column.

    An edge *led by* ``none`` (XNAS's last round left ``none`` its only
    survivor: every other expert has weight 0) has strength 0, so it ranks
    below every edge that kept an operation; when it must still be kept (node
    0 has only its two inputs), its operation is the one with the largest
    wipe-time log-weight, i.e. what the search preferred before the wipeout,
    not column 0.

    Parameters
    ----------
    weights : dict
        ``{"normal": (edges, N), "reduce": (edges, N)}`` mixing weights (wiped
        experts 0).
    primitives : sequence of str
        The operation names of the columns.
    steps : int
        Intermediate nodes per cell.
    log_weights : dict, optional
        Log-weights ``ln v`` of the same shape, with each wiped expert at its
        log-weight when it was wiped
        (:meth:`xnas.nas.arch.optimizers.ArchUpdater.final_log_weights`).
        They break ties of strength between edges (by the largest non-``none``
        log-weight of the edge) and between operations of an edge.  XNAS needs
        this: its last round wipes every expert but the leader, so every edge
        ends one-hot, and an edge led by ``none`` has only zeros to choose from.
    """
    primitives = tuple(primitives)
    if all(p == "none" for p in primitives):
        raise ValueError("cannot discretize an operation set made only of 'none'")
    cols = [i for i, p in enumerate(primitives) if p != "none"]
    cells = {}
    for kind in CELL_TYPES:
        shape = (num_edges(steps), len(primitives))
        w = weights_array(weights[kind], shape, f"{kind} weights")
        lw = np.zeros_like(w) if log_weights is None else weights_array(log_weights[kind], shape, f"{kind} log-weights")
        gene: list[tuple[str, int]] = []
        start = 0
        for k in range(steps):
            n_in = 2 + k
            rows, lrows = w[start : start + n_in][:, cols], lw[start : start + n_in][:, cols]
            strength, second = rows.max(axis=1), lrows.max(axis=1)
            order = sorted(range(n_in), key=lambda j: (-strength[j], -second[j]))[:2]
            for j in order:  # strongest first, as DARTS writes them
                best = min(range(len(cols)), key=lambda c: (-rows[j, c], -lrows[j, c]))
                gene.append((primitives[cols[best]], j))
            start += n_in
        cells[kind] = tuple(gene)
    concat = tuple(range(2, 2 + steps))
    return Genotype(normal=cells["normal"], normal_concat=concat, reduce=cells["reduce"], reduce_concat=concat)
