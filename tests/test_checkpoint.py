"""Atomic, weights_only checkpoints and RNG capture/restore."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch

from xnas.nas.checkpoint import (
    CheckpointError,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)


def test_round_trip_with_rng_state(tmp_path) -> None:
    path = tmp_path / "sub" / "ckpt.pt"
    obj = {"model": {"w": torch.arange(6.0)}, "epoch": 3, "name": "x", "rng": capture_rng_state()}
    save_checkpoint(obj, path)
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["model"]["w"], obj["model"]["w"]) and loaded["epoch"] == 3
    assert [p.name for p in path.parent.iterdir()] == ["ckpt.pt"]  # no temp file left


def test_rng_restore_reproduces_all_generators(tmp_path) -> None:
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    random.gauss(0, 1)  # leaves a cached gaussian in python's state
    save_checkpoint({"rng": capture_rng_state()}, tmp_path / "r.pt")
    expected = (torch.rand(3), np.random.rand(3), random.random(), random.gauss(0, 1), np.random.randn())
    torch.rand(5), np.random.rand(5), random.random()
    restore_rng_state(load_checkpoint(tmp_path / "r.pt")["rng"])
    got = (torch.rand(3), np.random.rand(3), random.random(), random.gauss(0, 1), np.random.randn())
    assert torch.equal(expected[0], got[0])
    assert np.array_equal(expected[1], got[1])
    assert expected[2:] == got[2:]


def test_overwrite_is_atomic_on_failure(tmp_path, monkeypatch) -> None:
    path = tmp_path / "ckpt.pt"
    save_checkpoint({"epoch": 1}, path)

    def broken_save(obj, fh):
        fh.write(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(RuntimeError, match="disk full"):
        save_checkpoint({"epoch": 2}, path)
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1
    assert os.listdir(tmp_path) == ["ckpt.pt"]


def test_missing_and_corrupt(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(bad)
    assert "\n" not in str(info.value)
    path = tmp_path / "ok.pt"
    save_checkpoint({"w": torch.ones(1000)}, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(path)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_arbitrary_objects_are_refused(tmp_path) -> None:
    path = tmp_path / "evil.pt"
    torch.save({"x": _Evil()}, path)
    with pytest.raises(CheckpointError, match="safely"):
        load_checkpoint(path)


def test_malformed_rng_state() -> None:
    with pytest.raises(CheckpointError):
        restore_rng_state({"torch": torch.get_rng_state()})
