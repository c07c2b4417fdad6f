"""``xnas-nas study`` end to end on digits: a tiny study, resume after a killed unit, --json, --report, bad input."""

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from xnas.cli.nas import main
from xnas.nas.study import backend
from xnas.nas.study.config import make_config
from xnas.nas.study.runner import UnitFailed, run_study
from xnas.nas.study.units import plan_units, read_unit

TINY = dict(seeds=2, trainings=2, random_cells=2, ws_samples=2, search_epochs=1, search_batch=16, search_limit=64,
            search_channels=2, search_layers=3, recipe="digits", train_epochs=1, train_batch=32, train_limit=96,
            train_channels=2, train_layers=3)
METHODS = ("xnas", "darts", "random-ws", "random", "published-XNAS")


def _errors(summary):
    return {name: [c["errors"] for c in row["cells"]] for name, row in summary["methods"].items()}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("study") / "s")
    cfg = make_config("digits", "darts", METHODS, **TINY)
    return cfg, out, run_study(cfg, out, progress=False)


def test_study_writes_units_summary_and_figure(study):
    cfg, out, summary = study
    for unit in plan_units(cfg):
        assert read_unit(out, unit) is not None, unit.id
    assert summary["complete"] and summary["units_done"] == len(plan_units(cfg))
    for name in ("study.json", "summary.json", "study.png"):
        assert os.path.getsize(os.path.join(out, name)) > 0
    assert not os.path.exists(os.path.join(out, "work"))  # scratch folders are gone
    with open(os.path.join(out, "summary.json")) as fh:
        assert json.load(fh) == summary


def test_summary_schema(study):
    cfg, out, s = study
    assert s["dataset"] == "digits" and s["space"] == "darts"
    assert isinstance(s["discriminates"], bool)
    assert set(s["xnas_minus_darts"]) >= {"mean", "ci95"} and len(s["xnas_minus_darts"]["ci95"]) == 2
    assert s["xnas_minus_darts"]["n_pairs"] == 2
    assert set(s["methods"]) == set(METHODS)
    for name, row in s["methods"].items():
        for key in ("mean_err", "ci95", "n_cells", "n_trainings", "search_seconds", "best", "worst", "params_M",
                    "skip_connect_normal", "parameter_free_normal", "cost_vs_random"):
            assert key in row, (name, key)
        assert len(row["ci95"]) == 2
        assert row["best"] <= row["mean_err"] <= row["worst"]
        assert row["n_trainings"] == row["n_cells"] * cfg.trainings
    assert s["methods"]["random"]["n_cells"] == 2 and s["methods"]["published-XNAS"]["n_cells"] == 1
    assert s["methods"]["random"]["cost_vs_random"] == pytest.approx(1.0)
    assert s["methods"]["random"]["minus_random"] is None and s["methods"]["published-XNAS"]["minus_random"] is None
    random_means = [c["mean_err"] for c in s["methods"]["random"]["cells"]]
    xnas = s["methods"]["xnas"]
    assert xnas["minus_random"]["mean"] == pytest.approx(xnas["mean_err"] - np.mean(random_means))
    d = s["discrimination"]
    assert "p < 0.05" in d["rule"] and d["verdict"]
    assert ("cannot" in d["verdict"]) != s["discriminates"]


