"""Untrusted text to integers and JSON (xnas.untrusted): huge integers and deep nesting answer in one line.

Every place that reads a genotype, a shard or a JSON file goes through the one
reader; the CLI cases check the whole path from the option to the exit code.
"""

import json

import pytest
from click.testing import CliRunner

from xnas.untrusted import InputError, json_loads_limited, parse_int, read_json_file
from cli_checks import assert_one_line_exit_2

BIG = "1" * 5000
ZEROS = "0" * 5000
NB201 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_parse_int_bounds_digits_before_converting():
    assert parse_int(" 42 ", "n") == 42 and parse_int("-7", "n", -10, 10) == -7
    assert parse_int(ZEROS + "3", "n", 0, 5) == 3  # leading zeros are not digits
    with pytest.raises(InputError, match="5000-digit"):
        parse_int(BIG, "n")
    with pytest.raises(InputError, match=r"n must be an integer in \[0, 5\], got 6"):
        parse_int("6", "n", 0, 5)
    for bad in ("", "1.5", "x", None, "1 2"):
        with pytest.raises(InputError, match="must be an integer"):
            parse_int(bad, "n")


def test_json_reader_refuses_huge_integers_and_deep_nesting(tmp_path):
    assert json_loads_limited('{"a": [1, -2, 3.5]}') == {"a": [1, -2, 3.5]}
    with pytest.raises(InputError, match="5000-digit integer"):
        json_loads_limited(f'{{"a": {BIG}}}', what="thing")
    with pytest.raises(InputError, match="nested more than"):
        json_loads_limited('{"genotype":' * 50000 + "1" + "}" * 50000)
    with pytest.raises(InputError, match="malformed"):
        json_loads_limited("{")
    (tmp_path / "d").mkdir()
    with pytest.raises(InputError, match="not a regular file"):
        read_json_file(tmp_path / "d", "study file")


def _invoke(*args):
    from xnas.cli.nas import main

    return CliRunner().invoke(main, list(args))


def _darts(normal_index="1", concat="[2]"):
    return (f"Genotype(normal=[('sep_conv_3x3', 0), ('dil_conv_3x3', {normal_index})], normal_concat={concat}, "
            "reduce=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)], reduce_concat=[2])")


@pytest.mark.parametrize("case", ["darts-index", "darts-range", "darts-json", "nb201-json-edges", "nb201-deep"])
def test_huge_integers_and_deep_json_in_genotypes_are_one_line(case, tmp_path):
    pytest.importorskip("torch")
    path = tmp_path / "g.json"
    if case == "darts-index":
        args = ["params", "--genotype", _darts(normal_index=BIG)]
    elif case == "darts-range":
        args = ["params", "--genotype", _darts(concat=f"range(2, 9{BIG})")]
    elif case == "darts-json":
        path.write_text(json.dumps({"normal": [["sep_conv_3x3", 0]]}).replace("0]", BIG + "]"))
        args = ["params", "--genotype", str(path)]
    elif case == "nb201-json-edges":
        path.write_text(f'{{"arch_str": "{NB201}", "edges": [["none", {BIG}]]}}')
        args = ["params", "--space", "nb201", "--genotype", str(path)]
    else:
        path.write_text('{"genotype":' * 50000 + "1" + "}" * 50000)
        args = ["params", "--space", "nb201", "--genotype", str(path)]
    res = _invoke(*args)
    assert_one_line_exit_2(res, "digit" if case != "nb201-deep" else "nested")


def test_nb201_string_with_a_long_input_index():
    pytest.importorskip("torch")
    from xnas.nas.spaces.darts.genotypes import GenotypeError
    from xnas.nas.spaces.nb201.genotype import NB201Genotype, parse_arch_str

    # 5,000 zeros are the input 0, as "~00" always was; 5,000 ones are refused in one line
    assert parse_arch_str(NB201.replace("~0|+", f"~{ZEROS}|+", 1)) == parse_arch_str(NB201)
    with pytest.raises(GenotypeError, match="input"):
        parse_arch_str(NB201.replace("~0|+", f"~{BIG}|+", 1))
    with pytest.raises(GenotypeError, match="digit"):
        NB201Genotype.from_json(f'{{"arch_str": "{NB201}", "edges": [["none", {BIG}]]}}')
    with pytest.raises(GenotypeError, match="nested"):
        NB201Genotype.from_json('{"genotype":' * 50000 + "1" + "}" * 50000)


def test_huge_shard_is_one_line(tmp_path):
    pytest.importorskip("torch")
    res = _invoke("study", "digits", "--quick", "--shard", f"0/9{BIG}", "--out", str(tmp_path / "s"))
    assert_one_line_exit_2(res, "--shard", "digit")
