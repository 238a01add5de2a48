"""Dashboard/API access: scrypt password hashes, Basic/Bearer principals and roles, the /live Origin and credential
checks, admin-only audit log, against the real service."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from monitor.access.users import OPEN_ACCESS, AccessControl, Principal, hash_password, verify_password
from monitor.config.trust import AccessConfig, TrustConfigError
from tests.monitor.ingest_support import running_service

TOKEN = "machine-token-0123456789abcdef"
USERS = {"sam": "supervisor:" + hash_password("sam-secret-1"), "ada": "admin:" + hash_password("ada-secret-1")}
TOKENS = {"bot": "supervisor:sha256$" + hashlib.sha256(TOKEN.encode()).hexdigest()}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_password_hash_round_trip() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$") and verify_password("correct horse", stored)
    assert not verify_password("wrong horse", stored)
    assert hash_password("correct horse") != stored  # salted
    assert not verify_password("x", "garbage") and not verify_password("x", "scrypt$1$2$3$!!$!!")


async def test_principals_from_headers_and_origin_check() -> None:
    control = AccessControl(AccessConfig(users=USERS, tokens=TOKENS), "0.0.0.0")
    assert await control.authenticate(Headers(basic("sam", "sam-secret-1"))) == Principal("sam", "supervisor")
    assert await control.authenticate(Headers(basic("ada", "ada-secret-1"))) == Principal("ada", "admin")
    assert await control.authenticate(Headers(basic("ada", "sam-secret-1"))) is None
    assert await control.authenticate(Headers({"Authorization": f"Bearer {TOKEN}"})) == Principal("bot", "supervisor")
    assert await control.authenticate(Headers({"Authorization": "Bearer nope"})) is None
    assert await control.authenticate(Headers()) is None
    twice = Headers([("Authorization", basic("sam", "sam-secret-1")["Authorization"])] * 2)
    assert await control.authenticate(twice) is None  # a duplicated header is refused, never a 500
    assert await control.authenticate(Headers(basic("nobody", "sam-secret-1"))) is None
    assert await AccessControl(AccessConfig(), "127.0.0.1").authenticate(Headers()) == OPEN_ACCESS
    assert await AccessControl(AccessConfig(require_auth=True), "127.0.0.1").authenticate(Headers()) is None
    assert control.origin_allowed(Headers({"Host": "cw.local:8080", "Origin": "https://cw.local:8080"}))
    assert not control.origin_allowed(Headers({"Host": "cw.local:8080", "Origin": "https://evil.example"}))
    assert control.origin_allowed(Headers({"Host": "cw.local:8080"}))  # not a browser
    with pytest.raises(TrustConfigError, match="ROLE:HASH"):
        AccessConfig(users={"x": "root:scrypt$…"})


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_service_requires_credentials_roles_and_same_origin_live(tmp_path: Path, vosk_model_path: Path) -> None:
    access = AccessConfig(users=USERS, tokens=TOKENS, require_auth=True)
    async with running_service(tmp_path / "data", vosk_model_path, access=access) as svc:
        base = svc.http

        async def fetch(path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
            return await asyncio.to_thread(get, base + path, headers)

        status, headers, _ = await fetch("/")
        assert status == 401 and headers["WWW-Authenticate"].startswith("Basic realm=")
        assert (await fetch("/api/calls"))[0] == 401
        assert (await fetch("/healthz"))[0] == 200 and (await fetch("/metrics"))[0] == 200
        assert (await fetch("/", basic("sam", "sam-secret-1")))[0] == 200
        assert (await fetch("/api/calls", basic("sam", "wrong-password")))[0] == 401
        assert json.loads((await fetch("/api/calls", {"Authorization": f"Bearer {TOKEN}"}))[2]) == {"calls": []}
        assert (await fetch("/api/audit", basic("sam", "sam-secret-1")))[0] == 403
        assert (await fetch("/api/calls/x/export", basic("sam", "sam-secret-1")))[0] == 403
        status, _, body = await fetch("/api/audit", basic("ada", "ada-secret-1"))
        assert status == 200 and json.loads(body) == {"entries": []}

        host_origin = Origin(f"http://127.0.0.1:{svc.config.port}")
        for origin, creds in ((Origin("http://evil.example"), basic("ada", "ada-secret-1")), (host_origin, {})):
            async with connect(svc.ws("/live"), origin=origin, additional_headers=creds) as ws:
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 5)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        async with connect(svc.ws("/live"), origin=host_origin, additional_headers=basic("sam", "sam-secret-1")) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "snapshot"
            await ws.send(json.dumps({"type": "erase", "call_id": "CA1"}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["error"] == "erasure needs the admin role"
        async with connect(svc.ws("/live"), origin=host_origin, additional_headers=basic("ada", "ada-secret-1")) as ws:
            await asyncio.wait_for(ws.recv(), 5)
            await ws.send(json.dumps({"type": "erase", "call_id": "CA1"}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert reply["type"] == "error" and "not stored" in reply["error"]
            await ws.send(json.dumps({"type": "ack", "finding_id": "f-unknown", "by": "spoofed"}))
            assert "not stored" in json.loads(await asyncio.wait_for(ws.recv(), 5))["error"]


def test_access_config_is_loaded_from_yaml_and_env(tmp_path: Path) -> None:
    from monitor.config.settings import load_config

    path = tmp_path / "cw.yaml"
    path.write_text(
        "access:\n  users:\n    sam: '" + USERS["sam"] + "'\nretention:\n  transcripts_days: 7\n"
        "encryption:\n  key_file: /run/secrets/cw.key\n"
    )
    config = load_config(path, env={"CALLWARDEN_REQUIRE_AUTH": "true", "CALLWARDEN_DATA_KEY": "abc"})
    assert config.access.require_auth and config.access.users["sam"] == USERS["sam"]
    assert config.retention.transcripts_days == 7 and config.encryption.key_file == "/run/secrets/cw.key"
    assert config.encryption.key == "abc" and "abc" not in repr(config)
    assert dataclasses.replace(config.access, users={}).enabled  # require_auth alone enables checks


async def test_a_flood_of_slow_checks_is_bounded_and_known_secrets_still_pass() -> None:
    from monitor.access.hashing import MAX_QUEUED_CHECKS, SecretChecker, hash_secret, parse_hash

    checker = SecretChecker()
    stored = parse_hash(hash_secret("right"))
    assert await checker.matches("right", stored)  # verified once: remembered
    flood = [checker.matches(f"wrong-{n}", stored) for n in range(MAX_QUEUED_CHECKS * 3)]
    known = checker.matches("right", stored)
    results = await asyncio.gather(*flood, known)
    assert not any(results[:-1]) and results[-1] is True
    assert checker.shed == MAX_QUEUED_CHECKS * 2  # beyond the queue bound: refused without hashing


async def test_ingest_and_dashboard_checks_share_one_hashing_budget() -> None:
    """A flood on the dashboard and one on an ingest endpoint together queue at most MAX_QUEUED_CHECKS slow hashes
    on HASH_THREADS threads (not each their own: four scrypt threads took both cores from the event loop)."""
    from monitor.access.hashing import HASH_THREADS, MAX_QUEUED_CHECKS, SecretChecker, hash_secret, parse_hash

    dashboard, ingest = SecretChecker(), SecretChecker()
    stored = parse_hash(hash_secret("right"))
    flood = [checker.matches(f"wrong-{n}", stored) for n in range(MAX_QUEUED_CHECKS) for checker in (dashboard, ingest)]
    assert not any(await asyncio.gather(*flood))
    assert dashboard.shed + ingest.shed == MAX_QUEUED_CHECKS  # 2 x 16 asked, 16 hashed in all
    assert HASH_THREADS == 2


def test_opt_in_packs_are_named_in_yaml_or_the_environment(tmp_path: Path) -> None:
    from monitor.config.settings import ConfigError, load_config

    path = tmp_path / "cw.yaml"
    path.write_text("packs: [tcpa, hipaa]\n")
    assert load_config(path, env={}).packs == ("tcpa", "hipaa")
    assert load_config(path, env={"CALLWARDEN_PACKS": "fdcpa, us-two-party-consent"}).packs == (
        "fdcpa", "us-two-party-consent",
    )
    assert load_config(None, env={}).packs == ()
    from monitor.service import Service

    service = Service(load_config(path, env={"CALLWARDEN_DATA_DIR": str(tmp_path)}))
    assert {"tcpa", "hipaa", "pci"} <= {p.id for p in service.ruleset.packs} and "fdcpa" not in {
        p.id for p in service.ruleset.packs
    }
    path.write_text("packs: {tcpa: true}\n")
    with pytest.raises(ConfigError, match=r"packs: bad value .*expected a list of names"):
        load_config(path, env={})


def test_webhook_and_recording_control_settings(tmp_path: Path) -> None:
    from monitor.config.settings import ConfigError, load_config

    path = tmp_path / "cw.yaml"
    path.write_text("recording_control: true\nrecording_resume_seconds: 8\nwebhook:\n  url: https://rec.example/hook\n")
    config = load_config(path, env={"CALLWARDEN_WEBHOOK_SECRET": "s" * 32})
    assert config.recording_control and config.recording_resume_seconds == 8.0
    assert config.webhook.url == "https://rec.example/hook" and "s" * 32 not in repr(config)
    with pytest.raises(ConfigError, match=r"webhook.secret must be at least 16 characters"):
        load_config(path, env={})
    path.write_text("webhook:\n  url: ftp://rec.example/hook\n  secret: " + "s" * 20 + "\n")
    with pytest.raises(ConfigError, match=r"webhook.url must be an http:// or https:// URL"):
        load_config(path, env={})
    path.write_text("recording_resume_seconds: 0\n")
    with pytest.raises(ConfigError, match=r"recording_resume_seconds must be 1..600"):
        load_config(path, env={})


def test_queue_packs_add_opt_in_packs_to_the_calls_of_a_queue(tmp_path: Path) -> None:
    from monitor.config.settings import ConfigError, load_config
    from monitor.service import Service
    from rules.packs import PackError

    path = tmp_path / "cw.yaml"
    path.write_text("packs: [tcpa]\nqueue_packs:\n  ca-sales: [us-two-party-consent]\n  collections: [fdcpa]\n")
    config = load_config(path, env={"CALLWARDEN_DATA_DIR": str(tmp_path)})
    assert config.queue_packs == {"ca-sales": ("us-two-party-consent",), "collections": ("fdcpa",)}
    service = Service(config)

    def packs(metadata: dict[str, str]) -> set[str]:
        return {p.id for p in service.ruleset_for(metadata).packs}

    assert {"tcpa", "us-two-party-consent", "pci"} <= packs({"queue": "ca-sales"})
    assert "fdcpa" not in packs({"queue": "ca-sales"}) and "fdcpa" in packs({"queue": "collections"})
    assert "us-two-party-consent" not in packs({"queue": "support"}) | packs({})
    path.write_text("queue_packs:\n  ca-sales: [us-two-party]\n")
    with pytest.raises(PackError, match="no opt-in pack 'us-two-party'"):
        Service(load_config(path, env={}))
    path.write_text("queue_packs: [tcpa]\n")
    with pytest.raises(ConfigError, match="queue_packs must be a mapping"):
        load_config(path, env={})
