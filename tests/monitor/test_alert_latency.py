"""AlertLatency: handoff − arrival observed once per alert, after refinement from word times when asked for."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram

from monitor.call.latency import AlertLatency
from monitor.metrics import SPEECH_TO_ALERT_BUCKETS


def _latency(memory: int = 100) -> tuple[AlertLatency, CollectorRegistry]:
    registry = CollectorRegistry()
    histogram = Histogram(
        "s2a_seconds", "test", ["rule", "outcome"], buckets=SPEECH_TO_ALERT_BUCKETS, registry=registry
    )
    return AlertLatency(histogram, memory=memory), registry


def _observed(registry: CollectorRegistry, rule: str = "pci.pan-spoken", outcome: str = "pan_detected") -> list[float]:
    labels = {"rule": rule, "outcome": outcome}
    count = registry.get_sample_value("s2a_seconds_count", labels) or 0.0
    total = registry.get_sample_value("s2a_seconds_sum", labels) or 0.0
    return [count, round(total, 6)]


def test_an_alert_raised_on_words_is_observed_at_handoff() -> None:
    latency, registry = _latency()
    latency.raised("f1", "pci.pan-spoken", "pan_detected", arrived=100.0)
    assert _observed(registry) == [0, 0]
    latency.delivered("f1", 100.25)
    assert _observed(registry) == [1, 0.25]
    latency.delivered("f1", 101.0)  # a redelivery (outbox retry) is not a second observation
    assert _observed(registry) == [1, 0.25]


def test_a_wordless_partial_alert_waits_for_word_times_then_measures_from_the_last_word() -> None:
    latency, registry = _latency()
    latency.raised("f1", "pci.pan-spoken", "pan_detected", arrived=100.4, refining=True)
    latency.delivered("f1", 100.45)
    assert _observed(registry) == [0, 0]  # handed off, but the last word's arrival is not known yet
    latency.refined("f1", 100.05)
    assert _observed(registry) == [1, 0.4]


def test_refinement_may_come_before_the_handoff_and_never_moves_the_arrival_later() -> None:
    latency, registry = _latency()
    latency.raised("f1", "pci.cvv-spoken", "cvv_detected", arrived=50.0, refining=True)
    latency.refined("f1", 50.3)  # later than the first estimate: ignored
    latency.delivered("f1", 50.1)
    assert _observed(registry, "pci.cvv-spoken", "cvv_detected") == [1, 0.1]


def test_without_word_times_the_first_estimate_stands_and_unknown_ids_are_ignored() -> None:
    latency, registry = _latency()
    latency.raised("f1", "disclosure.recording", "said", arrived=10.0, refining=True)
    latency.delivered("f1", 10.2)
    latency.refined("f1", None)
    latency.refined("nope", 1.0)
    latency.delivered("nope", 2.0)
    assert _observed(registry, "disclosure.recording", "said") == [1, 0.2]


def test_memory_is_bounded_oldest_first() -> None:
    latency, registry = _latency(memory=2)
    for i in range(3):
        latency.raised(f"f{i}", "pci.pan-spoken", "pan_detected", arrived=float(i))
    for i in range(3):
        latency.delivered(f"f{i}", i + 0.5)
    assert _observed(registry) == [2, 1.0]  # f0 was forgotten
