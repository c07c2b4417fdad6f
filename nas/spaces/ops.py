"""The candidate operations of the DARTS search space, as a registry.

Every operation maps ``C`` channels to ``C`` channels; with ``stride=2`` it halves
the spatial size (rounding up, so odd sizes such as 7x7 are handled). The eight
operations, in the DARTS order, are:

``none``
    zeros, strided when reducing.
``max_pool_3x3``, ``avg_pool_3x3``
    3x3 pooling with padding 1; the average excludes the padding (:class:`AvgPool3x3`).
``skip_connect``
    identity, or :class:`FactorizedReduce` when the stride is 2.
``sep_conv_3x3``, ``sep_conv_5x5``
    two stacked (ReLU, depthwise kxk, pointwise 1x1, BN) blocks; the first carries the stride.
``dil_conv_3x3``, ``dil_conv_5x5``
    one (ReLU, depthwise kxk with dilation 2, pointwise 1x1, BN) block.

Written from the description in ``reference.md``; the padding of every kxk
convolution is chosen as ``dilation * (k - 1) / 2`` so that stride 1 keeps the size.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "drop_path",
    "Operation",
    "OPERATIONS",
    "after_relu",
    "PRIMITIVES",
    "get_operation",
    "check_primitives",
    "ReLUConvBN",
    "FactorizedReduce",
    "AvgPool3x3",
    "Zero",
    "Identity",
    "SepConv",
    "DilConv",
    "SubgridConv2d",
]


class ReLUConvBN(nn.Sequential):
    """ReLU, a dense ``kernel_size`` convolution without bias, then batch norm."""

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_size: int,
        stride: int,
        padding: int,
        affine: bool = True,
    ) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(C_in, C_out, kernel_size, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class SubgridConv2d(nn.Conv2d):
    """An ``nn.Conv2d`` that computes a convolution whose stride equals its dilation on the subsampled grid.

    With stride ``s`` = dilation ``s`` and a padding that ``s`` divides, output
    pixel ``i`` reads only the input pixels ``s * (i + j) - padding``, all on
    the grid ``x[..., ::s, ::s]``: the result is the stride-1, undilated
    convolution of that grid with padding ``padding / s``, the same products
    summed in the same order.  oneDNN's CPU kernel for strided dilated
    depthwise convolutions is 10x slower than that in the backward pass (the
    reduction cells' ``dil_conv``; docs/performance.md).  Other shapes are
    plain ``nn.Conv2d``; parameters and state dicts are ``nn.Conv2d``'s.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (s, s_w), (d, d_w), (p, p_w) = self.stride, self.dilation, self.padding
        if s == 1 or (s, d, s) != (s_w, d_w, d) or p % s or p_w != p or self.padding_mode != "zeros":
            return super().forward(x)
        return F.conv2d(x[..., ::s, ::s], self.weight, self.bias, 1, p // s, 1, self.groups)


class DilConv(nn.Sequential):
    """ReLU, depthwise ``kernel_size`` convolution (with ``dilation``), pointwise 1x1, BN.

    With ``dilation=1`` this is one block of a separable convolution.
    """

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_size: int,
        stride: int,
        padding: int,
        dilation: int,
        affine: bool = True,
    ) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            SubgridConv2d(
                C_in,
                C_in,
                kernel_size,
                stride=stride,
                padding=padding,
                dilation=dilation,
                groups=C_in,
                bias=False,
            ),
            nn.Conv2d(C_in, C_out, 1, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class SepConv(nn.Sequential):
    """Two stacked separable blocks; only the first one is strided.

    The first block keeps ``C_in`` channels, the second maps to ``C_out``.
    """

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_size: int,
        stride: int,
        padding: int,
        affine: bool = True,
    ) -> None:
        super().__init__(
            DilConv(C_in, C_in, kernel_size, stride, padding, 1, affine=affine),
            DilConv(C_in, C_out, kernel_size, 1, padding, 1, affine=affine),
        )


class Identity(nn.Module):
    """Returns its input unchanged (the stride-1 ``skip_connect``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Zero(nn.Module):
    """The ``none`` operation: zeros of the output shape.

    Multiplying a strided view by zero (rather than allocating) keeps the dtype,
    device and memory format of the input, and keeps the graph connected.
    """

    def __init__(self, stride: int) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"Zero: stride must be 1 or 2, got {stride}")
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


class AvgPool3x3(nn.Module):
    """3x3 average pooling, padding 1, the padding excluded from the average (``count_include_pad=False``).

    On the CPU it is computed as a depthwise convolution with a kernel of ones
    (the window sums), divided by the number of real pixels in each window: the
    same quantity as ``F.avg_pool2d(x, 3, stride, 1, count_include_pad=False)``
    up to floating-point rounding, about 3x faster forward and backward at the
    supernets' small channel counts, where ATen's CPU pooling kernel loops
    pixel by pixel (see docs/performance.md).  Other devices use ``avg_pool2d``.
    """

    _native = False  # set by native(): pool with avg_pool2d on every device

    @classmethod
    @contextlib.contextmanager
    def native(cls) -> Iterator[None]:
        """Within the block every AvgPool3x3 pools with ``avg_pool2d`` (multiply-add counts leave pooling out)."""
        before, cls._native = cls._native, True
        try:
            yield
        finally:
            cls._native = before

    def __init__(self, C: int, stride: int = 1) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"AvgPool3x3: stride must be 1 or 2, got {stride}")
        self.C, self.stride = C, stride
        # not persistent: state dicts stay those of nn.AvgPool2d (no entries)
        self.register_buffer("ones", torch.ones(C, 1, 3, 3), persistent=False)
        self._counts: dict = {}

    def _inverse_count(self, x: torch.Tensor) -> torch.Tensor:
        """1 / the real (non-padding) pixels under each output window, ``(1, C, H_out, W_out)`` in ``x``'s layout.

        Every channel gets its copy so that the division runs over two tensors
        of one layout (a ``(1, 1, H, W)`` divisor broadcast over channels_last
        data runs an inner loop of only C elements, 2.5x slower); a product by the
        inverse, not a division, as division is the slower instruction (the two
        differ by at most one rounding).
        """
        channels_last = x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
        key = (tuple(x.shape[-2:]), x.device, x.dtype, channels_last)
        count = self._counts.get(key)
        if count is None:
            per_axis = []
            for n in x.shape[-2:]:
                start = torch.arange(0, n, self.stride, device=x.device) - 1  # first row/column of each window
                per_axis.append((torch.clamp(start + 3, max=n) - torch.clamp(start, min=0)).to(x.dtype))
            count = (1.0 / (per_axis[0][:, None] * per_axis[1][None, :])).expand(1, self.C, -1, -1)
            count = count.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
            self._counts[key] = count
        return count

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or self._native:
            return F.avg_pool2d(x, 3, self.stride, 1, count_include_pad=False)
        sums = F.conv2d(x, self.ones.to(x.dtype), stride=self.stride, padding=1, groups=self.C)
        return sums * self._inverse_count(x)

    def extra_repr(self) -> str:
        return f"C={self.C}, stride={self.stride}"


class FactorizedReduce(nn.Module):
    """Halve the spatial size with two 1x1 stride-2 convolutions offset by one pixel.

    One convolution sees the even pixels, the other the odd ones (via a one-pixel
    shift), so together they read every input pixel; the two halves of the
    output channels are concatenated and batch-normalised. The input is padded by
    one pixel on the bottom/right before the shift, so odd sizes give
    ``ceil(H / 2)`` on both paths.
    """

    def __init__(self, C_in: int, C_out: int, affine: bool = True) -> None:
        super().__init__()
        if C_out < 2:
            raise ValueError(f"FactorizedReduce needs C_out >= 2, got {C_out}")
        self.relu = nn.ReLU(inplace=False)
        half = C_out // 2
        self.conv_even = nn.Conv2d(C_in, half, 1, stride=2, bias=False)
        self.conv_odd = nn.Conv2d(C_in, C_out - half, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.after_relu(self.relu(x))

    def after_relu(self, x: torch.Tensor) -> torch.Tensor:
        """The operation on an input already passed through the ReLU."""
        shifted = F.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
        out = torch.cat([self.conv_even(x), self.conv_odd(shifted)], dim=1)
        return self.bn(out)


def after_relu(op: nn.Module) -> Optional[Callable[[torch.Tensor], torch.Tensor]]:
    """``f`` with ``f(relu(x)) == op(x)`` when ``op`` begins with a ReLU, else None.

    The candidates of a mixed edge read the same input, and most begin with a
    ReLU of it (separable and dilated convolutions, ReLU-conv-BN, factorized
    reduce): the edge computes that ReLU once and hands it to each ``f``.
    """
    if isinstance(op, FactorizedReduce):
        return op.after_relu
    if not isinstance(op, nn.Sequential) or len(op) == 0:
        return None
    first, rest = op[0], list(op)[1:]
    head = (lambda r: r) if isinstance(first, nn.ReLU) else after_relu(first)
    if head is None:
        return None

    def run(r: torch.Tensor) -> torch.Tensor:
        y = head(r)
        for module in rest:
            y = module(y)
        return y

    return run


@dataclass(frozen=True)
class Operation:
    """A registered candidate operation.

    Attributes
    ----------
    name : str
        The DARTS name (``sep_conv_3x3`` ...).
    parametric : bool
        Whether the module has learnable convolution weights.
    build : callable
        ``build(C, stride, affine) -> nn.Module`` with ``C`` channels in and out.
    description : str
        One line for help texts.
    """

    name: str
    parametric: bool
    build: Callable[[int, int, bool], nn.Module]
    description: str


def _skip(C: int, stride: int, affine: bool) -> nn.Module:
    return Identity() if stride == 1 else FactorizedReduce(C, C, affine=affine)


def _sep(k: int) -> Callable[[int, int, bool], nn.Module]:
    def build(C: int, stride: int, affine: bool) -> nn.Module:
        return SepConv(C, C, k, stride, (k - 1) // 2, affine=affine)

    return build


def _dil(k: int) -> Callable[[int, int, bool], nn.Module]:
    def build(C: int, stride: int, affine: bool) -> nn.Module:
        return DilConv(C, C, k, stride, k - 1, 2, affine=affine)

    return build


_REGISTERED = (
    Operation("none", False, lambda C, stride, affine: Zero(stride), "zeros (no connection)"),
    Operation(
        "max_pool_3x3",
        False,
        lambda C, stride, affine: nn.MaxPool2d(3, stride=stride, padding=1),
        "3x3 max pooling, padding 1",
    ),
    Operation(
        "avg_pool_3x3",
        False,
        lambda C, stride, affine: AvgPool3x3(C, stride),
        "3x3 average pooling, padding 1, padding excluded from the average",
    ),
    # Parametric only when reducing (factorized reduce); the registry flag
    # describes the stride-1 operation, see ``is_parametric``.
    Operation("skip_connect", False, _skip, "identity, or factorized reduce when stride is 2"),
    Operation("sep_conv_3x3", True, _sep(3), "two stacked separable 3x3 convolutions"),
    Operation("sep_conv_5x5", True, _sep(5), "two stacked separable 5x5 convolutions"),
    Operation("dil_conv_3x3", True, _dil(3), "separable 3x3 convolution, dilation 2"),
    Operation("dil_conv_5x5", True, _dil(5), "separable 5x5 convolution, dilation 2"),
)

OPERATIONS: dict[str, Operation] = {op.name: op for op in _REGISTERED}
"""The operations keyed by name, in the DARTS order."""

PRIMITIVES: tuple[str, ...] = (
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
"""The DARTS operation names in their canonical order (N = 8 experts per edge)."""

assert tuple(OPERATIONS) == PRIMITIVES


def get_operation(name: str) -> Operation:
    """Look an operation up by name.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the choices.
    """
    try:
        return OPERATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown operation {name!r}; choose from {', '.join(OPERATIONS)}"
        ) from None


def check_primitives(primitives, known, what: str = "the operation set") -> tuple[str, ...]:
    """The operation set of an edge, checked against a space's operations.

    The one check of an operation set: supernets, search settings and the
    ``--ops`` parser (:func:`xnas.nas.spaces.darts.genotypes.parse_ops`) all use it.

    Parameters
    ----------
    primitives : iterable of str
        The operations, in column order of the architecture weights.
    known : iterable of str
        The operations the space defines.
    what : str
        How the messages name the set (``--ops`` for the CLI option).

    Returns
    -------
    tuple of str

    Raises
    ------
    ValueError
        An operation the space lacks, a repeated one, or fewer than 2 (one line).
    """
    prims = tuple(primitives)
    known = tuple(known)
    unknown = [p for p in prims if p not in known]
    if unknown:
        raise ValueError(f"{what}: unknown operation {unknown[0]!r}; choose from {', '.join(known)}")
    repeated = sorted({p for p in prims if prims.count(p) > 1})
    if repeated:
        raise ValueError(f"{what} names {repeated[0]!r} more than once")
    if len(prims) < 2:
        raise ValueError(f"{what} needs at least 2 operations, got {len(prims)}")
    return prims


def is_parametric(name: str, stride: int) -> bool:
    """Whether the operation built with ``stride`` has learnable weights.

    ``skip_connect`` becomes a (parametric) factorized reduce at stride 2.
    """
    op = get_operation(name)
    return op.parametric or (name == "skip_connect" and stride != 1)


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero each example's ``x`` with probability ``drop_prob``, rescaling the rest by ``1 / keep``."""
    if drop_prob <= 0.0:
        return x
    keep = 1.0 - drop_prob
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x * mask / keep
