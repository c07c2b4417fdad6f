"""The DARTS space's registry entry: its genotypes, supernet, network, presets and plots, named
for the code above the space (the search, training, the study and the CLI never branch on the
space's name). The networks load lazily: torch is imported where one is built."""

from __future__ import annotations

import numpy as np

from xnas.nas.limits import DARTS_CELLS
from xnas.nas.spaces.base import PAPER_SEARCH, SearchSpace
from xnas.nas.spaces.darts.genotypes import Genotype, resolve_genotype
from xnas.nas.spaces.ops import PRIMITIVES, get_operation

__all__ = ["SPACE", "sample_darts_genotype"]


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


def _darts_one_hot(genotype: Genotype, primitives: tuple[str, ...]) -> dict[str, np.ndarray]:
    # Row order is the supernet's edge order (node by node, inputs ascending).
    from xnas.nas.spaces.darts.supernet import edge_endpoints

    steps = len(genotype.normal) // 2
    rows = {pair: r for r, pair in enumerate(edge_endpoints(steps))}
    column = {p: i for i, p in enumerate(primitives)}
    weights = {}
    for kind, gene in (("normal", genotype.normal), ("reduce", genotype.reduce)):
        w = np.zeros((len(rows), len(primitives)))
        for k, (op, j) in enumerate(gene):
            w[rows[(j, 2 + k // 2)], column[op]] = 1.0
        weights[kind] = w
    return weights


def _darts_supernet(in_channels, num_classes, C, layers, primitives=None, nodes=None):
    from xnas.nas.spaces.darts.supernet import SearchNetwork

    return SearchNetwork(
        in_channels, num_classes, C=C, layers=layers, steps=4 if nodes is None else nodes,
        primitives=PRIMITIVES if primitives is None else primitives,
    )


def _darts_network(genotype, C, layers, num_classes, in_channels=3, image_size=32, auxiliary=False, imagenet=False):
    from xnas.nas.spaces.darts.network import build_network

    return build_network(genotype, C, layers, num_classes, in_channels, image_size, auxiliary, imagenet)


def _darts_discretize(weights, primitives, nodes=None, log_weights=None):
    from xnas.nas.spaces.darts.supernet import discretize

    return discretize(weights, primitives, 4 if nodes is None else nodes, log_weights=log_weights)


def _darts_from_dict(data) -> Genotype:
    # Checked like the nb201 entry's: a genotype read from a checkpoint or a config is untrusted.
    return Genotype.from_dict(data).validate(steps=None)


def _darts_plot_cells(genotype: Genotype, path: str) -> None:
    from xnas.nas.spaces.cell_plots import plot_cells

    plot_cells(genotype, path)


def _darts_check_shape(layers: int, nodes: int) -> None:
    if layers < 3:
        raise ValueError(f"layers must be at least 3 cells (normal and reduction), got {layers}")


def _darts_replications(layers: int) -> tuple[int, int]:
    from xnas.nas.spaces.darts.skeleton import cell_replications

    _darts_check_shape(layers, 4)
    return cell_replications(layers)


def _darts_search_presets(dataset: str) -> dict:
    # The digits quick start of ``xnas-nas search`` (a whole search in minutes on 2 cores).
    if dataset == "digits":
        return {**PAPER_SEARCH, "epochs": 6, "batch_size": 64, "channels": 4, "layers": 5, "threads": 1}
    return dict(PAPER_SEARCH)


SPACE = SearchSpace(
    name="darts",
    description="DARTS cells: 4 nodes, 14 edges of 8 operations, normal and reduction cells",
    primitives=tuple(PRIMITIVES),
    parameter_free=frozenset(p for p in PRIMITIVES if not get_operation(p).parametric),
    parse_genotype=resolve_genotype,
    format_genotype=Genotype.to_darts,
    sample_genotype=sample_darts_genotype,
    cell_ops=_darts_cell_ops,
    cell_types=("normal", "reduce"),
    genotype_ops=tuple(p for p in PRIMITIVES if p != "none"),
    default_nodes=4,
    build_supernet=_darts_supernet,
    build_network=_darts_network,
    discretize=_darts_discretize,
    genotype_from_dict=_darts_from_dict,
    search_presets=_darts_search_presets,
    train_recipe=lambda dataset: "digits" if dataset == "digits" else "xnas",
    check_shape=_darts_check_shape,
    replications=_darts_replications,
    one_hot=_darts_one_hot,
    cell_model=DARTS_CELLS,
    plot_cells=_darts_plot_cells,
    edge_labels=None,
    default_genotype="XNAS",  # the paper's cell
    network_sizes={"cifar": (36, 20), "imagenet": (46, 14)},  # (C, layers) of the evaluation networks
    recipe_checks=lambda recipe: [],
)
