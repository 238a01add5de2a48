"""Mono vs stereo: a stereo corpus mixed down to one channel, both analysed, per-call rule outcomes compared.

Each stereo call (agent channel 0) is mixed down with sox (`-c 1`: both channels averaged into one) and analysed as a
single `unknown` leg, which the pipeline splits into agent and customer turns (rules/attribution.py); the stereo file
is analysed as usual. Per call and rule family (disclosure, consent, pci) the *outcome* is the set of finding
outcomes its rules produced (speakers aside: "pan_detected" by whoever); a family agrees when both sets are equal.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rules.attribution import AttributionConfig, SpeakerAttributor
from rules.events import DigitReading, Event, Speaker, Utterance
from rules.findings import Finding

FAMILIES = {"disclosure": ("disclosure.",), "consent": ("consent.",), "pci": ("pci.",)}
"""Rule families compared, by rule id prefix."""
QUIET = frozenset({"absent", "no_sensitive_numbers"})
"""Outcomes that say nothing happened (left out of the compared sets)."""


class MixdownError(RuntimeError):
    """sox is missing or failed on a file (the message says which and why)."""


def mix_down(stereo: Path, mono: Path) -> None:
    """Write `stereo` mixed down to one channel as `mono` (sox `-c 1`, same rate and encoding)."""
    sox = shutil.which("sox")
    if sox is None:
        raise MixdownError("sox is not installed (apt-get install sox); it mixes the stereo calls down to mono")
    done = subprocess.run([sox, str(stereo), "-c", "1", str(mono)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise MixdownError(f"sox could not mix {stereo} down to {mono}: {done.stderr.strip()}")


def family_outcomes(findings: Sequence[Finding] | Sequence[dict[str, Any]]) -> dict[str, tuple[str, ...]]:
    """Per family, the sorted set of outcomes its findings had (quiet outcomes left out)."""
    out: dict[str, set[str]] = {family: set() for family in FAMILIES}
    for finding in findings:
        data = finding.to_json() if isinstance(finding, Finding) else finding
        for family, prefixes in FAMILIES.items():
            if str(data["rule_id"]).startswith(prefixes) and data["outcome"] not in QUIET:
                out[family].add(str(data["outcome"]))
    return {family: tuple(sorted(values)) for family, values in out.items()}


def rule_statuses(report: dict[str, Any]) -> dict[str, str]:
    """Each rule's status in a scoring report (passed / failed / not_applicable)."""
    return {str(rule["rule_id"]): str(rule["status"]) for rule in report.get("items", [])}


@dataclass(frozen=True, slots=True)
class CallComparison:
    """One call analysed both ways."""

    call: str
    kind: str
    stereo: dict[str, tuple[str, ...]]
    mono: dict[str, tuple[str, ...]]
    stereo_rules: dict[str, str]
    mono_rules: dict[str, str]
    confidences: tuple[float, ...]

    def agrees(self, family: str) -> bool:
        return self.stereo[family] == self.mono[family]

    @property
    def all_agree(self) -> bool:
        return all(self.agrees(family) for family in FAMILIES)

    def to_json(self) -> dict[str, Any]:
        return {
            "call": self.call,
            "kind": self.kind,
            "stereo": {k: list(v) for k, v in self.stereo.items()},
            "mono": {k: list(v) for k, v in self.mono.items()},
            "agree": {family: self.agrees(family) for family in FAMILIES},
            "stereo_rules": self.stereo_rules,
            "mono_rules": self.mono_rules,
            "attribution_confidences": list(self.confidences),
        }


def summarize(calls: Sequence[CallComparison]) -> dict[str, Any]:
    """Agreement rates per family and overall, and per-rule status agreement."""
    n = len(calls)
    rules = sorted({rule for c in calls for rule in c.stereo_rules})
    per_rule: dict[str, dict[str, Any]] = {}
    for rule in rules:
        same = sum(1 for c in calls if c.stereo_rules.get(rule) == c.mono_rules.get(rule))
        per_rule[rule] = {
            "agree": same,
            "stereo_failed": sum(1 for c in calls if c.stereo_rules.get(rule) == "failed"),
            "mono_failed": sum(1 for c in calls if c.mono_rules.get(rule) == "failed"),
        }
    confidences = [x for c in calls for x in c.confidences]
    return {
        "calls": n,
        "families": {family: sum(1 for c in calls if c.agrees(family)) for family in FAMILIES},
        "all_three": sum(1 for c in calls if c.all_agree),
        "rules": per_rule,
        "mean_attribution_confidence": round(sum(confidences) / len(confidences), 3) if confidences else None,
    }


def attribute_events(
    events: Sequence[Event], language: str = "en", config: AttributionConfig | None = None
) -> list[Event]:
    """A single unknown leg's recorded events split into turns offline, exactly as the pipeline does it live."""
    attributor = SpeakerAttributor(language, config)
    out: list[Event] = []
    for event in events:
        if isinstance(event, Utterance) and event.speaker is Speaker.UNKNOWN:
            out.extend(attributor.attribute(event))
        elif isinstance(event, DigitReading) and event.speaker is Speaker.UNKNOWN:
            out.append(attributor.attribute_reading(event))
        else:
            out.append(event)
    return out


def word_attribution(events: Sequence[Event], turns: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    """(words attributed to the labelled speaker, words placed in a labelled turn) over the finals of `events`:
    a word belongs to the turn whose labelled span holds its middle."""
    right = total = 0
    for event in events:
        if not (isinstance(event, Utterance) and event.final):
            continue
        for word in event.words:
            middle = (word.start + word.end) / 2
            for turn in turns:
                if float(turn["start"]) - 0.1 <= middle <= float(turn["end"]) + 0.1:
                    total += 1
                    right += turn["speaker"] == event.speaker.value
                    break
    return right, total
