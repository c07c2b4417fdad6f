"""The reference rule itself (pea/rule.py) against hand-computed rounds."""

import math

import numpy as np
import pytest

from xnas.pea.rule import clip_rewards, eta_star, log_threshold, mixture, xnas_update


def test_eta_star_formula():
    assert eta_star(8, 100_000, 1.0) == pytest.approx(math.sqrt(2 * math.log(8) / 100_000))
    assert eta_star(2, 4, 2.0) == pytest.approx(math.sqrt(2 * math.log(2) / (4 * 4)))


@pytest.mark.parametrize("bad", [(1, 10, 1.0), (8, 0, 1.0), (8, 10, 0.0), (8, 10, -1.0)])
def test_eta_star_rejects_bad_input(bad):
    with pytest.raises(ValueError):
        eta_star(*bad)


def test_one_round_by_hand():
    logw = np.log(np.full(3, 1 / 3))
    R = np.array([2.0, 0.5, -3.0])  # the first and last are clipped to +-1
    out, wiped, lg = xnas_update(logw, R, eta=0.5, reward_bound=1.0, zeta=1.0, t=9, horizon=10)
    expected = logw + 0.5 * np.array([1.0, 0.5, -1.0])
    # threshold: max - 2 * 0.5 * 1 * (10 - 9) = max - 1: expert 2 (gap 1.0) is not below it
    assert not wiped.any() and lg == 0.0
    np.testing.assert_allclose(out, expected)
    out, wiped, lg = xnas_update(logw, R, eta=0.5, reward_bound=1.0, zeta=0.5, t=9, horizon=10)
    # with zeta = 0.5 the margin is 0.5: experts 1 (gap 0.25) survives, 2 (gap 1.0) goes
    assert wiped.tolist() == [False, False, True]
    v = np.exp(expected)
    assert lg == pytest.approx(math.log(v.sum() / v[:2].sum()))
    assert out[2] == -math.inf


def test_wiped_experts_stay_wiped_and_final_round_keeps_leaders():
    logw = np.array([0.0, -math.inf, 0.0, -0.1])
    out, wiped, _ = xnas_update(logw, np.zeros(4), 1.0, 1.0, 1.0, t=5, horizon=5)
    assert out[1] == -math.inf and not wiped[1]
    # at t = T the margin is 0: everyone strictly behind the leaders goes, ties stay
    assert wiped.tolist() == [False, False, False, True]


def test_batch_rounds_scale_the_clip():
    R = np.array([5.0, -5.0])
    assert clip_rewards(R, 1.0, rounds=3).tolist() == [3.0, -3.0]
    out, _, _ = xnas_update(np.zeros(2), R, 0.1, 1.0, 1.0, t=3, horizon=100, rounds=3)
    np.testing.assert_allclose(out, [0.3, -0.3])


def test_mixture_and_threshold():
    np.testing.assert_allclose(mixture(np.array([0.0, -math.inf, math.log(3)])), [0.25, 0.0, 0.75])
    assert log_threshold(2.0, 0.1, 1.0, 0.5, 10) == pytest.approx(2.0 - 1.0)


def test_unclipped_rewards_pass_through():
    out, _, _ = xnas_update(np.zeros(2), np.array([4.0, 0.0]), 0.1, 1.0, 1.0, 1, 1000, clip=False)
    np.testing.assert_allclose(out, [0.4, 0.0])
