"""xnas-sim hostile input: extreme initial weights and Adam's eps = 0 (one line, exit 2), and replayed
rewards outside [-L, L] (one rule for every forecaster, said in one line)."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from xnas.cli.sim import main
from xnas.pea.forecasters import FORECASTERS
from cli_checks import assert_one_line_exit_2


def test_init_weights_whose_ratio_underflows_name_the_option():
    res = CliRunner().invoke(main, ["regret", "--T", "50", "--experts", "3", "--seeds", "1",
                                    "--init-weights", "1e308,1e308,1e-308"])
    assert_one_line_exit_2(res, "--init-weights", "616 orders")
    assert "eta" not in res.output and "RuntimeWarning" not in res.output


@pytest.mark.parametrize("forecaster", list(FORECASTERS))
def test_replayed_rewards_outside_the_bound_are_clipped_for_every_forecaster(forecaster, tmp_path):
    """One rule: every forecaster plays and is scored on the stream clipped to [-L, L], said in one line."""
    R = np.random.default_rng(0).uniform(-1, 1, (40, 3))
    R[3, 1] = 1e300
    np.save(tmp_path / "big.npy", R)
    np.save(tmp_path / "clipped.npy", np.clip(R, -1, 1))
    big = CliRunner().invoke(main, ["regret", "--rewards", str(tmp_path / "big.npy"), "--forecaster", forecaster,
                                    "--seeds", "1", "--json"])
    assert big.exit_code == 0, big.output
    assert big.stderr.count("\n") == 1 and "1 replayed reward(s) lie outside [-L, L]" in big.stderr
    clipped = CliRunner().invoke(main, ["regret", "--rewards", str(tmp_path / "clipped.npy"), "--forecaster",
                                        forecaster, "--seeds", "1", "--json"])
    assert clipped.stderr == ""
    a, b = json.loads(big.stdout), json.loads(clipped.stdout)
    assert a["regret"] == b["regret"] and a["regret"] <= a["bound"]


@pytest.mark.parametrize("eps", ["0", "-1e-8"])
def test_adam_eps_must_be_positive(eps):
    res = CliRunner().invoke(main, ["regret", "--T", "50", "--forecaster", "adam-softmax",
                                    "--forecaster-param", f"eps={eps}"])
    assert_one_line_exit_2(res, "eps must be positive")
