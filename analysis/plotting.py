"""Shared plotting and statistics helpers for the figures of :mod:`xnas.analysis`.

matplotlib is imported lazily (inside :func:`new_figure`) with the Agg backend,
so importing the figure registry, and hence ``xnas-sim``, stays fast and works
without a display.  Every figure is small (6.4 x 4.4 inches at 90 dpi) with a
title, labelled axes, a legend and a caption under the plot that states its
setup.
"""

from __future__ import annotations

import math
import textwrap
from typing import Any, Sequence

import numpy as np

__all__ = [
    "COLORS",
    "DPI",
    "mean_ci",
    "rate_ci",
    "new_figure",
    "band",
    "rate_band",
    "save",
]

#: One colour per forecaster (and a few extra series), the same in every figure.
COLORS = {
    "xnas": "#d62728",
    "eg": "#ff7f0e",
    "gd-softmax": "#1f77b4",
    "adam-softmax": "#2ca02c",
    "sgd-softmax": "#9467bd",
    "ftl": "#8c564b",
    "uniform": "#7f7f7f",
}
_EXTRA = ["#17becf", "#bcbd22", "#e377c2", "#8c564b", "#7f7f7f"]

DPI = 90
FIGSIZE = (6.4, 4.4)
CAPTION_WIDTH = 120  # characters per caption line at the caption's font size


def color(name: str, k: int = 0) -> str:
    """The colour of a forecaster, or the ``k``-th extra colour for other series."""
    return COLORS.get(name, _EXTRA[k % len(_EXTRA)])


def mean_ci(samples: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean over ``axis`` and the half-width of its 95% band, 1.96 standard errors.

    With a single sample the half-width is 0 (there is no spread to estimate).
    """
    x = np.asarray(samples, dtype=float)
    n = x.shape[axis]
    mean = x.mean(axis=axis)
    if n < 2:
        return mean, np.zeros_like(mean)
    se = x.std(axis=axis, ddof=1) / math.sqrt(n)
    return mean, 1.96 * se


def rate_ci(successes: np.ndarray | float, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A rate and its 95% Wilson interval ``(rate, low, high)``.

    Wilson's interval stays inside [0, 1] and is not degenerate at rates of 0
    or 1, where the normal approximation collapses to a point.
    """
    k = np.asarray(successes, dtype=float)
    p = k / n
    z = 1.96
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return p, np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def new_figure(ncols: int = 1, title: str = "", nrows: int = 1, figsize: Sequence[float] = FIGSIZE):
    """A figure with ``nrows x ncols`` axes (Agg backend) and a suptitle.

    Returns ``(fig, axes)`` with ``axes`` a flat list.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=tuple(figsize), squeeze=False)
    fig.suptitle(title, fontsize=10)
    for ax in axes.flat:
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3, linewidth=0.5)
    return fig, list(axes.flat)


def band(ax: Any, x: np.ndarray, samples: np.ndarray, label: str, col: str, style: str = "-") -> None:
    """Mean over seeds (rows of ``samples``) with a shaded 95% band."""
    mean, half = mean_ci(samples, axis=0)
    ax.plot(x, mean, style, color=col, label=label, linewidth=1.3)
    ax.fill_between(x, mean - half, mean + half, color=col, alpha=0.2, linewidth=0)


def rate_band(ax: Any, x: np.ndarray, successes: np.ndarray, n: int, label: str, col: str,
              marker: str = "o") -> None:
    """A success rate against ``x`` with its shaded 95% Wilson band."""
    p, lo, hi = rate_ci(successes, n)
    ax.plot(x, p, marker + "-", color=col, label=label, linewidth=1.3, markersize=3.5)
    ax.fill_between(x, lo, hi, color=col, alpha=0.18, linewidth=0)


def label(ax: Any, xlabel: str, ylabel: str, title: str = "", legend: bool = True, loc: str = "best") -> None:
    """Axis labels (with units), an optional panel title and a small legend."""
    ax.set_xlabel(xlabel, fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    if title:
        ax.set_title(title, fontsize=8.5)
    if legend:
        ax.legend(fontsize=6.5, loc=loc, framealpha=0.8)


def save(fig: Any, path: str, caption: str) -> None:
    """Write the caption under the plot, save as PNG to ``path`` and close.

    ``path`` is the binary file :mod:`xnas.analysis.registry` opened for an atomic
    write (the runtime's :func:`~xnas.runtime_io.atomic_write`), or a path.
    """
    import matplotlib.pyplot as plt

    lines = textwrap.wrap(caption, CAPTION_WIDTH)
    height = fig.get_size_inches()[1]
    bottom = (0.05 + 0.09 * len(lines)) / height  # about 0.1 inch per caption line at 6 pt
    fig.tight_layout(rect=(0, bottom, 1, 0.95))
    fig.text(0.01, 0.01, "\n".join(lines), fontsize=6, va="bottom", ha="left", family="sans-serif")
    fig.savefig(path, format="png", dpi=DPI)
    plt.close(fig)
