"""Payload templates of alert webhooks: Callwarden's alert JSON, a Slack and a Microsoft Teams incoming-webhook message.

Chat messages leave the site for a third party's cloud, so they say what happened and where to look — severity,
rule, outcome, call id, audio time, a link to the call when the route has a `dashboard_url` — and never the
evidence or reason text (redacted as those are, they still quote the caller). The `json` template is the alert as
MQTT carries it (docs/alerts.md), for a receiver of your own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

SEVERITY_MARK = {"critical": "🔴", "high": "🟠", "medium": "🟡", "low": "🔵", "info": "⚪"}
TEAMS_COLOR = {"critical": "attention", "high": "warning", "medium": "accent", "low": "default", "info": "default"}


def render(template: str, alert: Mapping[str, Any], dashboard_url: str = "") -> bytes:
    """The POST body of an alert (the outbox payload, a finding alert message) in `template`'s shape."""
    if template == "json":
        return json.dumps(alert, ensure_ascii=False, separators=(",", ":")).encode()
    facts = _facts(alert)
    link = f"{dashboard_url}/#/calls/{alert.get('call_id', '')}" if dashboard_url else ""
    if template == "slack":
        return json.dumps(slack(facts, link), ensure_ascii=False).encode()
    if template == "teams":
        return json.dumps(teams(facts, link), ensure_ascii=False).encode()
    raise ValueError(f"unknown webhook template {template!r}")


def _facts(alert: Mapping[str, Any]) -> dict[str, str]:
    """The fields a chat message shows (ids, rule, outcome, severity, audio time): no evidence, no reason."""
    start = alert.get("start")
    return {
        "severity": str(alert.get("severity", "")),
        "rule": str(alert.get("rule_id", "")),
        "outcome": str(alert.get("outcome", "")).replace("_", " "),
        "call": str(alert.get("call_id", "")),
        "at": f"{float(start):.1f} s into the call" if isinstance(start, int | float) else "",
        "pack": f"{alert.get('pack_id', '')} {alert.get('pack_version', '')}".strip(),
    }


def _title(facts: Mapping[str, str]) -> str:
    return f"{facts['severity'].upper()} {facts['rule']}: {facts['outcome']}"


def slack(facts: Mapping[str, str], link: str = "") -> dict[str, Any]:
    """A Slack incoming-webhook message: `text` (notifications, fallbacks) and Block Kit blocks."""
    mark = SEVERITY_MARK.get(facts["severity"], "")
    title = f"{mark} *{_title(facts)}*".strip()
    fields = [
        {"type": "mrkdwn", "text": f"*Call*\n`{facts['call']}`"},
        {"type": "mrkdwn", "text": f"*When*\n{facts['at'] or '–'}"},
        {"type": "mrkdwn", "text": f"*Rule*\n{facts['rule']} ({facts['pack']})"},
        {"type": "mrkdwn", "text": f"*Severity*\n{facts['severity']}"},
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": title}},
        {"type": "section", "fields": fields},
    ]
    if link:
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open the call"}, "url": link}
        ]})  # fmt: skip
    return {"text": f"Callwarden: {_title(facts)} (call {facts['call']})", "blocks": blocks}


def teams(facts: Mapping[str, str], link: str = "") -> dict[str, Any]:
    """A Microsoft Teams incoming-webhook message: one Adaptive Card (1.4) attachment."""
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "wrap": True,
             "color": TEAMS_COLOR.get(facts["severity"], "default"), "text": f"Callwarden: {_title(facts)}"},
            {"type": "FactSet", "facts": [
                {"title": "Call", "value": facts["call"]},
                {"title": "When", "value": facts["at"] or "–"},
                {"title": "Rule", "value": f"{facts['rule']} ({facts['pack']})"},
                {"title": "Severity", "value": facts["severity"]},
            ]},
        ],
    }  # fmt: skip
    if link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the call", "url": link}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }
