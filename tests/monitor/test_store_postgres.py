"""The PostgreSQL store's own duties (a real server): numbered migrations under an advisory lock, rolling-deploy
schema checks, `callwarden db migrate`, and findings inserted once by finding id when replicas race."""

from __future__ import annotations

import json
import threading
from typing import Any

import psycopg
import pytest

from monitor.cli.main import main
from monitor.store.backend import PgConnection, to_pg
from monitor.store.database import Store
from monitor.store.pg_schema import PG_LATEST_VERSION, migrate
from monitor.store.records import StoreError
from tests.monitor.store_helpers import TEST_KEY, make_finding

T0 = 1_718_000_000.0


@pytest.fixture()
def empty_dsn(pg_cluster: Any) -> str:
    """A fresh database without any schema."""
    return str(pg_cluster.create_database())


def versions(dsn: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]


def test_sql_translation_keeps_literals_and_escapes_percent() -> None:
    assert to_pg("SELECT ? FROM t WHERE a = '?' AND b LIKE 'x%' AND c = ?") == (
        "SELECT %s FROM t WHERE a = '?' AND b LIKE 'x%%' AND c = %s"
    )
    assert to_pg("BEGIN IMMEDIATE") == "BEGIN"


def test_an_unmigrated_database_is_refused_with_the_command_that_migrates_it(empty_dsn: str) -> None:
    with pytest.raises(StoreError, match="callwarden db migrate"):
        Store.open_postgres(empty_dsn, TEST_KEY)
    with Store.open_postgres(empty_dsn, TEST_KEY, migrate=True) as store:  # start-up migration when asked
        assert store.engine == "postgresql" and store.check_writable() is None and store.integrity_check() == []
    assert versions(empty_dsn) == list(range(1, PG_LATEST_VERSION + 1))


def test_cli_db_migrate_applies_once_and_status_says_usable(
    empty_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "status", "--url", empty_dsn]) == 1
    assert "callwarden db migrate" in json.loads(capsys.readouterr().out)["problem"]
    assert main(["db", "migrate", "--url", empty_dsn]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "applied": list(range(1, PG_LATEST_VERSION + 1)), "version": PG_LATEST_VERSION,
    }  # fmt: skip
    assert main(["db", "migrate", "--url", empty_dsn]) == 0
    assert json.loads(capsys.readouterr().out)["applied"] == []
    assert main(["db", "status", "--url", empty_dsn]) == 0
    assert json.loads(capsys.readouterr().out)["usable"] is True


def test_cli_db_migrate_without_a_url_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "migrate", "--url", ""]) == 2
    assert "CALLWARDEN_DATABASE_URL" in capsys.readouterr().err


def test_concurrent_migrators_apply_each_migration_exactly_once(empty_dsn: str) -> None:
    """Replicas started together with database.migrate: the advisory lock serializes them; no duplicate-key error."""
    results: list[list[int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def one() -> None:
        conn = PgConnection.connect(empty_dsn)
        try:
            barrier.wait()
            results.append(migrate(conn))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(v for applied in results for v in applied) == list(range(1, PG_LATEST_VERSION + 1))
    assert sum(1 for applied in results if applied) == 1
    assert versions(empty_dsn) == list(range(1, PG_LATEST_VERSION + 1))


def test_rolling_deploy_additive_newer_schema_is_used_breaking_one_is_refused(pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (%s, 'a newer release: a new table', 0, 0)",
                     (PG_LATEST_VERSION + 1,))
    with Store.open_postgres(pg_dsn, TEST_KEY) as store:  # old code keeps running on an additive newer schema
        assert store.call_started("c1", protocol="raw", started_wall=T0)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (%s, 'drops a column', 0, %s)",
                     (PG_LATEST_VERSION + 2, PG_LATEST_VERSION + 2))
    with pytest.raises(StoreError, match=f"knows schema version {PG_LATEST_VERSION + 2} or later.*upgrade"):
        Store.open_postgres(pg_dsn, TEST_KEY)


def test_racing_replicas_store_and_alert_a_finding_once_by_its_id(pg_dsn: str) -> None:
    """The same finding written by two replicas at once (a retried write, a handed-over call): one row, one alert."""
    stores = [Store.open_postgres(pg_dsn, TEST_KEY) for _ in range(4)]
    try:
        stores[0].call_started("c1", protocol="raw", started_wall=T0)
        findings = [make_finding("c1", n) for n in range(20)]
        seqs: list[list[int]] = []
        barrier = threading.Barrier(len(stores))

        def write(store: Store) -> None:
            barrier.wait()
            seqs.append(store.add_findings(findings, wall_time=T0 + 1))

        threads = [threading.Thread(target=write, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sum(len(s) for s in seqs) == 20
        rows = stores[1].pending_outbox(1000)
        assert sorted(r.finding_id or "" for r in rows) == sorted(f.finding_id for f in findings)
        detail = stores[2].get_call("c1")
        assert detail is not None and len(detail.findings) == 20
    finally:
        for s in stores:
            s.close()


def test_unreachable_server_is_a_clear_error_without_the_password() -> None:
    with pytest.raises(StoreError, match=r"cannot connect to PostgreSQL \(postgresql://cw@127\.0\.0\.1:1/x\)") as info:
        Store.open_postgres("postgresql://cw:s3cret-pw@127.0.0.1:1/x", TEST_KEY)
    assert "s3cret-pw" not in str(info.value)


def test_two_step_key_rotation_keeps_every_replica_reading_every_value(pg_dsn: str) -> None:
    """docs/scale-out.md: step 1 adds the new key as retired everywhere, step 2 makes it active. Mid-step-2, a
    replica still on step 1 and one on step 2 read each other's writes; skipping step 1 breaks exactly that."""
    from monitor.store.crypto import DataKeyError, DataKeys

    old, new = bytes(range(32)), bytes(range(1, 33))
    step1 = DataKeys(old, (new,))
    step2 = DataKeys(new, (old,))
    with Store.open_postgres(pg_dsn, step1) as lagging, Store.open_postgres(pg_dsn, step2) as rolled:
        lagging.call_started("by-old", protocol="raw", started_wall=T0, metadata={"agent": "ann"})
        rolled.call_started("by-new", protocol="raw", started_wall=T0, metadata={"agent": "bob"})
        for store in (lagging, rolled):
            assert {c.call_id: c.metadata["agent"] for c in store.list_calls()} == {"by-old": "ann", "by-new": "bob"}
    with Store.open_postgres(pg_dsn, DataKeys(old)) as skipped, pytest.raises(DataKeyError, match="not configured"):
        skipped.list_calls()
