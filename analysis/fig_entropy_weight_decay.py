"""Figure ``entropy-vs-weight-decay`` (paper, Figure 2): weight decay makes architecture weights dense.

Simulator setup (ours; the paper's section 8.5 is not available): N = 8
experts, T = 20,000 rounds (about the architecture steps of a DARTS search: 50
epochs of 25,000 / 64 batches), two environments: ``stochastic`` (one expert
better by gap 0.1 L, Gaussian noise 0.5 L) and ``convex`` (experts predict
noisy vectors in R^4, rewards ``-grad_p loss . f_i`` as in a supernet).
``adam-softmax`` runs with DARTS's learning rate 3e-4 and betas (0.5, 0.999) at
weight-decay coefficients from 0 to 0.1; DARTS's setting (1e-3) is the red dot.
``xnas`` (eta*, no weight decay, which it has no place for) is drawn as a
horizontal band.  The y-axis is the mean over seeds of the normalized entropy
``H(u) / ln N`` of the final weights (1: uniform, 0: one expert).

With ``--nas`` a second panel adds short supernet searches on ``digits``
(:func:`nas_points`): the same sweep for the ``darts`` architecture optimizer
(Adam's weight decay on the architecture logits, ``--arch-weight-decay``), and
``xnas`` (none) as the reference.

Claims (section 3.2.2), each with its ``kind`` in the summary's ``claims``:

* measured: the mean normalized entropy of adam-softmax increases with the
  weight-decay coefficient;
* consistency check: xnas ends (t = T) sparser than adam-softmax at DARTS's
  setting.  This cannot fail: XNAS's last round (margin ``2 eta L (T - T) =
  0``) wipes every expert but the leader, so its entropy at t = T is 0 by
  construction;
* measured: xnas is sparser than adam-softmax at DARTS's setting *before* the
  final round, at t = T - 1 and at t = 0.9 T (both compared at the same round).

``claim_holds`` is the conjunction of the measured claims (with ``--nas``,
also on the supernet: ``nas.claim_holds``; ``claim_holds_simulator`` is the
simulator part alone).
"""

from __future__ import annotations

import numpy as np

from xnas.analysis import plotting as P
from xnas.analysis.registry import BuildOptions, Figure, FigureData
from xnas.pea.simulate import simulate
from xnas.pea.theory import normalized_entropy

N_EXPERTS = 8
DARTS_WD = 1e-3
WEIGHT_DECAYS = (0.0, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
ENVS = {"stochastic": {"gap": 0.1, "noise": 0.5}, "convex": {"dim": 4.0, "noise": 0.3}}


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    rx = np.argsort(np.argsort(x)).astype(float)
    ry = np.argsort(np.argsort(y)).astype(float)
    if rx.std() == 0 or ry.std() == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])


#: Architecture weight decays of the darts (Adam) sweep in the --nas variant, full and quick mode.
NAS_WEIGHT_DECAYS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)
NAS_WEIGHT_DECAYS_QUICK = (0.0, 1e-3, 1e-1)


def nas_unavailable() -> str | None:
    """Why the ``--nas`` variant cannot run here (one line), or ``None`` when it can."""
    try:
        import torch  # noqa: F401
        import sklearn  # noqa: F401

        from xnas.nas.search import loop  # noqa: F401
    except ImportError as exc:
        return f"the --nas variant needs the nas extra (pip install -e '.[nas]'): {exc}"
    return None


