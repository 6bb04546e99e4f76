"""The service itself on a real Citus cluster: a coordinator and two workers on loopback, from a
build of ops/citus/build.sh named by KUMKM_CITUS_PG (skipped, saying so, without one).
`kumkm citus distribute` migrates the coordinator and distributes the schema by kode_provinsi
(ops/citus/distribute.sql); then a `kumkm serve` subprocess with DATABASE_URL on the
coordinator is driven over HTTP: single and batch ingest across two provinsi (with replays and
a conflict), decisions single and batch, capaian pendataan equal to a recount over every
shard, and the change feed of each provinsi exactly once across pages, also while writers
commit during the paging. The national feed (a position per provinsi) is exactly once while
writers commit in every provinsi, through pages cut short and resumed from any line; the
national snapshot is the records, and with the feed from its cursor nothing is lost or
doubled; `kumkm sync pull --snapshot` rebuilds every record from them.

The national cursor itself (app/sync/cursor.py, ClusterCursor) is tested without a cluster, in
tests/unit/test_cluster_cursor_unit.py."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest

from app.security.personal import mask_nik
from app.sync.cursor import ClusterCursor
from tests.support.factories import nik, umkm
from tests.support.problems import assert_problem
from tests.support.serve_helpers import Served, api_key, cli, environment, reachable_tmp

CITUS_PG = os.environ.get("KUMKM_CITUS_PG")
NO_BUILD = (
    "no Citus build: run ops/citus/build.sh on a Citus v14.0.1 source and set KUMKM_CITUS_PG "
    "to the PostgreSQL it names (docs/operations.md)"
)

# ---------------------------------------------------------------- on a cluster

SUMSEL_DESA = "16.07.01.2001"  # Kab. Banyuasin, Sumatera Selatan
JAMBI_DESA = "15.05.01.1003"  # Pijoan, a desa of kabupaten 15.05, Jambi


def sumsel(**over) -> dict:
    return umkm(kode_wilayah=SUMSEL_DESA, **over)


def jambi(**over) -> dict:
    return umkm(kode_wilayah=JAMBI_DESA, nik_pemilik=nik("150501", perempuan=True), **over)


@pytest.fixture(scope="module")
def cluster():
    if not CITUS_PG or not (Path(CITUS_PG) / "share" / "extension" / "citus.control").exists():
        pytest.skip(NO_BUILD)
    from tests.support.citus_cluster import Cluster

    root = reachable_tmp("kumkm-citus-")
    c = Cluster(Path(CITUS_PG), root, workers=2)
    try:
        c.start()
        env = environment(database_url=c.coordinator.url)
        done = cli(env, "citus", "distribute", timeout=300)
        assert done.returncode == 0, done.stderr
        assert "distributed by kode_provinsi over 2 worker(s)" in done.stdout
        again = cli(env, "citus", "distribute")  # once: a second run changes nothing
        assert again.returncode == 0 and "already distributed" in again.stdout, again.stderr
        yield c
    finally:
        c.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def service(cluster):
    env = environment(database_url=cluster.coordinator.url)
    keys = {
        "admin": api_key(env, "--role", "admin", "--name", "admin"),
        "enum16": api_key(env, "--role", "enumerator", "--wilayah", "16.07", "--name", "enum-banyuasin"),
        "enum15": api_key(env, "--role", "enumerator", "--wilayah", "15.05", "--name", "enum-jambi"),
        "verif16": api_key(env, "--role", "verifikator", "--wilayah", "16", "--name", "verif-sumsel"),
        "dinas16": api_key(env, "--role", "dinas", "--wilayah", "16", "--name", "dinas-sumsel"),
        "wali15": api_key(env, "--role", "walidata", "--wilayah", "15", "--name", "walidata-jambi", "--pii"),
        "wali15-masked": api_key(env, "--role", "walidata", "--wilayah", "15", "--name", "walidata-jambi-masked"),
        "walidata": api_key(env, "--role", "walidata", "--name", "walidata-nasional", "--pii"),
    }
    root = reachable_tmp("kumkm-citus-serve-")
    served = Served(env, log=root / "serve.log").wait_ready()
    try:
        yield served, keys, env
    finally:
        served.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def coord(cluster):
    conn = await asyncpg.connect(cluster.coordinator.url)
    yield conn
    await conn.close()


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


async def test_the_distributed_schema_places_every_provinsi_on_one_shard_group(coord, cluster):
    placed = await coord.fetch(
        "SELECT logicalrelid::text AS t, partmethod::text AS partmethod, colocationid FROM pg_dist_partition ORDER BY 1"
    )
    kinds = {r["t"]: r["partmethod"] for r in placed}
    record_tables = ("submissions", "submission_versions", "submission_history", "changes", "sync_records", "rekap_status", "provinsi_feed")
    assert {t for t, k in kinds.items() if k == "h"} == {*record_tables, "submission_ids", "openrosa_instances"}
    assert kinds["wilayah"] == kinds["api_keys"] == kinds["target_pendataan"] == "n"  # reference
    colocation = {r["t"]: r["colocationid"] for r in placed}
    assert len({colocation[t] for t in record_tables}) == 1
    assert colocation["submission_ids"] == colocation["openrosa_instances"] != colocation["submissions"]
    nodes = await coord.fetchval(
        "SELECT count(DISTINCT nodeport) FROM pg_dist_shard_placement "
        "JOIN pg_dist_shard USING (shardid) WHERE logicalrelid = 'submissions'::regclass"
    )
    assert nodes == 2
    # the two provinsi of the test live on different workers, so a batch spanning both is a
    # distributed transaction
    ports = [
        await coord.fetchval(
            "SELECT nodeport FROM pg_dist_shard_placement WHERE shardid = get_shard_id_for_distribution_column('submissions', $1::text)", p
        )
        for p in ("16", "15")
    ]
    assert ports[0] != ports[1]


async def test_the_service_ingests_decides_counts_and_feeds_on_the_cluster(service, coord):
    served, keys, env = service
    async with httpx.AsyncClient(base_url=served.url, timeout=60) as http:
        for kode, target in (("16.07", 500), ("15.05", 100)):
            r = await http.put(
                f"/api/v1/targets/2022/{kode}",
                headers=auth(keys["admin"]),
                json={"target": target, "dasar_hukum": "Kepdep 63/2022", "berlaku_mulai": "2022-08-01"},
            )
            assert r.status_code == 201, r.text

        # single records: 201, the same again 200 with the same record, other content 409
        one = sumsel()
        r = await http.post("/api/v1/submissions", json=one, headers=auth(keys["enum16"]))
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "masuk" and r.json()["skala_usaha"] == "mikro"
        again = await http.post("/api/v1/submissions", json=one, headers=auth(keys["enum16"]))
        assert again.status_code == 200, again.text
        assert again.json()["submission_id"] == one["submission_id"] and again.json()["version"] == 1
        other = await http.post("/api/v1/submissions", json={**one, "nama_usaha": "Lain"}, headers=auth(keys["enum16"]))
        assert other.status_code == 409 and other.json()["code"] == "content-conflict", other.text
        r = await http.post("/api/v1/submissions", json=jambi(), headers=auth(keys["enum15"]))
        assert r.status_code == 201, r.text
        single_jambi = r.json()["submission_id"]

        # batches spanning both provinsi: created / duplicate / rejected per item, in order
        records16 = [sumsel() for _ in range(300)]
        records15 = [jambi() for _ in range(100)]
        mixed = [x for pair in zip(records16[:100], records15, strict=True) for x in pair]
        r = await http.post("/api/v1/submissions/batch", json={"items": mixed}, headers=auth(keys["admin"]))
        assert r.status_code == 200, r.text
        assert (r.json()["created"], r.json()["duplicate"], r.json()["rejected"]) == (200, 0, 0)
        r = await http.post("/api/v1/submissions/batch", json={"items": records16[100:]}, headers=auth(keys["admin"]))
        assert r.json()["created"] == 200, r.text
        # a replayed batch with one changed item and one new one, the same id twice inside it,
        # and an id of Sumatera Selatan sent again as a Jambi record (another provinsi's shard)
        fresh = jambi()
        replay = [
            records16[0],
            {**records15[1], "nama_usaha": "Diubah"},
            fresh,
            fresh,
            {**jambi(), "submission_id": records16[5]["submission_id"]},
            records15[2],
        ]
        r = await http.post("/api/v1/submissions/batch", json={"items": replay}, headers=auth(keys["admin"]))
        assert r.status_code == 200, r.text
        assert [(i["outcome"], i["status"]) for i in r.json()["items"]] == [
            ("duplicate", 200),
            ("rejected", 409),
            ("created", 201),
            ("duplicate", 200),
            ("rejected", 409),
            ("duplicate", 200),
        ]
        assert await coord.fetchval("SELECT count(*) FROM submissions") == 1 + 1 + 400 + 1
        assert await coord.fetchval("SELECT count(*) FROM submission_ids") == 403
        assert (
            await coord.fetchval("SELECT count(*) FROM submissions WHERE submission_id = $1", uuid.UUID(records16[5]["submission_id"])) == 1
        )
        r = await http.get(f"/api/v1/submissions/{records15[1]['submission_id']}", headers=auth(keys["admin"]))
        assert r.status_code == 200 and r.json()["data"]["nama_usaha"] == records15[1]["nama_usaha"], r.text
        r = await http.get(f"/api/v1/submissions/{uuid.uuid4()}", headers=auth(keys["admin"]))
        assert_problem(r, "not-found")

        # decisions: single ones (200, replay 200, stale 409), then a batch spanning both provinsi
        sid = records16[0]["submission_id"]
        body = {"status": "diterima", "version": 1, "dari": "masuk"}
        r = await http.post(f"/api/v1/submissions/{sid}/verifikasi", json=body, headers=auth(keys["verif16"]))
        assert r.status_code == 200 and r.json()["status"] == "diterima", r.text
        r = await http.post(f"/api/v1/submissions/{sid}/verifikasi", json=body, headers=auth(keys["verif16"]))
        assert r.status_code == 200, r.text  # the same decision again
        r = await http.post(
            f"/api/v1/submissions/{sid}/verifikasi",
            headers=auth(keys["verif16"]),
            json={"status": "ditolak", "version": 1, "dari": "masuk", "alasan_kode": "duplikat"},
        )
        assert r.status_code == 409 and r.json()["current_status"] == "diterima", r.text
        r = await http.post(f"/api/v1/submissions/{single_jambi}/verifikasi", json=body, headers=auth(keys["verif16"]))
        assert_problem(r, "outside-scope")  # Jambi is outside a Sumsel key
        items = (
            [{"submission_id": x["submission_id"], "status": "diterima", "version": 1} for x in records16[1:250]]
            + [
                {"submission_id": x["submission_id"], "status": "ditolak", "version": 1, "alasan_kode": "data_tidak_valid"}
                for x in records16[250:260] + records15[:20]
            ]
            + [{"submission_id": str(uuid.uuid4()), "status": "diterima", "version": 1}]
        )
        r = await http.post("/api/v1/verifikasi/batch", json={"items": items}, headers=auth(keys["admin"]))
        assert r.status_code == 200, r.text
        outcomes = [(i["outcome"], i["status"]) for i in r.json()["items"]]
        assert outcomes == [("decided", 200)] * 279 + [("rejected", 404)]

        # a correction of a ditolak record moves it to another kabupaten/kota of its provinsi,
        # back to masuk as version 2; a move to another provinsi is refused (records are placed
        # by provinsi); the riwayat and the verifikator's queue read it on its worker
        moved = records16[250]
        palembang = await coord.fetchval("SELECT kode FROM wilayah WHERE kode LIKE '16.71.%' AND level = 4 ORDER BY kode LIMIT 1")
        r = await http.put(
            f"/api/v1/submissions/{moved['submission_id']}",
            headers=auth(keys["admin"]),
            json={**moved, "kode_wilayah": palembang, "nama_usaha": "Warung Pindah"},
        )
        assert r.status_code == 200 and r.json()["version"] == 2 and r.json()["status"] == "masuk", r.text
        r = await http.put(
            f"/api/v1/submissions/{records16[251]['submission_id']}",
            headers=auth(keys["admin"]),
            json={**records16[251], "kode_wilayah": JAMBI_DESA},
        )
        assert r.status_code == 422, r.text
        r = await http.get(f"/api/v1/submissions/{moved['submission_id']}/riwayat", headers=auth(keys["verif16"]))
        assert r.status_code == 200, r.text
        assert [x["aksi"] for x in r.json()["items"]] == ["dibuat", "diverifikasi", "dikoreksi"]
        r = await http.get("/api/v1/verifikasi/antrian", params={"periode": "2022", "kabkota": "16.71"}, headers=auth(keys["verif16"]))
        assert r.status_code == 200, r.text
        assert [x["submission_id"] for x in r.json()["items"]] == [moved["submission_id"]]

        # capaian pendataan from the counters the writers keep, equal to a recount of the records
        r = await http.get("/api/v1/capaian-pendataan", params={"periode": "2022", "wilayah": "16"}, headers=auth(keys["admin"]))
        assert next(x for x in r.json()["rows"] if x["kode"] == "16.71")["masuk"] == 1
        for provinsi, kabkota, expected in (("16", "16.07", (500, 300, 250, 9)), ("15", "15.05", (100, 102, 0, 20))):
            r = await http.get("/api/v1/capaian-pendataan", params={"periode": "2022", "wilayah": provinsi}, headers=auth(keys["admin"]))
            assert r.status_code == 200, r.text
            row = next(x for x in r.json()["rows"] if x["kode"] == kabkota)
            assert (row["target"], row["masuk"], row["diterima"], row["ditolak"]) == expected
        recount = {tuple(r) for r in await coord.fetch("SELECT kode_kabkota, status, count(*) FROM submissions GROUP BY 1, 2")}
        counted = {
            tuple(r) for r in await coord.fetch("SELECT kode_kabkota, status, sum(n) FROM rekap_status GROUP BY 1, 2 HAVING sum(n) <> 0")
        }
        assert recount == counted

        # the feed of each provinsi, exactly once across pages
        lines16 = await _feed(http, keys["dinas16"], limit=70)
        created16 = [x["submission_id"] for x in lines16 if x["jenis_perubahan"] == "dibuat"]
        assert sorted(created16) == sorted([one["submission_id"]] + [x["submission_id"] for x in records16])
        changes16 = [_key_of(x) for x in lines16]
        assert len(changes16) == len(set(changes16)) == 301 + 260 + 1
        assert {x["kode_provinsi"] for x in lines16} == {"16"}
        lines15 = await _feed(http, keys["wali15"], limit=33)
        assert len(lines15) == 102 + 20 and len({_key_of(x) for x in lines15}) == 122
        assert all(x["record"]["data"]["nik_pemilik"].startswith("1505") for x in lines15)  # pii key: unmasked
        masked15 = await _feed(http, keys["wali15-masked"], limit=50)
        assert [_key_of(x) for x in masked15] == [_key_of(x) for x in lines15]
        for m, x in zip(masked15, lines15, strict=True):
            assert m["record"]["pii_masked"] is True and m["record"]["data"] != x["record"]["data"]
            assert m["record"]["data"]["nik_pemilik"] == mask_nik(x["record"]["data"]["nik_pemilik"])

        # a cursor of one provinsi's feed is not one of the national feed, nor the reverse
        r = await http.get("/api/v1/sync/changes", params={"after": lines15[-1]["cursor"]}, headers=auth(keys["walidata"]))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "after", r.text
        national, _cursor, _more = await _page(http, keys["walidata"], 5, None)
        r = await http.get("/api/v1/sync/changes", params={"after": national[-1]["cursor"]}, headers=auth(keys["wali15"]))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "after", r.text

        # a snapshot of a provinsi, then the feed from its cursor: nothing lost, nothing twice
        r = await http.get("/api/v1/sync/snapshot", params={"periode": "2022"}, headers=auth(keys["wali15"]))
        assert r.status_code == 200, r.text
        snap = [httpx.Response(200, content=line).json() for line in r.content.splitlines()]
        assert snap[-1]["end"] and snap[-1]["count"] == 102
        more = [jambi() for _ in range(5)]
        r = await http.post("/api/v1/submissions/batch", json={"items": more}, headers=auth(keys["enum15"]))
        assert r.json()["created"] == 5
        after = await _feed(http, keys["wali15"], limit=50, cursor=snap[-1]["cursor"])
        assert sorted(x["submission_id"] for x in after) == sorted(x["submission_id"] for x in more)

        # `kumkm export` of a provinsi on the cluster reads its worker's snapshot and gives that
        # worker's cursor: the feed from it brings exactly what came after; a national export
        # reads every provinsi on its worker and gives the national cursor
        out = reachable_tmp("kumkm-citus-export-")
        try:
            done = cli(env, "export", "--periode", "2022", "--wilayah", "15", "--format", "ndjson", "--out", str(out / "jambi.ndjson"))
            assert done.returncode == 0, done.stderr
            exported = (out / "jambi.ndjson").read_text().splitlines()
            assert len(exported) == 102 + 5
            cursor = done.stdout.split("consistent with feed cursor: ")[1].split()[0]
            later = [jambi() for _ in range(3)]
            r = await http.post("/api/v1/submissions/batch", json={"items": later}, headers=auth(keys["enum15"]))
            assert r.json()["created"] == 3
            after = await _feed(http, keys["wali15"], limit=50, cursor=cursor)
            assert sorted(x["submission_id"] for x in after) == sorted(x["submission_id"] for x in later)
            done = cli(env, "export", "--periode", "2022", "--format", "ndjson", "--out", str(out / "all.ndjson"))
            assert done.returncode == 0, done.stderr
            exported = [json.loads(x) for x in (out / "all.ndjson").read_text().splitlines()]
            stored = [json.loads(x) for (x,) in await coord.fetch("SELECT line FROM sync_records WHERE periode = '2022'")]
            assert sorted(exported, key=_sid) == sorted(stored, key=_sid)
            cursor = done.stdout.split("consistent with feed cursor: ")[1].split()[0]
            later = [jambi() for _ in range(2)] + [sumsel()]
            r = await http.post("/api/v1/submissions/batch", json={"items": later}, headers=auth(keys["admin"]))
            assert r.json()["created"] == 3
            after = await _feed(http, keys["walidata"], limit=2, cursor=cursor)
            assert sorted(x["submission_id"] for x in after) == sorted(x["submission_id"] for x in later)
        finally:
            shutil.rmtree(out, ignore_errors=True)

        # exactly once while writers commit during the paging (in both provinsi)
        seen: list[tuple[str, str]] = []
        cursor = None
        writers = asyncio.gather(
            *[
                http.post(
                    "/api/v1/submissions/batch", headers=auth(keys["admin"]), json={"items": [sumsel() for _ in range(20)] + [jambi()]}
                )
                for _ in range(8)
            ]
        )
        for _ in range(40):
            page, cursor, _more = await _page(http, keys["dinas16"], 25, cursor)
            seen += [_key_of(x) for x in page]
            if writers.done():
                break
            await asyncio.sleep(0.05)
        written = await writers
        assert all(w.json()["created"] == 21 for w in written)
        while True:
            page, cursor, more_pages = await _page(http, keys["dinas16"], 100, cursor)
            seen += [_key_of(x) for x in page]
            if not more_pages:
                break
        in_db = {
            (str(r[0]), r[1], r[2], r[3])
            for r in await coord.fetch("SELECT submission_id, version, status, jenis_perubahan FROM changes WHERE kode_provinsi = '16'")
        }
        start = len(lines16)
        assert len(seen) == len(set(seen))
        assert set(seen) | {_key_of(x) for x in lines16} == in_db
        assert len(in_db) == start + 1 + 160


async def test_a_revoked_key_is_refused_at_once_on_the_cluster(service):
    served, _keys, env = service
    key = api_key(env, "--role", "dinas", "--wilayah", "16", "--name", "dinas-dicabut")
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as http:
        assert (await http.get("/api/v1/me", headers=auth(key))).status_code == 200
        done = cli(env, "apikey", "revoke", key[:14])
        assert done.returncode == 0, done.stderr
        # the listener hears the coordinator's notification and empties the cache
        for _ in range(50):
            if (await http.get("/api/v1/me", headers=auth(key))).status_code == 401:
                break
            await asyncio.sleep(0.1)
        assert_problem(await http.get("/api/v1/me", headers=auth(key)), "unauthorized")


# ---------------------------------------------------------------- the national feed and snapshot


async def _desa_of_every_provinsi(coord) -> dict[str, str]:
    return {
        r[0]: r[1]
        for r in await coord.fetch(
            "SELECT DISTINCT ON (left(kode, 2)) left(kode, 2), kode FROM wilayah WHERE level = 4 ORDER BY left(kode, 2), kode"
        )
    }


def _record_in(desa: str) -> dict:
    return umkm(kode_wilayah=desa, nik_pemilik=nik(desa.replace(".", "")[:6], perempuan=True))


class Writers:
    """Writers in every provinsi at once, through the service: batches spanning many provinsi
    (distributed transactions over both workers), single POSTs, and decisions of records
    already written (a `status` change in the record's provinsi), until stopped."""

    def __init__(self, http: httpx.AsyncClient, key: str, desa: dict[str, str], tasks: int = 4):
        self.http, self.key, self.desa = http, key, desa
        self.created: list[str] = []  # written and not yet decided
        self.written = 0
        self.stopping = asyncio.Event()
        self.tasks = [asyncio.create_task(self._run(random.Random(i))) for i in range(tasks)]

    async def _run(self, rnd: random.Random) -> None:
        codes = sorted(self.desa)
        while not self.stopping.is_set():
            kind = rnd.random()
            if kind < 0.5:
                items = [_record_in(self.desa[rnd.choice(codes)]) for _ in range(rnd.randint(5, 40))]
                r = await self.http.post("/api/v1/submissions/batch", json={"items": items}, headers=auth(self.key))
                assert r.status_code == 200 and r.json()["created"] == len(items), r.text
                self.created += [x["submission_id"] for x in items]
                self.written += len(items)
            elif kind < 0.75 or len(self.created) < 10:
                one = _record_in(self.desa[rnd.choice(codes)])
                r = await self.http.post("/api/v1/submissions", json=one, headers=auth(self.key))
                assert r.status_code == 201, r.text
                self.created.append(one["submission_id"])
                self.written += 1
            else:
                # each record is decided at most once: it is taken off the list to decide
                picked = [self.created.pop(rnd.randrange(len(self.created))) for _ in range(rnd.randint(1, 10))]
                items = [
                    {"submission_id": sid, "status": rnd.choice(["diterima", "ditolak"]), "version": 1, "alasan_kode": "data_tidak_valid"}
                    for sid in picked
                ]
                for item in items:
                    if item["status"] == "diterima":
                        del item["alasan_kode"]
                r = await self.http.post("/api/v1/verifikasi/batch", json={"items": items}, headers=auth(self.key))
                assert r.status_code == 200, r.text
                assert [i["outcome"] for i in r.json()["items"]] == ["decided"] * len(items), r.text

    def failed(self) -> bool:
        return any(t.done() for t in self.tasks)

    async def stop(self) -> None:
        self.stopping.set()
        await asyncio.gather(*self.tasks)  # raises what a writer raised


async def _db_changes(coord) -> list[tuple]:
    return [(str(r[0]), r[1], r[2], r[3]) for r in await coord.fetch("SELECT submission_id, version, status, jenis_perubahan FROM changes")]


async def _cut_page(http: httpx.AsyncClient, key: str, limit: int, cursor: str | None, keep: int):
    """A page whose client goes away after `keep` change lines: the lines it took (each with
    its cursor), as a consumer that stored them has them; the end line if it came first."""
    params = {"limit": limit, **({"after": cursor} if cursor else {})}
    for _ in range(50):
        async with http.stream("GET", "/api/v1/sync/changes", params=params, headers=auth(key)) as r:
            if r.status_code == 429:  # the stream the last cut left is still being closed
                await asyncio.sleep(0.2)
                continue
            assert r.status_code == 200
            lines: list[dict] = []
            async for text in r.aiter_lines():
                if not text:
                    continue
                line = json.loads(text)
                if line.get("end"):
                    return lines, line
                lines.append(line)
                if len(lines) == keep:
                    return lines, None
            raise AssertionError("a stream without its end line")
    raise AssertionError("the service kept answering 429")


async def test_the_national_feed_is_exactly_once_under_writers_in_every_provinsi_through_cut_pages(service, coord):
    """A walidata key without wilayah pages the national feed while writers commit in all 38
    provinsi; one page in three is cut short by the client after a few lines and the next
    page resumes from the last line it kept. Every change of the cluster arrives once, and the
    feed from the cursor of any line gives exactly the changes that followed that line."""
    served, keys, _env = service
    desa = await _desa_of_every_provinsi(coord)
    assert len(desa) == 38
    rnd = random.Random(27)
    async with httpx.AsyncClient(base_url=served.url, timeout=120) as http:
        writers = Writers(http, keys["admin"], desa)
        seen: list[dict] = []
        cursor = None
        cut = pages = 0
        try:
            while (pages < 60 or writers.written < 600) and not writers.failed():
                await asyncio.sleep(rnd.random() * 0.1)
                limit = rnd.choice([7, 37, 150])
                if rnd.random() < 0.35:
                    lines, end = await _cut_page(http, keys["walidata"], limit, cursor, keep=rnd.randint(1, limit))
                    cut += end is None
                    if lines:
                        cursor = lines[-1]["cursor"]
                    elif end is not None:
                        cursor = end["cursor"]
                else:
                    lines, cursor, _more = await _page(http, keys["walidata"], limit, cursor)
                seen += lines
                pages += 1
        finally:
            await writers.stop()
        while True:  # writers done: catch up to the head of the feed
            lines, cursor, more = await _page(http, keys["walidata"], 500, cursor)
            seen += lines
            if not more:
                break
        assert cut >= 10, f"only {cut} pages were cut mid-way"
        print(f"{pages} pages ({cut} cut short) while {writers.written} records were written; {len(seen)} changes")
        keys_seen = [_key_of(x) for x in seen]
        in_db = await _db_changes(coord)
        assert len(keys_seen) == len(set(keys_seen)), "a change arrived twice"
        assert sorted(keys_seen) == sorted(in_db), "the feed and the changes table differ"
        assert {x["kode_provinsi"] for x in seen} == set(desa)
        assert {"dibuat", "status"} <= {x["jenis_perubahan"] for x in seen}
        # resuming from the cursor of any line brings exactly the changes that followed it
        for i in sorted(rnd.sample(range(len(seen) - 1), 6)):
            rest = await _feed(http, keys["walidata"], limit=1000, cursor=seen[i]["cursor"])
            assert sorted(_key_of(x) for x in rest) == sorted(keys_seen[i + 1 :])
        # nothing new: the end line gives back the cursor it was given
        again, end_cursor, more = await _page(http, keys["walidata"], 100, cursor)
        assert again == [] and end_cursor == cursor and more is False


async def test_the_national_snapshot_is_the_records_and_the_feed_from_it_loses_and_repeats_nothing(service, coord, cluster):
    """National snapshots taken while writers commit in every provinsi, then the feed from each
    one's cursor: each record is either in the snapshot or created in the feed, never both; its
    decision likewise; rebuilt from both, every record is as stored. Every other snapshot is
    taken while a transaction with an id holds open on each worker, so that writers' changes
    committed after it lie between the workers' snapshot xmin and xmax, where the feed must
    skip exactly those the snapshot saw. Taken again when the writers are done, the snapshot is
    exactly the records, in NDJSON and CSV."""
    served, keys, _env = service
    desa = await _desa_of_every_provinsi(coord)
    async with httpx.AsyncClient(base_url=served.url, timeout=120) as http:
        writers = Writers(http, keys["admin"], desa)
        taken = []
        try:
            for k in range(6):
                holds = [await asyncpg.connect(w.url) for w in cluster.workers] if k % 2 == 0 else []
                for h in holds:
                    await h.execute("BEGIN")
                    await h.fetchval("SELECT pg_current_xact_id()")  # an id, in flight on that worker
                await asyncio.sleep(0.5)
                r = await http.get("/api/v1/sync/snapshot", headers=auth(keys["walidata"]))
                for h in holds:
                    await h.execute("COMMIT")
                    await h.close()
                assert r.status_code == 200, r.text
                taken.append(r)
            await asyncio.sleep(0.5)
        finally:
            await writers.stop()
        stored = {json.loads(x)["submission_id"]: json.loads(x) for (x,) in await coord.fetch("SELECT line FROM sync_records")}
        decided_in_db = {str(s) for (s,) in await coord.fetch("SELECT submission_id FROM submissions WHERE status <> 'masuk'")}
        in_flight = 0
        for r in taken:
            snap = [json.loads(x) for x in r.content.splitlines()]
            end, snap = snap[-1], snap[:-1]
            assert end["end"] and end["count"] == len(snap) and r.headers["x-sync-cursor"] == end["cursor"]
            in_flight += any(c.snapshot is not None for _, c in ClusterCursor.decode(end["cursor"]).positions)
            after = await _feed(http, keys["walidata"], limit=250, cursor=end["cursor"])
            in_snapshot = {x["submission_id"]: x for x in snap}
            created = [x["submission_id"] for x in after if x["jenis_perubahan"] == "dibuat"]
            decided = [x["submission_id"] for x in after if x["jenis_perubahan"] == "status"]
            assert len(created) == len(set(created)) and len(decided) == len(set(decided))
            assert not set(created) & set(in_snapshot), "a record of the snapshot was created again in the feed"
            assert not {s for s in decided if in_snapshot.get(s, {}).get("status", "masuk") != "masuk"}, (
                "a decision the snapshot holds came again in the feed"
            )
            assert set(in_snapshot) | set(created) == set(stored), "a record is in neither"
            assert {s for s, x in in_snapshot.items() if x["status"] != "masuk"} | set(decided) == decided_in_db
            rebuilt = dict(in_snapshot)
            rebuilt.update({x["submission_id"]: x["record"] for x in after})
            assert rebuilt == stored
        assert in_flight >= 3, f"only {in_flight} snapshots had a transaction in flight on a worker"

        # at rest, the national snapshot is exactly the records, in NDJSON and in CSV
        records, cursor = await _snapshot(http, keys["walidata"])
        assert sorted(records, key=_sid) == sorted(stored.values(), key=_sid)
        r = await http.get("/api/v1/sync/snapshot", params={"format": "csv", "periode": "2022"}, headers=auth(keys["walidata"]))
        assert r.status_code == 200 and len(r.text.splitlines()) == 1 + len(stored), r.text[:300]
        assert (await _feed(http, keys["walidata"], limit=100, cursor=cursor)) == []


async def test_kumkm_sync_pull_mirrors_the_cluster_with_a_national_key(service, coord):
    """The walidata's nightly job, as documented, against the cluster: a snapshot, then pages of
    the national feed, while writers commit in every provinsi; a second run resumes from the
    stored cursor. The rebuilt records are the cluster's records."""
    served, keys, env = service
    desa = await _desa_of_every_provinsi(coord)
    out = reachable_tmp("kumkm-citus-pull-")
    state, data = out / "cursor.json", out / "bdt"
    args = ("sync", "pull", "--url", served.url, "--state", str(state), "--out", str(data), "--limit", "40")
    pull_env = {**env, "KUMKM_SYNC_KEY": keys["walidata"]}
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=120) as http:
            writers = Writers(http, keys["admin"], desa)
            try:
                await asyncio.sleep(1.0)
                first = await asyncio.to_thread(cli, pull_env, *args, "--snapshot", timeout=600)
                assert first.returncode == 0, first.stderr
            finally:
                await writers.stop()
        second = await asyncio.to_thread(cli, pull_env, *args, timeout=600)
        assert second.returncode == 0, second.stderr
        changes = [json.loads(x) for x in (data / "changes.ndjson").read_text().splitlines()]
        keys_pulled = [_key_of(x) for x in changes]
        assert len(keys_pulled) == len(set(keys_pulled))
        rebuilt = {x["submission_id"]: x for x in map(json.loads, (data / "snapshot.ndjson").read_text().splitlines())}
        created = {x["submission_id"] for x in changes if x["jenis_perubahan"] == "dibuat"}
        assert not created & set(rebuilt)
        rebuilt.update({x["submission_id"]: x["record"] for x in changes})
        stored = {json.loads(x)["submission_id"]: json.loads(x) for (x,) in await coord.fetch("SELECT line FROM sync_records")}
        assert rebuilt == stored
        assert json.loads(state.read_text())["cursor"]
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _sid(record: dict) -> str:
    return record["submission_id"]


