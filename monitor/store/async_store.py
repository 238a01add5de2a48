"""The asyncio face of the store, as the service uses it: queries off the loop, writes that survive a failing disk.

`await store.run(Store.query, …)` runs any query of `Store`, in submission order, on one dedicated worker thread
(never blocking the event loop on SQLite). The writes have methods of their own: the ones that enqueue outbox rows
(`add_findings`, `call_ended`) wake the registered outbox listeners (the alert sink's `notify`), and none of them
raises on storage failure (full, read-only, I/O error): a failed write is logged loudly (once per outage, ERROR)
and counted (`callwarden_storage_errors_total{operation}`); what cannot be lost is kept in memory instead:

- alerts (finding messages and end-of-call scores) go to a bounded in-memory fallback outbox that the alert
  sink drains after the durable outbox (`callwarden_fallback_outbox_depth`; when full, the oldest message is
  dropped and counted in `callwarden_alerts_dropped_total`). Per call order holds: while a call has messages
  in memory, its newer messages go to memory too, and memory is drained after the database.
- a row delivered to the broker but not markable as delivered (disk full) is remembered as delivered and
  marked once the disk accepts writes again, so it is not published over and over.
- transcript lines, call rows and findings that could not be written are lost from the database (the report
  of such a call is incomplete); the live feed and the alerts still carry them.

Queries still raise (the HTTP API answers 500): the service has no copy of the database in memory.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

from prometheus_client import Counter, Gauge

from monitor.metrics import NAMESPACE, Metrics
from monitor.store.backend import DB_ERRORS
from monitor.store.crypto import DataKeys
from monitor.store.database import Store
from monitor.store.guard import DigitGuard
from monitor.store.records import WEBHOOK_PREFIX, Acknowledgement, AlertAction, CallStatus, OutboxRow, StoreError
from monitor.store.rows import (
    alert_payload,
    alert_topic,
    control_topic,
    dumps,
    score_payload,
    score_topic,
    webhook_topic,
)
from rules.events import Utterance
from rules.findings import Finding
from rules.redact import Redacted

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger("callwarden.storage")

FALLBACK_OUTBOX_LIMIT = 10_000
"""Alerts kept in memory while the database cannot be written; beyond it the oldest are dropped (and counted)."""
STORAGE_ERRORS: tuple[type[BaseException], ...] = (*DB_ERRORS, StoreError, OSError)
WRITE_ERRORS: tuple[type[BaseException], ...] = (*DB_ERRORS, OSError)


class StorageMetrics:
    """The degraded-storage metrics, registered in the service's registry."""

    def __init__(self, metrics: Metrics) -> None:
        r = metrics.registry
        self.errors = Counter(
            "storage_errors",
            "Store writes that failed (disk full, read-only, I/O error), by operation.",
            ["operation"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.fallback_depth = Gauge(
            "fallback_outbox_depth",
            "Alerts held in memory because the database could not be written.",
            namespace=NAMESPACE,
            registry=r,
        )
        self.dropped = Counter(
            "alerts_dropped",
            "Alerts dropped because the in-memory fallback outbox was full.",
            namespace=NAMESPACE,
            registry=r,
        )


class AsyncStore:
    """The store on its own thread: `run` for queries, resilient methods for writes (see the module docstring)."""

    def __init__(
        self, store: Store, *, reader: Store | None = None, fallback_limit: int = FALLBACK_OUTBOX_LIMIT
    ) -> None:
        self.store = store
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="callwarden-store")
        self._reader = reader
        self._read_executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="callwarden-store-read") if reader else self._executor
        )
        self._outbox_listeners: list[Callable[[], None]] = []
        self._memory: deque[OutboxRow] = deque()
        self._fallback_limit = fallback_limit
        self._next_memory_seq = -1
        self._unmarked: dict[int, float] = {}  # delivered store rows whose delivery could not be recorded
        self._guard = DigitGuard()
        self._metrics: StorageMetrics | None = None
        self._failing_since: float | None = None
        self.failures = 0
        """Failed writes since opening."""

    @classmethod
    async def open(cls, path: str | Path, keys: DataKeys | None = None) -> Self:
        """Open the database at `path` without blocking the loop (`keys` as in `Store.open`); a StoreError (naming
        the path) when it cannot be opened at all."""
        loop = asyncio.get_running_loop()
        store = await loop.run_in_executor(None, Store.open, path, keys)
        try:
            reader = await loop.run_in_executor(None, Store.open, path, store.keys)
        except BaseException:
            store.close()
            raise
        return cls(store, reader=reader)

    @classmethod
    async def open_postgres(
        cls, dsn: str, keys: DataKeys, *, migrate: bool = False, replica_id: str | None = None
    ) -> Self:
        """Connect to the shared PostgreSQL store (`Store.open_postgres`): one connection for the writes, one for
        the reads, like the SQLite side."""
        loop = asyncio.get_running_loop()
        opener = functools.partial(Store.open_postgres, dsn, keys, replica_id=replica_id)
        store = await loop.run_in_executor(None, functools.partial(opener, migrate=migrate))
        try:
            reader = await loop.run_in_executor(None, opener)
        except BaseException:
            store.close()
            raise
        return cls(store, reader=reader)

    async def run(self, fn: Callable[Concatenate[Store, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(store, *args, **kwargs)` on the writer's thread, after every write awaited before it, e.g.
        `await store.run(Store.erase_call, call_id, …)`. The writes of a call (outbox, resilience) have methods."""
        return await self._run(fn, self.store, *args, **kwargs)

    async def read(self, fn: Callable[Concatenate[Store, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(reader, *args, **kwargs)` on the reading connection's own thread (WAL: it sees every committed write
        and never waits behind an alert write), e.g. `await store.read(Store.get_call, call_id)`."""
        reader = self._reader or self.store
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._read_executor, functools.partial(fn, reader, *args, **kwargs))

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def close(self) -> None:
        """Finish queued work, close the database and stop the worker thread."""
        if self._reader is not None:
            await self.read(Store.close)
            self._read_executor.shutdown(wait=False)
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

    def notify_outbox(self) -> None:
        """Wake the outbox listeners (rows were handed to this replica by the reaper)."""
        self._notify()

    def _notify(self) -> None:
        for listener in list(self._outbox_listeners):
            listener()

    def attach_metrics(self, metrics: Metrics) -> None:
        """Count storage errors and the fallback outbox in `metrics`' registry."""
        self._metrics = StorageMetrics(metrics)

    @property
    def fallback_depth(self) -> int:
        """Alerts waiting in memory."""
        return len(self._memory)

    @property
    def degraded(self) -> str | None:
        """Why storage is degraded (the last write failed), None when the last write succeeded."""
        return None if self._failing_since is None else "the database cannot be written (see the log)"

    # -- failure bookkeeping ---------------------------------------------------------------------------------

    def _failed(self, operation: str, exc: BaseException) -> None:
        self.failures += 1
        if self._metrics is not None:
            self._metrics.errors.labels(operation=operation).inc()
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            log.error(
                "STORAGE FAILING: %s on %s failed (%s: %s); calls are still monitored and alerts still sent "
                "(held in memory, at most %d), but reports of running calls will be incomplete. Free disk space "
                "or fix the permissions of %s.",
                operation,
                self.store.location,
                type(exc).__name__,
                exc,
                self._fallback_limit,
                self.store.location if self.store.engine == "postgresql" else self.store.path.parent,
            )
        else:
            log.debug("storage still failing: %s: %s", operation, exc)

    def _succeeded(self) -> None:
        if self._failing_since is not None:
            log.warning(
                "storage writable again after %.1f s; %d alert(s) still held in memory",
                time.monotonic() - self._failing_since,
                len(self._memory),
            )
            self._failing_since = None

    def _hold(self, call_id: str, topic: str, payload: Mapping[str, Any], finding_id: str | None, wall: float) -> None:
        data = self._guard.json_value(dict(payload), "fallback outbox")
        row = OutboxRow(self._next_memory_seq, call_id, topic, dumps(data), finding_id, wall, 0, None)
        self._next_memory_seq -= 1
        self._memory.append(row)
        if len(self._memory) > self._fallback_limit:
            dropped = self._memory.popleft()
            if self._metrics is not None:
                self._metrics.dropped.inc()
            log.error("fallback outbox full (%d): dropped alert for call %s", self._fallback_limit, dropped.call_id)
        self._set_depth()

    def _set_depth(self) -> None:
        if self._metrics is not None:
            self._metrics.fallback_depth.set(len(self._memory))

    def _in_memory(self, call_id: str) -> bool:
        return any(row.call_id == call_id for row in self._memory)

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
        """See `Store.call_started`; False when it could not be written."""
        try:
            started = await self._run(
                self.store.call_started,
                call_id,
                protocol=protocol,
                started_wall=started_wall,
                metadata=metadata,
                language=language,
            )
        except STORAGE_ERRORS as exc:
            self._failed("call_started", exc)
            return False
        self._succeeded()
        return started

    async def add_transcript(self, utterance: Utterance, *, redacted_text: Redacted) -> bool:
        """See `Store.add_transcript`; False when it could not be written (the line is lost from the report)."""
        try:
            stored = await self._run(self.store.add_transcript, utterance, redacted_text=redacted_text)
        except STORAGE_ERRORS as exc:
            self._failed("add_transcript", exc)
            return False
        self._succeeded()
        return stored

    async def add_event_log(self, call_id: str, lines: Sequence[str]) -> bool:
        """See `Store.add_event_log`; False when it could not be written (the call cannot be backtested)."""
        try:
            stored = await self._run(self.store.add_event_log, call_id, list(lines))
        except STORAGE_ERRORS as exc:
            self._failed("add_event_log", exc)
            return False
        self._succeeded()
        return stored

    async def add_findings(
        self,
        findings: Sequence[Finding],
        *,
        wall_time: float | None = None,
        routes: Mapping[str, Sequence[str]] | None = None,
    ) -> list[int]:
        """See `Store.add_findings`; when the database fails the alerts are held in memory (negative seqs), for the
        alert sink only (alert webhooks get what the database took)."""
        wall = time.time() if wall_time is None else wall_time
        if findings and not self._in_memory(findings[0].call_id):
            try:
                seqs = await self._run(self.store.add_findings, list(findings), wall_time=wall, routes=routes)
            except STORAGE_ERRORS as exc:
                self._failed("add_findings", exc)
            else:
                self._succeeded()
                if seqs:
                    self._notify()
                return seqs
        for finding in findings:
            payload = alert_payload(finding.to_json(), wall)
            self._hold(finding.call_id, alert_topic(finding.call_id), payload, finding.finding_id, wall)
        seqs = [self._next_memory_seq + i for i in range(len(findings), 0, -1)]
        if findings:
            self._notify()
        return seqs

    async def add_control(
        self, call_id: str, payloads: Sequence[Mapping[str, Any]], *, wall_time: float, webhook: bool = False
    ) -> None:
        """See `Store.add_control`; when the database fails the messages are held in memory like alerts."""
        if payloads and not self._in_memory(call_id):
            try:
                await self._run(self.store.add_control, call_id, list(payloads), wall_time=wall_time, webhook=webhook)
            except STORAGE_ERRORS as exc:
                self._failed("add_control", exc)
            else:
                self._succeeded()
                self._notify()
                return
        topics = [control_topic(call_id), *([webhook_topic(control_topic(call_id))] if webhook else [])]
        for payload in payloads:
            for topic in topics:
                self._hold(call_id, topic, payload, None, wall_time)
        if payloads:
            self._notify()

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
        """See `Store.call_ended`; when the database fails the score message is held in memory."""
        if not self._in_memory(call_id):
            try:
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
            except STORAGE_ERRORS as exc:
                self._failed("call_ended", exc)
            else:
                self._succeeded()
                if seq is not None:
                    self._notify()
                return seq
        if report is None:
            return None
        payload = score_payload(
            call_id, report, status=status, end_reason=end_reason,
            passed=report.get("passed") if passed is None else passed,
            score=report.get("score") if score is None else score,
            audio_seconds=audio_seconds, ended_wall=ended_wall,
        )
        self._hold(call_id, score_topic(call_id), payload, None, ended_wall)
        self._notify()
        return self._next_memory_seq + 1

    # -- the outbox as the sink sees it ----------------------------------------------------------------------

    async def pending_outbox(self, limit: int = 100, webhook: bool | str = False) -> list[OutboxRow]:
        """Undelivered database rows (seq order), then the alerts held in memory (arrival order): the alert sink's,
        or (`webhook`) the webhook sink's."""
        try:
            rows = await self._run(self.store.pending_outbox, limit + len(self._unmarked), webhook)
        except STORAGE_ERRORS as exc:
            self._failed("pending_outbox", exc)
            rows = []
        rows = [row for row in rows if row.seq not in self._unmarked][:limit]
        prefix = webhook if isinstance(webhook, str) and webhook else WEBHOOK_PREFIX
        memory = [row for row in self._memory if row.topic.startswith(prefix) == bool(webhook)]
        return rows + memory[: max(0, limit - len(rows))]

    async def mark_delivered(self, seqs: Iterable[int], *, wall_time: float | None = None) -> int:
        """Mark rows delivered; memory rows are forgotten, database rows the disk refuses are remembered."""
        wall = time.time() if wall_time is None else wall_time
        wanted = list(seqs)
        memory = {s for s in wanted if s < 0}
        if memory:
            self._memory = deque(row for row in self._memory if row.seq not in memory)
            self._set_depth()
        stored = {s: wall for s in wanted if s >= 0}
        stored.update(self._unmarked)
        if not stored:
            return len(memory)
        try:
            marked = await self._run(self.store.mark_delivered, list(stored), wall_time=wall)
        except STORAGE_ERRORS as exc:
            self._failed("mark_delivered", exc)
            self._unmarked.update(stored)
            return len(memory)
        self._unmarked.clear()
        return marked + len(memory)

    async def mark_failed(self, seq: int, error: str) -> None:
        """Count a failed attempt (memory rows: in memory)."""
        if seq < 0:
            self._memory = deque(
                OutboxRow(r.seq, r.call_id, r.topic, r.payload, r.finding_id, r.created_wall, r.attempts + 1, error)
                if r.seq == seq
                else r
                for r in self._memory
            )
            return
        try:
            await self._run(self.store.mark_failed, seq, error)
        except STORAGE_ERRORS as exc:
            self._failed("mark_failed", exc)

    async def mark_dead(self, seq: int, error: str) -> None:
        """Set an undeliverable row aside (memory rows are dropped; the ERROR log line is the sink's)."""
        if seq < 0:
            self._memory = deque(r for r in self._memory if r.seq != seq)
            self._set_depth()
            return
        try:
            await self._run(self.store.mark_dead, seq, error)
        except STORAGE_ERRORS as exc:
            self._failed("mark_dead", exc)

    async def outbox_depth(self) -> int:
        """Messages waiting: database rows not yet delivered plus alerts held in memory."""
        try:
            stored = await self._run(self.store.outbox_depth) - len(self._unmarked)
        except STORAGE_ERRORS as exc:
            self._failed("outbox_depth", exc)
            stored = 0
        return max(0, stored) + len(self._memory)

    async def acknowledge(
        self, finding_id: str, who: str, *, note: str = "", wall_time: float | None = None
    ) -> Acknowledgement:
        """See `Store.acknowledge`; a storage failure becomes a StoreError the dashboard is shown."""
        try:
            return await self._run(self.store.acknowledge, finding_id, who, note=note, wall_time=wall_time)
        except STORAGE_ERRORS as exc:
            if isinstance(exc, StoreError):
                raise
            self._failed("acknowledge", exc)
            raise StoreError(f"acknowledgement not stored: the database cannot be written ({exc})") from exc

    async def alert_action(self, finding_id: str, action: str, actor: str, **kwargs: Any) -> AlertAction:
        """See `Store.alert_action`; a storage failure becomes a StoreError the dashboard is shown."""
        try:
            done = await self._run(functools.partial(self.store.alert_action, finding_id, action, actor, **kwargs))
        except WRITE_ERRORS as exc:
            self._failed("alert_action", exc)
            raise StoreError(f"{action} not stored: the database cannot be written ({exc})") from exc
        if done.action == "escalate":
            self._notify()  # its outbox row waits for the sink
        return done

    async def check_writable(self) -> str | None:
        """See `Store.check_writable` (a committed probe); a success ends a storage outage."""
        problem = await self._run(self.store.check_writable)
        if problem is None and self._failing_since is not None:
            self._succeeded()
            if self._unmarked:
                await self.mark_delivered([])
        return problem
