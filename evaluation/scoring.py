"""Scoring found findings against labelled ones: per-call matching, per-rule precision/recall/F1 and time error.

Pure (no I/O). Matching, per call:
- a present expectation (rule, outcome, speaker if labelled, turn window ± tolerance) is a true positive when a
  found finding of that rule and outcome starts inside its window; each found finding matches at most one
  expectation, closest to the labelled time first. Unmatched present expectations are false negatives.
- an unmatched found finding is a false positive when its severity is not `info`; an `info` finding (a
  compliant outcome such as `said`) only counts when labelled: as a false positive if the call labels its
  (rule, outcome) absent (`present: false`), else it is ignored.
- detection-time error of a true positive: |found start − labelled time| (the expectation's `at`, else its
  turn start; untimed expectations have none).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evaluation.corpus_labels import ExpectedFinding

INFO = "info"


@dataclass(frozen=True, slots=True)
class FoundFinding:
    """What the engine reported, reduced to what scoring needs (no evidence: nothing to redact)."""

    rule_id: str
    outcome: str
    severity: str
    start: float
    speaker: str = ""
    decided_by: str = ""  # card findings: which recognizer pass heard the number ("first", "digits")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FoundFinding:
        """From a report finding (rules.findings.Finding.to_json)."""
        details = data.get("details") or {}
        return cls(
            str(data["rule_id"]),
            str(data["outcome"]),
            str(data["severity"]),
            float(data["start"]),
            str(data.get("speaker") or ""),
            str(details.get("pass", "")) if isinstance(details, Mapping) else "",
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "outcome": self.outcome,
            "severity": self.severity,
            "start": round(self.start, 3),
            "speaker": self.speaker,
            "decided_by": self.decided_by,
        }


@dataclass(frozen=True, slots=True)
class Hit:
    """A labelled finding and the found finding that matched it."""

    expected: ExpectedFinding
    found: FoundFinding

    @property
    def time_error(self) -> float | None:
        """|found start − labelled time| in seconds; None when the label has no time."""
        labelled = self.expected.labelled_time
        return None if labelled is None else abs(self.found.start - labelled)


@dataclass(frozen=True, slots=True)
class CallScore:
    """One call's verdicts: hits (TP), misses (FN), false alarms (FP) and the (rule, outcome)s it labels absent."""

    call: str
    hits: tuple[Hit, ...]
    misses: tuple[ExpectedFinding, ...]
    false_alarms: tuple[FoundFinding, ...]
    absent: tuple[tuple[str, str], ...] = ()


def in_window(expected: ExpectedFinding, found: FoundFinding, tolerance: float) -> bool:
    """Whether `found` is of the expected rule/outcome/speaker and starts within the turn window ± tolerance."""
    if (found.rule_id, found.outcome) != (expected.rule_id, expected.outcome):
        return False
    if expected.speaker and found.speaker != expected.speaker:
        return False
    if expected.start is None:
        return True
    end = expected.end if expected.end is not None else expected.start
    return expected.start - tolerance <= found.start <= end + tolerance


def _distance(expected: ExpectedFinding, found: FoundFinding) -> float:
    labelled = expected.labelled_time
    return 0.0 if labelled is None else abs(found.start - labelled)


def score_call(
    call: str, expected: Sequence[ExpectedFinding], found: Sequence[FoundFinding], tolerance: float
) -> CallScore:
    """Match `found` against the labelled `expected` findings of one call (module docstring: the rules)."""
    present = [e for e in expected if e.present]
    pairs = sorted(
        (_distance(e, f), ei, fi)
        for ei, e in enumerate(present)
        for fi, f in enumerate(found)
        if in_window(e, f, tolerance)
    )
    matched_expected: dict[int, int] = {}
    used: set[int] = set()
    for _, ei, fi in pairs:
        if ei not in matched_expected and fi not in used:
            matched_expected[ei] = fi
            used.add(fi)
    absent = tuple(sorted({(e.rule_id, e.outcome) for e in expected if not e.present}))
    false_alarms = tuple(
        f for fi, f in enumerate(found) if fi not in used and (f.severity != INFO or (f.rule_id, f.outcome) in absent)
    )
    hits = tuple(Hit(present[ei], found[fi]) for ei, fi in sorted(matched_expected.items()))
    misses = tuple(e for ei, e in enumerate(present) if ei not in matched_expected)
    return CallScore(call, hits, misses, false_alarms, absent)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


