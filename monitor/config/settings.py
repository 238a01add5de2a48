"""Service configuration: embedded defaults, an optional YAML file, and CALLWARDEN_* environment overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from monitor.access.hashing import check_hashes
from monitor.config.ingest import IngestConfig, RawConfig, TlsConfig
from monitor.config.notify import AlertWebhookConfig, NotifyConfigError, alert_webhooks
from monitor.config.trust import AccessConfig, EncryptionConfig, RetentionConfig, TrustConfigError
from streams.codecs import ASR_SAMPLE_RATES
from streams.vad import VAD_ENGINES


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the file or variable, the field and the fix."""


@dataclass(frozen=True, slots=True)
class TwilioConfig:
    """Twilio Media Streams: which track is which party, and the credentials of each stream (docs/security.md).

    `auth_token` checks X-Twilio-Signature over `public_url` (the wss:// URL given in <Stream url>; default
    wss://<Host header><path>). A per-call token in customParameters.token is checked against `call_token_key`
    (HMAC of callSid and expiry, see monitor.access.ingest_auth.twilio_call_token) or `call_tokens` (name → stored
    hash).
    """

    inbound_role: str = "customer"
    outbound_role: str = "agent"
    auth_token: str = field(default="", repr=False)
    public_url: str = ""
    call_token_key: str = field(default="", repr=False)
    call_tokens: dict[str, str] = field(default_factory=dict, repr=False)
    call_token_max_ttl: float = 86400.0

    def __post_init__(self) -> None:
        if self.public_url and not self.public_url.startswith(("wss://", "https://")):
            raise ConfigError(f"twilio.public_url must be the wss:// URL Twilio connects to, not {self.public_url!r}")
        try:
            check_hashes(self.call_tokens, "twilio.call_tokens", passwords=False)
        except ValueError as error:
            raise ConfigError(str(error)) from None


@dataclass(frozen=True, slots=True)
class AudioHookConfig:
    """Genesys AudioHook: accepted API keys and their client secrets (base64; empty = no signature required).

    `transcription_connector` (API key → "final" or "partial"): sessions opened with that key get the call's
    redacted transcript back as AudioHook `event` messages (final utterances; "partial" adds partial results),
    so Callwarden serves as a Genesys Cloud transcription connector. Keys not listed are monitored only.
    """

    api_keys: dict[str, str] = field(default_factory=dict)
    transcription_connector: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, mode in self.transcription_connector.items():
            if mode not in ("final", "partial"):
                raise ConfigError(
                    f"audiohook.transcription_connector[{key!r}] must be \"final\" or \"partial\", not {mode!r}"
                )
            if self.api_keys and key not in self.api_keys:
                raise ConfigError(
                    f"audiohook.transcription_connector names API key {key!r}, which is not in audiohook.api_keys"
                )


@dataclass(frozen=True, slots=True)
class AudioForkConfig:
    """FreeSWITCH mod_audio_fork / jambonz: how streams are mixed and sampled, and which stereo channel is the agent.

    mod_audio_fork never tells the server its mix type or sampling rate (they are `uuid_audio_fork` arguments), so
    `mix` and `sample_rate` must match the dialplan; jambonz metadata (mixType, sampleRate) overrides them per call.
    """

    agent_channel: int = 1
    mix: str = "stereo"
    sample_rate: int = 8000
    users: dict[str, str] = field(default_factory=dict, repr=False)  # HTTP Basic: name → scrypt/pbkdf2 hash

    def __post_init__(self) -> None:
        try:
            check_hashes(self.users, "audiofork.users", passwords=True)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        if self.agent_channel not in (0, 1):
            raise ConfigError(f"audiofork.agent_channel must be 0 or 1, not {self.agent_channel}")
        if self.mix not in ("mono", "mixed", "stereo"):
            raise ConfigError(f"audiofork.mix must be mono, mixed or stereo (as in uuid_audio_fork), not {self.mix!r}")
        if self.sample_rate not in ASR_SAMPLE_RATES:
            known = ", ".join(str(r) for r in ASR_SAMPLE_RATES)
            raise ConfigError(f"audiofork.sample_rate must be one of {known} Hz, not {self.sample_rate}")


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """The signed HTTP webhook recording control events are POSTed to (monitor/sinks/webhook.py); empty url: none."""

    url: str = ""
    secret: str = field(default="", repr=False)  # HMAC-SHA256 key of the Callwarden-Signature header
    timeout: float = 5.0

    def __post_init__(self) -> None:
        if not self.url:
            return
        if not self.url.startswith(("http://", "https://")):
            raise ConfigError(f"webhook.url must be an http:// or https:// URL, not {self.url[:80]!r}")
        if not 0 < self.timeout <= 60:
            raise ConfigError(f"webhook.timeout must be 0..60 seconds, not {self.timeout}")


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    """Where the store is: empty `url` keeps the embedded SQLite file in data_dir (one replica); a PostgreSQL URL
    (postgresql://user:password@host:port/db) makes this process one replica of many sharing that database
    (docs/scale-out.md). `migrate`: apply pending schema migrations at start-up (else `callwarden db migrate`).
    `replica_id`: this replica's name (default: host name and process id); `lease_seconds`: how long a replica may
    miss its heartbeat before its calls are marked incomplete / replica-lost by a survivor.
    """

    url: str = field(default="", repr=False)
    migrate: bool = False
    replica_id: str = ""
    lease_seconds: float = 15.0

    def __post_init__(self) -> None:
        if self.url and not self.url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(
                "database.url must be a PostgreSQL URL (postgresql://user:password@host:5432/callwarden) or empty "
                "for the embedded SQLite store"
            )
        if not 3.0 <= self.lease_seconds <= 600.0:
            raise ConfigError(f"database.lease_seconds must be 3..600 seconds, not {self.lease_seconds}")

    @property
    def shared(self) -> bool:
        """True when several replicas share the store (PostgreSQL)."""
        return bool(self.url)


