"""Stored secret hashes (scrypt, PBKDF2-SHA256; SHA-256 for random tokens): make, parse, verify off the loop."""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import hmac
import os
import secrets
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

SCHEMES = ("scrypt", "pbkdf2_sha256", "sha256")
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1  # ~16 MiB and ~70 ms per check on a small server
PBKDF2_ITERATIONS = 600_000  # OWASP 2023 recommendation for PBKDF2-HMAC-SHA256
AUTH_FAILURE_DELAY = 0.5  # answer every refusal this long after the request arrived (as Genesys' reference server)
VERIFIED_CACHE_SIZE = 1024
MAX_QUEUED_CHECKS = 16  # slow hash checks waiting or running, process-wide (~70 ms each on 2 threads: ≤ ~0.6 s)
HASH_THREADS = 2
MAX_SCRYPT_N = 2**20
MAX_PBKDF2_ITERATIONS = 10_000_000
FORMATS = (
    "scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>, pbkdf2_sha256$<iterations>$<salt b64>$<hash b64> "
    "or sha256$<hex> (random tokens only); make one with `callwarden hash-secret`"
)


@dataclass(frozen=True, slots=True)
class StoredHash:
    """A parsed stored hash: scheme, its cost parameters, salt and expected digest."""

    scheme: str
    params: tuple[int, ...]
    salt: bytes
    digest: bytes

    @property
    def slow(self) -> bool:
        """True for a password hash (scrypt, PBKDF2); False for sha256, fit only for long random tokens."""
        return self.scheme != "sha256"


def parse_hash(stored: str) -> StoredHash:
    """Parse a stored hash; ValueError saying the accepted formats when it is malformed (never echoing it)."""
    parts = stored.strip().split("$")
    try:
        if parts[0] == "scrypt" and len(parts) == 6:
            n, r, p = (int(x) for x in parts[1:4])
            if not (1 < n <= MAX_SCRYPT_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
                raise ValueError("scrypt cost out of range (n a power of two ≤ 2^20, r ≤ 32, p ≤ 16)")
            return StoredHash("scrypt", (n, r, p), _b64(parts[4]), _b64(parts[5]))
        if parts[0] == "pbkdf2_sha256" and len(parts) == 4:
            iterations = int(parts[1])
            if not 1000 <= iterations <= MAX_PBKDF2_ITERATIONS:
                raise ValueError("pbkdf2 iterations out of range (1000..10,000,000)")
            return StoredHash("pbkdf2_sha256", (iterations,), _b64(parts[2]), _b64(parts[3]))
        if parts[0] == "sha256" and len(parts) == 2 and len(parts[1]) == 64:
            return StoredHash("sha256", (), b"", bytes.fromhex(parts[1]))
    except (ValueError, binascii.Error) as error:
        raise ValueError(f"malformed secret hash ({error}); expected {FORMATS}") from None
    scheme = parts[0][:16] if parts[0] in SCHEMES else "?"
    raise ValueError(f"malformed secret hash (scheme {scheme!r}); expected {FORMATS}")


def _b64(text: str) -> bytes:
    data = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    if not data:
        raise ValueError("empty salt or digest")
    return data


def _encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def digest_for(secret: str, stored: StoredHash) -> bytes:
    """The digest of `secret` under `stored`'s scheme, salt and cost."""
    data = secret.encode("utf-8", "surrogatepass")
    if stored.scheme == "scrypt":
        n, r, p = stored.params
        return hashlib.scrypt(data, salt=stored.salt, n=n, r=r, p=p, maxmem=256 * n * r + (1 << 20), dklen=32)
    if stored.scheme == "pbkdf2_sha256":
        return hashlib.pbkdf2_hmac("sha256", data, stored.salt, stored.params[0])
    return hashlib.sha256(data).digest()


def verify_secret(secret: str, stored: StoredHash) -> bool:
    """True when `secret` hashes to `stored` (compared in constant time)."""
    return hmac.compare_digest(digest_for(secret, stored), stored.digest)


def hash_secret(secret: str, scheme: str = "scrypt") -> str:
    """A new stored hash of `secret` with a random 16-byte salt (scrypt by default)."""
    salt = os.urandom(16)
    if scheme == "scrypt":
        stored = StoredHash("scrypt", (SCRYPT_N, SCRYPT_R, SCRYPT_P), salt, b"")
        return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_encode(salt)}${_encode(digest_for(secret, stored))}"
    if scheme == "pbkdf2_sha256":
        stored = StoredHash("pbkdf2_sha256", (PBKDF2_ITERATIONS,), salt, b"")
        return f"pbkdf2_sha256${PBKDF2_ITERATIONS}${_encode(salt)}${_encode(digest_for(secret, stored))}"
    if scheme == "sha256":
        return "sha256$" + hashlib.sha256(secret.encode("utf-8")).hexdigest()
    raise ValueError(f"unknown hash scheme {scheme!r}: use one of {', '.join(SCHEMES)}")


