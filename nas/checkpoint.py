"""Atomic checkpoints loaded safely, and RNG state in a ``weights_only``-compatible form.

A checkpoint is written with :func:`xnas.nas.runtime.atomic_write`, so a
crash leaves either the old or the new checkpoint, never half of one; a
checkpoint holding NaN or inf is never written. Loading verifies every zip
member's CRC, then uses ``torch.load(..., weights_only=True)``: a checkpoint can
hold tensors, numbers, strings, lists, tuples and dicts, never arbitrary
pickled objects; RNG states are converted to that vocabulary here.
"""

from __future__ import annotations

import os
import pickle
import random
import zipfile
from typing import Any

import numpy as np
import torch

from xnas.nas.runtime import RunError, atomic_write, disk_full, nonfinite_tensors
from xnas.nas.runtime import write_text_atomic  # noqa: F401  (re-exported: its old home)

__all__ = [
    "CheckpointError",
    "save_checkpoint",
    "save_checkpoint_or_stop",
    "check_finite_state",
    "kept_message",
    "load_checkpoint",
    "capture_rng_state",
    "restore_rng_state",
    "generator_state",
    "restore_generator_state",
]


class CheckpointError(ValueError):
    """A missing, unreadable or incompatible checkpoint (one-line message)."""


def save_checkpoint(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` with ``torch.save`` atomically (see :func:`xnas.nas.runtime.atomic_write`).

    Parameters
    ----------
    obj : Any
        Something ``torch.load(weights_only=True)`` can read back (tensors,
        containers, numbers, strings).
    path : path-like
        Destination; its folder is created if needed.
    """
    atomic_write(path, lambda fh: torch.save(obj, fh))


def kept_message(path: str, epochs_done: int) -> str:
    """What a stopped run leaves behind, said truthfully."""
    if epochs_done > 0:
        return f"the last good checkpoint ({path}, after epoch {epochs_done}) was kept"
    return "no checkpoint was written"


def save_checkpoint_or_stop(obj: Any, path: str, kept_epochs: int, finite: Any = None) -> None:
    """:func:`save_checkpoint` of a good state only, a failed write turned into a one-line :class:`RunError`.

    Parameters
    ----------
    obj : Any
        The checkpoint.
    path : str
        Where it goes.
    kept_epochs : int
        Epochs of the checkpoint already on disk (0: none); the atomic write
        leaves that one intact, and the message says so.
    finite : Any, optional
        The parts of ``obj`` (state dicts, BatchNorm buffers included) that
        must be finite for the state to count as good; XNAS's log-weights of
        wiped experts are rightly ``-inf``, so the caller names the parts.
    """
    bad = nonfinite_tensors(finite) if finite is not None else []
    if bad:
        raise RunError(f"the state became non-finite ({bad[0]}, {len(bad)} tensors in all); "
                       f"stopped, {kept_message(path, kept_epochs)}")
    try:
        save_checkpoint(obj, path)
    except OSError as exc:
        reason = "the disk is full" if disk_full(exc) else (exc.strerror or type(exc).__name__)
        raise RunError(f"cannot write checkpoint {path} ({reason}); stopped, {kept_message(path, kept_epochs)}") from None


def check_finite_state(state: Any, path: str) -> None:
    """Refuse a loaded checkpoint whose tensors hold NaN or inf (:class:`CheckpointError`)."""
    bad = nonfinite_tensors(state)
    if bad:
        raise CheckpointError(f"checkpoint {path} holds non-finite values ({bad[0]}, {len(bad)} tensors in all)")


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
        # torch.load does not check the members' CRCs: a flipped byte in a tensor would load
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint {path!r} is corrupt ({type(exc).__name__}: {exc})") from None
    if damaged is not None:
        raise CheckpointError(f"checkpoint {path!r} is corrupt (CRC mismatch in {damaged})")
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


def generator_state(rng: np.random.Generator) -> dict[str, Any]:
    """A ``numpy.random.Generator``'s (PCG64) state as strings and ints: its two 128-bit integers
    as hex text, which ``weights_only`` loads and :func:`restore_generator_state` reads with a bound."""
    st = rng.bit_generator.state
    return {"pcg64_state": format(st["state"]["state"], "x"), "pcg64_inc": format(st["state"]["inc"], "x"),
            "has_uint32": int(st["has_uint32"]), "uinteger": int(st["uinteger"])}


def restore_generator_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    """Restore what :func:`generator_state` captured into ``rng``.

    Raises
    ------
    CheckpointError
        If ``state`` lacks a field or holds anything but a PCG64 state (one line).
    """
    try:
        words = [state["pcg64_state"], state["pcg64_inc"]]
        if not all(isinstance(w, str) and 0 < len(w) <= 32 for w in words):
            raise ValueError("not 128-bit hex")
        rng.bit_generator.state = {
            "bit_generator": "PCG64", "state": {"state": int(words[0], 16), "inc": int(words[1], 16)},
            "has_uint32": int(state["has_uint32"]), "uinteger": int(state["uinteger"]),
        }
    except (OverflowError, TypeError, KeyError, ValueError) as exc:
        raise CheckpointError(f"checkpoint sampler state is not a numpy generator state ({type(exc).__name__})") \
            from None
