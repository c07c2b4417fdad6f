"""The learning-rate calculator and ``xnas-nas lr``."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from xnas.cli.nas import main
from xnas.nas.arch.lr import cell_replications, learning_rates, reduction_layers, rounds_per_epoch, validation_size
from xnas.pea.rule import eta_star


def test_formula_and_horizon():
    r = learning_rates(25_000, 50, 6, 2, experts=8, L=1.0)
    assert r.horizon_normal == 25_000 * 50 * 6 and r.horizon_reduce == 25_000 * 50 * 2
    assert r.eta_normal == pytest.approx(math.sqrt(2 * math.log(8) / (7.5e6)))
    assert r.eta_reduce == eta_star(8, 2.5e6, 1.0)
    # L scales eta as 1/L, replications as 1/sqrt(r)
    assert learning_rates(25_000, 50, 6, 2, L=2.0).eta_normal == pytest.approx(r.eta_normal / 2)
    assert r.eta_reduce / r.eta_normal == pytest.approx(math.sqrt(3))


def test_replications_and_sizes():
    assert reduction_layers(8) == (2, 5)
    assert cell_replications(8) == (6, 2)
    assert cell_replications(20) == (18, 2)
    assert cell_replications(5) == (3, 2)
    assert validation_size(50_000, 0.5) == 25_000
    assert rounds_per_epoch(25_000, 96) == 24_960
    for bad in [lambda: learning_rates(0, 50, 6, 2), lambda: learning_rates(10, 0, 6, 2),
                lambda: learning_rates(10, 5, 6, 2, experts=1), lambda: learning_rates(10, 5, 0, 0),
                lambda: validation_size(100, 1.0), lambda: rounds_per_epoch(10, 20)]:
        with pytest.raises(ValueError):
            bad()


def test_cli_prints_the_papers_learning_rates():
    res = CliRunner().invoke(main, ["lr", "cifar10"])
    assert res.exit_code == 0, res.output
    lines = {line.split()[0]: line.split() for line in res.output.splitlines() if line.split()}
    assert lines["normal"][3] == "7.5e-04"  # eta_N* of section 3.2.2
    assert lines["reduce"][3] == "1.3e-03"  # eta_R*


def test_cli_json_keys_and_options():
    res = CliRunner().invoke(main, ["lr", "cifar10", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert f"{d['eta_normal']:.1e}" == "7.5e-04" and f"{d['eta_reduce']:.1e}" == "1.3e-03"
    assert d["rounds_per_epoch"] == 24_960
    res = CliRunner().invoke(main, ["lr", "cifar10", "--json", "-d", "1000", "-E", "10", "-b", "1",
                                    "--replications-normal", "4", "--replications-reduce", "1", "-N", "4", "--L", "0.5"])
    d = json.loads(res.output)
    assert d["eta_normal"] == pytest.approx(eta_star(4, 1000 * 10 * 4, 0.5))
    assert d["eta_reduce"] == pytest.approx(eta_star(4, 1000 * 10 * 1, 0.5))
    res = CliRunner().invoke(main, ["lr", "svhn", "--json", "--size", "1000", "--split", "0.8", "-b", "1"])
    assert json.loads(res.output)["rounds_per_epoch"] == 200


@pytest.mark.parametrize(
    "args,match",
    [
        (["lr", "nosuchdata"], "unknown dataset"),
        (["lr", "cifar10", "--L", "0"], "L must be positive"),
        (["lr", "cifar10", "-N", "1"], "at least 2 experts"),
        (["lr", "cifar10", "--split", "1.5"], "split"),
        (["lr", "cifar10", "-E", "0"], "epochs"),
        (["lr", "cifar10", "--layers", "2"], "layers"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(args, match):
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2
    out = res.output.strip().splitlines()
    assert len(out) == 1 and match in out[0] and "Traceback" not in res.output


def test_rounds_per_epoch_follow_the_shorter_half():
    from xnas.nas.arch.lr import rounds_per_epoch

    assert rounds_per_epoch(25_000, 96) == 24_960
    assert rounds_per_epoch(25_000, 96, train_size=25_000) == 24_960
    # split 0.3: the network-weight half is the shorter one and ends the epoch
    assert rounds_per_epoch(35_000, 96, train_size=15_000) == (15_000 // 96) * 96


@pytest.mark.parametrize("L", [1e-200, 1e300, float("inf"), 0.0, -1.0])
def test_extreme_L_is_a_one_line_value_error(L: float) -> None:
    from xnas.nas.arch.lr import learning_rates
    from xnas.pea.rule import eta_star

    with pytest.raises(ValueError, match="L must") as info:
        learning_rates(1000, 10, 6, 2, L=L)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="L must"):
        eta_star(8, 1000.0, L)


def test_eta_star_is_finite_across_the_accepted_range() -> None:
    import math

    from xnas.pea.rule import REWARD_BOUND_RANGE, eta_star

    lo, hi = REWARD_BOUND_RANGE
    for L in (lo, 1.0, hi):
        eta = eta_star(8, 1e6, L)
        assert math.isfinite(eta) and eta > 0
        assert math.isclose(eta, math.sqrt(2 * math.log(8) / 1e6) / L, rel_tol=1e-12)


@pytest.mark.parametrize("L", ["1e-200", "1e300"])
def test_lr_cli_extreme_L(L: str) -> None:
    from click.testing import CliRunner

    from xnas.cli.nas import main

    result = CliRunner().invoke(main, ["lr", "digits", "--L", L], standalone_mode=False)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "must be positive and finite, in" in result.output
