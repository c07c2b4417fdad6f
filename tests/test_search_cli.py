"""``xnas-nas search`` through click's CliRunner."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from xnas.cli.nas import main

TINY = ["--limit", "96", "--epochs", "1", "--batch-size", "16", "-C", "2", "--layers", "3", "--nodes", "2",
        "--no-plots", "--no-progress"]


def test_module_import_does_not_import_torch():
    code = "import sys, xnas.cli.nas_search, xnas.cli.nas; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_search_digits_json_then_refuses_to_overwrite_then_resumes(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    out = tmp_path / "s"
    runner = CliRunner()
    res = runner.invoke(main, ["search", "digits", "--out", str(out), "--json", *TINY])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output.strip().splitlines()[-1])
    assert d["epochs"] == 1 and d["out_dir"] == str(out) and d["darts"].startswith("Genotype(")
    assert (out / "genotype.json").is_file() and (out / "config.json").is_file()
    cfg = json.loads((out / "config.json").read_text())["config"]
    assert cfg["batch_size"] == 16 and cfg["channels"] == 2 and cfg["zeta"] == 1.0

    res = runner.invoke(main, ["search", "digits", "--out", str(out), *TINY])
    assert res.exit_code == 2 and "--resume" in res.output

    # resuming a finished search just rewrites its outputs
    res = runner.invoke(main, ["search", "digits", "--out", str(out), "--resume", *TINY])
    assert res.exit_code == 0, res.output
    assert res.output.strip().splitlines()[-2].startswith("Genotype(")

    (out / "checkpoint.pt").write_bytes(b"\x00garbage")
    res = runner.invoke(main, ["search", "digits", "--out", str(out), "--resume", *TINY])
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "checkpoint" in lines[0] and "Traceback" not in res.output


@pytest.mark.parametrize(
    "args,match",
    [
        (["search", "nosuchdata"], "unknown dataset"),
        (["search", "cifar10", "--data-dir", "{tmp}/empty"], "--download"),
        (["search", "digits", "--zeta", "0"], "zeta"),
        (["search", "digits", "--epochs", "0"], "epochs"),
        (["search", "digits", "--arch-optimizer", "adam"], "architecture optimizer"),
        (["search", "digits", "--ops", "none,conv_9x9"], "unknown operation"),
        (["search", "digits", "--eta-normal", "-3"], "eta-normal"),
        (["search", "digits", "--L", "nan"], "L must be positive"),
        (["search", "digits", "--resume", "--out", "{tmp}/nothing"], "no checkpoint"),
        (["search", "digits", "--batch-size", "5000"], "exceeds"),
        (["search", "digits", "--arch-optimizer", "darts", "--arch-weight-decay", "-0.1"], "--arch-weight-decay"),
        (["search", "digits", "--arch-optimizer", "darts", "--arch-weight-decay", "inf"], "--arch-weight-decay"),
        (["search", "digits", "--arch-weight-decay", "1e-3"], "xnas takes no architecture weight decay"),
        (["search", "digits", "--arch-lr", "0.01"], "xnas takes the theory's etas"),
        (["search", "digits", "--ws-samples", "5"], "random-ws's"),
        (["search", "digits", "--arch-optimizer", "random-ws", "--ws-samples", "0"], "ws_samples"),
        (["search", "digits", "--arch-optimizer", "random-ws", "--record-rewards"], "observes no rewards"),
        (["search", "digits", "--arch-optimizer", "random-ws", "--ops", "none,skip_connect"], "own cells"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, match):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "o")]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and match in lines[0], res.output
    if "cifar10" in args and "--data-dir" in args:
        assert "cifar-10-batches-py" in lines[0]  # the message names the expected layout
    assert not (tmp_path / "o" / "checkpoint.pt").exists()
