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
    ``DATA_DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``, the four original
    idx files as the Debian package ``dataset-fashion-mnist`` installs them in
    ``/usr/share/datasets/fashion-mnist`` (read in place), or torchvision's
    ``DATA_DIR/FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``
``imagefolder:PATH``
    ``PATH/train/<class>/*.png|jpg`` and ``PATH/test/<class>/...`` (or ``PATH/val``),
    one folder per class (CINIC-10, Freiburg groceries, ImageNet, your own data).
    A relative ``PATH`` that does not exist is looked up under ``DATA_DIR``.
    Every image is opened and verified when the folder is indexed: an
    undecodable file or a decompression bomb is named in one line before any work.
    Images up to 64 pixels keep their size (random crop with padding 4 when
    training); larger ones are trained at 224 (random resized crop) and tested
    with a 256 resize and a centre crop.
``digits``
    scikit-learn's bundled 8x8 grayscale digits (1797 images, 10 classes): real
    data needing no download. The last 20 % (359 images) are the test split.

Without ``data_dir`` the torchvision datasets use a default folder,
``$XNAS_DATA`` or else ``~/.cache/xnas/data`` (:func:`default_data_dir`), and a
missing dataset is downloaded there after one line on stderr (what, how large,
where); Fashion-MNIST is first looked for in the Debian package's folder.

The code is split by concern: :mod:`xnas.nas.data.info` (registry),
:mod:`xnas.nas.data.sources` (folders, downloads, digits, Fashion-MNIST idx),
:mod:`xnas.nas.data.images` (image folders), :mod:`xnas.nas.data.loaders`
(transforms, samplers, loaders).  This module joins them and re-exports all.

Every dataset yields ``(PIL image, int label)`` pairs, so the same transforms
apply to all of them.
"""


from __future__ import annotations

import math
from dataclasses import replace
from typing import Callable, Optional

import torch
from torch.utils.data import Dataset, Subset

from xnas.nas.data.images import imagefolder_info, load_imagefolder
from xnas.nas.data.info import DATASETS, DataError, DatasetInfo
from xnas.nas.data.sources import DigitsDataset, FashionMNISTGz, default_data_dir, load_torchvision
from xnas.nas.data.loaders import Cutout, EpochSampler, default_transform, make_loader, set_loader_epoch

__all__ = [
    "DataError",
    "DatasetInfo",
    "DATASETS",
    "dataset_info",
    "default_data_dir",
    "load_dataset",
    "default_transform",
    "Cutout",
    "EpochSampler",
    "FashionMNISTGz",
    "search_splits",
    "make_loader",
    "set_loader_epoch",
    "DigitsDataset",
]


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
        return imagefolder_info(name, data_dir)
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(
            f"unknown dataset {name!r}; choose from {', '.join(DATASETS)} or imagefolder:PATH"
        ) from None


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
        Root folder (see the module docstring for each layout); ``None`` uses
        :func:`default_data_dir` and downloads missing data there; unused for digits.
    train : bool
        The training split, else the held-out split (``DatasetInfo.test_split``).
    transform : callable, optional
        Applied to each PIL image; ``None`` gives :func:`default_transform` without augmentation.
    download : bool
        Let torchvision download the data into ``data_dir``.

    Raises
    ------
    DataError
        When the data is missing, corrupted or cannot be downloaded, or an image
        of an image folder is unusable (one line naming the folder or the file).
    """
    info = dataset_info(name, data_dir)
    if transform is None:
        transform = default_transform(info, train=False)
    if name == "digits":
        return DigitsDataset(train=train, transform=transform)
    if name.startswith("imagefolder:"):
        return load_imagefolder(name, data_dir, train, transform, info)
    return load_torchvision(name, data_dir, train, transform, download)


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
