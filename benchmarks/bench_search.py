"""Search-step benchmarks: XNAS against the DARTS baseline, the speed-up of wipeout, and checkouts side by side.

Step mode (the default) measures one search step (a weight step on a train
batch + an architecture step on a validation batch, exactly the code path of
``xnas-nas search``) at a fixed small setting on synthetic data:

``--setting darts`` (default)
    the DARTS space, C = 8, 5 cells, batch 32, 32x32 3-channel images, 10 classes;
``--setting nb201``
    the nb201 study's search: NAS-Bench-201 space, C = 8, 6 cells, batch 96,
    28x28 1-channel images (Fashion-MNIST's shape), 10 classes.

for the variants (``--variants``, default the first four):

* ``darts``   - the DARTS first-order baseline (Adam on logits), the reference;
* ``xnas``    - XNAS with every expert alive;
* ``xnas-50`` - XNAS with half of the experts of every edge wiped out;
* ``xnas-75`` - XNAS with three quarters of them wiped out;
* ``xnas-nchw`` - ``xnas`` in the NCHW layout (``--no-channels-last``);
* ``xnas-compile`` - ``xnas`` with ``torch.compile`` (``--compile``).

Which experts are wiped is drawn per edge with a fixed seed (the same draw for
every cell of a type, as the search does).  Time ratios are against ``darts``
and ``xnas`` measured in the same process, their steps interleaved
round-robin so that outside load hits them alike.  Peak memory (unless
``--no-memory``) is the peak resident size (``VmHWM``) of a fresh process over
two steps minus its size before the first: one spawned process per variant.

``--compare PYTHON...`` times ``xnas`` at the setting under several
interpreters (each a virtual environment with its own checkout of xnas
installed, e.g. today's main against a branch): one process per interpreter
and round, the interpreters alternating, ``--rounds`` rounds; it prints the
median seconds per step of each and its ratio to the first.

``--epoch`` (or ``--device cuda``) times one whole search epoch of the
CIFAR-10 setting on synthetic data (25k/25k images, batch 96, C = 16, 8 cells;
``--space nb201``: C = 16, 15 cells) and prints seconds per epoch; ``--tiny``
shrinks it so that it also runs on a CPU.  A child process that dies is an
error (exit 1), never a hang.

Usage::

    python benchmarks/bench_search.py                       # CPU step benchmark, darts setting
    python benchmarks/bench_search.py --setting nb201
    python benchmarks/bench_search.py --compare /venvs/main/bin/python /venvs/branch/bin/python
    python benchmarks/bench_search.py --device cuda [--compile]   # seconds per CIFAR-sized epoch
    python benchmarks/bench_search.py --epoch --tiny          # the same code path, tiny, on CPU
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue as queue_module
import resource
import statistics
import subprocess
import sys
import tempfile
import time

SETTINGS = {
    "darts": dict(space="darts", batch=32, channels=8, layers=5, size=32, in_channels=3),
    "nb201": dict(space="nb201", batch=96, channels=8, layers=6, size=28, in_channels=1),
}
VARIANTS = ("darts", "xnas", "xnas-50", "xnas-75", "xnas-nchw", "xnas-compile")
DEFAULT_VARIANTS = VARIANTS[:4]
CHILD_TIMEOUT_S = 1800


class BenchError(RuntimeError):
    """A child process died or timed out; the message is one line."""


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
    from xnas.nas.data.datasets import DatasetInfo

    return DatasetInfo("synthetic", channels, classes, size, (0.0,) * channels, (1.0,) * channels, train_size=n)


def _config(conf: dict, **kw):
    """A SearchConfig of this checkout; speed options it does not know yet (an older checkout) are left out."""
    from dataclasses import fields

    from xnas.nas.search.loop import SearchConfig

    known = {f.name for f in fields(SearchConfig)}
    kw.update({k: v for k, v in (("channels_last", conf.get("channels_last")), ("compile", conf.get("compile")))
               if v is not None and k in known})
    return SearchConfig(space=conf["space"], batch_size=conf["batch"], channels=conf["channels"],
                        layers=conf["layers"], progress=False, plots=False, device=conf["device"], **kw)


def _build_variant(variant: str, conf: dict):
    """A search harness for ``variant`` with its experts wiped, and an endless batch iterator."""
    import numpy as np
    import torch

    from xnas.nas.search.loop import _Search

    conf = dict(conf)
    if variant == "xnas-nchw":
        conf["channels_last"] = False
    if variant == "xnas-compile":
        conf["compile"] = True
    B, size, ch = conf["batch"], conf["size"], conf["in_channels"]
    n = B * 4
    info = _info(size, ch, 10, 2 * n)
    cfg = _config(
        # a long nominal schedule keeps the XNAS horizon (and its final wipeout) far away
        conf, dataset="synthetic", out_dir=tempfile.mkdtemp(prefix="bench-"),
        arch_optimizer="darts" if variant == "darts" else "xnas", epochs=10_000, seed=0, threads=conf["threads"],
    ).validate(info=info)
    search = _Search(cfg, resume=False)
    search.build(datasets=(_synthetic(n, size, ch, 10, 1), _synthetic(n, size, ch, 10, 2), info))
    fraction = {"xnas-50": 0.5, "xnas-75": 0.75}.get(variant, 0.0)
    if fraction:
        rng = np.random.default_rng(0)
        e, N = search.net.arch_shape()
        k = int(round(fraction * N))
        with torch.no_grad():
            for kind in search.arch.kinds:
                p = search.arch.params[kind]
                for row in range(e):
                    p[row, rng.choice(N, size=k, replace=False)] = -float("inf")
        search.apply_wipeout()

    def batches():
        while True:
            for (xt, yt), (xv, yv) in zip(search.train_loader, search.valid_loader):
                yield xt, yt, xv, yv

    return search, batches()


def _info_of(search) -> dict:
    return {"alive": {k: int(v.sum()) for k, v in search.arch.alive().items()},
            "network_params": int(sum(p.numel() for p in search.net.parameters()))}


def _timed_step(search, it, cpu: list | None = None) -> float:
    """Wall seconds of one step; ``cpu`` gets its process CPU seconds (less sensitive to outside load)."""
    import torch

    xt, yt, xv, yv = next(it)
    c0, t0 = time.process_time(), time.perf_counter()
    search.step(xt, yt, xv, yv)
    if search.cuda:
        torch.cuda.synchronize()
    wall = time.perf_counter() - t0
    if cpu is not None:
        cpu.append(time.process_time() - c0)
    return wall


def _memory_variant(variant: str, conf: dict, queue) -> None:
    """Peak resident-memory growth of one step, in a fresh process."""
    import torch

    torch.set_num_threads(conf["threads"])
    search, it = _build_variant(variant, conf)
    base = _rss_mb()  # model, optimizers and data built, no step yet
    for _ in range(2):
        _timed_step(search, it)
    queue.put(_peak_rss_mb() - base)


def child_result(proc, queue, what: str, timeout: float = CHILD_TIMEOUT_S):
    """The one value a started child process puts on ``queue``; ``BenchError`` if it dies or times out first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = queue.get(timeout=0.5)
            break
        except queue_module.Empty:
            if not proc.is_alive():
                try:  # it may have put its value just before exiting
                    value = queue.get(timeout=1.0)
                    break
                except queue_module.Empty:
                    raise BenchError(f"{what}: the child process died (exit code {proc.exitcode})") from None
            if time.monotonic() > deadline:
                proc.kill()
                raise BenchError(f"{what}: no result after {timeout:.0f} s") from None
    proc.join(timeout=60)
    return value


