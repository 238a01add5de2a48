"""A leg's bounded audio queue between the feeding coroutine and its ASR worker: backpressure or counted shedding."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

log = logging.getLogger(__name__)
SHED_LOG_INTERVAL = 10.0
"""Seconds between two log lines about a leg shedding audio (the first shed chunk is logged at once)."""


class Overflow(StrEnum):
    """What feed() does when a leg already holds `max_queued_seconds` of undecoded audio."""

    BLOCK = "block"  # the feeding coroutine awaits until ASR caught up (backpressure; nothing is lost)
    SHED = "shed"  # the incoming chunk is dropped, counted and logged; later word times stay on the audio clock


@dataclass(frozen=True, slots=True)
class Shed:
    """Marker in a leg's queue: `seconds` of audio were dropped here."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Cut:
    """Marker in a leg's queue: the utterance open here ends here (the peer paused the stream or changed language)."""


Item = bytes | Shed | Cut


class LegBuffer:
    """FIFO of s16le chunks with their durations; `queued` counts audio not yet decoded (including in flight)."""

    def __init__(
        self, label: str, max_seconds: float, overflow: Overflow, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.label = label
        self._clock = clock
        self._logged_at: float | None = None
        self._unlogged = (0.0, 0)  # seconds and chunks shed since the last log line
        self.max_seconds = max_seconds
        self.overflow = overflow
        self.queued = 0.0
        self.shed_seconds = 0.0
        self.shed_chunks = 0
        self._items: deque[tuple[Item, float]] = deque()
        self._closed = False
        self._changed = asyncio.Condition()

    async def put(self, pcm: bytes, seconds: float) -> None:
        """Queue a chunk; waits (BLOCK) or drops it (SHED) while the leg is full. A chunk fits an empty queue."""
        if self._closed:
            raise RuntimeError(f"{self.label}: audio fed after the leg was closed")
        async with self._changed:
            if self.overflow is Overflow.BLOCK:
                await self._changed.wait_for(lambda: self._fits(seconds) or self._closed)
                if self._closed:
                    raise RuntimeError(f"{self.label}: the leg was closed while audio waited for room")
            elif not self._fits(seconds):
                self._shed(seconds)
                return
            self._items.append((pcm, seconds))
            self.queued += seconds
            self._changed.notify_all()

    def _fits(self, seconds: float) -> bool:
        return self.queued == 0 or self.queued + seconds <= self.max_seconds

    def _shed(self, seconds: float) -> None:
        self.shed_seconds += seconds
        self.shed_chunks += 1
        if self._items and isinstance(self._items[-1][0], Shed):
            merged = Shed(self._items[-1][0].seconds + seconds)
            self._items[-1] = (merged, 0.0)
        else:
            self._items.append((Shed(seconds), 0.0))
        self._log_shed(seconds)

    def _log_shed(self, seconds: float) -> None:
        """The first shed chunk is logged, then one summary per SHED_LOG_INTERVAL: overload is exactly when a line
        per chunk (~50 a second per leg, on the event loop) hurts most."""
        now = self._clock()
        unlogged_seconds, unlogged_chunks = self._unlogged[0] + seconds, self._unlogged[1] + 1
        if self._logged_at is not None and now - self._logged_at < SHED_LOG_INTERVAL:
            self._unlogged = (unlogged_seconds, unlogged_chunks)
            return
        log.warning(
            "%s: ASR behind by %.1f s; shed %.2f s of audio in %d chunk(s)%s (total %.1f s in %d chunks)",
            self.label,
            self.queued,
            unlogged_seconds,
            unlogged_chunks,
            "" if self._logged_at is None else f" in the last {now - self._logged_at:.0f} s",
            self.shed_seconds,
            self.shed_chunks,
        )
        self._logged_at = now
        self._unlogged = (0.0, 0)

    async def cut(self) -> None:
        """Queue a Cut after the audio queued so far (it takes no room; a closed leg ignores it)."""
        async with self._changed:
            if self._closed:
                return
            self._items.append((Cut(), 0.0))
            self._changed.notify_all()

    async def take(self, max_seconds: float) -> tuple[list[Item], float] | None:
        """The next items (up to `max_seconds` of audio, at least one), or None once closed and drained."""
        async with self._changed:
            await self._changed.wait_for(lambda: bool(self._items) or self._closed)
            if not self._items:
                return None
            batch: list[Item] = []
            total = 0.0
            while self._items and (not batch or total + self._items[0][1] <= max_seconds):
                item, seconds = self._items.popleft()
                batch.append(item)
                total += seconds
            return batch, total

    async def done(self, seconds: float) -> None:
        """A taken batch of `seconds` has been decoded: free its room."""
        async with self._changed:
            self.queued = max(0.0, self.queued - seconds)
            self._changed.notify_all()

    async def close(self) -> None:
        """No more audio: the worker drains what is queued, then take() returns None."""
        async with self._changed:
            self._closed = True
            self._changed.notify_all()
