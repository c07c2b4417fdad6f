"""Ctrl-C says what was kept and exits 130; a second Ctrl-C while exiting prints nothing more;
a study logged to a file prints one plain line per finished unit."""

import os
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

SCRIPT = textwrap.dedent("""
    import atexit, os, signal, time
    import click
    from xnas.cli._common import OneLineGroup

    @click.group(cls=OneLineGroup)
    def group():
        pass

    @group.command()
    def boom():
        # a second Ctrl-C arriving while exit hooks run (torch registers some)
        atexit.register(lambda: (os.kill(os.getpid(), signal.SIGINT), time.sleep(0.3)))
        raise KeyboardInterrupt

    group(["boom"])
""")


def test_second_ctrl_c_while_exiting_prints_nothing_more():
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert res.returncode == 130, res
    assert res.stderr.strip() == "aborted" and "Exception ignored" not in res.stderr, res.stderr


ARGS = ["digits", "--space", "nb201", "--methods", "random", "--seeds", "1", "-R", "1", "--random-cells", "1",
        "--search-limit", "64", "--train-limit", "64", "--search-epochs", "1", "-C", "2", "--train-channels", "2",
        "--search-batch", "16", "--train-batch", "16", "--train-epochs", "1"]


def test_study_logged_to_a_file_prints_a_line_per_unit(tmp_path):
    pytest.importorskip("torch")
    from xnas.cli.nas import main

    res = CliRunner().invoke(main, ["study", *ARGS, "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    lines = [line for line in res.stderr.splitlines() if " done in " in line]
    assert len(lines) == 2, res.stderr
    assert "search/random/c00 done in" in lines[0] and "1/2 units, 1 left" in lines[0]
    assert "train/random/c00-t00" in lines[1] and "2/2 units, 0 left" in lines[1]


def test_ctrl_c_in_a_study_says_what_was_kept(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from xnas.cli.nas import main
    from xnas.nas.study import runner

    real = runner.run_unit

    def second_is_interrupted(unit, cfg, out):
        if unit.kind == "train":
            raise KeyboardInterrupt
        return real(unit, cfg, out)

    monkeypatch.setattr(runner, "run_unit", second_is_interrupted)
    out = str(tmp_path / "s")
    res = CliRunner().invoke(main, ["study", *ARGS, "--no-progress", "--out", out])
    assert res.exit_code == 130, res.output
    assert res.output.strip() == f"aborted: 1/2 units kept in {out}; rerun with --resume to continue"


def test_interrupt_with_jobs_stops_the_queued_units(tmp_path, monkeypatch):
    """SIGINT to the main process alone (kill -INT) used to wait for every queued unit; now they are stopped."""
    pytest.importorskip("torch")
    import contextlib

    from xnas.nas.study import report
    from xnas.nas.study.config import make_config
    from xnas.nas.study.runner import StudyInterrupted, pending_units, run_study

    @contextlib.contextmanager
    def interrupting(enabled, total, title):
        def done(unit_id):
            raise KeyboardInterrupt

        yield done

    monkeypatch.setattr(report, "progress_bar", interrupting)
    # six searches are queued at once (their trainings wait on them); the first to finish interrupts
    cfg = make_config("digits", "nb201", ("xnas",), seeds=6, trainings=1, search_limit=64,
                      train_limit=64, search_epochs=1, train_epochs=1, search_channels=2, train_channels=2,
                      search_batch=16, train_batch=16)
    out = str(tmp_path / "s")
    with pytest.raises(StudyInterrupted, match=r"units kept in .*rerun with --resume"):
        run_study(cfg, out, jobs=2, progress=False)
    searches_left = [u for u in pending_units(cfg, out) if u.kind == "search"]
    assert len(searches_left) >= 3  # the queued searches did not run after the interrupt
