"""A real PostgreSQL server for tests and benchmarks: initdb + pg_ctl as an unprivileged user on a free loopback port.

Debian's `postgresql` package provides the binaries (/usr/lib/postgresql/<major>/bin). Run as root (CI, this
machine), the cluster belongs to `nobody` (PostgreSQL refuses to run as root); otherwise it runs as the current user.
One cluster serves a whole test session; each test gets a fresh database cloned from a migrated template.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

SUPERUSER = "callwarden"
TEMPLATE = "callwarden_template"


def pg_bin(name: str) -> str:
    """The path of a PostgreSQL server binary (initdb, pg_ctl); a clear error when the package is missing."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise RuntimeError(f"{name} not found: install Debian's postgresql package (apt-get install postgresql)")
    return candidates[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PgCluster:
    """A running PostgreSQL cluster owned by this process; `stop()` ends it and removes its directory."""

    root: Path
    port: int
    user: str | None
    _counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        subprocess.run([*prefix, *args], check=True, capture_output=True, cwd=self.root)

    def create_database(self, *, template: str | None = None) -> str:
        """A new empty (or `template`-cloned) database; returns its DSN."""
        name = f"cw_{os.getpid()}_{next(self._counter)}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            suffix = f" TEMPLATE {template}" if template else ""
            conn.execute(f"CREATE DATABASE {name}{suffix}")  # type: ignore[arg-type]
        return self.dsn(name)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, FileNotFoundError):
            self._run(pg_bin("pg_ctl"), "stop", "-D", str(self.root / "data"), "-m", "immediate", "-w")
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(*, fast: bool = True) -> PgCluster:
    """initdb a cluster into a temporary directory and start it on a free loopback port (trust auth on loopback
    only). `fast` turns fsync off: right for tests, never for data anyone keeps."""
    root = Path(tempfile.mkdtemp(prefix="callwarden-pg-"))
    user = "nobody" if os.geteuid() == 0 else None
    if user:
        pw = pwd.getpwnam(user)
        os.chown(root, pw.pw_uid, pw.pw_gid)
    os.chmod(root, 0o700)
    port = free_port()
    cluster = PgCluster(root, port, user)
    try:
        cluster._run(
            pg_bin("initdb"), "-D", str(root / "data"), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync",
        )
        options = f"-h 127.0.0.1 -p {port} -k {root} -c max_connections=200"
        if fast:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        cluster._run(
            pg_bin("pg_ctl"), "start", "-D", str(root / "data"), "-w", "-t", "60", "-l", str(root / "log"),
            "-o", options,
        )
    except BaseException:
        cluster.stop()
        raise
    return cluster
