"""XNASOptimizer implements exactly the shared rule ``xnas.pea.rule.xnas_update``."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from xnas.nas.arch.xnas_optimizer import XNASOptimizer  # noqa: E402
from xnas.pea.rule import xnas_update  # noqa: E402


def _stream(seed: int, steps: int, forecasters: int, n: int, k: float, L: float) -> np.ndarray:
    """Rewards per step: a sum of k per-round rewards, some far beyond k L, one expert clearly best."""
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0, 0.8 * k * L, size=(steps, forecasters, n))
    r[:, :, 0] += 0.3 * k * L  # a leader so that others get wiped
    spikes = rng.random(r.shape) < 0.1
    r[spikes] *= 6.0  # beyond the bound: clipping matters
    return r


def _reference(stream, eta, L, zeta, horizon, k):
    steps, f, n = stream.shape
    logw = np.zeros((f, n))
    log_gamma = np.zeros(f)
    wiped_at = np.full((f, n), -1)
    t = 0.0
    for s in range(steps):
        t += k
        for j in range(f):
            logw[j], wiped, lg = xnas_update(logw[j], stream[s, j], eta, L, zeta, t, horizon, rounds=k)
            log_gamma[j] += lg
            wiped_at[j][wiped] = s
    return logw, log_gamma, wiped_at


def _torch_run(stream, eta, L, zeta, horizon, k, opt_state=None, start=0, param=None):
    steps, f, n = stream.shape
    p = param if param is not None else torch.zeros(f, n, dtype=torch.float64, requires_grad=True)
    opt = XNASOptimizer([{"params": [p], "name": "normal"}], eta=eta, L=L, zeta=zeta, horizon=horizon, rounds_per_step=k)
    if opt_state is not None:
        opt.load_state_dict(opt_state)
    wiped_at = np.full((f, n), -1)
    for s in range(start, steps):
        before = torch.isfinite(p.detach()).numpy().copy()
        p.grad = torch.from_numpy(-stream[s])  # grad = dloss/du = -reward
        opt.step()
        after = torch.isfinite(p.detach()).numpy()
        wiped_at[before & ~after] = s
    return p, opt, wiped_at


@pytest.mark.parametrize("zeta,k", [(1.0, 1.0), (0.3, 96.0 * 6), (0.05, 32.0)])
def test_same_weights_and_wipeouts_as_the_rule(zeta, k):
    L, steps, f, n = 1.0, 300, 14, 8
    horizon = steps * k
    eta = math.sqrt(2 * math.log(n) / (horizon * L**2)) * 3
    stream = _stream(0, steps, f, n, k, L)
    ref_w, ref_g, ref_wiped = _reference(stream, eta, L, zeta, horizon, k)
    p, opt, wiped_at = _torch_run(stream, eta, L, zeta, horizon, k)
    got = p.detach().numpy()
    assert (ref_wiped >= 0).any(), "the stream must cause wipeouts for the test to mean something"
    assert np.array_equal(np.isfinite(got), np.isfinite(ref_w))
    assert np.array_equal(wiped_at, ref_wiped)
    alive = np.isfinite(ref_w)
    np.testing.assert_allclose(got[alive], ref_w[alive], rtol=1e-12, atol=1e-12)
    st = opt.state[p]
    np.testing.assert_allclose(st["log_gamma"].numpy(), ref_g, rtol=1e-10, atol=1e-12)
    assert float(st["t"]) == pytest.approx(horizon)
    assert torch.equal(st["alive"], torch.from_numpy(alive))
    assert (st["log_gamma"].numpy() < math.log(n)).all()  # Lemma 2


def test_state_dict_round_trip_continues_identically():
    L, k, steps, f, n, zeta = 1.0, 8.0, 120, 3, 5, 0.2
    horizon = steps * k
    eta = 0.05
    stream = _stream(1, steps, f, n, k, L)
    full, _, _ = _torch_run(stream, eta, L, zeta, horizon, k)
    half, opt, _ = _torch_run(stream[:60], eta, L, zeta, horizon, k)
    sd = opt.state_dict()
    resumed_p = half.detach().clone().requires_grad_(True)
    resumed, opt2, _ = _torch_run(stream, eta, L, zeta, horizon, k, opt_state=sd, start=60, param=resumed_p)
    assert torch.equal(torch.isfinite(full), torch.isfinite(resumed))
    alive = torch.isfinite(full)
    assert torch.equal(full.detach()[alive], resumed.detach()[alive])
    sd2 = opt2.state_dict()
    assert sd2["param_groups"][0]["eta"] == eta and sd2["param_groups"][0]["name"] == "normal"
    # the state survives a save/load through torch.save with weights_only=True
    import io

    buf = io.BytesIO()
    torch.save(sd2, buf)
    buf.seek(0)
    again = torch.load(buf, weights_only=True)
    st = again["state"][0]
    assert set(st) == {"t", "alive", "log_gamma", "wiped_log"}
    assert float(st["t"]) == horizon


def test_two_groups_have_their_own_eta_and_horizon():
    a = torch.zeros(2, 4, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(2, 4, dtype=torch.float64, requires_grad=True)
    opt = XNASOptimizer(
        [
            {"params": [a], "name": "normal", "eta": 0.1, "horizon": 60.0, "rounds_per_step": 6.0},
            {"params": [b], "name": "reduce", "eta": 0.2, "horizon": 20.0, "rounds_per_step": 2.0},
        ],
        L=1.0,
    )
    g = torch.tensor([[-1.0, 0.0, 0.5, 0.0], [0.0, 0.0, 0.0, -3.0]], dtype=torch.float64)
    a.grad, b.grad = g.clone(), g.clone()
    opt.step()
    ra, _, _ = xnas_update(np.zeros(4), -g[0].numpy(), 0.1, 1.0, 1.0, 6.0, 60.0, rounds=6.0)
    rb, _, _ = xnas_update(np.zeros(4), -g[0].numpy(), 0.2, 1.0, 1.0, 2.0, 20.0, rounds=2.0)
    np.testing.assert_allclose(a.detach()[0].numpy(), ra)
    np.testing.assert_allclose(b.detach()[0].numpy(), rb)
    masks = opt.alive_masks()
    assert set(masks) == {"normal", "reduce"} and masks["normal"].dtype == torch.bool


def test_wiped_expert_stays_wiped_and_ignores_its_reward():
    p = torch.tensor([[0.0, 0.0, -math.inf]], dtype=torch.float64, requires_grad=True)
    opt = XNASOptimizer([p], eta=0.1, horizon=10.0)
    p.grad = torch.tensor([[0.0, 0.0, -1e9]], dtype=torch.float64)
    opt.step()
    assert p[0, 2].item() == -math.inf
    assert opt.state[p]["alive"].tolist() == [[True, True, False]]


def test_passing_the_horizon_is_an_error():
    p = torch.zeros(1, 3, dtype=torch.float64, requires_grad=True)
    opt = XNASOptimizer([p], eta=0.1, horizon=2.0, rounds_per_step=1.0)
    for _ in range(2):
        p.grad = torch.zeros_like(p)
        opt.step()
    p.grad = torch.zeros_like(p)
    with pytest.raises(RuntimeError, match="horizon"):
        opt.step()


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(eta=0.0, horizon=10.0), "eta"),
        (dict(eta=-1.0, horizon=10.0), "eta"),
        (dict(eta=float("nan"), horizon=10.0), "eta"),
        (dict(L=0.0, horizon=10.0), "L"),
        (dict(zeta=0.0, horizon=10.0), "zeta"),
        (dict(zeta=1.5, horizon=10.0), "zeta"),
        (dict(horizon=None), "horizon"),
        (dict(horizon=-3.0), "horizon"),
        (dict(horizon=10.0, rounds_per_step=0.0), "rounds_per_step"),
        (dict(horizon=10.0, rounds_per_step=11.0), "exceeds"),
        (dict(horizon=10.0, clip="yes"), "clip"),
    ],
)
def test_validation_errors(kwargs, match):
    p = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError, match=match):
        XNASOptimizer([p], **kwargs)


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError, match="at least 2"):
        XNASOptimizer([torch.zeros(3, 1, dtype=torch.float64, requires_grad=True)], horizon=5.0)
    with pytest.raises(ValueError, match="floating"):
        XNASOptimizer([torch.zeros(3, 2, dtype=torch.int64)], horizon=5.0)
    dead = torch.full((1, 3), -math.inf, dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError, match="alive"):
        XNASOptimizer([dead], horizon=5.0)


def test_numba_forecaster_agrees_on_the_same_stream():
    """The simulator's numba ``xnas`` forecaster and the torch optimizer: same weights, same wipeouts."""
    simulate = pytest.importorskip("xnas.pea.simulate")
    trace_xnas = getattr(simulate, "trace_xnas", None)
    if trace_xnas is None:
        pytest.skip("xnas.pea does not expose its xnas forecaster over a reward array")
    L, steps, n, zeta = 1.0, 400, 8, 0.3
    stream = _stream(3, steps, 1, n, 1.0, L)[:, 0, :]
    eta = 0.05
    p, opt, wiped_at = _torch_run(stream[:, None, :], eta, L, zeta, float(steps), 1.0)
    trace, wipe_round, log_gamma = trace_xnas(stream, eta=eta, L=L, zeta=zeta)
    got = p.detach().numpy()[0]
    final = np.asarray(trace)[-1]
    assert (wiped_at >= 0).any(), "the stream must cause wipeouts"
    assert np.array_equal(np.isfinite(final), np.isfinite(got))
    # same round of every wipeout (the simulator counts rounds from 1, 0 = survived)
    np.testing.assert_array_equal(np.where(wiped_at[0] >= 0, wiped_at[0] + 1, 0), wipe_round)
    alive = np.isfinite(got)
    # both are invariant to a common shift of the log-weights
    np.testing.assert_allclose(got[alive] - got[alive].max(), final[alive] - final[alive].max(), atol=1e-9)
    assert float(opt.state[p]["log_gamma"][0]) == pytest.approx(log_gamma, abs=1e-9)
