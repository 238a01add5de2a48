"""The replica's lease in the shared store as a background task: heartbeat, and reaping replicas that died.

Every `lease / 3` seconds: renew this replica's heartbeat (with its state: live, or draining once SIGTERM came),
then reap every replica whose lease lapsed (monitor/store/replicas.py): their calls become incomplete /
replica-lost, their undelivered outbox rows this replica's, and the alert sink is woken to deliver them. A store
error is logged and retried at the next beat; a replica that finds itself reaped (it was stalled longer than its
lease) registers again and says so loudly: the calls it was running were already ended by a survivor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from monitor.store.async_store import STORAGE_ERRORS, AsyncStore
from monitor.store.database import Store
from monitor.store.records import Reaped

log = logging.getLogger("callwarden.replicas")


async def beat_and_reap(
    store: AsyncStore, lease_seconds: float, state: Callable[[], str], on_reaped: Callable[[list[Reaped]], None]
) -> None:
    """Heartbeat and reaper loop (runs until cancelled)."""
    interval = max(0.5, lease_seconds / 3)
    while True:
        try:
            if not await store.run(Store.heartbeat, state()):
                log.error(
                    "replica %s was reaped by another replica (no heartbeat for %.0f s): its calls were ended as "
                    "replica-lost; registering again", store.store.replica_id, lease_seconds,
                )
                await store.run(Store.register_replica, lease_seconds=lease_seconds)
            reaped = await store.run(Store.reap_lost_replicas)
            if reaped:
                on_reaped(reaped)
        except STORAGE_ERRORS as exc:
            log.warning("replica heartbeat/reaper: %s (retrying in %.1f s)", exc, interval)
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def replica_lease(
    store: AsyncStore, lease_seconds: float, state: Callable[[], str], on_reaped: Callable[[list[Reaped]], None]
) -> AsyncIterator[asyncio.Task[None]]:
    """Run `beat_and_reap` for the service's lifetime; at the end the replica says "stopped" (a clean stop: its
    remaining undelivered rows are taken over once its lease lapses)."""
    task = asyncio.create_task(beat_and_reap(store, lease_seconds, state, on_reaped), name="callwarden replica lease")
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(*STORAGE_ERRORS):
            await store.run(Store.heartbeat, "stopped")
