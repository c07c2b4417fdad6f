"""Figure ``learning-rates`` (paper, sections 3.1 and 3.2.2): the theory's eta_c* per cell type.

``eta_c* = sqrt(2 ln N / (T_c L^2))`` with the effective horizon
``T_c = d x E x r_c`` (validation examples per epoch x epochs x replications of
cell type c), computed with :func:`xnas.pea.rule.eta_star`.  The paper's example
(CIFAR-10, 50/50 split so d = 25,000, E = 50, 8 cells of which r_N = 6 normal
and r_R = 2 reduction, N = 8, L = 1) gives eta_N* = 7.5e-4 and eta_R* = 1.3e-3.

The other settings are ours, for comparison: CIFAR-10 with 25 and 100 epochs
and with a 20-cell supernet; Fashion-MNIST (60,000 images, 50/50 split); the
``digits`` set of scikit-learn (1,797 images, 50/50 split, a 5-cell supernet
with 3 normal and 2 reduction cells, 50 epochs); ImageNet-sized (d = 128,117,
a 10% sample of the 1.28 M training images, 8 cells, 50 epochs).  The plot draws
eta_c* against the epochs for each dataset size, normal cells solid and
reduction cells dashed, and marks the paper's two values.

Claim: the formula reproduces the paper's eta_N* = 7.5e-4 and eta_R* = 1.3e-3
within 1%.  (The exact value of eta_N* is 7.447e-4, which rounds to 7.4e-4 at two
significant digits; the paper's 7.5e-4 is 0.7% above it, presumably rounded
from 7.45e-4.  The summary reports both.)
"""

from __future__ import annotations

import numpy as np

from xnas.analysis import plotting as P
from xnas.analysis.registry import BuildOptions, Figure, FigureData
from xnas.pea.rule import eta_star

#: name -> (validation examples per epoch d, epochs E, normal replications r_N, reduction r_R, experts N)
SETTINGS = {
    "CIFAR-10 (paper)": (25000, 50, 6, 2, 8),
    "CIFAR-10, 25 epochs": (25000, 25, 6, 2, 8),
    "CIFAR-10, 100 epochs": (25000, 100, 6, 2, 8),
    "CIFAR-10, 20 cells": (25000, 50, 18, 2, 8),
    "Fashion-MNIST": (30000, 50, 6, 2, 8),
    "digits (5 cells)": (898, 50, 3, 2, 8),
    "ImageNet 10% sample": (128117, 50, 6, 2, 8),
}
PAPER = {"normal": 7.5e-4, "reduce": 1.3e-3}
L = 1.0


def _sig2(x: float) -> float:
    return float(f"{x:.2g}")


def build(opt: BuildOptions) -> FigureData:
    """The table of eta_c* and its curves against the epochs (no simulation, no seeds)."""
    opt.say("learning-rates: eta_c* table")
    rows = []
    table = {}
    for name, (d, E, rn, rr, N) in SETTINGS.items():
        tn, tr = d * E * rn, d * E * rr
        en, er = eta_star(N, tn, L), eta_star(N, tr, L)
        table[name] = {"d": d, "epochs": E, "r_normal": rn, "r_reduce": rr, "N": N, "T_normal": tn, "T_reduce": tr,
                       "eta_normal": en, "eta_reduce": er}
        rows.append(("table", name, d, E, rn, rr, N, tn, tr, en, er))
    epochs = np.unique(np.geomspace(1, 200, 12 if opt.quick else 40).round().astype(int))
    sizes = {"digits (d=898, 3N+2R cells)": (898, 3, 2), "CIFAR-10 (d=25,000, 6N+2R)": (25000, 6, 2),
             "ImageNet 10% (d=128,117, 6N+2R)": (128117, 6, 2)}
    curves = {}
    for label, (d, rn, rr) in sizes.items():
        en = np.array([eta_star(8, d * e * rn, L) for e in epochs])
        er = np.array([eta_star(8, d * e * rr, L) for e in epochs])
        curves[label] = (en, er)
        for e, a, b in zip(epochs, en, er):
            rows.append(("curve", label, d, int(e), rn, rr, 8, d * int(e) * rn, d * int(e) * rr, float(a), float(b)))
    paper = table["CIFAR-10 (paper)"]
    got = {"normal": paper["eta_normal"], "reduce": paper["eta_reduce"]}
    rel = {c: abs(got[c] - PAPER[c]) / PAPER[c] for c in PAPER}
    holds = bool(all(r < 0.01 for r in rel.values()))
    caption = ("eta_c* = sqrt(2 ln N / (T_c L^2)), T_c = d x E x r_c (d: validation examples per epoch, E: epochs, "
               "r_c: replications of cell type c), N=8, L=1. Lines: normal cells solid, reduction dashed; stars: "
               "the paper's CIFAR-10 values 7.5e-4 and 1.3e-3 (d=25,000, E=50, r_N=6, r_R=2). Exact, no seeds.")
    summary = {
        "caption": caption,
        "table": table,
        "paper_cifar10": {"computed": got, "paper": PAPER, "relative_difference": rel,
                          "computed_rounded_2sig": {c: _sig2(got[c]) for c in got},
                          "rounds_to_paper_at_2sig": {c: _sig2(got[c]) == PAPER[c] for c in got}},
        "claim": "eta_star reproduces the paper's eta_N* = 7.5e-4 and eta_R* = 1.3e-3 within 1% (the computed "
                 "eta_N* is 7.45e-4, which the paper rounds up to 7.5e-4)",
        "kind": "consistency check",
        "claim_holds": holds,
    }

    def draw(path: str) -> None:
        fig, (ax, tab) = P.new_figure(2, "Theoretical learning rates eta_c* for normal and reduction cells",
                                      figsize=(9.0, 4.6))
        for k, (label, (en, er)) in enumerate(curves.items()):
            col = P.color("", k)
            ax.plot(epochs, en, "-", color=col, label=f"{label}: normal")
            ax.plot(epochs, er, "--", color=col, label=f"{label}: reduction")
        ax.plot([50, 50], [got["normal"], got["reduce"]], "*", color="red", markersize=9,
                label="paper CIFAR-10: 7.5e-4, 1.3e-3")
        ax.set_xscale("log")
        ax.set_yscale("log")
        P.label(ax, "search epochs E", "learning rate eta_c* (per elementary round)", loc="lower left")
        tab.axis("off")
        cells = [[name, f"{v['d']:,}", str(v["epochs"]), f"{v['r_normal']}/{v['r_reduce']}",
                  f"{v['eta_normal']:.2e}", f"{v['eta_reduce']:.2e}"] for name, v in table.items()]
        t = tab.table(cellText=cells, colLabels=["setting", "d", "E", "r_N/r_R", "eta_N*", "eta_R*"],
                      loc="center", cellLoc="center")
        t.auto_set_font_size(False)
        t.set_fontsize(6.5)
        t.scale(1.0, 1.25)
        t.auto_set_column_width(list(range(6)))
        tab.set_title("eta_c* table (N=8, L=1)", fontsize=8.5)
        P.save(fig, path, caption)

    header = ("kind", "setting", "d", "epochs", "r_normal", "r_reduce", "N", "T_normal", "T_reduce", "eta_normal",
              "eta_reduce")
    return FigureData(header, rows, summary, draw)


FIGURE = Figure(
    name="learning-rates",
    title="Theoretical learning rates eta_c* for normal and reduction cells",
    description="table and plot of eta_c* = sqrt(2 ln N / (d E r_c L^2)) for normal and reduction cells",
    build=build,
)
