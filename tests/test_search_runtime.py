"""The runtime under the search: step order per method, output folder checks, writers, stops, CLI polish."""

from __future__ import annotations

import errno
import os
import stat

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from click.testing import CliRunner  # noqa: E402

from xnas.cli.nas import main  # noqa: E402
from xnas.nas import checkpoint as checkpoint_module  # noqa: E402
from xnas.nas.checkpoint import load_checkpoint  # noqa: E402
from xnas.nas.runtime import (Progress, RunError, SetupError, nonfinite_tensors, resolve_device,  # noqa: E402
                              write_text_atomic)
from search_helpers import tiny  # noqa: E402
from xnas.nas.search.loop import SearchError, _Search, run_search  # noqa: E402
from xnas.nas.search.outputs import epoch_text  # noqa: E402

torch.set_num_threads(1)


@pytest.mark.parametrize("method, first", [("xnas", "train"), ("darts", "valid"), ("gd", "valid")])
def test_step_order_follows_each_method(tmp_path, method, first):
    # XNAS: Algorithm 1 steps the weights first (line 4); DARTS steps the architecture first
    search = _Search(tiny(tmp_path, arch_optimizer=method).validate(), resume=False)
    search.build()
    seen = []
    original = search._forward_sum

    def recording(x, y, weights, scale, arch=False):
        seen.append(("arch" if arch else "weights", float(x.sum())))
        return original(x, y, weights, scale, arch=arch)

    search._forward_sum = recording
    (xt, yt), (xv, yv) = next(iter(search.train_loader)), next(iter(search.valid_loader))
    search.step(xt, yt, xv, yv)
    train_sum, valid_sum = float(xt.sum()), float(xv.sum())
    assert train_sum != valid_sum
    expected = [("weights", train_sum), ("arch", valid_sum)]
    assert seen == (expected if first == "train" else expected[::-1])


def test_epoch_line_names_the_cell_types():
    e = {"epoch": 3, "train_loss": 1.0, "train_acc": 0.5, "valid_loss": 1.1, "valid_acc": 0.4,
         "alive": {"normal": 14, "reduce": 20}, "entropy": 0.3, "seconds": 2.0}
    text = epoch_text(e, 112)
    assert "alive normal 14/112 reduce 20/112" in text


@pytest.mark.parametrize("out", ["/dev/null/x", "/proc/xnas-test/out"])
def test_unusable_out_is_one_line_before_data_loading(tmp_path, monkeypatch, out):
    import xnas.nas.search.setup as setup

    def no_data(*a, **k):
        raise AssertionError("data loaded before the output folder was checked")

    monkeypatch.setattr(setup, "search_splits", no_data)
    with pytest.raises(SetupError, match="cannot be written"):
        run_search(tiny(out))
    result = CliRunner().invoke(main, ["search", "digits", "--out", out, "--epochs", "1", "--no-progress"])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "cannot be written" in result.output


def test_read_only_out_is_refused(tmp_path, monkeypatch):
    # root ignores directory modes, so the refusal of the file system is simulated
    import xnas.nas.runtime as runtime
    import xnas.runtime_io as runtime_io

    def read_only(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(runtime_io.tempfile, "mkstemp", read_only)
    with pytest.raises(SetupError, match="Read-only file system"):
        runtime.prepare_out_dir(str(tmp_path / "ro"))


def test_atomic_files_honour_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
        checkpoint_module.save_checkpoint({"t": torch.zeros(2)}, tmp_path / "c.pt")
        run_search(tiny(tmp_path / "run", epochs=1, plots=True))
    finally:
        os.umask(old)
    paths = [tmp_path / "a.txt", tmp_path / "c.pt"] + [p for p in (tmp_path / "run").iterdir() if p.is_file()]
    for p in paths:
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p


def test_full_disk_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    out = tmp_path / "run"
    run_search(tiny(out), stop_after=1)
    real = checkpoint_module.save_checkpoint

    def full(obj, path):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module, "save_checkpoint", full)
    with pytest.raises(RunError, match=r"disk is full.*after epoch 1\) was kept"):
        run_search(tiny(out), resume=True)
    monkeypatch.setattr(checkpoint_module, "save_checkpoint", real)
    assert load_checkpoint(out / "checkpoint.pt")["epochs_done"] == 1


