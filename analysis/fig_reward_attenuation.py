"""Figure ``reward-attenuation`` (paper, equations 5 and 6): GD on softmax logits scales rewards by u_i.

Two numerical checks (ours; the paper's derivation in section 8.4 is not available):

1. **Equation 6 by finite differences.**  For random logits ``a``, expert
   predictions ``f_i`` and targets ``y`` in the unit ball of R^4, with the
   convex loss ``l(p) = (L/4) |p - y|^2`` of the ``convex`` environment and
   ``p = sum_i softmax(a)_i f_i``, the central difference of ``-l`` in ``a_i``
   is compared with ``u_i (R_i - R_bar)``, ``R_i = -grad_p l . f_i`` and
   ``R_bar = sum_j u_j R_j``.
2. **The registry forecasters.**  A stream of random rewards (uniform in
   [-L, L], N = 8, 100 rounds, initial weights log-uniform over [1e-4, 1]) is
   replayed through ``gd-softmax`` and ``xnas`` at eta = 0.05.  The measured
   effective reward of round t is the change of the log-weights divided by eta:
   for ``gd-softmax`` from the mixture trajectory of :func:`xnas.pea.simulate.simulate`
   (centred, which is exact because ``sum_i u_i (R_i - R_bar) = 0``), for ``xnas``
   from the unnormalised log-weights of :func:`xnas.pea.simulate.trace_xnas`.
   It is compared with ``u_{t-1,i} (R_i - R_bar)`` and with ``R_i``.

Claim (equations 5 and 6): the effective reward of GD with softmax equals
``u_i (R_i - R_bar)`` (so it is attenuated by the expert's weight), while XNAS's
equals ``R_i``, whatever the weight.

Check 1 is the independent evidence (``kind`` "measured"): it differentiates
the loss numerically, without the formula.  Check 2 is a *consistency check*:
the kernels are written with these very update formulas, so it confirms the
code does what it says, not equation 6.  ``claim_holds`` is check 1.
"""

from __future__ import annotations

import numpy as np

from xnas.analysis import plotting as P
from xnas.analysis.registry import BuildOptions, Figure, FigureData
from xnas.pea.simulate import simulate, trace_xnas

N_EXPERTS = 8
ROUNDS = 100
ETA = 0.05
L = 1.0
DIM = 4


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max())
    return e / e.sum()


