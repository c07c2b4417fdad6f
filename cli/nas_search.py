"""``xnas-nas search`` and ``xnas-nas lr``: run an architecture search, compute XNAS learning rates.

The commands parse options and call :mod:`xnas.nas.search.loop` and
:mod:`xnas.nas.arch.lr`; torch is imported inside the command bodies only.
"""

from __future__ import annotations

import math
import os
import re
from typing import Optional

import click

from xnas.cli._common import DOWNLOAD_HELP, InputError, check_seed_option, emit_json, interrupted_run

SPACE_OPTION = click.option(
    "--space", default="darts", show_default=True,
    help="Search space: darts (normal and reduction cells) or nb201 (NAS-Bench-201, one cell in a fixed skeleton).",
)


def _space(name: str):
    # Each space's presets (xnas.nas.spaces.registry) replace the paper's CIFAR-10 defaults:
    # the digits quick start fits a whole search in minutes on 2 CPU cores.
    from xnas.nas.spaces.registry import get_space

    try:
        return get_space(name)
    except ValueError as exc:
        raise InputError(str(exc)) from None


class SearchFailed(click.ClickException):
    """The search started but could not finish (a NaN loss): one line, exit 1."""

    exit_code = 1

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def _rate(value: Optional[str], name: str) -> Optional[float]:
    if value is None or value.strip().lower() == "auto":
        return None
    try:
        rate = float(value)
    except ValueError:
        raise InputError(f"{name} must be a positive number or 'auto', got {value!r}") from None
    if not (math.isfinite(rate) and rate > 0):
        raise InputError(f"{name} must be a positive number or 'auto', got {value!r}")
    return rate


def _default_out(dataset: str, arch_optimizer: str, space: str = "darts") -> str:
    name = f"{dataset}-{arch_optimizer}" if space == "darts" else f"{dataset}-{space}-{arch_optimizer}"
    return "runs/search-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60]


@click.command("search", short_help="Search a cell (darts: normal and reduction; nb201: one) on a dataset.")
@click.argument("dataset")
@SPACE_OPTION
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Dataset root folder.")
@click.option("--download", is_flag=True, help=DOWNLOAD_HELP)
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Output folder [default: runs/search-DATASET-OPTIMIZER; nb201: runs/search-DATASET-nb201-OPTIMIZER].")
@click.option("--resume", is_flag=True, help="Continue the search in --out from its checkpoint.")
@click.option("--arch-optimizer", default="xnas", show_default=True,
              help="How architecture weights are updated: xnas, darts (Adam, first order), gd, "
                   "or random-ws (random search with weight sharing: no architecture step).")
@click.option("--epochs", type=int, default=None, help="Search epochs [50; digits 6].")
@click.option("--batch-size", type=int, default=None, help="Global batch size [96; digits 64].")
@click.option("--split", type=float, default=0.5, show_default=True,
              help="Share of the training set used for the network weights; the rest is the validation half.")
@click.option("--limit", type=int, default=None, help="Use only this many training images (quick runs).")
@click.option("--channels", "-C", type=int, default=None,
              help="Initial channels [16; digits 4; nb201 fashion-mnist 8].")
@click.option("--layers", type=int, default=None,
              help="Cells of the supernet [darts 8, digits 5; nb201 3N: 15, fashion-mnist 6, digits 3].")
@click.option("--nodes", type=int, default=None, help="Intermediate nodes per cell [darts 4; nb201 3, fixed].")
@click.option("--ops", default=None, help="Comma-separated operation set [the space's operations].")
@click.option("--lr", type=float, default=0.025, show_default=True, help="Network SGD learning rate (cosine).")
@click.option("--lr-min", type=float, default=0.001, show_default=True, help="Final network learning rate.")
@click.option("--momentum", type=float, default=0.9, show_default=True, help="Network SGD momentum, in [0, 1).")
@click.option("--weight-decay", type=float, default=3e-4, show_default=True, help="Network weight decay.")
@click.option("--grad-clip", type=float, default=5.0, show_default=True, help="Network gradient-norm clip.")
@click.option("--eta-normal", default="auto", show_default=True,
              help="XNAS learning rate of the normal cells; auto = sqrt(2 ln N / (T_N L^2)).")
