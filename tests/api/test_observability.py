"""Operators see the service's health without reading code: metrics, request ids, JSON logs."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest

from tests.support.common import auth
from tests.support.factories import umkm
from tests.support.problems import assert_problem


async def test_request_id_is_returned_and_kept_when_given(client):
    fresh = re.compile(r"[0-9a-f]{32}")
    r = await client.get("/healthz")
    assert fresh.fullmatch(r.headers["x-request-id"]), r.headers["x-request-id"]
    r = await client.get("/healthz", headers={"X-Request-ID": "dinas-abc.123"})
    assert r.headers["x-request-id"] == "dinas-abc.123"
    # An id the service would not log as given (spaces, longer than 64) is replaced by a fresh
    # one of its own, a new one for every request.
    seen = set()
    for bad in ("bad id with spaces", "bad id with spaces", "x" * 65):
        rid = (await client.get("/healthz", headers={"X-Request-ID": bad})).headers["x-request-id"]
        assert fresh.fullmatch(rid), rid
        seen.add(rid)
    assert len(seen) == 3


def _metric(text: str, name: str, **labels) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in metrics")


async def test_metrics_count_requests_records_and_pool(client, keys):
    k = await keys.make("enumerator", "16")
    await client.post("/api/v1/submissions/batch", json={"items": [umkm() for _ in range(3)]}, headers=auth(k))
    await client.post("/api/v1/submissions", json=umkm(nib="1"), headers=auth(k))
    text = (await client.get("/metrics")).text
    assert _metric(text, "kumkm_records", status="masuk") == 3
    assert _metric(text, "kumkm_records", status="diterima") == 0
    assert _metric(text, "kumkm_http_requests_total", method="POST", route="/api/v1/submissions/batch", status="200") >= 1
    assert _metric(text, "kumkm_http_requests_total", method="POST", route="/api/v1/submissions", status="422") >= 1
    assert _metric(text, "kumkm_http_request_duration_seconds_count", method="POST", route="/api/v1/submissions/batch") >= 1
    assert _metric(text, "kumkm_ingest_records_total", outcome="created") >= 3
    assert _metric(text, "kumkm_ingest_records_total", outcome="rejected") >= 1
    assert _metric(text, "kumkm_db_pool_size") >= 1


async def test_access_log_is_json_with_request_id_and_no_personal_data(client, keys):
    from app.observability import logs
    from app.observability.logs import configure

    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure("INFO", stream)
    try:
        k = await keys.make("enumerator", "16", name="enum-log")
        rec = umkm(nik_pemilik="1607015205850001", nama_pemilik="Siti Aminah")
        r = await client.post("/api/v1/submissions", json=rec, headers={**auth(k), "X-Request-ID": "req-42"})
        assert r.status_code == 201
        await client.get(f"/api/v1/submissions/{rec['submission_id']}", headers=auth(k))
    finally:
        logs.stop()  # the lines still queued are written before the writer stops
        root.handlers[:], level = saved
        root.setLevel(level)
    lines = [json.loads(x) for x in stream.getvalue().splitlines() if x.strip()]
    mine = [x for x in lines if x.get("request_id") == "req-42" and x["logger"] == "kumkm.access"]
    assert mine and mine[0]["route"] == "/api/v1/submissions" and mine[0]["status"] == 201
    assert isinstance(mine[0]["duration_ms"], float) and mine[0]["key_id"] is not None
    # what the service wrote (the test's own httpx client logs its URLs too)
    everything = "\n".join(json.dumps(x) for x in lines if not x["logger"].startswith("httpx"))
    for secret in (rec["nik_pemilik"], "Siti Aminah", k, rec["submission_id"]):
        assert secret not in everything


async def test_static_files_and_unknown_paths_have_stable_route_labels(client):
    await client.get("/dashboard/static/dashboard.css")
    await client.get("/tidak-ada/12345")
    text = (await client.get("/metrics")).text
    assert _metric(text, "kumkm_http_requests_total", method="GET", route="/dashboard/static", status="200") >= 1
    assert _metric(text, "kumkm_http_requests_total", method="GET", route="unmatched", status="404") >= 1
    assert "/tidak-ada/12345" not in text


async def test_metrics_can_require_a_scrape_token(client, override_settings):
    override_settings(metrics_token="rahasia-prometheus")
    assert_problem(await client.get("/metrics"), "unauthorized")
    assert_problem(await client.get("/metrics", headers={"Authorization": "Bearer salah"}), "unauthorized")
    r = await client.get("/metrics", headers={"Authorization": "Bearer rahasia-prometheus"})
    assert r.status_code == 200 and "kumkm_records" in r.text


async def test_metrics_are_closed_off_loopback_without_a_token(client, override_settings):
    """A service listening on a public address does not publish its traffic and record counts
    to anyone who asks: /metrics needs the token there, or an explicit KUMKM_METRICS_PUBLIC=1."""
    override_settings(bind_host="0.0.0.0")
    r = await client.get("/metrics")
    assert_problem(r, "forbidden")
    assert "KUMKM_METRICS_TOKEN" in r.json()["detail"] and "KUMKM_METRICS_PUBLIC" in r.json()["detail"]
    override_settings(metrics_token="rahasia-prometheus")
    assert_problem(await client.get("/metrics"), "unauthorized")
    ok = await client.get("/metrics", headers={"Authorization": "Bearer rahasia-prometheus"})
    assert ok.status_code == 200 and "kumkm_records" in ok.text
    override_settings(metrics_token=None, metrics_public=True)
    assert (await client.get("/metrics")).status_code == 200


@pytest.mark.parametrize(
    "header", [("X-Forwarded-For", "203.0.113.9"), ("Forwarded", "for=203.0.113.9"), ("X-Real-IP", "203.0.113.9"), ("Via", "1.1 nginx")]
)
async def test_metrics_through_a_local_reverse_proxy_need_the_token(client, override_settings, header):
    """A reverse proxy on the same host makes the world's requests come from loopback: a
    request that says it came through one gets /metrics only with the token."""

    assert (await client.get("/metrics")).status_code == 200  # the host's own scraper
    r = await client.get("/metrics", headers=dict([header]))
    assert_problem(r, "forbidden")
    assert "KUMKM_METRICS_TOKEN" in r.json()["detail"], r.text
    override_settings(metrics_token="rahasia-prometheus")
    assert_problem(await client.get("/metrics", headers=dict([header])), "unauthorized")
    ok = await client.get("/metrics", headers={header[0]: header[1], "Authorization": "Bearer rahasia-prometheus"})
    assert ok.status_code == 200


async def test_metrics_behind_a_public_url_need_the_token(client, override_settings):
    """KUMKM_PUBLIC_URL says the service is reached through a proxy, which may add no header."""
    override_settings(public_url="https://kumkm.example.go.id")
    assert_problem(await client.get("/metrics"), "forbidden")
