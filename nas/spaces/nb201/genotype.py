"""NAS-Bench-201 genotypes: six ``(operation, input)`` edges and the benchmark's string form.

The cell has 4 nodes; node ``j`` (1..3) sums one operation on every earlier node,
so its edges read nodes ``0 .. j - 1``. The edges are kept in the benchmark's
order ``1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2`` and written as the benchmark's
architecture string::

    |nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|

which is what the benchmark's own API (``nas_201_api`` / ``nats_bench``) is
queried with. The parser is strict (canonical order, known operations, nothing
else) and never evaluates text; errors are one-line :class:`GenotypeError`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from xnas.nas.spaces.genotype_text import GenotypeError, json_loads_limited
from xnas.untrusted import InputError, parse_int

__all__ = [
    "NB201_PRIMITIVES",
    "NODES",
    "EDGES",
    "NB201Genotype",
    "parse_arch_str",
    "parse_nb201_genotype",
    "sample_nb201_genotype",
    "all_nb201_genotypes",
]

NB201_PRIMITIVES: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""The benchmark's five operations, in its own order (the columns of the architecture weights)."""

NODES = 3
"""Nodes after the cell's input node 0; node 3 is the output."""

EDGES: tuple[tuple[int, int], ...] = tuple((i, j) for j in range(1, NODES + 1) for i in range(j))
"""``(input node, node)`` of every edge, in the benchmark's order (the rows of the architecture weights)."""

_MAX_TEXT = 10_000
_TOKEN = re.compile(r"([A-Za-z0-9_]+)~([0-9]+)")


@dataclass(frozen=True)
class NB201Genotype:
    """A NAS-Bench-201 cell.

    Attributes
    ----------
    edges : tuple of (str, int)
        One ``(operation, input node)`` pair per edge, in the order of :data:`EDGES`;
        the input of edge ``e`` is always ``EDGES[e][0]``.
    """

    edges: tuple[tuple[str, int], ...]

    def __post_init__(self) -> None:
        try:
            edges = tuple((op, idx) for op, idx in self.edges)
        except (TypeError, ValueError):
            raise GenotypeError("a NAS-Bench-201 genotype is a list of 6 (operation, input) pairs") from None
        if len(edges) != len(EDGES):
            raise GenotypeError(f"a NAS-Bench-201 cell has {len(EDGES)} edges, got {len(edges)}")
        for e, ((op, idx), (src, dst)) in enumerate(zip(edges, EDGES)):
            if not isinstance(op, str) or op not in NB201_PRIMITIVES:
                raise GenotypeError(f"edge {e}: unknown operation {op!r}; choose from {', '.join(NB201_PRIMITIVES)}")
            if isinstance(idx, bool) or not isinstance(idx, (int, np.integer)) or int(idx) != src:
                raise GenotypeError(f"edge {e} (node {dst}): input must be {src}, got {idx!r}")
        object.__setattr__(self, "edges", tuple((op, int(idx)) for op, idx in edges))

    @classmethod
    def from_ops(cls, ops) -> "NB201Genotype":
        """The cell with operation ``ops[e]`` on edge ``e`` (inputs follow from the order)."""
        ops = tuple(ops)
        if len(ops) != len(EDGES):
            raise GenotypeError(f"a NAS-Bench-201 cell has {len(EDGES)} edges, got {len(ops)}")
        return cls(tuple((op, src) for op, (src, _) in zip(ops, EDGES)))

    @property
    def ops(self) -> tuple[str, ...]:
        """The operation of each edge, in edge order."""
        return tuple(op for op, _ in self.edges)

    # -- the benchmark's string ------------------------------------------------------
    def to_str(self) -> str:
        """The benchmark's architecture string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
        nodes, e = [], 0
        for j in range(1, NODES + 1):
            nodes.append("|" + "|".join(f"{op}~{idx}" for op, idx in self.edges[e : e + j]) + "|")
            e += j
        return "+".join(nodes)

    def __str__(self) -> str:
        return self.to_str()

    @classmethod
    def from_str(cls, text: str) -> "NB201Genotype":
        """Parse the benchmark's string (see :func:`parse_arch_str`)."""
        return parse_arch_str(text)

    # -- dict / JSON (genotype.json) -------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """``{"space": "nb201", "arch_str": ..., "edges": [[op, input], ...]}``."""
        return {"space": "nb201", "arch_str": self.to_str(), "edges": [[op, idx] for op, idx in self.edges]}

    @classmethod
    def from_dict(cls, data: Any) -> "NB201Genotype":
        """Inverse of :meth:`to_dict`; also accepts ``{"genotype": <string or dict>}`` (a run's config)."""
        if isinstance(data, dict) and "genotype" in data and "arch_str" not in data:
            inner = data["genotype"]
            return parse_arch_str(inner) if isinstance(inner, str) else cls.from_dict(inner)
        if isinstance(data, dict) and "arch_str" not in data and ("normal" in data or data.get("space") == "darts"):
            raise GenotypeError("genotype JSON is a darts-space cell (normal and reduction cells), not a NAS-Bench-201 cell")
        if not isinstance(data, dict) or not isinstance(data.get("arch_str"), str):
            raise GenotypeError("NAS-Bench-201 genotype JSON must be an object with an 'arch_str' string")
        if data.get("space", "nb201") != "nb201":
            raise GenotypeError(f"genotype JSON is for the {data.get('space')!r} space, not nb201")
        genotype = parse_arch_str(data["arch_str"])
        if "edges" in data:
            edges = data["edges"]
            ok = isinstance(edges, list) and all(isinstance(p, list) and len(p) == 2 for p in edges)
            if not ok or [tuple(p) for p in edges] != [tuple(p) for p in genotype.edges]:
                raise GenotypeError("genotype JSON: 'edges' disagree with 'arch_str'")
        return genotype

    def to_json(self, indent: int | None = None) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> "NB201Genotype":
        """Parse :meth:`to_json` output."""
        return cls.from_dict(json_loads_limited(text, what="genotype JSON"))


