"""A genotype names its space: an nb201 file or string without --space is read as nb201, and a --space that
disagrees with the genotype is one line naming both."""

import json

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")

from xnas.cli.nas import main
from xnas.nas.spaces.registry import SPACES
from cli_checks import assert_one_line_exit_2

NB201 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.fixture
def files(tmp_path):
    from xnas.nas.spaces.darts.genotypes import GENOTYPES

    nb = tmp_path / "nb201.json"
    nb.write_text(json.dumps({"space": "nb201", "arch_str": NB201}))
    darts = tmp_path / "darts.json"
    darts.write_text(GENOTYPES["DARTS_V2"].to_json())
    return {"nb201": str(nb), "darts": str(darts)}


@pytest.mark.parametrize("space", list(SPACES))
def test_params_takes_the_space_from_the_genotype(space, files):
    res = CliRunner().invoke(main, ["params", "--genotype", files[space], "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["space"] == space
    from xnas.nas.spaces.registry import genotype_space

    assert genotype_space(files[space]) == space


def test_nb201_string_needs_no_space(files):
    res = CliRunner().invoke(main, ["params", "--genotype", NB201, "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["space"] == "nb201", res.output


@pytest.mark.parametrize("args", [["params", "--space", "darts", "--genotype", NB201],
                                  ["params", "--space", "darts", "--genotype", "{nb201}"],
                                  ["params", "--space", "nb201", "--genotype", "{darts}"],
                                  ["train", "digits", "--space", "darts", "--genotype", "{nb201}"]])
def test_disagreeing_space_names_both(args, files):
    args = [a.format(**files) for a in args]
    other = "darts" if args[args.index("--space") + 1] == "nb201" else "nb201"
    assert_one_line_exit_2(CliRunner().invoke(main, args), f"--space {other}", "--genotype")


def test_default_training_folders_differ_per_searched_cell(tmp_path):
    from xnas.cli.nas_train import _default_out

    a, b = tmp_path / "s1" / "genotype.json", tmp_path / "s2" / "genotype.json"
    for p in (a, b):
        p.parent.mkdir()
        p.write_text("{}")
    assert _default_out("digits", str(a)) == "runs/train-digits-s1"
    assert _default_out("digits", str(b)) == "runs/train-digits-s2"
    other = NB201.replace("skip_connect~1", "avg_pool_3x3~1")
    assert _default_out("digits", NB201, "nb201") != _default_out("digits", other, "nb201")
    assert _default_out("digits", NB201, "nb201").startswith("runs/train-digits-nb201-cell-")
    assert _default_out("digits", None) == "runs/train-digits-XNAS"
