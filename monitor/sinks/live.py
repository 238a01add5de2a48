"""The live feed hub: fans redacted call events out to /live subscribers, with a snapshot for late joiners."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rules.events import Utterance
from rules.findings import Finding
from rules.redact import Redacted

SNAPSHOT_TRANSCRIPT_LINES = 200


# -- the /live messages of a call (docs/live-feed.md) -------------------------------------------------------------


def transcript_message(call_id: str, utterance: Utterance, text: Redacted) -> dict[str, Any]:
    """A transcript line (partial or final): its redacted text with the utterance's place and times."""
    return {
        "type": "transcript",
        "call_id": call_id,
        "speaker": str(utterance.speaker),
        "channel": utterance.channel,
        "index": utterance.index,
        "text": text,
        "start": round(utterance.start, 3),
        "end": round(utterance.end, 3),
        "final": utterance.final,
    }


def finding_message(finding: Finding, wall: float) -> dict[str, Any]:
    """A finding as raised (its JSON is redacted by the engine)."""
    return {"type": "finding", "call_id": finding.call_id, "finding": finding.to_json(), "wall_time": wall}


def clock_message(call_id: str, audio_time: float) -> dict[str, Any]:
    """The call's audio clock advanced (deadlines may have passed)."""
    return {"type": "clock", "call_id": call_id, "audio_time": audio_time}


def call_ended_message(call_id: str, reason: str, ended_wall: float, report: dict[str, Any]) -> dict[str, Any]:
    """The call ended, with its scored report."""
    return {"type": "call_ended", "call_id": call_id, "reason": reason, "ended_wall": ended_wall, "report": report}


@dataclass(slots=True)
class LiveCall:
    """What a dashboard needs to draw one active call when it connects mid-call."""

    started: dict[str, Any]
    transcript: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=SNAPSHOT_TRANSCRIPT_LINES))
    findings: list[dict[str, Any]] = field(default_factory=list)


class Subscriber:
    """One /live connection's bounded outbox; a subscriber that falls too far behind is cut off, never waited for."""

    def __init__(self, maxsize: int = 1000) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize)
        self.overflowed = False

    def offer(self, text: str) -> None:
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.overflowed = True


class LiveHub:
    """Publishes JSON messages (already redacted) to every subscriber; keeps active calls for snapshots."""

    def __init__(self) -> None:
        self._subscribers: set[Subscriber] = set()
        self._calls: dict[str, LiveCall] = {}
        self.forward: Callable[[dict[str, Any]], None] | None = None
        """Where local messages also go (the broker bridge to the other replicas, monitor/sinks/live_bridge.py)."""

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def subscribe(self) -> Subscriber:
        sub = Subscriber()
        sub.offer(json.dumps({"type": "snapshot", "calls": self.snapshot()}))
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)

    def snapshot(self) -> list[dict[str, Any]]:
        return [
            {**call.started, "transcript": list(call.transcript), "findings": call.findings}
            for call in self._calls.values()
        ]

    def metadata(self, call_id: str) -> dict[str, Any]:
        """The call metadata an active call started with (empty for an unknown or ended call)."""
        call = self._calls.get(call_id)
        meta = call.started.get("metadata") if call is not None else None
        return meta if isinstance(meta, dict) else {}

    def call_of(self, finding_id: str) -> str | None:
        """The active call that raised `finding_id` (None once the call ended or for an unknown id)."""
        for call_id, call in self._calls.items():
            if any(f.get("finding", {}).get("finding_id") == finding_id for f in call.findings):
                return call_id
        return None

    def publish(self, message: dict[str, Any], *, remote: bool = False) -> None:
        """Record `message` in the snapshot state and send it to every subscriber; a local message (not `remote`,
        i.e. not from another replica) also goes to `forward`."""
        if not remote and self.forward is not None:
            self.forward(message)
        self._remember(message)
        text = json.dumps(message)
        for sub in list(self._subscribers):
            sub.offer(text)

    def _remember(self, message: dict[str, Any]) -> None:
        kind, call_id = message.get("type"), str(message.get("call_id", ""))
        if kind == "call_started":
            self._calls[call_id] = LiveCall(started=message)
        elif kind == "call_ended":
            self._calls.pop(call_id, None)
        elif (call := self._calls.get(call_id)) is not None:
            if kind == "transcript" and message.get("final"):
                call.transcript.append(message)
            elif kind == "finding":
                call.findings.append(message)
            elif kind == "acknowledged":
                for finding in call.findings:
                    if finding.get("finding", {}).get("finding_id") == message.get("finding_id"):
                        finding["acknowledged"] = message
            elif kind == "alert_action":
                for finding in call.findings:
                    if finding.get("finding", {}).get("finding_id") == message.get("finding_id"):
                        finding.setdefault("actions", []).append(message)