@dataclass(frozen=True, slots=True)
class RuleScore:
    """Counts and rates for one (rule, outcome) over a corpus; rates are None when undefined (0/0)."""

    rule_id: str
    outcome: str
    true_positives: int
    false_positives: int
    false_negatives: int
    time_errors: tuple[float, ...] = ()

    @property
    def precision(self) -> float | None:
        return _ratio(self.true_positives, self.true_positives + self.false_positives)

    @property
    def recall(self) -> float | None:
        return _ratio(self.true_positives, self.true_positives + self.false_negatives)

    @property
    def f1(self) -> float | None:
        return _ratio(2 * self.true_positives, 2 * self.true_positives + self.false_positives + self.false_negatives)

    @property
    def mean_time_error(self) -> float | None:
        return statistics.fmean(self.time_errors) if self.time_errors else None

    @property
    def median_time_error(self) -> float | None:
        return statistics.median(self.time_errors) if self.time_errors else None

    def to_json(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "rule_id": self.rule_id,
            "outcome": self.outcome,
            "tp": self.true_positives,
            "fp": self.false_positives,
            "fn": self.false_negatives,
            "precision": rounded(self.precision),
            "recall": rounded(self.recall),
            "f1": rounded(self.f1),
            "time_error_mean": rounded(self.mean_time_error),
            "time_error_median": rounded(self.median_time_error),
            "timed_hits": len(self.time_errors),
        }


def rule_scores(calls: Iterable[CallScore]) -> list[RuleScore]:
    """One RuleScore per (rule, outcome) that any call labels (present or absent) or falsely reports, sorted."""
    counts: dict[tuple[str, str], list[int]] = {}
    errors: dict[tuple[str, str], list[float]] = {}

    def bucket(key: tuple[str, str]) -> list[int]:
        return counts.setdefault(key, [0, 0, 0])

    for call in calls:
        for key in call.absent:
            bucket(key)
        for hit in call.hits:
            key = (hit.expected.rule_id, hit.expected.outcome)
            bucket(key)[0] += 1
            if hit.time_error is not None:
                errors.setdefault(key, []).append(hit.time_error)
        for found in call.false_alarms:
            bucket((found.rule_id, found.outcome))[1] += 1
        for miss in call.misses:
            bucket((miss.rule_id, miss.outcome))[2] += 1
    return [
        RuleScore(rule, outcome, tp, fp, fn, tuple(errors.get((rule, outcome), ())))
        for (rule, outcome), (tp, fp, fn) in sorted(counts.items())
    ]


def total_score(scores: Sequence[RuleScore]) -> RuleScore:
    """Micro-average over all rows (every TP, FP and FN counted once)."""
    return RuleScore(
        "all",
        "all",
        sum(s.true_positives for s in scores),
        sum(s.false_positives for s in scores),
        sum(s.false_negatives for s in scores),
        tuple(e for s in scores for e in s.time_errors),
    )


def recall_by(
    scored: Sequence[tuple[Mapping[str, Any], CallScore]], rule_id: str, outcome: str, key: str
) -> dict[str, tuple[int, int]]:
    """For one (rule, outcome): value of condition `key` → (hits, labelled) over calls given with their conditions."""
    table: dict[str, list[int]] = {}
    for conditions, call in scored:
        value = str(conditions.get(key, "?"))
        hits = sum(1 for h in call.hits if (h.expected.rule_id, h.expected.outcome) == (rule_id, outcome))
        misses = sum(1 for m in call.misses if (m.rule_id, m.outcome) == (rule_id, outcome))
        if hits + misses:
            row = table.setdefault(value, [0, 0])
            row[0] += hits
            row[1] += hits + misses
    return {value: (row[0], row[1]) for value, row in sorted(table.items())}
