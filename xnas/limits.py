"""Limits both tools share, checked before any work starts: the seed rule, positive numbers, the memory check.

Torch-free, like everything in the ``xnas`` core package: ``xnas-sim``
(:mod:`xnas.pea`), :mod:`xnas.analysis` and :mod:`xnas.nas` all stand on it.
The network-size estimates of the NAS backend, which call :func:`check_memory`,
are in :mod:`xnas.nas.limits`.
"""

from __future__ import annotations

import math
import numbers
import os
from typing import Optional

__all__ = ["LimitError", "MAX_SEED", "available_memory", "check_memory", "check_positive", "check_seed"]


class LimitError(ValueError):
    """A size or value beyond what can run; the message is one line for the user."""


MAX_SEED = 2**62 - 1
"""Largest first seed of both tools: numpy and numba take non-negative 64-bit seeds,
torch 64-bit ones, and a battery plays ``seed, seed + 1, ...`` from it."""


def check_seed(seed: int, name: str = "--seed") -> int:
    """Return ``seed`` if it lies in ``[0, 2^62)``, else raise a one-line :class:`LimitError`.

    One rule for ``xnas-sim`` and ``xnas-nas``, so a seed one tool accepts the other does too.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise LimitError(f"{name} must lie in [0, 2^62), got {seed}")
    return seed


def available_memory() -> int:
    """Bytes of physical host memory.

    The total, not what is free now: a limit that moves with other jobs' load
    would refuse a run one minute and accept it the next.
    """
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not Linux nor POSIX
        return 1 << 62


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB"


def check_memory(nbytes: float, what: str, available: Optional[int] = None, hint: str = "",
                 slack: float = 1.0) -> None:
    """Raise a one-line :class:`LimitError` when ``nbytes`` exceeds the memory available.

    Parameters
    ----------
    nbytes : float
        Estimated bytes the work needs.
    what : str
        What needs them (``"the supernet (C=100000, ...)"``).
    available : int, optional
        Bytes available; default :func:`available_memory` (pass a GPU's memory for cuda).
    hint : str
        How to need less, appended after a semicolon.
    slack : float
        Refuse only above ``slack`` times the memory (for rough estimates).
    """
    limit = available_memory() if available is None else int(available)
    if nbytes > slack * limit:
        over = "more than" if slack == 1.0 else f"over {slack:g}x"
        raise LimitError(f"{what} needs about {_gib(nbytes)} of memory, {over} the {_gib(limit)} available"
                         + (f"; {hint}" if hint else ""))


def check_positive(name: str, value: object) -> float:
    """``value`` as a float if it is a real number (not a bool), positive and finite; else a one-line ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be positive and finite, got {value}")
    return value