def test_stale_temp_files_are_removed_on_start_and_resume(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".tmp-checkpoint.pt.abc123").write_bytes(b"half")
    run_search(tiny(out), stop_after=1)
    assert not any(p.name.startswith(".tmp-") for p in out.iterdir())
    (out / ".tmp-checkpoint.pt.def456").write_bytes(b"half")
    run_search(tiny(out), resume=True)
    assert not any(p.name.startswith(".tmp-") for p in out.iterdir())


def test_nonfinite_stop_keeps_only_a_finite_checkpoint(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RunError) as info:
        run_search(tiny(out, lr=1e6, lr_min=1e6, epochs=3))
    message = str(info.value)
    path = out / "checkpoint.pt"
    if path.exists():
        state = load_checkpoint(path)
        assert nonfinite_tensors(state["net"]) == []
        assert f"after epoch {state['epochs_done']}) was kept" in message
    else:
        assert "no checkpoint was written" in message
    assert isinstance(info.value, (SearchError, RunError))


def test_final_wipeout_is_marked_on_the_weights_figure(tmp_path, monkeypatch):
    import xnas.nas.search.plots as plots

    figures = []
    monkeypatch.setattr(plots, "save_png", lambda fig, path: figures.append((os.path.basename(path), fig)))
    run_search(tiny(tmp_path / "run", epochs=1, plots=True))
    fig = dict(figures)["arch_weights.png"]
    labels = {line.get_label() for ax in fig.axes for line in ax.get_lines()}
    assert "final wipeout (horizon)" in labels


def test_plain_progress_lines_are_not_wrapped(capsys):
    text = "epoch 1: " + "x" * 300
    with Progress(True, total=1, live=False) as bar:
        bar.advance()
        bar.line(text)
    assert capsys.readouterr().err == text + "\n"


def test_live_progress_shows_elapsed_time():
    from rich.progress import TimeElapsedColumn

    with Progress(True, total=2, live=True) as bar:
        assert any(isinstance(c, TimeElapsedColumn) for c in bar._bar.columns)


def test_bare_cuda_and_auto_agree(monkeypatch):
    assert resolve_device("auto").type in ("cpu", "cuda")
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(SetupError, match="CUDA is not available"):
            resolve_device("cuda")
        with pytest.raises(SetupError):
            resolve_device("tpu")


def test_help_texts():
    runner = CliRunner()
    top = runner.invoke(main, ["--help"]).output
    for name in ("search", "lr", "train", "eval", "params"):
        line = next(s for s in top.splitlines() if s.strip().startswith(name + " "))
        assert not line.rstrip().endswith("..."), line
    text = runner.invoke(main, ["search", "--help"], terminal_width=200).output
    momentum = next(s for s in text.splitlines() if "--momentum" in s)
    seed = next(s for s in text.splitlines() if "--seed" in s)
    assert "momentum" in momentum.split("--momentum", 1)[1].lower()
    assert "seed" in seed.split("--seed", 1)[1].lower()


def test_resume_is_exact_with_the_darts_step_order(tmp_path):
    full = run_search(tiny(tmp_path / "full", arch_optimizer="darts"))
    run_search(tiny(tmp_path / "part", arch_optimizer="darts"), stop_after=1)
    resumed = run_search(tiny(tmp_path / "part", arch_optimizer="darts"), resume=True)
    assert resumed.genotype == full.genotype
    a, b = load_checkpoint(tmp_path / "full" / "checkpoint.pt"), load_checkpoint(tmp_path / "part" / "checkpoint.pt")
    for k in a["net"]:
        assert torch.equal(a["net"][k], b["net"][k]), k
    for kind in ("normal", "reduce"):
        assert torch.equal(a["arch"]["params"][kind], b["arch"]["params"][kind])


def test_a_failed_setup_leaves_no_empty_out_folder(tmp_path):
    out = tmp_path / "new"
    with pytest.raises(Exception):
        run_search(tiny(out, dataset="imagefolder:" + str(tmp_path / "missing")))
    assert not out.exists()
