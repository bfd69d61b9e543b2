"""The house rules the design relies on, enforced: pure rooms import no I/O, modules stay small."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "lingma_proxy"
PURE = ["ir.py", "sse.py", "dialects", "features"]
IO_MODULES = {"asyncio", "aiohttp", "httpx", "websockets", "sqlite3", "socket", "uvicorn",
              "starlette", "subprocess", "requests", "urllib.request", "http.client"}
MAX_LINES = 800


def _files(entry: str) -> list[Path]:
    p = SRC / entry
    return sorted(p.rglob("*.py")) if p.is_dir() else [p]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", [f for e in PURE for f in _files(e)], ids=lambda p: str(p.relative_to(SRC)))
def test_pure_modules_import_no_io(path: Path) -> None:
    bad = {n for n in _imports(path) if n in IO_MODULES or n.split(".")[0] in IO_MODULES}
    assert not bad, f"{path.relative_to(SRC)} imports I/O modules {sorted(bad)}"
    text = path.read_text()
    assert "open(" not in text.replace("fopen(", ""), f"{path.name} opens files"


def test_pure_modules_do_not_import_backends_server_or_relay() -> None:
    for entry in PURE:
        for path in _files(entry):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module:
                    head = node.module.split(".")[0]
                    assert head not in {"backends", "server", "relay", "storage", "console", "cli"}, path


def test_modules_stay_small() -> None:
    big = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py")
           if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_server_does_not_translate() -> None:
    """Routes hand bodies to the relay; only dialect error rendering is allowed there."""
    for path in (SRC / "server").rglob("*.py"):
        text = path.read_text()
        for verb in ("parse_request", "render_request", "render_response", "StreamRenderer", "StreamParser"):
            assert verb not in text, f"{path.name} uses {verb}: translation belongs in the relay"


# --------------------------------------------------------------------------- the Backend seam

# Rooms that hold backend objects: they ask a backend what it can do through its capability
# flags and the optional protocols of backends/base.py (isinstance), never by probing
# attributes (getattr) or by its brand (``kind``).
BACKEND_USERS = ["relay", "server", "console", "storage/traces.py"]
BRANDS = {"openai", "anthropic", "ipc", "remote"}


def _backendish(node: ast.expr) -> bool:
    """An expression naming a backend object: ``backend``, ``b`` in ``relay.backends``, ``self.backend``."""
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return "backend" in name.lower() or name in {"b", "be"}


def _getattr_on_backends(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
                and node.args and _backendish(node.args[0])):
            found.append(f"{path.name}:{node.lineno}")
    return found


def _brand_checks(path: Path) -> list[str]:
    """``x.kind == ...`` / ``!=`` / ``in``, and any comparison with a backend type name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        if any(isinstance(s, ast.Attribute) and s.attr == "kind" for s in sides) or any(
                isinstance(s, ast.Constant) and s.value in BRANDS for s in sides):
            found.append(f"{path.name}:{node.lineno}")
    return found


@pytest.mark.parametrize("path", [f for e in BACKEND_USERS for f in _files(e)], ids=lambda p: str(p.relative_to(SRC)))
def test_no_getattr_on_backends(path: Path) -> None:
    assert not _getattr_on_backends(path), "use a capability flag or an optional protocol (backends/base.py)"


@pytest.mark.parametrize("path", _files("relay"), ids=lambda p: str(p.relative_to(SRC)))
def test_relay_never_checks_a_backend_brand(path: Path) -> None:
    assert not _brand_checks(path), "the relay asks capabilities, never kind == ..."


def test_the_seam_rules_catch_what_they_forbid(tmp_path: Path) -> None:
    """The detectors above find the patterns this slice removed (so the rules cannot pass vacuously)."""
    bad = tmp_path / "probe.py"
    bad.write_text('def f(backend, relay):\n'
                   '    g = getattr(backend, "preferred_model", None)\n'
                   '    h = [getattr(b, "kind", "") for b in relay.backends.values()]\n'
                   '    return backend.kind != "anthropic" or g or h or backend.name == "ipc"\n')
    assert len(_getattr_on_backends(bad)) == 2
    assert len(_brand_checks(bad)) == 2


# --- no import circles -------------------------------------------------------------------------
# The graph is what Python runs: module-level AND function-level (deferred) imports, relative
# imports resolved, ``from pkg import name`` pointing at the submodule when ``name`` is one, and
# importing ``a.b.c`` running the packages ``a.b`` and ``a`` first. Only imports under
# ``if TYPE_CHECKING:`` are left out: they never run.


