"""Search spaces by name: what search, training, params and the study need to know of a space.

A registry (timm style) of frozen :class:`SearchSpace` entries. Each entry names the
space's operations and says how its genotypes are read, written, sampled and counted,
so that code above the space (the study, the CLI) never branches on the space's name.
The architecture optimizers do not appear here: they see edges of experts, whatever
the space.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from xnas.nas.spaces.darts.genotypes import Genotype, resolve_genotype
from xnas.nas.limits import DARTS_CELLS, NB201_CELLS, CellModel
from xnas.nas.spaces.nb201.genotype import EDGES as NB201_EDGES
from xnas.nas.spaces.nb201.genotype import NB201_PRIMITIVES, NB201Genotype, parse_nb201_genotype, sample_nb201_genotype
from xnas.nas.spaces.nb201.ops import get_nb201_operation
from xnas.nas.spaces.ops import PRIMITIVES, get_operation

# The paper's CIFAR-10 search (batch 96, 50 epochs, C = 16, 8 cells of 4 nodes): the one
# source of the search's size defaults. SearchConfig's fields, the CLI's search and lr commands
# and the study read them from here, through each space's presets, which start from them.
PAPER_SEARCH: dict = {"epochs": 50, "batch_size": 96, "channels": 16, "layers": 8, "nodes": 4}

if TYPE_CHECKING:  # torch loads only where a network is built
    from torch import nn

__all__ = ["PAPER_SEARCH", "SearchSpace", "SPACES", "build_from_arch", "get_space", "network_arch", "sample_darts_genotype"]


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
    cell_types : tuple of str
        The keys of the per-cell-type dicts (architecture weights, alive masks,
        replications): ``("normal", "reduce")`` for darts, ``("normal",)`` for nb201.
    genotype_ops : tuple of str
        The operations a discrete cell may hold (darts never keeps ``none``).
    default_nodes : int
        Nodes per cell after the inputs (darts: 4 intermediate nodes; nb201: 3, fixed).
    one_hot : callable
        ``one_hot(genotype, primitives) -> {cell type: (edges, N) array}``: the cell as
        the supernet's mixing weights (1 on each chosen operation, edges not used all 0).
    build_supernet : callable
        ``build_supernet(in_channels, num_classes, C, layers, primitives=None, nodes=None)``:
        the search network (``forward(x, weights)``, ``alive``, ``wipe``,
        ``replications``, ``arch_shape``, ``num_edges``); ``None`` takes the
        space's primitives and nodes.
    build_network : callable
        ``build_network(genotype, C, layers, num_classes, in_channels=3, image_size=32,
        auxiliary=False, imagenet=False)``: the discrete network; ``forward`` returns
        ``(logits, logits_aux or None)``.
    discretize : callable
        ``discretize(weights, primitives, nodes=None, log_weights=None) -> genotype`` from
        the per-cell-type mixing weights (and, to break ties, log-weights).
    genotype_from_dict : callable
        Inverse of the genotype's ``to_dict`` (checkpoints, ``config.json``); the
        genotype is checked, ``GenotypeError`` (one line) otherwise.
    search_presets : callable
        ``search_presets(dataset) -> dict`` of search settings (every key of
        :data:`PAPER_SEARCH`, overridden where the space or dataset needs it; channels, layers,
        nodes, and for CPU-sized datasets epochs, batch size, threads) that
        replace the paper's CIFAR-10 defaults.
    train_recipe : callable
        ``train_recipe(dataset) -> str``: the default recipe name for training a cell.
    check_shape : callable
        ``check_shape(layers, nodes)``: raises ``ValueError`` (one line) unless a
        supernet of ``layers`` cells of ``nodes`` nodes exists in this space.
    replications : callable
        ``replications(layers) -> (r_normal, r_reduce)``: how many cells of each type
        share one set of architecture weights in a supernet of ``layers`` cells (the
        ``r_c`` of the learning rates' horizons); checks the shape first
        (``ValueError``, one line).
    cell_model : CellModel
        How the space's cells grow, for the memory estimate checked before a
        network is built (:func:`xnas.nas.limits.check_network_size`).
    plot_cells : callable
        ``plot_cells(genotype, path)``: the diagram of the space's cell(s) (PNG).
    default_genotype : str
        The cell ``xnas-nas train`` and ``params`` use when ``--genotype`` is left out.
    network_sizes : dict
        ``(channels, layers)`` of the space's evaluation networks: ``cifar`` and, where the
        space has one, ``imagenet`` (the defaults of ``xnas-nas params``).
    recipe_checks : callable
        ``recipe_checks(recipe) -> [(ok, message), ...]``: what a training recipe must
        satisfy in this space, beyond the checks every recipe passes.
    edge_labels : tuple of str or None
        Titles of the edges in the architecture-weight plot, in row order;
        ``None`` lets the plot name them (darts: by node, for any node count).
    """

    name: str
    description: str
    primitives: tuple[str, ...]
    parameter_free: frozenset[str]
    parse_genotype: Callable[[str], Any]
    format_genotype: Callable[[Any], str]
    sample_genotype: Callable[[np.random.Generator], Any]
    cell_ops: Callable[[Any], dict[str, tuple[str, ...]]]
    cell_types: tuple[str, ...]
    genotype_ops: tuple[str, ...]
    default_nodes: int
    build_supernet: Callable[..., Any]
    build_network: Callable[..., Any]
    discretize: Callable[..., Any]
    genotype_from_dict: Callable[[Any], Any]
    search_presets: Callable[[str], dict]
    train_recipe: Callable[[str], str]
    check_shape: Callable[[int, int], None]
    replications: Callable[[int], tuple[int, int]]
    one_hot: Callable[[Any, tuple[str, ...]], dict[str, np.ndarray]]
    cell_model: CellModel
    plot_cells: Callable[[Any, str], None]
    edge_labels: tuple[str, ...] | None
    default_genotype: str
    network_sizes: dict[str, tuple[int, int]]
    recipe_checks: Callable[[Any], list[tuple[bool, str]]]


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


def _nb201_one_hot(genotype: NB201Genotype, primitives: tuple[str, ...]) -> dict[str, np.ndarray]:
    column = {p: i for i, p in enumerate(primitives)}
    w = np.zeros((len(genotype.ops), len(primitives)))
    for e, op in enumerate(genotype.ops):
        w[e, column[op]] = 1.0
    return {"normal": w}


# -- darts: thin wrappers over the existing modules (imported lazily: torch) ----------
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
    from xnas.nas.search.plots import plot_cells

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


# -- nb201 ----------------------------------------------------------------------------
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
    from xnas.nas.search.plots import plot_nb201_cell

    plot_nb201_cell(genotype, path)


def _nb201_recipe_checks(recipe) -> list[tuple[bool, str]]:
    return [
        (recipe.layers % 3 == 0, "layers must be 3N (three stages of N cells) in the nb201 space"),
        (recipe.auxiliary_weight == 0, "the nb201 network has no auxiliary head: auxiliary_weight must be 0"),
        (not recipe.imagenet, "the nb201 space has no ImageNet network"),
    ]


def _nb201_train_recipe(dataset: str) -> str:
    return {"digits": "nb201-digits", "fashion-mnist": "nb201-fashion"}.get(dataset, "nb201")


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
    ),
    "nb201": SearchSpace(
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
    ),
}


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
