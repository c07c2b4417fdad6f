"""The methods a study compares: a registry (timm style) of frozen :class:`StudyMethod` entries.

Every method turns a cell index ``c`` (its search seed) into one cell of the space:

``search``
    An architecture optimizer of :mod:`xnas.nas.arch.optimizers` (``xnas``, ``darts``,
    ``gd``) runs the supernet search with seed ``c``, each with its own published or
    theory settings (XNAS the theory's learning rates, DARTS Adam lr 3e-4); nothing
    is tuned per method.
``random-ws``
    Random search with weight sharing (Li and Talwalkar, 2019), the architecture
    optimizer ``random-ws`` (:mod:`xnas.nas.arch.random_ws`) in the same search loop: the
    supernet trains with one uniformly sampled cell per step, then ``K`` sampled cells
    are ranked on the validation half with the shared weights. Its own kind keeps it out
    of the gradient searches' comparisons.
``random``
    A uniformly sampled valid cell (the space's own sampler), no search.
``reference``
    A published cell (a genotype name the space resolves), no search.

The search kinds get ``seeds`` cells, ``random`` gets ``random_cells`` cells and a
reference row one cell; every cell is trained ``trainings`` times by one recipe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

__all__ = ["StudyMethod", "METHODS", "KINDS", "get_method", "methods_for_space"]

KINDS = ("search", "random-ws", "random", "reference")


@dataclass(frozen=True)
class StudyMethod:
    """One row of a study.

    Attributes
    ----------
    name : str
        Registry key (``--methods``); also a folder name, so never two names that
        differ only in case.
    kind : str
        One of :data:`KINDS`.
    description : str
    arch_optimizer : str, optional
        The architecture optimizer of a ``search`` or ``random-ws`` method.
    genotype : str, optional
        What the space's ``parse_genotype`` resolves for a ``reference`` row.
    spaces : tuple of str, optional
        The spaces the method exists in (``None``: every space); the published
        cells belong to the space they were found in.
    """

    name: str
    kind: str
    description: str
    arch_optimizer: Optional[str] = None
    genotype: Optional[str] = None
    spaces: Optional[tuple[str, ...]] = None

    def available(self, space: str) -> bool:
        """Whether the method has a row in ``space``."""
        return self.spaces is None or space in self.spaces

    def n_cells(self, seeds: int, random_cells: int) -> int:
        """How many cells the method contributes to a study."""
        if self.kind == "reference":
            return 1
        if self.kind == "random":
            return random_cells
        return seeds


METHODS: dict[str, StudyMethod] = {
    m.name: m
    for m in (
        StudyMethod("xnas", "search", "XNAS: exponentiated gradient with wipeout, the theory's learning rates",
                    arch_optimizer="xnas"),
        StudyMethod("darts", "search", "DARTS first order: Adam lr 3e-4, betas (0.5, 0.999), wd 1e-3",
                    arch_optimizer="darts"),
        StudyMethod("gd", "search", "gradient descent on softmax logits (the XNAS learning rates)",
                    arch_optimizer="gd"),
        StudyMethod("random-ws", "random-ws",
                    "random search with weight sharing (Li and Talwalkar): one sampled cell per step, best of K",
                    arch_optimizer="random-ws"),
        StudyMethod("random", "random", "a uniformly sampled valid cell, no search"),
        StudyMethod("published-XNAS", "reference", "the cell published with XNAS, no search",
                    genotype="XNAS", spaces=("darts",)),
        StudyMethod("published-DARTS_V2", "reference", "the cell published with second-order DARTS, no search",
                    genotype="DARTS_V2", spaces=("darts",)),
    )
}
"""Registered study methods by name."""


def get_method(name: str) -> StudyMethod:
    """Look a method up by name; raises ``ValueError`` (one line, lists the choices)."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown study method {name!r}; choose from {', '.join(METHODS)}") from None


def methods_for_space(space: str) -> tuple[str, ...]:
    """Every registered method that has a row in ``space``, in registry order."""
    return tuple(name for name, m in METHODS.items() if m.available(space))
