"""The registry's schema distributed by kode_provinsi on a real Citus cluster: a coordinator and
two workers on loopback, from a build of ops/citus/build.sh named by KUMKM_CITUS_PG (skipped,
saying so, without one). The migrations run on the coordinator, ops/citus/distribute.sql
distributes them, and then ingest, verification, capaian pendataan and the change feed run as
the distributed schema runs them: in SQL on the coordinator, a provinsi's writes in one
transaction. (The service's own statements do not run on it yet; docs/operations.md says which
and why.)"""
from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import asyncpg
import pytest

from tests.serve_helpers import ROOT, cli, environment, reachable_tmp

CITUS_PG = os.environ.get("KUMKM_CITUS_PG")

pytestmark = pytest.mark.skipif(
    not CITUS_PG or not (Path(CITUS_PG) / "share" / "extension" / "citus.control").exists(),
    reason="no Citus build: run ops/citus/build.sh on a Citus v14.0.1 source and set KUMKM_CITUS_PG "
           "to the PostgreSQL it names (docs/operations.md)")


@pytest.fixture(scope="module")
def cluster():
    from tests.citus_cluster import Cluster

    root = reachable_tmp("kumkm-citus-")
    c = Cluster(Path(CITUS_PG), root, workers=2)
    try:
        c.start()
        done = cli(environment(database_url=c.coordinator.url), "migrate", timeout=300)
        assert done.returncode == 0, done.stderr
        c.coordinator._run("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                           "-p", str(c.coordinator.port), "-U", "postgres", "-d", "kumkm",
                           "-f", str(ROOT / "ops" / "citus" / "distribute.sql"))
        yield c
    finally:
        c.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def coord(cluster):
    conn = await asyncpg.connect(cluster.coordinator.url)
    yield conn
    await conn.close()


# A provinsi's batch in one transaction: the directory claims the ids (a global primary key:
# an id already taken, in any provinsi, is skipped), then the records, versions, lines,
# history, changes and status counters of that provinsi, all on its shard group.
INGEST = [
    """INSERT INTO submission_ids (submission_id, kode_provinsi)
       SELECT unnest($1::uuid[]), $2 ON CONFLICT DO NOTHING RETURNING submission_id""",
    """INSERT INTO submissions (submission_id, periode, jenis, kode_wilayah, kode_provinsi, kode_kabkota,
                                enumerator_id, captured_at, content_hash, dibuat_oleh)
       SELECT id, '2022', 'umkm', $3, $2, $3, 'E1', now(), '\\x00', 'enum' FROM unnest($1::uuid[]) AS id""",
    """INSERT INTO submission_versions (kode_provinsi, submission_id, version, data, dibuat_oleh)
       SELECT $2, id, 1, jsonb_build_object('kode_wilayah', $3::text), 'enum' FROM unnest($1::uuid[]) AS id""",
    """INSERT INTO sync_records (kode_provinsi, submission_id, periode, kode_kabkota, line)
       SELECT $2, id, '2022', $3, '{"submission_id":"' || id || '"}' FROM unnest($1::uuid[]) AS id""",
    """INSERT INTO submission_history (kode_provinsi, submission_id, version, aksi, ke, oleh)
       SELECT $2, id, 1, 'dibuat', 'masuk', 'enum' FROM unnest($1::uuid[]) AS id""",
    """INSERT INTO changes (kode_provinsi, submission_id, version, status, jenis_perubahan, periode, kode_kabkota)
       SELECT $2, id, 1, 'masuk', 'dibuat', '2022', $3 FROM unnest($1::uuid[]) AS id""",
    """INSERT INTO rekap_status AS r (kode_provinsi, periode, kode_kabkota, status, shard, n)
       VALUES ($2, '2022', $3, 'masuk', 0, cardinality($1::uuid[]))
       ON CONFLICT (kode_provinsi, periode, kode_kabkota, status, shard) DO UPDATE SET n = r.n + excluded.n""",
]


