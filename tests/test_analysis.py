"""Tests of the figure registry, the figures' data and ``xnas-sim figure``.

Every figure is built once, in quick mode, through the CLI (``figure all
--quick``); the tests then read the CSV and JSON files it wrote and check the
claim each figure illustrates from the data, recomputing what they can rather
than trusting the figure's own ``claim_holds``.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from dataclasses import FrozenInstanceError

import numpy as np
import pytest
from click.testing import CliRunner

from xnas.analysis.registry import FIGURES, BuildOptions, Figure, get_figure, run_figure
from xnas.cli.sim_figure import figure as figure_cmd

EXPECTED = [
    "late-bloomers",
    "init-robustness",
    "regret-vs-selection",
    "reward-attenuation",
    "entropy-vs-weight-decay",
    "regret-scaling",
    "wipeout-dynamics",
    "adam-trap",
    "learning-rates",
    "expert-algorithms",
]


def _invoke(args):
    """Run ``figure ARGS`` through the xnas-sim group when it is there, else the command itself."""
    try:
        from xnas.cli.sim import main
    except ImportError:  # the group is the lead's; the command must work on its own too
        return CliRunner().invoke(figure_cmd, args)
    return CliRunner().invoke(main, ["figure", *args])


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    """All figures in quick mode, built once by ``figure all --quick --json``."""
    out = tmp_path_factory.mktemp("figures")
    res = _invoke(["all", "--quick", "--json", "--out", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    return out, doc["figures"]


def _rows(out, name):
    with open(os.path.join(out, f"{name}.csv"), newline="") as fh:
        return list(csv.DictReader(fh))


# ------------------------------------------------------------------ registry
def test_registry_holds_every_figure_in_order():
    assert list(FIGURES) == EXPECTED
    for name, fig in FIGURES.items():
        assert isinstance(fig, Figure) and fig.name == name
        assert fig.title and fig.description and callable(fig.build)
    assert [n for n, f in FIGURES.items() if f.needs_nas] == ["entropy-vs-weight-decay"]
    with pytest.raises(FrozenInstanceError):
        FIGURES["adam-trap"].name = "x"


def test_unknown_figure_is_one_line_value_error():
    with pytest.raises(ValueError, match="unknown figure 'nope'.*late-bloomers"):
        get_figure("nope")


def test_imports_stay_light():
    """Importing the CLI module and the registry pulls in neither matplotlib nor torch."""
    code = ("import sys, xnas.cli.sim_figure, xnas.analysis.registry as r; list(r.FIGURES); "
            "bad = [m for m in ('matplotlib', 'torch') if m in sys.modules]; print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    from xnas.runtime_io import atomic_write  # the writer run_figure uses for the PNG

    target = tmp_path / "x.png"

    def boom(fh):
        fh.write(b"half")
        raise RuntimeError("draw failed")

    with pytest.raises(RuntimeError):
        atomic_write(str(target), boom)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ every figure
@pytest.mark.parametrize("name", list(FIGURES))
def test_figure_files(gallery, name):
    out, summaries = gallery
    s = summaries[name]
    png, csv_path, js = (os.path.join(out, f"{name}.{e}") for e in ("png", "csv", "json"))
    with open(png, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    assert 5_000 < os.path.getsize(png) < 150_000
    rows = _rows(out, name)
    assert len(rows) > 0
    with open(js) as fh:
        on_disk = json.load(fh)
    assert on_disk == s
    assert s["figure"] == name and s["quick"] is True
    assert s["caption"].startswith(("Setup", "eta_c*")) and len(s["caption"]) > 80
    assert isinstance(s["claim"], str) and isinstance(s["claim_holds"], bool)
    assert s["kind"] in ("measured", "consistency check")
    for c in s.get("claims", []):
        assert c["kind"] in ("measured", "consistency check") and isinstance(c["holds"], bool)
        if c["kind"] == "consistency check":
            assert c["why"]  # a consistency check says why it cannot fail
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]


def test_late_bloomers_xnas_selects_the_late_bloomer_more_often_than_gd(gallery):
    out, s = gallery
    sel = {r["forecaster"]: float(r["value_mean"]) for r in _rows(out, "late-bloomers")
           if r["kind"] == "selected" and math.isclose(float(r["eta"]), _base_eta(r["forecaster"], out), rel_tol=1e-9)}
    assert sel["xnas"] > sel["gd-softmax"]
    assert s["late-bloomers"]["claim_holds"] is True
    assert s["late-bloomers"]["late_bloomer_best_in_hindsight"] == 1.0


def _base_eta(fc, out):
    rows = [r for r in _rows(out, "late-bloomers") if r["kind"] == "weight" and r["forecaster"] == fc]
    return float(rows[0]["eta"])


def test_init_robustness_xnas_recovers_from_small_initial_weight(gallery):
    out, s = gallery
    rows = _rows(out, "init-robustness")
    w_min = min(float(r["w0"]) for r in rows)
    at_min = {r["forecaster"]: float(r["correct_rate"]) for r in rows if float(r["w0"]) == w_min}
    assert at_min["xnas"] >= at_min["gd-softmax"]
    assert any(float(a["correct_rate"]) > float(b["correct_rate"])
               for a in rows if a["forecaster"] == "xnas"
               for b in rows if b["forecaster"] == "gd-softmax" and b["w0"] == a["w0"])
    assert s["init-robustness"]["claim_holds"] is True


def test_regret_vs_selection_xnas_lowest_regret_at_largest_T(gallery):
    out, s = gallery
    rows = _rows(out, "regret-vs-selection")
    horizon = [r for r in rows if r["part"] == "horizon"]
    t_max = max(int(r["T"]) for r in horizon)
    last = {r["forecaster"]: r for r in horizon if int(r["T"]) == t_max}
    for other in ("gd-softmax", "adam-softmax"):
        assert float(last["xnas"]["regret_mean"]) < float(last[other]["regret_mean"])
        assert float(last["xnas"]["correct_rate"]) >= float(last[other]["correct_rate"])
    claims = s["regret-vs-selection"]["claims"]
    assert claims[0]["kind"] == "measured" and claims[0]["holds"] is True
    assert claims[3]["kind"] == "consistency check"


def test_regret_vs_selection_claim_is_stated_over_the_learning_rate_sweep(gallery):
    out, s = gallery
    rows = _rows(out, "regret-vs-selection")
    sweep = [r for r in rows if r["part"] == "sweep"]
    t_max = max(int(r["T"]) for r in rows if r["part"] == "horizon")
    assert {int(r["T"]) for r in sweep} == {t_max}
    mults = {fc: sorted(float(r["lr_multiplier"]) for r in sweep if r["forecaster"] == fc)
             for fc in ("xnas", "gd-softmax", "adam-softmax")}
    assert all(len(m) >= 4 and m[0] <= 0.1 and m[-1] >= 100 for m in mults.values())
    base = [float(r["regret_mean"]) for r in rows if r["part"] == "horizon" and r["forecaster"] == "xnas"
            and int(r["T"]) == t_max][0]
    others = [float(r["regret_mean"]) for r in sweep if r["forecaster"] != "xnas"]
    summary = s["regret-vs-selection"]
    # recomputed from the CSV: the figure's verdict follows the data, whichever way it falls
    assert summary["claim_holds"] is (base < min(others))
    assert summary["claims"][1]["holds"] is summary["claim_holds"]
    best = {fc: min(float(r["regret_mean"]) for r in sweep if r["forecaster"] == fc) for fc in mults}
    assert summary["claims"][2]["holds"] is (best["xnas"] < min(best["gd-softmax"], best["adam-softmax"]))


def test_effective_rewards_match_hand_computed_values():
    # one round, u_0 = (0.5, 0.3, 0.2), R = (1, 0, -1): R_bar = 0.5 - 0.2 = 0.3, so GD-softmax's
    # effective reward u_i (R_i - R_bar) is (0.5 * 0.7, 0.3 * -0.3, 0.2 * -1.3) = (0.35, -0.09, -0.26);
    # XNAS's is R itself.  Round 1 = T wipes all but the leader (expert 0): only it is measured.
    from xnas.analysis.fig_reward_attenuation import measured_effective_rewards

    m = measured_effective_rewards(np.array([[1.0, 0.0, -1.0]]), np.array([0.5, 0.3, 0.2]))
    assert np.allclose(m["gd_eff"][0], [0.35, -0.09, -0.26], rtol=0, atol=1e-12)
    assert m["xnas_alive"][0].tolist() == [True, False, False]
    assert math.isclose(m["xnas_eff"][0, 0], 1.0, abs_tol=1e-12)
    # two rounds at the registry's eta = 0.05 from u_0 = (0.25, 0.75), R = (1, -1) twice:
    # round 1: R_bar = -0.5, effective (0.375, -0.375); u_1 = softmax(ln u_0 + 0.05 (0.375, -0.375))
    # = (0.25 e^0.01875, 0.75 e^-0.01875) / Z with Z = 0.99080..., i.e. u_1[0] = 0.257097...; round 2:
    # R_bar = 2 u_1[0] - 1, effective (u_1[0] (1 - R_bar), (1 - u_1[0]) (-1 - R_bar)) = +-2 u_1[0] (1 - u_1[0])
    m = measured_effective_rewards(np.array([[1.0, -1.0], [1.0, -1.0]]), np.array([0.25, 0.75]))
    u1 = 0.25 * math.exp(0.01875) / (0.25 * math.exp(0.01875) + 0.75 * math.exp(-0.01875))
    assert math.isclose(u1, 0.2570970, rel_tol=1e-6)
    assert np.allclose(m["gd_eff"], [[0.375, -0.375], [2 * u1 * (1 - u1), -2 * u1 * (1 - u1)]], rtol=0, atol=1e-10)


def test_reward_attenuation_finite_differences_and_slopes(gallery):
    out, s = gallery
    rows = _rows(out, "reward-attenuation")
    fd = [r for r in rows if r["source"] == "finite-difference"]
    assert max(abs(float(r["effective_reward"]) - float(r["predicted"])) for r in fd) < 1e-6
    # GD's effective reward is attenuated by the weight; XNAS's is not
    slopes = s["reward-attenuation"]["slope_log_abs_effective_reward_vs_log_u"]
    assert slopes["gd-softmax"] > 0.7 and abs(slopes["xnas"]) < 0.2
    assert s["reward-attenuation"]["claim_holds"] is True
    kinds = [c["kind"] for c in s["reward-attenuation"]["claims"]]
    assert kinds == ["measured", "consistency check"]


def test_entropy_rises_with_weight_decay(gallery):
    out, s = gallery
    rows = _rows(out, "entropy-vs-weight-decay")
    for env in ("stochastic", "convex"):
        adam = sorted((float(r["weight_decay"]), float(r["entropy_mean"])) for r in rows
                      if r["env"] == env and r["forecaster"] == "adam-softmax")
        ent = [e for _, e in adam]
        assert ent[-1] > ent[0]
        assert all(b >= a - 1e-3 for a, b in zip(ent, ent[1:]))  # non-decreasing up to noise
        darts = dict(adam)[1e-3]
        xnas = [float(r["entropy_mean"]) for r in rows if r["env"] == env and r["forecaster"] == "xnas"][0]
        assert xnas < darts
        assert xnas == 0.0  # t = T leaves one expert: why that part is only a consistency check
        # measured before the final round, at the same round for both
        for label in ("T-1", "0.9T"):
            b = s["entropy-vs-weight-decay"]["entropy_before_final_round"][env][label]
            assert 0.0 <= b["xnas"] < b["adam_at_darts_setting"] <= 1.0
    kinds = [c["kind"] for c in s["entropy-vs-weight-decay"]["claims"]]
    assert kinds == ["measured", "consistency check", "measured"]
    assert s["entropy-vs-weight-decay"]["claim_holds"] is True


def test_regret_scaling_xnas_below_its_bound(gallery):
    out, s = gallery
    rows = _rows(out, "regret-scaling")
    xn = [r for r in rows if r["forecaster"] == "xnas"]
    assert len(xn) >= 6
    for r in xn:
        T, N = int(r["T"]), int(r["N"])
        bound = math.sqrt(2 * T * math.log(N))
        assert math.isclose(float(r["xnas_bound"]), bound, rel_tol=1e-12)
        assert 0 < float(r["regret_mean"]) <= bound
    assert s["regret-scaling"]["xnas_max_regret_over_theorem1_bound"] <= 1.0
    # regret grows like sqrt(T): log-log slope near 1/2 for every forecaster
    for fc, slope in s["regret-scaling"]["loglog_slope_vs_T"].items():
        assert 0.35 < slope < 0.65, fc
    assert s["regret-scaling"]["claim_holds"] is True


def test_wipeout_zeta_one_is_safe_and_smaller_zeta_is_faster(gallery):
    out, s = gallery
    sweep = [r for r in _rows(out, "wipeout-dynamics") if r["kind"] == "sweep"]
    for env in ("stochastic", "late-bloomer"):
        z1 = [r for r in sweep if r["env"] == env and float(r["zeta"]) == 1.0][0]
        assert float(z1["best_survived_rate"]) == 1.0  # Lemma 1
    st = {float(r["zeta"]): float(r["round_to_one_mean"]) for r in sweep if r["env"] == "stochastic"}
    assert st[0.1] < st[1.0]
    traj = [r for r in _rows(out, "wipeout-dynamics") if r["kind"] == "trajectory"]
    assert all(1 <= float(r["alive_mean"]) <= 8 for r in traj)
    assert all(0 <= float(r["log_gamma_mean"]) < math.log(8) for r in traj)  # Lemma 2
    # the measured claim, recomputed from the CSV: the smallest zeta costs selection and regret on late-bloomer
    lb = {float(r["zeta"]): r for r in sweep if r["env"] == "late-bloomer"}
    z_min = min(lb)
    price = (float(lb[z_min]["correct_rate"]) < float(lb[1.0]["correct_rate"])
             and float(lb[z_min]["regret_mean"]) > float(lb[1.0]["regret_mean"]))
    assert s["wipeout-dynamics"]["claim_holds"] is price is True
    assert [c["kind"] for c in s["wipeout-dynamics"]["claims"]] == ["consistency check"] * 2 + ["measured"]


def test_adam_trap_adam_does_not_converge_xnas_does(gallery):
    out, s = gallery
    rows = _rows(out, "adam-trap")
    t_max = max(int(r["round"]) for r in rows)
    last = {r["variant"]: r for r in rows if int(r["round"]) == t_max}
    bound = math.sqrt(2 * math.log(2) / t_max)
    reddi = [v for v in last if "Reddi" in v][0]
    assert float(last[reddi]["avg_regret_mean"]) > bound
    assert float(last[reddi]["trap_weight_mean"]) > 0.9  # the mixture went to the wrong expert
    assert float(last["xnas"]["avg_regret_mean"]) <= bound
    assert float(last["xnas"]["trap_weight_mean"]) < 0.1
    assert s["adam-trap"]["claim_holds"] is True


def test_learning_rates_match_the_paper(gallery):
    out, s = gallery
    paper = [r for r in _rows(out, "learning-rates") if r["setting"] == "CIFAR-10 (paper)"][0]
    assert int(paper["T_normal"]) == 25000 * 50 * 6 and int(paper["T_reduce"]) == 25000 * 50 * 2
    assert math.isclose(float(paper["eta_normal"]), math.sqrt(2 * math.log(8) / 7.5e6), rel_tol=1e-12)
    assert abs(float(paper["eta_normal"]) - 7.5e-4) / 7.5e-4 < 0.01
    assert abs(float(paper["eta_reduce"]) - 1.3e-3) / 1.3e-3 < 0.01
    assert s["learning-rates"]["claim_holds"] is True


# ------------------------------------------------------------------ determinism
def test_same_seed_same_data(tmp_path):
    a = run_figure("adam-trap", str(tmp_path / "a"), BuildOptions(quick=True))
    b = run_figure("adam-trap", str(tmp_path / "b"), BuildOptions(quick=True))
    with open(a["files"]["csv"]) as fa, open(b["files"]["csv"]) as fb:
        assert fa.read() == fb.read()
    drop = ("files", "seconds")
    assert {k: v for k, v in a.items() if k not in drop} == {k: v for k, v in b.items() if k not in drop}


# ------------------------------------------------------------------ CLI
def test_cli_list():
    res = _invoke(["--list"])
    assert res.exit_code == 0
    lines = res.output.strip().splitlines()
    assert [ln.split()[0] for ln in lines] == EXPECTED
    assert "[--nas]" in lines[EXPECTED.index("entropy-vs-weight-decay")]


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope"], "unknown figure 'nope'"),
        ([], "name a figure"),
        (["adam-trap", "--seeds", "1"], "--seeds must be at least 2"),
        (["adam-trap", "--nas"], "has no --nas variant"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(args, message, tmp_path):
    res = _invoke([*args, "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    err = res.stderr if res.stderr else res.output
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0]
    assert "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_cli_out_is_a_file(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    res = _invoke(["learning-rates", "--out", str(f)])
    assert res.exit_code == 2 and "not a folder" in res.output


def test_cli_single_figure_json(tmp_path):
    res = _invoke(["learning-rates", "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    assert list(doc["figures"]) == ["learning-rates"]
    assert sorted(os.listdir(tmp_path)) == ["learning-rates.csv", "learning-rates.json", "learning-rates.png"]


@pytest.mark.torch
def test_entropy_nas_variant_quick(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    torch.set_num_threads(1)
    s = run_figure("entropy-vs-weight-decay", str(tmp_path), BuildOptions(quick=True, seeds=4, nas=True))
    nas = s["nas"]
    wds = nas["darts"]["weight_decays"]
    assert wds[0] == 0.0 and 1e-3 in wds and wds == sorted(wds) and len(wds) >= 3
    assert len(nas["darts"]["entropy"]) == len(wds) and len(nas["xnas"]["entropy"]) == 1
    for e in [*nas["darts"]["entropy"], nas["xnas"]["entropy"]]:
        assert len(e) == 1 and all(0.0 <= v <= 1.0 + 1e-9 for v in e)
    # the weight decay reaches the searches: the paired entropies are not all equal
    assert len({e[0] for e in nas["darts"]["entropy"]}) > 1
    # the paper's point, on a real supernet: XNAS ends sparser than DARTS, whatever the weight decay
    assert all(nas["xnas_mean_entropy"] < m for m in nas["darts_mean_entropy"])
    assert isinstance(nas["claim_holds"], bool)
    for label in ("T-1", "0.9T"):
        b = nas["entropy_before_end"][label]
        assert 0.0 <= b["xnas"] <= 1.0 and 0.0 <= b["darts_at_darts_setting"] <= 1.0 + 1e-9
    assert [c["kind"] for c in nas["claims"]] == ["measured", "consistency check", "measured"]
    assert s["claim_holds"] == (s["claim_holds_simulator"] and nas["claim_holds"])
    rows = [r.split(",") for r in open(s["files"]["csv"]).read().splitlines() if r.startswith("nas-digits,")]
    assert sorted(float(r[3]) for r in rows if r[1] == "darts") == wds and [r[1] for r in rows].count("xnas") == 1
    assert any(r.startswith("nas-digits,") for r in open(s["files"]["csv"]).read().splitlines())
