"""Datasets: digits, fake torchvision datasets in their real on-disk formats, image folders.

torchvision checks CIFAR-10 and SVHN files against the md5 sums of the real
downloads. The tests write small files in the real formats and point
torchvision's checksum tables at *their* md5 sums (monkeypatch, test-only), so the
real integrity check still runs, on the test files; the shipped loader is not
weakened. Fashion-MNIST has no md5 check on the uncompressed files, so it
needs no patch.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import struct

import numpy as np
import pytest
import torch

from xnas.nas.data.datasets import (
    DATASETS,
    DataError,
    dataset_info,
    default_transform,
    load_dataset,
    make_loader,
    search_splits,
    set_loader_epoch,
)

torch.set_num_threads(1)


def _md5(path) -> str:
    return hashlib.md5(open(path, "rb").read()).hexdigest()


@pytest.fixture
def fake_cifar10(tmp_path, monkeypatch):
    import torchvision.datasets as tvd

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    train_list, test_list = [], []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        n = 4
        entry = {
            "data": rng.integers(0, 256, size=(n, 3072), dtype=np.uint8),
            "labels": [int(x) for x in rng.integers(0, 10, size=n)],
        }
        with open(folder / name, "wb") as fh:
            pickle.dump(entry, fh)
        (test_list if name == "test_batch" else train_list).append([name, _md5(folder / name)])
    with open(folder / "batches.meta", "wb") as fh:
        pickle.dump({"label_names": [f"c{i}" for i in range(10)]}, fh)
    monkeypatch.setattr(tvd.CIFAR10, "train_list", train_list)
    monkeypatch.setattr(tvd.CIFAR10, "test_list", test_list)
    monkeypatch.setattr(
        tvd.CIFAR10, "meta", {"filename": "batches.meta", "key": "label_names", "md5": _md5(folder / "batches.meta")}
    )
    return tmp_path


def test_digits_split_is_real_and_deterministic() -> None:
    train = load_dataset("digits", None, train=True)
    test = load_dataset("digits", None, train=False)
    assert len(train) + len(test) == 1797
    assert len(test) == 359 or len(test) == 360
    x, y = train[0]
    assert x.shape == (1, 8, 8) and 0 <= y < 10
    assert sorted(set(test.targets)) == list(range(10))
    again = load_dataset("digits", None, train=True)
    assert torch.equal(again[5][0], train[5][0])
    info = dataset_info("digits")
    assert (info.channels, info.num_classes, info.image_size) == (1, 10, 8)


def test_search_splits_are_disjoint_and_seeded() -> None:
    a_train, a_valid, info = search_splits("digits", None, seed=3)
    b_train, b_valid, _ = search_splits("digits", None, seed=3)
    c_train, _, _ = search_splits("digits", None, seed=4)
    assert a_train.indices == b_train.indices and a_valid.indices == b_valid.indices
    assert a_train.indices != c_train.indices
    assert not set(a_train.indices) & set(a_valid.indices)
    assert len(a_train) + len(a_valid) == info.train_size
    assert abs(len(a_train) - len(a_valid)) <= 1
    small_train, small_valid, _ = search_splits("digits", None, seed=3, limit=40)
    assert len(small_train) == 20 and len(small_valid) == 20


def test_loader_epochs_are_reproducible() -> None:
    data = torch.utils.data.TensorDataset(torch.arange(20))
    loader = make_loader(data, 5, shuffle=True, seed=1)
    set_loader_epoch(loader, 0)
    e0 = torch.cat([b[0] for b in loader]).tolist()
    set_loader_epoch(loader, 1)
    e1 = torch.cat([b[0] for b in loader]).tolist()
    set_loader_epoch(loader, 0)
    assert torch.cat([b[0] for b in loader]).tolist() == e0
    assert e0 != e1 and sorted(e0) == list(range(20))


def test_fake_cifar10_on_disk(fake_cifar10) -> None:
    train = load_dataset("cifar10", str(fake_cifar10), train=True)
    test = load_dataset("cifar10", str(fake_cifar10), train=False)
    assert len(train) == 20 and len(test) == 4
    x, y = train[0]
    assert x.shape == (3, 32, 32) and 0 <= y < 10
    info = dataset_info("cifar10")
    t = default_transform(info, train=True, cutout=16, autoaugment=True)
    aug = load_dataset("cifar10", str(fake_cifar10), train=True, transform=t)
    assert aug[1][0].shape == (3, 32, 32)
    tr, va, _ = search_splits("cifar10", str(fake_cifar10), seed=0)
    assert len(tr) == 10 and len(va) == 10


def test_corrupted_cifar10_is_a_data_error(fake_cifar10) -> None:
    with open(fake_cifar10 / "cifar-10-batches-py" / "data_batch_2", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(DataError, match="--download"):
        load_dataset("cifar10", str(fake_cifar10), train=True)


def test_fake_fashion_mnist_on_disk(tmp_path) -> None:
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for prefix, n in (("train", 6), ("t10k", 3)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, n, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, n) + labels.tobytes())
    train = load_dataset("fashion-mnist", str(tmp_path), train=True)
    test = load_dataset("fashion-mnist", str(tmp_path), train=False)
    assert len(train) == 6 and len(test) == 3
    assert train[0][0].shape == (1, 28, 28)


def test_fake_svhn_on_disk(tmp_path, monkeypatch) -> None:
    import scipy.io
    import torchvision.datasets as tvd

    rng = np.random.default_rng(2)
    table = {}
    for split, n in (("train", 5), ("test", 2)):
        path = tmp_path / f"{split}_32x32.mat"
        scipy.io.savemat(path, {"X": rng.integers(0, 256, size=(32, 32, 3, n), dtype=np.uint8),
                                "y": rng.integers(1, 11, size=(n, 1)).astype(np.uint8)})
        table[split] = ["unused-url", path.name, _md5(path)]
    monkeypatch.setattr(tvd.SVHN, "split_list", table)
    train = load_dataset("svhn", str(tmp_path), train=True)
    assert len(train) == 5 and train[0][0].shape == (3, 32, 32)
    assert all(0 <= train[i][1] < 10 for i in range(5))


def test_imagefolder(tmp_path) -> None:
    from PIL import Image

    rng = np.random.default_rng(3)
    for split in ("train", "val"):
        for cls in ("apple", "pear", "plum"):
            folder = tmp_path / "groceries" / split / cls
            folder.mkdir(parents=True)
            for i in range(2):
                Image.fromarray(rng.integers(0, 256, size=(12, 12, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    spec = f"imagefolder:{tmp_path / 'groceries'}"
    info = dataset_info(spec)
    assert (info.channels, info.num_classes, info.image_size, info.test_split) == (3, 3, 12, "val")
    train = load_dataset(spec, None, train=True)
    test = load_dataset(spec, None, train=False)
    assert len(train) == 6 and len(test) == 6 and train[0][0].shape == (3, 12, 12)
    # a relative PATH is looked up under data_dir
    assert dataset_info("imagefolder:groceries", str(tmp_path)).num_classes == 3
    with pytest.raises(DataError, match="train/<class>"):
        dataset_info(f"imagefolder:{tmp_path / 'nothing'}")


@pytest.mark.parametrize("name", [n for n in DATASETS if n != "digits"])
def test_missing_data_message(name: str, tmp_path) -> None:
    with pytest.raises(DataError) as info:
        load_dataset(name, str(tmp_path / "empty"), train=True)
    message = str(info.value)
    assert "\n" not in message and "--download" in message and "expected" in message
    assert str(tmp_path / "empty") in message


def test_unknown_dataset() -> None:
    with pytest.raises(DataError, match="choose from"):
        dataset_info("mnist-but-not")
    assert all(DATASETS[n].name == n for n in DATASETS)
