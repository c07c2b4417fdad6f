"""The weighted sum of a mixed edge, ``p = sum_i u_i f_i``, with a lean backward.

Autograd's version of ``u[i] * f_i`` summed over the experts allocates a
product and a partial sum per expert in the forward pass, and in the backward
pass forms ``grad * f_i`` in full before summing it into ``dloss/du_i``.  On
the small supernets this project searches on a CPU these passes over memory
cost as much as the convolutions.  :func:`mix` accumulates ``p`` in place
and takes each reward ``dloss/du_i = grad . f_i`` as one dot product over the
two tensors' memory; it saves the expert outputs only when ``u`` needs a
gradient (the architecture step), as autograd does.

The mathematics is the same: the same products summed in the same order in
the forward pass, and the same dot products (summed blockwise rather than
pairwise, a difference of floating-point rounding) in the backward pass.  The
mixture and the rewards are formed in fp32 even when the experts' outputs are
bf16 (autocast), see :class:`xnas.nas.spaces.darts.supernet.MixedEdge`.
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch

__all__ = ["mix"]


def _flat(t: torch.Tensor) -> Optional[torch.Tensor]:
    """A 1-D view of ``t``'s memory in its own layout (contiguous or channels_last), else None."""
    if t.is_contiguous():
        return t.view(-1)
    if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last):
        return t.permute(0, 2, 3, 1).reshape(-1)  # a view: the memory is NHWC-contiguous
    return None


def _dot(grad: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """``(grad * f).sum()`` without the full product, when both tensors lie alike in memory."""
    f = f.float()
    a, b = _flat(grad), _flat(f)
    if a is not None and b is not None and grad.stride() == f.stride():
        return torch.dot(a, b)
    return (grad * f).sum()


class _Mixture(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u: torch.Tensor, index: tuple, *outputs: torch.Tensor) -> torch.Tensor:
        out = outputs[0].float() * u[index[0]]
        for i, f in zip(index[1:], outputs[1:]):
            out.addcmul_(f.float(), u[i])
        ctx.index = index
        ctx.dtypes = [f.dtype for f in outputs]
        ctx.save_for_backward(u, *(outputs if ctx.needs_input_grad[0] else ()))
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        u, *outputs = ctx.saved_tensors
        grad_u = None
        if ctx.needs_input_grad[0]:
            grad_u = torch.zeros_like(u)
            for i, f in zip(ctx.index, outputs):
                grad_u[i] = _dot(grad, f)
        grads_f = [
            (grad * u[i]).to(dtype) if need else None
            for i, dtype, need in zip(ctx.index, ctx.dtypes, ctx.needs_input_grad[2:])
        ]
        return (grad_u, None, *grads_f)


def mix(u: torch.Tensor, index: Sequence[int], outputs: Sequence[torch.Tensor]) -> torch.Tensor:
    """``sum_j u[index[j]] * outputs[j].float()``, differentiable in ``u`` and in every output.

    Parameters
    ----------
    u : tensor
        The edge's mixing coefficients, 1-D (one per expert).
    index : sequence of int
        Which coefficient weighs each output.
    outputs : sequence of tensors
        The experts' outputs, all of one shape (at least one).
    """
    if not outputs or len(index) != len(outputs):
        raise ValueError(f"mix: {len(index)} indices for {len(outputs)} outputs (at least one needed)")
    return _Mixture.apply(u, tuple(int(i) for i in index), *outputs)
