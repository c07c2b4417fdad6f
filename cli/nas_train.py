"""``xnas-nas train``, ``eval`` and ``params``: train a cell, score a checkpoint, size a network.

The commands parse options and call :mod:`xnas.nas.train`; torch is imported
inside the command bodies only, so that loading the CLI stays fast.
"""

from __future__ import annotations

import re
from typing import Optional

import click

from xnas.cli._common import InputError, emit_json


class RunFailed(click.ClickException):
    """The run started but could not finish (e.g. a non-finite loss): one line, exit 1."""

    exit_code = 1

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def _user_errors():
    """The library exceptions that mean bad user input (one line, exit 2)."""
    from xnas.nas.checkpoint import CheckpointError
    from xnas.nas.data import DataError
    from xnas.nas.genotypes import GenotypeError
    from xnas.nas.recipes import RecipeError
    from xnas.nas.train import TrainSetupError

    return (CheckpointError, DataError, GenotypeError, RecipeError, TrainSetupError)


def _default_out(dataset: str, genotype: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{dataset}-{genotype}")[:60]
    if genotype.startswith("Genotype") or genotype.endswith(".json"):
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", dataset)[:60] + "-custom"
    return f"runs/train-{name}"


def _saved_config(out: str) -> Optional[dict]:
    """The ``config.json`` of an earlier run in ``out`` (None when there is none)."""
    import json
    import os

    path = os.path.join(out, "config.json")
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path} ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a training configuration")
    return data


@click.command("train")
@click.argument("dataset")
@click.option("--genotype", "-g", default="XNAS", show_default=True,
              help="Registry name (XNAS, DARTS_V1, DARTS_V2), a genotype.json path, or a DARTS Genotype(...) string.")
@click.option("--recipe", "recipe_name", default=None,
              help="xnas, darts, imagenet or digits [default: digits for the digits dataset, else xnas].")
@click.option("--channels", "-C", type=int, default=None, help="Initial channels (recipe field 'channels').")
@click.option("--layers", "-L", type=int, default=None, help="Cells (recipe field 'layers').")
@click.option("--epochs", type=int, default=None, help="Epochs (recipe field 'epochs').")
@click.option("--batch-size", type=int, default=None, help="Global batch size (recipe field 'batch_size').")
@click.option("--lr", type=float, default=None, help="Peak learning rate (recipe field 'lr').")
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
              help="Override any recipe field, e.g. --set cutout=0 --set nesterov=false (repeatable).")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Dataset root folder.")
@click.option("--download", is_flag=True, help="Let torchvision download the dataset into --data-dir.")
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Output folder [default: runs/train-DATASET-GENOTYPE].")
@click.option("--resume", is_flag=True,
              help="Continue the run in --out from its checkpoint, with its saved configuration.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--limit", type=int, default=None, help="Use only this many training and test images (quick runs).")
@click.option("--max-steps", type=int, default=None, help="At most this many optimizer steps per epoch.")
@click.option("--workers", type=int, default=None,
              help="DataLoader worker processes [default: 0 on CPU, up to 8 per GPU on CUDA].")
