"""Reading YAML nodes with their line numbers: typed field access that records clear problems (file, line, field)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

_PATH_PART = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class PackProblem:
    """One validation problem: file, 1-based line (0 when unknown), field path and what was expected."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field or '(pack)'}: {self.message}"


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 0


def _kind_name(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"{node.value!r}"


class NodeReader:
    """Typed access to composed YAML nodes of one file; every mismatch becomes a PackProblem."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[PackProblem] = []
        self._loader: yaml.SafeLoader | None = None
        self._last_line = 0

    def problem(self, node: yaml.Node | None, field: str, message: str) -> None:
        """Record a problem at `node`'s line."""
        self.problems.append(PackProblem(self.source, _line(node) or self._last_line, field, message))

    def parse(self, text: str) -> yaml.Node | None:
        """The document's root node; None (with a problem) on YAML syntax errors or an empty file."""
        try:
            self._loader = yaml.SafeLoader(text)
            root = self._loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 0
            context = ""
            if exc.context and exc.context_mark is not None:
                context = f" ({exc.context} started at line {exc.context_mark.line + 1})"
            self.problems.append(PackProblem(self.source, line, "", f"invalid YAML: {exc.problem or exc}{context}"))
            return None
        except yaml.YAMLError as exc:
            self.problems.append(PackProblem(self.source, 0, "", f"invalid YAML: {exc}"))
            return None
        if root is None:
            self.problems.append(PackProblem(self.source, 1, "", "empty file; expected a pack mapping"))
        return root

    def mapping(
        self, node: yaml.Node | None, where: str, allowed: Sequence[str], required: Sequence[str] = ()
    ) -> dict[str, yaml.Node] | None:
        """The mapping's key → value node; problems for non-mappings, unknown, duplicate and missing keys."""
        if node is None:
            self.problem(node, where, f"missing; expected a mapping with {', '.join(required)}")
            return None
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, where, f"expected a mapping with keys {', '.join(allowed)}, got {_kind_name(node)}")
            return None
        self._last_line = _line(node)
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            field = f"{where}.{key}" if where else key
            if key not in allowed:
                self.problem(key_node, field, f"unknown field; expected one of {', '.join(allowed)}")
            elif key in out:
                self.problem(key_node, field, "duplicate key")
            else:
                out[key] = value_node
        for key in required:
            if key not in out:
                self.problem(node, f"{where}.{key}" if where else key, "required field is missing")
        return out

    def _value(self, node: yaml.Node) -> Any:
        assert self._loader is not None
        return self._loader.construct_object(node, deep=True)

    def string(
        self,
        node: yaml.Node | None,
        where: str,
        pattern: re.Pattern[str] | None = None,
        hint: str = "",
        choices: Sequence[str] = (),
        default: str | None = None,
    ) -> str | None:
        """A scalar string (None when absent and no default), optionally matching a pattern or choices."""
        if node is None:
            return default  # a missing required field was already reported by mapping()
        value = self._value(node) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(value, str):
            what = "one of " + ", ".join(choices) if choices else f"a string{f' ({hint})' if hint else ''}"
            self.problem(node, where, f"expected {what}, got {_kind_name(node)} (quote it if it looks like a number)")
            return None
        if choices and value not in choices:
            self.problem(node, where, f"expected one of {', '.join(choices)}, got {value!r}")
            return None
        if pattern is not None and not pattern.match(value):
            self.problem(node, where, f"expected {hint or pattern.pattern}, got {value!r}")
            return None
        return value

    def number(self, node: yaml.Node | None, where: str, default: float, low: float, high: float) -> float | None:
        """An optional number within [low, high]."""
        if node is None:
            return default
        value = self._value(node) if isinstance(node, yaml.ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            self.problem(node, where, f"expected a number between {low:g} and {high:g}, got {_kind_name(node)}")
            return None
        return float(value)

    def boolean(self, node: yaml.Node | None, where: str, default: bool) -> bool | None:
        """An optional true/false."""
        if node is None:
            return default
        value = self._value(node) if isinstance(node, yaml.ScalarNode) else None
        if not isinstance(value, bool):
            self.problem(node, where, f"expected true or false, got {_kind_name(node)}")
            return None
        return value

    def sequence(self, node: yaml.Node | None, where: str, non_empty: bool = False) -> list[yaml.Node]:
        """The item nodes of a list (empty, with a problem, when it is not a list)."""
        if node is None:
            self.problem(node, where, "required list is missing")
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.problem(node, where, f"expected a list, got {_kind_name(node)}")
            return []
        if non_empty and not node.value:
            self.problem(node, where, "expected at least one item")
        return list(node.value)

    def strings(self, node: yaml.Node | None, where: str) -> list[str] | None:
        """A non-empty list of non-empty strings."""
        items = self.sequence(node, where, non_empty=True)
        out: list[str] = []
        for i, item in enumerate(items):
            value = self._value(item) if isinstance(item, yaml.ScalarNode) else None
            if not isinstance(value, str) or not value.strip():
                self.problem(item, f"{where}[{i}]", f"expected a non-empty string, got {_kind_name(item)}")
                return None
            out.append(value)
        return out if items else None

    def params(self, node: yaml.Node | None, where: str) -> dict[str, Any] | None:
        """The kind-specific params mapping as plain Python values ({} when absent)."""
        if node is None:
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.problem(node, where, f"expected a mapping of kind parameters, got {_kind_name(node)}")
            return None
        value = self._value(node)
        if not all(isinstance(k, str) for k in value):
            self.problem(node, where, "parameter names must be strings")
            return None
        return dict(value)

    def locate(self, node: yaml.Node | None, path: str) -> yaml.Node | None:
        """The node at dotted/indexed `path` ("phrases.en[2]") below `node`; the deepest found on the way."""
        current = node
        for name, index in _PATH_PART.findall(path):
            child: yaml.Node | None = None
            if name and isinstance(current, yaml.MappingNode):
                child = next((v for k, v in current.value if str(k.value) == name), None)
            elif index and isinstance(current, yaml.SequenceNode) and int(index) < len(current.value):
                child = current.value[int(index)]
            if child is None:
                return current
            current = child
        return current
