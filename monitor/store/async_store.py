"""The asyncio face of the store: `await store.run(Store.query, …)` runs any query, in submission order, on one
dedicated worker thread; the writes that feed the outbox (and that `ResilientStore` keeps alive on a failing disk)
have methods of their own.

Like aiomqtt sends blocking work to executors, `AsyncStore` never blocks the event loop on SQLite; a
single-thread executor keeps writes in the order they were awaited. Methods that enqueue outbox rows
(`add_findings`, `call_ended`) wake the registered outbox listeners (the alert sink's `notify`) afterwards.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

from monitor.store.crypto import DataKeys
from monitor.store.database import Store
from monitor.store.records import (
    Acknowledgement,
    CallStatus,
    OutboxRow,
)
from rules.events import Utterance
from rules.findings import Finding
from rules.redact import Redacted

P = ParamSpec("P")
T = TypeVar("T")


class AsyncStore:
    """Awaitable versions of the `Store` methods, executed one at a time on a private thread."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="callwarden-store")
        self._outbox_listeners: list[Callable[[], None]] = []

    @classmethod
    async def open(cls, path: str | Path, keys: DataKeys | None = None) -> Self:
        """Open the database at `path` (without blocking the loop); `keys` as in `Store.open`."""
        store = await asyncio.get_running_loop().run_in_executor(None, Store.open, path, keys)
        return cls(store)

    async def run(self, fn: Callable[Concatenate[Store, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(store, *args, **kwargs)` on the store's thread — the one way to run a query off the loop, e.g.
        `await store.run(Store.get_call, call_id)`. Writes that feed the outbox or need resilience have methods."""
        return await self._run(fn, self.store, *args, **kwargs)

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def close(self) -> None:
        """Finish queued work, close the database and stop the worker thread."""
        await self._run(self.store.close)
        self._executor.shutdown(wait=False)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- outbox listeners ------------------------------------------------------------------------------------

    def add_outbox_listener(self, listener: Callable[[], None]) -> None:
        """Call `listener()` (on the loop) after every write that enqueued outbox rows."""
        self._outbox_listeners.append(listener)

    def remove_outbox_listener(self, listener: Callable[[], None]) -> None:
        """Stop calling `listener` (no error when it was not registered)."""
        if listener in self._outbox_listeners:
            self._outbox_listeners.remove(listener)

    def _notify(self) -> None:
        for listener in list(self._outbox_listeners):
            listener()

    # -- writes ----------------------------------------------------------------------------------------------

    async def call_started(
        self,
        call_id: str,
        *,
        protocol: str,
        started_wall: float,
        metadata: Mapping[str, str] | None = None,
        language: str = "en",
    ) -> bool:
        """See `Store.call_started`."""
        return await self._run(
            self.store.call_started,
            call_id,
            protocol=protocol,
            started_wall=started_wall,
            metadata=metadata,
            language=language,
        )

    async def call_ended(
        self,
        call_id: str,
        *,
        ended_wall: float,
        audio_seconds: float,
        end_reason: str = "hangup",
        report: Mapping[str, Any] | None = None,
        passed: bool | None = None,
        score: float | None = None,
        status: CallStatus = "completed",
    ) -> int | None:
        """See `Store.call_ended`; wakes the outbox listeners when a score row was enqueued."""
        seq = await self._run(
            self.store.call_ended,
            call_id,
            ended_wall=ended_wall,
            audio_seconds=audio_seconds,
            end_reason=end_reason,
            report=report,
            passed=passed,
            score=score,
            status=status,
        )
        if seq is not None:
            self._notify()
        return seq

    async def add_transcript(self, utterance: Utterance, *, redacted_text: Redacted) -> bool:
        """See `Store.add_transcript`."""
        return await self._run(self.store.add_transcript, utterance, redacted_text=redacted_text)

    async def add_findings(self, findings: Sequence[Finding], *, wall_time: float | None = None) -> list[int]:
        """See `Store.add_findings`; wakes the outbox listeners when alerts were enqueued."""
        seqs = await self._run(self.store.add_findings, list(findings), wall_time=wall_time)
        if seqs:
            self._notify()
        return seqs

    async def acknowledge(
        self, finding_id: str, who: str, *, note: str = "", wall_time: float | None = None
    ) -> Acknowledgement:
        """See `Store.acknowledge`."""
        return await self._run(self.store.acknowledge, finding_id, who, note=note, wall_time=wall_time)

    async def check_writable(self) -> str | None:
        """See `Store.check_writable`."""
        return await self._run(self.store.check_writable)

    # -- outbox ----------------------------------------------------------------------------------------------

    async def pending_outbox(self, limit: int = 100) -> list[OutboxRow]:
        """See `Store.pending_outbox`."""
        return await self._run(self.store.pending_outbox, limit)

    async def mark_delivered(self, seqs: Iterable[int], *, wall_time: float | None = None) -> int:
        """See `Store.mark_delivered`."""
        return await self._run(self.store.mark_delivered, list(seqs), wall_time=wall_time)

    async def mark_failed(self, seq: int, error: str) -> None:
        """See `Store.mark_failed`."""
        await self._run(self.store.mark_failed, seq, error)

    async def outbox_depth(self) -> int:
        """See `Store.outbox_depth`."""
        return await self._run(self.store.outbox_depth)

