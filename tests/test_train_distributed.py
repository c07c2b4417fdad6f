"""Distributed helpers: no-ops in one process, real gloo reductions in two."""

from __future__ import annotations

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


def _worker(rank: int, world: int, port: int, queue) -> None:
    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )
    torch.set_num_threads(1)
    assert D.init_from_env(device="cpu") is True
    t = torch.tensor([float(rank + 1)])
    D.all_reduce_sum_(t)
    b = torch.tensor([float(rank * 10)])
    D.broadcast_(b, src=1)
    D.barrier()
    queue.put((D.rank(), D.world_size(), D.is_main(), t.item(), b.item()))
    D.cleanup()


@pytest.mark.slow
def test_two_process_gloo() -> None:
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    mp.start_processes(_worker, args=(2, free_port(), queue), nprocs=2, join=True, start_method="spawn")
    results = sorted(queue.get() for _ in range(2))
    assert results == [(0, 2, True, 3.0, 10.0), (1, 2, False, 3.0, 10.0)]
