"""The search loop on CPU: outputs, resume equals an uninterrupted run, NaN stop, DDP."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from xnas.nas.checkpoint import CheckpointError, load_checkpoint  # noqa: E402
from xnas.nas.spaces.darts.genotypes import Genotype, parse_darts  # noqa: E402
from search_helpers import tiny  # noqa: E402
from xnas.nas.search.loop import SearchError, mean_normalized_entropy, run_search  # noqa: E402

torch.set_num_threads(1)


def _final_state(out_dir):
    return load_checkpoint(os.path.join(out_dir, "checkpoint.pt"))


def test_search_writes_its_outputs_and_wipes(tmp_path):
    out = tmp_path / "run"
    res = run_search(tiny(out, plots=True, record_rewards=True, epochs=2))
    for name in ("genotype.json", "genotype.txt", "config.json", "log.jsonl", "arch_weights.png", "cells.png",
                 "checkpoint.pt", "arch_history.npz"):
        assert (out / name).is_file(), name
    g = Genotype.from_json((out / "genotype.json").read_text())
    assert g == res.genotype
    assert parse_darts((out / "genotype.txt").read_text()) == g
    g.validate(steps=2)
    lines = [json.loads(s) for s in (out / "log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in lines] == [1, 2]
    for key in ("train_loss", "valid_loss", "train_acc", "valid_acc", "alive", "entropy", "genotype"):
        assert key in lines[0]
    assert 0.0 <= lines[-1]["entropy"] <= 1.0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["config"]["arch_optimizer"] == "xnas" and cfg["resolved"]["replications"] == {"normal": 1, "reduce": 2}
    # the horizon ends with the search, so only the leaders survive the last step
    assert lines[-1]["alive"] == {"normal": 5, "reduce": 5}
    assert lines[0]["network_params"] > lines[-1]["network_params"]
    # reward streams: one (T, N) file per edge, finite (replayable), T = steps
    steps = cfg["resolved"]["steps_per_epoch"] * 2
    r = np.load(out / "rewards" / "normal_edge00.npy")
    assert r.shape == (steps, 8) and np.isfinite(r).all()
    from xnas.pea.streams import check_rewards  # what xnas-sim regret --rewards accepts

    check_rewards(r)
    assert len([f for f in os.listdir(out / "rewards") if f.endswith(".npy")]) == 10


def test_resume_gives_the_same_result_as_an_uninterrupted_run(tmp_path):
    full = run_search(tiny(tmp_path / "full"))
    part = tmp_path / "part"
    first = run_search(tiny(part), stop_after=1)
    assert first.epochs_done == 1
    resumed = run_search(tiny(part), resume=True)
    assert resumed.genotype == full.genotype
    a, b = _final_state(tmp_path / "full"), _final_state(part)
    assert a["net"].keys() == b["net"].keys()
    for k in a["net"]:
        assert torch.equal(a["net"][k], b["net"][k]), k
    for kind in ("normal", "reduce"):
        assert torch.equal(a["arch"]["params"][kind], b["arch"]["params"][kind])
    assert json.loads(a["log_json"])[-1]["valid_loss"] == json.loads(b["log_json"])[-1]["valid_loss"]


def test_resume_rejects_a_different_search_and_a_corrupt_checkpoint(tmp_path):
    out = tmp_path / "r"
    run_search(tiny(out, epochs=1))
    with pytest.raises(CheckpointError, match="channels"):
        run_search(tiny(out, epochs=1, channels=4), resume=True)
    with pytest.raises(CheckpointError, match="zeta"):
        run_search(tiny(out, epochs=1, zeta=0.5), resume=True)
    (out / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="corrupt|cannot be loaded"):
        run_search(tiny(out, epochs=1), resume=True)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        run_search(tiny(tmp_path / "empty", epochs=1), resume=True)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    out = tmp_path / "nan"
    run_search(tiny(out, epochs=2), stop_after=1)
    good = (out / "checkpoint.pt").read_bytes()
    import xnas.nas.search.loop as search_mod

    real = search_mod.F.cross_entropy

    def poisoned(logits, target, **kw):
        return real(logits, target, **kw) * float("nan")

    monkeypatch.setattr(search_mod.F, "cross_entropy", poisoned)
    with pytest.raises(SearchError, match="last good checkpoint"):
        run_search(tiny(out, epochs=2), resume=True)
    assert (out / "checkpoint.pt").read_bytes() == good


@pytest.mark.parametrize("rule", ["darts", "gd"])
def test_baselines_run_in_the_same_harness(tmp_path, rule):
    res = run_search(tiny(tmp_path / rule, arch_optimizer=rule, epochs=1))
    # no wipeout for the baselines, weights move away from uniform
    assert all(bool(m.all()) for m in res.alive.values())
    assert not torch.allclose(res.probabilities["normal"], torch.full_like(res.probabilities["normal"], 1 / 8))


def test_invalid_settings_are_rejected(tmp_path):
    for kw, match in [
        (dict(epochs=0), "epochs"),
        (dict(zeta=2.0), "zeta"),
        (dict(layers=2), "3 cells"),
        (dict(arch_optimizer="adam"), "architecture optimizer"),
        (dict(primitives=("none", "conv_7x7")), "unknown operation"),
        (dict(eta_normal=-1.0), "eta_normal"),
        (dict(batch_size=15, micro_batches=2), "divisible"),
    ]:
        with pytest.raises(ValueError, match=match):
            run_search(tiny(tmp_path / "bad", **kw))


def test_mean_normalized_entropy():
    n = 8
    uniform = {"normal": torch.full((3, n), 1.0 / n)}
    onehot = {"normal": torch.eye(n)[:3]}
    assert mean_normalized_entropy(uniform) == pytest.approx(1.0)
    assert mean_normalized_entropy(onehot) == pytest.approx(0.0)
    assert mean_normalized_entropy({"a": torch.tensor([[0.5, 0.5, 0, 0]])}) == pytest.approx(math.log(2) / math.log(4))



def test_search_result_summary_is_the_json_object_of_the_command():
    from xnas.nas.spaces.darts.genotypes import GENOTYPES
    from xnas.nas.spaces.nb201.genotype import parse_arch_str
    from xnas.nas.search.loop import SearchResult

    g = GENOTYPES["XNAS"]
    log = [{"valid_acc": 0.5, "seconds": 1.5},
           {"valid_acc": 0.75, "valid_loss": 0.6, "entropy": 0.2, "alive": {"normal": 3, "reduce": 4}, "seconds": 2.0}]
    assert SearchResult(g, 2, log, "runs/x").summary("darts") == {
        "space": "darts", "genotype": g.to_dict(), "text": g.to_darts(), "darts": g.to_darts(), "out_dir": "runs/x",
        "epochs": 2, "valid_acc": 0.75, "valid_loss": 0.6, "entropy": 0.2, "alive": {"normal": 3, "reduce": 4},
        "seconds": 3.5, "table": None, "selection": None,
    }
    arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
    d = SearchResult(parse_arch_str(arch), 0, [], "runs/y").summary("nb201")
    assert d["text"] == arch and d["darts"] is None and d["genotype"] == parse_arch_str(arch).to_dict()
    assert d["valid_acc"] is None and d["alive"] is None and d["seconds"] == 0
    assert d["table"]["index"] == 1 and d["table"]["cifar10_test"] == 93.66  # the benchmark's row of the cell


def _drive(updater, costs, steps):
    """``steps`` architecture steps on the linear loss sum(u * cost) (a fixed validation loss)."""
    for _ in range(steps):
        u = updater.mixing()
        loss = sum((u[k].double() * costs[k]).sum() for k in updater.kinds)
        updater.backward(loss * updater.loss_scale(1))
        updater.step()
    return {k: updater.params[k].detach().clone() for k in updater.kinds}


def test_arch_weight_decay_reaches_the_darts_and_gd_updates():
    from xnas.nas.arch.optimizers import ArchSettings, build_arch_optimizer

    shape = (3, 8)
    gen = torch.Generator().manual_seed(1)
    costs = {k: torch.randn(shape, generator=gen, dtype=torch.float64) for k in ("normal", "reduce")}
    eta = {"normal": 0.5, "reduce": 0.5}

    def settings(wd, lr=0.05):
        return ArchSettings(shape=shape, eta=eta, horizon={"normal": 10.0, "reduce": 10.0},
                            rounds_per_step={"normal": 1.0, "reduce": 1.0}, lr=lr, weight_decay=wd, seed=3)

    a = _drive(build_arch_optimizer("darts", settings(0.0)), costs, 3)
    b = _drive(build_arch_optimizer("darts", settings(1e-1)), costs, 3)
    default = _drive(build_arch_optimizer("darts", settings(None)), costs, 3)
    assert build_arch_optimizer("darts", settings(None)).optimizer.param_groups[0]["weight_decay"] == 1e-3
    for k in costs:
        assert not torch.allclose(a[k], b[k], rtol=0, atol=1e-9), k
        assert not torch.equal(a[k], default[k])
    # with no loss gradient, Adam's coupled decay alone pulls the logits (about 1e-3) towards 0
    zero = {k: torch.zeros(shape, dtype=torch.float64) for k in costs}
    start = build_arch_optimizer("darts", settings(1e-1, lr=1e-4)).params["normal"].detach().abs().sum()
    assert _drive(build_arch_optimizer("darts", settings(1e-1, lr=1e-4)), zero, 2)["normal"].abs().sum() < start
    assert torch.equal(_drive(build_arch_optimizer("darts", settings(0.0)), zero, 2)["normal"],
                       build_arch_optimizer("darts", settings(0.0)).params["normal"].detach())

    # gd: p1 = -lr g1, p2 = p1 - lr (g2 + wd p1), g the gradient through the softmax
    gd0 = build_arch_optimizer("gd", settings(0.0))
    gd1 = build_arch_optimizer("gd", settings(0.2))
    p1 = _drive(gd0, costs, 1)
    assert torch.equal(p1["normal"], _drive(gd1, costs, 1)["normal"])  # logits start at 0: no decay yet
    u = torch.softmax(p1["normal"], -1)
    c = costs["normal"]
    g2 = u * (c - (u * c).sum(-1, keepdim=True))
    expected = p1["normal"] - 0.05 * (g2 + 0.2 * p1["normal"])
    assert torch.allclose(_drive(gd1, costs, 1)["normal"], expected, atol=1e-12)
    assert not torch.allclose(_drive(gd0, costs, 1)["normal"], expected, atol=1e-6)


def test_arch_weight_decay_in_the_search_config_and_resume(tmp_path):
    with pytest.raises(ValueError, match="xnas takes no architecture weight decay"):
        run_search(tiny(tmp_path / "x", arch_weight_decay=1e-3))
    with pytest.raises(ValueError, match="non-negative"):
        run_search(tiny(tmp_path / "x", arch_optimizer="darts", arch_weight_decay=-1e-3))
    tiny(tmp_path / "x", arch_weight_decay=0.0).validate()  # zero is xnas's own setting
    out = tmp_path / "d"
    run_search(tiny(out, arch_optimizer="darts", arch_weight_decay=0.0, epochs=1))
    assert json.loads((out / "config.json").read_text())["config"]["arch_weight_decay"] == 0.0
    with pytest.raises(CheckpointError, match="arch_weight_decay"):
        run_search(tiny(out, arch_optimizer="darts", arch_weight_decay=1e-1, epochs=1), resume=True)
