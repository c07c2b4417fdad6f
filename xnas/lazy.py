"""Public names of a package, imported from its modules on first use (PEP 562).

A package's ``__init__`` that imported its modules eagerly would load torch for any
caller that only wants one light module of it (the CLI's ``--help``), and would tie
the package to its modules in an import cycle. ``lazy_exports`` keeps the short public
paths the docs show (``xnas.nas.search.run_search``) without either.
"""

from __future__ import annotations

import importlib
from typing import Callable

__all__ = ["lazy_exports"]


def lazy_exports(package: str, where: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: name -> the module (relative to it) that defines it."""

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{module}"), name)

    def __dir__() -> list[str]:
        return sorted(where)

    return __getattr__, __dir__
