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

A second part sweeps the learning rates at the largest T, as
``late-bloomers`` does: every forecaster runs at its base rate (above) times
each of :data:`LR_MULTIPLIERS` (adam-softmax 3e-5 to 3e-2, gd-softmax and
xnas 0.1 to 100 eta*).

Claims (section 3.1: XNAS achieves a lower regret than the generic
optimizers), each with its ``kind`` in the summary's ``claims``:

* measured: at the largest T, xnas at eta* has a lower mean regret than
  gd-softmax at eta* and adam-softmax at DARTS's settings;
* measured (the figure's ``claim``): xnas at eta* has a lower mean regret than
  gd-softmax and adam-softmax at *every* learning rate of the sweep;
* measured: the best xnas over the sweep is below the best of each other
  forecaster over the sweep;
* consistency check: xnas has the highest correct-selection rate (its rate is
  1 by construction, see the note above).

``claim_holds`` is the sweep claim, whichever way it falls.
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
#: Learning-rate multipliers of the sweep at the largest T (of each forecaster's base rate).
LR_MULTIPLIERS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
LR_MULTIPLIERS_QUICK = (0.1, 1.0, 10.0, 100.0)


def _multipliers(opt: BuildOptions) -> tuple:
    return LR_MULTIPLIERS_QUICK if opt.quick else LR_MULTIPLIERS


def _sweep(opt: BuildOptions, T: int, S: int, rows: list) -> dict:
    """Mean final regret of each forecaster at each learning-rate multiplier, horizon ``T``."""
    out = {fc: [] for fc in FORECASTERS}
    for fc in FORECASTERS:
        eta0, params = comparison_settings(fc, N_EXPERTS, T)
        for m in _multipliers(opt):
            opt.say(f"regret-vs-selection: {fc} lr x{m:g} at T={T}")
            res = simulate(fc, "stochastic", n_experts=N_EXPERTS, T=T, eta=eta0 * m, seeds=S, seed=opt.seed,
                           env_params=ENV, forecaster_params=params, n_samples=2)
            r = res.final_regret
            rate = float(res.correct_selection.mean())
            out[fc].append({"multiplier": m, "eta": float(res.eta), "regret": float(r.mean()), "correct_selection": rate})
            rows.append(("sweep", fc, m, res.eta, T, float(r.mean()), float(r.std(ddof=1)), rate, S))
    return out


def _horizons(opt: BuildOptions, Ts: np.ndarray, S: int, rows: list) -> tuple:
    """One run per forecaster and horizon (CSV rows appended to ``rows``): per-seed regrets and correct selections."""
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
            rows.append(("horizon", fc, 1.0, res.eta, int(T), float(res.final_regret.mean()),
                         float(res.final_regret.std(ddof=1)), k / S, S))
    return regret, hits


def _claims(mean_reg: dict, rate: dict, sweep: dict) -> tuple:
    """The claims (see the module docstring) and each forecaster's best run of the sweep."""
    others = [fc for fc in FORECASTERS if fc != "xnas"]
    xnas_base = mean_reg["xnas"][-1]
    best = {fc: min(sweep[fc], key=lambda e: e["regret"]) for fc in FORECASTERS}
    base_holds = bool(all(xnas_base < mean_reg[o][-1] for o in others))
    sweep_holds = bool(all(xnas_base < e["regret"] for o in others for e in sweep[o]))
    best_holds = bool(all(best["xnas"]["regret"] < best[o]["regret"] for o in others))
    claims = [
        {"claim": "at the largest T, xnas at eta* has a lower mean regret than gd-softmax at eta* and adam-softmax "
                  "at DARTS's settings", "kind": "measured", "holds": base_holds},
        {"claim": "at the largest T, xnas at eta* has a lower mean regret than gd-softmax and adam-softmax at every "
                  "learning rate of the sweep", "kind": "measured", "holds": sweep_holds},
        {"claim": "the best xnas over the sweep has a lower mean regret than the best gd-softmax and the best "
                  "adam-softmax over the sweep", "kind": "measured", "holds": best_holds},
        {"claim": "xnas has the highest (or equal) correct-selection rate at the largest T",
         "kind": "consistency check", "holds": bool(all(rate["xnas"][-1] >= rate[o][-1] for o in others)),
         "why": "with uniform initial weights xnas's largest weight is always on the leader in hindsight"},
    ]
    return claims, best


def build(opt: BuildOptions) -> FigureData:
    """Regret and correct selection at each horizon for each forecaster."""
    Ts = np.unique(np.geomspace(30, 3000 if opt.quick else 30000, 4 if opt.quick else 7).round().astype(int))
    S = opt.n_seeds(40, 16)
    rows = []
    regret, hits = _horizons(opt, Ts, S, rows)
    mean_reg = {fc: [float(r.mean()) for r in regret[fc]] for fc in FORECASTERS}
    rate = {fc: [k / S for k in hits[fc]] for fc in FORECASTERS}
    sweep = _sweep(opt, int(Ts[-1]), S, rows)
    xnas_base = mean_reg["xnas"][-1]
    claims, best = _claims(mean_reg, rate, sweep)
    sweep_holds = claims[1]["holds"]
    caption = (f"Setup: N={N_EXPERTS}, stochastic env (best expert drawn per seed, gap 0.05L, noise 0.5L), one run per "
               f"horizon T, {S} seeds. xnas and gd-softmax at eta*(T)=sqrt(2 ln N/T); adam-softmax with DARTS "
               f"settings (3e-4, betas (0.5, 0.999), wd 1e-3). Left: regret after round T (mean, 95% band); middle: "
               f"fraction of seeds whose largest final weight is on the best expert (95% Wilson band). Right: "
               f"learning-rate sweep at T={int(Ts[-1])} (x-axis: multiple of the base rate above); xnas at eta* has "
               f"regret {xnas_base:.1f}, the best gd-softmax {best['gd-softmax']['regret']:.1f} (x"
               f"{best['gd-softmax']['multiplier']:g}), the best adam-softmax {best['adam-softmax']['regret']:.1f} "
               f"(lr {best['adam-softmax']['eta']:.0e}): xnas at eta* is "
               f"{'below' if sweep_holds else 'NOT below'} every swept rate of the others.")
    summary = {
        "caption": caption,
        "setup": {"n_experts": N_EXPERTS, "seeds": S, "env": "stochastic", "env_params": ENV, "T": Ts.tolist()},
        "regret": mean_reg,
        "correct_selection": rate,
        "at_largest_T": {fc: {"T": int(Ts[-1]), "regret": mean_reg[fc][-1], "correct_selection": rate[fc][-1]}
                         for fc in FORECASTERS},
        "lr_sweep": {"T": int(Ts[-1]), "multipliers": list(_multipliers(opt)), "runs": sweep,
                     "best": best},
        "claim": claims[1]["claim"],
        "kind": "measured",
        "claims": claims,
        "claim_holds": sweep_holds,
    }

    def draw(path: str) -> None:
        _draw(path, Ts, regret, hits, sweep, xnas_base, S, caption)

    header = ("part", "forecaster", "lr_multiplier", "eta", "T", "regret_mean", "regret_std", "correct_rate",
              "seeds")
    return FigureData(header, rows, summary, draw)


def _draw(path: str, Ts: np.ndarray, regret: dict, hits: dict, sweep: dict, xnas_base: float, S: int,
          caption: str) -> None:
    """Left: regret against T; middle: correct selection against T; right: the learning-rate sweep."""
    fig, (a1, a2, a3) = P.new_figure(3, "Regret and correct expert selection against the horizon",
                                     figsize=(12.0, 4.2))
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
    for fc in FORECASTERS:
        a3.plot([e["multiplier"] for e in sweep[fc]], [e["regret"] for e in sweep[fc]], "o-", color=P.color(fc),
                label=fc)
    a3.axhline(xnas_base, color=P.color("xnas"), linestyle="--", linewidth=1.0, label="xnas at eta*")
    a3.set_xscale("log")
    a3.set_yscale("log")
    P.label(a3, "learning rate / base rate", f"regret after round T={int(Ts[-1])}", "learning-rate sweep",
            loc="upper left")
    P.save(fig, path, caption)


FIGURE = Figure(
    name="regret-vs-selection",
    title="Regret and correct expert selection against the horizon",
    description="regret and rate of correct expert selection against T: xnas vs adam-softmax and gd-softmax",
    build=build,
)
