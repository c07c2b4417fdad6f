"""Training and evaluation on the shared runtime: hostile checkpoints, stops, threads, options."""

from __future__ import annotations

import json
import struct
import zipfile

import pytest
import torch
from click.testing import CliRunner

from xnas.cli.nas import main
from xnas.nas.checkpoint import load_checkpoint, save_checkpoint
from xnas.nas.runtime import nonfinite_tensors
from cli_checks import assert_one_line_exit_2

torch.set_num_threads(1)

TINY = ["--channels", "4", "--layers", "3", "--epochs", "1", "--batch-size", "16",
        "--limit", "48", "--max-steps", "2", "--device", "cpu", "--no-progress"]


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("train") / "run"
    result = invoke("train", "digits", "--out", str(out), *TINY)
    assert result.exit_code == 0, result.output
    return out


def _forged(trained, tmp_path, change) -> str:
    ckpt = load_checkpoint(trained / "checkpoint.pt")
    change(ckpt)
    path = tmp_path / "forged.pt"
    save_checkpoint(ckpt, path)
    return str(path)


@pytest.mark.parametrize("limit", ["0", "-5"])
def test_eval_rejects_a_limit_below_one(trained, limit):
    assert_one_line_exit_2(invoke("eval", str(trained / "checkpoint.pt"), "--limit", limit, "--device", "cpu"), "--limit")


@pytest.mark.parametrize("case, words", [
    ("no_model", ["model"]),
    ("input_99", ["genotype"]),
    ("huge_channels", ["architecture"]),
    ("float_channels", ["channels"]),
    ("nan_weights", ["non-finite"]),
])
def test_eval_refuses_malformed_checkpoints(trained, tmp_path, case, words):
    def change(ckpt):
        if case == "no_model":
            del ckpt["model"]
        elif case == "input_99":
            normal = ckpt["arch"]["genotype"]["normal"]
            normal[0] = [normal[0][0], 99]
        elif case == "huge_channels":
            ckpt["arch"]["channels"] = 1_000_000
        elif case == "float_channels":
            ckpt["arch"]["channels"] = 1e6
        else:
            first = next(k for k, v in ckpt["model"].items() if v.is_floating_point())
            ckpt["model"][first] = torch.full_like(ckpt["model"][first], float("nan"))

    path = _forged(trained, tmp_path, change)
    assert_one_line_exit_2(invoke("eval", path, "--limit", "16", "--device", "cpu"), *words)


def test_resume_refuses_a_checkpoint_without_model(trained, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(trained, out)
    ckpt = load_checkpoint(out / "checkpoint.pt")
    del ckpt["model"]
    save_checkpoint(ckpt, out / "checkpoint.pt")
    assert_one_line_exit_2(invoke("train", "digits", "--out", str(out), "--resume", "--epochs", "2",
                            "--device", "cpu", "--no-progress"), "model")


def _flip_byte_in_largest_member(path):
    with zipfile.ZipFile(path) as z:
        info = max(z.infolist(), key=lambda i: i.file_size)
    data = bytearray(open(path, "rb").read())
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    data[start + info.file_size // 2] ^= 0x01
    open(path, "wb").write(bytes(data))


def test_a_flipped_byte_inside_a_tensor_is_refused(trained, tmp_path):
    path = _forged(trained, tmp_path, lambda c: None)
    _flip_byte_in_largest_member(path)
    assert_one_line_exit_2(invoke("eval", path, "--limit", "16", "--device", "cpu"), "CRC")


def test_train_resume_on_a_search_folder_says_so(tmp_path):
    out = tmp_path / "search"
    out.mkdir()
    (out / "config.json").write_text(json.dumps({"config": {"dataset": "digits"}, "resolved": {}}))
    assert_one_line_exit_2(invoke("train", "digits", "--out", str(out), "--resume", "--no-progress"), "search folder")


@pytest.mark.parametrize("command", ["train", "params"])
def test_short_L_is_not_layers_any_more(tmp_path, command):
    args = [command, "digits", "--out", str(tmp_path / "x")] if command == "train" else [command]
    assert_one_line_exit_2(invoke(*args, "-L", "1"), "--layers")


@pytest.mark.parametrize("lr", ["1e6", "1e12"])
def test_nonfinite_stop_keeps_only_a_good_checkpoint(tmp_path, lr):
    out = tmp_path / "run"
    result = invoke("train", "digits", "--out", str(out), "--lr", lr, *TINY[:4], "--epochs", "3",
                    *TINY[6:])
    assert result.exit_code == 1, result.output
    path = out / "checkpoint.pt"
    if path.exists():
        ckpt = load_checkpoint(path)
        assert nonfinite_tensors(ckpt["model"]) == []
        assert all(r["test_loss"] is None or r["test_loss"] == r["test_loss"] for r in ckpt["history"])
        assert f"after epoch {ckpt['epoch']}) was kept" in result.output
        ev = invoke("eval", str(path), "--limit", "16", "--device", "cpu")
        assert ev.exit_code == 0
    else:
        assert "no checkpoint was written" in result.output


def test_full_disk_during_a_training_checkpoint(tmp_path, monkeypatch):
    import errno

    import xnas.nas.checkpoint as checkpoint_module

    def full(obj, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module, "save_checkpoint", full)
    result = invoke("train", "digits", "--out", str(tmp_path / "run"), *TINY)
    assert result.exit_code == 1
    assert "disk is full" in result.output and "no checkpoint was written" in result.output


def test_train_and_eval_take_threads(trained, tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", lambda n: calls.append(n))
    result = invoke("train", "digits", "--out", str(tmp_path / "run"), "--threads", "2", *TINY)
    assert result.exit_code == 0, result.output
    assert calls == [2]
    calls.clear()
    ev = invoke("eval", str(trained / "checkpoint.pt"), "--limit", "16", "--device", "cpu")
    assert ev.exit_code == 0 and calls == [1]  # digits: the default policy, one thread, as on search


def test_unusable_out_for_train(tmp_path):
    assert_one_line_exit_2(invoke("train", "digits", "--out", "/dev/null/x", *TINY), "cannot be written")
