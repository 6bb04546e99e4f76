"""ODS aggregates: keragaan koperasi, UMKM by skala and any grouping; exact rupiah sums, the
chosen states only, no personal data, and each key sees only its scope."""

from __future__ import annotations

import pytest

from tests.support.common import auth
from tests.support.factories import koperasi, umkm
from tests.support.helpers import report_csv
from tests.support.problems import assert_problem

BIG = 2**53 + 1  # a JSON number above 2^53 would be rounded by JavaScript clients


async def _desa(pg, kabkota: str) -> str:
    return await pg.fetchval(
        "SELECT min(kode) FROM wilayah WHERE level = 4 AND kode_provinsi = $1 "
        "AND parent_kode IN (SELECT kode FROM wilayah WHERE parent_kode = $2)",
        kabkota[:2],
        kabkota,
    )


async def _post(client, key, pg, items: list[tuple[dict, str]]) -> None:
    """Posts records the way enumerator apps do, then decides them in SQL (verification is
    another module's job): each item is (record, status)."""
    r = await client.post("/api/v1/submissions/batch", json={"items": [i for i, _ in items]}, headers=auth(key))
    assert r.status_code == 200 and r.json()["created"] == len(items), r.text
    for rec, status in items:
        if status != "masuk":
            await pg.execute("UPDATE submissions SET status = $1 WHERE submission_id = $2::uuid", status, rec["submission_id"])


@pytest.fixture
async def koperasi_sumsel(client, admin, pg):
    plg, bya, bkl = await _desa(pg, "16.71"), await _desa(pg, "16.07"), await _desa(pg, "17.71")
    base = dict(
        anggota_laki_laki=0,
        anggota_perempuan=0,
        manajer_laki_laki=0,
        manajer_perempuan=0,
        karyawan_laki_laki=0,
        karyawan_perempuan=0,
        modal_sendiri=0,
        modal_luar=0,
        volume_usaha=0,
        shu=0,
        tahun_rat_terakhir=...,
    )
    await _post(
        client,
        admin,
        pg,
        [
            (
                koperasi(
                    **{
                        **base,
                        "kode_wilayah": plg,
                        "aktif": True,
                        "tahun_rat_terakhir": 2022,
                        "anggota_laki_laki": 100,
                        "anggota_perempuan": 50,
                        "manajer_laki_laki": 1,
                        "karyawan_laki_laki": 2,
                        "karyawan_perempuan": 2,
                        "modal_sendiri": BIG,
                        "modal_luar": 1,
                        "volume_usaha": 10,
                        "shu": -5,
                    }
                ),
                "diterima",
            ),
            (
                koperasi(
                    **{
                        **base,
                        "kode_wilayah": plg,
                        "aktif": False,
                        "tahun_rat_terakhir": 2021,
                        "anggota_laki_laki": 10,
                        "anggota_perempuan": 20,
                        "manajer_perempuan": 1,
                        "modal_sendiri": BIG,
                        "modal_luar": 2,
                        "volume_usaha": 20,
                        "shu": 7,
                    }
                ),
                "diterima",
            ),
            (
                koperasi(
                    **{
                        **base,
                        "kode_wilayah": bya,
                        "aktif": True,
                        "tahun_rat_terakhir": 2023,
                        "anggota_laki_laki": 5,
                        "anggota_perempuan": 5,
                        "modal_sendiri": 1000,
                    }
                ),
                "diterima",
            ),
            (
                koperasi(
                    **{
                        **base,
                        "kode_wilayah": plg,
                        "kewenangan": "provinsi",
                        "aktif": True,
                        "tahun_rat_terakhir": 2022,
                        "anggota_laki_laki": 1000,
                        "anggota_perempuan": 900,
                        "manajer_laki_laki": 1,
                        "manajer_perempuan": 1,
                        "modal_luar": 500,
                    }
                ),
                "diterima",
            ),
            (
                koperasi(
                    **{**base, "kode_wilayah": bya, "kewenangan": "nasional", "aktif": False, "anggota_perempuan": 3, "volume_usaha": 99}
                ),
                "diterima",
            ),
            (koperasi(**{**base, "kode_wilayah": plg, "aktif": True, "anggota_laki_laki": 7}), "masuk"),
            (koperasi(**{**base, "kode_wilayah": plg, "aktif": True, "anggota_laki_laki": 8}), "ditolak"),
            (koperasi(**{**base, "kode_wilayah": bkl, "aktif": True, "anggota_laki_laki": 9}), "diterima"),
            (umkm(kode_wilayah=plg), "diterima"),
        ],
    )


KERAGAAN = "/api/v1/agregat/keragaan-koperasi"