def _module_names(root: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in root.rglob("*.py"):
        parts = list(p.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = p
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.AST] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.Import, ast.ImportFrom)):
            found.append(n)
        if isinstance(n, ast.If) and _is_type_checking(n.test):
            stack.extend(n.orelse)  # the body never runs; an ``else:`` does
            continue
        stack.extend(ast.iter_child_nodes(n))
    return found


def import_graph(root: Path) -> dict[str, dict[str, str]]:
    """module -> {imported module of the same package: "file:line" of the import}."""
    mods = _module_names(root)
    top = root.name

    def known(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, str]] = {}
    for mod, path in mods.items():
        here = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        deps: dict[str, str] = {}
        for n in _import_nodes(ast.parse(path.read_text(), str(path))):
            if isinstance(n, ast.Import):
                targets = [a.name for a in n.names]
            else:
                base = n.module or ""
                if n.level:
                    pkg = here
                    for _ in range(n.level - 1):
                        pkg = pkg.rpartition(".")[0]
                    base = f"{pkg}.{base}" if base else pkg
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in n.names]
            for t in targets:
                if t != top and not t.startswith(top + "."):
                    continue
                target = known(t)
                while target:  # the module, then the packages Python initialises for it
                    if target != mod and not mod.startswith(target + "."):
                        deps.setdefault(target, f"{path.relative_to(root.parent)}:{n.lineno}")
                    target = target.rpartition(".")[0]
        graph[mod] = deps
    return graph


