"""The prepared GPU check: one short run (under 8 minutes) that fills in the README's GPU figures.

Run it once on a machine with CUDA::

    python benchmarks/gpu_check.py            # prints one table (and --json: one object)

Each row runs in its own child process with a time limit, so a crash or a
slow compile costs that row only (the table says "failed" or "timed out"):

* search steps at the paper's CIFAR-10 settings on synthetic 32x32 images,
  batch 96: the DARTS space (C = 16, 8 cells) eager, with half and three
  quarters of the experts wiped, with ``darts`` (Adam) as the architecture
  optimizer, and compiled (``torch.compile``); the NAS-Bench-201 space
  (C = 16, 5 cells per stage) eager.  Each gives seconds per step and the
  seconds per search epoch of the paper's CIFAR-10 search extrapolated from
  them (25,000 training images a half: 260 steps);
* ``bench_train.py --device cuda``: XNAS-Small (C = 36, 20 cells, batch 96)
  images per second, bf16 + channels_last against fp32 eager, and the
  seconds per CIFAR-10 training epoch;
* a 2-process ``torchrun`` search (``xnas-nas search digits``, one epoch), when
  more than one GPU is visible.

Without CUDA it prints one line and exits with status 2.  ``--dry-run`` runs
every row on the CPU at a tiny size, in this process (the compiled and
torchrun rows are skipped: the CPU inductor compile alone takes minutes), to
check the script itself; its numbers mean nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS_PER_CIFAR10_EPOCH = 25_000 // 96  # the search's train half of CIFAR-10 at batch 96
PAPER = {"darts": dict(space="darts", batch=96, channels=16, layers=8, size=32, in_channels=3),
         "nb201": dict(space="nb201", batch=96, channels=16, layers=15, size=32, in_channels=3)}
TINY = {"darts": dict(space="darts", batch=8, channels=2, layers=3, size=8, in_channels=3),
        "nb201": dict(space="nb201", batch=8, channels=2, layers=3, size=8, in_channels=3)}
# (row name, space, variant, compile, time limit in seconds)
SEARCH_ROWS = (
    ("search darts, xnas, eager", "darts", "xnas", False, 60),
    ("search darts, xnas, 50% wiped", "darts", "xnas-50", False, 40),
    ("search darts, xnas, 75% wiped", "darts", "xnas-75", False, 40),
    ("search darts, darts (Adam), eager", "darts", "darts", False, 40),
    ("search nb201, xnas, eager", "nb201", "xnas", False, 40),
    ("search darts, xnas, compiled", "darts", "xnas-compile", True, 200),
)


def _bench(name: str):
    sys.path.insert(0, HERE)
    import importlib

    return importlib.import_module(name)


def row_search(space: str, variant: str, dry: bool) -> dict:
    """Seconds per step of one harness of bench_search.py (warm-up steps, compilation included, apart)."""
    import torch

    bench = _bench("bench_search")
    conf = dict((TINY if dry else PAPER)[space], device="cpu" if dry else "cuda", threads=1)
    warmup, steps = (1, 1) if dry else ((3, 10) if variant != "xnas-compile" else (4, 10))
    t0 = time.perf_counter()
    search, it = bench._build_variant(variant, conf)
    warm = [bench._timed_step(search, it) for _ in range(warmup)]
    times = sorted(bench._timed_step(search, it) for _ in range(steps))
    step_s = times[len(times) // 2]
    out = {"step_s": step_s, "epoch_s": step_s * STEPS_PER_CIFAR10_EPOCH, "warmup_s": sum(warm),
           "build_s": time.perf_counter() - t0 - sum(warm) - sum(times)}
    if torch.cuda.is_available() and not dry:
        out["peak_MiB"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def row_train(dry: bool) -> dict:
    bench = _bench("bench_train")
    if dry:
        argv = ["--channels", "2", "--layers", "3", "--batch", "4", "--image-size", "8", "--steps", "1",
                "--warmup", "0", "--repeats", "1", "--threads", "1", "--variants", "fp32-channels_last"]
    else:
        argv = ["--device", "cuda", "--channels", "36", "--layers", "20", "--batch", "96", "--steps", "30",
                "--warmup", "10", "--repeats", "2"]
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # stdout carries the table (and a child's JSON line) only
        report = bench.main(argv)
    fast = report["results"][-1]
    return {"variant": fast["variant"], "images_per_s": fast["images_per_s"],
            "ratio": fast["ratio_vs_fp32_eager"], "epoch_s": fast["seconds_per_cifar10_epoch"],
            "device": report["device"]}


def row_torchrun(gpus: int) -> dict:
    """One epoch of a digits search on 1 process and on 2 (torchrun), wall seconds each."""
    exe = shutil.which("xnas-nas") or os.path.join(os.path.dirname(sys.executable), "xnas-nas")
    walls = {}
    for n in (1, 2):
        out = tempfile.mkdtemp(prefix=f"gpu-check-ddp{n}-")
        cmd = [exe, "search", "digits", "--epochs", "1", "--device", "cuda", "--no-plots", "--no-progress",
               "--out", out]
        if n == 2:
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"] + cmd
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=150)
        walls[n] = time.perf_counter() - t0
        if proc.returncode:
            raise RuntimeError(f"{n}-process search failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}")
    return {"one_process_s": walls[1], "two_processes_s": walls[2], "gpus": gpus}


def _child(spec: dict) -> dict:
    kind = spec["kind"]
    if kind == "search":
        return row_search(spec["space"], spec["variant"], spec["dry"])
    if kind == "train":
        return row_train(spec["dry"])
    return row_torchrun(spec["gpus"])


def _run_row(spec: dict, limit: float) -> dict:
    """One row in a child process (in this one for --dry-run); failures and timeouts become the row's text."""
    if spec.get("dry"):
        try:
            return _child(spec)
        except Exception as exc:  # noqa: BLE001 - the row reports it, the table goes on
            return {"error": f"failed: {type(exc).__name__}: {exc}"[:120]}
    try:
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--row", json.dumps(spec)],
                              capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {limit:.0f} s"}
    if proc.returncode:
        return {"error": "failed: " + (proc.stderr.strip().splitlines() or ["no output"])[-1][:120]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cell(r: dict) -> tuple[str, str]:
    if "error" in r:
        return r["error"], "-"
    if "step_s" in r:
        extra = f", first steps {r['warmup_s']:.0f} s" if r.get("warmup_s", 0) > 5 else ""
        mem = f", peak {r['peak_MiB']:.0f} MiB" if "peak_MiB" in r else ""
        return f"{r['step_s']:.3f} s/step{extra}{mem}", f"{r['epoch_s']:.0f} s"
    if "images_per_s" in r:
        return f"{r['images_per_s']:.0f} img/s ({r['variant']}, {r['ratio']:.2f}x fp32 eager)", f"{r['epoch_s']:.0f} s"
    if "skipped" in r:
        return "skipped: " + r["skipped"], "-"
    return f"1 process {r['one_process_s']:.0f} s, 2 processes {r['two_processes_s']:.0f} s (digits, 1 epoch)", "-"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true", help="every row on the CPU at a tiny size (checks the script)")
    p.add_argument("--json", action="store_true", help="also print one JSON object")
    p.add_argument("--row", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.row:
        print(json.dumps(_child(json.loads(args.row))))
        return {}
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: CUDA is not available (no GPU visible); --dry-run checks the script on the CPU",
              file=sys.stderr)
        sys.exit(2)
    dry = args.dry_run
    gpus = 0 if dry else torch.cuda.device_count()
    device = "cpu (dry run)" if dry else torch.cuda.get_device_name(0)
    start = time.perf_counter()
    rows = {}
    for name, space, variant, compiled, limit in SEARCH_ROWS:
        if compiled and dry:
            rows[name] = {"skipped": "the CPU inductor compile takes minutes"}
            continue
        rows[name] = _run_row({"kind": "search", "space": space, "variant": variant, "dry": dry}, limit)
    rows["train XNAS-Small, bench_train.py"] = _run_row({"kind": "train", "dry": dry}, 120)
    if gpus > 1:
        rows["torchrun, 2 processes"] = _run_row({"kind": "torchrun", "gpus": gpus}, 320)
    else:
        rows["torchrun, 2 processes"] = {"skipped": f"{gpus} GPU(s) visible"}
    total = time.perf_counter() - start
    setting = "tiny sizes on the CPU" if dry else "CIFAR-10 search settings, synthetic data, batch 96"
    print(f"GPU check on {device}, torch {torch.__version__}, {setting}; {total:.0f} s in all")
    print(f"| what | measured | per CIFAR-10 search/training epoch (extrapolated) |")
    print("| --- | --- | --- |")
    for name, r in rows.items():
        measured, epoch = _cell(r)
        print(f"| {name} | {measured} | {epoch} |")
    result = {"device": device, "torch": torch.__version__, "dry_run": dry, "seconds": total, "rows": rows,
              "steps_per_cifar10_search_epoch": STEPS_PER_CIFAR10_EPOCH}
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return result


if __name__ == "__main__":
    main()
