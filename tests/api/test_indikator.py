"""Performance indicators over HTTP: definitions, targets and realisasi with history, capaian
computed exactly, predikat bands, registry formulas over generated records, scope rules."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import asyncpg
import pytest

from tests.support.common import auth
from tests.support.problems import assert_problem

API = "/api/v1/indikator"


async def post(client, key, path, body, status=201):
    r = await client.post(API + path, json=body, headers=auth(key))
    assert r.status_code == status, r.text
    return r.json()


async def put(client, key, path, body, status=200):
    r = await client.put(API + path, json=body, headers=auth(key))
    assert r.status_code == status, r.text
    return r.json()


async def sasaran(client, key, pemilik="16", kode="S1", nama="Meningkatnya koperasi berkualitas", tujuan: bool = True) -> int:
    tujuan_id = None
    if tujuan:
        tujuan_id = (await post(client, key, "/tujuan", {"pemilik": pemilik, "kode": "T" + kode, "nama": "Tujuan " + nama}))["id"]
    return (await post(client, key, "/sasaran", {"pemilik": pemilik, "kode": kode, "nama": nama, "tujuan_id": tujuan_id}))["id"]


async def indikator(client, key, sasaran_id, kode, *, pemilik="16", satuan="persen", polaritas="naik", **extra) -> int:
    body = {
        "pemilik": pemilik,
        "kode": kode,
        "nama": f"Indikator {kode}",
        "sasaran_id": sasaran_id,
        "satuan": satuan,
        "polaritas": polaritas,
        "sumber": "manual",
        "renstra_mulai": 2019,
        "renstra_akhir": 2023,
        **extra,
    }
    return (await post(client, key, "", body))["id"]


async def lkjip(client, key, tahun=2022, wilayah="16", **params):
    r = await client.get(API + "/capaian", params={"tahun": tahun, "wilayah": wilayah, **params}, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


async def lkjip_csv(client, key, tahun=2022, wilayah="16", **params) -> list[dict]:
    r = await client.get(API + "/capaian", params={"tahun": tahun, "wilayah": wilayah, "format": "csv", **params}, headers=auth(key))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith(b"\xef\xbb\xbf")  # a BOM, for spreadsheet programs
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


def rows_by_kode(doc) -> dict:
    return {i["kode"]: i for s in doc["sasaran"] for i in s["indikator"]}


# ---------------------------------------------------------------------------------------------
# The seed rows of the issue, exactly


SEED = [  # kode, satuan, target, realisasi, capaian shown, predikat
    ("IKU-1", "persen", "5.4", 7.34, "135,93%", "sangat tinggi"),
    ("IKU-2", "persen", 0.03, "-0.64", "-2.133,33%", "sangat rendah"),
    ("IKU-3", "persen", "3.38", "91.61", "2.710,36%", "sangat tinggi"),
    ("IKU-4", "persen", 8.45, 12.67, "149,94%", "sangat tinggi"),
    ("IKU-5", "indeks", 86, "88.9", "103,37%", "sangat tinggi"),
]


async def test_seed_rows_reproduce_exactly(client, dinas):
    sid = await sasaran(client, dinas)
    for kode, satuan, target, realisasi, _, _ in SEED:
        iid = await indikator(client, dinas, sid, kode, satuan=satuan)
        await put(client, dinas, f"/{iid}/target/16/2022", {"nilai": target, "keterangan": "Renstra 2019-2023"})
        await put(client, dinas, f"/{iid}/realisasi/16/2022", {"nilai": realisasi, "sumber": "LKjIP 2022"})
    doc = rows_by_kode(await lkjip(client, dinas))
    assert doc["IKU-1"]["capaian_persen_bulat"] == "135.93"
    assert doc["IKU-1"]["capaian_persen"].startswith("135.925925925925925925")
    assert doc["IKU-2"]["capaian_persen"] == "-2133.333333333333333333333333333333333333"
    assert doc["IKU-2"]["capaian_persen_bulat"] == "-2133.33"
    assert doc["IKU-3"]["capaian_persen_bulat"] == "2710.36"
    assert doc["IKU-4"]["capaian_persen_bulat"] == "149.94" and doc["IKU-4"]["predikat"] == "sangat tinggi"
    assert doc["IKU-5"]["capaian_persen_bulat"] == "103.37"
    # JSON numbers were read as exact decimals, not floats
    assert doc["IKU-2"]["target"] == "0.03" and doc["IKU-1"]["realisasi"] == "7.34"
    assert doc["IKU-1"]["realisasi_sumber"] == "LKjIP 2022"
    table = {r["Kode indikator"]: r for r in await lkjip_csv(client, dinas)}
    for kode, _, _, _, shown, predikat in SEED:
        assert table[kode]["Capaian 2022"] == shown, kode
        assert table[kode]["Predikat 2022"] == predikat, kode
    assert table["IKU-2"]["Realisasi 2022"] == "-0,64%" and table["IKU-2"]["Target 2022"] == "0,03%"
    assert table["IKU-5"]["Target 2022"] == "86" and table["IKU-5"]["Realisasi 2022"] == "88,9"


async def test_json_numbers_keep_every_digit(client, dinas, pg):
    sid = await sasaran(client, dinas)
    iid = await indikator(client, dinas, sid, "IKU-X")
    # a float would come back as 12345678.123456789
    r = await client.put(
        f"{API}/{iid}/target/16/2022",
        content=b'{"nilai": 12345678.123456789012}',
        headers={**auth(dinas), "content-type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["nilai"] == "12345678.123456789012"
    assert await pg.fetchval("SELECT nilai::text FROM indikator_target") == "12345678.123456789012"


# ---------------------------------------------------------------------------------------------
# Polarity, predikat, sasaran mean


async def test_turun_polarity(client, dinas):
    sid = await sasaran(client, dinas)
    lower = await indikator(client, dinas, sid, "IKK-1", polaritas="turun")
    worse = await indikator(client, dinas, sid, "IKK-2", polaritas="turun")
    for iid, realisasi in ((lower, "5"), (worse, "12")):
        await put(client, dinas, f"/{iid}/target/16/2022", {"nilai": "10"})
        await put(client, dinas, f"/{iid}/realisasi/16/2022", {"nilai": realisasi, "sumber": "BPS"})
    doc = rows_by_kode(await lkjip(client, dinas))
    # (2 x 10 - 5) / 10 = 150%; (2 x 10 - 12) / 10 = 80%
    assert doc["IKK-1"]["capaian_persen"] == "150" and doc["IKK-1"]["predikat"] == "sangat tinggi"
    assert doc["IKK-2"]["capaian_persen"] == "80" and doc["IKK-2"]["predikat"] == "tinggi"


EDGES = [
    ("91", "sangat tinggi"),
    ("90.99", "tinggi"),
    ("90.995", "sangat tinggi"),
    ("90.9949", "tinggi"),
    ("76", "tinggi"),
    ("75.99", "sedang"),
    ("66", "sedang"),
    ("65.99", "rendah"),
    ("51", "rendah"),
    ("50.99", "sangat rendah"),
    ("-3", "sangat rendah"),
]


async def test_predikat_bands_at_their_edges(client, dinas):
    sid = await sasaran(client, dinas)
    for n, (realisasi, _) in enumerate(EDGES):
        iid = await indikator(client, dinas, sid, f"E{n:02d}")
        await put(client, dinas, f"/{iid}/target/16/2022", {"nilai": "100"})
        await put(client, dinas, f"/{iid}/realisasi/16/2022", {"nilai": realisasi, "sumber": "uji"})
    doc = rows_by_kode(await lkjip(client, dinas))
    got = [(doc[f"E{n:02d}"]["capaian_persen"], doc[f"E{n:02d}"]["predikat"]) for n in range(len(EDGES))]
    assert got == EDGES
    # 90,995% prints as 91,00%, and the predikat agrees with the printed number
    table = {r["Kode indikator"]: r for r in await lkjip_csv(client, dinas)}
    assert (table["E02"]["Capaian 2022"], table["E02"]["Predikat 2022"]) == ("91,00%", "sangat tinggi")
    assert (table["E03"]["Capaian 2022"], table["E03"]["Predikat 2022"]) == ("90,99%", "tinggi")


async def test_custom_band_table_per_wilayah(client, dinas, plain_admin):
    scale = {
        "nama": "Skala dinas",
        "bands": [
            {"batas_bawah": None, "predikat": "belum tercapai"},
            {"batas_bawah": 100, "predikat": "tercapai"},
            {"batas_bawah": "80", "predikat": "hampir tercapai"},
        ],
    }
    out = await put(client, dinas, "/predikat/16", scale)
    assert out["berlaku_dari"] == "16"
    assert out["bands"] == [
        {"batas_bawah": "100", "predikat": "tercapai"},
        {"batas_bawah": "80", "predikat": "hampir tercapai"},
        {"batas_bawah": None, "predikat": "belum tercapai"},
    ]
    sid = await sasaran(client, dinas)
    iid = await indikator(client, dinas, sid, "IKU-1")
    await put(client, dinas, f"/{iid}/target/16/2022", {"nilai": "10"})
    await put(client, dinas, f"/{iid}/realisasi/16/2022", {"nilai": "9.5", "sumber": "uji"})
    doc = await lkjip(client, dinas)
    assert doc["skala_predikat"]["berlaku_dari"] == "16"
    assert rows_by_kode(doc)["IKU-1"]["predikat"] == "hampir tercapai"
    # a kabkota under it inherits; another provinsi keeps the default
    r = await client.get(f"{API}/predikat/16.07", headers=auth(dinas))
    assert r.json()["berlaku_dari"] == "16"
    r = await client.get(f"{API}/predikat/17", headers=auth(plain_admin))
    assert r.json()["berlaku_dari"] == "bawaan" and r.json()["bands"][0] == {"batas_bawah": "91", "predikat": "sangat tinggi"}
    # dropping it brings the default back (the dropped scale stays in history)
    r = await client.delete(f"{API}/predikat/16", headers=auth(dinas))
    assert r.status_code == 200 and r.json()["berlaku_dari"] == "bawaan"
    assert rows_by_kode(await lkjip(client, dinas))["IKU-1"]["predikat"] == "sangat tinggi"
    r = await client.delete(f"{API}/predikat/16", headers=auth(dinas))
    assert_problem(r, "not-found")


async def test_band_table_must_be_a_scale(client, dinas):
    r = await client.put(
        f"{API}/predikat/16",
        json={"bands": [{"batas_bawah": "50", "predikat": "a"}, {"batas_bawah": "50.0", "predikat": "b"}]},
        headers=auth(dinas),
    )
    assert_problem(r, "invalid-input")
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"bands", "bands.1.batas_bawah"}
    r = await client.put(f"{API}/predikat/16", json={"bands": [{"batas_bawah": "x", "predikat": "a"}]}, headers=auth(dinas))
    assert_problem(r, "invalid-input")
    assert r.json()["errors"][0]["field"] == "bands.0.batas_bawah"


async def test_sasaran_capaian_is_the_mean_of_its_indicators(client, dinas):
    sid = await sasaran(client, dinas)
    other = await sasaran(client, dinas, kode="S2", nama="Meningkatnya UMKM formal", tujuan=False)
    a = await indikator(client, dinas, sid, "A")
    b = await indikator(client, dinas, sid, "B", polaritas="turun")
    await indikator(client, dinas, sid, "C")  # no target yet: left out of the mean
    await indikator(client, dinas, other, "D")  # nothing at all
    await put(client, dinas, f"/{a}/target/16/2022", {"nilai": "5.4"})
    await put(client, dinas, f"/{a}/realisasi/16/2022", {"nilai": "7.34", "sumber": "uji"})
    await put(client, dinas, f"/{b}/target/16/2022", {"nilai": "10"})
    await put(client, dinas, f"/{b}/realisasi/16/2022", {"nilai": "12", "sumber": "uji"})
    doc = await lkjip(client, dinas)
    s1, s2 = doc["sasaran"]
    assert [i["kode"] for i in s1["indikator"]] == ["A", "B", "C"]
    # (135.925925...% + 80%) / 2, from the exact values
    assert s1["capaian_persen"].startswith("107.962962962962962962")
    assert s1["capaian_persen_bulat"] == "107.96" and s1["predikat"] == "sangat tinggi"
    assert s1["tujuan"]["kode"] == "TS1" and s2["tujuan"] is None
    assert s2["capaian_persen"] is None and s2["predikat"] is None
    table = await lkjip_csv(client, dinas)
    assert [r["No"] for r in table] == ["1", "1.1", "1.2", "1.3", "2", "2.1"]
    assert table[0]["Capaian 2022"] == "107,96%" and table[4]["Capaian 2022"] == "-"
    assert table[3]["Target 2022"] == "-" and table[3]["Capaian 2022"] == "-"


async def test_previous_years_and_end_of_renstra_target(client, dinas):
    sid = await sasaran(client, dinas)
    iid = await indikator(client, dinas, sid, "IKU-1", renstra_mulai=2019, renstra_akhir=2024)
    for tahun, target in ((2020, "4"), (2021, "5"), (2022, "5.4"), (2024, "8")):
        await put(client, dinas, f"/{iid}/target/16/{tahun}", {"nilai": target})
    for tahun, realisasi in ((2021, "6"), (2022, "7.34")):
        await put(client, dinas, f"/{iid}/realisasi/16/{tahun}", {"nilai": realisasi, "sumber": "uji"})
    row = rows_by_kode(await lkjip(client, dinas, sebelumnya=2))["IKU-1"]
    assert row["tahun_sebelumnya"] == [
        {
            "tahun": 2021,
            "target": "5",
            "realisasi": "6",
            "capaian_persen": "120",
            "capaian_persen_bulat": "120.00",
            "predikat": "sangat tinggi",
        },
        {"tahun": 2020, "target": "4", "realisasi": None, "capaian_persen": None, "capaian_persen_bulat": None, "predikat": None},
    ]
    # 7,34 against the 2024 target of 8
    assert row["renstra"] == {
        "tahun_akhir": 2024,
        "target": "8",
        "capaian_persen": "91.75",
        "capaian_persen_bulat": "91.75",
        "predikat": "sangat tinggi",
    }
    table = (await lkjip_csv(client, dinas, sebelumnya=2))[1]
    assert table["Capaian 2021"] == "120,00%" and table["Capaian 2020"] == "-"
    assert (table["Tahun akhir Renstra"], table["Target akhir Renstra"]) == ("2024", "8%")
    assert table["Capaian thd target akhir Renstra"] == "91,75%"


# ---------------------------------------------------------------------------------------------
# History


async def test_target_and_realisasi_revisions_keep_history(client, dinas, pg):
    sid = await sasaran(client, dinas)
    iid = await indikator(client, dinas, sid, "IKU-1")
    await put(client, dinas, f"/{iid}/target/16/2022", {"nilai": "6", "keterangan": "Renstra awal"})
    out = await put(client, dinas, f"/{iid}/target/16/2022", {"nilai": "5.4", "keterangan": "Renstra perubahan"})
    assert out["nilai"] == "5.4"
    assert [(r["nilai"], r["keterangan"]) for r in out["riwayat"]] == [("5.4", "Renstra perubahan"), ("6", "Renstra awal")]
    await put(client, dinas, f"/{iid}/target/16/2023", {"nilai": "7"})
    r = await client.get(f"{API}/{iid}/target/16", headers=auth(dinas))
    assert [(t["tahun"], t["nilai"], len(t["riwayat"])) for t in r.json()["items"]] == [(2022, "5.4", 2), (2023, "7", 1)]
    await put(client, dinas, f"/{iid}/realisasi/16/2022", {"nilai": "7.1", "sumber": "angka sementara"})
    out = await put(client, dinas, f"/{iid}/realisasi/16/2022", {"nilai": "7.34", "sumber": "angka tetap BPS", "catatan": "rilis Maret"})
    assert (out["nilai"], out["nilai_sumber"]) == ("7.34", "angka tetap BPS")
    assert [(x["nilai"], x["sumber"], x["dibuat_oleh"]) for x in out["riwayat"]] == [
        ("7.34", "angka tetap BPS", "dinas-sumsel"),
        ("7.1", "angka sementara", "dinas-sumsel"),
    ]
    got = (await client.get(f"{API}/{iid}/realisasi/16/2022", headers=auth(dinas))).json()
    assert got == out
    assert rows_by_kode(await lkjip(client, dinas))["IKU-1"]["capaian_persen_bulat"] == "135.93"
    # history is evidence: the database refuses to rewrite it
    with pytest.raises(asyncpg.RaiseError):
        await pg.execute("UPDATE indikator_target SET nilai = 1")
    with pytest.raises(asyncpg.RaiseError):
        await pg.execute("DELETE FROM indikator_realisasi")


# ---------------------------------------------------------------------------------------------
# Registry formulas over generated records


_TYPES = {
    "aktif": "boolean",
    "punya_nik_koperasi": "boolean",
    "punya_nib": "boolean",
    "platform_digital": "boolean",
    "tahun_rat_terakhir": "integer",
    "modal_sendiri": "bigint",
    "modal_luar": "bigint",
    "volume_usaha": "bigint",
}


async def insert_records(pg, n: int, *, jenis="koperasi", kabkota="16.07", periode="2022", status="diterima", **cols):
    """n records set-based, every one with the given column values."""
    names = ["jenis", "kode_wilayah", "kode_provinsi", "kode_kabkota", "periode", "status"] + list(cols)
    values = [jenis, kabkota, kabkota[:2], kabkota, periode, status] + list(cols.values())
    select = ", ".join(f"${i + 2}::{_TYPES.get(c, 'text')}" for i, c in enumerate(names))
    await pg.execute(
        f"INSERT INTO submissions (submission_id, enumerator_id, captured_at, content_hash, dibuat_oleh, "
        f"{', '.join(names)}) "
        f"SELECT gen_random_uuid(), 'GEN', now(), '\\x00'::bytea, 'gen', {select} FROM generate_series(1, $1)",
        n,
        *values,
    )


async def registry_indikator(client, key, sid, kode, formula, parameter=None, **extra) -> int:
    body = {
        "pemilik": extra.pop("pemilik", "16"),
        "kode": kode,
        "nama": kode,
        "sasaran_id": sid,
        "polaritas": "naik",
        "sumber": "registry",
        "formula": formula,
        "renstra_mulai": 2019,
        "renstra_akhir": 2023,
        **extra,
    }
    if parameter is not None:
        body["parameter"] = parameter
    return (await post(client, key, "", body))["id"]


async def test_persentase_koperasi_aktif_from_generated_registry(client, dinas, plain_admin, pg):
    # Sumatera Selatan's ODS total: 3.999 aktif of 6.695 koperasi, spread over kabkota
    await insert_records(pg, 2500, kabkota="16.07", aktif=True)
    await insert_records(pg, 1499, kabkota="16.71", aktif=True)
    await insert_records(pg, 2000, kabkota="16.01", aktif=False)
    await insert_records(pg, 696, kabkota="16.71", aktif=False)
    # none of these count: not diterima, another provinsi, another periode, UMKM
    await insert_records(pg, 40, kabkota="16.07", aktif=True, status="masuk")
    await insert_records(pg, 30, kabkota="16.07", aktif=False, status="ditolak")
    await insert_records(pg, 50, kabkota="17.01", aktif=True)
    await insert_records(pg, 20, kabkota="16.07", aktif=True, periode="2021")
    await insert_records(pg, 10, jenis="umkm", kabkota="16.07", skala_usaha="mikro")
    sid = await sasaran(client, dinas)
    iid = await registry_indikator(client, dinas, sid, "IKU-KOP", "persentase_koperasi_aktif")
    await put(client, dinas, f"/{iid}/target/16/2022", {"nilai": "60"})
    real = (await client.get(f"{API}/{iid}/realisasi/16/2022", headers=auth(dinas))).json()
    assert real["sumber"] == "registry"
    assert real["komponen"] == {"2022": {"koperasi_aktif": "3999", "koperasi": "6695"}}
    assert real["nilai"].startswith("59.731142643764002987303958177744585511")
    row = rows_by_kode(await lkjip(client, dinas))["IKU-KOP"]
    assert row["realisasi_sumber"] == "registry" and row["capaian_persen_bulat"] == "99.55"
    table = {r["Kode indikator"]: r for r in await lkjip_csv(client, dinas)}
    assert table["IKU-KOP"]["Realisasi 2022"] == "59,73%"
    assert table["IKU-KOP"]["Capaian 2022"] == "99,55%"
    assert table["IKU-KOP"]["Capaian 2021"] == "-"  # 20 records in 2021, all aktif, but no target
    # nationally, Bengkulu's 50 aktif koperasi count too
    nas = await sasaran(client, plain_admin, pemilik="nasional", kode="S-NAS", tujuan=False)
    nid = await registry_indikator(client, plain_admin, nas, "NAS-KOP", "persentase_koperasi_aktif", pemilik="nasional")
    real = (await client.get(f"{API}/{nid}/realisasi/nasional/2022", headers=auth(plain_admin))).json()
    assert real["komponen"] == {"2022": {"koperasi_aktif": "4049", "koperasi": "6745"}}
    assert_problem(await client.get(f"{API}/{nid}/realisasi/nasional/2022", headers=auth(dinas)), "outside-scope")
    # a registry indicator's realisasi cannot be typed over
    r = await client.put(f"{API}/{iid}/realisasi/16/2022", json={"nilai": "70", "sumber": "x"}, headers=auth(dinas))
    assert_problem(r, "conflict")


async def test_registry_formulas(client, dinas, plain_admin, pg):
    # 2021: modal 100 + 50 on 4 koperasi; 2022: 5 koperasi (3 with a NIK, 2 held RAT in 2022)
    await insert_records(pg, 4, periode="2021", modal_sendiri=100, modal_luar=50, volume_usaha=1000, aktif=True)
    await insert_records(
        pg, 3, modal_sendiri=120, modal_luar=60, volume_usaha=900, aktif=True, punya_nik_koperasi=True, tahun_rat_terakhir=2022
    )
    await insert_records(
        pg,
        2,
        kabkota="16.71",
        modal_sendiri=0,
        modal_luar=None,
        volume_usaha=None,
        aktif=False,
        punya_nik_koperasi=False,
        tahun_rat_terakhir=2021,
    )
    # UMKM 2022: 6 mikro (2 with NIB), 4 kecil (1 digital), 1 menengah with NIB, 2 besar with NIB
    await insert_records(pg, 4, jenis="umkm", skala_usaha="mikro", punya_nib=False, platform_digital=True)
    await insert_records(pg, 2, jenis="umkm", skala_usaha="mikro", punya_nib=True, platform_digital=False)
    await insert_records(pg, 3, jenis="umkm", skala_usaha="kecil", punya_nib=False, platform_digital=False)
    await insert_records(pg, 1, jenis="umkm", skala_usaha="kecil", punya_nib=False, platform_digital=True)
    await insert_records(pg, 1, jenis="umkm", skala_usaha="menengah", punya_nib=True)
    await insert_records(pg, 2, jenis="umkm", skala_usaha="besar", punya_nib=True)
    await pg.execute(
        "INSERT INTO target_pendataan (periode, kode_wilayah, target, dasar_hukum, berlaku_mulai, "
        "dibuat_oleh) VALUES ('2022', '16', 30, 'Kepdep 53/2022', '2022-01-01', 'x'), "
        "('2022', '16', 24, 'Kepdep 63/2022', '2022-08-01', 'x')"
    )
    sid = await sasaran(client, dinas)
    cases = [  # kode, formula, parameter, expected realisasi (exact)
        ("RAT", "persentase_koperasi_rat", None, Decimal(60)),
        ("RAT-1", "persentase_koperasi_rat", {"rat_selisih_tahun": -1}, Decimal(100)),
        ("NIK", "persentase_koperasi_nik", None, Decimal(60)),
        # modal: 2021 = 4 x 150 = 600; 2022 = 3 x 180 + 2 x 0 = 540 -> -10%
        ("MODAL", "pertumbuhan_modal_koperasi", None, Decimal(-10)),
        # volume: 4000 -> 2700 -> -32.5%
        ("VOL", "pertumbuhan_volume_usaha_koperasi", None, Decimal("-32.5")),
        ("NIB", "persentase_umkm_nib", None, Decimal(3) * 100 / 11),
        ("NIB-MK", "persentase_umkm_nib", {"skala": ["mikro", "kecil"]}, Decimal(2) * 100 / 10),
        ("DIG", "persentase_usaha_kecil_digital", None, Decimal(25)),
        ("UMKM", "jumlah_umkm", None, Decimal(11)),
        ("MIKRO", "jumlah_umkm", {"skala": ["mikro"]}, Decimal(6)),
        ("MENENGAH", "jumlah_usaha_menengah", None, Decimal(1)),
        # 5 koperasi + 13 UMKM records diterima in 2022 against the revised target 24
        ("PENDATAAN", "capaian_pendataan", None, Decimal(18) * 100 / 24),
        ("GEN-RASIO", "rasio", {"pembilang": "koperasi_aktif", "penyebut": "koperasi"}, Decimal(60)),
        ("GEN-JUMLAH", "jumlah", {"ukuran": "koperasi_modal_sendiri"}, Decimal(360)),
    ]
    ids = {}
    for kode, formula, parameter, _ in cases:
        ids[kode] = await registry_indikator(client, dinas, sid, kode, formula, parameter)
    got = {}
    for kode, *_ in cases:
        r = await client.get(f"{API}/{ids[kode]}/realisasi/16/2022", headers=auth(dinas))
        assert r.status_code == 200, r.text
        got[kode] = r.json()
    for kode, _, _, expected in cases:
        assert abs(Decimal(got[kode]["nilai"]) - expected) < Decimal("1e-20"), (kode, got[kode])
    assert got["MODAL"]["komponen"] == {"2022": {"koperasi_modal": "540"}, "2021": {"koperasi_modal": "600"}}
    # as of a date before the revision, the first target (30) is in force
    r = await client.get(f"{API}/{ids['PENDATAAN']}/realisasi/16/2022", params={"as_of": "2022-05-01"}, headers=auth(dinas))
    assert Decimal(r.json()["nilai"]) == 60
    # jumlah of a rupiah term is in rupiah
    assert (await client.get(f"{API}/{ids['GEN-JUMLAH']}", headers=auth(dinas))).json()["satuan"] == "rupiah"
    # a kabkota-level indicator counts that kabkota only
    kab = await sasaran(client, dinas, pemilik="16", kode="S-KAB", tujuan=False)
    kid = await registry_indikator(client, dinas, kab, "KOP-KAB", "persentase_koperasi_aktif", level="kabkota")
    r = await client.get(f"{API}/{kid}/realisasi/16.71/2022", headers=auth(dinas))
    assert r.json()["komponen"] == {"2022": {"koperasi_aktif": "0", "koperasi": "2"}}
    assert r.json()["nilai"] == "0"
    # growth with nothing in the year before: no realisasi rather than a made-up one
    r = await client.get(f"{API}/{ids['MODAL']}/realisasi/16/2021", headers=auth(dinas))
    assert r.json()["nilai"] is None
    # the whole table comes from one pass
    doc = rows_by_kode(await lkjip(client, plain_admin))
    assert doc["NIK"]["realisasi"] == "60" and doc["VOL"]["realisasi"] == "-32.5"


# ---------------------------------------------------------------------------------------------
# Definitions: validation and scope


def _without_times(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k not in ("dibuat_pada", "diperbarui_pada", "diubah_pada")}


def _at(doc: dict, field: str) -> dt.datetime:
    return dt.datetime.fromisoformat(doc[field])


async def test_definitions_crud(client, dinas):
    sid = await sasaran(client, dinas)
    iid = await indikator(client, dinas, sid, "IKU-1")
    r = await client.patch(f"{API}/{iid}", json={"nama": "Persentase koperasi sehat", "polaritas": "turun"}, headers=auth(dinas))
    assert r.status_code == 200, r.text
    patched = r.json()
    assert _without_times(patched) == {
        "id": iid,
        "pemilik": "16",
        "kode": "IKU-1",
        "nama": "Persentase koperasi sehat",
        "jenis": "iku",
        "sasaran_id": sid,
        "satuan": "persen",
        "polaritas": "turun",
        "level": "provinsi",
        "sumber": "manual",
        "formula": None,
        "parameter": {},
        "renstra_mulai": 2019,
        "renstra_akhir": 2023,
        "aktif": True,
        "dibuat_oleh": "dinas-sumsel",
    }
    assert _at(patched, "diperbarui_pada") > _at(patched, "dibuat_pada")
    items = (await client.get(API, params={"pemilik": "16"}, headers=auth(dinas))).json()["items"]
    assert items == [patched]
    r = await client.patch(f"{API}/{iid}", json={"aktif": False}, headers=auth(dinas))
    assert r.status_code == 200, r.text
    retired = r.json()
    assert _without_times(retired) == {**_without_times(patched), "aktif": False}
    assert retired["dibuat_pada"] == patched["dibuat_pada"]
    assert _at(retired, "diperbarui_pada") > _at(patched, "diperbarui_pada")
    assert (await lkjip(client, dinas))["sasaran"] == []
    (before,) = (await client.get(f"{API}/sasaran", headers=auth(dinas))).json()["items"]
    tujuan_id = before["tujuan_id"]
    assert _without_times(before) == {
        "id": sid,
        "pemilik": "16",
        "tujuan_id": tujuan_id,
        "kode": "S1",
        "nama": "Meningkatnya koperasi berkualitas",
    }
    r = await client.patch(f"{API}/sasaran/{sid}", json={"tujuan_id": None, "nama": "Baru"}, headers=auth(dinas))
    assert r.status_code == 200, r.text
    assert _without_times(r.json()) == {**_without_times(before), "tujuan_id": None, "nama": "Baru"}
    assert r.json()["dibuat_pada"] == before["dibuat_pada"]
    assert (await client.get(f"{API}/sasaran", headers=auth(dinas))).json()["items"] == [r.json()]
    # the detached tujuan is still there, unchanged
    (tujuan,) = (await client.get(f"{API}/tujuan", headers=auth(dinas))).json()["items"]
    assert _without_times(tujuan) == {"id": tujuan_id, "pemilik": "16", "kode": "TS1", "nama": "Tujuan Meningkatnya koperasi berkualitas"}
    assert tujuan["diperbarui_pada"] == tujuan["dibuat_pada"]
    assert tujuan["diubah_pada"] == tujuan["diperbarui_pada"]  # the old name, for one release
    r = await client.patch(f"{API}/tujuan/{tujuan_id}", json={"nama": "Tujuan baru"}, headers=auth(dinas))
    assert r.status_code == 200, r.text
    assert _without_times(r.json()) == {**_without_times(tujuan), "nama": "Tujuan baru"}
    assert r.json()["dibuat_pada"] == tujuan["dibuat_pada"]
    assert _at(r.json(), "diperbarui_pada") > _at(tujuan, "diperbarui_pada")
    assert (await client.get(f"{API}/tujuan", headers=auth(dinas))).json()["items"] == [r.json()]
    formula = (await client.get(f"{API}/formula", headers=auth(dinas))).json()
    assert {"persentase_koperasi_aktif", "capaian_pendataan", "pertumbuhan_modal_koperasi"} <= {f["kode"] for f in formula["formula"]}


async def test_bad_input_names_the_field(client, dinas):
    sid = await sasaran(client, dinas)
    iid = await indikator(client, dinas, sid, "IKU-1")

    async def field(method, path, body=None):
        r = await client.request(method, API + path, json=body, headers=auth(dinas))
        return r.status_code, sorted(e["field"] for e in r.json().get("errors", []))

    assert await field("PUT", f"/{iid}/target/16/2022", {"nilai": "7,34"}) == (422, ["nilai"])
    assert await field("PUT", f"/{iid}/target/16/2022", {"nilai": "NaN"}) == (422, ["nilai"])
    assert await field("PUT", f"/{iid}/target/16/2022", {"nilai": True}) == (422, ["nilai"])
    assert await field("PUT", f"/{iid}/target/16/2022", {"nilai": "1e40"}) == (422, ["nilai"])
    assert await field("PUT", f"/{iid}/realisasi/16/2022", {"nilai": "1"}) == (422, ["sumber"])
    assert await field("PUT", f"/{iid}/target/16.07/2022", {"nilai": "1"}) == (422, ["kode_wilayah"])
    assert await field("PUT", f"/{iid}/target/16.07.01/2022", {"nilai": "1"}) == (422, ["kode_wilayah"])
    assert await field("PUT", f"/{iid}/target/16/1999", {"nilai": "1"}) == (422, ["tahun"])
    assert (await field("PUT", "/9999/target/16/2022", {"nilai": "1"}))[0] == 404
    base = {"pemilik": "16", "kode": "N", "nama": "n", "sasaran_id": sid, "polaritas": "naik", "renstra_mulai": 2019, "renstra_akhir": 2023}
    assert await field("POST", "", {**base, "sumber": "registry", "formula": "rahasia"}) == (422, ["formula"])
    assert await field(
        "POST", "", {**base, "sumber": "registry", "formula": "jumlah_umkm", "parameter": {"skala": ["raksasa"], "x": 1}}
    ) == (422, ["parameter.skala", "parameter.x"])
    assert await field(
        "POST",
        "",
        {**base, "sumber": "registry", "formula": "rasio", "parameter": {"pembilang": "koperasi; DROP TABLE x", "penyebut": "koperasi"}},
    ) == (422, ["parameter.pembilang"])
    assert await field("POST", "", {**base, "sumber": "registry", "formula": "jumlah_umkm", "satuan": "persen"}) == (422, ["satuan"])
    assert await field("POST", "", {**base, "sumber": "manual"}) == (422, ["satuan"])
    assert await field("POST", "", {**base, "sumber": "manual", "satuan": "unit", "level": "nasional"}) == (422, ["level"])
    assert await field("POST", "", {**base, "sumber": "manual", "satuan": "unit", "pemilik": "99"}) == (422, ["pemilik"])
    assert await field("POST", "", {**base, "sumber": "manual", "satuan": "unit", "renstra_akhir": 2018}) == (422, ["renstra_akhir"])
    assert await field("POST", "", {**base, "sumber": "manual", "satuan": "unit", "polaritas": "atas"}) == (422, ["polaritas"])
    assert await field("POST", "", {**base, "kode": "IKU-1", "sumber": "manual", "satuan": "unit"}) == (409, ["kode"])
    other = await sasaran(client, dinas, pemilik="16.07", kode="S-K", tujuan=False)
    assert await field("POST", "", {**base, "sasaran_id": other, "sumber": "manual", "satuan": "unit"}) == (422, ["sasaran_id"])
    assert await field("POST", "/sasaran", {"pemilik": "16", "kode": "S9", "nama": "x", "tujuan_id": 999}) == (422, ["tujuan_id"])
    assert await field("PATCH", f"/{iid}", {"nama": None}) == (422, ["nama"])
    assert await field("PATCH", f"/{iid}", {"pemilik": "17"}) == (422, ["pemilik"])
    r = await client.get(API + "/capaian", params={"tahun": 2022, "wilayah": "16.07.01"}, headers=auth(dinas))
    assert_problem(r, "invalid-input")
    assert r.json()["errors"][0]["field"] == "wilayah"
    r = await client.get(API + "/capaian", params={"tahun": "dua"}, headers=auth(dinas))
    assert_problem(r, "invalid-input")
    assert r.json()["errors"][0]["field"] == "tahun"


async def test_scope_rules(client, keys, dinas, plain_admin):
    sid = await sasaran(client, dinas)
    iid = await indikator(client, dinas, sid, "IKU-1")
    await put(client, dinas, f"/{iid}/target/16/2022", {"nilai": "5"})
    kab = await keys.make("dinas", "16.07", name="dinas-banyuasin")
    jambi = await keys.make("dinas", "15", name="dinas-jambi")
    enum = await keys.make("enumerator", "16.07")
    verif = await keys.make("verifikator", "16")
    walidata = await keys.make("walidata", None)

    async def status(key, method, path, body=None, **params):
        return (await client.request(method, API + path, json=body, params=params, headers=auth(key))).status_code

    # a kabkota dinas sees its provinsi's indicators but may not change them or read provinsi values
    assert await status(kab, "GET", f"/{iid}") == 200
    assert await status(kab, "PUT", f"/{iid}/target/16/2022", {"nilai": "1"}) == 403
    assert await status(kab, "PATCH", f"/{iid}", {"nama": "x"}) == 403
    assert await status(kab, "GET", "/capaian", tahun=2022, wilayah="16") == 403
    assert await status(kab, "GET", "/capaian", tahun=2022) == 200  # defaults to its own wilayah
    assert await status(kab, "POST", "/sasaran", {"pemilik": "16", "kode": "X", "nama": "x"}) == 403
    assert await status(kab, "POST", "/sasaran", {"pemilik": "16.07", "kode": "X", "nama": "x"}) == 201
    # another provinsi neither sees nor touches it
    assert await status(jambi, "GET", f"/{iid}") == 404
    assert await status(jambi, "PUT", f"/{iid}/target/16/2022", {"nilai": "1"}) == 404
    assert await status(jambi, "GET", "/capaian", tahun=2022, wilayah="16") == 403
    assert await status(jambi, "PUT", "/predikat/16", {"bands": [{"batas_bawah": None, "predikat": "x"}]}) == 403
    assert [i["kode"] for i in (await client.get(API, headers=auth(jambi))).json()["items"]] == []
    # only admin (no scope) owns nasional
    assert await status(dinas, "POST", "/tujuan", {"pemilik": "nasional", "kode": "T", "nama": "t"}) == 403
    assert await status(plain_admin, "POST", "/tujuan", {"pemilik": "nasional", "kode": "T", "nama": "t"}) == 201
    # readers that are not dinas: verifikator and walidata read, never write; enumerators neither
    assert await status(verif, "GET", "/capaian", tahun=2022, wilayah="16") == 200
    assert await status(verif, "PUT", f"/{iid}/target/16/2022", {"nilai": "1"}) == 403
    assert await status(walidata, "GET", "/capaian", tahun=2022, wilayah="16") == 200
    assert await status(walidata, "GET", f"/{iid}/target/16") == 200
    assert await status(walidata, "POST", "/tujuan", {"pemilik": "16", "kode": "W", "nama": "w"}) == 403
    assert await status(enum, "GET", "/capaian", tahun=2022, wilayah="16.07") == 403
    assert await status(enum, "GET", "/formula") == 403
    # admin everywhere
    assert await status(plain_admin, "PUT", f"/{iid}/target/16/2022", {"nilai": "6"}) == 200
    assert await status(plain_admin, "GET", "/capaian", tahun=2022, wilayah="nasional") == 200
    r = await client.get(API + "/capaian", params={"tahun": 2022}, headers={"Authorization": "Bearer nope"})
    assert_problem(r, "unauthorized")


async def test_lkjip_lists_indicators_of_the_wilayah_and_its_ancestors(client, dinas, plain_admin, keys):
    kab = await keys.make("dinas", "16.07", name="dinas-banyuasin")
    prov = await sasaran(client, dinas, kode="S-PROV")
    await indikator(client, dinas, prov, "PROV-LEVEL")
    per_kab = await indikator(client, dinas, prov, "PROV-PER-KAB", level="kabkota")
    nas = await sasaran(client, plain_admin, pemilik="nasional", kode="S-NAS", tujuan=False)
    await indikator(client, plain_admin, nas, "NAS-PER-KAB", pemilik="nasional", level="kabkota")
    own = await sasaran(client, kab, pemilik="16.07", kode="S-KAB", tujuan=False)
    await indikator(client, kab, own, "KAB", pemilik="16.07")
    await put(client, dinas, f"/{per_kab}/target/16.07/2022", {"nilai": "10"})
    doc = await lkjip(client, kab, wilayah="16.07")
    assert [(s["pemilik"], [i["kode"] for i in s["indikator"]]) for s in doc["sasaran"]] == [
        ("nasional", ["NAS-PER-KAB"]),
        ("16", ["PROV-PER-KAB"]),
        ("16.07", ["KAB"]),
    ]
    assert rows_by_kode(doc)["PROV-PER-KAB"]["target"] == "10"
    only_own = await lkjip(client, kab, wilayah="16.07", pemilik="16.07")
    assert [s["kode"] for s in only_own["sasaran"]] == ["S-KAB"]
    r = await client.get(API + "/capaian", params={"tahun": 2022, "wilayah": "16.07", "pemilik": "17"}, headers=auth(kab))
    assert_problem(r, "invalid-input")
    assert r.json()["errors"][0]["field"] == "pemilik"
    assert [i["kode"] for s in (await lkjip(client, dinas, wilayah="16"))["sasaran"] for i in s["indikator"]] == ["PROV-LEVEL"]


async def test_ids_out_of_range_are_client_errors(client, dinas):
    sid = await sasaran(client, dinas)
    huge = 2**70
    for method, path, body in (
        ("GET", f"/{huge}", None),
        ("PATCH", f"/sasaran/{huge}", {"nama": "x"}),
        ("POST", "/sasaran", {"pemilik": "16", "kode": "Z", "nama": "z", "tujuan_id": huge}),
        ("PATCH", f"/sasaran/{sid}", {"tujuan_id": huge}),
    ):
        r = await client.request(method, API + path, json=body, headers=auth(dinas))
        assert_problem(r, "invalid-input")
