"""The training benchmark runs (tiny configuration); its figures are not asserted, only its shape."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest


def test_bench_train_runs_on_cpu(capsys) -> None:
    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_train.py"
    spec = importlib.util.spec_from_file_location("bench_train", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    report = bench.main(["--channels", "4", "--layers", "3", "--batch", "4", "--image-size", "8", "--steps", "1",
                         "--warmup", "0", "--repeats", "1", "--threads", "1", "--json"])
    names = [r["variant"] for r in report["results"]]
    assert names == ["fp32-eager", "fp32-channels_last", "fp32-eval"]
    assert report["results"][0]["ratio_vs_fp32_eager"] == 1.0
    assert all(r["images_per_s"] > 0 for r in report["results"])
    assert report["darts_seconds_per_epoch_1080ti"] == pytest.approx(216.0)
    assert '"results"' in capsys.readouterr().out
