"""Ingest authentication: who may open each ingest endpoint (upgrade credentials) and start a call (Twilio token)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping

from websockets.http11 import Request

from monitor.access.hashing import AUTH_FAILURE_DELAY, SecretChecker, StoredHash, parse_hash, refusal_delay
from monitor.config.settings import Config
from streams.protocols import CallOpened
from streams.protocols.signatures import decode_client_secret, verify_audiohook_request, verify_twilio_signature

log = logging.getLogger("callwarden.auth")
__all__ = ["AUTH_FAILURE_DELAY", "IngestAuth", "describe", "refusal_delay"]

AUDIOHOOK_MAX_AGE = 10.0
AUDIOHOOK_CLOCK_SKEW = 3.0
TWILIO, AUDIOHOOK, AUDIOFORK, RAW = "/ingest/twilio", "/ingest/audiohook", "/ingest/audiofork", "/ingest/raw"
MAX_CREDENTIAL_CHARS = 4096


class ReplayGuard:
    """Remembers values (signatures) for a while; a value seen again before it is forgotten is a replay."""

    def __init__(self, ttl: float, capacity: int = 100_000) -> None:
        self.ttl = ttl
        self.capacity = capacity
        self._seen: OrderedDict[bytes, float] = OrderedDict()

    def first_use(self, value: str, now: float) -> bool:
        """True the first time `value` is seen within `ttl` seconds (then remembered), False for a replay."""
        while self._seen and (next(iter(self._seen.values())) < now or len(self._seen) >= self.capacity):
            self._seen.popitem(last=False)
        key = hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()
        if key in self._seen:
            return False
        self._seen[key] = now + self.ttl
        return True


def twilio_call_token(key: str, call_sid: str, expires: int) -> str:
    """The per-call token for Twilio's customParameters.token: "<expires>.<base64url HMAC-SHA256(key, sid.expires)>".

    Made by whoever answers Twilio's voice webhook (it knows CallSid) and put in <Stream><Parameter name="token">.
    """
    mac = hmac.new(key.encode("utf-8"), f"{call_sid}.{expires}".encode(), hashlib.sha256).digest()
    return f"{expires}.{base64.urlsafe_b64encode(mac).decode('ascii').rstrip('=')}"


def check_twilio_call_token(key: str, call_sid: str, token: str, now: float, max_ttl: float) -> str | None:
    """None when `token` was made by twilio_call_token for this call and is valid at `now`, else why not."""
    expires_text, dot, _ = token.partition(".")
    if not dot or not expires_text.isascii() or not expires_text.isdigit() or len(expires_text) > 12:
        return "call token malformed"
    expires = int(expires_text)
    if not hmac.compare_digest(twilio_call_token(key, call_sid, expires).encode(), token.encode("utf-8", "replace")):
        return "call token signature wrong (or made for another callSid)"
    if expires < now:
        return "call token expired"
    if expires > now + max_ttl:
        return f"call token valid for more than {max_ttl:g} s (twilio.call_token_max_ttl)"
    return None


def _authorization(request: Request, scheme: str) -> str | None:
    """The credentials after `scheme` in the Authorization header (scheme case-insensitive), or None."""
    values = request.headers.get_all("Authorization")
    if len(values) != 1 or len(values[0]) > MAX_CREDENTIAL_CHARS:
        return None
    given, _, credentials = values[0].strip().partition(" ")
    if given.lower() != scheme.lower() or not credentials.strip():
        return None
    return credentials.strip()


class IngestAuth:
    """The credential checks of the four ingest endpoints, built once from the config."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.require_auth = config.ingest.require_auth
        self._audiohook_secrets = {
            key: decode_client_secret(secret) if secret else b"" for key, secret in config.audiohook.api_keys.items()
        }
        self._users = {name: parse_hash(stored) for name, stored in config.audiofork.users.items()}
        self._raw_tokens = [parse_hash(stored) for stored in config.raw.tokens.values()]
        self._call_tokens = [parse_hash(stored) for stored in config.twilio.call_tokens.values()]
        self._replays = ReplayGuard(AUDIOHOOK_MAX_AGE + AUDIOHOOK_CLOCK_SKEW)
        self._secrets = SecretChecker()

    def configured(self) -> dict[str, bool]:
        """Ingest path → whether credentials are configured for it (Twilio: signature and per-call token)."""
        twilio = self.config.twilio
        return {
            TWILIO: bool(twilio.auth_token) and bool(twilio.call_token_key or self._call_tokens),
            AUDIOHOOK: bool(self._audiohook_secrets),
            AUDIOFORK: bool(self._users),
            RAW: bool(self._raw_tokens),
        }

    def startup_warnings(self) -> list[str]:
        """One loud line per endpoint that is open (or refuses everyone) for want of credentials."""
        twilio = self.config.twilio
        lines: list[str] = []
        settings = {
            TWILIO: "twilio.auth_token and twilio.call_token_key (or twilio.call_tokens)",
            AUDIOHOOK: "audiohook.api_keys",
            AUDIOFORK: "audiofork.users",
            RAW: "raw.tokens",
        }
        for path, ok in self.configured().items():
            if ok:
                continue
            if self.require_auth:
                lines.append(f"{path} REFUSES every connection: ingest.require_auth is on and {settings[path]} unset")
            elif path == TWILIO and twilio.auth_token:
                lines.append(f"{path} checks X-Twilio-Signature only (replayable): set twilio.call_token_key")
            else:
                lines.append(f"{path} accepts UNAUTHENTICATED connections (demo mode): set {settings[path]}")
        return lines

    async def check_upgrade(self, path: str, request: Request) -> str | None:
        """None when the upgrade to `path` may proceed, else the reason (for our log only)."""
        if path == TWILIO:
            return self._twilio_upgrade(request)
        if path == AUDIOHOOK:
            return self._audiohook_upgrade(request)
        if path == AUDIOFORK:
            return await self._basic(request)
        if path == RAW:
            return await self._bearer(request)
        return f"{path} is not an ingest path"

    def _open_endpoint(self, path: str) -> str | None:
        return f"{path}: no credentials configured and ingest.require_auth is on" if self.require_auth else None

    def _twilio_upgrade(self, request: Request) -> str | None:
        twilio = self.config.twilio
        if not self.configured()[TWILIO] and (self.require_auth or not twilio.auth_token):
            return self._open_endpoint(TWILIO)
        signatures = request.headers.get_all("X-Twilio-Signature")
        if len(signatures) != 1 or not signatures[0] or len(signatures[0]) > MAX_CREDENTIAL_CHARS:
            return "twilio: X-Twilio-Signature missing or repeated"
        url = twilio.public_url or f"wss://{request.headers.get('Host', '')}{request.path}"
        if not verify_twilio_signature(twilio.auth_token, url, signatures[0]):
            return f"twilio: X-Twilio-Signature does not sign {url}"
        return None

    def _audiohook_upgrade(self, request: Request) -> str | None:
        if not self._audiohook_secrets:
            return self._open_endpoint(AUDIOHOOK)
        now = time.time()
        result = verify_audiohook_request(
            request.headers.raw_items(), request.path, self._audiohook_secrets, now, AUDIOHOOK_MAX_AGE
        )
        if not result.ok:
            return f"audiohook: {result.code} {result.reason}"
        signature = request.headers.get("Signature")
        if signature and not self._replays.first_use(signature, time.monotonic()):
            return "audiohook: replayed signature"
        return None

    async def _basic(self, request: Request) -> str | None:
        if not self._users:
            return self._open_endpoint(AUDIOFORK)
        credentials = _authorization(request, "Basic")
        if credentials is None:
            return "audiofork: no single Authorization: Basic header"
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return "audiofork: Basic credentials are not base64 of UTF-8"
        user, colon, password = decoded.partition(":")
        if not colon:
            return "audiofork: Basic credentials without ':'"
        stored = self._users.get(user)
        if not await self._secrets.matches(password, stored):
            return f"audiofork: wrong password for user {user[:64]!r}" if stored else "audiofork: unknown user"
        return None

    async def _bearer(self, request: Request) -> str | None:
        if not self._raw_tokens:
            return self._open_endpoint(RAW)
        token = _authorization(request, "Bearer")
        if token is None:
            return "raw: no single Authorization: Bearer header"
        if not await self._any_match(token, self._raw_tokens):
            return "raw: bearer token not accepted"
        return None

    async def _any_match(self, secret: str, hashes: list[StoredHash]) -> bool:
        results = [await self._secrets.matches(secret, stored) for stored in hashes]  # no early exit
        return any(results)

    def single_use(self, opened: CallOpened) -> bool:
        """True when the call was let in by a per-call credential (a Twilio call token): it opens its call once,
        so a start for a call id already stored is a replay and is refused."""
        twilio = self.config.twilio
        return opened.protocol == "twilio" and bool(twilio.call_token_key or self._call_tokens)

    async def check_call(self, opened: CallOpened) -> str | None:
        """None when the call may start, else why not: Twilio's per-call token (customParameters.token)."""
        twilio = self.config.twilio
        if opened.protocol != "twilio" or not (twilio.call_token_key or self._call_tokens):
            return None
        token = opened.auth_token or ""
        if not token or len(token) > MAX_CREDENTIAL_CHARS:
            return "twilio: call token missing (customParameters.token)"
        reason = "twilio: call token not accepted"
        if twilio.call_token_key:
            key, ttl = twilio.call_token_key, twilio.call_token_max_ttl
            signed = check_twilio_call_token(key, opened.call_id, token, time.time(), ttl)
            if signed is None:
                return None
            reason = f"twilio: {signed}"
        if self._call_tokens and await self._any_match(token, self._call_tokens):
            return None
        return reason


def describe(configured: Mapping[str, bool]) -> str:
    """`/ingest/twilio=auth /ingest/raw=open …` for the start-up log."""
    return " ".join(f"{path}={'auth' if ok else 'open'}" for path, ok in configured.items())
