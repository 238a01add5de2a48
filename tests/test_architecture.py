"""Layering: `rules` is pure (no asyncio, clock, sockets, threads, ASR); imports point monitor → streams → rules."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

FORBIDDEN_IN_RULES = {
    "asyncio", "socket", "time", "threading", "multiprocessing", "subprocess", "concurrent", "selectors",
    "sqlite3", "urllib", "http", "websockets", "aiomqtt", "vosk", "numpy", "streams", "monitor",
}
FORBIDDEN_IN_STREAMS = {"monitor", "aiomqtt", "sqlite3", "prometheus_client"}


def imported_roots(path: Path) -> Iterator[tuple[int, str]]:
    """(line, top-level module) for every import statement in `path`, including function-local ones."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield node.lineno, first.value.split(".")[0]


def violations(package: str, forbidden: set[str]) -> list[str]:
    found = []
    for path in sorted((REPO / package).rglob("*.py")):
        for line, root in imported_roots(path):
            if root in forbidden:
                found.append(f"{path.relative_to(REPO)}:{line} imports {root}")
    return found


def test_rules_is_pure() -> None:
    assert violations("rules", FORBIDDEN_IN_RULES) == []


def test_streams_does_not_import_the_application() -> None:
    assert violations("streams", FORBIDDEN_IN_STREAMS) == []


def test_checker_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    import asyncio\n    from monitor.cli import main\n")
    assert [root for _, root in imported_roots(bad)] == ["asyncio", "monitor"]


@pytest.mark.parametrize("package", ["rules", "streams", "monitor"])
def test_every_module_says_what_lives_there(package: str) -> None:
    missing = [
        str(p.relative_to(REPO))
        for p in sorted((REPO / package).rglob("*.py"))
        if ast.get_docstring(ast.parse(p.read_text())) is None
    ]
    assert missing == []


@pytest.mark.parametrize("package", ["rules", "streams", "monitor"])
def test_no_module_is_huge(package: str) -> None:
    sizes = {str(p.relative_to(REPO)): len(p.read_text().splitlines()) for p in (REPO / package).rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 450} == {}
