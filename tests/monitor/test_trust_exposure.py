"""Issue #14 acceptance 4 and the second list: `callwarden serve` refuses to listen beyond loopback while anything is
open without credentials (unless demo is set), and never logs the MQTT password."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.access.exposure import exposure_refusal, is_loopback
from monitor.access.users import hash_password
from monitor.config.ingest import IngestConfig
from monitor.config.settings import Config
from monitor.config.trust import AccessConfig
from tests.conftest import MosquittoBroker, free_port
from tests.monitor.ingest_support import running_service
from tests.monitor.service_harness import REPO


def _serve(tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CALLWARDEN_")}
    environ.update(env)
    return subprocess.Popen(
        [sys.executable, "-m", "monitor.cli.main", "serve", "--data-dir", str(tmp_path / "data"), *args],
        cwd=REPO, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def test_serve_refuses_all_interfaces_without_credentials(tmp_path: Path) -> None:
    proc = _serve(tmp_path, "--host", "0.0.0.0", "--port", str(free_port()))
    try:
        output, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        pytest.fail(f"serve started on 0.0.0.0 with anonymous access: {output[-1500:]}")
    assert proc.returncode == 2, output
    assert "refusing to listen on 0.0.0.0" in output and "demo" in output, output


@pytest.mark.slow
def test_serve_on_all_interfaces_starts_with_the_demo_flag(tmp_path: Path, vosk_model_path: Path) -> None:
    port = free_port()
    proc = _serve(tmp_path, "--host", "0.0.0.0", "--port", str(port), CALLWARDEN_DEMO="1",
                  CALLWARDEN_MODEL=str(vosk_model_path))  # fmt: skip
    try:
        output, _ = proc.communicate(timeout=20)
        pytest.fail(f"serve exited ({proc.returncode}): {output[-1500:]}")
    except subprocess.TimeoutExpired:
        pass
    finally:
        proc.terminate()
        output, _ = proc.communicate(timeout=60)
    assert f"listening on http://0.0.0.0:{port}" in output, output[-2000:]


def test_exposure_rules() -> None:
    users = AccessConfig(users={"ada": "admin:" + hash_password("x")})
    assert all(map(is_loopback, ("127.0.0.1", "127.0.0.2", "::1", "localhost", "[::1]")))
    assert not any(map(is_loopback, ("0.0.0.0", "::", "10.0.0.5", "callwarden.example")))
    assert exposure_refusal(Config()) is None  # loopback: the embedded defaults stay a one-command demo
    assert "dashboard" in (exposure_refusal(Config(host="0.0.0.0")) or "")
    only_ingest_locked = Config(host="0.0.0.0", ingest=IngestConfig(require_auth=True))
    assert "dashboard" in (exposure_refusal(only_ingest_locked) or "")
    only_users = Config(host="0.0.0.0", access=users)
    assert "/ingest/raw" in (exposure_refusal(only_users) or "")
    assert exposure_refusal(dataclasses.replace(only_users, ingest=IngestConfig(require_auth=True))) is None
    assert exposure_refusal(Config(host="0.0.0.0", demo=True)) is None


@pytest.mark.slow
async def test_the_mqtt_password_is_never_logged(
    tmp_path: Path, vosk_model_path: Path, mosquitto: MosquittoBroker, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"mqtt://alerts:s3cret-broker-pw@{mosquitto.host}:{mosquitto.port}"
    with caplog.at_level(logging.DEBUG):
        async with running_service(tmp_path, vosk_model_path, mqtt_url=url):
            await asyncio.sleep(0.5)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert f"alerts@{mosquitto.host}:{mosquitto.port}" in text
    assert "s3cret-broker-pw" not in text
