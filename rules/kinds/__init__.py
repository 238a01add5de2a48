"""The registry of rule kinds: kind name → the class implementing it (imported on first use)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, Protocol

from rules.model import ParamError, Rule, RuleSpec

KIND_CLASSES: dict[str, str] = {
    "required_phrase": "rules.kinds.required_phrase:RequiredPhraseRule",
    "consent": "rules.kinds.consent:ConsentRule",
    "forbidden_phrase": "rules.kinds.forbidden_phrase:ForbiddenPhraseRule",
    "sensitive_number": "rules.kinds.sensitive_number:SensitiveNumberRule",
    "bank_number": "rules.kinds.bank_number:BankNumberRule",
    "unverified_disclosure": "rules.kinds.unverified_disclosure:UnverifiedDisclosureRule",
}


class RuleClass(Protocol):
    """What a rule kind's class offers: construction from a spec and a parameter check."""

    def __call__(self, spec: RuleSpec) -> Rule: ...

    def check_params(self, params: Mapping[str, Any]) -> list[ParamError]: ...


_LOADED: dict[str, RuleClass] = {}
"""Classes already imported, by KIND_CLASSES target (a call builds every rule: no import machinery per call)."""


def rule_class(kind: str) -> RuleClass:
    """The class implementing `kind`; raises KeyError naming the known kinds when it is unknown."""
    try:
        target = KIND_CLASSES[kind]
    except KeyError:
        raise KeyError(f"unknown rule kind {kind!r}; known kinds: {', '.join(sorted(KIND_CLASSES))}") from None
    cls = _LOADED.get(target)
    if cls is None:
        module_name, _, class_name = target.partition(":")
        cls = _LOADED[target] = getattr(importlib.import_module(module_name), class_name)
    return cls


def build_rule(spec: RuleSpec) -> Rule:
    """A fresh per-call instance of the rule `spec` declares."""
    return rule_class(spec.kind)(spec)
