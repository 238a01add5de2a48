"""The example runner: replays every rule's positive and negative transcript examples through the engine.

A positive example passes when the rule emits findings with ALL its `expect` outcomes; a negative one when
it emits NONE of them. A rule lacking positive or negative examples fails. Each example runs a fresh
CallMonitor holding only its rule, in the example's language (default: the rule's language).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rules.engine import CallMonitor
from rules.findings import Finding
from rules.model import Example, RuleSpec
from rules.packs import RuleSet
from rules.transcripts import transcript_events


@dataclass(frozen=True, slots=True)
class ExampleResult:
    """The verdict on one example (or on a rule missing a kind of example)."""

    rule_id: str
    polarity: str
    name: str
    passed: bool
    message: str
    outcomes: tuple[str, ...] = ()


def example_findings(spec: RuleSpec, example: Example) -> list[Finding]:
    """Every finding `spec` emits on `example`'s scripted call."""
    language = example.language or spec.language
    monitor = CallMonitor([spec], call_id=f"example:{spec.id}")
    findings: list[Finding] = []
    for event in transcript_events(f"example:{spec.id}", example.transcript, language):
        findings.extend(monitor.feed(event))
    return findings


def run_example(spec: RuleSpec, example: Example, polarity: str) -> ExampleResult:
    """Run one example; polarity is "positive" or "negative"."""
    outcomes = tuple(f.outcome for f in example_findings(spec, example))
    seen = set(outcomes)
    if polarity == "positive":
        missing = [o for o in example.expect if o not in seen]
        passed = not missing
        message = (
            "ok" if passed else f"expected outcome(s) {missing} but the rule emitted {list(outcomes) or 'nothing'}"
        )
    else:
        present = [o for o in example.expect if o in seen]
        passed = not present
        message = "ok" if passed else f"must not emit {present} but did (all outcomes: {list(outcomes)})"
    return ExampleResult(spec.id, polarity, example.name or example.transcript[0][:40], passed, message, outcomes)


def run_rule_examples(spec: RuleSpec) -> list[ExampleResult]:
    """All examples of one rule, plus a failure for each missing kind of example."""
    results: list[ExampleResult] = []
    for polarity, examples in (("positive", spec.positive), ("negative", spec.negative)):
        if not examples:
            results.append(ExampleResult(spec.id, polarity, "", False, f"rule has no {polarity} examples"))
        results.extend(run_example(spec, example, polarity) for example in examples)
    return results


def run_examples(rules: RuleSet | Iterable[RuleSpec]) -> list[ExampleResult]:
    """Every example of every rule."""
    specs = rules.rules if isinstance(rules, RuleSet) else tuple(rules)
    return [result for spec in specs for result in run_rule_examples(spec)]
