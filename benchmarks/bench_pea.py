"""Simulator throughput against a plain NumPy per-round implementation of the same rule.

Run:  python benchmarks/bench_pea.py [--long] [--only-forecasters]

Prints, on one core unless stated:
  1. the xnas kernel over a given (T, 8) reward array, in expert-rounds per second;
  2. end to end on the adversarial environment (rewards drawn inside the kernel);
  3. the NumPy per-round baseline (pea/rule.py's xnas_update in a Python loop) and the ratios;
  4. Monte Carlo over seeds on 2 threads against 1;
  5. the wall time of the whole `xnas-sim regret --experts 8 --T 100000` process (warm cache),
     and whether it imported torch;
  6. the literature's forecasters (AdaHedge, Squint, ...) end to end on the adversarial environment,
     one seed and 8 seeds in lanes on one thread, against xnas in the same run;
  7. with --long: T = 10^8 rounds, checking finiteness and that memory did not grow with T.
"""

from __future__ import annotations

import argparse
import math
import resource
import subprocess
import sys
import time

import numba
import numpy as np

from xnas.pea import simulate
from xnas.pea.rule import eta_star, mixture, xnas_update


def best_of(fn, repeat=3):
    best = math.inf
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def numpy_baseline(R, eta, L=1.0, zeta=1.0):
    T, N = R.shape
    a = np.full(N, -math.log(N))
    fc = 0.0
    for t in range(1, T + 1):
        fc += float(mixture(a) @ R[t - 1])
        a, _, _ = xnas_update(a, R[t - 1], eta, L, zeta, t, T)
    return fc


