"""The store's connection core: one SQLite connection, its lock, transactions, data keys, lifecycle and health."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from monitor.config.trust import EncryptionConfig
from monitor.store.crypto import DataKeys, resolve_data_keys
from monitor.store.guard import DigitGuard

log = logging.getLogger("monitor.store.database")


class StoreBase:
    """The connection, lock and keys every store operation shares; `Store` (monitor/store/database.py) builds on it."""

    def __init__(self, conn: sqlite3.Connection, path: Path, keys: DataKeys | None = None) -> None:
        self._conn = conn
        self._path = path
        self._lock = threading.Lock()
        self._guard = DigitGuard()
        self._keys = keys if keys is not None else resolve_data_keys(EncryptionConfig(), path.parent)

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def guard_hits(self) -> int:
        """How many long digit runs the guard masked since opening (should stay 0)."""
        return self._guard.hits

    def close(self) -> None:
        """Close the connection (checkpointing the WAL)."""
        with self._lock:
            self._conn.close()

    @property
    def keys(self) -> DataKeys:
        """The data keys this store encrypts and decrypts with."""
        return self._keys

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, context: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                self._guard.drain_fields()
                raise
            self._conn.execute("COMMIT")
            masked = self._guard.drain_fields()
        if masked:
            log.warning("store: masked long digit runs in %s (fields: %s) — redaction gap upstream", context, masked)

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def journal_mode(self) -> str:
        """SQLite's journal mode of this database ("wal")."""
        with self._read() as conn:
            return str(conn.execute("PRAGMA journal_mode").fetchone()[0])

    # -- health ----------------------------------------------------------------------------------------------

    def check_writable(self) -> str | None:
        """None when a write transaction can be committed (for /readyz), else the reason.

        The probe commits (an insert and its delete): a rolled-back probe never touches the disk, so it passed on a
        full disk.
        """
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    self._conn.execute(
                        "INSERT INTO schema_migrations(version, name, applied_wall) VALUES (-1, 'write probe', 0)"
                    )
                    self._conn.execute("DELETE FROM schema_migrations WHERE version = -1")
                    self._conn.execute("COMMIT")
                finally:
                    if self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                return f"database {self._path} is not writable: {exc}"
        return None

    def integrity_check(self) -> list[str]:
        """Problems SQLite finds (integrity_check + foreign_key_check); an empty list means healthy."""
        with self._read() as conn:
            problems = [str(r[0]) for r in conn.execute("PRAGMA integrity_check") if str(r[0]) != "ok"]
            problems += [
                f"foreign key violation: {r[0]} row {r[1]} → {r[2]}" for r in conn.execute("PRAGMA foreign_key_check")
            ]
        return problems
