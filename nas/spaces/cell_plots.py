"""Diagrams of the cells of both spaces (matplotlib only, imported when a figure is drawn):
the DARTS normal and reduction cells, the NAS-Bench-201 cell, and the figure helpers the
search's other plots share."""

from __future__ import annotations

from typing import Sequence

from xnas.nas.spaces.darts.genotypes import Genotype
from xnas.runtime_io import save_figure

__all__ = ["node_name", "plot_cells", "plot_nb201_cell", "pyplot", "save_png"]

_OP_COLORS = {
    "sep_conv_3x3": "#1f77b4", "sep_conv_5x5": "#17becf", "dil_conv_3x3": "#9467bd", "dil_conv_5x5": "#e377c2",
    "max_pool_3x3": "#d62728", "avg_pool_3x3": "#ff7f0e", "skip_connect": "#2ca02c", "none": "#7f7f7f",
    "nor_conv_1x1": "#17becf", "nor_conv_3x3": "#1f77b4",
}


def pyplot():
    """matplotlib's pyplot on the Agg backend (unless one is already chosen)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: str) -> None:
    """Write ``fig`` atomically as the search's PNGs are written."""
    save_figure(fig, path, dpi=110)


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


def node_name(state: int) -> str:
    """A DARTS cell state's label: the two inputs, then the intermediate nodes from 0."""
    # mathtext: the subscript is typeset, not printed as "c_{k-2}"
    return {0: "$c_{k-2}$", 1: "$c_{k-1}$"}.get(state, str(state - 2))


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
        ax.text(x0, y0, node_name(state), ha="center", va="center", fontsize=8,
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
    plt = pyplot()
    nodes = len(genotype.normal) // 2
    width = 1.1 * (2.6 * nodes + 4.8)
    fig, axes = plt.subplots(2, 1, figsize=(width, 2 * 0.95 * 4.4))
    _draw_cell(axes[0], genotype.normal, genotype.normal_concat, "normal cell")
    _draw_cell(axes[1], genotype.reduce, genotype.reduce_concat, "reduction cell")
    fig.tight_layout()
    save_png(fig, path)
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

    plt = pyplot()
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
    save_png(fig, path)
    plt.close(fig)
