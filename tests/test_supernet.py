"""The DARTS supernet on CPU: shapes, shared weights, real wipeout, discretization."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from xnas.nas.arch.optimizers import ARCH_OPTIMIZERS, ArchSettings, build_arch_optimizer  # noqa: E402
from xnas.nas.spaces.darts.genotypes import Genotype, parse_darts  # noqa: E402
from xnas.nas.spaces.ops import PRIMITIVES  # noqa: E402
from xnas.nas.spaces.darts.supernet import SearchNetwork, discretize, edge_endpoints, num_edges
from xnas.nas.spaces.mixed_edge import MixedEdge, prune_optimizer

torch.set_num_threads(1)


def _net(C=4, layers=3, steps=2, primitives=PRIMITIVES, in_ch=1, classes=3):
    torch.manual_seed(0)
    return SearchNetwork(in_ch, classes, C=C, layers=layers, steps=steps, primitives=primitives)


def _uniform(net):
    e, n = net.arch_shape()
    return {k: torch.full((e, n), 1.0 / n) for k in ("normal", "reduce")}


def test_paper_network_shape():
    net = SearchNetwork(3, 10)  # C = 16, 8 cells, 4 nodes
    assert net.arch_shape() == (14, 8)
    assert net.replications() == {"normal": 6, "reduce": 2}
    assert [i for i, c in enumerate(net.cells) if c.reduction] == [2, 5]
    # BN inside candidates is not affine; pools are followed by a non-affine BN
    edge = net.cells[0].edges[0]
    assert isinstance(edge.ops["max_pool_3x3"][1], torch.nn.BatchNorm2d)
    assert not edge.ops["max_pool_3x3"][1].affine
    for name in ("sep_conv_3x3", "dil_conv_5x5"):
        bns = [m for m in edge.ops[name].modules() if isinstance(m, torch.nn.BatchNorm2d)]
        assert bns and not any(b.affine for b in bns)
    assert num_edges(4) == 14 and len(edge_endpoints(4)) == 14


def test_forward_and_shared_weights_get_gradient_from_every_replication():
    net = _net(layers=4)
    x = torch.randn(2, 1, 8, 8)
    u = {k: v.clone().requires_grad_(True) for k, v in _uniform(net).items()}
    out = net(x, u)
    assert out.shape == (2, 3)
    out.sum().backward()
    assert u["normal"].grad is not None and u["reduce"].grad is not None
    # 'none' is never evaluated, so its reward is exactly 0 on every edge
    assert torch.count_nonzero(u["normal"].grad[:, 0]) == 0
    assert torch.count_nonzero(u["normal"].grad[:, 1:]) > 0


def test_reward_is_projection_of_loss_gradient_on_expert_output():
    """dloss/du_i = grad_p loss . f_i, summed over the cells sharing u (one backward pass)."""
    net = _net(layers=3, steps=1)
    net.eval()  # fixed BN statistics: the network is then linear in each u row given the others
    x = torch.randn(2, 1, 8, 8)
    u = {k: v.clone().requires_grad_(True) for k, v in _uniform(net).items()}
    loss = net(x, u).square().sum()
    loss.backward()
    g = u["normal"].grad.clone()
    # central finite difference along each coordinate of u (the mixture is linear in u per cell,
    # the network is not, so compare with a small step)
    eps = 1e-3
    for i in range(1, len(PRIMITIVES)):
        up = {k: v.detach().clone() for k, v in u.items()}
        dn = {k: v.detach().clone() for k, v in u.items()}
        up["normal"][0, i] += eps
        dn["normal"][0, i] -= eps
        with torch.no_grad():
            fd = (net(x, up).square().sum() - net(x, dn).square().sum()) / (2 * eps)
        assert float(fd) == pytest.approx(float(g[0, i]), rel=2e-2, abs=2e-3)


def _counting_hooks(net):
    calls = {}

    def make(key):
        def hook(module, inp, out):
            calls[key] = calls.get(key, 0) + 1

        return hook

    handles = []
    for ci, cell in enumerate(net.cells):
        for ei, edge in enumerate(cell.edges):
            for name, op in edge.ops.items():
                # any module of the operation: an edge may call an operation's layers after its shared ReLU
                handles += [m.register_forward_hook(make((cell.reduction, ei, name))) for m in op.modules()]
    return calls, handles


def test_wiped_operations_are_never_called_and_leave_the_optimizer():
    net = _net(layers=3, steps=2)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(4, 1, 8, 8)
    u = _uniform(net)
    # one step so that momentum buffers exist
    net(x, u).sum().backward()
    opt.step()
    survivors_before = {id(p): opt.state[p]["momentum_buffer"].clone() for p in net.parameters()}

    alive = net.alive("normal")
    assert alive.all()
    alive[:, PRIMITIVES.index("sep_conv_5x5")] = False
    alive[:, PRIMITIVES.index("dil_conv_3x3")] = False
    alive[0, :] = False
    alive[0, PRIMITIVES.index("avg_pool_3x3")] = True  # edge 0: one expert left
    n_before = sum(p.numel() for p in net.parameters())
    assert net.wipe("normal", alive)
    removed = prune_optimizer(opt, net)
    assert removed > 0
    assert sum(p.numel() for p in net.parameters()) < n_before
    opt_params = [p for g in opt.param_groups for p in g["params"]]
    assert {id(p) for p in opt_params} == {id(p) for p in net.parameters()}
    for p in opt_params:  # survivors keep their moment buffers
        assert torch.equal(opt.state[p]["momentum_buffer"], survivors_before[id(p)])
    assert torch.equal(net.alive("normal"), alive)

    calls, handles = _counting_hooks(net)
    u["normal"] = u["normal"] * alive
    net(x, u).sum().backward()
    opt.step()
    for h in handles:
        h.remove()
    normal_calls = {(e, n) for (red, e, n) in calls if not red}
    for e in range(net.num_edges):
        for i, name in enumerate(PRIMITIVES):
            was_called = (e, name) in normal_calls
            if not alive[e, i] or name == "none":
                assert not was_called, (e, name)
            else:
                assert was_called, (e, name)
    # wiping is permanent and the reduction cells are untouched
    assert net.alive("reduce").all()
    with pytest.raises(ValueError, match="every expert"):
        net.wipe("normal", torch.zeros_like(alive))


def test_single_expert_edge_computes_only_that_expert():
    net = _net(layers=3, steps=1)
    alive = torch.zeros(net.arch_shape(), dtype=torch.bool)
    alive[:, PRIMITIVES.index("skip_connect")] = True
    net.wipe("normal", alive)
    calls, handles = _counting_hooks(net)
    net(torch.randn(2, 1, 8, 8), _uniform(net))
    for h in handles:
        h.remove()
    assert {n for (red, e, n) in calls if not red} == {"skip_connect"}


def test_discretize_follows_darts_convention():
    steps = 2
    n = len(PRIMITIVES)
    w = np.full((num_edges(steps), n), 0.01)
    # node 2 (edges 0, 1): both inputs kept; 'none' is the largest on edge 1 but excluded
    w[0, PRIMITIVES.index("sep_conv_3x3")] = 0.5
    w[1, PRIMITIVES.index("none")] = 0.9
    w[1, PRIMITIVES.index("max_pool_3x3")] = 0.2
    # node 3 (edges 2, 3, 4 from states 0, 1, 2): keep the two strongest, strongest first
    w[2, PRIMITIVES.index("dil_conv_3x3")] = 0.3
    w[3, PRIMITIVES.index("skip_connect")] = 0.05
    w[4, PRIMITIVES.index("avg_pool_3x3")] = 0.6
    g = discretize({"normal": w, "reduce": w}, PRIMITIVES, steps)
    assert g.normal == (("sep_conv_3x3", 0), ("max_pool_3x3", 1), ("avg_pool_3x3", 2), ("dil_conv_3x3", 0))
    assert g.normal_concat == (2, 3)
    assert Genotype.from_json(g.to_json()) == g
    assert parse_darts(g.to_darts()) == g
    g.validate(steps=steps)


@pytest.mark.parametrize("name", sorted(n for n, spec in ARCH_OPTIMIZERS.items()
                                        if spec.build.steps_on_validation))  # random-ws: test_random_ws.py
def test_network_and_architecture_weights_are_disjoint(name):
    net = _net()
    e, n = net.arch_shape()
    settings = ArchSettings(
        shape=(e, n),
        eta={"normal": 0.1, "reduce": 0.1},
        horizon={"normal": 100.0, "reduce": 100.0},
        rounds_per_step={"normal": 2.0, "reduce": 2.0},
    )
    arch = build_arch_optimizer(name, settings)
    assert ARCH_OPTIMIZERS[name].wipes == arch.wipes
    net_ids = {id(p) for p in net.parameters()}
    assert not net_ids & {id(p) for p in arch.parameters()}
    before = {k: v.detach().clone() for k, v in arch.params.items()}
    u = arch.mixing()
    loss = net(torch.randn(2, 1, 8, 8), u).logsumexp(1).sum() * arch.loss_scale(2)
    arch.backward(loss)
    rewards = arch.step()
    assert set(rewards) == {"normal", "reduce"}
    assert all(torch.isfinite(r).all() for r in rewards.values())
    assert not torch.equal(before["normal"], arch.params["normal"].detach())  # the step moved the weights
    probs = arch.probabilities()
    assert torch.allclose(probs["normal"].sum(-1), torch.ones(e, dtype=torch.float64))
    sd = arch.state_dict()
    again = build_arch_optimizer(name, settings)
    again.load_state_dict(sd)
    assert all(torch.equal(again.params[k], arch.params[k]) for k in arch.params)
    with pytest.raises(ValueError, match="unknown architecture optimizer"):
        build_arch_optimizer("adamw", settings)


def test_xnas_updater_reward_is_minus_u_gradient_and_state_round_trips():
    net = _net()
    e, n = net.arch_shape()
    settings = ArchSettings(
        shape=(e, n),
        eta={"normal": 0.5, "reduce": 0.5},
        horizon={"normal": 40.0, "reduce": 40.0},
        rounds_per_step={"normal": 4.0, "reduce": 4.0},
        zeta=0.01,
    )
    arch = build_arch_optimizer("xnas", settings)
    x = torch.randn(4, 1, 8, 8)
    u = arch.mixing()
    loss = net(x, u).logsumexp(1).sum()
    expected = {k: -g.double() for k, g in zip(u, torch.autograd.grad(loss, list(u.values()), retain_graph=True))}
    arch.backward(loss)
    before = {k: p.detach().clone() for k, p in arch.params.items()}
    rewards = arch.step()
    for k in rewards:
        assert torch.equal(rewards[k], expected[k])
        from xnas.pea.rule import xnas_update

        for row in range(e):
            ref, _, _ = xnas_update(before[k][row].numpy(), expected[k][row].numpy(), 0.5, 1.0, 0.01, 4.0, 40.0, rounds=4.0)
            got = arch.params[k].detach()[row].numpy()
            assert np.array_equal(np.isfinite(ref), np.isfinite(got))
            np.testing.assert_allclose(got[np.isfinite(got)], ref[np.isfinite(ref)], rtol=1e-12)
    sd = arch.state_dict()
    other = build_arch_optimizer("xnas", settings)
    other.load_state_dict(sd)
    for k in arch.params:
        assert torch.equal(other.params[k], arch.params[k])
    assert math.isclose(float(other.optimizer.state[other.params["normal"]]["t"]), 4.0)


def test_discretize_breaks_one_hot_ties_by_log_weight():
    # XNAS's last round leaves one expert per edge: every strength is 1, so the
    # edges must be ranked by the surviving experts' log-weights, not by position
    steps = 2
    n = len(PRIMITIVES)
    e = num_edges(steps)
    w = np.zeros((e, n))
    logw = np.full((e, n), -np.inf)
    leaders = ["sep_conv_3x3", "skip_connect", "dil_conv_3x3", "max_pool_3x3", "avg_pool_3x3"]
    for row, (op, value) in enumerate(zip(leaders, [0.1, 0.2, -0.5, 0.3, 0.7])):
        w[row, PRIMITIVES.index(op)] = 1.0
        logw[row, PRIMITIVES.index(op)] = value
    logw[2, PRIMITIVES.index("none")] = 5.0  # 'none' never counts towards a strength
    g = discretize({"normal": w, "reduce": w}, PRIMITIVES, steps, log_weights={"normal": logw, "reduce": logw})
    assert g.normal == (("skip_connect", 1), ("sep_conv_3x3", 0), ("avg_pool_3x3", 2), ("max_pool_3x3", 1))
    # without log-weights the DARTS tie rule (earlier edge first) still holds
    g = discretize({"normal": w, "reduce": w}, PRIMITIVES, steps)
    assert g.normal[2:] == (("dil_conv_3x3", 0), ("max_pool_3x3", 1))


def test_rewards_under_bf16_autocast_are_formed_in_fp32():
    # The ops run in bf16 under autocast; the reward dloss/du_i = grad_p . f_i
    # must equal the one formed in float64 from the very same bf16 op outputs.
    # Mixing in bf16 (u_i * f_i rounded to bf16) misses this by ~1e-3.
    torch.manual_seed(0)
    prims = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "dil_conv_3x3")
    edge = MixedEdge(4, 1, prims)
    x = torch.randn(3, 4, 8, 8)
    target = torch.randn(3, 4, 8, 8)
    u = torch.softmax(torch.randn(len(prims)), 0).requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = edge(x, u)
        loss = ((out.float() - target) ** 2).sum()
    (reward,) = torch.autograd.grad(loss, u)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        fs = {i: op(x) for i, op in edge._computed}  # the same bf16 outputs (deterministic on CPU)
    assert sum(f.dtype == torch.bfloat16 for f in fs.values()) >= 2  # the convolutions
    u64 = u.detach().double()
    p = sum(u64[i] * f.double() for i, f in fs.items())
    grad_p = 2.0 * (p - target.double())
    want = torch.zeros(len(prims), dtype=torch.float64)
    for i, f in fs.items():
        want[i] = (grad_p * f.double()).sum()
    rel = (reward.double() - want).abs().max() / want.abs().max()
    assert rel < 1e-5, float(rel)
    assert reward[0] == 0.0  # 'none' contributes nothing