def forecasters(N, Tf=400_000, seeds=8):
    """Item 6: each literature forecaster end to end on the adversarial environment, against xnas,
    one thread: a lone run, and ``seeds`` runs side by side in lanes (xnas.pea.kernels.lanes), the way a
    Monte Carlo study runs them; T rounds per seed either way (Squint's first rounds take its careful
    evidence, so a shorter run per seed would be dearer per round)."""
    numba.set_num_threads(1)
    names = ("adahedge", "squint", "boa", "mlpoly", "fixed-share", "hedge-anytime")
    for fc in ("xnas",) + names:  # compile / load (a lone seed and lanes are two loops)
        simulate(fc, "adversarial", n_experts=N, T=1000, seeds=seeds, n_samples=8)
        simulate(fc, "adversarial", n_experts=N, T=1000, n_samples=8)
    t_x, _ = best_of(lambda: simulate("xnas", "adversarial", n_experts=N, T=Tf, n_samples=8))
    t_xm, _ = best_of(lambda: simulate("xnas", "adversarial", n_experts=N, T=Tf, seeds=seeds, n_samples=8))
    print(f"6. literature forecasters, adversarial, N={N}, 1 core, M expert-rounds/s "
          f"(xnas here: {Tf * N / t_x / 1e6:.0f} alone, {Tf * seeds * N / t_xm / 1e6:.0f} over {seeds} seeds):")
    print(f"   {'forecaster':14s} {'1 seed':>8s} {f'{seeds} seeds':>9s}  (T = {Tf:,} rounds a seed)")
    for fc in names:
        t_1, _ = best_of(lambda: simulate(fc, "adversarial", n_experts=N, T=Tf, n_samples=8))
        t_m, _ = best_of(lambda: simulate(fc, "adversarial", n_experts=N, T=Tf, seeds=seeds, n_samples=8))
        print(f"   {fc:14s} {Tf * N / t_1 / 1e6:8.1f} {Tf * seeds * N / t_m / 1e6:9.1f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--T", type=int, default=4_000_000)
    ap.add_argument("--long", action="store_true", help="also run T = 10^8")
    ap.add_argument("--only-forecasters", action="store_true", help="run item 6 alone")
    ap.add_argument("--smoke", action="store_true", help="every item at a tiny size (seconds), to check the harness")
    args = ap.parse_args()
    N, T = 8, (20_000 if args.smoke else args.T)
    T_mc, T_fc = (20_000, 20_000) if args.smoke else (2_000_000, 400_000)
    numba.set_num_threads(1)
    if args.only_forecasters:
        forecasters(N, Tf=T_fc)
        return
    rng = np.random.default_rng(0)
    R = rng.choice([-1.0, 1.0], size=(T, N)) * rng.uniform(0.2, 1.0, size=(T, N))
    eta = eta_star(N, T, 1.0)
    simulate("xnas", "replay", rewards=R[:1000], n_samples=8)  # compile / load
    simulate("xnas", "adversarial", n_experts=N, T=1000, n_samples=8)

    t_replay, _ = best_of(lambda: simulate("xnas", "replay", rewards=R, eta=eta, n_samples=200))
    t_adv, _ = best_of(lambda: simulate("xnas", "adversarial", n_experts=N, T=T, n_samples=200))
    replay_rate = T * N / t_replay
    adv_rate = T * N / t_adv

    Tb = 20_000
    t_np, fc_np = best_of(lambda: numpy_baseline(R[:Tb], eta_star(N, Tb, 1.0)), repeat=1)
    np_rate = Tb * N / t_np
    fc_k = simulate("xnas", "replay", rewards=R[:Tb], n_samples=8).forecaster_reward[0]
    assert abs(fc_k - fc_np) <= 1e-8 * max(1.0, abs(fc_np)), (fc_k, fc_np)

    print(f"machine: {numba.config.NUMBA_NUM_THREADS} hardware threads; numba {numba.__version__}")
    print(f"1. xnas kernel, given rewards, N=8, T={T:,}: {replay_rate / 1e6:8.1f} M expert-rounds/s (1 core)")
    print(f"2. end to end, adversarial env, N=8:        {adv_rate / 1e6:8.1f} M expert-rounds/s (1 core)")
    print(f"3. NumPy per-round baseline (same rule):   {np_rate / 1e6:8.3f} M expert-rounds/s")
    print(f"   ratio kernel/NumPy: given rewards {replay_rate / np_rate:8.0f}x, end to end {adv_rate / np_rate:8.0f}x")

    threads = min(2, numba.config.NUMBA_NUM_THREADS)
    kw = dict(n_experts=N, T=T_mc, seeds=8, n_samples=50)
    numba.set_num_threads(1)
    t1, r1 = best_of(lambda: simulate("xnas", "adversarial", **kw), repeat=3)
    numba.set_num_threads(threads)
    t2, r2 = best_of(lambda: simulate("xnas", "adversarial", **kw), repeat=3)
    assert np.array_equal(r1.regret, r2.regret), "thread count changed a result"
    print(f"4. Monte Carlo, 8 seeds x {T_mc:,} rounds: 1 thread {t1:.3f} s, {threads} threads {t2:.3f} s, "
          f"speed-up {t1 / t2:.2f}x (identical results)")

    cmd = [sys.executable, "-c",
           "import sys; from xnas.cli.sim import main; "
           "sys.argv=['xnas-sim','regret','--experts','8','--T','100000','--json']; "
           "import atexit; atexit.register(lambda: sys.stderr.write('TORCH' if 'torch' in sys.modules else ''))\n"
           "main()"]
    subprocess.run(cmd, capture_output=True)  # warm the cache
    walls = []
    torch_seen = False
    for _ in range(3):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        walls.append(time.perf_counter() - t0)
        torch_seen |= "TORCH" in p.stderr
        assert p.returncode == 0, p.stderr
    print(f"5. `xnas-sim regret --experts 8 --T 100000` whole process: best {min(walls):.2f} s, "
          f"median {sorted(walls)[1]:.2f} s; imported torch: {torch_seen}")

    forecasters(N, Tf=T_fc)

    if args.long:
        numba.set_num_threads(1)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        res = simulate("xnas", "adversarial", n_experts=N, T=100_000_000, n_samples=200)
        dt = time.perf_counter() - t0
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        ok = np.isfinite(res.regret).all() and np.isfinite(res.final_weights).all()
        print(f"7. T=10^8: {dt:.1f} s, finite: {ok}, regret {res.final_regret[0]:.1f} <= bound {res.bound[0]:.1f}, "
              f"peak RSS grew by {(rss1 - rss0) / 1024:.1f} MB")


if __name__ == "__main__":
    main()
