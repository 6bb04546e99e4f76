"""Backup and point-in-time recovery of the embedded server, as an operator runs them: WAL
archiving on, a base backup, records acknowledged before and after a moment, then restores
into new data directories served by `kumkm serve`: to that moment (exactly the records and
decisions acknowledged before it) and to the end of the archive (everything)."""

from __future__ import annotations

import datetime as dt
import shutil
import time

import httpx
import pytest

from tests.support.common import auth
from tests.support.helpers import post_records, submission_ids
from tests.support.serve_helpers import Served, api_key, cli, environment, reachable_tmp
from tests.support.sync_helpers import parse_stream
from tests.support.verification_helpers import decide


def _ok(done) -> str:
    assert done.returncode == 0, f"{done.args}: {done.stdout}\n{done.stderr}"
    return done.stdout


async def _snapshot(env, log, key) -> dict[str, str]:
    """submission_id -> status of every record the restored service holds."""
    served = Served(env, log=log).wait_ready()
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=60) as c:
            r = await c.get("/api/v1/sync/snapshot", params={"periode": "2022"}, headers=auth(key))
        assert r.status_code == 200, r.text
        records, _ = parse_stream(r.text)
        return {x["submission_id"]: x["status"] for x in records}
    finally:
        served.stop()


@pytest.fixture
def workdir():
    """Data and backup directories the server's system user reaches (serve_helpers.reachable_tmp)."""
    path = reachable_tmp("kumkm-backup-test-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_restore_to_a_point_in_time_finds_exactly_what_was_acknowledged_before_it(workdir):
    env = environment(data_dir=workdir / "data", KUMKM_BACKUP_DIR=workdir / "backups")
    assert "WAL archiving on" in _ok(cli(env, "backup", "enable"))
    walidata = api_key(env, "--role", "walidata", "--name", "kemenkop", "--pii")
    enum = api_key(env, "--role", "enumerator", "--wilayah", "16", "--name", "enum-sumsel")
    verif = api_key(env, "--role", "verifikator", "--wilayah", "16", "--name", "verif-sumsel")
    served = Served(env, log=workdir / "serve.log").wait_ready()
    try:
        assert "verified" in _ok(cli(env, "backup", "base"))
        async with httpx.AsyncClient(base_url=served.url, timeout=60) as c:
            before = submission_ids(await post_records(c, enum, 300))
            for sid in before[:20]:
                assert (await decide(c, verif, sid, "diterima")).status_code == 200
            time.sleep(1.0)
            target = dt.datetime.now(dt.UTC)
            time.sleep(1.0)
            after = submission_ids(await post_records(c, enum, 200))
            for sid in before[20:40]:
                assert (await decide(c, verif, sid, "ditolak", alasan_kode="data_tidak_lengkap")).status_code == 200
        assert "is in the archive" in _ok(cli(env, "backup", "check"))
        listing = _ok(cli(env, "backup", "list"))
        assert "1 base backups" in listing

        # Restored and served while the source still runs (an operator fetching what was
        # lost from a live primary): the base backup holds the source's socket lock file,
        # which names a live postmaster and must not come along.
        words = _ok(
            cli(
                env,
                "backup",
                "restore",
                "--into",
                str(workdir / "at-target"),
                "--target-time",
                target.astimezone(dt.timezone(dt.timedelta(hours=7))).isoformat(),
            )
        )
        assert "recovery stopping before commit" in words
        at_target = await _snapshot(environment(data_dir=workdir / "at-target"), workdir / "serve-1.log", walidata)
        assert at_target == {sid: "diterima" if i < 20 else "masuk" for i, sid in enumerate(before)}
    finally:
        served.stop()

    _ok(cli(env, "backup", "restore", "--into", str(workdir / "latest")))
    latest = await _snapshot(environment(data_dir=workdir / "latest"), workdir / "serve-2.log", walidata)
    assert latest == {
        **{sid: "diterima" if i < 20 else "ditolak" if i < 40 else "masuk" for i, sid in enumerate(before)},
        **{sid: "masuk" for sid in after},
    }

    # A second base backup; pruning to one keeps it and only the WAL from its start on, so the
    # old moment is no longer restorable, and says so.
    _ok(cli(env, "backup", "base"))
    wal_before = len(list((workdir / "backups" / "wal").iterdir()))
    pruned = _ok(cli(env, "backup", "prune", "--keep", "1"))
    assert pruned.startswith("removed 1 base backups")
    assert len(list((workdir / "backups" / "wal").iterdir())) < wal_before
    assert "1 base backups" in _ok(cli(env, "backup", "list"))
    done = cli(env, "backup", "restore", "--into", str(workdir / "too-old"), "--target-time", target.isoformat())
    assert done.returncode == 1 and "no base backup finished before" in done.stderr


def test_restore_refuses_what_it_cannot_do(workdir):
    env = environment(data_dir=workdir / "data", KUMKM_BACKUP_DIR=workdir / "backups")
    done = cli(env, "backup", "restore", "--into", str(workdir / "r"), "--target-time", "2026-05-01T10:00:00")
    assert done.returncode == 1 and "needs its time zone" in done.stderr
    done = cli(env, "backup", "restore", "--into", str(workdir / "r"), "--target-time", "2026-05-01T10:00:00Z")
    assert done.returncode == 1 and "no base backup finished before 2026-05-01T10:00:00+00:00" in done.stderr
    done = cli({**env, "DATABASE_URL": "postgresql://x@127.0.0.1:1/x"}, "backup", "base")
    assert done.returncode == 1 and "embedded server only" in done.stderr
    done = cli({k: v for k, v in env.items() if k != "KUMKM_BACKUP_DIR"}, "backup", "list")
    assert done.returncode == 1 and "KUMKM_BACKUP_DIR" in done.stderr
