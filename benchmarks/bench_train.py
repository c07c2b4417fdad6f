"""Training throughput of evaluation networks, with a baseline measured in the same run.

Every variant runs the training step of ``xnas.nas.train.loop`` on synthetic images
(forward with the auxiliary head and drop-path, label-smoothed loss, backward,
gradient clipping, Nesterov SGD step) and reports images per second:

``fp32-eager``
    the baseline: fp32, contiguous (NCHW) tensors, eager mode.
``bf16-channels_last``
    what ``xnas-nas train`` does on CUDA: bf16 autocast and channels_last.
``fp32-channels_last``
    (CPU default) fp32 with channels_last tensors, to see the layout alone.
``fp32-eval``
    (CPU default) the forward pass alone without gradients, for scale.

CUDA runs ``fp32-eager`` and ``bf16-channels_last`` by default; CPU runs
``fp32-eager``, ``fp32-channels_last`` and ``fp32-eval`` (bf16 on CPUs without
bf16 units is very slow; ask for it with ``--variants``).

The ratio printed for each variant is its images/s divided by the baseline's
(> 1 means faster than fp32 eager). From the training throughput the script
derives the seconds one CIFAR-10 epoch (50,000 images) takes and compares it
with DARTS's published cost: 600 epochs in 1.5 days on a GTX 1080Ti, i.e.
216 s per epoch.

Examples
--------
CPU, small network (the defaults)::

    python benchmarks/bench_train.py

GPU, XNAS-Small (C = 36, 20 cells) at batch 96::

    python benchmarks/bench_train.py --device cuda --channels 36 --layers 20 --batch 96
"""

from __future__ import annotations

import argparse
import sys
import json
import platform
import time

import torch
from torch import nn

from xnas.nas.spaces.darts.genotypes import GenotypeError, resolve_genotype
from xnas.nas.spaces.darts.network import build_network
from xnas.nas.spaces.measure import count_parameters_M

DARTS_SECONDS_PER_EPOCH_1080TI = 1.5 * 24 * 3600 / 600  # 216 s
CIFAR10_TRAIN_IMAGES = 50_000
VARIANTS = ("fp32-eager", "fp32-channels_last", "bf16-channels_last", "bf16-eager", "fp32-eval")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(args, device: torch.device, variant: str) -> dict:
    """Images per second of one variant (fresh network, same seed)."""
    torch.manual_seed(0)
    amp = variant.startswith("bf16")
    channels_last = variant.endswith("channels_last")
    training = variant != "fp32-eval"
    model = build_network(args.genotype_value, args.channels, args.layers, 10,
                          image_size=args.image_size, auxiliary=True).to(device)
    model.drop_path_prob = 0.2
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.9, nesterov=True, weight_decay=3e-4)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.1)
    g = torch.Generator(device="cpu").manual_seed(1)
    x = torch.randn(args.batch, 3, args.image_size, args.image_size, generator=g).to(device)
    y = torch.randint(0, 10, (args.batch,), generator=g).to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)

    def step() -> None:
        if training:
            model.train()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                logits, aux = model(x)
                loss = criterion(logits.float(), y) + 0.4 * criterion(aux.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
        else:
            model.eval()
            with torch.no_grad():
                model(x)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(args.warmup):
        step()
    _sync(device)
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        _sync(device)
        times.append(time.perf_counter() - start)
    best = min(times)  # the least-disturbed repeat (the machine may be shared)
    result = {
        "variant": variant,
        "images_per_s": args.batch * args.steps / best,
        "ms_per_step": 1000 * best / args.steps,
    }
    if device.type == "cuda":
        result["peak_memory_MiB"] = torch.cuda.max_memory_allocated(device) / 2**20
    return result


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--genotype", default="XNAS")
    parser.add_argument("--channels", type=int, default=None, help="default 8 on CPU, 36 on CUDA")
    parser.add_argument("--layers", type=int, default=None, help="default 5 on CPU, 20 on CUDA")
    parser.add_argument("--batch", type=int, default=None, help="default 32 on CPU, 96 on CUDA")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=None, help="timed steps per repeat (default 5 CPU, 50 CUDA)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 2 CPU, 15 CUDA)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--variants", default=None,
                        help=f"comma-separated, from {', '.join(VARIANTS)} (fp32-eager always runs as the baseline)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:  # checked before any measuring: a bad name is one line (argparse's exit 2), never a traceback
        args.genotype_value = resolve_genotype(args.genotype)
    except GenotypeError as exc:
        print(f"bench_train.py: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    if cuda and not torch.cuda.is_available():
        parser.error("CUDA is not available")
    args.channels = args.channels or (36 if cuda else 8)
    args.layers = args.layers or (20 if cuda else 5)
    args.batch = args.batch or (96 if cuda else 32)
    args.steps = args.steps or (50 if cuda else 5)
    args.warmup = args.warmup if args.warmup is not None else (15 if cuda else 2)
    if args.threads:
        torch.set_num_threads(args.threads)
    if cuda:
        torch.backends.cudnn.benchmark = True

    if args.variants:
        variants = ["fp32-eager"] + [v for v in args.variants.split(",") if v and v != "fp32-eager"]
        unknown = [v for v in variants if v not in VARIANTS]
        if unknown:
            parser.error(f"unknown variants {unknown}; choose from {', '.join(VARIANTS)}")
    else:
        variants = ["fp32-eager", "bf16-channels_last"] if cuda else ["fp32-eager", "fp32-channels_last", "fp32-eval"]
    results = [measure(args, device, v) for v in variants]
    baseline = results[0]["images_per_s"]
    for r in results:
        r["ratio_vs_fp32_eager"] = r["images_per_s"] / baseline
        if r["variant"] != "fp32-eval":
            r["seconds_per_cifar10_epoch"] = CIFAR10_TRAIN_IMAGES / r["images_per_s"]
            r["speedup_vs_darts_1080ti"] = DARTS_SECONDS_PER_EPOCH_1080TI / r["seconds_per_cifar10_epoch"]
    model = build_network(args.genotype_value, args.channels, args.layers, 10, image_size=args.image_size)
    report = {
        "device": torch.cuda.get_device_name(device) if cuda else f"cpu ({platform.processor() or platform.machine()}, "
                                                                 f"{torch.get_num_threads()} threads)",
        "torch": torch.__version__,
        "genotype": args.genotype,
        "channels": args.channels,
        "layers": args.layers,
        "batch": args.batch,
        "image_size": args.image_size,
        "params_M": count_parameters_M(model),
        "darts_seconds_per_epoch_1080ti": DARTS_SECONDS_PER_EPOCH_1080TI,
        "results": results,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{report['device']}, torch {report['torch']}: {args.genotype} C={args.channels} "
              f"{args.layers} cells ({report['params_M']:.2f} M params), batch {args.batch}, "
              f"{args.image_size}x{args.image_size}")
        for r in results:
            line = (f"  {r['variant']:<20} {r['images_per_s']:9.1f} img/s  {r['ms_per_step']:8.1f} ms/step  "
                    f"ratio vs fp32-eager {r['ratio_vs_fp32_eager']:.2f}")
            if "seconds_per_cifar10_epoch" in r:
                line += (f"  CIFAR-10 epoch {r['seconds_per_cifar10_epoch']:.0f} s "
                         f"({r['speedup_vs_darts_1080ti']:.2f}x DARTS's 216 s on a 1080Ti)")
            if "peak_memory_MiB" in r:
                line += f"  peak {r['peak_memory_MiB']:.0f} MiB"
            print(line)
    return report


if __name__ == "__main__":
    main()
