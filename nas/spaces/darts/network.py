"""Evaluation networks built from a genotype: the CIFAR network and the ImageNet mobile network.

CIFAR network (``reference.md``, "Evaluation settings"): a 3x3 stem convolution
to ``3C`` channels with BN, then ``layers`` cells; the cells at ``layers // 3``
and ``2 * layers // 3`` reduce (stride 2) and double the channels; global
average pooling and a linear classifier. An auxiliary head reads the output of
cell ``2 * layers // 3`` (the second reduction cell).

ImageNet mobile network (section 4.3): two stride-2 stems (the first is two
stride-2 3x3 convolutions, the second one more), so the first cell sees 1/8 of
the input resolution; 14 cells with C = 46 in the paper.

Drop-path zeroes a whole edge output per example (scaled by ``1 / keep`` so the
expectation is unchanged), only on non-identity operations and only in
training; the trainer sets ``drop_path_prob`` each epoch.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from xnas.nas.spaces.darts.genotypes import Genotype
from xnas.nas.spaces.darts.skeleton import reduction_layers
from xnas.nas.spaces.ops import OPERATIONS, FactorizedReduce, Identity, ReLUConvBN, drop_path

__all__ = [
    "Cell",
    "AuxiliaryHead",
    "NetworkCIFAR",
    "NetworkImageNet",
    "build_network",
]


class Cell(nn.Module):
    """One discrete cell: two preprocessed inputs, ``len(edges) // 2`` nodes, concat output.

    Parameters
    ----------
    edges : sequence of (str, int)
        Two ``(operation, input)`` pairs per intermediate node.
    concat : sequence of int
        States concatenated into the output (``multiplier = len(concat)``).
    C_prev_prev, C_prev, C : int
        Channels of the two inputs and of every node.
    reduction, reduction_prev : bool
        Whether this cell halves the resolution; whether the previous one did
        (then input 0 is twice the size of input 1 and is factor-reduced).
    """

    def __init__(
        self,
        edges,
        concat,
        C_prev_prev: int,
        C_prev: int,
        C: int,
        reduction: bool,
        reduction_prev: bool,
    ) -> None:
        super().__init__()
        self.reduction = reduction
        if reduction_prev:
            self.preprocess0: nn.Module = FactorizedReduce(C_prev_prev, C)
        else:
            self.preprocess0 = ReLUConvBN(C_prev_prev, C, 1, 1, 0)
        self.preprocess1 = ReLUConvBN(C_prev, C, 1, 1, 0)
        self.steps = len(edges) // 2
        self.indices = [int(index) for _, index in edges]
        self.concat = [int(c) for c in concat]
        self.multiplier = len(self.concat)
        ops = []
        for name, index in edges:
            stride = 2 if reduction and index < 2 else 1
            ops.append(OPERATIONS[name].build(C, stride, True))
        self.ops = nn.ModuleList(ops)
        # Drop-path skips identities: dropping a skip connection removes no computation to regularise.
        self.droppable = [not isinstance(op, Identity) for op in self.ops]

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for node in range(self.steps):
            total = None
            for j in (2 * node, 2 * node + 1):
                h = self.ops[j](states[self.indices[j]])
                if self.training and drop_prob > 0.0 and self.droppable[j]:
                    h = drop_path(h, drop_prob)
                total = h if total is None else total + h
            states.append(total)
        return torch.cat([states[i] for i in self.concat], dim=1)


class AuxiliaryHead(nn.Module):
    """The auxiliary classifier (DARTS/NASNet): ReLU, 5x5 average pool stride 3, 1x1 conv to
    128, BN, ReLU, 2x2 conv to 768, BN, ReLU, linear.

    At CIFAR's 8x8 input the pool gives 2x2 and the 2x2 convolution 1x1, exactly
    as in ``reference.md``. Smaller inputs (e.g. 2x2 for 8x8 digits) skip the
    pool, and a final adaptive average pool makes any size end at 1x1.
    """

    def __init__(self, C: int, num_classes: int, spatial: int, pool_stride: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.ReLU(inplace=False)]
        if spatial >= 5:
            layers.append(nn.AvgPool2d(5, stride=pool_stride, padding=0, count_include_pad=False))
            spatial = (spatial - 5) // pool_stride + 1
        kernel = 2 if spatial >= 2 else 1
        layers += [
            nn.Conv2d(C, 128, 1, bias=False),
            nn.BatchNorm2d(128),
            nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, kernel, bias=False),
            nn.BatchNorm2d(768),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        ]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _reduced(size: int) -> int:
    return (size + 1) // 2


class _Network(nn.Module):
    """Shared cell stacking of the CIFAR and ImageNet networks."""

    stem_multiplier = 3

    def _build_cells(
        self,
        genotype: Genotype,
        C: int,
        C_stem_pp: int,
        C_stem_p: int,
        layers: int,
        reduction_prev: bool,
        spatial: int,
        num_classes: int,
        auxiliary: bool,
        aux_pool_stride: int,
    ) -> None:
        C_prev_prev, C_prev, C_curr = C_stem_pp, C_stem_p, C
        self.cells = nn.ModuleList()
        self.aux_index = 2 * layers // 3
        self.auxiliary_head: Optional[AuxiliaryHead] = None
        reductions = set(reduction_layers(layers))
        for i in range(layers):
            reduction = i in reductions
            if reduction:
                C_curr *= 2
                spatial = _reduced(spatial)
            edges, concat = (
                (genotype.reduce, genotype.reduce_concat) if reduction else (genotype.normal, genotype.normal_concat)
            )
            cell = Cell(edges, concat, C_prev_prev, C_prev, C_curr, reduction, reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            C_prev_prev, C_prev = C_prev, cell.multiplier * C_curr
            if i == self.aux_index and auxiliary:
                self.auxiliary_head = AuxiliaryHead(C_prev, num_classes, spatial, aux_pool_stride)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(C_prev, num_classes)

    def _run_cells(self, s0: torch.Tensor, s1: torch.Tensor):
        logits_aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self.aux_index and self.auxiliary_head is not None and self.training:
                logits_aux = self.auxiliary_head(s1)
        out = self.global_pooling(s1).flatten(1)
        return self.classifier(out), logits_aux


class NetworkCIFAR(_Network):
    """The CIFAR evaluation network.

    Parameters
    ----------
    genotype : Genotype
    C : int
        Initial channels (36 for XNAS-Small).
    num_classes, layers : int
    auxiliary : bool
        Build the auxiliary head (its logits are returned in training mode only).
    in_channels : int
        Image channels (1 for grayscale datasets).
    image_size : int
        Input resolution, used to shape the auxiliary head.

    ``forward`` returns ``(logits, logits_aux)``; ``logits_aux`` is None in
    evaluation mode or without the auxiliary head.
    """

    def __init__(
        self,
        genotype: Genotype,
        C: int,
        num_classes: int,
        layers: int,
        auxiliary: bool = False,
        in_channels: int = 3,
        image_size: int = 32,
    ) -> None:
        super().__init__()
        if layers < 3:
            raise ValueError(f"the CIFAR network needs at least 3 layers, got {layers}")
        self.drop_path_prob = 0.0
        C_stem = self.stem_multiplier * C
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, C_stem, 3, padding=1, bias=False),
            nn.BatchNorm2d(C_stem),
        )
        self._build_cells(genotype, C, C_stem, C_stem, layers, False, image_size, num_classes, auxiliary, 3)

    def forward(self, x: torch.Tensor):
        s = self.stem(x)
        return self._run_cells(s, s)


class NetworkImageNet(_Network):
    """The ImageNet mobile-setting network (two stride-2 stems, then cells).

    Same parameters and outputs as :class:`NetworkCIFAR`; the default image
    size is 224 and the auxiliary head pools with stride 2 as in DARTS.
    """

    def __init__(
        self,
        genotype: Genotype,
        C: int,
        num_classes: int,
        layers: int,
        auxiliary: bool = False,
        in_channels: int = 3,
        image_size: int = 224,
    ) -> None:
        super().__init__()
        if layers < 3:
            raise ValueError(f"the ImageNet network needs at least 3 layers, got {layers}")
        self.drop_path_prob = 0.0
        self.stem0 = nn.Sequential(
            nn.Conv2d(in_channels, C // 2, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(C // 2, C, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C),
        )
        self.stem1 = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.Conv2d(C, C, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(C),
        )
        spatial = _reduced(_reduced(_reduced(image_size)))
        # The first cell's input 0 (stem0) is twice the size of input 1 (stem1): reduction_prev.
        self._build_cells(genotype, C, C, C, layers, True, spatial, num_classes, auxiliary, 2)

    def forward(self, x: torch.Tensor):
        s0 = self.stem0(x)
        s1 = self.stem1(s0)
        return self._run_cells(s0, s1)


def build_network(
    genotype: Genotype,
    C: int,
    layers: int,
    num_classes: int,
    in_channels: int = 3,
    image_size: int = 32,
    auxiliary: bool = False,
    imagenet: bool = False,
) -> _Network:
    """Build the CIFAR (default) or the ImageNet mobile network from a genotype."""
    if C < 2:
        raise ValueError(f"channels must be at least 2, got {C}")
    cls = NetworkImageNet if imagenet else NetworkCIFAR
    return cls(genotype, C, num_classes, layers, auxiliary, in_channels, image_size)


