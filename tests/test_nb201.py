"""The NAS-Bench-201 space: genotype strings, supernet = discrete network, real wipeout, sizes, recipes."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from xnas.nas.arch.optimizers import ARCH_OPTIMIZERS, ArchSettings, build_arch_optimizer  # noqa: E402
from xnas.nas.spaces.darts.genotypes import GenotypeError  # noqa: E402
from xnas.nas.spaces.nb201.genotype import (  # noqa: E402
    EDGES,
    NB201_PRIMITIVES,
    NB201Genotype,
    all_nb201_genotypes,
    parse_arch_str,
    parse_nb201_genotype,
)
from xnas.nas.spaces.nb201.networks import (  # noqa: E402
    NB201Network,
    NB201SearchNetwork,
    build_nb201_network,
    cells_per_stage,
    discretize_nb201,
    nb201_network_size,
)
from xnas.nas.train.recipes import RECIPES, RecipeError, get_recipe, override  # noqa: E402
from xnas.nas.spaces.mixed_edge import prune_optimizer  # noqa: E402

torch.set_num_threads(1)

EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
MIXED = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|"


# ---------------------------------------------------------------------------------
# genotypes
# ---------------------------------------------------------------------------------
def test_every_cell_round_trips_through_the_string_and_json():
    seen = set()
    for g in all_nb201_genotypes():
        text = g.to_str()
        assert parse_arch_str(text) == g
        assert NB201Genotype.from_json(g.to_json()) == g
        seen.add(text)
    assert len(seen) == 5**6 == 15_625


def test_the_benchmark_example_string():
    g = parse_arch_str(EXAMPLE + "\n")
    assert g.ops == ("nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_3x3", "skip_connect")
    assert [idx for _, idx in g.edges] == [0, 0, 1, 0, 1, 2] == [src for src, _ in EDGES]
    assert EDGES == ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
    assert str(g) == EXAMPLE


@pytest.mark.parametrize(
    "text, message",
    [
        ("|none~0|+|none~0|none~1|", "needs 3 nodes"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|+|none~0|", "needs 3 nodes"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 needs 2 edges"),
        ("|none~0|+|none~0|none~2|+|none~0|none~1|none~2|", "must read input 1"),
        ("|none~0|+|none~1|none~0|+|none~0|none~1|none~2|", "must read input 0"),
        ("|sep_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "unknown operation 'sep_conv_3x3'"),
        ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|x", "expected '|op~i|...|'"),
        ("|none~0 |+|none~0|none~1|+|none~0|none~1|none~2|", "malformed edge"),
        ("|none~-1|+|none~0|none~1|+|none~0|none~1|none~2|", "malformed edge"),
        ("|__import__('os')~0|+|none~0|none~1|+|none~0|none~1|none~2|", "malformed edge"),
        ("", "needs 3 nodes"),
    ],
)
def test_malformed_strings_are_one_line_errors(text, message):
    with pytest.raises(GenotypeError, match=message) as info:
        parse_arch_str(text)
    assert "\n" not in str(info.value)


def test_genotype_rejects_bad_edges():
    with pytest.raises(GenotypeError, match="6 edges"):
        NB201Genotype.from_ops(["none"] * 5)
    with pytest.raises(GenotypeError, match="input must be 0"):
        NB201Genotype((("none", 1),) + (("none", 0),) * 5)
    with pytest.raises(GenotypeError, match="unknown operation"):
        NB201Genotype.from_ops(["max_pool_3x3"] * 6)
    with pytest.raises(GenotypeError, match="disagree"):
        NB201Genotype.from_dict({"arch_str": EXAMPLE, "edges": [["none", 0]] * 6})
    with pytest.raises(GenotypeError, match="'darts' space"):
        NB201Genotype.from_dict({"space": "darts", "arch_str": EXAMPLE})


def test_parse_genotype_takes_a_string_a_json_file_or_a_text_file(tmp_path):
    g = parse_arch_str(EXAMPLE)
    assert parse_nb201_genotype("  " + EXAMPLE + " ") == g
    (tmp_path / "genotype.json").write_text(g.to_json(indent=2))
    assert parse_nb201_genotype(str(tmp_path / "genotype.json")) == g
    (tmp_path / "genotype.txt").write_text(EXAMPLE + "\n")
    assert parse_nb201_genotype(str(tmp_path / "genotype.txt")) == g
    (tmp_path / "config.json").write_text(json.dumps({"seed": 1, "genotype": g.to_dict()}))
    assert parse_nb201_genotype(str(tmp_path / "config.json")) == g
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(GenotypeError, match="malformed"):
        parse_nb201_genotype(str(tmp_path / "bad.json"))
    with pytest.raises(GenotypeError, match="does not exist"):
        parse_nb201_genotype(str(tmp_path / "missing.json"))
    with pytest.raises(GenotypeError, match="not a NAS-Bench-201 genotype"):
        parse_nb201_genotype("XNAS")


# ---------------------------------------------------------------------------------
# supernet and discrete network
# ---------------------------------------------------------------------------------
def _copy_supernet_into(net: NB201SearchNetwork, model: NB201Network) -> None:
    """Give the discrete network the supernet's parameters (and BN statistics) of the chosen operations."""
    shared = {k: v for k, v in net.state_dict().items() if ".edges." not in k}
    assert set(shared) <= set(model.state_dict())
    for cell, dcell in zip(net.cells, model.cells):
        for e, (edge, op) in enumerate(zip(cell.edges, model.genotype.ops)):
            # the supernet's BN is not affine: the discrete one keeps weight 1, bias 0
            missing = dcell.ops[e].load_state_dict(edge.ops[op].state_dict(), strict=False).missing_keys
            assert all(k.endswith(("weight", "bias")) and k.startswith("2.") for k in missing), missing
    model.load_state_dict({**model.state_dict(), **shared})


