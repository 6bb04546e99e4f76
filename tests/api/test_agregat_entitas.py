"""GET /api/v1/agregat/entitas: usaha and koperasi (entities) beside the records diterima, for a
periode and over every periode; a round counts records, the registry counts usaha."""

from __future__ import annotations

import pytest

from tests.support import factories
from tests.support.common import auth
from tests.support.entitas import linker
from tests.support.problems import assert_problem
from tests.support.verification_helpers import decide

PATH = "/api/v1/agregat/entitas"
BANYUASIN = "16.07.01.2001"
PALEMBANG = "16.71.01.1001"


def _umkm(periode, nib, desa=BANYUASIN):
    return factories.umkm(periode=periode, captured_at=f"{periode}-06-01T09:30:00+07:00", kode_wilayah=desa, nib=nib)


@pytest.fixture
async def tautkan(database_url):
    """The linker, run when the test says (the service's background linker idle meanwhile)."""
    async with linker(database_url) as run:
        yield run


async def _get(client, key, **params):
    r = await client.get(PATH, params=params, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


async def test_usaha_beside_records(client, enum_key, admin, dinas, pg, tautkan):
    items = [
        _umkm("2021", "9120000000001"),
        _umkm("2022", "9120000000001"),  # one usaha, two rounds
        _umkm("2022", "9120000000001"),  # and a duplicate in 2022
        _umkm("2021", "9120000000002"),  # seen in 2021 only
        _umkm("2022", "9120000000003", desa=PALEMBANG),  # Palembang
        _umkm("2022", None),
        _umkm("2022", None),  # two usaha without NIB
        factories.koperasi(periode="2022", nik_koperasi="1607000000000001", nomor_badan_hukum="1/BH/2010"),
        factories.koperasi(
            periode="2021", captured_at="2021-06-01T09:30:00+07:00", nik_koperasi="1607000000000001", nomor_badan_hukum="1/BH/2010"
        ),
    ]
    masuk = _umkm("2022", "9120000000009")  # not decided: counts nowhere
    r = await client.post("/api/v1/submissions/batch", json={"items": items + [masuk]}, headers=auth(enum_key))
    assert r.status_code == 200 and r.json()["created"] == len(items) + 1, r.text
    for rec in items:
        assert (await decide(client, admin, rec["submission_id"], "diterima")).status_code == 200
    # accepted, not yet linked: the records count, the linker's backlog is said
    doc = await _get(client, dinas, periode="2022", wilayah="16")
    assert doc["periode_ini"] == {"usaha": 0, "koperasi": 0, "rekaman_umkm": 5, "rekaman_koperasi": 1, "belum_ditautkan": 6}
    await tautkan()
    doc = await _get(client, dinas, periode="2022", wilayah="16")
    assert doc["wilayah"] == {"kode": "16", "nama": "Sumatera Selatan", "level": 1}
    # 2022: NIB 1 (two records: a duplicate in the round), NIB 3, two without NIB: 4 usaha from 5 records
    assert doc["periode_ini"] == {"usaha": 4, "koperasi": 1, "rekaman_umkm": 5, "rekaman_koperasi": 1, "belum_ditautkan": 0}
    # every periode: NIB 2 of 2021 too; NIB 1's 2021 record is the same usaha
    assert doc["semua_periode"] == {"usaha": 5, "koperasi": 1, "rekaman_umkm": 7, "rekaman_koperasi": 2, "belum_ditautkan": 0}
    kab = await _get(client, dinas, periode="2022", wilayah="16.71")
    assert kab["periode_ini"]["usaha"] == 1 and kab["semua_periode"]["usaha"] == 1
    assert kab["semua_periode"]["koperasi"] == 0
    nas = await _get(client, admin, periode="2022")
    assert nas["wilayah"] is None and nas["semua_periode"] == doc["semua_periode"]
    empty = await _get(client, dinas, periode="2023", wilayah="16.07")
    assert empty["periode_ini"] == {"usaha": 0, "koperasi": 0, "rekaman_umkm": 0, "rekaman_koperasi": 0, "belum_ditautkan": 0}
    assert empty["semua_periode"]["usaha"] == 4  # NIB 1, NIB 2 and the two without NIB, all in Banyuasin


async def test_scope_and_input(client, dinas, enum_key):
    assert_problem(await client.get(PATH, params={"periode": "2022", "wilayah": "15"}, headers=auth(dinas)), "outside-scope")
    assert_problem(await client.get(PATH, params={"periode": "2022"}, headers=auth(dinas)), "outside-scope")
    assert_problem(await client.get(PATH, params={"periode": "2022", "wilayah": "16"}, headers=auth(enum_key)), "role-forbidden")
    assert_problem(await client.get(PATH, params={"periode": "1999", "wilayah": "16"}, headers=auth(dinas)), "invalid-input")
