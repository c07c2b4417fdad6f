"""Every study unit records the config digest and the code version that made it; units made under other
settings are never counted (issue: units reused after ``rm study.json``), and ``study.json`` is checked."""

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
from xnas.provenance import code_version, version_label


def config_digest(cfg):
    from xnas.nas.study.units import config_digest as digest  # here, so each test fails alone on old code

    return digest(cfg)
from cli_checks import assert_one_line_exit_2

SETTINGS = dict(seeds=1, trainings=1, random_cells=1, search_limit=64, train_limit=64, search_epochs=1,
                train_epochs=1, search_channels=2, train_channels=2, search_batch=16, train_batch=16)
ARGS = ["digits", "--space", "nb201", "--methods", "random", "--seeds", "1", "-R", "1", "--random-cells", "1",
        "--search-limit", "64", "--train-limit", "64", "--search-epochs", "1", "-C", "2", "--train-channels", "2",
        "--search-batch", "16", "--train-batch", "16", "--no-progress"]
TRAIN = "units/train/random/c00-t00.json"
SEARCH = "units/search/random/c00.json"


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("stamps") / "s")
    cfg = make_config("digits", "nb201", ("random",), **SETTINGS)
    run_study(cfg, out, progress=False)
    return cfg, out


def _copy(done, tmp_path):
    dst = str(tmp_path / "s")
    shutil.copytree(done[1], dst)
    return dst


def _load(path):
    with open(path) as fh:
        return json.load(fh)


def _edit(path, **changes):
    data = _load(path)
    data.update(changes)
    with open(path, "w") as fh:
        json.dump(data, fh)


def test_units_record_digest_and_code_version(done):
    cfg, out = done
    for path in (SEARCH, TRAIN):
        unit = _load(os.path.join(out, path))
        assert unit["config_digest"] == config_digest(cfg)
        assert unit["code"] == code_version() and unit["code"]["version"]
    assert _load(os.path.join(out, "study.json"))["format"] == "xnas-study-2"
    assert "code_versions" in _load(os.path.join(out, "summary.json"))


def test_digest_follows_every_identity_setting_but_not_runtime_ones(done):
    cfg, _ = done
    other = make_config("digits", "nb201", ("random",), **{**SETTINGS, "train_epochs": 2})
    assert config_digest(other) != config_digest(cfg)
    same = make_config("digits", "nb201", ("random",), **SETTINGS, data_dir="/elsewhere")
    assert config_digest(same) == config_digest(cfg)


def test_units_of_other_settings_are_redone_not_counted(done, tmp_path):
    out = _copy(done, tmp_path)
    os.remove(os.path.join(out, "study.json"))
    # --report on the changed settings cannot even start: the folder holds no study now
    res = CliRunner().invoke(main, ["study", *ARGS, "--train-epochs", "2", "--report", "--out", out])
    assert_one_line_exit_2(res, "study.json is missing")
    cfg2 = make_config("digits", "nb201", ("random",), **{**SETTINGS, "train_epochs": 2})
    with open(os.path.join(out, "study.json"), "w") as fh:
        json.dump({"config": cfg2.to_dict(), "format": "xnas-study-2"}, fh)
    assert {u.id for u in pending_units(cfg2, out)} == {"search/random/c00", "train/random/c00-t00"}
    res = CliRunner().invoke(main, ["study", *ARGS, "--train-epochs", "2", "--report", "--json", "--out", out])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["units_done"] == 0 and "config" in summary["units_invalid"][0]["problem"]
    res = CliRunner().invoke(main, ["study", *ARGS, "--train-epochs", "2", "--resume", "--json", "--out", out])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["units_done"] == 2
    assert _load(os.path.join(out, TRAIN))["config_digest"] == config_digest(cfg2)


def test_unit_whose_method_disagrees_with_its_folder_is_not_counted(done, tmp_path):
    out = _copy(done, tmp_path)
    _edit(os.path.join(out, TRAIN), method="xnas")
    res = CliRunner().invoke(main, ["study", *ARGS, "--report", "--json", "--out", out])
    assert res.exit_code == 0, res.output
    invalid = json.loads(res.stdout)["units_invalid"]
    assert invalid and "method 'xnas'" in invalid[0]["problem"]


def test_legacy_units_count_only_under_a_legacy_study_file(done, tmp_path):
    out = _copy(done, tmp_path)
    for path in (SEARCH, TRAIN):
        data = _load(os.path.join(out, path))
        del data["config_digest"], data["code"]
        with open(os.path.join(out, path), "w") as fh:
            json.dump(data, fh)
    _edit(os.path.join(out, "study.json"), format="xnas-study-1")
    res = CliRunner().invoke(main, ["study", *ARGS, "--report", "--json", "--out", out])
    summary = json.loads(res.stdout)
    assert summary["complete"] and "code_versions" not in summary  # an old folder reports as before
    _edit(os.path.join(out, "study.json"), format="xnas-study-2")
    res = CliRunner().invoke(main, ["study", *ARGS, "--report", "--json", "--out", out])
    assert json.loads(res.stdout)["units_done"] == 0


def test_unknown_study_format_is_refused(done, tmp_path):
    out = _copy(done, tmp_path)
    _edit(os.path.join(out, "study.json"), format="xnas-study-99")
    res = CliRunner().invoke(main, ["study", *ARGS, "--report", "--out", out])
    assert_one_line_exit_2(res, "format", "xnas-study-99")


def test_study_json_that_is_a_folder_is_one_line(done, tmp_path):
    out = _copy(done, tmp_path)
    os.remove(os.path.join(out, "study.json"))
    os.makedirs(os.path.join(out, "study.json"))
    for extra in (["--resume"], ["--report"], []):
        res = CliRunner().invoke(main, ["study", *ARGS, *extra, "--out", out])
        assert_one_line_exit_2(res, "study.json", "not a regular file")


def test_report_says_when_units_span_code_versions(done, tmp_path):
    out = _copy(done, tmp_path)
    _edit(os.path.join(out, TRAIN), code={"version": "0.0.9", "commit": "abcdef1234", "modified": False})
    res = CliRunner().invoke(main, ["study", *ARGS, "--report", "--json", "--out", out])
    assert res.exit_code == 0, res.output
    versions = json.loads(res.stdout)["code_versions"]
    assert versions == sorted(["0.0.9 (abcdef1)", version_label(code_version())])
    assert "2 code versions" in res.stderr


def test_folder_in_place_of_a_unit_file_is_refused_before_running(done, tmp_path):
    out = _copy(done, tmp_path)
    os.remove(os.path.join(out, TRAIN))
    os.makedirs(os.path.join(out, TRAIN))
    res = CliRunner().invoke(main, ["study", *ARGS, "--train-epochs", "1", "--resume", "--out", out])
    assert_one_line_exit_2(res, "c00-t00", "not a regular file")
