"""AudioHookProtocol + signature check behind a minimal websockets server, driven by Genesys' real client and suite.

Needs the reference checkout prepared by scripts/audiohook-reference.sh (tests/audiohook_reference.py says where);
skips loudly without it, and fails in CI. The server here is a test harness only (the service's own server lives in
monitor/).
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import re
import struct
import time
import wave
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from streams.protocols import AudioChunk, AudioHookProtocol, CallClosed, CallOpened, Close, Notice, Output, SendText
from streams.protocols.signatures import decode_client_secret, verify_audiohook_request
from tests.audiohook_reference import SHIM, SUITE, reference_checkout, suite_lock

pytestmark = pytest.mark.slow

API_KEY = "callwarden-test-key"
SECRET_B64 = base64.b64encode(b"callwarden test secret, 32 bytes").decode()


@dataclass
class Recorder:
    """Everything the protocol core emitted, per connection, plus refused upgrades."""

    sessions: list[list[Output]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def reference() -> Path:
    return reference_checkout()


def refuse_bad_signature(recorder: Recorder) -> Callable[[ServerConnection, Request], Response | None]:
    secrets = {API_KEY: decode_client_secret(SECRET_B64)}

    def check(connection: ServerConnection, request: Request) -> Response | None:
        result = verify_audiohook_request(request.headers.raw_items(), request.path, secrets, now=time.time())
        if result.ok:
            return None
        recorder.refused.append(result.code)
        return connection.respond(401, f"{result.code}\n")

    return check


async def run_session(ws: ServerConnection, recorder: Recorder) -> None:
    headers: Headers = ws.request.headers if ws.request else Headers()
    proto = AudioHookProtocol(headers.get("audiohook-session-id"), headers.get("audiohook-organization-id"))
    log: list[Output] = []
    recorder.sessions.append(log)
    try:
        async for message in ws:
            outputs = proto.receive_text(message) if isinstance(message, str) else proto.receive_bytes(message)
            log.extend(outputs)
            for out in outputs:
                if isinstance(out, SendText):
                    await ws.send(out.text)
                elif isinstance(out, Close):
                    await ws.close(out.code, out.reason)
    finally:
        log.extend(proto.connection_lost())


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, Recorder]]:
    recorder = Recorder()
    server: Server = await serve(
        lambda ws: run_session(ws, recorder), "127.0.0.1", 0, process_request=refuse_bad_signature(recorder)
    )
    port = next(iter(server.sockets)).getsockname()[1]
    try:
        yield f"ws://127.0.0.1:{port}/ingest/audiohook", recorder
    finally:
        server.close()
        await server.wait_closed()


def stereo_wav(path: Path, seconds: float) -> Path:
    """A 16-bit 8 kHz stereo WAV: a 440 Hz tone left (external), 660 Hz right (internal)."""
    frames = bytearray()
    for i in range(int(seconds * 8000)):
        left = int(8000 * math.sin(2 * math.pi * 440 * i / 8000))
        right = int(8000 * math.sin(2 * math.pi * 660 * i / 8000))
        frames += struct.pack("<hh", left, right)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(frames))
    return path


async def run_client(reference: Path, uri: str, *args: str, secret: str = SECRET_B64) -> str:
    env = {**os.environ, "NODE_OPTIONS": f"--require {SHIM}", "NO_COLOR": "1"}
    proc = await asyncio.create_subprocess_exec(
        "node", "dist/client/src/index.js", "--uri", uri, "--api-key", API_KEY, "--client-secret", secret, *args,
        cwd=reference / "client", env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    return output.decode(errors="replace")


async def test_reference_client_streams_a_stereo_call_end_to_end(
    reference: Path, server: tuple[str, Recorder], tmp_path: Path
) -> None:
    uri, recorder = server
    log = await run_client(reference, uri, "--wavfile", str(stereo_wav(tmp_path / "call.wav", 2.4)))
    (session,) = recorder.sessions
    opened = [out for out in session if isinstance(out, CallOpened)]
    assert len(opened) == 1 and [leg.label for leg in opened[0].legs] == ["external", "internal"]
    audio = b"".join(out.payload for out in session if isinstance(out, AudioChunk))
    assert len(audio) == 2 * int(2.4 * 8000)  # every sample of both channels, PCMU
    assert session[-1] == CallClosed(opened[0].call_id, "end")
    assert not any(isinstance(out, Close) for out in session)
    replies = [json.loads(out.text)["type"] for out in session if isinstance(out, SendText)]
    assert replies[0] == "opened" and replies[-1] == "closed" and "pong" in replies
    assert "ERROR" not in log, log[-2000:]


async def test_reference_probe_is_answered_and_not_a_call(reference: Path, server: tuple[str, Recorder]) -> None:
    uri, recorder = server
    log = await run_client(reference, uri, "--connection-probe")
    (session,) = recorder.sessions
    assert any(isinstance(out, Notice) and out.kind == "probe" for out in session)
    assert not any(isinstance(out, CallOpened | CallClosed | Close) for out in session)
    assert "ERROR" not in log, log[-2000:]


async def test_reference_client_with_a_wrong_secret_is_refused(reference: Path, server: tuple[str, Recorder]) -> None:
    uri, recorder = server
    wrong = base64.b64encode(b"not the configured secret").decode()
    await run_client(reference, uri, "--connection-probe", secret=wrong)
    assert recorder.refused == ["FAILED"] and recorder.sessions == []


async def test_reference_conformance_suite_passes(reference: Path, server: tuple[str, Recorder]) -> None:
    uri, _ = server
    with suite_lock(reference):
        (reference / "testconfig.cfg").write_text(
            f"[EndPoint]\nurl={uri}\n[Authentication]\napiKey={API_KEY}\nclientSecret={SECRET_B64}\n"
            "[OpenParameters]\ncustomConfig={}\nlanguage=en-US\n"
            "[Features]\nsingleChannel=true\ndoubleChannel=true\ntranscriptionConnector=false\n"
        )
        proc = await asyncio.create_subprocess_exec(
            "npx", "--no-install", "jest", "--forceExit", "--ci", SUITE, cwd=reference,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1"},
        )  # fmt: skip
        output, _ = await asyncio.wait_for(proc.communicate(), timeout=300)
    text = output.decode(errors="replace")
    summary = re.search(r"Tests:\s+(.*)", text)
    assert summary is not None, text[-3000:]
    assert "failed" not in summary.group(1), text[-6000:]
    assert "12 passed" in summary.group(1), summary.group(1)
