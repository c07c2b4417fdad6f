"""Where dataset files come from: the default data folder, downloads, digits, Debian's Fashion-MNIST.

Without ``--data-dir`` the datasets live in one default folder, ``$XNAS_DATA``
or else ``$XDG_CACHE_HOME/xnas/data`` (``~/.cache/xnas/data``), and a missing
dataset is downloaded there, after one line on stderr saying what, how large
and where.  Fashion-MNIST is also read, as it is, from the folder of the Debian
package ``dataset-fashion-mnist`` (the four original idx ``.gz`` files).
"""

from __future__ import annotations

import gzip
import os
import sys
import tempfile
from typing import Any, Callable, Optional

import numpy as np
from torch.utils.data import Dataset

from xnas.nas.data.info import DATASETS, DEBIAN_FASHION_MNIST, FASHION_MNIST_FILES, DataError

__all__ = ["default_data_dir", "DigitsDataset", "FashionMNISTGz", "load_torchvision"]

# torchvision's download of one split, in MB, where it differs from the whole dataset's
_SPLIT_DOWNLOAD_MB = {("svhn", True): 182.0, ("svhn", False): 64.3}


def default_data_dir() -> str:
    """The data folder used without ``--data-dir``: ``$XNAS_DATA``, else a per-user cache folder."""
    env = os.environ.get("XNAS_DATA", "").strip()
    if env:
        return os.path.expanduser(env)
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "xnas", "data")


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


def _read_idx_gz(path: str, reader: Callable):
    """Decompress an idx ``.gz`` in memory and parse it with torchvision's ``reader``.

    torchvision's idx readers take a path to an uncompressed file only, so the
    bytes pass through a private temporary file that is removed at once.
    """
    try:
        with gzip.open(path, "rb") as fh:
            raw = fh.read()
        with tempfile.NamedTemporaryFile(suffix=".idx") as tmp:
            tmp.write(raw)
            tmp.flush()
            return reader(tmp.name)
    except (OSError, EOFError, AssertionError, TypeError, ValueError, RuntimeError) as exc:
        raise DataError(f"fashion-mnist: cannot read {path}: {type(exc).__name__} {exc}".strip()) from None


def _fashion_gz_present(folder: str) -> bool:
    return all(os.path.isfile(os.path.join(folder, f)) for f in FASHION_MNIST_FILES)


def _fashion_torchvision_present(folder: str) -> bool:
    raw = os.path.join(folder, "FashionMNIST", "raw")
    return all(os.path.isfile(os.path.join(raw, f[:-3])) for f in FASHION_MNIST_FILES)