def _cols(row: dict, *names) -> tuple:
    return tuple(row[n] for n in names)


ALL_COLS = (
    "koperasi_jumlah",
    "koperasi_aktif",
    "koperasi_tidak_aktif",
    "anggota_jumlah",
    "anggota_l",
    "anggota_p",
    "rat",
    "manajer_jumlah",
    "manajer_l",
    "manajer_p",
    "karyawan_jumlah",
    "karyawan_l",
    "karyawan_p",
    "modal_sendiri",
    "modal_luar",
    "volume_usaha",
    "shu",
    "persentase_aktif",
    "persen_aktif",
)


async def test_keragaan_koperasi_every_column(client, keys, koperasi_sumsel):
    dinas = await keys.make("dinas", "16")
    r = await client.get(KERAGAAN, params={"periode": "2022", "wilayah": "16"}, headers=auth(dinas))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["status"] == ["diterima"]
    assert [row["kode"] for row in doc["rows"]] == [
        "16.01",
        "16.02",
        "16.03",
        "16.04",
        "16.05",
        "16.06",
        "16.07",
        "16.08",
        "16.09",
        "16.10",
        "16.11",
        "16.12",
        "16.13",
        "16.71",
        "16.72",
        "16.73",
        "16.74",
    ]
    rows = {row["kode"]: row for row in doc["rows"]}
    plg = rows["16.71"]
    assert (plg["no"], plg["nama"]) == (14, "Kota Palembang")
    assert _cols(plg, *ALL_COLS) == (2, 1, 1, 180, 110, 70, 1, 2, 1, 1, 4, 2, 2, str(2 * BIG), "3", "30", "2", "0.50000000", "50,00%")
    assert _cols(rows["16.07"], *ALL_COLS) == (1, 1, 0, 10, 5, 5, 1, 0, 0, 0, 0, 0, 0, "1000", "0", "0", "0", "1.00000000", "100,00%")
    assert _cols(rows["16.02"], *ALL_COLS) == (0,) * 13 + ("0", "0", "0", "0", None, None)
    bp, bn, total = doc["binaan_provinsi"], doc["binaan_nasional"], doc["jumlah"]
    assert (bp["nama"], bp["no"], bp["kode"]) == ("Binaan Provinsi", None, None)
    assert _cols(bp, *ALL_COLS) == (1, 1, 0, 1900, 1000, 900, 1, 2, 1, 1, 0, 0, 0, "0", "500", "0", "0", "1.00000000", "100,00%")
    assert _cols(bn, *ALL_COLS) == (1, 0, 1, 3, 0, 3, 0, 0, 0, 0, 0, 0, 0, "0", "0", "99", "0", "0.00000000", "0,00%")
    assert total["nama"] == "Jumlah"
    assert _cols(total, *ALL_COLS) == (
        5,
        3,
        2,
        2093,
        1115,
        978,
        3,
        4,
        2,
        2,
        4,
        2,
        2,
        str(2 * BIG + 1000),
        "503",
        "129",
        "2",
        "0.60000000",
        "60,00%",
    )

    # other states on request; the other provinsi never
    r = await client.get(KERAGAAN, params={"periode": "2022", "wilayah": "16", "status": "diterima,masuk"}, headers=auth(dinas))
    assert r.json()["status"] == ["diterima", "masuk"]
    assert r.json()["jumlah"]["koperasi_jumlah"] == 6 and r.json()["jumlah"]["anggota_l"] == 1122
    r = await client.get(
        KERAGAAN, params=[("periode", "2022"), ("wilayah", "16"), ("status", "ditolak"), ("status", "masuk")], headers=auth(dinas)
    )
    assert r.json()["jumlah"]["koperasi_jumlah"] == 2

    r = await client.get(KERAGAAN, params={"periode": "2022", "wilayah": "16", "format": "csv"}, headers=auth(dinas))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = report_csv(r)
    assert table[0][:4] == ["No", "Kode", "Kabupaten/Kota", "Koperasi Jumlah"] and table[0][-1] == "Persentase Aktif"
    assert table[14] == [
        "14",
        "16.71",
        "Kota Palembang",
        "2",
        "1",
        "1",
        "180",
        "110",
        "70",
        "1",
        "2",
        "1",
        "1",
        "4",
        "2",
        "2",
        "18.014.398.509.481.986",
        "3",
        "30",
        "2",
        "50,00%",
    ]
    assert table[2][-1] == "-"
    assert [t[2] for t in table[-3:]] == ["Binaan Provinsi", "Binaan Nasional", "Jumlah"]
    assert table[-1][3:6] == ["5", "3", "2"] and table[-1][-1] == "60,00%"
    assert len(table) == 1 + 17 + 3


