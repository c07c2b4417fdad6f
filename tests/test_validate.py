"""``xnas-sim validate`` must be able to fail: a wrong threshold, and Lemma 2's tighter form."""

import math

import numpy as np
import pytest

from xnas.pea import simulate
from xnas.pea.validate import check_runs


@pytest.mark.parametrize("zeta", [0.5, 0.9])
def test_validate_fails_when_the_threshold_margin_is_scaled_down(zeta):
    # a margin 2 eta L (T - t) zeta with zeta < 1 wipes the near-threshold
    # expert, which is the best by its rewards: Lemma 1 must be reported broken
    from xnas.pea.validate import run_battery

    rep = run_battery(quick=True, zeta=zeta, envs=("replay-threshold",))
    (g,) = rep["groups"]
    assert g["runs"] == 36
    assert g["lemma1_violations"] == g["runs"]
    assert rep["violations"] > 0


def test_validate_near_threshold_group_passes_with_the_papers_threshold():
    from xnas.pea.validate import run_battery

    rep = run_battery(quick=True, zeta=1.0, envs=("replay-threshold",))
    assert rep["runs"] == 36 and rep["violations"] == 0
    assert any("best by its cumulative rewards" in n for n in rep["notes"])


def test_near_threshold_expert_is_best_and_survives_only_the_exact_threshold():
    from xnas.pea.streams import near_threshold_rewards

    R = near_threshold_rewards(1001, 4, 1.0, np.random.default_rng(3))
    assert np.abs(R).max() <= 1.0
    cum = R.sum(axis=0)
    b = int(cum.argmax())
    assert cum[b] > np.sort(cum)[-2] + 1e-6
    for zeta, survives in ((1.0, True), (0.999, False), (0.5, False)):
        res = simulate("xnas", "replay", rewards=R, eta=0.05, zeta=zeta, n_samples=4)
        assert bool(res.wipe_round[0, b] == 0) is survives, zeta


def test_lemma2_tight_form_flags_more_wipeout_than_the_survivors_allow():
    # gamma_T <= N / |I_T|: with 2 of 8 alive, ln gamma_T may reach ln 4 but not more
    from types import SimpleNamespace

    def fake(log_gamma):
        return SimpleNamespace(bound=np.array([10.0]), final_regret=np.array([1.0]), log_gamma_T=np.array([log_gamma]),
                               n_experts=8, seeds=np.array([0]), eta=0.1, T=100, L=1.0,
                               best_survived=np.array([True]), survivors=np.array([2]))

    (ok,) = check_runs(fake(math.log(4.0) - 1e-6))
    (bad,) = check_runs(fake(math.log(4.0) + 1e-3))
    assert ok.lemma2 and ok.lemma2_alive
    assert bad.lemma2 and not bad.lemma2_alive  # the loose Lemma 2 alone misses it


@pytest.mark.parametrize("zeta,code", [(0.5, 1), (0.9, 1), (1.0, 0)])
def test_validate_command_exits_1_on_a_scaled_threshold(monkeypatch, zeta, code):
    # the command reads run_battery from the module when it runs: give it the wrong threshold
    import functools

    from click.testing import CliRunner

    import xnas.pea.validate as V
    from xnas.cli.sim import main

    monkeypatch.setattr(V, "run_battery", functools.partial(V.run_battery, zeta=zeta, envs=("replay-threshold",)))
    res = CliRunner().invoke(main, ["validate", "--quick"])
    assert res.exit_code == code, res.output
    assert ("FAILED" in res.output) is (code == 1)
