"""Default data folder, downloads (faked), Fashion-MNIST from idx .gz files, bad images.

No test touches the network or needs the real Fashion-MNIST: downloads are
monkeypatched and every file is generated here.
"""

from __future__ import annotations

import gzip
import struct
import urllib.error
import zlib

import numpy as np
import pytest
import torch

import xnas.nas.data.sources as sources
from xnas.nas.data.datasets import DataError, dataset_info, default_data_dir, load_dataset

torch.set_num_threads(1)


def _idx(images: np.ndarray | None = None, labels: np.ndarray | None = None) -> bytes:
    if images is not None:
        n, h, w = images.shape
        return struct.pack(">IIII", 0x803, n, h, w) + images.astype(np.uint8).tobytes()
    return struct.pack(">II", 0x801, len(labels)) + labels.astype(np.uint8).tobytes()


def _write_fashion(folder, gz: bool, sizes=(("train", 6), ("t10k", 3))) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for prefix, n in sizes:
        files = {
            f"{prefix}-images-idx3-ubyte": _idx(images=rng.integers(0, 256, size=(n, 28, 28))),
            f"{prefix}-labels-idx1-ubyte": _idx(labels=np.arange(n) % 10),
        }
        for name, data in files.items():
            if gz:
                (folder / (name + ".gz")).write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)


@pytest.fixture
def no_debian(tmp_path, monkeypatch):
    """Hide the real Debian package (if installed) and isolate the default folder."""
    monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST", str(tmp_path / "no-debian"))
    monkeypatch.setenv("XNAS_DATA", str(tmp_path / "default"))
    return tmp_path


def test_default_data_dir(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XNAS_DATA", str(tmp_path / "mine"))
    assert default_data_dir() == str(tmp_path / "mine")
    monkeypatch.delenv("XNAS_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_data_dir() == str(tmp_path / "cache" / "xnas" / "data")


def test_fashion_mnist_from_debian_gz_folder(tmp_path, no_debian) -> None:
    folder = tmp_path / "debian"
    _write_fashion(folder, gz=True)
    train = load_dataset("fashion-mnist", str(folder), train=True)
    test = load_dataset("fashion-mnist", str(folder), train=False)
    assert len(train) == 6 and len(test) == 3
    x, y = train[1]
    assert x.shape == (1, 28, 28) and y == 1
    assert sorted(p.name for p in folder.iterdir()) == sorted(sources.FASHION_MNIST_FILES)  # nothing unpacked


def test_fashion_mnist_debian_found_by_default(tmp_path, monkeypatch, no_debian) -> None:
    folder = tmp_path / "usr-share"
    _write_fashion(folder, gz=True)
    monkeypatch.setattr(sources, "DEBIAN_FASHION_MNIST", str(folder))
    assert len(load_dataset("fashion-mnist", None, train=True)) == 6


def test_fashion_mnist_missing_names_download_and_package(tmp_path, no_debian) -> None:
    with pytest.raises(DataError) as info:
        load_dataset("fashion-mnist", str(tmp_path / "empty"), train=True)
    message = str(info.value)
    assert "\n" not in message and "--download" in message and "dataset-fashion-mnist" in message


def test_fashion_mnist_bad_gz_is_one_line(tmp_path, no_debian) -> None:
    folder = tmp_path / "broken"
    _write_fashion(folder, gz=True)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz"):
        load_dataset("fashion-mnist", str(folder), train=True)


def _fake_fashion_download(self) -> None:
    """Stand-in for torchvision's FashionMNIST.download: writes small unpacked idx files."""
    import pathlib

    _write_fashion(pathlib.Path(self.raw_folder), gz=False)


def test_default_folder_downloads_with_one_line(no_debian, monkeypatch, capsys) -> None:
    import torchvision.datasets as tvd

    monkeypatch.setattr(tvd.FashionMNIST, "download", _fake_fashion_download)
    train = load_dataset("fashion-mnist", None, train=True)
    assert len(train) == 6
    err = capsys.readouterr().err.strip().splitlines()
    default = str(no_debian / "default")
    assert len(err) == 1 and "fashion-mnist" in err[0] and "MB" in err[0] and default in err[0]
    # a second load finds the data and prints nothing
    load_dataset("fashion-mnist", None, train=False)
    assert capsys.readouterr().err == ""


def test_offline_download_names_the_folder(no_debian, monkeypatch) -> None:
    import torchvision.datasets as tvd

    def offline(self) -> None:
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(tvd.CIFAR10, "download", offline)
    with pytest.raises(DataError) as info:
        load_dataset("cifar10", None, train=True)
    message = str(info.value)
    assert "\n" not in message and str(no_debian / "default") in message and "--data-dir" in message


def test_explicit_data_dir_with_download_still_fetches(tmp_path, no_debian, monkeypatch, capsys) -> None:
    import torchvision.datasets as tvd

    monkeypatch.setattr(tvd.FashionMNIST, "download", _fake_fashion_download)
    assert len(load_dataset("fashion-mnist", str(tmp_path / "mine"), train=True, download=True)) == 6
    assert str(tmp_path / "mine") in capsys.readouterr().err


# ------------------------------------------------------------------ image folders
def _image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(3)
    for split in ("train", "test"):
        for cls in ("a", "b"):
            folder = tmp_path / "imgs" / split / cls
            folder.mkdir(parents=True)
            for i in range(2):
                Image.fromarray(rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return tmp_path / "imgs"


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels: a decompression bomb to PIL."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.mark.parametrize("kind", ["undecodable", "bomb", "truncated"])
def test_bad_image_named_when_indexed(tmp_path, kind) -> None:
    root = _image_folder(tmp_path)
    bad = root / "train" / "b" / "9.png"
    if kind == "undecodable":
        bad.write_bytes(b"this is not an image")
    elif kind == "bomb":
        bad.write_bytes(_png_header_only(100_000, 100_000))
    else:
        good = (root / "train" / "a" / "0.png").read_bytes()
        bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError) as info:
        load_dataset(f"imagefolder:{root}", None, train=True)
    message = str(info.value)
    assert "\n" not in message and str(bad) in message
    if kind == "bomb":
        assert "decompression bomb" in message
    assert len(load_dataset(f"imagefolder:{root}", None, train=False)) == 4  # the test split is fine


def test_bad_first_image_in_dataset_info(tmp_path) -> None:
    root = _image_folder(tmp_path)
    (root / "train" / "a" / "0.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match="0.png"):
        dataset_info(f"imagefolder:{root}")


def test_search_cifar10_as_typed_offline_is_one_error_line(no_debian, monkeypatch, tmp_path) -> None:
    """`xnas-nas search cifar10` tries the default folder; offline it names it and stops (exit 2)."""
    import torchvision.datasets as tvd
    from click.testing import CliRunner

    from xnas.cli.nas import main

    def offline(self) -> None:
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(tvd.CIFAR10, "download", offline)
    res = CliRunner().invoke(main, ["search", "cifar10", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    default = str(no_debian / "default")
    assert lines[0].startswith("downloading cifar10 (170 MB) into " + default)
    assert len(lines) == 2 and lines[1].startswith("error:") and default in lines[1] and "--data-dir" in lines[1]
    assert not (tmp_path / "o" / "checkpoint.pt").exists()
