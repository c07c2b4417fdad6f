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
(:func:`nas_points`): darts (weight decay 1e-3), gd and xnas (none).

Claim (section 3.2.2): the mean normalized entropy of adam-softmax increases
with the weight-decay coefficient, and xnas ends sparser than adam-softmax at
DARTS's setting.
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


#: Architecture optimizers of the --nas variant and the weight decay each applies to its architecture weights.
NAS_OPTIMIZERS = {"darts": 1e-3, "gd": 0.0, "xnas": 0.0}


def nas_unavailable() -> str | None:
    """Why the ``--nas`` variant cannot run here (one line), or ``None`` when it can."""
    try:
        import torch  # noqa: F401
        import sklearn  # noqa: F401

        from xnas.nas import search  # noqa: F401
    except ImportError as exc:
        return f"the --nas variant needs the nas extra (pip install -e '.[nas]'): {exc}"
    return None


def nas_points(opt: BuildOptions) -> dict:
    """Mean normalized entropy after short supernet searches on ``digits`` (the ``--nas`` variant).

    Runs :func:`xnas.nas.search.run_search` for each architecture optimizer of
    :data:`NAS_OPTIMIZERS` (``darts``: Adam, lr 3e-4, betas (0.5, 0.999), weight
    decay 1e-3; ``gd`` and ``xnas``: no weight decay) on scikit-learn's 8x8
    digits, 50/50 split, batch 64, a 3-cell supernet (1 normal, 2 reduction)
    with 3 nodes and C = 4, no augmentation, on CPU or the GPU if there is one.
    Full mode: 4 epochs, 2 seeds; quick mode: 1 epoch on 256 images, 1 seed.

    The search engine hard-codes DARTS's weight decay (1e-3), so the NAS
    variant gives one point per optimizer rather than a sweep.

    Returns
    -------
    dict
        ``{optimizer: {"weight_decay": wd, "entropy": [per seed]}}`` and the setup.
    """
    import torch

    quick = opt.quick
    epochs, seeds, limit = (1, 1, 256) if quick else (4, 2, None)
    cells = {"layers": 3, "nodes": 3 if not quick else 2, "channels": 4}
    out = {}
    # One intra-op thread: the supernet is tiny (C = 4, 8x8 images), and after the
    # simulator's numba thread pool has run in this process, torch's own pool
    # oversubscribes the cores (measured: one epoch 109 s with 2 threads against
    # 13 s with 1 on a 2-core VM).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for name, wd in NAS_OPTIMIZERS.items():
            out[name] = {"weight_decay": wd, "entropy": _search_entropies(opt, name, epochs, seeds, limit, cells)}
    finally:
        torch.set_num_threads(threads)
    return {"optimizers": out, "setup": {"dataset": "digits", "epochs": epochs, "seeds": seeds, "limit": limit,
                                         "batch_size": 64, **cells}}


def _search_entropies(opt: BuildOptions, name: str, epochs: int, seeds: int, limit, cells: dict) -> list:
    """Mean normalized entropy at the end of ``seeds`` searches with architecture optimizer ``name``."""
    import tempfile

    from xnas.nas.search import SearchConfig, mean_normalized_entropy, run_search

    ents = []
    for s in range(seeds):
        opt.say(f"entropy-vs-weight-decay: supernet search on digits, {name}, seed {s + 1}/{seeds}")
        with tempfile.TemporaryDirectory(prefix="xnas-fig-") as d:
            cfg = SearchConfig(dataset="digits", out_dir=d, arch_optimizer=name, epochs=epochs, batch_size=64,
                               limit=limit, augment=False, seed=opt.seed + s, progress=False, plots=False, **cells)
            res = run_search(cfg)
            ents.append(float(mean_normalized_entropy(res.probabilities)))
    return ents


