"""Upper bounds, memory estimates and float32 checks of :mod:`xnas.nas.limits` and :mod:`xnas.limits`."""

from __future__ import annotations

import pytest
import torch

from xnas.limits import LimitError, check_memory
from xnas.nas.limits import (
    check_float32,
    check_hyperparameters,
    check_network_size,
    estimate_network,
)


@pytest.mark.parametrize("kwargs, match", [
    (dict(C=100_000, layers=8), "channels"),
    (dict(C=4, layers=5, nodes=100, batch_size=64, image_size=8), "nodes"),
    (dict(C=36, layers=100_000, search=False, forward_only=True), "layers"),
    (dict(C=2000, layers=20, search=False), "memory"),
])
def test_sizes_that_cannot_fit_are_one_line(kwargs, match) -> None:
    with pytest.raises(LimitError, match=match) as info:
        check_network_size(**kwargs, available=32 * 2**30)
    assert "\n" not in str(info.value)


def test_paper_sizes_pass() -> None:
    check_network_size(16, 8, 4, 96, 32, available=32 * 2**30)  # the paper's search
    check_network_size(36, 20, 4, 96, 32, search=False, available=32 * 2**30)  # the paper's training
    check_network_size(4, 5, 4, 64, 8, available=2**30)  # the digits quick start
    # ImageNet mobile setting per GPU: the stem takes 224 to 28 pixels before the cells
    check_network_size(48, 14, 4, 128, 224, search=False, stem_stride=8, available=80 * 2**30)


def test_parameter_estimate_within_a_small_factor() -> None:
    """The estimate is meant to be rough; it must stay within 2x of torch's count."""
    from xnas.nas.spaces.darts.genotypes import get_genotype
    from xnas.nas.spaces.darts.network import build_network
    from xnas.nas.spaces.darts.supernet import SearchNetwork

    for C, layers, nodes in ((16, 8, 4), (8, 5, 6)):
        real = sum(p.numel() for p in SearchNetwork(3, 10, C, layers, nodes).parameters())
        assert 0.5 <= estimate_network(C, layers, nodes).params / real <= 2.0
    real = sum(p.numel() for p in build_network(get_genotype("XNAS"), 36, 20, 10, 3, 32).parameters())
    assert 0.5 <= estimate_network(36, 20, 4, search=False).params / real <= 2.0


def test_check_memory() -> None:
    check_memory(10, "x", available=100)
    with pytest.raises(LimitError, match="needs about"):
        check_memory(2**40, "x", available=2**30)


@pytest.mark.parametrize("name, value", [("lr", 1e300), ("weight_decay", 1e300), ("lr", float("inf")),
                                         ("lr", float("nan")), ("lr", 1e-50), ("momentum", 2.0),
                                         ("weight_decay", -1.0)])
def test_hyperparameters_beyond_float32_or_range(name, value) -> None:
    with pytest.raises(LimitError, match=name) as info:
        check_hyperparameters(**{name: value})
    assert "\n" not in str(info.value)


def test_accepted_values_convert_to_float32() -> None:
    check_hyperparameters(lr=0.025, lr_min=0.001, weight_decay=3e-4, momentum=0.9, grad_clip=5.0, arch_lr=None)
    for value in (1e-38 * 2, 3e38, 0.0):
        torch.tensor(check_float32("x", value), dtype=torch.float32)  # representable
    assert torch.isfinite(torch.tensor(check_float32("x", 3e38), dtype=torch.float32))
