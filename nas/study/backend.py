"""The study's only door to search, training and supernets: a thin adapter.

Everything the study runs goes through these functions, each taking the search
space (a :class:`~xnas.nas.spaces.registry.SearchSpace`) first. They wrap today's
``run_search(SearchConfig(...))`` and ``train(TrainConfig(...))``; after the runtime
refactor and the wiring of other spaces, only this module needs to change:

- :func:`search_cell` (one supernet search with an architecture optimizer, random-ws included),
- :func:`train_cell` (one training of a cell, tested on the test split),
- :func:`write_text_atomic` and :func:`save_figure` (the runtime's atomic writers, re-exported),
- :func:`resolve_device`,
- and the light lookups the study's other modules make: :func:`get_space`, :func:`space_names`,
  :func:`get_recipe`, :func:`has_table`, :func:`get_table`, :func:`table_scores`,
  :data:`TableError`, :data:`DataError`, :func:`apply_threads`, and :data:`MAX_WS_SAMPLES`.

No other module of the study imports ``xnas.nas`` outside the study (a test holds it). Every
``cfg`` here is a :class:`~xnas.nas.study.config.StudyConfig`, which is not imported: the
settings reach the backend through this module, not the other way round.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

from xnas.nas.limits import MAX_WS_SAMPLES  # torch-free: the one bound of random-ws's K
from xnas.runtime_io import save_figure, write_text_atomic  # torch-free: the runtime's own writers
from xnas.nas.study.errors import StudyError

__all__ = [
    "preflight",
    "search_cell",
    "train_cell",
    "resolve_device",
    "write_text_atomic",
    "save_figure",
    "get_space",
    "space_names",
    "get_recipe",
    "has_table",
    "get_table",
    "table_scores",
    "apply_threads",
    "MAX_WS_SAMPLES",
]

def _search_config(space: Any, cfg: Any, arch_optimizer: str, seed: int, out_dir: str):
    from xnas.nas.arch.optimizers import ARCH_OPTIMIZERS
    from xnas.nas.search.loop import SearchConfig

    extra = {} if cfg.search_nodes is None else {"nodes": cfg.search_nodes}  # None: the space's cell size
    if not ARCH_OPTIMIZERS[arch_optimizer].build.cell_from_weights:
        extra["ws_samples"] = cfg.ws_samples  # K, of the rules that rank sampled cells (random-ws)
    return SearchConfig(
        dataset=cfg.dataset, out_dir=out_dir, data_dir=cfg.data_dir, arch_optimizer=arch_optimizer,
        epochs=cfg.search_epochs, batch_size=cfg.search_batch, split=cfg.split, limit=cfg.search_limit,
        channels=cfg.search_channels, layers=cfg.search_layers, primitives=tuple(space.primitives), seed=seed,
        device=cfg.device, threads=1, plots=False, progress=False, space=space.name, **extra,
    )


def _recipe(cfg: Any):
    from xnas.nas.train.recipes import get_recipe, override

    changes = {k: v for k, v in (("epochs", cfg.train_epochs), ("batch_size", cfg.train_batch),
                                 ("channels", cfg.train_channels), ("layers", cfg.train_layers)) if v is not None}
    return override(get_recipe(cfg.recipe), **changes)


def preflight(space: Any, cfg: Any, searchers: tuple[str, ...]) -> None:
    """Check what the units will build, before any unit runs: one :class:`StudyError` line, not a failed unit.

    The device, every search (``searchers``: architecture optimizers, random-ws included) as
    the search checks them (shape, bounds, memory, the batch against the split halves), and
    the recipe's trained network.
    """
    from xnas.nas.data.datasets import DataError, dataset_info
    from xnas.nas.limits import check_network_size
    from xnas.nas.runtime import device_memory

    try:
        resolve_device(cfg.device)
        info = dataset_info(cfg.dataset, cfg.data_dir)
        for name in searchers:
            _search_config(space, cfg, name, 0, "").validate(info)
        if searchers and info.train_size:
            n = min(cfg.search_limit or info.train_size, info.train_size)
            cut = min(max(int(n * cfg.split), 1), n - 1)
            if cfg.search_batch > min(cut, n - cut):
                raise StudyError(f"search batch {cfg.search_batch} exceeds the split halves ({cut} / {n - cut} "
                                 "images); lower --search-batch or raise --search-limit")
        recipe = _recipe(cfg).validate()
        if recipe.space != space.name:
            raise StudyError(f"recipe {cfg.recipe!r} trains {recipe.space} cells, not {space.name} cells")
        check_network_size(recipe.channels, recipe.layers, space.default_nodes, recipe.batch_size, info.image_size,
                           info.channels, search=False, available=device_memory(cfg.device),
                           stem_stride=8 if recipe.imagenet else 1, cells=space.cell_model)
    except (ValueError, DataError) as exc:  # LimitError, SetupError and RecipeError are ValueErrors
        if isinstance(exc, StudyError):
            raise
        raise StudyError((str(exc).strip().splitlines() or [type(exc).__name__])[0]) from None


def resolve_device(name: str):
    """``auto``/``cpu``/``cuda[:N]`` as a torch device (the training loop's rule)."""
    from xnas.nas.train.loop import resolve_device as _resolve

    return _resolve(name)


def _fresh(workdir: str) -> str:
    # A unit killed half-way leaves its work folder; the unit restarts from scratch.
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir, exist_ok=True)
    return workdir


