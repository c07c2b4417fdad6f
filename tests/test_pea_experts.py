"""The literature's forecasters (AdaHedge, Squint, BOA, ML-Poly, Fixed-share, anytime Hedge)
and shifting regret, against the NumPy references of tests/pea_reference_experts.py."""

import itertools
import json
import math

import numba
import numpy as np
import pytest

from pea_reference_experts import best_switching_reward as best_switching_reward_ref
from pea_reference_experts import run_expert_reference, squint_log_evidence_quad
from xnas.pea import simulate
from xnas.pea.kernels.squint_evidence import squint_log_evidence
from xnas.pea.kernels.shifting import best_switching_reward

NEW = ("adahedge", "squint", "boa", "mlpoly", "fixed-share", "hedge-anytime")


def _replay(seed, T=300, N=5, scale=1.0):
    return np.random.default_rng(seed).uniform(-scale, scale, size=(T, N))


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("L", [1.0, 2.5])
def test_every_round_matches_the_reference(name, L):
    R = _replay(4, scale=L)
    T, N = R.shape
    w0 = np.random.default_rng(9).uniform(0.3, 1.0, N)
    res = simulate(name, "replay", rewards=R, eta=0.07, L=L, init_weights=w0, n_samples=T,
                   forecaster_params={"alpha": 0.02} if name == "fixed-share" else None)
    ref = run_expert_reference(name, R, L=L, eta=0.07, alpha=0.02, log_u0=res.log_u0)
    np.testing.assert_allclose(res.weights[0, :-1], ref["u_trace"][1:], rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(res.final_weights[0], ref["u"], rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(res.regret[0], ref["regret"], rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", NEW)
def test_leader_changes_and_ties(name):
    # identical experts for a while (ties, FTL phase of AdaHedge), then a switch
    T, N = 200, 4
    R = np.zeros((T, N))
    R[:50] = 0.3
    R[50:120, 1] = 1.0
    R[120:, 3] = 0.8
    R[120:, 1] = -0.5
    res = simulate(name, "replay", rewards=R, eta=0.2, n_samples=T)
    ref = run_expert_reference(name, R, eta=0.2, alpha=1e-4)
    np.testing.assert_allclose(res.weights[0, :-1], ref["u_trace"][1:], rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("R,V", [(0.0, 0.0), (0.3, 0.005), (-2.0, 0.009), (5.0, 0.02), (0.1, 0.5),
                                 (-3.0, 1.0), (4.0, 2.0), (40.0, 30.0), (-40.0, 30.0), (400.0, 150.0),
                                 (-400.0, 150.0), (10.0, 50.0), (1e4, 5e3), (-1e4, 5e3), (3e3, 9e3)])
def test_squint_closed_form_matches_quadrature(R, V):
    assert squint_log_evidence(R, V) == pytest.approx(squint_log_evidence_quad(R, V), rel=1e-11, abs=1e-11)


@pytest.mark.parametrize("name", NEW)
def test_synthetic_runs_are_finite_and_learn(name):
    res = simulate(name, "stochastic", n_experts=8, T=20_000, seeds=3, env_params={"gap": 0.3})
    assert np.isfinite(res.regret).all() and np.isfinite(res.final_weights).all()
    assert res.correct_selection.all()
    assert (res.final_regret < 0.1 * 20_000).all()


@pytest.mark.parametrize("m", [0, 1, 2, 5, 40])
def test_best_switching_reward_matches_the_reference(m):
    R = _replay(5, T=120, N=4)
    assert best_switching_reward(R, m) == pytest.approx(best_switching_reward_ref(R, m), rel=1e-12)
    if m == 0:
        assert best_switching_reward(R, m) == pytest.approx(R.sum(axis=0).max(), rel=1e-12)


def test_best_switching_reward_brute_force_on_a_tiny_stream():
    R = _replay(8, T=7, N=3)
    for m in range(0, 7):
        best = max(R[np.arange(7), list(seq)].sum() for seq in itertools.product(range(3), repeat=7)
                   if sum(a != b for a, b in zip(seq, seq[1:])) <= m)
        assert best_switching_reward(R, m) == pytest.approx(best, rel=1e-12)


@pytest.mark.parametrize("name", ["xnas", "fixed-share", "adam-softmax"])
def test_simulated_shifting_regret_matches_the_reference_on_replay(name):
    R = _replay(2, T=3000, N=6)
    for m in (0, 3, 50):
        res = simulate(name, "replay", rewards=R, shifts=m, n_samples=4)
        np.testing.assert_allclose(res.shifting_regret[0], best_switching_reward_ref(R, m) - res.forecaster_reward[0],
                                   rtol=1e-10)
        assert res.summary()["shifts"] == m


@pytest.mark.parametrize("env", ["adversarial", "stochastic", "switching", "convex"])
def test_simulated_shifting_regret_on_synthetic_streams(env):
    # the rewards are drawn inside the kernel: m = 0 is the usual regret, and the
    # comparator grows with m; shifting changes nothing else in the run
    plain = simulate("eg", env, n_experts=5, T=4000, seeds=3)
    prev = None
    for m in (0, 2, 8):
        res = simulate("eg", env, n_experts=5, T=4000, seeds=3, shifts=m)
        np.testing.assert_array_equal(res.regret, plain.regret)
        if m == 0:
            np.testing.assert_allclose(res.shifting_regret, plain.final_regret, rtol=1e-12, atol=1e-9)
        else:
            assert (res.shifting_regret >= prev - 1e-9).all()
        prev = res.shifting_regret


def test_shifts_are_checked():
    with pytest.raises(ValueError, match="shifts"):
        simulate("eg", "adversarial", T=100, shifts=-1)
    with pytest.raises(ValueError, match="shifts"):
        simulate("eg", "adversarial", T=100, shifts=1.5)
    assert simulate("eg", "adversarial", T=100, shifts=10**9).shifts == 99


def test_guarantees_hold_and_a_broken_bound_is_caught():
    from xnas.pea import guarantees as G
    from xnas.pea.kernels import adahedge

    ok = G.check_guarantees(quick=True)
    assert ok["violations"] == 0 and ok["runs"] > 300
    assert all(0 < row["worst_ratio"] < 1 for row in ok["forecasters"])
    broken = G.check_guarantees(quick=True, bounds={"adahedge": lambda T, n, L, **_: 0.3 * adahedge.bound(T, n, L)})
    assert broken["violations"] > 0


def test_fixed_share_bound_is_the_shifting_one():
    from xnas.pea.kernels.fixed_share import bound as fixed_share_bound

    # m = 0, alpha = 0 is Hedge's bound ln N / eta + eta T L^2 / 2
    assert fixed_share_bound(100, 4, 1.0, eta=0.1, alpha=0.0, m=0) == pytest.approx(math.log(4) / 0.1 + 0.1 * 100 / 2)
    assert fixed_share_bound(100, 4, 1.0, eta=0.1, alpha=0.01, m=3) > fixed_share_bound(100, 4, 1.0, eta=0.1,
                                                                                       alpha=0.01, m=0)


def test_validate_exits_1_when_a_guarantee_is_violated(monkeypatch):
    from click.testing import CliRunner

    from xnas.cli.sim import main
    from xnas.pea import guarantees as G
    from xnas.pea import validate as V

    monkeypatch.setattr(V, "_cases", lambda quick: iter([("adversarial", 2, 1000, 1.0, 1)]))
    monkeypatch.setattr(V, "_findings", lambda quick, seed, bar: [])
    res = CliRunner().invoke(main, ["validate", "--quick", "--json"])
    assert res.exit_code == 0, res.output
    monkeypatch.setattr(G, "BOUNDS", {"hedge-anytime": lambda T, n, L, **_: 0.0})
    res = CliRunner().invoke(main, ["validate", "--quick", "--json"])
    assert res.exit_code == 1


def _guarantee_rows(stdout):
    """``forecaster -> (runs, violations, worst ratio, bound)`` from the guarantee table."""
    text = stdout[stdout.index("Guarantees of other forecasters"):]
    text = text[:text.index("└")]
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and cells[0]:
            rows[cells[0]] = (int(cells[1]), int(cells[2]), cells[3], cells[4])
    return rows


@pytest.fixture
def small_validate(monkeypatch):
    """``xnas-sim validate --quick`` on one Theorem 1 case and two guarantee streams (seconds, not minutes)."""
    from click.testing import CliRunner

    from xnas.cli.sim import main
    from xnas.pea import guarantees as G
    from xnas.pea import validate as V

    monkeypatch.setattr(V, "_cases", lambda quick: iter([("adversarial", 2, 1000, 1.0, 1)]))
    monkeypatch.setattr(V, "_findings", lambda quick, seed, bar: [])
    monkeypatch.setattr(G, "STREAMS", ("adversarial", "switching"))
    monkeypatch.setenv("COLUMNS", "250")  # rich: one line per row, the bound's formula unwrapped

    def invoke(*args):
        return CliRunner().invoke(main, ["validate", "--quick", *args])

    return invoke


def _check_table_against_json(human, js):
    rows = _guarantee_rows(human.stdout)
    assert list(rows) == [g["forecaster"] for g in js["guarantees"]["forecasters"]]
    for g in js["guarantees"]["forecasters"]:
        runs, violations, ratio, bound = rows[g["forecaster"]]
        assert (runs, violations, ratio) == (g["runs"], g["violations"], f"{g['worst_ratio']:.3f}")
        assert bound == g["bound"]
    assert f"{js['guarantees']['runs']} guarantee runs" in human.stdout
    assert "Theorem 1" in human.stdout  # the battery's table is still there


def test_validate_table_shows_the_guarantees_of_the_json(small_validate):
    from xnas.pea.guarantees import BOUNDS

    js, human = small_validate("--json"), small_validate()
    assert js.exit_code == human.exit_code == 0, human.output
    js = json.loads(js.stdout)
    assert {g["forecaster"] for g in js["guarantees"]["forecasters"]} == set(BOUNDS)
    assert all(g["bound"] != "custom" and g["runs"] > 0 for g in js["guarantees"]["forecasters"])
    _check_table_against_json(human, js)
    assert "[ln N + m ln(N/alpha)" in human.stdout  # printed as text: rich markup would eat the bracket


def test_validate_table_shows_a_guarantee_violation_and_exits_1(small_validate, monkeypatch):
    from xnas.pea import guarantees as G
    from xnas.pea.kernels import hedge_anytime

    monkeypatch.setattr(G, "BOUNDS", {"hedge-anytime": lambda T, n, L, **_: 0.2 * hedge_anytime.bound(T, n, L)})
    js, human = small_validate("--json"), small_validate()
    assert js.exit_code == human.exit_code == 1, human.output
    js = json.loads(js.stdout)
    (row,) = js["guarantees"]["forecasters"]
    assert row["bound"] == "custom" and 0 < row["violations"] and row["worst_ratio"] > 1
    _check_table_against_json(human, js)
    assert human.stdout.splitlines()[-1].startswith(f"FAILED: {js['violations']} violations")  # the last line


@pytest.mark.parametrize("alpha", [0.0, 1e-300, 0.3])
def test_fixed_share_underflowing_weights_match_the_reference(alpha):
    # a large step drives the losers' weights below 1e-300, where the kernel
    # leaves the linear form for the log-space one
    R = _replay(6, T=200, N=4)
    res = simulate("fixed-share", "replay", rewards=R, eta=60.0, n_samples=200,
                   forecaster_params={"alpha": alpha})
    ref = run_expert_reference("fixed-share", R, eta=60.0, alpha=alpha)
    np.testing.assert_allclose(res.weights[0, :-1], ref["u_trace"][1:], rtol=1e-9, atol=1e-13)
    if alpha == 0.0:
        assert (res.weights[0] < 1e-300).any()


@pytest.mark.parametrize("name", NEW)
def test_same_seed_same_bits_whatever_the_threads_and_samples(name):
    kw = dict(n_experts=8, T=5000, seeds=4, seed=11)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = simulate(name, "adversarial", n_samples=8, **kw)
        numba.set_num_threads(max(1, min(2, numba.config.NUMBA_NUM_THREADS)))
        two = simulate(name, "adversarial", n_samples=8, **kw)
        # more sampled rounds cut the rounds into more segments: the weights do not change
        many = simulate(name, "adversarial", n_samples=400, **kw)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one.regret, two.regret)
    np.testing.assert_array_equal(one.final_weights, two.final_weights)
    np.testing.assert_array_equal(one.final_weights, many.final_weights)


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("env,extra", [("adversarial", {}), ("stochastic", {}), ("switching", {}),
                                       ("late-bloomer", {}), ("replay", {"eta": 60.0})])
def test_a_seed_gives_the_same_bits_in_any_lane(name, env, extra, monkeypatch):
    # the seeds of a run share a thread in lanes (xnas.pea.kernels.lanes): a lane must
    # compute exactly what its seed computes alone, whichever lane it has and
    # however many share it; 7 experts also take the reductions' remainders.  A lone
    # run has a loop of its own (a literal lane count of 1); 4 and 5 lanes leave a
    # lone seed in the last group, played by the general loop
    import importlib

    from xnas.pea import compiled

    sim_mod = importlib.import_module("xnas.pea.simulate")
    monkeypatch.setattr(compiled, "LONE_LOOP_MIN", 0)  # lanes=1: the one-lane loop, however short the run

    kw = dict(n_samples=16, shifts=3, seed=5, **extra)
    if env == "replay":
        # rewards large enough for Fixed-share's log-space rounds and Squint's careful evidence
        kw.update(rewards=_replay(3, T=400, N=7, scale=1.0), seeds=5)
    else:
        kw.update(n_experts=7, T=3000, seeds=11)
    runs = {}
    for lanes in (1, 3, 4, 5, 8):
        monkeypatch.setattr(sim_mod, "_lanes", lambda *a, lanes=lanes: lanes)
        runs[lanes] = simulate(name, env, **kw)
    for lanes in (3, 4, 5, 8):
        for field in ("regret", "final_weights", "weights", "shifting_regret", "forecaster_reward"):
            np.testing.assert_array_equal(getattr(runs[lanes], field), getattr(runs[1], field), err_msg=field)


def test_lanes_fill_the_threads_and_respect_the_shifting_allowance(monkeypatch):
    import importlib

    sim_mod = importlib.import_module("xnas.pea.simulate")

    monkeypatch.setattr(numba, "get_num_threads", lambda: 2)
    assert sim_mod._lanes(1, 8, -1) == 1
    assert sim_mod._lanes(6, 8, -1) == 3
    assert sim_mod._lanes(100, 8, -1) == sim_mod.MAX_LANES
    assert sim_mod._lanes(100, 8, sim_mod.MAX_CONVEX_SIZE // 8 - 1) == 1
    # a thousand experts fill the vector unit alone; a million would make lanes' blocks gigabytes
    assert sim_mod._lanes(100, 1000, -1) == 4
    assert sim_mod._lanes(100, 10**6, -1) == 1


def test_erfcx_matches_scipy_from_0_to_1e6():
    """The Chebyshev erfcx behind Squint's evidence: relative error <= 1e-14 on
    [0, 1e6] (dense near 0, around K = 3.75 and at the old asymptotic switch 26)."""
    from scipy.special import erfcx

    from xnas.pea.kernels.squint_evidence import _ERFCX_C, _ERFCX_K, _erfcx

    x = np.concatenate([
        [0.0, 5e-324, 1e-300, 1e-8, _ERFCX_K, 26.0, np.nextafter(26.0, 0.0), 1e6],
        np.linspace(0.0, 40.0, 40001), np.geomspace(1e-12, 1e6, 20001),
    ])
    got = np.array([_erfcx(v) for v in x])
    np.testing.assert_allclose(got, erfcx(x), rtol=1e-14, atol=0.0)
    # the coefficients are the Chebyshev interpolant of (1 + 2x) erfcx(x) in t
    k = _ERFCX_K

    def f(t):
        x = k * (1.0 + t) / (1.0 - t)
        return (1.0 + 2.0 * x) * erfcx(x)

    c = np.polynomial.chebyshev.chebinterpolate(f, _ERFCX_C.size - 1)
    np.testing.assert_allclose(c, _ERFCX_C, rtol=0.0, atol=1e-15)


def _kernel_log_evidence(R, V):
    """``ln E`` at each ``(R, V)`` the way the lanes take it: the parts, the
    second look (tails, careful form), the log-weights from the factors (prior 1)."""
    from xnas.pea.kernels.layout import WD_ROWS
    from xnas.pea.kernels.squint import _squint_log_weights, _squint_start

    R = np.atleast_1d(np.asarray(R, float))
    st = np.zeros((4, R.size))
    st[0] = R
    st[1] = np.atleast_1d(np.asarray(V, float))
    wd = np.zeros((WD_ROWS, R.size))
    _squint_start(st, wd)
    a = np.empty(R.size)
    _squint_log_weights(a, wd)
    return a


def _kind(R, V):
    from xnas.pea.kernels.squint_evidence import squint_evidence_parts

    return squint_evidence_parts(R, V)[3]


@pytest.mark.parametrize("R,V", [(-300.0, 500.0), (-400.0, 150.0), (-1e4, 5e3), (10.0, 600.0), (-3.0, 600.0),
                                 (0.0, 600.0), (200.0, 1e3), (-1e4, 1e5), (5e5, 2e6), (-2e3, 1e7)])
def test_squint_fast_evidence_matches_quadrature(R, V):
    """The branch-free evidence of the vectorised loop, on its domain."""
    from xnas.pea.kernels.squint_evidence import KIND_FAST

    assert _kind(R, V) == KIND_FAST
    want = squint_log_evidence_quad(R, V)
    assert _kernel_log_evidence(R, V)[0] == pytest.approx(want, rel=1e-11, abs=1e-11)
    assert squint_log_evidence(R, V) == pytest.approx(want, rel=1e-11, abs=1e-11)


def test_squint_fast_evidence_agrees_with_the_closed_form_on_random_points():
    from xnas.pea.kernels.squint_evidence import KIND_CAREFUL, KIND_FAST, KIND_TAIL

    rng = np.random.default_rng(0)
    V = 10.0 ** rng.uniform(-2.0, 9.0, 20000)
    R = rng.normal(size=V.size) * np.sqrt(V) * rng.uniform(0.0, 8.0, V.size)
    got = _kernel_log_evidence(R, V)
    kinds = np.array([_kind(r, v) for r, v in zip(R, V)])
    want = np.array([squint_log_evidence(r, v) for r, v in zip(R, V)])
    # the careful form itself is off by up to 2e-13 where it cancels (V near 1e2-1e3)
    err = np.abs(got - want) / np.maximum(1.0, np.abs(want))
    assert err[kinds != KIND_CAREFUL].max() <= 3e-13
    assert (err[kinds == KIND_CAREFUL] == 0.0).all()
    assert (kinds == KIND_FAST).sum() > 5000 and (kinds == KIND_TAIL).sum() > 100


def test_squint_series_in_the_monomial_basis_are_the_chebyshev_ones():
    """Estrin's scheme runs on the monomial forms of the two Chebyshev series."""
    from xnas.pea.kernels.squint_evidence import _ERFCX_C, _ERFCX_M, _G_C, _G_M, _poly24

    t = np.concatenate([np.linspace(-1.0, 1.0, 4001), [-1.0, 1.0, 0.0, 1e-300]])
    for c, m in ((_G_C, _G_M), (_ERFCX_C, _ERFCX_M)):
        got = np.array([_poly24(m, x) for x in t])
        np.testing.assert_allclose(got, np.polynomial.chebyshev.chebval(t, c), rtol=0.0, atol=2e-15)


def test_squint_evidence_kinds():
    from xnas.pea.kernels.squint_evidence import KIND_CAREFUL, KIND_FAST, KIND_TAIL, squint_evidence_parts

    def kind(R, V):
        return squint_evidence_parts(R, V)[3]

    assert kind(-300.0, 500.0) == kind(200.0, 1e3) == kind(5e5, 2e6) == KIND_FAST
    # a leader: the part beyond eta = 1/2 counts (c > -130), b < 0
    assert kind(8.1, 10.1) == kind(33.0, 151.0) == kind(-30.0, 400.0) == kind(0.9, 1.0) == KIND_TAIL
    # e^c alone would overflow there (c = 750): the tail comes scaled by e^{-p2}
    assert kind(3500.0, 4000.0) == KIND_TAIL
    # b >= 0, V below 1, V tiny, R or V out of range
    for R, V in [(12.0, 10.0), (2e6, 2e6), (0.3, 0.5), (0.0, 0.0), (-1e13, 1e14), (0.0, 1e25)]:
        assert kind(R, V) == KIND_CAREFUL


@pytest.mark.parametrize("R,V", [(33.0, 151.0), (8.1, 10.1), (10.5, 19.3), (9.0, 17.9), (0.9, 1.0),
                                 (-0.5, 2.0), (-30.0, 400.0), (100.0, 500.0), (3.0, 3.5), (1.2, 1.3),
                                 (3500.0, 4000.0)])
def test_squint_evidence_less_its_tail_matches_quadrature(R, V):
    """Squint's leaders: Hedge-like weight on one expert keeps its regrets small,
    so the integral beyond eta = 1/2 counts, and the parts lose it again."""
    from xnas.pea.kernels.squint_evidence import KIND_TAIL

    assert _kind(R, V) == KIND_TAIL
    want = squint_log_evidence_quad(R, V)
    assert _kernel_log_evidence(R, V)[0] == pytest.approx(want, rel=1e-13, abs=1e-13)


@pytest.mark.parametrize("points,G", [
    # every kind, with weights of comparable size (one huge p2 would leave the others at 0)
    ([(-300.0, 500.0), (8.1, 10.1), (12.0, 10.0), (0.3, 0.5), (60.0, 900.0), (-1e4, 5e3), (200.0, 1e3)], 3),
    # leaders only: six tails, their padding capped at the row's length
    ([(8.1, 10.1), (33.0, 151.0), (-0.5, 2.0)], 2),
])
def test_squint_factored_mixture_is_the_softmax_of_its_log_weights(points, G):
    """The lanes play ``w = pi e^{-m} f1 + e^{A - m} f2``; normalised, that must
    be the softmax of ``ln pi + ln E`` (E from the careful closed form), in every
    lane and for every kind of point; so must the log-weights written from the factors."""
    from xnas.pea.kernels.layout import LN_RBAR, LN_ROWS, LN_S, WD_PI, WD_PRIOR, WD_ROWS, WD_W
    from xnas.pea.kernels.squint import _squint_log_weights, _squint_mix, _squint_start

    n = len(points)
    rng = np.random.default_rng(5)
    st = np.zeros((4, n * G))
    wd = np.zeros((WD_ROWS, n * G))
    for g in range(G):
        order = rng.permutation(n)
        prior = rng.dirichlet(np.ones(n))
        for i in range(n):
            st[0, i * G + g], st[1, i * G + g] = points[order[i]]
            wd[WD_PRIOR, i * G + g] = math.log(prior[i])
    wd[WD_PI] = np.exp(wd[WD_PRIOR])  # as _init_lanes sets it
    ln = np.zeros((LN_ROWS, G))
    R = rng.uniform(-1.0, 1.0, (1, n * G))
    _squint_start(st, wd)
    a = np.empty(n * G)
    _squint_log_weights(a, wd)
    _squint_mix(np.zeros(n * G), R, 0, G, wd, ln)
    # against the careful closed form, independent of the parts
    want_log = wd[WD_PRIOR] + np.array([squint_log_evidence(r, v) for r, v in zip(st[0], st[1])])
    np.testing.assert_allclose(a, want_log, rtol=1e-12, atol=1e-12)
    for g in range(G):
        want = np.exp(want_log[g::G] - want_log[g::G].max())
        want /= want.sum()
        np.testing.assert_allclose(wd[WD_W, g::G] / ln[LN_S, g], want, rtol=1e-12, atol=1e-300)
        assert ln[LN_RBAR, g] == pytest.approx(want @ R[0, g::G], rel=1e-12, abs=1e-15)


def _squint_plain(R, prior):
    """Squint round by round over the careful closed form: the final mixture
    and the kinds of point met on the way (every 97th round)."""
    from xnas.pea.kernels.squint_evidence import squint_evidence_parts

    T, N = R.shape
    reg = np.zeros(N)
    sq = np.zeros(N)
    logp = np.log(prior / prior.sum())
    u = prior / prior.sum()
    kinds = set()
    for t in range(T):
        rho = (R[t] - u @ R[t]) / 2.0
        reg += rho
        sq += rho * rho
        lw = logp + np.array([squint_log_evidence(r, v) for r, v in zip(reg, sq)])
        u = np.exp(lw - lw.max())
        u /= u.sum()
        if t % 97 == 0:
            kinds |= {squint_evidence_parts(r, v)[3] for r, v in zip(reg, sq)}
    return u, kinds


def test_squint_long_run_matches_the_closed_form_round_by_round():
    """20,000 rounds of +-1 rewards: the leaders' evidence needs its tail, the
    others' the fast path; the lanes' factored rounds (three lanes of the same
    stream) must agree with a plain loop over the careful closed form."""
    from xnas.pea.kernels.squint_evidence import KIND_FAST, KIND_TAIL

    T, N = 20_000, 4
    R = np.random.default_rng(11).choice([-1.0, 1.0], size=(T, N))
    res = simulate("squint", "replay", rewards=R, n_samples=4, seeds=3)
    u, kinds = _squint_plain(R, np.ones(N))
    assert {KIND_FAST, KIND_TAIL} <= kinds
    for g in range(3):
        np.testing.assert_allclose(res.final_weights[g], u, rtol=1e-9, atol=1e-14)


def test_squint_tiny_prior_leader_far_past_its_tail():
    """An expert with a prior of 1e-310 that loses once, then beats the other by
    2 L for 3,199 rounds: its regret stays just below V (``b < 0``) while ``c =
    R/2 - V/4`` passes 709, where ``e^c`` overflows."""
    T = 3200
    R = np.zeros((T, 2))
    R[:, 0] = -1.0
    R[:, 1] = 1.0
    R[0] = [1.0, -1.0]
    prior = np.array([1.0, 1e-310])
    res = simulate("squint", "replay", rewards=R, init_weights=prior, n_samples=8)
    u, _ = _squint_plain(R, prior)
    assert np.isfinite(res.weights).all()
    np.testing.assert_allclose(res.final_weights[0], u, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("n,G", [(7, 3), (70, 2), (8, 5)])
def test_adversarial_rewards_in_lanes_are_each_seeds_own(n, G):
    """The lanes draw their +-L rewards straight into their columns; each lane
    must get exactly the block its seed draws alone (70 experts: two words a round)."""
    from xnas.pea.kernels.env import BLOCK, _adversarial_block, _adversarial_lanes
    from xnas.pea.kernels.rng import _seed_state

    state = np.empty((G, 1), np.uint64)
    for g in range(G):
        _seed_state(100 + g, state[g])
    alone = state.copy()
    R = np.zeros((BLOCK, n * G))
    for _ in range(2):  # the streams go on across blocks
        _adversarial_lanes(state, R, 100, 2.5)
        for g in range(G):
            want = np.zeros((100, n))
            _adversarial_block(alone[g], want, 100, 2.5)
            np.testing.assert_array_equal(R[:100, g::G], want)
    assert set(np.unique(R[:100])) == {-2.5, 2.5}
