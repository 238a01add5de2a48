"""Alert sinks that drain the store's durable outbox: the shared drain loop, the sink protocol, and a log-only sink.

A sink is an async context manager owning one background delivery task (in a TaskGroup it enters). It reads
undelivered outbox rows in seq order (so per call in order), hands each to its transport, and marks a row
delivered only after the transport confirmed it; the next row waits (head-of-line), so order is never broken.
`notify()` wakes it at once when rows were enqueued (AsyncStore calls it for you via an outbox listener).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from types import TracebackType
from typing import Protocol, Self

from monitor.metrics import Metrics
from monitor.store.async_store import AsyncStore
from monitor.store.records import OutboxRow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
"""Failed deliveries of one row before it is dead-lettered (a broker outage costs a row at most one attempt: the
reconnect loop does not count; only a publish that failed on a live connection does)."""

DeliveredCallback = Callable[[str, float], None]
"""Called as `(finding_id, handoff_wall_time)` once per delivered finding alert (not for score messages)."""


class AlertSink(Protocol):
    """What the service needs of any alert sink."""

    name: str

    def notify(self) -> None:
        """New outbox rows exist: deliver them now."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...


class OutboxSink:
    """The drain loop shared by all sinks; subclasses implement `_run` around `drain_once(deliver)`."""

    name = "outbox"
    _success_outcome = "delivered"
    webhook: bool | str = False
    """Which outbox rows this sink drains: every row not under "webhook/" (False), or one webhook's (its topic
    prefix under "webhook/")."""

    def __init__(
        self,
        store: AsyncStore,
        *,
        metrics: Metrics | None = None,
        on_delivered: DeliveredCallback | None = None,
        batch_size: int = 100,
        drain_timeout: float = 2.0,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._store = store
        self._max_attempts = max_attempts
        self._metrics = metrics
        self._on_delivered = on_delivered
        self._batch_size = batch_size
        self._drain_timeout = drain_timeout
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._tg: asyncio.TaskGroup | None = None
        self._task: asyncio.Task[None] | None = None
        self.delivered = 0
        """Rows delivered since this sink was entered."""

    def notify(self) -> None:
        """Wake the delivery task: rows were enqueued."""
        self._idle.clear()
        self._wake.set()

    async def __aenter__(self) -> Self:
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        self._store.add_outbox_listener(self.notify)
        self.notify()  # rows a previous run left behind
        self._task = self._tg.create_task(self._run(), name=f"callwarden-{self.name}-sink")
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Give pending rows up to `drain_timeout` seconds to go out, then stop (what is left stays queued)."""
        self._store.remove_outbox_listener(self.notify)
        if exc is None and self._drain_timeout > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._drain_timeout):
                    await self._idle.wait()
        if self._task is not None:
            self._task.cancel()
        assert self._tg is not None
        await self._tg.__aexit__(exc_type, exc, tb)

    async def wait_idle(self) -> None:
        """Return once the outbox was found empty after the last `notify()`."""
        await self._idle.wait()

    async def _run(self) -> None:
        raise NotImplementedError

    async def _wait_for_work(self) -> None:
        await self._wake.wait()

    async def drain_once(self, deliver: DeliverFn) -> None:
        """Deliver rows until the outbox is empty; a failing delivery is recorded on its row and re-raised."""
        while True:
            self._wake.clear()
            rows = await self._store.pending_outbox(self._batch_size, webhook=self.webhook)
            if not rows:
                if not self._wake.is_set():
                    self._idle.set()
                self._set_depth(0)
                return
            for row in rows:
                if not row.readable:
                    await self._dead_letter(row, row.last_error or "unreadable payload")
                    continue
                try:
                    await deliver(row)
                except Exception as exc:
                    self._count("error")
                    if not self.row_at_fault(exc):  # the receiver is down: the row keeps its place, uncounted
                        await self._refresh_depth()
                        raise
                    await self._store.mark_failed(row.seq, describe_error(exc))
                    if row.attempts + 1 >= self._max_attempts:  # this row, not the transport, is the problem
                        await self._dead_letter(row, describe_error(exc))
                        continue
                    await self._refresh_depth()
                    raise
                handoff = time.time()
                await self._store.mark_delivered([row.seq], wall_time=handoff)
                self.delivered += 1
                self._count(self._success_outcome)
                if row.finding_id is not None and self._on_delivered is not None:
                    self._report_delivered(row.finding_id, handoff)
            await self._refresh_depth()

    def row_at_fault(self, exc: BaseException) -> bool:
        """Whether a failed delivery counts against the row (towards dead-lettering it), or only says the transport
        is down (then the row waits, however long the outage). Every failure counts unless a sink knows better."""
        return True

    async def _dead_letter(self, row: OutboxRow, error: str) -> None:
        """Set `row` aside so the rows behind it go out: an ERROR line (ids only, never the payload) and a metric."""
        await self._store.mark_dead(row.seq, error)
        if self._metrics is not None:
            self._metrics.outbox_dead_letters.inc()
        log.error(
            "outbox: message seq=%d (call %s, finding %s, topic %s) moved to the dead-letter state after %d "
            "attempt(s): %s — the messages behind it are delivered; it stays in the outbox table (dead_wall set)",
            row.seq, row.call_id, row.finding_id, row.topic, row.attempts + (1 if row.readable else 0), error,
        )  # fmt: skip

    def _report_delivered(self, finding_id: str, handoff: float) -> None:
        assert self._on_delivered is not None
        try:
            self._on_delivered(finding_id, handoff)
        except Exception:  # an observer's bug must not stop alert delivery
            log.exception("on_delivered callback failed for finding %s", finding_id)

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.alert_delivery(self.name, outcome)

    def _set_depth(self, depth: int) -> None:
        if self._metrics is not None:
            self._metrics.outbox_depth.set(depth)

    async def _refresh_depth(self) -> None:
        if self._metrics is not None:
            self._set_depth(await self._store.outbox_depth())


class DeliverFn(Protocol):
    """Hands one outbox row to a transport; returns once the transport confirmed it, raises otherwise."""

    async def __call__(self, row: OutboxRow) -> None: ...


def describe_error(exc: BaseException) -> str:
    """A one-line description of a delivery error (type and message)."""
    text = str(exc) or repr(exc)
    return f"{type(exc).__name__}: {text}"


class LogAlertSink(OutboxSink):
    """A sink without a broker: logs each alert (ids, rule, severity — never evidence) and marks it delivered."""

    name = "log"
    _success_outcome = "logged"

    async def _run(self) -> None:
        while True:
            await self.drain_once(self._log_row)
            await self._wait_for_work()

    async def _log_row(self, row: OutboxRow) -> None:
        data = json.loads(row.payload)
        if data.get("type") == "score":
            log.info("call %s scored %s (passed=%s)", row.call_id, data.get("score"), data.get("passed"))
            return
        severity = str(data.get("severity", ""))
        level = logging.WARNING if severity in ("high", "critical") else logging.INFO
        log.log(
            level,
            "alert call=%s rule=%s severity=%s outcome=%s finding=%s",
            row.call_id,
            data.get("rule_id"),
            severity,
            data.get("outcome"),
            row.finding_id,
        )
