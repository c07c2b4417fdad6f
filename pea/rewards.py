"""Replayed reward streams and the bound ``[-L, L]`` every guarantee assumes."""

from __future__ import annotations

import numpy as np

__all__ = ["clip_to_bound"]


def clip_to_bound(rewards: np.ndarray, L: float) -> tuple[np.ndarray, str | None]:
    """A user's replayed rewards clipped to ``[-L, L]``, and a one-line note when any was outside.

    One rule for every forecaster: the guarantees assume rewards in ``[-L, L]``; xnas
    used to clip them while its regret was measured on the raw values (a 1e300 reward
    gave a regret of 6e300 against a bound of 9.9), and other forecasters overflowed.
    Now every forecaster plays, and is scored on, the clipped stream. ``xnas-sim regret
    --rewards`` calls this; :func:`simulate` itself plays any stream as given (the
    validation battery breaks the premises on purpose).
    """
    outside = np.abs(rewards) > L
    if not outside.any():
        return rewards, None
    peak = float(np.max(np.abs(rewards)))
    note = (f"note: {int(outside.sum())} replayed reward(s) lie outside [-L, L] = [-{L:g}, {L:g}] (largest |R| = "
            f"{peak:.4g}); every forecaster plays and is scored on them clipped to it (--L sets the bound)")
    return np.clip(rewards, -L, L), note
