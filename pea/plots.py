"""Plots of one simulation (``xnas-sim regret --plot``)."""

from __future__ import annotations

import numpy as np

from xnas.runtime_io import save_figure  # torch-free: the runtime's atomic writer


def plot_regret(res, path: str) -> None:
    """Regret (mean and 95% band over seeds) with the Theorem 1 bound, and alive experts, against t.

    The file is written atomically, with the mode a plain ``open`` gives.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = res.rounds
    reg = res.regret
    mean = reg.mean(axis=0)
    half = 1.96 * reg.std(axis=0, ddof=1) / np.sqrt(reg.shape[0]) if reg.shape[0] > 1 else np.zeros_like(mean)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(6.5, 6), sharex=True)
    ax1.plot(t, mean, label=f"{res.forecaster} regret (mean of {reg.shape[0]} seeds)")
    ax1.fill_between(t, mean - half, mean + half, alpha=0.3, label="95% band")
    ax1.axhline(float(res.bound.mean()), color="C3", ls="--", label="Theorem 1 bound at T (measured gamma_T)")
    ax1.set_ylabel("regret (reward units)")
    ax1.set_xscale("log")
    ax1.set_title(f"{res.forecaster} on {res.env}: N={res.n_experts}, eta={res.eta:.3g}, L={res.L:g}, zeta={res.zeta:g}")
    ax1.legend(fontsize=8)
    ax2.plot(t, res.alive.mean(axis=0), color="C2", label="alive experts (mean over seeds)")
    ax2.set_xlabel("round t")
    ax2.set_ylabel("alive experts")
    ax2.set_ylim(0, res.n_experts + 0.5)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=100, close=True)
