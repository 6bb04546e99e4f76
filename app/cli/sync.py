"""`kumkm sync pull`: the walidata's nightly job, the change feed into a directory."""

from __future__ import annotations

import sys
from pathlib import Path

from app.cli.common import make_private, private_files
from app.core.settings import settings


def register(sub) -> None:
    y = sub.add_parser("sync", help="walidata sync").add_subparsers(dest="sub", required=True)
    s = y.add_parser("pull", help="pull the change feed into DIR (the nightly job)")
    s.add_argument("--url", required=True, help="the service, e.g. https://kumkm.example.go.id")
    s.add_argument("--key", help="a walidata (or admin/dinas) API key; or KUMKM_SYNC_KEY")
    s.add_argument("--state", required=True, help="JSON file holding the cursor")
    s.add_argument("--out", required=True, help="directory of changes.ndjson (and snapshot.ndjson)")
    s.add_argument("--limit", type=int, default=10_000, help="changes per request")
    s.add_argument("--snapshot", action="store_true", help="when there is no cursor yet, load a snapshot first instead of the whole feed")
    s.add_argument("--max-pages", type=int, help="stop after this many requests")
    s.add_argument(
        "--entitas",
        action="store_true",
        help="also pull the entity feed of the Basis Data Tunggal into DIR/entitas.ndjson "
        "(with --snapshot: DIR/entitas-snapshot.ndjson first)",
    )
    s.add_argument("-v", "--verbose", action="store_true")
    s.set_defaults(func=cmd_sync_pull)


def cmd_sync_pull(args) -> int:
    from app.sync.consumer import CHANGES_FILE, ENTITAS_FILE, ENTITAS_SNAPSHOT_FILE, SNAPSHOT_FILE, PullError, pull

    key = args.key or settings.sync_key
    if not key:
        print("error: --key or KUMKM_SYNC_KEY is required", file=sys.stderr)
        return 2
    try:
        # the changes file is appended to: one made before this rule is closed first
        for made in (
            Path(args.out) / CHANGES_FILE,
            Path(args.out) / SNAPSHOT_FILE,
            Path(args.state),
            Path(args.out) / ENTITAS_FILE,
            Path(args.out) / ENTITAS_SNAPSHOT_FILE,
        ):
            make_private(made)
        with private_files():
            s = pull(
                url=args.url,
                key=key,
                state_path=Path(args.state),
                out_dir=Path(args.out),
                limit=args.limit,
                snapshot=args.snapshot,
                max_pages=args.max_pages,
                log=(lambda m: print(m, file=sys.stderr)) if args.verbose else None,
                entitas=args.entitas,
            )
    except (PullError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # network errors: the state still points at the last stored page
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if s["snapshot_records"] is not None:
        print(f"snapshot: {s['snapshot_records']} records")
    print(f"pulled {s['changes']} changes in {s['pages']} pages into {s['file']}; cursor {s['cursor']}")
    if args.entitas:
        if s.get("snapshot_entities") is not None:
            print(f"entity snapshot: {s['snapshot_entities']} entities")
        print(
            f"pulled {s['entitas_events']} entity events in {s['entitas_pages']} pages into {s['entitas_file']}; "
            f"cursor {s['entitas_cursor']}"
        )
    return 0