async def test_keragaan_for_the_nation_and_a_kabkota(client, keys, koperasi_sumsel, pg):
    walidata = await keys.make("walidata")
    nas = (await client.get(KERAGAAN, params={"periode": "2022"}, headers=auth(walidata))).json()
    assert len(nas["rows"]) == 38
    rows = {row["kode"]: row for row in nas["rows"]}
    assert rows["16"]["koperasi_jumlah"] == 3 and rows["17"]["koperasi_jumlah"] == 1
    assert nas["binaan_provinsi"]["koperasi_jumlah"] == 1 and nas["jumlah"]["koperasi_jumlah"] == 6
    r = await client.get(KERAGAAN, params={"periode": "2022", "wilayah": "16.71", "format": "csv"}, headers=auth(walidata))
    table = report_csv(r)
    assert table[0][2] == "Kecamatan"
    assert table[-1][3] == "3"  # two kabkota koperasi + one Binaan Provinsi located in Palembang
    kec = await pg.fetchval("SELECT left($1, 8)", await _desa(pg, "16.71"))
    doc = (await client.get(KERAGAAN, params={"periode": "2022", "wilayah": "16.71"}, headers=auth(walidata))).json()
    assert next(r for r in doc["rows"] if r["kode"] == kec)["koperasi_jumlah"] == 2
    r = await client.get(KERAGAAN, params={"periode": "2022", "wilayah": kec}, headers=auth(walidata))
    assert_problem(r, "invalid-input")
    assert r.json()["errors"][0]["field"] == "wilayah"


UMKM = "/api/v1/agregat/umkm"


async def test_umkm_by_skala(client, admin, keys, pg):
    plg = await _desa(pg, "16.71")
    nib = "1234567890123"
    await _post(
        client,
        admin,
        pg,
        [
            (
                umkm(
                    kode_wilayah=plg,
                    modal_usaha=25_000_000,
                    hasil_penjualan_tahunan=100_000_000,
                    aset=BIG,
                    nib=nib,
                    tenaga_kerja_laki_laki=1,
                    tenaga_kerja_perempuan=2,
                    platform_digital=True,
                ),
                "diterima",
            ),
            (
                umkm(
                    kode_wilayah=plg,
                    modal_usaha=1_000_000_000,
                    hasil_penjualan_tahunan=...,
                    tenaga_kerja_laki_laki=0,
                    tenaga_kerja_perempuan=1,
                    platform_digital=False,
                ),
                "diterima",
            ),
            (
                umkm(
                    kode_wilayah=plg,
                    modal_usaha=...,
                    hasil_penjualan_tahunan=2_000_000_000,
                    aset=BIG,
                    tenaga_kerja_laki_laki=3,
                    tenaga_kerja_perempuan=0,
                    platform_digital=True,
                ),
                "diterima",
            ),
            (
                umkm(
                    kode_wilayah=plg,
                    modal_usaha=5_000_000_000,
                    hasil_penjualan_tahunan=9_000_000_000,
                    nib=nib,
                    tenaga_kerja_laki_laki=4,
                    tenaga_kerja_perempuan=5,
                    platform_digital=False,
                ),
                "diterima",
            ),
            (
                umkm(
                    kode_wilayah=plg,
                    modal_usaha=10_000_000_000,
                    hasil_penjualan_tahunan=40_000_000_000,
                    tenaga_kerja_laki_laki=10,
                    tenaga_kerja_perempuan=10,
                    nib=nib,
                    platform_digital=False,
                ),
                "diterima",
            ),
            (umkm(kode_wilayah=plg, modal_usaha=10_000_000_001), "diterima"),  # besar: not UMKM
            (umkm(kode_wilayah=plg, modal_usaha=1), "masuk"),
            (umkm(kode_wilayah=plg, modal_usaha=2), "ditolak"),
            (koperasi(kode_wilayah=plg), "diterima"),
        ],
    )
    dinas = await keys.make("dinas", "16.71")
    doc = (await client.get(UMKM, params={"periode": "2022", "wilayah": "16.71"}, headers=auth(dinas))).json()
    cols = (
        "skala_usaha",
        "nama",
        "jumlah",
        "modal_usaha",
        "hasil_penjualan",
        "aset",
        "tenaga_kerja_jumlah",
        "tenaga_kerja_l",
        "tenaga_kerja_p",
        "punya_nib",
        "platform_digital",
    )
    assert [_cols(r, *cols) for r in doc["rows"]] == [
        ("mikro", "Usaha Mikro", 3, "1025000000", "2100000000", str(2 * BIG), 7, 4, 3, 1, 2),
        ("kecil", "Usaha Kecil", 1, "5000000000", "9000000000", "0", 9, 4, 5, 1, 0),
        ("menengah", "Usaha Menengah", 1, "10000000000", "40000000000", "0", 20, 10, 10, 1, 0),
    ]
    assert _cols(doc["jumlah"], *cols) == (None, "Jumlah", 5, "16025000000", "51100000000", str(2 * BIG), 36, 18, 18, 3, 2)
    assert doc["usaha_besar"] == 1
    every = (
        await client.get(UMKM, params={"periode": "2022", "wilayah": "16.71", "status": "masuk,ditolak,diterima"}, headers=auth(dinas))
    ).json()
    assert every["rows"][0]["jumlah"] == 5
    r = await client.get(UMKM, params={"periode": "2022", "wilayah": "16.71", "format": "csv"}, headers=auth(dinas))
    table = report_csv(r)
    assert table[0][:3] == ["Skala Usaha", "Jumlah UMKM", "Modal Usaha (Rp)"]
    assert table[1] == ["Usaha Mikro", "3", "1.025.000.000", "2.100.000.000", "18.014.398.509.481.986", "7", "4", "3", "1", "2"]
    assert table[-1][0] == "Jumlah" and table[-1][1:3] == ["5", "16.025.000.000"]
    # the same records seen from the provinsi and the nation
    prov = (await client.get(UMKM, params={"periode": "2022", "wilayah": "16"}, headers=auth(admin))).json()
    nas = (await client.get(UMKM, params={"periode": "2022"}, headers=auth(admin))).json()
    assert prov["jumlah"] == nas["jumlah"] == doc["jumlah"]
    desa = (await client.get(UMKM, params={"periode": "2022", "wilayah": plg}, headers=auth(admin))).json()
    assert desa["jumlah"] == doc["jumlah"]


