"""`kumkm targets import`: target revisions from a CSV file, all or nothing."""

from __future__ import annotations

import sys
from pathlib import Path

from app.cli.common import default_actor, with_database
from app.infra import db


def register(sub) -> None:
    t = sub.add_parser("targets", help="targets pendataan").add_subparsers(dest="sub", required=True)
    s = t.add_parser(
        "import",
        help="add target revisions from a CSV file (header periode,kode_wilayah,target,dasar_hukum,berlaku_mulai, "
        "optionally batas_waktu); all or nothing",
    )
    s.add_argument("file")
    s.add_argument("--oleh", default=default_actor(), help="recorded as dibuat_oleh of every revision")
    s.set_defaults(func=cmd_targets_import)


def cmd_targets_import(args) -> int:
    path = Path(args.file)
    try:
        content = path.read_text(encoding="utf-8-sig")  # spreadsheets often prepend a BOM
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {path}: {exc}", file=sys.stderr)
        return 2

    async def run():
        from app.targets import service

        async with db.transaction() as conn:
            return await service.import_csv(conn, content, args.oleh)

    from app.targets.service import TargetFileError

    try:
        added, present = with_database(run)
    except TargetFileError as exc:
        for line in exc.errors:
            print(f"{path}: {line}", file=sys.stderr)
        print(f"nothing imported: {len(exc.errors)} error(s)", file=sys.stderr)
        return 1
    print(f"{added} revisions added, {present} already present")
    return 0