async def ingest(conn, kabkota: str, ids: list[uuid.UUID]) -> list[uuid.UUID]:
    prov = kabkota.split(".")[0]
    async with conn.transaction():
        # shards answer in any order: keep the batch's
        claimed = {r[0] for r in await conn.fetch(INGEST[0], ids, prov)}
        fresh = [i for i in ids if i in claimed]
        if fresh:
            for sql in INGEST[1:]:
                await conn.execute(sql, fresh, prov, *([kabkota] if "$3" in sql else []))
    return fresh


async def decide(conn, sid: uuid.UUID, status: str) -> bool:
    """A decision: the directory names the provinsi (one shard), then every statement carries
    it and routes to that provinsi's shard group."""
    async with conn.transaction():
        prov = await conn.fetchval("SELECT kode_provinsi FROM submission_ids WHERE submission_id = $1", sid)
        row = await conn.fetchrow(
            "UPDATE submissions SET status = $3, diperbarui_pada = now() WHERE kode_provinsi = $1 "
            "AND submission_id = $2 AND status = 'masuk' RETURNING kode_kabkota, periode", prov, sid, status)
        if row is None:
            return False
        await conn.execute(
            "INSERT INTO submission_history (kode_provinsi, submission_id, version, aksi, dari, ke, oleh) "
            "VALUES ($1, $2, 1, 'diverifikasi', 'masuk', $3, 'verif')", prov, sid, status)
        await conn.execute(
            "INSERT INTO changes (kode_provinsi, submission_id, version, status, jenis_perubahan, periode, "
            "kode_kabkota) VALUES ($1, $2, 1, $3, 'status', $4, $5)", prov, sid, status, row["periode"],
            row["kode_kabkota"])
        for st, d in (("masuk", -1), (status, 1)):
            await conn.execute(
                "INSERT INTO rekap_status AS r (kode_provinsi, periode, kode_kabkota, status, shard, n) "
                "VALUES ($1, $2, $3, $4, 0, $5) ON CONFLICT (kode_provinsi, periode, kode_kabkota, status, shard) "
                "DO UPDATE SET n = r.n + excluded.n", prov, row["periode"], row["kode_kabkota"], st, d)
    return True


CAPAIAN = """
    SELECT w.kode, t.target, coalesce(sum(r.n), 0)::bigint AS masuk,
           coalesce(sum(r.n) FILTER (WHERE r.status = 'diterima'), 0)::bigint AS diterima,
           coalesce(sum(r.n) FILTER (WHERE r.status = 'ditolak'), 0)::bigint AS ditolak
    FROM wilayah w
    LEFT JOIN rekap_status r ON r.kode_provinsi = $1 AND r.kode_kabkota = w.kode AND r.periode = '2022'
    LEFT JOIN target_pendataan t ON t.kode_wilayah = w.kode AND t.periode = '2022'
    WHERE w.parent_kode = $1
    GROUP BY w.kode, t.target HAVING coalesce(sum(r.n), 0) > 0 ORDER BY w.kode
"""

# The feed of one provinsi in (xid, id) order after a cursor: one shard group answers.
FEED = """
    SELECT c.xid::text, c.id, c.submission_id, c.status FROM changes c
    WHERE c.kode_provinsi = $1 AND (c.xid, c.id) > ($2::text::xid8, $3::bigint)
    ORDER BY c.xid, c.id LIMIT $4
"""


async def feed(conn, prov: str, limit: int = 1000) -> list:
    out, pos = [], ("0", 0)
    while True:
        rows = await conn.fetch(FEED, prov, pos[0], pos[1], limit)
        out += rows
        if len(rows) < limit:
            return out
        pos = (rows[-1][0], rows[-1][1])