def nas_points(opt: BuildOptions) -> dict:
    """Mean normalized entropy after short supernet searches on ``digits`` (the ``--nas`` variant).

    Sweeps the architecture weight decay of ``darts`` (Adam, lr 3e-4, betas
    (0.5, 0.999); ``SearchConfig.arch_weight_decay``) over
    :data:`NAS_WEIGHT_DECAYS` (quick mode: :data:`NAS_WEIGHT_DECAYS_QUICK`) and
    runs ``xnas`` (no weight decay) beside it, all with
    :func:`xnas.nas.search.loop.run_search` on scikit-learn's 8x8 digits, 50/50
    split, batch 64, a 3-cell supernet (1 normal, 2 reduction) with 3 nodes
    and C = 4, no augmentation, on CPU or the GPU if there is one.  Every
    weight decay runs with the same seeds (same data order and initial
    logits), so the sweep is paired.  Full mode: 3 epochs, 2 seeds; quick
    mode: 1 epoch on 256 images, 2 nodes, 1 seed.

    Returns
    -------
    dict
        ``{"darts": {"weight_decays", "entropy": [per wd [per seed]]},
        "xnas": {"weight_decay": 0, "entropy": [per seed]}, "setup": ...}``.
    """
    quick = opt.quick
    epochs, seeds, limit = (1, 1, 256) if quick else (3, 2, None)
    cells = {"layers": 3, "nodes": 3 if not quick else 2, "channels": 4}
    wds = NAS_WEIGHT_DECAYS_QUICK if quick else NAS_WEIGHT_DECAYS
    _BEFORE.clear()
    darts = [_search_entropies(opt, "darts", wd, epochs, seeds, limit, cells) for wd in wds]
    xnas = _search_entropies(opt, "xnas", None, epochs, seeds, limit, cells)
    return {
        "darts": {"weight_decays": list(wds), "entropy": darts,
                  "entropy_before_end": {lab: [_BEFORE[("darts", wd)][lab] for wd in wds] for lab in BEFORE_END}},
        "xnas": {"weight_decay": 0.0, "entropy": xnas, "entropy_before_end": _BEFORE[("xnas", None)]},
        "setup": {"dataset": "digits", "epochs": epochs, "seeds": seeds, "limit": limit, "batch_size": 64,
                  "arch_lr": 3e-4, **cells},
    }


#: Rounds (fractions of the horizon, or "T-1") at which entropy is also measured before the end.
BEFORE_END = ("T-1", "0.9T")


def _round_index(label: str, T: int) -> int:
    """Round number (1-based) of a :data:`BEFORE_END` label for horizon ``T``."""
    return T - 1 if label == "T-1" else int(round(0.9 * T))


def _history_entropies(out_dir: str) -> dict:
    """Mean normalized entropy of a finished search at the steps T-1 and 0.9T (from arch_history.npz)."""
    import os

    with np.load(os.path.join(out_dir, "arch_history.npz")) as h:
        steps, weights = h["steps"], h["weights"]  # weights: (K, cell types, edges, N)
    T = int(steps[-1])
    out = {}
    for label in BEFORE_END:
        # the last recorded step at or before the wanted one (every step when T <= 200)
        k = int(np.searchsorted(steps, _round_index(label, T), side="right")) - 1
        out[label] = float(normalized_entropy(weights[k]).mean())
    return out


def _search_entropies(opt: BuildOptions, name: str, wd, epochs: int, seeds: int, limit, cells: dict) -> list:
    """Mean normalized entropy at the end of ``seeds`` searches with optimizer ``name``, weight decay ``wd``.

    Also fills ``_BEFORE[(name, wd)]`` with the entropies at steps T-1 and 0.9T.
    """
    import tempfile

    from xnas.nas.search.loop import SearchConfig, mean_normalized_entropy, run_search

    ents = []
    before = _BEFORE.setdefault((name, wd), {label: [] for label in BEFORE_END})
    for s in range(seeds):
        what = name if wd is None else f"{name} wd={wd:g}"
        opt.say(f"entropy-vs-weight-decay: supernet search on digits, {what}, seed {s + 1}/{seeds}")
        # One intra-op thread, set by the runtime: the supernet is tiny (C = 4, 8x8 images), and
        # after the simulator's numba thread pool has run in this process, torch's own pool
        # oversubscribes the cores (measured: one epoch 109 s with 2 threads against 13 s with 1
        # on a 2-core VM).
        with tempfile.TemporaryDirectory(prefix="xnas-fig-") as d:
            cfg = SearchConfig(dataset="digits", out_dir=d, arch_optimizer=name, arch_weight_decay=wd, epochs=epochs,
                               batch_size=64, limit=limit, augment=False, seed=opt.seed + s, progress=False,
                               plots=False, threads=1, **cells)
            res = run_search(cfg)
            ents.append(float(mean_normalized_entropy(res.probabilities)))
            for label, v in _history_entropies(d).items():
                before[label].append(v)
    return ents


