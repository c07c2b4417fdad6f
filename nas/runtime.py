"""One runtime under every long run (search, train, eval, study).

What a run needs besides its algorithm lives here, once:

* :func:`resolve_device` and :func:`apply_threads`: which device, how many CPU threads;
* :func:`to_layout` and :func:`maybe_compile`: the memory layout (channels_last) and
  the optional ``torch.compile`` that the search and the training share;
* :func:`seed_everything`: Python, NumPy and torch seeded together (the RNG
  capture that resume relies on is :func:`xnas.nas.checkpoint.capture_rng_state`);
* :func:`nonfinite_tensors`: the "state is finite" guard;
* :func:`flat_all_reduce_`: one all-reduce for many tensors under torchrun
  (the process-group helpers are :mod:`xnas.nas.distributed`);
* re-exported from its torch-free half, :mod:`xnas.runtime_io` (which
  ``xnas-sim``, :mod:`xnas.pea` and :mod:`xnas.analysis` import directly):
  :class:`Progress`, a live rich bar on a terminal, one plain line per epoch otherwise;
  the atomic writers (:func:`atomic_write`, :func:`write_text_atomic`, :func:`save_figure`, ...),
  whose files get the mode a plain ``open`` would give (the umask is honoured);
  :func:`prepare_out_dir`, the output folder is writable, checked before any work;
  the one-line failures :class:`SetupError` and :class:`RunError`.
"""

from __future__ import annotations

import os
import random
from typing import Any, Iterable, Optional

import numpy as np
import torch

from xnas.nas import distributed as dist
from xnas.runtime_io import (TEMP_PREFIX, Progress, RunError, SetupError, atomic_write, disk_full,
                             prepare_out_dir, remove_stale_temp, removed_if_left_empty, save_figure,
                             save_npy_atomic, write_bytes_atomic, write_json_atomic, write_text_atomic)

__all__ = [
    "RunError",
    "SetupError",
    "TEMP_PREFIX",
    "Progress",
    "apply_threads",
    "atomic_write",
    "DEFAULT_THREADS",
    "default_threads",
    "threads_notice",
    "device_memory",
    "disk_full",
    "flat_all_reduce_",
    "maybe_compile",
    "nonfinite_tensors",
    "prepare_out_dir",
    "remove_stale_temp",
    "removed_if_left_empty",
    "resolve_device",
    "save_figure",
    "save_npy_atomic",
    "seed_everything",
    "to_layout",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
]

DEFAULT_THREADS = 1
"""torch's CPU threads when ``--threads`` is not given. A supernet is made of many
tiny kernels: on an idle 2-core machine 2 threads made an nb201 search epoch about
2x faster, but while another job ran they spin-waited against it and made it up to
7x slower (222 s against 32 s per epoch). One thread never oversubscribes, and a
default that followed the machine's load would change results with the load (the
thread count changes floating-point reduction order, hence the cell found)."""


