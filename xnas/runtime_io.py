"""The torch-free half of the one runtime: atomic writers, the output-folder check, progress.

:mod:`xnas.nas.runtime` is the runtime of every long run; it re-exports all of
this module.  These parts live apart because ``xnas-sim``, :mod:`xnas.pea` and
:mod:`xnas.analysis` need them too and must never import torch (``xnas-sim``
starts in a fraction of a second, and a test checks that torch stays out).
It lives in the ``xnas`` core package, the floor that ``pea``, ``nas``,
``analysis`` and ``cli`` all stand on; like :mod:`xnas.limits`, it imports
neither torch nor anything that does.

* :func:`atomic_write` and the writers on it (:func:`write_text_atomic`,
  :func:`write_bytes_atomic`, :func:`write_json_atomic`, :func:`save_npy_atomic`,
  :func:`save_figure`): a temporary file in the destination folder, flushed,
  fsynced and renamed, with the mode a plain ``open`` would give (the umask is honoured);
* :func:`prepare_out_dir`, :func:`remove_stale_temp`, :func:`removed_if_left_empty`:
  the output folder is writable before any work, and nothing half-written stays;
* :class:`Progress`: a live rich bar on a terminal, one plain line per step otherwise;
* :class:`SetupError` and :class:`RunError`, the two kinds of one-line failure.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
import tempfile
import time
from typing import Any, Callable, Iterator, Optional

import numpy as np

__all__ = [
    "RunError",
    "SetupError",
    "TEMP_PREFIX",
    "Progress",
    "atomic_write",
    "disk_full",
    "prepare_out_dir",
    "remove_stale_temp",
    "removed_if_left_empty",
    "save_figure",
    "save_npy_atomic",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
]

TEMP_PREFIX = ".tmp-"


class SetupError(ValueError):
    """Bad settings or an unusable output folder, found before any work (one-line message)."""


class RunError(RuntimeError):
    """A run that started cannot go on (a non-finite loss, a full disk); one-line message."""


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


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write bytes atomically: no newline translation, so text encoded by the caller lands byte for byte."""
    atomic_write(path, lambda fh: fh.write(data))


def save_figure(fig: Any, path: str | os.PathLike, dpi: int = 110, close: bool = False) -> None:
    """Save a matplotlib figure as PNG atomically; ``close`` closes it afterwards (also on failure)."""
    try:
        atomic_write(path, lambda fh: fig.savefig(fh, dpi=dpi, format="png"))
    finally:
        if close:
            import matplotlib.pyplot as plt

            plt.close(fig)


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
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise SetupError(f"output folder {folder!r} exists and is not a folder")
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
# progress
# ---------------------------------------------------------------------------------
LONG_RUN_SECONDS = 3600.0
"""A run projected to take longer than this (from its first steps) says so in one line."""
LONG_RUN_STEPS, LONG_RUN_LOOK = 5, 30.0
"""The projection is made after this many steps or seconds, whichever comes first."""


def format_duration(seconds: float) -> str:
    """A duration for a person: seconds, minutes, hours or days, whichever reads best."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


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
    long_hint : str, optional
        How to shorten the run: when the first steps project more than
        :data:`LONG_RUN_SECONDS` for the whole run, one line says how long and this.
    """

    def __init__(self, enabled: bool, total: int, live: Optional[bool] = None,
                 long_hint: Optional[str] = None) -> None:
        self.enabled = enabled
        self.total = total
        self.live = enabled and (sys.stderr.isatty() if live is None else live)
        self._bar = None
        self._hint = long_hint
        self._steps = 0
        self._start = time.perf_counter()

    def __enter__(self) -> "Progress":
        self._start = time.perf_counter()
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
        self._steps += 1
        if self._hint is not None:
            self._check_long_run()
        if self._bar is not None:
            fields = {} if status is None else {"status": status}
            self._bar.update(self._task, advance=1, **fields)

    def _check_long_run(self) -> None:
        # judged once, on the first steps: a run of days should say so before the user walks away
        elapsed = time.perf_counter() - self._start
        if self._steps < LONG_RUN_STEPS and elapsed < LONG_RUN_LOOK:
            return
        projected = elapsed / self._steps * self.total
        if projected > LONG_RUN_SECONDS:
            self.line(f"xnas: at this pace the run takes about {format_duration(projected)}; {self._hint}")
        self._hint = None

    def line(self, text: str) -> None:
        """One line per epoch: above the live bar, or plain (never wrapped) on a pipe or a log."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.console.print(text, soft_wrap=True, markup=False, highlight=False)
        else:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()