_BEFORE: dict = {}


def _nas_summary(nas: dict) -> dict:
    """Means, rank correlation and the claim on the supernet sweep."""
    wds = np.array(nas["darts"]["weight_decays"])
    ent = np.array(nas["darts"]["entropy"])  # (weight decays, seeds)
    means = ent.mean(axis=1)
    xnas_mean = float(np.mean(nas["xnas"]["entropy"]))
    rho = _spearman(wds, means)
    at_darts = float(means[list(wds).index(DARTS_WD)])
    # paired over seeds: the largest weight decay against none, seed by seed
    paired = (ent[-1] - ent[0]).tolist()
    di = list(wds).index(DARTS_WD)
    before = {lab: {"xnas": float(np.mean(nas["xnas"]["entropy_before_end"][lab])),
                    "darts_at_darts_setting": float(np.mean(nas["darts"]["entropy_before_end"][lab][di]))}
              for lab in BEFORE_END}
    rises = bool(rho > 0.8 and means[-1] > means[0])
    sparser_before = bool(all(b["xnas"] < b["darts_at_darts_setting"] for b in before.values()))
    claims = [
        {"claim": "darts' mean normalized entropy rises with the architecture weight decay (Spearman > 0.8, "
                  "largest wd above wd=0)", "kind": "measured", "holds": rises},
        {"claim": "xnas ends (last step) sparser than darts at DARTS's setting", "kind": "consistency check",
         "holds": bool(xnas_mean < at_darts),
         "why": "XNAS's last round has margin 0 and leaves one expert per edge: its final entropy is 0"},
        {"claim": "xnas is sparser than darts at DARTS's setting at steps T-1 and 0.9T", "kind": "measured",
         "holds": sparser_before},
    ]
    holds = bool(rises and sparser_before)
    return {
        "entropy_before_end": before,
        "claims": claims,
        "kind": "measured",
        "darts_mean_entropy": means.tolist(),
        "darts_one_minus_entropy": (1.0 - means).tolist(),
        "darts_at_darts_setting": at_darts,
        "xnas_mean_entropy": xnas_mean,
        "spearman_entropy_vs_weight_decay": rho,
        "paired_largest_minus_zero_wd": paired,
        "claim": "on the supernet, darts' mean normalized entropy rises with the architecture weight decay "
                 "(Spearman > 0.8, largest wd above wd=0) and xnas is sparser than darts at DARTS's setting at "
                 "steps T-1 and 0.9T (measured); sparser at the last step too (consistency check)",
        "claim_holds": holds,
    }