def _unit_ball(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    x = rng.normal(size=shape)
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    return x * rng.uniform(0, 1, size=shape[:-1] + (1,)) ** (1.0 / shape[-1])


def finite_difference_check(rng: np.random.Generator, draws: int, h: float = 1e-6) -> np.ndarray:
    """Rows ``(u_i, -dl/da_i by central differences, u_i (R_i - R_bar))`` for random draws."""
    out = []
    for _ in range(draws):
        a = rng.normal(scale=3.0, size=N_EXPERTS)
        f = _unit_ball(rng, (N_EXPERTS, DIM))
        y = _unit_ball(rng, (DIM,))

        def loss(logits: np.ndarray) -> float:
            p = _softmax(logits) @ f
            return 0.25 * L * float(np.sum((p - y) ** 2))

        u = _softmax(a)
        p = u @ f
        R = -(0.5 * L * (p - y)) @ f.T
        rbar = float(u @ R)
        for i in range(N_EXPERTS):
            e = np.zeros(N_EXPERTS)
            e[i] = h
            fd = -(loss(a + e) - loss(a - e)) / (2 * h)
            out.append((u[i], fd, u[i] * (R[i] - rbar)))
    return np.array(out)


def measured_effective_rewards(rewards: np.ndarray, w0: np.ndarray) -> dict:
    """Replay ``rewards`` through gd-softmax and xnas; return measured and predicted effective rewards."""
    T, n = rewards.shape
    res = simulate("gd-softmax", "replay", rewards=rewards, eta=ETA, L=L, init_weights=w0, n_samples=20 * T)
    if not np.array_equal(res.rounds, np.arange(1, T + 1)):
        raise RuntimeError("the trajectory does not hold every round")
    u = np.vstack([np.exp(res.log_u0)[None, :], res.weights[0]])  # (T + 1, N): u_0 .. u_T
    d = np.diff(np.log(u), axis=0)
    gd_eff = (d - d.mean(axis=1, keepdims=True)) / ETA
    u_prev = u[:-1]
    rbar = (u_prev * rewards).sum(axis=1, keepdims=True)
    gd_pred = u_prev * (rewards - rbar)

    logw, _, _ = trace_xnas(rewards, eta=ETA, L=L, zeta=1.0, init_weights=w0)
    a = np.vstack([np.log(w0 / w0.sum())[None, :], logw])
    with np.errstate(invalid="ignore"):
        x_eff = np.diff(a, axis=0) / ETA
    alive = np.isfinite(a[1:])  # rounds where the expert survived the update
    u_x = np.exp(a[:-1] - np.max(a[:-1], axis=1, keepdims=True))
    u_x /= u_x.sum(axis=1, keepdims=True)
    return {"u_gd": u_prev, "gd_eff": gd_eff, "gd_pred": gd_pred,
            "u_xnas": u_x, "xnas_eff": x_eff, "xnas_pred": rewards, "xnas_alive": alive}


def _slope(u: np.ndarray, eff: np.ndarray) -> float:
    """Slope of log |eff| against log u (1: proportional to u; 0: independent of u)."""
    keep = (np.abs(eff) > 1e-12) & (u > 0)
    return float(np.polyfit(np.log(u[keep]), np.log(np.abs(eff[keep])), 1)[0])


def _replays(opt: BuildOptions, S: int, rows: list) -> tuple:
    """Replay ``S`` random reward streams (CSV rows appended to ``rows``).

    Returns ``(gd, xnas)``, each ``(u, measured, predicted)`` flattened over
    seeds, rounds and experts (xnas: the experts alive after the update only).
    """
    gd_u, gd_e, gd_p, x_u, x_e, x_p = [], [], [], [], [], []
    for s in range(S):
        opt.say(f"reward-attenuation: replay seed {s + 1}/{S}")
        srng = np.random.default_rng([opt.seed, s])
        rewards = srng.uniform(-L, L, size=(ROUNDS, N_EXPERTS))
        w0 = np.exp(srng.uniform(np.log(1e-4), 0.0, size=N_EXPERTS))
        m = measured_effective_rewards(rewards, w0)
        gd_u.append(m["u_gd"].ravel()); gd_e.append(m["gd_eff"].ravel()); gd_p.append(m["gd_pred"].ravel())
        al = m["xnas_alive"].ravel()
        x_u.append(m["u_xnas"].ravel()[al]); x_e.append(m["xnas_eff"].ravel()[al]); x_p.append(m["xnas_pred"].ravel()[al])
        for t in range(ROUNDS):
            for i in range(N_EXPERTS):
                rows.append(("gd-softmax", s, t + 1, i, float(m["u_gd"][t, i]), float(m["gd_eff"][t, i]),
                             float(m["gd_pred"][t, i]), float(rewards[t, i])))
                if m["xnas_alive"][t, i]:
                    rows.append(("xnas", s, t + 1, i, float(m["u_xnas"][t, i]), float(m["xnas_eff"][t, i]),
                                 float(rewards[t, i]), float(rewards[t, i])))
    return tuple(map(np.concatenate, (gd_u, gd_e, gd_p))), tuple(map(np.concatenate, (x_u, x_e, x_p)))


def build(opt: BuildOptions) -> FigureData:
    """Run both checks and plot the effective rewards against the weights."""
    S = opt.n_seeds(4, 2)
    rng = np.random.default_rng(opt.seed)
    opt.say("reward-attenuation: finite differences of equation 6")
    fdc = finite_difference_check(rng, 20 if opt.quick else 100)
    fd_err = float(np.max(np.abs(fdc[:, 1] - fdc[:, 2])))
    rows = [("finite-difference", -1, -1, i % N_EXPERTS, float(r[0]), float(r[1]), float(r[2]), float("nan"))
            for i, r in enumerate(fdc)]
    gd, xn = _replays(opt, S, rows)
    (gd_u, gd_e, gd_p), (x_u, x_e, x_p) = gd, xn
    gd_err = float(np.max(np.abs(gd_e - gd_p)))
    x_err = float(np.max(np.abs(x_e - x_p)))
    tol = 1e-8
    fd_holds = bool(fd_err < 1e-6)
    claims = [
        {"claim": "equation 6 holds by central finite differences of the loss to 1e-6", "kind": "measured",
         "holds": fd_holds},
        {"claim": "the registry's gd-softmax moves its log-weights by eta u_i (R_i - R_bar) and xnas by eta R_i "
                  "(max abs error below 1e-8)", "kind": "consistency check", "holds": bool(gd_err < tol and x_err < tol),
         "why": "the kernels are written with these update formulas"},
    ]
    caption = (f"Setup: (1) eq. 6 by central differences on l(p)=(L/4)|p-y|^2, p=softmax(a).f, random a, f, y in the "
               f"unit ball of R^{DIM}; (2) uniform random rewards in [-L, L], N={N_EXPERTS}, {ROUNDS} rounds, "
               f"log-uniform initial weights in [1e-4, 1], eta={ETA}, {S} seeds, replayed through gd-softmax and xnas; "
               f"effective reward = change of log-weight / eta. Left: |effective reward| vs the expert's weight "
               f"u_(t-1,i); right: measured vs predicted. (1) is the independent evidence; (2) checks the kernels "
               f"against the formulas they are written with (consistency check).")
    summary = {
        "caption": caption,
        "setup": {"n_experts": N_EXPERTS, "rounds": ROUNDS, "eta": ETA, "L": L, "seeds": S, "fd_draws": len(fdc) // N_EXPERTS},
        "max_abs_error_eq6_finite_difference": fd_err,
        "max_abs_error_gd_vs_u_times_advantage": gd_err,
        "max_abs_error_xnas_vs_R": x_err,
        "slope_log_abs_effective_reward_vs_log_u": {"gd-softmax": _slope(gd_u, gd_e), "xnas": _slope(x_u, x_e)},
        "median_weight_u": float(np.median(gd_u)),
        "claim": "equation 6 (GD-softmax's effective reward is u_i (R_i - R_bar), attenuated by the weight) holds by "
                 "finite differences to 1e-6; the kernels' agreement with it is a consistency check",
        "kind": "measured",
        "claims": claims,
        "claim_holds": fd_holds,
    }

    def draw(path: str) -> None:
        _draw(path, fdc, gd, xn, (fd_err, gd_err, x_err), caption)

    header = ("source", "seed", "round", "expert", "u_prev", "effective_reward", "predicted", "reward")
    return FigureData(header, rows, summary, draw)


def _draw(path: str, fdc: np.ndarray, gd: tuple, xn: tuple, errors: tuple, caption: str) -> None:
    """Left: |effective reward| against the weight; right: measured against predicted (``errors``: fd, gd, xnas)."""
    (gd_u, gd_e, gd_p), (x_u, x_e, x_p) = gd, xn
    fd_err, gd_err, x_err = errors
    fig, (a1, a2) = P.new_figure(2, "Reward attenuation: effective reward of GD-softmax vs XNAS")
    a1.loglog(x_u, np.abs(x_e), ".", color=P.color("xnas"), markersize=2, alpha=0.4, label="xnas: R_i")
    a1.loglog(gd_u, np.abs(gd_e), ".", color=P.color("gd-softmax"), markersize=2, alpha=0.4,
              label="gd-softmax: u_i (R_i - R_bar)")
    grid = np.geomspace(max(1e-7, gd_u.min()), 1, 50)
    a1.loglog(grid, 2 * L * grid, "k--", linewidth=0.8, label="2 L u (bound for gd-softmax)")
    a1.set_ylim(1e-7, 3)
    P.label(a1, "expert weight u_(t-1,i) (log scale)", "|effective reward| (reward units)",
            "effective reward vs weight", loc="lower right")
    a2.plot(x_p, x_e, ".", color=P.color("xnas"), markersize=2, alpha=0.4, label=f"xnas vs R_i (max err {x_err:.1e})")
    a2.plot(gd_p, gd_e, ".", color=P.color("gd-softmax"), markersize=2, alpha=0.4,
            label=f"gd vs u_i(R_i-R_bar) (max err {gd_err:.1e})")
    a2.plot(fdc[:, 2], fdc[:, 1], "x", color="k", markersize=3, label=f"eq. 6 by finite diff. (max err {fd_err:.1e})")
    a2.plot([-L, L], [-L, L], "k:", linewidth=0.8)
    P.label(a2, "predicted effective reward (reward units)", "measured effective reward (reward units)",
            "measured vs predicted", loc="upper left")
    P.save(fig, path, caption)


FIGURE = Figure(
    name="reward-attenuation",
    title="Reward attenuation: effective reward of GD-softmax vs XNAS",
    description="numerical check that GD on softmax logits sees u_i (R_i - R_bar) while XNAS sees R_i (eqs. 5-6)",
    build=build,
)
