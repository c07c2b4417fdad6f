"""One runtime under every long run (search, train, eval, study).

What a run needs besides its algorithm lives here, once:

* :func:`resolve_device` and :func:`apply_threads`: which device, how many CPU threads;
* :func:`seed_everything`: Python, NumPy and torch seeded together (the RNG
  capture that resume relies on is :func:`xnas.nas.checkpoint.capture_rng_state`);
* :class:`Progress`: a live rich bar on a terminal, one plain line per epoch otherwise;
* the atomic writers (:func:`atomic_write`, :func:`write_text_atomic`, ...),
  whose files get the mode a plain ``open`` would give (the umask is honoured);
* :func:`prepare_out_dir`: the output folder is writable, checked before any work;
* :func:`nonfinite_tensors`: the "state is finite" guard;
* :func:`flat_all_reduce_`: one all-reduce for many tensors under torchrun
  (the process-group helpers are :mod:`xnas.nas.distributed`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import sys
import tempfile
from typing import Any, Callable, Iterable, Iterator, Optional

import numpy as np
import torch

from xnas.nas import distributed as dist

__all__ = [
    "RunError",
    "SetupError",
    "TEMP_PREFIX",
    "Progress",
    "apply_threads",
    "atomic_write",
    "default_threads",
    "device_memory",
    "flat_all_reduce_",
    "nonfinite_tensors",
    "prepare_out_dir",
    "remove_stale_temp",
    "removed_if_left_empty",
    "resolve_device",
    "save_npy_atomic",
    "seed_everything",
    "write_json_atomic",
    "write_text_atomic",
]

TEMP_PREFIX = ".tmp-"
# Datasets small enough that one CPU thread is the fastest choice on a shared machine.
_ONE_THREAD_DATASETS = ("digits",)


class SetupError(ValueError):
    """Bad settings or an unusable output folder, found before any work (one-line message)."""


class RunError(RuntimeError):
    """A run that started cannot go on (a non-finite loss, a full disk); one-line message."""


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


def default_threads(dataset: str) -> Optional[int]:
    """The thread policy's default: 1 for the tiny quick-start data, else torch's own choice (None)."""
    return 1 if dataset in _ONE_THREAD_DATASETS else None


def apply_threads(threads: Optional[int], device: torch.device) -> None:
    """Set torch's intra-op CPU threads (nothing when ``threads`` is None or on CUDA).

    Small networks are made of many tiny kernels: extra intra-op threads buy
    little and, on a shared machine, spin-wait against each other.
    """
    if threads is None or device.type == "cuda":
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise SetupError(f"threads must be a positive integer, got {threads!r}")
    torch.set_num_threads(threads)


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch together."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# ---------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------
def _file_mode() -> int:
    # os.umask can only be read by setting it; put it straight back
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], binary: bool = True) -> None:
    """Write ``path`` atomically: ``write(fh)`` fills a temporary file that then replaces ``path``.

    The temporary file sits in the destination folder, is flushed to disk and
    renamed, so a crash leaves the old file or the new one, never half of one.
    The file gets the mode a plain ``open`` gives (``0666`` less the umask).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX + os.path.basename(path) + ".", dir=folder)
    try:
        os.chmod(tmp, _file_mode())  # mkstemp creates 0600
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"encoding": "utf-8"})) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(folder)


def _fsync_dir(folder: str) -> None:
    # make the rename itself durable where the platform allows it
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda fh: fh.write(text), binary=False)


def write_json_atomic(path: str | os.PathLike, obj: Any, **dumps: Any) -> None:
    """Write ``json.dumps(obj, **dumps)`` plus a newline atomically."""
    write_text_atomic(path, json.dumps(obj, **dumps) + "\n")


def save_npy_atomic(path: str | os.PathLike, array: np.ndarray) -> None:
    """Save one array as ``.npy`` atomically."""
    atomic_write(path, lambda fh: np.save(fh, array))


def remove_stale_temp(folder: str) -> int:
    """Delete temporary files that killed writes left in ``folder``; returns how many.

    Only rank 0 writes, and one run owns its folder, so a temporary file seen
    at start (or on resume) belongs to no live writer.
    """
    if not os.path.isdir(folder):
        return 0
    removed = 0
    for name in os.listdir(folder):
        full = os.path.join(folder, name)
        if name.startswith(TEMP_PREFIX) and os.path.isfile(full):
            try:
                os.unlink(full)
                removed += 1
            except OSError:
                pass
    return removed


def prepare_out_dir(folder: str) -> None:
    """Create ``folder`` and prove it can be written, before any data is loaded.

    Also removes stale temporary files of killed writes.

    Raises
    ------
    SetupError
        One line naming the folder and why it cannot be used.
    """
    try:
        os.makedirs(folder, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=TEMP_PREFIX + "probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SetupError(f"output folder {folder!r} cannot be written ({reason})") from None
    remove_stale_temp(folder)


@contextlib.contextmanager
def removed_if_left_empty(folder: str) -> Iterator[None]:
    """Remove ``folder`` again if the set-up inside fails and leaves it new and empty (nothing half-written)."""
    existed = os.path.isdir(folder)
    try:
        yield
    except BaseException:
        if not existed:
            try:
                os.rmdir(folder)  # fails, rightly, when something was written
            except OSError:
                pass
        raise


def disk_full(exc: OSError) -> bool:
    """Whether ``exc`` says the disk (or quota) is full."""
    return getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT)


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


# ---------------------------------------------------------------------------------
# progress
# ---------------------------------------------------------------------------------
class Progress:
    """Progress on stderr: a live rich bar on a terminal, one plain line per epoch otherwise.

    Parameters
    ----------
    enabled : bool
        False shows nothing (``--no-progress``, ranks other than 0).
    total : int
        Steps of the whole run (all epochs left).
    live : bool, optional
        Force the live bar on or off; by default on when stderr is a terminal.
    """

    def __init__(self, enabled: bool, total: int, live: Optional[bool] = None) -> None:
        self.enabled = enabled
        self.total = total
        self.live = enabled and (sys.stderr.isatty() if live is None else live)
        self._bar = None

    def __enter__(self) -> "Progress":
        if self.live:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                console=Console(stderr=True), transient=False,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("", total=self.total, status="")
        return self

    def __exit__(self, *exc: Any) -> bool:
        if self._bar is not None:
            self._bar.__exit__(*exc)
        return False

    def describe(self, text: str) -> None:
        """Set the bar's label (``search epoch 3/50``)."""
        if self._bar is not None:
            self._bar.update(self._task, description=text)

    def advance(self, status: Optional[str] = None) -> None:
        """One step done; ``status`` (a short text such as the loss) replaces the last one."""
        if self._bar is not None:
            fields = {} if status is None else {"status": status}
            self._bar.update(self._task, advance=1, **fields)

    def line(self, text: str) -> None:
        """One line per epoch: above the live bar, or plain (never wrapped) on a pipe or a log."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.console.print(text, soft_wrap=True, markup=False, highlight=False)
        else:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()
