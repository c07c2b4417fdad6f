"""Reward streams: reading and checking a ``(T, N)`` array, and the random ones the checks replay.

Plain NumPy, below every kernel: :func:`xnas.pea.simulate` checks the rewards
it replays here, and :mod:`xnas.pea.validate` and :mod:`xnas.pea.guarantees`
draw their replayed streams from here.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

__all__ = ["THRESHOLD_SLACK", "check_rewards", "load_rewards", "near_threshold_rewards", "random_rewards"]

#: How far below the margin 2 eta L (T - t) the near-threshold expert trails (relative).
THRESHOLD_SLACK = 1e-6


def load_rewards(path: str | os.PathLike) -> np.ndarray:
    """Load a ``(T, N)`` reward array from a ``.npy`` file, checking it.

    Raises ``ValueError`` with one line for a missing file, a file that is not
    a 2-D numeric array, fewer than 2 experts, or non-finite values.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"reward file not found: {path}")
    if not os.path.isfile(path):  # a FIFO or a device would block or never end
        raise ValueError(f"reward file {path} is not a regular file")
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:  # numpy raises several types for bad files
        if "pickle" in str(exc):
            # numpy's own message advises allow_pickle=True, which would run code from the file
            raise ValueError(f"reward file {path} is not a numeric .npy array (numpy would read it as pickled "
                             "Python objects, which xnas never loads)") from None
        raise ValueError(f"cannot read reward file {path}: {exc}") from None
    return check_rewards(arr, name=path)


def check_rewards(arr: Any, name: str = "rewards") -> np.ndarray:
    """Validate a reward array: 2-D, numeric, finite, at least 2 experts."""
    arr = np.asarray(arr)
    if arr.ndim != 2:
        raise ValueError(f"{name}: rewards must be a 2-D (T, N) array, got {arr.ndim}-D")
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ValueError(f"{name}: rewards must be real numbers, got dtype {arr.dtype}")
    if arr.shape[0] < 1:
        raise ValueError(f"{name}: rewards hold no rounds")
    if arr.shape[1] < 2:
        raise ValueError(f"{name}: need at least 2 experts, got {arr.shape[1]}")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise ValueError(f"{name}: rewards hold {bad} non-finite values (NaN or infinity)")
    return arr


def random_rewards(kind: str, T: int, n: int, L: float, rng: np.random.Generator) -> np.ndarray:
    """Random reward sequences in ``[-L, L]`` for the ``replay`` cases.

    ``uniform``: i.i.d. uniform rewards.  ``walk``: each expert's mean drifts
    as a random walk (clipped), so leaders change in a way no synthetic
    environment scripts.
    """
    if kind == "uniform":
        return rng.uniform(-L, L, size=(T, n))
    if kind == "threshold":
        return near_threshold_rewards(T, n, L, rng)
    steps = rng.normal(0.0, 3.0 / math.sqrt(T), size=(T, n))
    means = np.clip(np.cumsum(steps, axis=0), -0.8, 0.8)
    return np.clip(L * (means + rng.uniform(-0.2, 0.2, size=(T, n))), -L, L)


def near_threshold_rewards(T: int, n: int, L: float, rng: np.random.Generator,
                           slack: float = THRESHOLD_SLACK) -> np.ndarray:
    """Rewards under which a threshold margin below ``2 eta L (T - t)`` wipes the best expert.

    Expert ``a`` earns ``+L`` in rounds ``1..t0`` (``t0 = ceil(T / 2)``) and
    ``-L`` after; expert ``b`` earns ``r`` before ``t0`` and ``+L`` after, with
    ``r`` chosen so that at ``t0`` it trails ``a`` by ``(1 - slack) 2 L (T - t0)``
    in cumulative reward, i.e. by ``(1 - slack)`` times the margin in
    log-weight, for every ``eta``.  Its gap grows linearly up to ``t0`` while
    the margin shrinks, so it is closest to the threshold at ``t0``; after
    ``t0`` gap and margin shrink by the same ``2 eta L`` per round.  Algorithm
    1 keeps it, and it ends ahead of ``a`` by ``2 slack L (T - t0)``: it is the
    best expert.  A margin scaled by ``zeta < 1 - slack`` wipes it by round
    ``t0``.  The other experts earn uniform rewards in ``[-L, 0]`` (cumulative
    never above ``a``'s, which stays ``>= 0``).  Which experts play ``a`` and
    ``b`` is drawn from ``rng``.

    Parameters
    ----------
    T, n : int
        Rounds (at least 2) and experts (at least 2).
    L : float
        Reward bound.
    rng : numpy.random.Generator
    slack : float
        Relative distance below the margin, in ``(0, 1)``.
    """
    if T < 2 or n < 2:
        raise ValueError(f"the near-threshold construction needs T >= 2 and n >= 2, got T={T}, n={n}")
    t0 = -(-T // 2)
    a, b = rng.choice(n, size=2, replace=False)
    R = rng.uniform(-L, 0.0, size=(T, n))
    R[:t0, a], R[t0:, a] = L, -L
    R[:t0, b] = L - (1.0 - slack) * 2.0 * L * (T - t0) / t0
    R[t0:, b] = L
    return R
