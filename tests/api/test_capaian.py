"""Capaian pendataan: the capaian pendataan table (docs/domain.md) from live data, exact, with ratios that can
never disagree with their own counts."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from fractions import Fraction

import pytest

from tests.support.bulk import insert_records
from tests.support.common import auth
from tests.support.problems import assert_problem

URL = "/api/v1/capaian-pendataan"

# docs/domain.md, Tabel 2.8: kabkota, target, data masuk, diterima, ditolak, and the ratios the
# dinas printed (columns 10, 11, 12). Belum diverifikasi is what makes masuk add up.
SUMSEL = [
    ("16.07", "Kabupaten Banyuasin", 41_910, 41_675, 39_345, 335, "99,44%", "93,88%", "94,41%"),
    ("16.03", "Kabupaten Muara Enim", 60_300, 62_137, 60_332, 246, "103,05%", "100,05%", "97,10%"),
    ("16.06", "Kabupaten Musi Banyuasin", 22_910, 24_480, 23_624, 56, "106,85%", "103,12%", "96,50%"),
    ("16.05", "Kabupaten Musi Rawas", 22_910, 18_357, 17_660, 331, "80,13%", "77,08%", "96,20%"),
    ("16.10", "Kabupaten Ogan Ilir", 42_650, 42_706, 41_846, 101, "100,13%", "98,11%", "97,99%"),
    ("16.02", "Kabupaten Ogan Komering Ilir", 29_910, 21_386, 21_052, 40, "71,50%", "70,38%", "98,44%"),
    ("16.01", "Kabupaten Ogan Komering Ulu", 33_910, 38_114, 37_163, 81, "112,40%", "109,59%", "97,50%"),
    ("16.71", "Kota Palembang", 82_910, 85_015, 80_903, 569, "102,54%", "97,58%", "95,16%"),
]


def _exact(ratio: str | None, num: int, den: int) -> bool:
    """The 8-place string is the fraction rounded half-up."""
    return ratio is not None and abs(Fraction(Decimal(ratio)) - Fraction(num, den)) <= Fraction(1, 2 * 10**8)


def _check_invariant(row: dict) -> None:
    assert row["masuk"] == row["belum_diverifikasi"] + row["diterima"] + row["ditolak"], row
    assert row["total_terverifikasi"] == row["diterima"] + row["ditolak"], row


async def _recount(pg, periode="2022") -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in await pg.fetch("SELECT kode_kabkota, status, count(*) AS n FROM submissions WHERE periode = $1 GROUP BY 1, 2", periode):
        out.setdefault(r["kode_kabkota"], {"masuk": 0, "diterima": 0, "ditolak": 0})[r["status"]] = r["n"]
    return out


async def _put(client, key, kode, target, dasar="Kepdep 63/2022", mulai="2022-08-01"):
    r = await client.put(
        f"/api/v1/targets/2022/{kode}", json={"target": target, "dasar_hukum": dasar, "berlaku_mulai": mulai}, headers=auth(key)
    )
    assert r.status_code == 201, r.text  # each call here sets a new revision


async def test_sumatera_selatan_2022_rebuilt_to_the_last_printed_digit(client, admin, keys, pg):
    await insert_records(pg, [(kode, masuk, diterima, ditolak) for kode, _, _, masuk, diterima, ditolak, *_ in SUMSEL])
    for kode, _, target, *_ in SUMSEL:
        await _put(client, admin, kode, target)
    await _put(client, admin, "16", 489_000, "Kepdep 53/2022", "2022-04-01")
    await _put(client, admin, "16", 337_410, "Kepdep 63/2022", "2022-08-01")

    dinas = await keys.make("dinas", "16", name="dinas-kumkm-sumsel")
    r = await client.get(URL, params={"periode": "2022", "wilayah": "16", "as_of": "2022-12-31"}, headers=auth(dinas))
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["tingkat"] == "kabkota" and doc["wilayah"] == {"kode": "16", "nama": "Sumatera Selatan", "level": 1}
    assert doc["target_wilayah"]["target"] == 337_410
    rows = {row["kode"]: row for row in doc["rows"]}
    # every kabupaten/kota of the provinsi in code order, also the nine with no target and no record yet
    kabkota = await pg.fetch("SELECT kode, nama FROM wilayah WHERE parent_kode = '16' ORDER BY kode")
    assert [(r["kode"], r["nama"]) for r in doc["rows"]] == [(k["kode"], k["nama"]) for k in kabkota]
    assert len(kabkota) == 17
    for kode in set(rows) - {k for k, *_ in SUMSEL}:
        assert {k: v for k, v in rows[kode].items() if k not in ("kode", "nama")} == {
            "target": None,
            "masuk": 0,
            "belum_diverifikasi": 0,
            "diterima": 0,
            "ditolak": 0,
            "total_terverifikasi": 0,
            "masuk_vs_target": None,
            "diterima_vs_target": None,
            "diterima_vs_masuk": None,
            "persen": {"masuk_vs_target": None, "diterima_vs_target": None, "diterima_vs_masuk": None},
        }
    # rows without a target have no records either: the Jumlah target covers every record
    assert doc["rows_tanpa_target"] == 9 and doc["target_sebagian"] is False
    assert doc["target_jumlah_dari"] == "baris"
    recount = await _recount(pg)
    for kode, nama, target, masuk, diterima, ditolak, p10, p11, p12 in SUMSEL:
        row = rows[kode]
        _check_invariant(row)
        assert (row["nama"], row["target"], row["masuk"], row["diterima"], row["ditolak"]) == (nama, target, masuk, diterima, ditolak)
        assert row["belum_diverifikasi"] == masuk - diterima - ditolak == recount[kode]["masuk"]
        assert row["diterima"] == recount[kode]["diterima"] and row["ditolak"] == recount[kode]["ditolak"]
        assert row["persen"] == {"masuk_vs_target": p10, "diterima_vs_target": p11, "diterima_vs_masuk": p12}
        assert _exact(row["masuk_vs_target"], masuk, target)
        assert _exact(row["diterima_vs_target"], diterima, target)
        assert _exact(row["diterima_vs_masuk"], diterima, masuk)
    assert rows["16.03"]["masuk_vs_target"] == "1.03046434"  # above 100%: shown as it is

    total = doc["jumlah"]
    _check_invariant(total)
    assert (
        total["kode"],
        total["nama"],
        total["target"],
        total["masuk"],
        total["belum_diverifikasi"],
        total["diterima"],
        total["ditolak"],
        total["total_terverifikasi"],
    ) == (None, "Jumlah", 337_410, 333_870, 10_186, 321_925, 1_759, 323_684)
    # the correct Jumlah ratios, not the hand-made table's 95,93% and 95,41%
    assert total["persen"] == {"masuk_vs_target": "98,95%", "diterima_vs_target": "95,41%", "diterima_vs_masuk": "96,42%"}
    assert (total["masuk_vs_target"], total["diterima_vs_target"], total["diterima_vs_masuk"]) == ("0.98950831", "0.95410628", "0.96422260")

    r = await client.get(URL, params={"periode": "2022", "wilayah": "16", "as_of": "2022-12-31", "format": "csv"}, headers=auth(dinas))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == 'attachment; filename="capaian-pendataan-2022-16.csv"'
    assert r.content.startswith(b"\xef\xbb\xbf")  # the BOM: spreadsheet programs read UTF-8
    table = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert table[0] == [
        "No",
        "Kode",
        "Kabupaten/Kota",
        "Target",
        "Data Masuk",
        "Belum Diverifikasi",
        "Diterima",
        "Ditolak",
        "Total Terverifikasi",
        "Masuk vs Target",
        "Diterima vs Target",
        "Diterima vs Masuk",
    ]
    assert table[7] == [
        "7",
        "16.07",
        "Kabupaten Banyuasin",
        "41.910",
        "41.675",
        "1.995",
        "39.345",
        "335",
        "39.680",
        "99,44%",
        "93,88%",
        "94,41%",
    ]
    assert table[2] == [
        "2",
        "16.02",
        "Kabupaten Ogan Komering Ilir",
        "29.910",
        "21.386",
        "294",
        "21.052",
        "40",
        "21.092",
        "71,50%",
        "70,38%",
        "98,44%",
    ]
    assert table[4] == ["4", "16.04", kabkota[3]["nama"], "-", "0", "0", "0", "0", "0", "-", "-", "-"]
    assert table[-1] == ["", "", "Jumlah", "337.410", "333.870", "10.186", "321.925", "1.759", "323.684", "98,95%", "95,41%", "96,42%"]
    assert len(table) == 1 + 17 + 1

    # The nation, before and after Kepdep 63/2022: the provinsi row takes the target in force.
    walidata = await keys.make("walidata")
    for as_of, target, persen_masuk in (("2022-05-01", 489_000, "68,28%"), ("2022-09-01", 337_410, "98,95%")):
        nas = (await client.get(URL, params={"periode": "2022", "as_of": as_of}, headers=auth(walidata))).json()
        assert nas["tingkat"] == "provinsi" and nas["wilayah"] is None
        assert len(nas["rows"]) == 38  # every provinsi
        (sumsel,) = [r for r in nas["rows"] if r["masuk"] or r["target"] is not None]
        assert (sumsel["kode"], sumsel["nama"], sumsel["target"], sumsel["masuk"]) == ("16", "Sumatera Selatan", target, 333_870)
        assert sumsel["persen"]["masuk_vs_target"] == persen_masuk
        assert nas["jumlah"]["target"] == target
        prov = (await client.get(URL, params={"periode": "2022", "wilayah": "16", "as_of": as_of}, headers=auth(walidata))).json()
        assert prov["target_wilayah"]["target"] == target
        # kabkota allocations are dated 2022-08-01: before that none is in force, and the Jumlah row
        # takes the provinsi's own target (Kepdep 53/2022)
        assert prov["jumlah"]["target"] == 337_410 if as_of == "2022-09-01" else 489_000
        assert prov["target_jumlah_dari"] == ("baris" if as_of == "2022-09-01" else "wilayah")
        assert prov["target_sebagian"] is False


async def test_state_changes_keep_every_row_adding_up(client, admin, pg):
    await insert_records(pg, [("16.07.01.2001", 50, 0, 0), ("16.07", 30, 0, 0), ("16.71", 20, 0, 0)])
    await _put(client, admin, "16.07", 100)

    async def table():
        doc = (await client.get(URL, params={"periode": "2022", "wilayah": "16"}, headers=auth(admin))).json()
        for row in doc["rows"] + [doc["jumlah"]]:
            _check_invariant(row)
        recount = await _recount(pg)
        none = {"masuk": 0, "diterima": 0, "ditolak": 0}
        for row in doc["rows"]:
            want = recount.get(row["kode"], none)
            assert (row["belum_diverifikasi"], row["diterima"], row["ditolak"]) == (want["masuk"], want["diterima"], want["ditolak"])
        return {row["kode"]: row for row in doc["rows"]}, doc["jumlah"]

    rows, total = await table()
    assert rows["16.07"]["masuk"] == 80 and rows["16.07"]["belum_diverifikasi"] == 80
    assert rows["16.07"]["diterima_vs_masuk"] == "0.00000000" and rows["16.07"]["masuk_vs_target"] == "0.80000000"
    await pg.execute(
        "UPDATE submissions SET status = 'diterima' WHERE kode_kabkota = '16.07' AND "
        "submission_id IN (SELECT submission_id FROM submissions WHERE kode_kabkota = '16.07' "
        "ORDER BY submission_id LIMIT 60)"
    )
    await pg.execute(
        "UPDATE submissions SET status = 'ditolak' WHERE submission_id IN "
        "(SELECT submission_id FROM submissions WHERE status = 'masuk' ORDER BY submission_id LIMIT 7)"
    )
    # a ditolak record corrected by its enumerator goes back to masuk
    await pg.execute(
        "UPDATE submissions SET status = 'masuk' WHERE submission_id IN "
        "(SELECT submission_id FROM submissions WHERE status = 'ditolak' ORDER BY submission_id LIMIT 2)"
    )
    rows, total = await table()
    assert (rows["16.07"]["diterima"], rows["16.07"]["ditolak"], rows["16.07"]["belum_diverifikasi"]) == (60, 5, 15)
    assert rows["16.07"]["persen"] == {"masuk_vs_target": "80,00%", "diterima_vs_target": "60,00%", "diterima_vs_masuk": "75,00%"}
    assert (total["masuk"], total["diterima"], total["ditolak"]) == (100, 60, 5)
    assert rows["16.71"]["target"] is None and rows["16.71"]["masuk_vs_target"] is None
    await pg.execute("DELETE FROM submissions WHERE kode_kabkota = '16.71'")
    rows, total = await table()
    assert rows["16.71"]["masuk"] == 0 and total["masuk"] == 80  # still listed, with zeros


async def test_missing_and_zero_targets_give_null_ratios(client, admin, pg):
    await insert_records(pg, [("16.02", 10, 4, 1), ("16.04", 0, 0, 0)])
    await _put(client, admin, "16.04", 0)  # a target of 0: listed, ratios null
    await _put(client, admin, "16.08", 500)  # a target, no record yet
    doc = (await client.get(URL, params={"periode": "2022", "wilayah": "16"}, headers=auth(admin))).json()
    rows = {row["kode"]: row for row in doc["rows"]}
    assert list(rows) == sorted(rows) and len(rows) == 17
    assert rows["16.02"]["target"] is None and rows["16.02"]["masuk_vs_target"] is None
    assert rows["16.02"]["diterima_vs_masuk"] == "0.40000000" and rows["16.02"]["persen"]["diterima_vs_masuk"] == "40,00%"
    assert rows["16.04"]["target"] == 0 and rows["16.04"]["masuk_vs_target"] is None
    assert rows["16.04"]["persen"]["masuk_vs_target"] is None and rows["16.04"]["diterima_vs_masuk"] is None
    assert rows["16.08"]["masuk"] == 0 and rows["16.08"]["masuk_vs_target"] == "0.00000000"
    assert rows["16.08"]["diterima_vs_masuk"] is None
    assert doc["jumlah"]["target"] == 500 and doc["rows_tanpa_target"] == 15
    # 16.02 has records and no target: the Jumlah ratios set them against a partial target
    assert doc["target_sebagian"] is True and doc["target_jumlah_dari"] == "baris"
    csv_rows = list(
        csv.reader(
            io.StringIO(
                (await client.get(URL, params={"periode": "2022", "wilayah": "16", "format": "csv"}, headers=auth(admin))).content.decode(
                    "utf-8-sig"
                )
            )
        )
    )
    assert csv_rows[2][:2] == ["2", "16.02"] and csv_rows[2][3] == "-" and csv_rows[2][9:] == ["-", "-", "40,00%"]
    assert csv_rows[4][1] == "16.04" and csv_rows[4][3:] == ["0", "0", "0", "0", "0", "0", "-", "-", "-"]


async def test_kecamatan_and_desa_rows_add_up_to_the_kabkota(client, admin, pg):
    desa = await pg.fetch("SELECT kode FROM wilayah WHERE parent_kode IN ('16.07.01', '16.07.02') AND level = 4 ORDER BY kode")
    d1 = next(d["kode"] for d in desa if d["kode"].startswith("16.07.01."))
    d2 = next(d["kode"] for d in desa if d["kode"].startswith("16.07.02."))
    await insert_records(pg, [(d1, 12, 10, 1), (d2, 5, 0, 5), ("16.07", 3, 3, 0), ("16.71", 9, 9, 0)])
    await _put(client, admin, "16.07.01", 24)
    kec = (await client.get(URL, params={"periode": "2022", "wilayah": "16.07"}, headers=auth(admin))).json()
    assert kec["tingkat"] == "kecamatan"
    got = [(r["kode"], r["nama"], r["target"], r["masuk"], r["diterima"], r["ditolak"]) for r in kec["rows"]]
    kecamatan = await pg.fetch("SELECT kode, nama FROM wilayah WHERE parent_kode = '16.07' ORDER BY kode")
    nama = dict(kecamatan)
    # every kecamatan in code order, then the records placed at the kabupaten only
    assert got[:2] == [("16.07.01", nama["16.07.01"], 24, 12, 10, 1), ("16.07.02", nama["16.07.02"], None, 5, 0, 5)]
    assert got[2:-1] == [(k["kode"], k["nama"], None, 0, 0, 0) for k in kecamatan[2:]]
    assert got[-1] == (None, "(tanpa kecamatan)", None, 3, 3, 0)
    assert kec["rows"][0]["persen"]["masuk_vs_target"] == "50,00%"
    prov = (await client.get(URL, params={"periode": "2022", "wilayah": "16"}, headers=auth(admin))).json()
    banyuasin = next(r for r in prov["rows"] if r["kode"] == "16.07")
    for k in ("masuk", "belum_diverifikasi", "diterima", "ditolak"):
        assert kec["jumlah"][k] == banyuasin[k]
    # the provinsi's kecamatan, two levels down
    deep = (await client.get(URL, params={"periode": "2022", "wilayah": "16", "tingkat": "kecamatan"}, headers=auth(admin))).json()
    assert deep["jumlah"]["masuk"] == prov["jumlah"]["masuk"] == 29
    desa_rows = (await client.get(URL, params={"periode": "2022", "wilayah": "16.07.01"}, headers=auth(admin))).json()
    assert desa_rows["tingkat"] == "desa"
    assert [(r["kode"], r["masuk"]) for r in desa_rows["rows"] if r["masuk"]] == [(d1, 12)]
    assert len(desa_rows["rows"]) == len([d for d in desa if d["kode"].startswith("16.07.01.")])
    # no desa has a target: the Jumlah row takes the kecamatan's own, and says so
    assert desa_rows["target_wilayah"]["target"] == 24 == desa_rows["jumlah"]["target"]
    assert desa_rows["target_jumlah_dari"] == "wilayah" and desa_rows["target_sebagian"] is False
    assert desa_rows["jumlah"]["persen"]["masuk_vs_target"] == "50,00%"


async def test_nation_by_kabkota_lists_every_kabkota(client, admin, pg):
    await insert_records(pg, [("16.07", 4, 2, 1), ("17.71", 6, 6, 0), ("31.71", 1, 0, 0)])
    doc = (await client.get(URL, params={"periode": "2022", "tingkat": "kabkota"}, headers=auth(admin))).json()
    kabkota = [r["kode"] for r in await pg.fetch("SELECT kode FROM wilayah WHERE level = 2 ORDER BY kode")]
    assert [r["kode"] for r in doc["rows"]] == kabkota and len(kabkota) == 514
    assert [(r["kode"], r["masuk"]) for r in doc["rows"] if r["masuk"]] == [("16.07", 4), ("17.71", 6), ("31.71", 1)]
    assert doc["jumlah"]["masuk"] == 11 and doc["jumlah"]["diterima"] == 8
    nas = (await client.get(URL, params={"periode": "2022"}, headers=auth(admin))).json()
    assert len(nas["rows"]) == 38
    assert [(r["kode"], r["masuk"]) for r in nas["rows"] if r["masuk"]] == [("16", 4), ("17", 6), ("31", 1)]
    other = (await client.get(URL, params={"periode": "2023"}, headers=auth(admin))).json()
    assert len(other["rows"]) == 38 and other["jumlah"]["masuk"] == 0 and other["jumlah"]["target"] is None
    assert other["target_jumlah_dari"] is None and other["target_sebagian"] is False


@pytest.mark.parametrize(
    "params,field",
    [
        ({}, "periode"),
        ({"periode": "2019"}, "periode"),
        ({"periode": "22"}, "periode"),
        ({"periode": "2022", "wilayah": "16.99"}, "wilayah"),
        ({"periode": "2022", "wilayah": "16;DROP TABLE wilayah"}, "wilayah"),
        ({"periode": "2022", "wilayah": "16.07.01.2001"}, "wilayah"),
        ({"periode": "2022", "wilayah": "16", "tingkat": "provinsi"}, "tingkat"),
        ({"periode": "2022", "wilayah": "16", "tingkat": "desa"}, "tingkat"),
        ({"periode": "2022", "tingkat": "kecamatan"}, "tingkat"),
        ({"periode": "2022", "tingkat": "rt"}, "tingkat"),
        ({"periode": "2022", "as_of": "2022-02-30"}, "as_of"),
        ({"periode": "2022", "format": "pdf"}, "format"),
    ],
)
async def test_bad_parameters_name_the_field(client, admin, params, field):
    r = await client.get(URL, params=params, headers=auth(admin))
    assert_problem(r, "invalid-input")
    assert r.json()["errors"][0]["field"] == field


async def test_scope(client, keys, pg):
    await insert_records(pg, [("16.07", 2, 1, 0), ("17.71", 3, 0, 0)])
    allowed = [
        (await keys.make("dinas", "16"), {"wilayah": "16"}),
        (await keys.make("dinas", "16"), {"wilayah": "16.07"}),
        (await keys.make("dinas", "16.07"), {"wilayah": "16.07"}),
        (await keys.make("verifikator", "16.07"), {"wilayah": "16.07"}),
        (await keys.make("walidata"), {}),
        (await keys.make("admin"), {"wilayah": "17"}),
    ]
    denied = [
        (await keys.make("dinas", "16"), {"wilayah": "17"}, 403),
        (await keys.make("dinas", "16"), {}, 403),
        (await keys.make("dinas", "16.07"), {"wilayah": "16"}, 403),
        (await keys.make("verifikator", "16.07"), {"wilayah": "16.71"}, 403),
        (await keys.make("enumerator", "16"), {"wilayah": "16"}, 403),
        (None, {"wilayah": "16"}, 401),
    ]
    for key, params in allowed:
        r = await client.get(URL, params={"periode": "2022", **params}, headers=auth(key))
        assert r.status_code == 200, (params, r.text)
    for key, params, status in denied:
        r = await client.get(URL, params={"periode": "2022", **params}, headers=auth(key) if key else {})
        assert r.status_code == status, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
