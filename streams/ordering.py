"""A call's utterances and digit-pass readings in audio-time order across legs: each waits for the call clock."""

from __future__ import annotations

import math
from collections import deque

from rules.events import DigitReading, Utterance

Ordered = Utterance | DigitReading

_EPSILON = 1e-6


class AudioTimeOrder:
    """Merges the utterances of a call's legs by audio time.

    Legs decode independently, and one may run seconds ahead of another (a customer's "seven three seven" can be
    decoded before the agent's "… the security code on the back?"). An utterance is released once the call clock —
    the minimum over legs of audio decoded — has reached its end: by then every other leg has emitted what it
    heard before that time. A leg's own order is kept (a partial never comes after its final): its times are made
    non-decreasing before they are compared. A leg that stops receiving audio would hold the others' utterances
    (as it holds the call's ticks): `release` lets an utterance go anyway once the leading leg has decoded
    `max_hold` seconds past it, so a silent or stalled leg delays the call's output by at most that much.
    """

    def __init__(self, legs: int) -> None:
        self._waiting: list[deque[tuple[float, int, Ordered]]] = [deque() for _ in range(legs)]
        self._last = [0.0] * legs
        self._seq = 0

    def __len__(self) -> int:
        return sum(len(q) for q in self._waiting)

    def add(self, utterance: Ordered) -> None:
        """Queue an utterance of its leg (`channel`); utterances of one leg must come in that leg's order."""
        channel = utterance.channel
        key = self._last[channel] = max(utterance.end, self._last[channel])
        self._waiting[channel].append((key, self._seq, utterance))
        self._seq += 1

    def release(self, clock: float, lead: float = -math.inf, max_hold: float = math.inf) -> list[Ordered]:
        """The queued utterances that end by `clock` — or `max_hold` seconds before `lead`, the furthest any leg has
        decoded — in audio-time order (ties: the order they came in)."""
        clock = max(clock, lead - max_hold)
        out: list[Ordered] = []
        while True:
            heads = [(q[0][0], q[0][1], leg) for leg, q in enumerate(self._waiting) if q]
            if not heads:
                return out
            key, _, leg = min(heads)
            if key > clock + _EPSILON:
                return out
            out.append(self._waiting[leg].popleft()[2])

    def flush(self) -> list[Ordered]:
        """Everything still queued, in order (the call's audio is all decoded)."""
        return self.release(math.inf)
