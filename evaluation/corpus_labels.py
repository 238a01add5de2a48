"""Labels of corpus calls (docs/corpus.md): expected findings per call, their JSON form, and checking a report."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LABELS_FORMAT = "callwarden-corpus-labels"
LABELS_VERSION = 1
DEFAULT_TOLERANCE = 3.0


class LabelsError(ValueError):
    """A labels file that does not follow docs/corpus.md; the message names the file and field."""


@dataclass(frozen=True, slots=True)
class ExpectedFinding:
    """A finding the call must (present) or must not (absent) produce.

    With `start`/`end` (audio seconds, the labelled turn) a present finding must start within
    [start - tolerance, end + tolerance]; `speaker` "" means any speaker. `at` is where the evidence itself
    begins (e.g. the first spoken card digit, or the disclosure deadline for `not_said`): the finding's start
    should be there; None means `start` (the detection-time error of `callwarden eval` is measured against it).
    """

    rule_id: str
    outcome: str
    present: bool = True
    speaker: str = ""
    start: float | None = None
    end: float | None = None
    at: float | None = None

    @property
    def labelled_time(self) -> float | None:
        """The audio time a matching finding should start at: `at`, else the turn's start."""
        return self.at if self.at is not None else self.start

    def to_json(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "outcome": self.outcome,
            "present": self.present,
            "speaker": self.speaker or None,
            "start": None if self.start is None else round(self.start, 3),
            "end": None if self.end is None else round(self.end, 3),
            "at": None if self.at is None else round(self.at, 3),
        }

    def describe(self) -> str:
        """A short text such as "pci.pan-spoken pan_detected (customer) @23.5s" or "no pci.cvv-spoken cvv_detected"."""
        who = f" ({self.speaker})" if self.speaker else ""
        when = f" @{self.start:.1f}s" if self.start is not None else ""
        return f"{'' if self.present else 'no '}{self.rule_id} {self.outcome}{who}{when}"


@dataclass(frozen=True, slots=True)
class CallLabels:
    """One labelled call: its audio file (relative to the labels file), channels, turns and expectations."""

    scenario: str
    description: str
    audio: str
    agent_channel: int
    duration: float
    turns: tuple[dict[str, Any], ...]
    expect: tuple[ExpectedFinding, ...]
    tags: tuple[str, ...] = ()
    tolerance_seconds: float = DEFAULT_TOLERANCE
    conditions: Mapping[str, Any] = field(default_factory=dict)
    """How the audio was made (generated corpora: voices, speeds, noise, codec, digit speaker); free-form."""

    def to_json(self) -> dict[str, Any]:
        return {
            "format": LABELS_FORMAT,
            "version": LABELS_VERSION,
            "scenario": self.scenario,
            "description": self.description,
            "tags": list(self.tags),
            "audio": self.audio,
            "agent_channel": self.agent_channel,
            "duration": round(self.duration, 3),
            "tolerance_seconds": self.tolerance_seconds,
            "turns": list(self.turns),
            "expect": [e.to_json() for e in self.expect],
            "conditions": dict(self.conditions),
        }


def _field(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise LabelsError(f"{where}: field {key!r} must be {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


def _time(data: Mapping[str, Any], key: str, where: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LabelsError(f"{where}: field {key!r} must be seconds or null, got {value!r}")
    return float(value)


def labels_from_json(data: Mapping[str, Any], where: str = "labels") -> CallLabels:
    """Parse one labels document; LabelsError says which field is wrong."""
    if data.get("format") != LABELS_FORMAT or data.get("version") != LABELS_VERSION:
        raise LabelsError(f"{where}: expected format {LABELS_FORMAT!r} version {LABELS_VERSION}")
    expect = []
    for i, item in enumerate(_field(data, "expect", list, where)):
        at = f"{where}: expect[{i}]"
        if not isinstance(item, Mapping):
            raise LabelsError(f"{at}: must be an object")
        expect.append(
            ExpectedFinding(
                _field(item, "rule_id", str, at),
                _field(item, "outcome", str, at),
                bool(_field(item, "present", bool, at)),
                item.get("speaker") or "",
                _time(item, "start", at),
                _time(item, "end", at),
                _time(item, "at", at),
            )
        )
    return CallLabels(
        scenario=_field(data, "scenario", str, where),
        description=str(data.get("description", "")),
        audio=_field(data, "audio", str, where),
        agent_channel=_field(data, "agent_channel", int, where),
        duration=float(_field(data, "duration", (int, float), where)),
        turns=tuple(_field(data, "turns", list, where)),
        expect=tuple(expect),
        tags=tuple(str(t) for t in data.get("tags", [])),
        tolerance_seconds=float(data.get("tolerance_seconds", DEFAULT_TOLERANCE)),
        conditions=_conditions(data, where),
    )


def _conditions(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    value = data.get("conditions")
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise LabelsError(f"{where}: field 'conditions' must be an object, got {value!r}")
    return dict(value)


def load_labels(path: Path) -> CallLabels:
    """Read a labels JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise LabelsError(f"{path}: cannot read labels: {exc}") from None
    return labels_from_json(data, str(path))


@dataclass(frozen=True, slots=True)
class LabelCheck:
    """The verdict on one expectation: passed, and what the rule produced instead ("got")."""

    expected: ExpectedFinding
    passed: bool
    got: tuple[str, ...]


def _matches(expected: ExpectedFinding, finding: Mapping[str, Any], tolerance: float) -> bool:
    if finding.get("rule_id") != expected.rule_id or finding.get("outcome") != expected.outcome:
        return False
    if expected.speaker and finding.get("speaker") != expected.speaker:
        return False
    if not expected.present or expected.start is None:
        return True
    end = expected.end if expected.end is not None else expected.start
    start = float(finding.get("start", 0.0))
    return expected.start - tolerance <= start <= end + tolerance


def check_findings(labels: CallLabels, findings: Sequence[Mapping[str, Any]]) -> list[LabelCheck]:
    """Each expectation checked against a report's `findings` (Finding.to_json dicts)."""
    checks = []
    for expected in labels.expect:
        hit = any(_matches(expected, f, labels.tolerance_seconds) for f in findings)
        got = tuple(
            f"{f['outcome']} ({f.get('speaker')}) @{float(f['start']):.1f}s"
            for f in findings
            if f.get("rule_id") == expected.rule_id
        )
        checks.append(LabelCheck(expected, hit == expected.present, got))
    return checks
