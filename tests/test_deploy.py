"""The deployment files one can apply: every Kubernetes manifest in deploy/kubernetes/ is valid against the Kubernetes
API schemas (kubernetes-validate, strict: unknown fields fail), the drain settings agree with each other, and the
HAProxy config passes `haproxy -c` with its documented environment."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "deploy" / "kubernetes"
HAPROXY_CFG = REPO / "deploy" / "haproxy" / "haproxy.cfg"
STORE_FLUSH_SECONDS = 30  # monitor/web/server.py SHUTDOWN_GRACE_SECONDS


def manifests() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for n, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if doc is not None:
                docs.append((f"{path.name}#{n}", doc))
    return docs


def by_kind(kind: str) -> dict[str, Any]:
    (doc,) = [d for _, d in manifests() if d["kind"] == kind]
    return doc


def test_every_manifest_is_valid_against_the_kubernetes_schemas() -> None:
    docs = manifests()
    kinds = sorted({d["kind"] for _, d in docs})
    assert {"Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "ConfigMap", "Job"} <= set(kinds)
    version = kubernetes_validate.latest_version()
    problems = []
    for where, doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{where}: {'.'.join(str(p) for p in exc.path)}: {exc.message}")
    assert problems == [], "\n".join(problems)


def test_a_broken_manifest_is_caught() -> None:
    """The check above can fail: a typo in a field name is reported."""
    deployment = by_kind("Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 3}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


def test_termination_grace_covers_the_drain_and_probes_use_readyz() -> None:
    config = yaml.safe_load(by_kind("ConfigMap")["data"]["callwarden.yaml"])
    pod = by_kind("Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > pre_stop + config["drain_grace_seconds"] + STORE_FLUSH_SECONDS
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["readinessProbe"]["failureThreshold"] == 1
    env = {e["name"]: e for e in container["env"]}
    assert env["CALLWARDEN_REPLICA_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert "secretKeyRef" in env["CALLWARDEN_DATA_KEY"]["valueFrom"]  # the key comes from the secret, not a file
    hpa_metric = by_kind("HorizontalPodAutoscaler")["spec"]["metrics"][0]["pods"]["metric"]["name"]
    assert hpa_metric == "callwarden_active_calls"


def test_the_manifests_config_loads_as_the_service_would() -> None:
    from monitor.config.settings import load_config

    config_text = by_kind("ConfigMap")["data"]["callwarden.yaml"]
    path = REPO / ".pytest-k8s-config.yaml"
    try:
        path.write_text(config_text)
        env = {"CALLWARDEN_DATABASE_URL": "postgresql://cw@db:5432/cw", "CALLWARDEN_REPLICA_ID": "callwarden-abc"}
        config = load_config(path, env)
    finally:
        path.unlink(missing_ok=True)
    assert config.database.shared and config.drain_grace_seconds == 300 and config.database.replica_id


def test_haproxy_config_is_valid_and_balances_by_least_connections() -> None:
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(haproxy).exists():
        if os.environ.get("CI"):
            pytest.fail("haproxy is not installed (apt-get install haproxy)")
        pytest.skip("SKIPPED LOUDLY: haproxy not installed (apt-get install haproxy)")
    env = {**os.environ, "CALLWARDEN_LB_BIND": "127.0.0.1:18080"}
    env.update({f"CALLWARDEN_REPLICA{n}": f"127.0.0.1:1808{n}" for n in (1, 2, 3)})
    result = subprocess.run([haproxy, "-c", "-f", str(HAPROXY_CFG)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    text = "\n".join(line for line in HAPROXY_CFG.read_text().splitlines() if not line.strip().startswith("#"))
    for required in ("balance leastconn", "option httpchk GET /readyz", "timeout tunnel"):
        assert required in text
    assert "shutdown-sessions" not in text  # would cut a draining replica's calls
