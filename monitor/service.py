"""The running service: one process-wide ASR, rule set, store, alert sink, live hub and metrics, shared by all calls."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Mapping
from contextlib import AsyncExitStack
from typing import Any, Literal

from monitor.access.users import AccessControl
from monitor.call.latency import AlertLatency
from monitor.call.session import Arrival, CallSession
from monitor.config.notify import route_findings
from monitor.config.settings import Config
from monitor.metrics import Metrics
from monitor.sinks.live import (
    LiveHub,
    call_ended_message,
    clock_message,
    finding_message,
    transcript_message,
)
from monitor.sinks.live_bridge import LiveBridge, live_bridge
from monitor.sinks.mqtt import MqttAlertSink
from monitor.sinks.outbox import LogAlertSink, OutboxSink
from monitor.sinks.webhook import WebhookSink
from monitor.store.async_store import AsyncStore
from monitor.store.crypto import DataKeyError, resolve_data_keys
from monitor.store.database import Store
from monitor.store.gdpr import retention_task
from monitor.store.heartbeat import replica_lease
from monitor.store.records import Reaped, StoreError
from monitor.store.replicas import REPLICA_LOST
from rules.events import CallEnded, Speaker, Utterance
from rules.findings import Finding
from rules.packs import RuleSet, load_packs
from rules.recording_control import ControlEvent
from rules.redact import Redacted
from streams.codecs import AudioFormat
from streams.legbuffer import Overflow
from streams.pipeline import CallStream, PipelineConfig, Transcription
from streams.transcriber import AsrConfig
from streams.vad import gate_config

log = logging.getLogger("callwarden.service")
alerts_log = logging.getLogger("callwarden.alerts")
READINESS_CACHE_SECONDS = 1.5
NATURAL_ENDS = frozenset({"stop", "end", "hangup", "disconnect"})
"""End reasons of a call that reached its natural end (Twilio stop, raw/audiofork/AudioHook end, AudioHook
disconnect): only such a call is `completed` and scored. Any other end (shutdown, error, connection-lost, idle,
reconnect, ...) leaves it `incomplete` with no score and no pass: its findings are kept and delivered."""


class Service:
    """Owns every shared resource; `async with Service(config) as service:` starts and stops them in order.

    It is the CallHost of every call (monitor/call/session.py): a call's redacted, ordered output is fanned out
    here to the store (with the outbox in the same transaction), the /live hub, metrics and logs."""

    def __init__(self, config: Config, ruleset: RuleSet | None = None) -> None:
        self.config = config
        self.ruleset = ruleset if ruleset is not None else load_packs(config.rules_dirs, optional=config.packs)
        self._queue_rulesets = {
            queue: load_packs(config.rules_dirs, optional=(*config.packs, *names))
            for queue, names in config.queue_packs.items()
        }
        self.metrics = Metrics()
        self.live = LiveHub()
        self.access = AccessControl(config.access, config.host)
        self.sessions: dict[str, CallSession] = {}
        self._admitted: set[str] = set()
        """Calls holding an admission slot: reserved by `admit` before their session starts, freed at its end."""
        self._stopping = False  # set by end_all_calls: no more admissions
        self._stack = AsyncExitStack()
        self.latency = AlertLatency(self.metrics.speech_to_alert_seconds)
        self._store: AsyncStore | None = None
        self._asr: Transcription | None = None
        self.sink: OutboxSink | None = None
        self.webhook: WebhookSink | None = None
        self.alert_webhooks: list[WebhookSink] = []
        self.ready_reason: str | None = "starting"
        self.data_key_id = ""
        """The id of the active data key (the same on every replica sharing a store; /api/status shows it)."""
        self.replica_id = config.database.replica_id or f"{socket.gethostname()}-{os.getpid()}"
        """This process's name among the replicas sharing a PostgreSQL store (its heartbeat row)."""
        self.draining = False
        self.bridge: LiveBridge | None = None
        """True from the first SIGTERM: not ready, no new calls, running calls finish (docs/scale-out.md)."""
        self._storage_checked: tuple[float, str | None] | None = None
        self._storage_probe: asyncio.Future[str | None] | None = None

    @property
    def store(self) -> AsyncStore:
        assert self._store is not None, "Service not started"
        return self._store

    @property
    def asr(self) -> Transcription:
        assert self._asr is not None, "Service not started"
        return self._asr

    async def __aenter__(self) -> Service:
        await self._stack.__aenter__()
        try:
            db = self.config.database
            try:
                keys = resolve_data_keys(self.config.encryption, self.config.data_dir, shared=db.shared)
            except DataKeyError as exc:  # reported like any unusable data directory (serve exits 4)
                raise StoreError(f"data key: {exc}") from exc
            self.data_key_id = keys.active_id
            if db.shared:
                store = await AsyncStore.open_postgres(db.url, keys, migrate=db.migrate, replica_id=self.replica_id)
            else:
                store = await AsyncStore.open(self.config.db_path, keys)
            self._store = await self._stack.enter_async_context(store)
            self._store.attach_metrics(self.metrics)
            if not db.shared:  # one process owns the file: whatever is still active was cut by its last stop
                stale = await self.store.run(Store.mark_incomplete_on_startup)
            else:  # only this replica's own calls of an earlier run under the same id; others are the reaper's
                stale = list(await self.store.run(Store.register_replica, lease_seconds=db.lease_seconds))
            if stale:
                log.warning("marked %d call(s) left active by a previous run as incomplete", len(stale))
            pipeline = PipelineConfig(
                asr=AsrConfig(
                    language=self.config.language,
                    model_path=self.config.model_path or None,
                    gate=gate_config(self.config.asr_vad),
                    recycle_seconds=self.config.asr_recycle_seconds or None,
                ),
                workers=self.config.asr_threads,
                tick_seconds=self.config.tick_interval,
                max_queued_seconds=self.config.asr_max_queued_seconds,
                overflow=Overflow(self.config.asr_overflow),
            )
            asr = Transcription(pipeline, on_digit_pass=self.metrics.digit_pass_ran, on_gated=self.metrics.audio_gated)
            self._asr = await self._stack.enter_async_context(asr)
            self.sink = await self._stack.enter_async_context(self._make_sink())
            hook = self.config.webhook
            if hook.url:
                self.webhook = await self._stack.enter_async_context(
                    WebhookSink(self.store, hook.url, hook.secret, metrics=self.metrics, timeout=hook.timeout)
                )
            for route in self.config.alert_webhooks:
                sink = WebhookSink.alert_route(self.store, route, metrics=self.metrics)
                self.alert_webhooks.append(await self._stack.enter_async_context(sink))
            await self._stack.enter_async_context(retention_task(self.store, self.config.retention))
            if db.shared:
                await self._stack.enter_async_context(
                    replica_lease(self.store, db.lease_seconds, self._replica_state, self._took_over)
                )
                if self.config.mqtt_url:  # one live view across replicas (history: the shared store)
                    self.bridge = await self._stack.enter_async_context(
                        live_bridge(
                            self.live, self.config.mqtt_url, topic_prefix=self.config.mqtt_topic_prefix,
                            replica_id=self.replica_id,
                        )
                    )  # fmt: skip
        except BaseException:
            await self._stack.aclose()
            raise
        self.ready_reason = None
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.ready_reason = "stopping"
        await self._stack.aclose()

    def status(self) -> dict[str, Any]:
        """This replica at a glance (GET /api/status): its id, store engine, data key id, calls held, drain state."""
        return {
            "replica_id": self.replica_id,
            "store": self.store.store.engine,
            "data_key_id": self.data_key_id,
            "active_calls": len(self.sessions),
            "draining": self.draining,
            "ready": self.ready_reason is None,
        }

    def _replica_state(self) -> str:
        return "draining" if self.draining else "live"

    def _took_over(self, reaped: list[Reaped]) -> None:
        """The reaper took over replicas that died: their calls ended replica-lost, their alerts now ours to send."""
        for r in reaped:
            log.warning(
                "replica %s lost (lease lapsed): %d call(s) marked incomplete / replica-lost %s, %d undelivered "
                "outbox row(s) taken over by %s", r.replica_id, len(r.calls), list(r.calls), r.handed_rows,
                self.replica_id,
            )
            for call_id in r.calls:  # dashboards everywhere drop the lost calls from their live view
                self.live.publish(
                    call_ended_message(call_id, REPLICA_LOST, time.time(), {"score": None, "passed": None})
                )
        self.store.notify_outbox()

    def _make_sink(self) -> OutboxSink:
        if self.config.mqtt_url:
            return MqttAlertSink(
                self.store,
                self.config.mqtt_url,
                topic_prefix=self.config.mqtt_topic_prefix,
                metrics=self.metrics,
                on_delivered=self._alert_delivered,
            )
        return LogAlertSink(self.store, metrics=self.metrics, on_delivered=self._alert_delivered)

    async def readiness(self) -> str | None:
        """None when ready to take calls, else why not. The storage probe commits a write, so its answer is
        reused for READINESS_CACHE_SECONDS: /readyz is public and must not be a way to make the disk work."""
        if self.ready_reason is not None:
            return self.ready_reason
        now = time.monotonic()
        if self._storage_checked is None or now - self._storage_checked[0] >= READINESS_CACHE_SECONDS:
            if self._storage_probe is None:  # one probe at a time; concurrent requests share it
                self._storage_probe = asyncio.ensure_future(self.store.check_writable())
            probe = self._storage_probe
            try:
                problem = await asyncio.shield(probe)
            finally:
                if self._storage_probe is probe and probe.done():
                    self._storage_probe = None
            self._storage_checked = (time.monotonic(), problem)
        problem = self._storage_checked[1]
        return f"storage: {problem}" if problem else None

    async def refresh_gauges(self) -> None:
        """Bring gauges read from the store up to date (at each /metrics scrape): the outbox depth is true even
        while the sink cannot drain (broker outage)."""
        self.metrics.outbox_depth.set(await self.store.outbox_depth())
        self.metrics.asr_lag_current.set(max((s.lag for s in self.sessions.values()), default=0.0))

    def admit(self, call_id: str) -> str | None:
        """Check and reserve a call's slot in one step (no await between: concurrent starts cannot all pass).

        None when admitted — the slot is held until `call_finished` or `release` — else why not: already
        monitored (1008), or capacity / ASR lag (1013, the close reason)."""
        if call_id in self._admitted:
            return "already being monitored"
        if self.draining:
            return "draining: this replica is shutting down, call another one"
        if self._stopping:
            return "service shutting down, try again later"
        if len(self._admitted) >= self.config.max_calls:
            return "at capacity: too many active calls, try again later"
        limit = self.config.max_asr_lag
        lag = max((s.lag for s in self.sessions.values()), default=0.0)
        if limit > 0 and lag > limit:
            return f"ASR overloaded: recognition is {lag:.1f} s behind the audio (limit {limit:g} s), try again later"
        self._admitted.add(call_id)
        return None

    def is_admitted(self, call_id: str) -> bool:
        """True while a call with this id holds an admission slot (starting or running)."""
        return call_id in self._admitted

    def release(self, call_id: str) -> None:
        """Free an admitted call's slot (its session never started, or it finished)."""
        self._admitted.discard(call_id)

    # -- the CallHost of call sessions ----------------------------------------------------------------------------

    @property
    def language(self) -> str:
        return self.config.language

    def ruleset_for(self, metadata: Mapping[str, str]) -> RuleSet:
        """The rules of a call: those of its queue when `queue_packs` names it, else the service's."""
        return self._queue_rulesets.get(metadata.get("queue", ""), self.ruleset)

    @property
    def recording_resume_seconds(self) -> float | None:
        return self.config.recording_resume_seconds if self.config.recording_control else None

    async def control(self, call_id: str, events: list[ControlEvent], wall: float) -> None:
        """Recording control events (pause/resume): to the outbox (MQTT <prefix>/calls/<id>/control, and the signed
        webhook when configured) and /live."""
        payloads = [{**event.to_json(), "triggered_wall": wall} for event in events]
        await self.store.add_control(call_id, payloads, wall_time=wall, webhook=bool(self.config.webhook.url))
        for event, payload in zip(events, payloads, strict=True):
            self.metrics.recording_control.labels(action=event.action).inc()
            self.live.publish(payload)
            log.info("call %s: %s at %.2fs (%s)", call_id, event.action, event.at, event.trigger)

    def open_stream(
        self, call_id: str, fmt: AudioFormat, roles: Mapping[int, Speaker], language: str, metadata: Mapping[str, str]
    ) -> CallStream:
        return self.asr.call(call_id, fmt, roles, language, metadata)

    def audio_received(self, protocol: str, seconds: float) -> None:
        self.metrics.audio_received(protocol, seconds)

    def clock(self, call_id: str, audio_time: float, lag: float) -> None:
        self.live.publish(clock_message(call_id, audio_time))
        self.metrics.asr_lag_seconds.observe(lag)

    async def transcript(self, call_id: str, utterance: Utterance, text: Redacted) -> None:
        """One redacted transcript line: every one to /live, finals with words to the store (an empty final only
        ends its partials' line on /live)."""
        self.live.publish(transcript_message(call_id, utterance, text))
        if utterance.final and utterance.text:
            await self.store.add_transcript(utterance, redacted_text=text)

    async def findings(self, findings: list[Finding], arrivals: list[Arrival], wall: float) -> None:
        """Count and log findings, store them with their outbox rows in one transaction, then show them live."""
        for finding, arrival in zip(findings, arrivals, strict=True):
            self.finding_raised(finding, arrival.wall, arrival.refining)
            if finding.severity != "info":  # coaching aggregates: alerts per queue and rule (never per agent)
                self.metrics.queue_finding(self.live.metadata(finding.call_id).get("queue"), finding.rule_id)
        await self.store.add_findings(findings, wall_time=wall, routes=self._routes(findings))
        for finding in findings:
            self.live.publish(finding_message(finding, wall))

    def _routes(self, findings: list[Finding]) -> dict[str, list[str]] | None:
        """Finding id → the alert webhooks its severity routes it to (config `alert_webhooks`)."""
        routes = self.config.alert_webhooks
        if not routes:
            return None
        return route_findings(routes, [(f.finding_id, str(f.severity)) for f in findings])

    def alert_refined(self, finding_id: str, arrived_wall: float | None) -> None:
        self.latency.refined(finding_id, arrived_wall)

    async def call_started(self, session: CallSession) -> None:
        self.sessions[session.call_id] = session
        self.metrics.call_started()
        opened = session.opened
        await self.store.call_started(
            session.call_id,
            protocol=opened.protocol,
            started_wall=session.started_wall,
            metadata=opened.metadata,
            language=session.language,
        )
        self.live.publish(
            {
                "type": "call_started",
                "call_id": session.call_id,
                "protocol": opened.protocol,
                "metadata": dict(opened.metadata),
                "started_wall": session.started_wall,
                "legs": [{"index": leg.index, "role": str(leg.role), "label": leg.label} for leg in opened.legs],
            }
        )
        log.info("call %s started (%s, %d leg(s))", session.call_id, opened.protocol, len(opened.legs))

    def finding_raised(self, finding: Finding, arrived_wall: float | None, refining: bool = False) -> None:
        """Count and log a finding; remember when its audio arrived for the speech-to-alert histogram."""
        self.metrics.finding_raised(finding.rule_id, str(finding.severity))
        if finding.outcome in ("pan_detected", "possible_pan"):
            self.metrics.card_finding(finding.outcome, str(finding.details.get("pass", "first")))
        if arrived_wall is not None:
            self.latency.raised(finding.finding_id, finding.rule_id, finding.outcome, arrived_wall, refining)
        level = logging.WARNING if finding.severity in ("high", "critical") else logging.INFO
        alerts_log.log(
            level,
            "finding call=%s rule=%s outcome=%s severity=%s at=%.2fs",
            finding.call_id,
            finding.rule_id,
            finding.outcome,
            finding.severity,
            finding.start,
        )

    def _alert_delivered(self, finding_id: str, handoff_wall: float) -> None:
        self.latency.delivered(finding_id, handoff_wall)

    async def call_ended(self, session: CallSession, ended: CallEnded, report: dict[str, Any], shed: float) -> None:
        if shed > 0:
            self.metrics.asr_shed_seconds.inc(shed)
        ended_wall = time.time()
        status: Literal["completed", "incomplete"] = "completed" if ended.reason in NATURAL_ENDS else "incomplete"
        if status == "incomplete":  # cut before its natural end: what was said is kept, but it is never scored
            report = {**report, "score": None, "passed": None}
        if session.event_log is not None:  # before the end row: a scored call has its event log to backtest
            await self.store.add_event_log(session.call_id, session.event_log)
        await self.store.call_ended(
            session.call_id,
            ended_wall=ended_wall,
            audio_seconds=ended.at,
            end_reason=ended.reason,
            report=report,
            status=status,
        )
        self.live.publish(call_ended_message(session.call_id, ended.reason, ended_wall, report))
        outcome = "incomplete" if status == "incomplete" else ("passed" if report.get("passed") else "failed")
        self.metrics.calls.labels(protocol=session.opened.protocol, outcome=outcome).inc()
        self.metrics.queue_call(session.opened.metadata.get("queue"), outcome)
        log.info("call %s ended (%s): score %s, %s", session.call_id, ended.reason, report.get("score"), outcome)

    def call_finished(self, session: CallSession) -> None:
        self.release(session.call_id)
        if self.sessions.pop(session.call_id, None) is not None:
            self.metrics.active_calls.dec()

    async def end_all_calls(self, reason: str = "shutdown") -> None:
        """Graceful stop: end every active call now (each is flushed, scored and stored by its own handler); from
        now on no call is admitted (a connection already open that starts one is refused with 1013)."""
        self._stopping = True
        for session in list(self.sessions.values()):
            with contextlib.suppress(Exception):
                await session.end(reason)

    def start_draining(self) -> None:
        """SIGTERM: not ready from now on (/readyz 503, the load balancer stops sending), new calls refused with
        1013, the heartbeat says "draining"; running calls go on."""
        self.draining = True
        self.ready_reason = "draining"
        self.metrics.draining.set(1)

    async def drain(self, grace: float) -> bool:
        """Wait up to `grace` seconds for the running calls to end by themselves (naturally: completed and scored);
        True when none is left."""
        deadline = time.monotonic() + grace
        while self.sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        return not self.sessions

    async def wait_calls_finished(self, timeout: float) -> bool:
        """True once every active call is scored and stored (its connection may still be open: close it next)."""
        deadline = time.monotonic() + timeout
        while self._unstored() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return not self._unstored()

    def _unstored(self) -> list[CallSession]:
        return [s for s in self.sessions.values() if not s.stored.is_set()]
