"""The enumerator table (GET /api/v1/kampanye/enumerator) and an enumerator's own row (GET
/api/v1/me/kinerja), issue 31 §2: a seeded campaign with a known answer, every figure equal to
a recount by plain SQL from the records (their versions and history, not the counters the
service reads), the flags' rules at their edges, who may see what, and bad input."""

from __future__ import annotations

import io

import openpyxl
import pytest

from tests.support.common import auth
from tests.support.factories import nik, umkm
from tests.support.helpers import report_csv
from tests.support.problems import assert_problem
from tests.support.verification_helpers import correct

BANYUASIN = "16.07.01.2001"  # kabkota 16.07
PALEMBANG = "16.71"
PATH = "/api/v1/kampanye/enumerator"
ME = "/api/v1/me/kinerja"


def rec(enumerator: str, captured: str, wilayah: str = BANYUASIN, **over) -> dict:
    return umkm(enumerator_id=enumerator, captured_at=captured, kode_wilayah=wilayah, **over)


async def post(client, key, items: list[dict]) -> None:
    r = await client.post("/api/v1/submissions/batch", json={"items": items}, headers=auth(key))
    assert r.status_code == 200 and r.json()["created"] == len(items), r.text


async def decide(client, key, items: list[dict], status: str, alasan: str | None = None) -> None:
    body = [
        {"submission_id": i["submission_id"], "status": status, "version": 1, **({"alasan_kode": alasan} if alasan else {})} for i in items
    ]
    r = await client.post("/api/v1/verifikasi/batch", json={"items": body}, headers=auth(key))
    assert r.status_code == 200 and r.json()["decided"] == len(items), r.text


@pytest.fixture
async def campaign(client, keys):
    """Five enumerators with a known answer:

    - ENUM-A (key ka, Banyuasin): 5 records with one NIK captured 09:00..09:10 WIB on 1 June
      (five within ten minutes, the edge included), and 3 more on 2 and 3 June (one captured
      at 17:30 UTC on 2 June: 3 June in WIB); 7 diterima, 1 ditolak (data_tidak_valid).
    - ENUM-B (key kb, Banyuasin): 21 records an hour apart; 10 ditolak (6 data_tidak_lengkap,
      4 duplikat), 10 diterima, 1 masuk: rate 1/2 against Banyuasin's 12/89 -> tolak_tinggi.
    - ENUM-E (also key kb): 1 record, ditolak: 1 of 1 never flags.
    - ENUM-D (key kd, Banyuasin): 60 records, diterima: the kabupaten's clean majority.
    - ENUM-C (key kc, Palembang): 4 records, 3 diterima, and one koperasi-free NIK repeat of 4
      (under the NIK rule's 5).
    """
    ka = await keys.make("enumerator", "16.07", name="enum-a")
    kb = await keys.make("enumerator", "16.07", name="enum-b")
    kd = await keys.make("enumerator", "16.07", name="enum-d")
    kc = await keys.make("enumerator", "16.71", name="enum-c")
    verif = await keys.make("verifikator", "16", name="verif-sumsel")
    same = nik(perempuan=True, serial=4242)
    a = [rec("ENUM-A", f"2022-06-01T09:{m:02d}:00+07:00", nik_pemilik=same) for m in (0, 2, 4, 6, 10)]
    a += [rec("ENUM-A", t) for t in ("2022-06-02T23:30:00+07:00", "2022-06-02T17:30:00Z", "2022-06-03T16:00:00+07:00")]
    b = [rec("ENUM-B", f"2022-06-{1 + h // 24:02d}T{h % 24:02d}:15:00+07:00") for h in range(21)]
    e = [rec("ENUM-E", "2022-06-05T10:00:00+07:00")]
    d = [rec("ENUM-D", f"2022-06-{1 + i // 20:02d}T{8 + (i % 20) // 2:02d}:{(i % 2) * 30:02d}:00+07:00") for i in range(60)]
    c_nik = nik(serial=777)
    c = [rec("ENUM-C", f"2022-06-0{1 + i}T10:00:00+07:00", PALEMBANG, nik_pemilik=c_nik) for i in range(4)]
    await post(client, ka, a)
    await post(client, kb, b + e)
    await post(client, kd, d)
    await post(client, kc, c)
    await decide(client, verif, a[:7], "diterima")
    await decide(client, verif, a[7:], "ditolak", "data_tidak_valid")
    await decide(client, verif, b[:6], "ditolak", "data_tidak_lengkap")
    await decide(client, verif, b[6:10], "ditolak", "duplikat")
    await decide(client, verif, b[10:20], "diterima")
    await decide(client, verif, e, "ditolak", "bukan_kumkm")
    await decide(client, verif, d, "diterima")
    await decide(client, verif, c[:3], "diterima")
    return {"ka": ka, "kb": kb, "kd": kd, "kc": kc, "verif": verif, "a": a, "b": b, "e": e, "d": d, "c": c}


