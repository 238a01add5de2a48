"""The rule-pack loader: YAML packs → a validated RuleSet; fails closed listing every problem with file and line.

Packs are `*.yaml` files, one pack each (format in docs/packs.md). Built-in packs live in rules/packs/; users
add directories. Line numbers come from the YAML node marks (yaml.compose), so every problem names the file,
the line, the field path and what was expected.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from rules.findings import Severity
from rules.intents import check_concepts
from rules.kinds import KIND_CLASSES, rule_class
from rules.model import Example, RuleSpec
from rules.pack_nodes import NodeReader, PackProblem
from rules.transcripts import TranscriptError, parse_line

BUILTIN_PACKS_DIR = Path(str(files("rules") / "packs")).resolve()
"""Found through the package, not this module's `__file__`: a mypyc-compiled module knows only its build path."""
OPTIONAL_PACKS_DIR = BUILTIN_PACKS_DIR / "optional"
"""Shipped packs for one jurisdiction (tcpa, fdcpa, hipaa, ...): loaded only when named (`load_packs(optional=)`)."""
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]+)*$")
PACK_FIELDS = ("pack", "version", "description", "language", "concepts", "rules")
RULE_FIELDS = (
    "id",
    "kind",
    "severity",
    "weight",
    "auto_fail",
    "language",
    "description",
    "params",
    "examples",
)
EXAMPLE_FIELDS = ("name", "transcript", "expect", "language")


class PackError(ValueError):
    """Rule packs failed validation; `problems` lists every one (file, line, field, what was expected)."""

    def __init__(self, problems: Sequence[PackProblem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in rule packs:\n{lines}")


@dataclass(frozen=True, slots=True)
class Pack:
    """One loaded pack: identity, version, default language, source file and its rules."""

    id: str
    version: str
    description: str
    language: str
    source: str
    rules: tuple[RuleSpec, ...]


@dataclass(frozen=True, slots=True)
class RuleSet:
    """Every rule of the loaded packs, in pack-file then declaration order."""

    packs: tuple[Pack, ...]

    @property
    def rules(self) -> tuple[RuleSpec, ...]:
        """All rules of all packs."""
        return tuple(rule for pack in self.packs for rule in pack.rules)

    def rule(self, rule_id: str) -> RuleSpec:
        """The rule with id `rule_id`; KeyError naming the known ids otherwise."""
        for spec in self.rules:
            if spec.id == rule_id:
                return spec
        raise KeyError(f"no rule {rule_id!r}; known: {', '.join(s.id for s in self.rules)}")


def pack_files(directory: Path) -> list[Path]:
    """The pack files of a directory (*.yaml, *.yml), sorted by name."""
    return sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])


def load_pack_text(text: str, source: str) -> Pack:
    """Parse and validate one pack's YAML text; PackError on any problem."""
    reader = NodeReader(source)
    pack = _read_pack(reader, text)
    if reader.problems or pack is None:
        raise PackError(reader.problems)
    return pack


def optional_pack_names() -> list[str]:
    """The names of the shipped opt-in packs (their file stems, which are their pack ids), sorted."""
    return sorted(path.stem for path in pack_files(OPTIONAL_PACKS_DIR))


def load_packs(dirs: Iterable[Path | str] = (), builtin: bool = True, optional: Iterable[str] = ()) -> RuleSet:
    """Load the built-in packs (unless builtin=False), the opt-in packs named in `optional` ("all": every one)
    and every pack in `dirs`; PackError lists all problems (an unknown opt-in name is one)."""
    directories = ([BUILTIN_PACKS_DIR] if builtin else []) + [Path(d) for d in dirs]
    problems: list[PackProblem] = []
    files_ = [path for directory in directories for path in _directory_files(directory, problems)]
    files_.extend(_optional_files(optional, problems))
    packs: list[Pack] = []
    for path in files_:
        try:
            packs.append(load_pack_text(path.read_text(encoding="utf-8"), str(path)))
        except PackError as exc:
            problems.extend(exc.problems)
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(PackProblem(str(path), 0, "", f"cannot read the file: {exc}"))
    problems.extend(_cross_pack_problems(packs))
    if problems:
        raise PackError(problems)
    return RuleSet(tuple(packs))


