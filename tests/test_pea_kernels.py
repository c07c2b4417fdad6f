"""The numba kernels against the NumPy references (tests/pea_reference.py) and the rule."""

import math
import os
import shutil

import numba
import numpy as np
import pytest

from pea_reference import run_reference
from xnas.pea import FORECASTERS, ENVIRONMENTS, simulate, trace_xnas
from xnas.pea.kernels import eg as EG
from xnas.pea.kernels import run as K
from xnas.pea.rule import xnas_update


def test_exp_small_matches_numpy():
    x = np.linspace(-0.35, 0.35, 10001)
    np.testing.assert_allclose(EG.exp_small(x), np.exp(x), rtol=4e-16, atol=0)


def _replay(seed, T=400, N=5, scale=1.3):
    return np.random.default_rng(seed).uniform(-scale, scale, size=(T, N))


@pytest.mark.parametrize("name", list(FORECASTERS))
def test_forecaster_matches_numpy_reference(name):
    R = _replay(1)
    T, N = R.shape
    params = {}
    if name == "adam-softmax":
        params = {"weight_decay": 1e-3}
    elif name == "sgd-softmax":
        params = {"weight_decay": 1e-3, "momentum": 0.8}
    eta = 0.05 if name != "adam-softmax" else 0.01
    res = simulate(name, "replay", rewards=R, eta=eta, L=1.0, zeta=0.7, forecaster_params=params, n_samples=T)
    ref_kw = {k: v for k, v in params.items()}
    ref = run_reference(name, R, eta=eta, L=1.0, zeta=0.7, **ref_kw)
    assert res.rounds.tolist() == list(range(1, T + 1))
    np.testing.assert_allclose(res.forecaster_reward[0], ref["fc"], rtol=1e-10)
    np.testing.assert_allclose(res.regret[0], ref["regret"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(res.final_weights[0], ref["u"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.expert_rewards[0], ref["S"], rtol=1e-12)
    np.testing.assert_array_equal(res.wipe_round[0], ref["wipe"])
    assert res.log_gamma_T[0] == pytest.approx(ref["log_gamma"], abs=1e-10)


@pytest.mark.parametrize("zeta,clip,eta", [(1.0, True, 0.08), (0.3, True, 0.08), (1.0, False, 0.08), (0.5, True, 0.5)])
def test_xnas_kernel_follows_the_rule_round_by_round(zeta, clip, eta):
    R = _replay(7, T=300, N=6, scale=2.0)
    T, N = R.shape
    w0 = np.random.default_rng(3).uniform(0.2, 1.0, N)
    trace, wipe, lg = trace_xnas(R, eta=eta, L=1.0, zeta=zeta, init_weights=w0, clip=clip)
    a = np.log(w0 / w0.sum())
    wipe_ref = np.zeros(N, int)
    lg_ref = 0.0
    for t in range(1, T + 1):
        a, wiped, g = xnas_update(a, R[t - 1], eta, 1.0, zeta, t, T, clip=clip)
        wipe_ref[wiped] = t
        lg_ref += g
        np.testing.assert_array_equal(np.isfinite(trace[t - 1]), np.isfinite(a))
        fin = np.isfinite(a)
        np.testing.assert_allclose(trace[t - 1][fin], a[fin], rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(wipe, wipe_ref)
    assert lg == pytest.approx(lg_ref, abs=1e-10)
    assert wipe.any(), "the stream should exercise the wipeout"


def test_long_horizon_between_resyncs_stays_exact():
    # Many rounds between trajectory samples exercise the multiplicative cache.
    R = _replay(11, T=20_000, N=8, scale=1.0)
    res = simulate("eg", "replay", rewards=R, eta=0.01, n_samples=4)
    ref = run_reference("eg", R, eta=0.01)
    np.testing.assert_allclose(res.forecaster_reward[0], ref["fc"], rtol=1e-10)
    np.testing.assert_allclose(res.final_weights[0], ref["u"], rtol=1e-9)


@pytest.mark.parametrize("env", [e for e in ENVIRONMENTS if e != "replay"])
def test_environment_rewards_are_bounded_and_deterministic(env):
    a = simulate("uniform", env, n_experts=6, T=3000, L=2.0, seeds=3, seed=5)
    b = simulate("uniform", env, n_experts=6, T=3000, L=2.0, seeds=3, seed=5)
    np.testing.assert_array_equal(a.expert_rewards, b.expert_rewards)
    # uniform forecaster: its reward is the mean of the experts' rewards
    np.testing.assert_allclose(a.forecaster_reward, a.expert_rewards.mean(axis=1), rtol=1e-9, atol=1e-9)
    assert np.all(np.abs(a.expert_rewards) <= 2.0 * 3000 + 1e-9)
    c = simulate("uniform", env, n_experts=6, T=3000, L=2.0, seeds=3, seed=6)
    assert not np.array_equal(a.expert_rewards[0], c.expert_rewards[0])
    assert np.array_equal(a.expert_rewards[1], c.expert_rewards[0])  # run k uses seed + k


def test_adversarial_rewards_are_plus_minus_L():
    res = simulate("uniform", "adversarial", n_experts=70, T=1, L=0.5, seeds=50)
    assert set(np.unique(np.abs(res.expert_rewards))) == {0.5}
    big = simulate("uniform", "adversarial", n_experts=4, T=100_000, seeds=1)
    assert np.all(np.abs(big.expert_rewards) < 5 * math.sqrt(100_000))


def test_stochastic_and_late_bloomer_structure():
    st = simulate("uniform", "stochastic", n_experts=5, T=20_000, seeds=2, env_params={"best": 3, "gap": 0.2})
    assert (st.best_expert == 3).all()
    lb = simulate("xnas", "late-bloomer", n_experts=5, T=20_000, seeds=2, env_params={"best": 1})
    assert (lb.best_expert == 1).all()
    k = int(np.searchsorted(lb.rounds, 0.3 * 20_000))
    # during the warm-up the late bloomer's weight is the smallest of all
    w = lb.weights[:, k - 1, :]
    assert (w.argmin(axis=1) == 1).all()
    assert (lb.selected == 1).all()


def test_switching_changes_leader():
    res = simulate("ftl", "switching", n_experts=6, T=40_000, seeds=1, env_params={"k": 3, "gap": 0.6, "noise": 0.1})
    leaders = res.weights[0].argmax(axis=1)
    assert len(set(leaders[res.rounds > 2000].tolist())) >= 2


def test_convex_true_regret_is_at_most_linear_regret():
    # convexity: loss(p) - loss(f_i) <= grad . (p - f_i), summed over rounds
    res = simulate("xnas", "convex", n_experts=6, T=5000, seeds=4, env_params={"dim": 3})
    assert np.all(res.true_regret[:, -1] <= res.regret[:, -1] + 1e-9)
    assert np.all(res.expert_losses >= 0)


def test_same_seed_same_result_whatever_the_threads():
    kw = dict(n_experts=8, T=20_000, seeds=6, seed=3)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate("xnas", "stochastic", **kw)
        numba.set_num_threads(max(1, min(2, numba.config.NUMBA_NUM_THREADS)))
        two = simulate("xnas", "stochastic", **kw)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one.regret, two.regret)
    np.testing.assert_array_equal(one.final_weights, two.final_weights)


def test_huge_learning_rate_long_horizon_stays_finite():
    res = simulate("eg", "adversarial", n_experts=4, T=2_000_000, eta=5.0, n_samples=10)
    assert np.isfinite(res.final_weights).all() and np.isfinite(res.regret).all()
    res = simulate("gd-softmax", "adversarial", n_experts=4, T=200_000, eta=50.0, n_samples=10)
    assert np.isfinite(res.final_weights).all()


@pytest.mark.parametrize("n,j0,j1", [(8, 0, 256), (8, 3, 200), (5, 0, 7), (70, 1, 2), (3, 10, 10)])
def test_plus_minus_segment_is_bit_identical_to_the_general_one(n, j0, j1):
    # the adversarial fast path (two precomputed exponentials, rounds in pairs)
    # must give exactly the general segment's numbers
    rng = np.random.default_rng(n + j0)
    L, eta = 0.7, 0.03
    block = rng.choice([-L, L], size=(256, n))
    a0 = rng.normal(size=n)
    w0 = np.exp(a0 - a0.max())
    S0 = rng.normal(size=n)
    a1, w1, S1 = a0.copy(), w0.copy(), S0.copy()
    a2, w2, S2 = a0.copy(), w0.copy(), S0.copy()
    a3, w3, S3 = a0.copy(), w0.copy(), S0.copy()
    # one round per call: the plain loop, no pairing
    fc1 = 0.0
    for j in range(j0, j1):
        fc1 += EG._eg_segment(block, j, j + 1, a1, w1, S1, eta, L, True, True)
    fc2 = EG._eg_segment_pm(block, j0, j1, a2, w2, S2, eta, L)
    fc3 = EG._eg_segment(block, j0, j1, a3, w3, S3, eta, L, True, True)
    assert fc1 == fc2 == fc3
    for x, y, z in ((a1, a2, a3), (w1, w2, w3), (S1, S2, S3)):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)


@pytest.mark.parametrize("n,j0,j1", [(8, 0, 256), (6, 1, 100), (33, 0, 5)])
def test_paired_general_segment_is_bit_identical_to_single_rounds(n, j0, j1):
    rng = np.random.default_rng(n)
    L, eta = 1.0, 0.05
    block = rng.uniform(-1.5 * L, 1.5 * L, size=(256, n))  # clipping exercised too
    a1 = rng.normal(size=n)
    w1 = np.exp(a1 - a1.max())
    S1 = np.zeros(n)
    a2, w2, S2 = a1.copy(), w1.copy(), S1.copy()
    fc1 = 0.0
    for j in range(j0, j1):
        fc1 += EG._eg_segment(block, j, j + 1, a1, w1, S1, eta, L, True, True)
    fc2 = EG._eg_segment(block, j0, j1, a2, w2, S2, eta, L, True, True)
    assert fc1 == fc2
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(w1, w2)
    np.testing.assert_array_equal(S1, S2)


def test_every_kernel_module_is_cached_under_its_callees_contents_too():
    # numba stamps a cached kernel with its own file's contents only; an edit
    # to lanes.py then left stale expert_kernels code running (seen three times)
    from xnas.pea import cache_stamps
    from xnas.pea.kernels import adahedge, lane_run, lanes, squint

    for module, kernel in ((adahedge, adahedge.segment), (squint, squint.step), (lane_run, lane_run._run_expert_lanes),
                           (lanes, lanes._init_lanes), (K, K._run_one)):
        name = os.path.basename(module.__file__)
        assert kernel._cache._cache_file._source_stamp == cache_stamps.source_stamp(name), name


def test_a_callee_edit_changes_its_callers_stamps_only(tmp_path):
    from xnas.pea import cache_stamps

    here = os.path.dirname(K.__file__)
    for f in os.listdir(here):
        if f.endswith(".py"):
            shutil.copy(os.path.join(here, f), tmp_path / f)
    before = {f: cache_stamps.source_stamp(f, str(tmp_path)) for f, _ in cache_stamps._CALLEES}
    with open(tmp_path / "lanes.py", "a") as fh:
        fh.write("# an edit\n")
    after = {f: cache_stamps.source_stamp(f, str(tmp_path)) for f, _ in cache_stamps._CALLEES}
    changed = {f for f in before if before[f] != after[f]}
    assert changed == {"lanes.py", "squint.py", "adahedge.py", "boa.py", "fixed_share.py", "hedge_anytime.py",
                       "mlpoly.py", "families.py", "lane_run.py", "run.py"}


def test_the_cache_stamp_table_lists_every_kernel_import():
    # an import missing from _CALLEES lets numba load a stale compiled caller
    # after its callee's module is edited (it happened twice while developing).
    # Every module of the kernels package counts: the ids, the layouts and numba's
    # options are compiled in as much as the kernels are, and the forecasters'
    # modules reach the run loops through the registry's imports.
    import ast

    here = os.path.dirname(K.__file__)
    sources = {f: ast.parse(open(os.path.join(here, f)).read()) for f in os.listdir(here)
               if f.endswith(".py") and f != "__init__.py"}
    direct = {}
    for f, tree in sources.items():
        names = set()
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom) and n.module == "xnas.pea.kernels":
                names |= {a.name + ".py" for a in n.names}
            elif isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("xnas.pea.kernels."):
                names.add(n.module.rsplit(".", 1)[-1] + ".py")
        direct[f] = names & set(sources)

    def closure(f, seen=()):
        out = set()
        for g in direct.get(f, ()):
            if g not in seen:
                out |= {g} | closure(g, seen + (f,))
        return out

    from xnas.pea.cache_stamps import _CALLEES, callees

    table = dict(_CALLEES)
    for f in sources:
        needed = closure(f)
        if needed:
            assert f in table, f"{f} imports {sorted(needed)} but is not in _CALLEES"
            assert needed <= set(callees(f)), f"_CALLEES[{f}] lacks {sorted(needed - set(callees(f)))}"
    assert {"adahedge.py", "squint_evidence.py", "layout.py"} <= set(callees("run.py"))
