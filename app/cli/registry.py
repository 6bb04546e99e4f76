"""`kumkm registry tautkan`: the linker run until its queue is empty (docs/registry.md): the
migration job for the records accepted before migration 0011. `kumkm registry rekap`: the
entity indicator counts the writes keep (kumkm_rekap, docs/registry-indikator.md) checked
against a recount from the links, and rebuilt."""

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
    s = g.add_parser(
        "rekap",
        help="check the entity indicator counts (kumkm_rekap) against a recount from the links; "
        "exit 1 when they differ (docs/registry-indikator.md)",
    )
    s.add_argument("--periksa", action="store_true", help="check (the default when nothing else is asked)")
    s.add_argument(
        "--bangun-ulang",
        action="store_true",
        help="rebuild the states and counts from the links first (one transaction; reads go on meanwhile), then check",
    )
    s.add_argument("--tampilkan", type=int, default=20, help="differences to print (default 20)")
    s.set_defaults(func=cmd_registry_rekap)


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


def cmd_registry_rekap(args) -> int:
    """Exit 0 when every entity term of every (periode, kabupaten/kota) read from the kept
    counts equals the recount from the links (both in one snapshot); 1 with the differences
    otherwise; 2 on bad usage."""
    from sqlalchemy import text

    from app.core.console import UsageError
    from app.indicators.service.registry import periksa_rekap

    if args.tampilkan < 0:
        print("error: --tampilkan must be 0 or more", file=sys.stderr)
        return 2

    async def run():
        if citus.enabled():
            raise UsageError("the registry is not kept on a Citus cluster yet (docs/registry.md)")
        dibangun = None
        if args.bangun_ulang:
            async with db.transaction() as conn:
                dibangun = (await conn.execute(text("SELECT kumkm_rekap_bangun()"))).scalar()
        async with db.transaction() as conn:
            await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
            return dibangun, await periksa_rekap(conn)

    started = time.monotonic()
    try:
        dibangun, hasil = with_database(run)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    took = time.monotonic() - started
    if dibangun is not None:
        print(f"rebuilt: {dibangun} entity states")
    selisih = hasil["selisih"]
    print(
        f"{hasil['baris']} (periode, kabupaten/kota) rows x {hasil['istilah']} terms over periode "
        f"{', '.join(hasil['periode']) or '-'} in {took:.1f} s: {len(selisih)} differences"
    )
    for d in selisih[: args.tampilkan]:
        print(f"  {d['periode']} {d['kode_kabkota']} {d['istilah']}: kept {d['rekap']}, recounted {d['hitung']}")
    if selisih:
        print("the kept counts drifted: `kumkm registry rekap --bangun-ulang` rebuilds them", file=sys.stderr)
        return 1
    return 0
