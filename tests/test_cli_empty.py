"""An explicitly empty text option or argument (``--genotype ''``, ``--space ''``) is one line and exit 2,
in every command of both tools; leaving the option out still gives its default."""

import click
import pytest
from click.testing import CliRunner

from xnas.cli.nas import main as nas_main
from xnas.cli.sim import main as sim_main
from cli_checks import assert_one_line_exit_2


def _cases():
    for tool, group in (("nas", nas_main), ("sim", sim_main)):
        for name, command in sorted(group.commands.items()):
            required = [p for p in command.params if isinstance(p, click.Argument)]
            for param in command.params:
                text = isinstance(param.type, (click.types.StringParamType, click.Path))
                if not text or getattr(param, "is_flag", False) or param.nargs != 1 or getattr(param, "multiple", False) \
                        or getattr(param, "hidden", False):
                    continue
                yield pytest.param(group, name, param, required, id=f"{tool}-{name}-{param.name}")


@pytest.mark.parametrize("group,name,param,required", list(_cases()))
def test_empty_value_is_refused(group, name, param, required):
    args = [name] + ["" if p is param else "digits" for p in required]
    if isinstance(param, click.Option):
        args += [max(param.opts, key=len), ""]
    res = CliRunner().invoke(group, args)
    assert_one_line_exit_2(res, "is empty")


@pytest.mark.parametrize("args", [["params", "--genotype", ""], ["params", "--space", "nb201", "--genotype", ""],
                                  ["params", "--space", ""], ["train", "digits", "--genotype", "  "]])
def test_the_issue_cases(args):
    assert_one_line_exit_2(CliRunner().invoke(nas_main, args), "is empty", args[-2])


def test_cases_cover_genotype_and_space_options():
    ids = {c.id for c in _cases()}
    assert {"nas-params-genotype", "nas-train-genotype", "nas-train-space", "nas-search-space", "sim-regret-rewards_path"} <= ids
