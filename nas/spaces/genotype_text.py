"""Genotype text, read without ``eval``: the DARTS ``Genotype(...)`` tokenizer and parser,
JSON with a nesting-depth limit, and ``--ops`` lists.

Carved from :mod:`xnas.nas.spaces.darts.genotypes` (which re-exports the public names): these
turn untrusted text into plain values; the ``Genotype`` type and its checks live there.
"""

from __future__ import annotations

import re
from typing import Any

from xnas.untrusted import MAX_JSON_DEPTH, InputError, parse_int
from xnas.untrusted import json_loads_limited as _json_loads_limited

__all__ = ["GenotypeError", "MAX_JSON_DEPTH", "json_loads_limited", "parse_darts_fields", "parse_ops"]


class GenotypeError(ValueError):
    """A malformed or unknown genotype; the message is one line for the user."""


def parse_ops(text: str | None, option: str = "--ops", choices: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Parse a comma-separated operation set; ``None`` gives the 8 DARTS operations.

    Every name must be one of ``choices`` (default: the registered DARTS
    operations; a space passes its own), given once; an empty name
    (``sep_conv_3x3,,skip_connect``) is an error, not silently dropped.

    Raises
    ------
    GenotypeError
        One line naming the bad entry.
    """
    # torch-free until an operation set is checked: the NAS-Bench-201 parser and lookup import this module
    from xnas.nas.spaces.ops import OPERATIONS, PRIMITIVES, check_primitives

    if text is None:
        return PRIMITIVES
    known = tuple(OPERATIONS) if choices is None else tuple(choices)
    names = [p.strip() for p in text.split(",")]
    if any(not n for n in names):
        raise GenotypeError(f"{option} has an empty operation name in {text!r}")
    try:
        return check_primitives(names, known, option)
    except ValueError as exc:
        raise GenotypeError(str(exc)) from None


def json_loads_limited(text: str, max_depth: int = MAX_JSON_DEPTH, what: str = "JSON") -> Any:
    """:func:`xnas.untrusted.json_loads_limited` with its errors as :class:`GenotypeError` (one line).

    Nesting deeper than ``max_depth``, an integer of too many digits and malformed
    JSON are refused, naming ``what``.
    """
    try:
        return _json_loads_limited(text, max_depth, what)
    except InputError as exc:
        raise GenotypeError(str(exc)) from None


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


_MAX_INDEX = 1_000_000  # far above any node index or concat bound; the genotype checks the real ones


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
            try:
                value = parse_int(value, "genotype text: a number", -_MAX_INDEX, _MAX_INDEX)
            except InputError as exc:
                raise GenotypeError(str(exc)) from None
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


def parse_darts_fields(text: str) -> dict[str, Any]:
    """The fields of a DARTS ``Genotype(...)`` text as plain lists (no ``eval``).

    Raises
    ------
    GenotypeError
        If the text is anything but that form with literal values.
    """
    if not isinstance(text, str):
        raise GenotypeError("genotype text must be a string")
    if len(text) > 100_000:
        raise GenotypeError("genotype text is too long")
    return _Parser(_tokenize(text)).genotype()
