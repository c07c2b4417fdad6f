"""The units of a study, their files, and how they are split between shards.

A study is a list of units, each written as its own JSON file under ``OUT/units/``:

- one **search unit** per cell (``search/METHOD/cNN.json``): the genotype text, the
  search seconds, the method and the seed;
- ``R`` **training units** per cell (``train/METHOD/cNN-tMM.json``): the training seed,
  the test error, the parameters and the seconds.

A unit is done iff its file exists and holds a valid record (:func:`check_record`); files are written
atomically (:func:`xnas.nas.checkpoint.write_text_atomic`), so a killed unit leaves
nothing marked done. A training unit depends on its cell's search unit; a cell's
search and trainings form a *group*, and shards take whole groups, so a shard never
waits on another.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import Any, Iterable, Optional

from xnas.untrusted import InputError, json_loads_limited, parse_int
from xnas.nas.study.config import MAX_UNITS, StudyConfig, StudyError
from xnas.nas.study.methods import get_method

__all__ = ["Unit", "UnitCheck", "plan_units", "shard_units", "parse_shard", "read_unit", "write_unit", "unit_path",
           "unit_problem", "check_record", "config_digest", "unit_stamp", "unit_check", "MAX_UNIT_BYTES"]

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
MAX_SHARDS = MAX_UNITS
"""More shards than units would leave some empty; the bound also keeps the text short."""


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)`` with ``0 <= I < N``; raises :class:`StudyError` (one line)."""
    m = _SHARD.match(text or "")
    if not m:
        raise StudyError(f"--shard must look like I/N (e.g. 0/4), got {text!r}")
    try:
        count = parse_int(m.group(2), "--shard's N", 1, MAX_SHARDS)
        index = parse_int(m.group(1), "--shard's I", 0, MAX_SHARDS)
    except InputError as exc:
        raise StudyError(str(exc)) from None
    if count < 1 or index >= count:
        raise StudyError(f"--shard {text}: need N >= 1 and 0 <= I < N (shards are numbered from 0)")
    return index, count


def unit_path(out: str, unit: Unit) -> str:
    """Where ``unit``'s file lives."""
    return os.path.join(out, UNITS_DIR, unit.id + ".json")


MAX_UNIT_BYTES = 1 << 20
"""A unit file is a few hundred bytes; a larger one is not ours (and is never parsed)."""


def _number(record: dict, key: str, low: float, high: float) -> Optional[str]:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high:
        return f"{key} must be a finite number in [{low:g}, {high:g}], got {value!r}"
    return None


