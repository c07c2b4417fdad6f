"""``xnas-nas train``, ``eval`` and ``params``: train a cell, score a checkpoint, size a network.

The commands parse options and call :mod:`xnas.nas.train.loop`; torch is imported
inside the command bodies only, so that loading the CLI stays fast.
"""

from __future__ import annotations

import re
from typing import Optional

import click

from xnas.cli._common import DOWNLOAD_HELP, InputError, check_seed_option, emit_json, interrupted_run


class RunFailed(click.ClickException):
    """The run started but could not finish (e.g. a non-finite loss): one line, exit 1."""

    exit_code = 1

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def _user_errors():
    """The library exceptions that mean bad user input (one line, exit 2)."""
    from xnas.nas.checkpoint import CheckpointError
    from xnas.nas.data.datasets import DataError
    from xnas.nas.spaces.darts.genotypes import GenotypeError
    from xnas.nas.train.recipes import RecipeError
    from xnas.nas.runtime import SetupError

    return (CheckpointError, DataError, GenotypeError, RecipeError, SetupError)


def _default_out(dataset: str, genotype: Optional[str], space: Optional[str] = None) -> str:
    """``runs/train-DATASET[-SPACE]-CELL``: CELL is a registry name, the run a genotype file comes from
    (``runs/s201/genotype.json``: ``s201``), or a short hash of a genotype string, so that two
    searched cells never share a folder by default."""
    import hashlib
    import os

    if space not in (None, "darts"):
        dataset = f"{dataset}-{space}"
    genotype = (genotype or "XNAS").strip()
    if os.path.isfile(genotype) or genotype.endswith((".json", ".txt")):
        path = os.path.abspath(genotype)
        stem = os.path.splitext(os.path.basename(path))[0]
        run = os.path.basename(os.path.dirname(path))
        cell = run if stem in ("genotype", "config") else f"{run}-{stem}"
    elif genotype.startswith(("Genotype", "|")):
        cell = "cell-" + hashlib.sha256(genotype.encode("utf-8")).hexdigest()[:8]
    else:
        cell = genotype
    return "runs/train-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{dataset}-{cell}")[:80]


def _saved_config(out: str) -> Optional[dict]:
    """The ``config.json`` of an earlier run in ``out`` (None when there is none)."""
    import os

    from xnas.nas.spaces.darts.genotypes import json_loads_limited

    path = os.path.join(out, "config.json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            data = json_loads_limited(fh.read(), what="the file")
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path} ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a training configuration")
    if "resolved" in data and isinstance(data.get("config"), dict):
        raise InputError(f"{out} is a search folder (xnas-nas search output), not a training run; "
                         "train its genotype with --genotype {out}/genotype.json and another --out".format(out=out))
    return data


