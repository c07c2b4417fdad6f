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


class Interrupted(click.ClickException):
    """Ctrl-C: one line saying what was kept, exit code 130 (128 + SIGINT), as shells report it."""

    exit_code = 130

    def show(self, file: Any = None) -> None:
        click.echo(f"aborted: {self.format_message()}", err=True)


def interrupted_run(out: str, what: str) -> Interrupted:
    """The :class:`Interrupted` of a checkpointed run in ``out`` (a search or a training)."""
    import os

    if os.path.isdir(out) and any(name.endswith(".pt") for name in os.listdir(out)):
        return Interrupted(f"the {what}'s finished epochs are kept in {out}; rerun with --resume to continue")
    return Interrupted(f"the {what} stopped before its first checkpoint; nothing was kept")


def _ignore_further_interrupts() -> None:
    # a second Ctrl-C while torch's atexit hooks run printed "Exception ignored in
    # atexit callback ... KeyboardInterrupt"; after the first one we are only exiting
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


class OneLineGroup(click.Group):
    """A click group whose usage errors are one line and exit 2, never a traceback.

    Click's own usage errors print the usage block first; researchers asked for
    a single line that names the problem, so every ``UsageError`` and
    ``ClickException`` is reduced to that here.
    """

    def add_command(self, cmd: click.Command, name: Any = None) -> None:
        """Register ``cmd`` with the empty-value check of :func:`refuse_empty_values` (every command, both tools)."""
        if cmd.callback is not None and not getattr(cmd.callback, "_refuses_empty", False):
            cmd.callback = refuse_empty_values(cmd, cmd.callback)
        super().add_command(cmd, name)

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
        except Interrupted as exc:
            exc.show()
            rv = exc.exit_code
            if standalone_mode:
                _ignore_further_interrupts()
        except click.ClickException as exc:
            exc.show()
            rv = exc.exit_code
        except click.Abort:
            click.echo("aborted", err=True)
            rv = 130
            if standalone_mode:
                _ignore_further_interrupts()
        code = rv if isinstance(rv, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


def refuse_empty_values(command: click.Command, callback: Any) -> Any:
    """Wrap ``callback`` so that a text option or argument given as ``''`` is one line, exit 2.

    Options default to ``None`` and commands read ``value or default``: an explicitly
    empty ``--genotype ''`` or ``--space ''`` used to run the default silently.
    Leaving an option out and giving it empty are different requests; only the
    first gets the default.
    """
    import functools

    @functools.wraps(callback)
    def checked(*args: Any, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        for param in command.params:
            value = ctx.params.get(param.name)
            if not isinstance(value, str) or value.strip():
                continue
            if ctx.get_parameter_source(param.name) in (click.core.ParameterSource.DEFAULT,
                                                         click.core.ParameterSource.DEFAULT_MAP):
                continue
            if isinstance(param, click.Option):
                name = max(param.opts, key=len)
                raise InputError(f"{name} is empty; give a value or leave {name} out for its default")
            raise InputError(f"{param.human_readable_name} is empty")
        return callback(*args, **kwargs)

    checked._refuses_empty = True
    return checked


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


def result_console() -> Any:
    """The rich console of results: stdout, like ``--json`` and every result line (progress, notes and
    errors go to stderr). On a pipe or a file no terminal width applies: rows stay on one line."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=400)


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
