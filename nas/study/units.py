"""The units of a study, their files, and how they are split between shards.

A study is a list of units, each written as its own JSON file under ``OUT/units/``:

- one **search unit** per cell (``search/METHOD/cNN.json``): the genotype text, the
  search seconds, the method and the seed;
- ``R`` **training units** per cell (``train/METHOD/cNN-tMM.json``): the training seed,
  the test error, the parameters and the seconds.

A unit is done iff its file exists and parses as a JSON object; files are written
atomically (:func:`xnas.nas.checkpoint.write_text_atomic`), so a killed unit leaves
nothing marked done. A training unit depends on its cell's search unit; a cell's
search and trainings form a *group*, and shards take whole groups, so a shard never
waits on another.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from xnas.nas.study.config import StudyConfig, StudyError
from xnas.nas.study.methods import get_method

__all__ = ["Unit", "plan_units", "shard_units", "parse_shard", "read_unit", "write_unit", "unit_path"]

UNITS_DIR = "units"


@dataclass(frozen=True)
class Unit:
    """One search (``train_seed`` None) or one training of cell ``cell`` of ``method``."""

    method: str
    cell: int
    train_seed: Optional[int] = None

    @property
    def kind(self) -> str:
        return "search" if self.train_seed is None else "train"

    @property
    def id(self) -> str:
        """The unit's path below ``units/`` without the suffix, e.g. ``train/xnas/c01-t00``."""
        if self.train_seed is None:
            return f"search/{self.method}/c{self.cell:02d}"
        return f"train/{self.method}/c{self.cell:02d}-t{self.train_seed:02d}"

    @property
    def group(self) -> tuple[str, int]:
        """The cell the unit belongs to."""
        return (self.method, self.cell)

    def search_unit(self) -> "Unit":
        """The search unit this unit depends on (itself for a search)."""
        return Unit(self.method, self.cell)


def plan_units(cfg: StudyConfig) -> list[Unit]:
    """Every unit of the study, grouped by cell (search first), in a fixed order."""
    units = []
    for name in cfg.methods:
        for cell in range(get_method(name).n_cells(cfg.seeds, cfg.random_cells)):
            units.append(Unit(name, cell))
            units.extend(Unit(name, cell, t) for t in range(cfg.trainings))
    return units


def shard_units(units: Iterable[Unit], index: int, count: int) -> list[Unit]:
    """The units of shard ``index`` of ``count`` (0-based): whole cells, dealt round-robin.

    Cells are dealt in the order they first appear, so the shards are disjoint, their
    union is every unit, and their sizes differ by at most one cell per method mix.
    """
    if not (isinstance(count, int) and count >= 1 and isinstance(index, int) and 0 <= index < count):
        raise StudyError(f"bad shard {index}/{count}: need 0 <= I < N")
    order: dict[tuple[str, int], int] = {}
    for u in units:
        order.setdefault(u.group, len(order))
    return [u for u in units if order[u.group] % count == index] if count > 1 else list(units)


_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N``; raises :class:`StudyError` (one line)."""
    m = _SHARD.match(text or "")
    if not m:
        raise StudyError(f"--shard must look like I/N (e.g. 0/4), got {text!r}")
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1 or index >= count:
        raise StudyError(f"--shard {text}: need N >= 1 and 0 <= I < N (shards are numbered from 0)")
    return index, count


def unit_path(out: str, unit: Unit) -> str:
    """Where ``unit``'s file lives."""
    return os.path.join(out, UNITS_DIR, unit.id + ".json")


def read_unit(out: str, unit: Unit) -> Optional[dict[str, Any]]:
    """The unit's record if it is done (its file exists and parses), else ``None``."""
    path = unit_path(out, unit)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_unit(out: str, unit: Unit, record: dict[str, Any]) -> None:
    """Write the unit's record atomically (the unit is then done)."""
    from xnas.nas.study.backend import write_text_atomic

    text = json.dumps({"unit": unit.id, **record}, indent=2, sort_keys=True, allow_nan=False) + "\n"
    write_text_atomic(unit_path(out, unit), text)
