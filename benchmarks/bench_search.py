"""Search-step benchmarks: XNAS against the DARTS baseline, and the speed-up of wipeout.

CPU mode (default) measures, at a fixed small configuration (C = 8, 5 cells,
batch 32, 32x32 synthetic 3-channel images, 10 classes), one search step
(a weight step on a train batch + an architecture step on a validation batch,
exactly the code path of ``xnas-nas search``) for:

* ``darts``   - the DARTS first-order baseline (Adam on logits), the reference;
* ``xnas``    - XNAS with every expert alive;
* ``xnas-50`` - XNAS with 4 of the 8 experts of every edge wiped out;
* ``xnas-75`` - XNAS with 6 of the 8 experts of every edge wiped out.

Which experts are wiped is drawn per edge with a fixed seed (the same draw for
every cell of a type, as the search does).  Peak memory is the peak resident
size (``VmHWM``) of a fresh process over two steps minus the resident size before the first
(model, optimizers and data already built): the activations, gradients and
caches a step needs.  Ratios are against ``darts`` (time per step) and against ``xnas``
(wipeout) measured in the same run: the four harnesses live in one process and
their steps are interleaved round-robin, so outside load hits them alike; the
memory figures come from one fresh process per variant.

``--device cuda`` (or ``--epoch``) instead times one whole search epoch of the
CIFAR-10 setting on synthetic data (25k train / 25k validation, batch 96,
C = 16, 8 cells) and prints seconds per epoch; ``--tiny`` shrinks it so that it
also runs on a CPU.

Usage::

    python benchmarks/bench_search.py                 # CPU step benchmark
    python benchmarks/bench_search.py --device cuda   # seconds per CIFAR-sized epoch
    python benchmarks/bench_search.py --epoch --tiny  # the same code path, tiny, on CPU
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import statistics
import sys
import tempfile
import time


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    """This process's peak resident size (VmHWM; unlike ``ru_maxrss`` it starts afresh at exec)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _synthetic(n: int, size: int, channels: int, classes: int, seed: int):
    import torch
    from torch.utils.data import TensorDataset

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, channels, size, size, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    return TensorDataset(x, y)


def _info(size: int, channels: int, classes: int, n: int):
    from xnas.nas.data import DatasetInfo

    return DatasetInfo("synthetic", channels, classes, size, (0.0,) * channels, (1.0,) * channels, train_size=n)


VARIANTS = ("darts", "xnas", "xnas-50", "xnas-75")


def _build_variant(variant: str, args: dict):
    """A search harness for ``variant`` with its experts wiped, and an endless batch iterator."""
    import numpy as np
    import torch

    from xnas.nas.search import SearchConfig, _Search

    rule = "darts" if variant == "darts" else "xnas"
    B, C, layers, size = args["batch"], args["channels"], args["layers"], args["size"]
    n = B * 4
    train = _synthetic(n, size, 3, 10, 1)
    valid = _synthetic(n, size, 3, 10, 2)
    cfg = SearchConfig(
        # a long nominal schedule keeps the XNAS horizon (and its final wipeout) far away
        dataset="synthetic", out_dir=tempfile.mkdtemp(prefix="bench-"), arch_optimizer=rule, epochs=10_000,
        batch_size=B, channels=C, layers=layers, nodes=4, progress=False, plots=False, device=args["device"],
        seed=0, threads=args["threads"],
    ).validate()
    search = _Search(cfg, resume=False)
    search.build(datasets=(train, valid, _info(size, 3, 10, 2 * n)))
    fraction = {"xnas-50": 0.5, "xnas-75": 0.75}.get(variant, 0.0)
    if fraction:
        rng = np.random.default_rng(0)
        e, N = search.net.arch_shape()
        k = int(round(fraction * N))
        with torch.no_grad():
            for kind in ("normal", "reduce"):
                p = search.arch.params[kind]
                for row in range(e):
                    p[row, rng.choice(N, size=k, replace=False)] = -float("inf")
        search.apply_wipeout()

    def batches():
        epoch = 0
        while True:
            for (xt, yt), (xv, yv) in zip(search.train_loader, search.valid_loader):
                yield xt, yt, xv, yv
            epoch += 1

    return search, batches()


def _info_of(search) -> dict:
    return {"alive": {k: int(v.sum()) for k, v in search.arch.alive().items()},
            "network_params": int(sum(p.numel() for p in search.net.parameters()))}


def _timed_step(search, it) -> float:
    import torch

    xt, yt, xv, yv = next(it)
    t0 = time.perf_counter()
    search.step(xt, yt, xv, yv)
    if search.cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def _memory_variant(variant: str, args: dict, queue) -> None:
    """Peak resident-memory growth of one step, in a fresh process."""
    import torch

    torch.set_num_threads(args["threads"])
    search, it = _build_variant(variant, args)
    base = _rss_mb()  # model, optimizers and data built, no step yet
    for _ in range(2):
        _timed_step(search, it)
    queue.put(_peak_rss_mb() - base)


