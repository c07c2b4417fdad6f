"""Two-process search on CPU (gloo): identical architecture on both ranks, equal to one process.

One process with ``micro_batches=2`` splits each global batch into the same two
strided halves the two ranks get, so batch norm sees the same statistics and the
two runs must agree up to the order of floating-point sums.
"""

from __future__ import annotations

import os
import socket

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

import torch.distributed as tdist  # noqa: E402

from xnas.nas.search.loop import SearchConfig, run_search  # noqa: E402

pytestmark = pytest.mark.skipif(not tdist.is_available(), reason="torch.distributed unavailable")


def _cfg(out_dir: str, micro: int = 1) -> SearchConfig:
    return SearchConfig(
        dataset="digits", out_dir=out_dir, epochs=2, batch_size=16, limit=96, channels=2, layers=3, nodes=2,
        augment=False, progress=False, plots=False, zeta=0.05, eta_normal=2e-2, eta_reduce=2e-2,
        micro_batches=micro, device="cpu",
    )


def _worker(rank: int, world: int, port: int, out_dir: str) -> None:
    os.environ.update(
        {"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
         "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    )
    torch.set_num_threads(1)
    # stop half-way: before the horizon's final wipeout the weights are still informative
    res = run_search(_cfg(os.path.join(out_dir, "ddp")), stop_after=1)
    torch.save(
        {"probs": res.probabilities, "alive": res.alive, "log": res.log},
        os.path.join(out_dir, f"rank{rank}.pt"),
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_agree_with_each_other_and_with_one_process(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    r1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for k in ("normal", "reduce"):
        assert torch.equal(r0["probs"][k], r1["probs"][k])  # bit-identical updates on both ranks
        assert torch.equal(r0["alive"][k], r1["alive"][k])
    torch.set_num_threads(1)
    single = run_search(_cfg(str(tmp_path / "one"), micro=2), stop_after=1)
    u = single.probabilities["normal"]
    assert not torch.allclose(u, torch.full_like(u, 1 / 8), atol=1e-3)
    for k in ("normal", "reduce"):
        assert torch.equal(single.alive[k], r0["alive"][k])
        torch.testing.assert_close(single.probabilities[k], r0["probs"][k], rtol=1e-4, atol=1e-6)
    assert single.log[-1]["valid_loss"] == pytest.approx(r0["log"][-1]["valid_loss"], rel=1e-4)
    assert (tmp_path / "ddp" / "genotype.json").is_file()