# ---------------------------------------------------------------- the recount


RECOUNT = """
    WITH r AS (
        SELECT s.*, v.data->>'nik_pemilik' AS nik
        FROM submissions s JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
        WHERE s.periode = $1 AND (s.kode_kabkota = $2 OR s.kode_provinsi = $2)
    ), dense AS (
        SELECT enumerator_id, max(n) AS terpadat FROM (
            SELECT a.enumerator_id, (SELECT count(*) FROM r b WHERE b.enumerator_id = a.enumerator_id
                                       AND b.captured_at BETWEEN a.captured_at AND a.captured_at + interval '10 minutes') AS n
            FROM r a) x GROUP BY 1
    ), niks AS (
        SELECT enumerator_id, max(n) AS nik_terbanyak
        FROM (SELECT enumerator_id, nik, count(*) AS n FROM r WHERE nik IS NOT NULL GROUP BY 1, 2) y GROUP BY 1
    )
    SELECT r.enumerator_id,
           count(*) AS masuk, count(*) FILTER (WHERE status = 'masuk') AS belum_diverifikasi,
           count(*) FILTER (WHERE status = 'diterima') AS diterima, count(*) FILTER (WHERE status = 'ditolak') AS ditolak,
           floor(extract(epoch FROM percentile_disc(0.5) WITHIN GROUP (ORDER BY dibuat_pada - captured_at)))::bigint AS jeda,
           count(DISTINCT (captured_at AT TIME ZONE 'Asia/Jakarta')::date) AS hari_aktif,
           max((captured_at AT TIME ZONE 'Asia/Jakarta')::date) AS hari_terakhir,
           max(dibuat_pada) AS terakhir,
           min(dense.terpadat) AS terpadat, COALESCE(min(niks.nik_terbanyak), 0) AS nik_terbanyak
    FROM r JOIN dense USING (enumerator_id) LEFT JOIN niks USING (enumerator_id)
    GROUP BY 1
"""

REASONS = """
    SELECT s.enumerator_id, h.alasan_kode, count(*) AS n
    FROM submissions s
    CROSS JOIN LATERAL (SELECT alasan_kode FROM submission_history h WHERE h.submission_id = s.submission_id
                        ORDER BY h.id DESC LIMIT 1) h
    WHERE s.status = 'ditolak' AND s.periode = $1 AND (s.kode_kabkota = $2 OR s.kode_provinsi = $2)
    GROUP BY 1, 2
"""


async def recount(pg, wilayah: str) -> dict[str, dict]:
    out = {}
    for r in await pg.fetch(RECOUNT, "2022", wilayah):
        out[r["enumerator_id"]] = {
            "masuk": r["masuk"],
            "belum_diverifikasi": r["belum_diverifikasi"],
            "diterima": r["diterima"],
            "ditolak": r["ditolak"],
            "jeda_median_detik": r["jeda"],
            "hari_aktif": r["hari_aktif"],
            "hari_terakhir": r["hari_terakhir"].isoformat(),
            "terakhir_terlihat": r["terakhir"],
            "rekaman_terpadat": r["terpadat"],
            "nik_terbanyak": r["nik_terbanyak"],
            "alasan": {},
        }
    for r in await pg.fetch(REASONS, "2022", wilayah):
        out[r["enumerator_id"]]["alasan"][r["alasan_kode"]] = r["n"]
    return out


def shown(item: dict) -> dict:
    from datetime import datetime

    return {
        **{k: item[k] for k in ("masuk", "belum_diverifikasi", "diterima", "ditolak", "jeda_median_detik", "hari_aktif")},
        "hari_terakhir": item["hari_terakhir"],
        "terakhir_terlihat": datetime.fromisoformat(item["terakhir_terlihat"].replace("Z", "+00:00")),
        "rekaman_terpadat": item["rekaman_terpadat"],
        "nik_terbanyak": item["nik_terbanyak"],
        "alasan": {k: v for k, v in item["alasan"].items() if v},
    }


