"""``xnas-nas train / eval / params`` through click's CliRunner."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner

from xnas.cli.nas import main
from xnas.nas.spaces.darts.genotypes import GENOTYPES

torch.set_num_threads(1)

TINY = ["--channels", "4", "--layers", "3", "--epochs", "2", "--batch-size", "16",
        "--limit", "48", "--max-steps", "2", "--device", "cpu", "--no-progress"]


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_module_does_not_import_torch() -> None:
    code = "import sys, xnas.cli.nas_train; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_train_eval_params_round_trip(tmp_path) -> None:
    out = tmp_path / "run"
    geno = tmp_path / "genotype.json"
    geno.write_text(GENOTYPES["DARTS_V2"].to_json())
    result = invoke("train", "digits", "--genotype", str(geno), "--out", str(out), "--json",
                    "--set", "cutout=2", "--log-format", "csv", *TINY)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["epochs"] == 2 and data["channels"] == 4 and data["recipe"] == "digits"
    assert 0 <= data["test_top1_err"] <= 100
    assert (out / "log.csv").read_text().splitlines()[0].startswith("epoch,")
    config = json.loads((out / "config.json").read_text())
    assert config["recipe"]["cutout"] == 2 and config["genotype"] == GENOTYPES["DARTS_V2"].to_dict()

    ev = invoke("eval", str(out / "checkpoint.pt"), "--json", "--limit", "48", "--device", "cpu")
    assert ev.exit_code == 0, ev.output
    scored = json.loads(ev.stdout)
    assert scored["top1_err"] == pytest.approx(data["test_top1_err"])
    assert scored["top5_err"] <= scored["top1_err"]

    text = invoke("eval", str(out / "checkpoint.pt"), "--limit", "48", "--device", "cpu")
    assert "top-1 error" in text.stdout and "top-5 error" in text.stdout

    p = invoke("params", "--genotype", GENOTYPES["DARTS_V2"].to_darts(), "--channels", "4", "--layers", "3",
               "--image-size", "8", "--in-channels", "1", "--json")
    assert json.loads(p.stdout)["params_M"] == pytest.approx(data["params_M"])


def test_params_published_xnas_small() -> None:
    result = invoke("params", "--genotype", "XNAS", "--channels", "36", "--layers", "20", "--json")
    data = json.loads(result.stdout)
    assert round(data["params_M"], 1) == 3.8 and 590 < data["macs_M"] < 600


def test_resume_through_the_cli(tmp_path) -> None:
    out = str(tmp_path / "run")
    first = invoke("train", "digits", "--out", out, *TINY)
    assert first.exit_code == 0 and "top-1 error" in first.stdout
    again = invoke("train", "digits", "--out", out, *TINY)
    assert again.exit_code == 2 and "--resume" in again.stderr
    done = invoke("train", "digits", "--out", out, "--resume", "--json", *TINY)
    assert done.exit_code == 0
    wrong = invoke("train", "digits", "--out", out, "--resume", *[a if a != "4" else "6" for a in TINY])
    assert wrong.exit_code == 2
    assert wrong.stderr.count("\n") == 1 and "another network" in wrong.stderr
    # --resume alone reuses the saved configuration (recipe, genotype, seed, limits)
    longer = invoke("train", "digits", "--out", out, "--resume", "--epochs", "3", "--json", "--no-progress")
    assert longer.exit_code == 2 and "another recipe (differs in epochs)" in longer.stderr
    same = invoke("train", "digits", "--out", out, "--resume", "--json", "--no-progress")
    assert same.exit_code == 0, same.output
    assert json.loads(same.stdout)["channels"] == 4 and json.loads(same.stdout)["epochs"] == 2
    other = invoke("train", "cifar10", "--out", out, "--resume")
    assert other.exit_code == 2 and "holds a run on digits" in other.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "digits", "--genotype", "NASNET"], "unknown genotype 'NASNET'"),
        (["train", "digits", "--genotype", GENOTYPES["XNAS"].to_darts().replace("('sep_conv_3x3', 1)", "('sep_conv_3x3', 2)", 1)],
         "out of range"),
        (["train", "digits", "--genotype", "Genotype(normal=__import__('os').getcwd())"], "genotype text"),
        (["train", "digits", "--genotype", GENOTYPES["XNAS"].to_darts().replace("dil_conv_5x5", "conv_7x7")],
         "unknown operation 'conv_7x7'"),
        (["train", "digits", "--genotype", GENOTYPES["XNAS"].to_darts().replace("('sep_conv_3x3', 1), ", "", 1)],
         "edges"),
        (["train", "cifar10", "--data-dir", "{tmp}/nothing-here"], "cifar-10-batches-py"),
        (["train", "imagefolder:{tmp}/nothing-here"], "train/<class>"),
        (["train", "digits", "--recipe", "fastest"], "unknown recipe"),
        (["train", "digits", "--set", "epochs=zero"], "epochs"),
        (["train", "digits", "--device", "cuda:7"] if not torch.cuda.is_available() else
         ["train", "digits", "--device", "tpu"], "device"),
        (["eval", "{tmp}/missing.pt"], "does not exist"),
        (["params", "--genotype", "XNAS", "--layers", "1"], "--layers"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message, tmp_path) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if args[0] == "train":
        args += ["--out", str(tmp_path / "out"), "--no-progress"]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr
    assert not (tmp_path / "out" / "checkpoint.pt").exists()


def test_eval_rejects_a_foreign_checkpoint(tmp_path) -> None:
    path = tmp_path / "model.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, path)
    result = invoke("eval", str(path))
    assert result.exit_code == 2 and "not an xnas-nas train checkpoint" in result.stderr
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(b"\x00" * 64)
    result = invoke("eval", str(bad))
    assert result.exit_code == 2 and result.stderr.count("\n") == 1


def test_train_and_eval_on_fake_cifar10_with_the_xnas_recipe(tmp_path, monkeypatch) -> None:
    """The paper's recipe (AutoAugment, cutout 16, 32x32 RGB) end to end on CIFAR-10 files in the real format.

    torchvision's md5 table is pointed at the test files (test-only), so its integrity check still runs.
    """
    import hashlib
    import pickle

    import numpy as np
    import torchvision.datasets as tvd

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    lists = {"train": [], "test": []}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        entry = {"data": rng.integers(0, 256, size=(8, 3072), dtype=np.uint8),
                 "labels": [int(v) for v in rng.integers(0, 10, size=8)]}
        (folder / name).write_bytes(pickle.dumps(entry))
        md5 = hashlib.md5((folder / name).read_bytes()).hexdigest()
        lists["test" if name == "test_batch" else "train"].append([name, md5])
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [str(i) for i in range(10)]}))
    meta_md5 = hashlib.md5((folder / "batches.meta").read_bytes()).hexdigest()
    monkeypatch.setattr(tvd.CIFAR10, "train_list", lists["train"])
    monkeypatch.setattr(tvd.CIFAR10, "test_list", lists["test"])
    monkeypatch.setattr(tvd.CIFAR10, "meta", {"filename": "batches.meta", "key": "label_names", "md5": meta_md5})

    out = tmp_path / "run"
    result = invoke("train", "cifar10", "--data-dir", str(tmp_path), "--recipe", "xnas", "--channels", "4",
                    "--layers", "3", "--epochs", "1", "--batch-size", "8", "--max-steps", "2",
                    "--device", "cpu", "--no-progress", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())["recipe"]
    assert (config["autoaugment"], config["cutout"], config["label_smoothing"]) == (True, 16, 0.1)
    ev = invoke("eval", str(out / "checkpoint.pt"), "--data-dir", str(tmp_path), "--device", "cpu", "--json")
    assert ev.exit_code == 0, ev.output
    assert json.loads(ev.stdout)["n"] == 8
    assert json.loads(ev.stdout)["top1_err"] == pytest.approx(json.loads(result.stdout)["test_top1_err"])
    other = invoke("eval", str(out / "checkpoint.pt"), "--dataset", "fashion-mnist", "--data-dir", str(tmp_path))
    assert other.exit_code == 2 and "channels" in other.stderr
