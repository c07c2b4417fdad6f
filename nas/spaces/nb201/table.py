"""NAS-Bench-201's own results: the 200-epoch accuracies of all 15,625 cells (torch-free).

The table ships with the package (``data/nb201_200ep.csv.gz``; see ``data/README.md``
for its columns, provenance and licence: the benchmark's data is MIT, copyright
Xuanyi Dong). One row per cell in the benchmark's index order, with the valid and
test accuracy (%) on CIFAR-10, CIFAR-100 and ImageNet16-120 at epoch 200, seed means.
A search in the space is scored as the benchmark's papers score one: by looking up
the cell it returns.

The file is read lazily, once, after its sha256 is checked; it is plain CSV (never
unpickled). Cells are looked up through the project's parser
(:func:`~xnas.nas.spaces.nb201.genotype.parse_nb201_genotype`), so every spelling the parser
accepts finds the same row.
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import io
import os
from dataclasses import dataclass, field
from typing import Any, ClassVar, Union

import numpy as np

from xnas.nas.spaces.nb201.genotype import NB201Genotype, parse_nb201_genotype

__all__ = ["COLUMNS", "TableError", "NB201Table", "TABLE_PATH", "TABLE_SHA256", "PUBLISHED", "load_table"]

TABLE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "nb201_200ep.csv.gz")
"""Where the packaged table lives."""

TABLE_SHA256 = "4fefb9ca646788d28724c80d713008bf8465df83cc995ccd81370b97b665f6f8"
"""sha256 of the compressed file, checked on every load."""

COLUMNS: tuple[str, ...] = (
    "cifar10_valid", "cifar10_test", "cifar100_valid", "cifar100_test", "imagenet16_valid", "imagenet16_test",
)
"""The six accuracy columns (%), in the file's order."""

CELLS = 5 ** 6
RANK_COLUMN = "cifar10_test"
"""Rank and percentile are by this column, as the benchmark's papers report a CIFAR-10 search."""

PUBLISHED: tuple[dict[str, Any], ...] = (
    # Searches on CIFAR-10 in this space by their authors, as the benchmark's papers and
    # later work quote them (mean and std over their runs; valid and test accuracy, %).
    {"method": "DARTS-V1, DARTS-V2", "cifar10_valid": [39.77, 0.00], "cifar10_test": [54.30, 0.00]},
    {"method": "ENAS", "cifar10_valid": [37.51, 3.19], "cifar10_test": [53.89, 0.58]},
    {"method": "RSPS", "cifar10_valid": [80.42, 3.58], "cifar10_test": [84.07, 3.61]},
    {"method": "SETN", "cifar10_valid": [84.04, 0.28], "cifar10_test": [87.64, 0.00]},
    {"method": "GDAS", "cifar10_valid": [89.89, 0.08], "cifar10_test": [93.61, 0.09]},
    {"method": "DrNAS", "cifar10_valid": [91.55, 0.00], "cifar10_test": [94.36, 0.00]},
)
"""Published rows: ``{"method", "cifar10_valid": [mean, std], "cifar10_test": [mean, std]}`` (the optimum,
91.61 / 94.37, is the table's own maximum: :meth:`NB201Table.all_cells`)."""

PUBLISHED_LABEL = "searched on CIFAR-10 by their authors"


class TableError(ValueError):
    """The table is missing or corrupt, or a cell cannot be looked up (one line)."""


