"""The package's layers: no import circle, and no layer imports one it may not.

Each sub-package of ``tap_loop`` says in its docstring what it may import
(``May import: core, config.``); the modules directly in ``tap_loop`` (the tap, the stream
and what only they use) form the top layer and may import any layer. Every import counts,
``TYPE_CHECKING`` and function-level imports included. ``loop_sandbox`` has no layers,
but no circle either.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _modules(package: str) -> dict[str, Path]:
    base = ROOT / package
    found = {}
    for path in sorted(base.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """The modules of ``known`` that ``path`` imports, wherever the import stands."""
    out: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            subs = [f"{base}.{alias.name}" for alias in node.names]
            # ``from pkg import sub`` imports the module pkg.sub; any other name, pkg itself
            names = subs if all(sub in known for sub in subs) else [*subs, base]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                out.add(name)
    return out


def _graph(package: str) -> dict[str, set[str]]:
    modules = _modules(package)
    return {name: _imports(path, name, set(modules)) for name, path in modules.items()}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _layer(module: str) -> str:
    """``tap_loop.loop_api.client`` -> ``loop_api``; a top-level module -> ``top``."""
    parts = module.split(".")
    if len(parts) >= 2 and (ROOT / "tap_loop" / parts[1] / "__init__.py").exists():
        return parts[1]
    return "top"


def _allowed() -> dict[str, set[str]]:
    allowed: dict[str, set[str]] = {}
    for init in sorted((ROOT / "tap_loop").glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        match = re.search(r"^May import: (.+?)\.?$", doc, re.M)
        assert match, f"{init} has no 'May import: ...' line in its docstring"
        text = match.group(1)
        names = set() if text.startswith("nothing") else {n.strip() for n in text.split(",")}
        allowed[init.parent.name] = names | {init.parent.name}
    return allowed


@pytest.mark.parametrize("package", ["tap_loop", "loop_sandbox"])
def test_no_import_circle(package: str) -> None:
    assert _circles(_graph(package)) == []


def test_layers_import_only_what_their_docstring_allows() -> None:
    allowed = _allowed()
    wrong = []
    for module, imported in _graph("tap_loop").items():
        layer = _layer(module)
        if layer == "top":
            continue
        for name in sorted(imported):
            target = _layer(name) if name != "tap_loop" else "core"  # __version__ only
            if target not in allowed[layer]:
                wrong.append(f"{module} ({layer}) imports {name} ({target})")
    assert wrong == []


def test_the_checks_see_a_circle_and_a_forbidden_import(tmp_path: Path) -> None:
    """The graph and the circle finder themselves: a known circle and layer edge."""
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = _graph("tap_loop")
    assert "tap_loop.core.errors" in graph["tap_loop.loop_api.client"]
    assert "tap_loop.stream" in graph["tap_loop.tap"]
    assert _layer("tap_loop.loop_api.client") == "loop_api"
    assert _layer("tap_loop.stream") == "top"
    assert _allowed()["core"] == {"core"}