def _simulator_sweep(opt: BuildOptions, T: int, S: int, wds: tuple) -> tuple:
    """adam-softmax at each weight decay and xnas, per environment.

    Returns the CSV rows, adam's final entropies ``{env: [per wd]}``, xnas's
    ``{env: per seed}`` and the mean entropies before the final round
    ``{env: {label: {"xnas", "adam_at_darts_setting"}}}``.
    """
    rows = []
    ent = {}
    xnas_ent = {}
    # mean entropies before the final round: {env: {label: {"xnas": .., "adam_at_darts_setting": ..}}}
    before = {}
    # every round is kept (n_samples = T) so that rounds T-1 and 0.9T can be read
    idx = {lab: _round_index(lab, T) - 1 for lab in BEFORE_END}
    for env, ep in ENVS.items():
        ent[env] = []
        before[env] = {lab: {} for lab in BEFORE_END}
        for wd in wds:
            opt.say(f"entropy-vs-weight-decay: {env} adam wd={wd:g}")
            res = simulate("adam-softmax", env, n_experts=N_EXPERTS, T=T, eta=3e-4, seeds=S, seed=opt.seed,
                           env_params=ep, forecaster_params={"beta1": 0.5, "beta2": 0.999, "weight_decay": wd},
                           n_samples=T)
            h = normalized_entropy(res.final_weights)
            ent[env].append(h)
            rows.append((env, "adam-softmax", res.eta, wd, float(h.mean()), float(h.std(ddof=1)), S))
            if wd == DARTS_WD:
                for lab, i in idx.items():
                    before[env][lab]["adam_at_darts_setting"] = float(normalized_entropy(res.weights[:, i]).mean())
        opt.say(f"entropy-vs-weight-decay: {env} xnas")
        res = simulate("xnas", env, n_experts=N_EXPERTS, T=T, seeds=S, seed=opt.seed, env_params=ep, n_samples=T)
        xnas_ent[env] = normalized_entropy(res.final_weights)
        rows.append((env, "xnas", res.eta, 0.0, float(xnas_ent[env].mean()), float(xnas_ent[env].std(ddof=1)), S))
        for lab, i in idx.items():
            before[env][lab]["xnas"] = float(normalized_entropy(res.weights[:, i]).mean())
    return rows, ent, xnas_ent, before


def _simulator_claims(rho: dict, means: dict, xnas_ent: dict, before: dict, darts_i: int) -> list:
    """The simulator's claims, each with its kind (see the module docstring)."""
    rises = bool(all(rho[e] > 0.8 and means[e][-1] > means[e][0] for e in ENVS))
    sparser_end = bool(all(xnas_ent[e].mean() < means[e][darts_i] for e in ENVS))
    sparser_before = bool(all(b["xnas"] < b["adam_at_darts_setting"] for e in ENVS for b in before[e].values()))
    claims = [
        {"claim": "adam-softmax's mean normalized entropy rises with weight decay (Spearman > 0.8, largest wd "
                  "above wd=0) in both environments", "kind": "measured", "holds": rises},
        {"claim": "xnas ends (t = T) sparser than adam-softmax at DARTS's setting", "kind": "consistency check",
         "holds": sparser_end,
         "why": "the round t = T has margin 0 and wipes every expert but the leader: xnas's entropy at T is 0"},
        {"claim": "xnas is sparser than adam-softmax at DARTS's setting before the final round, at t = T-1 and "
                  "t = 0.9T (same round for both), in both environments", "kind": "measured",
         "holds": sparser_before},
    ]
    return claims


def _nas_rows(nas: dict) -> list:
    """CSV rows of the supernet sweep (env ``nas-digits``): darts at each weight decay, then xnas."""
    items = [("darts", 3e-4, wd, np.array(e)) for wd, e in zip(nas["darts"]["weight_decays"], nas["darts"]["entropy"])]
    items.append(("xnas", float("nan"), 0.0, np.array(nas["xnas"]["entropy"])))
    return [("nas-digits", name, lr, wd, float(e.mean()), float(e.std(ddof=1)) if e.size > 1 else float("nan"), e.size)
            for name, lr, wd, e in items]


