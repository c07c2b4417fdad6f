"""Architecture optimizers for ``--arch-optimizer``: one harness (:mod:`xnas.nas.arch.base`),
three update rules here and ``random-ws`` (:mod:`xnas.nas.arch.random_ws`), one registry.

Each entry of :data:`ARCH_OPTIMIZERS` builds an :class:`ArchUpdater` that owns the
architecture weights of both cell types (``(edges, N)`` tensors, one per type,
shared by every cell of the type) and exposes the same four calls to the search
loop:

``mixing()``
    the mixing coefficients ``u`` the supernet consumes in the architecture step;
``loss_scale(batch)``
    the factor applied to the validation loss *summed* over the examples of the
    step, before ``backward`` (``batch`` is the global batch size);
``backward(loss)``
    differentiates only the architecture quantities (once per micro-batch);
``step(all_reduce)``
    the update (``all_reduce`` sums tensors across DDP ranks); returns the
    rewards ``R = -dloss/du`` of the step, summed over the batch;
``probabilities()`` / ``alive()``
    the current weights and alive experts (for logging, wipeout, discretization);
``weight_mixing()`` / ``candidates()``
    the weights the weight step holds fixed, and the cells ranked at the end (``None``:
    the cell is discretized from the weights). ``steps_on_validation``, ``arch_first``
    and ``one_hot`` say how the loop schedules the rule.

``xnas``
    :class:`~xnas.nas.arch.xnas_optimizer.XNASOptimizer` on log-weights.  ``u`` is a
    detached leaf, so one backward pass leaves ``u.grad = dloss/du =
    grad_p loss . f`` summed over the cell type's replications; the loss is the
    sum over the batch (not the mean), so the sum runs over the examples too: the
    reward of a step is the sum of its per-example, per-replication rewards.
``darts``
    Adam on softmax logits, lr 3e-4, betas (0.5, 0.999), weight decay 1e-3
    (``ArchSettings.weight_decay`` changes it), on the mean loss (first-order
    DARTS).
``gd``
    Plain gradient descent on softmax logits (paper, equation 5), on the same
    summed loss as ``xnas`` and by default with the same per-cell-type learning
    rates, so that the two differ only in the update rule.  No weight decay by
    default; ``ArchSettings.weight_decay`` adds an L2 term ``wd * logits`` to the
    gradient.

``random-ws``
    No architecture step: a uniformly sampled one-hot cell per weight step, then the
    best of K sampled cells on the validation half (Li and Talwalkar 2019).

``xnas`` has no weight decay: the theory (paper, section 3.2.2) has no place for
one, so a non-zero ``weight_decay`` is rejected for it; ``random-ws`` has no
architecture step, so it takes neither a weight decay nor a learning rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch

from xnas.nas.arch.base import AllReduce, ArchSettings, ArchUpdater
from xnas.nas.arch.random_ws import RandomWSUpdater
from xnas.nas.arch.xnas_optimizer import XNASOptimizer

__all__ = [
    "ARCH_OPTIMIZERS",
    "ArchOptimizerSpec",
    "ArchSettings",
    "ArchUpdater",
    "build_arch_optimizer",
    "check_arch_lr",
    "check_arch_weight_decay",
]


class XNASUpdater(ArchUpdater):
    """The XNAS rule, with wipeout (see :mod:`xnas.nas.arch.xnas_optimizer`)."""

    name = "xnas"
    wipes = True

    def __init__(self, settings: ArchSettings, device: torch.device | str = "cpu") -> None:
        super().__init__(settings, device)
        groups = []
        for k in self.kinds:
            # v_0 = 1 for every expert (Algorithm 1, line 2)
            self.params[k] = torch.zeros(settings.shape, dtype=torch.float64, device=self.device, requires_grad=True)
            groups.append(
                {
                    "params": [self.params[k]],
                    "name": k,
                    "eta": settings.eta[k],
                    "horizon": settings.horizon[k],
                    "rounds_per_step": settings.rounds_per_step[k],
                }
            )
        self.optimizer = XNASOptimizer(groups, L=settings.L, zeta=settings.zeta)

    def mixing(self) -> dict[str, torch.Tensor]:
        # A leaf per cell type: the loss is linear in u through each mixed edge,
        # so u.grad = grad_p loss . f_i, summed over the replications sharing u.
        self._acc = {}
        self._u = {
            k: torch.softmax(self.params[k].detach(), dim=-1).float().requires_grad_(True) for k in self.kinds
        }
        return self._u

    def _targets(self) -> dict[str, torch.Tensor]:
        return dict(self._u)

    def loss_scale(self, batch: int) -> float:
        return 1.0

    def step(self, all_reduce: AllReduce | None = None) -> dict[str, torch.Tensor]:
        grads = {k: self._take(k, all_reduce) for k in self.kinds}
        self._u = {}
        for k in self.kinds:
            self.params[k].grad = grads[k]
        self.optimizer.step()
        for k in self.kinds:
            self.params[k].grad = None
        return {k: -g for k, g in grads.items()}

    def log_gamma(self) -> dict[str, torch.Tensor]:
        """``ln gamma`` per forecaster (Lemma 2: below ln N)."""
        return self.optimizer.log_gamma()

    def final_log_weights(self) -> dict[str, torch.Tensor]:
        """``ln v`` per cell type, wiped experts at their wipe-time value (float64, CPU).

        The alive experts are still :meth:`alive`; these values only rank.
        """
        return {k: v.cpu() for k, v in self.optimizer.final_log_weights().items()}


class _LogitUpdater(ArchUpdater):
    """Softmax logits updated by a generic torch optimizer through the softmax."""

    _scale_used = 1.0
    arch_first = True

    def _make_params(self, init_std: float) -> None:
        gen = torch.Generator().manual_seed(self.settings.seed)
        for k in self.kinds:
            init = init_std * torch.randn(self.settings.shape, generator=gen, dtype=torch.float64) if init_std else torch.zeros(self.settings.shape, dtype=torch.float64)
            self.params[k] = init.to(self.device).requires_grad_(True)

    def mixing(self) -> dict[str, torch.Tensor]:
        self._acc = {}
        # u stays in the graph of the logits; its gradient is also taken so
        # that every rule's rewards can be recorded the same way.
        self._u = {k: torch.softmax(self.params[k], dim=-1).float() for k in self.kinds}
        return dict(self._u)

    def _targets(self) -> dict[str, torch.Tensor]:
        out = {f"logits:{k}": self.params[k] for k in self.kinds}
        out.update({f"u:{k}": self._u[k] for k in self.kinds})
        return out

    def step(self, all_reduce: AllReduce | None = None) -> dict[str, torch.Tensor]:
        rewards = {}
        for k in self.kinds:
            self.params[k].grad = self._take(f"logits:{k}", all_reduce).to(self.params[k].dtype)
            # rewards on the summed loss, whatever scale this rule's loss uses
            ug = self._acc.pop(f"u:{k}", None)
            rewards[k] = (
                torch.zeros(self.settings.shape, dtype=torch.float64, device=self.device)
                if ug is None
                else -ug / self._scale_used
            )
            if all_reduce is not None:
                all_reduce(rewards[k])
        self._u = {}
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return rewards


class DartsUpdater(_LogitUpdater):
    """First-order DARTS: Adam on logits, lr 3e-4, betas (0.5, 0.999), wd 1e-3 (by default)."""

    name = "darts"
    default_weight_decay = 1e-3

    def __init__(self, settings: ArchSettings, device: torch.device | str = "cpu") -> None:
        super().__init__(settings, device)
        self._make_params(1e-3)  # DARTS initialises the logits at 1e-3 * N(0, 1)
        lr = 3e-4 if settings.lr is None else settings.lr
        wd = self.default_weight_decay if settings.weight_decay is None else settings.weight_decay
        # Adam's coupled weight decay (L2 added to the gradient), as DARTS uses it
        self.optimizer = torch.optim.Adam(
            [{"params": [self.params[k]], "name": k} for k in self.kinds], lr=lr, betas=(0.5, 0.999), weight_decay=wd
        )

    def loss_scale(self, batch: int) -> float:
        # the mean over the global batch (the all-reduce sums the ranks' shares)
        self._scale_used = 1.0 / float(batch)
        return self._scale_used


class GDUpdater(_LogitUpdater):
    """Plain gradient descent on softmax logits (no momentum; no weight decay by default)."""

    name = "gd"
    default_weight_decay = 0.0

    def __init__(self, settings: ArchSettings, device: torch.device | str = "cpu") -> None:
        super().__init__(settings, device)
        self._make_params(0.0)  # v_0 = 1, as XNAS
        groups = []
        for k in self.kinds:
            lr = settings.eta[k] if settings.lr is None else settings.lr
            groups.append({"params": [self.params[k]], "name": k, "lr": lr})
        wd = self.default_weight_decay if settings.weight_decay is None else settings.weight_decay
        # L2 on the logits: the gradient gets wd * logits
        self.optimizer = torch.optim.SGD(groups, lr=groups[0]["lr"], momentum=0.0, weight_decay=wd)

    def loss_scale(self, batch: int) -> float:
        self._scale_used = 1.0
        return 1.0


@dataclass(frozen=True)
class ArchOptimizerSpec:
    """A registered architecture optimizer."""

    name: str
    build: Callable[[ArchSettings, "torch.device | str"], ArchUpdater]
    description: str
    wipes: bool


ARCH_OPTIMIZERS: dict[str, ArchOptimizerSpec] = {
    spec.name: spec
    for spec in (
        ArchOptimizerSpec("xnas", XNASUpdater, "XNAS: exponentiated gradient with wipeout (the paper)", True),
        ArchOptimizerSpec(
            "darts", DartsUpdater, "DARTS first order: Adam lr 3e-4, betas (0.5, 0.999), wd 1e-3 by default", False
        ),
        ArchOptimizerSpec("gd", GDUpdater, "plain gradient descent on softmax logits", False),
        ArchOptimizerSpec("random-ws", RandomWSUpdater,
                          "random search with weight sharing: one sampled cell per weight step, best of K", False),
    )
}
"""Architecture optimizers by name."""


def build_arch_optimizer(name: str, settings: ArchSettings, device: torch.device | str = "cpu") -> ArchUpdater:
    """Build a registered architecture optimizer.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the choices) or invalid settings.
    """
    try:
        spec = ARCH_OPTIMIZERS[name]
    except KeyError:
        raise ValueError(f"unknown architecture optimizer {name!r}; choose from {', '.join(ARCH_OPTIMIZERS)}") from None
    if settings.lr is not None and not (math.isfinite(settings.lr) and settings.lr > 0):
        raise ValueError(f"architecture learning rate must be positive, got {settings.lr}")
    check_arch_weight_decay(name, settings.weight_decay)
    return spec.build(settings, device)


def check_arch_weight_decay(name: str, weight_decay: float | None) -> None:
    """Validate an architecture weight decay for optimizer ``name`` (``None``: the rule's default).

    Raises
    ------
    ValueError
        A negative or non-finite value, or a non-zero one for ``xnas`` or a rule without an
        architecture step (one line).
    """
    if weight_decay is None:
        return
    bad = isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float))
    if bad or not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"architecture weight decay must be a non-negative number, got {weight_decay!r}")
    if name == "xnas" and weight_decay != 0:
        raise ValueError(
            f"xnas takes no architecture weight decay (the theory has none, paper section 3.2.2), got {weight_decay!r}"
        )
    if not _steps(name) and weight_decay != 0:
        raise ValueError(f"{name} has no architecture step, so no architecture weight decay; got {weight_decay!r}")


def check_arch_lr(name: str, lr: float | None) -> None:
    """Refuse an architecture learning rate for optimizer ``name`` where it would be ignored (one line).

    xnas's step sizes are the theory's etas (``--eta-normal``, ``--eta-reduce``); ``lr`` is the
    step of darts and gd. The value's range is checked with the other rates.
    """
    if name == "xnas" and lr is not None:
        raise ValueError("--arch-lr sets the step of darts and gd; xnas takes the theory's etas "
                         "(--eta-normal, --eta-reduce)")
    if not _steps(name) and lr is not None:
        raise ValueError(f"--arch-lr sets the step of darts and gd; {name} has no architecture step")


def _steps(name: str) -> bool:
    """Whether registered optimizer ``name`` takes an architecture step (an unknown name is left to its own check)."""
    spec = ARCH_OPTIMIZERS.get(name)
    return spec is None or spec.build.steps_on_validation
