"""Registry helpers shared by the environment and forecaster registries."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping


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


def freeze_registry(*entries: Any) -> Mapping[str, Any]:
    """A read-only name -> entry mapping, in the order given."""
    return MappingProxyType({e.name: e for e in entries})


def lookup(registry: Mapping[str, Any], kind: str, name: str) -> Any:
    """``registry[name]``; an unknown name raises ``ValueError`` listing the choices."""
    try:
        return registry[name]
    except KeyError:
        raise ValueError(f"unknown {kind} {name!r} (choices: {', '.join(registry)})") from None
