"""``xnas-nas lookup``: a NAS-Bench-201 cell's 200-epoch accuracies from the benchmark's own table.

Torch-free: it parses the cell and reads the packaged table; it never trains or downloads.
"""

from __future__ import annotations

import click

from xnas.cli._common import InputError, emit_json

_DATASETS = (("CIFAR-10", "cifar10"), ("CIFAR-100", "cifar100"), ("ImageNet16-120", "imagenet16"))


@click.command("lookup", short_help="A NAS-Bench-201 cell's accuracies, index and rank from the benchmark's table.")
@click.argument("genotype")
@click.option("--space", default="nb201", show_default=True,
              help="Search space of the cell; only nb201 (NAS-Bench-201) has a table of trained cells.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object (index, the six accuracies, rank, percentile).")
def lookup(genotype: str, space: str, as_json: bool) -> None:
    """Look GENOTYPE up in NAS-Bench-201's table of all 15,625 cells trained for 200 epochs.

    GENOTYPE is the benchmark's string |op~0|+|op~0|op~1|+|op~0|op~1|op~2|, a search's
    genotype.json or a text file holding the string. Prints the valid and test accuracy (%)
    on CIFAR-10, CIFAR-100 and ImageNet16-120 (epoch 200, mean over the benchmark's seeds),
    the cell's index, and its rank and percentile among all cells by CIFAR-10 test
    accuracy, the number papers that search this space report.
    """
    from xnas.nas.spaces.genotype_text import GenotypeError
    from xnas.nas.spaces.tables import TableError, get_table

    try:
        table = get_table(space)
        found = table.lookup(genotype)
    except GenotypeError as exc:
        raise InputError(f"{exc} (lookup reads NAS-Bench-201 cells only)") from None
    except TableError as exc:
        raise InputError(str(exc)) from None
    if as_json:
        emit_json(found)
        return
    click.echo(f"{table.arch[found['index']]}  (NAS-Bench-201 index {found['index']})")
    click.echo(f"{'dataset':<15} {'valid %':>8} {'test %':>8}")
    for label, key in _DATASETS:
        click.echo(f"{label:<15} {found[key + '_valid']:>8.4f} {found[key + '_test']:>8.4f}")
    click.echo(f"rank {found['rank']:,} of {len(table.arch):,} cells by CIFAR-10 test accuracy "
               f"(percentile {found['percentile']:.2f}); 200 epochs, mean over the benchmark's seeds")


COMMANDS = [lookup]
