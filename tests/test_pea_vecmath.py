"""The vectorisable exp, log and log1p of xnas.pea.kernels.vecmath against NumPy, over the whole double range."""

import numpy as np
import pytest

from xnas.pea.kernels.vecmath import exp_v, log1p_v, log_v


def _ulps(got, want):
    """Largest distance in units of the last place of ``want``; equal values (incl. inf, nan) count 0."""
    same = (got == want) | (np.isnan(got) & np.isnan(want))
    with np.errstate(invalid="ignore"):
        d = np.abs(got - want) / np.spacing(np.abs(want))
    return float(np.where(same, 0.0, d).max())


def test_exp_within_one_ulp_everywhere():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-750.0, 712.0, 400_000), rng.uniform(-1.0, 1.0, 200_000),
                        rng.uniform(-745.2, -707.0, 100_000),  # subnormal results
                        np.linspace(-0.35, 0.35, 1001),
                        [709.782712893384, 709.79, -745.1332191019411, -745.14, -708.4, 1e-300, -1e-300,
                         0.0, -0.0, 1.0, np.log(2.0) / 2]])
    with np.errstate(over="ignore", under="ignore"):
        assert _ulps(exp_v(x), np.exp(x)) <= 1.0


def test_exp_special_values():
    x = np.array([-np.inf, np.inf, np.nan, -1e308, 1e308, 0.0])
    got = exp_v(x)
    assert got[0] == 0.0 and got[1] == np.inf and np.isnan(got[2])
    assert got[3] == 0.0 and got[4] == np.inf and got[5] == 1.0


def test_log_within_one_ulp_everywhere():
    rng = np.random.default_rng(1)
    x = np.concatenate([np.exp(rng.uniform(-745.0, 709.0, 400_000)), rng.uniform(0.5, 2.0, 200_000),
                        rng.uniform(0.0, 1e-310, 2000), 1.0 + rng.uniform(-1e-8, 1e-8, 2000),
                        [5e-324, 2.2250738585072014e-308, 1.0, 2.0, np.sqrt(2.0), np.nextafter(np.sqrt(2.0), 0),
                         1.7976931348623157e308]])
    assert _ulps(log_v(x), np.log(x)) <= 1.0


def test_log_special_values():
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.array([0.0, -0.0, -1.0, np.inf, -np.inf, np.nan])
        got = log_v(x)
    assert got[0] == -np.inf and got[1] == -np.inf and np.isnan(got[2])
    assert got[3] == np.inf and np.isnan(got[4]) and np.isnan(got[5])


def test_log1p_within_one_ulp_everywhere():
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.uniform(-1.0, 10.0, 300_000), 10.0 ** rng.uniform(-320.0, 300.0, 300_000),
                        -(10.0 ** rng.uniform(-320.0, -1e-4, 50_000)), [0.0, -0.5, 1e-17, -1e-17, np.inf]])
    with np.errstate(divide="ignore"):
        assert _ulps(log1p_v(x), np.log1p(x)) <= 1.0
    assert log1p_v(np.array([-1.0]))[0] == -np.inf


@pytest.mark.parametrize("fn", [exp_v, log_v, log1p_v])
def test_same_input_same_bits(fn):
    x = np.random.default_rng(3).uniform(0.0, 50.0, 1001)
    assert np.array_equal(fn(x), fn(x.copy()))


@pytest.mark.parametrize("n", [1, 3, 4, 5, 8, 11])
def test_softmax_and_mixture_reward_match_numpy(n):
    from xnas.pea.kernels.vecmath import softmax_v

    rng = np.random.default_rng(n)
    a = rng.normal(0.0, 30.0, n)
    a[rng.random(n) < 0.3] = -np.inf
    a[0] = 2.0
    r = rng.uniform(-1.0, 1.0, n)
    u, rbar = softmax_v(a, r)
    want = np.exp(a - a.max()) / np.exp(a - a.max()).sum()
    np.testing.assert_allclose(u, want, rtol=1e-14, atol=0)
    assert rbar == pytest.approx(float(want @ r), rel=1e-13, abs=1e-15)
