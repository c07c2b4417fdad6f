"""Setting up a search: the split halves and their loaders, the supernet and its optimizers, checkpoints.

The functions fill in the attributes of a :class:`xnas.nas.search.loop._Search`
(``s`` below), so that the search module itself holds only the loop.
"""

from __future__ import annotations

import json
import os

import numpy as np
import torch

from xnas.nas import distributed as dist
from xnas.nas.arch.optimizers import ArchSettings, build_arch_optimizer
from xnas.nas.checkpoint import CheckpointError, capture_rng_state, check_finite_state, load_checkpoint, restore_rng_state
from xnas.nas.data.datasets import dataset_info, default_transform, make_loader, search_splits
from xnas.nas.runtime import maybe_compile, to_layout
from xnas.nas.search.config import RESUME_KEYS, SearchConfig
from xnas.nas.arch.lr import learning_rates
from xnas.untrusted import json_loads_limited

__all__ = ["build_loaders", "build_supernet", "search_state", "load_search_state"]

CHECKPOINT_FORMAT = "xnas-search-1"


def build_loaders(s, datasets=None):
    """The two halves of the training set and their loaders; returns ``(train_set, valid_set)``."""
    cfg = s.cfg
    if datasets is not None:
        train_set, valid_set, info = datasets
    else:
        transform = None
        if not cfg.augment:
            transform = default_transform(dataset_info(cfg.dataset, cfg.data_dir), train=True, augment=False)
        # under torchrun rank 0 fetches (with --download, or into the default data folder) while the others wait
        fetch_first = s.distributed and (cfg.download or cfg.data_dir is None)
        if fetch_first and not s.main:
            dist.barrier()
        try:
            train_set, valid_set, info = search_splits(
                cfg.dataset, cfg.data_dir, split=cfg.split, seed=cfg.seed, download=cfg.download and s.main,
                limit=cfg.limit, transform=transform,
            )
        finally:
            if fetch_first and s.main:
                dist.barrier()  # release the others even if the download failed
    s.info = info
    local_batch = cfg.batch_size // s.world
    s.train_loader = make_loader(
        train_set, local_batch, shuffle=True, seed=cfg.seed, num_workers=cfg.workers, drop_last=True,
        distributed=s.distributed,
    )
    s.valid_loader = make_loader(
        valid_set, local_batch, shuffle=True, seed=cfg.seed + 7919, num_workers=cfg.workers, drop_last=True,
        distributed=s.distributed,
    )
    s.steps_per_epoch = min(len(s.train_loader), len(s.valid_loader))
    if s.steps_per_epoch < 1:
        raise ValueError(
            f"batch size {cfg.batch_size} exceeds the split halves ({len(train_set)} / {len(valid_set)} images)"
        )
    return train_set, valid_set


