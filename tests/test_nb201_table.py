"""NAS-Bench-201's 200-epoch table in the package: the reference rows, the lookup command, bad tables."""

import gzip
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from cli_checks import assert_one_line_exit_2
from xnas.cli.nas import main
from xnas.nas.spaces.nb201 import table as table_module
from xnas.nas.spaces.nb201.genotype import NB201Genotype, all_nb201_genotypes, parse_arch_str
from xnas.nas.spaces.nb201.table import COLUMNS, TableError, load_table
from xnas.nas.spaces.tables import get_table, table_scores

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"
DRNAS = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
# The benchmark's reference rows (index, then the six columns in COLUMNS order).
REFERENCE = {
    BEST: (6111, 91.6067, 94.3733, 72.7467, 73.22, 45.5556, 46.7111),
    DRNAS: (9930, 91.5533, 94.3633, 73.4933, 73.5133, 46.3667, 46.3444),
    SKIP: (1835, 39.7693, 54.2967, 15.0333, 15.6067, 16.4333, 16.3222),
}


@pytest.mark.parametrize("arch", list(REFERENCE))
def test_reference_rows_exactly(arch):
    index, *accs = REFERENCE[arch]
    found = load_table().lookup(arch)
    assert found["index"] == index
    assert [found[c] for c in COLUMNS] == accs
    res = CliRunner().invoke(main, ["lookup", arch, "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    assert set(got) == {"index", *COLUMNS, "rank", "percentile"}
    assert got["index"] == index and [got[c] for c in COLUMNS] == accs


def test_column_maxima_and_exact_population_statistics():
    t = load_table()
    assert t.acc.shape == (15625, 6) and np.isfinite(t.acc).all()
    best = {c: (float(t.acc[:, k].max()), int(t.acc[:, k].argmax())) for k, c in enumerate(COLUMNS)}
    assert best["cifar10_valid"] == (91.6067, 6111) and best["cifar10_test"] == (94.3733, 6111)
    assert best["cifar100_test"] == (73.5133, 9930) and best["imagenet16_test"] == (47.3111, 857)
    stats_ = t.all_cells()["cifar10_test"]
    assert stats_["max"] == 94.3733 and round(stats_["mean"], 2) == 87.06 and round(stats_["median"], 2) == 90.75
    assert stats_["q90"] == pytest.approx(np.quantile(t.acc[:, 1], 0.9)) and round(stats_["q90"], 2) == 92.93


def test_every_cell_is_present_once_in_the_parsers_canonical_form():
    t = load_table()
    assert len(set(t.arch)) == 15625 == len(t.arch)
    assert {g.to_str() for g in all_nb201_genotypes()} == set(t.arch)
    for i in range(0, 15625, 97):  # the parser maps every row back to itself
        assert t.index(parse_arch_str(t.arch[i])) == i and parse_arch_str(t.arch[i]).to_str() == t.arch[i]


def test_rank_and_percentile_by_cifar10_test():
    t = load_table()
    col = t.acc[:, COLUMNS.index("cifar10_test")]
    for i in (6111, 9930, 1835, 0, 11, 284, int(col.argmin())):
        assert t.rank(i) == 1 + int((col > col[i]).sum())
        assert t.percentile(i) == pytest.approx(stats.percentileofscore(col, col[i], kind="mean"))
    # two cells share the best accuracy (isomorphic cells), so DrNAS's cell ranks third
    assert t.rank(6111) == 1 and (col == col[6111]).sum() == 2 and t.rank(9930) == 3


def test_every_spelling_the_parser_accepts_finds_the_same_row(tmp_path):
    g = parse_arch_str(BEST)
    (tmp_path / "genotype.json").write_text(g.to_json(indent=2))
    (tmp_path / "config.json").write_text(json.dumps({"genotype": BEST}))
    (tmp_path / "genotype.txt").write_text("\n  " + BEST + "\n")
    spellings = [BEST, f"  {BEST}\n", str(tmp_path / "genotype.json"), str(tmp_path / "config.json"),
                 str(tmp_path / "genotype.txt"), g]
    assert {load_table().index(s) for s in spellings} == {6111}
    assert table_scores("nb201", g)["cifar10_test"] == 94.3733 and table_scores("darts", g) is None


def test_human_output_names_index_rank_and_accuracies():
    res = CliRunner().invoke(main, ["lookup", SKIP])
    assert res.exit_code == 0, res.output
    assert "index 1835" in res.output and "54.2967" in res.output and "rank 15,231 of 15,625" in res.output


@pytest.mark.parametrize("args, words", [
    (["lookup", "DARTS_V2"], ["not a NAS-Bench-201 genotype"]),
    (["lookup", "Genotype(normal=[('skip_connect', 0)], normal_concat=[2], reduce=[], reduce_concat=[2])"],
     ["NAS-Bench-201"]),
    (["lookup", "|none~0|+|none~0|none~1|"], ["nodes"]),
    (["lookup", "|conv_7x7~0|+|none~0|none~1|+|none~0|none~1|none~2|"], ["unknown operation"]),
    (["lookup", "--space", "darts", BEST], ["darts space has no table"]),
    (["lookup", "--space", "nope", BEST], ["nope space has no table"]),
])
def test_other_spaces_and_unparsable_text_are_one_line_exit_2(args, words):
    assert_one_line_exit_2(CliRunner().invoke(main, args), *words)


def test_a_darts_genotype_json_is_named_as_such(tmp_path):
    path = tmp_path / "genotype.json"
    path.write_text(json.dumps({"normal": [["skip_connect", 0]] * 8, "normal_concat": [2, 3, 4, 5],
                                "reduce": [["max_pool_3x3", 0]] * 8, "reduce_concat": [2, 3, 4, 5]}))
    assert_one_line_exit_2(CliRunner().invoke(main, ["lookup", str(path)]), "darts-space cell")
    path.write_text('{"genotype": ' * 5000 + "1" + "}" * 5000)  # read through the depth-limited reader
    assert_one_line_exit_2(CliRunner().invoke(main, ["lookup", str(path)]), "nested")


@pytest.mark.parametrize("damage", ["missing", "flipped byte", "truncated", "a pickle"])
def test_a_missing_or_corrupt_table_is_one_line_exit_2(tmp_path, monkeypatch, damage):
    path = tmp_path / "nb201_200ep.csv.gz"
    if damage != "missing":
        raw = bytearray(open(table_module.TABLE_PATH, "rb").read())
        if damage == "flipped byte":
            raw[len(raw) // 2] ^= 1
        elif damage == "truncated":
            raw = raw[: len(raw) // 3]
        else:
            raw = bytearray(b"\x80\x04\x95" + bytes(64))
        path.write_bytes(bytes(raw))
    with pytest.raises(TableError, match="reinstall xnas"):
        load_table(path)
    monkeypatch.setattr(table_module, "TABLE_PATH", str(path))
    assert_one_line_exit_2(CliRunner().invoke(main, ["lookup", BEST]), "NAS-Bench-201 table")


def test_the_checksum_is_of_the_shipped_file_and_a_good_copy_loads(tmp_path):
    path = tmp_path / "copy.csv.gz"
    shutil.copy(table_module.TABLE_PATH, path)
    assert np.array_equal(load_table(path).acc, load_table().acc)
    assert load_table() is load_table()  # loaded once
    with gzip.open(table_module.TABLE_PATH, "rt") as fh:
        assert fh.readline().strip() == "index,arch," + ",".join(COLUMNS)


def test_lookup_imports_no_torch():
    code = ("import sys; from xnas.cli.nas import main; "
            "sys.argv = ['xnas-nas', 'lookup', '--json', " + repr(SKIP) + "]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "assert 'torch' not in sys.modules, 'torch imported'")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["index"] == 1835


def test_a_non_editable_install_ships_the_table(tmp_path):
    # build_py is the step of a wheel build that picks the modules and package data; run on a copy
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = tmp_path / "src"
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(root, name), src / name if src.exists() else _mkdir(src) / name)
    for name in ("xnas", "pea", "nas", "cli", "analysis"):
        shutil.copytree(os.path.join(root, name), src / name, ignore=shutil.ignore_patterns("__pycache__"))
    build = tmp_path / "build"
    res = subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py",
                          "--build-lib", str(build)], cwd=str(src), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    shipped = build / "xnas" / "nas" / "spaces" / "nb201" / "data" / "nb201_200ep.csv.gz"
    assert shipped.read_bytes() == open(table_module.TABLE_PATH, "rb").read()
    assert (build / "xnas" / "nas" / "spaces" / "nb201" / "data" / "README.md").is_file()
    for module in ("nas/spaces/nb201/table.py", "nas/study/summary.py", "nas/spaces/tables.py", "cli/nas_lookup.py"):
        assert (build / "xnas" / module).is_file(), module
    # every module of every folder ships (a sub-package missing from pyproject's list would not)
    for folder, target in (("xnas", ""), ("pea", "pea"), ("nas", "nas"), ("cli", "cli"), ("analysis", "analysis")):
        for dirpath, _, files in os.walk(os.path.join(root, folder)):
            rel = os.path.relpath(dirpath, os.path.join(root, folder))
            for name in files:
                if name.endswith(".py"):
                    assert (build / "xnas" / target / rel / name).is_file(), os.path.join(folder, rel, name)
    code = ("import sys; sys.path.insert(0, %r); sys.meta_path[:] = [f for f in sys.meta_path "
            "if 'editable' not in type(f).__name__.lower() and 'editable' not in repr(f).lower()]\n"
            "from xnas.nas.spaces.nb201 import table; print(table.__file__); print(table.load_table().lookup(%r)['index'])"
            % (str(build), BEST))
    res = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    where, index = res.stdout.split()
    assert where.startswith(str(build)) and index == "6111"


def _mkdir(path):
    path.mkdir()
    return path


def test_get_table_of_the_nb201_space():
    assert get_table("nb201") is load_table()
    assert isinstance(parse_arch_str(BEST), NB201Genotype)