def _directory_files(directory: Path, problems: list[PackProblem]) -> list[Path]:
    if not directory.is_dir():
        problems.append(PackProblem(str(directory), 0, "", "not a directory of *.yaml rule packs"))
        return []
    return pack_files(directory)


def _optional_files(names: Iterable[str], problems: list[PackProblem]) -> list[Path]:
    known = optional_pack_names()
    wanted: list[str] = []
    for name in names:
        for one in known if name == "all" else [name]:
            if one not in known:
                problems.append(
                    PackProblem(
                        "packs", 0, name, f"no opt-in pack {name!r}; known: {', '.join(known)} (or 'all')"
                    )
                )
            elif one not in wanted:
                wanted.append(one)
    return [OPTIONAL_PACKS_DIR / f"{name}.yaml" for name in sorted(wanted)]


def _cross_pack_problems(packs: Sequence[Pack]) -> list[PackProblem]:
    problems: list[PackProblem] = []
    seen_packs: dict[str, str] = {}
    seen_rules: dict[str, str] = {}
    for pack in packs:
        if pack.id in seen_packs:
            problems.append(PackProblem(pack.source, 1, "pack", f"pack id {pack.id!r} also in {seen_packs[pack.id]}"))
        seen_packs.setdefault(pack.id, pack.source)
        for rule in pack.rules:
            if rule.id in seen_rules:
                problems.append(
                    PackProblem(pack.source, 0, f"rules[{rule.id}]", f"rule id also in {seen_rules[rule.id]}")
                )
            seen_rules.setdefault(rule.id, pack.source)
    return problems


def _read_pack(reader: NodeReader, text: str) -> Pack | None:
    root = reader.parse(text)
    if root is None:
        return None
    fields = reader.mapping(root, "", PACK_FIELDS, required=("pack", "version", "rules"))
    if fields is None:
        return None
    pack_id = reader.string(fields.get("pack"), "pack", pattern=_ID, hint="lowercase id like 'gdpr'")
    version = reader.string(fields.get("version"), "version", pattern=_SEMVER, hint='a quoted semver like "1.0.0"')
    description = reader.string(fields.get("description"), "description", default="")
    language = reader.string(fields.get("language"), "language", pattern=_LANGUAGE, hint="e.g. en", default="en")
    concepts = _read_concepts(reader, fields.get("concepts"))
    rule_nodes = reader.sequence(fields.get("rules"), "rules", non_empty=True)
    rules: list[RuleSpec] = []
    seen: set[str] = set()
    for i, node in enumerate(rule_nodes):
        spec = _read_rule(reader, node, f"rules[{i}]", (pack_id or "", version or "", language or "en"), concepts)
        if spec is None:
            continue
        if spec.id in seen:
            reader.problem(node, f"rules[{i}].id", f"duplicate rule id {spec.id!r} in this pack")
        seen.add(spec.id)
        rules.append(spec)
    if not pack_id or not version:
        return None
    return Pack(pack_id, version, description or "", language or "en", reader.source, tuple(rules))


def _read_concepts(reader: NodeReader, node: yaml.Node | None) -> dict[str, Any]:
    """The pack's `concepts` (language → {NAME: [phrases]}) shared by its rules' intent patterns; {} if none."""
    if node is None:
        return {}
    table = reader.params(node, "concepts")
    if table is None:
        return {}
    for language, concepts in table.items():
        problem = check_concepts(concepts)
        if problem is not None:
            reader.problem(reader.locate(node, str(language)), f"concepts.{language}", problem)
            return {}
    return table


def _with_concepts(params: dict[str, Any], concepts: dict[str, Any]) -> dict[str, Any]:
    """A rule's params with the pack's concepts merged under its own `concepts` (the rule's names win)."""
    if not concepts or not any(str(key).endswith("patterns") for key in params):
        return params
    own = params.get("concepts")
    merged = {lang: dict(table) for lang, table in concepts.items()}
    if isinstance(own, dict):
        for lang, table in own.items():
            merged[lang] = {**merged.get(lang, {}), **(table if isinstance(table, dict) else {})}
    return {**params, "concepts": merged}


