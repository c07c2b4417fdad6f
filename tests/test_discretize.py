"""Discretization with hand-built weights: the expected genotypes are written out.

The edges led by ``none`` (XNAS's last round leaves ``none`` as the only
survivor) must be ranked, and given an operation, by what the search learned
before the wipeout, never by column order (``max_pool_3x3`` is column 0 of the
non-``none`` operations).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from xnas.nas.spaces.ops import PRIMITIVES
from xnas.nas.spaces.darts.supernet import discretize, num_edges
from xnas.nas.arch.xnas_optimizer import XNASOptimizer

STEPS = 2
E = num_edges(STEPS)  # 5 edges: node 2 <- states 0, 1; node 3 <- states 0, 1, 2
COL = {p: i for i, p in enumerate(PRIMITIVES)}


def _one_hot(leaders):
    w = np.zeros((E, len(PRIMITIVES)))
    for row, op in enumerate(leaders):
        w[row, COL[op]] = 1.0
    return w


def _wiped_log(leaders, learned):
    """Log-weights: 0 for the leader, ``learned[row]`` (op -> value) for wiped ones, else -3."""
    lw = np.full((E, len(PRIMITIVES)), -3.0)
    for row, op in enumerate(leaders):
        lw[row, COL[op]] = 0.0
        for name, v in learned.get(row, {}).items():
            lw[row, COL[name]] = v
    return lw


def test_an_edge_led_by_none_gets_the_operation_learned_before_the_wipeout():
    # node 2 keeps both inputs; edge 0 is led by 'none', and before the wipeout
    # sep_conv_3x3 was its best operation (max_pool_3x3 the worst)
    leaders = ["none", "skip_connect", "dil_conv_3x3", "max_pool_3x3", "avg_pool_3x3"]
    lw = _wiped_log(leaders, {0: {"sep_conv_3x3": -0.2, "max_pool_3x3": -5.0}, 2: {}, 3: {}, 4: {}})
    lw[2:, :] = -3.0
    lw[2, COL["dil_conv_3x3"]] = 0.1
    lw[3, COL["max_pool_3x3"]] = 0.3
    lw[4, COL["avg_pool_3x3"]] = 0.7
    w = _one_hot(leaders)
    g = discretize({"normal": w, "reduce": w}, PRIMITIVES, STEPS, log_weights={"normal": lw, "reduce": lw})
    # the 'none'-led edge has strength 0, so it comes second on node 2
    assert g.normal == (("skip_connect", 1), ("sep_conv_3x3", 0), ("avg_pool_3x3", 2), ("max_pool_3x3", 1))
    assert g.reduce == g.normal


def test_edges_led_by_none_rank_below_kept_operations_and_among_themselves_by_wipe_time_weight():
    # node 3: edge 4 kept an operation; edges 2 and 3 are both led by 'none'.
    # Edge 3's best operation (avg_pool_3x3 at -0.3) was closer to the lead than
    # edge 2's (dil_conv_5x5 at -0.6), so edge 3 is the second input of node 3.
    leaders = ["sep_conv_5x5", "skip_connect", "none", "none", "dil_conv_3x3"]
    lw = _wiped_log(leaders, {2: {"dil_conv_5x5": -0.6}, 3: {"avg_pool_3x3": -0.3}})
    w = _one_hot(leaders)
    g = discretize({"normal": w, "reduce": w}, PRIMITIVES, STEPS, log_weights={"normal": lw, "reduce": lw})
    assert g.normal == (("sep_conv_5x5", 0), ("skip_connect", 1), ("dil_conv_3x3", 2), ("avg_pool_3x3", 1))


def _search_to_the_horizon(opt, params, rewards, rounds):
    for _ in range(rounds):
        for p in params:
            p.grad = torch.as_tensor(-rewards)  # the optimizer reads dloss/du = -R
        opt.step()


def _rewards():
    # per round; 'none' earns exactly 0, as in the supernet
    R = np.full((E, len(PRIMITIVES)), -1.0)
    R[:, COL["none"]] = 0.0
    R[0, COL["sep_conv_3x3"]] = -0.1   # edge 0: none leads, sep_conv_3x3 next
    R[1, COL["skip_connect"]] = 0.5    # edge 1: skip_connect leads
    R[2, COL["dil_conv_3x3"]] = -0.2   # edge 2: none leads, dil_conv_3x3 next
    R[3, COL["avg_pool_3x3"]] = -0.1   # edge 3: none leads, avg_pool_3x3 next (closer than edge 2's)
    R[4, COL["sep_conv_5x5"]] = 0.1    # edge 4: sep_conv_5x5 leads
    return R


def _optimizer():
    params = [torch.zeros(E, len(PRIMITIVES), dtype=torch.float64, requires_grad=True) for _ in range(2)]
    groups = [{"params": [p], "name": k} for p, k in zip(params, ("normal", "reduce"))]
    return XNASOptimizer(groups, eta=1.0, L=1.0, horizon=3.0), params


def test_xnas_search_that_ends_with_none_leading_discretizes_to_the_written_genotype():
    opt, params = _optimizer()
    _search_to_the_horizon(opt, params, _rewards(), 3)
    # the horizon is reached: one survivor per edge, three of them 'none'
    for p in params:
        assert (torch.isfinite(p).sum(dim=1) == 1).all()
        assert torch.isfinite(p[[0, 2, 3], COL["none"]]).all()
    lw = opt.final_log_weights()
    assert math.isclose(float(lw["normal"][0, COL["sep_conv_3x3"]]), -0.3)   # 3 rounds of -0.1
    assert math.isclose(float(lw["normal"][0, COL["max_pool_3x3"]]), -3.0)
    probs = {k: XNASOptimizer.mixture(p) for k, p in zip(("normal", "reduce"), params)}
    g = discretize(probs, PRIMITIVES, STEPS, log_weights=lw)
    assert g.normal == (("skip_connect", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 2), ("avg_pool_3x3", 1))
    assert g.reduce == g.normal


def test_wipe_time_log_weights_survive_a_state_dict_round_trip():
    opt, params = _optimizer()
    _search_to_the_horizon(opt, params, _rewards(), 3)
    state = opt.state_dict()
    fresh_params = [p.detach().clone().requires_grad_(True) for p in params]
    fresh = XNASOptimizer([{"params": [p], "name": k} for p, k in zip(fresh_params, ("normal", "reduce"))],
                          eta=1.0, L=1.0, horizon=3.0)
    fresh.load_state_dict(state)
    before, after = opt.final_log_weights(), fresh.final_log_weights()
    for k in ("normal", "reduce"):
        assert torch.equal(before[k], after[k])
        assert torch.isfinite(after[k]).all()


def test_arch_updater_exposes_wipe_time_log_weights_only_for_xnas():
    from xnas.nas.arch.optimizers import ArchSettings, build_arch_optimizer

    s = ArchSettings(shape=(E, len(PRIMITIVES)), eta={"normal": 1.0, "reduce": 1.0},
                     horizon={"normal": 3.0, "reduce": 3.0}, rounds_per_step={"normal": 1.0, "reduce": 1.0})
    xnas = build_arch_optimizer("xnas", s)
    for _ in range(3):
        xnas.mixing()
        for k in xnas.kinds:
            xnas._acc[k] = torch.as_tensor(-_rewards())
        xnas.step()
    lw = xnas.final_log_weights()
    g = discretize(xnas.probabilities(), PRIMITIVES, STEPS, log_weights=lw)
    assert g.normal == (("skip_connect", 1), ("sep_conv_3x3", 0), ("sep_conv_5x5", 2), ("avg_pool_3x3", 1))
    assert build_arch_optimizer("darts", s).final_log_weights() is None