def parse_arch_str(text: str) -> NB201Genotype:
    """Parse the benchmark's architecture string, strictly and without evaluating it.

    Surrounding whitespace is ignored; otherwise the text must be exactly three
    ``|``-delimited node groups joined by ``+``, node ``j`` holding ``j`` tokens
    ``op~i`` with ``i = 0 .. j - 1`` in order.

    Raises
    ------
    GenotypeError
        One line naming the first problem (node count, edge count, input index,
        unknown operation, stray characters).
    """
    if not isinstance(text, str):
        raise GenotypeError("a NAS-Bench-201 architecture string must be text")
    if len(text) > _MAX_TEXT:
        raise GenotypeError("NAS-Bench-201 architecture string is too long")
    text = text.strip()
    groups = text.split("+")
    if len(groups) != NODES:
        raise GenotypeError(
            f"NAS-Bench-201 string needs {NODES} nodes joined by '+', got {len(groups)}: {text[:60]!r}"
        )
    ops: list[str] = []
    for j, group in enumerate(groups, start=1):
        if len(group) < 2 or not group.startswith("|") or not group.endswith("|"):
            raise GenotypeError(f"node {j}: expected '|op~i|...|', got {group[:40]!r}")
        tokens = group[1:-1].split("|")
        if len(tokens) != j:
            raise GenotypeError(f"node {j} needs {j} edges (inputs 0..{j - 1}), got {len(tokens)}: {group[:40]!r}")
        for i, token in enumerate(tokens):
            m = _TOKEN.fullmatch(token)
            if m is None:
                raise GenotypeError(f"node {j}: malformed edge {token[:40]!r}; expected 'operation~input'")
            op, idx = m.group(1), _edge_input(m.group(2), j)
            if idx != i:
                raise GenotypeError(f"node {j}: edge {i} must read input {i}, got ~{m.group(2)}")
            if op not in NB201_PRIMITIVES:
                raise GenotypeError(f"node {j}: unknown operation {op!r}; choose from {', '.join(NB201_PRIMITIVES)}")
            ops.append(op)
    return NB201Genotype.from_ops(ops)


def _edge_input(digits: str, node: int) -> int:
    try:
        return parse_int(digits, f"node {node}: an edge's input", 0, NODES)
    except InputError as exc:
        raise GenotypeError(str(exc)) from None


def parse_nb201_genotype(spec: str) -> NB201Genotype:
    """Turn a user's ``--genotype`` value into a NAS-Bench-201 genotype.

    Parameters
    ----------
    spec : str
        The benchmark's string, a ``genotype.json`` path (:meth:`NB201Genotype.to_dict`
        form, or a run's ``config.json`` with a ``genotype`` entry), or a text
        file holding the string.

    Raises
    ------
    GenotypeError
        One line: unreadable file or malformed genotype.
    """
    if not isinstance(spec, str):
        raise GenotypeError("genotype must be text")
    stripped = spec.strip()
    if stripped.startswith("|"):
        return parse_arch_str(stripped)
    if not os.path.isfile(stripped):
        if stripped.endswith((".json", ".txt")) or os.path.sep in stripped:
            raise GenotypeError(f"genotype file {stripped!r} does not exist")
        raise GenotypeError(
            f"not a NAS-Bench-201 genotype: {stripped[:60]!r}; give the benchmark's string "
            "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|, a genotype.json or a text file holding the string"
        )
    try:
        with open(stripped, encoding="utf-8") as fh:
            text = fh.read(1_000_001)
    except (OSError, UnicodeDecodeError) as exc:
        raise GenotypeError(f"cannot read genotype file {stripped!r}: {exc}") from None
    if text.lstrip().startswith("{"):
        return NB201Genotype.from_json(text)
    return parse_arch_str(text)


def sample_nb201_genotype(rng: np.random.Generator) -> NB201Genotype:
    """A cell drawn uniformly from all ``5 ** 6 = 15,625``: each edge draws its operation uniformly."""
    picks = rng.integers(len(NB201_PRIMITIVES), size=len(EDGES))
    return NB201Genotype.from_ops(NB201_PRIMITIVES[int(k)] for k in picks)


def all_nb201_genotypes():
    """Every cell of the space, in lexicographic order of the operation indices (15,625 of them)."""
    import itertools

    for ops in itertools.product(NB201_PRIMITIVES, repeat=len(EDGES)):
        yield NB201Genotype.from_ops(ops)
