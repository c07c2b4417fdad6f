"""Atomic checkpoints loaded safely, and RNG state in a ``weights_only``-compatible form.

A checkpoint is written to a temporary file in the destination folder, flushed
to disk (``fsync``), then renamed over the destination with ``os.replace``, so
a crash leaves either the old or the new checkpoint, never half of one.
Loading always uses ``torch.load(..., weights_only=True)``: a checkpoint can
hold tensors, numbers, strings, lists, tuples and dicts, never arbitrary
pickled objects; RNG states are converted to that vocabulary here.
"""

from __future__ import annotations

import os
import pickle
import random
import tempfile
import zipfile
from typing import Any

import numpy as np
import torch

__all__ = [
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "capture_rng_state",
    "restore_rng_state",
]


class CheckpointError(ValueError):
    """A missing, unreadable or incompatible checkpoint (one-line message)."""


def save_checkpoint(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` with ``torch.save`` atomically.

    Parameters
    ----------
    obj : Any
        Something ``torch.load(weights_only=True)`` can read back (tensors,
        containers, numbers, strings).
    path : path-like
        Destination; its folder is created if needed.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(path) + ".", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    # Make the rename itself durable where the platform allows it.
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write a text file atomically (temporary file in the same folder, fsync, rename)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-" + os.path.basename(path) + ".", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_checkpoint(path: str | os.PathLike, map_location: Any = "cpu") -> Any:
    """Load a checkpoint with ``weights_only=True``.

    Raises
    ------
    CheckpointError
        When the file is missing, truncated/corrupt, or holds objects that
        ``weights_only`` loading refuses.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path!r} does not exist")
    if not zipfile.is_zipfile(path):
        # torch.save writes zip archives; anything else is damaged or foreign
        raise CheckpointError(f"checkpoint {path!r} is corrupt or not a checkpoint (not a torch zip archive)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"checkpoint {path!r} cannot be loaded safely: {first}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"checkpoint {path!r} is corrupt or not a checkpoint ({first})") from None


def capture_rng_state() -> dict[str, Any]:
    """The torch (CPU and CUDA), numpy and Python ``random`` states as tensors and ints."""
    np_state = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy_keys": torch.from_numpy(np.asarray(np_state[1], dtype=np.int64).copy()),
        "numpy_pos": int(np_state[2]),
        "numpy_has_gauss": int(np_state[3]),
        "numpy_gauss": float(np_state[4]),
        "python_version": int(py_version),
        "python_internal": torch.tensor(py_internal, dtype=torch.int64),
        "python_gauss": None if py_gauss is None else float(py_gauss),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`capture_rng_state` captured.

    Raises
    ------
    CheckpointError
        If ``state`` lacks a field.
    """
    try:
        torch.set_rng_state(state["torch"].cpu().to(torch.uint8))
        keys = state["numpy_keys"].cpu().numpy().astype(np.uint32)
        np.random.set_state(
            ("MT19937", keys, int(state["numpy_pos"]), int(state["numpy_has_gauss"]), float(state["numpy_gauss"]))
        )
        internal = tuple(int(v) for v in state["python_internal"].tolist())
        random.setstate((int(state["python_version"]), internal, state["python_gauss"]))
    except (KeyError, AttributeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint RNG state is incomplete or malformed ({exc})") from None
    if "cuda" in state and torch.cuda.is_available():
        cuda_states = [s.cpu().to(torch.uint8) for s in state["cuda"]]
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
