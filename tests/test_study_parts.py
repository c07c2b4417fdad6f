"""Study pieces without running a study: shards, statistics, samplers, registries, random-ws forward."""

import math

import numpy as np
import pytest
from scipy import stats

from xnas.nas.study.config import StudyError, make_config
from xnas.nas.study.methods import KINDS, METHODS, get_method
from xnas.nas.study.stats import one_way, paired_difference, t_interval, welch_difference
from xnas.nas.study.units import Unit, parse_shard, plan_units, shard_units


@pytest.mark.parametrize("count", [1, 2, 3, 5, 40])
def test_shards_are_disjoint_complete_and_keep_cells_whole(count):
    cfg = make_config("digits", "darts", seeds=3, trainings=2, random_cells=4)
    units = plan_units(cfg)
    assert len(set(units)) == len(units)
    parts = [shard_units(units, i, count) for i in range(count)]
    seen = [u for part in parts for u in part]
    assert sorted(seen, key=lambda u: u.id) == sorted(units, key=lambda u: u.id)  # complete and disjoint
    owner = {}
    for i, part in enumerate(parts):
        for u in part:
            assert owner.setdefault(u.group, i) == i  # a cell's search and trainings share a shard
            if u.kind == "train":
                assert u.search_unit() in part
    assert shard_units(units, 0, count) == parts[0]  # a fixed assignment
    sizes = [len({u.group for u in part}) for part in parts]
    assert max(sizes) - min(sizes) <= 1


def test_plan_counts_units_per_method():
    cfg = make_config("digits", "darts", seeds=3, trainings=2, random_cells=4)
    units = plan_units(cfg)
    by_method = {m: [u for u in units if u.method == m] for m in cfg.methods}
    assert len(by_method["xnas"]) == 3 * (1 + 2)
    assert len(by_method["random"]) == 4 * (1 + 2)
    assert len(by_method["published-XNAS"]) == 1 + 2


@pytest.mark.parametrize("text", ["3/2", "0/0", "2/2", "-1/2", "a/b", "1", "", "1/2/3"])
def test_bad_shard_is_one_line_error(text):
    with pytest.raises(StudyError) as info:
        parse_shard(text)
    assert "\n" not in str(info.value)


def test_good_shard_parses():
    assert parse_shard("0/1") == (0, 1)
    assert parse_shard(" 3 / 4 ") == (3, 4)


def test_t_interval_agrees_with_scipy_and_a_hand_value():
    x = [1.0, 2.0, 3.0, 4.0, 5.0]
    mean, low, high = t_interval(x)
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))
    assert (mean, low, high) == pytest.approx((3.0, lo, hi))
    # t(0.975, 4) = 2.776445, sem = sqrt(2.5 / 5)
    assert low == pytest.approx(3.0 - 2.776445 * math.sqrt(0.5), abs=1e-5)
    rng = np.random.default_rng(1)
    y = rng.normal(10, 3, size=7)
    m, l2, h2 = t_interval(y)
    ref = stats.t.interval(0.95, 6, loc=y.mean(), scale=y.std(ddof=1) / math.sqrt(7))
    assert (l2, h2) == pytest.approx(ref)
    assert t_interval([4.0])[1:] == (None, None)


def test_paired_difference_uses_common_seeds():
    d = paired_difference({0: 10.0, 1: 12.0, 2: 9.0}, {0: 11.0, 1: 11.0, 3: 5.0})
    assert d["n_pairs"] == 2 and d["mean"] == pytest.approx(0.0)
    lo, hi = stats.t.interval(0.95, 1, loc=0.0, scale=stats.sem([-1.0, 1.0]))
    assert d["ci95"] == pytest.approx([lo, hi])


def test_welch_difference_matches_the_welch_satterthwaite_formula():
    a, b = [12.3, 11.7, 13.0], [13.1, 12.9, 12.4, 11.6, 15.3, 14.6]
    d = welch_difference(a, b)
    va, vb = np.var(a, ddof=1) / 3, np.var(b, ddof=1) / 6
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 5)
    diff = np.mean(a) - np.mean(b)
    half = stats.t.ppf(0.975, df) * se
    assert d["mean"] == pytest.approx(diff) and d["n"] == [3, 6]
    assert d["ci95"] == pytest.approx([diff - half, diff + half])
    assert d["p"] == pytest.approx(2 * stats.t.sf(abs(diff) / se, df))
    assert welch_difference([1.0], b) is None and welch_difference(a, [2.0]) is None
    assert welch_difference([1.0, 1.0], [2.0, 2.0]) == {"mean": -1.0, "ci95": [None, None], "p": None, "n": [2, 2]}