async def test_the_distributed_schema_places_every_provinsi_on_one_shard_group(coord, cluster):
    placed = await coord.fetch(
        "SELECT logicalrelid::text AS t, partmethod::text AS partmethod, colocationid FROM pg_dist_partition ORDER BY 1")
    kinds = {r["t"]: r["partmethod"] for r in placed}
    assert {t for t, k in kinds.items() if k == "h"} == {
        "submissions", "submission_versions", "submission_history", "changes", "sync_records",
        "rekap_status", "submission_ids"}
    assert kinds["wilayah"] == kinds["api_keys"] == kinds["target_pendataan"] == "n"   # reference
    colocation = {r["t"]: r["colocationid"] for r in placed}
    record_tables = ("submissions", "submission_versions", "submission_history", "changes", "sync_records",
                     "rekap_status")
    assert len({colocation[t] for t in record_tables}) == 1
    assert colocation["submission_ids"] != colocation["submissions"]
    # shards on both workers
    nodes = await coord.fetchval("SELECT count(DISTINCT nodeport) FROM pg_dist_shard_placement "
                                 "JOIN pg_dist_shard USING (shardid) WHERE logicalrelid = 'submissions'::regclass")
    assert nodes == 2


async def test_ingest_verification_capaian_and_feed_on_a_citus_cluster(coord):
    await coord.execute("INSERT INTO target_pendataan (periode, kode_wilayah, target, dasar_hukum, "
                        "berlaku_mulai, dibuat_oleh) VALUES ('2022', '16.07', 500, 'Kepdep 63/2022', "
                        "'2022-08-01', 'test'), ('2022', '15.05', 100, 'Kepdep 63/2022', '2022-08-01', 'test')")
    sumsel = [uuid.uuid4() for _ in range(400)]
    jambi = [uuid.uuid4() for _ in range(120)]
    assert await ingest(coord, "16.07", sumsel[:300]) == sumsel[:300]
    assert await ingest(coord, "16.07", sumsel[300:]) == sumsel[300:]
    assert await ingest(coord, "15.05", jambi) == jambi
    # a replay stores nothing, and an id already used in another provinsi is refused there
    assert await ingest(coord, "16.07", sumsel[:10]) == []
    extra = uuid.uuid4()
    assert await ingest(coord, "15.05", [sumsel[0], extra]) == [extra]
    assert await coord.fetchval("SELECT count(*) FROM submissions WHERE submission_id = $1", sumsel[0]) == 1

    for sid in sumsel[:350]:
        assert await decide(coord, sid, "diterima")
    for sid in sumsel[350:360] + jambi[:20]:
        assert await decide(coord, sid, "ditolak")
    assert not await decide(coord, sumsel[0], "ditolak")   # already decided

    rows = [tuple(r) for r in await coord.fetch(CAPAIAN, "16")]
    assert rows == [("16.07", 500, 400, 350, 10)]
    rows = [tuple(r) for r in await coord.fetch(CAPAIAN, "15")]
    assert rows == [("15.05", 100, 121, 0, 20)]
    # the counters equal a recount of the records (a parallel GROUP BY over every shard)
    recount = {tuple(r) for r in await coord.fetch(
        "SELECT kode_kabkota, status, count(*) FROM submissions GROUP BY 1, 2")}
    counted = {tuple(r) for r in await coord.fetch(
        "SELECT kode_kabkota, status, sum(n) FROM rekap_status GROUP BY 1, 2 HAVING sum(n) <> 0")}
    assert recount == counted

    lines = await feed(coord, "16", limit=100)
    assert [(r["submission_id"], r["status"]) for r in lines] == (
        [(sid, "masuk") for sid in sumsel] + [(sid, "diterima") for sid in sumsel[:350]]
        + [(sid, "ditolak") for sid in sumsel[350:360]])
    assert len({(r["xid"], r["id"]) for r in lines}) == len(lines)
    assert {r["submission_id"] for r in await feed(coord, "15") if r["status"] == "masuk"} == set(jambi) | {extra}

    # a provinsi's feed page is answered by one shard: the plan is a router plan
    plan = "\n".join(r[0] for r in await coord.fetch("EXPLAIN " + FEED.replace("$1", "'16'").replace(
        "$2::text", "'0'").replace("$3", "0").replace("$4", "100")))
    assert "Task Count: 1" in plan