def _caption(T: int, S: int, before: dict, nas: dict | None) -> str:
    """The setup under the plot, with the entropies before the final round (and the supernet panel's)."""
    caption = (f"Setup: N={N_EXPERTS}, T={T}, {S} seeds; envs stochastic (gap 0.1L, noise 0.5L) and convex (R^4, noise "
               f"0.3). adam-softmax: lr 3e-4, betas (0.5, 0.999), weight decay on the x-axis (red dot: DARTS, 1e-3). "
               f"xnas: eta*=sqrt(2 ln N/T), no weight decay (dashed, band). y: mean over seeds of H(u_T)/ln N. "
               f"Bands: 95% (1.96 SE). xnas's entropy at t = T is 0 by construction (consistency check); before "
               f"the final round (measured) xnas / adam at wd 1e-3: "
               + "; ".join(f"{e} " + ", ".join(f"t={lab} {before[e][lab]['xnas']:.3f} / "
                                               f"{before[e][lab]['adam_at_darts_setting']:.3f}" for lab in BEFORE_END)
                           for e in ENVS) + ".")
    if nas is not None:
        ns = nas["setup"]
        caption += (f" Right: supernet searches on digits ({ns['layers']} cells, {ns['nodes']} nodes, C={ns['channels']}, "
                    f"{ns['epochs']} epoch(s), {ns['seeds']} seed(s)); darts = Adam 3e-4, betas (0.5, 0.999), "
                    f"architecture weight decay on the x-axis (red dot: 1e-3); xnas: no wd. Inset: 1 - H/ln N of "
                    f"darts. Claim on the supernet {'holds' if nas['claim_holds'] else 'does NOT hold'} "
                    f"(Spearman {nas['spearman_entropy_vs_weight_decay']:.2f}).")
    return caption


def build(opt: BuildOptions) -> FigureData:
    """Sweep adam-softmax's weight decay; compare with xnas."""
    T = 4000 if opt.quick else 20000
    S = opt.n_seeds(30, 12)
    wds = WEIGHT_DECAYS if not opt.quick else (0.0, 1e-3, 1e-2, 1e-1)
    rows, ent, xnas_ent, before = _simulator_sweep(opt, T, S, wds)
    nas = nas_points(opt) if opt.nas else None
    if nas is not None:
        nas.update(_nas_summary(nas))
        rows += _nas_rows(nas)
    wds_a = np.array(wds)
    means = {env: np.array([h.mean() for h in ent[env]]) for env in ENVS}
    rho = {env: _spearman(wds_a, means[env]) for env in ENVS}
    darts_i = wds.index(DARTS_WD)
    claims = _simulator_claims(rho, means, xnas_ent, before, darts_i)
    holds_sim = bool(claims[0]["holds"] and claims[2]["holds"])
    caption = _caption(T, S, before, nas)
    claim = ("adam-softmax's mean normalized entropy rises with weight decay (Spearman > 0.8, largest wd above "
             "wd=0) in both environments, and xnas is sparser than adam-softmax at DARTS's setting at t = T-1 and "
             "t = 0.9T (measured); at t = T xnas's entropy is 0 by construction (consistency check)")
    if nas is not None:
        claim += "; with --nas, also on the supernet: " + nas["claim"]
    summary = {
        "caption": caption,
        "setup": {"n_experts": N_EXPERTS, "T": T, "seeds": S, "envs": ENVS, "weight_decays": list(wds)},
        "adam_mean_normalized_entropy": {e: means[e].tolist() for e in ENVS},
        "adam_at_darts_setting": {e: float(means[e][darts_i]) for e in ENVS},
        "xnas_mean_normalized_entropy": {e: float(xnas_ent[e].mean()) for e in ENVS},
        "entropy_before_final_round": before,
        "spearman_entropy_vs_weight_decay": rho,
        "nas": nas,
        "claim": claim,
        "kind": "measured",
        "claims": claims,
        "claim_holds_simulator": holds_sim,
        "claim_holds": bool(holds_sim and (nas is None or nas["claim_holds"])),
    }

    def draw(path: str) -> None:
        if nas is None:
            fig, (ax,) = P.new_figure(1, "Mean normalized entropy vs weight decay")
        else:
            fig, (ax, ax2) = P.new_figure(2, "Mean normalized entropy vs weight decay", figsize=(8.0, 4.4))
        _draw_simulator(ax, wds_a, ent, means, xnas_ent, darts_i, "simulator" if nas else "")
        if nas is not None:
            _draw_nas(ax2, nas)
        P.save(fig, path, caption)

    header = ("env", "forecaster", "eta", "weight_decay", "entropy_mean", "entropy_std", "seeds")
    return FigureData(header, rows, summary, draw)


