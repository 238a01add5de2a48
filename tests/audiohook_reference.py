"""Where the tests find Genesys' AudioHook reference client and conformance suite (scripts/audiohook-reference.sh).

Without a prepared checkout the tests that drive it skip loudly on a developer's machine; in CI (.ci/run sets
CALLWARDEN_REQUIRE_AUDIOHOOK_REFERENCE=1 after preparing it) a missing checkout fails them instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
AHREF = Path(
    os.environ.get("AHREF")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "callwarden" / "audiohook-reference"
)
CLIENT_ENTRY = AHREF / "client" / "dist" / "client" / "src" / "index.js"
JEST = AHREF / "node_modules" / ".bin" / "jest"
SHIM = (REPO / ".." / "shared" / "tools" / "rawmode-shim.js").resolve()
REQUIRED = os.environ.get("CALLWARDEN_REQUIRE_AUDIOHOOK_REFERENCE") == "1"
SUITE = "test/audiohook-api-messages.test.ts"
"""The conformance suite's file (its repository's other test file is an AWS CDK stack test the vendor skips)."""
SUITE_RESULTS: list[str] = []
"""The conformance suite's own result lines of this run (tests/conftest.py prints them in the terminal summary)."""


def reference_checkout() -> Path:
    """The prepared checkout; else a loud skip, or a failure when CI requires it."""
    missing = [str(path) for path in (CLIENT_ENTRY, JEST, SHIM) if not path.exists()]
    if missing:
        message = (
            f"no AudioHook reference build ({', '.join(missing)} missing); "
            "prepare it with scripts/audiohook-reference.sh (AHREF chooses where)"
        )
        if REQUIRED:
            pytest.fail(f"CALLWARDEN_REQUIRE_AUDIOHOOK_REFERENCE=1 but {message}")
        pytest.skip(f"SKIPPED LOUDLY: {message}")
    return AHREF


@contextlib.contextmanager
def suite_lock(reference: Path) -> Iterator[None]:
    """Hold the checkout's conformance-suite lock: the suite reads testconfig.cfg from the checkout itself."""
    with open(reference / ".callwarden-suite.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
