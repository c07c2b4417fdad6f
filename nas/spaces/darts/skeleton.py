"""Where the DARTS skeleton reduces: the one rule for the supernet, the trained network, the
memory estimate and the theory's cell counts (``r_N``, ``r_R`` of the learning rates)."""

from __future__ import annotations

__all__ = ["reduction_layers", "cell_replications"]


def reduction_layers(layers: int) -> tuple[int, ...]:
    """Indices of the reduction cells: ``layers // 3`` and ``2 * layers // 3``."""
    if layers < 1:
        raise ValueError(f"need at least 1 cell, got {layers}")
    return tuple(sorted({layers // 3, 2 * layers // 3})) if layers >= 3 else ()


def cell_replications(layers: int) -> tuple[int, int]:
    """``(r_N, r_R)``: how many normal and reduction cells a supernet of ``layers`` cells has."""
    r_reduce = len(reduction_layers(layers))
    return layers - r_reduce, r_reduce
