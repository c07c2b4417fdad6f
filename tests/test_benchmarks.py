"""Every script in benchmarks/ runs in its smallest mode and prints its ratios; its figures are not asserted.

A new benchmark must add its smallest mode here (the first test fails until it does).
"""

from __future__ import annotations

import importlib.util
import multiprocessing as mp
import os
import pathlib
import subprocess
import sys

import pytest

BENCHMARKS = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"

# script: (arguments of its smallest mode, what its output must contain)
SMALLEST = {
    "bench_pea.py": (["--smoke"], ["ratio kernel/NumPy", "speed-up", "hedge-anytime"]),
    "bench_search.py": (["--batch", "4", "--channels", "2", "--layers", "3", "--size", "8", "--steps", "1",
                         "--warmup", "0"],
                        ["xnas_vs_darts", "wiped50_vs_none", "wiped75_vs_none", "memory75_vs_none"]),
    "bench_study.py": (["--smoke"], ["speed-up", "same test errors: True"]),
    "bench_train.py": (["--channels", "4", "--layers", "3", "--batch", "4", "--image-size", "8", "--steps", "1",
                        "--warmup", "0", "--repeats", "1", "--threads", "1"], ["ratio vs fp32-eager"]),
    "gpu_check.py": (["--dry-run"], ["| search darts, xnas, eager |", "| train XNAS-Small", "s/step"]),
}


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _env() -> dict:
    return dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")


def test_every_benchmark_has_a_smallest_mode() -> None:
    assert {p.name for p in BENCHMARKS.glob("*.py")} == set(SMALLEST)


@pytest.mark.parametrize("script", sorted(SMALLEST))
def test_benchmark_runs_in_its_smallest_mode(script: str) -> None:
    args, expected = SMALLEST[script]
    proc = subprocess.run([sys.executable, str(BENCHMARKS / script), *args], capture_output=True, text=True,
                          timeout=420, env=_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    for text in expected:
        assert text in proc.stdout + proc.stderr, (text, proc.stdout[-1000:], proc.stderr[-1000:])


def test_bench_train_reports_its_ratios(capsys) -> None:
    report = _load("bench_train").main(["--channels", "4", "--layers", "3", "--batch", "4", "--image-size", "8",
                                        "--steps", "1", "--warmup", "0", "--repeats", "1", "--threads", "1", "--json"])
    assert [r["variant"] for r in report["results"]] == ["fp32-eager", "fp32-channels_last", "fp32-eval"]
    assert report["results"][0]["ratio_vs_fp32_eager"] == 1.0
    assert all(r["images_per_s"] > 0 for r in report["results"])
    assert report["darts_seconds_per_epoch_1080ti"] == pytest.approx(216.0)
    assert '"results"' in capsys.readouterr().out


def test_a_dead_child_is_an_error_not_a_hang() -> None:
    bench = _load("bench_search")
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=os._exit, args=(3,))
    proc.start()
    with pytest.raises(bench.BenchError, match="died .exit code 3"):
        bench.child_result(proc, queue, "a child", timeout=120)


def test_a_failed_compare_worker_is_one_line_and_exit_1() -> None:
    false = "/bin/false" if os.path.exists("/bin/false") else pytest.skip("no /bin/false")
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "bench_search.py"), "--compare", false,
                           "--rounds", "1", "--steps", "1"], capture_output=True, text=True, timeout=120, env=_env())
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"bench_search: {false}: the worker failed (exit code 1): no output"]


def test_gpu_check_without_cuda_is_one_line_and_exit_2() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "gpu_check.py")], capture_output=True, text=True,
                          timeout=120, env=_env())
    assert proc.returncode == 2
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1 and "CUDA" in proc.stderr


def test_gpu_check_row_child_prints_its_json_line() -> None:
    # the child-process path of a GPU run, at the dry run's tiny size on the CPU
    spec = '{"kind": "search", "space": "nb201", "variant": "xnas", "dry": true}'
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "gpu_check.py"), "--row", spec], capture_output=True,
                          text=True, timeout=300, env=_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = __import__("json").loads(proc.stdout.strip().splitlines()[-1])
    assert row["step_s"] > 0 and row["epoch_s"] == pytest.approx(row["step_s"] * 260)


def test_bench_train_unknown_genotype_is_one_line_and_exit_2() -> None:
    pytest.importorskip("torch")
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "bench_train.py"), "--genotype", "nosuch"],
                          capture_output=True, text=True, timeout=120, env=_env())
    assert proc.returncode == 2
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1 and "nosuch" in proc.stderr
