"""``xnas-nas``: architecture search and training on the DARTS search space.

The group itself imports neither torch nor torchvision; each command imports
them when it runs.
"""

from __future__ import annotations

import click

from xnas.cli._common import OneLineGroup, add_commands


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="xnas")
def main() -> None:
    """XNAS architecture search and cell training (PyTorch)."""


def _register() -> None:
    from xnas.cli import nas_lookup, nas_search, nas_study, nas_train

    add_commands(main, nas_search, nas_train, nas_study, nas_lookup)


_register()


if __name__ == "__main__":
    main()
