"""How a study is shown: the progress bar, the table on stdout and ``study.png``."""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Optional

__all__ = ["progress_bar", "render_table", "plot_study"]


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int, title: str) -> Iterator[Callable[[], None]]:
    """The runtime's progress bar on stderr over ``total`` units; yields the function that advances it."""
    from xnas.runtime_io import Progress

    with Progress(enabled and total > 0, total) as bar:
        bar.describe(f"{title}: units")
        yield bar.advance


def _num(value: Optional[float], fmt: str = "{:.2f}") -> str:
    return "-" if value is None else fmt.format(value)


def render_table(summary: dict, console=None) -> None:
    """Print the per-method table, the paired difference and the discrimination verdict (rich, stdout)."""
    from rich.console import Console
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:  # a pipe or a file: no terminal width to fit, keep rows on one line
            console = Console(width=200)
    table = Table(title=f"study: {summary['dataset']}, {summary['space']} space "
                        f"({summary['units_done']}/{summary['units_planned']} units)")
    for col in ("method", "cells", "runs", "err %", "95% CI", "best", "worst", "search s", "cost/random",
                "params M", "skip", "param-free"):
        table.add_column(col, justify="left" if col == "method" else "right", no_wrap=True)
    for name, row in summary["methods"].items():
        low, high = row["ci95"]
        ci = "-" if low is None else f"[{low:.2f}, {high:.2f}]" + (" *" if row["ci_over"] == "trainings" else "")
        table.add_row(name, str(row["n_cells"]), str(row["n_trainings"]), _num(row["mean_err"]), ci,
                      _num(row["best"]), _num(row["worst"]), _num(row["search_seconds"], "{:.1f}"),
                      _num(row["cost_vs_random"], "{:.2f}"), _num(row["params_M"], "{:.3f}"),
                      _num(row["skip_connect_normal"], "{:.1f}"), _num(row["parameter_free_normal"], "{:.1f}"))
    console.print(table)
    console.print("err %: mean over cells of each cell's mean test error over its runs (training seeds); "
                  "best/worst: cell means; skip, param-free: mean count in the normal cell.")
    console.print("* one cell: the interval is over its training seeds; otherwise over the cells' mean errors.")
    diff = summary["xnas_minus_darts"]
    if diff["n_pairs"]:
        low, high = diff["ci95"]
        ci = "-" if low is None else f"[{low:.2f}, {high:.2f}]"
        console.print(f"xnas - darts over {diff['n_pairs']} paired seeds: {diff['mean']:+.2f} points, 95% CI {ci}")
    versus = [(name, row.get("minus_random")) for name, row in summary["methods"].items()]
    versus = [f"{name} {d['mean']:+.2f} " + ("" if d["ci95"][0] is None else f"[{d['ci95'][0]:.2f}, {d['ci95'][1]:.2f}]")
              for name, d in versus if d]
    if versus:
        console.print("minus random, over cell means (Welch 95% CI): " + "; ".join(versus))
    console.print(summary["cost_definition"])
    console.print(summary["discrimination"]["verdict"])


def plot_study(summary: dict, path: str) -> None:
    """``study.png``: each trained cell's test error per method (points), mean and 95% CI; search cost beside."""
    import numpy as np

    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from xnas.nas.study.backend import save_figure
    names = list(summary["methods"])
    rows = [summary["methods"][n] for n in names]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 1.3]})
    rng = np.random.default_rng(0)  # jitter only
    for x, row in enumerate(rows):
        for cell in row["cells"]:
            if not cell["errors"]:
                continue
            jitter = rng.uniform(-0.18, 0.18)
            ax.scatter([x + jitter] * len(cell["errors"]), cell["errors"], s=9, color="0.65", zorder=2)
            ax.scatter([x + jitter], [cell["mean_err"]], s=30, color="C0", zorder=3)
        if row["mean_err"] is not None:
            low, high = row["ci95"]
            yerr = None if low is None else [[row["mean_err"] - low], [high - row["mean_err"]]]
            ax.errorbar([x + 0.3], [row["mean_err"]], yerr=yerr, fmt="D", color="C3", capsize=4, zorder=4)
    ax.set_xticks(range(len(names)), names, rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("test error (%)")
    ax.set_title("cells (blue: mean over training seeds, grey: each training); red: mean and 95% CI", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    costs = [row["search_seconds"] or 0.0 for row in rows]
    bx.barh(range(len(names)), costs, color="C1")
    bx.set_yticks(range(len(names)), names, fontsize=8)
    bx.invert_yaxis()
    bx.set_xlabel("mean search seconds per cell")
    bx.set_title("search cost", fontsize=8)
    verdict = "discriminates" if summary["discriminates"] else "does not discriminate"
    fig.suptitle(f"{summary['dataset']}, {summary['space']} space: the benchmark {verdict}", fontsize=10)
    fig.tight_layout()
    try:
        save_figure(fig, path)
    finally:
        plt.close(fig)
