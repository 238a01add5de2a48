"""Encryption at rest: AES-256-GCM data keys (active + retired), key ids in every ciphertext, the demo key file.

A stored ciphertext is text: ``cw1:<key id>:<base64(nonce ‖ ciphertext ‖ tag)>``. The key id is the first 8 hex
digits of a SHA-256 over the key, so any configured key can be matched to the values it wrote without storing a
key (or a key table) in the database. The associated data binds a value to its column and call
(``"<table>.<column>|<call id>"``): a ciphertext copied into another column or call does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from monitor.config.trust import EncryptionConfig

log = logging.getLogger("callwarden.crypto")

PREFIX = "cw1:"
KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID_CHARS = 8
KEY_FILE_NAME = "callwarden.key"


class DataKeyError(RuntimeError):
    """A data key is missing, malformed or cannot decrypt a stored value; the message says which and how to fix."""


def key_id(key: bytes) -> str:
    """The public id of a data key (8 hex digits of SHA-256 over a domain tag and the key)."""
    return hashlib.sha256(b"callwarden data key\x00" + key).hexdigest()[:KEY_ID_CHARS]


def parse_key(text: str, where: str) -> bytes:
    """A base64 (standard or URL-safe) 32-byte key; a DataKeyError naming `where` otherwise."""
    cleaned = text.strip()
    try:
        raw = base64.b64decode(cleaned.replace("-", "+").replace("_", "/") + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise DataKeyError(f"{where}: not base64; generate a key with `callwarden keys generate`") from None
    if len(raw) != KEY_BYTES:
        raise DataKeyError(
            f"{where}: a data key must be {KEY_BYTES} bytes (AES-256), this one is {len(raw)}; "
            "generate one with `callwarden keys generate`"
        )
    return raw


def new_key_text() -> str:
    """A fresh random 32-byte key, base64."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()


@dataclass(frozen=True, slots=True)
class DataKeys:
    """The active key (encrypts everything new) and retired keys (still decrypt); `source` says where they came from."""

    active: bytes
    retired: tuple[bytes, ...] = ()
    source: str = "config"
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for key in (self.active, *self.retired):
            if len(key) != KEY_BYTES:
                raise DataKeyError(f"data keys must be {KEY_BYTES} bytes, got {len(key)} ({self.source})")
            self._ciphers.setdefault(key_id(key), AESGCM(key))

    @property
    def active_id(self) -> str:
        return key_id(self.active)

    @property
    def known_ids(self) -> tuple[str, ...]:
        return tuple(self._ciphers)

    def encrypt(self, plaintext: str, aad: str) -> str:
        """`plaintext` encrypted under the active key, bound to `aad`."""
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = self._ciphers[self.active_id].encrypt(nonce, plaintext.encode(), aad.encode())
        return f"{PREFIX}{self.active_id}:{base64.b64encode(nonce + sealed).decode()}"

    def encrypt_opt(self, plaintext: str | None, aad: str) -> str | None:
        return None if plaintext is None else self.encrypt(plaintext, aad)

    def decrypt(self, stored: str, aad: str) -> str:
        """The plaintext of a stored value; values without the prefix are legacy plaintext and returned as they are."""
        if not stored.startswith(PREFIX):
            return stored
        kid, _, body = stored[len(PREFIX) :].partition(":")
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise DataKeyError(
                f"stored {aad.partition('|')[0]} is encrypted with data key {kid}, which is not configured "
                f"(known: {', '.join(self.known_ids)}); add it as a retired key (encryption.retired_keys or "
                "CALLWARDEN_DATA_KEYS_RETIRED) or restore the key file"
            )
        try:
            raw = base64.b64decode(body, validate=True)
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError):
            raise DataKeyError(
                f"stored {aad.partition('|')[0]} under key {kid} fails authentication (tampered, moved or corrupt)"
            ) from None

    def decrypt_opt(self, stored: str | None, aad: str) -> str | None:
        return None if stored is None else self.decrypt(stored, aad)

    def is_current(self, stored: str) -> bool:
        """True when `stored` is already encrypted under the active key."""
        return stored.startswith(f"{PREFIX}{self.active_id}:")


def stored_key_id(stored: str) -> str:
    """The key id a stored value was encrypted with, "plaintext" for legacy values."""
    if not stored.startswith(PREFIX):
        return "plaintext"
    return stored[len(PREFIX) : len(PREFIX) + KEY_ID_CHARS]


def from_texts(active: str, retired: Iterable[str], source: str) -> DataKeys:
    """Keys from base64 texts (config values or environment variables)."""
    retired_keys = tuple(parse_key(t, f"{source} (retired key {i + 1})") for i, t in enumerate(retired) if t.strip())
    return DataKeys(parse_key(active, source), retired_keys, source=source)


