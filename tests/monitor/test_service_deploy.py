"""Acceptance: the compose stack validates without an engine; Prometheus config and the Grafana dashboard are sound."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.metrics import Metrics

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy" / "grafana" / "dashboards" / "callwarden.json"
METRIC_NAME = re.compile(r"\bcallwarden_[a-z0-9_]+")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def binary(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt-get install {package})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(f"SKIPPED LOUDLY: {message}")
    return path


def exposed_names() -> set[str]:
    """Every series name Metrics exposes (counter foo → foo_total, histogram → _bucket/_sum/_count)."""
    names: set[str] = set()
    for family in Metrics().registry.collect():
        names.update(family.name + suffix for suffix in SUFFIXES[family.type])
    return names


def dashboard_exprs() -> list[tuple[str, str]]:
    board: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return [(p["title"], t["expr"]) for p in board["panels"] for t in p.get("targets", [])]


def test_compose_file_validates_without_an_engine() -> None:
    compose = binary("docker-compose", "docker-compose")
    passwords = {"CALLWARDEN_MQTT_PASSWORD": "pw-writer", "CALLWARDEN_MQTT_READER_PASSWORD": "pw-reader"}
    run_env = {**os.environ, **passwords}
    result = subprocess.run(
        [compose, "-f", "docker-compose.yml", "config"], cwd=REPO, capture_output=True, text=True, env=run_env
    )
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    assert set(config["services"]) == {"callwarden", "mosquitto", "prometheus", "grafana"}
    env = config["services"]["callwarden"]["environment"]
    assert env["CALLWARDEN_MQTT_URL"] == "mqtt://callwarden:pw-writer@mosquitto:1883"
    mounts = [str(v) for v in config["services"]["grafana"]["volumes"]]
    assert any(f"{DASHBOARD.parent}:" in m for m in mounts), mounts
    prometheus = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = [t for job in prometheus["scrape_configs"] for s in job["static_configs"] for t in s["targets"]]
    assert targets == [f"callwarden:{env['CALLWARDEN_PORT']}"]


def test_prometheus_config_passes_promtool() -> None:
    promtool = binary("promtool", "prometheus")
    result = subprocess.run(
        [promtool, "check", "config", str(REPO / "deploy" / "prometheus" / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_dashboard_uses_real_metric_names() -> None:
    exprs = dashboard_exprs()
    known = exposed_names()
    assert exprs
    for title, expr in exprs:
        used = set(METRIC_NAME.findall(expr))
        assert used, f"panel {title!r}: {expr!r} mentions no callwarden_ metric"
        assert used <= known, f"panel {title!r}: unknown metric(s) {sorted(used - known)}; known: {sorted(known)}"
    titles = {t for t, _ in exprs}
    assert {"Active calls", "Speech-to-alert latency", "Findings by rule"} <= titles
    latency = [e for t, e in exprs if t == "Speech-to-alert latency"]
    assert all("histogram_quantile(" in e and "callwarden_speech_to_alert_seconds_bucket" in e for e in latency)


def test_grafana_dashboard_promql_parses(tmp_path: Path) -> None:
    """promtool parses every expression (as recording rules; Grafana's $__rate_interval stands in as 1m)."""
    promtool = binary("promtool", "prometheus")
    rules = [
        {"record": f"callwarden:panel{i}", "expr": expr.replace("$__rate_interval", "1m")}
        for i, (_, expr) in enumerate(dashboard_exprs())
    ]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    board = json.loads(DASHBOARD.read_text())
    sources = {t["datasource"]["uid"] for p in board["panels"] for t in p["targets"]}
    provisioned = yaml.safe_load((REPO / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert sources == {d["uid"] for d in provisioned["datasources"]}


def test_compose_has_no_anonymous_access_anywhere() -> None:
    """Issue #14 acceptance 4: the shipped stack needs passwords to even configure, its broker refuses anonymous
    clients with an ACL, and Callwarden on 0.0.0.0 requires credentials for the dashboard and every ingest path."""
    compose = binary("docker-compose", "docker-compose")
    bare_env = {k: v for k, v in os.environ.items() if not k.startswith("CALLWARDEN_")}
    bare = subprocess.run([compose, "-f", "docker-compose.yml", "config"], cwd=REPO, capture_output=True, text=True,
                          env=bare_env)  # fmt: skip
    assert bare.returncode != 0 and "CALLWARDEN_MQTT_PASSWORD" in bare.stderr  # no default password
    env = {**bare_env, "CALLWARDEN_MQTT_PASSWORD": "pw-w", "CALLWARDEN_MQTT_READER_PASSWORD": "pw-r"}
    result = subprocess.run([compose, "-f", "docker-compose.yml", "config"], cwd=REPO, capture_output=True, text=True,
                            env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    callwarden = services["callwarden"]
    assert callwarden["environment"]["CALLWARDEN_HOST"] == "0.0.0.0"
    assert callwarden["environment"]["CALLWARDEN_REQUIRE_AUTH"] == "true"
    assert callwarden["environment"]["CALLWARDEN_INGEST_REQUIRE_AUTH"] == "true"
    assert "CALLWARDEN_DEMO" not in callwarden["environment"]
    config_file = REPO / "deploy" / "callwarden" / "callwarden.yaml"
    assert any(str(config_file) in str(v) for v in callwarden["volumes"])
    shipped = yaml.safe_load(config_file.read_text())
    assert shipped["access"]["require_auth"] is True and shipped["ingest"]["require_auth"] is True
    mosquitto_conf = (REPO / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    settings = dict(line.split(None, 1) for line in mosquitto_conf.splitlines() if line and not line.startswith("#"))
    assert settings["allow_anonymous"] == "false" and "acl_file" in settings and "password_file" in settings
    acl = (REPO / "deploy" / "mosquitto" / "acl").read_text()
    assert "topic write callwarden/#" in acl and "topic read callwarden/#" in acl
    assert "MQTT_PASSWORD" in str(services["mosquitto"]["entrypoint"])
    published = [str(p.get("host_ip", "")) for p in services["mosquitto"].get("ports", []) if isinstance(p, dict)]
    published += [p for p in services["mosquitto"].get("ports", []) if isinstance(p, str)]
    assert all("127.0.0.1" in p for p in published), published