AGREGAT = "/api/v1/agregat"


async def test_general_grouping(client, admin, keys, pg):
    plg, bya = await _desa(pg, "16.71"), await _desa(pg, "16.07")
    records = [
        (umkm(kode_wilayah=plg, kbli="56101", modal_usaha=10, platform_digital=True), "diterima"),
        (umkm(kode_wilayah=plg, kbli="47111", modal_usaha=20, platform_digital=False), "diterima"),
        (umkm(kode_wilayah=bya, kbli="56101", modal_usaha=2_000_000_000, platform_digital=True), "diterima"),
        (umkm(kode_wilayah=bya, kbli="56101", modal_usaha=40), "masuk"),
        (koperasi(kode_wilayah=bya, aktif=False, kewenangan="kabkota", kesehatan="cukup_sehat"), "diterima"),
        (koperasi(kode_wilayah=plg, aktif=True, kewenangan="provinsi"), "diterima"),
    ]
    await _post(client, admin, pg, records)
    verif = await keys.make("verifikator", "16.07")
    dinas = await keys.make("dinas", "16")

    doc = (
        await client.get(
            AGREGAT, params={"periode": "2022", "wilayah": "16", "by": "sektor,skala_usaha", "jenis": "umkm"}, headers=auth(dinas)
        )
    ).json()
    assert doc["by"] == ["sektor", "skala_usaha"] and doc["status"] == ["diterima"]
    assert [(r["sektor"], r["skala_usaha"], r["jumlah"], r["modal_usaha"]) for r in doc["rows"]] == [
        ("G", "mikro", 1, "20"),
        ("I", "kecil", 1, "2000000000"),
        ("I", "mikro", 1, "10"),
    ]
    assert doc["jumlah"]["jumlah"] == 3 and doc["jumlah"]["modal_usaha"] == "2000000030"
    assert "anggota_l" not in doc["jumlah"]  # koperasi measures only for koperasi

    doc = (
        await client.get(
            AGREGAT,
            params=[
                ("periode", "2022"),
                ("wilayah", "16"),
                ("by", "kode_kabkota"),
                ("by", "jenis"),
                ("status", "diterima"),
                ("status", "masuk"),
            ],
            headers=auth(dinas),
        )
    ).json()
    assert [(r["kode_kabkota"], r["nama_kabkota"], r["jenis"], r["jumlah"]) for r in doc["rows"]] == [
        ("16.07", "Kabupaten Banyuasin", "koperasi", 1),
        ("16.07", "Kabupaten Banyuasin", "umkm", 2),
        ("16.71", "Kota Palembang", "koperasi", 1),
        ("16.71", "Kota Palembang", "umkm", 2),
    ]
    assert doc["jumlah"]["jumlah"] == 6

    doc = (
        await client.get(
            AGREGAT, params={"periode": "2022", "wilayah": "16.07", "by": "aktif,kesehatan", "jenis": "koperasi"}, headers=auth(verif)
        )
    ).json()
    assert [(r["aktif"], r["kesehatan"], r["jumlah"], r["koperasi_aktif"]) for r in doc["rows"]] == [(False, "cukup_sehat", 1, 0)]
    r = await client.get(
        AGREGAT,
        params={"periode": "2022", "wilayah": "16", "by": "platform_digital,kode_kabkota", "jenis": "umkm", "format": "csv"},
        headers=auth(dinas),
    )
    table = report_csv(r)
    assert table[0][:4] == ["Platform Digital", "Kode Kabupaten/Kota", "Kabupaten/Kota", "Jumlah"]
    assert [t[:4] for t in table[1:]] == [
        ["tidak", "16.71", "Kota Palembang", "1"],
        ["ya", "16.07", "Kabupaten Banyuasin", "1"],
        ["ya", "16.71", "Kota Palembang", "1"],
        ["Jumlah", "", "", "3"],
    ]

    # no personal data anywhere in an aggregate, whatever the grouping
    everything = await client.get(
        AGREGAT, params={"periode": "2022", "by": "kode_desa,kbli,status", "status": "masuk,diterima,ditolak"}, headers=auth(admin)
    )
    assert everything.status_code == 200
    for rec, _ in records:
        for field in ("nik_pemilik", "nama_pemilik", "telepon", "alamat", "nama_usaha", "nama_koperasi"):
            if rec.get(field):
                assert rec[field] not in everything.text, field


