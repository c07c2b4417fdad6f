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

    from xnas.runtime_io import Progress, format_duration

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
                         f"{total - count} left (about {format_duration(left)})")
            last = now

        yield done


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

SEARCH_ONLY_COLUMNS: list[Column] = [c for c in COLUMNS if c.header in ("method", "search s", "param-free", "skip")]
"""A search-only study's columns: it trained nothing, so the trained-error and cost columns would all be empty."""


def _search_only(summary: dict) -> bool:
    return not any(row["n_trainings"] for row in summary["methods"].values())


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


def print_fitted(console, table, columns: list[Column], sections: list[list[list[str]]], wide: bool) -> None:
    """Print ``table`` with the columns that fit ``console`` (all with ``wide``), never cutting a cell.

    ``sections``: groups of rows (each a list of cell texts, one per column), separated by a rule.
    Columns left out are named in one line after the table.
    """
    rows = [r for section in sections for r in section]
    shown = list(range(len(columns))) if wide else fit_columns(columns, rows, console.width)
    widths = [max([len(columns[i].header)] + [len(r[i]) for r in rows]) for i in range(len(columns))]
    for i in shown:
        table.add_column(columns[i].header, justify="left" if i == 0 else "right", no_wrap=True, min_width=widths[i])
    for k, section in enumerate(sections):
        if k:
            table.add_section()
        for r in section:
            table.add_row(*(r[i] for i in shown))
    if wide:
        need = sum(widths[i] + 3 for i in shown) + 1
        if need > console.width:  # --wide on a narrow terminal: long lines rather than cut numbers
            console.width = need
    console.print(table)
    hidden = [c.header for i, c in enumerate(columns) if i not in shown]
    if hidden:
        console.print(f"(not shown, to fit {console.width} columns: {', '.join(hidden)}; --wide or --json show them)")


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
    search_only = _search_only(summary)
    columns = SEARCH_ONLY_COLUMNS if search_only else COLUMNS
    rows = [[c.cell(name, summary["methods"][name]) for c in columns] for name in names]
    title = "searches" if search_only else "study"
    print_fitted(console, Table(title=f"{title}: {summary['dataset']}, {summary['space']} space "
                                      f"({summary['units_done']}/{summary['units_planned']} units)"),
                 columns, [rows], wide)
    if search_only:
        console.print("search s: mean seconds per search; skip, param-free: mean count in the normal cell "
                      "(no trainings: the searched cells are scored below).")
    else:
        console.print("err %: mean over cells of each cell's mean test error over its runs (training seeds); "
                      "best/worst: cell means; skip, param-free: mean count in the normal cell.")
        if any(row.get("ci_over") == "trainings" for row in summary["methods"].values()):
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
    if not search_only:
        console.print(summary["cost_definition"])
    console.print(summary["discrimination"]["verdict"])
    searched = summary["discrimination"].get("searched_cells")
    if searched and searched.get("p") is not None:
        console.print(f"Searched cells ({', '.join(searched['methods'])}): training noise SD {searched['within_sd']:.2f} "
                      + (f"(Levene p = {searched['levene_p_vs_random']:.2g} against the random cells'), "
                         if searched.get("levene_p_vs_random") is not None else "(no random cells' noise to compare with), ")
                      + f"between-cell SD {_num(searched['between_sd'])}, F-test p = {searched['p']:.2g}.")
    if summary.get("table"):
        _render_scores(summary, console, wide)


def _diff_ci(d: Optional[dict]) -> str:
    if not d or d.get("mean") is None:
        return "-"
    low, high = d["ci95"]
    return f"{d['mean']:+.2f}" + ("" if low is None else f" [{low:.2f}, {high:.2f}]")


def _score_column(header: str, keep: int) -> Column:
    return Column(header, keep, lambda name, cells: cells.get(header, "-"))


SCORE_COLUMNS: list[Column] = [
    _score_column("method", 0),
    _score_column("cells", 3),
    _score_column("c10 valid", 5),
    _score_column("c10 test", 0),
    _score_column("95% CI", 0),
    _score_column("minus all cells [95% CI]", 1),
    _score_column("p_holm", 2),
    _score_column("c100 test", 6),
    _score_column("IN16 test", 6),
    _score_column("final entropy", 4),
]
"""The NAS-Bench-201 scores table's columns, fitted to the terminal as :data:`COLUMNS` are."""


