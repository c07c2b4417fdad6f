"""The torch-free half of the runtime (:mod:`xnas.runtime_io`): one copy, used by both tools."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from click.testing import CliRunner


def test_simulator_side_imports_the_shared_runtime_without_torch():
    code = ("import sys, xnas.runtime_io, xnas.pea.plots, xnas.pea.validate, xnas.analysis.registry, "
            "xnas.cli.sim, xnas.cli.sim_figure; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_runtime_re_exports_the_same_objects():
    pytest.importorskip("torch")
    import xnas.nas.runtime as runtime
    import xnas.runtime_io as runtime_io

    for name in runtime_io.__all__:
        assert getattr(runtime, name) is getattr(runtime_io, name), name


def test_regret_plot_honours_the_umask(tmp_path):
    """``xnas-sim regret --plot`` used its own writer, which left the PNG 0600."""
    from xnas.cli.sim import main

    path = tmp_path / "r.png"
    old = os.umask(0o022)
    try:
        res = CliRunner().invoke(main, ["regret", "--T", "200", "--seeds", "2", "--plot", str(path)])
    finally:
        os.umask(old)
    assert res.exit_code == 0, res.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.png"]


def test_out_dir_that_is_a_file_is_named_as_such(tmp_path):
    from xnas.runtime_io import SetupError, prepare_out_dir

    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(SetupError, match="exists and is not a folder"):
        prepare_out_dir(str(f))


def test_the_floors_import_downward_only():
    """pea/ and the core stand below nas/: none of their modules imports xnas.nas (inside functions too),
    and analysis/ only in the figure that runs a real search."""
    import ast
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    allowed = {"analysis/fig_entropy_weight_decay.py"}  # its --nas variant runs supernet searches
    bad = []
    for folder in ("xnas", "pea", "analysis"):
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                         else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
                if any(n == "xnas.nas" or n.startswith("xnas.nas.") for n in names) and rel not in allowed:
                    bad.append(f"{rel}:{node.lineno}")
    assert bad == []
