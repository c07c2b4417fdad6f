"""Hostile sizes and values on ``xnas-nas`` (issue 10, items 1, 5, 6, 14): one line, exit 2, nothing written.

Every case is refused before any data is loaded or any network built, so each
takes milliseconds; on the code before these checks most of them ended in a
traceback (ZeroDivisionError, OverflowError, an allocator error, "value cannot
be converted to type float") or ran on with a silently changed setting.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from xnas.cli.nas import main

CASES = [
    (["search", "digits", "--L", "1e-200"], "L must be positive and finite"),
    (["search", "digits", "--L", "1e300"], "L must be positive and finite"),
    (["lr", "cifar10", "--L", "1e300"], "L must be positive and finite"),
    (["search", "digits", "-C", "100000"], "channels (-C) must be at most 4096"),
    (["search", "digits", "--space", "nb201", "-C", "100000"], "channels (-C) must be at most 4096"),
    (["train", "digits", "-C", "100000"], "channels (-C) must be at most 4096"),
    (["params", "-C", "100000"], "channels (-C) must be at most 4096"),
    (["params", "--space", "nb201", "-C", "100000"], "channels (-C) must be at most 4096"),
    (["search", "digits", "--nodes", "100"], "nodes must be at most 16"),
    (["params", "--layers", "100000"], "layers (cells) must be at most 1000"),
    # within the bounds, but petabytes: the memory estimate answers
    (["search", "digits", "-C", "4096", "--layers", "999"], "needs about"),
    (["search", "digits", "--space", "nb201", "-C", "4096", "--layers", "999"], "needs about"),
    (["train", "digits", "-C", "4096", "--layers", "999"], "needs about"),
    (["train", "digits", "--space", "nb201", "-C", "4096", "--layers", "999"], "needs about"),
    (["search", "digits", "--lr", "1e300"], "lr must be a finite number that float32 can hold"),
    (["search", "digits", "--weight-decay", "1e300"], "weight_decay must be a finite number that float32"),
    (["search", "digits", "--arch-optimizer", "darts", "--arch-lr", "1e-50"], "arch_lr 1e-50 is too small"),
    (["search", "digits", "--eta-normal", "1e300"], "eta_normal must be a finite number"),
    (["train", "digits", "--lr", "1e300"], "recipe digits: lr must be a finite number"),
    (["train", "digits", "--set", "weight_decay=1e300"], "recipe digits: weight_decay must be a finite number"),
    (["search", "digits", "--seed", "-1"], "--seed must lie in [0, 2^62), got -1"),
    (["train", "digits", "--seed", "-1"], "--seed must lie in [0, 2^62), got -1"),
    (["search", "digits", "--seed", str(2**62)], "--seed must lie in [0, 2^62)"),
    (["search", "digits", "--ops", "sep_conv_3x3,,skip_connect"], "--ops has an empty operation name"),
    (["search", "digits", "--ops", "sep_conv_3x3,sep_conv_3x3"], "--ops names 'sep_conv_3x3' more than once"),
    (["search", "digits", "--space", "nb201", "--ops", "nor_conv_3x3,,skip_connect"], "--ops has an empty"),
    (["search", "digits", "--space", "nb201", "--ops", "nor_conv_3x3,sep_conv_3x3"], "unknown operation 'sep_conv_3x3'"),
]


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_hostile_input_is_one_line_exit_2_and_writes_nothing(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)  # the default --out lands here: it must stay empty
    monkeypatch.setenv("XNAS_DATA", str(tmp_path / "data"))
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], res.stderr
    assert "Traceback" not in res.output
    assert list(tmp_path.iterdir()) == []


def test_the_paper_sizes_still_pass_the_checks(monkeypatch):
    """The limits refuse what cannot run, never what the paper runs (both spaces) on its 11 GB GTX 1080 Ti."""
    import xnas.limits as limits
    from xnas.nas.train.recipes import get_recipe
    from xnas.nas.search.config import SearchConfig

    monkeypatch.setattr(limits, "available_memory", lambda: 11 * 10**9)

    SearchConfig(dataset="cifar10").validate()  # C = 16, 8 cells, batch 96
    SearchConfig(dataset="cifar10", space="nb201", channels=16, layers=15).validate()
    for name in ("xnas", "darts", "imagenet", "nb201"):
        get_recipe(name).validate()


def test_nested_config_json_on_resume_is_one_line(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes(b"")
    (out / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    res = CliRunner().invoke(main, ["train", "digits", "--out", str(out), "--resume"])
    assert res.exit_code == 2, res.output
    assert res.stderr.count("\n") == 1 and "nested more than" in res.stderr


def test_nb201_estimate_errs_on_the_large_side():
    """The memory estimate of an nb201 network covers at least its real parameter count, within 2.5x."""
    torch = pytest.importorskip("torch")
    from xnas.nas.limits import estimate_network
    from xnas.nas.spaces.registry import get_space

    space = get_space("nb201")
    geno = space.parse_genotype("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
                                "|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    torch.manual_seed(0)
    for C, layers in ((16, 15), (8, 6), (4, 3)):
        real = sum(p.numel() for p in space.build_supernet(3, 10, C, layers).parameters())
        est = estimate_network(C, layers, 3, n_ops=len(space.primitives), cells=space.cell_model).params
        assert 1.0 <= est / real <= 2.5
        real = sum(p.numel() for p in space.build_network(geno, C, layers, 10).parameters())
        est = estimate_network(C, layers, 3, search=False, cells=space.cell_model).params
        assert 1.0 <= est / real <= 2.5


def test_download_help_names_the_default_data_folder():
    for command in ("search", "train"):
        res = CliRunner().invoke(main, [command, "--help"])
        assert "default data folder" in " ".join(res.output.split())


def test_json_result_of_lr_is_unchanged_by_the_checks():
    res = CliRunner().invoke(main, ["lr", "cifar10", "--json"])
    assert res.exit_code == 0 and json.loads(res.output)["eta_normal"] == pytest.approx(7.5e-4, rel=0.05)