def _score_rows(summary: dict) -> list[list[dict]]:
    """The scores table's rows, in sections (methods, all cells, published), each ``{header: text}``."""
    t = summary["table"]
    methods = []
    for name, row in t["methods"].items():
        test, d = row["cifar10_test"], (t["minus_random"].get(name) or {}).get("cifar10_test")
        low, high = test["ci95"]
        methods.append({"method": name, "cells": str(test["n"]), "c10 valid": _num(row["cifar10_valid"]["mean"]),
                        "c10 test": _num(test["mean"]),
                        "95% CI": "-" if low is None else f"[{max(low, 0.0):.2f}, {min(high, 100.0):.2f}]",
                        "minus all cells [95% CI]": _diff_ci(d), "p_holm": _num(d.get("p_holm") if d else None, "{:.2g}"),
                        "c100 test": _num(row["cifar100_test"]["mean"]), "IN16 test": _num(row["imagenet16_test"]["mean"]),
                        "final entropy": _num(summary["methods"][name].get("final_entropy"), "{:.5f}")})
    every = t["all_cells"]
    population = [
        {"method": f"all 15,625 cells: {what}", **{h: _num(every[c][stat]) for h, c in
                                                  (("c10 valid", "cifar10_valid"), ("c10 test", "cifar10_test"),
                                                   ("c100 test", "cifar100_test"), ("IN16 test", "imagenet16_test"))},
         "95% CI": note}
        for what, stat, note in (("mean", "mean", f"median {every['cifar10_test']['median']:.2f}"),
                                 ("best", "max", f"top 10% from {every['cifar10_test']['q90']:.2f}"))]
    published = [{"method": f"{row['method']} (published) +",
                  "c10 valid": "{:.2f}+-{:.2f}".format(*row["cifar10_valid"]),
                  "c10 test": "{:.2f}+-{:.2f}".format(*row["cifar10_test"])} for row in t["published"]]
    return [methods, population, published]


def _render_scores(summary: dict, console, wide: bool = False) -> None:
    """The table's 200-epoch accuracies of each method's cells, the exact population and the published rows.

    Fitted to the terminal like the main table (:data:`SCORE_COLUMNS`' ``keep`` order, never a cut number).
    """
    from rich.table import Table

    t = summary["table"]
    sections = [[[c.cell(r["method"], r) for c in SCORE_COLUMNS] for r in rows] for rows in _score_rows(summary)]
    print_fitted(console, Table(title="NAS-Bench-201 (200 epochs) accuracy % of the cells found on " + summary["dataset"]),
                 SCORE_COLUMNS, sections, wide)
    if any(_clipped(row["cifar10_test"]) for row in t["methods"].values()):
        console.print("accuracy 95% CIs are shown clipped to 0-100%, the possible range; summary.json keeps them as "
                      "computed")
    console.print(f"+ {t['published_label']} (mean +- std over their runs), not on {summary['dataset']}; "
                  "'best' is each column's own maximum.")
    d = t["xnas_minus_darts"]["cifar10_test"]
    if d["n_pairs"]:
        console.print(f"table: xnas - darts CIFAR-10 test over {d['n_pairs']} paired seeds: {_diff_ci(d)}, "
                      f"p = {_num(d.get('p'), '{:.2g}')}, p_holm = {_num(d.get('p_holm'), '{:.2g}')}")
    console.print("minus all cells: the method's mean minus the exact mean of all 15,625 cells (a random cell's "
                  "expectation); " + summary["holm_rule"])
    tr = t["transfer"]
    if tr["kendall_tau"] is not None:
        console.print(f"transfer over {tr['n_cells']} trained cells (mean test error on {summary['dataset']} vs CIFAR-10 "
                      f"test accuracy): Kendall tau {tr['kendall_tau']:+.2f} (p = {tr['kendall_p']:.2g}), Spearman "
                      f"{tr['spearman']:+.2f} (p = {tr['spearman_p']:.2g})")


