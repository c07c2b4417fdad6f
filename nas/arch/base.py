"""The harness every architecture optimizer shares: :class:`ArchSettings` and :class:`ArchUpdater`.

The rules themselves are :mod:`xnas.nas.arch.optimizers` (``xnas``, ``darts``, ``gd``, and the
registry) and :mod:`xnas.nas.arch.random_ws` (``random-ws``); the calls the search loop makes
are described there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch

from xnas.nas.limits import WS_SAMPLES

__all__ = ["AllReduce", "ArchSettings", "ArchUpdater"]

AllReduce = Callable[[torch.Tensor], None]


@dataclass(frozen=True)
class ArchSettings:
    """Everything an architecture optimizer may need, per cell type.

    ``eta`` / ``horizon`` / ``rounds_per_step`` are dicts keyed by cell type
    (``"normal"``, ``"reduce"``).  ``world`` is the number of DDP ranks.
    ``weight_decay`` is the architecture weight decay; ``None`` takes the
    rule's default (``darts`` 1e-3, ``gd`` 0; ``xnas`` accepts only 0).
    """

    shape: tuple[int, int]
    eta: dict = field(default_factory=dict)
    horizon: dict = field(default_factory=dict)
    rounds_per_step: dict = field(default_factory=dict)
    L: float = 1.0
    zeta: float = 1.0
    lr: float | None = None
    weight_decay: float | None = None
    seed: int = 0
    world: int = 1
    kinds: tuple[str, ...] = ("normal", "reduce")
    # random-ws: the space's sampler, ``rng -> (genotype, {cell type: one-hot (edges, N)})``,
    # and how many sampled cells it ranks at the end
    sample_cell: Optional[Callable[[Any], tuple[Any, dict]]] = None
    samples: int = WS_SAMPLES


class ArchUpdater:
    """Base class: architecture weights of both cell types and their update."""

    name = "base"
    wipes = False
    # Whether the search steps the architecture before the weights (DARTS's order); XNAS
    # steps the weights first (Algorithm 1, line 4).
    arch_first = False
    # Whether the loop runs an architecture step on the validation half (random-ws: no).
    steps_on_validation = True
    # Whether the weight step's mixing weights are one-hot cells, so that the loop computes
    # only the chosen operations (random-ws).
    one_hot = False
    # Whether the cell is discretized from the weights, so that every epoch has one (random-ws:
    # no, it ranks sampled cells at the end, see candidates()).
    cell_from_weights = True

    def __init__(self, settings: ArchSettings, device: torch.device | str = "cpu") -> None:
        self.settings = settings
        self.kinds = tuple(settings.kinds)
        self.device = torch.device(device)
        self.params: dict[str, torch.Tensor] = {}
        self._u: dict[str, torch.Tensor] = {}
        self._acc: dict[str, torch.Tensor] = {}
        self.optimizer: torch.optim.Optimizer

    # -- used by the search loop -------------------------------------
    def parameters(self) -> list[torch.Tensor]:
        """The architecture tensors (disjoint from the network weights)."""
        return [self.params[k] for k in self.kinds]

    def mixing(self) -> dict[str, torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.no_grad()
    def weight_mixing(self) -> dict[str, torch.Tensor]:
        """The mixing weights the weight step holds fixed: the current ones, in float32."""
        return {k: v.float() for k, v in self.probabilities().items()}

    def candidates(self) -> Optional[list]:
        """Cells ``(genotype, one-hot weights)`` the loop ranks on the validation half at the end,
        or ``None``: the cell is derived from the weights (every rule but random-ws)."""
        return None

    def loss_scale(self, batch: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self, all_reduce: AllReduce | None = None) -> dict[str, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    def _targets(self) -> dict[str, torch.Tensor]:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, loss: torch.Tensor) -> None:
        """Accumulate the gradients this rule needs from ``loss`` (one backward pass).

        Only the architecture quantities are differentiated (``torch.autograd.grad``),
        so the architecture step spends nothing on network-weight gradients.
        May be called once per micro-batch; :meth:`step` consumes the sums.
        """
        targets = self._targets()
        names = list(targets)
        grads = torch.autograd.grad(loss, [targets[n] for n in names], allow_unused=True)
        for n, g in zip(names, grads):
            if g is None:
                continue
            g = g.detach().double()
            self._acc[n] = g if n not in self._acc else self._acc[n] + g

    @torch.no_grad()
    def probabilities(self) -> dict[str, torch.Tensor]:
        """Mixing weights ``u`` (float64, detached; wiped experts 0)."""
        return {k: torch.softmax(self.params[k].detach().double(), dim=-1) for k in self.kinds}

    def final_log_weights(self) -> dict[str, torch.Tensor] | None:
        """Log-weights for discretization with wiped experts at their wipe-time value.

        ``None`` for rules without wipeout: their softmax logits carry no
        cross-edge meaning, so discretization ranks by the mixing weights alone.
        """
        return None

    @torch.no_grad()
    def alive(self) -> dict[str, torch.Tensor]:
        """Bool masks of the experts in play (all True for rules without wipeout)."""
        return {k: torch.isfinite(self.params[k].detach()).cpu() for k in self.kinds}

    def state_dict(self) -> dict:
        """Architecture tensors and optimizer state."""
        return {
            "name": self.name,
            "params": {k: self.params[k].detach().clone() for k in self.kinds},
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` output (same rule, same shapes)."""
        if state.get("name") != self.name:
            raise ValueError(f"checkpoint holds a {state.get('name')!r} architecture optimizer, not {self.name!r}")
        with torch.no_grad():
            for k in self.kinds:
                src = state["params"][k]
                if tuple(src.shape) != tuple(self.params[k].shape):
                    raise ValueError(f"architecture weights {k}: shape {tuple(src.shape)} != {tuple(self.params[k].shape)}")
                self.params[k].copy_(src)
        self.optimizer.load_state_dict(state["optimizer"])

    def _take(self, name: str, all_reduce: AllReduce | None) -> torch.Tensor:
        g = self._acc.pop(name, None)
        if g is None:
            g = torch.zeros(self.settings.shape, dtype=torch.float64, device=self.device)
        if all_reduce is not None:
            all_reduce(g)
        return g