@click.option("--eta-reduce", default=None, help="Same for the reduction cells [auto; darts only].")
@click.option("--L", "L", type=float, default=1.0, show_default=True, help="Reward bound per example.")
@click.option("--zeta", type=float, default=1.0, show_default=True, help="Wipeout relaxation in (0, 1].")
@click.option("--arch-lr", type=float, default=None,
              help="Learning rate of darts/gd [darts 3e-4; gd the XNAS etas].")
@click.option("--arch-weight-decay", type=float, default=None,
              help="Weight decay on the architecture weights of darts (Adam) / gd (L2 on logits) "
                   "[darts 1e-3; gd 0]; xnas takes none.")
@click.option("--ws-samples", type=int, default=None,
              help="random-ws: sampled cells ranked on the validation half at the end [100].")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seeds the data split, the batch order, the weights and the architecture optimizer.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--workers", type=int, default=0, show_default=True, help="DataLoader worker processes.")
@click.option("--threads", type=int, default=None, help="CPU threads of torch [1: never oversubscribes a shared machine; results are reproducible for a given count].")
@click.option("--micro-batches", type=int, default=1, show_default=True,
              help="Split each batch into this many strided chunks (as ranks would).")
@click.option("--channels-last/--no-channels-last", default=True, show_default=True,
              help="NHWC tensors (2x faster steps on one CPU thread); --no-channels-last is the NCHW layout.")
@click.option("--compile/--no-compile", "compile_", default=False, show_default=True,
              help="torch.compile the supernet (minutes of compilation; pays on no CPU search).")
@click.option("--record-rewards", is_flag=True,
              help="Save each edge's (T, N) reward stream under OUT/rewards/ for xnas-sim regret --rewards.")
@click.option("--no-augment", is_flag=True, help="No random crops/flips on the search data.")
@click.option("--no-plots", is_flag=True, help="Skip the PNG figures.")
@click.option("--no-progress", is_flag=True, help="Hide the progress display.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def search(dataset: str, space, data_dir, download, out, resume, arch_optimizer, epochs, batch_size, split, limit, channels,
           layers, nodes, ops, lr, lr_min, momentum, weight_decay, grad_clip, eta_normal, eta_reduce, L, zeta,
           arch_lr, arch_weight_decay, ws_samples, seed, device, workers, threads, micro_batches, channels_last,
           compile_, record_rewards,
           no_augment, no_plots, no_progress, as_json) -> None:
    """Search a cell on DATASET: a normal and a reduction cell (darts), or one cell (nb201).

    DATASET is cifar10, cifar100, svhn, fashion-mnist, digits or imagefolder:PATH.
    The defaults are the paper's CIFAR-10 search (batch 96, 50 epochs, C = 16, 8 cells,
    first order, 50/50 split); digits uses a small supernet that finishes in minutes
    on a CPU. --space nb201 searches the NAS-Bench-201 cell (C = 16, 15 cells on
    CIFAR-10) and writes the benchmark's architecture string to genotype.txt.
    Under torchrun every process runs this command; --batch-size is global.
    The output folder gets genotype.json, genotype.txt, config.json, log.jsonl,
    arch_weights.png, cells.png and checkpoint.pt; random-ws writes selection.json
    (each sampled cell's validation error) instead of arch_weights.png.
    """
    from xnas.nas.spaces.darts.genotypes import GenotypeError, parse_ops
    from xnas.nas.search.loop import SearchConfig

    space_entry = _space(space)
    preset = space_entry.search_presets(dataset)

    def pick(value, key):
        return value if value is not None else preset[key]

    if _rate(eta_reduce, "--eta-reduce") is not None and "reduce" not in space_entry.cell_types:
        raise InputError(f"--eta-reduce does not apply: the {space} space has no reduction cell")
    check_seed_option(seed)
    primitives = space_entry.primitives
    if ops is not None:
        try:
            primitives = parse_ops(ops, "--ops", choices=space_entry.primitives)
        except GenotypeError as exc:
            raise InputError(str(exc)) from None
    if arch_weight_decay is not None and not (math.isfinite(arch_weight_decay) and arch_weight_decay >= 0):
        raise InputError(f"--arch-weight-decay must be a non-negative finite number, got {arch_weight_decay!r}")
    out = out or _default_out(dataset, arch_optimizer, space)
    config = SearchConfig(
        dataset=dataset, space=space, out_dir=out, data_dir=data_dir, download=download, arch_optimizer=arch_optimizer,
        epochs=pick(epochs, "epochs"), batch_size=pick(batch_size, "batch_size"), split=split, limit=limit,
        augment=not no_augment, channels=pick(channels, "channels"), layers=pick(layers, "layers"),
        nodes=pick(nodes, "nodes"), primitives=primitives, lr=lr, lr_min=lr_min, momentum=momentum,
        weight_decay=weight_decay, grad_clip=grad_clip, eta_normal=_rate(eta_normal, "--eta-normal"),
        eta_reduce=_rate(eta_reduce, "--eta-reduce"), L=L, zeta=zeta, arch_lr=arch_lr,
        arch_weight_decay=arch_weight_decay, ws_samples=ws_samples, seed=seed, device=device,
        workers=workers, threads=threads,
        micro_batches=micro_batches, channels_last=channels_last, compile=compile_,
        record_rewards=record_rewards, plots=not no_plots,
        progress=not no_progress,
    )
    result = _run(config, resume)
    summary = result.summary(space)
    if as_json:
        emit_json(summary)
    else:
        click.echo(space_entry.format_genotype(result.genotype))
        if summary["selection"] is not None:
            chosen = summary["selection"]
            click.echo(f"best of {len(chosen['candidate_valid_err'])} sampled cells: validation error "
                       f"{100 * chosen['chosen_valid_err']:.2f} % with the shared weights")
        if summary["table"] is not None:
            click.echo(table_line(summary["table"]))
        click.echo(f"results in {result.out_dir}")


