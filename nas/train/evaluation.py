"""Scoring trained networks: test-split error, and training checkpoints loaded with every check.

A training checkpoint is validated as carefully as user input before a
network is built from it: its format, its keys, its architecture (the
genotype, checked by its space's ``genotype_from_dict``, integer sizes,
and tensor shapes compared on the ``meta`` device, so that a forged
``channels=1e6`` allocates nothing), and the finiteness of every tensor.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn
from torch.utils.data import Subset

from xnas.nas import distributed as dist
from xnas.nas.checkpoint import CheckpointError, check_finite_state, load_checkpoint
from xnas.nas.data.datasets import dataset_info, default_transform, load_dataset, make_loader
from xnas.nas.spaces.darts.genotypes import GenotypeError
from xnas.nas.spaces.registry import build_from_arch
from xnas.nas.spaces.measure import count_parameters_M
from xnas.nas.runtime import SetupError, apply_threads, resolve_device, to_layout
from xnas.nas.spaces.registry import get_space

__all__ = ["CHECKPOINT_FORMAT", "evaluate", "evaluate_checkpoint", "load_training_checkpoint", "seeded_subset"]

CHECKPOINT_FORMAT = "xnas-train-v1"
# A limited test split is the same subset for every run and for ``evaluate_checkpoint``.
TEST_SUBSET_SEED = 0
_ARCH_INTS = ("channels", "layers", "num_classes", "in_channels", "image_size")


def seeded_subset(dataset, limit: Optional[int], seed: int):
    """The first ``limit`` items of a seeded permutation of ``dataset`` (all of it when ``limit`` is None)."""
    if limit is None or limit >= len(dataset):
        return dataset
    g = torch.Generator().manual_seed(int(seed))
    return Subset(dataset, torch.randperm(len(dataset), generator=g)[:limit].tolist())


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
    returns the numbers for the whole split. With 5 classes or fewer every
    label is among the top 5, so ``top5_err`` is ``None`` there, not a 0 that says nothing.
    """
    was_training = model.training
    model.eval()
    criterion = nn.CrossEntropyLoss(reduction="sum")
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # loss, top1, top5, n
    classes = 0
    try:
        for x, y in loader:
            x = x.to(device, non_blocking=True)
            y = y.to(device, non_blocking=True)
            x = to_layout(x, channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
                logits, _ = model(x)
            logits = logits.float()
            classes = logits.shape[1]
            k = min(5, classes)
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
        "top5_err": 100.0 * (1.0 - top5 / n) if classes > 5 else None,
        "n": int(n),
    }


def _check_arch(arch: Any, path: str) -> None:
    if not isinstance(arch, dict):
        raise CheckpointError(f"checkpoint {path} has no usable architecture")
    for key in _ARCH_INTS:
        value = arch.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CheckpointError(f"checkpoint {path} has an unusable architecture ({key}={value!r})")
    try:
        space = get_space(arch.get("space", "darts"))
        space.genotype_from_dict(arch.get("genotype"))
    except (GenotypeError, KeyError, TypeError, ValueError, RecursionError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"checkpoint {path} holds an invalid genotype ({first})") from None


def _check_shapes(arch: dict, state: dict, path: str) -> None:
    """The stored tensors must be those of the stored architecture; built on ``meta``, nothing is allocated."""
    try:
        with torch.device("meta"):
            expected = {k: tuple(v.shape) for k, v in build_from_arch(arch).state_dict().items()}
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise CheckpointError(f"checkpoint {path} has an unusable architecture ({exc})") from None
    got = {k: tuple(v.shape) for k, v in state.items() if isinstance(v, torch.Tensor)}
    if got != expected:
        diff = sorted(set(got) ^ set(expected)) or [k for k in expected if got[k] != expected[k]]
        raise CheckpointError(f"checkpoint {path} does not fit its own architecture (first difference: {diff[0]})")


def load_training_checkpoint(path: str, arch: Optional[dict] = None) -> dict:
    """Load a training checkpoint, check it thoroughly, and that it belongs to the network ``arch`` (when given).

    Raises
    ------
    CheckpointError
        Missing/corrupt file, not a training checkpoint, a missing or malformed
        part, non-finite weights, or another network.
    """
    ckpt = load_checkpoint(path)
    if isinstance(ckpt, dict) and ckpt.get("format") == "xnas-search-1":
        raise CheckpointError(f"{path} is a search checkpoint (xnas-nas search), not a training one")
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT or "arch" not in ckpt:
        raise CheckpointError(f"{path} is not an xnas-nas train checkpoint")
    for key, kind in (("model", dict), ("optimizer", dict), ("epoch", int), ("history", list), ("rng", dict)):
        if not isinstance(ckpt.get(key), kind):
            raise CheckpointError(f"checkpoint {path} lacks a usable {key!r} entry")
    _check_arch(ckpt["arch"], path)
    _check_shapes(ckpt["arch"], ckpt["model"], path)
    check_finite_state({"model": ckpt["model"], "optimizer": ckpt["optimizer"]}, path)
    if arch is not None and ckpt["arch"] != arch:
        diffs = [k for k in arch if ckpt["arch"].get(k) != arch[k]]
        raise CheckpointError(
            f"checkpoint {path} is from another network (differs in {', '.join(diffs)})"
        )
    return ckpt


def load_model_state(model: nn.Module, state: dict, path: str) -> None:
    """``load_state_dict(strict=True)`` with a one-line :class:`CheckpointError`."""
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint {path} does not fit this network ({first})") from None


def evaluate_checkpoint(
    path: str,
    data_dir: Optional[str] = None,
    dataset: Optional[str] = None,
    device: str = "auto",
    batch_size: int = 256,
    download: bool = False,
    limit: Optional[int] = None,
    threads: Optional[int] = None,
) -> dict:
    """Top-1/top-5 error of a training checkpoint on its dataset's test split.

    The network is rebuilt from the architecture stored in the checkpoint;
    ``dataset`` defaults to the one it was trained on. ``threads`` follows
    :func:`xnas.nas.runtime.default_threads` when None.

    Raises
    ------
    CheckpointError, DataError, SetupError
    """
    if limit is not None and (isinstance(limit, bool) or limit < 1):
        raise SetupError(f"limit must be at least 1 image, got {limit}")
    dev = resolve_device(device)
    ckpt = load_training_checkpoint(path)
    arch = ckpt["arch"]
    name = dataset or ckpt.get("dataset")
    if not isinstance(name, str):
        raise CheckpointError(f"checkpoint {path} does not name its dataset; pass --dataset")
    apply_threads(threads, dev)
    info = dataset_info(name, data_dir)
    if (info.num_classes, info.channels) != (arch["num_classes"], arch["in_channels"]):
        raise CheckpointError(
            f"checkpoint {path} has {arch['num_classes']} classes and {arch['in_channels']} channels; "
            f"{name} has {info.num_classes} and {info.channels}"
        )
    model = build_from_arch(arch)
    load_model_state(model, ckpt["model"], path)
    model = to_layout(model.to(dev), True)  # as in training
    test_set = load_dataset(name, data_dir, False, default_transform(info, train=False), download)
    test_set = seeded_subset(test_set, limit, TEST_SUBSET_SEED)
    loader = make_loader(test_set, batch_size, shuffle=False)
    result = evaluate(model, loader, dev, use_amp=dev.type == "cuda", channels_last=True)
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
