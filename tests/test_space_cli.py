"""``--space`` on search, lr, train, eval and params (digits, tiny sizes)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from xnas.cli.nas import main
from cli_checks import assert_one_line_exit_2

TINY201 = ["--space", "nb201", "--limit", "96", "--epochs", "1", "--batch-size", "16", "-C", "2", "--layers", "3",
           "--no-progress"]
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
ALL_CONV = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_nb201_search_train_eval_end_to_end(tmp_path):
    pytest.importorskip("sklearn")
    from xnas.nas.spaces.nb201.genotype import parse_arch_str

    runner = CliRunner()
    out = tmp_path / "s"
    res = runner.invoke(main, ["search", "digits", "--out", str(out), "--json", *TINY201])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output.strip().splitlines()[-1])
    arch = d["text"]
    assert d["space"] == "nb201" and d["darts"] is None and parse_arch_str(arch).to_str() == arch
    assert (out / "genotype.txt").read_text().strip() == arch
    assert json.loads((out / "genotype.json").read_text())["arch_str"] == arch
    hist = np.load(out / "arch_history.npz")
    assert list(hist["cell_types"]) == ["normal"] and hist["weights"].shape[1:] == (1, 6, 5)
    assert (out / "arch_weights.png").is_file() and (out / "cells.png").is_file()
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["config"]["space"] == "nb201" and cfg["config"]["nodes"] == 3
    assert set(cfg["resolved"]["eta"]) == {"normal"} and cfg["resolved"]["replications"] == {"normal": 3}

    tout = tmp_path / "t"
    res = runner.invoke(main, ["train", "digits", "--space", "nb201", "--genotype", arch, "--epochs", "1",
                               "--limit", "64", "--batch-size", "16", "-C", "2", "--out", str(tout), "--json",
                               "--no-progress"])
    assert res.exit_code == 0, res.output
    r = json.loads(res.output.strip().splitlines()[-1])
    assert r["genotype"] == arch and r["space"] == "nb201" and r["recipe"] == "nb201-digits"
    res = runner.invoke(main, ["eval", str(tout / "checkpoint.pt"), "--limit", "32", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["n"] == 32


def test_nb201_search_resume_is_exact(tmp_path):
    pytest.importorskip("sklearn")
    import torch

    from xnas.nas.search.loop import SearchConfig, run_search

    def cfg(out):
        return SearchConfig(dataset="digits", space="nb201", out_dir=str(out), epochs=2, batch_size=16, limit=96,
                            channels=2, layers=3, plots=False, progress=False, threads=1)

    full = run_search(cfg(tmp_path / "full"))
    run_search(cfg(tmp_path / "part"), stop_after=1)
    resumed = run_search(cfg(tmp_path / "part"), resume=True)
    assert resumed.genotype == full.genotype
    a, b = np.load(tmp_path / "full" / "arch_history.npz"), np.load(tmp_path / "part" / "arch_history.npz")
    assert np.array_equal(a["weights"], b["weights"]) and np.array_equal(a["steps"], b["steps"])
    sa = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)["net"]
    sb = torch.load(tmp_path / "part" / "checkpoint.pt", weights_only=True)["net"]
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_params_nb201_matches_the_hand_counts():
    runner = CliRunner()
    for genotype, params_M, macs_M in ((ALL_NONE, 0.073306, 7.78304), (ALL_CONV, 1.531546, 220.11968)):
        res = runner.invoke(main, ["params", "--space", "nb201", "-g", genotype, "--json"])
        assert res.exit_code == 0, res.output
        d = json.loads(res.output)
        assert d == {"channels": 16, "classes": 10, "image_size": 32, "layers": 15, "macs_M": macs_M,
                     "network": "cifar", "params_M": params_M, "space": "nb201"}
    res = runner.invoke(main, ["params", "--space", "nb201"])
    assert res.exit_code == 0 and "1.532 M" in res.output


def test_lr_nb201_counts_every_cell_as_a_replication():
    res = CliRunner().invoke(main, ["lr", "cifar10", "--space", "nb201", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["replications_normal"] == 15 and d["replications_reduce"] == 0 and d["experts"] == 5
    assert d["eta_reduce"] is None and d["horizon_normal"] == 24960 * 50 * 15


@pytest.mark.parametrize(
    "args,match",
    [
        (["search", "digits", "--space", "nosuch"], "unknown search space"),
        (["search", "digits", "--space", "nb201", "--eta-reduce", "0.1"], "reduction cell"),
        (["search", "digits", "--space", "nb201", "--layers", "4"], "3N"),
        (["search", "digits", "--space", "nb201", "--nodes", "4"], "3 nodes"),
        (["search", "digits", "--space", "nb201", "--ops", "none,sep_conv_3x3"], "unknown operation"),
        (["search", "digits", "--ops", "none,nor_conv_3x3"], "unknown operation"),
        (["train", "digits", "--space", "nosuch"], "unknown search space"),
        (["train", "digits", "--space", "nb201", "--genotype", "XNAS"], "NAS-Bench-201"),
        (["train", "digits", "--space", "darts", "--genotype", ALL_CONV], "--space nb201"),
        (["train", "digits", "--space", "nb201", "--recipe", "digits"], "disagrees"),
        (["train", "digits", "--space", "darts", "--recipe", "nb201-digits"], "disagrees"),
        (["params", "--space", "nb201", "-g", "XNAS"], "NAS-Bench-201"),
        (["params", "--space", "nb201", "--imagenet"], "ImageNet"),
        (["params", "--space", "nb201", "--layers", "7"], "3N"),
        (["params", "--space", "darts", "-g", ALL_CONV], "--space nb201"),
        (["lr", "digits", "--space", "nb201", "--layers", "4"], "3N"),
    ],
)
def test_bad_space_input_isassert_one_line_exit_2(args, match, tmp_path):
    res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "o")] if args[0] in ("search", "train") else args)
    assert_one_line_exit_2(res, match)


def test_nb201_train_resume_alone_keeps_space_recipe_and_genotype(tmp_path):
    pytest.importorskip("sklearn")
    runner = CliRunner()
    out = str(tmp_path / "r")
    mixed = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"
    args = ["--limit", "64", "--batch-size", "16", "-C", "2", "--epochs", "1", "--no-progress", "--json"]
    first = runner.invoke(main, ["train", "digits", "--space", "nb201", "-g", mixed, "--out", out, *args])
    assert first.exit_code == 0, first.output
    again = runner.invoke(main, ["train", "digits", "--out", out, "--resume", "--no-progress", "--json"])
    assert again.exit_code == 0, again.output
    r = json.loads(again.output.strip().splitlines()[-1])
    assert r["space"] == "nb201" and r["genotype"] == mixed and r["recipe"] == "nb201-digits" and r["channels"] == 2


def test_a_checkpoint_arch_without_space_is_darts():
    from xnas.nas.spaces.darts.genotypes import resolve_genotype
    from xnas.nas.spaces.darts.network import NetworkCIFAR
    from xnas.nas.spaces.registry import build_from_arch, network_arch
    from xnas.nas.spaces.nb201.genotype import parse_arch_str
    from xnas.nas.spaces.nb201.networks import NB201Network

    arch = network_arch(resolve_genotype("XNAS"), 4, 5, 10, 3, 32, False, False)
    assert arch.pop("space") == "darts"
    assert isinstance(build_from_arch(arch), NetworkCIFAR)
    nb = network_arch(parse_arch_str(ALL_CONV), 4, 3, 10, 3, 32, False, False, space="nb201")
    assert isinstance(build_from_arch(nb), NB201Network)
