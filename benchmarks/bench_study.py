"""Study scaling benchmark: ``--jobs 2`` against ``--jobs 1`` on the quick study.

Runs the same study twice in fresh temporary folders, first with one process (units
inline, the baseline), then with two spawned processes (one torch thread each), and
prints both wall times and their ratio (the target is >= 1.7x on 2 idle cores). It also
checks that both runs trained the same cells to the same test errors. The two runs are
sequential, so outside load hits them unevenly: run it on an idle machine.

Usage::

    python benchmarks/bench_study.py            # the quick preset, all darts-space methods
    python benchmarks/bench_study.py --smoke    # a tiny study (seconds), to check the harness
    python benchmarks/bench_study.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

SMOKE = dict(seeds=1, trainings=2, random_cells=2, ws_samples=2, search_epochs=1, search_batch=16, search_limit=64,
             search_channels=2, search_layers=3, train_epochs=1, train_batch=32, train_limit=96, train_channels=2,
             train_layers=3)


def _errors(summary: dict) -> dict:
    return {name: [c["errors"] for c in row["cells"]] for name, row in summary["methods"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--smoke", action="store_true", help="a tiny study instead of the quick preset")
    parser.add_argument("--jobs", type=int, default=2, help="processes of the parallel run [2]")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from xnas.nas.study.config import make_config
    from xnas.nas.study.runner import run_study

    cfg = make_config(args.dataset, "darts", preset=None if args.smoke else "quick", **(SMOKE if args.smoke else {}))
    seconds, summaries = {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-study-") as tmp:
        for jobs in (1, args.jobs):
            start = time.perf_counter()
            summaries[jobs] = run_study(cfg, os.path.join(tmp, f"jobs{jobs}"), jobs=jobs, progress=False)
            seconds[jobs] = time.perf_counter() - start
    same = _errors(summaries[1]) == _errors(summaries[args.jobs])
    result = {
        "study": "smoke" if args.smoke else "quick",
        "units": summaries[1]["units_planned"],
        "seconds_jobs1": seconds[1],
        f"seconds_jobs{args.jobs}": seconds[args.jobs],
        "speedup": seconds[1] / seconds[args.jobs],
        "same_errors": same,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['study']} study, {result['units']} units: jobs 1 {seconds[1]:.1f} s, "
              f"jobs {args.jobs} {seconds[args.jobs]:.1f} s, speed-up {result['speedup']:.2f}x "
              f"(target >= 1.7x on 2 idle cores); same test errors: {same}; load {result['load_average'][0]:.1f}")


if __name__ == "__main__":
    main()