# -- the key file (the demo default; production passes keys from a secret store) ---------------------------------


def load_key_file(path: Path) -> DataKeys:
    """Keys from a key file: JSON {"active": base64, "retired": [base64, …]}."""
    try:
        data = json.loads(path.read_text())
        active = str(data["active"])
        retired = [str(k) for k in data.get("retired", [])]
    except OSError as exc:
        raise DataKeyError(f"cannot read the data key file {path}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError):
        raise DataKeyError(f"{path}: not a Callwarden key file (expected JSON with an 'active' key)") from None
    return from_texts(active, retired, source=f"key file {path}")


def write_key_file(path: Path, keys: DataKeys) -> None:
    """Write `keys` to `path` atomically with mode 0600 (owner read/write only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "active": base64.b64encode(keys.active).decode(),
        "retired": [base64.b64encode(k).decode() for k in keys.retired],
    }
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(payload, out)
        out.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_or_create_key_file(path: Path) -> DataKeys:
    """The key file's keys; on first start a new key file (0600) is created."""
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            log.warning("data key file %s is readable by others (mode %o); chmod 600 it", path, mode)
        return load_key_file(path)
    keys = DataKeys(secrets.token_bytes(KEY_BYTES), source=f"key file {path}")
    try:
        write_key_file(path, keys)
    except OSError as exc:
        raise DataKeyError(
            f"cannot create the data key file {path}: {exc.strerror or exc}; make {path.parent} writable or "
            "provide the key (CALLWARDEN_DATA_KEY or encryption.key_file)"
        ) from None
    return keys


def warn_key_file(path: Path, *, created: bool = False) -> None:
    """The loud warning that the data key lives next to the data (fine for a demo, not for production)."""
    what = "created a new data key file" if created else "using the data key file"
    log.warning(
        "SECURITY: %s %s next to the database — anyone who copies the data directory can decrypt it. "
        "In production provide the key from a secret store: CALLWARDEN_DATA_KEY (base64, 32 bytes) or "
        "encryption.key_file on a separate mount (see docs/security.md)",
        what,
        path,
    )


def rotated(keys: DataKeys) -> DataKeys:
    """A new random active key; the previous active key and the retired ones still decrypt."""
    return DataKeys(secrets.token_bytes(KEY_BYTES), (keys.active, *keys.retired), source=keys.source)


def key_file_path(enc: EncryptionConfig, data_dir: Path) -> Path:
    """Where the key file is: encryption.key_file, else callwarden.key in the data directory."""
    return Path(enc.key_file).expanduser() if enc.key_file else data_dir / KEY_FILE_NAME


def resolve_data_keys(enc: EncryptionConfig, data_dir: Path, *, shared: bool = False) -> DataKeys:
    """The keys to use: encryption.key (CALLWARDEN_DATA_KEY) when set, else the key file (created on first start).

    `shared` (several replicas on one PostgreSQL store): every replica must use the same key, so it comes from the
    secret (CALLWARDEN_DATA_KEY, or encryption.key_file naming a mounted secret file that exists); a key file is
    never created, since a key made by one replica is unknown to the others.
    """
    if enc.key:
        return from_texts(enc.key, enc.retired, source="encryption.key / CALLWARDEN_DATA_KEY")
    if shared:
        if not enc.key_file:
            raise DataKeyError(
                "several replicas share the PostgreSQL store, so the data key must come from a secret they all "
                "get: set CALLWARDEN_DATA_KEY (base64, 32 bytes; `callwarden keys generate`) or "
                "encryption.key_file to a mounted secret file; a key file is never created in this mode"
            )
        path = Path(enc.key_file).expanduser()
        if not path.exists():
            raise DataKeyError(
                f"encryption.key_file {path} does not exist; in multi-replica mode the key file is a mounted "
                "secret and is never created: mount it, or set CALLWARDEN_DATA_KEY"
            )
        keys = load_key_file(path)
        if enc.retired:
            extra = from_texts(enc.retired[0], enc.retired[1:], source="encryption.retired_keys")
            keys = DataKeys(keys.active, (*keys.retired, extra.active, *extra.retired), source=keys.source)
        return keys
    path = key_file_path(enc, data_dir)
    existed = path.exists()
    keys = load_or_create_key_file(path)
    if enc.retired:
        extra = from_texts(enc.retired[0], enc.retired[1:], source="encryption.retired_keys")
        keys = DataKeys(keys.active, (*keys.retired, extra.active, *extra.retired), source=keys.source)
    if not enc.key_file:
        warn_key_file(path, created=not existed)
    return keys
