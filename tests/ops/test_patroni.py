"""Failover by Patroni with etcd, the national topology (issue 27, part 3; docs/operations.md,
"High availability with Patroni"): one etcd and two Patroni nodes on loopback, each running
the embedded wheel's PostgreSQL 18 with ops/patroni/patroni.yml, the synchronous standby set
by Patroni; `kumkm serve` on the multi-host DATABASE_URL (target_session_attrs=read-write).

Four enumerator apps post batches and single records and a verifikator decides each
acknowledged one while
1. the leader's postmaster is SIGKILLed (Patroni, which still holds the leader lock, restarts
   it in place), then
2. the whole leader node is SIGKILLed (Patroni and its PostgreSQL): the synchronous standby
   takes the lock once it expires, and is promoted;
3. the dead node's Patroni starts again (the machine is back) and makes its PostgreSQL a
   replica of the new leader by itself (pg_rewind), synchronous again.

Every node's pg_is_in_recovery() is polled throughout: never two writable at once. Writes are
back within 30 s of each kill; afterwards every acknowledged record and decision is there
exactly once, the rejoined node has them too, and the walidata's cursors from before the
failovers continue the change feed with every change exactly once. The times are printed and
saved in test-artifacts/patroni.json.

Then a leader node that is lost while its addresses hang instead of refusing (a frozen host):
the service has its writes back within 30 s, behind HAProxy on Patroni's /primary
(ops/patroni/haproxy.cfg) and on the multi-host DATABASE_URL with that node first alike (each
host gets the connect timeout in turn, app.infra.db.connect_each_host; a connect that times out
is 503, never 500).

Skipped, saying why, where etcd (Debian's etcd-server) or HAProxy cannot be installed with
apt-get (as root), or Patroni (the `test` extras) is missing. Each test runs a cluster of its
own; the logs of etcd, the nodes and the service are kept in test-artifacts/patroni/.
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
import shutil
import time

import asyncpg
import httpx
import orjson
import pytest

from tests.support.common import ARTIFACTS, Keys, auth
from tests.support.factories import umkm
from tests.support.ha_helpers import assert_reports_and_feed_whole, feed_to_end
from tests.support.patroni_cluster import HAProxy, Node, PatroniCluster, require
from tests.support.serve_helpers import Served, environment, reachable_tmp
from tests.support.verification_helpers import assert_consistent

CLIENTS = 4
DESA = "16.07.01.2001"
WRITES_BACK_WITHIN = 30.0  # seconds from a kill to the first acknowledged write


class Load:
    """What the clients sent, what the service acknowledged, and when."""

    def __init__(self):
        self.acked: dict[str, dict] = {}  # submission_id -> record, acknowledged
        self.decided: dict[str, str] = {}  # submission_id -> decision, acknowledged
        self.to_decide: asyncio.Queue = asyncio.Queue()
        self.failures = 0  # answers that were not an acknowledgement
        self.answers: collections.Counter = collections.Counter()  # status of each of those (0: no answer)
        self.slowest = 0.0  # the longest a request waited for its answer
        self.kill_at: float | None = None  # when the kill began
        self.killed_at: float | None = None  # when the processes were gone
        self.first_write_after_kill: float | None = None
        self.stop = asyncio.Event()

    def killed(self, at: float) -> None:
        """A kill that began at `at` is done: the first write sent from now on that is
        acknowledged tells when writes are back (one sent before could still commit on the old
        server in the moment the kill took)."""
        self.kill_at, self.killed_at, self.first_write_after_kill = at, time.monotonic(), None

    def took(self, started: float) -> None:
        self.slowest = max(self.slowest, time.monotonic() - started)

    def ack(self, started: float, records: list[dict]) -> None:
        for rec in records:
            self.acked[rec["submission_id"]] = rec
            self.to_decide.put_nowait(rec["submission_id"])
        if self.killed_at is not None and started > self.killed_at and self.first_write_after_kill is None:
            self.first_write_after_kill = time.monotonic()

    async def writes_back(self) -> float:
        """Seconds from the last kill to the first write acknowledged after it (sent after it)."""
        assert self.kill_at is not None
        deadline = self.kill_at + 120
        while (back := self.first_write_after_kill) is None:
            assert time.monotonic() < deadline, "no write acknowledged within 120 s of the kill"
            await asyncio.sleep(0.05)
        return back - self.kill_at


def _unavailable(r: httpx.Response | None) -> bool:
    """The only acceptable answer while no server takes writes: 503 with Retry-After (or the
    connection failing). Never a 500."""
    assert r is None or r.status_code == 503, r.text
    assert r is None or "retry-after" in r.headers
    return True


async def _enumerator(c: httpx.AsyncClient, key: str, n: int, load: Load, strict: bool = True) -> None:
    """Alternates batches of 10 and single records; a write that was not acknowledged is sent
    again, unchanged, until it is (the idempotent retry of an offline app). `strict`: fail at
    once on an answer other than 503 (else count it in load.answers and go on)."""
    pending: list[dict] | None = None
    turn = 0
    while not load.stop.is_set() or pending:
        if pending is None:
            turn += 1
            pending = [umkm(kode_wilayah=DESA, enumerator_id=f"ENUM-{n}") for _ in range(10 if turn % 2 else 1)]
        started = time.monotonic()
        r: httpx.Response | None
        try:
            if len(pending) == 1:
                r = await c.post("/api/v1/submissions", json=pending[0], headers=auth(key))
                ok = r.status_code in (200, 201)
            else:
                r = await c.post("/api/v1/submissions/batch", json={"items": pending}, headers=auth(key))
                ok = r.status_code == 200
                if ok:
                    assert {i["outcome"] for i in r.json()["items"]} <= {"created", "duplicate"}, r.text
        except httpx.HTTPError:
            ok, r = False, None
        load.took(started)
        if ok:
            load.ack(started, pending)
            pending = None
        else:
            load.answers[0 if r is None else r.status_code] += 1
            if strict:
                _unavailable(r)
            load.failures += 1
            await asyncio.sleep(0.05)


async def _verifikator(c: httpx.AsyncClient, key: str, load: Load) -> None:
    while not load.stop.is_set():
        try:
            sid = await asyncio.wait_for(load.to_decide.get(), 0.2)
        except TimeoutError:
            continue
        status = random.choice(["diterima", "ditolak"])
        body = {"status": status, "version": 1}
        if status == "ditolak":
            body["alasan_kode"] = "data_tidak_lengkap"
        while True:
            started = time.monotonic()
            r: httpx.Response | None
            try:
                r = await c.post(f"/api/v1/submissions/{sid}/verifikasi", json=body, headers=auth(key))
            except httpx.HTTPError:
                r = None
            load.took(started)
            if r is not None and r.status_code == 200:
                # a retried decision that had committed unacknowledged answers replay: true
                load.decided[sid] = status
                break
            _unavailable(r)
            load.failures += 1
            await asyncio.sleep(0.05)


class Roles:
    """Polls every node's pg_is_in_recovery() every 50 ms on connections of its own: a round
    records which nodes accepted writes at that moment (None: no answer)."""

    def __init__(self, nodes: list[Node]):
        self.nodes = nodes
        self.rounds: list[tuple[float, dict[str, bool | None]]] = []
        self.stop = asyncio.Event()

    async def run(self) -> None:
        conns: dict[str, asyncpg.Connection] = {}
        try:
            while not self.stop.is_set():
                seen: dict[str, bool | None] = {}
                for n in self.nodes:
                    try:
                        if n.name not in conns:
                            conns[n.name] = await asyncpg.connect(n.url("postgres", "postgres"), timeout=1)
                        seen[n.name] = not await asyncio.wait_for(conns[n.name].fetchval("SELECT pg_is_in_recovery()"), 1)
                    except Exception:  # refused, reset, starting, or the driver lost in a dying connection
                        seen[n.name] = None
                        conn = conns.pop(n.name, None)
                        if conn is not None:
                            conn.terminate()
                self.rounds.append((time.monotonic(), seen))
                await asyncio.sleep(0.05)
        finally:
            for conn in conns.values():
                conn.terminate()

    def writable(self) -> list[tuple[float, list[str]]]:
        return [(t, [name for name, w in seen.items() if w]) for t, seen in self.rounds]


async def _wait_for(condition, timeout: float, what: str, cluster: PatroniCluster) -> float:
    """Seconds until condition() (run in a thread: it asks Patroni's REST API) holds."""
    started = time.monotonic()
    while not await asyncio.to_thread(condition):
        assert time.monotonic() - started < timeout, f"{what} within {timeout:.0f} s:\n{cluster.tail()}"
        await asyncio.sleep(0.25)
    return time.monotonic() - started


@pytest.fixture
def cluster(request):
    """etcd and two Patroni nodes (tests/patroni_cluster.py), stopped afterwards; their logs
    (etcd, each node's Patroni and PostgreSQL, the service's) are kept in
    test-artifacts/patroni/<test>/ for a failure's story."""
    python = require("tests/ops/test_patroni.py (Patroni with etcd)")
    root = reachable_tmp("kumkm-patroni-")
    c = PatroniCluster(root, python, nodes=2)
    try:
        c.start()
        yield c
    finally:
        c.stop()
        logs = ARTIFACTS / "patroni" / request.node.name
        shutil.rmtree(logs, ignore_errors=True)
        logs.mkdir(parents=True)
        for f in root.glob("*.log"):
            shutil.copy(f, logs / f.name)
        shutil.rmtree(root, ignore_errors=True)


async def test_patroni_fails_over_without_losing_a_write_and_the_old_leader_rejoins(cluster):
    served = None
    roles = Roles(cluster.nodes)
    watcher = None
    try:
        first = cluster.leader()
        standby = cluster.synchronous_standby()
        assert first is not None and standby is not None and first is not standby
        watcher = asyncio.create_task(roles.run())
        started = time.monotonic()
        served = await asyncio.to_thread(
            Served(environment(database_url=cluster.database_url()), log=cluster.root / "serve.log").wait_ready
        )
        set_up = cluster.started_in + time.monotonic() - started
        keys = Keys(first.url())
        enums = [await keys.make("enumerator", "16.07", name=f"enum-{i}") for i in range(CLIENTS)]
        verif = await keys.make("verifikator", "16.07", name="verif-banyuasin")
        dinas = await keys.make("dinas", "16", name="dinas-sumsel")
        walidata = await keys.make("walidata", name="kemenkop", pii=True)
        load = Load()
        times: dict[str, float] = {}
        async with httpx.AsyncClient(base_url=served.url, timeout=60) as c:
            tasks = [asyncio.create_task(_enumerator(c, k, i, load)) for i, k in enumerate(enums)]
            tasks.append(asyncio.create_task(_verifikator(c, verif, load)))
            await asyncio.sleep(2)
            # The walidata's cursors from before the failovers: the feed at its head, and a snapshot's.
            before, cursor = await feed_to_end(c, walidata, None, tries=50)
            r = await c.get("/api/v1/sync/snapshot", headers=auth(walidata))
            assert r.status_code == 200, r.text
            *snapshot, snap_end = [orjson.loads(line) for line in r.content.splitlines()]
            assert snapshot and before
            await asyncio.sleep(1)

            # 1. The leader's postmaster dies; Patroni still holds the lock and restarts it in place.
            at = time.monotonic()
            first.kill_postmaster()
            load.killed(at)
            times["postmaster_kill_to_first_write"] = await load.writes_back()
            assert cluster.leader() is first, "Patroni restarted the killed postmaster on its own node"
            await asyncio.sleep(2)

            # 2. The whole leader node dies (Patroni and PostgreSQL, kill -9); the synchronous
            # standby takes the lock when it expires (ttl) and is promoted.
            await _wait_for(
                lambda: cluster.synchronous_standby() is standby, 60, "the standby synchronous again after the restart", cluster
            )
            at = time.monotonic()
            await asyncio.to_thread(first.kill)
            load.killed(at)
            times["node_kill_to_first_write"] = await load.writes_back()
            assert cluster.leader() is standby
            await asyncio.sleep(2)

            # 3. The dead node comes back: its Patroni makes it a replica of the new leader by
            # itself (pg_rewind when its WAL went past the new leader's timeline switch).
            back = time.monotonic()
            await asyncio.to_thread(first.start)

            def rejoined() -> bool:
                members = {m["name"]: m for m in cluster.members()}
                old, new = members.get(first.name, {}), members.get(standby.name, {})
                return old.get("role") == "sync_standby" and old.get("state") == "streaming" and old.get("timeline") == new.get("timeline")

            await _wait_for(rejoined, 120, f"{first.name} streaming as the synchronous standby", cluster)
            times["restart_to_rejoined_as_sync_standby"] = time.monotonic() - back
            await asyncio.sleep(2)
            load.stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 120)

            roles.stop.set()
            await watcher
            watcher = None
            log = first.log.read_text(errors="replace")
            rewound = "running pg_rewind from" in log
            timeline = {m["name"]: m.get("timeline") for m in cluster.members()}
            print(
                f"\npatroni: set-up (etcd, 2 nodes, service) {set_up:.1f} s; writes back "
                f"{times['postmaster_kill_to_first_write']:.2f} s after SIGKILL of the leader's postmaster "
                f"(restarted in place), {times['node_kill_to_first_write']:.2f} s after SIGKILL of the whole "
                f"leader node (failover to the synchronous standby); the old leader back as the synchronous "
                f"standby {times['restart_to_rejoined_as_sync_standby']:.1f} s after its Patroni started"
                f"{' (pg_rewind)' if rewound else ''}; timelines {timeline}; {len(load.acked)} records and "
                f"{len(load.decided)} decisions acknowledged; {load.failures} answers to retry; slowest "
                f"request {load.slowest:.2f} s; {len(roles.rounds)} role polls"
            )
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "patroni.json").write_text(
                json.dumps(
                    {
                        **{k: round(v, 3) for k, v in times.items()},
                        "pg_rewind": rewound,
                        "records": len(load.acked),
                        "decisions": len(load.decided),
                        "retried": load.failures,
                        "slowest_request_seconds": round(load.slowest, 3),
                    }
                )
            )

            # never two writable primaries, and each node writable when it should be
            both = [(t, w) for t, w in roles.writable() if len(w) > 1]
            assert not both, f"two writable primaries: {both[:3]}"
            assert any(w == [first.name] for _, w in roles.writable())
            assert any(w == [standby.name] for _, w in roles.writable())
            assert load.failures > 0, "the kills were felt by the clients"
            for what, seconds in times.items():
                if what.endswith("first_write"):
                    assert seconds < WRITES_BACK_WITHIN, f"{what}: {seconds:.1f} s"
            # Patroni rewinds when the old leader's WAL went past the switch to the new
            # timeline; the crash recovery after a kill -9 ends with a checkpoint, which does.
            assert rewound, f"{first.name} rejoined without pg_rewind:\n{log[-3000:]}"

            new = await asyncpg.connect(standby.url())
            old = await asyncpg.connect(first.url())
            try:
                assert not await new.fetchval("SELECT pg_is_in_recovery()")
                assert await old.fetchval("SELECT pg_is_in_recovery()")
                # every acknowledged record exactly once, and nothing that was not acknowledged
                rows = await new.fetch("SELECT submission_id::text AS sid, status FROM submissions")
                assert sorted(r["sid"] for r in rows) == sorted(load.acked)
                status = {r["sid"]: r["status"] for r in rows}
                for sid, decision in load.decided.items():
                    assert status[sid] == decision
                decisions = await new.fetch(
                    "SELECT submission_id::text AS sid, ke, count(*) AS n FROM submission_history WHERE aksi = 'diverifikasi' GROUP BY 1, 2"
                )
                assert {r["sid"]: (r["ke"], r["n"]) for r in decisions} == {sid: (d, 1) for sid, d in load.decided.items()}
                await assert_consistent(new)

                # the rejoined node holds them too, once it has replayed the leader's last commit
                lsn = await new.fetchval("SELECT pg_current_wal_lsn()")
                deadline = time.monotonic() + 30
                while await old.fetchval("SELECT pg_last_wal_replay_lsn() < $1::pg_lsn", lsn):
                    assert time.monotonic() < deadline, "the rejoined node does not catch up"
                    await asyncio.sleep(0.1)
                assert sorted(r[0] for r in await old.fetch("SELECT submission_id::text FROM submissions")) == sorted(load.acked)

                # capaian equals a recount; the feed held across both failovers and the snapshot's
                # cursor: every change, and every record, exactly once
                await assert_reports_and_feed_whole(
                    c,
                    new,
                    load,
                    dinas=dinas,
                    walidata=walidata,
                    cursor=cursor,
                    before=before,
                    snapshot=snapshot,
                    snap_end=snap_end,
                    tries=50,
                )
            finally:
                await new.close()
                await old.close()
        assert "Traceback" not in served.output()
    finally:
        roles.stop.set()
        if watcher is not None:
            await watcher
        if served is not None:
            await asyncio.to_thread(served.stop)


