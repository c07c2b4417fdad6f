"""Smaller fixes of the newcomer pass: whole command summaries in --help, figure output ignored by git,
typeset node names in cells.png."""

import pathlib
import subprocess

import pytest
from click.testing import CliRunner

ROOT = pathlib.Path(__file__).parents[1]


@pytest.mark.parametrize("tool", ["nas", "sim"])
def test_group_help_never_cuts_a_summary(tool):
    from xnas.cli.nas import main as nas
    from xnas.cli.sim import main as sim

    group = nas if tool == "nas" else sim
    res = CliRunner().invoke(group, ["--help"])
    assert res.exit_code == 0
    commands = res.output.split("Commands:")[1]
    assert "..." not in commands, commands


def test_readme_figure_folder_is_ignored(tmp_path):
    readme = (ROOT / "README.md").read_text()
    assert "xnas-sim figure late-bloomers --out figures" in readme
    res = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", "figures/late-bloomers.png"])
    assert res.returncode == 0  # ignored
    res = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", "docs/figures/late-bloomers.png"])
    assert res.returncode == 1  # the committed gallery is not


def test_cell_node_names_are_typeset():
    pytest.importorskip("torch")
    from xnas.nas.spaces.cell_plots import node_name as _node_name

    assert _node_name(0) == "$c_{k-2}$" and _node_name(1) == "$c_{k-1}$" and _node_name(2) == "0"


def test_drifting_numbers_live_in_one_place():
    """The test count is not written; whole-run times are in performance.md only (dated; the others point there)."""
    import re

    pages = {p.name: p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]}
    for name, text in pages.items():
        if name != "performance.md":
            assert not re.search(r"\b\d[\d,]* tests\b", text), name
            assert not re.search(r"train digits --genotype XNAS[^\n]*\d+ s\b", text), name
            assert "compiles for about" not in text, name
    assert "### Whole runs" in pages["performance.md"]


def test_docs_cite_no_file_users_lack():
    for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = p.read_text()
        assert "reference.md" not in text and "measurements.md" not in text and "shared/paper" not in text, p.name