def plot_study(summary: dict, path: str) -> None:
    """``study.png``: each trained cell's test error per method (points), mean and 95% CI; search cost beside.

    With a table (nb201), also each cell's 200-epoch CIFAR-10 test accuracy per method beside the
    exact population and the published searches, and the derived cell's accuracy per search epoch.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from xnas.nas.study.backend import save_figure

    scores = summary.get("table")
    search_only = bool(scores) and _search_only(summary)
    if search_only:  # no trained errors to plot: the table's scores, their curve by epoch and the cost
        fig, (cx, dx, bx) = plt.subplots(1, 3, figsize=(15, 4.6), gridspec_kw={"width_ratios": [3, 1.6, 1.3]})
    elif scores:
        fig, axes = plt.subplots(2, 2, figsize=(12, 8.4), gridspec_kw={"width_ratios": [3, 1.6]})
        ax, bx, cx, dx = axes[0, 0], axes[0, 1], axes[1, 0], axes[1, 1]
    else:
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 1.3]})
    names = list(summary["methods"])
    if not search_only:
        _plot_errors(ax, summary, names)
    _plot_cost(bx, summary, names)
    if scores:
        _plot_table(cx, summary, names)
        _plot_by_epoch(dx, scores)
    verdict = "the benchmark " + ("discriminates" if summary["discriminates"] else "does not discriminate")
    if search_only:
        verdict = "a search-only study, every cell scored by NAS-Bench-201's table"
    fig.suptitle(f"{summary['dataset']}, {summary['space']} space: {verdict}", fontsize=10)
    fig.tight_layout()
    try:
        save_figure(fig, path)
    finally:
        plt.close(fig)


def _points(ax, x: int, values, mean, ci, seed: int) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)  # jitter only
    for v in values:
        ax.scatter([x + rng.uniform(-0.18, 0.18)], [v], s=30, color="C0", zorder=3)
    if mean is not None:
        low, high = ci
        yerr = None if low is None else [[mean - low], [high - mean]]
        ax.errorbar([x + 0.3], [mean], yerr=yerr, fmt="D", color="C3", capsize=4, zorder=4)


def _plot_errors(ax, summary: dict, names: list) -> None:
    import numpy as np

    rng = np.random.default_rng(0)  # jitter only
    for x, name in enumerate(names):
        row = summary["methods"][name]
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
    if _search_only(summary):
        ax.text(0.5, 0.5, "no trainings (a search-only study)", transform=ax.transAxes, ha="center", fontsize=9)
    ax.set_xticks(range(len(names)), names, rotation=25, ha="right", fontsize=8)
    ax.set_ylabel(f"test error on {summary['dataset']} (%)")
    low_y, high_y = ax.get_ylim()
    ax.set_ylim(max(low_y, ERR_RANGE[0] - 2), min(high_y, ERR_RANGE[1] + 2))
    if any(_clipped(summary["methods"][n]) for n in names):
        ax.annotate("95% CIs clipped to 0-100%", (0.01, 0.01), xycoords="axes fraction", fontsize=7, color="C3")
    ax.set_title("cells (blue: mean over training seeds, grey: each training); red: mean and 95% CI", fontsize=8)
    ax.grid(axis="y", alpha=0.3)


def _plot_cost(bx, summary: dict, names: list) -> None:
    costs = [summary["methods"][n]["search_seconds"] or 0.0 for n in names]
    bx.barh(range(len(names)), costs, color="C1")
    bx.set_yticks(range(len(names)), names, fontsize=8)
    bx.invert_yaxis()
    bx.set_xlabel("mean search seconds per cell")
    bx.set_title("search cost", fontsize=8)


def _plot_table(cx, summary: dict, names: list) -> None:
    scores = summary["table"]
    for x, name in enumerate(names):
        values = [c["table"]["cifar10_test"] for c in summary["methods"][name]["cells"] if c.get("table")]
        row = scores["methods"][name]["cifar10_test"]
        _points(cx, x, values, row["mean"], row["ci95"], seed=x)
    every = scores["all_cells"]["cifar10_test"]
    cx.axhline(every["mean"], color="0.3", ls="--", lw=1, label=f"mean of all cells ({every['mean']:.2f})")
    cx.axhline(every["max"], color="0.3", ls=":", lw=1, label=f"best cell ({every['max']:.2f})")
    for i, row in enumerate(r for r in scores["published"] if r["method"].split()[0] in ("DARTS-V1,", "RSPS", "GDAS")):
        cx.axhline(row["cifar10_test"][0], color=f"C{i + 4}", lw=1, alpha=0.7,
                   label=f"{row['method']}: {row['cifar10_test'][0]:.2f} (published)")
    cx.set_xticks(range(len(names)), names, rotation=25, ha="right", fontsize=8)
    cx.set_ylabel("NAS-Bench-201 CIFAR-10 test accuracy (%), 200 epochs")
    cx.set_title(f"each cell's benchmark accuracy (published rows: {scores['published_label']})", fontsize=8)
    low, high = cx.get_ylim()  # an interval from 2 cells can run past what an accuracy can be
    cx.set_ylim(max(low, 0.0), min(high, 100.0))
    cx.legend(fontsize=7, loc="lower left")
    cx.grid(axis="y", alpha=0.3)


def _plot_by_epoch(dx, scores: dict) -> None:
    drawn = False
    for name, track in scores["by_epoch"].items():
        if track:
            dx.plot(range(1, len(track) + 1), track, marker="o", ms=3, label=name)
            drawn = True
    dx.axhline(scores["all_cells"]["cifar10_test"]["mean"], color="0.3", ls="--", lw=1)
    dx.set_xlabel("search epoch")
    dx.xaxis.get_major_locator().set_params(integer=True)
    dx.set_ylabel("CIFAR-10 test accuracy (%)")
    dx.set_title("derived cell after each epoch (mean over seeds)", fontsize=8)
    if drawn:
        dx.legend(fontsize=7)
    else:
        dx.text(0.5, 0.3, "the units hold no per-epoch cells", transform=dx.transAxes, ha="center", fontsize=8)
    dx.grid(alpha=0.3)
