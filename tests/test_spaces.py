"""The search-space registry: every entry's genotypes round-trip and sample validly."""

import numpy as np
import pytest

pytest.importorskip("torch")

from xnas.nas.spaces.registry import SPACES, get_space


@pytest.mark.parametrize("name", sorted(SPACES))
def test_sampled_genotypes_round_trip(name):
    space = get_space(name)
    rng = np.random.default_rng(0)
    for _ in range(50):
        g = space.sample_genotype(rng)
        text = space.format_genotype(g)
        assert space.format_genotype(space.parse_genotype(text)) == text
        for ops in space.cell_ops(g).values():
            assert set(ops) <= set(space.primitives)


def test_unknown_space_is_one_line():
    with pytest.raises(ValueError, match="choose from"):
        get_space("nope")


# ---------------------------------------------------------------------------------
# every entry: sampler uniformity, supernet -> discretize -> network, presets
# ---------------------------------------------------------------------------------
from scipy import stats  # noqa: E402

from xnas.nas.train.recipes import RECIPES, RecipeError, get_recipe, override  # noqa: E402


@pytest.mark.parametrize("name", sorted(SPACES))
def test_sampler_is_uniform_over_the_genotype_operations(name):
    space = get_space(name)
    rng = np.random.default_rng(1)
    counts = {op: 0 for op in space.genotype_ops}
    for _ in range(3000):
        for ops in space.cell_ops(space.sample_genotype(rng)).values():
            for op in ops:
                counts[op] += 1  # a KeyError would mean an operation outside genotype_ops
    observed = np.array(list(counts.values()))
    assert stats.chisquare(observed).pvalue > 1e-3, counts
    # and the test can fail: a sampler that favours one operation is caught
    biased = observed.copy()
    biased[0] += observed.sum() // 20
    assert stats.chisquare(biased).pvalue < 1e-3


def test_nb201_sampler_is_uniform_over_whole_cells():
    space = get_space("nb201")
    rng = np.random.default_rng(2)
    index = {op: i for i, op in enumerate(space.primitives)}
    # the joint of the first and the last edge (25 cells of the pair) is uniform too
    pairs = np.zeros(25, dtype=int)
    for _ in range(5000):
        ops = space.sample_genotype(rng).ops
        pairs[5 * index[ops[0]] + index[ops[-1]]] += 1
    assert stats.chisquare(pairs).pvalue > 1e-3


@pytest.mark.parametrize("name", sorted(SPACES))
def test_supernet_discretizes_into_a_buildable_network(name):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    space = get_space(name)
    layers = space.search_presets("digits")["layers"]
    net = space.build_supernet(1, 3, 4, layers)
    e, n = net.arch_shape()
    assert n == len(space.primitives) and set(net.replications()) == set(space.cell_types)
    weights = {k: torch.softmax(torch.randn(e, n), dim=-1) for k in space.cell_types}
    assert net(torch.randn(2, 1, 8, 8), weights).shape == (2, 3)
    genotype = space.discretize(weights, space.primitives)
    text = space.format_genotype(genotype)
    assert space.format_genotype(space.parse_genotype(text)) == text
    assert space.genotype_from_dict(genotype.to_dict()) == genotype
    recipe = get_recipe(space.train_recipe("digits"))
    assert recipe.space == name
    model = space.build_network(genotype, recipe.channels, recipe.layers, 3, in_channels=1, image_size=8)
    logits, _ = model(torch.randn(2, 1, 8, 8))
    assert logits.shape == (2, 3)
    for dataset in ("cifar10", "fashion-mnist", "digits"):
        assert get_recipe(space.train_recipe(dataset)).space == name
        presets = space.search_presets(dataset)
        assert presets["nodes"] == space.default_nodes


def test_a_recipe_names_a_registered_space_and_passes_its_checks():
    assert {rec.space for rec in RECIPES.values()} == set(SPACES)
    with pytest.raises(RecipeError, match="space must be one of darts, nb201"):
        override(get_recipe("xnas"), space="nope")
    with pytest.raises(RecipeError, match="no auxiliary head"):
        override(get_recipe("nb201"), auxiliary_weight=0.4)


@pytest.mark.parametrize("name", sorted(SPACES))
def test_every_space_owns_its_network_defaults(name):
    space = SPACES[name]
    space.parse_genotype(space.default_genotype)
    assert "cifar" in space.network_sizes
    for C, layers in space.network_sizes.values():
        space.check_shape(layers, space.default_nodes)
        assert C >= 2


def test_nb201_entry_defaults():
    space = get_space("nb201")
    assert space.cell_types == ("normal",) and space.default_nodes == 3
    assert space.parameter_free == frozenset({"none", "skip_connect", "avg_pool_3x3"})
    assert space.search_presets("cifar10") == {"epochs": 50, "batch_size": 96, "channels": 16, "layers": 15, "nodes": 3}
    assert space.train_recipe("cifar10") == "nb201"
    with pytest.raises(ValueError, match="3 nodes"):
        space.build_supernet(3, 10, 16, 15, nodes=4)


@pytest.mark.parametrize("name, layers, expected", [
    ("darts", 8, (6, 2)), ("darts", 20, (18, 2)), ("darts", 3, (1, 2)), ("nb201", 15, (15, 0)), ("nb201", 6, (6, 0)),
])
def test_replications_count_the_cells_sharing_weights(name, layers, expected):
    assert get_space(name).replications(layers) == expected


@pytest.mark.parametrize("name, layers", [("darts", 2), ("darts", 0), ("nb201", 4), ("nb201", 0), ("nb201", True)])
def test_replications_refuse_impossible_shapes(name, layers):
    with pytest.raises(ValueError, match="layers"):
        get_space(name).replications(layers)
