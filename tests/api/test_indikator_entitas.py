"""Indicators computed from entities (issue 29 section 5) over HTTP: UMKM naik kelas with a target
in the LKjIP, persentase usaha kecil naik kelas, modal growth per koperasi, usaha baru and usaha
tidak ditemukan, and a dinas's own naik kelas from a field that changed between rounds.

Two rounds (2021, 2022) of records posted by an enumerator and accepted over HTTP, then linked
into entities (tests/support/entitas.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.support import factories
from tests.support.common import auth
from tests.support.entitas import gabung, linker
from tests.support.problems import assert_problem
from tests.support.verification_helpers import decide

API = "/api/v1/indikator"
BANYUASIN = "16.07.01.2001"
PALEMBANG = "16.71.01.1001"
JUTA = 1_000_000
MIKRO, KECIL, MENENGAH, BESAR = 25 * JUTA, 2_000 * JUTA, 7_000 * JUTA, 20_000 * JUTA


def _umkm(periode, nib, modal, desa=BANYUASIN, **over):
    return factories.umkm(
        periode=periode,
        captured_at=f"{periode}-06-01T09:30:00+07:00",
        kode_wilayah=desa,
        nib=nib,
        modal_usaha=modal,
        hasil_penjualan_tahunan=None,
        **over,
    )


def _kop(periode, nik_koperasi, sendiri, luar, desa=BANYUASIN):
    return factories.koperasi(
        periode=periode,
        captured_at=f"{periode}-06-01T09:30:00+07:00",
        kode_wilayah=desa,
        nik_koperasi=nik_koperasi,
        nomor_badan_hukum=f"{nik_koperasi[-4:]}/BH/XII/2010",
        modal_sendiri=sendiri,
        modal_luar=... if luar is None else luar,
    )


def nib(n: int) -> str:
    return f"{9120000000000 + n}"


def nik_kop(n: int) -> str:
    return f"{1607000000000000 + n}"


# Two rounds of usaha and koperasi; the comment says what each is in 2022.
RECORDS = {
    "A21": _umkm("2021", nib(1), MIKRO, platform_digital=False),  # A: mikro -> kecil: naik kelas
    "A22": _umkm("2022", nib(1), KECIL, platform_digital=True),  #    and now on a digital platform
    "B21": _umkm("2021", nib(2), KECIL),  # B: kecil -> menengah: naik kelas
    "B22": _umkm("2022", nib(2), MENENGAH),
    "C21": _umkm("2021", nib(3), KECIL, platform_digital=True),  # C: kecil -> kecil, found again
    "C22": _umkm("2022", nib(3), KECIL, platform_digital=True),
    "D21": _umkm("2021", nib(4), MIKRO),  # D: not found in 2022
    "E22": _umkm("2022", nib(5), MIKRO),  # E: new in 2022
    "G21": _umkm("2021", nib(6), MENENGAH, desa=PALEMBANG),  # G: menengah -> besar: left UMKM, not naik kelas
    "G22": _umkm("2022", nib(6), BESAR, desa=PALEMBANG),
    "H21": _umkm("2021", nib(7), MIKRO),  # H: mikro in Banyuasin -> kecil in Palembang
    "H22": _umkm("2022", nib(7), KECIL, desa=PALEMBANG),
    # F: got an NIB in 2022; the same owner and name make a candidate a verifikator links
    "F21": _umkm("2021", None, MIKRO, nik_pemilik=factories.nik(serial=8), nama_usaha="Kerupuk Ikan Bu Rina"),
    "F22": _umkm("2022", nib(8), MIKRO, nik_pemilik=factories.nik(serial=8), nama_usaha="Kerupuk Ikan Bu Rina"),
    # koperasi: K1 150 -> 180, K2 200 -> 240 (modal luar not given), K3 new, K4 gone
    "K1-21": _kop("2021", nik_kop(1), 100 * JUTA, 50 * JUTA),
    "K1-22": _kop("2022", nik_kop(1), 120 * JUTA, 60 * JUTA),
    "K2-21": _kop("2021", nik_kop(2), 200 * JUTA, None),
    "K2-22": _kop("2022", nik_kop(2), 240 * JUTA, None),
    "K3-22": _kop("2022", nik_kop(3), 1_000 * JUTA, 0),
    "K4-21": _kop("2021", nik_kop(4), 300 * JUTA, 0),
}


async def _two_rounds(client, enum_key, admin, pg, tautkan) -> None:
    items = list(RECORDS.values())
    r = await client.post("/api/v1/submissions/batch", json={"items": items}, headers=auth(enum_key))
    assert r.status_code == 200 and r.json()["created"] == len(items), r.text
    # a record still masuk and one ditolak in 2022 count nowhere
    masuk = _umkm("2022", nib(1), MENENGAH)
    ditolak = _umkm("2022", nib(4), KECIL)
    r = await client.post("/api/v1/submissions/batch", json={"items": [masuk, ditolak]}, headers=auth(enum_key))
    assert r.status_code == 200, r.text
    for rec in items:
        assert (await decide(client, admin, rec["submission_id"], "diterima")).status_code == 200
    r = await decide(client, admin, ditolak["submission_id"], "ditolak", alasan_kode="data_tidak_lengkap")
    assert r.status_code == 200, r.text
    assert (await tautkan()).ditautkan == len(items)
    f21, f22 = [
        await pg.fetchval("SELECT id_kumkm FROM kumkm_tautan WHERE submission_id = $1::uuid", RECORDS[k]["submission_id"])
        for k in ("F21", "F22")
    ]
    assert (
        await pg.fetchval("SELECT count(*) FROM kumkm_kandidat WHERE status = 'terbuka' AND id_a = $1 AND id_b = $2", *sorted([f21, f22]))
        == 1
    )
    await gabung(pg, RECORDS["F21"]["submission_id"], RECORDS["F22"]["submission_id"])


@pytest.fixture
async def tautkan(database_url):
    """The linker, run when the test says (the service's background linker idle meanwhile)."""
    async with linker(database_url) as run:
        yield run


async def _indikator(client, key, sid, kode, formula, parameter=None, *, satuan="unit", level="provinsi", status=201):
    body = {
        "pemilik": "16",
        "kode": kode,
        "nama": kode,
        "sasaran_id": sid,
        "satuan": satuan,
        "polaritas": "naik",
        "level": level,
        "sumber": "registry",
        "formula": formula,
        "renstra_mulai": 2019,
        "renstra_akhir": 2024,
    }
    if parameter is not None:
        body["parameter"] = parameter
    r = await client.post(API, json=body, headers=auth(key))
    assert r.status_code == status, r.text
    return r.json().get("id") if status == 201 else r


async def _sasaran(client, key) -> int:
    r = await client.post(
        API + "/sasaran", json={"pemilik": "16", "kode": "S-NK", "nama": "Meningkatnya UMKM naik kelas"}, headers=auth(key)
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _realisasi(client, key, iid, wilayah="16", tahun=2022) -> dict:
    r = await client.get(f"{API}/{iid}/realisasi/{wilayah}/{tahun}", headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


async def test_jumlah_umkm_naik_kelas_gets_realisasi_capaian_and_predikat(client, enum_key, admin, dinas, pg, tautkan):
    await _two_rounds(client, enum_key, admin, pg, tautkan)
    sid = await _sasaran(client, dinas)
    iid = await _indikator(client, dinas, sid, "IKU-NK", "umkm_naik_kelas")
    r = await client.put(f"{API}/{iid}/target/16/2022", json={"nilai": "2"}, headers=auth(dinas))
    assert r.status_code == 200, r.text
    r = await client.put(f"{API}/{iid}/target/16/2021", json={"nilai": "2"}, headers=auth(dinas))
    assert r.status_code == 200, r.text
    r = await client.get(API + "/capaian", params={"tahun": 2022, "wilayah": "16"}, headers=auth(dinas))
    assert r.status_code == 200, r.text
    row = next(i for s in r.json()["sasaran"] for i in s["indikator"] if i["kode"] == "IKU-NK")
    # A (mikro -> kecil), B (kecil -> menengah), H (mikro -> kecil, now in Palembang); not G (to besar),
    # not C (still kecil), not F (still mikro)
    assert row["realisasi"] == "3" and row["realisasi_sumber"] == "registry"
    assert row["capaian_persen_bulat"] == "150.00" and row["predikat"] == "sangat tinggi"
    # 2021 has no round before it: nobody can have naik kelas (capaian 0 against its target)
    before = {s["tahun"]: s for s in row["tahun_sebelumnya"]}
    assert before[2021]["realisasi"] == "0" and before[2021]["capaian_persen_bulat"] == "0.00"
    # the CSV says the same
    r = await client.get(API + "/capaian", params={"tahun": 2022, "wilayah": "16", "format": "csv-data"}, headers=auth(dinas))
    assert r.status_code == 200 and "IKU-NK" in r.text
    # per kabupaten/kota, by the entity's record in the periode: H counts in Palembang, not Banyuasin
    kid = await _indikator(client, dinas, sid, "IKK-NK", "umkm_naik_kelas", level="kabkota")
    assert (await _realisasi(client, dinas, kid, "16.07"))["nilai"] == "2"
    assert (await _realisasi(client, dinas, kid, "16.71"))["nilai"] == "1"
    assert (await _realisasi(client, dinas, kid, "16.03"))["nilai"] == "0"
    # nationally the same three
    nas = (await client.post(API + "/sasaran", json={"pemilik": "nasional", "kode": "S-NK", "nama": "x"}, headers=auth(admin))).json()["id"]
    body = {
        "pemilik": "nasional",
        "kode": "NAS-NK",
        "nama": "UMKM naik kelas",
        "sasaran_id": nas,
        "satuan": "unit",
        "polaritas": "naik",
        "level": "nasional",
        "sumber": "registry",
        "formula": "umkm_naik_kelas",
        "renstra_mulai": 2019,
        "renstra_akhir": 2024,
    }
    nid = (await client.post(API, json=body, headers=auth(admin))).json()["id"]
    got = await _realisasi(client, admin, nid, "nasional")
    assert got["nilai"] == "3" and got["komponen"] == {"2022": {"umkm_naik_kelas": "3"}}


async def test_the_other_entity_formulas(client, enum_key, admin, dinas, pg, tautkan):
    await _two_rounds(client, enum_key, admin, pg, tautkan)
    sid = await _sasaran(client, dinas)
    cases = [  # kode, formula, parameter, satuan, 2022 realisasi, komponen
        # kecil in 2021 and found in 2022: B and C; of those menengah in 2022: B
        (
            "KECIL",
            "persen_usaha_kecil_naik_kelas",
            None,
            "persen",
            Decimal(50),
            {"umkm_kecil_naik_kelas": "1", "umkm_kecil_ditemukan": "2"},
        ),
        # K1 150 -> 180 and K2 200 -> 240: (420 - 350) / 350 = 20%; K3 (new) and K4 (gone) are left out
        (
            "MODAL",
            "pertumbuhan_modal_koperasi_entitas",
            None,
            "persen",
            Decimal(20),
            {"koperasi_modal_kenaikan": str(70 * JUTA), "koperasi_modal_tahun_lalu": str(350 * JUTA)},
        ),
        ("BARU", "usaha_baru", None, "unit", Decimal(1), {"usaha_baru": "1"}),  # E
        ("HILANG", "usaha_tidak_ditemukan", None, "unit", Decimal(1), {"usaha_tidak_ditemukan": "1"}),  # D
        ("DIGITAL", "umkm_meningkat", {"kolom": "platform_digital"}, "unit", Decimal(1), {"umkm_meningkat": "1"}),
        # F got its NIB in 2022 (its two records are one entity only after the verifikator's merge)
        ("NIB", "umkm_meningkat", {"kolom": "punya_nib"}, "unit", Decimal(1), {"umkm_meningkat": "1"}),
        ("IZIN", "umkm_meningkat", {"kolom": "izin_usaha"}, "unit", Decimal(0), {"umkm_meningkat": "0"}),
        # the entity terms are terms like the others: koperasi new in 2022 through the generic jumlah
        ("KOP-BARU", "jumlah", {"ukuran": "koperasi_baru"}, "unit", Decimal(1), {"koperasi_baru": "1"}),
        (
            "NK-PER-UMKM",
            "rasio",
            {"pembilang": "umkm_naik_kelas", "penyebut": "umkm"},
            "persen",
            Decimal(50),
            {"umkm_naik_kelas": "3", "umkm": "6"},
        ),
    ]
    for kode, formula, parameter, satuan, nilai, komponen in cases:
        iid = await _indikator(client, dinas, sid, kode, formula, parameter, satuan=satuan)
        got = await _realisasi(client, dinas, iid)
        assert Decimal(got["nilai"]) == nilai, (kode, got)
        assert got["komponen"] == {"2022": komponen}, (kode, got)
    # in the first round every entity is new and none is lost
    iid = await _indikator(client, dinas, sid, "BARU-21", "usaha_baru")
    assert (await _realisasi(client, dinas, iid, tahun=2021))["nilai"] == "7"  # A B C D F G H
    iid = await _indikator(client, dinas, sid, "HILANG-21", "usaha_tidak_ditemukan")
    assert (await _realisasi(client, dinas, iid, tahun=2021))["nilai"] == "0"


async def test_a_usaha_not_found_counts_where_it_was(client, enum_key, admin, dinas, pg, tautkan):
    await _two_rounds(client, enum_key, admin, pg, tautkan)
    sid = await _sasaran(client, dinas)
    iid = await _indikator(client, dinas, sid, "HILANG", "usaha_tidak_ditemukan", level="kabkota")
    assert (await _realisasi(client, dinas, iid, "16.07"))["nilai"] == "1"
    assert (await _realisasi(client, dinas, iid, "16.71"))["nilai"] == "0"
    # a growth with nothing linked in the years before has no realisasi, as for records
    mid = await _indikator(client, dinas, sid, "MODAL", "pertumbuhan_modal_koperasi_entitas", satuan="persen")
    assert (await _realisasi(client, dinas, mid, tahun=2021))["nilai"] is None


async def test_a_dinas_own_definition_is_checked(client, dinas):
    sid = await _sasaran(client, dinas)
    r = await _indikator(client, dinas, sid, "X1", "umkm_meningkat", status=422)
    assert_problem(r, "invalid-input")
    assert [e["field"] for e in r.json()["errors"]] == ["parameter.kolom"]
    r = await _indikator(client, dinas, sid, "X2", "umkm_meningkat", {"kolom": "nama_usaha"}, status=422)
    assert_problem(r, "invalid-input")
    assert r.json()["errors"][0]["message"].startswith("parameter.kolom harus salah satu dari: punya_nib")
    r = await _indikator(client, dinas, sid, "X3", "jumlah", {"ukuran": "umkm_meningkat"}, status=422)
    assert [e["field"] for e in r.json()["errors"]] == ["parameter.kolom"]
    r = await _indikator(client, dinas, sid, "X4", "umkm_naik_kelas", {"kolom": "punya_nib"}, status=422)
    assert [e["field"] for e in r.json()["errors"]] == ["parameter.kolom"]


async def test_a_kept_result_is_computed_again_once_the_registry_changed(client, enum_key, admin, dinas, pg, tautkan):
    await _two_rounds(client, enum_key, admin, pg, tautkan)
    sid = await _sasaran(client, dinas)
    iid = await _indikator(client, dinas, sid, "IKU-NK", "umkm_naik_kelas")
    for _ in range(3):  # the same answer, computed once and served again while nothing changed
        assert (await _realisasi(client, dinas, iid))["nilai"] == "3"
    # D, not found in 2022 until now, is found as a kecil usaha: accepted, it is a record but
    # not yet linked (a `changes` row, no link): still 3
    d22 = _umkm("2022", nib(4), KECIL)
    assert (await client.post("/api/v1/submissions", json=d22, headers=auth(enum_key))).status_code == 201
    assert (await decide(client, admin, d22["submission_id"], "diterima")).status_code == 200
    assert (await _realisasi(client, dinas, iid))["nilai"] == "3"
    # linked (a link and its peristiwa): D naik kelas, mikro -> kecil
    assert (await tautkan()).ditautkan == 1
    assert (await _realisasi(client, dinas, iid))["nilai"] == "4"
    # the acceptance reversed: the record leaves its entity again
    r = await decide(
        client,
        admin,
        d22["submission_id"],
        "ditolak",
        version=1,
        dari="diterima",
        alasan_kode="data_tidak_valid",
        catatan="NIB milik usaha lain",
    )
    assert r.status_code == 200, r.text
    assert (await _realisasi(client, dinas, iid))["nilai"] == "3"  # not diterima: no state in 2022, at once
    assert (await tautkan()).dilepas == 1
    assert (await _realisasi(client, dinas, iid))["nilai"] == "3"
