"""Coaching figures per agent or per queue over a period, against the period before it: calls, pass rate, findings
per rule per 100 calls, their trend, the worst rules and a per-bucket pass-rate series (the store reads the rows)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

GroupBy = Literal["agent", "queue"]
GROUP_BY: tuple[GroupBy, ...] = ("agent", "queue")
NO_GROUP = "(none)"
"""The group of calls that carry no agent (or queue)."""
MAX_BUCKETS = 60
WORST_RULES = 3


@dataclass(frozen=True, slots=True)
class CoachingCall:
    """One ended call as coaching sees it: its group, when it started, its verdict, its alerts per rule."""

    call_id: str
    group: str
    started_wall: float
    passed: bool | None
    score: float | None
    findings: Mapping[str, int] = field(default_factory=dict)
    """Findings above severity info, per rule id."""


@dataclass(slots=True)
class PeriodStats:
    """Totals of one group in one period."""

    calls: int = 0
    scored: int = 0
    passed: int = 0
    score_sum: float = 0.0
    findings: dict[str, int] = field(default_factory=dict)

    def add(self, call: CoachingCall) -> None:
        self.calls += 1
        if call.passed is not None:
            self.scored += 1
            self.passed += int(call.passed)
            self.score_sum += call.score or 0.0
        for rule, count in call.findings.items():
            self.findings[rule] = self.findings.get(rule, 0) + count

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.scored if self.scored else None

    def per_100(self, rule: str) -> float | None:
        """Findings of `rule` per 100 calls (None without calls)."""
        return 100.0 * self.findings.get(rule, 0) / self.calls if self.calls else None

    @property
    def findings_per_100(self) -> float | None:
        return 100.0 * sum(self.findings.values()) / self.calls if self.calls else None

    def to_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "scored": self.scored,
            "passed": self.passed,
            "pass_rate": _round(self.pass_rate),
            "avg_score": _round(self.score_sum / self.scored if self.scored else None, 1),
            "findings": dict(sorted(self.findings.items())),
            "findings_per_100": _round(self.findings_per_100, 1),
            "per_rule_per_100": {rule: _round(self.per_100(rule), 1) for rule in sorted(self.findings)},
        }


def period_before(since: float, until: float) -> tuple[float, float]:
    """The period of the same length just before [since, until)."""
    return since - (until - since), since


def coaching_report(
    calls: Iterable[CoachingCall], *, by: GroupBy, since: float, until: float, buckets: int = 7
) -> dict[str, Any]:
    """The coaching document (docs/coaching.md): per group, this period [since, until) against the one before it.

    `calls` may hold calls of both periods (others are ignored). Groups are ordered worst first: lowest pass rate,
    then most findings per 100 calls, then name."""
    if not until > since:
        raise ValueError(f"coaching period: until ({until}) must be after since ({since})")
    if not 1 <= buckets <= MAX_BUCKETS:
        raise ValueError(f"coaching buckets must be within 1..{MAX_BUCKETS}, got {buckets}")
    prev_since, _ = period_before(since, until)
    width = (until - since) / buckets
    current: dict[str, PeriodStats] = {}
    previous: dict[str, PeriodStats] = {}
    series: dict[str, list[PeriodStats]] = {}
    for call in calls:
        if since <= call.started_wall < until:
            current.setdefault(call.group, PeriodStats()).add(call)
            slot = min(buckets - 1, int((call.started_wall - since) // width))
            series.setdefault(call.group, [PeriodStats() for _ in range(buckets)])[slot].add(call)
        elif prev_since <= call.started_wall < since:
            previous.setdefault(call.group, PeriodStats()).add(call)
    groups = [_group(key, current[key], previous.get(key, PeriodStats()), series[key], since, width)
              for key in current]
    groups.sort(key=lambda g: (_none_last(g["pass_rate"]), -(g["findings_per_100"] or 0.0), g["key"]))
    rules = sorted({rule for stats in (*current.values(), *previous.values()) for rule in stats.findings})
    return {
        "by": by,
        "since": since,
        "until": until,
        "previous_since": prev_since,
        "bucket_seconds": width,
        "rules": rules,
        "groups": groups,
        "previous_only": sorted(set(previous) - set(current)),
    }


def _group(
    key: str, now: PeriodStats, before: PeriodStats, slots: list[PeriodStats], since: float, width: float
) -> dict[str, Any]:
    rules = sorted(set(now.findings) | set(before.findings))
    per_rule: list[dict[str, Any]] = [
        {
            "rule": rule,
            "findings": now.findings.get(rule, 0),
            "per_100": _round(now.per_100(rule), 1),
            "previous_per_100": _round(before.per_100(rule), 1),
            "change": _round(_delta(now.per_100(rule), before.per_100(rule)), 1),
        }
        for rule in rules
    ]
    worst = sorted((r for r in per_rule if r["findings"]), key=lambda r: (-float(r["per_100"]), str(r["rule"])))
    worst = worst[:WORST_RULES]
    return {
        "key": key,
        **now.to_json(),
        "previous": before.to_json(),
        "trend": {
            "pass_rate": _round(_delta(now.pass_rate, before.pass_rate)),
            "findings_per_100": _round(_delta(now.findings_per_100, before.findings_per_100), 1),
        },
        "rules": per_rule,
        "worst_rules": worst,
        "series": [
            {"start": since + i * width, "calls": s.calls, "pass_rate": _round(s.pass_rate),
             "findings_per_100": _round(s.findings_per_100, 1)}
            for i, s in enumerate(slots)
        ],
    }


CSV_COLUMNS = (
    "group_by", "group", "calls", "scored", "passed", "pass_rate", "previous_calls", "previous_pass_rate",
    "pass_rate_change", "rule", "findings", "per_100_calls", "previous_per_100_calls", "per_100_change",
)


def csv_rows(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per group and rule (a group without findings: one row with an empty rule), in CSV_COLUMNS."""
    rows: list[dict[str, Any]] = []
    for g in report["groups"]:
        base = {
            "group_by": report["by"], "group": g["key"], "calls": g["calls"], "scored": g["scored"],
            "passed": g["passed"], "pass_rate": _blank(g["pass_rate"]), "previous_calls": g["previous"]["calls"],
            "previous_pass_rate": _blank(g["previous"]["pass_rate"]),
            "pass_rate_change": _blank(g["trend"]["pass_rate"]),
        }
        for r in g["rules"] or [None]:
            rows.append({**base, **({} if r is None else {
                "rule": r["rule"], "findings": r["findings"], "per_100_calls": _blank(r["per_100"]),
                "previous_per_100_calls": _blank(r["previous_per_100"]), "per_100_change": _blank(r["change"]),
            })})
    return rows


def _delta(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else now - before


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, digits)


def _none_last(value: float | None) -> float:
    return 2.0 if value is None else value


def _blank(value: Any) -> Any:
    return "" if value is None else value
