"""The house's import structure: no import cycle among the project's modules (imports inside
functions count), and a short top level of nas/ (its concepts live in sub-packages)."""

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
FOLDERS = {"xnas": "xnas", "xnas.pea": "pea", "xnas.nas": "nas", "xnas.cli": "cli", "xnas.analysis": "analysis"}


def _file_of(module: str):
    for prefix, folder in sorted(FOLDERS.items(), key=lambda kv: -len(kv[0])):
        if module == prefix or module.startswith(prefix + "."):
            base = ROOT / folder / module[len(prefix):].lstrip(".").replace(".", "/")
            for candidate in (base.with_suffix(".py"), base / "__init__.py"):
                if candidate.is_file():
                    return candidate
            return None
    return None


def _graph() -> dict:
    edges = {}
    for folder in FOLDERS.values():
        for path in (ROOT / folder).rglob("*.py"):
            targets = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    # ``from pkg import mod`` depends on the module, ``from mod import name`` on mod
                    names = [f"{node.module}.{a.name}" if _file_of(f"{node.module}.{a.name}") else node.module
                             for a in node.names]
                else:
                    names = []
                targets |= {f for f in map(_file_of, names) if f is not None and f != path}
            edges[path] = targets
    return edges


def _cycles(edges: dict) -> list:
    """Strongly connected components with more than one module (iterative Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(edges.get(w, ()))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w.relative_to(ROOT).as_posix())
                        if w == v:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_import_cycles():
    assert _cycles(_graph()) == []


def test_the_cycle_check_finds_a_cycle():
    a, b, c = ROOT / "a.py", ROOT / "b.py", ROOT / "c.py"
    assert _cycles({a: {b}, b: {c}, c: {a}}) == [["a.py", "b.py", "c.py"]]
    assert _cycles({a: {b}, b: {c}, c: set()}) == []


def test_nas_keeps_a_short_top_level():
    top = sorted(p.name for p in (ROOT / "nas").glob("*.py") if p.name != "__init__.py")
    assert len(top) <= 10, top


def test_the_study_reaches_nas_through_its_backend_only():
    """Every module of nas/study/ but backend.py imports nothing of xnas.nas outside the study."""
    leaks = []
    for path in sorted((ROOT / "nas" / "study").glob("*.py")):
        if path.name == "backend.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            leaks += [f"{path.name}:{node.lineno} {n}" for n in names
                      if n.startswith("xnas.nas.") and not n.startswith("xnas.nas.study")]
    assert leaks == []
