"""The rule model: a rule's parsed spec, the interface every rule kind implements, and its end-of-call outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from rules.events import Event, rebuild_args
from rules.findings import Finding, Severity


@dataclass(frozen=True, slots=True)
class Example:
    """A transcript a rule must (positive) or must not (negative) fire on; lines are "agent: …" / "customer: …"."""

    transcript: tuple[str, ...]
    expect: tuple[str, ...]
    name: str = ""
    language: str = ""
    """The call language the example runs in; "" means the rule's own language."""


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One rule as declared in a pack: identity, kind, scoring weight and kind-specific parameters."""

    id: str
    kind: str
    pack_id: str
    pack_version: str
    language: str
    severity: Severity
    description: str = ""
    weight: float = 1.0
    auto_fail: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    positive: tuple[Example, ...] = ()
    negative: tuple[Example, ...] = ()


@dataclass(frozen=True, slots=True)
class ParamError:
    """A problem with one parameter of a rule: `field` is a dotted path inside `params`."""

    field: str
    message: str


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """A rule's verdict on a whole call: passed True/False, or None when the rule did not apply."""

    rule_id: str
    passed: bool | None
    summary: str
    finding_ids: tuple[str, ...] = ()

    def __reduce__(self) -> tuple[type[Any], tuple[Any, ...]]:
        return rebuild_args(self)


class Rule(Protocol):
    """A rule instance holds the per-call state of one rule; it sees every event of that call in order.

    Implementations are constructed as `Kind(spec)` and also provide a classmethod
    `check_params(params: Mapping[str, Any]) -> list[ParamError]` used by the pack loader.
    """

    spec: RuleSpec

    def feed(self, event: Event) -> list[Finding]:
        """Consume one event; return the findings it caused (finding_id left empty)."""
        ...

    def outcome(self) -> RuleOutcome:
        """The verdict so far (final once CallEnded was fed)."""
        ...
