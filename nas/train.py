"""The training loop for evaluation networks (kept apart from the networks and the recipes).

One call of :func:`train` runs a recipe on a dataset and leaves in ``out``:

``config.json``
    The resolved configuration (dataset, genotype, every recipe field, seed, device ...).
``checkpoint.pt``
    Written atomically after every epoch (model, optimizer, RNG states,
    history); ``resume=True`` continues from it. On CPU a resumed run ends with
    bit-identical weights to an uninterrupted one: the sampler order depends
    only on ``(seed, epoch)`` and every RNG state is restored.
``log.jsonl`` (or ``log.csv``)
    One row per epoch: learning rate, drop-path probability, train loss and
    accuracy, test loss and top-1/top-5 error, seconds, images per second.
``results.json``
    The final numbers.

On CUDA the forward pass runs under bf16 autocast (the weights and the
optimizer stay fp32). Tensors are channels_last by default on every device.
Under ``torchrun`` the model is wrapped in DistributedDataParallel, every rank
reads its share of each batch (``DistributedSampler``), and only rank 0 writes
files.

A non-finite loss stops the run with :class:`TrainingError`; the checkpoint on
disk is the last good epoch's, because a checkpoint is written only after an
epoch ends with finite losses.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch
from torch import nn
from torch.utils.data import Subset

from xnas.nas import distributed as dist
from xnas.nas.checkpoint import (
    CheckpointError,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from xnas.nas.checkpoint import write_text_atomic as _write_text_atomic
from xnas.nas.data import dataset_info, default_transform, load_dataset, make_loader, set_loader_epoch
from xnas.nas.genotypes import Genotype
from xnas.nas.network import build_from_arch, build_network, count_parameters_M, network_arch
from xnas.nas.recipes import Recipe, drop_path_prob, learning_rate

__all__ = [
    "TrainConfig",
    "TrainingError",
    "TrainSetupError",
    "CHECKPOINT_FORMAT",
    "resolve_device",
    "train",
    "evaluate",
    "evaluate_checkpoint",
    "load_training_checkpoint",
]

CHECKPOINT_FORMAT = "xnas-train-v1"
# A limited test split is the same subset for every run and for ``evaluate_checkpoint``.
_TEST_SUBSET_SEED = 0


class TrainingError(RuntimeError):
    """The run cannot continue (e.g. a non-finite loss); one-line message."""


class TrainSetupError(ValueError):
    """Bad settings detected before training starts (one-line message)."""


@dataclass
class TrainConfig:
    """Everything a training run needs besides the recipe's fields.

    Attributes
    ----------
    dataset : str
        A dataset name (see :mod:`xnas.nas.data`).
    genotype : Genotype
    recipe : Recipe
        Already resolved (overrides applied).
    out : str
        Output folder.
    data_dir : str, optional
    download : bool
    seed : int
    device : str
        ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.
    limit : int, optional
        Use only this many training and test images (a seeded subset): quick runs.
    max_steps : int, optional
        At most this many optimizer steps per epoch.
    num_workers : int, optional
        DataLoader worker processes; ``None`` picks 0 on CPU and
        ``min(8, cpu_count // local processes)`` on CUDA.
    eval_every : int
        Evaluate on the test split every this many epochs (and always after the last).
    log_format : str
        ``jsonl`` or ``csv``.
    channels_last : bool
        Use channels_last (NHWC) tensors. On by default: besides CUDA, it made
        training 1.5x faster on a 2-core EPYC CPU at 32x32 (``benchmarks/bench_train.py``).
    progress : bool
        Show a rich progress display on stderr (rank 0 only).
    """

    dataset: str
    genotype: Genotype
    recipe: Recipe
    out: str
    data_dir: Optional[str] = None
    download: bool = False
    seed: int = 0
    device: str = "auto"
    limit: Optional[int] = None
    max_steps: Optional[int] = None
    num_workers: Optional[int] = None
    eval_every: int = 1
    log_format: str = "jsonl"
    progress: bool = True
    channels_last: bool = True
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration as JSON-ready data."""
        return {
            "dataset": self.dataset,
            "data_dir": self.data_dir,
            "genotype": self.genotype.to_dict(),
            "genotype_darts": self.genotype.to_darts(),
            "recipe": self.recipe.to_dict(),
            "seed": self.seed,
            "device": self.device,
            "limit": self.limit,
            "max_steps": self.max_steps,
            "num_workers": self.num_workers,
            "eval_every": self.eval_every,
            "log_format": self.log_format,
            "channels_last": self.channels_last,
            **self.extra,
        }


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA when available else CPU; a CUDA request without CUDA is a :class:`TrainSetupError`."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", dist.local_rank() if dist.env_world_size() > 1 else 0)
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise TrainSetupError(f"unknown device {device!r}; use auto, cpu or cuda[:N]") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise TrainSetupError(f"device {device!r} requested but CUDA is not available")
        if dev.index is None:
            dev = torch.device("cuda", dist.local_rank() if dist.env_world_size() > 1 else 0)
    elif dev.type != "cpu":
        raise TrainSetupError(f"unsupported device {device!r}; use auto, cpu or cuda[:N]")
    return dev


