"""The figure registry and the runner that writes a figure's PNG, CSV and JSON.

Every figure is a frozen :class:`Figure` registered by name in :data:`FIGURES`.
Its ``build`` takes :class:`BuildOptions` and returns :class:`FigureData`: the
rows of its data table, a summary of headline numbers (with the setup as a
``caption`` and, where the figure illustrates a claim, ``claim`` and
``claim_holds``) and a ``draw`` function that renders the PNG.
:func:`run_figure` writes the three files, each atomically with the runtime's
writers (:mod:`xnas.runtime_io`: a temporary file in the same folder, then
``os.replace``), so an interrupted run never leaves a half-written file behind.

Importing this module imports neither matplotlib nor torch: the figure modules
import them inside their build functions.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import math
import os
import time
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from xnas.runtime_io import atomic_write, write_bytes_atomic  # torch-free: the runtime's atomic writers

__all__ = [
    "BuildOptions",
    "Figure",
    "FigureData",
    "FIGURES",
    "get_figure",
    "run_figure",
]


@dataclass(frozen=True)
class BuildOptions:
    """How to build a figure.

    Attributes
    ----------
    quick : bool
        Fewer seeds and shorter horizons (for tests); the claims are checked on
        the quick data too.
    seeds : int or None
        Number of seeds, overriding the figure's default.
    nas : bool
        Also run the NAS variant (figures with ``needs_nas``).
    seed : int
        First seed.
    progress : callable or None
        Called with a short text before each step (the CLI shows it on stderr).
    """

    quick: bool = False
    seeds: int | None = None
    nas: bool = False
    seed: int = 0
    progress: Callable[[str], None] | None = None

    def n_seeds(self, full: int, quick: int) -> int:
        """The number of seeds: ``seeds`` if given, else the mode's default."""
        if self.seeds is not None:
            return int(self.seeds)
        return quick if self.quick else full

    def say(self, text: str) -> None:
        """Report progress (no-op without a callback)."""
        if self.progress is not None:
            self.progress(text)


@dataclass(frozen=True)
class FigureData:
    """What a figure's build returns.

    Attributes
    ----------
    header : tuple of str
        Column names of the data table (the CSV).
    rows : list of tuple
        The data behind the plot, one tuple per row.
    summary : dict
        Headline numbers; JSON-ready (numpy scalars are converted).
    draw : callable
        ``draw(target)`` renders the PNG into ``target``: the binary file the runner
        opened for an atomic write (or a path; ``savefig`` takes both).
    """

    header: tuple
    rows: list
    summary: dict
    draw: Callable[[str], None]


@dataclass(frozen=True)
class Figure:
    """One registered figure.

    Attributes
    ----------
    name : str
        Registry key and file stem (``NAME.png``, ``NAME.csv``, ``NAME.json``).
    title : str
        Plot title.
    description : str
        One line for ``xnas-sim figure --list``.
    build : callable
        ``build(BuildOptions) -> FigureData``.
    needs_nas : bool
        The figure has a ``--nas`` variant that runs short supernet searches.
    nas_check : callable or None
        ``nas_check()`` returns why the ``--nas`` variant cannot run here (one
        line), or ``None`` when it can; checked before anything is built.
    """

    name: str
    title: str
    description: str
    build: Callable[[BuildOptions], FigureData]
    needs_nas: bool = False
    nas_check: Callable[[], "str | None"] | None = None


# ------------------------------------------------------------------ writing
def _write_text(path: str, text: str) -> None:
    # bytes, not text mode: the CSV's "\n" line ends land as they are on every platform
    write_bytes_atomic(path, text.encode("utf-8"))


def _jsonable(obj: Any) -> Any:
    """numpy scalars and arrays to Python; NaN and infinities to None (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for row in rows:
        out = []
        for v in row:
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float):
                v = repr(v) if math.isfinite(v) else ""
            out.append(v)
        w.writerow(out)
    return buf.getvalue()


def run_figure(name: str, out_dir: str, options: BuildOptions | None = None) -> dict:
    """Build one figure and write ``NAME.png``, ``NAME.csv`` and ``NAME.json`` into ``out_dir``.

    Parameters
    ----------
    name : str
        A key of :data:`FIGURES`.
    out_dir : str
        Output folder (created if missing).
    options : BuildOptions, optional

    Returns
    -------
    dict
        The JSON summary, with the paths of the three files and the seconds taken.
    """
    fig = get_figure(name)
    options = options or BuildOptions()
    if options.seeds is not None and int(options.seeds) < 2:
        raise ValueError(f"seeds must be at least 2 (confidence bands need a spread), got {options.seeds}")
    if options.nas and not fig.needs_nas:
        raise ValueError(f"figure {name!r} has no --nas variant")
    if options.nas and fig.nas_check is not None:
        reason = fig.nas_check()
        if reason:
            raise RuntimeError(reason)
    t0 = time.perf_counter()
    data = fig.build(options)
    if len(data.header) == 0 or any(len(r) != len(data.header) for r in data.rows):
        raise RuntimeError(f"figure {name!r}: rows do not match the header")
    paths = {ext: os.path.join(out_dir, f"{fig.name}.{ext}") for ext in ("png", "csv", "json")}
    _write_text(paths["csv"], _csv_text(data.header, data.rows))
    atomic_write(paths["png"], data.draw)
    summary = {
        "figure": fig.name,
        "title": fig.title,
        "quick": bool(options.quick),
        **data.summary,
        "files": paths,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    summary = _jsonable(summary)
    _write_text(paths["json"], json.dumps(summary, indent=2, sort_keys=True, allow_nan=False) + "\n")
    return summary


# ------------------------------------------------------------------ registry
# The figure modules, in the order of issue 4: adding a figure adds its module here.
# They are imported by name on first use (each imports this module for Figure).
FIGURE_MODULES = (
    "fig_late_bloomers",
    "fig_init_robustness",
    "fig_regret_selection",
    "fig_reward_attenuation",
    "fig_entropy_weight_decay",
    "fig_regret_scaling",
    "fig_wipeout_dynamics",
    "fig_adam_trap",
    "fig_learning_rates",
    "fig_expert_algorithms",
)


def _collect() -> Mapping[str, Figure]:
    figs = [importlib.import_module(f"xnas.analysis.{name}").FIGURE for name in FIGURE_MODULES]
    return MappingProxyType({f.name: f for f in figs})


class _LazyRegistry(Mapping):
    """The registry, filled on first use (the figure modules import this module)."""

    _figs: Mapping[str, Figure] | None = None

    def _get(self) -> Mapping[str, Figure]:
        if self._figs is None:
            type(self)._figs = _collect()
        return self._figs

    def __getitem__(self, key: str) -> Figure:
        return self._get()[key]

    def __iter__(self):
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


#: All figures by name, in the order of issue 4.
FIGURES: Mapping[str, Figure] = _LazyRegistry()


def get_figure(name: str) -> Figure:
    """Look a figure up by name; ``ValueError`` (one line) lists the choices."""
    try:
        return FIGURES[name]
    except KeyError:
        raise ValueError(f"unknown figure {name!r} (choices: {', '.join(FIGURES)}, all)") from None
