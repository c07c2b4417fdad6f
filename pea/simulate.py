"""Run forecasters against environments and account for regret and wipeout.

:func:`simulate` validates its input, calls the numba kernels of
:mod:`xnas.pea.kernels.run` (one run per seed, spread over threads) and returns a
frozen :class:`SimulationResult`.
"""

from __future__ import annotations

import math
from typing import Mapping

import numba
import numpy as np

from xnas.limits import check_memory, check_positive
from xnas.pea.compiled import run_seeds, specialise
from xnas.pea.environments import get_environment
from xnas.pea.forecasters import get_forecaster
from xnas.pea.kernels import run as K
from xnas.pea.kernels.env import BLOCK, ENV_REPLAY
from xnas.pea.kernels.layout import (FC_XNAS, FP_CLIP, FP_ETA, FP_L, FP_PARAMS, FP_SHIFTS, FP_SIZE, FP_ZETA,
                                     OUT_FC_LOSS, OUT_FC_REWARD, OUT_LOG_GAMMA, OUT_SHIFT, OUT_SIZE)
from xnas.pea.result import TIE_RTOL, SimulationResult  # noqa: F401  (re-exported)
from xnas.pea.streams import check_rewards

__all__ = ["SimulationResult", "simulate", "sample_rounds"]

def sample_rounds(T: int, n_samples: int = 200) -> np.ndarray:
    """Log-spaced rounds in ``1..T`` (unique, ascending, ending at ``T``).

    Trajectories are sampled there, so memory does not grow with ``T``.
    """
    if T < 1:
        raise ValueError(f"T must be at least 1, got {T}")
    if n_samples >= T:
        return np.arange(1, T + 1, dtype=np.int64)
    pts = np.unique(np.geomspace(1, T, num=max(2, n_samples)).round().astype(np.int64))
    pts = pts[(pts >= 1) & (pts <= T)]
    if pts[-1] != T:
        pts = np.append(pts, np.int64(T))
    return pts


def simulate(
    forecaster: str = "xnas",
    env: str = "adversarial",
    n_experts: int = 8,
    T: int = 100_000,
    eta: float | str = "auto",
    L: float = 1.0,
    zeta: float = 1.0,
    seeds: int = 1,
    seed: int = 0,
    rewards: np.ndarray | None = None,
    init_weights: np.ndarray | None = None,
    env_params: Mapping[str, float] | None = None,
    forecaster_params: Mapping[str, float] | None = None,
    n_samples: int = 200,
    shifts: int | None = None,
) -> SimulationResult:
    """Play a forecaster against an environment for ``T`` rounds, per seed.

    Parameters
    ----------
    forecaster : str
        A name from :data:`xnas.pea.forecasters.FORECASTERS`.
    env : str
        A name from :data:`xnas.pea.environments.ENVIRONMENTS`.
    n_experts : int
        Number of experts ``N >= 2`` (taken from ``rewards`` for ``replay``).
    T : int
        Number of rounds ``>= 1`` (taken from ``rewards`` for ``replay``).
    eta : float or 'auto'
        Learning rate; ``'auto'`` resolves per forecaster (``eta*`` of
        equation 4 for xnas, eg and the gradient forecasters; 3e-4 for
        ``adam-softmax``).
    L : float
        Reward bound (clipping level of xnas/eg).
    zeta : float
        Wipeout relaxation in ``(0, 1]``.
    seeds, seed : int
        Number of runs and the first seed; run ``k`` uses seed ``seed + k``.
    rewards : ndarray (T, N), optional
        Rewards for ``env='replay'``.
    init_weights : ndarray (N,), optional
        Positive initial weights (normalised here); uniform by default.
    env_params, forecaster_params : mapping, optional
        Overrides of the registered defaults.
    n_samples : int
        Number of log-spaced rounds at which trajectories are kept.
    shifts : int, optional
        Also measure the shifting regret against the best sequence of experts
        with at most ``shifts`` switches (:mod:`xnas.pea.kernels.shifting`).

    Returns
    -------
    SimulationResult
    """
    fc = get_forecaster(forecaster)
    en = get_environment(env)
    rewards, n_experts, T = _check_shape(en.name, env, rewards, n_experts, T)
    L, zeta, seeds, seed = _check_scalars(L, zeta, seeds, seed)
    eta_v = fc.resolve_eta(eta, n_experts, T, L)
    fparams = fc.resolve(forecaster_params)
    eparams = en.resolve(env_params)
    _check_params(fc.name, fparams, en.name, eparams, n_experts, T)
    shifts = _check_shifts(shifts, n_experts, T)
    log_u0 = _initial_log_weights(init_weights, n_experts)
    fp = _forecaster_vector(eta_v, L, zeta, fparams, shifts)
    ep = _env_vector(L, eparams, env, n_experts)

    rounds = sample_rounds(T, n_samples)
    seed_arr = np.arange(seed, seed + seeds, dtype=np.int64)
    out, seconds, compile_seconds = _run_kernel(fc, en.kernel_id, fp, ep, rewards, log_u0, T, seed_arr, rounds,
                                                int(eparams.get("dim", 1)))
    return _make_result(fc.name, en.name, n_experts, T, eta_v, L, zeta, seed_arr, eparams, fparams,
                        rounds, out, log_u0, seconds, shifts, compile_seconds)