def bench_steps(args: argparse.Namespace, conf: dict) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    variants = list(args.variants)
    peak = {}
    if args.memory:  # one fresh process per variant (peak RSS is per process), while this one is still small
        ctx = mp.get_context("spawn")
        for v in variants:
            queue = ctx.Queue()
            proc = ctx.Process(target=_memory_variant, args=(v, conf, queue))
            proc.start()
            peak[v] = child_result(proc, queue, f"memory of {v}")
    # Time: all variants in one process, steps interleaved round-robin, so that
    # load from other processes hits every variant alike.
    harness = {v: _build_variant(v, conf) for v in variants}
    times: dict[str, list] = {v: [] for v in variants}
    cpu: dict[str, list] = {v: [] for v in variants}
    for i in range(args.warmup + args.steps):
        for v in variants:
            dt = _timed_step(*harness[v], cpu[v] if i >= args.warmup else None)
            if i >= args.warmup:
                times[v].append(dt)
    results = {v: {"variant": v, "step_s": statistics.median(times[v]), "cpu_s": statistics.median(cpu[v]),
                   "steps": len(times[v]),
                   "peak_growth_mb": peak.get(v), **_info_of(harness[v][0])} for v in variants}
    del harness
    for v in variants:
        r = results[v]
        mem = "" if r["peak_growth_mb"] is None else f", peak memory growth {r['peak_growth_mb']:.0f} MiB"
        print(f"{v:>12}: {r['step_s']:.3f} s/step (median of {r['steps']}; CPU {r['cpu_s']:.3f} s){mem}, "
              f"alive {r['alive']}, "
              f"network params {r['network_params']}", file=sys.stderr)
    ratios = {}
    pairs = {"xnas_vs_darts": ("xnas", "darts"), "wiped50_vs_none": ("xnas-50", "xnas"),
             "wiped75_vs_none": ("xnas-75", "xnas"), "nchw_vs_channels_last": ("xnas-nchw", "xnas"),
             "compile_vs_eager": ("xnas-compile", "xnas")}
    for key, (a, b) in pairs.items():
        if a in results and b in results:
            ratios[key] = results[a]["step_s"] / results[b]["step_s"]
            # process CPU seconds: less sensitive to other jobs on a shared machine than wall time
            ratios[key.replace("_vs_", "_cpu_vs_")] = results[a]["cpu_s"] / results[b]["cpu_s"]
    if args.memory:
        for key, a in (("memory50_vs_none", "xnas-50"), ("memory75_vs_none", "xnas-75")):
            if a in results and "xnas" in results:
                ratios[key] = results[a]["peak_growth_mb"] / max(results["xnas"]["peak_growth_mb"], 1e-9)
    targets = {"xnas_vs_darts": 1.05, "wiped50_vs_none": 0.55, "wiped75_vs_none": 0.26,
               "xnas_cpu_vs_darts": 1.05, "wiped50_cpu_vs_none": 0.55, "wiped75_cpu_vs_none": 0.26}
    for key, value in ratios.items():
        target = targets.get(key)
        verdict = "" if target is None else (" (target <= %.2f: %s)" % (target, "met" if value <= target else "MISSED"))
        print(f"{key:>22}: {value:.3f}{verdict}", file=sys.stderr)
    return {"config": conf, "results": results, "ratios": ratios, "load_average": os.getloadavg()}


