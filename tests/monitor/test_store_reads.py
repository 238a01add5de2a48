"""Queries of the dashboard and API run on their own connection: they never wait behind a write (WAL)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from monitor.store.async_store import AsyncStore
from monitor.store.database import Store

T0 = 1_700_000_000.0


async def test_a_read_does_not_wait_behind_a_slow_write_and_sees_committed_ones(tmp_path: Path) -> None:
    async with await AsyncStore.open(tmp_path / "cw.sqlite3") as store:
        assert await store.call_started("a", protocol="raw", started_wall=T0)
        release = threading.Event()

        def slow_write(s: Store) -> None:  # holds the writer's thread (as a long alert write would)
            release.wait(10)

        writer = asyncio.create_task(store.run(slow_write))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        calls = await store.read(Store.list_calls)
        assert time.monotonic() - started < 1.0
        assert [c.call_id for c in calls] == ["a"]
        release.set()
        await writer