# ---------------------------------------------------------------------------------
# small I/O helpers
# ---------------------------------------------------------------------------------
def _write_json(path: str, obj: Any) -> None:
    _write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def _log_text(rows: list[dict], fmt: str) -> str:
    if fmt == "csv":
        if not rows:
            return ""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()
    return "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model


def _seeded_subset(dataset, limit: Optional[int], seed: int):
    if limit is None or limit >= len(dataset):
        return dataset
    g = torch.Generator().manual_seed(int(seed))
    return Subset(dataset, torch.randperm(len(dataset), generator=g)[:limit].tolist())


# ---------------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------------
@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader,
    device: torch.device,
    use_amp: bool = False,
    channels_last: bool = False,
) -> dict[str, float]:
    """Loss and top-1/top-5 error (in %) over ``loader``, summed over all ranks.

    Each rank passes its own shard; the sums are all-reduced, so every rank
    returns the numbers for the whole split.
    """
    was_training = model.training
    model.eval()
    criterion = nn.CrossEntropyLoss(reduction="sum")
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # loss, top1, top5, n
    try:
        for x, y in loader:
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                logits, _ = model(x)
            logits = logits.float()
            k = min(5, logits.shape[1])
            top = logits.topk(k, dim=1).indices
            hit = top.eq(y.unsqueeze(1))
            sums[0] += criterion(logits, y).double()
            sums[1] += hit[:, :1].sum()
            sums[2] += hit.any(dim=1).sum()
            sums[3] += y.numel()
    finally:
        model.train(was_training)
    dist.all_reduce_sum_(sums)
    loss, top1, top5, n = sums.tolist()
    if n == 0:
        return {"loss": float("nan"), "top1_err": float("nan"), "top5_err": float("nan"), "n": 0}
    return {
        "loss": loss / n,
        "top1_err": 100.0 * (1.0 - top1 / n),
        "top5_err": 100.0 * (1.0 - top5 / n),
        "n": int(n),
    }


# ---------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------
def load_training_checkpoint(path: str, arch: Optional[dict] = None) -> dict:
    """Load a training checkpoint and check it belongs to the network ``arch`` (when given).

    Raises
    ------
    CheckpointError
        Missing/corrupt file, not a training checkpoint, or another network.
    """
    ckpt = load_checkpoint(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT or "arch" not in ckpt:
        raise CheckpointError(f"{path} is not an xnas-nas train checkpoint")
    if arch is not None and ckpt["arch"] != arch:
        diffs = [k for k in arch if ckpt["arch"].get(k) != arch[k]]
        raise CheckpointError(
            f"checkpoint {path} is from another network (differs in {', '.join(diffs)})"
        )
    return ckpt


def _load_model_state(model: nn.Module, state: dict, path: str) -> None:
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint {path} does not fit this network ({first})") from None


# ---------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------
def _progress(enabled: bool):
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )


