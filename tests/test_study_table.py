"""The study scored by NAS-Bench-201's table: search-only studies, the ``table`` summary, old folders, rebuilds."""

import glob
import json
import os
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from cli_checks import assert_one_line_exit_2
from xnas.nas.study.stats import holm, levene, one_sample_difference, paired_difference, rank_correlation

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMITTED = sorted(glob.glob(os.path.join(ROOT, "docs", "study", "*", "study.json")))


# -- statistics -------------------------------------------------------------------------
def test_holm_matches_the_step_down_definition():
    p = [0.01, 0.04, 0.03, None, 0.005]
    # sorted: 0.005 (x4), 0.01 (x3), 0.03 (x2), 0.04 (x1), each at least the previous
    got = holm(p)
    assert got[3] is None and [got[i] for i in (0, 1, 2, 4)] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.45, 0.4]) == pytest.approx([0.8, 0.8]) and holm([0.9, 0.8]) == [1.0, 1.0] and holm([]) == [] and holm([0.6, 0.01, 0.02, 0.5])[0] == 1.0


def test_one_sample_and_paired_p_agree_with_scipy():
    x = [92.1, 91.3, 93.0, 90.2]
    d = one_sample_difference(x, 87.06)
    assert d["mean"] == pytest.approx(np.mean(x) - 87.06) and d["n"] == 4
    assert d["p"] == pytest.approx(stats.ttest_1samp(x, 87.06).pvalue)
    ci = stats.ttest_1samp(x, 87.06).confidence_interval(0.95)
    assert d["ci95"] == pytest.approx([ci.low - 87.06, ci.high - 87.06])
    a, b = {0: 12.0, 1: 13.5, 2: 11.0}, {0: 13.0, 1: 13.9, 2: 12.5, 3: 9.0}
    assert paired_difference(a, b)["p"] == pytest.approx(stats.ttest_rel([12.0, 13.5, 11.0], [13.0, 13.9, 12.5]).pvalue)
    assert one_sample_difference([], 1.0) is None and one_sample_difference([3.0, 3.0], 3.0)["p"] is None


