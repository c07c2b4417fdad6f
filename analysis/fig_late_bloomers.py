"""Figure ``late-bloomers`` (paper, section 3.2.1): can the best expert recover from a bad start?

Setup (the paper's supplementary section 8.1 is not available; this is ours):
N = 8 experts in the ``late-bloomer`` environment with the late bloomer fixed
at index 0: during the first 30% of the rounds its mean reward is -0.5 L (the
worst), afterwards +0.7 L (the best); the other experts' means are spread over
[-0.2 L, 0.2 L]; Gaussian noise 0.3 L.  T = 20,000 rounds, about the number of
architecture steps of a DARTS search (50 epochs of 25,000 / 64 batches).

Forecasters: ``xnas``, ``gd-softmax`` and ``sgd-softmax`` (momentum 0.9) at the
theory's eta* = sqrt(2 ln N / T); ``adam-softmax`` with DARTS's settings
(lr 3e-4, betas (0.5, 0.999), weight decay 1e-3).  The left panel shows the
late bloomer's weight over time; the right panel its selection rate (largest
final weight) at the base learning rate and at 0.1x and 10x of it, so that the
comparison does not hinge on one learning rate.

Claim (section 3.2.1): XNAS selects the late bloomer more often than
gradient descent on softmax logits (``gd-softmax``).
"""

from __future__ import annotations

import numpy as np

from xnas.analysis import plotting as P
from xnas.analysis.registry import BuildOptions, Figure, FigureData
from xnas.analysis.settings import comparison_settings
from xnas.pea.rule import eta_star
from xnas.pea.simulate import simulate

N_EXPERTS = 8
BEST = 0
FORECASTERS = ("xnas", "gd-softmax", "sgd-softmax", "adam-softmax")
MULTIPLIERS = (0.1, 1.0, 10.0)


def build(opt: BuildOptions) -> FigureData:
    """Run the four forecasters on the late-bloomer environment (see the module docstring)."""
    T = 4000 if opt.quick else 20000
    S = opt.n_seeds(40, 12)
    env_params = {"best": float(BEST)}
    rows = []
    traj = {}
    rates = {}
    for fc in FORECASTERS:
        eta0, params = comparison_settings(fc, N_EXPERTS, T)
        rates[fc] = []
        for m in MULTIPLIERS:
            opt.say(f"late-bloomers: {fc} eta x{m}")
            res = simulate(fc, "late-bloomer", n_experts=N_EXPERTS, T=T, eta=eta0 * m, seeds=S, seed=opt.seed,
                           env_params=env_params, forecaster_params=params, n_samples=120)
            chosen = int((res.selected == BEST).sum())
            # the late bloomer must be the best in hindsight for the figure to mean anything
            best_ok = float((res.best_expert == BEST).mean())
            rates[fc].append((m, res.eta, chosen, best_ok))
            if m == 1.0:
                traj[fc] = (res.rounds, res.weights[:, :, BEST])
                for k, t in enumerate(res.rounds):
                    w = res.weights[:, k, BEST]
                    rows.append(("weight", fc, res.eta, int(t), float(w.mean()), float(w.std(ddof=1)), S))
            rows.append(("selected", fc, res.eta, T, chosen / S, float("nan"), S))

    sel = {fc: rates[fc][MULTIPLIERS.index(1.0)][2] / S for fc in FORECASTERS}
    best_frac = min(r[3] for fc in FORECASTERS for r in rates[fc])
    holds = sel["xnas"] > sel["gd-softmax"]
    caption = (f"Setup: N={N_EXPERTS}, late-bloomer env (expert {BEST} has mean -0.5L for the first 30% of "
               f"T={T} rounds, then +0.7L; others in [-0.2L, 0.2L]; noise 0.3L), {S} seeds. xnas, gd-softmax, "
               f"sgd-softmax (momentum 0.9) at eta*=sqrt(2 ln N/T)={eta_star(N_EXPERTS, T):.3g}; adam-softmax "
               f"with DARTS settings (lr 3e-4, betas (0.5, 0.999), weight decay 1e-3). Bands: 95% (1.96 SE / Wilson).")
    summary = {
        "caption": caption,
        "setup": {"n_experts": N_EXPERTS, "T": T, "seeds": S, "env": "late-bloomer", "best": BEST,
                  "multipliers": list(MULTIPLIERS)},
        "selection_rate": sel,
        "selection_rate_by_multiplier": {fc: {str(m): c / S for (m, _, c, _) in rates[fc]} for fc in FORECASTERS},
        "final_weight_of_late_bloomer": {fc: float(traj[fc][1][:, -1].mean()) for fc in FORECASTERS},
        "late_bloomer_best_in_hindsight": best_frac,
        "claim": "xnas selects the late bloomer more often than gd-softmax (at the base learning rate)",
        "kind": "measured",
        "claim_holds": bool(holds),
    }

    def draw(path: str) -> None:
        fig, (a1, a2) = P.new_figure(2, "Late bloomers: weight of the best expert after a bad warm-up")
        for fc in FORECASTERS:
            rounds, w = traj[fc]
            P.band(a1, rounds, w, fc, P.color(fc))
        a1.axvline(0.3 * T, color="k", linestyle=":", linewidth=0.8, label="end of warm-up")
        P.label(a1, "round t", "weight u of the late bloomer", "weight over time (base lr)", legend=False)
        for fc in FORECASTERS:
            ms = np.array([r[0] for r in rates[fc]])
            ks = np.array([r[2] for r in rates[fc]])
            P.rate_band(a2, ms, ks, S, fc, P.color(fc))
        a2.set_xscale("log")
        P.label(a2, "learning rate / base learning rate", "late bloomer selected (fraction of seeds)",
                "selection rate at round T", legend=False)
        for ax in (a1, a2):  # the legends sit in headroom above the data (0..1), never over a line
            ax.set_ylim(-0.02, 1.42)
            ax.set_yticks(np.linspace(0.0, 1.0, 6))
            ax.legend(fontsize=6.5, loc="upper center", ncol=2, framealpha=0.8)
        P.save(fig, path, caption)

    header = ("kind", "forecaster", "eta", "round", "value_mean", "value_std", "seeds")
    return FigureData(header, rows, summary, draw)


FIGURE = Figure(
    name="late-bloomers",
    title="Late bloomers: weight of the best expert after a bad warm-up",
    description="weight and selection rate of an expert that is worst during a warm-up, best afterwards",
    build=build,
)
