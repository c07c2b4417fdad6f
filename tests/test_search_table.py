"""An nb201 search scored by the benchmark's table: per-epoch log lines, --json, the figure, the human summary."""

import json
import re

import pytest
from click.testing import CliRunner

from cli_checks import assert_one_line_exit_2

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from xnas.cli.nas import main  # noqa: E402
from xnas.nas.spaces.nb201 import table as table_module  # noqa: E402
from xnas.nas.spaces.nb201.table import COLUMNS, load_table  # noqa: E402

TINY = ["--space", "nb201", "--limit", "96", "--epochs", "2", "--batch-size", "16", "-C", "2", "--layers", "3",
        "--no-progress", "--threads", "1"]


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    out = tmp_path_factory.mktemp("nb201") / "s"
    res = CliRunner().invoke(main, ["search", "digits", "--out", str(out), "--json", *TINY])
    assert res.exit_code == 0, res.output
    return out, json.loads(res.stdout.strip().splitlines()[-1])


def test_every_epoch_logs_its_cell_and_the_tables_accuracies(searched):
    out, _ = searched
    lines = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in lines] == [1, 2]
    for e in lines:
        arch = e["genotype"]["arch_str"]
        assert set(e["table"]) == set(COLUMNS) and e["table"] == load_table().scores(arch)


def test_json_summary_holds_the_final_cells_table_entry(searched):
    out, d = searched
    assert d["table"] == load_table().lookup(d["text"])
    assert d["text"] == (out / "genotype.txt").read_text().strip()
    last = json.loads((out / "log.jsonl").read_text().splitlines()[-1])
    assert {c: d["table"][c] for c in COLUMNS} == last["table"]
    assert (out / "table.png").stat().st_size > 0


def test_human_summary_prints_the_accuracies_and_percentile(tmp_path):
    res = CliRunner().invoke(main, ["search", "digits", "--out", str(tmp_path / "h"), *TINY, "--epochs", "1",
                                    "--no-plots"])
    assert res.exit_code == 0, res.output
    line = next(x for x in res.output.splitlines() if x.startswith("NAS-Bench-201"))
    cell = load_table().lookup(res.output.splitlines()[-3].strip())
    assert f"CIFAR-10 {cell['cifar10_valid']:.2f} / {cell['cifar10_test']:.2f}" in line
    assert re.search(r"percentile \d+\.\d", line) and f"index {cell['index']}" in line
    assert not (tmp_path / "h" / "table.png").exists()  # --no-plots


def test_a_darts_search_has_no_table(tmp_path):
    res = CliRunner().invoke(main, ["search", "digits", "--out", str(tmp_path / "d"), "--json", "--limit", "96",
                                    "--epochs", "1", "--batch-size", "16", "-C", "2", "--layers", "3", "--nodes", "2",
                                    "--no-plots", "--no-progress"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout.strip().splitlines()[-1])["table"] is None
    assert "table" not in json.loads((tmp_path / "d" / "log.jsonl").read_text().splitlines()[0])


def test_a_corrupt_table_stops_an_nb201_search_before_it_starts(tmp_path, monkeypatch):
    bad = tmp_path / "t.csv.gz"
    bad.write_bytes(b"not the table")
    monkeypatch.setattr(table_module, "TABLE_PATH", str(bad))
    res = CliRunner().invoke(main, ["search", "digits", "--out", str(tmp_path / "s"), *TINY])
    assert_one_line_exit_2(res, "fails its checksum")
    assert not (tmp_path / "s").exists()