def test_a_method_returning_one_cell_every_seed_is_tested_not_dropped():
    """No spread away from the population mean: scipy's t = inf, p = 0; it stays in the Holm family."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = stats.ttest_1samp([93.0, 93.0, 93.0], 87.06).pvalue
    assert one_sample_difference([93.0, 93.0, 93.0], 87.06)["p"] == expected == 0.0
    assert paired_difference({0: 93.0, 1: 92.0}, {0: 54.3, 1: 53.3})["p"] == 0.0
    assert holm([0.0, 0.04, 0.3]) == [0.0, 0.08, 0.3]


def test_levene_and_rank_correlation_are_scipys():
    a, b = [1.0, -1.0, 2.5, -2.5, 0.3, -0.3], [0.1, -0.1, 0.2, -0.2]
    assert levene(a, b) == pytest.approx(stats.levene(a, b).pvalue)
    x, y = [12.0, 13.1, 11.5, 15.2, 14.0], [92.0, 90.5, 93.1, 80.2, 91.0]
    r = rank_correlation(x, y)
    assert r["kendall_tau"] == pytest.approx(stats.kendalltau(x, y).statistic) and r["n_cells"] == 5
    assert r["spearman_p"] == pytest.approx(stats.spearmanr(x, y).pvalue)
    assert rank_correlation([1.0, 2.0], [2.0, 1.0])["kendall_tau"] is None


# -- the committed studies rebuild -------------------------------------------------------
@pytest.mark.parametrize("study_json", COMMITTED, ids=lambda p: os.path.basename(os.path.dirname(p)))
def test_the_committed_summaries_rebuild_identically(study_json, tmp_path):
    pytest.importorskip("torch")
    from xnas.nas.study.config import load_study_config
    from xnas.nas.study.runner import write_report

    folder = os.path.dirname(study_json)
    copy = tmp_path / "study"
    shutil.copytree(folder, copy)
    write_report(load_study_config(str(copy)), str(copy), figure=False)
    with open(os.path.join(folder, "summary.json")) as fh, open(copy / "summary.json") as gh:
        assert json.load(gh) == json.load(fh)


def test_the_committed_nb201_study_reports_its_table_and_transfer():
    with open(os.path.join(ROOT, "docs", "study", "nb201", "summary.json")) as fh:
        s = json.load(fh)
    t = s["table"]
    assert set(t["methods"]["xnas"]) == set(t["columns"]) and t["all_cells"]["cifar10_test"]["max"] == 94.3733
    assert set(t["transfer"]) == {"kendall_tau", "kendall_p", "spearman", "spearman_p", "n_cells"}
    assert t["transfer"]["n_cells"] == 18
    searched = s["discrimination"]["searched_cells"]
    assert searched["methods"] == ["xnas", "darts", "gd"] and round(searched["p"], 2) == 0.82
    assert round(searched["within_sd"], 2) == 1.78 and searched["levene_p_vs_random"] < 0.01
    ws = s["methods"]["random-ws"]["minus_random"]
    assert ws["p"] < 0.05 and ws["p_holm"] > 0.05 and not ws["resolved"]  # does not survive Holm
    assert "p" in s["xnas_minus_darts"] and "p_holm" in s["xnas_minus_darts"]


# -- a search-only study on digits -------------------------------------------------------
TINY = dict(seeds=2, trainings=0, random_cells=2, ws_samples=3, search_epochs=2, search_batch=16, search_limit=64,
            search_channels=2, search_layers=3)


@pytest.fixture(scope="module")
def search_only(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from xnas.nas.study.config import make_config
    from xnas.nas.study.runner import run_study

    out = str(tmp_path_factory.mktemp("table") / "s")
    cfg = make_config("digits", "nb201", ("xnas", "darts", "random-ws", "random"), **TINY)
    return cfg, out, run_study(cfg, out, progress=False)


def test_a_search_only_study_is_scored_by_the_table(search_only):
    from xnas.nas.spaces.nb201.table import COLUMNS, load_table
    from xnas.nas.study.units import Unit, plan_units, read_unit

    cfg, out, s = search_only
    assert s["complete"] and all(u.kind == "search" for u in plan_units(cfg))
    table = load_table()
    t = s["table"]
    assert set(t) >= {"methods", "minus_random", "xnas_minus_darts", "all_cells", "transfer", "published", "by_epoch"}
    for name, row in s["methods"].items():
        assert row["n_trainings"] == 0 and row["mean_err"] is None
        values = [table.scores(c["genotype"])["cifar10_test"] for c in row["cells"]]
        assert t["methods"][name]["cifar10_test"]["mean"] == pytest.approx(np.mean(values))
        assert t["methods"][name]["cifar10_test"]["n"] == len(values) == 2
        for cell in row["cells"]:
            unit = read_unit(out, Unit(name, cell["cell"]))
            assert unit["table"] == table.scores(unit["genotype"]) == cell["table"]
    for col in COLUMNS:
        assert set(t["xnas_minus_darts"][col]) >= {"mean", "ci95", "n_pairs", "p", "p_holm"}
        assert set(t["all_cells"][col]) == {"mean", "median", "q90", "max"}
        assert t["all_cells"][col]["mean"] == pytest.approx(table.acc[:, COLUMNS.index(col)].mean())
        d = t["minus_random"]["xnas"][col]
        assert d["mean"] == pytest.approx(t["methods"]["xnas"][col]["mean"] - t["all_cells"][col]["mean"])
    assert t["minus_random"]["random"] is None and t["transfer"]["n_cells"] == 0
    assert "searched on CIFAR-10 by their authors" == t["published_label"]


def test_search_units_record_entropy_and_the_cell_of_every_epoch(search_only):
    from xnas.nas.spaces.nb201.table import load_table
    from xnas.nas.study.units import Unit, read_unit

    cfg, out, s = search_only
    for name in ("xnas", "darts"):
        unit = read_unit(out, Unit(name, 0))
        assert len(unit["epochs"]) == cfg.search_epochs and unit["epochs"][-1]["genotype"] == unit["genotype"]
        assert 0.0 <= unit["entropy"] <= 1.0 and unit["entropy"] == unit["epochs"][-1]["entropy"]
        row = s["methods"][name]
        assert row["final_entropy"] == pytest.approx(np.mean([c["entropy"] for c in row["cells"]]))
        track = s["table"]["by_epoch"][name]
        expect = [np.mean([load_table().scores(read_unit(out, Unit(name, c))["epochs"][e]["genotype"])["cifar10_test"]
                           for c in range(cfg.seeds)]) for e in range(cfg.search_epochs)]
        assert track == pytest.approx(expect)
    assert s["methods"]["random"]["final_entropy"] is None and s["table"]["by_epoch"]["random"] is None


def test_an_old_folder_without_table_fields_reports_the_same(search_only, tmp_path):
    from xnas.nas.study.runner import write_report

    cfg, out, s = search_only
    old = tmp_path / "old"
    shutil.copytree(out, old)
    for path in glob.glob(str(old / "units" / "search" / "*" / "*.json")):
        with open(path) as fh:
            record = json.load(fh)
        for key in ("table", "epochs", "entropy"):
            record.pop(key, None)
        with open(path, "w") as fh:
            json.dump(record, fh)
    again = write_report(cfg, str(old), figure=False)
    assert again["table"]["methods"] == s["table"]["methods"]
    assert again["table"]["minus_random"] == s["table"]["minus_random"]
    assert again["table"]["by_epoch"]["xnas"] is None and again["methods"]["xnas"]["final_entropy"] is None


def test_cli_report_prints_the_scores_and_the_published_rows(search_only):
    from xnas.cli.nas import main

    cfg, out, s = search_only
    res = CliRunner().invoke(main, ["study", "digits", "--out", out, "--report"])
    assert res.exit_code == 0, res.output
    assert "NAS-Bench-201 (200 epochs)" in res.output and "GDAS (published)" in res.output
    assert "searched on CIFAR-10 by their authors" in res.output and "all 15,625 cells" in res.output
    assert os.path.getsize(os.path.join(out, "study.png")) > 0
    # nothing was trained: the first table holds the searches' columns, not empty trained-error ones
    first = res.output.split("NAS-Bench-201 (200 epochs)")[0]
    assert "searches: digits" in first and "search s" in first and "param-free" in first
    assert "err %" not in first and "cost/random" not in first and "params M" not in first


def test_search_only_outside_nb201_and_a_corrupt_table_are_one_line_exit_2(search_only, tmp_path, monkeypatch):
    from xnas.cli.nas import main
    from xnas.nas.spaces.nb201 import table as table_module

    res = CliRunner().invoke(main, ["study", "digits", "--space", "darts", "--trainings", "0", "--out",
                                    str(tmp_path / "d")])
    assert_one_line_exit_2(res, "--trainings 0", "darts space has none")
    assert not os.path.exists(tmp_path / "d")
    bad = tmp_path / "bad.csv.gz"
    bad.write_bytes(b"\x1f\x8b" + bytes(100))
    monkeypatch.setattr(table_module, "TABLE_PATH", str(bad))
    cfg, out, _ = search_only
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    assert_one_line_exit_2(CliRunner().invoke(main, ["study", "digits", "--out", str(copy), "--report"]),
                           "fails its checksum")


def test_search_only_shards_and_resume_give_the_same_table(search_only, tmp_path):
    from xnas.nas.study.runner import run_study

    cfg, _, reference = search_only
    out = str(tmp_path / "sharded")
    first = run_study(cfg, out, resume=True, shard=(0, 2), progress=False)
    assert not first["complete"]
    second = run_study(cfg, out, resume=True, shard=(1, 2), progress=False)
    again = run_study(cfg, out, resume=True, progress=False)  # nothing left to run
    for summary in (second, again):
        assert summary["complete"]
        assert summary["table"]["methods"] == reference["table"]["methods"]
        assert summary["table"]["by_epoch"] == reference["table"]["by_epoch"]
