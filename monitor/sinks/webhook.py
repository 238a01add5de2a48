"""The signed HTTP webhook sink: POSTs its outbox rows (recording control events, or one alert route's finding alerts)
with an HMAC-SHA256 signature.

Each message is one POST of the row's JSON payload (or, for an alert route, that payload in the route's template:
monitor/sinks/templates.py) to the configured URL, with headers `Callwarden-Topic: calls/<id>/control` (or
`alerts/<id>`) and `Callwarden-Signature: t=<unix seconds>,v1=<hex>` where hex is HMAC-SHA256(secret,
"<t>.<body>") — the receiver recomputes it, compares in constant time and rejects old `t` (docs/notifications.md).
A row is delivered once the receiver answered 2xx; otherwise it stays in the outbox and is retried (backoff 0.5 s
doubling to 30 s), in order, without holding up the MQTT sink's rows or another webhook's: each sink drains only
the rows under its own topic prefix. A row that fails MAX_ATTEMPTS times on a reachable receiver is
dead-lettered (monitor/sinks/outbox.py). The POST is blocking urllib work and runs in a thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request

from monitor.config.notify import AlertWebhookConfig
from monitor.metrics import Metrics
from monitor.sinks.outbox import OutboxSink, describe_error
from monitor.sinks.templates import render
from monitor.store.async_store import AsyncStore
from monitor.store.records import WEBHOOK_PREFIX, OutboxRow
from monitor.store.rows import CONTROL_WEBHOOK_PREFIX, route_prefix

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Callwarden-Signature"
TOPIC_HEADER = "Callwarden-Topic"


class WebhookError(Exception):
    """The receiver did not accept a message (an HTTP status other than 2xx, or no answer). `receiver_down`: no
    answer, 5xx or 429 — the receiver's trouble, retried without counting against the message; a 4xx says the
    message itself is refused and counts (dead-lettered after MAX_ATTEMPTS)."""

    def __init__(self, message: str, *, receiver_down: bool) -> None:
        super().__init__(message)
        self.receiver_down = receiver_down


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The Callwarden-Signature header value of `body` sent at `timestamp`."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance: float = 300.0) -> bool:
    """True when `header` signs `body` with `secret` and is at most `tolerance` seconds old (receivers use this)."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return abs(now - timestamp) <= tolerance and hmac.compare_digest(expected, parts.get("v1", ""))


def redacted_url(url: str) -> str:
    """`url` without credentials, path, query or fragment (what logs may show: a Slack or Teams incoming-webhook
    URL carries its secret in the path)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…" if parts.path not in ("", "/") else f"{parts.scheme}://{host}{port}"


class WebhookSink(OutboxSink):
    """Delivers one webhook's rows of the outbox by signed POSTs (see the module docstring): the recording control
    webhook's by default; `alert_route` builds the sink of one alert webhook route."""

    name = "webhook"
    webhook: bool | str = CONTROL_WEBHOOK_PREFIX

    def __init__(
        self,
        store: AsyncStore,
        url: str,
        secret: str,
        *,
        metrics: Metrics | None = None,
        timeout: float = 5.0,
        retry_min: float = 0.5,
        retry_max: float = 30.0,
        template: str = "",
        dashboard_url: str = "",
        prefix: str = CONTROL_WEBHOOK_PREFIX,
        name: str = "webhook",
        max_attempts: int | None = None,
    ) -> None:
        if (secret and len(secret) < 16) or (not secret and template in ("", "json")):
            raise ValueError("the webhook secret must be at least 16 characters (it keys the HMAC signature)")
        if max_attempts is None:
            super().__init__(store, metrics=metrics)
        else:
            super().__init__(store, metrics=metrics, max_attempts=max_attempts)
        self.webhook = prefix
        self.name = name
        self._url = url
        self._secret = secret
        self._timeout = timeout
        self._retry_min = retry_min
        self._retry_max = retry_max
        self._template = template
        self._dashboard_url = dashboard_url
        self._failing_since: float | None = None

    @classmethod
    def alert_route(
        cls,
        store: AsyncStore,
        route: AlertWebhookConfig,
        *,
        metrics: Metrics | None = None,
        retry_min: float = 0.5,
        retry_max: float = 30.0,
        max_attempts: int | None = None,
    ) -> WebhookSink:
        """The sink of one `alert_webhooks` route: its rows, its template, its secret (unsigned without one)."""
        return cls(
            store, route.url, route.secret, metrics=metrics, timeout=route.timeout, template=route.template,
            dashboard_url=route.dashboard_url, prefix=route_prefix(route.name), name=f"webhook:{route.name}",
            retry_min=retry_min, retry_max=retry_max, max_attempts=max_attempts,
        )  # fmt: skip

    async def _run(self) -> None:
        backoff = self._retry_min
        while True:
            try:
                await self.drain_once(self._post)
            except Exception as exc:  # the receiver is down or refused: the row stays queued, retry later
                self._on_error(exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._retry_max)
                continue
            if self._failing_since is not None:
                log.warning("%s %s accepts messages again", self.name, redacted_url(self._url))
                self._failing_since = None
            backoff = self._retry_min
            await self._wait_for_work()

    async def _post(self, row: OutboxRow) -> None:
        assert isinstance(self.webhook, str)
        strip = WEBHOOK_PREFIX if self.webhook == CONTROL_WEBHOOK_PREFIX else self.webhook
        topic = row.topic.removeprefix(strip)  # calls/<id>/control, alerts/<id>
        body = row.payload.encode()
        if self._template:
            body = render(self._template, json.loads(row.payload), self._dashboard_url)
        await asyncio.to_thread(self._post_blocking, topic, body)

    def _post_blocking(self, topic: str, body: bytes) -> None:
        request = urllib.request.Request(self._url, data=body, method="POST")
        request.add_header("Content-Type", "application/json")
        request.add_header(TOPIC_HEADER, topic)
        if self._secret:
            request.add_header(SIGNATURE_HEADER, sign(self._secret, int(time.time()), body))
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as reply:
                status = int(reply.status)
        except urllib.error.HTTPError as exc:
            down = exc.code >= 500 or exc.code == 429
            raise WebhookError(f"HTTP {exc.code} from {redacted_url(self._url)}", receiver_down=down) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise WebhookError(f"no answer from {redacted_url(self._url)}: {reason}", receiver_down=True) from None
        if not 200 <= status < 300:
            raise WebhookError(f"HTTP {status} from {redacted_url(self._url)}", receiver_down=status >= 500)

    def row_at_fault(self, exc: BaseException) -> bool:
        """A receiver that is down or overloaded (no answer, 5xx, 429) does not use up the row's attempts."""
        return not (isinstance(exc, WebhookError) and exc.receiver_down)

    def _on_error(self, exc: BaseException) -> None:
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            log.warning(
                "%s %s failed (%s); its messages stay in the outbox, retrying every ≤ %.0f s",
                self.name, redacted_url(self._url), describe_error(exc), self._retry_max,
                exc_info=None if isinstance(exc, WebhookError) else exc,
            )
        else:
            log.debug("webhook still failing: %s", describe_error(exc))
