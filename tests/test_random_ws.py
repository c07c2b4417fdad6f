"""random-ws as an architecture optimizer of the one search loop: one sampled cell per weight step,
only its operations computed and trained, then the best of K sampled cells on the validation half."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from search_helpers import tiny  # noqa: E402
from xnas.nas.arch.base import ArchSettings  # noqa: E402
from xnas.nas.arch.optimizers import ARCH_OPTIMIZERS, build_arch_optimizer  # noqa: E402
from xnas.nas.search.loop import _Search, run_search  # noqa: E402
from xnas.nas.spaces.mixed_edge import MixedEdge, chosen_only  # noqa: E402
from xnas.nas.spaces.registry import SPACES, get_space  # noqa: E402

torch.set_num_threads(1)


def _space_net(name):
    space = get_space(name)
    torch.manual_seed(0)
    layers = 3
    return space, space.build_supernet(1, 10, 4, layers).eval()


def _one_hot(space, genotype):
    return {k: torch.as_tensor(w, dtype=torch.float32) for k, w in space.one_hot(genotype, space.primitives).items()}


@pytest.mark.parametrize("name", sorted(SPACES))
def test_chosen_only_forward_equals_the_one_hot_forward(name):
    space, net = _space_net(name)
    x = torch.randn(3, 1, 8, 8)
    rng = np.random.default_rng(3)
    for _ in range(4):
        w = _one_hot(space, space.sample_genotype(rng))
        full = net(x, w)
        with chosen_only(net):
            fast = net(x, w)
        assert torch.allclose(full, fast, atol=1e-6)
    edges = [m for m in net.modules() if isinstance(m, MixedEdge)]
    assert edges and not any(e.chosen_only for e in edges)  # the mode ends with the block


@pytest.mark.parametrize("name", sorted(SPACES))
def test_chosen_only_runs_only_the_chosen_operations(name):
    space, net = _space_net(name)
    genotype = space.sample_genotype(np.random.default_rng(5))
    w = _one_hot(space, genotype)
    calls = set()
    hooks = []
    for edge in (m for m in net.modules() if isinstance(m, MixedEdge)):
        for op_name, op in edge.ops.items():
            for module in op.modules():  # the shared-ReLU path calls an operation's parts, not the operation
                hooks.append(module.register_forward_hook(lambda mod, i, o, key=op_name: calls.add(key)))
    with chosen_only(net):
        net(torch.randn(2, 1, 8, 8), w)
    chosen = {op for ops in space.cell_ops(genotype).values() for op in ops}
    assert calls <= chosen | {"none"}
    calls.clear()
    net(torch.randn(2, 1, 8, 8), w)  # the full forward runs every operation but none
    assert calls == set(space.primitives) - {"none"}
    for h in hooks:
        h.remove()


def _settings(space, net, seed=4, samples=3):
    from xnas.nas.search.setup import _cell_sampler

    return ArchSettings(shape=net.arch_shape(), kinds=space.cell_types, seed=seed, samples=samples,
                        sample_cell=_cell_sampler(space, space.primitives))


def test_updater_samples_the_spaces_cells_in_seed_order_and_resumes_its_stream():
    space, net = _space_net("nb201")
    arch = build_arch_optimizer("random-ws", _settings(space, net))
    assert not arch.steps_on_validation and arch.one_hot and not arch.cell_from_weights
    rng = np.random.default_rng([4, 7])
    for _ in range(3):
        expected = _one_hot(space, space.sample_genotype(rng))
        got = arch.weight_mixing()
        assert all(torch.equal(got[k], expected[k]) for k in space.cell_types)
    buf = io.BytesIO()
    torch.save(arch.state_dict(), buf)
    buf.seek(0)
    again = build_arch_optimizer("random-ws", _settings(space, net))
    again.load_state_dict(torch.load(buf, weights_only=True))
    cands, more = arch.candidates(), again.candidates()
    assert len(cands) == 3 and [g for g, _ in cands] == [g for g, _ in more]
    assert [g for g, _ in cands] == [space.sample_genotype(rng) for _ in range(3)]
    probs = arch.probabilities()["normal"]
    assert torch.allclose(probs, torch.full_like(probs, 1 / probs.shape[1]))  # uniform: no preference
    with pytest.raises(RuntimeError, match="no architecture step"):
        arch.step()
    assert not {id(p) for p in net.parameters()} & {id(p) for p in arch.parameters()}
    assert ARCH_OPTIMIZERS["random-ws"].build is type(arch)


def _nb201_tiny(out, **kw):
    return tiny(out, space="nb201", arch_optimizer="random-ws", layers=3, nodes=None, primitives=None,
                eta_normal=None, eta_reduce=None, channels=4, ws_samples=3, **kw)


def test_a_weight_step_trains_only_the_sampled_cells_operations(tmp_path):
    cfg = _nb201_tiny(tmp_path / "run", limit=64, batch_size=32, weight_decay=3e-4).validate()
    search = _Search(cfg, resume=False)
    search.build()
    before = {n: p.detach().clone() for n, p in search.net.named_parameters()}
    probe = np.random.default_rng([cfg.seed, 7])  # the updater's stream: the cell the step will train
    genotype = search.space.sample_genotype(probe)
    search.train_epoch(0)
    assert search.steps_per_epoch == 1
    used = {op for ops in search.space.cell_ops(genotype).values() for op in ops}
    trained = set()
    for name, p in search.net.named_parameters():
        if ".ops." not in name:
            continue
        op = name.split(".ops.")[1].split(".")[0]
        if not torch.equal(before[name], p.detach()):
            assert op in used, name  # no gradient, no weight decay: an operation the cell did not choose
            trained.add(op)
    assert trained == used - {"none", "skip_connect", "avg_pool_3x3"}  # every chosen operation with weights


def _timeless(selection):
    return {k: v for k, v in selection.items() if k != "seconds"}


def test_random_ws_search_ranks_k_cells_and_resumes_exactly(tmp_path):
    whole = run_search(_nb201_tiny(tmp_path / "whole", plots=True))
    sel = whole.selection
    errs = sel["candidate_valid_err"]
    assert len(errs) == len(sel["candidates"]) == 3 and sel["chosen_valid_err"] == min(errs) == errs[sel["chosen"]]
    assert sel["candidates"][sel["chosen"]] == get_space("nb201").format_genotype(whole.genotype)
    assert sel["weight_steps"] == 2 * (96 // 2 // 16)
    assert json.loads((tmp_path / "whole" / "selection.json").read_text()) == sel
    assert not (tmp_path / "whole" / "arch_weights.png").exists()  # uniform weights pick nothing
    log = [json.loads(line) for line in (tmp_path / "whole" / "log.jsonl").read_text().splitlines()]
    assert all(e["valid_loss"] is None and "genotype" not in e and e["entropy"] == pytest.approx(1.0) for e in log)
    assert whole.summary("nb201")["selection"] == sel
    run_search(_nb201_tiny(tmp_path / "part"), stop_after=1)
    resumed = run_search(_nb201_tiny(tmp_path / "part"), resume=True)
    again = run_search(_nb201_tiny(tmp_path / "again"))
    for other in (resumed, again):
        assert other.genotype == whole.genotype and _timeless(other.selection) == _timeless(sel)


def test_the_resume_check_compares_k_resolved():
    from xnas.nas.search.config import RESUME_KEYS, WS_SAMPLES, SearchConfig

    assert "samples" in RESUME_KEYS and "ws_samples" not in RESUME_KEYS
    default = SearchConfig(arch_optimizer="random-ws")
    assert default.samples == SearchConfig(arch_optimizer="random-ws", ws_samples=WS_SAMPLES).samples
    assert default.samples != SearchConfig(arch_optimizer="random-ws", ws_samples=5).samples


def test_candidates_are_scored_on_the_same_images(tmp_path):
    """The validation half is augmented: every candidate (and a second pass) sees the same crops and flips."""
    from xnas.nas.search.select import best_of_candidates

    search = _Search(_nb201_tiny(tmp_path / "run").validate(), resume=False)
    search.build()

    class Augmented(torch.utils.data.Dataset):  # a random transform drawn from torch's generator
        def __init__(self, base):
            self.base = base

        def __len__(self):
            return len(self.base)

        def __getitem__(self, i):
            x, y = self.base[i]
            return x + torch.randn_like(x), y

    search.valid_loader = torch.utils.data.DataLoader(Augmented(search.valid_loader.dataset))
    space = search.space
    cell = space.sample_genotype(np.random.default_rng(1))
    pair = (cell, space.one_hot(cell, space.primitives))
    _, first = best_of_candidates(search, [pair, pair, pair])
    assert len(set(first["candidate_valid_loss"])) == 1  # one score: the same images each time


def test_a_tampered_sampler_state_is_a_one_line_checkpoint_error(tmp_path):
    from xnas.nas.checkpoint import CheckpointError, load_checkpoint

    out = tmp_path / "run"
    run_search(_nb201_tiny(out), stop_after=1)
    state = load_checkpoint(str(out / "checkpoint.pt"))
    for bad in ("-1", "f" * 40, 7):
        state["arch"]["rng"]["pcg64_state"] = bad
        torch.save(state, out / "checkpoint.pt")
        with pytest.raises(CheckpointError, match="sampler state") as info:
            run_search(_nb201_tiny(out), resume=True)
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("change, message", [
    (dict(arch_optimizer="xnas", ws_samples=5), "random-ws's"),
    (dict(ws_samples=0), "ws_samples must be"),
    (dict(ws_samples=True), "ws_samples must be"),
    (dict(eta_normal=0.1), "no architecture step"),
    (dict(arch_lr=0.1), "no architecture step"),
    (dict(arch_weight_decay=0.1), "no architecture weight decay"),
    (dict(record_rewards=True), "observes no rewards"),
    (dict(compile=True), "drop --compile"),
    (dict(primitives=("none", "skip_connect")), "space's own cells"),
])
def test_random_ws_refuses_settings_it_would_ignore(tmp_path, change, message):
    cfg = _nb201_tiny(tmp_path / "run")
    for k, v in change.items():
        setattr(cfg, k, v)
    with pytest.raises(ValueError, match=message):
        cfg.validate()
