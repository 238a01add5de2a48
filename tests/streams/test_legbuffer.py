"""Leg buffers: backpressure makes the feeder wait, shedding is counted, logged and marked; close drains."""

from __future__ import annotations

import asyncio
import logging

import pytest

from streams.legbuffer import LegBuffer, Overflow, Shed


async def test_block_makes_the_feeder_wait_until_audio_is_decoded() -> None:
    buffer = LegBuffer("call c leg 0", max_seconds=1.0, overflow=Overflow.BLOCK)
    await buffer.put(b"a", 0.6)
    await buffer.put(b"b", 0.4)
    third = asyncio.create_task(buffer.put(b"c", 0.5))
    await asyncio.sleep(0.01)
    assert not third.done() and buffer.queued == pytest.approx(1.0)
    taken = await buffer.take(max_seconds=0.7)
    assert taken == ([b"a"], 0.6)
    await asyncio.sleep(0.01)
    assert not third.done()  # room is freed only once the batch is decoded, not when it is taken
    await buffer.done(0.6)
    await asyncio.wait_for(third, 1)
    assert buffer.queued == pytest.approx(0.9)
    assert buffer.shed_chunks == 0


async def test_an_oversized_chunk_fits_an_empty_leg() -> None:
    buffer = LegBuffer("call c leg 0", max_seconds=1.0, overflow=Overflow.BLOCK)
    await asyncio.wait_for(buffer.put(b"big", 3.0), 1)
    assert buffer.queued == 3.0


async def test_shed_drops_counts_logs_and_marks_the_gap(caplog: pytest.LogCaptureFixture) -> None:
    buffer = LegBuffer("call c7 leg 1", max_seconds=1.0, overflow=Overflow.SHED)
    await buffer.put(b"a", 0.8)
    with caplog.at_level(logging.WARNING, logger="streams.legbuffer"):
        await buffer.put(b"b", 0.5)
        await buffer.put(b"c", 0.5)
    await buffer.put(b"d", 0.2)
    assert buffer.shed_chunks == 2 and buffer.shed_seconds == pytest.approx(1.0)
    assert "call c7 leg 1" in caplog.text and "shed 0.50 s" in caplog.text
    await buffer.close()
    taken = await buffer.take(max_seconds=10)
    assert taken is not None
    items, seconds = taken
    assert items == [b"a", Shed(1.0), b"d"]  # consecutive drops merge into one gap
    assert seconds == pytest.approx(1.0)
    assert await buffer.take(max_seconds=10) is None


async def test_batches_respect_the_limit_and_close_ends_the_stream() -> None:
    buffer = LegBuffer("call c leg 0", max_seconds=10.0, overflow=Overflow.BLOCK)
    for name in (b"1", b"2", b"3"):
        await buffer.put(name, 0.4)
    taken = await buffer.take(max_seconds=0.9)
    assert taken is not None and taken[0] == [b"1", b"2"] and taken[1] == pytest.approx(0.8)
    waiter = asyncio.create_task(buffer.take(max_seconds=0.9))
    assert await waiter == ([b"3"], 0.4)
    waiter = asyncio.create_task(buffer.take(max_seconds=0.9))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    await buffer.close()
    assert await asyncio.wait_for(waiter, 1) is None
    with pytest.raises(RuntimeError, match="call c leg 0: audio fed after the leg was closed"):
        await buffer.put(b"4", 0.1)


async def test_shedding_logs_the_first_chunk_then_a_periodic_summary(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    buffer = LegBuffer("call c9 leg 0", max_seconds=1.0, overflow=Overflow.SHED, clock=lambda: now[0])
    await buffer.put(b"a", 1.0)
    with caplog.at_level(logging.WARNING, logger="streams.legbuffer"):
        for _ in range(750):  # 15 s of 20 ms chunks shed in overload
            await buffer.put(b"x", 0.02)
            now[0] += 0.02
    lines = [r.getMessage() for r in caplog.records]
    assert buffer.shed_chunks == 750
    assert len(lines) == 2, lines  # the first, then one summary after SHED_LOG_INTERVAL (was a line per chunk)
    assert "chunk(s) in the last 10 s" in lines[1] and "total 10." in lines[1], lines
