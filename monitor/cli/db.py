"""CLI: `callwarden db migrate|status` — the schema of the shared PostgreSQL store (database.url)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from monitor.cli.gdpr import CliError, add_store_options, cli_config
from monitor.config.settings import ConfigError
from monitor.store.backend import DB_ERRORS, PgConnection
from monitor.store.pg_schema import PG_LATEST_VERSION, PgSchemaError, check_schema, migrate, schema_state


def add_parser(subparsers: Any) -> None:
    """Register `db migrate` and `db status`."""
    db = subparsers.add_parser("db", help="schema of the shared PostgreSQL store (database.url)")
    sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    for name, func, text in (
        (
            "migrate",
            run_migrate,
            "apply pending schema migrations under an advisory lock (safe with replicas running: additive)",
        ),
        ("status", run_status, "show the schema version of the database and whether this Callwarden can use it"),
    ):
        parser = sub.add_parser(name, help=text, description=text)
        add_store_options(parser)
        parser.add_argument("--url", help="PostgreSQL URL (default: database.url / CALLWARDEN_DATABASE_URL)")
        parser.set_defaults(func=func)


def _connect(args: argparse.Namespace) -> PgConnection:
    try:
        url = args.url or cli_config(args).database.url
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    if not url:
        raise CliError(
            "no PostgreSQL store configured: set database.url or CALLWARDEN_DATABASE_URL, or pass --url "
            "(the embedded SQLite store migrates itself when opened)"
        )
    try:
        return PgConnection.connect(url)
    except DB_ERRORS as exc:
        raise CliError(f"cannot connect to PostgreSQL: {str(exc).strip()}") from exc


def run_migrate(args: argparse.Namespace) -> int:
    try:
        conn = _connect(args)
        try:
            applied = migrate(conn)
            version = check_schema(conn)
        finally:
            conn.close()
    except (CliError, PgSchemaError) as exc:
        print(f"callwarden: {exc}", file=sys.stderr)
        return 2
    except DB_ERRORS as exc:
        print(f"callwarden: migration failed (nothing of the failed step was applied): {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"applied": applied, "version": version}))
    return 0


def run_status(args: argparse.Namespace) -> int:
    try:
        conn = _connect(args)
        try:
            version, breaks = schema_state(conn)
            try:
                check_schema(conn)
                problem = None
            except PgSchemaError as exc:
                problem = str(exc)
        finally:
            conn.close()
    except CliError as exc:
        print(f"callwarden: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"version": version, "code_version": PG_LATEST_VERSION, "breaks_below": breaks,
                      "usable": problem is None, **({"problem": problem} if problem else {})}))
    return 0 if problem is None else 1