def _draw_simulator(ax, wds_a, ent: dict, means: dict, xnas_ent: dict, darts_i: int, title: str) -> None:
    """Left panel: adam-softmax's entropy against weight decay per environment, xnas as horizontal bands."""
    styles = {"stochastic": "o-", "convex": "s-"}
    for k, env in enumerate(ENVS):
        col = P.color("adam-softmax") if k == 0 else P.color("", 0)
        P.band(ax, wds_a, np.array(ent[env]).T, f"adam-softmax, {env}", col, style=styles[env])
        ax.plot([DARTS_WD], [means[env][darts_i]], "o", color="red", markersize=7, zorder=5,
                label="DARTS setting (wd 1e-3)" if k == 0 else None)
        m, half = P.mean_ci(xnas_ent[env])
        ax.axhline(m, color=P.color("xnas"), linestyle="--" if k == 0 else ":", linewidth=1.2,
                   label=f"xnas (no weight decay), {env}")
        ax.axhspan(m - half, m + half, color=P.color("xnas"), alpha=0.15, linewidth=0)
    ax.set_xscale("symlog", linthresh=1e-4)
    ax.set_xlim(-0.00002, 0.15)
    ax.set_ylim(-0.02, 1.02)
    P.label(ax, "weight-decay coefficient of adam-softmax (symlog; 0 at the left)",
            "mean normalized entropy H(u)/ln N", title, loc="center left")


def _draw_nas(ax2, nas: dict) -> None:
    """Right panel (--nas): darts' entropy against the architecture weight decay, xnas's band, an inset of 1 - H."""
    nwd = np.array(nas["darts"]["weight_decays"])
    ne = np.array(nas["darts"]["entropy"]).T  # (seeds, weight decays)
    P.band(ax2, nwd, ne, "darts (Adam 3e-4)", "red", style="o-")
    di = list(nwd).index(DARTS_WD)
    ax2.plot([DARTS_WD], [ne[:, di].mean()], "o", color="red", markersize=8, markerfacecolor="none", zorder=5,
             label="DARTS setting (wd 1e-3)")
    m, half = P.mean_ci(np.array(nas["xnas"]["entropy"]))
    ax2.axhline(m, color=P.color("xnas"), linestyle="--", linewidth=1.2, label="xnas (no weight decay)")
    ax2.axhspan(m - half, m + half, color=P.color("xnas"), alpha=0.15, linewidth=0)
    ax2.set_xscale("symlog", linthresh=1e-4)
    ax2.set_xlim(-0.00002, 0.15)
    ax2.set_ylim(-0.02, 1.02)
    P.label(ax2, "architecture weight decay of darts (symlog; 0 at the left)", "mean normalized entropy H(u)/ln N",
            f"supernet on digits, {nas['setup']['epochs']} epoch(s)", loc="center left")
    # darts stays within 1e-4 of uniform in a short search: the inset shows how far
    ins = ax2.inset_axes([0.5, 0.1, 0.46, 0.27])
    gap = 1.0 - ne
    top = float(np.abs(gap).max())
    exp = int(np.floor(np.log10(top))) if top > 0 else 0
    P.band(ins, nwd, gap / 10.0**exp, "", "red", style="o-")
    ins.set_xscale("symlog", linthresh=1e-4)
    ins.set_xlim(-0.00002, 0.15)
    ins.tick_params(labelsize=6)
    ins.set_title(f"darts: (1 - H/ln N) / 1e{exp}", fontsize=6.5)


FIGURE = Figure(
    name="entropy-vs-weight-decay",
    title="Mean normalized entropy vs weight decay",
    description="Figure 2: mean normalized entropy of adam-softmax's final weights against weight decay, xnas beside it",
    build=build,
    needs_nas=True,
    nas_check=nas_unavailable,
)
