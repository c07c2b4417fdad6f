"""The documentation stays true to the repository.

* every relative link and image in ``README.md`` and ``docs/*.md`` points at a file
  that exists (resolved, as a repository host does, relative to the page), and every
  ``#anchor`` names a heading of its target page;
* every ``xnas-sim`` / ``xnas-nas`` command shown in their shell examples exists:
  ``--help`` is run on each command and subcommand through click's CliRunner (the
  commands themselves never run), and every option written after them is one the
  command has;
* the README's set-up test command is still the one ``.ci/run`` runs.

Parsing the pages happens at collection time so that each link and each command is
its own test case, named by page and line.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import unquote

import click
import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^\s*(```|~~~)\s*([\w+-]*)")
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^)]*[\"'])?\s*\)")
_REF_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_HTML_SRC = re.compile(r"<(?:img|a)\b[^>]*\b(?:src|href)=[\"']([^\"']+)[\"']", re.I)
_CODE_SPAN = re.compile(r"`+[^`]*`+")
_SHELL_BLOCKS = {"bash", "sh", "shell", "console", "zsh"}
_SEPARATORS = {"&&", "||", ";", "|", "&"}
_NUMBER = re.compile(r"^-\d")


def _split_blocks(text: str):
    """Yield ``(lineno, line, fence_language_or_None)`` for every line of a page."""
    lang = None
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _FENCE.match(line)
        if m:
            lang = (m.group(2) or "").lower() if lang is None else None
            continue
        yield lineno, line, lang


def _slug(heading: str) -> str:
    """The anchor a repository host (GitHub) gives a heading."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, line, lang in _split_blocks(page.read_text(encoding="utf-8")):
        m = re.match(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
        if lang is None and m:
            slug = _slug(m.group(1))
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _links(page: Path):
    """``(lineno, target)`` for every link and image outside code."""
    for lineno, line, lang in _split_blocks(page.read_text(encoding="utf-8")):
        if lang is not None:
            continue
        bare = _CODE_SPAN.sub("code", line)
        for pattern in (_LINK, _HTML_SRC):
            for m in pattern.finditer(bare):
                yield lineno, m.group(1)
        m = _REF_DEF.match(bare)
        if m:
            yield lineno, m.group(1)


def _link_cases():
    cases = []
    for page in PAGES:
        for lineno, target in _links(page):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http(s), mailto, ...
                continue
            cases.append(pytest.param(page, target, id=f"{page.relative_to(ROOT)}:{lineno}:{target}"))
    return cases


def _check_link(page: Path, target: str, root: Path = ROOT) -> None:
    path, _, fragment = target.partition("#")
    path = unquote(path)
    assert not path.startswith("/"), f"{target}: use a path relative to {page.name}, not to the host"
    dest = (page.parent / path).resolve() if path else page
    assert dest == root or root in dest.parents, f"{target} leaves the repository"
    assert dest.exists(), f"{target} (from {page.relative_to(root)}) does not exist"
    if fragment and dest.suffix == ".md":
        assert fragment in _anchors(dest), f"{target}: no heading with anchor #{fragment} in {dest.name}"


@pytest.mark.parametrize(("page", "target"), _link_cases())
def test_relative_link_exists(page, target):
    _check_link(page, target)


def test_pages_have_links_to_check():
    """Guard the parser: README links to every docs page, images are found."""
    readme_targets = {t for _, t in _links(ROOT / "README.md")}
    for page in PAGES[1:]:
        assert f"docs/{page.name}" in readme_targets, f"README does not link docs/{page.name}"
    figures = ROOT / "docs" / "figures.md"
    if figures.exists():
        assert any(t.endswith(".png") for _, t in _links(figures))


def test_link_check_fails_on_a_broken_link(tmp_path):
    """The check can fail: a missing file and a missing anchor are both caught."""
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](page.md#title) [gone](missing.md) ![img](figures/none.png)\n")
    targets = [t for _, t in _links(page)]
    assert targets == ["page.md#title", "missing.md", "figures/none.png"]
    _check_link(page, targets[0], root=tmp_path)
    for bad in (targets[1], targets[2], "page.md#nowhere", "../outside.md", "/abs.md"):
        with pytest.raises(AssertionError):
            _check_link(page, bad, root=tmp_path)


# --- commands -----------------------------------------------------------------------

def _shell_lines(page: Path):
    """``(lineno, command line)`` from shell blocks (and ``$ `` lines of other blocks)."""
    pending, start = "", 0
    for lineno, line, lang in _split_blocks(page.read_text(encoding="utf-8")):
        if lang is None:
            continue
        if lang not in _SHELL_BLOCKS:
            if not line.lstrip().startswith("$ "):
                continue
            line = line.lstrip()[2:]
        if not pending:
            start = lineno
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield start, pending + line
        pending = ""


def _invocations(line: str):
    """Argument lists after each ``xnas-sim`` / ``xnas-nas`` on a shell line."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    tokens = list(lexer)
    segment: list[str] = []
    for tok in tokens + [";"]:
        if tok in _SEPARATORS:
            for i, word in enumerate(segment):
                if word in ("xnas-sim", "xnas-nas"):
                    yield word, segment[i + 1:]
                    break
            segment = []
        else:
            segment.append(tok)


def _command_cases():
    cases = []
    for page in PAGES:
        for lineno, line in _shell_lines(page):
            for script, args in _invocations(line):
                name = " ".join([script, *args])[:60]
                cases.append(pytest.param(script, args, id=f"{page.relative_to(ROOT)}:{lineno}:{name}"))
    return cases


def _main(script: str) -> click.Group:
    if script == "xnas-sim":
        from xnas.cli.sim import main
    else:
        from xnas.cli.nas import main
    return main


def _check_command(script: str, args: list[str]) -> None:
    main = _main(script)
    runner = CliRunner()
    command: click.Command = main
    path: list[str] = []
    rest = list(args)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        with click.Context(command) as ctx:
            sub = command.get_command(ctx, name)
        assert sub is not None, f"{script} {' '.join(path + [name])}: no such command"
        path.append(name)
        command = sub
    for depth in range(len(path) + 1):
        res = runner.invoke(main, path[:depth] + ["--help"])
        shown = " ".join([script, *path[:depth]])
        assert res.exit_code == 0, f"{shown} --help exited {res.exit_code}: {res.output}"
        assert "Usage:" in res.output, f"{shown} --help printed no usage"
    with click.Context(command) as ctx:
        known = {"--help", "-h"}
        for param in command.get_params(ctx):
            if isinstance(param, click.Option):
                known.update(param.opts)
                known.update(param.secondary_opts)
    for word in rest:
        option = word.strip("[]").split("=", 1)[0]
        if option.startswith("-") and option != "-" and not _NUMBER.match(option):
            assert option in known, f"{script} {' '.join(path)}: no option {option}"


@pytest.mark.parametrize(("script", "args"), _command_cases())
def test_documented_command_exists(script, args):
    _check_command(script, args)


def test_readme_shows_every_command():
    """The README has an example of every command of both scripts (group commands too)."""
    shown = set()
    for _, line in _shell_lines(ROOT / "README.md"):
        for script, args in _invocations(line):
            if args and not args[0].startswith("-"):
                shown.add((script, args[0]))
    assert {("xnas-sim", "regret"), ("xnas-sim", "validate"), ("xnas-sim", "figure")} <= shown
    assert {("xnas-nas", c) for c in ("search", "lr", "train", "eval", "params", "study", "lookup")} <= shown


def test_command_check_fails_on_unknown_command_or_option():
    """The check can fail: an unknown subcommand and an unknown option are both caught."""
    _check_command("xnas-sim", ["regret", "--experts", "8", "--T=100"])
    with pytest.raises(AssertionError, match="no such command"):
        _check_command("xnas-nas", ["no-such-command", "--help"])
    with pytest.raises(AssertionError, match="no option"):
        _check_command("xnas-sim", ["regret", "--no-such-option", "1"])


def test_invocations_are_found_after_and_and_inside_torchrun():
    line = "pip install -e . && xnas-sim regret --T 10 && torchrun --no-python xnas-nas train digits  # x && xnas-sim y"
    assert list(_invocations(line)) == [("xnas-sim", ["regret", "--T", "10"]), ("xnas-nas", ["train", "digits"])]


# --- set-up --------------------------------------------------------------------------

def test_readme_setup_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -e '.[nas,test]' && python -m pytest -q" in readme
    assert "pip install -e '.[nas]' && xnas-sim regret --experts 8 --T 100000 && xnas-nas search digits" in readme
    assert "-e '.[nas,test]'" in ci and "python -m pytest -q" in ci
