"""Shared fixtures: the real Vosk model, a real Mosquitto broker, espeak-ng speech synthesis, the shared data dir."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


def pytest_report_header() -> str:
    """Say which rules engine the tests run: the mypyc-compiled one (`callwarden native build`) or pure Python."""
    from monitor.native import status

    current = status()
    return f"rules engine: {current.state} ({current.detail})"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to test a compiled rules engine built from other sources than rules/ now holds."""
    from monitor.native import stale_message, status

    current = status()
    if current.state == "stale":
        pytest.exit(stale_message(current), returncode=4)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Show the AudioHook conformance suite's own result lines (its runs are tests in tests/monitor/)."""
    from tests.audiohook_reference import SUITE_RESULTS

    if SUITE_RESULTS:
        terminalreporter.section("Genesys AudioHook conformance suite")
        for line in SUITE_RESULTS:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared test data directory (../shared/data), skipping loudly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"SKIPPED LOUDLY: shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def vosk_model_path() -> Path:
    """The real English Vosk model directory, fetched from Maven into the cache if needed.

    Under CI (CI=true) a missing model is a failure, never a skip.
    """
    from streams.models import ModelError, fetch_model, resolve

    try:
        return resolve("en-us", fetch=False)
    except ModelError:
        pass
    try:
        return fetch_model("en-us", source="maven", progress=False)
    except ModelError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"SKIPPED LOUDLY: the real Vosk model cannot be had here: {exc}")


@pytest.fixture(scope="session")
def vosk_model(vosk_model_path: Path) -> Any:
    """The process-wide loaded `vosk.Model`."""
    from streams.models import load_model

    return load_model("en-us", vosk_model_path)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class MosquittoBroker:
    """A real Mosquitto broker on a loopback port; `stop()`/`start()` simulate an outage on the same port."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.host = "127.0.0.1"
        self.port = port
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        log = (self.workdir / "mosquitto.log").open("ab")
        self.proc = subprocess.Popen([binary, "-c", str(self.conf)], stdout=log, stderr=log)
        if not _wait_port(self.port, 10):
            self.stop()
            raise RuntimeError(f"mosquitto did not listen on {self.port}; see {self.workdir}/mosquitto.log")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture(scope="session")
def mosquitto() -> Iterator[MosquittoBroker]:
    """A real Mosquitto broker for the whole session (fails under CI when the binary is missing)."""
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        if os.environ.get("CI"):
            pytest.fail("mosquitto is not installed (apt-get install mosquitto)")
        pytest.skip("SKIPPED LOUDLY: mosquitto is not installed (apt-get install mosquitto)")
    with tempfile.TemporaryDirectory(prefix="cw-mosquitto-") as tmp:
        broker = MosquittoBroker(free_port(), Path(tmp))
        broker.start()
        try:
            yield broker
        finally:
            broker.stop()


@pytest.fixture()
def fresh_mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker of this test's own (for tests that stop and restart it)."""
    if not (shutil.which("mosquitto") or Path("/usr/sbin/mosquitto").exists()):
        pytest.skip("SKIPPED LOUDLY: mosquitto is not installed")
    broker = MosquittoBroker(free_port(), tmp_path)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def espeak() -> str:
    """The espeak-ng binary (tests that synthesize speech need it; CI installs it)."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("espeak-ng is not installed (apt-get install espeak-ng)")
        pytest.skip("SKIPPED LOUDLY: espeak-ng is not installed")
    return binary


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Any]:
    """One real PostgreSQL cluster (Debian's postgresql, initdb/pg_ctl as an unprivileged user on a free loopback
    port) for the whole session, with a migrated template database that each test's database is cloned from."""
    from monitor.store.backend import PgConnection
    from monitor.store.pg_schema import migrate
    from tests.pg_support import TEMPLATE, start_cluster

    cluster = start_cluster()
    try:
        import psycopg

        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {TEMPLATE}")  # type: ignore[arg-type]
        template = PgConnection.connect(cluster.dsn(TEMPLATE))
        migrate(template)
        template.close()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture()
def pg_dsn(pg_cluster: Any) -> str:
    """The DSN of a fresh, migrated PostgreSQL database of its own for one test."""
    from tests.pg_support import TEMPLATE

    return str(pg_cluster.create_database(template=TEMPLATE))
