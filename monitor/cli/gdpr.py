"""CLI: `callwarden gdpr purge|erase|export` — retention purge, erasure of a call or a customer, export of one call."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from monitor.config.settings import Config, ConfigError, load_config
from monitor.store.crypto import DataKeyError, resolve_data_keys
from monitor.store.database import Store
from monitor.store.gdpr import export_document, purge_cutoffs
from monitor.store.records import StoreError


def add_store_options(parser: argparse.ArgumentParser) -> None:
    """--config and --data-dir, as `callwarden serve` takes them."""
    parser.add_argument("--config", type=Path, help="YAML config file (defaults are embedded)")
    parser.add_argument("--data-dir", type=Path, help="where the SQLite store lives (unless database.url is set)")


def add_parser(subparsers: Any) -> None:
    """Register `gdpr purge`, `gdpr erase` and `gdpr export`."""
    gdpr = subparsers.add_parser("gdpr", help="retention purge, erasure and export of stored call data")
    sub = gdpr.add_subparsers(dest="gdpr_command", metavar="ACTION", required=True)
    purge = sub.add_parser("purge", help="delete data past its retention (config retention.*_days) now")
    add_store_options(purge)
    purge.set_defaults(func=run_purge)
    erase = sub.add_parser("erase", help="erase one call, or every call of a customer number, completely")
    add_store_options(erase)
    target = erase.add_mutually_exclusive_group(required=True)
    target.add_argument("--call", metavar="ID", help="the call id")
    target.add_argument("--customer", metavar="NUMBER", help="the customer's phone number (metadata from/ani/caller)")
    erase.set_defaults(func=run_erase)
    export = sub.add_parser("export", help="export everything stored about one call as JSON")
    add_store_options(export)
    export.add_argument("--call", metavar="ID", required=True, help="the call id")
    export.add_argument("--out", type=Path, help="write the JSON here (default: standard output)")
    export.set_defaults(func=run_export)


def cli_config(args: argparse.Namespace) -> Config:
    """The config as `serve` would load it, with --data-dir applied."""
    config = load_config(args.config)
    if args.data_dir is not None:
        config = dataclasses.replace(config, data_dir=args.data_dir)
    return config


@contextmanager
def open_store(args: argparse.Namespace) -> Iterator[tuple[Config, Store]]:
    """The configured store (keys as the service resolves them); config/key/store errors become CliError."""
    try:
        config = cli_config(args)
        if config.database.shared:  # the PostgreSQL store of a replica fleet (database.url)
            keys = resolve_data_keys(config.encryption, config.data_dir, shared=True)
            store = Store.open_postgres(config.database.url, keys)
        else:
            if not config.db_path.exists():
                raise CliError(f"no database at {config.db_path}; pass --data-dir or --config of the service")
            store = Store.open(config.db_path, resolve_data_keys(config.encryption, config.data_dir))
    except (ConfigError, DataKeyError, StoreError) as exc:
        raise CliError(str(exc)) from exc
    try:
        yield config, store
    finally:
        store.close()


class CliError(RuntimeError):
    """A problem the operator can fix; printed as one line."""


def actor() -> str:
    """Who runs the command (the OS user), for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _fail(exc: Exception) -> int:
    print(f"callwarden: {exc}", file=sys.stderr)
    return 2


def run_purge(args: argparse.Namespace) -> int:
    try:
        with open_store(args) as (config, store):
            counts = store.purge(purge_cutoffs(config.retention, time.time()), actor=actor(), source="cli")
    except (CliError, StoreError) as exc:
        return _fail(exc)
    print(json.dumps({"deleted": counts}))
    return 0


def run_erase(args: argparse.Namespace) -> int:
    try:
        with open_store(args) as (_, store):
            if args.call is not None:
                counts = store.erase_call(args.call, actor=actor(), source="cli")
                print(json.dumps({"erased": [args.call], "rows": counts}))
                return 0
            erased, active = store.erase_customer(args.customer, actor=actor(), source="cli")
    except (CliError, StoreError) as exc:
        return _fail(exc)
    print(json.dumps({"erased": erased, "still_active": active}))
    if active:
        print(f"callwarden: {len(active)} call(s) still active; run erase again after they ended", file=sys.stderr)
        return 1
    return 0


def run_export(args: argparse.Namespace) -> int:
    try:
        with open_store(args) as (_, store):
            exported = store.export_call(args.call)
            if exported is None:
                raise CliError(f"no call {args.call!r} in {store.path}")
            store.audit(actor(), "export", source="cli", call_id=args.call)
    except (CliError, StoreError, DataKeyError) as exc:
        return _fail(exc)
    document = json.dumps(export_document(*exported), ensure_ascii=False, indent=2)
    if args.out is None:
        print(document)
    else:
        args.out.write_text(document + "\n")
    return 0
