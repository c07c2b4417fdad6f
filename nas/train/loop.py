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
epoch ends with a finite training and test loss and finite weights, optimizer
state and BatchNorm buffers. The message says which checkpoint was kept, or
that none was written.

Layout: :func:`train` is set-up (:func:`_setup`, with the pieces in
:mod:`xnas.nas.train.setup`), an epoch
(:func:`_train_epoch`, :func:`_end_epoch`) and outputs (:func:`_results`);
scoring and checkpoint checks are :mod:`xnas.nas.train.evaluation`; devices,
threads, seeding, progress and writers are :mod:`xnas.nas.runtime`.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch
from torch import nn

from xnas.nas import distributed as dist
from xnas.nas.checkpoint import (CheckpointError, capture_rng_state, kept_message, restore_rng_state,
                                 save_checkpoint_or_stop)
from xnas.nas.data.datasets import dataset_info, set_loader_epoch
from xnas.nas.train.evaluation import (CHECKPOINT_FORMAT, evaluate, evaluate_checkpoint, load_model_state,
                                 load_training_checkpoint)
from xnas.nas.spaces.measure import count_parameters_M
from xnas.nas.train.recipes import Recipe, drop_path_prob, learning_rate
from xnas.nas.spaces.registry import get_space
from xnas.nas.runtime import (Progress, RunError, apply_threads, device_memory, prepare_out_dir,
                              removed_if_left_empty, resolve_device, seed_everything, threads_notice, to_layout,
                              write_json_atomic,
                              write_text_atomic)
from xnas.nas.train.config import TrainConfig, TrainingError, TrainSetupError
from xnas.nas.train.setup import build_loaders, build_network_and_optimizer, check_network_fits, check_settings

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


def _write_json(path: str, obj: Any) -> None:
    write_json_atomic(path, obj, indent=2, sort_keys=True, allow_nan=False)


@dataclass
class _Run:
    """What the epochs of one training run share (built by :func:`_setup`)."""

    config: TrainConfig
    recipe: Recipe
    device: torch.device
    distributed: bool
    world: int
    main: bool
    train_loader: Any
    test_loader: Any
    arch: dict
    core: nn.Module
    model: nn.Module
    optimizer: torch.optim.Optimizer
    criterion: nn.Module
    ckpt_path: str
    log_path: str
    steps_per_epoch: int = 0
    start_epoch: int = 0
    kept_epochs: int = 0
    threads: Optional[int] = None
    history: list = field(default_factory=list)

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"


# ---------------------------------------------------------------------------------
# set-up
# ---------------------------------------------------------------------------------
def _resume(run: _Run) -> None:
    ckpt = load_training_checkpoint(run.ckpt_path, run.arch)
    if ckpt.get("recipe") != run.recipe.to_dict():
        old = ckpt.get("recipe") or {}
        diffs = [k for k, v in run.recipe.to_dict().items() if old.get(k) != v]
        raise CheckpointError(
            f"checkpoint {run.ckpt_path} was trained with another recipe (differs in {', '.join(diffs)})"
        )
    load_model_state(run.core, ckpt["model"], run.ckpt_path)
    try:
        run.optimizer.load_state_dict(ckpt["optimizer"])
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {run.ckpt_path} has an unusable optimizer state ({exc})") from None
    run.start_epoch = run.kept_epochs = int(ckpt["epoch"])
    run.history = list(ckpt["history"])
    # Only rank 0's RNG state is saved; other ranks re-seed in _setup.
    restore_rng_state(ckpt["rng"])


