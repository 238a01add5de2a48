"""Acceptance: the transport guards of the real service — slow-loris handshakes, compression, rate limits, per-address
connection caps and TLS with a certificate made in the test."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidMessage

from monitor.config.ingest import IngestConfig, TlsConfig
from tests.monitor.ingest_support import LiveService, record, running_service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

OPEN_TIMEOUT = 2.0
LIMITS = IngestConfig(
    open_timeout=OPEN_TIMEOUT,
    max_messages_per_second=100,
    max_bytes_per_second=64_000,
    rate_burst_seconds=1.0,
    max_connections_per_address=4,
)
START = {"type": "start", "encoding": "pcm_s16le", "sample_rate": 8000, "channels": [{"role": "agent"}]}


@pytest.fixture
async def service(tmp_path: Path, vosk_model_path: Path) -> AsyncIterator[LiveService]:
    async with running_service(tmp_path / "data", vosk_model_path, ingest=LIMITS) as running:
        yield running


def _stall(port: int, request_head: bytes) -> float:
    """Send part of a request, then nothing: seconds until the server drops the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        began = time.monotonic()
        sock.sendall(request_head)
        try:
            while sock.recv(4096):
                pass
        except ConnectionResetError:
            pass
        return time.monotonic() - began


async def test_slow_loris_handshakes_are_dropped_after_open_timeout(service: LiveService) -> None:
    heads = {
        "half-request-line": b"GET /ingest/raw HT",
        "half-headers": b"GET /ingest/raw HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n",
        "nothing": b"",
    }
    waited = await asyncio.gather(*(asyncio.to_thread(_stall, service.config.port, head) for head in heads.values()))
    figures = dict(zip(heads, (round(w, 2) for w in waited), strict=True))
    record({"open_timeout_s": OPEN_TIMEOUT, "dropped_after_s": figures}, "slow-loris")
    assert all(OPEN_TIMEOUT - 0.1 <= w <= OPEN_TIMEOUT + 1.5 for w in waited), figures
    assert await service.get("/healthz") == (200, "ok\n")


async def test_permessage_deflate_is_never_negotiated_and_compressed_frames_are_refused(service: LiveService) -> None:
    async with connect(service.ws("/ingest/raw"), compression="deflate") as ws:
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers
        assert ws.protocol.extensions == []
        await ws.send(json.dumps({**START, "call_id": "deflate-1"}))
        ws.transport.write(_masked_frame(0xC2, b"\x00" * 64))  # FIN + RSV1 ("compressed") + binary
        await asyncio.wait_for(ws.wait_closed(), 10)
    assert ws.close_code == 1002, (ws.close_code, ws.close_reason)


def _masked_frame(first_byte: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([first_byte, 0x80 | len(payload)]) + mask + masked


async def _flood(ws: ClientConnection, frames: int, size: int, every: float = 0.0) -> int:
    sent = 0
    for _ in range(frames):
        try:
            await ws.send(bytes(size))
        except ConnectionClosed:
            break
        sent += 1
        await asyncio.sleep(every)
    return sent


async def test_rate_limits_close_floods_with_1008_and_spare_paced_streams(service: LiveService) -> None:
    results = {}
    for name, frames, size in (("messages", 2000, 2), ("bytes", 200, 16000)):
        async with connect(service.ws("/ingest/raw"), compression=None) as ws:
            await ws.send(json.dumps({**START, "call_id": f"flood-{name}"}))
            sent = await _flood(ws, frames, size)
            await asyncio.wait_for(ws.wait_closed(), 10)
            results[name] = (ws.close_code, ws.close_reason, sent)
    async with connect(service.ws("/ingest/raw"), compression=None) as ws:
        await ws.send(json.dumps({**START, "call_id": "paced"}))
        sent = await _flood(ws, 60, 1600, every=0.05)  # 20 frames/s, 32 kB/s: half the limits, for 3 s
        await ws.send(json.dumps({"type": "end"}))
        await asyncio.wait_for(ws.wait_closed(), 10)
        results["paced"] = (ws.close_code, ws.close_reason, sent)
    record(results, "rate-limits")
    assert results["messages"][:2] == (1008, "rate limit: over 100 messages/s")
    assert results["bytes"][:2] == (1008, "rate limit: over 64000 bytes/s")
    assert results["paced"] == (1000, "end of call", 60)
    stored = {c["call_id"]: c["status"] for c in await service.all_calls_finished(timeout=30)}
    assert stored["paced"] == "completed"


async def test_connections_per_address_are_capped(service: LiveService) -> None:
    cap = LIMITS.max_connections_per_address
    held = [await connect(service.ws("/ingest/raw"), compression=None) for _ in range(cap)]
    began = time.monotonic()
    with pytest.raises((InvalidMessage, ConnectionError, EOFError, OSError)):
        await connect(service.ws("/ingest/raw"), compression=None, open_timeout=5)
    refused_after = time.monotonic() - began
    await held.pop().close()
    await asyncio.sleep(0.2)
    async with connect(service.ws("/ingest/raw"), compression=None) as extra:
        assert extra.response is not None and extra.response.status_code == 101
    for ws in held:
        await ws.close()
    record({"cap": cap, "over_cap_dropped_after_s": round(refused_after, 3)}, "address-cap")
    assert refused_after < 1.0


async def test_tls_from_configured_cert_and_key(tmp_path: Path, vosk_model_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    tls = TlsConfig(cert=str(cert), key=str(key))
    client = ssl.create_default_context(cafile=str(cert))
    async with running_service(tmp_path / "data", vosk_model_path, tls=tls) as service:
        url = f"wss://127.0.0.1:{service.config.port}/ingest/raw"
        async with connect(url, ssl=client, compression=None) as ws:
            await ws.send(json.dumps({**START, "call_id": "tls-1"}))
            await ws.send(bytes(3200))
            await ws.send(json.dumps({"type": "end"}))
            await asyncio.wait_for(ws.wait_closed(), 10)
            cipher = ws.transport.get_extra_info("cipher")
            assert ws.close_code == 1000
        health = await asyncio.to_thread(_https_get, f"https://127.0.0.1:{service.config.port}/healthz", client)
        with pytest.raises((InvalidMessage, ConnectionError, EOFError, OSError)):
            await connect(f"ws://127.0.0.1:{service.config.port}/ingest/raw", open_timeout=5)
        untrusted = ssl.create_default_context()
        with pytest.raises(ssl.SSLCertVerificationError):
            await connect(url, ssl=untrusted, open_timeout=5)
    record({"cipher": cipher, "healthz": health}, "tls")
    assert health == "ok\n"


def _https_get(url: str, context: ssl.SSLContext) -> str:
    with urllib.request.urlopen(url, context=context, timeout=10) as response:
        return str(response.read().decode())