def _env_vector(L, eparams, env, n_experts):
    """The kernel's environment vector: ``L``, then the parameters in registry order."""
    ep = np.array([L, *eparams.values()], dtype=np.float64)
    ep = np.concatenate([ep, np.zeros(max(0, 8 - ep.size))])
    best = eparams.get("best", -1.0)
    if not (best == -1 or (0 <= best < n_experts and best == int(best))):
        raise ValueError(f"{env}: best must be an expert index below {n_experts} or -1")
    return ep


def _make_result(fc_name, env_name, n_experts, T, eta, L, zeta, seed_arr, eparams, fparams,
                 rounds, out, log_u0, seconds, shifts, compile_seconds):
    scal = out["scal"]
    result = SimulationResult(
        forecaster=fc_name, env=env_name, n_experts=n_experts, T=T, eta=eta, L=L, zeta=zeta,
        seeds=seed_arr, env_params=eparams, forecaster_params=fparams, rounds=rounds,
        regret=out["traj_regret"], true_regret=out["traj_true"], alive=out["traj_alive"],
        log_gamma=out["traj_lgamma"], weights=out["traj_u"],
        forecaster_reward=scal[:, OUT_FC_REWARD].copy(), forecaster_loss=scal[:, OUT_FC_LOSS].copy(),
        expert_rewards=out["exp_reward"], expert_losses=out["exp_loss"], wipe_round=out["wipe_round"],
        final_weights=out["final_u"], log_u0=log_u0, seconds=seconds, compile_seconds=compile_seconds,
        shifts=shifts,
        shifting_regret=None if shifts is None else scal[:, OUT_SHIFT] - scal[:, OUT_FC_REWARD],
    )
    # The bound divides by eta: a subnormal eta makes it infinite.
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        finite_bound = np.isfinite(result.bound).all()
    if not finite_bound:
        raise FloatingPointError("non-finite values in the Theorem 1 bound; check eta")
    return result


def _check_shape(env_name, env, rewards, n_experts, T):
    """The reward array (empty unless replaying), the number of experts and the horizon."""
    if env_name == "replay":
        if rewards is None:
            raise ValueError("the replay environment needs a reward array (rewards=...)")
        rewards = check_rewards(rewards)
        T, n_experts = rewards.shape
    elif rewards is not None:
        raise ValueError(f"rewards are only read by the replay environment, not {env!r}")
    else:
        rewards = np.zeros((0, int(n_experts)))
    n_experts = int(n_experts)
    T = int(T)
    if n_experts < 2:
        raise ValueError(f"need at least 2 experts, got {n_experts}")
    if not 1 <= T <= MAX_T:
        raise ValueError(f"T must lie in [1, 2^53], got {T}")
    return rewards, n_experts, T


def _check_scalars(L, zeta, seeds, seed):
    L = check_positive("L", L)
    zeta = float(zeta)
    if not (0.0 < zeta <= 1.0):
        raise ValueError(f"zeta must lie in (0, 1], got {zeta}")
    seeds = int(seeds)
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    if int(seed) < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if int(seed) + seeds - 1 > np.iinfo(np.int64).max:
        raise ValueError(f"seed + seeds - 1 must fit in 64 bits, got seed {seed}")
    return L, zeta, seeds, int(seed)


def _check_shifts(shifts, n_experts, T):
    """``None``, or the number of switches (capped at ``T - 1``, which allows every sequence)."""
    if shifts is None:
        return None
    if isinstance(shifts, bool) or int(shifts) != shifts or shifts < 0:
        raise ValueError(f"shifts must be a non-negative integer, got {shifts}")
    shifts = min(int(shifts), T - 1)
    if (shifts + 1) * n_experts > MAX_CONVEX_SIZE:
        raise ValueError(f"shifts: (shifts + 1) x experts must be at most {MAX_CONVEX_SIZE}, got {shifts}")
    return shifts


