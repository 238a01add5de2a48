"""Acceptance: /metrics after a real call passes `promtool check metrics`, and a real Prometheus scrapes it."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evaluation.feeders import stream_twilio
from tests.conftest import free_port
from tests.monitor.service_harness import (
    card_call,
    get_json,
    http_get,
    running_service,
    service_config,
    wait_call_stored,
)

pytestmark = pytest.mark.slow
JOB = "callwarden-test"


def tool(name: str) -> str:
    """The path of a Prometheus binary; a failure under CI, a loud skip elsewhere."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt-get install prometheus)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(f"SKIPPED LOUDLY: {message}")
    return path


class Prometheus:
    """A real Prometheus server scraping one target every second, with its own storage in a tmp dir."""

    def __init__(self, workdir: Path, target: str) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.config = workdir / "prometheus.yml"
        self.config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"scrape_configs:\n  - job_name: {JOB}\n    metrics_path: /metrics\n"
            f"    static_configs:\n      - targets: ['{target}']\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.workdir / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [
                tool("prometheus"),
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    async def query(self, promql: str) -> list[dict[str, Any]]:
        """The instant-vector result of `promql` ([] while Prometheus is not up yet)."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?query={urllib.parse.quote(promql)}"
        try:
            reply = await get_json(url)
        except OSError:
            return []
        assert reply["status"] == "success", reply
        result: list[dict[str, Any]] = reply["data"]["result"]
        return result


@pytest.fixture()
def prometheus_workdir(tmp_path: Path) -> Iterator[Path]:
    tool("prometheus")
    tool("promtool")
    workdir = tmp_path / "prometheus"
    workdir.mkdir()
    yield workdir


async def test_metrics_pass_promtool_and_a_real_prometheus_scrapes_them(
    vosk_model_path: Path, espeak: str, shared_data: Path, tmp_path: Path, prometheus_workdir: Path
) -> None:
    call = card_call("6011111111111117")
    config = service_config(tmp_path / "data", vosk_model_path, free_port())
    async with running_service(config) as base:
        feed = await stream_twilio(
            f"ws://{base}/ingest/twilio", call.call.audio, speed=0, parameters={"agent": "sam", "queue": "payments"}
        )
        detail = await wait_call_stored(base, feed.call_id)
        assert detail["call"]["status"] == "completed"
        _, exposition = await asyncio.to_thread(http_get, f"http://{base}/metrics")
        lint = await asyncio.to_thread(
            subprocess.run, [tool("promtool"), "check", "metrics"], input=exposition.encode(), capture_output=True
        )
        assert lint.returncode == 0, f"promtool check metrics: {lint.stdout.decode()}{lint.stderr.decode()}"
        for expected in (
            "callwarden_active_calls 0.0",
            "callwarden_calls_total{outcome=",
            'callwarden_audio_seconds_total{protocol="twilio"}',
            "callwarden_asr_lag_seconds_bucket",
        ):
            assert expected in exposition
        # coaching aggregates per queue and rule, never per agent
        queue_lines = [line for line in exposition.splitlines() if line.startswith("callwarden_queue_")]
        assert any('queue="payments"' in line and "callwarden_queue_calls_total" in line for line in queue_lines)
        assert any('rule="pci.pan-spoken"' in line and 'queue="payments"' in line for line in queue_lines), queue_lines
        assert not any("sam" in line for line in queue_lines)  # the agent is never a label

        prometheus = Prometheus(prometheus_workdir, base)
        prometheus.start()
        try:
            up: list[dict[str, Any]] = []
            calls: list[dict[str, Any]] = []
            async with asyncio.timeout(60):
                while not (up and up[0]["value"][1] == "1" and calls):
                    await asyncio.sleep(0.5)
                    up = await prometheus.query(f'up{{job="{JOB}"}}')
                    calls = await prometheus.query(f'callwarden_calls_total{{job="{JOB}",protocol="twilio"}}')
            active = await prometheus.query(f'callwarden_active_calls{{job="{JOB}"}}')
            targets = await get_json(f"http://127.0.0.1:{prometheus.port}/api/v1/targets")
        finally:
            prometheus.stop()
    assert [r["value"][1] for r in active] == ["0"]
    assert sum(float(r["value"][1]) for r in calls) == 1.0
    (target,) = targets["data"]["activeTargets"]
    assert (target["health"], target["lastError"]) == ("up", ""), json.dumps(target)
