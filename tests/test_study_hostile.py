"""Hostile input to ``xnas-nas study``: one line and exit 2 before any unit runs; bad unit files never count as done."""

import json
import os
import shutil

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from xnas.cli.nas import main
from xnas.nas.study.config import make_config
from xnas.nas.study.runner import pending_units, run_study
from xnas.nas.study.units import Unit, read_unit
from cli_checks import assert_one_line_exit_2

TINY = ["--search-limit", "64", "--train-limit", "64", "--search-epochs", "1", "--train-epochs", "1", "-C", "2",
        "--train-channels", "2", "--search-batch", "16", "--train-batch", "16", "--seeds", "1", "-R", "1",
        "--random-cells", "1", "--no-progress"]


@pytest.mark.parametrize("args,match", [
    (["--methods", "xnas", "-C", "0"], "search_channels must be a positive integer"),
    (["--methods", "xnas", "-C", "100000"], "at most 4096"),
    (["--space", "nb201", "--methods", "xnas", "--layers", "4"], "3N"),
    (["--space", "nb201", "--methods", "random", "--train-layers", "4"], "3N"),
    (["--methods", "random", "--train-channels", "100000"], "at most 4096"),
    (["--methods", "random", "--device", "cuda:7"], "cuda"),
    (["--methods", "random", "--device", "tpu"], "unknown device"),
    (["--methods", "xnas", "--search-batch", "100000"], "memory"),
    (["--methods", "xnas", "--search-batch", "40"], "exceeds the split halves"),
    (["--methods", "random", "--trainings", "1000000000"], "units"),
    (["--methods", "random", "--random-cells", "100000000"], "units"),
    (["--methods", "random-ws", "--ws-samples", "10000000000"], "ws_samples"),
    (["--methods", "random", "--out", ""], "--out is empty"),
])
def test_bad_sizes_fail_before_any_unit(args, match, tmp_path):
    if "--device" in args and "cuda" in args[-1]:
        import torch

        if torch.cuda.is_available():
            pytest.skip("a CUDA machine")
    out = ["--out", str(tmp_path / "s")] if "--out" not in args else []
    res = CliRunner().invoke(main, ["study", "digits", *TINY, *args, *out])
    assert_one_line_exit_2(res, match)
    assert not os.path.exists(tmp_path / "s" / "units")


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("hostile") / "s")
    cfg = make_config("digits", "nb201", ("random",), seeds=1, trainings=2, random_cells=1, search_limit=64,
                      train_limit=64, search_epochs=1, train_epochs=1, search_channels=2, train_channels=2,
                      search_batch=16, train_batch=16)
    run_study(cfg, out, progress=False)
    return cfg, out


def _copy(done, tmp_path):
    cfg, out = done
    dst = str(tmp_path / "s")
    shutil.copytree(out, dst)
    return cfg, dst


def _edit(path, **changes):
    with open(path) as fh:
        data = json.load(fh)
    data.update(changes)
    with open(path, "w") as fh:
        fh.write(json.dumps(data))


SEARCH = "units/search/random/c00.json"
TRAIN = "units/train/random/c00-t00.json"


@pytest.mark.parametrize("path,writer", [
    (SEARCH, lambda p: _edit(p, genotype="XNAS")),
    (SEARCH, lambda p: _edit(p, genotype="|nor_conv_3x3~0|+|")),
    (SEARCH, lambda p: _edit(p, genotype=5)),
    (SEARCH, lambda p: open(p, "w").write("{}")),
    (SEARCH, lambda p: open(p, "w").write('{"a":' * 5000 + "1" + "}" * 5000)),
    (TRAIN, lambda p: _edit(p, test_err=float("nan"))),
    (TRAIN, lambda p: _edit(p, test_err=500.0)),
    (TRAIN, lambda p: _edit(p, test_err="abc")),
    (TRAIN, lambda p: _edit(p, seed=7)),
    (TRAIN, lambda p: _edit(p, params_M=[1])),
    (TRAIN, lambda p: open(p, "w").write("[" * 100000 + "]" * 100000)),
    (TRAIN, lambda p: (os.remove(p), os.mkfifo(p))),
])
def test_bad_unit_files_count_as_not_done(done, tmp_path, path, writer):
    cfg, out = _copy(done, tmp_path)
    writer(os.path.join(out, path))
    res = CliRunner().invoke(main, ["study", "digits", "--space", "nb201", "--report", "--json", "--out", out])
    assert res.exit_code == 0 and res.exception is None, res.output
    summary = json.loads(res.stdout)
    assert summary["units_done"] == summary["units_planned"] - (1 if path == TRAIN else 1)
    assert not summary["complete"] and summary["units_invalid"][0]["unit"] in path
    assert "not valid" in res.stderr
    pending = {u.id for u in pending_units(cfg, out)}
    assert path[len("units/"):-len(".json")] in pending
    if path == SEARCH:  # a cell searched again is trained again
        assert {"train/random/c00-t00", "train/random/c00-t01"} <= pending


@pytest.mark.parametrize("config", [
    {"seeds": "abc"}, {"seeds": 10 ** 12}, {"trainings": -1}, {"methods": "xnas"}, {"methods": [["xnas"]]},
    {"recipe": "digits"}, {"split": 2}, {"split": "x"}, {"space": "nosuch"},
])
def test_bad_study_json_isassert_one_line_exit_2(done, tmp_path, config):
    cfg, out = _copy(done, tmp_path)
    path = os.path.join(out, "study.json")
    with open(path) as fh:
        data = json.load(fh)
    data["config"].update(config)
    with open(path, "w") as fh:
        fh.write(json.dumps(data))
    space = config.get("space", "nb201")
    res = CliRunner().invoke(main, ["study", "digits", "--space", space, "--report", "--out", out])
    assert_one_line_exit_2(res, "study.json")


def test_deeply_nested_study_json_and_unwritable_report(done, tmp_path):
    cfg, out = _copy(done, tmp_path)
    os.remove(os.path.join(out, "summary.json"))
    os.makedirs(os.path.join(out, "summary.json", "x"))
    res = CliRunner().invoke(main, ["study", "digits", "--space", "nb201", "--report", "--out", out])
    assert_one_line_exit_2(res, "cannot write the report")
    with open(os.path.join(out, "study.json"), "w") as fh:
        fh.write("[" * 100000 + "]" * 100000)
    res = CliRunner().invoke(main, ["study", "digits", "--space", "nb201", "--report", "--out", out])
    assert_one_line_exit_2(res, "study.json")


def test_report_reads_the_space_from_study_json(done, tmp_path):
    cfg, out = _copy(done, tmp_path)
    res = CliRunner().invoke(main, ["study", "digits", "--report", "--json", "--out", out])
    assert res.exit_code == 0 and res.exception is None, res.output
    assert json.loads(res.stdout)["space"] == "nb201"
    res = CliRunner().invoke(main, ["study", "digits", "--space", "darts", "--report", "--out", out])
    assert_one_line_exit_2(res, "nb201 space, not digits in darts")
    res = CliRunner().invoke(main, ["study", "fashion-mnist", "--report", "--out", out])
    assert_one_line_exit_2(res, "not fashion-mnist")


def test_read_unit_accepts_a_good_unit(done):
    cfg, out = done
    assert read_unit(out, Unit("random", 0)) is not None and read_unit(out, Unit("random", 0, 1)) is not None
