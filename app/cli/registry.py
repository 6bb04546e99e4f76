"""`kumkm registry tautkan`: the linker run until its queue is empty (docs/registry.md): the
migration job for the records accepted before migration 0011."""

from __future__ import annotations

import sys
import time

from app.cli.common import with_database
from app.infra import citus, db


def register(sub) -> None:
    g = sub.add_parser("registry", help="Basis Data Tunggal: entities of usaha and koperasi (docs/registry.md)").add_subparsers(
        dest="sub", required=True
    )
    s = g.add_parser(
        "tautkan",
        help="link every queued accepted record to its entity until the queue is empty "
        "(the migration job; resumable, safe beside the live service)",
    )
    s.add_argument("--batch", type=int, default=5000, help="records per transaction (default 5000)")
    s.set_defaults(func=cmd_registry_tautkan)


def cmd_registry_tautkan(args) -> int:
    """Link the queue (kumkm_antrian) in batches of --batch, one transaction each, with a
    progress bar. The queue is the progress: a run stopped anywhere goes on where it was."""
    from app.core.console import UsageError, progress
    from app.registry import linker
    from app.registry.queries import SISA_ANTRIAN

    if args.batch < 1:
        print("error: --batch must be at least 1", file=sys.stderr)
        return 2

    async def run():
        if citus.enabled():
            raise UsageError("the registry is not kept on a Citus cluster yet (docs/registry.md)")
        async with db.connect() as conn:
            total = (await conn.execute(SISA_ANTRIAN)).scalar()
        bar = progress(total, "tautkan")
        try:
            return await linker.tautkan_semua(args.batch, kemajuan=lambda h: bar.update(h.diambil))
        finally:
            bar.close()

    started = time.monotonic()
    try:
        hasil = with_database(run)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    took = time.monotonic() - started
    print(
        f"{hasil.diambil} records from the queue in {took:.1f} s: {hasil.ditautkan} linked, {hasil.dibuat} "
        f"entities created, {hasil.dilepas} links removed, {hasil.kandidat} candidates proposed"
    )
    return 0
