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
import re
from dataclasses import dataclass
from typing import Any, Iterable

from xnas.nas.ops import OPERATIONS, PRIMITIVES

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


class GenotypeError(ValueError):
    """A malformed or unknown genotype; the message is one line for the user."""


MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects accepted in JSON we read (a genotype needs 3)."""


def parse_ops(text: str | None, option: str = "--ops") -> tuple[str, ...]:
    """Parse a comma-separated operation set; ``None`` gives the 8 DARTS operations.

    Every name must be a registered operation, given once; an empty name
    (``sep_conv_3x3,,skip_connect``) is an error, not silently dropped.

    Raises
    ------
    GenotypeError
        One line naming the bad entry.
    """
    if text is None:
        return PRIMITIVES
    names = [p.strip() for p in text.split(",")]
    if any(not n for n in names):
        raise GenotypeError(f"{option} has an empty operation name in {text!r}")
    unknown = [n for n in names if n not in OPERATIONS]
    if unknown:
        raise GenotypeError(f"{option}: unknown operation {unknown[0]!r}; choose from {', '.join(OPERATIONS)}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise GenotypeError(f"{option} names {repeated[0]!r} more than once")
    if len(names) < 2:
        raise GenotypeError(f"{option} needs at least 2 operations, got {len(names)}")
    return tuple(names)


def json_loads_limited(text: str, max_depth: int = MAX_JSON_DEPTH, what: str = "JSON") -> Any:
    """``json.loads`` that refuses nesting deeper than ``max_depth`` with a one-line ``ValueError``.

    Python's decoder recurses once per level, so a file of many thousand ``[``
    raises ``RecursionError``; the depth is measured first, outside strings.

    Raises
    ------
    GenotypeError
        (a ``ValueError``) for too deep nesting or malformed JSON, naming ``what``.
    """
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                raise GenotypeError(f"{what} is nested more than {max_depth} levels deep")
        elif ch in "]}":
            depth -= 1
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise GenotypeError(f"{what} is malformed: {exc.msg} at line {exc.lineno}") from None


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


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return int(value)


# ---------------------------------------------------------------------------------
# DARTS-form parser: tokenizer + recursive descent, no eval.
# ---------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>'[A-Za-z0-9_]*'|"[A-Za-z0-9_]*")
      | (?P<int>-?\d+)
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<punct>[()\[\],=])
    )""",
    re.VERBOSE,
)


def _tokenize(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            rest = text[pos:].lstrip()
            if not rest:
                break
            raise GenotypeError(f"genotype text: unexpected {rest[:20]!r}")
        pos = m.end()
        kind = m.lastgroup
        value: Any = m.group(kind)
        if kind == "str":
            value = value[1:-1]
        elif kind == "int":
            value = int(value)
        tokens.append((kind, value))
    return tokens


class _Parser:
    _CLOSE = {"(": ")", "[": "]"}

    def __init__(self, tokens: list[tuple[str, Any]]) -> None:
        self.tokens = tokens
        self.i = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, kind: str, value: Any = None) -> Any:
        tok = self.peek()
        if tok is None or tok[0] != kind or (value is not None and tok[1] != value):
            found = "end of text" if tok is None else repr(tok[1])
            want = repr(value) if value is not None else kind
            raise GenotypeError(f"genotype text: expected {want}, found {found}")
        self.i += 1
        return tok[1]

    def at(self, kind: str, value: Any = None) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == kind and (value is None or tok[1] == value)

    def genotype(self) -> dict[str, Any]:
        self.take("name", "Genotype")
        self.take("punct", "(")
        fields: dict[str, Any] = {}
        while not self.at("punct", ")"):
            key = self.take("name")
            if key not in ("normal", "normal_concat", "reduce", "reduce_concat"):
                raise GenotypeError(f"genotype text: unknown field {key!r}")
            if key in fields:
                raise GenotypeError(f"genotype text: field {key!r} given twice")
            self.take("punct", "=")
            fields[key] = self.nodes() if key.endswith("_concat") else self.edges()
            if not self.at("punct", ")"):
                self.take("punct", ",")
        self.take("punct", ")")
        if self.peek() is not None:
            raise GenotypeError(f"genotype text: unexpected {self.peek()[1]!r} after the closing ')'")
        return fields

    def _sequence(self, item) -> list[Any]:
        opener = self.peek()
        if opener is None or opener[0] != "punct" or opener[1] not in self._CLOSE:
            found = "end of text" if opener is None else repr(opener[1])
            raise GenotypeError(f"genotype text: expected a list, found {found}")
        self.i += 1
        close = self._CLOSE[opener[1]]
        items = []
        while not self.at("punct", close):
            items.append(item())
            if not self.at("punct", close):
                self.take("punct", ",")
        self.take("punct", close)
        return items

    def edge(self) -> tuple[str, int]:
        self.take("punct", "(")
        op = self.take("str")
        self.take("punct", ",")
        idx = self.take("int")
        if self.at("punct", ","):
            self.take("punct", ",")
        self.take("punct", ")")
        return (op, idx)

    def edges(self) -> list[tuple[str, int]]:
        return self._sequence(self.edge)

    def nodes(self) -> list[int]:
        if self.at("name", "range"):
            self.take("name", "range")
            self.take("punct", "(")
            start = self.take("int")
            self.take("punct", ",")
            stop = self.take("int")
            self.take("punct", ")")
            if stop - start > 64:
                raise GenotypeError("genotype text: concat range too long")
            return list(range(start, stop))
        return self._sequence(lambda: self.take("int"))


def parse_darts(text: str) -> Genotype:
    """Parse the DARTS ``Genotype(...)`` form without evaluating it.

    Raises
    ------
    GenotypeError
        If the text is anything but that form with literal values.
    """
    if not isinstance(text, str):
        raise GenotypeError("genotype text must be a string")
    if len(text) > 100_000:
        raise GenotypeError("genotype text is too long")
    fields = _Parser(_tokenize(text)).genotype()
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
        genotype = parse_darts(text) if text.lstrip().startswith("Genotype") else Genotype.from_json(text)
    else:
        genotype = get_genotype(spec)
    if steps is None:
        if len(genotype.normal) != len(genotype.reduce):
            raise GenotypeError("normal and reduce cells have different numbers of edges")
        return genotype.validate(steps=None)
    return genotype.validate(steps=steps)
