"""Transforms, samplers and data loaders shared by search and training."""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from xnas.nas.data.info import DataError, DatasetInfo

__all__ = ["Cutout", "default_transform", "EpochSampler", "make_loader", "set_loader_epoch"]


# ---------------------------------------------------------------------------------
# transforms
# ---------------------------------------------------------------------------------
class Cutout:
    """Zero one ``size`` x ``size`` square at a uniformly random centre (DeVries & Taylor).

    Works on a normalised ``C x H x W`` tensor; the square is clipped at the
    border. Uses the global torch RNG, so checkpointed RNG state makes it
    reproducible on resume.
    """

    def __init__(self, size: int) -> None:
        if size <= 0:
            raise ValueError(f"cutout size must be positive, got {size}")
        self.size = size

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        h, w = img.shape[-2:]
        cy = int(torch.randint(h, (1,)))
        cx = int(torch.randint(w, (1,)))
        half = self.size // 2
        y0, y1 = max(0, cy - half), min(h, cy - half + self.size)
        x0, x1 = max(0, cx - half), min(w, cx - half + self.size)
        img = img.clone()
        img[..., y0:y1, x0:x1] = 0.0
        return img

    def __repr__(self) -> str:
        return f"Cutout(size={self.size})"


def default_transform(
    info: DatasetInfo,
    train: bool,
    augment: bool = True,
    cutout: int = 0,
    autoaugment: bool = False,
) -> Callable:
    """The standard transform for a dataset.

    Parameters
    ----------
    info : DatasetInfo
    train : bool
        Training transforms augment (when ``augment``); test transforms only
        resize (large images), convert and normalise.
    augment : bool
        Random crop (padding 4, or a quarter of the size for tiny images) and,
        where label-preserving, horizontal flips; random resized crops for
        images larger than 64 pixels.
    cutout : int
        Cutout square size in pixels (0 disables).
    autoaugment : bool
        torchvision's AutoAugment with the CIFAR-10 policy (before the tensor conversion).
    """
    import torchvision.transforms as T

    steps: list[Callable] = []
    large = info.image_size > 64
    if info.channels == 1:
        steps.append(T.Grayscale(num_output_channels=1))
    else:
        steps.append(_ToRGB())
    if large:
        if train and augment:
            steps.append(T.RandomResizedCrop(info.image_size))
        else:
            steps += [T.Resize(int(round(info.image_size * 256 / 224))), T.CenterCrop(info.image_size)]
    else:
        # Image folders may hold images of several sizes; bring them to one size.
        if info.name.startswith("imagefolder:"):
            steps += [T.Resize(info.image_size), T.CenterCrop(info.image_size)]
        if train and augment:
            padding = 4 if info.image_size >= 16 else max(1, info.image_size // 4)
            steps.append(T.RandomCrop(info.image_size, padding=padding))
    if train and augment and info.hflip:
        steps.append(T.RandomHorizontalFlip())
    if train and autoaugment:
        steps.append(T.AutoAugment(T.AutoAugmentPolicy.CIFAR10))
    steps += [T.ToTensor(), T.Normalize(info.mean, info.std)]
    if train and cutout > 0:
        steps.append(Cutout(cutout))
    return T.Compose(steps)


class _ToRGB:
    """Convert any PIL image to RGB (image folders may mix modes)."""

    def __call__(self, img):
        return img if getattr(img, "mode", "RGB") == "RGB" else img.convert("RGB")

    def __repr__(self) -> str:
        return "ToRGB()"



# ---------------------------------------------------------------------------------
# samplers and loaders
# ---------------------------------------------------------------------------------
class EpochSampler(Sampler[int]):
    """Indices in a fixed order, or shuffled by ``seed + epoch``.

    Unlike a sampler drawing from a running generator, the order of epoch ``e``
    depends only on ``(seed, e)``, so a resumed run sees the same batches as an
    uninterrupted one. Call :meth:`set_epoch` before each epoch (as with
    ``DistributedSampler``).
    """

    def __init__(self, n: int, shuffle: bool, seed: int = 0) -> None:
        self.n = n
        self.shuffle = shuffle
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.n))
        g = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self) -> int:
        return self.n


def _seed_worker(worker_id: int) -> None:
    # Each worker's torch seed is set by the DataLoader; derive numpy/random from it.
    import random

    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    seed: int = 0,
    num_workers: int = 0,
    drop_last: bool = False,
    distributed: bool = False,
) -> DataLoader:
    """A DataLoader with an epoch-seeded (optionally distributed) sampler.

    Call :func:`set_loader_epoch` before each epoch. With ``distributed=True``
    each rank gets its ``1 / world_size`` share (``DistributedSampler``), so
    ``batch_size`` is per rank.
    """
    if batch_size < 1:
        raise DataError(f"batch size must be at least 1, got {batch_size}")
    if distributed:
        from torch.utils.data.distributed import DistributedSampler

        sampler: Sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed, drop_last=drop_last)
    else:
        sampler = EpochSampler(len(dataset), shuffle, seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=drop_last,
        pin_memory=torch.cuda.is_available(),
        # Not persistent: each epoch's workers are seeded afresh from the global torch RNG,
        # which checkpoints capture, so a resumed run augments exactly like an uninterrupted one.
        persistent_workers=False,
        worker_init_fn=_seed_worker if num_workers > 0 else None,
    )


def set_loader_epoch(loader: DataLoader, epoch: int) -> None:
    """Tell the loader's sampler which epoch starts (reshuffles deterministically)."""
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
