"""The NAS-Bench-201 space's registry entry: its genotype text, supernet, network, presets, recipe
checks and plots. The networks load lazily: torch is imported where one is built."""

from __future__ import annotations

import numpy as np

from xnas.nas.limits import NB201_CELLS
from xnas.nas.spaces.base import PAPER_SEARCH, SearchSpace
from xnas.nas.spaces.nb201.genotype import EDGES as NB201_EDGES
from xnas.nas.spaces.nb201.genotype import NB201_PRIMITIVES, NB201Genotype, parse_nb201_genotype, sample_nb201_genotype
from xnas.nas.spaces.nb201.ops import get_nb201_operation

__all__ = ["SPACE"]


def _nb201_one_hot(genotype: NB201Genotype, primitives: tuple[str, ...]) -> dict[str, np.ndarray]:
    column = {p: i for i, p in enumerate(primitives)}
    w = np.zeros((len(genotype.ops), len(primitives)))
    for e, op in enumerate(genotype.ops):
        w[e, column[op]] = 1.0
    return {"normal": w}


def _nb201_cell_ops(genotype: NB201Genotype) -> dict[str, tuple[str, ...]]:
    return {"normal": genotype.ops}


def _nb201_nodes(nodes) -> None:
    if nodes is not None and nodes != 3:
        raise ValueError(f"a NAS-Bench-201 cell has 3 nodes after its input, got {nodes}")


def _nb201_check_shape(layers: int, nodes: int) -> None:
    _nb201_nodes(nodes)
    if isinstance(layers, bool) or layers < 3 or layers % 3:
        raise ValueError(f"a NAS-Bench-201 network has 3 stages of N cells: layers must be 3N >= 3, got {layers}")


def _nb201_replications(layers: int) -> tuple[int, int]:
    # one cell type: every cell shares the weights, so the replications are the cells
    _nb201_check_shape(layers, 3)
    return layers, 0


def _nb201_supernet(in_channels, num_classes, C, layers, primitives=None, nodes=None):
    from xnas.nas.spaces.nb201.networks import NB201SearchNetwork

    _nb201_nodes(nodes)
    return NB201SearchNetwork(
        in_channels, num_classes, C=C, layers=layers, primitives=NB201_PRIMITIVES if primitives is None else primitives
    )


def _nb201_network(genotype, C, layers, num_classes, in_channels=3, image_size=32, auxiliary=False, imagenet=False):
    from xnas.nas.spaces.nb201.networks import build_nb201_network

    return build_nb201_network(genotype, C, layers, num_classes, in_channels, image_size, auxiliary, imagenet)


def _nb201_discretize(weights, primitives, nodes=None, log_weights=None):
    from xnas.nas.spaces.nb201.networks import discretize_nb201

    _nb201_nodes(nodes)
    return discretize_nb201(weights, primitives, log_weights=log_weights)


def _nb201_search_presets(dataset: str) -> dict:
    # CIFAR: the benchmark's skeleton (C = 16, N = 5). Small images: the same
    # shape at CPU size (measurements.md: C = 8, N = 2 tells cells apart on
    # Fashion-MNIST in 4 training epochs); digits as small as the darts quick start.
    cifar = {**PAPER_SEARCH, "layers": 15, "nodes": 3}
    if dataset == "digits":
        return {**cifar, "epochs": 6, "batch_size": 64, "channels": 4, "layers": 3, "threads": 1}
    if dataset == "fashion-mnist":
        return {**cifar, "channels": 8, "layers": 6}
    return cifar


def _nb201_plot_cells(genotype: NB201Genotype, path: str) -> None:
    from xnas.nas.spaces.cell_plots import plot_nb201_cell

    plot_nb201_cell(genotype, path)


def _nb201_recipe_checks(recipe) -> list[tuple[bool, str]]:
    return [
        (recipe.layers % 3 == 0, "layers must be 3N (three stages of N cells) in the nb201 space"),
        (recipe.auxiliary_weight == 0, "the nb201 network has no auxiliary head: auxiliary_weight must be 0"),
        (not recipe.imagenet, "the nb201 space has no ImageNet network"),
    ]


def _nb201_train_recipe(dataset: str) -> str:
    return {"digits": "nb201-digits", "fashion-mnist": "nb201-fashion"}.get(dataset, "nb201")


SPACE = SearchSpace(
    name="nb201",
    description="NAS-Bench-201 cells: 4 nodes, 6 edges of 5 operations, one cell type in a fixed skeleton",
    primitives=NB201_PRIMITIVES,
    parameter_free=frozenset(p for p in NB201_PRIMITIVES if not get_nb201_operation(p).parametric),
    parse_genotype=parse_nb201_genotype,
    format_genotype=NB201Genotype.to_str,
    sample_genotype=sample_nb201_genotype,
    cell_ops=_nb201_cell_ops,
    cell_types=("normal",),
    genotype_ops=NB201_PRIMITIVES,
    default_nodes=3,
    build_supernet=_nb201_supernet,
    build_network=_nb201_network,
    discretize=_nb201_discretize,
    genotype_from_dict=NB201Genotype.from_dict,
    search_presets=_nb201_search_presets,
    train_recipe=_nb201_train_recipe,
    check_shape=_nb201_check_shape,
    replications=_nb201_replications,
    one_hot=_nb201_one_hot,
    cell_model=NB201_CELLS,
    plot_cells=_nb201_plot_cells,
    edge_labels=tuple(f"{i} -> {j}" for i, j in NB201_EDGES),
    # the benchmark's all-3x3-conv cell, and its skeleton (C = 16, N = 5)
    default_genotype="|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    network_sizes={"cifar": (16, 15)},
    recipe_checks=_nb201_recipe_checks,
)
