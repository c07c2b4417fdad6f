"""Setting up a training run: the settings checked, the data loaders, the network and its optimizer."""

from __future__ import annotations

import os

import torch
from torch.utils.data import Subset

from xnas.nas import distributed as dist
from xnas.nas.data.datasets import default_transform, load_dataset, make_loader
from xnas.nas.train.evaluation import TEST_SUBSET_SEED, seeded_subset
from xnas.nas.spaces.darts.genotypes import GenotypeError
from xnas.limits import LimitError, check_seed
from xnas.nas.limits import check_network_size
from xnas.nas.spaces.registry import network_arch
from xnas.nas.train.recipes import Recipe
from xnas.nas.runtime import maybe_compile, to_layout
from xnas.nas.spaces.registry import get_space
from xnas.nas.train.config import TrainConfig, TrainSetupError

__all__ = ["build_loaders", "build_network_and_optimizer", "check_network_fits", "check_settings"]


def check_settings(config: TrainConfig, resume: bool) -> Recipe:
    recipe = config.recipe.validate()
    try:
        check_seed(config.seed, "seed")
    except LimitError as exc:
        raise TrainSetupError(str(exc)) from None
    space = get_space(recipe.space)
    try:
        space.genotype_from_dict(config.genotype.to_dict())
    except (GenotypeError, KeyError, TypeError, ValueError):
        raise TrainSetupError(
            f"the genotype is not a {space.name} cell, but recipe {recipe.name!r} trains the {space.name} space"
        ) from None
    if config.log_format not in ("jsonl", "csv"):
        raise TrainSetupError(f"log format must be jsonl or csv, got {config.log_format!r}")
    if config.eval_every < 1:
        raise TrainSetupError("eval_every must be at least 1")
    if config.max_steps is not None and config.max_steps < 1:
        raise TrainSetupError("max_steps must be at least 1")
    if config.limit is not None and config.limit < 2:
        raise TrainSetupError("limit must be at least 2")
    ckpt_path = os.path.join(config.out, "checkpoint.pt")
    if not resume and os.path.exists(ckpt_path):
        raise TrainSetupError(
            f"{config.out} already holds a run; pass --resume to continue it or choose another --out"
        )
    if resume and not os.path.exists(ckpt_path):
        raise TrainSetupError(f"nothing to resume: {ckpt_path} does not exist")
    return recipe


def check_network_fits(config: TrainConfig, recipe: Recipe, info, world: int, available=None) -> None:
    """Refuse a network too large for the device's memory (``available`` bytes; None: the host's).

    Called once the dataset's shape is known, before any data is loaded or the network is built.

    Raises
    ------
    TrainSetupError
        One line naming the option to lower.
    """
    space = get_space(recipe.space)
    normal = getattr(config.genotype, "normal", None)  # a darts cell keeps 2 edges per node
    nodes = len(normal) // 2 if normal else space.default_nodes
    try:
        check_network_size(recipe.channels, recipe.layers, nodes, max(1, recipe.batch_size // world), info.image_size,
                           info.channels, search=False, available=available, stem_stride=8 if recipe.imagenet else 1,
                           cells=space.cell_model)
    except LimitError as exc:
        raise TrainSetupError(str(exc)) from None


def build_loaders(config: TrainConfig, recipe: Recipe, info, distributed: bool, use_cuda: bool):
    world, rank, main = dist.world_size(), dist.rank(), dist.is_main()
    per_rank_batch = recipe.batch_size // world
    train_tf = default_transform(info, train=True, cutout=recipe.cutout, autoaugment=recipe.autoaugment)
    test_tf = default_transform(info, train=False)
    # One process downloads (with --download, or into the default data folder); the others
    # wait, then read the files it wrote.
    fetch_first = distributed and (config.download or config.data_dir is None)
    if fetch_first and not main:
        dist.barrier()
    try:
        download = config.download and main
        train_set = load_dataset(config.dataset, config.data_dir, True, train_tf, download)
        test_set = load_dataset(config.dataset, config.data_dir, False, test_tf, download)
    finally:
        if fetch_first and main:
            dist.barrier()  # release the others even if the download failed
    train_set = seeded_subset(train_set, config.limit, config.seed)
    test_set = seeded_subset(test_set, config.limit, TEST_SUBSET_SEED)
    workers = config.num_workers
    if workers is None:
        local = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))
        workers = min(8, max(1, (os.cpu_count() or 1) // local)) if use_cuda else 0
    # drop_last keeps every training batch at full size (a batch of one would break BN).
    train_loader = make_loader(
        train_set, per_rank_batch, shuffle=True, seed=config.seed, num_workers=workers,
        drop_last=len(train_set) >= per_rank_batch * world, distributed=distributed,
    )
    test_shard = Subset(test_set, list(range(rank, len(test_set), world))) if world > 1 else test_set
    test_loader = make_loader(test_shard, max(per_rank_batch, 64), shuffle=False, num_workers=workers)
    return train_loader, test_loader


def build_network_and_optimizer(config: TrainConfig, recipe: Recipe, info, device: torch.device):
    args = (config.genotype, recipe.channels, recipe.layers, info.num_classes, info.channels, info.image_size,
            recipe.auxiliary_weight > 0, recipe.imagenet)
    arch = network_arch(*args, space=recipe.space)
    try:
        core = get_space(recipe.space).build_network(*args)
    except ValueError as exc:
        raise TrainSetupError(str(exc)) from None
    core = maybe_compile(to_layout(core.to(device), config.channels_last), config.compile)
    optimizer = torch.optim.SGD(
        core.parameters(), lr=recipe.lr, momentum=recipe.momentum,
        nesterov=recipe.nesterov, weight_decay=recipe.weight_decay,
    )
    return arch, core, optimizer
