"""The sans-I/O compliance engine: one CallMonitor per call turns events into findings and a final report.

Deterministic: no clock, no I/O; time comes only from the events. Odd input never raises; it is handled
and counted in `stats` (see `EngineStats`):

- The monitor is bound to one call: the `call_id` given at construction, else that of the first event.
  Events for any other call id are ignored (`other_call`).
- An Utterance/AudioTick/CallEnded before any CallStarted auto-starts the call: a synthetic
  CallStarted(call_id, at=0.0, language=default_language) is fed first (`auto_started`).
- A second CallStarted is ignored (`duplicate_start`). Everything after CallEnded is ignored (`after_end`).
- Events whose times are NaN/infinite are ignored (`invalid_time`). An AudioTick earlier than the audio
  clock is ignored (`stale_tick`); utterances may legitimately arrive late (recogniser lag) and are fed.
  A CallEnded earlier than the clock is fed with its time raised to the clock (`clamped_end`).
- A partial arriving after the final of the same (channel, index) is ignored (`late_partial`), and so is
  a partial repeating the previous partial's text (`repeated_partial`; recognisers resend them often).

Consecutive rules of one kind whose class offers `feed_idle(rules, event) -> bool` are fed as a batch: when
`feed_idle` says the event is idle for all of them (no findings, state updated as a feed would), the per-rule
dispatch is skipped; otherwise each rule is fed as usual, in order. Findings are identical either way.

A `DigitReading` (the digit pass's reading of a leg, streams/digitpass.py) goes only to the rules whose kind has
`feed_reading(reading) -> list[Finding]` (sensitive_number; fed through `feed`); the other kinds never see it.

On a single-channel call split into turns (rules/attribution.py; utterances with `attribution_confidence`), the
engine sets each finding's `attribution_confidence`: that of the attributed utterance being fed when the finding
is about its speaker, else that of the latest recent attributed final of the finding's speaker overlapping its
times, else the mean over the call's attributed finals so far (a deadline finding such as `not_said` rests on
all of them). Calls without attributed utterances keep it None.

Rule kinds return findings without ids; the engine fills `finding_id` (sha256 of call id, rule id, outcome
and the per-(rule, outcome) ordinal → 16 hex chars), `pack_id` and `pack_version`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections import Counter, deque
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

from rules.events import AudioTick, CallEnded, CallStarted, DigitReading, Event, Speaker, Utterance
from rules.findings import Finding
from rules.kinds import build_rule
from rules.model import Rule, RuleOutcome, RuleSpec
from rules.packs import RuleSet
from rules.scoring import score_call

IGNORED_REASONS = (
    "other_call",
    "duplicate_start",
    "after_end",
    "invalid_time",
    "stale_tick",
    "late_partial",
    "repeated_partial",
)


def finding_id(call_id: str, rule_id: str, outcome: str, ordinal: int) -> str:
    """The stable id of the `ordinal`-th (0-based) finding with this rule and outcome in this call."""
    digest = hashlib.sha256(f"{call_id}\x1f{rule_id}\x1f{outcome}\x1f{ordinal}".encode())
    return digest.hexdigest()[:16]


def _finite_times(event: Event) -> bool:
    if not isinstance(event, (Utterance, DigitReading)):
        return math.isfinite(event.at)
    if not (math.isfinite(event.start) and math.isfinite(event.end)):
        return False
    isfinite = math.isfinite  # all() over a generator compiles to a loop (monitor/native.py): ~10× map/attrgetter
    return all(isfinite(word.start) and isfinite(word.end) for word in event.words)


_FIELDS = {cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in (Finding, RuleOutcome)}
"""Field names of the dataclasses the engine copies with changes (all are init fields; no __post_init__)."""
_GETTERS = {cls: (names, attrgetter(*names)) for cls, names in _FIELDS.items()}


def _with(obj: Any, **changes: Any) -> Any:
    """`dataclasses.replace(obj, **changes)` for Finding/RuleOutcome, without its per-call field introspection."""
    known = _GETTERS.get(type(obj))
    if known is None:  # another class (a subclass): the general way
        return dataclasses.replace(obj, **changes)
    names, values_of = known
    values = dict(zip(names, values_of(obj), strict=True))
    values.update(changes)
    return type(obj)(**values)


IdleCheck = Callable[[Sequence[Rule], Event], bool]
"""A kind's `feed_idle`: True when it handled `event` for all the rules (nothing found), else False."""


