"""``xnas-sim figure``: build the paper's illustrations (issue 4) from the pea simulator.

Parsing only: the figures live in :mod:`xnas.analysis`.  Neither matplotlib
nor torch is imported at module level, so ``xnas-sim`` starts fast.
"""

from __future__ import annotations

from dataclasses import replace

import click

from xnas.cli._common import SIMULATION_ERRORS, InputError, check_seed_option, emit_json


@click.command("figure", short_help="Build a figure (or all) into a folder: PNG, CSV and JSON.")
@click.argument("name", required=False)
@click.option("--out", "out_dir", default="figures", show_default=True, metavar="DIR",
              help="Folder for NAME.png, NAME.csv and NAME.json.")
@click.option("--list", "list_only", is_flag=True, help="List the figures, one line each, and exit.")
@click.option("--quick", is_flag=True, help="Fewer seeds and shorter horizons (seconds per figure).")
@click.option("--seeds", type=int, default=None, help="Number of seeds (default: per figure and mode).")
@click.option("--seed", type=int, default=0, show_default=True, help="First seed.")
@click.option("--nas", is_flag=True, help="Also build the NAS variant from short supernet searches (needs torch).")
@click.option("--json", "as_json", is_flag=True, help="Print the summaries as one JSON object on stdout.")
def figure(name, out_dir, list_only, quick, seeds, seed, nas, as_json):
    """Build figure NAME (or `all`) into --out DIR: a PNG, its data as CSV and a JSON summary."""
    from xnas.analysis.registry import FIGURES, BuildOptions, run_figure

    if list_only:
        if as_json:
            emit_json({"figures": {f.name: {"title": f.title, "description": f.description, "needs_nas": f.needs_nas}
                                   for f in FIGURES.values()}})
        else:
            width = max(len(n) for n in FIGURES)
            for f in FIGURES.values():
                tag = " [--nas]" if f.needs_nas else ""
                click.echo(f"{f.name:<{width}}  {f.description}{tag}")
        return
    choices = ", ".join([*FIGURES, "all"])
    if name is None:
        raise InputError(f"name a figure (choices: {choices}) or use --list")
    if name != "all" and name not in FIGURES:
        raise InputError(f"unknown figure {name!r} (choices: {choices})")
    if seeds is not None and seeds < 2:
        raise InputError(f"--seeds must be at least 2 (confidence bands need a spread), got {seeds}")
    check_seed_option(seed)
    names = list(FIGURES) if name == "all" else [name]
    if nas:
        if name != "all" and not FIGURES[name].needs_nas:
            with_nas = ", ".join(n for n, f in FIGURES.items() if f.needs_nas)
            raise InputError(f"figure {name!r} has no --nas variant (figures with one: {with_nas})")
        for n in (x for x in names if FIGURES[x].needs_nas):
            check = FIGURES[n].nas_check
            reason = check() if check is not None else None
            if reason:
                raise InputError(f"figure {n}: {reason}")
    # torch-free: the runtime's output-folder check and progress display
    from xnas.runtime_io import Progress, SetupError, prepare_out_dir, removed_if_left_empty

    summaries = {}
    with removed_if_left_empty(out_dir), Progress(True, len(names)) as progress:
        try:
            prepare_out_dir(out_dir)  # writable, before any figure is built
        except SetupError as exc:
            raise InputError(f"--out: {exc}") from None
        progress.describe("figures")
        opts = BuildOptions(quick=quick, seeds=seeds, nas=nas, seed=seed, progress=progress.describe)
        for n in names:
            progress.describe(n)
            try:
                # with `all --nas`, figures without a NAS variant are built as usual
                summaries[n] = run_figure(n, out_dir, replace(opts, nas=nas and FIGURES[n].needs_nas))
            except (*SIMULATION_ERRORS, RuntimeError, OSError) as exc:
                raise InputError(f"figure {n}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
            progress.advance()
            s = summaries[n]
            claim = s.get("claim_holds")
            mark = "" if claim is None else ("  claim holds" if claim else "  CLAIM DOES NOT HOLD")
            progress.line(f"{n}: {s['files']['png']} ({s['seconds']:.1f} s){mark}")
    if as_json:
        emit_json({"out": out_dir, "quick": quick, "figures": summaries})
    else:
        for n, s in summaries.items():
            click.echo(f"{n}\t{s['files']['png']}\tclaim_holds={s.get('claim_holds')}")


COMMANDS = [figure]
