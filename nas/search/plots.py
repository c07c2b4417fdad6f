"""Figures of a search: expert weights over time and the found cells (matplotlib only)."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from xnas.nas.spaces.darts.genotypes import Genotype
from xnas.runtime_io import save_figure
from xnas.nas.spaces.darts.supernet import CELL_TYPES, edge_endpoints

__all__ = ["plot_arch_weights", "plot_cells", "plot_nb201_cell", "plot_table_by_epoch"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str) -> None:
    save_figure(fig, path, dpi=110)


_OP_COLORS = {
    "sep_conv_3x3": "#1f77b4", "sep_conv_5x5": "#17becf", "dil_conv_3x3": "#9467bd", "dil_conv_5x5": "#e377c2",
    "max_pool_3x3": "#d62728", "avg_pool_3x3": "#ff7f0e", "skip_connect": "#2ca02c", "none": "#7f7f7f",
    "nor_conv_1x1": "#17becf", "nor_conv_3x3": "#1f77b4",
}


def _edge(ax, start, end, op: str, rad: float) -> None:
    """An operation's arrow from ``start`` to ``end``, labelled at the arc's midpoint."""
    (x0, y0), (x1, y1) = start, end
    color = _OP_COLORS.get(op, "black")
    ax.annotate(
        "", xy=(x1, y1), xytext=(x0, y0),
        arrowprops=dict(arrowstyle="-|>", color=color, lw=1.6, ls="--" if op == "none" else "-",
                        connectionstyle=f"arc3,rad={rad}", shrinkA=12, shrinkB=12),
    )
    # midpoint of matplotlib's arc3 quadratic curve
    mx = (x0 + x1) / 2 + 0.5 * rad * (y1 - y0)
    my = (y0 + y1) / 2 - 0.5 * rad * (x1 - x0)
    ax.text(mx, my, op, fontsize=7, ha="center", va="center", color=color,
            bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.9))


def _node_name(state: int) -> str:
    # mathtext: the subscript is typeset, not printed as "c_{k-2}"
    return {0: "$c_{k-2}$", 1: "$c_{k-1}$"}.get(state, str(state - 2))


def plot_arch_weights(
    steps: np.ndarray,
    weights: np.ndarray,
    primitives: Sequence[str],
    nodes: int,
    path: str,
    steps_per_epoch: int | None = None,
    final_wipeout: Optional[int] = None,
    cell_types: Sequence[str] = CELL_TYPES,
    edge_labels: Optional[Sequence[str]] = None,
) -> None:
    """Every edge's expert weights over the search, one panel per edge.

    Parameters
    ----------
    steps : ndarray, shape (S,)
        Architecture step of each snapshot.
    weights : ndarray, shape (S, len(cell_types), edges, N)
        Mixing weights per snapshot, cell type, edge and expert.
    primitives : sequence of str
        Expert names.
    nodes : int
        Intermediate nodes per cell (sets the edge labels).
    path : str
        PNG to write (atomically).
    steps_per_epoch : int, optional
        When given, the x axis is in epochs.
    final_wipeout : int, optional
        The architecture step of the horizon, where XNAS's last round wipes
        every expert but the leader; marked with a dashed line and a label,
        so that the jump to one-hot weights reads as the rule, not a glitch.
    cell_types : sequence of str
        The cell types along the second axis of ``weights`` (darts: normal, reduce).
    edge_labels : sequence of str, optional
        One label per edge; by default the DARTS cell's ``source -> node``.
    """
    plt = _pyplot()
    steps = np.asarray(steps, dtype=float)
    x = steps / steps_per_epoch if steps_per_epoch else steps
    n_edges = weights.shape[2]
    if edge_labels is None:
        edge_labels = [f"{_node_name(src)} -> {_node_name(dst)}" for src, dst in edge_endpoints(nodes)]
    cols = min(n_edges, 7)
    rows = math.ceil(n_edges / cols)
    fig, axes = plt.subplots(len(cell_types) * rows, cols, figsize=(2.3 * cols, max(2.8, 1.9 * len(cell_types) * rows)), sharex=True, sharey=True, squeeze=False)
    colors = plt.get_cmap("tab10")
    for ci, kind in enumerate(cell_types):
        for e in range(n_edges):
            ax = axes[ci * rows + e // cols][e % cols]
            for i, name in enumerate(primitives):
                ax.plot(x, weights[:, ci, e, i], color=colors(i % 10), lw=1.2, label=name)
            ax.set_title(f"{kind}: {edge_labels[e]}", fontsize=7)
            ax.set_ylim(-0.02, 1.02)
            if final_wipeout is not None:
                at = final_wipeout / steps_per_epoch if steps_per_epoch else final_wipeout
                ax.axvline(at, color="0.35", ls="--", lw=0.8, label="final wipeout (horizon)")
            ax.tick_params(labelsize=6)
        for e in range(n_edges, rows * cols):
            axes[ci * rows + e // cols][e % cols].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=min(len(handles), 9), fontsize=7, frameon=False)
    fig.supxlabel("epoch" if steps_per_epoch else "architecture step", fontsize=8)
    fig.supylabel("expert weight u", fontsize=8)
    # room on the left for the shared y label, which tight_layout does not place
    fig.tight_layout(rect=(0.03, 0.02, 1, 0.96))
    _save(fig, path)
    plt.close(fig)


def _draw_cell(ax, edges: Sequence[tuple[str, int]], concat: Sequence[int], title: str) -> None:
    nodes = len(edges) // 2
    # inputs on the left, intermediate nodes zig-zag to the right, output last;
    # equal aspect so that label offsets computed in data units follow the arcs
    pos = {0: (0.0, 3.0), 1: (0.0, 1.0)}
    for k in range(nodes):
        pos[2 + k] = (3.0 + 2.6 * k, 3.4 if k % 2 == 0 else 0.6)
    out = (3.0 + 2.6 * nodes + 0.3, 2.0)
    for state in concat:
        x0, y0 = pos[state]
        ax.annotate("", xy=out, xytext=(x0, y0),
                    arrowprops=dict(arrowstyle="-|>", color="#c8c8c8", lw=1.0, shrinkA=12, shrinkB=14))
    for pos_i, (op, src) in enumerate(edges):
        _edge(ax, pos[src], pos[2 + pos_i // 2], op, 0.2 if pos_i % 2 else -0.2)
    for state, (x0, y0) in pos.items():
        face = "#cde4f7" if state < 2 else "#f7e3b5"
        ax.text(x0, y0, _node_name(state), ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round,pad=0.4", fc=face, ec="black", lw=0.8))
    ax.text(out[0], out[1], "$c_{k}$", ha="center", va="center", fontsize=8,
            bbox=dict(boxstyle="round,pad=0.4", fc="#d8f0d2", ec="black", lw=0.8))
    ax.set_xlim(-0.8, out[0] + 0.8)
    ax.set_ylim(-0.2, 4.2)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    ax.axis("off")


def plot_cells(genotype: Genotype, path: str) -> None:
    """A diagram of the normal and the reduction cell of ``genotype`` (PNG)."""
    plt = _pyplot()
    nodes = len(genotype.normal) // 2
    width = 1.1 * (2.6 * nodes + 4.8)
    fig, axes = plt.subplots(2, 1, figsize=(width, 2 * 0.95 * 4.4))
    _draw_cell(axes[0], genotype.normal, genotype.normal_concat, "normal cell")
    _draw_cell(axes[1], genotype.reduce, genotype.reduce_concat, "reduction cell")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def plot_nb201_cell(genotype, path: str) -> None:
    """A diagram of a NAS-Bench-201 cell (PNG): nodes 0..3 in a row, one labelled arrow per edge.

    Parameters
    ----------
    genotype : NB201Genotype
        The cell; its ``edges`` are ``(op, input)`` in the benchmark's order.
    path : str
        PNG to write (atomically).
    """
    from xnas.nas.spaces.nb201.genotype import EDGES

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8.0, 2.6))
    pos = {j: (2.6 * j, 1.5) for j in range(4)}
    for (op, _), (src, dst) in zip(genotype.edges, EDGES):
        # longer jumps arc higher, so that the labels of the 6 edges do not collide
        _edge(ax, pos[src], pos[dst], op, -0.25 * (dst - src))
    for j, (x0, y0) in pos.items():
        face = "#cde4f7" if j == 0 else "#d8f0d2" if j == 3 else "#f7e3b5"
        ax.text(x0, y0, str(j), ha="center", va="center", fontsize=9,
                bbox=dict(boxstyle="round,pad=0.4", fc=face, ec="black", lw=0.8))
    ax.set_xlim(-0.8, 2.6 * 3 + 0.8)
    ax.set_ylim(1.0, 4.8)
    ax.set_aspect("equal")
    ax.set_title(genotype.to_str(), fontsize=7)
    ax.axis("off")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def plot_table_by_epoch(log: Sequence[dict], all_cells: dict, path: str) -> None:
    """``table.png``: the benchmark's 200-epoch accuracy of the cell derived after each search epoch.

    The figure of the NAS-Bench-201 papers: CIFAR-10 test (and valid) accuracy against the
    search epoch, beside the mean and the best of all cells (``all_cells``: the table's
    ``{column: {mean, max, ...}}``). ``log`` is the search's ``log.jsonl`` entries.
    """
    plt = _pyplot()
    epochs = [e["epoch"] for e in log if e.get("table")]
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for column, style in (("cifar10_test", "o-"), ("cifar10_valid", "s--")):
        ax.plot(epochs, [e["table"][column] for e in log if e.get("table")], style, ms=4,
                label=column.replace("_", " ").replace("cifar10", "CIFAR-10"))
    ax.axhline(all_cells["cifar10_test"]["mean"], color="0.4", ls=":", lw=1,
               label=f"mean of all cells, test ({all_cells['cifar10_test']['mean']:.2f})")
    ax.axhline(all_cells["cifar10_test"]["max"], color="0.2", ls="-.", lw=1,
               label=f"best cell, test ({all_cells['cifar10_test']['max']:.2f})")
    ax.set_xlabel("search epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("accuracy (%), NAS-Bench-201, 200 epochs")
    ax.set_title("the cell derived after each epoch, scored by the benchmark's table", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
