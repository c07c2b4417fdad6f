"""``xnas-nas study``: compare search methods on one protocol (see ``docs/study.md``).

The command parses options and calls :mod:`xnas.nas.study`; torch is imported
inside the command body only.
"""

from __future__ import annotations

import re
from typing import Optional

import click

from xnas.cli._common import InputError, Interrupted, emit_json


class StudyFailed(click.ClickException):
    """A unit started but could not finish: one line, exit 1 (finished units stay done)."""

    exit_code = 1

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


def _default_out(dataset: str, space: str) -> str:
    return "runs/study-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{dataset}-{space}")[:60]


def _methods(text: Optional[str]) -> Optional[tuple[str, ...]]:
    if text is None:
        return None
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise InputError("--methods needs at least one method name")
    return names


@click.command("study", short_help="Compare search methods: every cell trained by one recipe.")
@click.argument("dataset")
@click.option("--space", default=None,
              help="Search space: darts or nb201 (see docs/study.md) [darts; with --report, the saved study's].")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Study folder, shared by every shard [default: runs/study-DATASET-SPACE].")
@click.option("--methods", default=None,
              help="Comma-separated methods [every method of the space: xnas, darts, gd, random-ws, random, "
                   "and in darts published-XNAS, published-DARTS_V2].")
@click.option("--quick", is_flag=True, help="The 'quick' preset: a tiny end-to-end study (minutes on digits).")
@click.option("--preset", type=str, default=None, help="A named sizing: quick or cifar10-paper (GPUs).")
@click.option("--seeds", "-S", type=int, default=None, help="Search seeds (cells) per searching method [3].")
@click.option("--trainings", "-R", type=int, default=None,
              help="Training seeds per cell [2]; 0: a search-only study, every cell scored by NAS-Bench-201's "
                   "table (nb201 only).")
@click.option("--random-cells", type=int, default=None, help="Cells of the random row [4].")
@click.option("--ws-samples", "-K", type=int, default=None,
              help="K: cells random-ws ranks with shared weights [16; the table study uses 100].")
@click.option("--search-epochs", type=int, default=None, help="Search epochs, every searching method [6].")
@click.option("--search-batch", type=int, default=None, help="Search batch size [64].")
@click.option("--search-limit", type=int, default=None, help="Training images a search uses, before the split [all].")
@click.option("--channels", "-C", type=int, default=None, help="Supernet initial channels [the space's search preset for DATASET].")
@click.option("--layers", type=int, default=None, help="Supernet cells [the space's search preset for DATASET].")
@click.option("--recipe", default=None, help="Training recipe shared by every cell [the space's recipe for DATASET].")
@click.option("--train-epochs", type=int, default=None, help="Training epochs [the recipe's].")
@click.option("--train-batch", type=int, default=None, help="Training batch size [the recipe's].")
@click.option("--train-limit", type=int, default=None, help="Training (and test) images per training [all].")
@click.option("--train-channels", type=int, default=None, help="Channels of the trained network [the recipe's].")
@click.option("--train-layers", type=int, default=None, help="Cells of the trained network [the recipe's].")
@click.option("--data-dir", type=click.Path(file_okay=False), default=None, help="Dataset root folder.")
@click.option("--device", default=None, help="auto, cpu, cuda or cuda:N [cpu; cifar10-paper auto].")
@click.option("--resume", is_flag=True, help="Continue the study in --out from its finished units.")
@click.option("--jobs", "-j", type=int, default=1, show_default=True,
              help="Local processes running units (one torch thread each).")
@click.option("--shard", default=None, metavar="I/N", help="Run only shard I of N (0-based; whole cells).")
@click.option("--report", is_flag=True, help="Only rebuild summary.json and study.png from the units in --out.")
@click.option("--no-progress", is_flag=True, help="Hide the progress display.")
@click.option("--wide", is_flag=True, help="Print every column of the table, even past the terminal's width.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def study(dataset, space, out, methods, quick, preset, seeds, trainings, random_cells, ws_samples, search_epochs,
          search_batch, search_limit, channels, layers, recipe, train_epochs, train_batch, train_limit,
          train_channels, train_layers, data_dir, device, resume, jobs, shard, report, no_progress,
          wide, as_json) -> None:
    """Compare search methods on DATASET: every method's cells trained by one recipe.

    S search seeds per method, each found cell trained R times and tested on the test
    split; random cells and (in the darts space) the published cells alongside. Every
    unit is its own file under OUT/units, so --resume, --jobs and --shard (N machines
    sharing OUT) pick up where others left. Writes study.json, summary.json and
    study.png; prints the table (or --json). Says whether the benchmark tells cells
    apart (F-test over the random cells' training seeds, p < 0.05).
    """
    from xnas.nas.study.config import StudyError, load_study_config, make_config
    from xnas.nas.study.report import render_table
    from xnas.nas.study.runner import StudyInterrupted, UnitFailed, run_study, write_report
    from xnas.nas.study.units import parse_shard

    if quick and preset not in (None, "quick"):
        raise InputError(f"--quick and --preset {preset} contradict each other")
    if out is not None and not out.strip():
        raise InputError("--out is empty; name a folder or leave --out out for the default")
    out = out or _default_out(dataset, space or "darts")
    try:
        if report:
            cfg = load_study_config(out)
            if cfg.dataset != dataset or space not in (None, cfg.space):
                raise StudyError(f"{out} holds a study of {cfg.dataset} in the {cfg.space} space, "
                                 f"not {dataset}" + (f" in {space}" if space else ""))
            summary = write_report(cfg, out)
        else:
            from xnas.nas.data.datasets import DataError, dataset_info

            try:
                dataset_info(dataset, data_dir)
            except DataError as exc:
                raise StudyError(str(exc).strip().splitlines()[0]) from None
            cfg = make_config(
                dataset, space or "darts", _methods(methods), "quick" if quick else preset, seeds=seeds, trainings=trainings,
                random_cells=random_cells, ws_samples=ws_samples, search_epochs=search_epochs,
                search_batch=search_batch, search_limit=search_limit, search_channels=channels,
                search_layers=layers, recipe=recipe, train_epochs=train_epochs, train_batch=train_batch,
                train_limit=train_limit, train_channels=train_channels, train_layers=train_layers,
                data_dir=data_dir, device=device,
            )
            _check_recipe(cfg.recipe)
            summary = run_study(cfg, out, resume=resume, jobs=jobs,
                                shard=parse_shard(shard) if shard is not None else (0, 1),
                                progress=not no_progress)
    except StudyError as exc:
        raise InputError(str(exc)) from None
    except UnitFailed as exc:
        raise StudyFailed(str(exc)) from None
    except StudyInterrupted as exc:
        raise Interrupted(str(exc)) from None
    invalid = summary.get("units_invalid") or []
    if invalid:
        click.echo(f"warning: {len(invalid)} unit file(s) are not valid and count as not done (first: "
                   f"{invalid[0]['unit']} {invalid[0]['problem']}); --resume reruns them", err=True)
    versions = summary.get("code_versions") or []
    if len(versions) > 1:
        click.echo(f"note: the units were written by {len(versions)} code versions: {', '.join(versions)}", err=True)
    if as_json:
        emit_json(summary)
    else:
        render_table(summary, wide=wide)
        click.echo(f"results in {out}")


def _check_recipe(name: str) -> None:
    from xnas.nas.train.recipes import RecipeError, get_recipe
    from xnas.nas.study.config import StudyError

    try:
        get_recipe(name)
    except RecipeError as exc:
        raise StudyError(str(exc)) from None


COMMANDS = [study]
