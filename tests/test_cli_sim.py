"""xnas-sim through click's CliRunner."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from xnas.cli.sim import main

KEYS = {"experts", "T", "env", "forecaster", "eta", "L", "zeta", "seeds", "regret", "regret_std", "bound",
        "gamma_T", "survivors", "best_survived", "seconds"}


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_regret_json_has_the_contract_keys():
    r = run("regret", "--experts", "8", "--T", "20000", "--seeds", "3", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert KEYS <= set(out)
    assert out["experts"] == 8 and out["T"] == 20000 and out["seeds"] == 3
    assert out["eta"] == pytest.approx(np.sqrt(2 * np.log(8) / 20000))
    assert out["regret"] <= out["bound"]
    assert out["best_survived"] == 1.0


def test_regret_is_reproducible_and_seed_dependent():
    a = json.loads(run("regret", "--T", "5000", "--json", "--seed", "4").stdout)
    b = json.loads(run("regret", "--T", "5000", "--json", "--seed", "4").stdout)
    c = json.loads(run("regret", "--T", "5000", "--json", "--seed", "5").stdout)
    assert a["regret"] == b["regret"] and a["regret"] != c["regret"]


def test_regret_table_and_plot(tmp_path):
    png = tmp_path / "r.png"
    r = run("regret", "--T", "3000", "--env", "late-bloomer", "--plot", str(png))
    assert r.exit_code == 0, r.output
    assert "regret=" in r.stdout and png.stat().st_size > 1000


def test_replay_file(tmp_path):
    R = np.random.default_rng(0).uniform(-1, 1, (500, 3))
    p = tmp_path / "r.npy"
    np.save(p, R)
    out = json.loads(run("regret", "--rewards", str(p), "--json").stdout)
    assert out["env"] == "replay" and out["T"] == 500 and out["experts"] == 3


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--experts", "1"], "--experts"),
        (["--T", "0"], "--T"),
        (["--eta", "0"], "--eta"),
        (["--eta", "-1"], "--eta"),
        (["--eta", "fast"], "--eta"),
        (["--L", "0"], "--L"),
        (["--zeta", "0"], "--zeta"),
        (["--zeta", "1.5"], "--zeta"),
        (["--env", "nope"], "adversarial"),
        (["--forecaster", "nope"], "xnas"),
        (["--rewards", "/nonexistent/r.npy"], "not found"),
        (["--env-param", "gap"], "KEY=VALUE"),
        (["--env", "stochastic", "--env-param", "nope=1"], "no parameter"),
        (["--experts", "two"], "--experts"),
        (["--experts", "3", "--init-weights", "1,2"], "init_weights"),
        (["--experts", "2", "--init-weights", "1,-2"], "init_weights"),
        (["--init-weights", "a,b"], "--init-weights"),
        # non-finite, non-integer or out-of-range parameters never pass or crash
        (["--env", "stochastic", "--env-param", "noise=inf"], "noise"),
        (["--env", "stochastic", "--env-param", "best=nan"], "best"),
        (["--env", "late-bloomer", "--env-param", "warmup=nan"], "warmup"),
        (["--env", "convex", "--env-param", "dim=inf"], "dim"),
        (["--env", "convex", "--env-param", "dim=2.5"], "dim"),
        (["--env", "convex", "--env-param", "dim=1e12"], "dim"),
        (["--env", "switching", "--env-param", "k=inf"], "k"),
        (["--env", "switching", "--env-param", "k=1e13"], "k"),
        (["--env", "switching", "--T", "100000000000", "--env-param", "k=10000000000"], "k"),
        (["--T", "99999999999999999999"], "T"),
        (["--forecaster-param", "clip=nan"], "clip"),
        (["--forecaster", "adam-softmax", "--forecaster-param", "beta1=1"], "beta1"),
        (["--forecaster", "sgd-softmax", "--forecaster-param", "momentum=-1"], "momentum"),
        (["--seed", "9223372036854775807", "--seeds", "2"], "seed"),
        (["--eta", "1e-310"], "non-finite"),
        (["--seeds", "1000000000000"], "allocate"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, needle):
    r = run("regret", *args)
    assert r.exit_code == 2, r.output
    # a cold numba cache adds its one announcement line before the first run of a process
    lines = [line for line in r.output.splitlines() if line.strip() and "compiling kernels" not in line]
    assert len(lines) == 1, r.output
    assert needle in lines[0]
    assert "Traceback" not in r.output


@pytest.mark.parametrize("content", ["1d", "nan", "inf", "text"])
def test_bad_reward_files(tmp_path, content):
    p = tmp_path / "r.npy"
    if content == "1d":
        np.save(p, np.zeros(10))
    elif content == "nan":
        a = np.zeros((10, 3))
        a[4, 1] = np.nan
        np.save(p, a)
    elif content == "inf":
        a = np.zeros((10, 3))
        a[0, 0] = np.inf
        np.save(p, a)
    else:
        p.write_text("not an array")
    r = run("regret", "--rewards", str(p))
    assert r.exit_code == 2
    assert len([x for x in r.output.splitlines() if x.strip()]) == 1


def test_list_names_every_registry_entry():
    from xnas.pea import ENVIRONMENTS, FORECASTERS

    out = json.loads(run("list", "--json").stdout)
    assert set(out["environments"]) == set(ENVIRONMENTS)
    assert set(out["forecasters"]) == set(FORECASTERS)


def test_sim_cli_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, xnas.cli.sim; sys.exit(1 if 'torch' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_init_weights_change_the_run_and_enter_the_bound():
    base = json.loads(run("regret", "--experts", "3", "--T", "2000", "--json").stdout)
    skew = json.loads(run("regret", "--experts", "3", "--T", "2000", "--init-weights", "1,1,1", "--json").stdout)
    assert skew["regret"] == base["regret"]  # normalised: same as uniform
    tilted = json.loads(run("regret", "--experts", "3", "--T", "2000", "--init-weights", "8,1,1", "--json").stdout)
    assert tilted["regret"] != base["regret"]


def test_plot_path_that_cannot_be_written_is_one_line(tmp_path):
    for path in (tmp_path, "/sys/xnas-plot.png"):  # a folder; a folder nobody may write (sysfs)
        r = run("regret", "--T", "100", "--seeds", "1", "--plot", str(path))
        assert r.exit_code == 2, r.output
        lines = [line for line in r.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "--plot" in lines[0], r.output


def test_validate_rejects_a_seed_beyond_64_bits():
    r = run("validate", "--quick", "--seed", str(2**63))
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "--seed" in r.output, r.output


def test_switching_default_k_runs_on_tiny_horizons():
    # k is capped by T - 1 switches, but the registered default stays valid for any T
    r = run("regret", "--env", "switching", "--T", "2", "--seeds", "1", "--json")
    assert r.exit_code == 0, r.output


def test_init_weights_near_the_float_limit_normalise_without_overflow():
    base = json.loads(run("regret", "--experts", "2", "--T", "500", "--json").stdout)
    r = run("regret", "--experts", "2", "--T", "500", "--init-weights", "1e308,1e308", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["regret"] == base["regret"]


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--L", "1e-200"], "--L"),
        (["--L", "1e300"], "--L"),
        (["--env", "stochastic", "--env-param", "noise=-1"], "noise"),
        (["--env", "late-bloomer", "--env-param", "noise=-0.5"], "noise"),
        (["--env", "stochastic", "--env-param", "best=-5"], "best"),
        (["--env", "late-bloomer", "--env-param", "best=-2"], "best"),
        (["--seed", "4611686018427387904"], "--seed"),
    ],
)
def test_more_bad_input_is_one_line_and_exit_2(args, needle):
    r = run("regret", "--T", "1000", "--seeds", "2", *args)
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.output


@pytest.mark.parametrize("extra", [["--env", "stochastic"], ["--T", "10"], ["--experts", "4"]])
def test_rewards_with_env_T_or_experts_is_rejected(tmp_path, extra):
    p = tmp_path / "r.npy"
    np.save(p, np.zeros((20, 3)))
    r = run("regret", "--rewards", str(p), *extra)
    assert r.exit_code == 2, r.output
    assert "--rewards" in r.output and extra[0] in r.output
    assert run("regret", "--rewards", str(p), "--env", "replay").exit_code == 0


def test_fifo_as_rewards_does_not_block(tmp_path):
    import os

    fifo = tmp_path / "r.npy"
    os.mkfifo(fifo)
    r = run("regret", "--rewards", str(fifo))  # would block forever on open() before the fix
    assert r.exit_code == 2 and "regular file" in r.output


def test_figure_seeds_beyond_memory_is_one_line(tmp_path):
    r = run("figure", "late-bloomers", "--quick", "--seeds", "1000000000", "--out", str(tmp_path / "f"))
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "memory" in lines[0] and "Traceback" not in r.output
    assert not (tmp_path / "f" / "late-bloomers.png").exists()


def test_one_seed_rule_for_both_tools():
    from xnas.limits import LimitError, check_seed

    for bad in (-1, 2**62, 1.5):
        with pytest.raises(LimitError, match="--seed"):
            check_seed(bad)
    assert check_seed(0) == 0 and check_seed(2**62 - 1) == 2**62 - 1
    assert run("regret", "--T", "100", "--seeds", "2", "--seed", "-1").exit_code == 2
    assert run("figure", "late-bloomers", "--quick", "--seed", "-1").exit_code == 2


def test_ops_parsing_rejects_empty_names():
    from xnas.nas.spaces.darts.genotypes import GenotypeError, parse_ops

    with pytest.raises(GenotypeError, match="empty"):
        parse_ops("sep_conv_3x3,,skip_connect")
    with pytest.raises(GenotypeError, match="more than once"):
        parse_ops("skip_connect,skip_connect")
    assert parse_ops(" sep_conv_3x3 , skip_connect ") == ("sep_conv_3x3", "skip_connect")


def _result_line(stdout):
    """The ``key=value`` result line of ``regret`` as a dict of strings."""
    (line,) = [ln for ln in stdout.splitlines() if ln.startswith("regret=")]
    return dict(pair.split("=", 1) for pair in line.split())


def test_regret_table_shows_the_shifting_regret_of_the_json():
    import re

    args = ("regret", "--env", "switching", "--forecaster", "fixed-share", "--T", "3000", "--seeds", "3")
    js = json.loads(run(*args, "--shifts", "2", "--json").stdout)
    r = run(*args, "--shifts", "2")
    assert r.exit_code == 0, r.output
    (row,) = re.findall(r"shifting regret, (\d+) switches \(mean\)\s*│\s*(\S+)\s*│", r.stdout)
    assert int(row[0]) == js["shifts"] == 2
    assert row[1] == f"{js['shifting_regret']:.4g}" and float(row[1]) > js["regret"]  # best sequence beats best expert
    line = _result_line(r.stdout)
    assert int(line["shifts"]) == 2
    assert float(line["shifting_regret"]) == pytest.approx(js["shifting_regret"], rel=1e-5)


def test_regret_human_output_without_shifts_is_unchanged():
    args = ("regret", "--env", "switching", "--forecaster", "fixed-share", "--T", "3000", "--seeds", "3")
    plain, shifted = run(*args), run(*args, "--shifts", "2")
    assert plain.exit_code == 0 and "shifting" not in plain.output, plain.output
    assert set(_result_line(plain.stdout)) == {"regret", "regret_std", "bound", "gamma_T", "survivors",
                                               "best_survived"}
    # --shifts only appends: the other numbers, table rows included, are the same run's
    (line,) = [ln for ln in shifted.stdout.splitlines() if ln.startswith("regret=")]
    (plain_line,) = [ln for ln in plain.stdout.splitlines() if ln.startswith("regret=")]
    assert line.startswith(plain_line + " shifts=2 ")
    rows = {k: v for k, v in _table_rows(shifted.stdout) if not k.startswith("shifting regret")}
    assert list(rows) == [k for k, _ in _table_rows(plain.stdout)]
    rows.pop("seconds")
    assert rows.items() <= dict(_table_rows(plain.stdout)).items()


def _table_rows(text):
    """The ``(quantity, value)`` rows of a rich table."""
    cells = [[c.strip() for c in ln.split("│")[1:-1]] for ln in text.splitlines() if ln.startswith("│")]
    return [tuple(c) for c in cells]


@pytest.mark.parametrize("kind", ["object array", "raw pickle", "text"])
def test_a_reward_file_numpy_takes_for_a_pickle_gets_our_own_line(tmp_path, kind):
    import pickle

    p = tmp_path / "r.npy"
    if kind == "object array":
        np.save(p, np.array([[1, "a"], [2, None]], dtype=object), allow_pickle=True)
    elif kind == "raw pickle":
        p.write_bytes(pickle.dumps([[0.1, 0.2], [0.3, 0.4]]))
    else:
        p.write_text("0.1 0.2\n0.3 0.4\n")
    r = run("regret", "--rewards", str(p))
    assert r.exit_code == 2 and r.output.count("\n") == 1, r.output
    assert "not a numeric .npy array" in r.output and "allow_pickle" not in r.output, r.output
