"""One rule for every command: results (tables, result lines, --json) on stdout; progress, notes, warnings
and errors on stderr."""

import io

import pytest
from click.testing import CliRunner

from xnas.cli.sim import main as sim


@pytest.mark.parametrize("args,title,line", [
    (["regret", "--T", "200", "--experts", "3", "--seeds", "2"], "xnas on adversarial", "regret="),
    (["validate", "--quick"], "Battery:", "no violation"),
])
def test_sim_tables_and_result_lines_go_to_stdout(args, title, line):
    res = CliRunner().invoke(sim, args)
    assert res.exit_code == 0, res.output
    assert title in res.stdout and line in res.stdout
    assert title not in res.stderr and "┃" not in res.stderr


def test_study_table_goes_to_stdout(capsys):
    from test_study_table_fit import SUMMARY

    from xnas.nas.study.report import render_table

    render_table(SUMMARY)
    out, err = capsys.readouterr()
    assert "study: fashion-mnist" in out and "┃" in out and err == ""


def test_the_rule_is_documented():
    import pathlib

    readme = (pathlib.Path(__file__).parents[1] / "README.md").read_text()
    assert "results (tables, result lines and `--json`) on stdout" in readme
