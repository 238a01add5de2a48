"""Acceptance 3 of issue #20: alert webhooks with local HTTP receivers — the HMAC signature verifies, a POST answered
500 is retried from the outbox, and each severity goes only where its route says (json, Slack and Teams shapes)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from pathlib import Path

import pytest

from evaluation.feeders import stream_twilio
from monitor.config.notify import AlertWebhookConfig, NotifyConfigError, alert_webhooks, route_findings
from monitor.config.settings import ConfigError, load_config
from monitor.sinks.webhook import SIGNATURE_HEADER, TOPIC_HEADER, WebhookSink, verify
from monitor.store.async_store import AsyncStore
from monitor.store.rows import alert_payload
from rules.findings import Severity
from tests.monitor.ingest_support import card_call, running_service
from tests.monitor.service_harness import Receiver
from tests.monitor.store_helpers import make_finding

SECRET = "alert-webhook-secret-0123456789"
CHAT_SECRET = "chat-webhook-secret-9876543210"
T0 = 1_764_547_200.0
EVIDENCE = "my card number is [card ending 1111] thank you"


async def until(predicate: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


def routes(pager: Receiver, chat: Receiver, teams: Receiver) -> tuple[AlertWebhookConfig, ...]:
    return (
        AlertWebhookConfig("pager", pager.url, "json", ("critical",), SECRET),
        AlertWebhookConfig("chat", chat.url, "slack", ("high", "medium"), CHAT_SECRET,
                           dashboard_url="https://cw.example"),
        AlertWebhookConfig("teams", teams.url, "teams", ("info",)),
    )  # fmt: skip


async def test_signed_retried_and_routed_by_severity(tmp_path: Path) -> None:
    findings = [
        make_finding("c1", 0, severity=Severity.CRITICAL, evidence=EVIDENCE),
        make_finding("c1", 1, rule_id="conduct.rude", kind="forbidden_phrase", outcome="said", severity=Severity.HIGH),
        make_finding("c1", 2, rule_id="gdpr.x", kind="forbidden_phrase", outcome="said", severity=Severity.MEDIUM),
        make_finding("c1", 3, rule_id="consent.recording", kind="consent", outcome="consent_given",
                     severity=Severity.INFO),
        make_finding("c1", 4, rule_id="conduct.low", kind="forbidden_phrase", outcome="said", severity=Severity.LOW),
    ]  # fmt: skip
    with Receiver(refuse=1, refusal=500) as pager, Receiver(refuse=0) as chat, Receiver(refuse=0) as teams:
        config = routes(pager, chat, teams)
        async with await AsyncStore.open(tmp_path / "cw.sqlite3") as store:
            sinks = [WebhookSink.alert_route(store, r, retry_min=0.2, retry_max=0.5) for r in config]
            for sink in sinks:
                await sink.__aenter__()
            try:
                await store.call_started("c1", protocol="raw", started_wall=T0)
                routed = route_findings(config, [(f.finding_id, str(f.severity)) for f in findings])
                await store.add_findings(findings, wall_time=T0 + 1, routes=routed)
                await until(lambda: len(pager.posts) >= 2 and len(chat.posts) >= 2 and len(teams.posts) >= 1)
                await asyncio.sleep(0.5)  # nothing more arrives
                alert_rows = await store.pending_outbox(100)  # the MQTT sink's rows are untouched by webhooks
            finally:
                for sink in sinks:
                    await sink.__aexit__(None, None, None)
    # The pager: only the critical alert; refused with 500, retried from the outbox, accepted; signed each time.
    assert [status for _, status, _, _ in pager.posts] == [500, 204]
    bodies = [body for _, _, _, body in pager.posts]
    assert bodies[0] == bodies[1]
    alert = json.loads(bodies[1])
    assert alert == alert_payload(findings[0].to_json(), T0 + 1)
    for _, _, headers, body in pager.posts:
        assert verify(SECRET, headers[SIGNATURE_HEADER], body, time.time())
        assert not verify("another-secret-0123456789", headers[SIGNATURE_HEADER], body, time.time())
        assert not verify(SECRET, headers[SIGNATURE_HEADER], body.replace(b"critical", b"low"), time.time())
        assert headers[TOPIC_HEADER] == "alerts/c1"
    # Slack: the high and the medium alert, signed, no evidence text, a link to the call.
    slack = [json.loads(body) for _, _, _, body in chat.posts]
    assert [m["text"].split(":")[1].strip() for m in slack] == ["HIGH conduct.rude", "MEDIUM gdpr.x"]
    assert all(verify(CHAT_SECRET, h[SIGNATURE_HEADER], b, time.time()) for _, _, h, b in chat.posts)
    assert all("blocks" in m and "https://cw.example/#/calls/c1" in json.dumps(m) for m in slack)
    # Teams: the info finding as an Adaptive Card; no secret, so no signature header.
    (teams_post,) = teams.posts
    card = json.loads(teams_post[3])["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard" and "consent.recording" in json.dumps(card)
    assert SIGNATURE_HEADER not in teams_post[2]
    everything = b"".join(body for r in (pager, chat, teams) for _, _, _, body in r.posts if r is not pager)
    assert b"card ending" not in everything and b"reason" not in everything  # chat messages carry no evidence
    # The low finding went nowhere but MQTT; all five alerts still wait for the MQTT sink.
    assert not [p for r in (pager, chat, teams) for p in r.posts if b"conduct.low" in p[3]]
    assert len(alert_rows) == 5


def test_routes_are_checked_with_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(NotifyConfigError, match="json template needs a secret"):
        AlertWebhookConfig("a", "https://x.example/hook", "json", ("critical",))
    with pytest.raises(NotifyConfigError, match="severities"):
        AlertWebhookConfig("a", "https://x.example/hook", "slack", ("urgent",))
    with pytest.raises(NotifyConfigError, match="names must differ"):
        alert_webhooks([{"name": "a", "url": "https://x/", "template": "slack"}] * 2)
    path = tmp_path / "c.yaml"
    path.write_text(
        "alert_webhooks:\n"
        "  - {name: slack-critical, url: 'https://hooks.slack.example/x', template: slack, severities: [critical]}\n"
        f"  - {{name: soc, url: 'https://soc.example/in', secret: {SECRET}, severities: [high, critical]}}\n"
    )
    config = load_config(path, env={})
    assert [(r.name, r.template, r.severities) for r in config.alert_webhooks] == [
        ("slack-critical", "slack", ("critical",)), ("soc", "json", ("high", "critical"))
    ]
    path.write_text("alert_webhooks:\n  - {name: x, url: 'https://x/', template: pagerduty, secret: " + SECRET + "}\n")
    with pytest.raises(ConfigError, match="template must be one of json, slack, teams"):
        load_config(path, env={})


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_live_card_call_pages_the_critical_route_after_a_500(tmp_path: Path, vosk_model_path: Path) -> None:
    with Receiver(refuse=1, refusal=500) as pager, Receiver(refuse=0) as chat, Receiver(refuse=0) as teams:
        config = routes(pager, chat, teams)
        async with running_service(tmp_path / "data", vosk_model_path, alert_webhooks=config) as svc:
            fed = await stream_twilio(svc.ws("/ingest/twilio"), card_call().audio, speed=0)
            detail = await svc.finished_call(fed.call_id)
            critical = [f for f in detail["findings"] if f["severity"] == "critical"]
            assert critical, detail["findings"]
            await until(lambda: sum(1 for p in pager.posts if p[1] == 204) >= len(critical), 30)
            expected_chat = [f for f in detail["findings"] if f["severity"] in ("high", "medium")]
            expected_teams = [f for f in detail["findings"] if f["severity"] == "info"]
            await until(lambda: len(chat.posts) >= len(expected_chat) and len(teams.posts) >= len(expected_teams))
    assert pager.posts[0][1] == 500 and pager.posts[1][3] == pager.posts[0][3]  # retried from the outbox
    delivered = [json.loads(b) for _, status, h, b in pager.posts if status == 204]
    assert all(verify(SECRET, h[SIGNATURE_HEADER], b, time.time()) for _, _, h, b in pager.posts)
    assert sorted(d["finding_id"] for d in delivered) == sorted(f["finding_id"] for f in critical)
    assert {d["severity"] for d in delivered} == {"critical"}
    chat_rules = sorted(json.loads(b)["text"] for _, _, _, b in chat.posts)
    assert len(chat_rules) == len(expected_chat)
    assert len(teams.posts) == len(expected_teams)
    assert not [b for _, _, _, b in chat.posts + teams.posts if b"5105" in b or b"evidence" in b]


async def test_a_receiver_outage_never_dead_letters_but_a_refused_message_is_set_aside(tmp_path: Path) -> None:
    """500s (receiver down) are retried however many; a 400 (this message refused) 5 times is dead-lettered and the
    alerts behind it go out."""
    route = AlertWebhookConfig("soc", "http://127.0.0.1:9/", "json", ("critical",), SECRET)
    async with await AsyncStore.open(tmp_path / "cw.sqlite3") as store:
        await store.call_started("c1", protocol="raw", started_wall=T0)
        with Receiver(refuse=7, refusal=500) as down:
            sink = WebhookSink.alert_route(store, dataclasses.replace(route, url=down.url), retry_min=0.05,
                                           retry_max=0.1)  # fmt: skip
            async with sink:
                first = make_finding("c1", 0, severity=Severity.CRITICAL)
                await store.add_findings([first], routes={first.finding_id: ["soc"]})
                await until(lambda: any(status == 204 for _, status, _, _ in down.posts))
        assert [status for _, status, _, _ in down.posts] == [500] * 7 + [204]
        with Receiver(refuse=5, refusal=400) as picky:
            sink = WebhookSink.alert_route(store, dataclasses.replace(route, url=picky.url), retry_min=0.05,
                                           retry_max=0.1)  # fmt: skip
            async with sink:
                bad, good = (make_finding("c1", n, severity=Severity.CRITICAL) for n in (1, 2))
                await store.add_findings([bad, good], routes={bad.finding_id: ["soc"], good.finding_id: ["soc"]})
                await until(lambda: any(status == 204 for _, status, _, _ in picky.posts))
        assert [status for _, status, _, _ in picky.posts] == [400] * 5 + [204]
        assert json.loads(picky.posts[-1][3])["finding_id"] == good.finding_id
        assert await store.pending_outbox(10, webhook="webhook/route/soc/") == []