def test_cli_report_json_equals_summary(study):
    cfg, out, summary = study
    res = CliRunner().invoke(main, ["study", "digits", "--out", out, "--report", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == json.loads(json.dumps(summary))


def test_resume_after_a_killed_unit_gives_the_same_summary(study, tmp_path, monkeypatch):
    cfg, _, reference = study
    out = str(tmp_path / "s")
    real = backend.train_cell
    calls = {"n": 0}

    def dies_on_the_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            real(*args, **kwargs)  # the work is done, then the process dies before the unit file
            raise RuntimeError("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(backend, "train_cell", dies_on_the_third)
    with pytest.raises(UnitFailed, match="killed"):
        run_study(cfg, out, progress=False)
    done = [u for u in plan_units(cfg) if read_unit(out, u) is not None]
    assert 0 < len(done) < len(plan_units(cfg))
    assert sum(u.kind == "train" for u in done) == 2  # the killed one is not marked done
    monkeypatch.setattr(backend, "train_cell", real)
    with pytest.raises(Exception, match="--resume"):
        run_study(cfg, out, progress=False)
    resumed = run_study(cfg, out, resume=True, progress=False)
    assert resumed["complete"]
    assert _errors(resumed) == _errors(reference)
    assert resumed["xnas_minus_darts"] == reference["xnas_minus_darts"]
    assert resumed["discrimination"]["all_cells"] == reference["discrimination"]["all_cells"]


def test_resume_refuses_another_config(study):
    _, out, _ = study
    res = CliRunner().invoke(main, ["study", "digits", "--out", out, "--resume", "--quick"])
    assert res.exit_code == 2
    assert res.output.count("\n") == 1 and "choose another --out" in res.output


@pytest.mark.parametrize("args, message", [
    (["--methods", "nope"], "unknown study method"),
    (["--space", "nope"], "unknown search space"),
    (["--shard", "3/2"], "--shard"),
    (["--shard", "0/0"], "--shard"),
    (["--jobs", "0"], "--jobs"),
    (["--preset", "nope"], "unknown preset"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, args, message):
    res = CliRunner().invoke(main, ["study", "digits", "--out", str(tmp_path / "s"), *args])
    assert res.exit_code == 2
    assert res.output.count("\n") == 1 and message in res.output
    assert not os.path.exists(tmp_path / "s" / "units")


def test_unknown_dataset_and_unwritable_out(tmp_path):
    res = CliRunner().invoke(main, ["study", "nodata", "--out", str(tmp_path / "s")])
    assert res.exit_code == 2 and "unknown dataset" in res.output
    blocker = tmp_path / "file"
    blocker.write_text("")
    res = CliRunner().invoke(main, ["study", "digits", "--quick", "--out", str(blocker / "s")])
    assert res.exit_code == 2 and "cannot write" in res.output and res.output.count("\n") == 1


def test_two_processes_give_the_same_cells(study, tmp_path):
    _, _, reference = study
    cfg = make_config("digits", "darts", ("darts", "random"), **TINY)
    summary = run_study(cfg, str(tmp_path / "s"), jobs=2, progress=False)
    errors = _errors(summary)
    assert errors == {k: _errors(reference)[k] for k in ("darts", "random")}


def test_shards_sharing_a_folder_complete_the_study(study, tmp_path):
    _, _, reference = study
    out = str(tmp_path / "s")
    common = ["study", "digits", "--out", out, "--methods", "random,published-XNAS", "--no-progress", "--resume"]
    for key, value in TINY.items():
        option = {"search_channels": "--channels", "search_layers": "--layers"}.get(key, "--" + key.replace("_", "-"))
        common += [option, str(value)]
    first = CliRunner().invoke(main, common + ["--shard", "0/2", "--json"])
    assert first.exit_code == 0, first.output
    assert not json.loads(first.stdout)["complete"]
    second = CliRunner().invoke(main, common + ["--shard", "1/2", "--json"])
    assert second.exit_code == 0, second.output
    summary = json.loads(second.stdout)
    assert summary["complete"]
    assert _errors(summary) == {k: _errors(reference)[k] for k in ("random", "published-XNAS")}


def test_nb201_study_end_to_end(tmp_path):
    """Every nb201 method searches or samples a valid benchmark string, trained by the space's recipe."""
    from xnas.nas.spaces.registry import get_space

    tiny = {**TINY, "recipe": None, "search_layers": 3, "train_layers": 3, "seeds": 1, "random_cells": 2}
    cfg = make_config("digits", "nb201", ("xnas", "gd", "random-ws", "random"), **tiny)
    assert cfg.recipe == "nb201-digits"  # the space's own recipe when none is given
    summary = run_study(cfg, str(tmp_path / "s"), progress=False)
    assert summary["complete"] and summary["space"] == "nb201"
    space = get_space("nb201")
    for row in summary["methods"].values():
        for cell in row["cells"]:
            assert space.format_genotype(space.parse_genotype(cell["genotype"])) == cell["genotype"]


def test_study_refuses_a_recipe_of_the_other_space(tmp_path):
    from xnas.nas.study.config import StudyError

    with pytest.raises(StudyError, match="trains darts cells"):
        make_config("digits", "nb201", ("random",), **{**TINY, "recipe": "digits", "search_layers": 3})
