"""Size and cost of a network of any space: parameters and multiply-adds, counted as DARTS counts them."""

from __future__ import annotations

import torch
from torch import nn

from xnas.nas.spaces.ops import AvgPool3x3

__all__ = ["count_parameters_M", "count_macs_M"]


def count_parameters_M(model: nn.Module) -> float:
    """Learnable parameters in millions, excluding the auxiliary head (as DARTS counts them)."""
    total = 0
    for name, p in model.named_parameters():
        if "auxiliary" in name:
            continue
        total += p.numel()
    return total / 1e6


def count_macs_M(model: nn.Module, in_channels: int, image_size: int) -> float:
    """Multiply-adds of one forward pass of one image, in millions.

    Counted by torch's :class:`~torch.utils.flop_counter.FlopCounterMode` in
    evaluation mode, so the auxiliary head is not run and not counted. Its
    convolution and matrix-product FLOPs are two per multiply-add (bias,
    BN, pooling and additions are not counted, as is usual), hence the halving.
    """
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    try:
        # pooling is not counted, also where ops.AvgPool3x3 computes it by a convolution
        with torch.no_grad(), AvgPool3x3.native(), FlopCounterMode(display=False) as counter:
            param = next(model.parameters())
            model(torch.zeros(1, in_channels, image_size, image_size, device=param.device, dtype=param.dtype))
    finally:
        model.train(was_training)
    return counter.get_total_flops() / 2 / 1e6