async def table(client, key, **params) -> dict:
    r = await client.get(PATH, params={"periode": "2022", **params}, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


async def test_the_table_equals_a_recount_and_the_known_answer(client, campaign, pg):
    doc = await table(client, campaign["verif"], kode_wilayah="16")
    truth = await recount(pg, "16")
    assert {i["enumerator_id"]: shown(i) for i in doc["items"]} == truth
    by = {i["enumerator_id"]: i for i in doc["items"]}
    # the known answer
    assert [i["enumerator_id"] for i in doc["items"]] == ["ENUM-E", "ENUM-B", "ENUM-A", "ENUM-C", "ENUM-D"]
    assert by["ENUM-A"]["tanda"] == ["rekaman_beruntun", "nik_berulang"]
    assert (by["ENUM-A"]["rekaman_terpadat"], by["ENUM-A"]["nik_terbanyak"], by["ENUM-A"]["hari_aktif"]) == (5, 5, 3)
    assert by["ENUM-A"]["hari_terakhir"] == "2022-06-03"
    assert by["ENUM-B"]["tanda"] == ["tolak_tinggi"]
    assert by["ENUM-B"]["tingkat_tolak"] == "0.50000000" and by["ENUM-B"]["persen"]["tingkat_tolak"] == "50,00%"
    assert by["ENUM-B"]["tingkat_tolak_wilayah"] == "0.13483146"  # Banyuasin: 12 of 89
    assert by["ENUM-B"]["alasan"] == {
        "data_tidak_lengkap": 6,
        "data_tidak_valid": 0,
        "duplikat": 4,
        "di_luar_wilayah": 0,
        "bukan_kumkm": 0,
        "lainnya": 0,
    }
    assert (by["ENUM-B"]["masuk"], by["ENUM-B"]["belum_diverifikasi"]) == (21, 1)
    assert by["ENUM-E"]["tanda"] == [] and by["ENUM-E"]["tingkat_tolak"] == "1.00000000"  # 1 of 1 does not flag
    assert by["ENUM-C"]["tanda"] == [] and by["ENUM-C"]["nik_terbanyak"] == 4  # under the rule's 5
    assert by["ENUM-C"]["kode_kabkota"] == ["16.71"] and by["ENUM-C"]["tingkat_tolak"] == "0.00000000"
    assert doc["jumlah"] == {
        "enumerator": 5,
        "masuk": 94,
        "belum_diverifikasi": 2,
        "diterima": 80,
        "ditolak": 12,
        "tingkat_tolak": "0.13043478",
        "persen_tingkat_tolak": "13,04%",
        "tolak_tinggi": 1,
    }
    assert doc["wilayah"] == {"kode": "16", "nama": doc["wilayah"]["nama"], "tingkat": "provinsi"}
    assert doc["aturan"]["rekaman_beruntun"] == {"minimal": 5, "menit": 10}


async def test_a_kabkota_table_and_the_counts_after_a_correction(client, campaign, pg):
    kb, b = campaign["kb"], campaign["b"]
    # B corrects a ditolak record onto another day: it leaves ditolak (and its reason) for masuk
    fixed = {**b[0], "captured_at": "2022-06-20T08:00:00+07:00"}
    r = await correct(client, kb, fixed)
    assert r.status_code == 200, r.text
    doc = await table(client, campaign["verif"], kode_wilayah="16.07", limit=200)
    assert {i["enumerator_id"]: shown(i) for i in doc["items"]} == await recount(pg, "16.07")
    by = {i["enumerator_id"]: i for i in doc["items"]}
    assert (by["ENUM-B"]["ditolak"], by["ENUM-B"]["belum_diverifikasi"], by["ENUM-B"]["alasan"]["data_tidak_lengkap"]) == (9, 2, 5)
    assert by["ENUM-B"]["hari_terakhir"] == "2022-06-20"
    assert "ENUM-C" not in by
    # the kept counts equal a recount
    kept = await pg.fetch(
        "SELECT periode, kode_kabkota, enumerator_id, sum(masuk) m, sum(diterima) d, sum(ditolak) t FROM kinerja_enumerator "
        "GROUP BY 1, 2, 3 HAVING sum(masuk) + sum(diterima) + sum(ditolak) > 0 ORDER BY 1, 2, 3"
    )
    counted = await pg.fetch(
        "SELECT periode, kode_kabkota, enumerator_id, count(*) FILTER (WHERE status = 'masuk') m, "
        "count(*) FILTER (WHERE status = 'diterima') d, count(*) FILTER (WHERE status = 'ditolak') t "
        "FROM submissions GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    tolak = await pg.fetch("SELECT submission_id, alasan_kode FROM kinerja_tolak ORDER BY 1")
    last = await pg.fetch(
        "SELECT s.submission_id, h.alasan_kode FROM submissions s CROSS JOIN LATERAL (SELECT alasan_kode FROM submission_history h "
        "WHERE h.submission_id = s.submission_id ORDER BY h.id DESC LIMIT 1) h WHERE s.status = 'ditolak' ORDER BY 1"
    )
    assert [tuple(r) for r in tolak] == [tuple(r) for r in last]
    assert [tuple(r) for r in kept] == [tuple(r) for r in counted]


async def test_pages_walk_the_whole_table_in_its_order(client, campaign):
    whole = await table(client, campaign["verif"], kode_wilayah="16", urut="masuk")
    assert [i["enumerator_id"] for i in whole["items"]] == ["ENUM-D", "ENUM-B", "ENUM-A", "ENUM-C", "ENUM-E"]
    seen, cursor = [], None
    while True:
        page = await table(client, campaign["verif"], kode_wilayah="16", urut="masuk", limit=2, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= 2 and page["jumlah"] == whole["jumlah"]
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == whole["items"]
    by_id = await table(client, campaign["verif"], kode_wilayah="16", urut="enumerator_id")
    assert [i["enumerator_id"] for i in by_id["items"]] == ["ENUM-A", "ENUM-B", "ENUM-C", "ENUM-D", "ENUM-E"]
    one = await table(client, campaign["verif"], kode_wilayah="16", enumerator_id="ENUM-B")
    assert [i["enumerator_id"] for i in one["items"]] == ["ENUM-B"] and one["jumlah"] == whole["jumlah"]


async def test_downloads_hold_every_enumerator(client, campaign, keys):
    dinas = await keys.make("dinas", "16", name="dinas-sumsel")
    params = {"periode": "2022", "kode_wilayah": "16", "limit": 1}
    rows = report_csv(await client.get(PATH, params={**params, "format": "csv"}, headers=auth(dinas)))
    assert rows[0][:4] == ["No", "Enumerator", "Kabupaten/Kota", "Data Masuk"]
    assert [r[1] for r in rows[1:]] == ["ENUM-E", "ENUM-B", "ENUM-A", "ENUM-C", "ENUM-D"]
    b = rows[2]
    assert b[6] == "10" and b[7] == "50,00%" and "tingkat tolak" in b[-1]
    data = await client.get(PATH, params={**params, "format": "csv-data"}, headers=auth(dinas))
    assert data.status_code == 200 and "0.50000000" in data.text
    r = await client.get(PATH, params={**params, "format": "xlsx"}, headers=auth(dinas))
    assert r.status_code == 200, r.text
    assert 'filename="kinerja-enumerator-2022-16.xlsx"' in r.headers["content-disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
    values = [[c.value for c in row] for row in ws.iter_rows()]
    header = next(i for i, row in enumerate(values) if row[1] == "Enumerator")
    body = [row for row in values[header + 1 :] if isinstance(row[0], int)]
    assert [row[1] for row in body] == ["ENUM-E", "ENUM-B", "ENUM-A", "ENUM-C", "ENUM-D"]
    assert body[1][3:7] == [21, 1, 10, 10]


# ---------------------------------------------------------------- an enumerator sees itself


async def me(client, key, **params):
    return await client.get(ME, params={"periode": "2022", **params}, headers=auth(key))


async def test_an_enumerator_reads_only_its_own_records(client, campaign, keys, pg):
    r = await me(client, campaign["kb"])
    assert r.status_code == 200, r.text
    doc = r.json()
    assert [i["enumerator_id"] for i in doc["items"]] == ["ENUM-B", "ENUM-E"]
    truth = await recount(pg, "16")
    assert {i["enumerator_id"]: shown(i) for i in doc["items"]} == {k: truth[k] for k in ("ENUM-B", "ENUM-E")}
    assert doc["items"][0]["tanda"] == ["tolak_tinggi"]
    assert doc["jumlah"]["enumerator"] == 2 and doc["jumlah"]["masuk"] == 22
    # its rotated key is the same holder
    rotated = await keys.make("enumerator", "16.07", name="enum-b", successor_of=campaign["kb"])
    assert (await me(client, rotated)).json()["items"] == doc["items"]
    # another holder under the same name is another enumerator: nothing of B's
    namesake = await keys.make("enumerator", "16.07", name="enum-b")
    assert (await me(client, namesake)).json()["items"] == []
    # one of its own ids narrows; another enumerator's, or one no record carries, is refused alike
    one = await me(client, campaign["kb"], enumerator_id="ENUM-E")
    assert [i["enumerator_id"] for i in one.json()["items"]] == ["ENUM-E"]
    for other in ("ENUM-A", "ENUM-NOPE"):
        body = assert_problem(await me(client, campaign["kb"], enumerator_id=other), "forbidden")
        assert body["errors"][0]["field"] == "enumerator_id"
    # a wilayah inside its scope narrows; outside it is refused
    assert (await me(client, campaign["kb"], kode_wilayah="16.07")).json()["items"] == doc["items"]
    assert_problem(await me(client, campaign["kb"], kode_wilayah="16.71"), "outside-scope")
    assert_problem(await me(client, campaign["kb"], kode_wilayah="16"), "outside-scope")


async def test_who_may_read_what(client, campaign, keys):
    params = {"periode": "2022", "kode_wilayah": "16.07"}
    # enumerators read only themselves: the table is refused, whatever enumerator_id they name
    for q in ({}, {"enumerator_id": "ENUM-A"}, {"enumerator_id": "ENUM-B"}):
        assert_problem(await client.get(PATH, params={**params, **q}, headers=auth(campaign["kb"])), "role-forbidden")
    # /me/kinerja is an enumerator's
    assert_problem(await me(client, campaign["verif"]), "role-forbidden")
    # a verifikator of Banyuasin reads Banyuasin, not the provinsi nor Palembang
    verif = await keys.make("verifikator", "16.07", name="verif-banyuasin")
    assert (await client.get(PATH, params=params, headers=auth(verif))).status_code == 200
    default = await table(client, verif)  # the key's own wilayah
    assert default["wilayah"]["kode"] == "16.07"
    for kode in ("16", PALEMBANG):
        body = assert_problem(await client.get(PATH, params={**params, "kode_wilayah": kode}, headers=auth(verif)), "outside-scope")
        assert body["errors"][0]["field"] == "kode_wilayah"
    walidata = await keys.make("walidata", name="kemenkop")
    assert (await client.get(PATH, params=params, headers=auth(walidata))).status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"periode": "22"}, "periode"),
        ({"periode": "1999"}, "periode"),
        ({"kode_wilayah": "16.07.01"}, "kode_wilayah"),
        ({"kode_wilayah": "16.07.01.2001"}, "kode_wilayah"),
        ({"kode_wilayah": "99"}, "kode_wilayah"),
        ({"kode_wilayah": "1'6"}, "kode_wilayah"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"urut": "acak"}, "urut"),
        ({"format": "pdf"}, "format"),
        ({"cursor": "bukan-kursor"}, "cursor"),
        ({"cursor": "a" * 201}, "cursor"),
        ({"enumerator_id": ""}, "enumerator_id"),
    ],
)
async def test_bad_input_names_the_field(client, keys, params, field):
    admin = await keys.make("admin", name="admin-kemenkop")
    r = await client.get(PATH, params={"periode": "2022", "kode_wilayah": "16", **params}, headers=auth(admin))
    body = assert_problem(r, "invalid-input")
    assert field in [e["field"] for e in body["errors"]], body


