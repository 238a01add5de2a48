"""Defect 3 of issue #14 against the real service: dashboard/API password checks run off the event loop (a flood
of wrong passwords does not stall /healthz), and a wrong password for a real user is answered no faster than one
for an unknown user (user names cannot be enumerated by timing); duplicated Authorization headers get 401."""

from __future__ import annotations

import asyncio
import base64
import http.client
import statistics
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from monitor.access.users import hash_password
from monitor.config.trust import AccessConfig
from tests.monitor.ingest_support import LiveService, running_service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
USERS = {"ada": "admin:" + hash_password("ada-secret-1")}


def _get(url: str, headers: list[tuple[str, str]]) -> tuple[int, float]:
    """GET with these header lines as given (a name may repeat): status and seconds taken."""
    parts = urlsplit(url)
    began = time.monotonic()
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.putrequest("GET", parts.path)
        for name, value in headers:
            conn.putheader(name, value)
        conn.endheaders()
        status = conn.getresponse().status
    finally:
        conn.close()
    return status, time.monotonic() - began


def basic(name: str, password: str) -> tuple[str, str]:
    return "Authorization", "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()


async def timed(service: LiveService, path: str, *headers: tuple[str, str]) -> tuple[int, float]:
    return await asyncio.to_thread(_get, service.http + path, list(headers))


async def test_password_floods_stay_off_the_loop_and_do_not_reveal_user_names(
    tmp_path: Path, vosk_model_path: Path
) -> None:
    access = AccessConfig(users=USERS, require_auth=True)
    async with running_service(tmp_path, vosk_model_path, access=access) as service:
        assert (await timed(service, "/api/calls", basic("ada", "ada-secret-1")))[0] == 200
        known = [await timed(service, "/api/calls", basic("ada", f"wrong-{n}")) for n in range(5)]
        unknown = [await timed(service, "/api/calls", basic(f"nobody{n}", "wrong")) for n in range(5)]
        health: list[float] = []

        async def probe() -> None:
            while True:
                health.append((await timed(service, "/healthz"))[1])
                await asyncio.sleep(0.05)

        prober = asyncio.create_task(probe())
        flood = await asyncio.gather(*(timed(service, "/api/calls", basic("ada", f"bad-{n}")) for n in range(40)))
        prober.cancel()
        duplicated = await timed(service, "/api/calls", basic("ada", "ada-secret-1"), basic("ada", "ada-secret-1"))
    known_s, unknown_s = statistics.median(t for _, t in known), statistics.median(t for _, t in unknown)
    print(f"\nwrong password: known user {known_s * 1000:.1f} ms, unknown user {unknown_s * 1000:.1f} ms"
          f" (medians of 5); /healthz during a flood of 40: max {max(health) * 1000:.1f} ms over {len(health)} probes")
    assert all(status == 401 for status, _ in known + unknown + flood)
    assert abs(known_s - unknown_s) < 0.1, (known_s, unknown_s)
    assert min(t for _, t in known + unknown) >= 0.45  # every refusal waits out the refusal delay
    assert health and max(health) < 0.3, health
    assert duplicated[0] == 400, duplicated  # refused before anyone reads it (was 500)
