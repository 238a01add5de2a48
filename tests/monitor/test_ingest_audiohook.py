"""Acceptance: the live service's AudioHook endpoint driven by Genesys' own reference client and conformance suite.

Needs the reference checkout prepared by scripts/audiohook-reference.sh (tests/audiohook_reference.py says where).
Without it these tests skip loudly on a developer's machine; CI (.ci/run) prepares it and makes them fail instead.
The suite runs in both profiles: monitor only, and transcription connector (an API key configured to get the
call's redacted transcript back as `event` messages).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import time
import uuid
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from evaluation.feeders import stream_twilio
from evaluation.synth import write_wav
from monitor.config.settings import AudioHookConfig
from monitor.web.ingest import AUTH_FAILURE_DELAY
from streams.codecs import Encoding, encode
from tests.audiohook_reference import CLIENT_ENTRY, SHIM, SUITE, SUITE_RESULTS, reference_checkout, suite_lock
from tests.conftest import MosquittoBroker
from tests.monitor.auth_clients import AH_KEYS, AudioHookRequest
from tests.monitor.ingest_support import (
    TEST_PAN,
    LiveService,
    card_call,
    findings_by_rule,
    record,
    running_service,
)
from tests.monitor.service_harness import subscriber

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

API_KEY = "callwarden-acceptance-key"  # monitor only
CONNECTOR_KEY = "callwarden-connector-key"  # transcription connector: final transcripts back as `event` messages
SECRET_B64 = base64.b64encode(b"callwarden acceptance secret 32b").decode()
ANSI = re.compile(r"\x1b\[[0-9;]*m")
DEMO_CALL = Path(__file__).resolve().parents[2] / "demo" / "demo-call.wav"
DEMO_CARD = "4111111111111111"  # Visa's test number, read in the demo call by a real voice (FSDD)
AUDIOHOOK = AudioHookConfig(
    api_keys={API_KEY: SECRET_B64, CONNECTOR_KEY: SECRET_B64}, transcription_connector={CONNECTOR_KEY: "final"}
)


@pytest.fixture(scope="module")
def reference() -> Path:
    """The prepared reference checkout (a loud skip without it; a failure in CI)."""
    return reference_checkout()


@pytest.fixture
async def service(tmp_path: Path, vosk_model_path: Path) -> AsyncIterator[LiveService]:
    async with running_service(tmp_path / "data", vosk_model_path, audiohook=AUDIOHOOK) as running:
        yield running


async def run_client(
    reference: Path, uri: str, *args: str, secret: str = SECRET_B64, api_key: str = API_KEY
) -> tuple[str, float]:
    """Run the reference client to completion: its log (colours stripped) and how long it ran (seconds)."""
    env = {**os.environ, "NODE_OPTIONS": f"--require {SHIM}", "NO_COLOR": "1", "FORCE_COLOR": "0"}
    began = time.monotonic()
    proc = await asyncio.create_subprocess_exec(
        "node", str(CLIENT_ENTRY), "--uri", uri, "--api-key", api_key, "--client-secret", secret, *args,
        cwd=reference / "client", env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), timeout=120)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return ANSI.sub("", output.decode(errors="replace")), time.monotonic() - began


async def test_reference_client_streams_a_card_call_end_to_end(
    reference: Path, service: LiveService, tmp_path: Path, espeak: str, shared_data: Path
) -> None:
    call = card_call(8000, agent_channel=1)  # left = external = customer, right = internal = agent
    wav = tmp_path / "call.wav"
    write_wav(wav, call.audio, call.rate)
    log, client_seconds = await run_client(reference, service.ws("/ingest/audiohook"), "--wavfile", str(wav))
    assert "ERROR" not in log and "WARN" not in log, log[-3000:]
    assert "Session open!" in log and "onClosedMessage - Session closed" in log, log[-3000:]
    pongs = len(re.findall(r"onPongMessage - rtt", log))
    assert pongs >= 1 + int(call.duration // 5), log[-3000:]  # 1 s after opened, right after, then every 5 s
    (listed,) = await service.calls()
    began = time.monotonic()
    detail = await service.finished_call(listed["call_id"])
    scored_after = time.monotonic() - began
    summary, rules = detail["call"], findings_by_rule(detail)
    figures = {
        "audio_s": round(call.duration, 1),
        "client_s": round(client_seconds, 1),
        "scored_after_client_exit_s": round(scored_after, 2),
        "pongs": pongs,
        "findings": rules,
        "score": summary["score"],
        "transcript": [(t["speaker"], t["text"]) for t in detail["transcript"]],
    }
    record(figures, "audiohook-reference")
    assert re.fullmatch(r"[0-9a-f-]{36}", summary["call_id"])  # the client's conversationId
    session_id = re.search(r'"Audiohook-Session-Id": "([0-9a-f-]{36})"', log)
    assert session_id is not None and summary["metadata"]["session_id"] == session_id.group(1)
    assert summary["protocol"] == "audiohook" and summary["status"] == "completed"
    assert summary["end_reason"] == "end"  # the client's `close {reason: end}`
    assert summary["audio_seconds"] == pytest.approx(call.duration, abs=0.25)
    assert "pan_detected" in rules["pci.pan-spoken"] and "said" in rules["disclosure.recording"]
    assert summary["passed"] is False and summary["max_severity"] == "critical"
    speakers = {t["channel"]: t["speaker"] for t in detail["transcript"]}
    assert speakers == {0: "customer", 1: "agent"}  # external, internal
    assert TEST_PAN not in repr(detail)
    assert await service.metric("callwarden_active_calls") == 0


async def test_reference_connection_probe_is_answered_and_not_a_call(
    reference: Path, service: LiveService, caplog: pytest.LogCaptureFixture
) -> None:
    before = await service.metric("callwarden_active_calls")
    caplog.set_level(logging.DEBUG, logger="callwarden.ingest")
    args = ("--connection-probe", "--session-log-level", "debug")
    log, seconds = await run_client(reference, service.ws("/ingest/audiohook"), *args)
    record({"probe_client_s": round(seconds, 2)}, "audiohook-probe")
    assert "ERROR" not in log and "WARN" not in log, log[-3000:]
    assert '"conversationId": "00000000-0000-0000-0000-000000000000"' in log  # it really was the probe
    assert '"type": "opened"' in log and "onClosedMessage - Session closed" in log, log[-3000:]
    assert any("connection probe" in r.getMessage() for r in caplog.records)
    assert await service.calls() == []
    assert await service.metric("callwarden_active_calls") == before == 0


async def test_reference_client_with_a_wrong_secret_is_refused(
    reference: Path, service: LiveService, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = base64.b64encode(b"not the configured client secret").decode()
    log, seconds = await run_client(reference, service.ws("/ingest/audiohook"), "--connection-probe", secret=wrong)
    record({"refused_client_s": round(seconds, 2)}, "audiohook-wrong-secret")
    assert "401" in log, log[-3000:]
    assert any("refused /ingest/audiohook upgrade" in r.getMessage() for r in caplog.records)
    assert await service.calls() == []


@pytest.mark.parametrize(
    ("profile", "api_key", "connector", "expected"),
    [
        # with transcriptionConnector=false the suite itself skips its 8 transcription-connector checks
        ("monitor", API_KEY, False, r"Tests:\s+8 skipped, 12 passed, 20 total"),
        ("connector", CONNECTOR_KEY, True, r"Tests:\s+20 passed, 20 total"),
    ],
)
async def test_reference_conformance_suite_passes_against_the_service(
    reference: Path, service: LiveService, profile: str, api_key: str, connector: bool, expected: str
) -> None:
    with suite_lock(reference):
        (reference / "testconfig.cfg").write_text(
            f"[EndPoint]\nurl={service.ws('/ingest/audiohook')}\n"
            f"[Authentication]\napiKey={api_key}\nclientSecret={SECRET_B64}\n"
            "[OpenParameters]\ncustomConfig={}\nlanguage=en-US\n"
            f"[Features]\nsingleChannel=true\ndoubleChannel=true\ntranscriptionConnector={str(connector).lower()}\n"
        )
        began = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            "npx", "--no-install", "jest", "--verbose", "--forceExit", "--ci", SUITE, cwd=reference,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"},
        )  # fmt: skip
        try:
            output, _ = await asyncio.wait_for(proc.communicate(), timeout=400)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise
    text = ANSI.sub("", output.decode(errors="replace"))
    summary = re.search(r"^Tests:\s+(.*)$", text, re.MULTILINE)
    assert summary is not None, text[-3000:]
    SUITE_RESULTS.append(f"{profile} profile: {summary.group(0)}")  # the suite's own line, in the run's summary
    seconds = round(time.monotonic() - began, 1)
    record({"suite": summary.group(1), "suite_s": seconds}, f"audiohook-conformance-{profile}")
    assert "failed" not in summary.group(1), text[-8000:]
    assert re.search(expected, summary.group(0)), text[-6000:]
    assert await service.get("/healthz") == (200, "ok\n")
    calls = await service.all_calls_finished(timeout=60)
    drained = time.monotonic() - began
    record({"suite_calls": len(calls), "all_scored_after_s": round(drained, 1)}, "audiohook-conformance")
    assert calls and all(c["protocol"] == "audiohook" and c["status"] == "completed" for c in calls)
    assert {c["end_reason"] for c in calls} == {"end"}


async def test_unsigned_upgrade_is_refused_after_the_delay_without_the_reference(service: LiveService) -> None:
    headers = {
        "X-API-KEY": API_KEY,
        "Audiohook-Organization-Id": "d7934305-0972-4844-938e-9060eef73d05",
        "Audiohook-Session-Id": "e160e428-53e2-487c-977d-96989bf5c99d",
        "Audiohook-Correlation-Id": "30b0e395-84d3-4570-ac13-9a62d8f514c0",
    }
    began = time.monotonic()
    with pytest.raises(InvalidStatus) as refused:
        async with connect(service.ws("/ingest/audiohook"), additional_headers=headers):
            pass
    waited = time.monotonic() - began
    record({"refusal_s": round(waited, 3)}, "audiohook-unsigned")
    assert refused.value.response.status_code == 401
    assert waited >= AUTH_FAILURE_DELAY == 0.5
    assert await service.calls() == []


def client_events(log: str) -> list[dict[str, Any]]:
    """The `event` messages' parameters the reference client logged (its `event` listener logs each one)."""
    decoder = json.JSONDecoder()
    marker = "Event message: "
    events = []
    at = log.find(marker)
    while at >= 0:
        parameters, end = decoder.raw_decode(log, at + len(marker))
        events.append(parameters)
        at = log.find(marker, end)
    return events