async def test_a_national_key_names_its_wilayah(client, keys):
    admin = await keys.make("admin", name="admin-kemenkop")
    body = assert_problem(await client.get(PATH, params={"periode": "2022"}, headers=auth(admin)), "invalid-input")
    assert body["errors"][0]["field"] == "kode_wilayah"
    assert_problem(await client.get(PATH, params={"kode_wilayah": "16"}, headers=auth(admin)), "invalid-input")


async def test_an_empty_wilayah_is_an_empty_table(client, keys):
    dinas = await keys.make("dinas", "16", name="dinas-sumsel")
    doc = await table(client, dinas, kode_wilayah="16.07")
    assert doc["items"] == [] and doc["jumlah"]["enumerator"] == 0 and doc["jumlah"]["tingkat_tolak"] is None
    assert doc["next_cursor"] is None


async def test_a_day_is_the_provinsi_s_own(client, keys, pg):
    """Denpasar is in WITA (UTC+8): a record captured at 16:30 UTC on 1 June is on 2 June there
    (in WIB it would still be 1 June)."""
    bali = await keys.make("enumerator", "51", name="enum-bali")
    await post(client, bali, [rec("ENUM-BALI", "2022-06-01T16:30:00Z", "51.71"), rec("ENUM-BALI", "2022-06-01T15:30:00Z", "51.71")])
    dinas = await keys.make("dinas", "51", name="dinas-bali")
    (item,) = (await table(client, dinas, kode_wilayah="51"))["items"]
    assert (item["hari_aktif"], item["hari_terakhir"]) == (2, "2022-06-02")
    mine = (await me(client, bali)).json()["items"]
    assert [(i["enumerator_id"], i["hari_aktif"], i["masuk"]) for i in mine] == [("ENUM-BALI", 2, 2)]