def _read_rule(
    reader: NodeReader, node: yaml.Node, where: str, pack: tuple[str, str, str], concepts: dict[str, Any]
) -> RuleSpec | None:
    pack_id, version, language = pack
    fields = reader.mapping(node, where, RULE_FIELDS, required=("id", "kind", "severity", "examples"))
    if fields is None:
        return None
    rule_id = reader.string(fields.get("id"), f"{where}.id", pattern=_ID, hint="lowercase id like 'gdpr.erasure'")
    kind = reader.string(fields.get("kind"), f"{where}.kind")
    severity = reader.string(fields.get("severity"), f"{where}.severity", choices=[s.value for s in Severity])
    weight = reader.number(fields.get("weight"), f"{where}.weight", default=1.0, low=0.0, high=1000.0)
    auto_fail = reader.boolean(fields.get("auto_fail"), f"{where}.auto_fail", default=False)
    rule_language = reader.string(fields.get("language"), f"{where}.language", pattern=_LANGUAGE, default=language)
    description = reader.string(fields.get("description"), f"{where}.description", default="")
    params_node = fields.get("params")
    params = reader.params(params_node, f"{where}.params")
    if params is not None:
        params = _with_concepts(params, concepts)
    if kind is not None and kind not in KIND_CLASSES:
        reader.problem(
            fields["kind"], f"{where}.kind", f"unknown kind {kind!r}; known: {', '.join(sorted(KIND_CLASSES))}"
        )
    elif kind is not None and params is not None:
        _check_params(reader, kind, params, params_node, f"{where}.params")
    positive, negative = _read_examples(reader, fields.get("examples"), f"{where}.examples")
    if None in (rule_id, kind, severity, params) or weight is None or auto_fail is None:
        return None
    assert rule_id is not None and kind is not None and severity is not None and params is not None
    return RuleSpec(
        id=rule_id,
        kind=kind,
        pack_id=pack_id,
        pack_version=version,
        language=rule_language or language,
        severity=Severity(severity),
        description=description or "",
        weight=weight,
        auto_fail=auto_fail,
        params=params,
        positive=positive,
        negative=negative,
    )


def _check_params(reader: NodeReader, kind: str, params: dict[str, object], node: yaml.Node | None, where: str) -> None:
    try:
        cls = rule_class(kind)
    except ImportError as exc:
        reader.problem(node, where, f"kind {kind!r} is registered but its module cannot be imported: {exc}")
        return
    for error in cls.check_params(params):
        reader.problem(reader.locate(node, error.field), f"{where}.{error.field}", error.message)


def _read_examples(
    reader: NodeReader, node: yaml.Node | None, where: str
) -> tuple[tuple[Example, ...], tuple[Example, ...]]:
    fields = reader.mapping(node, where, ("positive", "negative"), required=("positive", "negative"))
    if fields is None:
        return (), ()
    out: dict[str, tuple[Example, ...]] = {}
    for polarity in ("positive", "negative"):
        items = reader.sequence(fields.get(polarity), f"{where}.{polarity}", non_empty=True)
        examples = [_read_example(reader, item, f"{where}.{polarity}[{i}]") for i, item in enumerate(items)]
        out[polarity] = tuple(e for e in examples if e is not None)
    return out.get("positive", ()), out.get("negative", ())


def _read_example(reader: NodeReader, node: yaml.Node, where: str) -> Example | None:
    fields = reader.mapping(node, where, EXAMPLE_FIELDS, required=("transcript", "expect"))
    if fields is None:
        return None
    name = reader.string(fields.get("name"), f"{where}.name", default="")
    language = reader.string(fields.get("language"), f"{where}.language", pattern=_LANGUAGE, default="")
    lines = reader.strings(fields.get("transcript"), f"{where}.transcript")
    expect = reader.strings(fields.get("expect"), f"{where}.expect")
    for i, line in enumerate(lines or []):
        try:
            parse_line(line)
        except TranscriptError as exc:
            reader.problem(reader.locate(fields.get("transcript"), f"[{i}]"), f"{where}.transcript[{i}]", str(exc))
    if lines is None or expect is None:
        return None
    return Example(tuple(lines), tuple(expect), name or "", language or "")
