"""The thread policy (xnas.nas.runtime): one CPU thread unless --threads says otherwise, said in one line when
the machine has more cores, and the count used recorded in every run's config.json."""

import json

import pytest
from click.testing import CliRunner

torch = pytest.importorskip("torch")

from xnas.cli.nas import main
from xnas.nas import runtime


@pytest.fixture(autouse=True)
def _restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_default_is_one_thread_and_said_once(monkeypatch, capsys):
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 8)
    torch.set_num_threads(2)
    assert runtime.apply_threads(None, torch.device("cpu"), announce=True) == 1
    assert torch.get_num_threads() == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "1 CPU thread by default" in err and "for a given thread count" in err
    assert runtime.apply_threads(2, torch.device("cpu"), announce=True) == 2
    assert capsys.readouterr().err == ""  # an explicit count is not announced
    assert runtime.apply_threads(None, torch.device("cpu"), announce=False) == 1
    assert capsys.readouterr().err == ""


SEARCH = ["--limit", "96", "--epochs", "1", "--batch-size", "16", "-C", "2", "--layers", "3", "--nodes", "2",
          "--no-plots", "--no-progress"]
TRAIN = ["--channels", "4", "--layers", "3", "--epochs", "1", "--batch-size", "16", "--limit", "48",
         "--max-steps", "1", "--device", "cpu", "--no-progress"]


@pytest.mark.parametrize("threads", [None, 2])
def test_runs_record_the_thread_count(tmp_path, threads):
    pytest.importorskip("sklearn")
    extra = [] if threads is None else ["--threads", str(threads)]
    res = CliRunner().invoke(main, ["search", "digits", "--out", str(tmp_path / "s"), *SEARCH, *extra])
    assert res.exit_code == 0, res.output
    config = json.loads((tmp_path / "s" / "config.json").read_text())
    assert config["resolved"]["threads"] == (threads or 1)
    res = CliRunner().invoke(main, ["train", "digits", "--out", str(tmp_path / "t"), *TRAIN, *extra])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "t" / "config.json").read_text())["threads"] == (threads or 1)