def new_token() -> str:
    """A fresh random bearer token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def check_hashes(entries: dict[str, str], where: str, passwords: bool) -> None:
    """Raise ValueError naming `where` and the entry when a stored hash is malformed (or too fast for a password)."""
    for name, stored in entries.items():
        try:
            parsed = parse_hash(stored)
        except ValueError as error:
            raise ValueError(f"{where}[{name!r}]: {error}") from None
        if passwords and not parsed.slow:
            raise ValueError(f"{where}[{name!r}]: passwords need a scrypt or pbkdf2_sha256 hash, not sha256")


class HashingBudget:
    """The process's budget for slow hash checks, shared by every SecretChecker (ingest and dashboard alike):
    HASH_THREADS threads (before, each surface had two: four scrypt threads took both cores from the event loop
    under a credential flood) and at most MAX_QUEUED_CHECKS checks waiting or running; a check beyond that is
    refused unhashed (a flood)."""

    def __init__(self, threads: int = HASH_THREADS) -> None:
        self.executor = ThreadPoolExecutor(threads, thread_name_prefix="secret-check")
        self.queued = 0


HASHING = HashingBudget()


class SecretChecker:
    """Checks a secret against stored hashes off the event loop, within the process's HashingBudget; remembers
    successes.

    Under a flood of wrong passwords a check beyond the budget's queue is refused without hashing, so handshakes
    are answered (401) instead of timing out, and a client whose secret was verified before still gets in at once
    (the memo is consulted first)."""

    def __init__(self, budget: HashingBudget = HASHING) -> None:
        self._budget = budget
        self._verified: OrderedDict[bytes, None] = OrderedDict()
        self._dummy = _dummy_hash()
        self.shed = 0
        """Checks refused unhashed because MAX_QUEUED_CHECKS were already waiting (a credential flood)."""

    async def matches(self, secret: str, stored: StoredHash | None) -> bool:
        """True when `secret` matches `stored`; with `stored` None, spends the same work and returns False."""
        target = stored if stored is not None else self._dummy
        memo = hashlib.sha256(b"%s\0%s\0%s" % (target.salt, target.digest, secret.encode("utf-8", "replace"))).digest()
        if stored is not None and memo in self._verified:
            self._verified.move_to_end(memo)
            return True
        if target.slow:
            budget = self._budget
            if budget.queued >= MAX_QUEUED_CHECKS:
                self.shed += 1
                return False
            budget.queued += 1
            try:
                loop = asyncio.get_running_loop()
                ok = await loop.run_in_executor(budget.executor, verify_secret, secret, target)
            finally:
                budget.queued -= 1
        else:
            ok = verify_secret(secret, target)
        if ok and stored is not None:
            self._verified[memo] = None
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        return ok and stored is not None


@functools.cache
def _dummy_hash() -> StoredHash:
    """The hash an unknown user's password is checked against (same cost as a real one), made once per process."""
    return parse_hash(hash_secret("callwarden: no such user"))


def refusal_delay(started: float, now: float) -> float:
    """Seconds still to wait so that a refusal goes out AUTH_FAILURE_DELAY after the request arrived."""
    return max(0.0, started + AUTH_FAILURE_DELAY - now)