def _initial_log_weights(init_weights, n_experts):
    if init_weights is None:
        return np.full(n_experts, -math.log(n_experts))
    w0 = np.asarray(init_weights, dtype=np.float64)
    if w0.shape != (n_experts,):
        raise ValueError(f"init_weights must have shape ({n_experts},), got {w0.shape}")
    if not (np.isfinite(w0).all() and (w0 > 0).all()):
        raise ValueError("init_weights must be positive and finite")
    # the ratio, not eta, is what breaks: a weight that underflows to 0 relative to the
    # largest has log -inf and the Theorem 1 bound (ln 1/u_min) is infinite
    span = float(np.log10(w0.max()) - np.log10(w0.min()))
    w0 = w0 / w0.max()  # first to the largest, so that the sum cannot overflow
    w0 = w0 / w0.sum()
    if (w0 == 0.0).any():  # subnormal priors are fine (their logs are finite); zero is not
        raise ValueError(f"--init-weights span {span:.0f} orders of magnitude, beyond float64: the smallest "
                         "must be at least about 5e-324 times the largest")
    return np.log(w0)


def _forecaster_vector(eta, L, zeta, fparams, shifts):
    """The kernel's parameter vector (layout ``FP_*`` of :mod:`xnas.pea.kernels.layout`)."""
    fp = np.zeros(FP_SIZE)
    fp[FP_ETA] = eta
    fp[FP_L] = L
    fp[FP_ZETA] = zeta
    for key, (slot, default) in FP_PARAMS.items():
        fp[slot] = fparams.get(key, default)
    fp[FP_SHIFTS] = -1.0 if shifts is None else shifts
    return fp


# Most seeds one thread plays side by side (the literature's forecasters, see xnas.pea.kernels.lanes).
MAX_LANES = 8
# Most bytes of reward blocks the lanes of one thread hold (two copies of BLOCK rounds a lane):
# lanes pay off with few experts, where one run's chain of dependent steps is short of work.
MAX_LANE_BYTES = 1 << 24


