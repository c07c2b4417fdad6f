"""The five NAS-Bench-201 operations, as a registry of :class:`xnas.nas.spaces.ops.Operation`.

``none``
    zeros.
``skip_connect``
    identity.
``nor_conv_1x1``, ``nor_conv_3x3``
    ReLU, convolution (no bias), BN; padding keeps the size.
``avg_pool_3x3``
    3x3 average pooling, stride 1, padding 1, the padding excluded from the average
    (:class:`xnas.nas.spaces.ops.AvgPool3x3`).

Every operation maps ``C`` channels to ``C`` at stride 1: the cells of this space
never change the resolution (the residual blocks between stages do). Unlike the
DARTS supernet, the pooling candidate is not followed by a BN, as in the
benchmark's own search code.
"""

from __future__ import annotations

from torch import nn

from xnas.nas.spaces.nb201.genotype import NB201_PRIMITIVES
from xnas.nas.spaces.ops import AvgPool3x3, Identity, Operation, ReLUConvBN, Zero

__all__ = ["NB201_OPERATIONS", "get_nb201_operation"]


def _stride_one(build):
    def checked(C: int, stride: int, affine: bool) -> nn.Module:
        if stride != 1:
            raise ValueError(f"NAS-Bench-201 cell operations run at stride 1, got {stride}")
        return build(C, affine)

    return checked


def _conv(k: int):
    return _stride_one(lambda C, affine: ReLUConvBN(C, C, k, 1, (k - 1) // 2, affine=affine))


_REGISTERED = (
    Operation("none", False, _stride_one(lambda C, affine: Zero(1)), "zeros (no connection)"),
    Operation("skip_connect", False, _stride_one(lambda C, affine: Identity()), "identity"),
    Operation("nor_conv_1x1", True, _conv(1), "ReLU, 1x1 convolution, BN"),
    Operation("nor_conv_3x3", True, _conv(3), "ReLU, 3x3 convolution, BN"),
    Operation(
        "avg_pool_3x3",
        False,
        _stride_one(lambda C, affine: AvgPool3x3(C, 1)),
        "3x3 average pooling, padding 1, padding excluded from the average",
    ),
)

NB201_OPERATIONS: dict[str, Operation] = {op.name: op for op in _REGISTERED}
"""The operations keyed by name, in the benchmark's order."""

assert tuple(NB201_OPERATIONS) == NB201_PRIMITIVES


def get_nb201_operation(name: str) -> Operation:
    """Look a NAS-Bench-201 operation up by name; ``ValueError`` lists the choices."""
    try:
        return NB201_OPERATIONS[name]
    except KeyError:
        raise ValueError(f"unknown operation {name!r}; choose from {', '.join(NB201_OPERATIONS)}") from None
