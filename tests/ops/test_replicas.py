"""Reports read a hot standby when it is close enough behind the primary, and say how fresh
their data is; a standby that lags or is down is passed over for the primary. A snapshot read
on the standby continues the feed on the primary exactly once."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time

import httpx
import orjson
import pytest

from tests.support.common import Keys, auth
from tests.support.factories import umkm
from tests.support.ha_helpers import LocalHA
from tests.support.serve_helpers import Served, cli

pytestmark = pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="makes a standby of an embedded primary of its own")

MAX_LAG = 1.0


@pytest.fixture(scope="module")
def ha(tmp_path_factory):
    ha = LocalHA()
    served = Served(
        ha.env(database_url=ha.primary_url, DATABASE_REPLICA_URL=ha.replica_url, KUMKM_REPLICA_MAX_LAG_SECONDS=MAX_LAG),
        log=tmp_path_factory.mktemp("replicas") / "serve.log",
    ).wait_ready()
    ha.served = served
    yield ha
    served.stop()
    ha.close()


@pytest.fixture
async def service(ha):
    async with httpx.AsyncClient(base_url=ha.served.url, timeout=30) as c:
        yield c


@pytest.fixture
async def primary(ha):
    conn = await ha.connect_primary()
    yield conn
    await conn.execute(
        "TRUNCATE target_pendataan, rekap_status, changes, submission_history, "
        "submission_versions, submissions, sync_records, access_log RESTART IDENTITY CASCADE"
    )
    await conn.close()


@pytest.fixture
async def standby_conn(ha):
    conn = await ha.connect_standby()
    yield conn
    await conn.execute("SELECT pg_wal_replay_resume()")
    await conn.close()


@pytest.fixture
async def ha_keys(ha, primary):
    k = Keys(ha.primary_url)
    tag = str(time.monotonic_ns())
    return {
        "enum": await k.make("enumerator", "16", name=f"enum-{tag}"),
        "dinas": await k.make("dinas", "16", name=f"dinas-{tag}"),
        "walidata": await k.make("walidata", name=f"walidata-{tag}", pii=True),
    }


async def _post(service, key, n: int) -> list[str]:
    items = [umkm() for _ in range(n)]
    r = await service.post("/api/v1/submissions/batch", json={"items": items}, headers=auth(key))
    assert r.status_code == 200 and r.json()["created"] == n, r.text
    return [i["submission_id"] for i in items]


async def _capaian(service, key) -> httpx.Response:
    r = await service.get("/api/v1/capaian-pendataan", params={"periode": "2022", "wilayah": "16"}, headers=auth(key))
    assert r.status_code == 200, r.text
    return r


async def _until(predicate, timeout: float = 20, what: str = ""):
    deadline = time.monotonic() + timeout
    while True:
        got = await predicate()
        if got:
            return got
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        await asyncio.sleep(0.1)


def _as_of(r: httpx.Response) -> dt.datetime:
    return dt.datetime.fromisoformat(r.headers["x-data-as-of"].replace("Z", "+00:00"))


async def test_capaian_is_read_on_the_standby_and_says_how_fresh(service, ha_keys, primary):
    await _post(service, ha_keys["enum"], 7)
    before = dt.datetime.now(dt.UTC)

    async def from_replica_with_all():
        r = await _capaian(service, ha_keys["dinas"])
        return r if r.headers["x-data-source"] == "replica" and r.json()["jumlah"]["masuk"] == 7 else None

    r = await _until(from_replica_with_all, what="capaian from the standby with the 7 records")
    lag = float(r.headers["x-data-lag-seconds"])
    assert 0 <= lag <= MAX_LAG
    # every commit up to X-Data-As-Of is in the answer, and it is recent
    assert abs((dt.datetime.now(dt.UTC) - _as_of(r)).total_seconds() - lag) < 0.5
    assert _as_of(r) >= before - dt.timedelta(seconds=MAX_LAG)
    recount = await primary.fetchval("SELECT count(*) FROM submissions WHERE kode_provinsi = '16'")
    assert r.json()["jumlah"]["masuk"] == recount == 7


async def test_other_reports_are_routed_too_and_writes_and_the_feed_never_are(service, ha_keys):
    await _post(service, ha_keys["enum"], 2)
    dinas = auth(ha_keys["dinas"])
    for path, params in [
        ("/api/v1/agregat", {"periode": "2022", "wilayah": "16", "by": "skala_usaha"}),
        ("/api/v1/agregat/umkm", {"periode": "2022", "wilayah": "16"}),
        ("/api/v1/agregat/keragaan-koperasi", {"periode": "2022", "wilayah": "16"}),
        ("/api/v1/indikator/capaian", {"tahun": 2022, "wilayah": "16"}),
    ]:

        async def routed(path=path, params=params):
            r = await service.get(path, params=params, headers=dinas)
            assert r.status_code == 200, (path, r.text)
            return r.headers["x-data-source"] == "replica"

        await _until(routed, what=f"{path} from the standby")
    r = await service.post("/api/v1/submissions/batch", json={"items": [umkm()]}, headers=auth(ha_keys["enum"]))
    assert r.status_code == 200 and "x-data-source" not in r.headers
    r = await service.get("/api/v1/sync/changes", headers=auth(ha_keys["walidata"]))
    assert r.status_code == 200 and "x-data-source" not in r.headers


async def test_a_standby_lagging_past_the_limit_is_passed_over_for_the_primary(service, ha_keys, standby_conn, primary):
    await _post(service, ha_keys["enum"], 3)
    await _until(lambda: _replica_count(service, ha_keys, 3), what="the standby has the first 3")
    await standby_conn.execute("SELECT pg_wal_replay_pause()")
    await _post(service, ha_keys["enum"], 4)
    # While the standby's lag is within the limit it may answer with the older count, and says
    # so; once past the limit, every answer comes from the primary with all 7 records.
    deadline = time.monotonic() + MAX_LAG + 5
    while True:
        r = await _capaian(service, ha_keys["dinas"])
        masuk = r.json()["jumlah"]["masuk"]
        if r.headers["x-data-source"] == "primary":
            assert masuk == 7 and r.headers["x-data-lag-seconds"] == "0.000"
            break
        assert masuk in (3, 7) and float(r.headers["x-data-lag-seconds"]) <= MAX_LAG
        assert time.monotonic() < deadline, "a lagging standby kept answering"
        await asyncio.sleep(0.1)
    for _ in range(10):  # and it stays passed over while it lags
        r = await _capaian(service, ha_keys["dinas"])
        assert r.headers["x-data-source"] == "primary" and r.json()["jumlah"]["masuk"] == 7
        await asyncio.sleep(0.05)
    await standby_conn.execute("SELECT pg_wal_replay_resume()")
    await _until(lambda: _replica_count(service, ha_keys, 7), what="the standby answers again when caught up")


async def _replica_count(service, ha_keys, n: int) -> bool:
    r = await _capaian(service, ha_keys["dinas"])
    return r.headers["x-data-source"] == "replica" and r.json()["jumlah"]["masuk"] == n


async def _lines(service, key, path, **params) -> tuple[httpx.Response, list[dict]]:
    r = await service.get(path, params=params, headers=auth(key))
    assert r.status_code == 200, r.text
    return r, [orjson.loads(line) for line in r.content.splitlines()]


async def _feed(service, key, after: str) -> tuple[list[dict], str]:
    out = []
    while True:
        _, lines = await _lines(service, key, "/api/v1/sync/changes", after=after, limit=1000)
        *changes, end = lines
        out += changes
        after = end["cursor"]
        if not end["more"]:
            return out, after


async def test_a_snapshot_read_on_a_lagging_standby_continues_the_feed_exactly_once(service, ha_keys, standby_conn, primary, ha):
    walidata = ha_keys["walidata"]
    old = await _post(service, ha_keys["enum"], 5)
    await _until(lambda: _replica_count(service, ha_keys, 5), what="the standby has the first 5")
    # The standby stops replaying: its snapshot misses what follows, and the feed must bring it.
    await standby_conn.execute("SELECT pg_wal_replay_pause()")
    missed = await _post(service, ha_keys["enum"], 4)
    r, lines = await _lines(service, walidata, "/api/v1/sync/snapshot")
    assert r.headers["x-data-source"] == "replica", "the standby is within the lag limit for a moment"
    *records, end = lines
    assert sorted(x["submission_id"] for x in records) == sorted(old)
    assert end["cursor"] == r.headers["x-sync-cursor"]
    await standby_conn.execute("SELECT pg_wal_replay_resume()")
    later = await _post(service, ha_keys["enum"], 3)
    changes, _ = await _feed(service, walidata, end["cursor"])
    seen = [c["submission_id"] for c in changes]
    assert sorted(seen) == sorted(missed + later), "each change after the snapshot exactly once"
    assert len(set(seen)) == len(seen)


async def test_a_standby_that_goes_down_is_passed_over_and_comes_back(service, ha_keys, ha):
    await _post(service, ha_keys["enum"], 2)
    await _until(lambda: _replica_count(service, ha_keys, 2), what="the standby answers")
    out = cli(ha.env(), "replica", "stop", "--data-dir", str(ha.standby_dir))
    assert out.returncode == 0, out.stderr
    try:
        # never an error: the report goes to the primary at once
        for _ in range(20):
            r = await _capaian(service, ha_keys["dinas"])
            assert r.headers["x-data-source"] == "primary" and r.json()["jumlah"]["masuk"] == 2
    finally:
        out = cli(ha.env(), "replica", "create", "--data-dir", str(ha.standby_dir))
        assert out.returncode == 0, out.stdout + out.stderr
    assert "started (it was made before)" in out.stdout
    await _until(lambda: _replica_count(service, ha_keys, 2), what="the restarted standby answers again")


def test_status_prints_role_and_lag_of_both(ha):
    out = cli(ha.env(), "replica", "status")
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith(f"primary  {ha.primary_dir}  pid ")
    assert lines[1].startswith("  streams to kumkm_") and ": streaming, async, replay " in lines[1]
    assert lines[2].startswith(f"standby  {ha.standby_dir}  pid ") and lines[2].endswith(ha.replica_url)
    assert lines[3].startswith("  receiver streaming, replayed ") and " lag " in lines[3]
    # the printed connection strings are what the service was given, and it served from them
    assert f"DATABASE_REPLICA_URL={ha.replica_url}" in ha.create_output
