"""Shared pieces of the two console scripts: one-line errors with exit code 2."""

from __future__ import annotations

import json
import sys
from typing import Any

import click


SIMULATION_ERRORS = (ValueError, FloatingPointError, MemoryError)
"""What :func:`xnas.pea.simulate` raises for input it cannot run (too large for memory
included); every command that simulates turns these into one line."""


class InputError(click.ClickException):
    """Bad input from the user: one line on stderr and exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class OneLineGroup(click.Group):
    """A click group whose usage errors are one line and exit 2, never a traceback.

    Click's own usage errors print the usage block first; researchers asked for
    a single line that names the problem, so every ``UsageError`` and
    ``ClickException`` is reduced to that here.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            rv = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except click.UsageError as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":
                exc.show()
            else:
                click.echo(f"error: {exc.format_message()}", err=True)
            rv = 2
        except click.ClickException as exc:
            exc.show()
            rv = exc.exit_code
        except click.Abort:
            click.echo("aborted", err=True)
            rv = 1
        code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def add_commands(group: click.Group, *modules: Any) -> None:
    """Add every command a module lists in ``COMMANDS`` to ``group``.

    Command modules keep their torch imports inside the command bodies, so
    registering them costs nothing at start-up.
    """
    for module in modules:
        for command in getattr(module, "COMMANDS", ()):
            group.add_command(command)


def check_seed_option(seed: int, option: str = "--seed") -> int:
    """The one seed rule of ``xnas-sim`` and ``xnas-nas`` (:func:`xnas.limits.check_seed`), as an :class:`InputError`."""
    from xnas.limits import check_seed

    try:
        return check_seed(seed, option)
    except ValueError as exc:
        raise InputError(str(exc)) from None


DOWNLOAD_HELP = ("Download the dataset if it is missing: into --data-dir, or without it into the default data folder "
                 "($XNAS_DATA, else ~/.cache/xnas/data), where missing data is fetched anyway.")


def emit_json(obj: Any) -> None:
    """Print one JSON object on stdout (results go to stdout, progress to stderr)."""
    click.echo(json.dumps(obj, sort_keys=True, allow_nan=False, default=_json_default))


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