def _reject_short_L(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> None:
    if value is not None:
        raise InputError("-L is ambiguous (search and lr use --L for the reward bound); "
                         "give the number of cells as --layers")


# -L meant --layers here but the reward bound on search and lr: it now has no meaning
# here, and typing it gets a message instead of a silently tiny network.
_no_short_L = click.option("-L", "short_L", default=None, hidden=True, expose_value=False, callback=_reject_short_L)


def _apply_saved(opts: dict, saved: dict, out: str) -> None:
    """``--resume`` alone continues the run as configured; options given now still apply."""
    from xnas.nas.spaces.darts.genotypes import GenotypeError
    from xnas.nas.train.recipes import Recipe
    from xnas.nas.spaces.registry import get_space

    ctx = click.get_current_context()

    def given(name: str) -> bool:
        return ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT

    if saved.get("dataset") != opts["dataset"]:
        raise InputError(f"{out} holds a run on {saved.get('dataset')}, not {opts['dataset']}")
    try:
        if opts["recipe_name"] is None:
            opts["base"] = Recipe(**saved["recipe"]).validate()
        if not given("genotype"):
            # a run saved before spaces existed has no 'space': darts
            opts["geno"] = get_space(saved.get("space", "darts")).genotype_from_dict(saved["genotype"])
        for key, default in (("seed", None), ("limit", None), ("max_steps", None), ("eval_every", 1),
                             ("log_format", "jsonl"), ("channels_last", True), ("data_dir", None)):
            if not given(key):
                opts[key] = saved[key] if default is None and key == "seed" else saved.get(key, default)
        opts["seed"], opts["eval_every"] = int(opts["seed"]), int(opts["eval_every"])
        opts["channels_last"] = bool(opts["channels_last"])
    except (KeyError, TypeError, ValueError, GenotypeError) as exc:
        raise InputError(f"{out}/config.json is unusable for --resume ({exc})") from None


def _train_config(opts: dict):
    """The :class:`~xnas.nas.train.loop.TrainConfig` of the command's options."""
    from xnas.nas.train.recipes import get_recipe, override, parse_assignments
    from xnas.nas.train.loop import TrainConfig

    dataset = opts["dataset"]
    check_seed_option(opts["seed"])
    space = _space(opts["space"])
    recipe = opts.get("base") or get_recipe(opts["recipe_name"] or space.train_recipe(dataset))
    if recipe.space != space.name and opts["space"] is not None:
        raise InputError(f"--space {space.name} disagrees with recipe {recipe.name!r}, which trains the {recipe.space} space")
    space = _space(recipe.space)
    geno = opts.get("geno") or space.parse_genotype(opts["genotype"] or space.default_genotype)
    changes: dict = parse_assignments(opts["assignments"])
    for key in ("channels", "layers", "epochs", "batch_size", "lr"):
        if opts[key] is not None:
            changes[key] = opts[key]
    recipe = override(recipe, **changes)
    if opts["workers"] is not None and opts["workers"] < 0:
        raise InputError("--workers must be non-negative")
    return TrainConfig(
        dataset=dataset, genotype=geno, recipe=recipe, out=opts["out"], data_dir=opts["data_dir"],
        download=opts["download"], seed=opts["seed"], device=opts["device"], limit=opts["limit"],
        max_steps=opts["max_steps"], num_workers=opts["workers"], eval_every=opts["eval_every"],
        log_format=opts["log_format"], progress=not opts["no_progress"], channels_last=opts["channels_last"],
        compile=opts["compile"], threads=opts["threads"],
    )


def _print_results(results: dict, dataset: str) -> None:
    g = results["genotype"]
    click.echo(f"trained {g[:60]}... on {dataset}" if len(g) > 60 else f"trained {g} on {dataset}")
    click.echo(f"params      {results['params_M']:.3f} M")
    if results["test_top1_err"] is not None:
        click.echo(f"top-1 error {results['test_top1_err']:.2f} %")
        if results["test_top5_err"] is not None:  # None with 5 classes or fewer
            click.echo(f"top-5 error {results['test_top5_err']:.2f} %")
    click.echo(f"output      {results['out']}")


def _space_of(space: Optional[str], genotype: Optional[str]) -> Optional[str]:
    """``--space``, or the space the ``--genotype`` value names when ``--space`` is left out; both must agree."""
    from xnas.nas.spaces.registry import genotype_space

    found = genotype_space(genotype)
    if space is None:
        return found
    if found is not None and found != space:
        raise InputError(f"--genotype holds a cell of the {found} space, but --space is {space}; "
                         f"pass --space {found} or leave --space out")
    return space


def _space(name: Optional[str]):
    from xnas.nas.spaces.registry import get_space

    try:
        return get_space(name or "darts")
    except ValueError as exc:
        raise InputError(str(exc)) from None


_SPACE_HELP = ("Search space of the cell: darts or nb201 (NAS-Bench-201) [the space --genotype names; else the "
               "recipe's when --recipe is given; else darts].")

_THREADS_HELP = "CPU threads of torch [1, as on search; results are reproducible for a given count]."


@click.command("train", short_help="Train a cell (genotype) on a dataset with a recipe.")
@click.argument("dataset")
@click.option("--space", default=None, help=_SPACE_HELP)
@click.option("--genotype", "-g", default=None,
              help="darts: registry name (XNAS, DARTS_V1, DARTS_V2), a genotype.json path, or a Genotype(...) string "
                   "[XNAS]; nb201: the benchmark's architecture string or a genotype.json path [all nor_conv_3x3].")
@click.option("--recipe", "recipe_name", default=None,
              help="darts: xnas, darts, imagenet, digits; nb201: nb201, nb201-fashion, nb201-digits "
                   "[the space's for the dataset: digits / xnas; nb201-digits / nb201-fashion / nb201].")
@click.option("--channels", "-C", type=int, default=None, help="Initial channels (recipe field 'channels').")
@click.option("--layers", type=int, default=None, help="Cells (recipe field 'layers').")
@_no_short_L
@click.option("--epochs", type=int, default=None, help="Epochs (recipe field 'epochs').")
@click.option("--batch-size", type=int, default=None, help="Global batch size (recipe field 'batch_size').")
@click.option("--lr", type=float, default=None, help="Peak learning rate (recipe field 'lr').")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Override any recipe field, e.g. --set cutout=0 --set nesterov=false (repeatable).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Dataset root folder.")
@click.option("--download", is_flag=True, help=DOWNLOAD_HELP)
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Output folder [default: runs/train-DATASET-GENOTYPE].")
@click.option("--resume", is_flag=True,
              help="Continue the run in --out from its checkpoint, with its saved configuration.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--threads", type=int, default=None, help=_THREADS_HELP)
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seeds the weights, the batch order, the augmentations and drop-path.")
@click.option("--limit", type=int, default=None, help="Use only this many training and test images (quick runs).")
@click.option("--max-steps", type=int, default=None, help="At most this many optimizer steps per epoch.")
@click.option("--workers", type=int, default=None,
              help="DataLoader worker processes [default: 0 on CPU, up to 8 per GPU on CUDA].")
@click.option("--eval-every", type=int, default=1, show_default=True, help="Evaluate every N epochs (and at the end).")
@click.option("--log-format", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--channels-last/--no-channels-last", default=True, show_default=True,
              help="NHWC tensors (faster on CUDA and, at 32x32, on CPU).")
@click.option("--compile/--no-compile", default=False, show_default=True,
              help="torch.compile the network (minutes of compilation on a CPU).")
@click.option("--no-progress", is_flag=True, help="Hide the progress display.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
def train(**opts) -> None:
    """Train a cell (genotype) on DATASET with a recipe; checkpoints every epoch.

    DATASET is cifar10, cifar100, svhn, fashion-mnist, digits or imagefolder:PATH.
    Under torchrun every process runs this command; --batch-size is the global batch.
    """
    from xnas.nas import distributed
    from xnas.nas.runtime import RunError
    from xnas.nas.train.loop import train as run_training

    try:
        opts["space"] = _space_of(opts["space"], opts["genotype"])
        opts["out"] = opts["out"] or _default_out(opts["dataset"], opts["genotype"], opts["space"])
        saved = _saved_config(opts["out"]) if opts["resume"] else None
        if saved is not None:
            _apply_saved(opts, saved, opts["out"])
        try:
            results = run_training(_train_config(opts), resume=opts["resume"])
        except KeyboardInterrupt:
            raise interrupted_run(opts["out"], "training") from None
        main_process = distributed.is_main()  # before the process group is left
    except _user_errors() as exc:
        raise InputError(str(exc)) from None
    except RunError as exc:
        raise RunFailed(str(exc)) from None
    finally:
        distributed.cleanup()
    if not main_process:  # under torchrun only rank 0 prints
        return
    if opts["as_json"]:
        emit_json(results)
    else:
        _print_results(results, opts["dataset"])


@click.command("eval", short_help="Report top-1 and top-5 error of a training checkpoint.")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Dataset root folder.")
@click.option("--dataset", default=None, help="Evaluate on another dataset with the same classes [default: the training one].")
@click.option("--download", is_flag=True, help=DOWNLOAD_HELP)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--threads", type=int, default=None, help=_THREADS_HELP)
@click.option("--batch-size", type=int, default=256, show_default=True)
@click.option("--limit", type=int, default=None, help="Use only this many test images (at least 1).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
def eval_cmd(
    checkpoint: str,
    data_dir: Optional[str],
    dataset: Optional[str],
    download: bool,
    device: str,
    threads: Optional[int],
    batch_size: int,
    limit: Optional[int],
    as_json: bool,
) -> None:
    """Report top-1 and top-5 error of a training CHECKPOINT on the test split."""
    from xnas.nas.train.evaluation import evaluate_checkpoint

    if batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    if limit is not None and limit < 1:
        raise InputError(f"--limit must be at least 1, got {limit}")
    if threads is not None and threads < 1:
        raise InputError(f"--threads must be at least 1, got {threads}")
    try:
        result = evaluate_checkpoint(checkpoint, data_dir=data_dir, dataset=dataset, device=device,
                                     batch_size=batch_size, download=download, limit=limit, threads=threads)
    except _user_errors() as exc:
        raise InputError(str(exc)) from None
    if as_json:
        emit_json(result)
        return
    click.echo(f"{result['dataset']} test split, {result['n']} images, epoch {result['epoch']}")
    click.echo(f"top-1 error {result['top1_err']:.2f} %")
    if result["top5_err"] is not None:  # None with 5 classes or fewer
        click.echo(f"top-5 error {result['top5_err']:.2f} %")


@click.command("params", short_help="Parameters and multiply-adds of a network.")
@click.option("--space", default=None, help="Search space of the cell: darts or nb201 [the --genotype's; else darts].")
@click.option("--genotype", "-g", default=None,
              help="darts: registry name, genotype.json path, or Genotype(...) string [XNAS]; "
                   "nb201: the benchmark's architecture string or a genotype.json path [all nor_conv_3x3].")
@click.option("--channels", "-C", type=int, default=None,
              help="Initial channels [darts 36, or 46 with --imagenet; nb201 16].")
@click.option("--layers", type=int, default=None, help="Cells [darts 20, or 14 with --imagenet; nb201 15 (N = 5)].")
@_no_short_L
@click.option("--imagenet", is_flag=True, help="The ImageNet mobile network (224x224, 1000 classes).")
@click.option("--classes", type=int, default=None, help="Classes [default: 10, or 1000 with --imagenet].")
@click.option("--in-channels", type=int, default=3, show_default=True)
@click.option("--image-size", type=int, default=None, help="Input size for multiply-adds [default: 32 or 224].")
@click.option("--json", "as_json", is_flag=True, help="Print params_M and macs_M as one JSON object.")
def params(
    space: Optional[str],
    genotype: Optional[str],
    channels: Optional[int],
    layers: Optional[int],
    imagenet: bool,
    classes: Optional[int],
    in_channels: int,
    image_size: Optional[int],
    as_json: bool,
) -> None:
    """Parameters (millions, auxiliary head excluded) and multiply-adds per image of a network.

    --space nb201 sizes the NAS-Bench-201 network (default C = 16, N = 5: 15 cells), which
    has no auxiliary head and no ImageNet form.
    """
    from xnas.nas.spaces.darts.genotypes import GenotypeError

    space = _space_of(space, genotype) or "darts"
    entry = _space(space)
    if imagenet and "imagenet" not in entry.network_sizes:
        raise InputError(f"--imagenet does not apply: the {space} space has no ImageNet network")
    try:
        geno = entry.parse_genotype(genotype or entry.default_genotype)
    except GenotypeError as exc:
        raise InputError(str(exc)) from None
    size_C, size_layers = entry.network_sizes["imagenet" if imagenet else "cifar"]
    channels = channels if channels is not None else size_C
    layers = layers if layers is not None else size_layers
    classes = classes if classes is not None else (1000 if imagenet else 10)
    image_size = image_size if image_size is not None else (224 if imagenet else 32)
    for name, value, low in (("--channels", channels, 2), ("--layers", layers, 3), ("--classes", classes, 1),
                             ("--in-channels", in_channels, 1), ("--image-size", image_size, 1)):
        if value < low:
            raise InputError(f"{name} must be at least {low}, got {value}")
    from xnas.nas.limits import check_network_size

    normal = getattr(geno, "normal", None)  # a darts cell keeps 2 edges per node
    try:  # before anything is built: -C 100000 or 100000 cells would exhaust the memory or run for minutes
        check_network_size(channels, layers, len(normal) // 2 if normal else entry.default_nodes, 1, image_size,
                           in_channels, search=False, forward_only=True, stem_stride=8 if imagenet else 1,
                           cells=entry.cell_model)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    import torch

    from xnas.nas.spaces.measure import count_macs_M, count_parameters_M

    torch.manual_seed(0)
    try:
        model = entry.build_network(geno, channels, layers, classes, in_channels, image_size, auxiliary="reduce" in entry.cell_types,
                                    imagenet=imagenet)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    result = {
        "params_M": round(count_parameters_M(model), 6),
        "macs_M": round(count_macs_M(model, in_channels, image_size), 6),
        "channels": channels,
        "layers": layers,
        "classes": classes,
        "image_size": image_size,
        "network": "imagenet" if imagenet else "cifar",
        "space": entry.name,
    }
    if as_json:
        emit_json(result)
        return
    click.echo(f"{entry.name} {result['network']} network, C={channels}, {layers} cells, {classes} classes, {image_size}x{image_size}")
    click.echo(f"params       {result['params_M']:.3f} M (auxiliary head excluded)")
    click.echo(f"multiply-adds {result['macs_M']:.1f} M per image")


COMMANDS = [train, eval_cmd, params]