def train(
    config: TrainConfig,
    resume: bool = False,
    on_epoch: Optional[Callable[[dict], None]] = None,
    on_finish: Optional[Callable[[nn.Module], None]] = None,
) -> dict:
    """Train ``config.genotype`` with ``config.recipe`` on ``config.dataset``.

    Parameters
    ----------
    config : TrainConfig
    resume : bool
        Continue from ``out/checkpoint.pt`` (it must exist and match the network and recipe).
    on_epoch : callable, optional
        Called with each epoch's log row (rank 0), e.g. to stop early in tests.
    on_finish : callable, optional
        Called on every rank with the trained (unwrapped) network.

    Returns
    -------
    dict
        The results (also written to ``out/results.json`` by rank 0).

    Raises
    ------
    TrainSetupError, CheckpointError, DataError
        Bad settings, data or checkpoint (before any training).
    TrainingError
        A non-finite loss; the last good checkpoint stays on disk.
    """
    recipe = config.recipe.validate()
    if config.log_format not in ("jsonl", "csv"):
        raise TrainSetupError(f"log format must be jsonl or csv, got {config.log_format!r}")
    if config.eval_every < 1:
        raise TrainSetupError("eval_every must be at least 1")
    if config.max_steps is not None and config.max_steps < 1:
        raise TrainSetupError("max_steps must be at least 1")
    if config.limit is not None and config.limit < 2:
        raise TrainSetupError("limit must be at least 2")
    device = resolve_device(config.device)
    distributed = dist.init_from_env(device=str(device))
    world, rank = dist.world_size(), dist.rank()
    main = dist.is_main()
    per_rank_batch = recipe.batch_size // world
    if per_rank_batch < 1:
        raise TrainSetupError(f"batch size {recipe.batch_size} is smaller than the {world} processes")

    ckpt_path = os.path.join(config.out, "checkpoint.pt")
    log_path = os.path.join(config.out, f"log.{config.log_format}")
    if not resume and os.path.exists(ckpt_path):
        raise TrainSetupError(
            f"{config.out} already holds a run; pass --resume to continue it or choose another --out"
        )
    if resume and not os.path.exists(ckpt_path):
        raise TrainSetupError(f"nothing to resume: {ckpt_path} does not exist")

    use_cuda = device.type == "cuda"
    channels_last = config.channels_last
    if use_cuda:
        torch.backends.cudnn.benchmark = True
    _seed_everything(config.seed)

    # ---- data -------------------------------------------------------------------
    info = dataset_info(config.dataset, config.data_dir)
    train_tf = default_transform(info, train=True, cutout=recipe.cutout, autoaugment=recipe.autoaugment)
    test_tf = default_transform(info, train=False)
    download = config.download
    if download and distributed:
        # One process downloads; the others wait, then read the files it wrote.
        if main:
            load_dataset(config.dataset, config.data_dir, True, train_tf, True)
            load_dataset(config.dataset, config.data_dir, False, test_tf, True)
        dist.barrier()
        download = False
    train_set = load_dataset(config.dataset, config.data_dir, True, train_tf, download)
    test_set = load_dataset(config.dataset, config.data_dir, False, test_tf, download)
    train_set = _seeded_subset(train_set, config.limit, config.seed)
    test_set = _seeded_subset(test_set, config.limit, _TEST_SUBSET_SEED)
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

    # ---- network and optimizer -------------------------------------------------------
    auxiliary = recipe.auxiliary_weight > 0
    arch = network_arch(
        config.genotype, recipe.channels, recipe.layers, info.num_classes, info.channels,
        info.image_size, auxiliary, recipe.imagenet,
    )
    try:
        core = build_network(
            config.genotype, recipe.channels, recipe.layers, info.num_classes, info.channels,
            info.image_size, auxiliary, recipe.imagenet,
        )
    except ValueError as exc:
        raise TrainSetupError(str(exc)) from None
    core = core.to(device)
    if channels_last:
        core = core.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(
        core.parameters(), lr=recipe.lr, momentum=recipe.momentum,
        nesterov=recipe.nesterov, weight_decay=recipe.weight_decay,
    )
    criterion = nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing)

    start_epoch, history = 0, []
    if resume:
        ckpt = load_training_checkpoint(ckpt_path, arch)
        if ckpt.get("recipe") != recipe.to_dict():
            old = ckpt.get("recipe") or {}
            diffs = [k for k, v in recipe.to_dict().items() if old.get(k) != v]
            raise CheckpointError(
                f"checkpoint {ckpt_path} was trained with another recipe (differs in {', '.join(diffs)})"
            )
        _load_model_state(core, ckpt["model"], ckpt_path)
        optimizer.load_state_dict(ckpt["optimizer"])
        start_epoch = int(ckpt["epoch"])
        history = list(ckpt["history"])
        # Only rank 0's RNG state is saved; other ranks re-seed below.
        restore_rng_state(ckpt["rng"])
    elif main:
        os.makedirs(config.out, exist_ok=True)
        _write_json(os.path.join(config.out, "config.json"), {**config.to_dict(), "world_size": world})
    if rank > 0:
        # Different drop-path masks and augmentations per rank, reproducible from (seed, rank, epoch).
        torch.manual_seed(config.seed + 1000 * rank + start_epoch)

    model: nn.Module = core
    if distributed:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(core, device_ids=[device.index] if use_cuda else None)

    params_M = count_parameters_M(core)
    if main:
        _write_text_atomic(log_path, _log_text(history, config.log_format))

    steps_per_epoch = len(train_loader)
    if config.max_steps is not None:
        steps_per_epoch = min(steps_per_epoch, config.max_steps)
    progress = _progress(config.progress and main)
    # Check the loss every step on CPU; on CUDA every 25 steps to avoid a sync per step.
    check_every = 25 if use_cuda else 1
    try:
        if progress is not None:
            progress.start()
        for epoch in range(start_epoch, recipe.epochs):
            lr = learning_rate(recipe, epoch)
            for group in optimizer.param_groups:
                group["lr"] = lr
            core.drop_path_prob = drop_path_prob(recipe, epoch)
            set_loader_epoch(train_loader, epoch)
            task = None
            if progress is not None:
                task = progress.add_task(f"epoch {epoch + 1}/{recipe.epochs}", total=steps_per_epoch, status="")
            model.train()
            sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss * n, correct, n
            start = time.perf_counter()
            for step, (x, y) in enumerate(train_loader):
                if step >= steps_per_epoch:
                    break
                x = x.to(device, non_blocking=True)
                y = y.to(device, non_blocking=True)
                if channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_cuda):
                    logits, logits_aux = model(x)
                    loss = criterion(logits.float(), y)
                    if logits_aux is not None:
                        loss = loss + recipe.auxiliary_weight * criterion(logits_aux.float(), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if recipe.grad_clip > 0:
                    nn.utils.clip_grad_norm_(core.parameters(), recipe.grad_clip)
                optimizer.step()
                with torch.no_grad():
                    sums[0] += loss.detach().double() * y.numel()
                    sums[1] += (logits.argmax(dim=1) == y).sum()
                    sums[2] += y.numel()
                if not distributed and (step + 1) % check_every == 0 and not math.isfinite(sums[0].item()):
                    raise TrainingError(
                        f"loss became non-finite at epoch {epoch + 1}, step {step + 1}; "
                        f"stopped, last good checkpoint kept in {config.out}"
                    )
                if task is not None:
                    if step % 10 == 0:
                        progress.update(task, advance=1, status=f"loss {loss.item():.3f}")
                    else:
                        progress.update(task, advance=1)
            dist.all_reduce_sum_(sums)
            seconds = time.perf_counter() - start
            train_loss_sum, correct, n = sums.tolist()
            if not math.isfinite(train_loss_sum):
                raise TrainingError(
                    f"loss became non-finite in epoch {epoch + 1}; stopped, last good checkpoint kept in {config.out}"
                )
            row: dict[str, Any] = {
                "epoch": epoch + 1,
                "lr": lr,
                "drop_path": core.drop_path_prob,
                "train_loss": train_loss_sum / max(n, 1),
                "train_acc": 100.0 * correct / max(n, 1),
                "train_images": int(n),
                "seconds": seconds,
                "images_per_s": n / seconds if seconds > 0 else 0.0,
            }
            if (epoch + 1) % config.eval_every == 0 or epoch + 1 == recipe.epochs:
                ev = evaluate(core, test_loader, device, use_amp=use_cuda, channels_last=channels_last)
                row.update(test_loss=ev["loss"], test_top1_err=ev["top1_err"], test_top5_err=ev["top5_err"])
            else:
                row.update(test_loss=None, test_top1_err=None, test_top5_err=None)
            history.append(row)
            if task is not None:
                status = f"loss {row['train_loss']:.3f}"
                if row["test_top1_err"] is not None:
                    status += f"  test err {row['test_top1_err']:.2f}%"
                progress.update(task, completed=steps_per_epoch, status=status)
            if main:
                save_checkpoint(
                    {
                        "format": CHECKPOINT_FORMAT,
                        "arch": arch,
                        "dataset": config.dataset,
                        "recipe": recipe.to_dict(),
                        "epoch": epoch + 1,
                        "model": core.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "rng": capture_rng_state(),
                        "history": history,
                        "config": json.dumps(config.to_dict(), sort_keys=True),
                    },
                    ckpt_path,
                )
                _write_text_atomic(log_path, _log_text(history, config.log_format))
                if on_epoch is not None:
                    on_epoch(row)
            dist.barrier()
    finally:
        if progress is not None:
            progress.stop()

    last_eval = next((r for r in reversed(history) if r.get("test_top1_err") is not None), {})
    results = {
        "dataset": config.dataset,
        "genotype": config.genotype.to_darts(),
        "channels": recipe.channels,
        "layers": recipe.layers,
        "recipe": recipe.name,
        "epochs": recipe.epochs,
        "params_M": params_M,
        "test_top1_err": last_eval.get("test_top1_err"),
        "test_top5_err": last_eval.get("test_top5_err"),
        "test_loss": last_eval.get("test_loss"),
        "train_loss": history[-1]["train_loss"] if history else None,
        "world_size": world,
        "device": str(device),
        "out": config.out,
    }
    if main:
        _write_json(os.path.join(config.out, "results.json"), results)
    if on_finish is not None:
        on_finish(core)
    return results


def evaluate_checkpoint(
    path: str,
    data_dir: Optional[str] = None,
    dataset: Optional[str] = None,
    device: str = "auto",
    batch_size: int = 256,
    download: bool = False,
    limit: Optional[int] = None,
) -> dict:
    """Top-1/top-5 error of a training checkpoint on its dataset's test split.

    The network is rebuilt from the architecture stored in the checkpoint;
    ``dataset`` defaults to the one it was trained on.

    Raises
    ------
    CheckpointError, DataError, TrainSetupError
    """
    dev = resolve_device(device)
    ckpt = load_training_checkpoint(path)
    arch = ckpt["arch"]
    name = dataset or ckpt["dataset"]
    info = dataset_info(name, data_dir)
    if (info.num_classes, info.channels) != (arch["num_classes"], arch["in_channels"]):
        raise CheckpointError(
            f"checkpoint {path} has {arch['num_classes']} classes and {arch['in_channels']} channels; "
            f"{name} has {info.num_classes} and {info.channels}"
        )
    try:
        model = build_from_arch(arch)
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {path} has an unusable architecture ({exc})") from None
    _load_model_state(model, ckpt["model"], path)
    model = model.to(dev)
    use_cuda = dev.type == "cuda"
    model = model.to(memory_format=torch.channels_last)  # as in training
    test_set = load_dataset(name, data_dir, False, default_transform(info, train=False), download)
    test_set = _seeded_subset(test_set, limit, _TEST_SUBSET_SEED)
    loader = make_loader(test_set, batch_size, shuffle=False)
    result = evaluate(model, loader, dev, use_amp=use_cuda, channels_last=True)
    return {
        "checkpoint": path,
        "dataset": name,
        "epoch": int(ckpt["epoch"]),
        "top1_err": result["top1_err"],
        "top5_err": result["top5_err"],
        "loss": result["loss"],
        "n": result["n"],
        "params_M": count_parameters_M(model),
    }