def _make_fashion_gz_class():
    import torchvision.datasets as tvd
    from torchvision.datasets.mnist import read_image_file, read_label_file

    class FashionMNISTGz(tvd.FashionMNIST):
        """torchvision's ``FashionMNIST`` read from a folder of the four idx ``.gz`` files."""

        def __init__(self, folder: str, train: bool = True, transform: Optional[Callable] = None) -> None:
            tvd.VisionDataset.__init__(self, folder, transform=transform)
            self.train = train
            prefix = "train" if train else "t10k"
            self.data = _read_idx_gz(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"), read_image_file)
            self.targets = _read_idx_gz(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"), read_label_file)
            if len(self.data) != len(self.targets):
                raise DataError(f"fashion-mnist: {folder} holds {len(self.data)} {prefix} images "
                                f"but {len(self.targets)} labels")

    return FashionMNISTGz


def FashionMNISTGz(folder: str, train: bool = True, transform: Optional[Callable] = None):
    """Fashion-MNIST from ``folder``/``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``.

    This is the Debian package's layout, read in place (nothing is copied or
    unpacked on disk); images and labels are parsed by torchvision's idx readers
    and the dataset is a torchvision ``FashionMNIST``.
    """
    return _make_fashion_gz_class()(folder, train=train, transform=transform)


def _missing(name: str, data_dir: str) -> DataError:
    layout = DATASETS[name].layout.replace("DATA_DIR", data_dir.rstrip("/") or "/")
    if name == "fashion-mnist":
        return DataError(
            f"fashion-mnist data not found: expected {layout}; pass --download to fetch it, or install the Debian "
            f"package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) and pass --data-dir "
            f"{DEBIAN_FASHION_MNIST} or no --data-dir"
        )
    return DataError(f"{name} data not found: expected {layout}; pass --download to fetch it")


def _present(name: str, data_dir: str, train: bool) -> bool:
    if name == "cifar10":
        return os.path.isdir(os.path.join(data_dir, "cifar-10-batches-py"))
    if name == "cifar100":
        return os.path.isdir(os.path.join(data_dir, "cifar-100-python"))
    if name == "svhn":
        return os.path.isfile(os.path.join(data_dir, "train_32x32.mat" if train else "test_32x32.mat"))
    if name == "fashion-mnist":
        return _fashion_gz_present(data_dir) or _fashion_torchvision_present(data_dir)
    return True


def _announce(name: str, folder: str, train: bool) -> None:
    mb = _SPLIT_DOWNLOAD_MB.get((name, train), DATASETS[name].download_mb)
    print(f"downloading {name} ({mb:.0f} MB) into {folder}", file=sys.stderr, flush=True)


def _torchvision_dataset(name: str, folder: str, train: bool, transform, download: bool) -> Dataset:
    import torchvision.datasets as tvd

    if name == "cifar10":
        return tvd.CIFAR10(folder, train=train, transform=transform, download=download)
    if name == "cifar100":
        return tvd.CIFAR100(folder, train=train, transform=transform, download=download)
    if name == "svhn":
        return tvd.SVHN(folder, split="train" if train else "test", transform=transform, download=download)
    if name == "fashion-mnist":
        if not download and _fashion_gz_present(folder):
            return FashionMNISTGz(folder, train=train, transform=transform)
        return tvd.FashionMNIST(folder, train=train, transform=transform, download=download)
    raise DataError(f"unknown dataset {name!r}")  # pragma: no cover - dataset_info raised already


def load_torchvision(name: str, data_dir: Optional[str], train: bool, transform: Optional[Callable],
                     download: bool) -> Dataset:
    """One split of cifar10, cifar100, svhn or fashion-mnist.

    With ``data_dir`` given, the data must be there unless ``download``.  Without
    it, :func:`default_data_dir` is used (and, for Fashion-MNIST, the Debian
    package's folder), and missing data is downloaded into the default folder.
    """
    if data_dir is None:
        folder = default_data_dir()
        if not _present(name, folder, train):
            if name == "fashion-mnist" and _fashion_gz_present(DEBIAN_FASHION_MNIST):
                return FashionMNISTGz(DEBIAN_FASHION_MNIST, train=train, transform=transform)
            # Under torchrun only rank 0 fetches (the caller holds the others at a barrier);
            # two processes writing one archive would corrupt it.
            download = os.environ.get("RANK", "0") == "0"
            if not download:
                raise _missing(name, folder)
    else:
        folder = data_dir
        if not download and not _present(name, folder, train):
            raise _missing(name, folder)
    fetch = download and not _present(name, folder, train)
    if fetch:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise DataError(f"{name}: cannot create the data folder {folder}: {exc.strerror or exc}; "
                            "pass --data-dir DIR or set XNAS_DATA") from None
        _announce(name, folder, train)
    try:
        return _torchvision_dataset(name, folder, train, transform, download)
    except RuntimeError as exc:
        text = str(exc).lower()
        if fetch and "download" in text:
            raise _offline(name, folder, str(exc)) from None
        if "not found" in text or "corrupted" in text:
            layout = DATASETS[name].layout.replace("DATA_DIR", folder)
            raise DataError(f"{name} data missing or corrupted in {folder}: expected {layout}; "
                            "pass --download to fetch it") from None
        raise
    except OSError as exc:  # no network (URLError), a full disk, a read-only folder
        raise _offline(name, folder, str(getattr(exc, "reason", None) or exc.strerror or exc)) from None


def _offline(name: str, folder: str, reason: str) -> DataError:
    reason = reason.strip().splitlines()[-1] if reason.strip() else "no reason given"
    layout = DATASETS[name].layout.replace("DATA_DIR", folder)
    extra = " or install the Debian package dataset-fashion-mnist" if name == "fashion-mnist" else ""
    return DataError(f"{name}: could not download into {folder} ({reason}); put the files there as {layout}"
                     f"{extra}, or pass --data-dir DIR (or set XNAS_DATA) naming a folder that holds them")
