"""kill -9 of a linker in the middle of a batch (app/registry/linker.py, `kumkm registry
tautkan`): its transaction is rolled back whole (no entity without its links, no link without
its event), its queue rows are back, and the next run links them all."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import asyncpg

from app.registry.linker import KUNCI_LATAR
from tests.support.common import ROOT, asyncpg_params, auth, eventually
from tests.support.factories import umkm

REGISTRY_TABLES = ("kumkm", "kumkm_tautan", "kumkm_pengenal", "kumkm_peristiwa", "kumkm_kandidat")


def _tautkan(database_url: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "registry", "tautkan", "--batch", "100"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def _counts(pg) -> dict[str, int]:
    return {t: await pg.fetchval(f"SELECT count(*) FROM {t}") for t in (*REGISTRY_TABLES, "kumkm_antrian")}


async def test_kill_9_in_the_middle_of_a_batch_leaves_nothing_half_done(client, keys, pg, database_url):
    enum = await keys.make("enumerator", "16", name="enum-sumsel")
    verif = await keys.make("verifikator", "16", name="verif-sumsel")
    # the live service's own linker kept idle: the killed process is the only linker
    pause = await asyncpg.connect(**asyncpg_params(database_url))
    await pause.execute(f"SELECT pg_advisory_lock({KUNCI_LATAR})")
    blocker = await asyncpg.connect(**asyncpg_params(database_url))
    try:
        records = [umkm(periode=p, nib=f"88800000000{i:02d}") for i in range(20) for p in ("2024", "2025")]
        r = await client.post("/api/v1/submissions/batch", json={"items": records}, headers=auth(enum))
        assert r.status_code == 200 and r.json()["created"] == len(records), r.text
        items = [{"submission_id": rec["submission_id"], "status": "diterima", "version": 1} for rec in records]
        r = await client.post("/api/v1/verifikasi/batch", json={"items": items}, headers=auth(verif))
        assert r.status_code == 200 and r.json()["decided"] == len(records), r.text
        assert await _counts(pg) == {**dict.fromkeys(REGISTRY_TABLES, 0), "kumkm_antrian": len(records)}

        # Hold the link of the last record (uncommitted): the linker, having created its
        # entities, waits on it in the middle of its batch, where it is killed.
        last = max(rec["submission_id"] for rec in records)
        await blocker.execute("BEGIN")
        await blocker.execute(
            "INSERT INTO kumkm (id_kumkm, jenis, kode_provinsi, kode_kabkota) VALUES ('U9999999999', 'umkm', '16', '16.07')"
        )
        await blocker.execute(
            "INSERT INTO kumkm_tautan (submission_id, id_kumkm, periode, dasar) VALUES ($1::uuid, 'U9999999999', '2024', 'baru')", last
        )
        proc = await asyncio.to_thread(_tautkan, database_url)
        try:
            waiting = await eventually(
                lambda: pg.fetchval(
                    "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO kumkm_tautan%'"
                ),
                timeout=60,
                every=0.05,
            )
            assert waiting, "the linker did not reach its links"
            # its new entities exist, in its transaction only
            assert await pg.fetchval("SELECT count(*) FROM kumkm") == 0
            os.kill(proc.pid, signal.SIGKILL)
            await asyncio.to_thread(proc.wait, 30)
        finally:
            if proc.poll() is None:
                proc.kill()
        await blocker.execute("ROLLBACK")
        # the server sees the client gone once the lock is released, and rolls back
        assert await eventually(
            lambda: pg.fetchval("SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", waiting), timeout=30
        )
        assert await _counts(pg) == {**dict.fromkeys(REGISTRY_TABLES, 0), "kumkm_antrian": len(records)}
        # nor any indicator count of the killed batch (migration 0013: refreshed in its transaction)
        assert await pg.fetchval("SELECT (SELECT count(*) FROM kumkm_keadaan) + (SELECT count(*) FROM kumkm_rekap)") == 0

        # taken again: everything linked, one entity per NIB
        proc = await asyncio.to_thread(_tautkan, database_url)
        out, err = await asyncio.to_thread(proc.communicate, timeout=300)
        assert proc.returncode == 0, err
        assert f"{len(records)} linked, 20 entities created" in out, out
        counts = await _counts(pg)
        assert (counts["kumkm"], counts["kumkm_tautan"], counts["kumkm_pengenal"], counts["kumkm_antrian"]) == (20, len(records), 20, 0)
        assert counts["kumkm_peristiwa"] == 20 + len(records)  # dibuat + ditautkan
        per_nib = await pg.fetch(
            "SELECT v.data->>'nib' AS nib, count(DISTINCT t.id_kumkm) AS n FROM kumkm_tautan t "
            "JOIN submission_versions v USING (submission_id) GROUP BY 1"
        )
        assert len(per_nib) == 20 and {r["n"] for r in per_nib} == {1}
        # the indicator counts of the run that finished: one state per entity and periode; 20 new
        # in 2024, all found again in 2025 (nothing to count there), all not found yet in 2026
        assert await pg.fetchval("SELECT count(*) FROM kumkm_keadaan") == len(records)
        kept = await pg.fetch("SELECT periode, sum(baru) AS baru, sum(tidak_ditemukan) AS hilang FROM kumkm_rekap GROUP BY 1 ORDER BY 1")
        assert [tuple(r) for r in kept] == [("2024", 20, 0), ("2026", 0, 20)]
    finally:
        await blocker.close()
        await pause.close()
