"""The XNAS update rule, defined once.

This module is the single written definition of the update that XNAS applies to
one forecaster (paper, Algorithm 1, lines 8-13, with the relaxation zeta of
section 3.2.1).  Two engines implement it for speed:

* ``xnas.pea`` runs it inside numba kernels over millions of rounds;
* ``xnas.nas.arch.xnas_optimizer.XNASOptimizer`` runs it on torch tensors during a search.

Both are tested against :func:`xnas_update` on the same reward stream and must
produce the same log-weights and the same wipeouts.

The rule, in log-weights ``a_i = ln v_i`` (wiped experts hold ``-inf``)
-----------------------------------------------------------------------
Round ``t`` (1-based) covers ``k >= 1`` elementary rounds of the theory (``k = 1``
in the simulator; in a search one batch step of ``b`` validation examples on a
cell type replicated ``r`` times covers ``k = b * r`` rounds, see
``reference.md``, "Horizon units").  After the round the counter stands at
``t`` and ``T`` is the horizon, both in elementary rounds.

1. **Clip.**  ``R_i <- min(max(R_i, -k L), k L)``.  For ``k = 1`` this is line 9
   of Algorithm 1.  For ``k > 1`` the reward is a sum of ``k`` per-example
   rewards; the per-example rule would clip each term to ``[-L, L]``, and the
   sum of clipped terms always lies in ``[-k L, k L]``.  Clipping the *sum* to
   that interval is exact whenever no single term exceeds ``L`` and otherwise
   lets large terms of opposite sign cancel before clipping: it never moves a
   log-weight by more than the per-example rule could have (``eta k L``), which
   is the property Lemma 1 and the threshold below rely on.
2. **Exponentiated step.**  ``a_i <- a_i + eta R_i`` for every alive expert
   (line 10: ``v_i <- v_i exp(eta R_i)``).
3. **Wipeout.**  ``ln theta = max_alive a - 2 eta L zeta (T - t)`` and every alive
   expert with ``a_i < ln theta`` is wiped out (lines 12-13).  With ``zeta = 1``
   no expert that can still catch the leader by round ``T`` is removed, which
   is Lemma 1.  ``zeta < 1`` trades that guarantee for earlier pruning.
4. **Wipeout factor.**  ``ln Gamma_t = ln(sum_{alive before} v) - ln(sum_{alive after} v)``,
   computed with log-sum-exp; the aggregated factor is ``gamma_T = prod Gamma_t``
   (Lemma 2: ``1 <= gamma_T < N``).

The mixing weights are ``u_i = exp(a_i) / sum_alive exp(a_j)``; subtracting any
constant from every ``a_i`` changes nothing, which is why working in
log-weights is free of overflow and underflow for any horizon.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "REWARD_BOUND_RANGE",
    "check_reward_bound",
    "clip_rewards",
    "eta_star",
    "log_threshold",
    "mixture",
    "xnas_update",
]


REWARD_BOUND_RANGE = (1e-100, 1e100)
"""Accepted reward bounds ``L``: rewards, regrets and their spreads are in units of
``L`` and its square, which float64 holds with room to spare inside this range."""


def check_reward_bound(reward_bound: float, name: str = "L") -> float:
    """Return ``reward_bound`` as a float, or raise a one-line ``ValueError``.

    ``L`` must be finite and lie in :data:`REWARD_BOUND_RANGE`; outside it,
    ``L^2`` or the regret statistics overflow or underflow float64.
    """
    lo, hi = REWARD_BOUND_RANGE
    try:
        value = float(reward_bound)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {reward_bound!r}") from None
    if not (lo <= value <= hi):
        raise ValueError(f"{name} must be positive and finite, in [{lo:g}, {hi:g}], got {reward_bound!r}")
    return value


def eta_star(n_experts: int, horizon: float, reward_bound: float = 1.0) -> float:
    """The learning rate that minimises the first two terms of Theorem 1.

    ``eta* = sqrt(2 ln N / (T L^2))`` (paper, equation 4).

    Parameters
    ----------
    n_experts : int
        Number of experts ``N`` (at least 2).
    horizon : float
        Horizon ``T`` in elementary rounds (positive).
    reward_bound : float
        Reward bound ``L``, in :data:`REWARD_BOUND_RANGE`.

    Raises
    ------
    ValueError
        For invalid arguments, or when ``eta*`` overflows or underflows float64
        (one line naming N, T and L).
    """
    if n_experts < 2:
        raise ValueError(f"need at least 2 experts, got {n_experts}")
    if not horizon > 0:
        raise ValueError(f"horizon must be positive, got {horizon}")
    reward_bound = check_reward_bound(reward_bound)
    if not math.isfinite(horizon):
        raise ValueError(f"horizon must be finite, got {horizon}")
    # Dividing by L last (not by T L^2 at once) keeps L^2 from overflowing or
    # underflowing for extreme but finite L; only a rate float64 cannot hold is refused.
    eta = math.sqrt(2.0 * math.log(n_experts) / horizon) / reward_bound
    if not (eta > 0 and math.isfinite(eta)):
        raise ValueError(
            f"eta* = sqrt(2 ln N / (T L^2)) is not a representable number for N={n_experts}, "
            f"T={horizon:g}, L={reward_bound:g}; choose L nearer 1"
        )
    return eta


def clip_rewards(rewards: np.ndarray, reward_bound: float, rounds: float = 1.0) -> np.ndarray:
    """Clip rewards to ``[-k L, k L]`` (step 1 of the rule)."""
    bound = rounds * reward_bound
    return np.clip(rewards, -bound, bound)


def log_threshold(max_logw: float, eta: float, reward_bound: float, zeta: float, remaining: float) -> float:
    """``ln theta_t = max_alive a - 2 eta L zeta (T - t)`` (step 3 of the rule)."""
    return max_logw - 2.0 * eta * reward_bound * zeta * remaining


def _logsumexp(a: np.ndarray) -> float:
    m = float(np.max(a))
    if m == -math.inf:
        return -math.inf
    return m + math.log(float(np.sum(np.exp(a - m))))


def mixture(logw: np.ndarray) -> np.ndarray:
    """Mixing weights ``u`` from log-weights (wiped experts, ``-inf``, get 0)."""
    logw = np.asarray(logw, dtype=np.float64)
    m = np.max(logw)
    e = np.exp(logw - m)
    return e / e.sum()


def xnas_update(
    logw: np.ndarray,
    rewards: np.ndarray,
    eta: float,
    reward_bound: float,
    zeta: float,
    t: float,
    horizon: float,
    rounds: float = 1.0,
    clip: bool = True,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Apply one XNAS round to one forecaster.  This is the reference rule.

    Parameters
    ----------
    logw : ndarray, shape (N,)
        Log-weights before the round; wiped experts hold ``-inf``.
    rewards : ndarray, shape (N,)
        Rewards ``R_i = -grad_p loss . f_i`` of the round (entries of wiped
        experts are ignored).
    eta : float
        Learning rate (positive).
    reward_bound : float
        Reward bound ``L`` (positive).
    zeta : float
        Wipeout relaxation in ``(0, 1]``; 1 is the paper's Algorithm 1.
    t : float
        Round counter *after* this round, in elementary rounds.
    horizon : float
        Horizon ``T`` in elementary rounds.
    rounds : float
        Elementary rounds ``k`` this update covers (1 in the simulator).
    clip : bool
        Clip the rewards (step 1).  Only the analysis of broken premises turns
        this off.

    Returns
    -------
    logw : ndarray, shape (N,)
        Log-weights after the round; newly wiped experts hold ``-inf``.
    wiped : ndarray of bool, shape (N,)
        The experts wiped out in this round.
    log_gamma : float
        ``ln Gamma_t`` of this round (0 when nothing was wiped).
    """
    logw = np.array(logw, dtype=np.float64, copy=True)
    rewards = np.asarray(rewards, dtype=np.float64)
    alive = np.isfinite(logw)
    r = clip_rewards(rewards, reward_bound, rounds) if clip else rewards
    logw[alive] = logw[alive] + eta * r[alive]
    theta = log_threshold(float(np.max(logw[alive])), eta, reward_bound, zeta, horizon - t)
    wiped = alive & (logw < theta)
    log_gamma = 0.0
    if wiped.any():
        log_gamma = _logsumexp(logw[alive]) - _logsumexp(logw[alive & ~wiped])
        logw[wiped] = -math.inf
    return logw, wiped, log_gamma
