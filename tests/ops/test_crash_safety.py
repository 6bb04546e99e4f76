"""SIGKILL the service in the middle of concurrent batch posts: every acknowledged record is
there exactly once, no item is half-stored, and replaying everything completes the set."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.support.common import ROOT, asyncpg_params
from tests.support.factories import umkm
from tests.support.helpers import HALF_STORED
from tests.support.serve_helpers import api_key, environment, free_port

pytestmark = pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="exercises the embedded server's data directory")


def _start(data_dir: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "KUMKM_DATA_DIR": data_dir}
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("service did not start")


async def _post_all(url: str, key: str, batches: list[list[dict]], acked: dict):
    """Post batches from 8 concurrent clients; remember which batches the service acknowledged."""
    queue = list(enumerate(batches))
    async with httpx.AsyncClient(base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as c:

        async def worker():
            while queue:
                i, items = queue.pop(0)
                try:
                    r = await c.post("/api/v1/submissions/batch", json={"items": items})
                except httpx.HTTPError:
                    continue  # the connection died with the service: not acknowledged
                if r.status_code == 200:
                    acked[i] = r.json()

        await asyncio.gather(*[worker() for _ in range(8)])


async def test_sigkill_mid_batch_loses_nothing_acknowledged():
    data_dir = tempfile.mkdtemp(prefix="kumkm-crash-")
    pgdata = Path(data_dir) / "pgdata"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    batches = [[umkm() for _ in range(100)] for _ in range(120)]
    proc = _start(data_dir, port)
    try:
        key = api_key(environment(data_dir=data_dir), "--role", "enumerator", "--wilayah", "16", "--name", "crash-enum")
        acked: dict[int, dict] = {}
        poster = asyncio.create_task(_post_all(url, key, batches, acked))
        while len(acked) < 10:  # kill once some batches are acknowledged and others are in flight
            await asyncio.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        await poster
        assert 10 <= len(acked) < len(batches), "the kill should land mid-run"

        proc = _start(data_dir, port)  # same data directory
        from app.infra import embedded

        conn = await asyncpg.connect(**asyncpg_params(embedded.start(pgdata, cleanup_mode=None)))
        try:
            stored = {str(r[0]) for r in await conn.fetch("SELECT submission_id FROM submissions")}
            for i, body in acked.items():
                assert body["created"] + body["duplicate"] == len(batches[i])
                assert {it["submission_id"] for it in batches[i]} <= stored
            # nothing half-stored: every record has exactly its version, history and change entry
            assert await conn.fetchval(HALF_STORED) == 0
            assert await conn.fetchval("SELECT count(*) FROM sync_records") == len(stored)
            assert await conn.fetchval("SELECT count(*) FROM submission_versions") == len(stored)
            assert await conn.fetchval("SELECT COALESCE(sum(n), 0) FROM rekap_status") == len(stored)

            # replaying every batch, acknowledged or not, completes the set without duplicates
            again: dict[int, dict] = {}
            await _post_all(url, key, batches, again)
            assert len(again) == len(batches)
            assert sum(b["rejected"] for b in again.values()) == 0
            total = sum(len(b) for b in batches)
            assert sum(b["created"] + b["duplicate"] for b in again.values()) == total
            assert await conn.fetchval("SELECT count(*) FROM submissions") == total
            assert await conn.fetchval("SELECT count(*) FROM changes") == total
            assert await conn.fetchval("SELECT count(*) FROM sync_records") == total
            assert await conn.fetchval("SELECT sum(n) FROM rekap_status") == total
        finally:
            await conn.close()
    finally:
        proc.terminate()
        proc.wait(30)
        from app.infra import embedded

        embedded.stop(pgdata)
        shutil.rmtree(data_dir, ignore_errors=True)
