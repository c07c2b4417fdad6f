"""Small helpers for running under ``torchrun`` (DistributedDataParallel).

``torchrun`` sets ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and
``MASTER_PORT``; :func:`init_from_env` reads them and joins the process group
(NCCL when CUDA is available, gloo on CPU). Without those variables, or before
initialisation, every helper behaves as in one process: rank 0 of 1,
reductions and barriers do nothing.
"""

from __future__ import annotations

import os
from typing import Optional

import torch
import torch.distributed as dist

__all__ = [
    "env_world_size",
    "init_from_env",
    "is_initialized",
    "world_size",
    "rank",
    "local_rank",
    "is_main",
    "all_reduce_sum_",
    "broadcast_",
    "barrier",
    "cleanup",
]


def env_world_size() -> int:
    """``WORLD_SIZE`` from the environment (1 when unset)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def is_initialized() -> bool:
    """Whether a process group is active."""
    return dist.is_available() and dist.is_initialized()


def init_from_env(backend: Optional[str] = None, device: Optional[str] = None) -> bool:
    """Join the process group described by torchrun's environment variables.

    Parameters
    ----------
    backend : str, optional
        ``"nccl"`` or ``"gloo"``; by default NCCL when ``device`` is CUDA (or
        CUDA is available and no device is given), else gloo.
    device : str, optional
        The device the run uses; on CUDA the process binds to ``LOCAL_RANK``.

    Returns
    -------
    bool
        True when running distributed (``WORLD_SIZE`` > 1), False for one process.
    """
    if is_initialized():
        return world_size() > 1
    if env_world_size() <= 1:
        return False
    use_cuda = torch.cuda.is_available() if device is None else str(device).startswith("cuda")
    if backend is None:
        backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(local_rank())
    dist.init_process_group(backend=backend)
    return True


def world_size() -> int:
    """Number of processes (1 when not distributed)."""
    return dist.get_world_size() if is_initialized() else 1


def rank() -> int:
    """Global rank of this process (0 when not distributed)."""
    return dist.get_rank() if is_initialized() else 0


def local_rank() -> int:
    """Rank on this machine (``LOCAL_RANK``, 0 when unset)."""
    try:
        return int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError:
        return 0


def is_main() -> bool:
    """Whether this process writes files and prints (rank 0)."""
    return rank() == 0


def all_reduce_sum_(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over all ranks in place (identity in one process); returns it."""
    if is_initialized() and world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def broadcast_(tensor: torch.Tensor, src: int = 0) -> torch.Tensor:
    """Copy rank ``src``'s ``tensor`` to every rank in place; returns it."""
    if is_initialized() and world_size() > 1:
        dist.broadcast(tensor, src=src)
    return tensor


def barrier() -> None:
    """Wait for every rank (no-op in one process)."""
    if is_initialized() and world_size() > 1:
        dist.barrier()


def cleanup() -> None:
    """Leave the process group if one is active."""
    if is_initialized():
        dist.destroy_process_group()
