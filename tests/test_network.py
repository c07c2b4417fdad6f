"""Evaluation networks: construction for every genotype, forward/backward, sizes, drop-path."""

from __future__ import annotations

import pytest
import torch

from xnas.nas.spaces.darts.genotypes import GENOTYPES, Genotype
from xnas.nas.spaces.darts.network import Cell, build_network
from xnas.nas.spaces.measure import count_macs_M, count_parameters_M
from xnas.nas.spaces.ops import drop_path

torch.set_num_threads(1)


@pytest.mark.parametrize("name", list(GENOTYPES))
def test_cifar_network_forward_backward(name: str) -> None:
    torch.manual_seed(0)
    model = build_network(GENOTYPES[name], C=4, layers=5, num_classes=7, image_size=16, auxiliary=True)
    model.drop_path_prob = 0.2
    x = torch.randn(3, 3, 16, 16)
    logits, aux = model(x)
    assert logits.shape == (3, 7) and aux.shape == (3, 7)
    (logits.sum() + 0.4 * aux.sum()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing
    model.eval()
    logits_eval, aux_eval = model(x)
    assert aux_eval is None and logits_eval.shape == (3, 7)
    # reductions at layers // 3 and 2 * layers // 3
    assert [c.reduction for c in model.cells] == [False, True, False, True, False]


@pytest.mark.parametrize("name", list(GENOTYPES))
def test_imagenet_network_forward(name: str) -> None:
    torch.manual_seed(0)
    model = build_network(GENOTYPES[name], C=8, layers=3, num_classes=5, image_size=32,
                          auxiliary=True, imagenet=True)
    logits, aux = model(torch.randn(2, 3, 32, 32))
    assert logits.shape == (2, 5) and aux.shape == (2, 5)
    logits.sum().backward()


def test_grayscale_tiny_images() -> None:
    model = build_network(GENOTYPES["XNAS"], C=4, layers=3, num_classes=10, in_channels=1,
                          image_size=8, auxiliary=True)
    logits, aux = model(torch.randn(2, 1, 8, 8))
    assert logits.shape == (2, 10) and aux.shape == (2, 10)


def test_published_sizes() -> None:
    # reference.md: XNAS-Small 3.7 M (3.8 M with the DARTS recipe), Medium 5.6 M, Large 7.2 M,
    # DARTS_V2 3.3 M; the auxiliary head is excluded.
    xnas = GENOTYPES["XNAS"]
    small = build_network(xnas, 36, 20, 10, auxiliary=True)
    assert count_parameters_M(small) == pytest.approx(3.793438, abs=1e-6)
    assert round(count_parameters_M(build_network(xnas, 44, 20, 10)), 1) == 5.6
    assert round(count_parameters_M(build_network(xnas, 50, 20, 10)), 1) == 7.2
    assert round(count_parameters_M(build_network(GENOTYPES["DARTS_V2"], 36, 20, 10)), 1) == 3.3
    with_aux = sum(p.numel() for p in small.parameters()) / 1e6
    assert with_aux > count_parameters_M(small) + 0.3
    assert count_macs_M(small, 3, 32) == pytest.approx(595.54368, rel=1e-9)


def test_imagenet_mobile_setting_under_600M_macs() -> None:
    model = build_network(GENOTYPES["XNAS"], 46, 14, 1000, image_size=224, imagenet=True)
    macs = count_macs_M(model, 3, 224)
    assert 450 < macs < 600
    # DARTS_V2 at C=48 is DARTS's published 4.7 M-parameter ImageNet network.
    darts = build_network(GENOTYPES["DARTS_V2"], 48, 14, 1000, image_size=224, imagenet=True)
    assert round(count_parameters_M(darts), 1) == 4.7


def test_macs_of_a_single_conv_layer() -> None:
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.Flatten(), torch.nn.Linear(8 * 16, 4))
    assert count_macs_M(model, 3, 4) * 1e6 == pytest.approx(8 * 16 * 3 * 9 + 8 * 16 * 4)


def test_drop_path_statistics_and_identity_exemption() -> None:
    torch.manual_seed(0)
    x = torch.ones(4000, 1, 1, 1)
    y = drop_path(x, 0.25)
    kept = (y != 0).float().mean().item()
    assert abs(kept - 0.75) < 0.03
    assert torch.allclose(y[y != 0], torch.tensor(1 / 0.75))
    # A cell made only of identities is unaffected by drop-path.
    skips = [("skip_connect", 0), ("skip_connect", 1)] * 2
    cell = Cell(skips, [2, 3], 4, 4, 4, reduction=False, reduction_prev=False).train()
    s = torch.randn(8, 4, 5, 5)
    torch.manual_seed(1)
    a = cell(s, s, drop_prob=0.0)
    torch.manual_seed(1)
    b = cell(s, s, drop_prob=0.9)
    assert torch.equal(a, b)
    convs = [("sep_conv_3x3", 0), ("sep_conv_3x3", 1)] * 2
    cell = Cell(convs, [2, 3], 4, 4, 4, reduction=False, reduction_prev=False).train()
    torch.manual_seed(1)
    a = cell(s, s, drop_prob=0.0)
    torch.manual_seed(1)
    b = cell(s, s, drop_prob=0.9)
    assert not torch.equal(a, b)
    cell.eval()
    assert torch.equal(cell(s, s, drop_prob=0.9), cell(s, s, drop_prob=0.0))


def test_smaller_cells_build() -> None:
    g = Genotype(
        normal=[("sep_conv_3x3", 0), ("skip_connect", 1), ("avg_pool_3x3", 2), ("sep_conv_5x5", 0)],
        normal_concat=[2, 3],
        reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("dil_conv_3x3", 1)],
        reduce_concat=[2, 3],
    )
    model = build_network(g, 4, 3, 10, image_size=8)
    assert model(torch.randn(2, 3, 8, 8))[0].shape == (2, 10)