def table_line(found: dict) -> str:
    """The found cell's benchmark accuracies and percentile, in one line (as ``xnas-nas lookup`` shows them)."""
    return (f"NAS-Bench-201 (200 epochs), valid / test %: CIFAR-10 {found['cifar10_valid']:.2f} / "
            f"{found['cifar10_test']:.2f}, CIFAR-100 {found['cifar100_valid']:.2f} / {found['cifar100_test']:.2f}, "
            f"ImageNet16-120 {found['imagenet16_valid']:.2f} / {found['imagenet16_test']:.2f}; index {found['index']}, "
            f"rank {found['rank']:,} of 15,625 by CIFAR-10 test (percentile {found['percentile']:.1f})")


def _run(config, resume: bool):
    """Validate ``config`` and run the search; bad input becomes one line and exit 2, a failed run exit 1."""
    from xnas.nas.checkpoint import CheckpointError
    from xnas.nas.data.datasets import DataError
    from xnas.nas.spaces.darts.genotypes import GenotypeError
    from xnas.nas.runtime import RunError
    from xnas.nas.search.loop import CHECKPOINT, run_search

    out = config.out_dir
    try:
        config.validate()
        if not resume and os.path.isfile(os.path.join(out, CHECKPOINT)):
            raise InputError(f"{out} already holds a search; pass --resume to continue it or choose another --out")
        return run_search(config, resume=resume)
    except KeyboardInterrupt:
        raise interrupted_run(out, "search") from None
    except (ValueError, DataError, CheckpointError, GenotypeError) as exc:
        raise InputError(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__) from None
    except RunError as exc:
        raise SearchFailed(str(exc)) from None


@click.command("lr", short_help="Print the theory's XNAS learning rates for a dataset.")
@click.argument("dataset")
@SPACE_OPTION
@click.option("--size", type=int, default=None, help="Training-set size [the dataset's].")
@click.option("--split", type=float, default=0.5, show_default=True,
              help="Share of the training set used for network weights; d is the rest.")
@click.option("--valid-size", "-d", type=int, default=None, help="Validation examples per epoch d (overrides --size/--split).")
@click.option("--epochs", "-E", type=int, default=None, help="Search epochs [50; digits 6].")
@click.option("--batch-size", "-b", type=int, default=None,
              help="Search batch: an epoch uses whole batches only, as the search does [96; digits 64; 1 counts all].")
