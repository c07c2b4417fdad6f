"""Figure ``regret-scaling``: regret against T and against N on the adversarial environment, log-log.

Setup (ours): the ``adversarial`` environment (i.i.d. rewards of +L or -L, the
lower-bound construction), L = 1.  Left: N = 8, T on a log grid up to 10^5.
Right: T = 10^4, N from 2 to 64.  ``xnas``, ``eg`` and ``gd-softmax`` use
eta* = sqrt(2 ln N / T); ``adam-softmax`` uses its registry default (DARTS's
lr 3e-4, betas (0.5, 0.999), no weight decay).  The curves L sqrt(2 T ln N)
(the XNAS bound at eta*, equation 4) and L sqrt(2 T N) (the order of the
gradient-descent bound quoted in section 3.1) are drawn beside them.

Claim (equation 4 / Theorem 1): the regret of xnas stays below L sqrt(2 T ln N)
(mean over seeds at every T and N), and below the Theorem 1 bound with the
measured gamma_T in every single run.
"""

from __future__ import annotations

import numpy as np

from xnas.analysis import plotting as P
from xnas.analysis.registry import BuildOptions, Figure, FigureData
from xnas.pea.simulate import simulate
from xnas.pea.theory import eg_order_bound, gd_order_bound

FORECASTERS = ("xnas", "eg", "gd-softmax", "adam-softmax")
N_FIXED = 8
L = 1.0


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    y = np.asarray(y, float)
    keep = y > 0
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(np.asarray(x, float)[keep]), np.log(y[keep]), 1)[0])


def build(opt: BuildOptions) -> FigureData:
    """Regret against T (N fixed) and against N (T fixed) for each forecaster."""
    S = opt.n_seeds(30, 10)
    Ts = np.unique(np.geomspace(100, 1e4 if opt.quick else 1e5, 4 if opt.quick else 7).round().astype(int))
    T_fixed = 2000 if opt.quick else 10000
    Ns = (2, 8, 32) if opt.quick else (2, 4, 8, 16, 32, 64)
    rows = []
    by_T = {fc: [] for fc in FORECASTERS}
    by_N = {fc: [] for fc in FORECASTERS}
    worst_theorem = 0.0
    for fc in FORECASTERS:
        for sweep, grid in (("T", Ts), ("N", Ns)):
            for v in grid:
                T, N = (int(v), N_FIXED) if sweep == "T" else (T_fixed, int(v))
                opt.say(f"regret-scaling: {fc} T={T} N={N}")
                res = simulate(fc, "adversarial", n_experts=N, T=T, L=L, seeds=S, seed=opt.seed, n_samples=2)
                reg = res.final_regret
                (by_T if sweep == "T" else by_N)[fc].append(reg)
                if fc == "xnas":
                    worst_theorem = max(worst_theorem, float(np.max(reg / res.bound)))
                rows.append((sweep, fc, res.eta, T, N, float(reg.mean()), float(reg.std(ddof=1)), S,
                             float(eg_order_bound(T, N, L)), float(gd_order_bound(T, N, L))))
    ratio_T = [float(r.mean() / eg_order_bound(T, N_FIXED, L)) for r, T in zip(by_T["xnas"], Ts)]
    ratio_N = [float(r.mean() / eg_order_bound(T_fixed, N, L)) for r, N in zip(by_N["xnas"], Ns)]
    worst_ratio = max(ratio_T + ratio_N)
    holds = bool(worst_ratio <= 1.0 and worst_theorem <= 1.0)
    caption = (f"Setup: adversarial env (i.i.d. +-L rewards), L=1, {S} seeds. Left: N={N_FIXED}; right: T={T_fixed}. "
               f"xnas, eg, gd-softmax at eta*=sqrt(2 ln N/T); adam-softmax at DARTS's lr 3e-4, betas (0.5, 0.999), "
               f"no weight decay. Black: L sqrt(2T ln N) (XNAS bound, eq. 4); grey: L sqrt(2TN) (GD order). "
               f"Bands: 95% (1.96 SE).")
    summary = {
        "caption": caption,
        "setup": {"env": "adversarial", "L": L, "seeds": S, "N_fixed": N_FIXED, "T": Ts.tolist(),
                  "T_fixed": T_fixed, "N": list(Ns)},
        "regret_vs_T": {fc: [float(r.mean()) for r in by_T[fc]] for fc in FORECASTERS},
        "regret_vs_N": {fc: [float(r.mean()) for r in by_N[fc]] for fc in FORECASTERS},
        "loglog_slope_vs_T": {fc: _slope(Ts, [r.mean() for r in by_T[fc]]) for fc in FORECASTERS},
        "xnas_regret_over_sqrt_2TlnN": {"vs_T": ratio_T, "vs_N": ratio_N, "max": worst_ratio},
        "xnas_max_regret_over_theorem1_bound": worst_theorem,
        "claim": "xnas's mean regret stays below L sqrt(2 T ln N) at every T and N, and every run stays below "
                 "the Theorem 1 bound with its measured gamma_T",
        "kind": "consistency check",
        "claim_holds": holds,
    }

    def draw(path: str) -> None:
        fig, (a1, a2) = P.new_figure(2, "Regret scaling on the adversarial environment")
        for fc in FORECASTERS:
            P.band(a1, Ts, np.array(by_T[fc]).T, fc, P.color(fc), style="o-")
            P.band(a2, np.array(Ns), np.array(by_N[fc]).T, fc, P.color(fc), style="o-")
        tg = np.geomspace(Ts[0], Ts[-1], 50)
        a1.plot(tg, eg_order_bound(tg, N_FIXED, L), "k-", linewidth=1, label="L sqrt(2 T ln N)")
        a1.plot(tg, gd_order_bound(tg, N_FIXED, L), "-", color="0.55", linewidth=1, label="L sqrt(2 T N)")
        ng = np.geomspace(Ns[0], Ns[-1], 50)
        a2.plot(ng, eg_order_bound(T_fixed, ng, L), "k-", linewidth=1, label="L sqrt(2 T ln N)")
        a2.plot(ng, gd_order_bound(T_fixed, ng, L), "-", color="0.55", linewidth=1, label="L sqrt(2 T N)")
        for ax in (a1, a2):
            ax.set_xscale("log")
            ax.set_yscale("log")
        a2.set_xticks(list(Ns))
        a2.set_xticklabels([str(n) for n in Ns])
        a2.minorticks_off()
        P.label(a1, "horizon T (rounds)", "regret after round T (reward units)", f"vs T (N={N_FIXED})",
                loc="upper left")
        P.label(a2, "number of experts N", "regret after round T (reward units)", f"vs N (T={T_fixed})",
                loc="upper left")
        P.save(fig, path, caption)

    header = ("sweep", "forecaster", "eta", "T", "N", "regret_mean", "regret_std", "seeds", "xnas_bound",
              "gd_order")
    return FigureData(header, rows, summary, draw)


FIGURE = Figure(
    name="regret-scaling",
    title="Regret scaling on the adversarial environment",
    description="regret against T and N (log-log) for xnas, eg, gd-softmax, adam-softmax with sqrt(2T ln N), sqrt(2TN)",
    build=build,
)
