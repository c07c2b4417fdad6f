"""How a study is shown: the progress bar, the table on stdout and ``study.png``."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

__all__ = ["progress_bar", "render_table", "plot_study", "COLUMNS", "Column", "fit_columns"]


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int, title: str) -> Iterator[Callable[[str], None]]:
    """The runtime's progress on stderr over ``total`` units; yields ``done(unit_id)``, called per finished unit.

    On a terminal a live bar; otherwise (a log file, a pipe) one plain line per finished
    unit: what, how long, how many are left and about how long they take at the pace so far.
    """
    import time

    from xnas.nas.runtime_io import Progress

    start = last = time.perf_counter()
    count = 0
    with Progress(enabled and total > 0, total) as bar:
        bar.describe(f"{title}: units")

        def done(unit_id: str) -> None:
            nonlocal last, count
            now = time.perf_counter()
            count += 1
            bar.advance()
            if not bar.live:
                left = (now - start) / count * (total - count)
                bar.line(f"{title}: {unit_id} done in {now - last:.1f} s; {count}/{total} units, "
                         f"{total - count} left (about {_duration(left)})")
            last = now

        yield done


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _num(value: Optional[float], fmt: str = "{:.2f}") -> str:
    return "-" if value is None else fmt.format(value)


ERR_RANGE = (0.0, 100.0)
"""A test error's possible range (%): intervals are displayed clipped to it (the JSON keeps them as computed)."""


def _clipped(row: dict) -> bool:
    low, high = row["ci95"]
    return low is not None and (low < ERR_RANGE[0] or high > ERR_RANGE[1])


def _ci(row: dict) -> str:
    low, high = row["ci95"]
    if low is None:
        return "-"
    low, high = max(low, ERR_RANGE[0]), min(high, ERR_RANGE[1])
    return f"[{low:.2f}, {high:.2f}]" + (" *" if row["ci_over"] == "trainings" else "")


@dataclass(frozen=True)
class Column:
    """One column of the study table: its header, when it is dropped to fit, and its cell text.

    ``keep``: columns are dropped in decreasing ``keep`` until the table fits the
    terminal (0: never dropped); ``--wide`` shows them all. A new column is one entry
    in :data:`COLUMNS`.
    """

    header: str
    keep: int
    cell: Callable[[str, dict], str]


COLUMNS: list[Column] = [
    Column("method", 0, lambda name, row: name),
    Column("err %", 0, lambda name, row: _num(row["mean_err"])),
    Column("95% CI", 0, lambda name, row: _ci(row)),
    Column("cells", 1, lambda name, row: str(row["n_cells"])),
    Column("runs", 2, lambda name, row: str(row["n_trainings"])),
    Column("cost/random", 3, lambda name, row: _num(row["cost_vs_random"], "{:.2f}")),
    Column("best", 4, lambda name, row: _num(row["best"])),
    Column("worst", 4, lambda name, row: _num(row["worst"])),
    Column("param-free", 5, lambda name, row: _num(row["parameter_free_normal"], "{:.1f}")),
    Column("search s", 6, lambda name, row: _num(row["search_seconds"], "{:.1f}")),
    Column("params M", 7, lambda name, row: _num(row["params_M"], "{:.3f}")),
    Column("skip", 8, lambda name, row: _num(row["skip_connect_normal"], "{:.1f}")),
]
"""The study table's columns, in display order."""


def fit_columns(columns: list[Column], rows: list[list[str]], width: int) -> list[int]:
    """Indices of the columns shown in ``width`` characters: the least kept dropped first, never a cut cell.

    A column needs its widest cell or header plus 3 characters (padding and its
    border), the table 1 more; rich's box is drawn the same way.
    """
    need = [max([len(columns[i].header)] + [len(r[i]) for r in rows]) + 3 for i in range(len(columns))]
    shown = list(range(len(columns)))
    for i in sorted(shown, key=lambda i: (-columns[i].keep, -i)):
        if sum(need[j] for j in shown) + 1 <= width or columns[i].keep == 0:
            break
        shown.remove(i)
    return shown


def render_table(summary: dict, console=None, wide: bool = False) -> None:
    """Print the per-method table, the paired difference and the discrimination verdict (rich, stdout).

    On a terminal the table fits its width: columns are dropped in :data:`COLUMNS`'
    ``keep`` order and a line says which (``--wide`` or ``--json`` give them); a number
    is never cut. On a pipe or a file every column is printed.
    """
    from rich.console import Console
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:  # a pipe or a file: no terminal width to fit, keep rows on one line
            console, wide = Console(width=400), True
    names = list(summary["methods"])
    rows = [[c.cell(name, summary["methods"][name]) for c in COLUMNS] for name in names]
    shown = list(range(len(COLUMNS))) if wide else fit_columns(COLUMNS, rows, console.width)
    table = Table(title=f"study: {summary['dataset']}, {summary['space']} space "
                        f"({summary['units_done']}/{summary['units_planned']} units)")
    for i in shown:
        table.add_column(COLUMNS[i].header, justify="left" if i == 0 else "right", no_wrap=True,
                         min_width=max([len(COLUMNS[i].header)] + [len(r[i]) for r in rows]))
    for r in rows:
        table.add_row(*(r[i] for i in shown))
    if wide:
        need = sum(max([len(COLUMNS[i].header)] + [len(r[i]) for r in rows]) + 3 for i in shown) + 1
        if need > console.width:  # --wide on a narrow terminal: long lines rather than cut numbers
            console.width = need
    console.print(table)
    hidden = [c.header for i, c in enumerate(COLUMNS) if i not in shown]
    if hidden:
        console.print(f"(not shown, to fit {console.width} columns: {', '.join(hidden)}; --wide or --json show them)")
    console.print("err %: mean over cells of each cell's mean test error over its runs (training seeds); "
                  "best/worst: cell means; skip, param-free: mean count in the normal cell.")
    console.print("* one cell: the interval is over its training seeds; otherwise over the cells' mean errors.")
    if any(_clipped(row) for row in summary["methods"].values()):
        console.print("95% CIs are shown clipped to 0-100%, the possible range; summary.json keeps them as computed "
                      "(so few values make the t-interval this wide that it means little).")
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
            if low is not None:
                low, high = max(low, ERR_RANGE[0]), min(high, ERR_RANGE[1])
            yerr = None if low is None else [[row["mean_err"] - low], [high - row["mean_err"]]]
            ax.errorbar([x + 0.3], [row["mean_err"]], yerr=yerr, fmt="D", color="C3", capsize=4, zorder=4)
    ax.set_xticks(range(len(names)), names, rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("test error (%)")
    low_y, high_y = ax.get_ylim()
    ax.set_ylim(max(low_y, ERR_RANGE[0] - 2), min(high_y, ERR_RANGE[1] + 2))
    if any(_clipped(row) for row in rows):
        ax.annotate("95% CIs clipped to 0-100%", (0.01, 0.01), xycoords="axes fraction", fontsize=7, color="C3")
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
