"""A primary and a hot standby of their own, made as an operator makes them: the embedded
server as primary, `kumkm replica create` for the standby (tests of read replicas and of
failover; the session's database is left alone); and the enumerator apps that write through a
failover (what they sent, what was acknowledged, how long each answer took)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
import orjson

from app.infra import db, embedded, standby
from app.sync.cursor import Cursor
from tests.support.common import asyncpg_params, auth
from tests.support.factories import umkm
from tests.support.serve_helpers import cli, environment

DESA = "16.07.01.2001"


def printed(out: str, name: str) -> str:
    m = re.search(rf"^{name}=(\S+)$", out, re.M)
    assert m, out
    return m.group(1)


class LocalHA:
    def __init__(self, *, synchronous: bool = False):
        # short: the sockets live beside these directories (a unix socket path is at most 107 bytes)
        self.root = Path(tempfile.mkdtemp(prefix="kumkm-ha-"))
        self.primary_dir = self.root / "p" / "pgdata"
        self.standby_dir = self.root / "s"
        self.primary_dir.parent.mkdir()
        try:
            self.primary_url = embedded.start(self.primary_dir, cleanup_mode=None, database="kumkm")
            db.migrate(self.primary_url)
            out = cli(
                environment(data_dir=self.root / "p"),
                "replica",
                "create",
                "--data-dir",
                str(self.standby_dir),
                *(["--synchronous"] if synchronous else []),
            )
            assert out.returncode == 0, out.stdout + out.stderr
        except BaseException:
            self.close()  # servers started with cleanup_mode=None stop only here
            raise
        self.create_output = out.stdout
        self.replica_url = printed(out.stdout, "DATABASE_REPLICA_URL")
        self.failover_url = printed(out.stdout, "DATABASE_URL")

    def env(self, database_url: str | None = None, **extra) -> dict:
        return environment(database_url=database_url, data_dir=self.root / "p", **extra)

    async def connect_primary(self) -> asyncpg.Connection:
        return await asyncpg.connect(**asyncpg_params(self.primary_url))

    async def connect_standby(self) -> asyncpg.Connection:
        return await asyncpg.connect(**asyncpg_params(db.normalize_url(self.replica_url)))

    def kill_primary(self) -> int:
        """SIGKILL the primary's postmaster, as a crash or an OOM kill would."""
        pid = standby.running(self.primary_dir).pid
        os.kill(pid, signal.SIGKILL)
        return pid

    def close(self) -> None:
        stop_servers(self.standby_dir, self.primary_dir)
        shutil.rmtree(self.root, ignore_errors=True)


def stop_servers(*data_dirs: Path) -> None:
    for d in data_dirs:
        try:
            embedded.stop(d)
        except Exception:  # a killed server leaves nothing to stop
            pass
        info = standby.running(d)
        if info is not None:  # still up (e.g. stop failed): do not leave it behind
            os.kill(info.pid, signal.SIGKILL)


async def connect_dir(data_dir: Path, database: str = "kumkm") -> asyncpg.Connection:
    """A direct connection to the server running on a data directory, wherever its socket is."""
    info = standby.running(data_dir)
    assert info is not None, f"no server runs on {data_dir}"
    return await asyncpg.connect(host=str(info.socket_dir), port=info.port or 5432, user="postgres", database=database)


async def writable(data_dir: Path) -> bool:
    """Whether a new session on the server of data_dir may write (what a client with
    target_session_attrs=read-write looks for): a primary whose transactions are not read-only.
    (A write itself could wait for ever there, for a synchronous standby that is gone.)"""
    conn = await connect_dir(data_dir)
    try:
        return not await conn.fetchval("SELECT pg_is_in_recovery() OR current_setting('transaction_read_only')::bool")
    finally:
        await conn.close()


async def refuses_writes(data_dir: Path) -> bool:
    """Whether the server of data_dir refuses a write at once (read-only: fenced, or a standby)."""
    conn = await connect_dir(data_dir)
    try:
        await asyncio.wait_for(conn.execute("CREATE TABLE kumkm_write_probe (i int)"), 10)
    except asyncpg.ReadOnlySQLTransactionError:
        return True
    finally:
        conn.terminate()
    return False


