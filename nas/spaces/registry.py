"""Search spaces by name: what search, training, params and the study need to know of a space.

A registry (timm style) of frozen :class:`~xnas.nas.spaces.base.SearchSpace` entries, one per
space folder (``darts/space.py``, ``nb201/space.py``); adding a space is one folder and one
line in :data:`SPACES`. Each entry names the space's operations and says how its genotypes are
read, written, sampled and counted, so that code above the space (the study, the CLI) never
branches on the space's name. The architecture optimizers do not appear here: they see edges
of experts, whatever the space.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Optional

from xnas.nas.spaces.base import PAPER_SEARCH, SearchSpace
from xnas.nas.spaces.darts.space import SPACE as DARTS
from xnas.nas.spaces.darts.space import sample_darts_genotype
from xnas.nas.spaces.nb201.space import SPACE as NB201

if TYPE_CHECKING:  # torch loads only where a network is built
    from torch import nn

    from xnas.nas.spaces.darts.genotypes import Genotype

__all__ = ["PAPER_SEARCH", "SearchSpace", "SPACES", "build_from_arch", "genotype_space", "get_space", "network_arch",
           "sample_darts_genotype"]

SPACES: dict[str, SearchSpace] = {space.name: space for space in (DARTS, NB201)}


def genotype_space(spec: Optional[str]) -> Optional[str]:
    """The space a ``--genotype`` value plainly belongs to, or ``None`` when it does not say.

    The benchmark's string ``|op~0|+...`` is nb201, ``Genotype(...)`` is darts, and a
    JSON file says it in its ``space`` field (a darts genotype.json, written before
    spaces existed, has ``normal``). Nothing is parsed beyond that: the space's own
    parser reports malformed text.
    """
    if not isinstance(spec, str) or not spec.strip():
        return None
    text = spec.strip()
    if os.path.isfile(text):
        from xnas.untrusted import InputError, json_loads_limited

        try:
            with open(text, encoding="utf-8") as fh:
                text = fh.read(1_000_001).strip()
            data = json_loads_limited(text) if text.startswith("{") else None
        except (OSError, UnicodeDecodeError, InputError):
            return None
        if isinstance(data, dict):
            space = data.get("space")
            if isinstance(space, str) and space in SPACES:
                return space
            return "darts" if "normal" in data else None
    if text.startswith("|"):
        return "nb201"
    if text.startswith("Genotype"):
        return "darts"
    return None


def get_space(name: str) -> SearchSpace:
    """Look a search space up by name.

    Raises
    ------
    ValueError
        For an unknown name; the message lists the choices.
    """
    try:
        return SPACES[name]
    except KeyError:
        raise ValueError(f"unknown search space {name!r}; choose from {', '.join(SPACES)}") from None


def network_arch(
    genotype: Genotype,
    C: int,
    layers: int,
    num_classes: int,
    in_channels: int,
    image_size: int,
    auxiliary: bool,
    imagenet: bool,
    space: str = "darts",
) -> dict:
    """A plain dict describing a network (stored in checkpoints to rebuild and to compare).

    ``space`` names the search space (:mod:`xnas.nas.spaces.registry`) whose network this is.
    """
    return {
        "space": space,
        "genotype": genotype.to_dict(),
        "channels": int(C),
        "layers": int(layers),
        "num_classes": int(num_classes),
        "in_channels": int(in_channels),
        "image_size": int(image_size),
        "auxiliary": bool(auxiliary),
        "imagenet": bool(imagenet),
    }


def build_from_arch(arch: dict) -> nn.Module:
    """Rebuild the network that :func:`network_arch` described (no ``space``: a darts network)."""
    space = get_space(arch.get("space", "darts"))
    return space.build_network(
        space.genotype_from_dict(arch["genotype"]),
        arch["channels"],
        arch["layers"],
        arch["num_classes"],
        arch["in_channels"],
        arch["image_size"],
        arch["auxiliary"],
        arch["imagenet"],
    )
