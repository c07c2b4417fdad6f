"""Distributed helpers: no-ops in one process, real gloo reductions in two."""

from __future__ import annotations

import hashlib
import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp

from xnas.nas import distributed as D


def test_single_process_is_noop(monkeypatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert D.init_from_env() is False
    assert (D.world_size(), D.rank(), D.is_main()) == (1, 0, True)
    t = torch.tensor([1.0, 2.0])
    assert D.all_reduce_sum_(t) is t and t.tolist() == [1.0, 2.0]
    D.barrier()
    D.cleanup()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str, queue) -> None:
    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    from xnas.nas.spaces.darts.genotypes import GENOTYPES
    from xnas.nas.train.recipes import get_recipe, override
    from xnas.nas.train.loop import TrainConfig, train

    assert D.init_from_env(device="cpu") is True
    t = torch.tensor([float(rank + 1)])
    D.all_reduce_sum_(t)
    b = torch.tensor([float(rank * 10)])
    D.broadcast_(b, src=1)
    recipe = override(get_recipe("digits"), epochs=2, batch_size=16, channels=4, layers=3)
    config = TrainConfig("digits", GENOTYPES["XNAS"], recipe, out, seed=3, limit=64, max_steps=2,
                         device="cpu", progress=False)
    weights = {}

    def keep(model):
        weights["flat"] = torch.cat([p.detach().flatten() for p in model.parameters()])

    results = train(config, on_finish=keep)
    # A digest, not the weights: the queue's pipe must not fill up before the parent reads it.
    digest = hashlib.sha256(weights["flat"].numpy().tobytes()).hexdigest()
    queue.put((D.rank(), D.world_size(), D.is_main(), t.item(), b.item(), results, digest))
    D.cleanup()


@pytest.mark.slow
def test_two_process_ddp_training(tmp_path) -> None:
    """torchrun-style 2-process gloo training on CPU: identical weights on both ranks, rank 0 writes."""
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    out = str(tmp_path / "ddp")
    mp.start_processes(_worker, args=(2, free_port(), out, queue), nprocs=2, join=True, start_method="spawn")
    results = sorted((queue.get() for _ in range(2)), key=lambda r: r[0])
    assert [r[:5] for r in results] == [(0, 2, True, 3.0, 10.0), (1, 2, False, 3.0, 10.0)]
    assert results[0][6] == results[1][6]  # DDP kept the replicas identical
    assert results[0][5]["world_size"] == 2
    assert results[0][5]["test_top1_err"] == results[1][5]["test_top1_err"]  # all-reduced evaluation
    rows = [json.loads(line) for line in (tmp_path / "ddp" / "log.jsonl").read_text().splitlines()]
    assert [r["train_images"] for r in rows] == [32, 32]  # 2 steps x global batch 16
    assert sorted(os.listdir(out)) == ["checkpoint.pt", "config.json", "log.jsonl", "results.json"]