def bench_steps(args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    conf = {"threads": args.threads, "batch": args.batch, "channels": args.channels, "layers": args.layers,
            "size": args.size, "steps": args.steps, "warmup": args.warmup, "device": args.device}
    # Memory: one fresh process per variant (peak RSS is per process).
    # (first, while this process is still small)
    ctx = mp.get_context("spawn")
    peak = {}
    for v in VARIANTS:
        queue = ctx.Queue()
        proc = ctx.Process(target=_memory_variant, args=(v, conf, queue))
        proc.start()
        peak[v] = queue.get()
        proc.join()
    # Time: all variants in one process, steps interleaved round-robin, so that
    # load from other processes hits every variant alike.
    harness = {v: _build_variant(v, conf) for v in VARIANTS}
    times: dict[str, list] = {v: [] for v in VARIANTS}
    for i in range(args.warmup + args.steps):
        for v in VARIANTS:
            dt = _timed_step(*harness[v])
            if i >= args.warmup:
                times[v].append(dt)
    results = {v: {"variant": v, "step_s": statistics.median(times[v]), "steps": len(times[v]),
                   "peak_growth_mb": peak[v], **_info_of(harness[v][0])} for v in VARIANTS}
    del harness
    for v in VARIANTS:
        r = results[v]
        print(f"{v:>8}: {r['step_s']:.3f} s/step (median of {r['steps']}), "
              f"peak memory growth {r['peak_growth_mb']:.0f} MiB, alive {r['alive']}, "
              f"network params {r['network_params']}", file=sys.stderr)
    ratios = {
        "xnas_vs_darts": results["xnas"]["step_s"] / results["darts"]["step_s"],
        "wiped50_vs_none": results["xnas-50"]["step_s"] / results["xnas"]["step_s"],
        "wiped75_vs_none": results["xnas-75"]["step_s"] / results["xnas"]["step_s"],
        "memory50_vs_none": results["xnas-50"]["peak_growth_mb"] / max(results["xnas"]["peak_growth_mb"], 1e-9),
        "memory75_vs_none": results["xnas-75"]["peak_growth_mb"] / max(results["xnas"]["peak_growth_mb"], 1e-9),
    }
    targets = {"xnas_vs_darts": 1.05, "wiped50_vs_none": 0.6, "wiped75_vs_none": 0.4}
    for key, value in ratios.items():
        target = targets.get(key)
        verdict = "" if target is None else (" (target <= %.2f: %s)" % (target, "met" if value <= target else "MISSED"))
        print(f"{key:>18}: {value:.3f}{verdict}", file=sys.stderr)
    return {"config": conf, "results": results, "ratios": ratios}


def bench_epoch(args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    from xnas.nas.search import SearchConfig, run_search

    if args.tiny:
        n, B, C, layers, size = 256, 32, 4, 5, 16
    else:
        n, B, C, layers, size = 25_000, 96, 16, 8, 32
    train = _synthetic(n, size, 3, 10, 1)
    valid = _synthetic(n, size, 3, 10, 2)
    cfg = SearchConfig(
        dataset="synthetic", out_dir=tempfile.mkdtemp(prefix="bench-epoch-"), epochs=1, batch_size=B,
        channels=C, layers=layers, nodes=4, progress=False, plots=False, device=args.device,
        workers=args.workers,
    )
    t0 = time.perf_counter()
    res = run_search(cfg, datasets=(train, valid, _info(size, 3, 10, 2 * n)))
    wall = time.perf_counter() - t0
    epoch_s = res.log[-1]["seconds"]
    device = str(torch.cuda.get_device_name(0)) if cfg.device != "cpu" and torch.cuda.is_available() else "cpu"
    out = {"images_per_half": n, "batch": B, "channels": C, "layers": layers, "size": size, "device": device,
           "epoch_seconds": epoch_s, "wall_seconds": wall}
    print(f"one search epoch ({n}/{n} images, batch {B}, C={C}, {layers} cells, {size}x{size}) on {device}: "
          f"{epoch_s:.1f} s", file=sys.stderr)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", help="cpu (step benchmark) or cuda (epoch benchmark)")
    p.add_argument("--epoch", action="store_true", help="time a whole search epoch instead of single steps")
    p.add_argument("--tiny", action="store_true", help="a tiny epoch (for CPU)")
    p.add_argument("--steps", type=int, default=3, help="measured steps per variant")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--channels", type=int, default=8)
    p.add_argument("--layers", type=int, default=5)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (1: robust timings on a shared machine)")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the results as one JSON object on stdout")
    args = p.parse_args()
    if args.device.startswith("cuda") or args.epoch:
        result = bench_epoch(args)
    else:
        result = bench_steps(args)
    if args.json:
        print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
