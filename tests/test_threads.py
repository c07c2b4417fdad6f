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


def test_default_is_one_thread_and_said_once(monkeypatch):
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 8)
    torch.set_num_threads(2)
    assert runtime.apply_threads(None, torch.device("cpu")) == 1
    assert torch.get_num_threads() == 1
    note = runtime.threads_notice(None, 1)
    assert "1 CPU thread by default" in note and "for a given thread count" in note and "\n" not in note
    assert runtime.apply_threads(2, torch.device("cpu")) == 2
    assert runtime.threads_notice(2, 2) is None  # an explicit count is not announced
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 1)
    assert runtime.threads_notice(None, 1) is None  # nothing more to use


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
    assert "CPU thread by default" not in res.output  # --no-progress: quiet
    config = json.loads((tmp_path / "s" / "config.json").read_text())
    assert config["resolved"]["threads"] == (threads or 1)
    res = CliRunner().invoke(main, ["train", "digits", "--out", str(tmp_path / "t"), *TRAIN, *extra])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "t" / "config.json").read_text())["threads"] == (threads or 1)


def test_a_run_with_progress_says_the_default_once(tmp_path, monkeypatch):
    pytest.importorskip("sklearn")
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 8)
    args = [a for a in TRAIN if a != "--no-progress"]
    res = CliRunner().invoke(main, ["train", "digits", "--out", str(tmp_path / "t"), *args])
    assert res.exit_code == 0, res.output
    assert res.stderr.count("CPU thread by default") == 1