def worker(conf: dict, warmup: int, steps: int) -> dict:
    """Seconds of each timed ``xnas`` step in this process (the ``--compare`` child)."""
    import torch

    torch.set_num_threads(conf["threads"])
    t0 = time.perf_counter()
    search, it = _build_variant("xnas", conf)
    build_s = time.perf_counter() - t0
    warm = [_timed_step(search, it) for _ in range(warmup)]
    cpu: list = []
    wall = [_timed_step(search, it, cpu) for _ in range(steps)]
    return {"build_s": build_s, "warmup_s": warm, "step_s": wall, "cpu_s": cpu}


def compare(args: argparse.Namespace, conf: dict) -> dict:
    """``xnas`` steps under each interpreter of ``args.compare``, alternating, ``args.rounds`` rounds."""
    pythons = list(args.compare)
    steps: dict[str, list] = {p: [] for p in pythons}
    cpu: dict[str, list] = {p: [] for p in pythons}
    cmd_tail = ["--worker", json.dumps(conf), "--warmup", str(args.warmup), "--steps", str(args.steps)]
    loads = [os.getloadavg()[0]]
    for r in range(args.rounds):
        order = pythons if r % 2 == 0 else pythons[::-1]  # neither always runs first
        for py in order:
            try:
                proc = subprocess.run([py, os.path.abspath(__file__)] + cmd_tail, capture_output=True, text=True,
                                      timeout=CHILD_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                raise BenchError(f"{py}: no result after {CHILD_TIMEOUT_S} s") from None
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                raise BenchError(f"{py}: the worker failed (exit code {proc.returncode}): {last}")
            out = json.loads(proc.stdout.strip().splitlines()[-1])
            steps[py] += out["step_s"]
            cpu[py] += out["cpu_s"]
            loads.append(os.getloadavg()[0])
    med = {p: statistics.median(steps[p]) for p in pythons}
    med_cpu = {p: statistics.median(cpu[p]) for p in pythons}
    base, base_cpu = med[pythons[0]], med_cpu[pythons[0]]
    print(f"{conf['space']} setting (C={conf['channels']}, {conf['layers']} cells, batch {conf['batch']}, "
          f"{conf['size']}x{conf['size']}x{conf['in_channels']}), {conf['threads']} thread(s), "
          f"{args.rounds} rounds x {args.steps} steps; load average {min(loads):.2f}-{max(loads):.2f}",
          file=sys.stderr)
    for p in pythons:
        print(f"  {med[p]:.3f} s/step (min {min(steps[p]):.3f}), ratio to the first {med[p] / base:.3f}; "
              f"CPU {med_cpu[p]:.3f} s/step, ratio {med_cpu[p] / base_cpu:.3f}  {p}", file=sys.stderr)
    return {"config": conf, "step_s": med, "cpu_s": med_cpu, "all_step_s": steps, "all_cpu_s": cpu,
            "ratios": {p: med[p] / base for p in pythons}, "cpu_ratios": {p: med_cpu[p] / base_cpu for p in pythons},
            "load_average": [min(loads), max(loads)]}


def bench_epoch(args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    from xnas.nas.search.loop import run_search

    layers = 15 if args.space == "nb201" else 8
    if args.tiny:
        n, B, C, layers, size = 256, 32, 4, (3 if args.space == "nb201" else 5), 16
    else:
        n, B, C, size = 25_000, 96, 16, 32
    conf = {"space": args.space, "batch": B, "channels": C, "layers": layers, "device": args.device,
            "channels_last": args.channels_last, "compile": args.compile or None}
    info = _info(size, 3, 10, 2 * n)
    cfg = _config(conf, dataset="synthetic", out_dir=tempfile.mkdtemp(prefix="bench-epoch-"), epochs=1,
                  workers=args.workers)
    t0 = time.perf_counter()
    res = run_search(cfg, datasets=(_synthetic(n, size, 3, 10, 1), _synthetic(n, size, 3, 10, 2), info))
    wall = time.perf_counter() - t0
    epoch_s = res.log[-1]["seconds"]
    device = str(torch.cuda.get_device_name(0)) if cfg.device != "cpu" and torch.cuda.is_available() else "cpu"
    out = {"images_per_half": n, "batch": B, "channels": C, "layers": layers, "size": size, "device": device,
           "space": args.space, "compile": bool(args.compile), "epoch_seconds": epoch_s, "wall_seconds": wall}
    print(f"one search epoch ({args.space}, {n}/{n} images, batch {B}, C={C}, {layers} cells, {size}x{size}) "
          f"on {device}: {epoch_s:.1f} s", file=sys.stderr)
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--setting", choices=sorted(SETTINGS), default="darts", help="step mode's setting [darts]")
    p.add_argument("--device", default="cpu", help="cpu (step benchmark) or cuda (epoch benchmark)")
    p.add_argument("--epoch", action="store_true", help="time a whole search epoch instead of single steps")
    p.add_argument("--space", choices=sorted(SETTINGS), default="darts", help="the epoch mode's space [darts]")
    p.add_argument("--tiny", action="store_true", help="a tiny epoch (for CPU)")
    p.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), help=f"from {', '.join(VARIANTS)}")
    p.add_argument("--steps", type=int, default=3, help="measured steps per variant (per round with --compare)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3, help="--compare: processes per interpreter")
    p.add_argument("--compare", nargs="+", metavar="PYTHON", help="time xnas under these interpreters")
    for name in ("batch", "channels", "layers", "size"):
        p.add_argument(f"--{name}", type=int, default=None, help="override the setting's value")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1: robust timings on a shared machine)")
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="the layout (default: the checkout's own default)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None, help="torch.compile the supernet")
    p.add_argument("--no-memory", dest="memory", action="store_false", help="skip the per-variant memory processes")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true", help="print the results as one JSON object on stdout")
    return p


def main(argv=None) -> dict:
    args = _parser().parse_args(argv)
    if args.worker:
        result = worker(json.loads(args.worker), args.warmup, args.steps)
        print(json.dumps(result))
        return result
    conf = dict(SETTINGS[args.setting], threads=args.threads, device=args.device, steps=args.steps,
                warmup=args.warmup, channels_last=args.channels_last, compile=args.compile)
    conf.update({k: getattr(args, k) for k in ("batch", "channels", "layers", "size") if getattr(args, k)})
    args.variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        print(f"bench_search: unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)}", file=sys.stderr)
        sys.exit(2)
    try:
        if args.compare:
            result = compare(args, conf)
        elif args.device.startswith("cuda") or args.epoch:
            result = bench_epoch(args)
        else:
            result = bench_steps(args, conf)
    except BenchError as exc:
        print(f"bench_search: {exc}", file=sys.stderr)
        sys.exit(1)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return result


if __name__ == "__main__":
    main()