def find_cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """One concrete cycle (a -> b -> ... -> a) per strongly connected group, iteratively."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in graph:
                    continue
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph[w]))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                group = set()
                while True:
                    x = stack.pop()
                    on_stack.discard(x)
                    group.add(x)
                    if x == v:
                        break
                if len(group) > 1:
                    groups.append(group)
    cycles = []
    for group in groups:  # a shortest way back to the group's first module, inside the group
        first = min(group)
        prev: dict[str, str] = {}
        frontier = [first]
        while frontier and first not in prev:
            nxt = []
            for v in frontier:
                for w in sorted(graph[v]):
                    if w in group and w not in prev:
                        prev[w] = v
                        nxt.append(w)
            frontier = nxt
        path = [first]
        while path[-1] != first or len(path) == 1:
            path.append(prev[path[-1]])
        cycles.append(path[::-1])
    return cycles


def _describe(graph: dict[str, dict[str, str]], cycle: list[str]) -> str:
    return "\n".join(f"  {a} -> {b}  ({graph[a][b]})" for a, b in itertools.pairwise(cycle))


def test_no_import_cycles() -> None:
    graph = import_graph(SRC)
    cycles = find_cycles(graph)
    assert not cycles, "import cycles (deferred imports count too):\n" + "\n\n".join(
        _describe(graph, c) for c in cycles)


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        f = root / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    for d in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
        (d / "__init__.py").touch()
    return root


@pytest.mark.parametrize(("files", "cycle"), [
    ({"a.py": "from . import b\n", "b.py": "from . import a\n"}, ["pkg.a", "pkg.b", "pkg.a"]),
    ({"a.py": "def f():\n    from .b import x\n", "b.py": "import pkg.a\nx = 1\n"}, ["pkg.a", "pkg.b", "pkg.a"]),
    ({"s/a.py": "from ..t.b import y\n", "t/b.py": "from ..s import a\n"}, ["pkg.s.a", "pkg.t.b", "pkg.s.a"]),
    ({"a.py": "from .b import c\n", "b.py": "class C:\n    def m(self):\n        from pkg import a\n"},
     ["pkg.a", "pkg.b", "pkg.a"]),
    ({"a.py": "from .b import x\n", "b.py": "import pkg.c\nx = 1\n", "c.py": "from .a import *\n"},
     ["pkg.a", "pkg.b", "pkg.c", "pkg.a"]),
    ({"s/__init__.py": "from .a import x\n", "s/a.py": "x = 1\n", "t.py": "from .s.a import x\n",
      "s/b.py": "from ..t import x\n"}, None),  # s -> s.a, t -> s -> s.a: no way back
    ({"a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import B\n",
      "b.py": "from . import a\n"}, None),
    ({"a.py": "import typing\nif typing.TYPE_CHECKING:\n    from . import b\nelse:\n    from . import c\n",
      "b.py": "from . import a\n", "c.py": "from . import a\n"}, ["pkg.a", "pkg.c", "pkg.a"]),
    ({"s/__init__.py": "from . import a\n", "s/a.py": "import os\n", "t.py": "from .s import a\n",
      "s/b.py": "def f():\n    from .. import t\n"}, None),
    ({"s/__init__.py": "from .. import t\n", "s/a.py": "x = 1\n", "t.py": "def f():\n    from .s.a import x\n"},
     ["pkg.s", "pkg.t", "pkg.s"]),  # importing s.a runs s, which imports t
], ids=lambda v: "" if isinstance(v, (list, type(None))) else ",".join(sorted(v)))
def test_cycle_finder_sees_what_python_runs(tmp_path: Path, files: dict[str, str], cycle: list[str] | None) -> None:
    root = _plant(tmp_path, files)
    found = find_cycles(import_graph(root))
    if cycle is None:
        assert found == []
    else:
        assert len(found) == 1 and found[0][0] == found[0][-1]
        assert set(found[0]) == set(cycle) and len(found[0]) == len(cycle), found


# --------------------------------------------------------------------------- the Dialect seam

# Only dialects/ names a dialect: everything else derives from the registry (dialects/registry.py).
# The one exception: a backend imports the dialect of its own upstream (and may name it as its
# ``capabilities.passthrough_dialect``).
OWN_UPSTREAM = {"backends/openai_compat.py": "openai_chat", "backends/anthropic.py": "anthropic_messages",
                "backends/lingma/remote": "openai_chat"}


def _dialect_names() -> set[str]:
    return {p.name for p in (SRC / "dialects").iterdir() if p.is_dir() and (p / "__init__.py").exists()}


def _allowed(rel: str) -> str | None:
    return next((d for prefix, d in OWN_UPSTREAM.items() if rel == prefix or rel.startswith(prefix + "/")
                 or rel.startswith(prefix + ".")), None)


def _dialect_mentions(path: Path, names: set[str]) -> list[tuple[str, int]]:
    """(dialect name, line) for each import of a dialect package and each string equal to a name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            parts = (node.module or "").split(".")
            hits = [p for p in parts if p in names]
            if parts[-1] == "dialects" or not node.module:
                hits += [a.name for a in node.names if a.name in names]
            found += [(h, node.lineno) for h in hits]
        elif isinstance(node, ast.Import):
            found += [(p, node.lineno) for a in node.names for p in a.name.split(".") if p in names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
            found.append((node.value, node.lineno))
    return found


OUTSIDE_DIALECTS = [p for p in SRC.rglob("*.py") if "dialects" not in p.relative_to(SRC).parts]


@pytest.mark.parametrize("path", OUTSIDE_DIALECTS, ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_outside_dialects_names_a_dialect(path: Path) -> None:
    rel = str(path.relative_to(SRC))
    own = _allowed(rel)
    bad = [(n, line) for n, line in _dialect_mentions(path, _dialect_names()) if n != own]
    assert not bad, f"{rel} names dialects {bad}: derive it from the registry (dialects.registry)"


def test_the_dialect_rule_catches_what_it_forbids(tmp_path: Path) -> None:
    bad = tmp_path / "probe.py"
    bad.write_text("from ..dialects import openai_chat\nfrom ..dialects.anthropic_messages import x\n"
                   "import lingma_proxy.dialects.gemini\nfrom . import dialects\n"
                   "def f(d):\n    return d.NAME == 'openai_responses' or 'gemini'\n")
    found = sorted(n for n, _ in _dialect_mentions(bad, _dialect_names()))
    assert found == ["anthropic_messages", "gemini", "gemini", "openai_chat", "openai_responses"]


def test_the_registry_holds_every_dialect_package_through_its_entry_point() -> None:
    from importlib.metadata import entry_points

    from lingma_proxy.dialects.registry import GROUP, all_dialects

    registered = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    names = {n for n in _dialect_names() if (SRC / "dialects" / n / "dialect.py").exists()}
    assert {d.name for d in all_dialects()} == names
    for name in names:  # a built-in registers exactly as a plugin would
        assert registered.get(name) == f"lingma_proxy.dialects.{name}:DIALECT", name