@dataclass(frozen=True, slots=True)
class Config:
    """Everything `callwarden serve` needs; every field has an embedded default."""

    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = field(default_factory=lambda: Path.home() / ".local" / "share" / "callwarden")
    mqtt_url: str = ""
    mqtt_topic_prefix: str = "callwarden"
    rules_dirs: tuple[Path, ...] = ()
    # Opt-in packs shipped in rules/packs/optional/ for one jurisdiction (tcpa, fdcpa, hipaa, us-two-party-consent,
    # garante-it; "all" for every one): a list in YAML, comma-separated in $CALLWARDEN_PACKS. Unknown names fail.
    packs: tuple[str, ...] = ()
    # More opt-in packs for the calls of some queues (the call's `queue` metadata): {queue: [pack, ...]} in YAML.
    queue_packs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # PCI pause/resume: publish pause_recording / resume_recording on <prefix>/calls/<id>/control when a payment
    # context opens / after this many seconds of audio without digits or payment prompts (rules/recording_control.py).
    recording_control: bool = False
    recording_resume_seconds: float = 10.0
    model_path: str = ""
    language: str = "en-us"
    asr_threads: int = 0
    # When recognition falls this far behind on a leg, live audio is shed (dropped, counted, logged) rather than
    # blocking the socket reader: a blocked reader stops answering keepalive pings and the platform drops the call.
    asr_max_queued_seconds: float = 10.0
    asr_overflow: str = "shed"  # shed | block
    # Voice-activity gating before the recognizer (streams/vad.py): silence is not decoded. off | webrtc | silero
    asr_vad: str = "off"
    # Swap a leg's recognizer for a fresh one at an utterance end after this much decoded audio (0: never); bounds
    # its memory, which otherwise grows with the audio it decodes (streams/recognizers.py, BENCHMARKS.md).
    asr_recycle_seconds: float = 0.0
    max_calls: int = 64
    max_asr_lag: float = 5.0  # refuse new calls (1013) while a call's recognition trails its audio more (0: off)
    max_frame_bytes: int = 1 << 20
    tick_interval: float = 1.0
    # SIGTERM drains: /readyz turns 503 at once, new calls are refused with 1013, running calls finish naturally (and
    # are scored) for up to this many seconds; calls still open then end incomplete (no score). 0: end them at once.
    # Kubernetes: terminationGracePeriodSeconds must exceed it (deploy/kubernetes/, docs/scale-out.md).
    drain_grace_seconds: float = 30.0
    log_level: str = "INFO"
    demo: bool = False  # allow listening beyond loopback without credentials (monitor/access/exposure.py)
    # On SIGTERM, calls get this long to flush, score and store; then those still running are cancelled (incomplete).
    # Set it a few seconds under the orchestrator's kill deadline (Kubernetes: terminationGracePeriodSeconds).
    shutdown_grace: float = 30.0
    twilio: TwilioConfig = field(default_factory=TwilioConfig)
    audiohook: AudioHookConfig = field(default_factory=AudioHookConfig)
    audiofork: AudioForkConfig = field(default_factory=AudioForkConfig)
    encryption: EncryptionConfig = field(default_factory=EncryptionConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    access: AccessConfig = field(default_factory=AccessConfig)
    raw: RawConfig = field(default_factory=RawConfig)
    tls: TlsConfig = field(default_factory=TlsConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    webhook: WebhookConfig = field(default_factory=WebhookConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    # Finding alerts POSTed to HTTP receivers by severity (signed; json, Slack or Teams shape): a YAML list of
    # {name, url, template, severities, secret, timeout, dashboard_url} (monitor/config/notify.py).
    alert_webhooks: tuple[AlertWebhookConfig, ...] = ()

    def __post_init__(self) -> None:
        if self.asr_overflow not in ("shed", "block"):
            raise ConfigError(f"asr_overflow must be shed or block, not {self.asr_overflow!r}")
        if self.asr_vad not in ("off", *VAD_ENGINES):
            raise ConfigError(f"asr_vad must be off, {' or '.join(VAD_ENGINES)}, not {self.asr_vad!r}")
        if not 1.0 <= self.recording_resume_seconds <= 600.0:
            raise ConfigError(
                f"recording_resume_seconds must be 1..600 (seconds of quiet before resuming), "
                f"not {self.recording_resume_seconds}"
            )
        if self.asr_recycle_seconds != 0 and not 1 <= self.asr_recycle_seconds <= 3600:
            raise ConfigError(f"asr_recycle_seconds must be 0 (never) or 1..3600, not {self.asr_recycle_seconds}")
        if not 0 <= self.drain_grace_seconds <= 3600:
            raise ConfigError(f"drain_grace_seconds must be 0..3600, not {self.drain_grace_seconds}")
        if self.asr_max_queued_seconds <= 0:
            raise ConfigError(f"asr_max_queued_seconds must be positive, not {self.asr_max_queued_seconds}")
        if not 0 < self.shutdown_grace <= 3600:
            raise ConfigError(f"shutdown_grace must be 0 < seconds ≤ 3600 (e.g. 30), not {self.shutdown_grace}")

    @property
    def db_path(self) -> Path:
        return self.data_dir / "callwarden.sqlite3"


ENV_OVERRIDES: dict[str, str] = {
    "CALLWARDEN_HOST": "host",
    "CALLWARDEN_PORT": "port",
    "CALLWARDEN_DATA_DIR": "data_dir",
    "CALLWARDEN_MQTT_URL": "mqtt_url",
    "CALLWARDEN_MQTT_TOPIC_PREFIX": "mqtt_topic_prefix",
    "CALLWARDEN_RULES_DIRS": "rules_dirs",
    "CALLWARDEN_PACKS": "packs",
    "CALLWARDEN_RECORDING_CONTROL": "recording_control",
    "CALLWARDEN_WEBHOOK_URL": "webhook.url",
    "CALLWARDEN_WEBHOOK_SECRET": "webhook.secret",
    "CALLWARDEN_MODEL": "model_path",
    "CALLWARDEN_ASR_THREADS": "asr_threads",
    "CALLWARDEN_ASR_OVERFLOW": "asr_overflow",
    "CALLWARDEN_ASR_VAD": "asr_vad",
    "CALLWARDEN_ASR_RECYCLE_SECONDS": "asr_recycle_seconds",
    "CALLWARDEN_MAX_CALLS": "max_calls",
    "CALLWARDEN_MAX_ASR_LAG": "max_asr_lag",
    "CALLWARDEN_DRAIN_GRACE": "drain_grace_seconds",
    "CALLWARDEN_LOG_LEVEL": "log_level",
    "CALLWARDEN_DEMO": "demo",
    "CALLWARDEN_SHUTDOWN_GRACE": "shutdown_grace",
    "CALLWARDEN_TWILIO_AUTH_TOKEN": "twilio.auth_token",
    "CALLWARDEN_DATA_KEY": "encryption.key",
    "CALLWARDEN_DATA_KEYS_RETIRED": "encryption.retired_keys",
    "CALLWARDEN_DATA_KEY_FILE": "encryption.key_file",
    "CALLWARDEN_REQUIRE_AUTH": "access.require_auth",
    "CALLWARDEN_INGEST_REQUIRE_AUTH": "ingest.require_auth",
    "CALLWARDEN_TWILIO_PUBLIC_URL": "twilio.public_url",
    "CALLWARDEN_TWILIO_CALL_TOKEN_KEY": "twilio.call_token_key",
    "CALLWARDEN_TLS_CERT": "tls.cert",
    "CALLWARDEN_TLS_KEY": "tls.key",
    "CALLWARDEN_DATABASE_URL": "database.url",
    "CALLWARDEN_DB_MIGRATE": "database.migrate",
    "CALLWARDEN_REPLICA_ID": "database.replica_id",
    "CALLWARDEN_REPLICA_LEASE": "database.lease_seconds",
}

_NAME_LISTS = frozenset({"packs"})
"""Top-level settings that are lists of names (not paths): YAML lists or comma-separated strings."""

_SECTIONS = {
    "twilio": TwilioConfig,
    "audiohook": AudioHookConfig,
    "audiofork": AudioForkConfig,
    "encryption": EncryptionConfig,
    "retention": RetentionConfig,
    "access": AccessConfig,
    "raw": RawConfig,
    "tls": TlsConfig,
    "ingest": IngestConfig,
    "webhook": WebhookConfig,
    "database": DatabaseConfig,
}


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Defaults, then the YAML file (if any), then the environment; raises ConfigError on a bad value."""
    raw: dict[str, Any] = {}
    if path is not None:
        raw = _read_yaml(path)
    config: Config = _apply(Config(), raw, origin=str(path))
    environ = os.environ if env is None else env
    for var, dotted in ENV_OVERRIDES.items():
        if var in environ:
            config = _apply_dotted(config, dotted, environ[var], origin=f"${var}")
    if config.webhook.url and len(config.webhook.secret) < 16:  # checked once file and environment are merged
        raise ConfigError(
            "webhook.secret must be at least 16 characters (the receiver checks the HMAC signature with it); "
            "set it in the config file or $CALLWARDEN_WEBHOOK_SECRET"
        )
    return config


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return data


def _apply(config: Any, raw: Mapping[str, Any], origin: str, prefix: str = "") -> Any:
    known = {f.name: f for f in fields(config)}
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        name = str(key).replace("-", "_")
        if name not in known:
            raise ConfigError(f"{origin}: unknown setting {prefix}{key!r}; known: {', '.join(sorted(known))}")
        if name in _SECTIONS and prefix == "":
            if not isinstance(value, dict):
                raise ConfigError(f"{origin}: {name} must be a mapping")
            changes[name] = _apply(getattr(config, name), value, origin, prefix=f"{name}.")
        elif name in _NAME_LISTS and prefix == "":
            changes[name] = _names(value, f"{origin}: {name}")
        elif name == "queue_packs" and prefix == "":
            changes[name] = _queue_packs(value, origin)
        elif name == "alert_webhooks" and prefix == "":
            try:
                changes[name] = alert_webhooks(value)
            except NotifyConfigError as exc:
                raise ConfigError(f"{origin}: {exc}") from None
        else:
            changes[name] = _coerce(getattr(config, name), value, f"{origin}: {prefix}{name}")
    try:
        return replace(config, **changes)
    except (ConfigError, TrustConfigError) as exc:
        raise ConfigError(f"{origin}: {exc}") from None


def _apply_dotted(config: Config, dotted: str, value: str, origin: str) -> Config:
    section, _, name = dotted.rpartition(".")
    raw: dict[str, Any] = {section: {name: value}} if section else {name: value}
    updated: Config = _apply(config, raw, origin)
    return updated


def _queue_packs(value: Any, origin: str) -> dict[str, tuple[str, ...]]:
    """queue → opt-in pack names, from a YAML mapping."""
    if not isinstance(value, dict):
        raise ConfigError(
            f"{origin}: queue_packs must be a mapping queue → [pack, ...], e.g. {{ca-sales: [us-two-party-consent]}}"
        )
    return {str(queue): _names(names, f"{origin}: queue_packs.{queue}") for queue, names in value.items()}


def _names(value: Any, where: str) -> tuple[str, ...]:
    """A list of names from YAML (a list) or the environment (comma-separated)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise ConfigError(f"{where}: bad value {value!r}; expected a list of names, e.g. [tcpa, fdcpa]")
    return tuple(item.strip() for item in items if item.strip())


def _coerce(current: Any, value: Any, where: str) -> Any:
    try:
        if isinstance(current, bool):
            return value if isinstance(value, bool) else str(value).lower() in {"1", "true", "yes", "on"}
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
        if isinstance(current, Path):
            return Path(str(value)).expanduser()
        if isinstance(current, tuple):
            items = value.split(os.pathsep) if isinstance(value, str) else list(value)
            return tuple(Path(str(v)).expanduser() for v in items if str(v))
        if isinstance(current, dict):
            if not isinstance(value, dict):
                raise TypeError("expected a mapping")
            return {str(k): str(v) for k, v in value.items()}
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: bad value {value!r} ({exc}); expected {type(current).__name__}") from None
