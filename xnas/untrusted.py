"""Turning untrusted text into numbers and JSON values, once for the whole package.

Python refuses to convert an integer text of more than 4,300 digits
(``ValueError: Exceeds the limit ... for integer string conversion``) and its JSON
decoder recurses once per nesting level (``RecursionError`` on a file of many
thousand ``[``). Both used to surface as tracebacks wherever a genotype, a shard or
a JSON file was read. Every such conversion goes through :func:`parse_int` or
:func:`json_loads_limited`, which answer with one-line :class:`InputError`.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Optional

__all__ = ["InputError", "MAX_JSON_DEPTH", "MAX_INT_DIGITS", "parse_int", "json_loads_limited", "read_json_file"]


class InputError(ValueError):
    """Text that cannot be read as the number or JSON asked for; the message is one line."""


MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects accepted in JSON we read (a genotype needs 3)."""
MAX_INT_DIGITS = 30
"""Significant digits of the largest integer we read from text (2^62 has 19)."""

_INT = re.compile(r"\s*([+-]?)0*(\d+)\s*")  # leading zeros never count as digits


def parse_int(text: str, name: str, low: Optional[int] = None, high: Optional[int] = None) -> int:
    """``text`` as an integer in ``[low, high]`` (either end ``None``: open).

    The digits are counted before Python converts them, so any length of text
    answers in one line, never with the interpreter's digit-limit error.

    Raises
    ------
    InputError
        ``name`` followed by what is wrong: not an integer, too many digits, out of range.
    """
    m = _INT.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise InputError(f"{name} must be an integer, got {_short(text)}")
    sign, digits = m.groups()
    if len(digits) > MAX_INT_DIGITS:
        raise InputError(f"{name} must be {_range(low, high)}, got a {len(digits)}-digit number")
    value = int(sign + digits)
    if (low is not None and value < low) or (high is not None and value > high):
        raise InputError(f"{name} must be {_range(low, high)}, got {value}")
    return value


def _range(low: Optional[int], high: Optional[int]) -> str:
    if low is not None and high is not None:
        return f"an integer in [{low}, {high}]"
    if low is not None:
        return f"an integer >= {low}"
    if high is not None:
        return f"an integer <= {high}"
    return f"an integer of at most {MAX_INT_DIGITS} digits"


def _short(text: Any) -> str:
    s = repr(text)
    return s if len(s) <= 40 else s[:37] + "..."


def json_loads_limited(text: str, max_depth: int = MAX_JSON_DEPTH, what: str = "JSON") -> Any:
    """``json.loads`` for untrusted text: bounded nesting, bounded integers, one-line errors.

    The depth is measured first, outside strings (Python's decoder would recurse
    once per level); every integer goes through :func:`parse_int`'s digit bound.

    Raises
    ------
    InputError
        Nesting deeper than ``max_depth``, an integer of too many digits, or
        malformed JSON; the message names ``what``.
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
                raise InputError(f"{what} is nested more than {max_depth} levels deep")
        elif ch in "]}":
            depth -= 1

    def _int(digits: str) -> int:
        if len(digits.lstrip("-").lstrip("0")) > MAX_INT_DIGITS:
            raise InputError(f"{what} holds a {len(digits)}-digit integer; at most {MAX_INT_DIGITS} digits are read")
        return int(digits)

    try:
        return json.loads(text, parse_int=_int)
    except json.JSONDecodeError as exc:
        raise InputError(f"{what} is malformed: {exc.msg} at line {exc.lineno}") from None


def read_json_file(path: str | os.PathLike, what: str = "JSON file", max_bytes: int = 1 << 20) -> Any:
    """Read and decode a JSON file of at most ``max_bytes`` with :func:`json_loads_limited`.

    Only regular files are read (a FIFO would block, a folder is a mistake).

    Raises
    ------
    InputError
        One line naming ``what`` and the path: missing, not a regular file, too
        large, unreadable, or bad JSON.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"{what} {path} does not exist")
    if not os.path.isfile(path):
        raise InputError(f"{what} {path} is not a regular file")
    size = os.path.getsize(path)
    if size > max_bytes:
        raise InputError(f"{what} {path} is {size} bytes, over the {max_bytes} it may have")
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {what} {path}: {getattr(exc, 'strerror', None) or exc}") from None
    return json_loads_limited(text, what=f"{what} {path}")
