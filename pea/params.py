"""Parameter overrides shared by the environment and forecaster registries."""

from __future__ import annotations

from typing import Mapping


def resolve_params(kind: str, name: str, defaults: Mapping[str, float],
                   params: Mapping[str, float] | None) -> dict[str, float]:
    """``defaults`` overridden by ``params``; an unknown key raises ``ValueError``
    naming the registered parameters of ``kind`` ``name``."""
    out = dict(defaults)
    for key, value in (params or {}).items():
        if key not in out:
            choices = ", ".join(out) or "none"
            raise ValueError(f"{kind} {name!r} has no parameter {key!r} (parameters: {choices})")
        out[key] = float(value)
    return out