@click.option("--eval-every", type=int, default=1, show_default=True, help="Evaluate every N epochs (and at the end).")
@click.option("--log-format", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option("--channels-last/--no-channels-last", default=True, show_default=True,
              help="NHWC tensors (faster on CUDA and, at 32x32, on CPU).")
@click.option("--no-progress", is_flag=True, help="Hide the progress display.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
def train(
    dataset: str,
    genotype: str,
    recipe_name: Optional[str],
    channels: Optional[int],
    layers: Optional[int],
    epochs: Optional[int],
    batch_size: Optional[int],
    lr: Optional[float],
    assignments: tuple[str, ...],
    data_dir: Optional[str],
    download: bool,
    out: Optional[str],
    resume: bool,
    device: str,
    seed: int,
    limit: Optional[int],
    max_steps: Optional[int],
    workers: Optional[int],
    eval_every: int,
    log_format: str,
    channels_last: bool,
    no_progress: bool,
    as_json: bool,
) -> None:
    """Train a cell (genotype) on DATASET with a recipe; checkpoints every epoch.

    DATASET is cifar10, cifar100, svhn, fashion-mnist, digits or imagefolder:PATH.
    Under torchrun every process runs this command; --batch-size is the global batch.
    """
    from xnas.nas.genotypes import resolve_genotype
    from xnas.nas.recipes import get_recipe, override, parse_assignments
    from xnas.nas.train import TrainConfig, TrainingError
    from xnas.nas.train import train as run_training

    errors = _user_errors()
    try:
        out = out or _default_out(dataset, genotype)
        saved = _saved_config(out) if resume else None
        geno = None
        base = None
        if saved is not None:
            # --resume alone continues the run as configured; options given now still apply.
            from xnas.nas.genotypes import Genotype
            from xnas.nas.recipes import Recipe

            ctx = click.get_current_context()

            def given(name: str) -> bool:
                return ctx.get_parameter_source(name) != click.core.ParameterSource.DEFAULT

            if saved.get("dataset") != dataset:
                raise InputError(f"{out} holds a run on {saved.get('dataset')}, not {dataset}")
            try:
                if not given("genotype"):
                    geno = Genotype.from_dict(saved["genotype"])
                if recipe_name is None:
                    base = Recipe(**saved["recipe"]).validate()
                seed = seed if given("seed") else int(saved["seed"])
                limit = limit if given("limit") else saved.get("limit")
                max_steps = max_steps if given("max_steps") else saved.get("max_steps")
                eval_every = eval_every if given("eval_every") else int(saved.get("eval_every", 1))
                log_format = log_format if given("log_format") else saved.get("log_format", "jsonl")
                channels_last = channels_last if given("channels_last") else bool(saved.get("channels_last", True))
                data_dir = data_dir if given("data_dir") else saved.get("data_dir")
            except (KeyError, TypeError, ValueError) as exc:
                raise InputError(f"{out}/config.json is unusable for --resume ({exc})") from None
        if geno is None:
            geno = resolve_genotype(genotype)
        recipe = base or get_recipe(recipe_name or ("digits" if dataset == "digits" else "xnas"))
        changes: dict = parse_assignments(assignments)
        for key, value in (("channels", channels), ("layers", layers), ("epochs", epochs),
                           ("batch_size", batch_size), ("lr", lr)):
            if value is not None:
                changes[key] = value
        recipe = override(recipe, **changes)
        if workers is not None and workers < 0:
            raise InputError("--workers must be non-negative")
        config = TrainConfig(
            dataset=dataset, genotype=geno, recipe=recipe, out=out,
            data_dir=data_dir, download=download, seed=seed, device=device, limit=limit,
            max_steps=max_steps, num_workers=workers, eval_every=eval_every, log_format=log_format,
            progress=not no_progress, channels_last=channels_last,
        )
        results = run_training(config, resume=resume)
        from xnas.nas import distributed

        main_process = distributed.is_main()  # before the process group is left
    except errors as exc:
        raise InputError(str(exc)) from None
    except TrainingError as exc:
        raise RunFailed(str(exc)) from None
    finally:
        from xnas.nas import distributed

        distributed.cleanup()
    if not main_process:  # under torchrun only rank 0 prints
        return
    if as_json:
        emit_json(results)
        return
    click.echo(f"trained {results['genotype'][:60]}... on {dataset}" if len(results["genotype"]) > 60
               else f"trained {results['genotype']} on {dataset}")
    click.echo(f"params      {results['params_M']:.3f} M")
    if results["test_top1_err"] is not None:
        click.echo(f"top-1 error {results['test_top1_err']:.2f} %")
        click.echo(f"top-5 error {results['test_top5_err']:.2f} %")
    click.echo(f"output      {results['out']}")


@click.command("eval")
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Dataset root folder.")
@click.option("--dataset", default=None, help="Evaluate on another dataset with the same classes [default: the training one].")
@click.option("--download", is_flag=True, help="Let torchvision download the dataset into --data-dir.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--batch-size", type=int, default=256, show_default=True)
@click.option("--limit", type=int, default=None, help="Use only this many test images.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as one JSON object.")
def eval_cmd(
    checkpoint: str,
    data_dir: Optional[str],
    dataset: Optional[str],
    download: bool,
    device: str,
    batch_size: int,
    limit: Optional[int],
    as_json: bool,
) -> None:
    """Report top-1 and top-5 error of a training CHECKPOINT on the test split."""
    from xnas.nas.train import evaluate_checkpoint

    if batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    try:
        result = evaluate_checkpoint(checkpoint, data_dir=data_dir, dataset=dataset, device=device,
                                     batch_size=batch_size, download=download, limit=limit)
    except _user_errors() as exc:
        raise InputError(str(exc)) from None
    if as_json:
        emit_json(result)
        return
    click.echo(f"{result['dataset']} test split, {result['n']} images, epoch {result['epoch']}")
    click.echo(f"top-1 error {result['top1_err']:.2f} %")
    click.echo(f"top-5 error {result['top5_err']:.2f} %")


@click.command("params")
@click.option("--genotype", "-g", default="XNAS", show_default=True,
              help="Registry name, genotype.json path, or DARTS Genotype(...) string.")
@click.option("--channels", "-C", type=int, default=None, help="Initial channels [default: 36, or 46 with --imagenet].")
@click.option("--layers", "-L", type=int, default=None, help="Cells [default: 20, or 14 with --imagenet].")
@click.option("--imagenet", is_flag=True, help="The ImageNet mobile network (224x224, 1000 classes).")
@click.option("--classes", type=int, default=None, help="Classes [default: 10, or 1000 with --imagenet].")
@click.option("--in-channels", type=int, default=3, show_default=True)
@click.option("--image-size", type=int, default=None, help="Input size for multiply-adds [default: 32 or 224].")
@click.option("--json", "as_json", is_flag=True, help="Print params_M and macs_M as one JSON object.")
def params(
    genotype: str,
    channels: Optional[int],
    layers: Optional[int],
    imagenet: bool,
    classes: Optional[int],
    in_channels: int,
    image_size: Optional[int],
    as_json: bool,
) -> None:
    """Parameters (millions, auxiliary head excluded) and multiply-adds per image of a network."""
    from xnas.nas.genotypes import GenotypeError, resolve_genotype

    try:
        geno = resolve_genotype(genotype)
    except GenotypeError as exc:
        raise InputError(str(exc)) from None
    channels = channels if channels is not None else (46 if imagenet else 36)
    layers = layers if layers is not None else (14 if imagenet else 20)
    classes = classes if classes is not None else (1000 if imagenet else 10)
    image_size = image_size if image_size is not None else (224 if imagenet else 32)
    for name, value, low in (("--channels", channels, 2), ("--layers", layers, 3), ("--classes", classes, 1),
                             ("--in-channels", in_channels, 1), ("--image-size", image_size, 1)):
        if value < low:
            raise InputError(f"{name} must be at least {low}, got {value}")
    import torch

    from xnas.nas.network import build_network, count_macs_M, count_parameters_M

    torch.manual_seed(0)
    model = build_network(geno, channels, layers, classes, in_channels, image_size, auxiliary=True, imagenet=imagenet)
    result = {
        "params_M": round(count_parameters_M(model), 6),
        "macs_M": round(count_macs_M(model, in_channels, image_size), 6),
        "channels": channels,
        "layers": layers,
        "classes": classes,
        "image_size": image_size,
        "network": "imagenet" if imagenet else "cifar",
    }
    if as_json:
        emit_json(result)
        return
    click.echo(f"{result['network']} network, C={channels}, {layers} cells, {classes} classes, {image_size}x{image_size}")
    click.echo(f"params       {result['params_M']:.3f} M (auxiliary head excluded)")
    click.echo(f"multiply-adds {result['macs_M']:.1f} M per image")


COMMANDS = [train, eval_cmd, params]