class Load:
    """What the clients sent and what the service acknowledged, and when."""

    def __init__(self):
        self.acked: dict[str, dict] = {}  # submission_id -> record, acknowledged
        self.acked_at: dict[str, float] = {}  # submission_id -> when it was acknowledged
        self.decided: dict[str, str] = {}  # submission_id -> decision, acknowledged
        self.to_decide: asyncio.Queue = asyncio.Queue()
        self.failures = 0  # answers that were not an acknowledgement
        self.kill_at: float | None = None
        self.first_write_after_kill: float | None = None
        self.stop = asyncio.Event()
        self.written: list[tuple[float, int]] = []  # (time, records) of every acknowledged write
        self.slowest = 0.0  # the longest any request waited for its answer
        self.statuses: dict[int, int] = {}  # answers by status (0: no answer)

    def ack(self, started: float, records: list[dict]) -> None:
        now = time.monotonic()
        for rec in records:
            self.acked[rec["submission_id"]] = rec
            self.acked_at[rec["submission_id"]] = now
            self.to_decide.put_nowait(rec["submission_id"])
        self.written.append((now, len(records)))
        if self.kill_at is not None and started > self.kill_at and self.first_write_after_kill is None:
            self.first_write_after_kill = now

    def answered(self, started: float, status: int) -> None:
        self.slowest = max(self.slowest, time.monotonic() - started)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def first_write_after(self, t: float) -> float | None:
        return next((w for w, _ in self.written if w > t), None)

    def longest_gap(self, start: float, end: float) -> float:
        """The longest stretch between start and end without an acknowledged write."""
        times = [start] + [w for w, _ in self.written if start < w < end] + [end]
        return max(b - a for a, b in zip(times, times[1:], strict=False))


async def enumerator(c: httpx.AsyncClient, key: str, n: int, load: Load) -> None:
    """Alternates batches of 10 and single records; a write that was not acknowledged is
    sent again, unchanged, until it is (the idempotent retry of an offline app)."""
    pending: list[dict] | None = None
    turn = 0
    while not load.stop.is_set() or pending:
        if pending is None:
            turn += 1
            pending = [umkm(kode_wilayah=DESA, enumerator_id=f"ENUM-{n}") for _ in range(10 if turn % 2 else 1)]
        started = time.monotonic()
        try:
            if len(pending) == 1:
                r = await c.post("/api/v1/submissions", json=pending[0], headers=auth(key))
                ok = r.status_code in (200, 201)
            else:
                r = await c.post("/api/v1/submissions/batch", json={"items": pending}, headers=auth(key))
                ok = r.status_code == 200
                if ok:
                    outcomes = {i["outcome"] for i in r.json()["items"]}
                    assert outcomes <= {"created", "duplicate"}, r.text
        except httpx.HTTPError:
            ok, r = False, None
        load.answered(started, r.status_code if r is not None else 0)
        if ok:
            load.ack(started, pending)
            pending = None
        else:
            # only "unavailable, try again" is acceptable while the primary is away
            assert r is None or r.status_code == 503, r.text
            assert r is None or "retry-after" in r.headers
            load.failures += 1
            await asyncio.sleep(0.05)


