"""Tables of trained cells by search space: the benchmark results a found cell is scored with (torch-free).

A registry by space name. NAS-Bench-201 trained every cell of its space
(:mod:`xnas.nas.spaces.nb201.table`); the DARTS space has no such table, so its cells are
scored only by training them. Search, the study and ``xnas-nas lookup`` reach the
tables through :func:`get_table` / :func:`table_scores` only, never by a space's name.
"""

from __future__ import annotations

import importlib
from typing import Any, Optional

__all__ = ["TABLES", "has_table", "get_table", "table_scores", "TableError"]

from xnas.nas.spaces.nb201.table import TableError

TABLES: dict[str, str] = {"nb201": "xnas.nas.spaces.nb201.table"}
"""Space name -> the module whose ``load_table()`` gives the space's table."""


def has_table(space: str) -> bool:
    """Whether the cells of ``space`` can be looked up."""
    return space in TABLES


def get_table(space: str) -> Any:
    """The loaded table of ``space``.

    Raises
    ------
    TableError
        One line: the space has no table, or its file is missing or corrupt.
    """
    if space not in TABLES:
        raise TableError(f"the {space} space has no table of trained cells (tables exist for: {', '.join(TABLES)})")
    return importlib.import_module(TABLES[space]).load_table()


def table_scores(space: str, genotype: Any) -> Optional[dict[str, float]]:
    """The table's accuracies of ``genotype`` in ``space`` (``{column: %}``), or ``None`` if the space has no table."""
    if space not in TABLES:
        return None
    return get_table(space).scores(genotype)
