"""Pure verification of the WebSocket upgrade's signatures: AudioHook HTTP Message Signatures, X-Twilio-Signature."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from streams.protocols.structured_fields import (
    InnerList,
    Item,
    StructuredFieldError,
    Token,
    parse_dictionary,
    serialize_inner_list,
)

ResultCode = Literal["VERIFIED", "UNSIGNED", "INVALID", "PRECONDITION", "EXPIRED", "FAILED", "UNSUPPORTED"]
AUDIOHOOK_COMPONENTS: tuple[str, ...] = (
    "@request-target",
    "@authority",
    "audiohook-organization-id",
    "audiohook-session-id",
    "audiohook-correlation-id",
    "x-api-key",
)
DERIVED = frozenset({"@method", "@authority", "@scheme", "@target-uri", "@request-target", "@path", "@query"})
SIGNATURE_PARAMS = {"alg": str, "created": int, "expires": int, "keyid": str, "nonce": str}
MIN_NONCE_CHARS = 22
FOLD = re.compile(r"[ \t]*\r\n[ \t]+")

Headers = Mapping[str, str] | Iterable[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class SignatureResult:
    """Outcome of a verification; `reason` is safe to log (no secrets), shown to nobody else."""

    code: ResultCode
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.code == "VERIFIED"


@dataclass(frozen=True, slots=True)
class _Signature:
    components: tuple[str, ...]
    params: dict[str, str | int]
    signature_input: InnerList
    signature: bytes


def decode_client_secret(secret_b64: str) -> bytes:
    """The key bytes of an AudioHook client secret as configured in Genesys (base64); ValueError if malformed."""
    try:
        return base64.b64decode(secret_b64, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("AudioHook client secret must be base64 (as shown in the Genesys integration)") from None


def header_dict(headers: Headers) -> dict[str, str]:
    """Lower-cased header names → canonicalized values (repeated fields joined with ", ")."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for name, value in items:
        clean = FOLD.sub(" ", value).strip(" \t")
        key = name.lower()
        out[key] = f"{out[key]}, {clean}" if key in out else clean
    return out


def verify_message_signature(
    headers: Headers,
    key: bytes,
    now: float,
    derived: Mapping[str, str] | None = None,
    required: Iterable[str] = (),
    max_age: float | None = None,
    clock_skew: float = 3.0,
) -> SignatureResult:
    """Verify the first signature of `Signature-Input`/`Signature` (RFC 9421, hmac-sha256) at time `now` (epoch s).

    `derived` supplies derived components (e.g. "@request-target": "/path?query"); "@authority" falls back to
    the Host header. `created` may lie at most `clock_skew` s in the future; the signature must not have
    expired, and with `max_age` it must be at most that old.
    """
    fields = header_dict(headers)
    parsed = _parse_signature(fields)
    if isinstance(parsed, SignatureResult):
        return parsed
    timing = _check_times(parsed.params, now, max_age, clock_skew)
    if timing is not None:
        return timing
    missing = [name for name in required if name not in parsed.components]
    if missing:
        return SignatureResult("PRECONDITION", f"signature does not cover {', '.join(missing)}")
    base = _signature_base(parsed, fields, derived or {})
    if isinstance(base, SignatureResult):
        return base
    alg = parsed.params.get("alg", "hmac-sha256")
    expected = hmac.new(key, base.encode("utf-8"), hashlib.sha256).digest()
    matches = hmac.compare_digest(expected, parsed.signature)
    if alg != "hmac-sha256":
        return SignatureResult("UNSUPPORTED", f"signature algorithm {str(alg)[:32]!r} is not supported")
    return SignatureResult("VERIFIED") if matches else SignatureResult("FAILED", "signatures do not match")


def verify_audiohook_request(
    headers: Headers,
    request_target: str,
    secrets: Mapping[str, bytes],
    now: float,
    max_age: float = 10.0,
) -> SignatureResult:
    """Check an AudioHook upgrade request as Genesys' reference server does.

    `secrets` maps each accepted X-API-KEY to its decoded client secret (b"" = key accepted unsigned).
    Requires keyid == X-API-KEY, a nonce of ≥ 22 chars, the six AudioHook components and age ≤ `max_age` s.
    The caller should answer failures with 401 no sooner than 500 ms after the request arrived.
    """
    fields = header_dict(headers)
    api_key = fields.get("x-api-key")
    if not api_key:
        return SignatureResult("PRECONDITION", 'missing "X-API-KEY" header field')
    secret = secrets.get(api_key)
    if "signature-input" not in fields and "signature" not in fields:
        if secret == b"":
            return SignatureResult("VERIFIED")
        return SignatureResult("UNSIGNED", "request is not signed")
    parsed = _parse_signature(fields)
    if isinstance(parsed, SignatureResult):
        return parsed
    nonce = parsed.params.get("nonce")
    if not isinstance(nonce, str) or len(nonce) < MIN_NONCE_CHARS:
        return SignatureResult("PRECONDITION", f'"nonce" missing or shorter than {MIN_NONCE_CHARS} chars')
    if parsed.params.get("keyid") != api_key:
        return SignatureResult("PRECONDITION", "X-API-KEY header field and signature keyid mismatch")
    key = secret if secret is not None else hashlib.sha256(b"unknown:" + api_key.encode()).digest()
    result = verify_message_signature(
        fields.items(), key, now, {"@request-target": request_target}, AUDIOHOOK_COMPONENTS, max_age
    )
    if result.ok and secret is None:
        return SignatureResult("FAILED", "unknown API key")
    return result


