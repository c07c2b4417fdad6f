"""The documented GPU search on CIFAR-10 in the nb201 space has the benchmark's protocol (checked, never run)."""

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")

from xnas.cli import nas_search  # noqa: E402
from xnas.cli.nas import main  # noqa: E402

DOC = Path(__file__).resolve().parents[1] / "docs" / "study.md"
MARKER = "<!-- nb201-cifar10-gpu-command -->"


def _documented_command() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    assert MARKER in text, "docs/study.md lost the GPU command's marker"
    block = re.search(r"```bash\n(.*?)\n```", text[text.index(MARKER):], re.S).group(1)
    lines = [line for line in block.splitlines() if line.strip()]
    assert len(lines) == 1, "the GPU command is one line"
    words = shlex.split(lines[0])
    assert words[0] == "xnas-nas"
    return words[1:]


def test_the_gpu_command_is_the_benchmarks_cifar10_search(monkeypatch):
    seen = {}

    def capture(config, resume):
        seen["config"], seen["resume"] = config, resume
        raise SystemExit(0)  # never run the search

    monkeypatch.setattr(nas_search, "_run", capture)
    args = _documented_command()
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    cfg = seen["config"]
    assert (cfg.dataset, cfg.space, cfg.arch_optimizer) == ("cifar10", "nb201", "xnas")
    assert (cfg.epochs, cfg.batch_size, cfg.split, cfg.limit) == (50, 64, 0.5, None)  # 25,000 / 25,000 images
    assert (cfg.channels, cfg.layers, cfg.nodes) == (16, 15, 3)  # the benchmark's skeleton, N = 5
    assert cfg.device == "cuda" and cfg.download and not seen["resume"]
    assert (cfg.lr, cfg.lr_min, cfg.momentum, cfg.weight_decay) == (0.025, 0.001, 0.9, 3e-4)
    # the same command with darts is the benchmark's DARTS-V1 row; both settings pass the search's checks
    from xnas.nas.data.datasets import dataset_info

    info = dataset_info("cifar10")
    assert info.train_size == 50_000 and int(info.train_size * cfg.split) == 25_000
    cfg._check_fields()
    darts = CliRunner().invoke(main, [("darts" if a == "xnas" else a) for a in args])
    assert darts.exit_code == 0 and seen["config"].arch_optimizer == "darts"

