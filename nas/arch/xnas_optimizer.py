"""The XNAS architecture optimizer: the shared update rule on torch tensors.

:class:`XNASOptimizer` is a ``torch.optim.Optimizer`` over the log-weights
``a_i = ln v_i`` of the experts of every forecaster (edge).  A parameter is a
tensor whose last dimension indexes the experts and whose other dimensions index
forecasters, e.g. ``(14, 8)`` for the 14 edges of a cell type with 8 operations.
Wiped experts hold ``-inf``.

The gradient it reads is **not** a gradient with respect to the log-weights: it
is ``dloss/du_i``, the gradient of the summed validation loss with respect to the
mixing coefficient ``u_i`` of each expert.  Because the mixture
``p = sum_i u_i f_i`` is linear in ``u``, ``dloss/du_i = grad_p loss . f_i``, so
the reward of Algorithm 1 is ``R_i = -p.grad``.  The search harness obtains it
from one backward pass by making ``u`` a leaf tensor (see
:mod:`xnas.nas.arch.optimizers`) and copies it into ``.grad`` before ``step``.

Each step applies :func:`xnas.pea.rule.xnas_update` exactly (clip to
``[-k L, k L]``, exponentiated step, wipeout threshold with ``zeta``, ``ln Gamma``
accounting) with ``k = rounds_per_step``; the test suite feeds both the same
reward stream and requires the same weights and wipeouts.  There is no weight
decay and no momentum: the theory has no place for them (paper, section 3.2.2).
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch

from xnas.limits import check_positive

__all__ = ["XNASOptimizer"]

_HYPER = ("eta", "L", "zeta", "horizon", "rounds_per_step", "clip")


class XNASOptimizer(torch.optim.Optimizer):
    """Exponentiated-gradient updates with wipeout over expert log-weights.

    Parameters
    ----------
    params : iterable
        Log-weight tensors (last dimension = experts, at least 2), or param
        groups (dicts) that may override any hyperparameter below and carry a
        ``name`` (``"normal"``, ``"reduce"``).
    eta : float
        Learning rate (positive).
    L : float
        Reward bound per elementary round (positive).
    zeta : float
        Wipeout relaxation in ``(0, 1]``; 1 is Algorithm 1.
    horizon : float
        Horizon ``T_c`` in elementary rounds (``d x E x r_c``).
    rounds_per_step : float
        Elementary rounds one ``step`` covers (``b x r_c``): the round counter
        advances by this much and the rewards are clipped to
        ``[-rounds_per_step * L, rounds_per_step * L]``.
    clip : bool
        Clip the rewards (step 1 of the rule).  Only analyses of broken
        premises turn it off.

    Notes
    -----
    State per parameter (created lazily on the first step): ``t`` (round
    counter after the last step, float64 scalar tensor), ``alive`` (bool mask of
    the experts still in play), ``log_gamma`` (``ln gamma`` accumulated per
    forecaster, i.e. ``sum_t ln Gamma_t``) and ``wiped_log`` (each wiped
    expert's log-weight in the round it was wiped, after that round's EG step;
    ``-inf`` while alive).  ``wiped_log`` is what :meth:`final_log_weights`
    ranks wiped experts by, and it is saved with the optimizer's state dict.
    """

    def __init__(
        self,
        params: Iterable,
        eta: float = 1e-3,
        L: float = 1.0,
        zeta: float = 1.0,
        horizon: float | None = None,
        rounds_per_step: float = 1.0,
        clip: bool = True,
    ) -> None:
        defaults = dict(eta=eta, L=L, zeta=zeta, horizon=horizon, rounds_per_step=rounds_per_step, clip=clip)
        super().__init__(params, defaults)
        for group in self.param_groups:
            self._validate_group(group)

    @staticmethod
    def _validate_group(group: dict) -> None:
        label = f"param group {group.get('name', '')!s}".rstrip()
        check_positive(f"{label}: eta", group["eta"])
        check_positive(f"{label}: L", group["L"])
        zeta = group["zeta"]
        if isinstance(zeta, bool) or not isinstance(zeta, (int, float)) or not (0.0 < float(zeta) <= 1.0):
            raise ValueError(f"{label}: zeta must lie in (0, 1], got {zeta!r}")
        if group["horizon"] is None:
            raise ValueError(f"{label}: horizon (T_c in elementary rounds) is required")
        horizon = check_positive(f"{label}: horizon", group["horizon"])
        k = check_positive(f"{label}: rounds_per_step", group["rounds_per_step"])
        if k > horizon:
            raise ValueError(f"{label}: rounds_per_step {k} exceeds the horizon {horizon}")
        if not isinstance(group["clip"], bool):
            raise ValueError(f"{label}: clip must be a bool, got {group['clip']!r}")
        for p in group["params"]:
            if not p.is_floating_point():
                raise ValueError(f"{label}: log-weights must be floating point, got {p.dtype}")
            if p.dim() < 1 or p.shape[-1] < 2:
                raise ValueError(f"{label}: the last dimension indexes experts and needs at least 2, got shape {tuple(p.shape)}")
            if torch.isnan(p).any() or torch.isposinf(p).any():
                raise ValueError(f"{label}: log-weights must be finite or -inf (wiped)")
            if (~torch.isfinite(p)).all(dim=-1).any():
                raise ValueError(f"{label}: every forecaster needs at least one alive expert")

    def add_param_group(self, param_group: dict) -> None:  # noqa: D102 - torch API
        super().add_param_group(param_group)
        self._validate_group(self.param_groups[-1])

    def _init_state(self, p: torch.Tensor) -> dict:
        state = self.state[p]
        if len(state) == 0:
            state["t"] = torch.zeros((), dtype=torch.float64, device=p.device)
            state["alive"] = torch.isfinite(p)
            state["log_gamma"] = torch.zeros(p.shape[:-1], dtype=torch.float64, device=p.device)
        if "wiped_log" not in state:  # also fills it in for states saved before it existed
            state["wiped_log"] = torch.full(p.shape, -math.inf, dtype=torch.float64, device=p.device)
        return state

    @torch.no_grad()
    def step(self, closure: Callable | None = None):
        """Apply one XNAS round to every forecaster whose ``.grad`` is set.

        ``p.grad`` must hold ``dloss/du`` (summed over the round's examples and
        replications); the reward is its negation.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            eta = float(group["eta"])
            bound = float(group["L"])
            zeta = float(group["zeta"])
            horizon = float(group["horizon"])
            k = float(group["rounds_per_step"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._init_state(p)
                t_new = float(state["t"]) + k
                if t_new > horizon * (1.0 + 1e-12):
                    raise RuntimeError(
                        f"XNAS round counter {t_new:g} would pass the horizon {horizon:g}; "
                        "the horizon must count every elementary round of the search"
                    )
                alive = torch.isfinite(p)
                reward = p.grad.detach().to(torch.float64).neg()
                if not torch.isfinite(reward[alive]).all():
                    raise FloatingPointError("XNAS rewards of alive experts are not finite")
                if group["clip"]:
                    reward = reward.clamp(-k * bound, k * bound)
                ninf = torch.tensor(-math.inf, dtype=torch.float64, device=p.device)
                a = torch.where(alive, p.detach().to(torch.float64) + eta * reward, ninf)
                lead = a.amax(dim=-1, keepdim=True)
                theta = lead - 2.0 * eta * bound * zeta * (horizon - t_new)
                wiped = alive & (a < theta)
                if wiped.any():
                    after = torch.where(wiped, ninf, a)
                    state["log_gamma"] += torch.logsumexp(a, dim=-1) - torch.logsumexp(after, dim=-1)
                    state["wiped_log"] = torch.where(wiped, a, state["wiped_log"])
                    a = after
                p.copy_(a.to(p.dtype))
                state["alive"] = alive & ~wiped
                state["t"].fill_(t_new)
        return loss

    # -- inspection ----------------------------------------------------
    def _by_group(self, value: Callable[[torch.Tensor], torch.Tensor]) -> dict:
        """``value(p)`` for every parameter, keyed by group name (or index); a list for multi-parameter groups."""
        out = {}
        for i, group in enumerate(self.param_groups):
            vals = [value(p) for p in group["params"]]
            out[group.get("name", str(i))] = vals[0] if len(vals) == 1 else vals
        return out

    def alive_masks(self) -> dict[str, torch.Tensor]:
        """Bool masks of the alive experts, keyed by group name (or index)."""
        return self._by_group(lambda p: torch.isfinite(p.detach()))

    def log_gamma(self) -> dict[str, torch.Tensor]:
        """``ln gamma`` per forecaster so far (zeros before the first step)."""

        def value(p):
            if p in self.state and self.state[p]:
                return self.state[p]["log_gamma"].clone()
            return torch.zeros(p.shape[:-1], dtype=torch.float64)

        return self._by_group(value)

    def final_log_weights(self) -> dict[str, torch.Tensor]:
        """Log-weights with every wiped expert at its value when it was wiped.

        Alive experts hold their current log-weight; a wiped expert holds the
        log-weight it had in its wipeout round (after that round's EG step),
        i.e. what the search had learned of it before it left.  Experts that
        were ``-inf`` before the first step stay ``-inf``.  Float64, detached,
        keyed like :meth:`alive_masks`; the alive mask is ``torch.isfinite`` of
        the parameter itself.  Discretization ranks by these (see
        :func:`xnas.nas.spaces.darts.supernet.discretize`).
        """

        def value(p):
            cur = p.detach().to(torch.float64)
            wiped = self.state[p].get("wiped_log") if p in self.state else None
            return cur.clone() if wiped is None else torch.where(torch.isfinite(cur), cur, wiped.to(cur.device))

        return self._by_group(value)

    @staticmethod
    def mixture(logw: torch.Tensor) -> torch.Tensor:
        """Mixing weights ``u = softmax`` over alive experts (wiped give 0)."""
        return torch.softmax(logw.detach(), dim=-1)
