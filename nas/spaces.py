"""Search spaces by name: what search, training, params and the study need to know of a space.

A registry (timm style) of frozen :class:`SearchSpace` entries. Each entry names the
space's operations and says how its genotypes are read, written, sampled and counted,
so that code above the space (the study, the CLI) never branches on the space's name.
The architecture optimizers do not appear here: they see edges of experts, whatever
the space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from xnas.nas.genotypes import Genotype, resolve_genotype
from xnas.nas.ops import PRIMITIVES, get_operation

__all__ = ["SearchSpace", "SPACES", "get_space", "sample_darts_genotype"]


@dataclass(frozen=True)
class SearchSpace:
    """One registered search space.

    Attributes
    ----------
    name : str
        The registry key (``--space``).
    description : str
        One line for help texts.
    primitives : tuple of str
        The operations of every edge, in column order of the architecture weights.
    parameter_free : frozenset of str
        The operations without learnable weights (at stride 1).
    parse_genotype : callable
        ``parse_genotype(text) -> genotype``: a registry name, a file path or the
        space's text form; raises ``GenotypeError`` (one line) on bad input.
    format_genotype : callable
        ``format_genotype(genotype) -> str``: the space's canonical text form.
    sample_genotype : callable
        ``sample_genotype(rng) -> genotype``: a uniformly sampled valid cell, from a
        ``numpy.random.Generator``.
    cell_ops : callable
        ``cell_ops(genotype) -> {"normal": ops, ...}``: the operations each cell type uses.
    """

    name: str
    description: str
    primitives: tuple[str, ...]
    parameter_free: frozenset[str]
    parse_genotype: Callable[[str], Any]
    format_genotype: Callable[[Any], str]
    sample_genotype: Callable[[np.random.Generator], Any]
    cell_ops: Callable[[Any], dict[str, tuple[str, ...]]]


def sample_darts_genotype(rng: np.random.Generator, steps: int = 4) -> Genotype:
    """A uniform DARTS-space cell, as random search samples it (Li and Talwalkar, 2019).

    Every intermediate node draws two distinct inputs uniformly among the earlier
    states and, for each, one operation uniformly among the primitives other than
    ``none``; the normal and the reduction cell are drawn independently.
    """
    ops = [p for p in PRIMITIVES if p != "none"]
    cells = {}
    for kind in ("normal", "reduce"):
        gene = []
        for k in range(steps):
            inputs = rng.choice(2 + k, size=2, replace=False)
            for j in inputs:
                gene.append((ops[int(rng.integers(len(ops)))], int(j)))
        cells[kind] = tuple(gene)
    concat = tuple(range(2, 2 + steps))
    return Genotype(normal=cells["normal"], normal_concat=concat, reduce=cells["reduce"], reduce_concat=concat)


def _darts_cell_ops(genotype: Genotype) -> dict[str, tuple[str, ...]]:
    return {"normal": tuple(op for op, _ in genotype.normal), "reduce": tuple(op for op, _ in genotype.reduce)}


SPACES: dict[str, SearchSpace] = {
    "darts": SearchSpace(
        name="darts",
        description="DARTS cells: 4 nodes, 14 edges of 8 operations, normal and reduction cells",
        primitives=tuple(PRIMITIVES),
        parameter_free=frozenset(p for p in PRIMITIVES if not get_operation(p).parametric),
        parse_genotype=resolve_genotype,
        format_genotype=Genotype.to_darts,
        sample_genotype=sample_darts_genotype,
        cell_ops=_darts_cell_ops,
    ),
}


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
