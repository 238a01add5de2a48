"""`callwarden hash-secret`: stored hashes for audiofork.users, raw.tokens and twilio.call_tokens; new random tokens."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from monitor.access.hashing import SCHEMES, hash_secret, new_token


def add_parser(subparsers: Any) -> None:
    """Register `hash-secret`."""
    parser = subparsers.add_parser(
        "hash-secret",
        help="print the stored hash of a password or token for the ingest credentials (docs/security.md)",
    )
    parser.add_argument("--scheme", choices=SCHEMES, default=None, help="default: scrypt, or sha256 with --new-token")
    parser.add_argument("--stdin", action="store_true", help="read the secret from standard input (no prompt)")
    parser.add_argument(
        "--new-token", action="store_true", help="make a random 256-bit token; print it, then its sha256$ hash"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.new_token:
        token = new_token()
        print(token)
        print(hash_secret(token, args.scheme or "sha256"))
        return 0
    secret = sys.stdin.readline().rstrip("\n") if args.stdin else getpass.getpass("secret: ")
    scheme = args.scheme or "scrypt"
    if scheme == "sha256" and len(secret) < 32:
        print("callwarden: sha256 is only for long random tokens (≥ 32 chars); use scrypt", file=sys.stderr)
        return 2
    if len(secret) < 8:
        print("callwarden: a secret needs at least 8 characters", file=sys.stderr)
        return 2
    print(hash_secret(secret, scheme))
    return 0
