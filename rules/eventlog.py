"""Event JSON codec: each event ↔ a JSON dict (one JSONL line); round trips exactly (floats keep their repr)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rules.events import AudioTick, CallEnded, CallStarted, DigitReading, Event, Speaker, Utterance, Word


class EventLogError(ValueError):
    """A JSON event that cannot be decoded; the message names the field and what was expected."""


def event_to_json(event: Event) -> dict[str, Any]:
    """The JSON dict of one event; "type" is call_started, utterance, digit_reading, audio_tick or call_ended."""
    if isinstance(event, CallStarted):
        return {
            "type": "call_started",
            "call_id": event.call_id,
            "at": event.at,
            "language": event.language,
            "metadata": dict(event.metadata),
        }
    if isinstance(event, Utterance):
        data: dict[str, Any] = {
            "type": "utterance",
            "call_id": event.call_id,
            "speaker": event.speaker.value,
            "channel": event.channel,
            "index": event.index,
            "text": event.text,
            "words": [[w.text, w.start, w.end, w.conf] for w in event.words],
            "start": event.start,
            "end": event.end,
            "final": event.final,
        }
        if event.attribution_confidence is not None:  # a turn of a single-channel leg (rules/attribution.py)
            data["attribution_confidence"] = event.attribution_confidence
        return data
    if isinstance(event, DigitReading):
        return {
            "type": "digit_reading",
            "call_id": event.call_id,
            "speaker": event.speaker.value,
            "channel": event.channel,
            "index": event.index,
            "words": [[w.text, w.start, w.end, w.conf] for w in event.words],
            "start": event.start,
            "end": event.end,
            "final": event.final,
            "source": event.source,
        }
    if isinstance(event, AudioTick):
        return {"type": "audio_tick", "call_id": event.call_id, "at": event.at}
    return {"type": "call_ended", "call_id": event.call_id, "at": event.at, "reason": event.reason}


def _get(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], what: str) -> Any:
    if key not in data:
        raise EventLogError(f"event {data.get('type')!r} lacks field {key!r} ({what})")
    value = data[key]
    if isinstance(value, bool) and kind is not bool:
        raise EventLogError(f"field {key!r} must be {what}, got {value!r}")
    if not isinstance(value, kind):
        raise EventLogError(f"field {key!r} must be {what}, got {value!r}")
    return value


def _time(data: Mapping[str, Any], key: str) -> float:
    return float(_get(data, key, (int, float), "a number of seconds"))


def _word(item: Any) -> Word:
    if not isinstance(item, list) or len(item) != 4 or not isinstance(item[0], str):
        raise EventLogError(f"a word must be [text, start, end, conf], got {item!r}")
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in item[1:]):
        raise EventLogError(f"word times and confidence must be numbers, got {item!r}")
    return Word(item[0], float(item[1]), float(item[2]), float(item[3]))


def _speaker(data: Mapping[str, Any]) -> Speaker:
    speaker = _get(data, "speaker", str, "agent, customer or unknown")
    if speaker not in {s.value for s in Speaker}:
        raise EventLogError(f"field 'speaker' must be agent, customer or unknown, got {speaker!r}")
    return Speaker(speaker)


def _attribution(data: Mapping[str, Any]) -> float | None:
    if data.get("attribution_confidence") is None:
        return None
    value = _time(data, "attribution_confidence")
    if not 0.0 <= value <= 1.0:
        raise EventLogError(f"field 'attribution_confidence' must be between 0 and 1, got {value!r}")
    return value


def event_from_json(data: Mapping[str, Any]) -> Event:
    """The event a JSON dict describes; EventLogError says what is wrong."""
    if not isinstance(data, Mapping):
        raise EventLogError(f"an event must be a JSON object, got {data!r}")
    kind = data.get("type")
    call_id = _get(data, "call_id", str, "a string")
    if kind == "call_started":
        metadata = data.get("metadata", {})
        if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
            raise EventLogError(f"field 'metadata' must map strings to strings, got {metadata!r}")
        return CallStarted(call_id, _time(data, "at"), _get(data, "language", str, "a string"), dict(metadata))
    if kind == "utterance":
        words = _get(data, "words", list, "a list of [text, start, end, conf]")
        return Utterance(
            call_id,
            _speaker(data),
            _get(data, "channel", int, "an integer"),
            _get(data, "index", int, "an integer"),
            _get(data, "text", str, "a string"),
            tuple(_word(w) for w in words),
            _time(data, "start"),
            _time(data, "end"),
            _get(data, "final", bool, "true or false"),
            _attribution(data),
        )
    if kind == "digit_reading":
        words = _get(data, "words", list, "a list of [text, start, end, conf]")
        return DigitReading(
            call_id,
            _speaker(data),
            _get(data, "channel", int, "an integer"),
            _get(data, "index", int, "an integer"),
            tuple(_word(w) for w in words),
            _time(data, "start"),
            _time(data, "end"),
            _get(data, "final", bool, "true or false"),
            _get(data, "source", str, "a string"),
        )
    if kind == "audio_tick":
        return AudioTick(call_id, _time(data, "at"))
    if kind == "call_ended":
        return CallEnded(call_id, _time(data, "at"), _get(data, "reason", str, "a string"))
    raise EventLogError(
        f"unknown event type {kind!r}; expected call_started, utterance, digit_reading, audio_tick or call_ended"
    )


def dumps_event(event: Event) -> str:
    """One JSONL line (no trailing newline)."""
    return json.dumps(event_to_json(event), ensure_ascii=False, separators=(",", ":"))


def loads_event(line: str) -> Event:
    """The event of one JSONL line."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise EventLogError(f"not JSON: {exc}") from None
    return event_from_json(data)


def loads_events(text: str) -> list[Event]:
    """All events of a JSONL document (blank lines skipped); errors name the 1-based line."""
    events: list[Event] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                events.append(loads_event(line))
            except EventLogError as exc:
                raise EventLogError(f"line {number}: {exc}") from None
    return events
