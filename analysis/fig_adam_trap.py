"""Figure ``adam-trap``: the sequence of Reddi, Kale and Kumar (2018) on which Adam does not converge.

Reddi et al. (2018, "On the convergence of Adam and beyond", section 3) play the
linear losses ``f_t(x) = C x`` when ``t mod 3 = 1`` and ``f_t(x) = -x`` otherwise
on ``x in [-1, 1]``; the best point is ``x = -1``, yet Adam with beta1 = 0 and
beta2 = 1 / (1 + C^2) drifts to ``x = +1``: the rare large gradient is divided
by a large second moment, the frequent small ones by a small one.

Mapping onto two experts (ours): expert 0 always predicts x = +1 (the trap),
expert 1 x = -1 (the optimum); the forecaster predicts ``p = u_0 - u_1`` and
the reward of expert i is ``R_i = -f_t'(p) x_i / C`` (scaled into [-1, 1], L = 1):
expert 0 earns -1 on every third round and +1/C on the others, expert 1 the
opposite, so expert 1 gains 1/3 per period of three rounds.  C = 3.  The
stream is replayed (``replay`` environment); the seeds differ in the initial
weight of the trap expert, drawn uniformly from [0.1, 0.9].  All forecasters
use eta* = sqrt(2 ln 2 / T): ``xnas``, ``adam-softmax`` with Reddi et al.'s
betas (0, 1/(1 + C^2)) and with DARTS's betas (0.5, 0.999), no weight decay.

Claim (section 3.1, "the one of Adam is linear in T"): adam-softmax with
Reddi's betas does not converge: its average regret at T stays above xnas's
average regret bound L sqrt(2 ln N / T), which xnas's own average regret obeys.
"""

from __future__ import annotations

import numpy as np

from xnas.analysis import plotting as P
from xnas.analysis.registry import BuildOptions, Figure, FigureData
from xnas.pea.rule import eta_star
from xnas.pea.simulate import simulate

C = 3.0
VARIANTS = {
    "xnas": ("xnas", {}),
    "adam-softmax (Reddi betas 0, 1/(1+C^2))": ("adam-softmax", {"beta1": 0.0, "beta2": 1.0 / (1.0 + C * C)}),
    "adam-softmax (DARTS betas 0.5, 0.999)": ("adam-softmax", {"beta1": 0.5, "beta2": 0.999}),
}


def reddi_rewards(T: int, c: float = C) -> np.ndarray:
    """The ``(T, 2)`` reward stream of the two-expert mapping (rounds are 1-based: t mod 3 = 1 is the rare one)."""
    t = np.arange(1, T + 1)
    g = np.where(t % 3 == 1, c, -1.0) / c  # f_t'(x) / C
    x = np.array([1.0, -1.0])  # expert 0: the trap, expert 1: the optimum
    return -g[:, None] * x[None, :]


def build(opt: BuildOptions) -> FigureData:
    """Replay the sequence through xnas and two Adam variants, per initial weight."""
    T = 6000 if opt.quick else 30000
    S = opt.n_seeds(20, 6)
    rng = np.random.default_rng(opt.seed)
    u0_trap = rng.uniform(0.1, 0.9, size=S)
    rewards = reddi_rewards(T)
    eta = eta_star(2, T)
    rows = []
    avg = {}
    final_w = {}
    rounds = None
    for label, (fc, params) in VARIANTS.items():
        opt.say(f"adam-trap: {label}")
        regs, ws = [], []
        for s in range(S):
            w0 = np.array([u0_trap[s], 1.0 - u0_trap[s]])
            res = simulate(fc, "replay", rewards=rewards, eta=eta, init_weights=w0, forecaster_params=params,
                           n_samples=120)
            rounds = res.rounds
            regs.append(res.regret[0] / rounds)
            ws.append(res.weights[0, :, 0])
        avg[label] = np.array(regs)
        final_w[label] = np.array(ws)[:, -1]
        for k, t in enumerate(rounds):
            rows.append((label, fc, eta, int(t), float(avg[label][:, k].mean()), float(avg[label][:, k].std(ddof=1)),
                         float(np.mean(np.array(ws)[:, k])), S))
    bound = float(np.sqrt(2 * np.log(2) / T))
    names = list(VARIANTS)
    at_T = {lab: float(avg[lab][:, -1].mean()) for lab in names}
    holds = bool(at_T[names[1]] > bound and at_T[names[0]] <= bound)
    caption = (f"Setup: Reddi et al. (2018) losses f_t(x)=Cx (t mod 3=1), -x otherwise, C={C:g}, mapped onto expert 0 "
               f"(x=+1, trap) and expert 1 (x=-1, optimum), rewards scaled into [-1, 1]; T={T}, eta*=sqrt(2 ln 2/T)="
               f"{eta:.3g} for all; {S} seeds = initial trap weights uniform in [0.1, 0.9]. Black: Theorem 1 "
               f"bound / t at this eta without the wipeout term (= L sqrt(2 ln N/T) at t=T). Bands: 95% (1.96 SE).")
    summary = {
        "caption": caption,
        "setup": {"C": C, "T": T, "eta": eta, "seeds": S, "variants": {k: v[1] for k, v in VARIANTS.items()}},
        "average_regret_at_T": at_T,
        "final_weight_of_trap_expert": {lab: float(final_w[lab].mean()) for lab in names},
        "xnas_average_bound_at_T": bound,
        "claim": "adam-softmax with Reddi's betas keeps an average regret above L sqrt(2 ln N / T) at T, while "
                 "xnas's average regret stays below it",
        "kind": "measured",
        "claim_holds": holds,
    }

    def draw(path: str) -> None:
        fig, (a1, a2) = P.new_figure(2, "The Adam trap of Reddi et al. (2018) on two experts")
        cols = [P.color("xnas"), P.color("adam-softmax"), P.color("", 0)]
        for col, lab in zip(cols, names):
            P.band(a1, rounds, avg[lab], lab, col)
        tg = rounds.astype(float)
        # Theorem 1 at the fixed eta, without the wipeout term, divided by t; equals L sqrt(2 ln N / T) at t = T
        a1.plot(tg, (eta * tg / 2 + np.log(2) / eta) / tg, "k-", linewidth=0.8,
                label="Theorem 1 bound / t (gamma=1)")
        a1.set_xscale("log")
        a1.set_yscale("log")
        P.label(a1, "round t", "average regret R_t / t (reward units per round)", "average regret", loc="upper right")
        for col, lab in zip(cols, names):
            idx = [r for r in rows if r[0] == lab]
            a2.plot([r[3] for r in idx], [r[6] for r in idx], color=col, label=lab, linewidth=1.3)
        a2.set_xscale("log")
        a2.set_ylim(-0.02, 1.02)
        P.label(a2, "round t", "weight of the trap expert (x = +1), mean", "where the mixture goes", loc="center left")
        P.save(fig, path, caption)

    header = ("variant", "forecaster", "eta", "round", "avg_regret_mean", "avg_regret_std", "trap_weight_mean", "seeds")
    return FigureData(header, rows, summary, draw)


FIGURE = Figure(
    name="adam-trap",
    title="The Adam trap of Reddi et al. (2018) on two experts",
    description="Reddi-Kale-Kumar sequence on two experts: adam-softmax's average regret does not vanish, xnas's does",
    build=build,
)
