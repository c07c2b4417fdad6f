"""Discrete cell architectures (genotypes): the registry, validation, and I/O.

A genotype lists, for the normal and the reduction cell, two ``(operation,
input)`` pairs per intermediate node: pair ``2k`` and ``2k + 1`` feed node
``k + 2``; inputs 0 and 1 are the cell's two inputs, ``2..`` the earlier
intermediate nodes, so node ``k + 2`` may read inputs ``0 .. k + 1``. The cell
output concatenates the nodes listed in ``*_concat``.

Three text forms are read and written:

- the dict / JSON form (what a search writes to ``genotype.json``)::

    {"normal": [["sep_conv_3x3", 1], ...], "normal_concat": [2, 3, 4, 5],
     "reduce": [...], "reduce_concat": [2, 3, 4, 5]}

- the DARTS form, pasted between projects::

    Genotype(normal=[('sep_conv_3x3', 1), ...], normal_concat=[2, 3, 4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])

  It is read by a small tokenizer and recursive-descent parser (never ``eval``):
  only string and integer literals, lists/tuples of them, and ``range(a, b)``
  for the concat fields are accepted;

- a registry name (``XNAS``, ``DARTS_V1``, ``DARTS_V2``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Iterable

from xnas.nas.spaces.genotype_text import (
    GenotypeError,
    _as_int,
    json_loads_limited,
    parse_darts_fields,
    parse_ops,
)
from xnas.nas.spaces.ops import PRIMITIVES

__all__ = [
    "Genotype",
    "GenotypeError",
    "GENOTYPES",
    "get_genotype",
    "json_loads_limited",
    "parse_darts",
    "parse_ops",
    "resolve_genotype",
]

Edge = tuple[str, int]


@dataclass(frozen=True)
class Genotype:
    """A discrete normal and reduction cell.

    Attributes
    ----------
    normal, reduce : tuple of (str, int)
        Two ``(operation, input index)`` pairs per intermediate node.
    normal_concat, reduce_concat : tuple of int
        The states concatenated into the cell output.
    """

    normal: tuple[Edge, ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[Edge, ...]
    reduce_concat: tuple[int, ...]

    def __post_init__(self) -> None:
        # Normalise lists (e.g. from JSON) into hashable tuples.
        for field in ("normal", "reduce"):
            value = getattr(self, field)
            try:
                edges = tuple((str(op), int(idx)) for op, idx in value)
            except (TypeError, ValueError):
                raise GenotypeError(
                    f"genotype field {field!r} must be a list of (operation, input) pairs"
                ) from None
            object.__setattr__(self, field, edges)
        for field in ("normal_concat", "reduce_concat"):
            value = getattr(self, field)
            try:
                nodes = tuple(_as_int(v) for v in value)
            except (TypeError, ValueError):
                raise GenotypeError(f"genotype field {field!r} must be a list of integers") from None
            object.__setattr__(self, field, nodes)

    @property
    def steps(self) -> int:
        """Number of intermediate nodes of the normal cell (two edges each)."""
        return len(self.normal) // 2

    def validate(self, steps: int | None = 4, primitives: Iterable[str] = PRIMITIVES) -> "Genotype":
        """Check edge counts, input indices, operation names and concat lists.

        Parameters
        ----------
        steps : int or None
            Intermediate nodes per cell (4 in DARTS); ``None`` infers it from
            the number of edges (which must then be even and equal in both cells).
        primitives : iterable of str
            The allowed operation names.

        Returns
        -------
        Genotype
            ``self``, so that calls can be chained.

        Raises
        ------
        GenotypeError
            With one line naming the first problem found.
        """
        allowed = tuple(primitives)
        if steps is None:
            if len(self.normal) % 2 or len(self.normal) == 0:
                raise GenotypeError(
                    f"normal cell has {len(self.normal)} edges; expected two per intermediate node"
                )
            steps = len(self.normal) // 2
        for cell in ("normal", "reduce"):
            edges = getattr(self, cell)
            if len(edges) != 2 * steps:
                raise GenotypeError(
                    f"{cell} cell has {len(edges)} edges; expected {2 * steps} (two for each of {steps} nodes)"
                )
            for position, (op, index) in enumerate(edges):
                node = position // 2
                if op not in allowed:
                    raise GenotypeError(
                        f"{cell} edge {position}: unknown operation {op!r}; choose from {', '.join(allowed)}"
                    )
                if not 0 <= index <= node + 1:
                    raise GenotypeError(
                        f"{cell} edge {position}: input {index} out of range for node {node + 2} "
                        f"(allowed 0..{node + 1})"
                    )
            concat = getattr(self, f"{cell}_concat")
            if not concat:
                raise GenotypeError(f"{cell}_concat is empty")
            if len(set(concat)) != len(concat):
                raise GenotypeError(f"{cell}_concat {list(concat)} repeats a node")
            for node in concat:
                if not 0 <= node <= steps + 1:
                    raise GenotypeError(
                        f"{cell}_concat node {node} out of range (allowed 0..{steps + 1})"
                    )
        return self

    # -- dict / JSON -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict form (lists of ``[op, input]`` pairs)."""
        return {
            "normal": [[op, idx] for op, idx in self.normal],
            "normal_concat": list(self.normal_concat),
            "reduce": [[op, idx] for op, idx in self.reduce],
            "reduce_concat": list(self.reduce_concat),
        }

    @classmethod
    def from_dict(cls, data: Any) -> "Genotype":
        """Build from :meth:`to_dict` output (also accepts ``{"genotype": {...}}``)."""
        if isinstance(data, dict) and "genotype" in data and "normal" not in data:
            inner = data["genotype"]
            return parse_darts(inner) if isinstance(inner, str) else cls.from_dict(inner)
        if not isinstance(data, dict):
            raise GenotypeError("genotype JSON must be an object with normal/reduce fields")
        keys = ("normal", "normal_concat", "reduce", "reduce_concat")
        missing = [k for k in keys if k not in data]
        if missing:
            raise GenotypeError(f"genotype JSON lacks {', '.join(missing)}")
        for cell in ("normal", "reduce"):
            if not isinstance(data[cell], (list, tuple)):
                raise GenotypeError(f"genotype JSON field {cell!r} must be a list of [operation, input] pairs")
            for pair in data[cell]:
                if (
                    not isinstance(pair, (list, tuple))
                    or len(pair) != 2
                    or not isinstance(pair[0], str)
                    or isinstance(pair[1], bool)
                    or not isinstance(pair[1], int)
                ):
                    raise GenotypeError(f"genotype JSON field {cell!r}: bad pair {pair!r}")
        for k in ("normal_concat", "reduce_concat"):
            if not isinstance(data[k], (list, tuple)):
                raise GenotypeError(f"genotype JSON field {k!r} must be a list of integers")
        return cls(*(data[k] for k in keys))

    def to_json(self, indent: int | None = None) -> str:
        """The dict form as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> "Genotype":
        """Parse :meth:`to_json` output."""
        return cls.from_dict(json_loads_limited(text, what="genotype JSON"))

    # -- DARTS form ------------------------------------------------------------------
    def to_darts(self) -> str:
        """The DARTS ``Genotype(normal=[('op', i), ...], normal_concat=[...], ...)`` text."""

        def edges(es: tuple[Edge, ...]) -> str:
            return "[" + ", ".join(f"('{op}', {idx})" for op, idx in es) + "]"

        def nodes(ns: tuple[int, ...]) -> str:
            return "[" + ", ".join(str(n) for n in ns) + "]"

        return (
            f"Genotype(normal={edges(self.normal)}, normal_concat={nodes(self.normal_concat)}, "
            f"reduce={edges(self.reduce)}, reduce_concat={nodes(self.reduce_concat)})"
        )


def parse_darts(text: str) -> Genotype:
    """Parse the DARTS ``Genotype(...)`` form without evaluating it.

    Raises
    ------
    GenotypeError
        If the text is anything but that form with literal values.
    """
    fields = parse_darts_fields(text)
    missing = [k for k in ("normal", "normal_concat", "reduce", "reduce_concat") if k not in fields]
    if missing:
        raise GenotypeError(f"genotype text lacks {', '.join(missing)}")
    return Genotype(fields["normal"], fields["normal_concat"], fields["reduce"], fields["reduce_concat"])


# ---------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------
_CONCAT = (2, 3, 4, 5)

GENOTYPES: dict[str, Genotype] = {
    # The cell found by the XNAS search, as published with its evaluation code.
    "XNAS": Genotype(
        normal=(
            ("sep_conv_3x3", 1), ("skip_connect", 0),
            ("sep_conv_3x3", 0), ("sep_conv_3x3", 2),
            ("sep_conv_3x3", 3), ("sep_conv_3x3", 1),
            ("dil_conv_5x5", 4), ("sep_conv_3x3", 0),
        ),
        normal_concat=_CONCAT,
        reduce=(
            ("max_pool_3x3", 0), ("avg_pool_3x3", 1),
            ("avg_pool_3x3", 0), ("skip_connect", 2),
            ("dil_conv_3x3", 3), ("max_pool_3x3", 0),
            ("dil_conv_5x5", 4), ("avg_pool_3x3", 0),
        ),
        reduce_concat=_CONCAT,
    ),
    # First-order DARTS.
    "DARTS_V1": Genotype(
        normal=(
            ("sep_conv_3x3", 1), ("sep_conv_3x3", 0),
            ("skip_connect", 0), ("sep_conv_3x3", 1),
            ("skip_connect", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0), ("skip_connect", 2),
        ),
        normal_concat=_CONCAT,
        reduce=(
            ("max_pool_3x3", 0), ("max_pool_3x3", 1),
            ("skip_connect", 2), ("max_pool_3x3", 0),
            ("max_pool_3x3", 0), ("skip_connect", 2),
            ("skip_connect", 2), ("avg_pool_3x3", 0),
        ),
        reduce_concat=_CONCAT,
    ),
    # Second-order DARTS.
    "DARTS_V2": Genotype(
        normal=(
            ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1), ("skip_connect", 0),
            ("skip_connect", 0), ("dil_conv_3x3", 2),
        ),
        normal_concat=_CONCAT,
        reduce=(
            ("max_pool_3x3", 0), ("max_pool_3x3", 1),
            ("skip_connect", 2), ("max_pool_3x3", 1),
            ("max_pool_3x3", 0), ("skip_connect", 2),
            ("skip_connect", 2), ("max_pool_3x3", 1),
        ),
        reduce_concat=_CONCAT,
    ),
}
"""Published genotypes by name (``reference.md``)."""


def get_genotype(name: str) -> Genotype:
    """Look a registered genotype up by name (case-insensitive)."""
    for key, value in GENOTYPES.items():
        if key.lower() == name.lower():
            return value
    raise GenotypeError(f"unknown genotype {name!r}; choose from {', '.join(GENOTYPES)}, "
                        "a genotype.json path, or a Genotype(...) string")


def resolve_genotype(spec: str, steps: int | None = None) -> Genotype:
    """Turn a user's ``--genotype`` value into a validated genotype.

    Parameters
    ----------
    spec : str
        A registry name, a path to a genotype JSON file (dict form, as a search
        writes ``genotype.json``; a file holding the DARTS text also works), or
        a DARTS ``Genotype(...)`` string.
    steps : int or None
        Intermediate nodes expected per cell; ``None`` (the default) accepts
        cells of any size (a search may use fewer or more than 4 nodes), as long
        as both cells have two edges per node and the same number of nodes.

    Raises
    ------
    GenotypeError
        One line: unknown name, unreadable file, or malformed genotype.
    """
    spec = spec.strip()
    if spec.startswith("Genotype"):
        genotype = parse_darts(spec)
    elif spec.endswith(".json") or os.path.sep in spec or os.path.isfile(spec):
        if not os.path.isfile(spec):
            raise GenotypeError(f"genotype file {spec!r} does not exist")
        try:
            with open(spec, encoding="utf-8") as fh:
                text = fh.read(1_000_001)
        except (OSError, UnicodeDecodeError) as exc:
            raise GenotypeError(f"cannot read genotype file {spec!r}: {exc}") from None
        head = text.lstrip()
        if not head.startswith(("Genotype", "{", "[")):
            raise GenotypeError(f"genotype file {spec!r} holds neither genotype JSON (a search's genotype.json) "
                                "nor a Genotype(...) string")
        genotype = parse_darts(text) if head.startswith("Genotype") else Genotype.from_json(text)
    else:
        genotype = get_genotype(spec)
    if steps is None:
        if len(genotype.normal) != len(genotype.reduce):
            raise GenotypeError("normal and reduce cells have different numbers of edges")
        return genotype.validate(steps=None)
    return genotype.validate(steps=steps)
