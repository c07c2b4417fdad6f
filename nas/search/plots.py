"""Figures of a search: expert weights over time and the table score by epoch (matplotlib only; the
cell diagrams are the spaces', :mod:`xnas.nas.spaces.cell_plots`)."""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from xnas.nas.spaces.cell_plots import node_name, pyplot, save_png
from xnas.nas.spaces.darts.supernet import CELL_TYPES, edge_endpoints

__all__ = ["plot_arch_weights", "plot_table_by_epoch"]


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
    plt = pyplot()
    steps = np.asarray(steps, dtype=float)
    x = steps / steps_per_epoch if steps_per_epoch else steps
    n_edges = weights.shape[2]
    if edge_labels is None:
        edge_labels = [f"{node_name(src)} -> {node_name(dst)}" for src, dst in edge_endpoints(nodes)]
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
    save_png(fig, path)
    plt.close(fig)


def plot_table_by_epoch(log: Sequence[dict], all_cells: dict, path: str) -> None:
    """``table.png``: the benchmark's 200-epoch accuracy of the cell derived after each search epoch.

    The figure of the NAS-Bench-201 papers: CIFAR-10 test (and valid) accuracy against the
    search epoch, beside the mean and the best of all cells (``all_cells``: the table's
    ``{column: {mean, max, ...}}``). ``log`` is the search's ``log.jsonl`` entries.
    """
    plt = pyplot()
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
    save_png(fig, path)
    plt.close(fig)