def test_one_way_matches_f_oneway_and_the_icc_formula():
    groups = [[10.0, 11.0, 12.0], [20.0, 19.0, 21.5], [15.0, 15.5, 14.0]]
    res = one_way(groups)
    ref = stats.f_oneway(*groups)
    assert res["F"] == pytest.approx(ref.statistic) and res["p"] == pytest.approx(ref.pvalue)
    k = 3
    grand = np.mean(np.concatenate(groups))
    msb = sum(k * (np.mean(g) - grand) ** 2 for g in groups) / 2
    msw = sum(((np.asarray(g) - np.mean(g)) ** 2).sum() for g in groups) / 6
    assert res["icc1"] == pytest.approx((msb - msw) / (msb + (k - 1) * msw))
    assert res["within_sd"] == pytest.approx(math.sqrt(msw))
    # identical cells: nothing between them
    flat = one_way([[1.0, 2.0], [1.0, 2.0]])
    assert flat["p"] == pytest.approx(1.0) and flat["icc1"] < 0
    assert one_way([[1.0, 2.0]])["p"] is None


def _space_names():
    pytest.importorskip("torch")
    from xnas.nas.spaces.registry import SPACES

    return sorted(SPACES)


@pytest.mark.parametrize("name", _space_names())
def test_random_sampler_gives_valid_cells_uniform_over_operations(name):
    from xnas.nas.spaces.registry import get_space

    space = get_space(name)
    rng = np.random.default_rng(0)
    counts: dict[str, int] = {}
    for _ in range(400):
        g = space.sample_genotype(rng)
        text = space.format_genotype(g)
        assert space.format_genotype(space.parse_genotype(text)) == text  # parses back, so it is valid
        for ops in space.cell_ops(g).values():
            for op in ops:
                assert op in space.primitives
                counts[op] = counts.get(op, 0) + 1
    # every operation with weights is drawn; only 'none' may be left out (it is not a choice in DARTS cells)
    assert set(space.primitives) - set(counts) <= {"none"}
    observed = np.array([counts[op] for op in sorted(counts)])
    assert stats.chisquare(observed).pvalue > 1e-3


def test_the_chi_square_check_can_fail():
    # a sampler that favours one operation is caught by the same test
    observed = np.array([400, 300, 300, 300, 300, 300, 300])
    assert stats.chisquare(observed).pvalue < 1e-3


@pytest.mark.parametrize("name", sorted(METHODS))
def test_method_registry_entries_are_runnable(name):
    pytest.importorskip("torch")
    from xnas.nas.arch.optimizers import ARCH_OPTIMIZERS
    from xnas.nas.spaces.registry import SPACES, get_space

    m = get_method(name)
    assert m.kind in KINDS
    assert (m.arch_optimizer in ARCH_OPTIMIZERS) == (m.kind in ("search", "random-ws"))
    for space in SPACES:
        if m.kind == "reference" and m.available(space):
            get_space(space).parse_genotype(m.genotype)
    assert len({n.lower() for n in METHODS}) == len(METHODS)  # unit folders never collide


def test_pending_units_go_cell_by_cell_across_methods(tmp_path):
    """A study stopped part-way has every method's first cells, not one method's all."""
    from xnas.nas.study.runner import pending_units

    cfg = make_config("digits", "darts", ("xnas", "random"), seeds=3, trainings=2, random_cells=4)
    order = [(u.method, u.cell, u.train_seed) for u in pending_units(cfg, str(tmp_path))]
    assert order[:6] == [("xnas", 0, None), ("xnas", 0, 0), ("xnas", 0, 1),
                         ("random", 0, None), ("random", 0, 0), ("random", 0, 1)]
    assert len(order) == len(set(order)) == 3 * 3 + 4 * 3


def test_training_settings_default_to_the_recipes_own():
    pytest.importorskip("torch")
    from xnas.nas.train.recipes import get_recipe
    from xnas.nas.study.backend import _recipe

    cfg = make_config("fashion-mnist", "darts", recipe="darts-fashion")
    assert cfg.train_epochs is None
    assert _recipe(cfg) == get_recipe("darts-fashion")
    cfg = make_config("fashion-mnist", "nb201", train_epochs=10, train_layers=3)
    trained = _recipe(cfg)
    assert (trained.epochs, trained.layers, trained.name) == (10, 3, "nb201-fashion")