def build(opt: BuildOptions) -> FigureData:
    """Sweep adam-softmax's weight decay; compare with xnas."""
    T = 4000 if opt.quick else 20000
    S = opt.n_seeds(30, 12)
    wds = WEIGHT_DECAYS if not opt.quick else (0.0, 1e-3, 1e-2, 1e-1)
    rows = []
    ent = {}
    xnas_ent = {}
    for env, ep in ENVS.items():
        ent[env] = []
        for wd in wds:
            opt.say(f"entropy-vs-weight-decay: {env} adam wd={wd:g}")
            res = simulate("adam-softmax", env, n_experts=N_EXPERTS, T=T, eta=3e-4, seeds=S, seed=opt.seed,
                           env_params=ep, forecaster_params={"beta1": 0.5, "beta2": 0.999, "weight_decay": wd},
                           n_samples=2)
            h = normalized_entropy(res.final_weights)
            ent[env].append(h)
            rows.append((env, "adam-softmax", res.eta, wd, float(h.mean()), float(h.std(ddof=1)), S))
        opt.say(f"entropy-vs-weight-decay: {env} xnas")
        res = simulate("xnas", env, n_experts=N_EXPERTS, T=T, seeds=S, seed=opt.seed, env_params=ep, n_samples=2)
        xnas_ent[env] = normalized_entropy(res.final_weights)
        rows.append((env, "xnas", res.eta, 0.0, float(xnas_ent[env].mean()), float(xnas_ent[env].std(ddof=1)), S))
    nas = nas_points(opt) if opt.nas else None
    if nas is not None:
        for name, item in nas["optimizers"].items():
            e = np.array(item["entropy"])
            rows.append(("nas-digits", name, float("nan"), item["weight_decay"], float(e.mean()),
                         float(e.std(ddof=1)) if e.size > 1 else float("nan"), e.size))
    wds_a = np.array(wds)
    means = {env: np.array([h.mean() for h in ent[env]]) for env in ENVS}
    rho = {env: _spearman(wds_a, means[env]) for env in ENVS}
    darts_i = wds.index(DARTS_WD)
    holds = bool(all(rho[e] > 0.8 and means[e][-1] > means[e][0] for e in ENVS)
                 and all(xnas_ent[e].mean() < means[e][darts_i] for e in ENVS))
    caption = (f"Setup: N={N_EXPERTS}, T={T}, {S} seeds; envs stochastic (gap 0.1L, noise 0.5L) and convex (R^4, noise "
               f"0.3). adam-softmax: lr 3e-4, betas (0.5, 0.999), weight decay on the x-axis (red dot: DARTS, 1e-3). "
               f"xnas: eta*=sqrt(2 ln N/T), no weight decay (dashed, band). y: mean over seeds of H(u_T)/ln N. "
               f"Bands: 95% (1.96 SE).")
    if nas is not None:
        ns = nas["setup"]
        caption += (f" Right: supernet searches on digits ({ns['layers']} cells, {ns['nodes']} nodes, C={ns['channels']}, "
                    f"{ns['epochs']} epochs, {ns['seeds']} seed(s)); darts = Adam 3e-4, wd 1e-3; gd, xnas: no wd.")
    summary = {
        "caption": caption,
        "setup": {"n_experts": N_EXPERTS, "T": T, "seeds": S, "envs": ENVS, "weight_decays": list(wds)},
        "adam_mean_normalized_entropy": {e: means[e].tolist() for e in ENVS},
        "adam_at_darts_setting": {e: float(means[e][darts_i]) for e in ENVS},
        "xnas_mean_normalized_entropy": {e: float(xnas_ent[e].mean()) for e in ENVS},
        "spearman_entropy_vs_weight_decay": rho,
        "nas": None if nas is None else {
            **nas, "mean_entropy": {k: float(np.mean(v["entropy"])) for k, v in nas["optimizers"].items()}},
        "claim": "adam-softmax's mean normalized entropy rises with weight decay (Spearman > 0.8, largest wd above "
                 "wd=0) in both environments, and xnas ends sparser than adam-softmax at DARTS's setting",
        "claim_holds": holds,
    }

    def draw(path: str) -> None:
        if nas is None:
            fig, (ax,) = P.new_figure(1, "Mean normalized entropy vs weight decay")
        else:
            fig, (ax, ax2) = P.new_figure(2, "Mean normalized entropy vs weight decay", figsize=(8.0, 4.4))
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
                "mean normalized entropy H(u)/ln N", "simulator" if nas else "", loc="center left")
        if nas is not None:
            names = list(nas["optimizers"])
            for k, name in enumerate(names):
                e = np.array(nas["optimizers"][name]["entropy"])
                m, half = P.mean_ci(e)
                col = {"darts": "red", "xnas": P.color("xnas"), "gd": P.color("gd-softmax")}.get(name, "k")
                ax2.errorbar([k], [m], yerr=[half], fmt="o", color=col, capsize=3,
                             label=f"{name} (wd {nas['optimizers'][name]['weight_decay']:g})")
            ax2.set_xticks(range(len(names)))
            ax2.set_xticklabels(names)
            ax2.set_xlim(-0.5, len(names) - 0.5)
            ax2.set_ylim(-0.02, 1.02)
            P.label(ax2, "architecture optimizer", "mean normalized entropy H(u)/ln N",
                    f"supernet on digits ({nas['setup']['epochs']} epochs)", loc="center right")
        P.save(fig, path, caption)

    header = ("env", "forecaster", "eta", "weight_decay", "entropy_mean", "entropy_std", "seeds")
    return FigureData(header, rows, summary, draw)


FIGURE = Figure(
    name="entropy-vs-weight-decay",
    title="Mean normalized entropy vs weight decay",
    description="Figure 2: mean normalized entropy of adam-softmax's final weights against weight decay, xnas beside it",
    build=build,
    needs_nas=True,
    nas_check=nas_unavailable,
)
