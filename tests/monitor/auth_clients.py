"""Credentials for the ingest auth tests: the configured secrets, well-signed requests and their bad variants."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from monitor.access.hashing import hash_secret
from monitor.access.ingest_auth import twilio_call_token
from monitor.config.ingest import IngestConfig, RawConfig
from monitor.config.settings import AudioForkConfig, AudioHookConfig, TwilioConfig
from streams.protocols.signatures import twilio_signature

Headers = list[tuple[str, str]]

TWILIO_AUTH_TOKEN = "acceptance-twilio-auth-token"
TWILIO_PUBLIC_URL = "wss://callwarden.example.test/ingest/twilio"  # what Twilio was told; our Host differs (proxy)
CALL_TOKEN_KEY = "acceptance-call-token-key"
STATIC_CALL_TOKEN = "static-call-token-" + "7" * 24
AH_KEYS = {"ah-key-one": b"audiohook secret number one 32b!", "ah-key-two": b"audiohook secret number two 32b!"}
FORK_USERS = {"fs-one": "correct horse battery staple", "fs-two": "tr0ub4dor&3"}
RAW_TOKENS = {"pbx": secrets.token_urlsafe(32), "legacy": "a-weaker-legacy-token-stored-with-scrypt"}


def service_changes() -> dict[str, Any]:
    """running_service(**changes) arguments configuring credentials on all four ingest endpoints."""
    twilio = TwilioConfig(
        auth_token=TWILIO_AUTH_TOKEN,
        public_url=TWILIO_PUBLIC_URL,
        call_token_key=CALL_TOKEN_KEY,
        call_tokens={"static": hash_secret(STATIC_CALL_TOKEN, "sha256")},
    )
    audiohook = AudioHookConfig(api_keys={k: base64.b64encode(v).decode() for k, v in AH_KEYS.items()})
    fork = AudioForkConfig(users={name: hash_secret(password) for name, password in FORK_USERS.items()})
    raw = RawConfig(
        tokens={"pbx": hash_secret(RAW_TOKENS["pbx"], "sha256"), "legacy": hash_secret(RAW_TOKENS["legacy"])}
    )
    ingest = IngestConfig(require_auth=True, max_connections_per_address=2048)
    return {"twilio": twilio, "audiohook": audiohook, "audiofork": fork, "raw": raw, "ingest": ingest}


@dataclass(frozen=True, slots=True)
class Attempt:
    """One connection attempt: upgrade headers and, for Twilio, the customParameters token sent in `start`."""

    name: str
    headers: Headers = field(default_factory=list)
    call_token: str | None = None
    path_suffix: str = ""
    call_sid: str = ""


# ---- Twilio --------------------------------------------------------------------------------------------------------


def twilio_good_signature() -> Headers:
    return [("X-Twilio-Signature", twilio_signature(TWILIO_AUTH_TOKEN, TWILIO_PUBLIC_URL))]


def call_token(call_sid: str, ttl: float = 600, key: str = CALL_TOKEN_KEY) -> str:
    return twilio_call_token(key, call_sid, int(time.time() + ttl))


def flip(text: str, index: int) -> str:
    """`text` with the character at `index` replaced by another of the same alphabet."""
    char = text[index]
    return text[:index] + ("A" if char != "A" else "B") + text[index + 1 :]


def twilio_variants(port: int) -> list[Attempt]:
    """Bad upgrades (refused with 401) and bad call tokens (closed 1008) — a valid counterpart of each is accepted."""
    good = twilio_signature(TWILIO_AUTH_TOKEN, TWILIO_PUBLIC_URL)
    host_url = f"wss://127.0.0.1:{port}/ingest/twilio"
    sig = "X-Twilio-Signature"
    upgrade = [
        Attempt("no-signature"),
        Attempt("empty-signature", [(sig, "")]),
        Attempt("signed-host-url-not-public-url", [(sig, twilio_signature(TWILIO_AUTH_TOKEN, host_url))]),
        Attempt(
            "signed-https-scheme",
            [(sig, twilio_signature(TWILIO_AUTH_TOKEN, TWILIO_PUBLIC_URL.replace("wss", "https")))],
        ),
        Attempt("signed-other-path", [(sig, twilio_signature(TWILIO_AUTH_TOKEN, TWILIO_PUBLIC_URL + "/"))]),
        Attempt("signed-with-query", [(sig, twilio_signature(TWILIO_AUTH_TOKEN, TWILIO_PUBLIC_URL + "?a=b"))]),
        Attempt("wrong-auth-token", [(sig, twilio_signature("not-the-token", TWILIO_PUBLIC_URL))]),
        Attempt("empty-auth-token", [(sig, twilio_signature("", TWILIO_PUBLIC_URL))]),
        Attempt("truncated", [(sig, good[:-4])]),
        Attempt("extended", [(sig, good + "AAAA")]),
        Attempt("no-padding", [(sig, good.rstrip("="))]),
        Attempt("lowercased", [(sig, good.lower())]),
        Attempt("hex-digest", [(sig, base64.b64decode(good).hex())]),
        Attempt("urlsafe-alphabet", [(sig, good.replace("+", "-").replace("/", "_") + "-_")]),
        Attempt(
            "sha256-hmac",
            [(sig, _b64(hmac.new(TWILIO_AUTH_TOKEN.encode(), TWILIO_PUBLIC_URL.encode(), hashlib.sha256)))],
        ),
        Attempt("signature-twice", [(sig, good), (sig, good)]),
        Attempt("wrong-then-good", [(sig, "x" * 28), (sig, good)]),
        Attempt("huge", [(sig, "A" * 4000)]),
        Attempt("space-padded-garbage", [(sig, "  " + good[::-1] + "  ")]),
        Attempt("wrong-header-name", [("X-Twilio-Signatures", good)]),
        Attempt("as-authorization", [("Authorization", f"Bearer {good}")]),
        *(Attempt(f"flipped-{i}", [(sig, flip(good, i))]) for i in range(0, 27, 3)),
    ]
    good_sig = [(sig, good)]
    tokens: list[tuple[str, Callable[[str], str | None]]] = [
        ("token-missing", lambda sid: None),
        ("token-empty", lambda sid: ""),
        ("token-for-other-call", lambda sid: call_token("CA" + "e" * 32)),
        ("token-expired", lambda sid: call_token(sid, ttl=-5)),
        ("token-expired-long-ago", lambda sid: call_token(sid, ttl=-86400)),
        ("token-ttl-too-long", lambda sid: call_token(sid, ttl=10 * 86400)),
        ("token-wrong-key", lambda sid: call_token(sid, key="wrong-key")),
        ("token-no-dot", lambda sid: call_token(sid).replace(".", "")),
        ("token-negative-expiry", lambda sid: "-1." + call_token(sid).split(".")[1]),
        ("token-expiry-changed", lambda sid: str(int(time.time()) + 900) + "." + call_token(sid).split(".")[1]),
        ("token-padded", lambda sid: call_token(sid) + "="),
        ("token-truncated", lambda sid: call_token(sid)[:-2]),
        ("token-hex-expiry", lambda sid: "0x" + call_token(sid)),
        ("token-spaces", lambda sid: " " + call_token(sid) + " "),
        ("token-lowercase-sid", lambda sid: call_token(sid.lower())),
        ("static-token-wrong", lambda sid: STATIC_CALL_TOKEN[:-1] + "8"),
        ("static-token-upper", lambda sid: STATIC_CALL_TOKEN.upper()),
        ("static-token-hash", lambda sid: hashlib.sha256(STATIC_CALL_TOKEN.encode()).hexdigest()),
        ("token-is-auth-token", lambda sid: TWILIO_AUTH_TOKEN),
        ("token-is-key", lambda sid: CALL_TOKEN_KEY),
        ("token-long", lambda sid: "9" * 500),
        ("token-unicode", lambda sid: "１２３." + "é" * 43),
        *((f"token-flipped-{i}", lambda sid, i=i: flip(call_token(sid), i)) for i in range(11, 54, 6)),
    ]
    calls = []
    for name, make in tokens:
        sid = "CA" + uuid.uuid4().hex.upper()[:8] + uuid.uuid4().hex[:24]
        calls.append(Attempt(name, good_sig, make(sid), call_sid=sid))
    return upgrade + calls


def _b64(mac: hmac.HMAC) -> str:
    return base64.b64encode(mac.digest()).decode()


def twilio_frames(call_sid: str, token: str | None, chunks: int = 25) -> list[str]:
    """connected, start (token in customParameters), `chunks` × 20 ms of silence on both tracks, stop."""
    stream = "MZ" + uuid.uuid4().hex
    params = {"agent": "a-1"} if token is None else {"agent": "a-1", "token": token}
    start = {"accountSid": "AC" + "0" * 32, "streamSid": stream, "callSid": call_sid,
             "tracks": ["inbound", "outbound"], "customParameters": params,
             "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}  # fmt: skip
    frames = [json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
              json.dumps({"event": "start", "sequenceNumber": "1", "streamSid": stream, "start": start})]  # fmt: skip
    silence = base64.b64encode(b"\xff" * 160).decode()
    seq = 1
    for chunk in range(chunks):
        for track in ("inbound", "outbound"):
            seq += 1
            media = {"track": track, "chunk": str(chunk + 1), "timestamp": str(chunk * 20), "payload": silence}
            frames.append(
                json.dumps({"event": "media", "sequenceNumber": str(seq), "streamSid": stream, "media": media})
            )
    frames.append(json.dumps({"event": "stop", "sequenceNumber": str(seq + 1), "streamSid": stream}))
    return frames


# ---- AudioHook -----------------------------------------------------------------------------------------------------

AH_COMPONENTS = (
    "@request-target",
    "@authority",
    "audiohook-organization-id",
    "audiohook-session-id",
    "audiohook-correlation-id",
    "x-api-key",
)


@dataclass(frozen=True, slots=True)
class AudioHookRequest:
    """The inputs of a signed AudioHook upgrade; `headers()` signs them (each field can be spoiled on its own)."""

    authority: str
    target: str = "/ingest/audiohook"
    api_key: str = "ah-key-one"
    secret: bytes = AH_KEYS["ah-key-one"]
    keyid: str | None = None
    nonce: str | None = None
    created: int | None = None
    expires: int | None = None
    alg: str | None = "hmac-sha256"
    components: tuple[str, ...] = AH_COMPONENTS
    extra_params: str = ""
    label: str = "sig1"
    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    organization_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def fields(self) -> dict[str, str]:
        return {
            "audiohook-organization-id": self.organization_id,
            "audiohook-session-id": self.session_id,
            "audiohook-correlation-id": self.correlation_id,
            "x-api-key": self.api_key,
        }

    def params(self) -> str:
        now = int(time.time())
        keyid = self.api_key if self.keyid is None else self.keyid
        nonce = secrets.token_urlsafe(24) if self.nonce is None else self.nonce
        created = now if self.created is None else self.created
        expires = created + 30 if self.expires is None else self.expires
        alg = f';alg="{self.alg}"' if self.alg else ""
        return f';keyid="{keyid}";nonce="{nonce}"{alg};created={created};expires={expires}{self.extra_params}'

    def headers(self, spoil: Callable[[dict[str, str]], dict[str, str]] | None = None) -> Headers:
        """Signed upgrade headers; `spoil` may change the headers after signing."""
        values = {**self.fields(), "@request-target": self.target, "@authority": self.authority}
        inner = "(" + " ".join(f'"{c}"' for c in self.components) + ")" + self.params()
        lines = [f'"{c}": {values.get(c, "")}' for c in self.components] + [f'"@signature-params": {inner}']
        digest = hmac.new(self.secret, "\n".join(lines).encode(), hashlib.sha256).digest()
        headers = {
            **{name.title(): value for name, value in self.fields().items()},
            "X-API-KEY": self.api_key,
            "Signature-Input": f"{self.label}={inner}",
            "Signature": f"{self.label}=:{base64.b64encode(digest).decode()}:",
        }
        headers.pop("X-Api-Key", None)
        headers = spoil(headers) if spoil else headers
        return list(headers.items())


def _without(*names: str) -> Callable[[dict[str, str]], dict[str, str]]:
    return lambda h: {k: v for k, v in h.items() if k not in names}


def _setting(name: str, value: str) -> Callable[[dict[str, str]], dict[str, str]]:
    return lambda h: {**h, name: value}


def audiohook_variants(port: int) -> list[Attempt]:
    """Bad AudioHook upgrades: missing/unknown keys, wrong secrets, stale or future times, short nonces, tampering."""
    base = AudioHookRequest(authority=f"127.0.0.1:{port}")
    now = int(time.time())
    good_sig = base.headers()
    sig_value = dict(good_sig)["Signature"]
    variants: list[tuple[str, AudioHookRequest, Callable[[dict[str, str]], dict[str, str]] | None]] = [
        ("no-api-key", base, _without("X-API-KEY")),
        ("empty-api-key", base, _setting("X-API-KEY", "")),
        ("unknown-api-key", dataclasses.replace(base, api_key="ah-key-three", secret=b"x" * 32), None),
        ("unsigned", base, _without("Signature", "Signature-Input")),
        ("only-signature-input", base, _without("Signature")),
        ("only-signature", base, _without("Signature-Input")),
        ("wrong-secret", dataclasses.replace(base, secret=b"not the secret at all, 32 bytes!"), None),
        ("other-keys-secret", dataclasses.replace(base, secret=AH_KEYS["ah-key-two"]), None),
        ("keyid-other-valid-key", dataclasses.replace(base, keyid="ah-key-two"), None),
        ("keyid-unknown", dataclasses.replace(base, keyid="nobody"), None),
        ("keyid-empty", dataclasses.replace(base, keyid=""), None),
        ("nonce-21-chars", dataclasses.replace(base, nonce="n" * 21), None),
        ("nonce-empty", dataclasses.replace(base, nonce=""), None),
        ("replayed-old-created-11s", dataclasses.replace(base, created=now - 11, expires=now + 60), None),
        ("replayed-old-created-1h", dataclasses.replace(base, created=now - 3600, expires=now + 60), None),
        ("created-in-future", dataclasses.replace(base, created=now + 30), None),
        ("expired", dataclasses.replace(base, created=now - 5, expires=now - 1), None),
        ("created-zero", dataclasses.replace(base, created=0, expires=now + 60), None),
        ("alg-rsa", dataclasses.replace(base, alg="rsa-pss-sha512"), None),
        ("alg-hmac-sha512", dataclasses.replace(base, alg="hmac-sha512"), None),
        ("unknown-parameter", dataclasses.replace(base, extra_params=';tag="x"'), None),
        ("string-created", dataclasses.replace(base, extra_params=';created="1"'), None),
        ("label-mismatch", base, _setting("Signature", sig_value.replace("sig1=", "sig2="))),
        ("malformed-signature-input", base, _setting("Signature-Input", "sig1=(((")),
        ("malformed-signature", base, _setting("Signature", "sig1=:not base64!:")),
        ("signature-as-string", base, _setting("Signature", 'sig1="abc"')),
        ("signature-empty-bytes", base, _setting("Signature", "sig1=::")),
        ("signature-truncated", base, _setting("Signature", sig_value[:-6] + "==:")),
        ("session-id-changed", base, _setting("Audiohook-Session-Id", str(uuid.uuid4()))),
        ("organization-id-changed", base, _setting("Audiohook-Organization-Id", str(uuid.uuid4()))),
        ("correlation-id-changed", base, _setting("Audiohook-Correlation-Id", str(uuid.uuid4()))),
        ("api-key-changed-after-signing", base, _setting("X-API-KEY", "ah-key-two")),
        ("signed-other-target", dataclasses.replace(base, target="/ingest/audiohook/v2"), None),
        ("signed-other-authority", dataclasses.replace(base, authority="callwarden.example.test"), None),
        ("no-authority-component", dataclasses.replace(base, components=AH_COMPONENTS[:1] + AH_COMPONENTS[2:]), None),
        ("no-api-key-component", dataclasses.replace(base, components=AH_COMPONENTS[:-1]), None),
        ("no-session-component", dataclasses.replace(base, components=AH_COMPONENTS[:3] + AH_COMPONENTS[4:]), None),
        ("duplicate-component", dataclasses.replace(base, components=(*AH_COMPONENTS, "x-api-key")), None),
        (
            "signature-params-component",
            dataclasses.replace(base, components=(*AH_COMPONENTS, "@signature-params")),
            None,
        ),
        ("unknown-derived-component", dataclasses.replace(base, components=(*AH_COMPONENTS, "@status")), None),
        ("no-components", dataclasses.replace(base, components=()), None),
        ("bearer-instead", base, lambda h: {"Authorization": "Bearer " + sig_value, "X-API-KEY": base.api_key}),
        ("huge-signature-input", base, _setting("Signature-Input", "sig1=(" + '"x" ' * 900 + ")")),
    ]
    attempts = [Attempt(name, request.headers(spoil)) for name, request, spoil in variants]
    raw_sig = base64.b64decode(sig_value.split(":")[1])
    for i in range(0, 32, 4):
        bad = bytearray(raw_sig)
        bad[i] ^= 0x01
        attempts.append(
            Attempt(
                f"bit-flip-{i}", base.headers(_setting("Signature", f"sig1=:{base64.b64encode(bytes(bad)).decode()}:"))
            )
        )
    attempts.append(Attempt("query-added-after-signing", base.headers(), path_suffix="?x=1"))
    return attempts


# ---- audio_fork (HTTP Basic) and raw (Bearer) ----------------------------------------------------------------------


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def audiofork_variants() -> list[Attempt]:
    """Bad Basic credentials: missing, malformed, wrong password, other user's password, unknown user, wrong scheme."""
    user, password = "fs-one", FORK_USERS["fs-one"]
    auth = "Authorization"
    bad = [
        Attempt("no-authorization"),
        Attempt("empty-authorization", [(auth, "")]),
        Attempt("scheme-only", [(auth, "Basic")]),
        Attempt("scheme-and-space", [(auth, "Basic ")]),
        Attempt("bearer-scheme", [(auth, "Bearer " + password)]),
        Attempt("digest-scheme", [(auth, f'Digest username="{user}", response="x"')]),
        Attempt("not-base64", [(auth, "Basic fs-one:" + password)]),
        Attempt("base64-no-colon", [(auth, "Basic " + base64.b64encode(user.encode()).decode())]),
        Attempt("not-utf8", [(auth, "Basic " + base64.b64encode(b"fs-one:\xff\xfe").decode())]),
        Attempt("wrong-password", [(auth, basic(user, "wrong"))]),
        Attempt("empty-password", [(auth, basic(user, ""))]),
        Attempt("password-trailing-space", [(auth, basic(user, password + " "))]),
        Attempt("password-uppercase", [(auth, basic(user, password.upper()))]),
        Attempt("password-truncated", [(auth, basic(user, password[:-1]))]),
        Attempt("other-users-password", [(auth, basic(user, FORK_USERS["fs-two"]))]),
        Attempt("user-case-changed", [(auth, basic(user.upper(), password))]),
        Attempt("unknown-user", [(auth, basic("fs-three", password))]),
        Attempt("empty-user", [(auth, basic("", password))]),
        Attempt("swapped", [(auth, basic(password, user))]),
        Attempt("credentials-twice", [(auth, basic(user, password)), (auth, basic(user, password))]),
        Attempt("wrong-then-right", [(auth, basic(user, "x")), (auth, basic(user, password))]),
        Attempt("in-url-only", [], path_suffix=f"?user={user}&password=x"),
        Attempt("proxy-authorization", [("Proxy-Authorization", basic(user, password))]),
        Attempt("huge", [(auth, "Basic " + "QUFB" * 1200)]),
        Attempt("stored-hash-as-password", [(auth, basic(user, "scrypt$16384$8$1$AAAA$BBBB"))]),
    ]
    bad += [Attempt(f"random-password-{i}", [(auth, basic(user, secrets.token_urlsafe(12)))]) for i in range(26)]
    return bad