def _lanes(n_seeds: int, n_experts: int, shifts: int) -> int:
    """Seeds per thread for the forecasters that run in lanes: enough to fill the
    SIMD unit, few enough to keep every thread busy, and never so many that the
    lanes' reward blocks or shifting-regret programmes outgrow their
    allowance (many experts fill the SIMD unit alone).  A seed's result does
    not depend on it."""
    lanes = min(MAX_LANES, max(1, -(-n_seeds // numba.get_num_threads())))
    lanes = min(lanes, max(1, MAX_LANE_BYTES // (2 * 8 * BLOCK * n_experts)))
    if shifts >= 0:
        lanes = min(lanes, max(1, MAX_CONVEX_SIZE // ((shifts + 1) * n_experts)))
    return lanes


def _run_kernel(fc, env_id, fp, ep, rewards, log_u0, T, seed_arr, rounds, dim):
    """Allocate the outputs, run every seed, check finiteness; returns (outputs, seconds, compile seconds)."""
    S, N, Kn = seed_arr.size, log_u0.size, rounds.size
    check_memory(8.0 * S * (OUT_SIZE + 5 * N + Kn * (4 + N)),
                 f"cannot allocate: {S} seeds x {N} experts x {Kn} sampled rounds", hint="lower the seeds")
    out = {
        "scal": np.zeros((S, OUT_SIZE)),
        "exp_reward": np.zeros((S, N)),
        "exp_loss": np.zeros((S, N)),
        "wipe_round": np.zeros((S, N), np.int64),
        "final_u": np.zeros((S, N)),
        "traj_regret": np.zeros((S, Kn)),
        "traj_true": np.zeros((S, Kn)),
        "traj_alive": np.zeros((S, Kn), np.int64),
        "traj_lgamma": np.zeros((S, Kn)),
        "traj_u": np.zeros((S, Kn, N)),
    }
    lanes = _lanes(S, N, int(fp[FP_SHIFTS]))
    compile_seconds, seconds = run_seeds(fc.name, fc.kernel_id, env_id, fp, ep, rewards, log_u0, T, seed_arr, rounds,
                                         dim, lanes, list(out.values()))
    if not (np.isfinite(out["traj_regret"]).all() and np.isfinite(out["final_u"]).all()):
        raise FloatingPointError("non-finite values in the simulation output; check eta and the rewards")
    return out, seconds, compile_seconds


# Largest horizon: sampled rounds and round counters stay exact in float64.
MAX_T = 2**53
# Most switches of the switching environment (an array of leaders per run and thread).
MAX_SWITCHES = 10**6
# Largest experts x dim of the convex environment (arrays of that size per run and thread).
MAX_CONVEX_SIZE = 10**7


def _check_params(fc_name: str, fparams: Mapping[str, float], env_name: str, eparams: Mapping[str, float],
                  n_experts: int, T: int) -> None:
    """Reject parameters the kernels cannot run with (one-line ``ValueError``)."""
    for kind, name, params in (("forecaster", fc_name, fparams), ("environment", env_name, eparams)):
        for key, value in params.items():
            if not math.isfinite(value):
                raise ValueError(f"{kind} {name!r}: parameter {key} must be finite, got {value}")
    if "clip" in fparams and fparams["clip"] not in (0.0, 1.0):
        raise ValueError(f"{fc_name}: clip must be 0 or 1, got {fparams['clip']}")
    for key in ("beta1", "beta2"):
        if key in fparams and not 0.0 <= fparams[key] < 1.0:
            raise ValueError(f"{fc_name}: {key} must lie in [0, 1), got {fparams[key]}")
    if "alpha" in fparams and not 0.0 <= fparams["alpha"] <= 1.0:
        raise ValueError(f"{fc_name}: alpha must lie in [0, 1], got {fparams['alpha']}")
    # Adam divides by sqrt(v) + eps, and v is 0 on a round whose gradient is 0
    if "eps" in fparams and not fparams["eps"] > 0.0:
        raise ValueError(f"{fc_name}: eps must be positive (Adam divides by it), got {fparams['eps']}")
    for key in ("momentum", "weight_decay"):
        if key in fparams and fparams[key] < 0.0:
            raise ValueError(f"{fc_name}: {key} must be non-negative, got {fparams[key]}")
    if eparams.get("noise", 0.0) < 0.0:
        raise ValueError(f"{env_name}: noise is a standard deviation and must be non-negative, got {eparams['noise']:g}")
    if env_name == "convex":
        dim = eparams["dim"]
        if not (dim >= 1 and dim == int(dim) and n_experts * dim <= MAX_CONVEX_SIZE):
            raise ValueError(f"convex: dim must be an integer >= 1 with experts x dim <= {MAX_CONVEX_SIZE}, got {dim:g}")
    if env_name == "switching":
        # at most T - 1 switches fit in T rounds; the default stays valid for tiny T
        k, k_max = eparams["k"], min(max(T - 1, int(get_environment("switching").defaults["k"])), MAX_SWITCHES)
        if not (0 <= k <= k_max and k == int(k)):
            raise ValueError(f"switching: k must be an integer in [0, {k_max}], got {k:g}")


def trace_xnas(rewards: np.ndarray, eta: float, L: float = 1.0, zeta: float = 1.0,
               init_weights: np.ndarray | None = None, clip: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
    """Run the numba ``xnas`` forecaster over ``rewards`` and return every round's log-weights.

    Meant for checking engines against :func:`xnas.pea.rule.xnas_update`: the
    same reward stream must give the same log-weights and wipeouts.

    Returns
    -------
    logw : ndarray (T, N)
        Log-weights after each round (``-inf`` once wiped).
    wipe_round : ndarray (N,)
        Round of each wipeout, 0 for survivors.
    log_gamma_T : float
    """
    rewards = check_rewards(rewards)
    T, N = rewards.shape
    log_u0 = np.full(N, -math.log(N)) if init_weights is None else np.log(np.asarray(init_weights, float) / np.sum(init_weights))
    fp = _forecaster_vector(check_positive("eta", eta), check_positive("L", L), zeta, {"clip": 1.0 if clip else 0.0},
                            None)
    rounds = np.array([T], np.int64)
    trace = np.zeros((T, N))
    scal = np.zeros(OUT_SIZE)
    wipe = np.zeros(N, np.int64)
    args = (fp, ENV_REPLAY, np.zeros(8), rewards, log_u0, T, 0, rounds, 1,
            scal, np.zeros(N), np.zeros(N), wipe, np.zeros(N),
            np.zeros(1), np.zeros(1), np.zeros(1, np.int64), np.zeros(1), np.zeros((1, N)), trace)
    run_one, _ = specialise(K._run_one, FC_XNAS, args, "the run loop of forecaster 'xnas' round by round")
    run_one(FC_XNAS, *args)
    return trace, wipe, float(scal[OUT_LOG_GAMMA])