@dataclass(frozen=True)
class NB201Table:
    """The loaded table.

    Attributes
    ----------
    acc : numpy.ndarray
        ``(15625, 6)`` float64 accuracies (%), row = the benchmark's index, columns :data:`COLUMNS`.
    arch : tuple of str
        The benchmark's string of each row (the parser's canonical form).
    columns, published, published_label
        :data:`COLUMNS`, :data:`PUBLISHED` and :data:`PUBLISHED_LABEL`, on the table itself so that
        code which only holds a space's table (the study's summary) needs no import of this module.
    """

    columns: ClassVar[tuple[str, ...]] = COLUMNS
    published: ClassVar[tuple[dict[str, Any], ...]] = PUBLISHED
    published_label: ClassVar[str] = PUBLISHED_LABEL
    acc: np.ndarray = field(repr=False)
    arch: tuple[str, ...] = field(repr=False)
    _row: dict = field(repr=False)
    _sorted: np.ndarray = field(repr=False)  # the rank column, ascending

    def index(self, cell: Union[str, NB201Genotype]) -> int:
        """The benchmark's index of ``cell`` (a genotype, or any text the parser accepts)."""
        genotype = cell if isinstance(cell, NB201Genotype) else parse_nb201_genotype(cell)
        try:
            return self._row[genotype.to_str()]
        except KeyError:  # every cell of the space is in the checked table; never reached
            raise TableError(f"cell {genotype.to_str()} is not in the NAS-Bench-201 table") from None

    def scores(self, cell: Union[str, NB201Genotype]) -> dict[str, float]:
        """The six accuracies of ``cell``: ``{column: %}``."""
        row = self.acc[self.index(cell)]
        return {c: float(v) for c, v in zip(COLUMNS, row)}

    def rank(self, index: int) -> int:
        """1 + the number of cells with a higher CIFAR-10 test accuracy (ties share a rank)."""
        a = self.acc[index, COLUMNS.index(RANK_COLUMN)]
        return int(CELLS - np.searchsorted(self._sorted, a, side="right")) + 1

    def percentile(self, index: int) -> float:
        """Percentile rank by CIFAR-10 test accuracy: % of cells below, ties counted half (100: the best)."""
        a = self.acc[index, COLUMNS.index(RANK_COLUMN)]
        below = np.searchsorted(self._sorted, a, side="left")
        at_most = np.searchsorted(self._sorted, a, side="right")
        return float(100.0 * (below + at_most) / (2.0 * CELLS))

    def lookup(self, cell: Union[str, NB201Genotype]) -> dict[str, Any]:
        """``index``, the six accuracies, ``rank`` and ``percentile`` of ``cell`` (``xnas-nas lookup --json``)."""
        i = self.index(cell)
        return {"index": i, **{c: float(v) for c, v in zip(COLUMNS, self.acc[i])},
                "rank": self.rank(i), "percentile": self.percentile(i)}

    def all_cells(self) -> dict[str, dict[str, float]]:
        """Exact statistics over all cells: ``{column: {mean, median, q90, max}}`` (a random cell's expectation)."""
        return {c: {"mean": float(col.mean()), "median": float(np.median(col)), "q90": float(np.quantile(col, 0.9)),
                    "max": float(col.max())}
                for c, col in zip(COLUMNS, self.acc.T)}


def load_table(path: str | None = None) -> NB201Table:
    """The packaged table (loaded once), or the one at ``path`` (tests).

    Raises
    ------
    TableError
        One line: the file is missing, fails its checksum, or is not the table.
    """
    return _load(TABLE_PATH if path is None else os.fspath(path))


@functools.lru_cache(maxsize=4)
def _load(path: str) -> NB201Table:
    try:
        with open(path, "rb") as fh:
            raw = fh.read(1 << 22)
    except OSError as exc:
        raise TableError(f"the NAS-Bench-201 table {path} cannot be read ({exc.strerror or exc}); "
                         "reinstall xnas") from None
    if hashlib.sha256(raw).hexdigest() != TABLE_SHA256:
        raise TableError(f"the NAS-Bench-201 table {path} fails its checksum (sha256 is not {TABLE_SHA256[:12]}...); "
                         "reinstall xnas")
    rows = list(csv.reader(io.StringIO(gzip.decompress(raw).decode("utf-8"))))
    if rows[0] != ["index", "arch", *COLUMNS] or len(rows) != CELLS + 1:
        raise TableError(f"the NAS-Bench-201 table {path} does not have the expected columns and rows")
    rows = rows[1:]
    if [int(r[0]) for r in rows] != list(range(CELLS)):
        raise TableError(f"the NAS-Bench-201 table {path} is not in the benchmark's index order")
    acc = np.array([r[2:] for r in rows], dtype=np.float64)
    acc.setflags(write=False)
    arch = tuple(r[1] for r in rows)
    rank_col = np.sort(acc[:, COLUMNS.index(RANK_COLUMN)])
    rank_col.setflags(write=False)
    return NB201Table(acc=acc, arch=arch, _row={a: i for i, a in enumerate(arch)}, _sorted=rank_col)
