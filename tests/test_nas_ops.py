"""The DARTS operations: shapes, parameter flags, registry behaviour."""

from __future__ import annotations

import pytest
import torch

from xnas.nas.spaces.nb201.ops import NB201_OPERATIONS
from xnas.nas.spaces.ops import (
    OPERATIONS,
    PRIMITIVES,
    AvgPool3x3,
    FactorizedReduce,
    SubgridConv2d,
    ReLUConvBN,
    get_operation,
    is_parametric,
)

torch.set_num_threads(1)


@pytest.mark.parametrize("name", list(OPERATIONS))
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("size", [8, 7])
def test_shapes(name: str, stride: int, size: int) -> None:
    C = 4
    op = OPERATIONS[name].build(C, stride, True)
    x = torch.randn(2, C, size, size)
    y = op(x)
    expected = size if stride == 1 else (size + 1) // 2
    assert y.shape == (2, C, expected, expected)


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_parametric_flag_matches_parameters(name: str) -> None:
    # affine=False so that BN contributes nothing: only conv weights count.
    for stride in (1, 2):
        module = OPERATIONS[name].build(4, stride, False)
        has = any(True for _ in module.parameters())
        assert has == is_parametric(name, stride)
    module = OPERATIONS[name].build(4, 1, False)
    assert OPERATIONS[name].parametric == any(True for _ in module.parameters())


@pytest.mark.parametrize("name", list(OPERATIONS))
def test_backward_reaches_input(name: str) -> None:
    op = OPERATIONS[name].build(3, 1, True)
    x = torch.randn(2, 3, 6, 6, requires_grad=True)
    op(x).sum().backward()
    assert x.grad is not None


def test_order_and_lookup() -> None:
    assert tuple(OPERATIONS) == PRIMITIVES
    assert len(PRIMITIVES) == 8
    assert get_operation("sep_conv_3x3").name == "sep_conv_3x3"
    with pytest.raises(ValueError, match="sep_conv_3x3"):
        get_operation("conv_7x7")


def test_zero_is_zero_and_pools_exclude_padding() -> None:
    x = torch.ones(1, 2, 4, 4)
    assert torch.count_nonzero(OPERATIONS["none"].build(2, 2, True)(x)) == 0
    # count_include_pad=False: a constant input averages to the same constant at the border.
    y = OPERATIONS["avg_pool_3x3"].build(2, 1, True)(x)
    assert torch.allclose(y, x)


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("shape", [(8, 8), (7, 9), (28, 28), (1, 1), (2, 3)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_avg_pool_equals_torch_avg_pool(stride, shape, channels_last) -> None:
    # The depthwise-convolution form is avg_pool2d(count_include_pad=False), forward and backward,
    # at even and odd sizes, in both layouts (float64: only rounding may differ).
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, *shape, generator=g, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(True)
    y = AvgPool3x3(5, stride).double()(x)
    ref = torch.nn.functional.avg_pool2d(x, 3, stride, 1, count_include_pad=False)
    assert y.shape == ref.shape
    torch.testing.assert_close(y, ref, rtol=1e-12, atol=1e-12)
    up = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    torch.testing.assert_close(torch.autograd.grad(y, x, up)[0], torch.autograd.grad(ref, x, up)[0],
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("registry", [OPERATIONS, NB201_OPERATIONS], ids=["darts", "nb201"])
def test_avg_pool_op_keeps_the_state_dict_of_torch_pooling(registry) -> None:
    # checkpoints written before the pooling became a convolution still load: no new entries
    op = registry["avg_pool_3x3"].build(4, 1, False)
    assert isinstance(op, AvgPool3x3) and op.state_dict() == {} and not list(op.parameters())


@pytest.mark.parametrize("kernel", [3, 5])
@pytest.mark.parametrize("size", [8, 7, 2, 1])
@pytest.mark.parametrize("channels_last", [False, True])
def test_subgrid_conv_equals_the_strided_dilated_conv(kernel, size, channels_last) -> None:
    # the reduction cells' dil_conv (stride 2, dilation 2) on the even grid: same values and gradients
    g = torch.Generator().manual_seed(0)
    conv = SubgridConv2d(4, 4, kernel, stride=2, padding=kernel - 1, dilation=2, groups=4, bias=False).double()
    x = torch.randn(2, 4, size, size, generator=g, dtype=torch.float64)
    if channels_last:
        x, conv = x.contiguous(memory_format=torch.channels_last), conv.to(memory_format=torch.channels_last)
    x.requires_grad_(True)
    y = conv(x)
    ref = torch.nn.functional.conv2d(x, conv.weight, None, 2, kernel - 1, 2, 4)
    assert y.shape == ref.shape
    torch.testing.assert_close(y, ref, rtol=1e-12, atol=1e-12)
    up = torch.randn(ref.shape, generator=g, dtype=torch.float64)
    for a, b in zip(torch.autograd.grad(y, [x, conv.weight], up), torch.autograd.grad(ref, [x, conv.weight], up)):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_parameter_counts_follow_the_maths() -> None:
    C = 8
    sep3 = OPERATIONS["sep_conv_3x3"].build(C, 1, True)
    # per block: depthwise 9C + pointwise C*C + BN 2C; two blocks
    assert sum(p.numel() for p in sep3.parameters()) == 2 * (9 * C + C * C + 2 * C)
    dil5 = OPERATIONS["dil_conv_5x5"].build(C, 1, True)
    assert sum(p.numel() for p in dil5.parameters()) == 25 * C + C * C + 2 * C
    fr = FactorizedReduce(C, C)
    assert sum(p.numel() for p in fr.parameters()) == C * (C // 2) * 2 + 2 * C
    rcb = ReLUConvBN(C, 2 * C, 1, 1, 0)
    assert sum(p.numel() for p in rcb.parameters()) == C * 2 * C + 4 * C


def test_factorized_reduce_reads_odd_pixels() -> None:
    fr = FactorizedReduce(1, 2, affine=False).eval()
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 1, 1] = 1.0  # only an odd pixel: the even path never sees it
    with torch.no_grad():
        fr.conv_even.weight.fill_(1.0)
        fr.conv_odd.weight.fill_(1.0)
        y = fr(x)
    assert y[0, 0].abs().sum() == 0
    assert y[0, 1].abs().sum() > 0
