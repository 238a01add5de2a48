"""`callwarden users hash-password`: the ROLE:HASH line of a dashboard/API user for access.users."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from monitor.access.users import hash_password


def add_parser(subparsers: Any) -> None:
    """Register `users hash-password`."""
    users = subparsers.add_parser("users", help="dashboard/API users")
    sub = users.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    hp = sub.add_parser("hash-password", help="print the scrypt hash of a password for access.users (ROLE:HASH)")
    hp.add_argument("--role", choices=("supervisor", "admin"), default="supervisor")
    hp.add_argument("--stdin", action="store_true", help="read the password from standard input (no prompt)")
    hp.set_defaults(func=run_hash_password)


def run_hash_password(args: argparse.Namespace) -> int:
    password = sys.stdin.readline().rstrip("\n") if args.stdin else getpass.getpass("password: ")
    if len(password) < 8:
        print("callwarden: a password needs at least 8 characters", file=sys.stderr)
        return 2
    print(f"{args.role}:{hash_password(password)}")
    return 0
