"""Upgrade-request signatures: AudioHook HTTP Message Signatures (golden vectors) and X-Twilio-Signature."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from streams.protocols.signatures import (
    decode_client_secret,
    twilio_signature,
    verify_audiohook_request,
    verify_message_signature,
    verify_twilio_signature,
)
from streams.protocols.structured_fields import InnerList, parse_dictionary, serialize_inner_list

# Golden vector: "Verify AudioHook documentation example / Example 1 - base" in
# purecloudlabs/audiohook-reference-implementation, app/audiohook/test/httpsignature/signature-verifier.test.ts
# (commit 2871b01c). Test data only.
API_KEY = "SGVsbG8sIEkgYW0gdGhlIEFQSSBrZXkh"
CLIENT_SECRET = "TXlTdXBlclNlY3JldEtleVRlbGxOby0xITJAMyM0JDU="
REQUEST_TARGET = "/api/v1/voicebiometrics/ws"
CREATED = 1641013200
COMPONENTS = (
    '("@request-target" "@authority" "audiohook-organization-id" "audiohook-session-id" '
    '"audiohook-correlation-id" "x-api-key")'
)
DOC_HEADERS = {
    "host": "audiohook.example.com",
    "audiohook-organization-id": "d7934305-0972-4844-938e-9060eef73d05",
    "audiohook-session-id": "30b0e395-84d3-4570-ac13-9a62d8f514c0",
    "audiohook-correlation-id": "e160e428-53e2-487c-977d-96989bf5c99d",
    "x-api-key": API_KEY,
    "signature": "sig1=:NZBwyBHRRyRoeLqy1IzOa9VYBuI8TgMFt2GRDkDuJh4=:",
    "signature-input": f'sig1={COMPONENTS};keyid="{API_KEY}";nonce="VGhpc0lzQVVuaXF1ZU5vbmNl";'
    f'alg="hmac-sha256";created={CREATED};expires=3282026430',
}
SECRETS = {API_KEY: decode_client_secret(CLIENT_SECRET)}

# RFC 9421 draft-11 appendix B.2.5 (hmac-sha256), also used by the reference repository's verifier tests.
RFC_KEY = base64.b64decode("uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==")
RFC_HEADERS = {
    "date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "host": "example.com",
    "content-type": "application/json",
    "signature-input": 'sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret"',
    "signature": "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:",
}


def test_audiohook_documentation_vector_verifies() -> None:
    assert verify_audiohook_request(DOC_HEADERS, REQUEST_TARGET, SECRETS, now=CREATED + 5).ok


def test_header_order_and_name_case_do_not_matter() -> None:
    shuffled = [(name.title(), value) for name, value in reversed(DOC_HEADERS.items())]
    assert verify_audiohook_request(shuffled, REQUEST_TARGET, SECRETS, now=CREATED).code == "VERIFIED"


def test_rfc_vector_verifies_with_authority_from_host_or_given() -> None:
    assert verify_message_signature(RFC_HEADERS, RFC_KEY, now=1618884473).ok
    without_host = {k: v for k, v in RFC_HEADERS.items() if k != "host"}
    assert verify_message_signature(without_host, RFC_KEY, 1618884473, derived={"@authority": "example.com"}).ok
    assert verify_message_signature(without_host, RFC_KEY, 1618884473).code == "PRECONDITION"


def test_reference_builder_vector_signs_host_instead_of_authority() -> None:
    # "Signature builder tests / AudioHook documentation example" of the same reference repository.
    headers = {
        **DOC_HEADERS,
        "signature": "sig1=:zupMJUMfd/kMuvKc5zhRyfJPE3jTROuz1S1hn8SCTpE=:",
        "signature-input": DOC_HEADERS["signature-input"].replace('"@authority"', '"host"'),
    }
    key = SECRETS[API_KEY]
    assert verify_message_signature(headers, key, CREATED, derived={"@request-target": REQUEST_TARGET}).ok
    result = verify_audiohook_request(headers, REQUEST_TARGET, SECRETS, now=CREATED)
    assert (result.code, result.reason) == ("PRECONDITION", "signature does not cover @authority")


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"audiohook-session-id": "30b0e395-84d3-4570-ac13-9a62d8f514c1"}, "FAILED"),
        ({"host": "evil.example.com"}, "FAILED"),
        ({"signature": "sig1=:AAAAyBHRRyRoeLqy1IzOa9VYBuI8TgMFt2GRDkDuJh4=:"}, "FAILED"),
        ({"signature": "sig1=:not base64!:"}, "INVALID"),
        ({"signature-input": "sig1=(oops"}, "INVALID"),
        ({"signature": "other=:NZBwyBHRRyRoeLqy1IzOa9VYBuI8TgMFt2GRDkDuJh4=:"}, "INVALID"),
    ],
)
def test_tampered_requests_fail(change: dict[str, str], code: str) -> None:
    result = verify_audiohook_request({**DOC_HEADERS, **change}, REQUEST_TARGET, SECRETS, now=CREATED)
    assert result.code == code


def test_wrong_request_target_or_secret_fails() -> None:
    assert verify_audiohook_request(DOC_HEADERS, "/other", SECRETS, CREATED).code == "FAILED"
    wrong = {API_KEY: b"another secret"}
    assert verify_audiohook_request(DOC_HEADERS, REQUEST_TARGET, wrong, CREATED).code == "FAILED"
    assert verify_audiohook_request(DOC_HEADERS, REQUEST_TARGET, {}, CREATED).code == "FAILED"


def test_signature_age_and_clock_skew() -> None:
    assert verify_audiohook_request(DOC_HEADERS, REQUEST_TARGET, SECRETS, now=CREATED + 10).ok
    assert verify_audiohook_request(DOC_HEADERS, REQUEST_TARGET, SECRETS, now=CREATED + 11).code == "EXPIRED"
    assert verify_audiohook_request(DOC_HEADERS, REQUEST_TARGET, SECRETS, now=CREATED - 3).ok
    assert verify_audiohook_request(DOC_HEADERS, REQUEST_TARGET, SECRETS, now=CREATED - 4).code == "PRECONDITION"


def sign(headers: dict[str, str], params: str, key: bytes) -> dict[str, str]:
    """Sign the six AudioHook components by hand, spelling out the RFC 9421 signature base."""
    lines = [f'"@request-target": {REQUEST_TARGET}', f'"@authority": {headers["host"]}']
    lines += [f'"{name}": {headers[name]}' for name in list(DOC_HEADERS)[1:5]]
    lines.append(f'"@signature-params": {COMPONENTS}{params}')
    digest = hmac.new(key, "\n".join(lines).encode(), hashlib.sha256).digest()
    return {
        **headers,
        "signature-input": f"sig1={COMPONENTS}{params}",
        "signature": f"sig1=:{base64.b64encode(digest).decode()}:",
    }


def test_hand_signed_request_and_the_reference_servers_preconditions() -> None:
    key = SECRETS[API_KEY]
    nonce = "n" * 22
    good = sign(DOC_HEADERS, f';keyid="{API_KEY}";nonce="{nonce}";alg="hmac-sha256";created=100;expires=130', key)
    assert verify_audiohook_request(good, REQUEST_TARGET, SECRETS, now=105).ok
    expired = sign(DOC_HEADERS, f';keyid="{API_KEY}";nonce="{nonce}";created=100;expires=102', key)
    assert verify_audiohook_request(expired, REQUEST_TARGET, SECRETS, now=105).code == "EXPIRED"
    short_nonce = sign(DOC_HEADERS, f';keyid="{API_KEY}";nonce="{"n" * 21}";created=100', key)
    assert verify_audiohook_request(short_nonce, REQUEST_TARGET, SECRETS, now=105).code == "PRECONDITION"
    other_keyid = sign(DOC_HEADERS, f';keyid="someone-else";nonce="{nonce}";created=100', key)
    assert verify_audiohook_request(other_keyid, REQUEST_TARGET, SECRETS, now=105).code == "PRECONDITION"
    no_created = sign(DOC_HEADERS, f';keyid="{API_KEY}";nonce="{nonce}"', key)
    assert verify_audiohook_request(no_created, REQUEST_TARGET, SECRETS, now=105).code == "PRECONDITION"
    rsa = sign(DOC_HEADERS, f';keyid="{API_KEY}";nonce="{nonce}";alg="rsa-pss-sha512";created=100', key)
    assert verify_audiohook_request(rsa, REQUEST_TARGET, SECRETS, now=105).code == "UNSUPPORTED"
    unknown_param = sign(DOC_HEADERS, f';keyid="{API_KEY}";nonce="{nonce}";created=100;tag="x"', key)
    assert verify_audiohook_request(unknown_param, REQUEST_TARGET, SECRETS, now=105).code == "INVALID"


def test_unsigned_requests_pass_only_for_keys_with_an_empty_secret() -> None:
    unsigned = {k: v for k, v in DOC_HEADERS.items() if not k.startswith("signature")}
    assert verify_audiohook_request(unsigned, REQUEST_TARGET, {API_KEY: b""}, CREATED).ok
    assert verify_audiohook_request(unsigned, REQUEST_TARGET, SECRETS, CREATED).code == "UNSIGNED"
    no_key = {k: v for k, v in DOC_HEADERS.items() if k != "x-api-key"}
    assert verify_audiohook_request(no_key, REQUEST_TARGET, SECRETS, CREATED).code == "PRECONDITION"
    half = {k: v for k, v in DOC_HEADERS.items() if k != "signature"}
    assert verify_audiohook_request(half, REQUEST_TARGET, SECRETS, CREATED).code == "INVALID"


def test_client_secret_must_be_base64() -> None:
    assert decode_client_secret(CLIENT_SECRET) == b"MySuperSecretKeyTellNo-1!2@3#4$5"
    with pytest.raises(ValueError, match="base64"):
        decode_client_secret("not base64!")


def test_signature_input_round_trips_through_the_structured_field_parser() -> None:
    value = DOC_HEADERS["signature-input"]
    inner = parse_dictionary(value)["sig1"]
    assert isinstance(inner, InnerList)
    assert "sig1=" + serialize_inner_list(inner) == value


# Twilio vectors: TwilioDevEd/api-snippets security/signature_validation/signature_validation.{2,3}.x.js.
TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"


def twilio_params(caller: str) -> dict[str, str]:
    return {"CallSid": "CA1234567890ABCDE", "Caller": caller, "Digits": "1234", "From": caller, "To": "+18005551212"}


@pytest.mark.parametrize(
    ("caller", "signature"),
    [("+14158675309", "RSOYDt4T1cUTdK1PDd93/VVr8B8="), ("+14158675310", "GvWf1cFY/Q7PnoempGyD5oXAezc=")],
)
def test_twilio_documented_vectors(caller: str, signature: str) -> None:
    assert twilio_signature("12345", TWILIO_URL, twilio_params(caller)) == signature
    assert verify_twilio_signature("12345", TWILIO_URL, signature, twilio_params(caller))
    assert not verify_twilio_signature("54321", TWILIO_URL, signature, twilio_params(caller))
    assert not verify_twilio_signature("12345", TWILIO_URL + "&x=1", signature, twilio_params(caller))


def test_twilio_websocket_upgrade_signature_with_and_without_default_port() -> None:
    signed = twilio_signature("tok", "wss://monitor.example.com/ingest/twilio")
    assert verify_twilio_signature("tok", "wss://monitor.example.com:443/ingest/twilio", signed)
    assert verify_twilio_signature("tok", "wss://monitor.example.com/ingest/twilio", signed)
    assert not verify_twilio_signature("tok", "wss://monitor.example.com/ingest/other", signed)
    assert not verify_twilio_signature("tok", "wss://monitor.example.com:bad/x", signed)
