"""The fast search path against the plain eager computation it replaces.

The search runs its supernet in channels_last, pools by a depthwise
convolution, computes the reduction cells' strided dilated convolutions on the
subgrid, shares a ReLU between the candidates of an edge and forms the mixture
and its rewards in one autograd Function.  None of it changes the mathematics,
but the numbers are no longer bit-identical to the plain computation (NCHW,
``avg_pool2d``, ``u_i * f_i`` summed by autograd): these tests bound the
difference over a few search steps, on the losses, the rewards and the
log-weights after each step, and check that the fast path is itself
deterministic for a seed.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from search_helpers import tiny
from torch import nn

from xnas.nas.spaces.mixture import mix
from xnas.nas.spaces.ops import AvgPool3x3, SubgridConv2d
from xnas.nas.search.loop import _Search
from xnas.nas.spaces.mixed_edge import MixedEdge

torch.set_num_threads(1)


def _plain_edge_forward(self, x, u):
    out = None
    for i, op in self._computed:
        y = u[i] * op(x).float()
        out = y if out is None else out + y
    return out


@pytest.fixture
def plain_eager(monkeypatch):
    """Within the test, the supernet computes as before the speed work (the caller sets NCHW)."""

    def plain():
        monkeypatch.setattr(MixedEdge, "forward", _plain_edge_forward)
        monkeypatch.setattr(AvgPool3x3, "forward",
                            lambda self, x: F.avg_pool2d(x, 3, self.stride, 1, count_include_pad=False))
        monkeypatch.setattr(SubgridConv2d, "forward", nn.Conv2d.forward)

    return plain


def _trace(cfg, steps: int = 3) -> list:
    """(train loss, validation loss, rewards, log-weights after the step) of the first ``steps`` steps."""
    search = _Search(cfg.validate(), resume=False)
    search.build()
    rows = []
    batches = zip(search.train_loader, search.valid_loader)
    for step, ((xt, yt), (xv, yv)) in zip(range(steps), batches):
        stats_t, stats_v, rewards, _ = search.step(xt, yt, xv, yv, 0, step)
        rows.append((float(stats_t[0]), float(stats_v[0]), {k: v.detach().double().clone() for k, v in rewards.items()},
                     {k: p.detach().double().clone() for k, p in search.arch.params.items()}))
    return rows


SETTINGS = {
    "darts": dict(space="darts"),
    "nb201": dict(space="nb201", nodes=None, primitives=None, eta_reduce=None, layers=3, channels=4),
}


@pytest.mark.parametrize("space", list(SETTINGS))
@pytest.mark.parametrize("rule", ["xnas", "darts"])
def test_fast_path_stays_within_rounding_of_the_plain_eager_path(tmp_path, plain_eager, space, rule):
    kw = dict(SETTINGS[space], arch_optimizer=rule, batch_size=32)
    if rule == "darts":
        kw.update(eta_normal=None, eta_reduce=None, zeta=1.0)
    fast = _trace(tiny(tmp_path / "fast", **kw))
    plain_eager()
    plain = _trace(tiny(tmp_path / "plain", channels_last=False, **kw))
    for (lt, lv, rewards, logw), (pt, pv, p_rewards, p_logw) in zip(fast, plain):
        assert lt == pytest.approx(pt, rel=1e-5) and lv == pytest.approx(pv, rel=1e-5)
        for k in p_logw:
            # within 1e-4 of the largest magnitude (fp32 sums over a batch, three steps); wiped experts alike
            assert torch.equal(torch.isfinite(logw[k]), torch.isfinite(p_logw[k]))
            alive = torch.isfinite(p_logw[k])
            for new, old in ((rewards[k], p_rewards[k]), (logw[k][alive], p_logw[k][alive])):
                torch.testing.assert_close(new, old, rtol=0.0, atol=1e-4 * float(old.abs().max()) + 1e-12)


@pytest.mark.parametrize("space", list(SETTINGS))
def test_fast_path_is_deterministic_for_a_seed(tmp_path, space):
    kw = dict(SETTINGS[space], batch_size=32)
    a, b = _trace(tiny(tmp_path / "a", **kw)), _trace(tiny(tmp_path / "b", **kw))
    for row_a, row_b in zip(a, b):
        assert row_a[:2] == row_b[:2]
        for k in row_a[2]:
            assert torch.equal(row_a[2][k], row_b[2][k]) and torch.equal(row_a[3][k], row_b[3][k])


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("with_grad_u", [False, True])
def test_mix_matches_autograd_of_the_weighted_sum(channels_last, with_grad_u):
    g = torch.Generator().manual_seed(0)
    fs = [torch.randn(3, 4, 5, 5, generator=g) for _ in range(3)]
    if channels_last:
        fs = [f.contiguous(memory_format=torch.channels_last) for f in fs]
    fs = [f.requires_grad_(True) for f in fs]
    u = torch.rand(5, generator=g).requires_grad_(with_grad_u)
    index = (4, 0, 2)
    up = torch.randn(3, 4, 5, 5, generator=g)
    out = mix(u, index, fs)
    ref = sum(u[i] * f for i, f in zip(index, fs))
    torch.testing.assert_close(out, ref, rtol=1e-6, atol=1e-6)  # fp32, as the mixture is formed
    inputs = fs + ([u] if with_grad_u else [])
    for a, b in zip(torch.autograd.grad(out, inputs, up), torch.autograd.grad(ref, inputs, up)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="indices"):
        mix(u, (0, 1), fs)


@pytest.mark.parametrize("stride", [1, 2])
def test_a_copied_or_pickled_edge_computes_with_its_own_operations(stride):
    """The shared-ReLU plan holds closures over the edge's modules: a deepcopy must not keep the original's."""
    import copy
    import pickle

    from xnas.nas.spaces.ops import PRIMITIVES

    torch.manual_seed(0)
    edge = MixedEdge(4, stride, PRIMITIVES).eval()
    edge.wipe([1])
    x, u = torch.randn(2, 4, 6, 6), torch.rand(len(PRIMITIVES))
    for clone in (copy.deepcopy(edge), pickle.loads(pickle.dumps(edge))):
        assert clone.alive == edge.alive
        torch.testing.assert_close(clone(x, u), edge(x, u), rtol=0, atol=0)
        with torch.no_grad():
            for p in clone.parameters():
                p.mul_(0.5)
        ref = sum(u[i] * clone.ops[clone.primitives[i]](x) for i in clone.alive if clone.primitives[i] != "none")
        torch.testing.assert_close(clone(x, u), ref, rtol=1e-5, atol=1e-5)
