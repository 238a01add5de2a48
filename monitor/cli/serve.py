"""`callwarden serve`: run the service (embedded defaults, or a YAML config with CALLWARDEN_* overrides)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from monitor.config.settings import ConfigError, load_config
from monitor.store.records import StoreError
from monitor.web.server import install_signal_handlers, run_server
from rules.packs import PackError


def add_parser(subparsers: Any) -> None:
    """Register `serve`."""
    serve = subparsers.add_parser("serve", help="run the live monitoring service")
    serve.add_argument("--config", type=Path, help="YAML config file (defaults are embedded)")
    serve.add_argument("--host", help="listen address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default 8080)")
    serve.add_argument("--data-dir", type=Path, help="where the SQLite store lives")
    serve.set_defaults(func=run)


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    for noisy in ("websockets", "aiomqtt"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"callwarden: config error: {exc}")
        return 2
    overrides = {"host": args.host, "port": args.port, "data_dir": args.data_dir}
    import dataclasses

    config = dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})
    setup_logging(config.log_level)

    async def main() -> None:
        stop = asyncio.Event()
        install_signal_handlers(stop)
        await run_server(config, stop)

    try:
        asyncio.run(main())
    except ConfigError as exc:  # e.g. listening beyond loopback without credentials
        print(f"callwarden: config error: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:  # fail fast at start-up: the data directory or database is unusable
        print(f"callwarden: storage error: {exc}", file=sys.stderr)
        return 4
    except PackError as exc:  # rules_dirs or packs name packs that do not load
        print(f"callwarden: {exc}", file=sys.stderr)
        return 2
    return 0
