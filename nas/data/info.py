"""Dataset facts: the registry of fixed datasets and the one error type of the data modules.

Kept apart from the loaders so that transforms, samplers, image folders and the
on-disk sources can all use it without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DataError", "DatasetInfo", "DATASETS", "FASHION_MNIST_FILES", "DEBIAN_FASHION_MNIST"]


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
    download_mb : float
        Size of torchvision's download in MB (0: nothing to download).
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
    download_mb: float = 0.0


FASHION_MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
"""The four original idx files of Fashion-MNIST, as the Debian package ships them."""

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
"""Where ``apt-get install dataset-fashion-mnist`` puts :data:`FASHION_MNIST_FILES`."""

DATASETS: dict[str, DatasetInfo] = {
    "cifar10": DatasetInfo(
        "cifar10", 3, 10, 32, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616),
        layout="DATA_DIR/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}",
        train_size=50_000, download_mb=170.5,
    ),
    "cifar100": DatasetInfo(
        "cifar100", 3, 100, 32, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762),
        layout="DATA_DIR/cifar-100-python/{train,test,meta}", train_size=50_000, download_mb=169.0,
    ),
    "svhn": DatasetInfo(
        "svhn", 3, 10, 32, (0.4377, 0.4438, 0.4728), (0.1980, 0.2010, 0.1970), hflip=False,
        layout="DATA_DIR/{train_32x32.mat,test_32x32.mat}", train_size=73_257, download_mb=246.3,
    ),
    "fashion-mnist": DatasetInfo(
        "fashion-mnist", 1, 10, 28, (0.2860,), (0.3530,),
        layout="DATA_DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz (the Debian package's folder) "
               "or DATA_DIR/FashionMNIST/raw/ (torchvision's)",
        train_size=60_000, download_mb=30.9,
    ),
    "digits": DatasetInfo(
        "digits", 1, 10, 8, (0.3053,), (0.3760,), hflip=False,
        layout="(bundled with scikit-learn)", train_size=1438,
    ),
}
"""Fixed datasets by name; ``imagefolder:PATH`` is described on demand."""
