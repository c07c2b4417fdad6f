"""How a study is shown: the progress bar, the table on stdout and ``study.png``."""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator, Optional

__all__ = ["progress_bar", "render_table", "plot_study"]


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int, title: str) -> Iterator[Callable[[], None]]:
    """The runtime's progress bar on stderr over ``total`` units; yields the function that advances it."""
    from xnas.nas.runtime_io import Progress

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
    searched = summary["discrimination"].get("searched_cells")
    if searched and searched.get("p") is not None:
        console.print(f"Searched cells ({', '.join(searched['methods'])}): training noise SD {searched['within_sd']:.2f} "
                      f"(Levene p = {_num(searched['levene_p_vs_random'], '{:.2g}')} against the random cells'), "
                      f"between-cell SD {_num(searched['between_sd'])}, F-test p = {searched['p']:.2g}.")
    if summary.get("table"):
        _render_scores(summary, console)


def _ci(d: Optional[dict]) -> str:
    if not d or d.get("mean") is None:
        return "-"
    low, high = d["ci95"]
    return f"{d['mean']:+.2f}" + ("" if low is None else f" [{low:.2f}, {high:.2f}]")


def _render_scores(summary: dict, console) -> None:
    """The table's 200-epoch accuracies of each method's cells, the exact population and the published rows."""
    from rich.table import Table

    t = summary["table"]
    table = Table(title="NAS-Bench-201 (200 epochs) accuracy % of the cells found on " + summary["dataset"])
    for col in ("method", "cells", "c10 valid", "c10 test", "95% CI", "minus all cells [95% CI]", "p_holm",
                "c100 test", "IN16 test", "final entropy"):
        table.add_column(col, justify="left" if col == "method" else "right", no_wrap=True)
    for name, row in t["methods"].items():
        test, d = row["cifar10_test"], (t["minus_random"].get(name) or {}).get("cifar10_test")
        low, high = test["ci95"]
        entropy = summary["methods"][name].get("final_entropy")
        table.add_row(name, str(test["n"]), _num(row["cifar10_valid"]["mean"]), _num(test["mean"]),
                      "-" if low is None else f"[{low:.2f}, {high:.2f}]", _ci(d),
                      _num(d.get("p_holm") if d else None, "{:.2g}"), _num(row["cifar100_test"]["mean"]),
                      _num(row["imagenet16_test"]["mean"]), _num(entropy, "{:.5f}"))
    every = t["all_cells"]
    table.add_section()
    table.add_row("all 15,625 cells: mean", "-", _num(every["cifar10_valid"]["mean"]), _num(every["cifar10_test"]["mean"]),
                  f"median {every['cifar10_test']['median']:.2f}", "-", "-", _num(every["cifar100_test"]["mean"]),
                  _num(every["imagenet16_test"]["mean"]), "-")
    table.add_row("all 15,625 cells: best", "-", _num(every["cifar10_valid"]["max"]), _num(every["cifar10_test"]["max"]),
                  f"top 10% from {every['cifar10_test']['q90']:.2f}", "-", "-", _num(every["cifar100_test"]["max"]),
                  _num(every["imagenet16_test"]["max"]), "-")
    table.add_section()
    for row in t["published"]:
        (v, vs), (m, ms) = row["cifar10_valid"], row["cifar10_test"]
        table.add_row(f"{row['method']} (published) +", "-", f"{v:.2f}+-{vs:.2f}", f"{m:.2f}+-{ms:.2f}",
                      "-", "-", "-", "-", "-", "-")
    console.print(table)
    console.print(f"+ {t['published_label']} (mean +- std over their runs), not on {summary['dataset']}; "
                  "'best' is each column's own maximum.")
    d = t["xnas_minus_darts"]["cifar10_test"]
    if d["n_pairs"]:
        console.print(f"table: xnas - darts CIFAR-10 test over {d['n_pairs']} paired seeds: {_ci(d)}, "
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
    if scores:
        fig, axes = plt.subplots(2, 2, figsize=(12, 8.4), gridspec_kw={"width_ratios": [3, 1.6]})
        ax, bx, cx, dx = axes[0, 0], axes[0, 1], axes[1, 0], axes[1, 1]
    else:
        fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 1.3]})
    names = list(summary["methods"])
    _plot_errors(ax, summary, names)
    _plot_cost(bx, summary, names)
    if scores:
        _plot_table(cx, summary, names)
        _plot_by_epoch(dx, scores)
    verdict = "the benchmark " + ("discriminates" if summary["discriminates"] else "does not discriminate")
    if scores and not any(row["n_trainings"] for row in summary["methods"].values()):
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
            yerr = None if low is None else [[row["mean_err"] - low], [high - row["mean_err"]]]
            ax.errorbar([x + 0.3], [row["mean_err"]], yerr=yerr, fmt="D", color="C3", capsize=4, zorder=4)
    if not any(row["n_trainings"] for row in summary["methods"].values()):
        ax.text(0.5, 0.5, "no trainings (a search-only study)", transform=ax.transAxes, ha="center", fontsize=9)
    ax.set_xticks(range(len(names)), names, rotation=25, ha="right", fontsize=8)
    ax.set_ylabel(f"test error on {summary['dataset']} (%)")
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
