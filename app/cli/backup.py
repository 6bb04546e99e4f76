"""`kumkm backup enable|base|check|list|prune|restore`: base backups, WAL archiving and
point-in-time restore of the embedded server (app.infra.backup); a server of one's own is
backed up with its own tools (docs/operations.md)."""

from __future__ import annotations

import sys
from pathlib import Path


def register(sub) -> None:
    b = sub.add_parser("backup", help="base backups, WAL archiving and point-in-time restore (embedded server)").add_subparsers(
        dest="sub", required=True
    )

    def add(name: str, func, help: str):
        s = b.add_parser(name, help=help)
        s.add_argument("--dir", help="the backup directory (default KUMKM_BACKUP_DIR)")
        s.set_defaults(func=func)
        return s

    add("enable", cmd_backup_enable, "archive every WAL segment into DIR/wal (restarts the embedded server once)")
    add("base", cmd_backup_base, "take a verified base backup into DIR/base/<UTC time>")
    s = add("check", cmd_backup_check, "close the current WAL segment and wait until it is archived")
    s.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the archive")
    add("list", cmd_backup_list, "base backups and archived WAL")
    s = add("prune", cmd_backup_prune, "keep the newest N base backups and only the WAL they need")
    s.add_argument("--keep", type=int, required=True)
    s = add("restore", cmd_backup_restore, "recover a new data directory to a point in time (or the end of the archive)")
    s.add_argument("--into", required=True, help="a new KUMKM_DATA_DIR to restore into")
    s.add_argument(
        "--target-time",
        help="ISO 8601 time with zone: keep every transaction committed up to it, none after (default: the end of the archive)",
    )


def _backup_dir(args) -> Path:
    from app.core.settings import settings
    from app.infra.backup import BackupError

    d = Path(args.dir) if args.dir else settings.backup_dir
    if d is None:
        raise BackupError("no backup directory: set KUMKM_BACKUP_DIR or pass --dir")
    return d


def _embedded_pgdata() -> Path:
    from app.core.settings import settings
    from app.infra.backup import BackupError

    if settings.database_url:
        raise BackupError(
            "DATABASE_URL is set: `kumkm backup` archives and backs up the embedded server "
            "only; back up your own server with its tools (see docs/operations.md)"
        )
    return settings.data_dir / "pgdata"


def _backup_command(run) -> int:
    from app.infra.backup import BackupError

    try:
        return run()
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def cmd_backup_enable(args) -> int:
    from app.infra import backup

    def run() -> int:
        d = _backup_dir(args)
        done = backup.enable(_embedded_pgdata(), d)
        if not done.changed:
            how = "already so: nothing changed"
        elif done.restarted:
            how = f"set {', '.join(done.changed)}; the embedded server restarted once (a running `kumkm serve` follows it)"
        else:
            how = f"set {', '.join(done.changed)} by a reload, without a restart"
        print(f"WAL archiving on into {Path(d).resolve() / 'wal'} (archive_timeout {backup.ARCHIVE_TIMEOUT}); {how}")
        print(f"archive_command: {done.command}")
        print("next: `kumkm backup base` for a first base backup")
        return 0

    return _backup_command(run)


def cmd_backup_base(args) -> int:
    from app.infra import backup

    def run() -> int:
        b = backup.base(_embedded_pgdata(), _backup_dir(args))
        secs = (b.finished - b.started).total_seconds()
        print(
            f"base backup {b.name}: {b.bytes / 1e6:,.1f} MB in {secs:.1f} s, verified; "
            f"restores to any time from {b.finished.isoformat(timespec='seconds')} on"
        )
        return 0

    return _backup_command(run)


def cmd_backup_check(args) -> int:
    from app.infra import backup

    def run() -> int:
        segment = backup.check(_embedded_pgdata(), _backup_dir(args), timeout=args.timeout)
        print(f"WAL archiving works: segment {segment} is in the archive; everything committed before this command is restorable")
        return 0

    return _backup_command(run)


def cmd_backup_list(args) -> int:
    from app.infra import backup

    def run() -> int:
        d = _backup_dir(args)
        backups = backup.list_backups(d)
        for b in backups:
            print(
                f"{b.name}	{b.bytes / 1e6:,.1f} MB	finished {b.finished.isoformat(timespec='seconds')}	starts at WAL {b.start_wal}"
            )
        segments = backup.archived_segments(d)
        wal = f"{len(segments)} WAL segments ({segments[0]} .. {segments[-1]})" if segments else "no WAL archived"
        print(f"{len(backups)} base backups; {wal}")
        return 0

    return _backup_command(run)


def cmd_backup_prune(args) -> int:
    from app.infra import backup

    def run() -> int:
        dropped, files = backup.prune(_backup_dir(args), args.keep)
        print(f"removed {len(dropped)} base backups ({', '.join(dropped) or 'none'}) and {files} WAL files no kept backup needs")
        return 0

    return _backup_command(run)


def cmd_backup_restore(args) -> int:
    import datetime as dt

    from app.infra import backup

    def run() -> int:
        target = None
        if args.target_time:
            try:
                target = dt.datetime.fromisoformat(args.target_time)
            except ValueError:
                raise backup.BackupError(f"--target-time {args.target_time!r} is not an ISO 8601 time") from None
            if target.tzinfo is None:
                raise backup.BackupError("--target-time needs its time zone, e.g. 2026-05-01T14:00:00+07:00")
        chosen, words = backup.restore(_backup_dir(args), Path(args.into), target)
        print(
            f"restored base backup {chosen.name} into {Path(args.into).resolve() / 'pgdata'} and replayed "
            f"WAL to {target.isoformat() if target else 'the end of the archive'}: {words}"
        )
        print(f"serve it with KUMKM_DATA_DIR={args.into} kumkm serve (WAL archiving is off there until `kumkm backup enable`)")
        return 0

    return _backup_command(run)
