"""GET /api/v1/me: what the calling key is and may do, so a page can open on the key's own
wilayah and offer only what it may see."""

from __future__ import annotations

import datetime as dt

from tests.support.common import auth
from tests.support.problems import assert_problem


async def test_me_describes_the_key(client, keys):
    dinas = await keys.make("dinas", "16", name="dinas-kumkm-sumsel")
    r = await client.get("/api/v1/me", headers=auth(dinas))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "name": "dinas-kumkm-sumsel",
        "role": "dinas",
        "wilayah": {"kode": "16", "nama": "Sumatera Selatan", "level": 1},
        "pii": False,
        "expires_at": None,
        "actions": ["report.read", "target.write", "sync.pull", "indikator.read", "indikator.write"],
        # a partner's key's purposes and bounds (docs/mitra.md); none on other keys
        "tujuan": None,
        "kuota_harian": None,
        "per_detik": None,
    }

    enumerator = await keys.make("enumerator", "16.07", name="enum-banyuasin")
    me = (await client.get("/api/v1/me", headers=auth(enumerator))).json()
    assert me["wilayah"] == {"kode": "16.07", "nama": "Kabupaten Banyuasin", "level": 2}
    # an enumerator collects records and reads no reports (only its own row of the enumerator
    # table, /api/v1/me/kinerja): the page can say so before asking
    assert me["actions"] == ["record.post", "record.correct", "kinerja.sendiri"]

    walidata = await keys.make("walidata", name="kemenkop", pii=True)
    me = (await client.get("/api/v1/me", headers=auth(walidata))).json()
    assert (me["role"], me["wilayah"], me["pii"]) == ("walidata", None, True)
    assert "report.read" in me["actions"] and "record.post" not in me["actions"]


async def test_me_gives_the_expiry_and_refuses_keys_that_no_longer_work(client, keys):
    expires = dt.datetime(2099, 1, 31, 17, 0, tzinfo=dt.UTC)
    key = await keys.make("verifikator", "16.07", expires_at=expires)
    me = (await client.get("/api/v1/me", headers=auth(key))).json()
    assert dt.datetime.fromisoformat(me["expires_at"]) == expires
    assert me["actions"] == ["record.decide", "report.read", "indikator.read"]

    assert_problem(await client.get("/api/v1/me"), "unauthorized")
    old = await keys.make("dinas", "16", expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    r = await client.get("/api/v1/me", headers=auth(old))
    assert r.status_code == 401 and r.json()["code"] == "unauthorized"
