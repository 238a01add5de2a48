"""CLI: `callwarden keys generate|status|rotate|reencrypt` — data keys of the encryption at rest."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from monitor.cli.gdpr import CliError, actor, add_store_options, cli_config, open_store
from monitor.store.crypto import DataKeyError, key_file_path, load_key_file, new_key_text, rotated, write_key_file
from monitor.store.records import StoreError


def add_parser(subparsers: Any) -> None:
    """Register `keys generate`, `keys status`, `keys rotate` and `keys reencrypt`."""
    keys = subparsers.add_parser("keys", help="data keys of the encryption at rest")
    sub = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    generate = sub.add_parser("generate", help="print a new random data key (base64) for CALLWARDEN_DATA_KEY")
    generate.set_defaults(func=run_generate)
    for name, func, text in (
        ("status", run_status, "show the active key id and how many stored values each key encrypts"),
        (
            "rotate",
            run_rotate,
            "key file: make a new active key (old ones still decrypt); then re-encrypt every row with the active key",
        ),
        ("reencrypt", run_reencrypt, "re-encrypt every row not under the active key (after changing the key)"),
    ):
        parser = sub.add_parser(name, help=text, description=text)
        add_store_options(parser)
        parser.set_defaults(func=func)


def run_generate(args: argparse.Namespace) -> int:
    print(new_key_text())
    return 0


def run_status(args: argparse.Namespace) -> int:
    try:
        with open_store(args) as (_, store):
            usage = store.key_usage()
            keys = store.keys
    except (CliError, StoreError) as exc:
        print(f"callwarden: {exc}", file=sys.stderr)
        return 2
    unknown = sorted(k for k in usage if k != "plaintext" and k not in keys.known_ids)
    status = {"active": keys.active_id, "known": list(keys.known_ids), "source": keys.source}
    print(json.dumps({**status, "values_by_key": usage, "unknown_keys": unknown}))
    return 1 if unknown else 0


def run_rotate(args: argparse.Namespace) -> int:
    """With a key file: new active key written first (0600), then every row re-encrypted. With a configured key
    (CALLWARDEN_DATA_KEY): the operator sets the new key and lists the old one as retired; this re-encrypts."""
    try:
        config = cli_config(args)
        if not config.encryption.key:
            path = key_file_path(config.encryption, config.data_dir)
            if not path.exists():
                raise CliError(f"no key file at {path}: nothing to rotate (start the service once, or pass --config)")
            write_key_file(path, rotated(load_key_file(path)))
    except (CliError, DataKeyError) as exc:
        print(f"callwarden: {exc}", file=sys.stderr)
        return 2
    return run_reencrypt(args, action="keys.rotate")


def run_reencrypt(args: argparse.Namespace, action: str = "keys.reencrypt") -> int:
    try:
        with open_store(args) as (_, store):
            counts = store.reencrypt()
            usage = store.key_usage()
            store.audit(actor(), action, source="cli", detail={"active": store.keys.active_id, "rows": counts})
            active = store.keys.active_id
    except (CliError, StoreError) as exc:
        print(f"callwarden: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"active": active, "reencrypted": counts, "values_by_key": usage}))
    return 0 if set(usage) <= {active} else 1