async def _snapshot(http: httpx.AsyncClient, key: str) -> tuple[list[dict], str]:
    r = await http.get("/api/v1/sync/snapshot", headers=auth(key))
    assert r.status_code == 200, r.text
    lines = [json.loads(x) for x in r.content.splitlines()]
    assert lines[-1]["end"] and lines[-1]["count"] == len(lines) - 1
    return lines[:-1], lines[-1]["cursor"]


def _key_of(line: dict) -> tuple:
    """What makes a change one change: its record, version, status and kind."""
    return (line["submission_id"], line["version"], line["status"], line["jenis_perubahan"])


async def _page(http: httpx.AsyncClient, key: str, limit: int, cursor: str | None):
    params = {"limit": limit, **({"after": cursor} if cursor else {})}
    for _ in range(50):
        r = await http.get("/api/v1/sync/changes", params=params, headers=auth(key))
        if r.status_code != 429:  # a stream a client cut short may still be being closed
            break
        await asyncio.sleep(0.2)
    assert r.status_code == 200, r.text
    lines = [httpx.Response(200, content=line).json() for line in r.content.splitlines()]
    end = lines[-1]
    assert end["end"] and end["count"] == len(lines) - 1
    return lines[:-1], end["cursor"], end["more"]


async def _feed(http: httpx.AsyncClient, key: str, *, limit: int, cursor: str | None = None) -> list[dict]:
    out: list[dict] = []
    while True:
        page, cursor, more = await _page(http, key, limit, cursor)
        out += page
        if not more:
            return out
