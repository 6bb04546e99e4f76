"""The paged lists over HTTP with app.core.pagination's cursors: each still takes the cursor it
gave before (the queue's untagged base64, the record list's raw submission_id, the access log's
raw id) and pages from the same place; a cursor it did not give is the one 422."""

from __future__ import annotations

import base64

from tests.support.common import auth
from tests.support.factories import umkm

KABKOTA_DESA = "16.07.01.2001"


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def _assert_bad_cursor(r) -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "invalid-input" and [e["field"] for e in body["errors"]] == ["cursor"], body


async def _post(client, key, records: list[dict]) -> None:
    r = await client.post("/api/v1/submissions/batch", json={"items": records}, headers=auth(key))
    assert r.status_code == 200 and r.json()["created"] == len(records), r.text


async def test_the_record_list_pages_from_an_old_cursor_as_from_a_new_one(client, keys):
    admin = await keys.make("admin")
    await _post(client, admin, [umkm() for _ in range(3)])

    async def page(**params) -> dict:
        r = await client.get("/api/v1/submissions", params={"limit": 1, **params}, headers=auth(admin))
        assert r.status_code == 200, r.text
        return r.json()

    first = await page()
    last = first["items"][-1]["submission_id"]
    new, old = await page(cursor=first["next_cursor"]), await page(cursor=last)
    assert new == old and new["items"][0]["submission_id"] > last
    assert first["next_cursor"] != last  # the new form is tagged
    for bad in ("abc", first["next_cursor"][:-4], last[:-1]):
        _assert_bad_cursor(await client.get("/api/v1/submissions", params={"cursor": bad}, headers=auth(admin)))


async def test_the_access_log_pages_from_an_old_cursor_as_from_a_new_one(client, keys):
    admin = await keys.make("admin")
    dinas = await keys.make("dinas", "16.07")
    await _post(client, admin, [umkm(kode_wilayah=KABKOTA_DESA)])
    for _ in range(3):
        await client.get("/api/v1/submissions", params={"kode_wilayah": "16.07"}, headers=auth(dinas))

    async def page(**params) -> dict:
        r = await client.get("/api/v1/audit", params={"limit": 1, **params}, headers=auth(admin))
        assert r.status_code == 200, r.text
        return r.json()

    first = await page()
    new, old = await page(cursor=first["next_cursor"]), await page(cursor=str(first["items"][0]["id"]))
    assert new == old and new["items"][0]["id"] < first["items"][0]["id"]
    for bad in ("0", "abc", first["next_cursor"] + "x"):
        _assert_bad_cursor(await client.get("/api/v1/audit", params={"cursor": bad}, headers=auth(admin)))


async def test_the_queue_pages_from_an_old_cursor_as_from_a_new_one(client, enum_key, verif):
    await _post(client, enum_key, [umkm(kode_wilayah=KABKOTA_DESA) for _ in range(3)])

    async def page(**params) -> dict:
        r = await client.get("/api/v1/verifikasi/antrian", params={"periode": "2022", "limit": 1, **params}, headers=auth(verif))
        assert r.status_code == 200, r.text
        return r.json()

    first = await page()
    item = first["items"][0]
    # the cursor as the queue gave it before it had a tag: base64 of "<captured_at>|<submission_id>"
    old_cursor = _b64(f"{item['captured_at'].replace('Z', '+00:00')}|{item['submission_id']}")
    new, old = await page(cursor=first["next_cursor"]), await page(cursor=old_cursor)
    assert new["items"] == old["items"] and new["items"][0]["submission_id"] != item["submission_id"]
    for bad in ("xyz", first["next_cursor"][:-6], _b64("antrian.9|x|y")):
        r = await client.get("/api/v1/verifikasi/antrian", params={"periode": "2022", "cursor": bad}, headers=auth(verif))
        _assert_bad_cursor(r)
