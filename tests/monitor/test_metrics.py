"""Metrics exposition: parsed by prometheus_client's own parser, linted by promtool, never labelled by call id."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.metrics import Metrics
from streams.digitpass import DigitPassStats


def _recorded() -> Metrics:
    m = Metrics()
    m.call_started()
    m.call_started()
    m.call_ended("twilio", "failed")
    m.audio_received("twilio", 1.5)
    m.audio_received("twilio", 0.5)
    m.audio_received("native", 3.0)
    m.asr_lag_seconds.observe(0.3)
    m.finding_raised("pci.pan-spoken", "critical")
    m.finding_raised("pci.pan-spoken", "critical")
    m.alert_delivery("mqtt", "delivered")
    m.alert_delivery("mqtt", "error")
    m.outbox_depth.set(7)
    for latency in (0.04, 0.25, 0.6):
        m.speech_to_alert_seconds.labels("pci.pan-spoken", "pan_detected").observe(latency)
    m.speech_to_alert_seconds.labels("pci.pan-spoken", "possible_pan").observe(4.0)
    m.ingest_error("audiohook", 1008)
    m.digit_pass_ran(DigitPassStats(sessions=2, audio_seconds=12.5, cpu_seconds=0.4, readings=3))
    m.card_finding("pan_detected", "digits")
    m.queue_call("billing", "passed")
    m.queue_call("billing", "failed")
    m.queue_finding("billing", "pci.pan-spoken")
    m.queue_finding(None, "disclosure.recording")
    return m


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_exposition_parses_and_carries_the_recorded_values() -> None:
    body, content_type = _recorded().render()
    assert content_type.startswith("text/plain; version=")
    samples = _samples(body.decode())
    assert samples[("callwarden_active_calls", ())] == 1
    assert samples[("callwarden_audio_seconds_total", (("protocol", "twilio"),))] == 2.0
    assert samples[("callwarden_audio_seconds_total", (("protocol", "native"),))] == 3.0
    assert samples[("callwarden_findings_total", (("rule", "pci.pan-spoken"), ("severity", "critical")))] == 2
    assert samples[("callwarden_alert_deliveries_total", (("outcome", "error"), ("sink", "mqtt")))] == 1
    assert samples[("callwarden_outbox_depth", ())] == 7
    assert samples[("callwarden_calls_total", (("outcome", "failed"), ("protocol", "twilio")))] == 1
    assert samples[("callwarden_ingest_errors_total", (("close_code", "1008"), ("protocol", "audiohook")))] == 1
    pan = (("outcome", "pan_detected"), ("rule", "pci.pan-spoken"))
    assert samples[("callwarden_speech_to_alert_seconds_count", pan)] == 3
    assert samples[("callwarden_speech_to_alert_seconds_bucket", (("le", "0.05"), *pan))] == 1
    assert samples[("callwarden_speech_to_alert_seconds_bucket", (("le", "0.25"), *pan))] == 2
    assert samples[("callwarden_speech_to_alert_seconds_bucket", (("le", "1.0"), *pan))] == 3
    possible = (("outcome", "possible_pan"), ("rule", "pci.pan-spoken"))
    assert samples[("callwarden_speech_to_alert_seconds_bucket", (("le", "3.0"), *possible))] == 0
    assert samples[("callwarden_speech_to_alert_seconds_bucket", (("le", "5.0"), *possible))] == 1
    assert samples[("callwarden_asr_lag_seconds_sum", ())] == pytest.approx(0.3)
    assert samples[("callwarden_digit_pass_sessions_total", ())] == 2
    assert samples[("callwarden_digit_pass_audio_seconds_total", ())] == 12.5
    assert samples[("callwarden_digit_pass_cpu_seconds_total", ())] == pytest.approx(0.4)
    assert samples[("callwarden_card_findings_total", (("decided_by", "digits"), ("outcome", "pan_detected")))] == 1
    assert samples[("callwarden_queue_calls_total", (("outcome", "passed"), ("queue", "billing")))] == 1
    assert samples[("callwarden_queue_findings_total", (("queue", "billing"), ("rule", "pci.pan-spoken")))] == 1
    assert samples[("callwarden_queue_findings_total", (("queue", "none"), ("rule", "disclosure.recording")))] == 1


def test_no_metric_is_labelled_by_call() -> None:
    body, _ = _recorded().render()
    label_names = {name for f in text_string_to_metric_families(body.decode()) for s in f.samples for name in s.labels}
    assert label_names == {"protocol", "rule", "severity", "sink", "outcome", "close_code", "le", "decided_by", "queue"}
    assert "agent" not in label_names  # coaching per agent lives in the store (GET /api/coaching), never a label


def test_queue_labels_are_bounded() -> None:
    from monitor.metrics import MAX_QUEUE_LABELS

    m = Metrics()
    for n in range(MAX_QUEUE_LABELS + 25):
        m.queue_call(f"queue-{n}", "passed")
    m.queue_call("queue-0", "failed")  # a queue seen before keeps its label
    samples = _samples(m.render()[0].decode())
    queues = {dict(labels)["queue"] for name, labels in samples if name == "callwarden_queue_calls_total"}
    assert len(queues) == MAX_QUEUE_LABELS + 1 and "other" in queues
    assert samples[("callwarden_queue_calls_total", (("outcome", "passed"), ("queue", "other")))] == 25
    assert samples[("callwarden_queue_calls_total", (("outcome", "failed"), ("queue", "queue-0")))] == 1


def test_registries_are_independent() -> None:
    a, b = Metrics(), Metrics()
    a.call_started()
    assert _samples(b.render()[0].decode())[("callwarden_active_calls", ())] == 0


def test_promtool_check_metrics_passes() -> None:
    promtool = shutil.which("promtool") or ("/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None)
    if promtool is None:
        pytest.skip("SKIPPED LOUDLY: promtool is not installed (apt-get install prometheus); lint not run")
    body, _ = _recorded().render()
    result = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
    assert result.stdout.strip() == b"" and result.stderr.strip() == b"", (result.stdout + result.stderr).decode()