def _setup(config: TrainConfig, resume: bool) -> _Run:
    """Check the settings and the output folder, then the data, the network and (on resume) the checkpoint."""
    recipe = check_settings(config, resume)
    device = resolve_device(config.device)
    distributed = dist.init_from_env(device=str(device))
    world = dist.world_size()
    if recipe.batch_size // world < 1:
        raise TrainSetupError(f"batch size {recipe.batch_size} is smaller than the {world} processes")
    info = dataset_info(config.dataset, config.data_dir)
    check_network_fits(config, recipe, info, world, device_memory(str(device)))
    if dist.is_main():
        prepare_out_dir(config.out)  # before any data is loaded
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    threads = apply_threads(config.threads, device)
    seed_everything(config.seed)
    train_loader, test_loader = build_loaders(config, recipe, info, distributed, device.type == "cuda")
    arch, core, optimizer = build_network_and_optimizer(config, recipe, info, device)
    run = _Run(
        config=config, recipe=recipe, device=device, distributed=distributed, world=world, main=dist.is_main(),
        train_loader=train_loader, test_loader=test_loader, arch=arch, core=core, model=core, optimizer=optimizer,
        criterion=nn.CrossEntropyLoss(label_smoothing=recipe.label_smoothing),
        ckpt_path=os.path.join(config.out, "checkpoint.pt"), log_path=os.path.join(config.out, f"log.{config.log_format}"),
        threads=threads,
    )
    if resume:
        _resume(run)
    elif run.main:
        _write_json(os.path.join(config.out, "config.json"), {**config.to_dict(), "world_size": world, "threads": threads})
    if dist.rank() > 0:
        # Different drop-path masks and augmentations per rank, reproducible from (seed, rank, epoch).
        torch.manual_seed(config.seed + 1000 * dist.rank() + run.start_epoch)
    if distributed:
        from torch.nn.parallel import DistributedDataParallel

        run.model = DistributedDataParallel(core, device_ids=[device.index] if run.cuda else None)
    run.steps_per_epoch = len(train_loader)
    if config.max_steps is not None:
        run.steps_per_epoch = min(run.steps_per_epoch, config.max_steps)
    return run


# ---------------------------------------------------------------------------------
# one epoch
# ---------------------------------------------------------------------------------
def _stop(run: _Run, what: str) -> TrainingError:
    return TrainingError(f"{what}; stopped, {kept_message(run.ckpt_path, run.kept_epochs)}")


def _train_epoch(run: _Run, epoch: int, bar: Progress) -> dict:
    """One pass over the training split; returns the epoch's log row (without the test numbers)."""
    recipe, core, device = run.recipe, run.core, run.device
    lr = learning_rate(recipe, epoch)
    for group in run.optimizer.param_groups:
        group["lr"] = lr
    core.drop_path_prob = drop_path_prob(recipe, epoch)
    set_loader_epoch(run.train_loader, epoch)
    run.model.train()
    sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss * n, correct, n
    # Check the loss every step on CPU; on CUDA every 25 steps to avoid a sync per step.
    check_every = 25 if run.cuda else 1
    start = time.perf_counter()
    for step, (x, y) in enumerate(run.train_loader):
        if step >= run.steps_per_epoch:
            break
        x = x.to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        x = to_layout(x, run.config.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=run.cuda):
            logits, logits_aux = run.model(x)
            loss = run.criterion(logits.float(), y)
            if logits_aux is not None:
                loss = loss + recipe.auxiliary_weight * run.criterion(logits_aux.float(), y)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if recipe.grad_clip > 0:
            nn.utils.clip_grad_norm_(core.parameters(), recipe.grad_clip)
        run.optimizer.step()
        with torch.no_grad():
            sums[0] += loss.detach().double() * y.numel()
            sums[1] += (logits.argmax(dim=1) == y).sum()
            sums[2] += y.numel()
        if not run.distributed and (step + 1) % check_every == 0 and not math.isfinite(sums[0].item()):
            raise _stop(run, f"loss became non-finite at epoch {epoch + 1}, step {step + 1}")
        bar.advance(f"loss {loss.item():.3f}" if step % 10 == 0 else None)
    dist.all_reduce_sum_(sums)
    seconds = time.perf_counter() - start
    train_loss_sum, correct, n = sums.tolist()
    if not math.isfinite(train_loss_sum):
        raise _stop(run, f"loss became non-finite in epoch {epoch + 1}")
    return {
        "epoch": epoch + 1,
        "lr": lr,
        "drop_path": core.drop_path_prob,
        "train_loss": train_loss_sum / max(n, 1),
        "train_acc": 100.0 * correct / max(n, 1),
        "train_images": int(n),
        "seconds": seconds,
        "images_per_s": n / seconds if seconds > 0 else 0.0,
    }