@pytest.mark.parametrize(
    "params,field",
    [
        ({"periode": "2022"}, "by"),
        ({"periode": "2022", "by": "nik_pemilik"}, "by"),
        ({"periode": "2022", "by": "jenis; DROP TABLE submissions"}, "by"),
        ({"periode": "2022", "by": "jenis,jenis"}, "by"),
        ({"periode": "2022", "by": "jenis,status,sektor,kbli,aktif"}, "by"),
        ({"periode": "2022", "by": "jenis", "status": "diterima,hilang"}, "status"),
        ({"periode": "2022", "by": "jenis", "jenis": "besar"}, "jenis"),
        ({"periode": "2021x", "by": "jenis"}, "periode"),
        ({"periode": "2022", "by": "jenis", "wilayah": "99"}, "wilayah"),
    ],
)
async def test_bad_grouping_names_the_field(client, admin, params, field):
    r = await client.get(AGREGAT, params=params, headers=auth(admin))
    assert_problem(r, "invalid-input")
    assert r.json()["errors"][0]["field"] == field


@pytest.mark.parametrize("path,extra", [(KERAGAAN, {}), (UMKM, {}), (AGREGAT, {"by": "jenis"})])
async def test_aggregate_scope(client, keys, path, extra):
    cases = [
        (await keys.make("dinas", "16"), {"wilayah": "16"}, 200),
        (await keys.make("dinas", "16"), {"wilayah": "17"}, 403),
        (await keys.make("dinas", "16"), {}, 403),
        (await keys.make("dinas", "16.07"), {"wilayah": "16"}, 403),
        (await keys.make("verifikator", "16.07"), {"wilayah": "16.07"}, 200),
        (await keys.make("walidata"), {}, 200),
        (await keys.make("admin"), {"wilayah": "17"}, 200),
        (await keys.make("enumerator", "16"), {"wilayah": "16"}, 403),
    ]
    for key, params, status in cases:
        r = await client.get(path, params={"periode": "2022", **extra, **params}, headers=auth(key))
        assert r.status_code == status, (path, params, r.text)


async def test_every_documented_dimension_groups_in_json_and_csv(client, admin, pg):
    from app.aggregates.queries import DIMENSIONS

    plg = await _desa(pg, "16.71")
    await _post(client, admin, pg, [(umkm(kode_wilayah=plg), "diterima"), (koperasi(kode_wilayah=plg), "diterima")])
    for dim in DIMENSIONS:
        doc = (await client.get(AGREGAT, params={"periode": "2022", "by": dim}, headers=auth(admin))).json()
        assert sum(r["jumlah"] for r in doc["rows"]) == doc["jumlah"]["jumlah"] == 2, dim
        r = await client.get(AGREGAT, params={"periode": "2022", "by": dim, "format": "csv"}, headers=auth(admin))
        table = report_csv(r)
        assert r.status_code == 200 and table[-1][0] == "Jumlah" and len(set(map(len, table))) == 1, dim
