"""What one call of :func:`xnas.pea.simulate` measured: :class:`SimulationResult`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from xnas.pea.theory import theorem1_bound

# Cumulative rewards of experts count as tied when closer than this (relative).
TIE_RTOL = 1e-9


@dataclass(frozen=True)
class SimulationResult:
    """Everything one call of :func:`simulate` measured, per seed.

    Shapes use ``S`` seeds, ``N`` experts and ``K`` sampled rounds.

    Attributes
    ----------
    forecaster, env : str
        Registry names.
    n_experts, T : int
        Number of experts and rounds.
    eta, L, zeta : float
        Learning rate (resolved), reward bound and wipeout relaxation.
    seeds : ndarray (S,)
        The seed of each run.
    env_params, forecaster_params : dict
        Resolved parameters.
    rounds : ndarray (K,)
        The log-spaced rounds at which trajectories were sampled (ends at T).
    regret : ndarray (S, K)
        Regret on the (linear) rewards: ``max_i sum R_i - sum u . R``.
    true_regret : ndarray (S, K)
        Regret on the true losses (the convex environment; elsewhere equal to
        ``regret``).
    alive : ndarray (S, K)
        Experts alive after each sampled round.
    log_gamma : ndarray (S, K)
        ``ln gamma_t`` after each sampled round.
    weights : ndarray (S, K, N)
        The forecaster's mixture after each sampled round.
    forecaster_reward, forecaster_loss : ndarray (S,)
        Cumulative reward ``sum u . R`` and loss (true loss for ``convex``,
        else minus the reward).
    expert_rewards, expert_losses : ndarray (S, N)
        The same for every expert.
    wipe_round : ndarray (S, N)
        Round at which each expert was wiped out; 0 if it survived.
    final_weights : ndarray (S, N)
        The mixture after round T.
    log_u0 : ndarray (N,)
        Log of the normalised initial weights.
    seconds : float
        Wall time of the simulation: the kernel call alone.
    compile_seconds : float
        Wall time spent compiling the run's kernels, or loading them from
        numba's cache, before the simulation (about 0.1 s warm).
    shifts : int or None
        Switches allowed to the shifting-regret comparator (``simulate(shifts=m)``).
    shifting_regret : ndarray (S,) or None
        Regret against the best sequence of experts with at most ``shifts``
        switches, after round T.
    """

    forecaster: str
    env: str
    n_experts: int
    T: int
    eta: float
    L: float
    zeta: float
    seeds: np.ndarray
    env_params: dict
    forecaster_params: dict
    rounds: np.ndarray
    regret: np.ndarray
    true_regret: np.ndarray
    alive: np.ndarray
    log_gamma: np.ndarray
    weights: np.ndarray
    forecaster_reward: np.ndarray
    forecaster_loss: np.ndarray
    expert_rewards: np.ndarray
    expert_losses: np.ndarray
    wipe_round: np.ndarray
    final_weights: np.ndarray
    log_u0: np.ndarray
    seconds: float
    shifts: int | None = None
    shifting_regret: np.ndarray | None = None
    extra: dict = field(default_factory=dict)
    compile_seconds: float = 0.0

    # ------------------------------------------------------------ per seed
    @property
    def final_regret(self) -> np.ndarray:
        """Regret after round T on the linear rewards, per seed."""
        return self.regret[:, -1]

    @property
    def final_true_regret(self) -> np.ndarray:
        """Regret after round T on the true losses, per seed."""
        return self.true_regret[:, -1]

    @property
    def log_gamma_T(self) -> np.ndarray:
        """``ln gamma_T`` per seed."""
        return self.log_gamma[:, -1]

    @property
    def gamma_T(self) -> np.ndarray:
        """The aggregated wipeout factor ``gamma_T`` per seed."""
        return np.exp(self.log_gamma_T)

    @property
    def survivors(self) -> np.ndarray:
        """Experts alive after round T, per seed."""
        return (self.wipe_round == 0).sum(axis=1)

    @property
    def best_mask(self) -> np.ndarray:
        """(S, N) mask of the experts best in hindsight (ties within TIE_RTOL)."""
        R = self.expert_rewards
        top = R.max(axis=1, keepdims=True)
        tol = TIE_RTOL * np.maximum(1.0, np.abs(top))
        return R >= top - tol

    @property
    def best_expert(self) -> np.ndarray:
        """Index of the best expert in hindsight (largest cumulative reward)."""
        return self.expert_rewards.argmax(axis=1)

    @property
    def best_survived(self) -> np.ndarray:
        """Whether one of the best experts in hindsight survived (Lemma 1)."""
        return (self.best_mask & (self.wipe_round == 0)).any(axis=1)

    @property
    def selected(self) -> np.ndarray:
        """The expert with the largest final weight (what discretization keeps)."""
        return self.final_weights.argmax(axis=1)

    @property
    def correct_selection(self) -> np.ndarray:
        """Whether the selected expert is one of the best in hindsight."""
        return self.best_mask[np.arange(len(self.seeds)), self.selected]

    @property
    def bound(self) -> np.ndarray:
        """Theorem 1 evaluated with the measured ``gamma_T``, per seed."""
        log_u0_best = self.log_u0[self.best_expert]
        return theorem1_bound(self.eta, self.T, self.L, self.log_gamma_T, log_u0_best)

    def summary(self) -> dict[str, Any]:
        """Means over seeds, as the ``--json`` object of ``xnas-sim regret``."""
        regret = self.final_regret
        out = {
            "experts": self.n_experts,
            "T": self.T,
            "env": self.env,
            "forecaster": self.forecaster,
            "eta": self.eta,
            "L": self.L,
            "zeta": self.zeta,
            "seeds": int(len(self.seeds)),
            "seed": int(self.seeds[0]),
            "regret": float(regret.mean()),
            "regret_std": float(regret.std(ddof=1)) if len(regret) > 1 else 0.0,
            "bound": float(self.bound.mean()),
            "regret_over_bound_max": float(np.max(regret / self.bound)),
            "gamma_T": float(self.gamma_T.mean()),
            "log_gamma_T": float(self.log_gamma_T.mean()),
            "survivors": float(self.survivors.mean()),
            "best_survived": float(self.best_survived.mean()),
            "correct_selection": float(self.correct_selection.mean()),
            "env_params": self.env_params,
            "forecaster_params": self.forecaster_params,
            "seconds": self.seconds,
            "compile_seconds": self.compile_seconds,
        }
        if self.shifts is not None:
            out["shifts"] = self.shifts
            out["shifting_regret"] = float(self.shifting_regret.mean())
        if self.env == "convex":
            out["true_regret"] = float(self.final_true_regret.mean())
            out["linear_regret"] = out["regret"]
        return out