def _end_epoch(run: _Run, epoch: int, row: dict) -> None:
    """Test (when due), then the checkpoint and the log, but only of a state that is really good."""
    recipe = run.recipe
    if (epoch + 1) % run.config.eval_every == 0 or epoch + 1 == recipe.epochs:
        ev = evaluate(run.core, run.test_loader, run.device, use_amp=run.cuda, channels_last=run.config.channels_last)
        row.update(test_loss=ev["loss"], test_top1_err=ev["top1_err"], test_top5_err=ev["top5_err"])
        if ev["n"] and not math.isfinite(ev["loss"]):
            raise _stop(run, f"test loss became {ev['loss']} in epoch {epoch + 1}")
    else:
        row.update(test_loss=None, test_top1_err=None, test_top5_err=None)
    run.history.append(row)
    if run.main:
        model_state = run.core.state_dict()
        state = {
            "format": CHECKPOINT_FORMAT, "arch": run.arch, "dataset": run.config.dataset,
            "recipe": recipe.to_dict(), "epoch": epoch + 1, "model": model_state,
            "optimizer": run.optimizer.state_dict(), "rng": capture_rng_state(), "history": run.history,
            "config": json.dumps(run.config.to_dict(), sort_keys=True),
        }
        try:
            save_checkpoint_or_stop(state, run.ckpt_path, run.kept_epochs,
                                    finite={"model": model_state, "optimizer": state["optimizer"]})
        except RunError as exc:
            raise TrainingError(str(exc)) from None
        write_text_atomic(run.log_path, _log_text(run.history, run.config.log_format))
    run.kept_epochs = epoch + 1


def _epoch_text(row: dict) -> str:
    text = f"epoch {row['epoch']}: loss {row['train_loss']:.3f} acc {row['train_acc']:.2f}%"
    if row.get("test_top1_err") is not None:
        text += f" | test err {row['test_top1_err']:.2f}%"
    return text + f" | {row['seconds']:.1f}s"


# ---------------------------------------------------------------------------------
# outputs and the whole run
# ---------------------------------------------------------------------------------
def _results(run: _Run) -> dict:
    history, recipe = run.history, run.recipe
    last_eval = next((r for r in reversed(history) if r.get("test_top1_err") is not None), {})
    return {
        "dataset": run.config.dataset,
        "space": recipe.space,
        "genotype": get_space(recipe.space).format_genotype(run.config.genotype),
        "channels": recipe.channels,
        "layers": recipe.layers,
        "recipe": recipe.name,
        "epochs": recipe.epochs,
        "params_M": count_parameters_M(run.core),
        "test_top1_err": last_eval.get("test_top1_err"),
        "test_top5_err": last_eval.get("test_top5_err"),
        "test_loss": last_eval.get("test_loss"),
        "train_loss": history[-1]["train_loss"] if history else None,
        "world_size": run.world,
        "device": str(run.device),
        "out": run.config.out,
    }


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
        Bad settings, output folder, data or checkpoint (before any training).
    TrainingError
        A non-finite loss or state, or a failed checkpoint write; the message
        says which checkpoint was kept.
    """
    with removed_if_left_empty(config.out):
        run = _setup(config, resume)
    if run.main:
        write_text_atomic(run.log_path, _log_text(run.history, config.log_format))
    total = (run.recipe.epochs - run.start_epoch) * run.steps_per_epoch
    hint = None if run.device.type == "cuda" else ("--epochs, --limit or --max-steps shorten it, "
                                                   "or run it on a GPU with --device cuda")
    with Progress(config.progress and run.main, total=total, long_hint=hint) as bar:
        notice = threads_notice(config.threads, run.threads)
        if notice:
            bar.line(notice)
        for epoch in range(run.start_epoch, run.recipe.epochs):
            bar.describe(f"train epoch {epoch + 1}/{run.recipe.epochs}")
            row = _train_epoch(run, epoch, bar)
            _end_epoch(run, epoch, row)
            bar.line(_epoch_text(row))
            if run.main and on_epoch is not None:
                on_epoch(row)
            dist.barrier()
    results = _results(run)
    if run.main:
        _write_json(os.path.join(config.out, "results.json"), results)
    if on_finish is not None:
        on_finish(run.core)
    return results
