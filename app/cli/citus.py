"""`kumkm citus distribute`: a Citus coordinator as the database (docs/operations.md)."""

from __future__ import annotations

import asyncio
import sys

from app.cli.common import prepare_database, safe_url
from app.infra import citus, db


def register(sub) -> None:
    c = sub.add_parser("citus", help="a Citus coordinator as the database (docs/operations.md)").add_subparsers(dest="sub", required=True)
    s = c.add_parser(
        "distribute",
        help="migrate, then distribute the schema by kode_provinsi over the cluster's workers (ops/citus/distribute.sql; once, idempotent)",
    )
    s.set_defaults(func=cmd_citus_distribute)


def cmd_citus_distribute(args) -> int:
    """Migrate the coordinator named by DATABASE_URL, then distribute its schema (once)."""
    url = prepare_database()
    try:
        done = asyncio.run(citus.distribute(db.direct_url()))
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{done} ({safe_url(url)})")
    return 0
