"""The parts every space's supernet is made of: the mixed edge, wipeout over the cells that
share architecture weights, pruning the network optimizer after a wipeout, and the check of
an architecture-weight array. The DARTS supernet (:mod:`xnas.nas.spaces.darts.supernet`) and
the NAS-Bench-201 one (:mod:`xnas.nas.spaces.nb201.networks`) both stand on this module."""

from __future__ import annotations

import contextlib
from typing import Iterable, Iterator, Sequence

import numpy as np
import torch
from torch import nn

from xnas.nas.spaces.mixture import mix
from xnas.nas.spaces.ops import after_relu, get_operation

__all__ = ["MixedEdge", "WipeoutCells", "chosen_only", "prune_optimizer", "weights_array"]


class MixedEdge(nn.Module):
    """One forecaster: ``p = sum_i u_i f_i(x)`` over its alive experts.

    An edge with one expert left computes that expert only (times ``u = 1``).
    The ``none`` expert predicts the zero map, so its term and its reward
    ``-grad_p loss . 0`` are exactly zero; it is only evaluated when it is the
    last expert alive (then the edge outputs zeros).  The output is fp32
    even when the operations run in bf16 under autocast.  The candidates that
    begin with a ReLU share one ReLU of ``x`` (:func:`xnas.nas.spaces.ops.after_relu`),
    and the weighted sum with its rewards is :func:`xnas.nas.spaces.mixture.mix`.
    """

    def __init__(self, C: int, stride: int, primitives: Sequence[str]) -> None:
        super().__init__()
        self.primitives = tuple(primitives)
        self.stride = stride
        self.ops = nn.ModuleDict()
        for name in self.primitives:
            self.ops[name] = self.build_op(name, C, stride)
        self._alive: list[int] = list(range(len(self.primitives)))
        self.chosen_only = False  # set by :func:`chosen_only`
        self._refresh()

    def build_op(self, name: str, C: int, stride: int) -> nn.Module:
        """One candidate operation; a space overrides this hook to use its own operations."""
        op = get_operation(name).build(C, stride, False)
        if "pool" in name:
            op = nn.Sequential(op, nn.BatchNorm2d(C, affine=False))
        return op

    def _refresh(self) -> None:
        computed = [i for i in self._alive if self.primitives[i] != "none"]
        # (index into u, module) pairs evaluated by forward
        self._computed = [(i, self.ops[self.primitives[i]]) for i in (computed or self._alive)]
        # (index, function, whether it takes relu(x)): the operations that begin with a ReLU share one
        tails = [(i, after_relu(op), op) for i, op in self._computed]
        self._share_relu = sum(tail is not None for _, tail, _ in tails) > 1
        self._plan = [(i, tail, True) if tail is not None and self._share_relu else (i, op, False)
                      for i, tail, op in tails]
        self._index = tuple(i for i, _, _ in self._plan)

    def __getstate__(self) -> dict:
        # the plan holds closures over this edge's own modules: a deepcopy would keep the
        # original's (functions copy by reference) and pickle cannot store them; rebuilt on load
        state = self.__dict__.copy()
        state.pop("_plan", None)
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self._refresh()

    @property
    def alive(self) -> list[int]:
        """Indices (into ``primitives``) of the experts still in play."""
        return list(self._alive)

    def wipe(self, indices: Iterable[int]) -> bool:
        """Remove experts for good; returns whether anything changed."""
        drop = sorted({int(i) for i in indices} & set(self._alive))
        if not drop:
            return False
        if len(drop) == len(self._alive):
            raise ValueError("cannot wipe every expert of an edge")
        for i in drop:
            del self.ops[self.primitives[i]]
        self._alive = [i for i in self._alive if i not in drop]
        self._refresh()
        return True

    def forward(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        # A lone expert still goes through u (= 1) so that its reward is observed.
        # Under autocast the ops run in bf16, but each output is cast to fp32
        # before it is weighted: the mixture, and with it the reward
        # dloss/du_i = grad_p . f_i, is then formed in fp32 (rounded to bf16 it
        # would carry a relative error of ~1e-3, enough to flip near-zero rewards).
        if self.chosen_only:
            return self._forward_chosen(x, u)
        r = torch.relu(x) if self._share_relu else None
        return mix(u, self._index, [fn(r if on_relu else x) for _, fn, on_relu in self._plan])

    def _forward_chosen(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        # Only the experts with a non-zero weight: a sampled cell's one-hot weights make the
        # others' terms exactly zero, so this is the same sum without their work (no rewards:
        # nothing here needs dloss/du).
        weights = u.detach().float().tolist()
        chosen = [(i, fn, on_relu) for i, fn, on_relu in self._plan if weights[i] != 0.0]
        if not chosen:  # 'none', or an edge the cell does not use: zeros of the edge's output shape
            if "none" in self.ops:
                return self.ops["none"](x).float()
            _, fn, on_relu = self._plan[0]
            return (fn(torch.relu(x)) if on_relu else fn(x)).float() * 0.0
        r = torch.relu(x) if any(on_relu for _, _, on_relu in chosen) else None
        out = None
        for i, fn, on_relu in chosen:
            y = fn(r if on_relu else x).float() * weights[i]
            out = y if out is None else out + y
        return out


@contextlib.contextmanager
def chosen_only(net: nn.Module) -> Iterator[None]:
    """Within the block, every mixed edge of ``net`` computes only its experts of non-zero weight.

    For the one-hot weights of a sampled cell (random search with weight sharing) this is the
    supernet's forward without the work of the operations the cell does not choose. The
    weights are read on the host, once per edge and call.
    """
    edges = [m for m in net.modules() if isinstance(m, MixedEdge)]
    for edge in edges:
        edge.chosen_only = True
    try:
        yield
    finally:
        for edge in edges:
            edge.chosen_only = False


class WipeoutCells:
    """``alive`` and ``wipe`` over the cells that share one set of architecture weights.

    Both supernets (DARTS and NAS-Bench-201) mix in this class; they provide
    ``_cells_of(kind)`` (the cells of a cell type, ``ValueError`` for an unknown
    type) and ``arch_shape()``.
    """

    def alive(self, kind: str) -> torch.Tensor:
        """Bool mask ``(edges, N)`` of the experts still in the network."""
        cell = self._cells_of(kind)[0]
        mask = torch.zeros(self.arch_shape(), dtype=torch.bool)
        for row, edge in enumerate(cell.edges):
            mask[row, edge.alive] = True
        return mask

    def wipe(self, kind: str, alive: torch.Tensor) -> bool:
        """Delete, in every cell of ``kind``, the experts that ``alive`` marks False.

        Returns whether any module was removed.  Wiping is permanent: an
        expert marked alive that is no longer in the network stays out.
        """
        cells = self._cells_of(kind)
        alive = torch.as_tensor(alive).to("cpu", torch.bool)
        if tuple(alive.shape) != self.arch_shape():
            raise ValueError(f"alive mask shape {tuple(alive.shape)} != {self.arch_shape()}")
        changed = False
        for cell in cells:
            for row, edge in enumerate(cell.edges):
                dead = [i for i in edge.alive if not bool(alive[row, i])]
                changed |= edge.wipe(dead)
        return changed


def prune_optimizer(optimizer: torch.optim.Optimizer, model: nn.Module) -> int:
    """Drop from ``optimizer`` every parameter that is no longer in ``model``.

    The survivors keep their order, hyperparameters and state (momentum
    buffers), so a pruned optimizer equals one built over the pruned model
    with the same history.  Returns the number of parameters removed.
    """
    keep = {id(p) for p in model.parameters()}
    removed = 0
    for group in optimizer.param_groups:
        survivors = []
        for p in group["params"]:
            if id(p) in keep:
                survivors.append(p)
            else:
                optimizer.state.pop(p, None)
                removed += 1
        group["params"] = survivors
    return removed


def weights_array(value, shape: tuple[int, int], what: str) -> np.ndarray:
    """``value`` (array or tensor, any device) as a float64 NumPy array of ``shape``; ``ValueError`` otherwise."""
    a = np.asarray(torch.as_tensor(value).detach().cpu().double().numpy())
    if a.shape != shape:
        raise ValueError(f"{what} have shape {a.shape}, expected {shape}")
    return a