def swapped_demo_call(path: Path) -> tuple[Path, np.ndarray]:
    """The bundled demo call (agent left) as the AudioHook client expects it: left = customer, right = agent."""
    with wave.open(str(DEMO_CALL)) as source:
        assert (source.getnchannels(), source.getsampwidth(), source.getframerate()) == (2, 2, 8000)
        audio = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2").reshape(-1, 2)
    write_wav(path, audio[:, ::-1], 8000)
    return path, audio


async def test_demo_call_through_the_reference_client_matches_twilio_and_gets_its_transcript_back(
    reference: Path, tmp_path: Path, vosk_model_path: Path, mosquitto: MosquittoBroker, shared_data: Path
) -> None:
    """Real speech (the demo call, PCMU) through Genesys' client into a signed transcription-connector session:
    the findings equal those of the same audio over Twilio; per-leg speakers, MQTT alerts and the stored report
    hold; the transcript events the client got are the stored redacted transcript, phrase by phrase."""
    wav, audio = swapped_demo_call(tmp_path / "demo-audiohook.wav")
    prefix = f"cwtest-{uuid.uuid4().hex[:8]}"
    async with (
        running_service(
            tmp_path / "data", vosk_model_path, audiohook=AUDIOHOOK, mqtt_url=mosquitto.url, mqtt_topic_prefix=prefix
        ) as service,
        subscriber(mosquitto.host, mosquitto.port, f"{prefix}/#", client_id=f"sub-{prefix}") as got,
    ):
        log, client_seconds = await run_client(
            reference, service.ws("/ingest/audiohook"), "--wavfile", str(wav), api_key=CONNECTOR_KEY
        )
        (listed,) = await service.calls()
        audiohook = await service.finished_call(listed["call_id"])
        feed = await stream_twilio(service.ws("/ingest/twilio"), audio, agent_channel=0, speed=0)
        twilio = await service.finished_call(feed.call_id)
        scores = {f"{prefix}/calls/{audiohook['call']['call_id']}/score", f"{prefix}/calls/{feed.call_id}/score"}
        await got.wait_until(lambda: scores <= {topic for topic, _, _ in got.messages}, 30)

    assert "ERROR" not in log and "WARN" not in log, log[-3000:]
    assert "onClosedMessage - Session closed" in log, log[-3000:]
    summary, rules = audiohook["call"], findings_by_rule(audiohook)
    events = client_events(log)
    finals = [e["entities"][0]["data"] for e in events if e["entities"][0]["data"]["isFinal"]]
    assert len(finals) == len(events) >= 8  # the connector key asks for finals only
    record(
        {
            "audio_s": round(len(audio) / 8000, 1), "client_s": round(client_seconds, 1), "findings": rules,
            "twilio_findings": findings_by_rule(twilio), "events": len(events), "score": summary["score"],
        },
        "audiohook-demo-call",
    )  # fmt: skip
    # the same findings as the same audio over Twilio
    assert rules == findings_by_rule(twilio)
    assert "pan_detected" in rules["pci.pan-spoken"] and "said" in rules["disclosure.recording"], rules
    # per-leg speakers: external (left) is the customer, internal (right) the agent
    speakers = {t["channel"]: t["speaker"] for t in audiohook["transcript"]}
    assert speakers == {0: "customer", 1: "agent"}
    assert summary["protocol"] == "audiohook" and summary["status"] == "completed" and summary["end_reason"] == "end"
    # MQTT: every stored finding was published on the call's alert topic, and the score
    alerts = {p["finding_id"] for p, _ in got.findings(summary["call_id"])}
    assert alerts == {f["finding_id"] for f in audiohook["findings"]}
    alert_topics = {t for t, _, _ in got.messages if t.startswith(f"{prefix}/alerts/")}
    assert alert_topics == {f"{prefix}/alerts/{summary['call_id']}", f"{prefix}/alerts/{feed.call_id}"}
    score = next(p for t, p, _ in got.messages if t == f"{prefix}/calls/{summary['call_id']}/score")
    assert score["score"] == summary["score"] == audiohook["report"]["score"]
    assert audiohook["report"]["passed"] is False and summary["max_severity"] == "critical"
    # the transcript events are the stored redacted transcript: per channel, the same words in the same order
    for channel in (0, 1):
        texts = [f["alternatives"][0]["interpretations"][0]["transcript"] for f in finals if f["channelId"] == channel]
        sent = " ".join(texts)
        stored = " ".join(t["text"] for t in audiohook["transcript"] if t["channel"] == channel and t["text"])
        assert sent == stored, (channel, sent, stored)
    for final in finals:
        (interpretation,) = final["alternatives"][0]["interpretations"]
        assert " ".join(token["value"] for token in interpretation["tokens"]) == interpretation["transcript"]
        assert all(entity["type"] == "transcript" for event in events for entity in event["entities"])
    spoken_card = " ".join(["one"] * 4)
    assert DEMO_CARD not in log and spoken_card not in log and DEMO_CARD not in repr(audiohook)