# ---------------------------------------------------------------------------------
# device and threads
# ---------------------------------------------------------------------------------
def resolve_device(name: str) -> torch.device:
    """The device of ``auto``, ``cpu``, ``cuda`` or ``cuda:N``.

    ``auto`` is CUDA when available, else the CPU. A CUDA device without an
    index is the process's own GPU: ``LOCAL_RANK`` under torchrun, else 0. An
    explicit ``cuda:N`` is kept.

    Raises
    ------
    SetupError
        An unknown device, or CUDA requested without CUDA.
    """
    name = str(name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise SetupError(f"unknown device {name!r}; use auto, cpu or cuda[:N]") from None
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise SetupError(f"unsupported device {name!r}; use auto, cpu or cuda[:N]")
    if not torch.cuda.is_available():
        raise SetupError(f"device {name!r} requested but CUDA is not available")
    if dev.index is None:
        dev = torch.device("cuda", dist.local_rank() if dist.env_world_size() > 1 else 0)
    return dev


def device_memory(name: str) -> Optional[int]:
    """Bytes of memory of the CUDA device ``name`` resolves to; None for the CPU (the host's memory applies).

    A device that cannot be resolved also gives None: the run reports it when it resolves its device.
    """
    try:
        dev = resolve_device(name)
    except SetupError:
        return None
    if dev.type != "cuda":
        return None
    return int(torch.cuda.get_device_properties(dev).total_memory)


def default_threads(dataset: Optional[str] = None) -> int:
    """The thread policy's default, :data:`DEFAULT_THREADS` for every dataset."""
    return DEFAULT_THREADS


THREADS_NOTICE = ("xnas: {n} CPU thread by default; --threads N may be faster on an idle machine and slower on a "
                  "busy one (results are reproducible for a given thread count)")


def apply_threads(threads: Optional[int], device: torch.device) -> Optional[int]:
    """Set torch's intra-op CPU threads; returns the count set (``None`` on CUDA, where it does not apply).

    ``threads`` None takes :func:`default_threads`.
    """
    if device.type == "cuda":
        return None
    threads = threads if threads is not None else default_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise SetupError(f"threads must be a positive integer, got {threads!r}")
    torch.set_num_threads(threads)
    return threads


def threads_notice(requested: Optional[int], applied: Optional[int]) -> Optional[str]:
    """The one line a run prints at its start when it took the default thread count on a machine with more
    cores (``requested`` None, ``applied`` from :func:`apply_threads`), else ``None``."""
    if requested is not None or applied is None or (os.cpu_count() or 1) <= applied:
        return None
    return THREADS_NOTICE.format(n=applied)


def to_layout(obj, channels_last: bool):
    """A module or a batch in the channels_last (NHWC) layout, or unchanged when ``channels_last`` is False.

    One choice for the search, the training and the evaluation: the small
    networks of this project are bound by per-operator overhead and memory
    traffic, and oneDNN's NHWC kernels (depthwise and dilated convolutions,
    pooling) run 1.5-3x faster than the NCHW ones on the CPU, as they do on CUDA.
    A tensor that is not 4-D is returned as it is.
    """
    if not channels_last:
        return obj
    if isinstance(obj, torch.nn.Module):
        return obj.to(memory_format=torch.channels_last)
    return obj.contiguous(memory_format=torch.channels_last) if obj.dim() == 4 else obj


# Graphs dynamo may compile per module (weight and architecture steps, and each
# change of the supernet by wipeout, compile anew); past it the module runs eagerly.
COMPILE_LIMIT = 8


def maybe_compile(module: torch.nn.Module, enabled: bool) -> torch.nn.Module:
    """``module`` compiled in place with ``torch.compile`` (inductor) when ``enabled``, else unchanged (eager).

    Off by default for the search and the training: on a CPU the inductor
    compile of a supernet takes minutes per graph, and wipeout changes the
    graph, so a search of a few hundred steps never earns it back
    (docs/performance.md).  The state dict keeps its keys (``Module.compile``
    wraps the call, not the module).  At most :data:`COMPILE_LIMIT` graphs are
    compiled per module; later changes run eagerly.
    """
    if not enabled:
        return module
    import torch._dynamo

    torch._dynamo.config.cache_size_limit = COMPILE_LIMIT
    module.compile()
    return module


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch together."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ---------------------------------------------------------------------------------
# the finiteness guard and reductions
# ---------------------------------------------------------------------------------
def nonfinite_tensors(state: Any, prefix: str = "") -> list[str]:
    """Names of the floating-point tensors in ``state`` (nested dicts/lists) holding NaN or inf."""
    bad: list[str] = []
    if isinstance(state, torch.Tensor):
        if (state.is_floating_point() or state.is_complex()) and not bool(torch.isfinite(state).all()):
            bad.append(prefix or "tensor")
    elif isinstance(state, dict):
        for key, value in state.items():
            bad += nonfinite_tensors(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(state, (list, tuple)):
        for i, value in enumerate(state):
            bad += nonfinite_tensors(value, f"{prefix}[{i}]")
    return bad


def flat_all_reduce_(tensors: Iterable[torch.Tensor]) -> None:
    """Sum a list of tensors across ranks with one all-reduce (nothing in one process)."""
    tensors = list(tensors)
    if dist.world_size() <= 1 or not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce_sum_(flat)
    offset = 0
    for t in tensors:
        n = t.numel()
        t.copy_(flat[offset : offset + n].view_as(t))
        offset += n