async def test_me_over_two_provinsi_counts_each_day_once_and_every_figure_whole(client, keys, pg):
    """A holder whose key moved from Sumatera Selatan (WIB) to Makassar (WITA): its records of one
    local day in both count one day active, and the densest ten minutes and the NIK repeats are
    counted across both provinsi, as a recount of all its records gives them."""
    sumsel = await keys.make("enumerator", "16.07", name="enum-pindah")
    same = nik(perempuan=True, serial=5151)
    # 1 June 2022, 10:00 and 10:03 WIB (03:00Z, 03:03Z), then 11:05, 11:07, 11:09 WITA (03:05Z..03:09Z)
    here = [rec("ENUM-P", f"2022-06-01T10:0{m}:00+07:00", nik_pemilik=same) for m in (0, 3)]
    await post(client, sumsel, here)
    makassar = await keys.make("enumerator", "73.71", name="enum-pindah", successor_of=sumsel)
    there = [rec("ENUM-P", f"2022-06-01T11:0{m}:00+08:00", "73.71", nik_pemilik=same) for m in (5, 7, 9)]
    await post(client, makassar, there)
    r = await me(client, makassar)
    assert r.status_code == 200, r.text
    (item,) = r.json()["items"]
    assert item["kode_kabkota"] == ["16.07", "73.71"] and item["masuk"] == 5
    # each provinsi alone: one day, 2 or 3 records in ten minutes, 2 or 3 of one NIK
    assert (item["hari_aktif"], item["hari_terakhir"]) == (1, "2022-06-01")
    assert (item["rekaman_terpadat"], item["nik_terbanyak"]) == (5, 5)
    assert item["tanda"] == ["rekaman_beruntun", "nik_berulang"]
    median = await pg.fetchval(
        "SELECT floor(extract(epoch FROM percentile_disc(0.5) WITHIN GROUP (ORDER BY dibuat_pada - captured_at)))::bigint "
        "FROM submissions WHERE enumerator_id = 'ENUM-P'"
    )
    assert item["jeda_median_detik"] == median


async def test_a_page_of_many_enumerators_read_in_two_halves_equals_the_recount(client, keys, pg):
    """From DETAIL_SPLIT_MIN enumerators on, a page's details are read in two statements at once
    (app.kampanye.service.kinerja._details): every row is still its enumerator's own."""
    from app.kampanye.service.kinerja import DETAIL_SPLIT_MIN

    key = await keys.make("enumerator", "16.07", name="enum-banyak")
    verif = await keys.make("verifikator", "16", name="verif-banyak")
    n = DETAIL_SPLIT_MIN + 3
    recs = [
        rec(f"ENUM-{e:02d}", f"2022-06-{1 + j % 5:02d}T{8 + j:02d}:{e:02d}:00+07:00", nik_pemilik=nik(serial=100 + e))
        for e in range(n)
        for j in range(1 + e % 6)
    ]
    await post(client, key, recs)
    await decide(client, verif, recs[::3], "ditolak", "duplikat")
    doc = await table(client, verif, kode_wilayah="16.07", limit=n)
    assert len(doc["items"]) == n
    assert {i["enumerator_id"]: shown(i) for i in doc["items"]} == await recount(pg, "16.07")