def _batches(rules: Sequence[Rule]) -> list[tuple[IdleCheck | None, tuple[Rule, ...]]]:
    """The rules in order, consecutive rules of a kind with `feed_idle` grouped with that check."""
    batches: list[tuple[IdleCheck | None, list[Rule]]] = []
    for rule in rules:
        idle: IdleCheck | None = getattr(type(rule), "feed_idle", None)
        if idle is not None and batches and batches[-1][0] is not None and type(batches[-1][1][0]) is type(rule):
            batches[-1][1].append(rule)
        else:
            batches.append((idle, [rule]))
    return [(idle, tuple(group)) for idle, group in batches]


class CallMonitor:
    """Feeds one call's events to fresh instances of every rule; collects findings; scores at the end."""

    def __init__(
        self,
        rules: Sequence[RuleSpec] | RuleSet,
        call_id: str | None = None,
        default_language: str = "en",
    ) -> None:
        specs = rules.rules if isinstance(rules, RuleSet) else tuple(rules)
        self._ruleset = rules if isinstance(rules, RuleSet) else None
        self._specs = specs
        self._rules: list[Rule] = [build_rule(spec) for spec in specs]
        self._batches = _batches(self._rules)
        self._readers = [rule for rule in self._rules if getattr(type(rule), "feed_reading", None) is not None]
        self.call_id = call_id
        self.default_language = default_language
        self.stats: Counter[str] = Counter()
        self.findings: list[Finding] = []
        self._ordinals: Counter[tuple[str, str]] = Counter()
        self._started: CallStarted | None = None
        self._ended: CallEnded | None = None
        self._clock = 0.0
        self._finals: set[tuple[int, int]] = set()
        self._partials: dict[tuple[int, int], str] = {}
        self._attributed: deque[tuple[float, float, Speaker, float]] = deque(maxlen=64)
        self._attribution_sum = 0.0
        self._attribution_count = 0

    @property
    def started(self) -> bool:
        """True once a CallStarted was fed (or synthesized)."""
        return self._started is not None

    @property
    def ended(self) -> bool:
        """True once CallEnded was fed; later events are ignored."""
        return self._ended is not None

    @property
    def clock(self) -> float:
        """The furthest audio time any accepted event reported."""
        return self._clock

    def feed(self, event: Event) -> list[Finding]:
        """Consume one event; the new findings (ids filled) in emission order. Never raises on odd input."""
        if self._started is not None and self._ended is None and event.call_id == self.call_id:
            if isinstance(event, Utterance):  # the common events of a running call, admitted as `_admit` does
                return self._dispatch(event) if self._admit_utterance(event) else []
            if isinstance(event, AudioTick):
                return self._dispatch(event) if self._admit_tick(event) else []
        accepted = self._admit(event)
        if accepted is None:
            return []
        out: list[Finding] = []
        if self._started is None and not isinstance(accepted, CallStarted):
            out.extend(self._start(CallStarted(accepted.call_id, 0.0, self.default_language)))
            self.stats["auto_started"] += 1
        if isinstance(accepted, CallStarted):
            return self._start(accepted)
        if isinstance(accepted, CallEnded):
            self._ended = accepted
        out.extend(self._dispatch(accepted))
        return out

    def _admit(self, event: Event) -> Event | None:
        """The event to feed (possibly adjusted), or None when it is ignored (and counted)."""
        if self.call_id is None:
            self.call_id = event.call_id
        reason = self._ignore_reason(event)
        if reason is not None:
            self.stats[reason] += 1
            return None
        if isinstance(event, Utterance):
            key = (event.channel, event.index)
            if event.final:
                self._finals.add(key)
                self._partials.pop(key, None)
            else:
                self._partials[key] = event.text
            if event.end > self._clock:  # the clock is the max of the times seen
                self._clock = event.end
        elif isinstance(event, DigitReading):
            if event.end > self._clock:
                self._clock = event.end
        elif not isinstance(event, CallStarted):
            if isinstance(event, CallEnded) and event.at < self._clock:
                self.stats["clamped_end"] += 1
                event = dataclasses.replace(event, at=self._clock)
            if event.at > self._clock:
                self._clock = event.at
        self.stats["accepted"] += 1
        return event

    def _admit_utterance(self, event: Utterance) -> bool:
        """`_admit` of an utterance of this running call: True when accepted (then counted and recorded)."""
        reason = None
        if not _finite_times(event):
            reason = "invalid_time"
        elif event.final:
            key = (event.channel, event.index)
            self._finals.add(key)
            self._partials.pop(key, None)
        else:
            key = (event.channel, event.index)
            if key in self._finals:
                reason = "late_partial"
            elif self._partials.get(key) == event.text:
                reason = "repeated_partial"
            else:
                self._partials[key] = event.text
        if reason is not None:
            self.stats[reason] += 1
            return False
        if event.end > self._clock:
            self._clock = event.end
        self.stats["accepted"] += 1
        return True

    def _admit_tick(self, event: AudioTick) -> bool:
        """`_admit` of an AudioTick of this running call: True when accepted (then counted, clock advanced)."""
        at = event.at
        reason = "invalid_time" if not math.isfinite(at) else "stale_tick" if at < self._clock else None
        if reason is not None:
            self.stats[reason] += 1
            return False
        if at > self._clock:
            self._clock = at
        self.stats["accepted"] += 1
        return True

    def _ignore_reason(self, event: Event) -> str | None:
        if event.call_id != self.call_id:
            return "other_call"
        if self._ended is not None:
            return "after_end"
        if not _finite_times(event):
            return "invalid_time"
        if isinstance(event, Utterance):
            if not event.final:
                key = (event.channel, event.index)
                if key in self._finals:
                    return "late_partial"
                if self._partials.get(key) == event.text:
                    return "repeated_partial"
            return None
        if isinstance(event, CallStarted) and self._started is not None:
            return "duplicate_start"
        if isinstance(event, AudioTick) and event.at < self._clock:
            return "stale_tick"
        return None

    def _start(self, started: CallStarted) -> list[Finding]:
        self._started = started
        self._clock = max(self._clock, started.at)
        return self._dispatch(started)

    def _dispatch(self, event: Event) -> list[Finding]:
        out: list[Finding] = []
        if isinstance(event, Utterance) and event.attribution_confidence is not None:
            self._note_attribution(event)
        if isinstance(event, DigitReading):
            for rule in self._readers:
                for finding in rule.feed(event):
                    out.append(self._complete(rule.spec, finding, event))
            if out:
                self.findings.extend(out)
            return out
        for idle, rules in self._batches:
            if idle is not None and idle(rules, event):
                continue
            for rule in rules:
                for finding in rule.feed(event):
                    out.append(self._complete(rule.spec, finding, event))
        if out:
            self.findings.extend(out)
        return out

    def _complete(self, spec: RuleSpec, finding: Finding, event: Event) -> Finding:
        key = (spec.id, finding.outcome)
        ordinal = self._ordinals[key]
        self._ordinals[key] += 1
        call_id = self.call_id or finding.call_id
        if self._attribution_count or (isinstance(event, Utterance) and event.attribution_confidence is not None):
            completed: Finding = _with(
                finding,
                call_id=call_id,
                finding_id=finding_id(call_id, spec.id, finding.outcome, ordinal),
                pack_id=spec.pack_id,
                pack_version=spec.pack_version,
                attribution_confidence=self._attribution_of(finding, event),
            )
            return completed
        completed = _with(
            finding,
            call_id=call_id,
            finding_id=finding_id(call_id, spec.id, finding.outcome, ordinal),
            pack_id=spec.pack_id,
            pack_version=spec.pack_version,
        )
        return completed

    def _note_attribution(self, utterance: Utterance) -> None:
        """Remember an attributed utterance (a final with words) for the findings about it."""
        confidence = utterance.attribution_confidence
        if confidence is None or not utterance.final or not utterance.words:
            return
        self._attributed.append((utterance.start, utterance.end, utterance.speaker, confidence))
        self._attribution_sum += confidence
        self._attribution_count += 1

    def _attribution_of(self, finding: Finding, event: Event) -> float:
        """How sure the attribution behind `finding` is (see the module docstring)."""
        if (
            isinstance(event, Utterance)
            and event.attribution_confidence is not None
            and finding.speaker == event.speaker
        ):
            return event.attribution_confidence
        for start, end, speaker, confidence in reversed(self._attributed):
            same = finding.speaker is Speaker.UNKNOWN or finding.speaker == speaker
            if same and start - 0.05 <= finding.end and finding.start <= end + 0.05:
                return confidence
        if not self._attribution_count:
            return 0.5
        return round(self._attribution_sum / self._attribution_count, 3)

    def outcomes(self) -> list[RuleOutcome]:
        """Every rule's verdict so far, with the ids of its findings."""
        ids: dict[str, list[str]] = {}
        for finding in self.findings:
            ids.setdefault(finding.rule_id, []).append(finding.finding_id)
        return [
            _with(rule.outcome(), finding_ids=tuple(ids.get(rule.spec.id, ()))) for rule in self._rules
        ]

    def report(self, pass_mark: float = 80.0) -> dict[str, Any]:
        """The scoring report (see docs/report.md); `final` is false until CallEnded was fed."""
        return score_call(
            call_id=self.call_id or "",
            specs=self._specs,
            outcomes=self.outcomes(),
            findings=self.findings,
            started=self._started,
            ended=self._ended,
            stats=dict(self.stats),
            pass_mark=pass_mark,
        )
