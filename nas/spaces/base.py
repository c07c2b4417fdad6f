"""What a search space is: the :class:`SearchSpace` record every space fills in its own folder
(``darts/space.py``, ``nb201/space.py``), and the paper's search sizes the spaces' presets start
from. The registry by name is :mod:`xnas.nas.spaces.registry`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from xnas.nas.limits import CellModel

__all__ = ["PAPER_SEARCH", "SearchSpace"]

# The paper's CIFAR-10 search (batch 96, 50 epochs, C = 16, 8 cells of 4 nodes): the one
# source of the search's size defaults. SearchConfig's fields, the CLI's search and lr commands
# and the study read them from here, through each space's presets, which start from them.
PAPER_SEARCH: dict = {"epochs": 50, "batch_size": 96, "channels": 16, "layers": 8, "nodes": 4}


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
