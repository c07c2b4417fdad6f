"""Genotype registry, validation and the three text forms (JSON, DARTS, names)."""

from __future__ import annotations

import json

import pytest

from xnas.nas.spaces.darts.genotypes import (
    GENOTYPES,
    Genotype,
    GenotypeError,
    get_genotype,
    parse_darts,
    resolve_genotype,
)


@pytest.mark.parametrize("name", list(GENOTYPES))
def test_registered_genotypes_validate(name: str) -> None:
    g = GENOTYPES[name]
    assert g.validate() is g
    assert g.steps == 4
    assert g.normal_concat == (2, 3, 4, 5) and g.reduce_concat == (2, 3, 4, 5)


@pytest.mark.parametrize("name", list(GENOTYPES))
def test_json_round_trip(name: str) -> None:
    g = GENOTYPES[name]
    assert Genotype.from_json(g.to_json()) == g
    assert Genotype.from_dict(json.loads(json.dumps(g.to_dict()))) == g
    assert Genotype.from_dict({"genotype": g.to_dict()}) == g


@pytest.mark.parametrize("name", list(GENOTYPES))
def test_darts_round_trip(name: str) -> None:
    g = GENOTYPES[name]
    text = g.to_darts()
    assert text.startswith("Genotype(normal=[('")
    assert "normal_concat=[2, 3, 4, 5]" in text
    assert parse_darts(text) == g
    assert resolve_genotype(text) == g


@pytest.mark.parametrize("name", list(GENOTYPES))
def test_resolve_file_and_name(name: str, tmp_path) -> None:
    g = GENOTYPES[name]
    path = tmp_path / "genotype.json"
    path.write_text(g.to_json(indent=2))
    assert resolve_genotype(str(path)) == g
    assert resolve_genotype(name) == g
    assert resolve_genotype(name.lower()) == g
    darts_file = tmp_path / "genotype.txt"
    darts_file.write_text(g.to_darts() + "\n")
    assert resolve_genotype(str(darts_file)) == g


def test_exact_xnas_cell() -> None:
    g = get_genotype("XNAS")
    assert g.normal[0] == ("sep_conv_3x3", 1)
    assert g.normal[6] == ("dil_conv_5x5", 4)
    assert g.reduce[3] == ("skip_connect", 2)
    assert GENOTYPES["DARTS_V2"].normal[-1] == ("dil_conv_3x3", 2)
    assert GENOTYPES["DARTS_V1"].reduce[-1] == ("avg_pool_3x3", 0)


def test_darts_form_variants() -> None:
    # range(...) concat, tuples instead of lists, double quotes, trailing commas, whitespace.
    text = (
        'Genotype(\n  normal=(("sep_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 0), '
        '("sep_conv_3x3", 2), ("sep_conv_3x3", 3), ("sep_conv_3x3", 1), ("dil_conv_5x5", 4), '
        '("sep_conv_3x3", 0),),\n  normal_concat=range(2, 6),\n'
        "  reduce=[('max_pool_3x3', 0), ('avg_pool_3x3', 1), ('avg_pool_3x3', 0), ('skip_connect', 2), "
        "('dil_conv_3x3', 3), ('max_pool_3x3', 0), ('dil_conv_5x5', 4), ('avg_pool_3x3', 0)],\n"
        "  reduce_concat=[2, 3, 4, 5],\n)"
    )
    assert parse_darts(text) == GENOTYPES["XNAS"]


