"""Prometheus metrics of the service in a dedicated registry, and their text exposition.

Labels are bounded sets only (protocol, rule id, severity, sink, outcome, close code, and queue — capped at
MAX_QUEUE_LABELS distinct values): a call id or an agent is NEVER a label — per-call and per-agent detail lives in
the store (GET /api/coaching) and the /live feed.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from streams.digitpass import DigitPassStats
from streams.pipeline import GatedAudio

NAMESPACE = "callwarden"

SPEECH_TO_ALERT_BUCKETS = (
    0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.75, 0.9, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0
)
"""Seconds from the last word's audio arriving to the alert handed to the sink (the promise: under 1 s). Fine
below 1 s so that a bucket-interpolated p50 lands within ~25 ms of the true one."""
ASR_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0)
MAX_QUEUE_LABELS = 50
"""Distinct queue label values the coaching series take; later queues are counted as "other" (the queue comes from
call metadata, i.e. from the telephony platform: it must not grow the series without bound)."""
MAX_QUEUE_CHARS = 64
NO_QUEUE = "none"
OTHER_QUEUE = "other"


class Metrics:
    """All Callwarden metrics; one instance per service (tests make their own — the registry is private)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.active_calls = Gauge("active_calls", "Calls currently being monitored.", namespace=NAMESPACE, registry=r)
        self.asr_lag_current = Gauge(
            "asr_lag_current_seconds",
            "How far the most lagging call's recognition trails its audio now (the autoscaler's per-pod signal).",
            namespace=NAMESPACE,
            registry=r,
        )
        self.draining = Gauge(
            "draining",
            "1 from SIGTERM until exit: not ready, no new calls, running calls finish within drain_grace_seconds.",
            namespace=NAMESPACE,
            registry=r,
        )
        self.audio_seconds = Counter(
            "audio_seconds", "Seconds of call audio received (per leg).", ["protocol"], namespace=NAMESPACE, registry=r
        )
        self.asr_lag_seconds = Histogram(
            "asr_lag_seconds",
            "How far recognition results trail the audio received (audio clock minus recognized end).",
            namespace=NAMESPACE,
            buckets=ASR_LAG_BUCKETS,
            registry=r,
        )
        self.findings = Counter(
            "findings", "Findings raised, by rule and severity.", ["rule", "severity"], namespace=NAMESPACE, registry=r
        )
        self.recording_control = Counter(
            "recording_control",
            "Recording control events published (pause_recording, resume_recording).",
            ["action"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.alert_deliveries = Counter(
            "alert_deliveries",
            "Alert sink delivery attempts, by sink and outcome (delivered, error, logged).",
            ["sink", "outcome"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.outbox_depth = Gauge(
            "outbox_depth", "Outbox messages waiting for delivery.", namespace=NAMESPACE, registry=r
        )
        self.outbox_dead_letters = Counter(
            "outbox_dead_letters",
            "Outbox messages set aside as undeliverable (unreadable payload, or failed max_attempts times).",
            namespace=NAMESPACE,
            registry=r,
        )
        self.speech_to_alert_seconds = Histogram(
            "speech_to_alert_seconds",
            "Seconds from the audio of a finding's last word arriving to its alert handed off by the sink, per rule"
            " and outcome (card alerts: pan_detected; end-of-window outcomes are seconds late by design).",
            ["rule", "outcome"],
            namespace=NAMESPACE,
            buckets=SPEECH_TO_ALERT_BUCKETS,
            registry=r,
        )
        self.asr_shed_seconds = Counter(
            "asr_shed_seconds",
            "Seconds of live audio dropped because recognition was too far behind (overload; counted, never silent).",
            namespace=NAMESPACE,
            registry=r,
        )
        self.asr_skipped_seconds = Counter(
            "asr_skipped_seconds",
            "Seconds of leg audio the voice-activity gate kept from the recognizer (silence), by speaker.",
            ["speaker"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.asr_skipped_fraction = Histogram(
            "asr_skipped_fraction",
            "Per ended leg: the fraction of its audio the voice-activity gate skipped, by speaker.",
            ["speaker"],
            namespace=NAMESPACE,
            buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
            registry=r,
        )
        self.digit_pass_sessions = Counter(
            "digit_pass_sessions",
            "Times the digit pass (a second recognizer restricted to digit words) was opened on a leg.",
            namespace=NAMESPACE,
            registry=r,
        )
        self.digit_pass_audio_seconds = Counter(
            "digit_pass_audio_seconds", "Seconds of leg audio the digit pass decoded.", namespace=NAMESPACE, registry=r
        )
        self.digit_pass_cpu_seconds = Counter(
            "digit_pass_cpu_seconds", "CPU seconds (thread time) the digit pass spent.", namespace=NAMESPACE, registry=r
        )
        self.card_findings = Counter(
            "card_findings",
            "Card findings (pan_detected, possible_pan) by outcome and the recognizer pass that heard the number"
            " (first, digits).",
            ["outcome", "decided_by"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.calls = Counter(
            "calls", "Calls ended, by protocol and outcome.", ["protocol", "outcome"], namespace=NAMESPACE, registry=r
        )
        self.queue_calls = Counter(
            "queue_calls",
            "Calls ended per queue (call metadata `queue`) and outcome (passed, failed, incomplete): coaching"
            " aggregates; pass rate = passed / (passed + failed). Never per agent.",
            ["queue", "outcome"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.queue_findings = Counter(
            "queue_findings",
            "Alerts (findings above severity info) per queue and rule: findings per 100 calls ="
            " 100 * rate(queue_findings) / rate(queue_calls). Never per agent.",
            ["queue", "rule"],
            namespace=NAMESPACE,
            registry=r,
        )
        self._queues: set[str] = set()
        self.ingest_errors = Counter(
            "ingest_errors",
            "Audio ingest connections closed on error, by protocol and WebSocket close code.",
            ["protocol", "close_code"],
            namespace=NAMESPACE,
            registry=r,
        )

    # -- convenience recorders (the names say what flows) ------------------------------------------------------

    def call_started(self) -> None:
        """A call began."""
        self.active_calls.inc()

    def call_ended(self, protocol: str, outcome: str) -> None:
        """A call ended with `outcome` (e.g. passed, failed, incomplete, error)."""
        self.active_calls.dec()
        self.calls.labels(protocol=protocol, outcome=outcome).inc()

    def audio_received(self, protocol: str, seconds: float) -> None:
        """`seconds` of audio arrived on one leg."""
        self.audio_seconds.labels(protocol=protocol).inc(seconds)

    def finding_raised(self, rule_id: str, severity: str) -> None:
        """The engine raised a finding."""
        self.findings.labels(rule=rule_id, severity=severity).inc()

    def queue_label(self, queue: str | None) -> str:
        """`queue` as a label value: "none" when absent, "other" beyond MAX_QUEUE_LABELS distinct queues."""
        name = " ".join(str(queue or "").split())[:MAX_QUEUE_CHARS] or NO_QUEUE
        if name in self._queues or name in (NO_QUEUE, OTHER_QUEUE):
            return name
        if len(self._queues) >= MAX_QUEUE_LABELS:
            return OTHER_QUEUE
        self._queues.add(name)
        return name

    def queue_call(self, queue: str | None, outcome: str) -> None:
        """A call of `queue` ended with `outcome` (passed, failed, incomplete)."""
        self.queue_calls.labels(queue=self.queue_label(queue), outcome=outcome).inc()

    def queue_finding(self, queue: str | None, rule_id: str) -> None:
        """A call of `queue` raised an alert of `rule_id`."""
        self.queue_findings.labels(queue=self.queue_label(queue), rule=rule_id).inc()

    def card_finding(self, outcome: str, decided_by: str) -> None:
        """A card finding was raised on what the `decided_by` pass heard."""
        self.card_findings.labels(outcome=outcome, decided_by=decided_by).inc()

    def digit_pass_ran(self, stats: DigitPassStats) -> None:
        """A leg's digit pass finished: its sessions, decoded audio and CPU time."""
        self.digit_pass_sessions.inc(stats.sessions)
        self.digit_pass_audio_seconds.inc(stats.audio_seconds)
        self.digit_pass_cpu_seconds.inc(stats.cpu_seconds)

    def audio_gated(self, gated: GatedAudio) -> None:
        """A leg's gate skipped `gated.skipped` more seconds; at the leg's end, its skipped fraction."""
        speaker = gated.speaker.value
        self.asr_skipped_seconds.labels(speaker=speaker).inc(gated.skipped)
        if gated.final and gated.total_seconds > 0:
            self.asr_skipped_fraction.labels(speaker=speaker).observe(gated.total_skipped / gated.total_seconds)

    def alert_delivery(self, sink: str, outcome: str) -> None:
        """A sink tried to deliver one message."""
        self.alert_deliveries.labels(sink=sink, outcome=outcome).inc()

    def ingest_error(self, protocol: str, close_code: int) -> None:
        """An ingest connection was closed on error with `close_code`."""
        self.ingest_errors.labels(protocol=protocol, close_code=str(close_code)).inc()

    def render(self) -> tuple[bytes, str]:
        """The text exposition of every metric and its Content-Type header value."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
