"""The two database engines behind the one store: the DB-API face `Store` speaks, and PostgreSQL made to speak it.

`Store` (monitor/store/database.py) writes its SQL once, in the dialect both engines share (`?` placeholders,
`ON CONFLICT … DO NOTHING/UPDATE`, `RETURNING`, `substr`), against `Connection`: sqlite3's connection as it is, or
`PgConnection`, a psycopg 3 connection in autocommit mode whose `execute` turns `?` into psycopg's `%s` and
`BEGIN IMMEDIATE` into `BEGIN`, and whose rows are read by name and by position like `sqlite3.Row`. The few things
that differ (pragmas, row identity, errors) are asked of the engine by name (`Store.engine`).
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol

import psycopg
from psycopg import pq


class Cursor(Protocol):
    """What the store reads from an executed statement."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """The part of a DB-API connection the store uses (sqlite3.Connection has it as it is)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Cursor: ...

    @property
    def in_transaction(self) -> bool: ...

    def close(self) -> None: ...


DB_ERRORS: tuple[type[BaseException], ...] = (sqlite3.Error, psycopg.Error)
"""Errors either engine raises for a statement or a connection that failed."""


class PgRow:
    """One PostgreSQL row read like `sqlite3.Row`: by column name, by position, unpacked, or as `dict(row)`."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict[str, int], values: Sequence[Any]) -> None:
        self._index = index
        self._values = tuple(values)

    def __getitem__(self, key: int | str) -> Any:
        return self._values[key if isinstance(key, int) else self._index[key]]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._index, self._values, strict=True))!r})"


def _row_factory(cursor: Any) -> Any:
    names = {col.name: i for i, col in enumerate(cursor.description or ())}
    return functools.partial(PgRow, names)


_PLACEHOLDER = re.compile(r"'[^']*'|\?")


@functools.lru_cache(maxsize=512)
def to_pg(sql: str) -> str:
    """The store's SQL in psycopg's form: `?` outside string literals → `%s`, a literal `%` → `%%`, and
    `BEGIN IMMEDIATE` (SQLite's write lock up front) → `BEGIN`."""
    if sql.strip().upper() == "BEGIN IMMEDIATE":
        return "BEGIN"
    sql = sql.replace("%", "%%")
    return _PLACEHOLDER.sub(lambda m: "%s" if m.group(0) == "?" else m.group(0), sql)


class PgConnection:
    """A psycopg 3 connection (autocommit; transactions by explicit BEGIN/COMMIT like the SQLite side) with the
    `Connection` face the store speaks."""

    def __init__(self, conn: psycopg.Connection[Any], dsn_label: str) -> None:
        self._conn = conn
        self.label = dsn_label
        """The server and database without the password, for messages."""

    @classmethod
    def connect(cls, dsn: str, *, application_name: str = "callwarden") -> PgConnection:
        """Connect to `dsn` (a libpq URL or key=value string); a psycopg.OperationalError when unreachable."""
        conn = psycopg.connect(
            dsn, autocommit=True, row_factory=_row_factory, application_name=application_name, connect_timeout=10
        )
        return cls(conn, safe_dsn(dsn))

    @property
    def raw(self) -> psycopg.Connection[Any]:
        """The psycopg connection itself (advisory locks, LISTEN)."""
        return self._conn

    def execute(self, sql: str, parameters: Any = (), /) -> psycopg.Cursor[Any]:
        return self._conn.execute(to_pg(sql), parameters or None)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> psycopg.Cursor[Any]:
        cur = self._conn.cursor()
        cur.executemany(to_pg(sql), parameters)
        return cur

    @property
    def in_transaction(self) -> bool:
        return self._conn.info.transaction_status != pq.TransactionStatus.IDLE

    def close(self) -> None:
        self._conn.close()


def safe_dsn(dsn: str) -> str:
    """`dsn` without its password, to be shown in logs and errors."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "postgresql (unparsable connection string)"
    host = info.get("host", "localhost")
    port = info.get("port", "5432")
    return f"postgresql://{info.get('user', '')}@{host}:{port}/{info.get('dbname', '')}"