@pytest.mark.parametrize("route", ["multi-host", "haproxy"])
async def test_writes_come_back_when_the_lost_leader_hangs_instead_of_refusing(cluster, route):
    """The leader node is lost the way a machine is often lost: its addresses do not refuse
    connections, they leave them hanging (a frozen VM, a machine stuck on its storage; a network
    that drops packets hangs connect() the same way). Patroni promotes the synchronous standby
    when the lock expires, as above; the service must find the new leader within 30 s of the
    kill all the same, answering 503 meanwhile, whether its DATABASE_URL names every node (the
    lost one first) or HAProxy checking Patroni's /primary (ops/patroni/haproxy.cfg)."""
    leader, standby = cluster.leader(), cluster.synchronous_standby()
    assert leader is not None and standby is not None
    served = None
    hung: list = []
    haproxy = None
    try:
        if route == "haproxy":
            haproxy = await asyncio.to_thread(HAProxy(cluster.root, cluster.nodes, cluster.passwords).start)
            url = haproxy.database_url()
        else:
            url = cluster.database_url(first=leader)
        served = await asyncio.to_thread(Served(environment(database_url=url), log=cluster.root / "serve.log").wait_ready)
        keys = Keys(leader.url())
        enums = [await keys.make("enumerator", "16.07", name=f"enum-{i}") for i in range(CLIENTS)]
        load = Load()
        async with httpx.AsyncClient(base_url=served.url, timeout=60) as c:
            tasks = [asyncio.create_task(_enumerator(c, k, i, load, strict=False)) for i, k in enumerate(enums)]
            await asyncio.sleep(2)
            at = time.monotonic()
            await asyncio.to_thread(leader.kill)
            hung = leader.hang()
            load.killed(at)

            async def promoted() -> bool:
                if not await asyncio.to_thread(lambda: cluster.leader() is standby):
                    return False
                try:
                    direct = await asyncpg.connect(standby.url(), timeout=2)
                except Exception:  # not taking connections yet
                    return False
                try:
                    return not await direct.fetchval("SELECT pg_is_in_recovery()")
                finally:
                    await direct.close()

            while not await promoted():
                assert time.monotonic() - at < 60, f"{standby.name} not promoted within 60 s:\n{cluster.tail()}"
                await asyncio.sleep(0.25)
            took_promotion = time.monotonic() - at
            # The new leader takes writes: what is left is the service's part. It has until 30 s
            # after the kill, and at least 10 s (twice its connect timeout) after the promotion.
            deadline = max(at + WRITES_BACK_WITHIN, time.monotonic() + 10)
            while load.first_write_after_kill is None and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            back = load.first_write_after_kill
            for sock in hung:  # the old addresses refuse again: whatever waits on them ends
                sock.close()
            hung = []
            load.stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 120)
            answers = dict(load.answers)
            print(
                f"\npatroni, hung leader, {route}: {standby.name} promoted {took_promotion:.1f} s after the kill; writes "
                f"back {'never' if back is None else f'{back - at:.1f} s after it'}; answers to retry {answers}"
            )
            defects = []
            if answers.get(500):
                defects.append(f"{answers[500]} writes answered 500 internal-error instead of 503")
            if back is None or back - at >= WRITES_BACK_WITHIN:
                defects.append(
                    f"no write acknowledged within {deadline - at:.0f} s of the kill although "
                    f"{standby.name} took writes {took_promotion:.1f} s after it"
                )
            assert not defects, defects
            assert set(answers) <= {0, 503}, answers
            new = await asyncpg.connect(standby.url())
            try:
                rows = await new.fetch("SELECT submission_id::text FROM submissions")
                assert sorted(r[0] for r in rows) == sorted(load.acked)
            finally:
                await new.close()
    finally:
        for sock in hung:
            sock.close()
        if served is not None:
            await asyncio.to_thread(served.stop)
        if haproxy is not None:
            haproxy.stop()
