"""Datasets for search and training: a registry of dataset facts, loaders and splits.

Supported names and the layout each expects under ``data_dir`` (torchvision's
own layouts, so a folder filled by ``--download`` or by an earlier torchvision
run works as-is):

``cifar10``
    ``DATA_DIR/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}``
``cifar100``
    ``DATA_DIR/cifar-100-python/{train,test,meta}``
``svhn``
    ``DATA_DIR/train_32x32.mat`` and ``DATA_DIR/test_32x32.mat``
``fashion-mnist``
    ``DATA_DIR/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``
``imagefolder:PATH``
    ``PATH/train/<class>/*.png|jpg`` and ``PATH/test/<class>/...`` (or ``PATH/val``),
    one folder per class (CINIC-10, Freiburg groceries, ImageNet, your own data).
    A relative ``PATH`` that does not exist is looked up under ``DATA_DIR``.
    Images up to 64 pixels keep their size (random crop with padding 4 when
    training); larger ones are trained at 224 (random resized crop) and tested
    with a 256 resize and a centre crop.
``digits``
    scikit-learn's bundled 8x8 grayscale digits (1797 images, 10 classes): real
    data needing no download. The last 20 % (359 images) are the test split.

Every dataset yields ``(PIL image, int label)`` pairs, so the same transforms
apply to all of them.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterator, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

__all__ = [
    "DataError",
    "DatasetInfo",
    "DATASETS",
    "dataset_info",
    "load_dataset",
    "default_transform",
    "Cutout",
    "search_splits",
    "make_loader",
    "set_loader_epoch",
    "DigitsDataset",
]


class DataError(ValueError):
    """Missing or unusable data; the message is one line for the user."""


@dataclass(frozen=True)
class DatasetInfo:
    """Facts about a dataset that networks and transforms need.

    Attributes
    ----------
    name : str
        Registry name (``imagefolder:PATH`` for image folders).
    channels, num_classes, image_size : int
        Input channels, classes and the (square) training resolution.
    mean, std : tuple of float
        Per-channel normalisation.
    test_split : str
        Name of the held-out split that ``train=False`` loads.
    hflip : bool
        Whether horizontal flips are label-preserving (not for digits).
    layout : str
        The expected files under ``data_dir``, for error messages.
    train_size : int
        Number of training images (0 when unknown until loaded).
    """

    name: str
    channels: int
    num_classes: int
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    test_split: str = "test"
    hflip: bool = True
    layout: str = ""
    train_size: int = 0


DATASETS: dict[str, DatasetInfo] = {
    "cifar10": DatasetInfo(
        "cifar10", 3, 10, 32, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616),
        layout="DATA_DIR/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}",
        train_size=50_000,
    ),
    "cifar100": DatasetInfo(
        "cifar100", 3, 100, 32, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762),
        layout="DATA_DIR/cifar-100-python/{train,test,meta}", train_size=50_000,
    ),
    "svhn": DatasetInfo(
        "svhn", 3, 10, 32, (0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970), hflip=False,
        layout="DATA_DIR/{train_32x32.mat,test_32x32.mat}", train_size=73_257,
    ),
    "fashion-mnist": DatasetInfo(
        "fashion-mnist", 1, 10, 28, (0.2860,), (0.3530,),
        layout="DATA_DIR/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte",
        train_size=60_000,
    ),
    "digits": DatasetInfo(
        "digits", 1, 10, 8, (0.3053,), (0.3760,), hflip=False,
        layout="(bundled with scikit-learn)", train_size=1438,
    ),
}
"""Fixed datasets by name; ``imagefolder:PATH`` is described on demand."""

_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")


# ---------------------------------------------------------------------------------
# digits
# ---------------------------------------------------------------------------------
class DigitsDataset(Dataset):
    """scikit-learn's 8x8 digits as 8-bit grayscale PIL images.

    Pixel values 0..16 are scaled to 0..255. The split is deterministic: the
    first 80 % of the bundled order (1438 images) train, the rest (359) test.
    """

    TEST_FRACTION = 0.2

    def __init__(self, train: bool = True, transform: Optional[Callable] = None) -> None:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
        labels = bunch.target.astype(np.int64)
        n_test = int(round(len(images) * self.TEST_FRACTION))
        cut = len(images) - n_test
        sl = slice(0, cut) if train else slice(cut, None)
        self.data = images[sl]
        self.targets = [int(t) for t in labels[sl]]
        self.transform = transform
        self.classes = [str(i) for i in range(10)]

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        from PIL import Image

        img = Image.fromarray(self.data[index], mode="L")
        if self.transform is not None:
            img = self.transform(img)
        return img, self.targets[index]


# ---------------------------------------------------------------------------------
# info and loading
# ---------------------------------------------------------------------------------
def _imagefolder_root(spec: str, data_dir: Optional[str]) -> str:
    path = spec.split(":", 1)[1]
    if not path:
        raise DataError("imagefolder needs a path: imagefolder:PATH with PATH/train/<class>/ images")
    if not os.path.isdir(path) and data_dir and not os.path.isabs(path):
        candidate = os.path.join(data_dir, path)
        if os.path.isdir(candidate):
            return candidate
    return path


def _imagefolder_split_dir(root: str, train: bool) -> str:
    if train:
        return os.path.join(root, "train")
    for name in ("test", "val"):
        if os.path.isdir(os.path.join(root, name)):
            return os.path.join(root, name)
    return os.path.join(root, "test")


def _imagefolder_layout(root: str) -> str:
    return f"{root}/train/<class>/*.png and {root}/test/<class>/ (or {root}/val/<class>/)"


def _class_dirs(split_dir: str) -> list[str]:
    return sorted(
        d for d in os.listdir(split_dir) if os.path.isdir(os.path.join(split_dir, d)) and not d.startswith(".")
    )


def dataset_info(name: str, data_dir: Optional[str] = None) -> DatasetInfo:
    """Describe a dataset by name.

    For ``imagefolder:PATH`` the class count, channels and resolution are read
    from ``PATH/train`` (one sub-folder per class; the first image gives the size).

    Raises
    ------
    DataError
        For an unknown name or an unusable image folder.
    """
    if name.startswith("imagefolder:"):
        root = _imagefolder_root(name, data_dir)
        train_dir = os.path.join(root, "train")
        layout = _imagefolder_layout(root)
        if not os.path.isdir(train_dir):
            raise DataError(f"image folder not found: expected {layout}")
        classes = _class_dirs(train_dir)
        if len(classes) < 2:
            raise DataError(f"image folder {train_dir} needs at least 2 class folders; expected {layout}")
        first = None
        n_images = 0
        for cls in classes:
            for fname in sorted(os.listdir(os.path.join(train_dir, cls))):
                if fname.lower().endswith(_IMAGE_EXTENSIONS):
                    n_images += 1
                    first = first or os.path.join(train_dir, cls, fname)
        if first is None:
            raise DataError(f"image folder {train_dir} holds no images; expected {layout}")
        from PIL import Image

        with Image.open(first) as img:
            size = min(img.size)
            channels = 1 if img.mode in ("L", "I", "F", "1") else 3
        image_size = size if size <= 64 else 224
        if channels == 1:
            mean, std = (0.5,), (0.25,)
        else:  # the ImageNet statistics, the usual default for natural images
            mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
        return DatasetInfo(
            name, channels, len(classes), image_size, mean, std,
            test_split=os.path.basename(_imagefolder_split_dir(root, False)),
            layout=layout, train_size=n_images,
        )
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(
            f"unknown dataset {name!r}; choose from {', '.join(DATASETS)} or imagefolder:PATH"
        ) from None


def _missing(info: DatasetInfo, data_dir: str) -> DataError:
    layout = info.layout.replace("DATA_DIR", data_dir.rstrip("/") or "/")
    return DataError(f"{info.name} data not found: expected {layout}; pass --download to fetch it")


def _expected_present(name: str, data_dir: str, train: bool) -> bool:
    if name == "cifar10":
        return os.path.isdir(os.path.join(data_dir, "cifar-10-batches-py"))
    if name == "cifar100":
        return os.path.isdir(os.path.join(data_dir, "cifar-100-python"))
    if name == "svhn":
        return os.path.isfile(os.path.join(data_dir, "train_32x32.mat" if train else "test_32x32.mat"))
    if name == "fashion-mnist":
        return os.path.isdir(os.path.join(data_dir, "FashionMNIST", "raw"))
    return True


def load_dataset(
    name: str,
    data_dir: Optional[str],
    train: bool,
    transform: Optional[Callable] = None,
    download: bool = False,
) -> Dataset:
    """Load the train or the test split of a dataset.

    Parameters
    ----------
    name : str
        A registry name or ``imagefolder:PATH``.
    data_dir : str or None
        Root folder (see the module docstring for each layout); unused for digits.
    train : bool
        The training split, else the held-out split (``DatasetInfo.test_split``).
    transform : callable, optional
        Applied to each PIL image; ``None`` gives :func:`default_transform` without augmentation.
    download : bool
        Let torchvision download the data into ``data_dir``.

    Raises
    ------
    DataError
        When the data is missing or corrupted (one line naming the expected layout).
    """
    info = dataset_info(name, data_dir)
    if transform is None:
        transform = default_transform(info, train=False)
    if name == "digits":
        return DigitsDataset(train=train, transform=transform)
    import torchvision.datasets as tvd

    if name.startswith("imagefolder:"):
        root = _imagefolder_root(name, data_dir)
        split_dir = _imagefolder_split_dir(root, train)
        if not os.path.isdir(split_dir):
            raise DataError(f"image folder split not found: expected {info.layout}")
        dataset = tvd.ImageFolder(split_dir, transform=transform)
        if not train and len(dataset.classes) != info.num_classes:
            raise DataError(
                f"{split_dir} has {len(dataset.classes)} classes but {root}/train has {info.num_classes}"
            )
        return dataset
    if data_dir is None:
        raise DataError(f"{name} needs --data-dir: expected {info.layout}; pass --download to fetch it")
    if not download and not _expected_present(name, data_dir, train):
        raise _missing(info, data_dir)
    try:
        if name == "cifar10":
            return tvd.CIFAR10(data_dir, train=train, transform=transform, download=download)
        if name == "cifar100":
            return tvd.CIFAR100(data_dir, train=train, transform=transform, download=download)
        if name == "svhn":
            return tvd.SVHN(data_dir, split="train" if train else "test", transform=transform, download=download)
        if name == "fashion-mnist":
            return tvd.FashionMNIST(data_dir, train=train, transform=transform, download=download)
    except RuntimeError as exc:
        if "not found" in str(exc).lower() or "corrupted" in str(exc).lower():
            raise DataError(
                f"{name} data missing or corrupted in {data_dir}: expected "
                f"{info.layout.replace('DATA_DIR', data_dir)}; pass --download to fetch it"
            ) from None
        raise
    except OSError as exc:  # e.g. no network while downloading
        raise DataError(f"{name}: cannot read or download data in {data_dir}: {exc}") from None
    raise DataError(f"unknown dataset {name!r}")  # pragma: no cover - dataset_info raised already


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
# search split, samplers, loaders
# ---------------------------------------------------------------------------------
def search_splits(
    name: str,
    data_dir: Optional[str],
    split: float = 0.5,
    seed: int = 0,
    download: bool = False,
    limit: Optional[int] = None,
    transform: Optional[Callable] = None,
) -> tuple[Subset, Subset, DatasetInfo]:
    """Split the TRAIN set into a weight-training and an architecture-validation part.

    The paper (after DARTS) splits CIFAR-10's 50,000 training images 50/50.
    The split is a seeded permutation, so the same seed gives the same halves.

    Parameters
    ----------
    split : float
        Fraction of the (limited) training set in the first part, in (0, 1).
    seed : int
        Seed of the permutation.
    limit : int, optional
        Use only this many training images (the first ``limit`` of the
        permutation) before splitting: quick runs and tests.
    transform : callable, optional
        Defaults to :func:`default_transform` with ``train=True`` (crop, flip).

    Returns
    -------
    (train_subset, valid_subset, info)
    """
    if not 0.0 < split < 1.0:
        raise DataError(f"split must be in (0, 1), got {split}")
    info = dataset_info(name, data_dir)
    if transform is None:
        transform = default_transform(info, train=True)
    full = load_dataset(name, data_dir, train=True, transform=transform, download=download)
    n = len(full)
    generator = torch.Generator().manual_seed(int(seed))
    order = torch.randperm(n, generator=generator).tolist()
    if limit is not None:
        if limit < 2:
            raise DataError(f"limit must be at least 2, got {limit}")
        order = order[: min(limit, n)]
    cut = int(math.floor(len(order) * split))
    cut = min(max(cut, 1), len(order) - 1)
    return Subset(full, order[:cut]), Subset(full, order[cut:]), replace(info, train_size=n)


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