@click.option("--layers", type=int, default=None,
              help="Cells of the supernet, which set the replications [the space's search preset: darts 8, digits 5; "
                   "nb201 15, fashion-mnist 6, digits 3].")
@click.option("--replications-normal", "r_normal", type=int, default=None, help="r_N [from --layers].")
@click.option("--replications-reduce", "r_reduce", type=int, default=None, help="r_R [from --layers].")
@click.option("--experts", "-N", type=int, default=None, help="Experts per forecaster [the space's: darts 8, nb201 5].")
@click.option("--L", "L", type=float, default=1.0, show_default=True, help="Reward bound.")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Needed for imagefolder:PATH only.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (keys eta_normal, eta_reduce, ...).")
def lr(dataset, space, size, split, valid_size, epochs, batch_size, layers, r_normal, r_reduce, experts, L, data_dir, as_json) -> None:
    """Print the theory's XNAS learning rates eta_c* for DATASET.

    eta_c* = sqrt(2 ln N / (T_c L^2)) with T_c = d x E x r_c (paper, sections 3.1 and
    3.2.2): d validation examples per epoch (in whole batches, as the search uses them),
    E epochs, r_c replications of cell type c. With the paper's CIFAR-10 settings this
    prints eta_N* = 7.5e-4 and eta_R* = 1.3e-3, the values the search uses by default.
    With --space nb201 every cell shares one set of weights: r = the number of cells
    (3N) and N = 5 experts; there is no reduction cell.
    """
    from xnas.nas.arch.lr import learning_rates, rounds_per_epoch, validation_size

    try:
        train_half = None
        if valid_size is None:
            if size is None:
                from xnas.nas.data.datasets import DataError, dataset_info

                try:
                    size = dataset_info(dataset, data_dir).train_size
                except DataError as exc:
                    raise InputError(str(exc)) from None
                if size < 2:
                    raise InputError(f"the size of {dataset} is unknown; pass --size or --valid-size")
            valid_size = validation_size(size, split)
            train_half = size - valid_size
        space_entry = _space(space)
        preset = space_entry.search_presets(dataset)
        batch_size = preset["batch_size"] if batch_size is None else batch_size
        epochs = preset["epochs"] if epochs is None else epochs
        layers = preset["layers"] if layers is None else layers
        experts = len(space_entry.primitives) if experts is None else experts
        examples = rounds_per_epoch(valid_size, batch_size, train_half)
        if r_reduce and "reduce" not in space_entry.cell_types:
            raise InputError(f"--replications-reduce does not apply: the {space} space has no reduction cell")
        needed = r_normal is None or (r_reduce is None and "reduce" in space_entry.cell_types)
        default_n, default_r = space_entry.replications(layers) if needed else (0, 0)
        rates = learning_rates(
            examples, epochs,
            default_n if r_normal is None else r_normal,
            default_r if r_reduce is None else r_reduce,
            experts=experts, L=L,
        )
    except ValueError as exc:
        raise InputError(str(exc)) from None
    d = rates.to_dict()
    d["dataset"] = dataset
    d["space"] = space
    d["valid_size"] = valid_size
    d["batch_size"] = batch_size
    if as_json:
        emit_json({k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()})
        return
    click.echo(f"{dataset}: d = {rates.rounds_per_epoch} validation examples per epoch (of {valid_size}, in "
               f"whole batches of {batch_size}), E = {rates.epochs}, N = {rates.experts}, L = {rates.L:g}")
    click.echo(f"{'cell type':<10} {'r_c':>4} {'T_c':>14} {'eta_c*':>9}  exact")
    rows = (
        ("normal", "eta_normal", rates.replications_normal, rates.horizon_normal),
        ("reduce", "eta_reduce", rates.replications_reduce, rates.horizon_reduce),
    )
    for label, key, r, horizon in rows[: len(space_entry.cell_types)]:
        eta = d[key]
        shown = "-" if math.isnan(eta) else f"{eta:.1e}"
        exact = "-" if math.isnan(eta) else f"{eta:.6g}"
        click.echo(f"{label:<10} {r:>4} {horizon:>14,.0f} {shown:>9}  {exact}")


COMMANDS = [search, lr]