def search_cell(space: Any, cfg: Any, arch_optimizer: str, seed: int,
                workdir: str) -> tuple[Any, float, dict[str, Any]]:
    """One supernet search; returns ``(genotype, wall seconds, trace)``.

    Every searching method gets the same budget (``cfg.search_*``); the optimizer's
    own settings are its defaults (the theory's etas for xnas, DARTS's Adam for darts).
    ``trace`` holds the final mean normalised ``entropy`` of the architecture weights and
    ``epochs``: per search epoch, the cell derived at its end (the space's text) and the entropy;
    for random-ws, whose weights derive no cell, ``random_ws``: the weight steps and the
    sampled cells' validation errors instead.
    """
    from xnas.nas.search.loop import run_search

    search_cfg = _search_config(space, cfg, arch_optimizer, seed, _fresh(workdir))
    start = time.perf_counter()
    result = run_search(search_cfg)
    seconds = time.perf_counter() - start
    if result.selection is not None:
        return result.genotype, seconds, {"random_ws": result.selection}
    epochs = [{"genotype": space.format_genotype(space.genotype_from_dict(e["genotype"])), "entropy": e["entropy"]}
              for e in result.log]
    return result.genotype, seconds, {"entropy": epochs[-1]["entropy"] if epochs else None, "epochs": epochs}


def train_cell(space: Any, genotype: Any, cfg: Any, seed: int, workdir: str) -> dict[str, float]:
    """Train ``genotype`` once with the study's recipe; returns test error (%), params (M) and seconds."""
    from xnas.nas.train.loop import TrainConfig, train

    recipe = _recipe(cfg)
    start = time.perf_counter()
    if recipe.space != space.name:
        raise StudyError(f"recipe {cfg.recipe!r} trains {recipe.space} cells, not {space.name} cells")
    results = train(TrainConfig(dataset=cfg.dataset, genotype=genotype, recipe=recipe, out=_fresh(workdir),
                                data_dir=cfg.data_dir, seed=seed, device=cfg.device, limit=cfg.train_limit,
                                progress=False, threads=1))
    return {"test_err": float(results["test_top1_err"]), "params_M": float(results["params_M"]),
            "seconds": time.perf_counter() - start}


# -- the light lookups of the study's other modules (each loads its nas module on first use) ---------
def get_space(name: str) -> Any:
    """The registered search space ``name`` (``ValueError`` naming the known ones)."""
    from xnas.nas.spaces.registry import get_space as lookup

    return lookup(name)


def space_names() -> tuple[str, ...]:
    """The names of the registered search spaces."""
    from xnas.nas.spaces.registry import SPACES

    return tuple(SPACES)


def get_recipe(name: str) -> Any:
    """The training recipe ``name`` (``ValueError`` naming the known ones)."""
    from xnas.nas.train.recipes import get_recipe as lookup

    return lookup(name)


def has_table(space: str) -> bool:
    """Whether the cells of ``space`` can be looked up in a table of trained cells."""
    from xnas.nas.spaces.tables import has_table as known

    return known(space)


def get_table(space: str) -> Any:
    """The loaded table of ``space`` (:data:`TableError` when it has none or it is corrupt)."""
    from xnas.nas.spaces.tables import get_table as load

    return load(space)


def table_scores(space: str, genotype: Any) -> Any:
    """The table's accuracies of ``genotype`` in ``space``, or ``None`` if the space has no table."""
    from xnas.nas.spaces.tables import table_scores as scores

    return scores(space, genotype)


def apply_threads(threads: Any, device: Any) -> int:
    """The runtime's thread choice (one torch thread per process unless told)."""
    from xnas.nas.runtime import apply_threads as apply

    return apply(threads, device)


def __getattr__(name: str) -> Any:
    # The error classes load with their modules (the tables pull in torch), not with this one.
    if name == "TableError":
        from xnas.nas.spaces.tables import TableError

        return TableError
    if name == "DataError":
        from xnas.nas.data.info import DataError

        return DataError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
