"""The `alert_webhooks` setting: where finding alerts are POSTed besides MQTT, by severity (sinks/webhook.py)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rules.findings import Severity

TEMPLATES = ("json", "slack", "teams")
"""Payload templates: Callwarden's alert JSON (as on MQTT), a Slack or a Microsoft Teams incoming-webhook message."""
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class NotifyConfigError(ValueError):
    """An `alert_webhooks` entry that cannot be used; the message names the entry and the fix."""


@dataclass(frozen=True, slots=True)
class AlertWebhookConfig:
    """One route: alerts of the listed severities go to `url` in the `template` shape, signed with `secret`.

    Every POST carries `Callwarden-Signature` (HMAC-SHA256 of the body; docs/notifications.md) when a secret is
    set; the `json` template requires one (its receiver is yours and must verify). Slack and Teams incoming-webhook
    URLs are secrets themselves; their messages carry ids, rule, outcome, severity and time, never evidence."""

    name: str
    url: str = field(repr=False)
    template: str = "json"
    severities: tuple[str, ...] = ("high", "critical")
    secret: str = field(default="", repr=False)
    timeout: float = 5.0
    dashboard_url: str = ""
    """When set, chat messages link to the call: `<dashboard_url>/#/calls/<call id>`."""

    def __post_init__(self) -> None:
        where = f"alert_webhooks[{self.name}]"
        if not _NAME.match(self.name):
            raise NotifyConfigError(f"{where}: name must be 1-40 of a-z 0-9 _ - (it names the outbox queue)")
        if not self.url.startswith(("http://", "https://")):
            raise NotifyConfigError(f"{where}: url must be an http:// or https:// URL")
        if self.template not in TEMPLATES:
            raise NotifyConfigError(f"{where}: template must be one of {', '.join(TEMPLATES)}, not {self.template!r}")
        known = {str(s) for s in Severity}
        if not self.severities or not set(self.severities) <= known:
            raise NotifyConfigError(
                f"{where}: severities must be a non-empty list of {', '.join(s.value for s in Severity)}, "
                f"not {list(self.severities)!r}"
            )
        if self.template == "json" and len(self.secret) < 16:
            raise NotifyConfigError(f"{where}: the json template needs a secret of at least 16 characters (HMAC key)")
        if self.secret and len(self.secret) < 16:
            raise NotifyConfigError(f"{where}: secret must be at least 16 characters")
        if not 0 < self.timeout <= 60:
            raise NotifyConfigError(f"{where}: timeout must be 0..60 seconds, not {self.timeout}")

    def routes(self, severity: str) -> bool:
        """True when alerts of `severity` go to this webhook."""
        return severity in self.severities


def route_findings(
    routes: Sequence[AlertWebhookConfig], findings: Sequence[tuple[str, str]]
) -> dict[str, list[str]]:
    """(finding id, severity) pairs → finding id → the names of the routes its severity goes to."""
    return {finding_id: [r.name for r in routes if r.routes(severity)] for finding_id, severity in findings}


def alert_webhooks(value: Any) -> tuple[AlertWebhookConfig, ...]:
    """The routes of a YAML list of mappings (name, url, template, severities, secret, timeout, dashboard_url)."""
    if not isinstance(value, list):
        raise NotifyConfigError("alert_webhooks must be a list of {name, url, template, severities, secret}")
    routes = tuple(_route(item, i) for i, item in enumerate(value))
    names = [r.name for r in routes]
    if len(set(names)) != len(names):
        raise NotifyConfigError(f"alert_webhooks: names must differ, got {names}")
    return routes


def _route(item: Any, index: int) -> AlertWebhookConfig:
    if not isinstance(item, Mapping):
        raise NotifyConfigError(f"alert_webhooks[{index}] must be a mapping with name and url")
    known = {"name", "url", "template", "severities", "secret", "timeout", "dashboard_url"}
    unknown = set(map(str, item)) - known
    if unknown or "name" not in item or "url" not in item:
        raise NotifyConfigError(
            f"alert_webhooks[{index}]: needs name and url; known keys {', '.join(sorted(known))}"
            + (f"; unknown {', '.join(sorted(unknown))}" if unknown else "")
        )
    severities = item.get("severities", ["high", "critical"])
    if isinstance(severities, str):
        severities = [s.strip() for s in severities.split(",")]
    if not isinstance(severities, list):
        raise NotifyConfigError(f"alert_webhooks[{index}]: severities must be a list, e.g. [high, critical]")
    try:
        timeout = float(item.get("timeout", 5.0))
    except (TypeError, ValueError):
        raise NotifyConfigError(f"alert_webhooks[{index}]: timeout must be a number of seconds") from None
    return AlertWebhookConfig(
        name=str(item["name"]),
        url=str(item["url"]),
        template=str(item.get("template", "json")),
        severities=tuple(str(s) for s in severities),
        secret=str(item.get("secret", "")),
        timeout=timeout,
        dashboard_url=str(item.get("dashboard_url", "")).rstrip("/"),
    )