class SupervisedHA:
    """The layout of issue 27's split brain: the primary run by `kumkm serve` on its embedded
    server (whose supervisor restarts a killed postmaster at once), a synchronous standby made
    by `kumkm replica create`, and, with a service, a second `kumkm serve` on the two-host
    DATABASE_URL that `replica create` printed."""

    def __init__(self, log_dir: Path, *, service: bool = True, pool_timeout: float = 3):
        from tests.support.serve_helpers import Served, reachable_tmp

        self.root = reachable_tmp("kumkm-sb-")
        self.primary_dir = self.root / "p" / "pgdata"
        self.standby_dir = self.root / "s"
        self.env = environment(data_dir=self.root / "p")
        self.primary = self.service = None
        try:
            self.primary = Served(self.env, log=log_dir / "primary-serve.log").wait_ready()
            out = cli(self.env, "replica", "create", "--data-dir", str(self.standby_dir), "--synchronous")
            assert out.returncode == 0, out.stdout + out.stderr
            self.failover_url = printed(out.stdout, "DATABASE_URL")
            self.service_env = environment(database_url=self.failover_url, KUMKM_DB_POOL_TIMEOUT=pool_timeout)
            if service:
                self.service = Served(self.service_env, log=log_dir / "service.log").wait_ready()
        except BaseException:
            self.close()
            raise

    def postmaster(self) -> int:
        info = standby.running(self.primary_dir)
        assert info is not None, "the primary does not run"
        return info.pid

    async def restarted(self, old_pid: int, timeout: float = 60) -> None:
        """Until a new postmaster of the primary accepts connections (its supervisor's work)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                info = standby.running(self.primary_dir)
            except AssertionError:  # postmaster.pid half written: starting
                info = None
            if info is not None and info.pid != old_pid:
                try:
                    conn = await connect_dir(self.primary_dir)
                    await conn.close()
                    return
                except (OSError, asyncpg.PostgresError):
                    pass
            assert time.monotonic() < deadline, "the supervisor did not restart the primary"
            await asyncio.sleep(0.1)

    def close(self) -> None:
        for served in (self.service, self.primary):
            if served is not None:
                served.stop()
        stop_servers(self.standby_dir, self.primary_dir)
        shutil.rmtree(self.root, ignore_errors=True)


async def feed_to_end(c: httpx.AsyncClient, key: str, after: str | None, tries: int = 20) -> tuple[list[dict], str]:
    """The change feed from `after` to its end. A page answered 503 (a connection to the lost
    primary answers once so; no server takes writes for a moment) is asked again, up to `tries`
    times, as `kumkm sync pull` does."""
    out: list[dict] = []
    while True:
        for _ in range(tries):
            r = await c.get("/api/v1/sync/changes", params={"limit": 5000, **({"after": after} if after else {})}, headers=auth(key))
            if r.status_code != 503:
                break
            await asyncio.sleep(min(float(r.headers["retry-after"]), 0.2))
        assert r.status_code == 200, r.text
        *changes, end = [orjson.loads(line) for line in r.content.splitlines()]
        assert end.get("end") is True
        out += changes
        after = end["cursor"]
        if not end["more"]:
            return out, after


def positions(lines: list[dict]) -> list[tuple[int, int]]:
    """Each feed line's place in the feed's order: (transaction, change id) from its cursor."""
    return [(cur.xid, cur.id) for cur in (Cursor.decode(line["cursor"]) for line in lines)]


async def assert_reports_and_feed_whole(
    c: httpx.AsyncClient,
    pg: asyncpg.Connection,
    load: Load,
    *,
    dinas: str,
    walidata: str,
    cursor: str,
    before: list[dict],
    snapshot: list[dict],
    snap_end: dict,
    tries: int = 20,
) -> list[dict]:
    """After a failover, as a dinas and the walidata see it: capaian equals a recount of the
    records on `pg` (the primary now); the feed from `cursor`, held across the failover (with
    `before`, the lines read up to it), delivers every change exactly once; the snapshot's records
    plus the feed after its cursor are every acknowledged record, once. Returns that feed."""
    r = await c.get("/api/v1/capaian-pendataan", params={"periode": "2022", "wilayah": "16"}, headers=auth(dinas))
    assert r.status_code == 200, r.text
    jumlah = r.json()["jumlah"]
    counts = dict(await pg.fetch("SELECT status, count(*) FROM submissions GROUP BY 1"))
    assert (jumlah["belum_diverifikasi"], jumlah["diterima"], jumlah["ditolak"]) == (
        counts.get("masuk", 0),
        counts.get("diterima", 0),
        counts.get("ditolak", 0),
    )

    after, _ = await feed_to_end(c, walidata, cursor, tries)
    every = [(int(x), i) for x, i in await pg.fetch("SELECT xid::text, id FROM changes")]
    got = positions(before) + positions(after)
    assert len(got) == len(set(got)), "a change was delivered twice"
    assert sorted(got) == sorted(every), "a change was lost"

    rest, _ = await feed_to_end(c, walidata, snap_end["cursor"], tries)
    created = [x["submission_id"] for x in rest if x["jenis_perubahan"] == "dibuat"]
    assert sorted([x["submission_id"] for x in snapshot] + created) == sorted(load.acked)
    return rest
