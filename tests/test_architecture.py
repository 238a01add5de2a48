"""Layering: `rules` is pure; imports point monitor → evaluation → streams → rules; no import cycle in monitor/."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("rules", "streams", "evaluation", "monitor")

FORBIDDEN_IN_RULES = {
    "asyncio", "socket", "time", "threading", "multiprocessing", "subprocess", "concurrent", "selectors",
    "sqlite3", "urllib", "http", "websockets", "aiomqtt", "vosk", "numpy", "streams", "monitor", "evaluation",
}
FORBIDDEN_IN_STREAMS = {"monitor", "evaluation", "aiomqtt", "sqlite3", "prometheus_client"}
FORBIDDEN_IN_EVALUATION = {"monitor", "aiomqtt", "sqlite3", "prometheus_client"}
# The modules directly in monitor/: the composition root, the metrics every folder counts into, the rules build.
MONITOR_TOP_LEVEL = {"__init__.py", "service.py", "metrics.py", "native.py"}


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted module) for every import in `path`: function-local and TYPE_CHECKING ones included; for
    `from a import b` both `a` and `a.b` (the caller keeps whichever is a module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield node.lineno, first.value


def imported_roots(path: Path) -> Iterator[tuple[int, str]]:
    """(line, top-level module) for every import statement in `path`, including function-local ones."""
    seen: set[tuple[int, str]] = set()
    for line, name in imports(path):
        if (line, name.split(".")[0]) not in seen:
            seen.add((line, name.split(".")[0]))
            yield line, name.split(".")[0]


def violations(package: str, forbidden: set[str], skip: tuple[str, ...] = ()) -> list[str]:
    found = []
    for path in sorted((REPO / package).rglob("*.py")):
        if any(path.is_relative_to(REPO / s) for s in skip):
            continue
        for line, root in imported_roots(path):
            if root in forbidden:
                found.append(f"{path.relative_to(REPO)}:{line} imports {root}")
    return found


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module → the modules of `package` it imports (packages' __init__ included only where named)."""
    paths = {module_name(p, root): p for p in sorted((root / package).rglob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        for _, target in imports(path):
            if target in paths and target != name:
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_rules_is_pure() -> None:
    assert violations("rules", FORBIDDEN_IN_RULES) == []


def test_streams_holds_the_audio_edge_only() -> None:
    assert violations("streams", FORBIDDEN_IN_STREAMS) == []


def test_evaluation_does_not_import_the_application() -> None:
    assert violations("evaluation", FORBIDDEN_IN_EVALUATION) == []


def test_only_the_command_line_reaches_evaluation() -> None:
    assert violations("monitor", {"evaluation"}, skip=("monitor/cli",)) == []


def test_no_import_cycle_in_monitor() -> None:
    assert cycles(import_graph(REPO, "monitor")) == []


def test_monitor_keeps_a_handful_of_top_level_modules() -> None:
    assert {p.name for p in (REPO / "monitor").glob("*.py")} == MONITOR_TOP_LEVEL


def test_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    import asyncio\n    from monitor.cli.main import main\n")
    assert [root for _, root in imported_roots(bad)] == ["asyncio", "monitor"]


def test_checker_catches_a_cycle_through_type_checking(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "a.py").write_text("from pkg.sub import b\n")
    b = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.c\n"
    (tmp_path / "pkg" / "sub" / "b.py").write_text(b)
    (tmp_path / "pkg" / "c.py").write_text("def f():\n    from pkg.a import x\n")
    assert cycles(import_graph(tmp_path, "pkg")) == [["pkg.a", "pkg.c", "pkg.sub.b"]]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_says_what_lives_there(package: str) -> None:
    missing = [
        str(p.relative_to(REPO))
        for p in sorted((REPO / package).rglob("*.py"))
        if ast.get_docstring(ast.parse(p.read_text())) is None
    ]
    assert missing == []
