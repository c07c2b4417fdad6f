"""Figure ``regret-vs-selection`` (paper, section 3.1 and its section 8.3): regret and correct selection against T.

Setup (ours): N = 8 experts in the ``stochastic`` environment (one expert,
drawn per seed, has a mean higher by gap = 0.05 L; Gaussian noise 0.5 L, small enough that
selection is not trivial at short horizons).  For
each horizon T on a log grid a fresh run is made, and the regret after round T
and whether the expert with the largest final weight is the best in hindsight
are recorded.  ``xnas`` and ``gd-softmax`` use eta*(T) = sqrt(2 ln N / T);
``adam-softmax`` uses DARTS's settings (lr 3e-4, betas (0.5, 0.999), weight
decay 1e-3), the generic optimizer XNAS replaces.

Note: with uniform initial weights and unclipped-range rewards, the largest
weight of ``xnas`` is always on the leader in hindsight (its log-weights are
eta times the cumulative rewards), so its correct-selection rate is 1 by
construction; the generic optimizers have no such property.

Claim (section 3.1): XNAS achieves a lower regret than the generic optimizers,
and lower regret goes with a higher rate of correct selection: at the largest T
xnas has the lowest mean regret and the highest (or equal) correct-selection rate.
"""

from __future__ import annotations

import numpy as np

from xnas.analysis import plotting as P
from xnas.analysis.registry import BuildOptions, Figure, FigureData
from xnas.analysis.settings import comparison_settings
from xnas.pea.simulate import simulate

N_EXPERTS = 8
FORECASTERS = ("xnas", "gd-softmax", "adam-softmax")
ENV = {"gap": 0.05, "noise": 0.5}


def build(opt: BuildOptions) -> FigureData:
    """Regret and correct selection at each horizon for each forecaster."""
    Ts = np.unique(np.geomspace(30, 3000 if opt.quick else 30000, 4 if opt.quick else 7).round().astype(int))
    S = opt.n_seeds(40, 16)
    rows = []
    regret = {fc: [] for fc in FORECASTERS}
    hits = {fc: [] for fc in FORECASTERS}
    for fc in FORECASTERS:
        for T in Ts:
            opt.say(f"regret-vs-selection: {fc} T={T}")
            eta, params = comparison_settings(fc, N_EXPERTS, int(T))
            res = simulate(fc, "stochastic", n_experts=N_EXPERTS, T=int(T), eta=eta, seeds=S, seed=opt.seed,
                           env_params=ENV, forecaster_params=params, n_samples=2)
            regret[fc].append(res.final_regret)
            k = int(res.correct_selection.sum())
            hits[fc].append(k)
            rows.append((fc, res.eta, int(T), float(res.final_regret.mean()), float(res.final_regret.std(ddof=1)),
                         k / S, S))
    mean_reg = {fc: [float(r.mean()) for r in regret[fc]] for fc in FORECASTERS}
    rate = {fc: [k / S for k in hits[fc]] for fc in FORECASTERS}
    others = [fc for fc in FORECASTERS if fc != "xnas"]
    holds = bool(all(mean_reg["xnas"][-1] < mean_reg[o][-1] for o in others)
                 and all(rate["xnas"][-1] >= rate[o][-1] for o in others))
    caption = (f"Setup: N={N_EXPERTS}, stochastic env (best expert drawn per seed, gap 0.05L, noise 0.5L), one run per "
               f"horizon T, {S} seeds. xnas and gd-softmax at eta*(T)=sqrt(2 ln N/T); adam-softmax with DARTS "
               f"settings (3e-4, betas (0.5, 0.999), wd 1e-3). Left: regret after round T (mean, 95% band); right: "
               f"fraction of seeds whose largest final weight is on the best expert (95% Wilson band).")
    summary = {
        "caption": caption,
        "setup": {"n_experts": N_EXPERTS, "seeds": S, "env": "stochastic", "env_params": ENV, "T": Ts.tolist()},
        "regret": mean_reg,
        "correct_selection": rate,
        "at_largest_T": {fc: {"T": int(Ts[-1]), "regret": mean_reg[fc][-1], "correct_selection": rate[fc][-1]}
                         for fc in FORECASTERS},
        "claim": "at the largest T xnas has the lowest mean regret and the highest (or equal) correct-selection rate",
        "claim_holds": holds,
    }

    def draw(path: str) -> None:
        fig, (a1, a2) = P.new_figure(2, "Regret and correct expert selection against the horizon")
        for fc in FORECASTERS:
            P.band(a1, Ts, np.array(regret[fc]).T, fc, P.color(fc), style="o-")
            P.rate_band(a2, Ts, np.array(hits[fc]), S, fc, P.color(fc))
        a1.set_xscale("log")
        a1.set_yscale("log")
        P.label(a1, "horizon T (rounds)", "regret after round T (reward units)", "regret", loc="upper left")
        a2.set_xscale("log")
        a2.set_ylim(-0.02, 1.02)
        P.label(a2, "horizon T (rounds)", "correct selection (fraction of seeds)", "correct selection",
                loc="upper left")
        P.save(fig, path, caption)

    header = ("forecaster", "eta", "T", "regret_mean", "regret_std", "correct_rate", "seeds")
    return FigureData(header, rows, summary, draw)


FIGURE = Figure(
    name="regret-vs-selection",
    title="Regret and correct expert selection against the horizon",
    description="regret and rate of correct expert selection against T: xnas vs adam-softmax and gd-softmax",
    build=build,
)
