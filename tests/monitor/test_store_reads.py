"""Queries of the dashboard and API run on their own connection: they never wait behind a write (WAL)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from monitor.store.database import Store
from tests.monitor.store_helpers import ENGINES, StoreTarget, store_target

T0 = 1_700_000_000.0


@pytest.fixture(params=ENGINES)
def target(request: pytest.FixtureRequest, tmp_path: Path) -> StoreTarget:
    return store_target(request, tmp_path / "cw.sqlite3")


async def test_a_read_does_not_wait_behind_a_slow_write_and_sees_committed_ones(target: StoreTarget) -> None:
    async with await target.open_async() as store:
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