async def test_partial_transcripts_lead_to_their_final_and_every_event_precedes_closed(
    tmp_path: Path, vosk_model_path: Path, espeak: str, shared_data: Path
) -> None:
    """A key in "partial" mode (a signed session from a plain WebSocket client, audio sent as fast as accepted):
    partials share their utterance's id with its final, server seqs run without a gap up to `closed`, which
    comes after the last transcript, and no partial or final holds the card number."""
    call = card_call(8000, agent_channel=1)  # left = external = customer
    secrets = {key: base64.b64encode(secret).decode() for key, secret in AH_KEYS.items()}
    config = AudioHookConfig(api_keys=secrets, transcription_connector={"ah-key-one": "partial"})
    frames = [encode(call.audio[i : i + 1600], Encoding.MULAW) for i in range(0, len(call.audio), 1600)]
    async with running_service(tmp_path / "data", vosk_model_path, audiohook=config) as service:
        request = AudioHookRequest(authority=f"127.0.0.1:{service.config.port}")
        session = request.session_id

        def message(kind: str, seq: int, serverseq: int, parameters: dict[str, Any]) -> str:
            return json.dumps({"version": "2", "id": session, "type": kind, "seq": seq, "serverseq": serverseq,
                               "position": "PT0S", "parameters": parameters})  # fmt: skip

        media = [{"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}]
        received: list[dict[str, Any]] = []
        async with connect(service.ws("/ingest/audiohook"), additional_headers=request.headers()) as ws:
            await ws.send(message("open", 1, 0, {
                "organizationId": request.organization_id, "conversationId": str(uuid.uuid4()),
                "participant": {"id": str(uuid.uuid4())}, "media": media, "language": "en-US"}))  # fmt: skip
            received.append(json.loads(await ws.recv()))

            async def listen() -> None:
                async for raw in ws:
                    received.append(json.loads(raw))
                    if received[-1]["type"] == "closed":
                        return

            listener = asyncio.create_task(listen())
            for frame in frames:
                await ws.send(frame)
            await ws.send(message("close", 2, received[-1]["seq"], {"reason": "end"}))
            await asyncio.wait_for(listener, 60)
        (listed,) = await service.calls()
        detail = await service.finished_call(listed["call_id"])

    types = [m["type"] for m in received]
    assert types[0] == "opened" and types[-1] == "closed" and set(types[1:-1]) == {"event"}, types
    assert [m["seq"] for m in received] == list(range(1, len(received) + 1))
    data = [m["parameters"]["entities"][0]["data"] for m in received[1:-1]]
    assert all(len(m["parameters"]["entities"]) == 1 for m in received[1:-1])
    partials, finals = [d for d in data if not d["isFinal"]], [d for d in data if d["isFinal"]]
    record({"partials": len(partials), "finals": len(finals)}, "audiohook-partials")
    assert partials and finals
    final_ids = {d["id"] for d in finals}
    assert sum(d["id"] in final_ids for d in partials) >= len(partials) // 2  # a partial's id is its final's
    for channel in (0, 1):
        texts = [d["alternatives"][0]["interpretations"][0]["transcript"] for d in finals if d["channelId"] == channel]
        stored = [t["text"] for t in detail["transcript"] if t["channel"] == channel and t["text"]]
        assert " ".join(texts) == " ".join(stored)
    spoken = " ".join({"0": "zero", "1": "one", "5": "five"}[d] for d in TEST_PAN[:6])
    assert TEST_PAN not in json.dumps(received) and spoken not in json.dumps(received)
