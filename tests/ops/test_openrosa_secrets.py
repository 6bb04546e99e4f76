"""A key carried in a URL must not leak: not into the service's access log, uvicorn's access
log, error lines or messages, metric labels or the audit log. Real processes as operators run
them (`kumkm serve`, and plain `uvicorn app.main:app` with its access log on), every kind of
OpenRosa request including refused ones; then the whole output is searched for the keys.

And the QR code command an operator uses to set up a phone."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import orjson
import pytest

from app.openrosa import qr
from tests.support.factories import umkm
from tests.support.openrosa_helpers import files, instance
from tests.support.serve_helpers import ROOT, Served, cli, environment, free_port


def _exercise(url: str, key: str, other_role_key: str, wrong: str) -> None:
    """Every OpenRosa route, answered and refused."""
    with httpx.Client(base_url=url, timeout=30) as c:
        base = f"/openrosa/{key}"
        assert c.get(f"{base}/formList").status_code == 200
        assert c.get(f"{base}/forms/pl_kumkm/form.xml").status_code == 200
        assert c.get(f"{base}/forms/pl_kumkm/manifest").status_code == 200
        assert c.get(f"{base}/forms/pl_kumkm/media/wilayah.csv?x=1").status_code == 200
        assert c.head(f"{base}/submission").status_code == 204
        assert c.post(f"{base}/submission", files=files(instance(umkm()))).status_code == 201
        assert c.post(f"{base}/submission", files=files(instance(umkm(nik_pemilik="1")))).status_code == 422
        assert c.post(f"{base}/submission", files=files(instance(umkm(kode_wilayah="16.71.01.1001")))).status_code == 403
        assert c.post(f"{base}/submission", content=b"<data/>", headers={"content-type": "text/xml"}).status_code == 415
        assert c.get(f"{base}/forms/lain/form.xml").status_code == 404
        assert c.get(f"{base}/tidak-ada").status_code == 404
        assert c.get(f"{base}/submission").status_code == 405
        assert c.get(f"/openrosa/{other_role_key}/formList").status_code == 403
        assert c.get(f"/openrosa/{wrong}/formList").status_code == 401
        assert c.post(f"/openrosa/{wrong}/submission", files=files(instance(umkm()))).status_code == 401
        metrics = c.get("/metrics")
        assert metrics.status_code == 200
        assert 'route="/openrosa/{key}/submission"' in metrics.text
        for secret in (key, other_role_key, wrong):
            assert secret not in metrics.text


@pytest.fixture
async def openrosa_keys(keys, pg):
    key = await keys.make("enumerator", "16.07", name="enum-odk")
    verifikator = await keys.make("verifikator", "16.07", name="verif-odk")
    admin = await keys.make("admin", name="admin-odk")
    key_id = await pg.fetchval("SELECT id FROM api_keys WHERE name = 'enum-odk'")
    return key, verifikator, admin, key_id


async def test_keys_never_reach_the_service_logs_metrics_or_audit(database_url, openrosa_keys, tmp_path):
    key, verifikator, admin, key_id = openrosa_keys
    wrong = "kumkm_Wr0ngKeyWr0ngKeyWr0ngKeyWr0ngKeyWr0ngKey12"
    served = Served(environment(database_url=database_url), "--log-level", "info", log=tmp_path / "serve.log")
    try:
        served.wait_ready()
        _exercise(served.url, key, verifikator, wrong)
        # the audit log as an admin reads it
        audit = httpx.get(f"{served.url}/api/v1/audit", headers={"Authorization": f"Bearer {admin}"}, timeout=30)
        assert audit.status_code == 200
        for secret in (key, verifikator, wrong):
            assert secret not in audit.text
    finally:
        served.stop()
    out = served.output()
    for secret in (key, verifikator, wrong):
        assert secret not in out
    lines = [orjson.loads(line) for line in out.splitlines() if line.startswith("{")]
    access = [x for x in lines if x.get("logger") == "kumkm.access"]
    posts = [x for x in access if x["route"] == "/openrosa/{key}/submission" and x["method"] == "POST"]
    # the key's id names who called; the refused wrong key has none
    assert {(x["status"], x["key_id"]) for x in posts} == {(201, key_id), (422, key_id), (403, key_id), (415, key_id), (401, None)}
    assert {x["route"] for x in access} >= {
        "/openrosa/{key}/formList",
        "/openrosa/{key}/forms/{form_id}/form.xml",
        "/openrosa/{key}/forms/{form_id}/manifest",
        "/openrosa/{key}/forms/{form_id}/media/{filename}",
    }


async def test_keys_never_reach_uvicorns_own_access_log(database_url, openrosa_keys, tmp_path):
    """`uvicorn app.main:app` run by hand logs every request line itself (path and query)."""
    key, verifikator, _admin, _ = openrosa_keys
    wrong = "kumkm_Wr0ngKeyWr0ngKeyWr0ngKeyWr0ngKeyWr0ngKey34"
    port = free_port()
    env = environment(database_url=database_url)
    env.pop("KUMKM_JSON_LOGS", None)
    log = tmp_path / "uvicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(port), "--log-level", "info"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.time() + 120
            while True:
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.poll() is None and time.time() < deadline, log.read_text()
                time.sleep(0.2)
            _exercise(url, key, verifikator, wrong)
        finally:
            proc.terminate()
            proc.wait(30)
    text = log.read_text()
    assert '"POST /openrosa/{key}/submission HTTP/1.1" 201' in text  # the access log is on
    assert '"GET /openrosa/{key}/forms/pl_kumkm/media/wilayah.csv?x=1 HTTP/1.1" 200' in text
    for secret in (key, verifikator, wrong):
        assert secret not in text


# ------------------------------------------------------------------------------ the QR code


def test_settings_payload_is_what_odk_collect_reads():
    text = qr.encode(qr.settings_payload("https://kumkm.example.go.id/openrosa/kumkm_x", "PL-KUMKM 16.07"))
    got = qr.decode(text)
    assert got["general"]["server_url"] == "https://kumkm.example.go.id/openrosa/kumkm_x"
    assert got["general"]["form_update_mode"] == "match_exactly"
    assert got["project"]["name"] == "PL-KUMKM 16.07"
    assert got["admin"] == {}


async def test_qr_command(database_url, openrosa_keys, tmp_path):
    key, verifikator, _admin, key_id = openrosa_keys
    env = environment(database_url=database_url)
    png = tmp_path / "enum-odk.png"
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "openrosa", "qr", "--url", "https://kumkm.example.go.id/", "--out", str(png)],
        cwd=ROOT,
        env=env,
        input=key + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"key #{key_id} (enum-odk), role enumerator, wilayah 16.07" in done.stdout
    assert f"https://kumkm.example.go.id/openrosa/{key}" in done.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    refused = subprocess.run(
        [sys.executable, "-m", "app.cli", "openrosa", "qr", "--url", "https://x"],
        cwd=ROOT,
        env=env,
        input=verifikator + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2 and "OpenRosa takes enumerator, admin keys" in refused.stderr
    unknown = cli(env, "openrosa", "qr", "--url", "https://x", "--key", "kumkm_bukan")
    assert unknown.returncode == 1 and "unknown, revoked or expired" in unknown.stderr
