"""Whether the service may listen where it is told: beyond loopback only with credentials, unless `demo` is set."""

from __future__ import annotations

import ipaddress

from monitor.config.settings import Config

LOOPBACK_NAMES = ("localhost", "ip6-localhost")


def is_loopback(host: str) -> bool:
    """True when `host` is a loopback address or name (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def open_surfaces(config: Config) -> list[str]:
    """What anyone who reaches the port could use without a credential: the dashboard/API (an anonymous admin who
    can erase calls) and every ingest endpoint without credentials (unless ingest.require_auth refuses them)."""
    open_: list[str] = []
    if not config.access.enabled:
        open_.append("the dashboard and API (set access.users / access.tokens, or access.require_auth)")
    if not config.ingest.require_auth:
        twilio = config.twilio
        endpoints = {
            "/ingest/twilio (twilio.auth_token + twilio.call_token_key)": bool(twilio.auth_token)
            and bool(twilio.call_token_key or twilio.call_tokens),
            "/ingest/audiohook (audiohook.api_keys)": bool(config.audiohook.api_keys),
            "/ingest/audiofork (audiofork.users)": bool(config.audiofork.users),
            "/ingest/raw (raw.tokens)": bool(config.raw.tokens),
        }
        open_ += [name for name, secured in endpoints.items() if not secured]
    return open_


def exposure_refusal(config: Config) -> str | None:
    """None when the service may start as configured, else why it refuses to listen (the start-up error)."""
    if config.demo or is_loopback(config.host):
        return None
    surfaces = open_surfaces(config)
    if not surfaces:
        return None
    return (
        f"refusing to listen on {config.host} (beyond loopback) with no credentials on: {'; '.join(surfaces)}. "
        "Configure them (docs/security.md), listen on 127.0.0.1, or set demo: true (CALLWARDEN_DEMO=1) to accept "
        "anonymous access knowingly"
    )
