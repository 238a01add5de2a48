"""A live WebSocket fuzzer for the ingest endpoints: valid call sequences per protocol, mutated, sent over sockets."""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import json
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

Message = str | bytes
SERVER_CLOSE_WAIT = 1.0
WEIRD_VALUES: tuple[Any, ...] = (
    None, True, False, 0, -1, 2**63, 10**30, -(10**30), 1e308, -1e-308, 0.5, "", " ", "0", "-1", "1e999", "NaN",
    "\u202e\u0000\ud7ff", "😀" * 40, "x" * 5000, "ﬀ" * 700, [], [1, 2], [[[]]], {}, {"a": {"b": {"c": []}}},
    "00000000-0000-0000-0000-000000000000", "PT-1S", "PT99999999999S", "../../etc/passwd", "CA" + "9" * 200,
)  # fmt: skip


def _twilio(rng: random.Random) -> list[Message]:
    sid, stream = "CA" + uuid.uuid4().hex, "MZ" + uuid.uuid4().hex
    start = {"accountSid": "AC" + "0" * 32, "streamSid": stream, "callSid": sid, "tracks": ["inbound", "outbound"],
             "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
             "customParameters": {"agent": "a-1"}}  # fmt: skip
    connected = {"event": "connected", "protocol": "Call", "version": "1.0.0"}
    begin = {"event": "start", "sequenceNumber": "1", "streamSid": stream, "start": start}
    out: list[Message] = [json.dumps(connected), json.dumps(begin)]
    payload = base64.b64encode(bytes(rng.randrange(256) for _ in range(160))).decode()
    for i in range(6):
        media = {"track": ("inbound", "outbound")[i % 2], "chunk": str(i), "timestamp": str(20 * (i // 2)),
                 "payload": payload}  # fmt: skip
        out.append(json.dumps({"event": "media", "sequenceNumber": str(i + 2), "streamSid": stream, "media": media}))
    out.append(json.dumps({"event": "stop", "sequenceNumber": "8", "streamSid": stream, "stop": {"callSid": sid}}))
    return out


def _audiohook(rng: random.Random) -> list[Message]:
    session = str(uuid.uuid4())

    def msg(kind: str, seq: int, parameters: dict[str, Any]) -> str:
        return json.dumps({"version": "2", "id": session, "type": kind, "seq": seq, "serverseq": max(0, seq - 1),
                           "position": f"PT{0.2 * seq:.1f}S", "parameters": parameters})  # fmt: skip

    media = [{"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}]
    opening = {"organizationId": str(uuid.uuid4()), "conversationId": str(uuid.uuid4()),
               "participant": {"id": str(uuid.uuid4())}, "media": media, "language": "en-US"}  # fmt: skip
    audio = bytes(rng.randrange(256) for _ in range(3200))
    return [msg("open", 1, opening), audio, msg("ping", 2, {}), audio,
            msg("paused", 3, {}), msg("resumed", 4, {"start": "PT0.4S", "discarded": "PT0.1S"}), audio,
            msg("update", 5, {"language": "en-GB"}), msg("close", 6, {"reason": "end"})]  # fmt: skip


def _audiofork(rng: random.Random) -> list[Message]:
    meta = {"callSid": f"fork-{uuid.uuid4().hex[:12]}", "from": "+1555", "to": "+1666", "sampleRate": 8000,
            "mixType": "stereo"}  # fmt: skip
    audio = bytes(rng.randrange(256) for _ in range(3200))
    return [json.dumps(meta), audio, audio, json.dumps({"event": "dtmf", "digit": "5"}), audio, b""]


def _raw(rng: random.Random) -> list[Message]:
    start = {"type": "start", "call_id": f"raw-{uuid.uuid4().hex[:12]}", "encoding": "pcm_s16le", "sample_rate": 8000,
             "channels": [{"role": "agent"}, {"role": "customer"}], "metadata": {"agent": "a-1"}}  # fmt: skip
    audio = bytes(rng.randrange(256) for _ in range(3200))
    return [json.dumps(start), audio, audio, audio, json.dumps({"type": "end"})]


@dataclass(frozen=True, slots=True)
class Target:
    """An ingest endpoint: its path, the subprotocols a client offers, and its valid-sequence generator."""

    path: str
    valid: Callable[[random.Random], list[Message]]
    subprotocols: tuple[str, ...] = ()


TARGETS = {
    "twilio": Target("/ingest/twilio", _twilio),
    "audiohook": Target("/ingest/audiohook", _audiohook),
    "audiofork": Target("/ingest/audiofork", _audiofork, ("audio.drachtio.org",)),
    "raw": Target("/ingest/raw", _raw, ("callwarden.raw.v1",)),
}


def _mutate_json(text: str, rng: random.Random) -> Message:
    """One malformed variant of a JSON text message: wrong types, huge numbers, unicode, missing or extra fields."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text[::-1]
    paths = list(_paths(value))
    path = rng.choice(paths) if paths else ()
    kind = rng.randrange(4)
    if kind == 0 and path:
        _set(value, path, rng.choice(WEIRD_VALUES))
    elif kind == 1 and path:
        _delete(value, path)
    elif kind == 2 and isinstance(value, dict):
        value[rng.choice(["extra", "event", "type", "seq", "id", "version", "start", "media"])] = rng.choice(
            WEIRD_VALUES
        )
    else:
        value = rng.choice(WEIRD_VALUES)
    return json.dumps(value, ensure_ascii=rng.random() < 0.5)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        out.append((*prefix, key))
        out.extend(_paths(child, (*prefix, key)))
    return out


def _parent(value: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        value = value[key]
    return value


def _set(value: Any, path: tuple[Any, ...], new: Any) -> None:
    _parent(value, path)[path[-1]] = new


def _delete(value: Any, path: tuple[Any, ...]) -> None:
    parent = _parent(value, path)
    del parent[path[-1]]


def junk(rng: random.Random, oversize: bool) -> Message:
    """A malformed message out of nowhere: truncated/garbage JSON, deep nesting, random binary, oversize."""
    kind = rng.randrange(9)
    if kind == 0:
        return json.dumps({"event": "media", "media": {"payload": "!!"}})[: rng.randrange(1, 30)]
    if kind == 1:
        return "[" * rng.choice((10, 1000, 30000))
    if kind == 2:
        return bytes(rng.randrange(256) for _ in range(rng.choice((0, 1, 3, 161, 3199))))
    if kind == 3:
        return "".join(chr(rng.choice((0x0, 0x7F, 0x202E, 0xFEFF, 0x1F600, 0x10FFFF, 0xD7FF))) for _ in range(50))
    if kind == 4:
        return json.dumps(
            {"event": rng.choice(["dtmf", "mark", "clear", "start", "stop"]), "x": rng.choice(WEIRD_VALUES)}
        )
    if kind == 5:
        return json.dumps({"version": "2", "type": "ping", "seq": 2**60, "id": str(uuid.uuid4()), "parameters": {}})
    if kind == 6 and oversize:
        return "x" * (64 * 1024 + 1) if rng.random() < 0.8 else bytes((1 << 20) + 1)
    if kind == 7:
        return json.dumps({"type": "start", "call_id": "a" * 129, "channels": [{"role": "agent"}] * 9})
    return '{"event": "media", "media": {"payload": "' + "A" * rng.randrange(1, 9) + '"}}'


def mutated_batch(target: Target, rng: random.Random, size: int) -> tuple[list[Message], int]:
    """A valid sequence with mutations and junk mixed in, ≥ `size` messages; also how many are malformed.

    Malformed = messages that are not in the valid sequence, plus valid messages moved out of order.
    """
    valid = list(target.valid(rng))
    messages = list(valid)
    while len(messages) < size:
        op = rng.randrange(5)
        at = rng.randrange(len(messages) + 1)
        i = rng.randrange(len(messages)) if messages else 0
        if op == 0 and messages:
            if isinstance(messages[i], str):
                messages[i] = _mutate_json(str(messages[i]), rng)
            else:
                data = bytes(messages[i])
                messages[i] = data[: rng.randrange(len(data) + 1)] + b"\x01"
        elif op == 1 and messages:  # out of order: move a message elsewhere
            messages.insert(at, messages.pop(i))
        elif op == 2 and messages:  # truncated
            messages[i] = messages[i][: rng.randrange(max(1, len(messages[i])))]
        else:
            messages.insert(at, junk(rng, oversize=rng.random() < 0.02))
    originals = set(valid)
    kept = [valid.index(m) for m in messages if m in originals]
    return messages, sum(m not in originals for m in messages) + len(kept) - _longest_rising(kept)


def _longest_rising(values: list[int]) -> int:
    """Length of the longest non-decreasing subsequence (valid messages still in their original order)."""
    best: list[int] = []
    for value in values:
        at = bisect.bisect_right(best, value)
        best[at : at + 1] = [value]
    return len(best)


@dataclass(slots=True)
class FuzzTally:
    """What one protocol's fuzzing did."""

    connections: int = 0
    malformed: int = 0
    sent: int = 0
    refused_upgrades: int = 0
    close_codes: Counter[int | None] = field(default_factory=Counter)
    abnormal_batches: list[list[int]] = field(default_factory=list)  # sizes of oversize messages in 1006 batches


async def fuzz_connection(base_ws: str, target: Target, rng: random.Random, size: int, tally: FuzzTally) -> None:
    """Open one connection, send a mutated batch without waiting, hang up, and count what happened."""
    messages, malformed = mutated_batch(target, rng, size)
    subprotocols = [Subprotocol(s) for s in target.subprotocols] or None
    try:
        async with connect(base_ws + target.path, subprotocols=subprotocols, compression=None, max_size=None,
                           open_timeout=30, close_timeout=10) as ws:  # fmt: skip
            tally.connections += 1
            tally.malformed += malformed
            for message in messages:
                try:
                    await ws.send(message)
                except ConnectionClosed:
                    break
                tally.sent += 1
            with contextlib.suppress(TimeoutError):  # let the server close with its own code, else hang up
                await asyncio.wait_for(ws.wait_closed(), SERVER_CLOSE_WAIT)
            with contextlib.suppress(ConnectionClosed):
                await ws.close()
            tally.close_codes[ws.close_code] += 1
            if ws.close_code == 1006:
                tally.abnormal_batches.append([len(m) for m in messages if len(m) > 64 * 1024])
    except InvalidStatus:
        tally.refused_upgrades += 1


async def fuzz_protocol(
    base_ws: str, name: str, inputs: int, seed: int, batch: int = 60, parallel: int = 2
) -> FuzzTally:
    """Fuzz one protocol until at least `inputs` malformed messages went out, `parallel` connections at a time."""
    tally = FuzzTally()
    rng = random.Random(seed)

    async def worker(worker_seed: int) -> None:
        local = random.Random(worker_seed)
        while tally.malformed < inputs:
            await fuzz_connection(base_ws, TARGETS[name], local, batch, tally)

    await asyncio.gather(*(worker(rng.randrange(2**32)) for _ in range(parallel)))
    return tally
