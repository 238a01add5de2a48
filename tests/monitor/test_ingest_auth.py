"""Acceptance: every ingest protocol refuses unauthenticated or wrongly signed connections, and accepts a correct one.

The real service runs with credentials on all four endpoints (ingest.require_auth on). Each protocol gets ≥ 50 bad
variants, tried concurrently: upgrade refusals must be exactly "401 Unauthorized" no sooner than 500 ms after the
request (whatever failed), bad Twilio call tokens a 1008 "Unauthorized" close; the log holds each real reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from monitor.access.ingest_auth import AUTH_FAILURE_DELAY
from tests.monitor import auth_clients as cred
from tests.monitor.auth_clients import Attempt, AudioHookRequest
from tests.monitor.ingest_support import LiveService, record, running_service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]
MIN_VARIANTS = 50


@pytest.fixture
async def service(tmp_path: Path, vosk_model_path: Path) -> AsyncIterator[LiveService]:
    async with running_service(tmp_path / "data", vosk_model_path, **cred.service_changes()) as running:
        yield running


async def upgrade(
    service: LiveService, path: str, attempt: Attempt, subprotocols: list[str] | None = None
) -> tuple[int, str, float]:
    """Try the upgrade: (status, body, seconds until the answer); a 101 is closed at once."""
    began = time.monotonic()
    try:
        async with connect(
            service.ws(path + attempt.path_suffix),
            additional_headers=attempt.headers,
            subprotocols=subprotocols,
            compression=None,
            open_timeout=30,
        ) as ws:
            assert ws.response is not None
            return ws.response.status_code, "", time.monotonic() - began
    except InvalidStatus as refused:
        body = refused.response.body.decode(errors="replace") if refused.response.body else ""
        return refused.response.status_code, body, time.monotonic() - began


async def twilio_call(service: LiveService, attempt: Attempt, call_sid: str) -> tuple[int | None, str, float]:
    """Upgrade with `attempt.headers`, stream a short call with `attempt.call_token`: close code, reason, seconds."""
    async with connect(service.ws("/ingest/twilio"), additional_headers=attempt.headers, compression=None) as ws:
        began = time.monotonic()
        await _send_all(ws, cred.twilio_frames(call_sid, attempt.call_token))
        with contextlib.suppress(TimeoutError):  # a refused token is answered with a close; else we hang up
            await asyncio.wait_for(ws.wait_closed(), 2 * AUTH_FAILURE_DELAY + 1)
        await ws.close()
        return ws.close_code, ws.close_reason or "", time.monotonic() - began


async def _send_all(ws: ClientConnection, frames: list[str]) -> None:
    for frame in frames:
        try:
            await ws.send(frame)
        except ConnectionClosed:
            return


def refusal_figures(results: dict[str, tuple[int, str, float]]) -> dict[str, object]:
    seconds = [s for _, _, s in results.values()]
    return {"variants": len(results), "refused": sum(code == 401 for code, _, _ in results.values()),
            "min_s": round(min(seconds), 3), "max_s": round(max(seconds), 3)}  # fmt: skip


def assert_all_refused(results: dict[str, tuple[int, str, float]]) -> None:
    wrong = {name: (code, body) for name, (code, body, _) in results.items() if (code, body) != (401, "Unauthorized\n")}
    assert not wrong, wrong
    early = {name: s for name, (_, _, s) in results.items() if s < AUTH_FAILURE_DELAY - 0.01}
    assert not early, early


async def refuse_all(
    service: LiveService, path: str, attempts: list[Attempt], subprotocols: list[str] | None = None
) -> dict[str, tuple[int, str, float]]:
    assert len({a.name for a in attempts}) == len(attempts)
    answers = await asyncio.gather(*(upgrade(service, path, a, subprotocols) for a in attempts))
    return {a.name: answer for a, answer in zip(attempts, answers, strict=True)}


async def test_twilio_refuses_bad_signatures_and_call_tokens(
    service: LiveService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    variants = cred.twilio_variants(service.config.port)
    upgrades = [a for a in variants if a.headers != cred.twilio_good_signature()]
    calls = [a for a in variants if a.headers == cred.twilio_good_signature()]
    assert len(variants) >= MIN_VARIANTS
    refused = await refuse_all(service, "/ingest/twilio", upgrades)
    sids = {a.name: a.call_sid for a in calls}
    closes = await asyncio.gather(*(twilio_call(service, a, a.call_sid) for a in calls))
    by_name = dict(zip((a.name for a in calls), closes, strict=True))
    signed = cred.twilio_good_signature()
    hmac_sid, static_sid = "CA" + uuid.uuid4().hex, "CA" + uuid.uuid4().hex
    accepted = [
        await twilio_call(service, Attempt("hmac", signed, cred.call_token(hmac_sid)), hmac_sid),
        await twilio_call(service, Attempt("static", signed, cred.STATIC_CALL_TOKEN), static_sid),
    ]
    stored = {c["call_id"]: c for c in await service.all_calls_finished(timeout=30)}
    figures = {"upgrade": refusal_figures(refused), "call_tokens": {"variants": len(calls),
               "refused": sum((code, reason) == (1008, "Unauthorized") for code, reason, _ in closes),
               "min_s": round(min(s for _, _, s in closes), 3)}, "accepted": accepted}  # fmt: skip
    record(figures, "auth-twilio")
    assert_all_refused(refused)
    assert {n: (c, r) for n, (c, r, _) in by_name.items() if (c, r) != (1008, "Unauthorized")} == {}
    assert min(s for _, _, s in closes) >= AUTH_FAILURE_DELAY - 0.01
    assert not set(sids.values()) & set(stored), "a refused call token opened a call"
    assert [code for code, _, _ in accepted] == [1000, 1000]
    assert stored[hmac_sid]["status"] == stored[static_sid]["status"] == "completed"
    log = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("callwarden"))
    assert log.count("refused /ingest/twilio upgrade") == len(upgrades)
    assert "X-Twilio-Signature missing" in log and "does not sign" in log and "call token expired" in log


async def test_audiohook_refuses_bad_signatures_and_replays(
    service: LiveService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    port = service.config.port
    variants = cred.audiohook_variants(port)
    good_request = AudioHookRequest(authority=f"127.0.0.1:{port}")
    signed_once = good_request.headers()
    assert len(variants) + 1 >= MIN_VARIANTS
    refused = await refuse_all(service, "/ingest/audiohook", variants)
    first = await audiohook_session(service, good_request, signed_once)
    replayed = await upgrade(service, "/ingest/audiohook", Attempt("replay", signed_once))
    second = await audiohook_session(service, AudioHookRequest(authority=f"127.0.0.1:{port}", api_key="ah-key-two",
                                                               secret=cred.AH_KEYS["ah-key-two"]))  # fmt: skip
    refused["replayed-valid-signature"] = replayed
    stored = await service.all_calls_finished(timeout=30)
    record({"upgrade": refusal_figures(refused), "accepted": [first, second]}, "auth-audiohook")
    assert_all_refused(refused)
    assert first == second == "closed"
    assert sorted(c["status"] for c in stored) == ["completed", "completed"]
    log = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("callwarden"))
    assert "replayed signature" in log and "EXPIRED" in log and "nonce" in log and "keyid mismatch" in log


async def audiohook_session(
    service: LiveService, request: AudioHookRequest, headers: list[tuple[str, str]] | None = None
) -> str:
    """A correctly signed session: open, 0.4 s of stereo silence, close; the type of the server's last reply."""
    session = request.session_id

    def message(kind: str, seq: int, parameters: dict[str, object]) -> str:
        return json.dumps({"version": "2", "id": session, "type": kind, "seq": seq, "serverseq": seq - 1,
                           "position": "PT0S", "parameters": parameters})  # fmt: skip

    media = [{"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}]
    open_params = {"organizationId": request.organization_id, "conversationId": str(uuid.uuid4()),
                   "participant": {"id": str(uuid.uuid4())}, "media": media}  # fmt: skip
    async with connect(
        service.ws("/ingest/audiohook"), additional_headers=headers or request.headers(), compression=None
    ) as ws:
        await ws.send(message("open", 1, open_params))
        assert json.loads(await ws.recv())["type"] == "opened"
        await ws.send(b"\xff" * 6400)
        await ws.send(message("close", 2, {"reason": "end"}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 20))
    return str(reply["type"])


async def test_audiofork_refuses_bad_basic_credentials(service: LiveService, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    variants = cred.audiofork_variants()
    assert len(variants) >= MIN_VARIANTS
    refused = await refuse_all(service, "/ingest/audiofork", variants, ["audio.drachtio.org"])
    calls = {}
    for user, password in cred.FORK_USERS.items():
        call_id = f"fork-{user}-{uuid.uuid4().hex[:8]}"
        async with connect(
            service.ws("/ingest/audiofork"),
            additional_headers=[("Authorization", cred.basic(user, password))],
            subprotocols=["audio.drachtio.org"],
            compression=None,
        ) as ws:
            await ws.send(json.dumps({"callSid": call_id}))
            await ws.send(bytes(6400))
            await ws.send(b"")
            await asyncio.wait_for(ws.wait_closed(), 20)
            calls[call_id] = (ws.subprotocol, ws.close_code)
    stored = {c["call_id"]: c["status"] for c in await service.all_calls_finished(timeout=30)}
    record({"upgrade": refusal_figures(refused), "accepted": calls}, "auth-audiofork")
    assert_all_refused(refused)
    assert set(calls.values()) == {("audio.drachtio.org", 1000)}
    assert stored == dict.fromkeys(calls, "completed")
    log = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("callwarden"))
    assert "wrong password for user 'fs-one'" in log and "unknown user" in log
    assert cred.FORK_USERS["fs-one"] not in log and cred.FORK_USERS["fs-two"] not in log


async def test_raw_refuses_bad_bearer_tokens(service: LiveService, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    variants = cred.raw_variants()
    assert len(variants) >= MIN_VARIANTS
    refused = await refuse_all(service, "/ingest/raw", variants)
    codes = {}
    for name, token in cred.RAW_TOKENS.items():
        start = {"type": "start", "call_id": f"raw-{name}", "encoding": "pcm_s16le", "sample_rate": 8000,
                 "channels": [{"role": "agent"}, {"role": "customer"}]}  # fmt: skip
        async with connect(
            service.ws("/ingest/raw"), additional_headers=[("Authorization", f"bearer {token}")], compression=None
        ) as ws:
            await ws.send(json.dumps(start))
            await ws.send(bytes(6400))
            await ws.send(json.dumps({"type": "end"}))
            await asyncio.wait_for(ws.wait_closed(), 20)
            codes[name] = ws.close_code
    stored = {c["call_id"]: c["status"] for c in await service.all_calls_finished(timeout=30)}
    record({"upgrade": refusal_figures(refused), "accepted": codes}, "auth-raw")
    assert_all_refused(refused)
    assert codes == {"pbx": 1000, "legacy": 1000}
    assert stored == {"raw-pbx": "completed", "raw-legacy": "completed"}
    log = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("callwarden"))
    assert "bearer token not accepted" in log and "no single Authorization: Bearer header" in log
    assert not any(token in log for token in cred.RAW_TOKENS.values())


async def test_require_auth_refuses_endpoints_without_credentials(
    tmp_path: Path, vosk_model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No credentials configured: demo mode warns per endpoint and accepts; require_auth refuses every endpoint."""
    caplog.set_level(logging.INFO)
    from monitor.config.ingest import IngestConfig

    async with running_service(tmp_path / "open", vosk_model_path) as open_service:
        demo = {path: (await upgrade(open_service, path, Attempt("none")))[0] for path in PATHS}
    async with running_service(tmp_path / "strict", vosk_model_path, ingest=IngestConfig(require_auth=True)) as strict:
        refused = await asyncio.gather(*(upgrade(strict, path, Attempt("none")) for path in PATHS))
    warnings = [r.getMessage() for r in caplog.records if r.getMessage().startswith("SECURITY: /ingest/")]
    record({"demo": demo, "strict": [r[:2] for r in refused], "warnings": warnings}, "require-auth")
    assert demo == dict.fromkeys(PATHS, 101)
    assert all(any(path in w and "UNAUTHENTICATED" in w for w in warnings) for path in PATHS), warnings
    assert all(any(path in w and "REFUSES" in w for w in warnings) for path in PATHS), warnings
    assert [r[:2] for r in refused] == [(401, "Unauthorized\n")] * len(PATHS)


PATHS = ("/ingest/twilio", "/ingest/audiohook", "/ingest/audiofork", "/ingest/raw")
