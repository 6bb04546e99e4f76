"""`kumkm export` and `kumkm import`: the records of a periode to and from NDJSON, CSV or
Parquet files."""

from __future__ import annotations

import sys
from pathlib import Path

from app.cli.common import default_actor, private_files, with_database


def register(sub) -> None:
    s = sub.add_parser("export", help="write the records of a periode to NDJSON, CSV or Parquet")
    s.add_argument("--periode", required=True)
    s.add_argument("--wilayah", help="a provinsi or kabupaten/kota code; none for national")
    s.add_argument("--format", required=True, choices=["ndjson", "csv", "parquet"])
    s.add_argument("--out", required=True, help="the file to write (replaced only when complete)")
    s.add_argument("--mask-pii", action="store_true", help="mask NIK, nama pemilik, telepon and alamat")
    s.add_argument("--as", dest="as_name", default=default_actor(), help="name in the access log")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("import", help="load records from NDJSON, CSV or Parquet through the API's validation")
    s.add_argument("file")
    s.add_argument("--format", choices=["ndjson", "csv", "parquet"], help="default: from the file name or content")
    s.add_argument("--as", dest="as_name", default=default_actor(), help="the name the records are created by (as an admin principal)")
    s.add_argument("--batch", type=int, default=1000, help="records per transaction")
    s.set_defaults(func=cmd_import)


def cmd_export(args) -> int:
    async def run():
        from app.sync import tools

        # only around the writing: the embedded server's directories, made before, keep theirs
        with private_files():
            return await tools.export(
                periode=args.periode, wilayah=args.wilayah, fmt=args.format, out=Path(args.out), mask_pii=args.mask_pii, actor=args.as_name
            )

    from app.core.console import UsageError

    try:
        s = with_database(run)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rate = s["records"] / s["seconds"] if s["seconds"] else 0
    print(
        f"exported {s['records']} records of periode {s['periode']} to {s['file']} ({s['format']}, "
        f"{'with' if s['pii'] else 'masked'} personal data) in {s['seconds']:.1f} s, {rate:,.0f} records/s"
    )
    print(f"consistent with feed cursor: {s['cursor']}")
    return 0


def cmd_import(args) -> int:
    async def run():
        from app.submissions import importer

        return await importer.import_file(Path(args.file), actor=args.as_name, fmt=args.format, batch=args.batch, name=args.file)

    from app.core.console import UsageError

    try:
        s = with_database(run)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rate = s.lines / s.seconds if s.seconds else 0
    print(
        f"{args.file}: {s.lines} records read: {s.created} created, {s.duplicate} already present, "
        f"{s.rejected} rejected ({s.seconds:.1f} s, {rate:,.0f} records/s)"
    )
    if s.ignored_columns:
        print(f"ignored columns (the service derives or assigns them): {', '.join(sorted(s.ignored_columns))}")
    return 1 if s.rejected else 0