def _parse_signature(fields: Mapping[str, str]) -> _Signature | SignatureResult:
    if "signature-input" not in fields or "signature" not in fields:
        return SignatureResult("INVALID", "need both Signature-Input and Signature header fields")
    try:
        inputs = parse_dictionary(fields["signature-input"])
        signatures = parse_dictionary(fields["signature"])
    except StructuredFieldError as error:
        return SignatureResult("INVALID", f"malformed signature header field: {error}")
    if not inputs:
        return SignatureResult("INVALID", "empty Signature-Input")
    label, signature_input = next(iter(inputs.items()))
    signature = signatures.get(label)
    if not isinstance(signature, Item) or not isinstance(signature.value, bytes):
        return SignatureResult("INVALID", f"no byte-sequence signature for label {label[:32]!r}")
    if not isinstance(signature_input, InnerList):
        return SignatureResult("INVALID", "Signature-Input member must be an inner list")
    components: list[str] = []
    for item in signature_input.items:
        if not isinstance(item.value, str) or isinstance(item.value, Token) or item.params:
            return SignatureResult("UNSUPPORTED", "only plain string components are supported")
        if item.value in components:
            return SignatureResult("INVALID", f"duplicate component {item.value[:40]!r}")
        components.append(item.value)
    params: dict[str, str | int] = {}
    for name, value in signature_input.params:
        kind = SIGNATURE_PARAMS.get(name)
        if kind is None or isinstance(value, bool | bytes | Token) or not isinstance(value, kind):
            return SignatureResult("INVALID", f"bad or unknown signature parameter {name[:32]!r}")
        if isinstance(value, int) and value < 0:
            return SignatureResult("INVALID", f"signature parameter {name!r} must not be negative")
        params[name] = value
    return _Signature(tuple(components), params, signature_input, signature.value)


def _check_times(
    params: Mapping[str, str | int], now: float, max_age: float | None, skew: float
) -> SignatureResult | None:
    created, expires = params.get("created"), params.get("expires")
    if isinstance(created, int) and created > now + skew:
        return SignatureResult("PRECONDITION", '"created" lies in the future')
    if isinstance(expires, int) and expires < now:
        return SignatureResult("EXPIRED", "signature expired")
    if max_age is not None:
        if not isinstance(created, int):
            return SignatureResult("PRECONDITION", 'no "created" parameter to check the signature age')
        if now - created > max_age:
            return SignatureResult("EXPIRED", f"signature older than {max_age:g} s")
    return None


def _signature_base(sig: _Signature, fields: Mapping[str, str], derived: Mapping[str, str]) -> str | SignatureResult:
    lines: list[str] = []
    for name in sig.components:
        if name == "@signature-params" or name == "signature":
            return SignatureResult("INVALID", f"component {name!r} must not be covered")
        if name.startswith("@"):
            if name not in DERIVED:
                return SignatureResult("UNSUPPORTED", f"derived component {name[:40]!r} is not supported")
            value = derived.get(name) or (fields.get("host") if name == "@authority" else None)
        else:
            value = fields.get(name)
        if not value:
            return SignatureResult("PRECONDITION", f"cannot resolve component {name[:40]!r}")
        lines.append(f'"{name}": {value}')
    lines.append(f'"@signature-params": {serialize_inner_list(sig.signature_input)}')
    return "\n".join(lines)


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str] | None = None) -> str:
    """X-Twilio-Signature for `url` (+ POST params sorted by name, name+value concatenated): base64 HMAC-SHA1."""
    fields = params or {}
    data = url + "".join(name + fields[name] for name in sorted(fields))
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_twilio_signature(auth_token: str, url: str, signature: str, params: Mapping[str, str] | None = None) -> bool:
    """True when `signature` signs `url` as given, or with the default port added/removed (as Twilio's SDKs do)."""
    given = signature.encode("utf-8")
    ok = False
    for candidate in _url_variants(url):
        expected = twilio_signature(auth_token, candidate, params).encode("ascii")
        ok = hmac.compare_digest(expected, given) or ok
    return ok


def _url_variants(url: str) -> list[str]:
    """`url`, `url` without its port, and `url` with the scheme's default port when it has none (twilio-python)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return [url]
    default = {"https": 443, "wss": 443, "http": 80, "ws": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if default is None or not host:
        return [url]
    if ":" in host:
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    without_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}"))
    with_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{port or default}"))
    return list(dict.fromkeys([url, without_port, with_port]))