def config_digest(cfg: StudyConfig) -> str:
    """A short digest of the settings that make a unit: the study's identity (:meth:`StudyConfig.identity`).

    Fields at their dataclass default are left out, so a field added later (with the
    default that old studies effectively had) keeps old digests valid; any change of
    a setting a unit was made under changes the digest.
    """
    defaults = {f.name: f.default for f in dataclass_fields(StudyConfig)}
    ident = {k: v for k, v in cfg.identity().items()
             if not (k in defaults and defaults[k] == (tuple(v) if isinstance(v, list) else v))}
    text = json.dumps(ident, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def unit_stamp(cfg: StudyConfig) -> dict[str, Any]:
    """What every unit file records besides its result: the config digest and the code version."""
    from xnas.provenance import code_version

    return {"config_digest": config_digest(cfg), "code": code_version()}


@dataclass(frozen=True)
class UnitCheck:
    """What a unit file must agree with to count: the study's space and config digest.

    ``legacy`` lets units without a digest count: a study folder written before units
    carried one (``study.json`` format 1), whose ``study.json`` vouches for them.
    """

    space: Any = None
    digest: Optional[str] = None
    legacy: bool = False


def unit_check(cfg: StudyConfig, out: str) -> UnitCheck:
    """The :class:`UnitCheck` of the study ``cfg`` in folder ``out`` (legacy iff its ``study.json`` is an old format)."""
    from xnas.nas.study.backend import get_space
    from xnas.nas.study.config import LEGACY_FORMATS, STUDY_FILE, study_format

    legacy = os.path.lexists(os.path.join(out, STUDY_FILE)) and study_format(out) in LEGACY_FORMATS
    return UnitCheck(get_space(cfg.space), config_digest(cfg), legacy)


def _stamp_problem(record: dict, check: UnitCheck) -> Optional[str]:
    if check.digest is None:
        return None
    digest = record.get("config_digest")
    if digest is None:
        return None if check.legacy else "carries no config digest (written by an older version); it is redone"
    if digest != check.digest:
        return (f"was made under config {str(digest)[:20]!r}, not this study's {check.digest!r} "
                "(settings changed since); it is redone")
    return None


def check_record(unit: Unit, record: Any, space: Any = None) -> Optional[str]:
    """Why ``record`` is not a valid file of ``unit`` (one line), or ``None`` if it is.

    ``space`` (a :class:`~xnas.nas.spaces.registry.SearchSpace`, or a :class:`UnitCheck`
    holding it) also checks that a search unit's genotype is the space's own
    canonical text (never a file name); a :class:`UnitCheck` with a digest also
    refuses units made under another config.
    """
    check = space if isinstance(space, UnitCheck) else UnitCheck(space)
    space = check.space
    if not isinstance(record, dict):
        return f"holds a JSON {type(record).__name__}, not an object"
    if record.get("unit") != unit.id:
        return f"names unit {record.get('unit')!r}, not {unit.id!r}"
    if record.get("method") != unit.method:
        return f"names method {str(record.get('method'))[:40]!r}, not its folder's {unit.method!r}"
    stamp = _stamp_problem(record, check)
    if stamp:
        return stamp
    if unit.kind == "search":
        text = record.get("genotype")
        if not isinstance(text, str) or not text or len(text) > 4096:
            return "genotype must be a non-empty text of at most 4096 characters"
        if space is not None:
            if os.path.exists(text):
                return "genotype names a file, not a cell"
            try:
                if space.format_genotype(space.parse_genotype(text)) != text:
                    raise ValueError("not in the canonical form")
            except (ValueError, TypeError, KeyError, IndexError, RecursionError) as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:120]
                return f"genotype is not a {space.name} cell ({first})"
        return _number(record, "seconds", 0.0, 1e12)
    seed = record.get("seed")
    if isinstance(seed, bool) or seed != unit.train_seed:
        return f"seed must be {unit.train_seed}, got {seed!r}"
    for key, high in (("test_err", 100.0), ("params_M", 1e9), ("seconds", 1e12)):
        problem = _number(record, key, 0.0, high)
        if problem:
            return problem
    return None


def unit_problem(out: str, unit: Unit, space: Any = None) -> tuple[Optional[dict[str, Any]], Optional[str]]:
    """``(record, None)`` if the unit is done and its file is valid, else ``(None, why)``.

    ``space`` is a space or a :class:`UnitCheck` (:func:`unit_check`), as for :func:`check_record`.
    ``why`` is ``None`` when the file does not exist (the unit is simply not done).
    Only regular files of at most :data:`MAX_UNIT_BYTES` are read (never a FIFO or a
    device), and nesting too deep for Python's decoder is refused.
    """
    path = unit_path(out, unit)
    try:
        st = os.stat(path)
    except OSError:
        return None, None
    if not stat.S_ISREG(st.st_mode):
        return None, "is not a regular file"
    if st.st_size > MAX_UNIT_BYTES:
        return None, f"is {st.st_size} bytes, over the {MAX_UNIT_BYTES} a unit file may have"
    try:
        with open(path, encoding="utf-8") as fh:
            data = json_loads_limited(fh.read(), what="unit file")
    except (OSError, ValueError, RecursionError) as exc:
        return None, f"is not readable JSON ({(str(exc).splitlines() or [type(exc).__name__])[0][:120]})"
    problem = check_record(unit, data, space)
    return (None, problem) if problem else (data, None)


def read_unit(out: str, unit: Unit, space: Any = None) -> Optional[dict[str, Any]]:
    """The unit's record if it is done (its file exists and is valid, :func:`unit_problem`), else ``None``."""
    return unit_problem(out, unit, space)[0]


def write_unit(out: str, unit: Unit, record: dict[str, Any], cfg: StudyConfig) -> None:
    """Write the unit's record, stamped with ``cfg``'s digest and the code version, atomically (the unit is then done)."""
    from xnas.nas.study.backend import write_text_atomic

    text = json.dumps({"unit": unit.id, **record, **unit_stamp(cfg)}, indent=2, sort_keys=True, allow_nan=False) + "\n"
    write_text_atomic(unit_path(out, unit), text)