def build_supernet(s, train_set, valid_set) -> None:
    """The supernet, the theory's learning rates, the architecture optimizer and the network SGD."""
    cfg, info = s.cfg, s.info
    s.net = maybe_compile(to_layout(s.space.build_supernet(
        info.channels, info.num_classes, C=cfg.channels, layers=cfg.layers, primitives=cfg.primitives,
        nodes=cfg.nodes,
    ).to(s.device), cfg.channels_last), cfg.compile)
    reps = s.net.replications()
    n = len(cfg.primitives)
    # Horizon units (reference.md): one round per validation example, per
    # replication; a batch step of B examples covers B x r_c rounds.
    kinds = s.space.cell_types
    # The etas and horizons come from the one formula that `xnas-nas lr` prints.
    theory = learning_rates(s.steps_per_epoch * cfg.batch_size, cfg.epochs, reps.get("normal", 0),
                            reps.get("reduce", 0), experts=n, L=cfg.L)
    rounds = {k: float(cfg.batch_size * reps[k]) for k in kinds}
    horizon = {k: getattr(theory, f"horizon_{k}") for k in kinds}
    given = {"normal": cfg.eta_normal, "reduce": cfg.eta_reduce}
    eta = {k: given[k] if given[k] is not None else getattr(theory, f"eta_{k}") for k in kinds}
    s.resolved = {
        "eta": eta,
        "horizon": horizon,
        "rounds_per_step": rounds,
        "replications": reps,
        "steps_per_epoch": s.steps_per_epoch,
        "valid_examples_per_epoch": s.steps_per_epoch * cfg.batch_size,
        "world_size": s.world,
        "device": str(s.device),
        "threads": s.threads,
        "dataset_info": {
            "channels": info.channels, "num_classes": info.num_classes, "image_size": info.image_size,
            "train_size": info.train_size, "search_train": len(train_set), "search_valid": len(valid_set),
        },
    }
    s.arch = build_arch_optimizer(
        cfg.arch_optimizer,
        ArchSettings(
            shape=s.net.arch_shape(), eta=eta, horizon=horizon, rounds_per_step=rounds, L=cfg.L,
            zeta=cfg.zeta, lr=cfg.arch_lr, weight_decay=cfg.arch_weight_decay, seed=cfg.seed, world=s.world,
            kinds=kinds, sample_cell=_cell_sampler(s.space, cfg.primitives), samples=cfg.samples,
        ),
        device=s.device,
    )
    if not s.arch.cell_from_weights:
        s.resolved["ws_samples"] = cfg.samples  # random-ws's K, the default resolved
    net_ids = {id(p) for p in s.net.parameters()}
    assert not net_ids & {id(p) for p in s.arch.parameters()}, "network and architecture weights must be disjoint"
    s.net_opt = _sgd(s)


def _cell_sampler(space, primitives):
    """``rng -> (genotype, one-hot weights)``: a uniform cell of ``space`` as the supernet's mixing weights."""

    def sample(rng):
        genotype = space.sample_genotype(rng)
        return genotype, space.one_hot(genotype, tuple(primitives))

    return sample


def _sgd(s) -> torch.optim.SGD:
    cfg = s.cfg
    return torch.optim.SGD(s.net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)


def search_state(s, epochs_done: int) -> dict:
    """Everything a resume needs (``weights_only``-loadable)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "epochs_done": epochs_done,
        "config": s.cfg.to_dict(),
        "alive": {k: s.net.alive(k) for k in s.space.cell_types},
        "net": s.net.state_dict(),
        "net_opt": s.net_opt.state_dict(),
        "arch": s.arch.state_dict(),
        "rng": capture_rng_state(),
        "log_json": json.dumps(s.log),
        "history_steps": torch.tensor(s.history_steps, dtype=torch.int64),
        "history": torch.from_numpy(np.stack(s.history)),
    }


def load_search_state(s) -> None:
    """Restore :func:`search_state` from ``s.ckpt_path`` after checking it belongs to this search."""
    if not os.path.isfile(s.ckpt_path):
        raise CheckpointError(f"cannot resume: no checkpoint at {s.ckpt_path!r}")
    state = load_checkpoint(s.ckpt_path, map_location=s.device)
    try:
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"checkpoint {s.ckpt_path!r} is not a search checkpoint")
        saved = SearchConfig.from_dict(state["config"])
        for key in RESUME_KEYS:
            if getattr(saved, key) != getattr(s.cfg, key):
                raise CheckpointError(
                    f"checkpoint was made with {key}={getattr(saved, key)!r}, not {getattr(s.cfg, key)!r}"
                )
        check_finite_state({"net": state["net"], "net_opt": state["net_opt"]}, s.ckpt_path)
        for k in s.space.cell_types:
            s.net.wipe(k, state["alive"][k])
        s.net.load_state_dict(state["net"])
        s.net_opt = _sgd(s)
        s.net_opt.load_state_dict(state["net_opt"])
        s.arch.load_state_dict(state["arch"])
        restore_rng_state(state["rng"])
        s.start_epoch = int(state["epochs_done"])
        s.log = json_loads_limited(state["log_json"], what="the checkpoint's log")
        s.history_steps = [int(v) for v in state["history_steps"].tolist()]
        s.history = list(state["history"].numpy())
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"checkpoint {s.ckpt_path!r} does not fit this search ({first})") from None