def raw_variants() -> list[Attempt]:
    """Bad bearer tokens: missing, wrong scheme, altered, hashed, repeated."""
    token = RAW_TOKENS["pbx"]
    auth = "Authorization"
    bad = [
        Attempt("no-authorization"),
        Attempt("empty-authorization", [(auth, "")]),
        Attempt("bearer-only", [(auth, "Bearer")]),
        Attempt("bearer-space", [(auth, "Bearer ")]),
        Attempt("basic-scheme", [(auth, "Basic " + base64.b64encode(f"pbx:{token}".encode()).decode())]),
        Attempt("token-scheme", [(auth, "Token " + token)]),
        Attempt("no-scheme", [(auth, token)]),
        Attempt("truncated", [(auth, "Bearer " + token[:-1])]),
        Attempt("extended", [(auth, "Bearer " + token + "x")]),
        Attempt("uppercased", [(auth, "Bearer " + token.upper())]),
        Attempt("sha256-of-token", [(auth, "Bearer " + hashlib.sha256(token.encode()).hexdigest())]),
        Attempt("stored-hash", [(auth, "Bearer sha256$" + hashlib.sha256(token.encode()).hexdigest())]),
        Attempt("legacy-truncated", [(auth, "Bearer " + RAW_TOKENS["legacy"][:-1])]),
        Attempt("token-name", [(auth, "Bearer pbx")]),
        Attempt("twice", [(auth, "Bearer " + token), (auth, "Bearer " + token)]),
        Attempt("wrong-then-right", [(auth, "Bearer x"), (auth, "Bearer " + token)]),
        Attempt("in-query", [], path_suffix=f"?access_token={token}"),
        Attempt("in-other-header", [("X-Api-Key", token)]),
        Attempt("proxy-authorization", [("Proxy-Authorization", "Bearer " + token)]),
        Attempt("huge", [(auth, "Bearer " + "a" * 4500)]),
        Attempt("base64-of-token", [(auth, "Bearer " + base64.b64encode(token.encode()).decode())]),
        Attempt("non-ascii-lookalike", [(auth, "Bearer " + token[:-1] + "ß")]),
        *(Attempt(f"flipped-{i}", [(auth, "Bearer " + flip(token, i))]) for i in range(0, 43, 5)),
    ]
    bad += [Attempt(f"random-{i}", [(auth, "Bearer " + secrets.token_urlsafe(32))]) for i in range(21)]
    return bad