def test_both_cells_wire_the_edges_in_the_benchmarks_order():
    # reference.md: edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2; node j sums its edges, node 3 is
    # the output. Edge e scales by c[e], so the output is a polynomial that names each edge.
    from torch import nn

    from xnas.nas.spaces.nb201.networks import NB201Cell, NB201SearchCell

    class Scale(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.c = c

        def forward(self, h, *_):
            return self.c * h

    c = [2.0, 3.0, 5.0, 7.0, 11.0, 13.0]
    n1 = c[0]
    n2 = c[1] + c[2] * n1
    n3 = c[3] + c[4] * n1 + c[5] * n2
    x = torch.ones(1, 1, 1, 1)
    g = parse_arch_str("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|")
    discrete = NB201Cell(g, 1)
    discrete.ops = nn.ModuleList(Scale(k) for k in c)
    search = NB201SearchCell(1, NB201_PRIMITIVES)
    search.edges = nn.ModuleList(Scale(k) for k in c)
    assert float(discrete(x)) == n3
    assert float(search(x, torch.zeros(6, len(NB201_PRIMITIVES)))) == n3


UNIFORM_CELLS = ["|{0}~0|+|{0}~0|{0}~1|+|{0}~0|{0}~1|{0}~2|".format(op) for op in NB201_PRIMITIVES]


@pytest.mark.parametrize("cell", [*UNIFORM_CELLS, MIXED])
@pytest.mark.parametrize("train", [True, False])
def test_one_hot_supernet_equals_the_discrete_network(cell, train):
    g = parse_arch_str(cell)
    torch.manual_seed(0)
    # fp32: the supernet's mixture is formed in fp32 whatever the operations' dtype
    net = NB201SearchNetwork(1, 3, C=4, layers=6)
    model = build_nb201_network(g, 4, 6, 3, in_channels=1)
    with torch.no_grad():  # non-trivial BN statistics and affine-free parameters everywhere
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    _copy_supernet_into(net, model)
    net.train(train)
    model.train(train)
    u = torch.zeros(net.arch_shape())
    for e, op in enumerate(g.ops):
        u[e, NB201_PRIMITIVES.index(op)] = 1.0
    x = torch.randn(4, 1, 12, 12)
    logits, aux = model(x)
    assert aux is None
    torch.testing.assert_close(net(x, {"normal": u}), logits, rtol=1e-5, atol=1e-6)


def test_skeleton_shapes_and_replications():
    net = NB201SearchNetwork(3, 10)  # the benchmark's C = 16, N = 5
    assert net.arch_shape() == (6, 5) and net.num_edges == 6
    assert net.replications() == {"normal": 15} and net.cell_types == ("normal",)
    assert len(net.body) == 17  # 15 cells and 2 residual blocks
    edge = net.cells[0].edges[0]
    bns = [m for m in edge.ops["nor_conv_3x3"].modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(b.affine for b in bns)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in edge.ops["avg_pool_3x3"].modules())
    assert net(torch.randn(2, 3, 32, 32), {"normal": torch.full((6, 5), 0.2)}).shape == (2, 10)
    # odd sizes: 28 -> 14 -> 7 on both paths of the residual blocks, and 7 -> 4
    out, _ = build_nb201_network(parse_arch_str(MIXED), 4, 9, 10, in_channels=1)(torch.randn(2, 1, 14, 14))
    assert out.shape == (2, 10)
    for bad in (0, 4, 7):
        with pytest.raises(ValueError, match="3N"):
            cells_per_stage(bad)
    with pytest.raises(ValueError, match="unknown operation"):
        NB201SearchNetwork(3, 10, primitives=("none", "sep_conv_3x3"))
    with pytest.raises(ValueError, match="only normal"):
        net.alive("reduce")
    with pytest.raises(ValueError, match="auxiliary"):
        build_nb201_network(parse_arch_str(EXAMPLE), 16, 15, 10, auxiliary=True)


def _counting_hooks(net):
    calls = {}
    handles = []
    for ci, cell in enumerate(net.cells):
        for ei, edge in enumerate(cell.edges):
            for name, op in edge.ops.items():

                def hook(module, inp, out, key=(ci, ei, name)):
                    calls[key] = calls.get(key, 0) + 1

                # any module of the operation: an edge may call an operation's layers after its shared ReLU
                handles += [m.register_forward_hook(hook) for m in op.modules()]
    return calls, handles


def test_wiped_operations_are_never_called_and_leave_the_optimizer():
    torch.manual_seed(0)
    net = NB201SearchNetwork(1, 3, C=4, layers=3)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(4, 1, 8, 8)
    u = {"normal": torch.full(net.arch_shape(), 0.2)}
    net(x, u).sum().backward()
    opt.step()
    buffers = {id(p): opt.state[p]["momentum_buffer"].clone() for p in net.parameters()}

    alive = net.alive("normal")
    assert alive.all()
    alive[:, NB201_PRIMITIVES.index("nor_conv_3x3")] = False
    alive[2, :] = False
    alive[2, NB201_PRIMITIVES.index("nor_conv_1x1")] = True  # edge 2: one expert left
    alive[5, :] = False
    alive[5, NB201_PRIMITIVES.index("none")] = True  # edge 5: only 'none' left
    n_before = sum(p.numel() for p in net.parameters())
    assert net.wipe("normal", alive)
    assert prune_optimizer(opt, net) > 0
    assert sum(p.numel() for p in net.parameters()) < n_before
    opt_params = [p for g in opt.param_groups for p in g["params"]]
    assert {id(p) for p in opt_params} == {id(p) for p in net.parameters()}
    for p in opt_params:
        assert torch.equal(opt.state[p]["momentum_buffer"], buffers[id(p)])
    assert torch.equal(net.alive("normal"), alive)

    calls, handles = _counting_hooks(net)
    net(x, {"normal": u["normal"] * alive}).sum().backward()
    for h in handles:
        h.remove()
    for ci in range(len(net.cells)):
        for e in range(6):
            for i, name in enumerate(NB201_PRIMITIVES):
                called = (ci, e, name) in calls
                expected = bool(alive[e, i]) and (name != "none" or e == 5)
                assert called == expected, (ci, e, name)
    assert not net.wipe("normal", alive)  # nothing new to wipe
    with pytest.raises(ValueError, match="every expert"):
        net.wipe("normal", torch.zeros_like(alive))


@pytest.mark.parametrize("name", sorted(n for n, spec in ARCH_OPTIMIZERS.items()
                                        if spec.build.steps_on_validation))  # random-ws: test_random_ws.py
def test_arch_optimizers_drive_the_one_cell_type(name):
    torch.manual_seed(0)
    net = NB201SearchNetwork(1, 3, C=4, layers=3)
    e, n = net.arch_shape()
    reps = net.replications()
    settings = ArchSettings(
        shape=(e, n), eta={"normal": 0.1}, horizon={"normal": 100.0 * reps["normal"]},
        rounds_per_step={"normal": 2.0 * reps["normal"]}, kinds=net.cell_types,
    )
    arch = build_arch_optimizer(name, settings)
    assert not {id(p) for p in net.parameters()} & {id(p) for p in arch.parameters()}
    before = arch.params["normal"].detach().clone()
    loss = net(torch.randn(2, 1, 8, 8), arch.mixing()).logsumexp(1).sum() * arch.loss_scale(2)
    arch.backward(loss)
    rewards = arch.step()
    assert set(rewards) == {"normal"} and torch.isfinite(rewards["normal"]).all()
    assert not torch.equal(before, arch.params["normal"].detach())
    net.wipe("normal", arch.alive()["normal"])
    g = discretize_nb201(arch.probabilities(), NB201_PRIMITIVES)
    assert parse_arch_str(g.to_str()) == g


# ---------------------------------------------------------------------------------
# discretization
# ---------------------------------------------------------------------------------
def test_discretize_is_argmax_per_edge_with_none_allowed():
    w = np.full((6, 5), 0.1)
    picks = ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3", "none"]
    for e, op in enumerate(picks):
        w[e, NB201_PRIMITIVES.index(op)] = 0.6
    assert discretize_nb201({"normal": w}).ops == tuple(picks)
    # a subset of the operations, in another column order
    prims = ("nor_conv_3x3", "skip_connect")
    w2 = np.array([[0.2, 0.8], [0.9, 0.1]] * 3)
    assert discretize_nb201(torch.tensor(w2), prims).ops == ("skip_connect", "nor_conv_3x3") * 3
    with pytest.raises(ValueError, match="shape"):
        discretize_nb201(np.ones((14, 5)))


def test_discretize_breaks_ties_by_log_weight_then_column():
    w = np.zeros((6, 5))
    w[:, [1, 3]] = 0.5  # skip_connect and nor_conv_3x3 tie on every edge
    lw = np.full((6, 5), -np.inf)
    lw[:, 1], lw[:, 3] = 0.2, 0.1
    lw[0, 3] = 0.3  # edge 0 preferred the convolution before the wipeout
    g = discretize_nb201({"normal": w}, log_weights={"normal": lw})
    assert g.ops == ("nor_conv_3x3",) + ("skip_connect",) * 5
    assert discretize_nb201({"normal": w}).ops == ("skip_connect",) * 6  # earlier column


# ---------------------------------------------------------------------------------
# parameters and multiply-adds, derived by hand
# ---------------------------------------------------------------------------------
def _hand_counts(cell_conv3x3: bool) -> tuple[int, int]:
    """C = 16, N = 5, 32x32x3 input, 10 classes; convolutions and the linear layer, no biases in convs."""
    C, N, H = 16, 5, 32
    params = 3 * C * 9 + 2 * C  # stem 3x3 conv 3 -> 16, BN weight and bias
    macs = H * H * C * 3 * 9
    for c, h in ((C, H), (2 * C, H // 2)):  # residual blocks c -> 2c, output h/2
        # conv_a 3x3 s2 c->2c + BN, conv_b 3x3 2c->2c + BN, shortcut 1x1 c->2c: 56c^2 + 8c
        params += 9 * c * 2 * c + 2 * 2 * c + 9 * 2 * c * 2 * c + 2 * 2 * c + c * 2 * c
        out = (h // 2) ** 2
        macs += out * 2 * c * c * 9 + out * 2 * c * 2 * c * 9 + out * 2 * c * c
    params += 2 * 4 * C + 4 * C * 10 + 10  # last BN, linear 64 -> 10
    macs += 4 * C * 10
    if cell_conv3x3:
        for c, h in ((C, H), (2 * C, H // 2), (4 * C, H // 4)):
            params += N * 6 * (9 * c * c + 2 * c)  # 6 edges of ReLU-conv3x3-BN per cell
            macs += N * 6 * h * h * c * c * 9
    return params, macs


def test_parameters_and_multiply_adds_match_the_hand_count():
    assert _hand_counts(False) == (73_306, 7_783_040)  # 464 + 14,464 + 57,600 + 128 + 650
    assert _hand_counts(True) == (1_531_546, 220_119_680)  # + 1,458,240 params, + 3 x 70,778,880 MACs
    for op, conv in (("none", False), ("nor_conv_3x3", True)):
        size = nb201_network_size(NB201Genotype.from_ops([op] * 6))
        params, macs = _hand_counts(conv)
        assert size["params_M"] == pytest.approx(params / 1e6, rel=1e-12)
        assert size["macs_M"] == pytest.approx(macs / 1e6, rel=1e-12)
    # parameter-free operations add nothing; a 1x1 convolution adds c^2 + 2c per edge
    assert nb201_network_size(NB201Genotype.from_ops(["skip_connect"] * 6))["params_M"] == pytest.approx(0.073306)
    one = nb201_network_size(NB201Genotype.from_ops(["nor_conv_1x1"] + ["none"] * 5), C=16, layers=15)
    assert one["params_M"] * 1e6 == pytest.approx(73_306 + 5 * sum(c * c + 2 * c for c in (16, 32, 64)))


# ---------------------------------------------------------------------------------
# recipes
# ---------------------------------------------------------------------------------
def test_nb201_recipes():
    r = get_recipe("nb201")
    assert (r.epochs, r.batch_size, r.lr, r.min_lr, r.schedule) == (200, 256, 0.1, 0.0, "cosine")
    assert (r.momentum, r.nesterov, r.weight_decay) == (0.9, True, 5e-4)
    assert (r.channels, r.layers, r.space) == (16, 15, "nb201")
    assert (r.cutout, r.autoaugment, r.auxiliary_weight, r.drop_path) == (0, False, 0.0, 0.0)
    f = get_recipe("nb201-fashion")
    assert (f.channels, cells_per_stage(f.layers), f.epochs) == (8, 2, 4)
    from xnas.nas.spaces.registry import SPACES

    assert {rec.space for rec in RECIPES.values()} == set(SPACES)
    with pytest.raises(RecipeError, match="3N"):
        override(r, layers=16)
    with pytest.raises(RecipeError, match="auxiliary head"):
        override(get_recipe("xnas"), space="nb201", layers=18)
    with pytest.raises(RecipeError, match="space must be one of"):
        override(r, space="nasbench101")