def _swap(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


MALICIOUS = [
    "Genotype(normal=__import__('os').system('echo hi'), normal_concat=[2], reduce=[], reduce_concat=[2])",
    "__import__('os').system('true')",
    "Genotype(normal=[('sep_conv_3x3', 1+0)], normal_concat=[2], reduce=[], reduce_concat=[2])",
    "Genotype(normal=[('sep_conv_3x3', 1)], normal_concat=[2], reduce=[], reduce_concat=[2]); import os",
    "Genotype(normal=[('a' 'b', 1)], normal_concat=[2], reduce=[], reduce_concat=[2])",
    "Genotype(normal=[(op, 1)], normal_concat=[2], reduce=[], reduce_concat=[2])",
    "Genotype(evil=[], normal=[], normal_concat=[2], reduce=[], reduce_concat=[2])",
    "Genotype(normal=[('x', 1)], normal_concat=[2, 3]",
    "",
]


@pytest.mark.parametrize("text", MALICIOUS)
def test_malformed_darts_text_rejected(text: str, monkeypatch) -> None:
    import builtins

    def no_eval(*args, **kwargs):  # pragma: no cover - failing here is the test failing
        raise AssertionError("eval/exec must never be used")

    monkeypatch.setattr(builtins, "eval", no_eval)
    monkeypatch.setattr(builtins, "exec", no_eval)
    with pytest.raises(GenotypeError):
        resolve_genotype(text) if text else parse_darts(text)


def test_validation_errors_name_the_problem(tmp_path) -> None:
    text = GENOTYPES["XNAS"].to_darts()
    with pytest.raises(GenotypeError, match="unknown operation 'conv_9x9'"):
        resolve_genotype(_swap(text, "dil_conv_5x5", "conv_9x9"))
    with pytest.raises(GenotypeError, match="out of range"):
        resolve_genotype(_swap(text, "('sep_conv_3x3', 1)", "('sep_conv_3x3', 2)"))
    with pytest.raises(GenotypeError, match="edges"):
        resolve_genotype(_swap(text, "('sep_conv_3x3', 1), ", ""))
    with pytest.raises(GenotypeError, match="edges"):
        GENOTYPES["XNAS"].validate(steps=5)
    with pytest.raises(GenotypeError, match="concat"):
        resolve_genotype(_swap(text, "normal_concat=[2, 3, 4, 5]", "normal_concat=[2, 3, 4, 9]"))
    with pytest.raises(GenotypeError, match="unknown genotype 'NOPE'"):
        resolve_genotype("NOPE")
    with pytest.raises(GenotypeError, match="does not exist"):
        resolve_genotype("/no/such/genotype.json")
    prose = tmp_path / "notes.txt"
    prose.write_text("hello world\n")
    with pytest.raises(GenotypeError, match="neither genotype JSON"):  # not a JSON parser's complaint
        resolve_genotype(str(prose))
    with pytest.raises(GenotypeError, match="malformed"):
        Genotype.from_json("{not json")
    with pytest.raises(GenotypeError, match="lacks"):
        Genotype.from_json('{"normal": []}')
    with pytest.raises(GenotypeError, match="must be a list"):
        Genotype.from_dict({"normal": 3, "normal_concat": [2], "reduce": [], "reduce_concat": [2]})
    with pytest.raises(GenotypeError, match="must be a list of integers"):
        Genotype.from_dict({"normal": [], "normal_concat": 2, "reduce": [], "reduce_concat": [2]})
    with pytest.raises(GenotypeError, match="integers"):
        Genotype.from_dict({"normal": [], "normal_concat": [2.0], "reduce": [], "reduce_concat": [2]})
    with pytest.raises(GenotypeError, match="bad pair"):
        Genotype.from_dict({"normal": [["a", "1"]], "normal_concat": [2], "reduce": [], "reduce_concat": [2]})


def test_smaller_cells_resolve_with_inferred_steps() -> None:
    g = Genotype(
        normal=[("sep_conv_3x3", 0), ("skip_connect", 1), ("avg_pool_3x3", 2), ("sep_conv_5x5", 0)],
        normal_concat=[2, 3],
        reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("dil_conv_3x3", 1)],
        reduce_concat=[2, 3],
    )
    assert resolve_genotype(g.to_darts()) == g
    with pytest.raises(GenotypeError):
        g.validate(steps=4)


def test_genotype_is_hashable_and_frozen() -> None:
    g = GENOTYPES["XNAS"]
    assert hash(g) == hash(Genotype.from_dict(g.to_dict()))
    with pytest.raises(Exception):
        g.normal = ()  # type: ignore[misc]


from hypothesis import given, settings, strategies as st  # noqa: E402

_PIECES = st.sampled_from(
    ["Genotype", "(", ")", "[", "]", ",", "=", "normal", "reduce", "normal_concat", "reduce_concat",
     "'sep_conv_3x3'", "'none'", "\"skip_connect\"", "0", "1", "2", "5", "-3", "range", " ", "__import__", ";", "'"]
)


@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=80), st.lists(_PIECES, max_size=40).map("".join)))
def test_parser_never_fails_other_than_genotype_error(text: str) -> None:
    try:
        g = resolve_genotype("Genotype" + text if not text.startswith("Genotype") else text)
    except GenotypeError as exc:
        assert "\n" not in str(exc)
    else:
        assert isinstance(g, Genotype)


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_random_valid_genotypes_round_trip(data) -> None:
    from xnas.nas.spaces.ops import PRIMITIVES

    steps = data.draw(st.integers(1, 5))

    def cell():
        return [(data.draw(st.sampled_from(PRIMITIVES)), data.draw(st.integers(0, k // 2 + 1))) for k in range(2 * steps)]

    concat = sorted(data.draw(st.sets(st.integers(2, steps + 1), min_size=1)))
    g = Genotype(cell(), concat, cell(), concat).validate(steps=steps)
    assert parse_darts(g.to_darts()) == g == Genotype.from_json(g.to_json())


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"normal": ' + "[" * 5000 + "]" * 5000 + "}"])
def test_deeply_nested_genotype_json_is_one_line(tmp_path, text: str) -> None:
    from xnas.nas.spaces.darts.genotypes import GenotypeError, resolve_genotype

    path = tmp_path / "genotype.json"
    path.write_text(text)
    with pytest.raises(GenotypeError, match="nested more than") as info:
        resolve_genotype(str(path))
    assert "\n" not in str(info.value)


def test_json_depth_limit_ignores_brackets_in_strings() -> None:
    from xnas.nas.spaces.darts.genotypes import json_loads_limited

    assert json_loads_limited('{"a": "[[[[\\"[[[["}', max_depth=1) == {"a": '[[[["[[[['}
