"""Every response that reveals personal data unmasked is in the access log, and admin reads it."""

from __future__ import annotations

from tests.support.common import auth
from tests.support.factories import umkm
from tests.support.problems import assert_problem


async def test_admin_reads_who_saw_personal_data(client, keys):
    owner = await keys.make("enumerator", "16", name="enum-audit")
    dinas = await keys.make("dinas", "16.07", name="dinas-audit")
    walidata = await keys.make("walidata", name="walidata-masked")
    admin = await keys.make("admin", name="admin-audit")
    rec = umkm()
    await client.post("/api/v1/submissions", json=rec, headers=auth(owner))
    await client.get(f"/api/v1/submissions/{rec['submission_id']}", headers=auth(dinas))
    await client.get(f"/api/v1/submissions/{rec['submission_id']}", headers=auth(walidata))  # masked
    await client.get("/api/v1/submissions", params={"kode_wilayah": "16.07"}, headers=auth(dinas))

    page = (await client.get("/api/v1/audit", headers=auth(admin))).json()
    entries = [(e["key_name"], e["role"], e["endpoint"]) for e in page["items"]]
    assert entries == [
        ("dinas-audit", "dinas", "GET /api/v1/submissions"),
        ("dinas-audit", "dinas", "GET /api/v1/submissions/{submission_id}"),
    ]
    assert page["items"][1]["detail"] == {"submission_ids": [rec["submission_id"]]}
    assert page["items"][0]["rows"] == 1

    only = (await client.get("/api/v1/audit", params={"endpoint": "GET /api/v1/submissions", "limit": 1}, headers=auth(admin))).json()
    assert len(only["items"]) == 1 and only["next_cursor"] is not None
    older = (
        await client.get(
            "/api/v1/audit", params={"endpoint": "GET /api/v1/submissions", "cursor": only["next_cursor"]}, headers=auth(admin)
        )
    ).json()
    assert older["items"] == []
    none = (await client.get("/api/v1/audit", params={"key_name": "walidata-masked"}, headers=auth(admin))).json()
    assert none["items"] == []


async def test_only_admin_reads_the_audit_log(client, keys):
    for role, scope in (("dinas", "16"), ("walidata", None), ("verifikator", "16.07"), ("enumerator", "16")):
        k = await keys.make(role, scope)
        assert_problem(await client.get("/api/v1/audit", headers=auth(k)), "role-forbidden")
    assert_problem(await client.get("/api/v1/audit"), "unauthorized")
